// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_basic_test: one thread, every codec built.  Unaligned writes and
 * reads across page boundaries against a flat model; holes and never
 * written pages read as zeros; same-filled and raw pages with their
 * statistics; a sparse 1 TiB file stays cheap; SEEK_DATA/SEEK_HOLE; I/O
 * beyond the table fails; destroy + drain leaves 0 pages in use.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "store_test.h"

#define PAGE STORE_PAGE_SIZE
#define FILE_PAGES 64
#define FILE_BYTES (FILE_PAGES * PAGE)

static unsigned char model[FILE_BYTES];
static unsigned char buf[FILE_BYTES + PAGE];

static int check_all(struct store_file *f)
{
	memset(buf, 0xee, FILE_BYTES);
	if (!TAP_CHECK(store_read(f, buf, FILE_BYTES, 0) == FILE_BYTES))
		return 0;
	for (size_t i = 0; i < FILE_BYTES; i++)
		if (buf[i] != model[i]) {
			tap_diag("byte %zu: got %#x want %#x", i, buf[i], model[i]);
			return 0;
		}
	return 1;
}

static void test_unaligned(const char *comp, uint64_t seed)
{
	struct store *st = st_create(comp, 0, true);
	struct store_file *f;
	struct store_stats s;
	uint64_t rng = seed, pages, compr;
	unsigned char src[3 * PAGE];
	int ok = 1, rd = 1;

	if (!tap_ok(st && store_file_create(st, &f) == 0, "%s: create", comp))
		return;
	memset(model, 0, sizeof(model));

	memset(buf, 0xee, 3 * PAGE);
	tap_ok(store_read(f, buf, 3 * PAGE, 5 * PAGE + 17) == 3 * PAGE &&
	       buf[0] == 0 && !memcmp(buf, buf + 1, 3 * PAGE - 1),
	       "%s: never-written pages read as zeros", comp);

	for (int i = 0; i < 400 && ok; i++) {
		size_t len = 1 + tap_rand(&rng) % (3 * PAGE);
		uint64_t off = tap_rand(&rng) % (FILE_BYTES - len + 1);
		uint64_t roff, rlen;

		st_fill(src, len, (int)(tap_rand(&rng) % 5), &rng);
		ok = TAP_CHECK(store_write(f, src, len, off) == (ssize_t)len);
		memcpy(model + off, src, len);
		/* read back an unaligned window around it */
		roff = off > 100 ? off - 100 : 0;
		rlen = len + 200;
		if (roff + rlen > FILE_BYTES)
			rlen = FILE_BYTES - roff;
		if (ok && !(TAP_CHECK(store_read(f, buf, rlen, roff) == (ssize_t)rlen) &&
			    TAP_CHECK(memcmp(buf, model + roff, rlen) == 0)))
			rd = 0;
	}
	tap_ok(ok, "%s: 400 unaligned writes", comp);
	tap_ok(rd, "%s: unaligned reads match the model after each write", comp);
	tap_ok(check_all(f), "%s: whole file matches the model", comp);

	store_stats(st, &s);
	store_file_usage(f, &pages, &compr);
	tap_ok(s.orig_data_size == pages * PAGE && s.compr_data_size == compr &&
	       pages <= FILE_PAGES && s.mem_used_total > 0 &&
	       s.mem_used_total <= s.mem_used_max,
	       "%s: stats agree with file usage (%llu pages, %llu bytes compressed)",
	       comp, (unsigned long long)pages, (unsigned long long)compr);

	/* Same-filled and raw pages, exactly counted. */
	store_discard(f, 0, FILE_BYTES);
	memset(model, 0, sizeof(model));
	store_drain(st);
	st_fill(src, PAGE, 0, &rng);
	store_write(f, src, PAGE, 0);
	st_fill(src, PAGE, 1, &rng);
	store_write(f, src, PAGE, PAGE);
	memcpy(model + PAGE, src, PAGE);
	st_fill(src, PAGE, 4, &rng);
	store_write(f, src, PAGE, 2 * PAGE);
	memcpy(model + 2 * PAGE, src, PAGE);
	st_fill(src, PAGE, 2, &rng);
	store_write(f, src, PAGE, 3 * PAGE);
	memcpy(model + 3 * PAGE, src, PAGE);
	store_stats(st, &s);
	tap_ok(s.same_pages == 2 && s.huge_pages == 1 &&
	       s.orig_data_size == 4 * PAGE &&
	       s.compr_data_size > PAGE && s.compr_data_size < 2 * PAGE,
	       "%s: zero + same-filled + raw + text: same %llu huge %llu orig %llu compr %llu",
	       comp, (unsigned long long)s.same_pages,
	       (unsigned long long)s.huge_pages,
	       (unsigned long long)s.orig_data_size,
	       (unsigned long long)s.compr_data_size);
	tap_ok(s.huge_pages_since >= 1, "%s: huge_pages_since counts", comp);
	tap_ok(check_all(f), "%s: same-filled and raw pages read back", comp);
	{
		uint64_t since = s.huge_pages_since;

		/* a raw page over a raw page: still one huge page, but
		 * huge_pages_since counts every one stored, as zram's */
		st_fill(src, PAGE, 4, &rng);
		store_write(f, src, PAGE, 2 * PAGE);
		memcpy(model + 2 * PAGE, src, PAGE);
		store_stats(st, &s);
		tap_ok(s.huge_pages == 1 && s.huge_pages_since == since + 1,
		       "%s: raw over raw: huge_pages %llu, huge_pages_since +%llu",
		       comp, (unsigned long long)s.huge_pages,
		       (unsigned long long)(s.huge_pages_since - since));
	}

	/* Overwrite raw with text and same with random: counts follow. */
	store_write(f, model + 3 * PAGE, PAGE, 2 * PAGE);
	memcpy(model + 2 * PAGE, model + 3 * PAGE, PAGE);
	store_stats(st, &s);
	tap_ok(s.huge_pages == 0 && check_all(f), "%s: overwritten raw page", comp);

	store_file_destroy(f);
	tap_ok(st_empty(st), "%s: destroy + drain: 0 pages in use", comp);
	store_destroy(st);
}

