#!/bin/bash
# etunnel_topo: topo.yaml's `tunnels:` through the real controller
# (deploy/lab/lab.sh up --topo, tests/data/etunnel/topo.yaml: a line
# et1 - et2 - et3 and a tunnel from et1 to et3's overlay address).
#  - apply places etunnel on both ends (entry on et1, exit on et3, the
#    peer by node name, its address from the table); the pool comes up
#    between their underlay addresses and a transfer from et1 to et3
#    arrives intact (SHA-256) through it
#  - a bad declaration is refused with line and field, nothing stored,
#    the tunnel runs on
#  - a later generation changes the tunnel (reloaded with the new target
#    and match.proto/ports: proto= and ports= at both ends),
#    one adds tls: (both ends reloaded with the paths and the CRL, the
#    pool up under mutual TLS with each end's name checked, a transfer
#    intact), another removes it (unloaded on both ends)
. "$(dirname "$0")/lib.sh"
itm_init etunnel_topo
itm__need python3 sha256sum openssl

LAB_SH="$ITM_SRC/deploy/lab/lab.sh"
DATA="$ITM_SRC/tests/data/etunnel"
LAB="et$$"
export ITM_LAB_DIR="$ITM_TMP/labs"
STATE=$ITM_LAB_DIR/$LAB
itm_on_exit '"$LAB_SH" down -n "$LAB" >/dev/null 2>&1'

fail() {
	local f
	for f in "$STATE"/*.log; do
		[ -s "$f" ] && { echo "----- ${f##*/}"; tail -n 30 "$f"; } >&2
	done
	itm_fail "$@"
}
ctl() { "$LAB_SH" itmctl -n "$LAB" "$@"; }
lab() { local c=$1; shift; "$LAB_SH" "$c" -n "$LAB" "$@"; }

# params NODE: the etunnel parameters NODE's agent reports ("absent").
params() {
	ctl -o json module list "$1" | python3 -c 'import json, sys
d = json.load(sys.stdin)
d = d.get("list", d) or {}      # NodeModuleReply.list (through the controller)
mods = [m for m in d.get("modules", []) if m["name"] == "etunnel"]
print(" ".join(mods[0].get("params", [])) if mods else "absent")'
}

# counter NODE NAME: a counter of etunnel on NODE, through the controller.
counter() {
	ctl -o json stats "$1" --module etunnel | python3 -c '
import json, sys
def walk(o):
    if isinstance(o, dict):
        if o.get("name") == sys.argv[1] and "value" in o:
            yield o["value"]
        for v in o.values():
            yield from walk(v)
    elif isinstance(o, list):
        for v in o:
            yield from walk(v)
print(next(walk(json.load(sys.stdin)), "-"))' "$2"
}

lab up --topo "$DATA/topo.yaml" >"$ITM_TMP/up.out" 2>&1 ||
	fail "lab up failed: $(cat "$ITM_TMP/up.out")"
p1=$(params et1) p3=$(params et3)
itm_log "et1: $p1; et3: $p3"
for want in side=entry peer=et3 dst=10.63.1.3/32 target=20000 min_conns=2 max_conns=8; do
	[[ " $p1 " == *" $want "* ]] || fail "et1's etunnel lacks $want: $p1"
done
for want in side=exit peer=et1 dst=10.63.1.3/32; do
	[[ " $p3 " == *" $want "* ]] || fail "et3's etunnel lacks $want: $p3"
done
itm_wait_for 10 eval '[ "$(counter et1 conns)" = 2 ]' ||
	fail "the pool did not come up: conns=$(counter et1 conns)"

