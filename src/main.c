// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main: start-up, the session loop and an orderly shutdown.
 *
 * Start-up order, and why:
 *
 *   options      one line on stderr and exit 1 for anything bad, before
 *                anything is touched
 *   fork         (unless -f) the parent only waits for the child's word
 *                and exits with its status, so every error of the real
 *                start-up - store, mount, workers - reaches the terminal
 *                and the exit status; fuse_daemonize() would detach
 *                before those could fail, and a fork after them would lose
 *                the store's threads and the memory locks
 *   oom_score_adj -1000, mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT)
 *                before any thread or buffer exists, so all of them are
 *                locked; MCL_ONFAULT because the allocator maps large
 *                chunks, and MCL_FUTURE alone would fault in every one of
 *                them at mmap time (a 64 GiB file would lock 64 GiB)
 *   store, fs    the allocator's reserve is faulted in here
 *   session      fuse_session_new(), mount (signals: see below)
 *   workers      threads= of them, each with PR_SET_IO_FLUSHER, the
 *                store's scratch state, a faulted-in receive buffer and a
 *                touched stack; each reports ready and waits for the main
 *                thread's word, which comes once every worker that could be
 *                created is ready, and only then reads /dev/fuse, so no
 *                request is served by a half-made pool (not a barrier: its
 *                count is fixed before pthread_create() can fail)
 *
 * The session loop is our own rather than fuse_session_loop_mt(), which
 * starts and stops workers on demand: a thread created under memory
 * pressure, with a stack to fault in, is exactly what a swap device must
 * not need.  Each worker loops fuse_session_receive_buf() /
 * fuse_session_process_buf() until the session exits.
 *
 * Signals.  A stray signal must never drop stored data: a loop device,
 * and swap on it, may hold a file, and whatever was swapped to it is lost
 * with the daemon.  So libfuse's handlers (which end the session on
 * SIGINT, SIGTERM and SIGHUP) are not used.  Every thread blocks SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT and SIGUSR2 from the start of main_run(), and
 * the main thread takes them synchronously with sigtimedwait(), in
 * ordinary context, so it may lock and log:
 *
 *   SIGTERM, SIGHUP, SIGINT  exit when no data file is open (exactly as
 *                before: unmount, status 0); while one is open, log once
 *                per signal that it is in use, who sent the signal and
 *                how to tear down, and go on serving.  zram likewise
 *                refuses reset while its device is open.  SIGINT too:
 *                Ctrl-C under -f must not drop live swap either.
 *   SIGQUIT      the explicit force: exit now, open files or not (Ctrl-\
 *                under -f, or kill -QUIT), with a warning of what is lost
 *   SIGUSR2      a worker left its loop (the session is over); sent by
 *                the worker to the main thread, harmless from outside
 *
 * A signal whose disposition the daemon inherited as ignored stays
 * ignored (the kernel discards it), as libfuse has it: a script's
 * background job ignores SIGINT and SIGQUIT, so that Ctrl-C and Ctrl-\
 * at the script's terminal do not reach it.  Except SIGQUIT once the
 * daemon has detached: no terminal can send it any more, and the force
 * must work however the daemon was started.
 *
 * Shutdown: an unmount (or an aborted connection) makes every read of
 * /dev/fuse fail with ENODEV and libfuse marks the session exited, and
 * the worker that saw it wakes the main thread; or the main thread ends
 * the session itself on a signal.  It then wakes each worker still
 * blocked in read() with SIGUSR1, whose handler does nothing and is
 * installed without SA_RESTART, so read() returns EINTR; it repeats that
 * until the worker is joined (a signal that lands just before the read()
 * would otherwise be lost).  Then unmount, and store_destroy().
 */
#include "config.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "fs.h"
#include "options.h"
#include "store.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

