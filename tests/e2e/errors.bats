#!/usr/bin/env bats
# Bad input and refused commands: exactly one line on stderr "TOOL: what: why", the
# documented exit status (2 usage, 1 failure), and nothing changed.

# shellcheck disable=SC2154 # status, output, lines, stderr: set by bats' run
load helpers

setup() {
	lbt_setup
	lbt_topo
	# Something to protect: two attachments and counters with data in them.
	lbattach_l attach dev "$DEV_L" tc ingress
	lbattach_l attach dev "$DEV_L" xdp
	lbt_ping "$NS_C" "$IP_L" 2
	snapshot
}

# What every rejected command must leave as it is.
snapshot() {
	BEFORE=$(lbt_state)
}

teardown() {
	lbt_teardown
}

# rejected STATUS REGEX COMMAND...: the command exits STATUS, prints nothing on
# stdout, one line on stderr matching REGEX (which starts with "^TOOL: "), and
# changes nothing.
rejected() {
	local want=$1 re=$2 tool
	shift 2
	tool=${re#^}
	tool=${tool%%:*}
	run --separate-stderr "$@"
	assert_status "$want"
	assert_err_line "$tool" "$re"
	assert_eq "$output" "" "stdout of a rejected command"
	assert_eq "$(lbt_state)" "$BEFORE" "state after: $*"
}

@test "missing device: exit 1, 'no such device', nothing changed" {
	rejected 1 "^lbattach: dev nosuch$ID: no such device\$" lbattach_l attach dev "nosuch$ID"
	rejected 1 "^lbattach: dev nosuch$ID: no such device\$" lbattach_l attach dev "nosuch$ID" xdp
	rejected 1 "^lbctl: dev nosuch$ID: no such device\$" lbctl_l stats dev "nosuch$ID"
	rejected 1 "^lbctl: dev nosuch$ID: no such device\$" lbctl_l stats reset dev "nosuch$ID"
}

@test "missing device on a fresh pin root: nothing created, nothing mounted" {
	local fresh=$T/fresh
	lbt_add_root "$fresh"
	run --separate-stderr lb_ns "$NS_L" "$LBATTACH" -P "$fresh" attach dev "nosuch$ID"
	assert_status 1
	assert_err_line lbattach "^lbattach: dev nosuch$ID: no such device\$"
	if [ -e "$fresh" ]; then
		echo "a rejected attach left $fresh behind:" >&2
		mountpoint "$fresh" >&2
		find "$fresh" >&2
		false
	fi
}

@test "bad hook keyword: exit 2" {
	rejected 2 "^lbattach: .*'xpd'.*expected one of .*xdp.*tc" lbattach_l attach dev "$DEV_L" xpd
	rejected 2 "^lbattach: .*'xpd'" lbattach_l detach dev "$DEV_L" xpd
	rejected 2 "^lbattach: .*'bogus'" lbattach_l show dev "$DEV_L" bogus
}

@test "mode that does not fit the hook, unknown mode: exit 2" {
	rejected 2 "^lbattach: .*clsact.*xdp" lbattach_l attach dev "$DEV_L" xdp mode clsact
	rejected 2 "^lbattach: .*tcx.*xdp" lbattach_l attach dev "$DEV_L" xdp mode tcx
	rejected 2 "^lbattach: .*native" lbattach_l attach dev "$DEV_L" tc mode native
	rejected 2 "^lbattach: .*generic" lbattach_l attach dev "$DEV_L" egress mode generic
	rejected 2 "^lbattach: .*'turbo'" lbattach_l attach dev "$DEV_L" mode turbo
	rejected 2 "^lbattach: .*mode" lbattach_l attach dev "$DEV_L" xdp mode
	rejected 2 "^lbattach: .*egress" lbattach_l attach dev "$DEV_L" xdp egress
	rejected 2 "^lbattach: .*xdp.*tc" lbattach_l attach dev "$DEV_L" xdp tc
}

@test "a keyword twice or two of one group: exit 2, nothing attached" {
	# Each was accepted once, the last word winning: lo or egress was attached.
	rejected 2 "^lbattach: dev: given twice\$" lbattach_l attach dev "$DEV_L" dev lo
	rejected 2 "^lbattach: 'egress' after 'ingress': give one of ingress, egress\$" \
		lbattach_l attach dev "$DEV_L" ingress egress
	rejected 2 "^lbattach: 'tc' after 'xdp': give one of xdp, tc\$" lbattach_l detach dev "$DEV_L" xdp tc
	rejected 2 "^lbattach: mode: given twice\$" lbattach_l attach dev "$DEV_L" mode tcx mode clsact
	rejected 2 "^lbattach: more than one position\$" \
		lbattach_l chain add dev "$DEV_L" hook xdp lb first last
}

@test "a long bad word is echoed cut, in one short line" {
	local long
	long=$(head -c 100000 /dev/zero | tr '\0' x)
	rejected 2 "^lbattach: keyword 'x{64}\.\.\.': expected one of " lbattach_l attach dev "$DEV_L" "$long"
	rejected 1 "^lbattach: dev x{64}\.\.\.: no such device\$" lbattach_l attach dev "$long"
	rejected 2 "^lbctl: command 'x{64}\.\.\.': expected one of " lbctl_l stats "$long"
	[ "${#stderr}" -lt 200 ] || { echo "a line of ${#stderr} characters" >&2; false; }
}

@test "missing dev: exit 2" {
	rejected 2 "^lbattach: .*dev" lbattach_l attach
	rejected 2 "^lbattach: .*dev" lbattach_l attach xdp
	rejected 2 "^lbattach: .*dev" lbattach_l attach dev
	rejected 2 "^lbattach: .*dev" lbattach_l detach tc ingress
	rejected 2 "^lbctl: .*dev" lbctl_l stats dev
}

@test "unknown option, unknown object or command: exit 2" {
	rejected 2 "^lbattach: .*--bogus" lbattach_l --bogus show
	rejected 2 "^lbattach: .*-Z" lbattach_l -Z show
	rejected 2 "^lbctl: .*--bogus" lbctl_l --bogus stats
	rejected 2 "^lbattach: .*'frob'" lbattach_l frob
	rejected 2 "^lbctl: .*'frob'" lbctl_l frob
	rejected 2 "^lbctl: .*'frob'" lbctl_l stats frob
	rejected 2 "^lbattach: .*" lbattach_l destroy now
	# -P without its argument
	run --separate-stderr lb_ns "$NS_L" "$LBATTACH" show -P
	[ "$status" -eq 2 ] || { echo "status $status: $stderr" >&2; false; }
	run --separate-stderr lb_ns "$NS_L" "$LBATTACH" -P
	assert_status 2
	assert_err_line lbattach "-P"
	assert_eq "$(lbt_state)" "$BEFORE" "state"
}

@test "ambiguous prefix: exit 2" {
	# 'de' is both detach and destroy
	rejected 2 "^lbattach: .*'de'.*ambiguous" lbattach_l de dev "$DEV_L"
}

@test "detach of something not attached: exit 1" {
	rejected 1 "^lbattach: dev $DEV_L: nothing attached" lbattach_l detach dev "$DEV_L" tc egress
	rejected 1 "^lbattach: dev lo: nothing attached" lbattach_l detach dev lo
	rejected 1 "^lbattach: dev lo: nothing attached" lbattach_l detach dev lo xdp
	rejected 1 "^lbattach: " lbattach_l detach dev "nosuch$ID"
}

@test "errors with -j: one line on stderr and {\"error\": ...} on stdout" {
	run --separate-stderr lbattach_l -j attach dev "nosuch$ID"
	assert_status 1
	assert_err_line lbattach "^lbattach: dev nosuch$ID: no such device\$"
	assert_eq "$(json_get 'j["error"]' <<<"$output")" "dev nosuch$ID: no such device" "json error"
	run --separate-stderr lbctl_l -j stats dev "nosuch$ID"
	assert_status 1
	assert_eq "$(json_get 'sorted(j)' <<<"$output")" '["error"]' "json error object"
	assert_eq "$(lbt_state)" "$BEFORE" "state"
}

@test "without privileges (nobody): exit 1, permission denied, nothing changed" {
	# Let nobody reach the pin root itself: the refusal must come from the root.
	chmod 0711 "$T"
	local nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	local re="^%s: $ROOT: permission denied"
	local args
	for args in "attach dev $DEV_L tc egress" "attach dev $DEV_L xdp" "detach dev $DEV_L" \
		"show" "destroy"; do
		# shellcheck disable=SC2086,SC2059 # split on purpose; the format is ours
		rejected 1 "$(printf "$re" lbattach)" lb_ns "$NS_L" "${nobody[@]}" "$LBATTACH" -P "$ROOT" $args
	done
	# shellcheck disable=SC2059
	rejected 1 "$(printf "$re" lbctl)" lb_ns "$NS_L" "${nobody[@]}" "$LBCTL" -P "$ROOT" stats
	# shellcheck disable=SC2059
	rejected 1 "$(printf "$re" lbctl)" lb_ns "$NS_L" "${nobody[@]}" "$LBCTL" -P "$ROOT" stats reset
}

@test "layout version mismatch: lbattach and lbctl refuse, naming both versions" {
	# abi_version is the first field of lb_config, little-endian; 7 is not ours.
	# The rest of the value stays as it is.
	local val
	val=$(bpftool -j map dump pinned "$ROOT/maps/lb_config" |
		json_get '" ".join(["07", "00", "00", "00"] + [b[2:] for b in j[0]["value"][4:]])')
	# shellcheck disable=SC2086 # one word per byte
	bpftool map update pinned "$ROOT/maps/lb_config" key hex 00 00 00 00 value hex $val
	assert_eq "$(bpftool -j map lookup pinned "$ROOT/maps/lb_config" key hex 00 00 00 00 |
		json_get 'j["value"][:4]')" '["0x07", "0x00", "0x00", "0x00"]' "abi_version written"
	snapshot
	local re="^%s: $ROOT: map layout version 7, these tools use [0-9]+; 'lbattach upgrade' moves the running datapath to these tools' layout\$"
	local args
	for args in "attach dev $DEV_L tc egress" "attach dev $DEV_L xdp" "detach dev $DEV_L xdp" \
		"show"; do
		# shellcheck disable=SC2086,SC2059
		rejected 1 "$(printf "$re" lbattach)" lbattach_l $args
	done
	# shellcheck disable=SC2059
	rejected 1 "$(printf "$re" lbctl)" lbctl_l stats
	# shellcheck disable=SC2059
	rejected 1 "$(printf "$re" lbctl)" lbctl_l stats reset
	# What the tools use is what -V says.
	local abi
	abi=$("$LBATTACH" -V | sed -n 's/.*(abi \([0-9]*\))$/\1/p')
	run --separate-stderr lbctl_l stats
	[[ $stderr == *"these tools use $abi;"* ]] || { echo "abi $abi: $stderr" >&2; false; }
	# The way out it names: upgrade records this build's layout, the tools work again.
	lbattach_l upgrade
	lbctl_l stats >/dev/null
	assert_eq "$(bpftool -j map lookup pinned "$ROOT/maps/lb_config" key hex 00 00 00 00 |
		json_get 'int(j["value"][0], 16)')" "$abi" "abi_version after the upgrade"
}

