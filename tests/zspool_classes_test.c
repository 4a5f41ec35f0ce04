/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every size class, for several chain limits: the class table is sane
 * (ascending, least waste, merged only where geometry is equal), and in
 * each class objects of the smallest and largest size it serves can be
 * allocated (more than a zspage's worth, so that some straddle pages),
 * written, read back with zspool_read() and zspool_map(), and freed, after
 * which the pool holds no page.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "zspool.h"

static void fill(unsigned char *buf, size_t len, uint64_t key)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)((key * 131 + i * 7 + (i >> 8)) ^ (key >> 8));
}

/* Is @ppz pages the least-waste choice for @size under @max? */
static bool least_waste(unsigned size, unsigned ppz, unsigned max)
{
	unsigned waste = ppz * ZSPOOL_PAGE_SIZE % size;

	for (unsigned p = 1; p <= max; p++) {
		unsigned w = p * ZSPOOL_PAGE_SIZE % size;

		/* objects-per-zspage is capped at 512, which may forbid p */
		if (p * ZSPOOL_PAGE_SIZE / size > 512)
			break;
		if ((uint64_t)w * ppz < (uint64_t)waste * p)
			return false;
	}
	return true;
}

static int check_table(struct zspool *pool, unsigned max)
{
	unsigned n = zspool_nr_classes(pool), prev = 0;
	struct zspool_class_stats st, last = { 0 };
	int ok = 1;

	ok &= TAP_CHECK(n >= 2 && n <= 255);
	for (unsigned i = 0; i < n; i++) {
		zspool_class_stats(pool, i, &st);
		ok &= TAP_CHECK(st.size > prev && st.size % 16 == 0);
		ok &= TAP_CHECK(st.pages_per_zspage >= 1 && st.pages_per_zspage <= max);
		ok &= TAP_CHECK(st.objs_per_zspage ==
				st.pages_per_zspage * ZSPOOL_PAGE_SIZE / st.size);
		ok &= TAP_CHECK(least_waste(st.size, st.pages_per_zspage, max));
		/* merged classes differ from their neighbour in geometry */
		ok &= TAP_CHECK(i == 0 || st.pages_per_zspage != last.pages_per_zspage ||
				st.objs_per_zspage != last.objs_per_zspage);
		ok &= TAP_CHECK(st.zspages == 0 && st.objs_allocated == 0);
		if (!ok) {
			tap_diag("class %u: size %u ppz %u objs %u", i, st.size,
				 st.pages_per_zspage, st.objs_per_zspage);
			break;
		}
		prev = st.size;
		last = st;
	}
	ok &= TAP_CHECK(last.size == ZSPOOL_PAGE_SIZE && last.objs_per_zspage == 1 &&
			last.pages_per_zspage == 1);
	return ok;
}

/* Fill a bit more than one zspage of @cls with objects of @size. */
static int exercise(struct zspool *pool, unsigned cls, size_t size)
{
	struct zspool_class_stats st;
	static unsigned char buf[ZSPOOL_MAX_OBJ], want[ZSPOOL_MAX_OBJ],
		bounce[ZSPOOL_MAX_OBJ];
	zspool_handle_t *h;
	unsigned n;
	int ok = 1;

	zspool_class_stats(pool, cls, &st);
	n = st.objs_per_zspage + 2;
	h = calloc(n, sizeof(*h));
	if (!h)
		return 0;
	for (unsigned i = 0; i < n && ok; i++) {
		ok &= TAP_CHECK(zspool_alloc(pool, size, 0, &h[i]) == 0 && h[i]);
		if (!ok)
			break;
		ok &= TAP_CHECK(zspool_obj_size(pool, h[i]) == size);
		fill(want, size, h[i] + i);
		zspool_write(pool, h[i], want, size);
	}
	zspool_class_stats(pool, cls, &st);
	ok &= TAP_CHECK(st.zspages == (n + st.objs_per_zspage - 1) / st.objs_per_zspage &&
			st.objs_allocated == n &&
			st.bytes_allocated == (uint64_t)n * size);
	ok &= TAP_CHECK(zspool_check(pool) == 0);
	for (unsigned i = 0; i < n && ok; i++) {
		const void *p;

		fill(want, size, h[i] + i);
		memset(buf, 0, sizeof(buf));
		zspool_read(pool, h[i], buf, size);
		ok &= TAP_CHECK(memcmp(buf, want, size) == 0);
		p = zspool_map(pool, h[i], bounce);
		ok &= TAP_CHECK(p && memcmp(p, want, size) == 0);
		zspool_unmap(pool, h[i]);
		/* a short read copies a prefix */
		zspool_read(pool, h[i], buf, size / 2);
		ok &= TAP_CHECK(memcmp(buf, want, size / 2) == 0);
	}
	/* free every other one first, then the rest, checking in between */
	for (unsigned i = 0; i < n; i += 2)
		zspool_free(pool, h[i]);
	ok &= TAP_CHECK(zspool_check(pool) == 0);
	for (unsigned i = 1; i < n && ok; i += 2) {
		fill(want, size, h[i] + i);
		zspool_read(pool, h[i], buf, size);
		ok &= TAP_CHECK(memcmp(buf, want, size) == 0);
	}
	for (unsigned i = 1; i < n; i += 2)
		zspool_free(pool, h[i]);
	zspool_class_stats(pool, cls, &st);
	ok &= TAP_CHECK(st.zspages == 0 && st.objs_allocated == 0 &&
			st.bytes_allocated == 0);
	free(h);
	if (!ok)
		tap_diag("class %u size %zu failed", cls, size);
	return ok;
}

int main(void)
{
	static const unsigned limits[] = { 8, 1, 4 };

	for (unsigned l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
		struct zspool_config cfg = { .max_zspage_pages = limits[l] };
		struct zspool *pool;
		struct zspool_stats st;
		unsigned n, prev = 0;
		int ok = 1;

		if (!tap_ok(zspool_create(&cfg, &pool) == 0, "create, chain limit %u",
			    limits[l]))
			return tap_done();
		n = zspool_nr_classes(pool);
		tap_ok(check_table(pool, limits[l]), "class table (%u classes)", n);
		for (unsigned c = 0; c < n; c++) {
			struct zspool_class_stats cs;

			zspool_class_stats(pool, c, &cs);
			ok &= exercise(pool, c, prev + 1);
			ok &= exercise(pool, c, cs.size);
			prev = cs.size;
		}
		tap_ok(ok, "alloc/write/read/map/free in every class, both ends");
		zspool_stats(pool, &st);
		tap_ok(st.pages_used == 0 && st.objs_allocated == 0 &&
		       st.bytes_allocated == 0 && st.pages_used_max > 0,
		       "pages_used back to 0 (max was %" PRIu64 ")",
		       st.pages_used_max);
		tap_ok(zspool_check(pool) == 0, "check after all frees");
		zspool_destroy(pool);
	}
	{
		struct zspool *pool;
		struct zspool_config bad = { .max_zspage_pages = 9 };
		zspool_handle_t h = 0;
		int ok = 1;

		tap_ok(zspool_create(&bad, &pool) == -EINVAL, "chain limit 9 refused");
		ok &= TAP_CHECK(zspool_create(NULL, &pool) == 0);
		ok &= TAP_CHECK(zspool_alloc(pool, 0, 0, &h) == -EINVAL);
		ok &= TAP_CHECK(zspool_alloc(pool, ZSPOOL_MAX_OBJ + 1, 0, &h) == -EINVAL);
		ok &= TAP_CHECK(h == 0);
		zspool_destroy(pool);
		tap_ok(ok, "bad sizes give -EINVAL");
	}
	return tap_done();
}
