#!/bin/bash
# agent_bench.sh - TCP throughput, 64-byte UDP packets/s and ping RTT
# through the router r of an h1 -- r -- h2 namespace line, side by side in
# one run, for
#   (a) no rules: the kernel alone
#   (b) nfq_accept_min: the NAIVE accept-all NFQUEUE program, as one writes
#       a first one (classic libnetfilter_queue API, a verdict per packet,
#       no GSO); kept to show what the best practice buys, compared to
#       nothing
#   (p) nfq_peer p: the best-practice accept-all peer (GSO, every packet
#       of a burst read before one batch verdict)
#   (q) nfq_peer q: the best-practice peer doing fig13's work (TOS of every
#       packet rewritten, IP and full L4 checksum, verdicts of a burst in
#       one sendmsg)
#   (c) itm-agent with no module
#   (d) itm-agent with qosmod
#   (e) itm-agent with the Figure-13 module in the agent (fig13.so)
#   (f) itm-agent with the same module as a process (the fig13 program,
#       linked with libitm, registered over the agent's unix socket)
#   (g) (e) with itm-agent --workers 2: the stage has two queues read by
#       two threads (--queue-balance; the kernel picks the queue by the
#       packet's IP addresses, so use -s to have several address pairs)
#   (h) (g) with --queue-cpu-fanout: the queue is the one of the CPU the
#       packet is on, not chosen by its addresses
#   (i) (h) with --pin-workers: worker i runs on CPU i, the CPU whose
#       packets its queue gets
#   (j) (g) with --pin-workers (queues still chosen by address hash)
#   (t) (e) with connection tracking on in r, as the agent's settlement
#       rules had it for every module before plugin ABI 1.4 (not default)
# (e), (f) and (g) rewrite the TOS byte of every packet r forwards (proto
# any, destination port kept), ping included.
# Rounds interleave the configurations (a b p q c d ...) so drift of a
# shared machine hits them alike; the table shows medians and the ratios
# to (a), the kernel, and to the best-practice peer of the same work
# (p for b, c and d; q for e, f and g).  A configuration whose binary is
# not built is "n/a".
#
#   tests/bench/agent_bench.sh [-r ROUNDS] [-t SECS] [-u SECS] [-p PINGS]
#                              [-c|--configs CONFIGS] [-s SOURCES]
#                              [--ends-cpu CPU] [--csv FILE] [-- IPERF3 OPTS]
#
# ROUNDS default 3, -t iperf3 seconds (5), -u seconds of 64-byte UDP (3),
# PINGS (50, 10 ms apart), CONFIGS a subset like "aqe" or "a,p,q,e,g"
# (default abpqcdefg), SOURCES (1) address pairs: iperf3 clients side by side
# and udp_flood sockets, each from its own address of h1.  ITM_BUILD is
# the build tree (default ./build; use a build without ITM_SANITIZE).
# --ends-cpu CPU: the traffic's ends (iperf3, udp_flood, ping) run on CPU
# only, the queue's reader (agent, peer) on every CPU.
# Not a ctest: it measures, it does not judge.
set -u
. "$(dirname "$0")/../integ/lib.sh"

ROUNDS=3 SECS=5 USECS=3 PINGS=50 CONFIGS=abpqcdefg CSV="" IPERF_OPTS=()
SOURCES=1 ENDS_CPU="" ALL_CPUS=""
declare -A LABEL=(
	[a]="(a) no rules (kernel)"
	[b]="(b) naive accept-all"
	[p]="(p) peer accept-all"
	[q]="(q) peer TOS rewrite"
	[c]="(c) itm-agent, no module"
	[d]="(d) itm-agent + qosmod"
	[e]="(e) fig13 in-agent module"
	[f]="(f) fig13 process module"
	[g]="(g) fig13 in-agent, 2 workers"
	[h]="(h) (g) + queue-cpu-fanout"
	[i]="(i) (h) + pin-workers"
	[j]="(j) (g) + pin-workers"
	[t]="(t) (e) + conntrack on in r"
)
# The best-practice peer each configuration is compared with.
declare -A PEER=([b]=p [p]=p [c]=p [d]=p [q]=q [e]=q [f]=q [g]=q [h]=q [i]=q [j]=q [t]=q)
# Configurations that rewrite every packet: their packet rate counts only
# datagrams that arrived rewritten (TOS 0x55).
REWRITERS=qefghijt
declare -A TP=() RTT=() PPS=() OFFERED=() NA=() NOTE=()
declare -A PCPU=() BUSY=() QPKT=() KBPKT=() USPKT=() TOPQ=()

