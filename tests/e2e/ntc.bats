#!/usr/bin/env bats
# ntc against real tc, in a network namespace of its own per test (veth pair va/vb).
# Self-contained: needs root, iproute2's tc, and the build tree (make all).

bats_require_minimum_version 1.5.0

ROOT="$BATS_TEST_DIRNAME/../.."
NTC_BIN="$ROOT/ntc/ntc"
OBJ="$ROOT/bpf/lb_trivial.bpf.o"

setup() {
	# Never skip: a missing prerequisite is a failure (LB_REQUIRE_KERNEL=1 in CI).
	[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; return 1; }
	[ -x "$NTC_BIN" ] || { echo "ntc/ntc not built (make all)" >&2; return 1; }
	[ -f "$OBJ" ] || { echo "bpf/lb_trivial.bpf.o not built (make all)" >&2; return 1; }
	NS="ntcbats-$$-${BATS_TEST_NUMBER}-$RANDOM"
	ip netns add "$NS"
	ip -n "$NS" link add va type veth peer name vb
	ip -n "$NS" link set va up
	ip -n "$NS" link set vb up
}

teardown() {
	[ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null
	return 0
}

ntc() { ip netns exec "$NS" "$NTC_BIN" "$@"; }
xtc() { ip netns exec "$NS" tc "$@"; }
# tc ends every line with a blank; ntc does not.
tc_show() { xtc "$@" | sed 's/ *$//'; }

# Snapshot of everything a rejected command must leave alone.
state() {
	xtc qdisc show
	xtc filter show dev va ingress
	xtc filter show dev va egress
	xtc filter show dev vb ingress
}

# ntc ARGS... must fail with exit status $1, one line on stderr, nothing on stdout,
# and change nothing.
expect_reject() {
	local want=$1 before after
	shift
	before=$(state)
	run --separate-stderr ntc "$@"
	echo "ntc $*: status $status, stderr: $stderr" >&2
	[ "$status" -eq "$want" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "${stderr_lines[0]}" == "ntc: "* ]]
	[ -z "$output" ]
	after=$(state)
	[ "$before" = "$after" ]
}

@test "ntc: usage line names the objects" {
	run ntc help
	[ "$status" -eq 0 ]
	[[ "$output" == *"ntc [OPTIONS] { qdisc | filter | help }"* ]]
	run ntc filter help
	[ "$status" -eq 0 ]
	run ntc qdisc add help
	[ "$status" -eq 0 ]
}

@test "ntc qdisc add/show/del matches tc" {
	run ntc qdisc add dev va clsact
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# the kernel sees a clsact qdisc
	xtc qdisc show dev va | grep -q '^qdisc clsact ffff: parent ffff:fff1'

	# same lines as tc, with and without dev
	[ "$(ntc qdisc show dev va)" = "$(tc_show qdisc show dev va)" ]
	[ "$(ntc qdisc show)" = "$(tc_show qdisc show)" ]
	ntc qdisc show | grep -qx 'qdisc clsact ffff: dev va parent ffff:fff1'
	# unique prefixes
	[ "$(ntc q sh d va)" = "$(tc_show qdisc show dev va)" ]

	# JSON: tc's fields, less the (empty) options
	if command -v jq >/dev/null; then
		[ "$(ntc -j qdisc show | jq -cS .)" = \
		  "$(xtc -j qdisc show | jq -cS 'map(del(.options))')" ]
		[ "$(ntc -j qdisc show dev va | jq -c '.[] | select(.kind == "clsact")')" = \
		  '{"kind":"clsact","handle":"ffff:","parent":"ffff:fff1"}' ]
	fi

	# a second add is refused with the kernel's extended ack
	run --separate-stderr ntc qdisc add dev va clsact
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ntc: qdisc add: "*": File exists" ]]

	run ntc qdisc del dev va clsact
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$(xtc qdisc show dev va | grep clsact)" ]

	run --separate-stderr ntc qdisc del dev va clsact
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ntc: qdisc del: "* ]]
}

