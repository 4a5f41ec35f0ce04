/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reserve: memory for writes.  Every allocation a write makes (a
 * compressed object, a page of a slot table) goes through reserve_get(),
 * which takes pages from the allocator's pre-faulted reserve, and when
 * that is empty climbs a ladder that never lets a write wait for the
 * kernel to reclaim (see src/reserve.c).  The reserve owns the thread that
 * refills the allocator's reserve and the headroom probe that decides
 * whether a writer may fault pages in itself.  Internal to the store.
 */
#ifndef ZRAMFUSE_RESERVE_H
#define ZRAMFUSE_RESERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zspool.h"

struct reclaim;
struct reserve;

/* A writer faults pages in itself only with this much headroom at least. */
#define RESERVE_HEADROOM_MIN (64ull << 20)

struct reserve_config {
	struct zspool *pool;
	/* the deferred-free queue: memory waiting in it is drained for a write */
	struct reclaim *reclaim;
	/*
	 * The ladder (no write waits for the kernel); false: a write's
	 * allocation may wait for the kernel as any allocation does.
	 */
	bool nowait;
	/* the headroom at which a writer faults pages in itself: 0 =
	 * RESERVE_HEADROOM_MIN, UINT64_MAX = never (the reserve only) */
	uint64_t headroom_min;
	uint64_t target;		/* the allocator's reserve, pages; 0 = none */
};

/*
 * Set the allocator's reserve target and start the refill and headroom
 * threads.  Returns 0 or -errno.
 */
int reserve_create(const struct reserve_config *cfg, struct reserve **out);
/* Stops and joins the threads (NULL is a no-op). */
void reserve_destroy(struct reserve *rs);

/*
 * Allocate for a write: an object of @size bytes into *@h, or (@size 0)
 * a whole page into *@page.  The caller holds no lock (a step may wait,
 * briefly, for the reclaim or refill threads).  @pace is the caller's own
 * counter (one per thread: no shared write), which paces its kicks of the
 * refill thread.  Returns 0, -ENOSPC at the memory limit, -EINVAL for a
 * bad size, or -ENOMEM when no page could be had without a risk of
 * waiting on our own device (counted in reserve_failed()).
 */
int reserve_get(struct reserve *rs, size_t size, zspool_handle_t *h,
		void **page, unsigned *pace);

/* The allocator's reserve target in pages (0 = none); refills at once. */
void reserve_set_target(struct reserve *rs, uint64_t pages);
/* Write allocations refused with -ENOMEM (the stats' nowait_failed). */
uint64_t reserve_failed(struct reserve *rs);

/*
 * The headroom: how much memory this process may still take before the
 * kernel has to reclaim for it (the smallest of its memory cgroup's and
 * every ancestor's limit minus usage, and MemAvailable), measured now,
 * opening the files (tests).  UINT64_MAX when nothing limits.
 */
uint64_t headroom_measure(void);

#endif
