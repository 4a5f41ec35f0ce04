// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * codec: the table of compression backends and the per-thread context.
 *
 * A struct codec is the immutable, shared choice (ops + level); a struct
 * codec_ctx is one thread's scratch state for that choice, created once
 * (store_thread_init() or first use) and reused for every page, as zram
 * keeps a per-CPU zcomp_strm.  Backends not built are simply absent from
 * the table, so no caller needs an #ifdef.
 *
 * A dictionary's two forms (include/codec.h) wrap the backend's objects
 * with the backend they belong to, so that a context never meets another
 * backend's dictionary (an assert checks it).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

struct codec_ctx {
	const struct codec_ops *ops;
	int level;
	void *state;			/* the backend's own, this thread's */
};

struct codec_dict {
	const struct codec_ops *ops;
	void *dd;			/* the backend's decoding dictionary */
};

struct codec_cdict {
	const struct codec_ops *ops;
	void *cd;			/* the backend's, at one level */
};

static const struct codec_ops *const codec_table[] = {
#ifdef HAVE_LZ4
	&codec_lz4_ops,
#endif
#ifdef HAVE_ZSTD
	&codec_zstd_ops,
#endif
};

#define CODEC_COUNT (sizeof(codec_table) / sizeof(codec_table[0]))

int codec_init(struct codec *c, const char *name, int level)
{
	for (size_t i = 0; i < CODEC_COUNT; i++) {
		const struct codec_ops *ops = codec_table[i];

		if (strcmp(ops->name, name) != 0)
			continue;
		if (level == 0)
			level = ops->level_default;
		if (level < ops->level_min || level > ops->level_max)
			return -ERANGE;
		c->ops = ops;
		c->level = level;
		c->cdict = NULL;
		return 0;
	}
	return -ENOENT;
}

const char *codec_names(void)
{
	static const char names[] = ""
#ifdef HAVE_LZ4
		"lz4"
#endif
#if defined(HAVE_LZ4) && defined(HAVE_ZSTD)
		" "
#endif
#ifdef HAVE_ZSTD
		"zstd"
#endif
		;
	return names;
}

int codec_ctx_create(const struct codec *c, struct codec_ctx **out)
{
	struct codec_ctx *ctx = calloc(1, sizeof(*ctx));
	int ret;

	if (!ctx)
		return -ENOMEM;
	ctx->ops = c->ops;
	ctx->level = c->level;
	ret = c->ops->ctx_create(c->level, &ctx->state);
	if (ret < 0) {
		free(ctx);
		return ret;
	}
	if (c->cdict)
		codec_ctx_set_cdict(ctx, c->cdict);
	*out = ctx;
	return 0;
}

void codec_ctx_destroy(struct codec_ctx *ctx)
{
	if (!ctx)
		return;
	ctx->ops->ctx_destroy(ctx->state);
	free(ctx);
}

long codec_compress(struct codec_ctx *ctx, const void *src, size_t src_len,
		    void *dst, size_t dst_cap)
{
	return ctx->ops->compress(ctx->state, ctx->level, src, src_len, dst,
				  dst_cap);
}

int codec_decompress(struct codec_ctx *ctx, const void *src, size_t src_len,
		     void *dst, size_t dst_len)
{
	return ctx->ops->decompress(ctx->state, src, src_len, dst, dst_len);
}

bool codec_has_dict(const struct codec_ops *ops)
{
	return ops->ddict_create != NULL;
}

int codec_dict_create(const struct codec_ops *ops, const void *buf, size_t len,
		      struct codec_dict **out)
{
	struct codec_dict *d;
	int ret;

	if (!codec_has_dict(ops) || len == 0)
		return -EINVAL;
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ops = ops;
	ret = ops->ddict_create(buf, len, &d->dd);
	if (ret < 0) {
		free(d);
		return ret;
	}
	*out = d;
	return 0;
}

void codec_dict_destroy(struct codec_dict *d)
{
	if (!d)
		return;
	d->ops->ddict_destroy(d->dd);
	free(d);
}

size_t codec_dict_mem(const struct codec_dict *d)
{
	return sizeof(*d) + d->ops->ddict_mem(d->dd);
}

int codec_cdict_create(const struct codec *c, const void *buf, size_t len,
		       struct codec_cdict **out)
{
	struct codec_cdict *cd;
	int ret;

	if (!codec_has_dict(c->ops) || len == 0)
		return -EINVAL;
	cd = malloc(sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	cd->ops = c->ops;
	ret = c->ops->cdict_create(buf, len, c->level, &cd->cd);
	if (ret < 0) {
		free(cd);
		return ret;
	}
	*out = cd;
	return 0;
}

void codec_cdict_destroy(struct codec_cdict *cd)
{
	if (!cd)
		return;
	cd->ops->cdict_destroy(cd->cd);
	free(cd);
}

size_t codec_cdict_mem(const struct codec_cdict *cd)
{
	return sizeof(*cd) + cd->ops->cdict_mem(cd->cd);
}

void codec_ctx_set_cdict(struct codec_ctx *ctx, const struct codec_cdict *cd)
{
	assert(!cd || cd->ops == ctx->ops);
	if (ctx->ops->ctx_set_cdict)
		ctx->ops->ctx_set_cdict(ctx->state, cd ? cd->cd : NULL);
}

int codec_decompress_dict(struct codec_ctx *ctx, const struct codec_dict *d,
			  const void *src, size_t src_len, void *dst,
			  size_t dst_len)
{
	if (!d)
		return codec_decompress(ctx, src, src_len, dst, dst_len);
	assert(d->ops == ctx->ops);
	return ctx->ops->decompress_dict(ctx->state, d->dd, src, src_len, dst,
					 dst_len);
}

long codec_train(const struct codec_ops *ops, void *dict, size_t cap,
		 const void *samples, const size_t *sizes, unsigned n)
{
	if (!ops->train)
		return -EINVAL;
	return ops->train(dict, cap, samples, sizes, n);
}
