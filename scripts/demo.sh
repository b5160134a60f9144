#!/bin/bash
# lbkit demo (make demo): a client namespace, a load-balancer namespace and three
# backend namespaces running real web servers.  The datapath is attached with a
# private pin root; ping rounds show the counters moving; then a VIP balances HTTP
# over the three backends (round robin, then weights), with conntrack and stats.
# Cleans up after itself, also when interrupted.  Needs root and a built tree.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
LBATTACH=$repo/build/bin/lbattach
LBCTL=$repo/build/bin/lbctl

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
vip=198.19.0.10
ns_b=("lbdemob1$id" "lbdemob2$id" "lbdemob3$id")	# backend namespaces
tmp=$(mktemp -d /tmp/lbdemo.XXXXXX)
root=$tmp/pins		# private pin root: the tools mount a bpffs here

cleanup() {
	set +e
	if mountpoint -q "$root"; then
		nsenter --net="/run/netns/$ns_l" "$LBATTACH" -P "$root" destroy
		umount "$root" || umount -l "$root"
	fi
	for ns in "$ns_c" "$ns_l" "${ns_b[@]}"; do
		if [ -e "/run/netns/$ns" ]; then
			ip netns pids "$ns" | xargs -r kill 2>/dev/null
			ip netns del "$ns"
		fi
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

say "load balancing: three backends, each a real web server answering its name"
for i in 1 2 3; do
	ns=${ns_b[i - 1]}
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "b0$id" netns "$ns" type veth peer name "e$i$id" netns "$ns_l"
	ip -n "$ns" addr add "198.18.$i.2/24" dev "b0$id"
	ip -n "$ns" link set "b0$id" up
	ip -n "$ns" route add default via "198.18.$i.1"
	ip -n "$ns_l" addr add "198.18.$i.1/24" dev "e$i$id"
	ip -n "$ns_l" link set "e$i$id" up
	mkdir -p "$tmp/www$i"
	echo "backend b$i" >"$tmp/www$i/index.html"
	nsenter --net="/run/netns/$ns" python3 -m http.server 8080 --bind "198.18.$i.2" \
		--directory "$tmp/www$i" >/dev/null 2>&1 &
done
ip -n "$ns_c" route add "$vip" via "$ip_l"
in_lb sysctl -qw net.ipv4.ip_forward=1
for i in 1 2 3; do
	for _ in $(seq 50); do
		nsenter --net="/run/netns/${ns_b[i - 1]}" ss -Hlnt 'sport = :8080' | grep -q . && break
		sleep 0.1
	done
	run lbattach attach dev "e$i$id"
done
say "a VIP in front of them: $vip port 80, round robin"
run lbctl service add "$vip" port 80 sched rr
for i in 1 2 3; do
	run lbctl endpoint add "198.18.$i.2" port 8080 service "$vip" port 80
done
run lbctl service show
say "six requests from the client to http://$vip/"
for _ in 1 2 3 4 5 6; do
	nsenter --net="/run/netns/$ns_c" curl -s --max-time 5 "http://$vip/"
done
say "weights 1, 2, 3 (smooth weighted round robin): six more requests"
run lbctl service set "$vip" port 80 sched wrr
for i in 1 2 3; do
	run lbctl endpoint set "198.18.$i.2" port 8080 weight "$i" service "$vip" port 80
done
for _ in 1 2 3 4 5 6; do
	nsenter --net="/run/netns/$ns_c" curl -s --max-time 5 "http://$vip/"
done
say "per-service and per-endpoint counters, the flows in conntrack, the tables"
run lbctl -s service show
run lbctl conntrack count
run lbctl info

say "destroy: detach everything, remove every pin"
run lbattach destroy
run lbattach show
echo "(nothing attached)"
