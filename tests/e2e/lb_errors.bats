#!/usr/bin/env bats
# Bad input for the load-balancing commands of lbctl: exactly one line on stderr
# "lbctl: what: why", the documented exit status (2 usage error, 1 the command
# failed), nothing on stdout, and every map as it was: services and endpoints
# (lbctl -j service show), conntrack (lbctl -j conntrack show, without the entries'
# ages), and the raw lb_services, lb_endpoints and lb_config maps (bpftool).

load lb_helpers

setup() {
	lb_setup udp
	# Something to protect: three services with endpoints, a full NAT one, and a live
	# UDP flow in conntrack (its timeout long enough to outlive the test).
	lb_service "$VIP4" 80 8080
	lb_service "$VIP4" 9000 9000 proto udp
	lb_service "$VIP6" 80 8080 sched maglev
	lbctl_l service add "$VIP4" port 443 mode fullnat snat "$(e_ip4 1)"
	lbctl_l endpoint add "$(b_ip4 1)" port 8443 weight 5 service "$VIP4" port 443
	lbctl_l conntrack timeout set udp 3600
	lb_udp_py "$VIP4" 9000 >/dev/null
	assert_eq "$(lb_ct_flows)" 1 "flows before"
	BEFORE=$(lb_maps_state)
	BEFORE_DETAIL=$(lb_maps_detail)
}

teardown() {
	lb_teardown
}

# rejected STATUS REGEX ARGS...: "lbctl ARGS" in the LB namespace exits STATUS,
# prints nothing on stdout and one line on stderr matching REGEX (starting with
# "lbctl: "), and changes nothing (lb_rejected in lb_helpers.bash).
rejected() {
	lb_rejected "$@"
}

# unchanged WHAT: the maps are as they were before WHAT, else show the difference.
unchanged() {
	local after
	after=$(lb_maps_state)
	if [ "$after" != "$BEFORE" ]; then
		echo "'$1' changed the maps:" >&2
		diff <(echo "$BEFORE") <(echo "$after") >&2 || true
		diff <(echo "$BEFORE_DETAIL") <(lb_maps_detail) >&2 || true
		return 1
	fi
}

