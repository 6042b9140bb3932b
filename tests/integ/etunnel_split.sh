#!/bin/bash
# etunnel_split: split TCP (tcp=split).  h1's TCP connections to h2 end at
# the entry n1 (TPROXY) and their bytes ride the pool to the exit n3,
# which connects to h2 with h1's address: an upload and a download
# arrive intact (SHA-256), one and four at once; h2 sees h1 as the peer;
# no user TCP packet h1 -> h2 crosses r outside the pool.  The exit opens
# nothing outside the tunnel's prefixes.  The exit's agent killed: new
# connections take the normal path; back: split again.  The rules are
# gone after an unload; after the entry's agent is killed, what it left
# lets new connections take the normal path (fail-open), and the next
# load replaces it.  Over a pool with
# mutual TLS: an upload and a download intact.  The first 29 kB of each
# stream ride the express connection (TOS 0x10).  max_streams: a
# connection beyond it is reset.  stream_mem_mb: four streams sharing
# less than their windows all arrive, and the reads waited.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/etun_lib.sh"
itm__need python3 curl iptables nft ip ss sha256sum openssl
itm_init etunnel_split
etun_topo

itm_agent_start n1 n1
itm_agent_start n3 n3
etun_exit
etun_entry min_conns=4 max_conns=4

itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = 4 ]' ||
	itm_fail "the pool did not come up: conns=$(etun_counter n1 conns)"

# On a failure: both ends' stream counters in the log.
split_counters() {
	local n k
	for n in n1 n3; do
		for k in streams_open streams_total stream_bytes_read \
			stream_bytes_written stream_bytes_acked streams_refused stream_resets \
			frames_bad conns stalls; do
			printf '%s %s=%s\n' "$n" "$k" "$(etun_counter $n $k)"
		done
	done
}
itm_on_exit 'itm_log "counters: $(split_counters 2>&1 | tr "\n" " ")"'

# split_rules NODE: tproxy rules, transparent-socket marks, fwmark rules.
split_rules() {
	local n t s r
	n=$(itm_exec "$1" nft list table ip itm_et_t1 2>/dev/null)
	t=$(grep -c 'tproxy to :' <<<"$n")
	s=$(grep -c 'socket transparent 1' <<<"$n")
	r=$(itm_exec "$1" ip rule list | grep -c 'fwmark 0x1000/0x1000')
	echo "$t $s $r"
}
itm_wait_for 5 eval '[ "$(split_rules n1)" = "1 1 1" ]' ||
	itm_fail "entry's rules with the pool up: $(split_rules n1)"
itm_assert_eq "$(split_rules n3)" "0 1 1" "exit's rules"

# h2: a sink that answers each connection with the SHA-256 of what it
# read and the peer's address, and a web server for downloads.
mkdir -p "$ITM_TMP/www"
for i in 1 2 3 4; do
	head -c $((3 * 1024 * 1024 + i * 777)) /dev/urandom >"$ITM_TMP/www/f$i"
done
etun_sha_sink 9000
itm_bg h2 --name http python3 -m http.server -b "$ETUN_H2" -d "$ITM_TMP/www" 8080
itm_wait_for 10 itm_exec h1 curl -sfo /dev/null "http://$ETUN_H2:8080/" ||
	itm_fail "http server not reachable through the tunnel"

# upload N...: send f<N> to the sink, compare its SHA-256 and the peer.
upload() {
	local i pids=()
	for i in "$@"; do
		etun_sha_send h1 9000 "$ITM_TMP/www/f$i" >"$ITM_TMP/up$i" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || itm_fail "upload f${*:$((i + 1)):1} failed"
	done
	for i in "$@"; do
		itm_assert_eq "$(cat "$ITM_TMP/up$i")" \
			"$(sha256sum <"$ITM_TMP/www/f$i" | cut -d' ' -f1) $ETUN_H1" \
			"SHA-256 of f$i at h2, and the peer h2 saw"
	done
}

# download N...: h1 fetches f<N> from h2 (the bytes flow h2 -> h1).
download() { etun_fetch h1 "$ETUN_H2" "$@"; }

# What of the pool crosses r with TOS 0x10: the express connection, which
# carries the first short_kb (29 kB) of each stream (the SHORT class).
itm_exec r iptables -A FORWARD -p tcp --dport 7800 -m tos --tos 0x10/0x10 ||
	itm_fail "TOS counter rule in r"
express_bytes() {
	itm_exec r iptables -nvxL FORWARD | awk '/tos match0x10/ { print $2; exit }'
}
plain0=$(etun_plain_pkts)
pool0=$(etun_pool_bytes)
express0=$(express_bytes)
total0=$(etun_counter n3 streams_total)
resets0=$(etun_counter n1 stream_resets)
declare -A read0 acked0
for n in n1 n3; do
	read0[$n]=$(etun_counter $n stream_bytes_read)
	acked0[$n]=$(etun_counter $n stream_bytes_acked)
