package local

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
)

// TestFreePortOutsideEphemeralRange: instance ports never come from the range the
// kernel gives client connections their source ports from (where a port handed out
// could be taken before the emulator binds it at its first invoke), are handed out
// once each, and a port in use is skipped.
func TestFreePortOutsideEphemeralRange(t *testing.T) {
	first := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var last int
		if _, err := fmt.Sscan(string(b), &first, &last); err != nil {
			t.Fatal(err)
		}
	}
	// Hold the port freePort would hand out next: it must skip it.
	lo, hi := instancePorts()
	next := lo + int((portNext.Load()+1)%int64(hi-lo))
	held, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(next))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	seen := map[int]bool{}
	for range 200 {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if p >= first || p < 1024 {
			t.Fatalf("port %d: in the ephemeral range (from %d) or privileged", p, first)
		}
		if p == next {
			t.Fatalf("port %d handed out while in use", p)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice in 200", p)
		}
		seen[p] = true
	}
}
