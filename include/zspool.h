/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zspool: a zsmalloc-style allocator for compressed pages.
 *
 * Objects of 1..ZSPOOL_MAX_OBJ bytes are packed into size classes 16 bytes
 * apart; a class's objects live in "zspages" of 1..max_zspage_pages pages
 * and may straddle page boundaries inside a zspage.  Callers hold opaque,
 * indirect handles, so compaction can move an object without telling its
 * owner.  Pages come from large mmap'ed chunks; pages of empty zspages go
 * first to a reserve of resident pages, and the rest back to the kernel.
 *
 * All functions are thread-safe.  A handle must not be freed while another
 * thread still reads or writes it (the owner - the store's slot lock -
 * guarantees that); any other mix of calls may run concurrently.
 */
#ifndef ZRAMFUSE_ZSPOOL_H
#define ZRAMFUSE_ZSPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZSPOOL_PAGE_SIZE 4096u
#define ZSPOOL_MAX_OBJ ZSPOOL_PAGE_SIZE

/* A handle; 0 is never a valid handle. */
typedef uintptr_t zspool_handle_t;

struct zspool;

struct zspool_config {
	unsigned max_zspage_pages;	/* chain limit, 1..8; 0 = 8 */
	uint64_t mem_limit_pages;	/* 0 = no limit */
	uint64_t reserve_pages;		/* resident free pages to keep; 0 = none */
};

/* Flags for zspool_alloc(). */
enum {
	/*
	 * Never wait for the kernel to find a page: a new zspage may only be
	 * built from reserve pages.  Fails with -ENOMEM when the reserve
	 * cannot supply it.
	 */
	ZSPOOL_NOWAIT = 1u << 0,
};

struct zspool_class_stats {
	unsigned size;			/* largest object size of this class */
	unsigned pages_per_zspage;
	unsigned objs_per_zspage;
	uint64_t zspages;
	uint64_t objs_allocated;	/* live objects */
	uint64_t bytes_allocated;	/* sum of their requested sizes */
};

struct zspool_stats {
	uint64_t pages_used;		/* pages in zspages (zram mem_used_total/4096) */
	uint64_t pages_used_max;	/* high-water mark of pages_used */
	uint64_t mem_limit_pages;	/* 0 = none */
	uint64_t objs_allocated;
	uint64_t bytes_allocated;	/* sum of live objects' requested sizes */
	uint64_t pages_compacted;	/* pages freed by compaction, cumulative */
	uint64_t reserve_pages;		/* resident free pages held now */
	uint64_t reserve_target;
	uint64_t chunks_mapped;		/* mmap'ed chunks */
	uint64_t alloc_nowait_failed;	/* ZSPOOL_NOWAIT allocations refused */
	uint64_t pages_grown;		/* pages added by zspool_grow() */
	uint64_t meta_bytes;		/* besides pages_used: handle table, zspage
					   descriptors, free-handle arrays, chunk
					   bitmaps, class state */
};

int zspool_create(const struct zspool_config *cfg, struct zspool **out);
/* Frees everything; outstanding handles become invalid. */
void zspool_destroy(struct zspool *pool);

/*
 * Allocate an object of @size bytes (1..ZSPOOL_MAX_OBJ).  Returns 0 and a
 * handle, -EINVAL for a bad size, -ENOSPC when a new zspage would exceed
 * the memory limit, -ENOMEM when no page can be had (see ZSPOOL_NOWAIT).
 * On failure nothing already stored changes.
 */
int zspool_alloc(struct zspool *pool, size_t size, unsigned flags,
		 zspool_handle_t *out);
void zspool_free(struct zspool *pool, zspool_handle_t h);
/*
 * Free @n handles at once, grouped so that each size class's lock is taken
 * once per batch.  The array is reordered.
 */
void zspool_free_batch(struct zspool *pool, zspool_handle_t *h, size_t n);

/* The requested size of the object (what zspool_alloc() was given). */
size_t zspool_obj_size(struct zspool *pool, zspool_handle_t h);
/*
 * The smallest object size of the huge class: objects this large take a
 * page each (zram's huge_class_size), so storing one saves nothing.
 */
size_t zspool_huge_size(struct zspool *pool);

/* Copy @len bytes (<= the object's size) into / out of an object. */
void zspool_write(struct zspool *pool, zspool_handle_t h,
		  const void *src, size_t len);
void zspool_read(struct zspool *pool, zspool_handle_t h,
		 void *dst, size_t len);

/*
 * Map an object for reading: returns a pointer to its bytes, either in
 * place or copied into @bounce (ZSPOOL_MAX_OBJ bytes, the caller's) when it
 * straddles two pages.  The object cannot move until zspool_unmap(); keep
 * the mapping short and take no other zspool call meanwhile.
 */
