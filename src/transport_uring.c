// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * transport_uring: FUSE over io_uring (Linux 6.14+, protocol 7.42; the
 * ABI is in include/fuse_uring_abi.h).
 *
 * Negotiation.  The kernel offers the feature in its INIT request (flags2
 * bit 9) when CONFIG_FUSE_IO_URING is built and fuse's global, root-only
 * switch /sys/module/fuse/parameters/enable_uring is on; the daemon takes
 * it by setting the same bit in its reply.  libfuse 3.14 has 32-bit
 * capability fields and cannot ask for it, so with transport=auto or
 * uring this file reads INIT from /dev/fuse itself, before any classic
 * worker runs, lets libfuse answer it into a socket (the session's fd is
 * swapped for one end of a socketpair for that one call), sets the bit in
 * the reply and writes it to /dev/fuse.  Once the bit is sent, the kernel
 * holds every new request until each possible CPU's queue has an entry
 * registered: so everything registration needs - rings, buffers, threads
 * - is made and faulted in before the reply, and a failure there answers
 * INIT without the bit (auto) or ends the start-up (uring).  REGISTER
 * itself can only be sent after the reply (before it the kernel says
 * EAGAIN); when it fails, the kernel turns io_uring off for the
 * connection and releases the held requests to /dev/fuse, where the
 * classic workers serve them: that is logged, and the mount goes on.
 *
 * Queues.  One per possible CPU (the kernel puts each request on the
 * queue of the CPU that submits it), each served by uring_threads=
 * threads, each with its own ring of uring_depth= entries registered on
 * that queue: the kernel hands a queue's requests to whichever of its
 * entries is free, so one CPU's requests - a loop device submits from
 * one worker at a time - are served on every CPU, not by one thread.  An entry is a header buffer (the request's
 * fuse_in_header, its fixed argument, the entry's in/out trailer) and a
 * payload buffer of max_write bytes; the kernel copies a request into
 * them and completes the entry's command; the thread serves it, writes
 * the reply into the same buffers and sends COMMIT_AND_FETCH, which hands
 * the reply over and the entry back in one submission.
 *
 * Serving.  READ, WRITE, FALLOCATE, GETATTR, FLUSH and FSYNC of data
 * files are decoded here and call fs.c's transport-neutral functions on
 * the ring's buffers: a read decompresses straight into the reply
 * payload, a write compresses straight from the request payload.
 * Everything else (lookups, open, release, setattr, readdir, statfs, the
 * control files, ...) is rare and goes to libfuse, so that it has one
 * implementation - but never on a ring thread.
 *
 * Forwarding.  libfuse and fs.c's handlers allocate, and so may the
 * control files' work (a compaction, a writeback); without
 * PR_SET_IO_FLUSHER, an allocation in a full memory cgroup reclaims by
 * writing swap to our own device.  A ring thread stuck there holds every
 * entry of its ring, swap writes among them, and nothing serves them:
 * swap_pressure.sh hung so, a ring thread replying to a LOOKUP through a
 * socket (the skb charged to the cgroup) while its partner waited for a
 * seq_file it was reading.  So a ring thread hands such a request to the
 * forwarders, threads of their own, and goes on serving: a forwarder lays
 * the request out as /dev/fuse would give it and hands it to a private
 * libfuse session (initialised with a copy of INIT) whose replies land
 * straight in the entry's buffers (fuse_session_custom_io(): no socket,
 * nothing allocated in the kernel); fs.c's handler replies synchronously.
 * It then puts the entry on its ring's done list and writes the ring's
 * eventfd, on which a multishot poll completes in the ring, and the ring
 * thread commits the entry.  A forwarder stuck in reclaim, or in a long
 * control-file pass, holds one entry; the other forwarders serve the
 * rest, as the other classic workers would.  Data-file GETATTR stays on
 * the ring unless fs.c's lock is busy (its holders may allocate): then
 * it is forwarded too.  (fs.c's open
 * handler undoes an open whose reply the kernel refuses as interrupted;
 * through a ring that cannot be seen, but the kernel does not interrupt a
 * request once the daemon has it.)
 *
 * FORGET, INTERRUPT and notifications still come through /dev/fuse: the
 * classic workers run beside the rings and take them, and everything
 * after a failed registration.
 *
 * Swap safety, as for the classic workers: each ring thread is started by
 * thread_start() (signals blocked, PR_SET_IO_FLUSHER, a touched stack and
 * malloc arena) and makes the store's scratch state (fs_thread_init()) and faults in its ring and
 * buffers before INIT is answered; serving a hot request allocates
 * nothing and never waits for the kernel (the store's writes do not wait,
 * see store.h), so a queue is never held up behind reclaim.  A forwarded
 * request allocates as libfuse does on a classic worker.
 *
 * Shutdown: an unmount tears the entries down (their commands complete
 * with ENOTCONN) and the thread leaves when it has none; otherwise the
 * main thread sets t->stopping and wakes the thread out of
 * io_uring_enter() with THREAD_SIG_WAKE (thread_join_woken()).
 *
 * Failures.  An entry the kernel holds serves its queue's CPU; one that
 * is silently dropped is a request that waits for ever, and a swap write
 * that waits for ever hangs every process that swaps.  The stored pages'
 * safety comes first, so each failure is met with the least drastic
 * answer that still leaves no request waiting unseen:
 *
 *  - an entry's command fails (a CQE error other than the ENOTCONN,
 *    ECONNABORTED or ECANCELED of an ending connection or ring): it is
 *    sent once more as it was - a COMMIT_AND_FETCH carries its reply
 *    again, under the same commit id, and the kernel (fs/fuse/
 *    dev_uring.c) refuses a commit before it takes the reply, so nothing
 *    is delivered twice.  If the kernel refuses the reply again with
 *    ENOENT it holds no such request and nothing waits: the buffers are
 *    registered anew (REGISTER is accepted at any time; the kernel keeps
 *    the old entry aside until the connection ends).  Any other second
 *    refusal may leave a request waiting for a reply we cannot give: the
 *    connection is aborted.  A registration refused twice loses its
 *    entry; the queue's other entries serve on, and only a queue with
 *    none left (qents) aborts the connection.  (A REGISTER the kernel
 *    refuses at start-up, before any request came, is the fallback to
 *    the classic transport described above.)
 *  - io_uring_enter() fails with anything but EINTR, EAGAIN or EBUSY
 *    (the CQ has room for every command a ring can have out, so the
 *    kernel never drops a completion; what is left means the ring is
 *    unusable): the ring is replaced by a fresh one in the same thread.
 *    The failed ring is NOT closed while the kernel holds entries on it:
 *    closing cancels them, and a request the kernel handed to one of
 *    them in that instant would be lost with its waiter.  It stays open,
 *    polled from the fresh ring, never submitted to again; its requests
 *    are served as before and each entry moves to the fresh ring with its
 *    next COMMIT_AND_FETCH (the kernel finds a request by its commit id,
 *    on whichever ring the commit comes).  Commands it had not consumed
 *    are sent on the fresh ring.  Once it holds no entry it is closed.
 *  - the fresh ring cannot be made, or a ring fails while the one it
 *    replaced still holds entries: those entries' requests could never
 *    be answered, so the connection is aborted (uring_abort()), with a
 *    log line at LOG_CRIT saying why: every request fails at once (the
 *    loop device's with I/O errors) instead of hanging, and the daemon
 *    exits.  fusectl's abort file is opened at start-up; without it (not
 *    root) the daemon ends its session, and its exit ends the connection.
 *
 * Handing a CPU's requests to another path is not possible: the kernel
 * picks the queue by the submitting CPU and never moves a request.  Test
 * hooks: URING_TEST_FAIL_ENV and URING_TEST_ERR_ENV below.
 *
 * Lock order.  Three mutexes, and today no thread holds two at once:
 *
 *   1. u->lock         the start-up hand-shake (nr_ready, start, each
 *                      thread's rc)
 *   2. u->fwd.lock     the forwarders' queue (head, tail, stop)
 *   3. q->done_lock    one ring's list of entries served by a forwarder
 *
 * A forwarder drops fwd.lock before it serves an entry and before it puts
 * it on its ring's done list; a ring thread holds none while it serves,
 * forwards or commits.  Code that must nest two takes them in the order
 * above.  None is held across a call into fs.c or libfuse, so their locks
 * (fs->lock and below) never come after one of these.
 */
#include "config.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"
#include "fuse_uring_abi.h"
#include "options.h"
#include "thread.h"
#include "transport.h"

#define URING_ENABLE_PATH "/sys/module/fuse/parameters/enable_uring"
#define URING_POSSIBLE_PATH "/sys/devices/system/cpu/possible"
/*
 * Forwarder threads (see "Forwarding"): a long control-file pass (a
 * writeback, a recompression, a compaction) holds one for its length,
 * and the rare requests keep moving on the others.
 */
#define URING_FORWARDERS 4
/* The largest reply payload: max_write, also max_pages * 4 KiB. */
#define URING_PAYLOAD FS_MAX_IO
/* Reading INIT: /dev/fuse wants room for a whole write request. */
#define URING_INIT_BUF (FS_MAX_IO + 2 * 4096)
/* A forwarded request as /dev/fuse lays it out: header, argument, payload. */
#define URING_FWD_BUF (sizeof(struct fuse_in_header) + \
		       ZF_FUSE_URING_OP_IN_OUT_SZ + URING_PAYLOAD)

