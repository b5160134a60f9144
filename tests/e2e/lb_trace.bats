#!/usr/bin/env bats
# lbctl trace: a packet described on the command line, run through a private instance
# of the datapath (BPF_PROG_TEST_RUN), against what real traffic does; and trace
# changes nothing live.  Topology and servers: lb_helpers.bash.

load lb_helpers

teardown() {
	lb_teardown
}

# trace_j ARGS...: the JSON object of "lbctl -j trace ARGS"; fails when trace fails.
trace_j() {
	lbctl_j trace "$@"
}

# trace_get EXPR ARGS...: one value (python expression over j) of a JSON trace.
trace_get() {
	local expr=$1
	shift
	trace_j "$@" | json_get "$expr"
}

# ep_name ADDR: the backend at ADDR (198.18.N.2 or 2001:db8:N::2) as its server calls
# itself, bN.
ep_name() {
	case $1 in
	198.18.[123].2) local n=${1#198.18.}; echo "b${n%.2}" ;;
	2001:db8:[123]::2) local n=${1#2001:db8:}; echo "b${n%%::2}" ;;
	*) echo "not-a-backend:$1" ;;
	esac
}

# assert_line TEXT LINE: TEXT (several lines) holds exactly the line LINE.
assert_line() {
	if ! grep -qxF -- "$2" <<<"$1"; then
		echo "no line '$2' in:" >&2
		echo "$1" >&2
		return 1
	fi
}

# assert_no_line TEXT REGEX: no line of TEXT matches REGEX.
assert_no_line() {
	if grep -qE -- "$2" <<<"$1"; then
		echo "unexpected line /$2/ in:" >&2
		echo "$1" >&2
		return 1
	fi
}

# drops_of REASON: packets counted for a drop reason (lbctl -j stats drops).
drops_of() {
	lbctl_j stats drops | json_get "j['$1']['packets']"
}

# perm_neighbors: every IPv4 neighbour of the topology permanent, both ways, so that no
# ARP packet reaches the datapath while a test compares counters.
perm_neighbors() {
	local n mc ml mb me
	mc=$(lbt_mac "$NS_C" "$DEV_C") && ml=$(lbt_mac "$NS_L" "$DEV_L") || return 1
	ip -n "$NS_C" neigh replace "$L4" lladdr "$ml" dev "$DEV_C" nud permanent || return 1
	ip -n "$NS_L" neigh replace "$C4" lladdr "$mc" dev "$DEV_L" nud permanent || return 1
	for n in 1 2 3; do
		mb=$(lbt_mac "${NS_B[n]}" "${DEV_B[n]}") && me=$(lbt_mac "$NS_L" "${DEV_E[n]}") ||
			return 1
		ip -n "${NS_B[n]}" neigh replace "$(e_ip4 $n)" lladdr "$me" dev "${DEV_B[n]}" \
			nud permanent || return 1
		ip -n "$NS_L" neigh replace "$(b_ip4 $n)" lladdr "$mb" dev "${DEV_E[n]}" \
			nud permanent || return 1
	done
}

# The live state trace must leave alone, as bpftool dumps it (map by map).
TRACE_MAPS="lb_ct lb_ep_nh lb_drops lb_svc_stats lb_ep_stats lb_if_stats lb_if_ctr lb_svc_state lb_ep_state
	lb_affinity lb_services lb_endpoints lb_config"
# dump_maps [MAPS]: default TRACE_MAPS.
dump_maps() {
	local m
	for m in ${1:-$TRACE_MAPS}; do
		echo "== $m"
		bpftool -j map dump pinned "$ROOT/maps/$m" 2>&1
		echo
	done
}

