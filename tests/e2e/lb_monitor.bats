#!/usr/bin/env bats
# lbctl monitor: new-flow events for real connections (checked against conntrack),
# drop events with their reason, a pcap that tcpdump reads, the monitor flag (mask 0
# with no monitor, cleared on exit, cleared by the kernel's sweep after a SIGKILL),
# one monitor at a time, bad input.  Topology and servers: lb_helpers.bash.

load lb_helpers

MON_PID=''

teardown() {
	lb_teardown
}

# mon_mask: lb_monitor.mask, read from the pinned map with bpftool.
mon_mask() {
	bpftool -j map dump pinned "$ROOT/maps/lb_monitor" | json_get 'j[0]["formatted"]["value"]["mask"]'
}

# mon_start ARGS...: "lbctl ARGS" (a monitor) in the background in the LB namespace,
# stdout in $T/mon.out, stderr in $T/mon.err; waits (at most 5 s) until it has set
# the mask, so that traffic sent afterwards is seen.
mon_start() {
	nsenter --net="/run/netns/$NS_L" "$LBCTL" -P "$ROOT" "$@" >"$T/mon.out" 2>"$T/mon.err" 3>&- &
	MON_PID=$!
	lbt_add_pid "$MON_PID"
	for _ in $(seq 50); do
		[ "$(mon_mask)" != 0 ] && return 0
		lb__alive "$MON_PID" || break
		sleep 0.1
	done
	echo "the monitor did not set the mask: $(cat "$T/mon.err")" >&2
	return 1
}

# mon_wait: wait (at most 10 s) until the monitor exits by itself; fails unless its
# exit status is 0 and it printed nothing on stderr.
mon_wait() {
	local rc
	for _ in $(seq 100); do
		lb__alive "$MON_PID" || break
		sleep 0.1
	done
	if lb__alive "$MON_PID"; then
		echo "the monitor still runs after 10 s; its output:" >&2
		cat "$T/mon.out" "$T/mon.err" >&2
		return 1
	fi
	wait "$MON_PID"
	rc=$?
	assert_eq "$rc" 0 "exit status of the monitor (stderr: $(cat "$T/mon.err"))" || return 1
	assert_eq "$(cat "$T/mon.err")" "" "stderr of the monitor"
}

# mask_zero_within SECONDS: poll until lb_monitor.mask is 0 (a bounded wait).
mask_zero_within() {
	for _ in $(seq $(($1 * 10))); do
		[ "$(mon_mask)" = 0 ] && return 0
		sleep 0.1
	done
	echo "lb_monitor.mask still $(mon_mask) after $1 s" >&2
	return 1
}

# udp_send ADDR PORT: one datagram from the client, no answer awaited.
udp_send() {
	echo hello | lb_ns "$NS_C" timeout 5 socat -u - "UDP4:$1:$2"
}

@test "monitor all -j: one new-flow event per connection, as conntrack has the flow" {
	lb_setup http
	lb_service "$VIP4" 80 8080
	assert_eq "$(mon_mask)" 0 "mask before any monitor"
	mon_start -j monitor all count 3
	assert_eq "$(mon_mask)" 3 "mask while monitoring all"
	local got
	got=$(lb_curls 3 "http://$VIP4/")
	assert_eq "$(printf '%s\n' $got | sort | xargs)" "b1 b2 b3" "answers"
	lbctl_j conntrack show >"$T/ct.json"
	lbctl_j -d service show >"$T/svc.json"
	mon_wait
	assert_eq "$(mon_mask)" 0 "mask after the monitor ended"
	# Each event against the forward conntrack entry of its flow.
	"$PY" - "$T/mon.out" "$T/ct.json" "$T/svc.json" "$DEV_L" "$C4" "$VIP4" <<'EOF'
import json, sys
mon, ct, svc, dev, client, vip = sys.argv[1:7]
events = [json.loads(l) for l in open(mon)]
assert len(events) == 3, f"{len(events)} events: {events}"
flows = {}
for e in json.load(open(ct)):
    if e["dir"] == "forward":
        o = e["orig"]
        flows[(o["src"], o["sport"], o["dst"], o["dport"])] = e
s = json.load(open(svc))[0]
eps = {e["id"]: e["address"] for e in s["endpoints"]}
seen = set()
for ev in events:
    assert ev["event"] == "flow-new", ev
    assert (ev["hook"], ev["ifname"], ev["proto"]) == ("tc-ingress", dev, "tcp"), ev
    o = ev["orig"]
    assert (o["src"], o["dst"], o["dport"]) == (client, vip, 80), ev
    key = (o["src"], o["sport"], o["dst"], o["dport"])
    assert key in flows, f"no conntrack entry for {key}: {sorted(flows)}"
    f = flows[key]
    assert ev["nat"] == f["nat"], (ev["nat"], f["nat"])
    assert (ev["service_id"], ev["endpoint_id"]) == (f["service_id"], f["endpoint_id"]), (ev, f)
    assert ev["service_id"] == s["id"], (ev, s)
    assert ev["nat"]["dst"] == eps[ev["endpoint_id"]] and ev["nat"]["dport"] == 8080, (ev, eps)
    assert ev["len"] >= ev["caplen"] > 0 and ev["time_ns"] > 0, ev
    seen.add(ev["nat"]["dst"])
assert len(seen) == 3, f"rr over 3 endpoints, got {seen}"
EOF
}

