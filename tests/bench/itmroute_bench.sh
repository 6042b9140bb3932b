#!/bin/bash
# itmroute_bench.sh - itmRoute measured on the lab's underlay
# (tests/data/itmroute/topo.yaml: four nodes, every pair linked; r1 - r4
# 5 ms one way, the detour through r2 5 + 5 ms):
#
#   failover    CUTS cuts of r1 - r4 while r1 pings r4's overlay address
#               every 10 ms: time from the cut to the first ping answered
#               over the detour (median, p95, max; and the pings lost),
#               datapath=ebpf; then the baseline without itmRoute's
#               decisions (the module unloaded, its routes left static):
#               no ping is answered until the path comes back (-m NODES:
#               the same on a full mesh, m1 - mNODES)
#   throughput  TCP r1 -> r4 (iperf3, SECS s), side by side in ROUNDS
#               interleaved rounds: the plain underlay (between underlay
#               addresses, itmroute unloaded everywhere: no programs, no
#               queue hooks, the offloads as the lab made them),
#               datapath=ebpf, datapath=queue; medians and ratios to plain
#   probes      probe bytes/s sent by one node of a full mesh of 4, 8 and
#               16 nodes (the module's counters over PROBE_SECS s, 60 IP
#               bytes a probe), next to the formula of the module's README
#               (default probe_budget_kbps 800: at most 100 kB/s)
#   series      one run for the figure: candidate RTTs (itmctl -o json
#               routes on r1 every 0.1 s), the path chosen and the pings
#               delivered while the lab adds 200 ms to r1 - r4, clears it,
#               cuts it and brings it back; written by matplotlib to
#               docs/figures/itmroute_timeseries.png
#
#   tests/bench/itmroute_bench.sh [-c CUTS] [-m NODES] [-r ROUNDS] [-t SECS]
#                                 [--parts failover,throughput,probes,series]
#
# -m NODES: the failover part on a full mesh of NODES (5 ms links, the
# probe budget shared by NODES-2 detours per destination), cutting m1 -
# mNODES.  CUTS default 20, ROUNDS 3, SECS 5.  ITM_BUILD is the build
# tree (default ./build; a build without ITM_SANITIZE measures the queue
# path fairly).
# Prints a Markdown table per part; not a ctest: it measures, it does not
# judge.
set -u
. "$(dirname "$0")/../integ/lib.sh"

CUTS=20 ROUNDS=3 SECS=5 PROBE_SECS=5 MESH=0
PARTS="failover,throughput,probes,series"
while [ $# -gt 0 ]; do
	case $1 in
	-c) CUTS=$2; shift 2 ;;
	-m) MESH=$2; shift 2 ;;
	-r) ROUNDS=$2; shift 2 ;;
	-t) SECS=$2; shift 2 ;;
	--parts) PARTS=$2; shift 2 ;;
	-h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "itmroute_bench: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

itm_init itmroute_bench
itm__need python3 ping iperf3 mount umount
PY=/usr/bin/python3	# Debian's, with matplotlib
LAB_SH="$ITM_SRC/deploy/lab/lab.sh"
LAB="irb$$"
export ITM_LAB_DIR="$ITM_TMP/labs"
STATE=$ITM_LAB_DIR/$LAB
BPF="$ITM_TMP/bpf"
FIG="$ITM_SRC/docs/figures/itmroute_timeseries.png"
mkdir -p "$BPF" && mount -t bpf bpffs "$BPF" || itm_fail "cannot mount a bpffs"
itm_on_exit '"$LAB_SH" down -n "$LAB" >/dev/null 2>&1; umount "$BPF" 2>/dev/null'

lab() { local c=$1; shift; "$LAB_SH" "$c" -n "$LAB" "$@"; }
in_node() { local n=$1; shift; ip netns exec "itmlab-$LAB-$n" "$@"; }
part() { [[ ",$PARTS," == *",$1,"* ]]; }
now() { date +%s.%N; }

