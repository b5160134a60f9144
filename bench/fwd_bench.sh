#!/bin/bash
# fwd_bench.sh - forwarding rate on veth, four ways to reach the same VIP in one run:
#   routing  plain kernel routing: an ECMP route for the VIP over the two backends
#            (fib_multipath_hash_policy 1, so flows spread by their ports)
#   nft      nftables DNAT: numgen inc mod 2 over the two backends (conntrack)
#   tc       lbkit on tc ingress of the LB's client-facing veth (DNAT, rr)
#   xdp      lbkit on XDP of that veth, tc ingress behind it for new flows
#   tc-redirect-floor, xdp-redirect-floor
#            the physical limit of each hook: a trivial program there
#            (bench/redirect.bpf.c) puts backend 1's MACs on every packet and
#            redirects it there, no lookup at all
#
# A round whose rate collapses (some SAMPLE-s interval under a quarter of the
# best one: the flood stalled) is reported as stalled and left out of the
# medians, never averaged in; the first stalled step of a round logs what the
# sender and the links were doing (stall_diag), so that a stall explains itself.
#
#   client ns --veth--> LB ns --veth--> backend ns 1   (XDP sink: count, drop)
#   trafgen                     \-veth-> backend ns 2   (XDP sink: count, drop)
#
# The client floods UDP to VIP:9000 from FWD_FLOWS source ports (trafgen, one
# process pinned to CPU FWD_CPU, 60-byte frames with complete checksums).  Per
# case: FWD_WARMUP s to settle (new flows go through the slow path once), then the
# packets counted by the sinks over FWD_SECS s give packets per second at the
# backends; the client's veth tx counter gives the offered rate.  With veth
# everything (sender, LB, sinks) runs in softirq on the sender's CPU, so the
# rate is what one CPU does end to end.  Every frame the backends see was
# forwarded (the sinks drop ARP too: neighbours are permanent).
# Writes bench/results/forwarding.csv.  Asserts nothing about rates.
#
#   bench/fwd_bench.sh     (root; make bench-fwd)
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SECS=${FWD_SECS:-3}
WARM=${FWD_WARMUP:-1}
FLOWS=${FWD_FLOWS:-10000}
CPU=${FWD_CPU:-1}
ROUNDS=${FWD_ROUNDS:-3}
CASES=${FWD_CASES:-ceiling routing nft tc xdp tc-redirect-floor xdp-redirect-floor}
SAMPLE=0.5
CSV=$RESULTS/forwarding.csv
SINK=$REPO/build/bench/sink.bpf.o
REDIR=$REPO/build/bench/redirect.bpf.o

bench_init fwd
bench_need trafgen nft bpftool
[ -f "$SINK" ] || bench_die "$SINK is missing: make build/bench/sink.bpf.o"
cp "$SINK" "$T/sink.bpf.o" && SINK=$T/sink.bpf.o || exit 1
[ -f "$REDIR" ] || bench_die "$REDIR is missing: make build/bench/redirect.bpf.o"
cp "$REDIR" "$T/redirect.bpf.o" && REDIR=$T/redirect.bpf.o || exit 1
[ "$CPU" -lt "$(nproc)" ] || CPU=0

NS_C=fwc$ID NS_L=fwl$ID NS_1=fwa$ID NS_2=fwb$ID
D_C=fc$ID D_L=fl$ID D_E1=fe1$ID D_B1=fb1$ID D_E2=fe2$ID D_B2=fb2$ID
C=198.18.10.1 L=198.18.10.254 E1=198.18.11.1 B1=198.18.11.2 E2=198.18.12.1 B2=198.18.12.2
VIP=198.19.10.10 PORT=9000

