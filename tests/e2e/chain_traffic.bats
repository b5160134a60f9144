#!/usr/bin/env bats
# lbattach chain, the data side, with real traffic: numbered UDP packets
# (tests/e2e/udpseq.py) from the client namespace to a receiver in the lb namespace,
# stamped by the programs of tests/progs/stamp.bpf.c on the lb side's hook, so that
# each packet arrives with the list of programs it went through, in order.  Then
# the examples ratelimit and connlimit in front of the load balancer.
# The control side (order, refusals, pins): chain.bats.

# shellcheck disable=SC2154 # status, output: set by bats' run
load lb_helpers

STAMP=$LB_REPO/build/tests/progs/stamp.bpf.o
FOREIGN=$LB_REPO/build/tests/progs/foreign.bpf.o
GLOBALFN=$LB_REPO/build/tests/progs/globalfn.bpf.o
RATELIMIT=$LB_REPO/build/examples/ratelimit.bpf.o
CONNLIMIT=$LB_REPO/build/examples/connlimit.bpf.o
UDPSEQ=$LB_REPO/tests/e2e/udpseq.py
PORT=9999		# the stamp programs' port
RECV_PID='' SEND_PID=''

teardown() {
	lb_teardown
}

# need_objects: the BPF objects of the tests are built.
need_objects() {
	local f
	for f in "$STAMP" "$FOREIGN" "$GLOBALFN" "$RATELIMIT" "$CONNLIMIT" "$UDPSEQ"; do
		[ -f "$f" ] || { echo "$f is missing: run 'make all' first" >&2; return 1; }
	done
	command -v bpftool >/dev/null || { echo "needs bpftool" >&2; return 1; }
}

# stamp_setup: client ns <-> lb ns (helpers.bash: one veth pair, no ARP, IPv6 off,
# so nothing but our packets crosses it).
stamp_setup() {
	lbt_setup || return 1
	need_objects || return 1
	lbt_topo || return 1
}

# chain ARGS...: "lbattach chain ARGS" on $DEV_L.
chain() {
	local cmd=$1
	shift
	lbattach_l chain "$cmd" dev "$DEV_L" "$@"
}

# add HOOK LABEL PROG [ARGS...]: chain add of a test program: stamp1..stamp4 and drop
# (stamp.bpf.c, the section for HOOK), foreign (foreign.bpf.c, XDP only), globalfn
# (globalfn.bpf.c: stamps 8 on XDP, counts on tc).
add() {
	local hook=$1 label=$2 prog=$3 sfx=_tc
	shift 3
	[ "$hook" = xdp ] && sfx=_xdp
	if [ "$prog" = foreign ]; then
		chain add hook "$hook" obj "$FOREIGN" name "$label" "$@"
	elif [ "$prog" = globalfn ]; then
		chain add hook "$hook" obj "$GLOBALFN" sec "globalfn$sfx" name "$label" "$@"
	else
		chain add hook "$hook" obj "$STAMP" sec "$prog$sfx" name "$label" "$@"
	fi
}

# The stream's direction: "in" from the client to the lb namespace (the default),
# "out" from the lb namespace to the client (through tc egress of $DEV_L).
DIR=in

# recv_start COUNT: the receiver ($IP_L:$PORT in the lb namespace, or $IP_C:$PORT in
# the client's for DIR=out), bound when this returns.  It stops by itself once it
# has all COUNT, or 5 s after the last packet.
recv_start() {
	local ns=$NS_L ip=$IP_L
	[ "$DIR" = out ] && ns=$NS_C ip=$IP_C
	rm -f "$T/ready" "$T/recv.json"
	nsenter --net="/run/netns/$ns" "$PY" "$UDPSEQ" recv "$ip" "$PORT" --count "$1" \
		--timeout 5 --max-time 240 --out "$T/recv.json" --ready "$T/ready" 3>&- &
	RECV_PID=$!
	lbt_add_pid "$RECV_PID"
	for _ in $(seq 100); do
		[ -e "$T/ready" ] && return 0
		sleep 0.05
	done
	echo "the receiver was not ready after 5 s" >&2
	return 1
}