@test "service: bad input exits 2, duplicate or missing service exits 1, nothing changes" {
	rejected 2 "^lbctl: .*'198\.19\.0\.999'.*not an IPv4 or IPv6 address" \
		service add 198.19.0.999 port 80
	rejected 2 "^lbctl: .*'2001:db8::ffff::1'" service add 2001:db8::ffff::1 port 80
	rejected 2 "^lbctl: (.*: )?port '0': expected a number from 1 to 65535\$" service add "$VIP4" port 0
	rejected 2 "^lbctl: (.*: )?port '70000': expected a number from 1 to 65535\$" \
		service add "$VIP4" port 70000
	rejected 2 "^lbctl: (.*: )?port 'http'" service add "$VIP4" port http
	rejected 2 "^lbctl: .*missing 'port N'" service add "$VIP4"
	rejected 2 "^lbctl: (.*: )?proto 'sctp'" service add "$VIP4" port 81 proto sctp
	rejected 2 "^lbctl: (.*: )?sched 'foo': expected one of rr, wrr, random, hash, maglev, lc\$" \
		service add "$VIP4" port 81 sched foo
	rejected 2 "^lbctl: (.*: )?mode 'bogus': expected dnat or fullnat\$" \
		service add "$VIP4" port 81 mode bogus
	rejected 2 "^lbctl: (.*: )?snat: only with mode fullnat\$" \
		service add "$VIP4" port 81 snat "$(e_ip4 1)"
	rejected 2 "^lbctl: (.*: )?snat: only with mode fullnat\$" \
		service add "$VIP4" port 81 mode dnat snat "$(e_ip4 1)"
	rejected 2 "^lbctl: (.*: )?snat 2001:db8::5: not of the service's family\$" \
		service add "$VIP4" port 81 mode fullnat snat 2001:db8::5
	rejected 2 "^lbctl: (.*: )?maglev-size 100: not a prime\$" \
		service add "$VIP4" port 81 sched maglev maglev-size 100
	rejected 2 "^lbctl: (.*: )?allow 2001:db8::/32: not of the service's family\$" \
		service add "$VIP4" port 81 allow 2001:db8::/32
	rejected 2 "^lbctl: (.*: )?keyword 'bogus'" service add "$VIP4" port 81 bogus 1
	rejected 2 "^lbctl: (.*: )?sched: missing value\$" service add "$VIP4" port 81 sched
	# Refused (exit 1): duplicate, missing service.
	rejected 1 "^lbctl: (.*: )?service add: already exists\$" service add "$VIP4" port 80
	rejected 1 "^lbctl: (.*: )?service add: already exists\$" service add "$VIP4" port 80 sched wrr
	rejected 1 "^lbctl: (.*: )?service add: already exists\$" service add "$VIP6" port 80
	rejected 1 "^lbctl: (.*: )?service del: no such service\$" service del "$VIP4" port 81
	rejected 1 "^lbctl: (.*: )?service del: no such service\$" service del "$VIP4" port 80 proto udp
	rejected 1 "^lbctl: (.*: )?service del: no such service\$" service del 198.19.0.11 port 80
	rejected 1 "^lbctl: (.*: )?service set: no such service\$" service set "$VIP4" port 81 sched rr
	rejected 1 "^lbctl: (.*: )?service show: no such service\$" service show "$VIP4" port 81
	rejected 2 "^lbctl: (.*: )?port '0'" service del "$VIP4" port 0
	rejected 2 "^lbctl: .*'198\.19\.0\.999'" service del 198.19.0.999 port 80
	rejected 2 "^lbctl: (.*: )?service del: unexpected 'sched'" service del "$VIP4" port 80 sched rr
	rejected 2 "^lbctl: (.*: )?sched 'foo'" service set "$VIP4" port 80 sched foo
	rejected 2 "^lbctl: (.*: )?snat: only with mode fullnat\$" service set "$VIP4" port 80 snat "$(e_ip4 1)"
	rejected 2 "^lbctl: (.*: )?mode 'x'" service set "$VIP4" port 443 mode x
	rejected 2 "^lbctl: (.*: )?port '70000'" service show "$VIP4" port 70000
	rejected 2 "^lbctl: (.*: )?service flush: unexpected 'now'" service flush now
	rejected 2 "^lbctl: (.*: )?command 'bogus'" service bogus
}