# up TOPO PARAMS: the lab from a topo.yaml with @PARAMS@ replaced.
up() {
	lab down >/dev/null 2>&1
	sed "s|@PARAMS@|$2|" "$1" >"$ITM_TMP/topo.yaml"
	lab up --topo "$ITM_TMP/topo.yaml" --underlay >"$ITM_TMP/up.out" 2>&1 ||
		itm_fail "lab up: $(tail -n 20 "$ITM_TMP/up.out")"
	sleep 2
}

# stats MS...: "median p95 max" of the numbers on stdin.
stats() {
	python3 -c 'import sys
v = sorted(float(x) for x in sys.stdin.read().split())
if not v: print("- - -"); sys.exit()
p95 = v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]
print("%.0f %.0f %.0f" % (v[len(v) // 2], p95, v[-1]))'
}

TOPO4="$ITM_SRC/tests/data/itmroute/topo.yaml"
UL1=10.63.0.1 UL4=10.63.0.4 OVL4=10.63.1.4
# the failover's pair: r1 - r4, or m1 - mN of a mesh of N (-m N)
FA=r1 FB=r4 FOVL=$OVL4 FNODES=4
[ "$MESH" -gt 0 ] && FA=m1 FB=m$MESH FOVL=10.64.1.$MESH FNODES=$MESH

# ---------------------------------------------------------------------
# Failover
# ---------------------------------------------------------------------
# one_cut: "MS LOST": ms from the cut (taken as the sending of the last
# ping that got through: an upper bound by one interval) to the first
# ping answered over the detour, and the pings lost.
one_cut() {
	local log=$ITM_TMP/cut.ping t0
	in_node "$FA" ping -n -D -i 0.01 -W 1 -w 4 "$FOVL" >"$log" 2>&1 &
	local pp=$!
	sleep 0.8
	t0=$(now)
	lab impair "$FA" "$FB" down >/dev/null
	wait "$pp"
	lab impair "$FA" "$FB" up >/dev/null
	python3 - "$log" "$t0" <<'PY'
import re, sys
t0 = float(sys.argv[2])
rx, rtt = {}, {}
for l in open(sys.argv[1]):
    m = re.search(r"^\[([0-9.]+)\].*icmp_seq=([0-9]+).*time=([0-9.]+)", l)
    if m:
        rx[int(m.group(2))] = float(m.group(1))
        rtt[int(m.group(2))] = float(m.group(3)) / 1000
seqs = sorted(rx)
lost = (seqs[-1] - seqs[0] + 1 - len(seqs)) if seqs else 0
# the first ping lost (the cut's), then the first one answered after it;
# the cut came after the last ping that got through was sent
gap = next((s for s in range(seqs[0], seqs[-1] + 1) if s not in rx),
           None) if seqs else None
back = next((s for s in seqs if gap is not None and s > gap), None)
if back is None or gap - 1 not in rx:
    print("-1 %d" % lost)
else:
    print("%.0f %d" % ((rx[back] - (rx[gap - 1] - rtt[gap - 1])) * 1000, lost))
PY
}

bench_failover() {
	local i ms lost res=() losts=() base
	local params="datapath: ebpf, pin_dir: $BPF, holddown_ms: 1000, confirm_ms: 500"
	if [ "$MESH" -gt 0 ]; then
		mesh "$MESH" >"$ITM_TMP/mesh-fo.yaml"
		up "$ITM_TMP/mesh-fo.yaml" "$params"
	else
		up "$TOPO4" "$params"
	fi
	for ((i = 1; i <= CUTS; i++)); do
		read -r ms lost < <(one_cut)
		itm_log "cut $i: first ping over the detour after $ms ms, $lost pings lost"
		res+=("$ms") losts+=("$lost")
		sleep 2.5	# back direct: hold-down 1 s, confirm 0.5 s
	done
	read -r med p95 max < <(printf '%s\n' "${res[@]}" | grep -v '^-' | stats)
	read -r lmed _ lmax < <(printf '%s\n' "${losts[@]}" | stats)
	# Baseline: the decisions stop (module unloaded, routes and maps stay).
	lab ctl "$FA" module unload itmroute >/dev/null
	lab ctl "$FB" module unload itmroute >/dev/null
	in_node "$FA" ping -n -i 0.01 -W 1 -c 300 "$FOVL" >"$ITM_TMP/base.ping" 2>&1 &
	local pp=$!
	sleep 0.5
	lab impair "$FA" "$FB" down >/dev/null
	sleep 2
	lab impair "$FA" "$FB" up >/dev/null
	wait "$pp"
	base=$(grep -c "bytes from" "$ITM_TMP/base.ping")
	echo
	echo "### Failover, $CUTS cuts of $FA - $FB ($FNODES nodes, pings every 10 ms, datapath=ebpf)"
	echo
	echo "| | median | p95 | max |"
	echo "|---|---|---|---|"
	echo "| cut to first ping over the detour (ms) | $med | $p95 | $max |"
	echo "| pings lost per cut | $lmed | | $lmax |"
	echo "| static routes (no itmRoute decisions), 2 s cut | no ping answered until the path returned: $base of 300 answered, $((300 - base)) lost | | |"
}

# ---------------------------------------------------------------------
# Throughput
# ---------------------------------------------------------------------
# iperf NODE_DST_ADDR: Gbit/s r1 -> r4 to ADDR.
iperf() {
	local port=$((5400 + RANDOM % 100))
	in_node r4 iperf3 -s -1 -B "$1" -p "$port" >/dev/null 2>&1 &
	local sp=$!
	sleep 0.4
	in_node r1 iperf3 -c "$1" -p "$port" -t "$SECS" -J 2>/dev/null |
		python3 -c 'import json, sys
try: print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))
except Exception: print("0")'
	wait "$sp"
}

