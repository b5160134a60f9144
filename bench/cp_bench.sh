#!/bin/bash
# cp_bench.sh - control plane: the time to load CP_SERVICES services x CP_EPS
# endpoints (default 10,000 x 8 = 80,000 endpoints) into a fresh datapath
#   - with `lbctl -b FILE` (one batch file, one command per line);
#   - with `lbctl restore FILE` once that command exists (detected with
#     `lbctl help`; until then the row says "restore: not built yet");
#   - against `nft -f FILE` loading an equivalent ruleset: per service a chain
#     with `dnat to numgen inc mod 8 map { ... }` over its 8 endpoints, and one
#     verdict map `ip daddr . tcp dport vmap { VIP . port : goto svcN }`
#     (the layout of kube-proxy's nftables mode).
# Each load starts from nothing (fresh pin root sized at attach: services 16384,
# endpoints 131072; empty nftables table), median of CP_RUNS runs.
# Writes bench/results/controlplane.csv.  Asserts nothing about time.
#
#   bench/cp_bench.sh            (root; make bench-cp)
#   CP_SERVICES=1000 CP_RUNS=1 bench/cp_bench.sh     (quick)
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SVCS=${CP_SERVICES:-10000}
EPS=${CP_EPS:-8}
RUNS=${CP_RUNS:-2}
CSV=$RESULTS/controlplane.csv
if [ "$SVCS" -lt 1 ] || [ "$SVCS" -gt 16000 ]; then
	echo "CP_SERVICES: 1..16000" >&2
	exit 2
fi
if [ "$EPS" -lt 1 ] || [ "$EPS" -gt 64 ]; then
	echo "CP_EPS: 1..64" >&2
	exit 2
fi

bench_init cp
bench_need nft
NS=lbcp$ID DEV=cpa$ID
bench_ns_add "$NS"
ip -n "$NS" link add "$DEV" type veth peer name "cpb$ID" || exit 1
ip -n "$NS" link set "$DEV" up || exit 1

