// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * codec_zstd: the zstd backend.  Per-thread state is one ZSTD_CCtx and one
 * ZSTD_DCtx, created once.  The level and the frame options are set on the
 * CCtx at creation ("sticky" parameters) and ZSTD_compress2() reuses them
 * for every page.  A page is always decompressed to a known 4 KiB, so the
 * frame header need not carry the content size, a checksum or a
 * dictionary id: turning those off saves up to 9 bytes per page, which
 * matters when the median page compresses to a few hundred bytes.
 */
#include "config.h"

#ifdef HAVE_ZSTD

#include <errno.h>
#include <stdlib.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "codec.h"

struct zstd_state {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

static void zstd_ctx_destroy(void *state)
{
	struct zstd_state *s = state;

	if (!s)
		return;
	ZSTD_freeCCtx(s->cctx);
	ZSTD_freeDCtx(s->dctx);
	free(s);
}

static int zstd_ctx_create(int level, void **state)
{
	struct zstd_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cctx = ZSTD_createCCtx();
	s->dctx = ZSTD_createDCtx();
	if (!s->cctx || !s->dctx)
		goto fail;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_contentSizeFlag, 0)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_checksumFlag, 0)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_dictIDFlag, 0)))
		goto fail;
	*state = s;
	return 0;
fail:
	zstd_ctx_destroy(s);
	return -ENOMEM;
}

static long zstd_compress(void *state, int level, const void *src,
			  size_t src_len, void *dst, size_t dst_cap)
{
	struct zstd_state *s = state;
	size_t n;

	(void)level;			/* sticky on the CCtx */
	n = ZSTD_compress2(s->cctx, dst, dst_cap, src, src_len);
	if (!ZSTD_isError(n))
		return (long)n;
	switch (ZSTD_getErrorCode(n)) {
	case ZSTD_error_dstSize_tooSmall:
		return -E2BIG;
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static int zstd_decompress(void *state, const void *src, size_t src_len,
			   void *dst, size_t dst_len)
{
	struct zstd_state *s = state;
	size_t n = ZSTD_decompressDCtx(s->dctx, dst, dst_len, src, src_len);

	return !ZSTD_isError(n) && n == dst_len ? 0 : -EIO;
}

const struct codec_ops codec_zstd_ops = {
	.name = "zstd",
	.level_min = -7,		/* the fast negative levels, usefully */
	.level_max = 22,
	.level_default = 3,		/* zstd's (and zram's) default */
	.ctx_create = zstd_ctx_create,
	.ctx_destroy = zstd_ctx_destroy,
	.compress = zstd_compress,
	.decompress = zstd_decompress,
};

#endif /* HAVE_ZSTD */
