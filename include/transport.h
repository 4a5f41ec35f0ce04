/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * transport: how requests travel between the kernel and the operations of
 * fs.c.  Two transports, chosen by -o transport=, over one shared file:
 *
 *  - shared (src/transport.c): the daemon's log and the description of
 *    what serves; every serving thread is started by thread_start()
 *    (include/thread.h), as every thread of the daemon is;
 *
 *  - classic (src/transport_classic.c): a fixed pool of workers, each
 *    reading /dev/fuse and handing the request to libfuse, which calls
 *    fs.c's libfuse layer;
 *  - uring (src/transport_uring.c): FUSE over io_uring, one ring per
 *    possible CPU, whose threads decode the hot requests themselves and
 *    call fs.c's transport-neutral functions on the ring's own buffers.
 *    The classic pool runs beside it: FORGET and INTERRUPT still come
 *    through /dev/fuse, and every request does when registration fails.
 *
 * main.c owns start-up, signals and shutdown; it calls these.  The calls
 * go one way: main -> transport_{classic,uring} -> transport -> fs.
 */
#ifndef ZRAMFUSE_TRANSPORT_H
#define ZRAMFUSE_TRANSPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct fs;
struct options;
struct fuse_session;
struct transport_classic;
struct transport_uring;

struct transport {
	const struct options *o;
	struct fs *fs;
	struct fuse_session *se;	/* the mounted session */
	pthread_t main_tid;		/* takes the signals, see main.c */
	atomic_bool stopping;		/* relaxed; main.c sets it to stop */
	struct transport_classic *classic;
	struct transport_uring *uring;	/* NULL: classic only */
	char desc[208];			/* transport_describe(); set at start-up */
};

/* The main thread's wake-up: a worker left, the session is over. */
#define TRANSPORT_SIG_LEFT SIGUSR2

/*
 * The daemon's log: "zramfuse: " and the line on stderr, and with
 * transport_log_syslog() in syslog too (then only warnings and errors
 * reach stderr, and none once transport_log_quiet() says it is gone).
 * %m works; errno is kept.
 */
void transport_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Log to syslog as well; call before any thread starts. */
void transport_log_syslog(void);
/* stderr is /dev/null now (the daemon detached). */
void transport_log_quiet(void);
/* A line for the start-up log: "transport=uring (2 queues x 8)" etc. */
const char *transport_describe(const struct transport *t);

/* classic: threads= workers on /dev/fuse; 0 or -errno (logged). */
int transport_classic_start(struct transport *t);
void transport_classic_stop(struct transport *t);
unsigned transport_classic_threads(const struct transport *t);

/*
 * uring, before the classic workers start: answer INIT (read here from
 * /dev/fuse) and, when transport= allows and the kernel offers it,
 * negotiate FUSE over io_uring and start the ring threads.  Returns 0
 * (t->uring is set when the ring serves or is being registered) or
 * -errno when transport=uring cannot be had (logged with the reason).
 */
int transport_uring_start(struct transport *t);
/*
 * Before the mount, with transport=auto or uring: turn fuse's global
 * enable_uring switch on when it is off (logged once; see the comment in
 * src/transport_uring.c for what that changes and why it stays on).
 */
void transport_uring_enable(const struct options *o);
void transport_uring_stop(struct transport *t);

#endif
