#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_dict: zstd dictionaries through the mount - algorithm_params' dict=
# and .zram/train_dict.  Pages of log-like text are written with O_DIRECT;
# train_dict trains on them and reports a gain on its sample; the same
# pages written again, and new ones like them, then take fewer bytes each
# than without the dictionary; every page reads back intact, those
# written before the dictionary, with it, with a loaded one and after
# none again.  Bad dict= paths fail with their errno (ENOENT, EINVAL,
# EISDIR, EFBIG) and change nothing; lz4 takes no dictionary (EINVAL);
# with lz4 and zstd recompression the dictionary goes to recompression;
# -o comp_dict= loads one at mount.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
. "$top_srcdir/tests/pp_lib.sh"
pp_need_zstd

# $2 pages of log-like text, each page its own records, seed $1
gen() {
	python3 - "$1" "$2" <<'EOF'
import random, sys
rnd = random.Random(int(sys.argv[1]))
services = ["auth", "billing", "search", "gateway", "storage", "mailer"]
levels = ["INFO", "INFO", "INFO", "WARN", "DEBUG", "ERROR"]
msgs = ["user %d logged in from 10.%d.%d.%d", "request %d served in %d ms",
        "cache miss for key session:%d:%d", "retrying upstream %d (attempt %d)",
        "quota of tenant %d at %d percent", "flushed %d records to shard %d"]
out = sys.stdout.buffer
for page in range(int(sys.argv[2])):
    b = bytearray()
    while len(b) < 4096:
        m = rnd.choice(msgs)
        args = tuple(rnd.randrange(100000) for _ in range(m.count("%d")))
        b += ('{"ts": "2024-05-%02dT%02d:%02d:%02d.%03dZ", "level": "%s", '
              '"service": "%s", "pid": %d, "msg": "%s"}\n' % (
                  rnd.randrange(1, 29), rnd.randrange(24), rnd.randrange(60),
                  rnd.randrange(60), rnd.randrange(1000), rnd.choice(levels),
                  rnd.choice(services), rnd.randrange(1, 32768), m % args)).encode()
    out.write(bytes(b[:4096]))
EOF
}
put() {		# put FILE PAGE: write FILE's pages from page PAGE on
	dd if="$1" of="$MNT/swap" bs=64k seek="$(($2 / 16))" oflag=direct conv=notrunc \
		status=none || zf_fail "write $1 at page $2"
}
same() {	# same WHAT [REF]: the file reads back as REF ($T/all)
	dd if="$MNT/swap" of="$T/back" bs=64k count=128 iflag=direct status=none
	[ "$(sha256sum <"$T/back")" = "$(sha256sum <"${2:-$T/all}")" ] ||
		zf_fail "content differs: $1"
}
td() { cut -d' ' -f"$1" "$Z/train_dict"; }

gen 1 1024 >"$T/a"		# pages 0-1023
gen 2 1024 >"$T/b"		# pages 1024-2047
cat "$T/a" "$T/b" >"$T/all"
cat "$T/a" >"$T/half"; head -c 4M /dev/zero >>"$T/half"	# before b is written
head -c 65536 "$T/b" >"$T/raw"			# a raw-content dictionary
head -c 2M /dev/zero >"$T/big"			# above the 1M bound
: >"$T/empty"

# comp=zstd: recompression is off by default, the primary takes the dictionary
zf_mount "$MNT" -o size=8M,comp=zstd
expect "train_dict before any" "$(cat "$Z/train_dict")" "0 0 0 0 0 0 0"
refuse train_dict 1 ENODATA			# nothing stored yet
refuse train_dict 100 EINVAL
refuse train_dict 2M EINVAL
refuse train_dict x EINVAL
put "$T/a" 0
c1=$(mm 2)

# --- refusals change nothing ------------------------------------------------
refuse algorithm_params "algo=zstd dict=/nonexistent/dict" ENOENT
refuse algorithm_params "algo=zstd dict=relative/dict" EINVAL
refuse algorithm_params "algo=zstd dict=/" EISDIR
refuse algorithm_params "algo=zstd dict=$T/big" EFBIG
refuse algorithm_params "algo=zstd dict=$T/empty" EINVAL
refuse algorithm_params "algo=zstd dict=/dev/null" EINVAL
refuse algorithm_params "algo=zstd level=99 dict=$T/raw" EINVAL
refuse algorithm_params "algo=lz4 dict=$T/raw" EINVAL	# no lz4 codec here
refuse algorithm_params "algo=zstd dict=" EINVAL
expect "no dictionary after the refusals" "$(td 6)" 0
put "$T/a" 0
expect "compr_data_size unchanged" "$(mm 2)" "$c1"

