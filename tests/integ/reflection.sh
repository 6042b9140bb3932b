#!/bin/bash
# reflection.sh - gRPC server reflection on both daemons (issue 8, item
# 10), used as grpcurl would, by a stock client (python3-grpcio) that has
# only the vendored reflection.proto, never itm.proto:
#  - list_services names the daemon's itm.v1 service, grpc.health.v1.Health
#    and reflection (v1alpha and v1) on the agent's unix socket, on its TCP
#    listener and on the controller;
#  - the descriptors of itm.proto (and health.proto) come by symbol and by
#    file name; message classes built from them make a real call
#    (Agent.ListModules / Agent.GetStatus / Controller.Nodes) whose answer
#    matches what itmctl shows;
#  - unknown symbols and files, extension requests, an empty request:
#    an error_response in the same stream, which goes on; bytes that do
#    not decode end the stream with INVALID_ARGUMENT; a client that
#    cancels mid-stream is forgotten; the daemons stay up, and stop
#    cleanly (exit 0, no sanitizer report: they run with ASan in CI).
. "$ITM_SRC/tests/integ/lib.sh"
itm_init reflection
itm__need /usr/bin/python3
/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null ||
	itm_fail "python3-grpcio / python3-grpc-tools missing (deploy/install-deps.sh)"

PORT=7796
APORT=7797
itm_ns c
itm_agent_start c r --listen "127.0.0.1:$APORT"
sock=$(itm_agent_sock r)
itm_bg c --name controller "$ITM_BUILD/controller/itm-controller" \
	--db "$ITM_TMP/ctl.db" --listen "127.0.0.1:$PORT"
CTL_PID=$ITM_LAST_PID
CTL_LOG=$ITM_LAST_LOG
ctlctl() { itm_exec c "$(itm_ctl_bin)" --controller "127.0.0.1:$PORT" "$@"; }
itm_wait_for 10 ctlctl topology history || itm_fail "controller does not answer"
itm_ctl c r module load fig13 >/dev/null || itm_fail "module load fig13"

# The client sees reflection.proto alone.
mkdir -p "$ITM_TMP/only"
cp "$ITM_SRC/proto/reflection.proto" "$ITM_TMP/only/"
reflect() {	# TAG ADDR SERVICE METHOD
	mkdir -p "$ITM_TMP/$1"
	itm_exec c /usr/bin/python3 "$ITM_SRC/tests/integ/tools/reflect_client.py" \
		"$ITM_TMP/only/reflection.proto" "$ITM_TMP/$1" "$2" "$3" "$4" \
		>"$ITM_TMP/$1.out" 2>&1 || itm_fail "reflect_client $1: $(cat "$ITM_TMP/$1.out")"
	cat "$ITM_TMP/$1.out"
}
expect() {	# OUTPUT STEP TEXT (exact)
	local line
	line=$(grep "^$2 " <<<"$1") || itm_fail "step $2: no answer"
	itm_assert_eq "$line" "$2 $3" "answer to $2"
}
STD="grpc.health.v1.Health grpc.reflection.v1.ServerReflection grpc.reflection.v1alpha.ServerReflection"
common() {	# OUTPUT SERVICE
	expect "$1" list "$STD $2"
	expect "$1" list-again "$STD $2"
	expect "$1" v1-list "$STD $2"
	expect "$1" symbol "itm.proto"
	expect "$1" method "itm.proto"
	expect "$1" filename "health.proto"
	expect "$1" bad-symbol "error NOT_FOUND unknown symbol 'itm.v1.Nope'"
	expect "$1" bad-filename "error NOT_FOUND unknown file 'nope.proto'"
	expect "$1" extension "error NOT_FOUND no extension 1 of '$2'"
	expect "$1" extension-numbers "error NOT_FOUND no extensions of '$2'"
	expect "$1" empty "error INVALID_ARGUMENT empty request"
	expect "$1" answers 10
	expect "$1" abandon grpc.health.v1.Health
	expect "$1" garbage "INVALID_ARGUMENT /grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo: request does not decode as grpc.reflection.v1alpha.ServerReflectionRequest"
}

out=$(reflect agent-unix "unix:$sock" itm.v1.Agent ListModules)
common "$out" itm.v1.Agent
itm_assert_match "$(grep '^call ' <<<"$out")" \
	'^call itm.v1.ListModulesReply \{"modules": \[\{"name": "fig13"' \
	"ListModules through reflected descriptors"

out=$(reflect agent-tcp "127.0.0.1:$APORT" itm.v1.Agent GetStatus)
common "$out" itm.v1.Agent
itm_assert_match "$(grep '^call ' <<<"$out")" \
	'^call itm.v1.StatusReply \{.*"node": "r"' \
	"GetStatus through reflected descriptors"

out=$(reflect ctl "127.0.0.1:$PORT" itm.v1.Controller Nodes)
common "$out" itm.v1.Controller
expect "$out" call "itm.v1.NodesReply {}"

# Still up, still answering.
itm_ctl c r module list >/dev/null || itm_fail "agent stopped answering"
ctlctl topology history >/dev/null || itm_fail "controller stopped answering"
itm_agent_stop r || itm_fail "agent exit status $?"
itm_stop "$CTL_PID" || itm_fail "controller exit status $?"
if grep -l "Sanitizer" "$CTL_LOG" "$ITM_TMP"/agent-r*.log; then
	itm_fail "a sanitizer report in a daemon's log"
fi
itm_log "PASS"
