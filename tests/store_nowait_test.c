// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_nowait_test: no control file's call waits behind a pass.
 *
 * A recompression pass, and then a writeback pass, is stopped in the
 * middle (tests/store_hold.h holds the pass's thread for up to
 * HOLD_MAX_S seconds), with the post-processing lock held
 * as a long pass holds it.  Meanwhile every call a control file makes
 * must answer within 100 ms: the reads (backing_dev, recomp_algorithm,
 * train_dict) with their value; the writes with their effect or, where
 * the pass uses what they would change, zram's -EBUSY; another pass with
 * zram's -EAGAIN; train_dict with a dictionary.  The old code held the
 * lock those calls wait for through the whole pass, so they answered
 * only when the hold timed out.  A background thread's pass
 * (STORE_PP_WAIT, the policies) waits for the running one instead of
 * being skipped, and no pass that only tries starts before it.
 *
 * The writeback case needs backing files with direct I/O in $TMPDIR
 * (else /tmp); without it that case says so and is skipped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pp.h"
#include "store_hold.h"
#include "store_core.h"
#include "store_test.h"
#include "thread.h"

#define NPAGES 4096u
#define FAST_MS 100			/* what "at once" means here */

struct pass {
	struct store *st;
	struct store_file *f;
	bool writeback;
	unsigned flags;
	int ret;
	uint64_t done;
};

static void *pass_main(void *arg)
{
	struct pass *p = arg;

	if (p->writeback) {
		struct pp_scan scan = { .all_files = 1 };

		p->ret = store_writeback(p->st, NULL, &scan, 1, 0, p->flags, &p->done);
	} else {
		struct pp_recompress r = { .prio = 1, .prio_max = PP_MAX_COMPS };

		p->ret = store_recompress(p->st, &r, p->flags, &p->done);
	}
	hold_done();
	return NULL;
}

/* Start @p's pass on a thread, stopped in the middle. */
static bool pass_stopped(struct pass *p, pthread_t *th)
{
	return hold_start(th, pass_main, p);
}

static uint64_t ms_since(uint64_t t0)
{
	return (thread_now_ns() - t0) / 1000000;
}

/* Time one call: the expression's result in @ret, its time in ms. */
#define TIMED(ms, ret, expr)					\
	do {							\
		uint64_t t0_ = thread_now_ns();			\
		(ret) = (expr);					\
		(ms) = ms_since(t0_);				\
	} while (0)

static struct store_file *fill(struct store *st, uint64_t seed)
{
	static unsigned char page[STORE_PAGE_SIZE];
	struct store_file *f;
	uint64_t rng = seed;

	if (store_file_create(st, &f) < 0)
		return NULL;
	for (size_t i = 0; i < NPAGES; i++) {
		st_fill(page, sizeof(page), i % 8 ? 2 : 3, &rng);
		if (store_write(f, page, sizeof(page), i * STORE_PAGE_SIZE) < 0)
			return NULL;
	}
	return f;
}