usage() {
	sed -n '38,49p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-r) ROUNDS=${2:?}; shift 2 ;;
		-t) SECS=${2:?}; shift 2 ;;
		-u) USECS=${2:?}; shift 2 ;;
		-p) PINGS=${2:?}; shift 2 ;;
		-c|--configs) CONFIGS=${2:?}; CONFIGS=${CONFIGS//,/}; shift 2 ;;
		-s|--sources) SOURCES=${2:?}; shift 2 ;;
		--csv) CSV=${2:?}; shift 2 ;;
		--ends-cpu) ENDS_CPU=${2:?}; shift 2 ;;
		--) shift; IPERF_OPTS=("$@"); break ;;
		-h|--help) usage ;;
		*) echo "agent_bench: unknown argument '$1'" >&2; usage ;;
		esac
	done
	[[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ &&
	   $USECS =~ ^[1-9][0-9]*$ &&
	   $PINGS =~ ^[1-9][0-9]*$ && $CONFIGS =~ ^[abpqcdefghijt]+$ &&
	   $SOURCES =~ ^[1-9][0-9]?$ && $ENDS_CPU =~ ^[0-9]*$ ]] || usage
}

# ---------------------------------------------------------------------
# Configurations: setup_X returns 0 (ready), 2 (n/a, reason in NA[X])
# ---------------------------------------------------------------------

NFQ_PID=""
NFQ_RULE=(FORWARD -j NFQUEUE --queue-num 0 --queue-bypass)

setup_a() { return 0; }
teardown_a() { return 0; }

setup_b() {
	local bin="$ITM_BUILD/tests/bench/nfq_accept_min"
	[ -x "$bin" ] || { NA[b]="not built ($bin)"; return 2; }
	itm_bg r --name "nfq_accept_min-$ROUND" "$bin" 0
	NFQ_PID=$ITM_LAST_PID
	itm_wait_for 5 itm__queue_bound r 0 || itm_fail "nfq_accept_min did not bind"
	itm_exec r iptables -A "${NFQ_RULE[@]}" || itm_fail "iptables failed in r"
}

teardown_b() {
	itm_exec r iptables -D "${NFQ_RULE[@]}"
	itm_stop "$NFQ_PID"
	NOTE[b]=$(tail -1 "$ITM_LAST_LOG_B" 2>/dev/null)
}

# (p) and (q): nfq_peer in mode p or q on queue 0.
setup_peer() {
	local bin="$ITM_BUILD/tests/bench/nfq_peer"
	[ -x "$bin" ] || { NA[$1]="not built ($bin)"; return 2; }
	itm_bg r --name "nfq_peer-$1-$ROUND" "$bin" "$1" 0
	NFQ_PID=$ITM_LAST_PID
	ITM_LAST_LOG_PEER=$ITM_LAST_LOG
	itm_wait_for 5 itm__queue_bound r 0 || itm_fail "nfq_peer did not bind"
	itm_exec r iptables -A "${NFQ_RULE[@]}" || itm_fail "iptables failed in r"
}

teardown_peer() {
	itm_exec r iptables -D "${NFQ_RULE[@]}"
	itm_stop "$NFQ_PID"
	NOTE[$1]=$(tail -1 "$ITM_LAST_LOG_PEER" 2>/dev/null)
}

setup_p() { setup_peer p; }
setup_q() { setup_peer q; }
teardown_p() { teardown_peer p; }
teardown_q() { teardown_peer q; }

agent_na() {
	local bin
	bin=$(itm_agent_bin)
	[ -x "$bin" ] || { NA[$1]="itm-agent not built ($bin)"; return 0; }
	if [ "$1" = d ] && [ ! -e "$ITM_BUILD/modules/qosmod/qosmod.so" ]; then
		NA[d]="qosmod not built"
		return 0
	fi
	return 1
}