/*
 * Test hook (tests/lib.sh): REGISTER with a payload buffer shorter than
 * the kernel accepts, so that registration really fails (EINVAL), for the
 * fallback test.
 */
#define URING_TEST_FAIL_ENV "ZRAMFUSE_TEST_URING_REGISTER_FAIL"
/*
 * Test hook (tests/transport.sh): a ring thread's error path, with errors
 * the kernel really returns.  "commit": each ring's URING_TEST_NTH-th
 * COMMIT_AND_FETCH goes out once with a commit id the kernel does not
 * know (ENOENT); "enter": each ring's URING_TEST_NTH-th io_uring_enter()
 * after its first request passes a flag the kernel refuses (EINVAL);
 * "enter-twice": that, and the next one too, before the retired ring
 * could drain.
 */
#define URING_TEST_ERR_ENV "ZRAMFUSE_TEST_URING_FAIL"
#define URING_TEST_NTH 4
/* A commit id no request has: the kernel's are small and even. */
#define URING_TEST_BAD_ID (1ull << 62)
/* Where fusectl puts a connection's abort file. */
#define URING_ABORT_PATH "/sys/fs/fuse/connections/%u/abort"
/* Test hook: the path of fuse's enable_uring switch (uring_switch_path()). */
#define URING_TEST_SWITCH_ENV "ZRAMFUSE_TEST_URING_SWITCH"

struct uring_queue;

struct uring_ent {
	struct uring_queue *q;
	struct zf_fuse_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2];
	bool fetched;			/* a request came in it at least once */
	/*
	 * Its command, as the ring thread last sent it (to send it again):
	 * ZF_FUSE_IO_URING_CMD_*, and the commit id of a COMMIT_AND_FETCH.
	 * in_kernel: sent and not yet completed; on_old: on the retired ring
	 * (q->old); tries: the failures in a row of that command.
	 */
	unsigned cmd_op;
	uint64_t cmd_id;
	bool in_kernel, on_old;
	unsigned tries;
	/*
	 * Forwarding: the ring thread sets these and hands the entry over;
	 * the forwarder sets fwd_len and hands it back (the lists' locks
	 * order the two).
	 */
	struct uring_ent *fwd_next;	/* on the forwarder's queue or a done list */
	uint64_t fwd_commit;		/* the request's commit_id */
	uint32_t fwd_plen;		/* its payload's length */
	uint32_t fwd_len;		/* the reply's payload length */
};

struct uring_queue {
	struct transport *t;
	unsigned qid;
	pthread_t tid;
	bool created;			/* tid is a thread */
	int rc;				/* set-up result, under u->lock */
	struct io_uring ring;
	bool ring_ok;
	/*
	 * The ring before it, when io_uring_enter() failed on that one (see
	 * "Failures"): never submitted to again, its completions still read
	 * until none of its entries' commands is left on it (old_live).
	 */
	struct io_uring old;
	bool old_ok;
	unsigned old_live;
	unsigned test_commits, test_enters;	/* URING_TEST_ERR_ENV */
	struct uring_ent *ents;
	struct zf_fuse_uring_req_header *hdrs;
	/* entries the forwarder served: to commit */
	int efd;			/* written after a push; polled by the ring */
	pthread_mutex_t done_lock;
	struct uring_ent *done;		/* protected by done_lock */
	bool done_lock_ok;
};

/* One forwarder thread. */
struct uring_fwd_thread {
	struct transport *t;
	pthread_t tid;
	bool created;
	int rc;				/* set-up result, under u->lock */
	char *buf;			/* URING_FWD_BUF: the request, as /dev/fuse lays it out */
};

/* The forwarders: serve the rare requests the rings hand over. */
struct uring_fwd {
	struct fuse_session *se;	/* private, replies by uring_reply_writev() */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct uring_ent *head, **tail;	/* protected by lock */
	bool stop;			/* protected by lock */
	struct uring_fwd_thread th[URING_FORWARDERS];
};

struct transport_uring {
	int fuse_fd;
	unsigned nr_queues, depth;
	unsigned nr_rings;		/* nr_queues x uring_threads= */
	struct uring_queue *queues;	/* one per ring (thread), see qid */
	struct uring_fwd fwd;
	bool fail_register;		/* URING_TEST_FAIL_ENV */
	enum { URING_TEST_NONE, URING_TEST_COMMIT, URING_TEST_ENTER,
	       URING_TEST_ENTER_TWICE } test_err;	/* URING_TEST_ERR_ENV */
	/*
	 * Entries per kernel queue still usable (nr_queues counters, each
	 * uring_threads x depth at first; relaxed): one that reaches 0 would
	 * leave its CPU's requests waiting for ever, see uring_abort().
	 */
	atomic_uint *qents;
	int abort_fd;			/* fusectl's abort file, or -1 */
	atomic_bool aborted;		/* relaxed; uring_abort() ran */
	/* start-up hand-shake, as the classic workers have it */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	unsigned nr_ready;
	enum { URING_WAIT, URING_GO, URING_ABORT } start;
	atomic_bool fell_back;		/* relaxed; a REGISTER failed */
	atomic_bool serving;		/* relaxed; a request came by a ring */
};

/*
 * The kernel's queues: one per possible CPU (the highest id in
 * URING_POSSIBLE_PATH, "0-3,8-11" say, plus one).  A count lower than the
 * kernel's would leave queues unregistered, and the kernel holds every
 * request until all are: so no guess (sysconf may count only the present
 * or online CPUs).  Returns the count, or -1.
 */
static long uring_possible_cpus(void)
{
	char buf[256], *p, *end;
	long top = -1;
	ssize_t n;
	int fd = open(URING_POSSIBLE_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; *p && *p != '\n'; p = end) {
		long v;

		if (*p == ',' || *p == '-')
			p++;
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p || v < 0)
			return -1;
		if (v > top)
			top = v;
	}
	return top >= 0 ? top + 1 : -1;
}

/* ---- fuse's enable_uring switch ------------------------------------------ */

/*
 * The switch's path: the kernel's, or for a test the file the
 * URING_TEST_SWITCH_ENV names (one the daemon cannot write, to see it
 * fall back).
 */
