/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * codec: the compressor ops table.  One file per backend (codec_lz4.c,
 * codec_zstd.c), each wholly inside its HAVE_ guard.  Immutable
 * parameters (the level, a compression dictionary) live in struct codec
 * and are shared by all threads; compression and decompression state
 * lives in a struct codec_ctx that each thread creates once and reuses
 * for every page.
 *
 * Dictionaries (zram's algorithm_params dict=; zstd only): a dictionary
 * has two immutable forms, both shared by every thread and owned by the
 * caller, who must keep them alive while any context uses them: a
 * struct codec_dict decodes pages encoded with it, whatever the level,
 * and a struct codec_cdict encodes at one level.  A context compresses
 * with the codec_cdict of its struct codec (or the one set later with
 * codec_ctx_set_cdict()); decompression takes the codec_dict per call,
 * so one context decodes pages of any dictionary.
 */
#ifndef ZRAMFUSE_CODEC_H
#define ZRAMFUSE_CODEC_H

#include <stdbool.h>
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
	/*
	 * Dictionaries; NULL in a backend without them.  A dictionary is
	 * @len bytes: a trained one or raw content.  The create functions
	 * return 0, -EINVAL for one the backend refuses, or -ENOMEM; the
	 * mem functions the bytes a form takes.
	 */
	int (*ddict_create)(const void *buf, size_t len, void **out);
	void (*ddict_destroy)(void *dd);
	size_t (*ddict_mem)(const void *dd);
	int (*cdict_create)(const void *buf, size_t len, int level, void **out);
	void (*cdict_destroy)(void *cd);
	size_t (*cdict_mem)(const void *cd);
	/* Compress with @cd from now on (NULL: none).  Never allocates. */
	void (*ctx_set_cdict)(void *state, const void *cd);
	/* As decompress, with the decoding form @dd of the page's dictionary. */
	int (*decompress_dict)(void *state, const void *dd, const void *src,
			       size_t src_len, void *dst, size_t dst_len);
	/*
	 * Train a dictionary of at most @cap bytes into @dict from @n
	 * samples laid end to end at @samples, @sizes[i] bytes each.
	 * Returns its size, -ENODATA when the samples yield none, -ENOMEM.
	 */
	long (*train)(void *dict, size_t cap, const void *samples,
		      const size_t *sizes, unsigned n);
};

struct codec_cdict;
struct codec_dict;

struct codec {
	const struct codec_ops *ops;
	int level;
	/* compress with this dictionary (made at @level), or NULL */
	const struct codec_cdict *cdict;
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

/* Does backend @ops take dictionaries? */
bool codec_has_dict(const struct codec_ops *ops);
/*
 * The decoding form of the dictionary of @len bytes at @buf (copied).
 * Returns 0, -EINVAL when @ops takes no dictionary or refuses this one,
 * -ENOMEM.
 */
int codec_dict_create(const struct codec_ops *ops, const void *buf, size_t len,
		      struct codec_dict **out);
void codec_dict_destroy(struct codec_dict *d);
/* Bytes it takes. */
size_t codec_dict_mem(const struct codec_dict *d);
/* The encoding form, at @c's level (c->cdict is ignored); as above. */
int codec_cdict_create(const struct codec *c, const void *buf, size_t len,
		       struct codec_cdict **out);
void codec_cdict_destroy(struct codec_cdict *cd);
size_t codec_cdict_mem(const struct codec_cdict *cd);
/*
 * Compress with @cd from now on (NULL: without a dictionary); never
 * allocates.  @cd must be of the context's backend and outlive its use.
 */
void codec_ctx_set_cdict(struct codec_ctx *ctx, const struct codec_cdict *cd);
/* Decompress a page encoded with dictionary @d (NULL: none). */
int codec_decompress_dict(struct codec_ctx *ctx, const struct codec_dict *d,
			  const void *src, size_t src_len, void *dst,
			  size_t dst_len);
/* ops->train, or -EINVAL when @ops has none. */
long codec_train(const struct codec_ops *ops, void *dict, size_t cap,
		 const void *samples, const size_t *sizes, unsigned n);

#endif
