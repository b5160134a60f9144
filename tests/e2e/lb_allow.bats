#!/usr/bin/env bats
# Allow lists of any size (lb_allow, an LPM trie keyed by service id and source
# prefix): real connections decided at both ends of a list of 10,000 prefixes,
# changes without rewriting the service, save and restore, bad input.

load lb_helpers

N_ALLOW=10000

teardown() {
	lb_teardown
}

# fillers N: N /32 prefixes in 198.18.128.0/17, where no test address lives.
fillers() {
	local i
	for ((i = 0; i < $1; i++)); do
		echo "198.18.$((128 + i / 256)).$((i % 256))/32"
	done
}

drops_not_allowed() {
	lbctl_j stats drops | json_get 'j["not-allowed"]["packets"]'
}

# entries: how many entries lb_allow holds, every service and generation together.
entries() {
	bpftool -j map dump pinned "$ROOT/maps/lb_allow" | json_get 'len(j)'
}

# curl_from ADDR: one request to VIP4:80 from the client's address ADDR.
curl_from() {
	lb_curl "http://$VIP4/" --interface "$1" --connect-timeout 2
}

@test "10,000 prefixes: sources at the first and the last prefix get through, one outside is refused and counted" {
	lb_setup http
	lb_service "$VIP4" 80 8080
	# Two more client addresses on the client's subnet: the last prefix, and outside.
	lb_ns "$NS_C" ip addr add 198.18.0.2/24 dev "$DEV_C"
	lb_ns "$NS_C" ip addr add 198.18.0.3/24 dev "$DEV_C"
	# The first prefix holds the client's own address, the last 198.18.0.2.
	# shellcheck disable=SC2046
	lbctl_l allow add "$C4/32" $(fillers $((N_ALLOW - 2))) 198.18.0.2/32 service "$VIP4" port 80
	assert_eq "$(lbctl_j service show "$VIP4" port 80 | json_get 'len(j[0]["allow"])')" "$N_ALLOW" \
		"prefixes in service show -j"
	assert_eq "$(lbctl_l allow show service "$VIP4" port 80 | wc -l)" "$N_ALLOW" "allow show lines"
	assert_eq "$(entries)" "$N_ALLOW" "lb_allow entries"
	# Text keeps the line short; -d shows all.
	[[ $(lbctl_l service show) == *" allow $C4/32 "*"(9992 more: -d, or lbctl allow show)"* ]]
	assert_eq "$(lbctl_l -d service show | head -1 | grep -o ' [0-9.]*/32' | wc -l)" "$N_ALLOW" \
		"prefixes on the line of service show -d"

	local before
	before=$(drops_not_allowed)
	curl_from "$C4" >/dev/null
	curl_from 198.18.0.2 >/dev/null
	assert_eq "$(drops_not_allowed)" "$before" "not-allowed drops after the allowed sources"
	if curl_from 198.18.0.3 >/dev/null 2>&1; then
		echo "a source outside 10,000 prefixes got through" >&2
		false
	fi
	if [ "$(drops_not_allowed)" -le "$before" ]; then
		echo "the refused connection was not counted as not-allowed" >&2
		false
	fi
	# The service itself counted the allowed flows.
	assert_eq "$(lbctl_j -s service show "$VIP4" port 80 | json_get 'j[0]["stats"]["flows"]')" 2 \
		"flows of the service"
}

