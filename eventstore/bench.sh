#!/usr/bin/env bash
# Runs the event store benchmarks (both stores against plain INSERT and
# SELECT of the same rows through the same driver) COUNT times and prints
# the median ns/event of each, and the store's ratio to plain. RAW=file
# summarises the output of an earlier run instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
count="${COUNT:-6}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if [ -n "${RAW:-}" ]; then
	cp "$RAW" "$out" # summarise the output of an earlier run
else
	go test -run '^$' -bench . -benchtime "${BENCHTIME:-2s}" -count "$count" ./sqlite ./postgres | tee "$out" >&2
fi
awk '
/^pkg: / { pkg = $2; sub(".*/", "", pkg) }
/ns\/event/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 1; i <= NF; i++) if ($(i+1) == "ns/event") v = $i
	key = pkg " " name
	vals[key] = vals[key] " " v
}
END {
	for (k in vals) {
		n = split(substr(vals[k], 2), a, " ")
		for (i = 2; i <= n; i++) { x = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j+1] = a[j]; a[j+1] = x }
		med = (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
		m[k] = med
	}
	for (k in m) {
		if (k !~ /\/store$/) continue
		p = k; sub(/\/store$/, "/plain", p)
		split(k, parts, " "); w = parts[2]; sub(/^Benchmark/, "", w); sub(/\/store$/, "", w)
		printf "| %s | %s | %.1f µs | %.1f µs | %.2f |\n", parts[1], w, m[p]/1000, m[k]/1000, m[k]/m[p]
	}
}' "$out" | sort >"$out.table"
printf '| store | workload | plain | store | ratio |\n|---|---|---:|---:|---:|\n'
cat "$out.table"
rm -f "$out.table"
