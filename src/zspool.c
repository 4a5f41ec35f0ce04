/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zspool: a zsmalloc-style allocator for compressed pages.
 *
 * Data structure
 * --------------
 * Size classes are 16 bytes apart from 32 to 4096.  Each class packs its
 * objects back to back into "zspages" of 1..max_zspage_pages pages, the
 * count chosen for the least tail waste; adjacent sizes that end up with
 * the same pages-per-zspage and objects-per-zspage share one class (which
 * serves the largest of them).  Objects straddle page boundaries freely.
 *
 * Pages of a zspage are NOT contiguous: a zspage holds an array of up to 8
 * page pointers, like zsmalloc's chain of struct pages.  The price is that
 * an object straddling two pages is copied in two pieces (and zspool_map()
 * copies it into the caller's bounce buffer); the gain is that every free
 * page is as good as any other, so the reserve of resident pages can feed
 * any class, a 1-page hole never blocks an 8-page zspage, and the page
 * allocator is a bitmap.  Contiguous zspages would need a buddy-like
 * allocator over the chunks, and a reserve split by run length.  The cost,
 * measured with bench/zspool_bench on lz4 sizes of real pages (mean ~2.2
 * KiB, so about half the objects straddle): zspool_map() + unmap, which
 * bounces the straddling objects, ~4 M/s in random order on one thread,
 * against ~1.3 M/s for zspool_read(), which copies every object.  The
 * bounce is a memcpy of at most 4 KiB next to an lz4 decompression of the
 * same bytes on the store's read path.
 *
 * Pages come from 32 MiB chunks mmap'ed with MAP_NORESERVE (never one
 * mapping per zspage: the kernel allows 65,530 mappings), each between
 * two PROT_NONE guard pages (pool_mmap(), as the handle blocks below).
 * Without them the kernel merges a chunk with an adjacent anonymous
 * mapping of the same flags - a malloc arena's heap, typically - into
 * one VMA, and then a deadlock is one swap write away: the refill thread
 * faults a chunk page in, its memory cgroup is full, and reclaim waits
 * for a swap page's writeback to our own device while the fault holds
 * the VMA's lock for reading; a serving thread whose malloc grows its
 * arena (mprotect) must lock that same VMA for writing, and waits, with
 * the swap write it was to serve.  (cgroup v1 reclaim waits on
 * writeback; PR_SET_IO_FLUSHER would spare the refill thread, but needs
 * CAP_SYS_RESOURCE.)  Guarded, a chunk is a VMA of its own that nothing
 * but a fault or a release ever locks, and neither excludes the other.  A page is in a
 * zspage or a descriptor slab, or free; a free page is either resident
 * (the reserve, and what frees left behind) or released to the kernel
 * (never-touched pages count as released).  Each chunk keeps one bitmap
 * per free state; pages are taken lowest address first, resident before
 * released, so that use stays dense and trims find long runs: a trim
 * releases resident pages beyond the reserve target from the highest
 * chunk down, runs of adjacent pages, up to TRIM_RUNS of them in one
 * process_madvise() (one TLB flush; see release_runs()).  Freeing a page never
 * writes to it.  Chunks are unmapped only by zspool_destroy().  Release is
 * MADV_DONTNEED_LOCKED (MADV_DONTNEED on kernels that refuse it); frees and
 * compaction trim by themselves only once the excess is large (more than
 * AUTO_TRIM_MIN pages and more than the pages in use):
 * releasing right after every free would cost a madvise per freed zspage,
 * as random frees leave few adjacent free pages, and would hand the kernel
 * pages that the next allocations want back.  Each madvise also costs a
 * TLB shootdown on every CPU running one of our threads: measured, 167k
 * madvise calls per benchmark run made two threads slower than one.  So
 * automatic trims release only runs of at least AUTO_TRIM_RUN pages; the
 * owner calls zspool_tidy() after batches of frees, keeping what
 * allocations took lately (zspool_demand()), and zspool_trim() (everything)
 * at quiet moments or when it must; compaction trims all but what its
 * caller asks to keep.  Released pages come back through the refill
 * thread, populated a run at a time (populate()), not by a write fault
 * per page.
 *
 * Each zspage has a descriptor (struct zspage): its page pointers and, per
 * object, an owner word: the index of the handle that owns the object, or a
 * free-list link.  Objects carry no in-band header (a 4096-byte object fits
 * a page; compaction finds an object's handle in the owner array).
 * Descriptors are carved from pool pages, per class (their size depends on
 * the class), 64-byte aligned; a descriptor slab page is returned to the
 * pool when its last descriptor goes.
 *
 * Handles are indices into a handle table of 8-byte slots, allocated in
 * blocks of 2^14 slots (128 KiB, pool_mmap()'ed, faulted in as used).  A
 * live slot holds the object's location: descriptor pointer, object index,
 * requested size, plus a lock bit.  Per object, zspool therefore spends 8
 * bytes of handle slot and 4 bytes of owner word, plus its share of the
 * descriptor; zspool_stats() reports all of it (and the free-handle
 * arrays, chunk bitmaps and class state) as meta_bytes.  Free handles are
 * kept in arrays, a small stack per class refilled from / drained to a
 * pool array in batches of HANDLE_BATCH, so the hot path takes no
 * pool-wide lock and never walks a chain of slots.  The class of a handle
 * is a function of the size in its slot, so free finds its class lock
 * without following any pointer.
 *
 * The huge class (one page, one object: the raw incompressible pages and
 * the sizes that merge with them) has no descriptor at all: its slot holds
 * the page address, which is page-aligned where descriptors never are.
 *
 * Fullness groups: a class's zspages sit on NR_GROUPS - 1 lists by in-use
 * fraction plus one list of full zspages.  Allocation takes the fullest
 * non-full zspage; compaction moves objects from the emptiest zspage into
 * the fullest ones while the class has at least a zspage's worth of free
 * object slots, and frees the emptied zspages.
 *
 * Locking
 * -------
 * Lock order (take left before right; never the reverse):
 *
 *   class->lock  ->  handle-slot lock bit (trylock only)
 *   class->lock  ->  pool->page_lock
 *   class->lock  ->  pool->handle_lock
 *   class locks among themselves: ascending index (only zspool_check()
 *   holds more than one)
 *
 * - class->lock (a mutex per merged class) protects the class's fullness
 *   lists, its descriptors (inuse, free list, owner words), its descriptor
 *   slabs, its cached free handles and its counters.  Alloc and free take
 *   only this lock, plus page_lock once per zspage built or freed.
 * - pool->page_lock protects the chunks and their free-page bitmaps
 *   (and mapping new chunks).
 * - pool->handle_lock protects the pool's free-handle array and the growth
 *   of the handle table.
 * - The handle-slot lock bit (bit 0 of a live handle slot, hslot_lock())
 *   pins an object in place: zspool_read/write/map take it (spinning),
 *   compaction try-locks it before moving an object and gives up on that
 *   zspage if it is busy.  While the bit is set nobody but its holder
 *   writes the slot.  Free needs no bit: the caller guarantees no access
 *   to a handle being freed, and compaction is excluded by the class
 *   lock.  The store's page-slot lock (src/store_core.c) is taken before
 *   it, never under it.
 * - Every access to a handle slot is atomic, relaxed where it takes no
 *   lock bit: zspool_refill() prefaults the table with an atomic add of 0
 *   to slots that a zspool_alloc() or a free may be filling in or clearing
 *   at that moment, under a class lock the refill does not hold.
 *
 * Readers touch a descriptor without the class lock: its cls and pages[]
 * are written before the descriptor's first handle is published and never
 * change while an object lives in it.  Counters and fields read without
 * their lock are C11 atomics, relaxed (statistics and hints, no ordering
 * implied); the handle-slot lock bit takes acquire and releases.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "thread.h"
#include "zspool.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

#define PAGE_SHIFT 12
#define PAGE_SIZE ZSPOOL_PAGE_SIZE
#define MAX_ZSPAGE_PAGES 8u
#define MIN_SIZE 32u
#define SIZE_STEP 16u
#define NR_SIZES ((PAGE_SIZE - MIN_SIZE) / SIZE_STEP + 1)	/* 255 */
#define MAX_OBJS 512u		/* object index fits 9 bits */

#define CHUNK_PAGES 8192u	/* 32 MiB */
#define CHUNK_WORDS (CHUNK_PAGES / 64)
#define AUTO_TRIM_MIN 8192u	/* excess resident pages that trigger a trim */
#define AUTO_TRIM_RUN 16u	/* shortest run an automatic trim releases */
#define TRIM_RUNS 256u		/* runs released per trim round (one call) */
#define DEMAND_WINDOW_NS 500000000ull	/* zspool_demand()'s window */
#define DEMAND_IDLE_NS 50000000ull	/* no allocation for this long: no demand */

#define NR_GROUPS 10u		/* 0..8 by in-use fraction, 9 = full */
#define GROUP_FULL (NR_GROUPS - 1)

#define HBLOCK_SHIFT 14u
#define HBLOCK_SLOTS (1u << HBLOCK_SHIFT)
#define HBLOCK_BYTES (HBLOCK_SLOTS * sizeof(uint64_t))
#define MAX_HBLOCKS (1u << 16)	/* 2^30 handles */
#define HANDLE_BATCH 64u
#define HCACHE (2 * HANDLE_BATCH)
#define HANDLE_PREFAULT_PAGES 16u
#define HSLOTS_PER_PAGE (PAGE_SIZE / sizeof(uint64_t))

/*
 * A live handle slot: | desc >> 6 (41) | obj index (9) | size - 1 (12) |
 * LIVE | LOCK |.  A free slot is 0.  Index 0 is never handed out.
 */
#define SLOT_LOCK 1ull
#define SLOT_LIVE 2ull
#define SLOT_SIZE_SHIFT 2
#define SLOT_IDX_SHIFT 14
#define SLOT_DESC_SHIFT 23
#define DESC_ALIGN 64u
#define VA_LIMIT (1ull << 47)	/* 41 + 6 bits of descriptor address */

_Static_assert(SLOT_IDX_SHIFT - SLOT_SIZE_SHIFT == 12 &&
	       (1u << 12) == ZSPOOL_MAX_OBJ, "size - 1 fits the size field");
_Static_assert((1u << (SLOT_DESC_SHIFT - SLOT_IDX_SHIFT)) == MAX_OBJS,
	       "object index fits its field");
_Static_assert(64 - SLOT_DESC_SHIFT + 6 == 47, "descriptor field covers VA_LIMIT");
_Static_assert(MAX_HBLOCKS * (uint64_t)HBLOCK_SLOTS <= 0x80000000u,
	       "handle indices leave OWNER_FREE clear");

#define OWNER_FREE 0x80000000u	/* owner word of a free object | next */
#define OBJ_NONE 0xffffu

struct zs_class;

struct zspage {
	struct zspage *next, *prev;	/* fullness list; protected by class->lock */
	struct zs_class *cls;		/* immutable */
	uint16_t inuse;			/* protected by class->lock */
	uint16_t free_head;		/* protected by class->lock */
	uint8_t group;			/* protected by class->lock */
	uint8_t pad[3];
	void *pages[];			/* [ppz], immutable; then uint32_t owner[objs] */
};
_Static_assert(sizeof(struct zspage) == 32, "zspage header layout");

/* Header of a page carved into descriptors. */
struct desc_slab {
	struct desc_slab *next, *prev;	/* class->slabs; protected by class->lock */
	void *free;			/* free descriptors, linked in place */
	uint32_t inuse;
};
#define SLAB_HDR 64u
_Static_assert(sizeof(struct desc_slab) <= SLAB_HDR, "slab header fits");

struct zs_class {
	pthread_mutex_t lock;
	/* immutable after create */
	unsigned index, size, min_size, ppz, objs, desc_size, descs_per_slab;
	unsigned group_mul;		/* group = inuse * group_mul >> 16 */
	bool huge;			/* one page, one object, no descriptor */
	/* protected by lock */
	struct zspage *groups[NR_GROUPS];
	unsigned group_mask;		/* bit g set when groups[g] non-empty */
	struct desc_slab *slabs;	/* slab pages with free descriptors */
	unsigned nr_hcache;
	uint32_t hcache[HCACHE];	/* free handles, a stack */
	/* written under lock, read with relaxed loads */
	_Atomic uint64_t zspages, objs_allocated, bytes_allocated;
} __attribute__((aligned(64)));

/* A set of a chunk's free pages, as a bitmap. */
struct pageset {
	unsigned count;			/* bits set */
	unsigned hint;			/* no bit set in words below */
	uint64_t bits[CHUNK_WORDS];
};

enum { RELEASED, RESIDENT };		/* the two states of a free page */

struct chunk {
	char *base;
	struct pageset set[2];		/* protected by page_lock */
};

struct zspool {
	struct zs_class *classes;	/* [nr_classes], ascending size */
	struct zs_class *size_map[NR_SIZES];
	unsigned nr_classes;

	pthread_mutex_t page_lock;
	_Atomic uint64_t nr_resident;	/* written under page_lock; relaxed */
	uint64_t trim_floor;		/* resident pages the last trim left; page_lock */
	/*
	 * Pages zspages took in all (dem_total, relaxed); the total when
	 * the current DEMAND_WINDOW_NS began (dem_base, at dem_start,
	 * thread_now_ns()), the previous window's count, and the total as
	 * zspool_demand() last saw it change, and when (page_lock).
	 * Metadata pages (zspool_page_alloc(): the
	 * store's slot tables, the reclaim queue's nodes) do not count: a
	 * stream of discards takes nodes, and is no reason to keep pages.
	 */
	_Atomic uint64_t dem_total;
	uint64_t dem_base, dem_prev, dem_start, dem_seen, dem_seen_at;
	struct chunk **chunks;		/* sorted by base; protected by page_lock */
	_Atomic unsigned nr_chunks;	/* written under page_lock; relaxed */
	unsigned max_chunks;		/* protected by page_lock */
	unsigned set_hint[2];		/* no chunk below has pages in set; page_lock */
	unsigned chunk_last;		/* chunk_of()'s last answer; page_lock */
	_Atomic int madv_advice;	/* relaxed; drops to MADV_DONTNEED on EINVAL */
	/* pidfd of self_pid for process_madvise(); -1 none yet, -2 none ever */
	_Atomic int self_pidfd;
	_Atomic pid_t self_pid;		/* the process self_pidfd names; relaxed */
	_Atomic bool vec_off;		/* process_madvise() refused; relaxed */
	_Atomic bool populate_off;	/* MADV_POPULATE_WRITE refused; relaxed */

	pthread_mutex_t handle_lock;
	/* [MAX_HBLOCKS]; entries set under handle_lock, release */
	_Atomic(_Atomic uint64_t *) *hblocks;
	_Atomic uint32_t hnext;		/* never-used index; written under handle_lock; relaxed */
	uint32_t *hfree;		/* free handles; protected by handle_lock */
	size_t nr_hfree;		/* protected by handle_lock */
	_Atomic size_t hfree_cap;	/* written under handle_lock; relaxed */
	_Atomic uint64_t handles_lost;	/* relaxed; see handle_put() */
	uint32_t hprefault;		/* slots below are faulted in; handle_lock */

	/* relaxed: counters and settings, no ordering implied */
	_Atomic uint64_t pages_used, pages_used_max, mem_limit, reserve_target;
	_Atomic uint64_t pages_compacted, nowait_failed, meta_pages, pages_grown;
};

/* Pages freed under a class lock, handed back to the pool after it. */
struct page_batch {
	unsigned n;
	void *pg[32];
};

/*
 * C11 atomics, relaxed: counters and fields read without their lock.
 * LOCKED_ADD/SUB update a field that only its lock's holder writes: a
 * relaxed load and store, no locked instruction.
 */
#define LOAD_RELAXED(p) atomic_load_explicit((p), memory_order_relaxed)
#define STORE_RELAXED(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define ADD_RELAXED(p, v) \
	((void)atomic_fetch_add_explicit((p), (v), memory_order_relaxed))
#define SUB_RELAXED(p, v) \
	((void)atomic_fetch_sub_explicit((p), (v), memory_order_relaxed))
#define LOCKED_ADD(p, v) STORE_RELAXED((p), LOAD_RELAXED(p) + (v))
#define LOCKED_SUB(p, v) STORE_RELAXED((p), LOAD_RELAXED(p) - (v))

#ifdef ZRAMFUSE_DEBUG
#define DEBUG_CHECK(pool) assert(zspool_check(pool) == 0)
#else
#define DEBUG_CHECK(pool) do { } while (0)
#endif

/*
 * Our critical sections are short (a few hundred ns): spin a little before
 * sleeping in the kernel, which measured ~20% faster with two threads
 * allocating in the same classes.
 */
static void lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t at;

	pthread_mutexattr_init(&at);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
	pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	pthread_mutex_init(m, &at);
	pthread_mutexattr_destroy(&at);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* ---- descriptors and slots ------------------------------------------- */

static inline uint32_t *zs_owner(struct zspage *zs)
{
	return (uint32_t *)(zs->pages + zs->cls->ppz);
}

static inline uint64_t slot_make(void *zs, unsigned idx, size_t size)
{
	return ((uint64_t)(uintptr_t)zs >> 6 << SLOT_DESC_SHIFT) |
	       ((uint64_t)idx << SLOT_IDX_SHIFT) |
	       ((uint64_t)(size - 1) << SLOT_SIZE_SHIFT) | SLOT_LIVE;
}

static inline struct zspage *slot_desc(uint64_t v)
{
	return (struct zspage *)(uintptr_t)(v >> SLOT_DESC_SHIFT << 6);
}

static inline unsigned slot_idx(uint64_t v)
{
	return (v >> SLOT_IDX_SHIFT) & (MAX_OBJS - 1);
}

static inline size_t slot_size(uint64_t v)
{
	return ((v >> SLOT_SIZE_SHIFT) & 0xfff) + 1;
}

/*
 * An object of the huge class has a page to itself and no descriptor: its
 * slot holds the page's address, which is page-aligned, where descriptors
 * never are (a slab page starts with its header).
 */
static inline bool slot_is_huge(uint64_t v)
{
	return ((uintptr_t)slot_desc(v) & (PAGE_SIZE - 1)) == 0;
}

/* Where the object of slot value @v lives: its pages and offset. */
static inline size_t slot_loc(uint64_t v, void *const **pages, void **huge)
{
	struct zspage *zs = slot_desc(v);

	if (slot_is_huge(v)) {
		*huge = zs;
		*pages = huge;
		return 0;
	}
	*pages = zs->pages;
	return (size_t)slot_idx(v) * zs->cls->size;
}

/*
 * The slot of handle @h.  The block pointer is published (release) before
 * any of its handles is handed out, and the handle reaches its user through
 * the user's own synchronization, so a relaxed load sees it.
 */
static inline _Atomic uint64_t *hslot(struct zspool *pool, uint32_t h)
{
	_Atomic uint64_t *blk = LOAD_RELAXED(&pool->hblocks[h >> HBLOCK_SHIFT]);

	return &blk[h & (HBLOCK_SLOTS - 1)];
}

/*
 * Lock a live handle slot's bit (spinning); returns the slot value,
 * unlocked.  (Not the store's page-slot lock, which is taken before it.)
 */
static uint64_t hslot_lock(_Atomic uint64_t *s)
{
	unsigned spins = 0;

	for (;;) {
		uint64_t v = atomic_fetch_or_explicit(s, SLOT_LOCK, memory_order_acquire);

		if (!(v & SLOT_LOCK))
			return v;
		while (LOAD_RELAXED(s) & SLOT_LOCK) {
			if (++spins > 256)
				sched_yield();
			else
				cpu_relax();
		}
	}
}

static inline void hslot_unlock(_Atomic uint64_t *s, uint64_t v)
{
	atomic_store_explicit(s, v & ~SLOT_LOCK, memory_order_release);
}

/* Copy between an object and a flat buffer, in at most two pieces. */
static void obj_copy(void *const *pages, size_t off, void *buf, size_t len,
		     bool out)
{
	char *pg = pages[off >> PAGE_SHIFT];
	size_t in = off & (PAGE_SIZE - 1), first = PAGE_SIZE - in;

	if (first > len)
		first = len;
	if (out)
		memcpy(buf, pg + in, first);
	else
		memcpy(pg + in, buf, first);
	if (first < len) {
		pg = pages[(off >> PAGE_SHIFT) + 1];
		if (out)
			memcpy((char *)buf + first, pg, len - first);
		else
			memcpy(pg, (const char *)buf + first, len - first);
	}
}

/* ---- pages ----------------------------------------------------------- */

/*
 * @len bytes of fresh, unreserved memory for the pool, between two
 * PROT_NONE guard pages: a VMA the kernel never merges with a neighbour
 * (see the top of the file).  The mapping is made PROT_NONE first, so
 * that whatever it may merge with at once is never faulted in.  Returns
 * MAP_FAILED with errno set on failure.
 */
static void *pool_mmap(size_t len)
{
	char *p = mmap(NULL, len + 2 * PAGE_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return MAP_FAILED;
	if (mprotect(p + PAGE_SIZE, len, PROT_READ | PROT_WRITE)) {
		int err = errno;

		munmap(p, len + 2 * PAGE_SIZE);
		errno = err;
		return MAP_FAILED;
	}
	return p + PAGE_SIZE;
}

static void pool_munmap(void *p, size_t len)
{
	munmap((char *)p - PAGE_SIZE, len + 2 * PAGE_SIZE);
}

/*
 * Map a new chunk; page_lock held, and dropped around the mmap: mmap takes
 * the process's mmap lock for writing and allocates, and may wait for
 * reclaim, which must never happen under a lock that writers need.
 * Callers look for free pages again afterwards (another thread may have
 * mapped a chunk meanwhile; a spare chunk costs only address space).
 */
static int chunk_map(struct zspool *pool)
{
	struct chunk *c;
	unsigned i, nr;
	void *base;

	pthread_mutex_unlock(&pool->page_lock);
	c = calloc(1, sizeof(*c));
	base = pool_mmap((size_t)CHUNK_PAGES * PAGE_SIZE);
	pthread_mutex_lock(&pool->page_lock);
	if (!c || base == MAP_FAILED ||
	    /* descriptors must fit the slot's 41 address bits */
	    (uintptr_t)base + (size_t)CHUNK_PAGES * PAGE_SIZE > VA_LIMIT)
		goto fail;
	nr = LOAD_RELAXED(&pool->nr_chunks);
	if (nr == pool->max_chunks) {
		unsigned n = pool->max_chunks ? pool->max_chunks * 2 : 16;
		struct chunk **a = realloc(pool->chunks, n * sizeof(*a));

		if (!a)
			goto fail;
		pool->chunks = a;
		pool->max_chunks = n;
	}
	c->base = base;
	c->set[RELEASED].count = CHUNK_PAGES;
	memset(c->set[RELEASED].bits, 0xff, sizeof(c->set[RELEASED].bits));
	for (i = nr; i > 0 && pool->chunks[i - 1]->base > c->base; i--)
		pool->chunks[i] = pool->chunks[i - 1];
	pool->chunks[i] = c;
	STORE_RELAXED(&pool->nr_chunks, nr + 1);
	for (unsigned k = 0; k < 2; k++) {
		if (pool->set_hint[k] > i)
			pool->set_hint[k]++;	/* chunks above moved up */
	}
	if (i < pool->set_hint[RELEASED])
		pool->set_hint[RELEASED] = i;
	return 0;
fail:
	if (base != MAP_FAILED)
		pool_munmap(base, (size_t)CHUNK_PAGES * PAGE_SIZE);
	free(c);
	return -ENOMEM;
}

/* The index of the chunk holding @page; page_lock held. */
static unsigned chunk_of(struct zspool *pool, const char *page)
{
	unsigned lo = pool->chunk_last, hi = LOAD_RELAXED(&pool->nr_chunks);

	/* Pages come in runs: try the last answer first. */
	if (lo < hi && page >= pool->chunks[lo]->base &&
	    page < pool->chunks[lo]->base + (size_t)CHUNK_PAGES * PAGE_SIZE)
		return lo;
	lo = 0;
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (pool->chunks[mid]->base <= page)
			lo = mid;
		else
			hi = mid;
	}
	assert(page >= pool->chunks[lo]->base &&
	       page < pool->chunks[lo]->base + (size_t)CHUNK_PAGES * PAGE_SIZE);
	pool->chunk_last = lo;
	return lo;
}

/* Take the lowest-addressed page of set @which; page_lock held. */
static void *chunk_take(struct zspool *pool, int which)
{
	unsigned nr = LOAD_RELAXED(&pool->nr_chunks);

	for (unsigned ci = pool->set_hint[which]; ci < nr; ci++) {
		struct chunk *c = pool->chunks[ci];
		struct pageset *ps = &c->set[which];

		if (!ps->count)
			continue;
		pool->set_hint[which] = ci;
		for (unsigned w = ps->hint; w < CHUNK_WORDS; w++) {
			if (ps->bits[w]) {
				unsigned b = __builtin_ctzll(ps->bits[w]);

				ps->hint = w;
				ps->bits[w] &= ps->bits[w] - 1;
				ps->count--;
				return c->base + ((size_t)w * 64 + b) * PAGE_SIZE;
			}
		}
		assert(0);	/* count said there was one */
	}
	pool->set_hint[which] = nr;
	return NULL;
}

/* Put @page into set @which; page_lock held. */
static void chunk_give(struct zspool *pool, char *page, int which)
{
	unsigned ci = chunk_of(pool, page);
	struct chunk *c = pool->chunks[ci];
	struct pageset *ps = &c->set[which];
	size_t pn = (size_t)(page - c->base) >> PAGE_SHIFT;
	uint64_t bit = 1ull << (pn % 64);

	assert(!(c->set[RELEASED].bits[pn / 64] & bit) &&
	       !(c->set[RESIDENT].bits[pn / 64] & bit));
	ps->bits[pn / 64] |= bit;
	ps->count++;
	if (pn / 64 < ps->hint)
		ps->hint = pn / 64;
	if (ci < pool->set_hint[which])
		pool->set_hint[which] = ci;
}

/*
 * Get @n pages: resident ones first, then (unless ZSPOOL_NOWAIT) released
 * ones, mapping a new chunk when needed; lowest addresses first, so that
 * use stays dense and trims find long runs at the top.  All or nothing.
 */
static int pages_get(struct zspool *pool, unsigned n, unsigned flags, void **out)
{
	unsigned got = 0, resident;
	uint64_t res;
	int err = 0;

	pthread_mutex_lock(&pool->page_lock);
	res = LOAD_RELAXED(&pool->nr_resident);
	if ((flags & ZSPOOL_NOWAIT) && res < n) {
		pthread_mutex_unlock(&pool->page_lock);
		return -ENOMEM;
	}
	while (got < n && res) {
		out[got++] = chunk_take(pool, RESIDENT);
		res--;
	}
	STORE_RELAXED(&pool->nr_resident, res);
	resident = got;
	if (pool->trim_floor > res)
		pool->trim_floor = res;
	while (got < n) {
		void *pg = chunk_take(pool, RELEASED);

		if (!pg) {
			err = chunk_map(pool);
			if (err)
				break;
			continue;
		}
		out[got++] = pg;
	}
	if (err) {
		while (got > resident)
			chunk_give(pool, out[--got], RELEASED);
		while (got)
			chunk_give(pool, out[--got], RESIDENT);
		LOCKED_ADD(&pool->nr_resident, resident);
	}
	pthread_mutex_unlock(&pool->page_lock);
	return err;
}

/* Return pages to the resident set; true when a trim is due. */
static bool pages_put(struct zspool *pool, void **pg, unsigned n)
{
	uint64_t res;
	bool trim;

	if (!n)
		return false;
	pthread_mutex_lock(&pool->page_lock);
	for (unsigned i = 0; i < n; i++)
		chunk_give(pool, pg[i], RESIDENT);
	res = LOAD_RELAXED(&pool->nr_resident) + n;
	STORE_RELAXED(&pool->nr_resident, res);
	/*
	 * Due when the free pages beyond the reserve are many, more than
	 * those in use, and many more than the last trim left behind (in
	 * runs too short to release): otherwise every later free would scan
	 * the same short runs again.
	 */
	trim = res > LOAD_RELAXED(&pool->reserve_target) + AUTO_TRIM_MIN &&
	       res > LOAD_RELAXED(&pool->reserve_target) +
		     LOAD_RELAXED(&pool->pages_used) &&
	       res > pool->trim_floor + AUTO_TRIM_MIN;
	pthread_mutex_unlock(&pool->page_lock);
	return trim;
}

static bool batch_flush(struct zspool *pool, struct page_batch *pb)
{
	bool trim = pages_put(pool, pb->pg, pb->n);

	pb->n = 0;
	return trim;
}

/* Queue a freed page; flushes (page_lock under class lock) when full. */
static bool batch_add(struct zspool *pool, struct page_batch *pb, void *pg)
{
	bool trim = false;

	if (pb->n == sizeof(pb->pg) / sizeof(pb->pg[0]))
		trim = batch_flush(pool, pb);
	pb->pg[pb->n++] = pg;
	return trim;
}

/*
 * Hand a run of pages back to the kernel.  MADV_DONTNEED fails with EINVAL
 * on mlock'ed pages (the daemon runs under mlockall), hence
 * MADV_DONTNEED_LOCKED first; older kernels refuse that with EINVAL and get
 * MADV_DONTNEED from then on.  If both fail the pages merely stay resident.
 */
static void release_run(struct zspool *pool, char *start, size_t npages)
{
	size_t len = npages * PAGE_SIZE;
	int adv = LOAD_RELAXED(&pool->madv_advice);

	if (madvise(start, len, adv) == 0)
		return;
	if (errno == EINVAL && adv != MADV_DONTNEED) {
		STORE_RELAXED(&pool->madv_advice, MADV_DONTNEED);
		madvise(start, len, MADV_DONTNEED);
	}
}

struct run {
	char *start;
	unsigned n;
};

/*
 * A pidfd of this process, for process_madvise(); -1 when there is none
 * (a kernel without pidfd_open(), vectored release found unusable, or a
 * child of the process that opened it).
 */
static int self_pidfd(struct zspool *pool)
{
#if defined(SYS_pidfd_open) && defined(SYS_process_madvise)
	int fd = atomic_load_explicit(&pool->self_pidfd, memory_order_acquire);
	int expect = -1;
	pid_t pid = getpid();

	if (LOAD_RELAXED(&pool->vec_off))
		return -1;
	if (fd >= 0)
		return LOAD_RELAXED(&pool->self_pid) == pid ? fd : -1;
	if (fd == -2)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		STORE_RELAXED(&pool->self_pidfd, -2);
		return -1;
	}
	STORE_RELAXED(&pool->self_pid, pid);
	if (!atomic_compare_exchange_strong_explicit(&pool->self_pidfd, &expect, fd,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		close(fd);	/* another thread's is there */
		return expect >= 0 && LOAD_RELAXED(&pool->self_pid) == pid ? expect : -1;
	}
	return fd;
#else
	(void)pool;
	return -1;
#endif
}

/*
 * Release @nr runs: in one process_madvise() call where the kernel takes
 * the advice there (MADV_DONTNEED[_LOCKED] on this process, Linux 6.x),
 * which flushes the TLB once for the whole vector; one madvise() per run
 * flushes it per run, and in a process with threads on other CPUs each
 * flush is a shootdown IPI to them.  Measured here (6.18, 2 CPUs, one
 * thread): 1024 one-page runs in 0.95 ms against 7.0 ms.  A kernel that
 * refuses it gets one madvise() per run from then on.
 */
static void release_runs(struct zspool *pool, const struct run *runs, unsigned nr)
{
#if defined(SYS_pidfd_open) && defined(SYS_process_madvise)
	int fd = nr > 1 ? self_pidfd(pool) : -1;

	if (fd >= 0) {
		struct iovec iov[TRIM_RUNS];
		size_t total = 0;
		ssize_t done;

		for (unsigned i = 0; i < nr; i++) {
			iov[i].iov_base = runs[i].start;
			iov[i].iov_len = (size_t)runs[i].n * PAGE_SIZE;
			total += iov[i].iov_len;
		}
		done = syscall(SYS_process_madvise, fd, iov, (size_t)nr,
			       LOAD_RELAXED(&pool->madv_advice), 0u);
		if (done == (ssize_t)total)
			return;
		/* then run by run: the advice twice on a free page is harmless */
		if (done < 0 && errno != EINTR && errno != EAGAIN)
			STORE_RELAXED(&pool->vec_off, true);
	}
#endif
	for (unsigned i = 0; i < nr; i++)
		release_run(pool, runs[i].start, runs[i].n);
}

/* The first set (or with @clear, clear) bit at or after @pn, or CHUNK_PAGES. */
static unsigned next_bit(const uint64_t *bm, unsigned pn, bool clear)
{
	while (pn < CHUNK_PAGES) {
		uint64_t w = (clear ? ~bm[pn / 64] : bm[pn / 64]) >> (pn % 64);

		if (w)
			return pn + __builtin_ctzll(w);
		pn = (pn / 64 + 1) * 64;
	}
	return CHUNK_PAGES;
}

/*
 * Release resident free pages beyond @keep, highest chunks first, as runs
 * of adjacent pages: one madvise per run, outside the lock (the pages are
 * in neither set meanwhile, so nobody takes them).  Runs shorter than
 * @min_run pages are left resident.  Returns pages released.
 */
static uint64_t trim_to(struct zspool *pool, uint64_t keep, unsigned min_run)
{
	struct run runs[TRIM_RUNS];
	uint64_t total = 0;
	unsigned cc = 0, pn = 0, chunks = 0;	/* cursor: chunk cc - 1, page pn */

	for (;;) {
		unsigned nr = 0;
		uint64_t res;

		pthread_mutex_lock(&pool->page_lock);
		if (LOAD_RELAXED(&pool->nr_chunks) != chunks) {	/* first round, or a chunk came */
			chunks = cc = LOAD_RELAXED(&pool->nr_chunks);
			pn = 0;
		}
		res = LOAD_RELAXED(&pool->nr_resident);
		while (cc > 0 && nr < TRIM_RUNS && res > keep) {
			struct chunk *c = pool->chunks[cc - 1];
			struct pageset *ps = &c->set[RESIDENT];
			unsigned start, end;

			if (pn < ps->hint * 64)
				pn = ps->hint * 64;
			start = ps->count ? next_bit(ps->bits, pn, false) : CHUNK_PAGES;
			if (start == CHUNK_PAGES) {
				cc--;
				pn = 0;
				continue;
			}
			end = next_bit(ps->bits, start, true);
			pn = end;
			if (end - start < min_run)
				continue;
			if (end - start > res - keep)
				end = start + (res - keep);
			for (unsigned k = start; k < end; k++)
				ps->bits[k / 64] &= ~(1ull << (k % 64));
			ps->count -= end - start;
			res -= end - start;
			runs[nr].start = c->base + (size_t)start * PAGE_SIZE;
			runs[nr++].n = end - start;
		}
		STORE_RELAXED(&pool->nr_resident, res);
		if (!nr)
			pool->trim_floor = res;	/* see pages_put() */
		pthread_mutex_unlock(&pool->page_lock);
		if (!nr)
			break;
		release_runs(pool, runs, nr);
		pthread_mutex_lock(&pool->page_lock);
		for (unsigned i = 0; i < nr; i++) {
			for (unsigned k = 0; k < runs[i].n; k++)
				chunk_give(pool, runs[i].start + (size_t)k * PAGE_SIZE,
					   RELEASED);
			total += runs[i].n;
		}
		pthread_mutex_unlock(&pool->page_lock);
	}
	return total;
}

static void auto_trim(struct zspool *pool, bool due)
{
	if (due)
		trim_to(pool, LOAD_RELAXED(&pool->reserve_target), AUTO_TRIM_RUN);
}

/* ---- handles --------------------------------------------------------- */

/* Make sure the block holding handle @h exists; handle_lock held. */
static int hblock_ensure(struct zspool *pool, uint32_t h, unsigned flags)
{
	uint32_t b = h >> HBLOCK_SHIFT;
	void *blk;

	if (b >= MAX_HBLOCKS)
		return -ENOMEM;
	if (LOAD_RELAXED(&pool->hblocks[b]))
		return 0;
	if (flags & ZSPOOL_NOWAIT)
		return -ENOMEM;
	blk = pool_mmap(HBLOCK_BYTES);
	if (blk == MAP_FAILED)
		return -ENOMEM;
	atomic_store_explicit(&pool->hblocks[b], blk, memory_order_release);
	return 0;
}

/*
 * Make sure handle block @b exists, mapping it with no lock held and
 * installing it under handle_lock (the refill thread's way: an mmap may
 * wait for the kernel, and writers need handle_lock).  Returns 0 or
 * -ENOMEM.
 */
static int hblock_premap(struct zspool *pool, uint32_t b)
{
	void *blk;

	if (b >= MAX_HBLOCKS)
		return -ENOMEM;
	if (atomic_load_explicit(&pool->hblocks[b], memory_order_acquire))
		return 0;
	blk = pool_mmap(HBLOCK_BYTES);
	if (blk == MAP_FAILED)
		return -ENOMEM;
	pthread_mutex_lock(&pool->handle_lock);
	if (!LOAD_RELAXED(&pool->hblocks[b])) {
		atomic_store_explicit(&pool->hblocks[b], blk, memory_order_release);
		blk = NULL;
	}
	pthread_mutex_unlock(&pool->handle_lock);
	if (blk)
		pool_munmap(blk, HBLOCK_BYTES);
	return 0;
}

/*
 * Free handles are kept in arrays, not linked through their slots: moving
 * a batch between a class and the pool is then a memcpy, where walking a
 * chain of slots would be a chain of cache misses.
 */

/* Move up to HANDLE_BATCH free handles from the pool to @cls; class lock held. */
static int handle_refill(struct zspool *pool, struct zs_class *cls,
			 unsigned flags)
{
	unsigned n;
	int err = 0;

	pthread_mutex_lock(&pool->handle_lock);
	n = pool->nr_hfree < HANDLE_BATCH ? pool->nr_hfree : HANDLE_BATCH;
	pool->nr_hfree -= n;
	if (n)
		memcpy(cls->hcache, pool->hfree + pool->nr_hfree, n * sizeof(uint32_t));
	while (n < HANDLE_BATCH) {
		uint32_t next = LOAD_RELAXED(&pool->hnext);

		/* NOWAIT: only slots that zspool_refill() has faulted in */
		if ((flags & ZSPOOL_NOWAIT) && next >= pool->hprefault) {
			err = -ENOMEM;
			break;
		}
		err = hblock_ensure(pool, next, flags);
		if (err)
			break;
		cls->hcache[n++] = next;
		STORE_RELAXED(&pool->hnext, next + 1);
	}
	pthread_mutex_unlock(&pool->handle_lock);
	cls->nr_hcache = n;
	return n ? 0 : err;
}

static int handle_get(struct zspool *pool, struct zs_class *cls,
		      unsigned flags, uint32_t *out)
{
	if (!cls->nr_hcache) {
		int err = handle_refill(pool, cls, flags);

		if (err)
			return err;
	}
	*out = cls->hcache[--cls->nr_hcache];
	return 0;
}

/*
 * Give a handle back to the class cache; a full cache passes half of
 * itself to the pool.  Should the pool's array fail to grow, those handles
 * are lost (counted); their slots stay free and unused.
 */
static void handle_put(struct zspool *pool, struct zs_class *cls, uint32_t h)
{
	STORE_RELAXED(hslot(pool, h), 0);
	if (cls->nr_hcache == HCACHE) {
		cls->nr_hcache -= HANDLE_BATCH;
		pthread_mutex_lock(&pool->handle_lock);
		size_t cap = LOAD_RELAXED(&pool->hfree_cap);

		if (pool->nr_hfree + HANDLE_BATCH > cap) {
			uint32_t *a;

			cap = cap * 2 + 4 * HANDLE_BATCH;
			a = realloc(pool->hfree, cap * sizeof(*a));
			if (a) {
				pool->hfree = a;
				STORE_RELAXED(&pool->hfree_cap, cap);
			}
		}
		if (pool->nr_hfree + HANDLE_BATCH <= LOAD_RELAXED(&pool->hfree_cap)) {
			memcpy(pool->hfree + pool->nr_hfree,
			       cls->hcache + cls->nr_hcache,
			       HANDLE_BATCH * sizeof(uint32_t));
			pool->nr_hfree += HANDLE_BATCH;
		} else {
			ADD_RELAXED(&pool->handles_lost, HANDLE_BATCH);
		}
		pthread_mutex_unlock(&pool->handle_lock);
	}
	cls->hcache[cls->nr_hcache++] = h;
}

/* ---- fullness groups ------------------------------------------------- */

static inline unsigned group_of(const struct zs_class *cls, unsigned inuse)
{
	if (inuse >= cls->objs)
		return GROUP_FULL;
	return (inuse * cls->group_mul) >> 16;
}

static void group_insert(struct zs_class *cls, struct zspage *zs)
{
	unsigned g = group_of(cls, zs->inuse);

	zs->group = g;
	zs->prev = NULL;
	zs->next = cls->groups[g];
	if (zs->next)
		zs->next->prev = zs;
	cls->groups[g] = zs;
	cls->group_mask |= 1u << g;
}

static void group_remove(struct zs_class *cls, struct zspage *zs)
{
	unsigned g = zs->group;

	if (zs->prev)
		zs->prev->next = zs->next;
	else
		cls->groups[g] = zs->next;
	if (zs->next)
		zs->next->prev = zs->prev;
	if (!cls->groups[g])
		cls->group_mask &= ~(1u << g);
}

static inline void group_update(struct zs_class *cls, struct zspage *zs)
{
	if (group_of(cls, zs->inuse) != zs->group) {
		group_remove(cls, zs);
		group_insert(cls, zs);
	}
}

/* The fullest (or, with @emptiest, the emptiest) non-full zspage. */
static struct zspage *group_pick(struct zs_class *cls, bool emptiest)
{
	unsigned m = cls->group_mask & ((1u << GROUP_FULL) - 1);

	if (!m)
		return NULL;
	return cls->groups[emptiest ? __builtin_ctz(m) : 31 - __builtin_clz(m)];
}

/* ---- zspages --------------------------------------------------------- */

static struct zspage *desc_alloc(struct zs_class *cls)
{
	struct desc_slab *s = cls->slabs;
	struct zspage *zs = s->free;

	s->free = *(void **)zs;
	if (++s->inuse == cls->descs_per_slab) {
		cls->slabs = s->next;
		if (s->next)
			s->next->prev = NULL;
	}
	return zs;
}

/* Adds the slab page to @pb when it empties. */
static bool desc_free(struct zspool *pool, struct zs_class *cls,
		      struct zspage *zs, struct page_batch *pb)
{
	struct desc_slab *s = (void *)((uintptr_t)zs & ~(uintptr_t)(PAGE_SIZE - 1));

	*(void **)zs = s->free;
	s->free = zs;
	if (s->inuse-- == cls->descs_per_slab) {
		s->prev = NULL;
		s->next = cls->slabs;
		if (s->next)
			s->next->prev = s;
		cls->slabs = s;
	}
	if (s->inuse)
		return false;
	if (s->prev)
		s->prev->next = s->next;
	else
		cls->slabs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	SUB_RELAXED(&pool->meta_pages, 1);
	return batch_add(pool, pb, s);
}

static void slab_init(struct zspool *pool, struct zs_class *cls, void *page)
{
	struct desc_slab *s = page;
	char *d = (char *)page + SLAB_HDR;

	s->free = NULL;
	for (unsigned i = cls->descs_per_slab; i-- > 0;) {
		void *p = d + (size_t)i * cls->desc_size;

		*(void **)p = s->free;
		s->free = p;
	}
	s->inuse = 0;
	s->prev = NULL;
	s->next = cls->slabs;
	if (s->next)
		s->next->prev = s;
	cls->slabs = s;
	ADD_RELAXED(&pool->meta_pages, 1);
}

static void max_update(_Atomic uint64_t *max, uint64_t v)
{
	uint64_t cur = LOAD_RELAXED(max);

	while (v > cur && !atomic_compare_exchange_weak_explicit(max, &cur, v,
			memory_order_relaxed, memory_order_relaxed))
		;
}

/*
 * Take @n pages for a zspage, counted in pages_used against the limit, and
 * @extra more for a descriptor slab; class lock held.
 */
static int zspage_pages_get(struct zspool *pool, unsigned n, unsigned extra,
			    unsigned flags, void **pg)
{
	uint64_t limit = LOAD_RELAXED(&pool->mem_limit);
	/*
	 * Claim first, then compare: two classes racing for the last pages
	 * may both be refused, but the limit is never exceeded.
	 */
	uint64_t used = atomic_fetch_add_explicit(&pool->pages_used, n,
						  memory_order_relaxed) + n;
	int err;

	if (limit && used > limit) {
		SUB_RELAXED(&pool->pages_used, n);
		return -ENOSPC;
	}
	err = pages_get(pool, n + extra, flags, pg);
	if (err) {
		SUB_RELAXED(&pool->pages_used, n);
		if (flags & ZSPOOL_NOWAIT)
			ADD_RELAXED(&pool->nowait_failed, 1);
		return err;
	}
	ADD_RELAXED(&pool->dem_total, n + extra);
	max_update(&pool->pages_used_max, used);
	return 0;
}

/* Build a zspage for @cls and put it on its lists; class lock held. */
static int zspage_create(struct zspool *pool, struct zs_class *cls,
			 unsigned flags)
{
	void *pg[MAX_ZSPAGE_PAGES + 1];
	unsigned need = cls->ppz + (cls->slabs ? 0 : 1);
	struct zspage *zs;
	uint32_t *owner;
	int err;

	err = zspage_pages_get(pool, cls->ppz, need - cls->ppz, flags, pg);
	if (err)
		return err;
	if (need > cls->ppz)
		slab_init(pool, cls, pg[cls->ppz]);
	zs = desc_alloc(cls);
	zs->cls = cls;
	memcpy(zs->pages, pg, cls->ppz * sizeof(void *));
	owner = zs_owner(zs);
	for (unsigned i = 0; i < cls->objs; i++)
		owner[i] = OWNER_FREE | (i + 1 < cls->objs ? i + 1 : OBJ_NONE);
	zs->free_head = 0;
	zs->inuse = 0;
	group_insert(cls, zs);
	LOCKED_ADD(&cls->zspages, 1);
	return 0;
}

/* Unlink an empty zspage and queue its pages; class lock held. */
static bool zspage_destroy(struct zspool *pool, struct zs_class *cls,
			   struct zspage *zs, struct page_batch *pb)
{
	bool trim = false;

	assert(zs->inuse == 0);
	group_remove(cls, zs);
	for (unsigned i = 0; i < cls->ppz; i++)
		trim |= batch_add(pool, pb, zs->pages[i]);
	trim |= desc_free(pool, cls, zs, pb);
	LOCKED_SUB(&cls->zspages, 1);
	SUB_RELAXED(&pool->pages_used, cls->ppz);
	return trim;
}

/* Take a free object slot of @zs for handle @h; class lock held. */
static unsigned obj_take(struct zspage *zs, uint32_t h)
{
	uint32_t *owner = zs_owner(zs);
	unsigned idx = zs->free_head;

	assert(idx != OBJ_NONE && (owner[idx] & OWNER_FREE));
	zs->free_head = owner[idx] & 0xffff;
	owner[idx] = h;
	zs->inuse++;
	return idx;
}

static void obj_put(struct zspage *zs, unsigned idx)
{
	uint32_t *owner = zs_owner(zs);

	assert(!(owner[idx] & OWNER_FREE));
	owner[idx] = OWNER_FREE | zs->free_head;
	zs->free_head = idx;
	zs->inuse--;
}

/* ---- classes --------------------------------------------------------- */

static inline struct zs_class *class_of_size(struct zspool *pool, size_t size)
{
	unsigned i = size <= MIN_SIZE ? 0 : (size - MIN_SIZE + SIZE_STEP - 1) / SIZE_STEP;

	return pool->size_map[i];
}

/* Pages per zspage with the least tail waste (ties: fewer pages). */
static void class_geometry(unsigned size, unsigned max_ppz, unsigned *ppz,
			   unsigned *objs)
{
	unsigned best = 1, best_waste = PAGE_SIZE + 1;

	for (unsigned p = 1; p <= max_ppz; p++) {
		unsigned n = p * PAGE_SIZE / size;
		/* waste per page, compared exactly as fractions of p pages */
		unsigned waste = p * PAGE_SIZE % size;

		if (n > MAX_OBJS)
			break;
		if ((uint64_t)waste * best < (uint64_t)best_waste * p) {
			best = p;
			best_waste = waste;
		}
	}
	*ppz = best;
	*objs = best * PAGE_SIZE / size;
}

static void class_init(struct zs_class *cls, unsigned size, unsigned ppz,
		       unsigned objs)
{
	memset(cls, 0, sizeof(*cls));
	lock_init(&cls->lock);
	cls->size = size;
	cls->ppz = ppz;
	cls->objs = objs;
	cls->desc_size = (sizeof(struct zspage) + ppz * sizeof(void *) +
			  objs * sizeof(uint32_t) + DESC_ALIGN - 1) & ~(DESC_ALIGN - 1);
	cls->descs_per_slab = (PAGE_SIZE - SLAB_HDR) / cls->desc_size;
	cls->huge = ppz == 1 && objs == 1;
	/* floor() keeps inuse < objs strictly below GROUP_FULL */
	cls->group_mul = (GROUP_FULL << 16) / objs;
}

/* ---- public API: life cycle ------------------------------------------ */

int zspool_create(const struct zspool_config *cfg, struct zspool **out)
{
	unsigned max_ppz = cfg && cfg->max_zspage_pages ? cfg->max_zspage_pages
							: MAX_ZSPAGE_PAGES;
	unsigned ppz[NR_SIZES], objs[NR_SIZES], n = 0;
	struct zspool *pool;

	if (max_ppz > MAX_ZSPAGE_PAGES)
		return -EINVAL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	/* Count merged classes, largest size first. */
	for (int i = NR_SIZES - 1; i >= 0; i--) {
		class_geometry(MIN_SIZE + i * SIZE_STEP, max_ppz, &ppz[i], &objs[i]);
		if (i == NR_SIZES - 1 || ppz[i] != ppz[i + 1] || objs[i] != objs[i + 1])
			n++;
	}
	pool->classes = aligned_alloc(64, n * sizeof(struct zs_class));
	pool->hblocks = calloc(MAX_HBLOCKS, sizeof(*pool->hblocks));
	if (!pool->classes || !pool->hblocks) {
		free(pool->classes);
		free(pool->hblocks);
		free(pool);
		return -ENOMEM;
	}
	pool->nr_classes = n;
	/* Assign ascending indices: class k serves sizes up to its size. */
	for (unsigned i = 0, k = 0; i < NR_SIZES; i++) {
		if (i == NR_SIZES - 1 || ppz[i] != ppz[i + 1] || objs[i] != objs[i + 1]) {
			struct zs_class *cls = &pool->classes[k];

			class_init(cls, MIN_SIZE + i * SIZE_STEP, ppz[i], objs[i]);
			cls->index = k;
			cls->min_size = k ? pool->classes[k - 1].size + 1 : 1;
			for (unsigned j = i + 1; j-- > 0 && !pool->size_map[j];)
				pool->size_map[j] = cls;
			k++;
		}
	}
	lock_init(&pool->page_lock);
	lock_init(&pool->handle_lock);
	atomic_init(&pool->hnext, 1);	/* handle 0 is never valid */
	atomic_init(&pool->self_pidfd, -1);
	pool->dem_start = thread_now_ns();
#if HAVE_DECL_MADV_DONTNEED_LOCKED
	atomic_init(&pool->madv_advice, MADV_DONTNEED_LOCKED);
#else
	/* MADV_DONTNEED_LOCKED, Linux 5.18 */
	atomic_init(&pool->madv_advice, 24);
#endif
	if (cfg) {
		atomic_init(&pool->mem_limit, cfg->mem_limit_pages);
		atomic_init(&pool->reserve_target, cfg->reserve_pages);
	}
	*out = pool;
	return 0;
}

void zspool_destroy(struct zspool *pool)
{
	if (!pool)
		return;
	DEBUG_CHECK(pool);
	for (unsigned i = 0; i < LOAD_RELAXED(&pool->nr_chunks); i++) {
		pool_munmap(pool->chunks[i]->base, (size_t)CHUNK_PAGES * PAGE_SIZE);
		free(pool->chunks[i]);
	}
	for (unsigned b = 0; b < MAX_HBLOCKS && LOAD_RELAXED(&pool->hblocks[b]); b++)
		pool_munmap((void *)LOAD_RELAXED(&pool->hblocks[b]), HBLOCK_BYTES);
	for (unsigned i = 0; i < pool->nr_classes; i++)
		pthread_mutex_destroy(&pool->classes[i].lock);
	pthread_mutex_destroy(&pool->page_lock);
	pthread_mutex_destroy(&pool->handle_lock);
	if (LOAD_RELAXED(&pool->self_pidfd) >= 0)
		close(LOAD_RELAXED(&pool->self_pidfd));
	free(pool->chunks);
	free(pool->hfree);
	free(pool->hblocks);
	free(pool->classes);
	free(pool);
}

/* ---- public API: objects --------------------------------------------- */

int zspool_alloc(struct zspool *pool, size_t size, unsigned flags,
		 zspool_handle_t *out)
{
	struct zs_class *cls;
	struct zspage *zs;
	uint32_t h;
	unsigned idx;
	int err;

	if (size == 0 || size > ZSPOOL_MAX_OBJ)
		return -EINVAL;
	cls = class_of_size(pool, size);
	pthread_mutex_lock(&cls->lock);
	err = handle_get(pool, cls, flags, &h);
	if (err) {
		if (flags & ZSPOOL_NOWAIT)
			ADD_RELAXED(&pool->nowait_failed, 1);
		goto out;
	}
	if (cls->huge) {
		void *pg;

		err = zspage_pages_get(pool, 1, 0, flags, &pg);
		if (err) {
			handle_put(pool, cls, h);
			goto out;
		}
		STORE_RELAXED(hslot(pool, h), slot_make(pg, 0, size));
		LOCKED_ADD(&cls->zspages, 1);
		goto done;
	}
	zs = group_pick(cls, false);
	if (!zs) {
		err = zspage_create(pool, cls, flags);
		if (err) {
			handle_put(pool, cls, h);
			goto out;
		}
		zs = group_pick(cls, false);
	}
	idx = obj_take(zs, h);
	group_update(cls, zs);
	STORE_RELAXED(hslot(pool, h), slot_make(zs, idx, size));
done:
	LOCKED_ADD(&cls->objs_allocated, 1);
	LOCKED_ADD(&cls->bytes_allocated, size);
	*out = h;
out:
	pthread_mutex_unlock(&cls->lock);
	return err;
}

/* Free one handle of @cls; class lock held. */
static bool free_locked(struct zspool *pool, struct zs_class *cls, uint32_t h,
			struct page_batch *pb)
{
	uint64_t v = LOAD_RELAXED(hslot(pool, h));
	struct zspage *zs = slot_desc(v);

	assert((v & (SLOT_LIVE | SLOT_LOCK)) == SLOT_LIVE);
	LOCKED_SUB(&cls->objs_allocated, 1);
	LOCKED_SUB(&cls->bytes_allocated, slot_size(v));
	handle_put(pool, cls, h);
	if (cls->huge) {
		LOCKED_SUB(&cls->zspages, 1);
		SUB_RELAXED(&pool->pages_used, 1);
		return batch_add(pool, pb, zs);
	}
	assert(zs->cls == cls);
	obj_put(zs, slot_idx(v));
	if (zs->inuse == 0)
		return zspage_destroy(pool, cls, zs, pb);
	group_update(cls, zs);
	return false;
}

/* Start loading what freeing slot value @v will touch. */
static inline void prefetch_obj(const struct zs_class *cls, uint64_t v)
{
	struct zspage *zs = slot_desc(v);

	if (slot_is_huge(v))
		return;
	__builtin_prefetch(zs, 1);
	__builtin_prefetch((char *)zs + sizeof(*zs) + cls->ppz * sizeof(void *) +
			   slot_idx(v) * sizeof(uint32_t), 1);
}

void zspool_free(struct zspool *pool, zspool_handle_t h)
{
	struct page_batch pb;	/* not zeroed: only .n matters */
	struct zs_class *cls;
	uint64_t v;
	bool trim;

	if (!h)
		return;
	pb.n = 0;
	/*
	 * The class follows from the size bits, which never change while the
	 * handle lives: no lock is needed to find it (following the
	 * descriptor pointer instead would race with compaction freeing it).
	 */
	v = LOAD_RELAXED(hslot(pool, h));
	cls = class_of_size(pool, slot_size(v));
	prefetch_obj(cls, v);	/* overlaps the lock */
	pthread_mutex_lock(&cls->lock);
	trim = free_locked(pool, cls, h, &pb);
	pthread_mutex_unlock(&cls->lock);
	trim |= batch_flush(pool, &pb);
	auto_trim(pool, trim);
}

#define FREE_BATCH_GROUP 256

void zspool_free_batch(struct zspool *pool, zspool_handle_t *hs, size_t n)
{
	zspool_handle_t sorted[FREE_BATCH_GROUP];
	uint8_t key[FREE_BATCH_GROUP];
	unsigned count[256];
	struct page_batch pb;
	bool trim = false;

	_Static_assert(NR_SIZES <= 256, "class index fits a byte");
	pb.n = 0;
	/*
	 * In groups of FREE_BATCH_GROUP: a pass that finds each handle's
	 * class (and prefetches its descriptor), a counting sort by class,
	 * then one lock hold per class.  The array ends up sorted by class
	 * within each group.
	 */
	for (size_t base = 0; base < n; base += FREE_BATCH_GROUP) {
		size_t m = n - base < FREE_BATCH_GROUP ? n - base : FREE_BATCH_GROUP;
		zspool_handle_t *g = hs + base;
		unsigned lo = 255, hi = 0;

		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < m; i++) {
			uint64_t v;

			if (!g[i]) {
				key[i] = 255;	/* never a class index: skipped */
				continue;
			}
			v = LOAD_RELAXED(hslot(pool, g[i]));
			key[i] = class_of_size(pool, slot_size(v))->index;
			prefetch_obj(&pool->classes[key[i]], v);
			count[key[i]]++;
			lo = key[i] < lo ? key[i] : lo;
			hi = key[i] > hi ? key[i] : hi;
		}
		if (lo > hi)
			continue;
		for (unsigned c = lo, sum = 0; c <= hi; c++) {
			unsigned t = count[c];

			count[c] = sum;
			sum += t;
		}
		for (size_t i = 0; i < m; i++) {
			if (key[i] != 255)
				sorted[count[key[i]]++] = g[i];
		}
		/* count[c] is now the end of class c's run */
		for (unsigned c = lo, start = 0; c <= hi; c++) {
			struct zs_class *cls = &pool->classes[c];

			if (count[c] == start)
				continue;
			pthread_mutex_lock(&cls->lock);
			for (unsigned i = start; i < count[c]; i++)
				trim |= free_locked(pool, cls, sorted[i], &pb);
			pthread_mutex_unlock(&cls->lock);
			trim |= batch_flush(pool, &pb);
			start = count[c];
		}
		memcpy(g, sorted, count[hi] * sizeof(*g));
	}
	auto_trim(pool, trim);
}

size_t zspool_obj_size(struct zspool *pool, zspool_handle_t h)
{
	return slot_size(LOAD_RELAXED(hslot(pool, h)));
}

void zspool_write(struct zspool *pool, zspool_handle_t h, const void *src,
		  size_t len)
{
	_Atomic uint64_t *s = hslot(pool, h);
	uint64_t v = hslot_lock(s);
	void *const *pages, *huge;
	size_t off = slot_loc(v, &pages, &huge);

	assert(len <= slot_size(v));
	obj_copy(pages, off, (void *)src, len, false);
	hslot_unlock(s, v);
}

void zspool_read(struct zspool *pool, zspool_handle_t h, void *dst, size_t len)
{
	_Atomic uint64_t *s = hslot(pool, h);
	uint64_t v = hslot_lock(s);
	void *const *pages, *huge;
	size_t off = slot_loc(v, &pages, &huge);

	assert(len <= slot_size(v));
	obj_copy(pages, off, dst, len, true);
	hslot_unlock(s, v);
}

const void *zspool_map(struct zspool *pool, zspool_handle_t h, void *bounce)
{
	uint64_t v = hslot_lock(hslot(pool, h));
	void *const *pages, *huge;
	size_t off = slot_loc(v, &pages, &huge);
	size_t len = slot_size(v);

	if ((off & (PAGE_SIZE - 1)) + len <= PAGE_SIZE)
		return (char *)pages[off >> PAGE_SHIFT] + (off & (PAGE_SIZE - 1));
	obj_copy(pages, off, bounce, len, true);
	return bounce;
}

void zspool_unmap(struct zspool *pool, zspool_handle_t h)
{
	_Atomic uint64_t *s = hslot(pool, h);

	hslot_unlock(s, LOAD_RELAXED(s));
}

/* ---- compaction ------------------------------------------------------ */

/* Whole zspages' worth of free object slots in @cls; class lock held. */
static uint64_t class_spare_zspages(const struct zs_class *cls)
{
	uint64_t slots = LOAD_RELAXED(&cls->zspages) * cls->objs;

	return (slots - LOAD_RELAXED(&cls->objs_allocated)) / cls->objs;
}

/*
 * Move the objects of @src into the fullest zspages of @cls.  Returns true
 * when @src emptied (and was destroyed); false when a busy handle or lack of
 * room stopped it, with @src back on its list.  Class lock held.
 */
static bool compact_zspage(struct zspool *pool, struct zs_class *cls,
			   struct zspage *src, struct page_batch *pb, char *buf)
{
	uint32_t *owner = zs_owner(src);
	struct zspage *dst = NULL;

	group_remove(cls, src);
	for (unsigned i = 0; i < cls->objs && src->inuse; i++) {
		uint32_t h = owner[i];
		_Atomic uint64_t *s;
		uint64_t v;
		unsigned idx;

		if (h & OWNER_FREE)
			continue;
		if (!dst) {
			dst = group_pick(cls, false);
			if (!dst)
				break;
			group_remove(cls, dst);
		}
		s = hslot(pool, h);
		v = LOAD_RELAXED(s);
		if ((v & SLOT_LOCK) || !atomic_compare_exchange_strong_explicit(s, &v,
				v | SLOT_LOCK, memory_order_acquire,
				memory_order_relaxed))
			break;		/* being read: leave this zspage */
		idx = obj_take(dst, h);
		obj_copy(src->pages, (size_t)i * cls->size, buf, slot_size(v), true);
		obj_copy(dst->pages, (size_t)idx * cls->size, buf, slot_size(v), false);
		obj_put(src, i);
		hslot_unlock(s, slot_make(dst, idx, slot_size(v)));
		if (dst->inuse == cls->objs) {
			group_insert(cls, dst);
			dst = NULL;
		}
	}
	if (dst)
		group_insert(cls, dst);
	if (src->inuse) {
		group_insert(cls, src);
		return false;
	}
	group_insert(cls, src);		/* zspage_destroy() unlinks it */
	zspage_destroy(pool, cls, src, pb);	/* compaction trims at its end */
	return true;
}

uint64_t zspool_compact(struct zspool *pool)
{
	return zspool_compact_keep(pool, 0);
}

/* Move objects out of sparse zspages; the pages freed stay in the pool. */
static uint64_t compact_classes(struct zspool *pool)
{
	char buf[ZSPOOL_MAX_OBJ];
	uint64_t freed = 0;

	for (unsigned c = 0; c < pool->nr_classes; c++) {
		struct zs_class *cls = &pool->classes[c];

		for (;;) {
			struct page_batch pb;
			bool done = true;

			pb.n = 0;
			pthread_mutex_lock(&cls->lock);
			if (class_spare_zspages(cls) > 0) {
				struct zspage *src = group_pick(cls, true);

				if (src && compact_zspage(pool, cls, src, &pb, buf)) {
					freed += cls->ppz;
					ADD_RELAXED(&pool->pages_compacted, cls->ppz);
					done = false;
				}
			}
			pthread_mutex_unlock(&cls->lock);
			batch_flush(pool, &pb);
			if (done)
				break;
		}
	}
	DEBUG_CHECK(pool);
	return freed;
}

uint64_t zspool_compact_keep(struct zspool *pool, uint64_t keep)
{
	uint64_t freed = compact_classes(pool);

	/*
	 * The emptied zspages left runs of free pages: release them now,
	 * beyond the @keep the caller's next allocations will take.
	 */
	if (freed)
		trim_to(pool, LOAD_RELAXED(&pool->reserve_target) + keep, 1);
	return freed;
}

/* ---- reserve, limits, stats ------------------------------------------ */

uint64_t zspool_trim(struct zspool *pool)
{
	return trim_to(pool, LOAD_RELAXED(&pool->reserve_target), 1);
}

uint64_t zspool_demand(struct zspool *pool)
{
	uint64_t now, el, n, total;

	/*
	 * The clock is read under the lock: a caller that read it before
	 * waiting could find dem_start or dem_seen_at set by a later reading,
	 * and the unsigned differences below would wrap (a window ended with
	 * nothing in it, allocations taken for stopped).
	 */
	pthread_mutex_lock(&pool->page_lock);
	now = thread_now_ns();
	total = LOAD_RELAXED(&pool->dem_total);
	el = now - pool->dem_start;
	if (el >= DEMAND_WINDOW_NS) {
		uint64_t cur = total - pool->dem_base;

		/* a window with no call in it: the average over the time */
		pool->dem_prev = el < 2 * DEMAND_WINDOW_NS ? cur :
			(uint64_t)((double)cur * DEMAND_WINDOW_NS / (double)el);
		pool->dem_start = now;
		pool->dem_base = total;
	}
	n = pool->dem_prev + (total - pool->dem_base);
	/* nothing taken for DEMAND_IDLE_NS: allocations stopped, want none */
	if (total != pool->dem_seen) {
		pool->dem_seen = total;
		pool->dem_seen_at = now;
	} else if (now - pool->dem_seen_at >= DEMAND_IDLE_NS) {
		n = 0;
	}
	pthread_mutex_unlock(&pool->page_lock);
	return n;
}

uint64_t zspool_tidy(struct zspool *pool, bool compact)
{
	uint64_t keep = zspool_demand(pool);

	if (keep > ZSPOOL_KEEP_MAX)
		keep = ZSPOOL_KEEP_MAX;
	if (compact)
		compact_classes(pool);
	/* what frees emptied is released too, not only what moves did */
	trim_to(pool, LOAD_RELAXED(&pool->reserve_target) + keep, 1);
	return keep;
}

uint64_t zspool_trim_runs(struct zspool *pool, unsigned min_run)
{
	return trim_to(pool, LOAD_RELAXED(&pool->reserve_target),
		       min_run ? min_run : 1);
}

/*
 * Grow the free-handle array ahead of need, from the refill thread: every
 * handle ever handed out may come back at once (a process that swapped
 * exits), and handle_put() growing the array then, on the reclaim thread,
 * would fault when memory is shortest.  The new array is faulted in
 * outside handle_lock and swapped in under it.
 */
static void hfree_grow_ahead(struct zspool *pool)
{
	for (;;) {
		size_t need, cap;
		uint32_t *a, *old = NULL;

		pthread_mutex_lock(&pool->handle_lock);
		need = (size_t)LOAD_RELAXED(&pool->hnext) +
		       HANDLE_PREFAULT_PAGES * HSLOTS_PER_PAGE + 4 * HANDLE_BATCH;
		cap = LOAD_RELAXED(&pool->hfree_cap);
		pthread_mutex_unlock(&pool->handle_lock);
		if (cap >= need)
			return;
		cap = need + need / 4;
		a = malloc(cap * sizeof(*a));
		if (!a)
			return;
		memset(a, 0, cap * sizeof(*a));
		pthread_mutex_lock(&pool->handle_lock);
		if (LOAD_RELAXED(&pool->hfree_cap) < cap) {
			if (pool->nr_hfree)
				memcpy(a, pool->hfree, pool->nr_hfree * sizeof(*a));
			old = pool->hfree;
			pool->hfree = a;
			STORE_RELAXED(&pool->hfree_cap, cap);
			a = NULL;
		}
		pthread_mutex_unlock(&pool->handle_lock);
		free(a);
		free(old);
	}
}

void *zspool_page_alloc(struct zspool *pool, unsigned flags)
{
	void *pg;

	if (pages_get(pool, 1, flags, &pg)) {
		if (flags & ZSPOOL_NOWAIT)
			ADD_RELAXED(&pool->nowait_failed, 1);
		return NULL;
	}
	ADD_RELAXED(&pool->meta_pages, 1);
	return pg;
}

void zspool_page_free(struct zspool *pool, void *page)
{
	SUB_RELAXED(&pool->meta_pages, 1);
	if (pages_put(pool, &page, 1))
		trim_to(pool, LOAD_RELAXED(&pool->reserve_target), AUTO_TRIM_RUN);
}

/*
 * Fault in handle slots ahead of use, so that NOWAIT allocations do not
 * wait for the kernel on a fresh handle-table page either (handle_refill()
 * hands a NOWAIT caller no slot beyond hprefault).  The range is claimed
 * under handle_lock but touched outside it: a fault may wait for reclaim,
 * and reclaim may wait for swap I/O that only a worker can serve, and a
 * worker may need handle_lock.  The touch is an atomic add of 0, as the
 * slot may be live.
 */
static void handles_prefault(struct zspool *pool)
{
	for (;;) {
		uint32_t from, to, upto, next;

		pthread_mutex_lock(&pool->handle_lock);
		next = LOAD_RELAXED(&pool->hnext);
		upto = next + HANDLE_PREFAULT_PAGES * HSLOTS_PER_PAGE;
		from = pool->hprefault;
		if (from < (next & ~(HSLOTS_PER_PAGE - 1)))
			from = next & ~(HSLOTS_PER_PAGE - 1);
		pthread_mutex_unlock(&pool->handle_lock);
		/* blocks are mapped outside handle_lock too, as chunks are */
		to = from;
		while (to < upto && !hblock_premap(pool, to >> HBLOCK_SHIFT))
			to += HSLOTS_PER_PAGE;
		if (to <= from)
			break;
		for (uint32_t h = from; h < to; h += HSLOTS_PER_PAGE)
			ADD_RELAXED(hslot(pool, h), 0);
		pthread_mutex_lock(&pool->handle_lock);
		if (pool->hprefault < to)
			pool->hprefault = to;
		pthread_mutex_unlock(&pool->handle_lock);
	}
}

/*
 * Fault in @n pages (taken from the released set, so ours alone): each run
 * of adjacent ones with one MADV_POPULATE_WRITE (Linux 5.14), page by page
 * where the kernel refuses it.  One write fault per page cost 20 us on this
 * machine (a virtual machine whose faults exit to the host); populating
 * runs of 64 took 1-5 us a page (measured with both in one program).
 */
static void populate(struct zspool *pool, void *const *pg, unsigned n)
{
	unsigned i = 0;

	while (i < n) {
		unsigned j = i + 1;

		while (j < n && (char *)pg[j] == (char *)pg[j - 1] + PAGE_SIZE)
			j++;
		if (!LOAD_RELAXED(&pool->populate_off)) {
			if (madvise(pg[i], (size_t)(j - i) * PAGE_SIZE,
				    MADV_POPULATE_WRITE) == 0) {
				i = j;
				continue;
			}
			if (errno == EINVAL)	/* before Linux 5.14 */
				STORE_RELAXED(&pool->populate_off, true);
		}
		for (; i < j; i++)
			*(volatile char *)pg[i] = 0;
	}
}

/*
 * Add up to @max resident pages, no more than to reach @upto resident
 * pages: take released pages under page_lock, fault them in with no lock
 * held (they are ours meanwhile), and give them to the resident set.
 * Returns the number of pages added.
 */
static uint64_t reserve_add(struct zspool *pool, uint64_t upto, uint64_t max)
{
	uint64_t added = 0;

	while (added < max) {
		void *pg[64];
		unsigned n = 0;

		pthread_mutex_lock(&pool->page_lock);
		while (n < 64 && added + n < max &&
		       LOAD_RELAXED(&pool->nr_resident) + n < upto) {
			void *p = chunk_take(pool, RELEASED);

			if (!p && chunk_map(pool))
				break;
			if (p)
				pg[n++] = p;
		}
		pthread_mutex_unlock(&pool->page_lock);
		if (!n)
			break;
		populate(pool, pg, n);
		pages_put(pool, pg, n);
		added += n;
	}
	return added;
}

uint64_t zspool_refill_round(struct zspool *pool, unsigned max)
{
	uint64_t added = reserve_add(pool, LOAD_RELAXED(&pool->reserve_target),
				     max ? max : UINT64_MAX);

	hfree_grow_ahead(pool);
	handles_prefault(pool);
	return added;
}

uint64_t zspool_refill(struct zspool *pool)
{
	return zspool_refill_round(pool, 0);
}

uint64_t zspool_grow(struct zspool *pool, unsigned pages)
{
	uint64_t added = reserve_add(pool, UINT64_MAX, pages);

	hfree_grow_ahead(pool);
	handles_prefault(pool);
	ADD_RELAXED(&pool->pages_grown, added);
	return added;
}

bool zspool_reserve_low(struct zspool *pool)
{
	return LOAD_RELAXED(&pool->nr_resident) <
	       LOAD_RELAXED(&pool->reserve_target) / 2;
}

void zspool_set_mem_limit(struct zspool *pool, uint64_t pages)
{
	STORE_RELAXED(&pool->mem_limit, pages);
}

void zspool_set_reserve(struct zspool *pool, uint64_t pages)
{
	STORE_RELAXED(&pool->reserve_target, pages);
}

void zspool_reset_max(struct zspool *pool)
{
	STORE_RELAXED(&pool->pages_used_max, LOAD_RELAXED(&pool->pages_used));
}

void zspool_stats(struct zspool *pool, struct zspool_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < pool->nr_classes; i++) {
		struct zs_class *cls = &pool->classes[i];

		st->objs_allocated += LOAD_RELAXED(&cls->objs_allocated);
		st->bytes_allocated += LOAD_RELAXED(&cls->bytes_allocated);
	}
	st->pages_used = LOAD_RELAXED(&pool->pages_used);
	st->pages_used_max = LOAD_RELAXED(&pool->pages_used_max);
	st->mem_limit_pages = LOAD_RELAXED(&pool->mem_limit);
	st->pages_compacted = LOAD_RELAXED(&pool->pages_compacted);
	st->reserve_pages = LOAD_RELAXED(&pool->nr_resident);
	st->reserve_target = LOAD_RELAXED(&pool->reserve_target);
	st->chunks_mapped = LOAD_RELAXED(&pool->nr_chunks);
	st->alloc_nowait_failed = LOAD_RELAXED(&pool->nowait_failed);
	st->pages_grown = LOAD_RELAXED(&pool->pages_grown);
	/* Everything besides zspage pages, per object or not. */
	st->meta_bytes = LOAD_RELAXED(&pool->meta_pages) * PAGE_SIZE +
			 (uint64_t)LOAD_RELAXED(&pool->hnext) * sizeof(uint64_t) +
			 LOAD_RELAXED(&pool->hfree_cap) * sizeof(uint32_t) +
			 (uint64_t)st->chunks_mapped * sizeof(struct chunk) +
			 pool->nr_classes * sizeof(struct zs_class) + sizeof(*pool);
}

