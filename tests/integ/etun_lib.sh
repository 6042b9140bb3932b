# etun_lib.sh - the elastic tunnel's test topology, sourced after lib.sh.
#
#   h1 --- n1 ===== r ===== n3 --- h2        x --- r
#
# n1 is the tunnel's entry, n3 its exit; the pool's connections cross r,
# the only router between them (where a test shapes the bottleneck and
# counts what crosses); x is a host that is not the peer.  Addresses
# (X = ITM_NETX): h1 10.X.1.2, n1 10.X.1.1 / 10.X.2.1, r 10.X.2.2 /
# 10.X.3.1 / 10.X.5.1, n3 10.X.3.2 / 10.X.4.1, h2 10.X.4.2, x 10.X.5.2.
# The tunnel carries h1 -> 10.X.4.0/24.

etun_topo() {
	local x=$ITM_NETX n
	for n in h1 n1 r n3 h2 x; do itm_ns "$n"; done
	itm_link h1 n1 "10.$x.1.2/24" "10.$x.1.1/24"
	itm_link n1 r "10.$x.2.1/24" "10.$x.2.2/24"
	ETUN_R_DEV_N1=$ITM_LINK_DEV_B
	itm_link r n3 "10.$x.3.1/24" "10.$x.3.2/24"
	ETUN_R_DEV_N3=$ITM_LINK_DEV_A
	itm_link n3 h2 "10.$x.4.1/24" "10.$x.4.2/24"
	itm_link x r "10.$x.5.2/24" "10.$x.5.1/24"
	for n in n1 r n3; do itm_forwarding "$n"; done
	itm_route h1 default "10.$x.1.1"
	itm_route n1 default "10.$x.2.2"
	itm_route r "10.$x.1.0/24" "10.$x.2.1"
	itm_route r "10.$x.4.0/24" "10.$x.3.2"
	itm_route n3 default "10.$x.3.1"
	itm_route h2 default "10.$x.4.1"
	itm_route x default "10.$x.5.1"
	ETUN_H1=10.$x.1.2 ETUN_H2=10.$x.4.2 ETUN_X=10.$x.5.2
	ETUN_N1=10.$x.2.1 ETUN_N3=10.$x.3.2 ETUN_DST=10.$x.4.0/24
	# What crosses r from h1 to h2 outside the tunnel, and the pool.
	itm_exec r iptables -A FORWARD -s "$ETUN_H1" -d "$ETUN_H2" ||
		itm_fail "counter rule in r"
	itm_exec r iptables -A FORWARD -p tcp --dport 7800 ||
		itm_fail "counter rule in r"
}

# etun_mkcert NAME CA [SAN]: in $ITM_TMP/pki, an EC key NAME.key and a
# certificate NAME.pem (CN NAME, subjectAltName SAN) signed by CA (a
# self-signed CA when CA is -).
etun_mkcert() {
	local sign=() san=() P=$ITM_TMP/pki
	mkdir -p "$P"
	[ "$2" = - ] && sign=(-x509)
	[ -n "${3:-}" ] && san=(-addext "subjectAltName=$3")
	openssl req "${sign[@]}" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$P/$1.key" -subj "/CN=$1" -days 2 "${san[@]}" \
		-out "$P/$1.$([ "$2" = - ] && echo pem || echo csr)" 2>/dev/null ||
		itm_fail "openssl req $1"
	[ "$2" = - ] && return 0
	openssl x509 -req -in "$P/$1.csr" -CA "$P/$2.pem" -CAkey "$P/$2.key" \
		-CAcreateserial -days 2 -copy_extensions copy \
		-out "$P/$1.pem" 2>/dev/null || itm_fail "openssl x509 $1"
}

# etun_plain_pkts: packets h1 -> h2 that crossed r outside the tunnel.
etun_plain_pkts() {
	itm_exec r iptables -nvxL FORWARD | awk -v s="$ETUN_H1" \
		'$7 == s { print $1; exit }'
}

# etun_plain_bytes: their bytes.
etun_plain_bytes() {
	itm_exec r iptables -nvxL FORWARD | awk -v s="$ETUN_H1" \
		'$7 == s { print $2; exit }'
}

# etun_pool_bytes: bytes of the pool's connections that crossed r.
etun_pool_bytes() {
	itm_exec r iptables -nvxL FORWARD | awk '/dpt:7800/ { print $2; exit }'
}

# etun_counter NODE NAME: a counter of the etunnel module on NODE's agent.
etun_counter() {
	itm_ctl "$1" "$1" -o json stats --module etunnel | python3 -c '
import json, sys
c = {}
for m in json.load(sys.stdin)["modules"]:
    for k in m.get("counters", []):
        c[k["name"]] = k["value"]
print(c.get(sys.argv[1], "-"))
' "$2"
}

