#!/usr/bin/env bats
# Schedulers, through real connections: a client namespace curls the VIP, the LB
# namespace runs the datapath on tc ingress, three backend namespaces run http.server
# answering with their names (b1 b2 b3).  Topology: lb_helpers.bash.

load lb_helpers

setup() {
	lb_setup http
}

teardown() {
	lb_teardown
}

@test "rr: 12 connections rotate exactly over the 3 endpoints" {
	lb_service "$VIP4" 80 8080 sched rr
	local got
	got=$(lb_curls 12 "http://$VIP4/")
	assert_rr_rotation "$got"
}

@test "wrr 1,2,3: 12 connections give exactly 2, 4 and 6" {
	lbctl_l service add "$VIP4" port 80 sched wrr
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 weight 1 service "$VIP4" port 80
	lbctl_l endpoint add "$(b_ip4 2)" port 8080 weight 2 service "$VIP4" port 80
	lbctl_l endpoint add "$(b_ip4 3)" port 8080 weight 3 service "$VIP4" port 80
	local got
	got=$(lb_curls 12 "http://$VIP4/")
	# shellcheck disable=SC2086
	assert_eq "$(count_of b1 $got) $(count_of b2 $got) $(count_of b3 $got)" "2 4 6" \
		"answers from b1 b2 b3 in '$got'"
}

@test "hash: 10 connections from one source address, different ports, one endpoint" {
	lb_service "$VIP4" 80 8080 sched hash
	local got first w
	got=$(lb_curls 10 "http://$VIP4/")
	read -r first _ <<<"$got"
	for w in $got; do
		assert_eq "$w" "$first" "hash: every answer from one endpoint in '$got'"
	done
	# Different source ports indeed: 10 flows in conntrack (they are closing, not gone).
	assert_eq "$(lb_ct_flows)" 10 "conntrack flows after 10 connections"
	# A second source address of the client: again one endpoint for all of its flows.
	ip -n "$NS_C" addr add 198.18.0.2/24 dev "$DEV_C" nodad
	got=$(lb_curls 10 "http://$VIP4/" --interface 198.18.0.2)
	read -r first _ <<<"$got"
	for w in $got; do
		assert_eq "$w" "$first" "hash: every answer for 198.18.0.2 from one endpoint in '$got'"
	done
}

@test "maglev: flows spread; a fixed 5-tuple keeps its endpoint across a conntrack flush" {
	lb_service "$VIP4" 80 8080 sched maglev
	local got distinct p a b
	got=$(lb_curls 30 "http://$VIP4/")
	distinct=$(tr ' ' '\n' <<<"$got" | sort -u | wc -l)
	if [ "$distinct" -lt 2 ]; then
		echo "maglev: 30 flows all on one endpoint: $got" >&2
		false
	fi
	# The client keeps no TIME-WAIT sockets, so the same local port can be bound again
	# at once whoever closed first (the backends' TIME-WAIT accepts the new SYN).
	lb_ns "$NS_C" sysctl -qw net.ipv4.tcp_max_tw_buckets=0
	for p in 40001 40002 40003; do
		a=$(lb_curl "http://$VIP4/" --local-port "$p")
		lbctl_l conntrack flush
		assert_eq "$(lb_ct_flows)" 0 "flows after conntrack flush"
		b=$(lb_curl "http://$VIP4/" --local-port "$p")
		assert_eq "$b" "$a" "endpoint of $C4:$p -> $VIP4:80 after the flush"
	done
}

@test "random: 60 connections, every endpoint gets at least 5" {
	lb_service "$VIP4" 80 8080 sched random
	local got n c
	got=$(lb_curls 60 "http://$VIP4/")
	# Tolerance: each endpoint expects 20 of 60 (binomial, p = 1/3); 4 or fewer has a
	# probability of 9.6e-7 per endpoint (under 3e-6 for the test), so this does not
	# flake, yet it fails when an endpoint is never or hardly ever picked.
	for n in b1 b2 b3; do
		# shellcheck disable=SC2086
		c=$(count_of $n $got)
		if [ "$c" -lt 5 ]; then
			echo "random: $n got $c of 60: $got" >&2
			false
		fi
	done
	# shellcheck disable=SC2086
	assert_eq $(($(count_of b1 $got) + $(count_of b2 $got) + $(count_of b3 $got))) 60 \
		"answers from a backend"
}

@test "lc: with a connection held open to one endpoint, new connections avoid it" {
	lb_service "$VIP4" 80 8080 sched lc
	# A held connection (an HTTP connection that never sends its request).
	lb_hold "$VIP4" 80
	local held="" n i ep json
	# Which endpoint got it: the backend that has the established connection.
	for i in $(seq 50); do
		for n in 1 2 3; do
			if lb_ns "${NS_B[n]}" ss -Htn state established "( sport = :8080 )" | grep -q .; then
				held=b$n
			fi
		done
		[ -n "$held" ] && break
		sleep 0.1
	done
	if [ -z "$held" ]; then
		echo "the held connection reached no backend" >&2
		false
	fi
	# The datapath counts it as active on that endpoint.
	json=$(lbctl_l -s -j service show)
	ep=$(b_ip4 "${held#b}")
	assert_eq "$(json_get "[e['stats']['active'] for e in j[0]['endpoints'] if e['address'] == '$ep'][0]" <<<"$json")" 1 \
		"active flows of the held endpoint $ep"
	local got w
	got=$(lb_curls 9 "http://$VIP4/")
	for w in $got; do
		if [ "$w" = "$held" ]; then
			echo "lc: a new connection went to $held, which holds a connection: $got" >&2
			false
		fi
	done
	# The held connection still works: send its request, get b's page.
	lb_hold_send $'GET / HTTP/1.0\r'
	lb_hold_send $'\r'
	for _ in $(seq 50); do
		grep -q "^$held\$" "$T/hold.out" && break
		sleep 0.1
	done
	grep -q "^$held\$" "$T/hold.out" || {
		echo "held connection: no page from $held:" >&2
		cat "$T/hold.out" >&2
		false
	}
}
