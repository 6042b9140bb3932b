#!/bin/bash
# agent_metrics.sh - itm-agent --metrics while traffic flows through qosmod.
#
#  - /metrics answers during the transfer, and `promtool check metrics`
#    passes on it;
#  - its class counters equal `itmctl stats`, which equals what the kernel
#    counted of the traffic sent (settled packets included); the verdict
#    latency histogram counts every packet the queue handed up;
#  - scrapers that connect and never read (or never ask) stall nothing:
#    the transfer runs, RPCs answer at once, other scrapes are served;
#  - a bad --metrics address: a clear error and exit status 1.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init agent_metrics
itm__need promtool curl python3
TOOLS="$ITM_SRC/tests/integ/tools"
URL=http://127.0.0.1:9464/metrics

itm_topo_line
itm_tcp_counter r
itm_agent_start r r --metrics 127.0.0.1:9464 --load "qosmod threshold=20"

scrape() { itm_exec r curl -sf --max-time 2 -o "$1" "$URL"; }

itm_wait_for 5 scrape "$ITM_TMP/first.prom" || itm_fail "no /metrics"
promtool check metrics <"$ITM_TMP/first.prom" ||
	itm_fail "promtool check metrics: idle agent's output refused"

# Stalled scrapers first, then traffic and good scrapes beside them.
itm_bg r --name stall /usr/bin/python3 "$TOOLS/metrics_stall.py" \
	127.0.0.1 9464 "$ITM_TMP/stall.ready"
itm_wait_for 5 test -s "$ITM_TMP/stall.ready" ||
	itm_fail "stalled scrapers did not connect"

scrape_loop() {
	local n=0 ok=0
	while [ ! -e "$ITM_TMP/stop-scraping" ]; do
		n=$((n + 1))
		scrape "$ITM_TMP/during.prom" && ok=$((ok + 1))
		sleep 0.2
	done
	echo "$ok $n" >"$ITM_TMP/scrapes"
}
scrape_loop &
loop_pid=$!
itm_on_exit "touch $ITM_TMP/stop-scraping; kill $loop_pid 2>/dev/null; true"

gbps=$(itm_iperf h2 "$ITM_H2_IP" h1 3 --cport 40000) ||
	itm_fail "transfer through r failed with stalled scrapers"
itm_log "transfer: $gbps Gbit/s, 8 scrapers stalled on /metrics"
t0=${EPOCHREALTIME/./}
itm_ctl r r status >/dev/null || itm_fail "itmctl status failed"
t1=${EPOCHREALTIME/./}
itm_assert_le $(((t1 - t0) / 1000)) 1000 "itmctl status (ms) while stalled"
touch "$ITM_TMP/stop-scraping"
wait "$loop_pid"
read -r ok n <"$ITM_TMP/scrapes"
itm_log "scrapes during the transfer: $ok of $n answered"
itm_assert_ge "$ok" 3 "scrapes answered during the transfer"
itm_assert_eq "$ok" "$n" "scrapes answered during the transfer (of $n)"
promtool check metrics <"$ITM_TMP/during.prom" ||
	itm_fail "promtool check metrics: output under traffic refused"

# After the traffic: /metrics == itmctl stats == the kernel's counter.
itm_stats_match_counter r r qosmod "$ITM_TMP/stats.json"
sleep 1.2 # the next snapshot is taken after the stats
scrape "$ITM_TMP/after.prom" || itm_fail "no /metrics after the transfer"
promtool check metrics <"$ITM_TMP/after.prom" ||
	itm_fail "promtool check metrics: output after traffic refused"
/usr/bin/python3 "$TOOLS/metrics_compare.py" "$ITM_TMP/stats.json" \
	"$ITM_TMP/after.prom" || itm_fail "/metrics and itmctl stats differ"
grep -q '^itm_module_flows_created{module="qosmod"} [1-9]' \
	"$ITM_TMP/after.prom" || itm_fail "qosmod's own counter is missing"
itm_exec r curl -s -o /dev/null -w '%{http_code}' \
	http://127.0.0.1:9464/other >"$ITM_TMP/code"
itm_assert_eq "$(cat "$ITM_TMP/code")" 404 "status of GET /other"

# A bad address: refused at start with the reason, nothing left running.
rc=0
itm_exec h1 "$(itm_agent_bin)" --node bad --socket "$ITM_TMP/bad.sock" \
	--metrics 127.0.0.1:http >"$ITM_TMP/bad.log" 2>&1 || rc=$?
itm_assert_eq "$rc" 1 "exit status with --metrics 127.0.0.1:http"
grep -q "need HOST:PORT" "$ITM_TMP/bad.log" ||
	itm_fail "no clear error for a bad --metrics: $(cat "$ITM_TMP/bad.log")"
itm_log "ok"
