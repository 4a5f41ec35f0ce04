#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Block I/O through a loop device over each transport, against the
# ceilings: a loop device on a tmpfs file (no FUSE, no compression) and
# kernel zram.
#
#   bench/transport.sh [-r ROUNDS] [-t SECS] [-c lz4|zstd] [-p DIR]
#
# Each round runs, on each backend in turn (tmpfs, zram, zramfuse classic,
# zramfuse uring), fio with direct I/O and libaio on the block device,
# 60%-compressible buffers:
#   4 KiB random write, then read, QD 16 x 2 jobs (IOPS);
#   4 KiB random read, QD 1 (mean latency, us);
#   128 KiB sequential write, then read, QD 16 x 2 jobs (MB/s);
# and for zramfuse the CPU seconds per GiB moved during the 4 KiB QD16x2
# runs: the daemon's utime + stime (/proc/PID/stat) plus fio's system time.
# Every figure is the median over the rounds.  fuse's enable_uring switch
# is turned on for the uring runs and put back at exit.  Takes the swap-
# test lock (loop devices, zram0).  Run as root from a built tree.
#
# -p DIR: then profile where a request's time goes on each transport:
# perf record (cpu-clock, whole machine, call graphs) during 4 KiB random
# reads and then writes at QD 16 x 2 on classic and on uring; DIR gets
# perf report's summaries (by thread and by symbol) per run.
set -eu
cd "$(dirname "$0")/.."
rounds=3 secs=8 comp=lz4 prof=
while getopts r:t:c:p: o; do
	case $o in
	p) prof=$OPTARG ;;
	r) rounds=$OPTARG ;;
	t) secs=$OPTARG ;;
	c) comp=$OPTARG ;;
	*) exit 2 ;;
	esac
done
top_srcdir=$PWD top_builddir=$PWD ZRAMFUSE=$PWD/zramfuse
. tests/lib.sh
zf_init
zf_swap_lock
[ -e "$ZF_URING_SWITCH" ] || zf_skip "no FUSE over io_uring in this kernel"
ZF_URING_RESTORE=$(cat "$ZF_URING_SWITCH")
BK_COMP=$comp BK_SIZE=1G
. bench/backends.sh
R=$ZF_TMP/results
: >"$R"

