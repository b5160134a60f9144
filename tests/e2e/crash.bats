#!/usr/bin/env bats
# SIGKILL at random points of the commands that change state: lbctl restore,
# lbctl -b, lbattach attach / detach, chain add / move / del (tcx), upgrade.
#
# A kill point is one of the command's system calls that touch the state (bpf,
# unlink, rename, sendmsg): a calibration run under strace lists them, each run
# picks one at random and runs the command again under strace, which delivers a
# real SIGKILL on entry to that call.  Every window between two changes is a
# candidate, the tiny ones included, and a seed replays a run exactly:
# CRASH_SEED=N bats tests/e2e/crash.bats.  CRASH_RUNS (default 100) is the number
# of kills per command.
#
# After each kill: what the tools show is the whole old state or the whole new
# one (lbctl save; chain show), the next command works with no repair, and then
# the pin tree holds exactly what the state explains and the kernel exactly the
# attachments the pins record (tcx query, bpftool link, XDP).

# shellcheck disable=SC2154 # status, output: set by bats' run
load helpers

CRASH_RUNS=${CRASH_RUNS:-100}
CRASH_SYSCALLS=bpf,unlink,rename,renameat2,sendmsg
STAMP=$LB_REPO/build/tests/progs/stamp.bpf.o

setup() {
	lbt_setup
	command -v strace >/dev/null || { echo "needs strace" >&2; return 1; }
	command -v bpftool >/dev/null || { echo "needs bpftool" >&2; return 1; }
	lbt_topo
	NSL=(nsenter --net="/run/netns/$NS_L")
	SEED=${CRASH_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
	echo "# seed $SEED (CRASH_SEED=$SEED replays)" >&3
	RANDOM=$SEED
}

teardown() {
	lbt_teardown
}

# crash_points CMD...: run CMD once under strace; print its kill points, one a line:
# "SYSCALL N", the N-th call of SYSCALL.
crash_points() {
	strace -f -qq -o "$T/trace" -e trace="$CRASH_SYSCALLS" "$@" >/dev/null 2>&1 || return 1
	awk '{ s = $2; sub(/\(.*/, "", s); if (s ~ /^[a-z0-9_]+$/) print s, ++n[s] }' "$T/trace"
}

# crash_kill POINTS CMD...: run CMD, SIGKILLed on entry to a random one of POINTS
# (the output of crash_points).  Prints the point.
crash_kill() {
	local points=$1 n k sc nth
	shift
	n=$(wc -l <"$points")
	k=$((RANDOM % n + 1))
	read -r sc nth < <(sed -n "${k}p" "$points")
	echo "$sc $nth"
	strace -f -qq -o /dev/null -e trace="$sc" -e inject="$sc:signal=KILL:when=$nth" \
		"$@" >/dev/null 2>&1 || true
}

# tree: the pin tree below $ROOT, without the maps and programs (which no command
# here adds or removes).
tree() {
	find "$ROOT" -mindepth 1 -not -path "$ROOT/maps/*" -not -path "$ROOT/progs/*" \
		-printf '%P\n' | sort
}

# tcx_count DEV: how many programs the kernel runs on DEV's tcx ingress hook.
tcx_count() {
	local q
	q=$(lbt_tcx "$NS_L" "$1" ingress) || return 1
	if [ "$q" = none ]; then echo 0; else wc -w <<<"$q"; fi
}

# links_on DEV: the bpf links on DEV that bpftool knows: the tcx links of its
# ingress hook, and an XDP link running the program ip link shows there (a program
# attached without a link would not count).  (A link left detached survives only
# pinned: the pin tree checks show those.)
links_on() {
	local xdp
	xdp=$(ip -n "$NS_L" -d -j link show dev "$1" |
		json_get 'j[0].get("xdp", {}).get("prog", {}).get("id", 0)')
	bpftool -j link show | "$PY" -c '
import json, sys
xdp, tcx = int(sys.argv[1]), sys.argv[2].split()
ids = {int(t.split(":")[1]) for t in tcx if t != "none"}
# A link of another process that goes away while bpftool lists them is an entry
# without an id ({"error": ...}): not ours, since ours do not change meanwhile.
print(sum(1 for l in json.load(sys.stdin)
          if l.get("id") in ids or (l.get("type") == "xdp" and xdp and l.get("prog_id") == xdp)))
' "$xdp" "$(lbt_tcx "$NS_L" "$1" ingress)"
}

# fail_run WHAT: report a failed run with what replays it.
fail_run() {
	echo "run $RUN (seed $SEED, kill at $POINT): $1" >&2
	return 1
}

# ---------------------------------------------------------------- lbctl restore

# ruleset N BASE: N services of 4 endpoints each, addresses from BASE; with the
# "# end N rules" line restore requires.
ruleset() {
	local i j
	echo "conntrack timeout set tcp-est $((3000 + $2))"
	for i in $(seq 1 "$1"); do
		echo "service add 198.19.$2.$i port 80 sched rr"
		for j in 1 2 3 4; do
			echo "endpoint add 198.18.$((100 + j)).$i port 8080 service 198.19.$2.$i port 80"
		done
	done
	echo "# end $((1 + 5 * $1)) rules"
}

@test "restore: SIGKILL anywhere leaves the old or the new set, the next restore works" {
	lbattach_l attach dev "$DEV_L"
	ruleset 20 1 >"$T/a.rules"
	ruleset 15 2 >"$T/b.rules"
	lbctl_l restore file "$T/a.rules"
	lbctl_l save >"$T/a.save"
	lbctl_l restore file "$T/b.rules"
	lbctl_l save >"$T/b.save"
	lbctl_l restore file "$T/a.rules"
	crash_points "${NSL[@]}" "$LBCTL" -P "$ROOT" restore file "$T/b.rules" >"$T/points"
	lbctl_l restore file "$T/a.rules"
	tree >"$T/tree"
	local cur=a next saw
	for RUN in $(seq 1 "$CRASH_RUNS"); do
		next=$([ "$cur" = a ] && echo b || echo a)
		POINT=$(crash_kill "$T/points" "${NSL[@]}" "$LBCTL" -P "$ROOT" restore file "$T/$next.rules")
		lbctl_l save >"$T/now.save" || fail_run "save fails after the kill"
		if cmp -s "$T/now.save" "$T/$cur.save"; then saw=$cur
		elif cmp -s "$T/now.save" "$T/$next.save"; then saw=$next
		else
			diff "$T/$cur.save" "$T/now.save" | head >&2
			fail_run "save is neither the old set nor the new one"
		fi
		# The next command: restore the other set, with no repair first.
		next=$([ "$saw" = a ] && echo b || echo a)
		lbctl_l restore file "$T/$next.rules" || fail_run "the next restore fails"
		lbctl_l save >"$T/now.save"
		cmp -s "$T/now.save" "$T/$next.save" || fail_run "the next restore left another set"
		assert_eq "$(tree)" "$(cat "$T/tree")" "pin tree" || fail_run "pins changed"
		cur=$next
	done
}

# ---------------------------------------------------------------- lbctl -b

# batch_ab: lbctl -b lines that make the rule set "ruleset 6 3" into another one,
# touching several services and endpoints: a service gone, one new with its
# endpoints, an allow list and checks, an endpoint gone and one new, an allow
# list, a weight with a check, a state, a scheduler with a check, a timeout; two
# services untouched.
batch_ab() {
	cat <<-EOF
		service del 198.19.3.1 port 80
		service add 198.19.3.9 port 80 sched maglev allow 10.9.0.0/16 check http /hz interval 2
		endpoint add 198.18.101.9 port 8080 service 198.19.3.9 port 80
		endpoint add 198.18.102.9 port 8080 weight 3 check tcp service 198.19.3.9 port 80
		allow add 198.18.0.0/16 10.3.0.0/16 service 198.19.3.2 port 80
		endpoint del 198.18.101.2 port 8080 service 198.19.3.2 port 80
		endpoint add 198.18.105.2 port 8080 service 198.19.3.2 port 80
		endpoint set 198.18.102.3 port 8080 weight 9 check tcp rise 3 service 198.19.3.3 port 80
		endpoint set 198.18.103.4 port 8080 state drain service 198.19.3.4 port 80
		service set 198.19.3.4 port 80 sched wrr check tcp
		conntrack timeout set tcp-est 4444
	EOF
}

# batch_ba: the lines that make it back.
batch_ba() {
	cat <<-EOF
		service del 198.19.3.9 port 80
		service add 198.19.3.1 port 80 sched rr
		endpoint add 198.18.101.1 port 8080 service 198.19.3.1 port 80
		endpoint add 198.18.102.1 port 8080 service 198.19.3.1 port 80
		endpoint add 198.18.103.1 port 8080 service 198.19.3.1 port 80
		endpoint add 198.18.104.1 port 8080 service 198.19.3.1 port 80
		allow flush service 198.19.3.2 port 80
		endpoint del 198.18.105.2 port 8080 service 198.19.3.2 port 80
		endpoint add 198.18.101.2 port 8080 service 198.19.3.2 port 80
		endpoint set 198.18.102.3 port 8080 weight 1 check inherit service 198.19.3.3 port 80
		endpoint set 198.18.103.4 port 8080 state up service 198.19.3.4 port 80
		service set 198.19.3.4 port 80 sched rr check none
		conntrack timeout set tcp-est 3003
	EOF
}

# sorted_save: lbctl save with its lines sorted: the rule set as a set (a batch
# that adds back what another removed appends it, so the order can differ).
sorted_save() {
	lbctl_l save | sort
}

@test "lbctl -b: SIGKILL leaves the whole old or the whole new rule set once the next writer (save) runs, never a mix" {
	local cur=a next saw left=0
	lbattach_l attach dev "$DEV_L"
	ruleset 6 3 >"$T/a.rules"
	batch_ab >"$T/ab"
	batch_ba >"$T/ba"
	lbctl_l restore file "$T/a.rules"
	sorted_save >"$T/a.save"
	lbctl_l -b "$T/ab"
	sorted_save >"$T/b.save"
	! cmp -s "$T/a.save" "$T/b.save" || fail_run "the batch changed nothing"
	crash_points "${NSL[@]}" "$LBCTL" -P "$ROOT" -b "$T/ba" >"$T/points.ba"
	sorted_save >"$T/now.save"
	cmp -s "$T/now.save" "$T/a.save" || fail_run "the batch back gives another set"
	crash_points "${NSL[@]}" "$LBCTL" -P "$ROOT" -b "$T/ab" >"$T/points.ab"
	lbctl_l -b "$T/ba"
	tree >"$T/tree"
	for RUN in $(seq 1 "$CRASH_RUNS"); do
		next=$([ "$cur" = a ] && echo b || echo a)
		POINT=$(crash_kill "$T/points.$cur$next" "${NSL[@]}" "$LBCTL" -P "$ROOT" -b "$T/$cur$next")
		# save writes nothing itself, but opens as a writer: it finishes a
		# batch the kill left half done first.
		[ ! -e "$ROOT/ruleset-target" ] || left=$((left + 1))
		sorted_save >"$T/now.save" || fail_run "save fails after the kill"
		if cmp -s "$T/now.save" "$T/$cur.save"; then saw=$cur
		elif cmp -s "$T/now.save" "$T/$next.save"; then saw=$next
		else
			diff "$T/$cur.save" "$T/now.save" | head >&2
			fail_run "save is neither the old set nor the new one"
		fi
		assert_eq "$(tree)" "$(cat "$T/tree")" "pin tree" || fail_run "pins changed"
		# The next command: the batch to the other set, with no repair first.
		next=$([ "$saw" = a ] && echo b || echo a)
		lbctl_l -b "$T/$saw$next" || fail_run "the next batch fails"
		sorted_save >"$T/now.save"
		cmp -s "$T/now.save" "$T/$next.save" || fail_run "the next batch left another set"
		cur=$next
	done
	echo "# $left of $CRASH_RUNS kills left a batch half done, which save finished" >&3
}

# batch_record_kill BATCH: from the set before BATCH, run lbctl -b BATCH,
# SIGKILLed on the first bpf() call after it pinned its record (before the first
# change of the rule set): the record is left behind, the rule set as it was.
# ($T/undo: the batch back, for the calibration run.)
batch_record_kill() {
	local pin
	strace -f -qq -o "$T/trace" -e trace=bpf "${NSL[@]}" "$LBCTL" -P "$ROOT" -b "$1" \
		>/dev/null 2>&1 || return 1
	pin=$(grep -n 'BPF_OBJ_PIN' "$T/trace" | head -1 | cut -d: -f1)
	[ -n "$pin" ] || { echo "the batch pinned no record" >&2; return 1; }
	lbctl_l -b "$T/undo"
	strace -f -qq -o /dev/null -e trace=bpf -e inject="bpf:signal=KILL:when=$((pin + 1))" \
		"${NSL[@]}" "$LBCTL" -P "$ROOT" -b "$1" >/dev/null 2>&1 || true
	[ -e "$ROOT/ruleset-target" ] || { echo "no record left" >&2; return 1; }
}

@test "lbctl -b killed after its record: readers see the old set, the next writer or save finishes it first" {
	lbattach_l attach dev "$DEV_L"
	ruleset 6 3 >"$T/a.rules"
	batch_ab >"$T/ab"
	batch_ba >"$T/undo"
	lbctl_l restore file "$T/a.rules"
	sorted_save >"$T/a.save"
	lbctl_l -b "$T/ab"
	sorted_save >"$T/b.save"
	lbctl_l -b "$T/undo"

	# The next command a writer of something else: the batch first, then its own.
	batch_record_kill "$T/ab"
	lbctl_l service show >"$T/show" 2>&1	# a reader: no lock, changes nothing
	assert_eq "$(lbctl_l -j service show | json_get 'sum(s["vip"] == "198.19.3.1" for s in j)')" 1 \
		"the service the batch removes, as a reader sees it"
	[ -e "$ROOT/ruleset-target" ] || { echo "a reader removed the record" >&2; return 1; }
	lbctl_l service add 198.19.3.77 port 80
	[ ! -e "$ROOT/ruleset-target" ] || { echo "the record is still there" >&2; return 1; }
	lbctl_l service del 198.19.3.77 port 80
	assert_eq "$(sorted_save)" "$(cat "$T/b.save")" "the set after the next writer"

	# The next command save: it prints the finished batch.
	lbctl_l -b "$T/undo"
	batch_record_kill "$T/ab"
	assert_eq "$(sorted_save)" "$(cat "$T/b.save")" "what save prints"
	[ ! -e "$ROOT/ruleset-target" ] || { echo "the record is still there" >&2; return 1; }
}

# ---------------------------------------------------------------- attach / detach

# attached HOOK: 1 when our record of HOOK on $DEV_L is there and the kernel runs
# our program there, 0 when neither; anything else is a failure.  tc-egress is
# attached in mode clsact (a cls_bpf filter at pref 50000), the others by links.
attached() {
	local rec kern
	rec=0
	[ -e "$ROOT/links/$DEV_L/$1" ] && rec=1
	case $1 in
	xdp)
		kern=$(ip -n "$NS_L" -j -d link show dev "$DEV_L" | json_get '1 if "xdp" in j[0] else 0') ;;
	tc-ingress)
		kern=$(tcx_count "$DEV_L") ;;
	tc-egress)
		kern=$(tc -n "$NS_L" -j filter show dev "$DEV_L" egress 2>/dev/null |
			json_get 'sum(1 for f in j if f.get("pref") == 50000 and "options" in f)') ;;
	esac
	[ "$rec" = "$kern" ] || { echo "record $rec, kernel $kern" >&2; return 1; }
	echo "$rec"
}

