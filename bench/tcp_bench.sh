#!/bin/bash
# tcp_bench.sh - real TCP through the load balancer, three ways in one run:
#   direct   the client connects to the backend's own address (kernel routing)
#   nft      the client connects to the VIP; nftables DNAT to the backend (conntrack)
#   lbkit    the client connects to the VIP; lbkit DNAT on tc ingress of both LB veths
#
#   client ns --veth-- LB ns --veth-- backend ns (iperf3 -s, tcp_conn server)
#
# Per case: iperf3 throughput (one stream, TCP_SECS s, default offloads: TSO/GSO
# aggregates cross the LB whole) and new connections per second (bench/tcp_conn:
# TCP_CONC connects in flight for TCP_SECS s; the server accepts and closes at
# once).  Client pinned to CPU 1, servers to CPU 0: on 2 CPUs the client and
# server processes and the softirq work of the LB share the machine, so these
# are end-to-end figures, limited by the CPU, not by the wire.
# Writes bench/results/tcp.csv.  Asserts nothing about rates.
#
#   bench/tcp_bench.sh     (root; make bench-tcp)
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SECS=${TCP_SECS:-2}
CONC=${TCP_CONC:-16}
ROUNDS=${TCP_ROUNDS:-2}
CASES=${TCP_CASES:-direct nft lbkit}
CSV=$RESULTS/tcp.csv
CONN=$REPO/build/bench/tcp_conn

bench_init tcp
bench_need iperf3 nft taskset
[ -x "$CONN" ] || bench_die "$CONN is missing: make build/bench/tcp_conn"
cp "$CONN" "$T/tcp_conn" && CONN=$T/tcp_conn || exit 1
CPU_C=$(($(nproc) > 1 ? 1 : 0))

NS_C=tpc$ID NS_L=tpl$ID NS_B=tpb$ID
D_C=tc$ID D_L=tl$ID D_E=te$ID D_B=tb$ID
C=198.18.20.1 L=198.18.20.254 E=198.18.21.1 B=198.18.21.2 VIP=198.19.20.10
IPERF_PORT=5201 CONN_BASE=8000
# Each case its own server port (CONN_BASE + case number): the server's TIME_WAIT
# sockets of one case, whose timestamps come from another connection path (the
# client's timestamp offset depends on the address it connects to), would refuse
# the next case's SYNs on the same client ports (PAWS: a challenge ACK, an RST, a
# SYN resent a second later).
declare -A CONN_PORTS
i=0
for c in $CASES; do
	CONN_PORTS[$c]=$((CONN_BASE + i))
	i=$((i + 1))
done
CONN_PORT=

