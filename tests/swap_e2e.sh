#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Swap end to end: zramfuse file -> loop (direct I/O, 4 KiB sectors) ->
# mkswap -> swapon --discard; a program in a 64 MiB memory cgroup writes a
# 512 MiB working set of mixed pages, reads it back and verifies every
# page.  The system must really have swapped (pswpout grew) and the store
# must have held data while it ran.
. "$top_srcdir/tests/lib.sh"
zf_init
mnt=$ZF_TMP/mnt

zf_mount "$mnt" -o size=1G
zf_loop "$mnt/swap"
zf_swapon "$ZF_LOOP"
grep -q "^$ZF_LOOP " /proc/swaps || zf_fail "$ZF_LOOP not in /proc/swaps"

zf_cgroup e2e $((64 * 1024 * 1024))
out0=$(zf_vmstat pswpout)
zf_watch "$ZF_CG" 60 900 "$mnt" -- \
	"$top_builddir/tests/swapload" -s 512 -p 2 -P "$ZF_TMP/progress"
out=$(($(zf_vmstat pswpout) - out0))
zf_log "workload: status $ZF_RC in $ZF_SECS s, pswpout +$out," \
	"peak orig_data_size $ZF_PEAK_ORIG"
[ "$ZF_RC" = 0 ] || zf_fail "workload ended with status $ZF_RC"
[ "$out" -gt 0 ] || zf_fail "nothing was swapped out"
[ "$ZF_PEAK_ORIG" -gt 0 ] || zf_fail "orig_data_size never rose above 0"

# swapoff brings every page back; the store must then be empty again once
# the discards have been reclaimed.
zf_unhang swapoff "$ZF_LOOP" || zf_fail "swapoff"
zf_log "after swapoff: mm_stat $(cat "$mnt/.zram/mm_stat")"
