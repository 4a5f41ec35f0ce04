#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The transports (-o transport=, include/transport.h):
#  - classic says so (in its log and .zram/transport) and serves, and
#    leaves fuse's enable_uring switch alone;
#  - with the switch off, auto turns it on (logged once) and takes
#    io_uring;
#  - when the switch cannot be turned on (the test hook
#    ZRAMFUSE_TEST_URING_SWITCH names a read-only file instead), auto
#    falls back to classic and logs why, and transport=uring refuses to
#    start with the same reason;
#  - with it on, auto takes io_uring: requests come through the rings
#    (logged once), .zram/transport says uring, and data written through
#    a loop device with direct I/O reads back intact, also for the cold
#    operations forwarded to libfuse (ls, stat, the control files);
#  - a REGISTER that fails (the test hook ZRAMFUSE_TEST_URING_REGISTER_FAIL
#    hands the kernel a payload buffer that is too short) makes the kernel
#    turn io_uring off for the mount: the daemon logs the fallback, the
#    classic workers serve it, .zram/transport says so, nothing hangs.
# The uring parts skip only where the kernel has no FUSE over io_uring.
# This test turns the switch on and off itself and puts it back at exit.
. "$top_srcdir/tests/lib.sh"
zf_init
T=$ZF_TMP
MNT=$T/mnt
SW=$ZF_URING_SWITCH

# mounted LOG: wait for the mount; fail with the log if it does not come
mounted() {
	zf_wait 100 mountpoint -q "$MNT" || {
		cat "$1" >&2
		zf_fail "mount of $MNT did not appear"
	}
}

# logged PATTERN LOG: the daemon logs PATTERN (the serving line comes a
# moment after the mount appears)
logged() { zf_wait 50 grep -q "$1" "$2"; }

# start LOG OPTS [ENV...]: the daemon, in the background; sets ZF_PID
start() {
	_log=$1 _opts=$2
	shift 2
	mkdir -p "$MNT"
	env "$@" "$ZRAMFUSE" -f -o "$_opts" "$MNT" >"$_log" 2>&1 &
	ZF_PID=$!
	ZF_PIDS="$ZF_PID $ZF_PIDS"
	case " $ZF_MOUNTS " in *" $MNT "*) ;; *) ZF_MOUNTS="$MNT $ZF_MOUNTS" ;; esac
	mounted "$_log"
}

# serves KIND: .zram/transport's first word is KIND
serves() {
	_tr=$(zf_timeout 30 cat "$MNT/.zram/transport") ||
		zf_fail "cannot read $MNT/.zram/transport"
	[ "${_tr%% *}" = "$1" ] || zf_fail ".zram/transport: '$_tr', not $1"
}

