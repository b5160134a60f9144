#!/usr/bin/env bats
# Floods of new flows from spoofed sources do not break established ones.
#
# The conntrack table (4096 entries here) is a plain hash: an entry leaves only
# when its flow ends, never to make room.  A new flow that finds the table full is
# dropped (counted: conntrack-full), and the sweep then removes flows that were never
# answered or are closing, idle for a second (counted: conntrack-early).  A spoofed
# source never answers the endpoint's reply, so its flow never becomes established.
#
# 500 connections talk every 100 ms through the VIP (tests/e2e/flows.py) while
# trafgen sends 10 times the table's size in SYNs (or UDP datagrams) per second for
# 10 s from 32768 spoofed addresses x random ports; meanwhile a legitimate client
# tries new connections.  Afterwards: no established connection broke, drops and
# removals were counted, and new connections work again at once.

# shellcheck disable=SC2154 # status, output: set by bats' run
load lb_helpers

TABLE=4096
RATE=$((10 * TABLE))	# packets per second
SECS=10

setup() {
	lbt_setup
	lb_topo
	lb_flow_servers start
	local n
	for n in 1 2 3; do
		lb_ns "${NS_B[n]}" "$PY" "$LB_REPO/tests/e2e/flows.py" udpserve 9000 "b$n" \
			--max-time 300 </dev/null >/dev/null 2>&1 3>&- &
		lbt_add_pid $!
	done
	local d
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		echo "attach dev $d tc ingress conntrack $TABLE"
	done | lbattach_l -b -
	lb_flow_servers wait
	for n in 1 2 3; do
		lb_wait_udp "${NS_B[n]}" 9000 || return 1
	done
	command -v trafgen >/dev/null || { echo "needs trafgen (netsniff-ng)" >&2; return 1; }
}

teardown() {
	lb_teardown
}

mac_of() {
	ip -n "$1" -j link show dev "$2" | json_get 'j[0]["address"]'
}

# flood_conf PROTO: a trafgen configuration for the client's veth: IPv4 from
# 198.19.128-255.x (dinc, drnd), random source port, to VIP4; TCP SYNs to port 7000
# or UDP datagrams to port 9000, checksums computed per packet.
flood_conf() {
	local dmac smac
	dmac=$(mac_of "$NS_L" "$DEV_L" | sed 's/^/0x/; s/:/, 0x/g')
	smac=$(mac_of "$NS_C" "$DEV_C" | sed 's/^/0x/; s/:/, 0x/g')
	if [ "$1" = tcp ]; then
		cat <<-EOF
		{
		  $dmac, $smac, c16(0x0800),
		  0x45, 0x00, c16(40), drnd(2), c16(0x4000), 64, 6, csumip(14, 33),
		  198, 19, dinc(128, 255), drnd(), 198, 19, 0, 10,
		  drnd(2), c16(7000), drnd(4), c32(0), 0x50, 0x02, c16(65535), csumtcp(14, 34), c16(0),
		}
		EOF
	else
		cat <<-EOF
		{
		  $dmac, $smac, c16(0x0800),
		  0x45, 0x00, c16(32), drnd(2), c16(0x4000), 64, 17, csumip(14, 33),
		  198, 19, dinc(128, 255), drnd(), 198, 19, 0, 10,
		  drnd(2), c16(9000), c16(12), csumudp(14, 34), 0x66, 0x6c, 0x6f, 0x6f,
		}
		EOF
	fi
}

# try_new N PROTO: N new connections (tcp: connect and read the backend's name;
# udp: a datagram and its answer), each given one second; prints how many worked.
# A failure must be a clean one: a timeout, never a reset or a wrong answer.
try_new() {
	lb_ns "$NS_C" "$PY" - "$VIP4" "$1" "$2" <<-'EOF'
	import socket, sys
	vip, n, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	ok = 0
	for i in range(n):
	    try:
	        if proto == "tcp":
	            s = socket.create_connection((vip, 7000), timeout=1)
	            s.settimeout(1)
	            name = s.recv(16).decode().strip()
	        else:
	            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	            s.settimeout(1)
	            s.sendto(b"hi\n", (vip, 9000))
	            name = s.recv(16).decode().strip()
	        s.close()
	        if name in ("b1", "b2", "b3"):
	            ok += 1
	        else:
	            print("bad answer %r" % name, file=sys.stderr)
	            sys.exit(1)
	    except socket.timeout:
	        pass
	    except ConnectionResetError:
	        print("connection reset", file=sys.stderr)
	        sys.exit(1)
	print(ok)
	EOF
}

# flood PROTO: the whole scenario for one protocol.
flood() {
	local proto=$1 r during after
	lb_service "$VIP4" 7000 7000
	lb_service "$VIP4" 9000 9000 proto udp
	lb_flow_client 500
	flood_conf "$proto" >"$T/flood.cfg"
	nsenter --net="/run/netns/$NS_C" trafgen --dev "$DEV_C" --conf "$T/flood.cfg" -q \
		-n $((RATE * SECS)) -b "${RATE}pps" >"$T/trafgen.log" 2>&1 &
	local tg=$!
	lbt_add_pid $tg
	during=$(try_new 20 "$proto")
	wait $tg || { cat "$T/trafgen.log" >&2; return 1; }
	r=$(lb_flow_report)
	echo "# $proto flood: established $r" >&3
	echo "# $proto flood: new flows during the flood: $during of 20 answered" >&3
	echo "# drops: $(lbctl_j stats drops | json_get '{k: v["packets"] for k, v in j.items() if v["packets"]}')" >&3
	echo "# sweep: $(lbctl_j info | json_get 'j["gc"]')" >&3
	assert_eq "$(json_get 'j["opened"]' <<<"$r")" 500 "established connections opened"
	assert_eq "$(json_get 'j["reset"]' <<<"$r")" 0 "established connections broken"
	assert_eq "$(json_get 'j["mismatched"]' <<<"$r")" 0 "echoes mismatched"
	assert_eq "$(json_get 'j["unfinished"]' <<<"$r")" 0 "established connections stalled"
	[ "$(lbctl_j stats drops | json_get 'j["conntrack-full"]["packets"]')" -gt 0 ] ||
		{ echo "the flood never filled the table" >&2; false; }
	[ "$(lbctl_j stats drops | json_get 'j["conntrack-early"]["packets"]')" -gt 0 ] ||
		{ echo "no early removal counted" >&2; false; }
	# Recovery: the first new flow after the flood may find the table still full of
	# the flood's flows; it makes the sweep remove them.  Within two sweep periods
	# (a few tries of a second each) new flows work, and then every one of them.
	local tries
	for tries in 1 2 3 4 5; do
		[ "$(try_new 1 "$proto")" = 1 ] && break
	done
	echo "# $proto flood: the first new flow after the flood worked at try $tries" >&3
	after=$(try_new 20 "$proto")
	echo "# $proto flood: new flows after the flood: $after of 20 answered" >&3
	[ "$after" -ge 19 ] || { echo "after the flood only $after of 20 new flows worked" >&2; false; }
}

@test "a SYN flood at 10x the table size from spoofed sources breaks no established connection" {
	flood tcp
}

@test "a UDP flood at 10x the table size from spoofed sources breaks no established connection" {
	flood udp
}
