#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_writeback: zram's idle tracking and writeback in <mnt>/.zram/ - the
# syntax each control file takes and the errno of each bad value (zram's),
# and the effect: pages idle after "idle all" and cleared by a read, the
# age form, writeback of huge, idle, page_index= and page_indexes= pages
# (exactly those move: bd_stat and the backing file's allocated blocks
# grow, compr_data_size and mem_used_total fall, every page reads back
# intact), in batches of writeback_batch_size pages (zram's 32, then 7,
# 1 and 3), a discard and an overwrite free a page's block and punch its
# hole, writeback_limit stops writeback at the limit, backing_dev is
# refused once a page was written back (not after a pass that wrote
# none), and -o backing_dev= at mount.  compressed_writeback reads 1 and
# takes only a true value (false: EBUSY).
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
. "$top_srcdir/tests/pp_lib.sh"
command -v fallocate >/dev/null || zf_skip "no fallocate"
# The backing file needs direct I/O and hole punching: not tmpfs on every
# kernel, so it lives on the disk of the build tree.
BD=$(cd "$top_builddir" && pwd)/fs_writeback.bd.$$
BD2=$(cd "$top_builddir" && pwd)/fs_writeback.bd2.$$
ZF_ATEXIT="rm -f '$BD' '$BD2'"

blocks() { stat -c %b "$1"; }
# read pages [$1, $1 + $2) of the file, bypassing every cache
readpages() {
	dd if="$MNT/swap" of=/dev/null bs=4k skip="$1" count="$2" iflag=direct \
		status=none || zf_fail "read of pages $1+$2"
}

truncate -s 64M "$BD" || zf_fail "truncate $BD"
: >"$BD2"

zf_mount "$MNT" -o size=16M

# --- syntax and errnos, before any backing file -------------------------
expect "backing_dev without one" "$(cat "$Z/backing_dev")" none
expect "bd_stat of nothing" "$(cat "$Z/bd_stat")" "0 0 0"
refuse writeback idle ENODEV
refuse writeback page_index=0 ENODEV
for v in all "all
" 0 10 0x10 010 +5; do
	accept idle "$v"
done
for v in x -1 1x "all all" 0x 18446744073709551616; do
	refuse idle "$v" EINVAL
done
accept writeback_limit 100
expect "writeback_limit" "$(cat "$Z/writeback_limit")" 100
accept writeback_limit_enable 7
expect "writeback_limit_enable" "$(cat "$Z/writeback_limit_enable")" 1
accept writeback_limit_enable 0
expect "writeback_limit_enable off" "$(cat "$Z/writeback_limit_enable")" 0
for v in abc -1 0x10 " "; do
	refuse writeback_limit "$v" EINVAL
	refuse writeback_limit_enable "$v" EINVAL
done
refuse backing_dev "$T/none" ENOENT
refuse backing_dev "$T" EISDIR
refuse backing_dev /dev/null ENOTBLK
expect "backing_dev after refusals" "$(cat "$Z/backing_dev")" none
# zram's newest: writeback_batch_size (32) and compressed_writeback (always 1)
expect "writeback_batch_size" "$(cat "$Z/writeback_batch_size")" 32
for v in 0 x -1 0x10 4294967296 " "; do
	refuse writeback_batch_size "$v" EINVAL
done
accept writeback_batch_size +7
expect "writeback_batch_size set" "$(cat "$Z/writeback_batch_size")" 7
expect "compressed_writeback" "$(cat "$Z/compressed_writeback")" 1
for v in 1 y yes on Y; do
	accept compressed_writeback "$v"
done
for v in 0 n no off; do
	refuse compressed_writeback "$v" EBUSY
done
refuse compressed_writeback maybe EINVAL
expect "compressed_writeback after" "$(cat "$Z/compressed_writeback")" 1
accept backing_dev "$BD"
expect "backing_dev" "$(cat "$Z/backing_dev")" "$BD"
[ "$(stat -c %a "$Z/idle")" = 200 ] || zf_fail "idle is not write-only"
expect "block_state mode" "$(stat -c %a "$Z/block_state")" 400

refuse writeback foo EINVAL
refuse writeback type=bogus EINVAL
refuse writeback page_index=x EINVAL
refuse writeback page_index=4096 ERANGE
refuse writeback page_indexes=5 EINVAL
refuse writeback page_indexes=5-2 ERANGE
refuse writeback page_indexes=0-4096 ERANGE
refuse writeback nonsense=1 EINVAL
nl='
'
for v in " " "$nl" "	 $nl"; do
	refuse writeback "$v" EINVAL	# no mode, as zram
done
expect "nothing written back by refusals" "$(bd 3)" 0
# a pass that moves nothing leaves the backing file free to change
accept writeback idle
accept writeback huge
truncate -s 4M "$BD2"
accept backing_dev "$BD2"
expect "backing_dev after writebacks of nothing" "$(cat "$Z/backing_dev")" "$BD2"
accept backing_dev "$BD"

