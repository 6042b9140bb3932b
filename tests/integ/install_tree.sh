#!/bin/bash
# install_tree.sh - `cmake --install BUILD --prefix P` into a temporary
# prefix (no root needed, no namespace):
#
#  - every installed file is under P (install_manifest.txt): nothing goes
#    to /usr/local or /etc behind the operator's back
#  - the binaries, qosmod, both systemd units and both example configs
#  - the units name this install: ExecStart runs P/sbin/itm-agent (and
#    itm-controller), which exist and run; the agent's --module-dir holds
#    qosmod.so; EnvironmentFile is P/etc/itm/*.conf, next to its .example;
#    no @PLACEHOLDER@ is left; `systemd-analyze verify` accepts them (when
#    systemd-analyze is there)
#  - the example controller.conf's flags pass `itm-controller --check`,
#    and the example agent.conf's flags are all flags itm-agent knows
set -u
: "${ITM_BUILD:?ITM_BUILD must name the build tree}"
P=$(mktemp -d /tmp/itm-insttree.XXXXXX) || exit 1
trap 'rm -rf -- "$P"' EXIT

fail() {
	echo "install_tree: FAIL: $*" >&2
	exit 1
}

log() { echo "install_tree: $*" >&2; }

cmake --install "$ITM_BUILD" --prefix "$P/prefix" >"$P/install.log" 2>&1 ||
	fail "cmake --install failed: $(cat "$P/install.log")"
PREFIX=$P/prefix
cp "$ITM_BUILD/install_manifest.txt" "$P/manifest" ||
	fail "no install_manifest.txt in $ITM_BUILD"
outside=$(grep -v "^$PREFIX/" "$P/manifest")
[ -z "$outside" ] || fail "installed outside the prefix $PREFIX: $outside"
log "$(wc -l <"$P/manifest") files, all under the prefix"

# ---------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------
UNITS=$PREFIX/lib/systemd/system
for f in sbin/itm-agent sbin/itm-controller bin/itmctl; do
	[ -x "$PREFIX/$f" ] || fail "$f is not installed (or not executable)"
done
for f in lib/systemd/system/itm-agent.service lib/systemd/system/itm-controller.service \
	 etc/itm/agent.conf.example etc/itm/controller.conf.example; do
	[ -s "$PREFIX/$f" ] || fail "$f is not installed"
done
grep -q "$PREFIX/.*/itm/modules/qosmod.so$" "$P/manifest" ||
	fail "qosmod.so is not installed under $PREFIX"

# ---------------------------------------------------------------------
# The units name this install
# ---------------------------------------------------------------------
# unit_value UNIT KEY: the value of KEY= in UNIT (first one).
unit_value() {
	sed -n "s/^$2=//p" "$1" | head -1
}

check_unit() {
	local unit=$UNITS/$1 bin=$2 conf=$3 exec env
	grep -n '@[A-Z_]*@' "$unit" && fail "$1: placeholder left"
	exec=$(unit_value "$unit" ExecStart)
	[[ $exec == *"exec $PREFIX/sbin/$bin "* ]] ||
		fail "$1: ExecStart does not run $PREFIX/sbin/$bin: $exec"
	"$PREFIX/sbin/$bin" --version >/dev/null 2>&1 ||
		fail "$1: $PREFIX/sbin/$bin --version does not run"
	env=$(unit_value "$unit" EnvironmentFile)
	[ "$env" = "-$PREFIX/etc/itm/$conf" ] ||
		fail "$1: EnvironmentFile is '$env', want -$PREFIX/etc/itm/$conf"
	[ -s "$PREFIX/etc/itm/$conf.example" ] ||
		fail "$1: no $conf.example next to its EnvironmentFile"
	doc=$(unit_value "$unit" Documentation)
	[ -e "${doc#file://}" ] || fail "$1: Documentation $doc does not exist"
}
check_unit itm-agent.service itm-agent agent.conf
check_unit itm-controller.service itm-controller controller.conf

moddir=$(unit_value "$UNITS/itm-agent.service" ExecStart |
	sed -n 's/.*--module-dir \([^ ]*\).*/\1/p')
[ -n "$moddir" ] || fail "itm-agent.service passes no --module-dir"
[ -e "$moddir/qosmod.so" ] || fail "itm-agent.service: no qosmod.so in $moddir"

if command -v systemd-analyze >/dev/null 2>&1; then
	out=$(cd "$P" && systemd-analyze verify "$UNITS/itm-agent.service" \
		"$UNITS/itm-controller.service" 2>&1) ||
		fail "systemd-analyze verify: $out"
	[ -z "$out" ] || log "systemd-analyze verify said: $out"
	log "systemd-analyze verify: both units accepted"
else
	log "systemd-analyze is not installed: units not verified by systemd"
fi

# ---------------------------------------------------------------------
# The examples' flags are the binaries' flags
# ---------------------------------------------------------------------
# conf_args FILE VAR: the value of VAR as the unit's shell sees it, one
# argument a line.
conf_args() {
	(
		set -a
		# shellcheck disable=SC1090
		. "$1"
		eval "set -- \${$2}"
		printf '%s\n' "$@"
	)
}

mapfile -t args < <(conf_args "$PREFIX/etc/itm/controller.conf.example" ITM_CONTROLLER_ARGS)
out=$("$PREFIX/sbin/itm-controller" --db "$P/topology.db" "${args[@]}" --check 2>&1) ||
	fail "itm-controller refuses controller.conf.example's flags (${args[*]}): $out"
log "controller.conf.example: itm-controller --check: $out"

help=$("$PREFIX/sbin/itm-agent" --help 2>&1)
mapfile -t args < <(conf_args "$PREFIX/etc/itm/agent.conf.example" ITM_AGENT_ARGS)
[ "${#args[@]}" -gt 0 ] || fail "agent.conf.example sets no ITM_AGENT_ARGS"
for a in "${args[@]}"; do
	[[ $a == --* ]] || continue
	[[ $help == *"${a%%=*}"* ]] ||
		fail "agent.conf.example: itm-agent has no flag $a"
done
# Every flag the examples document (commented lines "#   --flag") exists.
for pair in "agent.conf.example itm-agent" "controller.conf.example itm-controller"; do
	read -r conf bin <<<"$pair"
	help=$("$PREFIX/sbin/$bin" --help 2>&1)
	for a in $(sed -n 's/^#   \(--[a-z-]*\).*/\1/p' "$PREFIX/etc/itm/$conf"); do
		[[ $help == *"$a"* ]] || fail "$conf documents $a, which $bin --help does not know"
	done
done
log "PASS"
