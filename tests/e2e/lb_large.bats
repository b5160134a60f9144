#!/usr/bin/env bats
# A service of LB_SVC_EPS_MAX (4,096) endpoints with real servers behind them: each
# of the three backend namespaces takes a /21 of endpoint addresses as local (an
# AnyIP route: every address of it is the namespace's own) and runs one
# tests/e2e/flows.py server on [::]:7000 that answers on all of them with its name.
# The datapath is attached with room for 65,536 endpoints, and for two Maglev tables
# of 524,287 slots side by side (a change builds the new table beside the old one).  Topology: lb_helpers.bash.

load lb_helpers

N_EPS=4096
EP_PORT=7000

# ep_addr I: endpoint I (0..N_EPS-1): backend I%3+1, 250 hosts to a /24 of its /21
# (backend n: 198.18.(8+8n).0/21).
ep_addr() {
	local n=$(($1 % 3 + 1)) j=$(($1 / 3))
	echo "198.18.$((8 + 8 * n + j / 250)).$((j % 250 + 1))"
}

# A service of N_EPS endpoints, weights 1, 2, 3 in turn, as a rule file.
large_rules() {
	local sched=$1 i
	{
		echo "service add $VIP4 port 80 sched $sched"
		for ((i = 0; i < N_EPS; i++)); do
			echo "endpoint add $(ep_addr $i) port $EP_PORT weight $((i % 3 + 1)) service $VIP4 port 80"
		done
	} >"$T/rules"
	lb_rules_end "$T/rules"
}

# conns N: N TCP connections from the client to VIP4:80 one after the other, each
# reading the server's name; prints {"failed": F, "servers": {"bN": count}}.  Each
# from a source port of its own, below the kernel's ephemeral range and never used
# twice in a test: a port used again would find the earlier flow's entry, still
# closing, and go where that one went instead of to the scheduler.
conns() {
	local base
	base=$(cat "$T/conns.next" 2>/dev/null || echo 1100)
	echo $((base + $1)) >"$T/conns.next"
	[ $((base + $1)) -le 32768 ] || { echo "conns: out of source ports" >&2; return 1; }
	lb_ns "$NS_C" "$PY" -c '
import collections, json, socket, sys
names, failed = collections.Counter(), 0
for i in range(int(sys.argv[2])):
    try:
        with socket.create_connection((sys.argv[1], 80), timeout=5,
                                      source_address=("", int(sys.argv[3]) + i)) as s:
            line = s.makefile().readline().strip()
        if line:
            names[line] += 1
        else:
            failed += 1
    except OSError:
        failed += 1
print(json.dumps({"failed": failed, "servers": names}))
' "$VIP4" "$1" "$base"
}

# flows_by_ep: "ADDR FLOWS" per endpoint, from lbctl's per-endpoint counters.
flows_by_ep() {
	lbctl_l -s -j service show | json_get '"\n".join("%s %d" % (e["address"], e["stats"]["flows"]) for e in j[0]["endpoints"])'
}

# state: the rules and the raw maps that hold them (lb_maps_state's output is too
# large to hand to a child at this size).
state() {
	local m
	lbctl_l save
	for m in lb_services lb_svc_eps lb_endpoints lb_config; do
		echo "== $m $(bpftool -j map dump pinned "$ROOT/maps/$m" 2>&1 | sha256sum)"
	done
}

setup() {
	local n
	lbt_setup || return 1
	lb_topo || return 1
	for n in 1 2 3; do
		ip -n "$NS_L" route add "198.18.$((8 + 8 * n)).0/21" via "$(b_ip4 $n)" || return 1
		ip -n "${NS_B[n]}" route add local "198.18.$((8 + 8 * n)).0/21" dev lo || return 1
		lb_ns "${NS_B[n]}" "$PY" "$LB_REPO/tests/e2e/flows.py" serve $EP_PORT "b$n" \
			--max-time 600 </dev/null >"$T/serve.b$n.log" 2>&1 3>&- &
		lbt_add_pid $!
	done
	{
		echo "attach dev $DEV_L tc ingress endpoints 65536 selection 2097152"
		for n in 1 2 3; do
			echo "attach dev ${DEV_E[n]} tc ingress"
		done
	} | lbattach_l -b - || return 1
	for n in 1 2 3; do
		lbt_wait_listen "${NS_B[n]}" $EP_PORT || return 1
	done
}

teardown() {
	lb_teardown
}

@test "4,096 endpoints: loaded by restore, every one reached once by rr, counted per endpoint" {
	large_rules rr
	local t0 t1 got
	t0=$(date +%s%N)
	lbctl_l restore file "$T/rules"
	t1=$(date +%s%N)
	echo "# restore of one service of $N_EPS endpoints: $(((t1 - t0) / 1000000)) ms" >&3
	lbctl_l info | sed 's/^/# /' >&3
	assert_eq "$(lbctl_j service show | json_get 'len(j[0]["endpoints"])')" $N_EPS "endpoints shown"
	got=$(conns $N_EPS)
	assert_eq "$(json_get 'j["failed"]' <<<"$got")" 0 "failed connections ($got)"
	# rr over the whole table: each endpoint exactly once, so each backend a third.
	assert_eq "$(json_get 'sorted(j["servers"].values())' <<<"$got")" "[1365, 1365, 1366]" \
		"connections per backend ($got)"
	flows_by_ep >"$T/flows"
	assert_eq "$(wc -l <"$T/flows")" $N_EPS "endpoints with counters"
	assert_eq "$(awk '$2 != 1' "$T/flows" | head -3)" "" "endpoints whose flow counter is not 1"
}