# hook_args CMD HOOK: the words after "lbattach CMD dev $DEV_L" for HOOK.
hook_args() {
	case $2 in
	xdp) echo xdp ;;
	tc-egress) echo "tc egress$([ "$1" = attach ] && echo " mode clsact")" ;;
	esac
}

@test "attach, detach: SIGKILL leaves the hook attached with its record or neither" {
	local hook cmd st args
	for hook in tc-ingress xdp tc-egress; do
		for cmd in attach detach; do
			read -ra args <<<"dev $DEV_L $(hook_args "$cmd" "$hook")"
			crash_points "${NSL[@]}" "$LBATTACH" -P "$ROOT" "$cmd" "${args[@]}" \
				>"$T/p.$cmd.$hook"
		done
	done
	for RUN in $(seq 1 "$CRASH_RUNS"); do
		for hook in tc-ingress xdp tc-egress; do
			st=$(attached $hook) || fail_run "$hook half attached"
			cmd=$([ "$st" = 1 ] && echo detach || echo attach)
			read -ra args <<<"dev $DEV_L $(hook_args "$cmd" "$hook")"
			POINT=$(crash_kill "$T/p.$cmd.$hook" "${NSL[@]}" "$LBATTACH" -P "$ROOT" "$cmd" "${args[@]}")
			# cls_bpf has no link to go with a killed process: between the
			# filter and its record a kill leaves one without the other,
			# which the next attach or detach completes.
			if [ $hook != tc-egress ]; then
				attached $hook >/dev/null || fail_run "$cmd $hook: half done"
			fi
			lbattach_l show >/dev/null || fail_run "show fails"
			# The next command: the same again, which must end in its state.
			lbattach_l "$cmd" "${args[@]}" 2>/dev/null || [ "$cmd" = detach ] ||
				fail_run "the next $cmd $hook fails"
			st=$(attached $hook) || fail_run "$hook half attached after $cmd"
			[ "$st" = "$([ "$cmd" = attach ] && echo 1 || echo 0)" ] || fail_run "$cmd did not"
		done
		assert_eq "$(links_on "$DEV_L")" "$(($(attached tc-ingress) + $(attached xdp)))" \
			"links on $DEV_L" || fail_run "stray links"
	done
}

