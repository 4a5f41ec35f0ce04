// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reserve: memory for writes - the ladder every write's allocation
 * climbs, the thread that refills the allocator's reserve, and the
 * headroom probe that says whether memory is plentiful.
 *
 * The danger.  A write that waits for the kernel to find a page, while the
 * kernel is reclaiming by swapping to this very device, waits for itself.
 * zram's answer is GFP_NOIO; ours would be PR_SET_IO_FLUSHER, which needs
 * CAP_SYS_RESOURCE, so the rules below must hold without it.  Every
 * allocation a write makes - the compressed object, a new slot-table page
 * - goes through reserve_get() with no slot lock held (the store re-encodes
 * a partial page without the lock and switches it in only if the slot did
 * not change meanwhile), and every failure is counted (nowait_failed).
 *
 * The ladder, each step only when the one before failed:
 *   1. take pages from the allocator's pre-faulted reserve
 *      (ZSPOOL_NOWAIT): no wait;
 *   2. memory waiting in the deferred-free queue (src/reclaim.c) is ours:
 *      drain it, once (the reclaim threads never wait for the kernel, and
 *      the pages they free go to the reserve);
 *   3. memory plentiful - the headroom (below) is at least headroom_min -
 *      the writer faults RESERVE_GROW_PAGES into the reserve itself
 *      (zspool_grow(), no lock held), as zram falls back to a GFP_NOIO
 *      allocation; a fault that far from every limit does not reclaim, so
 *      it cannot end up waiting on our device.  For RESERVE_GROW_NS at
 *      most, as other writers may take the pages first;
 *   4. memory short: wait for the refill thread, at most
 *      RESERVE_REFILL_WAIT_NS and only while it makes progress (a round of
 *      RESERVE_REFILL_ROUND pages in under RESERVE_REFILL_STUCK_NS, and
 *      not asleep in the kernel); under real pressure it is stuck in
 *      reclaim, and every waiting write would hold one of the loop
 *      device's tags while reclaim needs them;
 *   5. fail with -ENOMEM: the kernel keeps the page and retries later.
 * The trade-off: steps 1, 2 and 4 alone cannot follow a burst (one drains
 * the 4 MiB reserve in 12-17 ms, faster than a thread refills it, and
 * writes would fail on an idle machine); step 3 spends a page fault in the
 * writer, but only where a fault cannot reclaim.  Without nowait every
 * allocation may wait for the kernel, as any allocation does.
 *
 * The refill thread tops the allocator's reserve up to its target
 * (zspool_refill_round(), which faults pages in with no pool lock held).
 * Writers kick it when the reserve falls below half its target (checked
 * every 8th allocation, and every 64th regardless, for the handle slots
 * it prefaults too) and at every failure.  It publishes the start of each
 * round of RESERVE_REFILL_ROUND pages (64 KiB); a round takes a few
 * microseconds unless the kernel is reclaiming for us, so a round older
 * than RESERVE_REFILL_STUCK_NS, or the thread asleep in the kernel ('D'
 * in its /proc stat, read with one pread()), means stuck.  A whole pass
 * is not judged by its length: a pass never ends while writers drain the
 * reserve as fast as it fills, and a busy refiller would look stuck.  It
 * does not run SCHED_BATCH as the reclaim workers do: writers that drain
 * the reserve want it to run now.
 *
 * The headroom: how far this process is from making the kernel reclaim.
 * A page fault needs reclaim - which may write other processes' pages to
 * swap, and so to our own device - only when the memory cgroup that
 * charges it, or an ancestor, is at its limit, or when the machine is
 * short.  So the headroom is the smallest, over the process's memory
 * cgroup and each ancestor, of limit minus usage (cgroup v1:
 * memory.limit_in_bytes - memory.usage_in_bytes; v2: memory.max -
 * memory.current), and of the machine's MemAvailable.  v1 usage counts
 * page cache as well, which only makes the figure conservative.  Pressure
 * stall information would not do: the system-wide PSI fills with other
 * cgroups' thrashing, and per-cgroup PSI exists only on v2; limit minus
 * usage answers the question asked (would a fault here reclaim?)
 * directly, on both.
 *
 * Measuring without allocating.  Opening a file allocates kernel memory
 * (a struct file, a seq_file buffer) charged to the cgroup, and in a full
 * cgroup that allocation itself reclaims, by swapping to our device, from
 * inside the worker that should serve the swap write (swap_pressure.sh
 * hung so).  So the files are opened once, in a "view" of the cgroup
 * (its and its ancestors' limit and usage files, and /proc/meminfo), read
 * once right away (a seq_file allocates its buffer at the first read), and
 * then read with pread(), which allocates nothing.  The writer that wants
 * a figure reads the view itself (about 10-20 us) and shares it with the
 * others for RESERVE_HEADROOM_AGE_NS: a thread measuring for the writers
 * would be late under CPU load (60-500 ms were seen), and writes would
 * fail on an idle machine.  The cgroup may change (the daemon may be
 * moved into one after it started; swap_pressure.sh does): a thread reads
 * /proc/self/cgroup every HEADROOM_TRACK_NS and, when it changed, opens
 * a new view and publishes it; old views stay open (a writer may still
 * read one) until the end.  A move is rare, so they are few.
 *
 * Locks: the refill thread's lock and the headroom thread's lock are
 * leaves, never held together, nor with any other lock; the ladder holds
 * none of its own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reclaim.h"
#include "reserve.h"
#include "thread.h"

#define RESERVE_REFILL_WAIT_NS (2 * 1000 * 1000ull)
#define RESERVE_REFILL_POLL_NS (50 * 1000)
#define RESERVE_GROW_PAGES 64u		/* 256 KiB a writer faults in at once */
/* a writer grows the pool for itself for at most this long */
#define RESERVE_GROW_NS (1000 * 1000 * 1000ull)
#define RESERVE_HEADROOM_AGE_NS (2 * 1000 * 1000ull)
#define RESERVE_REFILL_ROUND 16u
#define RESERVE_REFILL_STUCK_NS (20 * 1000 * 1000ull)

#define CG_V1_MEMORY "/sys/fs/cgroup/memory"
#define CG_V2 "/sys/fs/cgroup"
#define HEADROOM_TRACK_NS (100 * 1000 * 1000ull)	/* cgroup looked up every 100 ms */
#define HEADROOM_LEVELS 16			/* cgroup depth followed */
#define HEADROOM_PATH 512

/* Open files to measure the headroom from; immutable once published. */
struct headroom_view {
	struct headroom_view *older;	/* views replaced, kept open */
	char path[HEADROOM_PATH];	/* the cgroup, as /proc/self/cgroup names it */
	bool v2, has_cg;
	int meminfo_fd;
	unsigned n;
	int limit_fd[HEADROOM_LEVELS], usage_fd[HEADROOM_LEVELS];
};

struct headroom {
	_Atomic(struct headroom_view *) view;	/* acquire loads, release stores */
	_Atomic uint64_t stamp_ns;	/* when bytes was measured, 0 never; release */
	_Atomic uint64_t bytes;		/* relaxed, published by stamp_ns */

	pthread_mutex_t lock;
	pthread_cond_t cv;		/* CLOCK_MONOTONIC */
	bool stop;			/* protected by lock */
	bool started;
	pthread_t tid;
	int cgroup_fd;			/* the tracking thread's */
};

struct reserve {
	struct zspool *pool;
	struct reclaim *reclaim;
	bool nowait;
	uint64_t headroom_min;
	struct headroom *hr;
	_Atomic bool on;		/* relaxed: the target is not 0 */
	_Atomic uint64_t failed;	/* relaxed: allocations refused */

	/* the refill thread */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	_Atomic bool wanted;		/* set by kickers (release), taken by the thread */
	bool stop;			/* protected by lock */
	bool started;
	pthread_t tid;
	/* CLOCK_MONOTONIC ns when the running round began, 0 idle; relaxed */
	_Atomic uint64_t since;
	/* the thread's /proc/thread-self/stat, opened by itself; relaxed, -1 none */
	_Atomic int stat_fd;
};

static uint64_t headroom_bytes(struct headroom *h, uint64_t max_age_ns);

/* ---- the ladder ------------------------------------------------------ */

/* Ask the refill thread to top the reserve up (cheap when asked already). */
static void reserve_kick(struct reserve *rs)
{
	/* The common case, already asked: one load, no shared write. */
	if (atomic_load_explicit(&rs->wanted, memory_order_relaxed))
		return;
	atomic_store_explicit(&rs->wanted, true, memory_order_release);
	pthread_mutex_lock(&rs->lock);
	pthread_cond_signal(&rs->cv);
	pthread_mutex_unlock(&rs->lock);
}

/* Is the refill thread asleep in the kernel, uninterruptibly ('D')? */
static bool reserve_refill_in_d_state(struct reserve *rs)
{
	int fd = atomic_load_explicit(&rs->stat_fd, memory_order_relaxed);
	char buf[256], *p;
	ssize_t n;

	if (fd < 0)
		return false;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the name may hold spaces and parentheses */
	return p && p[1] == ' ' && p[2] == 'D';
}

/* Is the refill thread stuck (see the head comment)? */
static bool reserve_refill_stuck(struct reserve *rs)
{
	uint64_t since = atomic_load_explicit(&rs->since, memory_order_relaxed);
	uint64_t now = thread_now_ns();

	if (!since)
		return false;
	return (now > since && now - since > RESERVE_REFILL_STUCK_NS) ||
	       reserve_refill_in_d_state(rs);
}

/* One allocation: an object of @size bytes, or (size 0) a whole page. */
static int reserve_try(struct reserve *rs, size_t size, unsigned flags,
		       zspool_handle_t *h, void **page)
{
	if (size)
		return zspool_alloc(rs->pool, size, flags, h);
	*page = zspool_page_alloc(rs->pool, flags);
	return *page ? 0 : -ENOMEM;
}

/* May a writer fault pages in itself, with no risk of reclaim? */
static bool reserve_plentiful(struct reserve *rs)
{
	return rs->headroom_min != UINT64_MAX &&
	       headroom_bytes(rs->hr, RESERVE_HEADROOM_AGE_NS) >= rs->headroom_min;
}

int reserve_get(struct reserve *rs, size_t size, zspool_handle_t *h,
		void **page, unsigned *pace)
{
	unsigned flags = rs->nowait ? ZSPOOL_NOWAIT : 0;
	uint64_t wait_start = 0, grow_start = 0;
	bool drained = false;
	int ret;

	for (;;) {
		ret = reserve_try(rs, size, flags, h, page);	/* step 1 */
		if (ret == 0 || ret == -EINVAL)
			break;
		if (!drained && reclaim_pending(rs->reclaim) &&
		    (ret == -ENOSPC || rs->nowait)) {
			reclaim_drain(rs->reclaim);		/* step 2 */
			drained = true;
			continue;
		}
		if (ret != -ENOMEM || !rs->nowait)
			break;
		if (!grow_start)
			grow_start = thread_now_ns();
		if (thread_now_ns() - grow_start < RESERVE_GROW_NS &&
		    reserve_plentiful(rs)) {
			reserve_kick(rs);
			if (zspool_grow(rs->pool, RESERVE_GROW_PAGES))
				continue;			/* step 3 */
		}
		if (!wait_start)
			wait_start = thread_now_ns();
		if (reserve_refill_stuck(rs) ||
		    thread_now_ns() - wait_start >= RESERVE_REFILL_WAIT_NS)
			break;					/* step 5 */
		reserve_kick(rs);				/* step 4 */
		nanosleep(&(struct timespec){ .tv_nsec = RESERVE_REFILL_POLL_NS }, NULL);
	}
	if (ret == -ENOMEM && rs->nowait) {
		atomic_fetch_add_explicit(&rs->failed, 1, memory_order_relaxed);
		reserve_kick(rs);
	} else if (ret == 0 && rs->nowait && (++*pace & 7) == 0 &&
		   atomic_load_explicit(&rs->on, memory_order_relaxed) &&
		   ((*pace & 63) == 0 || zspool_reserve_low(rs->pool))) {
		/* a low reserve, or now and then for the handle slots */
		reserve_kick(rs);
	}
	return ret;
}

void reserve_set_target(struct reserve *rs, uint64_t pages)
{
	zspool_set_reserve(rs->pool, pages);
	atomic_store_explicit(&rs->on, pages > 0, memory_order_relaxed);
	if (pages)
		reserve_kick(rs);
}

uint64_t reserve_failed(struct reserve *rs)
{
	return atomic_load_explicit(&rs->failed, memory_order_relaxed);
}

/* ---- the refill thread ----------------------------------------------- */

static void *reserve_refill_main(void *arg)
{
	struct reserve *rs = arg;

	atomic_store_explicit(&rs->stat_fd,
			      open("/proc/thread-self/stat", O_RDONLY | O_CLOEXEC),
			      memory_order_relaxed);
	pthread_mutex_lock(&rs->lock);
	while (!rs->stop) {
		if (!atomic_exchange_explicit(&rs->wanted, false,
					      memory_order_acq_rel)) {
			pthread_cond_wait(&rs->cv, &rs->lock);
			continue;
		}
		pthread_mutex_unlock(&rs->lock);
		/* rounds until the reserve is full, each one a sign of life */
		for (;;) {
			atomic_store_explicit(&rs->since, thread_now_ns(),
					      memory_order_relaxed);
			if (!zspool_refill_round(rs->pool, RESERVE_REFILL_ROUND))
				break;
		}
		atomic_store_explicit(&rs->since, 0, memory_order_relaxed);
		pthread_mutex_lock(&rs->lock);
	}
	pthread_mutex_unlock(&rs->lock);
	close(atomic_exchange_explicit(&rs->stat_fd, -1, memory_order_relaxed));
	return NULL;
}

/* ---- the headroom ---------------------------------------------------- */

/* Read an open file from its start into @buf (NUL-terminated). */
static ssize_t pread_all(int fd, char *buf, size_t cap)
{
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, cap - 1, 0);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* A number from an open file; "max" (v2: no limit) reads as UINT64_MAX. */
static bool read_u64(int fd, uint64_t *out)
{
	char buf[64], *end;
	unsigned long long v;

	if (pread_all(fd, buf, sizeof(buf)) <= 0)
		return false;
	if (strncmp(buf, "max", 3) == 0) {
		*out = UINT64_MAX;
		return true;
	}
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return false;
	*out = v;
	return true;
}

/*
 * The memory cgroup in the text of /proc/self/cgroup: sets @path (relative
 * to the hierarchy's root) and @v2.  v1's memory controller first (a
 * hybrid machine has both); false when there is none.
 */
static bool cgroup_parse(char *text, char *path, size_t cap, bool *v2)
{
	char *line, *save = NULL;
	const char *unified = NULL;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *ctl = strchr(line, ':'), *rel;

		if (!ctl || !(rel = strchr(ctl + 1, ':')))
			continue;
		*rel++ = '\0';
		ctl++;
		if (*ctl == '\0') {
			unified = rel;
			continue;
		}
		for (char *c = ctl, *e; c; c = e ? e + 1 : NULL) {
			e = strchr(c, ',');
			if ((e ? (size_t)(e - c) : strlen(c)) == 6 &&
			    strncmp(c, "memory", 6) == 0) {
				snprintf(path, cap, "%s", rel);
				*v2 = false;
				return true;
			}
		}
	}
	if (unified && access(CG_V2 "/cgroup.controllers", F_OK) == 0) {
		snprintf(path, cap, "%s", unified);
		*v2 = true;
		return true;
	}
	return false;
}