@test "monitor flows: text lines for IPv6 flows" {
	lb_setup http
	lb_service "$VIP6" 80 8080
	mon_start monitor flows count 2
	lb_curls 2 "http://[$VIP6]/" -g >/dev/null
	mon_wait
	local re n=0 line
	re="^flow new tc-ingress dev $DEV_L tcp \[$C6\]:[0-9]+ > \[$VIP6\]:80 via \[2001:db8:[123]::2\]:8080 service [0-9]+ endpoint [0-9]+ len [0-9]+\$"
	while read -r line; do
		n=$((n + 1))
		grep -Eq "$re" <<<"$line" || {
			echo "line '$line' does not match /$re/" >&2
			false
		}
	done <"$T/mon.out"
	assert_eq "$n" 2 "lines"
}

@test "monitor drops -j: the reason, tuple, device and service of each drop" {
	lb_setup
	# 9000: the only endpoint is down (no-endpoint); 9001: the client is not allowed.
	lbctl_l service add "$VIP4" port 9000 proto udp
	lbctl_l endpoint add "$(b_ip4 1)" state down service "$VIP4" port 9000 proto udp
	lbctl_l service add "$VIP4" port 9001 proto udp allow 198.18.200.0/24
	lbctl_l endpoint add "$(b_ip4 1)" service "$VIP4" port 9001 proto udp
	lbctl_j -d service show >"$T/svc.json"
	mon_start -j monitor drops count 2
	assert_eq "$(mon_mask)" 1 "mask while monitoring drops"
	udp_send "$VIP4" 9000
	udp_send "$VIP4" 9001
	mon_wait
	"$PY" - "$T/mon.out" "$T/svc.json" "$DEV_L" "$C4" "$VIP4" <<'EOF'
import json, sys
mon, svc, dev, client, vip = sys.argv[1:6]
events = sorted((json.loads(l) for l in open(mon)), key=lambda e: e["orig"]["dport"])
ids = {s["port"]: s["id"] for s in json.load(open(svc))}
want = [(9000, "no-endpoint"), (9001, "not-allowed")]
assert len(events) == 2, events
for ev, (port, reason) in zip(events, want):
    assert (ev["event"], ev["reason"]) == ("drop", reason), ev
    assert (ev["hook"], ev["ifname"], ev["proto"]) == ("tc-ingress", dev, "udp"), ev
    o = ev["orig"]
    assert (o["src"], o["dst"], o["dport"]) == (client, vip, port), ev
    assert ev["service_id"] == ids[port], (ev, ids)
    assert ev["caplen"] == ev["len"] > 42, ev
EOF
	# The same drops in the counters.
	assert_eq "$(lbctl_j stats drops | json_get '[j["no-endpoint"]["packets"], j["not-allowed"]["packets"]]')" \
		"[1, 1]" "drop counters"
}

