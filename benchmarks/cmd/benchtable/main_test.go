package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/busline/eventbus/benchmarks
cpu: AMD EPYC
BenchmarkFanout/subs=4/eventbus-2   	  100	  400.0 ns/op	  10000000 deliveries/s	  400.0 ns/publish	  176 B/op	  1 allocs/op
BenchmarkFanout/subs=4/kelindar-2   	  100	  100.0 ns/op	  40000000 deliveries/s	  100.0 ns/publish	  0 B/op	  0 allocs/op
BenchmarkFanout/subs=4/eventbus-2   	  100	  500.0 ns/op	  8000000 deliveries/s	  500.0 ns/publish	  176 B/op	  1 allocs/op
BenchmarkFanout/subs=4/kelindar-2   	  100	  100.0 ns/op	  20000000 deliveries/s	  100.0 ns/publish	  0 B/op	  0 allocs/op
BenchmarkFanout/subs=4/eventbus-2   	  100	  600.0 ns/op	  6000000 deliveries/s	  600.0 ns/publish	  176 B/op	  1 allocs/op
BenchmarkLatency/rate=100k/subs=4/eventbus-2 	1	100000000 ns/op	400000 deliveries/s	10000 ns/publish	1.5 p50-us	30 p99-us	60 p99.9-us	100000 publishes/s	1760000 B/op	10000 allocs/op
BenchmarkLatency/rate=100k/subs=4/kelindar-2 	1	100000000 ns/op	400000 deliveries/s	10000 ns/publish	400 p50-us	3000 p99-us	4000 p99.9-us	100000 publishes/s	0 B/op	0 allocs/op
BenchmarkOverflow/policy=block/eventbus-2 	10	300 ns/op	3000000 deliveries/s	0 dropped/publish	300 ns/publish	176 B/op	1 allocs/op
BenchmarkOverflow/policy=fail/eventbus-2 	10	300 ns/op	100000 deliveries/s	0.95 dropped/publish	300 ns/publish	275 B/op	4 allocs/op
--- SKIP: BenchmarkSomething
PASS
`

func TestParseAndMedian(t *testing.T) {
	var r Results
	if err := r.Parse(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, unit string
		want       float64
	}{
		{"BenchmarkFanout/subs=4/eventbus", "ns/publish", 500},          // odd count
		{"BenchmarkFanout/subs=4/kelindar", "deliveries/s", 30_000_000}, // even count
		{"BenchmarkLatency/rate=100k/subs=4/eventbus", "p99-us", 30},
	} {
		got, ok := r.Median(c.name, c.unit)
		if !ok || got != c.want {
			t.Errorf("Median(%s, %s) = %v, %v; want %v", c.name, c.unit, got, ok, c.want)
		}
	}
	if _, ok := r.Median("BenchmarkFanout/subs=4/eventbus-2", "ns/op"); ok {
		t.Error("the -GOMAXPROCS suffix was kept")
	}
}

func TestWrite(t *testing.T) {
	assertTable(t, sample,
		"### Fanout subs=4\n",
		"Median of 3 run(s).",
		"| implementation | ns/publish | deliveries/s | B/op | allocs/op | deliveries/s ÷ kelindar |",
		"| eventbus | 500 | 8.00M | 176 | 1 | 0.27× |",
		"| kelindar | 100 | 30.00M | 0 | 0 | 1.00× |",
		"### Latency rate=100k subs=4\n",
		// No channels row here: the p50 ratio has nothing to compare with.
		"| eventbus | 1.50 | 30.00 | 60.00 | 100.0k | 400.0k | — | 0.01× |",
		// Single-implementation workloads of one benchmark share a table,
		// and metrics the layout does not know get a column.
		"### Overflow\n",
		"| implementation | ns/publish | deliveries/s | B/op | allocs/op | dropped/publish | deliveries/s ÷ kelindar |",
		"| policy=fail/eventbus | 300 | 100.0k | 275 | 4 | 0.95 | — |",
	)
}

func TestWriteLatencyShares(t *testing.T) {
	const in = "BenchmarkLatency/rate=100k/subs=4/channels-2 \t1\t100000000 ns/op\t400000 deliveries/s\t10000 ns/publish\t" +
		"0.5 p50-us\t6 p99-us\t2000 p99.9-us\t0.3 over20us-%\t0.1 over1ms-%\t100000 publishes/s\t0 B/op\t0 allocs/op\n" +
		"BenchmarkLatency/rate=100k/subs=4/eventbus-2 \t1\t100000000 ns/op\t400000 deliveries/s\t10000 ns/publish\t" +
		"0.8 p50-us\t12 p99-us\t3000 p99.9-us\t0.4 over20us-%\t0.125 over1ms-%\t100000 publishes/s\t1760000 B/op\t10000 allocs/op\n" +
		"BenchmarkLatency/rate=100k/subs=4/kelindar-2 \t1\t100000000 ns/op\t400000 deliveries/s\t10000 ns/publish\t" +
		"400 p50-us\t6000 p99-us\t8000 p99.9-us\t92 over20us-%\t60 over1ms-%\t100000 publishes/s\t0 B/op\t0 allocs/op\n"
	assertTable(t, in,
		"| implementation | p50 µs | p99 µs | p99.9 µs | % over 20 µs | % over 1 ms | publishes/s | deliveries/s | p50 ÷ channels | p99 ÷ kelindar |",
		"| channels | 0.50 | 6.00 | 2000 | 0.30% | 0.10% | 100.0k | 400.0k | 1.00× | 0.001× |",
		"| eventbus | 0.80 | 12.00 | 3000 | 0.40% | 0.12% | 100.0k | 400.0k | 1.60× | 0.002× |",
		"| kelindar | 400 | 6000 | 8000 | 92.00% | 60.00% | 100.0k | 400.0k | 800.00× | 1.00× |",
	)
}

// TestWriteBatch checks the batch workload's table: the throughput
// columns, per-batch allocations as reported, and the ratio against
// kelindar, the baseline, even with channels first.
func TestWriteBatch(t *testing.T) {
	const in = "BenchmarkBatch/size=64/subs=4/channels-2 \t100\t12800 ns/op\t20000000 deliveries/s\t200.0 ns/publish\t0 B/op\t0 allocs/op\n" +
		"BenchmarkBatch/size=64/subs=4/eventbus-2 \t100\t19200 ns/op\t13333333 deliveries/s\t300.0 ns/publish\t12800 B/op\t1 allocs/op\n" +
		"BenchmarkBatch/size=64/subs=4/eventbus-loop-2 \t100\t38400 ns/op\t6666667 deliveries/s\t600.0 ns/publish\t11264 B/op\t64 allocs/op\n" +
		"BenchmarkBatch/size=64/subs=4/kelindar-2 \t100\t25600 ns/op\t10000000 deliveries/s\t400.0 ns/publish\t0 B/op\t0 allocs/op\n"
	assertTable(t, in,
		"### Batch size=64 subs=4\n",
		"| implementation | ns/publish | deliveries/s | B/op | allocs/op | deliveries/s ÷ kelindar |",
		"| channels | 200 | 20.00M | 0 | 0 | 2.00× |",
		"| eventbus | 300 | 13.33M | 12800 | 1 | 1.33× |",
		"| eventbus-loop | 600 | 6.67M | 11264 | 64 | 0.67× |",
		"| kelindar | 400 | 10.00M | 0 | 0 | 1.00× |",
	)
}

// assertTable parses in, writes its tables with kelindar as the baseline,
// and checks that the output has every line of want.
func assertTable(t *testing.T, in string, want ...string) {
	t.Helper()
	var r Results
	if err := r.Parse(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r.Write(&out, "kelindar")
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}
