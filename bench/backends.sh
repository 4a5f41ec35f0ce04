# SPDX-License-Identifier: GPL-2.0-or-later
# The block devices the transport and latency benchmarks compare, set up
# and taken down one at a time (bench/transport.sh, bench/latency.sh).
# Source it after tests/lib.sh's zf_init and zf_swap_lock; it uses
# ZF_TMP, and BK_COMP (lz4) and BK_SIZE (1G).
#
#   bk_up BACKEND / bk_down BACKEND: set up, or take down, one of
#     tmpfs     a direct-I/O loop device on a tmpfs file, the tmpfs
#               mounted noswap (its pages must never go to the swap
#               device they back): the ceiling of any loop backend
#     zram      kernel zram, /dev/zram0
#     classic, uring, auto[+OPTS]
#               zramfuse -o size=,comp=,transport=KIND[,OPTS] on a loop
#               device as README's Usage makes it; uring turns fuse's
#               enable_uring switch on for its mount and puts it back
#   bk_up sets DEV (the block device) and DPID (the daemon, or 0).
: "${BK_COMP:=lz4}" "${BK_SIZE:=1G}"
BK_MNT=$ZF_TMP/mnt
BK_TMPFS=$ZF_TMP/tmpfs
ZF_ATEXIT="${ZF_ATEXIT:+$ZF_ATEXIT; }echo 1 >/sys/block/zram0/reset 2>/dev/null; umount '$BK_TMPFS' 2>/dev/null; true"
modprobe zram 2>/dev/null || true

bk_up() {
	DPID=0
	case $1 in
	tmpfs)
		mkdir -p "$BK_TMPFS"
		mount -t tmpfs -o size=$((${BK_SIZE%G} * 1024 + 176))M,noswap tmpfs "$BK_TMPFS" ||
			zf_fail "mount tmpfs (noswap: Linux 6.4 or later)"
		truncate -s "$BK_SIZE" "$BK_TMPFS/f"
		zf_loop "$BK_TMPFS/f"
		DEV=$ZF_LOOP ;;
	zram)
		echo 1 >/sys/block/zram0/reset
		echo "$BK_COMP" >/sys/block/zram0/comp_algorithm
		echo "$BK_SIZE" >/sys/block/zram0/disksize
		DEV=/dev/zram0 ;;
	classic* | uring* | auto*)
		_bk=${1%%+*} _bx=
		# (OPTS separated by ':' where a ',' would split a list)
		case $1 in *+*) _bx=,$(echo "${1#*+}" | tr : ,) ;; esac
		_bsw=
		if [ "$_bk" = uring ] && [ -e "$ZF_URING_SWITCH" ]; then
			_bsw=$(cat "$ZF_URING_SWITCH")
			echo Y >"$ZF_URING_SWITCH"
		fi
		ZF_TOPT=-otransport=$_bk
		zf_mount "$BK_MNT" -o "size=$BK_SIZE,comp=$BK_COMP$_bx"
		[ -z "$_bsw" ] || echo "$_bsw" >"$ZF_URING_SWITCH"
		DPID=$ZF_PID
		zf_loop "$BK_MNT/swap"
		DEV=$ZF_LOOP ;;
	*) zf_fail "no backend $1" ;;
	esac
}

bk_down() {
	if grep -q "^$DEV " /proc/swaps; then
		zf_unhang swapoff "$DEV" || zf_fail "swapoff $DEV"
	fi
	ZF_SWAPS=
	case $1 in
	zram) echo 1 >/sys/block/zram0/reset ;;
	*)
		zf_unhang losetup -d "$DEV" || zf_fail "losetup -d $DEV"
		ZF_LOOPS=
		if [ "$1" = tmpfs ]; then
			umount "$BK_TMPFS" || zf_fail "umount $BK_TMPFS"
		else
			zf_umount "$BK_MNT"
			ZF_MOUNTS= ZF_PIDS=
		fi ;;
	esac
}
