// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_wrap_test: revalidation after a slot changed 1024 times.
 *
 * Three operations let go of a slot's lock and check afterwards that the
 * slot still holds what they read: a partial write (while it re-encodes),
 * a read of a written-back page (while the disk reads) and recompression
 * (while it re-encodes).  Each is stopped there (tests/store_hold.h)
 * while this thread rewrites the slot 1024 times
 * - the width of info's generation - with contents of the same size and
 * flags, so that last-in first-out reuse hands the slot the handle (or
 * the backing block) it had, and the generation is back where it was.
 * Then the operation goes on.  Comparing (info, val) alone took the old
 * pair for unchanged: the partial write put the old page back over the
 * newer one, the read returned the old page, and recompression installed
 * the old page re-encoded.  Each must see the change instead (val's
 * stamp, src/store_core.h) and redo or drop its work.
 *
 * The written-back case needs a backing file with direct I/O in $TMPDIR
 * (else /tmp); without it that case says so and is skipped.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pp.h"
#include "store_hold.h"
#include "store_core.h"
#include "store_test.h"

#define WRAP 1024u			/* info's generation: 10 bits */
#define PG 4096u

/* A page that is stored raw (huge): every one has size 4096 and the same flags. */
static void random_page(unsigned char *p, uint64_t *rng)
{
	st_fill(p, PG, 4, rng);
}

/* A text page whose byte 100 is @c: lz4 compresses each to the same size. */
static void text_page(unsigned char *p, unsigned char c)
{
	for (unsigned i = 0; i < PG; i++)
		p[i] = (unsigned char)"the quick brown fox jumps over the lazy dog, "[i % 45] ^
		       (unsigned char)((i / 45) & 1);
	p[100] = c;
}

/* The operation that is stopped, on a thread of its own. */
struct op {
	struct store *st;
	struct store_file *f;
	int kind;			/* 0 partial write, 1 read, 2 recompress */
	unsigned char buf[PG];
	int ret;
	uint64_t done;
};

static void *op_main(void *arg)
{
	struct op *o = arg;

	if (o->kind == 0) {
		o->ret = (int)store_write(o->f, o->buf + 1000, 16, 1000);
	} else if (o->kind == 1) {
		o->ret = (int)store_read(o->f, o->buf, PG, 0);
	} else {
		struct pp_recompress r = { .prio = 1, .prio_max = PP_MAX_COMPS };

		o->ret = store_recompress(o->st, &r, 0, &o->done);
	}
	hold_done();
	return NULL;
}

static bool op_start(struct op *o, pthread_t *th)
{
	if (hold_start(th, op_main, o))
		return true;
	tap_diag("the operation finished without stopping");
	return false;
}

static bool page_is(struct store_file *f, const unsigned char *want)
{
	unsigned char got[PG];

	return store_read(f, got, PG, 0) == PG && !memcmp(got, want, PG);
}

/* A partial write meets a slot rewritten WRAP times. */
static void test_partial(uint64_t seed)
{
	struct store *st = st_create("lz4", 0, false);
	struct store_file *f;
	static unsigned char page[PG], want[PG];
	static struct op o;
	uint64_t rng = seed;
	pthread_t th;

	if (!st || store_file_create(st, &f) < 0) {
		tap_ok(0, "store");
		store_destroy(st);
		return;
	}
	random_page(page, &rng);
	store_write(f, page, PG, 0);
	memset(&o, 0, sizeof(o));
	o.st = st;
	o.f = f;
	o.kind = 0;
	memset(o.buf, 0xab, sizeof(o.buf));
	if (!op_start(&o, &th)) {
		tap_ok(0, "partial write stopped");
		goto out;
	}
	for (unsigned i = 0; i < WRAP; i++) {
		random_page(page, &rng);
		store_write(f, page, PG, 0);
	}
	/* a read marks it read back, as the partial write's own read did */
	store_read(f, want, PG, 0);
	memcpy(want + 1000, o.buf + 1000, 16);
	hold_release();
	pthread_join(th, NULL);
	tap_ok(o.ret == 16 && page_is(f, want),
	       "a partial write stopped across %u rewrites lands on the newest page", WRAP);
out:
	store_file_destroy(f);
	store_destroy(st);
}

