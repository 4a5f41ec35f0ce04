/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pagemix: pages that look like what a swap device of a real machine
 * holds, for tests/swapload's realistic mode and bench/suiteprobe (the
 * benchmark suite's corpus and the seed scenario's process).
 *
 * The mix, chosen per page by a hash of (seed, page index, generation):
 *   30% zero pages;
 *   40% text: 4 KiB of real text (licences under /usr/share/common-licenses,
 *       headers under /usr/include) from a random byte offset;
 *   20% shared-library bytes: whole pages of the shared libraries in
 *       /usr/lib/x86_64-linux-gnu;
 *   10% random (incompressible) bytes.
 * The real pages are read once, at pagemix_init(), into two pools (a few
 * MiB), so that filling a page never does I/O: a benchmark's timed phases
 * must not read files.  Files are taken in name order, so one machine
 * gives the same pages for the same seed every time.
 */
#ifndef ZRAMFUSE_PAGEMIX_H
#define ZRAMFUSE_PAGEMIX_H

#include <stddef.h>
#include <stdint.h>

#define PAGEMIX_PAGE 4096u

enum pagemix_kind {
	PAGEMIX_ZERO,
	PAGEMIX_TEXT,
	PAGEMIX_LIB,
	PAGEMIX_RANDOM,
	PAGEMIX_KINDS
};

struct pagemix {
	uint64_t seed;
	unsigned char *lib;	/* nlib whole pages of shared libraries */
	size_t nlib;
	unsigned nlib_files;	/* the files they came from */
	char *text;		/* ntext bytes of text, files back to back */
	size_t ntext;
	unsigned ntext_files;
};

/*
 * Read the pools: up to lib_pages library pages and text_bytes of text.
 * Returns 0, or -errno (-ENOENT when no library page or less than two
 * pages of text could be read; unreadable files are skipped).
 */
int pagemix_init(struct pagemix *m, uint64_t seed, size_t lib_pages,
		 size_t text_bytes);
void pagemix_free(struct pagemix *m);

/* Fill @page with the content of page @index, generation @gen; returns its
 * kind.  Pure: the same arguments always give the same bytes. */
enum pagemix_kind pagemix_fill(const struct pagemix *m, unsigned char *page,
			       uint64_t index, uint64_t gen);

/* The default pool sizes: 8 MiB of library pages, 2 MiB of text. */
#define PAGEMIX_LIB_PAGES 2048u
#define PAGEMIX_TEXT_BYTES (2u << 20)

#endif
