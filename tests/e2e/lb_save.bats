#!/usr/bin/env bats
# lbctl save and restore: the rule set as lbctl commands, replaced at once.  Real
# namespaces, servers and traffic (lb_helpers.bash): a client, the load balancer
# with the datapath on tc ingress, three backends answering with their names.

load lb_helpers

setup() {
	lb_setup http echo
}

teardown() {
	lb_teardown
}


# The live generation of lb_services (lb_config.svc_gen & 1).
live_gen() {
	local g
	g=$(lbmap_l lookup lb_config 0 | sed -n 's/.* svc_gen \([0-9]*\).*/\1/p')
	[ -n "$g" ] || return 1
	echo $((g & 1))
}

# no_garbage: every lb_services key is of the live generation, and every endpoint
# slot in use belongs to a service that lists it (as many used slots as endpoints).
no_garbage() {
	local gen keys used eps
	gen=$(live_gen) || return 1
	keys=$(lbmap_l dump lb_services | grep -c '^key' || true)
	assert_eq "$(lbmap_l dump lb_services | grep -c " gen $gen value" || true)" "$keys" \
		"lb_services keys of the live generation $gen" || return 1
	used=$(lbmap_l dump lb_endpoints | grep -vc ' svc_id 0$' || true)
	eps=$(lbctl_j service show | json_get 'sum(len(s["endpoints"]) for s in j)')
	assert_eq "$used" "$eps" "endpoint slots in use" || return 1
	assert_eq "$(lbmap_l dump lb_svc_eps | grep -c '^key' || true)" "$eps" \
		"endpoint list entries" || return 1
}

# A rule set with every scheduler, both families, DNAT and full NAT (an snat
# address and the egress one), persistence, allow lists, weights, the three
# endpoint states, a Maglev size and non-default timeouts.
rich_rules() {
	lb_service "$VIP4" 80 8080 sched rr || return 1
	lbctl_l -b - <<-EOF || return 1
		service add $VIP4 port 81 sched wrr
		endpoint add $(b_ip4 1) port 8080 weight 1 service $VIP4 port 81
		endpoint add $(b_ip4 2) port 8080 weight 2 state drain service $VIP4 port 81
		endpoint add $(b_ip4 3) port 8080 weight 3 state down service $VIP4 port 81
		service add $VIP4 port 82 sched random persist 300 allow 198.18.0.0/24 198.18.9.0/28
		endpoint add $(b_ip4 2) port 8080 service $VIP4 port 82
		endpoint add $(b_ip4 1) port 8080 weight 0 service $VIP4 port 82
		service add $VIP4 port 443 sched maglev mode fullnat snat $(e_ip4 1) maglev-size 251
		endpoint add $(b_ip4 3) port 8080 weight 7 service $VIP4 port 443
		endpoint add $(b_ip4 1) port 8080 weight 2 service $VIP4 port 443
		service add $VIP4 port 9000 proto udp sched lc mode fullnat
		endpoint add $(b_ip4 1) port 9000 service $VIP4 port 9000 proto udp
		service add $VIP6 port 80 sched hash
		endpoint add $(b_ip6 1) port 8080 service $VIP6 port 80
		endpoint add $(b_ip6 2) port 8080 weight 4 service $VIP6 port 80
		service add $VIP6 port 8443 sched lc mode fullnat snat $(e_ip6 2) persist 60 allow 2001:db8::/64
		endpoint add $(b_ip6 2) port 8080 service $VIP6 port 8443
		conntrack timeout set tcp-est 3600 udp 120 tcp-fin 20
	EOF
}

