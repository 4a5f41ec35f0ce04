/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * headroom: how much memory this process may still take before the kernel
 * has to reclaim for it - the smallest of its memory cgroup's (and every
 * ancestor's) limit minus usage, cgroup v1 or v2, and the machine's
 * MemAvailable.  Internal to the store: it decides whether a writer that
 * found the allocator's reserve empty may fault pages in itself.
 */
#ifndef ZRAMFUSE_HEADROOM_H
#define ZRAMFUSE_HEADROOM_H

#include <stdint.h>

struct headroom;

int headroom_create(struct headroom **out);
void headroom_destroy(struct headroom *h);

/*
 * The headroom in bytes, measured at most @max_age_ns ago: a fresh
 * measurement reads /proc/self/cgroup, the cgroup's files and
 * /proc/meminfo (tens of microseconds); concurrent callers wait for one
 * measurement and share it.  UINT64_MAX when nothing limits (no cgroup
 * limit and no /proc/meminfo).
 */
uint64_t headroom_bytes(struct headroom *h, uint64_t max_age_ns);

/* Measure now, uncached (tests, and headroom_bytes() itself). */
uint64_t headroom_measure(void);

#endif
