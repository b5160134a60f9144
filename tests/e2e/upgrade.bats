#!/usr/bin/env bats
# lbattach upgrade: the programs of a running datapath are replaced while every map,
# conntrack included, every attachment and the sweep timer stay.  Long-lived TCP
# connections (tests/e2e/flows.py) and a numbered UDP stream (udpseq.py) run through
# a VIP across the upgrades; the second build of the datapath (make LB_CT_EXTRA=1,
# build/tests/alt/) adds a field to the conntrack value, so every other upgrade
# migrates lb_ct.

# shellcheck disable=SC2154 # status, output: set by bats' run
load lb_helpers

UDPSEQ=$LB_REPO/tests/e2e/udpseq.py
ALT=$LB_REPO/build/tests/alt/lb_datapath.bpf.o
MAIN=$LB_REPO/build/bpf/lb_datapath.bpf.o
BAD=$LB_REPO/build/tests/progs/upgrade_bad.bpf.o
STAMP=$LB_REPO/build/tests/progs/stamp.bpf.o
FOREIGN=$LB_REPO/build/tests/progs/foreign.bpf.o

teardown() {
	lb_teardown
}

# prog_ids: "IF HOOK PROG_ID" of every attachment.
prog_ids() {
	lbattach_l -j show | "$PY" -c 'import json,sys
for a in json.load(sys.stdin):
    print(a["ifname"], a["hook"], a["prog_id"])'
}

# ct_flows: every conntrack entry as "proto orig => nat dir service endpoint", sorted
# (state, age and timeout left out: they move on by themselves).
ct_flows() {
	lbctl_j conntrack show | json_get '"\n".join(sorted("%s %s:%s>%s:%s => %s:%s>%s:%s %s %s %s" % (
	    e["proto"], e["orig"]["src"], e["orig"]["sport"], e["orig"]["dst"], e["orig"]["dport"],
	    e["nat"]["src"], e["nat"]["sport"], e["nat"]["dst"], e["nat"]["dport"], e["dir"],
	    e["service_id"], e["endpoint_id"]) for e in j))'
}

# pins: the pin tree below the root, one path per line.
pins() {
	(cd "$ROOT" && find . | sort)
}

@test "upgrade: new programs on every hook; rules, conntrack and live connections kept" {
	lb_setup
	lb_flow_servers
	lb_service "$VIP4" 7000 7000
	lb_flow_client 30
	local before after saved
	before=$(prog_ids)
	saved=$(lbctl_l save)
	local gc_arm runs
	gc_arm=$(bpftool -j prog show pinned "$ROOT/progs/lb_gc_arm" | json_get 'j["id"]')
	run lbattach_l upgrade
	assert_status 0
	assert_eq "$output" "" "upgrade is quiet"
	# The sweep timer runs the new program's callback: the old program is freed,
	# and the sweep goes on.
	run bpftool prog show id "$gc_arm"
	[ "$status" -ne 0 ] || { echo "the old sweep program $gc_arm is still loaded" >&2; false; }
	runs=$(lbctl_j info | json_get 'j["gc"]["runs"]')
	for _ in $(seq 100); do
		[ "$(lbctl_j info | json_get 'j["gc"]["runs"]')" -gt "$runs" ] && break
		sleep 0.1
	done
	[ "$(lbctl_j info | json_get 'j["gc"]["runs"]')" -gt "$runs" ] ||
		{ echo "the sweep stopped after the upgrade (runs $runs)" >&2; false; }
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
	r=$(lb_flow_report)
	lb_assert_flows_kept "$r" 30
}

# chain_ids HOOK: "label prog_id" of each element of the chain on $DEV_L's HOOK.
chain_ids() {
	lbattach_l -j chain show dev "$DEV_L" hook "$1" |
		json_get '"\n".join("%s %s" % (e["label"], e["prog_id"]) for c in (j if isinstance(j, list) else [j]) for e in c.get("elements", c.get("chain", [])))'
}

