/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory really goes back to the kernel: fill a pool with ~80 MiB of
 * objects, free a random half, compact and trim, and see the process's
 * RSS (/proc/self/smaps) fall with pages_used; free the rest and see RSS
 * return near where it started; a compaction told to keep pages keeps
 * them, and the next objects take them without a fault.  The second round runs under
 * mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT), as the daemon does,
 * where plain MADV_DONTNEED fails and MADV_DONTNEED_LOCKED must be used
 * (skipped when mlockall is not permitted, and under the sanitizers, whose
 * mlockall() interceptor does nothing).
 *
 * Every build checks that RSS falls by (nearly) the pages the pool gives
 * back.  RSS is measured without the sanitizers' shadow memory
 * (zt_rss_kib()): ASan and TSan keep the shadow of every page the pool has
 * touched, and madvise(), which they do not intercept, gives back the
 * pool's pages but not their shadow.
 *
 * Whether RSS then returns near where it started is checked where the rest
 * of RSS is ours: not under ThreadSanitizer, which also keeps a sync
 * object (in slabs of its own, in ordinary anonymous mappings) for every
 * address used atomically - the pool's handle lock bits among them - until
 * the memory is unmapped or freed; madvise() does neither.  That is about
 * 9 MiB for this test's 50,000 handles, and it cannot be told from ours.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "zspool_test.h"

#define NOBJ 50000
#define SLACK_KIB (3 * 1024)	/* descriptors, handle table, libc noise */
#define KEEP 2048u		/* pages a compaction keeps (zspool_compact_keep) */

#ifdef __SANITIZE_THREAD__
#define RSS_OURS 0		/* see above: TSan's sync objects */
#else
#define RSS_OURS 1
#endif

static zspool_handle_t h[NOBJ];

