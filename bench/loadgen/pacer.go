package loadgen

import (
	"fmt"
	"time"
)

// A Pacer decides when each request is meant to be sent: hit n (0-based) is due at
// offset at from the start of the attack; ok is false when there is no hit n. The
// schedule never depends on how fast earlier requests came back (open loop), so a
// slow server cannot slow the load down and hide its own latency.
type Pacer interface {
	Pace(n int) (at time.Duration, ok bool)
}

// Burst sends N requests at once: every one is due at offset zero. It is the
// closed batch of the YOLO study and the 30-call burst of the Eigenfaces study.
type Burst int

// Pace implements Pacer.
func (b Burst) Pace(n int) (time.Duration, bool) { return 0, n < int(b) }

func (b Burst) String() string { return fmt.Sprintf("burst of %d", int(b)) }

// Constant sends Rate requests per second, evenly spaced, for Duration.
type Constant struct {
	Rate     float64 // requests per second, > 0
	Duration time.Duration
}

// Pace implements Pacer.
func (c Constant) Pace(n int) (time.Duration, bool) {
	if c.Rate <= 0 {
		return 0, false
	}
	at := time.Duration(float64(n) / c.Rate * float64(time.Second))
	return at, at < c.Duration
}

// Hits is the number of requests the pacer schedules.
func (c Constant) Hits() int {
	if c.Rate <= 0 {
		return 0
	}
	n := int(c.Rate * c.Duration.Seconds())
	for {
		if _, ok := c.Pace(n); !ok {
			return n
		}
		n++
	}
}

func (c Constant) String() string { return fmt.Sprintf("%g/s for %s", c.Rate, c.Duration) }