@test "ntc filter add/show/del matches tc" {
	# add creates the clsact qdisc when there is none
	run ntc filter add dev va ingress bpf da obj "$OBJ" sec tc
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	xtc qdisc show dev va | grep -q '^qdisc clsact ffff:'

	run ntc filter show dev va ingress
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "filter protocol all pref 49152 bpf chain 0" ]
	[[ "${lines[1]}" =~ ^"filter protocol all pref 49152 bpf chain 0 handle 0x1 lb_trivial.bpf.o:[tc] direct-action not_in_hw id "[0-9]+" name trivial_tc tag "[0-9a-f]{16}" jited"$ ]]
	# line by line what tc prints for the same filter
	[ "$output" = "$(tc_show filter show dev va ingress)" ]

	# the program stays attached after ntc exited: the filter holds it
	id=$(echo "${lines[1]}" | sed 's/.* id \([0-9]*\) .*/\1/')
	if command -v bpftool >/dev/null; then
		bpftool prog show id "$id" >/dev/null
	fi

	# a filter added by tc looks the same to ntc
	xtc filter add dev va egress pref 7 handle 3 protocol ip bpf obj "$OBJ" sec tc
	[ "$(ntc filter show dev va egress)" = "$(tc_show filter show dev va egress)" ]
	[ "$(ntc f s dev va e)" = "$(tc_show filter show dev va egress)" ]

	# pref, handle, protocol; shown in the kernel's order, like tc
	run ntc filter add dev va ingress pref 10 handle 2 protocol ipv6 bpf obj "$OBJ"
	[ "$status" -eq 0 ]
	[ "$(ntc filter show dev va ingress)" = "$(tc_show filter show dev va ingress)" ]
	ntc filter show dev va ingress | grep -q '^filter protocol ipv6 pref 10 bpf chain 0 handle 0x2 lb_trivial.bpf.o:\[tc\] not_in_hw id'
	# selection on show leaves out the selected field, as tc does
	[ "$(ntc filter show dev va ingress pref 10)" = "$(tc_show filter show dev va ingress pref 10)" ]

	if command -v jq >/dev/null; then
		[ "$(ntc -j filter show dev va ingress | jq -cS .)" = \
		  "$(xtc -j filter show dev va ingress | jq -cS .)" ]
		[ "$(ntc -j filter show dev va egress | jq -cS .)" = \
		  "$(xtc -j filter show dev va egress | jq -cS .)" ]
	fi

	# add on a taken pref/handle: kernel's message, exit 1
	run --separate-stderr ntc filter add dev va ingress pref 10 handle 2 protocol ipv6 bpf obj "$OBJ"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ntc: filter add: Filter already exists: File exists" ]

	# replace swaps the program in place
	old=$(ntc filter show dev va ingress pref 10)
	run ntc filter replace dev va ingress pref 10 handle 2 protocol ipv6 bpf da obj "$OBJ" sec tc
	[ "$status" -eq 0 ]
	new=$(ntc filter show dev va ingress pref 10)
	[ "$old" != "$new" ]
	[[ "$new" == *"handle 0x2 lb_trivial.bpf.o:[tc] direct-action not_in_hw"* ]]
	[ "$(ntc filter show dev va ingress)" = "$(tc_show filter show dev va ingress)" ]

	# del one filter, then a whole pref, then everything of a direction
	run ntc filter del dev va ingress pref 10 handle 2 protocol ipv6
	[ "$status" -eq 0 ]
	[ -z "$(xtc filter show dev va ingress | grep 'pref 10 ')" ]
	xtc filter show dev va ingress | grep -q 'pref 49152 '
	run ntc filter del dev va ingress pref 49152
	[ "$status" -eq 0 ]
	[ -z "$(xtc filter show dev va ingress)" ]
	run ntc filter del dev va egress
	[ "$status" -eq 0 ]
	[ -z "$(xtc filter show dev va egress)" ]
	run ntc filter show dev va egress
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(ntc -j filter show dev va egress)" = "[]" ]
	# the qdisc stays, as with tc
	xtc qdisc show dev va | grep -q '^qdisc clsact ffff:'
}