@test "one endpoint: trace of a SYN says new flow, NAT to it, redirect; curl reaches it" {
	lb_setup http
	lbctl_l service add "$VIP4" port 80
	lbctl_l endpoint add "$(b_ip4 2)" port 8080 service "$VIP4" port 80
	local out id
	id=$(lbctl_j service show | json_get 'j[0]["id"]')
	out=$(lbctl_l trace dev "$DEV_L" tcp "$C4:40000" '>' "$VIP4:80" syn)
	assert_line "$out" "packet  tcp $C4:40000 > $VIP4:80 syn len 74 dev $DEV_L tc-ingress"
	assert_line "$out" "parse   ipv4 tcp"
	assert_line "$out" "conntrack miss"
	assert_line "$out" "service $VIP4:80 tcp id $id sched rr mode dnat"
	assert_eq "$(grep -c '^endpoint ' <<<"$out")" 1 "endpoint lines in: $out"
	grep -qE "^endpoint $(b_ip4 2):8080 id [0-9]+ \(new flow\)$" <<<"$out" || {
		echo "no new flow to $(b_ip4 2):8080 in: $out" >&2
		false
	}
	assert_line "$out" "nat     tcp $C4:40000 > $(b_ip4 2):8080 ttl 63"
	assert_line "$out" "verdict redirect (forwarded)"
	assert_no_line "$out" "^(drop|note) "
	# The same in JSON, with the device found by itself (where the client's packets
	# come in: the route toward the source).
	local json
	json=$(trace_j tcp "$C4:40000" to "$VIP4:80")
	"$PY" - "$json" "$DEV_L" "$(b_ip4 2)" "$C4" <<'EOF'
import json, sys
j, dev, ep, c = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
assert j["packet"]["dev"] == dev and j["packet"]["attached"], j["packet"]
assert j["packet"]["flags"] == ["syn"], j["packet"]
assert j["conntrack"] == {"result": "miss"}, j["conntrack"]
assert j["service"]["sched"] == "rr" and j["service"]["mode"] == "dnat", j["service"]
assert j["endpoint"]["address"] == ep and j["endpoint"]["port"] == 8080, j["endpoint"]
assert j["endpoint"]["new_flow"] is True, j["endpoint"]
assert j["nat"] == {"proto": "tcp", "src": c, "sport": 40000, "dst": ep, "dport": 8080,
                    "ttl": 63}, j["nat"]
assert "drop" not in j and j["notes"] == [], j
assert j["verdict"] == "redirect" and j["retval"] == 7, j
EOF
	# Real traffic: served by that endpoint.
	assert_eq "$(lb_curl "http://$VIP4/")" b2 "curl through the VIP"
}

@test "hash and maglev: trace's endpoint for a client is the one real traffic reaches" {
	lb_setup http
	lb_service "$VIP4" 80 8080 sched hash
	lb_service "$VIP4" 81 8080 sched maglev
	local a got want seen=""
	# hash: the source address decides; four client addresses.
	for a in 198.18.0.71 198.18.0.72 198.18.0.73 198.18.0.74; do
		ip -n "$NS_C" addr add "$a/24" dev "$DEV_C" nodad
	done
	for a in "$C4" 198.18.0.71 198.18.0.72 198.18.0.73 198.18.0.74; do
		want=$(ep_name "$(trace_get 'j["endpoint"]["address"]' tcp "$a:40000" '>' "$VIP4:80")")
		got=$(lb_curl "http://$VIP4/" --interface "$a")
		assert_eq "$got" "$want" "hash: endpoint of $a (trace said $want)"
		seen="$seen $got"
	done
	# maglev: the 5-tuple decides; the client's source port is chosen.
	local p
	for p in 41001 41002 41003 41004 41005 41006; do
		want=$(ep_name "$(trace_get 'j["endpoint"]["address"]' tcp "$C4:$p" '>' "$VIP4:81")")
		got=$(lb_curl "http://$VIP4:81/" --local-port "$p")
		assert_eq "$got" "$want" "maglev: endpoint of $C4:$p (trace said $want)"
		seen="$seen $got"
	done
	# Not all on one endpoint (else the comparison proves little).
	if [ "$(tr ' ' '\n' <<<"$seen" | grep . | sort -u | wc -l)" -lt 2 ]; then
		echo "every flow went to one endpoint: $seen" >&2
		false
	fi
}