mac() { ip -n "$1" -j link show dev "$2" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'; }

topology() {
	local ns
	for ns in "$NS_C" "$NS_L" "$NS_1" "$NS_2"; do
		bench_ns_add "$ns"
		# IPv4 only: no IPv6 chatter (MLD, RS) reaches a sink.
		bench_in "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv6.conf.all.disable_ipv6=1 || return 1
	done
	bench_in "$NS_L" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv4.fib_multipath_hash_policy=1 || return 1
	ip link add "$D_C" netns "$NS_C" type veth peer name "$D_L" netns "$NS_L" || return 1
	ip link add "$D_B1" netns "$NS_1" type veth peer name "$D_E1" netns "$NS_L" || return 1
	ip link add "$D_B2" netns "$NS_2" type veth peer name "$D_E2" netns "$NS_L" || return 1
	ip -n "$NS_C" addr add "$C/24" dev "$D_C" || return 1
	ip -n "$NS_L" addr add "$L/24" dev "$D_L" || return 1
	ip -n "$NS_L" addr add "$E1/24" dev "$D_E1" || return 1
	ip -n "$NS_L" addr add "$E2/24" dev "$D_E2" || return 1
	ip -n "$NS_1" addr add "$B1/24" dev "$D_B1" || return 1
	ip -n "$NS_2" addr add "$B2/24" dev "$D_B2" || return 1
	for ns_dev in "$NS_C:$D_C" "$NS_L:$D_L" "$NS_L:$D_E1" "$NS_L:$D_E2" "$NS_1:$D_B1" "$NS_2:$D_B2"; do
		ip -n "${ns_dev%%:*}" link set "${ns_dev#*:}" up || return 1
	done
	# Permanent neighbours everywhere: the sinks drop ARP.
	ip -n "$NS_L" neigh replace "$C" lladdr "$(mac "$NS_C" "$D_C")" dev "$D_L" nud permanent &&
	ip -n "$NS_L" neigh replace "$B1" lladdr "$(mac "$NS_1" "$D_B1")" dev "$D_E1" nud permanent &&
	ip -n "$NS_L" neigh replace "$B2" lladdr "$(mac "$NS_2" "$D_B2")" dev "$D_E2" nud permanent &&
	ip -n "$NS_C" neigh replace "$L" lladdr "$(mac "$NS_L" "$D_L")" dev "$D_C" nud permanent ||
		return 1
	ip -n "$NS_C" route add default via "$L" || return 1
	ip -n "$NS_1" route add default via "$E1" || return 1
	ip -n "$NS_2" route add default via "$E2" || return 1
	# Plain routing of the VIP: ECMP over both backends (hashing ports, policy 1).
	ip -n "$NS_L" route add "$VIP/32" nexthop via "$B1" dev "$D_E1" nexthop via "$B2" dev "$D_E2" ||
		return 1
	ip -n "$NS_1" link set dev "$D_B1" xdp obj "$SINK" sec xdp || return 1
	ip -n "$NS_2" link set dev "$D_B2" xdp obj "$SINK" sec xdp || return 1
}

# sink_map NS DEV: the id of the counting map of the sink attached to DEV.
sink_map() {
	local prog
	prog=$(ip -n "$1" -j link show dev "$2" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])') || return 1
	bpftool -j prog show id "$prog" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["map_ids"][0])'
}

# counts: "packets_b1 packets_b2 tx_client" now.
counts() {
	"$PY" - "$CNT1" "$CNT2" "$(ip -n "$NS_C" -j -s link show dev "$D_C")" <<'EOF'
import json, subprocess, sys
def sink(mid):
    if mid == "-":
        return 0
    out = subprocess.run(["bpftool", "-j", "map", "dump", "id", mid], capture_output=True,
                         text=True, check=True).stdout
    total = 0
    for e in json.loads(out):
        for v in e.get("values", []):
            val = v["value"]
            if isinstance(val, dict):
                total += int(val["packets"])
            else:	# no BTF: raw bytes, packets first
                total += int.from_bytes(bytes(int(x, 16) for x in val[:8]), "little")
    return total
tx = json.loads(sys.argv[3])[0]["stats64"]["tx"]["packets"]
print(sink(sys.argv[1]), sink(sys.argv[2]), tx)
EOF
}

