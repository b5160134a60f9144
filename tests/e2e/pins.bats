#!/usr/bin/env bats
# The pin root: permissions, how it is chosen (-P, LB_PIN_ROOT), isolation between
# roots, and state that lives on in the kernel after every tool has exited.

# shellcheck disable=SC2154 # status, output, lines, stderr: set by bats' run
load helpers

setup() {
	lbt_setup
	lbt_topo
}

teardown() {
	lbt_teardown
}

# Does the pin root R hold an attachment record for DEV HOOK?
attached_in() {
	lb_ns "$NS_L" "$LBATTACH" -P "$1" -j show |
		"$PY" -c 'import json, sys
sys.exit(0 if any(a["ifname"] == sys.argv[1] and a["hook"] == sys.argv[2]
                  for a in json.load(sys.stdin)) else 1)' "$2" "$3"
}

@test "pins are mode 0600 owned by root, directories 0700" {
	lbattach_l attach dev "$DEV_L" xdp
	lbattach_l attach dev "$DEV_L" tc ingress
	lbattach_l attach dev "$DEV_L" tc egress mode clsact
	# every kind of pin is there: maps, programs, link pins, the clsact record
	local p
	for p in maps/lb_config maps/lb_if_stats progs/lb_xdp progs/lb_tc_ingress \
		progs/lb_tc_egress "links/$DEV_L/xdp" "links/$DEV_L/tc-ingress" \
		"links/$DEV_L/tc-egress"; do
		[ -f "$ROOT/$p" ] || { echo "no pin $p" >&2; find "$ROOT" >&2; false; }
	done
	# *.debug at the top are made by bpffs itself on mount (bpf_preload), not pins.
	run find "$ROOT" -mindepth 1 ! -name '*.debug' -type f ! -perm 0600
	assert_eq "$output" "" "pins not 0600"
	run find "$ROOT" -mindepth 1 ! -name '*.debug' ! -type f ! -type d
	assert_eq "$output" "" "neither pin nor directory"
	run find "$ROOT" -type d ! -perm -0700
	assert_eq "$output" "" "directories without rwx for the owner"
	run find "$ROOT" -type d -perm /0077
	assert_eq "$output" "" "directories open to group or others"
	run find "$ROOT" ! -user root
	assert_eq "$output" "" "not owned by root"
	# bpffs mounted on the root itself, mode 0700
	mountpoint -q "$ROOT"
	assert_eq "$(stat -f -c %T "$ROOT")" bpf_fs "filesystem of $ROOT"
	assert_eq "$(($(stat -c '0%a' "$ROOT") & 0777))" $((0700)) "mode of $ROOT"
}

@test "-P and LB_PIN_ROOT both select the root; -P wins" {
	local other=$T/other
	lbt_add_root "$other"
	# env only
	lb_ns "$NS_L" env LB_PIN_ROOT="$ROOT" "$LBATTACH" attach dev "$DEV_L" tc ingress
	[ -f "$ROOT/links/$DEV_L/tc-ingress" ] || { find "$ROOT" >&2; false; }
	attached_in "$ROOT" "$DEV_L" tc-ingress
	run lb_ns "$NS_L" env LB_PIN_ROOT="$ROOT" "$LBATTACH" show
	assert_status 0
	[[ $output == "dev $DEV_L tc-ingress mode tcx "* ]] || { echo "show: $output" >&2; false; }
	lbt_ping "$NS_C" "$IP_L" 2
	run lb_ns "$NS_L" env LB_PIN_ROOT="$ROOT" "$LBCTL" -j stats
	assert_status 0
	assert_eq "$(json_get 'j[0]["counters"]["icmp"]["packets"]' <<<"$output")" 2 "stats via LB_PIN_ROOT"

	# -P overrides the environment: the root named by the env is not touched
	lb_ns "$NS_L" env LB_PIN_ROOT="$other" "$LBATTACH" -P "$ROOT" attach dev "$DEV_L" xdp
	lb_ns "$NS_L" env LB_PIN_ROOT="$other" "$LBATTACH" --pin-root "$ROOT" show >"$T/show"
	assert_eq "$(wc -l <"$T/show")" 2 "attachments in -P root"
	[ ! -e "$other" ] || { echo "$other was created" >&2; false; }
	attached_in "$ROOT" "$DEV_L" xdp
}