bench_throughput() {
	local r plain=() ebpf=() queue=() dp n
	up "$TOPO4" "datapath: ebpf, pin_dir: $BPF"
	for ((r = 1; r <= ROUNDS; r++)); do
		for dp in plain ebpf queue; do
			# each from a clean device: no programs, no queue hooks,
			# the offloads as the lab made them
			for n in r1 r2 r3 r4; do
				lab ctl "$n" module unload itmroute >/dev/null 2>&1
				[ "$dp" = ebpf ] || in_node "$n" tc qdisc del dev ul0 clsact 2>/dev/null
				[ "$dp" = plain ] ||
					lab ctl "$n" module load itmroute datapath=$dp pin_dir="$BPF" >/dev/null
			done
			sleep 1.5
			case $dp in
			plain) plain+=("$(iperf "$UL4")") ;;
			ebpf) ebpf+=("$(iperf "$OVL4")") ;;
			queue) queue+=("$(iperf "$OVL4")") ;;
			esac
		done
		itm_log "round $r: plain ${plain[-1]} ebpf ${ebpf[-1]} queue ${queue[-1]} Gbit/s"
	done
	local mp me mq
	mp=$(printf '%s\n' "${plain[@]}" | python3 -c 'import sys; v = sorted(map(float, sys.stdin)); print(v[len(v)//2])')
	me=$(printf '%s\n' "${ebpf[@]}" | python3 -c 'import sys; v = sorted(map(float, sys.stdin)); print(v[len(v)//2])')
	mq=$(printf '%s\n' "${queue[@]}" | python3 -c 'import sys; v = sorted(map(float, sys.stdin)); print(v[len(v)//2])')
	echo
	echo "### Throughput r1 -> r4, TCP (iperf3 ${SECS} s, median of $ROUNDS interleaved rounds)"
	echo
	echo "| path | Gbit/s | ratio to plain |"
	echo "|---|---|---|"
	awk -v p="$mp" -v e="$me" -v q="$mq" 'BEGIN {
		printf "| plain underlay (no ITM) | %.2f | 1.00 |\n", p
		printf "| itmroute datapath=ebpf | %.2f | %.2f |\n", e, e / p
		printf "| itmroute datapath=queue | %.2f | %.2f |\n", q, q / p }'
}