@test "drops: all endpoints down -> no-endpoint; source outside allow -> not-allowed" {
	lb_setup http
	lb_service "$VIP4" 80 8080
	local n out
	for n in 1 2 3; do
		lbctl_l endpoint set "$(b_ip4 $n)" port 8080 state down service "$VIP4" port 80
	done
	out=$(lbctl_l trace tcp "$C4:40000" '>' "$VIP4:80")
	assert_line "$out" "conntrack miss"
	assert_line "$out" "drop    no-endpoint"
	assert_line "$out" "verdict drop"
	assert_no_line "$out" "^(endpoint|nat) "
	assert_eq "$(trace_get 'j["drop"]' tcp "$C4:40000" '>' "$VIP4:80")" no-endpoint "JSON drop"
	# trace counted nothing.
	assert_eq "$(drops_of no-endpoint)" 0 "no-endpoint drops after trace"
	# Real traffic fails, and the datapath counts it as trace said.
	if lb_curl "http://$VIP4/" --connect-timeout 2 >/dev/null 2>&1; then
		echo "curl through a VIP without endpoints succeeded" >&2
		false
	fi
	if [ "$(drops_of no-endpoint)" -lt 1 ]; then
		echo "no no-endpoint drop counted after real traffic" >&2
		false
	fi

	# allow: the client is outside.
	lbctl_l service add "$VIP4" port 81 allow 198.18.5.0/24
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 81
	out=$(lbctl_l trace tcp "$C4:40000" '>' "$VIP4:81")
	assert_line "$out" "drop    not-allowed"
	assert_line "$out" "verdict drop"
	assert_eq "$(drops_of not-allowed)" 0 "not-allowed drops after trace"
	if lb_curl "http://$VIP4:81/" --connect-timeout 2 >/dev/null 2>&1; then
		echo "curl from outside the allow list succeeded" >&2
		false
	fi
	if [ "$(drops_of not-allowed)" -lt 1 ]; then
		echo "no not-allowed drop counted after real traffic" >&2
		false
	fi
	# A source inside the list: allowed, a new flow.
	out=$(lbctl_l trace tcp 198.18.5.9:40000 '>' "$VIP4:81")
	assert_no_line "$out" "^drop "
	assert_line "$out" "verdict redirect (forwarded)"
}

@test "established flow: trace of an ACK hits conntrack, same endpoint, both directions" {
	lb_setup echo
	lb_service "$VIP4" 7000 7000 sched rr
	lb_hold "$VIP4" 7000
	lb_hold_wait_lines 1
	local held n sport out
	held=$(sed -n 1p "$T/hold.out")
	case $held in b[123]) ;; *) echo "held connection: greeting '$held'" >&2; false ;; esac
	n=${held#b}
	sport=$(lbctl_j conntrack show |
		json_get '[e["orig"]["sport"] for e in j if e["dir"] == "forward"][0]')
	out=$(lbctl_l trace dev "$DEV_L" tcp "$C4:$sport" '>' "$VIP4:7000" ack)
	grep -qE "^conntrack hit forward state established idle [0-9.]+s service [0-9]+ endpoint [0-9]+$" <<<"$out" || {
		echo "no conntrack hit in: $out" >&2
		false
	}
	grep -qE "^endpoint $(b_ip4 "$n"):7000 id [0-9]+ \(tracked flow\)$" <<<"$out" || {
		echo "not the held endpoint $held in: $out" >&2
		false
	}
	assert_line "$out" "nat     tcp $C4:$sport > $(b_ip4 "$n"):7000 ttl 63"
	assert_line "$out" "verdict redirect (forwarded)"
	# The endpoint's answer, on the endpoint's side: the reply entry.
	out=$(lbctl_l trace dev "${DEV_E[n]}" tcp "$(b_ip4 "$n"):7000" '>' "$C4:$sport" ack)
	grep -qE "^conntrack hit reply state established " <<<"$out" || {
		echo "no reply hit in: $out" >&2
		false
	}
	assert_line "$out" "nat     tcp $VIP4:7000 > $C4:$sport ttl 63"
	# On XDP: the fast path takes the established flow.
	out=$(lbctl_l trace dev "$DEV_L" hook xdp tcp "$C4:$sport" '>' "$VIP4:7000" ack)
	grep -qE "^conntrack hit forward state established " <<<"$out" || {
		echo "no conntrack hit on xdp in: $out" >&2
		false
	}
	assert_line "$out" "nat     tcp $C4:$sport > $(b_ip4 "$n"):7000 ttl 63"
	assert_line "$out" "verdict redirect (forwarded)"
	# The held connection still works: trace touched nothing of it.
	lb_hold_send one
	lb_hold_wait_lines 2
	assert_eq "$(sed -n 2p "$T/hold.out")" one "echo on the held connection"
}

