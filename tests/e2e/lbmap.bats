#!/usr/bin/env bats
# lbmap: the pinned maps typed by their BTF (show, dump, lookup, update, delete),
# bad input refused in one line with nothing changed; and lbctl stats -w (rates).

# shellcheck disable=SC2154 # status, output, lines, stderr: set by bats' run
load helpers

NTC=$LB_REPO/build/bin/ntc
VIP=198.18.100.1
VIP6=2001:db8::100
EP=198.18.200.1


setup() {
	lbt_setup
	# ifindex 300: the interface counts in lb_if_stats, the hash keyed by
	# (ifindex, hook) whose enum these tests read by name.
	LBT_LINDEX=300 lbt_topo
	lbattach_l attach dev "$DEV_L" tc ingress
	lbctl_l service add "$VIP" port 80
	lbctl_l endpoint add "$EP" port 8080 service "$VIP" port 80
	IFX=$(ip -n "$NS_L" -j link show dev "$DEV_L" | json_get 'j[0]["ifindex"]')
	EP_ID=$(lbctl_l -j service show | json_get 'j[0]["endpoints"][0]["id"]')
	SVC_ID=$(lbctl_l -j service show | json_get 'j[0]["id"]')
}

teardown() {
	lbt_teardown
}

# Everything the rejected commands below could change, read with lbmap's own hex
# dump and with bpftool (lb_gc is left out: the sweep's timer changes it).
maps_state() {
	local m
	for m in lb_services lb_endpoints lb_svc_state lb_affinity lb_if_stats lb_config \
		lb_svc_stats lb_jmp lb_allow; do
		echo "== $m"
		lbmap_l -j dump "$m" hex 2>&1
		bpftool -j map dump pinned "$ROOT/maps/$m" 2>&1 | md5sum
	done
}

# rejected STATUS REGEX COMMAND...: exit STATUS, nothing on stdout, one line on
# stderr matching REGEX, and no map changed.
rejected() {
	local want=$1 re=$2
	shift 2
	run --separate-stderr "$@"
	assert_status "$want"
	assert_err_line lbmap "$re"
	assert_eq "$output" "" "stdout of a rejected command"
	assert_eq "$(maps_state)" "$BEFORE" "maps after: $*"
}