# --- content: 256 random (huge) pages, 512 text pages, 256 zero pages ---
head -c 1M /dev/urandom >"$T/rand"
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "line %d of the text %d\n", i, i % 7 }' |
	head -c 2M >"$T/text"
head -c 1M /dev/zero >"$T/zero"
cat "$T/rand" "$T/text" "$T/zero" >"$T/all"
dd if="$T/all" of="$MNT/swap" bs=64k oflag=direct conv=notrunc status=none ||
	zf_fail "write of the content"
expect "huge pages stored" "$(mm 8)" 256
expect "same pages stored" "$(mm 6)" 256
expect "nothing idle yet" "$(flagged i)" 0

# --- idle ------------------------------------------------------------------
accept idle all
expect "idle after idle all (same-filled pages never are)" "$(flagged i)" 768
expect "zero pages not idle" "$(awk '$3 ~ /s/ && $3 ~ /i/' "$Z/block_state" | wc -l)" 0
readpages 0 10
readpages 300 5
expect "idle after reading 15 pages" "$(flagged i)" 753
for p in 0 9 300 304; do
	awk -v p=$p '$1 == p && $3 ~ /i/ { exit 1 }' "$Z/block_state" ||
		zf_fail "page $p read but still idle"
done
awk '$1 == 10 && $3 !~ /i/ { exit 1 }' "$Z/block_state" ||
	zf_fail "page 10 not read but not idle"
# a write clears the mark too
dd if="$T/text" of="$MNT/swap" bs=4k seek=400 count=1 oflag=direct conv=notrunc \
	status=none
dd if="$T/text" of="$T/all" bs=4k seek=400 count=1 conv=notrunc status=none
awk '$1 == 400 && $3 ~ /i/ { exit 1 }' "$Z/block_state" ||
	zf_fail "page 400 written but still idle"
# the age form: pages accessed at least N s ago are marked, the others cleared.
# The store's clock counts whole seconds, so a page read at second k is
# marked by "idle N" from second k+N on: read-to-mark may take up to N-1 s
# (a loaded machine, make -j2 check beside swap tests, stalled this shell
# for over a second between the two at N=2), and the others must be N s
# old first.
sleep 5
readpages 20 4
accept idle 4
expect "idle 4: all but the 4 just read" "$(flagged i)" 764
accept idle 3600
expect "idle 3600: nothing is that old" "$(flagged i)" 0

# --- writeback huge: exactly the huge pages -----------------------------
compr0=$(mm 2)
b0=$(blocks "$BD")
accept writeback huge
expect "bd_count after writeback huge" "$(bd 1)" 256
expect "bd_writes after writeback huge" "$(bd 3)" 256
expect "written back = huge" "$(flagged w)" "$(flagged h)"
expect "huge_pages after writeback (only those in memory)" "$(mm 8)" 0
compr1=$(mm 2)
expect "compr_data_size fell by the raw pages" $((compr0 - compr1)) $((256 * 4096))
b1=$(blocks "$BD")
[ $((b1 - b0)) -ge $((256 * 8)) ] ||
	zf_fail "backing file grew by $((b1 - b0)) blocks of 512, want >= $((256 * 8))"

# --- writeback idle: exactly the idle pages -----------------------------
accept idle all
readpages 256 100		# 100 text pages accessed: they stay
idle=$(flagged i)
expect "idle text pages" "$idle" $((512 - 100))
used0=$(mm 3)
accept writeback idle
expect "bd_count after writeback idle" "$(bd 1)" $((256 + idle))
expect "idle pages left" "$(flagged i)" 0
expect "pages accessed are not written back" \
	"$(awk '$1 >= 256 && $1 < 356 && $3 ~ /w/' "$Z/block_state" | wc -l)" 0
used1=$(mm 3)
[ "$used1" -lt "$used0" ] || zf_fail "mem_used_total $used0 -> $used1 after writeback idle"
expect "orig_data_size keeps written-back pages" "$(mm 1)" $((4 << 20))
b2=$(blocks "$BD")
[ $((b2 - b1)) -ge $((idle * 8)) ] ||
	zf_fail "backing file grew by $((b2 - b1)) blocks for $idle pages"

# --- every page reads back intact -----------------------------------------
r0=$(bd 2)
dd if="$MNT/swap" of="$T/back" bs=64k count=64 iflag=direct status=none
cmp -s "$T/all" "$T/back" || zf_fail "content differs after writeback"
expect "bd_reads after reading it all" $(($(bd 2) - r0)) "$(bd 1)"
expect "reads leave pages on the backing file" "$(bd 1)" $((256 + idle))

# --- page_index and page_indexes (a page at a time, then in batches of 3) --
accept writeback_batch_size 1
accept writeback page_index=300
awk '$1 == 300 && $3 !~ /w/ { exit 1 }' "$Z/block_state" ||
	zf_fail "page_index=300 not written back"
