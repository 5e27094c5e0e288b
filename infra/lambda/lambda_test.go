package lambda

import (
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The service's deadline falls DeadlineMargin short of the function's timeout, and
// the shortest timeout allowed still leaves the service the one second it accepts.
func TestRequestTimeout(t *testing.T) {
	if got := RequestTimeout(DefaultTimeoutSeconds); got != 27*time.Second || got.String() != "27s" {
		t.Errorf("RequestTimeout(%d) = %v, want 27s", DefaultTimeoutSeconds, got)
	}
	if got := RequestTimeout(MinTimeoutSeconds); got != time.Second {
		t.Errorf("RequestTimeout(MinTimeoutSeconds = %d) = %v, want 1s", MinTimeoutSeconds, got)
	}
	if got := RequestTimeout(MinTimeoutSeconds - 1); got >= time.Second {
		t.Errorf("RequestTimeout(%d) = %v: MinTimeoutSeconds is not the shortest", MinTimeoutSeconds-1, got)
	}
}

// The component refuses a timeout outside what the gateway and the service allow,
// before it creates anything, whoever calls it.
func TestTimeoutBounds(t *testing.T) {
	for _, tc := range []struct {
		seconds int
		want    string
	}{
		{MinTimeoutSeconds - 1, "below 4 s"},
		{MaxIntegrationTimeoutSeconds + 1, "above the 30 s"},
	} {
		m := &countingMocks{}
		err := pulumi.RunErr(func(ctx *pulumi.Context) error {
			_, err := NewFunction(ctx, "fn", &FunctionArgs{TimeoutSeconds: tc.seconds, ImageURI: pulumi.String("img")})
			return err
		}, pulumi.WithMocks("servebench", "test", m))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("timeout %d: %v, want an error containing %q", tc.seconds, err, tc.want)
		}
		if m.created != 0 {
			t.Errorf("timeout %d: %d resources created", tc.seconds, m.created)
		}
	}
}

type countingMocks struct{ created int }

func (m *countingMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.created++
	return args.Name, args.Inputs, nil
}

func (m *countingMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}
