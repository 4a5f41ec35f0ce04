#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_vmlck: with the file attached to a loop device and swap on it, the
# daemon's memory is locked (VmLck > 0) but the file's size is not
# (MCL_ONFAULT), its workers are all there and take no page faults while
# they serve, its oom_score_adj is -1000
# (where the machine grants CAP_SYS_RESOURCE), and the loop device takes
# 4 KiB discards.  The heavy swap workload is tests/swap_e2e.sh's.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
MNT=$ZF_TMP/mnt

zf_mount "$MNT" -o size=1G,threads=3
LOG=$ZF_TMP/daemon.$$.log
zf_loop "$MNT/swap"
zf_swapon "$ZF_LOOP"
grep -q "^$ZF_LOOP " /proc/swaps || zf_fail "$ZF_LOOP is not in /proc/swaps"

# VmLck is the size of the locked mappings (with MCL_ONFAULT, faulted or
# not); VmRSS shows what is really resident, and must not be the file.
lck=$(awk '$1 == "VmLck:" {print $2}' /proc/"$ZF_PID"/status)
rss=$(awk '$1 == "VmRSS:" {print $2}' /proc/"$ZF_PID"/status)
echo "daemon $ZF_PID: VmLck $lck kB, VmRSS $rss kB with a 1 GiB swap file"
[ "${lck:-0}" -gt 0 ] || zf_fail "VmLck is ${lck:-missing}"
[ "$rss" -lt $((128 * 1024)) ] ||
	zf_fail "VmRSS $rss kB: the file's size was faulted in up front (MCL_ONFAULT?)"
grep -q "memory locked" "$LOG" || zf_fail "no 'memory locked' in the log"

# main + 3 workers + the store's own threads
n=$(ls /proc/"$ZF_PID"/task | wc -l)
[ "$n" -ge 4 ] || zf_fail "$n threads, want at least 4"

adj=$(cat /proc/"$ZF_PID"/oom_score_adj)
# CAP_SYS_RESOURCE is bit 24 of the effective set
cap=$(awk '$1 == "CapEff:" {print $2}' /proc/self/status)
if [ $(( (0x$cap >> 24) & 1 )) -eq 1 ]; then
	[ "$adj" = -1000 ] || zf_fail "oom_score_adj $adj, want -1000"
	grep -q "oom_score_adj set to -1000" "$LOG" || zf_fail "oom_score_adj not logged"
	grep -q "PR_SET_IO_FLUSHER set on 3 worker" "$LOG" || zf_fail "IO_FLUSHER not logged"
else
	echo "no CAP_SYS_RESOURCE here: oom_score_adj $adj; checking the warnings instead"
	grep -q "warning: cannot set oom_score_adj" "$LOG" || zf_fail "no oom_score_adj warning"
	grep -q "warning: PR_SET_IO_FLUSHER" "$LOG" || zf_fail "no PR_SET_IO_FLUSHER warning"
fi

# Serving must not fault pages in (issue 5: a fault under memory pressure
# enters reclaim, which may wait for swap I/O only the daemon can serve).
# Only the allocator's refill thread faults; each worker may take a few
# faults for first-time set-up, none per page it stores or per byte of
# its receive buffer (a malloc+memset folded into calloc once left that
# untouched: 387 faults here, and a deadlock under swap_pressure.sh).
# The one exception is deliberate: a writer that finds the reserve empty
# while memory is plentiful faults pages in itself (reserve_stat's
# reserve_grown), and with them up to as many handle-table and
# free-handle pages; those are allowed for, nothing else.
wflt() {
	for t in /proc/"$ZF_PID"/task/*; do
		case $(cat "$t"/comm) in zf-fuse/*) cut -d' ' -f10 "$t"/stat ;; esac
	done | awk '{s += $1} END {print s + 0}'
}
truncate -s 64M "$MNT/data"
swap_loop=$ZF_LOOP
zf_loop "$MNT/data"
head -c 32M /dev/urandom >"$ZF_TMP/rand"
grown() { cut -d' ' -f4 "$MNT/.zram/reserve_stat"; }
f0=$(wflt) g0=$(grown)
for pass in 1 2; do
	dd if="$ZF_TMP/rand" of="$ZF_LOOP" bs=1M oflag=direct status=none ||
		zf_fail "dd to $ZF_LOOP"
	dd if=/dev/zero of="$ZF_LOOP" bs=1M seek=32 count=32 oflag=direct status=none
done
dd if="$ZF_LOOP" of=/dev/null bs=1M iflag=direct status=none
f1=$(wflt) g1=$(grown)
echo "worker page faults over two 64 MiB write passes and a read pass: $((f1 - f0))" \
	"($((g1 - g0)) pages grown by writers with memory plentiful)"
[ $((f1 - f0)) -le $((32 + 2 * (g1 - g0))) ] ||
	zf_fail "workers took $((f1 - f0)) page faults while serving"

dev=${swap_loop#/dev/}
expect_gran=$(cat /sys/block/"$dev"/queue/discard_granularity)
[ "$expect_gran" = 4096 ] || zf_fail "$swap_loop discard_granularity $expect_gran"
exit 0
