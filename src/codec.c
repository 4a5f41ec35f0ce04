// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * codec: the table of compression backends and the per-thread context.
 *
 * A struct codec is the immutable, shared choice (ops + level); a struct
 * codec_ctx is one thread's scratch state for that choice, created once
 * (store_thread_init() or first use) and reused for every page, as zram
 * keeps a per-CPU zcomp_strm.  Backends not built are simply absent from
 * the table, so no caller needs an #ifdef.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

struct codec_ctx {
	const struct codec_ops *ops;
	int level;
	void *state;			/* the backend's own, this thread's */
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