@test "not ours: a destination that is no service, and ICMP echo, continue" {
	lb_setup http
	lb_service "$VIP4" 80 8080
	local out
	out=$(lbctl_l trace tcp "$C4:40000" '>' 198.19.0.99:80)
	assert_line "$out" "conntrack miss"
	assert_line "$out" "service none at 198.19.0.99:80 tcp"
	assert_line "$out" "verdict continue (not ours: the next program and the stack)"
	assert_no_line "$out" "^(endpoint|nat|drop) "
	# The VIP on another port, or UDP: no service either.
	out=$(lbctl_l trace udp "$C4:40000" to "$VIP4:80")
	assert_line "$out" "service none at $VIP4:80 udp"
	assert_eq "$(trace_get 'j["verdict"]' tcp "$C4" to "$VIP4:8080")" continue "VIP port 8080"
	# ICMP echo to the LB's address: not ours; the stack answers real pings.
	out=$(lbctl_l trace icmp "$C4" '>' "$L4")
	assert_line "$out" "packet  icmp $C4 > $L4 echo request len 98 dev $DEV_L tc-ingress"
	assert_line "$out" "parse   ipv4 icmp"
	assert_line "$out" "verdict continue (not ours: the next program and the stack)"
	lbt_ping "$NS_C" "$L4" 2
	# And real TCP to the non-VIP address goes to the stack: nothing listens, refused.
	if lb_curl "http://$L4:80/" --connect-timeout 2 >/dev/null 2>&1; then
		echo "curl to $L4:80 succeeded" >&2
		false
	fi
	assert_eq "$(lb_ct_flows)" 0 "flows after traffic that is not ours"
}

