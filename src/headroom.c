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
 * Who measures.  Not the writer that asks: opening and reading a file
 * allocates kernel memory (a struct file, a seq_file buffer) charged to
 * the cgroup, and in a full cgroup that allocation itself reclaims, by
 * swapping to our device, from inside the worker that should serve the
 * swap write (tests/swap_pressure.sh hung so).  A thread of its own
 * measures, with its files opened once and read with pread() (a seq_file
 * keeps its buffer between reads, so a read allocates nothing), and
 * publishes the figure with a time stamp; writers only load two atomics.
 * A figure older than the caller's limit counts as "no headroom known":
 * a measurer stuck in the kernel is itself a sign that memory is short,
 * and sends writers down the cautious path.  Writers ask for fresh
 * figures (a flag and a wake-up, as reclaim_kick_refill()); the measurer
 * then measures every HEADROOM_PERIOD_NS while it is asked, and sleeps
 * otherwise.  The cgroup is looked up again at each measurement, because
 * the daemon may be moved into one after it started (swap_pressure.sh
 * does): only a move reopens files.
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
#define HEADROOM_PERIOD_NS (1000 * 1000)	/* while asked: every 1 ms */
#define HEADROOM_LEVELS 16			/* cgroup depth followed */
#define HEADROOM_PATH 512

/* The open limit and usage files of a cgroup and its ancestors. */
struct headroom_cg {
	char path[HEADROOM_PATH];	/* as /proc/self/cgroup names it */
	bool v2;
	unsigned n;
	int limit_fd[HEADROOM_LEVELS], usage_fd[HEADROOM_LEVELS];
};

struct headroom {
	_Atomic uint64_t stamp_ns;	/* when bytes was measured; 0 never */
	_Atomic uint64_t bytes;		/* relaxed, published by stamp_ns */
	_Atomic bool wanted;		/* set by askers, cleared by the thread */

	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool stop;			/* protected by lock */
	bool started;
	bool io_flusher;
	pthread_t tid;