/* libfuse reads requests of up to max_write (FS_MAX_IO) plus a header. */
#define MAIN_RECV_BUF (FS_MAX_IO + 2 * 4096)
/* Stack each worker faults in before serving. */
#define MAIN_STACK_TOUCH (128 * 1024)
/* Heap each worker's malloc arena has touched before serving. */
#define MAIN_ARENA_WARM (1024 * 1024)

struct main_ctx;

struct main_worker {
	struct main_ctx *m;
	pthread_t tid;
	int rc;				/* set-up result, under start_lock */
};

struct main_ctx {
	struct options *o;
	struct store *st;
	struct fs *fs;
	struct fuse_session *se;
	struct main_worker *workers;
	unsigned nr_workers;		/* created */
	/* start-up hand-shake between the workers and the main thread */
	pthread_mutex_t start_lock;
	pthread_cond_t start_cv;
	unsigned nr_ready;		/* workers done with their set-up */
	enum { MAIN_START_WAIT, MAIN_START_GO, MAIN_START_ABORT } start;
	pthread_t main_tid;		/* takes the signals (main_wait()) */
	atomic_int io_flusher_errno;	/* relaxed; first failure */
};

static bool main_syslog;		/* detached: log to syslog as well */
/* detached: stderr is /dev/null; relaxed, as a worker may log meanwhile */
static atomic_bool main_quiet;

static void __attribute__((format(printf, 2, 3)))
main_log(int prio, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	/* detached: only warnings and errors still go to the terminal */
	if (!atomic_load_explicit(&main_quiet, memory_order_relaxed) &&
	    (!main_syslog || prio <= LOG_WARNING)) {
		va_start(ap, fmt);
		fprintf(stderr, "zramfuse: ");
		errno = saved;
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	if (main_syslog) {
		va_start(ap, fmt);
		errno = saved;
		vsyslog(prio, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

/* The main thread's wake-up: a worker left, the session is over. */
#define MAIN_SIG_LEFT SIGUSR2

/* The signals every thread blocks and the main thread waits for. */
static void main_exit_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, MAIN_SIG_LEFT);
}

static void main_wake(int sig)
{
	(void)sig;		/* only to interrupt read() */
}

/*
 * Fault pages in now.  Not memset(): GCC turns malloc() + memset(0) into
 * calloc(), which leaves fresh pages untouched - and then the first
 * request faults them in, inside the memory cgroup, under pressure, with
 * its swap-out throttled behind the very request being read.
 */
static void main_touch(void *p, size_t len)
{
	for (size_t k = 0; k < len; k += 4096)
		((volatile char *)p)[k] = 1;
	if (len)
		((volatile char *)p)[len - 1] = 1;
}

static void main_touch_stack(void)
{
	volatile char area[MAIN_STACK_TOUCH];

	for (size_t k = 0; k < sizeof(area); k += 4096)
		area[k] = 0;
}

/*
 * libfuse allocates every request (calloc) on the serving thread.  Keep
 * that from ever needing the kernel: glibc must not give a thread arena's
 * top back (trimming, then growing again with mprotect, which takes the
 * mmap lock for writing - where a thread stuck in reclaim on our own
 * device holds it for reading) nor map mid-size blocks one by one; and
 * each worker touches a megabyte of its own arena before serving, so the
 * pages its requests recycle are resident and, with mlockall, locked.
 */
static void main_malloc_tune(void)
{
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

static void main_warm_arena(void)
{
	enum { N = MAIN_ARENA_WARM / 4096 };
	void *p[N];

	for (size_t k = 0; k < N; k++) {
		p[k] = malloc(4096 - 64);
		if (p[k])
			main_touch(p[k], 4096 - 64);
	}
	for (size_t k = 0; k < N; k++)
		free(p[k]);
}

static void *main_worker(void *arg)
{
	struct main_worker *w = arg;
	struct main_ctx *m = w->m;
	struct fuse_buf fbuf;
	int rc = 0;

	memset(&fbuf, 0, sizeof(fbuf));
	if (m->o->io_flusher && prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0)) {
		int zero = 0;

		atomic_compare_exchange_strong_explicit(&m->io_flusher_errno,
							&zero, errno,
							memory_order_relaxed,
							memory_order_relaxed);
	}
	rc = fs_thread_init(m->fs);
	if (!rc) {
		fbuf.mem = malloc(MAIN_RECV_BUF);
		if (fbuf.mem)
			main_touch(fbuf.mem, MAIN_RECV_BUF);
		else
			rc = -ENOMEM;
	}
	main_touch_stack();
	main_warm_arena();
	pthread_mutex_lock(&m->start_lock);
	w->rc = rc;
	m->nr_ready++;
	pthread_cond_broadcast(&m->start_cv);
	while (m->start == MAIN_START_WAIT)
		pthread_cond_wait(&m->start_cv, &m->start_lock);
	if (m->start == MAIN_START_ABORT)
		rc = -ECANCELED;
	pthread_mutex_unlock(&m->start_lock);
	if (rc)
		goto out;

	while (!fuse_session_exited(m->se)) {
		int n = fuse_session_receive_buf(m->se, &fbuf);

		if (n == -EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				main_log(LOG_ERR, "reading /dev/fuse: %s", strerror(-n));
			break;
		}
		fuse_session_process_buf(m->se, &fbuf);
	}
	/* one worker leaving means the session is over for all */
	fuse_session_exit(m->se);
	pthread_kill(m->main_tid, MAIN_SIG_LEFT);
out:
	free(fbuf.mem);
	fs_thread_exit();
	return NULL;
}

/* Join every worker, waking those blocked in read() until they return. */
static void main_stop_workers(struct main_ctx *m)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };

	for (unsigned k = 0; k < m->nr_workers; k++) {
		while (pthread_tryjoin_np(m->workers[k].tid, NULL) == EBUSY) {
			pthread_kill(m->workers[k].tid, SIGUSR1);
			nanosleep(&tick, NULL);
		}
	}
	m->nr_workers = 0;
}

