/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * suiteprobe: the parts of bench/suite.sh that a shell cannot time
 * finely enough.  One program, four commands:
 *
 *   suiteprobe sample [-i MS] [BACKEND] [-d SWAPDEV] [-R READBACK_STAT]
 *                     [-W BD_STAT] OUT
 *       Every MS milliseconds (200) append "SECS BACKEND MEM_USED ORIG
 *       SWAP_USED COMPR SWAPCACHED RB_PAGES RB_COMPR RB_RECOMP RB_TODO
 *       BD_COUNT" to OUT, in bytes ("?" for what this backend lacks): the
 *       backend memory, mm_stat's mem_used_total, orig_data_size and
 *       compr_data_size, SWAPDEV's used bytes in /proc/swaps, SwapCached
 *       of /proc/meminfo, the four columns of a zramfuse mount's
 *       .zram/readback_stat (-R) and the first of its .zram/bd_stat (-W),
 *       page counts times 4096, until SIGTERM or SIGINT.  Then print the
 *       peaks of the first four and of BD_COUNT (peak_*) and the other
 *       columns of the row where the backend memory peaked (the last such
 *       row: at_peak_*).
 *   suiteprobe seed -c CGROUP -s MIB [-S SEED] [-t SECS] [-w PCT] [BACKEND]
 *       The seed scenario: fork a process into the memory cgroup CGROUP
 *       that fills MIB MiB with pagemix pages (and with -w then rewrites
 *       PCT% of them at random, each swapped in and out again), wait
 *       until it is done and its swapped pages have settled, SIGKILL it,
 *       and time waitpid() and the return of the backend's memory (see
 *       poll_back()).
 *   suiteprobe corpus -s MIB [-S SEED] DEV
 *       Write MIB MiB of pagemix pages (seed SEED, 1) to the block device
 *       DEV from offset 0 with O_DIRECT, in 1 MiB writes.
 *   suiteprobe discard [-t SECS] [BACKEND] DEV
 *       Discard the whole of DEV in one BLKDISCARD; time it and the
 *       return of the backend's memory.
 *
 * BACKEND says where the backend's memory is read:
 *   -p PID     the zramfuse daemon (its VmRSS), with -b BASE its RSS in
 *              bytes when idle (what "back" means for it);
 *   -m MMSTAT  an mm_stat file (zram's or .zram/'s): orig_data_size and
 *              mem_used_total;
 *   -f FILE    a tmpfs file: its allocated bytes stand for mem_used_total.
 * The "backend memory" column is the daemon's RSS when -p is given, else
 * mem_used_total (zram) or the file's allocated bytes (tmpfs).
 * With SUITEPROBE_SERIES=FILE in the environment, seed and discard also
 * write each poll of the memory's return to FILE, one "MS MEM_USED RSS"
 * line (bytes, -1 where the backend has none): how it comes back, not
 * only when.
 *
 * Results are printed as "METRIC VALUE UNIT" lines, "NA" for a value not
 * reached; the suite records them as they are.  Exit status 0, 1 when the
 * run failed, 2 bad usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pagemix.h"

#define MIB (1024.0 * 1024.0)

/* Memory-back: below this share of the value before the kill/discard. */
#define BACK_SHARE 0.05

struct opts {
	pid_t pid;		/* -p: the daemon, 0 none */
	long long base;		/* -b: its idle RSS, bytes; -1 unknown */
	int mm_fd;		/* -m: mm_stat, -1 none */
	int file_fd;		/* -f: tmpfs file, -1 none */
	const char *swapdev;	/* -d */
	int rb_fd;		/* -R: .zram/readback_stat, -1 none */
	int bd_fd;		/* -W: .zram/bd_stat, -1 none */
	const char *cgroup;	/* -c */
	unsigned interval_ms;	/* -i */
	uint64_t mib;		/* -s */
	uint64_t seed;		/* -S */
	unsigned timeout_s;	/* -t */
	unsigned churn;		/* -w: seed's rewrites, % of the pages */
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec t = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};

	nanosleep(&t, NULL);
}

