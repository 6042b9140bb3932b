#!/bin/bash
# stock_badinput.sh - hostile strings from a stock gRPC client (python3-grpcio,
# stubs generated from proto/itm.proto at test time) against a real agent
# and a real controller (issue 8, items 1 to 4):
#  - a NUL in a parameter or in YAML, a newline or a bidi override in a
#    name or a filename, bytes that are not UTF-8: INVALID_ARGUMENT naming
#    the field, the same message from every RPC, nothing loaded or stored;
#  - a 10 MB module name: GetStats and WatchStats answer alike;
#  - "threshold=010" and "threshold= 5" are refused (no octal, no blanks);
#  - a 100k-deep file is refused at once, other calls unaffected (item 5);
#  - grpc.health.v1.Health (Check, Watch) answers on both daemons
#    (item 9);
#  - no forged line in either daemon's log; a topo.yaml comment with U+202E
#    is stored, and shown escaped by the controller's log and
#    `itmctl topology history`.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init stock_badinput
itm__need /usr/bin/python3 sqlite3
/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null ||
	itm_fail "python3-grpcio / python3-grpc-tools missing (deploy/install-deps.sh)"

PORT=7795
DB=$ITM_TMP/ctl.db
CTL_BIN=$ITM_BUILD/controller/itm-controller
itm_ns c
itm_agent_start c r
sock=$(itm_agent_sock r)
itm_bg c --name controller "$CTL_BIN" --db "$DB" --listen "127.0.0.1:$PORT" \
	--push-timeout-ms 300
CTL_LOG=$ITM_LAST_LOG
ctlctl() { itm_exec c "$(itm_ctl_bin)" --controller "127.0.0.1:$PORT" "$@"; }
itm_wait_for 10 ctlctl topology history || itm_fail "controller does not answer"

cat >"$ITM_TMP/topo_ok.yaml" <<'YAML'
comment: "evil \u202E reversed"
nodes:
  - name: n1
    mgmt: 127.0.0.1:1
    overlay: 10.200.0.1
YAML
before=$(itm_ctl c r module list -o json)

cases=(load-nul load-newline load-bidi load-badutf8 load-octal load-blank
	stats-big watch-big apply-nul apply-filename apply-badutf8 history
	health-agent health-agent-svc health-agent-other health-agent-watch
	health-ctl health-ctl-watch)
out=$(itm_exec c /usr/bin/python3 "$ITM_SRC/tests/integ/tools/stock_client.py" \
	"$ITM_SRC/proto/itm.proto" "$ITM_TMP" "unix:$sock" "127.0.0.1:$PORT" \
	"${cases[@]}") || itm_fail "stock_client failed: $out"
echo "$out" >"$ITM_TMP/stock.out"
expect() {	# CASE CODE MESSAGE (exact)
	local line
	line=$(grep "^$1 " <<<"$out") || itm_fail "case $1: no answer"
	itm_assert_eq "$line" "$1 $2 $3" "answer to $1"
}
expect load-nul INVALID_ARGUMENT "params[0]: contains a NUL byte"
expect load-newline INVALID_ARGUMENT \
	"name: control character U+000A at byte 6"
expect load-bidi INVALID_ARGUMENT \
	"name: bidirectional formatting character U+202E at byte 0"
expect load-badutf8 INVALID_ARGUMENT "name: not valid UTF-8 at byte 2"
expect load-octal INVALID_ARGUMENT \
	"threshold: not a non-negative integer: '010'"
expect load-blank INVALID_ARGUMENT \
	"threshold: not a non-negative integer: ' 5'"
expect stats-big INVALID_ARGUMENT "module: longer than 31 bytes"
expect watch-big INVALID_ARGUMENT "module: longer than 31 bytes"
expect apply-nul INVALID_ARGUMENT "yaml: contains a NUL byte"
expect apply-filename INVALID_ARGUMENT \
	"filename: control character U+000A at byte 6"
expect apply-badutf8 INVALID_ARGUMENT "yaml: not valid UTF-8 at byte 1"
expect history OK ""
expect health-agent OK SERVING
expect health-agent-svc OK SERVING
expect health-agent-other NOT_FOUND "unknown service 'itm.v1.Nope'"
expect health-agent-watch OK SERVING
expect health-ctl OK SERVING
expect health-ctl-watch OK SERVING
itm_assert_eq "$(itm_ctl c r module list -o json)" "$before" \
	"modules after the refused loads"
itm_assert_eq "$(sqlite3 -batch "file:$DB?mode=ro" \
	'SELECT count(*) FROM generations')" 0 "generations stored"

# A comment with U+202E goes through, and is printed escaped.
out=$(itm_exec c /usr/bin/python3 "$ITM_SRC/tests/integ/tools/stock_client.py" \
	"$ITM_SRC/proto/itm.proto" "$ITM_TMP" "unix:$sock" "127.0.0.1:$PORT" \
	apply-ok) || itm_fail "stock_client failed: $out"
itm_assert_match "$out" "^apply-ok OK generation: 1" "apply of a good file"
hist=$(ctlctl topology history) || itm_fail "topology history: $hist"
itm_assert_match "$hist" 'evil \\u\{202E\} reversed' "history escapes U+202E"
if grep -q $'\u202e' <<<"$hist"; then itm_fail "raw U+202E in history"; fi
itm_assert_match "$(cat "$CTL_LOG")" 'evil \\u\{202E\} reversed' \
	"controller log escapes U+202E"
if grep -q $'\u202e' "$CTL_LOG" "$ITM_TMP"/agent-r*.log; then
	itm_fail "raw U+202E in a log"
fi
if grep -q '^forged-line' "$CTL_LOG" "$ITM_TMP"/agent-r*.log; then
	itm_fail "a forged line in a log"
fi
# A file nested 100k levels deep (200 kB): refused at once, with one
# fault, while the controller keeps answering (libyaml alone took ~20 s).
{ printf 'nodes: '; head -c 100000 /dev/zero | tr '\0' '['; echo; } \
	>"$ITM_TMP/deep.yaml"
t0=${EPOCHREALTIME/./}
ctlctl topology apply "$ITM_TMP/deep.yaml" >"$ITM_TMP/deep.out" 2>&1 &
deep_pid=$!
hist=$(ctlctl --timeout 2000 topology history) ||
	itm_fail "history during the deep apply: $hist"
wait "$deep_pid" && itm_fail "the deep file was applied"
ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
itm_log "deep file refused in $ms ms"
itm_assert_le "$ms" 3000 "ms to refuse the deep file"
itm_assert_match "$(cat "$ITM_TMP/deep.out")" \
	"deep.yaml:1: yaml: flow collections nested deeper than 16 levels" \
	"the deep file's fault"
itm_ctl c r status >/dev/null || itm_fail "agent stopped answering"
itm_log "PASS"
