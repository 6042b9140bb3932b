#!/bin/bash
# deps_commands.sh - every command a test, benchmark or deploy script asks
# for (itm__need CMD..., lab_need CMD...) comes from a package that
# deploy/install-deps.sh installs, or from one of their dependencies, or
# from an essential package.  A fresh Debian 12 machine has nothing else,
# so a command that only a developer's machine has would fail there.
#
#   ITM_SRC=. tests/integ/deps_commands.sh
#
# Fails, naming the file, the command and what is wrong, when a command is
# not installed at all or comes from a package outside that closure.
set -u
SRC=${ITM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$SRC" || exit 1

fail=0
bad() { echo "deps_commands: $*" >&2; fail=1; }

for c in apt-cache dpkg dpkg-query; do
	command -v "$c" >/dev/null || { echo "deps_commands: needs $c (Debian)"; exit 77; }
done

pkgs=$(sed -n '/^PKGS="/,/"$/p' deploy/install-deps.sh | tr -d '"' | sed 's/^PKGS=//')
[ -n "$pkgs" ] || { echo "deps_commands: no PKGS=\"...\" list in deploy/install-deps.sh" >&2; exit 1; }

# shellcheck disable=SC2086
closure=$(apt-cache depends --recurse --no-recommends --no-suggests \
	--no-conflicts --no-breaks --no-replaces --no-enhances $pkgs 2>/dev/null |
	grep -v '^ ' | sed 's/:.*//' | sort -u)
[ -n "$closure" ] || { echo "deps_commands: apt-cache depends gave nothing" >&2; exit 1; }

# FILE CMD pairs: every word after itm__need / lab_need up to a shell
# operator or comment.
needs=$(grep -rnoE '(itm__need|lab_need) [A-Za-z0-9_.+ -]+' tests deploy \
	--include='*.sh' --include='*.bash' 2>/dev/null |
	grep -v '^tests/integ/deps_commands.sh' |
	awk -F: '{ n = split($3, w, " "); for (i = 2; i <= n; i++) print $1, w[i] }' |
	sort -u)
[ -n "$needs" ] || { echo "deps_commands: found no itm__need in tests/ or deploy/" >&2; exit 1; }

package_of() {
	local path=$1 real pkg
	real=$(readlink -f "$path")
	pkg=$(dpkg -S "$real" 2>/dev/null | head -1 | cut -d: -f1)
	[ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
	# /bin and /usr/bin are one directory on merged-/usr systems.
	[ -n "$pkg" ] || pkg=$(dpkg -S "${real#/usr}" 2>/dev/null | head -1 | cut -d: -f1)
	echo "$pkg"
}

# Look commands up where Debian's packages put them: a developer's PATH
# may put a hand-installed copy (pyenv, /usr/local) first.
SYSPATH=/usr/sbin:/usr/bin:/sbin:/bin

checked=0
while read -r file cmd; do
	case $cmd in -*|'') continue ;; esac
	checked=$((checked + 1))
	path=$(PATH=$SYSPATH command -v "$cmd") || {
		bad "$file needs '$cmd', which is not installed: add its package to PKGS in deploy/install-deps.sh"
		continue
	}
	case $path in /*) ;; *) continue ;; esac	# a shell builtin
	pkg=$(package_of "$path")
	if [ -z "$pkg" ]; then
		bad "$file needs '$cmd' ($path), which no Debian package owns: installed by hand?"
		continue
	fi
	[ "$(dpkg-query -W -f='${Essential}' "$pkg" 2>/dev/null)" = yes ] && continue
	grep -qx -- "$pkg" <<<"$closure" ||
		bad "$file needs '$cmd' from package $pkg, which deploy/install-deps.sh does not install (nor any package it lists depends on)"
done <<<"$needs"

[ "$fail" -eq 0 ] || exit 1
echo "deps_commands: $checked needed commands, each from a package deploy/install-deps.sh brings"
