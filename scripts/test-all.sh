#!/usr/bin/env bash
# Runs the tests of every Go module of the repository with the race
# detector, and every benchmark once (one iteration each, to check that it
# runs): go test -race -count=1 -bench=. -benchtime=1x ./... in each
# directory holding a go.mod. Works from any directory; fails if any module
# fails.
set -euo pipefail

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

modules=()
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	while IFS= read -r mod; do
		modules+=("$(dirname "$mod")")
	done < <(git ls-files '*go.mod' | sort)
fi
if [ "${#modules[@]}" -eq 0 ]; then
	while IFS= read -r mod; do
		modules+=("$(dirname "$mod")")
	done < <(find . -name go.mod -not -path './.git/*' | sed 's|^\./||' | sort)
fi
if [ "${#modules[@]}" -eq 0 ]; then
	echo "test-all: no go.mod found under $root" >&2
	exit 1
fi

failed=()
for dir in "${modules[@]}"; do
	echo "==> testing module in ${dir} (go test -race -count=1 -bench=. -benchtime=1x ./...)"
	if ! (cd "$root/$dir" && go test -race -count=1 -bench=. -benchtime=1x ./...); then
		failed+=("$dir")
	fi
done

if [ "${#failed[@]}" -gt 0 ]; then
	echo "test-all: FAILED in: ${failed[*]}" >&2
	exit 1
fi
echo "test-all: all ${#modules[@]} module(s) passed"
