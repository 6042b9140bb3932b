#!/bin/bash
# etunnel_tls: mutual TLS on the elastic tunnel's pool.  Certificates are
# made here with openssl (a CA, the exit's naming n3, the entry's naming
# n1, one of the same CA for node n2, one revoked in the CA's CRL; a
# second CA and a client certificate of it); the ends are given by node
# name (peer=), so each checks that the other's certificate names it.  A
# transfer through the TLS pool arrives intact (SHA-256), every frame
# once even when SSL_write had to wait (small send buffers), and the
# router sees none of its plaintext on the pool port (while h2 does);
# from the peer's own address, a client with a certificate of another
# CA, one with none, one offering TLS 1.2, one of the same CA for node n2
# and a revoked one are refused at the exit and counted (the name
# mismatch logged with both names); an exit whose certificate names n2
# is refused by the entry, by name and by address (counted, both names
# logged); an entry with the wrong certificate is refused (counted and
# logged with OpenSSL's reason at both ends) and traffic fails open; a
# half-given TLS parameter set, a file that is not a key, a missing or
# bad CRL are refused at load with the parameter and file named; a CRL
# renamed over tls_crl refuses new sessions and cuts those up that it
# revokes; a handshake that does not end in 5 s is given up at either
# end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etun_lib.sh"
itm__need python3 curl iptables sha256sum openssl tcpdump grep seq ss
itm_init etunnel_tls
etun_topo

P=$ITM_TMP/pki
# The ends are named by node (peer=n1 / peer=n3, with their addresses):
# each certificate must name the other end's node.  n2: the same CA,
# another node; revoked: names n1, revoked in the CA's CRL.
etun_mkcert ca -
etun_mkcert exit ca DNS:n3
etun_mkcert entry ca DNS:n1
etun_mkcert n2 ca DNS:n2
etun_mkcert revoked ca DNS:n1
etun_mkcert late ca DNS:n1
etun_mkcert rogueca -
etun_mkcert rogue rogueca DNS:n1
cat >"$P/ca.cnf" <<EOF
[ca]
default_ca = tunnel_ca
[tunnel_ca]
database = $P/index.txt
crlnumber = $P/crlnumber
default_md = sha256
default_crl_days = 2
EOF
: >"$P/index.txt"
echo 01 >"$P/crlnumber"
{ openssl ca -config "$P/ca.cnf" -keyfile "$P/ca.key" -cert "$P/ca.pem" \
	-revoke "$P/revoked.pem" &&
  openssl ca -config "$P/ca.cnf" -keyfile "$P/ca.key" -cert "$P/ca.pem" \
	-gencrl -out "$P/ca.crl"; } 2>/dev/null || itm_fail "openssl ca: the CRL"
tls() { echo "tls_ca=$P/ca.pem" "tls_cert=$P/$1.pem" "tls_key=$P/$1.key"; }

itm_agent_start n1 n1
itm_agent_start n3 n3

# Half-given sets and a bad key: refused at load, the parameter named.
out=$(itm_ctl n3 n3 module load etunnel tcp=packet side=exit "peer_addr=$ETUN_N1" \
	"dst=$ETUN_DST" "tls_ca=$P/ca.pem" "tls_cert=$P/exit.pem" 2>&1) &&
	itm_fail "a TLS set without tls_key was loaded"
itm_assert_match "$out" "tls_key: missing.*all three or none" "error without tls_key"
out=$(itm_ctl n1 n1 module load etunnel tcp=packet side=entry "peer_addr=$ETUN_N3" \
	"dst=$ETUN_DST" "tls_key=$P/entry.key" 2>&1) &&
	itm_fail "a TLS set of tls_key alone was loaded"
itm_assert_match "$out" "tls_ca: missing" "error with tls_key alone"
out=$(itm_ctl n1 n1 module load etunnel tcp=packet side=entry "peer_addr=$ETUN_N3" \
	"dst=$ETUN_DST" "tls_crl=$P/ca.crl" 2>&1) &&
	itm_fail "a CRL without the TLS set was loaded"
