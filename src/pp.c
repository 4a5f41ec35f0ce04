// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pp: zram's post-processing syntax (include/pp.h).  The rules follow
 * zram_drv.c so that scripts written for zram behave the same here: a
 * number is what kstrtoull() takes, a keyword what sysfs_streq() matches,
 * and writeback's list is walked in order, each page index scanned with
 * the mode given before it, a mode ending the list.  One difference: a
 * key zram does not know is refused with -EINVAL here, where zram skips
 * it silently (a typo would otherwise write nothing back and succeed).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pp.h"

int pp_parse_u64(const char *s, unsigned base, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;

	if (*s == '+')
		s++;
	if (base == 0) {
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
		    isxdigit((unsigned char)s[2])) {
			base = 16;
			s += 2;
		} else if (s[0] == '0') {
			base = 8;
		} else {
			base = 10;
		}
	} else if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
	}
	for (; *s; s++, digits++) {
		unsigned d;

		if (isdigit((unsigned char)*s))
			d = (unsigned)(*s - '0');
		else if (isalpha((unsigned char)*s))
			d = (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
		else
			break;
		if (d >= base)
			break;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (!digits)
		return -EINVAL;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}

int pp_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	if (*a == *b)
		return 1;
	if (!*a && *b == '\n' && !b[1])
		return 1;
	if (!*b && *a == '\n' && !a[1])
		return 1;
	return 0;
}

int pp_parse_bool(const char *s, bool *out)
{
	switch (s[0]) {
	case 'y': case 'Y': case 't': case 'T': case 'e': case 'E': case '1':
		*out = true;
		return 0;
	case 'n': case 'N': case 'f': case 'F': case 'd': case 'D': case '0':
		*out = false;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') {
			*out = true;
			return 0;
		}
		if (s[1] == 'f' || s[1] == 'F') {
			*out = false;
			return 0;
		}
		break;
	}
	return -EINVAL;
}

int pp_parse_idle(const char *s, uint64_t *age)
{
	if (pp_streq(s, "all")) {
		*age = PP_IDLE_ALL;
		return 0;
	}
	if (pp_parse_u64(s, 0, age) || *age == PP_IDLE_ALL)
		return -EINVAL;
	return 0;
}

static int pp_mode(const char *v, unsigned *mode)
{
	if (!strcmp(v, "idle"))
		*mode = PP_IDLE;
	else if (!strcmp(v, "huge"))
		*mode = PP_HUGE;
	else if (!strcmp(v, "huge_idle"))
		*mode = PP_IDLE | PP_HUGE;
	else if (!strcmp(v, "incompressible"))
		*mode = PP_INCOMPRESSIBLE;
	else
		return -EINVAL;
	return 0;
}

static int pp_add(struct pp_scan *scans, size_t max, size_t *n, unsigned mode,
		  uint64_t lo, uint64_t hi, int all)
{
	if (*n >= max)
		return -E2BIG;
	scans[*n] = (struct pp_scan){ .mode = mode, .lo = lo, .hi = hi,
				      .all_files = all };
	(*n)++;
	return 0;
}

int pp_parse_writeback(const char *s, uint64_t nr_pages, struct pp_scan *scans,
		       size_t max, size_t *n)
{
	char word[256];
	uint64_t lo = 0, hi = nr_pages;
	unsigned mode = 0;
	int all = 1, ret;

	*n = 0;
	for (;;) {
		size_t len;
		char *val;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)	/* nothing at all is no mode, as on zram */
			return *n ? 0 : -EINVAL;
		len = strcspn(s, " \t\n");
		if (len >= sizeof(word))
			return -EINVAL;
		memcpy(word, s, len);
		word[len] = '\0';
		s += len;
		val = strchr(word, '=');
		if (val)
			*val++ = '\0';
		if (!val || !*val || !strcmp(word, "type")) {
			ret = pp_mode(val && *val ? val : word, &mode);
			if (ret)
				return ret;
			return pp_add(scans, max, n, mode, lo, hi, all);
		}
		if (!strcmp(word, "page_index")) {
			ret = pp_parse_u64(val, 10, &lo);
			if (ret)
				return ret;
			if (lo >= nr_pages)
				return -ERANGE;
			hi = lo + 1;
		} else if (!strcmp(word, "page_indexes")) {
			char *dash = strchr(val, '-');

			if (!dash)
				return -EINVAL;
			*dash = '\0';
			ret = pp_parse_u64(val, 10, &lo);
			if (ret)
				return ret;
			if (lo >= nr_pages)
				return -ERANGE;
			ret = pp_parse_u64(dash + 1, 10, &hi);
			if (ret)
				return ret;
			if (hi >= nr_pages || lo > hi)
				return -ERANGE;
			hi++;
		} else {
			return -EINVAL;
		}
		all = 0;
		ret = pp_add(scans, max, n, mode, lo, hi, all);
		if (ret)
			return ret;
	}
}

