# topo.sh - `lab.sh up --topo FILE`: an ITM overlay of network namespaces
# from a topo.yaml, with the real control plane.  Sourced by lab.sh.
#
#   itmlab-NAME-_ctl   itm-controller (SQLite file in the lab's state dir)
#                      at the last free address of the nodes' mgmt /24,
#                      port 7700; with --ha a 3-member etcd cluster on its
#                      loopback and two controllers on it (ports 7700 and
#                      7702, one leads), the agents given both
#   itmlab-NAME-_net   the network between the nodes (net.sh)
#   itmlab-NAME-NODE   one per node: lo holds its overlay address;
#                      forwarding on; itm-agent --node NODE --listen MGMT
#                      --controller CTL:7700
#
# and, by mode:
#
#   links (default)    the controller on a management bridge "mgmt" in
#                      _ctl; each node's mgmt0 (veth into it) holds its
#                      mgmt address (and its underlay address, when the
#                      file gives another: the bridge plays the underlay,
#                      without delay); one link per topo.yaml link
#                      (to-PEER at each end, through a bridge of _net),
#                      without addresses: routes to every overlay address
#                      along the cheapest path by link cost; with --shape
#                      each link has its bandwidth (HTB at both ends) and
#                      latency_ms (each direction, in _net)
#   --underlay         "the Internet": _net is a router, each node's ul0
#                      (and the controller's ctl0) one of its ports,
#                      holding the node's underlay and mgmt addresses, its
#                      default route through the router; every pair of
#                      nodes has its own path, delayed by the underlay's
#                      delay between them (topo_plan.py: a declared link's
#                      latency_ms, else the least total along links) and
#                      impairable (lab.sh impair); no overlay route
#                      anywhere: overlay addresses do not cross the
#                      Internet unless encapsulated
#
# Then `itmctl topology apply FILE`: the controller pushes the tables and
# loads the modules the file places; the lab waits until they run.  The plan
# (addresses, routes, delays) comes from topo_plan.py; the controller checks
# the file's schema (apply --dry-run) before any node exists.
# shellcheck shell=bash

TOPO_CTL_NODE=_ctl		# node names start with a letter: no clash
TOPO_CTL_PORT=7700

# The plan, read from topo_plan.py's output.
TOPO_CTL_IP=""
TOPO_CTL_LEN=""
TOPO_NODES=()		# "name mgmt_ip port overlay underlay"
TOPO_LINKS=()		# "a b rate|- latency|-"
TOPO_ROUTES=()		# "node dest hop hop_ip"
TOPO_PAIRS=()		# "a b delay_ms" (the underlay's)
TOPO_MODULES=()		# "node module k=v..."
declare -A TOPO_DEV=()	# "a b" -> device in a towards b (first link)
declare -A TOPO_OVL=()	# node -> overlay address
declare -A TOPO_IDX=()	# node -> its number, 1.. in file order

topo_plan_read() {
	local kind rest
	while read -r kind rest; do
		case $kind in
		ctl) read -r TOPO_CTL_IP TOPO_CTL_LEN <<<"$rest" ;;
		node) TOPO_NODES+=("$rest") ;;
		link) TOPO_LINKS+=("$rest") ;;
		route) TOPO_ROUTES+=("$rest") ;;
		pair) TOPO_PAIRS+=("$rest") ;;
		module) TOPO_MODULES+=("$rest") ;;
		esac
	done <"$1"
}

topo_ctl_addr() { echo "$TOPO_CTL_IP:$TOPO_CTL_PORT"; }

# topo_itmctl ARGS...: itmctl against the lab's controller, from its
# namespace (the only place the management network exists); with --ha,
# the one that leads (else the first).
topo_itmctl() {
	itm_exec "$TOPO_CTL_NODE" "$(itm_ctl_bin)" \
		--controller "$(topo_leader)" "$@"
}

