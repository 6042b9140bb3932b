#!/bin/bash
# ctl_daemon.sh - itm-controller with real agents and a real SQLite file.
#
# Namespace c runs the controller; n1, n2, n3 each run an itm-agent joined
# to it over a veth (c -- ni, 10.X.i.0/24).  Checked, reading the agents'
# tables back from the agents (Agent.GetTable), never from the controller:
#  - apply: every node "updated", rows in the database, each table right;
#  - change one link: only its two nodes change generation;
#  - a bad file: every fault with line and field, nothing stored;
#  - an agent killed during an apply is "unreachable", and converges to
#    the current generation when it comes back;
#  - kill -9 of the controller in the middle of an apply: after restart
#    the database holds the old generation whole, agents kept their
#    tables; the next apply works;
#  - restart from the same database: nodes, history and tables intact;
#  - rollback, stats and module list through the controller;
#  - the store exported to SQLite, imported into an empty store and
#    exported again holds the same rows.
# integ.ctl_daemon.etcd runs it all again on etcd (ITM_TEST_STORE=etcd):
# the database is then etcd's content exported to SQLite.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init ctl_daemon
command -v sqlite3 >/dev/null || itm_skip "sqlite3 CLI missing"

X=$ITM_NETX
PORT=7790
APORT=7791
DB=$ITM_TMP/ctl.db
CTL_BIN=$ITM_BUILD/controller/itm-controller
CLIENT=$ITM_BUILD/tests/tools/ctl_client
ITMCTL=$(itm_ctl_bin)
[ -x "$CTL_BIN" ] || itm_fail "itm-controller is not built"
[ -x "$CLIENT" ] || itm_fail "ctl_client is not built"

itm_ns c
for i in 1 2 3; do
	itm_ns "n$i"
	itm_link c "n$i" "10.$X.$i.1/24" "10.$X.$i.2/24"
done
itm_store c "$DB"

# cli ARGS...: ctl_client against the controller, from c.
cli() { itm_exec c "$CLIENT" "127.0.0.1:$PORT" "$@"; }
# table N: the table agent nI holds, read from the agent.
table() { itm_exec c "$CLIENT" "10.$X.$1.2:$APORT" table; }
table_gen() { table "$1" | awk '/^table/ { print $4 }'; }
# sql QUERY: the store read with sqlite3 (an etcd store exported first).
sql() { sqlite3 -batch "file:$(itm_store_sqlite)?mode=ro" "$1"; }

CTL_PID=""
ctl_start() {
	itm_bg c --name controller "$CTL_BIN" --store "$ITM_STORE" \
		--listen "0.0.0.0:$PORT" --insecure-plaintext --heartbeat-ms 300 \
		--push-timeout-ms 1000
	CTL_PID=$ITM_LAST_PID
	itm_wait_for 10 cli history || itm_fail "controller does not answer"
	# On etcd a controller restarted after kill -9 stands by until the
	# dead one's lead (its lease) has run out.
	itm_wait_for 10 eval 'itm_exec c "$ITMCTL" --controller 127.0.0.1:$PORT controllers |
		grep -q ", leading$"' || itm_fail "controller does not lead"
}

topo() {	# COST_N2_N3 [COST_N1_N2]
	cat <<EOF
comment: ctl_daemon test, n2-n3 cost $1
nodes:
  - name: n1
    mgmt: 10.$X.1.2:$APORT
    overlay: 10.200.0.1
    labels: { site: east }
  - name: n2
    mgmt: 10.$X.2.2:$APORT
    overlay: 10.200.0.2
  - name: n3
    mgmt: 10.$X.3.2:$APORT
    overlay: 10.200.0.3
links:
  - between: [n1, n2]
    cost: ${2:-10}
    latency_ms: 5
    bandwidth: 100mbit
  - between: [n2, n3]
    cost: $1
EOF
}

agent_start() {
	itm_agent_start "n$1" "n$1" --listen "10.$X.$1.2:$APORT" \
		--insecure-plaintext --controller "10.$X.$1.1:$PORT"
}

# --- start: controller, agents, first apply ---------------------------
ctl_start
for i in 1 2 3; do agent_start "$i"; done

topo 10 >"$ITM_TMP/topo1.yaml"
out=$(cli apply "$ITM_TMP/topo1.yaml") || itm_fail "apply: $out"
itm_log "apply 1: $(tr '\n' ';' <<<"$out")"
for n in n1 n2 n3; do
	itm_assert_match "$out" "node $n updated 1 " "apply 1 result of $n"
done
itm_assert_eq "$(sql 'SELECT count(*) FROM generations')" 1 "generations"
itm_assert_eq "$(sql 'SELECT group_concat(name || ":" || table_gen) FROM
	nodes WHERE gen = 1 ORDER BY name')" "n1:1,n2:1,n3:1" "node rows"
itm_assert_eq "$(sql 'SELECT group_concat(a || "-" || b || ":" || cost)
	FROM links WHERE gen = 1')" "n1-n2:10,n2-n3:10" "link rows"
