#!/usr/bin/env bats
# ntc against real tc, in a network namespace of its own per test (veth pair va/vb),
# with a private pin root ($ROOT, a bpffs ntc mounts on first use).
# Self-contained: needs root, iproute2's tc, bpftool, and the build tree (make all).

bats_require_minimum_version 1.5.0

ROOT_DIR="$BATS_TEST_DIRNAME/../.."
NTC_BIN="$ROOT_DIR/build/bin/ntc"
LBATTACH="$ROOT_DIR/build/bin/lbattach"
OBJ="$ROOT_DIR/build/bpf/lb_trivial.bpf.o"
PROGS="$ROOT_DIR/build/tests/progs"

setup() {
	# Never skip: a missing prerequisite is a failure (LB_REQUIRE_KERNEL=1 in CI).
	[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; return 1; }
	[ -x "$NTC_BIN" ] || { echo "build/bin/ntc not built (make all)" >&2; return 1; }
	[ -f "$OBJ" ] || { echo "build/bpf/lb_trivial.bpf.o not built (make all)" >&2; return 1; }
	[ -f "$PROGS/ntc_tail.bpf.o" ] || { echo "build/tests/progs not built (make all)" >&2; return 1; }
	command -v bpftool >/dev/null || { echo "needs bpftool" >&2; return 1; }
	NS="ntcbats-$$-${BATS_TEST_NUMBER}-$RANDOM"
	NS2=""
	T=$(mktemp -d /tmp/ntcbats.XXXXXX)
	ROOT=$T/pins
	ip netns add "$NS"
	ip -n "$NS" link add va type veth peer name vb
	ip -n "$NS" link set va up
	ip -n "$NS" link set vb up
}

