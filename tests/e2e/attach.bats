#!/usr/bin/env bats
# lbattach: attach / show / detach / destroy on real veths in private namespaces.

# shellcheck disable=SC2154 # status, output, lines, stderr: set by bats' run
load helpers

setup() {
	lbt_setup
	lbt_topo
}

teardown() {
	lbt_teardown
}

# The one attachment of HOOK on $DEV_L from "lbattach -j show", as JSON.
attachment_json() {
	lbattach_l -j show | "$PY" -c '
import json, sys
dev, hook = sys.argv[1:3]
a = [x for x in json.load(sys.stdin) if x["ifname"] == dev and x["hook"] == hook]
assert len(a) == 1, a
print(json.dumps(a[0]))' "$DEV_L" "$1"
}

# check_json_attachment HOOK MODE PROG LINK(yes|null): every field, types included.
check_json_attachment() {
	local j ifindex
	j=$(attachment_json "$1")
	ifindex=$(ip -n "$NS_L" -j link show dev "$DEV_L" | json_get 'j[0]["ifindex"]')
	"$PY" -c '
import json, sys
a = json.loads(sys.argv[1])
dev, ifindex, hook, mode, prog, link = sys.argv[2:8]
assert set(a) == {"ifname", "ifindex", "hook", "mode", "prog", "prog_id", "link_id"}, a
assert a["ifname"] == dev, a
assert a["ifindex"] == int(ifindex), a
assert a["hook"] == hook, a
assert a["mode"] == mode, a
assert a["prog"] == prog, a
assert isinstance(a["prog_id"], int) and a["prog_id"] > 0, a
if link == "null":
    assert a["link_id"] is None, a
else:
    assert isinstance(a["link_id"], int) and a["link_id"] > 0, a
' "$j" "$DEV_L" "$ifindex" "$1" "$2" "$3" "$4"
}

# XDP as the kernel sees it: "MODE PROGID" (mode 1 driver, 2 generic), "none".
xdp_kernel() {
	ip -n "$NS_L" -d -j link show dev "$DEV_L" | "$PY" -c '
import json, sys
x = json.load(sys.stdin)[0].get("xdp")
print("%d %d" % (x["mode"], x["prog"]["id"]) if x and "prog" in x else "none")'
}

@test "attach tc (default): tcx ingress link, show text and json, detach" {
	run --separate-stderr lbattach_l attach dev "$DEV_L"
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "" "attach is quiet on success"

	run --separate-stderr lbattach_l show
	assert_status 0
	assert_no_stderr
	[[ $output =~ ^dev\ $DEV_L\ tc-ingress\ mode\ tcx\ prog\ lb_tc_ingress\ id\ ([0-9]+)\ link\ ([0-9]+)$ ]] ||
		{ echo "show: $output" >&2; false; }
	local id=${BASH_REMATCH[1]} link=${BASH_REMATCH[2]}

	check_json_attachment tc-ingress tcx lb_tc_ingress yes
	assert_eq "$(attachment_json tc-ingress | json_get 'j["prog_id"]')" "$id" "json prog_id"
	assert_eq "$(attachment_json tc-ingress | json_get 'j["link_id"]')" "$link" "json link_id"

	# The kernel agrees: that program sits on the tcx ingress hook, held by that link.
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress)" "$id:$link" "kernel: tcx ingress"
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" egress)" none "kernel: tcx egress"
	assert_eq "$(bpftool -j link show id "$link" | json_get 'j["prog_id"]')" "$id" "link's program"
	assert_eq "$(bpftool -j prog show id "$id" | json_get 'j["name"]')" lb_tc_ingress "prog name"

	run --separate-stderr lbattach_l detach dev "$DEV_L" tc ingress
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "" "detach is quiet"
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress)" none "tcx ingress after detach"
	run bpftool link show id "$link"
	[ "$status" -ne 0 ] || { echo "link $link still exists: $output" >&2; false; }
	assert_eq "$(lbattach_l show)" "" "show after detach"
	assert_eq "$(lbattach_l -j show | json_get 'j')" "[]" "json show after detach"
}