@test "save, service flush, restore, save: the same bytes (every scheduler, both families, full NAT, persist, allow, weights, states, timeouts)" {
	rich_rules
	local show before
	lbctl_l save >"$T/s1"
	show=$(lbctl_l service show)
	# What save wrote: the commands, with everything that was set.
	grep -qx "conntrack timeout set tcp-syn 60 tcp-est 3600 tcp-fin 20 udp 120" "$T/s1"
	grep -qx "service add $VIP4 port 80 proto tcp sched rr mode dnat" "$T/s1"
	grep -qx "endpoint add $(b_ip4 2) port 8080 weight 2 state drain service $VIP4 port 81 proto tcp" "$T/s1"
	grep -qx "endpoint add $(b_ip4 3) port 8080 weight 3 state down service $VIP4 port 81 proto tcp" "$T/s1"
	# allow lists: a line per prefix after the service's line
	grep -qx "service add $VIP4 port 82 proto tcp sched random mode dnat persist 300" "$T/s1"
	grep -qx "allow add 198.18.0.0/24 service $VIP4 port 82 proto tcp" "$T/s1"
	grep -qx "allow add 198.18.9.0/28 service $VIP4 port 82 proto tcp" "$T/s1"
	grep -qx "service add $VIP4 port 443 proto tcp sched maglev mode fullnat snat $(e_ip4 1) maglev-size 251" "$T/s1"
	grep -qx "service add $VIP4 port 9000 proto udp sched lc mode fullnat snat ifaddr" "$T/s1"
	grep -qx "service add $VIP6 port 8443 proto tcp sched lc mode fullnat snat $(e_ip6 2) persist 60" "$T/s1"
	grep -qx "allow add 2001:db8::/64 service $VIP6 port 8443 proto tcp" "$T/s1"
	assert_eq "$(grep -c '^allow add' "$T/s1")" 3 "allowed prefixes saved"
	assert_eq "$(grep -c '^service add' "$T/s1")" 7 "services saved"
	assert_eq "$(grep -c '^endpoint add' "$T/s1")" 14 "endpoints saved"
	# Endpoints in the service's own order, not sorted (rr tables follow it).
	assert_eq "$(grep "^endpoint add .* service $VIP4 port 82 " "$T/s1" | cut -d' ' -f3 | xargs)" "$(b_ip4 2) $(b_ip4 1)" \
		"endpoints of port 82 in the order they were added"

	lbctl_l service flush
	lbctl_l conntrack timeout set tcp-est 100 udp 100 tcp-fin 100
	assert_eq "$(lbctl_l service show)" "" "services after the flush"
	run --separate-stderr lbctl_l restore file "$T/s1"
	assert_status 0
	assert_eq "$output$stderr" "" "restore prints nothing (not on a terminal)"
	lbctl_l save >"$T/s2"
	cmp "$T/s1" "$T/s2"
	assert_eq "$(lbctl_l service show)" "$show" "service show after the round trip"
	no_garbage
	# The restored set carries traffic: rr over the three backends, full NAT too.
	assert_rr_rotation "$(lb_curls 6 "http://$VIP4/")"
	before=$(lb_curl "http://$VIP4:443/")
	case $before in b1 | b3) ;; *) echo "full NAT service answered '$before'" >&2; false ;; esac

	# A second round from a live set, straight over it: the same bytes again.
	lbctl_l restore file "$T/s2"
	lbctl_l save | cmp "$T/s1" -
	no_garbage
}

@test "save -z and restore -z: a gzip stream, the same bytes; restore reads a file, '-' and stdin" {
	rich_rules
	lbctl_l save >"$T/plain"
	lbctl_l save -z >"$T/z1"
	lbctl_l save -z file "$T/z2"
	cmp "$T/z1" "$T/z2"
	assert_eq "$(od -An -tx1 -N2 "$T/z1" | xargs)" "1f 8b" "gzip magic"
	gzip -dc "$T/z1" | cmp "$T/plain" -
	# Smaller than the text.
	[ "$(stat -c %s "$T/z1")" -lt "$(stat -c %s "$T/plain")" ]

	lbctl_l service flush
	lbctl_l restore -z file "$T/z1"
	lbctl_l save | cmp "$T/plain" -
	lbctl_l service flush
	lb_ns "$NS_L" "$LBCTL" -P "$ROOT" restore -z - <"$T/z2"
	lbctl_l save -z | cmp "$T/z1" -
	lbctl_l service flush
	lb_ns "$NS_L" "$LBCTL" -P "$ROOT" restore <"$T/plain"
	lbctl_l save | cmp "$T/plain" -
	# save file FILE replaces the file whole.
	echo junk >"$T/plain2"
	lbctl_l save file "$T/plain2"
	cmp "$T/plain" "$T/plain2"
	no_garbage
}