setup_c() {
	agent_na c && return 2
	itm_agent_start r r
}

setup_d() {
	agent_na d && return 2
	itm_agent_start r r --load "qosmod"
}

teardown_c() { itm_agent_stop r || itm_log "warning: itm-agent exit status $?"; }

# Figure 13 rewriting the TOS of every forwarded packet, destination port
# kept so the transfer still reaches iperf3.
FIG13_TOS=0x55

setup_e() {
	agent_na e && return 2
	[ -e "$ITM_BUILD/modules/examples/fig13/fig13.so" ] ||
		{ NA[e]="fig13.so not built"; return 2; }
	itm_agent_start r r --load "fig13 proto=any new_dport=0 tos=$FIG13_TOS"
}

teardown_e() {
	stats_save e
	teardown_c
}

# (e) with r tracking connections: one -m conntrack match (no target) in
# mangle PREROUTING, what the settlement rules cost every module before
# ABI 1.4.  (e)/(t) in the same rounds is what declaring buys.
setup_t() {
	setup_e || { NA[t]=${NA[e]:-}; return 2; }
	itm_exec r iptables -t mangle -A PREROUTING -m conntrack \
		--ctdir ORIGINAL || itm_fail "cannot turn conntrack on in r"
}

teardown_t() {
	itm_exec r iptables -t mangle -D PREROUTING -m conntrack \
		--ctdir ORIGINAL || itm_log "warning: conntrack rule not removed"
	teardown_c
}

# (e) with two worker threads; (h), (i), (j) with the options $2...
setup_workers() {
	local c=$1
	shift
	agent_na "$c" && return 2
	[ -e "$ITM_BUILD/modules/examples/fig13/fig13.so" ] ||
		{ NA[$c]="fig13.so not built"; return 2; }
	itm_agent_start r r --workers 2 "$@" \
		--load "fig13 proto=any new_dport=0 tos=$FIG13_TOS"
}

# Packets each worker's queue took this round (id_sequence in /proc).
teardown_workers() {
	NOTE[$1]="packets per queue, last round:$(itm_exec r cat \
		/proc/net/netfilter/nfnetlink_queue | awk '{ printf " %s: %s", $1, $8 }')"
	stats_save "$1"
	teardown_c
}

setup_g() { setup_workers g; }
setup_h() { setup_workers h --queue-cpu-fanout; }
setup_i() { setup_workers i --queue-cpu-fanout --pin-workers; }
setup_j() { setup_workers j --pin-workers; }
teardown_g() { teardown_workers g; }
teardown_h() { teardown_workers h; }
teardown_i() { teardown_workers i; }
teardown_j() { teardown_workers j; }

FIG13_PID=""

setup_f() {
	local bin="$ITM_BUILD/modules/examples/fig13/fig13"
	agent_na f && return 2
	[ -x "$bin" ] || { NA[f]="fig13 not built ($bin)"; return 2; }
	itm_agent_start r r
	itm_bg r --name "fig13-$ROUND" env \
		ITM_AGENT_SOCKET="$(itm_agent_sock r)" "$bin" --proto any \
		--new-dport 0 --tos "$FIG13_TOS"
	FIG13_PID=$ITM_LAST_PID
	itm_wait_for 10 grep -q "fig13: rewriting" "$ITM_LAST_LOG" ||
		itm_fail "the fig13 process module did not register"
	itm_wait_for 5 fig13_queued ||
		itm_fail "no NFQUEUE rule for the fig13 process module in r"
}

# True when r's FORWARD hook has an NFQUEUE rule (the process's queue).
fig13_queued() {
	itm_exec r iptables-nft-save | grep -q -- '-j NFQUEUE'
}

teardown_f() {
	stats_save f
	itm_stop "$FIG13_PID" || itm_log "warning: fig13 exit status $?"
	teardown_c
}

# itmctl stats of configuration $1 (modules' counters) for the report.
stats_save() {
	[ -x "$(itm_ctl_bin)" ] || return 0
	itm_ctl r r stats >"$ITM_TMP/stats-$1-$ROUND.txt" 2>&1
	cp "$ITM_TMP/stats-$1-$ROUND.txt" "$ITM_TMP/stats-$1.txt"
}