unsigned zspool_nr_classes(struct zspool *pool)
{
	return pool->nr_classes;
}

void zspool_class_stats(struct zspool *pool, unsigned idx,
			struct zspool_class_stats *st)
{
	struct zs_class *cls;

	memset(st, 0, sizeof(*st));
	if (idx >= pool->nr_classes)
		return;
	cls = &pool->classes[idx];
	st->size = cls->size;
	st->pages_per_zspage = cls->ppz;
	st->objs_per_zspage = cls->objs;
	st->zspages = LOAD_RELAXED(&cls->zspages);
	st->objs_allocated = LOAD_RELAXED(&cls->objs_allocated);
	st->bytes_allocated = LOAD_RELAXED(&cls->bytes_allocated);
}

/* ---- consistency check ----------------------------------------------- */

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "zspool_check: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		return -EUCLEAN;					\
	}								\
} while (0)

static int check_zspage(struct zspool *pool, struct zs_class *cls,
			struct zspage *zs, unsigned g)
{
	uint32_t *owner = zs_owner(zs), hnext = LOAD_RELAXED(&pool->hnext);
	unsigned nfree = 0, live = 0;

	CHECK(zs->cls == cls, "class %u: zspage %p has class %p", cls->index,
	      (void *)zs, (void *)zs->cls);
	CHECK(zs->group == g && group_of(cls, zs->inuse) == g,
	      "class %u: zspage %p inuse %u on group %u", cls->index,
	      (void *)zs, zs->inuse, g);
	CHECK(zs->inuse > 0, "class %u: empty zspage %p kept", cls->index,
	      (void *)zs);
	for (unsigned i = zs->free_head; i != OBJ_NONE; i = owner[i] & 0xffff) {
		CHECK(i < cls->objs && (owner[i] & OWNER_FREE) && nfree < cls->objs,
		      "class %u: zspage %p bad free list at %u", cls->index,
		      (void *)zs, i);
		nfree++;
	}
	for (unsigned i = 0; i < cls->objs; i++) {
		uint64_t v;

		if (owner[i] & OWNER_FREE)
			continue;
		live++;
		CHECK(owner[i] && owner[i] < hnext,
		      "class %u: zspage %p object %u owner %u out of range",
		      cls->index, (void *)zs, i, owner[i]);
		v = LOAD_RELAXED(hslot(pool, owner[i]));
		CHECK((v & SLOT_LIVE) && slot_desc(v) == zs && slot_idx(v) == i,
		      "class %u: handle %u does not point back to %p/%u",
		      cls->index, owner[i], (void *)zs, i);
	}
	CHECK(live == zs->inuse && nfree + live == cls->objs,
	      "class %u: zspage %p inuse %u, %u live, %u free", cls->index,
	      (void *)zs, zs->inuse, live, nfree);
	return 0;
}

