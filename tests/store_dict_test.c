// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_dict_test: zstd dictionaries in the store, against a model.
 *
 * Pages written before a dictionary, with it, with a second one, after a
 * trained one and after none again all read back intact, whole and in
 * part; pages written with a dictionary take less memory; a bad dict=
 * (relative, missing, a directory, a device, empty, too large, for lz4)
 * is refused with its errno and changes nothing; the table fills up
 * (EBUSY) while pages use seven dictionaries and empties once no page
 * does (the report's dictionary count and memory drop to 0).  Training
 * reports a gain and installs for the recompression codec when the
 * primary is lz4, and recompression then uses it.  Pages written back to
 * a backing file keep their dictionary.  Last, a writer thread rewrites
 * and checks pages while the main thread installs dictionaries, trains
 * and changes levels, as workers meet new parameters at their next
 * request.  Seed printed; ZRAMFUSE_SEED repeats.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "pp.h"
#include "store_test.h"

#define PAGE STORE_PAGE_SIZE
#define NPAGES 512
#define BYTES ((size_t)NPAGES * PAGE)

static unsigned char model[BYTES], buf[BYTES];
static char dir[64];

/* Page kinds: mostly text (st_fill kind 2), some binary, same, random. */
static int kind_of(size_t i)
{
	static const int kinds[] = { 2, 2, 3, 2, 1, 2, 4, 2, 2, 0 };

	return kinds[i % 10];
}

static void fill(size_t i, uint64_t *rng)
{
	st_fill(model + i * PAGE, PAGE, kind_of(i), rng);
}

static int matches(struct store_file *f)
{
	memset(buf, 0xee, BYTES);
	if (store_read(f, buf, BYTES, 0) != (ssize_t)BYTES)
		return 0;
	for (size_t i = 0; i < NPAGES; i++) {
		if (memcmp(buf + i * PAGE, model + i * PAGE, PAGE)) {
			tap_diag("page %zu differs", i);
			return 0;
		}
	}
	return 1;
}

/* A file of @len bytes of text like the pages': a raw-content dictionary. */
static const char *dict_file(const char *name, size_t len, uint64_t *rng)
{
	static char path[4][128];
	static unsigned next;
	char *p = path[next++ % 4];
	unsigned char *b = malloc(len ? len : 1);
	int fd;

	snprintf(p, 128, "%s/%s", dir, name);
	st_fill(b, len, 2, rng);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, b, len) != (ssize_t)len)
		tap_diag("%s: cannot write", p);
	if (fd >= 0)
		close(fd);
	free(b);
	return p;
}

static struct store_dict_stats dstats(struct store *st)
{
	struct store_dict_stats d;

	store_dict_stats(st, &d);
	return d;
}

static uint64_t compr(struct store *st)
{
	struct store_stats s;

	store_stats(st, &s);
	return s.compr_data_size;
}

/* Write pages [lo, hi) of the model again (whole pages). */
static int rewrite(struct store_file *f, size_t lo, size_t hi)
{
	return store_write(f, model + lo * PAGE, (hi - lo) * PAGE,
			   (uint64_t)lo * PAGE) == (ssize_t)((hi - lo) * PAGE);
}