teardown_d() {
	if [ -x "$(itm_ctl_bin)" ]; then
		itm_ctl r r stats >"$ITM_TMP/qosmod-stats-$ROUND.txt" 2>&1
		cp "$ITM_TMP/qosmod-stats-$ROUND.txt" "$ITM_TMP/qosmod-stats.txt"
	fi
	teardown_c
}

# ---------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------

measure() {
	local cfg=$1 g u r rc
	[ -n "${NA[$cfg]:-}" ] && return 0
	setup_"$cfg"
	rc=$?
	[ "$rc" -eq 2 ] && { itm_log "${LABEL[$cfg]}: n/a: ${NA[$cfg]}"; return 0; }
	[ "$cfg" = b ] && ITM_LAST_LOG_B=$ITM_LAST_LOG
	readers_everywhere "$cfg"
	local c0 c1
	c0=$(cpu_snapshot "$cfg")
	g=$(throughput) || g=fail
	c1=$(cpu_snapshot "$cfg")
	cpu_account "$cfg" "$c0" "$c1" "$g"
	u=$(udp_rate "$cfg") || u="fail fail"
	r=$(itm_ping h1 "$ITM_H2_IP" "$PINGS" 0.01) || r=fail
	teardown_"$cfg"
	itm_log "round $ROUND ${LABEL[$cfg]}: $g Gbit/s, 64-byte pps" \
		"delivered/offered ${u/ //}, rtt $r ms"
	TP[$cfg]="${TP[$cfg]:-} $g"
	PPS[$cfg]="${PPS[$cfg]:-} ${u% *}"
	OFFERED[$cfg]="${OFFERED[$cfg]:-} ${u#* }"
	RTT[$cfg]="${RTT[$cfg]:-} $r"
}

# With --ends-cpu: the bench and what it starts are confined to that CPU;
# the readers of configuration $1 (every thread) get every CPU back.
readers_everywhere() {
	local p
	[ -n "$ENDS_CPU" ] || return 0
	for p in $(queue_pid "$1") $([ "$1" = f ] && echo "${ITM_AGENT_PID[r]:-}"); do
		taskset -a -p -c "$ALL_CPUS" "$p" >/dev/null ||
			itm_log "warning: cannot give pid $p every CPU"
	done
}

# The process reading the queue of configuration $1 (none for (a)).
queue_pid() {
	case $1 in
	a) echo "" ;;
	b|p|q) echo "$NFQ_PID" ;;
	f) echo "$FIG13_PID" ;;
	*) echo "${ITM_AGENT_PID[r]:-}" ;;
	esac
}

# "NS PROG_TICKS BUSY_TICKS ALL_TICKS QUEUED Q:N,...": the time, the CPU
# ticks of the queue's reader (all its threads), of the machine (busy and
# all), the packets r's queues took so far (id_sequence, all queues) and
# per queue.
cpu_snapshot() {
	local pid prog=0
	pid=$(queue_pid "$1")
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] &&
		prog=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat")
	echo "$(date +%s%N) $prog $(awk '$1 == "cpu" { t = 0
		for (i = 2; i <= NF; i++) t += $i
		print t - $5 - $6, t; exit }' /proc/stat)" \
		"$(itm_exec r cat /proc/net/netfilter/nfnetlink_queue |
			awk '{ s += $8; l = l "," $1 ":" $8 }
				END { print s + 0, substr(l, 2) }')"
}