@test "upgrade keeps the load balancer's place in XDP and tcx chains, and clsact filters" {
	lb_setup
	lb_flow_servers
	lb_service "$VIP4" 7000 7000
	# XDP chain on the client side: foreign program, then lb.
	lbattach_l chain add dev "$DEV_L" hook xdp obj "$FOREIGN" name f
	lbattach_l chain add dev "$DEV_L" hook xdp lb
	# tcx chain: a stamp program before lb.
	lbattach_l chain add dev "$DEV_L" hook tc-ingress obj "$STAMP" sec stamp1_tc name s first
	# clsact on one backend side.
	lbattach_l detach dev "${DEV_E[3]}" tc ingress
	lbattach_l attach dev "${DEV_E[3]}" tc ingress mode clsact
	# XDP on veth: senders checksum in full; XDP_REDIRECT into a veth needs GRO on
	# the receiving peer.
	local n
	lb_ns "$NS_C" ethtool -K "$DEV_C" tx off gro on >/dev/null
	for n in 1 2 3; do
		lb_ns "${NS_B[n]}" ethtool -K "${DEV_B[n]}" tx off gro on >/dev/null
	done
	lb_flow_client 30
	local xdp tc show_before
	xdp=$(chain_ids xdp)
	tc=$(chain_ids tc-ingress)
	show_before=$(prog_ids)
	assert_eq "$(echo "$xdp" | cut -d' ' -f1 | tr '\n' ' ')" "f lb " "the XDP chain"
	assert_eq "$(echo "$tc" | cut -d' ' -f1 | tr '\n' ' ')" "s lb " "the tcx chain"
	run lbattach_l upgrade
	assert_status 0
	# Same labels in the same order; lb runs a new program, the others the same.
	local h before after
	for h in xdp tc-ingress; do
		before=$([ $h = xdp ] && echo "$xdp" || echo "$tc")
		after=$(chain_ids $h)
		assert_eq "$(echo "$after" | cut -d' ' -f1)" "$(echo "$before" | cut -d' ' -f1)" "$h labels"
		assert_eq "$(echo "$after" | head -1)" "$(echo "$before" | head -1)" "$h first element"
		[ "$(echo "$after" | sed -n 2p)" != "$(echo "$before" | sed -n 2p)" ] ||
			{ echo "$h: lb still runs its old program" >&2; false; }
	done
	# The clsact record follows its filter: alive (not "gone"), on a new program.
	run lbattach_l show dev "${DEV_E[3]}"
	assert_status 0
	[[ $output != *gone* ]] || { echo "clsact record stale: $output" >&2; false; }
	[[ $output == *"mode clsact"* ]] || { echo "not clsact: $output" >&2; false; }
	[ "$(prog_ids | grep "^${DEV_E[3]} ")" != "$(echo "$show_before" | grep "^${DEV_E[3]} ")" ] ||
		{ echo "the clsact filter runs its old program" >&2; false; }
	local r
	r=$(lb_flow_report)
	assert_eq "$(json_get 'j["opened"]' <<<"$r")" 30 "connections opened"
	assert_eq "$(json_get 'j["reset"]' <<<"$r")" 0 "connections reset"
	assert_eq "$(json_get 'j["unfinished"]' <<<"$r")" 0 "connections without their last exchange"
}

@test "upgrade across a layout change: lb_ct migrated there and back, flows keep their endpoints" {
	lb_setup
	lb_flow_servers
	lb_service "$VIP4" 7000 7000
	lb_flow_client 30
	local flows r
	flows=$(ct_flows)
	[ "$(echo "$flows" | wc -l)" -eq 60 ] || { echo "expected 60 entries: $flows" >&2; false; }
	run --separate-stderr lbattach_l -s upgrade obj "$ALT"
	assert_status 0
	assert_eq "$(echo "$output" | grep -o 'maps-migrated [0-9]*')" "maps-migrated 1" "maps migrated"
	[ "$(echo "$output" | grep -o 'entries [0-9]*' | cut -d' ' -f2)" -ge 60 ] ||
		{ echo "entries carried: $output" >&2; false; }
	# The tools refuse the other layout, and say how to come back.
	run --separate-stderr lbctl_l conntrack count
	assert_status 1
	local abi
	abi=$("$LBATTACH" -V | sed -n 's/.*(abi \([0-9]*\))$/\1/p')
	assert_err_line lbctl "map layout version $((0x10000 | abi)), these tools use $abi;.*lbattach upgrade"
	run --separate-stderr lbattach_l -j -s upgrade obj "$MAIN"
	assert_status 0
	assert_eq "$(json_get 'j["maps_migrated"]' <<<"$output")" 1 "maps migrated (JSON)"
	[ "$(json_get 'j["entries"]' <<<"$output")" -ge 60 ] || { echo "JSON: $output" >&2; false; }
	assert_eq "$(ct_flows)" "$flows" "the conntrack entries after the round trip"
	r=$(lb_flow_report)
	lb_assert_flows_kept "$r" 30
}

