#!/usr/bin/env bats
# lbctl stats: exact per-interface counters under real traffic, compared with what
# was sent and with the kernel's own count of the same packets.
#
# Why exact numbers hold: the veths carry nothing but the test's traffic.  Neighbour
# entries are permanent on both ends (no ARP, no ND) and IPv6 is disabled unless a
# test needs it (then DAD, RS and link-local addresses are off and MLD has gone
# quiet before the first snapshot).  An IPv4 echo request is 14 (Ethernet) + 20
# (IPv4) + 8 (ICMP) + 56 (payload) = 98 bytes; an ICMPv6 one 14 + 40 + 8 + 56 = 118.

# shellcheck disable=SC2154 # status, output, lines, stderr: set by bats' run
load helpers

setup() {
	lbt_setup
}

teardown() {
	lbt_teardown
}

COUNTERS="rx ipv4 ipv6 nonip tcp udp icmp icmpv6 frag l4-other malformed"

# deltas BEFORE AFTER: "name dpackets dbytes" for each counter whose value changed.
deltas() {
	join <(sort <<<"$1") <(sort <<<"$2") |
		awk '$4 != $2 || $5 != $3 { print $1, $4 - $2, $5 - $3 }' | sort
}

# expect_deltas BEFORE AFTER "name packets bytes" ...: exactly these counters moved,
# by exactly these amounts.
expect_deltas() {
	local got want
	got=$(deltas "$1" "$2")
	shift 2
	want=$(printf '%s\n' "$@" | sort)
	if [ "$got" != "$want" ]; then
		printf 'counter deltas:\n%s\nexpected:\n%s\n' "$got" "$want" >&2
		return 1
	fi
}

# kdelta BEFORE AFTER: kernel "packets bytes" difference.
kdelta() {
	local p0 b0 p1 b1
	read -r p0 b0 <<<"$1"
	read -r p1 b1 <<<"$2"
	echo "$((p1 - p0)) $((b1 - b0))"
}

@test "ping over tc ingress: exactly 5 ipv4/icmp packets and 5*98 bytes" {
	lbt_topo
	lbattach_l attach dev "$DEV_L" tc ingress
	local c0 c1 k0 k1
	c0=$(lbt_ctr_all "$DEV_L" tc-ingress)
	k0=$(lbt_kstat "$NS_L" "$DEV_L")
	lbt_ping "$NS_C" "$IP_L" 5
	c1=$(lbt_ctr_all "$DEV_L" tc-ingress)
	k1=$(lbt_kstat "$NS_L" "$DEV_L")
	expect_deltas "$c0" "$c1" "rx 5 490" "ipv4 5 490" "icmp 5 490"
	# The kernel counted the same 5 frames on that veth, nothing else arrived.
	assert_eq "$(kdelta "$k0" "$k1")" "5 490" "kernel rx packets/bytes on $DEV_L"
	# Nothing is counted at hooks we did not attach.
	assert_eq "$(lbt_ctr "$DEV_L" xdp rx packets)" 0 "xdp rx"
	assert_eq "$(lbt_ctr "$DEV_L" tc-egress rx packets)" 0 "tc-egress rx"
}

@test "ping over tc egress: the 5 echo replies, 5*98 bytes" {
	lbt_topo
	lbattach_l attach dev "$DEV_L" tc egress
	local c0 c1
	c0=$(lbt_ctr_all "$DEV_L" tc-egress)
	lbt_ping "$NS_C" "$IP_L" 5
	c1=$(lbt_ctr_all "$DEV_L" tc-egress)
	expect_deltas "$c0" "$c1" "rx 5 490" "ipv4 5 490" "icmp 5 490"
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress rx packets)" 0 "tc-ingress rx"
}

@test "ping over tc ingress in clsact mode: exactly 5 icmp, 5*98 bytes" {
	lbt_topo
	lbattach_l attach dev "$DEV_L" tc ingress mode clsact
	local c0 c1
	c0=$(lbt_ctr_all "$DEV_L" tc-ingress)
	lbt_ping "$NS_C" "$IP_L" 5
	c1=$(lbt_ctr_all "$DEV_L" tc-ingress)
	expect_deltas "$c0" "$c1" "rx 5 490" "ipv4 5 490" "icmp 5 490"
}

