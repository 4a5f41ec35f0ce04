#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_recompress: zram's recomp_algorithm and recompress in <mnt>/.zram/ -
# the syntax and zram's errnos, and the effect: with lz4 as the primary
# codec and zstd as priority 1, recompressing idle pages lowers
# compr_data_size and leaves every page intact; pages that do not shrink
# (random ones) keep their encoding, are marked incompressible and are
# not tried again; max_pages and threshold bound a pass; "writeback
# incompressible" then moves exactly those pages; recomp_algorithm is
# refused once its codec is in use.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
command -v python3 >/dev/null || zf_skip "no python3"
"$ZRAMFUSE" --version 2>&1 | grep -q zstd || zf_skip "built without zstd"

H="python3 $top_srcdir/tests/fs_helper.py"
MNT=$ZF_TMP/mnt
Z=$MNT/.zram
T=$ZF_TMP
BD=$(cd "$top_builddir" && pwd)/fs_recompress.bd.$$
ZF_ATEXIT="rm -f '$BD'"

expect() {	# expect WHAT GOT WANT
	[ "$2" = "$3" ] || zf_fail "$1: got '$2', want '$3'"
}
ctl() { $H ctl "$Z/$1" "$2"; }
refuse() {	# refuse FILE VALUE ERRNO
	expect "'$2' > $1" "$(ctl "$1" "$2")" "$3"
}
accept() { refuse "$1" "$2" OK; }
mm() { cut -d' ' -f"$1" "$Z/mm_stat"; }
flagged() { awk -v re="$1" '$3 ~ re' "$Z/block_state" | wc -l; }
readall() {
	dd if="$MNT/swap" of="$T/back" bs=64k count=64 iflag=direct status=none
	cmp -s "$T/all" "$T/back" || zf_fail "content differs: $1"
}

truncate -s 64M "$BD"
zf_mount "$MNT" -o size=16M,comp=lz4,backing_dev="$BD"

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
refuse recompress threshold=3072 EINVAL	# at zram's huge size
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
zf_umount "$MNT"
exit 0
