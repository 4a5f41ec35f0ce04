/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A long random sequence of alloc, write, read, map, free, batch free,
 * compact, trim and memory-limit changes, checked against a model that
 * keeps each object's size and content key.  Every few thousand steps the
 * pool's counters are compared with the model and zspool_check() walks it.
 *
 * ZRAMFUSE_SEED repeats a run; ZSPOOL_MODEL_STEPS changes its length.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "zspool_test.h"

#define MAXOBJ 12000

struct obj {
	zspool_handle_t h;
	size_t size;
	uint64_t key;
};

static struct obj objs[MAXOBJ];
static unsigned nobj;
static uint64_t model_bytes;

static int check_counters(struct zspool *pool, unsigned long step)
{
	struct zspool_stats st;
	int ok = 1;

	zspool_stats(pool, &st);
	ok &= TAP_CHECK(st.objs_allocated == nobj);
	ok &= TAP_CHECK(st.bytes_allocated == model_bytes);
	ok &= TAP_CHECK(st.pages_used <= st.pages_used_max);
	ok &= TAP_CHECK(zspool_check(pool) == 0);
	if (!ok)
		tap_diag("at step %lu", step);
	return ok;
}

static void drop(unsigned i)
{
	model_bytes -= objs[i].size;
	objs[i] = objs[--nobj];
}

int main(void)
{
	uint64_t seed = tap_seed(), rng = seed, limit = 0;
	const char *env = getenv("ZSPOOL_MODEL_STEPS");
	unsigned long steps = env ? strtoul(env, NULL, 0) : 400000, s;
	unsigned char buf[ZSPOOL_MAX_OBJ], bounce[ZSPOOL_MAX_OBJ];
	unsigned long nalloc = 0, nspc = 0, ncompact = 0, nread = 0;
	uint64_t compacted = 0;
	struct zspool_config cfg = { .max_zspage_pages = 0 };
	struct zspool_stats st;
	struct zspool *pool;
	int ok = 1;

	if (!tap_ok(zspool_create(&cfg, &pool) == 0, "create"))
		return tap_done();
	for (s = 0; s < steps && ok; s++) {
		uint64_t r = tap_rand(&rng);
		unsigned op = r % 1000, i;

		/* Ops on objects need one; a full model frees instead. */
		if (!nobj)
			op = 0;
		else if (op < 500 && nobj == MAXOBJ)
			op = 800;
		i = nobj ? (r >> 10) % nobj : 0;
		if (op < 500) {
			struct obj o = { .size = zt_size(&rng), .key = tap_rand(&rng) };
			struct zspool_stats before;
			int err;

			zspool_stats(pool, &before);
			err = zspool_alloc(pool, o.size, 0, &o.h);
			if (err) {
				zspool_stats(pool, &st);
				ok &= TAP_CHECK(err == -ENOSPC && limit);
				ok &= TAP_CHECK(st.pages_used == before.pages_used &&
						st.objs_allocated == nobj);
				/* the class's new zspage would not have fit */
				ok &= TAP_CHECK(st.pages_used + 8 > limit);
				nspc++;
				continue;
			}
			/* a new zspage only within the limit */
			zspool_stats(pool, &st);
			ok &= TAP_CHECK(!limit || st.pages_used == before.pages_used ||
					st.pages_used <= limit);
			zt_fill(buf, o.size, o.key);
			zspool_write(pool, o.h, buf, o.size);
			objs[nobj++] = o;
			model_bytes += o.size;
			nalloc++;
		} else if (op < 580) {
			/* rewrite a prefix, or the whole object, with a new key */
			objs[i].key = tap_rand(&rng);
			zt_fill(buf, objs[i].size, objs[i].key);
			zspool_write(pool, objs[i].h, buf, objs[i].size);
		} else if (op < 780 || op >= 980) {
			const void *p;

			ok &= TAP_CHECK(zspool_obj_size(pool, objs[i].h) == objs[i].size);
			if (r & (1ull << 40)) {
				zspool_read(pool, objs[i].h, buf, objs[i].size);
				ok &= TAP_CHECK(zt_verify(buf, objs[i].size, objs[i].key));
			} else {
				p = zspool_map(pool, objs[i].h, bounce);
				ok &= TAP_CHECK(zt_verify(p, objs[i].size, objs[i].key));
				zspool_unmap(pool, objs[i].h);
			}
			nread++;
		} else if (op < 960) {
			zspool_read(pool, objs[i].h, buf, objs[i].size);
			ok &= TAP_CHECK(zt_verify(buf, objs[i].size, objs[i].key));
			zspool_free(pool, objs[i].h);
			drop(i);
		} else if (op < 965) {
			zspool_handle_t hs[64];
			unsigned n = 1 + (r >> 20) % 64;

			if (n > nobj)
				n = nobj;
			for (unsigned k = 0; k < n; k++) {
				i = tap_rand(&rng) % nobj;
				hs[k] = objs[i].h;
				drop(i);
			}
			zspool_free_batch(pool, hs, n);
		} else if (op < 972) {
			struct zspool_stats before;
			uint64_t freed;

			zspool_stats(pool, &before);
			freed = zspool_compact(pool);
			zspool_stats(pool, &st);
			ok &= TAP_CHECK(before.pages_used - st.pages_used == freed);
			ok &= TAP_CHECK(st.pages_compacted - before.pages_compacted == freed);
			compacted += freed;
			ncompact++;
		} else if (op < 975) {
			if (r & (1ull << 40))
				zspool_trim(pool);
			else
				zspool_trim_runs(pool, (r >> 41) % 32);
		} else {
			/* a limit a little above, at or below current use, or none */
			zspool_stats(pool, &st);
			limit = (r >> 32) % 2 == 0 ? 0 : st.pages_used + (r >> 34) % 24;
			if (limit > 8)
				limit -= 8;
			zspool_set_mem_limit(pool, limit);
		}
		if (s % 20000 == 0)
			ok &= check_counters(pool, s);
	}
	tap_ok(ok, "%lu random steps: %lu allocs, %lu -ENOSPC, %lu reads, "
	       "%lu compactions freed %" PRIu64 " pages", s, nalloc, nspc, nread,
	       ncompact, compacted);
	tap_ok(nspc > 0 && compacted > 0, "the run hit the limit and compacted");
	tap_ok(check_counters(pool, s), "counters and check at the end");

	ok = 1;
	for (unsigned i = 0; i < nobj; i++) {
		zspool_read(pool, objs[i].h, buf, objs[i].size);
		ok &= TAP_CHECK(zt_verify(buf, objs[i].size, objs[i].key));
	}
	tap_ok(ok, "all %u live objects intact", nobj);
	while (nobj) {
		zspool_free(pool, objs[nobj - 1].h);
		drop(nobj - 1);
	}
	zspool_compact(pool);
	zspool_stats(pool, &st);
	tap_ok(st.pages_used == 0 && st.objs_allocated == 0 &&
	       st.bytes_allocated == 0, "empty at the end");
	zspool_destroy(pool);
	if (tap_failed)
		tap_diag("rerun with ZRAMFUSE_SEED=%" PRIu64, seed);
	return tap_done();
}
