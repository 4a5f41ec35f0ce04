// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * transport: what both transports share (include/transport.h) - the
 * daemon's log, the set-up every serving thread does before its first
 * request, and the wake-up that gets a serving thread out of a blocking
 * read() or io_uring_enter() at shutdown.  main.c and the transports
 * call down into this file; it calls nothing above it, and below it only
 * fs_thread_init().
 *
 * Set-up.  A swap device's daemon must serve without faulting or waiting
 * for the kernel, so every serving thread (classic worker, ring thread,
 * forwarder) goes through transport_thread_prepare() before it serves:
 * PR_SET_IO_FLUSHER, the store's scratch state and a read buffer
 * (fs_thread_init()), a touched stack and a warmed malloc arena.  The
 * trade-off is memory held per thread from the start (about 1 MiB of
 * arena and 128 KiB of stack each, locked by mlockall) for a first
 * request that costs what every later one does.
 *
 * Shutdown.  TRANSPORT_SIG_WAKE's handler does nothing and is installed
 * without SA_RESTART, so a thread blocked in read() or io_uring_enter()
 * returns EINTR and looks at the session again; transport_join() repeats
 * the signal until the thread is joined, since one that lands just before
 * the blocking call would be lost.
 *
 * The log goes to stderr until the daemon detaches, and to syslog as
 * well once it runs in the background (main.c decides both).
 *
 * Locks: none.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <syslog.h>
#include <time.h>

#include "fs.h"
#include "options.h"
#include "transport.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

/* Stack each serving thread faults in before serving. */
#define TRANSPORT_STACK_TOUCH (128 * 1024)
/* Heap each serving thread's malloc arena has touched before serving. */
#define TRANSPORT_ARENA_WARM (1024 * 1024)
/* How often transport_join() repeats its wake-up. */
#define TRANSPORT_JOIN_TICK_NS (10 * 1000 * 1000)

/* Set before any thread starts (transport_log_syslog()). */
static bool transport_syslog;
/* Detached: stderr is /dev/null; relaxed, as a thread may log meanwhile. */
static atomic_bool transport_quiet;

/* ---- the log ------------------------------------------------------------ */

void transport_log(int prio, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	/* detached: only warnings and errors still go to the terminal */
	if (!atomic_load_explicit(&transport_quiet, memory_order_relaxed) &&
	    (!transport_syslog || prio <= LOG_WARNING)) {
		va_start(ap, fmt);
		fprintf(stderr, "zramfuse: ");
		errno = saved;
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	if (transport_syslog) {
		va_start(ap, fmt);
		errno = saved;
		vsyslog(prio, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

void transport_log_syslog(void)
{
	transport_syslog = true;
	openlog("zramfuse", LOG_PID, LOG_DAEMON);
}

void transport_log_quiet(void)
{
	atomic_store_explicit(&transport_quiet, true, memory_order_relaxed);
}

const char *transport_describe(const struct transport *t)
{
	return t->desc[0] ? t->desc : "transport=classic";
}

/* ---- a serving thread's set-up ------------------------------------------ */

void transport_exit_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, TRANSPORT_SIG_LEFT);
}

/*
 * Fault pages in now.  Not memset(): GCC turns malloc() + memset(0) into
 * calloc(), which leaves fresh pages untouched - and then the first
 * request faults them in, inside the memory cgroup, under pressure, with
 * its swap-out throttled behind the very request being read.
 */
void transport_touch(void *p, size_t len)
{
	for (size_t k = 0; k < len; k += 4096)
		((volatile char *)p)[k] = 1;
	if (len)
		((volatile char *)p)[len - 1] = 1;
}

static void transport_touch_stack(void)
{
	volatile char area[TRANSPORT_STACK_TOUCH];

	for (size_t k = 0; k < sizeof(area); k += 4096)
		area[k] = 0;
}

/*
 * libfuse allocates every request (calloc) on the serving thread; main.c
 * tunes malloc so that a thread arena's top is never given back, and each
 * serving thread touches a megabyte of its own arena before serving, so
 * the pages its requests recycle are resident and, with mlockall, locked.
 */
static void transport_warm_arena(void)
{
	enum { N = TRANSPORT_ARENA_WARM / 4096 };
	void *p[N];

	for (size_t k = 0; k < N; k++) {
		p[k] = malloc(4096 - 64);
		if (p[k])
			transport_touch(p[k], 4096 - 64);
	}
	for (size_t k = 0; k < N; k++)
		free(p[k]);
}

int transport_thread_prepare(struct transport *t)
{
	int rc;

	if (t->o->io_flusher && prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0)) {
		int zero = 0;

		atomic_compare_exchange_strong_explicit(&t->io_flusher_errno,
							&zero, errno,
							memory_order_relaxed,
							memory_order_relaxed);
	}
	rc = fs_thread_init(t->fs);
	transport_touch_stack();
	transport_warm_arena();
	return rc;
}

/* ---- waking a serving thread -------------------------------------------- */

static void transport_wake(int sig)
{
	(void)sig;		/* only to interrupt read() or io_uring_enter() */
}

int transport_wake_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = transport_wake;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;		/* no SA_RESTART: read() must return */
	if (sigaction(TRANSPORT_SIG_WAKE, &sa, NULL)) {
		transport_log(LOG_ERR, "sigaction SIGUSR1: %m");
		return -errno;
	}
	return 0;
}

void transport_join(pthread_t tid)
{
	const struct timespec tick = { .tv_nsec = TRANSPORT_JOIN_TICK_NS };

	while (pthread_tryjoin_np(tid, NULL) == EBUSY) {
		pthread_kill(tid, TRANSPORT_SIG_WAKE);
		clock_nanosleep(CLOCK_MONOTONIC, 0, &tick, NULL);
	}
}
