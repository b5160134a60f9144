#!/usr/bin/env bats
# lbattach chain, the control side: add / move / del / show on XDP, on tc through tcx
# links and through cls_bpf filters (mode clsact); the load balancer as element "lb"
# next to "lbattach attach | detach"; refused commands (one line, exit 1 or 2, nothing
# changed); the revision check (expect); pins as the only state; destroy.
# After every change the order "chain show -j" reports is compared with what was
# asked and with what the kernel runs (the XDP chain's layout in lb_chain_cfg and
# lb_chain, the tcx array, the cls_bpf filters), and every program id with bpftool.
# Real traffic through chains: chain_traffic.bats.

# shellcheck disable=SC2154 # status, output, stderr, stderr_lines: set by bats' run
load helpers

STAMP=$LB_REPO/build/tests/progs/stamp.bpf.o
FOREIGN=$LB_REPO/build/tests/progs/foreign.bpf.o
GLOBALFN=$LB_REPO/build/tests/progs/globalfn.bpf.o
RATELIMIT=$LB_REPO/build/examples/ratelimit.bpf.o

setup() {
	lbt_setup
	local f
	for f in "$STAMP" "$FOREIGN" "$GLOBALFN" "$RATELIMIT"; do
		[ -f "$f" ] || { echo "$f is missing: run 'make all' first" >&2; return 1; }
	done
	command -v bpftool >/dev/null || { echo "needs bpftool" >&2; return 1; }
	lbt_topo
}

teardown() {
	lbt_teardown
}

# chain ARGS...: "lbattach chain ARGS" on $DEV_L (the lb namespace, the test's root).
chain() {
	local cmd=$1
	shift
	lbattach_l chain "$cmd" dev "$DEV_L" "$@"
}

# stamp HOOK N: the object and section of stamp program N for HOOK (N: 1..4, drop).
stamp() {
	if [ "$1" = xdp ]; then
		echo "obj $STAMP sec ${2}_xdp"
	else
		echo "obj $STAMP sec ${2}_tc"
	fi
}

# add HOOK LABEL PROG [more args]: chain add of stamp program PROG (stamp1.., drop)
# under LABEL.
add() {
	local hook=$1 label=$2 prog=$3
	shift 3
	# shellcheck disable=SC2046 # stamp prints words on purpose
	chain add hook "$hook" $(stamp "$hook" "$prog") name "$label" "$@"
}

# tc_filters DIR: the cls_bpf filters on $DEV_L DIR (ingress|egress) as tc -j shows
# them ([] when there is no clsact qdisc).
tc_filters() {
	local out
	out=$(tc -n "$NS_L" -j filter show dev "$DEV_L" "$1" 2>/dev/null)
	echo "${out:-[]}"
}

