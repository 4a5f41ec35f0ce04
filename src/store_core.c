// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_core: the store's data structure - the slot and its lock, the
 * table of slots, each thread's state, the encoding and decoding of a
 * page, the accounting, and the walks the post-processing passes make.
 * The face (store.c) and the passes (store_writeback.c, store_recomp.c,
 * store_dict.c) work through it; store_core.h holds the types and
 * the inline helpers.
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
 * Table pages come from the allocator by the same path as objects
 * (store_get(), the reserve's ladder), so a new leaf never waits for the
 * kernel either.
 *
 * The slot.  { lock word, info, val }: info holds the compressed size, the
 * flags (stored, same-filled, huge/raw, idle, written back, incompressible,
 * read back, the codec's priority) and a generation; val is the zspool
 * handle, the fill word of a same-filled page, or the block of a
 * written-back page in the backing file, with the index of the page's
 * dictionary in its top 4 bits (store_dict.c) and, for a handle or a
 * block, the content's stamp above it.  info and val change only under
 * the slot's lock; every change of content advances the generation and
 * every new object or block has a new stamp, so that an operation that
 * let go of the lock (to allocate, to read the disk) can tell whether the
 * slot changed meanwhile, however often (SLOT_STAMP_SHIFT says why the
 * generation alone could not).  Post-processing costs no memory per slot:
 * its flags take spare bits of info, and the access time that idle
 * tracking needs (zram's ac_time, 8 bytes per slot) lives in the lock word
 * (store_writeback.c).
 *
 * The slot lock is the first word of the slot itself, a three-state futex
 * lock (0 free, 1 held, 2 held with sleepers): uncontended it is one CAS
 * on a cache line the operation touches anyway, it costs no memory (the
 * slot is padded to 16 bytes regardless), two slots never share a lock, and
 * a contended waiter sleeps instead of spinning on a 2-core machine where
 * the holder may be decompressing.  Striped mutexes were the alternative:
 * 40 bytes each, a hash, a second cache line per operation, and false
 * conflicts between unrelated pages.  bench/store_bench.c (part 3) measures
 * both, uncontended, walking 1 Mi slots: the same order, 10-25 ns each
 * (the two locked instructions of the in-slot lock cannot hide a slot's
 * cache miss the way a mutex's plain store to the slot can); next to the
 * 5-10 us of compressing a page neither matters, so memory and the absence
 * of false conflicts decide.  A discard walks slots at about that cost:
 * 256 slots, 6-8 us per MiB.
 *
 * Encoding.  A page is compressed with this thread's codec context into
 * this thread's buffer, and a new object is allocated and filled, all
 * before its slot is locked.  A page whose compressed size reaches 3/4 of
 * a page (zram's huge threshold, the allocator's huge class) is stored
 * raw; a same-filled page stores its word and no object.  Decoding runs
 * under the slot lock, which keeps the page's dictionary in the table.
 *
 * Per-thread state.  Each (thread, store) has a struct store_tls, made at
 * its first request (or by store_thread_init()) and freed when the thread
 * exits: the codec contexts (the primary's, and the other codec's once a
 * recompression priority uses one), the compression buffer, a scratch page,
 * a direct-I/O bounce page, the discard batch, the run of stamps, and the
 * counters.  A request starts with store_tls_prepare() (the clock), and a
 * write with store_write_enter(): the primary's encoding when
 * algorithm_params or train_dict changed it - one load and one
 * predictable branch when nothing did (store_dict.c says how a worker
 * takes a new one safely).
 *
 * Counters: one block per (thread, store), written only by its thread with
 * plain relaxed stores (no lock prefix, no shared cache line) and summed
 * by store_stats(); an exiting thread's go to st->dead.  Gauges are signed
 * deltas, so a page written by one thread and discarded by another sums
 * right.  The per-file usage is relaxed atomics in the file.
 *
 * Passes and walks.  One writeback or recompression pass runs at a time
 * (store_pp_begin(): pp_lock, which a thread that serves requests only
 * tries).  A pass visits every stored slot of the files pinned at its
 * start (store_files_pin(): store_file_destroy() waits for a file's
 * pins), leaf by leaf, skipping absent subtrees, with no lock held
 * between slots.
 *
 * Locks: a slot lock (then zspool's, inside it); tls_lock and files_lock,
 * leaves, never with a slot lock (the full order: store_core.h).
 */
#include "config.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "backing.h"
#include "codec.h"
#include "reclaim.h"
#include "store_core.h"
#include "zspool.h"

/* Tests only (store_core.h). */
void (*store_test_wait)(struct slot *s);

/* ---- the slot lock ---------------------------------------------------- */

void slot_lock_slow(struct slot *s)
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

/* ---- accounting ------------------------------------------------------- */

void cnt_add_locked(struct store *st, enum store_counter c, int64_t d)
{
	pthread_mutex_lock(&st->tls_lock);
	st->dead[c] += d;
	pthread_mutex_unlock(&st->tls_lock);
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
void store_account_mark(struct store_tls *t, uint32_t oldi, uint32_t newi)
{
	struct store_delta d = { 0 };

	delta_marks(&d, oldi, newi);
	store_account_marks(t, &d);
}

void store_account(struct store_tls *t, struct store_file *f,
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
void store_account_slot(struct store_tls *t, struct store_file *f,
			uint32_t oldi, uint32_t newi)
{
	struct store_delta d = { 0 };

	delta_slot(&d, oldi, newi);
	store_account(t, f, &d);
}

/* ---- per-thread state ------------------------------------------------- */

void store_tls_free(struct store_tls *t)
{
	codec_ctx_destroy(t->alt);
	codec_ctx_destroy(t->ctx);
	reclaim_node_put(t->st->reclaim, t->rn);
	free(t);
}

/* Called with st->tls_lock held. */
void store_tls_unlink(struct store *st, struct store_tls *t)
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

/* A thread's state leaves the store (no write of it runs). */
static void store_tls_leave(struct store *st, struct store_tls *t)
{
	pthread_mutex_lock(&st->tls_lock);
	store_tls_unlink(st, t);
	pthread_mutex_unlock(&st->tls_lock);
	store_tls_free(t);
}

/* pthread key destructor: the thread is exiting. */
void store_tls_exit(void *arg)
{
	struct store_tls *t = arg;

	store_tls_leave(t->st, t);
}

/*
 * Use a context once: its state (zstd's lazily allocated tables among it,
 * sized for its dictionary if it has one) is then faulted in now, not on
 * the I/O path under a slot lock.
 */
void store_ctx_warm(struct store_tls *t, struct codec_ctx *ctx)
{
	long n = codec_compress(ctx, t->page, STORE_PAGE_SIZE, t->cbuf,
				sizeof(t->cbuf));

	if (n > 0)
		codec_decompress(ctx, t->cbuf, (size_t)n, t->bounce, STORE_PAGE_SIZE);
}

/*
 * Make this thread's context of the other codec, once some priority uses
 * one: with no lock held, at this thread's first request after
 * recomp_algorithm named the codec; should it fail, reads of pages
 * recompressed with that codec fail with -ENOMEM until a later request
 * makes it.
 */
void store_tls_alt(struct store *st, struct store_tls *t)
{
	const struct codec_ops *alt;

	alt = atomic_load_explicit(&st->recomp.alt_ops, memory_order_acquire);
	if (alt) {
		struct codec c = { .ops = alt, .level = alt->level_default };

		if (codec_ctx_create(&c, &t->alt) < 0)
			t->alt = NULL;
	}
}

/*
 * The encoding a thread compresses with: the primary's (st->dict.enc),
 * which algorithm_params and train_dict replace (store_dict.c makes,
 * publishes and retires encodings; a thread takes the current one here,
 * at its first write and after each change).
 */
/*
 * Set this thread's context up for encoding @e (announced): a new level
 * needs a new context (the level is set in it); should that fail, the old
 * one goes on at its level (with @e's dictionary, whose own level then
 * applies), and the next write tries again.  The context first lets go of
 * its old dictionary, which may be freed by now: that only drops the
 * pointer (codec_zstd.c).  Returns 0, or -errno when the thread has no
 * context at all.
 */
static int store_enc_setup(struct store *st, struct store_tls *t,
			   struct store_enc *e)
{
	struct codec_ctx *ctx;
	int ret = 0;

	if (t->ctx && t->dict_val)
		codec_ctx_set_cdict(t->ctx, NULL);
	t->dict_val = 0;
	t->enc_seq = 0;
	if (!t->ctx || e->level != t->level) {
		ret = codec_ctx_create(&(struct codec){ .ops = st->codec.ops,
							.level = e->level }, &ctx);
		if (ret == 0) {
			codec_ctx_destroy(t->ctx);
			t->ctx = ctx;
			t->level = e->level;
		}
	}
	if (!t->ctx)
		return ret;
	if (ret == 0)
		t->enc_seq = e->seq;
	if (e->cdict) {
		codec_ctx_set_cdict(t->ctx, e->cdict);
		t->dict_val = (uint64_t)e->dict << SLOT_DICT_SHIFT;
	}
	store_ctx_warm(t, t->ctx);
	return 0;
}

/*
 * Announce the primary's encoding (st->dict.enc as loaded), then check
 * that it is still the current one - a store_dict_gc() between the load
 * and the announcement may have freed it - and take the newer one if
 * not; set the context up for it.  Without a dictionary the context
 * holds nothing shared, and the announcement ends at once.
 */
int store_enc_enter(struct store *st, struct store_tls *t)
{
	struct store_enc *e, *now;
	int ret = 0;

	e = atomic_load_explicit(&st->dict.enc, memory_order_seq_cst);
	for (;;) {
		atomic_store_explicit(&t->enc, e, memory_order_seq_cst);
		now = atomic_load_explicit(&st->dict.enc, memory_order_seq_cst);
		if (now == e)
			break;
		e = now;
	}
	if (e->seq != t->enc_seq)
		ret = store_enc_setup(st, t, e);
	if (!t->dict_val)
		atomic_store_explicit(&t->enc, NULL, memory_order_release);
	return ret;
}

int store_tls_create(struct store *st, struct store_tls **out)
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
	ret = store_enc_enter(st, t);
	store_write_leave(t);
	if (ret < 0) {
		store_tls_leave(st, t);
		return ret;
	}
	/* the recompression codec's context too, when one is named already
	 * (recomp= at mount): made and faulted in now, not at a request */
	store_tls_prepare(st, t);
	if (t->alt)
		store_ctx_warm(t, t->alt);
	t->rn = reclaim_node_get(st->reclaim);
	ret = -pthread_setspecific(st->key, t);
	if (ret) {
		store_tls_leave(st, t);
		return ret;
	}
	*out = t;
	return 0;
}

/* ---- the table -------------------------------------------------------- */

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
struct leaf *table_leaf(struct store_file *f, struct store_tls *t,
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
struct leaf *table_next_leaf(struct store_file *f, uint64_t *lidx,
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
			if (slot_dict(info, l->s[i].val))
				w->d[C_DICT + slot_dict(info, l->s[i].val)]--;
			if (info & SLOT_WB) {
				backing_block_free(store_backing(w->st),
						   val_obj(l->s[i].val));
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
uint64_t store_table_free(void *arg, void *table)
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

/* ---- encoding and decoding -------------------------------------------- */

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
 * Encode one page as a slot's new content: the fill word, or a new object
 * holding it compressed (raw when that does not save a quarter), with the
 * index of the dictionary this thread's context used.
 */
int store_encode(struct store *st, struct store_tls *t,
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
	*val = h | store_stamp(st, t) | dict;
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

	if (prio && st->recomp.comps[prio].ops != st->codec.ops)
		ctx = t->alt;
	if (!ctx)
		return -ENOMEM;
	if (__builtin_expect(k == 0, 1))
		return codec_decompress(ctx, src, info & SLOT_SIZE_MASK, dst,
					STORE_PAGE_SIZE);
	d = atomic_load_explicit(&st->dict.table[k], memory_order_acquire);
	if (!d)
		return -EIO;	/* cannot be: the slot names it */
	return codec_decompress_dict(ctx, d, src, info & SLOT_SIZE_MASK, dst,
				     STORE_PAGE_SIZE);
}

/* An object's bytes at @src into a page at @dst: raw or decompressed. */
int store_decode_obj(struct store *st, struct store_tls *t,
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
int store_decode(struct store *st, struct store_tls *t, uint32_t info,
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

/* A slot's old content is gone: free its object or its block. */
void store_release(struct store *st, uint32_t info, uint64_t val)
{
	if (info_has_obj(info))
		zspool_free(st->pool, (zspool_handle_t)val_obj(val));
	else if (info_wb(info))
		backing_block_free(store_backing(st), val_obj(val));
}

/* ---- passes and walks ------------------------------------------------- */

/* The start of a pass (store_core.h). */
int store_pp_begin(struct store *st, unsigned flags, struct store_tls **t)
{
	int ret = store_tls_get(st, t);

	if (ret < 0)
		return ret;
	if (!(flags & STORE_PP_WAIT)) {
		/* a background thread that waits goes first */
		if (atomic_load_explicit(&st->pp_waiting, memory_order_relaxed) ||
		    pthread_mutex_trylock(&st->pp_lock))
			return -EAGAIN;
		return 0;
	}
	atomic_fetch_add_explicit(&st->pp_waiting, 1, memory_order_relaxed);
	pthread_mutex_lock(&st->pp_lock);
	atomic_fetch_sub_explicit(&st->pp_waiting, 1, memory_order_relaxed);
	return 0;
}

void store_pp_end(struct store *st)
{
	pthread_mutex_unlock(&st->pp_lock);
}

/*
 * The files to walk: every file now, pinned so that none is freed under
 * the walk (store_file_destroy() waits for its pins).  Returns the count;
 * *@out is a new array (NULL when there is none or no memory).
 */
size_t store_files_pin(struct store *st, struct store_file ***out)
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

void store_files_unpin(struct store_file **v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		atomic_fetch_sub_explicit(&v[k]->pins, 1, memory_order_release);
	free(v);
}

/* Call @fn on the stored slots of @f in [lo, hi) (store_core.h). */
int store_walk(struct store_file *f, uint64_t lo, uint64_t hi,
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