# From the snapshots $2 and $3 around configuration $1's TCP phase and its
# Gbit/s $4: the reader's CPU (% of one core), the machine's busy share
# (% of all cores), queued packets/s, KB a queued packet carried, the
# reader's CPU us per queued packet and the busiest queue's share (%).
cpu_account() {
	local v
	v=$(awk -v a="$2" -v b="$3" -v g="$4" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x); split(b, y); secs = (y[1] - x[1]) / 1e9
		if (secs <= 0) exit 1
		prog = (y[2] - x[2]) / hz; busy = y[3] - x[3]; all = y[4] - x[4]
		q = y[5] - x[5]
		printf "%.0f %.0f %.0f", 100 * prog / secs,
			all ? 100 * busy / all : 0, q / secs
		kb = (q && g + 0 > 0) ? sprintf("%.1f", g * 1e9 / 8 / 1024 * secs / q) : "n/a"
		us = q ? sprintf("%.2f", prog * 1e6 / q) : "n/a"
		n = split(x[6], qa, /[:,]/); for (i = 1; i < n; i += 2) q0[qa[i]] = qa[i + 1]
		n = split(y[6], qa, /[:,]/); top = 0; nq = 0
		for (i = 1; i < n; i += 2) { d = qa[i + 1] - q0[qa[i]]; nq++
			if (d > top) top = d }
		sh = (q && nq > 1) ? sprintf("%.0f", 100 * top / q) : "n/a"
		printf " %s %s %s\n", kb, us, sh }') || return 0
	read -r pc bu qp kb us sh <<<"$v"
	TOPQ[$1]="${TOPQ[$1]:-} $sh"
	PCPU[$1]="${PCPU[$1]:-} $pc" BUSY[$1]="${BUSY[$1]:-} $bu"
	QPKT[$1]="${QPKT[$1]:-} $qp" KBPKT[$1]="${KBPKT[$1]:-} $kb"
	USPKT[$1]="${USPKT[$1]:-} $us"
}

# 64-byte UDP h1 -> h2 for USECS seconds from SOURCES addresses: prints
# "DELIVERED_PPS OFFERED_PPS".  For a configuration that rewrites every
# packet only the datagrams that arrived rewritten count as delivered.
udp_rate() {
	local bin="$ITM_BUILD/tests/bench/udp_flood" port=9 rlog slog srcs="" i
	[ -x "$bin" ] || return 1
	rlog="$ITM_TMP/udp-recv-$1-$ROUND" slog="$ITM_TMP/udp-send-$1-$ROUND"
	for i in $(seq "$SOURCES"); do srcs+="${srcs:+,}$(source_addr "$i")"; done
	itm_exec h2 "$bin" recv "$ITM_H2_IP" "$port" $((USECS + 10)) >"$rlog" &
	local rpid=$!
	itm_wait_for 5 grep -q listening "$rlog" || { kill "$rpid"; return 1; }
	itm_exec h1 "$bin" send "$ITM_H2_IP" "$port" "$USECS" "$srcs" >"$slog"
	wait "$rpid"
	awk -v rw="$([[ $REWRITERS == *$1* ]] && echo 1 || echo 0)" '
		$1 == "offered" { secs = $3; off = $4 }
		$1 == "delivered" { d = rw ? $3 : $2 }
		END { if (!secs) exit 1; printf "%.0f %.0f\n", d / secs, off }' \
		"$slog" "$rlog"
}

# Gbit/s h1 -> h2: one iperf3, or SOURCES side by side (one per source
# address of h1), summed.
throughput() {
	local i pids=() rc=0
	if [ "$SOURCES" -eq 1 ]; then
		itm_iperf h2 "$ITM_H2_IP" h1 "$SECS" "${IPERF_OPTS[@]}"
		return
	fi
	for i in $(seq "$SOURCES"); do
		( itm_iperf h2 "$ITM_H2_IP" h1 "$SECS" -B "$(source_addr "$i")" \
			"${IPERF_OPTS[@]}" >"$ITM_TMP/tp-$i" ) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	[ "$rc" -eq 0 ] || return 1
	cat "$ITM_TMP"/tp-* | awk '{ s += $1 } END { printf "%.3f\n", s }'
	rm -f "$ITM_TMP"/tp-*
}

# Source address I of h1: its own, then 10.X.1.10, 10.X.1.11, ...
source_addr() {
	if [ "$1" -eq 1 ]; then echo "$ITM_H1_IP"; else echo "10.$ITM_NETX.1.$((8 + $1))"; fi
}

# median of the numeric words of $1 ("fail" entries are dropped)
median() {
	tr ' ' '\n' <<<"$1" | grep -E '^[0-9.]+$' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) exit 1
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.3f\n", m }'
}

