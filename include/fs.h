/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fs: the filesystem over the store - one flat directory of regular files
 * plus the control directory .zram/ - and its FUSE low-level operations.
 *
 * Two layers in src/fs.c:
 *
 *  - plain functions over the store (fs_read, fs_write, fs_fallocate,
 *    fs_getattr, fs_seek): offsets, lengths, a buffer, a -errno result.
 *    They know nothing of libfuse, so another transport (a FUSE io_uring
 *    ring) can call them on its own buffers without a second copy;
 *  - a thin libfuse reply layer (fs_lowlevel_ops()) that decodes each
 *    request, calls those functions and turns -errno into a reply.
 *
 * The control files' table and what each one does are in src/fs_ctl.c
 * (include/fs_ctl.h); fs.c serves them through the same reply layer.
 * This header names no libfuse type, so including it costs nothing.
 */
#ifndef ZRAMFUSE_FS_H
#define ZRAMFUSE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct fs;
struct fs_inode;
struct store;
struct fuse_lowlevel_ops;

/*
 * The largest request either way; the session negotiates max_write (and
 * so max_pages) to it.  Each serving thread, forwarder and ring entry
 * holds a buffer this size, faulted in and locked: at 1 MiB, 42 MiB more
 * than now over io_uring.  Swap sends less through a loop device (a
 * swap-in reads 2^vm.page-cluster pages at most; swap-outs measured
 * 104 KiB at most, 12.4 KiB on average), and 128 KiB and 1 MiB sequential
 * I/O measured as fast as with 1 MiB (README, "the rings' memory").
 */
#define FS_MAX_IO (128u << 10)

struct fs_config {
	uint64_t size;		/* create one file of this size; 0 = none */
	const char *file;	/* its name */
	uid_t uid;		/* owner of the root directory and that file */
	gid_t gid;
	/* the policies' knobs (include/policy.h); NULL = all off */
	const uint64_t *policy;
	/* start the thread that re-encodes read-back pages with the store's
	 * second codec (src/recomp.c); the store must have one */
	bool recomp_readback;
};

/*
 * Create the filesystem over @st (which the caller keeps and destroys
 * after fs_destroy()).  Returns 0 or -errno.
 */
int fs_create(struct store *st, const struct fs_config *cfg, struct fs **out);
/* Destroy every file still there; no operation may run or follow. */
void fs_destroy(struct fs *fs);

/*
 * What serves the requests, for .zram/transport: one line, its first
 * word the transport ("uring" or "classic"), then the details (sizes, or
 * why not uring).  The transport sets it when it starts and again when
 * it falls back; "none" before.
 */
#define FS_TRANSPORT_MAX 192
void fs_set_transport(struct fs *fs, const char *desc);

/*
 * Per-thread set-up for a thread that will serve requests: the store's
 * scratch state and a read buffer of FS_MAX_IO bytes, faulted in now so
 * the I/O path neither allocates nor faults.  Returns 0 or -errno.
 * fs_thread_exit() frees what it made.
 */
int fs_thread_init(struct fs *fs);
void fs_thread_exit(void);

/*
 * libfuse's operation table and its size, for fuse_session_new(); the
 * session's userdata must be the struct fs.
 */
const struct fuse_lowlevel_ops *fs_lowlevel_ops(size_t *size);

/* Number of data files open now (the loop device holds one open). */
unsigned fs_open_files(struct fs *fs);

/*
 * The hot operations, transport-neutral.  @ino is what open handed out
 * (the kernel's node id).  Offsets beyond the size read as end of file;
 * writes extend the size.  Return a byte count / 0, or -errno:
 * fs_write() gives -ENOSPC at mem_limit, -ENOMEM when the allocator's
 * reserve is empty and a page cannot be had without waiting, -EFBIG at or
 * beyond the largest file (STORE_MAX_BYTES; a write across it is cut
 * short there, as the kernel cuts one at a local filesystem's limit).
 * A write of 0 bytes does nothing.  A failed write leaves no byte stored
 * beyond the size; one that reaches past the size may instead come back
 * short, having stored up to a page boundary and raised the size to it.
 */
ssize_t fs_read(struct fs_inode *ino, void *buf, size_t len, uint64_t off);
ssize_t fs_write(struct fs_inode *ino, const void *buf, size_t len,
		 uint64_t off);
/*
 * fallocate(2) modes: 0 extends the size to @off + @len; KEEP_SIZE alone
 * does nothing (there is nothing to reserve in compressed RAM);
 * PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE (with or without KEEP_SIZE)
 * discard the range; anything else is -EOPNOTSUPP.
 */
int fs_fallocate(struct fs_inode *ino, int mode, uint64_t off, uint64_t len);
/* SEEK_DATA / SEEK_HOLE from @off; -ENXIO at or beyond the size. */
int fs_seek(struct fs_inode *ino, uint64_t off, int whence, uint64_t *out);
/*
 * Attributes of any node (data file, directory or control file).  With
 * @nowait, -EAGAIN instead of waiting for the filesystem's lock, which
 * a thread may hold while it allocates (and so reclaims, maybe into our
 * own device): a ring thread must not wait there (transport_uring.c).
 */
int fs_getattr(struct fs *fs, uint64_t nodeid, struct stat *st, bool nowait);

/*
 * For a transport that decodes requests itself (transport_uring.c):
 * whether @nodeid is a data file, to which the functions above apply
 * (the directories and control files go through the libfuse layer); the
 * inode behind a data file's open handle @fh; and for how many seconds
 * the kernel may cache @nodeid's attributes, as the libfuse layer says.
 */
bool fs_node_is_file(uint64_t nodeid);
struct fs_inode *fs_file_of(uint64_t fh);
double fs_attr_timeout(uint64_t nodeid);

#endif