/* The number after @key in /proc/@pid/status, in kB; -1 if none. */
static long long proc_status_kb(pid_t pid, const char *key)
{
	char path[64], buf[4096];
	int fd;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static long long rss_bytes(pid_t pid)
{
	long long kb = proc_status_kb(pid, "VmRSS:");

	return kb < 0 ? -1 : kb * 1024;
}

/*
 * The first @n numbers of the file @fd, made afresh by a read at offset 0
 * (sysfs, .zram/ and /proc all), into @v; 0, or -1 when fewer were read.
 */
static int read_nums(int fd, long long *v, int n)
{
	char buf[512], *p = buf, *end;
	ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);

	if (len <= 0)
		return -1;
	buf[len] = 0;
	for (int k = 0; k < n; k++, p = end) {
		v[k] = strtoll(p, &end, 10);
		if (end == p)
			return -1;
	}
	return 0;
}

/* orig_data_size and mem_used_total from an mm_stat file (sysfs or
 * .zram/), and compr_data_size if @compr is not NULL. */
static int mm_read3(int fd, long long *orig, long long *compr, long long *used)
{
	long long v[3];

	if (read_nums(fd, v, 3))
		return -1;
	*orig = v[0];
	if (compr)
		*compr = v[1];
	*used = v[2];
	return 0;
}

static int mm_read(int fd, long long *orig, long long *used)
{
	return mm_read3(fd, orig, NULL, used);
}

/* The store's memory: mem_used_total, or the tmpfs file's allocation. */
static long long mem_used(const struct opts *o)
{
	long long orig, used;
	struct stat st;

	if (o->mm_fd >= 0)
		return mm_read(o->mm_fd, &orig, &used) ? -1 : used;
	if (o->file_fd >= 0 && fstat(o->file_fd, &st) == 0)
		return (long long)st.st_blocks * 512;
	return -1;
}

static long long orig_bytes(const struct opts *o)
{
	long long orig, used;

	return o->mm_fd >= 0 && !mm_read(o->mm_fd, &orig, &used) ? orig : -1;
}

static long long backend_bytes(const struct opts *o)
{
	return o->pid ? rss_bytes(o->pid) : mem_used(o);
}

/* Used bytes of swap device @dev in /proc/swaps; -1 if it is not there. */
static long long swap_used(const char *dev)
{
	FILE *f = fopen("/proc/swaps", "re");
	char name[256], type[32];
	long long size, used = -1, u;
	int prio;

	if (!f)
		return -1;
	if (fscanf(f, "%*[^\n]\n") < 0) {
		fclose(f);
		return -1;
	}
	while (fscanf(f, "%255s %31s %lld %lld %d", name, type, &size, &u,
		      &prio) == 5)
		if (strcmp(name, dev) == 0)
			used = u * 1024;
	fclose(f);
	return used;
}

static long long compr_bytes(const struct opts *o)
{
	long long orig, compr, used;

	return o->mm_fd >= 0 && !mm_read3(o->mm_fd, &orig, &compr, &used) ?
		compr : -1;
}

/* SwapCached of /proc/meminfo (@fd), in bytes; -1 if not found. */
static long long swap_cached(int fd)
{
	char buf[4096], *p;
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "\nSwapCached:");
	return p ? strtoll(p + strlen("\nSwapCached:"), NULL, 10) * 1024 : -1;
}

static void put_mib(const char *metric, long long bytes)
{
	if (bytes < 0)
		printf("%s NA MiB\n", metric);
	else
		printf("%s %.1f MiB\n", metric, (double)bytes / MIB);
}

static void put_ms(const char *metric, double secs)
{
	if (secs < 0)
		printf("%s NA ms\n", metric);
	else
		printf("%s %.2f ms\n", metric, secs * 1000);
}

static void fput_bytes(FILE *f, long long v)
{
	if (v < 0)
		fputs(" ?", f);
	else
		fprintf(f, " %lld", v);
}

static long long max_ll(long long a, long long b)
{
	return a > b ? a : b;
}

