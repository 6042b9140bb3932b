#!/bin/bash
# nfq_queue.sh - the NFQUEUE queue layer (libitm/src/itmq.c, itmq_batch.c)
# with real traffic h1 -- r -- h2.  itmq_probe binds queue $Q in r and every
# packet r forwards between the hosts is queued to it:
#
#  1. accept: ping and a TCP transfer pass;
#  2. drop: every ping is lost, and each one reached the probe;
#  3. TOS rewrite: at h2 every packet from h1 carries the new TOS with
#     correct IP and TCP checksums (tcpdump -vv), and the transfer completes;
#  4. NF_REPEAT with a mark bit: each packet crosses the queue once, then
#     re-traverses the chain with the bit set and is not queued again;
#  5. --queue-bypass: with no program on the queue traffic flows (and,
#     as a control, the same rule without --queue-bypass drops it);
#  6. batch verdicts under load: a ${NQ_MB} MiB transfer completes, fewer
#     verdict messages than packets went out, and the probe's counters equal
#     the kernel's in /proc/net/netfilter/nfnetlink_queue.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init nfq_queue
itm__need iperf3 tcpdump python3 iptables

PROBE=$ITM_BUILD/tests/tools/itmq_probe
[ -x "$PROBE" ] || itm_fail "itmq_probe is not built: $PROBE"
Q=7100
NQ_MB=${NQ_MB:-256}
NQ_TOS=0x28
NQ_MARK=0x100
# A transfer whose packets the queue breaks fails in seconds, not minutes.
NQ_IPERF=(--connect-timeout 3000 --snd-timeout 5000)
itm_topo_line

# ---------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------

# nq_queue_rule [EXTRA MATCHES/TARGET OPTIONS...]: replace r's FORWARD chain
# by one rule queueing h1 <-> h2 traffic to $Q with --queue-bypass.
nq_queue_rule() {
	itm_exec r iptables -F FORWARD
	itm_exec r iptables -A FORWARD "$@" -j NFQUEUE --queue-num "$Q" \
		--queue-bypass || itm_fail "cannot install the NFQUEUE rule"
}

# nq_probe_start NAME [PROBE OPTIONS...]: itmq_probe on $Q in r; returns
# once it has bound the queue.  Sets NQ_PID, NQ_LOG.
nq_probe_start() {
	local name=$1
	shift
	itm_bg r --name "probe-$name" "$PROBE" --queue "$Q" "$@"
	NQ_PID=$ITM_LAST_PID
	NQ_LOG=$ITM_LAST_LOG
	itm_wait_for 5 grep -q "bound queue $Q" "$NQ_LOG" ||
		itm_fail "itmq_probe ($name) did not bind queue $Q"
	itm_wait_for 2 itm__queue_bound r "$Q" ||
		itm_fail "queue $Q has no listener in /proc"
}

# nq_probe_stop: SIGTERM; the probe prints its counters and must exit 0.
nq_probe_stop() {
	itm_stop "$NQ_PID" || itm_fail "itmq_probe exited with an error"
	grep -q '^itmq_probe: received=' "$NQ_LOG" ||
		itm_fail "itmq_probe printed no counters"
}

# nq_stat KEY: a counter from the probe's last line ("received", "errors"...).
nq_stat() {
	sed -n 's/^itmq_probe: received=/received=/p' "$NQ_LOG" | tail -1 |
		tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 + 0; f = 1 }
			END { exit !f }' || itm_fail "no counter '$1' in $NQ_LOG"
}

# nq_proc FIELD: queue $Q's column in r's /proc/net/netfilter/nfnetlink_queue
# (total: waiting now, qdrop, udrop, idseq: packets queued since binding).
nq_proc() {
	local col
	case $1 in
	total) col=3 ;; qdrop) col=6 ;; udrop) col=7 ;; idseq) col=8 ;;
	*) itm_fail "nq_proc: unknown field $1" ;;
	esac
	itm_exec r awk -v q="$Q" -v c="$col" '$1 == q { print $c; f = 1 }
		END { exit !f }' /proc/net/netfilter/nfnetlink_queue ||
		itm_fail "queue $Q is not in r's /proc/net/netfilter/nfnetlink_queue"
}

# nq_rule_pkts N: packet counter of rule N of r's FORWARD chain.
nq_rule_pkts() {
	itm_exec r iptables -L FORWARD -v -x -n |
		awk -v n="$1" 'NR == n + 2 { print $1 }'
}

# nq_ping_loss COUNT: percent of COUNT pings h1 -> h2 that got no reply.
nq_ping_loss() {
	itm_exec h1 ping -n -q -c "$1" -i 0.2 -W 1 "$ITM_H2_IP" 2>&1 |
		sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p'
}

nq_errors_none() {
	itm_assert_eq "$(nq_stat errors)" 0 "$1: probe verdict errors"
	itm_assert_eq "$(nq_stat malformed)" 0 "$1: malformed messages"
}

