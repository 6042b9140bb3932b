#!/bin/bash
# agent_workers_fanout.sh - itm-agent --workers 2 --queue-cpu-fanout
# --pin-workers with fig13 (TOS 0x55 on every forwarded packet) on r.
#
#  - without --workers 2 either option is refused with a clear error;
#  - fig13's rule spreads over two queues by CPU (--queue-cpu-fanout);
#  - each worker thread may run on one CPU only, CPU 0 and CPU 1;
#  - pings sent from h1 by a process on CPU K (taskset) are forwarded by
#    r on CPU K (veth: the receive runs on the sender's CPU), so they
#    are queued to queue Q+K: the other queue takes (almost) none;
#  - packets of both workers arrive rewritten at h2 (TOS 0x55), and a
#    transfer through both completes;
#  - SIGTERM: exit status 0, no ITM rule left, no sanitizer report.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init agent_workers_fanout
itm__need taskset ping iperf3 tcpdump
[ "$(nproc)" -ge 2 ] || itm_skip "needs 2 CPUs"
itm_topo_line

# --- Refused without workers ----------------------------------------------
for opt in --queue-cpu-fanout --pin-workers; do
	out=$(itm_exec r "$(itm_agent_bin)" --node r --socket \
		"$ITM_TMP/refused.sock" "$opt" 2>&1) && rc=0 || rc=$?
	itm_assert_eq "$rc" 1 "$opt without --workers: exit status"
	itm_assert_match "$out" "${opt#--} needs --workers 2 or more" \
		"$opt without --workers: the error says why"
done

itm_agent_start r r --workers 2 --queue-cpu-fanout --pin-workers \
	--load "fig13 proto=any new_dport=0 tos=0x55"
pid=${ITM_AGENT_PID[r]}

rule=$(itm_exec r iptables-nft-save -t mangle | grep -- '-A ITM_FWD.*NFQUEUE')
itm_assert_match "$rule" \
	"--queue-balance [0-9]+:[0-9]+ --queue-bypass --queue-cpu-fanout" \
	"fig13's rule picks the worker's queue by CPU"
read -r Q0 Q1 < <(sed -E 's/.*--queue-balance ([0-9]+):([0-9]+).*/\1 \2/' \
	<<<"$rule")
itm_assert_eq "$((Q1 - Q0))" 1 "two consecutive queues for --workers 2"

# The CPUs each thread of the agent may run on: the two workers are the
# threads allowed one CPU only (the others may use both).
pinned=$(grep -h Cpus_allowed_list /proc/"$pid"/task/*/status |
	awk '$2 ~ /^[0-9]+$/ { print $2 }' | sort | tr '\n' ' ')
itm_assert_eq "$pinned" "0 1 " "worker threads pinned to CPU 0 and CPU 1"

queued() {	# id_sequence (packets queued so far) of queue $1 in r
	itm_exec r cat /proc/net/netfilter/nfnetlink_queue |
		awk -v q="$1" '$1 == q { print $8; f = 1 } END { if (!f) print 0 }'
}

# --- Pings from CPU 0, then from CPU 1 ----------------------------------
for cpu in 0 1; do
	q=$((Q0 + cpu)) other=$((Q1 - cpu))
	a0=$(queued "$q") b0=$(queued "$other")
	itm_exec h1 taskset -c "$cpu" ping -n -q -c 40 -i 0.01 -W 2 \
		"$ITM_H2_IP" >/dev/null || itm_fail "pings from CPU $cpu lost"
	a=$(($(queued "$q") - a0)) b=$(($(queued "$other") - b0))
	itm_log "pings from CPU $cpu: queue $q took $a, queue $other took $b"
	itm_assert_ge "$a" 80 "queue $q took the 40 pings and replies of CPU $cpu"
	itm_assert_le "$b" 8 "queue $other took (almost) none of them"
done

# --- Rewritten by both workers, and a transfer ----------------------------
itm_capture h2 "$ITM_H2_DEV" "icmp and src host $ITM_H1_IP" 20
for cpu in 0 1; do
	itm_exec h1 taskset -c "$cpu" ping -n -q -c 10 -i 0.01 -W 2 \
		"$ITM_H2_IP" >/dev/null || itm_fail "pings from CPU $cpu lost"
done
itm_capture_wait 10 || itm_fail "capture did not see 20 pings"
got=$(itm_pcap_tos "$ITM_PCAP" | sort | uniq -c | awk '{ print $2 "x" $1 }')
itm_assert_eq "$got" "0x55x20" "TOS of the 20 pings at h2 (both workers)"
gbps=$(itm_iperf h2 "$ITM_H2_IP" h1 2 -P 4) ||
	itm_fail "transfer through both workers failed"
itm_log "transfer: $gbps Gbit/s"

# --- SIGTERM ----------------------------------------------------------------
itm_agent_stop r || itm_fail "itm-agent exited with status $?"
left=$(itm_exec r iptables-nft-save -t mangle | grep -c -e ITM_ -e NFQUEUE)
itm_assert_eq "$left" 0 "ITM rules left after SIGTERM"
grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
	"$ITM_TMP/agent-r.log" && itm_fail "sanitizer report in the agent's log"
itm_log "ok"
