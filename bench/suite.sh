#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The benchmark suite: every workload on kernel zram, on the ceiling of any
# loop backend and on zramfuse, in one command.
#
#   bench/suite.sh [-r ROUNDS] [-w WORKLOADS] [-b BACKENDS] [-o DIR]
#                  [-d DEVICE_MIB] [-s MIB] [-m MIB] [-S MIB] [-M MIB]
#                  [-k MIB] [-f MIB] [-t SECS] [-c MIB] [-x MIB] [-H MIB]
#
# Run as root from a built tree (scripts/build.sh; gnuplot-nox, fio and
# python3 from scripts/install-deps.sh).  It takes the swap-test lock of
# tests/lib.sh for its whole run (so it waits while a system test swaps),
# and its EXIT trap removes whatever it set up, also on failure.
#
# Backends (-b, comma-separated; default all six), each set up afresh for
# each run and torn down after it, all of one size (-d):
#   zram      kernel zram, /dev/zram0, lz4 (reset at exit)
#   tmpfs     a loop device on a tmpfs file, as zramfuse's: no FUSE, no
#             compression, the ceiling of any loop backend; the tmpfs is
#             mounted noswap, so that its pages never go to the swap
#             device they back
#   lz4       zramfuse -o comp=lz4, defaults otherwise (the daemon's own
#             transport: FUSE over io_uring where the kernel has it)
#   lz4-classic  zramfuse -o comp=lz4,transport=classic (swap, heap,
#             seed, seedmix):
#             /dev/fuse, for comparison
#   zstd      zramfuse -o comp=zstd
#   lz4-nodf  zramfuse -o comp=lz4,deferred_free=off (seed, discard only)
#   lz4-wb    zramfuse -o comp=lz4,backing_dev=FILE,writeback_idle=2,
#             writeback_idle_pages=65536 (swap only): pages not accessed
#             for 2 s go to FILE, a sparse file of the device's size made
#             for each run in ZF_SUITE_BDDIR (/var/tmp; not tmpfs: the
#             local disk) and removed after it
# ZF_SUITE_OPTS adds -o options to every zramfuse mount (for experiments;
# the summary's header names them).
# zramfuse as README's Usage sets it up: losetup --direct-io=on
# --sector-size 4096, wbt_lat_usec 0, swapon --discard; the daemon's own
# transport unless ZF_TRANSPORT is set (tests/lib.sh's meaning).
#
# Workloads (-w, comma-separated; default all, in this order):
#   swap       tests/swapload -m realistic: -s MIB (1024) of realistic
#              pages in a -m MIB (256) memory cgroup, five phases (fill,
#              sequential read, random read/write, sequential write,
#              sequential read), every page verified; per-phase and wall
#              time, peaks of backend memory (daemon RSS; zram:
#              mem_used_total; tmpfs: the file's allocated bytes),
#              mem_used_total and swap used, sampled every 200 ms; at the
#              backend memory's peak: mm_stat, swap used, SwapCached
#              (/proc/meminfo) and .zram/readback_stat; at the end the
#              daemon's CPU seconds per thread and, on lz4-wb, bd_stat
#              (and the peak of its bd_count)
#   heap       a real program: bench/heapload.py, CPython building -H MIB
#              (700) of dicts, strings, lists and ints in a -m MIB (256)
#              memory cgroup, reading as many records at random (each
#              checked, a quarter rewritten), then checking every record;
#              per-phase and wall time and the memory peaks as for swap.
#              On swap and heap also the CPU per GiB swapped in and out
#              (pswpin + pswpout of /proc/vmstat over the run): the
#              daemon's (user + system), the workload's system time (on
#              zram the compression is there), and their sum
#   swapsmall  tests/swapload -s MIB (-S, 512) -p 1 in a -M MIB (64) cgroup:
#              the same figures (those at the peak and of CPU in raw.tsv only)
#   seed       a process with -k MIB (1024) swapped out is killed: time to
#              exit and until memory is back (bench/suiteprobe seed): it
#              fills -k MIB + 64 MiB in a 64 MiB cgroup and is killed
#   seedmix    the same after a working life: -k MIB + 256 MiB in a
#              256 MiB cgroup, then half its pages rewritten at random
#              (swapped in and out again: swap cache copies, slots freed
#              in clusters not yet free), as issue 19 measured it
#   fio        fio, direct, libaio, 60%-compressible buffers, on a -f MIB
#              (1024) region: 1 MiB fill QD 8, 4 KiB random read and write
#              at QD 1 and QD 16x2, 128 KiB sequential read and write at
#              QD 16x2, -t SECS (10) each; a crc32c verify run that fails
#              the suite if it fails
#   corpus     a fixed -c MIB (256) corpus of realistic pages written with
#              O_DIRECT: memory per stored byte (not on tmpfs); on lz4 also
#              after idle all + recompress type=idle, on zstd with a trained
#              dictionary when the mount has .zram/train_dict
#   discard    on a full -x MIB (1024) device: 1 MiB discards p50/p99, a
#              whole-device discard and the time until memory is back
#   micro      no backend, in the first round only (each takes medians
#              of its own runs): bench/zspool_bench -r 5 -t 2 -s 1 (the
#              allocator against glibc malloc), bench/store_bench
#              (deferred against synchronous discards, codec throughput,
#              the slot lock) and bench/store_bench -p 8 (memory per
#              stored byte with zstd and a trained dictionary), and
#              bench/transport.sh -r ROUNDS -t 8 -p DIR/profile (classic
#              against FUSE over io_uring: fio IOPS, latency, CPU per GiB,
#              perf profiles; about 10 minutes); their tables as they
#              print them
# Each round runs every workload on every backend (rounds rotate the
# backends' order); -r ROUNDS (3) rounds.
#
# Output, in -o DIR (default suite-results/DATE in the tree): raw.tsv (one
# line per measurement), summary.md (markdown tables: medians, min-max,
# ratios to zram and to loop-on-tmpfs; also printed at the end), PNG
# charts, samples/ (memory over time), logs/ (swapload, fio, probe),
# micro/ (the micro benchmarks' output and command lines).
# bench/suite_report.py DIR remakes the summary and charts, e.g. from
# the raw.tsv of a run that failed half-way.
#
# A full run (-r 3, the defaults) takes about 40 minutes on a 2-core
# machine (lz4-wb about 5 of them: its swap runs take 3 times as long as
# lz4's; micro 11, transport.sh 10 of them).  Quick runs for a change's
# first look, a few minutes each:
#   bench/suite.sh -r 1 -w swap -s 256 -m 64 -b zram,tmpfs,lz4,lz4-wb
#   bench/suite.sh -r 1 -w fio,corpus,discard -f 256 -t 3 -x 256
#   bench/suite.sh -r 1 -w seed -k 256
#   bench/suite.sh -w micro
set -eu
cmdline=$0
for a in "$@"; do
	case $a in
	'' | *[!A-Za-z0-9_.,/=+:-]*) cmdline="$cmdline '$a'" ;;
	*) cmdline="$cmdline $a" ;;
	esac
