#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Where a swap workload's memory goes: kernel zram against zramfuse, in the
# same run, sampled every 200 ms.
#
#   bench/swap_memory.sh [-r REPEATS] [-s WORKING_SET_MIB] [-m CGROUP_MIB]
#                        [-d DEVICE_SIZE] [-c lz4|zstd] [-o ZRAMFUSE_OPTS]
#                        [-b "zram zramfuse"]
#
# tests/swapload (mixed pages: zero, text, binary, random; 3 passes that
# verify every page and rewrite a share) runs in a cgroup v1 memory cgroup
# of CGROUP_MIB, swapping to /dev/zram0 or to a loop device on a zramfuse
# file (set up as README's Usage says), DEVICE_SIZE each.  Per run, at the
# daemon's peak RSS (zram: at the peak of mem_used_total): RSS,
# mem_used_total, compr_data_size, orig_data_size, swap used, SwapCached
# (pages in RAM that also hold a swap slot: the copies zram never keeps),
# the read-back pages and their recompression (readback_stat), and at the
# end the CPU seconds of each daemon thread.  Runs alternate between the
# backends; the table gives medians.  Run as root from a built tree.
set -eu
cd "$(dirname "$0")/.."
reps=3 wss=1024 lim=256 dev=4G comp=lz4 opts= backends="zram zramfuse"
while getopts r:s:m:d:c:o:b: o; do
	case $o in
	r) reps=$OPTARG ;;
	s) wss=$OPTARG ;;
	m) lim=$OPTARG ;;
	d) dev=$OPTARG ;;
	c) comp=$OPTARG ;;
	o) opts=,$OPTARG ;;
	b) backends=$OPTARG ;;
	*) exit 2 ;;
	esac
done
top_srcdir=$PWD top_builddir=$PWD ZRAMFUSE=$PWD/zramfuse
export top_srcdir top_builddir ZRAMFUSE
. tests/lib.sh
zf_init
zf_swap_lock
[ -e /sys/block/zram0 ] || modprobe zram || zf_fail "no zram"
grep -q '^/dev/zram0 ' /proc/swaps && zf_fail "/dev/zram0 is in use as swap"
ZF_ATEXIT='swapoff /dev/zram0 2>/dev/null; echo 1 >/sys/block/zram0/reset'
mnt=$ZF_TMP/mnt
R=$ZF_TMP/results
: >"$R"
echo "# $(date -u '+%F %T') $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# bench/swap_memory.sh -r $reps -s $wss -m $lim -d $dev -c $comp${opts:+ -o ${opts#,}} -b \"$backends\""

# sample FILE PID MMSTAT DEV [RBSTAT]: one line every 200 ms until killed:
# rss_kib swap_kib swapcached_kib orig compr used readback_pages
# readback_compr recomp_pages
sample() {
	while :; do
		_rss=0
		[ "$2" != 0 ] && _rss=$(awk '/^VmRSS/{print $2}' /proc/"$2"/status)
		_rb="0 0 0"
		[ -n "${5:-}" ] && _rb=$(cut -d' ' -f1-3 "$5")
		echo "$_rss $(awk -v d="$4" '$1 == d {s = $4} END {print s + 0}' /proc/swaps) \
$(awk '/^SwapCached/{print $2}' /proc/meminfo) \
$(awk '{print $1, $2, $3}' "$3") $_rb"
		sleep 0.2
	done >"$1"
}

run() {	# run BACKEND N
	_s=$ZF_TMP/samples.$1.$2
	case $1 in
	zram)
		echo 1 >/sys/block/zram0/reset
		echo "$comp" >/sys/block/zram0/comp_algorithm ||
			zf_fail "zram has no $comp"
		echo "$dev" >/sys/block/zram0/disksize
		_dev=/dev/zram0 _mm=/sys/block/zram0/mm_stat _pid=0 _rb=
		;;
	zramfuse)
		zf_mount "$mnt" -o "size=$dev,comp=$comp$opts"
		zf_loop "$mnt/swap"
		_dev=$ZF_LOOP _mm=$mnt/.zram/mm_stat _pid=$ZF_PID
		_rb=$mnt/.zram/readback_stat
		;;
	esac
	zf_swapon "$_dev"
	zf_cgroup "$1$2" $((lim * 1024 * 1024))
	sample "$_s" "$_pid" "$_mm" "$_dev" "$_rb" &
	_samp=$!
	zf_watch "$ZF_CG" 60 900 "${mnt}" -- \
		"$top_builddir/tests/swapload" -s "$wss" -p 3 -P "$ZF_TMP/progress"
	kill $_samp
	wait $_samp 2>/dev/null || :
	[ "$ZF_RC" = 0 ] || zf_fail "$1 run $2: swapload exit $ZF_RC"
	_cpu=
	if [ "$_pid" != 0 ]; then
		_cpu=$(for t in /proc/"$_pid"/task/*; do
			echo "$(cat "$t"/comm) $(cut -d' ' -f14,15 "$t"/stat)"
		done | awk '{c[$1] += ($2 + $3) / 100} END {
			for (k in c) if (c[k] >= 0.05) printf "%s=%.1f ", k, c[k] }')
	fi
	# the row at the peak: RSS for zramfuse, mem_used_total for zram
	_k=1
	[ "$_pid" = 0 ] && _k=6
	sort -n -k$_k "$_s" | tail -n 1 |
		awk -v b="$1" -v t="$ZF_SECS" '{m = 1048576;
		printf "%s %s %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", b, t,
		($1 ? $1 / 1024 : $6 / m), $6 / m, $5 / m, $4 / m, $2 / 1024,
		$3 / 1024, $7 * 4 / 1024, $8 / m, $9 * 4 / 1024}' >>"$R"
	echo "$1 run $2: ${ZF_SECS} s; $(tail -n 1 "$R"); ${_cpu:+cpu s: $_cpu}" >&2
	zf_unhang swapoff "$_dev" || zf_fail "swapoff $_dev"
	case $1 in
	zram) echo 1 >/sys/block/zram0/reset ;;
	zramfuse)
		zf_unhang losetup -d "$_dev" || zf_fail "losetup -d"
		zf_umount "$mnt"
		;;
	esac
}

for n in $(seq "$reps"); do
	for b in $backends; do
		run "$b" "$n"
	done
done

median() {	# median BACKEND COLUMN
	awk -v b="$1" -v c="$2" '$1 == b {print $c}' "$R" | sort -n |
		awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
}
echo
echo "| at the peak, MiB (median of $reps) | $(echo "$backends" | sed 's/ / | /g') |"
echo "|---|$(for b in $backends; do printf -- '---|'; done)"
for c in "2 wall time, s" "3 backend memory (zramfuse: daemon RSS; zram: mem_used_total)" \
	 "4 mem_used_total" "5 compr_data_size" "6 orig_data_size" "7 swap used" \
	 "8 SwapCached (RAM copies of swapped pages)" "9 read-back pages stored" \
	 "10 their compressed bytes" "11 recompressed by the second codec"; do
	col=${c%% *}
	printf '| %s |' "${c#* }"
	for b in $backends; do printf ' %s |' "$(median "$b" "$col")"; done
	echo
done