@test "ntc rejects bad input with one line and changes nothing" {
	xtc qdisc add dev vb clsact
	xtc filter add dev vb ingress pref 5 handle 1 bpf da obj "$OBJ" sec tc

	# usage errors: exit 2
	expect_reject 2 frob
	expect_reject 2 filter frob
	expect_reject 2 qdisc add
	expect_reject 2 qdisc add dev
	expect_reject 2 qdisc add dev va bogus
	expect_reject 2 filter add ingress bpf da obj "$OBJ"
	expect_reject 2 filter add dev va bpf da obj "$OBJ"
	expect_reject 2 filter add dev va ingress
	expect_reject 2 filter add dev va ingress bpf da
	expect_reject 2 filter add dev va ingress bpf obj
	expect_reject 2 filter add dev va ingress bpf obj "$OBJ" sec
	expect_reject 2 filter add dev va ingress bogus 1 bpf obj "$OBJ"
	expect_reject 2 filter add dev va ingress bpf obj "$OBJ" bogus
	expect_reject 2 filter add dev va ingress pref 0 bpf obj "$OBJ"
	expect_reject 2 filter add dev va ingress pref 65536 bpf obj "$OBJ"
	expect_reject 2 filter add dev va ingress protocol nosuch bpf obj "$OBJ"
	expect_reject 2 filter del dev vb ingress handle 1
	expect_reject 2 filter show dev vb

	# failures: exit 1
	expect_reject 1 qdisc add dev nosuch0 clsact
	expect_reject 1 qdisc del dev va clsact
	expect_reject 1 filter add dev nosuch0 ingress bpf da obj "$OBJ"
	expect_reject 1 filter add dev va ingress bpf da obj /nonexistent/x.bpf.o
	expect_reject 1 filter add dev va ingress bpf da obj "$OBJ" sec nosuch
	expect_reject 1 filter add dev va ingress bpf da obj "$OBJ" sec xdp
	expect_reject 1 filter add dev vb ingress pref 5 handle 1 bpf da obj "$OBJ" sec tc
	expect_reject 1 filter del dev vb ingress pref 5 handle 9
	expect_reject 1 filter del dev va ingress
	expect_reject 1 filter show dev nosuch0 ingress

	# kernel errors carry the extended ack
	run --separate-stderr ntc filter del dev va ingress
	[ "$stderr" = "ntc: filter del: Parent Qdisc doesn't exists: Invalid argument" ]

	# with -j the error is also on stdout as JSON
	run --separate-stderr ntc -j filter add dev nosuch0 ingress bpf obj "$OBJ"
	[ "$status" -eq 1 ]
	[[ "$output" == '{"error":"dev nosuch0: no such device"}'* ]]
}

@test "ntc filter add refused by the kernel leaves no clsact behind" {
	# a SCHED_ACT program: libbpf loads it, cls_bpf refuses it
	cat >"$BATS_TEST_TMPDIR/act.bpf.c" <<-'EOF'
	#include <linux/bpf.h>
	#include <linux/pkt_cls.h>
	#include <bpf/bpf_helpers.h>
	SEC("action")
	int act(struct __sk_buff *skb) { return TC_ACT_OK; }
	char _license[] SEC("license") = "GPL";
	EOF
	clang -O2 -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
		-c "$BATS_TEST_TMPDIR/act.bpf.c" -o "$BATS_TEST_TMPDIR/act.bpf.o"

	expect_reject 1 filter add dev va ingress bpf da obj "$BATS_TEST_TMPDIR/act.bpf.o"
	[ -z "$(xtc qdisc show dev va | grep clsact)" ]

	# a clsact qdisc that was there before stays
	xtc qdisc add dev va clsact
	expect_reject 1 filter add dev va egress bpf da obj "$BATS_TEST_TMPDIR/act.bpf.o"
	xtc qdisc show dev va | grep -q '^qdisc clsact ffff:'
}