done
here=$PWD
cd "$(dirname "$0")/.."
top=$PWD
rounds=3 workloads=swap,heap,swapsmall,seed,seedmix,fio,corpus,discard,micro
backends=zram,tmpfs,lz4,lz4-classic,zstd,lz4-nodf,lz4-wb out=
# lz4-wb: pages idle this many seconds are written back, at most this
# many a second
wb_idle=2 wb_pages=65536
dev_mib=4096 swap_mib=1024 swap_cg=256 small_mib=512 small_cg=64
seed_mib=1024 fio_mib=1024 fio_secs=10 corpus_mib=256 discard_mib=1024
heap_mib=700
usage() {
	sed -n '3,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while getopts r:w:b:o:d:s:m:S:M:k:f:t:c:x:H:h o; do
	case $o in
	r) rounds=$OPTARG ;;
	w) workloads=$OPTARG ;;
	b) backends=$OPTARG ;;
	o) out=$OPTARG ;;
	d) dev_mib=$OPTARG ;;
	s) swap_mib=$OPTARG ;;
	m) swap_cg=$OPTARG ;;
	S) small_mib=$OPTARG ;;
	M) small_cg=$OPTARG ;;
	k) seed_mib=$OPTARG ;;
	f) fio_mib=$OPTARG ;;
	t) fio_secs=$OPTARG ;;
	c) corpus_mib=$OPTARG ;;
	x) discard_mib=$OPTARG ;;
	H) heap_mib=$OPTARG ;;
	*) usage ;;
	esac
done
[ $OPTIND -gt $# ] || usage
for n in "$rounds" "$dev_mib" "$swap_mib" "$swap_cg" "$small_mib" \
	 "$small_cg" "$seed_mib" "$fio_mib" "$fio_secs" "$corpus_mib" \
	 "$discard_mib" "$heap_mib"; do
	case $n in '' | *[!0-9]* | 0) echo "${0##*/}: not a count: $n" >&2; usage ;; esac
