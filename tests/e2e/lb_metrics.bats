#!/usr/bin/env bats
# lbctl metrics: the Prometheus text format (checked with promtool), every number
# equal to what lbctl -j shows at the same moment, label escaping, and metrics write
# replacing its file whole or not at all.  Topology and servers: lb_helpers.bash.

load lb_helpers

MPY=$BATS_TEST_DIRNAME/metrics.py

teardown() {
	lb_teardown
}

# metrics_show FILE: lbctl metrics show into FILE; promtool must accept it.
metrics_show() {
	lbctl_l metrics show >"$1" || return 1
	promtool check metrics <"$1" || {
		echo "promtool refused $1:" >&2
		cat "$1" >&2
		return 1
	}
}

# json_snapshot DIR: what lbctl -j says of counters, drops, services, tables.
json_snapshot() {
	lbctl_j stats >"$1/stats.json" && lbctl_j stats drops >"$1/drops.json" &&
		lbctl_j -s service show >"$1/svc.json" && lbctl_j info >"$1/info.json"
}

# sweep_value PROM NAME: one sweep counter of an exposition file (seconds as ns).
sweep_value() {
	"$PY" "$MPY" samples "$1" "^$2\$" | awk '{print $NF}'
}

@test "metrics show: promtool accepts it; every number equals lbctl -j at the same moment" {
	lb_setup http udp
	lb_service "$VIP4" 80 8080
	lb_service "$VIP6" 80 8080 sched wrr
	lb_service "$VIP4" 9000 9000 proto udp
	lbctl_l endpoint set "$(b_ip4 2)" port 9000 state drain service "$VIP4" port 9000 proto udp
	lbctl_l endpoint set "$(b_ip4 3)" port 9000 weight 3 service "$VIP4" port 9000 proto udp
	lbctl_l service add "$VIP4" port 81	# no endpoint: its packets are drops
	lb_curls 6 "http://$VIP4/" >/dev/null
	lb_curl "http://[$VIP6]/" >/dev/null
	lb_udp_py "$VIP4" 9000 >/dev/null
	run lb_curl "http://$VIP4:81/" --max-time 1
	[ "$status" -ne 0 ]
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		lbt_wait_quiet "$NS_L" "$d"
	done

	# Metrics, lbctl -j, metrics again: when the two agree nothing moved in between
	# (the sweep's counters aside, which move every second), so lbctl -j saw the
	# same moment.  A stray packet (a neighbour probe) means another try.
	local try same=0
	for try in 1 2 3 4 5; do
		metrics_show "$T/m1.prom"
		json_snapshot "$T"
		metrics_show "$T/m2.prom"
		"$PY" "$MPY" samples "$T/m1.prom" >"$T/m1.samples"
		"$PY" "$MPY" samples "$T/m2.prom" >"$T/m2.samples"
		if cmp -s "$T/m1.samples" "$T/m2.samples"; then
			same=1
			break
		fi
		lbt_wait_quiet "$NS_L" "$DEV_L"
	done
	assert_eq "$same" 1 "two metrics snapshots in a row agree (try $try)"
	"$PY" "$MPY" expect "$T"/{stats,drops,svc,info}.json >"$T/expect.samples"
	diff -u "$T/expect.samples" "$T/m1.samples"

	# The traffic is there, so the comparison compared something.
	grep -q "^lbkit_service_flows_total{port=\"80\",proto=\"tcp\",vip=\"$VIP4\"} 6\$" "$T/m1.samples"
	grep -q "^lbkit_drop_packets_total{reason=\"no-endpoint\"} [1-9]" "$T/m1.samples"
	grep -q "^lbkit_interface_packets_total{class=\"tcp\",dev=\"$DEV_L\",hook=\"tc-ingress\"} [1-9]" \
		"$T/m1.samples"
	grep -q "^lbkit_endpoint_state{endpoint=\"$(b_ip4 2)\",endpoint_port=\"9000\",port=\"9000\",proto=\"udp\",state=\"drain\",vip=\"$VIP4\"} 1\$" \
		"$T/m1.samples"
	grep -q "^lbkit_table_entries{table=\"services\"} 4\$" "$T/m1.samples"
	grep -q "^lbkit_table_entries{table=\"endpoints\"} 9\$" "$T/m1.samples"

	# The sweep's counters: what lbctl -j info showed lies between the two snapshots.
	local name key a j b
	for name in sweeps_total:runs sweep_removed_total:expired \
		sweep_early_removed_total:early sweep_seconds_total:sweep_ns; do
		key=${name#*:}
		a=$(sweep_value "$T/m1.prom" "lbkit_conntrack_${name%:*}")
		b=$(sweep_value "$T/m2.prom" "lbkit_conntrack_${name%:*}")
		j=$(json_get "j['gc']['$key']" <"$T/info.json")
		if [ -z "$a" ] || [ -z "$b" ] || [ "$a" -gt "$j" ] || [ "$j" -gt "$b" ]; then
			echo "lbkit_conntrack_${name%:*}: $a, $b around lbctl -j info's $key $j" >&2
			false
		fi
	done
	# The sweep runs every second: its last run is a moment of the last minute.
	a=$(sweep_value "$T/m2.prom" lbkit_conntrack_sweep_last_timestamp_seconds)
	b=$(date +%s%N)
	if [ "$a" -gt "$b" ] || [ "$a" -lt $((b - 60000000000)) ]; then
		echo "last sweep at $a ns, now $b ns" >&2
		false
	fi
	# Every family has its HELP and TYPE, once, before its samples.
	run --separate-stderr "$PY" - "$T/m1.prom" <<'EOF'
import re, sys
seen, cur = set(), None
for line in open(sys.argv[1]):
    if line.startswith('# HELP '):
        cur = line.split()[2]
        assert cur not in seen, 'family twice: ' + cur
        seen.add(cur)
    elif line.startswith('# TYPE '):
        assert line.split()[2] == cur, 'TYPE without HELP: ' + line
    else:
        assert re.match(r'[a-z_]+', line).group(0) == cur, 'sample out of its family: ' + line
print(len(seen))
EOF
	assert_status 0
	[ "$output" -ge 20 ]
}

@test "metrics show: label values are escaped (a device named with a quote and a backslash)" {
	lbt_setup
	NS_L=lbl$ID NS_C=lbc$ID DEV_C=vc$ID DEV_L="q\"\\$ID"
	lbt_netns_add "$NS_L"
	lbt__pair "$NS_C" "$DEV_C" "$DEV_L" "$IP_C" "$IP_L"
	lbattach_l attach dev "$DEV_L" tc ingress
	lbt_ping "$NS_C" "$IP_L" 3
	metrics_show "$T/m.prom"
	grep -qF "lbkit_interface_packets_total{dev=\"q\\\"\\\\$ID\",hook=\"tc-ingress\",class=\"icmp\"} 3" \
		"$T/m.prom"
	# Read back, the label is the device's name.
	run --separate-stderr "$PY" "$MPY" label "$T/m.prom" lbkit_interface_packets_total dev
	assert_status 0
	assert_eq "$(sort -u <<<"$output")" "$DEV_L" "dev label, unescaped"
}

@test "metrics write: the file is replaced whole (a reader never sees part of one), mode 0644" {
	lb_setup
	lbctl_l service add "$VIP4" port 80
	lbctl_l endpoint add "$(b_ip4 1)" port 8080 service "$VIP4" port 80
	local f=$T/textfile/lbkit.prom
	mkdir "$T/textfile"
	(umask 077 && lbctl_l metrics write "$f")
	assert_eq "$(stat -c %a "$f")" 644 "mode of the written file"
	promtool check metrics <"$f"
	# A reader copies the file as fast as it can while it is rewritten 100 times:
	# every copy must be a whole file, from the first family's HELP to the last
	# family's sample and the line feed after it.
	bash -c '
		f=$1 t=$2 n=0 bad=0
		while [ ! -e "$t/stop" ]; do
			cat "$f" >"$t/read" || exit 1
			n=$((n + 1))
			if [ "$(head -c 36 "$t/read")" != "# HELP lbkit_interface_packets_total" ] ||
				! tail -1 "$t/read" | grep -q "^lbkit_conntrack_full_last_timestamp_seconds [0-9.]*\$" ||
				[ -n "$(tail -c 1 "$t/read")" ]; then
				bad=$((bad + 1))
				cp "$t/read" "$t/bad.$bad"
			fi
		done
		echo "$n $bad" >"$t/reads"' reader "$f" "$T" &
	local reader=$!
	lbt_add_pid $reader
	for _ in $(seq 100); do
		lbctl_l metrics write "$f"
	done
	touch "$T/stop"
	wait $reader
	local reads
	reads=$(cat "$T/reads")
	[ "${reads% *}" -gt 10 ]
	assert_eq "${reads#* }" 0 "partial files among ${reads% *} reads"
	promtool check metrics <"$T/read"
	# No temporary file left beside it.
	assert_eq "$(ls -A "$T/textfile")" lbkit.prom "files in the directory"
}

@test "metrics write: a directory it cannot write fails with one line and keeps the old file" {
	lb_setup
	lbctl_l service add "$VIP4" port 80
	local d=$T/textfile
	mkdir "$d"
	echo "old" >"$d/lbkit.prom"
	# Read-only for root too: a read-only bind mount, in a mount namespace of its own.
	run --separate-stderr unshare -m sh -c '
		mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" || exit 99
		shift
		exec nsenter --net="/run/netns/$1" "$2" -P "$3" metrics write "$4/lbkit.prom"' \
		sh "$d" "$NS_L" "$LBCTL" "$ROOT" "$d"
	assert_status 1
	assert_err_line lbctl "^lbctl: metrics write: .*/lbkit.prom: Read-only file system$"
	assert_eq "$(cat "$d/lbkit.prom")" old "the old file"
	assert_eq "$(ls -A "$d")" lbkit.prom "files in the directory"
	# A directory that does not exist.
	run --separate-stderr lbctl_l metrics write "$T/none/lbkit.prom"
	assert_status 1
	assert_err_line lbctl "^lbctl: metrics write: .*/none/lbkit.prom: No such file or directory$"
	[ ! -e "$T/none" ]
}

@test "metrics: bad input is one line, exit 2, nothing written" {
	lb_setup
	run --separate-stderr lbctl_l metrics write
	assert_status 2
	assert_err_line lbctl "^lbctl: metrics write: missing FILE$"
	run --separate-stderr lbctl_l metrics write "$T/a.prom" "$T/b.prom"
	assert_status 2
	assert_err_line lbctl "^lbctl: metrics write: unexpected '.*/b.prom'$"
	run --separate-stderr lbctl_l metrics show extra
	assert_status 2
	assert_err_line lbctl "^lbctl: metrics show: unexpected 'extra'$"
	run --separate-stderr lbctl_l metrics bogus
	assert_status 2
	assert_err_line lbctl "bogus"
	run --separate-stderr lbctl_l -j metrics write "$T/a.prom"
	assert_status 2
	[ ! -e "$T/a.prom" ]
	# "metrics" alone is show.
	run --separate-stderr lbctl_l metrics
	assert_status 0
	assert_no_stderr
	grep -q '^# TYPE lbkit_table_entries gauge$' <<<"$output"
}
