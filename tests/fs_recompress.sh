#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_recompress: zram's recomp_algorithm, recompress and algorithm_params
# in <mnt>/.zram/ -
# the syntax and zram's errnos, and the effect: with lz4 as the primary
# codec and zstd as priority 1, recompressing idle pages lowers
# compr_data_size and leaves every page intact; pages that do not shrink
# (random ones) keep their encoding, are marked incompressible and are
# not tried again; max_pages and threshold bound a pass; "writeback
# incompressible" then moves exactly those pages; recomp_algorithm is
# refused once its codec is in use; algorithm_params changes the level
# new pages are compressed at.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
. "$top_srcdir/tests/pp_lib.sh"
pp_need_zstd
BD=$(cd "$top_builddir" && pwd)/fs_recompress.bd.$$
ZF_ATEXIT="rm -f '$BD'"

readall() {
	dd if="$MNT/swap" of="$T/back" bs=64k count=64 iflag=direct status=none
	cmp -s "$T/all" "$T/back" || zf_fail "content differs: $1"
}

truncate -s 64M "$BD"
# recomp=off: no recompression codec until one is named, as on zram
# (zramfuse names zstd behind lz4 by default; fs_basic.sh checks that)
zf_mount "$MNT" -o size=16M,comp=lz4,recomp=off,backing_dev="$BD"

# --- syntax and errnos ------------------------------------------------------
expect "recomp_algorithm before any" "$(cat "$Z/recomp_algorithm")" ""
refuse recompress type=idle EINVAL	# no recompression codec yet
refuse recomp_algorithm priority=1 EINVAL
refuse recomp_algorithm "algo=bogus" EINVAL
refuse recomp_algorithm "algo=zstd priority=0" EINVAL
refuse recomp_algorithm "algo=zstd priority=4" EINVAL
refuse recomp_algorithm "algo=zstd level=99" EINVAL
refuse recomp_algorithm "algo=zstd colour=red" EINVAL
accept recomp_algorithm "algo=zstd priority=1 level=9"
expect "recomp_algorithm" "$(cat "$Z/recomp_algorithm")" "#1: lz4 [zstd]"
refuse recompress type=bogus EINVAL
refuse recompress type EINVAL
refuse recompress max_pages=x EINVAL
refuse recompress threshold=3633 EINVAL	# at the huge class size (zram: huge_class_size)
refuse recompress algo=lz4 EINVAL	# no priority has it
refuse recompress priority=2 EINVAL
refuse recompress nonsense=1 EINVAL

# --- content: 768 text pages, 256 random -------------------------------------
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "record %d: value %d\n", i, i % 13 }' |
	head -c 3M >"$T/all"
head -c 1M /dev/urandom >>"$T/all"
dd if="$T/all" of="$MNT/swap" bs=64k oflag=direct conv=notrunc status=none
expect "huge pages" "$(mm 8)" 256

# type=idle with nothing idle does nothing
c0=$(mm 2)
accept recompress type=idle
expect "compr_data_size without idle pages" "$(mm 2)" "$c0"
expect "nothing recompressed" "$(flagged r)" 0

# max_pages bounds the pass
accept idle all
accept recompress "type=idle max_pages=10"
expect "recompressed with max_pages=10" "$(flagged r)" 10
# threshold: only pages compressed to at least that many bytes
accept recompress "type=idle threshold=3000"
expect "threshold=3000: no text page is that large" "$(flagged r)" 10

# the rest of the idle pages
accept recompress "type=idle algo=zstd"
c1=$(mm 2)
expect "text pages recompressed" "$(flagged r)" 768
[ "$c1" -lt "$c0" ] || zf_fail "compr_data_size $c0 -> $c1 after recompress"
zf_log "compr_data_size lz4 $c0, lz4 then zstd -9 $c1"
expect "random pages marked incompressible" "$(flagged n)" 256
expect "incompressible pages keep their encoding" "$(awk '$3 ~ /n/ && $3 ~ /h/' "$Z/block_state" | wc -l)" 256
readall "after recompress"

# not tried again: a second pass changes nothing
accept idle all
accept recompress max_pages=0
expect "second pass" "$(mm 2)" "$c1"

refuse recomp_algorithm "algo=lz4 priority=1" EBUSY
accept recomp_algorithm "algo=lz4 priority=2"
expect "two priorities" "$(cat "$Z/recomp_algorithm" | tr '\n' '|')" "#1: lz4 [zstd]|#2: [lz4] zstd|"

# --- writeback incompressible: exactly the marked pages -------------------
accept writeback incompressible
expect "written back" "$(flagged w)" 256
expect "written back = incompressible" "$(awk '$3 ~ /w/ && $3 ~ /n/' "$Z/block_state" | wc -l)" 256
readall "after writeback incompressible"

# recompressed pages read back and rewritten through the mount
dd if="$T/all" of="$MNT/swap" bs=4k count=100 oflag=direct conv=notrunc status=none
readall "after rewriting recompressed pages"
expect "rewritten pages are lz4 again" "$(awk '$1 < 100 && $3 ~ /r/' "$Z/block_state" | wc -l)" 0

# --- algorithm_params ------------------------------------------------------
refuse algorithm_params level=3 EINVAL		# neither algo= nor priority=
refuse algorithm_params "priority=3 level=1" EINVAL	# nothing there
refuse algorithm_params "algo=zstd priority=0 level=1" EINVAL	# lz4 is
refuse algorithm_params "algo=zstd level=99" EINVAL
refuse algorithm_params "priority=1 colour=red" EINVAL
refuse algorithm_params "priority=2 dict=/etc/hostname" EINVAL	# lz4: none (fs_dict.sh)
accept algorithm_params "algo=zstd level=19"
expect "recomp_algorithm after a level" "$(head -1 "$Z/recomp_algorithm")" "#1: lz4 [zstd]"
zf_umount "$MNT"

# the primary's level applies to pages written after it
zf_mount "$MNT" -o size=16M,comp=zstd
head -c 3M "$T/all" >"$T/text"
dd if="$T/text" of="$MNT/swap" bs=64k oflag=direct conv=notrunc status=none
c3=$(mm 2)
accept algorithm_params "priority=0 level=-7"
dd if="$T/text" of="$MNT/swap" bs=64k oflag=direct conv=notrunc status=none
cfast=$(mm 2)
accept algorithm_params "algo=zstd level=19"
dd if="$T/text" of="$MNT/swap" bs=64k oflag=direct conv=notrunc status=none
cbest=$(mm 2)
zf_log "compr_data_size zstd level 3 $c3, -7 $cfast, 19 $cbest"
[ "$cfast" -gt "$c3" ] && [ "$cbest" -lt "$c3" ] ||
	zf_fail "levels -7 / 3 / 19 gave $cfast / $c3 / $cbest bytes"
dd if="$MNT/swap" of="$T/back" bs=64k count=48 iflag=direct status=none
cmp -s "$T/text" "$T/back" || zf_fail "content differs after level changes"
zf_umount "$MNT"
exit 0