# hold_lock SECONDS: flock the pin root directory from the shell, in the background,
# for SECONDS; returns once the lock is held.  Sets HOLDER to its pid.
hold_lock() {
	rm -f "$T/lock.out"
	(
		exec 9<"$ROOT"
		flock -x 9
		echo locked
		exec sleep "$1"
	) >"$T/lock.out" 2>&1 3>&- &
	HOLDER=$!
	lbt_add_pid "$HOLDER"
	for _ in $(seq 50); do
		grep -qx locked "$T/lock.out" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "could not take the lock on $ROOT in 5 s" >&2
	return 1
}

@test "writer lock: LB_LOCK_TIMEOUT=0 fails at once while another writer holds it; readers go on" {
	# Held for 5 s only: a writer that waited instead of failing at once would get
	# the lock and succeed, so the exit status tells.
	hold_lock 5
	rejected 1 "^lbattach: $ROOT: locked by another writer\$" \
		lb_ns "$NS_L" env LB_LOCK_TIMEOUT=0 "$LBATTACH" -P "$ROOT" attach dev "$DEV_L" tc egress
	rejected 1 "^lbctl: $ROOT: locked by another writer\$" \
		lb_ns "$NS_L" env LB_LOCK_TIMEOUT=0 "$LBCTL" -P "$ROOT" stats reset
	# Readers take no lock.
	run --separate-stderr lbattach_l show
	assert_status 0
	assert_no_stderr
	[ "${#lines[@]}" -eq 2 ] || { echo "show: $output" >&2; false; }
	run --separate-stderr lbctl_l stats
	assert_status 0
	assert_no_stderr
	kill -0 "$HOLDER" || { echo "the lock holder ended too early" >&2; false; }
}