@test "IPv6 TCP, UDP over IPv4 and IPv6, full NAT: trace agrees with real traffic" {
	lb_setup http udp
	lbctl_l service add "$VIP6" port 80
	lbctl_l endpoint add "$(b_ip6 1)" port 8080 service "$VIP6" port 80
	local out
	out=$(lbctl_l trace tcp "[$C6]:40000" '>' "[$VIP6]:80" syn)
	assert_line "$out" "packet  tcp [$C6]:40000 > [$VIP6]:80 syn len 94 dev $DEV_L tc-ingress"
	assert_line "$out" "parse   ipv6 tcp"
	grep -qE "^endpoint \[$(b_ip6 1)\]:8080 id [0-9]+ \(new flow\)$" <<<"$out" || {
		echo "no new flow to [$(b_ip6 1)]:8080 in: $out" >&2
		false
	}
	assert_line "$out" "nat     tcp [$C6]:40000 > [$(b_ip6 1)]:8080 ttl 63"
	assert_line "$out" "verdict redirect (forwarded)"
	assert_eq "$(lb_curl "http://[$VIP6]/" -g)" b1 "curl through the IPv6 VIP"

	# UDP, IPv4 and IPv6, one endpoint each; the description as one word, with "to".
	lbctl_l service add "$VIP4" port 9000 proto udp
	lbctl_l endpoint add "$(b_ip4 3)" port 9000 service "$VIP4" port 9000 proto udp
	lbctl_l service add "$VIP6" port 9000 proto udp
	lbctl_l endpoint add "$(b_ip6 2)" port 9000 service "$VIP6" port 9000 proto udp
	out=$(lbctl_l trace "udp $C4:40000 to $VIP4:9000")
	assert_line "$out" "packet  udp $C4:40000 > $VIP4:9000 len 48 dev $DEV_L tc-ingress"
	assert_line "$out" "nat     udp $C4:40000 > $(b_ip4 3):9000 ttl 63"
	assert_line "$out" "verdict redirect (forwarded)"
	assert_eq "$(lb_udp_py "$VIP4" 9000)" b3 "UDP answer through the IPv4 VIP"
	out=$(lbctl_l trace udp "[$C6]:40000" to "[$VIP6]:9000")
	assert_line "$out" "nat     udp [$C6]:40000 > [$(b_ip6 2)]:9000 ttl 63"
	assert_eq "$(ep_name "$(trace_get 'j["endpoint"]["address"]' udp "[$C6]:40000" to "[$VIP6]:9000")")" \
		"$(lb_udp_py "$VIP6" 9000)" "UDP IPv6: trace's endpoint and the answer"
	# ICMPv6 echo: not ours.
	out=$(lbctl_l trace icmp "$C6" '>' "$VIP6")
	assert_line "$out" "parse   ipv6 icmpv6"
	assert_line "$out" "verdict continue (not ours: the next program and the stack)"

	# Full NAT: the source becomes the LB's address toward the endpoint, on a port of
	# the range, which is one draw.
	lbctl_l service add "$VIP4" port 80 mode fullnat
	lbctl_l endpoint add "$(b_ip4 3)" port 8080 service "$VIP4" port 80
	local json
	json=$(trace_j tcp "$C4:40000" '>' "$VIP4:80")
	"$PY" - "$json" "$(e_ip4 3)" "$(b_ip4 3)" <<'EOF'
import json, sys
j, lb, ep = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
n = j["nat"]
assert n["src"] == lb and n["dst"] == ep and n["dport"] == 8080, n
assert 32768 <= n["sport"] <= 60999, n
assert j["service"]["mode"] == "fullnat", j["service"]
assert "full NAT source port: trace's is one draw" in j["notes"], j["notes"]
assert j["verdict"] == "redirect", j
EOF
	assert_eq "$(lb_curl "http://$VIP4/")" b3 "curl through the full NAT VIP"
}

@test "trace commits nothing: every live map is the same before and after" {
	lb_setup http
	perm_neighbors
	lbctl_l conntrack timeout set tcp-syn 3600 tcp-est 3600 tcp-fin 3600 udp 3600
	lb_service "$VIP4" 80 8080 sched rr persist 600
	lb_service "$VIP4" 81 8080 sched lc
	lb_service "$VIP4" 82 8080 sched random
	lbctl_l service add "$VIP4" port 83
	lbctl_l service add "$VIP4" port 84 mode fullnat
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 84
	# Some state: flows, counters, an affinity entry, an rr cursor, a drop.
	lb_curls 2 "http://$VIP4/" >/dev/null
	lb_curls 2 "http://$VIP4:81/" >/dev/null
	lb_curl "http://$VIP4:83/" --connect-timeout 1 >/dev/null 2>&1 || true
	local sport
	sport=$(lbctl_j conntrack show |
		json_get '[e["orig"]["sport"] for e in j if e["dir"] == "forward" and e["orig"]["dport"] == 80][0]')
	local d
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		lbt_wait_quiet "$NS_L" "$d"
	done
	local before after
	before=$(dump_maps)
	# New flows of every scheduler, a tracked flow (its FIN would close it), drops,
	# not ours, UDP, ICMP, IPv6, XDP.
	lbctl_l trace tcp "$C4:40000" '>' "$VIP4:80" syn >/dev/null
	lbctl_l trace tcp "$C4:40001" '>' "$VIP4:81" syn >/dev/null
	lbctl_l trace tcp "$C4:40002" '>' "$VIP4:82" syn >/dev/null
	lbctl_l trace tcp "$C4:40003" '>' "$VIP4:83" syn >/dev/null
	lbctl_l trace tcp "$C4:40004" '>' "$VIP4:84" syn >/dev/null
	lbctl_l trace tcp "$C4:$sport" '>' "$VIP4:80" fin ack >/dev/null
	lbctl_l trace tcp "$C4:$sport" '>' "$VIP4:80" rst >/dev/null
	lbctl_l trace tcp 198.18.9.9:40000 '>' "$VIP4:80" >/dev/null
	lbctl_l trace udp "$C4:40000" to "$VIP4:80" >/dev/null
	lbctl_l trace icmp "$C4" to "$VIP4" >/dev/null
	lbctl_l trace tcp "[$C6]:40000" to "[$VIP6]:80" >/dev/null
	lbctl_l trace hook xdp tcp "$C4:$sport" '>' "$VIP4:80" ack >/dev/null
	lbctl_l trace dev "${DEV_E[1]}" hook xdp tcp "$(b_ip4 1):8080" '>' "$C4:$sport" ack >/dev/null
	after=$(dump_maps)
	if [ "$after" != "$before" ]; then
		echo "the live maps changed:" >&2
		diff <(echo "$before") <(echo "$after") >&2
		false
	fi
	# And the traces did see that state: the tracked flow is a hit.
	assert_eq "$(trace_get 'j["conntrack"]["result"]' tcp "$C4:$sport" '>' "$VIP4:80" ack)" hit \
		"conntrack result of the tracked flow"
}

