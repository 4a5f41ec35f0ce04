/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * swapload: a working set that must be swapped to fit, and proof that it
 * came back intact.
 *
 * It maps SIZE MiB of anonymous memory and fills every 4 KiB page with one
 * of four kinds of content, chosen per page: zero pages, text-like pages
 * (words), binary pages (structured records, compressible about 2:1) and
 * random pages (incompressible).  A 64-bit checksum of each page is kept
 * aside.  Then it makes PASSES passes over the set: each verifies every
 * page against its checksum and rewrites a share of them with new content,
 * so pages travel to swap and back in both directions.  A last pass
 * verifies everything.  With -T SECS it keeps making passes (at least
 * PASSES) until SECS seconds have passed, for a soak.  It prints how many
 * page checksums it verified.
 *
 * Run inside a memory cgroup smaller than SIZE, it forces the kernel to
 * swap.  Progress (pages touched so far) is written to a file every few
 * MiB so that a watchdog can tell a slow run from a hung one.
 *
 * -m realistic runs the benchmark suite's workload instead: the pages are
 * pagemix's (30% zero, 40% real text, 20% shared-library pages, 10%
 * random; see pagemix.h) and the set goes through five phases, each
 * printed as "phase NAME SECONDS", then "wall SECONDS" (their sum):
 *   fill       write every page;
 *   seq_read   verify every page, in order;
 *   rand_rw    as many random pages as the set has: verify each, and
 *              rewrite half of them with new content;
 *   seq_write  rewrite every page with new content, in order;
 *   seq_read2  verify every page, in order.
 * -p, -T and -r do not apply to it.  -v prints the same lines for the
 * mixed mode (phases fill, pass1, pass2, ...).
 *
 * Exit status: 0 every page verified, 1 a page was wrong, 2 bad usage or
 * the memory could not be mapped (or, realistic, no real pages to read).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pagemix.h"

