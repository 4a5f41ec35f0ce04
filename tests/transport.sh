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
#  - a ring's errors, injected as real kernel errors by the test hook
#    ZRAMFUSE_TEST_URING_FAIL (src/transport_uring.c, "Failures"): a reply
#    the kernel refuses is sent again; an io_uring_enter() that fails
#    gets the ring replaced; after either, direct I/O from every CPU (the
#    kernel queues a request on its submitter's CPU's queue) and through
#    the loop device completes with its data intact.  A ring that fails
#    again before the one it replaced has drained aborts the connection:
#    I/O then fails, the daemon says why and exits, nothing hangs.
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

# percpu: 256 KiB written and read back with direct I/O on the mounted
# file from each online CPU in turn, each step under a timeout (a hang
# aborts the connection and fails); returns 1 at the first step that
# fails without hanging
percpu() {
	for _c in $(seq 0 $(($(getconf _NPROCESSORS_ONLN) - 1))); do
		for _step in "if=$T/data of=$MNT/swap seek=$((_c * 64)) oflag=direct conv=notrunc" \
			     "if=$MNT/swap of=$T/cpu$_c skip=$((_c * 64)) iflag=direct"; do
			# shellcheck disable=SC2086
			zf_timeout 30 taskset -c "$_c" dd $_step bs=4k count=64 status=none
			case $? in
			0) ;;
			124 | 137)	# timed out (137: it took a KILL)
				zf_pstate $ZF_PIDS
				zf_fuse_abort "$MNT"
				zf_fail "direct I/O on CPU $_c hung ($_step)" ;;
			*) return 1 ;;
			esac
		done
		head -c 262144 "$T/data" | cmp -s - "$T/cpu$_c" ||
			zf_fail "data read back on CPU $_c differs"
	done
}

zf_swap_lock	# loop devices
head -c 16777216 /dev/urandom >"$T/data"

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

# --- a ring's errors: no request lost, none left waiting ---
# a reply refused once (ENOENT: a commit id the kernel does not know) is
# sent again
start "$T/commit.log" size=64M,transport=uring ZRAMFUSE_TEST_URING_FAIL=commit
percpu || zf_fail "direct I/O failed after a refused reply: $(cat "$T/commit.log")"
grep -q "warning: io_uring queue [0-9]*: the kernel refused an entry's reply (No such file or directory); sending it again" \
	"$T/commit.log" || zf_fail "no refused reply logged: $(cat "$T/commit.log")"
roundtrip
grep -q "abort" "$T/commit.log" && zf_fail "refused reply: $(cat "$T/commit.log")"
echo "refused reply: sent again, I/O from every CPU intact"

# an io_uring_enter() that fails (EINVAL): a fresh ring takes over
start "$T/enter.log" size=64M,transport=uring ZRAMFUSE_TEST_URING_FAIL=enter
percpu || zf_fail "direct I/O failed around a failed ring: $(cat "$T/enter.log")"
grep -q "warning: io_uring queue [0-9]*: io_uring_enter: Invalid argument; a fresh ring serves the queue now" \
	"$T/enter.log" || zf_fail "no ring replaced: $(cat "$T/enter.log")"
percpu || zf_fail "direct I/O failed after a ring was replaced: $(cat "$T/enter.log")"
roundtrip
grep -q "abort" "$T/enter.log" && zf_fail "failed ring: $(cat "$T/enter.log")"
echo "failed io_uring_enter: $(grep -c "a fresh ring serves" "$T/enter.log") ring(s) replaced, I/O from every CPU intact"

# failing again before the old ring drained: the connection ends at once,
# I/O fails (never hangs), the daemon says why and exits.  It aborts the
# connection through fusectl's abort file when it can, and otherwise
# exits, which ends it: both ways are tried when fusectl is not mounted.
# twice LOG PATTERN
twice() {
	start "$1" size=64M,transport=uring ZRAMFUSE_TEST_URING_FAIL=enter-twice
	percpu && percpu && zf_fail "I/O still served after the connection ended"
	zf_wait 100 eval '! zf_alive $ZF_PID' ||
		zf_fail "daemon still running after the abort: $(cat "$1")"
	grep -q "io_uring queue [0-9]*: a ring failed and could not be replaced (Invalid argument): $2" \
		"$1" || zf_fail "no abort logged: $(cat "$1")"
	! zf_mounted "$MNT" || zf_unhang umount "$MNT" || zf_fail "umount after the abort"
}
FUSECTL=/sys/fs/fuse/connections
if ! grep -q " $FUSECTL fusectl " /proc/mounts; then
	twice "$T/twice-exit.log" "the FUSE connection cannot be aborted here (fusectl: no abort file), so the daemon exits"
	echo "failed twice, no fusectl: the daemon exited, I/O failed without hanging"
	mount -t fusectl none "$FUSECTL" || zf_skip "cannot mount fusectl on $FUSECTL"
	ZF_ATEXIT="umount $FUSECTL"	# as it was
fi
twice "$T/twice-abort.log" "aborted the FUSE connection"
echo "failed twice: connection aborted, I/O failed without hanging, daemon exited"
