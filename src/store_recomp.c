// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_recomp: recompression (zram's recomp_algorithm and recompress):
 * up to three codecs by priority behind the primary, and the pass that
 * re-encodes pages with them.  The read-back thread that runs the pass in
 * the background is src/recomp.c's.
 *
 * The codecs.  Priority 0 is the primary (st->codec); 1-3 are set with
 * store_set_recomp(), under conf_lock and only while no page uses that
 * priority (recomp.used[p]) and no pass may make one (recomp.pass[p]), so
 * a reader that found a page of some priority (under its slot lock) finds
 * its codec settled; a write that would change it meanwhile gets -EBUSY
 * at once.  A page records its priority in two bits of info.  The I/O
 * path decodes such a page with this thread's context of "the other
 * codec" (recomp.alt_ops: the one codec other than the primary that some
 * priority uses), made at the thread's next request with no lock held.
 * The recompression codecs' encodings (their levels and dictionaries,
 * recomp.enc[p]) are used only by the pass: it takes them at its start
 * under conf_lock (recomp.pass[p]) and makes its contexts from them with
 * no lock but pp_lock held, which no serving thread waits for;
 * algorithm_params may replace them meanwhile (the pass goes on with the
 * ones it took, store_dict.c keeps them).
 *
 * The pass.  A page is decoded under its slot lock into this thread's
 * scratch page, encoded with each priority in turn, no lock held, until
 * one saves memory (at least one of the allocator's 16-byte granules:
 * fewer bytes in the same granules save nothing), and switched in only
 * when the slot did not change meanwhile.
 * A page that no codec up to the highest one shrinks keeps its encoding
 * and is marked incompressible (zram's ZRAM_INCOMPRESSIBLE): it is not
 * tried again.  Read-back pages that no codec has tried yet are counted
 * (readback_todo), so the background thread knows when to run.
 *
 * Locks: pp_lock, then slot locks one at a time (then zspool's), and
 * files_lock to pin the files; conf_lock for the codecs, at the pass's
 * start and end only, never with a slot lock.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "codec.h"
#include "pp.h"
#include "store_core.h"
#include "zspool.h"

/* ---- the codecs ------------------------------------------------------- */

int store_set_recomp(struct store *st, unsigned prio, const char *name,
		     int level)
{
	const struct codec_ops *alt = NULL;
	struct store_enc *e;
	struct codec c;
	int ret = 0;

	if (prio < 1 || prio >= PP_MAX_COMPS)
		return -EINVAL;
	if (codec_init(&c, name, level) < 0)
		return -EINVAL;
	/* a new codec starts without a dictionary */
	e = store_enc_new(c.level);
	if (!e)
		return -ENOMEM;
	pthread_mutex_lock(&st->conf_lock);
	if (st->recomp.used[prio] || st->recomp.pass[prio]) {
		ret = -EBUSY;
		goto out;
	}
	st->recomp.comps[prio] = (struct codec){ .ops = c.ops, .level = c.level };
	store_enc_retire(st, st->recomp.enc[prio]);
	st->recomp.enc[prio] = e;
	e = NULL;
	st->recomp.set[prio] = true;
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		if (st->recomp.set[p] && st->recomp.comps[p].ops != st->codec.ops)
			alt = st->recomp.comps[p].ops;
	atomic_store_explicit(&st->recomp.alt_ops, alt, memory_order_release);
	store_dict_gc(st);
out:
	pthread_mutex_unlock(&st->conf_lock);
	store_enc_free(e);
	return ret;
}

const char *store_recomp_name(struct store *st, unsigned prio, int *level)
{
	const char *name = NULL;

	if (prio < 1 || prio >= PP_MAX_COMPS)
		return NULL;
	pthread_mutex_lock(&st->conf_lock);
	if (st->recomp.set[prio]) {
		name = st->recomp.comps[prio].ops->name;
		if (level)
			*level = st->recomp.enc[prio]->level;
	}
	pthread_mutex_unlock(&st->conf_lock);
	return name;
}

/* ---- the pass --------------------------------------------------------- */

struct store_recomp_arg {
	struct store *st;
	struct store_tls *t;
	const struct pp_recompress *r;
	unsigned prio, prio_max;	/* priorities to try: [prio, prio_max) */
	unsigned highest;		/* the highest priority configured */
	/* the codecs as the pass took them, and their contexts */
	const struct codec_ops *ops[PP_MAX_COMPS];
	struct store_enc *enc[PP_MAX_COMPS];	/* kept: st->recomp.pass[] */
	struct codec_ctx *ctx[PP_MAX_COMPS];
	unsigned installed;		/* priorities some page got */
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
	uint64_t val, newv;
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
			if (slot_info(s) == info && s->val == val) {
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
	newi = SLOT_STORED | prio_info(p) | (uint32_t)n | (info & SLOT_READ);
	newv = h | store_stamp(st, t) | ((uint64_t)a->enc[p]->dict << SLOT_DICT_SHIFT);
	store_wait_point(s);
	slot_lock(s);
	if (slot_info(s) != info || s->val != val) {
		slot_unlock(s);
		zspool_free(st->pool, h);
		return 0;
	}
	slot_set(s, newi, newv);
	slot_unlock(s);
	/* used[p] is set when the pass ends; pass[p] guards the codec until then */
	a->installed |= 1u << p;
	store_account_slot(t, f, info, newi);
	store_account_dict(t, info, val, newi, newv);
	zspool_free(st->pool, (zspool_handle_t)val_obj(val));
	a->done++;
	return 0;
}

/*
 * Take the codecs the pass uses (conf_lock held): by name, the first
 * priority from @prio whose codec it is; else those set in
 * [prio, prio_max).  Returns 0 or -EINVAL (none there).
 */
static int store_recomp_take(struct store *st, struct store_recomp_arg *a)
{
	const struct pp_recompress *r = a->r;

	if (r->algo[0]) {
		unsigned p;

		for (p = a->prio; p < PP_MAX_COMPS; p++)
			if (st->recomp.set[p] && !strcmp(st->recomp.comps[p].ops->name, r->algo))
				break;
		if (p == PP_MAX_COMPS)
			return -EINVAL;
		a->prio = p;
		a->prio_max = p + 1;
	}
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		if (st->recomp.set[p])
			a->highest = p;
	if (a->prio_max > a->highest + 1)
		a->prio_max = a->highest + 1;
	if (a->prio >= a->prio_max)
		return -EINVAL;		/* no recompression codec there */
	for (unsigned p = a->prio; p < a->prio_max; p++) {
		if (!st->recomp.set[p])
			continue;
		a->ops[p] = st->recomp.comps[p].ops;
		a->enc[p] = st->recomp.pass[p] = st->recomp.enc[p];
	}
	return 0;
}

int store_recompress(struct store *st, const struct pp_recompress *r,
		     unsigned flags, uint64_t *done)
{
	struct store_recomp_arg a = { .st = st, .r = r, .prio = r->prio,
				  .prio_max = r->prio_max };
	struct store_file **v;
	size_t nv;
	int ret;

	*done = 0;
	ret = store_pp_begin(st, flags, &a.t);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&st->conf_lock);
	ret = store_recomp_take(st, &a);
	pthread_mutex_unlock(&st->conf_lock);
	/* the contexts, with conf_lock free: a control file's thread may want it */
	for (unsigned p = a.prio; p < a.prio_max && ret == 0; p++) {
		if (!a.enc[p])
			continue;
		ret = codec_ctx_create(&(struct codec){ .ops = a.ops[p],
							.level = a.enc[p]->level,
							.cdict = a.enc[p]->cdict }, &a.ctx[p]);
	}
	if (ret == 0) {
		/* this thread decodes with the other codec too */
		store_tls_prepare(st, a.t);
		a.now = a.t->now;
		nv = store_files_pin(st, &v);
		for (size_t j = 0; j < nv; j++)
			if (store_walk(v[j], 0, STORE_MAX_PAGES, store_recomp_slot, &a))
				break;
		store_files_unpin(v, nv);
		ret = a.err;
	}
	for (unsigned p = 0; p < PP_MAX_COMPS; p++)
		codec_ctx_destroy(a.ctx[p]);
	pthread_mutex_lock(&st->conf_lock);
	for (unsigned p = 1; p < PP_MAX_COMPS; p++) {
		if (a.installed & (1u << p))
			st->recomp.used[p] = true;
		if (a.enc[p])
			st->recomp.pass[p] = NULL;
	}
	store_dict_gc(st);
	pthread_mutex_unlock(&st->conf_lock);
	store_pp_end(st);
	*done = a.done;
	return ret;
}
