#!/usr/bin/env bash
# Measures BenchmarkThroughput (the bus over RabbitMQ against the plain
# amqp091-go client on the same node) and prints benchstat's comparison.
# The test binary is built once and invoked count times (default 6), each
# invocation starting a node of its own and running both impls on it, so
# that the impls interleave. Usage: transport/rabbitmq/bench.sh [count]
# [benchtime] (defaults: 6, 2s); the raw results stay in $OUT (default
# /tmp/rb.txt). See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")"
count=${1:-6}
benchtime=${2:-2s}
out=${OUT:-/tmp/rb.txt}
if ! command -v benchstat >/dev/null; then
	go install golang.org/x/perf/cmd/benchstat@latest ||
		go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
	PATH=$PATH:$(go env GOPATH)/bin
fi
bin=$(mktemp -d)/rabbitmq.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .
: >"$out"
for i in $(seq "$count"); do
	"$bin" -test.run '^$' -test.bench Throughput -test.benchtime="$benchtime" -test.count 1 | tee -a "$out"
done
benchstat -col /impl "$out"
