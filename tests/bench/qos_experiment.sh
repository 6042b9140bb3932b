#!/bin/bash
# qos_experiment.sh - mice and elephants (paper section 5; Guo & Matta,
# ICNP 2001), reproduced: TCP flows h1 -> h2 through r, whose link to h2
# is the core bottleneck (deploy/lab/qos-core.sh: HTB at RATE, the TOS
# 0x10 class first), with web-search flow sizes (flowgen.c, scaled to the
# lab) arriving as a seeded Poisson process at LOAD of RATE, in each of
#   none       no ITM: one FIFO class
#   qosmod-tN  itm-agent in r with qosmod threshold=N (the paper's two
#              classes), for each N of THRESHOLDS
#   multi      qosmod thresholds=MULTI mode=dscp (PIAS-style levels), the
#              core with one class per level
# Every configuration gets the same arrivals and sizes (same seed).  The
# report (qos_report.py) gives mean and p99 FCT per size bucket and the
# long flows' throughput, with ratios to "none", and draws the PNGs.
#
#   tests/bench/qos_experiment.sh [--quick] [-n FLOWS] [-l LOADS]
#           [-T THRESHOLDS] [--multi T1,T2] [--rate RATE] [--seed S]
#           [--figures DIR] [--csv-dir DIR]
#
# Defaults: 3000 flows, loads "0.6 0.8" (0.8 runs none and the middle
# threshold only), thresholds "8 20 60", multi 20,200, rate 100mbit, seed
# 1, figures into docs/figures/ (the full run; ~8 minutes).  --quick: 400
# flows at load 0.6, none and threshold 20, no figures unless --figures;
# it fails unless qosmod cuts the small flows' mean FCT to at most half
# and their p99 too (the regression check of ctest integ.qos_quick).
# Sizes are the web-search mix times SCALE 0.1: small <= 10 KB,
# medium <= 1 MB, large > 1 MB (PIAS's 100 KB / 10 MB buckets, scaled).
# Needs a build (ITM_BUILD, default ./build) with itm-agent, qosmod and
# tests/bench/flowgen; /usr/bin/python3 with matplotlib for the figures.
set -u
. "$(dirname "$0")/../integ/lib.sh"

FLOWS=3000 LOADS="0.6 0.8" THRESHOLDS="8 20 60" MULTI=20,200 RATE=100mbit
SEED=1 SCALE=0.1 QUICK=0 FIGDIR="" CSVDIR="" PORT=5001
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)

usage() {
	sed -n '16,30p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

parse_args() {
	local figset=0
	while [ $# -gt 0 ]; do
		case $1 in
		--quick) QUICK=1; FLOWS=400; LOADS=0.6; THRESHOLDS=20; MULTI=""
			shift ;;
		-n) FLOWS=${2:?}; shift 2 ;;
		-l) LOADS=${2:?}; shift 2 ;;
		-T) THRESHOLDS=${2:?}; shift 2 ;;
		--multi) MULTI=${2?}; shift 2 ;;
		--rate) RATE=${2:?}; shift 2 ;;
		--seed) SEED=${2:?}; shift 2 ;;
		--figures) FIGDIR=${2:?}; figset=1; shift 2 ;;
		--csv-dir) CSVDIR=${2:?}; shift 2 ;;
		-h|--help) usage ;;
		*) echo "qos_experiment: unknown argument '$1'" >&2; usage ;;
		esac
	done
	[ "$figset" = 0 ] && [ "$QUICK" = 0 ] && FIGDIR="$ITM_SRC/docs/figures"
	[[ $FLOWS =~ ^[1-9][0-9]*$ && $SEED =~ ^[0-9]+$ &&
	   $RATE =~ ^[0-9]+[kmg]bit$ && $MULTI =~ ^([0-9]+(,[0-9]+)+)?$ ]] ||
		usage
}

rate_bits() {
	awk -v r="$RATE" 'BEGIN { n = r + 0; u = substr(r, length(n) + 1, 1)
		printf "%d", n * (u == "g" ? 1e9 : u == "m" ? 1e6 : 1e3) }'
}

