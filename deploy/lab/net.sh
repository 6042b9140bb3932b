# net.sh - the network between a lab's nodes: namespace itmlab-NAME-_net,
# where every packet from one node to another passes, so that its delay,
# loss and cuts happen in one place.  Sourced by lab.sh.
#
# Two shapes:
#
#   links    (lab.sh up [--spec], and up --topo without --underlay) each
#            link A - B is a bridge l<K> in _net with two ports, l<K>a
#            (veth to A's device to-B) and l<K>b (to B's to-A): the nodes
#            see a plain point-to-point link.  The paths are the links'
#            two directions; their base delay is the link's delay.
#   router   (lab.sh up --topo --underlay: "the Internet") one veth per
#            node, ul0 in the node and u<I> in _net, routed by _net;
#            every ordered pair of nodes is a path, its base delay the
#            underlay's (topo_plan.py).  Only the nodes' Internet
#            addresses (mgmt, underlay, the controller's) are routed:
#            overlay addresses are not, as on the Internet.
#
# Each path (one direction between two nodes) is a chain of _net's filter
# table, rebuilt whole and atomically (iptables-restore --noflush) from its
# base delay and its impairments: a cut drops everything, loss drops at
# random (-m statistic), and the delay sets the packet's mark to the wait
# in microseconds and queues it to the one delay line of the lab
# (itm-delay --from-mark on queue NET_QUEUE).  Holding packets in _net,
# between the nodes, delays both directions of a node's own traffic as
# they should be: a node's packet is no longer charged to its socket
# (TCP's small queues do not throttle), and the receiver timestamps it
# only once it arrives (ping's RTT is the real one).
#
# A path may also have a bandwidth (router shape with --shape): an HTB
# class on the router's port towards B for what comes from A, chosen by
# the chain (-j CLASSIFY).
#
# State in $ITM_TMP/net: shape, paths ("A B CHAIN BASE_US CLASS/RATE|-"
# per direction), impair/A-B ("DELAY_US LOSS_PCT DOWN" of the path A -> B),
# lock.
# shellcheck shell=bash

NET_NODE=_net
NET_QUEUE=1		# NFQUEUE number of the delay line, in _net
NET_GW=169.254.0.1	# the router's address on every port (router shape)
NET_LINKS=0		# links made so far

net_dir() { echo "$ITM_TMP/net"; }
net_ns() { itm_nsname "$NET_NODE"; }
net_exec() { ip netns exec "$(net_ns)" "$@"; }

# net_create SHAPE: the namespace, forwarding, the delay line.
net_create() {
	local bin
	mkdir -p "$(net_dir)/impair" || itm_fail "cannot create $(net_dir)"
	echo "$1" >"$(net_dir)/shape"
	: >"$(net_dir)/paths"
	itm_ns "$NET_NODE"
	net_exec sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.default.send_redirects=0 >/dev/null ||
		itm_fail "cannot set up forwarding in $(net_ns)"
	# Bridged packets go through iptables (the links shape).
	net_exec sysctl -qw net.bridge.bridge-nf-call-iptables=1 >/dev/null 2>&1
	bin=$(itm_delay_bin)
	[ -n "$bin" ] || itm_fail "itm-delay is not built ($ITM_BUILD/deploy/tools/itm-delay)"
	itm_bg "$NET_NODE" --name delayline "$bin" --queue "$NET_QUEUE" \
		--from-mark
	echo "$ITM_LAST_PID" >"$(net_dir)/delayline.pid"
	itm_wait_for 5 itm__queue_bound "$NET_NODE" "$NET_QUEUE" ||
		itm_fail "itm-delay did not bind queue $NET_QUEUE in $(net_ns)"
}

net_shape() { cat "$(net_dir)/shape" 2>/dev/null; }

# ---------------------------------------------------------------------
# The links shape
# ---------------------------------------------------------------------