# chain_check HOOK MODE "LABELS": "chain show -j dev $DEV_L hook HOOK" lists exactly
# LABELS in that order ("-" for an element without a label; "" for an empty chain)
# in MODE; each element's prog_id is a program bpftool knows with that name and tag;
# and the kernel runs exactly those programs in that order: for XDP the link on the
# device runs lb_chain_entry and lb_chain_cfg[ifindex] points at a layout of
# lb_chain holding these ids (a lone "lb" is lb_xdp on the link itself), for tcx the
# kernel's tcx array (ids and link ids), for clsact the cls_bpf filters (prefs and
# ids) in pref order.  A tcx chain has no cls_bpf filter and the other way round.
chain_check() {
	local hook=$1 mode=$2 want=$3 d=$T/check
	rm -rf "$d"
	mkdir -p "$d"
	lbattach_l -j chain show dev "$DEV_L" hook "$hook" >"$d/show" || return 1
	bpftool -j prog show >"$d/progs" || return 1
	ip -n "$NS_L" -d -j link show dev "$DEV_L" >"$d/link" || return 1
	if [ -e "$ROOT/maps/lb_chain_cfg" ]; then
		bpftool -j map dump pinned "$ROOT/maps/lb_chain_cfg" >"$d/cfg" || return 1
		bpftool -j map dump pinned "$ROOT/maps/lb_chain" >"$d/arr" || return 1
		bpftool -j prog show pinned "$ROOT/progs/lb_chain_entry" >"$d/entry" || return 1
	fi
	if [ "$hook" != xdp ]; then
		lbt_tcx "$NS_L" "$DEV_L" "${hook#tc-}" >"$d/tcx" || return 1
		tc_filters "${hook#tc-}" >"$d/cls"
	fi
	"$PY" - "$d" "$hook" "$mode" "$want" "$DEV_L" <<-'EOF'
	import json, os, sys
	d, hook, mode, want, dev = sys.argv[1:6]
	want = want.split()
	def load(name):
	    p = os.path.join(d, name)
	    return json.load(open(p)) if os.path.exists(p) else None
	def le(hexbytes):
	    return int.from_bytes(bytes(int(b, 16) for b in hexbytes), "little")
	def fail(msg):
	    sys.exit("%s: %s\nchain show: %s" % (hook, msg, open(os.path.join(d, "show")).read()))
	show = load("show")
	chains = [c for c in show if c["ifname"] == dev and c["hook"] == hook]
	elems = [e for c in chains for e in c["chain"]]
	labels = [e["label"] if e["label"] is not None else "-" for e in elems]
	if labels != want:
	    fail("labels %s, expected %s" % (labels, want))
	if want:
	    if len(chains) != 1:
	        fail("%d chains for one hook" % len(chains))
	    c = chains[0]
	    if c["mode"] != mode:
	        fail("mode %s, expected %s" % (c["mode"], mode))
	    if [e["pos"] for e in elems] != list(range(1, len(want) + 1)):
	        fail("positions")
	    keys = {"pos", "label", "prog", "prog_id", "tag", "packets"}
	    keys |= {"tcx": {"link_id"}, "clsact": {"pref"}}.get(mode, set())
	    for e in elems:
	        if set(e) != keys:
	            fail("fields %s, expected %s" % (sorted(e), sorted(keys)))
	progs = {p["id"]: p for p in load("progs")}
	ptype = "xdp" if hook == "xdp" else "sched_cls"
	for e in elems:
	    p = progs.get(e["prog_id"])
	    if not p or p["name"] != e["prog"] or p["tag"] != e["tag"] or p["type"] != ptype:
	        fail("element %s: bpftool says %s" % (e, p))
	ids = [e["prog_id"] for e in elems]
	link = load("link")[0]
	if hook == "xdp":
	    x = link.get("xdp", {}).get("prog")
	    if not want:
	        if x:
	            fail("an XDP program is still on the device: %s" % x)
	        sys.exit(0)
	    if not x:
	        fail("no XDP program on the device")
	    if link["xdp"]["mode"] != {"native": 1, "generic": 2}[mode]:
	        fail("XDP attach mode %s" % link["xdp"]["mode"])
	    entry = load("entry")
	    if entry and x["id"] == entry["id"]:
	        cfg = [v["formatted"]["value"] for v in load("cfg") if v["formatted"]["key"] == link["ifindex"]]
	        if len(cfg) != 1:
	            fail("lb_chain_cfg has no layout for ifindex %d" % link["ifindex"])
	        cfg = cfg[0]
	        arr = {le(v["key"]): le(v["value"]) for v in load("arr")}
	        kernel = [arr.get(cfg["base"] + i) for i in range(cfg["len"])]
	        if kernel != ids:
	            fail("the kernel's layout is %s, show says %s" % (kernel, ids))
	        if c["revision"] != cfg["revision"]:
	            fail("revision %s, lb_chain_cfg says %s" % (c["revision"], cfg["revision"]))
	    elif want != ["lb"] or ids != [x["id"]] or x["name"] != "lb_xdp":
	        fail("the device runs %s, neither the chain's entry nor a lone lb_xdp" % x)
	    sys.exit(0)
	tcx = open(os.path.join(d, "tcx")).read().split()
	cls = [(f["pref"], f["options"]["prog"]["id"]) for f in load("cls") if "options" in f]
	if not want:
	    if tcx != ["none"] or cls:
	        fail("left on the hook: tcx %s, cls_bpf %s" % (tcx, cls))
	elif mode == "tcx":
	    mine = ["%d:%d" % (e["prog_id"], e["link_id"]) for e in elems]
	    if tcx != mine or cls:
	        fail("the kernel's tcx array is %s (cls_bpf %s), show says %s" % (tcx, cls, mine))
	else:
	    mine = [(e["pref"], e["prog_id"]) for e in elems]
	    if cls != mine or tcx != ["none"]:
	        fail("the cls_bpf filters are %s (tcx %s), show says %s" % (cls, tcx, mine))
	    if [p for p, _ in mine] != sorted({p for p, _ in mine}):
	        fail("prefs not strictly ascending: %s" % mine)
	EOF
}

# elem HOOK LABEL FIELD: one field of one element from chain show -j.
elem() {
	lbattach_l -j chain show dev "$DEV_L" hook "$1" | json_get "[e[\"$3\"] for c in j for e in c[\"chain\"] if e[\"label\"] == \"$2\"][0]"
}

# revision HOOK: the chain's revision.
revision() {
	lbattach_l -j chain show dev "$DEV_L" hook "$1" | json_get 'j[0]["revision"]'
}

# label_pins HOOK: the label pins of the hook, sorted, on one line.
label_pins() {
	local dir=$ROOT/chains/$DEV_L/$1
	if [ -d "$dir" ]; then
		find "$dir" -mindepth 1 -printf '%f\n' | sort | xargs
	fi
}

# chain_state: everything a refused chain command must leave alone: the chains as
# lbattach shows them (packet counts left out), the attachments, what the kernel
# has on the device (XDP, tcx, cls_bpf, qdiscs, bpftool net), the XDP chain maps
# and the pin tree.
chain_state() {
	echo "== chain show"
	lbattach_l -j chain show 2>&1 | sed -E 's/,"packets":[^,}]*//g'
	echo "== show"
	lbattach_l -j show 2>&1
	echo "== link"
	ip -n "$NS_L" -d -j link show dev "$DEV_L"
	echo "== tcx"
	lbt_tcx "$NS_L" "$DEV_L" ingress
	lbt_tcx "$NS_L" "$DEV_L" egress
	echo "== tc"
	tc_filters ingress
	tc_filters egress
	tc -n "$NS_L" qdisc show dev "$DEV_L"
	echo "== bpftool net"
	lb_ns "$NS_L" bpftool -j net show dev "$DEV_L"
	echo "== xdp chain maps"
	if [ -e "$ROOT/maps/lb_chain_cfg" ]; then
		bpftool -j map dump pinned "$ROOT/maps/lb_chain_cfg"
		bpftool -j map dump pinned "$ROOT/maps/lb_chain"
	fi
	echo "== tree"
	find "$ROOT" -printf '%P %y %m\n' | sort
}

