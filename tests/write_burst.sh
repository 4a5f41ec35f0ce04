#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Regression for issue 8: no write fails for lack of memory while memory
# is plentiful.  Bursts that outrun the reserve, through the mount and
# through a loop device on it, with a CPU hog pinned to the CPU of the
# daemon's refill thread (taskset), on a machine with free memory:
#
#   seq   1 MiB sequential writes, libaio, queue depth 8, 60% compressible
#   rand  4 KiB random writes, libaio, queue depth 16, two jobs, verified
#         (crc32c) after writing
#
# Each passes $ZF_BURST_RUNS times (default 10: a one-in-ten failure
# shows) with zero I/O errors, zero failed writes in io_stat and zero
# refused allocations in reserve_stat.  The refill thread is pinned too,
# to the hog's CPU, so that it runs as rarely as it can.
. "$top_srcdir/tests/lib.sh"
zf_init
command -v fio >/dev/null || zf_fail "fio is missing: run scripts/install-deps.sh"
command -v taskset >/dev/null || zf_fail "taskset is missing (util-linux)"

runs=${ZF_BURST_RUNS:-10}
mnt=$ZF_TMP/mnt
zf_mount "$mnt" -o size=2G
zf_swap_lock	# a loop device, as the swap tests use, one test at a time
zf_loop "$mnt/swap"

# The hog, on the CPU the refill thread is pinned to.
cpu=$(($(nproc) - 1))
taskset -c "$cpu" sh -c 'while :; do :; done' &
hog=$!
ZF_WORK="$ZF_WORK $hog"
for t in /proc/"$ZF_PID"/task/*; do
	[ "$(cat "$t"/comm)" = zramfuse-refil ] && taskset -p -c "$cpu" "${t##*/}" >/dev/null
done

# failures: the sum of failed_writes (io_stat column 2) and refused
# allocations (reserve_stat column 3).
failures() {
	echo $(( $(cut -d' ' -f2 "$mnt/.zram/io_stat") +
		 $(cut -d' ' -f3 "$mnt/.zram/reserve_stat") ))
}

# burst NAME TARGET FIO-ARGS...: one fio run; fail on any error.
burst() {
	_name=$1 _target=$2
	shift 2
	_before=$(failures)
	zf_timeout 120 fio --name="$_name" --filename="$_target" --direct=1 \
		--ioengine=libaio --refill_buffers --verify_state_save=0 --output="$ZF_TMP/fio.log" "$@" ||
		{ cat "$ZF_TMP/fio.log" >&2; zf_fail "$_name on $_target: fio failed" \
			"(io_stat: $(cat "$mnt/.zram/io_stat"); reserve_stat: $(cat "$mnt/.zram/reserve_stat"))"; }
	grep -q 'err= *0' "$ZF_TMP/fio.log" ||
		{ cat "$ZF_TMP/fio.log" >&2; zf_fail "$_name on $_target: I/O errors"; }
	_after=$(failures)
	[ "$_after" = "$_before" ] ||
		zf_fail "$_name on $_target: $((_after - _before)) write failures counted" \
			"(io_stat: $(cat "$mnt/.zram/io_stat"); reserve_stat: $(cat "$mnt/.zram/reserve_stat"))"
}

i=0
while [ $i -lt "$runs" ]; do
	i=$((i + 1))
	for target in "$mnt/data" "$ZF_LOOP"; do
		burst seq "$target" --rw=write --bs=1M --iodepth=8 --size=768M \
			--buffer_compress_percentage=60
		burst rand "$target" --rw=randwrite --bs=4k --iodepth=16 --numjobs=2 \
			--size=128M --offset_increment=128M --buffer_compress_percentage=50 \
			--verify=crc32c --verify_fatal=1 --group_reporting
		# give the memory back for the next round
		fallocate --punch-hole --offset 0 --length 1G "$target" 2>/dev/null ||
			blkdiscard "$target" 2>/dev/null || :
	done
	rm -f "$mnt/data"
done
zf_log "$runs rounds of 4 bursts: failures counted $(failures);" \
	"reserve_stat: $(cat "$mnt/.zram/reserve_stat")"
