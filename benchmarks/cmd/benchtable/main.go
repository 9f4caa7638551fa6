// Command benchtable turns raw `go test -bench` output into one markdown
// table per workload, with the median of every metric over the runs.
//
// A benchmark named BenchmarkFanout/subs=4/eventbus-2 is the row
// "eventbus" of the workload "Fanout subs=4": the last element of the name
// is the implementation, the rest the workload, and the -GOMAXPROCS suffix
// is dropped. The last column compares each implementation with the
// baseline (-baseline, kelindar by default) on the workload's headline
// metric: deliveries/s for throughput workloads (the batch workload
// included), p99 latency for the latency workload, MiB for the
// idle-subscriptions workload. Latency tables also compare the p50 with
// the channels row, the reference of the latency target, whatever the
// baseline.
//
// Usage:
//
//	benchtable [-baseline name] [file ...]
//
// With no file it reads standard input.
package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	baseline := flag.String("baseline", "kelindar", "implementation the ratio column compares with")
	flag.Parse()
	var res Results
	if flag.NArg() == 0 {
		if err := res.Parse(os.Stdin); err != nil {
			fatal(err)
		}
	}
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fatal(err)
		}
		err = res.Parse(f)
		f.Close()
		if err != nil {
			fatal(fmt.Errorf("%s: %w", name, err))
		}
	}
	if len(res.order) == 0 {
		fatal(fmt.Errorf("no benchmark results found"))
	}
	res.Write(os.Stdout, *baseline)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchtable:", err)
	os.Exit(1)
}

// Results holds every sample of every metric, by benchmark name.
type Results struct {
	order   []string                        // benchmark names, first seen first
	samples map[string]map[string][]float64 // name -> unit -> values
	units   map[string][]string             // name -> units, first seen first
	header  []string                        // goos, goarch, cpu lines
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

// Parse adds the benchmark lines of r.
func (r *Results) Parse(rd io.Reader) error {
	if r.samples == nil {
		r.samples = make(map[string]map[string][]float64)
		r.units = make(map[string][]string)
	}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		for _, key := range []string{"goos:", "goarch:", "cpu:"} {
			if strings.HasPrefix(line, key) && !slices.Contains(r.header, line) {
				r.header = append(r.header, line)
			}
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		// name, iterations, then value-unit pairs.
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return fmt.Errorf("%q: bad value %q", line, f[i])
			}
			r.add(name, f[i+1], v)
		}
	}
	return sc.Err()
}

func (r *Results) add(name, unit string, v float64) {
	m, ok := r.samples[name]
	if !ok {
		m = make(map[string][]float64)
		r.samples[name] = m
		r.order = append(r.order, name)
	}
	if _, ok := m[unit]; !ok {
		r.units[name] = append(r.units[name], unit)
	}
	m[unit] = append(m[unit], v)
}