# refused STATUS REGEX COMMAND...: COMMAND (chain ... or lbattach_l ...) exits
# STATUS, prints nothing on stdout and one line on stderr that starts with
# "lbattach: " and matches REGEX, and chain_state is the same before and after.
refused() {
	local want=$1 re=$2 before after
	shift 2
	before=$(chain_state)
	run --separate-stderr "$@"
	if ! assert_status "$want" || ! assert_err_line lbattach "$re" ||
		! assert_eq "$output" "" "stdout"; then
		echo "command: $*" >&2
		return 1
	fi
	after=$(chain_state)
	if [ "$before" != "$after" ]; then
		echo "lbattach $* changed the state:" >&2
		diff <(echo "$before") <(echo "$after") >&2
		return 1
	fi
}

# ---------------------------------------------------------------- XDP

@test "xdp: add, move and del give the order asked; the kernel runs that layout" {
	local r0 r
	add xdp s1 stamp1
	chain_check xdp native "s1"
	# The chain runs behind the entry program, recorded like an attachment.
	assert_eq "$(lbattach_l -j show | json_get '[(a["hook"], a["prog"]) for a in j]')" \
		'[["xdp", "lb_chain_entry"]]' "attachments"
	r0=$(revision xdp)
	add xdp s2 stamp2
	chain_check xdp native "s1 s2"
	# A program that knows nothing of chains; its label defaults to its name.
	chain add hook xdp obj "$FOREIGN" first
	chain_check xdp native "foreign_xdp s1 s2"
	add xdp s3 stamp3 after s1
	chain_check xdp native "foreign_xdp s1 s3 s2"
	add xdp s4 stamp4 before foreign_xdp
	chain_check xdp native "s4 foreign_xdp s1 s3 s2"
	assert_eq "$(label_pins xdp)" "foreign_xdp s1 s2 s3 s4" "label pins"

	chain move hook xdp name s2 first
	chain_check xdp native "s2 s4 foreign_xdp s1 s3"
	chain move hook xdp name s4 last
	chain_check xdp native "s2 foreign_xdp s1 s3 s4"
	chain move hook xdp name foreign_xdp after s3
	chain_check xdp native "s2 s1 s3 foreign_xdp s4"
	chain move hook xdp name s1 before s2
	chain_check xdp native "s1 s2 s3 foreign_xdp s4"
	# A move keeps the program: same id.
	local id
	id=$(elem xdp s3 prog_id)
	chain move hook xdp name s3 first
	chain_check xdp native "s3 s1 s2 foreign_xdp s4"
	assert_eq "$(elem xdp s3 prog_id)" "$id" "s3's program after the move"
	# Moving to where it is changes nothing.
	r=$(revision xdp)
	chain move hook xdp name s3 first
	chain_check xdp native "s3 s1 s2 foreign_xdp s4"
	assert_eq "$(revision xdp)" "$r" "revision after a move to the same place"
	# Every change made a new revision.
	[ "$r" -gt "$r0" ] || { echo "revision $r0 -> $r" >&2; false; }

	chain del hook xdp name s1
	chain_check xdp native "s3 s2 foreign_xdp s4"
	chain del hook xdp name foreign_xdp
	chain_check xdp native "s3 s2 s4"
	assert_eq "$(label_pins xdp)" "s2 s3 s4" "label pins"

	# Text: a head line, then one line per element.
	run --separate-stderr chain show hook xdp
	assert_status 0
	assert_no_stderr
	[[ ${lines[0]} =~ ^dev\ $DEV_L\ hook\ xdp\ mode\ native\ revision\ [0-9]+$ ]] ||
		{ echo "head: ${lines[0]}" >&2; false; }
	[[ ${lines[1]} =~ ^\ \ 1\ s3\ prog\ stamp3_xdp\ id\ $(elem xdp s3 prog_id)\ tag\ [0-9a-f]{16}\ packets\ [0-9]+$ ]] ||
		{ echo "element: ${lines[1]}" >&2; false; }
	assert_eq "${#lines[@]}" 4 "lines of chain show"

	# The last element takes the chain, the entry program and the records with it.
	chain del hook xdp name s3
	chain del hook xdp name s2
	chain_check xdp native "s4"
	chain del hook xdp name s4
	chain_check xdp native ""
	assert_eq "$(lbattach_l show)" "" "attachments after the last element"
	assert_eq "$(lbattach_l -j chain show | json_get 'j')" "[]" "chain show after the last element"
	[ ! -e "$ROOT/chains/$DEV_L" ] || { echo "chain pins left: $(find "$ROOT/chains")" >&2; false; }
	[ ! -e "$ROOT/links/$DEV_L" ] || { echo "link pins left: $(find "$ROOT/links")" >&2; false; }
}

@test "xdp: where membarrier is refused, a switch waits a grace period another way and clears the old layout" {
	# LB_SYNC_RCU=map makes liblb take its fallback (an update of a map-in-map
	# element, which the kernel completes after synchronize_rcu()), as on a
	# nohz_full kernel that refuses MEMBARRIER_CMD_GLOBAL.
	export LB_SYNC_RCU=map
	add xdp s1 stamp1
	add xdp s2 stamp2
	strace -f -qq -e trace=membarrier -o "$T/strace" \
		nsenter --net="/run/netns/$NS_L" "$LBATTACH" -P "$ROOT" chain move dev "$DEV_L" \
		hook xdp name s2 first
	chain_check xdp native "s2 s1"
	assert_eq "$(grep -c membarrier "$T/strace")" 0 "membarrier calls"
	chain del hook xdp name s1
	chain_check xdp native "s2"
	# Only the live layout holds programs: the step slot and s2, nothing of the
	# layouts before (they were cleared after the wait).
	assert_eq "$(bpftool -j map dump pinned "$ROOT/maps/lb_chain" | json_get 'len(j)')" 2 \
		"slots of lb_chain in use"
	unset LB_SYNC_RCU
}

