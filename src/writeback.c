// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * writeback: the backing file of zram's writeback.
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
 * wb_block_alloc() looks for a clear bit in used under alloc_lock (only
 * the writeback pass allocates, so that lock is never contended on the
 * I/O path); wb_block_free() sets the block's bit in freed with one atomic
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writeback.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

#define WB_WORD_BITS 64u

struct wb {
	int fd;
	bool io_flusher;
	char *path;
	uint64_t blocks;
	uint64_t words;
	_Atomic uint64_t *used;		/* set under alloc_lock, cleared by the thread */
	_Atomic uint64_t *freed;	/* set by wb_block_free, taken by the thread */

	pthread_mutex_t alloc_lock;
	uint64_t hint;			/* protected by alloc_lock: next word to look at */

	pthread_mutex_t lock;
	pthread_cond_t work_cv;		/* the thread waits for pending or stop */
	pthread_cond_t done_cv;		/* wb_sync waits for pending == 0 */
	_Atomic uint64_t pending;	/* freed blocks whose hole is not punched */
	bool stop;			/* protected by lock */
	pthread_t thread;
};

const char *wb_path(const struct wb *wb)
{
	return wb->path;
}

uint64_t wb_capacity(const struct wb *wb)
{
	return wb->blocks;
}

int wb_block_alloc(struct wb *wb, uint64_t *blk)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&wb->alloc_lock);
	for (uint64_t n = 0; n < wb->words; n++) {
		uint64_t w = (wb->hint + n) % wb->words;
		uint64_t v = atomic_load_explicit(&wb->used[w], memory_order_relaxed);
		uint64_t b;

		if (v == UINT64_MAX)
			continue;
		b = w * WB_WORD_BITS + (uint64_t)__builtin_ctzll(~v);
		if (b >= wb->blocks)
			continue;	/* the last word's bits past the end */
		atomic_fetch_or_explicit(&wb->used[w], 1ull << (b % WB_WORD_BITS),
					 memory_order_relaxed);
		wb->hint = w;
		*blk = b;
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&wb->alloc_lock);
	return ret;
}

void wb_block_free(struct wb *wb, uint64_t blk)
{
	if (blk >= wb->blocks)
		return;
	atomic_fetch_or_explicit(&wb->freed[blk / WB_WORD_BITS],
				 1ull << (blk % WB_WORD_BITS), memory_order_release);
	if (atomic_fetch_add_explicit(&wb->pending, 1, memory_order_acq_rel) == 0) {
		pthread_mutex_lock(&wb->lock);
		pthread_cond_signal(&wb->work_cv);
		pthread_mutex_unlock(&wb->lock);
	}
}

