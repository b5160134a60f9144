#!/usr/bin/env bats
# lbattach upgrade from the last releases of layouts 4 and 3 (built from the git
# history by make: build/tests/abi4/, build/tests/abi3/) to this one.  Layout 4 kept
# the selection tables in a map of maps (lb_svc_sel), now slices of lb_sel; layout 3
# also kept each service's endpoint list inside its lb_services value (now
# lb_svc_eps), and its lb_gc (the sweep's state, with the timer) had fewer fields.
# The rules are written and the connections opened by the old tools and programs;
# the new lbattach upgrades.

# shellcheck disable=SC2154 # status, output: set by bats' run
load lb_helpers

NEW_LBATTACH=$LBATTACH
NEW_LBCTL=$LBCTL

teardown() {
	LBATTACH=$NEW_LBATTACH
	lb_teardown
}

# slices: "id sel_off sel_len" of every service, and no two slices overlap.
slices() {
	lbmap_l -j dump lb_services | json_get '"\n".join("%d %d %d" % (e["value"]["id"], e["value"]["sel_off"], e["value"]["sel_len"]) for e in sorted(j, key=lambda e: e["value"]["id"]))'
}

# ep_active VIP PORT ADDR: the active flows the datapath counts for endpoint ADDR.
ep_active() {
	lbctl_l -s -j service show | json_get "[e['stats']['active'] for s in j if s['vip'] == '$1' and s['port'] == $2 for e in s['endpoints'] if e['address'] == '$3'][0]"
}

# gc_runs: how many times the conntrack sweep ran.
gc_runs() {
	lbctl_j info | json_get 'j["gc"]["runs"]'
}

# upgrade_from LAYOUT: the check, from build/tests/abiLAYOUT.
upgrade_from() {
	local old=$LB_REPO/build/tests/abi$1/build/bin
	if [ ! -x "$old/lbattach" ] || [ ! -x "$old/lbctl" ]; then
		echo "build/tests/abi$1 is not built (make test builds it)" >&2
		false
	fi
	LBATTACH=$old/lbattach LBCTL=$old/lbctl
	lb_setup http
	lb_flow_servers
	lb_service "$VIP4" 7000 7000
	lb_service "$VIP4" 80 8080 sched rr
	lb_service "$VIP6" 80 8080 sched maglev
	lbctl_l service add "$VIP4" port 81 sched lc
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 81
	lbctl_l endpoint add "$(b_ip4 2)" port 8080 state drain service "$VIP4" port 81
	lbctl_l service add "$VIP4" port 82 sched wrr	# no endpoints: no table
	lb_flow_client 30
	local saved abi
	saved=$(lbctl_l save)
	abi=$(lbctl_j info | json_get 'j["abi"]')
	assert_eq "$abi" "$1" "the old layout"
	[ -e "$ROOT/maps/lb_svc_sel" ] || { echo "no lb_svc_sel in layout $1" >&2; false; }

	LBATTACH=$NEW_LBATTACH LBCTL=$NEW_LBCTL
	run lbattach_l upgrade
	assert_status 0
	assert_eq "$(lbctl_j info | json_get 'j["abi"]')" \
		"$(sed -n 's/^#define LB_ABI_BASE[[:space:]]*\([0-9]*\).*/\1/p' "$LB_REPO/lb/include/lb/lb_abi.h")" \
		"the new layout"
	[ ! -e "$ROOT/maps/lb_svc_sel" ] || { echo "lb_svc_sel is still pinned" >&2; false; }
	assert_eq "$(lbctl_l save)" "$saved" "the rule set"

	# The sweep goes on with the new program (a conversion of lb_gc, as from
	# layout 3, once cancelled its timer for good).
	local runs
	runs=$(gc_runs)
	for _ in $(seq 100); do
		[ "$(gc_runs)" -gt "$runs" ] && break
		sleep 0.1
	done
	[ "$(gc_runs)" -gt "$runs" ] || { echo "the sweep stopped after the upgrade (runs $runs)" >&2; false; }

	# Each table is a slice of its own, holding the service's usable endpoints.
	local s id off len ids want
	s=$(slices)
	"$PY" - "$s" <<-'EOF'
		import sys
		r = sorted((int(o), int(o) + int(n)) for _, o, n in (l.split() for l in sys.argv[1].splitlines()) if int(n))
		assert all(a[1] <= b[0] for a, b in zip(r, r[1:])), "overlapping slices: %s" % r
		assert all(o >= 1 for o, _ in r), "a slice at slot 0: %s" % r
	EOF
	while read -r id off len; do
		want=$(lbctl_j service show | json_get '" ".join(sorted(str(e["id"]) for s in j if s["id"] == '"$id"' for e in s["endpoints"] if e["state"] == "up"))')
		ids=$(for ((i = off; i < off + len; i++)); do lbmap_l lookup lb_sel "$i"; done |
			awk '{print $4}' | sort -u | tr '\n' ' ')
		if [ "$len" -eq 0 ] && [ -z "$want" ]; then
			continue
		fi
		assert_eq "${ids% }" "$want" "service $id's table"
	done <<<"$s"

	# The open connections went on; new ones are balanced by the converted tables.
	local r
	r=$(lb_flow_report)
	lb_assert_flows_kept "$r" 30
	assert_rr_rotation "$(lb_curls 6 "http://$VIP4/")"
	assert_eq "$(lb_curls 4 "http://$VIP4:81/")" "b1 b1 b1 b1" "lc: the drained endpoint takes no new flow"

	# The new tools change the converted services in place.  A connection held
	# to b1 (b2 is still drained) makes lc's choice certain once b2 is up: with
	# two endpoints it is the exact minimum, and b2 has none.
	lb_hold "$VIP4" 81
	for _ in $(seq 50); do
		[ "$(ep_active "$VIP4" 81 "$(b_ip4 1)")" = 1 ] && break
		sleep 0.1
	done
	assert_eq "$(ep_active "$VIP4" 81 "$(b_ip4 1)")" 1 "lc: b1's active flows with one held"
	lbctl_l endpoint set "$(b_ip4 2)" port 8080 state up service "$VIP4" port 81
	assert_eq "$(lb_curls 1 "http://$VIP4:81/")" "b2" "lc: the endpoint with fewer flows"
	lbctl_l endpoint del "$(b_ip4 3)" port 8080 service "$VIP4" port 80
	case "$(lb_curls 6 "http://$VIP4/")" in *b3*) echo "rr: a deleted endpoint answered" >&2; false ;; esac
}

@test "upgrade from layout 4: the selection tables move into lb_sel; rules, flows, balancing and the sweep kept" {
	upgrade_from 4
}

@test "upgrade from layout 3: endpoint lists into lb_svc_eps, tables into lb_sel, lb_gc converted; all kept" {
	upgrade_from 3
}