done
upload 1
upload 1 2 3 4
download 1
download 1 2 3 4
plain=$(($(etun_plain_pkts) - plain0))
pool=$(($(etun_pool_bytes) - pool0))
express=$(($(express_bytes) - express0))
itm_log "express (SHORT) bytes in the pool: $express"
itm_assert_ge "$express" 16000 "bytes of the SHORT class on the express connection"
itm_assert_le "$express" $((pool / 10)) "the SHORT class's share of the pool (the first 29 kB of 10 streams)"
itm_log "through r: $plain plain packets h1 -> h2, $pool bytes in the pool (n1 -> n3)"
itm_assert_le "$plain" 0 "user packets h1 -> h2 crossing r outside the pool"
itm_assert_ge "$pool" 15700000 "bytes of the pool crossing r (5 uploads of 3 MB)"
itm_log "streams at the exit: $total0 before, $(etun_counter n3 streams_total) after"
itm_assert_ge "$(($(etun_counter n3 streams_total) - total0))" 10 "streams at the exit"
itm_assert_ge "$(etun_counter n3 stream_bytes_read)" 15700000 "bytes the exit read from h2 (5 downloads of 3 MB)"
# Every byte one end read from its user during the transfers the other
# end delivered and acknowledged (the controller's goodput counts these,
# not what the pool's TCP acknowledged).
up=0
for i in 1 1 2 3 4; do up=$((up + $(stat -c %s "$ITM_TMP/www/f$i"))); done
for n in n1 n3; do
	itm_wait_for 5 eval '[ $(($(etun_counter $n stream_bytes_acked) - ${acked0[$n]})) = $(($(etun_counter $n stream_bytes_read) - ${read0[$n]})) ]' ||
		itm_fail "$n: stream_bytes_acked $(etun_counter $n stream_bytes_acked) - ${acked0[$n]}, stream_bytes_read $(etun_counter $n stream_bytes_read) - ${read0[$n]}"
done
itm_assert_ge "$(($(etun_counter n1 stream_bytes_acked) - ${acked0[n1]}))" "$up" "bytes of the uploads the exit acknowledged"
itm_assert_eq "$(etun_counter n1 pkts_in)" 0 "packets the entry stole"
itm_assert_eq "$(($(etun_counter n1 stream_resets) - resets0))" 0 "streams reset at the entry"

# ss at h2: a connection held open shows h1's address as the peer.
itm_exec h1 python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 9000), timeout=10)
time.sleep(3)
' "$ETUN_H2" & held=$!
itm_wait_for 3 eval 'itm_exec h2 ss -tnH state established "( sport = :9000 )" | grep -q "$ETUN_H1:"' ||
	itm_fail "h2 does not see h1 as the peer: $(itm_exec h2 ss -tn)"
wait "$held"

# From the peer's address: a stream towards 10.X.9.9 (outside) is refused
# and counted; the exit opens nothing.
itm_exec n3 iptables -A OUTPUT -p tcp -d "10.$ITM_NETX.9.9" ||
	itm_fail "counter rule in n3"
refused0=$(etun_counter n3 streams_refused)
etun_open_stream "10.$ITM_NETX.9.9" 80
itm_wait_for 5 eval '[ "$(etun_counter n3 streams_refused)" = $((refused0 + 1)) ]' ||
	itm_fail "streams_refused: $(etun_counter n3 streams_refused)"
out=$(itm_exec n3 iptables -nvxL OUTPUT | awk '$8 ~ /10\..*\.9\.9/ { print $1 }')
itm_assert_eq "$out" 0 "packets to 10.X.9.9 sent by the exit"

# The exit's agent killed: the entry's rules go, new connections take the
# normal path.  Back: split again.
pid=${ITM_AGENT_PID[n3]}
kill -KILL "$pid"
itm_wait_for 5 eval '! kill -0 "$pid" 2>/dev/null' || itm_fail "n3's agent did not die"
itm_wait_for 5 eval '[ "$(etun_counter n1 conns)" = 0 ]' ||
	itm_fail "the entry did not notice the exit's death"
itm_wait_for 5 eval '[ "$(split_rules n1)" = "0 0 0" ]' ||
	itm_fail "entry's rules with the pool down: $(split_rules n1)"
plain0=$(etun_plain_bytes)
download 2
upload 2
itm_assert_ge "$(($(etun_plain_bytes) - plain0))" 3000000 "plain bytes h1 -> h2 with the exit dead"
itm_agent_start n3 n3
itm_assert_eq "$(split_rules n3)" "0 1 1" "exit's rules after kill -9 and a restart (left, harmless)"
etun_exit
itm_assert_eq "$(split_rules n3)" "0 1 1" "exit's rules loaded again (once)"
itm_wait_for 10 eval '[ "$(etun_counter n1 conns)" = 4 ]' ||
	itm_fail "the pool did not come back: conns=$(etun_counter n1 conns)"
itm_wait_for 5 eval '[ "$(split_rules n1)" = "1 1 1" ]' ||
	itm_fail "entry's rules with the pool back: $(split_rules n1)"
