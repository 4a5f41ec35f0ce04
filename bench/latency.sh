#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Where the microseconds of one swap-in and one swap-out go, end to end:
# kernel zram, a loop device on a tmpfs file (mounted noswap: the ceiling
# of any loop backend), and zramfuse over each transport.
#
#   bench/latency.sh [-r ROUNDS] [-n COUNT] [-s MIB] [-b BACKENDS] [-o DIR]
#                    [-c lz4|zstd] [-t SECS] [-P PAGE_CLUSTER] [-q]
#
# For each backend (-b, comma-separated, default zram,tmpfs,classic,uring;
# a name of the form classic+OPTS or uring+OPTS adds -o OPTS, separated
# by ":", to that daemon, e.g. uring+uring_threads=1:uring_depth=16), set
# up afresh each round:
#   1. fio on the block device, direct, libaio, 60%-compressible buffers,
#      a 512 MiB region filled first: 4 KiB random read and random write
#      at QD 1, -t SECS (5) each - completion latency percentiles; with
#      -q also at QD 16 x 2 jobs (IOPS);
#   2. the device made swap (swapon --discard) and vm.page-cluster set to
#      -P (0: a fault reads one page; put back at exit);
#      bench/suiteprobe latency -s MIB (256) -n COUNT (2000): COUNT
#      swap-ins one at a time, each timed from the touch to its return,
#      and COUNT single-page MADV_PAGEOUTs (every page checked);
#   3. the same once more under tracefs (an instance of its own): block,
#      workqueue, fuse, sched, the daemon's read/writev/io_uring_enter
#      system calls and the probe's markers, from which
#      bench/latency_report.py cuts each swap-in and swap-out into its
#      stages (the fault, loop's hand-off to its worker, the worker up to
#      FUSE's queue, the daemon's wake-up, its serving, the reply, the
#      completion back to the faulting task).  Tracing adds its own cost
#      to each stage: step 2's figures are the untraced end-to-end ones.
# Output in -o DIR (default bench-latency/DATE in the tree): raw.tsv,
# traces (trace-BACKEND-rN.txt.gz), summary.md; the summary is printed.
#
# Run as root from a built tree, holding the machine lock.  Takes the
# swap-test lock of tests/lib.sh; fuse's enable_uring switch is turned on
# only while a uring daemon mounts, and put back.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
rounds=1 count=2000 mib=256 backends=zram,tmpfs,classic,uring out= comp=lz4
secs=5 pc=0 qd16=
while getopts r:n:s:b:o:c:t:P:q o; do
	case $o in
	r) rounds=$OPTARG ;;
	n) count=$OPTARG ;;
	s) mib=$OPTARG ;;
	b) backends=$OPTARG ;;
	o) out=$OPTARG ;;
	c) comp=$OPTARG ;;
	t) secs=$OPTARG ;;
	P) pc=$OPTARG ;;
	q) qd16=1 ;;
	*) sed -n '3,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
[ -n "$out" ] || out=$top/bench-latency/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out"
top_srcdir=$top top_builddir=$top ZRAMFUSE=$top/zramfuse
export top_srcdir top_builddir ZRAMFUSE
. tests/lib.sh
zf_init
zf_swap_lock
for c in fio python3; do
	command -v $c >/dev/null || zf_fail "$c is missing"
done
TR=/sys/kernel/tracing
[ -e $TR/instances ] || mount -t tracefs nodev $TR 2>/dev/null ||
	zf_fail "no tracefs"
INST=$TR/instances/zramfuse-latency.$$
PC_OLD=$(cat /proc/sys/vm/page-cluster)
ZF_ATEXIT="echo $PC_OLD >/proc/sys/vm/page-cluster; rmdir $INST 2>/dev/null; true"
BK_COMP=$comp BK_SIZE=1G
. bench/backends.sh
RAW=$out/raw.tsv
printf 'round\tbackend\tmetric\tvalue\tunit\n' >"$RAW"

rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$R" "$B" "$1" "$2" "$3" >>"$RAW"; }