teardown() {
	if [ -n "${ROOT:-}" ] && [ -e "$ROOT/maps/lb_config" ] && [ -e "/run/netns/$NS" ]; then
		nsenter --net="/run/netns/$NS" "$LBATTACH" -P "$ROOT" destroy
	fi
	[ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null
	[ -n "${NS2:-}" ] && ip netns del "$NS2" 2>/dev/null
	if [ -n "${ROOT:-}" ]; then
		for _ in 1 2 3; do
			mountpoint -q "$ROOT" || break
			umount "$ROOT" || umount -l "$ROOT"
		done
	fi
	# Never delete below a mount that is still there.
	if [ -n "${T:-}" ] && [ -d "$T" ] && ! grep -q " $T/" /proc/mounts; then
		rm -rf "$T"
	fi
	return 0
}

# nsenter, not ip netns exec: that would hide the bpffs ntc mounts on $ROOT.
ntc() { nsenter --net="/run/netns/$NS" "$NTC_BIN" -P "$ROOT" "$@"; }
xtc() { ip netns exec "$NS" tc "$@"; }
# tc ends every line with a blank; ntc does not.
tc_show() { xtc "$@" | sed 's/ *$//'; }

# The pin tree with modes, or that there is none.
pins() {
	if [ -e "$ROOT" ]; then
		find "$ROOT" -printf '%P %y %m\n' | sort
		mountpoint "$ROOT"
	else
		echo "(no $ROOT)"
	fi
}

# Snapshot of everything a rejected command must leave alone.
state() {
	xtc qdisc show
	xtc filter show dev va ingress
	xtc filter show dev va egress
	xtc filter show dev vb ingress
	pins
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

# Move vb into a second namespace, addresses on both ends: traffic over the pair.
two_ns() {
	NS2="${NS}-b"
	ip netns add "$NS2"
	ip -n "$NS" link set vb netns "$NS2"
	ip -n "$NS" addr add 198.18.0.1/30 dev va
	ip -n "$NS2" addr add 198.18.0.2/30 dev vb
	ip -n "$NS2" link set vb up
	ip -n "$NS" link set va up
}

# One field of bpftool's JSON for a pin: pin_field prog|map PATH FIELD.
pin_field() {
	bpftool -j "$1" show pinned "$2" | python3 -c 'import json, sys
print(json.load(sys.stdin)[sys.argv[1]])' "$3"
}

# ntc_hits[KEY] of the root's pinned map.
hits() {
	bpftool -j map lookup pinned "$ROOT/maps/ntc_hits" key "$1" 0 0 0 |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["formatted"]["value"])'
}

# The program id of the first filter ntc shows on dev va HOOK.
filter_prog_id() {
	ntc -j filter show dev va "$1" | python3 -c 'import json, sys
print([f for f in json.load(sys.stdin) if "options" in f][0]["options"]["prog"]["id"])'
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
	# the program is pinned where the filter's record goes: pref, handle, name
	[ "$(pin_field prog "$ROOT/ntc/va/ingress/49152/0x1/trivial_tc" id)" = \
	  "$(filter_prog_id ingress)" ]

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
	# the qdisc stays, as with tc; the records went with the filters
	xtc qdisc show dev va | grep -q '^qdisc clsact ffff:'
	[ ! -e "$ROOT/ntc" ]
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
	# a keyword twice, two of a group (the last one won once): the tables refuse them
	expect_reject 2 qdisc add dev vb dev va clsact
	expect_reject 2 filter add dev vb dev va ingress bpf da obj "$OBJ" sec tc
	expect_reject 2 filter add dev va ingress egress bpf da obj "$OBJ" sec tc
	expect_reject 2 filter add dev va ingress prio 3 pref 4 bpf da obj "$OBJ" sec tc
	expect_reject 2 filter add dev va ingress bpf da obj "$OBJ" sec tc sec xdp

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
	# nor the pin root it made for the program
	[ ! -e "$ROOT" ]
	[ -z "$(grep " $ROOT " /proc/mounts)" ]

	# a clsact qdisc that was there before stays
	xtc qdisc add dev va clsact
	expect_reject 1 filter add dev va egress bpf da obj "$BATS_TEST_TMPDIR/act.bpf.o"
	xtc qdisc show dev va | grep -q '^qdisc clsact ffff:'
}

@test "ntc filter add: tail sections fill the prog array, the programs are pinned per filter" {
	two_ns
	run --separate-stderr ntc filter add dev va ingress bpf da obj "$PROGS/ntc_tail.bpf.o"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	# what tc shows, line by line
	[ "$(ntc filter show dev va ingress)" = "$(tc_show filter show dev va ingress)" ]
	ntc filter show dev va ingress | grep -q ' ntc_tail.bpf.o:\[tc\] direct-action .* name ntc_entry '

	# the record: the selected program, the tail program, the prog array (not pinned
	# by name, so kept here); the counter map pinned by name below maps/
	rec=$ROOT/ntc/va/ingress/49152/0x1
	[ "$(cd "$rec" && ls | sort | xargs)" = "ntc_entry ntc_jmp ntc_tail2" ]
	[ "$(stat -c %a "$rec")" = 700 ]
	[ -e "$ROOT/maps/ntc_hits" ]
	[ "$(pin_field prog "$rec/ntc_entry" id)" = "$(filter_prog_id ingress)" ]
	# "tail/ntc_jmp/2": slot 2 holds ntc_tail2, and nothing else is set
	tail_id=$(pin_field prog "$rec/ntc_tail2" id)
	[ "$(bpftool -j map dump pinned "$rec/ntc_jmp" | python3 -c 'import json, sys
print(" ".join("%s=%s" % (e["formatted"]["key"], e["formatted"]["value"])
               for e in json.load(sys.stdin)))')" = "2=$tail_id" ]

	# traffic, after ntc exited: every run of ntc_entry tail-called ntc_tail2.  Other
	# packets (ARP, IPv6 neighbour discovery) may run it between two reads, so the
	# tail runs lie between the entry runs read before and after them.
	nsenter --net="/run/netns/$NS2" ping -q -n -c 3 -i 0.2 -W 2 198.18.0.1 >/dev/null
	entry=$(hits 0)
	[ "$entry" -ge 3 ]
	tail_runs=$(hits 1)
	[ "$tail_runs" -ge "$entry" ]
	[ "$tail_runs" -le "$(hits 0)" ]
	[ "$(hits 2)" = 0 ]

	# del removes the filter and its record; maps pinned by name stay (shared)
	run ntc filter del dev va ingress pref 49152
	[ "$status" -eq 0 ]
	[ -z "$(xtc filter show dev va ingress)" ]
	[ ! -e "$ROOT/ntc" ]
	[ -e "$ROOT/maps/ntc_hits" ]
}

@test "ntc: objects share the maps pinned by name, with each other and with the datapath" {
	# the datapath first: its maps are pinned below $ROOT/maps
	run nsenter --net="/run/netns/$NS" "$LBATTACH" -P "$ROOT" attach dev vb
	[ "$status" -eq 0 ]
	drops_id=$(pin_field map "$ROOT/maps/lb_drops" id)

	run ntc filter add dev va ingress pref 10 bpf da obj "$PROGS/ntc_tail.bpf.o"
	[ "$status" -eq 0 ]
	run ntc filter add dev va egress pref 20 bpf da obj "$PROGS/ntc_share.bpf.o" sec ntc_share
	[ "$status" -eq 0 ]
	hits_id=$(pin_field map "$ROOT/maps/ntc_hits" id)
	# the same map ids: ntc_hits in both objects, lb_drops in ntc_share and the datapath
	tail_maps=$(pin_field prog "$ROOT/ntc/va/ingress/10/0x1/ntc_entry" map_ids)
	share_maps=$(pin_field prog "$ROOT/ntc/va/egress/20/0x1/ntc_share" map_ids)
	[[ "$tail_maps" == *"$hits_id"* ]]
	[[ "$share_maps" == *"$hits_id"* ]]
	[[ "$share_maps" == *"$drops_id"* ]]
	[ "$(ntc filter show dev va egress)" = "$(tc_show filter show dev va egress)" ]

	# a map of that name but another shape is refused, naming it; nothing changes
	expect_reject 1 filter add dev va egress pref 30 bpf da obj "$PROGS/ntc_badshape.bpf.o"
	[[ "$stderr" == "ntc: filter add: obj $PROGS/ntc_badshape.bpf.o: map 'ntc_hits': the map pinned at $ROOT/maps/ntc_hits has value size 8, the object's 4" ]]
	[ "$(pin_field map "$ROOT/maps/ntc_hits" id)" = "$hits_id" ]

	# a prog array pinned by name is shared too: a load fills its slot, a failed
	# load puts the slot back, the next load overwrites it
	slot() {
		bpftool -j map lookup pinned "$ROOT/maps/ntc_pjmp" key 1 0 0 0 |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["formatted"]["value"])'
	}
	run ntc filter add dev vb ingress pref 5 handle 1 bpf da obj "$PROGS/ntc_pinjmp.bpf.o"
	[ "$status" -eq 0 ]
	first=$(pin_field prog "$ROOT/ntc/vb/ingress/5/0x1/ntc_ptail" id)
	[ "$(slot)" = "$first" ]
	[ ! -e "$ROOT/ntc/vb/ingress/5/0x1/ntc_pjmp" ]
	expect_reject 1 filter add dev vb ingress pref 5 handle 1 bpf da obj "$PROGS/ntc_pinjmp.bpf.o"
	[ "$(slot)" = "$first" ]
	run ntc filter add dev vb ingress pref 6 bpf da obj "$PROGS/ntc_pinjmp.bpf.o"
	[ "$status" -eq 0 ]
	[ "$(slot)" = "$(pin_field prog "$ROOT/ntc/vb/ingress/6/0x1/ntc_ptail" id)" ]
	[ "$(slot)" != "$first" ]
}

@test "ntc: a bad object, a missing section, a bad tail key: one line, nothing pinned or attached" {
	# a program the verifier refuses (reads past the packet), with a map pinned by name
	cat >"$BATS_TEST_TMPDIR/bad.bpf.c" <<-'EOF'
	#include <linux/bpf.h>
	#include <linux/pkt_cls.h>
	#include <bpf/bpf_helpers.h>
	struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(max_entries, 1);
		__type(key, __u32);
		__type(value, __u64);
		__uint(pinning, LIBBPF_PIN_BY_NAME);
	} ntc_refused SEC(".maps");
	SEC("tc")
	int bad(struct __sk_buff *skb)
	{
		__u32 k = 0;
		__u64 *v = bpf_map_lookup_elem(&ntc_refused, &k);
		return v ? *(__u32 *)(long)skb->data : 0;
	}
	char _license[] SEC("license") = "GPL";
	EOF
	clang -g -O2 -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
		-c "$BATS_TEST_TMPDIR/bad.bpf.c" -o "$BATS_TEST_TMPDIR/bad.bpf.o"
	# without -g: BTF-defined maps and no BTF, libbpf cannot open it
	clang -O2 -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
		-c "$BATS_TEST_TMPDIR/bad.bpf.c" -o "$BATS_TEST_TMPDIR/nobtf.bpf.o"
	echo "not an object" >"$BATS_TEST_TMPDIR/text.o"

	# on a root that does not exist yet: it is not left behind either
	for hook in ingress egress; do
		expect_reject 1 filter add dev va $hook bpf da obj "$BATS_TEST_TMPDIR/text.o"
		[[ "$stderr" == "ntc: filter add: obj $BATS_TEST_TMPDIR/text.o: not a BPF object "* ]]
		expect_reject 1 filter add dev va $hook bpf da obj "$BATS_TEST_TMPDIR/nobtf.bpf.o"
		[[ "$stderr" == "ntc: filter add: obj $BATS_TEST_TMPDIR/nobtf.bpf.o: not a BPF object "* ]]
		expect_reject 1 filter add dev va $hook bpf da obj "$PROGS/ntc_tail.bpf.o" sec nosuch
		[ "$stderr" = "ntc: filter add: obj $PROGS/ntc_tail.bpf.o: no program or section 'nosuch'" ]
		expect_reject 1 filter add dev va $hook bpf da obj "$PROGS/ntc_badtail.bpf.o"
		[ "$stderr" = "ntc: filter add: obj $PROGS/ntc_badtail.bpf.o: section 'tail/ntc_jmp/4': key '4' is not an index of 'ntc_jmp' (0 to 3)" ]
		expect_reject 1 filter add dev va $hook bpf da obj "$BATS_TEST_TMPDIR/bad.bpf.o"
		[[ "$stderr" == "ntc: filter add: obj $BATS_TEST_TMPDIR/bad.bpf.o: the kernel refused to load it "* ]]
		expect_reject 1 filter replace dev va $hook pref 3 handle 3 bpf da obj "$OBJ" sec xdp
		[[ "$stderr" == *"program 'trivial_xdp' (section xdp) has type xdp, not a tc classifier" ]]
	done
	[ ! -e "$ROOT" ]
	[ -z "$(xtc qdisc show dev va | grep clsact)" ]

	# on a root in use, with a filter of ours: its pins and maps stay as they are
	run ntc filter add dev va ingress pref 5 bpf da obj "$PROGS/ntc_tail.bpf.o"
	[ "$status" -eq 0 ]
	expect_reject 1 filter add dev va ingress pref 6 bpf da obj "$BATS_TEST_TMPDIR/text.o"
	expect_reject 1 filter add dev va egress bpf da obj "$PROGS/ntc_tail.bpf.o" sec nosuch
	expect_reject 1 filter add dev va ingress pref 6 bpf da obj "$PROGS/ntc_badtail.bpf.o"
	expect_reject 1 filter add dev va egress bpf da obj "$BATS_TEST_TMPDIR/bad.bpf.o"
	[ ! -e "$ROOT/maps/ntc_refused" ]
	# the same pref and handle again: the kernel's message, the first filter intact
	expect_reject 1 filter add dev va ingress pref 5 handle 1 bpf da obj "$PROGS/ntc_tail.bpf.o"
	[ "$stderr" = "ntc: filter add: Filter already exists: File exists" ]
	[ "$(pin_field prog "$ROOT/ntc/va/ingress/5/0x1/ntc_entry" id)" = "$(filter_prog_id ingress)" ]
}