@test "attach tc egress: tcx egress link" {
	lbattach_l attach dev "$DEV_L" tc egress
	run --separate-stderr lbattach_l show
	assert_status 0
	[[ $output =~ ^dev\ $DEV_L\ tc-egress\ mode\ tcx\ prog\ lb_tc_egress\ id\ ([0-9]+)\ link\ ([0-9]+)$ ]] ||
		{ echo "show: $output" >&2; false; }
	local id=${BASH_REMATCH[1]} link=${BASH_REMATCH[2]}
	check_json_attachment tc-egress tcx lb_tc_egress yes
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" egress)" "$id:$link" "kernel: tcx egress"
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress)" none "nothing on ingress"

	# "egress" alone means tc egress
	lbattach_l detach dev "$DEV_L" egress
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" egress)" none "tcx egress after detach"
	assert_eq "$(lbattach_l show)" "" "show after detach"
}

@test "attach xdp (native by default on veth)" {
	run --separate-stderr lbattach_l attach dev "$DEV_L" xdp
	assert_status 0
	assert_no_stderr
	run --separate-stderr lbattach_l show
	[[ $output =~ ^dev\ $DEV_L\ xdp\ mode\ native\ prog\ lb_xdp\ id\ ([0-9]+)\ link\ [0-9]+$ ]] ||
		{ echo "show: $output" >&2; false; }
	local id=${BASH_REMATCH[1]}
	check_json_attachment xdp native lb_xdp yes
	assert_eq "$(xdp_kernel)" "1 $id" "ip link: xdp driver mode, our program"

	lbattach_l detach dev "$DEV_L" xdp
	assert_eq "$(xdp_kernel)" none "xdp after detach"
	assert_eq "$(lbattach_l show)" "" "show after detach"
}

@test "attach xdp mode native and mode generic" {
	lbattach_l attach dev "$DEV_L" xdp mode native
	check_json_attachment xdp native lb_xdp yes
	assert_eq "$(xdp_kernel | cut -d' ' -f1)" 1 "driver mode"
	lbattach_l detach dev "$DEV_L" xdp

	run --separate-stderr lbattach_l attach dev "$DEV_L" xdp mode generic
	assert_status 0
	assert_no_stderr
	run --separate-stderr lbattach_l show
	[[ $output =~ ^dev\ $DEV_L\ xdp\ mode\ generic\ prog\ lb_xdp\ id\ ([0-9]+)\ link\ [0-9]+$ ]] ||
		{ echo "show: $output" >&2; false; }
	local id=${BASH_REMATCH[1]}
	check_json_attachment xdp generic lb_xdp yes
	assert_eq "$(xdp_kernel)" "2 $id" "ip link: xdp generic (skb) mode, our program"

	lbattach_l detach dev "$DEV_L" xdp
	assert_eq "$(xdp_kernel)" none "xdp after detach"
}

@test "attach tc mode clsact: cls_bpf filter and clsact qdisc, both removed by detach" {
	run --separate-stderr lbattach_l attach dev "$DEV_L" tc ingress mode clsact
	assert_status 0
	assert_no_stderr
	run --separate-stderr lbattach_l show
	[[ $output =~ ^dev\ $DEV_L\ tc-ingress\ mode\ clsact\ prog\ lb_tc_ingress\ id\ ([0-9]+)$ ]] ||
		{ echo "show: $output" >&2; false; }
	local id=${BASH_REMATCH[1]}
	check_json_attachment tc-ingress clsact lb_tc_ingress null

	# What tc itself sees: the clsact qdisc and our direct-action filter.
	run ip netns exec "$NS_L" tc qdisc show dev "$DEV_L"
	[[ $output == *"qdisc clsact ffff:"* ]] || { echo "qdisc: $output" >&2; false; }
	run ip netns exec "$NS_L" tc filter show dev "$DEV_L" ingress
	[[ $output == *"pref 50000 bpf"* ]] || { echo "filter: $output" >&2; false; }
	[[ $output == *"handle 0x1 lb_tc_ingress direct-action"* ]] || { echo "filter: $output" >&2; false; }
	[[ $output == *" id $id "* ]] || { echo "filter prog id (want $id): $output" >&2; false; }
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress)" none "no tcx link in clsact mode"

	run --separate-stderr lbattach_l detach dev "$DEV_L" tc ingress
	assert_status 0
	assert_no_stderr
	run ip netns exec "$NS_L" tc filter show dev "$DEV_L" ingress
	assert_eq "$output" "" "ingress filters after detach"
	run ip netns exec "$NS_L" tc qdisc show dev "$DEV_L"
	[[ $output != *clsact* ]] || { echo "clsact qdisc left behind: $output" >&2; false; }
	assert_eq "$(lbattach_l show)" "" "show after detach"
}

