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
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BACKING_BLOCK_SIZE 4096u
/* Blocks a backing file may have (16 TiB); a larger one is used this far. */
#define BACKING_MAX_BLOCKS (UINT64_C(1) << 32)

struct backing;

/*
 * Open @path, a regular file or a block device, for direct I/O; its size
 * (a multiple of 4 KiB is used, at most BACKING_MAX_BLOCKS of them) is
 * the capacity.  Nothing is done to the file before its type is known:
 * a symlink, a directory, a character device, a FIFO or a socket is
 * refused without being opened.  A regular file is locked for this
 * opener alone (a second opener, in this process or another, is
 * refused), and one shorter than @need bytes (rounded up to 4 KiB; 0 =
 * no need known) is made that long, sparse; a block device is opened
 * exclusively.  Returns 0, or -errno with a sentence in @why (@why_len
 * bytes; NULL = none) that names the file and says why: -EINVAL (a
 * relative path; a file smaller than a block with no @need), -ELOOP (a
 * symlink), -EISDIR, -ENOTBLK (any other type), -EDEADLK (the file is on
 * a FUSE filesystem - a zramfuse mount's own file - or the block device
 * is a loop device over one), -EBUSY (another user holds it; the
 * sentence names the process when /proc can tell), the filesystem's
 * -EINVAL for no direct I/O, or open(2)'s or ftruncate(2)'s errno.
 */
int backing_open(const char *path, uint64_t need, struct backing **out,
		 char *why, size_t why_len);
/* Punch every hole still pending, stop the thread and close. */
void backing_close(struct backing *bf);

const char *backing_path(const struct backing *bf);
uint64_t backing_capacity(const struct backing *bf);	/* blocks */
/* The file's st_dev and st_ino, as opened. */
void backing_id(const struct backing *bf, dev_t *dev, ino_t *ino);

/*
 * Take a free block.  Returns 0 and its number, or -ENOSPC when every
 * block is in use (or still waiting for its hole to be punched).
 */
int backing_block_alloc(struct backing *bf, uint64_t *blk);
/* Give a block back: its hole is punched, then it may be reused. */
void backing_block_free(struct backing *bf, uint64_t blk);

/*
 * With direct I/O, @buf aligned to 4 KiB: write @n consecutive blocks
 * from @blk in one pwrite(2), read one block.  Return 0 or -errno (-EIO
 * for a short transfer).
 */
int backing_write(struct backing *bf, uint64_t blk, unsigned n, const void *buf);
int backing_read(struct backing *bf, uint64_t blk, void *buf);

/* Wait until every block freed so far has had its hole punched. */
void backing_sync(struct backing *bf);

#endif
