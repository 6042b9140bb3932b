#!/bin/bash
# ctl_metrics.sh - itm-controller --metrics and itm-agent --metrics with
# agents joined to the controller.
#
#  - `promtool check metrics` passes on the controller's and an agent's
#    output;
#  - after an apply: the generation, each node up with its wanted and
#    acknowledged table generation as `itmctl nodes` says, a heartbeat
#    age under a second, one apply and at least one push in the
#    histograms, no store error; the agent shows the table generation it
#    acknowledged and that it is joined;
#  - a scraper stalled on the controller's /metrics does not delay an
#    apply;
#  - an agent killed: its node goes down on /metrics as in itmctl nodes,
#    and its heartbeat age grows.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init ctl_metrics
itm__need promtool curl python3
X=$ITM_NETX
CTL_BIN=$ITM_BUILD/controller/itm-controller
ITMCTL=$(itm_ctl_bin)
TOOLS="$ITM_SRC/tests/integ/tools"
[ -x "$CTL_BIN" ] || itm_fail "itm-controller is not built: $CTL_BIN"
CPORT=7750
APORT=7751
MPORT=9465

itm_ns mc
for i in 1 2; do
	itm_ns "n$i"
	itm_link mc "n$i" "10.$X.16$i.1/24" "10.$X.16$i.2/24"
done

ctl() { itm_exec mc "$ITMCTL" --controller "127.0.0.1:$CPORT" "$@"; }
scrape() { itm_exec "$1" curl -sf --max-time 2 -o "$2" "$3"; }
cscrape() { scrape mc "$1" "http://127.0.0.1:$MPORT/metrics"; }
# value FILE SERIES: the value of one series (exact name and labels).
value() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }

itm_bg mc --name controller "$CTL_BIN" --db "$ITM_TMP/topology.db" \
	--listen "0.0.0.0:$CPORT" --insecure-plaintext --heartbeat-ms 300 \
	--push-timeout-ms 1000 --metrics "127.0.0.1:$MPORT"
CTL_PID=$ITM_LAST_PID
itm_wait_for 10 ctl topology history || itm_fail "controller does not answer"
for i in 1 2; do
	itm_agent_start "n$i" "n$i" --insecure-plaintext --listen "10.$X.16$i.2:$APORT" \
		--controller "10.$X.16$i.1:$CPORT" --metrics 9464
done

cat >"$ITM_TMP/topo.yaml" <<EOF
comment: ctl_metrics test
nodes:
  - name: n1
    mgmt: 10.$X.161.2:$APORT
    overlay: 10.200.0.1
  - name: n2
    mgmt: 10.$X.162.2:$APORT
    overlay: 10.200.0.2
links:
  - between: [n1, n2]
    cost: 10
EOF

# A stalled scraper on the controller while it applies.
itm_bg mc --name stall /usr/bin/python3 "$TOOLS/metrics_stall.py" \
	127.0.0.1 "$MPORT" "$ITM_TMP/stall.ready"
itm_wait_for 5 test -s "$ITM_TMP/stall.ready" ||
	itm_fail "stalled scrapers did not connect"
t0=${EPOCHREALTIME/./}
out=$(ctl topology apply "$ITM_TMP/topo.yaml" 2>&1) || itm_fail "apply: $out"
t1=${EPOCHREALTIME/./}
itm_log "apply with 8 stalled scrapers: $(((t1 - t0) / 1000)) ms"
itm_assert_le $(((t1 - t0) / 1000)) 2000 "apply (ms) with stalled scrapers"

both_up() { [ "$(ctl nodes | grep -Ec '^n[12] +up')" = 2 ]; }
itm_wait_for 10 both_up || itm_fail "the agents did not join"
sleep 1.2 # the next snapshot
cscrape "$ITM_TMP/ctl.prom" || itm_fail "no controller /metrics"
promtool check metrics <"$ITM_TMP/ctl.prom" ||
	itm_fail "promtool check metrics: the controller's output refused"
ctl -o json nodes >"$ITM_TMP/nodes.json" || itm_fail "itmctl nodes"
itm_assert_eq "$(value "$ITM_TMP/ctl.prom" itm_controller_generation)" 1 \
	"itm_controller_generation"
itm_assert_eq "$(value "$ITM_TMP/ctl.prom" itm_apply_duration_seconds_count)" \
	1 "applies in the histogram"
itm_assert_ge "$(value "$ITM_TMP/ctl.prom" itm_push_duration_seconds_count)" \
	1 "push rounds in the histogram"
itm_assert_eq "$(value "$ITM_TMP/ctl.prom" itm_store_errors_total)" 0 \
	"store errors"
/usr/bin/python3 - "$ITM_TMP/nodes.json" "$ITM_TMP/ctl.prom" <<'PY' ||
import json, re, sys
nodes = json.load(open(sys.argv[1]))["nodes"]
text = open(sys.argv[2]).read()
def metric(name, node):
    m = re.search(r'^%s\{node="%s"\} (\S+)$' % (name, node), text, re.M)
    return float(m.group(1)) if m else None
for n in nodes:
    want = {"itm_node_up": 1.0 if n.get("up") else 0.0,
            "itm_node_table_generation_acked":
                float(n.get("generation", 0)),
            "itm_node_table_generation_wanted":
                float(n.get("want_generation", 0))}
    for name, v in want.items():
        if metric(name, n["name"]) != v:
            sys.exit("%s{node=%s}: %s, itmctl nodes says %s"
                     % (name, n["name"], metric(name, n["name"]), v))
    age = metric("itm_node_last_heartbeat_age_seconds", n["name"])
    if age is None or age > 1.0:
        sys.exit("%s: heartbeat age %s" % (n["name"], age))
print("controller metrics agree with itmctl nodes for %d nodes" % len(nodes))
PY
	itm_fail "controller /metrics and itmctl nodes differ"
itm_assert_eq "$(grep -c '^itm_node_up{.*} 1$' "$ITM_TMP/ctl.prom")" 2 \
	"nodes up"

scrape n1 "$ITM_TMP/n1.prom" http://127.0.0.1:9464/metrics ||
	itm_fail "no /metrics on agent n1"
promtool check metrics <"$ITM_TMP/n1.prom" ||
	itm_fail "promtool check metrics: agent n1's output refused"
itm_assert_eq "$(value "$ITM_TMP/n1.prom" itm_table_generation)" \
	"$(value "$ITM_TMP/ctl.prom" 'itm_node_table_generation_acked{node="n1"}')" \
	"n1's table generation on both /metrics"
itm_assert_eq "$(value "$ITM_TMP/n1.prom" itm_controller_connected)" 1 \
	"n1 joined"

# n2's agent goes away: down after three missed heartbeats.
itm_agent_stop n2
down() {
	cscrape "$ITM_TMP/ctl2.prom" &&
		[ "$(value "$ITM_TMP/ctl2.prom" 'itm_node_up{node="n2"}')" = 0 ]
}
itm_wait_for 5 down || itm_fail "n2 not down on /metrics"
ctl nodes | grep -Eq '^n2 +down' || itm_fail "itmctl nodes: n2 not down"
age=$(value "$ITM_TMP/ctl2.prom" 'itm_node_last_heartbeat_age_seconds{node="n2"}')
itm_log "n2 down on /metrics, last heard ${age}s ago"
python3 -c "import sys; sys.exit(not float('$age') >= 0.9)" ||
	itm_fail "n2's heartbeat age $age"
itm_log "ok"