# The flood: UDP from C, source ports 10000.., to VIP:PORT, 18 bytes of payload.
flood_cfg() {
	# cpu(N): trafgen pins worker i to CPU i itself (taskset would not hold), so
	# the packet is given to the worker of CPU N only.
	cat >"$T/udp.cfg" <<EOF
cpu($CPU): {
  eth(da=$(mac "$NS_L" "$D_L"), sa=$(mac "$NS_C" "$D_C"), type=0x0800),
  ipv4(sa=$C, da=$VIP, ttl=64, df),
  udp(sp=dinc(10000, $((10000 + FLOWS - 1))), dp=$PORT),
  fill(0x61, 18)
}
EOF
}

# measure NAME: one case; MEAS="pps_total pps_b1 pps_b2 offered_pps seconds stalled",
# stalled 1 when some SAMPLE-s interval ran at under a quarter of the best one.
MEAS='' FWD_TOTAL=''
measure() {
	local pid a b t0 t1 z e i prev cur step best=0 told='' rates=''
	z=$(counts)
	# --no-sock-mem, --notouch-irq: trafgen changes no global setting.  -P CPU+1
	# workers, of which the one on CPU $CPU has the packet (flood_cfg).
	bench_in "$NS_C" trafgen -o "$D_C" -i "$T/udp.cfg" -P "$((CPU + 1))" \
		--no-sock-mem --notouch-irq --no-cpu-stats >"$T/trafgen.$1.log" 2>&1 &
	pid=$!
	bench_pid "$pid"
	sleep "$WARM"
	kill -0 "$pid" 2>/dev/null || { cat "$T/trafgen.$1.log" >&2; bench_die "trafgen exited"; }
	a=$(counts) t0=$(bench_now)
	# The measured seconds in SAMPLE-s steps: packets at the sinks per step.
	prev=$a
	for ((i = 0; i < $(awk -v s="$SECS" -v d="$SAMPLE" 'BEGIN { print int(s / d + 0.5) }'); i++)); do
		sleep "$SAMPLE"
		cur=$(counts)
		step=$(awk -v p="$prev" -v c="$cur" 'BEGIN { split(p, x, " "); split(c, y, " ");
			print y[1] + y[2] - x[1] - x[2] }')
		rates+="$step "
		[ "$step" -gt "$best" ] && best=$step
		if [ -z "$told" ] && [ $((step * 4)) -lt "$best" ]; then
			stall_diag "$1"
			told=1
		fi
		prev=$cur
	done
	b=$prev t1=$(bench_now)
	bench_kill_tree "$pid"
	sleep 0.2
	e=$(counts)
	if [ -z "$a" ] || [ -z "$b" ] || [ -z "$z" ] || [ -z "$e" ]; then
		bench_die "reading the counters failed"
	fi
	read -r z1 z2 _ <<<"$z"
	read -r e1 e2 _ <<<"$e"
	FWD_TOTAL=$((e1 + e2 - z1 - z2))	# every packet the sinks got in this case
	MEAS=$(awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" -v r="$rates" 'BEGIN {
		split(a, x, " "); split(b, y, " "); s = t1 - t0
		p1 = (y[1] - x[1]) / s; p2 = (y[2] - x[2]) / s; o = (y[3] - x[3]) / s
		n = split(r, v, " "); lo = -1; hi = 0
		for (i = 1; i <= n; i++) { if (lo < 0 || v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i] }
		printf "%.0f %.0f %.0f %.0f %.3f %d\n", p1 + p2, p1, p2, o, s, (hi > 0 && lo < hi / 4) }')
}

# stall_diag CASE: where trafgen's workers sleep (state, wchan, kernel stack) and
# every link's counters, on stderr.
stall_diag() {
	local p t nd
	bench_log "$1: stalled step: trafgen and the links now:"
	for p in $(pgrep -f "trafgen -o $D_C"); do
		for t in "/proc/$p"/task/*; do
			echo "  task ${t##*/}: state $(awk '{print $3}' "$t/stat" 2>/dev/null)" \
				"wchan $(cat "$t/wchan" 2>/dev/null) $(tr '\n' ' ' <"$t/stack" 2>/dev/null)"
		done
	done >&2
	for nd in "$NS_C:$D_C" "$NS_L:$D_L" "$NS_L:$D_E1" "$NS_L:$D_E2" "$NS_1:$D_B1" "$NS_2:$D_B2"; do
		echo "  ${nd#*:}: $(ip -n "${nd%%:*}" -s -j link show dev "${nd#*:}" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"]
print("rx %(packets)d dropped %(dropped)d" % s["rx"], "tx %(packets)d dropped %(dropped)d" % s["tx"])')"
	done >&2
}

