#!/bin/bash
# agent_metrics_proc.sh - a process module's queue on the agent's /metrics.
#
# itm-counter (modules/examples/counter, linked with libitm) reads its own
# queue; its heartbeats carry the queue's verdict latency to the agent.
# Known traffic h1 -> h2 through r (300 UDP packets, 10 pings: 20 ICMP
# packets forwarded), then:
#  - itm_queue_packets_total{module="itm-counter"} of its queue equals the
#    packets of its classes (`itmctl stats`), which equal what was sent;
#  - itm_verdict_latency_seconds_count of that queue equals them too, its
#    +Inf bucket as well; `promtool check metrics` passes;
#  - after the module exits (its lease ends), both series are gone;
#  - heartbeats of other libitm versions (a stock gRPC client,
#    tools/metrics_hb.py): one without the latency field (an older module)
#    or with another bucket set keeps its lease and adds no queue series;
#    one with the 12 buckets shows them as sent.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init agent_metrics_proc
itm__need promtool curl python3 /usr/bin/python3
URL=http://127.0.0.1:9464/metrics
COUNTER=$ITM_BUILD/modules/examples/counter/itm-counter
SENT=320 # 300 UDP + 10 echo requests + 10 replies

itm_topo_line
itm_agent_start r r --metrics 127.0.0.1:9464
export ITM_AGENT_SOCKET
ITM_AGENT_SOCKET=$(itm_agent_sock r)
itm_exec h2 iptables -A INPUT -p udp --dport 5641 -j DROP ||
	itm_fail "iptables in h2"

scrape() { itm_exec r curl -sf --max-time 2 -o "$1" "$URL"; }
# The value of series $2 (a regex of name and labels) in file $1, or "-".
value() {
	local v
	v=$(grep -E "^$2 " "$1" | awk '{ print $2 }')
	echo "${v:--}"
}
Q='queue="[0-9]+",hook="IP_FORWARD",module="itm-counter"'

itm_bg r --name counter "$COUNTER" --label pc-metrics --interval 1
CPID=$ITM_LAST_PID
has_series() { scrape "$ITM_TMP/m.prom" && grep -qE "^itm_queue_packets_total\{$Q\}" "$ITM_TMP/m.prom"; }
itm_wait_for 5 has_series || itm_fail "no series of itm-counter's queue"

itm_exec h1 python3 - "$ITM_H2_IP" <<'EOF' || itm_fail "UDP sender"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"x" * 64, (sys.argv[1], 5641))
EOF
itm_exec h1 ping -n -q -c 10 -i 0.05 -W 2 "$ITM_H2_IP" >/dev/null ||
	itm_fail "ping through r"
sleep 0.5 # a heartbeat carries counters and latency to the agent
STATS=$(itm_ctl r r stats --module itm-counter -o json) || itm_fail "itmctl stats"
sleep 1.2 # the next snapshot is taken after that heartbeat
scrape "$ITM_TMP/after.prom" || itm_fail "no /metrics after the traffic"
promtool check metrics <"$ITM_TMP/after.prom" ||
	itm_fail "promtool check metrics: output with a process module refused"

classes=$(python3 -c '
import json, sys
print(sum(c["packets"] for m in json.load(sys.stdin)["modules"]
          for r in m["registrations"] for c in r.get("classes", [])))
' <<<"$STATS")
pkts=$(value "$ITM_TMP/after.prom" "itm_queue_packets_total\{$Q\}")
count=$(value "$ITM_TMP/after.prom" "itm_verdict_latency_seconds_count\{$Q\}")
inf=$(value "$ITM_TMP/after.prom" \
	"itm_verdict_latency_seconds_bucket\{$Q,le=\"\+Inf\"\}")
itm_log "sent $SENT, classes $classes, queue packets $pkts, latency count $count"
grep -E "^itm_verdict_latency_seconds_(bucket|sum)\{$Q" "$ITM_TMP/after.prom" |
	sed 's/^/    /' >&2
itm_assert_eq "$classes" "$SENT" "packets of itm-counter's classes"
itm_assert_eq "$pkts" "$classes" "itm_queue_packets_total of its queue"
itm_assert_eq "$count" "$classes" "itm_verdict_latency_seconds_count"
itm_assert_eq "$inf" "$classes" "itm_verdict_latency_seconds +Inf bucket"

# The module ends: its lease goes, and its queue's series with it.
kill -INT "$CPID"
itm_wait_for 5 itm__dead "$CPID" || itm_fail "itm-counter ignored SIGINT"
gone() { scrape "$ITM_TMP/gone.prom" && ! grep -q 'module="itm-counter"' "$ITM_TMP/gone.prom"; }
itm_wait_for 5 gone || itm_fail "itm-counter's series stay after it exited: \
$(grep 'module="itm-counter"' "$ITM_TMP/gone.prom" | head -3)"
promtool check metrics <"$ITM_TMP/gone.prom" ||
	itm_fail "promtool check metrics: output after the module refused"

# Heartbeats from modules of other versions, and what /metrics makes of them.
out=$(itm_exec r /usr/bin/python3 "$ITM_SRC/tests/integ/tools/metrics_hb.py" \
	"$ITM_SRC/proto/itm.proto" "$ITM_TMP" "unix:$ITM_AGENT_SOCKET" "$URL") ||
	itm_fail "metrics_hb failed: $out"
echo "$out" >"$ITM_TMP/hb.out"
fq=$(awk '$2 == "full" { print $1 }' "$ITM_TMP/hb.out")
F="queue=\"$fq\",hook=\"IP_FORWARD\",module=\"hbmod\""
itm_assert_eq "$(grep -c '^itm_queue_packets_total{' "$ITM_TMP/hb.out")" 1 \
	"queue series of the three heartbeat shapes (only the full one)"
itm_assert_eq "$(value "$ITM_TMP/hb.out" "itm_queue_packets_total\{$F\}")" \
	78 "packets of the full report (1 + 2 + ... + 12)"
itm_assert_eq "$(value "$ITM_TMP/hb.out" \
	"itm_verdict_latency_seconds_bucket\{$F,le=\"1e-05\"\}")" 1 \
	"first bucket of the full report"
itm_assert_eq "$(value "$ITM_TMP/hb.out" \
	"itm_verdict_latency_seconds_bucket\{$F,le=\"0.25\"\}")" 66 \
	"last finite bucket of the full report (cumulative)"
itm_assert_eq "$(value "$ITM_TMP/hb.out" \
	"itm_verdict_latency_seconds_sum\{$F\}")" 0.078 "sum of the full report"
itm_assert_eq "$(grep -c '^itm_process_leases{module="hbmod"} 3' \
	"$ITM_TMP/hb.out")" 1 "leases of the three heartbeat shapes"
itm_log "ok"