@test "ping over xdp native: exactly 5 ipv4/icmp packets and 5*98 bytes" {
	lbt_topo
	lbattach_l attach dev "$DEV_L" xdp mode native
	local c0 c1 k0 k1
	c0=$(lbt_ctr_all "$DEV_L" xdp)
	k0=$(lbt_kstat "$NS_L" "$DEV_L")
	lbt_ping "$NS_C" "$IP_L" 5
	c1=$(lbt_ctr_all "$DEV_L" xdp)
	k1=$(lbt_kstat "$NS_L" "$DEV_L")
	expect_deltas "$c0" "$c1" "rx 5 490" "ipv4 5 490" "icmp 5 490"
	# veth in XDP (NAPI) mode counts rx bytes after the Ethernet header is pulled:
	# 5 frames of 98 bytes show up as 5 * 84 in the kernel's rx_bytes.
	assert_eq "$(kdelta "$k0" "$k1")" "5 $((5 * (98 - 14)))" "kernel rx packets/bytes on $DEV_L"
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress rx packets)" 0 "tc-ingress rx"
}

@test "ping over xdp generic and tc ingress together: both hooks count every packet" {
	lbt_topo
	lbattach_l attach dev "$DEV_L" xdp mode generic
	lbattach_l attach dev "$DEV_L" tc ingress
	local x0 x1 t0 t1
	x0=$(lbt_ctr_all "$DEV_L" xdp)
	t0=$(lbt_ctr_all "$DEV_L" tc-ingress)
	lbt_ping "$NS_C" "$IP_L" 5
	x1=$(lbt_ctr_all "$DEV_L" xdp)
	t1=$(lbt_ctr_all "$DEV_L" tc-ingress)
	expect_deltas "$x0" "$x1" "rx 5 490" "ipv4 5 490" "icmp 5 490"
	expect_deltas "$t0" "$t1" "rx 5 490" "ipv4 5 490" "icmp 5 490"
}

@test "ping6 over tc ingress and xdp: exactly 5 ipv6/icmpv6 packets and 5*118 bytes" {
	lbt_topo v6
	lbattach_l attach dev "$DEV_L" tc ingress
	lbattach_l attach dev "$DEV_L" xdp
	lbt_wait_quiet "$NS_L" "$DEV_L"
	local x0 x1 t0 t1 k0 k1
	x0=$(lbt_ctr_all "$DEV_L" xdp)
	t0=$(lbt_ctr_all "$DEV_L" tc-ingress)
	k0=$(lbt_kstat "$NS_L" "$DEV_L")
	lbt_ping "$NS_C" "$IP6_L" 5
	x1=$(lbt_ctr_all "$DEV_L" xdp)
	t1=$(lbt_ctr_all "$DEV_L" tc-ingress)
	k1=$(lbt_kstat "$NS_L" "$DEV_L")
	# No ND (permanent neighbours) and no MLD in the window: the kernel agrees.
	assert_eq "$(kdelta "$k0" "$k1" | cut -d' ' -f1)" 5 "kernel rx packets on $DEV_L"
	expect_deltas "$x0" "$x1" "rx 5 590" "ipv6 5 590" "icmpv6 5 590"
	expect_deltas "$t0" "$t1" "rx 5 590" "ipv6 5 590" "icmpv6 5 590"
}

# tcp_exact HOOK SERVER: fetch a 300 KB file over HTTP, from a server in the lb
# namespace (SERVER=lb: mostly ACKs reach the lb side) or in the client namespace
# (SERVER=client: the data segments, GSO-sized on tc, reach it).  Our counters at
# HOOK must match the kernel's count of the same frames on that veth exactly.
tcp_exact() {
	local hook=$1 sns cns sip c0 c1 k0 k1 kp kb
	if [ "$2" = lb ]; then
		sns=$NS_L cns=$NS_C sip=$IP_L
	else
		sns=$NS_C cns=$NS_L sip=$IP_C
	fi
	mkdir "$T/www"
	head -c 300000 /dev/urandom >"$T/www/blob"
	lbt_http_server "$sns" "$sip" 8080 "$T/www"
	lbt_wait_quiet "$NS_L" "$DEV_L"
	c0=$(lbt_ctr_all "$DEV_L" "$hook")
	k0=$(lbt_kstat "$NS_L" "$DEV_L")

	lb_ns "$cns" curl -sS --max-time 20 -o "$T/got" "http://$sip:8080/blob"
	cmp "$T/www/blob" "$T/got"
	# Wait until the connection is closed on both ends and the veth is quiet:
	# only then are both counts final.
	lbt_wait_tcp_idle "$NS_C" 8080
	lbt_wait_tcp_idle "$NS_L" 8080
	lbt_wait_quiet "$NS_L" "$DEV_L"

	c1=$(lbt_ctr_all "$DEV_L" "$hook")
	k1=$(lbt_kstat "$NS_L" "$DEV_L")
	read -r kp kb <<<"$(kdelta "$k0" "$k1")"
	[ "$kp" -ge 6 ] || { echo "only $kp packets reached $DEV_L" >&2; false; }
	if [ "$2" = client ] && [ "$kb" -lt 300000 ]; then
		echo "only $kb bytes reached $DEV_L" >&2
		false
	fi
	if [ "$hook" = xdp ]; then
		# veth's XDP (NAPI) path counts bytes without the 14-byte Ethernet header.
		kb=$((kb + 14 * kp))
	fi
	expect_deltas "$c0" "$c1" "rx $kp $kb" "ipv4 $kp $kb" "tcp $kp $kb"
}