# setup_case / teardown_case NAME: what the LB does for the case.
ROOT=
setup_case() {
	CNT1=$MAP1 CNT2=$MAP2
	case $1 in
	routing) ;;
	ceiling)
		# The harness alone: the sink on the LB's ingress veth counts and drops
		# what the client sends (sender, veth and one XDP program, no forwarding).
		ip -n "$NS_L" link set dev "$D_L" xdp obj "$SINK" sec xdp || return 1
		CNT1=$(sink_map "$NS_L" "$D_L") CNT2=- || return 1
		;;
	nft)
		bench_in "$NS_L" nft -f - <<EOF || return 1
table ip fwdbench {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $VIP udp dport $PORT dnat to numgen inc mod 2 map { 0 : $B1, 1 : $B2 }
	}
}
EOF
		;;
	tc-redirect-floor | xdp-redirect-floor)
		if [ "$1" = xdp-redirect-floor ]; then
			ip -n "$NS_L" link set dev "$D_L" xdp obj "$REDIR" sec xdp || return 1
		else
			bench_in "$NS_L" tc qdisc add dev "$D_L" clsact || return 1
			bench_in "$NS_L" tc filter add dev "$D_L" ingress bpf da obj "$REDIR" sec tc ||
				return 1
		fi
		redirect_to "$1" || return 1
		;;
	tc | xdp)
		bench_root
		ROOT=$NEW_ROOT
		bench_in "$NS_L" "$LBATTACH" -P "$ROOT" attach dev "$D_L" tc ingress >&2 || return 1
		if [ "$1" = xdp ]; then
			bench_in "$NS_L" "$LBATTACH" -P "$ROOT" attach dev "$D_L" xdp mode native >&2 ||
				return 1
		fi
		{
			echo "service add $VIP port $PORT proto udp sched rr"
			echo "endpoint add $B1 port $PORT service $VIP port $PORT proto udp"
			echo "endpoint add $B2 port $PORT service $VIP port $PORT proto udp"
		} | bench_in "$NS_L" "$LBCTL" -P "$ROOT" -b - || return 1
		;;
	esac
}

