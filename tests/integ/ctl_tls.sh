#!/bin/bash
# ctl_tls.sh - mutual TLS between itm-controller and agents.
#
# c runs the controller on 10.X.1.1 (certificates from deploy/mkcerts.sh);
# n1 and n2 reach it over their own veths.  Checked:
#  - agent n1 with its own certificate joins, and the push to it (TLS, the
#    agent's certificate checked for the name n1) installs its table;
#  - agent n2 with a certificate from another CA never joins, and the push
#    to it is unreachable (its certificate is not trusted either);
#  - a Join for n1 with n2's certificate is PERMISSION_DENIED, with a
#    certificate from another CA the handshake fails;
#  - a node's certificate cannot make operator calls; plaintext off
#    loopback is refused at start-up.
. "$ITM_SRC/tests/integ/lib.sh"
itm_init ctl_tls
itm__need openssl

X=$ITM_NETX
PORT=7793
APORT=7794
CIP=10.$X.1.1
CTL_BIN=$ITM_BUILD/controller/itm-controller
CLIENT=$ITM_BUILD/tests/tools/ctl_client
PKI=$ITM_TMP/pki
EVIL=$ITM_TMP/evil
sh "$ITM_SRC/deploy/mkcerts.sh" "$PKI" "$CIP" n1 n2 admin >/dev/null ||
	itm_fail "mkcerts failed"
sh "$ITM_SRC/deploy/mkcerts.sh" "$EVIL" n1 n2 >/dev/null ||
	itm_fail "mkcerts (other CA) failed"

itm_ns c
itm_ns n1
itm_ns n2
itm_link c n1 "$CIP/24" "10.$X.1.2/24"
itm_link c n2 "10.$X.2.1/24" "10.$X.2.2/24"
itm_route n2 "10.$X.1.0/24" "10.$X.2.1"

tls() {	# DIR NAME: client options with NAME's certificate from DIR
	echo --tls-ca "$PKI/ca.pem" --tls-cert "$1/$2.pem" --tls-key "$1/$2.key"
}
# as NS DIR NAME ARGS...: ctl_client to the controller from NS as NAME.
as() {
	local ns=$1 dir=$2 name=$3
	shift 3
	# shellcheck disable=SC2046
	itm_exec "$ns" "$CLIENT" $(tls "$dir" "$name") "$CIP:$PORT" "$@"
}

# Plaintext on a non-loopback address is refused.
out=$(itm_exec c "$CTL_BIN" --db "$ITM_TMP/x.db" --listen "0.0.0.0:$PORT" 2>&1) &&
	itm_fail "plaintext on 0.0.0.0 accepted"
itm_assert_match "$out" "refusing to listen on 0.0.0.0:$PORT without TLS" \
	"plaintext refusal"
# ... by the agent too (issue 8, item 7); --insecure-plaintext says what it
# does, and is logged as a warning.
out=$(itm_exec n1 timeout 10 "$(itm_agent_bin)" --node n1 \
	--socket "$ITM_TMP/refused.sock" --listen "10.$X.1.2:$APORT" 2>&1) &&
	itm_fail "agent: plaintext on 10.$X.1.2 accepted"
itm_assert_match "$out" "refusing to listen on 10.$X.1.2:$APORT without TLS.*--insecure-plaintext" \
	"agent plaintext refusal"
out=$(itm_exec c timeout 10 "$CTL_BIN" --db "$ITM_TMP/y.db" \
	--listen "0.0.0.0:$PORT" --insecure-plaintext --tls-ca "$PKI/ca.pem" 2>&1) &&
	itm_fail "--insecure-plaintext with --tls-ca accepted"
itm_bg c --name plain "$CTL_BIN" --db "$ITM_TMP/y.db" \
	--listen "0.0.0.0:$PORT" --insecure-plaintext
plain_pid=$ITM_LAST_PID
itm_wait_for 10 grep -q "insecure-plaintext: anyone who reaches" "$ITM_LAST_LOG" ||
	itm_fail "no warning for --insecure-plaintext: $(cat "$ITM_LAST_LOG")"
itm_stop "$plain_pid"

itm_bg c --name controller "$CTL_BIN" --db "$ITM_TMP/ctl.db" \
	--listen "0.0.0.0:$PORT" --tls-ca "$PKI/ca.pem" \
	--tls-cert "$PKI/$CIP.pem" --tls-key "$PKI/$CIP.key" \
	--heartbeat-ms 300 --push-timeout-ms 1000
itm_wait_for 10 as c "$PKI" admin history || itm_fail "controller does not answer"

cat >"$ITM_TMP/topo.yaml" <<EOF
nodes:
  - name: n1
    mgmt: 10.$X.1.2:$APORT
    overlay: 10.200.0.1
  - name: n2
    mgmt: 10.$X.2.2:$APORT
    overlay: 10.200.0.2
