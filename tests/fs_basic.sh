#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_basic: the filesystem as a user meets it - the file made by size=,
# O_DIRECT patterns at aligned and unaligned offsets, truncate, punched
# holes and the stats after them, SEEK_DATA/SEEK_HOLE, unlink while open,
# rename, readdir, the refused operations and their errno, ENOSPC and
# truncate at mem_limit, the control files and their permissions for a
# non-root user, the mount.fuse3 and fstab forms, a worker thread that
# cannot be created, SIGTERM and SIGHUP with no file open (with one:
# tests/fs_faults.sh), and unmount.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
command -v python3 >/dev/null || zf_skip "no python3"
command -v setpriv >/dev/null || zf_skip "no setpriv"

H="python3 $top_srcdir/tests/fs_helper.py"
MNT=$ZF_TMP/mnt
T=$ZF_TMP
chmod 755 "$T"		# the non-root checks walk through it

# as nobody, with no supplementary groups
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# field $1 of mm_stat
mm() { cut -d' ' -f"$1" "$MNT/.zram/mm_stat"; }
expect() {	# expect WHAT GOT WANT
	[ "$2" = "$3" ] || zf_fail "$1: got '$2', want '$3'"
}

zf_mount "$MNT" -o size=16M,allow_other,threads=4

# --- the file made at mount ---------------------------------------------
expect "size of swap" "$(stat -c %s "$MNT/swap")" 16777216
expect "mode of swap" "$(stat -c %a "$MNT/swap")" 600
expect "owner of swap" "$(stat -c %u:%g "$MNT/swap")" "$(id -u):$(id -g)"
expect "statfs block size" "$(stat -f -c %S "$MNT")" 4096
expect "empty store" "$(mm 1)" 0

# --- aligned O_DIRECT with dd, then unaligned through the helper ---------
head -c 4M /dev/urandom >"$T/rand"
dd if="$T/rand" of="$MNT/swap" bs=64k oflag=direct conv=notrunc status=none ||
	zf_fail "dd oflag=direct"
dd if="$MNT/swap" of="$T/back" bs=64k count=64 iflag=direct status=none ||
	zf_fail "dd iflag=direct"
cmp -s "$T/rand" "$T/back" || zf_fail "O_DIRECT read-back differs"
expect "size after writing inside" "$(stat -c %s "$MNT/swap")" 16777216
orig=$(mm 1)
[ "$orig" -ge 4194304 ] || zf_fail "orig_data_size $orig after writing 4 MiB"
[ "$(mm 2)" -gt 0 ] || zf_fail "compr_data_size is 0 after writing"
$H pattern "$MNT/pattern" || zf_fail "O_DIRECT patterns"

# concurrent writers on four files at once, every block checked (fio is
# installed by scripts/install-deps.sh)
command -v fio >/dev/null || zf_fail "fio is missing: run scripts/install-deps.sh"
fio --name=conc --directory="$MNT" --rw=randwrite --bsrange=512-65536 \
	--size=8M --numjobs=4 --iodepth=16 --ioengine=libaio --direct=1 \
	--verify=crc32c --verify_fatal=1 --verify_state_save=0 --refill_buffers \
	--buffer_compress_percentage=50 >"$T/fio.log" 2>&1 ||
	{ cat "$T/fio.log" >&2; zf_fail "fio: concurrent writes with verify"; }
rm -f "$MNT"/conc.*

# --- punch holes: the pages go, the stats fall after a compact ------------
echo 1 >"$MNT/.zram/compact"	# drain what the fio files left to reclaim
orig=$(mm 1)
fallocate -p -o 0 -l 4M "$MNT/swap" || zf_fail "fallocate -p"
echo 1 >"$MNT/.zram/compact" || zf_fail "write compact"
after=$(mm 1)
[ "$after" -le $((orig - 4194304)) ] ||
	zf_fail "orig_data_size $orig -> $after after punching 4 MiB"
cmp -s -n 4194304 /dev/zero "$MNT/swap" || zf_fail "punched range is not zeros"

