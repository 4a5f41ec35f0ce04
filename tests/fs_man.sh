#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# fs_man: the man page is lint-clean and documents exactly the options
# --help lists: every option of --help is in its OPTIONS section and every
# option there is in --help.
set -u
: "${top_srcdir:=.}"
: "${ZRAMFUSE:=./zramfuse}"
MAN=$top_srcdir/man/zramfuse.8
command -v mandoc >/dev/null || { echo "SKIP: no mandoc" >&2; exit 77; }
[ -x "$ZRAMFUSE" ] || { echo "FAIL: no $ZRAMFUSE" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mandoc -Tlint -Wwarning "$MAN" >"$tmp/lint" 2>&1 || {
	cat "$tmp/lint" >&2
	echo "FAIL: mandoc -Tlint -Wwarning $MAN" >&2
	exit 1
}

# From lines that start with an option ("-o size=SIZE   text",
# "-h, --help   text"), print each option's name: the word after -o up to
# '=', or the switch itself.
names() {
	sed -n 's/^ *\(-[^ ].*\)$/\1/p' |
	sed 's/   .*//; s/\t.*//' |
	tr ',' '\n' |
	sed 's/^ *//; s/^-o \([a-z_]*\).*/\1/; s/ .*//' |
	grep . | sort -u
}
"$ZRAMFUSE" --help | names >"$tmp/help"
mandoc -Tutf8 "$MAN" | col -b |
	sed -n '/^OPTIONS/,/^[A-Z]/p' | grep -E '^     -' | names >"$tmp/man"
[ -s "$tmp/help" ] && [ -s "$tmp/man" ] || {
	echo "FAIL: no options found (help: $(wc -l <"$tmp/help"), man: $(wc -l <"$tmp/man"))" >&2
	exit 1
}
if ! diff -u "$tmp/help" "$tmp/man" >"$tmp/diff"; then
	cat "$tmp/diff" >&2
	echo "FAIL: --help (-) and the man page (+) list different options" >&2
	exit 1
fi
echo "help and man page agree on $(wc -l <"$tmp/help") options: $(tr '\n' ' ' <"$tmp/help")"
exit 0