@test "restore replaces another rule set: services not in the file are gone, new flows follow the file, an open connection keeps its endpoint" {
	# Live: http on b1 only, a second service, the echo service on b1.
	lbctl_l -b - <<-EOF
		service add $VIP4 port 80
		endpoint add $(b_ip4 1) port 8080 service $VIP4 port 80
		service add $VIP4 port 81
		endpoint add $(b_ip4 1) port 8080 service $VIP4 port 81
		service add $VIP4 port 7000
		endpoint add $(b_ip4 1) port 7000 service $VIP4 port 7000
		conntrack timeout set udp 999
	EOF
	lb_hold "$VIP4" 7000
	lb_hold_wait_lines 1
	assert_eq "$(sed -n 1p "$T/hold.out")" b1 "the held connection's endpoint"
	# The file: http on b2 and b3, IPv6 http on b3, the echo service on b2.
	cat >"$T/new" <<-EOF
		# a hand-written rule set: comments, blank lines and short keywords are fine

		service add $VIP4 port 80 sched rr
		endpoint add $(b_ip4 2) port 8080 service $VIP4 port 80
		endpoint add $(b_ip4 3) port 8080 service $VIP4 port 80
		serv a $VIP6 port 80
		end a $(b_ip6 3) po 8080 service $VIP6 port 80
		service add $VIP4 port 7000
		endpoint add $(b_ip4 2) service $VIP4 port 7000
	EOF
	lb_rules_end "$T/new"
	lbctl_l restore file "$T/new"
	run lbctl_l service show "$VIP4" port 81
	assert_status 1
	assert_eq "$(lbctl_l save | grep -c '^service add')" 3 "services after the restore"
	lbctl_l save | grep -qx "conntrack timeout set tcp-syn 60 tcp-est 7440 tcp-fin 10 udp 60"
	no_garbage
	local got w
	got=$(lb_curls 6 "http://$VIP4/")
	for w in $got; do
		case $w in b2 | b3) ;; *) echo "answer from $w after the restore: $got" >&2; false ;; esac
	done
	assert_eq "$(lb_curl "http://[$VIP6]/")" b3 "the IPv6 service of the file"
	curl_fails=0
	lb_curl "http://$VIP4:81/" --max-time 2 >/dev/null 2>&1 || curl_fails=1
	assert_eq "$curl_fails" 1 "a request to the removed service fails"
	# The connection opened before the restore still reaches b1 ...
	lb_hold_send ping
	lb_hold_wait_lines 2
	assert_eq "$(sed -n 2p "$T/hold.out")" ping "echo on the held connection"
	# ... and a new one goes to the file's endpoint.
	assert_eq "$(lb_echo_once "$VIP4" 7000)" b2 "a new echo connection"
}

# ids_stats VIP PORT: the ids and counters of a service and of its endpoints, as
# lbctl -s -j service show prints them.
ids_stats() {
	lbctl_l -s -j service show "$1" port "$2" |
		json_get '[j[0]["id"], j[0]["stats"], [[e["address"], e["id"], e["stats"]] for e in j[0]["endpoints"]]]'
}

@test "lbctl -b changes only what differs: services and endpoints it leaves alone keep ids and counters" {
	lb_service "$VIP4" 80 8080
	lbctl_l service add "$VIP4" port 81
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 81
	lbctl_l service add "$VIP4" port 82
	lb_curls 6 "http://$VIP4/" >/dev/null
	before80=$(ids_stats "$VIP4" 80)
	before81=$(ids_stats "$VIP4" 81)
	[ "$(json_get 'j[1]["packets"]' <<<"$before80")" -gt 0 ] || return 1
	lbctl_l -b - <<-EOF
		service set $VIP4 port 81 sched wrr
		endpoint add $(b_ip4 2) port 8080 weight 3 service $VIP4 port 81
		service del $VIP4 port 82
		service add $VIP4 port 83
		endpoint add $(b_ip4 3) port 8080 service $VIP4 port 83
		service del $VIP4 port 80
		service add $VIP4 port 80
		endpoint add $(b_ip4 1) port 8080 service $VIP4 port 80
		endpoint add $(b_ip4 2) port 8080 service $VIP4 port 80
		endpoint add $(b_ip4 3) port 8080 service $VIP4 port 80
		conntrack timeout set udp 90
	EOF
	# Port 80 was removed and added back as it was: no difference, no change.
	assert_eq "$(ids_stats "$VIP4" 80)" "$before80" "ids and counters of $VIP4:80"
	after81=$(ids_stats "$VIP4" 81)
	assert_eq "$(json_get 'j[0], j[2][0]' <<<"$after81")" "$(json_get 'j[0], j[2][0]' <<<"$before81")" \
		"the id of $VIP4:81 and of its endpoint kept"
	assert_eq "$(lbctl_j service show | json_get '[[s["port"], s["sched"], len(s["endpoints"])] for s in j]')" \
		'[[80, "rr", 3], [81, "wrr", 2], [83, "rr", 1]]' "the services after the batch"
	assert_eq "$(lbctl_j conntrack timeout show | json_get 'j["udp"]')" 90 "udp timeout"
	assert_eq "$(lb_curl "http://$VIP4:83/")" b3 "the new service answers"
	# A batch that changes nothing writes nothing.
	lbctl_l -b - <<<"service set $VIP4 port 81 sched wrr"
	assert_eq "$(ids_stats "$VIP4" 81)" "$after81" "a batch with no difference"
	no_garbage
}