static uint64_t meminfo_available(int fd)
{
	char buf[8192], *p;

	if (pread_all(fd, buf, sizeof(buf)) <= 0)
		return UINT64_MAX;
	p = strstr(buf, "MemAvailable:");
	if (!p)
		return UINT64_MAX;
	return strtoull(p + strlen("MemAvailable:"), NULL, 10) * 1024;
}

static void view_free(struct headroom_view *v)
{
	while (v) {
		struct headroom_view *older = v->older;

		for (unsigned i = 0; i < v->n; i++) {
			close(v->limit_fd[i]);
			close(v->usage_fd[i]);
		}
		if (v->meminfo_fd >= 0)
			close(v->meminfo_fd);
		free(v);
		v = older;
	}
}

/* A view of the cgroup @path (none: @has_cg false) and its ancestors. */
static struct headroom_view *view_open(const char *path, bool v2, bool has_cg)
{
	struct headroom_view *v = calloc(1, sizeof(*v));
	char dir[HEADROOM_PATH + 64], file[HEADROOM_PATH + 96], buf[64];
	const char *root = v2 ? CG_V2 : CG_V1_MEMORY;
	size_t rootlen = strlen(root);

	if (!v)
		return NULL;
	v->meminfo_fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	/*
	 * A seq_file allocates its buffer at the first read, not at open:
	 * read it now, while the daemon is not in the middle of serving a
	 * swap write (an unread meminfo allocated in a full cgroup and its
	 * reclaim waited on our own device: swap_pressure hung so).
	 */
	meminfo_available(v->meminfo_fd);
	v->has_cg = has_cg;
	v->v2 = v2;
	if (!has_cg)
		return v;
	snprintf(v->path, sizeof(v->path), "%s", path);
	snprintf(dir, sizeof(dir), "%s%s", root, strcmp(path, "/") ? path : "");
	while (v->n < HEADROOM_LEVELS) {
		char *slash;
		int lfd, ufd;

		snprintf(file, sizeof(file), "%s/%s", dir,
			 v2 ? "memory.max" : "memory.limit_in_bytes");
		lfd = open(file, O_RDONLY | O_CLOEXEC);
		snprintf(file, sizeof(file), "%s/%s", dir,
			 v2 ? "memory.current" : "memory.usage_in_bytes");
		ufd = open(file, O_RDONLY | O_CLOEXEC);
		if (lfd >= 0 && ufd >= 0) {
			/* first reads now: their buffers are then in place */
			pread_all(lfd, buf, sizeof(buf));
			pread_all(ufd, buf, sizeof(buf));
			v->limit_fd[v->n] = lfd;
			v->usage_fd[v->n++] = ufd;
		} else {
			if (lfd >= 0)
				close(lfd);
			if (ufd >= 0)
				close(ufd);
		}
		slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < rootlen)
			break;
		*slash = '\0';
	}
	return v;
}

