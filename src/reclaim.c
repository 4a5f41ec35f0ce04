// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reclaim: the deferred free of zspool objects (the user-space form of
 * zram's "defer zs_free() in the swap slot free notification path"): a
 * bounded queue of handle batches and the worker threads that free them.
 *
 * The queue.  Producers batch handles in a 4 KiB node (a page from the
 * pool, RECLAIM_NODE_HANDLES = 508 handles) of their own, with no lock and
 * no shared cache line, and hand the node over with one short mutex
 * section (reclaim_push()): the node is linked at the tail, or, when the
 * tail has room, copied into it so that many small discards do not cost
 * one node each.  The mutex protects only list links and counters; no
 * allocator lock is ever taken under it, so a discard never waits for a
 * class lock, a zspage free or a madvise.  The queue is bounded by
 * queue_max handles, which also bounds node memory (adjacent nodes are
 * more than half full, so at most 2 * queue_max / 508 + 1 of them); a
 * full queue makes the producer free synchronously.
 *
 * Why a mutex and not a lock-free list: the producer side is already
 * batched (one push per 508 handles, or per discard call), so the mutex is
 * taken rarely and held for a few pointer writes (or one <= 4 KiB copy);
 * a Treiber stack would save little and make node recycling ABA-prone.
 *
 * Workers take the whole queue at once, free each handle node with
 * zspool_free_batch() (which sorts by size class and takes each class lock
 * once per node), walk destroyed tables through the owner's callback, and
 * after the queue runs dry return empty zspages to the kernel with
 * zspool_tidy() (compacting first when frees left the pool sparse), which
 * keeps as many free pages as allocations took in the last second or so
 * (zspool_demand()), up to ZSPOOL_KEEP_MAX.  While a swap workload both
 * frees (discards) and allocates (swap-outs), releasing every freed page
 * made the refill thread fault as many back in, at about 23 us a fault on
 * this machine.  When allocations stop - a swapping process killed - the
 * demand is 0 once none came for 50 ms, and a worker idle for
 * RECLAIM_IDLE_TRIM_NS after a trim that kept pages releases them.  A worker
 * that finds only a few handles waits up to RECLAIM_GATHER_NS for more,
 * and after a batch it lingers as long before it goes idle; producers
 * wake only an idle worker (or any, when a full node's worth is queued).
 * A stream of discards thus costs about one wake-up per gather period, not
 * one futex call per discard, and frees lag by a few milliseconds at most
 * (a drain cuts the wait short).  Workers run SCHED_BATCH: the same CPU
 * share as any thread, but a wake-up never preempts the running thread,
 * so a worker woken by a discard does not preempt the discarding thread
 * on its own CPU and make the discard wait for the very frees it
 * deferred (bench/store_bench.c measures the discard's latency).
 *
 * Draining.  Every push gets a sequence number (enq_seq).  A worker that
 * detaches the queue takes the contiguous range (detached_seq, enq_seq] and
 * records its start in inflight_lo until it has freed it.  Everything
 * pushed before a drain with target T is freed once detached_seq >= T and
 * no worker holds a range starting at or below T.  No handle is ever
 * buffered outside the queue between calls (a producer pushes its node
 * before its discard returns), so a drain cannot miss one.
 *
 * Locks: one, the queue's lock, a leaf; the pool's locks are taken only
 * outside it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "reclaim.h"
#include "thread.h"

#define RECLAIM_GATHER_NS (2 * 1000 * 1000u)
#define RECLAIM_WAKE_HANDLES RECLAIM_NODE_HANDLES
#define RECLAIM_FREE_NODES_MAX 64
#define RECLAIM_IDLE_TRIM_NS (200 * 1000 * 1000u)	/* then the rest goes */

_Static_assert(sizeof(struct reclaim_node) == ZSPOOL_PAGE_SIZE, "a node is one pool page");

struct reclaim_worker {
	struct reclaim *r;
	pthread_t tid;
	uint64_t inflight_lo;		/* protected by r->lock; UINT64_MAX idle */
};

struct reclaim {
	struct zspool *pool;
	size_t queue_max;
	bool nowait;			/* see reclaim_config.nowait */
	uint64_t (*free_table)(void *arg, void *table);
	void *arg;

	pthread_mutex_t lock;
	pthread_cond_t work_cv;		/* workers wait for work; CLOCK_MONOTONIC */
	pthread_cond_t drain_cv;	/* drainers wait for workers */
	struct reclaim_node *head;	/* protected by lock */
	struct reclaim_node *tail;	/* protected by lock */
	size_t queued_handles;		/* protected by lock; handle nodes in the list */
	struct reclaim_node *free_nodes; /* protected by lock */
	unsigned nr_free;		/* protected by lock */
	uint64_t enq_seq;		/* protected by lock */
	uint64_t detached_seq;		/* protected by lock */
	unsigned drainers;		/* protected by lock */
	unsigned idle_workers;		/* protected by lock; waiting for work */
	bool stop;			/* protected by lock */
	bool kept;			/* protected by lock; the last trim kept pages */
	uint64_t queued_pages;		/* protected by lock; queue + in flight */
	uint64_t queued_bytes;		/* protected by lock */
	uint64_t batches;		/* protected by lock */
	uint64_t freed_pages;		/* protected by lock */
	_Atomic uint64_t pending;	/* mirror of queued_pages; relaxed peeks */

	unsigned nworkers;
	struct reclaim_worker workers[];
};


/* Queue nodes are pool pages; see reclaim_config.nowait. */
static struct reclaim_node *node_alloc(struct reclaim *r, unsigned flags)
{
	return zspool_page_alloc(r->pool, flags);
}

/* @node emptied for reuse, or a new one when @node is NULL (may be NULL). */
static struct reclaim_node *node_ready(struct reclaim *r,
				       struct reclaim_node *node)
{
	if (!node)
		node = node_alloc(r, r->nowait ? ZSPOOL_NOWAIT : 0);
	if (node) {
		node->next = NULL;
		node->table = NULL;
		node->bytes = 0;
		node->n = 0;
	}
	return node;
}

static void node_free(struct reclaim *r, struct reclaim_node *node)
{
	if (node)
		zspool_page_free(r->pool, node);
}

/* Called with r->lock held. */
static bool reclaim_drained(const struct reclaim *r, uint64_t target)
{
	if (r->detached_seq < target)
		return false;
	for (unsigned i = 0; i < r->nworkers; i++)
		if (r->workers[i].inflight_lo <= target)
			return false;
	return true;
}

static void reclaim_gather_wait(struct reclaim *r)
{
	struct timespec ts;

	thread_deadline(&ts, RECLAIM_GATHER_NS);
	pthread_cond_timedwait(&r->work_cv, &r->lock, &ts);
}

/*
 * After a drain: is a quarter of the pool's pages (and at least 1 MiB)
 * holding nothing?  zsmalloc compacts from a shrinker when the kernel is
 * short of memory; a daemon gets no such call, so it compacts when frees
 * have left its zspages this sparse (a swap-heavy process that exits
 * leaves most of them nearly empty).  zram's pages_compacted counts it.
 */
static bool reclaim_fragmented(struct zspool *pool)
{
	struct zspool_stats s;
	uint64_t used;

	zspool_stats(pool, &s);
	used = s.pages_used * ZSPOOL_PAGE_SIZE;
	return used > s.bytes_allocated + s.bytes_allocated / 4 + (1u << 20);
}

static void *reclaim_worker_main(void *arg)
{
	struct reclaim_worker *w = arg;
	struct reclaim *r = w->r;
	bool linger = false, waited = false;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct reclaim_node *batch, *node, *next, *spill = NULL;
		uint64_t objs = 0, bytes = 0, nodes = 0, keep = 0;
		bool empty;

		if (!r->head) {
			if (r->stop)
				break;
			if (linger) {
				/* Not idle yet: pushes meanwhile need no wake-up. */
				linger = false;
				reclaim_gather_wait(r);
				waited = true;
				continue;
			}
			r->idle_workers++;
			if (r->kept) {
				/* what the last trim kept goes once frees stop */
				struct timespec ts;

				thread_deadline(&ts, RECLAIM_IDLE_TRIM_NS);
				if (pthread_cond_timedwait(&r->work_cv, &r->lock,
							   &ts) == ETIMEDOUT &&
				    r->kept && !r->head && !r->stop) {
					r->kept = false;
					pthread_mutex_unlock(&r->lock);
					zspool_trim(r->pool);
					pthread_mutex_lock(&r->lock);
				}
			} else {
				pthread_cond_wait(&r->work_cv, &r->lock);
			}
			r->idle_workers--;
			waited = false;
			continue;
		}
		if (!waited && r->queued_handles < RECLAIM_WAKE_HANDLES &&
		    !r->drainers && !r->stop && !r->head->table) {
			reclaim_gather_wait(r);
			waited = true;
			if (!r->head)
				continue;
		}
		batch = r->head;
		r->head = r->tail = NULL;
		r->queued_handles = 0;
		w->inflight_lo = r->detached_seq + 1;
		r->detached_seq = r->enq_seq;
		pthread_mutex_unlock(&r->lock);

		for (node = batch; node; node = node->next) {
			if (node->table)
				r->free_table(r->arg, node->table);
			else
				zspool_free_batch(r->pool, node->h, node->n);
			objs += node->n;
			bytes += node->bytes;
			nodes++;
		}

		pthread_mutex_lock(&r->lock);
		for (node = batch; node; node = next) {
			next = node->next;
			if (r->nr_free < RECLAIM_FREE_NODES_MAX) {
				node->next = r->free_nodes;
				r->free_nodes = node;
				r->nr_free++;
			} else {
				node->next = spill;
				spill = node;
			}
		}
		r->queued_pages -= objs;
		r->queued_bytes -= bytes;
		atomic_store_explicit(&r->pending, r->queued_pages, memory_order_relaxed);
		r->freed_pages += objs;
		r->batches += nodes;
		w->inflight_lo = UINT64_MAX;
		if (r->drainers)
			pthread_cond_broadcast(&r->drain_cv);
		empty = !r->head;
		pthread_mutex_unlock(&r->lock);

		for (node = spill; node; node = next) {
			next = node->next;
			node_free(r, node);
		}
		if (empty) {
			/* what allocations took in the last second stays */
			keep = zspool_tidy(r->pool, reclaim_fragmented(r->pool));
		}
		pthread_mutex_lock(&r->lock);
		if (empty)
			r->kept = keep > 0;
		linger = true;
		waited = false;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void reclaim_stop_threads(struct reclaim *r, unsigned started)
{
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->work_cv);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(r->workers[i].tid, NULL);
}

static void reclaim_free(struct reclaim *r)
{
	struct reclaim_node *node, *next;

	for (node = r->free_nodes; node; node = next) {
		next = node->next;
		node_free(r, node);
	}
	pthread_cond_destroy(&r->drain_cv);
	pthread_cond_destroy(&r->work_cv);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int reclaim_create(const struct reclaim_config *cfg, struct reclaim **out)
{
	unsigned n = cfg->threads ? cfg->threads : 1;
	struct reclaim *r;
	unsigned started = 0;
	int ret;

	if (n > 64 || !cfg->pool || !cfg->free_table)
		return -EINVAL;
	r = calloc(1, sizeof(*r) + n * sizeof(r->workers[0]));
	if (!r)
		return -ENOMEM;
	r->pool = cfg->pool;
	r->queue_max = cfg->queue_max ? cfg->queue_max : RECLAIM_QUEUE_DEFAULT;
	r->nowait = cfg->nowait;
	r->free_table = cfg->free_table;
	r->arg = cfg->arg;
	r->nworkers = n;
	pthread_mutex_init(&r->lock, NULL);
	thread_cond_init(&r->work_cv);
	pthread_cond_init(&r->drain_cv, NULL);
	/* A few nodes up front, so the first discards need no malloc. */
	for (unsigned i = 0; i < 16; i++) {
		struct reclaim_node *node = node_alloc(r, 0);

		if (!node)
			break;
		node->next = r->free_nodes;
		r->free_nodes = node;
		r->nr_free++;
	}
	for (; started < n; started++) {
		r->workers[started].r = r;
		r->workers[started].inflight_lo = UINT64_MAX;
		ret = thread_start(&r->workers[started].tid, "zramfuse-reclm",
				   THREAD_BATCH, reclaim_worker_main,
				   &r->workers[started]);
		if (ret)
			goto fail;
	}
	*out = r;
	return 0;
fail:
	reclaim_stop_threads(r, started);
	reclaim_free(r);
	return ret;
}

void reclaim_destroy(struct reclaim *r)
{
	if (!r)
		return;
	reclaim_stop_threads(r, r->nworkers);
	reclaim_free(r);
}

struct reclaim_node *reclaim_node_get(struct reclaim *r)
{
	struct reclaim_node *node;

	pthread_mutex_lock(&r->lock);
	node = r->free_nodes;
	if (node) {
		r->free_nodes = node->next;
		r->nr_free--;
	}
	pthread_mutex_unlock(&r->lock);
	return node_ready(r, node);
}

void reclaim_node_put(struct reclaim *r, struct reclaim_node *node)
{
	if (!node)
		return;
	pthread_mutex_lock(&r->lock);
	if (r->nr_free < RECLAIM_FREE_NODES_MAX) {
		node->next = r->free_nodes;
		r->free_nodes = node;
		r->nr_free++;
		node = NULL;
	}
	pthread_mutex_unlock(&r->lock);
	node_free(r, node);
}

/* Called with r->lock held: account a push and wake a worker if useful. */
static void reclaim_pushed(struct reclaim *r, uint64_t objs, uint64_t bytes)
{
	r->queued_pages += objs;
	r->queued_bytes += bytes;
	atomic_store_explicit(&r->pending, r->queued_pages, memory_order_relaxed);
	r->enq_seq++;
	if (r->idle_workers || r->queued_handles >= RECLAIM_WAKE_HANDLES)
		pthread_cond_signal(&r->work_cv);
}

int reclaim_push(struct reclaim *r, struct reclaim_node **np)
{
	struct reclaim_node *node = *np, *tail;
	uint32_t n = node->n;
	uint64_t bytes = node->bytes;

	pthread_mutex_lock(&r->lock);
	if (r->queued_handles + n > r->queue_max) {
		pthread_mutex_unlock(&r->lock);
		return -EAGAIN;
	}
	tail = r->tail;
	if (tail && !tail->table && tail->n + n <= RECLAIM_NODE_HANDLES) {
		memcpy(tail->h + tail->n, node->h, n * sizeof(node->h[0]));
		tail->n += n;
		tail->bytes += bytes;
		node->n = 0;
		node->bytes = 0;
	} else {
		node->next = NULL;
		if (tail)
			tail->next = node;
		else
			r->head = node;
		r->tail = node;
		node = r->free_nodes;
		if (node) {
			r->free_nodes = node->next;
			r->nr_free--;
		}
	}
	r->queued_handles += n;
	reclaim_pushed(r, n, bytes);
	pthread_mutex_unlock(&r->lock);

	*np = node_ready(r, node);
	return 0;
}

void reclaim_push_table(struct reclaim *r, void *table, uint64_t objs,
			uint64_t bytes)
{
	struct reclaim_node *node = reclaim_node_get(r);

	if (!node) {
		r->free_table(r->arg, table);
		return;
	}
	node->table = table;
	node->n = (uint32_t)(objs > UINT32_MAX ? UINT32_MAX : objs);
	node->bytes = bytes;
	pthread_mutex_lock(&r->lock);
	if (r->tail)
		r->tail->next = node;
	else
		r->head = node;
	r->tail = node;
	reclaim_pushed(r, node->n, bytes);
	pthread_cond_signal(&r->work_cv);
	pthread_mutex_unlock(&r->lock);
}

void reclaim_drain(struct reclaim *r)
{
	uint64_t target;

	pthread_mutex_lock(&r->lock);
	target = r->enq_seq;
	if (!reclaim_drained(r, target)) {
		r->drainers++;
		pthread_cond_broadcast(&r->work_cv);
		while (!reclaim_drained(r, target))
			pthread_cond_wait(&r->drain_cv, &r->lock);
		r->drainers--;
	}
	pthread_mutex_unlock(&r->lock);
}

bool reclaim_pending(struct reclaim *r)
{
	return atomic_load_explicit(&r->pending, memory_order_relaxed) != 0;
}

void reclaim_stats(struct reclaim *r, struct reclaim_stats *out)
{
	pthread_mutex_lock(&r->lock);
	out->queued_pages = r->queued_pages;
	out->queued_bytes = r->queued_bytes;
	out->batches = r->batches;
	out->freed_pages = r->freed_pages;
	pthread_mutex_unlock(&r->lock);
}