@test "two pin roots never see each other's state" {
	lbt_topo2
	local a=$ROOT b=$T/b
	lbt_add_root "$b"
	lbattach_l attach dev "$DEV_L" tc ingress
	lb_ns "$NS_L" "$LBATTACH" -P "$b" attach dev "$DEV_L2" tc ingress
	lbt_ping "$NS_C" "$IP_L" 3
	lbt_ping "$NS_C2" "$IP_L2" 4

	run lb_ns "$NS_L" "$LBATTACH" -P "$a" -j show
	assert_eq "$(json_get '[a["ifname"] for a in j]' <<<"$output")" "[\"$DEV_L\"]" "show under A"
	run lb_ns "$NS_L" "$LBATTACH" -P "$b" -j show
	assert_eq "$(json_get '[a["ifname"] for a in j]' <<<"$output")" "[\"$DEV_L2\"]" "show under B"
	run lb_ns "$NS_L" "$LBCTL" -P "$a" -j stats
	assert_eq "$(json_get '[(e["ifname"], e["counters"]["icmp"]["packets"]) for e in j]' <<<"$output")" \
		"[[\"$DEV_L\", 3]]" "stats under A"
	run lb_ns "$NS_L" "$LBCTL" -P "$b" -j stats
	assert_eq "$(json_get '[(e["ifname"], e["counters"]["icmp"]["packets"]) for e in j]' <<<"$output")" \
		"[[\"$DEV_L2\", 4]]" "stats under B"
	# different maps and programs
	local ida idb
	ida=$(bpftool -j map show pinned "$a/maps/lb_if_stats" | json_get 'j["id"]')
	idb=$(bpftool -j map show pinned "$b/maps/lb_if_stats" | json_get 'j["id"]')
	[ "$ida" != "$idb" ] || { echo "both roots use map $ida" >&2; false; }

	# reset and destroy under A leave B alone
	lb_ns "$NS_L" "$LBCTL" -P "$a" stats reset
	assert_eq "$(lbt_ctr "$DEV_L2" tc-ingress icmp packets "$b")" 4 "B after reset of A"
	lb_ns "$NS_L" "$LBATTACH" -P "$a" destroy
	attached_in "$b" "$DEV_L2" tc-ingress
	lbt_ping "$NS_C2" "$IP_L2" 1
	assert_eq "$(lbt_ctr "$DEV_L2" tc-ingress icmp packets "$b")" 5 "B still counts"
}

@test "two pin roots on the same device: tcx runs both, each counts in its own maps" {
	local b=$T/b
	lbt_add_root "$b"
	lbattach_l attach dev "$DEV_L" tc ingress
	lb_ns "$NS_L" "$LBATTACH" -P "$b" attach dev "$DEV_L" tc ingress
	# two programs on the hook, in attach order
	run lbt_tcx "$NS_L" "$DEV_L" ingress
	[[ $output =~ ^[0-9]+:[0-9]+\ [0-9]+:[0-9]+$ ]] || { echo "tcx: $output" >&2; false; }
	lbt_ping "$NS_C" "$IP_L" 3
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp packets)" 3 "A"
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp packets "$b")" 3 "B"
	# XDP has one program per device: B cannot take A's place
	lbattach_l attach dev "$DEV_L" xdp
	run --separate-stderr lb_ns "$NS_L" "$LBATTACH" -P "$b" attach dev "$DEV_L" xdp
	assert_status 1
	assert_err_line lbattach "^lbattach: .*$DEV_L"
	attached_in "$ROOT" "$DEV_L" xdp
	if attached_in "$b" "$DEV_L" xdp; then
		echo "B recorded an xdp attachment it could not make" >&2
		false
	fi
	# detaching B's tc ingress keeps A's
	lb_ns "$NS_L" "$LBATTACH" -P "$b" detach dev "$DEV_L" tc ingress
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress)" \
		"$(lbattach_l -j show | json_get '"%d:%d" % [(a["prog_id"], a["link_id"]) for a in j if a["hook"] == "tc-ingress"][0]')" \
		"tcx ingress after B detached"
}

@test "the datapath keeps working after every tool has exited" {
	lbattach_l attach dev "$DEV_L" tc ingress
	lbattach_l attach dev "$DEV_L" xdp
	local show
	show=$(lbattach_l -j show)
	# No process of ours is left running with this root.
	run pgrep -f -- "-P $ROOT"
	assert_eq "$output" "" "processes using $ROOT"
	# The kernel still holds both attachments (pinned links) ...
	local link
	for link in $(json_get '" ".join(str(a["link_id"]) for a in j)' <<<"$show"); do
		bpftool link show id "$link" >/dev/null
	done
	# ... and they count.
	lbt_ping "$NS_C" "$IP_L" 3
	assert_eq "$(lbt_ctr "$DEV_L" xdp icmp packets)" 3 "xdp"
	assert_eq "$(lbt_ctr "$DEV_L" tc-ingress icmp packets)" 3 "tc ingress"
	# A later run finds everything as it was left.
	assert_eq "$(lbattach_l -j show)" "$show" "show, later"
}
