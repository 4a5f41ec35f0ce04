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
 * the second, stronger codec in the background (store_recompress()), and
 * the allocator's pages emptied by the moves are compacted away.
 *
 * The thread runs at nice 19: it must never take CPU from the workload,
 * and it holds a slot lock only to read a page (a few microseconds); it
 * allocates from the reserve only and stops while the reserve is low.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "recomp.h"
#include "store.h"

#define RECOMP_PERIOD_MS 100u	/* look for work this often */
#define RECOMP_MIN_TODO 64u	/* pages waiting before a pass starts */
#define RECOMP_BATCH 256u	/* pages per store_recompress() call */
#define RECOMP_COMPACT_BYTES (4u << 20)	/* saved bytes between compactions */

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

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
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
	uint64_t saved_at_compact = 0;

	pthread_setname_np(pthread_self(), "zramfuse-recmp");
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	while (!recomp_sleep(r, RECOMP_PERIOD_MS)) {
		struct store_stats s;
		uint64_t done;
		int ret;

		store_stats(r->st, &s);
		if (s.recomp_todo < RECOMP_MIN_TODO)
			continue;
		/* At nice 19 it runs on time the workload leaves: go on while
		 * there is work, the reserve allows, and no stop is asked. */
		do {
			ret = store_recompress(r->st, STORE_RECOMP_READBACK,
					       RECOMP_BATCH, &done);
			store_stats(r->st, &s);
			/* the moves left holes in the old objects' zspages */
			if (s.recomp_saved - saved_at_compact >= RECOMP_COMPACT_BYTES) {
				saved_at_compact = s.recomp_saved;
				store_compact(r->st);
			}
		} while (ret == 0 && done == RECOMP_BATCH && !recomp_stopping(r));
	}
	return NULL;
}

int recomp_start(struct store *st, struct recomp **out)
{
	struct recomp *r;
	int ret;

	if (!store_has_recomp(st))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->st = st;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	ret = -pthread_create(&r->tid, NULL, recomp_main, r);
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