@test "upgrade refuses a map it cannot migrate, naming it, and changes nothing" {
	lb_setup
	lbctl_l service add "$VIP4" port 80
	local ids tree saved
	ids=$(prog_ids)
	tree=$(pins)
	saved=$(lbctl_l save)
	run --separate-stderr lbattach_l upgrade obj "$BAD"
	assert_status 1
	assert_err_line lbattach "^lbattach: upgrade: map lb_ct: value field ep_id changed size: cannot migrate"
	assert_eq "$(prog_ids)" "$ids" "the attached programs"
	assert_eq "$(pins)" "$tree" "the pin tree"
	assert_eq "$(lbctl_l save)" "$saved" "the rule set"
}

@test "upgrade: usage and failures are one line, nothing changed" {
	lbt_setup
	lbt_topo
	run --separate-stderr lbattach_l upgrade
	assert_status 1
	assert_err_line lbattach "no datapath loaded here"
	run --separate-stderr lbattach_l upgrade obj
	assert_status 2
	assert_err_line lbattach "^lbattach: upgrade: obj: missing FILE$"
	run --separate-stderr lbattach_l upgrade obj a obj b
	assert_status 2
	assert_err_line lbattach "^lbattach: upgrade: obj: given twice$"
	run --separate-stderr lbattach_l upgrade now
	assert_status 2
	assert_err_line lbattach "^lbattach: upgrade: keyword 'now': expected one of obj$"
	lbattach_l attach dev "$DEV_L" tc
	run --separate-stderr lbattach_l upgrade obj "$T/nothing.o"
	assert_status 1
	assert_err_line lbattach "upgrade: .*nothing.o"
}

# udp_receivers N: udpseq.py receivers for N datagrams on port 9000 of every backend.
udp_receivers() {
	local n
	for n in 1 2 3; do
		lb_ns "${NS_B[n]}" "$PY" "$UDPSEQ" recv 0.0.0.0 9000 --count "$1" --timeout 20 \
			--max-time 250 --out "$T/udp.b$n.json" --ready "$T/udp.b$n.ready" \
			</dev/null >/dev/null 2>&1 3>&- &
		lbt_add_pid $!
	done
	for n in 1 2 3; do
		for _ in $(seq 50); do
			[ -e "$T/udp.b$n.ready" ] && break
			sleep 0.1
		done
		[ -e "$T/udp.b$n.ready" ] || { echo "udp receiver b$n not ready" >&2; return 1; }
	done
}

# queue_drops: packets the kernel's queues dropped on the way to the backends: the
# load balancer's backlog the client's packets go into (tx dropped of the client's
# veth), the veth rings XDP redirects into (xdp_xmit_errors of the LB's side), the
# backlog tc redirects into (tx dropped) and the backends' socket buffers.  On a loaded 2-CPU
# machine a program switch (the verifier's CPU time) can starve the softirq that
# drains them.
queue_drops() {
	local n d
	# the client's hop into the load balancer: a full backlog there counts as the
	# client veth's transmit drop
	d=$(ip -n "$NS_C" -j -s link show dev "$DEV_C" | json_get 'j[0]["stats64"]["tx"]["dropped"]')
	for n in 1 2 3; do
		d=$((d + $(lb_ns "$NS_L" ethtool -S "${DEV_E[n]}" |
			awk '/xdp_xmit_errors/ { s += $2 } END { print s + 0 }')))
		d=$((d + $(ip -n "$NS_L" -j -s link show dev "${DEV_E[n]}" |
			json_get 'j[0]["stats64"]["tx"]["dropped"]')))
		d=$((d + $(lb_ns "${NS_B[n]}" nstat -asz UdpRcvbufErrors |
			awk '/UdpRcvbufErrors/ { s += $2 } END { print s + 0 }')))
	done
	echo "$d"
}

