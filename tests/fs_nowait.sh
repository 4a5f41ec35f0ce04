#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_nowait: no control file waits behind a pass.  While a long
# recompression pass runs (zstd at level 19 over every page), each read
# of .zram/ answers within 100 ms with its value - backing_dev,
# recomp_algorithm, train_dict among them, which used to wait for the
# whole pass - and each write answers within 100 ms: with its effect
# (algorithm_params, backing_dev, writeback_batch_size, idle), or with
# zram's EBUSY (recomp_algorithm of the codec the pass uses) or EAGAIN (a
# second pass, a writeback; not a second recompress: the kernel lets one
# write at a time into a FUSE file, so that one waits in the kernel for
# the first, as on a recent zram, whose passes hold its device
# lock).  The pass must still be running after the last of them,
# or the test proves nothing and says so.  Then train_dict's report is
# read again and again while pages are written, each read within 100 ms,
# and a training in the middle of the writes works.  Every page reads
# back intact.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
. "$top_srcdir/tests/pp_lib.sh"
pp_need_zstd
BD=$(cd "$top_builddir" && pwd)/fs_nowait.bd.$$
BD2=$(cd "$top_builddir" && pwd)/fs_nowait.bd2.$$
ZF_ATEXIT="rm -f '$BD' '$BD2'"
FAST=100	# ms

# The control files' calls, timed, in one process so that they all fall
# inside the pass.  Arguments: FAST PID, then "r FILE WANT" (a read) or
# "w FILE VALUE WANT" (VALUE in one write(2)) each.  Prints a line per
# call, "OK|BAD what: result in ms" (its system calls alone timed; BAD
# when the result is not WANT or it took FAST ms or more), then "alive"
# or "ended": the pass (PID) after the last call.
cat >"$T/timed.py" <<'EOF'
import errno, os, sys, time
fast, pid, ops = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
while ops:
    if ops[0] == "r":
        path, val, want, ops = ops[1], None, ops[2], ops[3:]
    else:
        path, val, want, ops = ops[1], ops[2], ops[3], ops[4:]
    t = time.monotonic()
    try:
        fd = os.open(path, os.O_RDONLY if val is None else os.O_WRONLY)
        try:
            if val is None:
                while os.read(fd, 65536):
                    pass
            else:
                os.write(fd, val.encode())
            r = "OK"
        finally:
            os.close(fd)
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    ms = (time.monotonic() - t) * 1000
    what = "%s %s" % (os.path.basename(path), "read" if val is None else repr(val))
    print("%s %s: %s in %.1f ms" % ("OK" if r == want and ms < fast else "BAD",
                                     what, r, ms))
try:
    with open("/proc/%d/stat" % pid) as f:
        alive = f.read().split(") ")[1][0] != "Z"
except OSError:
    alive = False
print("alive" if alive else "ended")
EOF
timed() { python3 "$T/timed.py" "$FAST" "$@"; }

truncate -s 64M "$BD" "$BD2"
zf_mount "$MNT" -o size=64M,comp=lz4,recomp=off,backing_dev="$BD"
accept recomp_algorithm "algo=zstd priority=1 level=19"
# 64 MiB of text, each page its own (so none is same-filled): a pass of
# seconds here, far longer in a sanitizer build
awk 'BEGIN { srand(7); for (i = 0; i < 2200000; i++)
	printf "row %d: %d %x %d\n", i, int(rand() * 1e6), i * 2654435761 % 4294967296, i % 97 }' |
	head -c 64M >"$T/all"
dd if="$T/all" of="$MNT/swap" bs=1M oflag=direct conv=notrunc status=none ||
	zf_fail "write of the content"

# --- during a long recompression pass -------------------------------------
$H ctl "$Z/recompress" "max_pages=0" >"$T/pass.out" 2>&1 &
PASS=$!
ZF_WORK="$ZF_WORK $PASS"
# the pass has begun once the first pages are recompressed
c0=$(mm 2)
zf_wait 100 eval '[ "$(mm 2)" != "$c0" ]' || zf_fail "the recompression pass did not start"
timed "$PASS" \
	r "$Z/backing_dev" OK r "$Z/recomp_algorithm" OK r "$Z/train_dict" OK \
	r "$Z/mm_stat" OK r "$Z/bd_stat" OK r "$Z/writeback_batch_size" OK \
	r "$Z/writeback_limit" OK r "$Z/files" OK \
	w "$Z/algorithm_params" "priority=0 level=2" OK \
	w "$Z/algorithm_params" "priority=1 level=5" OK \
	w "$Z/recomp_algorithm" "algo=zstd priority=1" EBUSY \
	w "$Z/backing_dev" "$BD2" OK \
	w "$Z/writeback_batch_size" 16 OK \
	w "$Z/writeback" huge EAGAIN \
	w "$Z/idle" all OK >"$T/timed" || zf_fail "timed.py failed"
while read -r line; do zf_log "during the pass: $line"; done <"$T/timed"
[ "$(tail -n 1 "$T/timed")" = alive ] ||
	zf_fail "the pass ended while the control files were used: too short to test ($(cat "$T/pass.out"))"
grep -q '^BAD' "$T/timed" &&
	zf_fail "a control file did not answer as it should within $FAST ms during the pass"
wait "$PASS"
expect "the pass" "$(cat "$T/pass.out")" OK
expect "backing_dev after" "$(cat "$Z/backing_dev")" "$BD2"
expect "writeback_batch_size after" "$(cat "$Z/writeback_batch_size")" 16
dd if="$MNT/swap" of="$T/back" bs=1M count=64 iflag=direct status=none
cmp -s "$T/all" "$T/back" || zf_fail "content differs after the pass"

# --- train_dict's report while pages are written --------------------------
(
	i=0
	while [ $i -lt 40 ]; do
		dd if="$T/all" of="$MNT/swap" bs=1M count=8 skip=$((i % 8 * 8)) \
			seek=$((i % 8 * 8)) oflag=direct conv=notrunc status=none || exit 1
		i=$((i + 1))
	done
) &
W=$!
ZF_WORK="$ZF_WORK $W"
n=0
while zf_alive "$W" || [ $n -lt 10 ]; do
	set -- r "$Z/train_dict" OK r "$Z/train_dict" OK r "$Z/train_dict" OK \
		r "$Z/train_dict" OK r "$Z/train_dict" OK
	timed "$W" "$@" >>"$T/reads" || zf_fail "timed.py failed"
	# a training takes its own time (not timed), in the middle of the writes
	[ $n -eq 4 ] && accept train_dict 16K
	n=$((n + 1))
done
wait "$W" || zf_fail "the writes failed"
zf_log "train_dict read $(grep -c ' read:' "$T/reads") times during writes, slowest $(
	sed -n 's/.* read: OK in \([0-9.]*\) ms/\1/p' "$T/reads" | sort -n | tail -n 1) ms"
grep '^BAD' "$T/reads" >&2 && zf_fail "a train_dict read failed or took $FAST ms or more"
expect "a dictionary trained during the writes" "$(cut -d' ' -f6 "$Z/train_dict")" 1
dd if="$MNT/swap" of="$T/back" bs=1M count=64 iflag=direct status=none
cmp -s "$T/all" "$T/back" || zf_fail "content differs after the writes"
zf_umount "$MNT"
exit 0
