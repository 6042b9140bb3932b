# lib.sh - shell library sourced by every ITM namespace integration test
# (bash).  It names everything a test creates after the test and its pid,
# tracks every process it starts, and removes it all on exit, also when
# the test fails halfway or is interrupted.  deploy/lab/lab.sh uses the same
# functions in "lab mode" (itm_lab_attach): nothing is removed on exit there.
#
#   . "$ITM_SRC/tests/integ/lib.sh"
#   itm_init qos_tos                   # prefix itm-qostos-<pid>, trap, $ITM_TMP
#   itm_topo_line                      # h1 -- r -- h2, see itm_topo_line
#   itm_agent_start r r --load "qosmod threshold=20"
#   itm_capture h2 "$ITM_H2_DEV" "tcp" 40
#   gbps=$(itm_iperf h2 "$ITM_H2_IP" h1 2)
#   itm_capture_wait 10
#   itm_assert_eq "$(itm_pcap_tos "$ITM_PCAP" | head -1)" 0x10 "first TOS"
#
# Nodes are named by their short name (h1, r); itm_nsname gives the real
# network namespace ("itm-qostos-4242-h1").  Veth pairs are created
# directly inside the namespaces, so no interface ever appears in the host
# namespace; the device in A facing B is "to-B" (itm_dev A B).
#
# Rules: call the functions that start processes (itm_bg, itm_capture,
# itm_agent_start) from the test's main shell, not inside $(...), so their
# pids are tracked.  itm_iperf may run inside $(...): it cleans up itself.
# Environment: ITM_BUILD (build tree), ITM_SRC (source tree), ITM_KEEP=1
# keeps $ITM_TMP, ITM_NETX (second octet of test addresses, default 77),
# ITM_VERBOSE=1 traces the helpers' commands.

# shellcheck disable=SC2034  # variables are for the tests that source us
[ -n "${ITM_LIB_LOADED:-}" ] && return 0
ITM_LIB_LOADED=1

if [ -z "${BASH_VERSION:-}" ]; then
	echo "lib.sh: needs bash" >&2
	exit 1
fi

: "${ITM_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${ITM_BUILD:=$ITM_SRC/build}"
: "${ITM_NETX:=77}"
export ITM_SRC ITM_BUILD

ITM_NAME=""
ITM_PFX=""
ITM_TMP=""
ITM_MODE=""		# "test" or "lab"
ITM_MAIN_PID=""
ITM_CLEANED=0
ITM_NSS=()		# full namespace names we created, in order
ITM_PIDS=()		# background pids we started
ITM_ATEXIT=()		# commands for itm_on_exit
ITM_SEQ=0
declare -A ITM_AGENT_PID=()

# ---------------------------------------------------------------------
# Messages, failures, assertions
# ---------------------------------------------------------------------

itm_log() {
	printf '%s [%s] %s\n' "$(date +%T.%3N)" "${ITM_NAME:-itm}" "$*" >&2
}

itm__run() {
	[ -n "${ITM_VERBOSE:-}" ] && itm_log "+ $*"
	"$@"
}

# Print the log of every process started so far (last lines of each).
itm_dump_logs() {
	local f n=${ITM_LOG_LINES:-60}
	[ -d "$ITM_TMP" ] || return 0
	for f in "$ITM_TMP"/*.log; do
		[ -s "$f" ] || continue
		printf '%s\n' "----- ${f##*/} (last $n lines) -----" >&2
		tail -n "$n" "$f" >&2
	done
	printf '%s\n' "----- end of logs -----" >&2
}

# itm_fail MSG: print MSG and the logs, then exit 1.  Called from a
# subshell of the test, it also stops the test's main shell.
itm_fail() {
	itm_log "FAIL: $*"
	if [ -n "$ITM_MAIN_PID" ] && [ "$BASHPID" != "$ITM_MAIN_PID" ]; then
		echo "$*" >"$ITM_TMP/.failed"
		kill -TERM "$ITM_MAIN_PID" 2>/dev/null
		exit 1
	fi
	ITM_DUMPED=1
	itm_dump_logs
	exit 1
}

# itm_skip MSG: the test cannot run here (exit 77, ctest SKIP_RETURN_CODE).
itm_skip() {
	itm_log "SKIP: $*"
	exit 77
}

itm_assert_eq() {
	[ "$1" = "$2" ] ||
		itm_fail "${3:-value}: expected '$2', got '$1'"
}

# itm_assert_ge ACTUAL MIN [WHAT], itm_assert_le ACTUAL MAX [WHAT]:
# numeric, decimals allowed.
itm_assert_ge() {
	itm__cmp "$1" ">=" "$2" "${3:-value}"
}

itm_assert_le() {
	itm__cmp "$1" "<=" "$2" "${3:-value}"
}

itm__cmp() {
	itm__is_num "$1" || itm_fail "$4: '$1' is not a number"
	itm__is_num "$3" || itm_fail "$4: bound '$3' is not a number"
	awk -v a="$1" -v b="$3" -v op="$2" \
		'BEGIN { exit !(op == ">=" ? a + 0 >= b + 0 : a + 0 <= b + 0) }' ||
		itm_fail "$4: expected $2 $3, got $1"
}