topology() {
	local ns
	for ns in "$NS_C" "$NS_L" "$NS_B"; do
		bench_ns_add "$ns"
		bench_in "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv6.conf.all.disable_ipv6=1 || return 1
	done
	bench_in "$NS_L" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 || return 1
	# Room for many short connections: the whole port range on the client, and
	# the server's TIME_WAIT buckets reused.
	bench_in "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" || return 1
	bench_in "$NS_B" sysctl -qw net.ipv4.tcp_max_tw_buckets=262144 net.core.somaxconn=4096 \
		net.ipv4.tcp_max_syn_backlog=4096 || return 1
	ip link add "$D_C" netns "$NS_C" type veth peer name "$D_L" netns "$NS_L" || return 1
	ip link add "$D_B" netns "$NS_B" type veth peer name "$D_E" netns "$NS_L" || return 1
	ip -n "$NS_C" addr add "$C/24" dev "$D_C" && ip -n "$NS_L" addr add "$L/24" dev "$D_L" &&
	ip -n "$NS_L" addr add "$E/24" dev "$D_E" && ip -n "$NS_B" addr add "$B/24" dev "$D_B" ||
		return 1
	for nd in "$NS_C:$D_C" "$NS_L:$D_L" "$NS_L:$D_E" "$NS_B:$D_B"; do
		ip -n "${nd%%:*}" link set "${nd#*:}" up || return 1
	done
	ip -n "$NS_C" route add default via "$L" && ip -n "$NS_B" route add default via "$E" ||
		return 1
	# Servers, on CPU 0.
	bench_in "$NS_B" taskset -c 0 iperf3 -s -p "$IPERF_PORT" >/dev/null 2>&1 &
	bench_pid $!
	for c in $CASES; do
		bench_in "$NS_B" taskset -c 0 "$CONN" server "${CONN_PORTS[$c]}" &
		bench_pid $!
	done
	for _ in $(seq 50); do
		local up=1 ls
		ls=$(bench_in "$NS_B" ss -ltn)
		for p in "$IPERF_PORT" "${CONN_PORTS[@]}"; do
			grep -q ":$p " <<<"$ls" || up=0
		done
		[ $up = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

ROOT=
setup_case() {
	CONN_PORT=${CONN_PORTS[$1]}
	case $1 in
	direct) TARGET=$B ;;
	nft)
		TARGET=$VIP
		bench_in "$NS_L" nft -f - <<EOF || return 1
table ip tcpbench {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $VIP tcp dport { $IPERF_PORT, $CONN_PORT } dnat to $B
	}
}
EOF
		;;
	lbkit)
		TARGET=$VIP
		bench_root
		ROOT=$NEW_ROOT
		{
			echo "attach dev $D_L tc ingress services 1024 endpoints 8192 conntrack 262144"
			echo "attach dev $D_E tc ingress"
		} | bench_in "$NS_L" "$LBATTACH" -P "$ROOT" -b - >&2 || return 1
		{
			for p in "$IPERF_PORT" "$CONN_PORT"; do
				echo "service add $VIP port $p proto tcp"
				echo "endpoint add $B port $p service $VIP port $p proto tcp"
			done
		} | bench_in "$NS_L" "$LBCTL" -P "$ROOT" -b - || return 1
		;;
	esac
}

teardown_case() {
	case $1 in
	nft) bench_in "$NS_L" nft delete table ip tcpbench ;;
	lbkit) bench_unroot "$ROOT" "$NS_L"; ROOT= ;;
	esac
}

