# shellcheck shell=bash disable=SC2154
# (SC2154: status, output, lines, stderr, stderr_lines are set by bats' "run".)
#
# Helpers for the lbkit end-to-end tests (bats).  Each test builds its own network
# namespaces joined by veth pairs, uses a private pin root in a fresh temporary
# directory, runs the real tools inside the namespaces and always cleans up.
#
#   setup()    { lbt_setup; lbt_topo; }      # client ns <-> lb ns, one veth pair
#   teardown() { lbt_teardown; }
#
# Names: namespaces lbc<ID> (client) and lbl<ID> (lb), veths vc<ID> / vl<ID>, where
# <ID> is random, so tests of several checkouts can run side by side.  Addresses
# only from 198.18.0.0/15 and 2001:db8::/32.
#
# The tools need the namespace's interfaces and the pins, so they run under
# "nsenter --net=/run/netns/NS" (ip netns exec would remount /sys and hide the
# bpffs mounted on the pin root).

bats_require_minimum_version 1.5.0

# LBT_REPO: run the tests against another build tree (default: this checkout).
LB_REPO=${LBT_REPO:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
LBATTACH=$LB_REPO/build/bin/lbattach
LBCTL=$LB_REPO/build/bin/lbctl
LBMAP=$LB_REPO/build/bin/lbmap
# Debian's python3 (the one scripts/deps.sh installs), not a user's shim.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# Globals set by the setup functions (empty until then).
T='' ROOT='' ID=''
NS_L='' NS_C='' DEV_L='' DEV_C=''
NS_C2='' DEV_L2='' DEV_C2=''
IP_C=198.18.0.1 IP_L=198.18.0.2
IP_C2=198.18.0.5 IP_L2=198.18.0.6
IP6_C=2001:db8::1 IP6_L=2001:db8::2
LBT_NETNS=()	# namespaces to delete
LBT_PIDS=()	# background processes to kill
LBT_ROOTS=()	# pin roots to destroy and unmount

# ---------------------------------------------------------------- setup/teardown

# Per-test state: temp dir, private pin root (not created: the tools mount a bpffs
# on it), random ID.  A missing requirement fails the test (never skips).
lbt_setup() {
	LBT_NETNS=()
	LBT_PIDS=()
	LBT_ROOTS=()
	if [ "$(id -u)" -ne 0 ]; then
		echo "e2e tests need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)" >&2
		return 1
	fi
	local t
	for t in "$LBATTACH" "$LBCTL"; do
		if [ ! -x "$t" ]; then
			echo "$t is missing: run 'make all' first" >&2
			return 1
		fi
	done
	T=$(mktemp -d /tmp/lbt.XXXXXX)
	ROOT=$T/pins
	LBT_ROOTS+=("$ROOT")
	ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
}

lbt_teardown() {
	local pid root ns
	for pid in "${LBT_PIDS[@]}"; do
		lbt_kill_tree "$pid"
	done
	for root in "${LBT_ROOTS[@]}"; do
		if mountpoint -q "$root"; then
			if [ -n "$NS_L" ] && [ -e "/run/netns/$NS_L" ]; then
				nsenter --net="/run/netns/$NS_L" "$LBATTACH" -P "$root" destroy
			fi
			# (a root mounted more than once needs more than one umount)
			for _ in 1 2 3 4 5; do
				mountpoint -q "$root" || break
				umount "$root" || umount -l "$root"
			done
		fi
	done
	for ns in "${LBT_NETNS[@]}"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns"
	done
	if [ -n "$T" ] && [ -d "$T" ]; then
		# Never delete below a mount that is still there.
		if ! grep -q " $T/" /proc/mounts; then
			rm -rf "$T"
		fi
	fi
	return 0
}

# Register another pin root (for tests that use more than one).
lbt_add_root() {
	LBT_ROOTS+=("$1")
}

# Register a background process for teardown.  Start it without a function or
# subshell around it where possible ("nsenter ... &", not "lb_ns ... &"), so that
# $! is the process itself; teardown kills its descendants too, just in case.
lbt_add_pid() {
	LBT_PIDS+=("$1")
}

# lbt_kill_tree PID: TERM the process and all its descendants (by pid), KILL what is
# still there after 2 s, reap it.
lbt_kill_tree() {
	local all=("$1") i=0 kid p
	while [ "$i" -lt "${#all[@]}" ]; do
		for kid in $(pgrep -P "${all[i]}"); do
			all+=("$kid")
		done
		i=$((i + 1))
	done
	kill "${all[@]}" 2>/dev/null
	for _ in $(seq 20); do
		for p in "${all[@]}"; do
			kill -0 "$p" 2>/dev/null && break
			p=
		done
		[ -z "$p" ] && break
		sleep 0.1
	done
	kill -9 "${all[@]}" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# ---------------------------------------------------------------- topology

lbt_netns_add() {
	ip netns add "$1" || return 1
	LBT_NETNS+=("$1")
	ip -n "$1" link set lo up
}

# MAC address of DEV in NS.
lbt_mac() {
	ip -n "$1" -j link show dev "$2" |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'
}

# lbt__pair CNS CDEV LDEV IPC IPL [IP6C IP6L]: a veth pair from client namespace
# CNS (created) to the lb namespace $NS_L, IPv4 /30 addresses and permanent
# neighbour entries on both sides, so no ARP/ND packet is ever sent.  Without IPv6
# addresses, IPv6 is disabled on both ends (no MLD, RS or DAD packets either).
lbt__pair() {
	local cns=$1 cdev=$2 ldev=$3 ipc=$4 ipl=$5 ip6c=${6:-} ip6l=${7:-}
	local macc macl ns

	lbt_netns_add "$cns" || return 1
	for ns in "$cns" "$NS_L"; do
		if [ -z "$ip6c" ]; then
			lb_ns "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
				net.ipv6.conf.all.disable_ipv6=1 || return 1
		else
			# IPv6 on, but quiet: no link-local address, no DAD, no router
			# solicitation, MLD reports sent at once (within a jiffy).
			lb_ns "$ns" sysctl -qw net.ipv6.conf.default.addr_gen_mode=1 \
				net.ipv6.conf.default.accept_dad=0 \
				net.ipv6.conf.default.router_solicitations=0 \
				net.ipv6.conf.default.mldv2_unsolicited_report_interval=0 \
				net.ipv6.conf.default.mldv1_unsolicited_report_interval=0 || return 1
		fi
	done
	if [ -n "${LBT_LINDEX:-}" ]; then
		# The LB's side with that ifindex (lbmap.bats: above LB_IF_CTR_IFINDEX_MAX,
		# so its counters live in the lb_if_stats hash).
		ip link add "$ldev" netns "$NS_L" index "$LBT_LINDEX" type veth \
			peer name "$cdev" netns "$cns" || return 1
	else
		ip link add "$cdev" netns "$cns" type veth peer name "$ldev" netns "$NS_L" || return 1
	fi
	ip -n "$cns" addr add "$ipc/30" dev "$cdev" || return 1
	ip -n "$NS_L" addr add "$ipl/30" dev "$ldev" || return 1
	if [ -n "$ip6c" ]; then
		ip -n "$cns" addr add "$ip6c/64" dev "$cdev" nodad || return 1
		ip -n "$NS_L" addr add "$ip6l/64" dev "$ldev" nodad || return 1
	fi
	macc=$(lbt_mac "$cns" "$cdev") && macl=$(lbt_mac "$NS_L" "$ldev") || return 1
	ip -n "$cns" neigh replace "$ipl" lladdr "$macl" dev "$cdev" nud permanent || return 1
	ip -n "$NS_L" neigh replace "$ipc" lladdr "$macc" dev "$ldev" nud permanent || return 1
	if [ -n "$ip6c" ]; then
		ip -n "$cns" -6 neigh replace "$ip6l" lladdr "$macl" dev "$cdev" nud permanent || return 1
		ip -n "$NS_L" -6 neigh replace "$ip6c" lladdr "$macc" dev "$ldev" nud permanent || return 1
	fi
	ip -n "$cns" link set "$cdev" up || return 1
	ip -n "$NS_L" link set "$ldev" up || return 1
}

# lbt_topo [v6]: client ns $NS_C ($DEV_C, $IP_C) <-> lb ns $NS_L ($DEV_L, $IP_L).
# With v6 also $IP6_C / $IP6_L.
lbt_topo() {
	NS_L=lbl$ID NS_C=lbc$ID DEV_L=vl$ID DEV_C=vc$ID
	lbt_netns_add "$NS_L" || return 1
	if [ "${1:-}" = v6 ]; then
		lbt__pair "$NS_C" "$DEV_C" "$DEV_L" "$IP_C" "$IP_L" "$IP6_C" "$IP6_L" || return 1
	else
		lbt__pair "$NS_C" "$DEV_C" "$DEV_L" "$IP_C" "$IP_L" || return 1
	fi
	lbt_wait_quiet "$NS_L" "$DEV_L"
}

# A second client: $NS_C2 ($DEV_C2, $IP_C2) <-> $NS_L ($DEV_L2, $IP_L2).
lbt_topo2() {
	NS_C2=lbd$ID DEV_L2=wl$ID DEV_C2=wc$ID
	lbt__pair "$NS_C2" "$DEV_C2" "$DEV_L2" "$IP_C2" "$IP_L2" || return 1
	lbt_wait_quiet "$NS_L" "$DEV_L2"
}

# ---------------------------------------------------------------- running tools

# Run a command in namespace NS (network only: mounts stay the host's).
lb_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# The tools in the lb namespace with the test's pin root.
lbattach_l() { lb_ns "$NS_L" "$LBATTACH" -P "$ROOT" "$@"; }
lbctl_l() { lb_ns "$NS_L" "$LBCTL" -P "$ROOT" "$@"; }
lbmap_l() { lb_ns "$NS_L" "$LBMAP" -P "$ROOT" "$@"; }

# lbt_ping NS ADDR COUNT: COUNT echo requests, every one must be answered.
lbt_ping() {
	lb_ns "$1" ping -q -n -c "$3" -i 0.2 -W 2 "$2" >/dev/null
}

# ---------------------------------------------------------------- counters

# lbt_ctr DEV HOOK COUNTER FIELD [ROOT]: one counter from "lbctl -j stats" (0 when
# the interface/hook has no entry yet).  FIELD is packets or bytes.
lbt_ctr() {
	lb_ns "$NS_L" "$LBCTL" -P "${5:-$ROOT}" -j stats | "$PY" -c '
import json, sys
dev, hook, ctr, field = sys.argv[1:5]
n = 0
for e in json.load(sys.stdin):
    if e["ifname"] == dev and e["hook"] == hook:
        n = e["counters"][ctr][field]
print(n)' "$1" "$2" "$3" "$4"
}

# lbt_ctr_all DEV HOOK [ROOT]: "counter packets bytes" lines for all 11 counters.
lbt_ctr_all() {
	lb_ns "$NS_L" "$LBCTL" -P "${3:-$ROOT}" -j stats | "$PY" -c '
import json, sys
dev, hook = sys.argv[1:3]
names = ["rx", "ipv4", "ipv6", "nonip", "tcp", "udp", "icmp", "icmpv6", "frag",
         "l4-other", "malformed"]
c = {}
for e in json.load(sys.stdin):
    if e["ifname"] == dev and e["hook"] == hook:
        c = e["counters"]
for n in names:
    v = c.get(n, {"packets": 0, "bytes": 0})
    print(n, v["packets"], v["bytes"])' "$1" "$2"
}

# lbt_kstat NS DEV: "rx_packets rx_bytes" of DEV as the kernel counts them.
lbt_kstat() {
	ip -n "$1" -s -j link show dev "$2" | "$PY" -c '
import json, sys
rx = json.load(sys.stdin)[0]["stats64"]["rx"]
print(rx["packets"], rx["bytes"])'
}

# lbt_wait_quiet NS DEV: wait (at most 5 s) until DEV received nothing for 0.5 s.
lbt_wait_quiet() {
	local last now same=0
	last=$(lbt_kstat "$1" "$2")
	for _ in $(seq 50); do
		sleep 0.1
		now=$(lbt_kstat "$1" "$2")
		if [ "$now" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 5 ] && return 0
		else
			same=0
			last=$now
		fi
	done
	echo "lbt_wait_quiet: $2 in $1 never went quiet" >&2
	return 1
}

# ---------------------------------------------------------------- servers

# lbt_wait_listen NS PORT: poll (at most 5 s) until a TCP socket listens on PORT.
lbt_wait_listen() {
	for _ in $(seq 50); do
		if lb_ns "$1" ss -Hltn "sport = :$2" | grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	echo "nothing listens on port $2 in $1 after 5 s" >&2
	return 1
}

# lbt_http_server NS ADDR PORT DIR: python3 http.server in the background.
lbt_http_server() {
	nsenter --net="/run/netns/$1" "$PY" -m http.server "$3" --bind "$2" --directory "$4" \
		>"$T/http.$3.log" 2>&1 3>&- &
	lbt_add_pid $!
	lbt_wait_listen "$1" "$3"
}

# lbt_wait_tcp_idle NS PORT: at most 5 s until no connection to/from PORT is open
# (LISTEN and TIME-WAIT are fine: those send nothing more).
lbt_wait_tcp_idle() {
	for _ in $(seq 50); do
		if ! lb_ns "$1" ss -Htn state connected "( sport = :$2 or dport = :$2 )" |
			grep -v TIME-WAIT | grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	echo "connections on port $2 in $1 still open after 5 s" >&2
	return 1
}

# ---------------------------------------------------------------- state

# Everything a command could change in the pin root and the kernel: attachments,
# counters (read independently with bpftool), the pin tree with modes.
lbt_state() {
	local root=${1:-$ROOT}
	echo "== show"
	lb_ns "$NS_L" "$LBATTACH" -P "$root" -j show 2>&1
	echo "== lb_if_stats"
	if [ -e "$root/maps/lb_if_stats" ]; then
		bpftool -j map dump pinned "$root/maps/lb_if_stats" 2>&1
	fi
	echo "== lb_config"
	if [ -e "$root/maps/lb_config" ]; then
		bpftool -j map dump pinned "$root/maps/lb_config" 2>&1
	fi
	echo "== tree"
	if [ -e "$root" ]; then
		find "$root" -printf '%P %y %m\n' | sort
		mountpoint "$root"
	else
		echo "(no $root)"
	fi
	if [ -n "$NS_L" ]; then
		echo "== tc"
		ip -n "$NS_L" -d -j link show
		tc -n "$NS_L" qdisc show
	fi
}

# ---------------------------------------------------------------- assertions

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
	if [ "$1" != "$2" ]; then
		echo "$3: got '$1', expected '$2'" >&2
		return 1
	fi
}

# assert_status N: $status (from bats run) is N.
assert_status() {
	if [ "$status" -ne "$1" ]; then
		echo "exit status $status, expected $1" >&2
		echo "stdout: $output" >&2
		echo "stderr: ${stderr:-}" >&2
		return 1
	fi
}

# assert_err_line TOOL REGEX: after "run --separate-stderr", stderr is exactly one
# line, it starts with "TOOL: " and matches the extended regex REGEX.
assert_err_line() {
	local tool=$1 re=$2
	if [ "${#stderr_lines[@]}" -ne 1 ]; then
		echo "expected exactly one line on stderr, got ${#stderr_lines[@]}:" >&2
		printf '  %s\n' "${stderr_lines[@]}" >&2
		return 1
	fi
	case ${stderr_lines[0]} in
	"$tool: "*) ;;
	*)
		echo "stderr does not start with '$tool: ': ${stderr_lines[0]}" >&2
		return 1
		;;
	esac
	if ! grep -Eq -- "$re" <<<"${stderr_lines[0]}"; then
		echo "stderr '${stderr_lines[0]}' does not match /$re/" >&2
		return 1
	fi
}