@test "4,096 endpoints: random follows the weights 1, 2, 3 (chi-square, p 0.001)" {
	large_rules random
	lbctl_l restore file "$T/rules"
	local got
	got=$(conns 3000)
	assert_eq "$(json_get 'j["failed"]' <<<"$got")" 0 "failed connections ($got)"
	flows_by_ep >"$T/flows"
	# Flows by weight class against 1:2:3 (weights from the rule file, by address).
	"$PY" - "$T/rules" "$T/flows" >&3 <<-'EOF'
		import sys
		w = {}
		for line in open(sys.argv[1]):
		    f = line.split()
		    if f[:2] == ["endpoint", "add"]:
		        w[f[2]] = int(f[f.index("weight") + 1])
		got = {1: 0, 2: 0, 3: 0}
		for line in open(sys.argv[2]):
		    a, n = line.split()
		    got[w[a]] += int(n)
		total = sum(got.values())
		wsum = sum(w.values())
		chi2 = 0.0
		for c in (1, 2, 3):
		    share = c * sum(1 for v in w.values() if v == c) / wsum
		    exp = total * share
		    chi2 += (got[c] - exp) ** 2 / exp
		print("# random, %d flows by weight 1/2/3: %s, chi-square %.2f" % (total, got, chi2))
		# 2 degrees of freedom: 13.82 at p = 0.001
		sys.exit(0 if total == 3000 and chi2 < 13.82 else 1)
	EOF
}

@test "4,096 endpoints: every scheduler answers; drain and down take no new flows" {
	large_rules rr
	lbctl_l restore file "$T/rules"
	local s got distinct
	for s in rr wrr random hash maglev lc; do
		lbctl_l service set "$VIP4" port 80 sched "$s"
		got=$(conns 200)
		assert_eq "$(json_get 'j["failed"]' <<<"$got")" 0 "$s: failed connections ($got)"
	done
	flows_by_ep >"$T/flows"
	distinct=$(awk '$2 > 0' "$T/flows" | wc -l)
	# rr, wrr, random, maglev and lc spread 1,000 flows, hash keeps the client on one.
	[ "$distinct" -ge 700 ] || { echo "only $distinct endpoints got flows" >&2; false; }
	# One endpoint down, one drained: the 4,094 others take every new flow.
	lbctl_l service set "$VIP4" port 80 sched rr
	lbctl_l endpoint set "$(ep_addr 7)" port $EP_PORT state down service "$VIP4" port 80
	lbctl_l endpoint set "$(ep_addr 8)" port $EP_PORT state drain service "$VIP4" port 80
	assert_eq "$(lbctl_j service show | json_get '[e["state"] for e in j[0]["endpoints"]][7:9]')" \
		'["down", "drain"]' "states"
	flows_by_ep >"$T/before"
	got=$(conns 4094)
	assert_eq "$(json_get 'j["failed"]' <<<"$got")" 0 "failed connections ($got)"
	flows_by_ep >"$T/after"
	# Each of the 4,094 exactly once more (rr over them); the two not at all.
	assert_eq "$(paste "$T/before" "$T/after" | awk '{ d = $4 - $2 } d != ($1 == "'"$(ep_addr 7)"'" || $1 == "'"$(ep_addr 8)"'" ? 0 : 1)' | head -3)" "" \
		"endpoints whose new flows are not 1 (0 for the down and the drained one)"
}

@test "4,096 endpoints: save and restore round trip identical; endpoint 4,097 refused, nothing changed" {
	large_rules maglev
	lbctl_l restore file "$T/rules"
	lbctl_l save >"$T/s1"
	lbctl_l restore file "$T/s1"
	lbctl_l save >"$T/s2"
	cmp "$T/s1" "$T/s2"
	assert_eq "$(grep -c '^endpoint add' "$T/s2")" $N_EPS "endpoints saved"
	local before
	before=$(state)
	run --separate-stderr lbctl_l endpoint add 198.18.40.1 port $EP_PORT service "$VIP4" port 80
	assert_status 1
	assert_err_line lbctl "^lbctl: endpoint add: a service has at most $N_EPS endpoints$"
	assert_eq "$(state)" "$before" "the state after endpoint 4,097"
	run --separate-stderr lbctl_l endpoint add 198.18.16.1/21 port $EP_PORT service "$VIP4" port 80
	assert_status 2
	assert_err_line lbctl "198\.18\.16\.1/21"
	assert_eq "$(state)" "$before" "the state after a malformed address"
	# A rule file with one endpoint too many: refused at its line.
	{
		grep -v '^# end' "$T/s2"
		echo "endpoint add 198.18.40.1 port $EP_PORT service $VIP4 port 80"
	} >"$T/over"
	lb_rules_end "$T/over"
	run --separate-stderr lbctl_l restore file "$T/over"
	assert_status 1
	assert_err_line lbctl "at most $N_EPS endpoints"
	assert_eq "$(state)" "$before" "the state after a restore of 4,097 endpoints"
	got=$(conns 100)
	assert_eq "$(json_get 'j["failed"]' <<<"$got")" 0 "failed connections after ($got)"
}