static const char *uring_switch_path(void)
{
	const char *p = getenv(URING_TEST_SWITCH_ENV);

	return p && *p ? p : URING_ENABLE_PATH;
}

/* The switch's state: 1 on, 0 off, -1 absent (no FUSE over io_uring). */
static int uring_switch_state(void)
{
	char c = 0;
	int fd = open(uring_switch_path(), O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' || c == 'y' || c == '1';
}

/* errno of the attempt to turn the switch on that failed; 0 none. */
static int uring_switch_err;

/*
 * The kernel offers FUSE over io_uring in INIT, which it sends at mount,
 * only while fuse's global switch is on, and the switch is off by
 * default.  So, before the mount, transport=auto and uring turn it on
 * when it is off and the daemon may write it (root), and log that once.
 * What it changes system-wide: a FUSE server that asks for io_uring in
 * its INIT reply may have rings; one that does not ask (every other
 * today) is served exactly as before.  It stays on: a mount that
 * negotiated rings keeps them whatever the switch says later, and
 * turning it off at exit would take it from another daemon starting
 * meanwhile.  A failure is not fatal here: auto serves classic and says
 * why in its start-up line (uring_why_not()), uring refuses to start.
 * transport=classic leaves the switch alone.
 */
void transport_uring_enable(const struct options *o)
{
	const char *path = uring_switch_path();
	int fd;

	if (o->transport == OPTIONS_TRANSPORT_CLASSIC || uring_switch_state() != 0)
		return;		/* on already, or no FUSE over io_uring at all */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "Y\n", 2) != 2) {
		uring_switch_err = errno ? errno : EIO;
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	transport_log(LOG_NOTICE, "turned on fuse's enable_uring switch (%s), so that this mount can be served over io_uring: system-wide, it lets FUSE servers that ask for io_uring have it and changes nothing for the others (zramfuse(8), TRANSPORT)",
		      path);
}

/* Why the kernel did not offer FUSE over io_uring, for the log. */
static const char *uring_why_not(void)
{
	static char why[128];
	int on = uring_switch_state();

	if (on < 0)
		return "this kernel has no FUSE over io_uring (Linux 6.14+ with CONFIG_FUSE_IO_URING)";
	if (!on && uring_switch_err) {
		snprintf(why, sizeof(why), "fuse's enable_uring switch is off and could not be turned on: %s",
			 strerror(uring_switch_err));
		return why;
	}
	if (!on)
		return "fuse's enable_uring switch is off (as root: echo Y > " URING_ENABLE_PATH "; see zramfuse(8))";
	return "the kernel did not offer it in INIT";
}

/* ---- serving ------------------------------------------------------------ */

/*
 * ThreadSanitizer does not see the kernel order a reply before the
 * request it makes possible (a CREATE answered on one ring, the WRITE to
 * the new file on another): in a TSan build every submission releases and
 * every wake-up acquires one atomic, which says just that.  Nothing in
 * other builds (it would bounce a cache line between the rings).
 */
#if defined(__SANITIZE_THREAD__)
static atomic_uint uring_tsan_kernel;
static inline void uring_tsan_submit(void)
{
	atomic_fetch_add_explicit(&uring_tsan_kernel, 1, memory_order_release);
}
static inline void uring_tsan_woken(void)
{
	(void)atomic_load_explicit(&uring_tsan_kernel, memory_order_acquire);
}
#else
static inline void uring_tsan_submit(void) {}
static inline void uring_tsan_woken(void) {}
#endif

/*
 * A free SQE of q->ring.  A ring has room for a command per entry and
 * its polls, so it submits only if that ever changes.
 */
static struct io_uring_sqe *uring_sqe(struct uring_queue *q)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&q->ring))) {
		uring_tsan_submit();
		io_uring_submit(&q->ring);
	}
	return sqe;
}

static void uring_prep_cmd(struct uring_queue *q, struct uring_ent *e,
			   unsigned op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = uring_sqe(q);
	struct zf_fuse_uring_cmd_req *cr;

	memset(sqe, 0, 2 * sizeof(*sqe));	/* a 128-byte SQE */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = q->t->uring->fuse_fd;
	sqe->cmd_op = op;
	if (op == ZF_FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	}
	cr = (struct zf_fuse_uring_cmd_req *)sqe->cmd;
	cr->qid = (uint16_t)q->qid;
	cr->commit_id = commit_id;
	io_uring_sqe_set_data(sqe, e);
	e->cmd_op = op;
	e->cmd_id = commit_id;
	e->in_kernel = true;
	e->on_old = false;
	if (q->t->uring->test_err && op == ZF_FUSE_IO_URING_CMD_COMMIT_AND_FETCH &&
	    ++q->test_commits == URING_TEST_NTH &&
	    q->t->uring->test_err == URING_TEST_COMMIT)
		cr->commit_id = commit_id ^ URING_TEST_BAD_ID;
}

/* struct stat to the kernel's attributes, as libfuse converts them. */
static void uring_attr(struct fuse_attr_out *ao, const struct stat *st,
		       double timeout)
{
	struct fuse_attr *a = &ao->attr;

	memset(ao, 0, sizeof(*ao));
	ao->attr_valid = (uint64_t)timeout;
	ao->attr_valid_nsec = (uint32_t)((timeout - (double)ao->attr_valid) * 1e9);
	a->ino = st->st_ino;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->blksize = (uint32_t)st->st_blksize;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
}

/* Where the forwarder's session writes its replies (this thread's). */
struct uring_reply {
	void *oh;			/* sizeof(struct fuse_out_header) bytes */
	char *payload;
	size_t cap;
	ssize_t len;			/* the payload's length; -1 no reply */
};

static __thread struct uring_reply *uring_reply_to;

/* fuse_custom_io's writev: a reply, into *uring_reply_to. */
static ssize_t uring_reply_writev(int fd, struct iovec *iov, int count,
				  void *userdata)
{
	struct uring_reply *r = uring_reply_to;
	const size_t hlen = sizeof(struct fuse_out_header);
	size_t total = 0, at = 0;

	(void)fd;
	(void)userdata;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	if (!r || total < hlen || total - hlen > r->cap) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < count; i++) {
		const char *src = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (at < hlen) {
			size_t k = len < hlen - at ? len : hlen - at;

			memcpy((char *)r->oh + at, src, k);
			src += k;
			len -= k;
			at += k;
		}
		if (len)
			memcpy(r->payload + (at - hlen), src, len);
		at += len;
	}
	r->len = (ssize_t)(total - hlen);
	return (ssize_t)total;
}

/* fuse_custom_io's read: never called (requests come by process_buf). */
static ssize_t uring_reply_read(int fd, void *buf, size_t len, void *userdata)
{
	(void)fd;
	(void)buf;
	(void)len;
	(void)userdata;
	errno = EIO;
	return -1;
}

/* An out header of @n payload bytes or, for @n < 0, of that error. */
static uint32_t uring_reply_hdr(struct uring_ent *e, uint64_t unique, ssize_t n)
{
	struct fuse_out_header *oh = (struct fuse_out_header *)e->hdr->in_out;

	oh->unique = unique;
	oh->error = n < 0 ? (int32_t)n : 0;
	if (n < 0)
		n = 0;
	oh->len = (uint32_t)(sizeof(*oh) + (size_t)n);
	return (uint32_t)n;
}

/*
 * The forwarder's work on @e: hand its request to the private libfuse
 * session, whose reply lands in @e; sets e->fwd_len.
 */
