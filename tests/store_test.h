/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_test.h: helpers shared by the store tests: realistic page content,
 * a checked store set-up, and the "pool is empty" check.
 */
#ifndef ZRAMFUSE_STORE_TEST_H
#define ZRAMFUSE_STORE_TEST_H

#include <string.h>

#include "store.h"
#include "tap.h"

/* Page kinds: 0 zero, 1 same-filled, 2 text, 3 binary, 4 random (raw). */
static inline void st_fill(unsigned char *p, size_t len, int kind,
			   uint64_t *rng)
{
	static const char *const words[] = {
		"page ", "swap ", "store ", "the ", "zram ", "of ", "\n",
		"compressed ", "memory ", "int ", "return ", "a ",
	};
	size_t i = 0;

	switch (kind) {
	case 0:
		memset(p, 0, len);
		break;
	case 1: {
		uint64_t v = tap_rand(rng);

		for (; i < len; i++)
			p[i] = (unsigned char)(v >> (8 * (i & 7)));
		break;
	}
	case 2:
		while (i < len) {
			const char *w = words[tap_rand(rng) % 12];
			size_t n = strlen(w);

			if (n > len - i)
				n = len - i;
			memcpy(p + i, w, n);
			i += n;
		}
		break;
	case 3:
		for (; i < len; i++) {
			uint64_t v = tap_rand(rng);

			p[i] = (v & 3) ? 0 : (unsigned char)(v >> 40);
		}
		break;
	default:
		for (; i < len; i++)
			p[i] = (unsigned char)(tap_rand(rng) >> 33);
		break;
	}
}

static inline struct store *st_create(const char *comp, uint64_t mem_limit,
				      bool deferred)
{
	struct store_config cfg = {
		.comp = comp,
		.mem_limit = mem_limit,
		.deferred_free = deferred,
	};
	struct store *st = NULL;
	int ret = store_create(&cfg, &st);

	if (ret < 0) {
		tap_diag("store_create(%s): %s", comp ? comp : "default", strerror(-ret));
		return NULL;
	}
	return st;
}

/* Everything freed: no page in use, no byte counted. */
static inline int st_empty(struct store *st)
{
	struct store_stats s;

	store_drain(st);
	store_stats(st, &s);
	if (s.mem_used_total || s.orig_data_size || s.compr_data_size ||
	    s.same_pages || s.huge_pages || s.reclaim_queued_pages) {
		tap_diag("not empty: mem_used_total %llu orig %llu compr %llu same %llu huge %llu queued %llu",
			 (unsigned long long)s.mem_used_total,
			 (unsigned long long)s.orig_data_size,
			 (unsigned long long)s.compr_data_size,
			 (unsigned long long)s.same_pages,
			 (unsigned long long)s.huge_pages,
			 (unsigned long long)s.reclaim_queued_pages);
		return 0;
	}
	return 1;
}

#endif