# ---------------------------------------------------------------------
# 1. accept
# ---------------------------------------------------------------------
nq_queue_rule
nq_probe_start accept
itm_assert_eq "$(nq_ping_loss 5)" 0 "accept: ping loss (%)"
gbps=$(itm_iperf h2 "$ITM_H2_IP" h1 2 "${NQ_IPERF[@]}") ||
	itm_fail "accept: TCP transfer through the queue failed"
itm_assert_ge "$gbps" 0.01 "accept: Gbit/s"
nq_probe_stop
itm_assert_ge "$(nq_stat received)" 10 "accept: packets the probe saw"
nq_errors_none accept
itm_log "accept: ping ok, TCP $gbps Gbit/s, $(nq_stat received) packets queued"

# ---------------------------------------------------------------------
# 2. drop
# ---------------------------------------------------------------------
nq_probe_start drop --drop
itm_assert_eq "$(nq_ping_loss 4)" 100 "drop: ping loss (%)"
nq_probe_stop
itm_assert_eq "$(nq_stat received)" 4 "drop: echo requests the probe dropped"
nq_errors_none drop
itm_log "drop: 4 of 4 pings dropped by the probe"

# ---------------------------------------------------------------------
# 3. TOS rewrite, on the wire at h2
# ---------------------------------------------------------------------
# nq_tos_transfer WHAT: a 2 s transfer h1 -> h2 with the first 200 packets
# from h1 captured whole at h2 (-s 0, so tcpdump can verify the TCP
# checksums) into $NQ_PCAP; the TOS of all 200 must be $NQ_TOS.
nq_tos_transfer() {
	local cap tos gbps
	ITM_SEQ=$((ITM_SEQ + 1))
	NQ_PCAP="$ITM_TMP/tos-$1-$ITM_SEQ.pcap"
	itm_bg h2 --name "tcpdump-tos-$1" tcpdump -i "$ITM_H2_DEV" -n -U \
		-Z root -s 0 -c 200 -w "$NQ_PCAP" "tcp and src host $ITM_H1_IP"
	cap=$ITM_LAST_PID
	itm_wait_for 10 grep -q "listening on" "$ITM_LAST_LOG" ||
		itm_fail "tcpdump on h2 did not start"
	gbps=$(itm_iperf h2 "$ITM_H2_IP" h1 2 "${NQ_IPERF[@]}") ||
		itm_fail "tos ($1): TCP transfer with rewritten TOS failed"
	itm_capture_wait 10 "$cap" ||
		itm_fail "tos ($1): capture did not see 200 packets"
	tos=$(itm_pcap_tos "$NQ_PCAP" | sort | uniq -c |
		awk '{ print $2 "x" $1 }' | tr '\n' ' ')
	itm_assert_eq "$tos" "${NQ_TOS}x200 " "tos ($1): TOS of h1's packets at h2"
	itm_log "tos ($1): 200 of 200 packets at h2 carry TOS $NQ_TOS;" \
		"transfer $gbps Gbit/s"
}

nq_probe_start tos --tos "$NQ_TOS"
# With the usual offloads: r queues GSO packets of up to 64 KiB.
nq_tos_transfer gso
# Whole checksums: h1 sends one MSS per packet, so every packet reaching
# h2 holds exactly the bytes and checksums itmq gave back (a GSO packet
# crosses the veth pair with its checksum still left to the "NIC").
ip -n "$(itm_nsname h1)" link set "$ITM_H1_DEV" gso_max_segs 1 ||
	itm_fail "cannot limit GSO on h1"
nq_tos_transfer mss
tcpdump -r "$NQ_PCAP" -n -vv >"$ITM_TMP/tos-mss.txt" 2>/dev/null
good=$(grep -c 'cksum 0x[0-9a-f]* (correct)' "$ITM_TMP/tos-mss.txt" || true)
bad=$(grep -Ec 'incorrect|bad cksum' "$ITM_TMP/tos-mss.txt" || true)
itm_assert_eq "$bad" 0 "tos: packets with a wrong checksum at h2 (tos-mss.txt)"
itm_assert_eq "$good" 200 "tos: TCP checksums tcpdump verified at h2"
ip -n "$(itm_nsname h1)" link set "$ITM_H1_DEV" gso_max_segs 65535
itm_assert_eq "$(nq_ping_loss 3)" 0 "tos: ping loss (%)"
nq_probe_stop
nq_errors_none tos
itm_assert_ge "$(nq_stat altered)" 400 "tos: packets the probe altered"
itm_assert_ge "$(nq_stat gso)" 1 "tos: GSO packets the probe altered"
itm_log "tos: IP and TCP checksums of 200 of 200 packets correct at h2"

# ---------------------------------------------------------------------
# 4. NF_REPEAT with a mark bit
# ---------------------------------------------------------------------
# Rule 1 queues ICMP without the bit; rule 2 counts ICMP with it.
itm_exec r iptables -F FORWARD
itm_exec r iptables -A FORWARD -p icmp -m mark ! --mark "$NQ_MARK/$NQ_MARK" \
	-j NFQUEUE --queue-num "$Q" --queue-bypass ||
	itm_fail "repeat: cannot install the NFQUEUE rule"