static void uring_fwd_serve(struct uring_fwd *f, char *buf, struct uring_ent *e)
{
	struct fuse_in_header in;
	const size_t hlen = sizeof(in);
	uint32_t plen = e->fwd_plen;
	struct uring_reply r = {
		.oh = e->hdr->in_out, .payload = e->payload,
		.cap = URING_PAYLOAD, .len = -1,
	};
	struct fuse_buf fb;
	size_t arg0;

	memcpy(&in, e->hdr->in_out, hlen);
	/* in.len counts the header and every argument; the payload the rest */
	if (in.len < hlen + plen || in.len - hlen - plen > ZF_FUSE_URING_OP_IN_OUT_SZ ||
	    plen > URING_PAYLOAD) {
		e->fwd_len = uring_reply_hdr(e, in.unique, -EIO);
		return;
	}
	arg0 = in.len - hlen - plen;
	memcpy(buf, &in, hlen);
	memcpy(buf + hlen, e->hdr->op_in, arg0);
	memcpy(buf + hlen + arg0, e->payload, plen);
	memset(&fb, 0, sizeof(fb));
	fb.mem = buf;
	fb.size = in.len;
	uring_reply_to = &r;
	fuse_session_process_buf(f->se, &fb);
	uring_reply_to = NULL;
	if (r.len < 0) {
		transport_log(LOG_ERR, "io_uring: no reply from libfuse to opcode %u",
			      in.opcode);
		e->fwd_len = uring_reply_hdr(e, in.unique, -EIO);
		return;
	}
	e->fwd_len = (uint32_t)r.len;	/* the header is libfuse's, as it wrote it */
}

static void *uring_fwd_main(void *arg)
{
	struct uring_fwd_thread *ft = arg;
	struct transport *t = ft->t;
	struct transport_uring *u = t->uring;
	struct uring_fwd *f = &u->fwd;
	int rc = fs_thread_init(t->fs);

	pthread_mutex_lock(&u->lock);
	ft->rc = rc;
	u->nr_ready++;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->lock);
	if (rc)
		goto out;
	pthread_mutex_lock(&f->lock);
	for (;;) {
		struct uring_ent *e = f->head;
		struct uring_queue *q;
		uint64_t one = 1;

		if (!e) {
			if (f->stop)
				break;
			pthread_cond_wait(&f->cv, &f->lock);
			continue;
		}
		f->head = e->fwd_next;
		if (!f->head)
			f->tail = &f->head;
		pthread_mutex_unlock(&f->lock);

		uring_fwd_serve(f, ft->buf, e);
		q = e->q;
		pthread_mutex_lock(&q->done_lock);
		e->fwd_next = q->done;
		q->done = e;
		pthread_mutex_unlock(&q->done_lock);
		if (write(q->efd, &one, sizeof(one)) != sizeof(one))
			transport_log(LOG_ERR, "io_uring queue %u: waking the ring: %m",
				      q->qid);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
out:
	fs_thread_exit();
	return NULL;
}

/* Hand @e, whose request is not served on the ring, to the forwarder. */
static void uring_fwd_push(struct uring_queue *q, struct uring_ent *e,
			   uint32_t plen, uint64_t commit_id)
{
	struct uring_fwd *f = &q->t->uring->fwd;

	e->fwd_plen = plen;
	e->fwd_commit = commit_id;
	e->fwd_next = NULL;
	pthread_mutex_lock(&f->lock);
	*f->tail = e;
	f->tail = &e->fwd_next;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->lock);
}

/* Arm (again) the ring's poll on its eventfd: the forwarder's wake-up. */
static void uring_poll_arm(struct uring_queue *q)
{
	struct io_uring_sqe *sqe = uring_sqe(q);

	io_uring_prep_poll_multishot(sqe, q->efd, POLLIN);
	io_uring_sqe_set_data(sqe, &q->efd);
}

