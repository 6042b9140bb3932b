#!/bin/bash
# etunnel_ports: a tunnel that carries only destination port 9000
# (ports=9000, protocols by default tcp and udp), split TCP.  A TCP
# connection h1 -> h2:9000 is split (a stream at the exit, no plain
# packet crosses r) and one to h2:8080 takes the normal path (plain
# packets at r, no stream, nothing stolen), both intact (SHA-256); the
# entry's tproxy rule names the port.  UDP to 9000 is stolen, to 9001 not.
# At the exit, from the peer's address: a stream to h2:8080 and a packet
# to h2:9001 (inside the prefixes, outside the ports) are refused and
# counted, a packet to h2:9000 is re-injected.  proto=icmp with ports is
# refused at load with the reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etun_lib.sh"
itm__need python3 curl iptables nft sha256sum
itm_init etunnel_ports
etun_topo

itm_agent_start n1 n1
itm_agent_start n3 n3
out=$(itm_ctl n1 n1 module load etunnel side=entry "peer_addr=$ETUN_N3" \
	"dst=$ETUN_DST" proto=icmp ports=80 2>&1) &&
	itm_fail "proto=icmp ports=80 loaded: $out"
itm_assert_match "$out" "ports: protocol icmp has no ports" "the load's error"
etun_exit ports=9000
etun_entry min_conns=2 max_conns=2 ports=9000
itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = 2 ]' ||
	itm_fail "the pool did not come up: conns=$(etun_counter n1 conns)"
itm_wait_for 5 eval 'itm_exec n1 nft list table ip itm_et_t1 | grep -q "dport 9000 .*tproxy to"' ||
	itm_fail "no tproxy rule for port 9000: $(itm_exec n1 nft list table ip itm_et_t1)"

# h2: a sink on 9000 that answers with the SHA-256 of what it read, a
# web server on 8080, counters of UDP to 9000 and 9001.
head -c $((1024 * 1024 + 333)) /dev/urandom >"$ITM_TMP/f"
mkdir -p "$ITM_TMP/www" && cp "$ITM_TMP/f" "$ITM_TMP/www/f"
etun_sha_sink 9000
itm_bg h2 --name http python3 -m http.server -b "$ETUN_H2" -d "$ITM_TMP/www" 8080
for p in 9000 9001; do
	itm_exec h2 iptables -A INPUT -p udp --dport $p || itm_fail "counter rule in h2"
done
udp_in() {
	itm_exec h2 iptables -nvxL INPUT | awk -v p="dpt:$1" '$NF == p { print $1 }'
}
itm_wait_for 10 itm_exec h1 curl -sfo /dev/null "http://$ETUN_H2:8080/" ||
	itm_fail "http server not reachable"
itm_wait_for 10 eval 'itm_exec h1 python3 -c "import socket; socket.create_connection((\"$ETUN_H2\", 9000), 2).close()"' ||
	itm_fail "sink not reachable"

streams0=$(etun_counter n3 streams_total)
plain0=$(etun_plain_pkts)
sum=$(etun_sha_send h1 9000 "$ITM_TMP/f" 30) ||
	itm_fail "upload to 9000 failed"
sum=${sum%% *} # (the sink adds the peer's address)
itm_assert_eq "$sum" "$(sha256sum <"$ITM_TMP/f" | cut -d' ' -f1)" "SHA-256 of the upload to 9000 at h2"
itm_assert_eq "$(($(etun_plain_pkts) - plain0))" 0 "plain packets h1 -> h2 of the connection to 9000"
itm_assert_eq "$(($(etun_counter n3 streams_total) - streams0))" 1 "streams at the exit for 9000"

streams0=$(etun_counter n3 streams_total)
plain0=$(etun_plain_pkts)
itm_exec h1 curl -sf --max-time 30 -o "$ITM_TMP/got" "http://$ETUN_H2:8080/f" ||
	itm_fail "download from 8080 failed"
itm_assert_eq "$(sha256sum <"$ITM_TMP/got")" "$(sha256sum <"$ITM_TMP/f")" "SHA-256 of the download from 8080"
itm_assert_ge "$(($(etun_plain_pkts) - plain0))" 10 "plain packets h1 -> h2 of the connection to 8080"
itm_assert_eq "$(($(etun_counter n3 streams_total) - streams0))" 0 "streams at the exit for 8080"
itm_assert_eq "$(etun_counter n1 pkts_in)" 0 "packets the entry stole (TCP)"

# UDP: the interest takes port 9000 only.
itm_exec h1 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in (9000, 9001):
    s.sendto(b"etunnel", (sys.argv[1], p))
' "$ETUN_H2" || itm_fail "cannot send UDP from h1"
itm_wait_for 5 eval '[ "$(udp_in 9000)" = 1 ] && [ "$(udp_in 9001)" = 1 ]' ||
	itm_fail "UDP at h2: 9000: $(udp_in 9000), 9001: $(udp_in 9001)"
itm_assert_eq "$(etun_counter n1 pkts_in)" 1 "packets the entry stole (UDP to 9000)"

# From the peer's address: a stream to h2:8080 is refused, nothing
# leaves the exit towards 8080.
itm_exec n3 iptables -A OUTPUT -p tcp -d "$ETUN_H2" --dport 8080 ||
	itm_fail "counter rule in n3"
refused0=$(etun_counter n3 streams_refused)
outside0=$(etun_counter n3 frames_outside)
etun_open_stream "$ETUN_H2" 8080
itm_wait_for 5 eval '[ "$(etun_counter n3 streams_refused)" = $((refused0 + 1)) ]' ||
	itm_fail "streams_refused: $(etun_counter n3 streams_refused)"
itm_assert_eq "$(($(etun_counter n3 frames_outside) - outside0))" 1 "frames outside at the exit (the stream)"
out=$(itm_exec n3 iptables -nvxL OUTPUT | awk '/dpt:8080/ { print $1 }')
itm_assert_eq "$out" 0 "packets to h2:8080 sent by the exit"

# Packet frames: UDP to h2:9001 dropped and counted, to h2:9000 re-injected.
etun_send_udp_frames "$ETUN_H2:9001" "$ETUN_H2:9000"
itm_wait_for 5 eval '[ "$(udp_in 9000)" = 2 ]' ||
	itm_fail "the frame for h2:9000 was not re-injected: $(udp_in 9000)"
itm_assert_eq "$(($(etun_counter n3 frames_outside) - outside0))" 2 "frames outside at the exit (the stream, UDP to 9001)"
itm_assert_eq "$(udp_in 9001)" 1 "UDP at h2:9001 (only h1's own)"
itm_log "ok"
