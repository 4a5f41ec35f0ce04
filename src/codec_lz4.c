// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * codec_lz4: the lz4 backend.  The level is lz4's "acceleration" (1 = the
 * best ratio, larger = faster and worse).  Per-thread state is the
 * LZ4_stream_t that LZ4_compress_fast_extState() would otherwise build on
 * the stack (16 KiB) for every call; decompression needs no state.
 */
#include "config.h"

#ifdef HAVE_LZ4

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include <lz4.h>

#include "codec.h"

static int lz4_ctx_create(int level, void **state)
{
	void *s = aligned_alloc(64, ((size_t)LZ4_sizeofState() + 63) & ~(size_t)63);

	(void)level;
	if (!s)
		return -ENOMEM;
	*state = s;
	return 0;
}

static void lz4_ctx_destroy(void *state)
{
	free(state);
}

static long lz4_compress(void *state, int level, const void *src,
			 size_t src_len, void *dst, size_t dst_cap)
{
	int n;

	if (src_len > INT_MAX || dst_cap > INT_MAX)
		return -EINVAL;
	n = LZ4_compress_fast_extState(state, src, dst, (int)src_len,
				       (int)dst_cap, level);
	/* lz4 returns 0 both for "does not fit" and for bad input. */
	return n > 0 ? n : -E2BIG;
}

static int lz4_decompress(void *state, const void *src, size_t src_len,
			  void *dst, size_t dst_len)
{
	int n;

	(void)state;
	if (src_len > INT_MAX || dst_len > INT_MAX)
		return -EINVAL;
	n = LZ4_decompress_safe(src, dst, (int)src_len, (int)dst_len);
	return n == (int)dst_len ? 0 : -EIO;
}

const struct codec_ops codec_lz4_ops = {
	.name = "lz4",
	.level_min = 1,
	.level_max = 65537,		/* LZ4_ACCELERATION_MAX */
	.level_default = 1,
	.ctx_create = lz4_ctx_create,
	.ctx_destroy = lz4_ctx_destroy,
	.compress = lz4_compress,
	.decompress = lz4_decompress,
};

#endif /* HAVE_LZ4 */
