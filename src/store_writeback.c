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
 * one 4 KiB block each, compressed, writeback_batch_size pages at a time
 * (zram's writes in flight; 32 by default, as zram).  A page's bytes are
 * copied under its slot lock into the batch's buffer (4 KiB-aligned for
 * direct I/O) and a block taken for it; a full batch is written with the
 * locks dropped, one pwrite(2) per run of consecutive blocks (the
 * backing file hands out blocks in order, so a batch is usually one
 * write); then each slot is switched to its block only if nothing
 * touched it meanwhile (a read clears the idle mark, any change advances
 * the generation and the stamp, an access sets a time: the pass parks
 * the time at 0 while the page is in a batch), as zram drops a slot that
 * lost ZRAM_PP_SLOT.  Else the block is freed.  The slot keeps the size
 * and flags, val the block and the dictionary index.  The pass takes
 * pp_lock (one post-processing pass at a time, store_pp_begin()) and one
 * page of writeback_limit's budget per page.  The batch's buffer is
 * allocated per pass (128 KiB at the default size); without it the pass
 * goes on a page at a time through this thread's bounce page.
 *
 * The backing file is replaced, and the old one closed (its path freed),
 * under conf_lock and only while no page was ever written to it
 * (wb.used) and no pass uses it (wb.pins): so the I/O path reads the
 * pointer without a lock, for a written-back page only, which keeps it
 * from being replaced.  The new file is opened (backing_open(), which
 * may take a while: it checks the file, may extend it and locks it)
 * before conf_lock is taken, and a write that cannot replace the old one
 * now gets -EBUSY at once, as zram's backing_dev does once it cannot
 * change.  Keeping replaced ones until the store's end instead would
 * keep a block device open (O_EXCL) that the user let go of.
 *
 * Locks: pp_lock, then slot locks one at a time (then zspool's), and
 * files_lock to pin the files; conf_lock for the file's pointer, never
 * with a slot lock; the backing file's locks are leaves.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backing.h"
#include "pp.h"
#include "store_core.h"
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

/* A page in the batch: copied out, its block taken, its time parked at 0. */
struct store_wb_page {
	struct store_file *f;
	struct slot *s;
	uint32_t info, at;		/* as copied, and the time it had */
	uint64_t val;
	uint64_t blk;
	int ret;			/* its write's result */
};

struct store_wb_arg {
	struct store *st;
	struct store_tls *t;
	struct backing *bf;
	unsigned mode;
	uint64_t min_age;
	uint32_t now;
	unsigned batch, n;		/* pages a batch takes, and has */
	unsigned char *buf;		/* batch * 4 KiB, 4 KiB-aligned */
	struct store_wb_page *pg;
	bool owned;			/* buf and pg are allocated (else one page) */
	struct store_wb_page one;
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
 * Switch one written page's slot to its block, if nothing touched it
 * since it was copied (see the head comment); else it stays, and its
 * block and budget are given back.
 */
static void store_wb_finish(struct store_wb_arg *a, struct store_wb_page *p)
{
	struct store *st = a->st;
	struct slot *s = p->s;
	uint32_t newi;

	store_wait_point(s);
	slot_lock(s);
	if (p->ret < 0 || slot_info(s) != p->info || s->val != p->val ||
	    slot_time(s)) {
		if (!slot_time(s))
			slot_set_time_locked(s, p->at);
		slot_unlock(s);
		store_wb_limit_give(st);
		backing_block_free(a->bf, p->blk);
		return;
	}
	slot_set_time_locked(s, p->at);
	newi = (p->info & ~SLOT_IDLE) | SLOT_WB;
	/* the block takes the object's dictionary along, and a new stamp */
	slot_set(s, newi, p->blk | store_stamp(st, a->t) | (p->val & SLOT_DICT_MASK));
	slot_unlock(s);
	store_account_slot(a->t, p->f, p->info, newi);
	cnt_add(a->t, C_BD_WRITES, 1);
	zspool_free(st->pool, (zspool_handle_t)val_obj(p->val));
	a->done++;
}

/*
 * Write the batch, one write per run of consecutive blocks, and switch
 * its pages.  Returns 0 or the first write's -errno.
 */
static int store_wb_flush(struct store_wb_arg *a)
{
	int err = 0;

	for (unsigned i = 0, run; i < a->n; i += run) {
		int ret;

		for (run = 1; i + run < a->n &&
		     a->pg[i + run].blk == a->pg[i].blk + run; run++)
			;
		ret = backing_write(a->bf, a->pg[i].blk, run,
				    a->buf + (size_t)i * STORE_PAGE_SIZE);
		for (unsigned k = i; k < i + run; k++)
			a->pg[k].ret = ret;
		if (ret < 0 && !err)
			err = ret;
	}
	for (unsigned i = 0; i < a->n; i++)
		store_wb_finish(a, &a->pg[i]);
	a->n = 0;
	return err;
}

/*
 * Put one page into the batch: its bytes copied under the slot lock, a
 * block taken, its time parked at 0 ("never"), so that any access while
 * it waits sets a real time, even within the same second, and the page
 * then stays (zram's ZRAM_PP_SLOT, lost on access).  A full batch is
 * written.
 */
static int store_wb_slot(struct store_file *f, struct slot *s, uint64_t pg,
			 void *arg)
{
	struct store_wb_arg *a = arg;
	struct store *st = a->st;
	struct store_wb_page *p = &a->pg[a->n];
	unsigned char *dst = a->buf + (size_t)a->n * STORE_PAGE_SIZE;
	uint32_t size;
	int ret;

	(void)pg;
	if (a->max && a->done + a->n >= a->max)
		return 1;
	if (!store_wb_eligible(slot_info(s), a->mode) ||
	    !store_old_enough(s, a->min_age, a->now))
		return 0;
	if (!store_wb_limit_take(st))
		return -EIO;
	ret = backing_block_alloc(a->bf, &p->blk);
	if (ret < 0) {
		store_wb_limit_give(st);
		return ret;
	}
	slot_lock(s);
	p->info = slot_info(s);
	p->val = s->val;
	if (!store_wb_eligible(p->info, a->mode)) {
		slot_unlock(s);
		store_wb_limit_give(st);
		backing_block_free(a->bf, p->blk);
		return 0;
	}
	size = p->info & SLOT_SIZE_MASK;
	zspool_read(st->pool, (zspool_handle_t)val_obj(p->val), dst, size);
	p->at = slot_time(s);
	slot_set_time_locked(s, 0);
	slot_unlock(s);
	memset(dst + size, 0, STORE_PAGE_SIZE - size);
	p->f = f;
	p->s = s;
	if (++a->n == a->batch)
		return store_wb_flush(a);
	return 0;
}

/*
 * The batch's memory for @a->batch pages, or (none to be had) one page:
 * this thread's bounce page.
 */
static void store_wb_batch_alloc(struct store_wb_arg *a)
{
	a->buf = aligned_alloc(STORE_PAGE_SIZE, (size_t)a->batch * STORE_PAGE_SIZE);
	a->pg = calloc(a->batch, sizeof(*a->pg));
	a->owned = a->buf && a->pg;
	if (a->owned)
		return;
	free(a->buf);
	free(a->pg);
	a->batch = 1;
	a->buf = a->t->bounce;
	a->pg = &a->one;
}

int store_writeback(struct store *st, struct store_file *primary,
		    const struct pp_scan *scans, size_t n, uint64_t max_pages,
		    unsigned flags, uint64_t *done)
{
	struct store_wb_arg a = { .st = st, .max = max_pages };
	struct store_file **v = NULL;
	size_t nv = 0;
	int ret;

	*done = 0;
	ret = store_pp_begin(st, flags, &a.t);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&st->conf_lock);
	a.bf = atomic_load_explicit(&st->wb.backing, memory_order_relaxed);
	if (a.bf)
		st->wb.pins++;
	pthread_mutex_unlock(&st->conf_lock);
	if (!a.bf) {
		store_pp_end(st);
		return -ENODEV;
	}
	a.batch = atomic_load_explicit(&st->wb.batch, memory_order_relaxed);
	if (a.batch > STORE_WB_BATCH_MAX)
		a.batch = STORE_WB_BATCH_MAX;
	store_wb_batch_alloc(&a);
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
	{
		int err = store_wb_flush(&a);	/* the last batch, whatever stopped the walk */

		if (ret == 0)
			ret = err;
	}
	store_files_unpin(v, nv);
	if (a.owned) {
		free(a.buf);
		free(a.pg);
	}
	pthread_mutex_lock(&st->conf_lock);
	/* set before the pass lets go of the file, so that no reader of a
	 * page written back finds it replaced */
	if (a.done)
		st->wb.used = true;
	st->wb.pins--;
	pthread_mutex_unlock(&st->conf_lock);
	store_pp_end(st);
	*done = a.done;
	return ret;
}

/* ---- the backing file and the knobs ----------------------------------- */

/* The current backing file's identity (none: false). */
static bool store_backing_id(struct store *st, dev_t *dev, ino_t *ino)
{
	struct backing *bf;

	pthread_mutex_lock(&st->conf_lock);
	bf = atomic_load_explicit(&st->wb.backing, memory_order_relaxed);
	if (bf)
		backing_id(bf, dev, ino);
	pthread_mutex_unlock(&st->conf_lock);
	return bf != NULL;
}

int store_set_backing_dev(struct store *st, const char *path, uint64_t need,
			  char *why, size_t why_len)
{
	struct backing *bf, *old;
	struct stat sb;
	dev_t dev;
	ino_t ino;
	int ret;

	if (why && why_len)
		why[0] = '\0';
	/* the current one again (not through a symlink): nothing changes */
	if (path[0] == '/' && store_backing_id(st, &dev, &ino) &&
	    lstat(path, &sb) == 0 && sb.st_dev == dev && sb.st_ino == ino)
		return 0;
	ret = backing_open(path, need, &bf, why, why_len);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&st->conf_lock);
	old = atomic_load_explicit(&st->wb.backing, memory_order_relaxed);
	if (st->wb.used || st->wb.pins) {
		if (why && why_len)
			snprintf(why, why_len, st->wb.used ?
				 "%s: pages are written back to the backing file %s; it stays until they are gone (a new mount)" :
				 "%s: a writeback pass is using the backing file %s; try again when it is done",
				 path, backing_path(old));
		pthread_mutex_unlock(&st->conf_lock);
		backing_close(bf);
		return -EBUSY;
	}
	/* no page was ever written to the old one: nothing reads it */
	atomic_store_explicit(&st->wb.backing, bf, memory_order_release);
	pthread_mutex_unlock(&st->conf_lock);
	backing_close(old);
	return 0;
}

