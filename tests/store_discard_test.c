// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_discard_test: punching holes, with deferred and with synchronous
 * freeing.  Partial pages at the ends are zeroed in place, whole pages are
 * freed (after store_drain() when deferred - the statistics prove it),
 * data outside the range is untouched; a full queue falls back to freeing
 * synchronously and counts it; destroying a file hands its table to
 * reclaim and, after a drain, leaves no page in use.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_test.h"

#define PAGE STORE_PAGE_SIZE
#define NPAGES 256
#define BYTES (NPAGES * PAGE)

static unsigned char model[BYTES], buf[BYTES];

static int fill_file(struct store_file *f, uint64_t *rng)
{
	for (int i = 0; i < NPAGES; i++)
		/* text, binary and random pages: real objects (no same-filled) */
		st_fill(model + (size_t)i * PAGE, PAGE, 2 + i % 3, rng);
	return store_write(f, model, BYTES, 0) == BYTES;
}

static int matches(struct store_file *f)
{
	if (store_read(f, buf, BYTES, 0) != BYTES)
		return 0;
	for (size_t i = 0; i < BYTES; i++)
		if (buf[i] != model[i]) {
			tap_diag("byte %zu (page %zu): got %#x want %#x", i,
				 i / PAGE, buf[i], model[i]);
			return 0;
		}
	return 1;
}

static void test_discard(bool deferred, uint64_t seed)
{
	const char *mode = deferred ? "deferred" : "sync";
	struct store *st = st_create(NULL, 0, deferred);
	struct store_file *f;
	struct store_stats s0, s1, s2;
	uint64_t rng = seed, pages0, pages1, off, len, at;

	if (!tap_ok(st && store_file_create(st, &f) == 0, "%s: create", mode))
		return;
	tap_ok(fill_file(f, &rng), "%s: fill %d pages", mode, NPAGES);
	store_drain(st);
	store_stats(st, &s0);
	store_file_usage(f, &pages0, NULL);

	/* [page 10 + 1000, page 110 + 3000): 99 whole pages, two partial */
	off = 10 * PAGE + 1000;
	len = 100 * PAGE + 2000;
	tap_ok(store_discard(f, off, len) == 0, "%s: discard an unaligned range", mode);
	memset(model + off, 0, len);
	store_stats(st, &s1);
	store_file_usage(f, &pages1, NULL);
	tap_ok(pages0 - pages1 == 99 && s0.orig_data_size - s1.orig_data_size == 99 * PAGE,
	       "%s: 99 whole pages detached at once (file %llu -> %llu pages)", mode,
	       (unsigned long long)pages0, (unsigned long long)pages1);
	tap_ok(s1.notify_free - s0.notify_free == 99, "%s: notify_free +99", mode);
	tap_ok(matches(f), "%s: partial ends zeroed, everything outside intact", mode);
	if (!deferred)
		tap_ok(s1.mem_used_total < s0.mem_used_total && s1.reclaim_queued_pages == 0 &&
		       s1.reclaim_batches == 0,
		       "sync: freed at once, nothing queued (%llu -> %llu bytes)",
		       (unsigned long long)s0.mem_used_total,
		       (unsigned long long)s1.mem_used_total);
	store_drain(st);
	store_stats(st, &s2);
	tap_ok(s2.reclaim_queued_pages == 0 && s2.reclaim_queued_bytes == 0,
	       "%s: nothing queued after the drain", mode);
	tap_ok(s2.mem_used_total < s0.mem_used_total &&
	       s2.compr_data_size < s0.compr_data_size,
	       "%s: memory freed: %llu -> %llu bytes in use", mode,
	       (unsigned long long)s0.mem_used_total,
	       (unsigned long long)s2.mem_used_total);
	if (deferred)
		tap_ok(s2.reclaim_freed_pages - s0.reclaim_freed_pages == 99 &&
		       s2.reclaim_batches > s0.reclaim_batches && s2.reclaim_sync_frees == 0,
		       "deferred: the reclaim thread freed the 99 objects (%llu batches)",
		       (unsigned long long)(s2.reclaim_batches - s0.reclaim_batches));

	/* A discard inside one page zeroes it; a page zeroed whole is a hole. */
	tap_ok(store_discard(f, 200 * PAGE + 5, 100) == 0, "%s: discard inside a page", mode);
	memset(model + 200 * PAGE + 5, 0, 100);
	tap_ok(store_discard(f, 201 * PAGE, PAGE - 1) == 0 &&
	       store_discard(f, 202 * PAGE - 1, 1) == 0, "%s: zero a page in two parts", mode);
	memset(model + 201 * PAGE, 0, PAGE);
	tap_ok(matches(f), "%s: in-page discards", mode);
	tap_ok(store_seek(f, 201 * PAGE, SEEK_HOLE, BYTES, &at) == 0 && at == 201 * PAGE,
	       "%s: the page zeroed in parts became a hole", mode);

	/* Over a hole: nothing to do, no table allocated. */
	store_stats(st, &s1);
	tap_ok(store_discard(f, 1ull << 40, 1ull << 30) == 0, "%s: discard of a far hole", mode);
	store_stats(st, &s2);
	tap_ok(s2.table_bytes == s1.table_bytes, "%s: ... allocates no table", mode);

	/* Rewrite after discard. */
	st_fill(model + 50 * PAGE, 3 * PAGE, 2, &rng);
	tap_ok(store_write(f, model + 50 * PAGE, 3 * PAGE, 50 * PAGE) == 3 * PAGE &&
	       matches(f), "%s: rewrite into the hole", mode);

	store_file_destroy(f);
	if (!deferred) {
		/* no thread trims after synchronous frees: they must give back */
		store_stats(st, &s2);
		tap_ok(s2.reserve_pages <= s2.reserve_target,
		       "sync: the emptied pages went back to the kernel at once (%llu free pages kept, target %llu)",
		       (unsigned long long)s2.reserve_pages,
		       (unsigned long long)s2.reserve_target);
	}
	tap_ok(st_empty(st), "%s: destroy + drain: 0 pages in use", mode);
	store_destroy(st);
}

