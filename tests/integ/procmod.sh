#!/bin/bash
# procmod.sh - process modules linked with libitm (issue: libitm).
#
#  - a process module at IP_FORWARD rewrites TOS: a capture on h2 shows it;
#  - its interest is filtered in the kernel: traffic outside it never
#    reaches its queue (the queue's own counter in /proc says so);
#  - `module list` shows it (kind, pid, queue, interest) and stats count it;
#  - a second process asking for a taken label, or for an interest that
#    cannot be met, gets a clear error;
#  - two processes, one killed with -9 mid-transfer: the transfer
#    completes, the dead one's rules are gone within two seconds, the other
#    keeps rewriting;
#  - SIGINT unregisters at once.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init procmod
itm_topo_line
itm_agent_start r r
export ITM_AGENT_SOCKET
ITM_AGENT_SOCKET=$(itm_agent_sock r)
FIG13=$ITM_BUILD/modules/examples/fig13/fig13

queue_seen() {	# packets ever queued to queue $1 in r (id_sequence)
	itm_exec r cat /proc/net/netfilter/nfnetlink_queue |
		awk -v q="$1" '$1 == q { print $8; f = 1 } END { if (!f) print 0 }'
}
list_json() { itm_ctl r r module list -o json; }
field() {	# field of the registration with label $1 in `module list`
	list_json | python3 -c '
import json, sys
label, key = sys.argv[1], sys.argv[2]
for m in json.load(sys.stdin)["modules"]:
    for r in m["registrations"]:
        if r["label"] == label:
            print(m[key] if key in m else r[key]); sys.exit(0)
sys.exit(1)' "$1" "$2"
}
registered() { field "$1" label >/dev/null 2>&1; }
gone() { ! registered "$1"; }

# A: TCP to port 5201..5300 only (iperf3 ports of itm_iperf), TOS 0x55.
itm_bg r --name fig13-a "$FIG13" --label rw-a --proto tcp --dport 5201 \
	--new-dport 0 --tos 0x55
A=$ITM_LAST_PID
itm_wait_for 5 registered rw-a || itm_fail "process module did not register"
itm_assert_eq "$(field rw-a kind)" process "kind in module list"
itm_assert_eq "$(field rw-a pid)" "$A" "pid in module list"
qa=$(field rw-a queue)

# Outside the interest: UDP and TCP to another port never reach queue $qa.
itm_exec h1 ping -c 3 -i 0.2 "$ITM_H2_IP" >/dev/null || itm_fail "ping"
itm_exec h1 bash -c "exec 3<>/dev/tcp/$ITM_H2_IP/7777" 2>/dev/null || true
itm_exec h1 python3 -c "import socket; s=socket.socket(2,2); [s.sendto(b'x'*100,('$ITM_H2_IP',5201)) for i in range(20)]"
itm_assert_eq "$(queue_seen "$qa")" 0 "packets queued outside the interest"

# Inside it: the TOS on the wire is rewritten.
itm_capture h2 "$ITM_H2_DEV" "tcp and src host $ITM_H1_IP and dst port 5201" 10
itm_exec h2 timeout 5 iperf3 -s -1 -B "$ITM_H2_IP" -p 5201 >/dev/null 2>&1 &
srv=$!
itm_wait_for 5 itm__listening h2 5201
itm_exec h1 iperf3 -c "$ITM_H2_IP" -p 5201 -t 1 >/dev/null || itm_fail "iperf3"
wait "$srv" || true
itm_capture_wait 10 || itm_fail "capture incomplete"
itm_assert_eq "$(itm_pcap_tos "$ITM_PCAP" | sort -u)" 0x55 "TOS at h2"
itm_assert_ge "$(queue_seen "$qa")" 10 "packets queued inside the interest"
sleep 1	# a heartbeat carries the counters
pk=$(itm_ctl r r stats --module fig13 -o json | python3 -c '
import json,sys; print(sum(c["packets"] for m in json.load(sys.stdin)["modules"]
                        for r in m["registrations"] for c in r["classes"]))')
itm_assert_ge "$pk" 10 "packets in stats"

# Refusals, with the reason.
if out=$("$FIG13" --label rw-a 2>&1 </dev/null); then
	itm_fail "second process got a taken label"
fi
itm_assert_match "$out" "label 'rw-a' is already registered" "taken label"
if out=$("$FIG13" --label rw-x --hook pre_route --outdev lo 2>&1 </dev/null); then
	itm_fail "an outdev at pre_route was accepted"
fi
itm_assert_match "$out" "INVALID_ARGUMENT: outdev: not available at PRE_ROUTE" "impossible interest"
gone rw-x || itm_fail "refused registration is listed"

# B: UDP and every TCP port, TOS 0x28, registered after A at the same hook.
itm_bg r --name fig13-b "$FIG13" --label rw-b --proto tcp --new-dport 0 \
	--tos 0x28 --priority 10
B=$ITM_LAST_PID
itm_wait_for 5 registered rw-b || itm_fail "second process did not register"

# kill -9 A in the middle of a transfer to A's port.
itm_exec h2 timeout 15 iperf3 -s -1 -B "$ITM_H2_IP" -p 5201 >/dev/null 2>&1 &
srv=$!
itm_wait_for 5 itm__listening h2 5201
itm_exec h1 iperf3 -c "$ITM_H2_IP" -p 5201 -t 3 >"$ITM_TMP/iperf-kill.txt" 2>&1 &
cli=$!
sleep 1
kill -9 "$A"
t0=$(date +%s%N)
itm_wait_for 3 gone rw-a || itm_fail "killed module still registered after 3 s"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
itm_log "killed module's registration removed after ${ms} ms"
itm_assert_le "$ms" 2000 "lease expiry after kill -9 (ms)"
wait "$cli" || { cat "$ITM_TMP/iperf-kill.txt" >&2; itm_fail "transfer broke"; }
wait "$srv" || true
itm_assert_eq "$(itm_exec r iptables-nft-save -t mangle | grep -c "queue-num $qa ")" 0 \
	"rules of the killed module"

# B still works.
itm_assert_eq "$(itm_syn_tos 7777)" 0x28 "TOS by the surviving module"

# SIGINT: B unregisters at once.
kill -INT "$B"
itm_wait_for 5 itm__dead "$B" || itm_fail "module ignored SIGINT"
gone rw-b || itm_fail "registration left after SIGINT"
itm_assert_eq "$(itm_exec r iptables-nft-save -t mangle | grep -c NFQUEUE)" 0 \
	"queue rules after both modules left"
itm_log "ok"
