/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Threads against one pool.  Four workers share a table of slots, each
 * slot guarded by its own mutex as the store's slot lock guards a page;
 * a worker picks a slot and allocates, rewrites, reads (zspool_read or
 * zspool_map), or frees (singly or in batches) its object, checking the
 * object's contents against its key on every read.  Meanwhile another
 * thread compacts, trims and refills the reserve without pause, so objects
 * move under readers and frees of their neighbours.
 *
 * ZSPOOL_STRESS_MS sets the duration (default 3000 ms); ZRAMFUSE_SEED the
 * seed.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "zspool_test.h"

#define NWORKERS 4
#define NSLOTS 8192

struct slot {
	pthread_mutex_t lock;
	zspool_handle_t h;	/* protected by lock */
	size_t size;		/* protected by lock */
	uint64_t key;		/* protected by lock */
};

static struct slot slots[NSLOTS];
static struct zspool *pool;
static bool stop;		/* relaxed: a flag, no data hangs on it */
static unsigned long errors;	/* relaxed */
static uint64_t seed;

struct counts {
	unsigned long alloc, read, map, write, free, batch, nowait_fail;
};

static void fail(const char *what, unsigned idx)
{
	if (__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED) < 10)
		tap_diag("slot %u: %s", idx, what);
}

static void *worker(void *arg)
{
	struct counts *c = arg;
	uint64_t rng = seed ^ ((uintptr_t)arg * 0x9e3779b97f4a7c15ull);
	unsigned char buf[ZSPOOL_MAX_OBJ], bounce[ZSPOOL_MAX_OBJ];
	zspool_handle_t batch[32];
	unsigned nbatch = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t r = tap_rand(&rng);
		unsigned i = r % NSLOTS, op = (r >> 20) % 100;
		struct slot *s = &slots[i];

		pthread_mutex_lock(&s->lock);
		if (!s->h) {
			unsigned flags = op < 10 ? ZSPOOL_NOWAIT : 0;
			int err;

			s->size = zt_size(&rng);
			s->key = tap_rand(&rng);
			err = zspool_alloc(pool, s->size, flags, &s->h);
			if (err == -ENOMEM && flags) {
				c->nowait_fail++;
			} else if (err) {
				fail("alloc failed", i);
			} else {
				zt_fill(buf, s->size, s->key);
				zspool_write(pool, s->h, buf, s->size);
				c->alloc++;
			}
		} else if (op < 40) {
			zspool_read(pool, s->h, buf, s->size);
			if (!zt_verify(buf, s->size, s->key))
				fail("read: wrong contents", i);
			c->read++;
		} else if (op < 60) {
			const void *p = zspool_map(pool, s->h, bounce);

			if (!zt_verify(p, s->size, s->key))
				fail("map: wrong contents", i);
			zspool_unmap(pool, s->h);
			c->map++;
		} else if (op < 70) {
			s->key = tap_rand(&rng);
			zt_fill(buf, s->size, s->key);
			zspool_write(pool, s->h, buf, s->size);
			c->write++;
		} else {
			zspool_read(pool, s->h, buf, s->size);
			if (!zt_verify(buf, s->size, s->key))
				fail("free: wrong contents", i);
			if (zspool_obj_size(pool, s->h) != s->size)
				fail("wrong size", i);
			/* detach under the slot lock, free later or now */
			if (op < 85) {
				batch[nbatch++] = s->h;
				c->batch++;
			} else {
				zspool_free(pool, s->h);
				c->free++;
			}
			s->h = 0;
		}
		pthread_mutex_unlock(&s->lock);
		if (nbatch == sizeof(batch) / sizeof(batch[0])) {
			zspool_free_batch(pool, batch, nbatch);
			nbatch = 0;
		}
	}
	zspool_free_batch(pool, batch, nbatch);
	return NULL;
}

static void *compactor(void *arg)
{
	uint64_t *freed = arg;
	unsigned long n = 0;

	struct timespec pause = { 0, 200000 };

	/*
	 * A short pause between rounds, so that debug builds (where each
	 * compaction also runs zspool_check() under every class lock) leave
	 * the workers time to run.
	 */
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		*freed += zspool_compact(pool);
		if (++n % 8 == 0)
			zspool_trim(pool);
		if (n % 16 == 0)
			zspool_refill(pool);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int main(void)
{
	const char *env = getenv("ZSPOOL_STRESS_MS");
	long ms = env ? strtol(env, NULL, 0) : 3000;
	struct zspool_config cfg = { .reserve_pages = 256 };
	struct counts c[NWORKERS] = { { 0 } };
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	pthread_t w[NWORKERS], ct;
	unsigned char buf[ZSPOOL_MAX_OBJ];
	struct counts sum = { 0 };
	struct zspool_stats st;
	uint64_t freed = 0;
	int ok = 1;

	seed = tap_seed();
	if (!tap_ok(zspool_create(&cfg, &pool) == 0, "create"))
		return tap_done();
	zspool_refill(pool);
	for (unsigned i = 0; i < NSLOTS; i++)
		pthread_mutex_init(&slots[i].lock, NULL);
	for (unsigned i = 0; i < NWORKERS; i++)
		ok &= TAP_CHECK(pthread_create(&w[i], NULL, worker, &c[i]) == 0);
	ok &= TAP_CHECK(pthread_create(&ct, NULL, compactor, &freed) == 0);
	if (!tap_ok(ok, "%d workers and a compactor started", NWORKERS))
		return tap_done();
	nanosleep(&ts, NULL);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < NWORKERS; i++) {
		pthread_join(w[i], NULL);
		sum.alloc += c[i].alloc;
		sum.read += c[i].read;
		sum.map += c[i].map;
		sum.write += c[i].write;
		sum.free += c[i].free;
		sum.batch += c[i].batch;
		sum.nowait_fail += c[i].nowait_fail;
	}
	pthread_join(ct, NULL);
	tap_diag("%lu allocs (%lu NOWAIT refused), %lu reads, %lu maps, %lu writes, "
		 "%lu frees, %lu batched frees; compaction freed %" PRIu64 " pages",
		 sum.alloc, sum.nowait_fail, sum.read, sum.map, sum.write, sum.free,
		 sum.batch, freed);
	tap_ok(errors == 0, "no wrong contents or failed operations (%lu)", errors);
	tap_ok(sum.alloc > 2000 && sum.read + sum.map > 2000 &&
	       sum.free + sum.batch > 2000 && sum.write > 200,
	       "every operation ran many times");
	tap_ok(freed > 0, "compaction moved objects and freed pages concurrently");
	tap_ok(zspool_check(pool) == 0, "check after the run");

	ok = 1;
	for (unsigned i = 0; i < NSLOTS; i++) {
		if (!slots[i].h)
			continue;
		zspool_read(pool, slots[i].h, buf, slots[i].size);
		ok &= TAP_CHECK(zt_verify(buf, slots[i].size, slots[i].key));
		zspool_free(pool, slots[i].h);
	}
	tap_ok(ok, "surviving objects intact");
	zspool_compact(pool);
	zspool_stats(pool, &st);
	tap_ok(st.pages_used == 0 && st.objs_allocated == 0 && st.bytes_allocated == 0,
	       "empty at the end");
	zspool_destroy(pool);
	return tap_done();
}
