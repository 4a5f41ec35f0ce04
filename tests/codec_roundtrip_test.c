// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * codec_roundtrip_test: every codec built, through the ops table, on the
 * kinds of page a swap device sees (zero, same-filled, text, binary,
 * random), at the default and the extreme levels; plus the error paths
 * (unknown name, bad level, output too small, corrupt input).  For a
 * codec with dictionaries: one trained from text pages and one of raw
 * content shrink text pages and round trip, a context switches between
 * dictionaries and none, and a page decodes only with its dictionary;
 * a codec without them refuses one.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "store_test.h"

enum { K_ZERO, K_SAME, K_TEXT, K_BINARY, K_RANDOM, K_NR };
static const char *const kind_name[K_NR] = {
	"zero", "same-filled", "text", "binary", "random"
};

#define PAGE 4096

/* The page kinds are st_fill()'s (tests/store_test.h), in its order. */
static void fill_page(unsigned char *p, int kind, uint64_t *rng)
{
	st_fill(p, PAGE, kind, rng);
}

static int roundtrip(struct codec_ctx *ctx, const unsigned char *src,
		     long *clen)
{
	unsigned char cbuf[PAGE * 2], out[PAGE];
	long n = codec_compress(ctx, src, PAGE, cbuf, sizeof(cbuf));

	*clen = n;
	if (!TAP_CHECK(n > 0))
		return 0;
	memset(out, 0xa5, sizeof(out));
	if (!TAP_CHECK(codec_decompress(ctx, cbuf, (size_t)n, out, PAGE) == 0))
		return 0;
	return TAP_CHECK(memcmp(src, out, PAGE) == 0);
}

static void test_codec(const char *name, uint64_t seed)
{
	struct codec c;
	unsigned char page[PAGE], cbuf[PAGE * 2], out[PAGE];
	int levels[3], nlevels = 0;

	if (!tap_ok(codec_init(&c, name, 0) == 0, "%s: init at default level", name))
		return;
	levels[nlevels++] = c.level;
	if (c.ops->level_min != c.level)
		levels[nlevels++] = c.ops->level_min;
	/* The slowest zstd levels take long; the ratio end is enough at 19. */
	levels[nlevels++] = c.ops->level_max > 19 ? 19 : c.ops->level_max;

	tap_ok(codec_init(&c, name, c.ops->level_max + 1) == -ERANGE,
	       "%s: level above max is -ERANGE", name);

	for (int li = 0; li < nlevels; li++) {
		struct codec cl;
		struct codec_ctx *ctx;

		if (codec_init(&cl, name, levels[li]) != 0 ||
		    codec_ctx_create(&cl, &ctx) != 0) {
			tap_ok(0, "%s level %d: ctx", name, levels[li]);
			continue;
		}
		for (int k = 0; k < K_NR; k++) {
			uint64_t rng = seed + (uint64_t)k;
			int ok = 1;
			long clen = 0, worst = 0;

			for (int rep = 0; rep < 8 && ok; rep++) {
				fill_page(page, k, &rng);
				ok = roundtrip(ctx, page, &clen);
				if (clen > worst)
					worst = clen;
			}
			tap_ok(ok, "%s level %d: %s pages round trip (max %ld bytes)",
			       name, levels[li], kind_name[k], worst);
		}
		/* Compressible input shrinks; random input does not fit 3/4. */
		{
			uint64_t rng = seed;
			long n;

			fill_page(page, K_TEXT, &rng);
			n = codec_compress(ctx, page, PAGE, cbuf, sizeof(cbuf));
			tap_ok(n > 0 && n < PAGE * 3 / 4, "%s level %d: text compresses (%ld)",
			       name, levels[li], n);
			fill_page(page, K_RANDOM, &rng);
			n = codec_compress(ctx, page, PAGE, cbuf, 3071);
			tap_ok(n == -E2BIG, "%s level %d: random page into 3071 bytes is -E2BIG (%ld)",
			       name, levels[li], n);
		}
		/* Corrupt or truncated input must be caught, never overrun. */
		{
			uint64_t rng = seed ^ 77;
			long n;
			int r1, r2;

			fill_page(page, K_BINARY, &rng);
			n = codec_compress(ctx, page, PAGE, cbuf, sizeof(cbuf));
			r1 = n > 8 ? codec_decompress(ctx, cbuf, (size_t)n / 2, out, PAGE) : 0;
			r2 = n > 0 ? codec_decompress(ctx, cbuf, (size_t)n, out, PAGE - 1) : 0;
			tap_ok(n > 8 && r1 == -EIO && r2 == -EIO,
			       "%s level %d: truncated input / short output is -EIO (%d %d)",
			       name, levels[li], r1, r2);
		}
		codec_ctx_destroy(ctx);
	}
}