# allow_check_lines: rule commands that give a new service an allow list and
# checks, then change its list, its checks and its endpoints' checks, and change
# the list of a service that was there ($VIP4 port 80) by a prefix each way.
allow_check_lines() {
	cat <<-EOF
		service add $VIP4 port 8081 sched wrr allow 198.18.0.0/16 198.19.0.0/24 check http /health expect 200 interval 2 rise 3
		endpoint add $(b_ip4 1) port 8080 weight 2 check tcp timeout 1 service $VIP4 port 8081
		endpoint add $(b_ip4 2) port 8080 service $VIP4 port 8081
		allow add 10.1.0.0/16 10.2.0.0/16 service $VIP4 port 8081
		allow del 198.19.0.0/24 service $VIP4 port 8081
		service set $VIP4 port 8081 check tcp fall 4
		endpoint set $(b_ip4 2) port 8080 check none service $VIP4 port 8081
		endpoint set $(b_ip4 1) port 8080 interval 5 service $VIP4 port 8081
		allow add 10.9.0.0/16 service $VIP4 port 80
		allow del 10.8.0.0/16 service $VIP4 port 80
		service add $VIP6 port 80 allow 2001:db8:1::/48 check udp ping
		allow flush service $VIP6 port 80
		allow add 2001:db8:2::/48 service $VIP6 port 80
		service set $VIP6 port 80 allow 2001:db8:3::/48 2001:db8:2::/48 check none
	EOF
}

@test "lbctl -b with allow lines and check words ends as the same lines one by one; a service it keeps keeps its id" {
	local line id80
	# three prefixes: a list read from the maps, which a batch line then grows
	lb_service "$VIP4" 80 8080 allow 10.8.0.0/16 10.7.0.0/16 10.6.0.0/16
	lbctl_l save >"$T/start"
	allow_check_lines >"$T/lines"
	while read -r line; do
		# shellcheck disable=SC2086
		lbctl_l $line
	done <"$T/lines"
	lbctl_l save >"$T/one_by_one"
	grep -q "^allow add 10.9.0.0/16 service $VIP4 port 80 " "$T/one_by_one"
	grep -q " check tcp interval 2 rise 3 fall 4$" "$T/one_by_one"

	lbctl_l restore file "$T/start"
	id80=$(lbctl_j service show "$VIP4" port 80 | json_get 'j[0]["id"]')
	lbctl_l -b "$T/lines"
	lbctl_l save | diff "$T/one_by_one" -
	assert_eq "$(lbctl_j service show "$VIP4" port 80 | json_get 'j[0]["id"]')" "$id80" \
		"the id of $VIP4:80, whose list the batch changed"
	assert_eq "$(lbctl_j allow show | json_get '[p["prefix"] for p in j if p["port"] == 80 and "." in p["vip"]]')" \
		'["10.6.0.0/16", "10.7.0.0/16", "10.9.0.0/16"]' "the allow list of $VIP4:80"
	# The same list in another order and the same checks: no difference, nothing written.
	lbmap_l dump lb_allow >"$T/allow.before"
	lbctl_l -b - <<-EOF
		service set $VIP4 port 8081 allow 10.2.0.0/16 198.18.0.0/16 10.1.0.0/16 check tcp
		allow del 10.9.0.0/16 service $VIP4 port 80
		allow add 10.9.0.0/16 service $VIP4 port 80
	EOF
	lbmap_l dump lb_allow | diff "$T/allow.before" -
	lbctl_l save | diff "$T/one_by_one" -
	# The batch's allow lists are the datapath's: the client, outside $VIP4:80's
	# list, is refused until a batch adds its prefix.
	run lb_curl "http://$VIP4/" --max-time 2
	[ "$status" -ne 0 ] || { echo "a client outside the allow list got: $output" >&2; false; }
	lbctl_l -b - <<<"allow add 198.18.0.0/15 service $VIP4 port 80"
	case $(lb_curl "http://$VIP4/") in b1 | b2 | b3) ;; *) false ;; esac
	no_garbage
}

