// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pp_test: zram's post-processing syntax (src/pp.c) - the numbers
 * kstrtoull() takes, idle's forms, and writeback's word list with the
 * errno of each bad value.
 */
#include "config.h"

#include <errno.h>

#include "pp.h"
#include "tap.h"

static int wb(const char *s, struct pp_scan *sc, size_t *n)
{
	return pp_parse_writeback(s, 1000, sc, 8, n);
}

int main(void)
{
	struct pp_scan sc[8];
	uint64_t v;
	size_t n;

	tap_ok(pp_parse_u64("42", 10, &v) == 0 && v == 42, "decimal");
	tap_ok(pp_parse_u64("42\n", 10, &v) == 0 && v == 42, "one trailing newline");
	tap_ok(pp_parse_u64("42\n\n", 10, &v) == -EINVAL, "two newlines refused");
	tap_ok(pp_parse_u64("0x1f", 0, &v) == 0 && v == 31, "base 0: hex");
	tap_ok(pp_parse_u64("017", 0, &v) == 0 && v == 15, "base 0: octal");
	tap_ok(pp_parse_u64("+7", 10, &v) == 0 && v == 7, "leading +");
	tap_ok(pp_parse_u64("-1", 10, &v) == -EINVAL, "negative refused");
	tap_ok(pp_parse_u64("18446744073709551616", 10, &v) == -ERANGE, "overflow: ERANGE");
	tap_ok(pp_parse_u64("0x10", 10, &v) == -EINVAL, "base 10 takes no 0x");
	{
		bool b = false;

		tap_ok(pp_parse_bool("1", &b) == 0 && b && pp_parse_bool("yes", &b) == 0 && b &&
		       pp_parse_bool("on", &b) == 0 && b && pp_parse_bool("Enable", &b) == 0 && b,
		       "kstrtobool: 1, yes, on, Enable are true");
		tap_ok(pp_parse_bool("0", &b) == 0 && !b && pp_parse_bool("no", &b) == 0 && !b &&
		       pp_parse_bool("off", &b) == 0 && !b && pp_parse_bool("f", &b) == 0 && !b,
		       "kstrtobool: 0, no, off, f are false");
		tap_ok(pp_parse_bool("2", &b) == -EINVAL && pp_parse_bool("o", &b) == -EINVAL &&
		       pp_parse_bool("", &b) == -EINVAL, "kstrtobool: 2, o, empty refused");
	}
	tap_ok(pp_parse_idle("all", &v) == 0 && v == PP_IDLE_ALL, "idle all");
	tap_ok(pp_parse_idle("all\n", &v) == 0 && v == PP_IDLE_ALL, "idle all\\n");
	tap_ok(pp_parse_idle("30", &v) == 0 && v == 30, "idle 30");
	tap_ok(pp_parse_idle("alll", &v) == -EINVAL, "idle alll refused");
	tap_ok(wb("idle", sc, &n) == 0 && n == 1 && sc[0].mode == PP_IDLE &&
	       sc[0].all_files && sc[0].lo == 0 && sc[0].hi == 1000, "idle: all pages");
	tap_ok(wb("huge_idle", sc, &n) == 0 && n == 1 &&
	       sc[0].mode == (PP_IDLE | PP_HUGE), "huge_idle");
	tap_ok(wb("type=incompressible", sc, &n) == 0 && n == 1 &&
	       sc[0].mode == PP_INCOMPRESSIBLE, "type=incompressible");
	tap_ok(wb("page_index=5 page_indexes=7-9", sc, &n) == 0 && n == 2 &&
	       sc[0].lo == 5 && sc[0].hi == 6 && sc[1].lo == 7 && sc[1].hi == 10 &&
	       !sc[0].all_files && sc[0].mode == 0, "page_index, page_indexes");
	tap_ok(wb("page_index=5 huge", sc, &n) == 0 && n == 2 &&
	       sc[1].mode == PP_HUGE && sc[1].lo == 5 && sc[1].hi == 6,
	       "a mode after an index applies to that index");
	tap_ok(wb("idle page_index=5", sc, &n) == 0 && n == 1, "a mode ends the list");
	tap_ok(wb("", sc, &n) == -EINVAL && wb("  ", sc, &n) == -EINVAL &&
	       wb("\n", sc, &n) == -EINVAL, "empty or blank: EINVAL, no mode as on zram");
	tap_ok(wb("bogus", sc, &n) == -EINVAL, "unknown mode: EINVAL");
	tap_ok(wb("type=bogus", sc, &n) == -EINVAL, "unknown type: EINVAL");
	tap_ok(wb("page_index=1000", sc, &n) == -ERANGE, "index beyond: ERANGE");
	tap_ok(wb("page_indexes=9-7", sc, &n) == -ERANGE, "LOW > HIGH: ERANGE");
	tap_ok(wb("page_indexes=9", sc, &n) == -EINVAL, "no dash: EINVAL");
	tap_ok(wb("page_index=x", sc, &n) == -EINVAL, "not a number: EINVAL");
	tap_ok(wb("page_index=1 page_index=2 page_index=3 page_index=4 "
		  "page_index=5 page_index=6 page_index=7 page_index=8 page_index=9",
		  sc, &n) == -E2BIG, "more scans than room: E2BIG");
	return tap_done();
}
