#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for a short time each.
# usage: scripts/fuzz.sh [DURATION]   (default 10s)
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-10s}"
fail=0
while IFS= read -r file; do
	dir=$(dirname "$file")
	for fn in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		echo "== $dir $fn ($t)"
		if ! go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" "./$dir"; then
			fail=1
		fi
	done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | grep -v node_modules | sort)
exit $fail
