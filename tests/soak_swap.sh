#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# soak_swap: swap traffic for a long time (make check-soak; not in make
# check).  The zramfuse file on a loop device with swap on it (discards
# on); several tests/swapload processes in one cgroup v1 memory cgroup
# whose limit is well below their working sets, each rewriting and
# verifying every page's checksum, pass after pass, for ZF_SOAK_SECS
# seconds (default 600); .zram/compact written every few seconds.  The
# daemon stays outside the cgroup: this is a soak, not an OOM test, and
# nothing may be OOM-killed.
#
# Discards: with swap far from full the kernel keeps a page's swap slot
# after swap-in and rewrites it in place, so a long-lived process frees
# (and swapon --discard discards) nothing until it exits.  So each
# process slot runs swapload in rounds of ZF_SOAK_ROUND_SECS (60, or a
# quarter of the soak when shorter), a fresh working set each round: every
# round's end frees its swap and the device sees discards while the
# others keep swapping.  The compaction loop samples notify_free, and a
# discard must have arrived before the last round ended.
#
# Fails when a page is wrong, a process dies or the run stalls for 120 s,
# nothing was swapped in or out or discarded, io_stat counts a failed read
# or write or reserve_stat a refused write (the machine has memory to
# spare, so none may fail), swapoff fails, or, after swapoff, losetup -d
# and the unlink of the swap file: the store does not empty by itself
# (orig_data_size 0 and mem_used_total 0 within 60 s: the deferred free
# finishes without help), or the daemon's RSS does not come back to
# within ZF_SOAK_RSS_SLACK_KB (default 16384) of its value before swapon.
# Why 16 MiB: the value before swapon already holds the reserve, each
# worker's receive and read buffers and the stacks (all faulted in and
# locked at start-up); what may stay above it afterwards is allocator
# slack - memory glibc keeps after the slot tables are freed, the
# handle table and zspage descriptors grown at the peak.  A 60 s and a
# 600 s soak each ended about 2 MiB above the start, at a peak near
# 270 MiB; 16 MiB is 6% of that peak, so a pool that kept even a tenth of
# its chunks fails while allocator slack passes.
#
# Tunables: ZF_SOAK_SECS, ZF_SOAK_PROCS (3), ZF_SOAK_WSS_MIB (128 each),
# ZF_SOAK_LIMIT_MIB (160), ZF_SOAK_COMPACT_SECS (5), ZF_SOAK_ROUND_SECS.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init

secs=${ZF_SOAK_SECS:-600}
procs=${ZF_SOAK_PROCS:-3}
wss=${ZF_SOAK_WSS_MIB:-128}
limit=${ZF_SOAK_LIMIT_MIB:-160}
every=${ZF_SOAK_COMPACT_SECS:-5}
slack=${ZF_SOAK_RSS_SLACK_KB:-16384}
round=${ZF_SOAK_ROUND_SECS:-$((secs / 4 < 60 ? secs / 4 : 60))}
[ "$round" -ge 1 ] || round=1
MNT=$ZF_TMP/mnt
T=$ZF_TMP
mm() { cut -d' ' -f"$1" "$MNT/.zram/mm_stat"; }
rss() { awk '$1 == "VmRSS:" {print $2}' /proc/"$ZF_PID"/status; }

# Swap is machine-wide: hold lib.sh's swap-test lock for the whole soak.
zf_swap_lock
zf_mount "$MNT" -o size=2G
rss0=$(rss)
io0=$(cat "$MNT/.zram/io_stat")
res0=$(cat "$MNT/.zram/reserve_stat")
zf_log "daemon $ZF_PID: VmRSS ${rss0} kB before swapon;" \
	"io_stat $io0; reserve_stat $res0"

zf_loop "$MNT/swap"
zf_swapon "$ZF_LOOP"
grep -q "^$ZF_LOOP " /proc/swaps || zf_fail "$ZF_LOOP not in /proc/swaps"
zf_cgroup soak $((limit * 1024 * 1024))

STOP=$T/stop
compactor() {
	n=0
	while [ ! -e "$STOP" ]; do
		zf_timeout 60 sh -c "echo 1 >'$MNT/.zram/compact'" ||
			{ echo "compact write $n failed" >"$T/compact.err"; break; }
		n=$((n + 1))
		echo $n >"$T/compact.n"
		echo "$(date +%s) $(cut -d' ' -f4 "$MNT/.zram/io_stat")" >>"$T/discards"
		sleep "$every"
	done
}
compactor &
cpid=$!
ZF_WORK="$ZF_WORK $cpid"

in0=$(zf_vmstat pswpin) out0=$(zf_vmstat pswpout)
zf_log "$procs x swapload ${wss} MiB in a ${limit} MiB memory cgroup for" \
	"${secs} s, in rounds of ${round} s"
