#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# swap_writeback: swap through zramfuse while pages keep being
# recompressed and moving to the backing file.  A program in a 64 MiB
# memory cgroup makes passes over a 256 MiB working set, verifying every
# page and rewriting a share; every second meanwhile, "idle all", then
# "recompress type=idle" (lz4 pages to zstd) and "writeback idle" (and
# "writeback huge") take the pages it has not touched since, so
# swap-ins decode zstd pages and read pages back from the file.  The
# policies recompress_idle=1 and writeback_idle=2 run meanwhile on their
# own thread, competing with those commands for the post-processing lock.  Every page must verify, pages must
# have gone to the file and come back from it, and a discard of the whole
# file must leave the backing file empty (its holes punched).
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
MNT=$ZF_TMP/mnt
Z=$MNT/.zram
BD=$(cd "$top_builddir" && pwd)/swap_writeback.bd.$$
ZF_ATEXIT="rm -f '$BD'"
bd() { cut -d' ' -f"$1" "$Z/bd_stat"; }

truncate -s 1G "$BD" || zf_fail "truncate $BD"
zf_mount "$MNT" -o size=1G,comp=lz4,backing_dev="$BD",recompress_idle=1,writeback_idle=2
echo "algo=zstd priority=1" >"$Z/recomp_algorithm" || zf_fail "recomp_algorithm"
zf_loop "$MNT/swap"
zf_swapon "$ZF_LOOP"

# the pusher: stops when the workload's progress file goes away
: >"$ZF_TMP/push"
(
	while [ -e "$ZF_TMP/push" ]; do
		echo all >"$Z/idle" 2>/dev/null
		sleep 1
		echo type=idle >"$Z/recompress" 2>/dev/null
		awk '$3 ~ /r/' "$Z/block_state" | wc -l >>"$ZF_TMP/recompressed"
		sleep 1
		echo idle >"$Z/writeback" 2>/dev/null
		echo huge >"$Z/writeback" 2>/dev/null
	done
) &
PUSHER=$!
ZF_WORK="$ZF_WORK $PUSHER"

zf_cgroup swapwb $((64 * 1024 * 1024))
zf_watch "$ZF_CG" 60 600 "$MNT" -- \
	"$top_builddir/tests/swapload" -s 256 -p 6 -P "$ZF_TMP/progress"
rm -f "$ZF_TMP/push"
zf_wait 100 eval '! zf_alive $PUSHER' || zf_fail "the pusher did not stop"
zf_log "workload: status $ZF_RC in $ZF_SECS s; bd_stat $(cat "$Z/bd_stat");" \
	"mm_stat $(cat "$Z/mm_stat")"
[ "$ZF_RC" = 0 ] || zf_fail "workload ended with status $ZF_RC"
[ "$(bd 3)" -gt 0 ] || zf_fail "nothing was written back"
[ "$(bd 2)" -gt 0 ] || zf_fail "nothing was read back from the backing file"
r=$(sort -n "$ZF_TMP/recompressed" | tail -1)
zf_log "most pages recompressed with zstd at once: $r"
[ "${r:-0}" -gt 0 ] || zf_fail "no page was recompressed"

zf_unhang swapoff "$ZF_LOOP" || zf_fail "swapoff"
zf_log "after swapoff: bd_stat $(cat "$Z/bd_stat")"
# a discard of the whole file frees every block and punches every hole
fallocate -p -o 0 -l 1G "$MNT/swap" || zf_fail "discard of the file"
[ "$(bd 1)" = 0 ] || zf_fail "pages left on the backing file: $(cat "$Z/bd_stat")"
zf_wait 100 eval '[ "$(stat -c %b "$BD")" -le 64 ]' ||
	zf_fail "backing file still holds $(stat -c %b "$BD") blocks"
exit 0