@test "xdp: attach adds lb to a chain, detach removes it; a lone lb_xdp becomes a chain in place" {
	# lb alone: a plain attachment, shown as a chain of one.
	lbattach_l attach dev "$DEV_L" xdp
	chain_check xdp native "lb"
	local link
	link=$(lbattach_l -j show | json_get 'j[0]["link_id"]')

	# A program added after it: the same link now runs the chain's entry.
	add xdp s1 stamp1
	chain_check xdp native "lb s1"
	assert_eq "$(lbattach_l -j show | json_get '[(a["prog"], a["link_id"]) for a in j]')" \
		"[[\"lb_chain_entry\", $link]]" "the XDP link, updated in place"
	assert_eq "$(elem xdp lb prog)" lb_xdp_chained "lb's program in a chain"
	add xdp s2 stamp2 first
	chain_check xdp native "s2 lb s1"

	# detach removes the element lb, the chain goes on.
	run --separate-stderr lbattach_l detach dev "$DEV_L" xdp
	assert_status 0
	assert_no_stderr
	chain_check xdp native "s2 s1"
	# attach puts it back, at the end.
	lbattach_l attach dev "$DEV_L" xdp
	chain_check xdp native "s2 s1 lb"
	# It is there already.
	refused 1 'already' chain add hook xdp lb
	refused 1 'already|reserved' chain add hook xdp obj "$STAMP" sec stamp3_xdp name lb
	chain del hook xdp name lb
	chain_check xdp native "s2 s1"
	chain add hook xdp lb first
	chain_check xdp native "lb s2 s1"
	chain move hook xdp name lb after s1
	chain_check xdp native "s2 s1 lb"
	chain del hook xdp name s2
	chain del hook xdp name s1
	chain_check xdp native "lb"
	# The chain's last element lb: nothing stays on the device.
	chain del hook xdp name lb
	chain_check xdp native ""
	assert_eq "$(lbattach_l show)" "" "attachments"
}

@test "xdp: mode generic is the chain's mode; at most 16 programs" {
	add xdp s1 stamp1 mode generic
	chain_check xdp generic "s1"
	# Later elements take the chain's mode; another one is refused.
	add xdp s2 stamp2
	chain_check xdp generic "s1 s2"
	refused 1 "mode" add xdp s3 stamp3 mode native
	local i labels="s1 s2"
	for i in $(seq 3 16); do
		add xdp "s$i" stamp1 first
		labels="s$i $labels"
	done
	chain_check xdp generic "$labels"
	refused 1 "16" add xdp s17 stamp1
	refused 1 "16" chain add hook xdp lb
	chain del hook xdp name s9
	chain add hook xdp lb after s10
	chain_check xdp generic "${labels/s10 s9/s10 lb}"
}

# xlated_funcs ID: the functions of program ID as its xlated dump names them
# (bpftool finds them in its func_info), one line, in order.
xlated_funcs() {
	bpftool prog dump xlated id "$1" | sed -n 's/^[a-z_ ]* \**\([a-z_0-9]*\)(.*):$/\1/p' | xargs
}

@test "xdp: a foreign program with global subprograms is wrapped with its BTF, moved and deleted" {
	add xdp s1 stamp1
	add xdp s2 stamp2
	# globalfn_xdp -> gf_stamp_xdp -> (bpf_loop) count_cb -> gf_count, two of them
	# global: the kernel checks those from their BTF (func_info), which the wrapper
	# carries over, and takes count_cb's address only with func_info.
	chain add hook xdp obj "$GLOBALFN" after s1
	chain_check xdp native "s1 globalfn_xdp s2"
	local id
	id=$(elem xdp globalfn_xdp prog_id)
	local btf
	btf=$(bpftool -j prog show id "$id" | json_get 'j.get("btf_id", 0)')
	[ "$btf" -gt 0 ] || { echo "the wrapped program has no BTF" >&2; false; }
	# Its BTF: the program's, and its main function once more, static.
	assert_eq "$(bpftool btf dump id "$btf" | sed -n "s/^\[[0-9]*\] FUNC '\(globalfn_xdp\|gf_count\)' type_id=[0-9]* linkage=/\1 /p" | xargs)" \
		"gf_count global globalfn_xdp global globalfn_xdp static" "FUNCs of the wrapped program's BTF"
	# Functions: the wrapper under the program's name, then the program (now a
	# static function of the same name), then its subprograms in libbpf's order.
	assert_eq "$(xlated_funcs "$id")" "globalfn_xdp globalfn_xdp gf_stamp_xdp count_cb gf_count" \
		"functions of the wrapped program"
	# Line info: the source lines of the program's own functions, at their places.
	bpftool prog dump xlated id "$id" linum >"$T/xlated"
	grep -q '^; __sync_fetch_and_add(cnt, 1); \[file:.*/globalfn.bpf.c line_num:[0-9]' "$T/xlated" ||
		{ echo "no line info of gf_count:" >&2; cat "$T/xlated" >&2; false; }
	# (It runs, with traffic: chain_traffic.bats.)
	chain move hook xdp name globalfn_xdp first
	chain_check xdp native "globalfn_xdp s1 s2"
	chain move hook xdp name globalfn_xdp last
	chain_check xdp native "s1 s2 globalfn_xdp"
	assert_eq "$(elem xdp globalfn_xdp prog_id)" "$id" "its program after the moves"
	chain del hook xdp name globalfn_xdp
	chain_check xdp native "s1 s2"
	assert_eq "$(label_pins xdp)" "s1 s2" "label pins"
	# An object without .BTF.ext (no func_info, no line info; none needed): its
	# wrapper goes without BTF, as the program went.
	llvm-objcopy --remove-section .BTF.ext "$FOREIGN" "$T/noext.bpf.o"
	chain add hook xdp obj "$T/noext.bpf.o" name f
	chain_check xdp native "s1 s2 f"
	assert_eq "$(bpftool -j prog show id "$(elem xdp f prog_id)" | json_get 'j.get("btf_id", 0)')" \
		0 "BTF of the wrapper of a program without func_info"
}

