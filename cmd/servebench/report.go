package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/servebench/servebench/bench/report"
)

// writeReport turns a results file into the report in dir and prints its summary.
// prices is a JSON price file laid over the built-in list ("" for the built-in one).
func writeReport(ctx context.Context, log *slog.Logger, resultsPath, dir, prices string, stdout io.Writer) error {
	sum, err := report.Generate(ctx, resultsPath, report.Options{OutDir: dir, Log: log, PricesFile: prices})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintln(stdout)
	return sum.WriteText(stdout)
}

// reportCmd is `servebench report [-out DIR] results.jsonl`: the report again from a
// results file, e.g. after an interrupted run or with other prices.
func reportCmd(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	out := fs.String("out", "", "directory for the report (default: the results file's directory)")
	prices := fs.String("prices", "", pricesUsage)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: servebench report [-out DIR] [-prices FILE] RESULTS.jsonl")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("report: give one results file, got %d arguments", fs.NArg())
	}
	path := fs.Arg(0)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	dir := *out
	if dir == "" {
		dir = filepath.Dir(path)
	}
	return writeReport(ctx, log, path, dir, *prices, os.Stdout)
}

const pricesUsage = "JSON file of prices laid over the built-in list (README, \"Cost model and price list\")"
