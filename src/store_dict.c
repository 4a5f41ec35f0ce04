// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_dict: the codecs' parameters (zram's algorithm_params: level and
 * dictionary), the table of dictionaries pages may name, and train_dict
 * (which zram lacks): a dictionary trained on a sample of the stored pages.
 *
 * The table.  A zstd page may be encoded with a dictionary; it must be
 * decoded with the same one, forever.  A page records which: an index
 * into a table of dictionaries (st->dict.table, STORE_DICTS - 1 = 7
 * entries; 0 = none) in the top 4 bits of val, which neither a handle
 * nor a block of the backing file reaches; a same-filled page, whose val
 * is its whole fill word, has none.  So a page written before any
 * dictionary decodes as before, and a writeback or a recompression
 * carries the index along.  An entry holds the decoding form (a DDict,
 * any level); the encoding form (a CDict, one level) belongs to a
 * codec's encoding: st->dict.enc for the primary, st->recomp.enc[p] for
 * the recompression codecs.  Several dictionaries live at once because a
 * new one (a second train_dict, a new dict=) must not wait for the last
 * page of the old one to go, which on a swap device may be never; the
 * other choice, one per codec replaceable only while no page uses it, is
 * simpler but would make retraining a one-shot.  Seven bound the memory
 * (a 64 KiB dictionary takes 0.1 MiB to decode and 0.5 MiB to encode at
 * level 3); an install that finds the table full gets -EBUSY.
 *
 * An entry is freed (store_dict_gc(): at each install, each read of
 * train_dict's report and the end of each pass) once no encoding names
 * it and no page does.  Pages are counted, not searched: each thread
 * counts, in its own counters (C_DICT + k, plain stores on a line no
 * other thread writes), the pages naming each dictionary that it stored
 * and dropped, and the collector sums them - a few dozen loads, where a
 * walk of every slot under its lock took ~25 ns a slot and made the
 * report, which every user may read, as slow as the store is large.  The
 * sum can lag behind the pages only on the safe side: a page is counted
 * by the thread that stored it, after the slot names it and before that
 * thread lets go of the encoding that names the same dictionary (a
 * release store the collector's load pairs with), so a page not counted
 * yet keeps its dictionary through that encoding; a page dropped may be
 * counted late, which only keeps an entry a while longer.  The counts are
 * stored with release and summed with acquire, so that every decode of a
 * page (under its slot lock, before whoever dropped the page took that
 * lock) happens before the free of its dictionary.
 *
 * Encodings.  An encoding is an immutable struct store_enc (level,
 * dictionary index, CDict); a new one is published in st->dict.enc (the
 * primary) or st->recomp.enc[p], and the one it replaces waits on
 * st->dict.retired until nothing uses it.  A write announces the
 * primary's encoding its context uses in t->enc (a hazard pointer:
 * store, then check that it is still current, both seq_cst;
 * store_enc_enter(), in store_core.c) for as long as it runs with that encoding's
 * dictionary, and clears it when it ends (store_write_leave()); a write
 * without a dictionary announces nothing once its context is set up.  So
 * an idle thread holds nothing, and a retired encoding is freed as soon
 * as the writes that took it have ended, whatever threads are idle (they
 * used to keep theirs until their next request, so that seven trainings
 * could fill the table for good).  An idle thread's context may still
 * point at a freed CDict: it takes the new encoding before it compresses
 * again, and dropping the old pointer does not read it.  The fast check
 * at the start of a write is one load of st->dict.enc_seq, the seq of the
 * current encoding (a counter, so that a freed encoding's address reused
 * by a new one cannot pass for it).  A recompression pass takes the
 * recompression encodings it uses in st->recomp.pass[] under conf_lock;
 * they are kept while it runs, and algorithm_params may replace them
 * meanwhile.
 *
 * Reading a page decodes under the slot lock, a written-back one
 * included (its block is read with no lock, then checked and decoded
 * under it), and the slot's own index keeps the entry alive for the
 * decode.
 *
 * Training samples up to STORE_TRAIN_PAGES objects spread evenly over
 * every file, decodes each under its slot lock, trains with no lock held
 * (about half a second), measures the gain on the sample, and installs
 * the result for every codec that takes dictionaries, as algorithm_params
 * would.  Every dictionary and CDict is made with no lock held; only the
 * pointers are installed under conf_lock.
 *
 * Locks: dict.train_lock (only tried) -> conf_lock -> tls_lock
 * (store_core.h); never a slot lock with conf_lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "pp.h"
#include "store_core.h"

/* ---- encodings -------------------------------------------------------- */

/* The codec of priority @p (conf_lock held). */
static const struct codec_ops *store_prio_ops(struct store *st, unsigned p)
{
	return p ? st->recomp.comps[p].ops : st->codec.ops;
}

void store_enc_free(struct store_enc *e)
{
	if (!e)
		return;
	codec_cdict_destroy(e->cdict);
	free(e);
}

struct store_enc *store_enc_new(int level)
{
	struct store_enc *e = calloc(1, sizeof(*e));

	if (e)
		e->level = level;
	return e;
}

/* @e (published before, maybe in use) is replaced: it waits (conf_lock held). */
void store_enc_retire(struct store *st, struct store_enc *e)
{
	if (!e)
		return;
	e->next = st->dict.retired;
	st->dict.retired = e;
}

/* Make @e the primary's encoding (conf_lock held). */
static void store_enc_publish(struct store *st, struct store_enc *e)
{
	e->seq = ++st->dict.seq;
	store_enc_retire(st, atomic_exchange_explicit(&st->dict.enc, e,
						      memory_order_seq_cst));
	atomic_store_explicit(&st->dict.enc_seq, e->seq, memory_order_release);
}

/* The first encoding: the primary at its first level, no dictionary. */
int store_dict_init(struct store *st)
{
	struct store_enc *enc = store_enc_new(st->codec.level);

	if (!enc)
		return -ENOMEM;
	enc->seq = st->dict.seq = 1;
	atomic_init(&st->dict.enc, enc);
	atomic_init(&st->dict.enc_seq, enc->seq);
	pthread_mutex_init(&st->dict.train_lock, NULL);
	return 0;
}

/* Everything of the dictionaries, at the store's end (no thread uses it). */
void store_dict_fini(struct store *st)
{
	struct store_enc *e, *next;

	store_enc_free(atomic_load_explicit(&st->dict.enc, memory_order_relaxed));
	for (e = st->dict.retired; e; e = next) {
		next = e->next;
		store_enc_free(e);
	}
	st->dict.retired = NULL;
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		store_enc_free(st->recomp.enc[p]);
	for (unsigned k = 1; k < STORE_DICTS; k++)
		codec_dict_destroy(atomic_load_explicit(&st->dict.table[k],
							memory_order_relaxed));
	pthread_mutex_destroy(&st->dict.train_lock);
}

/* ---- the collector ---------------------------------------------------- */

/*
 * Free what nothing uses any more (conf_lock held): replaced encodings
 * that no write announces and no pass uses, then the dictionaries that
 * no encoding names and no page does.  The announcements are read before
 * the page counts (see the head comment for why that order makes the
 * counts exact enough).
 */
void store_dict_gc(struct store *st)
{
	struct store_enc *keep = NULL, *drop = NULL, *e, *next;
	int64_t pages[STORE_DICTS] = { 0 };
	unsigned unused = 0;

	pthread_mutex_lock(&st->tls_lock);
	for (e = st->dict.retired; e; e = next) {
		bool used = false;

		next = e->next;
		for (struct store_tls *t = st->tls_list; t && !used; t = t->next)
			used = atomic_load_explicit(&t->enc, memory_order_seq_cst) == e;
		for (unsigned p = 1; p < PP_MAX_COMPS && !used; p++)
			used = st->recomp.pass[p] == e;
		e->next = used ? keep : drop;
		if (used)
			keep = e;
		else
			drop = e;
	}
	for (unsigned k = 1; k < STORE_DICTS; k++) {
		pages[k] = st->dead[C_DICT + k];
		for (struct store_tls *t = st->tls_list; t; t = t->next)
			pages[k] += atomic_load_explicit(&t->cnt[C_DICT + k],
							 memory_order_acquire);
	}
	pthread_mutex_unlock(&st->tls_lock);
	st->dict.retired = keep;
	for (e = drop; e; e = next) {
		next = e->next;
		store_enc_free(e);
	}

	for (unsigned k = 1; k < STORE_DICTS; k++)
		if (atomic_load_explicit(&st->dict.table[k], memory_order_relaxed) &&
		    pages[k] == 0)
			unused |= 1u << k;
	unused &= ~(1u << atomic_load_explicit(&st->dict.enc, memory_order_relaxed)->dict);
	for (e = st->dict.retired; e; e = e->next)
		unused &= ~(1u << e->dict);
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		if (st->recomp.enc[p])
			unused &= ~(1u << st->recomp.enc[p]->dict);
	for (unsigned k = 1; k < STORE_DICTS; k++)
		if (unused & (1u << k))
			codec_dict_destroy(atomic_exchange_explicit(&st->dict.table[k], NULL,
								    memory_order_acq_rel));
}

/* ---- new parameters --------------------------------------------------- */

/*
 * New encodings for the priorities in @mask, made with no lock held and
 * installed together under conf_lock (store_params_install()).
 */
struct store_params {
	unsigned mask;
	const struct codec_ops *ops[PP_MAX_COMPS];	/* each was made for */
	int levels[PP_MAX_COMPS];
	bool same_levels;	/* refuse to install over other levels (training) */
	struct codec_dict *d;	/* the decoding form, NULL without a dictionary */
	struct store_enc *enc[PP_MAX_COMPS];
};

/*
 * Make @sp's encodings: at their levels, with the dictionary of @len bytes
 * at @buf (NULL: none), one decoding form for all of them.  No lock held.
 * Returns 0, the codec's -EINVAL, or -ENOMEM.
 */
static int store_params_make(struct store_params *sp, const void *buf, size_t len)
{
	int ret;

	if (buf) {
		ret = codec_dict_create(sp->ops[__builtin_ctz(sp->mask)], buf, len,
					&sp->d);
		if (ret < 0)
			return ret;
	}
	for (unsigned p = 0; p < PP_MAX_COMPS; p++) {
		if (!(sp->mask & (1u << p)))
			continue;
		sp->enc[p] = store_enc_new(sp->levels[p]);
		if (!sp->enc[p])
			return -ENOMEM;
		if (!buf)
			continue;
		ret = codec_cdict_create(&(struct codec){ .ops = sp->ops[p],
							  .level = sp->levels[p] },
					 buf, len, &sp->enc[p]->cdict);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* What store_params_install() did not take. */
static void store_params_drop(struct store_params *sp)
{
	for (unsigned p = 0; p < PP_MAX_COMPS; p++)
		store_enc_free(sp->enc[p]);
	codec_dict_destroy(sp->d);
}

/* The level priority @p encodes at now (conf_lock held; @p set). */
static int store_prio_level(struct store *st, unsigned p)
{
	return p ? st->recomp.enc[p]->level
		 : atomic_load_explicit(&st->dict.enc, memory_order_relaxed)->level;
}

/*
 * Install @sp (conf_lock held): all or nothing.  Returns 0 (what it
 * installed is the store's now), -EAGAIN when a priority's codec (or,
 * for a training, its level) changed since @sp was made, -EBUSY when
 * the table is full.  Workers take a new primary encoding at their next
 * write, a pass a new recompression one at its next start.
 */
static int store_params_install(struct store *st, struct store_params *sp)
{
	unsigned k = 0;

	for (unsigned p = 0; p < PP_MAX_COMPS; p++) {
		if (!(sp->mask & (1u << p)))
			continue;
		if ((p && !st->recomp.set[p]) || store_prio_ops(st, p) != sp->ops[p] ||
		    (sp->same_levels && store_prio_level(st, p) != sp->levels[p]))
			return -EAGAIN;
	}
	if (sp->d) {
		store_dict_gc(st);
		for (k = 1; k < STORE_DICTS; k++)
			if (!atomic_load_explicit(&st->dict.table[k], memory_order_relaxed))
				break;
		if (k == STORE_DICTS)
			return -EBUSY;
		atomic_store_explicit(&st->dict.table[k], sp->d, memory_order_release);
		sp->d = NULL;
	}
	for (unsigned p = 0; p < PP_MAX_COMPS; p++) {
		struct store_enc *e = sp->enc[p];

		if (!(sp->mask & (1u << p)))
			continue;
		sp->enc[p] = NULL;
		e->dict = e->cdict ? k : 0;
		if (p == 0) {
			store_enc_publish(st, e);
		} else {
			store_enc_retire(st, st->recomp.enc[p]);
			st->recomp.enc[p] = e;
		}
	}
	store_dict_gc(st);
	return 0;
}

/* ---- algorithm_params ------------------------------------------------- */

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

int store_set_params(struct store *st, int prio, const char *name, int level,
		     const char *dict)
{
	struct store_params sp = { 0 };
	const struct codec_ops *ops = NULL;
	void *buf = NULL;
	size_t len = 0;
	struct codec c;
	int ret;

	pthread_mutex_lock(&st->conf_lock);
	if (prio < 0) {
		/* by name: the primary first, then the recompression codecs */
		if (!strcmp(st->codec.ops->name, name)) {
			prio = 0;
		} else {
			for (prio = 1; prio < PP_MAX_COMPS; prio++)
				if (st->recomp.set[prio] &&
				    !strcmp(st->recomp.comps[prio].ops->name, name))
					break;
		}
	}
	if (prio < PP_MAX_COMPS && (prio == 0 || st->recomp.set[prio]))
		ops = store_prio_ops(st, (unsigned)prio);
	pthread_mutex_unlock(&st->conf_lock);
	if (!ops || (name && strcmp(ops->name, name)))
		return -EINVAL;
	/* the level matters to compression only: any page still decodes */
	if (codec_init(&c, ops->name, level) < 0 || (dict && !codec_has_dict(c.ops)))
		return -EINVAL;
	if (dict) {
		ret = store_dict_load(dict, &buf, &len);
		if (ret < 0)
			return ret;
	}
	sp.mask = 1u << prio;
	sp.ops[prio] = ops;
	sp.levels[prio] = c.level;
	ret = store_params_make(&sp, buf, len);
	if (ret == 0) {
		pthread_mutex_lock(&st->conf_lock);
		ret = store_params_install(st, &sp);
		pthread_mutex_unlock(&st->conf_lock);
	}
	store_params_drop(&sp);
	free(buf);
	return ret;
}

/* ---- train_dict ------------------------------------------------------- */

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

/*
 * The priorities whose codecs take dictionaries, their codecs and levels,
 * into @sp (conf_lock held).
 */
static void store_dict_prios(struct store *st, struct store_params *sp)
{
	sp->mask = 0;
	for (unsigned p = 0; p < PP_MAX_COMPS; p++) {
		if ((p && !st->recomp.set[p]) || !codec_has_dict(store_prio_ops(st, p)))
			continue;
		sp->mask |= 1u << p;
		sp->ops[p] = store_prio_ops(st, p);
		sp->levels[p] = store_prio_level(st, p);
	}
}

int store_train_dict(struct store *st, size_t size)
{
	struct store_train_arg a = { .st = st, .max = STORE_TRAIN_PAGES };
	struct store_params sp = { .same_levels = true };
	struct store_train res = { 0 };
	struct codec_cdict *cd = NULL;
	const struct codec_ops *ops;
	size_t *sizes = NULL;
	void *dict = NULL;
	struct store_file **v;
	uint64_t objs = 0;
	unsigned first;
	size_t nv;
	long len;
	int ret;

	if (size < STORE_TRAIN_MIN_BYTES || size > STORE_DICT_MAX)
		return -EINVAL;
	ret = store_tls_get(st, &a.t);
	if (ret < 0)
		return ret;
	if (pthread_mutex_trylock(&st->dict.train_lock))
		return -EAGAIN;
	/* the codecs and levels now; the install checks they did not change */
	pthread_mutex_lock(&st->conf_lock);
	store_dict_prios(st, &sp);
	pthread_mutex_unlock(&st->conf_lock);
	if (!sp.mask) {
		ret = -EINVAL;
		goto out;
	}
	first = (unsigned)__builtin_ctz(sp.mask);
	ops = sp.ops[first];

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
	ret = codec_cdict_create(&(struct codec){ .ops = ops, .level = sp.levels[first] },
				 dict, (size_t)len, &cd);
	if (ret == 0)
		ret = store_train_cost(st, ops, sp.levels[first], NULL, a.pages, a.n,
				       &res.compr_plain);
	if (ret == 0)
		ret = store_train_cost(st, ops, sp.levels[first], cd, a.pages, a.n,
				       &res.compr_dict);
	codec_cdict_destroy(cd);
	if (ret == 0)
		ret = store_params_make(&sp, dict, (size_t)len);
	if (ret < 0)
		goto out;

	/* installed for the codecs and levels it was made for */
	pthread_mutex_lock(&st->conf_lock);
	ret = store_params_install(st, &sp);
	if (ret == 0)
		st->dict.train = res;
	pthread_mutex_unlock(&st->conf_lock);
out:
	pthread_mutex_unlock(&st->dict.train_lock);
	store_params_drop(&sp);
	free(dict);
	free(sizes);
	free(a.pages);
	return ret;
}

void store_dict_stats(struct store *st, struct store_dict_stats *out)
{
	struct store_enc *e;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->conf_lock);
	store_dict_gc(st);
	out->dict_bytes = st->dict.train.dict_bytes;
	out->samples = st->dict.train.samples;
	out->sample_bytes = st->dict.train.sample_bytes;
	out->compr_plain = st->dict.train.compr_plain;
	out->compr_dict = st->dict.train.compr_dict;
	for (unsigned k = 1; k < STORE_DICTS; k++) {
		struct codec_dict *d = atomic_load_explicit(&st->dict.table[k],
							    memory_order_relaxed);

		if (d) {
			out->dicts++;
			out->mem += codec_dict_mem(d);
		}
	}
	e = atomic_load_explicit(&st->dict.enc, memory_order_relaxed);
	if (e->cdict)
		out->mem += codec_cdict_mem(e->cdict);
	for (e = st->dict.retired; e; e = e->next)
		if (e->cdict)
			out->mem += codec_cdict_mem(e->cdict);
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		if (st->recomp.enc[p] && st->recomp.enc[p]->cdict)
			out->mem += codec_cdict_mem(st->recomp.enc[p]->cdict);
	pthread_mutex_unlock(&st->conf_lock);
}
