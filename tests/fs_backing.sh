#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_backing: what a backing file may be, through the mount option and
# .zram/backing_dev - each case the issue lists, with its errno and its
# message: a relative path, a symlink, a character device (refused and
# not opened), a directory, the mount's own file and a file on another
# FUSE mount (EDEADLK), a loop device over the mount's own file
# (EDEADLK), an empty file (extended, sparse, to the disksize, at mount
# and by the control file), the same regular file for a second mount
# (refused, the message naming the first daemon's pid) and the same
# block device for a second mount (refused: opened exclusively); the
# current file named again changes nothing, and one a second mount holds
# is refused there with EBUSY.  Last, a mount whose backing file was
# given is unmounted cleanly.
set -u
. "$top_srcdir/tests/lib.sh"
zf_init
. "$top_srcdir/tests/pp_lib.sh"
command -v losetup >/dev/null || zf_skip "no losetup"
# Backing files need direct I/O: not tmpfs on every kernel, so they live
# on the disk of the build tree.
B=$(cd "$top_builddir" && pwd)/fs_backing.$$
ZF_ATEXIT="rm -rf '$B'"
mkdir -p "$B" || zf_fail "mkdir $B"
M2=$T/m2
Z2=$M2/.zram

# zf_mount_fails NAME OPTIONS MESSAGE: the daemon refuses to mount, saying
# MESSAGE (an extended regular expression) in one line.  Not -f: a daemon
# that mounted after all detaches and is unmounted by the trap.
zf_mount_fails() {
	mkdir -p "$T/$1"
	if zf_timeout 60 "$ZRAMFUSE" $ZF_TOPT -o "$2" "$T/$1" >"$T/$1.log" 2>&1; then
		ZF_MOUNTS="$T/$1 $ZF_MOUNTS"
		zf_fail "mounted with $2"
	fi
	grep -Eq "$3" "$T/$1.log" ||
		zf_fail "message for $2: '$(cat "$T/$1.log")', want /$3/"
	mountpoint -q "$T/$1" && zf_fail "$T/$1 left mounted"
	return 0
}

truncate -s 64M "$B/file" || zf_fail "truncate"
ln -s "$B/file" "$B/link"
: >"$B/empty"
: >"$B/empty2"

# --- at mount -----------------------------------------------------------
zf_mount_fails m-link "size=16M,backing_dev=$B/link" \
	"backing_dev=$B/link: a symbolic link"
zf_mount_fails m-null "size=16M,backing_dev=/dev/null" \
	"backing_dev=/dev/null: not a regular file or a block device"
zf_mount_fails m-dir "size=16M,backing_dev=$B" "backing_dev=$B: a directory"
zf_mount_fails m-rel "size=16M,backing_dev=file" "not an absolute path"
zf_mount "$MNT" -o size=16M,backing_dev="$B/empty"
PID1=$ZF_PID
expect "an empty file extended to size= at mount" "$(stat -c %s "$B/empty")" 16777216
expect "sparse" "$(stat -c %b "$B/empty")" 0
expect "backing_dev" "$(cat "$Z/backing_dev")" "$B/empty"

# --- a second mount: the same file, a file on the first mount ----------
zf_mount_fails m-twice "size=16M,backing_dev=$B/empty" \
	"backing_dev=$B/empty: in use: process $PID1 \\(zramfuse\\) holds a lock on it"
zf_mount_fails m-fuse "size=16M,backing_dev=$MNT/swap" \
	"backing_dev=$MNT/swap: on a FUSE filesystem"

# --- the control file ----------------------------------------------------
accept backing_dev "$B/empty"		# the current one again: no change
expect "the same file again" "$(cat "$Z/backing_dev")" "$B/empty"
refuse backing_dev file EINVAL
refuse backing_dev "$B/link" ELOOP
refuse backing_dev /dev/null ENOTBLK
refuse backing_dev "$B" EISDIR
refuse backing_dev "$B/none" ENOENT
refuse backing_dev "$MNT/swap" EDEADLOCK	# its own file (EDEADLK, by python's name)
expect "backing_dev after refusals" "$(cat "$Z/backing_dev")" "$B/empty"
# a loop device over its own file
zf_loop "$MNT/swap"
refuse backing_dev "$ZF_LOOP" EDEADLOCK
losetup -d "$ZF_LOOP" || zf_fail "losetup -d $ZF_LOOP"
# the control file extends an empty file to the size of the mount's file
accept backing_dev "$B/empty2"
expect "an empty file extended by the control file" "$(stat -c %s "$B/empty2")" 16777216
[ -e "$B/empty" ] && expect "the old file let go" "$(stat -c %s "$B/empty")" 16777216

# a second mount: the first one's file is refused there with EBUSY
zf_mount "$M2" -o size=4M
PID2=$ZF_PID
refuse() {	# as pp_lib's, on the second mount
	expect "'$2' > $1 (second mount)" "$($H ctl "$Z2/$1" "$2")" "$3"
}
refuse backing_dev "$B/empty2" EBUSY
refuse backing_dev "$B/file" OK
expect "second mount's backing_dev" "$(cat "$Z2/backing_dev")" "$B/file"
refuse backing_dev "$MNT/swap" EDEADLOCK	# the other mount's file

# --- a block device: opened exclusively --------------------------------
truncate -s 32M "$B/disk"
ZF_LOOPDISK=$(losetup -f --show "$B/disk") || zf_fail "losetup $B/disk"
ZF_LOOPS="$ZF_LOOPDISK $ZF_LOOPS"
expect "a block device" "$($H ctl "$Z/backing_dev" "$ZF_LOOPDISK")" OK
refuse backing_dev "$ZF_LOOPDISK" EBUSY	# on the second mount
dd if=/dev/urandom of="$MNT/swap" bs=64k count=64 oflag=direct conv=notrunc status=none
dd if="$MNT/swap" of="$T/before" bs=64k count=64 iflag=direct status=none
expect "writeback to the block device" "$($H ctl "$Z/writeback" huge)" OK
[ "$(cut -d' ' -f1 "$Z/bd_stat")" -gt 0 ] || zf_fail "nothing written to $ZF_LOOPDISK"
dd if="$MNT/swap" of="$T/after" bs=64k count=64 iflag=direct status=none
cmp -s "$T/before" "$T/after" || zf_fail "pages read back from the block device differ"

zf_umount "$M2"
ZF_PID=$PID1
zf_umount "$MNT"
# once the daemon is gone, the file is free again
zf_mount "$MNT" -o size=4M,backing_dev="$B/empty2"
expect "the file is free once its daemon is gone" "$(cat "$Z/backing_dev")" "$B/empty2"
zf_umount "$MNT"
exit 0
