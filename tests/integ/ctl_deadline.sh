#!/bin/bash
# ctl_deadline.sh - the controller's calls to agents honour the client's
# deadline (issue 8, item 12): with an agent that never answers (stopped
# with SIGSTOP) and a push timeout of 4 s, `itmctl --timeout 1500` gets the
# controller's answer (that node unreachable) before its own deadline,
# instead of DEADLINE_EXCEEDED after waiting out the push timeout.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init ctl_deadline

PORT=7799
APORT=7800
itm_ns c
itm_bg c --name controller "$ITM_BUILD/controller/itm-controller" \
	--db "$ITM_TMP/ctl.db" --listen "127.0.0.1:$PORT" --heartbeat-ms 300 \
	--push-timeout-ms 4000
ctl() { itm_exec c "$(itm_ctl_bin)" --controller "127.0.0.1:$PORT" "$@"; }
itm_wait_for 10 ctl topology history || itm_fail "controller does not answer"
itm_agent_start c n1 --listen "127.0.0.1:$APORT" --controller "127.0.0.1:$PORT"
cat >"$ITM_TMP/topo.yaml" <<YAML
nodes:
  - { name: n1, mgmt: "127.0.0.1:$APORT", overlay: 10.200.0.1 }
YAML
out=$(ctl topology apply "$ITM_TMP/topo.yaml") || itm_fail "apply: $out"
itm_assert_match "$out" "n1 +updated" "first apply"

kill -STOP "${ITM_AGENT_PID[n1]}"
itm_on_exit kill -CONT "${ITM_AGENT_PID[n1]}"
timed() {	# NAME WANT-STATUS CMD...: run CMD, check status and time
	local name=$1 want=$2 t0 rc ms
	shift 2
	t0=${EPOCHREALTIME/./}
	out=$("$@" 2>&1); rc=$?
	ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	itm_log "$name: exit $rc after $ms ms"
	# 3: the controller's answer, in time; 1 would be DEADLINE_EXCEEDED
	itm_assert_eq "$rc" "$want" "$name exit status ($out)"
}
timed "stats" 3 ctl --timeout 1500 stats
itm_assert_match "$out" "n1" "stats names the node not reached"
sed 's/overlay: 10.200.0.1/overlay: 10.200.0.9/' "$ITM_TMP/topo.yaml" \
	>"$ITM_TMP/topo2.yaml"
timed "apply" 3 ctl --timeout 1500 topology apply "$ITM_TMP/topo2.yaml"
itm_assert_match "$out" "n1 +unreachable" "apply names the node not reached"
kill -CONT "${ITM_AGENT_PID[n1]}"
itm_log "PASS"