@test "LB_LOCK_TIMEOUT out of range (negative, above 3600, not a number): exit 2, nothing changed" {
	local v
	for v in -1 3601 99999999999999999999 10s ""x; do
		rejected 2 "^lbctl: LB_LOCK_TIMEOUT '$v': expected a number from 0 to 3600\$" \
			lb_ns "$NS_L" env LB_LOCK_TIMEOUT="$v" "$LBCTL" -P "$ROOT" stats reset
		rejected 2 "^lbattach: LB_LOCK_TIMEOUT '$v': expected a number from 0 to 3600\$" \
			lb_ns "$NS_L" env LB_LOCK_TIMEOUT="$v" "$LBATTACH" -P "$ROOT" attach dev "$DEV_L" tc egress
	done
	assert_eq "$(lbt_state)" "$BEFORE" "state"
	# The bounds themselves are taken.
	run --separate-stderr lb_ns "$NS_L" env LB_LOCK_TIMEOUT=3600 "$LBCTL" -P "$ROOT" stats reset
	assert_status 0
}

@test "writer lock: a writer waits for the lock and goes on once it is released" {
	hold_lock 60
	nsenter --net="/run/netns/$NS_L" "$LBATTACH" -P "$ROOT" attach dev "$DEV_L" tc egress \
		>"$T/waiter.out" 2>&1 3>&- &
	local waiter=$!
	lbt_add_pid "$waiter"
	# It cannot have attached while the lock is held.
	sleep 0.5
	assert_eq "$(lbattach_l show dev "$DEV_L" | grep -c tc-egress)" 0 "tc-egress while locked"
	kill "$HOLDER"
	local rc=0
	wait "$waiter" || rc=$?
	assert_eq "$rc" 0 "waiting writer's exit status ($(cat "$T/waiter.out"))"
	assert_eq "$(lbattach_l show dev "$DEV_L" | grep -c tc-egress)" 1 "tc-egress after the lock was released"
}

