// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * transport_classic: the session loop over /dev/fuse - a fixed pool of
 * workers, each reading a request and handing it to libfuse, which calls
 * fs.c's libfuse layer.  The pool is the whole transport with
 * transport=classic, and runs beside the rings with uring (FORGET,
 * INTERRUPT, and everything after a failed registration).
 *
 * The session loop is our own rather than fuse_session_loop_mt(), which
 * starts and stops workers on demand: a thread created under memory
 * pressure, with a stack to fault in, is exactly what a swap device must
 * not need.  threads= workers are made at start-up by thread_start()
 * (src/thread.c: signals, IO_FLUSHER, stack and arena), each with the
 * store's scratch state (fs_thread_init()) and a faulted-in receive
 * buffer; each reports ready and waits for the main thread's word, which
 * comes once every worker that could be created is ready, and only then
 * reads /dev/fuse, so no request is served by a half-made pool (not a
 * barrier: its count is fixed before pthread_create() can fail).  The
 * trade-off: threads= is the most requests served at once, fixed for
 * the mount's life.  Each worker loops fuse_session_receive_buf() /
 * fuse_session_process_buf() until the session exits.
 *
 * Shutdown: an unmount (or an aborted connection) makes every read of
 * /dev/fuse fail with ENODEV and libfuse marks the session exited, and
 * the worker that saw it wakes the main thread; or the main thread ends
 * the session itself on a signal.  It then joins each worker with
 * thread_join_woken(), which wakes one still blocked in read().
 *
 * Locks: start_lock only (the start-up hand-shake).
 */
#include "config.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fs.h"
#include "options.h"
#include "thread.h"
#include "transport.h"

/* libfuse reads requests of up to max_write (FS_MAX_IO) plus a header. */
#define CLASSIC_RECV_BUF (FS_MAX_IO + 2 * 4096)

struct classic_worker {
	struct transport *t;
	pthread_t tid;
	int rc;				/* set-up result, under start_lock */
};

struct transport_classic {
	struct classic_worker *workers;
	unsigned nr_workers;		/* created */
	/* start-up hand-shake between the workers and the main thread */
	pthread_mutex_t start_lock;
	pthread_cond_t start_cv;
	unsigned nr_ready;		/* workers done with their set-up */
	enum { CLASSIC_WAIT, CLASSIC_GO, CLASSIC_ABORT } start;
};

static void *classic_worker(void *arg)
{
	struct classic_worker *w = arg;
	struct transport *t = w->t;
	struct transport_classic *c = t->classic;
	struct fuse_buf fbuf;
	int rc;

	memset(&fbuf, 0, sizeof(fbuf));
	rc = fs_thread_init(t->fs);
	if (!rc) {
		fbuf.mem = malloc(CLASSIC_RECV_BUF);
		if (fbuf.mem)
			thread_touch(fbuf.mem, CLASSIC_RECV_BUF);
		else
			rc = -ENOMEM;
	}
	pthread_mutex_lock(&c->start_lock);
	w->rc = rc;
	c->nr_ready++;
	pthread_cond_broadcast(&c->start_cv);
	while (c->start == CLASSIC_WAIT)
		pthread_cond_wait(&c->start_cv, &c->start_lock);
	if (c->start == CLASSIC_ABORT)
		rc = -ECANCELED;
	pthread_mutex_unlock(&c->start_lock);
	if (rc)
		goto out;

	while (!fuse_session_exited(t->se)) {
		int n = fuse_session_receive_buf(t->se, &fbuf);

		if (n == -EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				transport_log(LOG_ERR, "reading /dev/fuse: %s", strerror(-n));
			break;
		}
		fuse_session_process_buf(t->se, &fbuf);
	}
	/* one worker leaving means the session is over for all */
	fuse_session_exit(t->se);
	pthread_kill(t->main_tid, TRANSPORT_SIG_LEFT);
out:
	free(fbuf.mem);
	fs_thread_exit();
	return NULL;
}

static void classic_stop_workers(struct transport_classic *c)
{
	for (unsigned k = 0; k < c->nr_workers; k++)
		thread_join_woken(c->workers[k].tid);
	c->nr_workers = 0;
}

static void classic_free(struct transport *t)
{
	struct transport_classic *c = t->classic;

	pthread_cond_destroy(&c->start_cv);
	pthread_mutex_destroy(&c->start_lock);
	free(c->workers);
	free(c);
	t->classic = NULL;
}

int transport_classic_start(struct transport *t)
{
	struct transport_classic *c;
	unsigned n = t->o->threads;
	char name[16];
	int rc;

	rc = thread_wake_install();
	if (rc) {
		transport_log(LOG_ERR, "sigaction SIGUSR1: %s", strerror(-rc));
		return rc;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->workers = calloc(n, sizeof(*c->workers));
	if (!c || !c->workers) {
		free(c);
		transport_log(LOG_ERR, "worker table: %m");
		return -ENOMEM;
	}
	pthread_mutex_init(&c->start_lock, NULL);
	pthread_cond_init(&c->start_cv, NULL);
	t->classic = c;
	for (unsigned k = 0; k < n; k++) {
		c->workers[k].t = t;
		snprintf(name, sizeof(name), "zf-fuse/%u", k % 100);
		rc = thread_start(&c->workers[k].tid, name,
				  THREAD_SERVES | THREAD_WAKE, classic_worker,
				  &c->workers[k]);
		if (rc) {
			transport_log(LOG_ERR, "worker thread %u: %s", k, strerror(-rc));
			break;
		}
		c->nr_workers++;
	}

	/*
	 * Wait for the workers that exist - however many pthread_create()
	 * made - then tell them all at once to serve, or to leave.
	 */
	pthread_mutex_lock(&c->start_lock);
	while (c->nr_ready < c->nr_workers)
		pthread_cond_wait(&c->start_cv, &c->start_lock);
	for (unsigned k = 0; k < c->nr_workers; k++) {
		if (c->workers[k].rc && !rc) {
			rc = c->workers[k].rc;
			transport_log(LOG_ERR, "worker %u set-up: %s", k,
				      strerror(-rc));
		}
	}
	c->start = rc ? CLASSIC_ABORT : CLASSIC_GO;
	pthread_cond_broadcast(&c->start_cv);
	pthread_mutex_unlock(&c->start_lock);
	if (rc) {
		classic_stop_workers(c);
		classic_free(t);
	}
	return rc;
}

void transport_classic_stop(struct transport *t)
{
	if (!t->classic)
		return;
	classic_stop_workers(t->classic);
	classic_free(t);
}

unsigned transport_classic_threads(const struct transport *t)
{
	return t->classic ? t->classic->nr_workers : 0;
}
