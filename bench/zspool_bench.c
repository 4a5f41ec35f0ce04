/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zspool_bench: the allocator on a realistic size distribution, against
 * glibc malloc on the same sizes.
 *
 * Sizes are the LZ4_compress_default() sizes of the 4 KiB pages of real
 * files on this machine: shared libraries and text (headers, docs).  Pages
 * that are same-filled (zero pages included) are counted and skipped, as
 * the store keeps them without an allocation; pages that compress worse
 * than 3/4 of a page are stored raw (4096 bytes), as are the share of
 * random pages added with -R.  N sizes are drawn from that set with a seed.
 *
 * Each run: (1) throughput: 1..T threads each allocate their share and then
 * free it in random order; (2) overhead: one thread fills a pool, writes
 * every object, frees a random half and compacts; overhead is
 * pages_used * 4096 / live bytes after the fill, after the frees and after
 * compaction, also with the handle table and descriptors counted; (3)
 * the same sizes with malloc, overhead from the RSS delta (/proc/self/statm)
 * after malloc_trim(0).  Medians of -r runs go out as a markdown table.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zspool.h"
#include "zspool_test.h"

#define PAGE 4096u
#define RAW_THRESHOLD (PAGE * 3 / 4)
#define MAX_THREADS 16
#define MAX_RUNS 64

static const char *default_paths[] = {
	/* binaries */
	"/usr/lib/x86_64-linux-gnu/libc.so.6",
	"/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
	"/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
	"/usr/lib/x86_64-linux-gnu/libm.so.6",
	"/usr/lib/x86_64-linux-gnu/libfuse3.so.3",
	"/usr/lib/x86_64-linux-gnu/libzstd.so.1",
	"/usr/bin/bash",
	/* text */
	"/usr/include",
	"/usr/share/doc",
	"/usr/share/common-licenses",
};

struct sizes {
	unsigned *v;
	size_t n, cap;
	size_t pages, same_filled, raw;
};

static struct {
	size_t nobj;
	uint64_t seed;
	unsigned threads, runs;
	double random_share, zero_share;
	size_t max_pages_per_source;
} opt = { 200000, 1, 2, 5, 0.05, 0.10, 20000 };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the size distribution ------------------------------------------- */

static void sizes_add(struct sizes *s, unsigned size)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v) {
			perror("zspool_bench: realloc");
			exit(1);
		}
	}
	s->v[s->n++] = size;
}

static bool same_filled(const unsigned char *p)
{
	uint64_t w0, w;

	memcpy(&w0, p, 8);
	for (unsigned i = 8; i < PAGE; i += 8) {
		memcpy(&w, p + i, 8);
		if (w != w0)
			return false;
	}
	return true;
}

static void add_page(struct sizes *s, const unsigned char *page)
{
	static char out[LZ4_COMPRESSBOUND(PAGE)];
	int c;

	s->pages++;
	if (same_filled(page)) {
		s->same_filled++;
		return;
	}
	c = LZ4_compress_default((const char *)page, out, PAGE, sizeof(out));
	if (c <= 0 || (unsigned)c > RAW_THRESHOLD) {
		s->raw++;
		c = PAGE;
	}
	sizes_add(s, c);
}

