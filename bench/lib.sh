# shellcheck shell=bash
#
# Shared by the bench scripts (cp_bench.sh, mem_bench.sh, fwd_bench.sh,
# tcp_bench.sh): root check, a private temporary directory and pin roots,
# namespaces with random names, cleanup on exit / failure / signal, CSV headers.
#
#   . "$(dirname "$0")/lib.sh"
#   bench_init cp                  # T=/tmp/lbbench-cp.XXXXXX, ID, traps
#   bench_ns_add lbcp$ID           # registered for deletion
#   bench_in NS CMD...             # nsenter --net=/run/netns/NS CMD (keeps the bpffs)
#   bench_root                     # $NEW_ROOT: a fresh pin root below $T, registered
#   bench_pid PID                  # killed (with its children) at exit
#
# Functions that register something (bench_root, bench_pid) must run in the main
# shell, not in $(...): results come back in global variables.
#
# Names carry a random $ID, so several checkouts can run side by side; addresses
# come from 198.18.0.0/15 only.  Nothing is left behind: the EXIT trap kills what
# was started, destroys and unmounts the pin roots, deletes the namespaces and
# removes $T.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
LBCTL=$REPO/build/bin/lbctl
LBATTACH=$REPO/build/bin/lbattach
LBMAP=$REPO/build/bin/lbmap
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

T='' ID='' BENCH_NAME=''
BENCH_NS=() BENCH_ROOTS=() BENCH_PIDS=()

bench_log() { echo "${BENCH_NAME:-bench}: $*" >&2; }
bench_die() { bench_log "$*"; exit 1; }

# bench_kill_tree PID: TERM the process and its descendants, KILL after 2 s.
bench_kill_tree() {
	local all=("$1") i=0 kid p
	while [ "$i" -lt "${#all[@]}" ]; do
		for kid in $(pgrep -P "${all[i]}"); do
			all+=("$kid")
		done
		i=$((i + 1))
	done
	kill "${all[@]}" 2>/dev/null
	for _ in $(seq 20); do
		for p in "${all[@]}"; do
			kill -0 "$p" 2>/dev/null && break
			p=
		done
		[ -z "$p" ] && break
		sleep 0.1
	done
	kill -9 "${all[@]}" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

bench_cleanup() {
	local pid root ns
	trap - EXIT INT TERM
	for pid in "${BENCH_PIDS[@]}"; do
		bench_kill_tree "$pid"
	done
	for root in "${BENCH_ROOTS[@]}"; do
		mountpoint -q "$root" || continue
		ns=
		[ ${#BENCH_NS[@]} -gt 0 ] && ns=${BENCH_NS[0]}
		if [ -n "$ns" ] && [ -e "/run/netns/$ns" ]; then
			nsenter --net="/run/netns/$ns" "$LBATTACH" -P "$root" destroy 2>/dev/null
		else
			"$LBATTACH" -P "$root" destroy 2>/dev/null
		fi
		for _ in 1 2 3 4 5; do
			mountpoint -q "$root" || break
			umount "$root" 2>/dev/null || umount -l "$root"
		done
	done
	for ns in "${BENCH_NS[@]}"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns"
	done
	if [ -n "$T" ] && [ -d "$T" ] && ! grep -q " $T/" /proc/mounts; then
		rm -rf "$T"
	fi
	return 0
}

# bench_init NAME: checks, temp dir, random ID, traps.
bench_init() {
	BENCH_NAME=$1
	[ "$(id -u)" -eq 0 ] || bench_die "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)"
	for t in "$LBCTL" "$LBATTACH"; do
		[ -x "$t" ] || bench_die "$t is missing: run 'make all' first"
	done
	T=$(mktemp -d "/tmp/lbbench-$1.XXXXXX") || exit 1
	# shellcheck disable=SC2034	# used by the scripts that source this file
	ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir -p "$RESULTS"
	# Run a copy of the tools and BPF objects, so that a rebuild of the tree
	# during the run cannot pull them away half way.
	mkdir -p "$T/bin" "$T/bpf" || exit 1
	if ! cp "$LBCTL" "$LBATTACH" "$LBMAP" "$T/bin/" || ! cp "$REPO"/build/bpf/*.bpf.o "$T/bpf/"; then
		bench_die "copying the tools failed"
	fi
	# shellcheck disable=SC2034	# LBMAP: used by the scripts that source this file
	LBCTL=$T/bin/lbctl LBATTACH=$T/bin/lbattach LBMAP=$T/bin/lbmap
	export LB_BPF_DIR=$T/bpf
}

# bench_need CMD...: fail with the Debian package hint when a tool is missing.
bench_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || bench_die "$c is missing: run 'make deps'"
	done
}

bench_ns_add() {
	ip netns add "$1" || bench_die "ip netns add $1 failed"
	BENCH_NS+=("$1")
	ip -n "$1" link set lo up
}

bench_in() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# bench_root: a fresh private pin root in $NEW_ROOT (the tools mount a bpffs on
# it), registered for cleanup.  Not in a $(...) subshell: the registration would
# be lost there.
NEW_ROOT=
bench_root() {
	NEW_ROOT=$T/pins$((${#BENCH_ROOTS[@]} + 1))
	BENCH_ROOTS+=("$NEW_ROOT")
}

# bench_unroot ROOT NS: destroy and unmount one pin root now (it stays registered).
bench_unroot() {
	bench_in "$2" "$LBATTACH" -P "$1" destroy 2>/dev/null
	for _ in 1 2 3; do
		mountpoint -q "$1" || break
		umount "$1" 2>/dev/null || umount -l "$1"
	done
	rmdir "$1" 2>/dev/null
	return 0
}

# bench_pid PID: killed with its children at exit (call it in the main shell).
bench_pid() { BENCH_PIDS+=("$1"); }

# Seconds since the epoch, nanosecond resolution.
bench_now() { date +%s.%N; }
# bench_elapsed START: seconds since START, 6 decimals.
bench_elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.6f", b - a }'; }

# bench_median N...: median of the numbers.
bench_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Facts about this machine and run, for the CSV header and the CSV columns.
bench_kernel() { uname -r; }
bench_date() { date -u +%Y-%m-%dT%H:%M:%SZ; }
bench_machine() {
	local virt
	virt=$(systemd-detect-virt 2>/dev/null || true)
	echo "nproc $(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)${virt:+, $virt guest}, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
}
# bench_header FILE TEXT: the first line of a CSV, a comment with the run's facts.
bench_header() {
	echo "# lbkit $BENCH_NAME: $(bench_machine); kernel $(bench_kernel); date $(bench_date); load $(cut -d' ' -f1-3 /proc/loadavg); $2" >"$1"
}