static void test_params(uint64_t seed)
{
	struct store *st = st_create("zstd", 0, true), *lz;
	struct store_file *f;
	struct store_dict_stats d;
	uint64_t rng = seed, c0, c1, c2;
	const char *good, *big;
	char path[160];
	int fd;

	if (!tap_ok(st && store_file_create(st, &f) == 0, "zstd store"))
		return;
	for (size_t i = 0; i < NPAGES; i++)
		fill(i, &rng);
	tap_ok(rewrite(f, 0, NPAGES), "write %d pages without a dictionary", NPAGES);
	c0 = compr(st);
	d = dstats(st);
	tap_ok(d.dicts == 0 && d.mem == 0 && d.samples == 0, "no dictionary yet");

	/* refusals: nothing changes */
	good = dict_file("good", 32768, &rng);
	big = dict_file("big", STORE_DICT_MAX + 1, &rng);
	dict_file("empty", 0, &rng);
	snprintf(path, sizeof(path), "%s/empty", dir);
	tap_ok(store_set_params(st, 0, NULL, 0, "relative/dict") == -EINVAL &&
	       store_set_params(st, 0, NULL, 0, "/nonexistent/dict") == -ENOENT &&
	       store_set_params(st, 0, NULL, 0, dir) == -EISDIR &&
	       store_set_params(st, 0, NULL, 0, "/dev/null") == -EINVAL &&
	       store_set_params(st, 0, NULL, 0, path) == -EINVAL &&
	       store_set_params(st, 0, NULL, 0, big) == -EFBIG &&
	       store_set_params(st, 0, "lz4", 0, good) == -EINVAL &&
	       store_set_params(st, 0, NULL, 99, good) == -EINVAL,
	       "bad dict=: relative EINVAL, missing ENOENT, directory EISDIR, device and empty EINVAL, too large EFBIG, another codec's name or a bad level EINVAL");
	/* a ZDICT header that does not parse */
	snprintf(path, sizeof(path), "%s/bad", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	tap_ok(fd >= 0 && write(fd, "\x37\xa4\x30\xec" "garbagegarbagegarbage", 25) == 25,
	       "a file with zstd's dictionary magic and garbage");
	if (fd >= 0)
		close(fd);
	tap_ok(store_set_params(st, 0, NULL, 0, path) == -EINVAL,
	       "a malformed dictionary is EINVAL");
	lz = st_create("lz4", 0, true);
	tap_ok(lz && store_set_params(lz, 0, NULL, 0, good) == -EINVAL &&
	       store_set_params(lz, 0, "lz4", 0, good) == -EINVAL,
	       "lz4 takes no dictionary (EINVAL)");
	if (lz)
		store_destroy(lz);
	d = dstats(st);
	tap_ok(d.dicts == 0 && d.mem == 0 && compr(st) == c0, "the refusals changed nothing");

	/* dict=: the pages written from now on use it; the last page this
	 * thread compressed did not fit, which must not keep it from them */
	tap_ok(rewrite(f, 6, 7) && kind_of(6) == 4, "a random page written last");
	tap_ok(store_set_params(st, -1, "zstd", 0, good) == 0, "dict= a raw-content dictionary");
	d = dstats(st);
	tap_ok(d.dicts == 1 && d.mem > 32768, "one dictionary, %llu bytes",
	       (unsigned long long)d.mem);
	tap_ok(matches(f), "pages written before it read back");
	tap_ok(rewrite(f, 0, NPAGES / 2), "rewrite the first half with it");
	c1 = compr(st);
	tap_ok(c1 + 10000 < c0, "the first half takes less: %llu -> %llu bytes",
	       (unsigned long long)c0, (unsigned long long)c1);
	tap_ok(matches(f), "both halves read back");
	{
		unsigned char part[333];

		tap_ok(store_read(f, part, sizeof(part), 7 * PAGE + 3000) == (ssize_t)sizeof(part) &&
		       !memcmp(part, model + 7 * PAGE + 3000, sizeof(part)),
		       "a partial read of a page with the dictionary");
		memset(part, 'q', sizeof(part));
		memcpy(model + 3 * PAGE + 100, part, sizeof(part));
		memcpy(model + 300 * PAGE + 100, part, sizeof(part));
		tap_ok(store_write(f, part, sizeof(part), 3 * PAGE + 100) == (ssize_t)sizeof(part) &&
		       store_write(f, part, sizeof(part), 300 * PAGE + 100) == (ssize_t)sizeof(part) &&
		       matches(f), "partial writes over pages with and without it");
	}

	/* train: a second dictionary; the first stays for its pages */
	tap_ok(store_train_dict(st, 100) == -EINVAL &&
	       store_train_dict(st, STORE_DICT_MAX + 1) == -EINVAL, "train_dict sizes out of range");
	tap_ok(store_train_dict(st, 16384) == 0, "train a 16 KiB dictionary");
	d = dstats(st);
	tap_ok(d.dict_bytes > 0 && d.dict_bytes <= 16384 && d.samples > 100 &&
	       d.sample_bytes == d.samples * PAGE && d.compr_dict < d.compr_plain &&
	       d.dicts == 2, "report: %llu bytes from %llu pages, %llu -> %llu bytes, %llu dictionaries, %llu bytes",
	       (unsigned long long)d.dict_bytes, (unsigned long long)d.samples,
	       (unsigned long long)d.compr_plain, (unsigned long long)d.compr_dict,
	       (unsigned long long)d.dicts, (unsigned long long)d.mem);
	tap_ok(rewrite(f, NPAGES / 2, NPAGES) && matches(f),
	       "the second half rewritten with the trained one: all three kinds read back");
	c2 = compr(st);
	tap_ok(c2 < c1, "it takes less again: %llu -> %llu", (unsigned long long)c1,
	       (unsigned long long)c2);

	/* none again (a level alone, as zram sets parameters as a whole) */
	tap_ok(store_set_params(st, 0, NULL, 5, NULL) == 0 && rewrite(f, 0, 10) && matches(f),
	       "level=5 without dict=: no dictionary for new pages, all read back");
	tap_ok(dstats(st).dicts == 2, "both dictionaries still used by pages");
	tap_ok(rewrite(f, 0, NPAGES / 2) && dstats(st).dicts == 1,
	       "the first one goes with its last page");
	tap_ok(rewrite(f, NPAGES / 2, NPAGES), "rewrite the rest");
	d = dstats(st);
	tap_ok(d.dicts == 0 && d.mem == 0 && matches(f),
	       "no page uses one: none left, no memory (%llu)", (unsigned long long)d.mem);

	/* the table: seven dictionaries used by pages, an eighth is EBUSY */
	for (int k = 0; k < 7; k++) {
		if (!TAP_CHECK(store_set_params(st, 0, NULL, 0, good) == 0) ||
		    !TAP_CHECK(rewrite(f, (size_t)k * 10, (size_t)k * 10 + 10)))
			break;
	}
	tap_ok(dstats(st).dicts == 7 && store_set_params(st, 0, NULL, 0, good) == -EBUSY &&
	       store_train_dict(st, 16384) == -EBUSY, "seven in use: the eighth is EBUSY");
	tap_ok(matches(f), "pages of seven dictionaries read back");
	tap_ok(rewrite(f, 0, 10) && store_set_params(st, 0, NULL, 0, good) == 0,
	       "once the first has no page left, an install finds room");
	tap_ok(store_set_params(st, 0, NULL, 0, NULL) == 0 && rewrite(f, 0, NPAGES) &&
	       dstats(st).dicts == 0 && matches(f), "all rewritten without: the table empties");

	store_file_destroy(f);
	tap_ok(st_empty(st), "destroy: nothing stored");
	store_destroy(st);
}

/* lz4 primary, zstd recompression: the dictionary goes to recompression. */
static uint64_t recompressed(bool with_dict, uint64_t seed, uint64_t *done)
{
	struct store_config cfg = { .comp = "lz4", .recomp = "zstd" };
	struct pp_recompress r = { .prio = 1, .prio_max = PP_MAX_COMPS };
	struct store *st = NULL;
	struct store_file *f;
	uint64_t rng = seed, c = 0;

	*done = 0;
	if (store_create(&cfg, &st) < 0 || store_file_create(st, &f) < 0)
		return 0;
	for (size_t i = 0; i < NPAGES; i++)
		fill(i, &rng);
	if (!rewrite(f, 0, NPAGES))
		goto out;
	if (with_dict) {
		struct store_dict_stats d;

		if (!TAP_CHECK(store_train_dict(st, 16384) == 0))
			goto out;
		d = dstats(st);
		tap_ok(d.dicts == 1 && d.compr_dict < d.compr_plain,
		       "lz4 + zstd: trained for zstd (%llu -> %llu on the sample)",
		       (unsigned long long)d.compr_plain, (unsigned long long)d.compr_dict);
		tap_ok(matches(f), "lz4 pages unchanged");
	}
	if (!TAP_CHECK(store_recompress(st, &r, done) == 0))
		goto out;
	c = compr(st);
	tap_ok(matches(f), "lz4 + zstd%s: every page reads back after recompression (%llu done)",
	       with_dict ? " with the dictionary" : "", (unsigned long long)*done);
	/* parameters without dict= drop the codec's dictionary, not its pages' */
	if (with_dict) {
		tap_ok(store_set_params(st, 1, NULL, 0, NULL) == 0 && matches(f) &&
		       dstats(st).dicts == 1, "pages recompressed with it keep it");
	}
out:
	store_file_destroy(f);
	store_destroy(st);
	return c;
}

static void test_recompress(uint64_t seed)
{
	uint64_t d0, d1;
	uint64_t c0 = recompressed(false, seed, &d0);
	uint64_t c1 = recompressed(true, seed, &d1);

	tap_ok(c0 && c1 && c1 < c0 && d1 >= d0,
	       "recompression with the dictionary keeps less: %llu < %llu bytes (%llu / %llu pages)",
	       (unsigned long long)c1, (unsigned long long)c0, (unsigned long long)d1,
	       (unsigned long long)d0);
}

/* Pages written back keep their dictionary. */
static void test_writeback(uint64_t seed)
{
	char bd[160];
	struct store_config cfg = { .comp = "zstd", .backing_dev = bd };
	struct pp_scan scan = { .all_files = 1 };
	struct store *st = NULL;
	struct store_file *f;
	uint64_t rng = seed ^ 5, done = 0;
	struct store_stats s;
	int fd, ret;

	snprintf(bd, sizeof(bd), "%s/bd", dir);
	fd = open(bd, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)BYTES) < 0) {
		tap_ok(0, "backing file");
		return;
	}
	close(fd);
	if (store_create(&cfg, &st) < 0) {
		tap_diag("no backing file with direct I/O here: writeback part skipped");
		return;
	}
	store_file_create(st, &f);
	for (size_t i = 0; i < NPAGES; i++)
		fill(i, &rng);
	tap_ok(rewrite(f, 0, NPAGES / 2) && store_train_dict(st, 16384) == 0 &&
	       rewrite(f, NPAGES / 2, NPAGES), "half the pages with a trained dictionary");
	ret = store_writeback(st, f, &scan, 1, 0, &done);
	tap_ok(ret == 0 && done > NPAGES / 2, "wrote back %llu pages", (unsigned long long)done);
	store_stats(st, &s);
	tap_ok(s.bd_count == done && matches(f) && dstats(st).dicts == 1,
	       "they read back from the file, with and without the dictionary");
	store_file_destroy(f);
	store_backing_sync(st);
	store_destroy(st);
	unlink(bd);
}