# redirect_to CASE: backend 1 (ifindex of the LB's veth to it, its MAC, ours) into
# redirect_to[0] of the floor program just attached.
redirect_to() {
	local prog map ifx
	if [ "$1" = xdp-redirect-floor ]; then
		prog=$(ip -n "$NS_L" -j link show dev "$D_L" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])')
	else
		prog=$(bench_in "$NS_L" tc -j filter show dev "$D_L" ingress | "$PY" -c '
import json, sys
print([f["options"]["prog"]["id"] for f in json.load(sys.stdin) if "prog" in f.get("options", {})][0])')
	fi || return 1
	map=$(bpftool -j prog show id "$prog" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["map_ids"][0])') ||
		return 1
	ifx=$(ip -n "$NS_L" -j link show dev "$D_E1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])') ||
		return 1
	# shellcheck disable=SC2046 # the value's bytes are words
	bpftool map update id "$map" key 0 0 0 0 value $("$PY" -c '
import sys
ifx, dmac, smac = int(sys.argv[1]), sys.argv[2], sys.argv[3]
b = ifx.to_bytes(4, "little") + bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", ""))
print(" ".join(str(x) for x in b))' "$ifx" "$(mac "$NS_1" "$D_B1")" "$(mac "$NS_L" "$D_E1")")
}

# check_case NAME: evidence that the case ran the way it says, in EVIDENCE; a case
# whose packets did not take its path stops the run (a number must never
# describe the wrong path).
EVIDENCE=
check_case() {
	local got
	EVIDENCE=
	case $1 in
	tc)
		got=$(bench_in "$NS_L" "$LBCTL" -P "$ROOT" -j -s service show |
			"$PY" -c 'import json,sys; print(sum(s["stats"]["packets"] for s in json.load(sys.stdin)))')
		EVIDENCE="service counted $got of $FWD_TOTAL packets"
		;;
	xdp)
		got=$(bench_in "$NS_L" "$LBCTL" -P "$ROOT" -j stats show dev "$D_L" |
			"$PY" -c 'import json,sys; print(sum(h["counters"]["udp"]["packets"] for h in json.load(sys.stdin) if h["hook"] == "xdp"))')
		local tc
		tc=$(bench_in "$NS_L" "$LBCTL" -P "$ROOT" -j stats show dev "$D_L" |
			"$PY" -c 'import json,sys; print(sum(h["counters"]["udp"]["packets"] for h in json.load(sys.stdin) if h["hook"] == "tc-ingress"))')
		# XDP sees every packet; those it passed on to tc (new flows) are not its own.
		got=$((got - tc))
		EVIDENCE="xdp forwarded $got of $FWD_TOTAL packets (tc: $tc new flows)"
		;;
	*-redirect-floor)
		got=$(( $(echo "$MEAS" | awk '{print $2}') > 0 ? FWD_TOTAL : 0 ))
		EVIDENCE="backend 1 got all $FWD_TOTAL packets"
		[ "$(echo "$MEAS" | awk '{print $3}')" = 0 ] || bench_die "$1: backend 2 got packets"
		;;
	*)
		return 0 ;;
	esac
	awk -v g="$got" -v t="$FWD_TOTAL" 'BEGIN { exit !(t > 0 && g >= 0.95 * t && g <= 1.05 * t) }' ||
		bench_die "$1: $EVIDENCE: the packets did not take this path"
}

teardown_case() {
	case $1 in
	ceiling | xdp-redirect-floor) ip -n "$NS_L" link set dev "$D_L" xdp off ;;
	tc-redirect-floor) bench_in "$NS_L" tc qdisc del dev "$D_L" clsact ;;
	nft) bench_in "$NS_L" nft delete table ip fwdbench ;;
	tc | xdp) bench_unroot "$ROOT" "$NS_L"; ROOT= ;;
	esac
}

topology || bench_die "building the topology failed"
MAP1=$(sink_map "$NS_1" "$D_B1") || bench_die "no sink map"
MAP2=$(sink_map "$NS_2" "$D_B2") || bench_die "no sink map"
CNT1=$MAP1 CNT2=$MAP2
flood_cfg
bench_log "UDP flood, $FLOWS flows, trafgen on CPU $CPU; per case ${WARM} s warm-up + ${SECS} s measured; $ROUNDS round(s): $CASES"