	/* the measuring thread's own */
	int cgroup_fd, meminfo_fd;
	struct headroom_cg cg;
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

static void cg_close(struct headroom_cg *cg)
{
	for (unsigned i = 0; i < cg->n; i++) {
		close(cg->limit_fd[i]);
		close(cg->usage_fd[i]);
	}
	cg->n = 0;
	cg->path[0] = '\0';
}

/* Open the limit and usage files of @path and its ancestors. */
static void cg_open(struct headroom_cg *cg, const char *path, bool v2)
{
	char dir[HEADROOM_PATH + 64], file[HEADROOM_PATH + 96];
	const char *root = v2 ? CG_V2 : CG_V1_MEMORY;
	size_t rootlen = strlen(root);

	cg_close(cg);
	snprintf(cg->path, sizeof(cg->path), "%s", path);
	cg->v2 = v2;
	snprintf(dir, sizeof(dir), "%s%s", root, strcmp(path, "/") ? path : "");
	while (cg->n < HEADROOM_LEVELS) {
		char *slash;
		int lfd, ufd;

		snprintf(file, sizeof(file), "%s/%s", dir,
			 v2 ? "memory.max" : "memory.limit_in_bytes");
		lfd = open(file, O_RDONLY | O_CLOEXEC);
		snprintf(file, sizeof(file), "%s/%s", dir,
			 v2 ? "memory.current" : "memory.usage_in_bytes");
		ufd = open(file, O_RDONLY | O_CLOEXEC);
		if (lfd >= 0 && ufd >= 0) {
			cg->limit_fd[cg->n] = lfd;
			cg->usage_fd[cg->n++] = ufd;
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
}

/* The smallest limit - usage over the open levels. */
static uint64_t cg_headroom(const struct headroom_cg *cg)
{
	uint64_t best = UINT64_MAX;

	for (unsigned i = 0; i < cg->n; i++) {
		uint64_t lim, use;

		if (read_u64(cg->limit_fd[i], &lim) && lim != UINT64_MAX &&
		    read_u64(cg->usage_fd[i], &use)) {
			uint64_t room = lim > use ? lim - use : 0;

			if (room < best)
				best = room;
		}
	}
	return best;
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

/* One measurement with the thread's open files (and @cg kept current). */
static uint64_t measure(int cgroup_fd, int meminfo_fd, struct headroom_cg *cg)
{
	char text[4096], path[HEADROOM_PATH];
	uint64_t room = meminfo_available(meminfo_fd), c;
	bool v2;

	if (pread_all(cgroup_fd, text, sizeof(text)) > 0 &&
	    cgroup_parse(text, path, sizeof(path), &v2)) {
		if (strcmp(path, cg->path) || v2 != cg->v2)
			cg_open(cg, path, v2);
	} else if (cg->n) {
		cg_close(cg);
	}
	c = cg_headroom(cg);
	return c < room ? c : room;
}

uint64_t headroom_measure(void)
{
	struct headroom_cg cg = { .n = 0 };
	int cfd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	int mfd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	uint64_t v = measure(cfd, mfd, &cg);

	cg_close(&cg);
	if (cfd >= 0)
		close(cfd);
	if (mfd >= 0)
		close(mfd);
	return v;
}

/* Fault in this thread's stack now, so that it does not fault later. */
static void __attribute__((noinline)) headroom_touch_stack(void)
{
	volatile char buf[64 * 1024];

	for (size_t i = 0; i < sizeof(buf); i += 4096)
		buf[i] = 0;
}

static void *headroom_main(void *arg)
{
	struct headroom *h = arg;

	pthread_setname_np(pthread_self(), "zramfuse-headr");
	headroom_touch_stack();
#if HAVE_DECL_PR_SET_IO_FLUSHER
	if (h->io_flusher)
		(void)prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0);
#endif
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		if (!atomic_exchange_explicit(&h->wanted, false, memory_order_acq_rel)) {
			pthread_cond_wait(&h->cv, &h->lock);
			continue;
		}
		pthread_mutex_unlock(&h->lock);
		atomic_store_explicit(&h->bytes,
				      measure(h->cgroup_fd, h->meminfo_fd, &h->cg),
				      memory_order_relaxed);
		atomic_store_explicit(&h->stamp_ns, headroom_now_ns(),
				      memory_order_release);
		/* at most one measurement a period, however often asked */
		nanosleep(&(struct timespec){ .tv_nsec = HEADROOM_PERIOD_NS }, NULL);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int headroom_create(bool io_flusher, struct headroom **out)
{
	struct headroom *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return -ENOMEM;
	h->io_flusher = io_flusher;
	h->cgroup_fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	h->meminfo_fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cv, NULL);
	/* the first figure now, so that the first writers need not wait */
	atomic_store_explicit(&h->bytes, measure(h->cgroup_fd, h->meminfo_fd, &h->cg),
			      memory_order_relaxed);
	atomic_store_explicit(&h->stamp_ns, headroom_now_ns(), memory_order_release);
	ret = -pthread_create(&h->tid, NULL, headroom_main, h);
	if (ret) {
		h->started = false;
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
	cg_close(&h->cg);
	if (h->cgroup_fd >= 0)
		close(h->cgroup_fd);
	if (h->meminfo_fd >= 0)
		close(h->meminfo_fd);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void headroom_ask(struct headroom *h)
{
	/* one load when already asked */
	if (atomic_load_explicit(&h->wanted, memory_order_relaxed))
		return;
	atomic_store_explicit(&h->wanted, true, memory_order_release);
	pthread_mutex_lock(&h->lock);
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->lock);
}

uint64_t headroom_bytes(struct headroom *h, uint64_t max_age_ns)
{
	uint64_t stamp = atomic_load_explicit(&h->stamp_ns, memory_order_acquire);
	uint64_t v = atomic_load_explicit(&h->bytes, memory_order_relaxed);
	uint64_t now = headroom_now_ns();

	headroom_ask(h);
	return now - stamp <= max_age_ns ? v : 0;
}