# fiojob NAME RW BS QD JOBS: run fio, record NAME's figures; the CPU time
# is the daemon's utime + stime over the run plus fio's system time (its
# job processes are its children: RUSAGE_CHILDREN)
fiojob() {
	python3 - "$1" "$be" "${DPID:-0}" "$DEV" "$secs" "$2" "$3" "$4" "$5" \
		>>"$R" <<'PY'
import json, os, resource, subprocess, sys
name, be, pid, dev, secs, rw, bs, qd, jobs = sys.argv[1:]
hz = os.sysconf("SC_CLK_TCK")
def ticks():
    if pid == "0":
        return 0
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
t0, r0 = ticks(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
out = subprocess.run(["fio", "--name=b", f"--filename={dev}", "--direct=1",
    "--ioengine=libaio", f"--rw={rw}", f"--bs={bs}", f"--iodepth={qd}",
    f"--numjobs={jobs}", "--group_reporting", "--size=480M",
    "--offset_increment=500M", f"--runtime={secs}", "--time_based",
    "--buffer_compress_percentage=60", "--refill_buffers", "--randrepeat=1",
    "--output-format=json"], check=True, capture_output=True).stdout
t1, r1 = ticks(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
j = json.loads(out)["jobs"][0]
d = j["read"] if j["read"]["io_bytes"] else j["write"]
gib = d["io_bytes"] / 2**30
print(f"{name}_iops_{be} {d['iops']:.0f}")
print(f"{name}_mbs_{be} {d['bw_bytes'] / 1e6:.0f}")
print(f"{name}_lat_{be} {d['lat_ns']['mean'] / 1000:.1f}")
print(f"{name}_cpu_{be} {((t1 - t0) / hz + r1 - r0) / gib:.3f}")
print(f"{name}_dcpu_{be} {((t1 - t0) / hz) / gib:.3f}")
PY
}

for i in $(seq "$rounds"); do
	for be in tmpfs zram classic uring; do
		bk_up $be
		fiojob rw4k randwrite 4k 16 2
		fiojob rr4k randread 4k 16 2
		fiojob rr4kqd1 randread 4k 1 1
		fiojob sw128k write 128k 16 2
		fiojob sr128k read 128k 16 2
		bk_down $be
	done
done

# profile NAME RW: perf record the whole machine during one fio run
profile() {
	perf record -q -a -g -e cpu-clock -o "$ZF_TMP/perf.data" -- \
		fio --name=p --filename="$DEV" --direct=1 --ioengine=libaio \
		--rw="$2" --bs=4k --iodepth=16 --numjobs=2 --group_reporting \
		--size=480M --offset_increment=500M --runtime="$secs" --time_based \
		--buffer_compress_percentage=60 --refill_buffers \
		--output="$prof/$1.$be.fio" >/dev/null 2>&1 ||
		zf_fail "perf record ($1 on $be)"
	perf report -q -i "$ZF_TMP/perf.data" --no-children --sort comm \
		-g none --percent-limit 1 >"$prof/$1.$be.comm" 2>/dev/null
	perf report -q -i "$ZF_TMP/perf.data" --no-children --sort comm,sym \
		-g none --percent-limit 0.5 >"$prof/$1.$be.sym" 2>/dev/null
}
if [ -n "$prof" ]; then
	command -v perf >/dev/null || zf_fail "-p needs perf (linux-perf)"
	mkdir -p "$prof"
	for be in classic uring; do
		bk_up $be
		fio --name=f --filename="$DEV" --direct=1 --ioengine=libaio \
			--rw=write --bs=1M --iodepth=8 --size=1000M \
			--buffer_compress_percentage=60 --refill_buffers \
			>/dev/null || zf_fail "fill"
		profile rr4k randread
		profile rw4k randwrite
		bk_down $be
	done
fi

med() {	# median of the values recorded under $1
	awk -v k="$1" '$1 == k {print $2}' "$R" | sort -g |
		awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
ratio() { echo "$1 $2" | awk '{printf "%.2f", $2 ? $1 / $2 : 0}'; }
echo "bench/transport.sh -r $rounds -t $secs -c $comp, $(date -u '+%Y-%m-%d %H:%M') UTC, medians of $rounds rounds"
echo
echo "| measure | tmpfs loop | zram | classic | uring | uring/tmpfs | uring/zram | uring/classic |"
echo "|---|---|---|---|---|---|---|---|"
for m in rw4k_iops rr4k_iops rr4kqd1_lat rr4kqd1_iops sw128k_mbs sr128k_mbs \
	 rw4k_cpu rr4k_cpu rw4k_dcpu rr4k_dcpu sw128k_cpu sr128k_cpu; do
	a=$(med ${m}_tmpfs) z=$(med ${m}_zram) c=$(med ${m}_classic) u=$(med ${m}_uring)
	echo "| $m | $a | $z | $c | $u | $(ratio "$u" "$a") | $(ratio "$u" "$z") | $(ratio "$u" "$c") |"
done
echo
if [ -n "$prof" ]; then
	echo "Where the CPU went (perf record -a -e cpu-clock, 4 KiB QD 16 x 2, share of"
	echo "all samples by thread, 1% and above; symbols in $prof/*.sym):"
	echo
	for f in rr4k.classic rr4k.uring rw4k.classic rw4k.uring; do
		echo "- $f: $(awk 'NF >= 2 {printf "%s%s %s", s, $1, $2; s = ", "}' \
			"$prof/$f.comm")"
	done
	echo
fi
cat "$R" >"${BENCH_RAW:-/dev/null}"