/* A writer meeting new parameters at its next request, while they change. */
struct mt {
	struct store *st;
	struct store_file *f;
	atomic_bool stop;
	uint64_t seed;
	unsigned long rounds, bad;
};

static void *mt_writer(void *arg)
{
	struct mt *m = arg;
	uint64_t rng = m->seed;
	unsigned char out[PAGE];

	while (!atomic_load(&m->stop) || m->rounds < 200) {
		size_t i = tap_rand(&rng) % NPAGES;

		fill(i, &rng);
		if (store_write(m->f, model + i * PAGE, PAGE, (uint64_t)i * PAGE) != PAGE ||
		    store_read(m->f, out, PAGE, (uint64_t)i * PAGE) != PAGE ||
		    memcmp(out, model + i * PAGE, PAGE))
			m->bad++;
		i = tap_rand(&rng) % NPAGES;
		if (store_read(m->f, out, PAGE, (uint64_t)i * PAGE) != PAGE ||
		    memcmp(out, model + i * PAGE, PAGE))
			m->bad++;
		m->rounds++;
	}
	return NULL;
}

static void test_concurrent(uint64_t seed)
{
	struct mt m = { .seed = seed ^ 0x77 };
	uint64_t rng = seed ^ 0x99;
	const char *dict = dict_file("mt", 16384, &rng);
	pthread_t tid;
	int errs = 0;

	m.st = st_create("zstd", 0, true);
	if (!m.st || store_file_create(m.st, &m.f) < 0) {
		tap_ok(0, "store for the threads");
		return;
	}
	for (size_t i = 0; i < NPAGES; i++)
		fill(i, &rng);
	rewrite(m.f, 0, NPAGES);
	pthread_create(&tid, NULL, mt_writer, &m);
	for (int k = 0; k < 24; k++) {
		int ret;

		switch (k % 4) {
		case 0:
			ret = store_train_dict(m.st, 8192);
			break;
		case 1:
			ret = store_set_params(m.st, 0, NULL, 1 + k % 5, dict);
			break;
		case 2:
			ret = store_set_params(m.st, 0, NULL, -1 - k % 3, NULL);
			break;
		default:
			ret = store_set_params(m.st, -1, "zstd", 0, dict);
			break;
		}
		/* a full table is fine here: the writer has not caught up */
		if (ret < 0 && ret != -EBUSY && errs++ < 3)
			tap_diag("install %d: %s", k, strerror(-ret));
	}
	atomic_store(&m.stop, true);
	pthread_join(tid, NULL);
	tap_ok(errs == 0 && m.bad == 0,
	       "a writer through 24 installs: %lu rounds, %lu bad, %d errors",
	       m.rounds, m.bad, errs);
	tap_ok(matches(m.f), "every page reads back after");
	tap_ok(store_set_params(m.st, 0, NULL, 0, NULL) == 0 && rewrite(m.f, 0, NPAGES) &&
	       dstats(m.st).dicts == 0 && matches(m.f),
	       "rewritten without: every dictionary freed");
	store_file_destroy(m.f);
	store_destroy(m.st);
}

int main(void)
{
	uint64_t seed = tap_seed();
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/store_dict_test.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp %s", dir);
		return tap_done();
	}
	if (!strstr(codec_names(), "zstd")) {
		tap_diag("built without zstd: nothing to test");
		rmdir(dir);
		return tap_done();
	}
	test_params(seed);
	test_recompress(seed);
	test_writeback(seed);
	test_concurrent(seed);
	{
		static const char *const names[] = { "good", "big", "empty", "bad", "mt" };

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char p[160];

			snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
			unlink(p);
		}
	}
	rmdir(dir);
	return tap_done();
}
