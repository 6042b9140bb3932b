#!/bin/bash
# lab.sh - a local lab of network namespaces as ITM nodes.
#
#   lab.sh up     [-n NAME] [--rate R] [--delay D] [line | --spec FILE]
#   lab.sh up     [-n NAME] --topo FILE [--underlay] [--shape] [--ha]
#   lab.sh down   [-n NAME]
#   lab.sh status [-n NAME]
#   lab.sh list
#   lab.sh impair [-n NAME] A B [--oneway] delay=D|loss=P%|down|up|clear...
#   lab.sh exec   [-n NAME] NODE CMD...        run CMD inside NODE
#   lab.sh agent  [-n NAME] NODE [AGENT ARGS]   start itm-agent in NODE
#   lab.sh ctl    [-n NAME] NODE ITMCTL ARGS    itmctl for NODE's agent
#   lab.sh itmctl [-n NAME] ITMCTL ARGS         itmctl for the controller (--topo)
#
# A lab is built from a spec (deploy/lab/line.spec shows the format), read
# and checked whole before anything is created.  Node NODE of lab NAME is
# the namespace itmlab-NAME-NODE; the lab's state (namespaces, pids, logs,
# agent sockets) lives in /run/itm-lab/NAME.  Every link passes through
# the namespace itmlab-NAME-_net (net.sh), where delays, loss and cuts
# happen.  --rate shapes every link with HTB on both ends; --delay adds a
# one-way delay per direction with itm-delay.  --topo brings up an ITM
# overlay from a topo.yaml instead: itm-controller, one itm-agent per node,
# the topology applied (topo.sh); --shape makes the links' bandwidth and
# latency_ms real; --underlay joins the nodes by "the Internet" instead of
# one link per topo.yaml link; --ha runs the control plane highly
# available: a 3-member etcd cluster and two controllers on it (one
# leads), agents given both.  impair changes a path at run time.
# The namespace helpers are those of tests/integ/lib.sh, in lab mode.
set -u

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${ITM_SRC:=$(cd "$LAB_DIR/../.." && pwd)}"
. "$ITM_SRC/tests/integ/lib.sh"
. "$LAB_DIR/net.sh"
. "$LAB_DIR/topo.sh"

LAB=${ITM_LAB:-itm}
RATE=""
DELAY=""

die() { echo "lab.sh: $*" >&2; exit 1; }

usage() {
	sed -n '4,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# ---------------------------------------------------------------------
# The spec: parsed into arrays, every error reported, nothing created
# ---------------------------------------------------------------------

SPEC_NODES=()		# "name forward|-"
SPEC_LINKS=()		# "a b addr_a addr_b rate delay" ("-" = none)
SPEC_ROUTES=()		# "node dest gw"
SPEC_ERRS=0

spec_err() {
	echo "$1:$2: $3" >&2
	SPEC_ERRS=$((SPEC_ERRS + 1))
}

spec_has_node() {
	local n
	for n in "${SPEC_NODES[@]}"; do [ "${n%% *}" = "$1" ] && return 0; done
	return 1
}

is_cidr() {
	[[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]] &&
	[ "${BASH_REMATCH[1]}" -le 255 ] && [ "${BASH_REMATCH[2]}" -le 255 ] &&
	[ "${BASH_REMATCH[3]}" -le 255 ] && [ "${BASH_REMATCH[4]}" -le 255 ] &&
	[ "${BASH_REMATCH[5]}" -le 32 ]
}

is_ip() { is_cidr "$1/32"; }
is_rate() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?([kmg]?bit)$ ]]; }
is_delay() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?(us|ms|s)$ ]]; }

