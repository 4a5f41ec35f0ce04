#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# zramfusectl swapon / swapoff for real: the round trip (swap with the
# priority asked for, direct I/O, 4 KiB sectors, no writeback throttling,
# a daemon whose argv[0] starts with '@'), both re-run, a configuration
# section through setup / teardown, a swapoff that fails leaving
# everything up, and a failure at each step rolled back and named (on a
# mount it found, the mem_limit it changed put back).
. "${top_srcdir:-.}/tests/lib.sh"
: "${ZRAMFUSECTL:=${top_builddir:-.}/zramfusectl}"
export ZRAMFUSE
zf_init
[ -x "$ZRAMFUSECTL" ] || zf_fail "not built: $ZRAMFUSECTL"
[ -e /dev/loop-control ] || zf_skip "no /dev/loop-control"
zf_swap_lock

MNT=$ZF_TMP/mnt
SECTION=ctltest$$
SECMNT=/run/zramfuse-$SECTION
CONF=$ZF_TMP/zramfuse.conf

# The loop device backed by a file below $1, if any.
loop_under() {
	for _b in /sys/block/loop*/loop/backing_file; do
		[ -r "$_b" ] || continue
		case "$(cat "$_b" 2>/dev/null)" in
		"$1"/*) _l=${_b#/sys/block/}; echo "/dev/${_l%%/*}" ;;
		esac
	done
}

# Whatever zramfusectl set up is registered with lib.sh's teardown
# before it runs, so that a failed test leaves nothing behind either.
ctl_cleanup() {
	_crc=$?
	for _m in "$MNT" "$SECMNT"; do
		for _l in $(loop_under "$_m"); do
			ZF_SWAPS="$_l $ZF_SWAPS"
			ZF_LOOPS="$_l $ZF_LOOPS"
		done
		mountpoint -q "$_m" && ZF_MOUNTS="$_m $ZF_MOUNTS"
	done
	# the section's mount point is made by zramfusectl under /run
	ZF_ATEXIT='rmdir "$SECMNT" 2>/dev/null || :'
	(exit $_crc)
	zf_teardown
}
trap ctl_cleanup EXIT

# Nothing of $1 left: no swap, no loop device, no mount.
nothing_left() {
	[ -z "$(loop_under "$1")" ] || zf_fail "$2: a loop device is left on $1: $(loop_under "$1")"
	! mountpoint -q "$1" 2>/dev/null || zf_fail "$2: $1 is still mounted"
}

# The pids of zramfuse daemons serving $1, found by comm first (reading
# the cmdline of an arbitrary process can block).
daemons_of() {
	for _p in /proc/[0-9]*; do
		[ "$(cat "$_p"/comm 2>/dev/null)" = zramfuse ] || continue
		_c=$(zf_timeout 5 tr '\0' ' ' <"$_p"/cmdline 2>/dev/null)
		case "$_c" in *" $1 "|*" $1") echo "${_p#/proc/} $_c" ;; esac
	done
}

ctl() { zf_timeout 120 "$ZRAMFUSECTL" "$@"; }

# --- the round trip ----------------------------------------------------
out=$(ctl swapon --size 32M --priority 7 --algorithm 'zstd(level=5)' \
	--mem-limit 64M "$MNT") || zf_fail "swapon: $out"
echo "$out"
dev=$(loop_under "$MNT")
[ -n "$dev" ] || zf_fail "swapon: no loop device on $MNT"
ZF_SWAPS="$dev $ZF_SWAPS" ZF_LOOPS="$dev $ZF_LOOPS" ZF_MOUNTS="$MNT $ZF_MOUNTS"
case "$out" in *"$dev"*"priority 7"*) ;; *) zf_fail "swapon's report lacks $dev, priority 7: $out" ;; esac
awk -v d="$dev" '$1 == d && $5 == 7 { f = 1 } END { exit !f }' /proc/swaps ||
	zf_fail "$dev not in /proc/swaps with priority 7: $(cat /proc/swaps)"
n=${dev#/dev/}
[ "$(cat /sys/block/"$n"/loop/dio)" = 1 ] || zf_fail "$dev: no direct I/O"
[ "$(cat /sys/block/"$n"/queue/logical_block_size)" = 4096 ] ||
	zf_fail "$dev: sectors of $(cat /sys/block/"$n"/queue/logical_block_size) bytes"
if [ -e /sys/block/"$n"/queue/wbt_lat_usec ]; then
	[ "$(cat /sys/block/"$n"/queue/wbt_lat_usec)" = 0 ] ||
		zf_fail "$dev: writeback throttling left on"
fi
[ "$(cat "$MNT"/.zram/mem_limit)" = 67108864 ] ||
	zf_fail "mem_limit is $(cat "$MNT"/.zram/mem_limit), not 64M"
grep -q '\[zstd\]' "$MNT"/.zram/comp_algorithm ||
	zf_fail "algorithm: $(cat "$MNT"/.zram/comp_algorithm)"
[ "$(stat -c %s "$MNT"/swap)" = 33554432 ] || zf_fail "file size $(stat -c %s "$MNT"/swap)"
# systemd's final kill spares the daemon only if argv[0] starts with '@'
d=$(daemons_of "$MNT")
[ -n "$d" ] || zf_fail "no daemon serving $MNT"
case "$d" in *" @zramfuse "*) ;; *) zf_fail "daemon's cmdline does not start with '@': $d" ;; esac
pid=${d%% *}
head -c1 /proc/"$pid"/cmdline | grep -q '^@' || zf_fail "/proc/$pid/cmdline: $(head -c 20 /proc/"$pid"/cmdline)"

# a second swapon changes nothing
out=$(ctl swapon --size 32M --priority 7 "$MNT") || zf_fail "swapon again: $out"
case "$out" in "already set up"*"$dev"*) ;; *) zf_fail "swapon again: $out" ;; esac
[ "$(loop_under "$MNT")" = "$dev" ] || zf_fail "swapon again: loop devices now $(loop_under "$MNT")"
[ "$(grep -c "^$dev " /proc/swaps)" = 1 ] || zf_fail "swapon again: $(cat /proc/swaps)"
# ... and one that asks for something else is refused, touching nothing
if out=$(ctl swapon --size 64M "$MNT" 2>&1); then zf_fail "swapon with another size succeeded: $out"; fi
case "$out" in *"swapoff $MNT first"*) ;; *) zf_fail "another size: $out" ;; esac
if out=$(ctl swapon --priority 8 "$MNT" 2>&1); then zf_fail "swapon with another priority succeeded: $out"; fi
case "$out" in *"at priority 7, not 8"*) ;; *) zf_fail "another priority: $out" ;; esac
grep -q "^$dev " /proc/swaps || zf_fail "a refused swapon turned swap off"

# a swapoff that fails (as for ENOMEM) says so and leaves everything up
if out=$(ZRAMFUSECTL_TEST_FAIL=swapoff ctl swapoff "$MNT" 2>&1); then
	zf_fail "a failed swapoff exited 0: $out"
fi
case "$out" in *"Cannot allocate memory"*"stay as they are"*) ;; *) zf_fail "failed swapoff: $out" ;; esac
grep -q "^$dev " /proc/swaps || zf_fail "failed swapoff: swap is off"
[ "$(loop_under "$MNT")" = "$dev" ] || zf_fail "failed swapoff: loop gone"
mountpoint -q "$MNT" || zf_fail "failed swapoff: unmounted"

out=$(ctl swapoff "$MNT") || zf_fail "swapoff: $out"
echo "$out"
! grep -q "^$dev " /proc/swaps || zf_fail "swapoff: $dev still swapping"
nothing_left "$MNT" swapoff
zf_wait 100 eval '[ -z "$(daemons_of "$MNT")" ]' || zf_fail "daemon left: $(daemons_of "$MNT")"
out=$(ctl swapoff "$MNT") || zf_fail "swapoff again: $out"
case "$out" in *"not set up"*) ;; *) zf_fail "swapoff again: $out" ;; esac
rmdir "$MNT"	# swapoff leaves the mount point, as umount does

# --- a configuration section -------------------------------------------
cat >"$CONF" <<EOF
[$SECTION]
zram-size = min(ram / 2, 24)
compression-algorithm = lz4
swap-priority = 11
options = discard=once
EOF
out=$(ctl setup --config "$CONF" "$SECTION") || zf_fail "setup: $out"
echo "$out"
dev=$(loop_under "$SECMNT")
[ -n "$dev" ] || zf_fail "setup: no loop device on $SECMNT"
ZF_SWAPS="$dev $ZF_SWAPS" ZF_LOOPS="$dev $ZF_LOOPS" ZF_MOUNTS="$SECMNT $ZF_MOUNTS"
awk -v d="$dev" '$1 == d && $5 == 11 { f = 1 } END { exit !f }' /proc/swaps ||
	zf_fail "setup: $dev not swapping at priority 11: $(cat /proc/swaps)"
[ "$(stat -c %s "$SECMNT"/swap)" = $((24 << 20)) ] ||
	zf_fail "setup: size $(stat -c %s "$SECMNT"/swap), not min(ram / 2, 24) MiB"
out=$(ctl setup --config "$CONF" "$SECTION") || zf_fail "setup again: $out"
case "$out" in "already set up"*) ;; *) zf_fail "setup again: $out" ;; esac
if out=$(ctl setup --config "$CONF" nosuchsection 2>&1); then zf_fail "setup of a missing section: $out"; fi
out=$(ctl teardown "$SECTION") || zf_fail "teardown: $out"
nothing_left "$SECMNT" teardown
out=$(ctl teardown "$SECTION") || zf_fail "teardown again: $out"
rmdir "$SECMNT"

# --- failures, each rolled back ----------------------------------------
# expect_fail STEP WHAT -- CMD...: CMD (a swapon) fails naming STEP, and
# nothing is left of $MNT, which it created.
expect_fail() {
	_step=$1 _what=$2
	shift 3
	if _out=$(zf_timeout 120 "$@" 2>&1); then zf_fail "$_what: swapon succeeded: $_out"; fi
	case "$_out" in
	*"step '$_step' failed"*) ;;
	*) zf_fail "$_what: the message does not name step '$_step': $_out" ;;
	esac
	nothing_left "$MNT" "$_what"
	[ ! -e "$MNT" ] || zf_fail "$_what: $MNT, made by swapon, is left"
	! grep -q "$MNT" /proc/swaps || zf_fail "$_what: swap left"
	zf_log "$_what: refused as it should be: $(echo "$_out" | grep -v '^zramfuse:' | tr '\n' '|')"
}

touch "$ZF_TMP/regular"
if out=$(ctl swapon --size 16M "$ZF_TMP/regular" 2>&1); then zf_fail "a regular file as mount point: $out"; fi
case "$out" in *"step 'mount point' failed"*"Not a directory"*) ;; *) zf_fail "regular file: $out" ;; esac
[ -f "$ZF_TMP/regular" ] && ! mountpoint -q "$ZF_TMP/regular" || zf_fail "regular file: changed"

# no free loop device (simulated: taking every loop device would disturb
# the machine)
expect_fail loop "no free loop device" -- env ZRAMFUSECTL_TEST_NO_FREE_LOOP=1 \
	"$ZRAMFUSECTL" swapon --size 16M "$MNT"
case "$_out" in *"no free loop device"*"rolled back: unmounted"*) ;; *) zf_fail "no free loop: $_out" ;; esac
# a size the daemon refuses (over 128 TiB) fails the mount
expect_fail mount "a size over the limit" -- "$ZRAMFUSECTL" swapon --size 200T "$MNT"
# a size that is not one fails before anything is done
if out=$(ctl swapon --size 12Q "$MNT" 2>&1); then zf_fail "--size 12Q accepted"; fi
case "$out" in *"not a size"*) ;; *) zf_fail "--size 12Q: $out" ;; esac
[ ! -e "$MNT" ] || zf_fail "--size 12Q: $MNT made"
# every later step
for step in mount loop wbt mkswap swapon; do
	expect_fail $step "a failure at $step" -- env ZRAMFUSECTL_TEST_FAIL=$step \
		"$ZRAMFUSECTL" swapon --size 16M "$MNT"
done
case "$_out" in *"rolled back: swapoff"*) zf_fail "swapon's failure turned off swap it never turned on" ;; esac
case "$_out" in *"rolled back: detached"*"rolled back: unmounted"*"rolled back: removed"*) ;;
*) zf_fail "a failure at swapon: rollback not in order: $_out" ;; esac

# on a mount it found, a failure removes only the file it made and puts
# back the mem_limit it changed
mkdir -p "$MNT"
zf_mount "$MNT" -o mem_limit=32M
if out=$(ZRAMFUSECTL_TEST_FAIL=loop ctl swapon --size 16M --mem-limit 48M "$MNT" 2>&1); then
	zf_fail "a failure at loop on a found mount: $out"
fi
# (stdout and stderr: each in order, not with each other)
case "$out" in *"rolled back: removed $MNT/swap"*"rolled back: mem_limit of $MNT back to 33554432"*) ;;
*) zf_fail "found mount: $out" ;; esac
case "$out" in *"mem_limit of $MNT: 50331648 (was 33554432)"*) ;;
*) zf_fail "found mount: the change of mem_limit not reported: $out" ;; esac
[ "$(cat "$MNT"/.zram/mem_limit)" = 33554432 ] ||
	zf_fail "found mount: mem_limit left at $(cat "$MNT"/.zram/mem_limit), not 32M"
mountpoint -q "$MNT" || zf_fail "a failed swapon unmounted a mount it did not make"
[ ! -e "$MNT/swap" ] || zf_fail "found mount: the file it made is left"
[ -z "$(loop_under "$MNT")" ] || zf_fail "found mount: loop left"
zf_umount "$MNT"

# --- a mount made by mount.fuse3 (an fstab line's way) ------------------
# swapon finds it with its file, attaches and swaps; swapoff unmounts it.
PATH=$(dirname "$ZRAMFUSE"):$PATH zf_timeout 30 mount.fuse3 zramfuse "$MNT" \
	-t zramfuse -o size=16M,comp=zstd || zf_fail "mount.fuse3"
ZF_MOUNTS="$MNT $ZF_MOUNTS"
out=$(ctl swapon --priority 5 "$MNT") || zf_fail "swapon on mount.fuse3's mount: $out"
case "$out" in mounted*) zf_fail "swapon mounted again: $out" ;; esac
dev=$(loop_under "$MNT")
[ -n "$dev" ] || zf_fail "mount.fuse3 mount: no loop device"
ZF_SWAPS="$dev $ZF_SWAPS" ZF_LOOPS="$dev $ZF_LOOPS"
awk -v d="$dev" '$1 == d && $5 == 5 { f = 1 } END { exit !f }' /proc/swaps ||
	zf_fail "mount.fuse3 mount: not swapping at priority 5"
[ "$(stat -c %s "$MNT"/swap)" = 16777216 ] || zf_fail "mount.fuse3 mount: the file was changed"
out=$(ctl swapoff "$MNT") || zf_fail "swapoff of mount.fuse3's mount: $out"
nothing_left "$MNT" "mount.fuse3 mount"
exit 0
