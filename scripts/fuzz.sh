#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for DURATION each and
# fails when any of them finds a failing input (go test writes it under the
# package's testdata/fuzz/FuzzXxx/, where it becomes a regression seed).
# usage: scripts/fuzz.sh [DURATION] [REGEXP]   (default 10s; REGEXP filters "dir FuzzName")
# FUZZPARALLEL=N limits the fuzzing workers per target (default: GOMAXPROCS),
# for long runs on a shared machine. FUZZMINIMIZETIME (default 5s) bounds how
# long go test shrinks each new interesting input: with Go's default of 60s,
# targets whose inputs are slow to run (a TS demux, an SDP offer) spent a
# 60 s run shrinking and ran a dozen inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-10s}"
filter="${2:-.}"
par=()
if [ -n "${FUZZPARALLEL:-}" ]; then
	par=(-parallel "$FUZZPARALLEL")
fi
mini="${FUZZMINIMIZETIME:-5s}"
failed=()
n=0
while IFS= read -r file; do
	dir=$(dirname "$file")
	for fn in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		if ! grep -qE -- "$filter" <<<"$dir $fn"; then
			continue
		fi
		n=$((n + 1))
		echo "== $dir $fn ($t)"
		start=$SECONDS
		if ! go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" -fuzzminimizetime "$mini" "${par[@]}" "./$dir"; then
			failed+=("$dir $fn")
		fi
		echo "== $dir $fn took $((SECONDS - start))s"
	done
done < <(grep -rl --include='*_test.go' -E '^func Fuzz' . | grep -v node_modules | sort)
echo "== $n fuzz targets run for $t each"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'FAILED: %s\n' "${failed[@]}"
	exit 1
fi
