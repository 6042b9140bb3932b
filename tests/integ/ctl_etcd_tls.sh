#!/bin/bash
# ctl_etcd_tls.sh - itm-controller's etcd store over TLS (issue 12).
#
# Namespace e runs an etcd that speaks only TLS and asks clients for a
# certificate of its CA (--client-cert-auth); certificates from
# deploy/mkcerts.sh.  Checked with itm-controller --check (which opens the
# store: writes its schema key, reads the current generation):
#  - ca=, cert=, key= of the right CA: "configuration OK", schema 2;
#  - no client certificate, a client certificate of another CA, a CA that
#    did not sign etcd's certificate, or plaintext: refused, exit 1, the
#    reason named ("etcd 127.0.0.1:2379: UNAVAILABLE").
. "$ITM_SRC/tests/integ/lib.sh"
itm_init ctl_etcd_tls
itm__need openssl etcd etcdctl

CTL_BIN=$ITM_BUILD/controller/itm-controller
[ -x "$CTL_BIN" ] || itm_fail "itm-controller is not built"
PKI=$ITM_TMP/pki
EVIL=$ITM_TMP/evil
sh "$ITM_SRC/deploy/mkcerts.sh" "$PKI" 127.0.0.1 ctl >/dev/null ||
	itm_fail "mkcerts failed"
sh "$ITM_SRC/deploy/mkcerts.sh" "$EVIL" ctl >/dev/null ||
	itm_fail "mkcerts (other CA) failed"

itm_ns e
itm_bg e --name etcd etcd --name t --data-dir "$ITM_TMP/etcd" \
	--listen-client-urls https://127.0.0.1:2379 \
	--advertise-client-urls https://127.0.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 \
	--initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster t=http://127.0.0.1:2380 \
	--cert-file "$PKI/127.0.0.1.pem" --key-file "$PKI/127.0.0.1.key" \
	--trusted-ca-file "$PKI/ca.pem" --client-cert-auth \
	--logger zap --log-level warn
itm_wait_for 15 itm_exec e etcdctl --endpoints https://127.0.0.1:2379 \
	--cacert "$PKI/ca.pem" --cert "$PKI/ctl.pem" --key "$PKI/ctl.key" \
	endpoint health || itm_fail "etcd (TLS) did not start"

check() {	# QUERY: itm-controller --check on the store with ?QUERY
	itm_exec e "$CTL_BIN" --store "etcd://127.0.0.1:2379/itm$1" --check 2>&1
}

out=$(check "?ca=$PKI/ca.pem&cert=$PKI/ctl.pem&key=$PKI/ctl.key") ||
	itm_fail "check over TLS: $out"
itm_assert_match "$out" "configuration OK: .*schema 2, generation 0" "TLS store"
itm_assert_eq "$(itm_exec e etcdctl --endpoints https://127.0.0.1:2379 \
	--cacert "$PKI/ca.pem" --cert "$PKI/ctl.pem" --key "$PKI/ctl.key" \
	get /itm/schema --print-value-only)" 2 "schema key written over TLS"
itm_log "store over TLS with a client certificate: OK"

for q in "?ca=$PKI/ca.pem" \
	 "?ca=$PKI/ca.pem&cert=$EVIL/ctl.pem&key=$EVIL/ctl.key" \
	 "?ca=$EVIL/ca.pem&cert=$PKI/ctl.pem&key=$PKI/ctl.key" \
	 ""; do
	out=$(check "$q") && itm_fail "store opened with '$q': $out"
	itm_assert_match "$out" "store etcd://127.0.0.1:2379/itm.*: etcd 127.0.0.1:2379: UNAVAILABLE" \
		"refusal with '${q:-plaintext}'"
done
itm_log "refused: no client certificate, another CA's, a wrong CA, plaintext"
itm_log "PASS"