# itm_assert_match TEXT REGEX [WHAT]: extended regular expression.
itm_assert_match() {
	[[ $1 =~ $2 ]] ||
		itm_fail "${3:-text}: does not match /$2/: $(printf '%.400s' "$1")"
}

itm__is_num() {
	[[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]
}

# itm_wait_for TIMEOUT CMD...: run CMD every 0.1 s until it succeeds;
# 1 when TIMEOUT seconds (decimals allowed) pass first.
itm_wait_for() {
	local t=$1 now deadline
	shift
	deadline=$(( ${EPOCHREALTIME//[^0-9]/} + $(awk -v t="$t" \
		'BEGIN { printf "%d", t * 1000000 }') ))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		now=${EPOCHREALTIME//[^0-9]/}
		[ "$now" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

itm__need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			itm_fail "'$c' is missing (run deploy/install-deps.sh)"
	done
}

# ---------------------------------------------------------------------
# Set-up and clean-up
# ---------------------------------------------------------------------

# itm_init NAME: start a test run.  Sets ITM_NAME, ITM_PFX (namespace
# prefix), ITM_IFPFX (<= 11 chars, for any host-side interface name a test
# must create: add at most 4 chars), ITM_TMP, and the cleanup traps.
itm_init() {
	local short
	[ -n "$1" ] || { echo "itm_init: need a test name" >&2; exit 2; }
	ITM_NAME=$1
	ITM_NSS=(); ITM_PIDS=(); ITM_ATEXIT=(); ITM_AGENT_PID=(); ITM_CLEANED=0
	ITM_DUMPED=""
	short=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | tr -cd 'a-z0-9' | cut -c1-6)
	ITM_MODE="test"
	ITM_MAIN_PID=$BASHPID
	ITM_PFX="itm-${short:-t}-$BASHPID"
	ITM_IFPFX="i${short:0:3}$BASHPID"
	[ "$(id -u)" -eq 0 ] || itm_skip "needs root (network namespaces)"
	itm__need ip tc
	ITM_TMP=$(mktemp -d "/tmp/$ITM_PFX.XXXXXX") ||
		{ echo "itm_init: mktemp failed" >&2; exit 1; }
	trap 'itm__cleanup' EXIT
	trap 'itm__on_signal INT 130' INT
	trap 'itm__on_signal TERM 143' TERM
	trap 'itm__on_signal HUP 129' HUP
	itm__reap_own_stale
	itm_log "prefix $ITM_PFX, temp $ITM_TMP"
}

itm__on_signal() {
	set +e
	if [ -f "$ITM_TMP/.failed" ]; then
		itm_log "FAIL (in a subshell): $(cat "$ITM_TMP/.failed")"
		ITM_DUMPED=1
		itm_dump_logs
		exit 1
	fi
	itm_log "interrupted by SIG$1"
	exit "$2"
}

# Namespaces with our exact prefix can only be left over by an earlier
# process with our pid, which is dead: remove them.
itm__reap_own_stale() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		case $ns in
		"$ITM_PFX"-*) itm_log "removing stale namespace $ns"
			itm__ns_kill_all "$ns"
			ip netns del "$ns" 2>/dev/null ;;
		esac
	done
}

itm__cleanup() {
	local rc=$?
	set +e		# a failing command must not cut the cleanup short
	[ "$ITM_CLEANED" = 1 ] && return
	[ "$BASHPID" = "$ITM_MAIN_PID" ] || return
	ITM_CLEANED=1
	trap '' INT TERM HUP	# the cleanup itself is not interrupted
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -z "${ITM_DUMPED:-}" ]; then
		itm_log "exit status $rc"
		itm_dump_logs
	fi
	itm__run_atexit
	itm__stop_pids
	itm__del_all_ns
	if [ -n "${ITM_KEEP:-}" ]; then
		itm_log "kept $ITM_TMP"
	else
		rm -rf -- "$ITM_TMP"
	fi
	return "$rc"
}

# itm_on_exit CMD...: run CMD (as one eval'd string) first thing at
# cleanup, before processes and namespaces go; last registered runs first.
itm_on_exit() {
	ITM_ATEXIT+=("$*")
}

