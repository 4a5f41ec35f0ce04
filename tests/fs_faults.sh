#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_faults: what goes wrong, and what the daemon does about it.
#  - times round-trip as on tmpfs (before 1970, past 2262); I/O at and
#    past the end, of length 0, at the store's 2^47 limit and near 2^63;
#  - a shrinking truncate racing asynchronous direct writes;
#  - mem_limit reached in mid-stream, and lowered below what is in use;
#  - SIGTERM, SIGHUP and SIGINT while a file is held open (by a program,
#    by a loop device): logged, ignored, data intact; with nothing open a
#    clean exit, status 0; SIGQUIT forces an exit;
#  - every other signal there is (all 64, but SIGKILL and SIGSTOP) while a
#    loop device holds the file: taken by the main thread, the daemon
#    neither ends nor stops, and every byte reads back the same;
#  - the daemon killed (SIGKILL) under a loop device: I/O fails, no hang,
#    losetup -d and umount work, and a new mount works.
# Loop devices are machine-wide: the loop cases hold lib.sh's swap-test
# lock, as the swap tests do.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
command -v python3 >/dev/null || zf_skip "no python3"
[ -n "$ZF_SIGDFL" ] || zf_skip "env has no --default-signal"

H="python3 $top_srcdir/tests/fs_faults.py"
T=$ZF_TMP
MNT=$T/mnt
N=0

expect() {	# expect WHAT GOT WANT
	[ "$2" = "$3" ] || zf_fail "$1: got '$2', want '$3'"
}

# start [OPTS]: the daemon, in the foreground of a background job, with
# the signals it acts on at their defaults (a shell's background job
# ignores SIGINT and SIGQUIT, nohup(1) SIGHUP; systemd and a terminal do
# not: lib.sh's ZF_SIGDFL).  Sets ZF_PID and LOG.
start() {
	N=$((N + 1))
	LOG=$T/daemon.$N.log
	mkdir -p "$MNT"
	$ZF_SIGDFL "$ZRAMFUSE" -f $ZF_TOPT "$@" "$MNT" >"$LOG" 2>&1 &
	ZF_PID=$!
	ZF_PIDS="$ZF_PID $ZF_PIDS"
	case " $ZF_MOUNTS " in *" $MNT "*) ;; *) ZF_MOUNTS="$MNT $ZF_MOUNTS" ;; esac
	zf_wait 100 mountpoint -q "$MNT" || {
		cat "$LOG" >&2
		zf_fail "mount of $MNT did not appear"
	}
}

# lines PATTERN: how many lines of the daemon's log match
lines() { grep -c "$1" "$LOG"; }

# refused SIG WHAT: with WHAT holding the file open, SIG is logged once,
# with the way out, and the daemon serves on
refused() {
	_pat="SIG$1 from pid [0-9]* ignored: 1 file open on $MNT"
	_cnt=$(lines "$_pat")
	kill -"$1" "$ZF_PID"
	zf_wait 100 eval '[ "$(lines "$_pat")" -gt "$_cnt" ]' ||
		zf_fail "SIG$1 with $2 open: not logged ($(tail -2 "$LOG"))"
	expect "log lines for one SIG$1" "$(lines "$_pat")" $((_cnt + 1))
	grep "$_pat" "$LOG" | tail -1 | grep -q "swapoff, losetup -d and umount $MNT, in that order; SIGQUIT forces" ||
		zf_fail "SIG$1: the log line does not say how to tear down"
	zf_alive "$ZF_PID" || zf_fail "SIG$1 with $2 open: the daemon exited"
	mountpoint -q "$MNT" || zf_fail "SIG$1 with $2 open: unmounted"
}

# stops SIG: nothing open, so SIG ends the daemon, status 0, unmounted.
# The kernel sends the release of a last close in the background, so a
# first SIG may still find the file open (and say so): up to 5 tries.
stops() {
	_k=0
	while zf_alive "$ZF_PID"; do
		_k=$((_k + 1))
		[ $_k -le 5 ] || zf_fail "SIG$1 with nothing open: still running after 5"
		kill -"$1" "$ZF_PID"
		zf_wait 20 eval '! zf_alive $ZF_PID'
	done
	wait "$ZF_PID"
	_rc=$?
	[ $_rc = 0 ] || zf_fail "SIG$1 with nothing open: exit status $_rc"
	grep -q "SIG$1 from pid [0-9]*: no file open, exiting" "$LOG" ||
		zf_fail "SIG$1 with nothing open: not logged ($(tail -2 "$LOG"))"
	zf_wait 50 eval '! mountpoint -q "$MNT"' || zf_fail "SIG$1: still mounted"
	echo "SIG$1 with nothing open: exit 0 after $_k signal(s)"
}