# ---------------------------------------------------------------- chains

HOOK=tc-ingress		# the chain's hook: tc-ingress (tcx), tc-egress (clsact), xdp

# labels: the labels of "chain show" on $DEV_L $HOOK, in order.
labels() {
	lbattach_l chain show dev "$DEV_L" hook "$HOOK" | awk 'NR > 1 { printf "%s ", $2 }'
}

# programs: how many programs the kernel runs on $DEV_L $HOOK: tcx's, cls_bpf's; for
# XDP, lb_xdp alone is one, lb_chain_entry runs the length of the device's layout.
programs() {
	local prog ifindex
	case $HOOK in
	tc-ingress)
		tcx_count "$DEV_L" ;;
	tc-egress)
		tc -n "$NS_L" -j filter show dev "$DEV_L" egress 2>/dev/null |
			json_get 'sum(1 for f in j if "options" in f)' ;;
	xdp)
		prog=$(ip -n "$NS_L" -d -j link show dev "$DEV_L" |
			json_get 'j[0].get("xdp", {}).get("prog", {}).get("name", "")')
		ifindex=$(ip -n "$NS_L" -j link show dev "$DEV_L" | json_get 'j[0]["ifindex"]')
		case $prog in
		lb_xdp) echo 1 ;;
		lb_chain_entry) lb_ns "$NS_L" "$LB_REPO/build/bin/lbmap" -P "$ROOT" -j lookup \
			lb_chain_cfg key "$ifindex" | json_get 'j["value"]["len"]' ;;
		*) echo 0 ;;
		esac ;;
	esac
}