spec_node() {
	local f=$1 l=$2 name=${3:-} opt=${4:--}
	[[ $name =~ ^[a-z][a-z0-9]{0,9}$ ]] ||
		{ spec_err "$f" "$l" "node: name '$name': 1-10 of a-z 0-9, a letter first"; return; }
	spec_has_node "$name" && { spec_err "$f" "$l" "node: duplicate name '$name'"; return; }
	[ "$opt" = - ] || [ "$opt" = forward ] ||
		spec_err "$f" "$l" "node $name: unknown option '$opt' (forward)"
	[ $# -le 4 ] || spec_err "$f" "$l" "node $name: too many fields"
	SPEC_NODES+=("$name $opt")
}

spec_link() {
	local f=$1 l=$2 a=${3:-} b=${4:-} aa=- ab=- rate=$RATE delay=$DELAY w
	shift 4 2>/dev/null || { spec_err "$f" "$l" "link: need two nodes"; return; }
	for w in "$a" "$b"; do
		spec_has_node "$w" || spec_err "$f" "$l" "link: unknown node '$w'"
	done
	[ "$a" != "$b" ] || spec_err "$f" "$l" "link: '$a' to itself"
	if [ $# -ge 2 ] && [[ $1 != *=* ]]; then
		aa=$1 ab=$2; shift 2
		for w in "$aa" "$ab"; do
			is_cidr "$w" || spec_err "$f" "$l" "link $a $b: bad address '$w' (want A.B.C.D/LEN)"
		done
	fi
	for w in "$@"; do
		case $w in
		rate=*) rate=${w#rate=}; is_rate "$rate" ||
			spec_err "$f" "$l" "link $a $b: bad rate '$rate' (e.g. 100mbit)" ;;
		delay=*) delay=${w#delay=}; is_delay "$delay" ||
			spec_err "$f" "$l" "link $a $b: bad delay '$delay' (e.g. 20ms)" ;;
		*) spec_err "$f" "$l" "link $a $b: unknown field '$w'" ;;
		esac
	done
	SPEC_LINKS+=("$a $b $aa $ab ${rate:--} ${delay:--}")
}

spec_route() {
	local f=$1 l=$2 node=${3:-} dest=${4:-} via=${5:-} gw=${6:-}
	[ $# -eq 6 ] && [ "$via" = via ] ||
		{ spec_err "$f" "$l" "route: want 'route NODE DEST via GW'"; return; }
	spec_has_node "$node" || spec_err "$f" "$l" "route: unknown node '$node'"
	[ "$dest" = default ] || is_cidr "$dest" ||
		spec_err "$f" "$l" "route $node: bad destination '$dest'"
	is_ip "$gw" || spec_err "$f" "$l" "route $node: bad gateway '$gw'"
	SPEC_ROUTES+=("$node $dest $gw")
}

# spec_read FILE: parse FILE (with @X@ = ITM_NETX) into SPEC_*; exit 2 on
# any error, after reporting all of them.
spec_read() {
	local f=$1 l=0 line w
	[ -r "$f" ] || die "cannot read spec '$f'"
	while IFS= read -r line || [ -n "$line" ]; do
		l=$((l + 1))
		line=${line%%#*}
		line=${line//@X@/$ITM_NETX}
		read -ra w <<<"$line"
		[ "${#w[@]}" -eq 0 ] && continue
		case ${w[0]} in
		node) spec_node "$f" "$l" "${w[@]:1}" ;;
		link) spec_link "$f" "$l" "${w[@]:1}" ;;
		route) spec_route "$f" "$l" "${w[@]:1}" ;;
		*) spec_err "$f" "$l" "unknown keyword '${w[0]}' (node, link, route)" ;;
		esac
	done <"$f"
	[ "${#SPEC_NODES[@]}" -gt 0 ] || spec_err "$f" "$l" "no nodes"
	[ "$SPEC_ERRS" -eq 0 ] || { echo "lab.sh: $SPEC_ERRS error(s) in $f; nothing created" >&2; exit 2; }
}

# ---------------------------------------------------------------------
# up / down / status
# ---------------------------------------------------------------------

lab_exists() {
	[ -s "$ITM_TMP/namespaces" ] ||
		ip netns list | awk '{ print $1 }' | grep -q "^$ITM_PFX-"
}