itm_assert_match "$out" "tls_ca: missing" "error with tls_crl alone"
out=$(itm_ctl n3 n3 module load etunnel tcp=packet side=exit "peer_addr=$ETUN_N1" \
	"dst=$ETUN_DST" "tls_ca=$P/ca.pem" "tls_cert=$P/exit.pem" \
	"tls_key=$P/exit.pem" 2>&1) && itm_fail "a certificate as key was loaded"
itm_assert_match "$out" "tls_key '.*exit.pem'" "error with a bad key"
out=$(itm_ctl n3 n3 module load etunnel tcp=packet side=exit "peer_addr=$ETUN_N1" \
	"dst=$ETUN_DST" $(tls exit) "tls_crl=$P/nothing.crl" 2>&1) &&
	itm_fail "a missing CRL file was loaded"
itm_assert_match "$out" "tls_crl '$P/nothing.crl'" "error with a missing CRL"
out=$(itm_ctl n3 n3 module load etunnel tcp=packet side=exit "peer_addr=$ETUN_N1" \
	"dst=$ETUN_DST" $(tls exit) "tls_crl=$P/exit.pem" 2>&1) &&
	itm_fail "a certificate as CRL was loaded"
itm_assert_match "$out" "tls_crl '$P/exit.pem': no PEM CRL" "error with a bad CRL"
itm_ctl n3 n3 stats --module etunnel >/dev/null 2>&1 &&
	itm_fail "etunnel is loaded on n3 after the refusals"

etun_exit tcp=packet peer=n1 max_conns=8 $(tls exit) "tls_crl=$P/ca.crl"
# cap=no: the download must push the 4 kB send buffers until SSL_write
# waits, not go at the target (10 Mbit/s by default).
etun_entry tcp=packet peer=n3 min_conns=4 max_conns=4 sndbuf_kb=4 cap=no $(tls entry)
itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = 4 ]' ||
	itm_fail "the TLS pool did not come up: conns=$(etun_counter n1 conns)" \
		"tls_refused=$(etun_counter n1 tls_refused)"
itm_assert_eq "$(etun_counter n3 tls_refused)" 0 "TLS refusals of the right entry"

# A file of a known text, fetched by h2 through the pool; the router's
# link to the exit (the pool port) and h2 are captured meanwhile.
mkdir -p "$ITM_TMP/www"
MARK=ETLS-PLAINTEXT-MARKER
seq -f "$MARK-%08g" 150000 >"$ITM_TMP/www/f1"
itm_bg h1 --name http python3 -m http.server -b "$ETUN_H1" -d "$ITM_TMP/www" 8080
itm_wait_for 10 itm_exec h2 curl -sfo /dev/null "http://$ETUN_H1:8080/" ||
	itm_fail "http server not reachable"
itm_capture r "$ETUN_R_DEV_N3" "tcp port 7800" 3000
cap_pool=$ITM_PCAP pid_pool=$ITM_CAP_PID
itm_capture h2 any "tcp port 8080" 500
cap_h2=$ITM_PCAP pid_h2=$ITM_CAP_PID
plain0=$(etun_plain_pkts)
itm_exec h2 curl -sf --max-time 30 -o "$ITM_TMP/got1" "http://$ETUN_H1:8080/f1" ||
	itm_fail "download through the TLS pool failed"
itm_capture_wait 5 "$pid_pool"
itm_capture_wait 5 "$pid_h2"
itm_assert_eq "$(sha256sum <"$ITM_TMP/got1")" "$(sha256sum <"$ITM_TMP/www/f1")" \
	"SHA-256 through the TLS pool"
itm_assert_le "$(($(etun_plain_pkts) - plain0))" 0 "packets h1 -> h2 outside the pool"
n_pool=$(tcpdump -r "$cap_pool" -n 2>/dev/null | wc -l)
itm_assert_ge "$n_pool" 1000 "pool packets captured at r"
itm_assert_eq "$(grep -a -o "$MARK" "$cap_pool" | wc -l)" 0 \
	"plaintext '$MARK' on the pool port at r"
itm_assert_ge "$(grep -a -o "$MARK" "$cap_h2" | wc -l)" 100 \
	"'$MARK' seen in clear at h2 (the capture can see it)"
