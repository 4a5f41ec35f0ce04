// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store: a file's pages, compressed, in the zspool allocator.
 *
 * The table.  A file is a radix tree of fixed height: three levels of 4 KiB
 * interior nodes (512 pointers) above 4 KiB leaves of 256 slots, so a page
 * index has 9 + 9 + 9 + 8 = 35 bits (128 TiB).  Every node and leaf is
 * allocated on the first write below it and published with one CAS, so a
 * never-written 1 TiB file costs the struct alone, readers and discards
 * never allocate, and no lock guards the tree.  Nodes are freed only when
 * the file is destroyed.  A slot is 16 bytes, 0.39% of the 4 KiB page it
 * describes; interior nodes add 1/512 of that, and a partly used leaf
 * more (the worst case, one page per 1 MiB, is a 4 KiB leaf per page).
 *
 * The slot.  { lock word, info, val }: info holds the compressed size and
 * the flags (stored, same-filled, huge/raw, idle, written back,
 * incompressible, recompressed) and a generation; val is the zspool
 * handle, the fill word of a same-filled page, or the block of a
 * written-back page in the backing file.  info and val change only under
 * the slot's lock.
 *
 * Post-processing state costs no memory per slot.  The flags take spare
 * bits of info (13-15 and 19-20; the size needs 13 bits, the generation
 * keeps 21-31).  The access time that zram's idle tracking needs (its
 * ac_time, 8 bytes per slot when built in) lives in the lock word: only
 * its low 2 bits are the lock state, so the 30 bits above hold the
 * second of the last read or write (store_now(): from the store's start,
 * 34 years), written by the holder in the same atomic that releases the
 * lock (slot_unlock_touch()).  Always on, so that "idle 3600" is right
 * from the first hour without a table allocated on first use; the cost
 * is one clock_gettime() (vDSO) per request and a CAS instead of an
 * exchange at unlock.  A read or write clears the idle mark, marking idle
 * changes no content and so no generation, and a partial write ignores a
 * mark set while it re-encoded.
 *
 * Written-back pages (backing.c holds the file): the slot keeps the
 * compressed size and flags, val the block.  A read takes the slot's
 * content under the lock, lets go, reads the block into its bounce page
 * with direct I/O and decodes there, then checks that the slot did not
 * change meanwhile (else it starts again): no slot lock is held across
 * I/O that may wait for memory, the same rule as the write path's
 * below.  Freeing a block (overwrite, discard, destroy) only sets a bit;
 * the backing file's thread punches the hole.
 *
 * The slot lock is the first word of the slot itself, a three-state futex
 * lock (0 free, 1 held, 2 held with sleepers): uncontended it is one CAS
 * on a cache line the operation touches anyway, it costs no memory (the
 * slot is padded to 16 bytes regardless), two slots never share a lock, and
 * a contended waiter sleeps instead of spinning on a 2-core machine where
 * the holder may be decompressing.  Striped mutexes were the alternative:
 * 40 bytes each, a hash, a second cache line per operation, and false
 * conflicts between unrelated pages.  Measured (bench/store_bench.c, part
 * 3), uncontended lock + unlock walking 1 Mi slots costs 23-25 ns here
 * against 8-25 ns for 1024 striped mutexes (the two locked instructions
 * of the in-slot lock cannot hide a slot's cache miss the way a mutex's
 * plain store to the slot can); next to the 5-10 us of compressing a page
 * neither matters, so memory and the absence of false conflicts decide.
 * A discard walks slots at about that cost: 256 slots, 6-8 us per MiB.
 * No lock wider than a slot is taken on the
 * read/write/discard path; the slot lock is never held while taking
 * another slot lock.  Lock order: train_lock -> pp_lock -> slot lock ->
 * (zspool's locks, inside zspool_alloc()/map) ; tls_lock and files_lock
 * are leaves, never held with a slot lock.
 *
 * Writing a whole page compresses it with this thread's codec context into
 * this thread's buffer and allocates and fills the new object before
 * taking the slot lock; under the lock the slot is switched, and the old
 * object is freed after the unlock.  A partial page is read, modified and
 * re-encoded under the slot lock.  Failure at any point leaves the old
 * content in place.  A page whose compressed size reaches 3/4 of a page
 * (zram's huge threshold) is stored raw; a same-filled page stores its word.
 *
 * Memory for writes.  Every allocation a write makes - the compressed
 * object, a new slot-table page - goes through the reserve's ladder
 * (store_get() -> reserve_get(), src/reserve.c) with no slot lock held (a
 * partial page is read under the lock, re-encoded without it, and
 * switched in only if the slot's generation is unchanged, else redone):
 * no write waits for the kernel to reclaim, and -ENOMEM is the answer
 * when memory is short.
 *
 * Discard detaches pages under their slot locks into this thread's reclaim
 * node and hands full nodes to reclaim (src/reclaim.c); a destroyed file's
 * whole tree is handed over in one push.  Freeing an object replaced by an
 * overwrite goes straight to zspool_free(): the write has already paid for
 * a compression and an allocation, and deferring would only add queue
 * traffic.
 *
 * Counters: one block of per-thread counters per (thread, store), written
 * only by their thread with plain relaxed stores (no lock prefix, no shared
 * cache line) and summed by store_stats().  Gauges are signed deltas, so a
 * page written by one thread and discarded by another sums right.  The
 * per-file usage is two relaxed atomics in the file.
 *
 * Dictionaries (zram's algorithm_params dict=, and train_dict, which
 * zram lacks).  A zstd page may be encoded with a dictionary; it must be
 * decoded with the same one, forever.  A page records which: an index
 * into a table of dictionaries (st->dicts, STORE_DICTS - 1 = 7 entries;
 * 0 = none) in the top 4 bits of val, which neither a handle (below 2^30)
 * nor a block of the backing file reaches; a same-filled page, whose val
 * is its whole fill word, has none.  So a page written before any
 * dictionary decodes as before, and a writeback or a recompression
 * carries the index along.  An entry holds the decoding form (a DDict,
 * any level); the encoding form (a CDict, one level) belongs to a
 * codec's parameters: st->enc for the primary, st->comp_cdict[] for the
 * recompression codecs.  Several dictionaries live at once because a new
 * one (a second train_dict, a new dict=) must not wait for the last page
 * of the old one to go, which on a swap device may be never; the other
 * choice, one per codec replaceable only while no page uses it, is
 * simpler but would make retraining a one-shot.  Seven bound the memory
 * (a 64 KiB dictionary takes 0.1 MiB to decode and 0.5 MiB to encode at
 * level 3); an install that finds the table full gets -EBUSY.
 *
 * An entry is freed (store_dict_gc(), at each install and each read of
 * train_dict's report, under pp_lock) once no encoding and no page names
 * it.  Pages are found by a walk of every slot under its lock, ~25 ns a
 * slot: counting pages per dictionary instead would put a counter update
 * (and val, where the index lives) into every write's accounting.  The
 * walk is exact because no new page can name the entry by then: an
 * encoding names it only while it is current or still used by a worker.
 *
 * How workers take a new encoding (level or dictionary): as the level
 * before, at their next request (store_tls_prepare(): one load and one
 * predictable branch when nothing changed).  The encoding is an immutable
 * struct store_enc published in st->enc; a worker announces the one its
 * context references in t->enc (a hazard pointer: store, then check that
 * it is still current, both seq_cst) before it uses it, and the
 * replaced one waits on st->retired until no worker announces it.  An
 * idle worker holds on to the old one until its next request.  Reading
 * a page decodes under the slot lock, a written-back one included (its
 * block is read with no lock, then checked and decoded under it), so the
 * slot's own index keeps the entry alive for the decode.  The
 * recompression codecs' encodings are used only under pp_lock, as
 * installs are, and need none of this.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "pp.h"
#include "recomp.h"
#include "reclaim.h"
#include "reserve.h"
#include "store.h"
#include "backing.h"
#include "zspool.h"


#define LEAF_SHIFT 8
#define LEAF_SLOTS (1u << LEAF_SHIFT)
#define NODE_SHIFT 9
#define NODE_PTRS (1u << NODE_SHIFT)
#define TABLE_LEVELS 3			/* interior levels above the leaves */
#define STORE_MAX_PAGES (STORE_MAX_BYTES >> STORE_PAGE_SHIFT)
#define STORE_MAX_LEAVES (STORE_MAX_PAGES >> LEAF_SHIFT)

_Static_assert(LEAF_SHIFT + NODE_SHIFT * TABLE_LEVELS + STORE_PAGE_SHIFT == 47,
	       "the table addresses STORE_MAX_BYTES");

/* Slot info: size in the low bits, flags above. */
#define SLOT_SIZE_MASK 0x1fffu
/* val is a block of the backing file, holding the object's bytes */
#define SLOT_WB (1u << 13)
#define SLOT_INCOMP (1u << 14)		/* recompression did not shrink it */
#define SLOT_STORED (1u << 16)		/* the page holds data */
#define SLOT_SAME (1u << 17)		/* val is the fill word */
#define SLOT_HUGE (1u << 18)		/* stored raw, 4096 bytes */
#define SLOT_IDLE (1u << 19)		/* not accessed since marked idle */
/* the codec that encoded it: its priority (0 primary, 1-3 recompression) */
#define SLOT_PRIO_LO (1u << 15)
#define SLOT_PRIO_HI (1u << 20)
#define SLOT_PRIO_MASK (SLOT_PRIO_LO | SLOT_PRIO_HI)
#define SLOT_READ (1u << 21)		/* read since it was written */
/* The top bits count changes of the slot, so that a writer that let go
 * of the lock to allocate can tell whether the slot changed meanwhile. */
#define SLOT_GEN_SHIFT 22
#define SLOT_GEN_ONE (1u << SLOT_GEN_SHIFT)
#define SLOT_GEN_MASK (~0u << SLOT_GEN_SHIFT)

/*
 * The lock word: the lock state in the low 2 bits, the page's last access
 * (store_now(): seconds since the store was made, 0 = never) in the 30
 * bits above, written by the holder as it lets go.  See the head comment.
 */
#define SLOT_LOCK_MASK 3u
#define SLOT_TIME_SHIFT 2
#define SLOT_TIME_MAX (UINT32_MAX >> SLOT_TIME_SHIFT)

/*
 * An object's or a written-back page's dictionary: an index into
 * st->dicts in the top bits of val, 0 = none (see the head comment).
 */
#define SLOT_DICT_SHIFT 60
#define SLOT_OBJ_MASK ((UINT64_C(1) << SLOT_DICT_SHIFT) - 1)
#define STORE_DICTS 8			/* table entries; 0 is "none" */

_Static_assert(STORE_DICTS <= 16, "a dictionary index fits val's top 4 bits");

struct slot {
	_Atomic uint32_t lock;		/* state 0 free, 1 held, 2 held + sleepers; time */
	_Atomic uint32_t info;		/* protected by lock (relaxed peeks allowed) */
	uint64_t val;			/* protected by lock */
};

_Static_assert(sizeof(struct slot) == 16, "a slot is 16 bytes");

struct leaf {
	struct slot s[LEAF_SLOTS];
};

struct node {
	_Atomic(void *) p[NODE_PTRS];	/* set once by CAS, acquire loads */
};

_Static_assert(sizeof(struct leaf) == 4096 && sizeof(struct node) == 4096,
	       "table blocks are 4 KiB");

enum store_counter {
	C_ORIG, C_COMPR, C_SAME, C_HUGE, C_HUGE_SINCE,
	C_FAILED_READS, C_FAILED_WRITES, C_INVALID, C_NOTIFY_FREE,
	C_SYNC_FREES, C_READS, C_WRITES,
	C_BD_COUNT, C_BD_READS, C_BD_WRITES,
	C_READBACK, C_READBACK_COMPR, C_READBACK_RECOMP, C_READBACK_TODO,
	C_NR
};

/* This thread's state for one store. */
struct store_tls {
	struct store *st;
	struct store_tls *next, *prev;	/* protected by st->tls_lock */
	_Atomic int64_t cnt[C_NR];	/* written by the owner only, relaxed */
	struct codec_ctx *ctx;
	/* the other codec, to decode pages recompressed with it; owner only */
	struct codec_ctx *alt;
	/*
	 * The primary's encoding t->ctx may use: written by the owner only
	 * (seq_cst), read by store_dict_gc() under st->tls_lock.
	 */
	_Atomic(struct store_enc *) enc;
	struct store_enc *enc_done;	/* owner only: fully taken (else NULL) */
	uint64_t dict_val;		/* owner only: val bits of t->ctx's dictionary */
	int level;			/* owner only: the level t->ctx compresses at */
	struct reclaim_node *rn;	/* discard batch; owner only */
	unsigned allocs;		/* owner only: paces refill kicks */
	uint32_t now;			/* owner only: store_now() of this operation */
	_Alignas(64) unsigned char cbuf[STORE_PAGE_SIZE];
	unsigned char page[STORE_PAGE_SIZE];
	/* 4 KiB-aligned: the backing file's direct I/O goes through it */
	_Alignas(STORE_PAGE_SIZE) unsigned char bounce[STORE_PAGE_SIZE];
};

struct store_file {
	struct store *st;
	_Atomic(void *) root;		/* set once by CAS */
	_Atomic uint64_t pages;		/* relaxed: stored pages */
	_Atomic uint64_t compr;		/* relaxed: bytes of objects */
	_Atomic uint64_t objs;		/* relaxed: objects */
	_Atomic uint64_t meta;		/* relaxed: table bytes */
	struct store_file *next, *prev;	/* protected by st->files_lock */
	/* post-processing walks under way (store_files_pin()) */
	_Atomic unsigned pins;
};

/*
 * The primary codec's encoding: its level and dictionary.  Immutable once
 * published in st->enc; freed when replaced and no worker announces it
 * (see the head comment).
 */
struct store_enc {
	int level;
	unsigned dict;			/* st->dicts index, 0 = none */
	struct codec_cdict *cdict;	/* owned; NULL without a dictionary */
	struct store_enc *next;		/* st->retired; protected by pp_lock */
};

/* The last training (train_dict); protected by st->pp_lock. */
struct store_train {
	uint64_t dict_bytes, samples, sample_bytes, compr_plain, compr_dict;
};

struct store {
	struct codec codec;
	struct zspool *pool;
	struct reclaim *rc;
	struct recomp *recomp;		/* read-back recompression, or NULL */
	struct reserve *rs;
	bool deferred;
	size_t huge_size;		/* compressed to this or more: stored raw */
	_Atomic uint64_t mem_limit;	/* relaxed; bytes */
	_Atomic uint64_t table_bytes;	/* relaxed */
	pthread_key_t key;
	pthread_mutex_t tls_lock;
	struct store_tls *tls_list;	/* protected by tls_lock */
	int64_t dead[C_NR];		/* protected by tls_lock */
	pthread_mutex_t files_lock;
	struct store_file *files;	/* protected by files_lock */
	time_t epoch;			/* CLOCK_BOOTTIME second of store_now() 1 */
	bool io_flusher;
	/*
	 * Post-processing (writeback, recompression): one pass at a time, as
	 * zram's pp_in_progress; a second gets -EAGAIN.
	 */
	pthread_mutex_t pp_lock;
	/*
	 * The backing file.  Replaced, and the old one closed (its path
	 * freed), under pp_lock and only while backing_used is false: so its
	 * fields are read under pp_lock (store_backing_dev() copies the
	 * path out), and a bare load only tells whether there is one (never
	 * unset once set).  The I/O path uses it without the lock only for
	 * a page written back to it, which backing_used keeps from being
	 * replaced.  Keeping replaced ones until store_destroy() instead
	 * would keep a block device open (O_EXCL) that the user let go of.
	 */
	_Atomic(struct backing *) backing;	/* acquire loads; set under pp_lock */
	/* a page has been written back to backing (a pass alone does not count) */
	bool backing_used;			/* protected by pp_lock */
	_Atomic uint64_t wb_limit;	/* pages; relaxed */
	_Atomic bool wb_limit_enable;	/* relaxed */
	/*
	 * Recompression codecs by priority (comps[0] unused: st->codec).  A
	 * priority's codec is set under pp_lock and only while no page uses
	 * it (comp_used), so a reader that found a page of that priority
	 * (through the slot lock) sees it settled.
	 */
	struct codec comps[PP_MAX_COMPS];
	bool comp_set[PP_MAX_COMPS];	/* protected by pp_lock */
	bool comp_used[PP_MAX_COMPS];	/* protected by pp_lock */
	/* the codec other than the primary that some priority uses, or NULL */
	_Atomic(const struct codec_ops *) alt_ops;	/* acquire */
	/*
	 * The primary's encoding now (algorithm_params: level, dictionary);
	 * st->codec keeps the first level.  Set under pp_lock, seq_cst.
	 */
	_Atomic(struct store_enc *) enc;
	struct store_enc *retired;	/* replaced, maybe in use; pp_lock */
	/*
	 * Dictionaries pages may name (index 0 unused): set under pp_lock,
	 * cleared by store_dict_gc() under it.  A decoder loads an entry
	 * under the lock of a slot that names it, so it is there.
	 */
	_Atomic(struct codec_dict *) dicts[STORE_DICTS];	/* acquire */
	/* the recompression codecs' dictionaries: comps[p].cdict, owned */
	struct codec_cdict *comp_cdict[PP_MAX_COMPS];	/* protected by pp_lock */
	unsigned comp_dict[PP_MAX_COMPS];	/* index; protected by pp_lock */
	struct store_train train;	/* protected by pp_lock */
	/* one training at a time, taken before pp_lock */
	pthread_mutex_t train_lock;
};

/* --- slot lock ------------------------------------------------------- */

static void slot_lock_slow(struct slot *s)
{
	uint32_t v;

	for (int i = 0; i < 100; i++) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
		v = atomic_load_explicit(&s->lock, memory_order_relaxed);
		if ((v & SLOT_LOCK_MASK) == 0 &&
		    atomic_compare_exchange_weak_explicit(&s->lock, &v, v | 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
	}
	/*
	 * Taken with "sleepers" set, conservatively, as in Drepper's mutex;
	 * the time bits ride along unchanged.  The holder may rewrite them
	 * only as it unlocks, so a sleeper's expected value goes stale only
	 * when the lock was released: FUTEX_WAIT then returns at once.
	 */
	for (;;) {
		v = atomic_load_explicit(&s->lock, memory_order_relaxed);
		if ((v & SLOT_LOCK_MASK) == 0) {
			if (atomic_compare_exchange_weak_explicit(&s->lock, &v,
					(v & ~SLOT_LOCK_MASK) | 2,
					memory_order_acquire, memory_order_relaxed))
				return;
			continue;
		}
		if ((v & SLOT_LOCK_MASK) == 1 &&
		    !atomic_compare_exchange_weak_explicit(&s->lock, &v,
					(v & ~SLOT_LOCK_MASK) | 2,
					memory_order_relaxed, memory_order_relaxed))
			continue;
		syscall(SYS_futex, &s->lock, FUTEX_WAIT_PRIVATE,
			(v & ~SLOT_LOCK_MASK) | 2, NULL, NULL, 0);
	}
}

static inline void slot_lock(struct slot *s)
{
	uint32_t v = atomic_load_explicit(&s->lock, memory_order_relaxed) &
		     ~SLOT_LOCK_MASK;

	if (!atomic_compare_exchange_strong_explicit(&s->lock, &v, v | 1,
						     memory_order_acquire,
						     memory_order_relaxed))
		slot_lock_slow(s);
}

static inline void slot_unlock(struct slot *s)
{
	if ((atomic_fetch_and_explicit(&s->lock, ~SLOT_LOCK_MASK,
				       memory_order_release) & SLOT_LOCK_MASK) == 2)
		syscall(SYS_futex, &s->lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Unlock, recording an access at @now. */
static inline void slot_unlock_touch(struct slot *s, uint32_t now)
{
	uint32_t v = atomic_load_explicit(&s->lock, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(&s->lock, &v,
						      now << SLOT_TIME_SHIFT,
						      memory_order_release,
						      memory_order_relaxed))
		;
	if ((v & SLOT_LOCK_MASK) == 2)
		syscall(SYS_futex, &s->lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/*
 * Set the time bits of a slot we hold (waiters may set the sleepers bit
 * meanwhile, hence the CAS).
 */
static inline void slot_set_time_locked(struct slot *s, uint32_t at)
{
	uint32_t v = atomic_load_explicit(&s->lock, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(&s->lock, &v,
			(at << SLOT_TIME_SHIFT) | (v & SLOT_LOCK_MASK),
			memory_order_relaxed, memory_order_relaxed))
		;
}

/* The last access of a slot (a racy peek is fine: it is a hint). */
static inline uint32_t slot_time(struct slot *s)
{
	return atomic_load_explicit(&s->lock, memory_order_relaxed) >> SLOT_TIME_SHIFT;
}

static inline uint32_t slot_info(struct slot *s)
{
	return atomic_load_explicit(&s->info, memory_order_relaxed);
}

/* Set a locked slot's content; its generation advances. */
static inline void slot_set(struct slot *s, uint32_t info, uint64_t val)
{
	uint32_t gen = (slot_info(s) + SLOT_GEN_ONE) & SLOT_GEN_MASK;

	s->val = val;
	atomic_store_explicit(&s->info, (info & ~SLOT_GEN_MASK) | gen,
			      memory_order_relaxed);
}

static inline bool info_has_obj(uint32_t info)
{
	return (info & (SLOT_STORED | SLOT_SAME | SLOT_WB)) == SLOT_STORED;
}

static inline unsigned info_prio(uint32_t info)
{
	return ((info & SLOT_PRIO_LO) ? 1u : 0u) | ((info & SLOT_PRIO_HI) ? 2u : 0u);
}

static inline uint32_t prio_info(unsigned prio)
{
	return ((prio & 1) ? SLOT_PRIO_LO : 0) | ((prio & 2) ? SLOT_PRIO_HI : 0);
}

static inline bool info_wb(uint32_t info)
{
	return (info & (SLOT_STORED | SLOT_WB)) == (SLOT_STORED | SLOT_WB);
}

static inline uint32_t info_obj_size(uint32_t info)
{
	return info_has_obj(info) ? info & SLOT_SIZE_MASK : 0;
}

/* The handle of an object or the block of a written-back page. */
static inline uint64_t val_obj(uint64_t val)
{
	return val & SLOT_OBJ_MASK;
}

/* Its dictionary (for a slot with an object or a block). */
static inline unsigned val_dict(uint64_t val)
{
	return (unsigned)(val >> SLOT_DICT_SHIFT);
}

/*
 * The clock of access times: whole seconds of CLOCK_BOOTTIME (zram's
 * ac_time clock; it goes on during suspend) since the store was made,
 * from 1, so that 0 means never.  30 bits last 34 years.
 */
static uint32_t store_now(struct store *st)
{
	struct timespec ts;
	uint64_t v;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	v = (uint64_t)(ts.tv_sec - st->epoch) + 1;
	return v > SLOT_TIME_MAX ? SLOT_TIME_MAX : (uint32_t)v;
}

/* --- counters -------------------------------------------------------- */

static inline void cnt_add(struct store_tls *t, enum store_counter c, int64_t d)
{
	atomic_store_explicit(&t->cnt[c],
			      atomic_load_explicit(&t->cnt[c], memory_order_relaxed) + d,
			      memory_order_relaxed);
}

/* For a thread without state (it could not be created). */
static void cnt_add_locked(struct store *st, enum store_counter c, int64_t d)
{
	pthread_mutex_lock(&st->tls_lock);
	st->dead[c] += d;
	pthread_mutex_unlock(&st->tls_lock);
}

/* Changes to the counters, summed over one operation and applied once. */
struct store_delta {
	int64_t pages, compr, objs, same, huge, huge_new, freed, bd;
	int64_t readback, readback_compr, readback_recomp, readback_todo;
};

/* A read-back object no recompression codec has tried yet. */
static inline bool info_readback_todo(uint32_t info)
{
	return info_has_obj(info) && (info & SLOT_READ) &&
	       !(info & (SLOT_PRIO_MASK | SLOT_INCOMP));
}

/* The read-back marks of a slot went from @oldi to @newi. */
static inline void delta_marks(struct store_delta *d, uint32_t oldi, uint32_t newi)
{
	bool rn = newi & SLOT_READ, ro = oldi & SLOT_READ;

	d->readback += rn - ro;
	d->readback_compr += (int64_t)(rn ? info_obj_size(newi) : 0) -
			     (ro ? info_obj_size(oldi) : 0);
	d->readback_recomp += (rn && info_has_obj(newi) && (newi & SLOT_PRIO_MASK)) -
			      (ro && info_has_obj(oldi) && (oldi & SLOT_PRIO_MASK));
	d->readback_todo += info_readback_todo(newi) - info_readback_todo(oldi);
}

/* A slot went from @oldi to @newi (either may be empty). */
static inline void delta_slot(struct store_delta *d, uint32_t oldi, uint32_t newi)
{
	int64_t huge = (info_has_obj(newi) && (newi & SLOT_HUGE)) -
		       (info_has_obj(oldi) && (oldi & SLOT_HUGE));

	d->pages += !!(newi & SLOT_STORED) - !!(oldi & SLOT_STORED);
	d->compr += (int64_t)info_obj_size(newi) - info_obj_size(oldi);
	d->objs += info_has_obj(newi) - info_has_obj(oldi);
	d->same += !!(newi & SLOT_SAME) - !!(oldi & SLOT_SAME);
	d->huge += huge;
	/* zram's huge_pages_since counts every incompressible page stored,
	 * an overwrite of one huge page by another included */
	d->huge_new += info_has_obj(newi) && (newi & SLOT_HUGE);
	d->bd += info_wb(newi) - info_wb(oldi);
	delta_marks(d, oldi, newi);
}

static void store_account_marks(struct store_tls *t, const struct store_delta *d)
{
	if (d->readback)
		cnt_add(t, C_READBACK, d->readback);
	if (d->readback_compr)
		cnt_add(t, C_READBACK_COMPR, d->readback_compr);
	if (d->readback_recomp)
		cnt_add(t, C_READBACK_RECOMP, d->readback_recomp);
	if (d->readback_todo)
		cnt_add(t, C_READBACK_TODO, d->readback_todo);
}

/* Only a mark of a slot changed, not its content. */
static void store_account_mark(struct store_tls *t, uint32_t oldi, uint32_t newi)
{
	struct store_delta d = { 0 };

	delta_marks(&d, oldi, newi);
	store_account_marks(t, &d);
}

static void store_account(struct store_tls *t, struct store_file *f,
			  const struct store_delta *d)
{
	if (d->pages) {
		cnt_add(t, C_ORIG, d->pages * STORE_PAGE_SIZE);
		atomic_fetch_add_explicit(&f->pages, (uint64_t)d->pages, memory_order_relaxed);
	}
	if (d->compr) {
		cnt_add(t, C_COMPR, d->compr);
		atomic_fetch_add_explicit(&f->compr, (uint64_t)d->compr, memory_order_relaxed);
	}
	if (d->objs)
		atomic_fetch_add_explicit(&f->objs, (uint64_t)d->objs, memory_order_relaxed);
	if (d->same)
		cnt_add(t, C_SAME, d->same);
	if (d->huge)
		cnt_add(t, C_HUGE, d->huge);
	if (d->huge_new)
		cnt_add(t, C_HUGE_SINCE, d->huge_new);
	if (d->freed)
		cnt_add(t, C_NOTIFY_FREE, d->freed);
	if (d->bd)
		cnt_add(t, C_BD_COUNT, d->bd);
	store_account_marks(t, d);
}

/* The counters of one slot going from @oldi to @newi. */
static void store_account_slot(struct store_tls *t, struct store_file *f,
			       uint32_t oldi, uint32_t newi)
{
	struct store_delta d = { 0 };

	delta_slot(&d, oldi, newi);
	store_account(t, f, &d);
}

/* --- per-thread state ------------------------------------------------ */

static void store_tls_free(struct store_tls *t)
{
	codec_ctx_destroy(t->alt);
	codec_ctx_destroy(t->ctx);
	reclaim_node_put(t->st->rc, t->rn);
	free(t);
}

/* Called with st->tls_lock held. */
static void store_tls_unlink(struct store *st, struct store_tls *t)
{
	for (int i = 0; i < C_NR; i++)
		st->dead[i] += atomic_load_explicit(&t->cnt[i], memory_order_relaxed);
	if (t->prev)
		t->prev->next = t->next;
	else
		st->tls_list = t->next;
	if (t->next)
		t->next->prev = t->prev;
}

/*
 * A thread's state leaves the store: its contexts go first, while it is
 * still on the list announcing the encoding they use (store_dict_gc()).
 */
static void store_tls_leave(struct store *st, struct store_tls *t)
{
	codec_ctx_destroy(t->ctx);
	codec_ctx_destroy(t->alt);
	t->ctx = t->alt = NULL;
	pthread_mutex_lock(&st->tls_lock);
	store_tls_unlink(st, t);
	pthread_mutex_unlock(&st->tls_lock);
	store_tls_free(t);
}

/* pthread key destructor: the thread is exiting. */
static void store_tls_exit(void *arg)
{
	struct store_tls *t = arg;

	store_tls_leave(t->st, t);
}

/*
 * Use a context once: its state (zstd's lazily allocated tables among it,
 * sized for its dictionary if it has one) is then faulted in now, not on
 * the I/O path under a slot lock.
 */
static void store_ctx_warm(struct store_tls *t, struct codec_ctx *ctx)
{
	long n = codec_compress(ctx, t->page, STORE_PAGE_SIZE, t->cbuf,
				sizeof(t->cbuf));

	if (n > 0)
		codec_decompress(ctx, t->cbuf, (size_t)n, t->bounce, STORE_PAGE_SIZE);
}

static int store_tls_switch(struct store *st, struct store_tls *t,
			    struct store_enc *e);
static void store_tls_prepare(struct store *st, struct store_tls *t);

static int store_tls_create(struct store *st, struct store_tls **out)
{
	struct store_tls *t = aligned_alloc(_Alignof(struct store_tls), sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->st = st;
	/* on the list before it first announces an encoding */
	pthread_mutex_lock(&st->tls_lock);
	t->next = st->tls_list;
	if (t->next)
		t->next->prev = t;
	st->tls_list = t;
	pthread_mutex_unlock(&st->tls_lock);
	ret = store_tls_switch(st, t, atomic_load_explicit(&st->enc,
							   memory_order_acquire));
	if (ret < 0) {
		store_tls_leave(st, t);
		return ret;
	}
	/* the recompression codec's context too, when one is named already
	 * (recomp= at mount): made and faulted in now, not at a request */
	store_tls_prepare(st, t);
	if (t->alt)
		store_ctx_warm(t, t->alt);
	t->rn = reclaim_node_get(st->rc);
	ret = -pthread_setspecific(st->key, t);
	if (ret) {
		store_tls_leave(st, t);
		return ret;
	}
	*out = t;
	return 0;
}

static inline int store_tls_get(struct store *st, struct store_tls **out)
{
	struct store_tls *t = pthread_getspecific(st->key);

	if (__builtin_expect(t != NULL, 1)) {
		*out = t;
		return 0;
	}
	return store_tls_create(st, out);
}

int store_thread_init(struct store *st)
{
	struct store_tls *t;

	return store_tls_get(st, &t);
}

/* --- the table ------------------------------------------------------- */

static int store_get(struct store *st, struct store_tls *t, size_t size,
		     zspool_handle_t *h, void **page);

/* The block at *@pp; with @t (a writer), created when absent. */
static void *table_get(struct store_file *f, struct store_tls *t,
		       _Atomic(void *) *pp)
{
	void *p = atomic_load_explicit(pp, memory_order_acquire);
	void *expected = NULL;

	if (p || !t)
		return p;
	/*
	 * Table pages come from the allocator, by the same path as objects
	 * (store_get()), so that a no-wait store takes them from the same
	 * pre-faulted reserve and never waits for the kernel on a new leaf
	 * either.
	 */
	if (store_get(f->st, t, 0, NULL, &p) < 0)
		return NULL;
	memset(p, 0, 4096);
	if (!atomic_compare_exchange_strong_explicit(pp, &expected, p,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		zspool_page_free(f->st->pool, p);
		return expected;
	}
	atomic_fetch_add_explicit(&f->meta, 4096, memory_order_relaxed);
	atomic_fetch_add_explicit(&f->st->table_bytes, 4096, memory_order_relaxed);
	return p;
}

/*
 * The leaf holding leaf index @lidx; NULL when absent (or out of memory).
 * A writer passes its @t, and the path is created as needed.
 */
static struct leaf *table_leaf(struct store_file *f, struct store_tls *t,
			       uint64_t lidx)
{
	_Atomic(void *) *pp = &f->root;

	for (int lvl = 0; lvl < TABLE_LEVELS; lvl++) {
		struct node *n = table_get(f, t, pp);
		unsigned shift = NODE_SHIFT * (TABLE_LEVELS - 1 - lvl);

		if (!n)
			return NULL;
		pp = &n->p[(lidx >> shift) & (NODE_PTRS - 1)];
	}
	return table_get(f, t, pp);
}

/*
 * The first present leaf with an index in [*lidx, end), skipping absent
 * subtrees whole; sets *lidx to its index.  NULL when there is none.
 */
static struct leaf *table_next_leaf(struct store_file *f, uint64_t *lidx,
				    uint64_t end)
{
	uint64_t i = *lidx;

	while (i < end) {
		void *p = atomic_load_explicit(&f->root, memory_order_acquire);
		int lvl;

		if (!p)
			return NULL;
		for (lvl = 0; lvl < TABLE_LEVELS; lvl++) {
			unsigned shift = NODE_SHIFT * (TABLE_LEVELS - 1 - lvl);
			struct node *n = p;

			p = atomic_load_explicit(&n->p[(i >> shift) & (NODE_PTRS - 1)],
						 memory_order_acquire);
			if (!p) {
				uint64_t span = 1ull << shift;

				i = (i & ~(span - 1)) + span;
				break;
			}
		}
		if (p) {
			*lidx = i;
			return p;
		}
	}
	return NULL;
}

struct table_walk {
	struct store *st;
	zspool_handle_t h[512];
	size_t n;
	int64_t d[C_NR];
	uint64_t objs;
};

static void table_walk_flush(struct table_walk *w)
{
	if (w->n)
		zspool_free_batch(w->st->pool, w->h, w->n);
	w->n = 0;
}

static void table_walk_free(struct table_walk *w, void *p, int lvl)
{
	if (!p)
		return;
	if (lvl == TABLE_LEVELS) {
		struct leaf *l = p;

		for (unsigned i = 0; i < LEAF_SLOTS; i++) {
			uint32_t info = slot_info(&l->s[i]);

			if (!(info & SLOT_STORED))
				continue;
			w->d[C_ORIG] -= STORE_PAGE_SIZE;
			{
				struct store_delta d = { 0 };

				delta_marks(&d, info, 0);
				w->d[C_READBACK] += d.readback;
				w->d[C_READBACK_COMPR] += d.readback_compr;
				w->d[C_READBACK_RECOMP] += d.readback_recomp;
				w->d[C_READBACK_TODO] += d.readback_todo;
			}
			if (info & SLOT_SAME) {
				w->d[C_SAME]--;
				continue;
			}
			if (info & SLOT_WB) {
				backing_block_free(atomic_load_explicit(&w->st->backing,
						memory_order_acquire), val_obj(l->s[i].val));
				w->d[C_BD_COUNT]--;
				continue;
			}
			w->d[C_COMPR] -= info & SLOT_SIZE_MASK;
			if (info & SLOT_HUGE)
				w->d[C_HUGE]--;
			w->h[w->n++] = (zspool_handle_t)val_obj(l->s[i].val);
			w->objs++;
			if (w->n == sizeof(w->h) / sizeof(w->h[0]))
				table_walk_flush(w);
		}
	} else {
		struct node *n = p;

		for (unsigned i = 0; i < NODE_PTRS; i++)
			table_walk_free(w, atomic_load_explicit(&n->p[i], memory_order_acquire),
					lvl + 1);
	}
	zspool_page_free(w->st->pool, p);
}

/*
 * Free a destroyed file's whole tree and the file; runs on a reclaim
 * worker (or in the caller when freeing synchronously).  Returns objects
 * freed.
 */
static uint64_t store_table_free(void *arg, void *table)
{
	struct store *st = arg;
	struct store_file *f = table;
	/* On the stack (4 KiB; reclaim threads have 8 MiB): no allocation
	 * when memory may be short. */
	struct table_walk walk = { .st = st }, *w = &walk;
	uint64_t objs;

	table_walk_free(w, atomic_load_explicit(&f->root, memory_order_acquire), 0);
	table_walk_flush(w);
	pthread_mutex_lock(&st->tls_lock);
	for (int i = 0; i < C_NR; i++)
		st->dead[i] += w->d[i];
	pthread_mutex_unlock(&st->tls_lock);
	atomic_fetch_sub_explicit(&st->table_bytes,
				  atomic_load_explicit(&f->meta, memory_order_relaxed),
				  memory_order_relaxed);
	objs = w->objs;
	free(f);
	return objs;
}

/* --- pages ----------------------------------------------------------- */

static bool page_same_filled(const unsigned char *p, uint64_t *fill)
{
	uint64_t v, last;

	memcpy(&v, p, 8);
	memcpy(&last, p + STORE_PAGE_SIZE - 8, 8);
	if (v != last)
		return false;
	for (size_t i = 8; i < STORE_PAGE_SIZE - 8; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w != v)
			return false;
	}
	*fill = v;
	return true;
}

static void page_fill(unsigned char *p, uint64_t v)
{
	if (v == 0) {
		memset(p, 0, STORE_PAGE_SIZE);
		return;
	}
	for (size_t i = 0; i < STORE_PAGE_SIZE; i += 8)
		memcpy(p + i, &v, 8);
}

/*
 * Every allocation a write makes, objects and slot-table pages, goes
 * through the reserve's ladder (src/reserve.c); the caller holds no lock.
 */
static int store_get(struct store *st, struct store_tls *t, size_t size,
		     zspool_handle_t *h, void **page)
{
	return reserve_get(st->rs, size, h, page, &t->allocs);
}

/*
 * Encode one page as a slot's new content: the fill word, or a new object
 * holding it compressed (raw when that does not save a quarter), with the
 * index of the dictionary this thread's context used.
 */
static int store_encode(struct store *st, struct store_tls *t,
			const unsigned char *src, uint32_t *info, uint64_t *val)
{
	const void *data = t->cbuf;
	uint32_t flags = SLOT_STORED;
	uint64_t dict = t->dict_val;
	zspool_handle_t h;
	uint64_t fill;
	long n;
	int ret;

	if (page_same_filled(src, &fill)) {
		*info = SLOT_STORED | SLOT_SAME;
		*val = fill;
		return 0;
	}
	n = codec_compress(t->ctx, src, STORE_PAGE_SIZE, t->cbuf,
			   st->huge_size - 1);
	if (n == -E2BIG) {
		n = STORE_PAGE_SIZE;
		data = src;
		flags |= SLOT_HUGE;
		dict = 0;
	} else if (n <= 0) {
		return n < 0 ? (int)n : -EIO;
	}
	ret = store_get(st, t, (size_t)n, &h, NULL);
	if (ret < 0)
		return ret;
	zspool_write(st->pool, h, data, (size_t)n);
	*info = flags | (uint32_t)n;
	*val = h | dict;
	return 0;
}

/*
 * Decompress a page's object (@val: its slot's) with the codec of its
 * priority - this thread's primary context, or its context of the other
 * codec (made by store_tls_prepare() before the request took any lock) -
 * and the dictionary it names.  The caller holds the slot's lock, which
 * keeps that dictionary in the table.
 */
static int store_decompress(struct store *st, struct store_tls *t,
			    uint32_t info, uint64_t val, const void *src,
			    unsigned char *dst)
{
	unsigned prio = info_prio(info), k = val_dict(val);
	struct codec_ctx *ctx = t->ctx;
	struct codec_dict *d;

	if (prio && st->comps[prio].ops != st->codec.ops)
		ctx = t->alt;
	if (!ctx)
		return -ENOMEM;
	if (__builtin_expect(k == 0, 1))
		return codec_decompress(ctx, src, info & SLOT_SIZE_MASK, dst,
					STORE_PAGE_SIZE);
	d = atomic_load_explicit(&st->dicts[k], memory_order_acquire);
	if (!d)
		return -EIO;	/* cannot be: the slot names it */
	return codec_decompress_dict(ctx, d, src, info & SLOT_SIZE_MASK, dst,
				     STORE_PAGE_SIZE);
}

/* An object's bytes at @src into a page at @dst: raw or decompressed. */
static int store_decode_obj(struct store *st, struct store_tls *t,
			    uint32_t info, uint64_t val, const void *src,
			    unsigned char *dst)
{
	if (info & SLOT_HUGE) {
		memcpy(dst, src, STORE_PAGE_SIZE);
		return 0;
	}
	return store_decompress(st, t, info, val, src, dst);
}

/* Decode a locked slot's content into @dst (4 KiB). */
static int store_decode(struct store *st, struct store_tls *t, uint32_t info,
			uint64_t val, unsigned char *dst)
{
	zspool_handle_t h = (zspool_handle_t)val_obj(val);
	const void *p;
	int ret;

	if (!(info & SLOT_STORED)) {
		memset(dst, 0, STORE_PAGE_SIZE);
		return 0;
	}
	if (info & SLOT_SAME) {
		page_fill(dst, val);
		return 0;
	}
	p = zspool_map(st->pool, h, t->bounce);
	ret = store_decode_obj(st, t, info, val, p, dst);
	zspool_unmap(st->pool, h);
	return ret;
}

/*
 * Read a written-back page's block (no lock held) into this thread's
 * bounce page, allocated ahead and aligned for direct I/O.
 */
static int store_read_backing(struct store *st, struct store_tls *t, uint64_t val)
{
	struct backing *bf = atomic_load_explicit(&st->backing, memory_order_acquire);
	int ret;

	if (!bf)
		return -EIO;
	ret = backing_read(bf, val_obj(val), t->bounce);
	if (ret < 0)
		return ret;
	cnt_add(t, C_BD_READS, 1);
	return 0;
}

/*
 * Load the page of slot @s into @dst (4 KiB), as an access: the idle mark
 * goes and the access time is set.  *@infop, *@valp: the content it had.
 * A page in memory is decoded under the slot lock; a written-back one is
 * read from the backing file with no lock held - the disk may be slow,
 * and its I/O may wait for memory, which no slot lock may do (see the
 * head comment) - and the slot checked afterwards: when it changed
 * meanwhile (the block may even have been freed and reused), the load
 * starts again from its new content; else the block is decoded, under
 * the lock as a page in memory is (the slot keeps its dictionary there).
 */
static int store_load(struct store *st, struct store_tls *t, struct slot *s,
		      unsigned char *dst, uint32_t *infop, uint64_t *valp)
{
	for (;;) {
		uint32_t info;
		uint64_t val;
		bool same;
		int ret;

		slot_lock(s);
		info = slot_info(s);
		val = s->val;
		if ((info & SLOT_IDLE) || !(info & SLOT_READ)) {
			uint32_t old = info;

			/* no new generation: the content is the same */
			info = (info & ~SLOT_IDLE) | SLOT_READ;
			atomic_store_explicit(&s->info, info, memory_order_relaxed);
			store_account_mark(t, old, info);
		}
		*infop = info;
		*valp = val;
		if (!info_wb(info)) {
			ret = store_decode(st, t, info, val, dst);
			slot_unlock_touch(s, t->now);
			return ret;
		}
		slot_unlock_touch(s, t->now);
		ret = store_read_backing(st, t, val);
		slot_lock(s);
		same = (slot_info(s) & ~SLOT_IDLE) == info && s->val == val;
		if (same && ret == 0)
			ret = store_decode_obj(st, t, info, val, t->bounce, dst);
		slot_unlock(s);
		if (same)
			return ret;
	}
}

/* A slot's old content is gone: free its object or its block. */
static void store_release(struct store *st, uint32_t info, uint64_t val)
{
	if (info_has_obj(info))
		zspool_free(st->pool, (zspool_handle_t)val_obj(val));
	else if (info_wb(info))
		backing_block_free(atomic_load_explicit(&st->backing, memory_order_acquire),
			      val_obj(val));
}

static int store_write_page(struct store_file *f, struct store_tls *t,
			    uint64_t pg, const unsigned char *src)
{
	struct store *st = f->st;
	struct leaf *l = table_leaf(f, t, pg >> LEAF_SHIFT);
	struct slot *s;
	uint32_t newi, oldi;
	uint64_t newv, oldv;
	int ret;

	if (!l)
		return -ENOMEM;	/* counted by store_get() */
	ret = store_encode(st, t, src, &newi, &newv);
	if (ret < 0)
		return ret;
	s = &l->s[pg & (LEAF_SLOTS - 1)];
	slot_lock(s);
	oldi = slot_info(s);
	oldv = s->val;
	slot_set(s, newi, newv);
	slot_unlock_touch(s, t->now);
	store_account_slot(t, f, oldi, newi);
	store_release(st, oldi, oldv);
	return 0;
}

/*
 * Read-modify-write part of a page: copy @n bytes of @src at @po, or (src
 * NULL: discard) zero them, and then turn a page that became all zeros
 * into a hole.  The slot lock is held to read the page and to switch the
 * slot, never across the encoding, which may allocate and wait: if the
 * slot changed meanwhile (its generation tells), the new object is
 * dropped and the update starts again from the new content.
 */
static int store_write_partial(struct store_file *f, struct store_tls *t,
			       uint64_t pg, size_t po, const void *src, size_t n)
{
	struct store *st = f->st;
	struct leaf *l = table_leaf(f, src ? t : NULL, pg >> LEAF_SHIFT);
	struct slot *s;
	uint32_t newi, oldi;
	uint64_t newv, oldv, fill;
	int ret;

	if (!l)
		return src ? -ENOMEM : 0;
	s = &l->s[pg & (LEAF_SLOTS - 1)];
	for (;;) {
		if (!src && !(slot_info(s) & SLOT_STORED))
			return 0;
		ret = store_load(st, t, s, t->page, &oldi, &oldv);
		if (ret < 0) {
			cnt_add(t, C_FAILED_READS, 1);
			return ret;
		}
		if (src)
			memcpy(t->page + po, src, n);
		else
			memset(t->page + po, 0, n);
		newi = 0;
		newv = 0;
		if (src || !(page_same_filled(t->page, &fill) && fill == 0)) {
			ret = store_encode(st, t, t->page, &newi, &newv);
			if (ret < 0)
				return ret;
		}
		slot_lock(s);
		/* an idle mark set meanwhile changes nothing of the content */
		if ((slot_info(s) & ~SLOT_IDLE) == oldi && s->val == oldv)
			break;
		slot_unlock(s);
		if (info_has_obj(newi))
			zspool_free(st->pool, (zspool_handle_t)val_obj(newv));
	}
	slot_set(s, newi, newv);
	slot_unlock_touch(s, t->now);
	store_account_slot(t, f, oldi, newi);
	if (!src && !(newi & SLOT_STORED) && (oldi & SLOT_STORED))
		cnt_add(t, C_NOTIFY_FREE, 1);
	store_release(st, oldi, oldv);
	return 0;
}

/*
 * Take encoding @e (st->enc as loaded): announce it, then check that it
 * is still the current one - a store_dict_gc() between the load and the
 * announcement may have freed it - and take the newer one if not.  The
 * context lets go of its old dictionary before the announcement moves.
 * A new level needs a new context (the level is set in it); should that
 * fail, the old one goes on at its level (with @e's dictionary, whose
 * own level then applies), and the next request tries again.  Returns 0,
 * or -errno when the thread has no context at all.
 */
static int store_tls_switch(struct store *st, struct store_tls *t,
			    struct store_enc *e)
{
	struct store_enc *now;
	struct codec_ctx *ctx;
	int ret = 0;

	if (t->ctx && t->dict_val)
		codec_ctx_set_cdict(t->ctx, NULL);
	t->dict_val = 0;
	for (;;) {
		atomic_store_explicit(&t->enc, e, memory_order_seq_cst);
		now = atomic_load_explicit(&st->enc, memory_order_seq_cst);
		if (now == e)
			break;
		e = now;
	}
	t->enc_done = e;
	if (!t->ctx || e->level != t->level) {
		ret = codec_ctx_create(&(struct codec){ .ops = st->codec.ops,
							.level = e->level }, &ctx);
		if (ret == 0) {
			codec_ctx_destroy(t->ctx);
			t->ctx = ctx;
			t->level = e->level;
		} else {
			t->enc_done = NULL;
		}
	}
	if (!t->ctx)
		return ret;
	if (e->cdict) {
		codec_ctx_set_cdict(t->ctx, e->cdict);
		t->dict_val = (uint64_t)e->dict << SLOT_DICT_SHIFT;
	}
	store_ctx_warm(t, t->ctx);
	return 0;
}

/*
 * The start of a request: its clock, the primary's encoding when
 * algorithm_params or train_dict changed it (store_tls_switch()), and the
 * context of the other codec once some priority uses it.  That context
 * is made here, with no lock held, at this thread's first request after
 * recomp_algorithm named the codec; should it fail, reads of pages
 * recompressed with that codec fail with -ENOMEM until a later request
 * makes it.
 */
static void store_tls_prepare(struct store *st, struct store_tls *t)
{
	const struct codec_ops *alt;
	struct store_enc *e;

	t->now = store_now(st);
	e = atomic_load_explicit(&st->enc, memory_order_acquire);
	if (__builtin_expect(e != t->enc_done, 0))
		store_tls_switch(st, t, e);
	if (__builtin_expect(t->alt != NULL, 1))
		return;
	alt = atomic_load_explicit(&st->alt_ops, memory_order_acquire);
	if (alt) {
		struct codec c = { .ops = alt, .level = alt->level_default };

		if (codec_ctx_create(&c, &t->alt) < 0)
			t->alt = NULL;
	}
}

static int store_check_range(struct store *st, struct store_tls *t,
			     size_t len, uint64_t off)
{
	if (off < STORE_MAX_BYTES && len <= STORE_MAX_BYTES - off)
		return 0;
	if (t)
		cnt_add(t, C_INVALID, 1);
	else
		cnt_add_locked(st, C_INVALID, 1);
	return -EFBIG;
}

/*
 * The start of a read or a write: this thread's state, the range checked,
 * the operation counted.  Returns 0 to go on, 1 when there is nothing to
 * do (len 0), or -errno (counted as a failure of the operation).
 */
static int store_io_begin(struct store *st, struct store_tls **t, size_t len,
			  uint64_t off, enum store_counter failed,
			  enum store_counter op)
{
	int ret = store_tls_get(st, t);

	if (ret < 0) {
		cnt_add_locked(st, failed, 1);
		return ret;
	}
	if (len == 0)
		return 1;
	ret = store_check_range(st, *t, len, off);
	if (ret < 0)
		return ret;
	cnt_add(*t, op, 1);
	store_tls_prepare(st, *t);
	return 0;
}

ssize_t store_read(struct store_file *f, void *buf, size_t len, uint64_t off)
{
	struct store *st = f->st;
	unsigned char *dst = buf;
	struct leaf *l = NULL;
	uint64_t lidx = UINT64_MAX;
	struct store_tls *t;
	size_t done = 0;
	int ret;

	ret = store_io_begin(st, &t, len, off, C_FAILED_READS, C_READS);
	if (ret)
		return ret < 0 ? ret : 0;
	while (done < len) {
		uint64_t pg = off >> STORE_PAGE_SHIFT;
		size_t po = off & (STORE_PAGE_SIZE - 1);
		size_t n = STORE_PAGE_SIZE - po;
		struct slot *s;

		if (n > len - done)
			n = len - done;
		if (pg >> LEAF_SHIFT != lidx) {
			lidx = pg >> LEAF_SHIFT;
			l = table_leaf(f, NULL, lidx);
		}
		s = l ? &l->s[pg & (LEAF_SLOTS - 1)] : NULL;
		/* A hole: a relaxed peek is a valid order against a writer. */
		if (!s || !(slot_info(s) & SLOT_STORED)) {
			memset(dst + done, 0, n);
		} else {
			uint32_t info;
			uint64_t val;

			if (n == STORE_PAGE_SIZE) {
				ret = store_load(st, t, s, dst + done, &info, &val);
			} else {
				ret = store_load(st, t, s, t->page, &info, &val);
				memcpy(dst + done, t->page + po, n);
			}
			if (ret < 0) {
				cnt_add(t, C_FAILED_READS, 1);
				return ret;
			}
		}
		done += n;
		off += n;
	}
	return (ssize_t)len;
}

ssize_t store_write(struct store_file *f, const void *buf, size_t len,
		    uint64_t off)
{
	struct store *st = f->st;
	const unsigned char *src = buf;
	struct store_tls *t;
	size_t done = 0;
	int ret;

	ret = store_io_begin(st, &t, len, off, C_FAILED_WRITES, C_WRITES);
	if (ret)
		return ret < 0 ? ret : 0;
	while (done < len) {
		uint64_t pg = off >> STORE_PAGE_SHIFT;
		size_t po = off & (STORE_PAGE_SIZE - 1);
		size_t n = STORE_PAGE_SIZE - po;

		if (n > len - done)
			n = len - done;
		if (n == STORE_PAGE_SIZE)
			ret = store_write_page(f, t, pg, src + done);
		else
			ret = store_write_partial(f, t, pg, po, src + done, n);
		if (ret < 0) {
			cnt_add(t, C_FAILED_WRITES, 1);
			return ret;
		}
		done += n;
		off += n;
	}
	return (ssize_t)len;
}

/* Hand this thread's batch of detached handles to reclaim, or free it. */
static void store_flush(struct store *st, struct store_tls *t)
{
	struct reclaim_node *rn = t->rn;

	if (!rn || rn->n == 0)
		return;
	if (st->deferred) {
		if (reclaim_push(st->rc, &t->rn) == 0)
			return;
		cnt_add(t, C_SYNC_FREES, rn->n);
	}
	zspool_free_batch(st->pool, rn->h, rn->n);
	rn->n = 0;
	rn->bytes = 0;
	/*
	 * deferred_free=off is the synchronous baseline: give emptied
	 * zspages' pages back now, as zs_free() does, or no thread ever
	 * would (the reclaim worker trims only after frees it did itself).
	 */
	if (!st->deferred)
		zspool_trim(st->pool);
}

static void store_batch_add(struct store *st, struct store_tls *t,
			    zspool_handle_t h, uint32_t size)
{
	if (!t->rn)
		t->rn = reclaim_node_get(st->rc);
	if (!t->rn) {
		if (st->deferred)
			cnt_add(t, C_SYNC_FREES, 1);
		zspool_free(st->pool, h);
		return;
	}
	t->rn->h[t->rn->n++] = h;
	t->rn->bytes += size;
	if (t->rn->n == RECLAIM_NODE_HANDLES)
		store_flush(st, t);
}

/* Detach the whole pages [pg, end) under their slot locks. */
static void store_discard_pages(struct store_file *f, struct store_tls *t,
				uint64_t pg, uint64_t end)
{
	struct store *st = f->st;
	uint64_t lidx = pg >> LEAF_SHIFT;
	uint64_t lend = ((end - 1) >> LEAF_SHIFT) + 1;
	struct store_delta d = { 0 };
	struct leaf *l;

	while ((l = table_next_leaf(f, &lidx, lend)) != NULL) {
		uint64_t base = lidx << LEAF_SHIFT;
		uint64_t i = pg > base ? pg - base : 0;
		uint64_t iend = end - base < LEAF_SLOTS ? end - base : LEAF_SLOTS;

		for (; i < iend; i++) {
			struct slot *s = &l->s[i];
			uint32_t info;
			uint64_t val;

			if (!(slot_info(s) & SLOT_STORED))
				continue;
			slot_lock(s);
			info = slot_info(s);
			val = s->val;
			slot_set(s, 0, 0);
			slot_unlock(s);
			if (!(info & SLOT_STORED))
				continue;
			delta_slot(&d, info, 0);
			d.freed++;
			if (info_has_obj(info))
				store_batch_add(st, t, (zspool_handle_t)val_obj(val),
						info & SLOT_SIZE_MASK);
			else if (info_wb(info))
				backing_block_free(atomic_load_explicit(&st->backing,
						memory_order_acquire), val_obj(val));
		}
		lidx++;
	}
	store_account(t, f, &d);
	store_flush(st, t);
}

int store_discard(struct store_file *f, uint64_t off, uint64_t len)
{
	struct store *st = f->st;
	struct store_tls *t;
	uint64_t end, first, last;
	int ret;

	ret = store_tls_get(st, &t);
	if (ret < 0)
		return ret;
	if (off >= STORE_MAX_BYTES || len == 0)
		return 0;
	store_tls_prepare(st, t);
	end = len > STORE_MAX_BYTES - off ? STORE_MAX_BYTES : off + len;
	first = (off + STORE_PAGE_SIZE - 1) >> STORE_PAGE_SHIFT;
	last = end >> STORE_PAGE_SHIFT;
	if (first > last) {
		/* Inside one page. */
		return store_write_partial(f, t, off >> STORE_PAGE_SHIFT,
					   off & (STORE_PAGE_SIZE - 1), NULL,
					   (size_t)(end - off));
	}
	/*
	 * Whole pages first: detaching them cannot fail.  Zeroing a partial
	 * end may need a new object and fail at the memory limit; the whole
	 * pages are then freed all the same.
	 */
	if (first < last)
		store_discard_pages(f, t, first, last);
	if (off & (STORE_PAGE_SIZE - 1)) {
		ret = store_write_partial(f, t, off >> STORE_PAGE_SHIFT,
					  off & (STORE_PAGE_SIZE - 1), NULL,
					  STORE_PAGE_SIZE - (off & (STORE_PAGE_SIZE - 1)));
		if (ret < 0)
			return ret;
	}
	if (end & (STORE_PAGE_SIZE - 1)) {
		ret = store_write_partial(f, t, last, 0, NULL,
					  end & (STORE_PAGE_SIZE - 1));
		if (ret < 0)
			return ret;
	}
	return 0;
}

int store_seek(struct store_file *f, uint64_t off, int whence, uint64_t size,
	       uint64_t *out)
{
	uint64_t pg, end, lidx;
	struct leaf *l;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off >= size)
		return -ENXIO;
	if (size > STORE_MAX_BYTES)
		size = STORE_MAX_BYTES;
	if (off >= size) {
		*out = off;
		return whence == SEEK_HOLE ? 0 : -ENXIO;
	}
	pg = off >> STORE_PAGE_SHIFT;
	end = (size + STORE_PAGE_SIZE - 1) >> STORE_PAGE_SHIFT;

	if (whence == SEEK_DATA) {
		lidx = pg >> LEAF_SHIFT;
		while ((l = table_next_leaf(f, &lidx, ((end - 1) >> LEAF_SHIFT) + 1))) {
			uint64_t base = lidx << LEAF_SHIFT;
			uint64_t i = pg > base ? pg - base : 0;

			for (; i < LEAF_SLOTS && base + i < end; i++) {
				if (slot_info(&l->s[i]) & SLOT_STORED) {
					uint64_t at = (base + i) << STORE_PAGE_SHIFT;

					*out = at > off ? at : off;
					return 0;
				}
			}
			lidx++;
		}
		return -ENXIO;
	}

	lidx = UINT64_MAX;
	l = NULL;
	for (; pg < end; pg++) {
		if (pg >> LEAF_SHIFT != lidx) {
			lidx = pg >> LEAF_SHIFT;
			l = table_leaf(f, NULL, lidx);
		}
		if (!l || !(slot_info(&l->s[pg & (LEAF_SLOTS - 1)]) & SLOT_STORED)) {
			uint64_t at = pg << STORE_PAGE_SHIFT;

			*out = at > off ? at : off;
			return 0;
		}
	}
	*out = size;
	return 0;
}

void store_file_usage(struct store_file *f, uint64_t *pages,
		      uint64_t *compr_bytes)
{
	if (pages)
		*pages = atomic_load_explicit(&f->pages, memory_order_relaxed);
	if (compr_bytes)
		*compr_bytes = atomic_load_explicit(&f->compr, memory_order_relaxed);
}

/* --- files and the store --------------------------------------------- */

int store_file_create(struct store *st, struct store_file **out)
{
	struct store_file *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->st = st;
	pthread_mutex_lock(&st->files_lock);
	f->next = st->files;
	if (f->next)
		f->next->prev = f;
	st->files = f;
	pthread_mutex_unlock(&st->files_lock);
	*out = f;
	return 0;
}

void store_file_destroy(struct store_file *f)
{
	struct store *st = f->st;

	pthread_mutex_lock(&st->files_lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		st->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&st->files_lock);
	/* a post-processing pass that found it before it left the list */
	while (atomic_load_explicit(&f->pins, memory_order_acquire))
		nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);

	if (st->deferred)
		reclaim_push_table(st->rc, f,
				   atomic_load_explicit(&f->objs, memory_order_relaxed),
				   atomic_load_explicit(&f->compr, memory_order_relaxed));
	else {
		store_table_free(st, f);
		zspool_trim(st->pool);	/* as in store_flush() */
	}
}

static void store_dicts_free(struct store *st);

static uint64_t store_limit_pages(uint64_t bytes)
{
	return bytes ? (bytes + STORE_PAGE_SIZE - 1) / STORE_PAGE_SIZE : 0;
}

int store_create(const struct store_config *cfg, struct store **out)
{
	struct zspool_config zc = {
		.max_zspage_pages = cfg->max_zspage_pages,
		.mem_limit_pages = store_limit_pages(cfg->mem_limit),
	};
	struct reclaim_config rcfg = {
		.threads = cfg->reclaim_threads,
		.queue_max = cfg->reclaim_queue_max,
		.io_flusher = cfg->io_flusher,
		.free_table = store_table_free,
	};
	struct reserve_config rscfg = {
		.nowait = cfg->nowait_writes,
		.headroom_min = cfg->headroom_min,
		.target = cfg->reserve_pages,
		.io_flusher = cfg->io_flusher,
	};
	const char *comp = cfg->comp;
	struct store_enc *enc;
	struct store *st;
	char first[16];
	int ret;

	if (!comp) {
		/* lz4 by default; the first codec built if lz4 was not. */
		const char *names = codec_names();
		size_t n = strcspn(names, " ");

		snprintf(first, sizeof(first), "%.*s", (int)n, names);
		comp = strstr(names, "lz4") ? "lz4" : first;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	ret = codec_init(&st->codec, comp, cfg->comp_level);
	if (ret < 0)
		goto fail_free;
	enc = calloc(1, sizeof(*enc));
	if (!enc) {
		ret = -ENOMEM;
		goto fail_free;
	}
	enc->level = st->codec.level;
	atomic_init(&st->enc, enc);
	st->deferred = cfg->deferred_free;
	atomic_store_explicit(&st->mem_limit, cfg->mem_limit, memory_order_relaxed);
	pthread_mutex_init(&st->tls_lock, NULL);
	pthread_mutex_init(&st->files_lock, NULL);
	pthread_mutex_init(&st->pp_lock, NULL);
	pthread_mutex_init(&st->train_lock, NULL);
	st->io_flusher = cfg->io_flusher;
	{
		struct timespec ts;

		clock_gettime(CLOCK_BOOTTIME, &ts);
		st->epoch = ts.tv_sec;
	}
	if (cfg->backing_dev) {
		struct backing *bf;

		ret = backing_open(cfg->backing_dev, cfg->io_flusher, &bf);
		if (ret < 0)
			goto fail_mutex;
		atomic_store_explicit(&st->backing, bf, memory_order_release);
	}
	ret = -pthread_key_create(&st->key, store_tls_exit);
	if (ret)
		goto fail_backing;
	ret = zspool_create(&zc, &st->pool);
	if (ret < 0)
		goto fail_key;
	st->huge_size = zspool_huge_size(st->pool);
	rcfg.pool = st->pool;
	rcfg.nowait = cfg->nowait_writes;
	rcfg.arg = st;
	ret = reclaim_create(&rcfg, &st->rc);
	if (ret < 0)
		goto fail_pool;
	rscfg.pool = st->pool;
	rscfg.reclaim = st->rc;
	ret = reserve_create(&rscfg, &st->rs);
	if (ret < 0)
		goto fail_reclaim;
	ret = cfg->recomp ? store_set_recomp(st, 1, cfg->recomp, cfg->recomp_level) : 0;
	/* the dictionaries of -o comp_dict= and recomp_dict= */
	if (ret == 0 && cfg->comp_dict)
		ret = store_set_params(st, 0, NULL, cfg->comp_level, cfg->comp_dict);
	if (ret == 0 && cfg->recomp_dict)
		ret = cfg->recomp ? store_set_params(st, 1, NULL, cfg->recomp_level,
						     cfg->recomp_dict) : -EINVAL;
	if (ret == 0 && cfg->recomp && cfg->recomp_readback)
		ret = recomp_start(st, &st->recomp);
	if (ret < 0)
		goto fail_reserve;
	*out = st;
	return 0;

fail_reserve:
	reserve_destroy(st->rs);
fail_reclaim:
	reclaim_destroy(st->rc);
fail_pool:
	zspool_destroy(st->pool);
fail_key:
	pthread_key_delete(st->key);
fail_backing:
	backing_close(atomic_load_explicit(&st->backing, memory_order_relaxed));
fail_mutex:
	pthread_mutex_destroy(&st->train_lock);
	pthread_mutex_destroy(&st->pp_lock);
	pthread_mutex_destroy(&st->files_lock);
	pthread_mutex_destroy(&st->tls_lock);
	store_dicts_free(st);
fail_free:
	free(st);
	return ret;
}

void store_destroy(struct store *st)
{
	struct store_tls *t;

	if (!st)
		return;
	recomp_stop(st->recomp);
	for (;;) {
		struct store_file *f;

		pthread_mutex_lock(&st->files_lock);
		f = st->files;
		pthread_mutex_unlock(&st->files_lock);
		if (!f)
			break;
		store_file_destroy(f);
	}
	reclaim_drain(st->rc);
	/* This thread's state and any left by threads still alive (they
	 * must not use the store any more); their keys die with the key. */
	t = pthread_getspecific(st->key);
	if (t)
		pthread_setspecific(st->key, NULL);
	pthread_mutex_lock(&st->tls_lock);
	while (st->tls_list) {
		t = st->tls_list;
		store_tls_unlink(st, t);
		codec_ctx_destroy(t->alt);
		codec_ctx_destroy(t->ctx);
		reclaim_node_put(st->rc, t->rn);
		free(t);
	}
	pthread_mutex_unlock(&st->tls_lock);
	store_dicts_free(st);
	reserve_destroy(st->rs);
	reclaim_destroy(st->rc);
	pthread_key_delete(st->key);
	zspool_destroy(st->pool);
	/* after reclaim: freeing the tables gave their blocks back */
	backing_close(atomic_load_explicit(&st->backing, memory_order_acquire));
	pthread_mutex_destroy(&st->train_lock);
	pthread_mutex_destroy(&st->pp_lock);
	pthread_mutex_destroy(&st->files_lock);
	pthread_mutex_destroy(&st->tls_lock);
	free(st);
}

void store_stats(struct store *st, struct store_stats *out)
{
	struct zspool_stats zs;
	struct reclaim_stats rs;
	int64_t sum[C_NR];

	pthread_mutex_lock(&st->tls_lock);
	memcpy(sum, st->dead, sizeof(sum));
	for (struct store_tls *t = st->tls_list; t; t = t->next)
		for (int i = 0; i < C_NR; i++)
			sum[i] += atomic_load_explicit(&t->cnt[i], memory_order_relaxed);
	pthread_mutex_unlock(&st->tls_lock);
	for (int i = 0; i < C_NR; i++)
		if (sum[i] < 0)
			sum[i] = 0;	/* a racing reader may see half an update */
	zspool_stats(st->pool, &zs);
	reclaim_stats(st->rc, &rs);

	memset(out, 0, sizeof(*out));
	out->orig_data_size = (uint64_t)sum[C_ORIG];
	out->compr_data_size = (uint64_t)sum[C_COMPR];
	out->mem_used_total = zs.pages_used * STORE_PAGE_SIZE;
	out->mem_limit = atomic_load_explicit(&st->mem_limit, memory_order_relaxed);
	out->mem_used_max = zs.pages_used_max * STORE_PAGE_SIZE;
	out->same_pages = (uint64_t)sum[C_SAME];
	out->pages_compacted = zs.pages_compacted;
	out->huge_pages = (uint64_t)sum[C_HUGE];
	out->huge_pages_since = (uint64_t)sum[C_HUGE_SINCE];
	out->failed_reads = (uint64_t)sum[C_FAILED_READS];
	out->failed_writes = (uint64_t)sum[C_FAILED_WRITES];
	out->invalid_io = (uint64_t)sum[C_INVALID];
	out->notify_free = (uint64_t)sum[C_NOTIFY_FREE];
	out->reclaim_queued_pages = rs.queued_pages;
	out->reclaim_queued_bytes = rs.queued_bytes;
	out->reclaim_batches = rs.batches;
	out->reclaim_sync_frees = (uint64_t)sum[C_SYNC_FREES];
	out->reclaim_freed_pages = rs.freed_pages;
	out->reserve_pages = zs.reserve_pages;
	out->reserve_target = zs.reserve_target;
	out->nowait_failed = reserve_failed(st->rs);
	out->reserve_grown = zs.pages_grown;
	out->reads = (uint64_t)sum[C_READS];
	out->writes = (uint64_t)sum[C_WRITES];
	out->table_bytes = atomic_load_explicit(&st->table_bytes, memory_order_relaxed);
	out->readback_pages = (uint64_t)sum[C_READBACK];
	out->readback_compr = (uint64_t)sum[C_READBACK_COMPR];
	out->readback_recomp = (uint64_t)sum[C_READBACK_RECOMP];
	out->readback_todo = (uint64_t)sum[C_READBACK_TODO];
	out->bd_count = (uint64_t)sum[C_BD_COUNT];
	out->bd_reads = (uint64_t)sum[C_BD_READS];
	out->bd_writes = (uint64_t)sum[C_BD_WRITES];
}

const char *store_comp_name(struct store *st)
{
	return st->codec.ops->name;
}

uint64_t store_compact(struct store *st)
{
	return zspool_compact(st->pool);
}

void store_drain(struct store *st)
{
	reclaim_drain(st->rc);
}

void store_set_mem_limit(struct store *st, uint64_t bytes)
{
	atomic_store_explicit(&st->mem_limit, bytes, memory_order_relaxed);
	zspool_set_mem_limit(st->pool, store_limit_pages(bytes));
}

void store_reset_mem_used_max(struct store *st)
{
	zspool_reset_max(st->pool);
}

void store_set_reserve(struct store *st, uint64_t pages)
{
	reserve_set_target(st->rs, pages);
}

/* --- post-processing: idle, writeback -------------------------------- */

/*
 * The files to walk: every file now, pinned so that none is freed under
 * the walk (store_file_destroy() waits for its pins).  Returns the count;
 * *@out is a new array (NULL when there is none or no memory).
 */
static size_t store_files_pin(struct store *st, struct store_file ***out)
{
	struct store_file **v = NULL;
	size_t n = 0, k = 0;

	pthread_mutex_lock(&st->files_lock);
	for (struct store_file *f = st->files; f; f = f->next)
		n++;
	if (n)
		v = malloc(n * sizeof(*v));
	if (v) {
		for (struct store_file *f = st->files; f; f = f->next) {
			atomic_fetch_add_explicit(&f->pins, 1, memory_order_relaxed);
			v[k++] = f;
		}
	}
	pthread_mutex_unlock(&st->files_lock);
	*out = v;
	return k;
}

static void store_files_unpin(struct store_file **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		atomic_fetch_sub_explicit(&v[k]->pins, 1, memory_order_release);
	free(v);
}

/*
 * Call @fn on every stored slot of @f in pages [lo, hi), in order, until
 * it returns non-zero (returned).  No lock is held around the call.
 */
typedef int (*store_slot_fn)(struct store_file *f, struct slot *s,
			     uint64_t pg, void *arg);

static int store_walk(struct store_file *f, uint64_t lo, uint64_t hi,
		      store_slot_fn fn, void *arg)
{
	uint64_t lidx, lend;
	struct leaf *l;

	if (hi > STORE_MAX_PAGES)
		hi = STORE_MAX_PAGES;
	if (lo >= hi)
		return 0;
	lidx = lo >> LEAF_SHIFT;
	lend = ((hi - 1) >> LEAF_SHIFT) + 1;
	while ((l = table_next_leaf(f, &lidx, lend)) != NULL) {
		uint64_t base = lidx << LEAF_SHIFT;
		uint64_t i = lo > base ? lo - base : 0;
		uint64_t iend = hi - base < LEAF_SLOTS ? hi - base : LEAF_SLOTS;

		for (; i < iend; i++) {
			int ret;

			if (!(slot_info(&l->s[i]) & SLOT_STORED))
				continue;
			ret = fn(f, &l->s[i], base + i, arg);
			if (ret)
				return ret;
		}
		lidx++;
	}
	return 0;
}

struct store_idle_arg {
	uint64_t age;
	uint32_t now;
	uint64_t marked;
};

static int store_idle_slot(struct store_file *f, struct slot *s, uint64_t pg,
			   void *arg)
{
	struct store_idle_arg *a = arg;
	uint32_t info;
	bool idle;

	(void)f, (void)pg;
	slot_lock(s);
	info = slot_info(s);
	if ((info & SLOT_STORED) && !(info & (SLOT_SAME | SLOT_WB))) {
		/* the time as of the last unlock: it is ours now */
		uint32_t at = slot_time(s);

		idle = a->age == PP_IDLE_ALL ||
		       (uint64_t)(a->now - (at < a->now ? at : a->now)) >= a->age;
		if (idle)
			info |= SLOT_IDLE;
		else
			info &= ~SLOT_IDLE;
		/* no new generation: the content is the same */
		atomic_store_explicit(&s->info, info, memory_order_relaxed);
		a->marked += idle;
	}
	slot_unlock(s);
	return 0;
}

uint64_t store_mark_idle(struct store *st, uint64_t age)
{
	struct store_idle_arg a = { .age = age, .now = store_now(st) };
	struct store_file **v;
	size_t n = store_files_pin(st, &v);

	for (size_t k = 0; k < n; k++)
		store_walk(v[k], 0, STORE_MAX_PAGES, store_idle_slot, &a);
	store_files_unpin(v, n);
	return a.marked;
}

#define STORE_NO_BLOCK UINT64_MAX

struct store_wb_arg {
	struct store *st;
	struct store_tls *t;
	struct backing *bf;
	unsigned mode;
	uint64_t min_age;
	uint32_t now;
	uint64_t blk;			/* taken, not used yet */
	uint64_t done, max;
};

/* Was slot @s last accessed at least @age seconds before @now? */
static bool store_old_enough(struct slot *s, uint64_t age, uint32_t now)
{
	uint32_t at = slot_time(s);

	return !age || (uint64_t)(now - (at < now ? at : now)) >= age;
}

static bool store_wb_eligible(uint32_t info, unsigned mode)
{
	if (!info_has_obj(info))
		return false;		/* a hole, same-filled, or written back */
	if ((mode & PP_IDLE) && !(info & SLOT_IDLE))
		return false;
	if ((mode & PP_HUGE) && !(info & SLOT_HUGE))
		return false;
	if ((mode & PP_INCOMPRESSIBLE) && !(info & SLOT_INCOMP))
		return false;
	return true;
}

/* Take one page of the budget of zram's writeback_limit. */
static bool store_wb_limit_take(struct store *st)
{
	uint64_t v;

	if (!atomic_load_explicit(&st->wb_limit_enable, memory_order_relaxed))
		return true;
	v = atomic_load_explicit(&st->wb_limit, memory_order_relaxed);
	do {
		if (!v)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&st->wb_limit, &v, v - 1,
							memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

static void store_wb_limit_give(struct store *st)
{
	if (atomic_load_explicit(&st->wb_limit_enable, memory_order_relaxed))
		atomic_fetch_add_explicit(&st->wb_limit, 1, memory_order_relaxed);
}

/*
 * Write one page back.  Its bytes are copied under the slot lock into the
 * thread's bounce page and written with the lock dropped; the slot is
 * switched to the block only if nothing touched it meanwhile (a read
 * clears the idle mark, any change advances the generation: both change
 * info), as zram drops a slot that lost ZRAM_PP_SLOT.
 */
static int store_wb_slot(struct store_file *f, struct slot *s, uint64_t pg,
			 void *arg)
{
	struct store_wb_arg *a = arg;
	struct store *st = a->st;
	struct store_tls *t = a->t;
	uint32_t info, newi, size, at;
	uint64_t val;
	int ret;

	(void)pg;
	if (a->max && a->done >= a->max)
		return 1;
	if (!store_wb_eligible(slot_info(s), a->mode) ||
	    !store_old_enough(s, a->min_age, a->now))
		return 0;
	if (!store_wb_limit_take(st))
		return -EIO;
	if (a->blk == STORE_NO_BLOCK) {
		ret = backing_block_alloc(a->bf, &a->blk);
		if (ret < 0) {
			store_wb_limit_give(st);
			return ret;
		}
	}
	slot_lock(s);
	info = slot_info(s);
	val = s->val;
	if (!store_wb_eligible(info, a->mode)) {
		slot_unlock(s);
		store_wb_limit_give(st);
		return 0;
	}
	size = info & SLOT_SIZE_MASK;
	zspool_read(st->pool, (zspool_handle_t)val_obj(val), t->bounce, size);
	/*
	 * Time 0 ("never") while the page is written: any access in the
	 * meantime sets a real time, even within the same second, and the
	 * page then stays (zram's ZRAM_PP_SLOT, lost on access).
	 */
	at = slot_time(s);
	slot_set_time_locked(s, 0);
	slot_unlock(s);
	memset(t->bounce + size, 0, STORE_PAGE_SIZE - size);
	ret = backing_write(a->bf, a->blk, t->bounce);
	slot_lock(s);
	if (ret < 0 || slot_info(s) != info || s->val != val || slot_time(s)) {
		/* failed, or touched meanwhile: it stays; the block serves
		 * the next one */
		if (!slot_time(s))
			slot_set_time_locked(s, at);
		slot_unlock(s);
		store_wb_limit_give(st);
		return ret < 0 ? ret : 0;
	}
	slot_set_time_locked(s, at);
	newi = (info & ~SLOT_IDLE) | SLOT_WB;
	/* the block takes the object's dictionary along */
	assert(a->blk <= SLOT_OBJ_MASK);
	/* set before the page names the block (pp_lock is held), so that
	 * no reader of the page finds the file replaced */
	st->backing_used = true;
	slot_set(s, newi, a->blk | (val & ~SLOT_OBJ_MASK));
	slot_unlock(s);
	a->blk = STORE_NO_BLOCK;
	store_account_slot(t, f, info, newi);
	cnt_add(t, C_BD_WRITES, 1);
	zspool_free(st->pool, (zspool_handle_t)val_obj(val));
	a->done++;
	return 0;
}

int store_writeback(struct store *st, struct store_file *primary,
		    const struct pp_scan *scans, size_t n, uint64_t max_pages,
		    uint64_t *done)
{
	struct store_wb_arg a = { .st = st, .blk = STORE_NO_BLOCK, .max = max_pages };
	struct store_file **v = NULL;
	size_t nv = 0;
	int ret;

	*done = 0;
	ret = store_tls_get(st, &a.t);
	if (ret < 0)
		return ret;
	if (pthread_mutex_trylock(&st->pp_lock))
		return -EAGAIN;
	a.bf = atomic_load_explicit(&st->backing, memory_order_acquire);
	if (!a.bf) {
		ret = -ENODEV;
		goto out;
	}
	a.now = store_now(st);
	for (size_t k = 0; k < n && ret == 0; k++) {
		a.mode = scans[k].mode;
		a.min_age = scans[k].min_age;
		if (!scans[k].all_files) {
			if (primary)
				ret = store_walk(primary, scans[k].lo, scans[k].hi,
						 store_wb_slot, &a);
			continue;
		}
		if (!v)
			nv = store_files_pin(st, &v);
		for (size_t j = 0; j < nv && ret == 0; j++)
			ret = store_walk(v[j], 0, STORE_MAX_PAGES, store_wb_slot, &a);
	}
	if (ret > 0)
		ret = 0;		/* the page budget is spent */
	store_files_unpin(v, nv);
	if (a.blk != STORE_NO_BLOCK)
		backing_block_free(a.bf, a.blk);
out:
	pthread_mutex_unlock(&st->pp_lock);
	*done = a.done;
	return ret;
}

int store_set_backing_dev(struct store *st, const char *path)
{
	struct backing *bf, *old;
	int ret;

	pthread_mutex_lock(&st->pp_lock);
	if (st->backing_used) {
		ret = -EBUSY;
		goto out;
	}
	ret = backing_open(path, st->io_flusher, &bf);
	if (ret < 0)
		goto out;
	/* no page was ever written to the old one: nothing reads it */
	old = atomic_exchange_explicit(&st->backing, bf, memory_order_acq_rel);
	backing_close(old);
out:
	pthread_mutex_unlock(&st->pp_lock);
	return ret;
}

bool store_backing_dev(struct store *st, char *buf, size_t size)
{
	struct backing *bf;

	pthread_mutex_lock(&st->pp_lock);
	bf = atomic_load_explicit(&st->backing, memory_order_relaxed);
	snprintf(buf, size, "%s", bf ? backing_path(bf) : "");
	pthread_mutex_unlock(&st->pp_lock);
	return bf != NULL;
}

bool store_has_backing_dev(struct store *st)
{
	return atomic_load_explicit(&st->backing, memory_order_relaxed) != NULL;
}

uint64_t store_wb_limit(struct store *st)
{
	return atomic_load_explicit(&st->wb_limit, memory_order_relaxed);
}

void store_set_wb_limit(struct store *st, uint64_t pages)
{
	atomic_store_explicit(&st->wb_limit, pages, memory_order_relaxed);
}

bool store_wb_limit_enable(struct store *st)
{
	return atomic_load_explicit(&st->wb_limit_enable, memory_order_relaxed);
}

void store_set_wb_limit_enable(struct store *st, bool on)
{
	atomic_store_explicit(&st->wb_limit_enable, on, memory_order_relaxed);
}

void store_wb_sync(struct store *st)
{
	struct backing *bf;

	pthread_mutex_lock(&st->pp_lock);
	bf = atomic_load_explicit(&st->backing, memory_order_relaxed);
	if (bf)
		backing_sync(bf);
	pthread_mutex_unlock(&st->pp_lock);
}

struct store_bs_arg {
	FILE *out;
};

static int store_bs_slot(struct store_file *f, struct slot *s, uint64_t pg,
			 void *arg)
{
	struct store_bs_arg *a = arg;
	uint32_t info, at;

	(void)f;
	slot_lock(s);
	info = slot_info(s);
	at = slot_time(s);
	slot_unlock(s);
	if (!(info & SLOT_STORED))
		return 0;
	fprintf(a->out, "%12" PRIu64 " %12" PRIu32 ".000000 %c%c%c%c%c%c\n", pg, at,
		(info & SLOT_SAME) ? 's' : '.',
		(info & SLOT_WB) ? 'w' : '.',
		(info & SLOT_HUGE) ? 'h' : '.',
		(info & SLOT_IDLE) ? 'i' : '.',
		info_prio(info) ? 'r' : '.',
		(info & SLOT_INCOMP) ? 'n' : '.');
	return 0;
}

int store_block_state(struct store_file *f, char **text, size_t *len)
{
	struct store_bs_arg a;

	*text = NULL;
	*len = 0;
	a.out = open_memstream(text, len);
	if (!a.out)
		return -ENOMEM;
	store_walk(f, 0, STORE_MAX_PAGES, store_bs_slot, &a);
	if (fclose(a.out) || !*text) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* --- post-processing: recompression ----------------------------------- */

size_t store_huge_size(struct store *st)
{
	return st->huge_size;
}

/* The codec of priority @p (pp_lock held). */
static const struct codec_ops *store_prio_ops(struct store *st, unsigned p)
{
	return p ? st->comps[p].ops : st->codec.ops;
}

int store_set_recomp(struct store *st, unsigned prio, const char *name,
		     int level)
{
	struct codec c;
	const struct codec_ops *alt = NULL;
	int ret;

	if (prio < 1 || prio >= PP_MAX_COMPS)
		return -EINVAL;
	ret = codec_init(&c, name, level);
	if (ret < 0)
		return -EINVAL;
	pthread_mutex_lock(&st->pp_lock);
	if (st->comp_used[prio]) {
		ret = -EBUSY;
		goto out;
	}
	/* a new codec starts without a dictionary */
	codec_cdict_destroy(st->comp_cdict[prio]);
	st->comp_cdict[prio] = NULL;
	st->comp_dict[prio] = 0;
	st->comps[prio] = c;
	st->comp_set[prio] = true;
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		if (st->comp_set[p] && st->comps[p].ops != st->codec.ops)
			alt = st->comps[p].ops;
	atomic_store_explicit(&st->alt_ops, alt, memory_order_release);
out:
	pthread_mutex_unlock(&st->pp_lock);
	return ret;
}

/* --- dictionaries ------------------------------------------------------ */

static void store_enc_free(struct store_enc *e)
{
	if (!e)
		return;
	codec_cdict_destroy(e->cdict);
	free(e);
}

/*
 * Read the dictionary file @path into a new buffer: -EINVAL unless the
 * path is absolute and names a regular file that is not empty (-EISDIR
 * for a directory), -EFBIG above STORE_DICT_MAX, else open(2)'s or
 * read(2)'s errno.
 */
static int store_dict_load(const char *path, void **out, size_t *len)
{
	unsigned char *buf = NULL;
	struct stat sb;
	size_t n = 0;
	int fd, ret = 0;

	if (path[0] != '/')
		return -EINVAL;
	/* O_NONBLOCK: a FIFO must not hang the control write */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		goto out;
	}
	if (S_ISDIR(sb.st_mode))
		ret = -EISDIR;
	else if (!S_ISREG(sb.st_mode) || sb.st_size == 0)
		ret = -EINVAL;
	else if (sb.st_size > STORE_DICT_MAX)
		ret = -EFBIG;
	else if (!(buf = malloc((size_t)sb.st_size)))
		ret = -ENOMEM;
	while (ret == 0 && n < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)sb.st_size - n);

		if (r < 0 && errno != EINTR)
			ret = -errno;
		else if (r == 0)
			break;		/* it shrank meanwhile */
		else if (r > 0)
			n += (size_t)r;
	}
	if (ret == 0 && n == 0)
		ret = -EINVAL;
	if (ret == 0) {
		*out = buf;
		*len = n;
	} else {
		free(buf);
	}
out:
	close(fd);
	return ret;
}

struct store_gc_arg {
	unsigned unused;		/* bit k: no page seen naming entry k */
};

static int store_gc_slot(struct store_file *f, struct slot *s, uint64_t pg,
			 void *arg)
{
	struct store_gc_arg *a = arg;
	uint32_t info;
	uint64_t val;

	(void)f, (void)pg;
	slot_lock(s);
	info = slot_info(s);
	val = s->val;
	slot_unlock(s);
	if (info_has_obj(info) || info_wb(info))
		a->unused &= ~(1u << val_dict(val));
	return a->unused == 0;
}

/*
 * Free what nothing uses any more (pp_lock held): replaced encodings that
 * no worker announces, then the dictionaries that no encoding and no page
 * names.  See the head comment for why the walk over the pages is exact.
 */
static void store_dict_gc(struct store *st)
{
	struct store_enc *keep = NULL, *drop = NULL, *e, *next;
	struct store_gc_arg a = { 0 };
	struct store_file **v;
	size_t nv;
	bool files;

	pthread_mutex_lock(&st->tls_lock);
	for (e = st->retired; e; e = next) {
		struct store_tls *t;

		next = e->next;
		for (t = st->tls_list; t; t = t->next)
			if (atomic_load_explicit(&t->enc, memory_order_seq_cst) == e)
				break;
		if (t) {
			e->next = keep;
			keep = e;
		} else {
			e->next = drop;
			drop = e;
		}
	}
	pthread_mutex_unlock(&st->tls_lock);
	st->retired = keep;
	for (e = drop; e; e = next) {
		next = e->next;
		store_enc_free(e);
	}

	for (unsigned k = 1; k < STORE_DICTS; k++)
		if (atomic_load_explicit(&st->dicts[k], memory_order_relaxed))
			a.unused |= 1u << k;
	a.unused &= ~(1u << atomic_load_explicit(&st->enc, memory_order_relaxed)->dict);
	for (e = st->retired; e; e = e->next)
		a.unused &= ~(1u << e->dict);
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		if (st->comp_cdict[p])
			a.unused &= ~(1u << st->comp_dict[p]);
	if (!a.unused)
		return;
	nv = store_files_pin(st, &v);
	pthread_mutex_lock(&st->files_lock);
	files = st->files != NULL;
	pthread_mutex_unlock(&st->files_lock);
	if (!v && files)
		return;		/* no memory for the list (or new files): next time */
	for (size_t j = 0; j < nv && a.unused; j++)
		store_walk(v[j], 0, STORE_MAX_PAGES, store_gc_slot, &a);
	store_files_unpin(v, nv);
	for (unsigned k = 1; k < STORE_DICTS; k++) {
		if (!(a.unused & (1u << k)))
			continue;
		codec_dict_destroy(atomic_exchange_explicit(&st->dicts[k], NULL,
							    memory_order_acq_rel));
	}
}

/*
 * Set the parameters of the priorities in @mask (pp_lock held; each
 * priority's codec takes dictionaries when @buf is given): level
 * @levels[p], and the dictionary of @len bytes at @buf, or none (NULL),
 * one table entry for all of them.  All or nothing: returns 0, or -EBUSY
 * (the table is full), the codec's -EINVAL or -ENOMEM, changing nothing.
 * The calling thread takes the new encoding at once; other workers at
 * their next request.
 */
static int store_params_install(struct store *st, unsigned mask,
				const int *levels, const void *buf, size_t len)
{
	struct codec_cdict *cd[PP_MAX_COMPS] = { NULL };
	struct store_enc *e = NULL, *old;
	struct codec_dict *d = NULL;
	struct store_tls *t;
	unsigned k = 0;
	int ret = 0;

	if (buf) {
		store_dict_gc(st);
		for (k = 1; k < STORE_DICTS; k++)
			if (!atomic_load_explicit(&st->dicts[k], memory_order_relaxed))
				break;
		if (k == STORE_DICTS)
			return -EBUSY;
		ret = codec_dict_create(store_prio_ops(st, (unsigned)__builtin_ctz(mask)),
					buf, len, &d);
		if (ret < 0)
			return ret;
	}
	for (unsigned p = 0; p < PP_MAX_COMPS && buf; p++) {
		struct codec c = { .ops = store_prio_ops(st, p), .level = levels[p] };

		if (!(mask & (1u << p)))
			continue;
		ret = codec_cdict_create(&c, buf, len, &cd[p]);
		if (ret < 0)
			goto fail;
	}
	if (mask & 1) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			ret = -ENOMEM;
			goto fail;
		}
		e->level = levels[0];
		e->dict = buf ? k : 0;
		e->cdict = cd[0];
	}
	/* from here on nothing fails */
	if (d)
		atomic_store_explicit(&st->dicts[k], d, memory_order_release);
	for (unsigned p = 1; p < PP_MAX_COMPS; p++) {
		if (!(mask & (1u << p)))
			continue;
		codec_cdict_destroy(st->comp_cdict[p]);
		st->comp_cdict[p] = cd[p];
		st->comps[p].cdict = cd[p];
		st->comps[p].level = levels[p];
		st->comp_dict[p] = cd[p] ? k : 0;
	}
	if (e) {
		old = atomic_exchange_explicit(&st->enc, e, memory_order_seq_cst);
		old->next = st->retired;
		st->retired = old;
		t = pthread_getspecific(st->key);
		if (t)
			store_tls_prepare(st, t);
	}
	store_dict_gc(st);
	return 0;
fail:
	for (unsigned p = 0; p < PP_MAX_COMPS; p++)
		codec_cdict_destroy(cd[p]);
	codec_dict_destroy(d);
	return ret;
}

int store_set_params(struct store *st, int prio, const char *name, int level,
		     const char *dict)
{
	int levels[PP_MAX_COMPS] = { 0 };
	void *buf = NULL;
	size_t len = 0;
	struct codec c;
	int ret = 0;

	pthread_mutex_lock(&st->pp_lock);
	if (prio < 0) {
		/* by name: the primary first, then the recompression codecs */
		if (!strcmp(st->codec.ops->name, name)) {
			prio = 0;
		} else {
			for (prio = 1; prio < PP_MAX_COMPS; prio++)
				if (st->comp_set[prio] &&
				    !strcmp(st->comps[prio].ops->name, name))
					break;
		}
	}
	if (prio >= PP_MAX_COMPS || (prio > 0 && !st->comp_set[prio]) ||
	    (name && strcmp(store_prio_ops(st, (unsigned)prio)->name, name))) {
		ret = -EINVAL;
		goto out;
	}
	/* the level matters to compression only: any page still decodes */
	if (codec_init(&c, store_prio_ops(st, (unsigned)prio)->name, level) < 0 ||
	    (dict && !codec_has_dict(c.ops))) {
		ret = -EINVAL;
		goto out;
	}
	if (dict) {
		ret = store_dict_load(dict, &buf, &len);
		if (ret < 0)
			goto out;
	}
	levels[prio] = c.level;
	ret = store_params_install(st, 1u << prio, levels, buf, len);
out:
	pthread_mutex_unlock(&st->pp_lock);
	free(buf);
	return ret;
}

struct store_train_arg {
	struct store *st;
	struct store_tls *t;
	uint64_t stride, seen;
	unsigned n, max;
	unsigned char *pages;
};

/* Every stride-th object in memory that is not raw: decoded, as a sample. */
static int store_train_slot(struct store_file *f, struct slot *s, uint64_t pg,
			    void *arg)
{
	struct store_train_arg *a = arg;
	uint32_t info = slot_info(s);
	int ret = -1;

	(void)f, (void)pg;
	if (a->n >= a->max)
		return 1;
	if (!info_has_obj(info) || (info & SLOT_HUGE) || a->seen++ % a->stride)
		return 0;
	slot_lock(s);
	info = slot_info(s);
	if (info_has_obj(info) && !(info & SLOT_HUGE))
		ret = store_decode(a->st, a->t, info, s->val,
				   a->pages + (size_t)a->n * STORE_PAGE_SIZE);
	slot_unlock(s);
	if (ret == 0)
		a->n++;
	return 0;
}

/*
 * The pages' bytes when each is compressed alone at @level, with @cd or
 * without (NULL), counted as the store would keep them (raw from the
 * huge size on).
 */
static int store_train_cost(struct store *st, const struct codec_ops *ops,
			    int level, const struct codec_cdict *cd,
			    const unsigned char *pages, unsigned n, uint64_t *bytes)
{
	struct codec c = { .ops = ops, .level = level, .cdict = cd };
	unsigned char *out = malloc(STORE_PAGE_SIZE);
	struct codec_ctx *ctx;
	int ret = out ? codec_ctx_create(&c, &ctx) : -ENOMEM;

	*bytes = 0;
	for (unsigned i = 0; ret == 0 && i < n; i++) {
		long r = codec_compress(ctx, pages + (size_t)i * STORE_PAGE_SIZE,
					STORE_PAGE_SIZE, out, st->huge_size - 1);

		*bytes += r > 0 ? (uint64_t)r : STORE_PAGE_SIZE;
	}
	if (ret == 0)
		codec_ctx_destroy(ctx);
	free(out);
	return ret;
}

/* The priorities whose codecs take dictionaries, and their levels (pp_lock held). */
static unsigned store_dict_prios(struct store *st, int *levels)
{
	struct store_enc *e = atomic_load_explicit(&st->enc, memory_order_relaxed);
	unsigned mask = 0;

	for (unsigned p = 0; p < PP_MAX_COMPS; p++) {
		if ((p && !st->comp_set[p]) || !codec_has_dict(store_prio_ops(st, p)))
			continue;
		mask |= 1u << p;
		levels[p] = p ? st->comps[p].level : e->level;
	}
	return mask;
}

int store_train_dict(struct store *st, size_t size)
{
	struct store_train_arg a = { .st = st, .max = STORE_TRAIN_PAGES };
	struct store_train res = { 0 };
	int levels[PP_MAX_COMPS] = { 0 };
	struct codec_cdict *cd = NULL;
	const struct codec_ops *ops;
	size_t *sizes = NULL;
	void *dict = NULL;
	struct store_file **v;
	uint64_t objs = 0;
	unsigned mask, first;
	size_t nv;
	long len;
	int ret;

	if (size < STORE_TRAIN_MIN_BYTES || size > STORE_DICT_MAX)
		return -EINVAL;
	ret = store_tls_get(st, &a.t);
	if (ret < 0)
		return ret;
	if (pthread_mutex_trylock(&st->train_lock))
		return -EAGAIN;
	pthread_mutex_lock(&st->pp_lock);
	mask = store_dict_prios(st, levels);
	first = mask ? (unsigned)__builtin_ctz(mask) : 0;
	/* under the lock: recomp_algorithm may name another codec */
	ops = first ? st->comps[first].ops : st->codec.ops;
	pthread_mutex_unlock(&st->pp_lock);
	if (!mask) {
		ret = -EINVAL;
		goto out;
	}

	/* the sample: objects spread evenly over every file, decoded */
	a.pages = malloc((size_t)a.max * STORE_PAGE_SIZE);
	sizes = malloc(a.max * sizeof(*sizes));
	dict = malloc(size);
	if (!a.pages || !sizes || !dict) {
		ret = -ENOMEM;
		goto out;
	}
	/*
	 * Fault the sample in now: it is written under slot locks.  Volatile
	 * stores, not memset(), which GCC may fold with the malloc() into a
	 * calloc() that leaves fresh pages untouched.
	 */
	for (size_t k = 0; k < (size_t)a.max * STORE_PAGE_SIZE; k += STORE_PAGE_SIZE)
		((volatile char *)a.pages)[k] = 0;
	store_tls_prepare(st, a.t);	/* the decoding contexts */
	nv = store_files_pin(st, &v);
	for (size_t j = 0; j < nv; j++)
		objs += atomic_load_explicit(&v[j]->objs, memory_order_relaxed);
	a.stride = objs > a.max ? objs / a.max : 1;
	for (size_t j = 0; j < nv; j++)
		if (store_walk(v[j], 0, STORE_MAX_PAGES, store_train_slot, &a))
			break;
	store_files_unpin(v, nv);
	if (a.n < STORE_TRAIN_MIN_PAGES) {
		ret = -ENODATA;
		goto out;
	}
	for (unsigned i = 0; i < a.n; i++)
		sizes[i] = STORE_PAGE_SIZE;
	len = codec_train(ops, dict, size, a.pages, sizes, a.n);
	if (len < 0) {
		ret = (int)len;
		goto out;
	}

	/* the gain on the sample, at the level of the first codec */
	res = (struct store_train){ .dict_bytes = (uint64_t)len, .samples = a.n,
				    .sample_bytes = (uint64_t)a.n * STORE_PAGE_SIZE };
	ret = codec_cdict_create(&(struct codec){ .ops = ops, .level = levels[first] },
				 dict, (size_t)len, &cd);
	if (ret == 0)
		ret = store_train_cost(st, ops, levels[first], NULL, a.pages, a.n,
				       &res.compr_plain);
	if (ret == 0)
		ret = store_train_cost(st, ops, levels[first], cd, a.pages, a.n,
				       &res.compr_dict);
	codec_cdict_destroy(cd);
	if (ret < 0)
		goto out;

	/* installed for the codecs and levels as they are now */
	pthread_mutex_lock(&st->pp_lock);
	mask = store_dict_prios(st, levels);
	ret = mask ? store_params_install(st, mask, levels, dict, (size_t)len) : -EINVAL;
	if (ret == 0)
		st->train = res;
	pthread_mutex_unlock(&st->pp_lock);
out:
	pthread_mutex_unlock(&st->train_lock);
	free(dict);
	free(sizes);
	free(a.pages);
	return ret;
}

void store_dict_stats(struct store *st, struct store_dict_stats *out)
{
	struct store_tls *t = pthread_getspecific(st->key);
	struct store_enc *e;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->pp_lock);
	/* this thread's encoding is the current one: let the old one go */
	if (t)
		store_tls_prepare(st, t);
	store_dict_gc(st);
	out->dict_bytes = st->train.dict_bytes;
	out->samples = st->train.samples;
	out->sample_bytes = st->train.sample_bytes;
	out->compr_plain = st->train.compr_plain;
	out->compr_dict = st->train.compr_dict;
	for (unsigned k = 1; k < STORE_DICTS; k++) {
		struct codec_dict *d = atomic_load_explicit(&st->dicts[k],
							    memory_order_relaxed);

		if (d) {
			out->dicts++;
			out->mem += codec_dict_mem(d);
		}
	}
	e = atomic_load_explicit(&st->enc, memory_order_relaxed);
	if (e->cdict)
		out->mem += codec_cdict_mem(e->cdict);
	for (e = st->retired; e; e = e->next)
		if (e->cdict)
			out->mem += codec_cdict_mem(e->cdict);
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		if (st->comp_cdict[p])
			out->mem += codec_cdict_mem(st->comp_cdict[p]);
	pthread_mutex_unlock(&st->pp_lock);
}

/* Everything of the dictionaries, at the store's end (no thread uses it). */
static void store_dicts_free(struct store *st)
{
	struct store_enc *e, *next;

	store_enc_free(atomic_load_explicit(&st->enc, memory_order_relaxed));
	for (e = st->retired; e; e = next) {
		next = e->next;
		store_enc_free(e);
	}
	st->retired = NULL;
	for (unsigned k = 1; k < STORE_DICTS; k++)
		codec_dict_destroy(atomic_load_explicit(&st->dicts[k],
							memory_order_relaxed));
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		codec_cdict_destroy(st->comp_cdict[p]);
}

const char *store_recomp_name(struct store *st, unsigned prio, int *level)
{
	const char *name = NULL;

	if (prio < 1 || prio >= PP_MAX_COMPS)
		return NULL;
	pthread_mutex_lock(&st->pp_lock);
	if (st->comp_set[prio]) {
		name = st->comps[prio].ops->name;
		if (level)
			*level = st->comps[prio].level;
	}
	pthread_mutex_unlock(&st->pp_lock);
	return name;
}

struct store_recomp_arg {
	struct store *st;
	struct store_tls *t;
	const struct pp_recompress *r;
	unsigned prio, prio_max;	/* priorities to try: [prio, prio_max) */
	unsigned highest;		/* the highest priority configured */
	struct codec_ctx *ctx[PP_MAX_COMPS];
	uint64_t tried, done;
	uint32_t now;
	int err;
};

/* The allocator's granule: a page saves memory only below its old one. */
static unsigned store_granules(unsigned size)
{
	return (size + 15) / 16;
}

static bool store_recomp_eligible(const struct store_recomp_arg *a, uint32_t info)
{
	if (!info_has_obj(info) || (info & SLOT_INCOMP))
		return false;
	if ((a->r->mode & PP_IDLE) && !(info & SLOT_IDLE))
		return false;
	if ((a->r->mode & PP_HUGE) && !(info & SLOT_HUGE))
		return false;
	if ((a->r->mode & PP_READBACK) && !(info & SLOT_READ))
		return false;
	/* already encoded by one of these priorities or a higher one */
	if (info_prio(info) + 1 >= a->prio_max)
		return false;
	if (a->r->threshold && (info & SLOT_SIZE_MASK) < a->r->threshold)
		return false;
	return true;
}

/*
 * Recompress one page: decoded under its slot lock into this thread's
 * page, encoded with each priority in turn (no lock held) until one saves
 * memory, and switched in only when the slot did not change meanwhile.
 * A page that no codec up to the highest one shrinks keeps its encoding
 * and is marked incompressible (SLOT_INCOMP, zram's
 * ZRAM_INCOMPRESSIBLE): it is not tried again.
 */
static int store_recomp_slot(struct store_file *f, struct slot *s, uint64_t pg,
			 void *arg)
{
	struct store_recomp_arg *a = arg;
	struct store *st = a->st;
	struct store_tls *t = a->t;
	uint32_t info, newi, size;
	uint64_t val;
	zspool_handle_t h;
	unsigned p, last = 0;
	long n = -1;
	int ret;

	(void)pg;
	if (a->r->max_pages && a->tried >= a->r->max_pages)
		return 1;
	if (!store_recomp_eligible(a, slot_info(s)) ||
	    !store_old_enough(s, a->r->min_age, a->now))
		return 0;
	slot_lock(s);
	info = slot_info(s);
	val = s->val;
	if (!store_recomp_eligible(a, info)) {
		slot_unlock(s);
		return 0;
	}
	a->tried++;
	ret = store_decode(st, t, info, val, t->page);
	slot_unlock(s);
	if (ret < 0)
		return 0;
	size = info & SLOT_SIZE_MASK;
	p = info_prio(info) + 1 > a->prio ? info_prio(info) + 1 : a->prio;
	for (; p < a->prio_max; p++) {
		unsigned cap = (unsigned)st->huge_size - 1;

		if (!a->ctx[p])
			continue;
		last = p;
		if (a->r->threshold && a->r->threshold - 1 < cap)
			cap = a->r->threshold - 1;
		n = codec_compress(a->ctx[p], t->page, STORE_PAGE_SIZE, t->cbuf, cap);
		if (n > 0 && store_granules((unsigned)n) < store_granules(size))
			break;
		n = -1;
	}
	if (n <= 0) {
		if (last == a->highest) {
			slot_lock(s);
			if (slot_info(s) == info) {
				atomic_store_explicit(&s->info, info | SLOT_INCOMP,
						      memory_order_relaxed);
				store_account_mark(t, info, info | SLOT_INCOMP);
			}
			slot_unlock(s);
		}
		return 0;
	}
	ret = store_get(st, t, (size_t)n, &h, NULL);
	if (ret < 0) {
		a->err = ret;
		return 1;
	}
	zspool_write(st->pool, h, t->cbuf, (size_t)n);
	st->comp_used[p] = true;	/* pp_lock is held */
	newi = SLOT_STORED | prio_info(p) | (uint32_t)n | (info & SLOT_READ);
	slot_lock(s);
	if (slot_info(s) != info || s->val != val) {
		slot_unlock(s);
		zspool_free(st->pool, h);
		return 0;
	}
	slot_set(s, newi, h | (st->comp_cdict[p] ?
			       (uint64_t)st->comp_dict[p] << SLOT_DICT_SHIFT : 0));
	slot_unlock(s);
	store_account_slot(t, f, info, newi);
	zspool_free(st->pool, (zspool_handle_t)val_obj(val));
	a->done++;
	return 0;
}

int store_recompress(struct store *st, const struct pp_recompress *r,
		     uint64_t *done)
{
	struct store_recomp_arg a = { .st = st, .r = r, .prio = r->prio,
				  .prio_max = r->prio_max };
	struct store_file **v;
	size_t nv;
	int ret;

	*done = 0;
	ret = store_tls_get(st, &a.t);
	if (ret < 0)
		return ret;
	if (pthread_mutex_trylock(&st->pp_lock))
		return -EAGAIN;
	if (r->algo[0]) {
		/* by name: the first priority from @prio whose codec it is */
		unsigned p;

		for (p = a.prio; p < PP_MAX_COMPS; p++)
			if (st->comp_set[p] && !strcmp(st->comps[p].ops->name, r->algo))
				break;
		if (p == PP_MAX_COMPS) {
			ret = -EINVAL;
			goto out;
		}
		a.prio = p;
		a.prio_max = p + 1;
	}
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		if (st->comp_set[p])
			a.highest = p;
	if (a.prio_max > a.highest + 1)
		a.prio_max = a.highest + 1;
	if (a.prio >= a.prio_max) {
		ret = -EINVAL;		/* no recompression codec there */
		goto out;
	}
	for (unsigned p = a.prio; p < a.prio_max; p++) {
		if (!st->comp_set[p])
			continue;
		ret = codec_ctx_create(&st->comps[p], &a.ctx[p]);
		if (ret < 0)
			goto out_ctx;
	}
	/* this thread decodes with the other codec too */
	store_tls_prepare(st, a.t);
	a.now = a.t->now;
	nv = store_files_pin(st, &v);
	for (size_t j = 0; j < nv; j++)
		if (store_walk(v[j], 0, STORE_MAX_PAGES, store_recomp_slot, &a))
			break;
	store_files_unpin(v, nv);
	ret = a.err;
out_ctx:
	for (unsigned p = 0; p < PP_MAX_COMPS; p++)
		codec_ctx_destroy(a.ctx[p]);
out:
	pthread_mutex_unlock(&st->pp_lock);
	*done = a.done;
	return ret;
}
