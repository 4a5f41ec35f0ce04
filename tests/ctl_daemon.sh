#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Which daemon zramfusectl swapon runs: $ZRAMFUSE when set (and then no
# other), else zramfuse beside zramfusectl, else in the install's
# directory (the build's bindir), else in PATH; when there is none, the
# message names every place looked at.  zramfusectl is copied into a
# directory of its own, and the daemons it may find are stand-ins that
# say who they are and exit 3, so that swapon stops at its 'mount' step
# and rolls back: nothing is mounted, no root needed.
#
# The install's directory is read from --help.  Where a zramfuse is
# installed there, the cases that would reach it are left out (they would
# run it and mount for real) and the test says so.
: "${top_builddir:=.}"
: "${ZRAMFUSECTL:=$top_builddir/zramfusectl}"
log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
[ -x "$ZRAMFUSECTL" ] || fail "not built: $ZRAMFUSECTL"
unset ZRAMFUSE
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zramfuse-ctld.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin" "$tmp/p1" "$tmp/p2" "$tmp/env" "$tmp/cwd"
cp "$ZRAMFUSECTL" "$tmp/bin/zramfusectl"
ctl=$tmp/bin/zramfusectl
mnt=$tmp/mnt

# --help says where it looks
help=$("$ctl" --help | tr '\n' ' ')
case "$help" in
*'$ZRAMFUSE if set'*'beside zramfusectl, in '*', or in a directory of PATH'*) ;;
*) fail "--help does not say where the daemon is looked for: $help" ;;
esac
instdir=$(printf '%s\n' "$help" | sed -n 's/.*beside zramfusectl, in \(.*\), or in a directory of PATH.*/\1/p')
[ -n "$instdir" ] || fail "no install directory in --help"
installed=no
[ -e "$instdir/zramfuse" ] && installed=yes &&
	log "$instdir/zramfuse is installed: the cases that would run it are left out"

# fake DIR NAME: a stand-in daemon in DIR that writes NAME and its
# arguments to $tmp/ran and exits 3.
fake() {
	printf '#!/bin/sh\necho %s "$@" >"%s/ran"\nexit 3\n' "$2" "$tmp" >"$1/zramfuse"
	chmod 755 "$1/zramfuse"
}
# try_swapon [env...]: run swapon from $tmp/cwd with PATH p1, an empty entry,
# p2; its stderr in $tmp/err, what ran in $tmp/ran.  It must fail (every
# stand-in exits 3), and leave no mount point behind.
try_swapon() {
	rm -f "$tmp/ran"
	if (cd "$tmp/cwd" && env PATH="$tmp/p1::$tmp/p2" "$@" "$ctl" swapon --size 16M "$mnt") \
		>"$tmp/out" 2>"$tmp/err"; then
		fail "swapon succeeded: $(cat "$tmp/out" "$tmp/err")"
	fi
	[ ! -e "$mnt" ] || fail "the mount point is left: $(cat "$tmp/err")"
}
ran() {
	[ -f "$tmp/ran" ] || fail "$1: no daemon ran: $(cat "$tmp/err")"
	want="$1 -o size=16777216,comp=lz4 $mnt"
	[ "$(cat "$tmp/ran")" = "$want" ] ||
		fail "ran '$(cat "$tmp/ran")', not '$want'; stderr: $(cat "$tmp/err")"
	grep -q "step 'mount' failed: .*exited with status 3" "$tmp/err" ||
		fail "$1: no step 'mount' failure: $(cat "$tmp/err")"
	log "ok: $1"
}

# the current directory is never searched, though PATH has an empty entry
fake "$tmp/cwd" cwd
if [ $installed = no ]; then
	# nothing anywhere: every place is named
	try_swapon
	[ ! -f "$tmp/ran" ] || fail "ran $(cat "$tmp/ran") from the current directory"
	for w in "step 'mount' failed: no zramfuse to run" \
	    "beside zramfusectl: $tmp/bin/zramfuse" \
	    "in the install's directory: $instdir/zramfuse" \
	    "in PATH: $tmp/p1/zramfuse, $tmp/p2/zramfuse" "(ZRAMFUSE unset)" \
	    "rolled back: removed $mnt"; do
		grep -qF "$w" "$tmp/err" || fail "the error lacks '$w': $(cat "$tmp/err")"
	done
	log "ok: none found: $(head -n 1 "$tmp/err")"
	# PATH, in its order
	fake "$tmp/p2" path2
	try_swapon
	ran path2
	fake "$tmp/p1" path1
	try_swapon
	ran path1
	# a file beside that cannot run is passed over
	echo 'not a program' >"$tmp/bin/zramfuse"
	try_swapon
	ran path1
fi
fake "$tmp/p1" path1
# beside zramfusectl comes before the install's directory and PATH
fake "$tmp/bin" beside
try_swapon
ran beside
# $ZRAMFUSE comes first, and is the only place looked at when set
fake "$tmp/env" env
try_swapon ZRAMFUSE="$tmp/env/zramfuse"
ran env
try_swapon ZRAMFUSE="$tmp/env/none"
[ ! -f "$tmp/ran" ] || fail "ZRAMFUSE names no file, yet $(cat "$tmp/ran") ran"
grep -qF "step 'mount' failed: ZRAMFUSE=$tmp/env/none: not an executable file" "$tmp/err" ||
	fail "a ZRAMFUSE that is not there: $(cat "$tmp/err")"
log "ok: ZRAMFUSE names no file: refused"
exit 0