n0=$(bd 1)
accept writeback_batch_size 3
accept writeback "page_indexes=256-259 page_index=261"
expect "page_indexes=256-259 page_index=261" $(($(bd 1) - n0)) 5
accept writeback page_index=900	# a zero page: never written back
expect "zero page written back" $(($(bd 1) - n0)) 5
# a partial write and a partial discard of written-back pages: read back
# from the file, changed, stored in memory again, the block freed
n0=$(bd 1)
head -c 100 /dev/urandom >"$T/bytes"
dd if="$T/bytes" of="$MNT/swap" bs=100 count=1 seek=$((300 * 4096 + 50)) \
	oflag=seek_bytes conv=notrunc status=none || zf_fail "partial write"
dd if="$T/bytes" of="$T/all" bs=100 count=1 seek=$((300 * 4096 + 50)) \
	oflag=seek_bytes conv=notrunc status=none
fallocate -p -o $((258 * 4096 + 1000)) -l 500 "$MNT/swap" || zf_fail "partial punch"
dd if=/dev/zero of="$T/all" bs=500 count=1 seek=$((258 * 4096 + 1000)) \
	oflag=seek_bytes conv=notrunc status=none
expect "blocks freed by partial updates" $((n0 - $(bd 1))) 2
awk '($1 == 300 || $1 == 258) && $3 ~ /w/ { exit 1 }' "$Z/block_state" ||
	zf_fail "partially updated pages still on the backing file"

# --- discard and overwrite free the blocks and punch the holes ---------
n0=$(bd 1)
b0=$(blocks "$BD")
fallocate -p -o 0 -l 1M "$MNT/swap" || zf_fail "punch 1 MiB"
expect "bd_count after discarding 256 written-back pages" $((n0 - $(bd 1))) 256
zf_wait 50 eval '[ $(blocks "$BD") -le $((b0 - 256 * 8)) ]' ||
	zf_fail "backing file blocks $b0 -> $(blocks "$BD") after the discard"
n0=$(bd 1)
dd if="$T/rand" of="$MNT/swap" bs=4k seek=257 count=1 oflag=direct conv=notrunc \
	status=none
expect "overwrite frees a block" $((n0 - $(bd 1))) 1
dd if="$T/rand" of="$T/all" bs=4k seek=257 count=1 conv=notrunc status=none
dd if="$T/zero" of="$T/all" bs=1M count=1 conv=notrunc status=none
dd if="$MNT/swap" of="$T/back" bs=64k count=64 iflag=direct status=none
cmp -s "$T/all" "$T/back" || zf_fail "content differs after discard and overwrite"

# --- writeback_limit ------------------------------------------------------
dd if="$T/text" of="$MNT/swap" bs=64k oflag=direct conv=notrunc status=none
accept writeback_limit 5
accept writeback_limit_enable 1
accept idle all
w0=$(bd 3)
refuse writeback idle EIO
expect "pages written within the limit" $(($(bd 3) - w0)) 5
expect "limit spent" "$(cat "$Z/writeback_limit")" 0
refuse writeback idle EIO
expect "nothing more at limit 0" $(($(bd 3) - w0)) 5
accept writeback_limit_enable 0
accept writeback idle
[ $(($(bd 3) - w0)) -gt 5 ] || zf_fail "writeback after the limit is off"

# --- backing_dev cannot change once used ---------------------------------
truncate -s 4M "$BD2"
refuse backing_dev "$BD2" EBUSY
expect "backing_dev kept" "$(cat "$Z/backing_dev")" "$BD"

dd if="$MNT/swap" of="$T/back" bs=64k count=64 iflag=direct status=none
dd if="$T/text" of="$T/all" bs=64k conv=notrunc status=none
cmp -s "$T/all" "$T/back" || zf_fail "content differs at the end"
zf_umount "$MNT"

# --- at mount -------------------------------------------------------------
mkdir -p "$T/m2"
"$ZRAMFUSE" -f -o size=4M,backing_dev=relative "$T/m2" >"$T/bad.log" 2>&1 &&
	zf_fail "mounted with a relative backing_dev"
grep -q "backing_dev=relative: not an absolute path" "$T/bad.log" ||
	zf_fail "message for a relative backing_dev: $(cat "$T/bad.log")"
"$ZRAMFUSE" -f -o size=4M,backing_dev=/nonexistent/bd "$T/m2" >"$T/bad.log" 2>&1 &&
	zf_fail "mounted with a missing backing_dev"
grep -q "backing_dev=/nonexistent/bd.*No such file" "$T/bad.log" ||
	zf_fail "message for a missing backing_dev: $(cat "$T/bad.log")"
zf_mount "$MNT" -o size=4M,backing_dev="$BD2"
expect "backing_dev from the mount" "$(cat "$Z/backing_dev")" "$BD2"
dd if="$T/text" of="$MNT/swap" bs=64k count=16 oflag=direct conv=notrunc status=none
accept idle all
accept writeback idle
expect "pages written back on a mounted backing_dev" "$(bd 1)" 256
dd if="$MNT/swap" of="$T/back" bs=64k count=16 iflag=direct status=none
head -c 1M "$T/text" | cmp -s - "$T/back" || zf_fail "read-back on the mounted backing_dev"
zf_umount "$MNT"
exit 0
