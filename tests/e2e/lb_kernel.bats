#!/usr/bin/env bats
# What the kernel side does on its own: the XDP fast path for established flows, the
# conntrack sweep by the bpf_timer (no tool running), ICMP error translation, session
# persistence, table sizes chosen at the first attach.
# Topology and servers: lb_helpers.bash.

load lb_helpers

teardown() {
	lb_teardown
}

# ct_raw: entries in the pinned conntrack map, read with bpftool (no lbctl involved).
ct_raw() {
	bpftool -j map dump pinned "$ROOT/maps/lb_ct" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# refused ADDR PORT: one datagram on a connected UDP socket from the client; prints
# "refused" when an ICMP port unreachable came back for it, "reply" or "timeout" else.
refused() {
	lb_ns "$NS_C" "$PY" -c '
import socket, sys
a, p = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((a, p))
s.send(b"x")
try:
    s.recv(100)
    print("reply")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")' "$1" "$2"
}

@test "XDP fast path: a 32 MiB transfer is served by XDP after the handshake, intact" {
	lb_setup http
	lb_attach_xdp
	lbctl_l service add "$VIP4" port 80
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 80
	head -c 32M /dev/urandom >"$T/www/b1/bulk.bin"
	lb_ns "$NS_C" curl -sS --connect-timeout 5 --max-time 30 -o "$T/got.bin" "http://$VIP4/bulk.bin"
	assert_eq "$(sha256sum <"$T/got.bin")" "$(sha256sum <"$T/www/b1/bulk.bin")" "sha256 of the copy"
	# The backend's data packets came through XDP on its interface; TC saw none of them.
	local xdp tc
	xdp=$(lbt_ctr "${DEV_E[1]}" xdp tcp packets)
	tc=$(lbt_ctr "${DEV_E[1]}" tc-ingress tcp packets)
	[ "$xdp" -gt 20000 ] || { echo "xdp saw $xdp tcp packets from b1" >&2; false; }
	[ "$tc" -eq 0 ] || { echo "tc-ingress saw $tc tcp packets from b1" >&2; false; }
	# The client's side: only the first packet (the SYN, a new flow) went to TC.
	tc=$(lbt_ctr "$DEV_L" tc-ingress tcp packets)
	[ "$tc" -eq 1 ] || { echo "tc-ingress saw $tc tcp packets from the client" >&2; false; }
}

@test "conntrack sweep: the kernel removes expired entries with no tool running" {
	lb_setup udp
	lb_service "$VIP4" 9000 9000 proto udp
	lbctl_l conntrack timeout set udp 2
	[ "$(lb_udp "$VIP4" 9000)" = b1 ]
	assert_eq "$(ct_raw)" 2 "entries after one flow (both directions)"
	# Only bpftool reads the map from now on: nothing of ours runs or deletes.
	local i left
	for i in $(seq 50); do
		left=$(ct_raw)
		[ "$left" -eq 0 ] && break
		sleep 0.2
	done
	assert_eq "$left" 0 "entries left 10 s after the flow went quiet"
	lbctl_l -j info | "$PY" -c 'import json,sys; g=json.load(sys.stdin)["gc"]; sys.exit(0 if g["runs"] > 0 and g["expired"] >= 2 else 1)'
}

@test "ICMP errors: a backend's port unreachable reaches the client (DNAT and full NAT, v4 and v6)" {
	lb_setup
	local vip mode ep
	for vip in "$VIP4" "$VIP6"; do
		lbctl_l service add "$vip" port 9999 proto udp
		case $vip in *:*) ep=$(b_ip6 1) ;; *) ep=$(b_ip4 1) ;; esac
		lbctl_l endpoint add "$ep" service "$vip" port 9999 proto udp
		for mode in dnat fullnat; do
			lbctl_l service set "$vip" port 9999 proto udp mode "$mode"
			lbctl_l conntrack flush
			assert_eq "$(refused "$vip" 9999)" refused "$vip $mode: the client's socket"
		done
	done
}

@test "persist: a client's new connections stay on one endpoint; without it they rotate" {
	lb_setup http
	lb_service "$VIP4" 80 8080 persist 60
	local got
	got=$(lb_curls 6 "http://$VIP4/")
	[ "$(count_of "${got%% *}" $got)" -eq 6 ] || { echo "persist: $got" >&2; false; }
	lbctl_l service set "$VIP4" port 80 persist 0
	got=$(lb_curls 6 "http://$VIP4/")
	assert_rr_rotation "$got"
}