itm_assert_ge "$(etun_counter n3 frames_in)" 3000 "frames read by the exit"
# The entry's 4 kB send buffers make SSL_write wait for the socket
# (OpenSSL keeps a record half sent): every frame still arrives once.
waits=$(etun_counter n1 tls_write_waits)
itm_log "TLS writes that waited for the socket: $waits"
itm_assert_ge "$waits" 1 "frames whose SSL_write had to wait (the path is tested)"
itm_wait_for 5 eval '[ "$(etun_counter n3 frames_in)" = "$(etun_counter n1 frames_out)" ]' ||
	itm_fail "frames sent $(etun_counter n1 frames_out), read $(etun_counter n3 frames_in)"

# From n1's own address (the peer's): another CA's certificate, none,
# the right one over TLS 1.2 (1.3 only), one of the same CA for node n2,
# a revoked one naming n1, and for contrast the right one.  Only the right
# one gets the exit's confirmation byte.
probe() {
	itm_exec n1 python3 - "$ETUN_N3" "$P" "$1" "${2:-1.3}" <<'PY'
import socket, ssl, sys
host, p, who, version = sys.argv[1:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
if version == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(p + "/ca.pem")
if who != "none":
    ctx.load_cert_chain(p + "/" + who + ".pem", p + "/" + who + ".key")
try:
    s = ctx.wrap_socket(socket.create_connection((host, 7800), timeout=5))
    print("confirmed" if s.recv(1) == b"K" else "nothing")
except (ssl.SSLError, OSError) as e:
    print("refused", e.__class__.__name__)
PY
}
refused0=$(etun_counter n3 tls_refused)
itm_assert_match "$(probe rogue)" "^refused" "a client certificate of another CA"
itm_assert_match "$(probe none)" "^refused" "a client without a certificate"
itm_assert_match "$(probe entry 1.2)" "^refused" "the right certificate over TLS 1.2"
itm_assert_match "$(probe n2)" "^refused" "the same CA's certificate for node n2"
itm_assert_match "$(probe revoked)" "^refused" "a revoked certificate naming n1"
itm_assert_eq "$(probe entry)" confirmed "a client with the entry's certificate"
itm_wait_for 5 eval '[ "$(etun_counter n3 tls_refused)" = $((refused0 + 5)) ]' ||
	itm_fail "tls_refused at n3: $(etun_counter n3 tls_refused), expected $((refused0 + 5))"
grep -q "TLS from $ETUN_N1 refused.*certificate" "$ITM_TMP/agent-n3.log" ||
	itm_fail "n3 did not log the refusal with OpenSSL's reason"
grep -q "TLS from $ETUN_N1 refused.*hostname mismatch; the peer is n1, its certificate names DNS:n2, CN=n2)" \
	"$ITM_TMP/agent-n3.log" || itm_fail "n3 did not log the name mismatch with both names"
grep -q "TLS from $ETUN_N1 refused.*certificate revoked; the peer is n1, its certificate names DNS:n1, CN=revoked)" \
	"$ITM_TMP/agent-n3.log" || itm_fail "n3 did not log the revoked certificate"

# A CRL replaced on disk counts from the next handshake, without a
# reload: "late" (naming n1) is confirmed, then revoked in a new CRL
# renamed over tls_crl: its session up is cut, it is refused from then
# on, the entry's own still confirmed and its pool untouched.  A file
# that cannot be used leaves the list in force.
# new_crl [TEXT]: a CRL from the CA's database (or TEXT) in place.
new_crl() {
	if [ $# -eq 0 ]; then
		openssl ca -config "$P/ca.cnf" -keyfile "$P/ca.key" \
			-cert "$P/ca.pem" -gencrl -out "$P/ca.crl.new" 2>/dev/null ||
			itm_fail "openssl ca: a new CRL"
	else
		echo "$1" >"$P/ca.crl.new"
	fi
	mv "$P/ca.crl.new" "$P/ca.crl"
}
itm_assert_eq "$(probe late)" confirmed "'late' before it is revoked"
# A session of "late" that stays up (confirmed, then reading until the
# exit ends it): the new CRL cuts it within a tick, the entry's own pool
# stays up.
itm_bg n1 --name holder python3 -c '
import socket, ssl, sys, time
host, p = sys.argv[1:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(p + "/ca.pem")
ctx.load_cert_chain(p + "/late.pem", p + "/late.key")
s = ctx.wrap_socket(socket.create_connection((host, 7800), timeout=60))
print("confirmed" if s.recv(1) == b"K" else "nothing", flush=True)
try:
    s.recv(1)
except (ssl.SSLError, OSError):
    pass
print("ended", flush=True)
time.sleep(60)' "$ETUN_N3" "$P"
HOLDER_LOG=$ITM_LAST_LOG
itm_wait_for 5 grep -q confirmed "$HOLDER_LOG" || itm_fail "the holder of 'late' was not confirmed"
sleep 1.5
grep -q ended "$HOLDER_LOG" && itm_fail "the session of 'late' ended before the new CRL"
cut0=$(etun_counter n3 tls_refused) disc1=$(etun_counter n1 disconnects)
openssl ca -config "$P/ca.cnf" -keyfile "$P/ca.key" -cert "$P/ca.pem" \
	-revoke "$P/late.pem" 2>/dev/null || itm_fail "openssl ca: revoke late"
new_crl
itm_wait_for 3 grep -q ended "$HOLDER_LOG" ||
	itm_fail "the session of 'late' is still up after the new CRL"
grep -q "pool connection [0-9]* cut: the new tls_crl refuses the peer (certificate: certificate revoked; it names DNS:n1, CN=late, must name n1)" \
	"$ITM_TMP/agent-n3.log" || itm_fail "n3 did not log the cut with the certificate's names"
itm_assert_eq "$(etun_counter n3 tls_refused)" $((cut0 + 1)) "tls_refused at n3 after the cut"
itm_assert_eq "$(etun_counter n1 conns)" 4 "the entry's pool after the new CRL"
itm_assert_eq "$(etun_counter n1 disconnects)" "$disc1" "entry connections lost to the new CRL"
itm_assert_match "$(probe late)" "^refused" "'late' after the new CRL"
itm_assert_eq "$(probe entry)" confirmed "the entry's certificate after the new CRL"
grep -q "tls_crl changed: new TLS sessions check the new list, sessions up are checked again" \
	"$ITM_TMP/agent-n3.log" || itm_fail "n3 did not log the new CRL"
new_crl "not a CRL"
itm_assert_eq "$(probe entry)" confirmed "the entry's certificate with a broken CRL file"
itm_assert_match "$(probe late)" "^refused" "'late' with a broken CRL file (the last list stays)"
grep -q "tls_crl changed but cannot be used (tls_crl '$P/ca.crl': no PEM CRL.*the list read before stays" \
	"$ITM_TMP/agent-n3.log" || itm_fail "n3 did not log the unusable CRL"
new_crl

# The entry with another CA's certificate: refused, counted and logged
# at both ends, no connection up, traffic fails open.
itm_ctl n1 n1 module unload etunnel >/dev/null || itm_fail "unload the entry"
etun_entry tcp=packet peer=n3 min_conns=2 max_conns=2 "tls_ca=$P/ca.pem" \
	"tls_cert=$P/rogue.pem" "tls_key=$P/rogue.key"
itm_wait_for 10 eval '[ "$(etun_counter n1 tls_refused)" -ge 2 ]' ||
	itm_fail "tls_refused at n1: $(etun_counter n1 tls_refused)"
itm_assert_eq "$(etun_counter n1 conns)" 0 "connections up with the wrong certificate"
grep -q "TLS with $ETUN_N3:7800 failed.*alert" "$ITM_TMP/agent-n1.log" ||
	itm_fail "n1 did not log the failure with OpenSSL's reason"
itm_exec h2 curl -sf --max-time 30 -o "$ITM_TMP/got2" "http://$ETUN_H1:8080/f1" ||
	itm_fail "download with the entry refused (fail-open) failed"
itm_assert_eq "$(sha256sum <"$ITM_TMP/got2")" "$(sha256sum <"$ITM_TMP/www/f1")" \
	"SHA-256 on the normal path"
itm_assert_ge "$(etun_counter n1 failopen)" 20 "packets the refused entry passed"
# The entry's side of the name check: a listener on n3 with a
# certificate of the same CA for node n2 stands for the exit; the entry
# (peer=n3) refuses it, counts it and logs both names.
itm_ctl n1 n1 module unload etunnel >/dev/null || itm_fail "unload the entry"
itm_bg n3 --name n2tls python3 -c '
import socket, ssl, sys
host, p = sys.argv[1:]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(p + "/ca.pem")
ctx.load_cert_chain(p + "/n2.pem", p + "/n2.key")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, 7802)); s.listen(8)
while True:
    c = s.accept()[0]
    try:
        t = ctx.wrap_socket(c, server_side=True); t.sendall(b"K"); t.close()
    except (ssl.SSLError, OSError):
        c.close()' "$ETUN_N3" "$P"
itm_wait_for 5 eval 'itm_exec n3 ss -Hltn "sport = :7802" | grep -q .' ||
	itm_fail "the n2 listener did not start"
etun_entry tcp=packet peer=n3 min_conns=1 max_conns=1 express=no port=7802 $(tls entry)
itm_wait_for 5 eval '[ "$(etun_counter n1 tls_refused)" -ge 1 ]' ||
	itm_fail "the entry did not refuse the exit named n2"
itm_assert_eq "$(etun_counter n1 conns)" 0 "connections up to the exit named n2"
grep -q "TLS with $ETUN_N3:7802 failed (1 so far): .*hostname mismatch; the peer is n3, its certificate names DNS:n2, CN=n2)" \
	"$ITM_TMP/agent-n1.log" || itm_fail "n1 did not log the name mismatch with both names"
# By address only (peer_addr, no peer): the certificate must name the
# address (subjectAltName IP); n2's names none.
itm_ctl n1 n1 module unload etunnel >/dev/null || itm_fail "unload the entry"
etun_entry tcp=packet min_conns=1 max_conns=1 express=no port=7802 $(tls entry)
itm_wait_for 5 eval '[ "$(etun_counter n1 tls_refused)" -ge 1 ]' ||
	itm_fail "the entry by address did not refuse the exit named n2"
grep -q "TLS with $ETUN_N3:7802 failed (1 so far): .*IP address mismatch; the peer is $ETUN_N3, its certificate names DNS:n2, CN=n2)" \
	"$ITM_TMP/agent-n1.log" || itm_fail "n1 did not log the address mismatch"
# Silent peers: a listener on n3 that never answers the entry's
# handshake, and a connection from n1 that never starts one at the exit.
# Both ends give up after 5 s, count it and say so.
itm_ctl n1 n1 module unload etunnel >/dev/null || itm_fail "unload the entry"
refused0=$(etun_counter n3 tls_refused)
itm_bg n3 --name silent python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7801)); s.listen(8)
held = []
while True:
    held.append(s.accept()[0])' "$ETUN_N3"
itm_wait_for 5 eval 'itm_exec n3 ss -Hltn "sport = :7801" | grep -q .' ||
	itm_fail "the silent listener did not start"
itm_bg n1 --name mute python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7800)); time.sleep(30)' "$ETUN_N3"
etun_entry tcp=packet peer=n3 min_conns=1 max_conns=1 express=no port=7801 $(tls entry)
itm_wait_for 9 eval '[ "$(etun_counter n1 tls_refused)" -ge 1 ]' ||
	itm_fail "the entry did not give up a silent handshake"
itm_wait_for 3 eval '[ "$(etun_counter n3 tls_refused)" -gt "$refused0" ]' ||
	itm_fail "the exit did not give up a silent connection"
# (n3 logged its first ten refusals already; n1's entry is a new one)
grep -q "TLS with $ETUN_N3:7801 failed (1 so far): handshake timed out" \
	"$ITM_TMP/agent-n1.log" || itm_fail "n1 did not log the handshake that timed out"
itm_log "ok"
