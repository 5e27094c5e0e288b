// Package account answers the preflight's questions about the AWS account before
// anything is created: whose credentials these are, whether ECS can act in the
// account (its service-linked role), and how much Lambda concurrency a burst can
// use. Each refusal says what the user has to do.
package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Caller is who the credentials belong to.
type Caller struct {
	Account string // the 12-digit account id
	ARN     string // the user or assumed role
}

// STSAPI is the part of the STS client Identity calls.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, opts ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// HowToGetCredentials is what a user without working credentials can do.
const HowToGetCredentials = "run `aws configure` (or `aws sso login --profile NAME` and export AWS_PROFILE=NAME), " +
	"or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)"

// Identity asks STS who the credentials are (GetCallerIdentity needs no
// permission, so it fails only when there are no credentials, AWS refuses them
// or STS cannot be reached).
func Identity(ctx context.Context, c STSAPI) (Caller, error) {
	out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		var api smithy.APIError
		var send *smithyhttp.RequestSendError
		switch {
		case errors.As(err, &api):
			return Caller{}, fmt.Errorf("AWS refused the credentials (%s: %s): %s", api.ErrorCode(), api.ErrorMessage(), HowToGetCredentials)
		case errors.As(err, &send):
			return Caller{}, fmt.Errorf("AWS STS cannot be reached (check the network and the region): %w", err)
		case strings.Contains(err.Error(), "Missing Region"):
			// The SDK's endpoint rules name it so; it has no error type.
			return Caller{}, fmt.Errorf("no AWS region: export AWS_REGION (e.g. us-east-1) or run `aws configure set region REGION`: %w", err)
		default:
			// The SDK failed before sending: no credentials in the environment,
			// the shared files, SSO or an instance role.
			return Caller{}, fmt.Errorf("no usable AWS credentials: %s: %w", HowToGetCredentials, err)
		}
	}
	return Caller{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn)}, nil
}

// IAMAPI is the part of the IAM client ECSServiceLinkedRole calls.
type IAMAPI interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error)
}

// ECSServiceLinkedRoleName is the role ECS acts through in an account. AWS
// creates it with the first cluster made in the console, not through the API, so
// a fresh account used only from the command line may lack it and the serverful
// stack's capacity provider then fails midway through the deploy.
const ECSServiceLinkedRoleName = "AWSServiceRoleForECS"

// CreateECSServiceLinkedRole is the command that creates it.
const CreateECSServiceLinkedRole = "aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com"

// ECSServiceLinkedRole reports whether the account has ECS's service-linked role.
func ECSServiceLinkedRole(ctx context.Context, c IAMAPI) (bool, error) {
	_, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(ECSServiceLinkedRoleName)})
	var missing *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &missing):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up the IAM role %s (needs iam:GetRole): %w", ECSServiceLinkedRoleName, err)
	}
	return true, nil
}

// RequireECSServiceLinkedRole is ECSServiceLinkedRole as a preflight check: an
// error naming the command to run when the role is missing.
func RequireECSServiceLinkedRole(ctx context.Context, c IAMAPI) error {
	ok, err := ECSServiceLinkedRole(ctx, c)
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("the account has no ECS service-linked role (%s), which the serverful stack needs; create it once with: %s",
		ECSServiceLinkedRoleName, CreateECSServiceLinkedRole)
}

// LambdaAPI is the part of the Lambda client LambdaConcurrency calls.
type LambdaAPI interface {
	GetAccountSettings(ctx context.Context, in *lambda.GetAccountSettingsInput, opts ...func(*lambda.Options)) (*lambda.GetAccountSettingsOutput, error)
}

// LambdaConcurrency is the account's concurrent-execution limit in the client's
// region and the part of it no function has reserved.
func LambdaConcurrency(ctx context.Context, c LambdaAPI) (limit, unreserved int, err error) {
	out, err := c.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		return 0, 0, fmt.Errorf("read the account's Lambda settings (needs lambda:GetAccountSettings): %w", err)
	}
	if out.AccountLimit == nil {
		return 0, 0, errors.New("the Lambda account settings carry no AccountLimit")
	}
	limit = int(out.AccountLimit.ConcurrentExecutions)
	unreserved = limit
	if out.AccountLimit.UnreservedConcurrentExecutions != nil {
		unreserved = int(*out.AccountLimit.UnreservedConcurrentExecutions)
	}
	return limit, unreserved, nil
}

// ConcurrencyQuotaCode is Service Quotas' code of "Concurrent executions".
const ConcurrencyQuotaCode = "L-B99A9384"

// defaultConcurrency is the limit AWS documents for an established account; the
// request asks for at least this much.
const defaultConcurrency = 1000

// CheckLambdaConcurrency refuses a burst larger than the unreserved concurrency:
// Lambda would throttle the excess (429), and the study would measure the quota,
// not the platform. New accounts start at a limit of 10.
func CheckLambdaConcurrency(limit, unreserved, burst int) error {
	if burst <= unreserved {
		return nil
	}
	return fmt.Errorf("the account's Lambda concurrency is %d (%d unreserved) in this region, below the largest burst of %d: "+
		"Lambda would throttle the excess. Ask for more (quota %s, Concurrent executions): "+
		"aws service-quotas request-service-quota-increase --service-code lambda --quota-code %s --desired-value %d, "+
		"or run with a burst of at most %d",
		limit, unreserved, burst, ConcurrencyQuotaCode, ConcurrencyQuotaCode, max(burst, defaultConcurrency), unreserved)
}
