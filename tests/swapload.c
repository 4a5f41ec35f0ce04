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
 * Exit status: 0 every page verified, 1 a page was wrong, 2 bad usage or
 * the memory could not be mapped.
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
		"[-S SEED] [-P PROGRESS_FILE]\n");
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

int main(int argc, char **argv)
{
	uint64_t mib = 0, passes = 2, rewrite = 25, seed = 1, done = 0;
	uint64_t *sum, *gen, npages, bad = 0, secs = 0, verified = 0, pass;
	unsigned char *mem;
	struct timespec t0, t1;
	int c;

	while ((c = getopt(argc, argv, "s:p:T:r:S:P:")) != -1) {
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
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (uint64_t i = 0; i < npages; i++) {
		fill_page(mem + i * PAGE, i, 0, seed);
		sum[i] = page_sum(mem + i * PAGE);
		if (++done % 1024 == 0)
			progress(done);
	}
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
		if (last)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	progress(done);
	printf("swapload: %" PRIu64 " MiB, %" PRIu64 " pages, %" PRIu64
	       " passes, %.1f s, %" PRIu64 " page checksums verified, %" PRIu64
	       " bad pages\n", mib, npages, pass,
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, verified, bad);
	return bad ? 1 : 0;
}