/* Walk a class's lists and handle cache; counts its free handles. */
static int check_class(struct zspool *pool, struct zs_class *cls,
		       uint64_t *pages, uint64_t *free_handles)
{
	uint64_t zspages = 0, objs = 0;
	uint64_t c_zspages = LOAD_RELAXED(&cls->zspages);
	uint64_t c_objs = LOAD_RELAXED(&cls->objs_allocated);
	uint32_t hnext = LOAD_RELAXED(&pool->hnext);
	unsigned nh = 0;

	for (unsigned g = 0; g < NR_GROUPS; g++) {
		CHECK(!cls->groups[g] == !(cls->group_mask & (1u << g)),
		      "class %u: group mask %#x wrong for %u", cls->index,
		      cls->group_mask, g);
		CHECK(!cls->huge || !cls->groups[g],
		      "class %u: huge class with zspages", cls->index);
		for (struct zspage *zs = cls->groups[g], *prev = NULL; zs;
		     prev = zs, zs = zs->next) {
			int err;

			CHECK(zs->prev == prev, "class %u: broken list at %p",
			      cls->index, (void *)zs);
			err = check_zspage(pool, cls, zs, g);
			if (err)
				return err;
			zspages++;
			objs += zs->inuse;
		}
	}
	for (; nh < cls->nr_hcache; nh++) {
		uint32_t h = cls->hcache[nh];

		CHECK(h && h < hnext && !(LOAD_RELAXED(hslot(pool, h)) & SLOT_LIVE),
		      "class %u: bad free handle %u", cls->index, h);
	}
	if (cls->huge)
		zspages = objs = c_objs;
	CHECK(zspages == c_zspages && objs == c_objs,
	      "class %u: counters %" PRIu64 "/%" PRIu64 " but found %" PRIu64
	      "/%" PRIu64, cls->index, c_zspages, c_objs, zspages, objs);
	*pages += zspages * cls->ppz;
	*free_handles += nh;
	return 0;
}

