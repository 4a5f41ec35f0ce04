// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * backing: the backing file (or block device) that the writeback pass
 * (zram's writeback) moves pages to.
 *
 * One 4 KiB block per written-back page, whatever its compressed size:
 * direct I/O wants 4 KiB-aligned offsets and lengths, and a page's block
 * is then freed by punching exactly its hole, so the file stays sparse
 * and a discard gives its space back to the filesystem.  Packing several
 * compressed pages in a block would save disk space but not memory, and
 * would need a read-modify-write per page and a free-space map finer than
 * a block; disk is the cheap side here.
 *
 * Two bitmaps, one bit per block each (a 4 GiB file: 2 x 128 KiB):
 *   used  - the block holds a page, or is freed but its hole not punched
 *           yet (so that it cannot be reused before the punch);
 *   freed - freed, hole pending.
 * backing_block_alloc() looks for a clear bit in used under alloc_lock (only
 * the writeback pass allocates, so that lock is never contended on the
 * I/O path); backing_block_free() sets the block's bit in freed with one atomic
 * OR and, when it made the pending count go from 0 to 1, wakes the
 * thread: no allocation, no wait, safe under memory pressure.  The thread
 * takes whole words of freed with an atomic exchange, punches each run of
 * adjacent blocks with one fallocate(PUNCH_HOLE), then clears their bits
 * in used.
 *
 * Direct I/O: the page cache must not hold what was moved out of memory
 * to save memory, and a buffered write could wait for dirty-page
 * writeback while memory is short.  The caller's buffers are allocated
 * ahead (the store's per-thread bounce page), so a read-back allocates
 * nothing in user space.
 *
 * Lock order: lock and alloc_lock are leaves, never held together nor
 * with a slot lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing.h"
#include "thread.h"

#define BACKING_WORD_BITS 64u

struct backing {
	int fd;
	char *path;
	uint64_t blocks;
	uint64_t words;
	_Atomic uint64_t *used;		/* set under alloc_lock, cleared by the thread */
	_Atomic uint64_t *freed;	/* set by backing_block_free, taken by the thread */

	pthread_mutex_t alloc_lock;
	uint64_t hint;			/* protected by alloc_lock: next word to look at */

	pthread_mutex_t lock;
	pthread_cond_t work_cv;		/* the thread waits for pending or stop */
	pthread_cond_t done_cv;		/* backing_sync waits for pending == 0 */
	_Atomic uint64_t pending;	/* freed blocks whose hole is not punched */
	bool stop;			/* protected by lock */
	pthread_t thread;
};

const char *backing_path(const struct backing *bf)
{
	return bf->path;
}

uint64_t backing_capacity(const struct backing *bf)
{
	return bf->blocks;
}

int backing_block_alloc(struct backing *bf, uint64_t *blk)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&bf->alloc_lock);
	for (uint64_t n = 0; n < bf->words; n++) {
		uint64_t w = (bf->hint + n) % bf->words;
		uint64_t v = atomic_load_explicit(&bf->used[w], memory_order_relaxed);
		uint64_t b;

		if (v == UINT64_MAX)
			continue;
		b = w * BACKING_WORD_BITS + (uint64_t)__builtin_ctzll(~v);
		if (b >= bf->blocks)
			continue;	/* the last word's bits past the end */
		atomic_fetch_or_explicit(&bf->used[w], 1ull << (b % BACKING_WORD_BITS),
					 memory_order_relaxed);
		bf->hint = w;
		*blk = b;
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&bf->alloc_lock);
	return ret;
}

void backing_block_free(struct backing *bf, uint64_t blk)
{
	if (blk >= bf->blocks)
		return;
	atomic_fetch_or_explicit(&bf->freed[blk / BACKING_WORD_BITS],
				 1ull << (blk % BACKING_WORD_BITS), memory_order_release);
	if (atomic_fetch_add_explicit(&bf->pending, 1, memory_order_acq_rel) == 0) {
		pthread_mutex_lock(&bf->lock);
		pthread_cond_signal(&bf->work_cv);
		pthread_mutex_unlock(&bf->lock);
	}
}

