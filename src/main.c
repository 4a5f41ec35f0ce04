// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main: start-up, signals and an orderly shutdown.
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
 *   transport    (include/transport.h) with transport=uring or auto, INIT
 *                is answered here and the rings are registered; then the
 *                classic workers, threads= of them, each started by
 *                thread_start() as every thread is (include/thread.h:
 *                signals, PR_SET_IO_FLUSHER, stack and arena) and with
 *                the store's scratch state and a faulted-in buffer, all
 *                ready before any serves
 *
 * Signals.  A stray signal must never drop stored data: a loop device,
 * and swap on it, may hold a file, and whatever was swapped to it is lost
 * with the daemon; nor stop the daemon, which would stall every swap-in.
 * So libfuse's handlers (which end the session on SIGINT, SIGTERM and
 * SIGHUP) are not used.  Every asynchronous signal (include/thread.h:
 * all but SIGKILL, SIGSTOP and the ignored SIGPIPE) is blocked in every
 * thread from the start of main_run() - thread_start() makes sure of it
 * for every thread, whoever starts it - and the main thread alone takes
 * them, synchronously with sigtimedwait(), in ordinary context, so it may
 * lock and log.  main_signal() is the one place that decides:
 *
 *   SIGTERM, SIGHUP, SIGINT  exit when no data file is open (unmount,
 *                status 0); while one is open, log once per signal that
 *                it is in use, who sent the signal and how to tear down,
 *                and go on serving.  zram likewise refuses reset while
 *                its device is open.  SIGINT too: Ctrl-C under -f must
 *                not drop live swap either.
 *   SIGQUIT      the explicit force: exit now, open files or not (Ctrl-\
 *                under -f, or kill -QUIT), with a warning of what is lost
 *   SIGUSR2      a worker left its loop (the session is over); sent by
 *                the worker to the main thread, harmless from outside
 *   SIGUSR1      the serving threads leave it unblocked, with a handler
 *                that does nothing: thread_join_woken() uses it to get
 *                one out of read() or io_uring_enter() at shutdown; sent
 *                from outside it interrupts one such call, which is
 *                simply made again
 *   any other    nothing.  Those whose default would end or stop the
 *                process (SIGALRM, SIGTSTP, the real-time signals, a
 *                SIGSEGV sent with kill, ...) are logged the
 *                first time each comes; those ignored by default
 *                (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) are not.
 *
 * A real fault is not a signal that can be blocked: the kernel delivers
 * it anyway, with its default action, and the daemon dumps core.
 *
 * A signal whose disposition the daemon inherited as ignored stays
 * ignored, as libfuse has it: a script's background job ignores SIGINT
 * and SIGQUIT, so that Ctrl-C and Ctrl-\ at the script's terminal do not
 * reach it.  (Being blocked, the kernel queues it all the same; the main
 * thread takes it and does nothing.)  Except SIGQUIT once the daemon has
 * detached: no terminal can send it any more, and the force must work
 * however the daemon was started.
 *
 * Shutdown: the session ends (an unmount, an aborted connection, or the
 * main thread on a signal); the transports' threads are joined
 * (thread_join_woken(), src/thread.c), then unmount, and store_destroy().
 */
#include "config.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "fs.h"
#include "options.h"
#include "store.h"
#include "thread.h"
#include "transport.h"

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

struct main_ctx {
	struct options *o;
	struct store *st;
	struct fs *fs;
	struct fuse_session *se;
	struct transport t;
	sigset_t ignored;	/* inherited as ignored: stay so */
	sigset_t logged;	/* "any other" signals logged once already */
};

/* The log lives below the transports (src/transport.c); main says it too. */
#define main_log transport_log

/*
 * The second codec: as asked, or by default zstd behind lz4 (when built),
 * so that pages read back cost zstd's size rather than lz4's.
 */
static const char *main_recomp(const struct options *o)
{
	if (o->recomp)
		return strcmp(o->recomp, "off") ? o->recomp : NULL;
	if (!strcmp(o->comp, "lz4") && strstr(codec_names(), "zstd"))
		return "zstd";
	return NULL;
}

/*
 * libfuse allocates every request (calloc) on the serving thread.  Keep
 * that from ever needing the kernel: glibc must not give a thread arena's
 * top back (trimming, then growing again with mprotect, which takes the
 * mmap lock for writing - where a thread stuck in reclaim on our own
 * device holds it for reading) nor map mid-size blocks one by one; and
 * each thread touches part of its own arena before it runs (a megabyte
 * for a serving thread: src/thread.c).
 */