/* The columns of a sample after SECS; the first four also as peaks. */
enum {
	S_BACKEND, S_USED, S_ORIG, S_SWAP, S_COMPR, S_CACHED,
	S_RB_PAGES, S_RB_COMPR, S_RB_RECOMP, S_RB_TODO, S_BD_COUNT, S_COLS
};

static const char *const at_peak_name[S_COLS] = {
	"at_peak_backend_mib", "at_peak_mem_used_mib", "at_peak_orig_mib",
	"at_peak_swap_mib", "at_peak_compr_mib", "at_peak_swapcached_mib",
	"at_peak_readback_mib", "at_peak_readback_compr_mib",
	"at_peak_readback_recomp_mib", "at_peak_readback_todo_mib",
	"at_peak_bd_count_mib",
};

static void sample_row(const struct opts *o, int meminfo_fd, long long *v)
{
	long long rb[4], bd;
	int have_rb = o->rb_fd >= 0 && !read_nums(o->rb_fd, rb, 4);
	int have_bd = o->bd_fd >= 0 && !read_nums(o->bd_fd, &bd, 1);

	v[S_BACKEND] = backend_bytes(o);
	v[S_USED] = mem_used(o);
	v[S_ORIG] = orig_bytes(o);
	v[S_SWAP] = o->swapdev ? swap_used(o->swapdev) : -1;
	v[S_COMPR] = compr_bytes(o);
	v[S_CACHED] = swap_cached(meminfo_fd);
	/* pages, but for readback_compr (bytes) */
	v[S_RB_PAGES] = have_rb ? rb[0] * PAGEMIX_PAGE : -1;
	v[S_RB_COMPR] = have_rb ? rb[1] : -1;
	v[S_RB_RECOMP] = have_rb ? rb[2] * PAGEMIX_PAGE : -1;
	v[S_RB_TODO] = have_rb ? rb[3] * PAGEMIX_PAGE : -1;
	v[S_BD_COUNT] = have_bd ? bd * PAGEMIX_PAGE : -1;
}

static int cmd_sample(const struct opts *o, const char *out)
{
	FILE *f = fopen(out, "we");
	int meminfo_fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	long long pk[4] = { -1, -1, -1, -1 }, pk_bd = -1, at[S_COLS];
	double t0 = now();

	if (!f) {
		perror(out);
		return 1;
	}
	for (int k = 0; k < S_COLS; k++)
		at[k] = -1;
	while (!stop) {
		long long v[S_COLS];

		sample_row(o, meminfo_fd, v);
		fprintf(f, "%.3f", now() - t0);
		for (int k = 0; k < S_COLS; k++)
			fput_bytes(f, v[k]);
		if (v[S_BACKEND] >= 0 && v[S_BACKEND] >= at[S_BACKEND])
			memcpy(at, v, sizeof(at));
		for (int k = 0; k < 4; k++)
			pk[k] = max_ll(pk[k], v[k]);
		pk_bd = max_ll(pk_bd, v[S_BD_COUNT]);
		fputc('\n', f);
		fflush(f);
		sleep_ms(o->interval_ms);
	}
	fclose(f);
	if (meminfo_fd >= 0)
		close(meminfo_fd);
	put_mib("peak_backend_mib", pk[0]);
	put_mib("peak_mem_used_mib", pk[1]);
	put_mib("peak_orig_mib", pk[2]);
	put_mib("peak_swap_mib", pk[3]);
	if (o->bd_fd >= 0)
		put_mib("peak_bd_count_mib", pk_bd);
	/* the backend's memory at its peak is peak_backend_mib already */
	for (int k = S_USED; k < S_COLS; k++)
		if ((k < S_RB_PAGES || o->rb_fd >= 0) &&
		    (k != S_BD_COUNT || o->bd_fd >= 0))
			put_mib(at_peak_name[k], at[k]);
	return 0;
}

