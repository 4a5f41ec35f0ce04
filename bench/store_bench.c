// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_bench: what the store costs, on pages of real files.
 *
 * The page mix (built once, 16384 pages, shuffled, reused cyclically):
 * 40% 4 KiB pages of shared libraries in /usr/lib/x86_64-linux-gnu, 30%
 * text pages of files under /usr/include and /usr/share, 20% zero pages and
 * 10% random (incompressible) pages - roughly what a swap device of a
 * desktop or build machine sees.
 *
 * (1) Discard latency, deferred (reclaim thread) against synchronous
 *     freeing (deferred_free=false): p50/p99 of store_discard() of 4 KiB
 *     and 1 MiB ranges of a full file, of the whole file, and of
 *     store_file_destroy() of a full file.  The punched range is written
 *     again (untimed) after each sample, so the store stays full.
 * (2) Single-thread throughput per codec: the raw codec (compress every
 *     page into 3071 bytes / decompress it) against store_write() and
 *     store_read() of the same pages in 4 KiB calls; median of 5 runs.
 * (3) The slot lock: uncontended lock+unlock of the in-slot futex lock
 *     against striped mutexes, walking 1 Mi slots.
 * (4) zstd dictionaries (-p 8, not run by default): memory per stored
 *     byte, mem_used_total / orig_data_size after compaction, of the
 *     mix's second half (8192 pages) with zstd alone, and with a
 *     dictionary that train_dict trained on the first half, which then
 *     went (held out: the pages measured are not those trained on); then
 *     the same with the dictionary's own memory added; last, the first
 *     half written again with it (the pages it was trained on).
 *
 * Usage: store_bench [-d dict KiB] [-m MiB] [-p parts] [-r runs] [-s seed]
 * (defaults: 64 KiB, 1024 MiB, parts 7 = 1 + 2 + 4 of the list above,
 * 5 runs)
 * Prints markdown tables.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "store.h"

#define PAGE STORE_PAGE_SIZE
#define CORPUS_PAGES 16384u

static unsigned char *corpus;
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- the corpus ------------------------------------------------------ */

#define MAX_FILES 20000
static char *lib_files[MAX_FILES], *text_files[MAX_FILES];
static unsigned nlib, ntext;

static int looks_text(const char *path)
{
	unsigned char b[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, b, sizeof(b));
	close(fd);
	if (n < (ssize_t)sizeof(b))
		return 0;
	for (ssize_t i = 0; i < n; i++)
		if (b[i] == 0 || (b[i] < 9 && b[i] != '\n'))
			return 0;
	return 1;
}

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	size_t len = strlen(path);

	(void)ftw;
	if (type != FTW_F || !S_ISREG(sb->st_mode) || sb->st_size < 2 * PAGE)
		return 0;
	if (strstr(path, "/usr/lib/x86_64-linux-gnu/") && strstr(path, ".so")) {
		if (nlib < MAX_FILES)
			lib_files[nlib++] = strdup(path);
	} else if (ntext < MAX_FILES && len > 2 &&
		   (strncmp(path, "/usr/include", 12) == 0 ||
		    strncmp(path, "/usr/share", 10) == 0) && looks_text(path)) {
		text_files[ntext++] = strdup(path);
	}
	return 0;
}

static int read_page(const char *path, unsigned char *dst)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	off_t off;
	int ok;

	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) < 0 || sb.st_size < PAGE) {
		close(fd);
		return 0;
	}
	off = (off_t)(rnd() % (uint64_t)(sb.st_size / PAGE)) * PAGE;
	ok = pread(fd, dst, PAGE, off) == PAGE;
	close(fd);
	return ok;
}