/* A queue of 16 handles: the rest of a big discard is freed in place. */
static void test_queue_full(uint64_t seed)
{
	struct store_config cfg = { .deferred_free = true, .reclaim_queue_max = 16 };
	struct store *st;
	struct store_file *f;
	struct store_stats s;
	uint64_t rng = seed;

	if (!tap_ok(store_create(&cfg, &st) == 0 && store_file_create(st, &f) == 0,
		    "queue_max 16: create"))
		return;
	fill_file(f, &rng);
	tap_ok(store_discard(f, 0, BYTES) == 0, "queue_max 16: discard all");
	store_stats(st, &s);
	tap_ok(s.reclaim_sync_frees > 0 && s.reclaim_queued_pages <= 16,
	       "queue_max 16: %llu freed synchronously, %llu queued",
	       (unsigned long long)s.reclaim_sync_frees,
	       (unsigned long long)s.reclaim_queued_pages);
	store_file_destroy(f);
	tap_ok(st_empty(st), "queue_max 16: 0 pages in use after the drain");
	store_destroy(st);
}

/* Destroy returns before the pages are freed; the drain frees them. */
static void test_destroy(uint64_t seed)
{
	struct store *st = st_create(NULL, 0, true);
	struct store_file *f[4];
	struct store_stats s;
	uint64_t rng = seed, objs = 0;

	if (!tap_ok(st != NULL, "destroy: create"))
		return;
	for (int i = 0; i < 4; i++) {
		uint64_t pages;

		store_file_create(st, &f[i]);
		fill_file(f[i], &rng);
		store_file_usage(f[i], &pages, NULL);
		objs += pages;
	}
	for (int i = 0; i < 4; i++)
		store_file_destroy(f[i]);
	store_drain(st);
	store_stats(st, &s);
	tap_ok(s.reclaim_freed_pages == objs && s.mem_used_total == 0 &&
	       s.orig_data_size == 0 && s.table_bytes == 0,
	       "destroy: reclaim freed all %llu objects, 0 bytes in use, no table",
	       (unsigned long long)objs);
	store_destroy(st);
}

/*
 * Discarding every other page leaves the zspages half empty; after the
 * drain the reclaim thread compacts on its own (zsmalloc's shrinker would),
 * so the memory really comes back, and what is left reads back right.
 */
static void test_auto_compact(uint64_t seed)
{
	struct store_config cfg = { .deferred_free = true };
	struct store *st;
	struct store_file *f;
	struct store_stats a, b;
	uint64_t rng = seed;
	unsigned char page[PAGE], out[PAGE];
	const unsigned n = 4096;
	int ok = 1;

	if (!tap_ok(store_create(&cfg, &st) == 0 && store_file_create(st, &f) == 0,
		    "auto-compact: create"))
		return;
	for (unsigned i = 0; i < n && ok; i++) {
		st_fill(page, PAGE, 2, &rng);	/* text: a few classes */
		ok = store_write(f, page, PAGE, (uint64_t)i * PAGE) == PAGE;
	}
	store_stats(st, &a);
	for (unsigned i = 0; i < n; i += 2)
		store_discard(f, (uint64_t)i * PAGE, PAGE);
	store_drain(st);
	/*
	 * The worker compacts just after a drain it reports, and may have
	 * compacted already after an earlier drain: wait (up to 2 s) for
	 * the memory, not for the first compaction.
	 */
	for (int i = 0; i < 200; i++) {
		store_stats(st, &b);
		if (b.mem_used_total < a.mem_used_total * 2 / 3)
			break;
		usleep(10000);
	}
	tap_ok(ok && b.pages_compacted > 0 &&
	       b.mem_used_total < a.mem_used_total * 2 / 3,
	       "auto-compact: half discarded, mem_used_total %llu -> %llu, %llu pages compacted",
	       (unsigned long long)a.mem_used_total,
	       (unsigned long long)b.mem_used_total,
	       (unsigned long long)b.pages_compacted);
	rng = seed;
	for (unsigned i = 0; i < n && ok; i++) {
		st_fill(page, PAGE, 2, &rng);
		if (i % 2 == 0)
			memset(page, 0, PAGE);
		ok = store_read(f, out, PAGE, (uint64_t)i * PAGE) == PAGE &&
		     !memcmp(out, page, PAGE);
	}
	tap_ok(ok, "auto-compact: every page reads back after compaction");
	store_file_destroy(f);
	tap_ok(st_empty(st), "auto-compact: 0 pages in use after destroy");
	store_destroy(st);
}

int main(void)
{
	uint64_t seed = tap_seed();

	test_discard(true, seed);
	test_discard(false, seed);
	test_queue_full(seed);
	test_destroy(seed);
	test_auto_compact(seed);
	return tap_done();
}
