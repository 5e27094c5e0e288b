// Package lambdafn drives one deployed Lambda function for the study: it forces
// cold starts, sets the memory size of the sweep, and reads the platform's own
// account of every invocation (the REPORT lines in CloudWatch Logs).
package lambdafn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// LambdaAPI is the part of the Lambda client a Function calls.
type LambdaAPI interface {
	GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
	UpdateFunctionConfiguration(ctx context.Context, in *lambda.UpdateFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error)
}

// LogsAPI is the part of the CloudWatch Logs client a Function calls.
type LogsAPI = cloudwatchlogs.FilterLogEventsAPIClient

// Default waits, used when a Function leaves Poll or Timeout zero.
const (
	DefaultPoll = 2 * time.Second
	// DefaultTimeout bounds one configuration update; an image function's update
	// usually ends within a minute.
	DefaultTimeout = 5 * time.Minute
)

// ColdEpochVar is the environment variable ForceCold changes. The service does
// not read it: changing any value makes Lambda start new execution environments.
const ColdEpochVar = "SERVEBENCH_COLD_EPOCH"

// Function is one deployed function.
type Function struct {
	Name     string // name or ARN
	LogGroup string // where its REPORT lines go (the stack's logGroupName output)
	Lambda   LambdaAPI
	Logs     LogsAPI
	// Poll is the interval between status checks and between log searches;
	// Timeout bounds one update (from the first request until it is Successful).
	Poll, Timeout time.Duration
	Log           *slog.Logger // nil: slog.Default()
}

// ForceCold makes the next invocations cold starts, as SeBS does
// (spcl/serverless-benchmarks sebs/aws/aws.py, enforce_cold_start): an
// environment change replaces every execution environment once the update is
// Successful. Every other variable is sent back unchanged, since the update
// replaces the whole set.
func (f *Function) ForceCold(ctx context.Context) error {
	epoch := strconv.FormatInt(time.Now().UnixNano(), 10)
	return f.update(ctx, "force a cold start", func(cfg *lambda.GetFunctionConfigurationOutput) (*lambda.UpdateFunctionConfigurationInput, error) {
		env, err := environment(cfg)
		if err != nil {
			return nil, err
		}
		env[ColdEpochVar] = epoch
		return &lambda.UpdateFunctionConfigurationInput{Environment: &types.Environment{Variables: env}}, nil
	}, func(cfg *lambda.GetFunctionConfigurationOutput) bool {
		return cfg.Environment != nil && cfg.Environment.Variables[ColdEpochVar] == epoch
	})
}

// SetMemory sets the function's memory size (which also makes the next
// invocations cold starts) and waits until the update is Successful. The
// environment is left as it is. Nothing is sent when the size is already mb.
func (f *Function) SetMemory(ctx context.Context, mb int) error {
	return f.update(ctx, fmt.Sprintf("set the memory size to %d MB", mb), func(cfg *lambda.GetFunctionConfigurationOutput) (*lambda.UpdateFunctionConfigurationInput, error) {
		if aws.ToInt32(cfg.MemorySize) == int32(mb) {
			return nil, nil
		}
		return &lambda.UpdateFunctionConfigurationInput{MemorySize: aws.Int32(int32(mb))}, nil
	}, func(cfg *lambda.GetFunctionConfigurationOutput) bool {
		return aws.ToInt32(cfg.MemorySize) == int32(mb)
	})
}

// environment is the function's variables, to be sent back; an environment Lambda
// could not read (a KMS error) would be sent back empty, losing every variable,
// so it is refused.
func environment(cfg *lambda.GetFunctionConfigurationOutput) (map[string]string, error) {
	if cfg.Environment == nil {
		return map[string]string{}, nil
	}
	if e := cfg.Environment.Error; e != nil {
		return nil, fmt.Errorf("the function's environment is unreadable (%s: %s); updating it would drop its variables: fix the environment (its KMS key) first",
			aws.ToString(e.ErrorCode), aws.ToString(e.Message))
	}
	env := maps.Clone(cfg.Environment.Variables)
	if env == nil {
		env = map[string]string{}
	}
	return env, nil
}

