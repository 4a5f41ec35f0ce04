// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * thread: every thread of the daemon is started here, set up the same way
 * (include/thread.h says what and why), and waits on CLOCK_MONOTONIC.
 *
 * The set-up runs on the new thread, before its function: a trampoline
 * takes the function, its argument, the name and the flags from a small
 * block the creator allocated.  The signal mask is set by the creator
 * around pthread_create(), since a new thread inherits it: there is no
 * moment at which the new thread could take a signal.
 *
 * The trade-off of touching every thread's stack and arena at once is
 * memory held from the start (THREAD_STACK_TOUCH of stack, and
 * THREAD_ARENA_SERVES or THREAD_ARENA_OTHER of malloc arena, each locked
 * by mlockall) for a thread that never faults when memory is short.
 *
 * Locks: none.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "thread.h"

/* The one guard for PR_SET_IO_FLUSHER (Linux 5.6; older headers lack it). */
#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

/* Set before the first thread starts (thread_config()). */
static bool thread_io_flusher;
/* The first failure's errno; relaxed, it is only reported. */
static atomic_int thread_io_flusher_err;

struct thread_start_arg {
	void *(*fn)(void *);
	void *arg;
	unsigned flags;
	char name[16];
};

void thread_config(bool io_flusher)
{
	thread_io_flusher = io_flusher;
}

int thread_io_flusher_errno(void)
{
	return atomic_load_explicit(&thread_io_flusher_err, memory_order_relaxed);
}

/*
 * glibc keeps two real-time signals for itself, 32 (thread cancellation)
 * and 33 (setuid() and friends across threads): sigfillset() and
 * sigaddset() leave them out, pthread_sigmask() will not block them, and
 * pthread_create() unblocks them again in the creator.  Their handlers
 * are installed only when first needed, so until then either one, sent
 * by kill(1), ends the process.  The daemon never cancels a thread and
 * never changes its ids, the only uses glibc has for them, so they are
 * blocked like the rest - with the system call itself, after every
 * thread creation too (thread_block()).
 */
static void thread_add_glibc_signals(sigset_t *set)
{
	enum { BITS = 8 * sizeof(set->__val[0]) };

	for (int sig = 32; sig <= 33; sig++)
		set->__val[(sig - 1) / BITS] |= 1ul << ((sig - 1) % BITS);
}

void thread_signals(sigset_t *set)
{
	sigfillset(set);
	thread_add_glibc_signals(set);
	sigdelset(set, SIGKILL);
	sigdelset(set, SIGSTOP);
	sigdelset(set, SIGPIPE);
}

/* Block @set in this thread (how: SIG_BLOCK or SIG_SETMASK), glibc's own included. */
static void thread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	syscall(SYS_rt_sigprocmask, how, set, old, _NSIG / 8);
}

void thread_block(void)
{
	sigset_t all;

	thread_signals(&all);
	thread_sigmask(SIG_BLOCK, &all, NULL);
}

void thread_touch(void *p, size_t len)
{
	/*
	 * Not memset(): GCC turns malloc() + memset(0) into calloc(), which
	 * leaves fresh pages untouched - and the first use then faults them
	 * in, perhaps inside a full memory cgroup, under pressure.
	 */
	for (size_t k = 0; k < len; k += 4096)
		((volatile char *)p)[k] = 1;
	if (len)
		((volatile char *)p)[len - 1] = 1;
}

static void __attribute__((noinline)) thread_touch_stack(void)
{
	volatile char area[THREAD_STACK_TOUCH];

	for (size_t k = 0; k < sizeof(area); k += 4096)
		area[k] = 0;
}

/*
 * main.c tunes malloc so that an arena's top is never given back; touching
 * @bytes of this thread's arena now makes the pages its later allocations
 * recycle resident (and, under mlockall, locked).
 */
static void thread_warm_arena(size_t bytes)
{
	enum { MAX = THREAD_ARENA_SERVES / 4096 };
	size_t n = bytes / 4096;
	void *p[MAX];

	for (size_t k = 0; k < n && k < MAX; k++) {
		p[k] = malloc(4096 - 64);
		if (p[k])
			thread_touch(p[k], 4096 - 64);
	}
	for (size_t k = 0; k < n && k < MAX; k++)
		free(p[k]);
}

static void thread_setup(const struct thread_start_arg *a)
{
	pthread_setname_np(pthread_self(), a->name);
	if (thread_io_flusher && prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0)) {
		int zero = 0;

		atomic_compare_exchange_strong_explicit(&thread_io_flusher_err,
							&zero, errno,
							memory_order_relaxed,
							memory_order_relaxed);
	}
	if (a->flags & THREAD_BATCH) {
		struct sched_param sp = { .sched_priority = 0 };

		pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	}
	if (a->flags & THREAD_IDLE)
		(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	thread_touch_stack();
	thread_warm_arena(a->flags & THREAD_SERVES ? THREAD_ARENA_SERVES
						   : THREAD_ARENA_OTHER);
	if (a->flags & THREAD_WAKE) {
		sigset_t wake;

		sigemptyset(&wake);
		sigaddset(&wake, THREAD_SIG_WAKE);
		pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	}
}

static void *thread_main(void *p)
{
	struct thread_start_arg a = *(struct thread_start_arg *)p;

	free(p);
	thread_block();		/* glibc's own two, which pthread_create() cleared */
	thread_setup(&a);
	return a.fn(a.arg);
}

int thread_start(pthread_t *tid, const char *name, unsigned flags,
		 void *(*fn)(void *), void *arg)
{
	struct thread_start_arg *a = malloc(sizeof(*a));
	sigset_t all, old;
	int err;

	if (!a)
		return -ENOMEM;
	a->fn = fn;
	a->arg = arg;
	a->flags = flags;
	snprintf(a->name, sizeof(a->name), "%s", name);
	thread_signals(&all);
	thread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(tid, NULL, thread_main, a);
	thread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		free(a);
		return -err;
	}
	return 0;
}

static void thread_wake(int sig)
{
	(void)sig;		/* only to interrupt read() or io_uring_enter() */
}

int thread_wake_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = thread_wake;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;		/* no SA_RESTART: read() must return */
	return sigaction(THREAD_SIG_WAKE, &sa, NULL) ? -errno : 0;
}

void thread_join_woken(pthread_t tid)
{
	/* repeated: a signal that lands just before the blocking call is lost */
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };

	while (pthread_tryjoin_np(tid, NULL) == EBUSY) {
		pthread_kill(tid, THREAD_SIG_WAKE);
		clock_nanosleep(CLOCK_MONOTONIC, 0, &tick, NULL);
	}
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
