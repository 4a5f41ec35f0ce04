/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * backing: the backing file (or block device) that the writeback pass
 * (zram's writeback) moves pages to.  It knows nothing of slots: it hands
 * out 4 KiB blocks, writes and reads them with direct I/O, and frees them.
 * The store (src/store_writeback.c) decides what goes there and keeps the
 * block number in the page's slot.
 *
 * All functions are thread-safe.  backing_block_free() never blocks and
 * never allocates (it is called on the I/O path, by overwrites and
 * discards); the hole is punched later by the backing file's own thread.
 */
#ifndef ZRAMFUSE_BACKING_H
#define ZRAMFUSE_BACKING_H

#include <stdbool.h>
#include <stdint.h>

#define BACKING_BLOCK_SIZE 4096u

struct backing;

/*
 * Open @path, a regular file or a block device, for direct I/O; its size
 * (a multiple of 4 KiB is used) is the capacity.  Returns 0, or -errno:
 * -ENOTBLK for anything but a regular file or block device, -EINVAL for
 * one of size 0 or a filesystem without O_DIRECT, or open(2)'s errno.
 */
int backing_open(const char *path, struct backing **out);
/* Punch every hole still pending, stop the thread and close. */
void backing_close(struct backing *bf);

const char *backing_path(const struct backing *bf);
uint64_t backing_capacity(const struct backing *bf);	/* blocks */

/*
 * Take a free block.  Returns 0 and its number, or -ENOSPC when every
 * block is in use (or still waiting for its hole to be punched).
 */
int backing_block_alloc(struct backing *bf, uint64_t *blk);
/* Give a block back: its hole is punched, then it may be reused. */
void backing_block_free(struct backing *bf, uint64_t blk);

/*
 * One block with direct I/O; @buf is 4 KiB aligned to 4 KiB.  Return 0 or
 * -errno (-EIO for a short transfer).
 */
int backing_write(struct backing *bf, uint64_t blk, const void *buf);
int backing_read(struct backing *bf, uint64_t blk, void *buf);

/* Wait until every block freed so far has had its hole punched. */
void backing_sync(struct backing *bf);

#endif