@test "show, dump, lookup: fields by name, addresses, enums, JSON" {
	local abi
	lbctl_l service add "$VIP6" port 443 proto udp sched maglev
	lbt_ping "$NS_C" "$IP_L" 3

	# show: the description, then "key K value V" per entry
	run --separate-stderr lbmap_l show lb_services
	assert_status 0
	assert_no_stderr
	[[ ${lines[0]} == "lb_services: hash id "* ]]
	[[ ${lines[1]} =~ key\ struct\ lb_svc_key\ \([0-9]+\ bytes\)\ value\ struct\ lb_svc\ \( ]]
	# (fields a later layout may add show up where ".*" stands)
	grep -qE "^key vip $VIP port 80 proto tcp family inet (.* )?value id $SVC_ID sched rr mode dnat family inet flags 0 persist 0 (.* )?snat 0.0.0.0 n_eps 1 n_allow 0 maglev_size 16381( .*)?\$" <<<"$output"
	grep -qE "^key vip $VIP6 port 443 proto udp family inet6 (.* )?value id [0-9]+ sched maglev mode dnat family inet6 " <<<"$output"

	# lookup takes what show prints
	run --separate-stderr lbmap_l lookup lb_services key vip "$VIP" port 80 proto tcp family inet
	assert_status 0
	[[ $output =~ ^"key vip $VIP port 80 proto tcp family inet "(.*" ")?"value id $SVC_ID sched rr " ]]
	# "key" is optional, family follows the address, unique prefix of the command
	run lbmap_l lo lb_services vip "$VIP6" port 443 proto udp
	assert_status 0
	[[ $output =~ ^"key vip $VIP6 port 443 proto udp family inet6 "(.*" ")?"value id " ]]

	# the service's endpoint list: (service id, index) -> endpoint id
	run lbmap_l lookup lb_svc_eps key svc_id "$SVC_ID" idx 0
	assert_status 0
	assert_eq "$output" "key svc_id $SVC_ID idx 0 value $EP_ID" "endpoint list"

	run lbmap_l lookup lb_endpoints "$EP_ID"
	assert_status 0
	assert_eq "$output" "key $EP_ID value addr $EP port 8080 family inet status up weight 1 flags 0 svc_id $SVC_ID" "endpoint"

	# an enum by name (hook), host-order ports, per-CPU counters summed
	run lbmap_l lookup lb_if_stats key ifindex "$IFX" hook tc-ingress
	assert_status 0
	[[ $output == "key ifindex $IFX hook tc-ingress value ctr[0].packets 3 ctr[0].bytes 294 "* ]]

	# show leaves out the empty slots of an array; dump has them all
	assert_eq "$(lbmap_l show lb_endpoints | grep -c '^key ')" 1 "endpoints shown"
	assert_eq "$(lbmap_l dump lb_endpoints | grep -c '^key ')" \
		"$(lbmap_l -j show lb_endpoints | json_get 'j["max_entries"]')" "endpoints dumped"

	# program arrays and maps of maps: the id and name of what they hold
	run lbmap_l show lb_jmp
	assert_status 0
	grep -q '^key 0 value id [0-9]* name lb_tc_slow$' <<<"$output"
	grep -q '^key 1 value id [0-9]* name lb_tc_icmp$' <<<"$output"
	# the service's selection table: its slice of lb_sel holds its endpoint
	local off
	off=$(lbmap_l -j dump lb_services |
		json_get '[e["value"]["sel_off"] for e in j if e["value"]["id"] == '"$SVC_ID"'][0]')
	assert_eq "$(lbmap_l lookup lb_sel "$off")" "key $off value $EP_ID" "slot $off"

	# JSON, read by python's json module
	run --separate-stderr lbmap_l -j show lb_services
	assert_status 0
	"$PY" -c '
import json, sys
vip, vip6, ep_id = sys.argv[1:4]
j = json.loads(sys.stdin.read())
assert j["name"] == "lb_services" and j["key_type"] == "struct lb_svc_key", j
e = {x["key"]["vip"]: x for x in j["elements"]}
k, v = e[vip]["key"], e[vip]["value"]
assert {f: k[f] for f in ("vip", "port", "proto", "family")} == \
    {"vip": vip, "port": 80, "proto": "tcp", "family": "inet"}, k
assert v["sched"] == "rr" and v["mode"] == "dnat" and v["snat"] == "0.0.0.0", v
assert v["n_eps"] == 1 and "eps" not in v, v
assert v["n_allow"] == 0 and "allow" not in v, v
assert e[vip6]["key"]["family"] == "inet6" and e[vip6]["value"]["sched"] == "maglev"
' "$VIP" "$VIP6" "$EP_ID" <<<"$output"
	run lbmap_l -j lookup lb_if_stats key ifindex "$IFX" hook tc-ingress
	assert_status 0
	assert_eq "$(json_get '[j["key"]["hook"], j["value"]["ctr"][0]["packets"], j["value"]["ctr"][6]["bytes"]]' <<<"$output")" \
		'["tc-ingress", 3, 294]' "lb_if_stats JSON"
	run lbmap_l -j dump lb_jmp
	assert_status 0
	assert_eq "$(json_get '[e["value"]["name"] for e in j]' <<<"$output")" \
		'["lb_tc_slow", "lb_tc_icmp"]' "lb_jmp JSON"

	# dump hex: the raw bytes; the layout version is the first field of lb_config
	abi=$(lbmap_l -V | sed 's/.*(abi \([0-9]*\)).*/\1/')
	run lbmap_l dump lb_config hex
	assert_status 0
	[[ $output == "key: 00 00 00 00  value: $(printf '%02x' "$abi") 00 00 00 "* ]]
	run lbmap_l lookup lb_config 0
	[[ $output == "key 0 value abi_version $abi flags 0 created_ns "* ]]
}

@test "update, lookup, delete: a hash map and an array map" {
	# hash (LRU): a new entry, fields by name, the address as an address
	run --separate-stderr lbmap_l update lb_affinity key client 198.18.0.77 svc_id 9 \
		value ep_id 3 last_seen_ns 12345 noexist
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "" "update prints nothing"
	run lbmap_l lookup lb_affinity key client 198.18.0.77 svc_id 9
	assert_status 0
	assert_eq "$output" "key client 198.18.0.77 svc_id 9 value ep_id 3 last_seen_ns 12345" "lookup"
	# fields not named keep their value
	lbmap_l update lb_affinity key client 198.18.0.77 svc_id 9 value ep_id 4 exist
	assert_eq "$(lbmap_l lookup lb_affinity client 198.18.0.77 svc_id 9)" \
		"key client 198.18.0.77 svc_id 9 value ep_id 4 last_seen_ns 12345" "merged"
	# an IPv6 client, JSON
	lbmap_l update lb_affinity key client 2001:db8::77 svc_id 9 value ep_id 5
	assert_eq "$(lbmap_l -j lookup lb_affinity key client 2001:db8::77 svc_id 9 | json_get '[j["key"]["client"], j["value"]["ep_id"]]')" \
		'["2001:db8::77", 5]' "IPv6 key"
	run lbmap_l delete lb_affinity key client 198.18.0.77 svc_id 9
	assert_status 0
	run --separate-stderr lbmap_l lookup lb_affinity key client 198.18.0.77 svc_id 9
	assert_status 1
	assert_err_line lbmap '^lbmap: lb_affinity: key not found$'
	run --separate-stderr lbmap_l delete lb_affinity key client 198.18.0.77 svc_id 9
	assert_status 1
	assert_err_line lbmap '^lbmap: lb_affinity: key not found$'
	assert_eq "$(lbmap_l show lb_affinity | grep -c '^key ')" 1 "one entry left"

	# array: by field, by a lone value, in hex
	lbmap_l update lb_svc_state key 7 value rr_cursor 42
	assert_eq "$(lbmap_l lookup lb_svc_state 7)" "key 7 value rr_cursor 42" "by field"
	lbmap_l update lb_svc_state 7 value 0x2b
	assert_eq "$(lbmap_l lookup lb_svc_state key 7)" "key 7 value rr_cursor 43" "lone value"
	lbmap_l update lb_svc_state key hex 07 00 00 00 value hex 2c 00 00 00 00 00 00 00
	assert_eq "$(lbmap_l lookup lb_svc_state 7)" "key 7 value rr_cursor 44" "hex"
	lbmap_l update lb_svc_state key 7 value rr_cursor 0
	assert_eq "$(lbmap_l show lb_svc_state | grep -c '^key 7 ')" 0 "zero slot not shown"

	# a struct with an array and enums: the config keeps what is not named
	local created
	created=$(lbmap_l -j lookup lb_config 0 | json_get 'j["value"]["created_ns"]')
	lbmap_l update lb_config key 0 value gc_interval_ms 2048 timeout[1] 7000
	run lbmap_l -j lookup lb_config 0
	assert_eq "$(json_get '[j["value"]["gc_interval_ms"], j["value"]["timeout"][:3], j["value"]["created_ns"]]' <<<"$output")" \
		"[2048, [0, 7000, 0], $created]" "lb_config"
	assert_eq "$(lbctl_l -j conntrack timeout show | json_get 'j["tcp-est"]')" 7000 "lbctl sees it"
	lbmap_l update lb_config key 0 value gc_interval_ms 0 timeout 0
	assert_eq "$(lbmap_l -j lookup lb_config 0 | json_get '[j["value"]["gc_interval_ms"], any(j["value"]["timeout"])]')" \
		"[0, false]" "lb_config back"
}

@test "per-CPU maps: the value is the sum over the CPUs, -d shows each CPU" {
	local ncpu
	ncpu=$("$PY" -c 'import os; print(len(os.sched_getaffinity(0)))')
	lbt_ping "$NS_C" "$IP_L" 4

	# lb_if_stats (per-CPU hash): the sum is what lbctl stats shows
	run lbmap_l -j lookup lb_if_stats key ifindex "$IFX" hook tc-ingress
	assert_status 0
	assert_eq "$(json_get 'j["value"]["ctr"][0]["packets"]' <<<"$output")" \
		"$(lbt_ctr "$DEV_L" tc-ingress rx packets)" "sum = lbctl stats"
	assert_eq "$(json_get 'j["value"]["ctr"][0]["packets"]' <<<"$output")" 4 "rx packets"
	run lbmap_l -d -j lookup lb_if_stats key ifindex "$IFX" hook tc-ingress
	assert_status 0
	"$PY" -c '
import json, sys
j = json.loads(sys.stdin.read())
v = j["values"]
assert len(v) >= int(sys.argv[1]), len(v)
assert [c["cpu"] for c in v] == list(range(len(v)))
for i in range(11):
    for f in ("packets", "bytes"):
        assert sum(c["value"]["ctr"][i][f] for c in v) == j["value"]["ctr"][i][f], (i, f)
' "$ncpu" <<<"$output"

	# per-CPU array: an update writes the sum (CPU 0 gets it, the others 0)
	lbmap_l update lb_svc_stats key 3 value packets 10 bytes 1000
	assert_eq "$(lbmap_l lookup lb_svc_stats 3)" "key 3 value packets 10 bytes 1000 flows 0 drops 0" "sum"
	run lbmap_l -d lookup lb_svc_stats 3
	assert_status 0
	assert_eq "${lines[1]}" "  cpu 0 packets 10 bytes 1000 flows 0 drops 0" "cpu 0"
	[ "${#lines[@]}" -ge 2 ]
	for l in "${lines[@]:2}"; do
		[[ $l =~ ^"  cpu "[0-9]+" packets 0 bytes 0 flows 0 drops 0"$ ]]
	done
	lbmap_l update lb_svc_stats key 3 value flows 2
	assert_eq "$(lbmap_l lookup lb_svc_stats 3)" "key 3 value packets 10 bytes 1000 flows 2 drops 0" "merged"
	lbmap_l update lb_svc_stats key 3 value packets 0 bytes 0 flows 0
	assert_eq "$(lbmap_l show lb_svc_stats | grep -c '^key 3 ')" 0 "zeroed"
}

@test "an example program's map by field name: rl_config of ratelimit" {
	lb_ns "$NS_L" "$NTC" -P "$ROOT" filter add dev "$DEV_L" egress bpf da \
		obj "$LB_REPO/build/examples/ratelimit.bpf.o" sec ratelimit_tc
	run --separate-stderr lbmap_l update rl_config key 0 value rate_pps 100 burst 20
	assert_status 0
	assert_no_stderr
	assert_eq "$(lbmap_l lookup rl_config key 0)" "key 0 value rate_pps 100 burst 20" "rl_config"
	assert_eq "$(lbmap_l -j lookup rl_config 0 | json_get 'j["value"]')" \
		'{"rate_pps": 100, "burst": 20}' "rl_config JSON"
	run --separate-stderr lbmap_l update rl_config key 0 value rate 100
	assert_status 2
	assert_err_line lbmap "^lbmap: rl_config: value: field 'rate' unknown\$"
	assert_eq "$(lbmap_l lookup rl_config key 0)" "key 0 value rate_pps 100 burst 20" "unchanged"
}

@test "bad input: one line, exit status, no map changed" {
	BEFORE=$(maps_state)
	local svc=(key vip "$VIP" port 80 proto tcp)

	# unknown map
	rejected 1 "^lbmap: map 'nosuch': no such map in $ROOT/maps\$" lbmap_l lookup nosuch key 0
	rejected 1 "^lbmap: map 'nosuch': no such map in $ROOT/maps\$" lbmap_l update nosuch key 0 value 1
	rejected 1 "^lbmap: map 'nosuch': no such map in $ROOT/maps\$" lbmap_l show nosuch
	rejected 1 "^lbmap: map '../progs/lb_xdp': no such map" lbmap_l dump ../progs/lb_xdp
	# unknown field, in the key and in the value
	rejected 2 "^lbmap: lb_services: key: field 'vipp' unknown\$" \
		lbmap_l lookup lb_services key vipp "$VIP" port 80
	rejected 2 "^lbmap: lb_services: value: field 'foo' unknown\$" \
		lbmap_l update lb_services "${svc[@]}" value foo 1
	rejected 2 "^lbmap: lb_config: value: field 'timeout\[9\]': index 9 out of range 0..7\$" \
		lbmap_l update lb_config key 0 value timeout[9] 1
	# wrong key size, wrong value size
	rejected 2 "^lbmap: lb_if_stats: key: hex: 3 bytes, expected 8\$" \
		lbmap_l lookup lb_if_stats key hex 01 02 03
	rejected 2 "^lbmap: lb_svc_state: value: hex: 4 bytes, expected 8\$" \
		lbmap_l update lb_svc_state key 1 value hex 01 00 00 00
	rejected 2 "^lbmap: lb_svc_state: key: index 5000 out of range 0..1023\$" \
		lbmap_l update lb_svc_state key 5000 value 1
	rejected 2 "^lbmap: lb_endpoints: key: unexpected '2' after the value\$" \
		lbmap_l lookup lb_endpoints key 1 2
	# bad values
	rejected 2 "^lbmap: lb_svc_state: value: field 'rr_cursor': 'abc' is not a number\$" \
		lbmap_l update lb_svc_state key 1 value rr_cursor abc
	rejected 2 "^lbmap: lb_services: value: field 'sched': 'fastest' unknown, expected one of rr, wrr, random, hash, maglev, lc or a number\$" \
		lbmap_l update lb_services "${svc[@]}" value sched fastest
	rejected 2 "^lbmap: lb_services: key: field 'port': '70000' out of range 0..65535\$" \
		lbmap_l lookup lb_services key vip "$VIP" port 70000
	rejected 2 "^lbmap: lb_services: key: field 'vip': '198.18.1' is not an IPv4 or IPv6 address\$" \
		lbmap_l lookup lb_services key vip 198.18.1 port 80
	rejected 2 "^lbmap: lb_if_stats: key: field 'hook': 'tc' unknown, expected one of xdp, tc-ingress, tc-egress or a number\$" \
		lbmap_l lookup lb_if_stats key ifindex 1 hook tc
	rejected 2 "^lbmap: lb_ep_state: value: field 'active': '-9223372036854775809' out of range" \
		lbmap_l update lb_ep_state key 1 value active -9223372036854775809
	# missing parts
	rejected 2 "^lbmap: lb_svc_state: missing value\$" lbmap_l update lb_svc_state key 1
	rejected 2 "^lbmap: lb_svc_state: value: missing\$" lbmap_l update lb_svc_state key 1 value
	rejected 2 "^lbmap: lb_svc_state: missing key\$" lbmap_l update lb_svc_state key value 1
	rejected 2 "^lbmap: lb_services: key: field 'port': missing value\$" \
		lbmap_l lookup lb_services key vip "$VIP" port
	rejected 2 "^lbmap: lookup: missing map NAME\$" lbmap_l lookup
	rejected 2 "^lbmap: lb_svc_state: value: unexpected 'maybe' after the value\$" \
		lbmap_l update lb_svc_state key 1 value 5 maybe
	rejected 2 "^lbmap: update: flag 'maybe': expected one of any, exist, noexist\$" \
		lbmap_l update lb_jmp key 3 value name lb_tc_slow maybe
	# refused: deleting from an array, writing the sweep's timer, a missing key
	rejected 2 "^lbmap: lb_endpoints: delete: the elements of an array cannot be deleted" \
		lbmap_l delete lb_endpoints key "$EP_ID"
	rejected 1 "^lbmap: lb_gc: the value holds a struct bpf_timer, which a write from user space resets; refused\$" \
		lbmap_l update lb_gc key 0 value runs 0
	rejected 1 "^lbmap: lb_services: update: the key exists \(noexist\)\$" \
		lbmap_l update lb_services "${svc[@]}" value persist 5 noexist
	rejected 1 "^lbmap: lb_affinity: update: key not found \(exist\)\$" \
		lbmap_l update lb_affinity key client 198.18.0.9 svc_id 1 value ep_id 1 exist
	rejected 1 "^lbmap: lb_services: key not found\$" \
		lbmap_l delete lb_services key vip "$VIP" port 81 proto tcp
	rejected 1 "^lbmap: lb_jmp: value: no program name nosuch\$" \
		lbmap_l update lb_jmp key 3 value name nosuch

	# with -j the error is also a JSON object on stdout
	run --separate-stderr lbmap_l -j lookup lb_services key vipp 1
	assert_status 2
	assert_err_line lbmap "^lbmap: lb_services: key: field 'vipp' unknown\$"
	assert_eq "$(json_get 'j["error"]' <<<"$output")" "lb_services: key: field 'vipp' unknown" "json error"
	assert_eq "$(maps_state)" "$BEFORE" "maps after all"
}

@test "our maps: a value liblb would refuse is refused (exit 2, nothing written), and save restores" {
	BEFORE=$(maps_state)
	local svc=(key vip "$VIP" port 80 proto tcp family inet)
	local other=(key vip 198.18.100.2 port 80 proto tcp family inet)

	# a field given twice: the parser's rule, the last one never wins
	rejected 2 "^lbmap: lb_endpoints: value: field 'port': given twice\$" \
		lbmap_l update lb_endpoints key "$EP_ID" value port 1 port 2
	# an IPv4-mapped IPv6 address into an IPv4 entry (it would read as 0.0.0.0)
	rejected 2 "^lbmap: lb_endpoints: update: endpoint ::ffff:198\.18\.1\.3 is an IPv6 address, the family inet\$" \
		lbmap_l update lb_endpoints key "$EP_ID" value addr ::ffff:198.18.1.3 family inet
	rejected 2 "^lbmap: lb_endpoints: update: endpoint family differs from the service's\$" \
		lbmap_l update lb_endpoints key "$EP_ID" value addr 2001:db8::5
	# the weight fits the field (32 bits), not liblb's range
	rejected 2 "^lbmap: lb_endpoints: update: weight above 65535\$" \
		lbmap_l update lb_endpoints key "$EP_ID" value weight 70000
	# a selection table slot holds an endpoint id
	rejected 2 "^lbmap: lb_sel: update: endpoint id 9000000 out of range 0\.\.[0-9]+\$" \
		lbmap_l update lb_sel key 5 value 9000000
	rejected 2 "^lbmap: lb_endpoints: update: port 0\$" \
		lbmap_l update lb_endpoints key "$EP_ID" value port 0
	rejected 2 "^lbmap: lb_endpoints: update: endpoint 127\.0\.0\.1 is a loopback address\$" \
		lbmap_l update lb_endpoints key "$EP_ID" value addr 127.0.0.1
	rejected 2 "^lbmap: lb_endpoints: update: unknown address family\$" \
		lbmap_l update lb_endpoints key 100 value addr 198.18.1.9 port 80 svc_id 999 family 5
	# a service key of port 0 and proto 0, another service's id
	rejected 2 "^lbmap: lb_services: update: protocol must be tcp or udp\$" \
		lbmap_l update lb_services key vip 198.18.100.2 port 0 proto 0 family inet \
		value id 7 family inet
	rejected 2 "^lbmap: lb_services: update: port 0\$" \
		lbmap_l update lb_services key vip 198.18.100.2 port 0 proto tcp family inet \
		value id 7 family inet
	rejected 2 "^lbmap: lb_services: update: id $SVC_ID is the service $VIP port 80's\$" \
		lbmap_l update lb_services "${other[@]}" value id "$SVC_ID" family inet
	rejected 2 "^lbmap: lb_services: update: family 0, the key's is 4\$" \
		lbmap_l update lb_services "${other[@]}" value id 7
	rejected 2 "^lbmap: lb_services: update: VIP ::ffff:198\.18\.100\.2 is an IPv6 address, the family inet\$" \
		lbmap_l update lb_services key vip ::ffff:198.18.100.2 port 80 proto tcp family inet \
		value id 7 family inet
	rejected 2 "^lbmap: lb_services: update: unknown scheduler\$" \
		lbmap_l update lb_services "${svc[@]}" value sched 9
	rejected 2 "^lbmap: lb_services: update: snat address of the wrong family\$" \
		lbmap_l update lb_services "${svc[@]}" value mode fullnat snat 2001:db8::1
	rejected 2 "^lbmap: lb_config: update: abi_version 99: the layout is [0-9]+ \('lbattach upgrade' changes it\)\$" \
		lbmap_l update lb_config key 0 value abi_version 99
	# n_allow counts the service's lb_allow entries; those are prefixes of its family
	rejected 2 "^lbmap: lb_services: update: n_allow 2: lb_allow holds 0 prefixes of id $SVC_ID\$" \
		lbmap_l update lb_services "${svc[@]}" value n_allow 2
	local pfx=(key prefixlen 56 svc_id "$SVC_ID" src 198.18.5.0)
	rejected 2 "^lbmap: lb_allow: update: svc_id 999: no such service\$" \
		lbmap_l update lb_allow key prefixlen 56 svc_id 999 src 198.18.5.0 value action 1 prefix_len 24
	rejected 2 "^lbmap: lb_allow: update: action 2: the only action is 1 \(allow\), pad 0\$" \
		lbmap_l update lb_allow "${pfx[@]}" value action 2 prefix_len 24
	rejected 2 "^lbmap: lb_allow: update: prefix_len 23: the key's is 24\$" \
		lbmap_l update lb_allow "${pfx[@]}" value action 1 prefix_len 23
	rejected 2 "^lbmap: lb_allow: update: allow 198\.18\.5\.0/16: bits set past the prefix length\$" \
		lbmap_l update lb_allow key prefixlen 48 svc_id "$SVC_ID" src 198.18.5.0 value action 1 prefix_len 16
	rejected 2 "^lbmap: lb_allow: update: allow 2001:db8:0:1::/64: not of the service's family\$" \
		lbmap_l update lb_allow key prefixlen 96 svc_id "$SVC_ID" src 2001:db8:0:1:: value action 1 prefix_len 64

	# What liblb would write goes through, and save still writes what restore takes.
	lbmap_l update lb_endpoints key "$EP_ID" value weight 65535 port 8081
	lbmap_l update lb_services "${svc[@]}" value persist 30
	run lbctl_l save
	assert_status 0
	grep -qxF "service add $VIP port 80 proto tcp sched rr mode dnat persist 30" <<<"$output"
	grep -qxF "endpoint add $EP port 8081 weight 65535 service $VIP port 80 proto tcp" <<<"$output"
	lbctl_l restore - <<<"$output"
}

@test "stats -w SECONDS count N: blocks of rates, JSON lines" {
	local pid
	lbt_ping "$NS_C" "$IP_L" 1
	nsenter --net="/run/netns/$NS_C" ping -q -n -i 0.2 "$IP_L" >/dev/null 2>&1 3>&- &
	pid=$!
	lbt_add_pid "$pid"

	# not a terminal: one block per interval, a header line each, no escapes
	run --separate-stderr lbctl_l stats -w 1 count 2
	assert_status 0
	assert_no_stderr
	assert_eq "$(grep -c '^DEV  *HOOK  *COUNTER  *PACKETS/S  *BYTES/S  *PACKETS  *BYTES$' <<<"$output")" 2 "headers"
	assert_eq "$(grep -cE "^$DEV_L +tc-ingress +rx +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+\$" <<<"$output")" 2 "rx rows"
	assert_eq "$(grep -c $'\033' <<<"$output")" 0 "escapes"
	# the totals only grow
	local t1 t2
	t1=$(grep -E "^$DEV_L +tc-ingress +rx " <<<"$output" | awk 'NR == 1 {print $6}')
	t2=$(grep -E "^$DEV_L +tc-ingress +rx " <<<"$output" | awk 'NR == 2 {print $6}')
	[ "$t2" -ge "$t1" ] && [ "$t1" -ge 1 ]

	# JSON: one object per line, and each rate is its block's growth per second
	run --separate-stderr lbctl_l -j stats -w 0.5 count 3 dev "$DEV_L"
	assert_status 0
	assert_no_stderr
	assert_eq "${#lines[@]}" 3 "JSON lines"
	"$PY" -c '
import json, sys
dev = sys.argv[1]
blocks = [json.loads(l) for l in sys.stdin.read().splitlines()]
prev = None
for b in blocks:
    assert b["interval_ms"] > 0 and b["time"] > 0, b
    [e] = [e for e in b["interfaces"] if e["ifname"] == dev and e["hook"] == "tc-ingress"]
    assert all(e["ifname"] == dev for e in b["interfaces"]), b
    for name, c in e["counters"].items():
        assert set(c) == {"packets", "bytes", "packets_per_sec", "bytes_per_sec"}, c
    rx = e["counters"]["rx"]
    if prev is not None:
        for f in ("packets", "bytes"):
            rate = (rx[f] - prev[f]) * 1000.0 / b["interval_ms"]
            # interval_ms is rounded to a millisecond
            assert abs(rx[f + "_per_sec"] - rate) <= 1 + rate * 0.002, (f, rx, prev, b)
    prev = rx
' "$DEV_L" <<<"$output"

	# count needs -w; -w needs seconds
	run --separate-stderr lbctl_l stats count 2
	assert_status 2
	assert_err_line lbctl '^lbctl: count: only with -w SECONDS$'
	run --separate-stderr lbctl_l stats -w 0
	assert_status 2
	assert_err_line lbctl "^lbctl: -w '0': expected seconds from 0.1 to 86400\$"
	run --separate-stderr lbctl_l stats -w 1 count 0
	assert_status 2
	assert_err_line lbctl "^lbctl: count '0': expected a number from 1 to"
}
