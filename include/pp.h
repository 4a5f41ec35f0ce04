/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pp: the syntax of zram's post-processing control files - idle,
 * writeback and the numbers they take - as zram's sysfs parses them
 * (Documentation/admin-guide/blockdev/zram.rst), with zram's errnos.
 * Pure parsing, no store: unit-tested without a mount.
 */
#ifndef ZRAMFUSE_PP_H
#define ZRAMFUSE_PP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which pages a scan selects (zram's writeback modes); 0 = any page. */
enum {
	PP_HUGE = 1u << 0,
	PP_IDLE = 1u << 1,
	PP_INCOMPRESSIBLE = 1u << 2,
	/* recompression only: pages read since written (src/recomp.c) */
	PP_READBACK = 1u << 3,
};

/* One scan: pages [lo, hi) of the device file, or every file's pages. */
struct pp_scan {
	unsigned mode;
	uint64_t lo, hi;
	int all_files;		/* no page index given: all pages of all files */
	uint64_t min_age;	/* seconds since the last access; 0 = any */
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
 * kstrtobool(): by the first character (y, t, e, 1 true; n, f, d, 0
 * false) or the first two (on, of).  Returns 0 or -EINVAL.
 */
int pp_parse_bool(const char *s, bool *out);

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
 * -EINVAL (bad syntax, unknown word, nothing but blanks), -ERANGE (index
 * beyond the file or LOW > HIGH), or -E2BIG (more than @max scans).
 */
int pp_parse_writeback(const char *s, uint64_t nr_pages, struct pp_scan *scans,
		       size_t max, size_t *n);

/* Recompression: zram's ZRAM_MAX_COMPS, the primary codec at priority 0. */
#define PP_MAX_COMPS 4

struct pp_recompress {
	unsigned mode;		/* PP_IDLE, PP_HUGE or both; 0 = every page */
	uint64_t max_pages;	/* 0 = no bound */
	unsigned threshold;	/* bytes; 0 = none */
	unsigned prio;		/* first priority to try */
	unsigned prio_max;	/* one past the last */
	char algo[16];		/* algo=: "" = by priority */
	uint64_t min_age;	/* seconds since the last access; 0 = any */
};

/*
 * recompress: "type=idle|huge|huge_idle threshold=BYTES max_pages=N
 * algo=NAME priority=N", each optional, every word key=value.  Returns 0,
 * or -EINVAL (a word without a value, an unknown key or type, threshold
 * at or above @huge_threshold) or the number's errno.
 */
int pp_parse_recompress(const char *s, unsigned huge_threshold,
			struct pp_recompress *r);

/*
 * recomp_algorithm and algorithm_params: "algo=NAME priority=N level=N
 * dict=PATH", each optional.  *@prio = -1 and *@level = 0 when absent;
 * @dict (PATH_MAX bytes) "" when absent.  Returns 0 or -EINVAL.
 */
int pp_parse_algo(const char *s, char *algo, size_t algo_len, int *prio,
		  int *level, char *dict, size_t dict_len);

#endif