static int build_corpus(void)
{
	unsigned counts[4] = { 0 };

	nftw("/usr/lib/x86_64-linux-gnu", collect, 32, FTW_PHYS);
	nftw("/usr/include", collect, 32, FTW_PHYS);
	nftw("/usr/share", collect, 32, FTW_PHYS);
	if (!nlib || !ntext) {
		fprintf(stderr, "store_bench: no shared libraries or text files found\n");
		return -1;
	}
	corpus = malloc((size_t)CORPUS_PAGES * PAGE);
	if (!corpus)
		return -1;
	for (unsigned i = 0; i < CORPUS_PAGES; i++) {
		unsigned char *p = corpus + (size_t)i * PAGE;
		unsigned k = (unsigned)(rnd() % 100);
		int ok = 0;

		if (k < 40) {
			for (int t = 0; t < 20 && !ok; t++)
				ok = read_page(lib_files[rnd() % nlib], p);
			k = 0;
		} else if (k < 70) {
			for (int t = 0; t < 20 && !ok; t++)
				ok = read_page(text_files[rnd() % ntext], p);
			k = 1;
		} else if (k < 90) {
			memset(p, 0, PAGE);
			k = 2;
		} else {
			for (unsigned j = 0; j < PAGE; j += 8) {
				uint64_t v = rnd();

				memcpy(p + j, &v, 8);
			}
			k = 3;
		}
		if (!ok && k < 2)
			memset(p, 0, PAGE);
		counts[k]++;
	}
	printf("Page mix: %u pages: %u library (from %u files), %u text (from %u files), %u zero, %u random\n\n",
	       CORPUS_PAGES, counts[0], nlib, counts[1], ntext, counts[2], counts[3]);
	return 0;
}

static const unsigned char *corpus_page(uint64_t i)
{
	return corpus + (size_t)(i % CORPUS_PAGES) * PAGE;
}

/* ---- statistics ------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 1e3)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.1f us", ns / 1e3);
	else
		snprintf(buf, len, "%.2f ms", ns / 1e6);
}

/* ---- (1) discard latency --------------------------------------------- */

static int fill(struct store_file *f, uint64_t first, uint64_t pages, uint64_t salt)
{
	for (uint64_t i = 0; i < pages; i++)
		if (store_write(f, corpus_page(first + i + salt), PAGE,
				(first + i) * PAGE) != PAGE)
			return -1;
	return 0;
}

struct lat {
	double p50, p99;
};

static void discard_bench(bool deferred, uint64_t file_pages, int runs,
			  struct lat out[4], double *drain_ms)
{
	struct store_config cfg = { .comp = "lz4", .deferred_free = deferred };
	struct store *st;
	struct store_file *f;
	size_t n4k = 2000, n1m = 200;
	double *v = calloc(n4k, sizeof(double));
	uint64_t mib = 256;

	if (store_create(&cfg, &st) < 0 || store_file_create(st, &f) < 0 || !v) {
		fprintf(stderr, "store_bench: store_create failed\n");
		exit(1);
	}
	store_thread_init(st);
	if (fill(f, 0, file_pages, 0) < 0) {
		fprintf(stderr, "store_bench: fill failed\n");
		exit(1);
	}

	/* 4 KiB */
	for (size_t i = 0; i < n4k; i++) {
		uint64_t pg = rnd() % file_pages;
		double t0 = now_ns();

		store_discard(f, pg * PAGE, PAGE);
		v[i] = now_ns() - t0;
		fill(f, pg, 1, i);
	}
	out[0].p50 = pct(v, n4k, 50);
	out[0].p99 = pct(v, n4k, 99);

	/* 1 MiB */
	for (size_t i = 0; i < n1m; i++) {
		uint64_t pg = (rnd() % (file_pages / mib)) * mib;
		double t0 = now_ns();

		store_discard(f, pg * PAGE, mib * PAGE);
		v[i] = now_ns() - t0;
		fill(f, pg, mib, i);
	}
	out[1].p50 = pct(v, n1m, 50);
	out[1].p99 = pct(v, n1m, 99);
	store_drain(st);

	/* the whole file */
	*drain_ms = 0;
	for (int i = 0; i < runs; i++) {
		double t0 = now_ns(), t1;

		store_discard(f, 0, file_pages * PAGE);
		t1 = now_ns();
		v[i] = t1 - t0;
		store_drain(st);
		*drain_ms += (now_ns() - t1) / 1e6 / runs;
		fill(f, 0, file_pages, (uint64_t)i);
	}
	out[2].p50 = pct(v, (size_t)runs, 50);
	out[2].p99 = pct(v, (size_t)runs, 99);