done
workloads=$(echo "$workloads" | tr , ' ')
backends=$(echo "$backends" | tr , ' ')
for w in $workloads; do
	case $w in swap | heap | swapsmall | seed | seedmix | fio | corpus | discard | micro) ;;
	*) echo "${0##*/}: no workload $w" >&2; usage ;; esac
done
for b in $backends; do
	case $b in zram | tmpfs | lz4 | lz4-classic | zstd | lz4-nodf | lz4-wb) ;;
	*) echo "${0##*/}: no backend $b" >&2; usage ;; esac
done
[ -n "$out" ] || out=$top/suite-results/$(date -u +%Y%m%d-%H%M%S)
case $out in /*) ;; *) out=$here/$out ;; esac

# The backends a workload runs on, of those chosen.
applies() {
	case $1 in
	swap) _all="zram tmpfs lz4 lz4-classic zstd lz4-wb" ;;
	heap) _all="zram tmpfs lz4 lz4-classic zstd" ;;
	swapsmall | fio) _all="zram tmpfs lz4 zstd" ;;
	seed | seedmix) _all="zram tmpfs lz4 lz4-classic lz4-nodf" ;;
	corpus) _all="zram lz4 zstd" ;;
	discard) _all="zram tmpfs lz4 lz4-nodf zstd" ;;
	esac
	for _b in $backends; do
		case " $_all " in *" $_b "*) echo "$_b" ;; esac
	done
}

# applies_to BACKEND: the chosen workloads that run on BACKEND.
applies_to() {
	for _w in $workloads; do
		case " $(applies "$_w" | tr '\n' ' ') " in *" $1 "*) echo "$_w" ;; esac
	done
}

own_transport=${ZF_TRANSPORT+set}
top_srcdir=$top top_builddir=$top ZRAMFUSE=$top/zramfuse
export top_srcdir top_builddir ZRAMFUSE
. tests/lib.sh
# The daemon's own default transport unless the caller chose one.
[ -n "$own_transport" ] || ZF_TOPT=
PROBE=$top/bench/suiteprobe
[ -x "$PROBE" ] && [ -x tests/swapload ] && [ -x bench/zspool_bench ] &&
	[ -x bench/store_bench ] || zf_fail "not built: run scripts/build.sh"
for c in fio python3 blkdiscard /usr/bin/time; do
	command -v $c >/dev/null || zf_fail "$c is missing: run scripts/install-deps.sh"
done
command -v gnuplot >/dev/null ||
	zf_log "gnuplot is missing (scripts/install-deps.sh): no charts"
# lz4-wb's backing file: on the local disk (a file on tmpfs would be
# memory again), removed after each run and by the EXIT trap
BDDIR=${ZF_SUITE_BDDIR:-/var/tmp}
BDFILE=
if [ -n "$(applies_to lz4-wb)" ]; then
	case $BDDIR in /*) ;; *) zf_fail "ZF_SUITE_BDDIR must be absolute: $BDDIR" ;; esac
	[ -d "$BDDIR" ] || zf_fail "no directory $BDDIR for lz4-wb's backing file"
	case $(stat -f -c %T "$BDDIR") in
	tmpfs | ramfs) zf_fail "$BDDIR is on $(stat -f -c %T "$BDDIR"), not a disk: set ZF_SUITE_BDDIR" ;;
	esac
	[ "$(df -Pm "$BDDIR" | awk 'NR == 2 {print $4}')" -ge "$swap_mib" ] ||
		zf_fail "less than $swap_mib MiB free in $BDDIR for lz4-wb's backing file"
fi
zf_init
zf_swap_lock
if [ -n "$(applies_to lz4-wb)" ]; then
	BDFILE=$BDDIR/zramfuse-suite.$$.bd
	ZF_ATEXIT="rm -f '$BDFILE'"
fi
[ -e /sys/block/zram0 ] || modprobe zram 2>/dev/null ||
	case " $backends " in *" zram "*) zf_fail "no zram" ;; esac
if [ -e /sys/block/zram0 ]; then
	grep -q '^/dev/zram0 ' /proc/swaps && zf_fail "/dev/zram0 is in use as swap"
	ZF_ATEXIT="${ZF_ATEXIT:+$ZF_ATEXIT; }swapoff /dev/zram0 2>/dev/null; echo 1 >/sys/block/zram0/reset"
fi
mkdir -p "$out/logs" "$out/samples"
RAW=$out/raw.tsv
FMNT=$ZF_TMP/mnt TMNT=$ZF_TMP/tmpfs

{
	echo "# zramfuse benchmark suite: raw results, one measurement a line"
	echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# kernel: $(uname -r)"
	echo "# cpu: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores"
	# what a system call, a fault and a context switch cost depends on
	# these: with pti and no pcid each one flushes the TLB
	_f=" $(sed -n 's/^flags[^:]*: //p' /proc/cpuinfo | head -n 1) " _c=
	for _x in hypervisor pti pcid; do
		case $_f in *" $_x "*) _c="$_c $_x" ;; *) _c="$_c no-$_x" ;; esac
	done
	echo "# cpu flags:$_c"
	echo "# memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "# command: $cmdline"
	echo "# tree: $(git describe --always --dirty 2>/dev/null || echo '?')"
	echo "# transport: ${ZF_TOPT:-daemon default} (fuse enable_uring: $(cat "$ZF_URING_SWITCH" 2>/dev/null || echo absent))"
	echo "# zramfuse options: ${ZF_SUITE_OPTS:-defaults}"
	[ -z "$BDFILE" ] ||
		echo "# lz4-wb: writeback_idle=$wb_idle writeback_idle_pages=$wb_pages, backing file in $BDDIR ($(stat -f -c %T "$BDDIR"), $(df -P "$BDDIR" | awk 'NR == 2 {print $1}'))"
	echo "# config: rounds=$rounds dev_mib=$dev_mib swap_mib=$swap_mib swap_cg_mib=$swap_cg small_mib=$small_mib small_cg_mib=$small_cg seed_mib=$seed_mib fio_mib=$fio_mib fio_secs=$fio_secs corpus_mib=$corpus_mib discard_mib=$discard_mib heap_mib=$heap_mib"
	printf 'round\tworkload\tbackend\tmetric\tvalue\tunit\n'
} >"$RAW"
sed -n 's/^# //p' "$RAW" >&2

# rec METRIC VALUE UNIT: one measurement of this run ($R, $W, $B).
rec() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$R" "$W" "$B" "$1" "$2" "$3" >>"$RAW"; }
# recs: record the "METRIC VALUE UNIT" lines of stdin.
recs() {
	while read -r _m _v _u; do
		case $_m in '' | '#'*) continue ;; esac
		rec "$_m" "$_v" "$_u"
	done
}

# unreg VAR ITEM: take ITEM off tests/lib.sh's teardown list VAR once it
# has been taken down as a step of the run.
unreg() {
	eval "_l=\$$1"
	_n=
	for _x in $_l; do [ "$_x" = "$2" ] || _n="$_n $_x"; done
	eval "$1=\$_n"
}

# step SECS CMD...: run CMD with a deadline.  Past it the backend is taken
# as hung: the FUSE connection is aborted (so that nothing stays in D
# state), CMD killed and the suite fails.
step() {
	_sn=$(($1 * 10))
	shift
	"$@" &
	_sp=$!
	ZF_WORK="$ZF_WORK $_sp"
	while zf_alive $_sp; do
		_sn=$((_sn - 1))
		if [ $_sn -le 0 ]; then
			zf_log "$W on $B: past its deadline: $*"
			zf_pstate $_sp $ZF_PIDS
			mountpoint -q "$FMNT" && zf_fuse_abort "$FMNT"
			kill -KILL $_sp 2>/dev/null
			zf_fail "$W on $B, round $R: hung"
		fi
		sleep 0.1
	done
	unreg ZF_WORK $_sp
	wait $_sp
}

# The daemon's RSS once it is idle (its reserve filled: the same twice
# 200 ms apart, or after 2 s), in bytes: what "memory back" means for it.
idle_rss() {
	_r0=0
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		_r=$(awk '/^VmRSS/ {print $2 * 1024}' /proc/"$DPID"/status)
		[ "$_r" = "$_r0" ] && break
		_r0=$_r
		sleep 0.2
	done
	echo "$_r"
}

# be_up BACKEND MIB: set up a backend; sets DEV (its block device), PARGS
# (where suiteprobe reads its memory) and DPID (the daemon, or 0).
be_up() {
	DPID=0
	case $1 in
	zram)
		echo 1 >/sys/block/zram0/reset
		echo lz4 >/sys/block/zram0/comp_algorithm ||
			zf_fail "kernel zram has no lz4"
		echo "${2}M" >/sys/block/zram0/disksize
		DEV=/dev/zram0 PARGS="-m /sys/block/zram0/mm_stat"
		;;
	tmpfs)
		mkdir -p "$TMNT"
		# noswap: the file's pages must never be swapped out to the
		# device they back (a loop worker deadlocked so, in
		# shmem_swapin_folio, and swapoff then hung for good)
		mount -t tmpfs -o size=$(($2 + 16))m,noswap tmpfs "$TMNT" ||
			zf_fail "mount tmpfs (noswap: Linux 6.4 or later)"
		ZF_MOUNTS="$TMNT $ZF_MOUNTS"
		truncate -s "${2}M" "$TMNT/f"
		zf_loop "$TMNT/f"
		DEV=$ZF_LOOP PARGS="-f $TMNT/f"
		;;
	lz4 | lz4-classic | zstd | lz4-nodf | lz4-wb)
		_o="size=${2}M,comp=${1%%-*}"
		[ "$1" = lz4-nodf ] && _o="$_o,deferred_free=off"
		[ "$1" = lz4-classic ] && _o="$_o,transport=classic"
		if [ "$1" = lz4-wb ]; then
			truncate -s "${2}M" "$BDFILE" || zf_fail "truncate $BDFILE"
			_o="$_o,backing_dev=$BDFILE,writeback_idle=$wb_idle"
			_o="$_o,writeback_idle_pages=$wb_pages"
		fi
		_o="$_o${ZF_SUITE_OPTS:+,$ZF_SUITE_OPTS}"
		zf_mount "$FMNT" -o "$_o"
		DPID=$ZF_PID
		zf_loop "$FMNT/swap"
		DEV=$ZF_LOOP
		PARGS="-m $FMNT/.zram/mm_stat -p $DPID -b $(idle_rss)"
		;;
	esac
}

be_down() {
	if grep -q "^$DEV " /proc/swaps; then
		zf_unhang swapoff "$DEV" || zf_fail "swapoff $DEV"
	fi
	unreg ZF_SWAPS "$DEV"
	case $1 in
	zram) echo 1 >/sys/block/zram0/reset ;;
	*)
		zf_unhang losetup -d "$DEV" || zf_fail "losetup -d $DEV"
		unreg ZF_LOOPS "$DEV"
		if [ "$1" = tmpfs ]; then
			umount "$TMNT" || zf_fail "umount $TMNT"
			unreg ZF_MOUNTS "$TMNT"
		else
			zf_umount "$FMNT"
			unreg ZF_MOUNTS "$FMNT"
			unreg ZF_PIDS "$DPID"
			if [ "$1" = lz4-wb ]; then rm -f "$BDFILE"; fi
		fi
		;;
	esac
}

# cg_up NAME MIB / cg_down: this run's memory cgroup (tests/lib.sh's).
cg_up() { zf_cgroup "$1-$R-$B" $(($2 * 1024 * 1024)); }
cg_down() {
	zf_wait 50 rmdir "$ZF_CG" || zf_fail "rmdir $ZF_CG"
	unreg ZF_CGROUPS "$ZF_CG"
}

# daemon_cpu: the daemon's CPU seconds (user + system) so far, per
# thread name (threads of one name summed; those under 0.05 s left out)
# and in all (exited threads included), as "METRIC VALUE UNIT" lines.
daemon_cpu() {
	_hz=$(getconf CLK_TCK)
	for _t in /proc/"$DPID"/task/*; do
		# the name may hold spaces; the fields after it do not: with
		# the name in front, stat's utime and stime (fields 14 and
		# 15) are $13 and $14
		_c=$(tr ' \t' __ 2>/dev/null <"$_t/comm") || continue
		_s=$(cat "$_t/stat" 2>/dev/null) || continue
		echo "$_c ${_s##*) }"
	done | awk -v hz="$_hz" '{c[$1] += ($13 + $14) / hz}
		END {for (k in c) if (c[k] >= 0.05)
			printf "cpu_%s_s %.2f s\n", k, c[k]}'
	_s=$(cat /proc/"$DPID"/stat)	# ($12, $13: without the name)
	echo "${_s##*) }" | awk -v hz="$_hz" '{printf "cpu_total_s %.2f s\n", ($12 + $13) / hz}'
}

# The daemon's CPU seconds (user + system, exited threads included).
daemon_cpu_s() {
	_s=$(cat /proc/"$DPID"/stat)
	echo "${_s##*) }" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($12 + $13) / hz}'
}

# Pages swapped in and out so far, machine-wide (/proc/vmstat).
swapped_pages() {
	awk '$1 == "pswpin" || $1 == "pswpout" {n += $2} END {print n}' /proc/vmstat
}

# swap_load CGROUP_MIB CMD...: CMD (tests/swapload or bench/heapload.py,
# which takes -P PROGRESS) in a memory cgroup, swapping to $DEV, with the
# memory sampled every 200 ms; its CPU time, the daemon's and the pages
# swapped, per GiB swapped.
swap_load() {
	_log=$out/logs/$W-$B-r$R.log
	zf_swapon "$DEV"
	cg_up "$W" "$1"
	shift
	_rb=
	[ "$DPID" != 0 ] && [ -e "$FMNT/.zram/readback_stat" ] &&
		_rb="-R $FMNT/.zram/readback_stat"
	[ "$B" = lz4-wb ] && _rb="$_rb -W $FMNT/.zram/bd_stat"
	# shellcheck disable=SC2086
	"$PROBE" sample $PARGS $_rb -d "$DEV" "$out/samples/$W-$B-r$R.tsv" \
		>"$ZF_TMP/peaks" &
	_samp=$!
	ZF_WORK="$ZF_WORK $_samp"
	# (|| : because zf_watch is not written for set -e: its mm_stat read
	# fails where no zramfuse is mounted; ZF_RC says how the run ended)
	_sw0=$(swapped_pages) _dc0=0
	[ "$DPID" = 0 ] || _dc0=$(daemon_cpu_s)
	zf_watch "$ZF_CG" 60 900 "$FMNT" -- /usr/bin/time -o "$ZF_TMP/time" \
		-f 'utime %U\nstime %S' "$@" -P "$ZF_TMP/progress" >"$_log" 2>&1 || :
	_sw1=$(swapped_pages) _dc1=0
	[ "$DPID" = 0 ] || _dc1=$(daemon_cpu_s)
	kill -TERM $_samp
	wait $_samp || :
	unreg ZF_WORK $_samp
	[ "$ZF_RC" = 0 ] || zf_fail "$W on $B, round $R: $1 exit $ZF_RC (see $_log)"
	awk '$1 == "phase" {print "phase_" $2 "_s", $3, "s"}
	     $1 == "wall" {print "wall_s", $2, "s"}' "$_log" | recs
	# what swapping cost in CPU, per GiB moved (in + out)
	awk -v sw="$((_sw1 - _sw0))" -v dc="$(echo "$_dc1 $_dc0" | awk '{print $1 - $2}')" '
		$1 == "utime" {u = $2} $1 == "stime" {s = $2}
		END {g = sw * 4096 / 1073741824
		     printf "swapped_gib %.2f GiB\n", g
		     printf "work_utime_s %.2f s\nwork_stime_s %.2f s\n", u, s
		     printf "daemon_cpu_run_s %.2f s\n", dc
		     if (g > 0) {
			printf "per_gib_daemon_cpu_s %.2f s\n", dc / g
			printf "per_gib_work_stime_s %.2f s\n", s / g
			printf "per_gib_cpu_sum_s %.2f s\n", (dc + s) / g }}' \
		"$ZF_TMP/time" | recs
	recs <"$ZF_TMP/peaks"
	# at the end, before swapoff reads the pages back
	[ "$DPID" = 0 ] || daemon_cpu | recs
	if [ "$B" = lz4-wb ]; then
		# shellcheck disable=SC2046
		set -- $(zf_timeout 30 cat "$FMNT/.zram/bd_stat")
		[ $# -ge 3 ] || zf_fail "$W on $B, round $R: no bd_stat"
		for _m in "bd_count $1" "bd_reads $2" "bd_writes $3"; do
			echo "${_m% *}_mib ${_m#* }" |
				awk '{printf "%s %.1f MiB\n", $1, $2 * 4096 / 1048576}'
		done | recs
		rec bd_file_mib "$(stat -c '%b %B' "$BDFILE" |
			awk '{printf "%.1f", $1 * $2 / 1048576}')" MiB
	fi
	zf_unhang swapoff "$DEV" || zf_fail "swapoff $DEV"
	unreg ZF_SWAPS "$DEV"
	cg_down
}

wl_swap() { swap_load "$swap_cg" "$top/tests/swapload" -m realistic -s "$swap_mib" -S 1; }
wl_swapsmall() { swap_load "$small_cg" "$top/tests/swapload" -s "$small_mib" -p 1 -v; }
wl_heap() { swap_load "$swap_cg" python3 "$top/bench/heapload.py" -s "$heap_mib"; }

# The seed scenario: the probe forks the process into a CG_MIB cgroup, so
# that all but CG_MIB of what it fills is swapped out (seed_run CG_MIB
# PROBE_ARGS...).
seed_run() {
	_cgm=$1
	shift
	zf_swapon "$DEV"
	cg_up "$W" "$_cgm"
	# shellcheck disable=SC2086
	step 900 "$PROBE" seed -c "$ZF_CG" -s $((seed_mib + _cgm)) -t 30 $PARGS "$@" \
		>"$ZF_TMP/seed" 2>>"$out/logs/$W-$B-r$R.log" ||
		zf_fail "$W on $B, round $R: suiteprobe failed"
	recs <"$ZF_TMP/seed"
	zf_unhang swapoff "$DEV" || zf_fail "swapoff $DEV"
	unreg ZF_SWAPS "$DEV"
	cg_down
}
wl_seed() { seed_run 64; }
wl_seedmix() { seed_run 256 -w 50; }

# fio_job NAME RW BS QD JOBS MIB [FIO_ARGS...]: one fio run on $DEV over
# MIB MiB (each of JOBS jobs on its own share), recorded as NAME_*.
fio_job() {
	_name=$1 _rw=$2 _bs=$3 _qd=$4 _nj=$5 _sz=$(($6 / $5))
	shift 6
	_j=$out/logs/fio-$_name-$B-r$R.json
	step $((fio_secs + 600)) fio --name="$_name" --filename="$DEV" \
		--direct=1 --ioengine=libaio --rw="$_rw" --bs="$_bs" \
		--iodepth="$_qd" --numjobs="$_nj" --group_reporting \
		--size="${_sz}M" --offset_increment="${_sz}M" \
		--buffer_compress_percentage=60 --refill_buffers --randrepeat=1 \
		--output-format=json --output="$_j" "$@" >/dev/null ||
		zf_fail "fio $_name on $B, round $R failed (see $_j)"
}

# fio_rec NAME: record the figures of fio_job NAME.
fio_rec() {
	python3 "$top/bench/suite_report.py" fio \
		"$out/logs/fio-$1-$B-r$R.json" "$1" | recs
}

wl_fio() {
	_t="--runtime=$fio_secs --time_based"
	# shellcheck disable=SC2086
	for j in "fill1m_qd8 write 1M 8 1" "rr4k_qd1 randread 4k 1 1 $_t" \
		 "rr4k_qd16x2 randread 4k 16 2 $_t" "sr128k read 128k 16 2 $_t" \
		 "rw4k_qd1 randwrite 4k 1 1 $_t" \
		 "rw4k_qd16x2 randwrite 4k 16 2 $_t" \
		 "sw128k write 128k 16 2 $_t"; do
		set -- $j
		_name=$1 _a="$2 $3 $4 $5"
		shift 5
		fio_job "$_name" $_a "$fio_mib" "$@"
		fio_rec "$_name"
	done
	# the data check: a failed verify fails the suite
	fio_job verify randwrite 4k 16 1 $((fio_mib < 256 ? fio_mib : 256)) \
		--verify=crc32c --do_verify=1 --verify_fatal=1 \
		--verify_state_save=0
	rec verify_ok 1 bool
}

# ctl FILE WORD: write WORD to the mount's control file FILE (under a
# deadline: it may be a long recompression).
ctl() {
	step 600 sh -c 'echo "$2" >"$1"' sh "$FMNT/.zram/$1" "$2"
}

# corpus_rec NAME: record mm_stat's figures under backend NAME.
corpus_rec() {
	_b=$B
	B=$1
	# shellcheck disable=SC2046
	set -- $(zf_timeout 30 cat "$MMSTAT")
	rec mem_per_byte "$(echo "$3 $1" | awk '{printf "%.4f", $1 / $2}')" ratio
	rec compr_per_byte "$(echo "$2 $1" | awk '{printf "%.4f", $1 / $2}')" ratio
	rec mem_used_mib "$(echo "$3" | awk '{printf "%.1f", $1 / 1048576}')" MiB
	rec orig_mib "$(echo "$1" | awk '{printf "%.1f", $1 / 1048576}')" MiB
	B=$_b
}

wl_corpus() {
	MMSTAT=/sys/block/zram0/mm_stat
	[ "$B" = zram ] || MMSTAT=$FMNT/.zram/mm_stat
	_log=$out/logs/corpus-$B-r$R.log
	step 600 "$PROBE" corpus -s "$corpus_mib" -S 1 "$DEV" 2>>"$_log" ||
		zf_fail "corpus on $B, round $R (see $_log)"
	corpus_rec "$B"
	# issue 11's variants, where the daemon has them
	case $B in
	lz4)
		if [ -e "$FMNT/.zram/idle" ] && [ -e "$FMNT/.zram/recompress" ] &&
		   grep -q zstd "$FMNT/.zram/recomp_algorithm"; then
			ctl idle all && ctl recompress type=idle && ctl compact 1 ||
				zf_fail "recompress on $B, round $R"
			corpus_rec lz4+recomp
		else
			zf_log "no recompression with zstd in .zram/: lz4+recomp skipped"
		fi
		;;
	zstd)
		if [ -e "$FMNT/.zram/train_dict" ]; then
			# trained on the stored pages, used for new ones: the
			# corpus is written again
			if ctl train_dict 1; then
				step 600 "$PROBE" corpus -s "$corpus_mib" -S 1 \
					"$DEV" 2>>"$_log" ||
					zf_fail "corpus on $B, round $R (see $_log)"
				ctl compact 1 || zf_fail "compact"
				corpus_rec zstd+dict
			else
				zf_log "writing 1 to .zram/train_dict failed: zstd+dict skipped"
			fi
		else
			zf_log "no .zram/train_dict: zstd+dict skipped"
		fi
		;;
	esac
}

# Discard on a full device: 1 MiB discards (each MiB once, QD 1), then
# the device filled again and discarded whole.
wl_discard() {
	fio_job dfill write 1M 8 1 "$discard_mib"
	fio_job trim1m randtrim 1M 1 1 "$discard_mib" --ioengine=psync
	fio_rec trim1m
	fio_job dfill write 1M 8 1 "$discard_mib"
	# shellcheck disable=SC2086
	step 300 "$PROBE" discard -t 30 $PARGS "$DEV" >"$ZF_TMP/discard" ||
		zf_fail "discard on $B, round $R"
	recs <"$ZF_TMP/discard"
}

# micro: the micro benchmarks, each with its own repeats, once (in the
# first round); their output as micro/NAME.md, their command line as
# micro/NAME.cmd; their run time recorded as B=NAME.
wl_micro() {
	[ "$R" = 1 ] || return 0
	mkdir -p "$out/micro"
	# transport.sh holds no lock of its own under ours (ZF_LOCKED)
	for _m in "zspool bench/zspool_bench -r 5 -t 2 -s 1" \
		  "store bench/store_bench" "store-dict bench/store_bench -p 8" \
		  "transport env ZF_LOCKED=1 bench/transport.sh -r $rounds -t 8 -p $out/profile"; do
		# shellcheck disable=SC2086
		set -- $_m
		B=$1
		shift
		zf_log "round $R/$rounds: micro: $* ($(($(date +%s) - t0)) s)"
		echo "$*" >"$out/micro/$B.cmd"
		_t=$(date +%s.%N)
		step 1800 "$@" >"$out/micro/$B.md" 2>>"$out/logs/micro-$B.log" ||
			zf_fail "micro: $* failed (see $out/logs/micro-$B.log)"
		rec run_s "$(echo "$_t $(date +%s.%N)" |
			awk '{printf "%.1f", $2 - $1}')" s
	done
}

# rotate N WORDS...: the words, starting with the Nth (cyclically).
rotate() {
	_k=$1
	shift
	[ $# -gt 0 ] || return 0
	_k=$(((_k - 1) % $#))
	while [ $_k -gt 0 ]; do
		_f=$1
		shift
		set -- "$@" "$_f"
		_k=$((_k - 1))
	done
	echo "$@"
}

t0=$(date +%s)
for R in $(seq "$rounds"); do
	for W in $workloads; do
		if [ "$W" = micro ]; then
			wl_micro
			continue
		fi
		for B in $(rotate "$R" $(applies "$W")); do
			zf_log "round $R/$rounds: $W on $B ($(($(date +%s) - t0)) s)"
			_mib=$dev_mib
			[ "$W" = discard ] && _mib=$discard_mib
			be_up "$B" "$_mib"
			"wl_$W"
			be_down "$B"
		done
	done
done
zf_log "all rounds done in $(($(date +%s) - t0)) s"
python3 bench/suite_report.py "$out" || zf_fail "suite_report.py $out"
cat "$out/summary.md"
echo
echo "results: $out"