@test "allow add, del, flush change the list without rewriting the service: id, counters, endpoints stay" {
	lb_setup http
	lb_service "$VIP4" 80 8080
	lb_curl "http://$VIP4/" >/dev/null
	local svc
	svc=$(lbctl_j -s service show "$VIP4" port 80 | json_get '[j[0]["id"], j[0]["stats"]["flows"], len(j[0]["endpoints"])]')

	lbctl_l allow add 198.18.5.0/24 2001:db8::/32 service "$VIP4" port 80 2>/dev/null && false
	lbctl_l allow add 198.18.5.0/24 198.18.0.0/16 service "$VIP4" port 80
	assert_eq "$(lbctl_l allow show)" "tcp $VIP4:80 allow 198.18.0.0/16
tcp $VIP4:80 allow 198.18.5.0/24" "allow show"
	assert_eq "$(lbctl_j -s service show "$VIP4" port 80 | json_get '[j[0]["id"], j[0]["stats"]["flows"], len(j[0]["endpoints"])]')" \
		"$svc" "id, flows, endpoints after allow add"
	lb_curl "http://$VIP4/" >/dev/null	# C4 is inside 198.18.0.0/16

	# The client's prefix goes: refused; back with a /32 of its own: allowed.
	lbctl_l allow del 198.18.0.0/16 service "$VIP4" port 80
	if lb_curl "http://$VIP4/" --connect-timeout 2 >/dev/null 2>&1; then
		echo "a source outside the list got through" >&2
		false
	fi
	lbctl_l allow add "$C4/32" service "$VIP4" port 80
	lb_curl "http://$VIP4/" >/dev/null
	assert_eq "$(lbctl_j service show | json_get 'j[0]["allow"]')" "[\"$C4/32\", \"198.18.5.0/24\"]" \
		"the list in service show -j"
	# service set with allow replaces the list, without it keeps the list.
	lbctl_l service set "$VIP4" port 80 allow 198.18.5.0/24 allow 198.18.7.0/24
	assert_eq "$(lbctl_j service show | json_get 'j[0]["allow"]')" '["198.18.5.0/24", "198.18.7.0/24"]' \
		"the list after service set ... allow"
	lbctl_l service set "$VIP4" port 80 sched wrr
	assert_eq "$(lbctl_j service show | json_get '[j[0]["sched"], j[0]["allow"]]')" \
		'["wrr", ["198.18.5.0/24", "198.18.7.0/24"]]' "the list after service set without allow"
	assert_eq "$(entries)" 2 "lb_allow entries after service set"
	lbctl_l allow add "$C4/32" service "$VIP4" port 80
	# flush: every source again, as a service without a list.
	lbctl_l allow flush service "$VIP4" port 80
	assert_eq "$(lbctl_l allow show)" "" "allow show after flush"
	assert_eq "$(entries)" 0 "lb_allow entries after flush"
	lbctl_l allow add 198.18.9.0/24 service "$VIP4" port 80
	lbctl_l allow del 198.18.9.0/24 service "$VIP4" port 80
	lb_curl "http://$VIP4/" >/dev/null
	assert_eq "$(lbctl_j service show "$VIP4" port 80 | json_get '[j[0]["id"], len(j[0]["endpoints"])]')" \
		"$(json_get '[j[0], j[2]]' <<<"$svc")" "id and endpoints at the end"
	# service del takes the service's entries along.
	lbctl_l allow add 198.18.9.0/24 service "$VIP4" port 80
	lbctl_l service del "$VIP4" port 80
	assert_eq "$(entries)" 0 "lb_allow entries after service del"
}

@test "save and restore carry 10,000 prefixes: the same bytes, no entry of the old ids left" {
	lb_setup http
	lb_service "$VIP4" 80 8080
	lbctl_l service add "$VIP6" port 80 allow 2001:db8::/64 allow 2001:db8:5::/48
	# shellcheck disable=SC2046
	lbctl_l allow add $(fillers "$N_ALLOW") service "$VIP4" port 80
	lbctl_l save >"$T/s1"
	assert_eq "$(grep -c "^allow add .* service $VIP4 port 80 proto tcp\$" "$T/s1")" "$N_ALLOW" \
		"allow lines of the IPv4 service"
	grep -qx "allow add 2001:db8:5::/48 service $VIP6 port 80 proto tcp" "$T/s1"
	lbctl_l service flush
	assert_eq "$(entries)" 0 "lb_allow entries after service flush"
	lbctl_l restore file "$T/s1"
	lbctl_l save | cmp "$T/s1" -
	assert_eq "$(entries)" "$((N_ALLOW + 2))" "lb_allow entries after restore"
	# Over the live set (new ids, the old ones' entries removed after the switch).
	lbctl_l restore file "$T/s1"
	lbctl_l save | cmp "$T/s1" -
	assert_eq "$(entries)" "$((N_ALLOW + 2))" "lb_allow entries after a second restore"
	# The restored list decides: C4 is in none of the fillers.
	if lb_curl "http://$VIP4/" --connect-timeout 2 >/dev/null 2>&1; then
		echo "a source outside the restored list got through" >&2
		false
	fi
}

