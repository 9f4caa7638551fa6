#!/usr/bin/env bash
# Runs the tests of every Go module of the repository with the race
# detector, and every benchmark once (one iteration each, to check that it
# runs): go test -race -count=1 -bench=. -benchtime=1x ./... in each
# directory holding a go.mod, after installing the servers its tests start
# (see need_servers). Works from any directory; fails if any module fails.
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

# A module whose tests start a server lists it in a file named
# test-servers, one "command package" pair per line (the command the tests
# run, the Debian package that has it; a command in Debian's
# /usr/lib/postgresql/<version>/bin counts as installed, since PostgreSQL's
# are not on PATH). A missing command is installed with apt-get when this
# runs as root; otherwise the module fails with the command that installs it.
apt_updated=0
need_servers() {
	local list="$1/test-servers" cmd pkg
	[ -f "$list" ] || return 0
	while read -r cmd pkg; do
		case "$cmd" in '' | '#'*) continue ;; esac
		if command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/usr/lib/rabbitmq/bin/$cmd" ] ||
			compgen -G "/usr/lib/postgresql/*/bin/$cmd" >/dev/null; then
			continue
		fi
		if [ "$(id -u)" -ne 0 ]; then
			echo "test-all: $1 needs $cmd: install it with: sudo apt-get install -y --no-install-recommends $pkg" >&2
			return 1
		fi
		echo "==> installing $pkg for $1 ($cmd is missing)"
		if [ "$apt_updated" -eq 0 ]; then
			DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
			apt_updated=1
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" || return 1
	done <"$list"
}

failed=()
for dir in "${modules[@]}"; do
	if ! need_servers "$root/$dir"; then
		failed+=("$dir")
		continue
	fi
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
