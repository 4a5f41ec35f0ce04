/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pp: the syntax of zram's post-processing control files - idle,
 * writeback and the numbers they take - as zram's sysfs parses them
 * (Documentation/admin-guide/blockdev/zram.rst), with zram's errnos.
 * Pure parsing, no store: unit-tested without a mount.
 */
#ifndef ZRAMFUSE_PP_H
#define ZRAMFUSE_PP_H

#include <stddef.h>
#include <stdint.h>

/* Which pages a scan selects (zram's writeback modes); 0 = any page. */
enum {
	PP_HUGE = 1u << 0,
	PP_IDLE = 1u << 1,
	PP_INCOMPRESSIBLE = 1u << 2,
};

/* One scan: pages [lo, hi) of the device file, or every file's pages. */
struct pp_scan {
	unsigned mode;
	uint64_t lo, hi;
	int all_files;		/* no page index given: all pages of all files */
};

#define PP_IDLE_ALL UINT64_MAX

/*
 * kstrtoull(): optional '+', digits in @base (0: "0x" hex, "0" octal,
 * else decimal), one trailing newline allowed.  Returns 0, -EINVAL or
 * -ERANGE.
 */
int pp_parse_u64(const char *s, unsigned base, uint64_t *out);

/* sysfs_streq(): equal but for one trailing newline on either side. */
int pp_streq(const char *a, const char *b);

/*
 * idle: "all" (*age = PP_IDLE_ALL) or a number of seconds (base 0).
 * Returns 0 or -EINVAL.
 */
int pp_parse_idle(const char *s, uint64_t *age);

/*
 * writeback: "idle", "huge", "huge_idle", "incompressible" (also as
 * type=...), "page_index=N", "page_indexes=LOW-HIGH", several separated
 * by blanks; a mode ends the list, page indexes before it are scanned
 * with the mode seen so far (none: any page), as zram does.  @nr_pages
 * bounds the indexes.  Fills up to @max scans, sets *@n.  Returns 0,
 * -EINVAL (bad syntax, unknown word), -ERANGE (index beyond the file or
 * LOW > HIGH), or -E2BIG (more than @max scans).
 */
int pp_parse_writeback(const char *s, uint64_t nr_pages, struct pp_scan *scans,
		       size_t max, size_t *n);

#endif
