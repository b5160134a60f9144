# shellcheck shell=bash
#
# Helpers for the load-balancing end-to-end tests (lb_*.bats), on top of helpers.bash
# (lbt_setup / lbt_teardown, lb_ns, assertions).
#
#   setup()    { lb_setup http; }        # topology below, servers, datapath attached
#   teardown() { lb_teardown; }          # kills everything in our namespaces, then
#                                        # lbt_teardown (destroy, umount, netns del)
#
# Topology (every name carries the test's random $ID, so names are unique and short):
#
#   client ns lbc$ID           LB ns lbl$ID                       backend ns lbbN$ID (N=1..3)
#   vc$ID 198.18.0.1/24  <-->  vl$ID  198.18.0.254/24
#         2001:db8::1/64              2001:db8::254/64
#                                     veN$ID 198.18.N.1/24   <-->  vbN$ID 198.18.N.2/24
#                                            2001:db8:N::1/64             2001:db8:N::2/64
#
# The client and the backends route everything via the LB (default routes), so DNAT
# replies come back through it.  The LB forwards (ip_forward, IPv6 forwarding) and runs
# the datapath on tc ingress of all four of its interfaces.  The VIPs (198.19.0.10,
# 2001:db8:ffff::10) are addresses of no namespace.  IPv6 DAD is off everywhere, so the
# addresses are usable at once.  ARP and ND are real (no static neighbours).
#
# Servers on the backends (started on demand, each answers with the backend's name):
#   lb_http_servers    python3 -m http.server on [::]:8080 (dual stack), GET / -> "bN"
#   lb_echo_servers    socat TCP4 :7000, sends "bN" on connect, then echoes every line
#   lb_udp_servers     flows.py udpserve on [::]:9000, answers every datagram with "bN"
#   lb_flow_servers    flows.py on [::]:7000: "bN" on connect, then an echo (one process)

# shellcheck source=helpers.bash
source "$BATS_TEST_DIRNAME/helpers.bash"

# shellcheck disable=SC2034	# used by the .bats files
VIP4=198.19.0.10 VIP6=2001:db8:ffff::10
C4=198.18.0.1 C6=2001:db8::1
L4=198.18.0.254 L6=2001:db8::254
NS_B=() DEV_B=() DEV_E=()	# index 1..3: backend ns, backend-side veth, LB-side veth
HOLD_FD=			# fd of a held connection's input fifo (lb_hold)

# b_ip4 N / b_ip6 N / e_ip4 N / e_ip6 N: backend N's address and the LB's address facing it.
b_ip4() { echo "198.18.$1.2"; }
b_ip6() { echo "2001:db8:$1::2"; }
e_ip4() { echo "198.18.$1.1"; }
e_ip6() { echo "2001:db8:$1::1"; }

lbctl_j() { lbctl_l -j "$@"; }

# lb__ns NS: a fresh namespace with lo up, no DAD, no router solicitations.
lb__ns() {
	lbt_netns_add "$1" || return 1
	lb_ns "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.router_solicitations=0 || return 1
}

