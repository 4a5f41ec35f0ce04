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
 * memory.current), and of the machine's MemAvailable.  The cgroup is
 * looked up again at every measurement, because the daemon may be moved
 * into one after it started (tests/swap_pressure.sh does).  v1 usage
 * counts page cache as well, which only makes the figure conservative.
 *
 * Not used: pressure stall information.  The system-wide PSI fills with
 * other cgroups' thrashing, and per-cgroup PSI exists only on v2; the
 * limit-minus-usage figure answers the question asked (would a fault
 * here reclaim?) directly, on both.
 *
 * A measurement opens and reads a handful of small files (about 20-40 us
 * here); callers cache it for a short time.  Only one caller measures at
 * a time; the others wait for its figure (measured without the lock they
 * would only repeat it; answering "unknown" instead sent writers that
 * raced the first measurement down the path that fails).  Files are read
 * into stack buffers: no allocation in user space.
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

#include "headroom.h"

#define CG_V1_MEMORY "/sys/fs/cgroup/memory"
#define CG_V2 "/sys/fs/cgroup"

struct headroom {
	pthread_mutex_t lock;		/* held by the one caller measuring */
	_Atomic uint64_t stamp_ns;	/* when bytes was measured; 0 never */
	_Atomic uint64_t bytes;
};

static uint64_t headroom_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Read a small file into @buf (NUL-terminated); returns length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* A number from a file; "max" (v2: no limit) reads as UINT64_MAX. */
static bool read_u64(const char *path, uint64_t *out)
{
	char buf[64], *end;
	unsigned long long v;

	if (read_small(path, buf, sizeof(buf)) <= 0)
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
 * This process's memory cgroup: sets @path to its directory and the names
 * of its limit and usage files.  v1's memory controller first (a hybrid
 * machine has both); false when there is none.
 */
static bool cgroup_find(char *path, size_t cap, const char **limit,
			const char **usage)
{
	char buf[4096], *line, *save = NULL;
	const char *v2 = NULL;

	if (read_small("/proc/self/cgroup", buf, sizeof(buf)) <= 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *ctl = strchr(line, ':'), *rel;

		if (!ctl || !(rel = strchr(ctl + 1, ':')))
			continue;
		*rel++ = '\0';
		ctl++;
		if (*ctl == '\0') {
			v2 = rel;
			continue;
		}
		for (char *c = ctl, *e; c; c = e ? e + 1 : NULL) {
			e = strchr(c, ',');
			if ((e ? (size_t)(e - c) : strlen(c)) == 6 &&
			    strncmp(c, "memory", 6) == 0) {
				snprintf(path, cap, "%s%s", CG_V1_MEMORY, rel);
				*limit = "memory.limit_in_bytes";
				*usage = "memory.usage_in_bytes";
				return true;
			}
		}
	}
	if (v2 && access(CG_V2 "/cgroup.controllers", F_OK) == 0) {
		snprintf(path, cap, "%s%s", CG_V2, v2);
		*limit = "memory.max";
		*usage = "memory.current";
		return true;
	}
	return false;
}

/* The smallest limit - usage over the cgroup at @dir and its ancestors. */
static uint64_t cgroup_headroom(char *dir, const char *limit, const char *usage)
{
	uint64_t best = UINT64_MAX;
	size_t root = strlen(CG_V1_MEMORY);

	if (strncmp(dir, CG_V1_MEMORY, root) != 0)
		root = strlen(CG_V2);
	for (;;) {
		char file[4096 + 32];
		uint64_t lim, use;
		char *slash;

		snprintf(file, sizeof(file), "%s/%s", dir, limit);
		if (read_u64(file, &lim) && lim != UINT64_MAX) {
			snprintf(file, sizeof(file), "%s/%s", dir, usage);
			if (read_u64(file, &use)) {
				uint64_t room = lim > use ? lim - use : 0;

				if (room < best)
					best = room;
			}
		}
		slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < root)
			break;
		*slash = '\0';
	}
	return best;
}

static uint64_t meminfo_available(void)
{
	char buf[8192], *p;

	if (read_small("/proc/meminfo", buf, sizeof(buf)) <= 0)
		return UINT64_MAX;
	p = strstr(buf, "MemAvailable:");
	if (!p)
		return UINT64_MAX;
	return strtoull(p + strlen("MemAvailable:"), NULL, 10) * 1024;
}

uint64_t headroom_measure(void)
{
	char dir[4096];
	const char *limit, *usage;
	uint64_t room = meminfo_available();

	if (cgroup_find(dir, sizeof(dir), &limit, &usage)) {
		uint64_t cg = cgroup_headroom(dir, limit, usage);

		if (cg < room)
			room = cg;
	}
	return room;
}

int headroom_create(struct headroom **out)
{
	struct headroom *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	*out = h;
	return 0;
}

void headroom_destroy(struct headroom *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}

uint64_t headroom_bytes(struct headroom *h, uint64_t max_age_ns)
{
	uint64_t now = headroom_now_ns();
	uint64_t stamp = atomic_load_explicit(&h->stamp_ns, memory_order_acquire);
	uint64_t v;

	if (stamp && now - stamp <= max_age_ns)
		return atomic_load_explicit(&h->bytes, memory_order_relaxed);
	pthread_mutex_lock(&h->lock);
	/* whoever held the lock may have just measured */
	stamp = atomic_load_explicit(&h->stamp_ns, memory_order_acquire);
	if (stamp && headroom_now_ns() - stamp <= max_age_ns) {
		pthread_mutex_unlock(&h->lock);
		return atomic_load_explicit(&h->bytes, memory_order_relaxed);
	}
	v = headroom_measure();
	atomic_store_explicit(&h->bytes, v, memory_order_relaxed);
	atomic_store_explicit(&h->stamp_ns, headroom_now_ns(), memory_order_release);
	pthread_mutex_unlock(&h->lock);
	return v;
}