static int main_start_workers(struct main_ctx *m)
{
	struct sigaction sa;
	sigset_t block, old;
	unsigned n = m->o->threads;
	char name[16];
	int rc, err;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_wake;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;		/* no SA_RESTART: read() must return */
	if (sigaction(SIGUSR1, &sa, NULL)) {
		main_log(LOG_ERR, "sigaction SIGUSR1: %m");
		return -errno;
	}
	m->workers = calloc(n, sizeof(*m->workers));
	if (!m->workers) {
		main_log(LOG_ERR, "worker table: %m");
		return -ENOMEM;
	}
	/* workers never take the exit signals: the main thread does */
	main_exit_signals(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = 0;
	for (unsigned k = 0; k < n; k++) {
		m->workers[k].m = m;
		err = pthread_create(&m->workers[k].tid, NULL, main_worker,
				     &m->workers[k]);
		if (err) {
			main_log(LOG_ERR, "worker thread %u: %s", k, strerror(err));
			rc = -err;
			break;
		}
		m->nr_workers++;
		/* named, for /proc/PID/task/TID/comm when diagnosing a hang */
		snprintf(name, sizeof(name), "zf-fuse/%u", k % 100);
		pthread_setname_np(m->workers[k].tid, name);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	/*
	 * Wait for the workers that exist - however many pthread_create()
	 * made - then tell them all at once to serve, or to leave.
	 */
	pthread_mutex_lock(&m->start_lock);
	while (m->nr_ready < m->nr_workers)
		pthread_cond_wait(&m->start_cv, &m->start_lock);
	for (unsigned k = 0; k < m->nr_workers; k++) {
		if (m->workers[k].rc && !rc) {
			rc = m->workers[k].rc;
			main_log(LOG_ERR, "worker %u set-up: %s", k,
				 strerror(-rc));
		}
	}
	m->start = rc ? MAIN_START_ABORT : MAIN_START_GO;
	pthread_cond_broadcast(&m->start_cv);
	pthread_mutex_unlock(&m->start_lock);
	if (rc) {
		main_stop_workers(m);
		goto err_free;
	}
	return 0;

err_free:
	free(m->workers);
	m->workers = NULL;
	return rc;
}

/* Returns 0 or the errno; logged with the others once the mount serves. */
static int main_oom_adj(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0 || write(fd, "-1000", 5) != 5)
		err = errno;
	if (fd >= 0)
		close(fd);
	return err;
}

static int main_mlock(void)
{
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) {
		main_log(LOG_ERR, "mlockall: %m (-o nomlock turns it off, for non-swap use only)");
		return -errno;
	}
	return 0;
}