bool store_backing_dev(struct store *st, char *buf, size_t size)
{
	struct backing *bf;

	pthread_mutex_lock(&st->conf_lock);
	bf = atomic_load_explicit(&st->wb.backing, memory_order_relaxed);
	snprintf(buf, size, "%s", bf ? backing_path(bf) : "");
	pthread_mutex_unlock(&st->conf_lock);
	return bf != NULL;
}

bool store_has_backing_dev(struct store *st)
{
	return atomic_load_explicit(&st->wb.backing, memory_order_relaxed) != NULL;
}

void store_backing_sync(struct store *st)
{
	struct backing *bf;

	/* pinned, not under conf_lock: the holes may take a while */
	pthread_mutex_lock(&st->conf_lock);
	bf = atomic_load_explicit(&st->wb.backing, memory_order_relaxed);
	if (bf)
		st->wb.pins++;
	pthread_mutex_unlock(&st->conf_lock);
	if (!bf)
		return;
	backing_sync(bf);
	pthread_mutex_lock(&st->conf_lock);
	st->wb.pins--;
	pthread_mutex_unlock(&st->conf_lock);
}

/* Close the backing file, at the store's end (no page refers to it). */
void store_wb_fini(struct store *st)
{
	backing_close(atomic_load_explicit(&st->wb.backing, memory_order_acquire));
}

unsigned store_wb_batch(struct store *st)
{
	return atomic_load_explicit(&st->wb.batch, memory_order_relaxed);
}

int store_set_wb_batch(struct store *st, uint64_t pages)
{
	if (pages == 0 || pages > UINT32_MAX)
		return -EINVAL;
	atomic_store_explicit(&st->wb.batch, (unsigned)pages, memory_order_relaxed);
	return 0;
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