# lb__addrs DEV ADDR4 ADDR6 [GW4 GW6]: ip batch lines addressing DEV, setting it up and,
# with GW4/GW6, default routes.
lb__addrs() {
	printf 'addr add %s/24 dev %s\naddr add %s/64 dev %s nodad\nlink set %s up\n' \
		"$2" "$1" "$3" "$1" "$1"
	if [ $# -ge 5 ]; then
		printf 'route add default via %s\nroute add default via %s\n' "$4" "$5"
	fi
}

# lb_topo: the namespaces and links above, nothing attached yet.  One ip batch per
# namespace (the topology is built for every test: this keeps it quick).
lb_topo() {
	local n
	NS_L=lbl$ID NS_C=lbc$ID DEV_L=vl$ID DEV_C=vc$ID
	for n in 1 2 3; do
		NS_B[n]=lbb$n$ID DEV_B[n]=vb$n$ID DEV_E[n]=ve$n$ID
	done
	for n in "$NS_L" "$NS_C" "${NS_B[1]}" "${NS_B[2]}" "${NS_B[3]}"; do
		lb__ns "$n" || return 1
	done
	lb_ns "$NS_L" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
	{
		echo "link add $DEV_C netns $NS_C type veth peer name $DEV_L netns $NS_L"
		for n in 1 2 3; do
			echo "link add ${DEV_B[n]} netns ${NS_B[n]} type veth peer name ${DEV_E[n]} netns $NS_L"
		done
	} | ip -b - || return 1
	lb__addrs "$DEV_C" "$C4" "$C6" "$L4" "$L6" | ip -n "$NS_C" -b - || return 1
	{
		lb__addrs "$DEV_L" "$L4" "$L6"
		for n in 1 2 3; do
			lb__addrs "${DEV_E[n]}" "$(e_ip4 $n)" "$(e_ip6 $n)"
		done
	} | ip -n "$NS_L" -b - || return 1
	for n in 1 2 3; do
		lb__addrs "${DEV_B[n]}" "$(b_ip4 $n)" "$(b_ip6 $n)" "$(e_ip4 $n)" "$(e_ip6 $n)" |
			ip -n "${NS_B[n]}" -b - || return 1
	done
}

# lb_attach: the datapath on tc ingress of the client-facing and every backend-facing
# interface of the LB.
lb_attach() {
	local d
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		echo "attach dev $d tc ingress"
	done | lbattach_l -b - || return 1
}

# lb_setup [http] [echo] [udp]: topology, the named servers on the backends, datapath
# attached (the servers start while the datapath loads).
lb_setup() {
	local s
	lbt_setup || return 1
	lb_topo || return 1
	for s in "$@"; do
		"lb_${s}_servers" start || return 1
	done
	lb_attach || return 1
	for s in "$@"; do
		"lb_${s}_servers" wait || return 1
	done
}

# lb__alive PID: the process exists and is not a zombie (orphans of killed servers are
# reaped by init whenever it gets to it).
lb__alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# Kill every process left in our namespaces (servers, their forked children, held
# connections): all were started by this test.  Bounded: TERM, at most 2 s, then KILL.
lb_kill_ns_procs() {
	local ns pids=() p alive
	for ns in "${LBT_NETNS[@]}"; do
		[ -e "/run/netns/$ns" ] || continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			pids+=("$p")
		done
	done
	[ ${#pids[@]} -eq 0 ] && return 0
	kill "${pids[@]}" 2>/dev/null
	for _ in $(seq 20); do
		alive=0
		for p in "${pids[@]}"; do
			lb__alive "$p" && alive=1
		done
		[ $alive = 0 ] && return 0
		sleep 0.1
	done
	kill -9 "${pids[@]}" 2>/dev/null
	return 0
}

lb_teardown() {
	if [ -n "$HOLD_FD" ]; then
		eval "exec $HOLD_FD>&-"
		HOLD_FD=
	fi
	lb_kill_ns_procs
	lbt_teardown
}

# ---------------------------------------------------------------- servers

# lb_wait_udp NS PORT [N]: poll (at most 5 s) until N (default 1) UDP sockets are bound
# to PORT.
lb_wait_udp() {
	for _ in $(seq 50); do
		if [ "$(lb_ns "$1" ss -Hlun "sport = :$2" | wc -l)" -ge "${3:-1}" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "fewer than ${3:-1} sockets bound to udp port $2 in $1 after 5 s" >&2
	return 1
}

# The server functions take "start" (launch, no wait), "wait" (until all listen, at
# most 5 s each) or nothing (both).

# lb_http_servers: on every backend, http.server on [::]:8080 serving $T/www/bN
# (index.html = "bN"); log in $T/http.bN.log (one line per request, with the peer).
lb_http_servers() {
	local n
	if [ "${1:-start}" = start ]; then
		for n in 1 2 3; do
			mkdir -p "$T/www/b$n" && echo "b$n" >"$T/www/b$n/index.html" || return 1
			lb_ns "${NS_B[n]}" "$PY" -m http.server 8080 --bind :: \
				--directory "$T/www/b$n" >"$T/http.b$n.log" 2>&1 3>&- &
			lbt_add_pid $!
		done
	fi
	[ "${1:-wait}" = wait ] || return 0
	for n in 1 2 3; do
		lbt_wait_listen "${NS_B[n]}" 8080 || return 1
	done
}

# lb_echo_servers: on every backend, TCP 7000: "bN" on connect, then an echo.
lb_echo_servers() {
	local n
	if [ "${1:-start}" = start ]; then
		for n in 1 2 3; do
			lb_ns "${NS_B[n]}" socat TCP4-LISTEN:7000,fork,reuseaddr \
				SYSTEM:"echo b$n; exec cat" </dev/null >/dev/null 2>&1 3>&- &
			lbt_add_pid $!
		done
	fi
	[ "${1:-wait}" = wait ] || return 0
	for n in 1 2 3; do
		lbt_wait_listen "${NS_B[n]}" 7000 || return 1
	done
}

# lb_flow_servers: on every backend, tests/e2e/flows.py on [::]:7000: "bN" on
# connect, then an echo of every line; one process each, backlog 4096, so that
# hundreds of connections may arrive at once.
lb_flow_servers() {
	local n
	if [ "${1:-start}" = start ]; then
		for n in 1 2 3; do
			lb_ns "${NS_B[n]}" "$PY" "$LB_REPO/tests/e2e/flows.py" serve 7000 "b$n" \
				--max-time 300 </dev/null >"$T/serve.b$n.log" 2>&1 3>&- &
			lbt_add_pid $!
		done
	fi
	[ "${1:-wait}" = wait ] || return 0
	for n in 1 2 3; do
		lbt_wait_listen "${NS_B[n]}" 7000 || return 1
	done
}

# lb_udp_servers: on every backend, UDP 9000 (IPv4 and IPv6, one socket): every datagram
# gets "bN".
lb_udp_servers() {
	local n
	if [ "${1:-start}" = start ]; then
		for n in 1 2 3; do
			# One process, no fork: socat's forked children share the socket
			# and may eat the next client's datagram (1 in ~60 went unanswered).
			lb_ns "${NS_B[n]}" "$PY" "$LB_REPO/tests/e2e/flows.py" udpserve 9000 "b$n" \
				--max-time 600 </dev/null >/dev/null 2>&1 3>&- &
			lbt_add_pid $!
		done
	fi
	[ "${1:-wait}" = wait ] || return 0
	for n in 1 2 3; do
		lb_wait_udp "${NS_B[n]}" 9000 || return 1
	done
}

# ---------------------------------------------------------------- service setup

# lb_service VIP PORT EPPORT [service options...]: a service with the three backends
# as endpoints (of VIP's family) on EPPORT, in order b1 b2 b3.
lb_service() {
	local vip=$1 port=$2 epport=$3 n ep proto=tcp a
	shift 3
	for a in "$@"; do [ "$a" = udp ] && proto=udp; done
	lbctl_l service add "$vip" port "$port" "$@" || return 1
	for n in 1 2 3; do
		case $vip in *:*) ep=$(b_ip6 $n) ;; *) ep=$(b_ip4 $n) ;; esac
		lbctl_l endpoint add "$ep" port "$epport" service "$vip" port "$port" proto "$proto" ||
			return 1
	done
}

# lb_rules_end FILE...: append to each hand-written rule set the line restore
# requires, "# end N rules", N its rule lines (neither blank nor comments).
lb_rules_end() {
	local f
	for f in "$@"; do
		echo "# end $(grep -cv '^[[:space:]]*\(#\|$\)' "$f") rules" >>"$f" || return 1
	done
}

# ---------------------------------------------------------------- clients

# lb_flow_client N: N connections (tests/e2e/flows.py) to VIP4:7000, each exchanging
# a line every 100 ms until $T/stop exists; returns once all are open (or failed).
# The report goes to $T/flows.json; lb_flow_report ends it.  Sets FLOW_PID.
lb_flow_client() {
	rm -f "$T/stop" "$T/ready"
	lb_ns "$NS_C" "$PY" "$LB_REPO/tests/e2e/flows.py" client "$VIP4" 7000 --count "$1" \
		--interval 0.1 --stop "$T/stop" --out "$T/flows.json" --ready "$T/ready" \
		--max-time 280 </dev/null 2>"$T/flows.err" 3>&- &
	FLOW_PID=$!
	lbt_add_pid $FLOW_PID
	for _ in $(seq 600); do
		[ -e "$T/ready" ] && return 0
		lb__alive "$FLOW_PID" || break
		sleep 0.1
	done
	echo "the flows client did not get its connections open" >&2
	cat "$T/flows.err" >&2
	return 1
}

# lb_flow_report: stop the client, wait for its report (it makes its last exchanges
# within 10 s), print it.  Polls: a $(...) subshell cannot wait for our child.
# lb_assert_flows_kept REPORT N: flows.py's report says N connections opened and none
# reset, none with a mismatched echo, none left without its last exchange.
lb_assert_flows_kept() {
	assert_eq "$(json_get 'j["opened"]' <<<"$1")" "$2" "connections opened" &&
		assert_eq "$(json_get 'j["reset"]' <<<"$1")" 0 "connections reset" &&
		assert_eq "$(json_get 'j["mismatched"]' <<<"$1")" 0 "echoes mismatched" &&
		assert_eq "$(json_get 'j["unfinished"]' <<<"$1")" 0 "connections without their last exchange"
}

lb_flow_report() {
	touch "$T/stop"
	for _ in $(seq 300); do
		lb__alive "$FLOW_PID" || break
		sleep 0.1
	done
	cat "$T/flows.json" || { cat "$T/flows.err" >&2; return 1; }
}

# lb_attach_xdp: the datapath on XDP too, on the LB's four interfaces; the senders
# checksum in full (XDP on veth loses CHECKSUM_PARTIAL) and the receiving peers have
# GRO on (XDP_REDIRECT into a veth needs it).
lb_attach_xdp() {
	local d n
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		lbattach_l attach dev "$d" xdp || return 1
	done
	lb_ns "$NS_C" ethtool -K "$DEV_C" tx off gro on >/dev/null || return 1
	for n in 1 2 3; do
		lb_ns "${NS_B[n]}" ethtool -K "${DEV_B[n]}" tx off gro on >/dev/null || return 1
	done
}

# lb_curl URL [curl options...]: the body (a backend's name) of one request from the
# client namespace; fails when curl fails.  --max-time only bounds a hung request.
lb_curl() {
	local url=$1
	shift
	lb_ns "$NS_C" curl -sS --max-time 5 "$@" "$url"
}

# lb_curls N URL [curl options]: N requests one after the other, the answers on one
# line.  The loop runs in a plain bash child (bats' per-command trap is slow).
lb_curls() {
	bash -c '
		ns=$1 n=$2 url=$3
		shift 3
		out=()
		for ((i = 1; i <= n; i++)); do
			r=$(nsenter --net="/run/netns/$ns" curl -sS --max-time 5 "$@" "$url") || {
				echo "request $i of $n to $url failed" >&2
				exit 1
			}
			out+=("$r")
		done
		echo "${out[*]}"' lb_curls "$NS_C" "$@"
}

# lb_udp ADDR PORT: one datagram from the client, prints the answer.  -t bounds the wait
# for the answer after our side is done.
lb_udp() {
	local target
	case $1 in *:*) target="UDP6:[$1]:$2" ;; *) target="UDP4:$1:$2" ;; esac
	echo hello | lb_ns "$NS_C" timeout 10 socat -t 1 - "$target"
}