# --- train_dict -------------------------------------------------------------
accept train_dict 1
zf_log "train_dict: $(cat "$Z/train_dict")"
[ "$(wc -w <"$Z/train_dict")" = 7 ] || zf_fail "train_dict columns: $(cat "$Z/train_dict")"
[ "$(td 1)" -gt 0 ] && [ "$(td 1)" -le 65536 ] || zf_fail "dictionary size $(td 1)"
[ "$(td 2)" -ge 16 ] && [ "$(td 3)" = $(($(td 2) * 4096)) ] ||
	zf_fail "samples $(td 2), sample_bytes $(td 3)"
[ "$(td 4)" -gt "$(td 5)" ] || zf_fail "no gain on the sample: $(td 4) -> $(td 5)"
expect "one dictionary" "$(td 6)" 1
[ "$(td 7)" -gt 65536 ] || zf_fail "dictionary memory $(td 7)"
same "pages written before the dictionary" "$T/half"

# the same pages again, with it
put "$T/a" 0
c2=$(mm 2)
zf_log "compr_data_size of 1024 pages: $c1 without, $c2 with the dictionary"
[ "$c2" -lt "$c1" ] || zf_fail "no smaller with the dictionary: $c1 -> $c2"
# new pages like them
put "$T/b" 1024
c3=$(mm 2)
zf_log "1024 new pages with it: $((c3 - c2)) bytes"
[ $((c3 - c2)) -lt "$c1" ] || zf_fail "new pages take $((c3 - c2)), not below $c1"
same "pages with the trained dictionary"

# --- dict=: a second dictionary, then none -----------------------------------
accept algorithm_params "algo=zstd dict=$T/raw"
put "$T/a" 0
same "pages of two dictionaries"
expect "two dictionaries" "$(td 6)" 2
accept algorithm_params "priority=0 level=3"	# as on zram: no dict= is none
put "$T/a" 0
same "pages written without one again"
expect "without one, back to the size before" "$(mm 2)" $((c1 + c3 - c2))
# the loaded one has no page left; a worker idle since it was current
# keeps it until its next request, so one or two are left
[ "$(td 6)" -ge 1 ] && [ "$(td 6)" -le 2 ] || zf_fail "$(td 6) dictionaries left"
# a partial write over a page with the trained dictionary
printf 'partial write' | dd of="$T/all" bs=1 seek=$((1500 * 4096 + 100)) conv=notrunc status=none
printf 'partial write' | dd of="$MNT/swap" bs=1 seek=$((1500 * 4096 + 100)) conv=notrunc status=none
same "a partial write"
zf_umount "$MNT"

# --- lz4: no dictionary; with zstd recompression it goes to recompression ----
zf_mount "$MNT" -o size=8M,comp=lz4,recomp=off
refuse algorithm_params "algo=lz4 dict=$T/raw" EINVAL
refuse algorithm_params "priority=0 dict=$T/raw" EINVAL
put "$T/a" 0
refuse train_dict 1 EINVAL			# no codec takes one
zf_umount "$MNT"

zf_mount "$MNT" -o size=8M,comp=lz4,recomp=zstd,readback_recomp=off
put "$T/all" 0
accept train_dict 32K
expect "one dictionary, for recompression" "$(td 6)" 1
[ "$(td 1)" -le 32768 ] || zf_fail "train_dict 32K made $(td 1) bytes"
c4=$(mm 2)
accept recompress max_pages=0
c5=$(mm 2)
zf_log "lz4 $c4, recompressed with zstd and the dictionary $c5"
[ "$c5" -lt "$c4" ] || zf_fail "recompression kept $c5 of $c4"
[ "$(flagged r)" -ge 1900 ] || zf_fail "only $(flagged r) of 2048 pages recompressed"
same "pages recompressed with the dictionary"
zf_umount "$MNT"

# --- -o comp_dict= ------------------------------------------------------------
zf_mount "$MNT" -o size=8M,comp=zstd,comp_dict="$T/raw"
expect "a dictionary from the mount" "$(td 6)" 1
put "$T/all" 0
same "pages with comp_dict="
zf_umount "$MNT"
exit 0
