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

/* Resident set size in KiB, from /proc/self/statm. */
static inline long zt_rss_kib(void)
{
	long size, rss = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

#endif
