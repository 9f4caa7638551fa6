#!/usr/bin/env bash
# Measures BenchmarkThroughput and BenchmarkPublishBatch (the bus over NATS
# against plain JetStream on the same embedded server) and prints
# benchstat's comparison of the impls.
# Usage: transport/nats/bench.sh [count] [benchtime]   (defaults: 6, 2s)
# The raw results stay in $OUT (default /tmp/nb.txt). See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")"
count=${1:-6}
benchtime=${2:-2s}
out=${OUT:-/tmp/nb.txt}
if ! command -v benchstat >/dev/null; then
	go install golang.org/x/perf/cmd/benchstat@latest ||
		go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
	PATH=$PATH:$(go env GOPATH)/bin
fi
go test -run '^$' -bench 'Throughput|PublishBatch' -benchtime="$benchtime" -count "$count" | tee "$out"
benchstat -col /impl "$out"
