// Command stallprobe measures how often the machine stops a running
// thread, so that a latency result can be read against what the machine
// itself allows.
//
// It keeps some threads busy reading the clock in a loop and records every
// gap between two consecutive readings longer than a threshold: time in
// which the thread did not run although it never blocked. A gap is the
// operating system or, in a virtual machine, the host running something
// else. It does this first with one busy thread, then with one per
// processor (GOMAXPROCS), and prints a markdown table: per round, the gaps,
// the longest, and the share of the threads' time lost to them.
//
// A publish-to-handler p99 of 20µs needs at most 1% of deliveries to take
// longer; a machine that loses a few tenths of a percent of its time in
// stops of several milliseconds, each of which holds back every delivery
// due during it, cannot hold that for any implementation.
//
// Usage:
//
//	stallprobe [-duration 3s] [-threshold 200us] [-rounds 1]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	duration := flag.Duration("duration", 3*time.Second, "how long each round keeps its threads busy")
	threshold := flag.Duration("threshold", 200*time.Microsecond, "shortest gap between two clock readings that counts as a stop")
	rounds := flag.Int("rounds", 1, "how many times to run the pair of rounds (one thread, then one per processor)")
	flag.Parse()
	if err := run(os.Stdout, *duration, *threshold, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, err) // already prefixed by the command name
		os.Exit(2)
	}
}

// errBadFlag is returned for a flag value the probe cannot use.
var errBadFlag = errors.New("stallprobe: invalid flag")

func run(w io.Writer, duration, threshold time.Duration, rounds int) error {
	switch {
	case duration <= 0:
		return fmt.Errorf("%w: -duration %v must be positive", errBadFlag, duration)
	case threshold <= 0:
		return fmt.Errorf("%w: -threshold %v must be positive", errBadFlag, threshold)
	case rounds < 1:
		return fmt.Errorf("%w: -rounds %d must be at least 1", errBadFlag, rounds)
	}
	procs := runtime.GOMAXPROCS(0)
	fmt.Fprintf(w, "Gaps over %v between clock readings of busy threads, %v per round, GOMAXPROCS=%d.\n\n", threshold, duration, procs)
	fmt.Fprintln(w, "| busy threads | gaps | longest | time lost |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: |")
	for range rounds {
		for _, threads := range roundThreads(procs) {
			g := probe(threads, duration, threshold)
			fmt.Fprintf(w, "| %d | %d | %v | %.3f%% |\n", threads, g.count, g.longest.Round(time.Microsecond), 100*g.lostShare())
		}
	}
	return nil
}

// roundThreads returns the thread counts of one pair of rounds: one, then one
// per processor; just one round on a single processor.
func roundThreads(procs int) []int {
	if procs <= 1 {
		return []int{1}
	}
	return []int{1, procs}
}

// gaps accumulates the stops seen by one or more threads.
type gaps struct {
	threshold time.Duration
	count     int
	lost      time.Duration // the sum of the gaps
	longest   time.Duration
	observed  time.Duration // the threads' time, summed, gaps included
}

// observe accounts for the time between two consecutive clock readings.
func (g *gaps) observe(between time.Duration) {
	g.observed += between
	if between < g.threshold {
		return
	}
	g.count++
	g.lost += between
	g.longest = max(g.longest, between)
}

// add merges another thread's gaps into g.
func (g *gaps) add(o gaps) {
	g.count += o.count
	g.lost += o.lost
	g.longest = max(g.longest, o.longest)
	g.observed += o.observed
}

// lostShare is the share, from 0 to 1, of the observed time spent in gaps.
func (g *gaps) lostShare() float64 {
	if g.observed <= 0 {
		return 0
	}
	return float64(g.lost) / float64(g.observed)
}

// probe keeps threads busy for duration, each on an OS thread of its own,
// and returns the gaps they saw together.
func probe(threads int, duration, threshold time.Duration) gaps {
	total := gaps{threshold: threshold}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range threads {
		wg.Go(func() {
			g := spin(duration, threshold)
			mu.Lock()
			total.add(g)
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

// spin reads the clock in a loop for duration on a thread of its own.
func spin(duration, threshold time.Duration) gaps {
	// Pinned, so that a gap is the thread not running, not the Go
	// scheduler moving the goroutine.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g := gaps{threshold: threshold}
	start := time.Now()
	last := start
	for last.Sub(start) < duration {
		now := time.Now()
		g.observe(now.Sub(last))
		last = now
	}
	return g
}
