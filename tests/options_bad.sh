#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# options_bad: every bad option, size or argument stops the daemon with a
# non-zero exit and exactly one line on stderr, and nothing is mounted -
# in the foreground and through the forking (background) start alike.
# Every option of src/options.c has its bad values here: empty, not a
# number or size, out of range both ways, overflowing, a value for a
# switch; and a bad value after a good one.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
MNT=$ZF_TMP/mnt
mkdir -p "$MNT"
ZF_MOUNTS="$MNT"
: >"$ZF_TMP/file"
long=$(printf '%0256d' 0)	# a name of 256 bytes

# refuse [-f] ARGS...: run the daemon, which must fail as described
refuse() {
	zf_timeout 20 "$ZRAMFUSE" "$@" >"$ZF_TMP/out" 2>"$ZF_TMP/err"
	rc=$?
	if mountpoint -q "$MNT"; then
		zf_unhang umount "$MNT"
		zf_fail "mounted with: $*"
	fi
	[ $rc -ne 0 ] || zf_fail "exit 0 with: $*"
	[ $rc -ne 124 ] || zf_fail "timed out with: $*"
	lines=$(wc -l <"$ZF_TMP/err")
	[ "$lines" -eq 1 ] || {
		cat "$ZF_TMP/err" >&2
		zf_fail "$lines lines on stderr with: $*"
	}
	echo "refused ($rc): $* -> $(cat "$ZF_TMP/err")"
}

for f in -f ""; do
	for o in size=abc size=0 size=-1 size=1X size=1.5G size= size=200T \
		 size=99999999999999999999 comp=gzip comp=LZ4 comp_level=x \
		 comp=lz4,comp_level=0x1 comp=zstd,comp_level=99 \
		 comp=lz4,comp_level=70000 mem_limit=abc mem_limit=-5 \
		 deferred_free=yes threads=0 threads=65 threads=two \
		 reclaim_threads=0 reclaim_threads=17 reserve=2G reserve=1Z \
		 file= file=a/b file=.zram file=.. frobnicate \
		 size=1M,allow_other,bogus=1 \
		 size=1T5 size=1KK size=129T size=0K \
		 comp= comp_level= comp_level=99999999999 \
		 comp=lz4,comp_level=-1 comp=zstd,comp_level=-8 \
		 comp=zstd,comp_level=23 \
		 mem_limit= mem_limit=1Q mem_limit=1.5G \
		 mem_limit=99999999999999999999 \
		 deferred_free= deferred_free=ON \
		 threads= threads=-1 threads=4.5 threads=99999999999 \
		 reclaim_threads= reclaim_threads=x reclaim_threads=-1 \
		 reserve= reserve=-1 reserve=abc reserve=1025M \
		 reserve=99999999999999999999 \
		 file=. "file=$long" \
		 nomlock=1 noioflusher=x nooomadj=1 \
		 recomp=gzip recomp=ZSTD recomp= recomp_level=x recomp_level= \
		 recomp=zstd,recomp_level=99 comp=zstd,recomp=lz4,recomp_level=70000 \
		 readback_recomp=yes readback_recomp= \
		 transport= transport=URING transport=fuse transport=uring,x \
		 uring_depth= uring_depth=0 uring_depth=65 uring_depth=x \
		 uring_threads= uring_threads=0 uring_threads=17 \
		 backing_dev= backing_dev=relative backing_dev=/nonexistent/bd \
		 writeback_idle= writeback_idle=x writeback_idle=-1 \
		 writeback_idle_pages=1.5 recompress_idle=99999999999 \
		 recompress_idle_pages=two \
		 comp_dict= comp_dict=relative comp=lz4,comp_dict=/etc/hostname \
		 comp=zstd,comp_dict=/nonexistent/dict comp=zstd,comp_dict=/ \
		 comp=zstd,comp_dict=/dev/null recomp_dict= recomp=off,recomp_dict=/etc/hostname \
		 comp=zstd,recomp_dict=/etc/hostname recomp=lz4,recomp_dict=/etc/hostname \
		 recomp_dict=/nonexistent/dict \
		 size=1M,size=abc; do
		refuse $f -o "$o" "$MNT"
	done
	refuse $f -o size=1M -o threads=0 "$MNT"
	refuse $f "$MNT" -o
	refuse $f ""
	refuse $f
	refuse $f "$ZF_TMP/does-not-exist"
	refuse $f a b "$MNT"
	refuse $f -o size=1M "$ZF_TMP/file"
	refuse $f --no-such-switch "$MNT"
done
# not an error: --help and --version print and exit 0, mounting nothing
"$ZRAMFUSE" --help >/dev/null || zf_fail "--help exit status"
"$ZRAMFUSE" --version | grep -q '^zramfuse ' || zf_fail "--version"
mountpoint -q "$MNT" && zf_fail "--help mounted something"
exit 0