@test "tc (tcx and clsact): a program with global subprograms is added, moved and deleted" {
	add tc-ingress t1 stamp1
	chain add hook tc-ingress obj "$GLOBALFN" first
	chain_check tc-ingress tcx "globalfn_tc t1"
	chain move hook tc-ingress name globalfn_tc last
	chain_check tc-ingress tcx "t1 globalfn_tc"
	assert_eq "$(xlated_funcs "$(elem tc-ingress globalfn_tc prog_id)")" \
		"globalfn_tc gf_check_tc gf_count" "functions of the tc program"
	chain del hook tc-ingress name globalfn_tc
	chain_check tc-ingress tcx "t1"
	add tc-egress e1 stamp1 mode clsact
	chain add hook tc-egress obj "$GLOBALFN" name g first
	chain_check tc-egress clsact "g e1"
	chain move hook tc-egress name g last
	chain_check tc-egress clsact "e1 g"
	chain del hook tc-egress name g
	chain_check tc-egress clsact "e1"
}

# ---------------------------------------------------------------- tcx

@test "tc-ingress (tcx): add, move and del give the order asked; the kernel's tcx array agrees" {
	add tc-ingress t1 stamp1
	chain_check tc-ingress tcx "t1"
	add tc-ingress t2 stamp2
	chain_check tc-ingress tcx "t1 t2"
	add tc-ingress t3 stamp3 first
	chain_check tc-ingress tcx "t3 t1 t2"
	add tc-ingress t4 stamp4 after t3
	chain_check tc-ingress tcx "t3 t4 t1 t2"
	add tc-ingress t9 drop before t2
	chain_check tc-ingress tcx "t3 t4 t1 t9 t2"
	assert_eq "$(label_pins tc-ingress)" "t1 t2 t3 t4 t9" "label pins"
	# Nothing on egress, nothing in the XDP hook.
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" egress)" none "tcx egress"
	chain_check xdp native ""

	local id
	id=$(elem tc-ingress t1 prog_id)
	chain move hook tc-ingress name t1 first
	chain_check tc-ingress tcx "t1 t3 t4 t9 t2"
	assert_eq "$(elem tc-ingress t1 prog_id)" "$id" "t1's program after the move"
	chain move hook tc-ingress name t3 last
	chain_check tc-ingress tcx "t1 t4 t9 t2 t3"
	chain move hook tc-ingress name t2 before t4
	chain_check tc-ingress tcx "t1 t2 t4 t9 t3"
	chain move hook tc-ingress name t1 after t9
	chain_check tc-ingress tcx "t2 t4 t9 t1 t3"
	chain move hook tc-ingress name t3 after t2
	chain_check tc-ingress tcx "t2 t3 t4 t9 t1"

	chain del hook tc-ingress name t9
	chain_check tc-ingress tcx "t2 t3 t4 t1"
	chain del hook tc-ingress name t2
	chain_check tc-ingress tcx "t3 t4 t1"
	assert_eq "$(label_pins tc-ingress)" "t1 t3 t4" "label pins"
	chain del hook tc-ingress name t3
	chain del hook tc-ingress name t4
	chain del hook tc-ingress name t1
	chain_check tc-ingress tcx ""
	[ ! -e "$ROOT/chains/$DEV_L" ] || { echo "chain pins left: $(find "$ROOT/chains")" >&2; false; }
}

@test "tc-ingress (tcx): attach and detach of lb are moves of the element lb" {
	lbattach_l attach dev "$DEV_L" tc ingress
	chain_check tc-ingress tcx "lb"
	add tc-ingress t1 stamp1 before lb
	add tc-ingress t2 stamp2
	chain_check tc-ingress tcx "t1 lb t2"
	refused 1 'already' chain add hook tc-ingress lb
	refused 1 'reserved' chain add hook tc-ingress obj "$STAMP" sec stamp3_tc name lb

	run --separate-stderr lbattach_l detach dev "$DEV_L" tc ingress
	assert_status 0
	assert_no_stderr
	chain_check tc-ingress tcx "t1 t2"
	assert_eq "$(lbattach_l show)" "" "attachments after detach"
	lbattach_l attach dev "$DEV_L" tc ingress
	chain_check tc-ingress tcx "t1 t2 lb"
	chain move hook tc-ingress name lb first
	chain_check tc-ingress tcx "lb t1 t2"
	# lbattach show follows lb's new link.
	assert_eq "$(lbattach_l -j show | json_get '[(a["hook"], a["prog_id"], a["link_id"]) for a in j]')" \
		"[[\"tc-ingress\", $(elem tc-ingress lb prog_id), $(elem tc-ingress lb link_id)]]" \
		"attachments after the move"
	chain del hook tc-ingress name lb
	chain_check tc-ingress tcx "t1 t2"
	chain add hook tc-ingress lb after t1
	chain_check tc-ingress tcx "t1 lb t2"
	assert_eq "$(lbattach_l -j show | json_get '[a["link_id"] for a in j]')" \
		"[$(elem tc-ingress lb link_id)]" "lb's record"
}