@test "pin root that is a non-empty plain directory: exit 1, left alone" {
	local dir=$T/plain
	mkdir "$dir"
	echo keep >"$dir/file"
	run --separate-stderr lb_ns "$NS_L" "$LBATTACH" -P "$dir" attach dev "$DEV_L" tc egress
	assert_status 1
	assert_err_line lbattach "^lbattach: $dir: "
	mountpoint -q "$dir" && { echo "$dir got mounted" >&2; false; }
	assert_eq "$(find "$dir" -printf '%P\n' | sort | xargs)" "file" "content of $dir"
	assert_eq "$(lbt_state)" "$BEFORE" "state"
	# a relative pin root is refused too
	run --separate-stderr lb_ns "$NS_L" "$LBATTACH" -P relative/pins show
	assert_status 1
	assert_err_line lbattach "absolute"
}

@test "lbctl on a pin root where nothing was loaded: exit 1, root not created" {
	local fresh=$T/fresh
	lbt_add_root "$fresh"
	run --separate-stderr lb_ns "$NS_L" "$LBCTL" -P "$fresh" stats
	assert_status 1
	assert_err_line lbctl "^lbctl: $fresh: no datapath loaded here"
	run --separate-stderr lb_ns "$NS_L" "$LBCTL" -P "$fresh" stats reset
	assert_status 1
	assert_err_line lbctl "^lbctl: $fresh: no datapath loaded here"
	run --separate-stderr lb_ns "$NS_L" "$LBATTACH" -P "$fresh" destroy
	assert_status 1
	assert_err_line lbattach "^lbattach: $fresh: "
	# show on a root that was never used: nothing attached, not an error
	run --separate-stderr lb_ns "$NS_L" "$LBATTACH" -P "$fresh" show
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "" "show"
	[ ! -e "$fresh" ] || { echo "$fresh was created" >&2; false; }
}

@test "batch: stops at the first failing line and names it" {
	cat >"$T/cmds" <<-EOF
		# comment line
		attach dev $DEV_L tc egress
		attach dev nosuch$ID
		detach dev $DEV_L xdp
	EOF
	run --separate-stderr lbattach_l -b "$T/cmds"
	assert_status 1
	assert_err_line lbattach "^lbattach: $T/cmds:3: dev nosuch$ID: no such device\$"
	run lbattach_l show dev "$DEV_L"
	[ "${#lines[@]}" -eq 3 ] || { echo "line 2 not run or line 4 run: $output" >&2; false; }


	# usage errors in a batch keep their status; stdin works as '-'
	run --separate-stderr lbattach_l -b - <<<"attach dev $DEV_L xpd"
	assert_status 2
	assert_err_line lbattach "^lbattach: <stdin>:1: "
}

@test "batch with -force goes on after errors; status of the last failure" {
	cat >"$T/cmds" <<-EOF
		attach dev $DEV_L tc egress
		attach dev nosuch$ID
		detach dev $DEV_L xdp
	EOF
	# -force after -P DIR, as a script would write it
	run --separate-stderr lbattach_l -force -b "$T/cmds"
	assert_status 1
	assert_err_line lbattach "^lbattach: $T/cmds:2: dev nosuch$ID: no such device\$"
	run lbattach_l -j show dev "$DEV_L"
	assert_eq "$(json_get '[a["hook"] for a in j]' <<<"$output")" '["tc-ingress", "tc-egress"]' \
		"with -force line 3 ran too"
	# --force and -f are the same
	lbattach_l attach dev "$DEV_L" xdp
	run --separate-stderr lbattach_l --force -b "$T/cmds"
	assert_status 1
	run lbattach_l -j show dev "$DEV_L"
	assert_eq "$(json_get '[a["hook"] for a in j]' <<<"$output")" '["tc-ingress", "tc-egress"]' \
		"with --force line 3 ran too"
}
