#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fresh Debian 12, as root: install, build, and run zramfuse's main job:
# mount, attach the file to a loop device, swap on it, push a workload in
# a 64 MiB memory cgroup through it, print the statistics, tear down.
#
#   scripts/demo.sh [--keep] [--size MIB] [--comp lz4|zstd]
#
# --keep leaves the mount, loop device and swap in place afterwards.
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

scripts/install-deps.sh
scripts/build.sh >/dev/null

top_srcdir=$PWD top_builddir=$PWD ZRAMFUSE=$PWD/zramfuse
. tests/lib.sh
zf_init
mnt=/run/zramfuse-demo

echo "== mount: zramfuse -o size=2G,comp=$comp $mnt"
zf_mount "$mnt" -o "size=2G,comp=$comp"
zf_loop "$mnt/swap"
echo "== losetup --direct-io=on --sector-size 4096: $ZF_LOOP"
zf_swapon "$ZF_LOOP"
echo "== swapon --discard $ZF_LOOP"
cat /proc/swaps

zf_cgroup demo $((64 * 1024 * 1024))
echo "== workload: $size MiB of mixed pages in a 64 MiB memory cgroup"
out0=$(zf_vmstat pswpout) in0=$(zf_vmstat pswpin)
sh -c 'echo $$ >"$1"/cgroup.procs; exec tests/swapload -s "$2" -p 2' \
	sh "$ZF_CG" "$size" &
load=$!
peak=0
while kill -0 $load 2>/dev/null; do
	cur=$(awk '{print $1}' "$mnt/.zram/mm_stat")
	[ "$cur" -gt "$peak" ] && peak=$cur && cp "$mnt/.zram/mm_stat" "$ZF_TMP/peak"
	sleep 1
done
wait $load
echo "== pages swapped out: $(( $(zf_vmstat pswpout) - out0 )), in: $(( $(zf_vmstat pswpin) - in0 ))"
echo "== mm_stat at the peak (zram's columns):"
echo "orig_data_size compr_data_size mem_used_total mem_limit mem_used_max same_pages pages_compacted huge_pages huge_pages_since"
cat "$ZF_TMP/peak"
for f in "$mnt"/.zram/*; do
	[ -r "$f" ] && [ -f "$f" ] && [ "${f##*/}" != compact ] || continue
	printf '%-16s %s\n' "${f##*/}:" "$(tr '\n' ' ' <"$f")"
done

if [ $keep = yes ]; then
	rmdir "$ZF_CG"
	trap - EXIT
	echo "== kept: swap on $ZF_LOOP, $mnt mounted (daemon PID $ZF_PID)."
	echo "   tear down: swapoff $ZF_LOOP; losetup -d $ZF_LOOP; umount $mnt"
fi