# ---------------------------------------------------------------- clsact

@test "clsact: filters by pref in the order asked, lb's filter stays at pref 50000" {
	lbattach_l attach dev "$DEV_L" tc ingress mode clsact
	chain_check tc-ingress clsact "lb"
	assert_eq "$(elem tc-ingress lb pref)" 50000 "lb's pref"
	# The chain's mode applies to what is added (no mode given).
	add tc-ingress c1 stamp1 first
	chain_check tc-ingress clsact "c1 lb"
	add tc-ingress c2 stamp2
	chain_check tc-ingress clsact "c1 lb c2"
	add tc-ingress c3 stamp3 before lb
	chain_check tc-ingress clsact "c1 c3 lb c2"
	add tc-ingress c4 stamp4 after lb mode clsact
	chain_check tc-ingress clsact "c1 c3 lb c4 c2"
	chain move hook tc-ingress name c2 first
	chain_check tc-ingress clsact "c2 c1 c3 lb c4"
	chain move hook tc-ingress name c1 after c4
	chain_check tc-ingress clsact "c2 c3 lb c4 c1"
	chain move hook tc-ingress name c4 before c3
	chain_check tc-ingress clsact "c2 c4 c3 lb c1"
	assert_eq "$(elem tc-ingress lb pref)" 50000 "lb's pref"
	# lb's filter does not move; the others are placed around it.
	refused 1 'pref 50000' chain move hook tc-ingress name lb first
	# A chain has one mode.
	refused 1 'mode' chain add hook tc-ingress obj "$STAMP" sec drop_tc name x mode tcx
	chain del hook tc-ingress name c3
	chain_check tc-ingress clsact "c2 c4 lb c1"
	assert_eq "$(label_pins tc-ingress)" "c1 c2 c4" "label pins"

	# tc-egress, clsact from the first element on, the same operations.
	add tc-egress e1 stamp1 mode clsact
	chain_check tc-egress clsact "e1"
	add tc-egress e2 stamp2 first
	chain_check tc-egress clsact "e2 e1"
	add tc-egress e3 stamp3 after e2
	chain_check tc-egress clsact "e2 e3 e1"
	chain move hook tc-egress name e1 first
	chain_check tc-egress clsact "e1 e2 e3"
	chain del hook tc-egress name e2
	chain_check tc-egress clsact "e1 e3"
	# Ingress untouched by all of that.
	chain_check tc-ingress clsact "c2 c4 lb c1"

	# detach removes lb's filter only.
	lbattach_l detach dev "$DEV_L" tc ingress
	chain_check tc-ingress clsact "c2 c4 c1"
	chain del hook tc-ingress name c2
	chain del hook tc-ingress name c4
	chain del hook tc-ingress name c1
	chain_check tc-ingress clsact ""
	chain del hook tc-egress name e1
	chain del hook tc-egress name e3
	chain_check tc-egress clsact ""
	# The last filter took the clsact qdisc with it.
	if tc -n "$NS_L" qdisc show dev "$DEV_L" | grep -q clsact; then
		echo "clsact qdisc left: $(tc -n "$NS_L" qdisc show dev "$DEV_L")" >&2
		false
	fi
}

@test "clsact: elements appended before lb is there leave pref 50000 to it; chain add lb joins in clsact" {
	add tc-egress e1 stamp1 mode clsact
	add tc-egress e2 stamp2
	add tc-egress e3 stamp3
	chain_check tc-egress clsact "e1 e2 e3"
	local p
	for p in e1 e2 e3; do
		[ "$(elem tc-egress "$p" pref)" != 50000 ] ||
			{ echo "$p took pref 50000, which is lb's" >&2; false; }
	done
	# lb (no mode given) joins the chain in its mode, with its pref.
	chain add hook tc-egress lb
	assert_eq "$(elem tc-egress lb pref)" 50000 "lb's pref"
	lbattach_l -j chain show dev "$DEV_L" hook tc-egress | "$PY" -c '
import json, sys
c = json.load(sys.stdin)[0]
assert c["mode"] == "clsact", c
labels = [e["label"] for e in c["chain"]]
assert [l for l in labels if l != "lb"] == ["e1", "e2", "e3"], labels
prefs = [e["pref"] for e in c["chain"]]
assert prefs == sorted(set(prefs)), prefs'
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" egress)" none "tcx egress"
	assert_eq "$(lbattach_l -j show | json_get '[(a["hook"], a["mode"]) for a in j]')" \
		'[["tc-egress", "clsact"]]' "lb's attachment"
}

# ---------------------------------------------------------------- refused