static void test_sparse(uint64_t seed)
{
	struct store *st = st_create(NULL, 0, true);
	struct store_file *f;
	struct store_stats s;
	uint64_t rng = seed, at, tib = 1ull << 40, tb0;
	unsigned char page[PAGE];
	uint64_t pages = 4096;	/* 16 MiB written contiguously */
	unsigned char *big;

	if (!tap_ok(st && store_file_create(st, &f) == 0, "sparse: create"))
		return;
	st_fill(page, PAGE, 2, &rng);
	tap_ok(store_write(f, page, PAGE, tib - PAGE) == PAGE, "write the last page of 1 TiB");
	store_stats(st, &s);
	tap_ok(s.table_bytes <= 4 * 4096, "1 TiB file with one page: %llu bytes of table",
	       (unsigned long long)s.table_bytes);
	memset(buf, 0xee, 2 * PAGE);
	tap_ok(store_read(f, buf, 2 * PAGE, tib - 2 * PAGE) == 2 * PAGE &&
	       buf[0] == 0 && !memcmp(buf + PAGE, page, PAGE),
	       "hole before it reads zeros, the page reads back");

	tap_ok(store_seek(f, 0, SEEK_DATA, tib, &at) == 0 && at == tib - PAGE,
	       "SEEK_DATA finds the page across a 1 TiB hole");
	tap_ok(store_seek(f, tib - PAGE + 5, SEEK_HOLE, tib, &at) == 0 && at == tib,
	       "SEEK_HOLE at the end is the size");
	tap_ok(store_seek(f, 7, SEEK_HOLE, tib, &at) == 0 && at == 7,
	       "SEEK_HOLE in a hole is the offset");
	tap_ok(store_seek(f, tib, SEEK_DATA, tib, &at) == -ENXIO,
	       "SEEK_DATA at the size is -ENXIO");

	store_stats(st, &s);
	tb0 = s.table_bytes;
	big = malloc(pages * PAGE);
	for (uint64_t i = 0; i < pages; i++)
		st_fill(big + i * PAGE, PAGE, 2 + (int)(i % 2), &rng);
	tap_ok(store_write(f, big, pages * PAGE, 0) == (ssize_t)(pages * PAGE),
	       "16 MiB contiguous write");
	store_stats(st, &s);
	tap_ok((s.table_bytes - tb0) * 1000 < 5 * pages * PAGE,
	       "table of the run is %.3f%% of its data (< 0.5%%)",
	       100.0 * (double)(s.table_bytes - tb0) / (double)(pages * PAGE));
	tap_ok(store_seek(f, 0, SEEK_HOLE, tib, &at) == 0 && at == pages * PAGE,
	       "SEEK_HOLE after the written run");
	free(big);

	tap_ok(store_write(f, page, PAGE, STORE_MAX_BYTES) == -EFBIG &&
	       store_read(f, page, PAGE, STORE_MAX_BYTES - 1) == -EFBIG,
	       "I/O beyond STORE_MAX_BYTES is -EFBIG");
	store_stats(st, &s);
	tap_ok(s.invalid_io == 2, "invalid_io counts it (%llu)", (unsigned long long)s.invalid_io);
	tap_ok(store_discard(f, 0, UINT64_MAX) == 0, "discard of everything");
	store_stats(st, &s);
	tap_ok(s.orig_data_size == 0 && s.notify_free == pages + 1,
	       "notify_free %llu", (unsigned long long)s.notify_free);
	/* The file is left for store_destroy to destroy. */
	store_destroy(st);
	tap_ok(1, "store_destroy with a live file");
}

static void test_config(void)
{
	struct store_config cfg = { .comp = "nosuch" };
	struct store *st = NULL;

	tap_ok(store_create(&cfg, &st) == -ENOENT, "unknown codec refused");
	cfg.comp = NULL;
	cfg.comp_level = 1 << 30;
	tap_ok(store_create(&cfg, &st) == -ERANGE, "bad level refused");
	cfg.comp_level = 0;
	if (!tap_ok(store_create(&cfg, &st) == 0, "default config"))
		return;
	tap_ok(store_comp_name(st) != NULL, "default codec is %s", store_comp_name(st));
	tap_ok(store_thread_init(st) == 0, "store_thread_init");
	store_destroy(st);
}

int main(void)
{
	uint64_t seed = tap_seed();
	char names[64];

	snprintf(names, sizeof(names), "%s", codec_names());
	for (char *save = NULL, *nm = strtok_r(names, " ", &save); nm;
	     nm = strtok_r(NULL, " ", &save))
		test_unaligned(nm, seed);
	test_sparse(seed);
	test_config();
	return tap_done();
}
