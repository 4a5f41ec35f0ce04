/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The memory limit: allocation fails with -ENOSPC exactly when a new
 * zspage would take pages_used beyond the limit; the failure changes
 * nothing stored; freeing makes room again; pages_used_max and its reset.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "zspool_test.h"

#define LIMIT 256
#define MAXH 8192

/* Allocate and free a 4096-byte object (a new page each time). */
static int page_alloc(struct zspool *pool)
{
	zspool_handle_t t = 0;
	int err = zspool_alloc(pool, ZSPOOL_MAX_OBJ, 0, &t);

	if (!err)
		zspool_free(pool, t);
	else if (t)
		err = -EFAULT;	/* a failed allocation must not set a handle */
	return err;
}

int main(void)
{
	struct zspool_config cfg = { .mem_limit_pages = LIMIT };
	unsigned char buf[ZSPOOL_MAX_OBJ];
	static zspool_handle_t h[MAXH];
	static size_t sz[MAXH];
	struct zspool_stats st, st2;
	struct zspool *pool;
	uint64_t rng = tap_seed();
	unsigned n = 0, fails = 0;
	int ok = 1;

	if (!tap_ok(zspool_create(&cfg, &pool) == 0, "create with limit %d", LIMIT))
		return tap_done();
	/* Fill with mixed sizes until every class we try is refused. */
	while (n < MAXH && fails < 64) {
		size_t size = zt_size(&rng);
		int err = zspool_alloc(pool, size, 0, &h[n]);

		if (err) {
			ok &= TAP_CHECK(err == -ENOSPC);
			fails++;
			continue;
		}
		sz[n] = size;
		zt_fill(buf, size, n);
		zspool_write(pool, h[n], buf, size);
		n++;
	}
	zspool_stats(pool, &st);
	tap_ok(ok && fails == 64, "allocations fail with -ENOSPC at the limit");
	tap_ok(st.pages_used <= LIMIT && st.pages_used > LIMIT - 8 &&
	       st.pages_used_max == st.pages_used,
	       "pages_used %" PRIu64 " within the limit, max %" PRIu64,
	       st.pages_used, st.pages_used_max);
	tap_ok(st.objs_allocated == n && st.mem_limit_pages == LIMIT,
	       "%u objects stored, failures left no trace", n);

	/* A 4096-byte object always needs a new page: refused, stats unchanged. */
	ok = TAP_CHECK(page_alloc(pool) == -ENOSPC);
	zspool_stats(pool, &st2);
	ok &= TAP_CHECK(st2.pages_used == st.pages_used &&
			st2.objs_allocated == st.objs_allocated &&
			st2.bytes_allocated == st.bytes_allocated);
	tap_ok(ok, "a refused allocation changes nothing");
	ok = 1;
	for (unsigned i = 0; i < n; i++) {
		zspool_read(pool, h[i], buf, sz[i]);
		ok &= TAP_CHECK(zt_verify(buf, sz[i], i));
	}
	tap_ok(ok && zspool_check(pool) == 0, "all prior objects intact");

	/* Free a quarter, compact: room again. */
	for (unsigned i = 0; i < n; i += 4) {
		zspool_free(pool, h[i]);
		h[i] = 0;
	}
	zspool_compact(pool);
	tap_ok(page_alloc(pool) == 0, "after frees and compaction allocation works again");

	/* Lowering the limit below use refuses new zspages, keeps objects. */
	zspool_stats(pool, &st);
	zspool_set_mem_limit(pool, st.pages_used / 2);
	tap_ok(page_alloc(pool) == -ENOSPC, "limit below use: -ENOSPC");
	zspool_set_mem_limit(pool, 0);
	tap_ok(page_alloc(pool) == 0, "limit 0 means none");

	zspool_stats(pool, &st);
	zspool_reset_max(pool);
	zspool_stats(pool, &st2);
	tap_ok(st.pages_used_max >= st.pages_used &&
	       st2.pages_used_max == st2.pages_used,
	       "reset_max brings the high-water mark to pages_used");

	ok = 1;
	for (unsigned i = 0; i < n; i++) {
		if (!h[i])
			continue;
		zspool_read(pool, h[i], buf, sz[i]);
		ok &= TAP_CHECK(zt_verify(buf, sz[i], i));
		zspool_free(pool, h[i]);
	}
	zspool_stats(pool, &st);
	tap_ok(ok && st.pages_used == 0 && zspool_check(pool) == 0,
	       "objects intact to the end; pages_used 0 after freeing all");
	zspool_destroy(pool);
	return tap_done();
}
