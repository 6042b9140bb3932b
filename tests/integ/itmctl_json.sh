#!/bin/bash
# itmctl_json.sh - `itmctl -o json` prints exactly the reply messages of
# proto/itm.proto (issue 8, item 11): every command's output is parsed by
# python3-protobuf's json_format as the message its help promises, with no
# unknown field allowed.  Real agent, real controller, on loopback.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init itmctl_json
itm__need /usr/bin/python3
/usr/bin/python3 -c 'import google.protobuf, grpc_tools' 2>/dev/null ||
	itm_fail "python3-protobuf / python3-grpc-tools missing (deploy/install-deps.sh)"

PORT=7797
APORT=7798
DB=$ITM_TMP/ctl.db
itm_ns c
itm_bg c --name controller "$ITM_BUILD/controller/itm-controller" --db "$DB" \
	--listen "127.0.0.1:$PORT" --heartbeat-ms 300
ctl() { itm_exec c "$(itm_ctl_bin)" --controller "127.0.0.1:$PORT" "$@"; }
itm_wait_for 10 ctl topology history || itm_fail "controller does not answer"
itm_agent_start c n1 --listen "127.0.0.1:$APORT" --controller "127.0.0.1:$PORT"
cat >"$ITM_TMP/topo.yaml" <<YAML
nodes:
  - { name: n1, mgmt: "127.0.0.1:$APORT", overlay: 10.200.0.1 }
  - { name: n2, mgmt: "127.0.0.1:1", overlay: 10.200.0.2 }
links:
  - { between: [n1, n2], cost: 10 }
YAML
sed 's/cost: 10/cost: 20/' "$ITM_TMP/topo.yaml" >"$ITM_TMP/topo2.yaml"

n=0
strict() {	# MESSAGE CMD...: CMD -o json parses as MESSAGE
	local msg=$1 out check
	shift
	out=$("$@" -o json 2>"$ITM_TMP/err")	# exit 1 for unreachable n2
	[ -n "$out" ] || itm_fail "$* -o json printed nothing: $(cat "$ITM_TMP/err")"
	check=$(/usr/bin/python3 "$ITM_SRC/tests/integ/tools/json_strict.py" \
		"$ITM_SRC/proto/itm.proto" "$ITM_TMP" "$msg" <<<"$out" 2>&1) ||
		itm_fail "$* -o json: $check; output: $out"
	n=$((n + 1))
}
agent() { itm_ctl c n1 "$@"; }

strict StatusReply agent status
strict LoadModuleReply agent module load qosmod threshold=20
strict ListModulesReply agent module list
strict StatsReply agent stats --module qosmod
strict UnloadModuleReply agent module unload qosmod
strict ApplyReply ctl topology apply "$ITM_TMP/topo.yaml" --dry-run
strict ApplyReply ctl topology apply "$ITM_TMP/topo.yaml"
itm_wait_for 10 eval 'agent table | grep -q "generation 1"' ||
	itm_fail "n1 did not get its table"
strict NeighbourTable agent table
strict NodesReply ctl nodes
strict TopologyReply ctl topology show
strict DiffReply ctl topology diff "$ITM_TMP/topo2.yaml"
strict ApplyReply ctl topology apply "$ITM_TMP/topo2.yaml"
strict HistoryReply ctl topology history
strict ApplyReply ctl topology rollback 1
strict NodeModuleReply ctl module load n1 qosmod threshold=20
strict NodeModuleReply ctl module list n1
strict StatsReply ctl stats n1 --module qosmod
strict NodeStatsReply ctl stats
strict NodeModuleReply ctl module unload n1 qosmod
itm_assert_eq "$n" 19 "commands checked"
itm_log "PASS: $n commands"