/* Text pages with a dictionary: trained, raw content, switched. */
static void test_dict(const char *name, uint64_t seed)
{
	enum { NS = 256 };
	static unsigned char samples[NS * PAGE];
	static size_t sizes[NS];
	unsigned char dict[16384], page[PAGE], cbuf[PAGE * 2], out[PAGE];
	struct codec_dict *d = NULL, *raw = NULL;
	struct codec_cdict *cd = NULL, *rawc = NULL;
	struct codec_ctx *ctx = NULL;
	struct codec c;
	uint64_t rng = seed ^ 0xd1c7;
	long n, plain = 0, with = 0, len;
	int ok = 1;

	if (codec_init(&c, name, 0) < 0)
		return;
	if (!codec_has_dict(c.ops)) {
		tap_ok(codec_dict_create(c.ops, "abcdefgh", 8, &d) == -EINVAL &&
		       codec_cdict_create(&c, "abcdefgh", 8, &cd) == -EINVAL &&
		       codec_train(c.ops, dict, sizeof(dict), "x", (size_t[]){ 1 }, 1) == -EINVAL,
		       "%s: no dictionaries (EINVAL)", name);
		return;
	}
	for (unsigned i = 0; i < NS; i++) {
		fill_page(samples + (size_t)i * PAGE, K_TEXT, &rng);
		sizes[i] = PAGE;
	}
	len = codec_train(c.ops, dict, sizeof(dict), samples, sizes, NS);
	tap_ok(len > 0 && len <= (long)sizeof(dict), "%s: trained a dictionary of %ld bytes",
	       name, len);
	tap_ok(codec_train(c.ops, dict, sizeof(dict), samples, sizes, 2) == -ENODATA,
	       "%s: two samples train nothing (ENODATA)", name);
	if (len <= 0)
		return;
	tap_ok(codec_dict_create(c.ops, dict, (size_t)len, &d) == 0 &&
	       codec_cdict_create(&c, dict, (size_t)len, &cd) == 0 &&
	       codec_dict_mem(d) > (size_t)len / 2 && codec_cdict_mem(cd) > (size_t)len / 2,
	       "%s: both forms made (%zu + %zu bytes)", name,
	       d ? codec_dict_mem(d) : 0, cd ? codec_cdict_mem(cd) : 0);
	/* raw content: a text page */
	fill_page(page, K_TEXT, &rng);
	tap_ok(codec_dict_create(c.ops, page, PAGE, &raw) == 0 &&
	       codec_cdict_create(&c, page, PAGE, &rawc) == 0,
	       "%s: a dictionary of raw content", name);
	if (!d || !cd || !raw || !rawc || codec_ctx_create(&c, &ctx) < 0)
		goto out;
	for (int i = 0; i < 32 && ok; i++) {
		const struct codec_cdict *use = i % 3 == 0 ? NULL : i % 3 == 1 ? cd : rawc;
		const struct codec_dict *dec = i % 3 == 0 ? NULL : i % 3 == 1 ? d : raw;

		fill_page(page, K_TEXT, &rng);
		codec_ctx_set_cdict(ctx, use);
		n = codec_compress(ctx, page, PAGE, cbuf, sizeof(cbuf));
		memset(out, 0xa5, sizeof(out));
		ok = TAP_CHECK(n > 0) &&
		     TAP_CHECK(codec_decompress_dict(ctx, dec, cbuf, (size_t)n, out, PAGE) == 0) &&
		     TAP_CHECK(memcmp(out, page, PAGE) == 0);
		if (i % 3 == 0)
			plain += n;
		else if (i % 3 == 1)
			with += n;
		/* with its dictionary gone, the page does not come back */
		if (ok && use == cd)
			ok = TAP_CHECK(codec_decompress(ctx, cbuf, (size_t)n, out, PAGE) != 0 ||
				       memcmp(out, page, PAGE) != 0);
	}
	tap_ok(ok, "%s: pages with the trained, the raw and no dictionary round trip", name);
	/* 11 pages each without and with the trained dictionary */
	tap_ok(with < plain, "%s: text pages shrink with the dictionary (%ld < %ld bytes)",
	       name, with, plain);
	codec_ctx_set_cdict(ctx, NULL);
	fill_page(page, K_TEXT, &rng);
	n = codec_compress(ctx, page, PAGE, cbuf, sizeof(cbuf));
	tap_ok(n > 0 && codec_decompress(ctx, cbuf, (size_t)n, out, PAGE) == 0 &&
	       !memcmp(out, page, PAGE), "%s: back to no dictionary", name);
	/* a page that did not fit must not keep the context from switching */
	for (int i = 0; i < 4; i++) {
		const struct codec_cdict *use = i % 2 ? NULL : cd;
		unsigned char rnd[PAGE];
		long big;
		int as_plain, as_dict;

		fill_page(rnd, K_RANDOM, &rng);
		big = codec_compress(ctx, rnd, PAGE, cbuf, 3071);
		codec_ctx_set_cdict(ctx, use);
		fill_page(page, K_TEXT, &rng);
		n = codec_compress(ctx, page, PAGE, cbuf, sizeof(cbuf));
		as_plain = n > 0 && codec_decompress(ctx, cbuf, (size_t)n, out, PAGE) == 0 &&
			!memcmp(out, page, PAGE);
		as_dict = n > 0 && codec_decompress_dict(ctx, d, cbuf, (size_t)n, out, PAGE) == 0 &&
		       !memcmp(out, page, PAGE);
		ok = big == -E2BIG && (use ? as_dict && !as_plain : as_plain);
		if (!ok)
			break;
	}
	tap_ok(ok, "%s: the dictionary switches on and off after a page that did not fit",
	       name);
	/* a context made with the dictionary in its struct codec */
	codec_ctx_destroy(ctx);
	ctx = NULL;
	c.cdict = cd;
	if (codec_ctx_create(&c, &ctx) == 0) {
		n = codec_compress(ctx, page, PAGE, cbuf, sizeof(cbuf));
		tap_ok(n > 0 && codec_decompress_dict(ctx, d, cbuf, (size_t)n, out, PAGE) == 0 &&
		       !memcmp(out, page, PAGE), "%s: a context made with the dictionary", name);
	}
	tap_ok(codec_dict_create(c.ops, dict, 0, &raw) == -EINVAL, "%s: an empty dictionary is EINVAL",
	       name);
out:
	codec_ctx_destroy(ctx);
	codec_dict_destroy(d);
	codec_dict_destroy(raw);
	codec_cdict_destroy(cd);
	codec_cdict_destroy(rawc);
}

int main(void)
{
	uint64_t seed = tap_seed();
	char names[64];
	struct codec c;
	int n = 0;

	tap_ok(codec_init(&c, "nosuchcodec", 0) == -ENOENT, "unknown codec is -ENOENT");
	snprintf(names, sizeof(names), "%s", codec_names());
	tap_diag("codecs built: %s", names);
	for (char *save = NULL, *nm = strtok_r(names, " ", &save); nm;
	     nm = strtok_r(NULL, " ", &save)) {
		test_codec(nm, seed);
		test_dict(nm, seed);
		n++;
	}
	tap_ok(n >= 1, "at least one codec built (%d)", n);
	return tap_done();
}
