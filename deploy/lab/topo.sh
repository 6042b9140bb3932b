# topo.sh - `lab.sh up --topo FILE`: an ITM overlay of network namespaces
# from a topo.yaml, with the real control plane.  Sourced by lab.sh.
#
#   itmlab-NAME-_ctl   itm-controller (SQLite file in the lab's state dir)
#                      on the management bridge "mgmt", at the last free
#                      address of the nodes' mgmt /24, port 7700
#   itmlab-NAME-NODE   one per node: mgmt0 (veth into the bridge) holds the
#                      node's mgmt address; lo holds its overlay address;
#                      one veth per link (to-PEER), without addresses:
#                      routes to every overlay address along the cheapest
#                      path by link cost; forwarding on; itm-agent --node
#                      NODE --listen MGMT --controller CTL:7700
#
# Then `itmctl topology apply FILE`: the controller pushes the tables and
# loads the modules the file places; the lab waits until they run.  The plan
# (addresses, routes) comes from topo_plan.py; the controller checks the
# file's schema (apply --dry-run) before any node exists.
# shellcheck shell=bash

TOPO_CTL_NODE=_ctl		# node names start with a letter: no clash
TOPO_CTL_PORT=7700

# The plan, read from topo_plan.py's output.
TOPO_CTL_IP=""
TOPO_CTL_LEN=""
TOPO_NODES=()		# "name mgmt_ip port overlay"
TOPO_LINKS=()		# "a b rate|- latency|-"
TOPO_ROUTES=()		# "node dest hop hop_ip"
TOPO_MODULES=()		# "node module k=v..."
declare -A TOPO_DEV=()	# "a b" -> device in a towards b (first link)
declare -A TOPO_OVL=()	# node -> overlay address

topo_plan_read() {
	local kind rest
	while read -r kind rest; do
		case $kind in
		ctl) read -r TOPO_CTL_IP TOPO_CTL_LEN <<<"$rest" ;;
		node) TOPO_NODES+=("$rest") ;;
		link) TOPO_LINKS+=("$rest") ;;
		route) TOPO_ROUTES+=("$rest") ;;
		module) TOPO_MODULES+=("$rest") ;;
		esac
	done <"$1"
}

topo_ctl_addr() { echo "$TOPO_CTL_IP:$TOPO_CTL_PORT"; }

# topo_itmctl ARGS...: itmctl against the lab's controller, from its
# namespace (the only place the management network exists).
topo_itmctl() {
	itm_exec "$TOPO_CTL_NODE" "$(itm_ctl_bin)" \
		--controller "$(cat "$ITM_TMP/controller")" "$@"
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

# The controller's namespace: the management bridge and itm-controller.
topo_controller() {
	local ns
	itm_ns "$TOPO_CTL_NODE"
	ns=$(itm_nsname "$TOPO_CTL_NODE")
	ip -n "$ns" link add mgmt type bridge &&
	ip -n "$ns" link set mgmt up &&
	ip -n "$ns" addr add "$TOPO_CTL_IP/$TOPO_CTL_LEN" dev mgmt ||
		itm_fail "cannot make the management bridge in $ns"
	topo_ctl_addr >"$ITM_TMP/controller"
	itm_bg "$TOPO_CTL_NODE" --name controller \
		"$ITM_BUILD/controller/itm-controller" --db "$ITM_TMP/topology.db" \
		--listen "$(topo_ctl_addr)" --plaintext --heartbeat-ms 500
	itm_wait_for 15 topo_itmctl nodes ||
		itm_fail "itm-controller does not answer at $(topo_ctl_addr)"
	echo "itm-controller at $(topo_ctl_addr) (namespace $ns), database $ITM_TMP/topology.db"
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

# topo_node NAME MGMT PORT OVERLAY I: namespace, mgmt0 on the bridge,
# overlay address on lo.
topo_node() {
	local name=$1 mgmt=$2 overlay=$4 i=$5 ns cns
	itm_ns "$name"
	itm_forwarding "$name"
	ns=$(itm_nsname "$name")
	cns=$(itm_nsname "$TOPO_CTL_NODE")
	ip -n "$cns" link add "m$i" type veth peer name mgmt0 netns "$ns" &&
	ip -n "$cns" link set "m$i" master mgmt up &&
	ip -n "$ns" link set mgmt0 up &&
	ip -n "$ns" addr add "$mgmt/$TOPO_CTL_LEN" dev mgmt0 &&
	ip -n "$ns" addr add "$overlay/32" dev lo ||
		itm_fail "cannot give $name its addresses ($mgmt, $overlay)"
	TOPO_OVL[$name]=$overlay
}

# topo_link A B RATE LATENCY: a veth pair; with --shape, RATE as HTB on
# both ends and LATENCY (ms, each direction) by itm-delay at both ends
# (itm_delay in tests/integ/lib.sh; every node's addresses exist by now).
topo_link() {
	local a=$1 b=$2 rate=$3 lat=$4
	itm_link "$a" "$b"
	[ -n "${TOPO_DEV["$a $b"]:-}" ] || TOPO_DEV["$a $b"]=$ITM_LINK_DEV_A
	[ -n "${TOPO_DEV["$b $a"]:-}" ] || TOPO_DEV["$b $a"]=$ITM_LINK_DEV_B
	[ -n "$TOPO_SHAPE" ] || return 0
	if [ "$rate" != - ]; then
		itm_shape "$a" "$ITM_LINK_DEV_A" "$rate"
		itm_shape "$b" "$ITM_LINK_DEV_B" "$rate"
	fi
	if [ "$lat" != - ] && [ "$lat" -gt 0 ]; then
		itm_delay "$a" "$ITM_LINK_DEV_A" "${lat}ms" "$TOPO_QUEUE" "$b"
		itm_delay "$b" "$ITM_LINK_DEV_B" "${lat}ms" "$((TOPO_QUEUE + 1))" "$a"
		TOPO_QUEUE=$((TOPO_QUEUE + 2))
	fi
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
	itm_agent_start "$name" "$name" --listen "$mgmt:$port" \
		--controller "$(topo_ctl_addr)"
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
	local file=$1 n name mgmt port overlay i=0 l r
	topo_need_binaries
	TOPO_QUEUE=60000
	cp "$file" "$ITM_TMP/topo.yaml"
	topo_plan_read "$ITM_TMP/plan"
	topo_controller
	topo_validate "$file"
	for n in "${TOPO_NODES[@]}"; do
		read -r name mgmt port overlay <<<"$n"
		i=$((i + 1))
		topo_node "$name" "$mgmt" "$port" "$overlay" "$i"
	done
	for l in "${TOPO_LINKS[@]}"; do
		# shellcheck disable=SC2086
		topo_link $l
	done
	for r in "${TOPO_ROUTES[@]}"; do
		# shellcheck disable=SC2086
		topo_route $r
	done
	for n in "${TOPO_NODES[@]}"; do
		# shellcheck disable=SC2086
		topo_agent $n
	done
	topo_apply "$file"
	topo_modules
}
