// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thread: the set-up of the core library's background threads and their
 * monotonic timed waits (see include/thread.h).  One place for what every
 * such thread must do, so that a new thread cannot forget one of them.
 * The serving threads (the transports) have their own set-up above the
 * store, which also makes the store's per-thread state.
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <time.h>

#include "thread.h"

/* The one guard for PR_SET_IO_FLUSHER: Linux 5.6; older kernels refuse it. */
#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

static void __attribute__((noinline)) thread_touch_stack(void)
{
	volatile char buf[THREAD_STACK_TOUCH];

	for (size_t i = 0; i < sizeof(buf); i += 4096)
		buf[i] = 0;
}

void thread_setup(const char *name, unsigned flags)
{
	pthread_setname_np(pthread_self(), name);
	if (flags & THREAD_TOUCH_STACK)
		thread_touch_stack();
	if (flags & THREAD_BATCH) {
		struct sched_param sp = { .sched_priority = 0 };

		pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	}
	/* Without CAP_SYS_RESOURCE this fails; the daemon warns once elsewhere. */
	if (flags & THREAD_IO_FLUSHER)
		(void)prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0);
}

void thread_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t at;

	pthread_condattr_init(&at);
	pthread_condattr_setclock(&at, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &at);
	pthread_condattr_destroy(&at);
}

void thread_deadline(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ns / 1000000000u);
	ts->tv_nsec += (long)(ns % 1000000000u);
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_nsec -= 1000000000;
		ts->tv_sec++;
	}
}

void thread_stop(pthread_t tid, pthread_mutex_t *lock, pthread_cond_t *cv,
		 bool *stop)
{
	pthread_mutex_lock(lock);
	*stop = true;
	pthread_cond_signal(cv);
	pthread_mutex_unlock(lock);
	pthread_join(tid, NULL);
}

uint64_t thread_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
