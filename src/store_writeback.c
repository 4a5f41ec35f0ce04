// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_writeback: idle marking and the writeback pass (zram's idle and
 * writeback), over the store's slots; the backing file itself, its
 * blocks, direct I/O and hole punching are src/backing.c's.
 *
 * Access times.  zram's idle tracking keeps an ac_time per slot, 8 bytes
 * when built in.  Here it costs nothing per slot: the lock word's low 2
 * bits are the lock state, so the 30 bits above hold the second of the
 * last read or write (store_now(): CLOCK_BOOTTIME from the store's start,
 * 34 years), written by the holder in the same atomic that releases the
 * lock (slot_unlock_touch()).  Always on, so that "idle 3600" is right
 * from the first hour without a table allocated on first use; the cost is
 * one clock_gettime() (vDSO) per request and a CAS instead of an exchange
 * at unlock.  The idle mark is a bit of info: marking changes no content,
 * and so no generation; a read or write clears it, and a partial write
 * ignores a mark set while it re-encoded.
 *
 * The writeback pass moves the pages a scan selects to the backing file,
 * one 4 KiB block each, compressed.  A page's bytes are copied under its
 * slot lock into this thread's bounce page (4 KiB-aligned for direct I/O)
 * and written with the lock dropped; the slot is switched to the block
 * only if nothing touched it meanwhile (a read clears the idle mark, any
 * change advances the generation, an access sets a time: the pass parks
 * the time at 0 while it writes), as zram drops a slot that lost
 * ZRAM_PP_SLOT.  Else the block serves the next page.  The slot keeps the
 * size and flags, val the block and the dictionary index.  The pass takes
 * pp_lock (one post-processing pass at a time; a second gets -EAGAIN) and
 * one page of writeback_limit's budget per page.
 *
 * The backing file is replaced, and the old one closed (its path freed),
 * under pp_lock and only while no page was ever written to it (wb.used):
 * so the I/O path reads the pointer without a lock, for a written-back
 * page only, which keeps it from being replaced.  Keeping replaced ones
 * until the store's end instead would keep a block device open (O_EXCL)
 * that the user let go of.
 *
 * Locks: pp_lock, then slot locks one at a time (then zspool's), and
 * files_lock to pin the files; the backing file's locks are leaves.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "backing.h"
#include "pp.h"
#include "store_internal.h"
#include "zspool.h"

/* ---- idle marking ----------------------------------------------------- */

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

/* ---- the writeback pass ----------------------------------------------- */

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

	if (!atomic_load_explicit(&st->wb.limit_enable, memory_order_relaxed))
		return true;
	v = atomic_load_explicit(&st->wb.limit, memory_order_relaxed);
	do {
		if (!v)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&st->wb.limit, &v, v - 1,
							memory_order_relaxed,
							memory_order_relaxed));
	return true;
}

static void store_wb_limit_give(struct store *st)
{
	if (atomic_load_explicit(&st->wb.limit_enable, memory_order_relaxed))
		atomic_fetch_add_explicit(&st->wb.limit, 1, memory_order_relaxed);
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
	st->wb.used = true;
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
	ret = store_pp_begin(st, &a.t);
	if (ret < 0)
		return ret;
	a.bf = store_backing(st);
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

/* ---- the backing file and the limit ----------------------------------- */

int store_set_backing_dev(struct store *st, const char *path)
{
	struct backing *bf, *old;
	int ret;

	pthread_mutex_lock(&st->pp_lock);
	if (st->wb.used) {
		ret = -EBUSY;
		goto out;
	}
	ret = backing_open(path, &bf);
	if (ret < 0)
		goto out;
	/* no page was ever written to the old one: nothing reads it */
	old = atomic_exchange_explicit(&st->wb.backing, bf, memory_order_acq_rel);
	backing_close(old);
out:
	pthread_mutex_unlock(&st->pp_lock);
	return ret;
}

bool store_backing_dev(struct store *st, char *buf, size_t size)
{
	struct backing *bf;

	pthread_mutex_lock(&st->pp_lock);
	bf = atomic_load_explicit(&st->wb.backing, memory_order_relaxed);
	snprintf(buf, size, "%s", bf ? backing_path(bf) : "");
	pthread_mutex_unlock(&st->pp_lock);
	return bf != NULL;
}

bool store_has_backing_dev(struct store *st)
{
	return atomic_load_explicit(&st->wb.backing, memory_order_relaxed) != NULL;
}

void store_backing_sync(struct store *st)
{
	struct backing *bf;

	pthread_mutex_lock(&st->pp_lock);
	bf = atomic_load_explicit(&st->wb.backing, memory_order_relaxed);
	if (bf)
		backing_sync(bf);
	pthread_mutex_unlock(&st->pp_lock);
}

/* Close the backing file, at the store's end (no page refers to it). */
void store_wb_fini(struct store *st)
{
	backing_close(atomic_load_explicit(&st->wb.backing, memory_order_acquire));
}

uint64_t store_wb_limit(struct store *st)
{
	return atomic_load_explicit(&st->wb.limit, memory_order_relaxed);
}

void store_set_wb_limit(struct store *st, uint64_t pages)
{
	atomic_store_explicit(&st->wb.limit, pages, memory_order_relaxed);
}

bool store_wb_limit_enable(struct store *st)
{
	return atomic_load_explicit(&st->wb.limit_enable, memory_order_relaxed);
}

void store_set_wb_limit_enable(struct store *st, bool on)
{
	atomic_store_explicit(&st->wb.limit_enable, on, memory_order_relaxed);
}
