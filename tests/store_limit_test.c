// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_limit_test: the memory limit and the reserve.
 *
 * mem_limit: fill until -ENOSPC; every byte written before is intact, the
 * page whose write failed keeps its old content, failed_writes counts;
 * discard some, drain, and writing succeeds again.  A write that meets the
 * limit while frees are still queued waits for them instead of failing.
 *
 * nowait_writes, memory short (headroom_min UINT64_MAX: writers never
 * fault pages in): with no reserve, a write needing a new page fails at
 * once with -ENOMEM (nowait_failed counts) while reads still work; with a
 * reserve, the refiller tops it up and writes go through.
 *
 * nowait_writes, memory plentiful (the default headroom_min, on a machine
 * with that much room): with no reserve at all, every write succeeds, the
 * writers faulting pages in themselves (reserve_grown counts them).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reserve.h"
#include "store_test.h"

#define PAGE STORE_PAGE_SIZE
#define LIMIT (2u << 20)
#define MAXPAGES 4096

static unsigned char *model;

static int verify(struct store_file *f, uint64_t pages)
{
	unsigned char page[PAGE];

	for (uint64_t i = 0; i < pages; i++) {
		if (store_read(f, page, PAGE, i * PAGE) != PAGE ||
		    memcmp(page, model + i * PAGE, PAGE) != 0) {
			tap_diag("page %llu differs", (unsigned long long)i);
			return 0;
		}
	}
	return 1;
}

