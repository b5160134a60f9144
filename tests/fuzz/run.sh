#!/bin/bash
# Run every fuzz target (build/fuzz/fuzz_NAME) for FUZZ_SECS seconds (default 60) on
# its seeds (tests/fuzz/corpus/NAME, read only) and the corpus earlier runs grew
# (build/fuzz/corpus/NAME).  TAP: "ok N - fuzz NAME", "not ok" when it crashed, with
# the input kept in build/fuzz/artifacts/ and the end of the log as comments.
# Usage: tests/fuzz/run.sh [NAME ...]   (default: every target built)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

secs=${FUZZ_SECS:-60}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for bin in build/fuzz/fuzz_*; do
		[ -x "$bin" ] && names+=("${bin#build/fuzz/fuzz_}")
	done
fi
mkdir -p build/fuzz/artifacts
n=0
failed=0
for name in "${names[@]}"; do
	n=$((n + 1))
	bin=build/fuzz/fuzz_$name
	log=build/fuzz/$name.log
	mkdir -p "build/fuzz/corpus/$name"
	# A hung target is a failure too: the outer timeout leaves it room to start.
	timeout --signal=KILL $((secs * 2 + 60)) "$bin" -max_total_time="$secs" -timeout=10 \
		-artifact_prefix="build/fuzz/artifacts/$name-" \
		"build/fuzz/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log")
	extra=$(sed -n 's/^fuzz_datapath: \([0-9]* packets\).*/, \1/p' "$log")
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		echo "ok $n - fuzz $name ($runs inputs in ${secs}s$extra)"
	else
		failed=$((failed + 1))
		echo "not ok $n - fuzz $name (exit $rc; log $log)"
		grep -E '^(fuzz_|==[0-9]+==ERROR|SUMMARY|artifact_prefix)|Test unit written' "$log" |
			head -20 | sed 's/^/# /'
	fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
