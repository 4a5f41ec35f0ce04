// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * headroom: how far this process is from making the kernel reclaim.
 *
 * A page fault needs reclaim - which may write other processes' pages to
 * swap, and so to our own device - only when the memory cgroup that
 * charges it, or an ancestor, is at its limit, or when the machine is
 * short.  So the headroom is the smallest, over the process's memory
 * cgroup and each ancestor, of limit minus usage (cgroup v1:
 * memory.limit_in_bytes - memory.usage_in_bytes; v2: memory.max -
 * memory.current), and of the machine's MemAvailable.  v1 usage counts
 * page cache as well, which only makes the figure conservative.
 *
 * Measuring without allocating.  Opening a file allocates kernel memory
 * (a struct file, a seq_file buffer) charged to the cgroup, and in a full
 * cgroup that allocation itself reclaims, by swapping to our device, from
 * inside the worker that should serve the swap write (swap_pressure.sh
 * hung so).  So the files are opened once, in a "view" of the cgroup
 * (its and its ancestors' limit and usage files, and /proc/meminfo), and
 * read with pread(): a seq_file keeps its buffer between reads, so a read
 * allocates nothing.  The writer that wants a figure reads the view
 * itself (about 10-20 us), and shares it with the others for a short
 * time.  An earlier version had a thread measure and writers wait for
 * its figure: under CPU load the figure was often 60-500 ms late, and
 * writes failed on an idle machine.
 *
 * The cgroup may change: the daemon may be moved into one after it
 * started (swap_pressure.sh does).  A thread of its own reads
 * /proc/self/cgroup every HEADROOM_TRACK_NS and, when the cgroup changed,
 * opens a new view and publishes it; old views stay open (a writer may
 * still read one) until headroom_destroy().  A move is rare, so they are
 * few.
 *
 * Not used: pressure stall information.  The system-wide PSI fills with
 * other cgroups' thrashing, and per-cgroup PSI exists only on v2; limit
 * minus usage answers the question asked (would a fault here reclaim?)
 * directly, on both.
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
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "headroom.h"

#define CG_V1_MEMORY "/sys/fs/cgroup/memory"
#define CG_V2 "/sys/fs/cgroup"
#define HEADROOM_TRACK_NS (100 * 1000 * 1000)	/* cgroup looked up every 100 ms */
#define HEADROOM_LEVELS 16			/* cgroup depth followed */
#define HEADROOM_PATH 512

/* Open files to measure from; immutable once published. */
struct headroom_view {
	struct headroom_view *older;	/* views replaced, kept open */
	char path[HEADROOM_PATH];	/* the cgroup, as /proc/self/cgroup names it */
	bool v2, has_cg;
	int meminfo_fd;
	unsigned n;
	int limit_fd[HEADROOM_LEVELS], usage_fd[HEADROOM_LEVELS];
};

struct headroom {
	_Atomic(struct headroom_view *) view;	/* acquire loads */
	_Atomic uint64_t stamp_ns;	/* when bytes was measured; 0 never */
	_Atomic uint64_t bytes;		/* relaxed, published by stamp_ns */

	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool stop;			/* protected by lock */
	bool started;
	bool io_flusher;
	pthread_t tid;
	int cgroup_fd;			/* the tracking thread's */
};

static uint64_t headroom_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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

/* Fault in this thread's stack now, so that it does not fault later. */
static void __attribute__((noinline)) headroom_touch_stack(void)
{
	volatile char buf[64 * 1024];

	for (size_t i = 0; i < sizeof(buf); i += 4096)
		buf[i] = 0;
}

static void headroom_deadline(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += HEADROOM_TRACK_NS;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_nsec -= 1000000000;
		ts->tv_sec++;
	}
}

/* The tracking thread: follows the process's memory cgroup. */
static void *headroom_main(void *arg)
{
	struct headroom *h = arg;
	struct timespec ts;

	pthread_setname_np(pthread_self(), "zramfuse-headr");
	headroom_touch_stack();
#if HAVE_DECL_PR_SET_IO_FLUSHER
	if (h->io_flusher)
		(void)prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0);
#endif
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct headroom_view *cur, *v;

		headroom_deadline(&ts);
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

int headroom_create(bool io_flusher, struct headroom **out)
{
	struct headroom *h = calloc(1, sizeof(*h));
	struct headroom_view *v;
	int ret;

	if (!h)
		return -ENOMEM;
	h->io_flusher = io_flusher;
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
	pthread_cond_init(&h->cv, NULL);
	ret = -pthread_create(&h->tid, NULL, headroom_main, h);
	if (ret) {
		headroom_destroy(h);
		return ret;
	}
	h->started = true;
	*out = h;
	return 0;
}

void headroom_destroy(struct headroom *h)
{
	if (!h)
		return;
	if (h->started) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->tid, NULL);
	}
	view_free(atomic_load_explicit(&h->view, memory_order_relaxed));
	if (h->cgroup_fd >= 0)
		close(h->cgroup_fd);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

uint64_t headroom_bytes(struct headroom *h, uint64_t max_age_ns)
{
	uint64_t stamp = atomic_load_explicit(&h->stamp_ns, memory_order_acquire);
	uint64_t v = atomic_load_explicit(&h->bytes, memory_order_relaxed);
	uint64_t now = headroom_now_ns();

	/* (a stamp newer than now is a figure measured meanwhile: fresh) */
	if (stamp && (now < stamp || now - stamp <= max_age_ns))
		return v;
	v = view_measure(atomic_load_explicit(&h->view, memory_order_acquire));
	atomic_store_explicit(&h->bytes, v, memory_order_relaxed);
	atomic_store_explicit(&h->stamp_ns, headroom_now_ns(), memory_order_release);
	return v;
}
