#!/usr/bin/env bats
# lbattach upgrade: the programs of a running datapath are replaced while every map,
# conntrack included, every attachment and the sweep timer stay.  Long-lived TCP
# connections (tests/e2e/flows.py) and a numbered UDP stream (udpseq.py) run through
# a VIP across the upgrades; the second build of the datapath (make LB_CT_EXTRA=1,
# build/tests/alt/) adds a field to the conntrack value, so every other upgrade
# migrates lb_ct.

# shellcheck disable=SC2154 # status, output: set by bats' run
load lb_helpers

FLOWS=$LB_REPO/tests/e2e/flows.py
UDPSEQ=$LB_REPO/tests/e2e/udpseq.py
ALT=$LB_REPO/build/tests/alt/lb_datapath.bpf.o
MAIN=$LB_REPO/build/bpf/lb_datapath.bpf.o
BAD=$LB_REPO/build/tests/progs/upgrade_bad.bpf.o

teardown() {
	lb_teardown
}

# flow_servers: flows.py on [::]:7000 in every backend, answering with its name.
flow_servers() {
	local n
	for n in 1 2 3; do
		lb_ns "${NS_B[n]}" "$PY" "$FLOWS" serve 7000 "b$n" --max-time 300 \
			</dev/null >"$T/serve.b$n.log" 2>&1 3>&- &
		lbt_add_pid $!
	done
	for n in 1 2 3; do
		lbt_wait_listen "${NS_B[n]}" 7000 || return 1
	done
}

# flow_client N: N connections to VIP4:7000 talking every 100 ms, until $T/stop;
# returns once all are open.  Report in $T/flows.json.
flow_client() {
	rm -f "$T/stop" "$T/ready"
	lb_ns "$NS_C" "$PY" "$FLOWS" client "$VIP4" 7000 --count "$1" --interval 0.1 \
		--stop "$T/stop" --out "$T/flows.json" --ready "$T/ready" --max-time 280 \
		</dev/null 2>"$T/flows.err" 3>&- &
	FLOW_PID=$!
	lbt_add_pid $FLOW_PID
	for _ in $(seq 600); do
		[ -e "$T/ready" ] && return 0
		lb__alive "$FLOW_PID" || break
		sleep 0.1
	done
	echo "the flows client did not get its connections open" >&2
	cat "$T/flows.err" >&2
	return 1
}

# flow_report: stop the client, wait for its report (it makes its last exchanges
# within 10 s), print it.  Polls: a $(...) subshell cannot wait for our child.
flow_report() {
	touch "$T/stop"
	for _ in $(seq 300); do
		lb__alive "$FLOW_PID" || break
		sleep 0.1
	done
	cat "$T/flows.json" || { cat "$T/flows.err" >&2; return 1; }
}

# prog_ids: "IF HOOK PROG_ID" of every attachment.
prog_ids() {
	lbattach_l -j show | "$PY" -c 'import json,sys
for a in json.load(sys.stdin):
    print(a["ifname"], a["hook"], a["prog_id"])'
}

# ct_flows: "flow -> endpoint" of every forward conntrack entry, sorted.
ct_flows() {
	lbctl_j conntrack show |
		json_get '"\n".join(sorted(json.dumps(e["key"] if "key" in e else e, sort_keys=True)[:0] + str(e) for e in j if e["dir"] == "forward"))'
}

@test "upgrade: new programs on every hook; rules, conntrack and live connections kept" {
	lb_setup
	flow_servers
	lb_service "$VIP4" 7000 7000
	flow_client 30
	local before after saved
	before=$(prog_ids)
	saved=$(lbctl_l save)
	lbctl_l -j conntrack show >"$T/ct.before"
	run lbattach_l upgrade
	assert_status 0
	assert_eq "$output" "" "upgrade is quiet"
	after=$(prog_ids)
	assert_eq "$(echo "$after" | cut -d' ' -f1,2)" "$(echo "$before" | cut -d' ' -f1,2)" \
		"the attachments"
	# every hook runs a program it did not run before, and the old ones are gone
	local old
	for old in $(echo "$before" | cut -d' ' -f3); do
		if echo "$after" | cut -d' ' -f3 | grep -qx "$old"; then
			echo "program $old still attached" >&2
			false
		fi
		run bpftool prog show id "$old"
		[ "$status" -ne 0 ] || { echo "old program $old still loaded" >&2; false; }
	done
	assert_eq "$(lbctl_l save)" "$saved" "the rule set"
	local r
	r=$(flow_report)
	assert_eq "$(json_get 'j["opened"]' <<<"$r")" 30 "connections opened"
	assert_eq "$(json_get 'j["reset"]' <<<"$r")" 0 "connections reset"
	assert_eq "$(json_get 'j["mismatched"]' <<<"$r")" 0 "echoes mismatched"
	assert_eq "$(json_get 'j["unfinished"]' <<<"$r")" 0 "connections without their last exchange"
}