@test "attach tc egress mode clsact next to a foreign filter keeps the qdisc on detach" {
	# A clsact qdisc and a filter that are not ours: detach must leave both.
	tc -n "$NS_L" qdisc add dev "$DEV_L" clsact
	tc -n "$NS_L" filter add dev "$DEV_L" ingress pref 10 protocol all \
		bpf da obj "$LB_REPO/build/bpf/lb_trivial.bpf.o" sec tc
	lbattach_l attach dev "$DEV_L" egress mode clsact
	check_json_attachment tc-egress clsact lb_tc_egress null
	run ip netns exec "$NS_L" tc filter show dev "$DEV_L" egress
	[[ $output == *"lb_tc_egress direct-action"* ]] || { echo "filter: $output" >&2; false; }

	lbattach_l detach dev "$DEV_L" egress
	run ip netns exec "$NS_L" tc filter show dev "$DEV_L" egress
	assert_eq "$output" "" "egress filters after detach"
	run ip netns exec "$NS_L" tc filter show dev "$DEV_L" ingress
	[[ $output == *"pref 10 bpf"* ]] || { echo "foreign filter gone: $output" >&2; false; }
	run ip netns exec "$NS_L" tc qdisc show dev "$DEV_L"
	[[ $output == *clsact* ]] || { echo "foreign clsact qdisc removed: $output" >&2; false; }
}

@test "attaching twice is harmless: exit 0, nothing changes" {
	local hooks=("tc ingress" "tc egress" "xdp")
	local h before_text before_json

	for h in "${hooks[@]}"; do
		# shellcheck disable=SC2086 # the hook is two words on purpose
		lbattach_l attach dev "$DEV_L" $h
	done
	before_text=$(lbattach_l show)
	before_json=$(lbattach_l -j show)
	[ "$(wc -l <<<"$before_text")" -eq 3 ] || { echo "show: $before_text" >&2; false; }

	for h in "${hooks[@]}"; do
		# shellcheck disable=SC2086
		run --separate-stderr lbattach_l attach dev "$DEV_L" $h
		assert_status 0
		assert_no_stderr
		assert_eq "$output" "" "second attach ($h) is quiet"
	done
	# same mode named explicitly: still nothing to do
	run --separate-stderr lbattach_l attach dev "$DEV_L" xdp mode native
	assert_status 0
	assert_no_stderr
	assert_eq "$(lbattach_l show)" "$before_text" "show text after attaching again"
	assert_eq "$(lbattach_l -j show)" "$before_json" "show json (prog and link ids) after attaching again"
}

@test "show: sorted, one line per attachment; 'show dev' filters" {
	lbt_topo2
	lbattach_l attach dev "$DEV_L2" tc egress
	lbattach_l attach dev "$DEV_L" tc ingress
	lbattach_l attach dev "$DEV_L" xdp
	lbattach_l attach dev "$DEV_L2" tc ingress mode clsact

	run --separate-stderr lbattach_l show
	assert_status 0
	[ "${#lines[@]}" -eq 4 ] || { echo "show: $output" >&2; false; }
	# vl<ID> sorts before wl<ID>; per device: xdp, tc-ingress, tc-egress
	[[ ${lines[0]} == "dev $DEV_L xdp mode native prog lb_xdp id "* ]]
	[[ ${lines[1]} == "dev $DEV_L tc-ingress mode tcx prog lb_tc_ingress id "* ]]
	[[ ${lines[2]} =~ ^dev\ $DEV_L2\ tc-ingress\ mode\ clsact\ prog\ lb_tc_ingress\ id\ [0-9]+$ ]]
	[[ ${lines[3]} == "dev $DEV_L2 tc-egress mode tcx prog lb_tc_egress id "* ]]

	run --separate-stderr lbattach_l show dev "$DEV_L2"
	assert_status 0
	[ "${#lines[@]}" -eq 2 ] || { echo "show dev: $output" >&2; false; }
	[[ $output != *"dev $DEV_L "* ]]

	run --separate-stderr lbattach_l -j show dev "$DEV_L"
	assert_status 0
	assert_eq "$(json_get '[(a["ifname"], a["hook"]) for a in j]' <<<"$output")" \
		"[[\"$DEV_L\", \"xdp\"], [\"$DEV_L\", \"tc-ingress\"]]" "json show dev"
}