# Rounds: every case once per round, the order rotated from round to round, so that
# a slow stretch of a shared machine does not always hit the same case.  Ratios are
# taken within a round (the cases of one round ran back to back), then the median
# over the rounds.
: >"$T/meas"
read -r -a order <<<"$CASES"
for ((r = 1; r <= ROUNDS; r++)); do
	n=${#order[@]}
	for ((j = 0; j < n; j++)); do
		c=${order[$(((j + r - 1) % n))]}
		setup_case "$c" || bench_die "$c: setup failed"
		measure "$c"
		check_case "$c"
		teardown_case "$c"
		echo "$r $c $MEAS|$EVIDENCE" >>"$T/meas"
		bench_log "$c round $r: $MEAS (total b1 b2 offered seconds stalled)${EVIDENCE:+; $EVIDENCE}"
	done
done

bench_header "$CSV" "UDP 60-byte frames, $FLOWS flows, trafgen 1 process on CPU $CPU, ${SECS} s per case after ${WARM} s, $ROUNDS rounds (case order rotated), medians over rounds; ns_per_pkt = 1e9 / pps (one CPU does everything); lb_ns = ns_per_pkt - the ceiling's of the same round (the LB's own share); vs_* = pps ratio within a round; targets: xdp >= 1.3x routing, tc and xdp >= 0.85x their redirect floor (pps); stalled rounds (an interval under a quarter of the best) are counted and left out"
"$PY" - "$T/meas" "$CSV" "$CASES" "$FLOWS" "$ROUNDS" "$(bench_kernel)" "$(bench_date)" <<'EOF'
import statistics, sys
meas, csv, cases, flows, rounds, kernel, date = sys.argv[1:8]
cases = cases.split()
m, ev, stalls = {}, {}, {}
for line in open(meas):
    head, e = line.rstrip("\n").split("|", 1)
    r, c, tot, b1, b2, off, secs, stalled = head.split()
    if stalled == "1":		# told, never averaged in
        stalls[c] = stalls.get(c, 0) + 1
        continue
    m[(int(r), c)] = dict(pps=float(tot), b1=float(b1), b2=float(b2), off=float(off))
    ev[c] = e
rs = sorted({r for r, _ in m})
med = lambda xs: statistics.median(xs) if xs else None
def per_round(c, base, f):
    return [f(r) for r in rs if (r, c) in m and (r, base) in m]
fmt = lambda v, f: (f % v) if v is not None else ""
out = open(csv, "a")
out.write("case,pps,pps_b1,pps_b2,offered_pps,ns_per_pkt,lb_ns,vs_routing,vs_nft,vs_floor,rounds_pps,stalled_rounds,flows,rounds,evidence,kernel,date\n")
print("%-18s %10s %9s %9s %10s %7s %7s %10s %7s %8s %7s  %s" % ("case", "pps", "b1", "b2",
      "offered", "ns/pkt", "lb_ns", "vs_routing", "vs_nft", "vs_floor", "stalled", "per round"))
floor_of = {"tc": "tc-redirect-floor", "xdp": "xdp-redirect-floor"}
for c in cases:
    own = [r for r in rs if (r, c) in m]
    if not own:
        if stalls.get(c):
            print("%-18s every round stalled (%d)" % (c, stalls[c]))
            out.write('%s,,,,,,,,,,,%d,%s,%s,"every round stalled",%s,%s\n' % (
                c, stalls[c], flows, rounds, kernel, date))
        continue
    pps = med([m[(r, c)]["pps"] for r in own])
    b1 = med([m[(r, c)]["b1"] for r in own])
    b2 = med([m[(r, c)]["b2"] for r in own]) if c != "ceiling" else None
    off = med([m[(r, c)]["off"] for r in own])
    lbns = med(per_round(c, "ceiling", lambda r: 1e9 / m[(r, c)]["pps"] - 1e9 / m[(r, "ceiling")]["pps"]))
    vr = med(per_round(c, "routing", lambda r: m[(r, c)]["pps"] / m[(r, "routing")]["pps"]))
    vn = med(per_round(c, "nft", lambda r: m[(r, c)]["pps"] / m[(r, "nft")]["pps"]))
    vf = med(per_round(c, floor_of[c], lambda r: m[(r, c)]["pps"] / m[(r, floor_of[c])]["pps"])) \
        if c in floor_of else None
    each = " ".join("%.0f" % m[(r, c)]["pps"] for r in own)
    st = stalls.get(c, 0)
    out.write('%s,%.0f,%.0f,%s,%.0f,%.1f,%s,%s,%s,%s,"%s",%d,%s,%s,"%s",%s,%s\n' % (
        c, pps, b1, fmt(b2, "%.0f"), off, 1e9 / pps, fmt(lbns, "%.1f"), fmt(vr, "%.2f"),
        fmt(vn, "%.2f"), fmt(vf, "%.2f"), each, st, flows, rounds, ev.get(c, ""), kernel, date))
    print("%-18s %10.0f %9.0f %9s %10.0f %7.1f %7s %10s %7s %8s %7d  %s" % (
        c, pps, b1, fmt(b2, "%.0f") or "-", off, 1e9 / pps, fmt(lbns, "%.1f") or "-",
        fmt(vr, "%.2f") or "-", fmt(vn, "%.2f") or "-", fmt(vf, "%.2f") or "-", st, each))
EOF
bench_log "wrote $CSV"
