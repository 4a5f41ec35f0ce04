// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_mt_test: threads writing, reading and discarding random ranges of
 * one file against a model, with reclaim, compaction and statistics
 * running at the same time.
 *
 * Keeping the model exact: the file is cut into 256-byte chunks, each with
 * a mutex; an operation locks the chunks it covers, in ascending order,
 * applies itself to the store and to the model, and unlocks.  Chunks are
 * smaller than a page, so two threads often modify disjoint parts of the
 * same page at the same moment - exactly the read-modify-write race the
 * slot lock must serialize - while the model stays exact.  Reads under the
 * chunk locks compare byte for byte.  With a second codec, the read-back
 * pages are recompressed meanwhile (by the store's own thread and by the
 * churn thread), while a second file is made, read and destroyed over and
 * over under the walk.  Seed printed; ZRAMFUSE_SEED repeats.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pp.h"
#include "recomp.h"
#include "store_test.h"

#define PAGE STORE_PAGE_SIZE
#define NPAGES 64
#define BYTES ((size_t)NPAGES * PAGE)
#define CHUNK 256
#define NCHUNKS (BYTES / CHUNK)
#define NTHREADS 4
#define OPS 5000
#define MAXLEN (8 * PAGE)

static pthread_mutex_t chunk_lock[NCHUNKS];
static unsigned char model[BYTES];
static struct store *st;
static struct store_file *file;
static uint64_t seed;
static atomic_int failures, done;
static uint64_t recomp_done;	/* churn thread only, read after join */
static atomic_ulong nwrites, nreads, ndiscards;

struct worker {
	pthread_t tid;
	int id;
	unsigned char buf[MAXLEN], out[MAXLEN];
};

static void fail(const char *what, int id, uint64_t off, uint64_t len, long r)
{
	if (atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed) < 5)
		tap_diag("thread %d: %s at %llu+%llu: %ld", id, what,
			 (unsigned long long)off, (unsigned long long)len, r);
}