# our own loop device is gone: teardown must not detach whatever reuses it
unregister_loop() {
	_keep=
	for _l in $ZF_LOOPS; do [ "$_l" = "$1" ] || _keep="$_keep $_l"; done
	ZF_LOOPS=$_keep
}

# hold FILE: a program keeps FILE open (registered: teardown kills it
# before it unmounts); release: it closes it
hold() {
	_hf=$1
	sleep 100000 <>"$_hf" &
	HOLDER=$!
	ZF_WORK="$ZF_WORK $HOLDER"
	zf_wait 100 eval '[ "$(readlink /proc/$HOLDER/fd/0)" = "$_hf" ]' ||
		zf_fail "the program holding $_hf did not open it"
}
release() {
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null
}

sum() { cksum <"$1" | cut -d' ' -f1; }
dsum() { dd if="$1" bs=1M count="$2" iflag=direct status=none | cksum | cut -d' ' -f1; }

# --- times, I/O at the edges, truncate against writes, mem_limit ---------
mkdir -p "$T/ref"
mount -t tmpfs -o size=16M zramfuse-test-ref "$T/ref" || zf_fail "mount tmpfs"
ZF_MOUNTS="$T/ref $ZF_MOUNTS"
zf_mount "$MNT" -o size=16M
export TZ=UTC
touch -d '2300-01-01 00:00:00.5' "$MNT/swap" || zf_fail "touch -d 2300"
expect "mtime 2300" "$(stat -c %y "$MNT/swap")" "2300-01-01 00:00:00.500000000 +0000"
touch -a -d '1960-01-01 00:00:00.25' "$MNT/swap" || zf_fail "touch -a -d 1960"
expect "atime 1960" "$(stat -c %x "$MNT/swap")" "1960-01-01 00:00:00.250000000 +0000"
expect "mtime 2300 still" "$(stat -c %y "$MNT/swap")" "2300-01-01 00:00:00.500000000 +0000"
$H times "$MNT/t" "$T/ref/t" || zf_fail "times"
$H edges "$MNT/e" "$T/ref/e" || zf_fail "I/O at the edges"
rm -f "$MNT/t" "$MNT/e"
zf_timeout 600 "$top_builddir/tests/trunc_race" -r 300 "$MNT/race" ||
	zf_fail "truncate against asynchronous direct writes"
rm -f "$MNT/race"
$H memlimit "$MNT" "$MNT/ml" || zf_fail "mem_limit reached mid-stream"
rm -f "$MNT/ml"
$H memlimit_lower "$MNT" "$MNT/ml" || zf_fail "mem_limit lowered below use"
rm -f "$MNT/ml"
zf_umount "$MNT"

# --- SIGTERM, SIGHUP, SIGINT with the file held open by a program --------
start -o size=16M
head -c 8M /dev/urandom >"$T/rand"
dd if="$T/rand" of="$MNT/swap" bs=1M conv=notrunc status=none || zf_fail "dd"
s0=$(sum "$MNT/swap")
hold "$MNT/swap"
for sig in TERM HUP INT TERM; do
	refused $sig "a program"
done
expect "checksum after the signals" "$(sum "$MNT/swap")" "$s0"
printf 'still serving' | dd of="$MNT/swap" bs=1 seek=9000000 conv=notrunc status=none ||
	zf_fail "a write after the signals"
expect "read after the signals" "$(dd if="$MNT/swap" bs=1 skip=9000000 count=13 status=none)" \
	"still serving"
release
stops TERM

# --- the same, held by a loop device; then SIGHUP once it is detached ----
zf_swap_lock
start -o size=64M
zf_loop "$MNT/swap"
dd if="$T/rand" of="$ZF_LOOP" bs=1M oflag=direct status=none || zf_fail "dd to $ZF_LOOP"
s0=$(dsum "$ZF_LOOP" 8)
for sig in TERM HUP; do
	refused $sig "a loop device"
done
# Every other signal, by number, as a user might send one by mistake (1,
# 2, 3, 15: HUP, INT, QUIT, TERM, tested on their own; 9 and 19, SIGKILL
# and SIGSTOP, cannot be caught).  Each must be taken - nothing left in
# the process's pending set (ShdPnd) - and leave the daemon running, not
# stopped (SIGTSTP, SIGTTIN, SIGTTOU).
shdpnd() { sed -n 's/^ShdPnd:[[:space:]]*//p' /proc/"$ZF_PID"/status; }
pstate() { sed 's/^.*) //' /proc/"$ZF_PID"/stat | cut -d' ' -f1; }
n=0
while [ $n -lt 64 ]; do
	n=$((n + 1))
	case $n in 1 | 2 | 3 | 9 | 15 | 19) continue ;; esac
	kill -"$n" "$ZF_PID" || zf_fail "kill -$n $ZF_PID"
	zf_wait 100 eval '[ "$(shdpnd)" = 0000000000000000 ]' ||
		zf_fail "signal $n: not taken (ShdPnd $(shdpnd))"
	zf_alive "$ZF_PID" || zf_fail "signal $n ended the daemon"
	case $(pstate) in T | t) zf_fail "signal $n stopped the daemon" ;; esac