static bool make_bd(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	bool ok = fd >= 0 && ftruncate(fd, 64 << 20) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* The calls of the control files, during a stopped recompression pass. */
static void test_recompress(uint64_t seed, const char *bd, const char *bd2)
{
	struct store_config cfg = { .comp = "lz4", .recomp = "zstd", .backing_dev = bd };
	struct pass p = { 0 };
	struct store_dict_stats ds;
	struct pp_recompress r = { .prio = 1, .prio_max = PP_MAX_COMPS };
	struct pp_scan scan = { .all_files = 1 };
	char buf[256];
	uint64_t ms, done;
	const char *name;
	pthread_t th;
	bool has;
	int ret;

	if (store_create(&cfg, &p.st) < 0) {
		cfg.backing_dev = NULL;
		if (store_create(&cfg, &p.st) < 0) {
			tap_diag("no zstd: the recompression case is skipped");
			return;
		}
		tap_diag("no direct I/O for %s: the backing file's calls are skipped", bd);
	}
	p.f = fill(p.st, seed);
	if (!TAP_CHECK(p.f != NULL) || !pass_stopped(&p, &th)) {
		tap_ok(0, "a recompression pass stopped in the middle");
		goto out;
	}
	if (cfg.backing_dev) {
		TIMED(ms, has, store_backing_dev(p.st, buf, sizeof(buf)));
		tap_ok(has && !strcmp(buf, bd) && ms < FAST_MS,
		       "backing_dev read: %llu ms", (unsigned long long)ms);
		TIMED(ms, ret, store_set_backing_dev(p.st, bd2, 0, NULL, 0));
		tap_ok(ret == 0 && ms < FAST_MS,
		       "backing_dev write (recompression does not use it): %d, %llu ms",
		       ret, (unsigned long long)ms);
		TIMED(ms, ret, store_writeback(p.st, NULL, &scan, 1, 0, 0, &done));
		tap_ok(ret == -EAGAIN && ms < FAST_MS, "writeback: EAGAIN (%d), %llu ms", ret,
		       (unsigned long long)ms);
	}
	TIMED(ms, name, store_recomp_name(p.st, 1, NULL));
	tap_ok(name && !strcmp(name, "zstd") && ms < FAST_MS,
	       "recomp_algorithm read: %llu ms", (unsigned long long)ms);
	TIMED(ms, ret, store_set_recomp(p.st, 1, "zstd", 5));
	tap_ok(ret == -EBUSY && ms < FAST_MS,
	       "recomp_algorithm write of the pass's priority: EBUSY (%d), %llu ms", ret,
	       (unsigned long long)ms);
	TIMED(ms, ret, store_set_recomp(p.st, 2, "zstd", 5));
	tap_ok(ret == 0 && ms < FAST_MS,
	       "recomp_algorithm write of another priority: %d, %llu ms", ret,
	       (unsigned long long)ms);
	TIMED(ms, ret, store_set_params(p.st, 0, NULL, 3, NULL));
	tap_ok(ret == 0 && ms < FAST_MS, "algorithm_params of the primary: %d, %llu ms",
	       ret, (unsigned long long)ms);
	TIMED(ms, ret, store_set_params(p.st, 1, NULL, 7, NULL));
	tap_ok(ret == 0 && ms < FAST_MS,
	       "algorithm_params of the pass's codec (it goes on with the old): %d, %llu ms",
	       ret, (unsigned long long)ms);
	TIMED(ms, ret, store_recompress(p.st, &r, 0, &done));
	tap_ok(ret == -EAGAIN && ms < FAST_MS, "recompress: EAGAIN (%d), %llu ms", ret,
	       (unsigned long long)ms);
	ds.dicts = 99;
	{
		uint64_t t0 = thread_now_ns();

		store_dict_stats(p.st, &ds);
		ms = ms_since(t0);
	}
	tap_ok(ds.dicts == 0 && ms < FAST_MS, "train_dict read: %llu ms",
	       (unsigned long long)ms);
	/* training takes its own time; it must not take the pass's too */
	TIMED(ms, ret, store_train_dict(p.st, 16384));
	tap_ok(ret == 0, "train_dict write (a dictionary for the pass's codec): %d, %llu ms",
	       ret, (unsigned long long)ms);
	tap_ok(hold_holding(), "the pass was still stopped");
	hold_release();
	pthread_join(th, NULL);
	tap_ok(p.ret == 0 && p.done > 0, "the pass then went on: %d, %llu pages",
	       p.ret, (unsigned long long)p.done);
	store_dict_stats(p.st, &ds);
	tap_ok(ds.dicts == 1, "one dictionary in use after it (%llu)",
	       (unsigned long long)ds.dicts);
out:
	if (p.f)
		store_file_destroy(p.f);
	store_destroy(p.st);
}

/* During a stopped writeback pass; and a policy's pass waits for it. */
static void test_writeback(uint64_t seed, const char *bd, const char *bd2)
{
	struct store_config cfg = { .comp = "lz4", .backing_dev = bd };
	struct pass p = { .writeback = true }, bg = { .writeback = true,
						       .flags = STORE_PP_WAIT };
	struct pp_recompress r = { .prio = 1, .prio_max = PP_MAX_COMPS };
	char buf[256];
	uint64_t ms, done;
	pthread_t th, bgth;
	bool has, waited;
	int ret;

	if (store_create(&cfg, &p.st) < 0) {
		tap_diag("no direct I/O for %s: the writeback case is skipped", bd);
		return;
	}
	p.f = fill(p.st, seed ^ 3);
	if (!TAP_CHECK(p.f != NULL) || !pass_stopped(&p, &th)) {
		tap_ok(0, "a writeback pass stopped in the middle");
		goto out;
	}
	TIMED(ms, has, store_backing_dev(p.st, buf, sizeof(buf)));
	tap_ok(has && !strcmp(buf, bd) && ms < FAST_MS, "backing_dev read: %llu ms",
	       (unsigned long long)ms);
	TIMED(ms, ret, store_set_backing_dev(p.st, bd2, 0, buf, sizeof(buf)));
	tap_ok(ret == -EBUSY && ms < FAST_MS && strstr(buf, "writeback pass"),
	       "backing_dev write while the pass uses it: EBUSY (%s), %llu ms", buf,
	       (unsigned long long)ms);
	/* a policy's pass: it waits, and no pass that only tries goes first */
	bg.st = p.st;
	if (pthread_create(&bgth, NULL, pass_main, &bg)) {
		tap_ok(0, "pthread_create");
		hold_release();
		pthread_join(th, NULL);
		goto out;
	}
	waited = false;
	for (int i = 0; i < 2000 && !waited; i++) {
		waited = atomic_load_explicit(&p.st->pp_waiting, memory_order_relaxed) > 0;
		if (!waited)
			usleep(1000);
	}
	tap_ok(waited, "a background pass waits for the running one");
	TIMED(ms, ret, store_recompress(p.st, &r, 0, &done));
	tap_ok(ret == -EAGAIN && ms < FAST_MS, "recompress: EAGAIN (%d), %llu ms", ret,
	       (unsigned long long)ms);
	hold_release();
	pthread_join(th, NULL);
	pthread_join(bgth, NULL);
	tap_ok(p.ret == 0 && p.done > 0, "the pass went on: %llu pages",
	       (unsigned long long)p.done);
	tap_ok(bg.ret == 0, "the background pass ran after it (%d, %llu more pages)",
	       bg.ret, (unsigned long long)bg.done);
out:
	if (p.f)
		store_file_destroy(p.f);
	store_destroy(p.st);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	uint64_t seed = tap_seed();
	char dir[64], bd[96], bd2[96];

	hold_install();
	snprintf(dir, sizeof(dir), "%s/store_nowait_test.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp %s", dir);
		return tap_done();
	}
	snprintf(bd, sizeof(bd), "%s/bd", dir);
	snprintf(bd2, sizeof(bd2), "%s/bd2", dir);
	if (!make_bd(bd) || !make_bd(bd2))
		tap_ok(0, "backing files in %s", dir);
	test_recompress(seed, bd, bd2);
	make_bd(bd);
	make_bd(bd2);
	test_writeback(seed, bd, bd2);
	unlink(bd);
	unlink(bd2);
	rmdir(dir);
	return tap_done();
}
