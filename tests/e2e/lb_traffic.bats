#!/usr/bin/env bats
# Real traffic through the VIP: bulk TCP in DNAT and full NAT mode, UDP, IPv6, drain,
# conntrack ageing, the datapath working with no tool running, per-endpoint stats.
# Topology and servers: lb_helpers.bash.

load lb_helpers

# Each test calls lb_setup with the servers it needs.

teardown() {
	lb_teardown
}

# bulk_check N: 32 MiB of random bytes in backend N's web root, fetched by the client
# through the VIP (port 80); the copy must be byte-identical.
bulk_check() {
	local n=$1 src=$T/www/b$1/bulk.bin dst=$T/got.bin
	head -c 32M /dev/urandom >"$src"
	lb_ns "$NS_C" curl -sS --connect-timeout 5 --max-time 30 -o "$dst" "http://$VIP4/bulk.bin"
	assert_eq "$(stat -c %s "$dst")" 33554432 "size of the copy"
	assert_eq "$(sha256sum <"$dst")" "$(sha256sum <"$src")" "sha256 of the copy"
}

@test "bulk TCP, DNAT: 32 MiB from a backend arrive intact; the backend sees the client" {
	lb_setup http
	lbctl_l service add "$VIP4" port 80
	lbctl_l endpoint add "$(b_ip4 2)" port 8080 service "$VIP4" port 80
	bulk_check 2
	# DNAT keeps the client's address as the source.
	grep -q "$C4 .*GET /bulk.bin" "$T/http.b2.log" || {
		echo "b2 did not see the request from $C4:" >&2
		cat "$T/http.b2.log" >&2
		false
	}
}

@test "bulk TCP, full NAT: 32 MiB intact; the backend sees the LB; no route back needed" {
	lb_setup http
	lbctl_l service add "$VIP4" port 80 mode fullnat
	lbctl_l endpoint add "$(b_ip4 3)" port 8080 service "$VIP4" port 80
	# b3 has no route to the client any more: only full NAT can work.
	ip -n "${NS_B[3]}" route del default
	bulk_check 3
	grep -q "$(e_ip4 3) .*GET /bulk.bin" "$T/http.b3.log" || {
		echo "b3 did not see the request from the LB's $(e_ip4 3):" >&2
		cat "$T/http.b3.log" >&2
		false
	}
	if grep -q "$C4" "$T/http.b3.log"; then
		echo "b3 saw the client's address in full NAT mode:" >&2
		cat "$T/http.b3.log" >&2
		false
	fi
	# The flow in conntrack: forward entry rewritten to LB address -> endpoint.
	local fwd
	fwd=$(lbctl_j conntrack show | json_get '[e["nat"]["src"] + " " + e["nat"]["dst"] for e in j if e["dir"] == "forward"]')
	assert_eq "$fwd" "[\"$(e_ip4 3) $(b_ip4 3)\"]" "forward NAT tuple of the flow"
}

@test "bulk TCP, IPv6, DNAT then full NAT: 32 MiB intact both times" {
	lb_setup http
	lbctl_l service add "$VIP6" port 80
	lbctl_l endpoint add "$(b_ip6 1)" port 8080 service "$VIP6" port 80
	head -c 32M /dev/urandom >"$T/www/b1/bulk.bin"
	local mode
	for mode in dnat fullnat; do
		lbctl_l service set "$VIP6" port 80 mode "$mode"
		rm -f "$T/got.bin"
		lb_ns "$NS_C" curl -sS -g --connect-timeout 5 --max-time 30 -o "$T/got.bin" \
			"http://[$VIP6]/bulk.bin"
		assert_eq "$(sha256sum <"$T/got.bin")" "$(sha256sum <"$T/www/b1/bulk.bin")" \
			"$mode: sha256 of the copy"
	done
}

@test "full NAT, IPv6: the backend sees the LB's address; no route back needed" {
	lb_setup http
	lbctl_l service add "$VIP6" port 80 mode fullnat
	lbctl_l endpoint add "$(b_ip6 2)" port 8080 service "$VIP6" port 80
	ip -n "${NS_B[2]}" -6 route del default
	local got
	got=$(lb_curls 3 "http://[$VIP6]/" -g)
	assert_eq "$got" "b2 b2 b2" "answers"
	assert_eq "$(grep -c "^$(e_ip6 2) .*GET / " "$T/http.b2.log")" 3 \
		"requests b2 saw from the LB's $(e_ip6 2)"
	if grep -q "$C6" "$T/http.b2.log"; then
		echo "b2 saw the client's address in full NAT mode:" >&2
		cat "$T/http.b2.log" >&2
		false
	fi
}

@test "UDP IPv4: request/response through the VIP, rr over the 3 endpoints" {
	lb_setup udp
	lb_service "$VIP4" 9000 9000 proto udp
	local got=() i
	# Six exchanges, each from a new socket (a new source port, a new flow).
	for i in 1 2 3 4 5 6; do
		got+=("$(lb_udp_py "$VIP4" 9000)")
	done
	assert_rr_rotation "${got[*]}"
	# And with socat (-t 1: waits at most 1 s for the answer; a bound, not a check):
	# the rotation goes on with the first endpoint.
	assert_eq "$(lb_udp "$VIP4" 9000)" "${got[0]}" "socat's answer"
	assert_eq "$(lb_ct_flows)" 7 "conntrack flows"
}