itm__run_atexit() {
	local i
	for ((i = ${#ITM_ATEXIT[@]} - 1; i >= 0; i--)); do
		eval "${ITM_ATEXIT[$i]}" || itm_log "warning: at exit: ${ITM_ATEXIT[$i]} failed"
	done
	ITM_ATEXIT=()
}

# True when pid $1 is a child of this shell (running or a zombie): a
# tracked pid that exited and was reaped may belong to someone else now.
itm__is_child() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	read -r _ st _ <<<"$st"
	[ "$st" = "$BASHPID" ]
}

# SIGTERM to every tracked process, SIGKILL to those still there after 3 s.
itm__stop_pids() {
	local p i live=()
	for p in "${ITM_PIDS[@]}"; do
		itm__is_child "$p" && live+=("$p")
	done
	ITM_PIDS=()
	[ "${#live[@]}" -gt 0 ] || return 0
	kill -TERM "${live[@]}" 2>/dev/null
	for i in $(seq 30); do
		itm__all_dead "${live[@]}" && break
		sleep 0.1
	done
	for p in "${live[@]}"; do
		itm__is_child "$p" && kill -KILL "$p" 2>/dev/null
		{ wait "$p"; } 2>/dev/null
	done
}

# True when none of the pids runs.
itm__all_dead() {
	local p
	for p in "$@"; do
		itm__dead "$p" || return 1
	done
	return 0
}

# Kill whatever still runs inside namespace $1, then wait until it is gone.
itm__ns_kill_all() {
	local pids i
	for i in $(seq 50); do
		pids=$(ip netns pids "$1" 2>/dev/null)
		[ -z "$pids" ] && return 0
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
		sleep 0.1
	done
	itm_log "warning: processes left in $1: $pids"
	return 1
}

itm__del_all_ns() {
	local ns
	for ns in "${ITM_NSS[@]}"; do
		itm__ns_kill_all "$ns"
		ip netns del "$ns" 2>/dev/null ||
			itm_log "warning: could not delete namespace $ns"
	done
	ITM_NSS=()
}

# ---------------------------------------------------------------------
# Namespaces and links
# ---------------------------------------------------------------------

# itm_nsname NODE: the network namespace of NODE ("-" is the host).
itm_nsname() {
	case $1 in
	-|"$ITM_PFX"-*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$ITM_PFX-$1" ;;
	esac
}

itm__short() {
	printf '%s\n' "${1#"$ITM_PFX"-}"
}

# itm_exec NODE CMD...: run CMD in NODE's namespace ("-": on the host).
itm_exec() {
	local ns
	ns=$(itm_nsname "$1")
	shift
	if [ "$ns" = - ]; then
		"$@"
	else
		ip netns exec "$ns" "$@"
	fi
}

# itm_ns NODE: create the namespace of NODE with lo up.
itm_ns() {
	local ns
	ns=$(itm_nsname "$1")
	itm__run ip netns add "$ns" || itm_fail "cannot create namespace $ns"
	ITM_NSS+=("$ns")
	[ "$ITM_MODE" = lab ] && echo "$ns" >>"$ITM_TMP/namespaces"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 >/dev/null 2>&1
	return 0
}

# itm_dev A B: name of the device in A facing B (first link A-B).
itm_dev() {
	local b
	b=$(itm__short "$2")
	printf '%s\n' "to-${b:0:12}"
}

# A free device name in namespace $1 for a link towards $2.
itm__free_dev() {
	local base n=2 name
	base=$(itm_dev "$1" "$2")
	name=$base
	while ip -n "$(itm_nsname "$1")" link show "$name" >/dev/null 2>&1; do
		name="${base:0:13}$n"
		n=$((n + 1))
	done
	printf '%s\n' "$name"
}

# itm_link A B [ADDR_A/LEN ADDR_B/LEN]: a veth pair between A and B, up.
# Sets ITM_LINK_DEV_A and ITM_LINK_DEV_B (usually to-B in A, to-A in B).
itm_link() {
	local nsa nsb da db
	nsa=$(itm_nsname "$1")
	nsb=$(itm_nsname "$2")
	da=$(itm__free_dev "$1" "$2")
	db=$(itm__free_dev "$2" "$1")
	itm__run ip -n "$nsa" link add "$da" type veth peer name "$db" \
		netns "$nsb" || itm_fail "cannot create veth $1:$da -- $2:$db"
	ip -n "$nsa" link set "$da" up && ip -n "$nsb" link set "$db" up ||
		itm_fail "cannot bring up $da/$db"
	if [ -n "${3:-}" ]; then
		itm__run ip -n "$nsa" addr add "$3" dev "$da" &&
		itm__run ip -n "$nsb" addr add "$4" dev "$db" ||
			itm_fail "cannot add addresses $3 $4"
	fi
	ITM_LINK_DEV_A=$da
	ITM_LINK_DEV_B=$db
}

# itm_forwarding NODE: turn IPv4 forwarding on in NODE.
itm_forwarding() {
	itm_exec "$1" sysctl -qw net.ipv4.ip_forward=1 >/dev/null ||
		itm_fail "cannot enable forwarding in $1"
}

# itm_route NODE PREFIX|default GATEWAY
itm_route() {
	itm__run ip -n "$(itm_nsname "$1")" route add "$2" via "$3" ||
		itm_fail "cannot add route $2 via $3 in $1"
}

# itm_addr NODE: the first IPv4 address of NODE (without length).
itm_addr() {
	ip -n "$(itm_nsname "$1")" -4 -o addr show scope global |
		awk '{ sub("/.*", "", $4); print $4; exit }'
}

# itm_topo_line [H1 R H2]: H1 10.X.1.2/24 -- 10.X.1.1/24 R 10.X.2.1/24 --
# 10.X.2.2/24 H2 (X = ITM_NETX), forwarding on in R, default routes on the
# hosts.  Sets ITM_H1_IP ITM_H2_IP ITM_R_IP1 ITM_R_IP2 (addresses),
# ITM_H1_DEV ITM_H2_DEV (the hosts' devices), ITM_R_DEV1 (R towards H1)
# and ITM_R_DEV2 (R towards H2).
itm_topo_line() {
	local h1=${1:-h1} r=${2:-r} h2=${3:-h2} x=$ITM_NETX
	itm_ns "$h1"; itm_ns "$r"; itm_ns "$h2"
	itm_link "$h1" "$r" "10.$x.1.2/24" "10.$x.1.1/24"
	ITM_H1_DEV=$ITM_LINK_DEV_A; ITM_R_DEV1=$ITM_LINK_DEV_B
	itm_link "$r" "$h2" "10.$x.2.1/24" "10.$x.2.2/24"
	ITM_R_DEV2=$ITM_LINK_DEV_A; ITM_H2_DEV=$ITM_LINK_DEV_B
	itm_forwarding "$r"
	itm_route "$h1" default "10.$x.1.1"
	itm_route "$h2" default "10.$x.2.1"
	ITM_H1_IP=10.$x.1.2; ITM_R_IP1=10.$x.1.1
	ITM_R_IP2=10.$x.2.1; ITM_H2_IP=10.$x.2.2
}

# itm_topo_chain N: n1 -- n2 -- ... -- nN.  Link i (n_i -- n_i+1) is
# 10.X.i.0/24 with n_i at .1 and n_i+1 at .2; forwarding everywhere;
# static routes so every node reaches every other.  itm_chain_ip I gives
# an address of node i.
itm_topo_chain() {
	local n=$1 i j
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 2 ] && [ "$n" -le 250 ] ||
		itm_fail "itm_topo_chain: N must be 2..250, got '$n'"
	for i in $(seq "$n"); do itm_ns "n$i"; itm_forwarding "n$i"; done
	for i in $(seq $((n - 1))); do
		itm_link "n$i" "n$((i + 1))" "10.$ITM_NETX.$i.1/24" \
			"10.$ITM_NETX.$i.2/24"
	done
	itm_route n1 default "10.$ITM_NETX.1.2"
	itm_route "n$n" default "10.$ITM_NETX.$((n - 1)).1"
	for i in $(seq 2 $((n - 1))); do
		for j in $(seq $((n - 1))); do
			if [ "$j" -lt $((i - 1)) ]; then
				itm_route "n$i" "10.$ITM_NETX.$j.0/24" \
					"10.$ITM_NETX.$((i - 1)).1"
			elif [ "$j" -gt "$i" ]; then
				itm_route "n$i" "10.$ITM_NETX.$j.0/24" \
					"10.$ITM_NETX.$i.2"
			fi
		done
	done
	ITM_CHAIN_N=$n
}

itm_chain_ip() {
	if [ "$1" -lt "$ITM_CHAIN_N" ]; then
		echo "10.$ITM_NETX.$1.1"
	else
		echo "10.$ITM_NETX.$(($1 - 1)).2"
	fi
}

# ---------------------------------------------------------------------
# Link shaping: bandwidth (HTB); delay: deploy/lab/net.sh
# ---------------------------------------------------------------------

# itm_shape NODE DEV RATE: egress of DEV limited to RATE (tc units, e.g.
# 100mbit) by one HTB class.  Packets then wait in the class's queue.
itm_shape() {
	local ns
	ns=$(itm_nsname "$1")
	itm__run tc -n "$ns" qdisc replace dev "$2" root handle 1: htb \
		default 1 &&
	itm__run tc -n "$ns" class add dev "$2" parent 1: classid 1:1 htb \
		rate "$3" ceil "$3" quantum 1514 ||
		itm_fail "cannot shape $1:$2 to $3"
}

# Delays: the lab's links and paths are delayed in its _net namespace by
# one itm-delay (deploy/lab/net.sh); itm_delay_bin finds the program.
itm_delay_bin() {
	local b
	for b in "$ITM_BUILD/deploy/tools/itm-delay" \
		 "$ITM_BUILD/deploy/tools/itm-delay/itm-delay"; do
		[ -x "$b" ] && { echo "$b"; return 0; }
	done
	return 0
}

# True when NFQUEUE number $2 in node $1 has a listener.
itm__queue_bound() {
	itm_exec "$1" awk -v q="$2" '$1 == q { f = 1 } END { exit !f }' \
		/proc/net/netfilter/nfnetlink_queue
}

# ---------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------

# itm_bg NODE [--name NAME] CMD...: start CMD in the background inside
# NODE ("-": on the host), output to $ITM_TMP/NAME.log.  Sets ITM_LAST_PID
# and ITM_LAST_LOG.  NAME defaults to <node>-<command>[-<n>].
itm_bg() {
	local node=$1 ns name log
	shift
	if [ "${1:-}" = --name ]; then name=$2; shift 2; fi
	[ $# -gt 0 ] || itm_fail "itm_bg: no command"
	ns=$(itm_nsname "$node")
	: "${name:=$(itm__short "$node")-${1##*/}}"
	log="$ITM_TMP/$name.log"
	[ -e "$log" ] && { ITM_SEQ=$((ITM_SEQ + 1)); log="$ITM_TMP/$name-$ITM_SEQ.log"; }
	itm__spawn "$ns" "$log" "$@"
	ITM_PIDS+=("$ITM_LAST_PID")
	ITM_LAST_LOG=$log
	[ "$ITM_MODE" = lab ] && echo "$ITM_LAST_PID ${log##*/}" >>"$ITM_TMP/pids"
	[ -n "${ITM_VERBOSE:-}" ] && itm_log "started $* (pid $ITM_LAST_PID)"
	return 0
}

# A lab's processes get their own session so they outlive lab.sh.
itm__spawn() {
	local ns=$1 log=$2 pre=()
	shift 2
	[ "$ITM_MODE" = lab ] && pre=(setsid)
	[ "$ns" != - ] && pre+=(ip netns exec "$ns")
	"${pre[@]}" "$@" >"$log" 2>&1 </dev/null &
	ITM_LAST_PID=$!
}

# itm_stop PID [TIMEOUT]: SIGTERM, wait (default 5 s), SIGKILL.  Returns
# the process's exit status (137 when it had to be killed).
itm_stop() {
	local pid=$1 t=${2:-5} rc
	if ! itm__is_child "$pid" || ! kill -TERM "$pid" 2>/dev/null; then
		{ wait "$pid"; } 2>/dev/null
		return $?
	fi
	if ! itm_wait_for "$t" itm__dead "$pid"; then
		itm_log "pid $pid ignored SIGTERM for ${t}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	return "$rc"
}

# True when pid $1 does not run (gone, or a zombie not yet reaped).
itm__dead() {
	! kill -0 "$1" 2>/dev/null ||
		grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# ---------------------------------------------------------------------
# Traffic
# ---------------------------------------------------------------------

# itm_iperf NS_SRV ADDR NS_CLI [SECS [IPERF3 OPTS...]]: one iperf3 run from
# NS_CLI to ADDR in NS_SRV.  Prints Gbit/s (receiver side) on stdout;
# the JSON report is left in $ITM_TMP/iperf-last.json (and ITM_IPERF_JSON
# when not called in a subshell).  Returns 1 when iperf3 failed.
itm_iperf() {
	local srv=$1 addr=$2 cli=$3 secs=${4:-3} port json slog spid rc=0
	shift $(( $# < 4 ? $# : 4 ))
	itm__need iperf3 ss python3
	# Distinct per call, also for calls running side by side in subshells.
	ITM_SEQ=$((ITM_SEQ + 1))
	port=$((20000 + (BASHPID * 7 + ITM_SEQ) % 20000))
	while itm__listening "$srv" "$port"; do port=$((port + 1)); done
	json="$ITM_TMP/iperf-$(itm__short "$cli")-$BASHPID-$ITM_SEQ.json"
	slog="$ITM_TMP/iperf-server-$(itm__short "$srv")-$BASHPID-$ITM_SEQ.log"
	ip netns exec "$(itm_nsname "$srv")" \
		iperf3 -s -1 -B "$addr" -p "$port" >"$slog" 2>&1 </dev/null &
	spid=$!
	itm_wait_for 5 itm__listening "$srv" "$port" ||
		{ kill "$spid" 2>/dev/null; echo "itm_iperf: no server" >&2; return 1; }
	itm_exec "$cli" iperf3 -c "$addr" -p "$port" -t "$secs" -J "$@" \
		>"$json" 2>>"$slog" || rc=1
	itm_wait_for 5 itm__dead "$spid" || kill -KILL "$spid" 2>/dev/null
	{ wait "$spid"; } 2>/dev/null
	cp -f "$json" "$ITM_TMP/iperf-last.json"
	ITM_IPERF_JSON=$json
	itm_iperf_gbps "$json" || rc=1
	return "$rc"
}

itm__listening() {
	itm_exec "$1" ss -Hltn "sport = :$2" | grep -q .
}

# itm_iperf_gbps JSON: receiver Gbit/s of an iperf3 -J report.
itm_iperf_gbps() {
	python3 - "$1" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit("itm_iperf: unreadable report %s: %s" % (sys.argv[1], e))
if "error" in j:
    sys.exit("itm_iperf: iperf3: " + j["error"])
end = j.get("end", {})
s = end.get("sum_received") or end.get("sum") or {}
if "bits_per_second" not in s:
    sys.exit("itm_iperf: no throughput in report")
print("%.3f" % (s["bits_per_second"] / 1e9))
EOF
}

# itm_ping NODE ADDR [COUNT [INTERVAL [PING OPTS...]]]: average RTT in ms
# of the replies; returns 1 when every packet was lost.
itm_ping() {
	local node=$1 addr=$2 c=${3:-5} i=${4:-0.2} out
	shift $(( $# < 4 ? $# : 4 ))
	out=$(itm_exec "$node" ping -n -q -c "$c" -i "$i" -W 2 "$@" "$addr" \
		2>&1) || true
	awk -F/ '/^(rtt|round-trip)/ { print $5; f = 1 } END { exit !f }' \
		<<<"$out"
}

# itm_capture NODE DEV FILTER COUNT: tcpdump on DEV in NODE, stopping after
# COUNT packets, into a pcap.  Returns when tcpdump listens.  Sets
# ITM_PCAP (the file) and ITM_CAP_PID.
itm_capture() {
	local node=$1 dev=$2 filter=$3 count=$4 short
	itm__need tcpdump
	short=$(itm__short "$node")
	ITM_SEQ=$((ITM_SEQ + 1))
	ITM_PCAP="$ITM_TMP/cap-$short-$dev-$ITM_SEQ.pcap"
	itm_bg "$node" --name "tcpdump-$short-$dev-$ITM_SEQ" \
		tcpdump -i "$dev" -n -U -Z root -s 256 -c "$count" \
		-w "$ITM_PCAP" ${filter:+"$filter"}
	ITM_CAP_PID=$ITM_LAST_PID
	itm_wait_for 10 grep -q "listening on" "$ITM_LAST_LOG" ||
		itm_fail "tcpdump on $node:$dev did not start"
}

# itm_capture_wait TIMEOUT [PID]: wait for the capture to reach its count;
# on timeout stop it (the pcap stays valid) and return 1.
itm_capture_wait() {
	local pid=${2:-$ITM_CAP_PID}
	if itm_wait_for "$1" itm__dead "$pid"; then
		{ wait "$pid"; } 2>/dev/null
		return 0
	fi
	kill -INT "$pid" 2>/dev/null
	itm_wait_for 3 itm__dead "$pid" || kill -KILL "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	return 1
}

# itm_pcap_tos FILE: the TOS byte (IPv4) or traffic class (IPv6) of every
# packet, one "0x%02x" per line; "-" for a packet that is not IP.
itm_pcap_tos() {
	itm__pcap tos "$1"
}

# itm_pcap_tos_dport FILE: "TOS DPORT" of every packet ("0x%02x" and the
# TCP/UDP destination port; "-" for what a packet does not have).
itm_pcap_tos_dport() {
	itm__pcap tosport "$1"
}

# itm_syn_tos PORT: the TOS byte, as seen on h2's side of the line, of the
# SYN that h1 sends to h2:PORT (itm_topo_line; nobody need listen).
itm_syn_tos() {
	itm_capture h2 "$ITM_H2_DEV" \
		"tcp and src host $ITM_H1_IP and dst port $1" 1
	itm_exec h1 bash -c "exec 3<>/dev/tcp/$ITM_H2_IP/$1" 2>/dev/null || true
	itm_capture_wait 10 || itm_fail "no packet to port $1 captured"
	itm_pcap_tos "$ITM_PCAP"
}

# itm_pcap_count FILE: number of packets in FILE.
itm_pcap_count() {
	itm__pcap count "$1"
}

itm__pcap() {
	python3 - "$1" "$2" <<'EOF'
import struct, sys
mode, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
if len(data) < 24:
    sys.exit("pcap %s: too short" % path)
magic = data[:4]
if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    e = "<"
elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
    e = ">"
else:
    sys.exit("pcap %s: not a classic pcap file" % path)
link = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF

def l3(pkt):
    """(ethertype, offset of the L3 header) for the link type."""
    if link == 1:                       # Ethernet, maybe VLAN tagged
        off, et = 14, struct.unpack(">H", pkt[12:14])[0]
        while et in (0x8100, 0x88A8) and len(pkt) >= off + 4:
            et = struct.unpack(">H", pkt[off + 2:off + 4])[0]
            off += 4
        return et, off
    if link == 113:                     # Linux cooked v1
        return struct.unpack(">H", pkt[14:16])[0], 16
    if link == 276:                     # Linux cooked v2
        return struct.unpack(">H", pkt[0:2])[0], 20
    if link in (12, 101, 228, 229):     # raw IP
        v = pkt[0] >> 4 if pkt else 0
        return (0x0800 if v == 4 else 0x86DD if v == 6 else 0), 0
    sys.exit("pcap %s: unsupported link type %d" % (path, link))

off, n = 24, 0
while off + 16 <= len(data):
    caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
    pkt = data[off + 16:off + 16 + caplen]
    off += 16 + caplen
    n += 1
    if mode == "count":
        continue
    et, o = l3(pkt) if len(pkt) >= 20 else (0, 0)
    tos, proto, l4 = "-", None, None
    if et == 0x0800 and len(pkt) > o + 1 and pkt[o] >> 4 == 4:
        tos = "0x%02x" % pkt[o + 1]
        if len(pkt) > o + 9:
            proto, l4 = pkt[o + 9], o + (pkt[o] & 0x0F) * 4
    elif et == 0x86DD and len(pkt) > o + 1 and pkt[o] >> 4 == 6:
        tos = "0x%02x" % (((pkt[o] & 0x0F) << 4) | (pkt[o + 1] >> 4))
        if len(pkt) > o + 6:
            proto, l4 = pkt[o + 6], o + 40
    if mode == "tos":
        print(tos)
        continue
    dport = "-"
    if proto in (6, 17) and len(pkt) >= l4 + 4:
        dport = str(struct.unpack(">H", pkt[l4 + 2:l4 + 4])[0])
    print(tos, dport)
if mode == "count":
    print(n)
EOF
}

# ---------------------------------------------------------------------
# itm-agent and itmctl
# ---------------------------------------------------------------------

itm_agent_bin() { echo "$ITM_BUILD/agent/itm-agent"; }
itm_ctl_bin() { echo "$ITM_BUILD/controller/itmctl/itmctl"; }

# ---------------------------------------------------------------------
# The controller's store: SQLite, or etcd with ITM_TEST_STORE=etcd
# ---------------------------------------------------------------------

# itm_store NODE FILE: set ITM_STORE, what a controller in NODE's
# namespace is given as --store: the SQLite FILE, or with
# ITM_TEST_STORE=etcd (the integ.*.etcd variants of the controller tests)
# a real etcd started in NODE's namespace on its own loopback, data under
# ITM_TMP, stopped with the namespace.
itm_store() {
	ITM_STORE_NODE=$1
	if [ "${ITM_TEST_STORE:-sqlite}" != etcd ]; then
		ITM_STORE=$2
		return 0
	fi
	itm__need etcd etcdctl
	itm_bg "$1" --name etcd etcd --name itm --data-dir "$ITM_TMP/etcd" \
		--listen-client-urls http://127.0.0.1:2379 \
		--advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 \
		--initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster itm=http://127.0.0.1:2380 \
		--logger zap --log-level warn
	itm_wait_for 15 itm_exec "$1" etcdctl --endpoints 127.0.0.1:2379 \
		endpoint health ||
		itm_fail "etcd did not start in $1: $(tail -5 "$ITM_LAST_LOG")"
	ITM_STORE=etcd://127.0.0.1:2379/itm
	itm_log "store: $ITM_STORE (etcd in $1)"
}

# itm_store_sqlite: a file to read the store with sqlite3: the SQLite
# file itself, or the etcd store exported (itm-controller --export) to a
# fresh one.
itm_store_sqlite() {
	local out=$ITM_TMP/store-export.db
	case $ITM_STORE in
	etcd://*)
		rm -f "$out" "$out-wal" "$out-shm"
		itm_exec "$ITM_STORE_NODE" "$ITM_BUILD/controller/itm-controller" \
			--store "$ITM_STORE" --export "$out" >/dev/null ||
			return 1
		echo "$out"
		;;
	*) echo "$ITM_STORE" ;;
	esac
}

# itm_store_stamp: changes whenever anything is written to the store: the
# SQLite file's and its WAL's checksums, or on etcd every key's revision
# but the leader's (the leading controller re-puts it every second).
itm_store_stamp() {
	case $ITM_STORE in
	etcd://*)
		itm_exec "$ITM_STORE_NODE" etcdctl --endpoints 127.0.0.1:2379 \
			get --from-key '' -w json | /usr/bin/python3 -c '
import base64, json, sys
kvs = json.load(sys.stdin).get("kvs", [])
print(sorted((base64.b64decode(kv["key"]).decode(), kv["mod_revision"])
	     for kv in kvs
	     if not base64.b64decode(kv["key"]).endswith(b"/leader")))'
		;;
	*) cat "$ITM_STORE" "$ITM_STORE-wal" 2>/dev/null | cksum ;;
	esac
}

# Unix socket of agent NAME.
itm_agent_sock() { echo "$ITM_TMP/agent-$1.sock"; }

# itm_agent_start NODE NAME [AGENT ARGS...]: itm-agent --node NAME in NODE,
# its socket in $ITM_TMP, module dirs of the build tree; returns when
# `itmctl status` answers.  Sets ITM_AGENT_PID[NAME].
itm_agent_start() {
	local node=$1 name=$2 bin sock
	shift 2
	bin=$(itm_agent_bin)
	[ -x "$bin" ] || itm_fail "itm-agent is not built: $bin"
	sock=$(itm_agent_sock "$name")
	itm__moddir_args
	itm_bg "$node" --name "agent-$name" "$bin" --node "$name" \
		--socket "$sock" "${ITM__MODARGS[@]}" "$@"
	ITM_AGENT_PID[$name]=$ITM_LAST_PID
	itm__agent_wait "$node" "$name" "$ITM_LAST_PID" "$ITM_LAST_LOG"
}

# --module-dir for the build tree's modules (and ITM_AGENT_MODDIRS, space
# separated) into ITM__MODARGS.
itm__moddir_args() {
	local d extra=()
	read -ra extra <<<"${ITM_AGENT_MODDIRS:-}"
	ITM__MODARGS=()
	for d in "$ITM_BUILD/modules" "$ITM_BUILD/modules/examples" \
		 "${extra[@]}"; do
		[ -d "$d" ] && ITM__MODARGS+=(--module-dir "$d")
	done
	return 0
}

# Ready = `itmctl status` answers; without itmctl (not built yet), the
# agent has logged "ready" and its socket exists.
itm__agent_wait() {
	local node=$1 name=$2 pid=$3 log=$4 t=${ITM_AGENT_TIMEOUT:-20} probe
	if [ -x "$(itm_ctl_bin)" ]; then
		probe=(itm_ctl "$node" "$name" status)
	else
		itm_log "itmctl is not built: waiting for the agent's socket"
		probe=(itm__agent_sock_ready "$name" "$log")
	fi
	itm_wait_for "$t" itm__agent_up "$pid" "${probe[@]}"
	itm__dead "$pid" && itm_fail "itm-agent $name exited during start-up"
	"${probe[@]}" >/dev/null 2>&1 ||
		itm_fail "itm-agent $name not ready after ${t}s"
	return 0
}

# Success when CMD... succeeds; also stops waiting when pid $1 is gone.
itm__agent_up() {
	local pid=$1
	shift
	itm__dead "$pid" && return 0
	"$@"
}

itm__agent_sock_ready() {
	[ -S "$(itm_agent_sock "$1")" ] && grep -q "ready" "$2"
}

# itm_agent_stop NAME [TIMEOUT]: SIGTERM the agent and wait; returns its
# exit status.
itm_agent_stop() {
	local pid=${ITM_AGENT_PID[$1]:-}
	[ -n "$pid" ] || itm_fail "itm_agent_stop: no agent named $1"
	unset 'ITM_AGENT_PID[$1]'
	itm_stop "$pid" "${2:-10}"
}

# itm_ctl NODE NAME ARGS...: itmctl --agent unix:<socket of NAME> ARGS.
itm_ctl() {
	local node=$1 name=$2 bin
	shift 2
	bin=$(itm_ctl_bin)
	[ -x "$bin" ] || { echo "itmctl is not built: $bin" >&2; return 127; }
	itm_exec "$node" "$bin" --agent "unix:$(itm_agent_sock "$name")" "$@"
}

# itm_tcp_counter NODE: a plain iptables counter of every TCP packet at
# POSTROUTING of NODE, what a module's stats there must add up to.  Install
# it before the agent, so the agent's jump goes in front of it.
itm_tcp_counter() {
	itm_exec "$1" iptables -t mangle -A POSTROUTING -p tcp ||
		itm_fail "cannot install the TCP counter in $1"
}

# itm_stats_match_counter NODE NAME MODULE FILE: `itmctl stats` of MODULE
# (saved as JSON in FILE for further checks) counts exactly the packets
# and bytes of itm_tcp_counter, settled packets included.
itm_stats_match_counter() {
	local node=$1 name=$2 module=$3 file=$4 kpkts kbytes
	sleep 0.5	# let the last ACKs pass
	itm_ctl "$node" "$name" stats --module "$module" -o json >"$file" ||
		itm_fail "itmctl stats failed"
	read -r kpkts kbytes < <(itm_exec "$node" iptables -t mangle \
		-L POSTROUTING -v -x -n | awk '$3 == "6" { print $1, $2 }')
	python3 - "$file" "$kpkts" "$kbytes" <<'PY' ||
import json, sys
s = json.load(open(sys.argv[1]))
kp, kb = int(sys.argv[2]), int(sys.argv[3])
cls = [c for m in s["modules"] for r in m["registrations"]
       for c in r["classes"]]
p = sum(c["packets"] for c in cls)
b = sum(c["bytes"] for c in cls)
if (p, b) != (kp, kb):
    sys.exit("stats: %d packets / %d bytes, the kernel counted %d / %d"
             % (p, b, kp, kb))
print("stats ok: %d packets, %d bytes" % (p, b))
PY
		itm_fail "stats do not match the kernel's counter"
}

# ---------------------------------------------------------------------
# Lab mode (deploy/lab/lab.sh): same functions, persistent state
# ---------------------------------------------------------------------

# itm_lab_attach NAME: use lab NAME's prefix (itmlab-NAME) and state dir
# (/run/itm-lab/NAME, made by the caller) without any exit trap;
# namespaces and pids are recorded there for `lab.sh down`.
itm_lab_attach() {
	[[ $1 =~ ^[a-zA-Z0-9_]{1,16}$ ]] ||
		{ echo "lab name '$1': use 1-16 letters, digits, _" >&2; exit 2; }
	ITM_NAME="lab $1"
	ITM_MODE=lab
	ITM_PFX="itmlab-$1"
	ITM_TMP="${ITM_LAB_DIR:-/run/itm-lab}/$1"
	ITM_MAIN_PID=""
	[ -f "$ITM_TMP/namespaces" ] && mapfile -t ITM_NSS <"$ITM_TMP/namespaces"
	return 0
}