@test "bad input: one line, exit 2, nothing changed" {
	lb_setup
	lb_service "$VIP4" 80 8080
	BEFORE=$(lb_maps_state)
	BEFORE_DETAIL=$(lb_maps_detail)
	# (Not lb_if_stats: the kernel's own IPv6 packets may still arrive.)
	local maps="lb_ct lb_drops lb_svc_stats lb_ep_stats lb_svc_state lb_ep_state lb_affinity"
	local maps_before
	maps_before=$(dump_maps "$maps")
	lb_rejected 2 "missing packet description" trace
	lb_rejected 2 "keyword 'foo': expected one of dev, hook, tcp, udp, icmp" trace foo "$C4" '>' "$VIP4:80"
	lb_rejected 2 "source 'not-an-address': not an address" trace tcp not-an-address '>' "$VIP4:80"
	lb_rejected 2 "destination '1.2.3': not an address" trace tcp "$C4" '>' 1.2.3:80
	lb_rejected 2 "keyword 'syx': expected one of" trace tcp "$C4:40000" '>' "$VIP4:80" syx
	lb_rejected 2 "missing '>' \(or 'to'\)" trace tcp "$C4:40000"
	lb_rejected 2 "'$VIP4:80': expected '>' or 'to'" trace tcp "$C4:40000" "$VIP4:80"
	lb_rejected 2 "'from': expected '>' or 'to'" trace tcp "$C4:40000" from "$VIP4:80"
	lb_rejected 2 "destination port '70000': expected a number from 1 to 65535" \
		trace tcp "$C4:40000" '>' "$VIP4:70000"
	lb_rejected 2 "source port '0': expected a number from 1 to 65535" \
		trace tcp "$C4:0" '>' "$VIP4:80"
	lb_rejected 2 "missing destination port" trace udp "$C4:40000" '>' "$VIP4"
	lb_rejected 2 "icmp has no ports" trace icmp "$C4:1" '>' "$VIP4"
	lb_rejected 2 "syn: TCP flags go with tcp only" trace udp "$C4:1" '>' "$VIP4:53" syn
	lb_rejected 2 "different families" trace tcp "$C4:1" '>' "[$VIP6]:80"
	lb_rejected 2 "hook 'tc-egress': expected one of tc-ingress, xdp" \
		trace hook tc-egress tcp "$C4:1" '>' "$VIP4:80"
	lb_rejected 2 "syn given twice" trace tcp "$C4:1" '>' "$VIP4:80" syn syn
	lb_rejected 2 "expected \[ADDRESS\]:PORT" trace tcp "[$C6]x" '>' "[$VIP6]:80"
	# A device that does not exist: a failure, not bad input.
	lb_rejected 1 "dev nosuchdev0: no such device" trace dev nosuchdev0 tcp "$C4:1" '>' "$VIP4:80"
	assert_eq "$(dump_maps "$maps")" "$maps_before" "live maps after the rejected traces"
}
