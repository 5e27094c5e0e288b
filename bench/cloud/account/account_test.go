package account_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/servebench/servebench/bench/cloud/account"
	"github.com/servebench/servebench/bench/cloud/awsfake"
)

func TestCloudIdentity(t *testing.T) {
	f := awsfake.New(t)
	s := awsfake.NewSTS()
	s.SetIdentity("210987654321", "arn:aws:sts::210987654321:assumed-role/bench/me")
	s.Install(f)
	got, err := account.Identity(context.Background(), sts.NewFromConfig(f.Config()))
	if err != nil {
		t.Fatal(err)
	}
	if want := (account.Caller{Account: "210987654321", ARN: "arn:aws:sts::210987654321:assumed-role/bench/me"}); got != want {
		t.Errorf("identity %+v, want %+v", got, want)
	}
	if ops := f.Operations("sts"); len(ops) != 1 || ops[0] != "GetCallerIdentity" {
		t.Errorf("STS operations %v, want one GetCallerIdentity", ops)
	}
}

// Credentials AWS refuses: the message names the code and how to get new ones.
func TestCloudIdentityRefused(t *testing.T) {
	for _, code := range []string{"ExpiredToken", "InvalidClientTokenId"} {
		f := awsfake.New(t)
		s := awsfake.NewSTS()
		s.Refuse(code, "The security token included in the request is invalid.")
		s.Install(f)
		_, err := account.Identity(context.Background(), sts.NewFromConfig(f.Config()))
		if err == nil {
			t.Fatalf("%s: no error", code)
		}
		t.Log(err)
		for _, want := range []string{"refused", code, "aws configure", "AWS_PROFILE", "AWS_ACCESS_KEY_ID"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", code, err, want)
			}
		}
	}
}

// No credentials anywhere the SDK's default chain looks: the SDK gives up before
// sending, and the message says how to get some.
func TestCloudIdentityNoCredentials(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := awsfake.New(t)
	awsfake.NewSTS().Install(f)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(awsfake.Region), config.WithBaseEndpoint(f.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = account.Identity(context.Background(), sts.NewFromConfig(cfg))
	if err == nil {
		t.Fatal("no credentials: no error")
	}
	t.Log(err)
	for _, want := range []string{"no usable AWS credentials", "aws configure", "AWS_PROFILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if calls := f.Calls(""); len(calls) != 0 {
		t.Errorf("%d requests reached AWS without credentials", len(calls))
	}
}

// No region: the SDK cannot pick an endpoint, and the message says how to set one.
func TestCloudIdentityNoRegion(t *testing.T) {
	f := awsfake.New(t)
	awsfake.NewSTS().Install(f)
	cfg := f.Config()
	cfg.Region, cfg.BaseEndpoint = "", nil
	_, err := account.Identity(context.Background(), sts.NewFromConfig(cfg))
	if err == nil || !strings.Contains(err.Error(), "no AWS region") || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Errorf("no region: %v; want a message saying how to set one", err)
	}
}

func TestCloudECSServiceLinkedRole(t *testing.T) {
	f := awsfake.New(t)
	roles := awsfake.NewIAM()
	roles.AddRole("someone-else", "/")
	roles.Install(f)
	c := iam.NewFromConfig(f.Config())
	ctx := context.Background()

	ok, err := account.ECSServiceLinkedRole(ctx, c)
	if err != nil || ok {
		t.Fatalf("without the role: %v, %v; want false, nil", ok, err)
	}
	err = account.RequireECSServiceLinkedRole(ctx, c)
	if err == nil || !strings.Contains(err.Error(), "aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com") {
		t.Errorf("preflight without the role: %v; want the command that creates it", err)
	}
	calls := f.Calls("iam")
	if len(calls) != 2 || calls[0].Operation != "GetRole" || calls[0].Form.Get("RoleName") != "AWSServiceRoleForECS" {
		t.Errorf("IAM calls %+v, want GetRole of AWSServiceRoleForECS", calls)
	}

	roles.AddECSServiceLinkedRole()
	if ok, err := account.ECSServiceLinkedRole(ctx, c); err != nil || !ok {
		t.Errorf("with the role: %v, %v; want true, nil", ok, err)
	}
	if err := account.RequireECSServiceLinkedRole(ctx, c); err != nil {
		t.Errorf("preflight with the role: %v", err)
	}
}

// A refusal other than NoSuchEntity is an error, not "the role is missing".
func TestCloudECSServiceLinkedRoleDenied(t *testing.T) {
	f := awsfake.New(t)
	f.Handle("iam", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		awsfake.QueryError(w, http.StatusForbidden, "AccessDenied", "User is not authorized to perform: iam:GetRole")
	}))
	ok, err := account.ECSServiceLinkedRole(context.Background(), iam.NewFromConfig(f.Config()))
	if err == nil || ok || !strings.Contains(err.Error(), "iam:GetRole") {
		t.Errorf("access denied: %v, %v; want an error naming iam:GetRole", ok, err)
	}
}

func TestCloudLambdaConcurrency(t *testing.T) {
	f := awsfake.New(t)
	fake := awsfake.NewLambda()
	fake.SetAccountLimits(10, 10)
	fake.Install(f)
	c := lambda.NewFromConfig(f.Config())

	limit, unreserved, err := account.LambdaConcurrency(context.Background(), c)
	if err != nil || limit != 10 || unreserved != 10 {
		t.Fatalf("new account: %d, %d, %v; want 10, 10", limit, unreserved, err)
	}
	if ops := f.Operations("lambda"); len(ops) != 1 || ops[0] != "GET /2016-08-19/account-settings" {
		t.Errorf("Lambda operations %v, want GetAccountSettings", ops)
	}
	// A new account's 10 against a burst of 30 stops the run, saying how to ask for more.
	err = account.CheckLambdaConcurrency(limit, unreserved, 30)
	if err == nil {
		t.Fatal("limit 10, burst 30: no error")
	}
	t.Log(err)
	for _, want := range []string{"L-B99A9384", "aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384", "burst of 30", "at most 10"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	fake.SetAccountLimits(1000, 900)
	limit, unreserved, err = account.LambdaConcurrency(context.Background(), c)
	if err != nil || limit != 1000 || unreserved != 900 {
		t.Fatalf("established account: %d, %d, %v; want 1000, 900", limit, unreserved, err)
	}
	for _, burst := range []int{30, 900} {
		if err := account.CheckLambdaConcurrency(limit, unreserved, burst); err != nil {
			t.Errorf("unreserved 900, burst %d: %v", burst, err)
		}
	}
	if err := account.CheckLambdaConcurrency(limit, unreserved, 901); err == nil {
		t.Error("unreserved 900, burst 901: no error")
	}
}