@test "monitor flows: the sweep reports the end of an expired flow" {
	lb_setup udp
	lb_service "$VIP4" 9000 9000 proto udp
	lbctl_l conntrack timeout set udp 2
	mon_start -j monitor flows count 2
	local got
	got=$(lb_udp_py "$VIP4" 9000)
	# The flow expires 2 s after its last packet; the sweep runs every second.
	mon_wait
	"$PY" - "$T/mon.out" "$C4" "$VIP4" "$(b_ip4 "${got#b}")" <<'EOF'
import json, sys
mon, client, vip, backend = sys.argv[1:5]
new, end = [json.loads(l) for l in open(mon)]
assert new["event"] == "flow-new" and end["event"] == "flow-end", (new, end)
for k in ("proto", "orig", "nat", "service_id", "endpoint_id"):
    assert new[k] == end[k], (k, new, end)
assert (end["orig"]["src"], end["orig"]["dst"], end["nat"]["dst"]) == (client, vip, backend), end
assert end["state"] in ("new", "established"), end
assert end["duration_ms"] >= 0 and end["time_ns"] > new["time_ns"], (new, end)
assert "len" not in end and "ifname" not in end, end
EOF
	assert_eq "$(lb_ct_flows)" 0 "flows left"
}

@test "monitor -w FILE: tcpdump -r reads the new flow's and the dropped packets" {
	lb_setup http
	lb_service "$VIP4" 80 8080
	lbctl_l service add "$VIP4" port 81	# no endpoint: its SYNs are dropped
	mon_start monitor all count 2 -w "$T/cap.pcap"
	lb_curl "http://$VIP4/" >/dev/null
	if lb_ns "$NS_C" curl -sS --max-time 2 "http://$VIP4:81/" 2>/dev/null; then
		echo "a connection to $VIP4:81, which has no endpoint, succeeded" >&2
		false
	fi
	mon_wait
	# The lines too: the new flow first, then the drop.
	grep -Eq "^flow new tc-ingress dev $DEV_L tcp $C4:[0-9]+ > $VIP4:80 via 198\.18\.[123]\.2:8080 " \
		<(sed -n 1p "$T/mon.out")
	grep -Eq "^drop no-endpoint tc-ingress dev $DEV_L tcp $C4:[0-9]+ > $VIP4:81 service [0-9]+ len [0-9]+\$" \
		<(sed -n 2p "$T/mon.out")
	run --separate-stderr tcpdump -r "$T/cap.pcap" -nn
	assert_status 0
	[ "${#lines[@]}" -eq 2 ] || {
		echo "tcpdump: ${#lines[@]} packets, expected 2: $output" >&2
		false
	}
	grep -Eq "IP $C4\.[0-9]+ > $VIP4\.80: Flags \[S\]" <<<"${lines[0]}" || {
		echo "packet 1: ${lines[0]}" >&2
		false
	}
	grep -Eq "IP $C4\.[0-9]+ > $VIP4\.81: Flags \[S\]" <<<"${lines[1]}" || {
		echo "packet 2: ${lines[1]}" >&2
		false
	}
	grep -q "link-type EN10MB (Ethernet), snapshot length 128" <<<"$stderr" || {
		echo "tcpdump: $stderr" >&2
		false
	}
	# Link type and snapshot length in the file header as documented.
	assert_eq "$(od -An -tu4 -j16 -N8 "$T/cap.pcap" | xargs)" "128 1" "snaplen and link type"
}

@test "the flag: 0 with no monitor, one monitor at a time, cleared on SIGTERM" {
	lb_setup
	assert_eq "$(mon_mask)" 0 "mask with no monitor"
	mon_start monitor drops
	assert_eq "$(mon_mask)" 1 "mask while monitoring drops"
	run --separate-stderr lbctl_l monitor flows
	assert_status 1
	assert_err_line lbctl "^lbctl: monitor: another monitor \(pid $MON_PID\) is reading the events"
	assert_eq "$(mon_mask)" 1 "mask after the refused monitor"
	kill -TERM "$MON_PID"
	mon_wait
	assert_eq "$(mon_mask)" 0 "mask right after SIGTERM"
	# The ring is free again.
	mon_start monitor flows
	assert_eq "$(mon_mask)" 2 "mask of the next monitor"
	kill -INT "$MON_PID"
	mon_wait
	assert_eq "$(mon_mask)" 0 "mask right after SIGINT"
}

@test "a monitor killed with SIGKILL: the kernel's sweep clears the mask, no tool running" {
	lb_setup
	mon_start monitor all
	assert_eq "$(mon_mask)" 3 "mask while monitoring"
	kill -KILL "$MON_PID"
	wait "$MON_PID" 2>/dev/null || true
	# The lease is 3 s and the sweep runs every second: bounded by 10 s.
	mask_zero_within 10
	# A new monitor takes the ring at once (the dead one's pid is gone).
	mon_start monitor drops
	kill -TERM "$MON_PID"
	mon_wait
}

@test "monitor: bad input is one line, exit 2 (usage) or 1, and sets nothing" {
	lb_setup
	run --separate-stderr lbctl_l monitor foo
	assert_status 2
	assert_err_line lbctl "monitor: keyword 'foo': expected one of drops, flows, all, count, write"
	run --separate-stderr lbctl_l monitor count 0
	assert_status 2
	assert_err_line lbctl "count '0': expected a number from 1 to 1000000000"
	run --separate-stderr lbctl_l monitor drops count
	assert_status 2
	assert_err_line lbctl "monitor: count: missing number"
	run --separate-stderr lbctl_l monitor drops flows
	assert_status 2
	assert_err_line lbctl "monitor: 'flows' after 'drops'"
	run --separate-stderr lbctl_l monitor -w
	assert_status 2
	assert_err_line lbctl "monitor: -w: missing file name"
	run --separate-stderr lbctl_l -j monitor -w -
	assert_status 2
	assert_err_line lbctl "no -j with it"
	run --separate-stderr lbctl_l monitor all -w "$T/no/such/dir/cap.pcap"
	assert_status 1
	assert_err_line lbctl "^lbctl: monitor: -w $T/no/such/dir/cap.pcap: No such file or directory\$"
	run --separate-stderr lbctl_l monitor write "$T"
	assert_status 1
	assert_err_line lbctl "monitor: -w $T: Is a directory"
	assert_eq "$(mon_mask)" 0 "mask after the refused commands"
	# No datapath under the root: exit 1.
	run --separate-stderr lb_ns "$NS_L" "$LBCTL" -P "$T/none" monitor
	assert_status 1
	assert_err_line lbctl "no datapath loaded here"
}