# ---------------------------------------------------------------------

setup() {
	itm_topo_line
	# One segment per packet, as the paper counts them: no GSO/TSO.
	itm_exec h1 ip link set dev "$ITM_H1_DEV" gso_max_segs 1
	itm_exec r ip link set dev "$ITM_R_DEV2" gso_max_segs 1
	itm_bg h2 --name flowgen-serve "$ITM_BUILD/tests/bench/flowgen" serve \
		"$ITM_H2_IP" "$PORT"
	itm_wait_for 5 grep -q serving "$ITM_LAST_LOG" ||
		itm_fail "flowgen serve did not start"
}

# core TOS-LIST: the bottleneck queue on r towards h2.
core() {
	"$ITM_SRC/deploy/lab/qos-core.sh" "$(itm_nsname r)" "$ITM_R_DEV2" \
		"$RATE" "$1" >/dev/null || itm_fail "qos-core.sh failed"
}

# run NAME LOAD [QOSMOD PARAMS]: one configuration, FCTs into NAME's CSV.
run() {
	local name=$1 load=$2 params=${3:-} csv t0
	csv="$CSVDIR/load$load-$name.csv"
	if [ "$name" = multi ]; then core "$(multi_tos)"; else core 0x10/0x10; fi
	[ -n "$params" ] && itm_agent_start r r --load "qosmod $params"
	t0=$(date +%s)
	itm_exec h1 "$ITM_BUILD/tests/bench/flowgen" run "$ITM_H2_IP" "$PORT" \
		"$FLOWS" "$load" "$(rate_bits)" "$SEED" "$SCALE" >"$csv" \
		2>"$csv.log" || itm_fail "flowgen run failed: $(cat "$csv.log")"
	if [ -n "$params" ]; then
		itm_ctl r r stats >"$csv.stats" 2>&1
		itm_agent_stop r || itm_log "warning: itm-agent exit status $?"
	fi
	itm_log "load $load $name: $(($(date +%s) - t0)) s," \
		"$(($(wc -l <"$csv") - 1)) flows; $(grep -c . "$csv.log") log line(s)"
}

# TOS values of qosmod's levels in dscp mode (default DSCPs 46, 34, ...):
# all but the last level get a class, in order.
multi_tos() {
	local d=(0xb8 0x88 0x68 0x48) n i out=""
	n=$(tr ',' '\n' <<<"$MULTI" | grep -c .)
	for ((i = 0; i < n; i++)); do out+="${out:+,}${d[$i]}/0xfc"; done
	echo "$out"
}

# Every configuration at LOAD $1; $2 = 1: only none and the middle one.
run_load() {
	local load=$1 few=$2 t ts
	read -ra ts <<<"$THRESHOLDS"
	run none "$load"
	if [ "$few" = 1 ]; then
		t=${ts[$((${#ts[@]} / 2))]}
		run "qosmod-t$t" "$load" "threshold=$t"
		return
	fi
	for t in "${ts[@]}"; do run "qosmod-t$t" "$load" "threshold=$t"; done
	[ -n "$MULTI" ] && run multi "$load" "thresholds=$MULTI mode=dscp"
	return 0
}

main() {
	local first=1 load args=()
	parse_args "$@"
	itm_init qos_exp
	itm__need tc python3
	[ -x "$ITM_BUILD/tests/bench/flowgen" ] ||
		itm_fail "not built: $ITM_BUILD/tests/bench/flowgen"
	[ -n "$CSVDIR" ] || CSVDIR="$ITM_TMP/fct"
	mkdir -p "$CSVDIR"
	setup
	for load in $LOADS; do
		run_load "$load" $((1 - first))
		first=0
	done
	args=(--scale "$SCALE" --rate "$RATE" --seed "$SEED")
	[ -n "$FIGDIR" ] && args+=(--figures "$FIGDIR")
	[ "$QUICK" = 1 ] && args+=(--check)
	/usr/bin/python3 "$BENCH_DIR/qos_report.py" "${args[@]}" "$CSVDIR"
}

main "$@"