@test "table sizes: chosen at the first attach, refused later, shown by lbctl info" {
	lbt_setup
	lb_topo
	lbattach_l attach dev "$DEV_L" services 16 endpoints 64 conntrack 1000 allow 500
	lbctl_l -j info | "$PY" -c '
import json, sys
t = json.load(sys.stdin)["tables"]
assert (t["services"]["max"], t["endpoints"]["max"], t["conntrack"]["max"], t["allow"]["max"]) == \
    (16, 64, 1000, 500), t
assert t["health"]["max"] == 16 + 64, t
assert all(v["memlock"] > 0 for k, v in t.items() if k != "allow"), t  # an empty trie costs 0'
	run --separate-stderr lbattach_l attach dev "${DEV_E[1]}" conntrack 2000
	assert_status 1
	assert_err_line lbattach "^lbattach: attach dev ${DEV_E[1]} tc-ingress: table sizes are fixed when first loaded"
	run --separate-stderr lbattach_l -j show
	assert_status 0
	[ "$(json_get 'len(j)' <<<"$output")" = 1 ] || { echo "attachments: $output" >&2; false; }
}

@test "a full conntrack table refuses new flows, counted, and makes room from ended ones: every connection gets through" {
	lbt_setup
	lb_topo
	lb_http_servers
	local d
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		echo "attach dev $d tc ingress conntrack 64"
	done | lbattach_l -b -
	lb_service "$VIP4" 80 8080
	# 50 connections one after the other need 100 entries: closed flows stay for
	# tcp-fin (10 s), so the table fills.  A SYN that finds it full is dropped and
	# counted; the sweep then removes closed flows idle for a second, and the
	# client's SYN retransmit gets through: every connection is answered.
	local got
	got=$(lb_curls 50 "http://$VIP4/" --max-time 20)
	[ "$(wc -w <<<"$got")" -eq 50 ] || { echo "answers: $got" >&2; false; }
	[ "$(ct_raw)" -le 64 ] || { echo "$(ct_raw) entries in a table of 64" >&2; false; }
	[ "$(lbctl_j stats drops | json_get 'j["conntrack-full"]["packets"]')" -gt 0 ] ||
		{ echo "no conntrack-full drop counted" >&2; false; }
	[ "$(lbctl_j stats drops | json_get 'j["conntrack-early"]["packets"]')" -gt 0 ] ||
		{ echo "no conntrack-early removal counted" >&2; false; }
	[ "$(lbctl_j info | json_get 'j["gc"]["early"]')" -gt 0 ] || { echo "gc early 0" >&2; false; }
}

@test "forwarding needs no rp_filter or accept_local changes: bulk both ways, DNAT and full NAT" {
	lb_setup http
	# Strict reverse-path filtering, no local sources, nothing in the neighbour cache:
	# every packet must be forwarded by the datapath itself (GSO aggregates included).
	local d
	lb_ns "$NS_L" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 \
		net.ipv4.conf.all.accept_local=0
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		lb_ns "$NS_L" sysctl -qw "net.ipv4.conf.$d.rp_filter=1"
	done
	ip -n "$NS_L" neigh flush all
	head -c 16M /dev/urandom >"$T/www/b1/bulk.bin"
	lbctl_l service add "$VIP4" port 80
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 80
	lbctl_l service add "$VIP4" port 9100 mode fullnat
	lbctl_l endpoint add "$(b_ip4 1)" service "$VIP4" port 9100
	local mode
	for mode in dnat fullnat; do
		lbctl_l service set "$VIP4" port 80 mode "$mode"
		rm -f "$T/got.bin"
		lb_ns "$NS_C" curl -sS --connect-timeout 5 --max-time 30 -o "$T/got.bin" "http://$VIP4/bulk.bin"
		assert_eq "$(sha256sum <"$T/got.bin")" "$(sha256sum <"$T/www/b1/bulk.bin")" "$mode download"
	done
	# Upload through full NAT: the client sends 16 MiB, the backend stores them.
	nsenter --net="/run/netns/${NS_B[1]}" timeout 30 socat -u TCP4-LISTEN:9100,reuseaddr \
		"OPEN:$T/up.bin,creat,trunc" &
	lbt_add_pid $!
	lbt_wait_listen "${NS_B[1]}" 9100
	lb_ns "$NS_C" timeout 30 socat -u "OPEN:$T/www/b1/bulk.bin" "TCP4:$VIP4:9100"
	local i
	for i in $(seq 50); do
		[ "$(stat -c %s "$T/up.bin" 2>/dev/null)" = 16777216 ] && break
		sleep 0.1
	done
	assert_eq "$(sha256sum <"$T/up.bin")" "$(sha256sum <"$T/www/b1/bulk.bin")" "full NAT upload"
}
