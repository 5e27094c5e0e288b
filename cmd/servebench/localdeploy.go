package main

import (
	"github.com/servebench/servebench/bench/results"
	"github.com/servebench/servebench/study"
)

// localDeployments are the deployment records of `servebench local`'s two
// targets, the only thing the report prices from: the serverful side's
// instance counts (no instance type: the report says it assumed the study's)
// and the memory size the serverless side runs and is priced at.
func localDeployments(serverfulURL, serverlessURL string, minInstances, maxInstances int) map[string]results.Deployment {
	return map[string]results.Deployment{
		"serverful":  {Platform: "local", Endpoint: serverfulURL, MinInstances: minInstances, MaxInstances: maxInstances},
		"serverless": {Platform: "local", Endpoint: serverlessURL, MemoryMB: study.LambdaMemoryMB},
	}
}