itm_assert_eq "$(sql 'SELECT group_concat(node || ":" || acked_gen) FROM
	(SELECT * FROM agents ORDER BY node)')" "n1:1,n2:1,n3:1" "acked rows"

t1=$(table 1); t2=$(table 2); t3=$(table 3)
itm_assert_match "$t1" "^table n1 generation 1 overlay 10.200.0.1" "n1 table"
itm_assert_match "$t1" "neighbour n2 10.$X.2.2:$APORT 10.200.0.2 cost 10 latency 5 bw 100000" "n1 -> n2"
itm_assert_eq "$(grep -c '^neighbour' <<<"$t1")" 1 "n1 neighbours"
itm_assert_eq "$(grep -c '^neighbour' <<<"$t2")" 2 "n2 neighbours"
itm_assert_match "$t2" "neighbour n3 .* cost 10 latency 0 bw 0" "n2 -> n3"
itm_assert_match "$t3" "neighbour n2 .* cost 10 " "n3 -> n2"

# --- one link changes: only its nodes get a new generation -------------
topo 20 >"$ITM_TMP/topo2.yaml"
out=$(cli apply "$ITM_TMP/topo2.yaml") || itm_fail "apply 2: $out"
itm_assert_match "$out" "node n1 unchanged 1 " "apply 2: n1"
itm_assert_match "$out" "node n2 updated 2 " "apply 2: n2"
itm_assert_match "$out" "node n3 updated 2 " "apply 2: n3"
itm_assert_eq "$(table_gen 1) $(table_gen 2) $(table_gen 3)" "1 2 2" \
	"agent generations after apply 2"
itm_assert_match "$(table 3)" "neighbour n2 .* cost 20 " "n3 sees cost 20"

# --- a bad file: all faults, nothing stored ----------------------------
before=$(sql 'SELECT * FROM generations; SELECT * FROM nodes; SELECT * FROM links')
cat >"$ITM_TMP/bad.yaml" <<EOF
nodes:
  - name: n1
    mgmt: 10.$X.1.2:99999
    overlay: 10.200.0.1
    colour: blue
links:
  - between: [n1, n9]
    cost: abc
EOF
out=$(cli apply "$ITM_TMP/bad.yaml") && itm_fail "bad file accepted: $out"
itm_log "bad file: $(tr '\n' ';' <<<"$out")"
itm_assert_match "$out" "^ERROR INVALID_ARGUMENT" "bad file status"
itm_assert_match "$out" "bad.yaml:3: nodes\[0\]\.mgmt" "port fault"
itm_assert_match "$out" "bad.yaml:5: nodes\[0\]: unknown key 'colour'" "key fault"
itm_assert_match "$out" "bad.yaml:7: links\[0\]" "unknown node fault"
itm_assert_match "$out" "bad.yaml:8: links\[0\]\.cost" "cost fault"
itm_assert_eq "$(sql 'SELECT * FROM generations; SELECT * FROM nodes; SELECT * FROM links')" \
	"$before" "database after a bad file"

# --- an agent down during an apply converges when it comes back --------
itm_agent_stop n3
topo 30 >"$ITM_TMP/topo3.yaml"
out=$(cli apply "$ITM_TMP/topo3.yaml") || itm_fail "apply 3: $out"
itm_assert_match "$out" "node n3 unreachable 3 " "apply 3: n3 is down"
itm_assert_match "$out" "node n2 updated 3 " "apply 3: n2"
itm_wait_for 5 eval 'cli nodes | grep -q "node n3 down"' ||
	itm_fail "n3 not down: $(cli nodes)"
agent_start 3
itm_wait_for 10 eval '[ "$(table_gen 3)" = 3 ]' ||
	itm_fail "n3 did not converge: $(table 3)"
itm_assert_match "$(table 3)" "neighbour n2 .* cost 30 " "n3 after rejoin"
itm_wait_for 5 eval 'cli nodes | grep -q "node n3 up acked 3 want 3"' ||
	itm_fail "nodes after n3 rejoined: $(cli nodes)"

# --- kill -9 of the controller in the middle of an apply ---------------
itm_stop "$CTL_PID"
pause=$ITM_TMP/pause
ITM_STORE_PAUSE_IN_APPLY=$pause ctl_start
topo 40 >"$ITM_TMP/topo4.yaml"
itm_bg c --name apply-killed "$CLIENT" "127.0.0.1:$PORT" apply "$ITM_TMP/topo4.yaml"
itm_wait_for 10 test -e "$pause" || itm_fail "apply never reached the pause"
kill -9 "$CTL_PID"
itm_wait_for 5 eval '! kill -0 '"$CTL_PID" || itm_fail "controller survived kill -9"
rm -f "$pause"
itm_log "controller killed with the apply's transaction open"
ctl_start
itm_assert_eq "$(sql 'SELECT max(id) FROM generations')" 3 "newest generation after kill -9"
itm_assert_eq "$(sql 'SELECT count(*) FROM nodes WHERE gen > 3') $(sql 'SELECT count(*) FROM links WHERE gen > 3')" \
	"0 0" "rows of the killed apply"