# itmctl tunnels through the controller: both ends, one row each.
out=$(ctl tunnels) || fail "itmctl tunnels: $out"
itm_log "itmctl tunnels:
$out"
itm_assert_match "$out" "et1 +t1 +entry +et3 +20.0M .* 2/2 \(2-8\)" "entry row"
itm_assert_match "$out" "et3 +t1 +exit +et1 " "exit row"
n=$(ctl -o json tunnels et3 | python3 -c 'import json, sys
print(sum(len(n["tunnels"]) for n in json.load(sys.stdin)["nodes"]))')
itm_assert_eq "$n" 1 "tunnels of et3 alone (json)"

# transfer: 3 MB et1 -> et3's overlay address, through the tunnel,
# compared by SHA-256.
transfer() {
	local out0 SRV
	out0=$(counter et3 bytes_out)
	head -c 3000000 /dev/urandom >"$ITM_TMP/blob"
	lab exec et3 python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.63.1.3", 5263)); s.listen(1)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    b = c.recv(65536)
    if not b: break
    h.update(b)
open(sys.argv[1], "w").write(h.hexdigest() + "\n")' "$ITM_TMP/got.sha" &
	SRV=$!
	itm_wait_for 5 lab exec et3 sh -c "ss -Hltn | grep -q ':5263 '" ||
		fail "sink did not start in et3"
	lab exec et1 python3 -c '
import socket, sys
s = socket.create_connection(("10.63.1.3", 5263), timeout=20)
s.sendall(open(sys.argv[1], "rb").read()); s.close()' "$ITM_TMP/blob" ||
		fail "transfer et1 -> et3 failed"
	wait "$SRV" || fail "sink failed"
	itm_assert_eq "$(cat "$ITM_TMP/got.sha")" \
		"$(sha256sum <"$ITM_TMP/blob" | cut -d' ' -f1)" \
		"SHA-256 of 3 MB et1 -> et3 ($1)"
	itm_assert_ge "$(($(counter et3 bytes_out) - out0))" 3000000 \
		"bytes re-injected by et3 ($1)"
}
transfer "plain"

# A bad declaration: refused with line and field, nothing stored.
gens() { ctl -o json topology history | python3 -c 'import json, sys
print(len(json.load(sys.stdin)["generations"]))'; }
g0=$(gens)
out=$(ctl topology apply "$DATA/topo-bad.yaml" 2>&1) && fail "bad file applied"
itm_assert_match "$out" "topo-bad.yaml:12: tunnels\[0\]\.between\[1\]: no node named 'et9'" "fault for et9"
itm_assert_match "$out" "topo-bad.yaml:13: tunnels\[0\]\.match\.dst\[0\]: host bits set" "fault for the prefix"
itm_assert_match "$out" "topo-bad.yaml:13: tunnels\[0\]\.match\.ports: protocol icmp has no ports" "fault for ports with icmp"
itm_assert_eq "$(gens)" "$g0" "generations after the bad file"
itm_assert_ge "$(counter et1 conns)" 2 "pool after the bad file"
[[ " $(params et1) " == *" target=20000 "* ]] || fail "et1 changed by the bad file: $(params et1)"

# Changed, then removed, by later generations.
ctl topology apply "$DATA/topo-changed.yaml" >"$ITM_TMP/apply2.out" 2>&1 ||
	fail "apply topo-changed: $(cat "$ITM_TMP/apply2.out")"
[[ " $(params et1) " == *" target=30000 "* ]] || fail "et1 not reloaded: $(params et1)"
for n in et1 et3; do # match.proto and match.ports: both ends
	[[ " $(params $n) " == *" proto=tcp ports=5263,5000-5100 "* ]] ||
		fail "$n lacks proto= and ports=: $(params $n)"
done
itm_wait_for 10 eval '[ "$(counter et1 conns)" -ge 3 ]' ||
	fail "pool of the changed tunnel: conns=$(counter et1 conns)"
# tls: in a later generation: both ends reloaded with the paths (one
# filesystem here: the same certificate for both, naming both nodes, as
# each end checks that the other's names its node; and the CA's CRL),
# the pool comes up under TLS, the transfer still arrives intact.
P=$ITM_TMP/pki
mkdir -p "$P"
printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s\ncrlnumber = %s\ndefault_md = sha256\ndefault_crl_days = 2\n' \
	"$P/index.txt" "$P/crlnumber" >"$P/ca.cnf"
: >"$P/index.txt"
echo 01 >"$P/crlnumber"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$P/ca.key" -out "$P/ca.pem" -subj /CN=ca -days 2 2>/dev/null &&
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$P/t.key" -out "$P/t.csr" -subj /CN=et \
	-addext subjectAltName=DNS:et1,DNS:et3 2>/dev/null &&
openssl x509 -req -in "$P/t.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" \
	-CAcreateserial -days 2 -copy_extensions copy -out "$P/t.pem" 2>/dev/null &&
openssl ca -config "$P/ca.cnf" -keyfile "$P/ca.key" -cert "$P/ca.pem" \
	-gencrl -out "$P/ca.crl" 2>/dev/null || fail "openssl"
{ cat "$DATA/topo-changed.yaml"
  echo "    tls: { ca: $P/ca.pem, cert: $P/t.pem, key: $P/t.key, crl: $P/ca.crl }"; } \
	>"$ITM_TMP/topo-tls.yaml"
ctl topology apply "$ITM_TMP/topo-tls.yaml" >"$ITM_TMP/apply-tls.out" 2>&1 ||
	fail "apply topo-tls: $(cat "$ITM_TMP/apply-tls.out")"
for n in et1 et3; do
	[[ " $(params $n) " == *" tls_ca=$P/ca.pem tls_cert=$P/t.pem tls_key=$P/t.key tls_crl=$P/ca.crl "* ]] ||
		fail "$n not reloaded with TLS: $(params $n)"
done
itm_wait_for 10 eval '[ "$(counter et1 conns)" -ge 3 ]' ||
	fail "pool under TLS: conns=$(counter et1 conns), tls_refused=$(counter et1 tls_refused)"
transfer "TLS"
itm_assert_eq "$(counter et3 tls_refused)" 0 "TLS refusals at et3"

ctl topology apply "$DATA/topo-none.yaml" >"$ITM_TMP/apply3.out" 2>&1 ||
	fail "apply topo-none: $(cat "$ITM_TMP/apply3.out")"
itm_assert_eq "$(params et1)" absent "etunnel on et1 after the tunnel is removed"
itm_assert_eq "$(params et3)" absent "etunnel on et3 after the tunnel is removed"
itm_log "ok"