// update reads the configuration, sends change(cfg) (nothing when it returns
// nil) guarded by the revision it read, and waits until the function's last
// update is Successful and applied(cfg) holds. An update in progress (another
// client's, or the function's creation) is waited for first; a conflict or a
// changed revision between read and write is retried from the read.
func (f *Function) update(ctx context.Context, what string, change func(*lambda.GetFunctionConfigurationOutput) (*lambda.UpdateFunctionConfigurationInput, error), applied func(*lambda.GetFunctionConfigurationOutput) bool) error {
	ctx, cancel := context.WithTimeoutCause(ctx, f.timeout(), errUpdateTimeout)
	defer cancel()
	log := f.log().With("function", f.Name)
	sent := false
	for {
		cfg, err := f.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(f.Name)})
		if err != nil {
			return f.fail(ctx, what, fmt.Errorf("GetFunctionConfiguration: %w", err))
		}
		switch cfg.LastUpdateStatus {
		case types.LastUpdateStatusInProgress:
			log.Debug("lambda: update in progress", "goal", what)
			if err := f.sleep(ctx); err != nil {
				return f.fail(ctx, what, err)
			}
			continue
		case types.LastUpdateStatusFailed:
			if sent {
				return fmt.Errorf("lambda %s: %s: the update failed (%s): %s", f.Name, what, cfg.LastUpdateStatusReasonCode, aws.ToString(cfg.LastUpdateStatusReason))
			}
		}
		if sent {
			if !applied(cfg) {
				// Successful, but not with this change: another client's update
				// overtook it.
				return fmt.Errorf("lambda %s: %s: the update ended Successful but the configuration does not carry it (another update replaced it)", f.Name, what)
			}
			log.Info("lambda: updated", "goal", what)
			return nil
		}
		in, err := change(cfg)
		if err != nil {
			return fmt.Errorf("lambda %s: %s: %w", f.Name, what, err)
		}
		if in == nil {
			return nil
		}
		in.FunctionName = aws.String(f.Name)
		in.RevisionId = cfg.RevisionId
		_, err = f.Lambda.UpdateFunctionConfiguration(ctx, in)
		var conflict *types.ResourceConflictException
		var stale *types.PreconditionFailedException
		switch {
		case errors.As(err, &conflict), errors.As(err, &stale):
			// Another update started or landed since the read: read again.
			log.Debug("lambda: update refused, retrying", "goal", what, "err", err)
			if err := f.sleep(ctx); err != nil {
				return f.fail(ctx, what, err)
			}
			continue
		case err != nil:
			return f.fail(ctx, what, fmt.Errorf("UpdateFunctionConfiguration: %w", err))
		}
		sent = true
		// Lambda answers InProgress: the change takes effect when the status says so.
		if err := f.sleep(ctx); err != nil {
			return f.fail(ctx, what, err)
		}
	}
}

// errUpdateTimeout ends an update's context when Timeout has passed.
var errUpdateTimeout = errors.New("update timeout")

func (f *Function) fail(ctx context.Context, what string, err error) error {
	if errors.Is(context.Cause(ctx), errUpdateTimeout) {
		return fmt.Errorf("lambda %s: %s: not done within %s (raise the timeout, or look at the function in the console): %w", f.Name, what, f.timeout(), err)
	}
	return fmt.Errorf("lambda %s: %s: %w", f.Name, what, err)
}

func (f *Function) sleep(ctx context.Context) error {
	t := time.NewTimer(f.poll())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *Function) poll() time.Duration {
	if f.Poll > 0 {
		return f.Poll
	}
	return DefaultPoll
}

func (f *Function) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultTimeout
}

func (f *Function) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}