topo_leader() {
	local a list
	list=$(cat "$ITM_TMP/controllers" 2>/dev/null || cat "$ITM_TMP/controller")
	for a in ${list//,/ }; do
		itm_exec "$TOPO_CTL_NODE" "$(itm_ctl_bin)" --controller "$a" \
			controllers 2>/dev/null | grep -q ', leading$' &&
			{ echo "$a"; return; }
	done
	echo "${list%%,*}"
}

# ---------------------------------------------------------------------
# --ha: etcd members m1..m3 on the controller namespace's loopback
# (clients on 2379, 2479, 2579) and a second controller on port
# TOPO_CTL_PORT + 2; the agents are given both.
TOPO_ETCD=etcd://127.0.0.1:2379,127.0.0.1:2479,127.0.0.1:2579/itm

topo_etcd_member() {	# N
	local cp=$((2279 + 100 * $1)) pp=$((2280 + 100 * $1)) c=""
	for m in 1 2 3; do c+="${c:+,}m$m=http://127.0.0.1:$((2280 + 100 * m))"; done
	itm_bg "$TOPO_CTL_NODE" --name "etcd-m$1" etcd --name "m$1" \
		--data-dir "$ITM_TMP/etcd-m$1" \
		--listen-client-urls "http://127.0.0.1:$cp" \
		--advertise-client-urls "http://127.0.0.1:$cp" \
		--listen-peer-urls "http://127.0.0.1:$pp" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		--initial-cluster "$c" --logger zap --log-level warn
}

topo_etcd() {
	local m
	itm__need etcd etcdctl
	for m in 1 2 3; do topo_etcd_member "$m"; done
	itm_wait_for 20 itm_exec "$TOPO_CTL_NODE" etcdctl \
		--endpoints 127.0.0.1:2379,127.0.0.1:2479,127.0.0.1:2579 \
		endpoint health || itm_fail "the lab's etcd cluster did not come up"
	echo "etcd: 3 members in $(itm_nsname "$TOPO_CTL_NODE") (127.0.0.1:2379, :2479, :2579)"
}

# topo_controllers: where agents find the control plane ("A" or "A,B").
topo_controllers() {
	if [ -n "${TOPO_HA:-}" ]; then
		echo "$(topo_ctl_addr),$TOPO_CTL_IP:$((TOPO_CTL_PORT + 2))"
	else
		topo_ctl_addr
	fi
}

# topo_ctl_start NAME ADDR STORE: an itm-controller (--db FILE, or
# --store etcd://...).
topo_ctl_start() {
	local opt=--db
	case $3 in etcd://*) opt=--store ;; esac
	itm_bg "$TOPO_CTL_NODE" --name "$1" \
		"$ITM_BUILD/controller/itm-controller" "$opt" "$3" \
		--listen "$2" --advertise "$2" --insecure-plaintext --heartbeat-ms 500
	itm_wait_for 15 itm_exec "$TOPO_CTL_NODE" "$(itm_ctl_bin)" \
		--controller "$2" controllers ||
		itm_fail "itm-controller does not answer at $2"
}

# ---------------------------------------------------------------------
# Bring-up, in order
# ---------------------------------------------------------------------

topo_need_binaries() {
	local b
	for b in controller/itm-controller controller/itmctl/itmctl agent/itm-agent; do
		[ -x "$ITM_BUILD/$b" ] ||
			die "$ITM_BUILD/$b is not built (cmake --build $ITM_BUILD)"
	done
}

# The controller's namespace: on the management bridge, or on the
# Internet (--underlay); then itm-controller.
topo_controller() {
	local ns
	itm_ns "$TOPO_CTL_NODE"
	ns=$(itm_nsname "$TOPO_CTL_NODE")
	if [ -n "$TOPO_UNDERLAY" ]; then
		net_router_port "$TOPO_CTL_NODE" c ctl0 "$TOPO_CTL_IP"
	else
		ip -n "$ns" link add mgmt type bridge &&
		ip -n "$ns" link set mgmt up &&
		ip -n "$ns" addr add "$TOPO_CTL_IP/$TOPO_CTL_LEN" dev mgmt ||
			itm_fail "cannot make the management bridge in $ns"
	fi
	topo_ctl_addr >"$ITM_TMP/controller"
	topo_controllers >"$ITM_TMP/controllers"
	if [ -z "${TOPO_HA:-}" ]; then
		topo_ctl_start controller "$(topo_ctl_addr)" "$ITM_TMP/topology.db"
		echo "itm-controller at $(topo_ctl_addr) (namespace $ns), database $ITM_TMP/topology.db"
		return
	fi
	topo_etcd
	topo_ctl_start controller "$(topo_ctl_addr)" "$TOPO_ETCD"
	topo_ctl_start controller2 "$TOPO_CTL_IP:$((TOPO_CTL_PORT + 2))" "$TOPO_ETCD"
	echo "itm-controllers at $(topo_controllers) (namespace $ns), store $TOPO_ETCD"
	topo_itmctl controllers | sed 's/^/  /'
}

# The controller's own check of the whole file, before any node exists.
topo_validate() {
	local out
	out=$(topo_itmctl topology apply --dry-run "$1" 2>&1) || {
		echo "$out" >&2
		echo "lab.sh: itm-controller refused $1 (above)" >&2
		exit 2
	}
}

# topo_node NAME MGMT PORT OVERLAY UNDERLAY I: namespace, overlay address
# on lo; mgmt0 on the bridge, or ul0 on the Internet (--underlay).
topo_node() {
	local name=$1 mgmt=$2 overlay=$4 ul=$5 i=$6 ns cns
	itm_ns "$name"
	itm_forwarding "$name"
	ns=$(itm_nsname "$name")
	TOPO_OVL[$name]=$overlay
	TOPO_IDX[$name]=$i
	ip -n "$ns" addr add "$overlay/32" dev lo ||
		itm_fail "cannot give $name its overlay address $overlay"
	if [ -n "$TOPO_UNDERLAY" ]; then
		if [ "$ul" = "$mgmt" ]; then
			net_router_port "$name" "$i" ul0 "$ul"
		else
			net_router_port "$name" "$i" ul0 "$ul" "$mgmt"
		fi
		return 0
	fi
	cns=$(itm_nsname "$TOPO_CTL_NODE")
	ip -n "$cns" link add "m$i" type veth peer name mgmt0 netns "$ns" &&
	ip -n "$cns" link set "m$i" master mgmt up &&
	ip -n "$ns" link set mgmt0 up &&
	ip -n "$ns" addr add "$mgmt/$TOPO_CTL_LEN" dev mgmt0 ||
		itm_fail "cannot give $name its mgmt address $mgmt"
}

# Without --underlay, underlay addresses other than the mgmt one go on
# mgmt0 too, with a route to each on the bridge: reachable, undelayed.
topo_bridge_underlay() {
	local n m name mgmt ul peer pmgmt pul
	for n in "${TOPO_NODES[@]}"; do
		read -r name mgmt _ _ ul <<<"$n"
		[ "$ul" = "$mgmt" ] && continue
		ip -n "$(itm_nsname "$name")" addr add "$ul/32" dev mgmt0 ||
			itm_fail "cannot give $name its underlay address $ul"
		for m in "${TOPO_NODES[@]}"; do
			read -r peer pmgmt _ _ pul <<<"$m"
			[ "$peer" = "$name" ] || [ "$pul" = "$pmgmt" ] && continue
			ip -n "$(itm_nsname "$name")" route add "$pul/32" dev mgmt0 ||
				itm_fail "cannot route $name to $peer's underlay $pul"
		done
	done
}

# topo_link A B RATE LATENCY: a link through _net; with --shape, RATE as
# HTB on both ends and LATENCY (ms) on each direction.
topo_link() {
	local a=$1 b=$2 rate=$3 lat=$4 us=0
	[ -n "$TOPO_SHAPE" ] && [ "$lat" != - ] && us=$((lat * 1000))
	net_link "$a" "$b" "$us"
	[ -n "${TOPO_DEV["$a $b"]:-}" ] || TOPO_DEV["$a $b"]=$ITM_LINK_DEV_A
	[ -n "${TOPO_DEV["$b $a"]:-}" ] || TOPO_DEV["$b $a"]=$ITM_LINK_DEV_B
	if [ -n "$TOPO_SHAPE" ] && [ "$rate" != - ]; then
		itm_shape "$a" "$ITM_LINK_DEV_A" "$rate"
		itm_shape "$b" "$ITM_LINK_DEV_B" "$rate"
	fi
}

# The underlay's paths between every pair of nodes (--underlay); with
# --shape, the bandwidth of a link declared between them.
topo_underlay_paths() {
	local p a b ms rate arg=()
	declare -A bw=()
	for p in "${TOPO_LINKS[@]}"; do
		read -r a b rate _ <<<"$p"
		[ -n "$TOPO_SHAPE" ] && bw["$a $b"]=$rate bw["$b $a"]=$rate
	done
	for p in "${TOPO_PAIRS[@]}"; do
		read -r a b ms <<<"$p"
		arg+=("$a ${TOPO_IDX[$a]} $b ${TOPO_IDX[$b]} $ms ${bw["$a $b"]:--}")
	done
	net_router_paths "${arg[@]}"
}

# topo_route NODE DEST HOP HOP_IP: DEST/32 out of the link to HOP, from
# NODE's overlay address.
topo_route() {
	local node=$1 dest=$2 hop=$3 hop_ip=$4 ns dev via=()
	ns=$(itm_nsname "$node")
	dev=${TOPO_DEV["$node $hop"]}
	[ "$hop_ip" = "$dest" ] || via=(via "$hop_ip" onlink)
	ip -n "$ns" route add "$dest/32" "${via[@]}" dev "$dev" \
		src "${TOPO_OVL[$node]}" ||
		itm_fail "cannot add route $dest via $hop in $node"
}

topo_agent() {
	local name=$1 mgmt=$2 port=$3
	# the lab's management network is its own namespaces' veths
	itm_agent_start "$name" "$name" --listen "$mgmt:$port" \
		--insecure-plaintext --controller "$(topo_controllers)"
	echo "itm-agent $name: pid $ITM_LAST_PID, listens on $mgmt:$port, log $ITM_LAST_LOG"
}

# Every node up at the generation of the last apply.
topo_converged() {
	topo_itmctl -o json nodes | python3 -c 'import json, sys
gen = int(sys.argv[1])
nodes = json.load(sys.stdin)["nodes"]
sys.exit(not nodes or not all(n["up"] and n["generation"] == gen for n in nodes))' "$1"
}

topo_apply() {
	local file=$1 gen
	topo_itmctl -o json topology apply "$file" >"$ITM_TMP/apply.json" ||
		itm_fail "itmctl topology apply $file: $(cat "$ITM_TMP/apply.json")"
	gen=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["generation"])' \
		"$ITM_TMP/apply.json")
	itm_wait_for 20 topo_converged "$gen" ||
		itm_fail "not every node is up at generation $gen: $(topo_itmctl nodes 2>&1)"
	echo "topology applied: generation $gen, every agent acknowledged it"
}

