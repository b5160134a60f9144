#!/usr/bin/env bats
# Concurrent writers on one pin root: 8 writers x 1,000 mixed operations (services,
# endpoints on their own services and on one shared service, chain elements on one
# tcx hook) end in exactly the expected set, with no lost update and no deadlock
# (every process is bounded); a writer that cannot get the lock within
# LB_LOCK_TIMEOUT fails with one line and changes nothing.

# shellcheck disable=SC2154 # status, output, stderr_lines: set by bats' run
load helpers

WRITERS=${CONC_WRITERS:-8}
OPS=${CONC_OPS:-1000}
CHAIN_ADDS=50		# chain elements each writer adds; it deletes all but the last 2
STAMP=$LB_REPO/build/tests/progs/stamp.bpf.o
SHARED=198.19.9.1

setup() {
	lbt_setup
	lbt_topo
}

teardown() {
	lbt_teardown
}

# ops W: writer W's operations, $OPS of them: chain ones in $T/chain.$W, service and
# endpoint ones in $T/svc.$W; the chain elements it leaves go to $T/want.chain.
ops() {
	local w=$1 i=0 k vip ep sh
	for k in $(seq 1 $CHAIN_ADDS); do
		echo "chain add dev $DEV_L hook tc-ingress obj $STAMP sec stamp1_tc name w${w}c$k"
		if [ "$k" -le $((CHAIN_ADDS - 2)) ]; then
			echo "chain del dev $DEV_L hook tc-ingress name w${w}c$k"
		else
			echo "w${w}c$k" >>"$T/want.chain"
		fi
	done >"$T/chain.$w"
	while [ "$i" -lt "$OPS" ]; do
		i=$((i + 1))
		vip=198.19.$((10 + w)).$i ep=198.18.$((10 + w)).$i sh=198.18.$((20 + w)).$i
		echo "service add $vip port 80"
		echo "endpoint add $ep port 8080 service $vip port 80"
		echo "endpoint add $sh port 8080 service $SHARED port 80"
		[ $((i % 50)) -eq 0 ] || echo "endpoint del $sh port 8080 service $SHARED port 80"
		[ $((i % 3)) -eq 0 ] || echo "service del $vip port 80"
	done | head -n $((OPS - $(wc -l <"$T/chain.$w"))) >"$T/svc.$w"
}

# expect FILE...: the rule set the operations in FILEs leave (their services are
# disjoint, so their order does not matter), as the lines of "lbctl save".
expect() {
	"$PY" - "$@" <<'PY'
import sys
svcs = {}
for f in sys.argv[1:]:
    for line in open(f):
        w = line.split()
        if w[:2] == ["service", "add"]:
            svcs[w[2]] = []
        elif w[:2] == ["service", "del"]:
            del svcs[w[2]]
        elif w[:2] == ["endpoint", "add"]:
            svcs[w[6]].append(w[2])
        elif w[:2] == ["endpoint", "del"]:
            svcs[w[6]].remove(w[2])
for vip, eps in svcs.items():
    print("service add %s port 80 proto tcp sched rr mode dnat" % vip)
    for ep in eps:
        print("endpoint add %s port 8080 weight 1 service %s port 80 proto tcp" % (ep, vip))
PY
}

# writer W: run W's operations, service ones and chain ones interleaved, in
# batches (a batch locks the root once per line, as single commands do).
writer() {
	local w=$1 c=1 s=1 nsvc nchain
	nsvc=$(wc -l <"$T/svc.$w")
	nchain=$(wc -l <"$T/chain.$w")
	while [ "$s" -le "$nsvc" ] || [ "$c" -le "$nchain" ]; do
		sed -n "${s},$((s + 44))p" "$T/svc.$w" >"$T/b.$w"
		if [ -s "$T/b.$w" ]; then
			timeout 120 nsenter --net="/run/netns/$NS_L" "$LBCTL" -P "$ROOT" -b "$T/b.$w" ||
				return 1
		fi
		sed -n "${c},$((c + 4))p" "$T/chain.$w" >"$T/b.$w"
		if [ -s "$T/b.$w" ]; then
			timeout 120 nsenter --net="/run/netns/$NS_L" "$LBATTACH" -P "$ROOT" -b "$T/b.$w" ||
				return 1
		fi
		s=$((s + 45)) c=$((c + 5))
	done
}