plain0=$(etun_plain_pkts)
download 3
upload 3
itm_assert_le "$(($(etun_plain_pkts) - plain0))" 0 "plain packets once the exit is back"

# The entry's agent killed: its rules stay, but with no listener the
# tproxy rule does not match: a new connection takes the normal path
# (iptables' TPROXY target would drop its SYN).  Started again, the next
# load replaces them; an unload leaves nothing.
pid=${ITM_AGENT_PID[n1]}
kill -KILL "$pid"
itm_wait_for 5 eval '! kill -0 "$pid" 2>/dev/null' || itm_fail "n1's agent did not die"
itm_assert_eq "$(split_rules n1)" "1 1 1" "entry's rules after kill -9"
plain0=$(etun_plain_bytes)
upload 1
itm_assert_ge "$(($(etun_plain_bytes) - plain0))" 3000000 "plain bytes h1 -> h2 with the entry's agent dead"
itm_agent_start n1 n1
etun_entry min_conns=4 max_conns=4
itm_wait_for 10 eval '[ "$(split_rules n1)" = "1 1 1" ]' ||
	itm_fail "entry's rules loaded again: $(split_rules n1)"
download 4
itm_ctl n1 n1 module unload etunnel || itm_fail "unload at n1"
itm_ctl n3 n3 module unload etunnel || itm_fail "unload at n3"
for n in n1 n3; do
	itm_assert_eq "$(split_rules $n)" "0 0 0" "$n's rules after the unload"
	itm_assert_eq "$(itm_exec $n ip route show table 7800)" "" "$n's table 7800"
done

# Over mutual TLS, with 4 kB send buffers and 16 kB chunks (SSL_write
# waits for the socket; with the default 4 kB chunks a record fits and
# it rarely does): an upload and a download intact.
P=$ITM_TMP/pki
etun_mkcert ca -
# one certificate for both ends, naming both addresses (the ends know
# each other by peer_addr)
etun_mkcert t ca "IP:$ETUN_N1,IP:$ETUN_N3"
tls=("tls_ca=$P/ca.pem" "tls_cert=$P/t.pem" "tls_key=$P/t.key" sndbuf_kb=4
	chunk_kb=16)
etun_exit "${tls[@]}"
etun_entry min_conns=2 max_conns=2 "${tls[@]}"
itm_wait_for 10 eval '[ "$(split_rules n1)" = "1 1 1" ]' ||
	itm_fail "the TLS pool did not come up: conns=$(etun_counter n1 conns)"
plain0=$(etun_plain_pkts)
upload 1 2
download 1 2
itm_assert_le "$(($(etun_plain_pkts) - plain0))" 0 "plain packets over the TLS pool"
itm_assert_ge "$(etun_counter n1 tls_write_waits)" 1 "the entry's SSL_write waited"

# max_streams=1: while one connection is split, a second is reset and
# counted.
itm_ctl n1 n1 module unload etunnel >/dev/null || itm_fail "unload at n1"
etun_entry min_conns=2 max_conns=2 max_streams=1 "${tls[@]}"
itm_wait_for 10 eval '[ "$(split_rules n1)" = "1 1 1" ]' ||
	itm_fail "the pool did not come back: conns=$(etun_counter n1 conns)"
out=$(itm_exec h1 python3 - "$ETUN_H2" 2>&1 <<'PY'
import socket, sys
a = socket.create_connection((sys.argv[1], 9000), timeout=5)
a.sendall(b"held")
try:
    b = socket.create_connection((sys.argv[1], 9000), timeout=5)
    b.sendall(b"x")
    b.shutdown(socket.SHUT_WR)
    print("second:", b.recv(100) or b"closed")
except TimeoutError:
    print("second: timed out")
except OSError:  # ECONNRESET, EPIPE or ENOTCONN: where the reset found it
    print("second: reset")
a.shutdown(socket.SHUT_WR)
print("first:", len(a.recv(100)) > 64)
PY
)
itm_assert_eq "$out" "second: reset
first: True" "two connections with max_streams=1"
itm_assert_ge "$(etun_counter n1 streams_refused)" 1 "streams refused at the entry"

# stream_mem_mb=1 below four streams' windows (stream_kb=512 each): the
# streams share the megabyte, one that finds none waits until another's
# bytes are acknowledged; all four arrive intact.
itm_ctl n1 n1 module unload etunnel >/dev/null || itm_fail "unload at n1"
etun_entry min_conns=2 max_conns=2 stream_kb=512 stream_mem_mb=1 "${tls[@]}"
itm_wait_for 10 eval '[ "$(split_rules n1)" = "1 1 1" ]' ||
	itm_fail "the pool did not come back: conns=$(etun_counter n1 conns)"
upload 1 2 3 4
itm_assert_ge "$(etun_counter n1 stream_mem_waits)" 1 "reads held by stream_mem_mb"
itm_log "ok"