/* Say once which of the three swap-safety measures are in force. */
static void main_report_safety(struct main_ctx *m, int oom_err)
{
	const struct options *o = m->o;
	int e;

	if (!o->oom_adj) {
		main_log(LOG_INFO, "-o nooomadj: oom_score_adj left as it is");
	} else if (oom_err) {
		errno = oom_err;
		main_log(LOG_WARNING, "warning: cannot set oom_score_adj to -1000: %m (needs CAP_SYS_RESOURCE); the OOM killer may end the daemon, and with it every page swapped to it");
	} else {
		main_log(LOG_INFO, "oom_score_adj set to -1000");
	}
	if (o->mlock)
		main_log(LOG_INFO, "memory locked: mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT)");
	else
		main_log(LOG_WARNING, "-o nomlock: memory not locked; do not use this mount for swap");
	e = atomic_load_explicit(&m->io_flusher_errno, memory_order_relaxed);
	if (!o->io_flusher) {
		main_log(LOG_INFO, "-o noioflusher: workers not marked PR_SET_IO_FLUSHER");
	} else if (e) {
		errno = e;
		main_log(LOG_WARNING, "warning: PR_SET_IO_FLUSHER: %m (needs CAP_SYS_RESOURCE); the workers may block in reclaim on their own device");
	} else {
		main_log(LOG_INFO, "PR_SET_IO_FLUSHER set on %u worker threads",
			 m->nr_workers);
	}
}

/* Check comp= and comp_level= against the codecs built in, with a clear line. */
static int main_check_codec(const struct options *o)
{
	struct codec c;
	int rc = codec_init(&c, o->comp, o->comp_level);

	if (rc == -ENOENT) {
		fprintf(stderr, "zramfuse: comp=%s: not built in (built: %s)\n",
			o->comp, codec_names());
		return rc;
	}
	if (rc == -ERANGE) {
		codec_init(&c, o->comp, 0);
		fprintf(stderr, "zramfuse: comp_level=%d: out of range for %s (%d to %d)\n",
			o->comp_level, o->comp, c.ops->level_min, c.ops->level_max);
		return rc;
	}
	return rc;
}

/* Detach from the terminal once the mount serves. */
static void main_detach(int status_fd)
{
	int fd;
	char ok = 0;

	if (status_fd < 0)
		return;
	setsid();
	/* no terminal now: the force works even if SIGQUIT was ignored */
	signal(SIGQUIT, SIG_DFL);
	if (chdir("/"))
		main_log(LOG_WARNING, "warning: chdir /: %m");
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	atomic_store_explicit(&main_quiet, true, memory_order_relaxed);
	if (write(status_fd, &ok, 1) != 1)
		main_log(LOG_WARNING, "warning: telling the parent: %m");
	close(status_fd);
}

/*
 * What a signal taken by main_wait() does (see the top of the file).
 * Returns true when the daemon should exit.
 */
