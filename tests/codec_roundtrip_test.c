// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * codec_roundtrip_test: every codec built, through the ops table, on the
 * kinds of page a swap device sees (zero, same-filled, text, binary,
 * random), at the default and the extreme levels; plus the error paths
 * (unknown name, bad level, output too small, corrupt input).
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
		n++;
	}
	tap_ok(n >= 1, "at least one codec built (%d)", n);
	return tap_done();
}
