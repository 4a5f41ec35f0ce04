#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The listing in every mode (table, --raw, --json, --bytes, --noheadings,
# --output, --output-all), its figures checked against the control
# directory; stat, compact and reset.  Two mounts: one with swap on a loop
# device (zramfusectl swapon), one with two files of known contents and
# nothing attached.
. "${top_srcdir:-.}/tests/lib.sh"
: "${ZRAMFUSECTL:=${top_builddir:-.}/zramfusectl}"
export ZRAMFUSE
zf_init
[ -x "$ZRAMFUSECTL" ] || zf_fail "not built: $ZRAMFUSECTL"
[ -e /dev/loop-control ] || zf_skip "no /dev/loop-control"
command -v python3 >/dev/null || zf_skip "no python3 (to read the JSON)"
zf_swap_lock

SWAPMNT=$ZF_TMP/swapmnt
DATAMNT=$ZF_TMP/datamnt

ctl() { zf_timeout 60 "$ZRAMFUSECTL" "$@"; }

ctl_cleanup() {
	_crc=$?
	for _b in /sys/block/loop*/loop/backing_file; do
		case "$(cat "$_b" 2>/dev/null)" in
		"$SWAPMNT"/*) _l=${_b#/sys/block/}; _l=/dev/${_l%%/*}
			ZF_SWAPS="$_l $ZF_SWAPS" ZF_LOOPS="$_l $ZF_LOOPS" ;;
		esac
	done
	mountpoint -q "$SWAPMNT" && ZF_MOUNTS="$SWAPMNT $ZF_MOUNTS"
	(exit $_crc)
	zf_teardown
}
trap ctl_cleanup EXIT

ctl swapon --size 16M --priority 3 "$SWAPMNT" >/dev/null || zf_fail "swapon"
dev=$(ctl --raw --noheadings -o MOUNTPOINT,LOOP | awk -v m="$SWAPMNT" '$1 == m { print $2 }')
[ -n "$dev" ] || zf_fail "no LOOP for $SWAPMNT: $(ctl --raw)"

# The data mount: "a" holds 1 MiB of zeros (same-filled pages) and 1 MiB
# of text; "b w" (a name with a space) is 8 MiB with nothing stored.
zf_mount "$DATAMNT" -o size=4M,file=a,comp=zstd
dd if=/dev/zero of="$DATAMNT/a" bs=1M count=1 conv=notrunc status=none
yes 'the quick brown fox' | head -c 1048576 |
	dd of="$DATAMNT/a" bs=1M seek=1 conv=notrunc status=none
truncate -s 8M "$DATAMNT/b w"

# The figures the control directory gives, to check every mode against.
read -r orig compr total limit used same compacted huge _ <"$DATAMNT/.zram/mm_stat"
queued=$(cut -d' ' -f1 "$DATAMNT/.zram/reclaim_stat")
[ "$same" -ge 256 ] || zf_fail "the zero MiB is not same-filled: mm_stat $(cat "$DATAMNT/.zram/mm_stat")"
a_line=$(grep ' a$' "$DATAMNT/.zram/files")
b_line=$(grep ' b w$' "$DATAMNT/.zram/files")
set -- $a_line; a_size=$1 a_data=$(($2 * 4096)) a_compr=$3
set -- $b_line; b_size=$1 b_data=$(($2 * 4096)) b_compr=$3
[ "$a_size" = 4194304 ] && [ "$a_data" = 2097152 ] && [ "$b_size" = 8388608 ] &&
	[ "$b_data" = 0 ] || zf_fail "unexpected .zram/files: $(cat "$DATAMNT/.zram/files")"

# --- --raw --bytes, every column ----------------------------------------
all=MOUNTPOINT,FILE,DISKSIZE,DATA,COMPR,ALGORITHM,TRANSPORT,TOTAL,MEM-LIMIT,MEM-USED,SAME-PAGES,HUGE-PAGES,MIGRATED,QUEUED,QUEUED-DATA,LOOP,SWAP,PRIO,SWAP-USED
hdr=$(ctl --raw --output-all | head -1)
[ "$hdr" = "$(echo $all | tr , ' ')" ] || zf_fail "--output-all header: $hdr"
raw=$(ctl --raw --bytes --noheadings -o FILE,DISKSIZE,DATA,COMPR,ALGORITHM,TRANSPORT,TOTAL,MEM-LIMIT,MEM-USED,SAME-PAGES,HUGE-PAGES,MIGRATED,QUEUED,MOUNTPOINT |
	awk -v m="$DATAMNT" '$NF == m')
echo "$raw"
# libsmartcols' raw mode writes a space in a value as \x20
# the data mount is tests/lib.sh's: the transport it names ($ZF_TRANSPORT)
dtrans=$ZF_TRANSPORT
want="a $a_size $a_data $a_compr zstd $dtrans $total $limit $used $same $huge $compacted $queued $DATAMNT
b\\x20w $b_size $b_data $b_compr zstd $dtrans $total $limit $used $same $huge $compacted $queued $DATAMNT"
[ "$raw" = "$want" ] || zf_fail "--raw --bytes:
$raw
wanted:
$want"
# (no loop device, no priority: empty cells)
[ "$(ctl --raw --noheadings -o LOOP,SWAP,PRIO,MOUNTPOINT | awk -v m="$DATAMNT" '$NF == m' |
	tr '\n' '|')" = " 0  $DATAMNT| 0  $DATAMNT|" ] ||
	zf_fail "the data mount's files show a loop or swap: $(ctl --raw -o LOOP,SWAP,PRIO,MOUNTPOINT)"
swapline=$(ctl --raw --noheadings --bytes -o FILE,DISKSIZE,LOOP,SWAP,PRIO,TRANSPORT,MOUNTPOINT |
	awk -v m="$SWAPMNT" '$NF == m')
# zramfusectl's daemon runs transport=auto: FUSE over io_uring wherever
# the kernel has it (it turns fuse's switch on itself); the data mount is
# tests/lib.sh's ($ZF_TRANSPORT)
strans=$(cut -d' ' -f1 "$SWAPMNT/.zram/transport")
[ -e "$ZF_URING_SWITCH" ] && [ "$strans" != uring ] &&
	zf_fail "zramfusectl swapon serves $(cat "$SWAPMNT/.zram/transport"), not uring"
[ "$swapline" = "swap 16777216 $dev 1 3 $strans $SWAPMNT" ] || zf_fail "swap row: $swapline"

# --- the table: human sizes, aligned, with its header -------------------
table=$(ctl)
echo "$table"
echo "$table" | head -1 | grep -q '^MOUNTPOINT  *FILE  *DISKSIZE  *DATA  *COMPR  *ALGORITHM  *TRANSPORT  *TOTAL  *MEM-LIMIT  *SAME-PAGES  *QUEUED  *LOOP  *SWAP$' ||
	zf_fail "default columns: $(echo "$table" | head -1)"
echo "$table" | grep -q "^$DATAMNT  *a  *4M  *2M " || zf_fail "table row of a"
echo "$table" | grep -q "^$DATAMNT  *b w  *8M  *0B " || zf_fail "table row of b w"
echo "$table" | grep -q "^$SWAPMNT  *swap  *16M .* $dev  *1$" || zf_fail "table row of swap"
# FILE is left-aligned under its header, DISKSIZE right-aligned
echo "$table" | awk -v m="$DATAMNT" '
	NR == 1 { f = index($0, "FILE"); d = index($0, "DISKSIZE") + 7 }
	$1 == m && substr($0, f, 1) != substr($2, 1, 1) { bad = 1 }
	$1 == m && substr($0, d, 1) != "M" { bad = 1 }
	END { exit bad }' || zf_fail "columns not aligned"
[ "$(ctl --noheadings | grep -c MOUNTPOINT)" = 0 ] || zf_fail "--noheadings printed a header"

# --- JSON: sizes are strings, or numbers with --bytes; counts numbers;
# SWAP a boolean; what is not there null -------------------------------
for mode in human bytes; do
	if [ $mode = bytes ]; then j=$(ctl --json --bytes --output-all); else j=$(ctl --json --output-all); fi
	[ $mode = human ] && echo "$j" | head -30
	echo "$j" | DTRANS=$dtrans python3 -c '
import json, os, sys
mode, mnt, smnt, dev, strans = sys.argv[1:6]
want = dict(zip(["a_size", "a_data", "a_compr", "b_size", "total", "limit",
                 "used", "same", "huge", "compacted", "queued"],
                map(int, sys.argv[6:])))
rows = json.load(sys.stdin)["filesystems"]
def size(v, n):
    if mode == "bytes":
        assert v == n and type(v) is int, (v, n)
    else:
        assert isinstance(v, str), v
a = [r for r in rows if r["mountpoint"] == mnt and r["file"] == "a"][0]
b = [r for r in rows if r["mountpoint"] == mnt and r["file"] == "b w"][0]
s = [r for r in rows if r["mountpoint"] == smnt][0]
size(a["disksize"], want["a_size"]); size(a["data"], want["a_data"])
size(a["compr"], want["a_compr"]); size(b["disksize"], want["b_size"])
size(a["total"], want["total"]); size(a["mem-limit"], want["limit"])
size(a["mem-used"], want["used"])
for k, w in (("same-pages", "same"), ("huge-pages", "huge"),
             ("migrated", "compacted"), ("queued", "queued")):
    assert a[k] == want[w] and type(a[k]) is int, (k, a[k], want[w])
assert a["algorithm"] == "zstd" and a["transport"] == os.environ["DTRANS"], a
assert s["transport"] == strans, s
if mode == "human":
    assert a["disksize"] == "4M" and a["data"] == "2M" and b["data"] == "0B", a
assert a["swap"] is False and a["loop"] is None and a["prio"] is None, a
assert s["swap"] is True and s["loop"] == dev and s["prio"] == 3, s
' $mode "$DATAMNT" "$SWAPMNT" "$dev" "$strans" "$a_size" "$a_data" "$a_compr" "$b_size" \
		"$total" "$limit" "$used" "$same" "$huge" "$compacted" "$queued" ||
		zf_fail "--json ($mode) does not match the control directory"
done

# --- bad columns ----------------------------------------------------------
if out=$(ctl -o FILE,NOPE 2>&1); then zf_fail "an unknown column accepted"; fi
case "$out" in *"unknown column: NOPE"*) ;; *) zf_fail "unknown column: $out" ;; esac
if out=$(ctl swapon --json 2>&1); then zf_fail "--json with swapon accepted"; fi

# --- stat, compact, reset -------------------------------------------------
st=$(ctl stat "$DATAMNT") || zf_fail "stat"
[ "$(echo "$st" | awk '$1 == "orig_data_size" { print $2 }')" = "$orig" ] &&
	[ "$(echo "$st" | awk '$1 == "compr_data_size" { print $2 }')" = "$compr" ] &&
	[ "$(echo "$st" | awk '$1 == "same_pages" { print $2 }')" = "$same" ] &&
	[ "$(echo "$st" | awk '$1 == "comp_algorithm" { print $2 }')" = zstd ] ||
	zf_fail "stat does not match mm_stat $(cat "$DATAMNT/.zram/mm_stat"): $st"
for k in failed_reads notify_free queued_pages freed_pages reserve_pages reserve_grown; do
	echo "$st" | grep -q "^$k [0-9][0-9]*$" || zf_fail "stat lacks $k"
done
ctl compact "$DATAMNT" || zf_fail "compact"
if out=$(ctl reset "$SWAPMNT" 2>&1); then zf_fail "reset of a mount with a loop device attached"; fi
case "$out" in *"attached to $dev"*) ;; *) zf_fail "reset refused with: $out" ;; esac
grep -q "^$dev " /proc/swaps || zf_fail "a refused reset touched the swap"
ctl reset "$DATAMNT" || zf_fail "reset"
zf_wait 100 eval '[ "$(cut -d" " -f1 "$DATAMNT/.zram/mm_stat")" = 0 ]' ||
	zf_fail "after reset: mm_stat $(cat "$DATAMNT/.zram/mm_stat")"
[ "$(stat -c %s "$DATAMNT/a")" = 4194304 ] || zf_fail "reset changed a's size"
[ "$(ctl --raw --noheadings --bytes -o DATA,MOUNTPOINT | awk -v m="$DATAMNT" '$2 == m { s += $1 } END { print s }')" = 0 ] ||
	zf_fail "after reset the listing shows data"
if ctl stat "$ZF_TMP" 2>/dev/null; then zf_fail "stat of a directory that is not a mount"; fi

ctl swapoff "$SWAPMNT" >/dev/null || zf_fail "swapoff"
zf_umount "$DATAMNT"
exit 0