# lb_drop_total: every packet lbkit dropped, all reasons.
lb_drop_total() {
	lbctl_j stats drops | json_get 'sum(v["packets"] for v in j.values())'
}

# upgrade_storm N: 1000 talking connections and a numbered UDP stream through the
# VIPs while N upgrades alternate between the builds; lbkit may lose nothing (a
# datagram the kernel's queues dropped is counted there, and told).
upgrade_storm() {
	local rounds=$1 count=12000 i obj n r tcp_flows q0 d0
	lb_flow_servers
	lb_service "$VIP4" 7000 7000
	lb_service "$VIP4" 9000 9000 proto udp
	udp_receivers $count
	lb_flow_client 1000
	tcp_flows=$(ct_flows | grep ':7000 ')
	q0=$(queue_drops)
	d0=$(lb_drop_total)
	# 12000 datagrams at 400/s: the stream spans the upgrades.
	lb_ns "$NS_C" "$PY" "$UDPSEQ" send "$VIP4" 9000 --count $count --rate 400 \
		--src-port 40000 </dev/null >"$T/udp.send" 2>&1 3>&- &
	local send_pid=$!
	lbt_add_pid $send_pid
	local t0=$SECONDS
	for ((i = 1; i <= rounds; i++)); do
		obj=$MAIN
		[ $((i % 2)) = 1 ] && obj=$ALT
		lbattach_l upgrade obj "$obj" || { echo "upgrade $i to $obj failed" >&2; return 1; }
	done
	echo "# $rounds upgrades in $((SECONDS - t0)) s" >&3
	# The stream was still flowing when the last upgrade finished (else it did
	# not cover them all: 30 s should be ample).
	lb__alive "$send_pid" || { echo "the UDP stream ended before the upgrades" >&2; return 1; }
	assert_eq "$(ct_flows | grep ':7000 ')" "$tcp_flows" "the TCP flows' conntrack entries"
	r=$(lb_flow_report)
	echo "# tcp: $r" >&3
	lb_assert_flows_kept "$r" 1000
	for _ in $(seq 600); do
		lb__alive "$send_pid" || break
		sleep 0.1
	done
	# One flow: every datagram at one backend, none lost, none out of order.
	local got=0 at=0 lost=0 reord=0 dup=0
	for n in 1 2 3; do
		for _ in $(seq 300); do
			[ -s "$T/udp.b$n.json" ] && break
			sleep 0.1
		done
		r=$(cat "$T/udp.b$n.json")
		echo "# udp b$n: $(json_get '{k: j[k] for k in ("received", "missing_count", "reordered", "duplicates")}' <<<"$r")" >&3
		[ "$(json_get 'j["received"]' <<<"$r")" -gt 0 ] && at=$((at + 1))
		got=$((got + $(json_get 'j["received"]' <<<"$r")))
		reord=$((reord + $(json_get 'j["reordered"]' <<<"$r")))
		dup=$((dup + $(json_get 'j["duplicates"]' <<<"$r")))
	done
	lost=$((count - got))
	local queued=$(($(queue_drops) - q0))
	echo "# udp: $lost of $count lost; the kernel's queues dropped $queued packets (TCP or UDP)" >&3
	assert_eq "$at" 1 "backends the UDP flow reached"
	assert_eq "$(($(lb_drop_total) - d0))" 0 "packets lbkit dropped"
	[ "$lost" -le "$queued" ] || {
		echo "$lost datagrams lost, more than the $queued the kernel's queues dropped" >&2
		false
	}
	assert_eq "$reord" 0 "datagrams reordered"
	assert_eq "$dup" 0 "datagrams duplicated"
}

@test "20 upgrades alternating builds under 1000 connections and a UDP stream, tc" {
	lb_setup
	upgrade_storm 20
}

@test "20 upgrades alternating builds under 1000 connections and a UDP stream, XDP and tc" {
	lb_setup
	lb_attach_xdp
	upgrade_storm 20
	# XDP served packets all along (the fast path survived the upgrades).
	[ "$(lbt_ctr "${DEV_E[1]}" xdp tcp packets)" -gt 0 ] ||
		[ "$(lbt_ctr "${DEV_E[2]}" xdp tcp packets)" -gt 0 ] ||
		{ echo "no TCP packet went through XDP" >&2; false; }
}