@test "restore of a file with an error on a late line changes nothing and names the line" {
	local i
	rich_rules
	{
		for ((i = 1; i <= 100; i++)); do
			# (100 tables of the default 16381 slots would not fit the default lb_sel)
			echo "service add 198.19.1.$i port 80 sched maglev maglev-size 4093"
			echo "endpoint add $(b_ip4 1) port 8080 service 198.19.1.$i port 80"
			echo "endpoint add $(b_ip4 2) port 8080 weight 2 service 198.19.1.$i port 80"
		done
	} >"$T/body"
	cp "$T/body" "$T/good"
	lb_rules_end "$T/good"
	BEFORE=$(lb_maps_state)
	BEFORE_DETAIL=$(lb_maps_detail)
	# Line 301, the last one, is wrong in each of these ways.
	cp "$T/body" "$T/bad"; echo "service add 198.19.2.1 port 80 sched fastest" >>"$T/bad"; lb_rules_end "$T/bad"
	lb_rejected 2 "^lbctl: $T/bad:301: sched 'fastest': expected one of" restore file "$T/bad"
	cp "$T/body" "$T/bad"; echo "endpoint add $(b_ip4 1) service 198.19.2.2 port 80" >>"$T/bad"; lb_rules_end "$T/bad"
	lb_rejected 1 "^lbctl: $T/bad:301: endpoint add: no such service" restore file "$T/bad"
	cp "$T/body" "$T/bad"; echo "service add 198.19.1.7 port 80" >>"$T/bad"; lb_rules_end "$T/bad"
	lb_rejected 1 "^lbctl: $T/bad:301: service add: already exists" restore file "$T/bad"
	cp "$T/body" "$T/bad"; echo "endpoint add $(b_ip4 2) port 8080 service 198.19.1.9 port 80" >>"$T/bad"; lb_rules_end "$T/bad"
	lb_rejected 1 "^lbctl: $T/bad:301: endpoint add: already exists" restore file "$T/bad"
	cp "$T/body" "$T/bad"; echo "endpoint add $(b_ip6 2) port 8080 service 198.19.1.9 port 80" >>"$T/bad"; lb_rules_end "$T/bad"
	lb_rejected 2 "^lbctl: $T/bad:301: endpoint add: endpoint family differs" restore file "$T/bad"
	cp "$T/body" "$T/bad"; echo "service del $VIP4 port 80" >>"$T/bad"; lb_rules_end "$T/bad"
	lb_rejected 2 "^lbctl: $T/bad:301: 'service del': a rule set holds only" restore file "$T/bad"
	cp "$T/body" "$T/bad"; echo "conntrack timeout set udp 0" >>"$T/bad"; lb_rules_end "$T/bad"
	lb_rejected 2 "^lbctl: $T/bad:301: udp '0': expected a number" restore file "$T/bad"
	cp "$T/body" "$T/bad"; echo "service add 198.19.2.1 port 80 \"unbalanced" >>"$T/bad"; lb_rules_end "$T/bad"
	lb_rejected 2 "^lbctl: $T/bad:301: unbalanced quotes" restore file "$T/bad"
	# A compressed file cut short: an error, not a shorter rule set.
	gzip -c "$T/good" >"$T/good.gz"
	head -c $(($(stat -c %s "$T/good.gz") / 2)) "$T/good.gz" >"$T/cut.gz"
	lb_rejected 1 "^lbctl: restore: $T/cut.gz: corrupt compressed data" restore -z file "$T/cut.gz"
	lb_rejected 1 "^lbctl: restore: $T/missing: No such file" restore file "$T/missing"
	lb_rejected 2 "^lbctl: restore: unexpected 'bogus'" restore bogus
	# The good file goes in.
	lbctl_l restore file "$T/good"
	assert_eq "$(lbctl_l save | grep -c '^service add')" 100 "services after the good file"
}

# small_tables: the datapath again with 15 services and 63 endpoints (ids 0 mean none).
small_tables() {
	local d
	lbattach_l destroy
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		echo "attach dev $d tc ingress services 16 endpoints 64"
	done | lbattach_l -b -
}

