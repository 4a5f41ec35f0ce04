// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * size: the size parser of common/size.h, which has the grammar.
 *
 * One pass, left to right: the digits with a check before every step that
 * would pass 64 bits, then the unit's multiplier built by repeated
 * multiplication with the same check, then the product.  An overflow
 * anywhere is -ERANGE, so "99999999999999999999" and "16777216T" are
 * "too large" rather than "not a size".
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "size.h"

int size_parse(const char *s, unsigned flags, uint64_t *out)
{
	/* the letters, in order of their power; P only for util-linux */
	static const char units[] = "KMGTP";
	const bool ul = flags & SIZE_UTIL_LINUX;
	uint64_t v = 0, mult = 1, base = 1024;
	const char *p = s, *u;
	size_t i;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (*p) {
		u = memchr(units, toupper((unsigned char)*p), ul ? 5 : 4);
		if (!u)
			return -EINVAL;
		p++;
		if (ul && !strcmp(p, "B"))
			base = 1000;
		else if (*p && !(ul && !strcmp(p, "iB")))
			return -EINVAL;
		for (i = 0; i <= (size_t)(u - units); i++) {
			if (mult > UINT64_MAX / base)
				return -ERANGE;
			mult *= base;
		}
	}
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}