# send_start COUNT RATE: the sender, in the background.
send_start() {
	local ns=$NS_C ip=$IP_L
	[ "$DIR" = out ] && ns=$NS_L ip=$IP_C
	nsenter --net="/run/netns/$ns" "$PY" "$UDPSEQ" send "$ip" "$PORT" --count "$1" \
		--rate "$2" >"$T/send.json" 2>&1 3>&- &
	SEND_PID=$!
	lbt_add_pid "$SEND_PID"
}

# traffic_wait: the sender sent everything, the receiver wrote its report.
traffic_wait() {
	wait "$SEND_PID" || { echo "sender: $(cat "$T/send.json")" >&2; return 1; }
	wait "$RECV_PID" || { echo "receiver failed" >&2; return 1; }
	[ -s "$T/recv.json" ] || { echo "no report from the receiver" >&2; return 1; }
}

# map_sum MAP [FIELD]: the sum over all entries and CPUs of a pinned map's values
# (of FIELD of a struct value), read with bpftool.
map_sum() {
	bpftool -j map dump pinned "$ROOT/maps/$1" | "$PY" -c '
import json, sys
field = sys.argv[1]
total = 0
for ent in json.load(sys.stdin):
    f = ent.get("formatted", {})
    vals = f.get("values") or ([{"value": f["value"]}] if "value" in f else None)
    if vals is None:
        raw = ent.get("values") or [{"value": ent["value"]}]
        vals = [{"value": int.from_bytes(bytes(int(b, 16) for b in v["value"]), "little")}
                for v in raw]
    for v in vals:
        v = v["value"]
        total += v[field] if field else v
print(total)' "${2:-}"
}

# seen ID: stamp_seen[ID], how many stamp packets the program with that id has seen.
seen() {
	bpftool -j map lookup pinned "$ROOT/maps/stamp_seen" key "$1" 0 0 0 |
		sed -n 's/.*"formatted":{"key":[0-9]*,"value":\([0-9]*\)}.*/\1/p'
}

# record HOOK: append the chain as it is now to $T/layouts ("start - JSON").
record() {
	printf 'start - ' >>"$T/layouts"
	lbattach_l -j chain show dev "$DEV_L" hook "$1" >>"$T/layouts" || return 1
	echo >>"$T/layouts"
}

# churn HOOK N OPS...: N chain operations on HOOK, going round OPS ("move LABEL
# WHERE...", "add LABEL PROG WHERE..." with PROG as for add, "del LABEL"), each
# followed by a line "OP LABEL JSON" in $T/layouts with the chain after it.  Before
# each operation, and after the last, it waits (at most 10 s) until the drop program
# (id 9, in every chain here) has seen 5 more packets: packets went through every
# layout.  It runs in a plain bash child (bats' per-command trap is slow), so that
# the operations keep up with the traffic.
churn() {
	local hook=$1 n=$2
	shift 2
	bash -c '
		ns=$1 lbattach=$2 root=$3 dev=$4 hook=$5 n=$6 stamp=$7 foreign=$8 out=$9
		shift 9
		ops=("$@")
		sfx=_tc
		[ "$hook" = xdp ] && sfx=_xdp
		lb() { nsenter --net="/run/netns/$ns" "$lbattach" -P "$root" "$@"; }
		seen9() {
			bpftool -j map lookup pinned "$root/maps/stamp_seen" key 9 0 0 0 |
				sed -n "s/.*\"formatted\":{\"key\":9,\"value\":\([0-9]*\)}.*/\1/p"
		}
		gate() {
			local base now
			base=$(seen9)
			for ((k = 0; k < 400; k++)); do
				now=$(seen9)
				[ "$now" -ge $((base + 5)) ] && return 0
				sleep 0.025
			done
			echo "no traffic through the chain for 10 s (stamp_seen[9] $now, was $base)" >&2
			return 1
		}
		for ((i = 0; i <= n; i++)); do
			gate || { echo "before operation $((i + 1)) of $n" >&2; exit 1; }
			((i == n)) && break
			# shellcheck disable=SC2086 # an operation is words
			set -- ${ops[i % ${#ops[@]}]}
			case $1 in
			add)
				if [ "$3" = foreign ]; then
					p=(obj "$foreign")
				else
					p=(obj "$stamp" sec "$3$sfx")
				fi
				lb chain add dev "$dev" hook "$hook" "${p[@]}" name "$2" "${@:4}"
				;;
			move) lb chain move dev "$dev" hook "$hook" name "$2" "${@:3}" ;;
			del) lb chain del dev "$dev" hook "$hook" name "$2" ;;
			esac || { echo "operation $((i + 1)) failed: $*" >&2; exit 1; }
			printf "%s %s " "$1" "$2" >>"$out"
			lb -j chain show dev "$dev" hook "$hook" >>"$out" || exit 1
			echo >>"$out"
		done' churn "$NS_L" "$LBATTACH" "$ROOT" "$DEV_L" "$hook" "$n" "$STAMP" "$FOREIGN" \
		"$T/layouts" "$@"
}