@test "endpoint: wrong family, no service keyword, bad values exit 2; missing or duplicate exit 1" {
	rejected 2 "^lbctl: (.*: )?endpoint add: .*family" \
		endpoint add "$(b_ip6 1)" port 8080 service "$VIP4" port 80
	rejected 2 "^lbctl: (.*: )?endpoint add: .*family" \
		endpoint add "$(b_ip4 1)" port 9999 service "$VIP6" port 80
	rejected 2 "^lbctl: (.*: )?endpoint add: missing 'service VIP port N'\$" \
		endpoint add "$(b_ip4 1)" port 8080
	rejected 2 "^lbctl: (.*: )?keyword '198\.19\.0\.10'" \
		endpoint add "$(b_ip4 1)" port 8080 "$VIP4" port 80
	rejected 2 "^lbctl: (.*: )?endpoint add: missing endpoint address\$" endpoint add
	rejected 2 "^lbctl: .*missing 'port N'" endpoint add "$(b_ip4 1)" service "$VIP4"
	rejected 2 "^lbctl: .*'198\.18\.1\.999'" endpoint add 198.18.1.999 service "$VIP4" port 80
	rejected 2 "^lbctl: (.*: )?port '0'" endpoint add "$(b_ip4 1)" port 0 service "$VIP4" port 80
	rejected 2 "^lbctl: (.*: )?port '70000'" endpoint add "$(b_ip4 1)" port 70000 service "$VIP4" port 80
	rejected 2 "^lbctl: (.*: )?port '0'" endpoint add "$(b_ip4 1)" port 8081 service "$VIP4" port 0
	rejected 2 "^lbctl: (.*: )?weight '70000': expected a number from 0 to 65535\$" \
		endpoint add "$(b_ip4 1)" port 8081 weight 70000 service "$VIP4" port 80
	rejected 2 "^lbctl: (.*: )?state 'bogus': expected up, drain or down\$" \
		endpoint set "$(b_ip4 1)" port 8080 state bogus service "$VIP4" port 80
	rejected 2 "^lbctl: (.*: )?endpoint set: missing 'service VIP port N'\$" \
		endpoint set "$(b_ip4 1)" port 8080 state drain
	rejected 2 "^lbctl: (.*: )?endpoint del: missing 'service VIP port N'\$" \
		endpoint del "$(b_ip4 1)" port 8080
	rejected 2 "^lbctl: (.*: )?endpoint del: unexpected 'weight'" \
		endpoint del "$(b_ip4 1)" port 8080 service "$VIP4" port 80 weight 1
	rejected 2 "^lbctl: (.*: )?endpoint show: expected 'service VIP port N'\$" endpoint show bogus
	rejected 2 "^lbctl: (.*: )?command 'bogus'" endpoint bogus
	# Refused (exit 1): missing service or endpoint, duplicate.
	rejected 1 "^lbctl: (.*: )?endpoint add: no such service\$" \
		endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 81
	rejected 1 "^lbctl: (.*: )?endpoint add: no such service\$" \
		endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 80 proto udp
	rejected 1 "^lbctl: (.*: )?endpoint add: already exists\$" \
		endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 80
	rejected 1 "^lbctl: (.*: )?endpoint del: no such endpoint" \
		endpoint del 198.18.1.9 port 8080 service "$VIP4" port 80
	rejected 1 "^lbctl: (.*: )?endpoint del: no such endpoint" \
		endpoint del "$(b_ip4 1)" port 8081 service "$VIP4" port 80
	rejected 1 "^lbctl: (.*: )?endpoint del: no such service\$" \
		endpoint del "$(b_ip4 1)" port 8080 service "$VIP4" port 81
	rejected 1 "^lbctl: (.*: )?endpoint set: no such endpoint" \
		endpoint set 198.18.1.9 port 8080 state drain service "$VIP4" port 80
	rejected 1 "^lbctl: (.*: )?endpoint set: no such service\$" \
		endpoint set "$(b_ip4 1)" port 8080 state drain service "$VIP4" port 81
}

@test "VIPs and endpoints that are not one host's unicast address: exit 2, also in a restore" {
	local a
	for a in 0.0.0.0 127.0.0.1 255.255.255.255 224.0.0.1 239.1.2.3; do
		rejected 2 "^lbctl: service add: VIP ${a//./\\.} is (an?|the) [a-z4-]+ address\$" \
			service add "$a" port 80
		rejected 2 "^lbctl: endpoint add: endpoint ${a//./\\.} is (an?|the) [a-z4-]+ address\$" \
			endpoint add "$a" port 8080 service "$VIP4" port 80
	done
	for a in :: ::1 ff02::1 ff05::2 ::ffff:198.18.0.1; do
		rejected 2 "^lbctl: service add: VIP $a is an? [a-zA-Z4-]+ address\$" service add "$a" port 80
		rejected 2 "^lbctl: endpoint add: endpoint $a is an? [a-zA-Z4-]+ address\$" \
			endpoint add "$a" port 8080 service "$VIP6" port 80
	done
	# A saved file naming one is refused as a whole, with its line.
	{ lbctl_l save | grep -v '^# end'; echo "service add 224.0.0.9 port 80"; } >"$T/bad.rules"
	lb_rules_end "$T/bad.rules"
	rejected 2 "^lbctl: .*bad\.rules:[0-9]+: .*VIP 224\.0\.0\.9 is a multicast address\$" \
		restore file "$T/bad.rules"
}

