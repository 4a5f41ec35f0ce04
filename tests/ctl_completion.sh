#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# zramfusectl's bash completion (completion/zramfusectl), sourced in bash
# and called as bash calls it: the verbs, each verb's options, --output's
# columns after a comma (from this build's --help), --algorithm, the mount
# points of swapoff from a mounts file of the test's own (one with a space
# in its path, one that is not zramfuse's), the sections of a --config for
# setup, and the mounts set up for teardown.  No root, nothing mounted.
: "${top_srcdir:=.}" "${top_builddir:=.}"
: "${ZRAMFUSECTL:=$top_builddir/zramfusectl}"
log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
command -v bash >/dev/null || { log "SKIP: no bash"; exit 77; }
[ -x "$ZRAMFUSECTL" ] || { log "FAIL: not built: $ZRAMFUSECTL"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zramfuse-compl.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/mounts" <<'EOF'
/dev/vda / ext4 rw,relatime 0 0
zramfuse /run/zramfuse fuse.zramfuse rw,nosuid,nodev,relatime,user_id=0,group_id=0 0 0
zramfuse /run/zramfuse-zram7 fuse.zramfuse rw,relatime,user_id=0,group_id=0 0 0
zramfuse /tmp/a\040b fuse.zramfuse rw,relatime,user_id=0,group_id=0 0 0
tmpfs /run/zramfuse-notours tmpfs rw 0 0
EOF
cat >"$tmp/conf" <<'EOF'
[zram0]
zram-size = 64
[swapbig]
zram-size = ram / 4
EOF
mkdir "$tmp/dir1" "$tmp/dir2"
# $1 the words typed, the last the one completed ('' for a new word);
# the candidates, sorted, one a line, are compared with $2 (lines).
cat >"$tmp/run.bash" <<'EOF'
. "$1"
_zramfusectl_proc_mounts=$2
shift 2
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_zramfusectl zramfusectl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}" | sort
EOF
n=0
check() {
	_want=$1
	shift
	_got=$(bash "$tmp/run.bash" "$top_srcdir/completion/zramfusectl" "$tmp/mounts" \
		"$ZRAMFUSECTL" "$@" 2>&1)
	if [ "$_got" != "$_want" ]; then
		log "FAIL: zramfusectl $* <TAB>:"
		log "  got:  $(printf '%s' "$_got" | tr '\n' ' ')"
		log "  want: $(printf '%s' "$_want" | tr '\n' ' ')"
		exit 1
	fi
	n=$((n + 1))
}
nl='
'
check "$(printf '%s\n' compact config reset setup stat swapoff swapon teardown)" ''
check "swapoff${nl}swapon" sw
check "$(printf '%s\n' --algorithm --mem-limit --priority --size --writeback-device)" swapon --
check "$(printf '%s\n' --bytes --help --json --noheadings --output --output-all --raw --version)" --
check --config setup --
check --config config --c
check '' swapoff --
check "lz4${nl}zstd" swapon --algorithm ''
check zstd swapon -a z
check zstd swapon --algorithm = z
check '' swapon --size ''
# the columns, as this build's --help lists them
cols=$("$ZRAMFUSECTL" --help | sed -n '/^Columns:/,/^$/s/^ *\([A-Z][A-Z-]*\)  .*/\1/p' | sort)
[ "$(printf '%s\n' "$cols" | wc -l)" -ge 18 ] || { log "FAIL: --help lists $(printf '%s\n' "$cols" | wc -l) columns"; exit 1; }
check "$cols" -o ''
check "MOUNTPOINT,SWAP${nl}MOUNTPOINT,SWAP-USED" --output MOUNTPOINT,SW
check "MOUNTPOINT,SWAP${nl}MOUNTPOINT,SWAP-USED" --output = MOUNTPOINT,SW
# mount points: zramfuse's only, \040 read as a space
check "/run/zramfuse${nl}/run/zramfuse-zram7${nl}/tmp/a b" swapoff ''
check "/run/zramfuse-zram7" stat /run/zramfuse-
check '' swapoff /run/zramfuse ''
check "$tmp/dir1${nl}$tmp/dir2" swapon --size 1G "$tmp/dir"
# sections: of the --config given (before or after the verb)
check "swapbig${nl}zram0" setup --config "$tmp/conf" ''
check "swapbig${nl}zram0" --config "$tmp/conf" setup ''
check "zram0" setup --config "$tmp/conf" zr
check "$tmp/conf" setup --config "$tmp/co"
# teardown: the mounts set up as sections (and what /etc says, not ours to know)
got=$(bash "$tmp/run.bash" "$top_srcdir/completion/zramfusectl" "$tmp/mounts" \
	"$ZRAMFUSECTL" teardown '')
case "$nl$got$nl" in
*"${nl}zram7$nl"*) n=$((n + 1)) ;;
*) log "FAIL: teardown <TAB> lacks zram7 (mounted at /run/zramfuse-zram7): $got"; exit 1 ;;
esac
case "$nl$got$nl" in
*"${nl}notours$nl"*) log "FAIL: teardown <TAB> offers a tmpfs mount: $got"; exit 1 ;;
esac
log "$n completions as expected"
exit 0