# lb_echo_once ADDR PORT: a short connection to the echo service: prints the backend's
# name (first line); checks that our line came back.
lb_echo_once() {
	local out
	out=$(printf 'ping\n' | lb_ns "$NS_C" timeout 10 socat -t 5 - "TCP4:$1:$2") || {
		echo "echo connection to $1:$2 failed" >&2
		return 1
	}
	if [ "$(sed -n 2p <<<"$out")" != ping ]; then
		echo "echo connection to $1:$2: no echo in '$out'" >&2
		return 1
	fi
	sed -n 1p <<<"$out"
}

# lb_hold ADDR PORT: a long-lived TCP connection from the client to ADDR:PORT (socat
# reading a fifo we keep open on fd HOLD_FD, writing to $T/hold.out).  Send lines
# with lb_hold_send.
lb_hold() {
	mkfifo "$T/hold.in" || return 1
	: >"$T/hold.out"
	exec {HOLD_FD}<>"$T/hold.in"
	lb_ns "$NS_C" socat - "TCP4:$1:$2" <"$T/hold.in" >"$T/hold.out" 2>"$T/hold.err" 3>&- &
	lbt_add_pid $!
}

# lb_hold_wait_lines N: poll (at most 5 s) until the held connection has received N lines.
lb_hold_wait_lines() {
	for _ in $(seq 50); do
		[ "$(wc -l <"$T/hold.out")" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "held connection: $(wc -l <"$T/hold.out") lines received, expected $1:" >&2
	cat "$T/hold.out" "$T/hold.err" >&2
	return 1
}

lb_hold_send() {
	echo "$1" >&"$HOLD_FD"
}

# ---------------------------------------------------------------- checks

# count_of NAME WORDS...: how many of WORDS are NAME.
count_of() {
	local want=$1 c=0 w
	shift
	for w in "$@"; do [ "$w" = "$want" ] && c=$((c + 1)); done
	echo $c
}

# assert_rr_rotation "ANSWERS": a sequence of 3k answers that rotates exactly over
# b1 b2 b3: every consecutive triple a permutation of them, period 3.
assert_rr_rotation() {
	local -a a
	read -ra a <<<"$1"
	local n=${#a[@]} i
	if [ $((n % 3)) -ne 0 ] || [ "$n" -eq 0 ]; then
		echo "rr: $n answers, expected a multiple of 3: $1" >&2
		return 1
	fi
	for ((i = 0; i + 2 < n; i++)); do
		if [ "$(printf '%s\n' "${a[i]}" "${a[i + 1]}" "${a[i + 2]}" | sort | tr '\n' ' ')" != "b1 b2 b3 " ]; then
			echo "rr: answers $((i + 1))..$((i + 3)) are not a permutation of b1 b2 b3: $1" >&2
			return 1
		fi
	done
	for ((i = 3; i < n; i++)); do
		if [ "${a[i]}" != "${a[i - 3]}" ]; then
			echo "rr: not periodic with period 3 at answer $((i + 1)): $1" >&2
			return 1
		fi
	done
	for i in b1 b2 b3; do
		assert_eq "$(count_of $i "${a[@]}")" $((n / 3)) "rr: answers from $i in '$1'" || return 1
	done
}

# lb_ct_flows: the number of flows "lbctl conntrack count" reports (JSON).
lb_ct_flows() {
	lbctl_j conntrack count "$@" | json_get 'j["flows"]'
}

# lb_maps_state: everything a rejected lbctl command must leave alone: services and
# endpoints as lbctl shows them, conntrack without the entries' age (the clock moves),
# and the raw maps lb_services, lb_endpoints, lb_config, lb_allow as bpftool dumps them (their
# sha256: lb_endpoints is an array of thousands of slots).
#
# These checks run very often, so the work is done in plain bash children (bats'
# per-command trap makes every command inside a test several times slower): the
# lb__* functions below use nothing from bats and are handed over with declare -f.

# lb__state NS LBCTL ROOT
lb__state() {
	local ns=$1 lbctl=$2 root=$3 m
	echo "== service show"
	nsenter --net="/run/netns/$ns" "$lbctl" -P "$root" -j service show 2>&1
	echo
	echo "== conntrack show"
	nsenter --net="/run/netns/$ns" "$lbctl" -P "$root" -j conntrack show 2>&1 |
		sed -E 's/"age":[0-9]+,//g'
	echo
	for m in lb_services lb_svc_eps lb_endpoints lb_config lb_allow; do
		echo "== $m $(bpftool -j map dump pinned "$root/maps/$m" 2>&1 | sha256sum)"
	done
}

# lb__detail ROOT: the same maps entry by entry, one a line, array slots whose value is
# all zero left out (to show what changed).
lb__detail() {
	local m
	for m in lb_allow lb_services lb_endpoints lb_config; do
		echo "== $m"
		bpftool -j map dump pinned "$1/maps/$m" 2>&1 | sed 's/},{/}\n{/g' |
			grep -E '"value":\[[^]]*"0x([1-9a-f][0-9a-f]|0[1-9a-f])"'
	done
}

# lb__rejected NS LBCTL ROOT TMPDIR BEFORE BEFORE_DETAIL STATUS REGEX ARGS...: "lbctl
# ARGS" exits STATUS, prints nothing on stdout and exactly one line on stderr, which
# starts with "lbctl: " and matches the extended REGEX; the state is still BEFORE.
lb__rejected() {
	local ns=$1 lbctl=$2 root=$3 tmp=$4 before=$5 before_detail=$6 want=$7 re=$8
	shift 8
	local out rc err n after bad=0
	out=$(nsenter --net="/run/netns/$ns" "$lbctl" -P "$root" "$@" 2>"$tmp/rejected.err")
	rc=$?
	err=$(cat "$tmp/rejected.err")
	n=$(grep -c '' "$tmp/rejected.err")
	if [ "$rc" != "$want" ]; then
		echo "exit status $rc, expected $want" >&2
		bad=1
	fi
	if [ "$n" != 1 ]; then
		echo "expected exactly one line on stderr, got $n" >&2
		bad=1
	elif [ "${err#lbctl: }" = "$err" ]; then
		echo "stderr does not start with 'lbctl: '" >&2
		bad=1
	elif ! grep -Eq -- "$re" <<<"$err"; then
		echo "stderr does not match /$re/" >&2
		bad=1
	fi
	if [ -n "$out" ]; then
		echo "unexpected stdout" >&2
		bad=1
	fi
	after=$(lb__state "$ns" "$lbctl" "$root")
	if [ "$after" != "$before" ]; then
		echo "the maps changed:" >&2
		diff <(echo "$before") <(echo "$after") >&2
		diff <(echo "$before_detail") <(lb__detail "$root") >&2
		bad=1
	fi
	if [ $bad = 1 ]; then
		echo "command: lbctl $*" >&2
		echo "stdout: $out" >&2
		echo "stderr: $err" >&2
		return 1
	fi
}

# shellcheck disable=SC2153
lb_maps_state() {
	bash -c "$(declare -f lb__state); lb__state \"\$@\"" lb_maps_state "$NS_L" "$LBCTL" "$ROOT"
}

lb_maps_detail() {
	lb__detail "$ROOT"
}

# lb_rejected STATUS REGEX ARGS...: lb__rejected against BEFORE and BEFORE_DETAIL (set
# them with lb_maps_state and lb_maps_detail first).
# shellcheck disable=SC2153
lb_rejected() {
	bash -c "$(declare -f lb__state lb__detail lb__rejected); lb__rejected \"\$@\"" \
		lb_rejected "$NS_L" "$LBCTL" "$ROOT" "$T" "$BEFORE" "$BEFORE_DETAIL" "$@"
}

# lb_udp_py ADDR PORT: one datagram from the client; prints the answer and returns as
# soon as it arrives (socat would wait out its -t); gives up after 5 s.
lb_udp_py() {
	lb_ns "$NS_C" "$PY" -c '
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
# Like any UDP client, send again from the same socket (the same flow, so the same
# endpoint) when an answer is lost on a busy machine; at most 3 tries.
for attempt in range(3):
    s.sendto(b"hello\n", (addr, port))
    try:
        print(s.recv(1500).decode().strip())
        break
    except TimeoutError:
        if attempt == 2:
            raise' "$1" "$2"
}