static int backing_io(struct backing *bf, uint64_t blk, void *buf, bool write)
{
	off_t off = (off_t)(blk * BACKING_BLOCK_SIZE);
	ssize_t n;

	if (blk >= bf->blocks)
		return -EINVAL;
	do {
		n = write ? pwrite(bf->fd, buf, BACKING_BLOCK_SIZE, off)
			  : pread(bf->fd, buf, BACKING_BLOCK_SIZE, off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == BACKING_BLOCK_SIZE ? 0 : -EIO;
}

int backing_write(struct backing *bf, uint64_t blk, const void *buf)
{
	return backing_io(bf, blk, (void *)buf, true);
}

int backing_read(struct backing *bf, uint64_t blk, void *buf)
{
	return backing_io(bf, blk, buf, false);
}

/* Punch the hole of blocks [first, first + n) and make them free. */
static void backing_punch_run(struct backing *bf, uint64_t first, uint64_t n)
{
	/*
	 * A failure (a filesystem without hole punching) leaves the old bytes
	 * on disk; the block is free all the same, so the file just does not
	 * shrink.
	 */
	(void)fallocate(bf->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(first * BACKING_BLOCK_SIZE), (off_t)(n * BACKING_BLOCK_SIZE));
	for (uint64_t b = first; b < first + n; b++)
		atomic_fetch_and_explicit(&bf->used[b / BACKING_WORD_BITS],
					  ~(1ull << (b % BACKING_WORD_BITS)),
					  memory_order_release);
}

/* One pass over freed; returns the blocks handled. */
static uint64_t backing_punch_pass(struct backing *bf)
{
	uint64_t run_first = 0, run_n = 0, done = 0;

	for (uint64_t w = 0; w < bf->words; w++) {
		uint64_t v;

		if (!atomic_load_explicit(&bf->freed[w], memory_order_relaxed))
			continue;
		v = atomic_exchange_explicit(&bf->freed[w], 0, memory_order_acq_rel);
		while (v) {
			uint64_t b = w * BACKING_WORD_BITS + (uint64_t)__builtin_ctzll(v);

			v &= v - 1;
			done++;
			if (run_n && b == run_first + run_n) {
				run_n++;
				continue;
			}
			if (run_n)
				backing_punch_run(bf, run_first, run_n);
			run_first = b;
			run_n = 1;
		}
	}
	if (run_n)
		backing_punch_run(bf, run_first, run_n);
	return done;
}

static void *backing_thread(void *arg)
{
	struct backing *bf = arg;

	for (;;) {
		uint64_t n;
		bool stop;

		pthread_mutex_lock(&bf->lock);
		while (!bf->stop &&
		       !atomic_load_explicit(&bf->pending, memory_order_acquire))
			pthread_cond_wait(&bf->work_cv, &bf->lock);
		stop = bf->stop;
		pthread_mutex_unlock(&bf->lock);

		n = backing_punch_pass(bf);
		if (n) {
			pthread_mutex_lock(&bf->lock);
			atomic_fetch_sub_explicit(&bf->pending, n, memory_order_acq_rel);
			pthread_cond_broadcast(&bf->done_cv);
			pthread_mutex_unlock(&bf->lock);
		}
		if (stop && !atomic_load_explicit(&bf->pending, memory_order_acquire))
			break;
	}
	return NULL;
}

void backing_sync(struct backing *bf)
{
	pthread_mutex_lock(&bf->lock);
	while (atomic_load_explicit(&bf->pending, memory_order_acquire))
		pthread_cond_wait(&bf->done_cv, &bf->lock);
	pthread_mutex_unlock(&bf->lock);
}

int backing_open(const char *path, struct backing **out)
{
	struct backing *bf;
	struct stat sb;
	uint64_t bytes;
	int fd, ret;

	/* the type first: O_DIRECT on a character device fails with EINVAL */
	fd = open(path, O_RDWR | O_CLOEXEC | O_LARGEFILE);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		goto err_fd;
	}
	if (S_ISBLK(sb.st_mode)) {
		/* as zram does, keep it to ourselves */
		int excl = open(path, O_RDWR | O_DIRECT | O_CLOEXEC | O_EXCL);

		if (excl < 0) {
			ret = -errno;
			goto err_fd;
		}
		close(fd);
		fd = excl;
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
			ret = -errno;
			goto err_fd;
		}
	} else if (S_ISREG(sb.st_mode)) {
		int fl = fcntl(fd, F_GETFL);

		/* EINVAL where the filesystem has no direct I/O */
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) < 0) {
			ret = -errno;
			goto err_fd;
		}
		bytes = (uint64_t)sb.st_size;
	} else {
		ret = -ENOTBLK;
		goto err_fd;
	}
	if (bytes < BACKING_BLOCK_SIZE) {
		ret = -EINVAL;
		goto err_fd;
	}
	bf = calloc(1, sizeof(*bf));
	if (!bf) {
		ret = -ENOMEM;
		goto err_fd;
	}
	bf->fd = fd;
	bf->blocks = bytes / BACKING_BLOCK_SIZE;
	bf->words = (bf->blocks + BACKING_WORD_BITS - 1) / BACKING_WORD_BITS;
	bf->path = strdup(path);
	bf->used = calloc(bf->words, sizeof(*bf->used));
	bf->freed = calloc(bf->words, sizeof(*bf->freed));
	if (!bf->path || !bf->used || !bf->freed) {
		ret = -ENOMEM;
		goto err_free;
	}
	pthread_mutex_init(&bf->alloc_lock, NULL);
	pthread_mutex_init(&bf->lock, NULL);
	pthread_cond_init(&bf->work_cv, NULL);
	pthread_cond_init(&bf->done_cv, NULL);
	ret = thread_start(&bf->thread, "zramfuse-bfile", 0, backing_thread, bf);
	if (ret)
		goto err_sync;
	*out = bf;
	return 0;

err_sync:
	pthread_cond_destroy(&bf->done_cv);
	pthread_cond_destroy(&bf->work_cv);
	pthread_mutex_destroy(&bf->lock);
	pthread_mutex_destroy(&bf->alloc_lock);
err_free:
	free(bf->freed);
	free(bf->used);
	free(bf->path);
	free(bf);
err_fd:
	close(fd);
	return ret;
}

void backing_close(struct backing *bf)
{
	if (!bf)
		return;
	thread_stop(bf->thread, &bf->lock, &bf->work_cv, &bf->stop);
	close(bf->fd);
	pthread_cond_destroy(&bf->done_cv);
	pthread_cond_destroy(&bf->work_cv);
	pthread_mutex_destroy(&bf->lock);
	pthread_mutex_destroy(&bf->alloc_lock);
	free(bf->freed);
	free(bf->used);
	free(bf->path);
	free(bf);
}
