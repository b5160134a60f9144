#!/usr/bin/env bats
# Health checks (lbctl health) against real servers: a killed server goes down after
# fall rounds and new connections avoid it, comes back after rise rounds; an HTTP 500
# takes an endpoint down; flapping stays within the hysteresis; drain and down are
# never raised; every endpoint down fails open; bad settings change nothing; save and
# restore carry the settings; -w loops until a signal.  Topology: lb_helpers.bash.

load lb_helpers

teardown() {
	lb_teardown
}

# round: one round of checks, every endpoint probed (now), quiet on success.
round() {
	run --separate-stderr lbctl_l health check now
	assert_status 0
	assert_eq "$output$stderr" "" "output of a round"
}

# health_of N: backend N's health in health show (unknown, up, down).
health_of() {
	lbctl_j health show | json_get "[e['health'] for s in j for e in s['endpoints'] if e['address'] == '$(b_ip4 "$1")'][0]"
}

# stop_server N: kill every process of backend N (its servers).
stop_server() {
	local p
	for p in $(ip netns pids "${NS_B[$1]}"); do
		kill "$p"
	done
	for _ in $(seq 50); do
		[ -z "$(ip netns pids "${NS_B[$1]}")" ] && return 0
		sleep 0.1
	done
	return 1
}

# start_http N: http.server on backend N again.
start_http() {
	lb_ns "${NS_B[$1]}" "$PY" -m http.server 8080 --bind :: --directory "$T/www/b$1" \
		>>"$T/http.b$1.log" 2>&1 3>&- &
	lbt_add_pid $!
	lbt_wait_listen "${NS_B[$1]}" 8080
}

# served K: K requests through the VIP, each must succeed; prints the backends' names
# sorted and counted ("b1 4" lines).
served() {
	local i out
	for i in $(seq "$1"); do
		out=$(lb_curl "http://$VIP4/") || { echo "request $i failed" >&2; return 1; }
		echo "$out"
	done | sort | uniq -c | awk '{print $2, $1}'
}

@test "a killed server: down after fall rounds, avoided, every request served; back after rise rounds" {
	lb_setup http
	lb_service "$VIP4" 80 8080 check http / interval 1 rise 2 fall 3
	round
	assert_eq "$(health_of 2)" up "b2 after a good round"
	stop_server 2
	round
	round
	assert_eq "$(health_of 2)" up "b2 after 2 failed rounds of fall 3"
	round
	assert_eq "$(health_of 2)" down "b2 after 3 failed rounds"
	run lbctl_j endpoint show
	assert_eq "$(echo "$output" | json_get "[e['endpoint']['health'] for e in j]")" \
		'["up", "down", "up"]' "health in endpoint show"
	local got
	got=$(served 12)
	assert_eq "$got" "b1 6
b3 6" "requests with b2 down"
	# its reason, and the counters
	run lbctl_j health show
	assert_eq "$(echo "$output" | json_get "[[e['failures'], e['successes'], e['reason'].startswith('connect:')] for s in j for e in s['endpoints'] if e['address'] == '$(b_ip4 2)'][0]")" \
		'[3, 0, true]' "b2's counters and reason"
	start_http 2
	round
	assert_eq "$(health_of 2)" down "b2 after 1 good round of rise 2"
	round
	assert_eq "$(health_of 2)" up "b2 after 2 good rounds"
	got=$(served 12)
	assert_eq "$got" "b1 4
b2 4
b3 4" "requests with b2 back"
}

@test "an http check takes down a server that accepts TCP but answers 500; a tcp check does not" {
	lb_setup http
	stop_server 3
	lb_ns "${NS_B[3]}" "$PY" -c '
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500)
        self.end_headers()
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()' >/dev/null 2>&1 3>&- &
	lbt_add_pid $!
	lbt_wait_listen "${NS_B[3]}" 8080
	lb_service "$VIP4" 80 8080 check tcp fall 2
	round
	round
	assert_eq "$(health_of 3)" up "b3 under a tcp check"
	lbctl_l service set "$VIP4" port 80 check http / expect 200 fall 2
	round
	round
	assert_eq "$(health_of 3)" down "b3 under an http check"
	run lbctl_j health show
	assert_eq "$(echo "$output" | json_get "[e['reason'] for s in j for e in s['endpoints'] if e['address'] == '$(b_ip4 3)'][0]")" \
		"HTTP 500" "b3's reason"
	assert_eq "$(served 6)" "b1 3