# etun_entry [PARAMS...] / etun_exit [PARAMS...]: load the two ends.
etun_entry() {
	itm_ctl n1 n1 module load etunnel side=entry "peer_addr=$ETUN_N3" \
		"local_addr=$ETUN_N1" "dst=$ETUN_DST" "$@" ||
		itm_fail "cannot load the entry"
}

etun_exit() {
	itm_ctl n3 n3 module load etunnel side=exit "peer_addr=$ETUN_N1" \
		"dst=$ETUN_DST" "$@" || itm_fail "cannot load the exit"
}

# etun_open_stream DST PORT: from n1's address, as the entry would, open
# a stream to DST:PORT at the exit (h1:40000 as the client) with a first
# DATA frame carrying "GET /"; waits up to 3 s for the exit's answer.
etun_open_stream() {
	itm_exec n1 python3 - "$ETUN_N1" "$ETUN_N3" "$1" "$ETUN_H1" "$2" <<'PY' ||
import socket, struct, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.connect((sys.argv[2], 7800))
addrs = socket.inet_aton(sys.argv[4]) + struct.pack("!H", 40000) + \
        socket.inet_aton(sys.argv[3]) + struct.pack("!H", int(sys.argv[5]))
body = struct.pack("!BBHQ", 1, 1, 0, 0) + addrs + b"GET /"
s.sendall(struct.pack("!HBBI", len(body), 1, 8, 4242) + body)
s.settimeout(3)
try:
    s.recv(100)
except OSError:
    pass
s.close()
PY
		itm_fail "cannot send a stream frame from n1's address"
}

# etun_fetch NODE HOST N...: NODE downloads $ITM_TMP/www/f<N> from the
# web server on HOST:8080, all at once, into $ITM_TMP/got<N>, and
# compares SHA-256.
etun_fetch() {
	local node=$1 host=$2 i pids=()
	shift 2
	for i in "$@"; do
		itm_exec "$node" curl -sf --max-time 60 -o "$ITM_TMP/got$i" \
			"http://$host:8080/f$i" & pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || itm_fail "download f${*:$((i + 1)):1} failed"
	done
	for i in "$@"; do
		itm_assert_eq "$(sha256sum <"$ITM_TMP/got$i")" \
			"$(sha256sum <"$ITM_TMP/www/f$i")" "SHA-256 of f$i at $node"
	done
}

# etun_sha_sink PORT: on h2 (its address), a server that reads each
# connection to its end and answers "SHA-256 PEER-ADDRESS" (log:
# $ITM_TMP/sink<PORT>.log).
etun_sha_sink() {
	itm_bg h2 --name "sink$1" python3 -c '
import hashlib, socket, sys, threading
def serve(c, a):
    h = hashlib.sha256()
    while b := c.recv(1 << 16):
        h.update(b)
    c.sendall(("%s %s\n" % (h.hexdigest(), a[0])).encode())
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
while True:
    threading.Thread(target=serve, args=s.accept()).start()
' "$ETUN_H2" "$1"
}

# etun_sha_send NODE PORT FILE [TIMEOUT]: FILE from NODE to
# etun_sha_sink's PORT on h2; prints its answer.
etun_sha_send() {
	itm_exec "$1" python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])),
                             timeout=float(sys.argv[4]))
with open(sys.argv[3], "rb") as f:
    s.sendfile(f)
s.shutdown(socket.SHUT_WR)
print(s.makefile().readline().strip())
' "$ETUN_H2" "$2" "$3" "${4:-60}"
}

# etun_send_udp_frames DST:PORT...: from n1's address, as the entry would,
# a HELLO and then one packet frame per DST:PORT, each a UDP datagram
# from 10.77.1.2:5555 (the exit decides what it re-injects).
etun_send_udp_frames() {
	itm_exec n1 python3 - "$ETUN_N1" "$ETUN_N3" "$@" <<'PY' ||
import socket, struct, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16)
    return ~((s & 0xffff) + (s >> 16)) & 0xffff
def udp(src, dst, port):
    body = b"etunnel"
    u = struct.pack("!HHHH", 5555, port, 8 + len(body), 0) + body + b"\0"
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 15, 1, 0, 64, 17, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + u[:-1]
s = socket.socket()
s.bind((sys.argv[1], 0))
s.connect((sys.argv[2], 7800))
s.sendall(struct.pack("!HBBI", 0, 1, 2, 99))
for i, to in enumerate(sys.argv[3:]):
    dst, port = to.rsplit(":", 1)
    p = udp("10.77.1.2", dst, int(port))
    s.sendall(struct.pack("!HBBI", len(p), 1, 0, i) + p)
s.close()
PY
		itm_fail "cannot send frames from n1's address"
}
