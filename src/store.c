// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store: the public face of the page store (include/store.h) - read,
 * write, discard, seek, the files, the store's life and its figures.
 * Each operation is a loop over the pages it covers that works on their
 * slots through the core (store_core.c); the data structure and its
 * trade-offs are explained there and in store_core.h.
 *
 * A 4 KiB write: the start of the request (this thread's state, the range
 * checked, its encoding current), the slot's leaf (created on first use),
 * the page encoded and its object allocated and filled with no lock held
 * (store_encode(), which allocates through the reserve's ladder,
 * src/reserve.c), then under the slot lock the slot switched to the new
 * content, and after the unlock the old object freed.  A partial page is
 * read under the lock, modified and re-encoded without it, and switched
 * in only if the slot's (info, val) are unchanged - its generation and
 * its content's stamp (store_core.h); an idle mark set meanwhile does
 * not count - else redone.  Failure at any point leaves
 * the old content in place.
 *
 * A read decodes under the slot lock into the caller's buffer (a partial
 * page through this thread's scratch page).  A written-back page is read
 * from the backing file with no lock held - the disk may be slow, and its
 * I/O may wait for memory, which no slot lock may do - and the slot checked
 * afterwards: when it changed meanwhile (the block may even have been
 * freed and reused), the read starts again from its new content.  Every
 * read or write sets the page's access time and clears its idle mark
 * (store_writeback.c).
 *
 * Discard detaches whole pages under their slot locks into this thread's
 * reclaim node and hands full nodes to the deferred-free queue
 * (src/reclaim.c); a destroyed file's whole tree is handed over in one
 * push.  Freeing an object replaced by an overwrite goes straight to
 * zspool_free(): the write has already paid for a compression and an
 * allocation, and deferring would only add queue traffic.  Freeing a
 * block of the backing file only sets a bit; the backing file's thread
 * punches the hole.
 *
 * Locks: slot locks, one at a time; files_lock and tls_lock for the lists
 * of files and threads, never with a slot lock (store_core.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backing.h"
#include "codec.h"
#include "reclaim.h"
#include "reserve.h"
#include "store_core.h"
#include "zspool.h"

/* ---- read and write --------------------------------------------------- */

int store_thread_init(struct store *st)
{
	struct store_tls *t;

	return store_tls_get(st, &t);
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

/*
 * Read a written-back page's block (no lock held) into this thread's
 * bounce page, allocated ahead and aligned for direct I/O.
 */
static int store_read_backing(struct store *st, struct store_tls *t, uint64_t val)
{
	struct backing *bf = store_backing(st);
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
		store_wait_point(s);
		slot_lock(s);
		same = (slot_info(s) & ~SLOT_IDLE) == info && s->val == val;
		if (same && ret == 0)
			ret = store_decode_obj(st, t, info, val, t->bounce, dst);
		slot_unlock(s);
		if (same)
			return ret;
	}
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
		return -ENOMEM;	/* counted by reserve_get() */
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
	store_account_dict(t, oldi, oldv, newi, newv);
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
		store_wait_point(s);
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
	store_account_dict(t, oldi, oldv, newi, newv);
	if (!src && !(newi & SLOT_STORED) && (oldi & SLOT_STORED))
		cnt_add(t, C_NOTIFY_FREE, 1);
	store_release(st, oldi, oldv);
	return 0;
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
	ret = store_write_enter(st, t);
	if (ret < 0) {
		cnt_add(t, C_FAILED_WRITES, 1);
		return ret;
	}
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
		if (ret < 0)
			break;
		done += n;
		off += n;
	}
	store_write_leave(t);
	if (ret < 0) {
		cnt_add(t, C_FAILED_WRITES, 1);
		return ret;
	}
	return (ssize_t)len;
}

/* ---- discard and seek ------------------------------------------------- */

/* Hand this thread's batch of detached handles to reclaim, or free it. */
static void store_flush(struct store *st, struct store_tls *t)
{
	struct reclaim_node *rn = t->rn;

	if (!rn || rn->n == 0)
		return;
	if (st->deferred) {
		if (reclaim_push(st->reclaim, &t->rn) == 0)
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
		t->rn = reclaim_node_get(st->reclaim);
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
			store_account_dict(t, info, val, 0, 0);
			d.freed++;
			if (info_has_obj(info))
				store_batch_add(st, t, (zspool_handle_t)val_obj(val),
						info & SLOT_SIZE_MASK);
			else if (info_wb(info))
				backing_block_free(store_backing(st), val_obj(val));
		}
		lidx++;
	}
	store_account(t, f, &d);
	store_flush(st, t);
}

