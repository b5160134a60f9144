#!/usr/bin/env bats
# lb_sel: the selection tables of all services as slices of one array (lb_abi.h,
# lb/space.c).  Free slots are found next fit; a table that does not fit is refused
# in one line; slots a service left are found again; rr tables grow in place; the
# datapath takes an endpoint from a slice only when it is the service's.

# shellcheck disable=SC2154 # status, output: set by bats' run
load lb_helpers

teardown() {
	lb_teardown
}

# attach_sel SLOTS: the datapath with lb_sel of SLOTS slots.
attach_sel() {
	local d
	lbt_setup || return 1
	lb_topo || return 1
	lb_http_servers start || return 1
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		echo "attach dev $d tc ingress selection $1"
	done | lbattach_l -b - || return 1
	lb_http_servers wait
}

# slice PORT: "sel_off sel_len" of the service $VIP4:PORT.
slice() {
	lbmap_l -j lookup lb_services key vip "$VIP4" port "$1" proto tcp family inet gen "$(
		lbmap_l -j lookup lb_config 0 | json_get 'j["value"]["svc_gen"] & 1')" |
		json_get '"%d %d" % (j["value"]["sel_off"], j["value"]["sel_len"])'
}

# slots_of OFF LEN: the endpoint ids in lb_sel[OFF .. OFF+LEN), each once, sorted, on
# one line (one dump: a lookup per slot would take minutes for a Maglev table).
slots_of() {
	lbmap_l dump lb_sel | awk -v lo="$1" -v hi="$(($1 + $2))" '$2 >= lo && $2 < hi {print $4}' |
		sort -un | tr '\n' ' ' | sed 's/ $//'
}

# ep_ids PORT: the ids of the up endpoints of $VIP4:PORT, sorted, on one line.
ep_ids() {
	lbctl_j service show "$VIP4" port "$1" |
		json_get '" ".join(str(i) for i in sorted(e["id"] for e in j[0]["endpoints"] if e["state"] == "up"))'
}

# disjoint: no two services' slices share a slot, none is at slot 0.
disjoint() {
	lbmap_l -j dump lb_services | "$PY" -c '
import json, sys
sys.path.insert(0, sys.argv[1])
r = sorted((e["value"]["sel_off"], e["value"]["sel_off"] + e["value"]["sel_len"])
           for e in json.load(sys.stdin) if e["value"]["sel_len"])
assert all(a[1] <= b[0] for a, b in zip(r, r[1:])), "overlapping slices: %s" % r
assert all(o >= 1 for o, _ in r), "a slice at slot 0: %s" % r' "$LB_REPO"
}

@test "lb_sel: tables take free slots; one that does not fit is refused in one line, nothing changed; slots a service left are taken again" {
	attach_sel 524288	# slot 0 and 4 tables of 131071
	local p
	for p in 81 82 83 84; do
		lbctl_l service add "$VIP4" port $p sched maglev maglev-size 131071
		lbctl_l endpoint add "$(b_ip4 $((p % 3 + 1)))" port 8080 service "$VIP4" port $p
	done
	disjoint
	# A Maglev service without endpoints has no table yet: it takes no slot.
	lbctl_l service add "$VIP4" port 85 sched maglev maglev-size 131071
	BEFORE=$(lb_maps_state) BEFORE_DETAIL=$(lb_maps_detail)
	lb_rejected 1 "^lbctl: endpoint add: no room for a selection table of 131071 slots: 524284 of lb_sel's 524288 are in use \(attach with a larger 'selection'\)\$" \
		endpoint add "$(b_ip4 3)" port 8080 service "$VIP4" port 85
	# An rr table has room for 16 from the start.
	lb_rejected 1 "^lbctl: service add: no room for a selection table of 16 slots" \
		service add "$VIP4" port 86 sched rr
	# A change of a full service needs a second table beside the first: refused too.
	lb_rejected 1 "^lbctl: endpoint add: no room for a selection table of 131071 slots" \
		endpoint add "$(b_ip4 1)" port 8081 service "$VIP4" port 81
	lbctl_l service del "$VIP4" port 82
	lbctl_l endpoint add "$(b_ip4 3)" port 8080 service "$VIP4" port 85
	disjoint
	local off len
	read -r off len <<<"$(slice 85)"
	assert_eq "$(slots_of "$off" "$len")" "$(ep_ids 85)" "the new table"
	assert_eq "$(lb_curls 3 "http://$VIP4:85/")" "b3 b3 b3" "answers of the new service"
	for p in 81 83 84; do
		read -r off len <<<"$(slice $p)"
		assert_eq "$(slots_of "$off" "$len")" "$(ep_ids $p)" "table of port $p"
	done
}