# The allow table of 4096 entries, on one interface (nothing here sends traffic).
small_table() {
	lbt_setup
	lb_topo
	lbattach_l attach dev "$DEV_L" tc ingress allow 4096
	lbctl_l service add "$VIP4" port 80 allow 198.18.5.0/24
	lbctl_l service add "$VIP6" port 80
	# shellcheck disable=SC2046
	lbctl_l allow add $(fillers 100) service "$VIP4" port 80
	BEFORE=$(lb_maps_state)
	BEFORE_DETAIL=$(lb_maps_detail)
}

@test "bad input: one line, exit status, nothing changed (a malformed prefix, the wrong family, no such service, a list that does not fit)" {
	small_table
	lb_rejected 2 "^lbctl: allow '198.18.5.0/33': not a prefix\$" \
		allow add 198.18.6.0/24 198.18.5.0/33 service "$VIP4" port 80
	lb_rejected 2 "^lbctl: allow 'bogus': not a prefix\$" allow add bogus service "$VIP4" port 80
	lb_rejected 2 "^lbctl: allow 2001:db8::/32: not of the service's family\$" \
		allow add 198.18.6.0/24 2001:db8::/32 service "$VIP4" port 80
	lb_rejected 2 "^lbctl: allow 198.18.0.0/16: not of the service's family\$" \
		allow add 198.18.0.0/16 service "$VIP6" port 80
	lb_rejected 2 "^lbctl: allow add: missing prefix\$" allow add service "$VIP4" port 80
	lb_rejected 2 "^lbctl: allow add: expected 'service VIP port N'\$" allow add 198.18.6.0/24
	lb_rejected 2 "^lbctl: allow add: allow 198.18.6.0/24: listed twice\$" \
		allow add 198.18.6.0/24 198.18.7.0/24 198.18.6.0/24 service "$VIP4" port 80
	lb_rejected 1 "^lbctl: allow add: no such service\$" allow add 198.18.6.0/24 service "$VIP4" port 81
	lb_rejected 1 "^lbctl: allow del: no such service\$" allow del 198.18.6.0/24 service "$VIP4" port 81
	lb_rejected 1 "^lbctl: allow add: allow 198.18.5.0/24: already in the list\$" \
		allow add 198.18.6.0/24 198.18.5.0/24 service "$VIP4" port 80
	lb_rejected 1 "^lbctl: allow del: allow 198.18.6.0/24: not in the list\$" \
		allow del 198.18.5.0/24 198.18.6.0/24 service "$VIP4" port 80
	# A shorter prefix holding it is not the prefix itself.
	lb_rejected 1 "^lbctl: allow del: allow 198.18.5.0/25: not in the list\$" \
		allow del 198.18.5.0/25 service "$VIP4" port 80
	# 101 entries in a table of 4096: 4000 more do not fit, in any of three ways.
	# shellcheck disable=SC2046
	lb_rejected 1 "^lbctl: allow add: the allow table is full \(4096 prefixes of all services\)\$" \
		allow add $(fillers 4100 | tail -n 4000) service "$VIP4" port 80
	# shellcheck disable=SC2046
	lb_rejected 1 "^lbctl: service add: the allow table is full \(4096 prefixes of all services\)\$" \
		service add "$VIP4" port 82 allow $(fillers 4000)
	{
		echo "service add $VIP4 port 80 proto tcp"
		fillers 4000 | sed "s|.*|allow add & service $VIP4 port 80 proto tcp|"
	} >"$T/big"
	lb_rules_end "$T/big"
	lb_rejected 1 "^lbctl: restore: the new rule set's 4000 allowed prefixes do not fit beside the live one's 101 until the switch: the allow table holds 4096" \
		restore file "$T/big"
	run --separate-stderr lbattach_l attach dev "$DEV_L" tc ingress allow 8192
	assert_status 1
	assert_err_line lbattach "table sizes are fixed when first loaded \(.* allow 4096 selection [0-9]+\)"
}
