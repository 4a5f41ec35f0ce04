#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# zramfusectl's man page is lint-clean and names every option and column
# of --help; the systemd unit passes systemd-analyze verify (its commands
# executable, its man pages found, its dependencies known, every setting
# one systemd knows), and verify does fail on a broken copy, so that the
# pass means something.  The unit's swap safety is there: OOMScoreAdjust=
# -1000, ManagedOOMPreference=omit, MemorySwapMax=0.  The unit is made from
# systemd/zramfuse-swap.service.in with this build's zramfusectl, as
# make install makes it with bindir's.  No root needed, nothing started.
: "${top_srcdir:=.}" "${top_builddir:=.}"
log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
bindir=$(cd "$top_builddir" && pwd)
[ -x "$bindir/zramfusectl" ] || { log "FAIL: not built: $bindir/zramfusectl"; exit 1; }
MAN=$top_srcdir/man/zramfusectl.8
if command -v mandoc >/dev/null; then
	mandoc -Tlint -Wwarning "$MAN" >&2 || { log "FAIL: mandoc -Tlint $MAN"; exit 1; }
	text=$(mandoc -Tutf8 "$MAN" | col -b)
	# the long options and the columns --help lists
	for w in $("$bindir/zramfusectl" --help |
	    sed -n 's/^ *\(-., \)\{0,1\}\(--[a-z-]*\).*/\2/p; s/^ *\([A-Z][A-Z-]*\)  .*/\1/p'); do
		printf '%s\n' "$text" | grep -q -- "$w" ||
			{ log "FAIL: $w is in --help, not in the man page"; exit 1; }
		n=$((${n:-0} + 1))
	done
	[ "${n:-0}" -ge 28 ] || { log "FAIL: only ${n:-0} options and columns found in --help"; exit 1; }
	log "the man page names all ${n} options and columns of --help"
else
	log "no mandoc: the man page is not checked"
fi
command -v systemd-analyze >/dev/null || { log "SKIP: no systemd-analyze"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zramfuse-unit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/man/man8"
cp "$top_srcdir/man/zramfuse.8" "$top_srcdir/man/zramfusectl.8" "$tmp/man/man8/"
unit="$tmp/zramfuse-swap@zram0.service"
sed "s|@bindir@|$bindir|g" "$top_srcdir/systemd/zramfuse-swap.service.in" >"$unit"
grep -q '@bindir@' "$unit" && { log "FAIL: @bindir@ left in the unit"; exit 1; }
cd "$tmp" || exit 1
if ! out=$(MANPATH=$tmp/man systemd-analyze verify "$unit" 2>&1) || [ -n "$out" ]; then
	log "FAIL: systemd-analyze verify: $out"
	exit 1
fi
# What the unit must say, read back by systemd itself.
for want in 'Before=swap.target shutdown.target' 'Conflicts=shutdown.target' \
    'DefaultDependencies=no' 'Type=oneshot' 'RemainAfterExit=yes' 'KillMode=process' \
    'WantedBy=swap.target' 'OOMScoreAdjust=-1000' 'ManagedOOMPreference=omit' \
    'MemorySwapMax=0'; do
	grep -qx "$want" "$unit" || { log "FAIL: the unit lacks $want"; exit 1; }
done
grep -q '^After=.*local-fs.target' "$unit" || { log "FAIL: not After=local-fs.target"; exit 1; }
grep -qx "ExecStart=$bindir/zramfusectl setup %i" "$unit" &&
	grep -qx "ExecStop=$bindir/zramfusectl teardown %i" "$unit" ||
	{ log "FAIL: ExecStart/ExecStop"; exit 1; }
# a broken copy is caught
sed 's|^ExecStart=.*|ExecStart=zramfusectl-nowhere setup %i|' "$unit" >"$tmp/zramfuse-swap@bad.service"
if MANPATH=$tmp/man systemd-analyze verify "$tmp/zramfuse-swap@bad.service" >/dev/null 2>&1; then
	log "FAIL: systemd-analyze verify passed a unit whose command does not exist"
	exit 1
fi
# and so is a setting systemd does not know, or a value it refuses: verify
# says so (and this test then fails, above)
for bad in 's/^OOMScoreAdjust=.*/OOMScoreAdjst=-1000/' 's/^OOMScoreAdjust=.*/OOMScoreAdjust=-1001/'; do
	sed "$bad" "$unit" >"$tmp/zramfuse-swap@bad.service"
	out=$(MANPATH=$tmp/man systemd-analyze verify "$tmp/zramfuse-swap@bad.service" 2>&1)
	[ -n "$out" ] || { log "FAIL: systemd-analyze verify said nothing of $bad"; exit 1; }
done
exit 0
