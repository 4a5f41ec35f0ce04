/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * thread: how every thread of the daemon starts and waits.
 *
 * Every thread - the store's (reclaim workers, the reserve's refiller,
 * the headroom tracker, the backing file's hole puncher), the background
 * passes' (policy, read-back recompression) and the serving threads of
 * both transports - may run while the machine swaps to our own device.
 * So each is started by thread_start() and set up the same way, in one
 * place, before its function runs, whoever starts it and whenever (a
 * policy thread started by a control-file write gets what a thread made
 * at start-up gets):
 *
 *  - every asynchronous signal blocked (thread_signals()): the main
 *    thread alone takes them and decides (src/main.c), so no signal ends,
 *    stops or interrupts a thread that holds a page; a THREAD_WAKE thread
 *    unblocks only THREAD_SIG_WAKE, whose handler does nothing;
 *  - PR_SET_IO_FLUSHER where permitted (thread_config()): its
 *    allocations then never recurse into I/O on our device; it needs
 *    CAP_SYS_RESOURCE, and the first refusal is kept for the daemon to
 *    report once (thread_io_flusher_errno());
 *  - its stack and its malloc arena touched at once, so that under
 *    mlockall they are resident and locked before memory can be short;
 *  - a name, for /proc/PID/task/TID/comm when diagnosing a hang.
 *
 * Timed waits use CLOCK_MONOTONIC: a condition variable made with
 * thread_cond_init() and a deadline from thread_deadline(), so that a
 * change of the wall clock neither cuts a wait short nor stretches it.
 */
#ifndef ZRAMFUSE_THREAD_H
#define ZRAMFUSE_THREAD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum {
	THREAD_BATCH = 1u << 0,		/* SCHED_BATCH: a wake-up never preempts */
	THREAD_IDLE = 1u << 1,		/* nice 19: runs on time the workload leaves */
	THREAD_WAKE = 1u << 2,		/* THREAD_SIG_WAKE interrupts its blocking calls */
	THREAD_SERVES = 1u << 3,	/* serves requests: a larger arena warmed */
};

/*
 * What interrupts a THREAD_WAKE thread's read() or io_uring_enter() (its
 * handler does nothing; installed by thread_wake_install()).
 */
#define THREAD_SIG_WAKE SIGUSR1

/* Stack every thread faults in at its start. */
#define THREAD_STACK_TOUCH (128u * 1024)
/* malloc arena a thread touches at its start: THREAD_SERVES, and others. */
#define THREAD_ARENA_SERVES (1024u * 1024)
#define THREAD_ARENA_OTHER (128u * 1024)

/*
 * The process-wide set-up, before the first thread_start():
 * PR_SET_IO_FLUSHER on every thread or none (default none: unit tests and
 * benchmarks do not ask for it).
 */
void thread_config(bool io_flusher);
/* 0, or the errno of the first thread whose PR_SET_IO_FLUSHER failed. */
int thread_io_flusher_errno(void);

/*
 * The asynchronous signals: every signal but SIGKILL and SIGSTOP (which
 * cannot be blocked) and SIGPIPE (ignored: a broken pipe is an error
 * return, not an event), glibc's own 32 and 33 included.  Every thread
 * blocks them; the main thread waits for them.  Faults (SIGSEGV, SIGBUS,
 * ...) are in the set only as sent by another process: the kernel
 * delivers a real fault even when it is blocked.
 */
void thread_signals(sigset_t *set);
/* Block thread_signals() in the calling thread (the main thread, first). */
void thread_block(void);

/*
 * Start @fn(@arg) on a new thread named @name (at most 15 bytes), set up
 * as described above with @flags.  Returns 0 or -errno.
 */
int thread_start(pthread_t *tid, const char *name, unsigned flags,
		 void *(*fn)(void *), void *arg);

/* Install THREAD_SIG_WAKE's do-nothing handler (no SA_RESTART); 0 or -errno. */
int thread_wake_install(void);
/* Join @tid, waking it with THREAD_SIG_WAKE until it returns. */
void thread_join_woken(pthread_t tid);

/* Fault pages in now (volatile stores: a memset() may be elided). */
void thread_touch(void *p, size_t len);

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
