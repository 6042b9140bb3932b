#!/bin/bash
# etunnel_experiment.sh - the elastic tunnel against changing competition
# (paper section 8, issue 10): a 100 Mbit/s HTB bottleneck at r (towards
# n3) shared by k competing TCP flows from x to h2, k stepping through
# STEPS every STEP_SECS seconds; side by side in one run, one user flow
# h1 -> h2 through the tunnel n1 -> n3 (target TARGET) and one flow x -> h2
# without it.  Every 0.5 s: the tunnelled flow's and the plain flow's
# rate (what h2's TCP received), the pool size and the state (the entry's
# counters).  Per step: time until within 10 % of the target, median
# absolute error once there, overshoot (largest excess over the target
# after that), median pool size.  Then 64 MB from h1 to h2 through the
# tunnel against 8 flows, its SHA-256 at h2 checked.  Writes the samples
# (CSV), the table, and a PNG time series (matplotlib).
#
#   tests/bench/etunnel_experiment.sh [-o DIR] [-s "2 8 16 4"] [-t 20]
#                                     [--target 40] [--rate 100]
#                                     [--cc cubic] [-v]
#                                     [-x "EXIT PARAMS"]
#                                     [-- ETUNNEL PARAMS...]
#
# --cc is the TCP congestion control of every sender in the lab (the
# competitors, both user flows: iperf3 -C; the pool's connections: the
# module's cc=), so a host whose default differs (bbr) measures the same
# thing; cubic is Linux's default and what the tunnel's share model
# assumes (N / (N + k) of the bottleneck).
# -v: the entry's agent logs every decision of the pool's controller
# (itm-agent -v; the log stays with ITM_KEEP=1).
# ETUNNEL PARAMS go to the entry, EXIT PARAMS (space-separated) to the
# exit (e.g. -x reorder_wait_max_ms=50 for a fixed reorder wait).
# DIR (default docs/figures): etunnel_experiment.{csv,txt,png}.  ITM_BUILD
# is the build tree (use a build without sanitizers).  Root.  Not a ctest:
# it measures, it does not judge.
set -u
. "$(dirname "$0")/../integ/lib.sh"
. "$(dirname "$0")/../integ/etun_lib.sh"

OUT=docs/figures STEPS="2 8 16 4" STEP_SECS=20 TARGET=40 RATE=100 CC=cubic
EXTRA=() EXIT_EXTRA=() AGENT_V=()
while [ $# -gt 0 ]; do
	case $1 in
	-o) OUT=$2; shift 2 ;;
	-s) STEPS=$2; shift 2 ;;
	-t) STEP_SECS=$2; shift 2 ;;
	--target) TARGET=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--cc) CC=$2; shift 2 ;;
	-v) AGENT_V=(-v); shift ;;
	-x) read -ra EXIT_EXTRA <<<"$2"; shift 2 ;;
	--) shift; EXTRA=("$@"); break ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
itm__need iperf3 python3 tc iptables ethtool
itm_init etun_exp
mkdir -p "$OUT"
etun_topo
# The bottleneck: r's port towards n3, HTB, and a pfifo of 100 packets
# (12 ms at 100 Mbit/s) instead of txqueuelen's 1000.
itm_exec r tc qdisc replace dev "$ETUN_R_DEV_N3" root handle 1: htb default 1 &&
itm_exec r tc class add dev "$ETUN_R_DEV_N3" parent 1: classid 1:1 htb \
	rate "${RATE}mbit" ceil "${RATE}mbit" quantum 1514 &&
itm_exec r tc qdisc add dev "$ETUN_R_DEV_N3" parent 1:1 pfifo limit 100 ||
	itm_fail "cannot shape r"
# A veth passes its sender's TSO/GSO packets on whole (up to 64 kB), and
# a FIFO counts them as one: with them the queue above held up to 3 MB
# (the pool's round trips reached 300 ms in a storm at the start). The
# senders across r (the pool at n1, the competitors and the plain flow
# at x) put wire-sized packets out, as hosts on a real link would.
for n in n1 x; do
	for dev in $(itm_exec "$n" ls /sys/class/net); do
		[ "$dev" = lo ] && continue
		itm_exec "$n" ethtool -K "$dev" tso off gso off >/dev/null ||
			itm_fail "cannot turn segmentation offload off at $n"
	done
done

itm_agent_start n1 n1 "${AGENT_V[@]}"
itm_agent_start n3 n3
etun_exit max_conns=64 "cc=$CC" "${EXIT_EXTRA[@]}"
etun_entry "target=$((TARGET * 1000))" "cc=$CC" min_conns=1 max_conns=64 "${EXTRA[@]}"
itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" -ge 1 ]' ||
	itm_fail "the pool did not come up"

TOTAL=0
for k in $STEPS; do TOTAL=$((TOTAL + STEP_SECS)); done
# One server per step for the competitors: an iperf3 server still closing
# the last step's test answers "busy", and the step would run without them.
NSTEPS=$(wc -w <<<"$STEPS")
for p in 5301 5302 $(seq 5401 $((5401 + NSTEPS))); do
	itm_bg h2 --name "srv$p" iperf3 -s -i 0.5 -p "$p"