@test "UDP IPv6: request/response through the VIP, rr over the 3 endpoints" {
	lb_setup udp
	lb_service "$VIP6" 9000 9000 proto udp
	local got=() i
	# Six exchanges, each from a new socket (a new source port, a new flow).
	for i in 1 2 3 4 5 6; do
		got+=("$(lb_udp_py "$VIP6" 9000)")
	done
	assert_rr_rotation "${got[*]}"
	# And with socat (-t 1: waits at most 1 s for the answer; a bound, not a check):
	# the rotation goes on with the first endpoint.
	assert_eq "$(lb_udp "$VIP6" 9000)" "${got[0]}" "socat's answer"
	assert_eq "$(lb_ct_flows)" 7 "conntrack flows"
}

@test "IPv6 TCP service: 12 connections rotate exactly over the 3 endpoints" {
	lb_setup http
	lb_service "$VIP6" 80 8080 sched rr
	local got
	got=$(lb_curls 12 "http://[$VIP6]/" -g)
	assert_rr_rotation "$got"
	# The backends saw the client's IPv6 address (DNAT).
	grep -q "$C6 .*GET / " "$T/http.b1.log" || {
		echo "b1 did not see $C6:" >&2
		cat "$T/http.b1.log" >&2
		false
	}
}

@test "drain: no new flows to the drained endpoint, its held connection goes on" {
	lb_setup echo
	lb_service "$VIP4" 7000 7000 sched rr
	lb_hold "$VIP4" 7000
	lb_hold_wait_lines 1
	local held n
	held=$(sed -n 1p "$T/hold.out")
	case $held in b[123]) ;; *) echo "held connection: greeting '$held'" >&2; false ;; esac
	lb_hold_send one
	lb_hold_wait_lines 2
	assert_eq "$(sed -n 2p "$T/hold.out")" one "echo on the held connection"

	n=${held#b}
	lbctl_l endpoint set "$(b_ip4 "$n")" port 7000 state drain service "$VIP4" port 7000
	assert_eq "$(lbctl_l endpoint show service "$VIP4" port 7000 | grep -c "$(b_ip4 "$n"):7000 weight 1 state drain")" 1 \
		"endpoint show after drain"

	local i got=()
	for i in $(seq 9); do
		got+=("$(lb_echo_once "$VIP4" 7000)")
	done
	for i in "${got[@]}"; do
		case $i in
		"$held")
			echo "a new connection reached the drained $held: ${got[*]}" >&2
			false
			;;
		b[123]) ;;
		*)
			echo "bad greeting '$i': ${got[*]}" >&2
			false
			;;
		esac
	done
	# The established connection still works after the drain.
	lb_hold_send two
	lb_hold_wait_lines 3
	assert_eq "$(sed -n 3p "$T/hold.out")" two "echo on the held connection after drain"
}

@test "conntrack ages in the kernel with nothing running: udp timeout 2 s" {
	lb_setup udp
	lb_service "$VIP4" 9000 9000 proto udp
	lbctl_l conntrack timeout set udp 2
	assert_eq "$(lbctl_j conntrack timeout | json_get 'j["udp"]')" 2 "udp timeout"
	# One flow (the client returns as soon as the answer is there).
	local name
	name=$(lb_udp_py "$VIP4" 9000)
	case $name in b[123]) ;; *) echo "answer '$name'" >&2; false ;; esac
	assert_eq "$(lb_ct_flows)" 1 "flows right after the exchange"
	# From here on only 'conntrack count' (a reader) runs: the entry must age out by
	# itself (expiry is judged when read: past its timeout it is not listed).
	local i c
	for i in $(seq 100); do
		c=$(lb_ct_flows)
		[ "$c" = 0 ] && break
		sleep 0.1
	done
	assert_eq "$c" 0 "flows 10 s after the exchange (udp timeout 2 s)"
	assert_eq "$(lbctl_j conntrack count | json_get 'j["entries"]')" 0 "entries (both directions)"
}

@test "traffic flows with no tool running" {
	lb_setup http
	lb_service "$VIP4" 80 8080 sched rr
	# Every tool has exited: nothing runs in the LB namespace at all, and no process
	# has our pin root on its command line (other checkouts' tests may run lbctl with
	# their own roots at the same time, so pgrep is narrowed to ours).
	local p
	p=$(ip netns pids "$NS_L")
	assert_eq "$p" "" "processes in the LB namespace"
	if pgrep -af -- "$ROOT"; then
		echo "a tool is still running on $ROOT" >&2
		false
	fi
	local got
	got=$(lb_curls 6 "http://$VIP4/")
	assert_rr_rotation "$got"
}

@test "stats: per-endpoint flows sum to the connections made, packets counted" {
	lb_setup http
	lb_service "$VIP4" 80 8080 sched rr
	lb_curls 9 "http://$VIP4/" >/dev/null
	local json
	json=$(lbctl_l -s -j service show)
	"$PY" - "$json" <<'EOF'
import json, sys
v = json.loads(sys.argv[1])
assert len(v) == 1, v
s = v[0]
eps = s["endpoints"]
assert len(eps) == 3, eps
flows = [e["stats"]["flows"] for e in eps]
assert sum(flows) == 9, ("endpoint flows", flows)
assert flows == [3, 3, 3], ("rr: flows per endpoint", flows)
for e in eps:
    st = e["stats"]
    assert st["packets"] > 0 and st["bytes"] > 0, ("endpoint counters", e)
    assert st["active"] == 0, ("no connection open any more", e)
ss = s["stats"]
assert ss["flows"] == 9, ("service flows", ss)
assert ss["packets"] == sum(e["stats"]["packets"] for e in eps), ("service packets", s)
assert ss["bytes"] == sum(e["stats"]["bytes"] for e in eps), ("service bytes", s)
assert ss["drops"] == 0, ("service drops", ss)
EOF
}
