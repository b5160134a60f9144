#!/bin/bash
# lbkit demo (make demo): a client namespace and a load-balancer namespace joined by
# a veth pair, the datapath attached on tc ingress and XDP with a private pin root,
# a few rounds of ping with the counters shown after each.  Cleans up after itself,
# also when interrupted.  Needs root and a built tree (make all).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
LBATTACH=$repo/lbctl/lbattach
LBCTL=$repo/lbctl/lbctl

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, BPF)" >&2
	exit 1
fi
for t in "$LBATTACH" "$LBCTL"; do
	if [ ! -x "$t" ]; then
		echo "demo: $t is missing: run 'make all' first" >&2
		exit 1
	fi
done

id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
ns_c=lbdemoc$id		# client namespace
ns_l=lbdemol$id		# load balancer namespace
dev_c=dc$id
dev_l=dl$id
ip_c=198.18.0.1
ip_l=198.18.0.2
tmp=$(mktemp -d /tmp/lbdemo.XXXXXX)
root=$tmp/pins		# private pin root: the tools mount a bpffs here

cleanup() {
	set +e
	if mountpoint -q "$root"; then
		nsenter --net="/run/netns/$ns_l" "$LBATTACH" -P "$root" destroy
		umount "$root" || umount -l "$root"
	fi
	for ns in "$ns_c" "$ns_l"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns"
	done
	mountpoint -q "$root" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run in the lb namespace (nsenter, not "ip netns exec": that would remount /sys
# and hide the bpffs mounted on the pin root).
in_lb() { nsenter --net="/run/netns/$ns_l" "$@"; }
lbattach() { in_lb "$LBATTACH" -P "$root" "$@"; }
lbctl() { in_lb "$LBCTL" -P "$root" "$@"; }
if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
run() {
	printf '$ %s\n' "$*"
	"$@"
}

say "topology: $ns_c ($dev_c $ip_c) <-> ($dev_l $ip_l) $ns_l, pin root $root"
ip netns add "$ns_c"
ip netns add "$ns_l"
for ns in "$ns_c" "$ns_l"; do
	# IPv4 only: no IPv6 chatter in the counters
	nsenter --net="/run/netns/$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip link add "$dev_c" netns "$ns_c" type veth peer name "$dev_l" netns "$ns_l"
ip -n "$ns_c" addr add "$ip_c/30" dev "$dev_c"
ip -n "$ns_l" addr add "$ip_l/30" dev "$dev_l"
ip -n "$ns_c" link set "$dev_c" up
ip -n "$ns_l" link set "$dev_l" up

say "attach the datapath: tc ingress (tcx) and XDP on $dev_l"
run lbattach attach dev "$dev_l" tc ingress
run lbattach attach dev "$dev_l" xdp
run lbattach show

say "the programs stay attached after the tools exit; traffic is counted at both hooks"
echo "(the first round also shows the client's ARP request, counted as nonip)"
for round in 1 2 3; do
	say "round $round: ping -c $((round * 2)) $ip_l from $ns_c"
	nsenter --net="/run/netns/$ns_c" ping -q -n -c $((round * 2)) -i 0.2 -W 2 "$ip_l" |
		sed -n 's/^[0-9]* packets transmitted/  &/p'
	run lbctl stats dev "$dev_l"
done

say "JSON for scripts"
run lbctl -j stats dev "$dev_l"

say "reset the counters, detach XDP, one more ping: only tc ingress counts"
run lbctl stats reset
run lbattach detach dev "$dev_l" xdp
nsenter --net="/run/netns/$ns_c" ping -q -n -c 1 -W 2 "$ip_l" >/dev/null
run lbattach show
run lbctl stats

say "destroy: detach everything, remove every pin"
run lbattach destroy
run lbattach show
echo "(nothing attached)"
