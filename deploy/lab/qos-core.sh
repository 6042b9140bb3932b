#!/bin/sh
# qos-core.sh - the core router's queueing for qosmod (paper section 5):
# egress of DEV limited to RATE by HTB, with two classes
#   1:10  high priority: packets whose TOS byte has the qosmod bit (0x10)
#   1:20  everything else (default)
# selected by u32 filters on the TOS byte.  The high class is served first
# (prio 0, 90% of RATE guaranteed) and both may borrow up to RATE, so short
# flows (marked by qosmod) pass long ones (unmarked) at a loaded link.
# With a list of TOS values (qosmod's multi-level mode, mode=dscp), each
# gets its own class, 1:10, 1:11, ..., served in that order before 1:20.
#
#   qos-core.sh NS DEV RATE [TOS[/MASK][,TOS[/MASK]...]]
#                                          install (default 0x10/0x10)
#   qos-core.sh NS DEV show                class counters
#   qos-core.sh NS DEV del                 remove
#
# NS is a network namespace name ("-": the current one).  This kernel has
# HTB and u32 but no prio, sfq, fq or netem; u32 cannot match marks, so
# the TOS byte itself is the key.
set -eu

usage() {
	echo "usage: qos-core.sh NS DEV RATE [TOS[/MASK][,...]] | NS DEV show | NS DEV del" >&2
	exit 2
}

[ $# -ge 3 ] || usage
ns=$1 dev=$2 what=$3 match=${4:-0x10/0x10}

tcn() {
	if [ "$ns" = - ]; then tc "$@"; else tc -n "$ns" "$@"; fi
}

# RATE in bit/s from tc's notation (100mbit, 1gbit, 500kbit, 1000000bit).
rate_bits() {
	echo "$1" | awk '
	{ r = tolower($0) }
	r ~ /^[0-9.]+gbit$/ { printf "%d", r * 1e9; exit }
	r ~ /^[0-9.]+mbit$/ { printf "%d", r * 1e6; exit }
	r ~ /^[0-9.]+kbit$/ { printf "%d", r * 1e3; exit }
	r ~ /^[0-9]+(bit)?$/ { printf "%d", r + 0; exit }
	{ exit 1 }'
}

install() {
	bits=$(rate_bits "$what") || {
		echo "qos-core: bad rate '$what' (e.g. 100mbit, 1gbit)" >&2; exit 2; }
	[ "$bits" -ge 8000 ] || { echo "qos-core: rate too low" >&2; exit 2; }
	n=$(echo "$match" | tr ',' '\n' | grep -c .)
	[ "$n" -ge 1 ] && [ "$n" -le 9 ] || {
		echo "qos-core: 1 to 9 TOS values" >&2; exit 2; }
	hi=$((bits * 9 / 10 / n)) lo=$((bits / 10))
	tcn qdisc del dev "$dev" root 2>/dev/null || true
	tcn qdisc add dev "$dev" root handle 1: htb default 20
	tcn class add dev "$dev" parent 1: classid 1:1 htb \
		rate "${bits}bit" ceil "${bits}bit" quantum 1514
	i=0
	for m in $(echo "$match" | tr ',' ' '); do
		high_class "$i" "$m"
		i=$((i + 1))
	done
	tcn class add dev "$dev" parent 1:1 classid 1:20 htb \
		rate "${lo}bit" ceil "${bits}bit" prio "$n" quantum 1514
	tcn qdisc add dev "$dev" parent 1:20 handle 20: pfifo limit 1000
	if [ "$n" -eq 1 ]; then
		echo "qos-core: $dev at $what: TOS $tos/$mask -> 1:10 (high), rest -> 1:20"
	else
		echo "qos-core: $dev at $what: TOS $match -> 1:10..1:1$((n - 1)) in order, rest -> 1:20"
	fi
}

# High class I (1:1I, prio I) for TOS[/MASK] $2.
high_class() {
	tos=${2%/*} mask=${2#*/}
	[ "$mask" = "$2" ] && mask=$tos
	tcn class add dev "$dev" parent 1:1 classid "1:1$1" htb \
		rate "${hi}bit" ceil "${bits}bit" prio "$1" quantum 1514
	tcn qdisc add dev "$dev" parent "1:1$1" handle "1$1:" pfifo limit 1000
	tcn filter add dev "$dev" parent 1: protocol ip prio "$(($1 + 1))" u32 \
		match ip tos "$tos" "$mask" flowid "1:1$1"
}

case $what in
show)	tcn -s class show dev "$dev" ;;
del)	tcn qdisc del dev "$dev" root ;;
*)	install ;;
esac