	/* destroy of a full file */
	for (int i = 0; i < runs; i++) {
		double t0 = now_ns();

		store_file_destroy(f);
		v[i] = now_ns() - t0;
		store_drain(st);
		if (i + 1 < runs) {
			store_file_create(st, &f);
			fill(f, 0, file_pages, (uint64_t)i);
		}
	}
	out[3].p50 = pct(v, (size_t)runs, 50);
	out[3].p99 = pct(v, (size_t)runs, 99);
	store_destroy(st);
	free(v);
}

/* ---- (2) throughput -------------------------------------------------- */

#define TP_PAGES 8192u		/* 32 MiB per run */

static double median(double *v, int n)
{
	return pct(v, (size_t)n, 50);
}

static void throughput(const char *name, int runs)
{
	struct codec c;
	struct codec_ctx *ctx;
	static unsigned char cbuf[TP_PAGES][PAGE];
	static long clen[TP_PAGES];
	unsigned char out[PAGE];
	double rc[16], rd[16], sw[16], sr[16];
	struct store_config cfg = { .comp = name, .deferred_free = true };
	double mb = (double)TP_PAGES * PAGE / 1e6;

	if (codec_init(&c, name, 0) < 0 || codec_ctx_create(&c, &ctx) < 0)
		return;
	for (int r = 0; r < runs; r++) {
		double t0 = now_ns();

		for (unsigned i = 0; i < TP_PAGES; i++)
			clen[i] = codec_compress(ctx, corpus_page(i), PAGE, cbuf[i], 3071);
		rc[r] = mb / ((now_ns() - t0) / 1e9);
		t0 = now_ns();
		for (unsigned i = 0; i < TP_PAGES; i++) {
			if (clen[i] > 0)
				codec_decompress(ctx, cbuf[i], (size_t)clen[i], out, PAGE);
			else
				memcpy(out, corpus_page(i), PAGE);
		}
		rd[r] = mb / ((now_ns() - t0) / 1e9);
	}
	codec_ctx_destroy(ctx);

	for (int r = 0; r < runs; r++) {
		struct store *st;
		struct store_file *f;
		double t0;

		if (store_create(&cfg, &st) < 0 || store_file_create(st, &f) < 0)
			return;
		store_thread_init(st);
		t0 = now_ns();
		for (unsigned i = 0; i < TP_PAGES; i++)
			store_write(f, corpus_page(i), PAGE, (uint64_t)i * PAGE);
		sw[r] = mb / ((now_ns() - t0) / 1e9);
		t0 = now_ns();
		for (unsigned i = 0; i < TP_PAGES; i++)
			store_read(f, out, PAGE, (uint64_t)i * PAGE);
		sr[r] = mb / ((now_ns() - t0) / 1e9);
		for (unsigned i = 0; i < 64; i++) {
			store_read(f, out, PAGE, (uint64_t)i * PAGE);
			if (memcmp(out, corpus_page(i), PAGE)) {
				fprintf(stderr, "store_bench: %s: page %u differs\n", name, i);
				exit(1);
			}
		}
		store_destroy(st);
	}
	{
		double mrc = median(rc, runs), mrd = median(rd, runs);
		double msw = median(sw, runs), msr = median(sr, runs);

		printf("| %s | %.0f | %.0f | %.0f%% | %.0f | %.0f | %.0f%% |\n", name,
		       mrc, msw, 100 * msw / mrc, mrd, msr, 100 * msr / mrd);
	}
}

/* ---- (4) dictionaries ------------------------------------------------ */

#define DICT_HALF (CORPUS_PAGES / 2)

/* Write mix pages [first, first + n) from page 0 of a new file. */
static struct store_file *dict_fill(struct store *st, unsigned first, unsigned n)
{
	struct store_file *f;

	if (store_file_create(st, &f) < 0) {
		fprintf(stderr, "store_bench: store_file_create failed\n");
		exit(1);
	}
	for (unsigned i = 0; i < n; i++) {
		if (store_write(f, corpus_page(first + i), PAGE, (uint64_t)i * PAGE) != PAGE) {
			fprintf(stderr, "store_bench: write failed\n");
			exit(1);
		}
	}
	return f;
}