@test "detach without a hook removes all our hooks on that device only" {
	lbt_topo2
	lbattach_l attach dev "$DEV_L" xdp
	lbattach_l attach dev "$DEV_L" tc ingress
	lbattach_l attach dev "$DEV_L" tc egress mode clsact
	lbattach_l attach dev "$DEV_L2" tc ingress

	run --separate-stderr lbattach_l detach dev "$DEV_L"
	assert_status 0
	assert_no_stderr
	assert_eq "$(xdp_kernel)" none "xdp after detach"
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress)" none "tcx ingress after detach"
	run ip netns exec "$NS_L" tc filter show dev "$DEV_L" egress
	assert_eq "$output" "" "clsact egress filter after detach"
	run --separate-stderr lbattach_l -j show
	assert_eq "$(json_get '[(a["ifname"], a["hook"]) for a in j]' <<<"$output")" \
		"[[\"$DEV_L2\", \"tc-ingress\"]]" "what is left"
	[ ! -e "$ROOT/links/$DEV_L" ] || { ls -la "$ROOT/links/$DEV_L" >&2; false; }
}

@test "detach keeps the maps: counters survive detach and re-attach" {
	lbattach_l attach dev "$DEV_L"
	lbt_ping "$NS_C" "$IP_L" 3
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp packets)" 3 "icmp after 3 pings"

	lbattach_l detach dev "$DEV_L"
	[ -e "$ROOT/maps/lb_if_stats" ] && [ -e "$ROOT/maps/lb_config" ] &&
		[ -e "$ROOT/progs/lb_tc_ingress" ] || { find "$ROOT" >&2; false; }
	assert_eq "$(lbattach_l show)" "" "nothing attached"
	# Not attached: traffic is not counted, the old counts are still there.
	lbt_ping "$NS_C" "$IP_L" 2
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp packets)" 3 "icmp while detached"
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp bytes)" $((3 * 98)) "icmp bytes while detached"

	lbattach_l attach dev "$DEV_L"
	lbt_ping "$NS_C" "$IP_L" 4
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp packets)" 7 "icmp after re-attach"
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress rx bytes)" $((7 * 98)) "rx bytes after re-attach"
}

@test "destroy detaches everything and removes every pin" {
	lbt_topo2
	lbattach_l attach dev "$DEV_L" xdp
	lbattach_l attach dev "$DEV_L" tc ingress
	lbattach_l attach dev "$DEV_L2" tc egress mode clsact
	lbt_ping "$NS_C" "$IP_L" 1
	local links
	links=$(lbattach_l -j show | json_get '" ".join(str(a["link_id"]) for a in j if a["link_id"])')

	run --separate-stderr lbattach_l destroy
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "" "destroy is quiet"

	# No pin is left (only what bpffs itself creates on a fresh mount: *.debug).
	run find "$ROOT" -mindepth 1 ! -name '*.debug'
	assert_eq "$output" "" "left in the pin root"
	# The kernel has nothing of ours attached any more.
	assert_eq "$(xdp_kernel)" none "xdp after destroy"
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress)" none "tcx after destroy"
	run ip netns exec "$NS_L" tc filter show dev "$DEV_L2" egress
	assert_eq "$output" "" "clsact filter after destroy"
	run ip netns exec "$NS_L" tc qdisc show dev "$DEV_L2"
	[[ $output != *clsact* ]] || { echo "clsact qdisc left: $output" >&2; false; }
	local l
	for l in $links; do
		run bpftool link show id "$l"
		[ "$status" -ne 0 ] || { echo "link $l survived destroy: $output" >&2; false; }
	done
	run --separate-stderr lbattach_l show
	assert_status 0
	assert_eq "$output" "" "show after destroy"
	# and the root can be used again from scratch
	lbattach_l attach dev "$DEV_L"
	lbt_ping "$NS_C" "$IP_L" 2
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp packets)" 2 "fresh counters after destroy"
}