# net_link A B DELAY_US [ADDR_A/LEN ADDR_B/LEN]: link A - B through a
# bridge of _net (as itm_link: sets ITM_LINK_DEV_A and ITM_LINK_DEV_B).
net_link() {
	local a=$1 b=$2 base=$3 k da db br
	k=$((NET_LINKS + 1))
	NET_LINKS=$k
	br=l$k
	da=$(itm__free_dev "$a" "$b")
	db=$(itm__free_dev "$b" "$a")
	net_exec ip link add "$br" type bridge &&
	net_exec ip link set "$br" up &&
	ip -n "$(itm_nsname "$a")" link add "$da" type veth peer name "${br}a" \
		netns "$(net_ns)" &&
	ip -n "$(itm_nsname "$b")" link add "$db" type veth peer name "${br}b" \
		netns "$(net_ns)" &&
	net_exec ip link set "${br}a" master "$br" up &&
	net_exec ip link set "${br}b" master "$br" up &&
	ip -n "$(itm_nsname "$a")" link set "$da" up &&
	ip -n "$(itm_nsname "$b")" link set "$db" up ||
		itm_fail "cannot link $a:$da -- $b:$db through $(net_ns)"
	if [ -n "${4:-}" ]; then
		ip -n "$(itm_nsname "$a")" addr add "$4" dev "$da" &&
		ip -n "$(itm_nsname "$b")" addr add "$5" dev "$db" ||
			itm_fail "cannot add addresses $4 $5"
	fi
	printf '%s %s L%sa %s -\n%s %s L%sb %s -\n' "$a" "$b" "$k" "$base" \
		"$b" "$a" "$k" "$base" >>"$(net_dir)/paths"
	# shellcheck disable=SC2034  # for the caller, as itm_link
	ITM_LINK_DEV_A=$da
	# shellcheck disable=SC2034
	ITM_LINK_DEV_B=$db
}

# The jumps of the links shape: a packet entering bridge port l<K>a goes
# from A to B.
net__link_jumps() {
	local k
	for ((k = 1; k <= NET_LINKS; k++)); do
		echo "-A FORWARD -m physdev --physdev-in l${k}a -j L${k}a"
		echo "-A FORWARD -m physdev --physdev-in l${k}b -j L${k}b"
	done
}

# ---------------------------------------------------------------------
# The router shape
# ---------------------------------------------------------------------

# net_router_port NODE I DEV ADDR...: NODE's DEV (in NODE) to port u<I>
# of the router (DEV c0 for the controller: I = c).  ADDRs are NODE's
# Internet addresses, the first one its source by default; the node's
# default route goes through the router.
net_router_port() {
	local node=$1 i=$2 dev=$3 ns port=u$2 a
	shift 3
	ns=$(itm_nsname "$node")
	[ "$i" = c ] && port=c0
	ip -n "$ns" link add "$dev" type veth peer name "$port" \
		netns "$(net_ns)" &&
	ip -n "$ns" link set "$dev" up &&
	net_exec ip link set "$port" up &&
	net_exec ip addr add "$NET_GW/32" dev "$port" ||
		itm_fail "cannot connect $node to the router $(net_ns)"
	for a in "$@"; do
		ip -n "$ns" addr add "$a/32" dev "$dev" &&
		net_exec ip route add "$a/32" dev "$port" src "$NET_GW" ||
			itm_fail "cannot give $node its Internet address $a"
	done
	ip -n "$ns" route add default via "$NET_GW" dev "$dev" onlink src "$1" ||
		itm_fail "cannot route $node's Internet traffic to the router"
}