/*
 * Poll every millisecond, for at most @o->timeout_s seconds from @t0,
 * until mem_used_total is below BACK_SHARE of @mem_before and, for a
 * daemon, its RSS is within BACK_SHARE of (@rss_before - its idle RSS)
 * of that idle RSS.  Print the times from @t0, "NA" for one not reached,
 * and what was left at the end.
 */
static void poll_back(const struct opts *o, double t0, long long mem_before,
		      long long rss_before)
{
	double mem_t = -1, mem5_t = -1, rss_t = -1, rss5_t = -1;
	double end = t0 + o->timeout_s;
	bool rss = o->pid && o->base >= 0 && rss_before >= 0;
	long long rss_goal = rss ? o->base + (long long)(BACK_SHARE *
				(double)max_ll(rss_before - o->base, 0)) : 0;
	long long m = -1, r = -1;
	/* SUITEPROBE_SERIES (see the top of this file) */
	const char *series = getenv("SUITEPROBE_SERIES");
	FILE *sf = series ? fopen(series, "we") : NULL;

	for (;;) {
		double t = now();

		m = mem_used(o);
		if (mem_t < 0 && m >= 0 &&
		    (double)m <= BACK_SHARE * (double)mem_before)
			mem_t = t - t0;
		if (mem5_t < 0 && m >= 0 && m * 5 <= mem_before)
			mem5_t = t - t0;
		if (rss) {
			r = rss_bytes(o->pid);
			if (rss_t < 0 && r >= 0 && r <= rss_goal)
				rss_t = t - t0;
			/* issue 19's measure: below a fifth of what it was */
			if (rss5_t < 0 && r >= 0 && r * 5 <= rss_before)
				rss5_t = t - t0;
		}
		if (sf)
			fprintf(sf, "%.3f %lld %lld\n", (t - t0) * 1000, m, r);
		if ((mem_t >= 0 && (!rss || (rss_t >= 0 && rss5_t >= 0))) || t > end)
			break;
		sleep_ms(1);
	}
	if (sf)
		fclose(sf);
	put_ms("mem_back_ms", mem_t);
	put_ms("mem_fifth_ms", mem5_t);
	put_mib("mem_left_mib", m);
	if (rss) {
		put_ms("rss_back_ms", rss_t);
		put_ms("rss_fifth_ms", rss5_t);
		put_mib("rss_left_mib", r - o->base);
	}
}