# check_case NAME CONNECTIONS: lbkit really carried the connections: its counters
# hold at least 4 packets per connection (each has 3 from either side).  Its
# flow count can be lower: a client port freed at once (the server closes
# first) is reused while the old flow's entry is still there, and a SYN that
# finds a flow is not a new one.
EVIDENCE=
check_case() {
	local got pk fl
	EVIDENCE=
	[ "$1" = lbkit ] || return 0
	got=$(bench_in "$NS_L" "$LBCTL" -P "$ROOT" -j -s service show |
		"$PY" -c 'import json,sys
for s in json.load(sys.stdin):
    if s["port"] == '"$CONN_PORT"': print(s["stats"]["packets"], s["stats"]["flows"])')
	read -r pk fl <<<"$got"
	EVIDENCE="lbkit forwarded ${pk:-0} packets in ${fl:-0} flows"
	[ "${pk:-0}" -ge $(($2 * 4)) ] || bench_die "lbkit: $EVIDENCE for $2 connections: not its path"
}

# run_case NAME: GBPS and CPS.
GBPS='' CPS='' CONNS='' ERRS=''
run_case() {
	local out
	out=$(bench_in "$NS_C" taskset -c "$CPU_C" iperf3 -c "$TARGET" -p "$IPERF_PORT" -t "$SECS" -J) ||
		bench_die "$1: iperf3 failed"
	GBPS=$("$PY" -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$out") ||
		bench_die "$1: no iperf3 result"
	out=$(bench_in "$NS_C" taskset -c "$CPU_C" "$CONN" client "$TARGET" "$CONN_PORT" "$SECS" "$CONC") ||
		bench_die "$1: tcp_conn failed"
	read -r CONNS _ CPS ERRS <<<"$out"
	[ "${CONNS:-0}" -gt 0 ] || bench_die "$1: no connection completed"
}

topology || bench_die "building the topology failed"
bench_log "iperf3 ${SECS} s, $CONC connects in flight for ${SECS} s; client on CPU $CPU_C, servers on CPU 0; $ROUNDS round(s), order rotated: $CASES"
# Every case once per round, the order rotated from round to round; ratios within
# a round, then the median over the rounds (see fwd_bench.sh).
: >"$T/meas"
read -r -a order <<<"$CASES"
for ((r = 1; r <= ROUNDS; r++)); do
	n=${#order[@]}
	for ((j = 0; j < n; j++)); do
		c=${order[$(((j + r - 1) % n))]}
		setup_case "$c" || bench_die "$c: setup failed"
		[ -n "${TCP_DEBUG:-}" ] && for ns in "$NS_C" "$NS_B"; do bench_in "$ns" nstat -n; done
		run_case "$c"
		if [ -n "${TCP_DEBUG:-}" ]; then	# what the client and the server saw
			for ns in "$NS_C" "$NS_B"; do
				bench_in "$ns" nstat | grep -E 'Retrans|TW|Syn|Reset|Rst|Drop|Overflow' >&2
			done
		fi
		check_case "$c" "$CONNS"
		teardown_case "$c"
		echo "$r $c $GBPS $CPS $CONNS $ERRS|$EVIDENCE" >>"$T/meas"
		bench_log "$c round $r: $GBPS Gbit/s, $CPS connections/s ($CONNS, $ERRS errors)${EVIDENCE:+; $EVIDENCE}"
	done
done

bench_header "$CSV" "one iperf3 stream for ${SECS} s; tcp_conn with $CONC connects in flight for ${SECS} s (server closes first); client CPU $CPU_C, servers CPU 0; $ROUNDS rounds (case order rotated), medians over rounds, ratios within a round"
"$PY" - "$T/meas" "$CSV" "$CASES" "$(bench_kernel)" "$(bench_date)" <<'EOF'
import statistics, sys
meas, csv, cases, kernel, date = sys.argv[1:6]
m, ev = {}, {}
for line in open(meas):
    head, e = line.rstrip("\n").split("|", 1)
    r, c, g, p, n, err = head.split()
    m[(int(r), c)] = (float(g), float(p))
    ev.setdefault(c, []).append("%s%s connections, %s errors" % (e + "; " if e else "", n, err))
rs = sorted({r for r, _ in m})
med = lambda xs: statistics.median(xs) if xs else None
fmt = lambda v: "%.2f" % v if v is not None else ""
def ratio(c, base, i):
    return med([m[(r, c)][i] / m[(r, base)][i] for r in rs if (r, c) in m and (r, base) in m])
out = open(csv, "a")
out.write("case,gbit_per_s,conn_per_s,gbit_vs_direct,conn_vs_direct,gbit_vs_nft,conn_vs_nft,rounds_conn_per_s,note,kernel,date\n")
print("%-8s %8s %8s %10s %10s %10s %10s  %s" % ("case", "Gbit/s", "conn/s", "Gb vs dir",
      "cps vs dir", "Gb vs nft", "cps vs nft", "conn/s per round"))
for c in cases.split():
    own = [r for r in rs if (r, c) in m]
    if not own:
        continue
    g = med([m[(r, c)][0] for r in own])
    p = med([m[(r, c)][1] for r in own])
    gd, pd, gn, pn = ratio(c, "direct", 0), ratio(c, "direct", 1), ratio(c, "nft", 0), ratio(c, "nft", 1)
    each = " ".join("%.0f" % m[(r, c)][1] for r in own)
    out.write('%s,%.2f,%.0f,%s,%s,%s,%s,"%s","%s",%s,%s\n' % (c, g, p, fmt(gd), fmt(pd), fmt(gn),
              fmt(pn), each, " / ".join(ev[c]), kernel, date))
    print("%-8s %8.2f %8.0f %10s %10s %10s %10s  %s" % (c, g, p, fmt(gd) or "-", fmt(pd) or "-",
          fmt(gn) or "-", fmt(pn) or "-", each))
EOF
bench_log "wrote $CSV"
