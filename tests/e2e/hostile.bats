#!/usr/bin/env bats
# A hostile environment: a map of another type or size pinned under one of our
# names, a user without privileges, our maps written raw by another tool.  The
# tools refuse in one line "TOOL: ...", exit 1, and nothing changes: the foreign map
# is never read or written (every command that would use it refuses), save never
# writes a file restore refuses.

# shellcheck disable=SC2154 # status, output, lines, stderr: set by bats' run
load helpers

NTC=$LB_REPO/build/bin/ntc
RL_OBJ=$LB_REPO/build/examples/ratelimit.bpf.o
VIP=198.18.100.1
EP=198.18.200.1

ntc_l() { lb_ns "$NS_L" "$NTC" -P "$ROOT" "$@"; }

setup() {
	lbt_setup
	lbt_topo
	lbattach_l attach dev "$DEV_L" tc ingress
	lbctl_l service add "$VIP" port 80
	lbctl_l endpoint add "$EP" port 8080 service "$VIP" port 80
}

teardown() {
	lbt_teardown
}

# What a refused command must leave as it is: attachments, counters, the tree, and
# every map pinned under our names, read with bpftool (not with our tools).
state() {
	local m
	lbt_state
	for m in lb_services lb_endpoints lb_config lb_svc_eps; do
		echo "== $m"
		bpftool -j map dump pinned "$ROOT/maps/$m" 2>&1
	done
}

# rejected STATUS REGEX COMMAND...: exit STATUS, nothing on stdout, one line on
# stderr matching REGEX (which starts with "^TOOL: "), nothing changed.
rejected() {
	local want=$1 re=$2 tool
	shift 2
	tool=${re#^}
	tool=${tool%%:*}
	run --separate-stderr "$@" </dev/null
	assert_status "$want"
	assert_err_line "$tool" "$re"
	assert_eq "$output" "" "stdout of a rejected command"
	assert_eq "$(state)" "$BEFORE" "state after: $*"
}

# every_tool REGEX-AFTER-TOOL [RUNNER...]: the main commands of every tool, each
# run under RUNNER and refused with "TOOL: REGEX".
every_tool() {
	local re=$1 save=$T/saved
	shift
	echo "# saved before" >"$save"
	local args
	for args in "attach dev $DEV_L tc egress" "attach dev $DEV_L xdp" \
		"detach dev $DEV_L tc ingress" "show" "chain show"; do
		# shellcheck disable=SC2086 # split on purpose
		rejected 1 "^lbattach: $re" lb_ns "$NS_L" "$@" "$LBATTACH" -P "$ROOT" $args
	done
	for args in "service add 198.18.100.2 port 80" "service show" \
		"endpoint add 198.18.200.2 port 80 service $VIP port 80" "service del $VIP port 80" \
		"save" "save file $save" "restore file $save" "info" "stats" "conntrack show" \
		"conntrack timeout set tcp-est 100" "metrics show" "metrics write $save"; do
		# shellcheck disable=SC2086
		rejected 1 "^lbctl: $re" lb_ns "$NS_L" "$@" "$LBCTL" -P "$ROOT" $args
	done
	assert_eq "$(cat "$save")" "# saved before" "save file left as it was"
	for args in "list" "dump lb_services" "dump lb_ct" "lookup lb_config 0" \
		"update lb_svc_state key 1 value 5"; do
		# shellcheck disable=SC2086
		rejected 1 "^lbmap: $re" lb_ns "$NS_L" "$@" "$LBMAP" -P "$ROOT" $args
	done
	rejected 1 "^ntc: $re" lb_ns "$NS_L" "$@" "$NTC" -P "$ROOT" \
		filter add dev "$DEV_L" egress bpf da obj "$RL_OBJ" sec ratelimit_tc
}

@test "a map of another type pinned as lb_services: every command that would use it refuses, naming it; destroy clears it" {
	local re save=$T/saved args
	rm "$ROOT/maps/lb_services"
	bpftool map create "$ROOT/maps/lb_services" type lru_hash key 24 value 464 entries 16 \
		name lb_services
	printf 'service add 198.18.100.3 port 80\n# end 1 rules\n' >"$save"
	BEFORE=$(state)
	re=".*map lb_services: type lru_hash, expected hash \(not our map: never used; 'lbattach destroy' starts over\)\$"
	# a load would reuse every pin: attach and ntc's loads check them all
	rejected 1 "^lbattach: $ROOT: $re" lbattach_l attach dev "$DEV_L" xdp
	rejected 1 "^ntc: $ROOT: $re" ntc_l filter add dev "$DEV_L" egress bpf da obj "$RL_OBJ" \
		sec ratelimit_tc
	for args in "service add 198.18.100.2 port 80" "service show" "service show $VIP port 80" \
		"endpoint add 198.18.200.2 port 80 service $VIP port 80" "service del $VIP port 80" \
		"service flush" "save" "save file $save" "restore file $save" "info" \
		"metrics show" "metrics write $save"; do
		# shellcheck disable=SC2086 # split on purpose
		rejected 1 "^lbctl: $re" lbctl_l $args
	done
	assert_eq "$(cat "$save")" "$(printf 'service add 198.18.100.3 port 80\n# end 1 rules')" \
		"save file left as it was"
	for args in "list" "dump lb_services" "lookup lb_services key vip $VIP port 80" \
		"update lb_services key vip $VIP port 80 value persist 1"; do
		# shellcheck disable=SC2086
		rejected 1 "^lbmap: $re" lbmap_l $args
	done
	# what never opens it goes on
	run lbctl_l stats
	assert_status 0
	run lbmap_l dump lb_config
	assert_status 0

	run lbattach_l destroy
	assert_status 0
	[ ! -e "$ROOT/maps/lb_services" ]
	# and the tools start over on it
	lbattach_l attach dev "$DEV_L" tc ingress
	run lbctl_l service show
	assert_status 0
	assert_eq "$output" "" "no services after starting over"
}

@test "a map of another value size or key size pinned under our names: refused, naming it" {
	rm "$ROOT/maps/lb_endpoints"
	bpftool map create "$ROOT/maps/lb_endpoints" type array key 4 value 8 entries 8192 \
		name lb_endpoints
	BEFORE=$(state)
	rejected 1 "^lbctl: service show: map lb_endpoints: value size 8, expected 32 \(not our map" \
		lbctl_l service show
	rejected 1 "^lbmap: $ROOT: map lb_endpoints: value size 8, expected 32 \(not our map" \
		lbmap_l dump lb_endpoints
	rm "$ROOT/maps/lb_endpoints" "$ROOT/maps/lb_ct"
	bpftool map create "$ROOT/maps/lb_ct" type hash key 20 value 64 entries 16 name lb_ct
	BEFORE=$(state)
	rejected 1 "^lbctl: conntrack show: map lb_ct: key size 20, expected 40 \(not our map" \
		lbctl_l conntrack show
	rejected 1 "^lbattach: $ROOT: map lb_ct: key size 20, expected 40 \(not our map" \
		lbattach_l attach dev "$DEV_L" xdp
}

@test "a fresh root with a foreign lb_config: attach refuses before loading anything" {
	local root=$T/fresh
	mkdir -p "$root"
	lbt_add_root "$root"
	mount -t bpf bpf "$root"
	mkdir "$root/maps"
	bpftool map create "$root/maps/lb_config" type hash key 4 value 4 entries 1 name lb_config
	run --separate-stderr lb_ns "$NS_L" "$LBATTACH" -P "$root" attach dev "$DEV_L" tc egress
	assert_status 1
	assert_err_line lbattach "^lbattach: $root: map lb_config: type hash, expected array \(not our map"
	assert_eq "$(find "$root/maps" "$root/progs" "$root/links" -mindepth 1 -printf '%P\n' 2>/dev/null)" \
		"lb_config" "nothing pinned"
	assert_eq "$(bpftool -j map dump pinned "$root/maps/lb_config")" "[]" "lb_config never written"
	assert_eq "$(tc -n "$NS_L" filter show dev "$DEV_L" egress)" "" "no tc filter"
	assert_eq "$(lb_ns "$NS_L" bpftool net show dev "$DEV_L" | grep -c lb_tc_egress)" 0 "no tcx program"
}

@test "without privileges: every tool's commands say so in one line, exit 1, nothing changed" {
	# Let nobody reach the pin root itself: the refusal must come from the root.
	chmod 0711 "$T"
	ntc_l filter add dev "$DEV_L" egress bpf da obj "$RL_OBJ" sec ratelimit_tc
	BEFORE=$(state)
	every_tool "$ROOT: permission denied \(needs root: CAP_BPF and CAP_NET_ADMIN\)\$" \
		setpriv --reuid=65534 --regid=65534 --clear-groups
	# ntc filter show reads no pins: it refuses rather than show a filter half.
	rejected 1 "^ntc: filter show: permission denied \(needs root: CAP_BPF and CAP_NET_ADMIN\)\$" \
		lb_ns "$NS_L" setpriv --reuid=65534 --regid=65534 --clear-groups "$NTC" -P "$ROOT" \
		filter show dev "$DEV_L" egress
}

# le32 N: the four bytes of N, little endian, as bpftool takes them.
le32() {
	printf '%d %d %d %d' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255))
}

