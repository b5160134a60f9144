#!/usr/bin/env bats
# lbkit.service: the commands of the unit as make builds it (build/systemd), run in
# the load balancer's namespace the way systemd runs them, with the environment
# /etc/default/lbkit would give (a private config dir and pin root, the tools of
# this build).  systemd is not PID 1 here, so the test reads ExecStart, ExecReload
# and ExecStop from the unit and runs them itself.  Topology: lb_helpers.bash.

load lb_helpers

UNIT=$LB_REPO/build/systemd/lbkit.service
BOOT=$LB_REPO/build/systemd/lbkit-boot
STAMP=$LB_REPO/build/tests/progs/stamp.bpf.o

setup() {
	lbt_setup || return 1
	lb_topo || return 1
	lb_http_servers || return 1
	ETC=$T/etc
	mkdir -p "$ETC"
	# /etc/default/lbkit of the test
	cat >"$T/default" <<-EOF
		# the test's
		LBKIT_CONFIG_DIR=$ETC
		LB_PIN_ROOT=$ROOT
		LBKIT_SBINDIR=$LB_REPO/build/bin
	EOF
}

teardown() {
	lb_teardown
}

# unit_exec KEY: run the unit's ExecKEY= command (Start, Reload, Stop) in the LB's
# namespace with the environment of $T/default, as systemd would run it; the
# script's installed path is replaced by the built one.
unit_exec() {
	local cmd env=()
	cmd=$(sed -n "s/^Exec$1=//p" "$UNIT")
	[ "$(wc -l <<<"$cmd")" = 1 ] && [[ $cmd == /*/lbkit-boot\ * ]] ||
		{ echo "Exec$1 of $UNIT: '$cmd'" >&2; return 1; }
	mapfile -t env < <(grep -v '^#' "$T/default")
	# shellcheck disable=SC2086 # the command line is words, as systemd splits it
	lb_ns "$NS_L" env "${env[@]}" "$BOOT" ${cmd#* }
}

# metrics_exec FILE: lbkit-metrics.service's command, with the built lbctl and FILE
# for the node exporter's file, in the environment unit_exec gives.
metrics_exec() {
	local words env=()
	read -ra words <<<"$(sed -n 's/^ExecStart=//p' "$LB_REPO/build/systemd/lbkit-metrics.service")"
	[[ ${words[0]} == */lbctl && ${words[-1]} == /var/lib/prometheus/node-exporter/lbkit.prom ]] ||
		{ echo "ExecStart of lbkit-metrics.service: ${words[*]}" >&2; return 1; }
	mapfile -t env < <(grep -v '^#' "$T/default")
	lb_ns "$NS_L" env "${env[@]}" "$LBCTL" "${words[@]:1:${#words[@]}-2}" "$1"
}

# health_exec: lbkit-health.service's command, with the built lbctl, in the
# environment unit_exec gives.
health_exec() {
	local words env=()
	read -ra words <<<"$(sed -n 's/^ExecStart=//p' "$LB_REPO/build/systemd/lbkit-health.service")"
	[[ ${words[0]} == */lbctl && ${words[*]:1} == "health check" ]] ||
		{ echo "ExecStart of lbkit-health.service: ${words[*]}" >&2; return 1; }
	mapfile -t env < <(grep -v '^#' "$T/default")
	lb_ns "$NS_L" env "${env[@]}" "$LBCTL" "${words[@]:1}"
}

# The attach file: tc ingress on the LB's four interfaces, sized tables, a chain
# element in front of the load balancer on the client side.
write_attach() {
	local d first=" conntrack 4096 services 64"
	for d in "$DEV_L" "${DEV_E[1]}" "${DEV_E[2]}" "${DEV_E[3]}"; do
		echo "attach dev $d tc ingress$first"
		first=
	done >"$ETC/attach"
	echo "chain add dev $DEV_L hook tc-ingress obj $STAMP sec stamp1_tc name stamp1 first" >>"$ETC/attach"
}

# write_rules N...: a rule set, as lbctl save writes it, with VIP4:80 over backends N...
write_rules() {
	local n
	{
		echo "service add $VIP4 port 80 proto tcp sched rr mode dnat"
		for n in "$@"; do
			echo "endpoint add $(b_ip4 "$n") port 8080 weight 1 service $VIP4 port 80 proto tcp"
		done
	} >"$ETC/rules"
	lb_rules_end "$ETC/rules"
}

