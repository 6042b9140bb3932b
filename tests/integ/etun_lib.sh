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