/*
 * Walk the whole handle table: every live slot points at an object of the
 * class its size belongs to; per class, live handles and their bytes match
 * the counters; live + free handles account for every index handed out.
 */
static int check_handles(struct zspool *pool, uint64_t free_handles)
{
	uint64_t *objs = calloc(pool->nr_classes, sizeof(*objs));
	uint64_t *bytes = calloc(pool->nr_classes, sizeof(*bytes));
	uint64_t live = 0, nfree = 0;
	uint32_t hnext = LOAD_RELAXED(&pool->hnext);
	int err = 0;

	if (!objs || !bytes) {
		free(objs);
		free(bytes);
		return 0;	/* cannot check; not an inconsistency */
	}
	for (uint32_t h = 1; h < hnext && !err; h++) {
		uint64_t v = LOAD_RELAXED(hslot(pool, h));
		struct zs_class *cls = class_of_size(pool, slot_size(v));

		if (!(v & SLOT_LIVE))
			continue;
		live++;
		objs[cls->index]++;
		bytes[cls->index] += slot_size(v);
		if (slot_is_huge(v)) {
			if (!cls->huge) {
				fprintf(stderr, "zspool_check: handle %u: page %p "
					"for class %u\n", h, (void *)slot_desc(v),
					cls->index);
				err = -EUCLEAN;
			}
		} else if (slot_desc(v)->cls != cls ||
			   zs_owner(slot_desc(v))[slot_idx(v)] != h) {
			fprintf(stderr, "zspool_check: handle %u (size %zu) not "
				"owned by its zspage %p\n", h, slot_size(v),
				(void *)slot_desc(v));
			err = -EUCLEAN;
		}
	}
	for (size_t i = 0; i < pool->nr_hfree && !err; i++) {
		uint32_t h = pool->hfree[i];

		if (!h || h >= hnext || (LOAD_RELAXED(hslot(pool, h)) & SLOT_LIVE)) {
			fprintf(stderr, "zspool_check: bad free handle %u\n", h);
			err = -EUCLEAN;
		}
	}
	nfree = pool->nr_hfree + LOAD_RELAXED(&pool->handles_lost);
	if (!err && live + nfree + free_handles != hnext - 1U) {
		fprintf(stderr, "zspool_check: %" PRIu64 " live + %" PRIu64
			" free handles of %u\n", live, nfree + free_handles,
			hnext - 1);
		err = -EUCLEAN;
	}
	for (unsigned i = 0; i < pool->nr_classes && !err; i++) {
		struct zs_class *cls = &pool->classes[i];
		uint64_t c_objs = LOAD_RELAXED(&cls->objs_allocated);
		uint64_t c_bytes = LOAD_RELAXED(&cls->bytes_allocated);

		if (objs[i] != c_objs || bytes[i] != c_bytes) {
			fprintf(stderr, "zspool_check: class %u: %" PRIu64 " objects, %"
				PRIu64 " bytes, but counters say %" PRIu64 ", %" PRIu64
				"\n", i, objs[i], bytes[i], c_objs, c_bytes);
			err = -EUCLEAN;
		}
	}
	free(objs);
	free(bytes);
	return err;
}