b2 3" "requests with b3 down"
}

@test "flapping stays within the hysteresis: alternate failures never take it down, alternate successes never bring it up" {
	lb_setup http
	lb_service "$VIP4" 80 8080 check tcp rise 2 fall 2
	round
	local i
	for i in 1 2 3; do
		stop_server 1
		round
		assert_eq "$(health_of 1)" up "b1 after one failure (flap $i)"
		start_http 1
		round
		assert_eq "$(health_of 1)" up "b1 after a success (flap $i)"
	done
	stop_server 1
	round
	round
	assert_eq "$(health_of 1)" down "b1 after two failures"
	for i in 1 2 3; do
		start_http 1
		round
		assert_eq "$(health_of 1)" down "b1 after one success (flap $i)"
		stop_server 1
		round
		assert_eq "$(health_of 1)" down "b1 after a failure (flap $i)"
	done
}

@test "drain and down are never probed nor raised; every endpoint down fails open and is counted" {
	lb_setup http
	lb_service "$VIP4" 80 8080 check tcp rise 1 fall 1
	lbctl_l endpoint set "$(b_ip4 3)" port 8080 state drain service "$VIP4" port 80
	round
	run lbctl_j health show
	assert_eq "$(echo "$output" | json_get "[(e['state'], e['last']) for s in j for e in s['endpoints']]")" \
		'[["up", "ok"], ["up", "ok"], ["drain", "none"]]' "drain is not probed"
	assert_eq "$(served 4)" "b1 2
b2 2" "drained b3 gets no new flows"
	# every operator-up endpoint down: all serve (fail open)
	stop_server 1
	stop_server 2
	round
	run lbctl_j health show
	assert_eq "$(echo "$output" | json_get "[(s['panic'], s['panics']) for s in j]")" '[[true, 1]]' "panic"
	run lbctl_j service show
	assert_eq "$(echo "$output" | json_get "[(s['panic'], s['table_len']) for s in j]")" '[[true, 2]]' \
		"every up endpoint in the table while failing open"
	assert_eq "$(echo "$output" | json_get "[e['state'] for s in j for e in s['endpoints']]")" \
		'["up", "up", "drain"]' "the operator's states unchanged"
	start_http 2
	round
	run lbctl_j health show
	assert_eq "$(echo "$output" | json_get "[(s['panic'], s['panics']) for s in j]")" '[[false, 1]]' "panic over"
	assert_eq "$(served 4)" "b2 4" "only b2 serves"
}

@test "bad check settings: one line, exit 2, nothing changed" {
	lb_setup
	lbctl_l service add "$VIP4" port 80 check tcp interval 5
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 80
	local before
	before=$(lbctl_l save)
	local bad
	for bad in "check" "check bogus" "check inherit" "check http" "check http nopath" \
		"check http / expect 700" "check udp" "check udp 0xzz" "interval 0" "interval 99999" \
		"timeout x" "rise 0" "fall 101" "check tcp expect 200"; do
		# shellcheck disable=SC2086	# the words of $bad on purpose
		run --separate-stderr lbctl_l service set "$VIP4" port 80 $bad
		[ "$status" -eq 2 ] || { echo "'$bad': status $status" >&2; false; }
		assert_err_line lbctl "."
	done
	run --separate-stderr lbctl_l endpoint set "$(b_ip4 1)" port 8080 check http / host 'a"b' service "$VIP4" port 80
	assert_status 2
	assert_err_line lbctl "path and host"
	run --separate-stderr lbctl_l health check service "$VIP4" port 81
	assert_status 1
	assert_err_line lbctl "health check: no such service"
	assert_eq "$(lbctl_l save)" "$before" "the rule set"
}