@test "restore that does not fit beside the live rule set is refused and changes nothing" {
	local i j
	small_tables
	# Services: 10 live, 6 new.
	for ((i = 1; i <= 10; i++)); do
		echo "service add 198.19.0.$i port 80"
		echo "endpoint add $(b_ip4 1) port 8080 service 198.19.0.$i port 80"
	done >"$T/a10"
	sed 's/port 80$/port 81/' "$T/a10" | head -n 12 >"$T/b6"
	lb_rules_end "$T/a10" "$T/b6"
	lbctl_l restore file "$T/a10"
	BEFORE=$(lb_maps_state)
	BEFORE_DETAIL=$(lb_maps_detail)
	lb_rejected 1 "^lbctl: restore: the new rule set \(6 services, 6 endpoints\) does not fit beside the live one \(10, 10\) until the switch: the tables hold 15 services and 63 endpoints" \
		restore file "$T/b6"
	# Endpoints: 5 services of 10 live, 2 of 14 new.
	for ((i = 1; i <= 5; i++)); do
		echo "service add 198.19.1.$i port 80"
		for ((j = 1; j <= 10; j++)); do
			echo "endpoint add 198.18.8.$j port $((8000 + i)) service 198.19.1.$i port 80"
		done
	done >"$T/e5"
	for ((i = 1; i <= 2; i++)); do
		echo "service add 198.19.2.$i port 80"
		for ((j = 1; j <= 14; j++)); do
			echo "endpoint add 198.18.8.$j port $((8000 + i)) service 198.19.2.$i port 80"
		done
	done >"$T/e2"
	head -n 14 "$T/e2" >"$T/e1"
	lb_rules_end "$T/e5" "$T/e2" "$T/e1"
	lbctl_l restore file "$T/e5"
	BEFORE=$(lb_maps_state)
	BEFORE_DETAIL=$(lb_maps_detail)
	lb_rejected 1 "^lbctl: restore: the new rule set \(2 services, 28 endpoints\) does not fit beside the live one \(5, 50\)" \
		restore file "$T/e2"
	# A set that fits beside it exactly (50 + 13 = 63) goes in.
	lbctl_l restore file "$T/e1"
	assert_eq "$(lbctl_l save | grep -c '^endpoint add')" 13 "endpoints after the set that fits"
	no_garbage
	# And the freed room takes the set that did not fit before.
	lbctl_l restore file "$T/e2"
	assert_eq "$(lbctl_l save | grep -c '^endpoint add')" 28 "endpoints after the second set"
	no_garbage
}

@test "lbctl -b whose rule set does not fit the tables is refused whole; one that fits only after its removals goes in" {
	local i
	small_tables
	for ((i = 1; i <= 10; i++)); do
		echo "service add 198.19.0.$i port 80"
	done | lbctl_l -b -
	for ((i = 1; i <= 6; i++)); do
		echo "service add 198.19.1.$i port 80"
	done >"$T/add6"
	BEFORE=$(lb_maps_state)
	BEFORE_DETAIL=$(lb_maps_detail)
	lb_rejected 1 "^lbctl: $T/add6: nothing applied: the new rule set \(16 services, 0 endpoints\) does not fit: the tables hold 15 services" \
		-b "$T/add6"
	# The same six after removing five: 11 services, removals first.
	for ((i = 1; i <= 5; i++)); do
		echo "service del 198.19.0.$i port 80"
	done | cat - "$T/add6" >"$T/swap"
	lbctl_l -b "$T/swap"
	assert_eq "$(lbctl_j service show | json_get 'len(j)')" 11 "services after the batch"
	no_garbage
}

