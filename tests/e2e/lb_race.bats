#!/usr/bin/env bats
# Many clients at once: the first packets of hundreds of flows reach the LB together
# (tests/e2e/flows.py opens them all without waiting), so the new-flow path runs on
# both CPUs at the same time.  Every connection must be answered by one backend, and
# once all are closed every endpoint's active count (what lc balances on) must be
# exactly 0 again.  The same race at the packet level, thousands of times, is
# tests/datapath/race_test.c.

# shellcheck disable=SC2154 # status, output: set by bats' run
load lb_helpers

FLOWS=$LB_REPO/tests/e2e/flows.py

setup() {
	lb_setup flow
}

teardown() {
	lb_teardown
}

# actives: the endpoints' active counts, one line "addr active".
actives() {
	lbctl_j -s endpoint show service "$VIP4" port 7000 |
		json_get '"\n".join("%s %s" % (e["endpoint"]["address"], e["endpoint"]["stats"]["active"]) for e in j)'
}

# burst N: N connections at once, each exchanging one line, then all closed.
burst() {
	local r
	touch "$T/stop"
	lb_ns "$NS_C" timeout 120 "$PY" "$FLOWS" client "$VIP4" 7000 --count "$1" \
		--interval 0.05 --stop "$T/stop" --out "$T/burst.json" --max-time 60
	r=$(cat "$T/burst.json")
	assert_eq "$(json_get 'j["opened"]' <<<"$r")" "$1" "connections opened"
	assert_eq "$(json_get 'j["reset"]' <<<"$r")" 0 "connections reset"
	assert_eq "$(json_get 'j["unfinished"]' <<<"$r")" 0 "connections without their exchange"
}

# wait_idle: every endpoint's active count reaches 0 (FINs go through after the
# client closed; at most 10 s), and none is below.
wait_idle() {
	local a
	for _ in $(seq 100); do
		a=$(actives)
		! grep -qv ' 0$' <<<"$a" && return 0
		sleep 0.1
	done
	echo "active counts stay: $a" >&2
	return 1
}

@test "300 connections at once through lc, DNAT: all answered, active back to 0" {
	lb_service "$VIP4" 7000 7000 sched lc
	burst 300
	wait_idle
	burst 300
	wait_idle
}

@test "300 connections at once through rr, full NAT: all answered, active back to 0" {
	lb_service "$VIP4" 7000 7000 sched rr mode fullnat snat "$L4"
	burst 300
	wait_idle
}
