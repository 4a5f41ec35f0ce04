#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fresh Debian 12, as root: install, build, and run zramfuse's main job as
# a user runs it, through zramfusectl from the build tree: swapon (mount,
# loop device, mkswap, swapon), a workload in a 64 MiB memory cgroup
# pushed through it, the listing and the statistics, swapoff.
#
#   scripts/demo.sh [--keep] [--size MIB] [--comp lz4|zstd]
#
# --size is the workload's working set (default 512 MiB), --comp the
# codec; --keep leaves the swap in place afterwards.  The memory cgroup
# is cgroup v1's, at /sys/fs/cgroup/memory; it is removed whatever
# happens, and so is the swap unless --keep.
set -eu
cd "$(dirname "$0")/.."
keep=no size=512 comp=lz4
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=yes ;;
	--size) size=$2; shift ;;
	--comp) comp=$2; shift ;;
	*) echo "usage: $0 [--keep] [--size MIB] [--comp lz4|zstd]" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "$0: run it as root" >&2; exit 1; }
[ -d /sys/fs/cgroup/memory ] ||
	{ echo "$0: no cgroup v1 memory controller at /sys/fs/cgroup/memory" >&2; exit 1; }

scripts/install-deps.sh
scripts/build.sh >/dev/null

mnt=/run/zramfuse-demo
cg=/sys/fs/cgroup/memory/zramfuse-demo-$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zramfuse-demo.XXXXXX")
load=
up=no
cleanup() {
	rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$load" ] && kill -0 "$load" 2>/dev/null; then
		kill "$load" 2>/dev/null
		wait "$load" 2>/dev/null || :
	fi
	# the cgroup goes once its last process has
	i=0
	while [ -d "$cg" ] && ! rmdir "$cg" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ $up = yes ] && [ $keep = no ]; then
		echo "== ./zramfusectl swapoff $mnt"
		./zramfusectl swapoff "$mnt" || rc=1
		rmdir "$mnt" 2>/dev/null || :
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# zramfusectl runs the zramfuse beside it: this build's
echo "== ./zramfusectl swapon --size 2G --algorithm $comp $mnt"
up=yes
./zramfusectl swapon --size 2G --algorithm "$comp" "$mnt"
cat /proc/swaps

vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
echo "== workload: tests/swapload -s $size -p 2 ($size MiB of mixed pages, verified) in a 64 MiB memory cgroup"
mkdir "$cg"
echo $((64 * 1024 * 1024)) >"$cg/memory.limit_in_bytes"
out0=$(vmstat pswpout) in0=$(vmstat pswpin)
start=$(date +%s)
sh -c 'echo $$ >"$1/cgroup.procs" && exec tests/swapload -s "$2" -p 2' \
	sh "$cg" "$size" &
load=$!
# the listing and mm_stat at the peak of the data stored
peak=0
while kill -0 "$load" 2>/dev/null; do
	cur=$(cut -d' ' -f1 "$mnt/.zram/mm_stat")
	if [ "$cur" -gt "$peak" ]; then
		peak=$cur
		cp "$mnt/.zram/mm_stat" "$tmp/mm_stat"
		./zramfusectl >"$tmp/listing"
	fi
	sleep 1
done
wait "$load"
load=
echo "== $(($(date +%s) - start)) s; pages swapped out: $(($(vmstat pswpout) - out0)), in: $(($(vmstat pswpin) - in0))"

echo "== ./zramfusectl, at the peak"
cat "$tmp/listing"
echo "== $mnt/.zram/mm_stat at the peak (zram's columns)"
echo "orig_data_size compr_data_size mem_used_total mem_limit mem_used_max same_pages pages_compacted huge_pages huge_pages_since"
cat "$tmp/mm_stat"
echo "== ./zramfusectl, now (the workload's pages were freed: discarded)"
./zramfusectl
echo "== $mnt/.zram/, now"
for f in "$mnt"/.zram/*; do
	[ -f "$f" ] || continue
	name=${f##*/}
	case $(stat -c %A "$f") in
	?r* | ????r* | ???????r*) ;;
	*) printf '%-24s (write-only)\n' "$name:"; continue ;;
	esac
	text=$(cat "$f")
	lines=$(printf '%s\n' "$text" | wc -l)
	if [ "$lines" -le 1 ]; then
		printf '%-24s %s\n' "$name:" "$text"
	else
		printf '%-24s %s lines, the first: %s\n' "$name:" "$lines" \
			"$(printf '%s\n' "$text" | head -n 1)"
	fi
done

if [ $keep = yes ]; then
	echo "== kept: swap on $mnt (./zramfusectl lists it)."
	echo "   tear down: ./zramfusectl swapoff $mnt"
fi
