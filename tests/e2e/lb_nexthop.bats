#!/usr/bin/env bats
# The next hop cached in each flow's conntrack entry (bpf/lib/fwd.h): established
# packets skip bpf_fib_lookup while the cache is younger than LB_NH_MAX_AGE (1 s),
# so a route change must still reach every open flow.  Backend 1 gets a second
# link to the LB and an endpoint address on its loopback, routed by the LB over the
# first link; live connections run through a VIP to that address while the route
# moves to the second link: the connections' packets move, none is lost.

# shellcheck disable=SC2154 # status, output: set by bats' run
load lb_helpers

EP=198.18.9.1		# the endpoint: backend 1's loopback, behind either link

teardown() {
	lb_teardown
}

# rx_packets NS DEV: packets DEV received.
rx_packets() {
	ip -n "$1" -j -s link show dev "$2" | json_get 'j[0]["stats64"]["rx"]["packets"]'
}

# second_link: backend 1 reachable over ve1 (first) and vx (second); $EP routed via ve1.
second_link() {
	DEV_X=vx$ID DEV_Y=vy$ID
	ip link add "$DEV_X" netns "$NS_L" type veth peer name "$DEV_Y" netns "${NS_B[1]}" || return 1
	ip -n "$NS_L" addr add 198.18.11.1/24 dev "$DEV_X" || return 1
	ip -n "${NS_B[1]}" addr add 198.18.11.2/24 dev "$DEV_Y" || return 1
	ip -n "${NS_B[1]}" addr add "$EP/32" dev lo || return 1
	ip -n "$NS_L" link set "$DEV_X" up || return 1
	ip -n "${NS_B[1]}" link set "$DEV_Y" up || return 1
	# The client's packets now arrive on a link the replies do not leave by.
	lb_ns "${NS_B[1]}" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		"net.ipv4.conf.$DEV_Y.rp_filter=0" || return 1
	# XDP_REDIRECT into a veth needs GRO on its peer; the sender checksums in full.
	lb_ns "${NS_B[1]}" ethtool -K "$DEV_Y" gro on >/dev/null || return 1
	ip -n "$NS_L" route add "$EP/32" via "$(b_ip4 1)" dev "${DEV_E[1]}" || return 1
}

# wait_rx_growth NS DEV FROM N: poll (at most 10 s) until DEV has received N packets
# more than FROM.
wait_rx_growth() {
	for _ in $(seq 100); do
		[ "$(rx_packets "$1" "$2")" -ge $(($3 + $4)) ] && return 0
		sleep 0.1
	done
	echo "$2 in $1 received $(($(rx_packets "$1" "$2") - $3)) packets, want $4" >&2
	return 1
}

# route_moves_under_traffic: the check, on whatever is attached.
route_moves_under_traffic() {
	second_link
	lb_flow_servers
	lbctl_l service add "$VIP4" port 7000
	lbctl_l endpoint add "$EP" port 7000 service "$VIP4" port 7000
	lb_flow_client 20
	local old new t0 t1 r
	# Established traffic over the first link, none over the second.
	old=$(rx_packets "${NS_B[1]}" "${DEV_B[1]}")
	wait_rx_growth "${NS_B[1]}" "${DEV_B[1]}" "$old" 100
	new=$(rx_packets "${NS_B[1]}" "$DEV_Y")

	t0=$(date +%s%N)
	ip -n "$NS_L" route replace "$EP/32" via 198.18.11.2 dev "$DEV_X"
	wait_rx_growth "${NS_B[1]}" "$DEV_Y" "$new" 100
	t1=$(date +%s%N)
	echo "# the flows moved to the new route within $(((t1 - t0) / 1000000)) ms" >&3
	# Every flow has moved: the first link now carries (almost) nothing from the LB
	# while the second carries another 200 packets (a neighbour probe may pass).
	old=$(rx_packets "${NS_B[1]}" "${DEV_B[1]}")
	new=$(rx_packets "${NS_B[1]}" "$DEV_Y")
	wait_rx_growth "${NS_B[1]}" "$DEV_Y" "$new" 200
	[ $(($(rx_packets "${NS_B[1]}" "${DEV_B[1]}") - old)) -le 4 ] || {
		echo "the old link still received $(($(rx_packets "${NS_B[1]}" "${DEV_B[1]}") - old)) packets" >&2
		false
	}
	r=$(lb_flow_report)
	lb_assert_flows_kept "$r" 20
}

@test "next-hop cache: a route moved under traffic reaches every open flow (tc)" {
	lb_setup
	route_moves_under_traffic
}

@test "next-hop cache: a route moved under traffic reaches every open flow (XDP and tc)" {
	lb_setup
	lb_attach_xdp
	route_moves_under_traffic
}