# roundtrip: 16 MiB of random data through a loop device (direct I/O),
# read back and compared, plus the cold operations
roundtrip() {
	zf_timeout 30 ls -l "$MNT" "$MNT/.zram" >/dev/null || zf_fail "ls $MNT"
	zf_loop "$MNT/swap"
	head -c 16777216 /dev/urandom >"$T/data"
	zf_timeout 60 dd if="$T/data" of="$ZF_LOOP" bs=64k oflag=direct \
		status=none || zf_fail "write through $ZF_LOOP"
	zf_timeout 60 dd if="$ZF_LOOP" of="$T/back" bs=4k count=4096 \
		iflag=direct status=none || zf_fail "read through $ZF_LOOP"
	cmp -s "$T/data" "$T/back" || zf_fail "data read back through $ZF_LOOP differs"
	_orig=$(zf_timeout 30 cat "$MNT/.zram/mm_stat" | awk '{print $1}')
	[ "$_orig" -ge 16777216 ] || zf_fail "mm_stat orig_data_size $_orig after 16 MiB"
	zf_timeout 60 losetup -d "$ZF_LOOP" || zf_fail "losetup -d"
	ZF_LOOPS=${ZF_LOOPS#"$ZF_LOOP "}
	zf_umount "$MNT"
}

zf_swap_lock	# loop devices

# --- classic ---
start "$T/classic.log" size=64M,transport=classic
logged "transport=classic$" "$T/classic.log" ||
	zf_fail "transport=classic not logged: $(cat "$T/classic.log")"
serves classic
roundtrip
echo "classic: serves, says so"

[ -e "$SW" ] || zf_skip "this kernel has no FUSE over io_uring ($SW missing); classic passed"
old=$(cat "$SW")
ZF_URING_RESTORE=$old	# the EXIT trap puts it back
zf_log "switching $SW for this test (put back to $old at exit)"

# --- switch off: classic leaves it; auto turns it on and takes io_uring ---
echo N >"$SW" || zf_skip "cannot write $SW"
start "$T/classic-off.log" size=1M,transport=classic
zf_umount "$MNT"
[ "$(cat "$SW")" = N ] || zf_fail "transport=classic turned $SW on"
start "$T/auto-off.log" size=64M
logged "transport=uring (" "$T/auto-off.log" ||
	zf_fail "auto, switch off: $(cat "$T/auto-off.log")"
[ "$(grep -c "turned on fuse's enable_uring switch" "$T/auto-off.log")" = 1 ] ||
	zf_fail "auto, switch off: turning it on not logged once: $(cat "$T/auto-off.log")"
[ "$(cat "$SW")" = Y ] || zf_fail "auto left $SW at $(cat "$SW")"
serves uring
zf_umount "$MNT"
echo "switch off: classic leaves it alone; auto turns it on, says so once, takes io_uring"

# --- the switch cannot be turned on: auto is classic, with the reason;
# uring refuses ---
echo N >"$SW" || zf_fail "cannot turn off $SW"
echo N >"$T/switch"
mount --bind "$T/switch" "$T/switch" || zf_skip "cannot bind-mount $T/switch"
ZF_MOUNTS="$T/switch $ZF_MOUNTS"
mount -o remount,bind,ro "$T/switch" || zf_fail "cannot make $T/switch read-only"
start "$T/auto-ro.log" size=64M ZRAMFUSE_TEST_URING_SWITCH="$T/switch"
logged "transport=classic (auto: no FUSE over io_uring: fuse's enable_uring switch is off and could not be turned on: Read-only file system)" \
	"$T/auto-ro.log" || zf_fail "auto, switch not writable: $(cat "$T/auto-ro.log")"
serves classic
zf_umount "$MNT"
ZRAMFUSE_TEST_URING_SWITCH="$T/switch" zf_timeout 30 "$ZRAMFUSE" -f \
	-o size=1M,transport=uring "$MNT" 2>"$T/err"
rc=$?
[ $rc = 1 ] || zf_fail "transport=uring, switch off: exit status $rc"
grep -q "transport=uring: FUSE over io_uring is not available: fuse's enable_uring switch is off and could not be turned on" \
	"$T/err" || zf_fail "transport=uring, switch off: $(cat "$T/err")"
mountpoint -q "$MNT" && zf_fail "transport=uring, switch off: still mounted"
[ "$(cat "$SW")" = N ] || zf_fail "$SW changed: $(cat "$SW")"
echo "switch that cannot be turned on: auto falls back to classic and says why; uring refuses"

# --- switch on: auto is uring ---
echo Y >"$SW" || zf_fail "cannot turn on $SW"
start "$T/auto-on.log" size=64M
logged "transport=uring ([0-9]* queues x [0-9]* threads x [0-9]* entries of [0-9]* KiB)" "$T/auto-on.log" ||
	zf_fail "auto, switch on: $(cat "$T/auto-on.log")"
grep -q "turned on fuse's enable_uring" "$T/auto-on.log" &&
	zf_fail "auto, switch on: turned on again: $(cat "$T/auto-on.log")"
serves uring
roundtrip
grep -q "FUSE over io_uring: first request on queue" "$T/auto-on.log" ||
	zf_fail "no request came through a ring: $(cat "$T/auto-on.log")"
grep -q "REGISTER" "$T/auto-on.log" && zf_fail "auto, switch on: $(cat "$T/auto-on.log")"
echo "switch on: auto takes io_uring, data intact"

# --- a failed REGISTER falls back to classic, no hang ---
start "$T/fail.log" size=64M,transport=uring,threads=2 \
	ZRAMFUSE_TEST_URING_REGISTER_FAIL=1
zf_timeout 30 ls "$MNT" >/dev/null	# a request: the rings register meanwhile
zf_wait 50 eval 'grep -q "falling back to the classic transport" "$T/fail.log"' ||
	zf_fail "no fallback logged: $(cat "$T/fail.log")"
serves classic
roundtrip
grep -q "io_uring REGISTER on queue [0-9]* failed: Invalid argument; the kernel turned FUSE over io_uring off for this mount, falling back to the classic transport" \
	"$T/fail.log" || zf_fail "no fallback logged: $(cat "$T/fail.log")"
grep -q "first request on queue" "$T/fail.log" &&
	zf_fail "a request came through a ring that failed to register"
echo "failed REGISTER: falls back to classic, serves, no hang"