# topo_has_module NODE MODULE: the node's agent runs it (asked through the
# controller, which reads it back from the agent).
topo_has_module() {
	topo_itmctl module list "$1" 2>/dev/null | grep -Eq "^$2 +agent"
}

# The modules the file places: the controller loads them itself after the
# apply (and again whenever an agent rejoins); wait until each runs.
topo_modules() {
	local m node name
	for m in "${TOPO_MODULES[@]}"; do
		read -r node name _ <<<"$m"
		itm_wait_for 20 topo_has_module "$node" "$name" ||
			itm_fail "module $name is not running on $node: $(topo_itmctl module list "$node" 2>&1)"
		echo "module on $node: ${m#* }"
	done
}

# topo_up FILE: the whole overlay, or nothing (the caller's trap).
topo_up() {
	local file=$1 n name mgmt port overlay ul i=0 l r
	topo_need_binaries
	cp "$file" "$ITM_TMP/topo.yaml"
	topo_plan_read "$ITM_TMP/plan"
	if [ -n "$TOPO_UNDERLAY" ]; then net_create router; else net_create links; fi
	topo_controller
	topo_validate "$file"
	for n in "${TOPO_NODES[@]}"; do
		read -r name mgmt port overlay ul <<<"$n"
		i=$((i + 1))
		topo_node "$name" "$mgmt" "$port" "$overlay" "$ul" "$i"
	done
	if [ -n "$TOPO_UNDERLAY" ]; then
		topo_underlay_paths
	else
		topo_bridge_underlay
		for l in "${TOPO_LINKS[@]}"; do
			# shellcheck disable=SC2086
			topo_link $l
		done
		for r in "${TOPO_ROUTES[@]}"; do
			# shellcheck disable=SC2086
			topo_route $r
		done
	fi
	net_commit
	for n in "${TOPO_NODES[@]}"; do
		# shellcheck disable=SC2086
		topo_agent $n
	done
	topo_apply "$file"
	topo_modules
}
