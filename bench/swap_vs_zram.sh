#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# zramfuse against the kernel's own zram, on this machine, in the same run.
#
#   bench/swap_vs_zram.sh [-r REPEATS] [-s WORKING_SET_MIB] [-c lz4|zstd]
#
# 1. Swap: tests/swapload writes a working set of mixed pages in a 64 MiB
#    memory cgroup, swapping through (a) /dev/zram0 and (b) a loop device
#    on a zramfuse file; wall time, and the store's mem_used_total and
#    compr_data_size at the peak.
# 2. Block I/O: fio, 4 KiB random writes then reads with direct I/O on
#    /dev/zram0 and on the loop device (queue depth 1 and 16).
# Each figure is the median of REPEATS runs, alternating the two devices.
# Run as root from a built tree.
set -eu
cd "$(dirname "$0")/.."
reps=3 wss=512 comp=lz4
while getopts r:s:c: o; do
	case $o in
	r) reps=$OPTARG ;;
	s) wss=$OPTARG ;;
	c) comp=$OPTARG ;;
	*) exit 2 ;;
	esac
done
command -v fio >/dev/null ||
	{ apt-get update -qq && apt-get install -y -qq fio >/dev/null; }

top_srcdir=$PWD top_builddir=$PWD ZRAMFUSE=$PWD/zramfuse
. tests/lib.sh
zf_init
ZF_ATEXIT='echo 1 >/sys/block/zram0/reset'
mnt=$ZF_TMP/mnt
R=$ZF_TMP/results
: >"$R"

zram_up() {
	echo 1 >/sys/block/zram0/reset
	echo "$comp" >/sys/block/zram0/comp_algorithm
	echo 1G >/sys/block/zram0/disksize
	DEV=/dev/zram0 STAT=/sys/block/zram0/mm_stat
}
zram_down() { echo 1 >/sys/block/zram0/reset; }
zf_up() {
	zf_mount "$mnt" -o "size=1G,comp=$comp"
	zf_loop "$mnt/swap"
	DEV=$ZF_LOOP STAT=$mnt/.zram/mm_stat
}
zf_down() {
	zf_unhang losetup -d "$DEV"
	zf_umount "$mnt"
	ZF_LOOPS= ZF_MOUNTS= ZF_PIDS=
}

# Record "name value" lines.
rec() { echo "$1 $2" >>"$R"; }

swap_run() {	# on $DEV, recorded under $name
	zf_swapon "$DEV"
	zf_cgroup "b$$" $((64 * 1024 * 1024))
	peak_used=0 peak_compr=0
	_t0=$(date +%s.%N)
	sh -c 'echo $$ >"$1"/cgroup.procs; exec tests/swapload -s "$2" -p 1' \
		sh "$ZF_CG" "$wss" >/dev/null &
	_pid=$!
	while zf_alive $_pid; do
		set -- $(cat "$STAT")
		[ "$3" -gt "$peak_used" ] && peak_used=$3 peak_orig=$1 peak_compr=$2
		sleep 0.2
	done
	wait $_pid || zf_fail "swapload failed on $DEV"
	_t1=$(date +%s.%N)
	swapoff "$DEV"
	ZF_SWAPS=
	rmdir "$ZF_CG"
	ZF_CGROUPS=
	rec "swap_secs_$name" "$(printf '%.2f' "$(echo "$_t1 - $_t0" | bc -l)")"
	rec "swap_used_$name" "$((peak_used / 1048576))"
	rec "swap_ratio_$name" "$(printf '%.3f' "$(echo "$peak_used / $peak_orig" | bc -l)")"
}

fio_run() {
	for qd in 1 16; do
		for rw in randwrite randread; do
			iops=$(fio --name=b --filename="$DEV" --direct=1 --bs=4k \
				--rw=$rw --ioengine=libaio --iodepth=$qd \
				--size=256M --runtime=8 --time_based=$([ $rw = randread ] && echo 1 || echo 0) \
				--buffer_compress_percentage=60 --refill_buffers \
				--randrepeat=1 --output-format=terse --terse-version=3 |
				awk -F';' -v rw=$rw '{print (rw=="randread") ? $8 : $49}')
			rec "fio_${rw}_qd${qd}_$name" "$iops"
		done
	done
}

for i in $(seq "$reps"); do
	for name in zram zramfuse; do
		if [ $name = zram ]; then zram_up; else zf_up; fi
		fio_run
		if [ $name = zram ]; then zram_down; zram_up; else zf_down; zf_up; fi
		swap_run $name
		if [ $name = zram ]; then zram_down; else zf_down; fi
	done
done

med() {	# median of the values recorded under $1
	awk -v k="$1" '$1 == k {print $2}' "$R" | sort -g |
		awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
row() {	# label key unit
	a=$(med "$2_zram") b=$(med "$2_zramfuse")
	printf '| %s | %s | %s | %.2f |\n' "$1" "$a" "$b" \
		"$(echo "$b / $a" | bc -l)"
}
echo "zramfuse vs kernel zram, $comp, $(date -u +%Y-%m-%d), medians of $reps runs: bench/swap_vs_zram.sh -r $reps -s $wss -c $comp"
echo
echo "| measure | kernel zram | zramfuse | zramfuse / zram |"
echo "|---|---|---|---|"
row "swap: $wss MiB working set in 64 MiB, seconds" swap_secs
row "swap: peak mem_used_total, MiB" swap_used
row "swap: mem_used_total / orig_data_size" swap_ratio
for qd in 1 16; do
	row "4 KiB random write IOPS, QD$qd" fio_randwrite_qd$qd
	row "4 KiB random read IOPS, QD$qd" fio_randread_qd$qd
done