@test "a keyword twice, words after a complete command: exit 2, nothing changes" {
	# Accepted once, the last port winning (an endpoint on port 8081 was added).
	rejected 2 "^lbctl: endpoint add: port: given twice\$" \
		endpoint add "$(b_ip4 2)" port 8080 port 8081 service "$VIP4" port 80
	rejected 2 "^lbctl: endpoint set: weight: given twice\$" \
		endpoint set "$(b_ip4 1)" port 8080 weight 2 weight 3 service "$VIP4" port 80
	rejected 2 "^lbctl: port: given twice\$" service add "$VIP4" port 81 port 82
	rejected 2 "^lbctl: sched: given twice\$" service add "$VIP4" port 81 sched rr sched wrr
	rejected 2 "^lbctl: udp: given twice\$" conntrack timeout set udp 5 udp 6
	rejected 2 "^lbctl: conntrack timeout show: unexpected 'x'\$" conntrack timeout show x
	rejected 2 "^lbctl: address: given twice\$" \
		conntrack delete address "$(b_ip4 1)" address "$(b_ip4 2)"
	assert_eq "$(lbctl_l conntrack timeout show)" "$(lbctl_l conntrack timeout)" "timeout show"
}

@test "endpoint show of a missing service: exit 1, like service show" {
	rejected 1 "^lbctl: .*no such service" endpoint show service "$VIP4" port 81
}

@test "endpoint show with words after the service: exit 2, like service show" {
	rejected 2 "^lbctl: .*'bogus'" endpoint show service "$VIP4" port 80 bogus
}

@test "conntrack: bad filters and timeouts: exit 2; missing service: exit 1" {
	rejected 2 "^lbctl: (.*: )?conntrack delete: name what" conntrack delete
	rejected 2 "^lbctl: (.*: )?address '198\.18\.0\.999': not an address\$" \
		conntrack show address 198.18.0.999
	rejected 2 "^lbctl: (.*: )?endpoint 'x': not an address\$" conntrack delete endpoint x
	rejected 2 "^lbctl: (.*: )?address: missing address\$" conntrack count address
	rejected 2 "^lbctl: (.*: )?filter 'bogus'" conntrack show bogus
	rejected 2 "^lbctl: (.*: )?filter 'bogus'" conntrack flush bogus
	rejected 2 "^lbctl: (.*: )?port '0'" conntrack delete service "$VIP4" port 0
	rejected 1 "^lbctl: (.*: )?conntrack: service: no such service\$" \
		conntrack show service "$VIP4" port 81
	rejected 1 "^lbctl: (.*: )?conntrack: service: no such service\$" \
		conntrack count service "$VIP4" port 81
	rejected 1 "^lbctl: (.*: )?conntrack: service: no such service\$" \
		conntrack delete service "$VIP4" port 81
	rejected 1 "^lbctl: (.*: )?conntrack: service: no such service\$" \
		conntrack flush service "$VIP4" port 81
	rejected 2 "^lbctl: (.*: )?udp '0': expected a number from 1 to 2592000\$" \
		conntrack timeout set udp 0
	rejected 2 "^lbctl: (.*: )?udp '2592001': expected a number from 1 to 2592000\$" \
		conntrack timeout set udp 2592001
	rejected 2 "^lbctl: (.*: )?timeout 'bogus'" conntrack timeout set bogus 5
	# All or nothing: a bad pair after a good one changes nothing either.
	rejected 2 "^lbctl: (.*: )?timeout 'bogus'" conntrack timeout set udp 5 bogus 5
	rejected 2 "^lbctl: (.*: )?tcp-est '-1'" conntrack timeout set udp 5 tcp-est -1
	rejected 2 "^lbctl: (.*: )?conntrack timeout set: expected NAME SECONDS pairs\$" \
		conntrack timeout set udp
	rejected 2 "^lbctl: conntrack timeout.*'?bogus'?.*expected show or set" conntrack timeout bogus
	rejected 2 "^lbctl: (.*: )?command 'bogus'" conntrack bogus
}