@test "refused: unknown labels, bad objects, missing sections, taken labels, usage: one line, nothing changes" {
	local garbage=$T/garbage.bpf.o hook
	head -c 4096 /dev/urandom >"$garbage"
	# A chain of two on each kind of hook.
	add xdp a stamp1
	add xdp b stamp2
	add tc-ingress a stamp1
	add tc-ingress b stamp2
	add tc-egress a stamp1 mode clsact
	add tc-egress b stamp2
	chain_check xdp native "a b"
	chain_check tc-ingress tcx "a b"
	chain_check tc-egress clsact "a b"

	for hook in xdp tc-ingress tc-egress; do
		# Operations that fail: exit 1.
		refused 1 "no element 'nosuch'" add "$hook" c stamp3 before nosuch
		refused 1 "no element 'nosuch'" add "$hook" c stamp3 after nosuch
		refused 1 "no element 'nosuch'" chain del hook "$hook" name nosuch
		refused 1 "no element 'nosuch'" chain move hook "$hook" name nosuch first
		refused 1 "no element 'nosuch'" chain move hook "$hook" name a before nosuch
		refused 1 "no element 'nosuch'" chain move hook "$hook" name a after nosuch
		refused 1 "itself" chain move hook "$hook" name a after a
		refused 1 "'a'" add "$hook" a stamp3
		refused 1 "'b'" add "$hook" b stamp3 first
		refused 1 "not a BPF object|$garbage" chain add hook "$hook" obj "$garbage" name c
		refused 1 "nosuch.o|No such file" chain add hook "$hook" obj "$T/nosuch.o" name c
		refused 1 "nosuch" chain add hook "$hook" obj "$STAMP" sec nosuch name c
		# An object seen for the first time: its maps are not pinned either.
		refused 1 "nosuch" chain add hook "$hook" obj "$RATELIMIT" sec nosuch name c
		refused 1 "label" add "$hook" 'bad/label' stamp3
		refused 1 "label" add "$hook" .hidden stamp3
		refused 1 "nosuch0" lbattach_l chain show dev nosuch0 hook "$hook"
	done
	# A tc program on XDP and an XDP one on tc.
	refused 1 "XDP|xdp|type" chain add hook xdp obj "$STAMP" sec stamp3_tc name c
	refused 1 "tc|type" chain add hook tc-ingress obj "$STAMP" sec stamp3_xdp name c
	refused 1 "tc|type" chain add hook tc-egress obj "$STAMP" sec stamp3_xdp name c
	# A device that does not exist.
	refused 1 "nosuch0" lbattach_l chain add dev nosuch0 hook xdp obj "$STAMP" sec stamp3_xdp name c

	# Usage errors: exit 2.
	refused 2 "hook" chain add hook nosuch obj "$STAMP" name c
	refused 2 "hook" lbattach_l chain add dev "$DEV_L" obj "$STAMP" name c
	refused 2 "dev" lbattach_l chain add hook xdp obj "$STAMP" name c
	refused 2 "obj|lb" chain add hook xdp name c
	refused 2 "obj|lb" chain add hook xdp obj "$STAMP" lb
	refused 2 "sec" chain add hook xdp sec stamp3_xdp name c
	refused 2 "position" chain add hook xdp obj "$STAMP" name c first last
	refused 2 "name" chain del hook xdp
	refused 2 "name" chain move hook xdp first
	refused 2 "position" chain move hook xdp name a
	refused 2 "obj|apply" chain del hook xdp name a obj "$STAMP"
	refused 2 "expect" chain del hook xdp name a expect abc
	refused 2 "expect" chain del hook xdp name a expect 0
	refused 2 "mode" chain add hook xdp obj "$STAMP" name c mode nosuch
	refused 2 "nosuch" chain add hook xdp obj "$STAMP" name c nosuch
	refused 2 "before" chain add hook xdp obj "$STAMP" name c before
	refused 2 "nosuch" lbattach_l chain nosuch
	# A mode of the other kind of hook, as for attach.
	refused 2 "mode" chain add hook xdp obj "$STAMP" sec stamp3_xdp name c mode tcx
	refused 2 "mode" chain add hook tc-ingress obj "$STAMP" sec stamp3_tc name c mode native

	chain_check xdp native "a b"
	chain_check tc-ingress tcx "a b"
	chain_check tc-egress clsact "a b"
}

# ---------------------------------------------------------------- expect

@test "expect: a revision that is no longer the chain's is refused and changes nothing" {
	local hook old cur
	add xdp a stamp1
	add tc-ingress a stamp1
	add tc-egress a stamp1 mode clsact
	for hook in xdp tc-ingress tc-egress; do
		# Someone reads the revision, someone else changes the chain.
		old=$(revision "$hook")
		add "$hook" b stamp2
		cur=$(revision "$hook")
		[ "$cur" != "$old" ] || { echo "$hook: revision $old did not change" >&2; false; }
		# Every change made with the old revision is refused.
		# shellcheck disable=SC2086
		refused 1 "changed|revision|stale" add "$hook" c stamp3 expect "$old"
		refused 1 "changed|revision|stale" add "$hook" c stamp3 first expect "$old"
		refused 1 "changed|revision|stale" chain del hook "$hook" name a expect "$old"
		refused 1 "changed|revision|stale" chain move hook "$hook" name a last expect "$old"
		# With the current one they go through, each making a new revision.
		chain move hook "$hook" name a last expect "$cur"
		old=$cur
		cur=$(revision "$hook")
		[ "$cur" != "$old" ] || { echo "$hook: revision $old did not change on move" >&2; false; }
		refused 1 "changed|revision|stale" chain del hook "$hook" name a expect "$old"
		add "$hook" c stamp3 first expect "$cur"
		cur=$(revision "$hook")
		chain del hook "$hook" name a expect "$cur"
		case $hook in
		xdp) chain_check xdp native "c b" ;;
		tc-ingress) chain_check tc-ingress tcx "c b" ;;
		tc-egress) chain_check tc-egress clsact "c b" ;;
		esac
		assert_eq "$(label_pins "$hook")" "b c" "$hook: label pins"
	done
}

