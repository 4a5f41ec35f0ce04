#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_exercise: copies of the randomized exerciser (tests/fsx) at once on
# one mount - three on files of their own (O_DIRECT always, never, and at
# random; up to 1, 4 and 8 MiB, the last with 2 MiB writes that the kernel
# splits at max_write), and two on one shared file, on disjoint regions
# whose boundary falls inside a page - while a loop writes
# .zram/compact (a drain of the reclaim queue, then a compaction) twice a
# second and another writes 4 MiB files and unlinks them, so that the
# reclaim thread frees whole tables while the exercisers punch holes.
#
# Fails when any copy finds a mismatch or an error (ENOMEM included: with
# memory to spare no write may fail), when io_stat counts a failed read or
# write or reserve_stat a write refused for want of a page, when the
# compaction loop or the churn loop fails or never ran, or when the store
# is not empty after everything is removed.
#
# ZF_FSX_SECS (default 20) is each copy's run time; ZF_FSX_SEED makes the
# seeds SEED, SEED+1, ... (random otherwise; every seed is printed).
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
FSX=$top_builddir/tests/fsx
[ -x "$FSX" ] || zf_fail "exerciser not built: $FSX"

secs=${ZF_FSX_SECS:-20}
MNT=$ZF_TMP/mnt
T=$ZF_TMP
mm() { cut -d' ' -f"$1" "$MNT/.zram/mm_stat"; }
col() { cut -d' ' -f"$2" "$MNT/.zram/$1"; }

zf_mount "$MNT" -o size=64M
io0=$(cat "$MNT/.zram/io_stat")
res0=$(cat "$MNT/.zram/reserve_stat")
freed0=$(col reclaim_stat 5)
zf_log "start: io_stat (failed_reads failed_writes invalid_io notify_free) $io0;" \
	"reserve_stat (pages target nowait_failed) $res0"

# --- background: compaction, and files written and unlinked ---------------
STOP=$T/stop
compactor() {
	n=0
	while [ ! -e "$STOP" ]; do
		zf_timeout 60 sh -c "echo 1 >'$MNT/.zram/compact'" ||
			{ echo "compact write $n failed" >"$T/compact.err"; break; }
		n=$((n + 1))
		echo $n >"$T/compact.n"
		sleep 0.5
	done
}
head -c 4M /dev/urandom >"$T/rand4m"
churner() {
	n=0
	while [ ! -e "$STOP" ]; do
		f=$MNT/churn.$n
		{ cat "$T/rand4m" >"$f" && cmp -s "$T/rand4m" "$f" && rm "$f"; } ||
			{ echo "churn file $n failed" >"$T/churn.err"; break; }
		n=$((n + 1))
		echo $n >"$T/churn.n"
	done
}
compactor &
ZF_WORK="$ZF_WORK $!"
cpid=$!
churner &
ZF_WORK="$ZF_WORK $!"
wpid=$!

# --- the exercisers ---------------------------------------------------------
if [ -n "${ZF_FSX_SEED:-}" ]; then
	seed=$ZF_FSX_SEED
else
	seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
fi
# boundary of the shared file's two regions: 3 MiB + 1000, inside a page
b=$((3 * 1048576 + 1000))
: >"$MNT/shared"
set -- \
	"-f $MNT/own1 -m 4M -d 2" \
	"-f $MNT/own2 -m 1M -d 1" \
	"-f $MNT/own3 -m 8M -d 0 -L 2M" \
	"-f $MNT/shared -o 0 -l $b -d 2" \
	"-f $MNT/shared -o $b -l $((3 * 1048576 + 5000)) -d 2"
k=0 pids=
for args in "$@"; do
	k=$((k + 1))
	# shellcheck disable=SC2086 # args is a list of options
	zf_timeout $((secs + 120)) "$FSX" -t "$secs" -s $((seed + k - 1)) $args \
		>"$T/fsx.$k.out" 2>&1 &
	pids="$pids $!"
	ZF_WORK="$ZF_WORK $!"
done
bad=0 k=0
for p in $pids; do
	k=$((k + 1))
	wait "$p"
	rc=$?
	[ $rc = 0 ] || { bad=$((bad + 1)); zf_log "copy $k: exit status $rc"; }
done
touch "$STOP"
wait "$cpid" "$wpid"
ncopies=$#
for k in $(seq $ncopies); do
	sed "s/^/copy $k: /" "$T/fsx.$k.out"
done
# the figures first, so that a failure shows them too
ncompact=$(cat "$T/compact.n" 2>/dev/null || echo 0)
nchurn=$(cat "$T/churn.n" 2>/dev/null || echo 0)
zf_log "background: $ncompact compactions, $nchurn 4 MiB files written and unlinked"
io1=$(cat "$MNT/.zram/io_stat")
res1=$(cat "$MNT/.zram/reserve_stat")
zf_log "end: io_stat $io1; reserve_stat $res1; reclaim_stat $(cat "$MNT/.zram/reclaim_stat")"
[ $bad = 0 ] || zf_fail "$bad of $ncopies exerciser copies failed (output above;" \
	"$(cat "$T"/fsx.*.out | grep -c 'Cannot allocate memory') of them with ENOMEM)"
[ -e "$T/compact.err" ] && zf_fail "$(cat "$T/compact.err")"
[ -e "$T/churn.err" ] && zf_fail "$(cat "$T/churn.err")"
[ "$ncompact" -ge 2 ] || zf_fail "compaction loop ran $ncompact times"
[ "$nchurn" -ge 2 ] || zf_fail "churn loop ran $nchurn times"

# --- no failed I/O, no refused write, reclaim busy ------------------------
set -- $io0
fr0=$1 fw0=$2
set -- $io1
[ "$1" = "$fr0" ] || zf_fail "failed_reads went from $fr0 to $1"
[ "$2" = "$fw0" ] || zf_fail "failed_writes went from $fw0 to $2"
set -- $res0
nf0=$3
set -- $res1
[ "$3" = "$nf0" ] || zf_fail "reserve_stat nowait_failed went from $nf0 to $3"
freed1=$(col reclaim_stat 5)
[ "$freed1" -gt "$freed0" ] || zf_fail "reclaim freed nothing ($freed0 -> $freed1)"

# --- everything removed: the store is empty -------------------------------
rm -f "$MNT"/own1 "$MNT"/own2 "$MNT"/own3 "$MNT"/shared
zf_timeout 60 sh -c "echo 1 >'$MNT/.zram/compact'" || zf_fail "final compact"
zf_log "after removing every file: mm_stat $(cat "$MNT/.zram/mm_stat")"
[ "$(mm 1)" = 0 ] || zf_fail "orig_data_size $(mm 1) with only an unwritten file left"
[ "$(mm 2)" = 0 ] || zf_fail "compr_data_size $(mm 2) with only an unwritten file left"
zf_umount "$MNT"
exit 0