/* Commit the entries the forwarder has served. */
static void uring_fwd_commit(struct uring_queue *q)
{
	struct uring_ent *e, *next;
	uint64_t v;

	if (read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		transport_log(LOG_ERR, "io_uring queue %u: reading its eventfd: %m",
			      q->qid);
	pthread_mutex_lock(&q->done_lock);
	e = q->done;
	q->done = NULL;
	pthread_mutex_unlock(&q->done_lock);
	for (; e; e = next) {
		struct zf_fuse_uring_ent_in_out *eio = &e->hdr->ring_ent_in_out;

		next = e->fwd_next;
		eio->payload_sz = e->fwd_len;
		eio->commit_id = e->fwd_commit;
		uring_prep_cmd(q, e, ZF_FUSE_IO_URING_CMD_COMMIT_AND_FETCH,
			       e->fwd_commit);
	}
}

/* Serve the request that arrived in @e and queue its commit. */
static void uring_serve(struct uring_queue *q, struct uring_ent *e)
{
	struct zf_fuse_uring_ent_in_out *eio = &e->hdr->ring_ent_in_out;
	const void *arg = e->hdr->op_in;
	struct fuse_in_header in;
	uint64_t commit_id = eio->commit_id;
	uint32_t plen = eio->payload_sz;
	ssize_t n = 0;
	struct stat st;

	memcpy(&in, e->hdr->in_out, sizeof(in));
	switch (in.opcode) {
	case FUSE_READ: {
		const struct fuse_read_in *ri = arg;

		if (!fs_node_is_file(in.nodeid))
			goto forward;
		if ((int64_t)ri->offset < 0)
			n = -EINVAL;
		else
			n = fs_read(fs_file_of(ri->fh), e->payload,
				    ri->size < URING_PAYLOAD ? ri->size : URING_PAYLOAD,
				    ri->offset);
		break;
	}
	case FUSE_WRITE: {
		const struct fuse_write_in *wi = arg;
		struct fuse_write_out wo;

		if (!fs_node_is_file(in.nodeid))
			goto forward;
		if ((int64_t)wi->offset < 0 || wi->size > plen) {
			n = -EINVAL;
			break;
		}
		n = fs_write(fs_file_of(wi->fh), e->payload, wi->size, wi->offset);
		if (n < 0)
			break;
		memset(&wo, 0, sizeof(wo));
		wo.size = (uint32_t)n;
		memcpy(e->payload, &wo, sizeof(wo));
		n = sizeof(wo);
		break;
	}
	case FUSE_FALLOCATE: {
		const struct fuse_fallocate_in *fa = arg;

		if (!fs_node_is_file(in.nodeid))
			n = -EOPNOTSUPP;
		else if ((int64_t)fa->offset < 0 || (int64_t)fa->length <= 0)
			n = -EINVAL;
		else
			n = fs_fallocate(fs_file_of(fa->fh), (int)fa->mode,
					 fa->offset, fa->length);
		break;
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out ao;

		n = fs_getattr(q->t->fs, in.nodeid, &st, true);
		if (n == -EAGAIN)
			goto forward;	/* its lock is busy: wait there, not here */
		if (n)
			break;
		uring_attr(&ao, &st, fs_attr_timeout(in.nodeid));
		memcpy(e->payload, &ao, sizeof(ao));
		n = sizeof(ao);
		break;
	}
	case FUSE_FLUSH:
	case FUSE_FSYNC:
		n = 0;		/* nothing is buffered; RAM is as durable as it gets */
		break;
	default:
	forward:
		uring_fwd_push(q, e, plen, commit_id);
		return;
	}
	eio->payload_sz = uring_reply_hdr(e, in.unique, n);
	eio->commit_id = commit_id;
	uring_prep_cmd(q, e, ZF_FUSE_IO_URING_CMD_COMMIT_AND_FETCH, commit_id);
}

/* ---- failures (see "Failures" at the top) ------------------------------- */

static int uring_ring_init(struct transport_uring *u, struct io_uring *ring);

/*
 * The last resort: the connection is aborted through fusectl, so that
 * every request waiting on us fails at once, the loop device's among
 * them; without fusectl's file (not root, fusectl not mounted) the
 * daemon ends its session, and its exit ends the connection.  Once.
 */
static void uring_abort(struct uring_queue *q, const char *why, int err)
{
	struct transport *t = q->t;
	struct transport_uring *u = t->uring;

	if (atomic_exchange_explicit(&u->aborted, true, memory_order_relaxed))
		return;
	if (u->abort_fd >= 0 && write(u->abort_fd, "1", 1) == 1) {
		transport_log(LOG_CRIT, "io_uring queue %u: %s (%s): aborted the FUSE connection, so that no request waits for ever: every request now fails (a loop device, swap: I/O errors) and the daemon exits",
			      q->qid, why, strerror(-err));
		return;
	}
	transport_log(LOG_CRIT, "io_uring queue %u: %s (%s): the FUSE connection cannot be aborted here (fusectl: %s), so the daemon exits, which ends it: every request now fails (a loop device, swap: I/O errors)",
		      q->qid, why, strerror(-err),
		      u->abort_fd >= 0 ? strerror(errno) : "no abort file");
	fuse_session_exit(t->se);
	pthread_kill(t->main_tid, TRANSPORT_SIG_LEFT);
}

/*
 * A command of @e completed with @res < 0.  Returns true when the entry
 * is gone (the connection or the ring is ending, or it is given up),
 * false when its command was sent again.
 */
static bool uring_ent_failed(struct uring_queue *q, struct uring_ent *e, int res)
{
	struct transport_uring *u = q->t->uring;
	bool commit = e->cmd_op == ZF_FUSE_IO_URING_CMD_COMMIT_AND_FETCH;
	unsigned left;

	/* unmount, an aborted connection, our own ring's exit: quietly */
	if (res == -ENOTCONN || res == -ECONNABORTED || res == -ECANCELED ||
	    atomic_load_explicit(&q->t->stopping, memory_order_relaxed))
		return true;
	if (!e->fetched && !commit) {
		/* REGISTER failed at start-up: the kernel has turned io_uring off */
		if (!atomic_exchange_explicit(&u->fell_back, true, memory_order_relaxed))
			transport_log(LOG_WARNING, "warning: io_uring REGISTER on queue %u failed: %s; the kernel turned FUSE over io_uring off for this mount, falling back to the classic transport",
				      q->qid, strerror(-res));
		return true;
	}
	if (e->tries++ == 0) {
		/* refused before the kernel took it (an allocation, say): again */
		transport_log(LOG_WARNING, "warning: io_uring queue %u: the kernel refused an entry's %s (%s); sending it again",
			      q->qid, commit ? "reply" : "registration", strerror(-res));
		uring_prep_cmd(q, e, e->cmd_op, e->cmd_id);
		return false;
	}
	if (commit && res == -ENOENT) {
		/* nothing waits for that reply: the entry is registered anew */
		transport_log(LOG_WARNING, "warning: io_uring queue %u: the kernel refused an entry's reply again (%s): it holds no such request, so nothing waits for it; registering the entry anew",
			      q->qid, strerror(-res));
		e->tries = 1;	/* a REGISTER that fails now gives it up */
		uring_prep_cmd(q, e, ZF_FUSE_IO_URING_CMD_REGISTER, 0);
		return false;
	}
	if (commit) {
		/* the request may wait for a reply we cannot give */
		uring_abort(q, "the kernel refused a reply twice", res);
		return true;
	}
	left = atomic_fetch_sub_explicit(&u->qents[q->qid], 1, memory_order_relaxed) - 1;
	transport_log(LOG_ERR, "io_uring queue %u: the kernel refused an entry's registration twice (%s); the queue has %u entr%s left",
		      q->qid, strerror(-res), left, left == 1 ? "y" : "ies");
	if (!left)
		uring_abort(q, "no entry is left to serve this CPU's requests", res);
	return true;
}

/*
 * Is @d, a command's user data, an entry (not one of the polls, which
 * point to &q->efd, &q->old and, for the removal of the old ring's poll,
 * &q->old_ok)?
 */
static bool uring_is_ent(const struct uring_queue *q, const void *d)
{
	const struct uring_ent *e = d;

	return e >= q->ents && e < q->ents + q->t->uring->depth;
}

/* The user data of the SQE at position @i of @ring's submission queue. */
static void *uring_sqe_data(const struct io_uring *ring, unsigned i)
{
	unsigned k = i & ring->sq.ring_mask;

	if (ring->sq.array)
		k = ring->sq.array[k];
	/* 128-byte SQEs: two of liburing's each */
	if (ring->flags & IORING_SETUP_SQE128)
		k <<= 1;
	return (void *)(uintptr_t)ring->sq.sqes[k].user_data;
}

/* Poll the old ring's fd from q->ring: its completions wake the thread. */
static void uring_old_poll_arm(struct uring_queue *q)
{
	struct io_uring_sqe *sqe = uring_sqe(q);

	io_uring_prep_poll_multishot(sqe, q->old.ring_fd, POLLIN);
	io_uring_sqe_set_data(sqe, &q->old);
}

/*
 * io_uring_enter() failed on q->ring for a reason it does not retry: it
 * becomes q->old and a fresh ring takes its place.  The commands the
 * kernel had not taken yet (still in the old SQ) are sent again on the
 * fresh ring; the others stay on the old ring, whose completions -
 * requests - are read as before, and whose entries move to the fresh
 * ring with their next COMMIT_AND_FETCH.  0 or -errno (-EBUSY: the ring
 * it replaced before still holds entries).
 */
static int uring_replace(struct uring_queue *q)
{
	struct transport_uring *u = q->t->uring;
	struct io_uring fresh;
	unsigned head, tail;
	int rc;

	if (q->old_ok)
		return -EBUSY;
	rc = uring_ring_init(u, &fresh);
	if (rc)
		return rc;
	q->old = q->ring;
	q->ring = fresh;
	q->old_ok = true;
	q->old_live = 0;
	for (unsigned k = 0; k < u->depth; k++) {
		struct uring_ent *e = &q->ents[k];

		if (e->in_kernel) {
			e->on_old = true;
			q->old_live++;
		}
	}
	uring_poll_arm(q);
	uring_old_poll_arm(q);
	/* what the kernel has not consumed: from its head to our tail */
	head = __atomic_load_n(q->old.sq.khead, __ATOMIC_ACQUIRE);
	tail = q->old.sq.sqe_tail;
	for (unsigned i = head; i != tail; i++) {
		struct uring_ent *e = uring_sqe_data(&q->old, i);

		if (!uring_is_ent(q, e))
			continue;	/* its polls: the fresh ring has its own */
		q->old_live--;
		uring_prep_cmd(q, e, e->cmd_op, e->cmd_id);
	}
	return 0;
}

/* The old ring holds no entry any more: close it. */
static void uring_old_close(struct uring_queue *q)
{
	struct io_uring_sqe *sqe = uring_sqe(q);

	/* the poll holds the old ring's file: remove it, or it stays open */
	io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)&q->old);
	io_uring_sqe_set_data(sqe, &q->old_ok);
	io_uring_queue_exit(&q->old);
	q->old_ok = false;
	transport_log(LOG_INFO, "io_uring queue %u: the failed ring has no entry left; closed",
		      q->qid);
}

/*
 * io_uring_enter() on q->ring: submit and wait for one completion.  The
 * test hook makes a call the kernel refuses instead, once this ring has
 * served a few requests.
 */
static int uring_enter(struct uring_queue *q)
{
	struct transport_uring *u = q->t->uring;

	if (u->test_err >= URING_TEST_ENTER && q->test_commits >= URING_TEST_NTH &&
	    q->test_enters < (u->test_err == URING_TEST_ENTER_TWICE ? 2u : 1u)) {
		q->test_enters++;
		return io_uring_enter((unsigned)q->ring.ring_fd, 0, 1, 1u << 31, NULL);
	}
	return io_uring_submit_and_wait(&q->ring, 1);
}

/*
 * Read @ring's completions; @old: it is q->old.  Returns how many
 * entries are gone.
 */
