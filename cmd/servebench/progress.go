package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// console is stderr, shared by log lines and the progress bar: on a terminal a log
// line first clears the bar, which the next redraw puts back below it.
type console struct {
	mu  sync.Mutex
	f   *os.File
	tty bool
	bar bool // a bar is drawn on the current line
}

func newConsole(f *os.File) *console { return &console{f: f, tty: term.IsTerminal(int(f.Fd()))} }

// Write implements io.Writer for the logger.
func (c *console) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar {
		fmt.Fprint(c.f, "\r\033[K")
		c.bar = false
	}
	return c.f.Write(b)
}

// progress shows how many of the planned requests are done: a bar redrawn in place
// on a terminal, else a plain line every ten seconds.
type progress struct {
	c       *console
	mu      sync.Mutex
	total   int
	done    int
	started time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newProgress(c *console, total int) *progress {
	p := &progress{c: c, total: total, started: time.Now(), stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		every := 10 * time.Second
		if c.tty {
			every = 250 * time.Millisecond
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

// Add counts n requests done.
func (p *progress) Add(n int) {
	p.mu.Lock()
	p.done += n
	p.mu.Unlock()
}

func (p *progress) draw() {
	p.mu.Lock()
	done, total := p.done, p.total
	p.mu.Unlock()
	el := time.Since(p.started).Round(time.Second)
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	if !p.c.tty {
		fmt.Fprintf(p.c.f, "progress: %d of at most %d requests, %s\n", done, total, el)
		return
	}
	const width = 30
	filled := 0
	if total > 0 {
		filled = min(width, done*width/total)
	}
	fmt.Fprintf(p.c.f, "\r\033[K[%s%s] %d/%d requests %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, el)
	p.c.bar = true
}

// Close stops the redraws and ends the bar's line.
func (p *progress) Close() {
	close(p.stop)
	p.wg.Wait()
	p.draw()
	p.c.mu.Lock()
	defer p.c.mu.Unlock()
	if p.c.bar {
		fmt.Fprintln(p.c.f)
		p.c.bar = false
	}
}
