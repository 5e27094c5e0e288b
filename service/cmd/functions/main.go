// Command functions runs the service's Cloud Functions locally with the functions
// framework, each at /<name> (/predict, /faces_train, ...), or only one at / when
// FUNCTION_TARGET names it, as on Cloud Functions. It listens on $PORT (8080).
package main

import (
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/servebench/servebench/service" // registers the functions
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	host := os.Getenv("HOST") // empty: every interface
	if err := funcframework.StartHostPort(host, port); err != nil {
		fmt.Fprintln(os.Stderr, "functions:", err)
		os.Exit(1)
	}
}
