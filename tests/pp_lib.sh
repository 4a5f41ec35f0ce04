# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers of the post-processing tests (fs_writeback, fs_recompress,
# fs_policy, fs_dict): source after tests/lib.sh and zf_init.  Sets MNT
# (the mount point the test uses), Z (its .zram directory) and T (scratch).
command -v python3 >/dev/null || zf_skip "no python3"
MNT=$ZF_TMP/mnt
Z=$MNT/.zram
T=$ZF_TMP
H="python3 $top_srcdir/tests/fs_helper.py"

# skip unless the daemon was built with zstd
pp_need_zstd() {
	"$ZRAMFUSE" --version 2>&1 | grep -q zstd || zf_skip "built without zstd"
}

expect() {	# expect WHAT GOT WANT
	[ "$2" = "$3" ] || zf_fail "$1: got '$2', want '$3'"
}
# one write(2) of $2 to control file $1: prints OK or the errno's name
ctl() { $H ctl "$Z/$1" "$2"; }
refuse() {	# refuse FILE VALUE ERRNO
	expect "'$2' > $1" "$(ctl "$1" "$2")" "$3"
}
accept() { refuse "$1" "$2" OK; }
mm() { cut -d' ' -f"$1" "$Z/mm_stat"; }
bd() { cut -d' ' -f"$1" "$Z/bd_stat"; }
# pages of block_state whose flags match the awk regex $1
flagged() { awk -v re="$1" '$3 ~ re' "$Z/block_state" | wc -l; }