ratio() {
	[[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] || { echo n/a; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"
		else printf "%.2f\n", a / b }'
}

# Median of configuration $1's values in array $2, or n/a.
med() {
	local -n arr=$2
	median "${arr[$1]:-}" || echo n/a
}

# One row: medians of $1 and their ratios to (a) and to its peer.
report_row() {
	local c=$1 pr=${PEER[$1]:-} tp pps off rt
	tp=$(med "$c" TP) pps=$(med "$c" PPS) off=$(med "$c" OFFERED)
	rt=$(med "$c" RTT)
	printf '%-30s %7s %5s %5s  %9s %5s %5s %9s  %6s\n' "${LABEL[$c]}" \
		"$tp" "$(ratio "$tp" "$(med a TP)")" \
		"$(ratio "$tp" "$(peer_med "$pr" TP)")" "${pps%.*}" \
		"$(ratio "$pps" "$(med a PPS)")" \
		"$(ratio "$pps" "$(peer_med "$pr" PPS)")" "${off%.*}" "$rt"
	[ -n "$CSV" ] && echo "$c,\"${LABEL[$c]}\",$tp,$pps,$off,$rt,\"${TP[$c]# }\",\"${PPS[$c]# }\",\"${RTT[$c]# }\"" >>"$CSV"
	return 0
}

# Median of the peer $1 when it was run, else n/a.
peer_med() {
	[ -n "$1" ] && [[ $CONFIGS == *$1* ]] || { echo n/a; return; }
	med "$1" "$2"
}

report() {
	local c
	echo
	echo "Through r: iperf3 h1->h2 ${SECS}s ${IPERF_OPTS[*]}; 64-byte UDP ${USECS}s;" \
		"$SOURCES address pair(s); ping ${PINGS}x10ms; medians of $ROUNDS round(s)"
	[ -n "$ENDS_CPU" ] && echo "traffic ends on CPU $ENDS_CPU only; readers on $ALL_CPUS"
	echo "x(a): against the kernel; x(pr): against the best-practice peer of the same work (p or q)"
	printf '%-30s %7s %5s %5s  %9s %5s %5s %9s  %6s\n' configuration \
		"Gbit/s" "x(a)" "x(pr)" "pps" "x(a)" "x(pr)" "offered" "RTTms"
	for c in $(grep -o . <<<"$CONFIGS"); do
		report_row "$c"
	done
	for c in b p q c d e f g h i j t; do
		[ -n "${NA[$c]:-}" ] && echo "${LABEL[$c]}: n/a: ${NA[$c]}"
	done
	echo "pps of q, e, f, g, h, i, j: datagrams that arrived rewritten (TOS 0x55);" \
		"others: all that arrived"
	cpu_report
	crossing_verdict
	workers_ratio
	for c in b p q; do
		[ -n "${NOTE[$c]:-}" ] && echo "(${c}) last round: ${NOTE[$c]}"
	done
	[ -s "$ITM_TMP/qosmod-stats.txt" ] && { echo "(d) itmctl stats, last round:"; cat "$ITM_TMP/qosmod-stats.txt"; }
	for c in e f; do
		[ -s "$ITM_TMP/stats-$c.txt" ] || continue
		echo "${LABEL[$c]}: itmctl stats, last round:"
		cat "$ITM_TMP/stats-$c.txt"
	done
	return 0
}

# Where the CPU went during the TCP phase (medians of the rounds).
cpu_report() {
	local c
	echo
	echo "TCP phase: reader = the process reading the queue (its threads;" \
		"verdicts run r's forwarding in its context); busy = whole machine"
	echo "top q%: the busiest queue's share of the packets (workers)"
	printf '%-30s %8s %6s %9s %7s %7s %6s\n' configuration "reader%" \
		"busy%" "queued/s" "KB/pkt" "us/pkt" "top q%"
	for c in $(grep -o . <<<"$CONFIGS"); do
		[ -n "${NA[$c]:-}" ] && continue
		printf '%-30s %8.0f %6.0f %9.0f %7.1f %7.1f %6s\n' "${LABEL[$c]}" \
			"$(med "$c" PCPU)" "$(med "$c" BUSY)" "$(med "$c" QPKT)" \
			"$(med "$c" KBPKT)" "$(med "$c" USPKT)" "$(med "$c" TOPQ)"
	done 2>/dev/null
}

# Does the process module (f) cost no more than one extra user-space
# crossing over the in-agent module (e)?  Added RTT over (a): one crossing
# is what (b), the smallest accept-all program, adds; (f) passes when
# (f)-(a) <= (e)-(a) + (p)-(a) (the best-practice accept-all program).
crossing_verdict() {
	local a b e f
	case $CONFIGS in *a*) ;; *) return 0 ;; esac
	case $CONFIGS in *p*) ;; *) return 0 ;; esac
	case $CONFIGS in *e*) ;; *) return 0 ;; esac
	case $CONFIGS in *f*) ;; *) return 0 ;; esac
	a=$(median "${RTT[a]:-}") && b=$(median "${RTT[p]:-}") &&
	e=$(median "${RTT[e]:-}") && f=$(median "${RTT[f]:-}") ||
		{ echo "(f) vs (e): n/a (a measurement is missing)"; return 0; }
	awk -v a="$a" -v b="$b" -v e="$e" -v f="$f" 'BEGIN {
		de = e - a; df = f - a; db = b - a
		ok = "no more than"
		if (df > de + db) ok = "MORE than"
		printf "added RTT over (a): (e) %.3f ms, (f) %.3f ms; ", de, df
		printf "one crossing, (p)-(a): %.3f ms\n", db
		printf "(f)-(e) = %.3f ms: (f) costs %s one extra", df - de, ok
		printf " user-space crossing over (e)\n"
	}'
}