static void pick_range(uint64_t *rng, uint64_t *off, uint64_t *len)
{
	switch (tap_rand(rng) % 4) {
	case 0:		/* small, anywhere */
		*len = 1 + tap_rand(rng) % 600;
		*off = tap_rand(rng) % (BYTES - *len);
		break;
	case 1:		/* whole pages */
		*len = (1 + tap_rand(rng) % 4) * PAGE;
		*off = (tap_rand(rng) % (NPAGES - 4)) * PAGE;
		break;
	case 2:		/* big, unaligned */
		*len = 1 + tap_rand(rng) % MAXLEN;
		*off = tap_rand(rng) % (BYTES - *len);
		break;
	default:	/* sectors inside a page */
		*len = 512 * (1 + tap_rand(rng) % 4);
		*off = (tap_rand(rng) % NPAGES) * PAGE + 512 * (tap_rand(rng) % 4);
		break;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = seed * 31 + (uint64_t)w->id + 1;

	if (store_thread_init(st) < 0)
		fail("thread_init", w->id, 0, 0, -1);
	for (int i = 0; i < OPS && atomic_load(&failures) == 0; i++) {
		uint64_t off, len, c0, c1, op = tap_rand(&rng) % 100;
		long r;

		pick_range(&rng, &off, &len);
		c0 = off / CHUNK;
		c1 = (off + len - 1) / CHUNK;
		for (uint64_t c = c0; c <= c1; c++)
			pthread_mutex_lock(&chunk_lock[c]);
		if (op < 50) {
			st_fill(w->buf, len, (int)(tap_rand(&rng) % 5), &rng);
			r = store_write(file, w->buf, len, off);
			if (r != (long)len)
				fail("write", w->id, off, len, r);
			memcpy(model + off, w->buf, len);
			atomic_fetch_add_explicit(&nwrites, 1, memory_order_relaxed);
		} else if (op < 80) {
			r = store_read(file, w->out, len, off);
			if (r != (long)len)
				fail("read", w->id, off, len, r);
			else if (memcmp(w->out, model + off, len) != 0)
				fail("read compares", w->id, off, len, r);
			atomic_fetch_add_explicit(&nreads, 1, memory_order_relaxed);
		} else {
			r = store_discard(file, off, len);
			if (r != 0)
				fail("discard", w->id, off, len, r);
			memset(model + off, 0, len);
			atomic_fetch_add_explicit(&ndiscards, 1, memory_order_relaxed);
		}
		for (uint64_t c = c1 + 1; c-- > c0;)
			pthread_mutex_unlock(&chunk_lock[c]);
	}
	return NULL;
}

/* Compaction and statistics concurrently with the I/O. */
static void *churn_main(void *arg)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	unsigned long *rounds = arg;

	while (!atomic_load(&done)) {
		struct store_stats s;

		store_compact(st);
		store_stats(st, &s);
		if (store_recomp_name(st, 1, NULL)) {
			static unsigned char page[8 * PAGE], back[8 * PAGE];
			struct pp_recompress rb = { .mode = PP_READBACK, .max_pages = 64,
						    .prio = 1, .prio_max = PP_MAX_COMPS };
			struct store_file *f2;
			uint64_t n, rng = seed + *rounds;

			if (store_recompress(st, &rb, &n) == 0)
				recomp_done += n;
			rb.max_pages = 4;
			if (store_file_create(st, &f2) == 0) {
				st_fill(page, sizeof(page), 2, &rng);
				if (store_write(f2, page, sizeof(page), 0) != (ssize_t)sizeof(page) ||
				    store_read(f2, back, sizeof(back), 0) != (ssize_t)sizeof(back) ||
				    memcmp(page, back, sizeof(page)))
					atomic_fetch_add(&failures, 1);
				store_recompress(st, &rb, &n);
				store_file_destroy(f2);
			}
		}
		(*rounds)++;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void run(const char *comp, unsigned reclaim_threads, size_t queue_max,
		const char *recomp)
{
	struct store_config cfg = {
		.comp = comp, .deferred_free = true,
		.reclaim_threads = reclaim_threads, .reclaim_queue_max = queue_max,
		.recomp = recomp,
		.reserve_pages = recomp ? 64 : 0,
	};
	static struct worker w[NTHREADS];
	struct store_stats s;
	struct recomp *readback = NULL;
	pthread_t churn;
	unsigned long rounds = 0;
	unsigned char *all;
	char name[32];
	int ret;

	snprintf(name, sizeof(name), "%s%s%s", comp, recomp ? "+" : "",
		 recomp ? recomp : "");

	ret = store_create(&cfg, &st);
	if (!tap_ok(ret == 0 && store_file_create(st, &file) == 0,
		    "%s, %u reclaim threads, queue %zu: create", name, reclaim_threads, queue_max))
		return;
	/* the read-back recompression thread, as the daemon starts it */
	if (recomp && recomp_start(st, &readback))
		tap_diag("%s: no read-back recompression thread", name);
	memset(model, 0, sizeof(model));
	atomic_store(&failures, 0);
	atomic_store(&done, 0);
	atomic_store(&nwrites, 0);
	atomic_store(&nreads, 0);
	atomic_store(&ndiscards, 0);
	pthread_create(&churn, NULL, churn_main, &rounds);
	for (int i = 0; i < NTHREADS; i++) {
		w[i].id = i;
		pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(w[i].tid, NULL);
	atomic_store(&done, 1);
	pthread_join(churn, NULL);
	tap_ok(atomic_load(&failures) == 0,
	       "%s: %d threads: %lu writes, %lu reads, %lu discards; %lu compactions, no mismatch",
	       name, NTHREADS, atomic_load(&nwrites), atomic_load(&nreads),
	       atomic_load(&ndiscards), rounds);

	all = malloc(BYTES);
	tap_ok(all && store_read(file, all, BYTES, 0) == (ssize_t)BYTES &&
	       memcmp(all, model, BYTES) == 0, "%s: whole file matches the model", name);
	free(all);
	store_drain(st);
	store_stats(st, &s);
	{
		uint64_t pages, compr;

		store_file_usage(file, &pages, &compr);
		tap_ok(s.orig_data_size == pages * PAGE && s.compr_data_size == compr &&
		       s.reclaim_queued_pages == 0,
		       "%s: counters add up across threads (%llu pages, %llu sync frees, %llu batches)",
		       name, (unsigned long long)pages,
		       (unsigned long long)s.reclaim_sync_frees,
		       (unsigned long long)s.reclaim_batches);
	}
	if (recomp)
		tap_ok(recomp_done > 0 && s.readback_pages <= s.orig_data_size / PAGE &&
		       s.readback_recomp + s.readback_todo <= s.readback_pages,
		       "%s: recompressed meanwhile (%llu by the churn thread, %llu held at the end)",
		       name, (unsigned long long)recomp_done,
		       (unsigned long long)s.readback_recomp);
	store_file_destroy(file);
	tap_ok(st_empty(st), "%s: 0 pages in use after destroy + drain", name);
	recomp_stop(readback);
	store_destroy(st);
}

int main(void)
{
	seed = tap_seed();
	for (size_t i = 0; i < NCHUNKS; i++)
		pthread_mutex_init(&chunk_lock[i], NULL);
	run("lz4", 1, 0, NULL);
#ifdef HAVE_ZSTD
	run("zstd", 2, 64, NULL);
	run("lz4", 1, 0, "zstd");
#else
	run("lz4", 2, 64, NULL);
#endif
	return tap_done();
}