static void main_malloc_tune(void)
{
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
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
	e = thread_io_flusher_errno();
	if (!o->io_flusher) {
		main_log(LOG_INFO, "-o noioflusher: threads not marked PR_SET_IO_FLUSHER");
	} else if (e) {
		errno = e;
		main_log(LOG_WARNING, "warning: PR_SET_IO_FLUSHER: %m (needs CAP_SYS_RESOURCE); the daemon's threads may block in reclaim on their own device");
	} else {
		main_log(LOG_INFO, "PR_SET_IO_FLUSHER set on every thread");
	}
}

/*
 * Check comp=, comp_level= and the dictionaries against the codecs built
 * in, with a clear line.
 */
static int main_check_codec(const struct options *o)
{
	const char *recomp = main_recomp(o);
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
	if (rc == 0 && o->comp_dict && !codec_has_dict(c.ops)) {
		fprintf(stderr, "zramfuse: comp_dict=%s: comp=%s takes no dictionary (zstd does)\n",
			o->comp_dict, o->comp);
		return -EINVAL;
	}
	if (rc == 0 && o->recomp_dict &&
	    (!recomp || codec_init(&c, recomp, 0) || !codec_has_dict(c.ops))) {
		fprintf(stderr, "zramfuse: recomp_dict=%s: recomp=%s takes no dictionary (zstd does)\n",
			o->recomp_dict, recomp ? recomp : "off");
		return -EINVAL;
	}
	return rc;
}

/* Detach from the terminal once the mount serves. */
static void main_detach(struct main_ctx *m, int status_fd)
{
	int fd;
	char ok = 0;

	if (status_fd < 0)
		return;
	setsid();
	/* no terminal now: the force works even if SIGQUIT was ignored */
	sigdelset(&m->ignored, SIGQUIT);
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
	transport_log_quiet();
	if (write(status_fd, &ok, 1) != 1)
		main_log(LOG_WARNING, "warning: telling the parent: %m");
	close(status_fd);
}

/* "TERM", "RTMIN+3": a signal's name without "SIG". */
static const char *main_signame(int sig, char *buf, size_t size)
{
	const char *name = sigabbrev_np(sig);

	if (name)
		return name;
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, size, "RTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, size, "%d", sig);
	return buf;
}

/* Signals whose default action is to do nothing. */
static bool main_sig_harmless(int sig)
{
	return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG ||
	       sig == SIGWINCH;
}

/*
 * What a signal taken by main_wait() does: the one place that decides
 * (see the top of the file).  Returns true when the daemon should exit.
 */