/* Add the pages of @path (a file, or a directory walked recursively). */
static void add_path(struct sizes *s, const char *path, size_t *budget)
{
	unsigned char page[PAGE];
	struct stat st;

	if (!*budget || lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		if (!d)
			return;
		while (*budget && (e = readdir(d))) {
			char sub[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			add_path(s, sub, budget);
		}
		closedir(d);
		return;
	}
	if (!S_ISREG(st.st_mode))
		return;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	/* Files are read page by page; a short tail is zero-padded. */
	for (;;) {
		ssize_t r = read(fd, page, PAGE);

		if (r <= 0 || !*budget)
			break;
		memset(page + r, 0, PAGE - r);
		add_page(s, page);
		(*budget)--;
	}
	close(fd);
}

static void build_sizes(struct sizes *src, char **paths, int npaths)
{
	for (int i = 0; i < npaths; i++) {
		size_t budget = opt.max_pages_per_source;

		add_path(src, paths[i], &budget);
	}
	if (!src->n) {
		fprintf(stderr, "zspool_bench: no readable pages in the sources\n");
		exit(1);
	}
}

/*
 * Draw the workload: N stored sizes from the sources plus a share of
 * random pages; zero pages drawn meanwhile are only counted (the store
 * keeps them as same-filled, without an allocation).
 */
static unsigned *draw(const struct sizes *src, uint64_t seed, size_t *random_pages,
		      size_t *zero_pages)
{
	unsigned *v = malloc(opt.nobj * sizeof(*v));
	uint64_t rng = seed;

	if (!v) {
		perror("zspool_bench: malloc");
		exit(1);
	}
	*random_pages = *zero_pages = 0;
	for (size_t i = 0; i < opt.nobj; i++) {
		uint64_t r = tap_rand(&rng);
		double u = (double)(r >> 11) / (1ull << 53);

		if (u < opt.zero_share) {
			(*zero_pages)++;
			i--;
		} else if (u < opt.zero_share + opt.random_share) {
			v[i] = PAGE;	/* random data does not compress */
			(*random_pages)++;
		} else {
			v[i] = src->v[tap_rand(&rng) % src->n];
		}
	}
	return v;
}

static void shuffle(size_t *idx, size_t n, uint64_t seed)
{
	uint64_t rng = seed;

	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = tap_rand(&rng) % i, t = idx[i - 1];

		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

/* ---- allocators under test ------------------------------------------- */

struct ops {
	const char *name;
	int (*alloc)(void *ctx, size_t size, uintptr_t *out);
	void (*free)(void *ctx, uintptr_t h);
};

static int zs_alloc(void *ctx, size_t size, uintptr_t *out)
{
	return zspool_alloc(ctx, size, 0, out);
}

static void zs_free(void *ctx, uintptr_t h)
{
	zspool_free(ctx, h);
}

static int m_alloc(void *ctx, size_t size, uintptr_t *out)
{
	void *p = malloc(size);

	*out = (uintptr_t)p;
	return p ? 0 : -ENOMEM;
}

static void m_free(void *ctx, uintptr_t h)
{
	free((void *)h);
}

static const struct ops zs_ops = { "zspool", zs_alloc, zs_free };
static const struct ops malloc_ops = { "glibc malloc", m_alloc, m_free };

struct tput_arg {
	const struct ops *ops;
	void *ctx;
	const unsigned *size;
	uintptr_t *h;
	size_t *order;		/* free order, a permutation of 0..n-1 */
	size_t n;
	pthread_barrier_t *bar;
	bool batch;		/* free through free_batch, 256 at a time */
	double t_alloc, t_free;
};

static void *tput_thread(void *p)
{
	struct tput_arg *a = p;
	double t0;

	pthread_barrier_wait(a->bar);
	t0 = now();
	for (size_t i = 0; i < a->n; i++) {
		if (a->ops->alloc(a->ctx, a->size[i], &a->h[i])) {
			fprintf(stderr, "zspool_bench: %s: allocation failed\n",
				a->ops->name);
			exit(1);
		}
	}
	a->t_alloc = now() - t0;
	pthread_barrier_wait(a->bar);
	t0 = now();
	if (a->batch) {
		uintptr_t b[256];

		for (size_t i = 0; i < a->n; i += 256) {
			size_t m = a->n - i < 256 ? a->n - i : 256;

			for (size_t k = 0; k < m; k++)
				b[k] = a->h[a->order[i + k]];
			zspool_free_batch(a->ctx, b, m);
		}
	} else {
		for (size_t i = 0; i < a->n; i++)
			a->ops->free(a->ctx, a->h[a->order[i]]);
	}
	a->t_free = now() - t0;
	return NULL;
}

/* Alloc then free all of @size on @nt threads; ops/s of each phase. */
static void throughput(const struct ops *ops, void *ctx, const unsigned *size,
		       uintptr_t *h, unsigned nt, bool batch,
		       double *alloc_ops, double *free_ops)
{
	struct tput_arg a[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	pthread_barrier_t bar;
	size_t per = opt.nobj / nt;
	double ta = 0, tf = 0;

	pthread_barrier_init(&bar, NULL, nt);
	for (unsigned t = 0; t < nt; t++) {
		a[t] = (struct tput_arg){ ops, ctx, size + t * per, h + t * per,
					  NULL, per, &bar, batch, 0, 0 };
		a[t].order = malloc(per * sizeof(size_t));
		if (!a[t].order)
			exit(1);
		shuffle(a[t].order, per, opt.seed + t);
		if (pthread_create(&th[t], NULL, tput_thread, &a[t])) {
			fprintf(stderr, "zspool_bench: pthread_create failed\n");
			exit(1);
		}
	}
	for (unsigned t = 0; t < nt; t++) {
		pthread_join(th[t], NULL);
		ta = a[t].t_alloc > ta ? a[t].t_alloc : ta;
		tf = a[t].t_free > tf ? a[t].t_free : tf;
		free(a[t].order);
	}
	pthread_barrier_destroy(&bar);
	*alloc_ops = per * nt / ta;
	*free_ops = per * nt / tf;
}

/* ---- one run ---------------------------------------------------------- */

struct result {
	double alloc[MAX_THREADS + 1], free_[MAX_THREADS + 1];	/* zspool */
	double alloc_b[MAX_THREADS + 1], free_b[MAX_THREADS + 1];	/* free_batch */
	double m_alloc[MAX_THREADS + 1], m_free[MAX_THREADS + 1];
	double ovh_fill, ovh_half, ovh_compact, ovh_meta, rss_compact;
	double compact_ms, m_ovh_fill, m_ovh_half, read, map;
	double meta_kib;
	uint64_t pages_compacted;
};

static void run(const unsigned *size, struct result *res, uint64_t live_all,
		uint64_t live_half)
{
	uintptr_t *h = malloc(opt.nobj * sizeof(*h));
	size_t *order = malloc(opt.nobj * sizeof(*order));
	static unsigned char buf[PAGE];
	struct zspool_stats st;
	struct zspool *pool;
	long rss0;
	double t0;

	if (!h || !order)
		exit(1);
	memset(buf, 0x5a, sizeof(buf));
	for (unsigned nt = 1; nt <= opt.threads; nt++) {
		if (zspool_create(NULL, &pool)) {
			fprintf(stderr, "zspool_bench: zspool_create failed\n");
			exit(1);
		}
		throughput(&zs_ops, pool, size, h, nt, false, &res->alloc[nt],
			   &res->free_[nt]);
		throughput(&zs_ops, pool, size, h, nt, true, &res->alloc_b[nt],
			   &res->free_b[nt]);
		zspool_destroy(pool);
		throughput(&malloc_ops, NULL, size, h, nt, false,
			   &res->m_alloc[nt], &res->m_free[nt]);
		malloc_trim(0);
	}

	/* Overhead: fill, write, free a random half, compact. */
	zspool_create(NULL, &pool);
	rss0 = zt_rss_kib();
	for (size_t i = 0; i < opt.nobj; i++) {
		if (zspool_alloc(pool, size[i], 0, &h[i]))
			exit(1);
		zspool_write(pool, h[i], buf, size[i]);
	}
	zspool_stats(pool, &st);
	res->ovh_fill = (double)st.pages_used * PAGE / live_all;
	shuffle(order, opt.nobj, opt.seed ^ 0x5555);
	/* Reads in random order: copy out, and map (in place or bounced). */
	{
		static unsigned char out[PAGE], bounce[PAGE];
		unsigned sum = 0;

		t0 = now();
		for (size_t i = 0; i < opt.nobj; i++) {
			size_t k = order[i];

			zspool_read(pool, h[k], out, size[k]);
			sum += out[0];
		}
		res->read = opt.nobj / (now() - t0);
		t0 = now();
		for (size_t i = 0; i < opt.nobj; i++) {
			const unsigned char *p = zspool_map(pool, h[order[i]], bounce);

			sum += p[0];
			zspool_unmap(pool, h[order[i]]);
		}
		res->map = opt.nobj / (now() - t0);
		if (sum == 1)	/* keep the reads */
			putchar(' ');
	}
	for (size_t i = 0; i < opt.nobj / 2; i++)
		zspool_free(pool, h[order[i]]);
	zspool_stats(pool, &st);
	res->ovh_half = (double)st.pages_used * PAGE / live_half;
	t0 = now();
	zspool_compact(pool);
	res->compact_ms = (now() - t0) * 1e3;
	zspool_trim(pool);
	zspool_stats(pool, &st);
	res->ovh_compact = (double)st.pages_used * PAGE / live_half;
	res->ovh_meta = (double)(st.pages_used * PAGE + st.meta_bytes) / live_half;
	res->rss_compact = (double)(zt_rss_kib() - rss0) * 1024 / live_half;
	res->meta_kib = st.meta_bytes / 1024.0;
	res->pages_compacted = st.pages_compacted;
	zspool_destroy(pool);

	/* The same with malloc: RSS after malloc_trim(0). */
	malloc_trim(0);
	rss0 = zt_rss_kib();
	for (size_t i = 0; i < opt.nobj; i++) {
		void *p = malloc(size[i]);

		if (!p)
			exit(1);
		memset(p, 0x5a, size[i]);
		h[i] = (uintptr_t)p;
	}
	malloc_trim(0);
	res->m_ovh_fill = (double)(zt_rss_kib() - rss0) * 1024 / live_all;
	for (size_t i = 0; i < opt.nobj / 2; i++)
		free((void *)h[order[i]]);
	malloc_trim(0);
	res->m_ovh_half = (double)(zt_rss_kib() - rss0) * 1024 / live_half;
	for (size_t i = opt.nobj / 2; i < opt.nobj; i++)
		free((void *)h[order[i]]);
	malloc_trim(0);
	free(h);
	free(order);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of a field over the runs. */
#define MEDIAN(runs, n, field) ({					\
	double v_[MAX_RUNS];						\
	for (unsigned i_ = 0; i_ < (n); i_++)				\
		v_[i_] = (runs)[i_].field;				\
	qsort(v_, (n), sizeof(double), cmp_double);			\
	(n) % 2 ? v_[(n) / 2] : (v_[(n) / 2 - 1] + v_[(n) / 2]) / 2;	\
})

static void usage(void)
{
	fprintf(stderr,
"usage: zspool_bench [-n objects] [-s seed] [-t threads] [-r runs]\n"
"                    [-R random-page-share] [-Z zero-page-share]\n"
"                    [-P pages-per-source] [path...]\n"
"  Sizes are the lz4-compressed sizes of the 4 KiB pages of the given files\n"
"  or directories (default: a few shared libraries, /usr/include and\n"
"  /usr/share/doc).  Prints medians of the runs as a markdown table.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sizes src = { 0 };
	static struct result res[MAX_RUNS];
	uint64_t live_all = 0, live_half = 0;
	size_t random_pages, zero_pages, *order;
	unsigned *size;
	int c;

	while ((c = getopt(argc, argv, "n:s:t:r:R:Z:P:h")) != -1) {
		switch (c) {
		case 'n': opt.nobj = strtoull(optarg, NULL, 0); break;
		case 's': opt.seed = strtoull(optarg, NULL, 0); break;
		case 't': opt.threads = atoi(optarg); break;
		case 'r': opt.runs = atoi(optarg); break;
		case 'R': opt.random_share = atof(optarg); break;
		case 'Z': opt.zero_share = atof(optarg); break;
		case 'P': opt.max_pages_per_source = strtoull(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (opt.nobj < 1000 || opt.threads < 1 || opt.threads > MAX_THREADS ||
	    opt.runs < 1 || opt.runs > MAX_RUNS || opt.random_share < 0 ||
	    opt.zero_share < 0 || opt.random_share + opt.zero_share >= 1)
		usage();
	if (optind < argc)
		build_sizes(&src, argv + optind, argc - optind);
	else
		build_sizes(&src, (char **)default_paths,
			    sizeof(default_paths) / sizeof(default_paths[0]));

	size = draw(&src, opt.seed, &random_pages, &zero_pages);
	order = malloc(opt.nobj * sizeof(*order));
	if (!order)
		return 1;
	shuffle(order, opt.nobj, opt.seed ^ 0x5555);
	for (size_t i = 0; i < opt.nobj; i++) {
		live_all += size[i];
		if (i >= opt.nobj / 2)
			live_half += size[order[i]];
	}
	free(order);

	for (unsigned r = 0; r < opt.runs; r++)
		run(size, &res[r], live_all, live_half);

	unsigned n = opt.runs;

	printf("zspool_bench: %zu objects, mean %.0f bytes (%.1f MiB live); sizes from "
	       "%zu source pages (%zu same-filled skipped, %zu stored raw); "
	       "%zu zero pages drawn and skipped, %zu random pages stored raw; "
	       "seed %" PRIu64 ", medians of %u runs\n\n",
	       opt.nobj, (double)live_all / opt.nobj, live_all / 1048576.0,
	       src.pages, src.same_filled, src.raw, zero_pages, random_pages,
	       opt.seed, n);
	printf("| | zspool | glibc malloc |\n|---|---:|---:|\n");
	for (unsigned t = 1; t <= opt.threads; t++) {
		const char *pl = t > 1 ? "s" : "";

		printf("| alloc, %u thread%s (M ops/s) | %.2f | %.2f |\n", t, pl,
		       MEDIAN(res, n, alloc[t]) / 1e6, MEDIAN(res, n, m_alloc[t]) / 1e6);
		printf("| free, random order, %u thread%s (M ops/s) | %.2f | %.2f |\n",
		       t, pl, MEDIAN(res, n, free_[t]) / 1e6,
		       MEDIAN(res, n, m_free[t]) / 1e6);
		printf("| free_batch of 256, random order, %u thread%s (M ops/s) | "
		       "%.2f | |\n", t, pl, MEDIAN(res, n, free_b[t]) / 1e6);
	}
	/* alloc+free rate: one alloc and one free per object */
	printf("| alloc+free, 1 thread (M ops/s) | %.2f | %.2f |\n",
	       2 / (1 / MEDIAN(res, n, alloc[1]) + 1 / MEDIAN(res, n, free_[1])) / 1e6,
	       2 / (1 / MEDIAN(res, n, m_alloc[1]) + 1 / MEDIAN(res, n, m_free[1])) / 1e6);
	printf("| alloc+free_batch, 1 thread (M ops/s) | %.2f | |\n",
	       2 / (1 / MEDIAN(res, n, alloc_b[1]) + 1 / MEDIAN(res, n, free_b[1])) / 1e6);
	printf("| zspool_read, random order, 1 thread (M ops/s) | %.2f | |\n",
	       MEDIAN(res, n, read) / 1e6);
	printf("| zspool_map + unmap, random order, 1 thread (M ops/s) | %.2f | |\n",
	       MEDIAN(res, n, map) / 1e6);
	printf("| overhead after the fill | %.4f | %.4f |\n",
	       MEDIAN(res, n, ovh_fill), MEDIAN(res, n, m_ovh_fill));
	printf("| overhead after freeing a random half | %.4f | %.4f |\n",
	       MEDIAN(res, n, ovh_half), MEDIAN(res, n, m_ovh_half));
	printf("| overhead after compaction (malloc: after malloc_trim) | %.4f | %.4f |\n",
	       MEDIAN(res, n, ovh_compact), MEDIAN(res, n, m_ovh_half));
	printf("| same, handle table and descriptors included | %.4f | |\n",
	       MEDIAN(res, n, ovh_meta));
	printf("| same, measured as RSS growth | %.4f | %.4f |\n",
	       MEDIAN(res, n, rss_compact), MEDIAN(res, n, m_ovh_half));
	printf("| compaction time (ms) | %.1f | |\n", MEDIAN(res, n, compact_ms));
	printf("\noverhead = pages in use x 4096 / bytes of live objects (malloc: RSS "
	       "growth / live bytes); zspool metadata after compaction %.0f KiB = "
	       "%.1f bytes per live object; compaction freed %" PRIu64 " pages\n",
	       MEDIAN(res, n, meta_kib),
	       MEDIAN(res, n, meta_kib) * 1024 / (opt.nobj - opt.nobj / 2),
	       res[0].pages_compacted);
	free(size);
	free(src.v);
	return 0;
}