/* One row: mem_used_total / orig_data_size after compaction, and with
 * the dictionaries' memory (train_dict's report) added. */
static void dict_row(struct store *st, const char *what)
{
	struct store_dict_stats d;
	struct store_stats s;
	double r;

	store_drain(st);
	store_compact(st);
	store_stats(st, &s);
	store_dict_stats(st, &d);
	r = (double)s.mem_used_total / (double)s.orig_data_size;
	printf("| %s | %" PRIu64 " | %.4f | %.4f | %.2f |\n", what, s.compr_data_size, r,
	       r + (double)d.mem / (double)s.orig_data_size, (double)d.mem / (1 << 20));
}

static void dict_bench(unsigned dict_kib)
{
	struct store_config cfg = { .comp = "zstd", .deferred_free = true };
	struct store_dict_stats d;
	struct store_file *f;
	struct store *st;
	double t0, secs;
	int ret;

	if (store_create(&cfg, &st) < 0) {
		fprintf(stderr, "store_bench: no zstd\n");
		return;
	}
	f = dict_fill(st, DICT_HALF, DICT_HALF);
	dict_row(st, "zstd alone");
	store_file_destroy(f);
	store_destroy(st);

	if (store_create(&cfg, &st) < 0)
		return;
	f = dict_fill(st, 0, DICT_HALF);
	t0 = now_ns();
	ret = store_train_dict(st, (size_t)dict_kib << 10);
	secs = (now_ns() - t0) / 1e9;
	if (ret < 0) {
		fprintf(stderr, "store_bench: train_dict: %s\n", strerror(-ret));
		exit(1);
	}
	store_dict_stats(st, &d);
	store_file_destroy(f);
	f = dict_fill(st, DICT_HALF, DICT_HALF);
	dict_row(st, "zstd + dictionary, pages not trained on");
	store_file_destroy(f);
	f = dict_fill(st, 0, DICT_HALF);
	dict_row(st, "zstd + dictionary, the pages trained on");
	store_file_destroy(f);
	store_destroy(st);
	printf("\ntrain_dict: a %" PRIu64 "-byte dictionary from %" PRIu64
	       " sampled pages in %.2f s; on the sample %" PRIu64 " -> %" PRIu64 " bytes (%.1f%%)\n",
	       d.dict_bytes, d.samples, secs, d.compr_plain, d.compr_dict,
	       100.0 * (double)d.compr_dict / (double)d.compr_plain);
}

/* ---- (3) slot lock --------------------------------------------------- */

#define LK_SLOTS (1u << 20)
#define LK_STRIPES 1024u

struct bslot {
	_Atomic uint32_t lock;
	uint32_t info;
	uint64_t val;
};