static bool main_signal(struct main_ctx *m, const siginfo_t *si)
{
	const char *name = sigabbrev_np(si->si_signo);
	unsigned n = fs_open_files(m->fs);
	char from[48] = "";

	if (si->si_signo == MAIN_SIG_LEFT)
		return false;	/* the loop looks at the session */
	if (si->si_code == SI_USER || si->si_code == SI_QUEUE)
		snprintf(from, sizeof(from), " from pid %ld", (long)si->si_pid);
	if (si->si_signo == SIGQUIT) {
		if (n)
			main_log(LOG_WARNING, "SIG%s%s: forced exit with %u file%s open",
				 name, from, n, n == 1 ? "" : "s");
		else
			main_log(LOG_INFO, "SIG%s%s: exiting", name, from);
		return true;
	}
	if (!n) {
		main_log(LOG_INFO, "SIG%s%s: no file open, exiting", name, from);
		return true;
	}
	main_log(LOG_WARNING, "SIG%s%s ignored: %u file%s open on %s (a loop device, swap, a program), whose data would be lost; to stop, run swapoff, losetup -d and umount %s, in that order; SIGQUIT forces an exit",
		 name, from, n, n == 1 ? "" : "s", m->o->mountpoint,
		 m->o->mountpoint);
	return false;
}

/*
 * Serve until the session is over: the workers serve, the main thread
 * takes the signals.  The timeout is only a safety net; a worker that
 * leaves wakes it at once.
 */
static void main_wait(struct main_ctx *m, const sigset_t *sigs)
{
	while (!fuse_session_exited(m->se)) {
		const struct timespec tick = { .tv_sec = 1 };
		siginfo_t si;

		if (sigtimedwait(sigs, &si, &tick) < 0)
			continue;	/* EAGAIN, EINTR */
		if (main_signal(m, &si))
			fuse_session_exit(m->se);
	}
}