@test "ntc filter replace swaps the record; records of filters gone are removed" {
	run ntc filter add dev va ingress pref 10 handle 1 bpf da obj "$PROGS/ntc_tail.bpf.o"
	[ "$status" -eq 0 ]
	old=$(filter_prog_id ingress)
	run ntc filter replace dev va ingress pref 10 handle 1 bpf da obj "$PROGS/ntc_tail.bpf.o"
	[ "$status" -eq 0 ]
	new=$(filter_prog_id ingress)
	[ "$old" != "$new" ]
	rec=$ROOT/ntc/va/ingress/10/0x1
	[ "$(pin_field prog "$rec/ntc_entry" id)" = "$new" ]
	[ "$(cd "$rec" && ls | sort | xargs)" = "ntc_entry ntc_jmp ntc_tail2" ]
	# the new prog array holds the new tail program
	[ "$(bpftool -j map dump pinned "$rec/ntc_jmp" | python3 -c 'import json, sys
print(json.load(sys.stdin)[0]["formatted"]["value"])')" = "$(pin_field prog "$rec/ntc_tail2" id)" ]
	[ "$(ntc filter show dev va ingress)" = "$(tc_show filter show dev va ingress)" ]

	# a filter tc deletes loses its record at the next ntc command on that hook
	run ntc filter add dev va ingress pref 20 bpf da obj "$OBJ"
	[ "$status" -eq 0 ]
	[ -e "$ROOT/ntc/va/ingress/20/0x1/trivial_tc" ]
	xtc filter del dev va ingress pref 20
	run ntc filter add dev va ingress pref 30 bpf obj "$OBJ"
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/ntc/va/ingress/20" ]
	[ -e "$ROOT/ntc/va/ingress/30/0x1/trivial_tc" ]
	[ -e "$ROOT/ntc/va/ingress/10/0x1/ntc_entry" ]

	# qdisc del takes every filter, and with them every record of the device
	run ntc filter add dev va egress bpf da obj "$OBJ"
	[ "$status" -eq 0 ]
	[ -d "$ROOT/ntc/va/egress" ]
	run ntc qdisc del dev va clsact
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/ntc" ]
}

@test "ntc against real tc: same visible result for add, show and del" {
	# the same commands, once with tc on va, once with ntc on vb
	same() {
		# ids differ between two loads; everything else must not
		[ "$(tc_show filter show dev va "$1" | sed 's/ id [0-9]* / id N /')" = \
		  "$(tc_show filter show dev vb "$1" | sed 's/ id [0-9]* / id N /')" ]
		[ "$(tc_show filter show dev va "$1" | sed 's/ id [0-9]* / id N /')" = \
		  "$(ntc filter show dev vb "$1" | sed 's/ id [0-9]* / id N /')" ]
	}
	do_both() {
		xtc "$@" dev va "${rest[@]}"
		ntc "$@" dev vb "${rest[@]}"
	}
	xtc qdisc add dev va clsact
	ntc qdisc add dev vb clsact
	[ "$(tc_show qdisc show dev va | sed 's/ dev va//')" = "$(ntc qdisc show dev vb | sed 's/ dev vb//')" ]

	rest=(ingress pref 10 handle 2 protocol ip bpf da obj "$OBJ" sec tc)
	do_both filter add
	rest=(ingress bpf obj "$OBJ" sec tc)
	do_both filter add
	rest=(egress protocol ipv6 bpf da obj "$PROGS/ntc_tail.bpf.o" sec tc)
	do_both filter add
	rest=(egress pref 7 bpf da obj "$OBJ" sec tc)
	do_both filter add
	same ingress
	same egress
	[ -n "$(tc_show filter show dev vb ingress)" ]

	rest=(ingress pref 10 handle 2 protocol ip bpf da obj "$OBJ" sec tc)
	do_both filter replace
	same ingress

	rest=(ingress pref 10)
	do_both filter del
	same ingress
	[ -z "$(tc_show filter show dev vb ingress | grep 'pref 10 ')" ]
	rest=(egress)
	do_both filter del
	same egress
	[ -z "$(tc_show filter show dev vb egress)" ]

	rest=(clsact)
	do_both qdisc del
	[ "$(tc_show qdisc show dev va | sed 's/ dev va//')" = "$(ntc qdisc show dev vb | sed 's/ dev vb//')" ]
	[ -z "$(xtc qdisc show dev vb | grep clsact)" ]
	# ntc's records of vb went with its filters
	[ ! -e "$ROOT/ntc/vb" ]
}
