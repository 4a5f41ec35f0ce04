// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * size_test: common/size.c, the parser the daemon (flags 0) and
 * zramfusectl (SIZE_UTIL_LINUX) share.  Each case gives what both
 * grammars make of one string: the cases the two programs' own parsers
 * were tested with before they became this one, and where the grammars
 * part (P, "iB", "B").
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include "size.h"
#include "tap.h"

#define KIB (1ull << 10)
#define PIB (1ull << 50)
#define PB 1000000000000000ull

struct size_case {
	const char *s;
	int rc;			/* the daemon's: size_parse(s, 0, ...) */
	uint64_t v;
	int rc_ul;		/* zramfusectl's: SIZE_UTIL_LINUX */
	uint64_t v_ul;
};

static const struct size_case size_cases[] = {
	/* both take these, with one value */
	{ "0", 0, 0, 0, 0 },
	{ "0K", 0, 0, 0, 0 },
	{ "4096", 0, 4096, 0, 4096 },
	{ "00012", 0, 12, 0, 12 },
	{ "4k", 0, 4 * KIB, 0, 4 * KIB },
	{ "64K", 0, 64 * KIB, 0, 64 * KIB },
	{ "1m", 0, 1ull << 20, 0, 1ull << 20 },
	{ "2G", 0, 2ull << 30, 0, 2ull << 30 },
	{ "3T", 0, 3ull << 40, 0, 3ull << 40 },
	{ "3t", 0, 3ull << 40, 0, 3ull << 40 },
	{ "16777215T", 0, 16777215ull << 40, 0, 16777215ull << 40 },
	{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
	/* both find these too large */
	{ "16777216T", -ERANGE, 0, -ERANGE, 0 },
	{ "18446744073709551616", -ERANGE, 0, -ERANGE, 0 },
	{ "99999999999999999999K", -ERANGE, 0, -ERANGE, 0 },
	/* ... and these no size */
	{ "", -EINVAL, 0, -EINVAL, 0 },
	{ "K", -EINVAL, 0, -EINVAL, 0 },
	{ "KiB", -EINVAL, 0, -EINVAL, 0 },
	{ "-1", -EINVAL, 0, -EINVAL, 0 },
	{ "+1", -EINVAL, 0, -EINVAL, 0 },
	{ " 1", -EINVAL, 0, -EINVAL, 0 },
	{ "1 ", -EINVAL, 0, -EINVAL, 0 },
	{ "1 K", -EINVAL, 0, -EINVAL, 0 },
	{ "0x10", -EINVAL, 0, -EINVAL, 0 },
	{ "1.5G", -EINVAL, 0, -EINVAL, 0 },
	{ "1X", -EINVAL, 0, -EINVAL, 0 },
	{ "12Q", -EINVAL, 0, -EINVAL, 0 },
	{ "1E", -EINVAL, 0, -EINVAL, 0 },
	{ "1B", -EINVAL, 0, -EINVAL, 0 },
	{ "1iB", -EINVAL, 0, -EINVAL, 0 },
	{ "1KK", -EINVAL, 0, -EINVAL, 0 },
	{ "1T5", -EINVAL, 0, -EINVAL, 0 },
	{ "1Ki", -EINVAL, 0, -EINVAL, 0 },
	{ "1Kib", -EINVAL, 0, -EINVAL, 0 },
	{ "1KIB", -EINVAL, 0, -EINVAL, 0 },
	{ "1Kb", -EINVAL, 0, -EINVAL, 0 },
	{ "1KBB", -EINVAL, 0, -EINVAL, 0 },
	{ "1KiBB", -EINVAL, 0, -EINVAL, 0 },
	/* util-linux's alone: P, "iB" a power of 1024, "B" of 1000 */
	{ "1P", -EINVAL, 0, 0, PIB },
	{ "2p", -EINVAL, 0, 0, 2 * PIB },
	{ "16383P", -EINVAL, 0, 0, 16383 * PIB },
	{ "16384P", -EINVAL, 0, -ERANGE, 0 },
	{ "1KiB", -EINVAL, 0, 0, KIB },
	{ "1kiB", -EINVAL, 0, 0, KIB },
	{ "4GiB", -EINVAL, 0, 0, 4ull << 30 },
	{ "3TiB", -EINVAL, 0, 0, 3ull << 40 },
	{ "1PiB", -EINVAL, 0, 0, PIB },
	{ "16384PiB", -EINVAL, 0, -ERANGE, 0 },
	{ "1KB", -EINVAL, 0, 0, 1000 },
	{ "1kB", -EINVAL, 0, 0, 1000 },
	{ "5MB", -EINVAL, 0, 0, 5000000 },
	{ "7GB", -EINVAL, 0, 0, 7000000000ull },
	{ "2TB", -EINVAL, 0, 0, 2000000000000ull },
	{ "18446PB", -EINVAL, 0, 0, 18446 * PB },
	{ "18447PB", -EINVAL, 0, -ERANGE, 0 },
};

/* One grammar's verdict on one case; *out must stay put on error. */
static void size_check(const char *s, unsigned flags, int rc, uint64_t v)
{
	const uint64_t canary = 0x5a5a5a5a5a5a5a5aull;
	uint64_t got = canary;
	int r = size_parse(s, flags, &got);

	if (!tap_ok(r == rc && (r ? got == canary : got == v),
		    "%s \"%s\" -> %d, %llu", flags & SIZE_UTIL_LINUX ?
		    "util-linux" : "daemon", s, rc, (unsigned long long)v))
		tap_diag("got %d, %llu", r, (unsigned long long)got);
}

int main(void)
{
	size_t n = sizeof(size_cases) / sizeof(size_cases[0]), k;

	for (k = 0; k < n; k++) {
		const struct size_case *c = &size_cases[k];

		size_check(c->s, 0, c->rc, c->v);
		size_check(c->s, SIZE_UTIL_LINUX, c->rc_ul, c->v_ul);
	}
	return tap_done();
}
