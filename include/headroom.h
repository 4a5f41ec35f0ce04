/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * headroom: how much memory this process may still take before the kernel
 * has to reclaim for it - the smallest of its memory cgroup's (and every
 * ancestor's) limit minus usage, cgroup v1 or v2, and the machine's
 * MemAvailable - measured by a thread of its own (see headroom.c for why).
 * Internal to the store: it decides whether a writer that found the
 * allocator's reserve empty may fault pages in itself.
 */
#ifndef ZRAMFUSE_HEADROOM_H
#define ZRAMFUSE_HEADROOM_H

#include <stdbool.h>
#include <stdint.h>

struct headroom;

/* Start the measuring thread (PR_SET_IO_FLUSHER on it with @io_flusher). */
int headroom_create(bool io_flusher, struct headroom **out);
void headroom_destroy(struct headroom *h);

/* Ask for a fresh figure soon (cheap when already asked). */
void headroom_ask(struct headroom *h);
/*
 * The last figure in bytes if it was measured at most @max_age_ns ago,
 * else 0 ("none known": treat memory as short); asks for a fresh one.
 * Two atomic loads, no system call.  UINT64_MAX when nothing limits.
 */
uint64_t headroom_bytes(struct headroom *h, uint64_t max_age_ns);

/* Measure now, in the caller (tests); opens and reads files. */
uint64_t headroom_measure(void);

#endif
