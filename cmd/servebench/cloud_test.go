package main

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestCloudFlags(t *testing.T) {
	sizes, err := memorySizes("1024, 2048,3000")
	if err != nil || !slices.Equal(sizes, []int{1024, 2048, 3000}) {
		t.Errorf("memorySizes = %v, %v", sizes, err)
	}
	if sizes, err := memorySizes(""); err != nil || len(sizes) != 0 {
		t.Errorf("empty -lambda-memory: %v, %v (want no sweep)", sizes, err)
	}
	for _, bad := range []string{"64", "20000", "2 GB"} {
		if _, err := memorySizes(bad); err == nil || !strings.Contains(err.Error(), "128 to 10240") {
			t.Errorf("-lambda-memory %q: %v", bad, err)
		}
	}
	// Bad flags stop the command before it looks for anything.
	log := slog.New(slog.DiscardHandler)
	for args, want := range map[string]string{
		"-stacks serverles":    `-stacks: "serverles" is not one of serverful, serverless`,
		"-lambda-memory 99999": "-lambda-memory 99999",
		"extra":                `unexpected argument "extra"`,
	} {
		if err := cloudCmd(context.Background(), log, strings.Fields(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("cloud %s: %v, want %q", args, err, want)
		}
	}
}