static void round_(const char *what, uint64_t rng)
{
	unsigned char buf[ZSPOOL_MAX_OBJ];
	struct zspool_stats st;
	struct zspool *pool;
	long rss0, rss1, rss2, rss3, shadow0, shadow3;
	uint64_t used1, used2;
	int ok = 1;

	if (!tap_ok(zspool_create(NULL, &pool) == 0, "%s: create", what))
		return;
	rss0 = zt_rss_kib_shadow(&shadow0);
	for (unsigned i = 0; i < NOBJ; i++) {
		size_t size = zt_size(&rng);

		if (zspool_alloc(pool, size, 0, &h[i])) {
			ok = TAP_CHECK(0);
			break;
		}
		zt_fill(buf, size, i);
		zspool_write(pool, h[i], buf, size);
	}
	zspool_stats(pool, &st);
	used1 = st.pages_used * 4;
	rss1 = zt_rss_kib();
	tap_ok(ok && rss1 - rss0 >= (long)used1 * 9 / 10,
	       "%s: filled, pages_used %" PRIu64 " KiB, RSS +%ld KiB", what,
	       used1, rss1 - rss0);

	/* a random half */
	for (unsigned i = NOBJ; i > 1; i--) {
		unsigned j = tap_rand(&rng) % i;
		zspool_handle_t t = h[i - 1];

		h[i - 1] = h[j];
		h[j] = t;
	}
	zspool_free_batch(pool, h, NOBJ / 2);
	{
		/* trim_runs releases long runs only; trim the rest */
		uint64_t before, runs, rest;

		zspool_stats(pool, &st);
		before = st.reserve_pages;
		runs = zspool_trim_runs(pool, 16);
		rest = zspool_trim(pool);
		zspool_stats(pool, &st);
		tap_ok(runs + rest == before && st.reserve_pages == 0,
		       "%s: trim_runs(16) released %" PRIu64 ", trim %" PRIu64
		       " more of %" PRIu64 " free pages", what, runs, rest, before);
	}
	{
		/*
		 * A compaction that keeps KEEP freed pages resident: the next
		 * objects take them, with no fault (RSS stays put) and no
		 * page of the reserve's released ones.
		 */
		uint64_t freed, used_k, res_k;
		long rss_k, rss_a;
		unsigned n = 0;

		freed = zspool_compact_keep(pool, KEEP);
		zspool_stats(pool, &st);
		used_k = st.pages_used;
		res_k = st.reserve_pages;
		tap_ok(freed > KEEP && res_k == KEEP,
		       "%s: compact_keep(%u) freed %" PRIu64 ", %" PRIu64
		       " kept resident", what, KEEP, freed, res_k);
		rss_k = zt_rss_kib();
		ok = 1;
		while (ok && n < NOBJ / 2) {
			zspool_stats(pool, &st);
			if (st.reserve_pages < 8)
				break;
			ok = TAP_CHECK(zspool_alloc(pool, 2048, 0, &h[n]) == 0);
			if (ok)
				zspool_write(pool, h[n++], buf, 2048);
		}
		zspool_stats(pool, &st);
		rss_a = zt_rss_kib();
		/* the kept pages hold the new zspages and their descriptors */
		tap_ok(ok && n > KEEP && st.pages_used - used_k > KEEP * 9 / 10 &&
		       st.pages_used - used_k <= res_k - st.reserve_pages &&
		       rss_a - rss_k <= SLACK_KIB,
		       "%s: %u new objects: pages_used +%" PRIu64 ", %" PRIu64
		       " kept pages taken, RSS +%ld KiB", what, n,
		       st.pages_used - used_k, res_k - st.reserve_pages,
		       rss_a - rss_k);
		zspool_free_batch(pool, h, n);
	}
	{
		/*
		 * The demand: what allocations took lately (the objects just
		 * made and freed, at least), and nothing once none came for
		 * 50 ms after a call that saw the last.  zspool_tidy() keeps
		 * it, capped, and then nothing.
		 */
		uint64_t d1, d2, kept;

		d1 = zspool_tidy(pool, false);
		zspool_stats(pool, &st);
		kept = st.reserve_pages;
		nanosleep(&(struct timespec){ .tv_nsec = 60000000 }, NULL);
		d2 = zspool_tidy(pool, true);
		zspool_stats(pool, &st);
		tap_ok(d1 > 0 && d1 <= ZSPOOL_KEEP_MAX && kept > 0 && kept <= d1 &&
		       d2 == 0 && st.reserve_pages == 0,
		       "%s: demand %" PRIu64 " pages kept %" PRIu64 "; idle: demand %"
		       PRIu64 ", %" PRIu64 " kept", what, d1, kept, d2,
		       st.reserve_pages);
	}
	zspool_compact(pool);
	zspool_trim(pool);
	zspool_stats(pool, &st);
	used2 = st.pages_used * 4;
	rss2 = zt_rss_kib();
	tap_ok(used2 < used1 * 6 / 10 &&
	       rss1 - rss2 >= (long)(used1 - used2) * 9 / 10 &&
	       (!RSS_OURS || rss2 - rss0 <= (long)used2 + SLACK_KIB),
	       "%s: half freed and compacted: pages_used %" PRIu64 " KiB, RSS +%ld KiB",
	       what, used2, rss2 - rss0);

	ok = 1;
	for (unsigned i = NOBJ / 2; i < NOBJ; i++) {
		zspool_read(pool, h[i], buf, zspool_obj_size(pool, h[i]));
		ok &= TAP_CHECK(zspool_obj_size(pool, h[i]) > 0);
	}
	zspool_free_batch(pool, h + NOBJ / 2, NOBJ - NOBJ / 2);
	zspool_compact(pool);
	zspool_trim(pool);
	zspool_stats(pool, &st);
	rss3 = zt_rss_kib_shadow(&shadow3);
	if (shadow3 > 0)
		tap_diag("%s: sanitizer shadow %ld KiB, +%ld KiB (not counted)",
			 what, shadow3, shadow3 - shadow0);
	tap_ok(ok && st.pages_used == 0 && st.reserve_pages == 0 &&
	       rss1 - rss3 >= (long)used1 * 9 / 10 &&
	       (!RSS_OURS || rss3 - rss0 <= SLACK_KIB),
	       "%s: all freed: pages_used %" PRIu64 ", RSS +%ld KiB (meta %" PRIu64
	       " KiB)", what, st.pages_used, rss3 - rss0, st.meta_bytes / 1024);
	zspool_destroy(pool);
}

int main(void)
{
	uint64_t seed = tap_seed();

	round_("plain", seed);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	tap_ok(1, "# SKIP mlockall under a sanitizer (its mlockall does nothing)");
#else
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0) {
		round_("mlockall", seed + 1);
		munlockall();
	} else {
		tap_ok(1, "# SKIP mlockall: %s", strerror(errno));
	}
#endif
	return tap_done();
}
