/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zspool_test.h: helpers shared by the zspool unit tests: object contents
 * derived from a key (so a test keeps only the key and can check the
 * bytes), a size distribution like that of compressed pages, and the
 * process's resident set size.
 */
#ifndef ZRAMFUSE_ZSPOOL_TEST_H
#define ZRAMFUSE_ZSPOOL_TEST_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "zspool.h"

/* Bytes of an object with @key: every byte depends on key and position. */
static inline void zt_fill(unsigned char *buf, size_t len, uint64_t key)
{
	uint64_t x = key * 0x9e3779b97f4a7c15ull + len;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

/* Do @len bytes at @p hold the contents of @key? */
static inline int zt_verify(const void *p, size_t len, uint64_t key)
{
	unsigned char want[ZSPOOL_MAX_OBJ];

	zt_fill(want, len, key);
	return memcmp(p, want, len) == 0;
}

/*
 * A size like lz4 output for a 4 KiB page: mostly 500..3000 bytes, some
 * small, some incompressible (4096), some anywhere.
 */
static inline size_t zt_size(uint64_t *rng)
{
	uint64_t r = tap_rand(rng);

	switch (r % 16) {
	case 0:
		return 4096;
	case 1:
	case 2:
		return 1 + (r >> 8) % 256;
	case 3:
		return 1 + (r >> 8) % 4096;
	default:
		return 500 + (r >> 8) % 2500;
	}
}

/*
 * Resident set size in KiB, the sanitizers' shadow memory left out, and
 * that shadow's own size in *shadow_kib (when not NULL).
 *
 * ASan and TSan reserve their shadow as terabytes of contiguous address
 * space and fault it in as the program touches memory; neither intercepts
 * madvise(), so the shadow of pages the pool has given back stays
 * resident.  How much of it counts depends on the kernel: where a read
 * fault on untouched anonymous memory maps the shared zero page, shadow
 * that was only read costs nothing; where it allocates a page (this
 * project's test machine: 64 MiB of anonymous memory read, never written,
 * is 64 MiB of RSS), ASan's check of every pool access leaves one shadow
 * byte in eight of all the memory the pool ever touched resident.  That
 * is the sanitizer's memory, not the pool's: the pool's own figure is the
 * rest, found by summing /proc/self/smaps without runs of adjacent
 * mappings of a terabyte or more (nothing else in a test maps that much).
 */
#define ZT_SHADOW_RUN (1ULL << 40)

static inline long zt_rss_kib_shadow(long *shadow_kib)
{
	unsigned long long start, end, run_start = 0, run_end = 0;
	long run_rss = 0, total = 0, shadow = 0, kib;
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* a mapping's first line: "start-end perms ..." */
		if (sscanf(line, "%llx-%llx ", &start, &end) == 2) {
			if (start != run_end) {
				if (run_end - run_start >= ZT_SHADOW_RUN)
					shadow += run_rss;
				run_start = start;
				run_rss = 0;
			}
			run_end = end;
		} else if (sscanf(line, "Rss: %ld kB", &kib) == 1) {
			total += kib;
			run_rss += kib;
		}
	}
	if (run_end - run_start >= ZT_SHADOW_RUN)
		shadow += run_rss;
	fclose(f);
	if (shadow_kib)
		*shadow_kib = shadow;
	return total - shadow;
}

static inline long zt_rss_kib(void)
{
	return zt_rss_kib_shadow(NULL);
}

#endif