@test "lbkit.service: start attaches from the config and restores the rules (metrics written), reload switches them, stop leaves nothing" {
	write_attach
	write_rules 1 2 3
	run --separate-stderr unit_exec Start
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "" "start's output"

	# attached as the file says: four tc hooks, the sizes, the chain element first
	run --separate-stderr lbattach_l show
	assert_status 0
	assert_eq "${#lines[@]}" 4 "attachments: $output"
	assert_eq "$(grep -c ' tc-ingress mode ' <<<"$output")" 4 "tc ingress attachments: $output"
	assert_eq "$(lbctl_j info | json_get '[j["tables"]["conntrack"]["max"], j["tables"]["services"]["max"]]')" \
		"[4096, 64]" "table sizes"
	assert_eq "$(lbattach_l -j chain show dev "$DEV_L" hook tc-ingress |
		json_get '[e["label"] for e in j[0]["chain"]]')" '["stamp1", "lb"]' "chain on $DEV_L"

	# the rules, balanced round robin
	assert_rr_rotation "$(lb_curls 6 "http://$VIP4:80/")"
	# what the metrics timer would write, on the service's datapath
	run --separate-stderr metrics_exec "$T/lbkit.prom"
	assert_status 0
	assert_no_stderr
	grep -qx "lbkit_service_flows_total{vip=\"$VIP4\",port=\"80\",proto=\"tcp\"} 6" "$T/lbkit.prom" ||
		{ grep lbkit_service_flows "$T/lbkit.prom" >&2; false; }

	# what the health timer runs: with a check on the service, one round per run
	# (rise 2: up after the second)
	lbctl_l service set "$VIP4" port 80 check tcp interval 1 rise 2
	run --separate-stderr health_exec
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "" "health check's output"
	run --separate-stderr lb_ns "$NS_L" "$LBCTL" -P "$ROOT" health check now
	assert_status 0
	assert_eq "$(lbctl_j health show | json_get 'sorted(e["health"] for e in j[0]["endpoints"])')" \
		'["up", "up", "up"]' "health after two rounds"

	# reload: the edited file replaces the rule set
	write_rules 1 2
	run --separate-stderr unit_exec Reload
	assert_status 0
	assert_no_stderr
	run lb_curls 4 "http://$VIP4:80/"
	assert_status 0
	assert_eq "$(count_of b1 $output) $(count_of b2 $output) $(count_of b3 $output)" "2 2 0" \
		"answers after reload: $output"

	# a file restore refuses (no end line): reload fails, the rules stay
	local before
	before=$(lbctl_l save)
	echo "service add $VIP4 port 81" >"$ETC/rules"
	run --separate-stderr unit_exec Reload
	assert_status 1
	assert_err_line lbctl "rules"
	assert_eq "$(lbctl_l save)" "$before" "rules after the refused reload"

	# stop: nothing attached, no pin left, the VIP no longer answers
	run --separate-stderr unit_exec Stop
	assert_status 0
	assert_no_stderr
	run --separate-stderr lbattach_l show
	assert_status 0
	assert_eq "$output" "" "attachments after stop"
	assert_eq "$(find "$ROOT" -mindepth 1 ! -name '*.debug' -printf '%P ')" "" "pins after stop"
	run lb_curl "http://$VIP4:80/" --max-time 2
	[ "$status" -ne 0 ] || { echo "the VIP still answers after stop: $output" >&2; false; }
}

@test "lbkit.service without CONFIG/attach: start, reload and stop do nothing, a datapath set up by hand stays" {
	write_rules 1 2 3
	run --separate-stderr unit_exec Start
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "lbkit-boot: $ETC/attach: not there, nothing to do" "start's output"
	[ ! -e "$ROOT" ] || { echo "start without attach created $ROOT" >&2; false; }

	lb_attach
	run --separate-stderr unit_exec Reload
	assert_status 0
	assert_eq "$(lbctl_l service show)" "" "services after reload"
	run --separate-stderr unit_exec Stop
	assert_status 0
	assert_no_stderr
	run lbattach_l show
	assert_eq "${#lines[@]}" 4 "attachments after stop: $output"
}

@test "lbkit.service: no rules file restores nothing; a bad attach line fails the start, naming it" {
	write_attach
	run --separate-stderr unit_exec Start
	assert_status 0
	assert_no_stderr
	assert_eq "$output" "lbkit-boot: $ETC/rules: not there, no rules restored" "start's output"
	assert_eq "$(lbctl_l service show)" "" "services"
	run lbattach_l show
	assert_eq "${#lines[@]}" 4 "attachments: $output"
	unit_exec Stop

	echo "attach dev nosuch$ID tc ingress" >>"$ETC/attach"
	write_rules 1
	run --separate-stderr unit_exec Start
	assert_status 1
	assert_err_line lbattach "$ETC/attach:6: .*nosuch$ID"
	assert_eq "$(lbctl_l service show 2>/dev/null)" "" "services after the failed start"
}

@test "lbkit-boot: a wrong command is a usage error" {
	run --separate-stderr "$BOOT" restart
	assert_status 2
	assert_err_line lbkit-boot "usage: lbkit-boot . start . stop . reload .$"
	run --separate-stderr "$BOOT"
	assert_status 2
}

@test "the timers' units run the commands of lbkit(7), every 2 s and 15 s" {
	local sbin
	sbin=$(sed -n 's|^ExecStart=\(.*\)/lbctl health check$|\1|p' "$LB_REPO/build/systemd/lbkit-health.service")
	[ -n "$sbin" ] || { cat "$LB_REPO/build/systemd/lbkit-health.service" >&2; false; }
	grep -qx "ExecStart=$sbin/lbctl metrics write /var/lib/prometheus/node-exporter/lbkit.prom" \
		"$LB_REPO/build/systemd/lbkit-metrics.service"
	grep -qx "OnUnitActiveSec=2s" "$LB_REPO/build/systemd/lbkit-health.timer"
	grep -qx "OnUnitActiveSec=15s" "$LB_REPO/build/systemd/lbkit-metrics.timer"
	grep -qx "Type=oneshot" "$LB_REPO/build/systemd/lbkit-health.service"
	grep -qx "Type=oneshot" "$LB_REPO/build/systemd/lbkit-metrics.service"
}