links:
  - between: [n1, n2]
    cost: 7
EOF
out=$(as c "$PKI" admin apply "$ITM_TMP/topo.yaml") || itm_fail "apply: $out"

itm_agent_start n1 n1 --listen "10.$X.1.2:$APORT" --controller "$CIP:$PORT" \
	--tls-ca "$PKI/ca.pem" --tls-cert "$PKI/n1.pem" --tls-key "$PKI/n1.key"
itm_agent_start n2 n2 --listen "10.$X.2.2:$APORT" --controller "$CIP:$PORT" \
	--tls-ca "$EVIL/ca.pem" --tls-cert "$EVIL/n2.pem" --tls-key "$EVIL/n2.key"

# n1 joins and gets its table over TLS; read it back from n1 itself.
n1_table() {
	# shellcheck disable=SC2046
	itm_exec c "$CLIENT" $(tls "$PKI" admin) --server-name n1 \
		"10.$X.1.2:$APORT" table
}
itm_wait_for 10 eval 'n1_table | grep -q "^table n1 generation 1 "' ||
	itm_fail "n1 has no table: $(n1_table)"
itm_assert_match "$(n1_table)" "neighbour n2 .* cost 7 " "n1's table"
itm_assert_match "$(as c "$PKI" admin nodes)" "node n1 up acked 1 want 1" "n1 up"

# n2's certificate comes from another CA: never joined, push unreachable.
sleep 1
itm_assert_match "$(as c "$PKI" admin nodes)" "node n2 down acked 0 want 1 .* seen -" \
	"n2 never joined"
grep -q "node n2 joined" "$ITM_TMP/controller.log" && itm_fail "n2 joined"
out=$(as c "$PKI" admin apply "$ITM_TMP/topo.yaml") || itm_fail "apply 2: $out"
itm_assert_match "$out" "node n2 unreachable " "push to n2 (untrusted cert)"
itm_assert_match "$out" "node n1 unchanged 1 " "push to n1"

# A certificate for another node, or from another CA.
out=$(as n1 "$PKI" n2 join n1) && itm_fail "n1 joined with n2's cert: $out"
itm_assert_match "$out" "PERMISSION_DENIED.*certificate is for 'n2'" "wrong name"
out=$(as n1 "$EVIL" n1 join n1) && itm_fail "joined with another CA: $out"
itm_assert_match "$out" "^ERROR UNAVAILABLE" "other CA"
grep -q "claims node 'n1' with a certificate for 'n2'" "$ITM_TMP/controller.log" ||
	itm_fail "controller did not log the refused join"

# A node's certificate may only join and heartbeat.
out=$(as c "$PKI" n1 apply "$ITM_TMP/topo.yaml") && itm_fail "node cert applied: $out"
itm_assert_match "$out" "PERMISSION_DENIED.*node 'n1' may only join" "node cert"

# itmctl, the operator's tool, over mutual TLS: to the controller with the
# operator's certificate, to an agent checked for the node's name; without
# a certificate, or with a node's, it is told why.
ITMCTL=$ITM_BUILD/controller/itmctl/itmctl
op() {	# NAME ARGS...: itmctl from c with NAME's certificate from $PKI
	local name=$1
	shift
	# shellcheck disable=SC2046
	itm_exec c "$ITMCTL" --controller "$CIP:$PORT" $(tls "$PKI" "$name") "$@"
}
out=$(op admin nodes) || itm_fail "itmctl nodes over TLS: $out"
itm_assert_match "$out" "n1 +up " "itmctl nodes over TLS"
out=$(op admin topology history) || itm_fail "itmctl history over TLS: $out"
grep -Eq '^ *2 ' <<<"$out" || itm_fail "itmctl history over TLS: no generation 2: $out"
out=$(op admin --agent "10.$X.1.2:$APORT" --tls-name n1 table) ||
	itm_fail "itmctl table from n1 over TLS: $out"
itm_assert_match "$out" "n2" "n1's table through itmctl"
out=$(itm_exec c "$ITMCTL" --controller "$CIP:$PORT" nodes 2>&1) &&
	itm_fail "itmctl without a certificate was answered: $out"
itm_assert_match "$out" "$CIP:$PORT" "itmctl without TLS names the controller"
out=$(op n1 topology apply "$ITM_TMP/topo.yaml" 2>&1) &&
	itm_fail "itmctl with a node's certificate applied: $out"
itm_assert_match "$out" "PERMISSION_DENIED" "itmctl with a node's certificate"

grep -l "Sanitizer" "$ITM_TMP"/controller*.log &&
	itm_fail "the controller reported a sanitizer error"
itm_log "PASS"