#define PAGE 4096u

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint64_t page_sum(const void *p)
{
	const uint64_t *w = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < PAGE / 8; i++) {
		h ^= w[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

static const char *const words[] = {
	"swap", "page", "memory", "kernel", "compressed", "the", "of", "and",
	"allocator", "zspage", "class", "handle", "loop", "device", "fuse",
	"request", "reclaim", "slot", "discard", "write", "read", "zero",
};

/* Fill page @p (number @i, generation @gen) with its kind of content. */
static void fill_page(unsigned char *p, uint64_t i, uint64_t gen,
		      uint64_t seed)
{
	uint64_t s = (seed ^ (i * 0x9e3779b97f4a7c15ull) ^ (gen << 40)) | 1;
	unsigned kind = rng_next(&s) % 4;
	size_t off = 0;

	switch (kind) {
	case 0:
		memset(p, 0, PAGE);
		break;
	case 1:
		while (off < PAGE) {
			const char *w = words[rng_next(&s) % (sizeof(words) /
							      sizeof(words[0]))];
			size_t n = strlen(w);

			if (off + n + 1 > PAGE)
				n = PAGE - off - 1;
			memcpy(p + off, w, n);
			off += n;
			p[off++] = (rng_next(&s) % 12) ? ' ' : '\n';
		}
		break;
	case 2: {
		uint32_t *r = (uint32_t *)p;
		uint32_t base = (uint32_t)rng_next(&s);

		for (size_t k = 0; k < PAGE / 4; k += 4) {
			r[k] = base + (uint32_t)k;
			r[k + 1] = (uint32_t)i;
			r[k + 2] = (uint32_t)(rng_next(&s) & 0xff);
			r[k + 3] = 0;
		}
		break;
	}
	default: {
		uint64_t *r = (uint64_t *)p;

		for (size_t k = 0; k < PAGE / 8; k++)
			r[k] = rng_next(&s);
		break;
	}
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: swapload -s MIB [-p PASSES] [-T SECS] [-r PERCENT] "
		"[-S SEED] [-P PROGRESS_FILE] [-v]\n"
		"       swapload -m realistic -s MIB [-S SEED] "
		"[-P PROGRESS_FILE]\n");
	exit(2);
}

static int progress_fd = -1;

static void progress(uint64_t done)
{
	char buf[32];
	int n;

	if (progress_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", done);
	if (pwrite(progress_fd, buf, (size_t)n, 0) < 0 ||
	    ftruncate(progress_fd, n) < 0)
		perror("swapload: progress");
}

static double now_secs(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Print "phase NAME SECONDS" for the phase that started at *@t; the next
 * one starts now. */
static void phase_end(const char *name, double *t)
{
	double now = now_secs();

	printf("phase %s %.3f\n", name, now - *t);
	fflush(stdout);
	*t = now;
}

/* Verify page @i against its checksum; count and report a wrong one. */
static void check_page(const unsigned char *p, uint64_t i, const uint64_t *sum,
		       const uint64_t *gen, const char *phase, uint64_t *bad)
{
	if (page_sum(p) == sum[i])
		return;
	if (!*bad)
		fprintf(stderr, "swapload: page %" PRIu64 " (generation %"
			PRIu64 ") is wrong in phase %s\n", i, gen[i], phase);
	(*bad)++;
}

/* The realistic workload's set and counters. */
struct real {
	const struct pagemix *mix;
	unsigned char *mem;
	uint64_t npages, *sum, *gen, bad, done, verified;
};

enum real_write { REAL_KEEP, REAL_FILL, REAL_REWRITE };

/* One page's turn in phase @name: verify it if @check, then write it. */
static void real_page(struct real *r, uint64_t i, bool check,
		      enum real_write w, const char *name)
{
	unsigned char *p = r->mem + i * PAGE;

	if (check) {
		check_page(p, i, r->sum, r->gen, name, &r->bad);
		r->verified++;
	}
	if (w != REAL_KEEP) {
		if (w == REAL_REWRITE)
			r->gen[i]++;
		pagemix_fill(r->mix, p, i, r->gen[i]);
		r->sum[i] = page_sum(p);
	}
	if (++r->done % 1024 == 0)
		progress(r->done);
}

/* A sequential phase: every page in order. */
static void real_seq(struct real *r, bool check, enum real_write w,
		     const char *name, double *t)
{
	for (uint64_t i = 0; i < r->npages; i++)
		real_page(r, i, check, w, name);
	phase_end(name, t);
}

/*
 * The realistic workload (-m realistic): five phases over the set; the
 * random one visits as many pages as the set has, verifies each and
 * rewrites half of them.
 */
static void realistic(struct real *r, uint64_t seed)
{
	uint64_t s = seed | 1;
	double t0 = now_secs(), t = t0;

	real_seq(r, false, REAL_FILL, "fill", &t);
	real_seq(r, true, REAL_KEEP, "seq_read", &t);
	for (uint64_t k = 0; k < r->npages; k++) {
		uint64_t x = rng_next(&s);

		real_page(r, (x >> 1) % r->npages, true,
			  (x & 1) ? REAL_REWRITE : REAL_KEEP, "rand_rw");
	}
	phase_end("rand_rw", &t);
	real_seq(r, false, REAL_REWRITE, "seq_write", &t);
	real_seq(r, true, REAL_KEEP, "seq_read2", &t);
	progress(r->done);
	printf("wall %.3f\n", t - t0);
}

int main(int argc, char **argv)
{
	uint64_t mib = 0, passes = 2, rewrite = 25, seed = 1, done = 0;
	uint64_t *sum, *gen, npages, bad = 0, secs = 0, verified = 0, pass;
	unsigned char *mem;
	struct timespec t0, t1;
	bool mode_real = false, verbose = false;
	double tp = 0;
	int c;

	while ((c = getopt(argc, argv, "s:p:T:r:S:P:m:v")) != -1) {
		switch (c) {
		case 's': mib = strtoull(optarg, NULL, 0); break;
		case 'p': passes = strtoull(optarg, NULL, 0); break;
		case 'T': secs = strtoull(optarg, NULL, 0); break;
		case 'r': rewrite = strtoull(optarg, NULL, 0); break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'P':
			progress_fd = open(optarg, O_WRONLY | O_CREAT | O_TRUNC,
					   0644);
			if (progress_fd < 0) {
				perror(optarg);
				return 2;
			}
			break;
		case 'm':
			if (strcmp(optarg, "realistic") == 0)
				mode_real = true;
			else if (strcmp(optarg, "mixed") != 0)
				usage();
			break;
		case 'v': verbose = true; break;
		default: usage();
		}
	}
	if (!mib || rewrite > 100)
		usage();
	npages = mib * (1024 * 1024 / PAGE);
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sum = calloc(npages, sizeof(*sum));
	gen = calloc(npages, sizeof(*gen));
	if (mem == MAP_FAILED || !sum || !gen) {
		fprintf(stderr, "swapload: cannot map %" PRIu64 " MiB: %s\n",
			mib, strerror(errno));
		return 2;
	}
	/* Keep the kernel from backing the set with huge pages. */
	madvise(mem, npages * PAGE, MADV_NOHUGEPAGE);
	if (mode_real) {
		struct pagemix mix;
		int err = pagemix_init(&mix, seed, PAGEMIX_LIB_PAGES,
				       PAGEMIX_TEXT_BYTES);

		if (err) {
			fprintf(stderr, "swapload: no real pages to read: %s\n",
				strerror(-err));
			return 2;
		}
		printf("pages %zu library pages of %u files, %zu bytes of text"
		       " of %u files\n", mix.nlib, mix.nlib_files, mix.ntext,
		       mix.ntext_files);
		struct real r = {
			.mix = &mix, .mem = mem, .npages = npages, .sum = sum,
			.gen = gen,
		};

		clock_gettime(CLOCK_MONOTONIC, &t0);
		realistic(&r, seed);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		bad = r.bad;
		verified = r.verified;
		pagemix_free(&mix);
		pass = 5;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tp = now_secs();

	for (uint64_t i = 0; i < npages; i++) {
		fill_page(mem + i * PAGE, i, 0, seed);
		sum[i] = page_sum(mem + i * PAGE);
		if (++done % 1024 == 0)
			progress(done);
	}
	if (verbose)
		phase_end("fill", &tp);
	for (pass = 0;; pass++) {
		uint64_t s = seed + pass;
		bool last = pass >= passes;

		if (secs) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			last = last && (double)(t1.tv_sec - t0.tv_sec) +
				       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >=
				       (double)secs;
		}

		for (uint64_t i = 0; i < npages; i++) {
			unsigned char *p = mem + i * PAGE;

			if (page_sum(p) != sum[i]) {
				if (!bad)
					fprintf(stderr,
						"swapload: page %" PRIu64
						" (generation %" PRIu64
						") is wrong after pass %"
						PRIu64 "\n", i, gen[i], pass);
				bad++;
			}
			verified++;
			if (!last && rng_next(&s) % 100 < rewrite) {
				fill_page(p, i, ++gen[i], seed);
				sum[i] = page_sum(p);
			}
			if (++done % 1024 == 0)
				progress(done);
		}
		if (verbose) {
			char name[32];

			snprintf(name, sizeof(name), "pass%" PRIu64, pass + 1);
			phase_end(name, &tp);
		}
		if (last)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	progress(done);
	if (verbose)
		printf("wall %.3f\n", (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
out:
	printf("swapload: %" PRIu64 " MiB, %" PRIu64 " pages, %" PRIu64
	       " passes, %.1f s, %" PRIu64 " page checksums verified, %" PRIu64
	       " bad pages\n", mib, npages, pass,
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, verified, bad);
	return bad ? 1 : 0;
}
