#!/bin/bash
# table.sh - the results in bench/results/*.csv as Markdown tables, for README.md
# (paste them there after a full `make bench`).  Reads only; any CSV may be missing.
set -euo pipefail
RES=${BENCH_RESULTS:-$(cd "$(dirname "$0")" && pwd)/results}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" - "$RES" <<'EOF'
import csv, os, re, sys

res = sys.argv[1]

def load(name):
    p = os.path.join(res, name)
    if not os.path.exists(p):
        return None, []
    lines = open(p).read().splitlines()
    head = [l for l in lines if l.startswith("#")]
    return head, list(csv.DictReader(l for l in lines if not l.startswith("#")))

def num(v):
    return re.fullmatch(r"[-+]?[0-9.]+( MiB)?|-", v) is not None

def table(cols, rows):
    cells = [[f(r) for _, f in cols] for r in rows]
    right = [all(num(c[i]) for c in cells) for i in range(len(cols))]
    print("| " + " | ".join(c for c, _ in cols) + " |")
    print("|" + "|".join("---:" if r else "---" for r in right) + "|")
    for c in cells:
        print("| " + " | ".join(c) + " |")
    print()

head, ab = load("ablation.csv")
if ab:
    print("Per-packet cost by ablation, ns (%s; each part: the whole build minus the build "
          "without it, best of the rounds)\n" % head[0].lstrip("# "))
    table([("part", lambda r: r["part"]), ("what", lambda r: r["what"]),
           ("est. tcp4 tc", lambda r: r["est_tcp4_tc_ns"] or "-"),
           ("est. tcp4 xdp", lambda r: r["est_tcp4_xdp_ns"] or "-"),
           ("new tcp4 tc", lambda r: r["new_tcp4_tc_ns"] or "-")], ab)

head, dp = load("datapath.csv")
if dp:
    print("Datapath (%s)\n" % head[0].lstrip("# "))
    pick = [r for r in dp if r["method"] in ("hot", "repeat", "single") and
            not (r["case"] == "floor" and r["method"] == "single")]
    table([("case", lambda r: r["case"]), ("hook", lambda r: r["hook"]),
           ("method", lambda r: r["method"]), ("ns/packet", lambda r: r["ns_per_pkt"]),
           ("+floor", lambda r: r["plus_floor"]), ("note", lambda r: r["note"])], pick)

head, fw = load("forwarding.csv")
if fw:
    print("Forwarding (%s)\n" % head[0].lstrip("# "))
    table([("case", lambda r: r["case"]), ("pps at backends", lambda r: r["pps"]),
           ("ns/packet", lambda r: r["ns_per_pkt"]), ("LB share ns", lambda r: r["lb_ns"] or "-"),
           ("vs routing", lambda r: r["vs_routing"] or "-"), ("vs nft", lambda r: r["vs_nft"] or "-"),
           ("vs floor", lambda r: r.get("vs_floor") or "-"),
           ("stalled rounds", lambda r: r.get("stalled_rounds") or "0")], fw)

head, tc = load("tcp.csv")
if tc:
    print("TCP (%s)\n" % head[0].lstrip("# "))
    table([("case", lambda r: r["case"]), ("Gbit/s", lambda r: r["gbit_per_s"]),
           ("connections/s", lambda r: r["conn_per_s"]),
           ("Gbit/s vs direct", lambda r: r["gbit_vs_direct"] or "-"),
           ("conn/s vs direct", lambda r: r["conn_vs_direct"] or "-"),
           ("conn/s vs nft", lambda r: r["conn_vs_nft"] or "-")], tc)

head, cp = load("controlplane.csv")
if cp:
    print("Control plane (%s)\n" % head[0].lstrip("# "))
    table([("method", lambda r: r["method"]), ("seconds", lambda r: r["seconds"] or "-"),
           ("operations/s", lambda r: r["ops_per_s"] or "-"),
           ("endpoints/s", lambda r: r["endpoints_per_s"] or "-"),
           ("vs nft -f", lambda r: r["vs_nft"] or "-"), ("note", lambda r: r["note"])], cp)

head, mem = load("memory.csv")
if mem:
    print("Memory (%s)\n" % head[0].lstrip("# "))
    def val(r):
        v = float(r["value"])
        return "%.1f MiB" % (v / 1048576) if r["unit"] == "bytes" else "%g" % v
    table([("what", lambda r: r["what"]), ("maps", lambda r: r["maps"]),
           ("value", val), ("unit", lambda r: r["unit"]), ("note", lambda r: r["note"])],
          [r for r in mem if r["what"] != "default map"])
EOF