/*
 * The next "key=value" word of *@s into @key and @val (NUL-terminated,
 * @val "" when there is no '=' or nothing after it).  Returns 1 for a
 * word, 0 at the end, -EINVAL for a word too long.
 */
static int pp_next_word(const char **s, char *key, size_t klen, char *val,
			size_t vlen)
{
	const char *p = *s, *eq;
	size_t len;

	while (isspace((unsigned char)*p))
		p++;
	if (!*p)
		return 0;
	len = strcspn(p, " \t\n");
	*s = p + len;
	eq = memchr(p, '=', len);
	if (!eq) {
		if (len >= klen)
			return -EINVAL;
		memcpy(key, p, len);
		key[len] = '\0';
		val[0] = '\0';
		return 1;
	}
	if ((size_t)(eq - p) >= klen || len - (size_t)(eq - p) - 1 >= vlen)
		return -EINVAL;
	memcpy(key, p, (size_t)(eq - p));
	key[eq - p] = '\0';
	memcpy(val, eq + 1, len - (size_t)(eq - p) - 1);
	val[len - (size_t)(eq - p) - 1] = '\0';
	return 1;
}

int pp_parse_recompress(const char *s, unsigned huge_threshold,
			struct pp_recompress *r)
{
	char key[32], val[64];
	uint64_t v;
	int ret;

	memset(r, 0, sizeof(*r));
	r->prio = 1;
	r->prio_max = PP_MAX_COMPS;
	while ((ret = pp_next_word(&s, key, sizeof(key), val, sizeof(val))) > 0) {
		if (!*val)
			return -EINVAL;
		if (!strcmp(key, "type")) {
			if (!strcmp(val, "idle"))
				r->mode = PP_IDLE;
			else if (!strcmp(val, "huge"))
				r->mode = PP_HUGE;
			else if (!strcmp(val, "huge_idle"))
				r->mode = PP_IDLE | PP_HUGE;
			else
				return -EINVAL;
		} else if (!strcmp(key, "max_pages")) {
			ret = pp_parse_u64(val, 10, &r->max_pages);
			if (ret)
				return ret;
		} else if (!strcmp(key, "threshold")) {
			ret = pp_parse_u64(val, 10, &v);
			if (ret)
				return ret;
			if (v > UINT32_MAX)
				return -ERANGE;
			r->threshold = (unsigned)v;
		} else if (!strcmp(key, "algo")) {
			if (strlen(val) >= sizeof(r->algo))
				return -EINVAL;
			strcpy(r->algo, val);
		} else if (!strcmp(key, "priority")) {
			ret = pp_parse_u64(val, 10, &v);
			if (ret)
				return ret;
			if (v > UINT32_MAX)
				return -ERANGE;
			/* the primary cannot be a recompression: zram takes 1 */
			r->prio = v == 0 ? 1 : (unsigned)v;
			r->prio_max = r->prio + 1;
		} else {
			return -EINVAL;
		}
	}
	if (ret < 0)
		return ret;
	if (r->threshold >= huge_threshold)
		return -EINVAL;
	return 0;
}

int pp_parse_algo(const char *s, char *algo, size_t algo_len, int *prio,
		  int *level, char *dict, size_t dict_len)
{
	char key[32], val[4096];
	uint64_t v;
	int ret;

	algo[0] = '\0';
	dict[0] = '\0';
	*prio = -1;
	*level = 0;
	while ((ret = pp_next_word(&s, key, sizeof(key), val, sizeof(val))) > 0) {
		if (!*val)
			return -EINVAL;
		if (!strcmp(key, "algo")) {
			if (strlen(val) >= algo_len)
				return -EINVAL;
			strcpy(algo, val);
		} else if (!strcmp(key, "priority")) {
			if (pp_parse_u64(val, 10, &v) || v >= PP_MAX_COMPS)
				return -EINVAL;
			*prio = (int)v;
		} else if (!strcmp(key, "level")) {
			long l;
			char *end;

			errno = 0;
			l = strtol(val, &end, 10);
			if (errno || *end || l < -1000 || l > 1000 || l == 0)
				return -EINVAL;
			*level = (int)l;
		} else if (!strcmp(key, "dict")) {
			if (strlen(val) >= dict_len)
				return -EINVAL;
			strcpy(dict, val);
		} else {
			return -EINVAL;
		}
	}
	return ret;
}