@test "save and restore carry check settings; the state survives restore; endpoint check overrides the service's" {
	lb_setup http
	lb_service "$VIP4" 80 8080 check http /index.html expect 200 host www.example interval 1.5 timeout 0.25 rise 2 fall 1
	lbctl_l endpoint set "$(b_ip4 2)" port 8080 check udp 'ping\x0a' expect pong interval 3 fall 5 service "$VIP4" port 80
	lbctl_l endpoint set "$(b_ip4 3)" port 8080 check none service "$VIP4" port 80
	lbctl_l service add "$VIP4" port 53 proto udp check udp 0x00ff rise 3
	lbctl_l save file "$T/rules"
	grep -q "^service add $VIP4 port 80 proto tcp sched rr mode dnat check http /index.html expect 200 host www.example interval 1.5 timeout 0.25 rise 2 fall 1$" "$T/rules"
	grep -q "^endpoint add $(b_ip4 2) port 8080 weight 1 check udp 0x70696e670a expect pong interval 3 fall 5 service " "$T/rules"
	grep -q "^endpoint add $(b_ip4 3) port 8080 weight 1 check none service " "$T/rules"
	grep -q "^service add $VIP4 port 53 proto udp sched rr mode dnat check udp 0x00ff rise 3$" "$T/rules"
	# state by name: b1 down survives a restore (b2's udp check fails too, but
	# its own fall is 5)
	stop_server 1
	round
	assert_eq "$(health_of 1)" down "b1 before the restore"
	lbctl_l restore file "$T/rules"
	assert_eq "$(lbctl_l save)" "$(cat "$T/rules")" "save after restore"
	assert_eq "$(health_of 1)" down "b1 after the restore"
	assert_eq "$(served 4)" "b2 2
b3 2" "b1 still avoided after the restore"
	# back to the service's check
	lbctl_l endpoint set "$(b_ip4 2)" port 8080 check inherit service "$VIP4" port 80
	run lbctl_j endpoint show
	assert_eq "$(echo "$output" | json_get "[e['endpoint']['check'] for e in j if e['service'].endswith(':80')]")" \
		'[null, null, "check none"]' "endpoint checks after inherit"
	# a removed service takes its settings and state along
	lbctl_l service del "$VIP4" port 80
	lbctl_l service add "$VIP4" port 80
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 80
	run lbctl_j health show service "$VIP4" port 80
	assert_eq "$output" '[{"proto":"tcp","vip":"'"$VIP4"'","port":80,"panic":false,"panics":0,"endpoints":[]}]' \
		"a fresh service has no health"
}

@test "health check honours intervals, -s counts, -d tells changes, -w loops until SIGTERM" {
	lb_setup http
	lb_service "$VIP4" 80 8080 check tcp interval 60 fall 1
	run --separate-stderr lbctl_l -s health check
	assert_status 0
	assert_eq "$output" "probed 3 ok 3 failed 0 changed 0" "first round"
	run --separate-stderr lbctl_l -s health check
	assert_eq "$output" "probed 0 ok 0 failed 0 changed 0" "a round before the interval passed"
	stop_server 3
	run --separate-stderr lbctl_l -d health check now
	assert_status 0
	[[ "$output" == "$VIP4:80 -> $(b_ip4 3):8080 down (connect: "* ]] || {
		echo "-d output: $output" >&2
		false
	}
	# -w: rounds until a signal; the endpoint comes back while it runs
	lbctl_l service set "$VIP4" port 80 check tcp interval 0.2 rise 1 fall 1
	start_http 3
	# nsenter execs lbctl: the signal reaches it, not a shell
	nsenter --net="/run/netns/$NS_L" "$LBCTL" -P "$ROOT" health check -w 0.2 >"$T/w.out" 2>&1 &
	local pid=$!
	lbt_add_pid $pid
	for _ in $(seq 50); do
		[ "$(health_of 3)" = up ] && break
		sleep 0.1
	done
	assert_eq "$(health_of 3)" up "b3 under -w"
	kill -TERM "$pid"
	local st=0
	wait "$pid" || st=$?
	assert_eq "$st" 0 "-w exit status after SIGTERM"
	assert_eq "$(cat "$T/w.out")" "" "-w output"
}

