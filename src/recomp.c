// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * recomp: keeps pages that were read back more cheaply.
 *
 * Why.  A loop device gets no per-slot free notification (only zram has
 * swap_slot_free_notify), so a page the kernel swapped back in stays
 * stored: as the backing of the kernel's swap-cache copy while swap is
 * less than half full (the kernel keeps the slot on a read fault unless
 * vm_swap_full()), or as a stale copy of a slot the kernel freed but will
 * discard only with its whole cluster.  Measured on a 1 GiB working set in
 * a 256 MiB cgroup (README, "Memory"), such pages were 86% of what was
 * stored with a 4 GiB device, where zram stores none of them.  Neither
 * kind may be dropped - the daemon cannot tell a freed slot from one whose
 * only copy it holds - but both are cold: the kernel reads one only after
 * it dropped its clean copy again.  So a read-back page is re-encoded by
 * the recompression codecs (recomp_algorithm; by default zstd behind lz4)
 * in the background - zram's recompress, for pages read back - and the
 * allocator's pages emptied by the moves are compacted away: kept for the
 * pass's own next objects while it runs, released when it ends but for
 * what the pool's allocations took in the last second (zspool_tidy()).
 *
 * Only once it has been left alone for RECOMP_MIN_AGE seconds: a page
 * behind a swap-cache copy is not read again (the kernel has it), but on
 * a RAM disk (a filesystem or a VM disk on the loop device) the same
 * pages are read over and over, and recompressing those cost a 4 KiB
 * random-read benchmark 15% of the machine's CPU on this thread and made
 * every later read decode zstd, four times slower than lz4.
 *
 * The thread runs at nice 19: it must never take CPU from the workload,
 * and it holds a slot lock only to read a page (a few microseconds).  A
 * pass that finds no memory for a new object stops, and so does the
 * thread until its next look.
 *
 * Locks: r->lock, a leaf (the stop flag); a pass takes the store's
 * (store_recompress(): pp_lock, then slot locks one at a time).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>

#include "pp.h"
#include "recomp.h"
#include "store.h"
#include "thread.h"

#define RECOMP_PERIOD_MS 100u	/* look for work this often */
#define RECOMP_MIN_TODO 64u	/* pages waiting before a pass starts */
#define RECOMP_BATCH 4096u	/* pages tried per store_recompress() call */
#define RECOMP_COMPACT_PAGES 4096u	/* pages recompressed between compactions */
#define RECOMP_KEEP_PAGES 4096u	/* freed pages a mid-pass compaction keeps */
#define RECOMP_MIN_AGE 5u		/* s a read-back page is left alone first */
#define RECOMP_IDLE_MS 1000u	/* next look after a pass that found none old */

struct recomp {
	struct store *st;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;			/* protected by lock */
};

/* Sleep up to @ms; returns true when asked to stop. */
static bool recomp_sleep(struct recomp *r, unsigned ms)
{
	struct timespec ts;
	bool stop;

	thread_deadline(&ts, (uint64_t)ms * 1000000u);
	pthread_mutex_lock(&r->lock);
	if (!r->stop)
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

static bool recomp_stopping(struct recomp *r)
{
	bool stop;

	pthread_mutex_lock(&r->lock);
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

static void *recomp_main(void *arg)
{
	struct recomp *r = arg;
	/* zram's recompress with type "readback": every codec from priority 1 */
	struct pp_recompress req = {
		.mode = PP_READBACK, .max_pages = RECOMP_BATCH,
		.prio = 1, .prio_max = PP_MAX_COMPS, .min_age = RECOMP_MIN_AGE,
	};
	uint64_t since_compact = 0;
	unsigned wait = RECOMP_PERIOD_MS;

	while (!recomp_sleep(r, wait)) {
		struct store_stats s;
		uint64_t todo, done;
		bool kept = false;
		int ret;

		wait = RECOMP_PERIOD_MS;
		store_stats(r->st, &s);
		if (s.readback_todo < RECOMP_MIN_TODO)
			continue;
		/* At nice 19 it runs on time the workload leaves: go on while
		 * there is work, memory for it, progress, and no stop asked. */
		do {
			todo = s.readback_todo;
			ret = store_recompress(r->st, &req, 0, &done);
			since_compact += done;
			/*
			 * The moves left holes in the old objects' zspages.
			 * The pages a compaction empties are what the next
			 * batch's objects need: kept, not released and
			 * faulted in again (a madvise, a TLB shootdown on
			 * the CPU serving, and a fault per page).
			 */
			if (since_compact >= RECOMP_COMPACT_PAGES) {
				since_compact = 0;
				store_compact_keep(r->st, RECOMP_KEEP_PAGES);
				kept = true;
			}
			store_stats(r->st, &s);
			/* a walk that found every page too young: not so soon */
			if (ret == 0 && s.readback_todo >= todo)
				wait = RECOMP_IDLE_MS;
		} while (ret == 0 && s.readback_todo < todo &&
			 s.readback_todo >= RECOMP_MIN_TODO && !recomp_stopping(r));
		/* the pass is over: what it kept goes, but what allocations want */
		if (kept) {
			since_compact = 0;
			store_tidy(r->st);
		}
	}
	return NULL;
}

int recomp_start(struct store *st, struct recomp **out)
{
	struct recomp *r;
	int ret;

	if (!store_recomp_name(st, 1, NULL))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->st = st;
	pthread_mutex_init(&r->lock, NULL);
	thread_cond_init(&r->cond);
	ret = thread_start(&r->tid, "zramfuse-recmp", THREAD_IDLE, recomp_main, r);
	if (ret) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void recomp_stop(struct recomp *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->tid, NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