// Median returns the median of a benchmark's metric and whether it has one.
func (r *Results) Median(name, unit string) (float64, bool) {
	vs := r.samples[name][unit]
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// workload is a group of benchmarks that differ only in implementation.
type workload struct {
	name string // e.g. BenchmarkFanout/subs=4
	rows []row
}

type row struct {
	label string // the implementation, or variant/implementation
	name  string // the full benchmark name
}

// workloads groups the benchmarks by everything but their last name
// element. Workloads of one benchmark function that each have a single
// implementation (the eventbus-only ones) share a table, one row per
// variant.
func (r *Results) workloads() []workload {
	var out []workload
	index := map[string]int{}
	for _, name := range r.order {
		wl, impl := name, name
		if i := strings.LastIndex(name, "/"); i >= 0 {
			wl, impl = name[:i], name[i+1:]
		}
		j, ok := index[wl]
		if !ok {
			j = len(out)
			index[wl] = j
			out = append(out, workload{name: wl})
		}
		out[j].rows = append(out[j].rows, row{label: impl, name: name})
	}

	var merged []workload
	for _, wl := range out {
		top, _, _ := strings.Cut(wl.name, "/")
		if len(wl.rows) == 1 && top != wl.name {
			last := len(merged) - 1
			if last < 0 || merged[last].name != top {
				merged = append(merged, workload{name: top})
				last++
			}
			label := strings.TrimPrefix(wl.rows[0].name, top+"/")
			merged[last].rows = append(merged[last].rows, row{label: label, name: wl.rows[0].name})
			continue
		}
		merged = append(merged, wl)
	}
	return merged
}

// column is one metric column of a table.
type column struct {
	unit   string
	header string
	format func(float64) string
}

// ratio is a column that compares a metric with another implementation's:
// against, or the -baseline implementation when against is empty.
type ratio struct {
	unit    string
	header  string // "baseline" in it is replaced with the implementation
	against string
}

// latencyReference is the implementation latency targets are set against.
const latencyReference = "channels"

// layout picks the columns for a workload from the metrics it reports,
// and the ratio columns that end its table.
func layout(units []string) ([]column, []ratio) {
	has := func(u string) bool { return slices.Contains(units, u) }
	var cols []column
	var rts []ratio
	switch {
	case has("p99-us"):
		cols = []column{
			{"p50-us", "p50 µs", fmtMicros},
			{"p99-us", "p99 µs", fmtMicros},
			{"p99.9-us", "p99.9 µs", fmtMicros},
		}
		if has("over20us-%") { // reports made before these metrics lack them
			cols = append(cols, column{"over20us-%", "% over 20 µs", fmtPercent}, column{"over1ms-%", "% over 1 ms", fmtPercent})
		}
		cols = append(cols, column{"publishes/s", "publishes/s", fmtRate}, column{"deliveries/s", "deliveries/s", fmtRate})
		rts = []ratio{{"p50-us", "p50 ÷ baseline", latencyReference}, {"p99-us", "p99 ÷ baseline", ""}}
	case has("MiB"):
		cols = []column{
			{"MiB", "MiB", fmtFixed1},
			{"B/sub", "B/sub", fmtCount},
			{"ns/subscribe", "ns/subscribe", fmtNanos},
			{"topics", "topics", fmtCount},
			{"allocs/op", "allocs/op", fmtCount},
		}
		rts = []ratio{{"MiB", "MiB ÷ baseline", ""}}
	default:
		ns := column{"ns/publish", "ns/publish", fmtNanos}
		if !has("ns/publish") {
			ns = column{"ns/op", "ns/op", fmtNanos}
		}
		cols = []column{
			ns,
			{"deliveries/s", "deliveries/s", fmtRate},
			{"B/op", "B/op", fmtCount},
			{"allocs/op", "allocs/op", fmtCount},
		}
		rts = []ratio{{"deliveries/s", "deliveries/s ÷ baseline", ""}}
	}
	// Metrics the layout does not know still get a column.
	skip := []string{"ns/op", "B/op", "allocs/op", "ns/publish", "deliveries/s", "publishes/s"}
	for _, u := range units {
		if slices.Contains(skip, u) || slices.ContainsFunc(cols, func(c column) bool { return c.unit == u }) {
			continue
		}
		cols = append(cols, column{u, u, fmtAny})
	}
	return cols, rts
}

// Write prints one markdown table per workload.
func (r *Results) Write(w io.Writer, baseline string) {
	for _, h := range r.header {
		fmt.Fprintf(w, "%s  \n", h)
	}
	if len(r.header) > 0 {
		fmt.Fprintln(w)
	}
	for _, wl := range r.workloads() {
		var units []string
		runs := 0
		for _, rw := range wl.rows {
			name := rw.name
			for _, u := range r.units[name] {
				if !slices.Contains(units, u) {
					units = append(units, u)
				}
			}
			for _, vs := range r.samples[name] {
				runs = max(runs, len(vs))
			}
		}
		cols, rts := layout(units)
		against := make([]string, len(rts))
		for i, rt := range rts {
			against[i] = cmp.Or(rt.against, baseline)
		}

		fmt.Fprintf(w, "### %s\n\n", title(wl.name))
		fmt.Fprintf(w, "Median of %d run(s).\n\n", runs)
		head := []string{"implementation"}
		for _, c := range cols {
			head = append(head, c.header)
		}
		for i, rt := range rts {
			head = append(head, strings.Replace(rt.header, "baseline", against[i], 1))
		}
		writeRow(w, head)
		sep := make([]string, len(head))
		sep[0] = "---"
		for i := 1; i < len(sep); i++ {
			sep[i] = "---:"
		}
		writeRow(w, sep)
		for _, rw := range wl.rows {
			name := rw.name
			cells := []string{rw.label}
			for _, c := range cols {
				if v, ok := r.Median(name, c.unit); ok {
					cells = append(cells, c.format(v))
				} else {
					cells = append(cells, "—")
				}
			}
			for i, rt := range rts {
				v, ok := r.Median(name, rt.unit)
				base, hasBase := r.Median(wl.name+"/"+against[i], rt.unit)
				if ok && hasBase && base != 0 {
					cells = append(cells, fmtRatio(v/base))
				} else {
					cells = append(cells, "—")
				}
			}
			writeRow(w, cells)
		}
		fmt.Fprintln(w)
	}
}

func writeRow(w io.Writer, cells []string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

// title turns BenchmarkFanout/subs=4 into "Fanout subs=4".
func title(name string) string {
	return strings.ReplaceAll(strings.TrimPrefix(name, "Benchmark"), "/", " ")
}

func fmtRate(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtNanos(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func fmtMicros(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtCount(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return fmt.Sprintf("%.1f", v)
}

func fmtRatio(v float64) string {
	if v != 0 && v < 0.1 {
		return strconv.FormatFloat(v, 'g', 2, 64) + "×"
	}
	return fmt.Sprintf("%.2f×", v)
}

func fmtFixed1(v float64) string { return fmt.Sprintf("%.1f", v) }

func fmtPercent(v float64) string { return fmt.Sprintf("%.2f%%", v) }

func fmtAny(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