# check_run COUNT KIND [ALWAYS]: the receiver's report against the layouts recorded
# in $T/layouts and the drop program's count (stamp_drops).  Program ids follow from
# the program names: stampN -> N, foreign -> 7, globalfn -> 8, drop -> 9.
#  - No packet was lost but the ones the drop program dropped: received is COUNT
#    minus those, the missing ones are exactly the seqs with seq % 50 == 7, their
#    number is what stamp_drops counted.  No duplicates, nothing malformed.
#  - Every packet's list of ids is a layout that existed (KIND says which):
#      xdp     the layouts recorded after each operation: an XDP change is one
#              switch of lb_chain_cfg, a packet keeps the layout it started with.
#      tcx     those, and for each move the layout before it without the moved
#              program (tcx unlinks it, then links it at its new place: packets
#              in between skip it; each tcx change is one atomic swap of the
#              hook's program array).
#      clsact  those, and for each move the layout before it with the moved
#              program also at its new pref (the new filter is added before the
#              old one is deleted: a packet in between meets it twice; each
#              filter change is atomic and a packet's pass over the filters takes
#              microseconds, the two changes are separate netlink requests).
#  - Every layout recorded after an operation was seen by some packet (churn waits
#    for packets between operations, so this holds exactly).
#  - The ids in ALWAYS (space separated) are in every packet's list exactly once.
check_run() {
	"$PY" - "$T/recv.json" "$T/layouts" "$1" "$2" "${3:-}" "$(map_sum stamp_drops)" <<-'EOF'
	import json, re, sys
	rep, layouts, count, kind, always, drops = sys.argv[1:7]
	count, drops = int(count), int(drops)
	always = [int(a) for a in always.split()]
	r = json.load(open(rep))
	bad = []
	def pid(e):
	    m = re.match(r"stamp(\d)_", e["prog"])
	    if m:
	        return int(m.group(1))
	    return {"foreign_xdp": 7, "globalfn_xdp": 8, "drop_xdp": 9, "drop_tc": 9}[e["prog"]]
	want_missing = [s for s in range(count) if s % 50 == 7]
	if drops != len(want_missing):
	    bad.append("stamp_drops %d, expected %d" % (drops, len(want_missing)))
	if r["missing_count"] != drops or r["missing"] != want_missing[:100]:
	    bad.append("missing %d (%s...), dropped on purpose %d"
	               % (r["missing_count"], r["missing"][:10], drops))
	if r["received"] != count - drops:
	    bad.append("received %d of %d, dropped on purpose %d" % (r["received"], count, drops))
	for k in ("duplicates", "malformed", "out_of_range"):
	    if r[k]:
	        bad.append("%s: %d" % (k, r[k]))
	if sum(r["orders"].values()) != r["received"]:
	    bad.append("orders count %d packets" % sum(r["orders"].values()))
	recs = []
	for line in open(layouts):
	    if line.strip():
	        op, label, chain = line.split(" ", 2)
	        recs.append({"op": op, "label": label, "chain": json.loads(chain)[0]["chain"]})
	def ids(chain):
	    return ",".join(str(pid(e)) for e in chain)
	final = [ids(x["chain"]) for x in recs]
	allowed = set(final)
	for prev, x in zip(recs, recs[1:]):
	    if x["op"] != "move":
	        continue
	    if kind == "tcx":
	        allowed.add(ids([e for e in prev["chain"] if e["label"] != x["label"]]))
	    elif kind == "clsact":
	        moved = [e for e in x["chain"] if e["label"] == x["label"]]
	        both = sorted(prev["chain"] + moved, key=lambda e: e["pref"])
	        allowed.add(ids(both))
	for o, n in sorted(r["orders"].items()):
	    if o not in allowed:
	        bad.append("%d packets went through %s, a layout that never existed" % (n, o))
	    got = [int(i) for i in o.split(",") if i]
	    for a in always:
	        if got.count(a) != 1:
	            bad.append("%d packets went through %s: %d is not there once" % (n, o, a))
	for i, f in enumerate(final):
	    if f not in r["orders"]:
	        bad.append("layout %d (%s) seen by no packet" % (i, f))
	if bad:
	    print("\n".join(bad), file=sys.stderr)
	    print("layouts: %s" % final, file=sys.stderr)
	    print("report: %s" % json.dumps(r), file=sys.stderr)
	    sys.exit(1)
	EOF
}