static void test_limit(uint64_t seed)
{
	struct store *st = st_create(NULL, LIMIT, true);
	struct store_file *f;
	struct store_stats s;
	unsigned char page[PAGE];
	uint64_t rng = seed, n = 0, again = 0;
	ssize_t r = 0;

	if (!tap_ok(st && store_file_create(st, &f) == 0, "limit: create"))
		return;
	memset(model, 0, (size_t)MAXPAGES * PAGE);
	while (n < MAXPAGES) {
		st_fill(model + n * PAGE, PAGE, 2 + (int)(n % 3), &rng);
		r = store_write(f, model + n * PAGE, PAGE, n * PAGE);
		if (r != PAGE)
			break;
		n++;
	}
	memset(model + n * PAGE, 0, PAGE);
	tap_ok(r == -ENOSPC, "limit: -ENOSPC after %llu pages (%zd)", (unsigned long long)n, r);
	store_stats(st, &s);
	tap_ok(s.mem_used_total <= LIMIT && s.mem_used_total > LIMIT / 2 &&
	       s.failed_writes == 1 && s.mem_limit == LIMIT,
	       "limit: %llu of %u bytes in use, failed_writes %llu",
	       (unsigned long long)s.mem_used_total, LIMIT,
	       (unsigned long long)s.failed_writes);
	tap_ok(verify(f, n + 1), "limit: every page written before is intact, the failed one a hole");

	/* Overwriting a stored page with a raw page fails and keeps it. */
	for (int i = 0; i < 64; i++) {
		st_fill(page, PAGE, 4, &rng);
		r = store_write(f, page, PAGE, (uint64_t)i * PAGE);
		if (r != PAGE)
			break;
		memcpy(model + (uint64_t)i * PAGE, page, PAGE);
	}
	tap_ok(r == -ENOSPC && verify(f, n), "limit: a failed overwrite keeps the old content");

	/* Partial writes too. */
	r = store_write(f, page, 100, 3 * PAGE + 50);
	if (r > 0)
		memcpy(model + 3 * PAGE + 50, page, 100);
	tap_ok((r == 100 || r == -ENOSPC) && verify(f, n), "limit: partial write at the limit (%zd)", r);

	/*
	 * A discard whose partial head page cannot be re-encoded at the
	 * limit still frees its whole pages (they are detached first).
	 */
	{
		struct store_stats s0, s1;
		unsigned char saved_head[PAGE];

		memcpy(saved_head, model + (n - 3) * PAGE, PAGE);
		store_stats(st, &s0);
		r = store_discard(f, (n - 3) * PAGE + 100, 3 * PAGE - 100);
		memset(model + (n - 3) * PAGE + 100, 0, 3 * PAGE - 100);
		store_drain(st);
		store_stats(st, &s1);
		tap_ok((r == 0 || r == -ENOSPC) &&
		       s1.orig_data_size == s0.orig_data_size - 2 * PAGE,
		       "limit: discard frees its whole pages even when the head fails (%d)",
		       (int)r);
		if (r < 0)	/* the head page kept its old bytes */
			memcpy(model + (n - 3) * PAGE + 100,
			       saved_head + 100, PAGE - 100);
		tap_ok(verify(f, n), "limit: the rest intact after that discard");
	}

	/* Discard half, drain: room again. */
	store_discard(f, 0, n / 2 * PAGE);
	memset(model, 0, n / 2 * PAGE);
	store_drain(st);
	for (uint64_t i = 0; i < n / 4; i++) {
		st_fill(model + i * PAGE, PAGE, 2 + (int)(i % 3), &rng);
		if (store_write(f, model + i * PAGE, PAGE, i * PAGE) == PAGE)
			again++;
	}
	tap_ok(again == n / 4 && verify(f, n), "limit: after discard + drain, %llu pages written again",
	       (unsigned long long)again);

	/*
	 * Fill again to the limit, then discard and write at once: the
	 * write must wait for the queued frees, not fail.
	 */
	for (uint64_t i = n / 4; i < n / 2; i++) {
		st_fill(model + i * PAGE, PAGE, 4, &rng);
		if (store_write(f, model + i * PAGE, PAGE, i * PAGE) != PAGE) {
			memset(model + i * PAGE, 0, PAGE);
			break;
		}
	}
	store_discard(f, 0, n / 4 * PAGE);
	memset(model, 0, n / 4 * PAGE);
	again = 0;
	for (uint64_t i = 0; i < n / 8; i++) {
		st_fill(model + i * PAGE, PAGE, 2, &rng);
		if (store_write(f, model + i * PAGE, PAGE, i * PAGE) == PAGE)
			again++;
	}
	tap_ok(again == n / 8, "limit: writes right after a discard wait for the queued frees (%llu/%llu)",
	       (unsigned long long)again, (unsigned long long)(n / 8));
	tap_ok(verify(f, n), "limit: contents still exact");

	/* Raising the limit lets the write through. */
	store_set_mem_limit(st, 0);
	st_fill(page, PAGE, 4, &rng);
	tap_ok(store_write(f, page, PAGE, (uint64_t)MAXPAGES * PAGE) == PAGE,
	       "limit: no limit, write succeeds");
	store_reset_mem_used_max(st);
	store_stats(st, &s);
	tap_ok(s.mem_used_max == s.mem_used_total, "limit: mem_used_max reset");
	store_file_destroy(f);
	tap_ok(st_empty(st), "limit: 0 pages in use after destroy + drain");
	store_destroy(st);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void test_nowait(uint64_t seed)
{
	struct store_config cfg = { .deferred_free = true, .nowait_writes = true,
				    .headroom_min = UINT64_MAX };
	struct store *st;
	struct store_file *f;
	struct store_stats s;
	unsigned char page[PAGE], out[PAGE];
	uint64_t rng = seed, ok = 0, refused = 0;
	ssize_t r;
	int i;

	if (!tap_ok(store_create(&cfg, &st) == 0 && store_file_create(st, &f) == 0,
		    "nowait: create"))
		return;
	st_fill(page, PAGE, 4, &rng);
	r = store_write(f, page, PAGE, 0);
	store_stats(st, &s);
	tap_ok(r == -ENOMEM && s.nowait_failed == 1 && s.failed_writes == 1,
	       "nowait, no reserve: -ENOMEM at once (%zd)", r);
	store_set_reserve(st, 64);
	for (i = 0; i < 2000; i++) {
		store_stats(st, &s);
		if (s.reserve_pages >= 64)
			break;
		sleep_ms(1);
	}
	tap_ok(s.reserve_pages >= 64 && s.reserve_target == 64,
	       "nowait: refiller filled the reserve (%llu of %llu)",
	       (unsigned long long)s.reserve_pages, (unsigned long long)s.reserve_target);
	/* Its table pages came from the reserve; the page itself needs none. */
	st_fill(page, PAGE, 1, &rng);
	tap_ok(store_write(f, page, PAGE, 0) == PAGE &&
	       store_read(f, out, PAGE, 0) == PAGE && !memcmp(out, page, PAGE),
	       "nowait: a same-filled page is stored from the reserve");
	store_stats(st, &s);
	tap_ok(s.same_pages == 1 && s.mem_used_total == 0 && s.table_bytes > 0,
	       "nowait: it took table pages only (%llu table bytes)",
	       (unsigned long long)s.table_bytes);

	/* 512 raw pages = 512 new pages: more than the reserve, so some
	 * writes are refused and succeed once the refiller caught up. */
	for (uint64_t n = 0; n < 512; n++) {
		st_fill(model + n * PAGE, PAGE, 4, &rng);
		for (i = 0; i < 1000; i++) {
			r = store_write(f, model + n * PAGE, PAGE, (n + 1) * PAGE);
			if (r != -ENOMEM)
				break;
			refused++;
			sleep_ms(1);
		}
		if (r == PAGE)
			ok++;
	}
	store_stats(st, &s);
	tap_ok(ok == 512, "nowait + reserve: 512 raw pages stored (%llu refusals retried)",
	       (unsigned long long)refused);
	tap_ok(s.nowait_failed == 1 + refused, "nowait: nowait_failed %llu",
	       (unsigned long long)s.nowait_failed);
	/* Reads of stored pages never allocate. */
	store_set_reserve(st, 0);
	store_compact(st);
	store_drain(st);
	{
		int good = 1;

		for (uint64_t n = 0; n < 512 && good; n++)
			good = store_read(f, out, PAGE, (n + 1) * PAGE) == PAGE &&
			       !memcmp(out, model + n * PAGE, PAGE);
		tap_ok(good, "nowait: every page reads back with the reserve gone");
	}
	store_file_destroy(f);
	tap_ok(st_empty(st), "nowait: 0 pages in use after destroy + drain");
	store_destroy(st);
}

static void test_nowait_grow(uint64_t seed)
{
	struct store_config cfg = { .deferred_free = true, .nowait_writes = true };
	uint64_t rng = seed, room = headroom_measure(), bad = 0;
	struct store *st;
	struct store_file *f;
	struct store_stats s;
	unsigned char out[PAGE];

	if (room < (128ull << 20)) {
		/* not a machine with memory to spare: nothing to assert */
		tap_ok(1, "# SKIP nowait, plentiful: only %llu bytes of headroom",
		       (unsigned long long)room);
		return;
	}
	if (!tap_ok(store_create(&cfg, &st) == 0 && store_file_create(st, &f) == 0,
		    "nowait, plentiful: create"))
		return;
	for (uint64_t n = 0; n < 512; n++) {
		st_fill(model + n * PAGE, PAGE, 4, &rng);
		bad += store_write(f, model + n * PAGE, PAGE, n * PAGE) != PAGE;
	}
	for (uint64_t n = 0; n < 512; n++)
		bad += store_read(f, out, PAGE, n * PAGE) != PAGE ||
		       memcmp(out, model + n * PAGE, PAGE) != 0;
	store_stats(st, &s);
	tap_ok(bad == 0 && s.nowait_failed == 0 && s.failed_writes == 0,
	       "nowait, plentiful, no reserve: 512 raw pages stored and read back "
	       "(%llu bad, %llu refused)", (unsigned long long)bad,
	       (unsigned long long)s.nowait_failed);
	tap_ok(s.reserve_grown >= 512, "nowait, plentiful: the writer faulted in "
	       "%llu pages itself", (unsigned long long)s.reserve_grown);
	store_file_destroy(f);
	tap_ok(st_empty(st), "nowait, plentiful: 0 pages in use after destroy + drain");
	store_destroy(st);
}

int main(void)
{
	uint64_t seed = tap_seed();

	model = calloc(MAXPAGES + 1, PAGE);
	test_limit(seed);
	test_nowait(seed);
	test_nowait_grow(seed);
	free(model);
	return tap_done();
}