@test "our maps written raw with what no command writes: save refuses, naming the entry; an old file stays" {
	local id val good
	id=$(lbctl_l -j service show | json_get 'j[0]["endpoints"][0]["id"]')
	good=$(lbctl_l save)
	echo "old file" >"$T/saved"
	# weight 70000 at offset 20 of struct lb_ep, written by bpftool (lbmap refuses it)
	val=$(lbmap_l dump lb_endpoints hex | sed -n "s/^key: $(printf '%02x' "$id") 00 00 00  value: //p")
	# shellcheck disable=SC2086,SC2046 # the bytes, one word each
	bpftool map update pinned "$ROOT/maps/lb_endpoints" key $(le32 "$id") \
		value hex $(cut -d' ' -f1-20 <<<"$val") $(printf '%02x ' $(le32 70000)) $(cut -d' ' -f25- <<<"$val")
	BEFORE=$(state)
	local line="endpoint add $EP port 8080 weight 70000 service $VIP port 80 proto tcp"
	rejected 1 "^lbctl: save: '$line' would not restore: weight '70000': expected a number from 0 to 65535\$" \
		lbctl_l save
	rejected 1 "^lbctl: save: '$line' would not restore" lbctl_l save file "$T/saved"
	rejected 1 "^lbctl: save: '$line' would not restore" lbctl_l save -z file "$T/saved"
	assert_eq "$(cat "$T/saved")" "old file" "the old file stays"
	# once the entry is one a command could write again, save writes what restore takes
	lbctl_l endpoint set "$EP" port 8080 weight 3 service "$VIP" port 80
	lbctl_l save file "$T/saved"
	lbctl_l restore file "$T/saved"
	assert_eq "$(lbctl_l save)" "${good/weight 1 /weight 3 }" "saved after the fix"
}
