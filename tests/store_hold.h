/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_hold.h: stop one operation of the store where it waits with no
 * lock held (the store's hook for tests, store_test_wait in
 * src/store_core.h), do something meanwhile, and let it go on.
 *
 *	hold_install();			once, before any thread uses the store
 *	if (hold_start(&th, fn, arg))	fn runs on thread th, stopped at its
 *		...			first wait point; fn calls hold_done()
 *	hold_release();			when it returns
 *	pthread_join(th, NULL);
 *
 * A stopped thread goes on by itself after HOLD_MAX_S seconds, so that a
 * test of code that would wait for it fails instead of hanging.
 */
#ifndef ZRAMFUSE_STORE_HOLD_H
#define ZRAMFUSE_STORE_HOLD_H

#include <pthread.h>
#include <stdbool.h>

#include "store_core.h"
#include "thread.h"

#define HOLD_MAX_S 30

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cv;		/* CLOCK_MONOTONIC */
	pthread_t who;			/* the thread to stop, once */
	bool armed, stopped, go, finished;	/* protected by lock */
} hold = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The hook: stop the armed thread once, until released or HOLD_MAX_S. */
static inline void hold_wait(struct slot *s)
{
	struct timespec until;

	(void)s;
	pthread_mutex_lock(&hold.lock);
	if (hold.armed && pthread_equal(hold.who, pthread_self())) {
		hold.armed = false;
		hold.stopped = true;
		pthread_cond_broadcast(&hold.cv);
		thread_deadline(&until, HOLD_MAX_S * 1000000000ull);
		while (!hold.go &&
		       pthread_cond_timedwait(&hold.cv, &hold.lock, &until) == 0)
			;
		hold.stopped = false;
	}
	pthread_mutex_unlock(&hold.lock);
}

static inline void hold_install(void)
{
	thread_cond_init(&hold.cv);
	store_test_wait = hold_wait;
}

/*
 * Start @fn(@arg) on a thread, stopped at its first wait point; true once
 * it is, false (joined) when it finished without stopping.
 */
static inline bool hold_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	bool ok;

	pthread_mutex_lock(&hold.lock);
	hold.stopped = hold.go = hold.finished = false;
	if (pthread_create(th, NULL, fn, arg)) {
		pthread_mutex_unlock(&hold.lock);
		return false;
	}
	hold.who = *th;		/* before it can reach the hook: we hold the lock */
	hold.armed = true;
	while (!hold.stopped && !hold.finished)
		pthread_cond_wait(&hold.cv, &hold.lock);
	ok = hold.stopped;
	pthread_mutex_unlock(&hold.lock);
	if (!ok)
		pthread_join(*th, NULL);
	return ok;
}

/* The operation's thread, at its end. */
static inline void hold_done(void)
{
	pthread_mutex_lock(&hold.lock);
	hold.finished = true;
	pthread_cond_broadcast(&hold.cv);
	pthread_mutex_unlock(&hold.lock);
}

/* Is the stopped thread still stopped (not gone on by HOLD_MAX_S)? */
static inline bool hold_holding(void)
{
	bool held;

	pthread_mutex_lock(&hold.lock);
	held = hold.stopped;
	pthread_mutex_unlock(&hold.lock);
	return held;
}

static inline void hold_release(void)
{
	pthread_mutex_lock(&hold.lock);
	hold.armed = false;
	hold.go = true;
	pthread_cond_broadcast(&hold.cv);
	pthread_mutex_unlock(&hold.lock);
}

#endif
