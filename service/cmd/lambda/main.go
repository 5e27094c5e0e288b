// Command lambda runs the inference service on AWS Lambda behind an API Gateway
// HTTP API (payload format 2.0). It never listens on a port: the Lambda runtime
// client calls the handler, and aws-lambda-go-api-proxy turns each event into a
// request for the same http.Handler the server uses. Build it as "bootstrap" for
// the provided.al2023 runtime.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/servebench/servebench/service/api"
	"github.com/servebench/servebench/service/config"
	"github.com/servebench/servebench/service/instance"
)

func main() {
	h, err := newHandler(context.Background())
	if err != nil {
		// Lambda reports an init error with this output; the function will not serve.
		fmt.Fprintln(os.Stderr, "lambda:", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// newHandler reads the configuration, opens the buckets and returns the function
// handler; the model is loaded on the first request (or now with
// SERVEBENCH_PRELOAD=true, which counts against Lambda's 10 s init phase).
func newHandler(ctx context.Context) (handler, error) {
	a, err := open(ctx)
	if err != nil {
		return nil, err
	}
	return proxy(a), nil
}

// handler is the function's: an API Gateway HTTP API (payload 2.0) event in, its
// answer out.
type handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// open opens the service as the environment configures it.
func open(ctx context.Context) (*api.API, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	return api.Open(ctx, api.Options{Config: cfg, Log: api.NewLogger(cfg.LogLevel), Instance: instance.New()})
}

// proxy serves a's routes to API Gateway events through aws-lambda-go-api-proxy.
func proxy(a *api.API) handler { return httpadapter.NewV2(a).ProxyWithContext }