/* One measurement through @v: preads only. */
static uint64_t view_measure(const struct headroom_view *v)
{
	uint64_t room = meminfo_available(v->meminfo_fd);

	for (unsigned i = 0; i < v->n; i++) {
		uint64_t lim, use;

		if (read_u64(v->limit_fd[i], &lim) && lim != UINT64_MAX &&
		    read_u64(v->usage_fd[i], &use)) {
			uint64_t r = lim > use ? lim - use : 0;

			if (r < room)
				room = r;
		}
	}
	return room;
}

/*
 * Read /proc/self/cgroup through @fd; a new view when the cgroup is not
 * the one of @cur (or there is no @cur), else NULL.
 */
static struct headroom_view *view_track(int fd, const struct headroom_view *cur)
{
	char text[4096], path[HEADROOM_PATH] = "";
	bool v2 = false, has;

	has = pread_all(fd, text, sizeof(text)) > 0 &&
	      cgroup_parse(text, path, sizeof(path), &v2);
	if (cur && cur->has_cg == has &&
	    (!has || (cur->v2 == v2 && strcmp(cur->path, path) == 0)))
		return NULL;
	return view_open(path, v2, has);
}

uint64_t headroom_measure(void)
{
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	struct headroom_view *v = view_track(fd, NULL);
	uint64_t room = v ? view_measure(v) : UINT64_MAX;

	view_free(v);
	if (fd >= 0)
		close(fd);
	return room;
}