# The inputs.  VIPs 198.19.x.y port 80 (x.y from the service number), endpoints
# 198.18.1.1..8 port 8080 for every service (a service's endpoints must differ,
# services may share them).
BATCH=$T/load.lbctl NFT=$T/load.nft
"$PY" - "$SVCS" "$EPS" "$BATCH" "$NFT" <<'EOF'
import sys
n, e, batch, nft = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
vip = lambda i: "198.19.%d.%d" % (i // 256, i % 256)
with open(batch, "w") as f:
    for i in range(n):
        f.write("service add %s port 80 proto tcp sched rr\n" % vip(i))
        for j in range(e):
            f.write("endpoint add 198.18.1.%d port 8080 service %s port 80 proto tcp\n"
                    % (j + 1, vip(i)))
with open(nft, "w") as f:
    f.write("table ip lbbench {\n")
    m = ", ".join("%d : 198.18.1.%d . 8080" % (j, j + 1) for j in range(e))
    for i in range(n):
        f.write("  chain svc%d {\n    meta l4proto tcp dnat ip addr . port to numgen inc mod %d map { %s }\n  }\n"
                % (i, e, m))
    f.write("  chain pre {\n    type nat hook prerouting priority dstnat; policy accept;\n")
    f.write("    ip daddr . tcp dport vmap { %s }\n  }\n}\n"
            % ", ".join("%s . 80 : goto svc%d" % (vip(i), i) for i in range(n)))
EOF
if [ ! -s "$BATCH" ] || [ ! -s "$NFT" ]; then
	bench_die "generating the inputs failed"
fi
OPS=$((SVCS + SVCS * EPS))

# fresh_root: $R, a new pin root with the datapath attached, sized for the load.
R=
fresh_root() {
	bench_root
	R=$NEW_ROOT
	bench_in "$NS" "$LBATTACH" -P "$R" attach dev "$DEV" tc ingress \
		services 16384 endpoints 131072 conntrack 65536 >&2 || bench_die "attach failed"
}

# check_loaded ROOT: the root holds exactly the services and endpoints of the file.
check_loaded() {
	local got
	got=$(bench_in "$NS" "$LBCTL" -P "$1" -j info |
		"$PY" -c 'import json,sys; t=json.load(sys.stdin)["tables"]; print(t["services"]["entries"], t["endpoints"]["entries"])')
	[ "$got" = "$SVCS $((SVCS * EPS))" ] || bench_die "loaded '$got', expected '$SVCS $((SVCS * EPS))'"
}

# Each time_* sets SECS_TAKEN: seconds for one load into fresh tables.
SECS_TAKEN=

# lbctl -b of the batch file.
time_batch() {
	local t0
	fresh_root
	t0=$(bench_now)
	bench_in "$NS" "$LBCTL" -P "$R" -b "$BATCH" || bench_die "lbctl -b failed"
	SECS_TAKEN=$(bench_elapsed "$t0")
	check_loaded "$R"
	bench_unroot "$R" "$NS"
}

# The same rules saved by `lbctl save`, restored into a fresh root (as
# `restore file FILE`, else from stdin).
time_restore() {
	local t0 save=$T/saved
	fresh_root
	bench_in "$NS" "$LBCTL" -P "$R" -b "$BATCH" || bench_die "lbctl -b failed"
	bench_in "$NS" "$LBCTL" -P "$R" save >"$save" || bench_die "lbctl save failed"
	bench_unroot "$R" "$NS"
	fresh_root
	t0=$(bench_now)
	if ! bench_in "$NS" "$LBCTL" -P "$R" restore file "$save" >/dev/null 2>"$T/restore.err"; then
		bench_unroot "$R" "$NS"
		fresh_root
		t0=$(bench_now)
		bench_in "$NS" "$LBCTL" -P "$R" restore <"$save" ||
			bench_die "lbctl restore failed: $(cat "$T/restore.err")"
	fi
	SECS_TAKEN=$(bench_elapsed "$t0")
	check_loaded "$R"
	bench_unroot "$R" "$NS"
}

# nft -f of the equivalent ruleset into an empty nftables in the namespace.
time_nft() {
	local t0 n
	bench_in "$NS" nft flush ruleset || bench_die "nft flush failed"
	t0=$(bench_now)
	bench_in "$NS" nft -f "$NFT" || bench_die "nft -f failed"
	SECS_TAKEN=$(bench_elapsed "$t0")
	n=$(bench_in "$NS" nft list chains ip | grep -c 'chain svc')
	[ "$n" = "$SVCS" ] || bench_die "nft loaded $n service chains, expected $SVCS"
	bench_in "$NS" nft flush ruleset
}

# The interactive path: on a root holding the whole rule set, CP_CMDS services (spread
# over it) get one more endpoint each, one lbctl process per command, as an operator
# or a script calling lbctl would.  Sets SECS_TAKEN (all of them) and CMDS.
CMDS=${CP_CMDS:-100}
time_interactive() {
	local t0 vip vips
	mapfile -t vips < <("$PY" -c 'import sys
n, c = int(sys.argv[1]), int(sys.argv[2])
for i in range(c):
    s = i * n // c
    print("198.19.%d.%d" % (s // 256, s % 256))' "$SVCS" "$CMDS")
	fresh_root
	bench_in "$NS" "$LBCTL" -P "$R" -b "$BATCH" || bench_die "lbctl -b failed"
	t0=$(bench_now)
	for vip in "${vips[@]}"; do
		bench_in "$NS" "$LBCTL" -P "$R" endpoint add 198.18.2.1 port 8080 \
			service "$vip" port 80 || bench_die "endpoint add to $vip failed"
	done
	SECS_TAKEN=$(bench_elapsed "$t0")
	bench_unroot "$R" "$NS"
}

has_restore() { "$LBCTL" help 2>&1 | grep -qw restore; }

bench_log "$SVCS services x $EPS endpoints ($OPS operations), median of $RUNS runs"
declare -A secs
for m in batch restore nft; do
	[ "$m" = restore ] && ! has_restore && continue
	vals=()
	for ((i = 0; i < RUNS; i++)); do
		SECS_TAKEN=
		"time_$m"
		[ -n "$SECS_TAKEN" ] || bench_die "$m: no time"
		vals+=("$SECS_TAKEN")
	done
	secs[$m]=$(bench_median "${vals[@]}")
	bench_log "$m: ${vals[*]} s"
done

SECS_TAKEN=
time_interactive
secs[interactive]=$SECS_TAKEN
bench_log "interactive: $CMDS commands in $SECS_TAKEN s"

bench_header "$CSV" "$SVCS services x $EPS endpoints, fresh tables per load, median of $RUNS runs; target: 80,000 endpoints in under 1 s"
echo "method,services,endpoints,operations,seconds,ops_per_s,endpoints_per_s,vs_nft,runs,note,kernel,date" >>"$CSV"
printf '%-26s %9s %10s %12s %12s %8s\n' method seconds ops/s endpoints/s "vs nft -f" note
row() {	# row METHOD SECONDS NOTE
	local m=$1 s=$2 note=$3 ops eps ratio
	if [ "$s" = "" ]; then
		echo "\"$m\",$SVCS,$((SVCS * EPS)),$OPS,,,,,$RUNS,\"$note\",$(bench_kernel),$(bench_date)" >>"$CSV"
		printf '%-26s %9s %10s %12s %12s %8s\n' "$m" - - - - "$note"
		return
	fi
	ops=$(awk -v o="$OPS" -v s="$s" 'BEGIN { printf "%.0f", o / s }')
	eps=$(awk -v o="$((SVCS * EPS))" -v s="$s" 'BEGIN { printf "%.0f", o / s }')
	ratio=$(awk -v n="${secs[nft]}" -v s="$s" 'BEGIN { printf "%.2f", n / s }')
	echo "\"$m\",$SVCS,$((SVCS * EPS)),$OPS,$s,$ops,$eps,$ratio,$RUNS,\"$note\",$(bench_kernel),$(bench_date)" >>"$CSV"
	printf '%-26s %9.3f %10s %12s %11sx %8s\n' "$m" "$s" "$ops" "$eps" "$ratio" "$note"
}
row "lbctl -b" "${secs[batch]}" "one command per line"
if [ -n "${secs[restore]:-}" ]; then
	row "lbctl restore" "${secs[restore]}" "from lbctl save"
else
	row "lbctl restore" "" "restore: not built yet"
fi
row "nft -f" "${secs[nft]}" "per-service numgen map + vmap"
# The interactive row: CMDS commands, one endpoint each.
s=${secs[interactive]}
per=$(awk -v s="$s" -v n="$CMDS" 'BEGIN { printf "%.1f", s * 1000 / n }')
ops=$(awk -v s="$s" -v n="$CMDS" 'BEGIN { printf "%.0f", n / s }')
echo "\"lbctl, one command each\",$SVCS,$CMDS,$CMDS,$s,$ops,$ops,,1,\"$CMDS x endpoint add on $SVCS services: $per ms per command\",$(bench_kernel),$(bench_date)" >>"$CSV"
printf '%-26s %9.3f %10s %12s %12s %s\n' "lbctl, one command each" "$s" "$ops" "$ops" - "$per ms per command ($CMDS x endpoint add)"
bench_log "wrote $CSV"