/* A read of a written-back page meets a slot written back again WRAP / 2 times. */
static void test_read_backing(uint64_t seed, const char *dir)
{
	char bd[160];
	struct store_config cfg = { .comp = "lz4", .backing_dev = bd };
	struct pp_scan scan = { .lo = 0, .hi = 1 };
	static unsigned char page[PG], want[PG];
	static struct op o;
	struct store *st = NULL;
	struct store_file *f;
	uint64_t rng = seed ^ 1, done;
	bool ok = true;
	pthread_t th;
	int fd;

	snprintf(bd, sizeof(bd), "%s/backing", dir);
	fd = open(bd, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0) {
		tap_ok(0, "backing file %s", bd);
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	if (store_create(&cfg, &st) < 0) {
		tap_diag("no direct I/O in %s: the written-back case is skipped", dir);
		unlink(bd);
		return;
	}
	if (store_file_create(st, &f) < 0) {
		tap_ok(0, "store file");
		goto out_store;
	}
	random_page(page, &rng);
	store_write(f, page, PG, 0);
	if (!TAP_CHECK(store_writeback(st, f, &scan, 1, 0, 0, &done) == 0 && done == 1))
		goto out;
	memset(&o, 0, sizeof(o));
	o.st = st;
	o.f = f;
	o.kind = 1;
	if (!op_start(&o, &th)) {
		tap_ok(0, "read stopped");
		goto out;
	}
	/*
	 * Each round changes the slot twice (a write, a writeback); the
	 * freed block's hole is punched before the next writeback, which
	 * then takes the same block again.
	 */
	for (unsigned i = 0; i < WRAP / 2 && ok; i++) {
		random_page(page, &rng);
		store_write(f, page, PG, 0);
		store_backing_sync(st);
		ok = store_writeback(st, f, &scan, 1, 0, 0, &done) == 0 && done == 1;
	}
	/* a read marks it read back, as the stopped read did */
	ok = ok && store_read(f, want, PG, 0) == PG && !memcmp(want, page, PG);
	hold_release();
	pthread_join(th, NULL);
	tap_ok(ok, "%u writebacks of new pages to the same block", WRAP / 2);
	tap_ok(o.ret == PG && !memcmp(o.buf, want, PG),
	       "a read of a written-back page stopped across %u changes returns the newest page",
	       WRAP);
out:
	store_file_destroy(f);
out_store:
	store_destroy(st);
	unlink(bd);
}

/* Recompression meets a slot rewritten WRAP times. */
static void test_recompress(void)
{
	struct store_config cfg = { .comp = "lz4", .recomp = "zstd" };
	static unsigned char page[PG], want[PG];
	static struct op o;
	struct store_stats s0, s1;
	struct store *st = NULL;
	struct store_file *f;
	pthread_t th;

	if (store_create(&cfg, &st) < 0 || store_file_create(st, &f) < 0) {
		tap_diag("no zstd: the recompression case is skipped");
		store_destroy(st);
		return;
	}
	text_page(page, 'a');
	store_write(f, page, PG, 0);
	store_stats(st, &s0);
	memset(&o, 0, sizeof(o));
	o.st = st;
	o.f = f;
	o.kind = 2;
	if (!op_start(&o, &th)) {
		tap_ok(0, "recompression stopped");
		goto out;
	}
	for (unsigned i = 1; i <= WRAP; i++) {
		text_page(page, (unsigned char)('a' + i % 26));
		store_write(f, page, PG, 0);
	}
	memcpy(want, page, PG);
	store_stats(st, &s1);
	tap_ok(s0.compr_data_size == s1.compr_data_size && want[100] != 'a',
	       "the rewrites have the first one's size (%llu), not its content",
	       (unsigned long long)s1.compr_data_size);
	hold_release();
	pthread_join(th, NULL);
	tap_ok(o.ret == 0 && page_is(f, want),
	       "recompression stopped across %u rewrites leaves the newest page (%llu done)",
	       WRAP, (unsigned long long)o.done);
out:
	store_file_destroy(f);
	store_destroy(st);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	uint64_t seed = tap_seed();
	char dir[64];

	hold_install();
	test_partial(seed);
	snprintf(dir, sizeof(dir), "%s/store_wrap_test.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(dir)) {
		test_read_backing(seed, dir);
		rmdir(dir);
	} else {
		tap_ok(0, "mkdtemp %s", dir);
	}
	test_recompress();
	return tap_done();
}