# --- pages read back are recompressed by zstd in the background -----------
# (readback_stat: readback_pages readback_compr readback_recomp
# readback_todo)
rb() { cut -d' ' -f"$1" "$MNT/.zram/readback_stat"; }
while [ "$(stat -c %s "$T/text" 2>/dev/null || echo 0)" -lt 4194304 ]; do
	cat /usr/share/common-licenses/* >>"$T/text"
done
head -c 4M "$T/text" >"$T/text4"
dd if="$T/text4" of="$MNT/swap" bs=1M seek=8 oflag=direct conv=notrunc status=none ||
	zf_fail "dd text"
compr=$(mm 2)
# (pages the earlier cases read may still wait: they are only 5 s old)
# read again and again for 7 s: a page is recompressed only once it has
# been left alone for 5 s (a RAM disk's hot pages stay lz4)
end=$(($(date +%s) + 7))
while [ "$(date +%s)" -lt $end ]; do
	dd if="$MNT/swap" of=/dev/null bs=1M skip=8 count=4 iflag=direct status=none
done
[ "$(rb 1)" -ge 1024 ] || zf_fail "readback_pages $(rb 1) after reading 1024 pages"
[ "$(rb 4)" -ge 1024 ] ||
	zf_fail "pages read again and again were recompressed: $(cat "$MNT/.zram/readback_stat")"
zf_wait 200 eval '[ "$(rb 4)" = 0 ]' ||
	zf_fail "read-back pages not recompressed within 20 s of the last read: $(cat "$MNT/.zram/readback_stat")"
[ "$(rb 3)" -gt 512 ] && [ "$(mm 2)" -lt "$compr" ] ||
	zf_fail "zstd did not shrink the text: compr $compr -> $(mm 2), readback_stat $(cat "$MNT/.zram/readback_stat")"
dd if="$MNT/swap" of="$T/back" bs=1M skip=8 count=4 iflag=direct status=none
cmp -s "$T/text4" "$T/back" || zf_fail "recompressed pages read back differ"
expect "size after punch" "$(stat -c %s "$MNT/swap")" 16777216
# fallocate mode 0 extends, zero range works, collapse is refused
fallocate -l 20M "$MNT/swap" || zf_fail "fallocate to 20M"
expect "size after fallocate" "$(stat -c %s "$MNT/swap")" 20971520
fallocate -z -o 1M -l 1M "$MNT/swap" || zf_fail "fallocate -z"
fallocate -c -o 0 -l 4096 "$MNT/swap" 2>/dev/null &&
	zf_fail "fallocate --collapse-range accepted"

# --- truncate grow and shrink: the tail is discarded ----------------------
printf 'abcdefgh' >"$MNT/t"
truncate -s 3 "$MNT/t"
truncate -s 8192 "$MNT/t"
expect "size after grow" "$(stat -c %s "$MNT/t")" 8192
expect "shrunk tail reads zeros" "$(head -c 8 "$MNT/t" | od -An -c | tr -d ' ')" 'abc\0\0\0\0\0'
head -c 1M /dev/urandom >"$MNT/t"
b=$(stat -c %b "$MNT/t")
[ "$b" -ge 2048 ] || zf_fail "st_blocks $b for 1 MiB"
truncate -s 0 "$MNT/t"
expect "st_blocks after truncate to 0" "$(stat -c %b "$MNT/t")" 0

# --- SEEK_DATA/SEEK_HOLE, unlink while open, ENOSPC ----------------------
$H seek "$MNT/seek" || zf_fail "SEEK_DATA/SEEK_HOLE"
$H unlink_open "$MNT/gone" || zf_fail "unlink while open"
used=$(mm 3)
# 2 MiB and five pages: the 64 KiB write that fails stores some pages first
echo $((used + 2097152 + 20480)) >"$MNT/.zram/mem_limit" || zf_fail "set mem_limit"
$H enospc "$MNT/full" || zf_fail "ENOSPC at mem_limit"
echo 0 >"$MNT/.zram/mem_limit"
rm "$MNT/full"
# truncate at mem_limit, on a mount of its own: with no partly used zspage
# to take the rewritten last page, a shrink to an unaligned size fails -
# and must leave the file as it was
zf_mount "$T/tf" -o size=1M
used=$(cut -d' ' -f3 "$T/tf/.zram/mm_stat")
echo $((used + 2097152)) >"$T/tf/.zram/mem_limit" || zf_fail "set mem_limit (tf)"
$H truncate_full "$T/tf/full" || zf_fail "truncate at mem_limit"
zf_umount "$T/tf"

# --- rename, readdir -----------------------------------------------------
echo hello >"$MNT/a"
echo world >"$MNT/b"
mv "$MNT/a" "$MNT/c" || zf_fail "rename"
mv "$MNT/c" "$MNT/b" || zf_fail "rename over a file"
expect "renamed content" "$(cat "$MNT/b")" hello
[ -e "$MNT/a" ] && zf_fail "old name still there"
expect "readdir" "$(ls -A "$MNT" | tr '\n' ' ')" ".zram b pattern seek swap t "
expect "new file mode" "$(stat -c %a "$MNT/b")" 600

# --- what a flat directory of regular files refuses ----------------------
expect "mkdir" "$($H errno mkdir "$MNT/d")" EPERM
expect "link" "$($H errno link "$MNT/b" "$MNT/b2")" EPERM
expect "symlink" "$($H errno symlink b "$MNT/s")" EPERM
expect "mknod fifo" "$($H errno mknod_fifo "$MNT/f")" EPERM
expect "rmdir .zram" "$($H errno rmdir "$MNT/.zram")" EPERM
expect "create in .zram" "$($H errno mknod "$MNT/.zram/x")" EPERM
expect "rename into .zram" "$($H errno rename "$MNT/b" "$MNT/.zram/b")" EPERM

# --- control files -------------------------------------------------------
Z=$MNT/.zram
expect "control files" "$(ls "$Z" | tr '\n' ' ')" \
	"algorithm_params backing_dev bd_stat block_state comp_algorithm compact compressed_writeback files idle io_stat mem_limit mem_used_max mm_stat readback_stat reclaim_stat recomp_algorithm recompress recompress_idle recompress_idle_pages reserve_stat train_dict transport writeback writeback_batch_size writeback_idle writeback_idle_pages writeback_limit writeback_limit_enable "
expect "mm_stat columns" "$(wc -w <"$Z/mm_stat")" 9
expect "io_stat columns" "$(wc -w <"$Z/io_stat")" 4
expect "reclaim_stat columns" "$(wc -w <"$Z/reclaim_stat")" 5
expect "reserve_stat columns" "$(wc -w <"$Z/reserve_stat")" 4
expect "readback_stat columns" "$(wc -w <"$Z/readback_stat")" 4
expect "comp_algorithm" "$(cat "$Z/comp_algorithm")" "[lz4] zstd"
expect "recomp_algorithm by default" "$(cat "$Z/recomp_algorithm")" "#1: lz4 [zstd]"
grep -q '^20971520 [0-9]* [0-9]* swap$' "$Z/files" || zf_fail "files: $(cat "$Z/files")"
echo 1G >"$Z/mem_limit" || zf_fail "mem_limit=1G"
expect "mem_limit" "$(cat "$Z/mem_limit")" 1073741824
expect "mm_stat mem_limit" "$(mm 4)" 1073741824
echo 0 >"$Z/mem_limit"
( echo 12Q >"$Z/mem_limit" ) 2>/dev/null && zf_fail "mem_limit took 12Q"
echo 0 >"$Z/mem_used_max" || zf_fail "reset mem_used_max"
expect "mem_used_max after reset" "$(cat "$Z/mem_used_max")" "$(mm 3)"
( echo 5 >"$Z/mem_used_max" ) 2>/dev/null && zf_fail "mem_used_max took 5"
cat "$Z/compact" >/dev/null 2>&1 && zf_fail "compact is readable"
( echo 1 >"$Z/mm_stat" ) 2>/dev/null && zf_fail "mm_stat is writable"
expect "control modes" "$(stat -c '%a %u' "$Z/mm_stat" "$Z/mem_limit" "$Z/compact" | tr '\n' ' ')" \
	"444 0 644 0 200 0 "

# a non-root user reads the stats but writes nothing, and (0600) no data
nobody cat "$Z/mm_stat" >/dev/null || zf_fail "nobody cannot read mm_stat"
nobody sh -c "echo 1G >'$Z/mem_limit'" 2>/dev/null && zf_fail "nobody wrote mem_limit"
nobody sh -c "echo 1 >'$Z/compact'" 2>/dev/null && zf_fail "nobody wrote compact"
nobody sh -c "echo all >'$Z/idle'" 2>/dev/null && zf_fail "nobody wrote idle"
nobody sh -c "echo 10 >'$Z/writeback_idle'" 2>/dev/null && zf_fail "nobody wrote writeback_idle"
nobody cat "$Z/block_state" >/dev/null 2>&1 && zf_fail "nobody read block_state (0400)"
nobody cat "$Z/bd_stat" >/dev/null || zf_fail "nobody cannot read bd_stat"
nobody cat "$MNT/swap" >/dev/null 2>&1 && zf_fail "nobody read a 0600 file"
nobody sh -c "echo x >'$MNT/nb'" 2>/dev/null && zf_fail "nobody created a file in a 0755 root"
expect "mem_limit after nobody" "$(cat "$Z/mem_limit")" 0

# --- without allow_other, nobody reaches nothing -------------------------
zf_mount "$T/priv" -o size=1M
nobody ls "$T/priv" >/dev/null 2>&1 && zf_fail "nobody listed a mount without allow_other"
zf_umount "$T/priv"

# --- mount.fuse3's form (SOURCE MOUNTPOINT -o ...), and an fstab line ---
# mount(8) runs helpers with a fixed PATH, so "-t fuse.zramfuse" finds only
# an installed zramfuse; mount.fuse3 itself is run with ours on the PATH,
# and fstab names the binary in the "PROGRAM#SOURCE" form mount.fuse3 reads.
mkdir -p "$T/m3"
ZF_MOUNTS="$T/m3 $ZF_MOUNTS"
PATH=$(dirname "$ZRAMFUSE"):$PATH zf_timeout 30 mount.fuse3 zramfuse "$T/m3" \
	-t zramfuse -o size=2M,comp=zstd,nomlock 2>/dev/null ||
	zf_fail "mount.fuse3 zramfuse $T/m3 -t zramfuse"
expect "mount.fuse3: file" "$(stat -c %s "$T/m3/swap")" 2097152
expect "mount.fuse3: comp" "$(cat "$T/m3/.zram/comp_algorithm")" "lz4 [zstd]"
grep -q "^zramfuse $T/m3 fuse.zramfuse " /proc/mounts ||
	zf_fail "not zramfuse/fuse.zramfuse in /proc/mounts"
zf_unhang umount "$T/m3" || zf_fail "umount m3"
echo "$ZRAMFUSE#zramfuse $T/m3 fuse size=1M,file=disk,nomlock 0 0" >"$T/fstab"
zf_timeout 30 mount -T "$T/fstab" "$T/m3" 2>/dev/null || zf_fail "mount from fstab"
expect "fstab: file" "$(stat -c %s "$T/m3/disk")" 1048576
zf_unhang umount "$T/m3" || zf_fail "umount m3 (fstab)"
zf_timeout 30 mount -t fuse "$ZRAMFUSE#zramfuse" "$T/m3" -o size=1Q 2>"$T/err" &&
	zf_fail "mount -o size=1Q succeeded"
mountpoint -q "$T/m3" && zf_fail "mounted after a bad size"
expect "mount error lines" "$(wc -l <"$T/err")" 1

# --- a worker thread that cannot be created: one line, exit 1, no mount, no
# hang.  A preloaded pthread_create() fails call N: the store makes three
# threads (reclaim_threads=1, the headroom measurer and the refill
# thread), the filesystem one (read-back recompression), so N=5 is the
# first FUSE worker and N=7 the third, after two were made.
if command -v cc >/dev/null; then
	cat >"$T/failthr.c" <<'EOF'
// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef int create_fn(pthread_t *, const pthread_attr_t *,
		      void *(*)(void *), void *);

int pthread_create(pthread_t *t, const pthread_attr_t *a,
		   void *(*fn)(void *), void *arg)
{
	static atomic_int calls;
	create_fn *next = (create_fn *)dlsym(RTLD_NEXT, "pthread_create");
	const char *s = getenv("ZF_FAIL_THREAD");

	if (s && atomic_fetch_add(&calls, 1) + 1 == atoi(s))
		return EAGAIN;
	return next(t, a, fn, arg);
}
EOF
	cc -shared -fPIC -o "$T/failthr.so" "$T/failthr.c" -ldl ||
		zf_fail "building the pthread_create shim"
	mkdir -p "$T/ft"
	ZF_MOUNTS="$T/ft $ZF_MOUNTS"
	# threads 1-3 are the store's (reclaim, headroom, refill), 4 the
	# filesystem's read-back recompression thread (fs_create())
	ZF_FAIL_THREAD=4 LD_PRELOAD="$T/failthr.so" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
		zf_timeout 30 "$ZRAMFUSE" -f -o size=1M,threads=4,reclaim_threads=1 \
		"$T/ft" 2>"$T/err"
	rc=$?
	[ $rc = 1 ] && grep -q "filesystem (file swap of 1048576 bytes, read-back recompression thread)" "$T/err" ||
		zf_fail "recompression thread not created: exit $rc, $(cat "$T/err")"
	mountpoint -q "$T/ft" && zf_fail "recompression thread not created: still mounted"
	for n in 5 7; do
		k=$((n - 5))
		ZF_FAIL_THREAD=$n LD_PRELOAD="$T/failthr.so" \
			ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
			zf_timeout 30 "$ZRAMFUSE" -f -o size=1M,threads=4,reclaim_threads=1,transport=classic \
			"$T/ft" 2>"$T/err"
		rc=$?
		case $rc in 124 | 137) zf_fail "worker $k not created: daemon hung" ;; esac
		[ $rc = 1 ] || zf_fail "worker $k not created: exit status $rc"
		grep -q "worker thread $k: " "$T/err" ||
			zf_fail "worker $k not created: $(cat "$T/err")"
		mountpoint -q "$T/ft" && zf_fail "worker $k not created: still mounted"
	done
fi

# --- SIGTERM, SIGHUP with no file open: the daemon stops its workers,
# unmounts, exits 0 (with a file open it refuses: tests/fs_faults.sh) ---
for sig in TERM HUP; do
	zf_mount "$T/sig" -o size=1M
	# only the main thread takes signals, in sigtimedwait(), which
	# unblocks them while it waits (and only then: between two waits
	# its mask blocks them too, so it may or may not be seen); every
	# other thread - serving, reclaim, refill, ... - blocks every signal
	# (glibc's own 32 and 33 too) but SIGKILL, SIGSTOP, SIGPIPE (ignored)
	# and SIGUSR1 (the serving threads' do-nothing wake-up): SigBlk bits
	# 8, 18, 12 and 9 may be clear.  A ThreadSanitizer build has one
	# thread that is not ours: the runtime's background thread, which
	# blocks what glibc's sigprocmask() can (all but 9, 19, 32 and 33,
	# mask fffffffe7ffbfeff); it is let through there, once, and nowhere
	# else (a release build has no such thread)
	takers= runtime=0
	for st in /proc/"$ZF_PID"/task/*/status; do
		blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "$st")
		if [ -n "${TSAN_OPTIONS:-}" ] && [ "$blk" = fffffffe7ffbfeff ] &&
		    [ $runtime = 0 ]; then
			runtime=1
			continue
		fi
		hi=${blk%????????} lo=${blk#"$hi"}
		[ $((0x$lo | 0x41300)) = $((0xffffffff)) ] &&
			[ $((0x$hi)) = $((0xffffffff)) ] ||
			takers="$takers $(sed -n 's/^Pid:[[:space:]]*//p' "$st")"
	done
	[ -z "$takers" ] || [ "$takers" = " $ZF_PID" ] ||
		zf_fail "threads that take SIG$sig: '$takers', want none but $ZF_PID"
	kill -"$sig" "$ZF_PID"
	zf_wait 100 eval '! zf_alive $ZF_PID' || zf_fail "SIG$sig: daemon still running"
	wait "$ZF_PID"
	rc=$?
	[ $rc = 0 ] || zf_fail "SIG$sig: exit status $rc"
	zf_wait 50 eval '! mountpoint -q "$T/sig"' || zf_fail "SIG$sig: still mounted"
	grep -q "SIG$sig from pid [0-9]*: no file open, exiting" "$ZF_TMP/daemon.$$.log" ||
		zf_fail "SIG$sig: not logged: $(tail -3 "$ZF_TMP/daemon.$$.log")"
done

# --- unmount: the daemon exits by itself ----------------------------------
zf_umount "$MNT"
exit 0