# ---------------------------------------------------------------- pins

@test "the chains outlive the tool; a fresh process rebuilds the view from the kernel and the pins" {
	add xdp s1 stamp1
	chain add hook xdp obj "$FOREIGN" name f
	lbattach_l attach dev "$DEV_L" xdp
	add tc-ingress t1 stamp1
	lbattach_l attach dev "$DEV_L" tc ingress
	add tc-egress e1 stamp1 mode clsact
	lbattach_l attach dev "$DEV_L" tc egress mode clsact
	chain_check xdp native "s1 f lb"
	chain_check tc-ingress tcx "t1 lb"
	chain_check tc-egress clsact "e1 lb"

	local all
	all=$(lbattach_l -j chain show)
	assert_eq "$(json_get '[(c["ifname"], c["hook"], c["mode"], [e["label"] for e in c["chain"]]) for c in j]' <<<"$all")" \
		"[[\"$DEV_L\", \"xdp\", \"native\", [\"s1\", \"f\", \"lb\"]], [\"$DEV_L\", \"tc-ingress\", \"tcx\", [\"t1\", \"lb\"]], [\"$DEV_L\", \"tc-egress\", \"clsact\", [\"e1\", \"lb\"]]]" \
		"every chain of the root"
	# The same through LB_PIN_ROOT instead of -P, from another process.
	assert_eq "$(LB_PIN_ROOT=$ROOT lb_ns "$NS_L" "$LBATTACH" -j chain show | json_get '[[e["prog_id"] for e in c["chain"]] for c in j]')" \
		"$(json_get '[[e["prog_id"] for e in c["chain"]] for c in j]' <<<"$all")" "chain show via LB_PIN_ROOT"

	# The labels are the pins: a tcx label pins the link, the others the program.
	assert_eq "$(bpftool -j link show pinned "$ROOT/chains/$DEV_L/tc-ingress/t1" | json_get 'j["prog_id"]')" \
		"$(elem tc-ingress t1 prog_id)" "t1's pin: its link"
	assert_eq "$(bpftool -j prog show pinned "$ROOT/chains/$DEV_L/xdp/s1" | json_get 'j["id"]')" \
		"$(elem xdp s1 prog_id)" "s1's pin: its program"
	assert_eq "$(bpftool -j prog show pinned "$ROOT/chains/$DEV_L/tc-egress/e1" | json_get 'j["id"]')" \
		"$(elem tc-egress e1 prog_id)" "e1's pin: its program"
	# Renamed pin, renamed element: nothing else remembers the labels.
	mv "$ROOT/chains/$DEV_L/xdp/s1" "$ROOT/chains/$DEV_L/xdp/first"
	chain_check xdp native "first f lb"
	chain move hook xdp name first last
	chain_check xdp native "f lb first"
	# A pin gone: the program still runs (the layout holds it), shown without a label.
	rm "$ROOT/chains/$DEV_L/xdp/f"
	chain_check xdp native "- lb first"
	# ... and cls_bpf's filter holds e1's program the same way.
	rm "$ROOT/chains/$DEV_L/tc-egress/e1"
	chain_check tc-egress clsact "- lb"
}

@test "destroy: no tcx link, no filter, no XDP program is left on the device" {
	add xdp s1 stamp1
	chain add hook xdp obj "$FOREIGN"
	lbattach_l attach dev "$DEV_L" xdp
	add tc-ingress t1 stamp1
	add tc-ingress t2 stamp2
	lbattach_l attach dev "$DEV_L" tc ingress
	add tc-egress e1 stamp1 mode clsact
	lbattach_l attach dev "$DEV_L" tc egress mode clsact
	add tc-egress e2 stamp2
	chain_check xdp native "s1 foreign_xdp lb"
	chain_check tc-ingress tcx "t1 t2 lb"
	chain_check tc-egress clsact "e1 lb e2"
	local ids
	ids=$(lbattach_l -j chain show | json_get '" ".join(str(e["prog_id"]) for c in j for e in c["chain"])')

	run --separate-stderr lbattach_l destroy
	assert_status 0
	assert_no_stderr
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" ingress)" none "tcx ingress"
	assert_eq "$(lbt_tcx "$NS_L" "$DEV_L" egress)" none "tcx egress"
	assert_eq "$(tc_filters ingress)" "[]" "cls_bpf filters on ingress"
	assert_eq "$(tc_filters egress)" "[]" "cls_bpf filters on egress"
	if tc -n "$NS_L" qdisc show dev "$DEV_L" | grep -q clsact; then
		echo "clsact qdisc left" >&2
		false
	fi
	assert_eq "$(ip -n "$NS_L" -d -j link show dev "$DEV_L" | json_get 'j[0].get("xdp")')" null "XDP on the device"
	assert_eq "$(lb_ns "$NS_L" bpftool -j net show dev "$DEV_L" | json_get '[j[0]["xdp"], j[0]["tc"]]')" \
		"[[], []]" "bpftool net"
	# No program of the chains is left in the kernel: nothing holds them.  (The
	# kernel frees them after an RCU grace period and a work item: poll, at most 5 s.)
	local id left
	for _ in $(seq 50); do
		left=""
		for id in $ids; do
			bpftool prog show id "$id" >/dev/null 2>&1 && left="$left $id"
		done
		[ -z "$left" ] && break
		sleep 0.1
	done
	assert_eq "$left" "" "programs still loaded"
	assert_eq "$(find "$ROOT" -mindepth 1 -maxdepth 1 ! -name '*.debug' -printf '%f ')" "" "pins left"
}
