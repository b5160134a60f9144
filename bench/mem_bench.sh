#!/bin/bash
# mem_bench.sh - kernel memory of the datapath's maps, from their memlock figures
# (/proc/<pid>/fdinfo "memlock", which `lbmap -j list` reports; on this kernel
# the maps' own accounting of what they allocated):
#   - the default footprint (lbattach attach with no sizes) and its maps;
#   - the cost of a table slot, from two sizes of each table
#     (services 1024 / 16384, endpoints 8192 / 131072, conntrack 65536 / 1048576):
#     services size lb_services, lb_svc_sel, lb_svc_state and lb_svc_stats,
#     endpoints lb_endpoints, lb_ep_state and lb_ep_stats, conntrack lb_ct;
#   - the cost of a service in use with MEM_EPS rr endpoints (lb_services is a hash
#     without preallocation, and each service owns its selection table, an inner
#     map that `lbmap list` does not show: counted here through bpftool), from
#     MEM_SERVICES services loaded with `lbctl -b`.
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

# snapshot ROOT: JSON {map name: [max_entries, memlock]} plus "inner": [count, memlock]
# of the selection tables in lb_svc_sel.
snapshot() {
	bench_in "$NS" "$LBMAP" -P "$1" -j list >"$T/maps.json" || bench_die "lbmap list failed"
	bench_in "$NS" bpftool -j map dump pinned "$1/maps/lb_svc_sel" >"$T/sel.json" 2>/dev/null ||
		echo '[]' >"$T/sel.json"
	bpftool -j map show >"$T/all.json" || bench_die "bpftool map show failed"
	"$PY" - "$T/maps.json" "$T/sel.json" "$T/all.json" <<'EOF'
import json, sys
maps = {m["name"]: [m["max_entries"], m["memlock"]] for m in json.load(open(sys.argv[1]))}
ids = set()
for e in json.load(open(sys.argv[2])):
    v = e.get("value")
    if isinstance(v, list):
        v = int.from_bytes(bytes(int(x, 16) for x in v), "little")
    if isinstance(v, int) and v:
        ids.add(v)
inner = [m.get("bytes_memlock", 0) for m in json.load(open(sys.argv[3])) if m["id"] in ids]
maps["inner"] = [len(inner), sum(int(x) for x in inner)]
print(json.dumps(maps))
EOF
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
attached_root services 1024 endpoints 8192 conntrack 65536
small=$(snapshot "$r") || exit 1
bench_unroot "$r" "$NS"
attached_root services 16384 endpoints 131072 conntrack 1048576
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
    "service slot": ["lb_services", "lb_svc_sel", "lb_svc_state", "lb_svc_stats"],
    "endpoint slot": ["lb_endpoints", "lb_ep_state", "lb_ep_stats"],
    "conntrack entry": ["lb_ct"],
}
rows = []
total = sum(v[1] for k, v in default.items() if k != "inner")
rows.append(("default footprint", "all maps", total, "bytes",
             "lbattach attach with no sizes (services %d, endpoints %d, conntrack %d)"
             % (default["lb_svc_state"][0], default["lb_endpoints"][0], default["lb_ct"][0])))
for name in sorted(k for k in default if k != "inner"):
    rows.append(("default map", name, default[name][1], "bytes", "max_entries %d" % default[name][0]))
for g, names in groups.items():
    dm = sum(big[n][1] - small[n][1] for n in names)
    de = big[names[0]][0] - small[names[0]][0]
    per = dm / de
    rows.append((g, "+".join(names), round(per, 1), "bytes per slot",
                 "(memlock at %d - at %d slots) / difference" % (big[names[0]][0], small[names[0]][0])))
    if g == "conntrack entry":
        rows.append(("conntrack flow", "lb_ct", round(2 * per, 1), "bytes per flow",
                     "two entries per flow (one per direction); LRU hash, preallocated"))
svc_use = (loaded["lb_services"][1] - big["lb_services"][1]) / loaded_n
inner_use = (loaded["inner"][1] - big["inner"][1]) / loaded_n
rows.append(("service in use", "lb_services", round(svc_use, 1), "bytes per service",
             "hash without preallocation: grows with services"))
rows.append(("service in use", "selection table", round(inner_use, 1), "bytes per service",
             "inner map of lb_svc_sel, sched rr with %d endpoints (%d tables counted)"
             % (eps, loaded["inner"][0])))
rows.append(("service in use", "total", round(svc_use + inner_use, 1), "bytes per service",
             "on top of the service slot; endpoints add nothing to their preallocated slots"))
for n in ("big", "loaded"):
    d = big if n == "big" else loaded
    t = sum(v[1] for k, v in d.items() if k != "inner") + d["inner"][1]
    rows.append(("footprint", "services 16384 endpoints 131072 conntrack 1048576", t, "bytes",
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