# (g), (h), (i), (j) against (e): what the second worker buys, by the
# medians, and how each spread the packets over its two queues.
workers_ratio() {
	local e w x
	[[ $CONFIGS == *e* ]] || return 0
	e=$(median "${TP[e]:-}") || return 0
	for w in g h i j; do
		[[ $CONFIGS == *$w* ]] || continue
		x=$(median "${TP[$w]:-}") ||
			{ echo "($w) vs (e): n/a (a measurement is missing)"; continue; }
		echo "workers: ($w)/(e) throughput $(ratio "$x" "$e") ($x vs $e" \
			"Gbit/s, $SOURCES source address(es)); 64-byte pps $(ratio \
			"$(med "$w" PPS)" "$(med e PPS)"); RTT $(ratio \
			"$(median "${RTT[$w]:-}")" "$(median "${RTT[e]:-}")")"
		[ -n "${NOTE[$w]:-}" ] && echo "($w) ${NOTE[$w]}"
	done
	return 0
}

main() {
	parse_args "$@"
	itm_init agent_bench
	itm__need iperf3 ping
	if [ -n "$ENDS_CPU" ]; then
		itm__need taskset
		ALL_CPUS=$(taskset -p -c $$ | awk '{ print $NF }')
		taskset -p -c "$ENDS_CPU" $$ >/dev/null ||
			itm_fail "--ends-cpu: cannot move to CPU $ENDS_CPU"
		itm_log "traffic ends on CPU $ENDS_CPU, readers on $ALL_CPUS"
	fi
	if grep -q '^ITM_SANITIZE:BOOL=ON' "$ITM_BUILD/CMakeCache.txt" 2>/dev/null; then
		itm_log "warning: $ITM_BUILD is a sanitizer build: agent figures will be low"
	fi
	[ ${#IPERF_OPTS[@]} -eq 0 ] &&
		grep -qw bbr /proc/sys/net/ipv4/tcp_available_congestion_control &&
		IPERF_OPTS=(-C bbr)
	[ -n "$CSV" ] && echo "config,label,gbps_median,pps_median,offered_pps_median,rtt_ms_median,gbps_rounds,pps_rounds,rtt_rounds" >"$CSV"
	itm_topo_line
	for i in $(seq 2 "$SOURCES"); do
		itm_exec h1 ip addr add "$(source_addr "$i")/24" dev "$ITM_H1_DEV"
	done
	for ROUND in $(seq "$ROUNDS"); do
		for c in $(grep -o . <<<"$CONFIGS"); do
			measure "$c"
		done
	done
	report
}

main "$@"
