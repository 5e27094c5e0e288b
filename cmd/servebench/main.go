// Command servebench runs the serverless-vs-serverful experiments and writes the report.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/servebench/servebench/assets"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: servebench assets")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "assets":
		cache, _ := os.UserCacheDir()
		d, err := assets.Locate(context.Background(), log, ".", filepath.Join(cache, "servebench"))
		if err != nil {
			log.Error("assets", "err", err)
			os.Exit(1)
		}
		fmt.Println(d.Path)
	default:
		fmt.Fprintf(os.Stderr, "servebench: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
