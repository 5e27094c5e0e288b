// Command servebench runs the serverless-vs-serverful experiments and writes the report.
//
//	servebench local [flags]                       both deployments on this machine (default)
//	servebench run -target NAME=URL | -stack NAME  deployed endpoints
//	servebench cloud [flags]                       deploy, measure and tear down on AWS
//	servebench report RESULTS.jsonl                the report again from a results file
//	servebench assets                              print the data directory
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/servebench/servebench/assets"
)

const usage = `usage: servebench <command> [flags]

commands:
  local    stand up a serverful and a serverless deployment on this machine, measure both, write the report (default)
  run      measure deployed endpoints: -target NAME=URL or -stack NAME
  cloud    deploy the stacks with Pulumi, measure them with forced cold starts and a Lambda memory sweep, tear them down
  report   write the report from a results.jsonl
  assets   print the data directory (model, images, faces)

servebench <command> -h lists a command's flags.`

// stderr carries log lines and the progress bar.
var stderr *console

func main() {
	stderr = newConsole(os.Stderr)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C the run winds down and writes its report; a
		// second one kills at once (instances die with us: see bench/local).
		<-ctx.Done()
		stop()
	}()
	cmd, args := "local", os.Args[1:]
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "local":
		err = localCmd(ctx, log, args)
	case "run":
		err = runCmd(ctx, log, args)
	case "cloud":
		err = cloudCmd(ctx, log, args)
	case "report":
		err = reportCmd(ctx, log, args)
	case "assets":
		var dir assets.Dir
		if dir, err = locateAssets(ctx, log); err == nil {
			fmt.Println(dir.Path)
		}
	case "help", "-h", "--help":
		fmt.Println(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "servebench: unknown command %q\n\n%s\n", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "servebench %s: %v\n", cmd, err)
		os.Exit(1)
	}
}
