#!/usr/bin/env bash
# Runs the comparison suite and prints, per workload, a markdown table of
# medians (cmd/benchtable) after benchstat's detailed view.
#
# Environment:
#   COUNT           runs of each benchmark (default 5)
#   BENCHTIME       -benchtime of the throughput and latency workloads (default 1s)
#   BENCH           -bench regexp of those workloads (default: all but idle subscriptions)
#   IDLE            set to 0 to skip the idle-subscriptions workload
#   IDLE_COUNT      runs of the idle-subscriptions workload (default 1; it is
#                   deterministic enough, and eventbus needs over a minute for
#                   100,000 subscriptions on one topic)
#   BENCH_IDLE_SUBS subscriptions in that workload (default 100000)
#   OUT             raw output file (default results/raw-<time>.txt)
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-'^Benchmark(Fanout|ParallelPublishers|Topics|Batch|Latency|Overflow|OrderedDelivery)$'}
IDLE=${IDLE:-1}
IDLE_COUNT=${IDLE_COUNT:-1}
stamp=$(date +%Y%m%d-%H%M%S)
OUT=${OUT:-results/raw-$stamp.txt}
TABLE=${OUT%.txt}.md
[[ $TABLE == "$OUT" ]] && TABLE=$OUT.md
mkdir -p "$(dirname "$OUT")"

gobin=$(go env GOBIN)
[[ -n $gobin ]] || gobin=$(go env GOPATH)/bin
benchstat=$(command -v benchstat || true)
[[ -n $benchstat || ! -x $gobin/benchstat ]] || benchstat=$gobin/benchstat
if [[ -z $benchstat ]]; then
	echo "installing benchstat..." >&2
	# The module has no tagged releases; the pinned pseudo-version is the
	# fallback should @latest be refused.
	go install golang.org/x/perf/cmd/benchstat@latest ||
		go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da ||
		echo "benchstat unavailable; printing the tables only" >&2
	[[ ! -x $gobin/benchstat ]] || benchstat=$gobin/benchstat
fi

echo "raw output: $OUT" >&2
# The suite is run COUNT times over rather than each benchmark COUNT times
# in a row (-count), so that a noisy stretch of the machine is spread over
# every implementation instead of landing on the runs of one.
bin=$(mktemp -d)/benchmarks.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .
: >"$OUT"
for round in $(seq "$COUNT"); do
	echo "round $round of $COUNT" >&2
	flt=cat
	[[ $round == 1 ]] || flt="grep -v -e ^goos: -e ^goarch: -e ^pkg: -e ^cpu:"
	"$bin" -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.count 1 \
		-test.benchtime "$BENCHTIME" -test.timeout 0 | $flt | grep -v '^PASS$' | tee -a "$OUT"
done
if [[ $IDLE != 0 ]]; then
	"$bin" -test.run '^$' -test.bench '^BenchmarkIdleSubscriptions$' -test.benchmem -test.count "$IDLE_COUNT" -test.benchtime 1x -test.timeout 0 |
		grep -v -e '^goos:' -e '^goarch:' -e '^pkg:' -e '^cpu:' | tee -a "$OUT"
fi

if [[ -n $benchstat ]]; then
	echo
	echo "## benchstat"
	echo
	"$benchstat" "$OUT"
fi

echo
echo "## Medians"
echo
go run ./cmd/benchtable "$OUT" | tee "$TABLE"
echo "table: $TABLE" >&2