static unsigned uring_reap(struct uring_queue *q, struct io_uring *ring, bool old)
{
	struct transport_uring *u = q->t->uring;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, gone = 0;

	io_uring_for_each_cqe(ring, head, cqe) {
		void *d = io_uring_cqe_get_data(cqe);
		struct uring_ent *e = d;

		seen++;
		if (d == &q->efd) {
			/* the forwarder's wake-up; a poll that ends is renewed */
			if (cqe->res < 0 && cqe->res != -ECANCELED)
				transport_log(LOG_ERR, "io_uring queue %u: its eventfd poll: %s",
					      q->qid, strerror(-cqe->res));
			if (!old && !(cqe->flags & IORING_CQE_F_MORE) &&
			    cqe->res != -ECANCELED)
				uring_poll_arm(q);
			uring_fwd_commit(q);
			continue;
		}
		if (d == &q->old) {
			/* the old ring's fd polled: reaped below; renewed */
			if (q->old_ok && !(cqe->flags & IORING_CQE_F_MORE) &&
			    cqe->res != -ECANCELED)
				uring_old_poll_arm(q);
			continue;
		}
		if (!uring_is_ent(q, d))
			continue;	/* that poll's removal (&q->old_ok) */
		e->in_kernel = false;
		if (e->on_old) {
			e->on_old = false;
			q->old_live--;
		}
		if (cqe->res < 0) {
			gone += uring_ent_failed(q, e, cqe->res);
			continue;
		}
		e->tries = 0;
		if (!e->fetched) {
			e->fetched = true;
			if (!atomic_exchange_explicit(&u->serving, true,
						      memory_order_relaxed))
				transport_log(LOG_INFO, "FUSE over io_uring: first request on queue %u",
					      q->qid);
		}
		uring_serve(q, e);
	}
	io_uring_cq_advance(ring, seen);
	return gone;
}

static void uring_loop(struct uring_queue *q)
{
	struct transport *t = q->t;
	struct transport_uring *u = t->uring;
	unsigned live = u->depth;

	uring_poll_arm(q);
	for (unsigned k = 0; k < u->depth; k++)
		uring_prep_cmd(q, &q->ents[k], ZF_FUSE_IO_URING_CMD_REGISTER, 0);
	while (live && !atomic_load_explicit(&t->stopping, memory_order_relaxed)) {
		int rc;

		uring_tsan_submit();
		rc = uring_enter(q);
		uring_tsan_woken();

		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			int err = uring_replace(q);

			if (err) {
				transport_log(LOG_ERR, "io_uring queue %u: io_uring_enter: %s; no ring can take its place: %s",
					      q->qid, strerror(-rc),
					      err == -EBUSY ? "the one it replaced still holds entries" :
					      strerror(-err));
				uring_abort(q, "a ring failed and could not be replaced", rc);
				break;
			}
			transport_log(LOG_WARNING, "warning: io_uring queue %u: io_uring_enter: %s; a fresh ring serves the queue now, and the failed one until its entries have moved",
				      q->qid, strerror(-rc));
			continue;
		}
		live -= uring_reap(q, &q->ring, false);
		if (q->old_ok) {
			live -= uring_reap(q, &q->old, true);
			if (!q->old_live)
				uring_old_close(q);
		}
	}
}

/* ---- set-up ------------------------------------------------------------- */

/* The forwarder's libfuse session: replies by uring_reply_writev(). */
static struct fuse_session *uring_fwd_session(struct transport *t)
{
	static const struct fuse_custom_io io = {
		.writev = uring_reply_writev,
		.read = uring_reply_read,
	};
	char *argv[] = { (char *)"zramfuse", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	size_t ops_size;
	const struct fuse_lowlevel_ops *ops = fs_lowlevel_ops(&ops_size);
	struct fuse_session *se;
	int fd;

	se = fuse_session_new(&args, ops, ops_size, t->fs);
	fuse_opt_free_args(&args);
	if (!se)
		return NULL;
	/* custom io wants an fd (destroy closes it); nothing reads or writes it */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || fuse_session_custom_io(se, &io, fd)) {
		if (fd >= 0)
			close(fd);
		fuse_session_destroy(se);
		return NULL;
	}
	return se;
}

/* A ring for a queue's thread, faulted in; 0 or -errno. */
static int uring_ring_init(struct transport_uring *u, struct io_uring *ring)
{
	struct io_uring_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	/* only this thread submits; completions need no interrupt */
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_COOP_TASKRUN;
	/* depth commands, the eventfd's poll, a failed ring's poll */
	rc = io_uring_queue_init_params(u->depth + 2, ring, &p);
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128;
		rc = io_uring_queue_init_params(u->depth + 2, ring, &p);
	}
	if (rc)
		return rc;
	/* the SQ and CQ rings are ours to fault in */
	thread_touch(ring->sq.sqes, (size_t)p.sq_entries * 128);
	thread_touch((void *)ring->cq.cqes, (size_t)p.cq_entries * sizeof(struct io_uring_cqe));
	return 0;
}

static int uring_queue_setup(struct uring_queue *q)
{
	struct transport_uring *u = q->t->uring;
	size_t hsize = u->depth * sizeof(*q->hdrs);
	int rc;

	rc = uring_ring_init(u, &q->ring);
	if (rc)
		return rc;
	q->ring_ok = true;
	q->ents = calloc(u->depth, sizeof(*q->ents));
	if (!q->ents || posix_memalign((void **)&q->hdrs, 4096, hsize))
		return -ENOMEM;
	thread_touch(q->hdrs, hsize);
	for (unsigned k = 0; k < u->depth; k++) {
		struct uring_ent *e = &q->ents[k];

		e->q = q;
		e->hdr = &q->hdrs[k];
		if (posix_memalign((void **)&e->payload, 4096, URING_PAYLOAD))
			return -ENOMEM;
		thread_touch(e->payload, URING_PAYLOAD);
		e->iov[0].iov_base = e->hdr;
		e->iov[0].iov_len = sizeof(*e->hdr);
		e->iov[1].iov_base = e->payload;
		e->iov[1].iov_len = u->fail_register ? 4096 : URING_PAYLOAD;
	}
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0)
		return -errno;
	rc = -pthread_mutex_init(&q->done_lock, NULL);
	q->done_lock_ok = !rc;
	return rc;
}

static void uring_queue_free(struct uring_queue *q)
{
	if (q->ring_ok)
		io_uring_queue_exit(&q->ring);
	q->ring_ok = false;
	if (q->efd >= 0)
		close(q->efd);
	q->efd = -1;
	if (q->done_lock_ok)
		pthread_mutex_destroy(&q->done_lock);
	q->done_lock_ok = false;
	if (q->ents)
		for (unsigned k = 0; k < q->t->uring->depth; k++)
			free(q->ents[k].payload);
	free(q->ents);
	free(q->hdrs);
	q->ents = NULL;
	q->hdrs = NULL;
}

static void *uring_thread(void *arg)
{
	struct uring_queue *q = arg;
	struct transport_uring *u = q->t->uring;
	int rc;

	rc = fs_thread_init(q->t->fs);
	if (!rc)
		rc = uring_queue_setup(q);
	pthread_mutex_lock(&u->lock);
	q->rc = rc;
	u->nr_ready++;
	pthread_cond_broadcast(&u->cv);
	while (u->start == URING_WAIT)
		pthread_cond_wait(&u->cv, &u->lock);
	if (u->start == URING_ABORT)
		rc = -ECANCELED;
	pthread_mutex_unlock(&u->lock);
	if (!rc)
		uring_loop(q);
	if (atomic_load_explicit(&u->fell_back, memory_order_relaxed))
		fs_set_transport(q->t->fs, "classic (the kernel refused to register the rings and turned FUSE over io_uring off for this mount)");
	/* the ring goes with the thread that made it (single issuer) */
	if (q->ring_ok)
		io_uring_queue_exit(&q->ring);
	q->ring_ok = false;
	if (q->old_ok)
		io_uring_queue_exit(&q->old);
	q->old_ok = false;
	fs_thread_exit();
	return NULL;
}