# ---------------------------------------------------------------- order

@test "xdp: stamp1, stamp2, a foreign program, stamp3: every packet went 1,2,7,3" {
	stamp_setup
	add xdp s1 stamp1
	add xdp s2 stamp2
	add xdp f foreign
	add xdp s3 stamp3
	recv_start 1000
	send_start 1000 2000
	traffic_wait
	local r
	r=$(cat "$T/recv.json")
	assert_eq "$(json_get 'j["orders"]' <<<"$r")" '{"1,2,7,3": 1000}' "orders"
	assert_eq "$(json_get '[j["received"], j["missing_count"], j["duplicates"]]' <<<"$r")" \
		"[1000, 0, 0]" "received, missing, duplicates"
	# The programs counted them: stamp_seen, and the chain's own count per element
	# (nothing else crosses the link).
	local id
	for id in 1 2 7 3; do
		assert_eq "$(seen "$id")" 1000 "stamp_seen[$id]"
	done
	assert_eq "$(lbattach_l -j chain show dev "$DEV_L" hook xdp | json_get '[e["packets"] for e in j[0]["chain"]]')" \
		"[1000, 1000, 1000, 1000]" "packets per element"
}

@test "a foreign program with global subprograms runs in the chain: xdp 1,8,2 on every packet, moved 8,1,2; tc counts" {
	stamp_setup
	add xdp s1 stamp1
	add xdp g globalfn
	add xdp s2 stamp2
	recv_start 500
	send_start 500 2000
	traffic_wait
	assert_eq "$(json_get '[j["orders"], j["received"], j["duplicates"]]' <"$T/recv.json")" \
		'[{"1,8,2": 500}, 500, 0]' "xdp: orders, received, duplicates"
	# Its own count, from a callback of one global function calling another.
	assert_eq "$(seen 8)" 500 "stamp_seen[8]"
	lbattach_l chain move dev "$DEV_L" hook xdp name g first
	recv_start 500
	send_start 500 2000
	traffic_wait
	assert_eq "$(json_get '[j["orders"], j["received"]]' <"$T/recv.json")" \
		'[{"8,1,2": 500}, 500]' "xdp after the move: orders, received"
	chain del hook xdp name g
	recv_start 500
	send_start 500 2000
	traffic_wait
	assert_eq "$(json_get '[j["orders"], j["received"]]' <"$T/recv.json")" \
		'[{"1,2": 500}, 500]' "xdp after the del: orders, received"
	assert_eq "$(seen 8)" 1000 "stamp_seen[8] after the del"

	# tc ingress (tcx): it counts and lets the packet go on to stamp3.
	add tc-ingress g globalfn
	add tc-ingress t3 stamp3
	recv_start 500
	send_start 500 2000
	traffic_wait
	assert_eq "$(json_get '[j["orders"], j["received"]]' <"$T/recv.json")" \
		'[{"1,2,3": 500}, 500]' "tc: orders, received"
	assert_eq "$(seen 8)" 1500 "stamp_seen[8] after tc"
}

