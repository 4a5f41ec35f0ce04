// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * backing_test: what backing_open() takes and what it refuses, and that a
 * refused file is not even opened.
 *
 * A relative path, a symlink, a directory and a FIFO are refused with
 * their errno and a sentence naming the file; the FIFO is watched with
 * inotify, which reports every open(2) of it but not an O_PATH look: no
 * IN_OPEN may come (the old code opened first and looked after, which is
 * how closing /dev/watchdog armed it).  An empty file is extended,
 * sparse, to the size needed, or refused with the size to give it when
 * no size is known.  A file held by one opener is refused to a second,
 * in this process and in another, the sentence naming the holder's pid.
 * The store takes the current file again without a change, and refuses
 * a symlink to it.
 *
 * The files live in $TMPDIR (else /tmp), which needs direct I/O; without
 * it the cases that open a file for real say so and are skipped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backing.h"
#include "store.h"
#include "tap.h"

static char dir[64], why[600];

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static int make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && ftruncate(fd, size) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* backing_open() refuses @path with @err, and the sentence has @word. */
static void refused(const char *what, const char *path, int err, const char *word)
{
	struct backing *bf = NULL;
	int ret = backing_open(path, 1 << 20, &bf, why, sizeof(why));

	tap_ok(ret == -err && !bf && strstr(why, path) && strstr(why, word),
	       "%s refused: %s (%s)", what, strerror(-ret), why);
	if (ret == 0)
		backing_close(bf);
}

static void test_refused(void)
{
	char link[96], fifo[96], target[96];
	struct pollfd pfd;
	int in, wd;

	refused("a relative path", "backing-file", EINVAL, "absolute");
	path_of(target, sizeof(target), "target");
	path_of(link, sizeof(link), "link");
	if (!make_file(target, 1 << 20) || symlink(target, link) < 0) {
		tap_ok(0, "files in %s", dir);
		return;
	}
	refused("a symlink", link, ELOOP, "symbolic link");
	refused("a directory", dir, EISDIR, "directory");
	path_of(fifo, sizeof(fifo), "fifo");
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (mkfifo(fifo, 0600) < 0 || in < 0 ||
	    (wd = inotify_add_watch(in, fifo, IN_OPEN)) < 0) {
		tap_ok(0, "a FIFO watched by inotify");
	} else {
		refused("a FIFO", fifo, ENOTBLK, "not a regular file or a block device");
		pfd = (struct pollfd){ .fd = in, .events = POLLIN };
		tap_ok(poll(&pfd, 1, 100) == 0, "the FIFO was not opened (no IN_OPEN)");
	}
	if (in >= 0)
		close(in);
	refused("a missing file", "/nonexistent/backing", ENOENT, "No such file");
	unlink(fifo);
	unlink(link);
	unlink(target);
}

/* Open @path for real; false (said once) without direct I/O there. */
static bool open_ok(const char *path, uint64_t need, struct backing **bf)
{
	static bool said;
	int ret = backing_open(path, need, bf, why, sizeof(why));

	if (ret == 0)
		return true;
	if (!said)
		tap_diag("%s: %s: the cases that open a file are skipped", path, why);
	said = true;
	return false;
}

static void test_size(void)
{
	char path[96];
	struct backing *bf;
	struct stat sb;
	int ret;

	path_of(path, sizeof(path), "empty");
	if (!make_file(path, 0)) {
		tap_ok(0, "an empty file");
		return;
	}
	ret = backing_open(path, 0, &bf, why, sizeof(why));
	tap_ok(ret == -EINVAL && strstr(why, "truncate -s"),
	       "an empty file with no size known: refused, saying what to do (%s)", why);
	if (ret == 0)
		backing_close(bf);
	if (!open_ok(path, (16 << 20) - 100, &bf))
		goto out;
	if (stat(path, &sb) < 0)
		memset(&sb, 0, sizeof(sb));
	tap_ok(sb.st_size == 16 << 20 && sb.st_blocks == 0 && backing_capacity(bf) == 4096,
	       "an empty file is extended to the size needed, rounded to 4 KiB, sparse (%lld bytes, %lld blocks)",
	       (long long)sb.st_size, (long long)sb.st_blocks);
	backing_close(bf);
	if (!open_ok(path, 4 << 20, &bf))
		goto out;
	tap_ok(stat(path, &sb) == 0 && sb.st_size == 16 << 20 && backing_capacity(bf) == 4096,
	       "a larger file keeps its size");
	backing_close(bf);
out:
	unlink(path);
}

static void test_holder(void)
{
	char path[96], want[64], msg[600] = "";
	struct backing *bf, *bf2 = NULL;
	int p[2], ret, status;
	pid_t child;
	ssize_t n;

	path_of(path, sizeof(path), "held");
	if (!make_file(path, 1 << 20) || !open_ok(path, 0, &bf))
		goto out;
	ret = backing_open(path, 0, &bf2, why, sizeof(why));
	snprintf(want, sizeof(want), "(pid %ld)", (long)getpid());
	tap_ok(ret == -EBUSY && strstr(why, "already the backing file of this daemon") &&
	       strstr(why, want), "a second opener in this process is refused (%s)", why);
	if (ret == 0)
		backing_close(bf2);
	if (pipe(p) < 0 || (child = fork()) < 0) {
		tap_ok(0, "pipe, fork");
		backing_close(bf);
		goto out;
	}
	if (child == 0) {
		close(p[0]);
		ret = backing_open(path, 0, &bf2, why, sizeof(why));
		if (write(p[1], why, strlen(why)) < 0)
			_exit(2);
		_exit(ret == -EBUSY ? 0 : 1);
	}
	close(p[1]);
	n = read(p[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(child, &status, 0);
	snprintf(want, sizeof(want), "process %ld (", (long)getpid());
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(msg, want),
	       "a second opener in another process is refused, naming the holder (%s)", msg);
	backing_close(bf);
	ret = backing_open(path, 0, &bf, why, sizeof(why));
	tap_ok(ret == 0, "once closed, it can be opened again");
	if (ret == 0)
		backing_close(bf);
out:
	unlink(path);
}

/* The store: the current file named again changes nothing; a link to it is refused. */
static void test_store(void)
{
	char path[96], link[96];
	struct store_config cfg = { .backing_dev = path };
	struct store *st = NULL;
	char got[96];
	int ret;

	path_of(path, sizeof(path), "store-bd");
	path_of(link, sizeof(link), "store-link");
	if (!make_file(path, 1 << 20) || symlink(path, link) < 0) {
		tap_ok(0, "files");
		goto out;
	}
	if (store_create(&cfg, &st) < 0) {
		tap_diag("no direct I/O in %s: the store's case is skipped", dir);
		goto out;
	}
	tap_ok(store_set_backing_dev(st, path, 0, why, sizeof(why)) == 0 &&
	       store_backing_dev(st, got, sizeof(got)) && !strcmp(got, path),
	       "the current backing file named again: no change");
	ret = store_set_backing_dev(st, link, 0, why, sizeof(why));
	tap_ok(ret == -ELOOP && strstr(why, "symbolic link"),
	       "a symlink to it is refused (%s)", why);
	ret = store_set_backing_dev(st, "relative", 0, why, sizeof(why));
	tap_ok(ret == -EINVAL && strstr(why, "absolute"), "a relative path is refused (%s)",
	       why);
	store_destroy(st);
out:
	unlink(link);
	unlink(path);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/backing_test.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp %s", dir);
		return tap_done();
	}
	test_refused();
	test_size();
	test_holder();
	test_store();
	rmdir(dir);
	return tap_done();
}
