#!/bin/bash
# Run the test layers and print one summary line "N passed, N failed".
# Usage: tests/run.sh [unit|datapath|e2e|fuzz ...]   (default: all four; fuzz: every
# fuzz target for FUZZ_SECS seconds, 5 here)
# Every layer speaks TAP; this script counts "ok" and "not ok" lines.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

layers=("$@")
[ ${#layers[@]} -eq 0 ] && layers=(unit datapath e2e fuzz)
log=$(mktemp -d /tmp/lbkit-test.XXXXXX)
trap 'rm -rf "$log"' EXIT

if [ "$(id -u)" -ne 0 ]; then
	if [ "${LB_REQUIRE_KERNEL:-0}" = 1 ]; then
		echo "not ok 1 - tests need root (LB_REQUIRE_KERNEL=1)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "# not root: kernel layers will report failures" >&2
fi

for layer in "${layers[@]}"; do
	echo "# --- $layer"
	case $layer in
	unit)     build/tests/unit ;;
	datapath)
		build/tests/dp_test; a=$?
		build/tests/nat_test; b=$?
		build/tests/limit_test; c=$?
		build/tests/race_test; d=$?
		[ "$a" -eq 0 ] && [ "$b" -eq 0 ] && [ "$c" -eq 0 ] && [ "$d" -eq 0 ] ;;
	e2e)      bats --tap tests/e2e ;;
	fuzz)     FUZZ_SECS=${FUZZ_SECS:-5} tests/fuzz/run.sh ;;
	*)        echo "not ok 1 - unknown test layer $layer" ;;
	esac 2>&1 | tee -a "$log/all"
	echo "# exit status ${PIPESTATUS[0]}" >>"$log/all"
done

passed=$(grep -c '^ok ' "$log/all")
failed=$(grep -c '^not ok ' "$log/all")
# A layer that died without reporting is a failure too.
crashed=$(grep -c '^# exit status [^0]' "$log/all")
if [ "$crashed" -gt 0 ] && [ "$failed" -eq 0 ]; then
	failed=$crashed
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$crashed" -eq 0 ] && [ "$passed" -gt 0 ]