static bool main_signal(struct main_ctx *m, const siginfo_t *si)
{
	int sig = si->si_signo;
	char buf[16];
	const char *name = main_signame(sig, buf, sizeof(buf));
	unsigned n;
	char from[48] = "";

	if (sig == TRANSPORT_SIG_LEFT)
		return false;	/* the loop looks at the session */
	if (sigismember(&m->ignored, sig))
		return false;	/* inherited as ignored */
	if (si->si_code == SI_USER || si->si_code == SI_QUEUE ||
	    si->si_code == SI_TKILL)
		snprintf(from, sizeof(from), " from pid %ld", (long)si->si_pid);
	if (sig != SIGQUIT && sig != SIGTERM && sig != SIGINT && sig != SIGHUP) {
		if (!main_sig_harmless(sig) && !sigismember(&m->logged, sig)) {
			sigaddset(&m->logged, sig);
			main_log(LOG_NOTICE, "SIG%s%s ignored: zramfuse acts only on SIGTERM, SIGINT, SIGHUP (with no file open) and SIGQUIT%s",
				 name, from,
				 sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU ?
				 "; it never stops, which would stall every read of its files" : "");
		}
		return false;
	}
	n = fs_open_files(m->fs);
	if (sig == SIGQUIT) {
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

/* The signals whose disposition the daemon inherited as ignored. */
static void main_ignored(sigset_t *set)
{
	sigemptyset(set);
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		struct sigaction sa;

		if (sig != SIGPIPE && !sigaction(sig, NULL, &sa) &&
		    sa.sa_handler == SIG_IGN)
			sigaddset(set, sig);
	}
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
	char why[600] = "";
	struct main_ctx m;
	sigset_t sigs;
	size_t ops_size;
	const struct fuse_lowlevel_ops *ops = fs_lowlevel_ops(&ops_size);
	int rc, oom_err = 0;

	memset(&m, 0, sizeof(m));
	m.o = o;
	if (status_fd >= 0)
		transport_log_syslog();
	/*
	 * From here on every thread blocks every asynchronous signal, and
	 * the main thread takes them in main_wait(): one that comes during
	 * start-up waits until the mount serves.  A broken pipe is an error,
	 * not a death, as libfuse's handlers have it.  THREAD_SIG_WAKE is
	 * the serving threads' (see the top of the file).
	 */
	m.t.main_tid = pthread_self();
	thread_config(o->io_flusher);
	thread_block();
	thread_signals(&sigs);
	sigdelset(&sigs, THREAD_SIG_WAKE);
	main_ignored(&m.ignored);
	sigemptyset(&m.logged);
	signal(SIGPIPE, SIG_IGN);

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
	cfg.recomp = main_recomp(o);
	cfg.recomp_level = o->recomp_level;
	cfg.comp_dict = o->comp_dict;
	cfg.recomp_dict = o->recomp_dict;
	cfg.mem_limit = o->mem_limit;
	cfg.deferred_free = o->deferred_free;
	cfg.reclaim_threads = o->reclaim_threads;
	cfg.reserve_pages = o->reserve / STORE_PAGE_SIZE;
	/* with a reserve, writes never wait for the kernel (issue 5) */
	cfg.nowait_writes = o->reserve > 0;
	cfg.backing_dev = o->backing_dev;
	/* a short backing file is extended to the disksize */
	cfg.backing_need = o->size;
	cfg.why = why;
	cfg.why_len = sizeof(why);
	rc = store_create(&cfg, &m.st);
	if (rc && why[0]) {
		main_log(LOG_ERR, "backing_dev=%s", why);
		goto err_start;
	}
	if (rc) {
		/* with mlockall, every later mapping counts against the limit */
		bool memlock = o->mlock && rc == -EAGAIN;

		errno = -rc;
		main_log(LOG_ERR, "store (comp=%s, recomp=%s, reserve=%lluK%s%s%s%s%s%s): %m%s", o->comp,
			 cfg.recomp ? cfg.recomp : "off",
			 (unsigned long long)(o->reserve >> 10),
			 o->backing_dev ? ", backing_dev=" : "",
			 o->backing_dev ? o->backing_dev : "",
			 o->comp_dict ? ", comp_dict=" : "",
			 o->comp_dict ? o->comp_dict : "",
			 o->recomp_dict ? ", recomp_dict=" : "",
			 o->recomp_dict ? o->recomp_dict : "",
			 memlock ? " (RLIMIT_MEMLOCK too low for mlockall: raise it, e.g. ulimit -l unlimited, or use -o nomlock for non-swap use)" : "");
		goto err_start;
	}

	rc = fs_create(m.st, &(struct fs_config){
		.size = o->size, .file = o->file,
		.uid = getuid(), .gid = getgid(),
		.policy = o->policy,
		.recomp_readback = cfg.recomp && o->readback_recomp }, &m.fs);
	if (rc) {
		errno = -rc;
		main_log(LOG_ERR, "filesystem (file %s of %llu bytes%s): %m",
			 o->file, (unsigned long long)o->size,
			 cfg.recomp && o->readback_recomp ?
			 ", read-back recompression thread" : "");
		goto err_store;
	}

	/* libfuse prints its own one-line reason (unknown option, ...) */
	m.se = fuse_session_new(o->fuse_args, ops, ops_size, m.fs);
	if (!m.se) {
		rc = -EINVAL;
		goto err_fs;
	}
	/* INIT comes with the mount: the switch must be on before */
	transport_uring_enable(o);
	if (fuse_session_mount(m.se, o->mountpoint)) {
		rc = -EINVAL;
		goto err_session;
	}
	m.t.o = o;
	m.t.fs = m.fs;
	m.t.se = m.se;
	/* INIT first: the classic workers must not take it */
	rc = transport_uring_start(&m.t);
	if (rc)
		goto err_unmount;
	rc = transport_classic_start(&m.t);
	if (rc)
		goto err_uring;

	main_report_safety(&m, oom_err);
	main_log(LOG_INFO, "serving %s: %s%s%llu bytes, comp=%s, recomp=%s%s, mem_limit=%llu, threads=%u, reserve=%lluK, %s",
		 o->mountpoint, o->size ? o->file : "no file", o->size ? " of " : "",
		 (unsigned long long)o->size, o->comp,
		 cfg.recomp ? cfg.recomp : "off",
		 cfg.recomp && o->readback_recomp ? " (read-back pages)" : "",
		 (unsigned long long)o->mem_limit, o->threads,
		 (unsigned long long)(o->reserve >> 10), transport_describe(&m.t));
	main_detach(&m, status_fd);

	main_wait(&m, &sigs);
	atomic_store_explicit(&m.t.stopping, true, memory_order_relaxed);
	transport_uring_stop(&m.t);
	transport_classic_stop(&m.t);
	if (fs_open_files(m.fs))
		main_log(LOG_WARNING, "exiting with %u files open: whatever still uses them (a loop device, swap) now gets I/O errors",
			 fs_open_files(m.fs));
	else
		main_log(LOG_INFO, "exiting");
	rc = 0;
	goto err_unmount;

err_uring:
	transport_uring_stop(&m.t);
err_unmount:
	fuse_session_unmount(m.se);
err_session:
	fuse_session_destroy(m.se);
err_fs:
	fs_destroy(m.fs);
err_store:
	store_destroy(m.st);
err_start:
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
