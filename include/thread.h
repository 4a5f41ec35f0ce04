/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thread: how the core library's background threads start and wait.
 *
 * Every thread the store starts (reclaim workers, the reserve's refiller,
 * the headroom tracker, the backing file's hole puncher) runs while the
 * machine may be swapping to our own device, so it sets itself up the
 * same way, in one place: a name, PR_SET_IO_FLUSHER when asked (so its
 * allocations do not recurse into our swap; needs CAP_SYS_RESOURCE, and
 * fails harmlessly without it), optionally SCHED_BATCH, and optionally a
 * stack faulted in at once (under mlockall it then stays resident, so the
 * thread does not fault on it later, when memory is short).
 *
 * Timed waits use CLOCK_MONOTONIC: a condition variable made with
 * thread_cond_init() and a deadline from thread_deadline(), so that a
 * change of the wall clock neither cuts a wait short nor stretches it.
 */
#ifndef ZRAMFUSE_THREAD_H
#define ZRAMFUSE_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum {
	THREAD_IO_FLUSHER = 1u << 0,	/* PR_SET_IO_FLUSHER */
	THREAD_BATCH = 1u << 1,		/* SCHED_BATCH: a wake-up never preempts */
	THREAD_TOUCH_STACK = 1u << 2,	/* fault in THREAD_STACK_TOUCH now */
};

/* The stack a THREAD_TOUCH_STACK thread faults in at its start. */
#define THREAD_STACK_TOUCH (128u * 1024)

/* Called first by the thread itself: its name (at most 15 bytes), @flags. */
void thread_setup(const char *name, unsigned flags);

/* A condition variable whose timed waits run on CLOCK_MONOTONIC. */
void thread_cond_init(pthread_cond_t *cv);
/* The CLOCK_MONOTONIC time @ns from now, for pthread_cond_timedwait(). */
void thread_deadline(struct timespec *ts, uint64_t ns);
/* CLOCK_MONOTONIC in ns. */
uint64_t thread_now_ns(void);

/*
 * Stop a thread that waits on @cv under @lock until *@stop: set it under
 * the lock, wake the thread, and join it.
 */
void thread_stop(pthread_t tid, pthread_mutex_t *lock, pthread_cond_t *cv,
		 bool *stop);

#endif