@test "tcp (http.server + curl) over tc ingress: counters equal the kernel's rx count" {
	lbt_topo
	lbattach_l attach dev "$DEV_L" tc ingress
	tcp_exact tc-ingress lb
}

@test "tcp bulk into the lb side over tc ingress: counters equal the kernel's rx count" {
	lbt_topo
	lbattach_l attach dev "$DEV_L" tc ingress
	tcp_exact tc-ingress client
}

@test "tcp (http.server + curl) over xdp native: counters equal the kernel's rx count" {
	lbt_topo
	lbattach_l attach dev "$DEV_L" xdp
	tcp_exact xdp lb
}

@test "tcp bulk into the lb side over xdp native: counters equal the kernel's rx count" {
	lbt_topo
	lbattach_l attach dev "$DEV_L" xdp
	tcp_exact xdp client
}

@test "stats -j: parsed, every field and all 11 counters" {
	lbt_topo
	lbattach_l attach dev "$DEV_L"
	lbattach_l attach dev "$DEV_L" xdp
	lbt_ping "$NS_C" "$IP_L" 2
	local ifindex
	ifindex=$(ip -n "$NS_L" -j link show dev "$DEV_L" | json_get 'j[0]["ifindex"]')
	run --separate-stderr lbctl_l -j stats
	assert_status 0
	assert_no_stderr
	"$PY" -c '
import json, sys
j = json.loads(sys.argv[1])
dev, ifindex = sys.argv[2], int(sys.argv[3])
names = sys.argv[4].split()
assert isinstance(j, list) and len(j) == 2, j
assert [e["hook"] for e in j] == ["xdp", "tc-ingress"], j
for e in j:
    assert set(e) == {"ifname", "ifindex", "hook", "counters"}, e
    assert e["ifname"] == dev and e["ifindex"] == ifindex, e
    assert sorted(e["counters"]) == sorted(names), e["counters"]
    for n, c in e["counters"].items():
        assert set(c) == {"packets", "bytes"}, c
        assert all(isinstance(v, int) and v >= 0 for v in c.values()), c
    c = e["counters"]
    assert c["rx"] == {"packets": 2, "bytes": 196}, c
    assert c["ipv4"] == c["icmp"] == c["rx"], c
    assert all(c[n] == {"packets": 0, "bytes": 0} for n in names
               if n not in ("rx", "ipv4", "icmp")), c
' "$output" "$DEV_L" "$ifindex" "$COUNTERS"
	# The same numbers, read independently: bpftool's raw per-CPU values, summed,
	# from lb_if_ctr (array, index ifindex * 3 + hook) and lb_if_stats (hash).
	"$PY" -c '
import json, struct, sys
lbctl, raw, arr = json.loads(sys.argv[1]), json.load(open(sys.argv[2])), json.load(open(sys.argv[4]))
names = sys.argv[3].split()
hooks = ["xdp", "tc-ingress", "tc-egress"]
sums = {}
def add(ifindex, hook, values):
    tot = [0] * 22
    for v in values:
        vals = struct.unpack("<22Q", bytes(int(b, 16) for b in v["value"]))
        tot = [a + b for a, b in zip(tot, vals)]
    if any(tot):
        sums[(ifindex, hooks[hook])] = {n: {"packets": tot[2 * i], "bytes": tot[2 * i + 1]}
                                        for i, n in enumerate(names)}
for e in raw:
    add(*struct.unpack("<II", bytes(int(b, 16) for b in e["key"])), e["values"])
for e in arr:
    i = struct.unpack("<I", bytes(int(b, 16) for b in e["key"]))[0]
    add(i // 3, i % 3, e["values"])
mine = {(e["ifindex"], e["hook"]): e["counters"] for e in lbctl}
assert mine == sums, (mine, sums)
' "$output" <(bpftool -j map dump pinned "$ROOT/maps/lb_if_stats") "$COUNTERS" \
		<(bpftool -j map dump pinned "$ROOT/maps/lb_if_ctr")
	# -p: the same data, pretty-printed
	run --separate-stderr lbctl_l -p stats
	assert_status 0
	[ "${#lines[@]}" -gt 2 ] || { echo "not pretty: $output" >&2; false; }
	assert_eq "$(json_get 'j' <<<"$output")" "$(lbctl_l -j stats | json_get 'j')" "-p and -j agree"
}

@test "stats text: header, column layout, only non-zero counters unless -d" {
	lbt_topo
	lbattach_l attach dev "$DEV_L"
	lbt_ping "$NS_C" "$IP_L" 3
	run --separate-stderr lbctl_l stats
	assert_status 0
	assert_no_stderr
	local expect
	expect=$(printf '%-15s %-11s %-10s %14s %16s\n' DEV HOOK COUNTER PACKETS BYTES \
		"$DEV_L" tc-ingress rx 3 294 "$DEV_L" tc-ingress ipv4 3 294 "$DEV_L" tc-ingress icmp 3 294)
	assert_eq "$output" "$expect" "stats text"

	run --separate-stderr lbctl_l -d stats
	assert_status 0
	[ "${#lines[@]}" -eq 12 ] || { echo "-d stats: $output" >&2; false; }
	local n
	for n in $COUNTERS; do
		grep -Eq "^$DEV_L +tc-ingress +$n +[0-9]+ +[0-9]+\$" <<<"$output" ||
			{ echo "no line for $n: $output" >&2; false; }
	done
	# "stats" and "stats show" are the same; unique prefixes work
	assert_eq "$(lbctl_l stats show)" "$(lbctl_l stats)" "stats show"
	assert_eq "$(lbctl_l st sh)" "$(lbctl_l stats)" "st sh"
}

@test "stats dev X shows only X" {
	lbt_topo
	lbt_topo2
	lbattach_l attach dev "$DEV_L"
	lbattach_l attach dev "$DEV_L2"
	lbt_ping "$NS_C" "$IP_L" 2
	lbt_ping "$NS_C2" "$IP_L2" 3

	run --separate-stderr lbctl_l -j stats dev "$DEV_L2"
	assert_status 0
	assert_eq "$(json_get '[(e["ifname"], e["hook"], e["counters"]["icmp"]["packets"]) for e in j]' <<<"$output")" \
		"[[\"$DEV_L2\", \"tc-ingress\", 3]]" "json stats dev $DEV_L2"
	run --separate-stderr lbctl_l stats dev "$DEV_L"
	assert_status 0
	[ "${#lines[@]}" -eq 4 ] || { echo "stats dev: $output" >&2; false; }
	[[ $output != *"$DEV_L2"* ]] || { echo "other device listed: $output" >&2; false; }
	# without a filter both are there
	assert_eq "$(lbctl_l -j stats | json_get 'sorted(e["ifname"] for e in j)')" \
		"[\"$DEV_L\", \"$DEV_L2\"]" "json stats"
}

@test "stats reset zeroes all counters; reset dev X only those of X" {
	lbt_topo
	lbt_topo2
	lbattach_l attach dev "$DEV_L"
	lbattach_l attach dev "$DEV_L2"
	lbt_ping "$NS_C" "$IP_L" 2
	lbt_ping "$NS_C2" "$IP_L2" 2

	run --separate-stderr lbctl_l stats reset dev "$DEV_L"
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "" "reset is quiet"
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress rx packets)" 0 "rx of $DEV_L after reset dev"
	assert_eq "$(lbt_ctr "$DEV_L2" tc-ingress rx packets)" 2 "rx of $DEV_L2 after reset dev $DEV_L"

	run --separate-stderr lbctl_l stats reset
	assert_status 0
	assert_no_stderr
	# Nothing non-zero is left anywhere (read with bpftool, independently of lbctl).
	# Both maps: lb_if_stats (hash) and lb_if_ctr (array).
	"$PY" -c '
import json, sys
for m in sys.argv[1:]:
    for e in json.load(open(m)):
        for v in e["values"]:
            assert all(int(b, 16) == 0 for b in v["value"]), e
' <(bpftool -j map dump pinned "$ROOT/maps/lb_if_stats") \
	  <(bpftool -j map dump pinned "$ROOT/maps/lb_if_ctr")
	assert_eq "$(lbctl_l stats | wc -l)" 1 "only the header after reset"

	# Counting starts again from zero, exactly.
	lbt_ping "$NS_C" "$IP_L" 4
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp packets)" 4 "icmp after reset"
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress rx bytes)" $((4 * 98)) "rx bytes after reset"
	assert_eq "$(lbt_ctr "$DEV_L2" tc-ingress rx packets)" 0 "rx of $DEV_L2"
}