@test "tc: stamp3, stamp1, stamp2 on ingress and egress, tcx and clsact: every packet went 3,1,2" {
	stamp_setup
	local hook mode
	for hook in tc-ingress tc-egress; do
		DIR=in
		[ $hook = tc-egress ] && DIR=out
		for mode in tcx clsact; do
			add $hook a stamp1 mode $mode
			add $hook b stamp2
			add $hook c stamp3 first
			assert_eq "$(lbattach_l -j chain show dev "$DEV_L" hook $hook | json_get '[j[0]["mode"], [e["label"] for e in j[0]["chain"]]]')" \
				"[\"$mode\", [\"c\", \"a\", \"b\"]]" "$hook: the chain"
			recv_start 500
			send_start 500 2000
			traffic_wait
			assert_eq "$(json_get '[j["orders"], j["received"], j["duplicates"]]' <"$T/recv.json")" \
				'[{"3,1,2": 500}, 500, 0]' "$hook $mode: orders, received, duplicates"
			chain del hook $hook name a
			chain del hook $hook name b
			chain del hook $hook name c
		done
	done
	# Each stamp program saw all 2000 (4 runs of 500).
	assert_eq "$(seen 1) $(seen 2) $(seen 3)" "2000 2000 2000" "stamp_seen"
}

# ---------------------------------------------------------------- changes under traffic

# 20000 packets at 2000 per second (10 s): churn waits for packets between
# operations, so they are spread over the traffic, and 30 of them take a few
# seconds at most.  The receiver waits for the last packets (5 s without one ends
# it).
COUNT=20000
RATE=2000

@test "xdp: 30 inserts, removals and moves under traffic: no packet lost, none saw a half-built chain" {
	stamp_setup
	add xdp s1 stamp1
	add xdp s2 stamp2
	add xdp s3 stamp3
	add xdp d drop
	: >"$T/layouts"
	record xdp
	recv_start $COUNT
	send_start $COUNT $RATE
	# s1, s2, s3 and the drop program d are never removed; s4 and the foreign f come
	# and go; everything moves, d too.
	# One round of 10 ends where it started.
	churn xdp 30 "move s3 first" "add s4 stamp4 after s1" "move d first" "move s2 first" \
		"add f foreign before s2" "del s4" "move s1 first" "move f first" "del f" \
		"move d last"
	traffic_wait
	check_run $COUNT xdp "1 2 3 9"
	assert_eq "$(lbattach_l -j chain show dev "$DEV_L" hook xdp | json_get '[e["label"] for e in j[0]["chain"]]')" \
		'["s1", "s2", "s3", "d"]' "the chain after 3 rounds"
}

@test "tc-ingress (tcx): 30 inserts, removals and moves under traffic: none lost, every packet saw a layout that existed" {
	stamp_setup
	add tc-ingress t1 stamp1
	add tc-ingress t2 stamp2
	add tc-ingress t3 stamp3
	add tc-ingress d drop
	: >"$T/layouts"
	record tc-ingress
	recv_start $COUNT
	send_start $COUNT $RATE
	# d is never unlinked (others move around it), so every packet meets it.
	churn tc-ingress 30 "move t3 first" "add t4 stamp4 after t1" "move t2 last" "del t4" \
		"move t1 last" "add t4 stamp4 first" "move t3 after t2" "del t4" "move t1 first" \
		"move t2 before d"
	traffic_wait
	check_run $COUNT tcx "9"
	assert_eq "$(lbattach_l -j chain show dev "$DEV_L" hook tc-ingress | json_get '[e["label"] for e in j[0]["chain"]]')" \
		'["t1", "t2", "d", "t3"]' "the chain after 3 rounds"
}

@test "clsact: 30 inserts, removals and moves under traffic: none lost, every packet saw a layout that existed" {
	stamp_setup
	add tc-ingress c1 stamp1 mode clsact
	add tc-ingress c2 stamp2
	add tc-ingress c3 stamp3
	add tc-ingress d drop
	: >"$T/layouts"
	record tc-ingress
	recv_start $COUNT
	send_start $COUNT $RATE
	# d is never moved or removed; a moved filter is added before the old one goes,
	# so the others are never missed either (a packet may meet one twice).
	churn tc-ingress 30 "move c3 first" "add c4 stamp4 after c1" "move c2 last" "del c4" \
		"move c1 last" "add c4 stamp4 first" "move c3 after c2" "del c4" "move c1 first" \
		"move c2 before d"
	traffic_wait
	check_run $COUNT clsact "9"
	assert_eq "$(lbattach_l -j chain show dev "$DEV_L" hook tc-ingress | json_get '[j[0]["mode"], [e["label"] for e in j[0]["chain"]]]')" \
		'["clsact", ["c1", "c2", "d", "c3"]]' "the chain after 3 rounds"
}

