// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_recomp_test: read-back tracking and the recompression of read-back
 * pages (PP_READBACK, as src/recomp.c runs it), one thread, against a
 * model.  A read marks a page read back and a write or discard unmarks it;
 * a pass tries exactly the read-back objects, keeps a new encoding only
 * when it is smaller, marks the rest incompressible, and every page reads
 * back intact - whole, in part, and after a partial write over a
 * recompressed page.  Without a recompression codec the pass is refused.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pp.h"
#include "store_test.h"

#define PAGE STORE_PAGE_SIZE
#define NPAGES 96
#define BYTES ((size_t)NPAGES * PAGE)

static unsigned char model[BYTES], buf[BYTES];

/* One pass over the read-back pages; *@done: pages recompressed. */
static int pass(struct store *st, uint64_t *done)
{
	struct pp_recompress r = { .mode = PP_READBACK, .prio = 1,
				   .prio_max = PP_MAX_COMPS };

	return store_recompress(st, &r, 0, done);
}

static int matches(struct store_file *f)
{
	memset(buf, 0xee, BYTES);
	return store_read(f, buf, BYTES, 0) == (ssize_t)BYTES &&
	       memcmp(buf, model, BYTES) == 0;
}

static struct store *make(const char *recomp, uint64_t reserve)
{
	struct store_config cfg = {
		.comp = "lz4", .recomp = recomp, .reserve_pages = reserve,
	};
	struct store *st = NULL;
	int ret = store_create(&cfg, &st);

	if (ret < 0) {
		tap_diag("store_create: %s", strerror(-ret));
		return NULL;
	}
	/* The refill thread fills the reserve, which recompression uses. */
	for (int i = 0; i < 500; i++) {
		struct store_stats s;

		store_stats(st, &s);
		if (s.reserve_pages >= reserve)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	return st;
}

/* Kinds per page: text and binary shrink under zstd, random does not. */
static int kind_of(size_t i)
{
	static const int kinds[] = { 2, 3, 2, 4, 0, 1, 3, 2 };

	return kinds[i % 8];
}

/* Objects (not same-filled pages) among pages [lo, hi). */
static uint64_t objects(size_t lo, size_t hi)
{
	uint64_t n = 0;

	for (size_t i = lo; i < hi; i++)
		n += kind_of(i) >= 2;
	return n;
}

static void test_recompress(uint64_t seed)
{
	struct store *st = make("zstd", 1024);
	struct store_file *f;
	struct store_stats a, b, c;
	uint64_t rng = seed, done;
	const uint64_t half = objects(0, NPAGES / 2);
	unsigned char part[100];
	int ret;

	if (!tap_ok(st && store_file_create(st, &f) == 0, "create lz4 + zstd"))
		return;
	for (size_t i = 0; i < NPAGES; i++)
		st_fill(model + i * PAGE, PAGE, kind_of(i), &rng);
	tap_ok(store_write(f, model, BYTES, 0) == (ssize_t)BYTES, "write %d pages", NPAGES);
	store_stats(st, &a);
	tap_ok(a.readback_pages == 0 && a.readback_todo == 0,
	       "nothing read back before a read (%llu)",
	       (unsigned long long)a.readback_pages);
	ret = pass(st, &done);
	tap_ok(ret == 0 && done == 0,
	       "a pass before any read does nothing (%llu)", (unsigned long long)done);

	/* Read the first half: only it becomes read back. */
	tap_ok(store_read(f, buf, BYTES / 2, 0) == (ssize_t)(BYTES / 2) &&
	       !memcmp(buf, model, BYTES / 2), "read the first half");
	store_stats(st, &a);
	tap_ok(a.readback_pages == NPAGES / 2 && a.readback_todo == half,
	       "the first half is read back: %llu pages, %llu objects to try (want %d, %llu)",
	       (unsigned long long)a.readback_pages, (unsigned long long)a.readback_todo,
	       NPAGES / 2, (unsigned long long)half);

	ret = pass(st, &done);
	store_stats(st, &b);
	tap_ok(ret == 0 && b.readback_todo == 0 && done > 0 && done < half &&
	       b.readback_recomp == done && b.compr_data_size < a.compr_data_size &&
	       b.orig_data_size == a.orig_data_size,
	       "a pass tries exactly those: text and binary shrank, random did not: %llu of %llu, compr %llu -> %llu",
	       (unsigned long long)done, (unsigned long long)half,
	       (unsigned long long)a.compr_data_size, (unsigned long long)b.compr_data_size);
	tap_ok(a.readback_compr - b.readback_compr == a.compr_data_size - b.compr_data_size,
	       "read-back bytes fell by what was saved");
	tap_ok(store_read(f, buf, BYTES / 2, 0) == (ssize_t)(BYTES / 2) &&
	       !memcmp(buf, model, BYTES / 2), "the recompressed half reads back intact");
	ret = pass(st, &done);
	store_stats(st, &c);
	tap_ok(ret == 0 && done == 0 && c.compr_data_size == b.compr_data_size,
	       "nothing is tried twice, also not the pages that did not shrink");

	/* Part of a recompressed page (page 2 is text), and a partial write. */
	tap_ok(store_read(f, part, sizeof(part), 2 * PAGE + 1000) == (ssize_t)sizeof(part) &&
	       !memcmp(part, model + 2 * PAGE + 1000, sizeof(part)),
	       "a partial read of a recompressed page");
	memset(part, 'x', sizeof(part));
	memcpy(model + 2 * PAGE + 3000, part, sizeof(part));
	tap_ok(store_write(f, part, sizeof(part), 2 * PAGE + 3000) == (ssize_t)sizeof(part),
	       "a partial write over a recompressed page");

	/* Overwrites and discards leave no marks behind. */
	st_fill(model, PAGE, 2, &rng);
	tap_ok(store_write(f, model, PAGE, 0) == PAGE &&
	       store_discard(f, PAGE, PAGE) == 0, "overwrite page 0, discard page 1");
	memset(model + PAGE, 0, PAGE);
	store_stats(st, &c);
	tap_ok(c.readback_todo == 0 && c.readback_pages == NPAGES / 2 - 3 &&
	       c.readback_recomp < b.readback_recomp,
	       "the rewritten and discarded pages are no longer read back (%llu pages)",
	       (unsigned long long)c.readback_pages);
	tap_ok(matches(f), "the whole file matches the model");
	store_stats(st, &c);
	tap_ok(c.readback_todo == objects(NPAGES / 2, NPAGES) + 2,
	       "that read made the second half and the two rewritten pages candidates (%llu)",
	       (unsigned long long)c.readback_todo);
	ret = pass(st, &done);
	store_stats(st, &b);
	tap_ok(ret == 0 && done > 0 && b.readback_todo == 0 && matches(f),
	       "they are tried, and the file still matches (%llu recompressed)",
	       (unsigned long long)done);

	store_file_destroy(f);
	store_stats(st, &c);
	tap_ok(st_empty(st) && c.readback_pages == 0 && c.readback_recomp == 0 &&
	       c.readback_todo == 0 && c.readback_compr == 0,
	       "destroy: nothing stored, no read-back or recompressed page counted");
	store_destroy(st);
}

static void test_refusals(void)
{
	struct store *st = make(NULL, 64);
	uint64_t done = 7;

	tap_ok(st && pass(st, &done) == -EINVAL && done == 0 &&
	       store_recomp_name(st, 1, NULL) == NULL,
	       "no recompression codec: refused with EINVAL");
	store_destroy(st);
}

int main(void)
{
	uint64_t seed = tap_seed();

	test_recompress(seed);
	test_refusals();
	return tap_done();
}