t0=$(date +%s)
# One shell in the cgroup starts a loop per process slot and fails if any
# fails; every swapload writes the one progress file zf_watch watches.
zf_watch "$ZF_CG" 120 $((secs + 900)) "$MNT" -- sh -c '
	n=$1 prog=$2 wss=$3 end=$(($(date +%s) + $4)) round=$5 progress=$6
	out=$7 rc=0 pids=
	for k in $(seq "$n"); do
		(
			seed=$k
			while now=$(date +%s) && [ "$now" -lt "$end" ]; do
				t=$((end - now < round ? end - now : round))
				"$prog" -s "$wss" -p 1 -T "$t" -S "$seed" \
					-P "$progress" || exit $?
				seed=$((seed + n))
			done
		) >"$out.$k" 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || rc=$?
	done
	exit $rc' sh "$procs" "$top_builddir/tests/swapload" "$wss" "$secs" \
	"$round" "$ZF_TMP/progress" "$T/swapload"
in1=$(($(zf_vmstat pswpin) - in0)) out1=$(($(zf_vmstat pswpout) - out0))
touch "$STOP"
wait "$cpid"
verified=0 rounds=0
for k in $(seq "$procs"); do
	sed "s/^/process $k: /" "$T/swapload.$k"
	for v in $(sed -n 's/.* \([0-9]*\) page checksums verified.*/\1/p' "$T/swapload.$k"); do
		verified=$((verified + v))
		rounds=$((rounds + 1))
	done
done
# the last sample of notify_free taken before the last round began ending
mid=$(awk -v t=$((t0 + secs - 2)) '$1 < t {v = $2} END {print v + 0}' "$T/discards")
ncompact=$(cat "$T/compact.n" 2>/dev/null || echo 0)
oom=$(awk '$1 == "oom_kill" {print $2}' "$ZF_CG/memory.oom_control")
io1=$(cat "$MNT/.zram/io_stat")
res1=$(cat "$MNT/.zram/reserve_stat")
zf_log "workload: status $ZF_RC in $ZF_SECS s; pswpin +$in1 pswpout +$out1" \
	"pages; $verified page checksums verified in $rounds rounds;" \
	"$ncompact compactions; notify_free $mid before the last round ended;" \
	"OOM kills ${oom:-?}; peak orig_data_size $ZF_PEAK_ORIG"
zf_log "io_stat $io1; reserve_stat $res1; reclaim_stat" \
	"$(cat "$MNT/.zram/reclaim_stat"); mm_stat $(cat "$MNT/.zram/mm_stat")"
[ "$ZF_RC" = 0 ] || zf_fail "workload ended with status $ZF_RC"
[ -e "$T/compact.err" ] && zf_fail "$(cat "$T/compact.err")"
[ "$ncompact" -ge 1 ] || zf_fail "no compaction ran"
[ "$out1" -gt 0 ] || zf_fail "nothing was swapped out"
[ "$in1" -gt 0 ] || zf_fail "nothing was swapped in"
[ "$verified" -gt 0 ] || zf_fail "no page checksum verified"
set -- $io0
fr0=$1 fw0=$2 nfree0=$4
set -- $io1
fr1=$1 fw1=$2 nfree1=$4
set -- $res0
nw0=$3
set -- $res1
nw1=$3
[ "$nfree1" -gt "$nfree0" ] || zf_fail "no page was discarded (notify_free $nfree0 -> $nfree1)"
[ "$mid" -gt "$nfree0" ] || zf_fail "no discard arrived while the workload ran"
[ "$fr1" = "$fr0" ] && [ "$fw1" = "$fw0" ] && [ "$nw1" = "$nw0" ] ||
	zf_fail "failed I/O with memory to spare: failed_reads +$((fr1 - fr0))," \
		"failed_writes +$((fw1 - fw0)), nowait_failed +$((nw1 - nw0))"

# --- tear down in order; swapoff brings every page back -------------------
t=$(date +%s)
zf_unhang swapoff "$ZF_LOOP" || zf_fail "swapoff $ZF_LOOP"
zf_log "swapoff took $(($(date +%s) - t)) s"
zf_unhang losetup -d "$ZF_LOOP" || zf_fail "losetup -d $ZF_LOOP"
rm "$MNT/swap" || zf_fail "unlink the swap file"

# The deferred free finishes by itself: no compact written from here on.
empty() { [ "$(mm 1)" = 0 ] && [ "$(mm 3)" = 0 ]; }
zf_wait 600 empty ||
	zf_fail "store not empty 60 s after the unlink: mm_stat $(cat "$MNT/.zram/mm_stat")"
rss1=$(rss)
zf_log "after the unlink: mm_stat $(cat "$MNT/.zram/mm_stat"); daemon VmRSS" \
	"${rss0} kB before swapon, ${rss1} kB now (peak" \
	"$(awk '$1 == "VmHWM:" {print $2}' /proc/"$ZF_PID"/status) kB)"
[ "$rss1" -le $((rss0 + slack)) ] ||
	zf_fail "daemon VmRSS ${rss1} kB, more than ${slack} kB above ${rss0} kB"
echo "soak_swap: ${ZF_SECS} s, $procs x ${wss} MiB in ${limit} MiB:" \
	"pswpin $in1 pswpout $out1, $verified page checksums verified," \
	"discards (notify_free) $((nfree1 - nfree0)) pages," \
	"VmRSS $rss0 -> $rss1 kB, pages in use at the end 0"
zf_umount "$MNT"
exit 0