static int main_run(struct options *o, int status_fd)
{
	struct store_config cfg;
	struct main_ctx m;
	sigset_t exit_sigs;
	size_t ops_size;
	const struct fuse_lowlevel_ops *ops = fs_lowlevel_ops(&ops_size);
	int rc, oom_err = 0;

	memset(&m, 0, sizeof(m));
	m.o = o;
	if (status_fd >= 0) {
		main_syslog = true;
		openlog("zramfuse", LOG_PID, LOG_DAEMON);
	}
	/*
	 * From here on every thread blocks the exit signals, and the main
	 * thread takes them in main_wait(): one that comes during start-up
	 * waits until the mount serves.  A broken pipe is an error, not a
	 * death, as libfuse's handlers have it.
	 */
	m.main_tid = pthread_self();
	main_exit_signals(&exit_sigs);
	pthread_sigmask(SIG_BLOCK, &exit_sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&m.start_lock, NULL);
	pthread_cond_init(&m.start_cv, NULL);

	/*
	 * Until the mount serves, only errors are printed, so that a failed
	 * start says one line; the safety measures are reported after.
	 */
	if (o->oom_adj)
		oom_err = main_oom_adj();
	if (o->mlock) {
		rc = main_mlock();
		if (rc)
			goto err_start;
	}
	main_malloc_tune();

	memset(&cfg, 0, sizeof(cfg));
	cfg.comp = o->comp;
	cfg.comp_level = o->comp_level;
	cfg.mem_limit = o->mem_limit;
	cfg.deferred_free = o->deferred_free;
	cfg.reclaim_threads = o->reclaim_threads;
	cfg.reserve_pages = o->reserve / STORE_PAGE_SIZE;
	/* with a reserve, writes never wait for the kernel (issue 5) */
	cfg.nowait_writes = o->reserve > 0;
	cfg.io_flusher = o->io_flusher;
	cfg.backing_dev = o->backing_dev;
	/* the store's reclaim and refill threads inherit the mask */
	rc = store_create(&cfg, &m.st);
	if (rc) {
		/* with mlockall, every later mapping counts against the limit */
		bool memlock = o->mlock && rc == -EAGAIN;

		errno = -rc;
		main_log(LOG_ERR, "store (comp=%s, reserve=%lluK%s%s): %m%s", o->comp,
			 (unsigned long long)(o->reserve >> 10),
			 o->backing_dev ? ", backing_dev=" : "",
			 o->backing_dev ? o->backing_dev : "",
			 memlock ? " (RLIMIT_MEMLOCK too low for mlockall: raise it, e.g. ulimit -l unlimited, or use -o nomlock for non-swap use)" : "");
		goto err_start;
	}

	rc = fs_create(m.st, &(struct fs_config){
		.size = o->size, .file = o->file,
		.uid = getuid(), .gid = getgid(),
		.policy = o->policy, .io_flusher = o->io_flusher }, &m.fs);
	if (rc) {
		errno = -rc;
		main_log(LOG_ERR, "file %s of %llu bytes: %m", o->file,
			 (unsigned long long)o->size);
		goto err_store;
	}

	/* libfuse prints its own one-line reason (unknown option, ...) */
	m.se = fuse_session_new(o->fuse_args, ops, ops_size, m.fs);
	if (!m.se) {
		rc = -EINVAL;
		goto err_fs;
	}
	if (fuse_session_mount(m.se, o->mountpoint)) {
		rc = -EINVAL;
		goto err_session;
	}
	rc = main_start_workers(&m);
	if (rc)
		goto err_unmount;

	main_report_safety(&m, oom_err);
	main_log(LOG_INFO, "serving %s: %s%s%llu bytes, comp=%s, mem_limit=%llu, threads=%u, reserve=%lluK",
		 o->mountpoint, o->size ? o->file : "no file", o->size ? " of " : "",
		 (unsigned long long)o->size, o->comp,
		 (unsigned long long)o->mem_limit, o->threads,
		 (unsigned long long)(o->reserve >> 10));
	main_detach(status_fd);

	main_wait(&m, &exit_sigs);
	main_stop_workers(&m);
	if (fs_open_files(m.fs))
		main_log(LOG_WARNING, "exiting with %u files open: whatever still uses them (a loop device, swap) now gets I/O errors",
			 fs_open_files(m.fs));
	else
		main_log(LOG_INFO, "exiting");
	free(m.workers);
	rc = 0;

err_unmount:
	fuse_session_unmount(m.se);
err_session:
	fuse_session_destroy(m.se);
err_fs:
	fs_destroy(m.fs);
err_store:
	store_destroy(m.st);
err_start:
	pthread_cond_destroy(&m.start_cv);
	pthread_mutex_destroy(&m.start_lock);
	return rc ? 1 : 0;
}

/*
 * Without -f: fork now; the parent waits for one byte from the child
 * (sent once the mount serves) and exits 0, or exits with the child's
 * status when the child dies first.
 */
static int main_fork(int *status_fd)
{
	int fds[2], st;
	pid_t pid;
	ssize_t n;
	char c;

	if (pipe2(fds, O_CLOEXEC)) {
		fprintf(stderr, "zramfuse: pipe: %m\n");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "zramfuse: fork: %m\n");
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		*status_fd = fds[1];
		return 0;
	}
	close(fds[1]);
	do
		n = read(fds[0], &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : 1);
}

int main(int argc, char **argv)
{
	struct options o;
	char err[512];
	int status_fd = -1, rc;

	if (options_parse(argc, argv, &o, err, sizeof(err))) {
		if (*err)	/* else libfuse said why */
			fprintf(stderr, "zramfuse: %s\n", err);
		return 1;
	}
	if (o.show_help) {
		options_help(argv[0]);
		options_free(&o);
		return 0;
	}
	if (o.show_version) {
		printf("zramfuse %s (libfuse %s, codecs: %s)\n", PACKAGE_VERSION,
		       fuse_pkgversion(), codec_names());
		options_free(&o);
		return 0;
	}
	if (main_check_codec(&o)) {
		options_free(&o);
		return 1;
	}
	if (!o.foreground && main_fork(&status_fd)) {
		options_free(&o);
		return 1;
	}
	rc = main_run(&o, status_fd);
	options_free(&o);
	return rc;
}