@test "IPv6 endpoints under an http check, UDP endpoints under a udp check: down when their server stops; a wrong answer fails" {
	lb_setup http udp
	lb_service "$VIP6" 80 8080 check http / fall 1 rise 1
	lb_service "$VIP4" 53 9000 proto udp check udp hello expect b fall 1 rise 1
	round
	run lbctl_j health show
	assert_eq "$(echo "$output" | json_get "[[e['address'], e['health']] for s in j for e in s['endpoints'] if e['address'] in ('$(b_ip6 1)', '$(b_ip4 1)')]")" \
		"[[\"$(b_ip4 1)\", \"up\"], [\"$(b_ip6 1)\", \"up\"]]" "b1 over IPv6 (http) and UDP"
	stop_server 1
	round
	run lbctl_j health show
	assert_eq "$(echo "$output" | json_get "[[e['health'], e['reason'] is not None] for s in j for e in s['endpoints'] if e['address'] in ('$(b_ip6 1)', '$(b_ip4 1)')]")" \
		'[["down", true], ["down", true]]' "b1 down over IPv6 and UDP"
	# an answer that is not the expected one is a failure too
	lbctl_l service set "$VIP4" port 53 proto udp check udp hello expect nope fall 1 rise 1
	round
	run lbctl_j health show service "$VIP4" port 53 proto udp
	assert_eq "$(echo "$output" | json_get "[e['reason'] for s in j for e in s['endpoints'] if e['address'] == '$(b_ip4 2)'][0]")" \
		"udp: another answer than expected" "b2's reason under a wrong expect"
	assert_eq "$(echo "$output" | json_get "[s['panic'] for s in j][0]")" true "every UDP endpoint down: fail open"
}

@test "a down endpoint keeps its open flows: a held connection still echoes while new ones avoid it" {
	lb_setup echo
	lb_service "$VIP4" 7000 7000 check tcp fall 1
	lb_hold "$VIP4" 7000
	lb_hold_wait_lines 1
	assert_eq "$(sed -n 1p "$T/hold.out")" b1 "the held connection's endpoint"
	# b1's own check now fails (its echo server speaks no HTTP); the server lives on
	lbctl_l endpoint set "$(b_ip4 1)" port 7000 check http / service "$VIP4" port 7000
	round
	assert_eq "$(health_of 1)" down "b1 under an http check"
	lb_hold_send ping
	lb_hold_wait_lines 2
	assert_eq "$(sed -n 2p "$T/hold.out")" ping "echo on the held connection"
	run lbctl_j conntrack show endpoint "$(b_ip4 1)"
	[ "$(echo "$output" | json_get 'len(j)')" -ge 1 ] || { echo "b1's flow left conntrack: $output" >&2; false; }
	local i got
	got=$(for i in 1 2 3 4; do
		lb_ns "$NS_C" socat -T 2 - "TCP4:$VIP4:7000" </dev/null | head -1
	done | sort | uniq -c | awk '{print $2, $1}')
	assert_eq "$got" "b2 2
b3 2" "new connections"
}

@test "lc and persistence skip a down endpoint too" {
	lb_setup http
	lb_service "$VIP4" 80 8080 sched lc check tcp fall 1
	stop_server 1
	round
	assert_eq "$(health_of 1)" down "b1"
	local got
	# (lc ties go to the first: only that every request is served, none by b1)
	got=$(served 6 | awk '{print $1}' | xargs)
	[ -n "$got" ] && [[ $got != *b1* ]] || { echo "lc with b1 down: $got" >&2; false; }
	# persist: the client keeps its endpoint until that one goes down
	lbctl_l service add "$VIP4" port 81 persist 300 check tcp fall 1
	local n first
	for n in 1 2 3; do
		lbctl_l endpoint add "$(b_ip4 $n)" port 8080 service "$VIP4" port 81
	done
	round
	first=$(lb_curl "http://$VIP4:81/")
	assert_eq "$(lb_curl "http://$VIP4:81/")" "$first" "persistence"
	[ "$first" != b1 ] || { echo "persisted to b1, which is down" >&2; false; }
	stop_server "${first#b}"
	round
	got=$(lb_curl "http://$VIP4:81/")
	[ "$got" != "$first" ] && [ "$got" != b1 ] || { echo "after $first went down: $got" >&2; false; }
}
