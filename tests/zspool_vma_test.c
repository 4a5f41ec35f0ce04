/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every chunk of the pool is a VMA of its own, between two PROT_NONE
 * guard pages, and stays so when another anonymous mapping of the same
 * flags (a malloc arena's, say) is made right beside it.  Without the
 * guards the kernel merges such neighbours into one VMA, and then a
 * thread growing its arena with mprotect() must wait for every fault in
 * the chunk - the refill thread's, in reclaim on our own device - which
 * hung swap_pressure.sh at 96 MiB (src/zspool.c, at the top).
 *
 * The pool's pages are found with zspool_page_alloc(): the first page of
 * a fresh pool and one from a second chunk; each one's VMA is read from
 * /proc/self/maps.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zspool_test.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static void bail(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(1);
}

/* One line of /proc/self/maps. */
struct vma {
	uintptr_t start, end;
	char perms[5];
};

/* The VMA holding @addr, and the ones just below and above it (or 0s). */
static int vma_find(uintptr_t addr, struct vma *below, struct vma *at,
		    struct vma *above)
{
	FILE *f = fopen("/proc/self/maps", "r");
	struct vma prev = { 0 }, v;
	char line[512];
	int found = 0;

	if (!f)
		return -1;
	*below = *at = *above = (struct vma){ 0 };
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx %4s", &s, &e, v.perms) != 3)
			continue;
		v.start = s;
		v.end = e;
		if (found) {
			*above = v;
			break;
		}
		if (addr >= v.start && addr < v.end) {
			*below = prev;
			*at = v;
			found = 1;
		}
		prev = v;
	}
	fclose(f);
	return found ? 0 : -1;
}

/* Is @v a PROT_NONE mapping that ends (@end) or starts at @edge? */
static bool vma_guard(const struct vma *v, uintptr_t edge, bool end)
{
	return !strcmp(v->perms, "---p") && (end ? v->end : v->start) == edge;
}

/* An anonymous read-write mapping of @len bytes at @addr, or MAP_FAILED. */
static void *neighbour(uintptr_t addr, size_t len)
{
	void *n = mmap((void *)addr, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);

	if (n != MAP_FAILED && n != (void *)addr) {
		munmap(n, len);	/* a kernel without MAP_FIXED_NOREPLACE */
		n = MAP_FAILED;
	}
	return n;
}

static void check_chunk(void *page, const char *what)
{
	const long psz = sysconf(_SC_PAGESIZE);
	const size_t len = 16 * (size_t)psz;
	struct vma below, at, above, again[3];
	void *n;

	tap_ok(!vma_find((uintptr_t)page, &below, &at, &above), "%s: its VMA is in /proc/self/maps", what);
	tap_ok(!strcmp(at.perms, "rw-p"), "%s: its VMA is rw-p (%s)", what, at.perms);
	tap_ok(vma_guard(&below, at.start, true) && below.end - below.start >= (uintptr_t)psz,
	       "%s: a PROT_NONE page right below its VMA (%s at %#lx-%#lx, VMA from %#lx)",
	       what, below.perms, (unsigned long)below.start, (unsigned long)below.end,
	       (unsigned long)at.start);
	tap_ok(vma_guard(&above, at.end, false),
	       "%s: a PROT_NONE page right above its VMA (%s at %#lx, VMA to %#lx)",
	       what, above.perms, (unsigned long)above.start, (unsigned long)at.end);

	/*
	 * A neighbour such as malloc makes (anonymous, read-write,
	 * NORESERVE) right beyond a guard page, above or else below: the
	 * chunk's VMA must keep its bounds.  (Skipped when both addresses
	 * are taken.)
	 */
	n = neighbour(at.end + (uintptr_t)psz, len);
	if (n == MAP_FAILED)
		n = neighbour(at.start - (uintptr_t)psz - len, len);
	if (n == MAP_FAILED) {
		tap_ok(1, "%s: a neighbour beyond a guard # SKIP both addresses are taken", what);
		return;
	}
	vma_find((uintptr_t)page, &again[0], &again[1], &again[2]);
	tap_ok(again[1].start == at.start && again[1].end == at.end,
	       "%s: a read-write neighbour beyond a guard leaves its VMA as it was (%#lx-%#lx, now %#lx-%#lx)",
	       what, (unsigned long)at.start, (unsigned long)at.end,
	       (unsigned long)again[1].start, (unsigned long)again[1].end);
	munmap(n, len);
}

int main(void)
{
	struct zspool_config cfg = { 0 };
	struct zspool *pool;
	void *first, *other = NULL, **pages;
	size_t n = 0, cap = 1u << 16;

	if (zspool_create(&cfg, &pool))
		bail("zspool_create");
	pages = calloc(cap, sizeof(*pages));
	if (!pages)
		bail("calloc");
	first = zspool_page_alloc(pool, 0);
	if (!first)
		bail("zspool_page_alloc");
	check_chunk(first, "the first chunk");

	/* pages until one lies in another VMA (a chunk is 32 MiB) */
	while (n < cap && !other) {
		struct vma b, a, c, v;
		void *pg = zspool_page_alloc(pool, 0);

		if (!pg)
			break;
		pages[n++] = pg;
		if (n % 1024)
			continue;
		vma_find((uintptr_t)first, &b, &a, &c);
		if (!vma_find((uintptr_t)pg, &b, &v, &c) && v.start != a.start)
			other = pg;
	}
	if (other)
		check_chunk(other, "a second chunk");
	else
		tap_ok(1, "a second chunk # SKIP no page outside the first in %zu pages", n);
	while (n)
		zspool_page_free(pool, pages[--n]);
	zspool_page_free(pool, first);
	free(pages);
	zspool_destroy(pool);
	return tap_done();
}