done
expect "SIGALRM logged once" \
	"$(lines "SIGALRM from pid [0-9]* ignored: zramfuse acts only on SIGTERM")" 1
grep -q "SIGTSTP from pid [0-9]* ignored: .*; it never stops" "$LOG" ||
	zf_fail "SIGTSTP: not logged ($(tail -2 "$LOG"))"
kill -ALRM "$ZF_PID"
zf_wait 100 eval '[ "$(shdpnd)" = 0000000000000000 ]' || zf_fail "SIGALRM again: not taken"
expect "a second SIGALRM is not logged again" \
	"$(lines "SIGALRM from pid [0-9]* ignored")" 1
echo "58 other signals with $ZF_LOOP holding the file: each taken, the daemon serving, never stopped"
expect "checksum through $ZF_LOOP after the signals" "$(dsum "$ZF_LOOP" 8)" "$s0"
dd if="$T/rand" of="$ZF_LOOP" bs=1M seek=16 count=4 oflag=direct status=none ||
	zf_fail "a write to $ZF_LOOP after the signals"
expect "read back through $ZF_LOOP" \
	"$(dd if="$ZF_LOOP" bs=1M skip=16 count=4 iflag=direct status=none | cksum)" \
	"$(head -c 4M "$T/rand" | cksum)"
zf_unhang losetup -d "$ZF_LOOP" || zf_fail "losetup -d $ZF_LOOP"
unregister_loop "$ZF_LOOP"
stops HUP

# --- SIGQUIT: the force, with a file open --------------------------------
# (held by this shell, to read it afterwards; the forced exit unmounts
# lazily, so the open file does not keep teardown from unmounting)
start -o size=16M
exec 3<>"$MNT/swap"
kill -QUIT "$ZF_PID"
zf_wait 100 eval '! zf_alive $ZF_PID' || zf_fail "SIGQUIT: daemon still running"
wait "$ZF_PID"
rc=$?
[ $rc = 0 ] || zf_fail "SIGQUIT: exit status $rc"
grep -q "SIGQUIT from pid [0-9]*: forced exit with 1 file open" "$LOG" ||
	zf_fail "SIGQUIT: not logged ($(tail -2 "$LOG"))"
zf_wait 50 eval '! mountpoint -q "$MNT"' || zf_fail "SIGQUIT: still mounted"
zf_timeout 30 dd bs=4096 count=1 status=none <&3 >/dev/null 2>&1
rc=$?
exec 3>&-
case $rc in 0) zf_fail "a read after the forced exit succeeded" ;;
	    124 | 137) zf_fail "a read after the forced exit hung" ;; esac
echo "SIGQUIT with a file open: exit 0, unmounted, the open file fails"

# --- SIGKILL under a loop device -----------------------------------------
start -o size=64M
zf_loop "$MNT/swap"
dd if="$T/rand" of="$ZF_LOOP" bs=1M count=4 oflag=direct status=none || zf_fail "dd to $ZF_LOOP"
kill -KILL "$ZF_PID"
wait "$ZF_PID"
rc=$?
expect "status of the killed daemon" $rc 137
zf_timeout 60 dd if="$ZF_LOOP" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null
rc=$?
case $rc in 0) zf_fail "a read of $ZF_LOOP after SIGKILL succeeded" ;;
	    124 | 137) zf_fail "a read of $ZF_LOOP after SIGKILL hung" ;; esac
zf_timeout 60 dd if=/dev/zero of="$ZF_LOOP" bs=4096 count=1 oflag=direct status=none 2>/dev/null
rc=$?
case $rc in 0) zf_fail "a write to $ZF_LOOP after SIGKILL succeeded" ;;
	    124 | 137) zf_fail "a write to $ZF_LOOP after SIGKILL hung" ;; esac
zf_timeout 60 losetup -d "$ZF_LOOP" || zf_fail "losetup -d $ZF_LOOP after SIGKILL"
zf_wait 100 eval '[ ! -e /sys/block/${ZF_LOOP#/dev/}/loop/backing_file ]' ||
	zf_fail "$ZF_LOOP still attached after losetup -d"
unregister_loop "$ZF_LOOP"
zf_timeout 60 umount "$MNT" || zf_fail "umount $MNT after SIGKILL"
mountpoint -q "$MNT" && zf_fail "$MNT still mounted after umount"
echo "SIGKILL under $ZF_LOOP: I/O fails at once, losetup -d and umount work"
start -o size=1M
printf 'again' >"$MNT/new" || zf_fail "write on the new mount"
expect "the new mount" "$(cat "$MNT/new")" again
zf_umount "$MNT"
exit 0