itm_assert_eq "$(sql 'SELECT count(*) FROM nodes WHERE gen = 3') $(sql 'SELECT count(*) FROM links WHERE gen = 3')" \
	"3 2" "rows of generation 3"
itm_assert_eq "$(table_gen 1) $(table_gen 2) $(table_gen 3)" "1 3 3" \
	"agents kept their tables"
out=$(cli apply "$ITM_TMP/topo4.yaml") || itm_fail "apply 4: $out"
itm_assert_eq "$(grep '^generation' <<<"$out")" "generation 4" "apply after restart"
itm_assert_match "$out" "node n3 updated 4 " "apply 4: n3"

# --- restart from the database alone ------------------------------------
hist=$(cli history)
itm_stop "$CTL_PID" || itm_fail "controller did not stop cleanly"
ctl_start
itm_assert_eq "$(cli history)" "$hist" "history after restart"
itm_wait_for 5 eval '[ "$(cli nodes | grep -c " up acked ")" = 3 ]' ||
	itm_fail "agents did not rejoin: $(cli nodes)"
itm_assert_match "$(cli nodes)" "node n2 up acked 4 want 4" "nodes after restart"
itm_assert_eq "$(table_gen 1) $(table_gen 2) $(table_gen 3)" "1 4 4" \
	"tables after restart"

# --- rollback, stats, modules through the controller ---------------------
out=$(cli rollback 1) || itm_fail "rollback: $out"
itm_assert_match "$out" "^generation 5" "rollback generation"
itm_assert_match "$out" "node n1 unchanged 1 " "rollback: n1"
itm_assert_match "$out" "node n2 updated 5 " "rollback: n2"
itm_assert_match "$(table 3)" "neighbour n2 .* cost 10 " "n3 after rollback"
itm_assert_eq "$(sql 'SELECT rollback_of FROM generations WHERE id = 5')" 1 "rollback row"
out=$(cli stats) || itm_fail "stats: $out"
itm_assert_eq "$(grep -c '^stats n' <<<"$out")" 3 "stats of every node"
out=$(cli list n2) || itm_fail "module list: $out"
itm_assert_match "$out" "ok" "module list through the controller"
out=$(cli load n2 nosuchmod) && itm_fail "unknown module loaded: $out"
itm_assert_match "$out" "node n2: .*nosuchmod" "load error names node and module"
out=$(cli stats n9) && itm_fail "stats of an unknown node: $out"
itm_assert_match "$out" "NOT_FOUND" "stats of an unknown node"

# --- the whole store into SQLite and back (--export, --import) ----------
# The SQLite store exported is the file copied; either way the copy is
# imported into an empty store (etcd: another prefix; SQLite: a new file)
# and exported again: the same rows, times of apply included.
dump() {
	sqlite3 -batch "file:$1?mode=ro" 'SELECT * FROM generations;
		SELECT * FROM nodes; SELECT * FROM links; SELECT * FROM node_labels;
		SELECT node, acked_gen, agent_addr FROM agents ORDER BY node;
		SELECT node, module, params, gen FROM placements'
}
ctlx() { itm_exec c "$CTL_BIN" "$@"; }
E1=$ITM_TMP/export1.db
E2=$ITM_TMP/export2.db
case $ITM_STORE in
etcd://*) COPY=${ITM_STORE%/itm}/imported ;;
*) COPY=$ITM_TMP/imported.db ;;
esac
out=$(ctlx --store "$ITM_STORE" --export "$E1") || itm_fail "export: $out"
itm_assert_match "$out" "exported 5 generations from $ITM_STORE into $E1" "export"
out=$(ctlx --store "$COPY" --import "$E1") || itm_fail "import: $out"
itm_assert_match "$out" "imported 5 generations" "import"
out=$(ctlx --store "$COPY" --import "$E1" 2>&1) && itm_fail "import into a full store: $out"
itm_assert_match "$out" "not empty: it holds generation 5" "import refused"
out=$(ctlx --store "$COPY" --export "$E1" 2>&1) && itm_fail "export over a file: $out"
itm_assert_match "$out" "the file exists" "export refused"
ctlx --store "$COPY" --export "$E2" >/dev/null || itm_fail "export of the import"
itm_assert_eq "$(dump "$E2")" "$(dump "$E1")" "the import exported again"
itm_assert_match "$(dump "$E1")" "^1\|20[0-9-]*T[0-9:.]*Z\|ctl_daemon test" \
	"generation 1 with its time of apply"
itm_log "store exported, imported into $COPY, exported again: same rows"

grep -l "Sanitizer" "$ITM_TMP"/controller*.log &&
	itm_fail "the controller reported a sanitizer error"
itm_log "PASS"