const void *zspool_map(struct zspool *pool, zspool_handle_t h, void *bounce);
void zspool_unmap(struct zspool *pool, zspool_handle_t h);

/*
 * A whole page for the caller's own metadata (the store's slot tables),
 * from the same resident pages and reserve as zspages, so that a
 * ZSPOOL_NOWAIT caller never faults on it either.  Counted in meta_bytes,
 * not pages_used.  Returns NULL when no page
 * can be had.  The page's contents are undefined.
 */
void *zspool_page_alloc(struct zspool *pool, unsigned flags);
void zspool_page_free(struct zspool *pool, void *page);

/* Move objects out of sparse zspages; returns the number of pages freed. */
uint64_t zspool_compact(struct zspool *pool);
/*
 * The same, but up to @keep of the pages freed stay resident beyond the
 * reserve target, for the caller's next allocations: a caller that
 * compacts between batches of new objects (read-back recompression)
 * would otherwise release pages and fault them in again, a madvise (and
 * its TLB shootdown) and a page fault per page.
 */
uint64_t zspool_compact_keep(struct zspool *pool, uint64_t keep);

/*
 * Give free pages beyond the reserve target back to the kernel
 * (madvise); returns the number of pages released.
 */
uint64_t zspool_trim(struct zspool *pool);
/*
 * Pages that zspages (not zspool_page_alloc()) took in the last half
 * second to second.  A caller that trims while allocations go
 * on keeps about that many (zspool_tidy(), zspool_compact_keep()):
 * the next moment wants as many again, and releasing them would cost a
 * madvise now and a fault when the refill thread takes them in again.
 * When allocations stop, it is 0 from the first call that finds none for
 * 50 ms (an earlier call saw the last one).
 */
uint64_t zspool_demand(struct zspool *pool);
/*
 * What an owner's background thread calls after a batch of frees or of
 * moves: with @compact, move objects out of sparse zspages first (as
 * zspool_compact() does); then, whether or not any moved, release free
 * pages beyond the reserve target and the pool's demand (zspool_demand(),
 * at most ZSPOOL_KEEP_MAX).  Returns the pages kept for that demand, 0 when
 * everything was released: an owner that kept some calls again once its
 * thread has been idle a while, and then keeps none.
 */
#define ZSPOOL_KEEP_MAX 8192u	/* pages kept for the demand, 32 MiB */
uint64_t zspool_tidy(struct zspool *pool, bool compact);
/*
 * zspool_trim(), but only runs of at least @min_run adjacent free pages
 * (one madvise, and one TLB shootdown, per run): cheap enough to call after
 * every batch of frees.  Short runs stay resident until zspool_trim() or
 * until allocations reuse them.  @min_run 0 or 1 = zspool_trim().
 */
uint64_t zspool_trim_runs(struct zspool *pool, unsigned min_run);
/*
 * Top the reserve up to its target by faulting in fresh pages (and handle
 * slots ahead of use); may wait for the kernel.  Returns the number of
 * pages added.  Call from a background thread, never on the I/O path.
 * zspool_refill_round() adds at most @max pages (0: no bound), so that a
 * caller can publish its progress between rounds.
 */
uint64_t zspool_refill(struct zspool *pool);
uint64_t zspool_refill_round(struct zspool *pool, unsigned max);
/*
 * Fault in @pages more resident pages whatever the reserve target, and
 * handle slots ahead of use; takes no lock while it faults.  For a writer
 * that found the reserve empty while memory is plentiful: it may wait for
 * the kernel, so the caller must hold no lock that I/O needs.  Returns
 * the pages added (fewer when no memory could be mapped).
 */
uint64_t zspool_grow(struct zspool *pool, unsigned pages);
/* Is the reserve below half its target (time to refill)?  A racy peek. */
bool zspool_reserve_low(struct zspool *pool);

void zspool_set_mem_limit(struct zspool *pool, uint64_t pages);
void zspool_set_reserve(struct zspool *pool, uint64_t pages);
/* Reset pages_used_max to the current pages_used (zram's mem_used_max). */
void zspool_reset_max(struct zspool *pool);

void zspool_stats(struct zspool *pool, struct zspool_stats *st);
/* Number of distinct (merged) size classes, and per-class figures. */
unsigned zspool_nr_classes(struct zspool *pool);
void zspool_class_stats(struct zspool *pool, unsigned idx,
			struct zspool_class_stats *st);

/*
 * Expensive consistency check of every class (debug builds and tests).
 * Returns 0 or -EUCLEAN with a message on stderr.
 */
int zspool_check(struct zspool *pool);

#endif