/* Zero part of one page, at a discard's end: a write to it. */
static int store_discard_part(struct store_file *f, struct store_tls *t,
			      uint64_t pg, size_t po, size_t n)
{
	int ret = store_write_enter(f->st, t);

	if (ret == 0)
		ret = store_write_partial(f, t, pg, po, NULL, n);
	store_write_leave(t);
	return ret;
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
		return store_discard_part(f, t, off >> STORE_PAGE_SHIFT,
					  off & (STORE_PAGE_SIZE - 1),
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
		ret = store_discard_part(f, t, off >> STORE_PAGE_SHIFT,
					 off & (STORE_PAGE_SIZE - 1),
					 STORE_PAGE_SIZE - (off & (STORE_PAGE_SIZE - 1)));
		if (ret < 0)
			return ret;
	}
	if (end & (STORE_PAGE_SIZE - 1)) {
		ret = store_discard_part(f, t, last, 0, end & (STORE_PAGE_SIZE - 1));
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

/* ---- files ------------------------------------------------------------ */

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
		reclaim_push_table(st->reclaim, f,
				   atomic_load_explicit(&f->objs, memory_order_relaxed),
				   atomic_load_explicit(&f->compr, memory_order_relaxed));
	else {
		store_table_free(st, f);
		zspool_trim(st->pool);	/* as in store_flush() */
	}
}

void store_file_usage(struct store_file *f, uint64_t *pages,
		      uint64_t *compr_bytes)
{
	if (pages)
		*pages = atomic_load_explicit(&f->pages, memory_order_relaxed);
	if (compr_bytes)
		*compr_bytes = atomic_load_explicit(&f->compr, memory_order_relaxed);
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

/* ---- the store -------------------------------------------------------- */

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
		.free_table = store_table_free,
	};
	struct reserve_config rscfg = {
		.nowait = cfg->nowait_writes,
		.headroom_min = cfg->headroom_min,
		.target = cfg->reserve_pages,
	};
	const char *comp = cfg->comp;
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
	ret = store_dict_init(st);
	if (ret < 0)
		goto fail_free;
	st->deferred = cfg->deferred_free;
	atomic_store_explicit(&st->mem_limit, cfg->mem_limit, memory_order_relaxed);
	pthread_mutex_init(&st->tls_lock, NULL);
	pthread_mutex_init(&st->files_lock, NULL);
	pthread_mutex_init(&st->pp_lock, NULL);
	pthread_mutex_init(&st->conf_lock, NULL);
	atomic_init(&st->wb.batch, STORE_WB_BATCH_DEFAULT);
	{
		struct timespec ts;

		clock_gettime(CLOCK_BOOTTIME, &ts);
		st->epoch = ts.tv_sec;
	}
	if (cfg->backing_dev) {
		ret = store_set_backing_dev(st, cfg->backing_dev, cfg->backing_need,
					    cfg->why, cfg->why_len);
		if (ret < 0)
			goto fail_mutex;
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
	ret = reclaim_create(&rcfg, &st->reclaim);
	if (ret < 0)
		goto fail_pool;
	rscfg.pool = st->pool;
	rscfg.reclaim = st->reclaim;
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
	if (ret < 0)
		goto fail_reserve;
	*out = st;
	return 0;

fail_reserve:
	reserve_destroy(st->rs);
fail_reclaim:
	reclaim_destroy(st->reclaim);
fail_pool:
	zspool_destroy(st->pool);
fail_key:
	pthread_key_delete(st->key);
fail_backing:
	store_wb_fini(st);
fail_mutex:
	pthread_mutex_destroy(&st->conf_lock);
	pthread_mutex_destroy(&st->pp_lock);
	pthread_mutex_destroy(&st->files_lock);
	pthread_mutex_destroy(&st->tls_lock);
	store_dict_fini(st);
fail_free:
	free(st);
	return ret;
}

void store_destroy(struct store *st)
{
	struct store_tls *t;

	if (!st)
		return;
	for (;;) {
		struct store_file *f;

		pthread_mutex_lock(&st->files_lock);
		f = st->files;
		pthread_mutex_unlock(&st->files_lock);
		if (!f)
			break;
		store_file_destroy(f);
	}
	reclaim_drain(st->reclaim);
	/* This thread's state and any left by threads still alive (they
	 * must not use the store any more); their keys die with the key. */
	t = pthread_getspecific(st->key);
	if (t)
		pthread_setspecific(st->key, NULL);
	pthread_mutex_lock(&st->tls_lock);
	while (st->tls_list) {
		t = st->tls_list;
		store_tls_unlink(st, t);
		store_tls_free(t);
	}
	pthread_mutex_unlock(&st->tls_lock);
	store_dict_fini(st);
	reserve_destroy(st->rs);
	reclaim_destroy(st->reclaim);
	pthread_key_delete(st->key);
	zspool_destroy(st->pool);
	store_wb_fini(st);	/* after reclaim, which gave the tables' blocks back */
	pthread_mutex_destroy(&st->conf_lock);
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
	reclaim_stats(st->reclaim, &rs);

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

size_t store_huge_size(struct store *st)
{
	return st->huge_size;
}

uint64_t store_compact(struct store *st)
{
	return zspool_compact(st->pool);
}

uint64_t store_compact_keep(struct store *st, uint64_t pages)
{
	return zspool_compact_keep(st->pool, pages);
}

uint64_t store_tidy(struct store *st)
{
	return zspool_tidy(st->pool, true);
}

void store_drain(struct store *st)
{
	reclaim_drain(st->reclaim);
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