/* The seed scenario's process: join @cg, fill @mib MiB, tell @fd, wait. */
static void hog(const struct opts *o, const struct pagemix *mix, int fd)
{
	size_t len = (size_t)o->mib << 20;
	char path[4096], pid[32];
	unsigned char *mem;
	int cfd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(path, sizeof(path), "%s/cgroup.procs", o->cgroup);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	cfd = open(path, O_WRONLY | O_CLOEXEC);
	if (cfd < 0 || write(cfd, pid, strlen(pid)) < 0) {
		perror(path);
		_exit(3);
	}
	close(cfd);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("suiteprobe: mmap");
		_exit(3);
	}
	madvise(mem, len, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < len / PAGEMIX_PAGE; i++)
		pagemix_fill(mix, mem + i * PAGEMIX_PAGE, i, 0);
	/*
	 * -w: a program that went on working - pages swapped in and out
	 * again, at random, so that swap holds slots freed with the pages
	 * read back (their clusters not yet free) and copies in the swap
	 * cache, as after a real program's life rather than a single fill.
	 */
	if (o->churn) {
		uint64_t x = o->seed * 0x9E3779B97F4A7C15ull + 1;
		size_t n = len / PAGEMIX_PAGE;

		for (size_t k = 0; k < n * o->churn / 100; k++) {
			size_t i;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			i = (size_t)(x % n);
			pagemix_fill(mix, mem + i * PAGEMIX_PAGE, i, 1 + k % 3);
		}
	}
	if (write(fd, "x", 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

/*
 * Wait until the process @child's swapped-out total and the store's
 * memory have both changed by less than 0.5% over the last second (the
 * last writes reached the backend), for at most a minute.
 */
static void settle(const struct opts *o, pid_t child)
{
	long long hist[2][10] = { { 0 } };

	for (unsigned k = 0; k < 600; k++) {
		long long v[2] = { proc_status_kb(child, "VmSwap:"), mem_used(o) };
		bool still = k >= 10;

		for (int j = 0; j < 2; j++) {
			long long old = hist[j][k % 10];

			if (v[j] < 0 || (double)llabs(v[j] - old) >
					0.005 * (double)max_ll(v[j], 1))
				still = false;
			hist[j][k % 10] = v[j];
		}
		if (still)
			return;
		sleep_ms(100);
	}
	fprintf(stderr, "suiteprobe: swap did not settle in 60 s\n");
}

static int cmd_seed(const struct opts *o)
{
	struct pagemix mix;
	struct pollfd pfd;
	int p[2], err, st;
	pid_t child;
	long long swapped, mem_before, rss_before = -1;
	double t0, t1;
	char c;

	if (!o->cgroup || !o->mib)
		return 2;
	err = pagemix_init(&mix, o->seed, PAGEMIX_LIB_PAGES, PAGEMIX_TEXT_BYTES);
	if (err) {
		fprintf(stderr, "suiteprobe: no real pages: %s\n", strerror(-err));
		return 1;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(p[0]);
		hog(o, &mix, p[1]);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pfd, 1, 900 * 1000) != 1 || read(p[0], &c, 1) != 1) {
		fprintf(stderr, "suiteprobe: the process did not fill its memory\n");
		kill(child, SIGKILL);
		waitpid(child, &st, 0);
		return 1;
	}
	settle(o, child);
	swapped = proc_status_kb(child, "VmSwap:");
	mem_before = mem_used(o);
	if (o->pid)
		rss_before = rss_bytes(o->pid);
	t0 = now();
	kill(child, SIGKILL);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	t1 = now();
	put_mib("swapped_mib", swapped < 0 ? -1 : swapped * 1024);
	put_mib("mem_before_mib", mem_before);
	if (o->pid)
		put_mib("rss_before_mib", rss_before);
	put_ms("exit_ms", t1 - t0);
	poll_back(o, t0, mem_before, rss_before);
	pagemix_free(&mix);
	return 0;
}

static int cmd_corpus(const struct opts *o, const char *dev)
{
	const size_t chunk = 1u << 20;
	unsigned long kinds[PAGEMIX_KINDS] = { 0 };
	struct pagemix mix;
	unsigned char *buf;
	uint64_t page = 0;
	int fd, err;

	if (!o->mib)
		return 2;
	err = pagemix_init(&mix, o->seed, PAGEMIX_LIB_PAGES, PAGEMIX_TEXT_BYTES);
	if (err) {
		fprintf(stderr, "suiteprobe: no real pages: %s\n", strerror(-err));
		return 1;
	}
	fd = open(dev, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || posix_memalign((void **)&buf, PAGEMIX_PAGE, chunk)) {
		perror(dev);
		return 1;
	}
	for (uint64_t off = 0; off < (o->mib << 20); off += chunk) {
		for (size_t k = 0; k < chunk; k += PAGEMIX_PAGE)
			kinds[pagemix_fill(&mix, buf + k, page++, 0)]++;
		if (pwrite(fd, buf, chunk, (off_t)off) != (ssize_t)chunk) {
			perror(dev);
			return 1;
		}
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		perror(dev);
		return 1;
	}
	fprintf(stderr, "suiteprobe: corpus of %" PRIu64 " pages on %s: %lu zero,"
		" %lu text, %lu library, %lu random; library pages from %u"
		" files, text from %u files\n", page, dev, kinds[PAGEMIX_ZERO],
		kinds[PAGEMIX_TEXT], kinds[PAGEMIX_LIB], kinds[PAGEMIX_RANDOM],
		mix.nlib_files, mix.ntext_files);
	free(buf);
	pagemix_free(&mix);
	return 0;
}

static int cmd_discard(const struct opts *o, const char *dev)
{
	uint64_t range[2] = { 0, 0 };
	long long mem_before, rss_before = -1;
	double t0, t1;
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &range[1]) < 0) {
		perror(dev);
		return 1;
	}
	mem_before = mem_used(o);
	if (o->pid)
		rss_before = rss_bytes(o->pid);
	t0 = now();
	if (ioctl(fd, BLKDISCARD, range) < 0) {
		perror("suiteprobe: BLKDISCARD");
		return 1;
	}
	t1 = now();
	close(fd);
	put_mib("whole_mem_before_mib", mem_before);
	put_ms("whole_ms", t1 - t0);
	poll_back(o, t0, mem_before, rss_before);
	return 0;
}

