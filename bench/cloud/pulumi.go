package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

// stackEngine is what Run does to the stacks: the Automation API's engine, or a
// fake in unit tests.
type stackEngine interface {
	whoAmI(ctx context.Context) (string, error)
	resources(ctx context.Context) (map[string]int, error)
	stackFile(stack string) ([]byte, error)
	up(ctx context.Context, stack string) (Outputs, error)
	destroy(ctx context.Context, stack string) error
}

// engine drives the Pulumi program in the checkout through the Automation API:
// a local workspace on the checkout, with its committed stack files.
type engine struct {
	root     string
	opts     []auto.LocalWorkspaceOption
	progress io.Writer
	// initialised holds, for each stack this engine created, its committed
	// stack file as it was before: on a passphrase backend stack init writes
	// an encryptionsalt line into it.
	initialised map[string][]byte
}

func newEngine(root string, env Env, progress io.Writer) *engine {
	opts := []auto.LocalWorkspaceOption{auto.WorkDir(root)}
	if len(env.PulumiEnv) > 0 {
		opts = append(opts, auto.EnvVars(env.PulumiEnv))
	}
	if env.PulumiHome != "" {
		opts = append(opts, auto.PulumiHome(env.PulumiHome))
	}
	return &engine{root: root, opts: opts, progress: progress, initialised: map[string][]byte{}}
}

func (e *engine) workspace(ctx context.Context) (auto.Workspace, error) {
	ws, err := auto.NewLocalWorkspace(ctx, e.opts...)
	if err != nil {
		return nil, fmt.Errorf("pulumi workspace on %s: %w", e.root, err)
	}
	return ws, nil
}

// whoAmI is the logged-in backend user, or an error saying how to log in.
func (e *engine) whoAmI(ctx context.Context) (string, error) {
	ws, err := e.workspace(ctx)
	if err != nil {
		return "", err
	}
	who, err := ws.WhoAmIDetails(ctx)
	if err != nil {
		return "", fmt.Errorf("no Pulumi backend logged in: run `pulumi login` (Pulumi Cloud) or `pulumi login --local` (state on this machine), then retry: %w", err)
	}
	return who.User + " at " + who.URL, nil
}

// resources is the number of resources each existing stack holds (absent: no
// such stack).
func (e *engine) resources(ctx context.Context) (map[string]int, error) {
	ws, err := e.workspace(ctx)
	if err != nil {
		return nil, err
	}
	list, err := ws.ListStacks(ctx)
	if err != nil {
		return nil, fmt.Errorf("pulumi stack ls: %w", err)
	}
	out := map[string]int{}
	for _, s := range list {
		n := 0
		if s.ResourceCount != nil {
			n = *s.ResourceCount
		}
		out[s.Name] = n
	}
	return out, nil
}

// stackFile reads the committed Pulumi.<stack>.yaml.
func (e *engine) stackFile(stack string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(e.root, "Pulumi."+stack+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("stack %s: the committed stack file: %w", stack, err)
	}
	return b, nil
}

// up creates or selects the stack and deploys it, streaming the engine's
// progress; it returns the outputs. A cancelled ctx interrupts the CLI, which
// stops starting new operations and records what exists.
func (e *engine) up(ctx context.Context, stack string) (Outputs, error) {
	existing, err := e.resources(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := existing[stack]; !ok {
		if e.initialised[stack], err = e.stackFile(stack); err != nil {
			return nil, err
		}
	}
	s, err := auto.UpsertStackLocalSource(ctx, stack, e.root, e.opts...)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", stack, err)
	}
	res, err := s.Up(ctx, optup.ProgressStreams(e.progress), optup.ErrorProgressStreams(e.progress))
	if err != nil {
		return nil, fmt.Errorf("stack %s: pulumi up: %w", stack, err)
	}
	out := Outputs{}
	for k, v := range res.Outputs {
		out[k] = v.Value
	}
	return out, nil
}

// destroy tears the stack down and checks that its state is empty.
func (e *engine) destroy(ctx context.Context, stack string) error {
	s, err := auto.SelectStackLocalSource(ctx, stack, e.root, e.opts...)
	if err != nil {
		if auto.IsSelectStack404Error(err) {
			return nil // never created
		}
		return fmt.Errorf("stack %s: %w", stack, err)
	}
	if _, err := s.Destroy(ctx, optdestroy.ProgressStreams(e.progress), optdestroy.ErrorProgressStreams(e.progress)); err != nil {
		return fmt.Errorf("stack %s: pulumi destroy: %w (run `pulumi destroy --stack %s` in %s to finish it)", stack, err, stack, e.root)
	}
	dep, err := s.Export(ctx)
	if err != nil {
		return fmt.Errorf("stack %s: export after destroy: %w", stack, err)
	}
	if n, err := countResources(dep.Deployment); err != nil {
		return fmt.Errorf("stack %s: state after destroy: %w", stack, err)
	} else if n > 0 {
		return fmt.Errorf("stack %s: %d resources left in the state after destroy: run `pulumi destroy --stack %s` in %s", stack, n, stack, e.root)
	}
	return e.remove(ctx, s.Workspace(), stack)
}

// remove deletes a stack this engine created, now empty, from the backend and
// puts its committed stack file back as it was (stack rm deletes the file), so
// the checkout and the backend are left as found.
func (e *engine) remove(ctx context.Context, ws auto.Workspace, stack string) error {
	orig, ok := e.initialised[stack]
	if !ok {
		return nil
	}
	if err := ws.RemoveStack(ctx, stack); err != nil {
		return fmt.Errorf("stack %s: stack rm after destroy: %w", stack, err)
	}
	path := filepath.Join(e.root, "Pulumi."+stack+".yaml")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		return fmt.Errorf("stack %s: put back %s after stack rm: %w (restore it with `git checkout %s`)", stack, path, err, filepath.Base(path))
	}
	delete(e.initialised, stack)
	return nil
}

// countResources counts the resources in an exported deployment.
func countResources(raw []byte) (int, error) {
	if len(raw) == 0 {
		return 0, nil
	}
	var d struct {
		Resources []struct {
			URN string `json:"urn"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return 0, errors.New("unreadable deployment: " + err.Error())
	}
	return len(d.Resources), nil
}