fioqd1() {	# NAME RW [QD JOBS]
	fio --name="$1" --filename="$DEV" --direct=1 --ioengine=libaio \
		--rw="$2" --bs=4k --iodepth="${3:-1}" --numjobs="${4:-1}" \
		--group_reporting --size=256M --offset_increment=256M \
		--runtime="$secs" \
		--time_based --buffer_compress_percentage=60 --refill_buffers \
		--randrepeat=1 --output-format=json >"$ZF_TMP/fio.json" ||
		zf_fail "fio $1 on $B"
	python3 - "$1" "$ZF_TMP/fio.json" <<'PY' | while read -r m v u; do rec "$m" "$v" "$u"; done
import json, sys
name, path = sys.argv[1:]
j = json.load(open(path))["jobs"][0]
d = j["read"] if j["read"]["io_bytes"] else j["write"]
c = d["clat_ns"]
print(f"fio_{name}_iops {d['iops']:.0f} iops")
print(f"fio_{name}_mean_us {d['lat_ns']['mean'] / 1000:.1f} us")
for q in ("50.000000", "90.000000", "99.000000"):
    print(f"fio_{name}_clat_p{q[:2]}_us {c['percentile'][q] / 1000:.1f} us")
PY
}

probe() {	# [MARKER]: one bench/suiteprobe latency run in a fresh cgroup
	zf_cgroup "lat-$B-$R-$1" $((64 << 20))
	_m=
	[ "$1" = traced ] && _m="-M $INST/trace_marker"
	# shellcheck disable=SC2086
	zf_timeout 600 bench/suiteprobe latency -c "$ZF_CG" -s "$mib" -n "$count" \
		$_m >"$ZF_TMP/probe" 2>>"$out/probe.log" ||
		zf_fail "suiteprobe latency on $B ($1) failed (see $out/probe.log)"
	zf_wait 50 rmdir "$ZF_CG" || zf_fail "rmdir $ZF_CG"
	ZF_CGROUPS=
}

trace_on() {
	mkdir "$INST"
	echo 65536 >"$INST/buffer_size_kb"
	echo mono >"$INST/trace_clock"
	for e in block/block_bio_queue block/block_rq_issue block/block_rq_complete \
		 workqueue/workqueue_queue_work workqueue/workqueue_execute_start \
		 workqueue/workqueue_execute_end fuse/fuse_request_send \
		 fuse/fuse_request_end sched/sched_wakeup sched/sched_switch \
		 exceptions/page_fault_user irq/softirq_entry irq/softirq_exit \
		 syscalls/sys_exit_read syscalls/sys_enter_writev \
		 syscalls/sys_enter_io_uring_enter syscalls/sys_exit_io_uring_enter; do
		[ -e "$INST/events/$e/enable" ] && echo 1 >"$INST/events/$e/enable"
	done
	echo 1 >"$INST/tracing_on"
}
trace_off() {	# FILE
	echo 0 >"$INST/tracing_on"
	gzip -c "$INST/trace" >"$1"
	rmdir "$INST"
}

t0=$(date +%s)
for R in $(seq "$rounds"); do
	for B in $(echo "$backends" | tr , ' '); do
		zf_log "round $R/$rounds: $B ($(($(date +%s) - t0)) s, load $(cut -d' ' -f1-3 /proc/loadavg))"
		bk_up "$B"
		fio --name=fill --filename="$DEV" --direct=1 --ioengine=libaio \
			--rw=write --bs=1M --iodepth=8 --size=512M \
			--buffer_compress_percentage=60 --refill_buffers \
			>/dev/null || zf_fail "fill on $B"
		fioqd1 rr4k_qd1 randread
		fioqd1 rw4k_qd1 randwrite
		if [ -n "$qd16" ]; then
			fioqd1 rr4k_qd16x2 randread 16 2
			fioqd1 rw4k_qd16x2 randwrite 16 2
		fi
		zf_swapon "$DEV"
		echo "$pc" >/proc/sys/vm/page-cluster
		probe plain
		while read -r m v u; do rec "$m" "$v" "$u"; done <"$ZF_TMP/probe"
		tids=
		[ "$DPID" = 0 ] || for _t in /proc/"$DPID"/task/*; do
			tids="$tids${tids:+,}${_t##*/}:$(cat "$_t/comm")"
		done
		trace_on
		probe traced
		trace_off "$out/trace-$B-r$R.txt.gz"
		echo "$PC_OLD" >/proc/sys/vm/page-cluster
		python3 bench/latency_report.py cut "$out/trace-$B-r$R.txt.gz" \
			"$B" "$DEV" "$tids" | while read -r m v u; do rec "$m" "$v" "$u"; done
		bk_down "$B"
	done
done
zf_log "done in $(($(date +%s) - t0)) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/latency_report.py summary "$RAW" >"$out/summary.md"
cat "$out/summary.md"
echo "results: $out"