/* The tracking thread: follows the process's memory cgroup. */
static void *headroom_main(void *arg)
{
	struct headroom *h = arg;
	struct timespec ts;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct headroom_view *cur, *v;

		thread_deadline(&ts, HEADROOM_TRACK_NS);
		pthread_cond_timedwait(&h->cv, &h->lock, &ts);
		if (h->stop)
			break;
		pthread_mutex_unlock(&h->lock);
		cur = atomic_load_explicit(&h->view, memory_order_acquire);
		v = view_track(h->cgroup_fd, cur);
		if (v) {
			v->older = cur;
			atomic_store_explicit(&h->view, v, memory_order_release);
			/* the cached figure was of the old cgroup */
			atomic_store_explicit(&h->stamp_ns, 0, memory_order_release);
		}
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static void headroom_destroy(struct headroom *h)
{
	if (!h)
		return;
	if (h->started)
		thread_stop(h->tid, &h->lock, &h->cv, &h->stop);
	view_free(atomic_load_explicit(&h->view, memory_order_relaxed));
	if (h->cgroup_fd >= 0)
		close(h->cgroup_fd);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/*
 * Open the files to measure from, and start the thread that follows the
 * process's memory cgroup.
 */
static int headroom_create(struct headroom **out)
{
	struct headroom *h = calloc(1, sizeof(*h));
	struct headroom_view *v;
	int ret;

	if (!h)
		return -ENOMEM;
	h->cgroup_fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	v = view_track(h->cgroup_fd, NULL);
	if (!v) {
		if (h->cgroup_fd >= 0)
			close(h->cgroup_fd);
		free(h);
		return -ENOMEM;
	}
	atomic_init(&h->view, v);
	pthread_mutex_init(&h->lock, NULL);
	thread_cond_init(&h->cv);
	ret = thread_start(&h->tid, "zramfuse-headr", 0, headroom_main, h);
	if (ret) {
		headroom_destroy(h);
		return ret;
	}
	h->started = true;
	*out = h;
	return 0;
}

/*
 * The headroom in bytes: the figure shared by all callers if it was
 * measured at most @max_age_ns ago, else measured now by the caller (a few
 * pread()s of files opened in advance; no allocation, in user space or
 * charged in the kernel).  UINT64_MAX when nothing limits.
 */
static uint64_t headroom_bytes(struct headroom *h, uint64_t max_age_ns)
{
	uint64_t stamp = atomic_load_explicit(&h->stamp_ns, memory_order_acquire);
	uint64_t v = atomic_load_explicit(&h->bytes, memory_order_relaxed);
	uint64_t now = thread_now_ns();

	/* (a stamp newer than now is a figure measured meanwhile: fresh) */
	if (stamp && (now < stamp || now - stamp <= max_age_ns))
		return v;
	v = view_measure(atomic_load_explicit(&h->view, memory_order_acquire));
	atomic_store_explicit(&h->bytes, v, memory_order_relaxed);
	atomic_store_explicit(&h->stamp_ns, thread_now_ns(), memory_order_release);
	return v;
}

/* ---- life cycle ------------------------------------------------------ */

int reserve_create(const struct reserve_config *cfg, struct reserve **out)
{
	struct reserve *rs = calloc(1, sizeof(*rs));
	int ret;

	if (!rs)
		return -ENOMEM;
	rs->pool = cfg->pool;
	rs->reclaim = cfg->reclaim;
	rs->nowait = cfg->nowait;
	rs->headroom_min = cfg->headroom_min ? cfg->headroom_min : RESERVE_HEADROOM_MIN;
	atomic_init(&rs->stat_fd, -1);
	pthread_mutex_init(&rs->lock, NULL);
	pthread_cond_init(&rs->cv, NULL);
	ret = headroom_create(&rs->hr);
	if (ret < 0)
		goto fail;
	ret = thread_start(&rs->tid, "zramfuse-refil", 0, reserve_refill_main, rs);
	if (ret)
		goto fail;
	rs->started = true;
	if (cfg->target)
		reserve_set_target(rs, cfg->target);
	*out = rs;
	return 0;
fail:
	reserve_destroy(rs);
	return ret;
}

void reserve_destroy(struct reserve *rs)
{
	if (!rs)
		return;
	if (rs->started)
		thread_stop(rs->tid, &rs->lock, &rs->cv, &rs->stop);
	headroom_destroy(rs->hr);
	pthread_cond_destroy(&rs->cv);
	pthread_mutex_destroy(&rs->lock);
	free(rs);
}