lab_build() {
	local n name opt a b aa ab rate delay us r addrs
	net_create links
	for n in "${SPEC_NODES[@]}"; do
		read -r name opt <<<"$n"
		itm_ns "$name"
		[ "$opt" = forward ] && itm_forwarding "$name"
	done
	for n in "${SPEC_LINKS[@]}"; do
		read -r a b aa ab rate delay <<<"$n"
		us=0
		[ "$delay" = - ] || us=$(net__us "$delay")
		addrs=()
		[ "$aa" = - ] || addrs=("$aa" "$ab")
		net_link "$a" "$b" "$us" "${addrs[@]}"
		if [ "$rate" != - ]; then
			itm_shape "$a" "$ITM_LINK_DEV_A" "$rate"
			itm_shape "$b" "$ITM_LINK_DEV_B" "$rate"
		fi
	done
	net_commit
	for r in "${SPEC_ROUTES[@]}"; do
		# shellcheck disable=SC2086
		itm_route $r
	done
	return 0
}

cmd_up() {
	local spec="$LAB_DIR/line.spec" topo="" plan
	TOPO_SHAPE=""
	TOPO_UNDERLAY=""
	TOPO_HA=""
	while [ $# -gt 0 ]; do
		case $1 in
		--rate) RATE=${2:?--rate needs a value}; shift 2 ;;
		--delay) DELAY=${2:?--delay needs a value}; shift 2 ;;
		--spec) spec=${2:?--spec needs a file}; shift 2 ;;
		--topo) topo=${2:?--topo needs a file}; shift 2 ;;
		--shape) TOPO_SHAPE=1; shift ;;
		--underlay) TOPO_UNDERLAY=1; shift ;;
		--ha) TOPO_HA=1; shift ;;
		line) spec="$LAB_DIR/line.spec"; shift ;;
		*) die "up: unknown argument '$1'" ;;
		esac
	done
	[ -z "$RATE" ] || is_rate "$RATE" || die "--rate '$RATE': e.g. 100mbit"
	[ -z "$DELAY" ] || is_delay "$DELAY" || die "--delay '$DELAY': e.g. 20ms"
	if [ -n "$topo" ]; then
		[ -z "$RATE$DELAY" ] || die "--topo: the links' rates and delays" \
			"come from the file (bandwidth, latency_ms) with --shape"
		[ -r "$topo" ] || die "cannot read topology '$topo'"
		plan=$(python3 "$LAB_DIR/topo_plan.py" "$topo") || {
			echo "lab.sh: $topo cannot be a lab (above); nothing created" >&2
			exit 2
		}
	else
		[ -z "$TOPO_SHAPE" ] || die "--shape goes with --topo"
		[ -z "$TOPO_UNDERLAY" ] || die "--underlay goes with --topo"
		[ -z "$TOPO_HA" ] || die "--ha goes with --topo"
		spec_read "$spec"
	fi
	[ "$(id -u)" -eq 0 ] || die "needs root"
	lab_exists && die "lab '$LAB' is already up (lab.sh down -n $LAB first)"
	mkdir -p "$ITM_TMP" || die "cannot create $ITM_TMP"
	trap 'echo "lab.sh: bring-up failed; removing lab $LAB" >&2; cmd_down' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if [ -n "$topo" ]; then
		printf '%s\n' "$plan" >"$ITM_TMP/plan"
		topo_up "$topo"
	else
		cp "$spec" "$ITM_TMP/spec"
		lab_build
	fi
	trap - EXIT INT TERM
	echo "lab '$LAB' is up: $(lab_nodes | tr '\n' ' ')"
	lab_print
}

lab_nodes() {
	local ns
	for ns in "${ITM_NSS[@]}"; do echo "${ns#"$ITM_PFX"-}"; done
}

# One line per node: namespace, addresses, routes count.
lab_print() {
	local ns addrs
	for ns in "${ITM_NSS[@]}"; do
		if [ "$ns" = "$(net_ns)" ]; then
			printf '  %-8s %-22s %s\n' "${ns#"$ITM_PFX"-}" "$ns" \
				"the network between the nodes (below)"
			continue
		fi
		addrs=$(ip -n "$ns" -4 -o addr show scope global 2>/dev/null |
			awk '{ printf "%s:%s ", $2, $4 }')
		printf '  %-8s %-22s %s\n' "${ns#"$ITM_PFX"-}" "$ns" "${addrs:-(no address)}"
	done
}

