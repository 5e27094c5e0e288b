// Command stubprovider is the stub Pulumi resource provider the engine tests install
// as pulumi-resource-aws, -gcp and -docker (see package stubprovider).
package main

import (
	"fmt"
	"os"

	"github.com/servebench/servebench/enginetest/stubprovider"
)

func main() {
	if err := stubprovider.Main(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