@test "restore under continuous traffic: no request fails, each answer from the old or the new set, after the switch only the new" {
	printf 'service add %s port 80\nendpoint add %s port 8080 service %s port 80\n' \
		"$VIP4" "$(b_ip4 1)" "$VIP4" >"$T/A"
	{
		printf 'service add %s port 80\n' "$VIP4"
		printf 'endpoint add %s port 8080 service %s port 80\n' "$(b_ip4 2)" "$VIP4" "$(b_ip4 3)" "$VIP4"
	} >"$T/B"
	lb_rules_end "$T/A" "$T/B"
	lbctl_l restore file "$T/A"
	echo 0 >"$T/phase"
	# The client: one request after the other (at most 3000), each line "PHASE ANSWER",
	# PHASE read before the request starts.
	bash -c '
		ns=$1 url=$2 dir=$3
		for ((i = 1; i <= 3000; i++)); do
			[ -e "$dir/stop" ] && break
			p=$(cat "$dir/phase")
			if r=$(nsenter --net="/run/netns/$ns" curl -sS --max-time 5 "$url" 2>>"$dir/curl.err"); then
				echo "$p $r"
			else
				echo "$p FAIL"
			fi
		done >"$dir/log"' traffic "$NS_C" "http://$VIP4/" "$T" 3>&- &
	local pid=$! phase file n
	lbt_add_pid $pid
	# wait_phase P N: until N requests started in phase P have answered (at most 20 s).
	wait_phase() {
		for _ in $(seq 200); do
			n=$(grep -c "^$1 " "$T/log" || true)
			[ "$n" -ge "$2" ] && return 0
			sleep 0.1
		done
		echo "phase $1: $n requests after 20 s" >&2
		cat "$T/log" "$T/curl.err" >&2
		return 1
	}
	wait_phase 0 10
	# Three switches: A -> B -> A -> B, each while requests run.
	for phase in 1 2 3; do
		file=B
		[ "$phase" = 2 ] && file=A
		lbctl_l restore file "$T/$file"
		# Renamed into place: the client never reads a file truncated halfway.
		echo "$phase" >"$T/phase.new" && mv "$T/phase.new" "$T/phase"
		wait_phase "$phase" 10
	done
	touch "$T/stop"
	wait "$pid"
	# No request failed; a request started in phase P (after restore P returned) was
	# answered by set P, or by the next one if the next switch came before its SYN.
	assert_eq "$(grep -c FAIL "$T/log" || true)" 0 "failed requests (of $(wc -l <"$T/log"))"
	local p a bad=0
	while read -r p a; do
		case $p:$a in
		0:b1 | 0:b2 | 0:b3 | 1:b2 | 1:b3 | 1:b1 | 2:b1 | 2:b2 | 2:b3 | 3:b2 | 3:b3) ;;
		*) echo "request in phase $p answered by '$a'" >&2; bad=1 ;;
		esac
	done <"$T/log"
	assert_eq "$bad" 0 "answers outside the set of their phase"
	# Requests of phase 1 after the first of phase 2 was sent could meet set A; those
	# of the last phase only meet B.  Every set answered in its phase.
	grep -q "^0 b1$" "$T/log"
	grep -Eq "^1 b[23]$" "$T/log"
	grep -q "^2 b1$" "$T/log"
	[ "$(grep -c "^3 " "$T/log")" -ge 10 ]
	assert_eq "$(lbctl_l save | grep -c '^endpoint add')" 2 "endpoints at the end"
	no_garbage
}

@test "the datapath and show use the live generation only; restore and service flush remove what an interrupted restore left" {
	lb_service "$VIP4" 80 8080 sched rr
	local spare
	spare=$(( $(live_gen) ^ 1 ))
	# What a restore killed half way leaves: a service of the spare generation with
	# an endpoint slot, and a slot no service lists.
	lbmap_l -b - <<-EOF
		update lb_services key vip $VIP4 port 80 proto tcp family inet gen $spare value id 900 sched rr mode dnat family inet n_eps 1 sel_off 1 noexist
		update lb_svc_eps key svc_id 900 idx 0 value 5000
		update lb_svc_eps key svc_id 901 idx 0 value 5001
		update lb_endpoints key 5000 value addr $(b_ip4 3) port 8080 family inet weight 1 svc_id 900
		update lb_endpoints key 5001 value addr $(b_ip4 3) port 8080 family inet weight 1 svc_id 901
	EOF
	# Not shown, not saved, not used by the datapath.
	assert_eq "$(lbctl_j service show | json_get 'len(j)')" 1 "services shown"
	assert_eq "$(lbctl_l save | grep -c '^service add')" 1 "services saved"
	assert_rr_rotation "$(lb_curls 6 "http://$VIP4/")"
	lbctl_l save >"$T/s"
	lbctl_l restore file "$T/s"
	no_garbage
	assert_eq "$(lbmap_l dump lb_services | grep -c ' value id 900 ' || true)" 0 "service 900 after the restore"
	assert_eq "$(lbmap_l lookup lb_endpoints 5000)" "key 5000 value addr 0.0.0.0 port 0 family 0 status up weight 0 flags 0 svc_id 0" "slot 5000"
	assert_eq "$(lbmap_l lookup lb_endpoints 5001)" "key 5001 value addr 0.0.0.0 port 0 family 0 status up weight 0 flags 0 svc_id 0" "slot 5001"
	assert_rr_rotation "$(lb_curls 6 "http://$VIP4/")"
	# The same garbage again; service flush removes it with the rest.
	spare=$(( $(live_gen) ^ 1 ))
	lbmap_l -b - <<-EOF
		update lb_services key vip $VIP4 port 80 proto tcp family inet gen $spare value id 900 sched rr mode dnat family inet n_eps 1 sel_off 1 noexist
		update lb_svc_eps key svc_id 900 idx 0 value 5000
		update lb_svc_eps key svc_id 901 idx 0 value 5001
		update lb_endpoints key 5000 value addr $(b_ip4 3) port 8080 family inet weight 1 svc_id 900
		update lb_endpoints key 5001 value addr $(b_ip4 3) port 8080 family inet weight 1 svc_id 901
	EOF
	lbctl_l service flush
	assert_eq "$(lbmap_l dump lb_services | grep -c '^key' || true)" 0 "lb_services entries after the flush"
	assert_eq "$(lbmap_l dump lb_endpoints | grep -vc ' svc_id 0$' || true)" 0 "endpoint slots in use after the flush"
	assert_eq "$(lbmap_l dump lb_svc_eps | grep -c '^key' || true)" 0 "endpoint lists after the flush"
}