# Every process of a lab runs inside one of its namespaces: those are
# stopped (SIGTERM, then SIGKILL), never pids from the record, which may
# have been reused since.
cmd_down() {
	local ns
	set +e
	for ns in $(lab_all_ns); do
		# shellcheck disable=SC2046
		kill -TERM $(ip netns pids "$ns") 2>/dev/null
	done
	sleep 0.5
	for ns in $(lab_all_ns); do
		itm__ns_kill_all "$ns"
		ip netns del "$ns" || echo "lab.sh: could not delete $ns" >&2
	done
	rm -rf -- "$ITM_TMP"
	echo "lab '$LAB' is down"
}

# Recorded namespaces, plus any itmlab-NAME-* left without a record.
lab_all_ns() {
	{ cat "$ITM_TMP/namespaces" 2>/dev/null
	  ip netns list | awk '{ print $1 }' | grep "^$ITM_PFX-"; } |
		awk '!seen[$0]++' | while read -r ns; do
			ip netns list | awk '{ print $1 }' | grep -qx -- "$ns" && echo "$ns"
		done
}

cmd_status() {
	local ns pids
	lab_exists || { echo "lab '$LAB' is not up"; return 1; }
	mapfile -t ITM_NSS < <(lab_all_ns)
	echo "lab '$LAB' (state in $ITM_TMP)"
	lab_print
	net_status
	for ns in "${ITM_NSS[@]}"; do
		pids=$(ip netns pids "$ns" | tr '\n' ',')
		[ -n "$pids" ] && printf '  %-8s processes: %s\n' "${ns#"$ITM_PFX"-}" \
			"$(ps -o pid=,args= -p "${pids%,}" | awk '{ $1 = $1; printf "[%s] ", $0 }')"
	done
	return 0
}

cmd_list() {
	ip netns list | awk '{ print $1 }' | sed -n 's/^itmlab-\([A-Za-z0-9_]*\)-.*/\1/p' |
		sort -u
}

need_node() {
	[ -n "${1:-}" ] || die "$2: which node?"
	ip netns list | awk '{ print $1 }' | grep -qx -- "$ITM_PFX-$1" ||
		die "lab '$LAB' has no node '$1' (lab.sh status -n $LAB)"
}

cmd_exec() {
	need_node "${1:-}" exec
	local node=$1
	shift
	[ $# -gt 0 ] || die "exec $node: no command"
	exec ip netns exec "$ITM_PFX-$node" "$@"
}

cmd_agent() {
	need_node "${1:-}" agent
	local node=$1
	shift
	itm_agent_start "$node" "$node" "$@"
	echo "itm-agent on $node: pid $ITM_LAST_PID, socket $(itm_agent_sock "$node"), log $ITM_LAST_LOG"
}

# impair A B [--oneway] SETTING...: change the path(s) between A and B.
cmd_impair() {
	[ $# -ge 2 ] || die "impair: want A B [--oneway] delay=D|loss=P%|down|up|clear..."
	lab_exists && [ -r "$(net_dir)/paths" ] ||
		die "lab '$LAB' is not up (or has no paths: brought up before lab.sh knew them)"
	net_impair "$@"
}

cmd_itmctl() {
	[ -s "$ITM_TMP/controller" ] ||
		die "lab '$LAB' has no controller (it was not brought up with --topo)"
	topo_itmctl "$@"
}

cmd_ctl() {
	need_node "${1:-}" ctl
	local node=$1
	shift
	itm_ctl "$node" "$node" "$@"
}

main() {
	local cmd=${1:-}
	[ -n "$cmd" ] || usage
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		-n|--name) LAB=${2:?--name needs a value}; shift 2 ;;
		*) break ;;
		esac
	done
	itm_lab_attach "$LAB" >/dev/null
	case $cmd in
	up) cmd_up "$@" ;;
	down) cmd_down ;;
	status) cmd_status ;;
	list) cmd_list ;;
	impair) cmd_impair "$@" ;;
	exec) cmd_exec "$@" ;;
	agent) cmd_agent "$@" ;;
	ctl) cmd_ctl "$@" ;;
	itmctl) cmd_itmctl "$@" ;;
	-h|--help|help) usage ;;
	*) echo "lab.sh: unknown command '$cmd'" >&2; usage ;;
	esac
}

main "$@"