# ---------------------------------------------------------------------
# Probe bytes
# ---------------------------------------------------------------------
# mesh N: a topo.yaml of N nodes, all linked (5 ms), itmroute on each.
mesh() {
	local n=$1 i j
	echo "comment: itmroute_bench mesh of $n"
	echo "nodes:"
	for ((i = 1; i <= n; i++)); do
		printf '  - { name: m%d, mgmt: "10.64.0.%d:7701", overlay: 10.64.1.%d, modules: [ { name: itmroute, params: { @PARAMS@ } } ] }\n' "$i" "$i" "$i"
	done
	echo "links:"
	for ((i = 1; i <= n; i++)); do
		for ((j = i + 1; j <= n; j++)); do
			echo "  - { between: [m$i, m$j], latency_ms: 5 }"
		done
	done
}

counter_sum() {
	lab ctl m1 stats | awk '$1 == "itmroute" && ($2 == "probes_sent" ||
		$2 == "probes_answered" || $2 == "probes_relayed") { s += $3 } END { print s + 0 }'
}

bench_probes() {
	local n a b rows=()
	for n in 4 8 16; do
		mesh "$n" >"$ITM_TMP/mesh$n.yaml"
		up "$ITM_TMP/mesh$n.yaml" "pin_dir: $BPF"
		a=$(counter_sum)
		sleep "$PROBE_SECS"
		b=$(counter_sum)
		rows+=("$(awk -v n="$n" -v a="$a" -v b="$b" -v s="$PROBE_SECS" 'BEGIN {
			m = (b - a) * 60 / s
			fast = (n - 1) * 2 * 60 * 10; alt = (n - 1) * (n - 2) * 4 * 60
			f = fast + alt * 10; every = 100
			if (f > 100000) { f = 100000; every = alt * 1000 / (100000 - fast) }
			printf "| %d | %.1f | %.1f | %.2f%% | %.0f |", n, m / 1000, f / 1000, m * 8 / 1e8 * 100, every }')")
		itm_log "mesh of $n: ${rows[-1]}"
	done
	echo
	echo "### Probe traffic sent by one node (interval 100 ms, probe_budget_kbps 800 = 100 kB/s, full mesh)"
	echo
	echo "| nodes | measured kB/s | formula kB/s | of 100 Mbit/s | alternatives probed every (ms, formula) |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
}

# ---------------------------------------------------------------------
# Time series
# ---------------------------------------------------------------------
bench_series() {
	local t0 end
	up "$TOPO4" "datapath: ebpf, pin_dir: $BPF, holddown_ms: 3000"
	t0=$(now)
	in_node r1 ping -n -D -i 0.01 -W 1 -w 26 "$OVL4" >"$ITM_TMP/series.ping" 2>&1 &
	local pp=$!
	(
		end=$(awk -v t="$t0" 'BEGIN { printf "%.3f\n", t + 26 }')
		while awk -v e="$end" -v n="$(now)" 'BEGIN { exit !(n < e) }'; do
			printf '%s ' "$(now)"
			lab ctl r1 -o json routes | tr -d '\n'
			echo
			sleep 0.1
		done
	) >"$ITM_TMP/series.routes" 2>/dev/null &
	local sp=$! ev=()
	sleep 3; ev+=("$(now) delay +200 ms"); lab impair r1 r4 delay=200ms >/dev/null
	sleep 6; ev+=("$(now) clear"); lab impair r1 r4 clear >/dev/null
	sleep 6; ev+=("$(now) cut"); lab impair r1 r4 down >/dev/null
	sleep 6; ev+=("$(now) restored"); lab impair r1 r4 up >/dev/null
	wait "$pp" "$sp"
	printf '%s\n' "${ev[@]}" >"$ITM_TMP/series.events"
	mkdir -p "$(dirname "$FIG")"
	"$PY" "$(dirname "$0")/itmroute_plot.py" "$t0" "$ITM_TMP/series.ping" \
		"$ITM_TMP/series.routes" "$ITM_TMP/series.events" "$FIG" ||
		itm_fail "plot failed"
	echo
	echo "### Time series: $FIG"
}

part failover && bench_failover
part throughput && bench_throughput
part probes && bench_probes
part series && bench_series
exit 0