static void bslot_lock(struct bslot *s)
{
	uint32_t v = 0;

	while (!atomic_compare_exchange_weak_explicit(&s->lock, &v, 1, memory_order_acquire,
						      memory_order_relaxed)) {
		if (atomic_exchange_explicit(&s->lock, 2, memory_order_acquire) == 0)
			return;
		syscall(SYS_futex, &s->lock, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
		v = 0;
	}
}

static void bslot_unlock(struct bslot *s)
{
	if (atomic_exchange_explicit(&s->lock, 0, memory_order_release) == 2)
		syscall(SYS_futex, &s->lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void lock_bench(void)
{
	struct bslot *slots = calloc(LK_SLOTS, sizeof(*slots));
	pthread_mutex_t *stripes = calloc(LK_STRIPES, sizeof(*stripes));
	double t0, a, b;

	for (unsigned i = 0; i < LK_STRIPES; i++)
		pthread_mutex_init(&stripes[i], NULL);
	for (int pass = 0; pass < 2; pass++) {
		t0 = now_ns();
		for (unsigned i = 0; i < LK_SLOTS; i++) {
			bslot_lock(&slots[i]);
			slots[i].val++;
			bslot_unlock(&slots[i]);
		}
		a = (now_ns() - t0) / LK_SLOTS;
		t0 = now_ns();
		for (unsigned i = 0; i < LK_SLOTS; i++) {
			/* a multiplicative hash, as a striped table would use */
			pthread_mutex_t *m = &stripes[(i * 2654435761u) >> 22];

			pthread_mutex_lock(m);
			slots[i].val++;
			pthread_mutex_unlock(m);
		}
		b = (now_ns() - t0) / LK_SLOTS;
	}
	printf("| in-slot futex lock (16-byte slot) | %.1f ns | 0 |\n", a);
	printf("| %u striped pthread mutexes | %.1f ns | %zu bytes |\n", LK_STRIPES, b,
	       LK_STRIPES * sizeof(pthread_mutex_t));
	free(slots);
	free(stripes);
}

int main(int argc, char **argv)
{
	uint64_t mib = 1024;
	unsigned dict_kib = 64;
	int runs = 5, opt, parts = 7;
	struct lat def[4], syn[4];
	double ddrain, sdrain;
	static const char *const what[4] = {
		"discard 4 KiB", "discard 1 MiB", "discard whole file", "destroy file"
	};
	char names[64];
	time_t now = time(NULL);

	while ((opt = getopt(argc, argv, "d:m:p:r:s:")) != -1) {
		switch (opt) {
		case 'd':
			dict_kib = (unsigned)atoi(optarg);
			break;
		case 'p':
			parts = atoi(optarg);
			break;
		case 'm':
			mib = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 0) | 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-d dict KiB] [-m MiB] [-p parts] [-r runs] [-s seed]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > 16 || mib < 4) {
		fprintf(stderr, "store_bench: runs 1..16, at least 4 MiB\n");
		return 2;
	}
	printf("store_bench, %s", ctime(&now));
	if (build_corpus() < 0)
		return 1;

	if (parts & 1) {
		printf("### Discard latency, %" PRIu64 " MiB file, lz4 (whole file and destroy: %d runs)\n\n",
		       mib, runs);
		discard_bench(true, mib * 256, runs, def, &ddrain);
		discard_bench(false, mib * 256, runs, syn, &sdrain);
		printf("| operation | deferred p50 | deferred p99 | synchronous p50 | synchronous p99 |\n");
		printf("|---|---:|---:|---:|---:|\n");
		for (int i = 0; i < 4; i++) {
			char a[32], b[32], c[32], d[32];

			fmt_ns(a, sizeof(a), def[i].p50);
			fmt_ns(b, sizeof(b), def[i].p99);
			fmt_ns(c, sizeof(c), syn[i].p50);
			fmt_ns(d, sizeof(d), syn[i].p99);
			printf("| %s | %s | %s | %s | %s |\n", what[i], a, b, c, d);
		}
		printf("\nDeferred: the reclaim thread then needed %.1f ms (mean) to free the whole file.\n\n",
		       ddrain);

	}
	if (parts & 2) {
		printf("### Single-thread throughput, MB/s, %u pages of the mix, median of %d runs\n\n",
		       TP_PAGES, runs);
		printf("| codec | raw compress | store_write | write/raw | raw decompress | store_read | read/raw |\n");
		printf("|---|---:|---:|---:|---:|---:|---:|\n");
		snprintf(names, sizeof(names), "%s", codec_names());
		for (char *save = NULL, *nm = strtok_r(names, " ", &save); nm;
		     nm = strtok_r(NULL, " ", &save))
			throughput(nm, runs);

	}
	if (parts & 4) {
		printf("\n### Slot lock, uncontended lock + unlock, 1 Mi slots walked in order\n\n");
		printf("| lock | per operation | extra memory |\n|---|---:|---:|\n");
		lock_bench();
	}
	if (parts & 8) {
		printf("\n### zstd dictionaries: memory per stored byte, %u pages of the mix, a %u KiB dictionary\n\n",
		       DICT_HALF, dict_kib);
		printf("| store | compr_data_size | mem_used_total / orig_data_size | with the dictionaries' memory | dictionaries, MiB |\n");
		printf("|---|---:|---:|---:|---:|\n");
		dict_bench(dict_kib);
	}
	return 0;
}
