#!/bin/bash
# etunnel_basic: the elastic tunnel carries h1's traffic to h2 over its
# pool, intact (SHA-256), one transfer and several at once; nothing of it
# crosses r outside the pool.  Only the peer may connect to the exit; a
# frame with a packet outside the tunnel's prefixes is dropped and
# counted.  The exit's agent killed: traffic takes the normal path; back:
# the tunnel resumes by itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etun_lib.sh"
itm__need python3 curl iptables sha256sum
itm_init etunnel_basic
etun_topo

itm_agent_start n1 n1
itm_agent_start n3 n3
etun_exit tcp=packet
etun_entry tcp=packet min_conns=4 max_conns=4

itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = 4 ]' ||
	itm_fail "the pool did not come up: conns=$(etun_counter n1 conns)"

# Files served by h1, fetched by h2: the data flows h1 -> h2.
mkdir -p "$ITM_TMP/www"
for i in 1 2 3 4; do
	head -c $((4 * 1024 * 1024 + i * 777)) /dev/urandom >"$ITM_TMP/www/f$i"
done
itm_bg h1 --name http python3 -m http.server -b "$ETUN_H1" -d "$ITM_TMP/www" 8080
itm_wait_for 10 itm_exec h2 curl -sfo /dev/null "http://$ETUN_H1:8080/" ||
	itm_fail "http server not reachable"

# fetch N...: h2 downloads f<N> from h1, SHA-256 compared.
fetch() { etun_fetch h2 "$ETUN_H1" "$@"; }

plain0=$(etun_plain_pkts)
pool0=$(etun_pool_bytes)
fetch 1
fetch 1 2 3 4
plain=$(($(etun_plain_pkts) - plain0))
pool=$(($(etun_pool_bytes) - pool0))
itm_log "through r: $plain plain packets h1 -> h2, $pool bytes in the pool"
itm_assert_le "$plain" 0 "packets h1 -> h2 crossing r outside the tunnel"
itm_assert_ge "$pool" 21000000 "bytes of the pool crossing r (5 files, 21 MB)"
itm_assert_ge "$(etun_counter n3 pkts_out)" 10000 "packets re-injected by n3"
itm_assert_eq "$(etun_counter n3 frames_outside)" 0 "frames outside the prefixes"

# x is not the peer: its connection is reset before any frame is read.
out=$(itm_exec x python3 - "$ETUN_N3" <<'PY'
import socket, struct, sys
try:
    s = socket.create_connection((sys.argv[1], 7800), timeout=5)
    s.sendall(struct.pack("!HBBI", 0, 1, 2, 7))
    print("data" if s.recv(10) else "closed")
except ConnectionResetError:
    print("reset")
except ConnectionRefusedError:
    print("refused")
PY
)
[ "$out" = reset ] || [ "$out" = refused ] ||
	itm_fail "a connection from x to the exit: $out, expected reset"
itm_assert_ge "$(etun_counter n3 conns_refused)" 1 "connections refused at n3"

# From the peer's address: a frame for 10.X.9.9 (outside) is dropped and
# counted, one for h2 (inside) is re-injected.
itm_exec n3 iptables -A OUTPUT -d "10.$ITM_NETX.9.9" ||
	itm_fail "counter rule in n3"
itm_exec h2 iptables -A INPUT -p udp --dport 9999 || itm_fail "counter rule in h2"
etun_send_udp_frames "10.$ITM_NETX.9.9:9999" "$ETUN_H2:9999"
itm_wait_for 5 eval '[ "$(etun_counter n3 frames_outside)" = 1 ]' ||
	itm_fail "frames_outside: $(etun_counter n3 frames_outside), expected 1"
out=$(itm_exec n3 iptables -nvxL OUTPUT | awk '$8 ~ /10\..*\.9\.9/ { print $1 }')
itm_assert_eq "$out" 0 "packets to 10.X.9.9 sent by the exit"
itm_wait_for 5 eval '[ "$(itm_exec h2 iptables -nvxL INPUT | awk "/dpt:9999/ { print \$1 }")" = 1 ]' ||
	itm_fail "the frame for h2 was not re-injected"

# itmctl tunnels from each agent: the pool, the peer, the state.
out=$(itm_ctl n1 n1 tunnels) || itm_fail "itmctl tunnels on n1: $out"
itm_log "itmctl tunnels on n1:
$out"
itm_assert_match "$out" "n1 +t1 +entry +$ETUN_N3 +10.0M .* 4/4 \(4-4\)" "tunnels on n1"
out=$(itm_ctl n3 n3 -o json tunnels | python3 -c 'import json, sys
t = json.load(sys.stdin)["nodes"][0]["tunnels"][0]
print(t["side"], t["peer"], t["conns"], t["state_text"])')
itm_assert_eq "$out" "TUNNEL_EXIT $ETUN_N1 5 exit" "tunnels on n3 (json)"

# The exit's agent killed: the entry fails open, downloads take the
# normal path.  Back: the pool comes back by itself.
kill -KILL "${ITM_AGENT_PID[n3]}"
itm_wait_for 5 eval '[ "$(etun_counter n1 conns)" = 0 ]' ||
	itm_fail "the entry did not notice the exit's death"
plain0=$(etun_plain_bytes)
fetch 2
itm_assert_ge "$(($(etun_plain_bytes) - plain0))" 4000000 "plain bytes with the exit dead"
itm_assert_ge "$(etun_counter n1 failopen)" 50 "packets the entry passed (fail-open)"
itm_wait_for 5 eval 'itm_ctl n1 n1 tunnels | grep -q "peer down"' ||
	itm_fail "state with the exit dead: $(itm_ctl n1 n1 tunnels)"
itm_agent_start n3 n3
etun_exit tcp=packet
itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = 4 ]' ||
	itm_fail "the pool did not come back: conns=$(etun_counter n1 conns)"
plain0=$(etun_plain_pkts)
fetch 3
itm_assert_le "$(($(etun_plain_pkts) - plain0))" 0 "plain packets once the exit is back"
itm_log "ok"