done
itm_wait_for 5 eval 'itm_exec h2 ss -Hltn | grep -q ":$((5401 + NSTEPS)) "' ||
	itm_fail "iperf3 servers did not start"

# Samples of the entry's counters every 0.5 s, stamped with the time.
sampler() {
	local end=$(($(date +%s) + TOTAL + 2))
	while [ "$(date +%s)" -lt "$end" ]; do
		printf '%s %s\n' "$(date +%s.%N)" "$(itm_ctl n1 n1 -o json stats \
			--module etunnel | tr -d '\n')"
		sleep 0.5
	done >"$ITM_TMP/pool.log"
}
# What h2's TCP received (bytes_received of its sockets on the user's and
# the plain flow's ports) every 0.25 s: the delivered rate, free of the
# iperf3 server's read and report timing.
rx_sampler() {
	local end=$(($(date +%s) + TOTAL + 2))
	while [ "$(date +%s)" -lt "$end" ]; do
		printf '%s ' "$(date +%s.%N)"
		itm_exec h2 ss -tinH state established \
			'( sport = :5301 or sport = :5302 )' | awk '
			!/bytes_received/ { n = split($3, a, ":"); port = a[n]; next }
			{ match($0, /bytes_received:[0-9]+/)
			  rx[port] += substr($0, RSTART + 15, RLENGTH - 15) }
			END { printf "%d %d\n", rx[5301], rx[5302] }'
		sleep 0.25
	done >"$ITM_TMP/rx.log"
}
T0=$(date +%s.%N)
itm_bg h1 --name user iperf3 -c "$ETUN_H2" -p 5301 -C "$CC" -t "$TOTAL" -i 0.5 -J \
	--get-server-output
itm_bg x --name plain iperf3 -c "$ETUN_H2" -p 5302 -C "$CC" -t "$TOTAL" -i 0.5 -J \
	--get-server-output
sampler &
SAMPLER=$!
rx_sampler &
RX_SAMPLER=$!
i=0
for k in $STEPS; do
	i=$((i + 1))
	echo "$(date +%s.%N) $k" >>"$ITM_TMP/steps"
	itm_exec x iperf3 -c "$ETUN_H2" -p $((5400 + i)) -P "$k" -C "$CC" -t "$STEP_SECS" \
		>"$ITM_TMP/comp-$i.log" 2>&1 ||
		itm_log "competitors of step $i (k=$k) failed: $(tail -2 "$ITM_TMP/comp-$i.log")"
	itm_log "step $i (k=$k): competitors $(awk '/SUM.*receiver/ { print $6, $7 }' "$ITM_TMP/comp-$i.log")"
done
wait "$SAMPLER" "$RX_SAMPLER"
itm_wait_for 10 eval '! pgrep -f "iperf3 -c $ETUN_H2 -p 5301" >/dev/null'
sleep 1
cp "$ITM_TMP"/user.log "$ITM_TMP/user.json"
cp "$ITM_TMP"/plain.log "$ITM_TMP/plain.json"
/usr/bin/python3 "$(dirname "$0")/etunnel_plot.py" "$ITM_TMP" "$T0" \
	"$TARGET" "$RATE" "$OUT" "$CC" || itm_fail "analysis failed"
# Bytes intact: BLOB_MB from h1 to h2 through the tunnel while 8 flows
# compete, its SHA-256 at h2 against the file's.
BLOB_MB=64
head -c $((BLOB_MB << 20)) /dev/urandom >"$ITM_TMP/blob"
etun_sha_sink 5303
itm_wait_for 5 eval 'itm_exec h2 ss -Hltn | grep -q ":5303 "' ||
	itm_fail "the SHA-256 sink did not start"
itm_bg x --name blobcomp iperf3 -c "$ETUN_H2" -p $((5401 + NSTEPS)) -P 8 \
	-C "$CC" -t 30
t_blob=$(date +%s.%N)
got=$(etun_sha_send h1 5303 "$ITM_TMP/blob" 120) ||
	itm_fail "the transfer through the tunnel failed"
got=${got%% *}
t_blob=$(awk -v a="$t_blob" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
want=$(sha256sum <"$ITM_TMP/blob" | cut -d' ' -f1)
verdict=$([ "$got" = "$want" ] && echo intact || echo "CORRUPTED (got $got)")
awk -v mb="$BLOB_MB" -v s="$t_blob" -v sha="${want:0:16}" -v v="$verdict" 'BEGIN {
	printf "%d MB h1 -> h2 through the tunnel against 8 flows: SHA-256 %s..., %s, %.1f s (%.1f Mbit/s)\n",
		mb, sha, v, s, mb * 8 * 1.048576 / s }' >>"$OUT/etunnel_experiment.txt"
itm_log "entry counters at the end:
$(itm_ctl n1 n1 stats --module etunnel)"
itm_log "exit counters at the end:
$(itm_ctl n3 n3 stats --module etunnel)"
cat "$OUT/etunnel_experiment.txt"
