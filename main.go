// The servebench Pulumi program: one program, two stacks (Pulumi.serverful.yaml,
// Pulumi.serverless.yaml); the stack's servebench:mode picks what it stands up.
// Everything lives in stacks.Program, which the tests run under pulumi.WithMocks.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/servebench/servebench/stacks"
)

func main() { pulumi.Run(stacks.Program) }