# chain_whole LABELS: the chain is LABELS, the kernel runs as many programs (tcx: by
# as many links), each label has its pin (chains/, links/ for lb) and nothing else
# is pinned there.
chain_whole() {
	local want=$1 l pins="" links=0
	assert_eq "$(labels)" "$want" "chain" || return 1
	assert_eq "$(programs)" "$(wc -w <<<"$want")" "programs on $HOOK" || return 1
	[ "$HOOK" = tc-ingress ] && links=$(wc -w <<<"$want")
	[ "$HOOK" = xdp ] && links=1
	assert_eq "$(links_on "$DEV_L")" "$links" "links" || return 1
	for l in $(tr ' ' '\n' <<<"$want" | grep -v '^lb$' | sort); do
		pins+="$l "
	done
	assert_eq "$(find "$ROOT/chains" -mindepth 3 -printf '%f ' 2>/dev/null |
		tr ' ' '\n' | grep . | sort | tr '\n' ' ')" "$pins" "chain pins"
}

# without LABELS L: LABELS without L.
without() {
	tr ' ' '\n' <<<"$1" | grep . | grep -vx "$2" | tr '\n' ' '
}

# chain_crash: the chain lb a b c on $DEV_L $HOOK; random kills of chain move (of
# an element to the end; in clsact lb keeps its pref), add x, del x in turn.
chain_crash() {
	local l before after op moved cmd attach=(dev "$DEV_L") sec=_tc
	[ "$HOOK" = tc-egress ] && attach+=(tc egress mode clsact)
	[ "$HOOK" = xdp ] && attach+=(xdp) sec=_xdp
	lbattach_l attach "${attach[@]}"
	for l in a b c; do
		lbattach_l chain add dev "$DEV_L" hook "$HOOK" obj "$STAMP" sec "stamp1$sec" name $l
	done
	chain_whole "lb a b c "
	crash_points "${NSL[@]}" "$LBATTACH" -P "$ROOT" chain move dev "$DEV_L" hook "$HOOK" \
		name a last >"$T/p.move"
	lbattach_l chain move dev "$DEV_L" hook "$HOOK" name a before b
	crash_points "${NSL[@]}" "$LBATTACH" -P "$ROOT" chain add dev "$DEV_L" hook "$HOOK" \
		obj "$STAMP" sec "stamp2$sec" name x >"$T/p.add"
	crash_points "${NSL[@]}" "$LBATTACH" -P "$ROOT" chain del dev "$DEV_L" hook "$HOOK" \
		name x >"$T/p.del"
	for RUN in $(seq 1 "$CRASH_RUNS"); do
		# cls_bpf prefs are not renumbered: each move to the end takes a
		# higher one, so every 24 runs the clsact chain starts again.
		if [ "$HOOK" = tc-egress ] && [ $((RUN % 24)) = 0 ]; then
			for l in $(without "$(labels)" lb); do
				lbattach_l chain del dev "$DEV_L" hook "$HOOK" name "$l"
			done
			for l in a b c; do
				lbattach_l chain add dev "$DEV_L" hook "$HOOK" obj "$STAMP" \
					sec "stamp1$sec" name $l
			done
			chain_whole "lb a b c "
		fi
		before=$(labels)
		case $((RUN % 3)) in
		0)	# move a random element to the end
			l=$(without "$before" "$([ "$HOOK" = tc-egress ] && echo lb)" |
				tr ' ' '\n' | grep . | shuf -n 1 --random-source=<(yes "$RUN$SEED"))
			cmd=(chain move dev "$DEV_L" hook "$HOOK" name "$l" last)
			after="$(without "$before" "$l")$l "
			op=p.move ;;
		1)	cmd=(chain add dev "$DEV_L" hook "$HOOK" obj "$STAMP" sec "stamp2$sec" name x)
			after="${before}x "
			op=p.add ;;
		2)	cmd=(chain del dev "$DEV_L" hook "$HOOK" name x)
			after=$(without "$before" x)
			op=p.del ;;
		esac
		POINT=$(crash_kill "$T/$op" "${NSL[@]}" "$LBATTACH" -P "$ROOT" "${cmd[@]}")
		moved=$(labels)
		[ "$moved" = "$before" ] || [ "$moved" = "$after" ] ||
			fail_run "${cmd[*]}: chain '$moved', neither '$before' nor '$after'"
		# The next command: the same again where it had not happened, else a
		# move of the first element other than lb to the end.
		if [ "$moved" = "$before" ]; then
			lbattach_l "${cmd[@]}" || fail_run "the next ${cmd[*]} fails"
		else
			l=$(without "$after" lb | cut -d' ' -f1)
			lbattach_l chain move dev "$DEV_L" hook "$HOOK" name "$l" last ||
				fail_run "the next command (a move) fails"
			after="$(without "$after" "$l")$l "
		fi
		chain_whole "$after" || fail_run "the chain is not whole"
	done
}

