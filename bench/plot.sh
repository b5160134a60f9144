#!/bin/bash
# plot.sh - SVG plots of the bench results with gnuplot (Debian gnuplot-nox):
#   bench/results/cost_vs_services.svg    datapath cost (hot, ns/packet) against the
#                                         number of services, tc and xdp, with the floor
#   bench/results/cost_vs_conntrack.svg   the same against live conntrack entries
#   bench/results/forwarding.svg          packets per second at the backends per case
# from datapath.csv and forwarding.csv; a missing CSV skips its plots.
set -euo pipefail
DIR=$(cd "$(dirname "$0")" && pwd)
RES=${BENCH_RESULTS:-$DIR/results}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v gnuplot >/dev/null || { echo "plot: gnuplot is missing: run 'make deps'" >&2; exit 1; }
TMP=$(mktemp -d /tmp/lbplot.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if [ -f "$RES/datapath.csv" ]; then
	# services.dat / conntrack.dat: x, tc ns, xdp ns, tc floor, xdp floor
	"$PY" - "$RES/datapath.csv" "$TMP" <<'EOF'
import csv, re, sys
rows = list(csv.DictReader(l for l in open(sys.argv[1]) if not l.startswith("#")))
floor = {r["hook"]: float(r["ns_per_pkt"]) for r in rows if r["case"] == "floor" and r["method"] == "hot"}
for kind, pat, mult in (("services", r"est tcp4, (\d+) services", 1),
                        ("conntrack", r"est tcp4, (\d+)k ct entries", 1000)):
    pts = {}
    for r in rows:
        m = re.fullmatch(pat, r["case"])
        if m and r["method"] == "hot":
            pts.setdefault(int(m.group(1)) * mult, {})[r["hook"]] = r["ns_per_pkt"]
    with open("%s/%s.dat" % (sys.argv[2], kind), "w") as f:
        for x in sorted(pts):
            f.write("%d %s %s %s %s\n" % (x, pts[x].get("tc", "NaN"), pts[x].get("xdp", "NaN"),
                                          floor.get("tc", "NaN"), floor.get("xdp", "NaN")))
EOF
	date=$(sed -n 's/.*date=\([^ ]*\).*/\1/p' "$RES/datapath.csv" | head -1)
	for kind in services conntrack; do
		[ -s "$TMP/$kind.dat" ] || continue
		if [ "$kind" = services ]; then
			xl="services"
		else
			xl="live conntrack entries"
		fi
		gnuplot <<EOF
set terminal svg size 720,440 dynamic font "sans,11" noenhanced
set output "$RES/cost_vs_$kind.svg"
set title "lbkit: established tcp4 flow, cost per packet against $xl ($date)"
set logscale x 10
set format x "%.0f"
set xlabel "$xl"
set ylabel "ns per packet (BPF_PROG_TEST_RUN, hot)"
set yrange [0:*]
set key outside bottom center horizontal
set grid ytics
plot "$TMP/$kind.dat" using 1:2 with linespoints lw 2 pt 7 title "tc ingress", \
     "" using 1:3 with linespoints lw 2 pt 5 title "xdp", \
     "" using 1:4 with lines dt 2 title "floor tc", \
     "" using 1:5 with lines dt 3 title "floor xdp", \
     "" using 1:(\$4 + 40) with lines dt 4 lc rgb "red" title "target: floor tc + 40 ns"
EOF
		echo "plot: wrote $RES/cost_vs_$kind.svg"
	done
fi

if [ -f "$RES/forwarding.csv" ]; then
	grep -v '^#' "$RES/forwarding.csv" | awk -F, 'NR > 1 && $2 != "" { print $1, $2 / 1e6 }' >"$TMP/fwd.dat"
	if [ -s "$TMP/fwd.dat" ]; then
		gnuplot <<EOF
set terminal svg size 720,400 dynamic font "sans,11" noenhanced
set output "$RES/forwarding.svg"
set title "UDP forwarding on veth, one CPU: packets per second at the backends"
set style data histograms
set style fill solid 0.7 border -1
set boxwidth 0.7
set ylabel "Mpps"
set yrange [0:*]
set grid ytics
unset key
plot "$TMP/fwd.dat" using 2:xtic(1)
EOF
		echo "plot: wrote $RES/forwarding.svg"
	fi
fi
