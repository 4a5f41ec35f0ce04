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
 * (below 2^30) nor a block of the backing file reaches; a same-filled
 * page, whose val is its whole fill word, has none.  So a page written
 * before any dictionary decodes as before, and a writeback or a
 * recompression carries the index along.  An entry holds the decoding
 * form (a DDict, any level); the encoding form (a CDict, one level)
 * belongs to a codec's parameters: st->dict.enc for the primary,
 * st->recomp.cdict[] for the recompression codecs.  Several dictionaries
 * live at once because a new one (a second train_dict, a new dict=) must
 * not wait for the last page of the old one to go, which on a swap device
 * may be never; the other choice, one per codec replaceable only while no
 * page uses it, is simpler but would make retraining a one-shot.  Seven
 * bound the memory (a 64 KiB dictionary takes 0.1 MiB to decode and 0.5
 * MiB to encode at level 3); an install that finds the table full gets
 * -EBUSY.
 *
 * An entry is freed (store_dict_gc(), at each install and each read of
 * train_dict's report, under pp_lock) once no encoding and no page names
 * it.  Pages are found by a walk of every slot under its lock, ~25 ns a
 * slot: counting pages per dictionary instead would put a counter update
 * (and val, where the index lives) into every write's accounting.  The
 * walk is exact because no new page can name the entry by then: an
 * encoding names it only while it is current or still used by a worker.
 *
 * How workers take a new encoding (level or dictionary): at their next
 * request (store_tls_prepare()).  The encoding is an immutable struct
 * store_enc published in st->dict.enc; a worker announces the one its
 * context references in t->enc (a hazard pointer: store, then check that
 * it is still current, both seq_cst; store_tls_switch()) before it uses
 * it, and the replaced one waits on st->dict.retired until no worker
 * announces it.  An idle worker holds on to the old one until its next
 * request.  Reading a page decodes under the slot lock, a written-back
 * one included (its block is read with no lock, then checked and decoded
 * under it), so the slot's own index keeps the entry alive for the
 * decode.
 *
 * Training samples up to STORE_TRAIN_PAGES objects spread evenly over
 * every file, decodes each under its slot lock, trains with no lock held
 * (about half a second), measures the gain on the sample, and installs
 * the result for every codec that takes dictionaries, as algorithm_params
 * would.
 *
 * Locks: dict.train_lock (one training at a time) -> pp_lock -> tls_lock,
 * files_lock, slot locks (store_internal.h).
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
#include "store_internal.h"

/* ---- encodings and the table ------------------------------------------ */

/* The codec of priority @p (pp_lock held). */
static const struct codec_ops *store_prio_ops(struct store *st, unsigned p)
{
	return p ? st->recomp.comps[p].ops : st->codec.ops;
}

static void store_enc_free(struct store_enc *e)
{
	if (!e)
		return;
	codec_cdict_destroy(e->cdict);
	free(e);
}

/* The first encoding: the primary at its first level, no dictionary. */
int store_dict_init(struct store *st)
{
	struct store_enc *enc = calloc(1, sizeof(*enc));

	if (!enc)
		return -ENOMEM;
	enc->level = st->codec.level;
	atomic_init(&st->dict.enc, enc);
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
	for (unsigned k = 1; k < STORE_DICTS; k++)
		codec_dict_destroy(atomic_load_explicit(&st->dict.table[k],
							memory_order_relaxed));
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		codec_cdict_destroy(st->recomp.cdict[p]);
	pthread_mutex_destroy(&st->dict.train_lock);
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
	for (e = st->dict.retired; e; e = next) {
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
	st->dict.retired = keep;
	for (e = drop; e; e = next) {
		next = e->next;
		store_enc_free(e);
	}

	for (unsigned k = 1; k < STORE_DICTS; k++)
		if (atomic_load_explicit(&st->dict.table[k], memory_order_relaxed))
			a.unused |= 1u << k;
	a.unused &= ~(1u << atomic_load_explicit(&st->dict.enc, memory_order_relaxed)->dict);
	for (e = st->dict.retired; e; e = e->next)
		a.unused &= ~(1u << e->dict);
	for (unsigned p = 1; p < PP_MAX_COMPS; p++)
		if (st->recomp.cdict[p])
			a.unused &= ~(1u << st->recomp.dict[p]);
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
		codec_dict_destroy(atomic_exchange_explicit(&st->dict.table[k], NULL,
							    memory_order_acq_rel));
	}
}

/* ---- algorithm_params ------------------------------------------------- */

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
			if (!atomic_load_explicit(&st->dict.table[k], memory_order_relaxed))
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
		atomic_store_explicit(&st->dict.table[k], d, memory_order_release);
	for (unsigned p = 1; p < PP_MAX_COMPS; p++) {
		if (!(mask & (1u << p)))
			continue;
		codec_cdict_destroy(st->recomp.cdict[p]);
		st->recomp.cdict[p] = cd[p];
		st->recomp.comps[p].cdict = cd[p];
		st->recomp.comps[p].level = levels[p];
		st->recomp.dict[p] = cd[p] ? k : 0;
	}
	if (e) {
		old = atomic_exchange_explicit(&st->dict.enc, e, memory_order_seq_cst);
		old->next = st->dict.retired;
		st->dict.retired = old;
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
				if (st->recomp.set[prio] &&
				    !strcmp(st->recomp.comps[prio].ops->name, name))
					break;
		}
	}
	if (prio >= PP_MAX_COMPS || (prio > 0 && !st->recomp.set[prio]) ||
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

/* The priorities whose codecs take dictionaries, and their levels (pp_lock held). */
static unsigned store_dict_prios(struct store *st, int *levels)
{
	struct store_enc *e = atomic_load_explicit(&st->dict.enc, memory_order_relaxed);
	unsigned mask = 0;

	for (unsigned p = 0; p < PP_MAX_COMPS; p++) {
		if ((p && !st->recomp.set[p]) || !codec_has_dict(store_prio_ops(st, p)))
			continue;
		mask |= 1u << p;
		levels[p] = p ? st->recomp.comps[p].level : e->level;
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
	if (pthread_mutex_trylock(&st->dict.train_lock))
		return -EAGAIN;
	pthread_mutex_lock(&st->pp_lock);
	mask = store_dict_prios(st, levels);
	first = mask ? (unsigned)__builtin_ctz(mask) : 0;
	/* under the lock: recomp_algorithm may name another codec */
	ops = first ? st->recomp.comps[first].ops : st->codec.ops;
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
		st->dict.train = res;
	pthread_mutex_unlock(&st->pp_lock);
out:
	pthread_mutex_unlock(&st->dict.train_lock);
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
		if (st->recomp.cdict[p])
			out->mem += codec_cdict_mem(st->recomp.cdict[p]);
	pthread_mutex_unlock(&st->pp_lock);
}
