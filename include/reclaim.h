/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reclaim: the deferred free of zspool objects (see src/reclaim.c).
 * Internal to the store.
 *
 * A producer (a thread discarding pages) fills a struct reclaim_node of its
 * own with handles, without any lock, and hands the node over with
 * reclaim_push(), which takes one short mutex (never an allocator lock),
 * links the node (or copies it into the queue's tail node when that has
 * room), and gives the producer an empty node back.  Worker threads take
 * the whole queue at once, free each node with zspool_free_batch() (one
 * class lock per class per batch), and give emptied zspages back to the
 * kernel with zspool_trim() when the queue runs dry.  A destroyed file's
 * whole table is queued the same way (reclaim_push_table()) and freed by a
 * worker through the owner's callback.
 *
 * The queue is bounded (queue_max handles): reclaim_push() refuses with
 * -EAGAIN rather than grow, and the caller frees synchronously.
 */
#ifndef ZRAMFUSE_RECLAIM_H
#define ZRAMFUSE_RECLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zspool.h"

#define RECLAIM_NODE_HANDLES 508	/* a node is one 4 KiB page */

struct reclaim;

/* One batch of handles; owned by one thread until pushed. */
struct reclaim_node {
	struct reclaim_node *next;	/* queue link, protected by the queue lock */
	void *table;			/* non-NULL: a whole table, see free_table */
	uint64_t bytes;			/* sum of the objects' sizes */
	uint32_t n;			/* handles in h[] (or the table's objects) */
	uint32_t pad;
	zspool_handle_t h[RECLAIM_NODE_HANDLES];
};

struct reclaim_config {
	struct zspool *pool;
	unsigned threads;		/* workers; 0 = 1 */
	size_t queue_max;		/* handles; 0 = RECLAIM_QUEUE_DEFAULT */
	/*
	 * Queue nodes are pages from the pool; with nowait they come only
	 * from its pre-faulted reserve, and a discard that finds none frees
	 * synchronously instead of waiting for the kernel.
	 */
	bool nowait;
	/*
	 * Free a table pushed with reclaim_push_table(); runs on a worker
	 * (or in reclaim_push_table()'s caller when it cannot queue).
	 * Returns the number of objects freed.
	 */
	uint64_t (*free_table)(void *arg, void *table);
	void *arg;
};

/* 2^18 handles: 1 GiB of pages, at most about 2 MiB of queue nodes. */
#define RECLAIM_QUEUE_DEFAULT (1u << 18)

struct reclaim_stats {
	uint64_t queued_pages;		/* objects waiting (queue + being freed) */
	uint64_t queued_bytes;
	uint64_t batches;		/* nodes freed by the workers */
	uint64_t freed_pages;		/* objects freed by the workers */
};

int reclaim_create(const struct reclaim_config *cfg, struct reclaim **out);
/* Frees everything queued, stops and joins the threads. */
void reclaim_destroy(struct reclaim *r);

/* An empty node for a producer; NULL when memory is short. */
struct reclaim_node *reclaim_node_get(struct reclaim *r);
void reclaim_node_put(struct reclaim *r, struct reclaim_node *node);

/*
 * Queue the handles of *@np (0 < n).  Returns 0 and an empty node in *@np
 * (NULL if none could be had: the caller then frees synchronously), or
 * -EAGAIN when the queue is full: nothing was queued and *@np is as it was.
 */
int reclaim_push(struct reclaim *r, struct reclaim_node **np);
/* Queue a table holding @objs objects of @bytes bytes.  Never fails. */
void reclaim_push_table(struct reclaim *r, void *table, uint64_t objs,
			uint64_t bytes);

/* Wait until everything queued before this call has been freed. */
void reclaim_drain(struct reclaim *r);
/* True when something is queued or being freed (a cheap, racy peek). */
bool reclaim_pending(struct reclaim *r);

void reclaim_stats(struct reclaim *r, struct reclaim_stats *out);

#endif