@test "chain add, move, del on tcx: SIGKILL leaves the old chain or the new, the next command works" {
	HOOK=tc-ingress
	chain_crash
}

@test "chain add, move, del on clsact: SIGKILL leaves the old chain or the new, the next command works" {
	HOOK=tc-egress
	chain_crash
}

@test "chain add, move, del on XDP: SIGKILL leaves the old chain or the new, the next command works" {
	HOOK=xdp
	chain_crash
}

# ---------------------------------------------------------------- upgrade

@test "upgrade: SIGKILL anywhere, then upgrade, attach, show, destroy work and leave no __upgrade pin" {
	local l prog ids want
	lbattach_l attach dev "$DEV_L"
	lbattach_l attach dev "$DEV_L" xdp
	lbattach_l chain add dev "$DEV_L" hook tc-ingress obj "$STAMP" sec stamp1_tc name a
	ruleset 5 4 >"$T/rules"
	lbctl_l restore file "$T/rules"
	lbctl_l save >"$T/save"
	tree >"$T/tree"
	find "$ROOT/maps" "$ROOT/progs" -printf '%P\n' | sort >"$T/objs"
	crash_points "${NSL[@]}" "$LBATTACH" -P "$ROOT" upgrade >"$T/points"
	for RUN in $(seq 1 "$CRASH_RUNS"); do
		POINT=$(crash_kill "$T/points" "${NSL[@]}" "$LBATTACH" -P "$ROOT" upgrade)
		lbctl_l save | cmp -s - "$T/save" || fail_run "save changed"
		lbattach_l show >/dev/null || fail_run "show fails"
		# The next command: upgrade again (every fourth run attach first).
		if [ $((RUN % 4)) = 0 ]; then
			lbattach_l attach dev "$DEV_L" || fail_run "attach fails"
		fi
		lbattach_l upgrade || fail_run "the next upgrade fails"
		lbctl_l save | cmp -s - "$T/save" || fail_run "save changed"
		assert_eq "$(tree)" "$(cat "$T/tree")" "pin tree" || fail_run "pins"
		assert_eq "$(find "$ROOT/maps" "$ROOT/progs" -printf '%P\n' | sort)" \
			"$(cat "$T/objs")" "maps and programs" || fail_run "stray __upgrade pins"
		# Every hook runs the pinned programs.
		for prog in lb_tc_ingress lb_xdp; do
			ids=$(bpftool -j prog show pinned "$ROOT/progs/$prog" | json_get 'j["id"]')
			want=$(lbattach_l -j show | json_get \
				'[a["prog_id"] for a in j if a["prog"] == "'$prog'"]')
			assert_eq "$want" "[$ids]" "$prog attached" || fail_run "a hook runs another $prog"
		done
	done
	assert_eq "$(labels)" "lb a " "chain"
	POINT=end
	crash_kill "$T/points" "${NSL[@]}" "$LBATTACH" -P "$ROOT" upgrade >/dev/null
	lbattach_l destroy || fail_run "destroy after a killed upgrade fails"
	assert_eq "$(find "$ROOT" -mindepth 1 -not -name '*.debug' -printf '%P ')" "" "pins after destroy"
	assert_eq "$(links_on "$DEV_L")" 0 "links after destroy"
}