# ---------------------------------------------------------------- limits before lb

# limits_setup HOOK: the load balancer (lb_helpers.bash: client, LB, three backends
# with HTTP on 8080 and the echo service on 7000), services VIP4:80 and VIP4:7000 rr
# over the three backends, and on HOOK of the client-facing interface the chain
# ratelimit -> connlimit -> lb.
limits_setup() {
	local hook=$1 sfx=_tc d n
	need_objects || return 1
	lb_setup http echo || return 1
	lb_service "$VIP4" 80 8080 || return 1
	lb_service "$VIP4" 7000 7000 || return 1
	if [ "$hook" = xdp ]; then
		sfx=_xdp
		# The XDP fast path (lb_kernel.bats): senders checksum in full, the
		# backends' side takes redirected frames (GRO), lb on every XDP hook.
		lb_ns "$NS_C" ethtool -K "$DEV_C" tx off gro on >/dev/null || return 1
		for n in 1 2 3; do
			lb_ns "${NS_B[n]}" ethtool -K "${DEV_B[n]}" tx off gro on >/dev/null || return 1
		done
		for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
			lbattach_l attach dev "$d" xdp || return 1
		done
	fi
	chain add hook "$hook" obj "$RATELIMIT" sec "ratelimit$sfx" name rl before lb || return 1
	chain add hook "$hook" obj "$CONNLIMIT" sec "connlimit$sfx" name cl after rl || return 1
	assert_eq "$(lbattach_l -j chain show dev "$DEV_L" hook "$hook" | json_get '[e["label"] for e in j[0]["chain"]]')" \
		'["rl", "cl", "lb"]' "the chain"
}

# map_set MAP HEXBYTES...: element 0 of a pinned config map.
map_set() {
	local m=$1
	shift
	bpftool map update pinned "$ROOT/maps/$m" key hex 00 00 00 00 value hex "$@"
}

# hold_and_try N: from the client, N connections to the echo service VIP4:7000 that
# stay open (their greetings printed, one a line), then one more whose SYN is
# retransmitted once at most (TCP_SYNCNT 1): prints "connected", or the error and
# how many SYNs it sent ("ETIMEDOUT 3"; the kernel may retransmit once more when the
# timer fires a little early, so they are counted: the client namespace's
# ActiveOpens and TCPSynRetrans counters, before and after).  Everything is closed
# when it returns.
hold_and_try() {
	lb_ns "$NS_C" timeout 30 "$PY" -c '
import errno, socket, sys
vip, n = sys.argv[1], int(sys.argv[2])
TCP_SYNCNT = 7
def syns():
    c = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        lines = open(path).read().splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            p = names.split(":")[0]
            for k, v in zip(names.split()[1:], values.split()[1:]):
                c[p + k] = int(v)
    return c["TcpActiveOpens"] + c["TcpExtTCPSynRetrans"]
held = []
for i in range(n):
    s = socket.create_connection((vip, 7000), timeout=10)
    f = s.makefile("r")
    held.append((s, f))
    print(f.readline().strip())
before = syns()
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, TCP_SYNCNT, 1)
try:
    s.connect((vip, 7000))
    print("connected")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)), syns() - before)
for s, f in held:
    f.close()
    s.close()' "$VIP4" "$1"
}

# cl_open: connections connlimit counts open for the client (0 when none).
cl_open() {
	map_sum cl_count
}

