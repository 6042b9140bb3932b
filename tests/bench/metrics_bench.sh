#!/bin/bash
# metrics_bench.sh - what --metrics costs the packet path: TCP throughput
# through r (h1 -- r -- h2) with fig13 in the agent (every forwarded
# packet crosses to user space), side by side:
#   (a) itm-agent, no --metrics
#   (b) itm-agent --metrics, scraped every 100 ms during the transfer
#   (c) (b) plus 8 scrapers that connect and never read
# Rounds interleave a b c a b c ...; the table shows medians and the ratio
# to (a), and (b)'s verdict latency p50/p99 from its own histogram.
#
#   tests/bench/metrics_bench.sh [ROUNDS [SECS]]   (default 5 rounds, 4 s)
#
# ITM_BUILD is the build tree (default ./build).  Not a ctest.
set -u
. "$(dirname "$0")/../integ/lib.sh"
ROUNDS=${1:-5}
SECS=${2:-4}
TOOLS="$ITM_SRC/tests/integ/tools"
itm_init metrics_bench
itm__need curl python3 iperf3
itm_topo_line
declare -A RES

scraper() {
	while :; do
		itm_exec r curl -sf --max-time 2 -o /dev/null \
			http://127.0.0.1:9464/metrics
		sleep 0.1
	done
}

run() {	# CONFIG
	local args=() spid="" stall="" g
	[ "$1" != a ] && args=(--metrics 9464)
	itm_agent_start r r "${args[@]}" \
		--load "fig13 proto=any new_dport=0 tos=0x04"
	if [ "$1" = c ]; then
		itm_bg r --name stall /usr/bin/python3 \
			"$TOOLS/metrics_stall.py" 127.0.0.1 9464 \
			"$ITM_TMP/stall.ready"
		stall=$ITM_LAST_PID
		itm_wait_for 5 test -s "$ITM_TMP/stall.ready"
	fi
	[ "$1" != a ] && { scraper & spid=$!; }
	g=$(itm_iperf h2 "$ITM_H2_IP" h1 "$SECS") || g=0
	[ -n "$spid" ] && { kill "$spid"; wait "$spid" 2>/dev/null; }
	if [ "$1" = b ]; then
		sleep 1.1
		itm_exec r curl -sf http://127.0.0.1:9464/metrics \
			>"$ITM_TMP/b.prom"
	fi
	[ -n "$stall" ] && itm_stop "$stall"
	rm -f "$ITM_TMP/stall.ready"
	itm_agent_stop r
	RES[$1]="${RES[$1]:-} $g"
}

for ((i = 1; i <= ROUNDS; i++)); do
	for c in a b c; do run "$c"; done
done
/usr/bin/python3 - "$ITM_TMP/b.prom" "${RES[a]}" "${RES[b]}" "${RES[c]}" <<'PY'
import re, statistics, sys
labels = ["(a) no --metrics", "(b) --metrics, scraped every 100 ms",
          "(c) (b) + 8 stalled scrapers"]
runs = [[float(x) for x in s.split()] for s in sys.argv[2:5]]
base = statistics.median(runs[0])
print("%-38s %10s %7s  %s" % ("config", "median", "ratio", "runs (Gbit/s)"))
for l, r in zip(labels, runs):
    m = statistics.median(r)
    print("%-38s %10.3f %7.3f  %s" % (l, m, m / base,
          " ".join("%.2f" % x for x in r)))
b = {}
for line in open(sys.argv[1]):
    m = re.match(r'itm_verdict_latency_seconds_bucket\{.*le="([^"]+)"\} (\d+)', line)
    if m:
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        b[le] = b.get(le, 0) + int(m.group(2))
total = b.get(float("inf"), 0)
def q(p):
    for le in sorted(b):
        if b[le] >= p * total:
            return le
if total:
    print("(b) last run: %d packets; verdict latency p50 <= %gs, p99 <= %gs"
          % (total, q(0.5), q(0.99)))
PY