int zspool_check(struct zspool *pool)
{
	uint64_t pages = 0, free_handles = 0;
	unsigned locked = 0;
	int err = 0;

	/* All class locks (ascending): nothing is allocated, freed or moved. */
	for (; locked < pool->nr_classes; locked++)
		pthread_mutex_lock(&pool->classes[locked].lock);
	pthread_mutex_lock(&pool->handle_lock);
	for (unsigned i = 0; i < pool->nr_classes && !err; i++)
		err = check_class(pool, &pool->classes[i], &pages, &free_handles);
	if (!err)
		err = check_handles(pool, free_handles);
	pthread_mutex_unlock(&pool->handle_lock);
	if (!err && pages != LOAD_RELAXED(&pool->pages_used)) {
		fprintf(stderr, "zspool_check: pages_used %" PRIu64
			" but zspages hold %" PRIu64 "\n",
			LOAD_RELAXED(&pool->pages_used), pages);
		err = -EUCLEAN;
	}
	while (locked)
		pthread_mutex_unlock(&pool->classes[--locked].lock);
	return err;
}

size_t zspool_huge_size(struct zspool *pool)
{
	for (unsigned k = 0; k < pool->nr_classes; k++)
		if (pool->classes[k].huge)
			return pool->classes[k].min_size;
	return ZSPOOL_MAX_OBJ + 1;
}
