// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy: age-based recompression and writeback, run by a thread of its
 * own (include/policy.h).
 *
 * Every second the thread runs a pass of each policy that is on: first
 * recompress the pages not accessed for recompress_idle seconds (with
 * the recompression codecs of recomp_algorithm), then write back those
 * not accessed for writeback_idle seconds.  Ages come from the access
 * time every page carries (see src/store_core.h), not from idle marks, so a
 * policy never disturbs what a user's "idle" marked.  A pass takes at
 * most its page budget, so one pass never holds the post-processing lock
 * for long.  A pass that finds another running (a user's writeback, the
 * read-back thread's recompression) waits for it (STORE_PP_WAIT), and
 * the read-back thread does not start its next one while it waits: a
 * policy's pass is never skipped for another's.  One that finds no
 * backing file or codec does nothing, and the next second tries again.
 * Nothing here runs on the I/O path.  The thread starts when a policy is
 * first turned on, so a mount that uses none has none.
 *
 * Lock order: lock is a leaf; the passes take the store's pp_lock.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "policy.h"
#include "pp.h"
#include "store.h"
#include "thread.h"

#define POLICY_PERIOD_S 1

struct policy {
	struct store *st;
	_Atomic uint64_t v[POLICY_NR_KNOBS];	/* relaxed */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool stop;			/* protected by lock */
	bool started;			/* protected by lock */
	pthread_t thread;
};

static void policy_pass(struct policy *p)
{
	uint64_t age, pages, done;

	age = atomic_load_explicit(&p->v[POLICY_RECOMPRESS_IDLE], memory_order_relaxed);
	if (age) {
		struct pp_recompress r = {
			.prio = 1, .prio_max = PP_MAX_COMPS, .min_age = age,
			.max_pages = atomic_load_explicit(&p->v[POLICY_RECOMPRESS_PAGES],
							  memory_order_relaxed),
		};

		(void)store_recompress(p->st, &r, STORE_PP_WAIT, &done);
	}
	age = atomic_load_explicit(&p->v[POLICY_WRITEBACK_IDLE], memory_order_relaxed);
	if (age && store_has_backing_dev(p->st)) {
		struct pp_scan scan = { .hi = UINT64_MAX, .all_files = 1,
					.min_age = age };

		pages = atomic_load_explicit(&p->v[POLICY_WRITEBACK_PAGES],
					     memory_order_relaxed);
		(void)store_writeback(p->st, NULL, &scan, 1, pages, STORE_PP_WAIT,
				      &done);
	}
}

static void *policy_thread(void *arg)
{
	struct policy *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec until;

		thread_deadline(&until, POLICY_PERIOD_S * 1000000000ull);
		while (!p->stop &&
		       pthread_cond_timedwait(&p->cv, &p->lock, &until) != ETIMEDOUT)
			;
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		policy_pass(p);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/*
 * The thread is started when a policy is first turned on: a mount that
 * uses none has no thread.  Called with p->lock held.
 */
static int policy_start_locked(struct policy *p)
{
	int ret;

	if (p->started)
		return 0;
	ret = thread_start(&p->thread, "zramfuse-policy", 0, policy_thread, p);
	if (!ret)
		p->started = true;
	return ret;
}

static bool policy_on(const uint64_t *v)
{
	return v[POLICY_WRITEBACK_IDLE] || v[POLICY_RECOMPRESS_IDLE];
}

int policy_create(struct store *st, const uint64_t *v, struct policy **out)
{
	struct policy *p = calloc(1, sizeof(*p));
	int ret = 0;

	if (!p)
		return -ENOMEM;
	p->st = st;
	for (int k = 0; k < POLICY_NR_KNOBS; k++)
		atomic_init(&p->v[k], v[k]);
	pthread_mutex_init(&p->lock, NULL);
	thread_cond_init(&p->cv);
	if (policy_on(v))
		ret = policy_start_locked(p);	/* no other thread sees p yet */
	if (ret) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void policy_destroy(struct policy *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->lock);
	if (p->started)
		pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int policy_set(struct policy *p, enum policy_knob k, uint64_t v)
{
	int ret = 0;

	pthread_mutex_lock(&p->lock);
	if (v && (k == POLICY_WRITEBACK_IDLE || k == POLICY_RECOMPRESS_IDLE))
		ret = policy_start_locked(p);
	if (!ret)
		atomic_store_explicit(&p->v[k], v, memory_order_relaxed);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

uint64_t policy_get(struct policy *p, enum policy_knob k)
{
	return atomic_load_explicit(&p->v[k], memory_order_relaxed);
}