# limits_check HOOK: the connection limit, the rate limit, then the balanced traffic.
limits_check() {
	local got
	# At most 2 connections per source: 2 are held, every SYN of the third one is
	# dropped before it reaches the load balancer.
	map_set cl_config 02 00 00 00
	got=$(hold_and_try 2 | xargs)
	[[ $got =~ ^b[123]\ b[123]\ ETIMEDOUT\ ([0-9]+)$ ]] || { echo "held, held, third: $got" >&2; return 1; }
	local syns=${BASH_REMATCH[1]}
	[ "$syns" -ge 2 ] || { echo "the third connection sent $syns SYNs" >&2; return 1; }
	assert_eq "$(map_sum cl_stats dropped)" "$syns" "cl_stats dropped: every SYN of the third" || return 1
	[ "$(map_sum cl_stats passed)" -ge 2 ] || { echo "cl_stats passed $(map_sum cl_stats passed)" >&2; return 1; }
	# The held ones closed (their FINs passed connlimit): nothing is open any more.
	for _ in $(seq 50); do
		[ "$(cl_open)" = 0 ] && break
		sleep 0.1
	done
	assert_eq "$(cl_open)" 0 "connections counted open after closing" || return 1
	got=$(hold_and_try 1 | xargs)
	[[ $got =~ ^b[123]\ connected$ ]] || { echo "after closing: $got" >&2; return 1; }
	lbt_wait_tcp_idle "$NS_C" 7000 || return 1

	# 10 packets/s, bursts of 20: 200 packets at once are cut.
	map_set rl_config 0a 00 00 00 00 00 00 00 14 00 00 00 00 00 00 00
	local dropped0 received dropped
	dropped0=$(map_sum rl_stats dropped)
	rm -f "$T/ready" "$T/recv.json"
	nsenter --net="/run/netns/$NS_L" "$PY" "$UDPSEQ" recv "$L4" "$PORT" --count 200 \
		--timeout 3 --max-time 60 --out "$T/recv.json" --ready "$T/ready" 3>&- &
	RECV_PID=$!
	lbt_add_pid "$RECV_PID"
	for _ in $(seq 100); do
		[ -e "$T/ready" ] && break
		sleep 0.05
	done
	lb_ns "$NS_C" "$PY" "$UDPSEQ" send "$L4" "$PORT" --count 200 --rate 100000 >/dev/null || return 1
	wait "$RECV_PID" || return 1
	received=$(json_get 'j["received"]' <"$T/recv.json")
	dropped=$(($(map_sum rl_stats dropped) - dropped0))
	[ "$dropped" -gt 0 ] || { echo "rl_stats dropped nothing of the burst" >&2; return 1; }
	[ "$received" -ge 20 ] || { echo "received $received, less than the burst of 20" >&2; return 1; }
	# Every packet not received was the rate limiter's.
	assert_eq "$((received + dropped))" 200 "received $received + dropped $dropped" || return 1

	# Limits raised: connections are balanced over every backend.
	map_set rl_config 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
	map_set cl_config 00 00 00 00
	dropped0=$(map_sum rl_stats dropped)
	got=$(lb_curls 6 "http://$VIP4/")
	assert_rr_rotation "$got" || return 1
	assert_eq "$(map_sum rl_stats dropped)" "$dropped0" "rl_stats dropped with the limit off" || return 1
	assert_eq "$(map_sum cl_stats dropped)" "$syns" "cl_stats dropped with the limit off" || return 1
}

@test "ratelimit -> connlimit -> lb on tc-ingress (tcx): per-source limits hold, then balanced traffic" {
	limits_setup tc-ingress
	limits_check
	# Nothing went through XDP: the chain is the tc one.
	assert_eq "$(lbattach_l -j chain show dev "$DEV_L" hook xdp | json_get 'sum(len(c["chain"]) for c in j)')" \
		0 "elements of the xdp chain"
}

@test "ratelimit -> connlimit -> lb on XDP: per-source limits hold, then balanced traffic (XDP fast path)" {
	limits_setup xdp
	limits_check
	# The client's packets went through all three XDP elements, and lb's fast path
	# handled established flows.
	lbattach_l -j chain show dev "$DEV_L" hook xdp | "$PY" -c '
import json, sys
c = json.load(sys.stdin)[0]["chain"]
assert [e["label"] for e in c] == ["rl", "cl", "lb"], c
assert all(e["packets"] > 0 for e in c), c'
	[ "$(lbt_ctr "$DEV_L" xdp tcp packets)" -gt 0 ] || { echo "lb's XDP saw no TCP" >&2; false; }
}