/* The forwarder's session, buffer and queue; its thread starts later. */
static int uring_fwd_setup(struct transport *t)
{
	struct uring_fwd *f = &t->uring->fwd;
	int rc;

	rc = -pthread_mutex_init(&f->lock, NULL);
	if (rc)
		return rc;
	rc = -pthread_cond_init(&f->cv, NULL);
	if (rc) {
		pthread_mutex_destroy(&f->lock);
		return rc;
	}
	f->tail = &f->head;	/* from here on uring_fwd_free() undoes it */
	for (unsigned k = 0; k < URING_FORWARDERS; k++) {
		f->th[k].t = t;
		f->th[k].buf = malloc(URING_FWD_BUF);
		if (!f->th[k].buf)
			return -ENOMEM;
		thread_touch(f->th[k].buf, URING_FWD_BUF);
	}
	f->se = uring_fwd_session(t);
	return f->se ? 0 : -ENOMEM;
}

/* Stop the forwarder (after the rings: they may still hand it work). */
static void uring_fwd_free(struct transport_uring *u)
{
	struct uring_fwd *f = &u->fwd;

	if (!f->tail)
		return;		/* never set up */
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->lock);
	for (unsigned k = 0; k < URING_FORWARDERS; k++) {
		if (f->th[k].created)
			pthread_join(f->th[k].tid, NULL);
		free(f->th[k].buf);
	}
	if (f->se)
		fuse_session_destroy(f->se);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->lock);
	memset(f, 0, sizeof(*f));
}

/*
 * Start the forwarder and one thread per ring, and wait for their set-up;
 * 0 or -errno.
 */
static int uring_threads_start(struct transport *t)
{
	struct transport_uring *u = t->uring;
	char name[16];
	int rc = 0;

	rc = uring_fwd_setup(t);
	if (rc)
		return rc;
	for (unsigned k = 0; k < URING_FORWARDERS && !rc; k++) {
		struct uring_fwd_thread *ft = &u->fwd.th[k];

		snprintf(name, sizeof(name), "zf-uring-fwd/%u", k);
		rc = thread_start(&ft->tid, name, THREAD_SERVES | THREAD_WAKE,
				  uring_fwd_main, ft);
		if (rc) {
			transport_log(LOG_ERR, "io_uring forwarder thread: %s", strerror(-rc));
			break;
		}
		ft->created = true;
	}
	for (unsigned k = 0; k < u->nr_rings && !rc; k++) {
		struct uring_queue *q = &u->queues[k];

		q->t = t;
		/* ring k serves kernel queue k mod nr_queues */
		q->qid = k % u->nr_queues;
		q->efd = -1;
		snprintf(name, sizeof(name), "zf-uring/%u.%u", q->qid % 100,
			 (k / u->nr_queues) % 10);
		rc = thread_start(&q->tid, name, THREAD_SERVES | THREAD_WAKE,
				  uring_thread, q);
		if (rc) {
			transport_log(LOG_ERR, "io_uring queue thread %u: %s", k, strerror(-rc));
			break;
		}
		q->created = true;
	}
	pthread_mutex_lock(&u->lock);
	for (;;) {
		unsigned created = 0;

		for (unsigned k = 0; k < URING_FORWARDERS; k++)
			created += u->fwd.th[k].created;
		for (unsigned k = 0; k < u->nr_rings; k++)
			created += u->queues[k].created;
		if (u->nr_ready >= created)
			break;
		pthread_cond_wait(&u->cv, &u->lock);
	}
	for (unsigned k = 0; k < URING_FORWARDERS && !rc; k++) {
		if (u->fwd.th[k].rc) {
			rc = u->fwd.th[k].rc;
			transport_log(LOG_ERR, "io_uring forwarder set-up: %s", strerror(-rc));
		}
	}
	for (unsigned k = 0; k < u->nr_rings && !rc; k++) {
		if (u->queues[k].rc) {
			rc = u->queues[k].rc;
			transport_log(LOG_ERR, "io_uring queue %u set-up: %s", k, strerror(-rc));
		}
	}
	pthread_mutex_unlock(&u->lock);
	return rc;
}

static void uring_threads_go(struct transport_uring *u, bool go)
{
	pthread_mutex_lock(&u->lock);
	u->start = go ? URING_GO : URING_ABORT;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->lock);
}

static void uring_free(struct transport *t)
{
	struct transport_uring *u = t->uring;

	if (!u)
		return;
	for (unsigned k = 0; k < u->nr_rings; k++) {
		if (u->queues[k].created)
			thread_join_woken(u->queues[k].tid);
	}
	uring_fwd_free(u);
	for (unsigned k = 0; k < u->nr_rings; k++)
		if (u->queues[k].t)
			uring_queue_free(&u->queues[k]);
	free(u->queues);
	free(u->qents);
	if (u->abort_fd >= 0)
		close(u->abort_fd);
	pthread_cond_destroy(&u->cv);
	pthread_mutex_destroy(&u->lock);
	free(u);
	t->uring = NULL;
}

/*
 * Let the mounted session's libfuse answer INIT, but into a socket: its
 * fd is swapped for one end for the length of the call (nothing else
 * reads or writes it yet).  Returns the reply's length in @reply, or -errno.
 */
static ssize_t uring_init_reply(struct fuse_session *se, int fd, char *req,
				size_t len, char *reply, size_t cap)
{
	struct fuse_buf fb;
	int sp[2], saved;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp))
		return -errno;
	saved = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (saved < 0 || dup3(sp[0], fd, O_CLOEXEC) < 0) {
		n = -errno;
		goto out;
	}
	memset(&fb, 0, sizeof(fb));
	fb.mem = req;
	fb.size = len;
	fuse_session_process_buf(se, &fb);
	if (dup3(saved, fd, O_CLOEXEC) < 0) {
		n = -errno;	/* cannot happen: both are open */
		goto out;
	}
	n = recv(sp[1], reply, cap, MSG_DONTWAIT);
	if (n < 0)
		n = -errno;
out:
	if (saved >= 0)
		close(saved);
	close(sp[0]);
	close(sp[1]);
	return n;
}

/* Give the forwarder's session the same INIT; its reply is dropped. */
static int uring_fwd_init(struct uring_fwd *f, const char *req, size_t len,
			  char *scratch, size_t cap)
{
	struct uring_reply r = {
		.oh = scratch, .payload = scratch + sizeof(struct fuse_out_header),
		.cap = cap - sizeof(struct fuse_out_header), .len = -1,
	};
	struct fuse_buf fb;

	memcpy(f->th[0].buf, req, len);
	memset(&fb, 0, sizeof(fb));
	fb.mem = f->th[0].buf;
	fb.size = len;
	uring_reply_to = &r;
	fuse_session_process_buf(f->se, &fb);
	uring_reply_to = NULL;
	return r.len < 0 ? -EIO : 0;
}

/* URING_TEST_ERR_ENV's value. */
static int uring_test_err(const char *v)
{
	if (!v)
		return URING_TEST_NONE;
	if (!strcmp(v, "commit"))
		return URING_TEST_COMMIT;
	if (!strcmp(v, "enter"))
		return URING_TEST_ENTER;
	if (!strcmp(v, "enter-twice"))
		return URING_TEST_ENTER_TWICE;
	transport_log(LOG_WARNING, "warning: %s=%s: not a test hook (commit, enter, enter-twice); ignored",
		      URING_TEST_ERR_ENV, v);
	return URING_TEST_NONE;
}

/* Undo mountinfo's octal escapes (\040 for a space, ...) in place. */
static void uring_unescape(char *s)
{
	char *d = s;

	for (; *s; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d = *s;
		}
	}
	*d = '\0';
}