# assert_no_stderr: after "run --separate-stderr", nothing on stderr.
assert_no_stderr() {
	if [ -n "${stderr:-}" ]; then
		echo "unexpected stderr: $stderr" >&2
		return 1
	fi
}

# json_get EXPR: evaluate python expression EXPR with j = json on stdin; prints it.
json_get() {
	"$PY" -c 'import json, sys
j = json.load(sys.stdin)
r = eval(sys.argv[1])
print(json.dumps(r) if isinstance(r, (dict, list, bool)) or r is None else r)' "$1"
}

# lbt_tcx NS DEV ingress|egress: what the kernel has on DEV's tcx hook, asked
# directly with BPF_PROG_QUERY (bpftool 7.1 does not list tcx): "PROGID:LINKID ..."
# in hook order, or "none".
lbt_tcx() {
	lb_ns "$1" "$PY" -c '
import ctypes, os, platform, socket, struct, sys
dev, direction = sys.argv[1:3]
nr = {"x86_64": 321, "aarch64": 280, "i686": 357, "armv7l": 386}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
prog_ids = (ctypes.c_uint32 * 64)()
link_ids = (ctypes.c_uint32 * 64)()
BPF_PROG_QUERY, BPF_TCX_INGRESS, BPF_TCX_EGRESS = 16, 46, 47
# union bpf_attr.query: target_ifindex, attach_type, query_flags, attach_flags,
# prog_ids, count, pad, prog_attach_flags, link_ids, link_attach_flags, revision
attr = ctypes.create_string_buffer(struct.pack("IIIIQIIQQQQ",
    socket.if_nametoindex(dev),
    BPF_TCX_INGRESS if direction == "ingress" else BPF_TCX_EGRESS, 0, 0,
    ctypes.addressof(prog_ids), 64, 0, 0, ctypes.addressof(link_ids), 0, 0), 64)
if libc.syscall(nr, BPF_PROG_QUERY, attr, 64) != 0:
    sys.exit("BPF_PROG_QUERY: " + os.strerror(ctypes.get_errno()))
n = struct.unpack_from("I", attr, 24)[0]
print(" ".join("%d:%d" % (prog_ids[i], link_ids[i]) for i in range(n)) or "none")
' "$2" "$3"
}