@test "8 writers x 1,000 mixed operations: exactly the expected set, nothing lost, no deadlock" {
	local w pids=() start
	lbattach_l attach dev "$DEV_L"
	lbctl_l service add $SHARED port 80
	: >"$T/want.chain"
	echo "service add $SHARED port 80" >"$T/svc.0"
	for w in $(seq 1 "$WRITERS"); do
		ops "$w"
		assert_eq "$(cat "$T/svc.$w" "$T/chain.$w" | wc -l)" "$OPS" "writer $w operations"
	done
	start=$SECONDS
	for w in $(seq 1 "$WRITERS"); do
		LB_LOCK_TIMEOUT=120 writer "$w" >"$T/out.$w" 2>&1 &
		pids+=($!)
	done
	for w in $(seq 1 "$WRITERS"); do
		wait "${pids[w - 1]}" || { cat "$T/out.$w" >&2; false; }
	done
	echo "# $WRITERS writers x $OPS operations: $((SECONDS - start)) s" >&3
	lbctl_l save | grep -v '^#' | grep -v '^conntrack timeout' | sort >"$T/got"
	expect "$T"/svc.[0-9]* | sort >"$T/want"
	diff "$T/want" "$T/got" >&2
	assert_eq "$(wc -l <"$T/got")" "$(wc -l <"$T/want")" "lines of save"
	# Chains: lb and the last two elements of every writer, each linked and pinned.
	assert_eq "$(lbattach_l chain show dev "$DEV_L" hook tc-ingress | awk 'NR > 1 { print $2 }' |
		sort | tr '\n' ' ')" "$( (echo lb; cat "$T/want.chain") | sort | tr '\n' ' ')" "chain"
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress | wc -w)" $((2 * WRITERS + 1)) "tcx programs"
	assert_eq "$(find "$ROOT/chains" -mindepth 3 -printf '%f\n' | sort | tr '\n' ' ')" \
		"$(sort "$T/want.chain" | tr '\n' ' ')" "chain pins"
}

@test "LB_LOCK_TIMEOUT: a writer gives up after it with one line, exit 1, nothing changed" {
	local t0 secs
	lbattach_l attach dev "$DEV_L"
	lbctl_l save >"$T/before"
	mkfifo "$T/held" "$T/release"
	# Another writer: flock on the root directory, as liblb takes it.
	flock -x "$ROOT" sh -c "echo held >'$T/held'; read -r _ <'$T/release'" &
	lbt_add_pid $!
	read -r _ <"$T/held"
	for secs in 0 2; do
		t0=$SECONDS
		LB_LOCK_TIMEOUT=$secs run --separate-stderr timeout 30 \
			nsenter --net="/run/netns/$NS_L" "$LBCTL" -P "$ROOT" service add 198.19.0.1 port 80
		assert_status 1
		assert_err_line lbctl "locked by another writer"
		# it waited (about) the timeout, not the 30 s of the bound
		[ $((SECONDS - t0)) -ge "$secs" ] && [ $((SECONDS - t0)) -lt 20 ]
		LB_LOCK_TIMEOUT=$secs run --separate-stderr timeout 30 \
			nsenter --net="/run/netns/$NS_L" "$LBATTACH" -P "$ROOT" chain add dev "$DEV_L" \
			hook tc-ingress obj "$STAMP" sec stamp1_tc name x
		assert_status 1
		assert_err_line lbattach "locked by another writer"
	done
	echo >"$T/release"
	wait
	lbctl_l save | cmp - "$T/before"
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress | wc -w)" 1 "tcx programs"
	# The lock is free again: the same command works.
	lbctl_l service add 198.19.0.1 port 80
}
