// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * store_wb_test: the backing file as the .zram control files drive it.
 *
 * backing_dev read while another thread replaces it, over and over: every
 * read is one of the two paths.  A replacement frees the old path, and a
 * reader once got a pointer to it; the plain build sees the freed bytes
 * only now and then, the sanitizer build (CI) every time the race hits.
 *
 * The backing files live in $TMPDIR (else /tmp), which needs direct I/O;
 * without it the test says so and skips.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_test.h"

#define BD_BYTES (1u << 20)
#define REPLACEMENTS 2000

static char dir[64], bd_a[96], bd_b[96];

struct replacer {
	struct store *st;
	unsigned done, failed;
	atomic_bool stop;		/* relaxed: only ends the reader's loop */
};

static void *replace_loop(void *arg)
{
	struct replacer *r = arg;

	for (unsigned i = 0; i < REPLACEMENTS; i++) {
		if (store_set_backing_dev(r->st, i & 1 ? bd_a : bd_b, 0, NULL, 0) < 0)
			r->failed++;
		else
			r->done++;
	}
	atomic_store_explicit(&r->stop, true, memory_order_relaxed);
	return NULL;
}

static bool make_bd(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	bool ok = fd >= 0 && ftruncate(fd, BD_BYTES) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void test_replace_while_read(void)
{
	struct store_config cfg = { .backing_dev = bd_a };
	struct replacer r = { 0 };
	unsigned long reads = 0, bad = 0;
	char path[sizeof(bd_a)];
	pthread_t th;

	if (!make_bd(bd_a) || !make_bd(bd_b)) {
		tap_ok(0, "backing files in %s", dir);
		return;
	}
	if (store_create(&cfg, &r.st) < 0) {
		tap_diag("no direct I/O in %s: skipped", dir);
		return;
	}
	tap_ok(store_has_backing_dev(r.st) &&
	       store_backing_dev(r.st, path, sizeof(path)) && !strcmp(path, bd_a),
	       "backing_dev from the configuration");
	if (pthread_create(&th, NULL, replace_loop, &r)) {
		tap_ok(0, "pthread_create");
		store_destroy(r.st);
		return;
	}
	while (!atomic_load_explicit(&r.stop, memory_order_relaxed)) {
		if (!store_backing_dev(r.st, path, sizeof(path)) ||
		    (strcmp(path, bd_a) && strcmp(path, bd_b))) {
			if (!bad++)
				tap_diag("read '%.95s'", path);
		}
		reads++;
	}
	pthread_join(th, NULL);
	tap_ok(r.done == REPLACEMENTS && !r.failed,
	       "%u replacements, %u failed", r.done, r.failed);
	tap_ok(!bad, "%lu reads during them, %lu not one of the two paths", reads, bad);
	tap_ok(store_backing_dev(r.st, path, 8) && strlen(path) == 7 &&
	       !strncmp(path, bd_a, 7), "a short buffer gets the path cut short");
	store_destroy(r.st);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/store_wb_test.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp %s", dir);
		return tap_done();
	}
	snprintf(bd_a, sizeof(bd_a), "%s/backing-file-a", dir);
	snprintf(bd_b, sizeof(bd_b), "%s/backing-file-b", dir);
	test_replace_while_read();
	unlink(bd_a);
	unlink(bd_b);
	rmdir(dir);
	return tap_done();
}
