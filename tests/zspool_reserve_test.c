/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The reserve of resident free pages: zspool_refill() fills it to the
 * target; ZSPOOL_NOWAIT allocations build zspages only from it and fail
 * with -ENOMEM (counted) when it is empty, leaving every stored object
 * intact; allocations into existing zspages need no page; frees refill it
 * and zspool_trim() gives back only what exceeds the target.
 *
 * Last, a refill thread runs beside plain allocations that outrun its
 * handle-table prefault between two passes, so that a pass touches slots
 * the allocating thread is filling in at the same time: every object must
 * keep its contents (and, under ThreadSanitizer, no access may race).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "zspool_test.h"

#define TARGET 64
#define MAXH 1024
/* far more than a pass prefaults ahead (16 pages of slots, 8192 handles) */
#define RACE_OBJS 100000
/* one round caught the race under TSan 5 times in 6 before it was fixed */
#define RACE_PAUSE_NS (20 * 1000 * 1000)
#define RACE_ROUNDS 3

static bool race_stop;		/* relaxed: a flag, no data hangs on it */

static void *race_refiller(void *arg)
{
	const struct timespec pause = { .tv_nsec = RACE_PAUSE_NS };
	struct zspool *pool = arg;

	while (!__atomic_load_n(&race_stop, __ATOMIC_RELAXED)) {
		zspool_refill(pool);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/* One fresh pool (so that the handle table grows), one refill thread. */
static int refill_round(void)
{
	struct zspool_config cfg = { .reserve_pages = TARGET };
	static zspool_handle_t h[RACE_OBJS];
	unsigned char buf[64];
	struct zspool_stats st;
	struct zspool *pool;
	pthread_t t;
	int ok;

	if (!TAP_CHECK(zspool_create(&cfg, &pool) == 0))
		return 0;
	__atomic_store_n(&race_stop, false, __ATOMIC_RELAXED);
	ok = TAP_CHECK(pthread_create(&t, NULL, race_refiller, pool) == 0);
	for (unsigned i = 0; i < RACE_OBJS && ok; i++) {
		ok &= TAP_CHECK(zspool_alloc(pool, sizeof(buf), 0, &h[i]) == 0);
		zt_fill(buf, sizeof(buf), i);
		if (ok)
			zspool_write(pool, h[i], buf, sizeof(buf));
	}
	__atomic_store_n(&race_stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	for (unsigned i = 0; i < RACE_OBJS && ok; i++) {
		zspool_read(pool, h[i], buf, sizeof(buf));
		ok &= TAP_CHECK(zt_verify(buf, sizeof(buf), i));
	}
	ok = ok && TAP_CHECK(zspool_check(pool) == 0);
	if (ok) {
		zspool_free_batch(pool, h, RACE_OBJS);
		zspool_stats(pool, &st);
		ok &= TAP_CHECK(st.objs_allocated == 0);
	}
	zspool_destroy(pool);
	return ok;
}

int main(void)
{
	struct zspool_config cfg = { .reserve_pages = TARGET };
	unsigned char buf[ZSPOOL_MAX_OBJ];
	zspool_handle_t h[MAXH], small;
	struct zspool_stats st;
	struct zspool *pool;
	unsigned n = 0;
	int ok, err = 0;

	if (!tap_ok(zspool_create(&cfg, &pool) == 0, "create with reserve %d", TARGET))
		return tap_done();
	zspool_stats(pool, &st);
	tap_ok(st.reserve_pages == 0 && st.reserve_target == TARGET,
	       "reserve starts empty, target %" PRIu64, st.reserve_target);

	/* A fresh pool has no handle table yet: NOWAIT must not map one. */
	tap_ok(zspool_alloc(pool, 100, ZSPOOL_NOWAIT, &small) == -ENOMEM,
	       "NOWAIT before refill: -ENOMEM");

	{
		/* the reserve's pages are resident: faulted in (populated) */
		long rss0 = zt_rss_kib(), rss1;
		uint64_t added = zspool_refill(pool);

		rss1 = zt_rss_kib();
		tap_ok(added == TARGET && rss1 - rss0 >= TARGET * 4 * 9 / 10,
		       "refill adds %" PRIu64 " pages, resident: RSS +%ld KiB",
		       added, rss1 - rss0);
	}
	zspool_stats(pool, &st);
	tap_ok(st.reserve_pages == TARGET && st.pages_used == 0,
	       "reserve holds %" PRIu64 " pages, none used", st.reserve_pages);
	tap_ok(zspool_refill(pool) == 0, "refill of a full reserve adds nothing");

	/* 4096-byte objects: one page each (plus a descriptor page once). */
	ok = 1;
	while (n < MAXH) {
		err = zspool_alloc(pool, ZSPOOL_MAX_OBJ, ZSPOOL_NOWAIT, &h[n]);
		if (err)
			break;
		zt_fill(buf, ZSPOOL_MAX_OBJ, n);
		zspool_write(pool, h[n], buf, ZSPOOL_MAX_OBJ);
		n++;
	}
	zspool_stats(pool, &st);
	tap_ok(err == -ENOMEM && n >= TARGET - 2 && n <= TARGET,
	       "NOWAIT allocs succeed from the reserve (%u), then -ENOMEM", n);
	/* two refusals: the one before the refill, and this one */
	tap_ok(st.reserve_pages == 0 && st.alloc_nowait_failed == 2 &&
	       st.objs_allocated == n, "reserve empty, failures counted");
	for (unsigned i = 0; i < n; i++) {
		zspool_read(pool, h[i], buf, ZSPOOL_MAX_OBJ);
		ok &= TAP_CHECK(zt_verify(buf, ZSPOOL_MAX_OBJ, i));
	}
	tap_ok(ok && zspool_check(pool) == 0, "objects intact after the failure");

	/* A class with room in an existing zspage needs no page. */
	ok = TAP_CHECK(zspool_alloc(pool, 100, 0, &small) == 0);
	for (unsigned i = 0; i < 8 && ok; i++) {
		zspool_handle_t t;

		ok &= TAP_CHECK(zspool_alloc(pool, 100, ZSPOOL_NOWAIT, &t) == 0);
		if (ok)
			zspool_free(pool, t);
	}
	tap_ok(ok, "NOWAIT into a non-full zspage works with an empty reserve");

	/* Without the flag the pool takes fresh pages. */
	tap_ok(zspool_alloc(pool, ZSPOOL_MAX_OBJ, 0, &h[n]) == 0,
	       "plain alloc with an empty reserve takes fresh pages");
	n++;

	/* Frees go back to the reserve; trim keeps the target. */
	zspool_free_batch(pool, h, n);
	zspool_free(pool, small);
	zspool_stats(pool, &st);
	tap_ok(st.pages_used == 0 && st.reserve_pages >= TARGET,
	       "frees refill the reserve (%" PRIu64 " pages)", st.reserve_pages);
	zspool_trim(pool);
	zspool_stats(pool, &st);
	tap_ok(st.reserve_pages == TARGET, "trim keeps the target (%" PRIu64 ")",
	       st.reserve_pages);

	/* The reserve feeds any class, whatever its zspage size. */
	ok = 1;
	for (unsigned size = 32; size <= ZSPOOL_MAX_OBJ && ok; size += 48) {
		zspool_handle_t t;

		ok &= TAP_CHECK(zspool_alloc(pool, size, ZSPOOL_NOWAIT, &t) == 0);
		if (ok)
			zspool_free(pool, t);
	}
	tap_ok(ok, "NOWAIT works in every class from the reserve");

	zspool_set_reserve(pool, 0);
	zspool_trim(pool);
	zspool_stats(pool, &st);
	tap_ok(st.reserve_pages == 0 && st.reserve_target == 0,
	       "set_reserve(0) and trim empty it");
	tap_ok(zspool_alloc(pool, ZSPOOL_MAX_OBJ, ZSPOOL_NOWAIT, &small) == -ENOMEM,
	       "NOWAIT with no reserve: -ENOMEM");

	/* Metadata pages for the caller come from the same reserve. */
	{
		uint64_t meta0;
		void *pg;

		tap_ok(zspool_page_alloc(pool, ZSPOOL_NOWAIT) == NULL,
		       "page_alloc NOWAIT with no reserve: NULL");
		zspool_set_reserve(pool, 4);
		zspool_refill(pool);
		zspool_stats(pool, &st);
		meta0 = st.meta_bytes;
		pg = zspool_page_alloc(pool, ZSPOOL_NOWAIT);
		zspool_stats(pool, &st);
		tap_ok(pg && st.reserve_pages == 3 && st.pages_used == 0 &&
		       st.meta_bytes == meta0 + ZSPOOL_PAGE_SIZE,
		       "page_alloc NOWAIT takes a reserve page, counted as metadata");
		if (pg) {
			memset(pg, 0xa5, ZSPOOL_PAGE_SIZE);
			zspool_page_free(pool, pg);
		}
		zspool_stats(pool, &st);
		tap_ok(st.reserve_pages == 4 && st.meta_bytes == meta0,
		       "page_free gives it back");
	}
	tap_ok(zspool_check(pool) == 0, "check");
	zspool_destroy(pool);

	ok = 1;
	for (unsigned r = 0; r < RACE_ROUNDS && ok; r++)
		ok &= refill_round();
	tap_ok(ok, "%d rounds of %d plain allocations beside refill passes: "
	       "all intact, all freed", RACE_ROUNDS, RACE_OBJS);
	return tap_done();
}
