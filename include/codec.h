/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * codec: the compressor ops table.  One file per backend (codec_lz4.c,
 * codec_zstd.c), each wholly inside its HAVE_ guard.  Immutable
 * parameters (the level) live in struct codec and are shared by all
 * threads; compression and decompression state lives in a struct
 * codec_ctx that each thread creates once and reuses for every page.
 */
#ifndef ZRAMFUSE_CODEC_H
#define ZRAMFUSE_CODEC_H

#include <stddef.h>

struct codec_ctx;

struct codec_ops {
	const char *name;
	int level_min, level_max, level_default;
	/* Per-thread state; return 0 or -errno. */
	int (*ctx_create)(int level, void **state);
	void (*ctx_destroy)(void *state);
	/*
	 * Compress @src_len bytes into at most @dst_cap bytes.  Returns the
	 * compressed length, -E2BIG when it does not fit, or -errno.
	 */
	long (*compress)(void *state, int level, const void *src,
			 size_t src_len, void *dst, size_t dst_cap);
	/*
	 * Decompress exactly @dst_len bytes.  Returns 0, or -EIO when the
	 * input is corrupt or does not decompress to exactly @dst_len.
	 */
	int (*decompress)(void *state, const void *src, size_t src_len,
			  void *dst, size_t dst_len);
};

struct codec {
	const struct codec_ops *ops;
	int level;
};

/* The backends (codec_lz4.c, codec_zstd.c); defined only when built. */
extern const struct codec_ops codec_lz4_ops;
extern const struct codec_ops codec_zstd_ops;

/*
 * Look a backend up by name; level 0 means its default.  Returns 0,
 * -ENOENT for an unknown or not-built name, -ERANGE for a bad level.
 */
int codec_init(struct codec *c, const char *name, int level);
/* Space-separated names of the backends built in, e.g. "lz4 zstd". */
const char *codec_names(void);

int codec_ctx_create(const struct codec *c, struct codec_ctx **out);
void codec_ctx_destroy(struct codec_ctx *ctx);
long codec_compress(struct codec_ctx *ctx, const void *src, size_t src_len,
		    void *dst, size_t dst_cap);
int codec_decompress(struct codec_ctx *ctx, const void *src, size_t src_len,
		     void *dst, size_t dst_len);

#endif