itm_exec r iptables -A FORWARD -p icmp -m mark --mark "$NQ_MARK/$NQ_MARK" ||
	itm_fail "repeat: cannot install the counting rule"
nq_probe_start repeat --repeat-mark "$NQ_MARK"
itm_assert_eq "$(nq_ping_loss 5)" 0 "repeat: ping loss (%)"
nq_probe_stop
nq_errors_none repeat
# 5 requests + 5 replies: each queued once, each seen again with the bit.
itm_assert_eq "$(nq_stat received)" 10 "repeat: packets the probe saw"
itm_assert_eq "$(nq_rule_pkts 1)" 10 "repeat: packets the NFQUEUE rule matched"
itm_assert_eq "$(nq_rule_pkts 2)" 10 "repeat: packets re-traversing with the bit"
itm_log "repeat: 10 packets queued once each, 10 re-traversed with $NQ_MARK"

# ---------------------------------------------------------------------
# 5. --queue-bypass with no reader
# ---------------------------------------------------------------------
nq_queue_rule
itm__queue_bound r "$Q" && itm_fail "bypass: queue $Q still has a listener"
itm_assert_eq "$(nq_ping_loss 3)" 0 "bypass: ping loss without a reader (%)"
gbps=$(itm_iperf h2 "$ITM_H2_IP" h1 1 "${NQ_IPERF[@]}") ||
	itm_fail "bypass: TCP transfer without a reader failed"
itm_assert_ge "$(nq_rule_pkts 1)" 10 "bypass: packets the NFQUEUE rule matched"
# Control: the same rule without --queue-bypass holds the traffic.
itm_exec r iptables -F FORWARD
itm_exec r iptables -A FORWARD -j NFQUEUE --queue-num "$Q" ||
	itm_fail "bypass: cannot install the control rule"
itm_assert_eq "$(nq_ping_loss 2)" 100 "bypass: ping loss, control rule (%)"
itm_log "bypass: traffic flows with no reader ($gbps Gbit/s);" \
	"without --queue-bypass it does not"

# ---------------------------------------------------------------------
# 6. batch verdicts under load; counters equal the kernel's
# ---------------------------------------------------------------------
nq_queue_rule -p tcp
nq_probe_start batch
# A sink on h2 that counts what it reads until EOF, a sender of exactly
# $NQ_MB MiB on h1 (iperf3's receiver stops counting a little early).
itm_bg h2 --name sink python3 -c 'import socket, sys
s = socket.create_server((sys.argv[1], 5710))
print("listening", flush=True)
c, _ = s.accept()
n = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    n += len(b)
print("received", n, flush=True)' "$ITM_H2_IP"
sink=$ITM_LAST_PID
sink_log=$ITM_LAST_LOG
itm_wait_for 5 grep -q listening "$sink_log" || itm_fail "batch: no sink on h2"
start=${EPOCHREALTIME/./}
itm_exec h1 timeout 60 python3 -c 'import socket, sys
c = socket.create_connection((sys.argv[1], 5710))
buf = bytes(1 << 20)
for _ in range(int(sys.argv[2])):
    c.sendall(buf)
c.shutdown(socket.SHUT_WR)
c.recv(1)' "$ITM_H2_IP" "$NQ_MB" ||
	itm_fail "batch: the ${NQ_MB} MiB transfer did not complete"
itm_wait_for 10 itm__dead "$sink" || itm_fail "batch: the sink did not see EOF"
secs=$(awk -v a="$start" -v b="${EPOCHREALTIME/./}" \
	'BEGIN { printf "%.2f", (b - a) / 1e6 }')
itm_assert_eq "$(sed -n 's/^received //p' "$sink_log")" $((NQ_MB << 20)) \
	"batch: bytes received by h2"
sleep 0.5		# the last ACKs and FINs
itm_assert_eq "$(nq_proc total)" 0 "batch: packets still waiting in the queue"
idseq=$(nq_proc idseq)
qdrop=$(nq_proc qdrop)
udrop=$(nq_proc udrop)
nq_probe_stop
nq_errors_none batch
recv=$(nq_stat received)
msgs=$(nq_stat verdict_msgs)
itm_assert_eq "$recv" "$idseq" "batch: packets received = kernel id_sequence"
itm_assert_eq "$(nq_stat kernel_dropped)" "$qdrop" "batch: queue drops"
itm_assert_eq "$(nq_stat user_dropped)" "$udrop" "batch: socket drops"
itm_assert_eq "$qdrop/$udrop" 0/0 "batch: packets the kernel dropped"
itm_assert_ge "$recv" 100 "batch: packets queued"
[ "$msgs" -lt "$recv" ] ||
	itm_fail "batch: $msgs verdict messages for $recv packets: no batching"
itm_log "batch: ${NQ_MB} MiB in $secs s, $recv packets" \
	"(kernel: $idseq, 0 dropped) in $msgs verdict messages"
itm_log "ok"