/* ---- latency: one swap-in, one swap-out at a time ------------------------ */

/* A trace marker (tracefs trace_marker, -M), or nothing. */
static int marker_fd = -1;

static void mark(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void mark(const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	if (marker_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(marker_fd, buf, (size_t)n) < 0)
		marker_fd = -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* "NAME_{n,mean,p50,p90,p99,max}" of @v (@n values, seconds) in us. */
static void put_dist(const char *name, double *v, size_t n)
{
	static const struct { const char *tag; double q; } qs[] = {
		{ "p50", 0.50 }, { "p90", 0.90 }, { "p99", 0.99 },
	};
	double sum = 0;

	printf("%s_n %zu count\n", name, n);
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t k = 0; k < n; k++)
		sum += v[k];
	printf("%s_mean_us %.1f us\n", name, sum / (double)n * 1e6);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
		printf("%s_%s_us %.1f us\n", name, qs[k].tag,
		       v[(size_t)(qs[k].q * (double)(n - 1))] * 1e6);
	printf("%s_max_us %.1f us\n", name, v[n - 1] * 1e6);
}

/* Write @val to the cgroup file @name of o->cgroup; 0 or -1. */
static int cg_write(const struct opts *o, const char *name, const char *val)
{
	char path[4096];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", o->cgroup, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0) {
		fprintf(stderr, "suiteprobe: %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * Push every page of the region out and out of the swap cache too: a
 * page that a loop device wrote stays in the swap cache until reclaim
 * comes by again, and a fault on it would be a minor one.  So the
 * cgroup's limit is lowered below what the region could hold (reclaim
 * frees the written pages' swap cache copies) and lifted again, so that
 * the timed faults do no reclaim.
 */
static int flush_out(const struct opts *o, unsigned char *mem, size_t len)
{
	char v[32];

	if (madvise(mem, len, MADV_PAGEOUT) < 0) {
		perror("suiteprobe: MADV_PAGEOUT");
		return -1;
	}
	for (int k = 0; k < 3; k++) {
		sleep_ms(200);
		snprintf(v, sizeof(v), "%d\n", 8 << 20);
		if (cg_write(o, "memory.limit_in_bytes", v))
			return -1;
		if (cg_write(o, "memory.limit_in_bytes", "-1\n"))
			return -1;
	}
	return 0;
}

/* Pages of [mem, mem + len) not resident, neither mapped nor in the swap cache. */
static size_t out_pages(unsigned char *mem, size_t len, unsigned char *vec)
{
	size_t n = 0;

	if (mincore(mem, len, vec) < 0) {
		perror("suiteprobe: mincore");
		return 0;
	}
	for (size_t k = 0; k < len / PAGEMIX_PAGE; k++)
		n += !(vec[k] & 1);
	return n;
}

/*
 * One swap-in at a time, then one swap-out at a time.  The process joins
 * the memory cgroup -c (unlimited but for the flushes above), fills -s MiB
 * with pagemix pages, pushes them out (MADV_PAGEOUT) and out of the swap
 * cache, then reads -n random pages that mincore() says are out, timing
 * each first touch (a major fault: with vm.page-cluster=0 one page is
 * read) and checking the page against its content; then, for -n pages,
 * rewrites a page and times madvise(MADV_PAGEOUT) of that page alone,
 * 2 ms apart (a loop device's write completes after the call returns:
 * the trace has its end), and at the end checks every rewritten page
 * after one more flush.  With -M each timed step is bracketed by trace
 * markers ("zf-si N" / "zf-si-end N", "zf-so N" / "zf-so-end N").
 */
static int cmd_latency(const struct opts *o, unsigned count, const char *marker)
{
	size_t len = (size_t)o->mib << 20, npages = len / PAGEMIX_PAGE;
	unsigned char *mem, *vec, *want;
	double *si, *sio, *so;
	uint64_t *order, rng = o->seed * 0x9E3779B97F4A7C15ull + 1;
	size_t nsi = 0, nsio = 0, nso = 0, out, bad = 0;
	struct pagemix mix;
	char pid[32];
	int err;

	if (marker) {
		marker_fd = open(marker, O_WRONLY | O_CLOEXEC);
		if (marker_fd < 0) {
			perror(marker);
			return 1;
		}
	}
	err = pagemix_init(&mix, o->seed, PAGEMIX_LIB_PAGES, PAGEMIX_TEXT_BYTES);
	if (err) {
		fprintf(stderr, "suiteprobe: no real pages: %s\n", strerror(-err));
		return 1;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (cg_write(o, "cgroup.procs", pid) || cg_write(o, "memory.limit_in_bytes", "-1\n"))
		return 1;
	si = calloc(count, sizeof(*si));
	sio = calloc(count, sizeof(*sio));
	so = calloc(count, sizeof(*so));
	order = calloc(npages, sizeof(*order));
	vec = calloc(npages, 1);
	want = aligned_alloc(PAGEMIX_PAGE, PAGEMIX_PAGE);
	if (!si || !sio || !so || !order || !vec || !want) {
		perror("suiteprobe: memory");
		return 1;
	}
	/* what the timed steps write to must not fault: locked now, not mem */
	if (mlockall(MCL_CURRENT) < 0)
		perror("suiteprobe: mlockall (timings may include minor faults)");
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("suiteprobe: mmap");
		return 1;
	}
	madvise(mem, len, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < npages; i++)
		pagemix_fill(&mix, mem + i * PAGEMIX_PAGE, i, 0);
	if (flush_out(o, mem, len))
		return 1;
	out = out_pages(mem, len, vec);
	fprintf(stderr, "suiteprobe: %zu of %zu pages out before the swap-ins\n",
		out, npages);
	/* a random order of the pages (Fisher-Yates) */
	for (size_t i = 0; i < npages; i++)
		order[i] = i;
	for (size_t i = npages - 1; i > 0; i--) {
		size_t j;
		uint64_t t;

		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		j = (size_t)(rng % (i + 1));
		t = order[i], order[i] = order[j], order[j] = t;
	}
	for (size_t i = 0; i < npages && nsi < count; i++) {
		size_t p = order[i];
		volatile unsigned char *a = mem + p * PAGEMIX_PAGE;
		enum pagemix_kind kind;
		double t0, t1;

		/* out still? (a readahead may have brought it in) */
		if (mincore(mem + p * PAGEMIX_PAGE, PAGEMIX_PAGE, vec) < 0 || (vec[0] & 1))
			continue;
		kind = pagemix_fill(&mix, want, p, 0);
		mark("zf-si %zu", nsi);
		t0 = now();
		(void)a[0];
		t1 = now();
		mark("zf-si-end %zu", nsi);
		si[nsi++] = t1 - t0;
		/* swap keeps a zero page as a bit: no I/O, on every backend */
		if (kind != PAGEMIX_ZERO)
			sio[nsio++] = t1 - t0;
		bad += memcmp((const void *)a, want, PAGEMIX_PAGE) != 0;
	}
	/* swap-outs: pages just read (resident), rewritten, pushed out alone */
	for (size_t i = 0; i < npages && nso < count; i++) {
		size_t p = order[i];
		unsigned char *a = mem + p * PAGEMIX_PAGE;
		double t0, t1;

		if (mincore(a, PAGEMIX_PAGE, vec) < 0 || !(vec[0] & 1))
			continue;
		pagemix_fill(&mix, a, p, 1);
		mark("zf-so %zu", nso);
		t0 = now();
		madvise(a, PAGEMIX_PAGE, MADV_PAGEOUT);
		t1 = now();
		mark("zf-so-end %zu", nso);
		so[nso++] = t1 - t0;
		order[i] |= 1ull << 63;		/* rewritten: generation 1 */
		sleep_ms(2);
	}
	/* every page touched: back and checked */
	if (flush_out(o, mem, len))
		return 1;
	for (size_t i = 0; i < npages; i++) {
		size_t p = (size_t)(order[i] & ~(1ull << 63));

		pagemix_fill(&mix, want, p, order[i] >> 63);
		bad += memcmp(mem + p * PAGEMIX_PAGE, want, PAGEMIX_PAGE) != 0;
	}
	put_dist("swapin", si, nsi);
	put_dist("swapin_io", sio, nsio);
	put_dist("pageout_call", so, nso);
	printf("pages_checked %zu count\n", npages);
	printf("pages_bad %zu count\n", bad);
	pagemix_free(&mix);
	return bad ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: suiteprobe sample [-i MS] [BACKEND] [-d SWAPDEV] [-R READBACK_STAT]\n"
		"                         [-W BD_STAT] OUT\n"
		"       suiteprobe seed -c CGROUP -s MIB [-S SEED] [-t SECS] [-w PCT] [BACKEND]\n"
		"       suiteprobe corpus -s MIB [-S SEED] DEV\n"
		"       suiteprobe discard [-t SECS] [BACKEND] DEV\n"
		"       suiteprobe latency -c CGROUP -s MIB [-n COUNT] [-S SEED] [-M TRACE_MARKER]\n"
		"BACKEND: [-p DAEMON_PID [-b IDLE_RSS_BYTES]] [-m MM_STAT] [-f TMPFS_FILE]\n");
	exit(2);
}

static int open_or_die(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		perror(path);
		exit(2);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.base = -1, .mm_fd = -1, .file_fd = -1, .rb_fd = -1, .bd_fd = -1,
		.interval_ms = 200,
		.seed = 1, .timeout_s = 30,
	};
	struct sigaction sa = { .sa_handler = on_stop };
	const char *cmd, *marker = NULL;
	unsigned count = 2000;
	int c;

	if (argc < 2)
		usage();
	cmd = argv[1];
	argv++;
	argc--;
	while ((c = getopt(argc, argv, "p:b:m:f:d:R:W:c:i:s:S:t:n:M:w:")) != -1) {
		switch (c) {
		case 'p': o.pid = (pid_t)strtol(optarg, NULL, 10); break;
		case 'b': o.base = strtoll(optarg, NULL, 10); break;
		case 'm': o.mm_fd = open_or_die(optarg); break;
		case 'f': o.file_fd = open_or_die(optarg); break;
		case 'd': o.swapdev = optarg; break;
		case 'R': o.rb_fd = open_or_die(optarg); break;
		case 'W': o.bd_fd = open_or_die(optarg); break;
		case 'c': o.cgroup = optarg; break;
		case 'i': o.interval_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': o.mib = strtoull(optarg, NULL, 10); break;
		case 'S': o.seed = strtoull(optarg, NULL, 0); break;
		case 't': o.timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'M': marker = optarg; break;
		case 'w': o.churn = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "sample") == 0 && optind == argc - 1) {
		/* no SA_RESTART: a signal ends the sleep at once */
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		return cmd_sample(&o, argv[optind]);
	}
	if (strcmp(cmd, "seed") == 0 && optind == argc)
		return o.cgroup && o.mib ? cmd_seed(&o) : (usage(), 2);
	if (strcmp(cmd, "corpus") == 0 && optind == argc - 1 && o.mib)
		return cmd_corpus(&o, argv[optind]);
	if (strcmp(cmd, "discard") == 0 && optind == argc - 1)
		return cmd_discard(&o, argv[optind]);
	if (strcmp(cmd, "latency") == 0 && optind == argc && o.cgroup && o.mib && count)
		return cmd_latency(&o, count, marker);
	usage();
	return 2;
}