@test "with -j: the error also as {\"error\": ...} on stdout, same exit status" {
	local c
	for c in "1|service add $VIP4 port 80" "2|service add $VIP4 port 0" \
		"1|endpoint del 198.18.1.9 port 8080 service $VIP4 port 80" \
		"2|endpoint add $(b_ip6 1) service $VIP4 port 80"; do
		# shellcheck disable=SC2086
		run --separate-stderr lbctl_l -j ${c#*|}
		assert_status "${c%%|*}"
		assert_err_line lbctl "^lbctl: "
		assert_eq "$(json_get 'sorted(j.keys())' <<<"$output")" '["error"]' "JSON keys of '$output'"
		assert_eq "lbctl: $(json_get 'j["error"]' <<<"$output")" "${stderr_lines[0]}" \
			"JSON error and stderr"
		unchanged "lbctl -j ${c#*|}"
	done
}

# batch_with LAST: a batch of good lines touching several services, endpoints and
# the timeouts, then LAST, into $T/batch.
batch_with() {
	cat >"$T/batch" <<-EOF
		service add $VIP4 port 8081 sched wrr
		endpoint add $(b_ip4 1) port 8080 weight 2 service $VIP4 port 8081
		endpoint set $(b_ip4 2) port 8080 weight 7 state drain service $VIP4 port 80
		endpoint del $(b_ip4 3) port 8080 service $VIP4 port 80
		service del $VIP6 port 80
		service set $VIP4 port 443 persist 30
		conntrack timeout set udp 77 tcp-est 999

		$1
	EOF
}

@test "lbctl -b: a bad line after good ones changes nothing and names FILE:LINE; a line sees the lines before it" {
	local f="$T/batch"
	batch_with "endpoint add $(b_ip4 2) port 8080 service $VIP4 port 9999"
	rejected 1 "^lbctl: $f:9: endpoint add: no such service\$" -b "$f"
	batch_with "service add $VIP4 port 8082 sched bogus"
	rejected 2 "^lbctl: $f:9: sched 'bogus': expected one of" -b "$f"
	batch_with "service add $VIP4 port 8081"
	rejected 1 "^lbctl: $f:9: service add: already exists\$" -b "$f"
	batch_with "endpoint add $(b_ip4 1) port 8080 service $VIP4 port 8081"
	rejected 1 "^lbctl: $f:9: endpoint add: already exists\$" -b "$f"
	batch_with "endpoint set $(b_ip4 3) port 8080 weight 1 service $VIP4 port 80"
	rejected 1 "^lbctl: $f:9: endpoint set: no such endpoint in the service\$" -b "$f"
	batch_with "endpoint add $(b_ip6 1) port 8080 service $VIP6 port 80"
	rejected 1 "^lbctl: $f:9: endpoint add: no such service\$" -b "$f"
	batch_with "endpoint add $(b_ip6 1) port 8080 service $VIP4 port 8081"
	rejected 2 "^lbctl: $f:9: endpoint add: .*family" -b "$f"
	batch_with "service 'unbalanced"
	rejected 2 "^lbctl: $f:9: unbalanced quotes" -b "$f"
	# Lines that are no rule change: refused in a batch, before anything is written.
	batch_with "service show"
	rejected 2 "^lbctl: $f:9: 'service show': not a rule change" -b "$f"
	batch_with "conntrack flush"
	rejected 2 "^lbctl: $f:9: 'conntrack flush': not a rule change" -b "$f"
	batch_with "stats reset"
	rejected 2 "^lbctl: $f:9: 'stats reset': not a rule change" -b "$f"
	batch_with "restore file $f"
	rejected 2 "^lbctl: $f:9: 'restore file': not a rule change" -b "$f"
	# The same from stdin, named <stdin>.
	batch_with "service del $VIP6 port 80"
	run --separate-stderr lbctl_l -b - <"$f"
	assert_status 1
	assert_err_line lbctl "^lbctl: <stdin>:9: service del: no such service\$"
	unchanged "lbctl -b - (a bad line 9)"

	# Each line sees the staged set: what an earlier line removed can come back.
	batch_with "service add $VIP6 port 80 sched lc"
	lbctl_l -b "$f"
	assert_eq "$(lbctl_j service show "$VIP6" port 80 | json_get '[j[0]["sched"], len(j[0]["endpoints"])]')" \
		'["lc", 0]' "the service deleted, then added again"
	assert_eq "$(lbctl_j service show "$VIP4" port 80 | json_get '[(e["address"], e["weight"], e["state"]) for e in j[0]["endpoints"]]')" \
		'[["198.18.1.2", 1, "up"], ["198.18.2.2", 7, "drain"]]' "endpoints of $VIP4 port 80"
	assert_eq "$(lbctl_j conntrack timeout show | json_get '[j["udp"], j["tcp-est"]]')" '[77, 999]' "timeouts"
}

@test "lbctl -force -b: each line alone, as before: the good lines apply, the bad ones are named" {
	batch_with "endpoint add $(b_ip4 2) port 8080 service $VIP4 port 9999"
	echo "service add $VIP4 port 8083" >>"$T/batch"
	run --separate-stderr lbctl_l -force -b "$T/batch"
	assert_status 1
	assert_err_line lbctl "^lbctl: $T/batch:9: endpoint add: no such service\$"
	assert_eq "$(lbctl_j service show | json_get 'sorted(s["port"] for s in j)')" \
		'[80, 443, 8081, 8083, 9000]' "the services after the good lines"
}

@test "lbctl -b: a bad allow line or check word after good ones changes nothing and names FILE:LINE" {
	local f="$T/batch"
	# batch_with's good lines, then an allow list and checks staged on lines 9 and 10
	allow_with() {
		batch_with "allow add 10.1.0.0/16 10.2.0.0/16 service $VIP4 port 8081"
		printf '%s\n' "service set $VIP4 port 80 allow 10.3.0.0/16 check tcp interval 2" "$1" >>"$f"
	}
	allow_with "allow add 10.1.0.0/16 service $VIP4 port 8081"
	rejected 1 "^lbctl: $f:11: allow add: allow 10.1.0.0/16: already in the list\$" -b "$f"
	allow_with "allow del 10.4.0.0/16 service $VIP4 port 80"
	rejected 1 "^lbctl: $f:11: allow del: allow 10.4.0.0/16: not in the list\$" -b "$f"
	allow_with "allow add 10.5.0.0/16 10.5.0.0/16 service $VIP4 port 80"
	rejected 2 "^lbctl: $f:11: allow add: allow 10.5.0.0/16: listed twice\$" -b "$f"
	allow_with "allow add 2001:db8:9::/48 service $VIP4 port 80"
	rejected 2 "^lbctl: $f:11: allow 2001:db8:9::/48: not of the service's family\$" -b "$f"
	allow_with "allow flush service $VIP6 port 80"
	rejected 1 "^lbctl: $f:11: allow flush: no such service\$" -b "$f"
	allow_with "allow show"
	rejected 2 "^lbctl: $f:11: 'allow show': not a rule change" -b "$f"
	allow_with "endpoint set $(b_ip4 2) port 8080 check http nope service $VIP4 port 80"
	rejected 2 "^lbctl: $f:11: check http 'nope': a path from /" -b "$f"
	allow_with "endpoint add $(b_ip4 3) port 8081 timeout 100 service $VIP4 port 8081"
	rejected 2 "^lbctl: $f:11: timeout '100': expected seconds" -b "$f"
	allow_with "service set $VIP4 port 443 check udp"
	rejected 2 "^lbctl: $f:11: check udp: missing PAYLOAD$" -b "$f"
	allow_with "health check now"
	rejected 2 "^lbctl: $f:11: 'health check': not a rule change" -b "$f"

	# Good: the lists and checks staged on the lines before apply with the rest.
	allow_with "allow del 10.2.0.0/16 service $VIP4 port 8081"
	lbctl_l -b "$f"
	assert_eq "$(lbctl_j allow show | json_get '[[p["port"], p["prefix"]] for p in j]')" \
		'[[80, "10.3.0.0/16"], [8081, "10.1.0.0/16"]]' "the allow lists after the batch"
	lbctl_l save | grep -q "^service add $VIP4 port 80 .* check tcp interval 2\$"
}