@test "chain move on tcx: SIGKILL at every kill point keeps the element in the chain" {
	local l sc nth moved
	lbattach_l attach dev "$DEV_L"
	for l in a b c; do
		lbattach_l chain add dev "$DEV_L" hook tc-ingress obj "$STAMP" sec stamp1_tc name $l
	done
	crash_points "${NSL[@]}" "$LBATTACH" -P "$ROOT" chain move dev "$DEV_L" hook tc-ingress \
		name a last >"$T/points"
	lbattach_l chain move dev "$DEV_L" hook tc-ingress name a first
	RUN=0
	while read -r sc nth; do
		RUN=$((RUN + 1)) POINT="$sc $nth"
		strace -f -qq -o /dev/null -e trace="$sc" -e inject="$sc:signal=KILL:when=$nth" \
			"${NSL[@]}" "$LBATTACH" -P "$ROOT" chain move dev "$DEV_L" hook tc-ingress \
			name a last >/dev/null 2>&1 || true
		moved=$(labels)
		[ "$moved" = "a lb b c " ] || [ "$moved" = "lb b c a " ] ||
			fail_run "chain '$moved'"
		# Every command works on it: move it back, delete it, add it again.
		lbattach_l chain move dev "$DEV_L" hook tc-ingress name a first || fail_run "move"
		chain_whole "a lb b c " || fail_run "the chain is not whole"
		lbattach_l chain del dev "$DEV_L" hook tc-ingress name a || fail_run "del"
		lbattach_l chain add dev "$DEV_L" hook tc-ingress obj "$STAMP" sec stamp1_tc \
			name a first || fail_run "add"
		chain_whole "a lb b c " || fail_run "the chain is not whole"
	done <"$T/points"
	echo "# $RUN kill points" >&3
}
