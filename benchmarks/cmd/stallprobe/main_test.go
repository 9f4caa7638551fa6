package main

import (
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGapsCountOnlyStopsFromTheThreshold(t *testing.T) {
	g := gaps{threshold: 200 * time.Microsecond}
	for _, d := range []time.Duration{
		30 * time.Nanosecond,
		199 * time.Microsecond,
		200 * time.Microsecond,
		40 * time.Nanosecond,
		4 * time.Millisecond,
	} {
		g.observe(d)
	}
	want := gaps{
		threshold: 200 * time.Microsecond,
		count:     2,
		lost:      4200 * time.Microsecond,
		longest:   4 * time.Millisecond,
		observed:  4399*time.Microsecond + 70*time.Nanosecond,
	}
	if g != want {
		t.Fatalf("gaps = %+v, want %+v", g, want)
	}
	if share, want := g.lostShare(), 4200.0/4399.07; math.Abs(share-want) > 1e-9 {
		t.Errorf("lostShare = %v, want %v", share, want)
	}
}

func TestGapsAddMergesThreads(t *testing.T) {
	a := gaps{threshold: time.Millisecond}
	a.observe(time.Second)
	a.observe(2 * time.Millisecond)
	b := gaps{threshold: time.Millisecond}
	b.observe(3 * time.Millisecond)
	b.observe(time.Microsecond)
	a.add(b)
	want := gaps{
		threshold: time.Millisecond,
		count:     3,
		lost:      time.Second + 5*time.Millisecond,
		longest:   time.Second,
		observed:  time.Second + 5*time.Millisecond + time.Microsecond,
	}
	if a != want {
		t.Fatalf("merged gaps = %+v, want %+v", a, want)
	}
}

func TestLostShareOfNothingObservedIsZero(t *testing.T) {
	var g gaps
	if s := g.lostShare(); s != 0 {
		t.Fatalf("lostShare = %v, want 0", s)
	}
}

func TestRoundThreads(t *testing.T) {
	for procs, want := range map[int][]int{1: {1}, 2: {1, 2}, 8: {1, 8}} {
		if got := roundThreads(procs); !slices.Equal(got, want) {
			t.Errorf("roundThreads(%d) = %v, want %v", procs, got, want)
		}
	}
}

// The probe's threads account for the whole round between them, whether or
// not the machine stopped them; a threshold longer than the round can see
// no gap at all.
func TestProbeObservesEveryThreadForTheRound(t *testing.T) {
	const round = 20 * time.Millisecond
	g := probe(2, round, time.Hour)
	if g.count != 0 || g.lost != 0 {
		t.Errorf("gaps over an hour in a %v round: %+v", round, g)
	}
	if g.observed < 2*round {
		t.Errorf("observed %v of two threads' %v rounds", g.observed, round)
	}
}

func TestRunPrintsATableRowPerRound(t *testing.T) {
	var out strings.Builder
	if err := run(&out, 10*time.Millisecond, time.Hour, 2); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for line := range strings.Lines(out.String()) {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| busy") || strings.HasPrefix(line, "| ---") {
			continue
		}
		rows++
		if !strings.HasSuffix(line, "| 0 | 0s | 0.000% |\n") {
			t.Errorf("row %q: want no gap over an hour", line)
		}
	}
	if want := 2 * len(roundThreads(runtime.GOMAXPROCS(0))); rows != want {
		t.Errorf("%d rows, want %d:\n%s", rows, want, out.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for flagName, call := range map[string]func() error{
		"duration":  func() error { return run(&strings.Builder{}, 0, time.Millisecond, 1) },
		"threshold": func() error { return run(&strings.Builder{}, time.Millisecond, -1, 1) },
		"rounds":    func() error { return run(&strings.Builder{}, time.Millisecond, time.Millisecond, 0) },
	} {
		t.Run(flagName, func(t *testing.T) {
			err := call()
			if !errors.Is(err, errBadFlag) {
				t.Fatalf("err = %v, want one matching errBadFlag", err)
			}
			if !strings.Contains(err.Error(), "-"+flagName) {
				t.Errorf("err %q does not name -%s", err, flagName)
			}
		})
	}
}