@test "restore shows progress on a terminal only" {
	local i out
	for ((i = 1; i <= 50; i++)); do
		echo "service add 198.19.3.$i port 80"
		echo "endpoint add $(b_ip4 1) port 8080 service 198.19.3.$i port 80"
	done >"$T/f"
	lb_rules_end "$T/f"
	lbctl_l restore file "$T/f"
	# A pipe: nothing at all, twice (the second one also removes the old set).
	out=$(lbctl_l restore file "$T/f" 2>&1 | cat)
	assert_eq "$out" "" "output of restore into a pipe"
	# A terminal (script gives the command a pty for stdin, stdout and stderr).
	out=$(script -qec "nsenter --net=/run/netns/$NS_L $LBCTL -P $ROOT restore file $T/f" /dev/null)
	grep -q "restore: 50/50 services" <<<"$out" || {
		echo "no progress on the terminal: $(od -c <<<"$out" | head -20)" >&2
		false
	}
	grep -q "removing the old set: 50/50 services" <<<"$out"
	assert_eq "$(lbctl_l save | grep -c '^service add')" 50 "services after the restore"
}

@test "restore refuses empty, comment-only and cut files, changing nothing; '# end 0 rules' empties on purpose" {
	rich_rules
	lbctl_l save >"$T/full"
	BEFORE=$(lb_maps_state)
	BEFORE_DETAIL=$(lb_maps_detail)
	local msg="no '# end N rules' line: the file is empty or cut short"
	lb_rejected 1 "^lbctl: /dev/null: $msg" restore file /dev/null
	echo "# only a comment" >"$T/comment"
	lb_rejected 1 "^lbctl: $T/comment: $msg" restore file "$T/comment"
	# stdin: empty, and a comment only
	run --separate-stderr lb_ns "$NS_L" "$LBCTL" -P "$ROOT" restore </dev/null
	assert_status 1
	assert_err_line lbctl "<stdin>: $msg"
	run --separate-stderr lb_ns "$NS_L" "$LBCTL" -P "$ROOT" restore <"$T/comment"
	assert_status 1
	assert_err_line lbctl "<stdin>: $msg"
	# The saved file cut at 25 random bytes (never its whole length): all refused.
	local size cut cuts applied
	size=$(stat -c %s "$T/full")
	applied=$(for cuts in $(seq 25); do
		cut=$(((RANDOM * 32768 + RANDOM) % (size - 1)))
		head -c "$cut" "$T/full" >"$T/cut.$cuts"
		nsenter --net="/run/netns/$NS_L" "$LBCTL" -P "$ROOT" restore file "$T/cut.$cuts" \
			2>/dev/null && echo "cut at byte $cut of $size"
	done; true)
	assert_eq "$applied" "" "cut files applied"
	assert_eq "$(lb_maps_state)" "$BEFORE" "the maps after the refused files"
	# The whole file goes in; an empty set must be said.
	lbctl_l restore file "$T/full"
	assert_eq "$(lbctl_l save)" "$(cat "$T/full")" "the rule set"
	echo "# end 0 rules" | lb_ns "$NS_L" "$LBCTL" -P "$ROOT" restore
	assert_eq "$(lbctl_l save | grep -vc '^#')" 1 "lines after restoring the empty set (the timeouts)"
	assert_eq "$(lbctl_l save | tail -1)" "# end 1 rules" "the end line of an empty set"
}