# net_router_paths "A I B J BASE_MS RATE|-"...: the path chains between
# every ordered pair of nodes (I, J: their port numbers); RATE (tc units)
# limits each direction with an HTB class on the port it leaves by.
net_router_paths() {
	local p a i b j ms rate
	for p in "$@"; do
		read -r a i b j ms rate <<<"$p"
		printf '%s %s P%s-%s %s %s\n%s %s P%s-%s %s %s\n' \
			"$a" "$b" "$i" "$j" $((ms * 1000)) \
			"$(net__class "$j" "$i" "${rate:--}")" \
			"$b" "$a" "$j" "$i" $((ms * 1000)) \
			"$(net__class "$i" "$j" "${rate:--}")" >>"$(net_dir)/paths"
	done
}

# net__class J I RATE: an HTB class on port u<J> for what comes from node
# I, limited to RATE; prints "ID/RATE" (ID 1:<I in hex>), or "-".
net__class() {
	local port=u$1 id
	[ "$3" != - ] || { echo -; return 0; }
	id=1:$(printf '%x' "$2")
	net_exec tc qdisc show dev "$port" | grep -q "htb 1:" ||
		net_exec tc qdisc replace dev "$port" root handle 1: htb ||
		itm_fail "cannot shape the router's port $port"
	net_exec tc class add dev "$port" parent 1: classid "$id" htb \
		rate "$3" ceil "$3" quantum 1514 ||
		itm_fail "cannot shape the path into $port from node $2 to $3"
	echo "$id/$3"
}

# The jumps of the router shape: FORWARD -> F<I> by in-port, then the
# path chain by out-port: 2N rules at most per packet, not N^2.
net__router_jumps() {
	local a b c i j
	while read -r a b c _; do
		i=${c#P}; i=${i%-*}
		echo "$i"
	done <"$(net_dir)/paths" | sort -un | while read -r i; do
		echo ":F$i - [0:0]"
		echo "-A FORWARD -i u$i -j F$i"
	done
	while read -r a b c _; do
		i=${c#P}; i=${i%-*}; j=${c#*-}
		echo "-A F$i -o u$j -j $c"
	done <"$(net_dir)/paths"
}

# ---------------------------------------------------------------------
# Path chains
# ---------------------------------------------------------------------

# net__chain CHAIN A B BASE_US CLASS: the rules of path A -> B's chain
# (for iptables-restore, the chain declared before), from its impairments.
net__chain() {
	local c=$1 a=$2 b=$3 base=$4 cls=$5 extra=0 loss=0 down=0 us
	[ -r "$(net_dir)/impair/$a-$b" ] &&
		read -r extra loss down <"$(net_dir)/impair/$a-$b"
	us=$((base + extra))
	[ "$cls" = - ] || echo "-A $c -j CLASSIFY --set-class ${cls%/*}"
	[ "$down" = 1 ] &&
		echo "-A $c -m comment --comment \"$a>$b down\" -j DROP"
	[ "$loss" != 0 ] &&
		echo "-A $c -m statistic --mode random --probability" \
			"$(awk -v p="$loss" 'BEGIN { printf "%.6f", p / 100 }')" \
			"-m comment --comment \"$a>$b loss $loss%\" -j DROP"
	if [ "$us" -gt 0 ]; then
		echo "-A $c -j MARK --set-mark $us"
		echo "-A $c -m comment --comment \"$a>$b delay ${us}us\"" \
			"-j NFQUEUE --queue-num $NET_QUEUE --queue-bypass"
	fi
	return 0
}

# net__chains PATHLINES: "*filter", the chains of the paths given (each
# declared, so emptied first), without COMMIT.
net__chains() {
	local a b c base cls
	echo "*filter"
	while read -r a b c base cls; do
		[ -n "$c" ] && echo ":$c - [0:0]"
	done <<<"$1"
	while read -r a b c base cls; do
		[ -n "$c" ] && net__chain "$c" "$a" "$b" "$base" "$cls"
	done <<<"$1"
}

# net_commit: every path chain and the jumps to them, in one transaction
# (once, at bring-up).
net_commit() {
	{
		net__chains "$(cat "$(net_dir)/paths")"
		case $(net_shape) in
		links) net__link_jumps ;;
		router) net__router_jumps ;;
		esac
		echo "COMMIT"
	} | net_exec iptables-restore --noflush ||
		itm_fail "cannot install the paths' rules in $(net_ns)"
}

