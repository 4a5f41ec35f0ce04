/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * headroom: how much memory this process may still take before the kernel
 * has to reclaim for it - the smallest of its memory cgroup's (and every
 * ancestor's) limit minus usage, cgroup v1 or v2, and the machine's
 * MemAvailable - read without allocating (see headroom.c for why).
 * Internal to the store: it decides whether a writer that found the
 * allocator's reserve empty may fault pages in itself.
 */
#ifndef ZRAMFUSE_HEADROOM_H
#define ZRAMFUSE_HEADROOM_H

#include <stdbool.h>
#include <stdint.h>

struct headroom;

/*
 * Open the files to measure from, and start the thread that follows the
 * process's memory cgroup (PR_SET_IO_FLUSHER on it with @io_flusher).
 */
int headroom_create(bool io_flusher, struct headroom **out);
void headroom_destroy(struct headroom *h);

/*
 * The headroom in bytes: the figure shared by all callers if it was
 * measured at most @max_age_ns ago, else measured now by the caller
 * (a few pread()s of files opened in advance; no allocation, in user
 * space or charged in the kernel).  UINT64_MAX when nothing limits.
 */
uint64_t headroom_bytes(struct headroom *h, uint64_t max_age_ns);

/* Measure now, opening the files (tests). */
uint64_t headroom_measure(void);

#endif