@test "an interface that went away shows as (gone); detach clears its records" {
	lbattach_l attach dev "$DEV_L" tc ingress
	lbattach_l attach dev "$DEV_L" tc egress mode clsact
	# deleting the client namespace deletes the veth pair
	ip netns del "$NS_C"
	run --separate-stderr lbattach_l show
	assert_status 0
	[ "${#lines[@]}" -eq 2 ] || { echo "show: $output" >&2; false; }
	[[ ${lines[0]} == "dev $DEV_L (gone) tc-ingress mode tcx prog lb_tc_ingress id "* ]] ||
		{ echo "show: $output" >&2; false; }
	[[ ${lines[1]} == "dev $DEV_L (gone) tc-egress mode clsact prog lb_tc_egress id "* ]] ||
		{ echo "show: $output" >&2; false; }
	run --separate-stderr lbattach_l -j show
	assert_eq "$(json_get '[(a["ifname"], a["ifindex"]) for a in j]' <<<"$output")" \
		"[[\"$DEV_L\", 0], [\"$DEV_L\", 0]]" "json: ifindex 0 when gone"

	run --separate-stderr lbattach_l detach dev "$DEV_L"
	assert_status 0
	assert_no_stderr
	assert_eq "$(lbattach_l show)" "" "show after detach"
	[ ! -e "$ROOT/links/$DEV_L" ] || { find "$ROOT/links" >&2; false; }
}

@test "a stale record of a re-created interface is replaced by attach" {
	lbattach_l attach dev "$DEV_L" tc ingress
	# a new veth pair with the same names
	ip netns del "$NS_C"
	lbt__pair "$NS_C" "$DEV_C" "$DEV_L" "$IP_C" "$IP_L"
	run --separate-stderr lbattach_l show
	[[ $output == "dev $DEV_L (gone) tc-ingress "* ]] || { echo "show: $output" >&2; false; }
	run --separate-stderr lbattach_l attach dev "$DEV_L" tc ingress
	assert_status 0
	run --separate-stderr lbattach_l show
	[[ $output =~ ^dev\ $DEV_L\ tc-ingress\ mode\ tcx\ prog\ lb_tc_ingress\ id\ ([0-9]+)\ link\ ([0-9]+)$ ]] ||
		{ echo "show: $output" >&2; false; }
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress)" "${BASH_REMATCH[1]}:${BASH_REMATCH[2]}" "kernel: tcx ingress"
	lbt_ping "$NS_C" "$IP_L" 2
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp packets)" 2 "counted on the new interface"
}

@test "unique prefixes: 'lbattach sh', 'lbattach att dev X', 'det'" {
	run --separate-stderr lbattach_l att dev "$DEV_L" x
	assert_status 0
	assert_no_stderr
	run --separate-stderr lbattach_l sh
	assert_status 0
	[[ $output =~ ^dev\ $DEV_L\ xdp\ mode\ native\ prog\ lb_xdp\ id\ [0-9]+\ link\ [0-9]+$ ]] ||
		{ echo "sh: $output" >&2; false; }
	run --separate-stderr lbattach_l -j s
	assert_status 0
	assert_eq "$(json_get 'j[0]["hook"]' <<<"$output")" xdp "json via prefix"
	run --separate-stderr lbattach_l att dev "$DEV_L" t eg mo tcx
	assert_status 0
	assert_eq "$(lbattach_l -j show dev "$DEV_L" | json_get '[a["hook"] for a in j]')" \
		'["xdp", "tc-egress"]' "hooks after prefix attach"
	run --separate-stderr lbattach_l det dev "$DEV_L"
	assert_status 0
	assert_eq "$(lbattach_l show)" "" "show after 'det'"
}

@test "help at every level, -V" {
	run --separate-stderr "$LBATTACH" help
	assert_status 0
	[[ ${lines[0]} == "Usage: lbattach "* ]]
	run --separate-stderr "$LBATTACH" attach help
	assert_status 0
	[[ $output == *"lbattach attach dev IFNAME"* ]]
	run --separate-stderr "$LBATTACH" -h
	assert_status 0
	[[ ${lines[0]} == "Usage: lbattach "* ]]
	run --separate-stderr "$LBATTACH" -V
	assert_status 0
	[[ $output =~ ^lbattach\ lbkit\ [0-9][0-9.]*\ \(abi\ [0-9]+\)$ ]] || { echo "-V: $output" >&2; false; }
}