# net_paths_of A B [ONEWAY]: "A B CHAIN BASE" of path A -> B (and B -> A
# unless ONEWAY); nothing when A and B have no path.
net_paths_of() {
	awk -v a="$1" -v b="$2" -v one="${3:-}" \
		'($1 == a && $2 == b) || (!one && $1 == b && $2 == a)' \
		"$(net_dir)/paths"
}

# net_rebuild PATHLINES: rebuild the chains of the paths given, together.
net_rebuild() {
	{ net__chains "$1"; echo "COMMIT"; } | net_exec iptables-restore --noflush
}

# ---------------------------------------------------------------------
# Impairments (lab.sh impair)
# ---------------------------------------------------------------------

# net__us TEXT: NUMBER[us|ms|s] in microseconds (rounded), or fail.
net__us() {
	[[ $1 =~ ^([0-9]+(\.[0-9]+)?)(us|ms|s)$ ]] || return 1
	awk -v v="${BASH_REMATCH[1]}" -v u="${BASH_REMATCH[3]}" 'BEGIN {
		m = u == "s" ? 1000000 : u == "ms" ? 1000 : 1
		printf "%d", v * m + 0.5 }'
}

# net__loss TEXT: P% (or P) with 0 <= P <= 100, as P; or fail.
net__loss() {
	local p=${1%\%}
	[[ $p =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 1
	awk -v p="$p" 'BEGIN { exit !(p <= 100) }' || return 1
	awk -v p="$p" 'BEGIN { printf "%g", p }'
}

# net__settings SETTING...: check them all; print "key value" lines.
net__settings() {
	local s v errs=0
	[ $# -gt 0 ] || { echo "lab.sh: impair: what? (delay=D loss=P% down up clear)" >&2; return 2; }
	for s in "$@"; do
		case $s in
		delay=*) v=$(net__us "${s#delay=}") && [ "$v" -le 60000000 ] &&
				echo "delay $v" ||
				{ echo "lab.sh: impair: '$s': want delay=NUMBER(us|ms|s), at most 60s" >&2; errs=1; } ;;
		loss=*) v=$(net__loss "${s#loss=}") && echo "loss $v" ||
				{ echo "lab.sh: impair: '$s': want loss=P% with P from 0 to 100" >&2; errs=1; } ;;
		down|up|clear) echo "$s -" ;;
		*) echo "lab.sh: impair: unknown setting '$s' (delay=D loss=P% down up clear)" >&2
		   errs=1 ;;
		esac
	done
	[ "$errs" = 0 ] || return 2
}

# net__impair_one A B SETTINGLINES: new state of path A -> B.
net__impair_one() {
	local f extra=0 loss=0 down=0 k v
	f="$(net_dir)/impair/$1-$2"
	[ -r "$f" ] && read -r extra loss down <"$f"
	while read -r k v; do
		case $k in
		delay) extra=$v ;;
		loss) loss=$v ;;
		down) down=1 ;;
		up) down=0 ;;
		clear) extra=0 loss=0 down=0 ;;
		esac
	done <<<"$3"
	if [ "$extra$loss$down" = 000 ]; then
		rm -f "$f"
	else
		echo "$extra $loss $down" >"$f"
	fi
}

