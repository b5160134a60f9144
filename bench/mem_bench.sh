#!/bin/bash
# mem_bench.sh - kernel memory of the datapath's maps, from their memlock figures
# (/proc/<pid>/fdinfo "memlock", which `lbmap -j list` reports; on this kernel
# the maps' own accounting of what they allocated):
#   - the default footprint (lbattach attach with no sizes) and its maps;
#   - the cost of a table slot, from two sizes of each table
#     (services 1024 / 16384, endpoints 8192 / 131072, conntrack 65536 / 1048576,
#     selection 1048576 / 4194304): services size lb_services, lb_svc_state and
#     lb_svc_stats, endpoints lb_endpoints, lb_ep_state and lb_ep_stats, conntrack
#     lb_ct, selection lb_sel;
#   - the cost of a service in use with MEM_EPS rr endpoints (lb_services is a hash
#     without preallocation; its selection table takes slots of lb_sel, which is
#     preallocated), from MEM_SERVICES services loaded with `lbctl -b`.
# Per-CPU maps grow with the number of possible CPUs (printed).  Writes
# bench/results/memory.csv.
#
#   bench/mem_bench.sh        (root; make bench-mem)
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

LOADED=${MEM_SERVICES:-2000}
EPS=${MEM_EPS:-8}
CSV=$RESULTS/memory.csv

bench_init mem
bench_need bpftool
NS=lbmm$ID DEV=mma$ID
bench_ns_add "$NS"
ip -n "$NS" link add "$DEV" type veth peer name "mmb$ID" || exit 1
ip -n "$NS" link set "$DEV" up || exit 1

# snapshot ROOT: JSON {map name: [max_entries, memlock]}.
snapshot() {
	bench_in "$NS" "$LBMAP" -P "$1" -j list >"$T/maps.json" || bench_die "lbmap list failed"
	"$PY" -c 'import json, sys
print(json.dumps({m["name"]: [m["max_entries"], m["memlock"]] for m in json.load(open(sys.argv[1]))}))' \
		"$T/maps.json"
}

# attached_root [SIZES...]: $r, a fresh root with the datapath attached.
r=
attached_root() {
	bench_root
	r=$NEW_ROOT
	bench_in "$NS" "$LBATTACH" -P "$r" attach dev "$DEV" tc ingress "$@" >&2 ||
		bench_die "attach $* failed"
}

attached_root
default=$(snapshot "$r") || exit 1
bench_unroot "$r" "$NS"
attached_root services 1024 endpoints 8192 conntrack 65536 selection 1048576
small=$(snapshot "$r") || exit 1
bench_unroot "$r" "$NS"
attached_root services 16384 endpoints 131072 conntrack 1048576 selection 4194304
big=$(snapshot "$r") || exit 1
# Services in use on the big root.
"$PY" - "$LOADED" "$EPS" >"$T/load" <<'EOF'
import sys
n, e = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    vip = "198.19.%d.%d" % (i // 256, i % 256)
    print("service add %s port 80 proto tcp sched rr" % vip)
    for j in range(e):
        print("endpoint add 198.18.1.%d port 8080 service %s port 80 proto tcp" % (j + 1, vip))
EOF
bench_in "$NS" "$LBCTL" -P "$r" -b "$T/load" || bench_die "loading $LOADED services failed"
loaded=$(snapshot "$r") || exit 1
bench_unroot "$r" "$NS"

bench_header "$CSV" "bytes from the maps' memlock; per-CPU maps x $(nproc) possible CPUs ($(cat /sys/devices/system/cpu/possible))"
"$PY" - "$CSV" "$LOADED" "$EPS" "$(bench_kernel)" "$(bench_date)" \
	"$default" "$small" "$big" "$loaded" <<'EOF'
import json, sys
csv, loaded_n, eps, kernel, date = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
default, small, big, loaded = (json.loads(a) for a in sys.argv[6:10])
groups = {
    "service slot": ["lb_services", "lb_svc_state", "lb_svc_stats"],
    "selection slot": ["lb_sel"],
    "endpoint slot": ["lb_endpoints", "lb_ep_state", "lb_ep_stats"],
    "conntrack entry": ["lb_ct"],
}
rows = []
total = sum(v[1] for v in default.values())
rows.append(("default footprint", "all maps", total, "bytes",
             "lbattach attach with no sizes (services %d, endpoints %d, conntrack %d)"
             % (default["lb_svc_state"][0], default["lb_endpoints"][0], default["lb_ct"][0])))
for name in sorted(default):
    rows.append(("default map", name, default[name][1], "bytes", "max_entries %d" % default[name][0]))
for g, names in groups.items():
    dm = sum(big[n][1] - small[n][1] for n in names)
    de = big[names[0]][0] - small[names[0]][0]
    per = dm / de
    if g == "selection slot":
        sel_slot = per
    rows.append((g, "+".join(names), round(per, 1), "bytes per slot",
                 "(memlock at %d - at %d slots) / difference" % (big[names[0]][0], small[names[0]][0])))
    if g == "conntrack entry":
        rows.append(("conntrack flow", "lb_ct", round(2 * per, 1), "bytes per flow",
                     "two entries per flow (one per direction); a hash, preallocated"))
svc_use = (loaded["lb_services"][1] - big["lb_services"][1]) / loaded_n
room = 16	# lb_sel_room(): rr, a power of two from 16
while room < eps:
    room *= 2
inner_use = room * sel_slot
rows.append(("service in use", "lb_services", round(svc_use, 1), "bytes per service",
             "hash without preallocation: grows with services"))
rows.append(("service in use", "selection table", round(inner_use, 1), "bytes per service",
             "%d slots of lb_sel (preallocated), sched rr with %d endpoints" % (room, eps)))
rows.append(("service in use", "total", round(svc_use + inner_use, 1), "bytes per service",
             "on top of the service slot; endpoints add nothing to their preallocated slots"))
for n in ("big", "loaded"):
    d = big if n == "big" else loaded
    t = sum(v[1] for v in d.values())
    rows.append(("footprint", "services 16384 endpoints 131072 conntrack 1048576 selection 4194304", t, "bytes",
                 "empty" if n == "big" else "with %d services x %d endpoints" % (loaded_n, eps)))
with open(csv, "a") as f:
    f.write("what,maps,value,unit,note,kernel,date\n")
    for r in rows:
        f.write('"%s","%s",%s,%s,"%s",%s,%s\n' % (r[0], r[1], r[2], r[3], r[4], kernel, date))
for r in rows:
    if r[0] == "default map":
        continue
    v = r[2]
    human = "%.1f MiB" % (v / 1048576) if r[3] == "bytes" else "%s" % v
    print("%-18s %-52s %14s %-18s %s" % (r[0], r[1][:52], human, r[3], r[4]))
EOF
bench_log "wrote $CSV"
