// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * codec_zstd: the zstd backend.  Per-thread state is one ZSTD_CCtx and one
 * ZSTD_DCtx, created once.  The level and the frame options are set on the
 * CCtx at creation ("sticky" parameters) and ZSTD_compress2() reuses them
 * for every page.  A page is always decompressed to a known 4 KiB, so the
 * frame header need not carry the content size, a checksum or a
 * dictionary id: turning those off saves up to 9 bytes per page, which
 * matters when the median page compresses to a few hundred bytes.
 *
 * Dictionaries: a ZSTD_DDict decodes, a ZSTD_CDict encodes at its level
 * (ZSTD_createCDict() sizes its tables to the dictionary, not to the
 * page: 0.5 MiB at level 3 for 64 KiB).  Either is made from a trained
 * dictionary or from raw content, as zstd tells them apart by the magic
 * number.  A context references a CDict (ZSTD_CCtx_refCDict(), which
 * only stores the pointer), and ZSTD_compress2() then takes the level
 * and tables from it and the frame options above from the CCtx, so a
 * page with a dictionary carries no id either: the store records which
 * dictionary it was.  Decompression passes the DDict per call
 * (ZSTD_decompress_usingDDict()), which leaves nothing behind in the
 * DCtx for the next page.  Training is ZDICT_trainFromBuffer() (fastCover
 * with zstd's defaults).
 */
#include "config.h"

#ifdef HAVE_ZSTD

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include <zdict.h>
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
	/*
	 * A failed frame (most often: it did not fit) leaves the CCtx in the
	 * middle of a stream, where ZSTD_CCtx_refCDict() would refuse to
	 * change the dictionary: back to the start of a frame, keeping the
	 * parameters and the dictionary.
	 */
	ZSTD_CCtx_reset(s->cctx, ZSTD_reset_session_only);
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

static int zstd_ddict_create(const void *buf, size_t len, void **out)
{
	ZSTD_DDict *dd = ZSTD_createDDict(buf, len);

	/* NULL also for a dictionary header zstd cannot parse */
	if (!dd)
		return -EINVAL;
	*out = dd;
	return 0;
}

static void zstd_ddict_destroy(void *dd)
{
	ZSTD_freeDDict(dd);
}

static size_t zstd_ddict_mem(const void *dd)
{
	return ZSTD_sizeof_DDict(dd);
}

static int zstd_cdict_create(const void *buf, size_t len, int level, void **out)
{
	ZSTD_CDict *cd = ZSTD_createCDict(buf, len, level);

	if (!cd)
		return -EINVAL;
	*out = cd;
	return 0;
}

static void zstd_cdict_destroy(void *cd)
{
	ZSTD_freeCDict(cd);
}

static size_t zstd_cdict_mem(const void *cd)
{
	return ZSTD_sizeof_CDict(cd);
}

static void zstd_ctx_set_cdict(void *state, const void *cd)
{
	struct zstd_state *s = state;
	size_t r;

	/*
	 * refCDict fails only in the middle of a stream, which zstd_compress()
	 * never leaves open; the reset makes sure, as a context that kept
	 * the old dictionary would write pages its slots say are without it.
	 */
	ZSTD_CCtx_reset(s->cctx, ZSTD_reset_session_only);
	r = ZSTD_CCtx_refCDict(s->cctx, cd);
	assert(!ZSTD_isError(r));
	(void)r;
}

static int zstd_decompress_dict(void *state, const void *dd, const void *src,
				size_t src_len, void *dst, size_t dst_len)
{
	struct zstd_state *s = state;
	size_t n = ZSTD_decompress_usingDDict(s->dctx, dst, dst_len, src, src_len,
					      dd);

	return !ZSTD_isError(n) && n == dst_len ? 0 : -EIO;
}

static long zstd_train(void *dict, size_t cap, const void *samples,
		       const size_t *sizes, unsigned n)
{
	size_t r = ZDICT_trainFromBuffer(dict, cap, samples, sizes, n);

	if (!ZDICT_isError(r))
		return (long)r;
	return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM :
								      -ENODATA;
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
	.ddict_create = zstd_ddict_create,
	.ddict_destroy = zstd_ddict_destroy,
	.ddict_mem = zstd_ddict_mem,
	.cdict_create = zstd_cdict_create,
	.cdict_destroy = zstd_cdict_destroy,
	.cdict_mem = zstd_cdict_mem,
	.ctx_set_cdict = zstd_ctx_set_cdict,
	.decompress_dict = zstd_decompress_dict,
	.train = zstd_train,
};

#endif /* HAVE_ZSTD */