static int wb_io(struct wb *wb, uint64_t blk, void *buf, bool write)
{
	off_t off = (off_t)(blk * WB_BLOCK_SIZE);
	ssize_t n;

	if (blk >= wb->blocks)
		return -EINVAL;
	do {
		n = write ? pwrite(wb->fd, buf, WB_BLOCK_SIZE, off)
			  : pread(wb->fd, buf, WB_BLOCK_SIZE, off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == WB_BLOCK_SIZE ? 0 : -EIO;
}

int wb_write(struct wb *wb, uint64_t blk, const void *buf)
{
	return wb_io(wb, blk, (void *)buf, true);
}

int wb_read(struct wb *wb, uint64_t blk, void *buf)
{
	return wb_io(wb, blk, buf, false);
}

/* Punch the hole of blocks [first, first + n) and make them free. */
static void wb_punch_run(struct wb *wb, uint64_t first, uint64_t n)
{
	/*
	 * A failure (a filesystem without hole punching) leaves the old bytes
	 * on disk; the block is free all the same, so the file just does not
	 * shrink.
	 */
	(void)fallocate(wb->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(first * WB_BLOCK_SIZE), (off_t)(n * WB_BLOCK_SIZE));
	for (uint64_t b = first; b < first + n; b++)
		atomic_fetch_and_explicit(&wb->used[b / WB_WORD_BITS],
					  ~(1ull << (b % WB_WORD_BITS)),
					  memory_order_release);
}

/* One pass over freed; returns the blocks handled. */
static uint64_t wb_punch_pass(struct wb *wb)
{
	uint64_t run_first = 0, run_n = 0, done = 0;

	for (uint64_t w = 0; w < wb->words; w++) {
		uint64_t v;

		if (!atomic_load_explicit(&wb->freed[w], memory_order_relaxed))
			continue;
		v = atomic_exchange_explicit(&wb->freed[w], 0, memory_order_acq_rel);
		while (v) {
			uint64_t b = w * WB_WORD_BITS + (uint64_t)__builtin_ctzll(v);

			v &= v - 1;
			done++;
			if (run_n && b == run_first + run_n) {
				run_n++;
				continue;
			}
			if (run_n)
				wb_punch_run(wb, run_first, run_n);
			run_first = b;
			run_n = 1;
		}
	}
	if (run_n)
		wb_punch_run(wb, run_first, run_n);
	return done;
}

static void *wb_thread(void *arg)
{
	struct wb *wb = arg;

	if (wb->io_flusher)
		(void)prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0);
	for (;;) {
		uint64_t n;
		bool stop;

		pthread_mutex_lock(&wb->lock);
		while (!wb->stop &&
		       !atomic_load_explicit(&wb->pending, memory_order_acquire))
			pthread_cond_wait(&wb->work_cv, &wb->lock);
		stop = wb->stop;
		pthread_mutex_unlock(&wb->lock);

		n = wb_punch_pass(wb);
		if (n) {
			pthread_mutex_lock(&wb->lock);
			atomic_fetch_sub_explicit(&wb->pending, n, memory_order_acq_rel);
			pthread_cond_broadcast(&wb->done_cv);
			pthread_mutex_unlock(&wb->lock);
		}
		if (stop && !atomic_load_explicit(&wb->pending, memory_order_acquire))
			break;
	}
	return NULL;
}

void wb_sync(struct wb *wb)
{
	pthread_mutex_lock(&wb->lock);
	while (atomic_load_explicit(&wb->pending, memory_order_acquire))
		pthread_cond_wait(&wb->done_cv, &wb->lock);
	pthread_mutex_unlock(&wb->lock);
}

int wb_open(const char *path, bool io_flusher, struct wb **out)
{
	struct wb *wb;
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
	if (bytes < WB_BLOCK_SIZE) {
		ret = -EINVAL;
		goto err_fd;
	}
	wb = calloc(1, sizeof(*wb));
	if (!wb) {
		ret = -ENOMEM;
		goto err_fd;
	}
	wb->fd = fd;
	wb->io_flusher = io_flusher;
	wb->blocks = bytes / WB_BLOCK_SIZE;
	wb->words = (wb->blocks + WB_WORD_BITS - 1) / WB_WORD_BITS;
	wb->path = strdup(path);
	wb->used = calloc(wb->words, sizeof(*wb->used));
	wb->freed = calloc(wb->words, sizeof(*wb->freed));
	if (!wb->path || !wb->used || !wb->freed) {
		ret = -ENOMEM;
		goto err_free;
	}
	pthread_mutex_init(&wb->alloc_lock, NULL);
	pthread_mutex_init(&wb->lock, NULL);
	pthread_cond_init(&wb->work_cv, NULL);
	pthread_cond_init(&wb->done_cv, NULL);
	ret = -pthread_create(&wb->thread, NULL, wb_thread, wb);
	if (ret)
		goto err_sync;
	*out = wb;
	return 0;

err_sync:
	pthread_cond_destroy(&wb->done_cv);
	pthread_cond_destroy(&wb->work_cv);
	pthread_mutex_destroy(&wb->lock);
	pthread_mutex_destroy(&wb->alloc_lock);
err_free:
	free(wb->freed);
	free(wb->used);
	free(wb->path);
	free(wb);
err_fd:
	close(fd);
	return ret;
}

void wb_close(struct wb *wb)
{
	if (!wb)
		return;
	pthread_mutex_lock(&wb->lock);
	wb->stop = true;
	pthread_cond_signal(&wb->work_cv);
	pthread_mutex_unlock(&wb->lock);
	pthread_join(wb->thread, NULL);
	close(wb->fd);
	pthread_cond_destroy(&wb->done_cv);
	pthread_cond_destroy(&wb->work_cv);
	pthread_mutex_destroy(&wb->lock);
	pthread_mutex_destroy(&wb->alloc_lock);
	free(wb->freed);
	free(wb->used);
	free(wb->path);
	free(wb);
}