@test "lb_sel: an rr endpoint add writes in place; the 17th moves the table to 32 slots; a del rebuilds it" {
	attach_sel 1048576
	lbctl_l service add "$VIP4" port 80 sched rr
	local off len n first
	read -r first len <<<"$(slice 80)"
	assert_eq "$len" 0 "an empty table"
	for ((n = 1; n <= 16; n++)); do
		lbctl_l endpoint add "$(b_ip4 $(((n - 1) % 3 + 1)))" port $((8079 + n)) service "$VIP4" port 80
		read -r off len <<<"$(slice 80)"
		assert_eq "$off $len" "$first $n" "after endpoint $n"
	done
	assert_eq "$(slots_of "$off" "$len")" "$(ep_ids 80)" "16 endpoints in place"
	lbctl_l endpoint add "$(b_ip4 1)" port 8096 service "$VIP4" port 80
	read -r off len <<<"$(slice 80)"
	[ "$off" != "$first" ] || { echo "the 17th endpoint did not move the table" >&2; false; }
	assert_eq "$len" 17 "17 endpoints"
	assert_eq "$(slots_of "$off" "$len")" "$(ep_ids 80)" "17 endpoints in the new slice"
	# 18..32 fit the new slice in place
	local moved=$off
	lbctl_l endpoint add "$(b_ip4 2)" port 8097 service "$VIP4" port 80
	read -r off len <<<"$(slice 80)"
	assert_eq "$off $len" "$moved 18" "the 18th in place"
	lbctl_l endpoint del "$(b_ip4 1)" port 8080 service "$VIP4" port 80
	read -r off len <<<"$(slice 80)"
	assert_eq "$len" 17 "after a del"
	assert_eq "$(slots_of "$off" "$len")" "$(ep_ids 80)" "the table after a del"
	disjoint
}

@test "lb_sel: a slice that holds another service's endpoints gives no endpoint (drop no-endpoint), never the other's" {
	attach_sel 1048576
	lb_service "$VIP4" 80 8080 sched rr
	lbctl_l service add "$VIP4" port 81 sched rr
	lbctl_l endpoint add "$(b_ip4 2)" port 8080 service "$VIP4" port 81
	local gen off len out
	gen=$(lbmap_l -j lookup lb_config 0 | json_get 'j["value"]["svc_gen"] & 1')
	read -r off len <<<"$(slice 81)"
	# What a reader in flight sees when the slice its service just left is taken by
	# another table: port 80's value naming port 81's slots.
	lbmap_l update lb_services key vip "$VIP4" port 80 proto tcp family inet gen "$gen" \
		value sel_off "$off" sel_len "$len"
	out=$(lbctl_l trace tcp "$C4:40000" '>' "$VIP4:80")
	grep -qxF "drop    no-endpoint" <<<"$out" || { echo "no drop: $out" >&2; false; }
	grep -qxF "verdict drop" <<<"$out" || { echo "not dropped: $out" >&2; false; }
	# port 81 still gets its own
	out=$(lbctl_l trace tcp "$C4:40000" '>' "$VIP4:81")
	grep -q "^endpoint .*$(b_ip4 2)" <<<"$out" || { echo "port 81: $out" >&2; false; }
}