/*
 * fusectl's abort file for the FUSE mount on @mnt, opened now while
 * memory is calm (uring_abort() may run when it is not).  The
 * connection's number is the minor number of the mount's device, read
 * from /proc/self/mountinfo: a stat() of the mount would wait for the
 * INIT this thread is about to answer.  The fd, or -1 (not root, fusectl
 * not mounted): uring_abort() then ends the daemon instead.
 */
static int uring_abort_open(const char *mnt)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *dir, *sep, path[64];
	size_t cap = 0;
	unsigned maj, min;
	long conn = -1;
	int at;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - FSTYPE SOURCE ... */
		if (sscanf(line, "%*u %*u %u:%u %*s %n", &maj, &min, &at) != 2)
			continue;
		dir = line + at;
		sep = strstr(dir, " - ");
		if (!sep || strncmp(sep + 3, "fuse", 4))
			continue;
		dir[strcspn(dir, " ")] = '\0';
		uring_unescape(dir);
		if (!strcmp(dir, mnt))
			conn = (long)min;	/* the last one is on top */
	}
	free(line);
	fclose(f);
	if (conn < 0)
		return -1;
	snprintf(path, sizeof(path), URING_ABORT_PATH, (unsigned)conn);
	return open(path, O_WRONLY | O_CLOEXEC);
}

/*
 * Say what serves: the start-up line's "transport=..." (t->desc) and
 * .zram/transport.  Called before any ring serves, so that a fallback
 * (uring_thread()) comes after it.
 */
_Static_assert(sizeof(((struct transport *)0)->desc) >= FS_TRANSPORT_MAX + 10,
	       "t->desc holds \"transport=\" and .zram/transport's line");

static void uring_describe(struct transport *t, const char *desc)
{
	snprintf(t->desc, sizeof(t->desc), "transport=%s", desc);
	fs_set_transport(t->fs, desc);
}

int transport_uring_start(struct transport *t)
{
	const struct options *o = t->o;
	int fd = fuse_session_fd(t->se);
	struct fuse_in_header *in;
	struct fuse_init_in *ii;
	struct fuse_out_header *oh;
	struct fuse_init_out *io;
	struct transport_uring *u = NULL;
	const char *why = NULL;
	char *buf, reply[512];
	bool want = false;
	ssize_t n, rn;
	long cpus;
	int rc = 0;

	if (o->transport == OPTIONS_TRANSPORT_CLASSIC) {
		uring_describe(t, "classic");
		return 0;
	}
	rc = thread_wake_install();
	if (rc) {
		transport_log(LOG_ERR, "sigaction SIGUSR1: %s", strerror(-rc));
		return rc;
	}
	buf = malloc(URING_INIT_BUF);
	if (!buf)
		return -ENOMEM;
	do
		n = read(fd, buf, URING_INIT_BUF);
	while (n < 0 && errno == EINTR);
	in = (struct fuse_in_header *)buf;
	ii = (struct fuse_init_in *)(in + 1);
	if (n < (ssize_t)(sizeof(*in) + 16) || in->opcode != FUSE_INIT) {
		transport_log(LOG_ERR, "reading INIT from /dev/fuse: %s",
			      n < 0 ? strerror(errno) : "not an INIT request");
		rc = n < 0 ? -errno : -EPROTO;
		goto out;
	}
	if (n >= (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, flags2) + 4) &&
	    (ii->flags & ZF_FUSE_INIT_EXT) && (ii->flags2 & ZF_FUSE_OVER_IO_URING_FLAGS2))
		want = true;
	else
		why = uring_why_not();

	if (want && (cpus = uring_possible_cpus()) <= 0) {
		why = "the possible CPUs could not be read from " URING_POSSIBLE_PATH;
		want = false;
	}
	if (want) {
		u = calloc(1, sizeof(*u));
		if (!u) {
			rc = -ENOMEM;
			goto out;
		}
		pthread_mutex_init(&u->lock, NULL);
		pthread_cond_init(&u->cv, NULL);
		u->fuse_fd = fd;
		/* the kernel's queues: one per possible CPU */
		u->nr_queues = (unsigned)cpus;
		u->nr_rings = u->nr_queues * o->uring_threads;
		u->depth = o->uring_depth;
		u->fail_register = getenv(URING_TEST_FAIL_ENV) != NULL;
		u->test_err = uring_test_err(getenv(URING_TEST_ERR_ENV));
		u->abort_fd = uring_abort_open(o->mountpoint);
		u->queues = calloc(u->nr_rings, sizeof(*u->queues));
		u->qents = calloc(u->nr_queues, sizeof(*u->qents));
		for (unsigned k = 0; u->qents && k < u->nr_queues; k++)
			atomic_init(&u->qents[k], o->uring_threads * u->depth);
		t->uring = u;
		rc = u->queues && u->qents ? uring_threads_start(t) : -ENOMEM;
		if (rc) {
			why = "its rings or buffers could not be set up";
			uring_threads_go(u, false);
			uring_free(t);
			u = NULL;
			want = false;
			rc = 0;
		}
	}
	if (!want && o->transport == OPTIONS_TRANSPORT_URING) {
		transport_log(LOG_ERR, "transport=uring: FUSE over io_uring is not available: %s",
			      why);
		rc = -EOPNOTSUPP;
		goto out;
	}

	rn = uring_init_reply(t->se, fd, buf, (size_t)n, reply, sizeof(reply));
	if (rn < 0) {
		transport_log(LOG_ERR, "answering INIT: %s", strerror((int)-rn));
		rc = (int)rn;
		goto out;
	}
	oh = (struct fuse_out_header *)reply;
	io = (struct fuse_init_out *)(oh + 1);
	if (want && (rn < (ssize_t)(sizeof(*oh) + offsetof(struct fuse_init_out, flags2) + 4) ||
		     oh->error || io->max_write > URING_PAYLOAD ||
		     (size_t)io->max_pages * 4096 > URING_PAYLOAD)) {
		why = "libfuse's INIT reply leaves no room for it";
		want = false;
	}
	if (want && uring_fwd_init(&u->fwd, buf, (size_t)n, buf + 4096, URING_INIT_BUF - 4096)) {
		why = "its libfuse session did not take INIT";
		want = false;
	}
	if (!want && o->transport == OPTIONS_TRANSPORT_URING) {
		transport_log(LOG_ERR, "transport=uring: FUSE over io_uring is not available: %s",
			      why);
		rc = -EOPNOTSUPP;
		goto out;
	}
	if (!want && t->uring) {
		uring_threads_go(t->uring, false);
		uring_free(t);
	}
	if (want) {
		io->flags |= ZF_FUSE_INIT_EXT;
		io->flags2 |= ZF_FUSE_OVER_IO_URING_FLAGS2;
	}
	if (write(fd, reply, (size_t)rn) != rn) {
		transport_log(LOG_ERR, "writing the INIT reply to /dev/fuse: %m");
		rc = -EIO;
		goto out;
	}
	if (want) {
		char d[FS_TRANSPORT_MAX];

		snprintf(d, sizeof(d), "uring (%u queues x %u threads x %u entries of %u KiB)",
			 u->nr_queues, o->uring_threads, u->depth, URING_PAYLOAD >> 10);
		uring_describe(t, d);
		/* now the kernel takes REGISTER; it holds requests until then */
		uring_threads_go(u, true);
	} else {
		char d[FS_TRANSPORT_MAX];

		snprintf(d, sizeof(d), "classic (auto: no FUSE over io_uring: %s)", why);
		uring_describe(t, d);
	}
out:
	if (rc && t->uring) {
		uring_threads_go(t->uring, false);
		uring_free(t);
	}
	free(buf);
	return rc;
}

void transport_uring_stop(struct transport *t)
{
	uring_free(t);
}