# net_impair A B [--oneway] SETTING...: see lab.sh impair.
net_impair() {
	local a=$1 b=$2 one="" paths set pa pb c base
	shift 2
	[ "${1:-}" = --oneway ] && { one=1; shift; }
	paths=$(net_paths_of "$a" "$b" "$one")
	if [ -z "$paths" ]; then
		[ "$(net_shape)" = router ] &&
			die "impair: no path between '$a' and '$b' (nodes: $(net_nodes | paste -sd ' '))"
		die "impair: no link between '$a' and '$b' (in this lab a path is a link; --topo --underlay gives every pair a path)"
	fi
	set=$(net__settings "$@") || exit 2
	exec 9>"$(net_dir)/lock"
	flock 9
	while read -r pa pb _; do
		net__impair_one "$pa" "$pb" "$set"
	done <<<"$paths"
	net_rebuild "$paths" || die "impair: cannot change the rules in $(net_ns)"
	flock -u 9
	while read -r pa pb c base _; do
		net__describe "$pa" "$pb" "$c" "$base"
	done <<<"$paths"
}

net_nodes() { awk '{ print $1 }' "$(net_dir)/paths" | awk '!seen[$0]++'; }

# net__rate KBIT: "100mbit", "1.5gbit", "512kbit" ("-" stays).
net__rate() {
	[ "$1" = - ] && { echo -; return; }
	awk -v k="${1%kbit}" 'BEGIN {
		if (k >= 1000000) printf "%ggbit", k / 1000000
		else if (k >= 1000) printf "%gmbit", k / 1000
		else printf "%gkbit", k }'
}

# net__ms US: "5ms", "0.5ms".
net__ms() { awk -v u="$1" 'BEGIN { printf "%gms", u / 1000 }'; }

# net__impairment A B: "+200ms loss 30% down", or "-".
net__impairment() {
	local extra=0 loss=0 down=0 what=""
	[ -r "$(net_dir)/impair/$1-$2" ] &&
		read -r extra loss down <"$(net_dir)/impair/$1-$2"
	[ "$extra" != 0 ] && what+="+$(net__ms "$extra") "
	[ "$loss" != 0 ] && what+="loss $loss% "
	[ "$down" = 1 ] && what+="down "
	what=${what% }
	echo "${what:--}"
}

# net__describe A B CHAIN BASE: "n1 > n2: base 5ms, now +200ms loss 30%".
net__describe() {
	echo "$1 > $2: base $(net__ms "$4"), impairment: $(net__impairment "$1" "$2")"
}

# ---------------------------------------------------------------------
# Status
# ---------------------------------------------------------------------

# Packets into each path chain and dropped in it: "CHAIN IN DROPPED".
net__counters() {
	net_exec iptables -t filter -L -v -x -n 2>/dev/null | awk '
		/^Chain / { chain = $2; next }
		$3 ~ /^[LP][0-9]/ { into[$3] += $1 }
		$3 == "DROP" && chain ~ /^[LP][0-9]/ { drop[chain] += $1 }
		END { for (c in into) print c, into[c], drop[c] + 0 }'
}

# net_status: the shape, the delay line and every path with its base
# delay, impairments and counters.
net_status() {
	local a b c base pid cnt
	[ -r "$(net_dir)/paths" ] || return 0
	pid=$(cat "$(net_dir)/delayline.pid" 2>/dev/null)
	case $(net_shape) in
	router) echo "underlay: router in $(net_ns) (gateway $NET_GW on every port); overlay addresses are not routed" ;;
	*) echo "links: one bridge per link in $(net_ns)" ;;
	esac
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "delay line: itm-delay pid $pid, queue $NET_QUEUE"
	else
		echo "delay line: NOT RUNNING (paths are not delayed)"
	fi
	cnt=$(net__counters)
	printf '  %-24s %8s %10s  %-26s %9s %9s\n' PATH BASE BANDWIDTH \
		IMPAIRMENT PACKETS DROPPED
	while read -r a b c base cls; do
		pin=0 pdrop=0
		read -r _ pin pdrop < <(awk -v c="$c" '$1 == c' <<<"$cnt")
		printf '  %-24s %8s %10s  %-26s %9s %9s\n' "$a > $b" \
			"$(net__ms "$base")" "$(net__rate "${cls#*/}")" \
			"$(net__impairment "$a" "$b")" "${pin:-0}" "${pdrop:-0}"
	done <"$(net_dir)/paths"
}
