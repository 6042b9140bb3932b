#!/bin/bash
# etunnel_tls_cost.sh - what mutual TLS costs the elastic tunnel: one
# iperf3 flow h1 -> h2 through a pool of CONNS connections n1 -> n3, with
# and without TLS (tls_ca, tls_cert, tls_key; EC P-256 certificates made
# here), side by side: ROUNDS rounds, each one run of each kind in
# alternating order, SECS seconds each, no bottleneck (what the agents
# can carry).  Per run: the receiver's Mbit/s and the CPU seconds both
# agents spent (utime + stime) per GB carried.  Prints the runs and the
# medians, and the ratio TLS / plain.
#
#   tests/bench/etunnel_tls_cost.sh [-r ROUNDS] [-t SECS] [-c CONNS]
#                                   [-- ETUNNEL PARAMS...]
#
# Defaults: 3 rounds, 5 s, 4 connections, tcp=packet (the figures in
# modules/etunnel/README.md; give -- tcp=split for split TCP, sent to both
# ends).  ITM_BUILD is the build tree
# (use a build without sanitizers: an instrumented agent beside an
# uninstrumented libssl understates the cost).  Root.  Not a ctest: it
# measures, it does not judge.
set -u
. "$(dirname "$0")/../integ/lib.sh"
. "$(dirname "$0")/../integ/etun_lib.sh"

ROUNDS=3 SECS=5 CONNS=4
EXTRA=()
while [ $# -gt 0 ]; do
	case $1 in
	-r) ROUNDS=$2; shift 2 ;;
	-t) SECS=$2; shift 2 ;;
	-c) CONNS=$2; shift 2 ;;
	--) shift; EXTRA=("$@"); break ;;
	-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
# tcp= from ETUNNEL PARAMS goes to both ends (and only once to the entry)
TCP=tcp=packet
for i in "${!EXTRA[@]}"; do
	case ${EXTRA[$i]} in tcp=*) TCP=${EXTRA[$i]}; unset "EXTRA[$i]" ;; esac
done
itm__need iperf3 python3 openssl iptables
itm_init etun_tlscost
etun_topo

P=$ITM_TMP/pki
etun_mkcert ca -
# The ends are given by address (peer_addr): each certificate names its
# end's address in subjectAltName, as the other end checks.
etun_mkcert entry ca "IP:$ETUN_N1"
etun_mkcert exit ca "IP:$ETUN_N3"

itm_agent_start n1 n1
itm_agent_start n3 n3

# cpu PID: CPU seconds (utime + stime) of a process so far.
cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# run KIND: load both ends (KIND tls or plain), one iperf3 run, unload;
# prints "KIND MBPS CPU_S_PER_GB".
run() {
	local kind=$1 xp=() ep=() c0 c1 gbps
	if [ "$kind" = tls ]; then
		xp=("tls_ca=$P/ca.pem" "tls_cert=$P/exit.pem" "tls_key=$P/exit.key")
		ep=("tls_ca=$P/ca.pem" "tls_cert=$P/entry.pem" "tls_key=$P/entry.key")
	fi
	etun_exit max_conns="$CONNS" "$TCP" "${xp[@]}" >/dev/null
	# cap=no: what the agents can carry, not the target
	etun_entry min_conns="$CONNS" max_conns="$CONNS" cap=no "$TCP" "${EXTRA[@]}" "${ep[@]}" >/dev/null
	itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = "$CONNS" ]' ||
		itm_fail "$kind: the pool did not come up"
	c0=$(python3 -c "print($(cpu "${ITM_AGENT_PID[n1]}") + $(cpu "${ITM_AGENT_PID[n3]}"))")
	gbps=$(itm_iperf h2 "$ETUN_H2" h1 "$SECS") || itm_fail "$kind: iperf3"
	c1=$(python3 -c "print($(cpu "${ITM_AGENT_PID[n1]}") + $(cpu "${ITM_AGENT_PID[n3]}"))")
	itm_ctl n1 n1 module unload etunnel >/dev/null &&
		itm_ctl n3 n3 module unload etunnel >/dev/null ||
		itm_fail "$kind: unload"
	python3 -c "g = $gbps; print('%s %.1f %.2f' % ('$kind', g * 1000,
	    ($c1 - $c0) / max(g * $SECS / 8, 1e-9)))"
}

: >"$ITM_TMP/runs"
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="plain tls"; else order="tls plain"; fi
	for kind in $order; do
		run "$kind" | tee -a "$ITM_TMP/runs"
	done
done
python3 - "$ITM_TMP/runs" "$CONNS" "$SECS" <<'PY'
import statistics, sys
runs = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = {}
for k in ("plain", "tls"):
    r = [(float(m), float(c)) for kind, m, c in runs if kind == k]
    med[k] = (statistics.median(x[0] for x in r), statistics.median(x[1] for x in r))
    print("%-5s %d runs of %s s, %s connections: median %.1f Mbit/s, "
          "%.2f CPU s per GB (both agents); runs %s" % (k, len(r), sys.argv[3],
          sys.argv[2], med[k][0], med[k][1], ", ".join("%.0f" % x[0] for x in r)))
print("TLS / plain: throughput %.2f, CPU per GB %.2f" %
      (med["tls"][0] / med["plain"][0], med["tls"][1] / med["plain"][1]))
PY
