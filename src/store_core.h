/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store_core.h: what the store's files share and nobody else sees.
 *
 * The store is one data structure - each file's pages in a radix table of
 * 16-byte slots - served by five files, one concern each, that share this
 * header (as mimalloc's page.c, segment.c and arena.c share its
 * internal.h); include/store.h is the contract for callers:
 *
 *   store.c            the public face: read, write, discard, seek, files,
 *                      the store's life, its figures
 *   store_core.c       the slot lock's slow path, the table, per-thread
 *                      state, encode/decode, accounting, walks
 *   store_writeback.c  idle marking and the writeback pass
 *   store_recomp.c     recompression: the codecs by priority, the pass
 *   store_dict.c       dictionaries, algorithm parameters, training
 *
 * Below them, each behind a header of its own: reserve.c (memory for
 * writes), reclaim.c (the deferred-free queue), backing.c (the backing
 * file), codec*.c and zspool.c.
 *
 * Here: the slot and the table's blocks; the per-thread and per-file
 * state; struct store, its fields grouped by the file that owns them; and
 * the helpers every 4 KiB request runs, inline (the slot lock's fast path,
 * the slot word's accessors, the counters, the start of a request), so
 * that the split costs the hot path no call it did not make before.  A
 * header rather than a folder: the store's files sit next to the modules
 * they use, as the rest of src/ does, and one include says what they
 * share.
 *
 * Lock order (take left before right, never the reverse):
 *
 *   dict.train_lock -> pp_lock -> slot lock -> zspool's locks (inside
 *                                              zspool_alloc()/map()/free())
 *                      pp_lock -> conf_lock -> tls_lock
 *                      pp_lock -> files_lock, the backing file's
 *                                 allocation lock
 *
 * tls_lock and files_lock are leaves, never held with a slot lock.  No
 * lock wider than a slot is taken on the read/write/discard path; a slot
 * lock is never held while taking another slot lock, nor across an
 * allocation that may wait (src/reserve.c) or I/O to the backing file.
 *
 * No serving thread waits behind a background pass.  pp_lock is held for
 * a whole writeback or recompression pass (zram's pp_in_progress), so a
 * thread that serves requests - a control file's read or write - only
 * ever tries it (-EAGAIN, as zram), and train_lock likewise; a background
 * thread (a policy) may wait for it (store_pp_begin()).  What control
 * files read and write - the backing file, the codecs and their
 * encodings, the dictionaries, the last training - is conf_lock's, which
 * is held for a few loads and stores at a time and never across I/O, a
 * file's opening, a codec context's or a dictionary's making, or a walk:
 * those run before it is taken, and what they made is installed under
 * it.  A pass takes what it uses under conf_lock at its start and marks
 * it in use, so that a control write that would change it under the pass
 * is refused with -EBUSY at once instead of waiting (zram's errno for a
 * setting that cannot change now).
 */
#ifndef ZRAMFUSE_STORE_CORE_H
#define ZRAMFUSE_STORE_CORE_H

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backing.h"
#include "codec.h"
#include "pp.h"
#include "reserve.h"
#include "store.h"
#include "zspool.h"

struct backing;
struct reclaim;
struct reclaim_node;
struct recomp;

/* ---- the table and the slot (store_core.c) --------------------------- */

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
/* The top bits count changes of the slot (with val's stamp below: how an
 * operation that let go of the lock tells whether the slot changed). */
#define SLOT_GEN_SHIFT 22
#define SLOT_GEN_ONE (1u << SLOT_GEN_SHIFT)
#define SLOT_GEN_MASK (~0u << SLOT_GEN_SHIFT)

/*
 * The lock word: the lock state in the low 2 bits, the page's last access
 * (store_now(): seconds since the store was made, 0 = never) in the 30
 * bits above, written by the holder as it lets go (store_writeback.c).
 */
#define SLOT_LOCK_MASK 3u
#define SLOT_TIME_SHIFT 2
#define SLOT_TIME_MAX (UINT32_MAX >> SLOT_TIME_SHIFT)

/*
 * val of a page with an object or a block: [dict 4][stamp 28][where 32].
 *
 * where: the zspool handle (below 2^30) or the backing file's block
 * (below BACKING_MAX_BLOCKS, 2^32).
 *
 * dict: the page's dictionary, an index into st->dict.table, 0 = none
 * (store_dict.c).
 *
 * stamp: which content this is.  An operation that lets go of the slot
 * lock - a partial write while it re-encodes, a read of a written-back
 * page while the disk reads, a writeback or recompression pass while it
 * writes or re-encodes - takes the slot's (info, val) before and
 * switches only if they are the same after.  info's 10-bit generation
 * alone wraps after 1024 changes, and handles (and blocks) are reused
 * last-in first-out, so a slot rewritten 1024 * k times while a preempted
 * thread waited could show the old pair again over new data.  Every new
 * object or block therefore gets a stamp from one store-wide sequence,
 * handed to each thread in runs of STORE_STAMP_RUN: two contents of a
 * slot can show the same val only when 2^28 stamps (a quarter of a
 * billion pages stored, 1 TiB) were handed out between them, and the
 * generation agrees too.  It costs no memory (these bits were unused:
 * handles and blocks need 32) and one thread-local increment per stored
 * page.  A same-filled page's val is its fill word, with no room for a
 * stamp; it needs none: equal (info, val) there means equal content,
 * and a partial write that meets the same content again is still
 * correct (it is as if it came after the last change).  The trade-offs
 * against the alternatives: a wider per-slot counter would need a
 * 24-byte slot (+50% table memory); holding freed handles back from
 * reuse while anyone waits would put a check into every free.
 */
#define SLOT_DICT_SHIFT 60
#define SLOT_STAMP_SHIFT 32
#define SLOT_OBJ_MASK ((UINT64_C(1) << SLOT_STAMP_SHIFT) - 1)
#define SLOT_STAMP_MASK (((UINT64_C(1) << SLOT_DICT_SHIFT) - 1) & ~SLOT_OBJ_MASK)
#define SLOT_DICT_MASK (~UINT64_C(0) << SLOT_DICT_SHIFT)
#define STORE_STAMP_RUN 1024u		/* stamps a thread takes at a time */
#define STORE_DICTS 8			/* table entries; 0 is "none" */

_Static_assert(STORE_DICTS <= 16, "a dictionary index fits val's top 4 bits");
_Static_assert(BACKING_MAX_BLOCKS - 1 <= SLOT_OBJ_MASK, "a block fits val's low bits");

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

/* ---- per-thread and per-file state (store_core.c) --------------------- */

/* The per-thread counters (store_tls.cnt), summed by store_stats(). */
enum store_counter {
	C_ORIG, C_COMPR, C_SAME, C_HUGE, C_HUGE_SINCE,
	C_FAILED_READS, C_FAILED_WRITES, C_INVALID, C_NOTIFY_FREE,
	C_SYNC_FREES, C_READS, C_WRITES,
	C_BD_COUNT, C_BD_READS, C_BD_WRITES,
	C_READBACK, C_READBACK_COMPR, C_READBACK_RECOMP, C_READBACK_TODO,
	/* stored pages naming dictionary k: C_DICT + k (k = 1 .. STORE_DICTS - 1) */
	C_DICT,
	C_NR = C_DICT + STORE_DICTS
};

/* This thread's state for one store. */
struct store_tls {
	struct store *st;		/* immutable */
	struct store_tls *next, *prev;	/* protected by st->tls_lock */
	_Atomic int64_t cnt[C_NR];	/* written by the owner only, relaxed */
	struct codec_ctx *ctx;		/* the primary's context; owner only */
	/* the other codec, to decode pages recompressed with it; owner only */
	struct codec_ctx *alt;
	/*
	 * The primary's encoding that a write running on this thread uses,
	 * NULL between writes (a hazard pointer, store_dict.c): written by
	 * the owner only (seq_cst), read by store_dict_gc() under tls_lock.
	 */
	_Atomic(struct store_enc *) enc;
	/* owner only: the seq of the encoding t->ctx is set up for, 0 none */
	uint64_t enc_seq;
	uint64_t dict_val;		/* owner only: val bits of t->ctx's dictionary */
	int level;			/* owner only: the level t->ctx compresses at */
	struct reclaim_node *rn;	/* discard batch; owner only */
	unsigned allocs;		/* owner only: paces refill kicks */
	uint32_t now;			/* owner only: store_now() of this operation */
	uint64_t stamp, stamp_end;	/* owner only: this thread's run of stamps */
	/* owner only: compressed output, and a page to read-modify-write */
	_Alignas(64) unsigned char cbuf[STORE_PAGE_SIZE];
	unsigned char page[STORE_PAGE_SIZE];
	/* 4 KiB-aligned: the backing file's direct I/O goes through it */
	_Alignas(STORE_PAGE_SIZE) unsigned char bounce[STORE_PAGE_SIZE];
};

/* One file's contents (include/store.h). */
struct store_file {
	struct store *st;		/* immutable */
	_Atomic(void *) root;		/* the table; set once by CAS, acquire loads */
	_Atomic uint64_t pages;		/* relaxed: stored pages */
	_Atomic uint64_t compr;		/* relaxed: bytes of objects */
	_Atomic uint64_t objs;		/* relaxed: objects */
	_Atomic uint64_t meta;		/* relaxed: table bytes */
	struct store_file *next, *prev;	/* protected by st->files_lock */
	/* post-processing walks under way (store_files_pin()) */
	_Atomic unsigned pins;
};

/* ---- struct store ---------------------------------------------------- */

/*
 * A codec's encoding: its level and dictionary - the primary's
 * (st->dict.enc) or a recompression priority's (st->recomp.enc[p]).
 * Immutable once published; when replaced it waits on st->dict.retired
 * until no write and no pass uses it (store_dict.c).
 */
struct store_enc {
	int level;
	unsigned dict;			/* st->dict.table index, 0 = none */
	struct codec_cdict *cdict;	/* owned; NULL without a dictionary */
	uint64_t seq;			/* the primary's: its place in st->dict.seq */
	struct store_enc *next;		/* st->dict.retired; protected by conf_lock */
};

/* The last training (train_dict); protected by st->conf_lock. */
struct store_train {
	uint64_t dict_bytes, samples, sample_bytes, compr_plain, compr_dict;
};

/* zram's writeback_batch_size: its default, and the most one pass takes. */
#define STORE_WB_BATCH_DEFAULT 32u
#define STORE_WB_BATCH_MAX 256u

/* The writeback pass and the backing file it moves pages to (store_writeback.c). */
struct store_wb {
	/*
	 * The backing file: replaced under conf_lock, and only while used is
	 * false and pins is 0; a bare load only tells whether there is one
	 * (never unset once set), and the I/O path uses it without a lock
	 * only for a page written back to it (store_writeback.c).
	 */
	_Atomic(struct backing *) backing;	/* acquire loads; set under conf_lock */
	/* a page has been written back to it (a pass alone does not count) */
	bool used;			/* protected by conf_lock */
	unsigned pins;			/* passes (and syncs) using it; conf_lock */
	_Atomic uint64_t limit;		/* writeback_limit, pages; relaxed */
	_Atomic bool limit_enable;	/* relaxed */
	_Atomic unsigned batch;		/* writeback_batch_size; relaxed */
};

/* The recompression codecs by priority (store_recomp.c). */
struct store_recomp {
	/*
	 * comps[0] is unused (st->codec is the primary); of the others only
	 * .ops counts (the level and dictionary are enc[p]'s).  A priority's
	 * codec is set under conf_lock and only while no page uses it
	 * (used[p]) and no pass may make one (pass[p]), so a reader that
	 * found a page of that priority (through the slot lock) sees it
	 * settled.
	 */
	struct codec comps[PP_MAX_COMPS];
	bool set[PP_MAX_COMPS];		/* protected by conf_lock */
	bool used[PP_MAX_COMPS];	/* protected by conf_lock */
	struct store_enc *enc[PP_MAX_COMPS];	/* protected by conf_lock */
	/* the encodings the running pass uses, NULL when none; conf_lock */
	struct store_enc *pass[PP_MAX_COMPS];
	/* the codec other than the primary that some priority uses, or NULL */
	_Atomic(const struct codec_ops *) alt_ops;	/* acquire; set under conf_lock */
};

/* The primary's encoding and the dictionaries pages name (store_dict.c). */
struct store_dict {
	/* the primary's encoding now (level, dictionary); seq_cst, set under conf_lock */
	_Atomic(struct store_enc *) enc;
	/* its seq, for the writers' fast check; release, set under conf_lock */
	_Atomic uint64_t enc_seq;
	uint64_t seq;			/* the last seq given; conf_lock */
	struct store_enc *retired;	/* replaced, maybe in use; protected by conf_lock */
	/*
	 * Dictionaries pages may name (index 0 unused): set under conf_lock,
	 * cleared by store_dict_gc() under it.  A decoder loads an entry
	 * under the lock of a slot that names it, so it is there.
	 */
	_Atomic(struct codec_dict *) table[STORE_DICTS];	/* acquire */
	struct store_train train;	/* protected by conf_lock */
	pthread_mutex_t train_lock;	/* one training at a time; only tried */
};

struct store {
	/* The I/O path (store.c, store_core.c); set at creation unless noted. */
	struct codec codec;		/* the primary, at its first level */
	struct zspool *pool;
	struct reserve *rs;		/* memory for writes */
	struct reclaim *reclaim;	/* the deferred-free queue */
	bool deferred;			/* deferred_free */
	size_t huge_size;		/* compressed to this or more: stored raw */
	time_t epoch;			/* CLOCK_BOOTTIME second of store_now() 1 */
	pthread_key_t key;		/* this thread's struct store_tls */
	_Atomic uint64_t mem_limit;	/* bytes; relaxed */
	_Atomic uint64_t table_bytes;	/* relaxed */
	_Atomic uint64_t stamps;	/* relaxed: the next run of stamps */
	pthread_mutex_t tls_lock;
	struct store_tls *tls_list;	/* protected by tls_lock */
	int64_t dead[C_NR];		/* exited threads' counters; tls_lock */
	pthread_mutex_t files_lock;
	struct store_file *files;	/* protected by files_lock */

	/*
	 * Post-processing: one writeback or recompression pass at a time, as
	 * zram's pp_in_progress (store_pp_begin()); background threads that
	 * wait for it count themselves in pp_waiting (relaxed).
	 */
	pthread_mutex_t pp_lock;
	_Atomic unsigned pp_waiting;
	/* the post-processing configuration below (see the lock order) */
	pthread_mutex_t conf_lock;
	struct store_wb wb;
	struct store_recomp recomp;
	struct store_dict dict;
};

/* ---- the slot: lock word and content (inline: every request) ---------- */

void slot_lock_slow(struct slot *s);

/* Take a slot's lock: one CAS uncontended (store_core.c). */
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

/* A new content's stamp, in place in val (see SLOT_STAMP_SHIFT). */
static inline uint64_t store_stamp(struct store *st, struct store_tls *t)
{
	if (__builtin_expect(t->stamp == t->stamp_end, 0)) {
		t->stamp = atomic_fetch_add_explicit(&st->stamps, STORE_STAMP_RUN,
						     memory_order_relaxed);
		t->stamp_end = t->stamp + STORE_STAMP_RUN;
	}
	return (t->stamp++ << SLOT_STAMP_SHIFT) & SLOT_STAMP_MASK;
}

/*
 * Tests only (tests/store_wrap_test.c): called where an operation that
 * revalidates slot @s waits with no lock held, so that a test can do
 * there what a preempted thread would meet; NULL otherwise.  One
 * predictable branch, on paths that have just re-encoded a page or read
 * one from disk.
 */
extern void (*store_test_wait)(struct slot *s);

static inline void store_wait_point(struct slot *s)
{
	if (__builtin_expect(store_test_wait != NULL, 0))
		store_test_wait(s);
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
static inline uint32_t store_now(struct store *st)
{
	struct timespec ts;
	uint64_t v;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	v = (uint64_t)(ts.tv_sec - st->epoch) + 1;
	return v > SLOT_TIME_MAX ? SLOT_TIME_MAX : (uint32_t)v;
}

/* Is the page one 8-byte word repeated?  Then *@fill is the word. */
static inline bool page_same_filled(const unsigned char *p, uint64_t *fill)
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

/* ---- counters and accounting (store_core.c) ------------------------- */

static inline void cnt_add(struct store_tls *t, enum store_counter c, int64_t d)
{
	atomic_store_explicit(&t->cnt[c],
			      atomic_load_explicit(&t->cnt[c], memory_order_relaxed) + d,
			      memory_order_relaxed);
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

/* For a thread without state (it could not be created). */
void cnt_add_locked(struct store *st, enum store_counter c, int64_t d);
/* Only a mark of a slot changed, not its content. */
void store_account_mark(struct store_tls *t, uint32_t oldi, uint32_t newi);
/* Apply @d to this thread's counters and @f's usage. */
void store_account(struct store_tls *t, struct store_file *f,
		   const struct store_delta *d);
/* The counters of one slot going from @oldi to @newi. */
void store_account_slot(struct store_tls *t, struct store_file *f,
			uint32_t oldi, uint32_t newi);

/* The dictionary a slot's content names (0: none), as counted in C_DICT. */
static inline unsigned slot_dict(uint32_t info, uint64_t val)
{
	return info_has_obj(info) || info_wb(info) ? val_dict(val) : 0;
}

/*
 * The pages per dictionary (C_DICT + k, summed by store_dict_gc()): a
 * slot's content went from (@oldi, @oldv) to (@newi, @newv).  One
 * predictable branch while no page has a dictionary.  Release stores
 * (plain stores on x86): the collector's acquire loads then order every
 * decode of a dropped page - under its slot lock, before the drop -
 * before the dictionary's free.
 */
static inline void store_account_dict(struct store_tls *t, uint32_t oldi,
				      uint64_t oldv, uint32_t newi, uint64_t newv)
{
	unsigned ko = slot_dict(oldi, oldv), kn = slot_dict(newi, newv);
	_Atomic int64_t *c;

	if (__builtin_expect(ko == kn, 1))
		return;
	if (ko) {
		c = &t->cnt[C_DICT + ko];
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - 1,
				      memory_order_release);
	}
	if (kn) {
		c = &t->cnt[C_DICT + kn];
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
				      memory_order_release);
	}
}

/* ---- per-thread state (store_core.c) --------------------------------- */

/* Make this thread's state: on the list, its contexts made and warm. */
int store_tls_create(struct store *st, struct store_tls **out);
/*
 * The slow start of a write (store_dict.c): announce the primary's
 * encoding now and set t->ctx up for it.  Returns 0, or -errno when the
 * thread has no context at all.
 */
int store_enc_enter(struct store *st, struct store_tls *t);
/* Make the context of the other codec, once a priority uses one. */
void store_tls_alt(struct store *st, struct store_tls *t);
/* Called with st->tls_lock held: @t's counters go to st->dead. */
void store_tls_unlink(struct store *st, struct store_tls *t);
void store_tls_free(struct store_tls *t);
/* pthread key destructor: the thread is exiting. */
void store_tls_exit(void *arg);

/* This thread's state for @st, made at its first call. */
static inline int store_tls_get(struct store *st, struct store_tls **out)
{
	struct store_tls *t = pthread_getspecific(st->key);

	if (__builtin_expect(t != NULL, 1)) {
		*out = t;
		return 0;
	}
	return store_tls_create(st, out);
}

/*
 * The start of a request: its clock, and the context of the other codec
 * once some priority uses it (store_tls_alt()).
 */
static inline void store_tls_prepare(struct store *st, struct store_tls *t)
{
	t->now = store_now(st);
	if (__builtin_expect(t->alt != NULL, 1) ||
	    !atomic_load_explicit(&st->recomp.alt_ops, memory_order_acquire))
		return;
	store_tls_alt(st, t);
}

/*
 * Around every operation that encodes pages with t->ctx (a write, the
 * partial pages of a discard): the primary's encoding when
 * algorithm_params or train_dict changed it, announced while the
 * operation uses a dictionary of it (store_dict.c).  One load and one
 * predictable branch when nothing changed and no dictionary is in use.
 */
static inline int store_write_enter(struct store *st, struct store_tls *t)
{
	uint64_t seq = atomic_load_explicit(&st->dict.enc_seq, memory_order_acquire);

	if (__builtin_expect(seq == t->enc_seq && !t->dict_val, 1))
		return 0;
	return store_enc_enter(st, t);
}

static inline void store_write_leave(struct store_tls *t)
{
	if (atomic_load_explicit(&t->enc, memory_order_relaxed))
		atomic_store_explicit(&t->enc, NULL, memory_order_release);
}

/* ---- the table (store_core.c) ---------------------------------------- */

/* The leaf of leaf index @lidx; a writer (@t) creates the path. */
struct leaf *table_leaf(struct store_file *f, struct store_tls *t, uint64_t lidx);
/* The first present leaf in [*@lidx, @end), skipping absent subtrees. */
struct leaf *table_next_leaf(struct store_file *f, uint64_t *lidx, uint64_t end);
/* Free a destroyed file's tree and the file (reclaim's callback). */
uint64_t store_table_free(void *arg, void *table);

/* ---- encoding and decoding (store_core.c) ---------------------------- */

/*
 * Every allocation a write makes, objects and slot-table pages, climbs the
 * reserve's ladder (src/reserve.c); the caller holds no lock.
 */
static inline int store_get(struct store *st, struct store_tls *t, size_t size,
			    zspool_handle_t *h, void **page)
{
	return reserve_get(st->rs, size, h, page, &t->allocs);
}

/* A page as a slot's new content (a new object, or a fill word); no lock held. */
int store_encode(struct store *st, struct store_tls *t,
		 const unsigned char *src, uint32_t *info, uint64_t *val);
/* An object's bytes at @src into a page: raw or decompressed. */
int store_decode_obj(struct store *st, struct store_tls *t, uint32_t info,
		     uint64_t val, const void *src, unsigned char *dst);
/* A locked slot's content into @dst (4 KiB). */
int store_decode(struct store *st, struct store_tls *t, uint32_t info,
		 uint64_t val, unsigned char *dst);
/* A slot's old content is gone: free its object or its block. */
void store_release(struct store *st, uint32_t info, uint64_t val);

/* ---- walks (store_core.c) -------------------------------------------- */

/* Every file now, pinned (store_file_destroy() waits); a new array. */
size_t store_files_pin(struct store *st, struct store_file ***out);
void store_files_unpin(struct store_file **v, size_t n);
/*
 * Call @fn on every stored slot of @f in pages [lo, hi), in order, until
 * it returns non-zero (returned).  No lock is held around the call.
 */
typedef int (*store_slot_fn)(struct store_file *f, struct slot *s,
	     uint64_t pg, void *arg);
int store_walk(struct store_file *f, uint64_t lo, uint64_t hi,
	       store_slot_fn fn, void *arg);

/* Was slot @s last accessed at least @age seconds before @now? */
static inline bool store_old_enough(struct slot *s, uint64_t age, uint32_t now)
{
	uint32_t at = slot_time(s);

	return !age || (uint64_t)(now - (at < now ? at : now)) >= age;
}

/*
 * The start of a post-processing pass: this thread's state, and pp_lock.
 * Without STORE_PP_WAIT (a control file's thread, the read-back thread)
 * -EAGAIN while another pass runs or a background thread waits for one,
 * as zram's pp_in_progress; with it (a policy's thread) the wait, ahead
 * of anyone who only tries.  store_pp_end() lets go.
 */
int store_pp_begin(struct store *st, unsigned flags, struct store_tls **t);
void store_pp_end(struct store *st);

/*
 * The backing file, for a page written back to it (which keeps it from
 * being replaced), or to free such a page's block; NULL when there is none.
 */
static inline struct backing *store_backing(struct store *st)
{
	return atomic_load_explicit(&st->wb.backing, memory_order_acquire);
}

/* ---- encodings (store_dict.c) ---------------------------------------- */

struct store_enc *store_enc_new(int level);
void store_enc_free(struct store_enc *e);
/* @e was published and is replaced: it waits until unused (conf_lock held). */
void store_enc_retire(struct store *st, struct store_enc *e);
/* Free the encodings and dictionaries nothing uses any more (conf_lock held). */
void store_dict_gc(struct store *st);
/* Use a context once, so that its state is faulted in now (store_core.c). */
void store_ctx_warm(struct store_tls *t, struct codec_ctx *ctx);

/* ---- the post-processing files' life ---------------------------------- */

/*
 * store_dict.c: the first encoding (the primary at its first level, no
 * dictionary) and the training lock, at the store's start; -ENOMEM.
 */
int store_dict_init(struct store *st);
/* store_dict.c: everything of the dictionaries, at the store's end. */
void store_dict_fini(struct store *st);
/* store_writeback.c: close the backing file, at the store's end. */
void store_wb_fini(struct store *st);

#endif
