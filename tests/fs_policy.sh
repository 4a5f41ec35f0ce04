#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_policy: the age-based policies that need no cron - recompress_idle,
# writeback_idle and their page budgets, as mount options and as control
# files.  Pages move only after their age: none is recompressed or written
# back before, every page not accessed since is after, pages kept hot by
# reads stay in memory untouched, a policy turned off moves nothing, the
# budget bounds a pass, and every page reads back intact.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
. "$top_srcdir/tests/pp_lib.sh"
pp_need_zstd
BD=$(cd "$top_builddir" && pwd)/fs_policy.bd.$$
ZF_ATEXIT="rm -f '$BD'"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# pages [$1, $2) whose flags match $3
flagged_in() {
	awk -v lo="$1" -v hi="$2" -v re="$3" '$1 >= lo && $1 < hi && $3 ~ re' \
		"$Z/block_state" | wc -l
}

truncate -s 64M "$BD"
zf_mount "$MNT" -o size=16M,comp=lz4,backing_dev="$BD",writeback_idle=4,recompress_idle=2,writeback_idle_pages=0

expect "writeback_idle" "$(cat "$Z/writeback_idle")" 4
expect "recompress_idle" "$(cat "$Z/recompress_idle")" 2
expect "writeback_idle_pages" "$(cat "$Z/writeback_idle_pages")" 0
expect "recompress_idle_pages default" "$(cat "$Z/recompress_idle_pages")" 4096
for f in writeback_idle recompress_idle writeback_idle_pages; do
	refuse $f x EINVAL
	refuse $f -1 EINVAL
done
accept recomp_algorithm "algo=zstd priority=1"

awk 'BEGIN { for (i = 0; i < 400000; i++) printf "entry %d: %d\n", i, i % 11 }' |
	head -c 3M >"$T/all"
head -c 1M /dev/urandom >>"$T/all"
dd if="$T/all" of="$MNT/swap" bs=64k oflag=direct conv=notrunc status=none
t0=$(now)
# pages 0-9 stay hot
: >"$T/hot"
(
	while [ -e "$T/hot" ]; do
		dd if="$MNT/swap" of=/dev/null bs=4k count=10 iflag=direct status=none
		sleep 0.3
	done
) &
HOT=$!
ZF_WORK="$ZF_WORK $HOT"

sleep 0.5
expect "recompressed before their age" "$(flagged r)" 0
expect "written back before their age" "$(bd 3)" 0

zf_wait 150 eval '[ "$(flagged_in 10 768 r)" -ge 758 ] || [ "$(bd 3)" -gt 0 ]' ||
	zf_fail "text pages not recompressed after 15 s: $(flagged r)"
e=$(elapsed "$t0")
zf_log "recompressed after $e s"
awk -v e="$e" 'BEGIN { exit !(e >= 1.0) }' || zf_fail "recompressed after $e s, before 2 s of age"

zf_wait 150 eval '[ "$(bd 1)" -ge 1014 ]' ||
	{ awk '$3 !~ /w/' "$Z/block_state" | head -20 >&2; zf_fail "pages not written back after 15 s: bd_stat $(cat "$Z/bd_stat")"; }
e=$(elapsed "$t0")
zf_log "written back after $e s: bd_stat $(cat "$Z/bd_stat")"
awk -v e="$e" 'BEGIN { exit !(e >= 3.0) }' || zf_fail "written back after $e s, before 4 s of age"
expect "every page but the hot ones written back" "$(bd 1)" 1014
expect "hot pages untouched" "$(flagged_in 0 10 '[wr]')" 0
expect "random pages incompressible" "$(flagged_in 768 1024 n)" 256
rm -f "$T/hot"
zf_wait 50 eval '! zf_alive $HOT' || zf_fail "the hot reader did not stop"

dd if="$MNT/swap" of="$T/back" bs=64k count=64 iflag=direct status=none
cmp -s "$T/all" "$T/back" || zf_fail "content differs after the policies"

# turned off through the control files: nothing moves
accept writeback_idle 0
accept recompress_idle 0
dd if="$T/all" of="$MNT/swap" bs=4k seek=100 skip=100 count=10 oflag=direct \
	conv=notrunc status=none
sleep 3
expect "pages moved with the policies off" "$(flagged_in 100 110 '[wr]')" 0

# the budget: at most writeback_idle_pages a pass (120 pages are old
# enough now: 0-9, 100-109 and 200-299)
dd if="$T/all" of="$MNT/swap" bs=4k seek=200 skip=200 count=100 oflag=direct \
	conv=notrunc status=none
n0=$(bd 1)
accept writeback_idle_pages 3
accept writeback_idle 1
zf_wait 60 eval '[ "$(bd 1)" -gt "$n0" ]' ||
	zf_fail "nothing written back with writeback_idle=1"
sleep 1
n=$(($(bd 1) - n0))
zf_log "$n pages written back in about 2 passes of at most 3"
[ "$n" -le 9 ] || zf_fail "$n pages written back within about 2 passes of 3 pages"
accept writeback_idle 0
dd if="$MNT/swap" of="$T/back" bs=64k count=64 iflag=direct status=none
cmp -s "$T/all" "$T/back" || zf_fail "content differs at the end"
zf_umount "$MNT"
exit 0
