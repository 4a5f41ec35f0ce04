/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fs_ctl: the control directory <mnt>/.zram/ (src/fs_ctl.c), zram's sysfs
 * mirrored as a table of files, and the contract between it and fs.c.
 *
 * fs.c owns the namespace: it gives each control file a fixed node id
 * (FS_CTL_FIRST_ID + its index in the table), stats it with the table's
 * mode and passes opens, reads and writes through to the functions below.
 * fs_ctl.c owns what each file says and does.  Neither includes libfuse.
 *
 * The calls run one way, fs -> fs_ctl: what a control file needs of the
 * filesystem (its store, its policy, its files) it gets through the
 * struct fs_ctl_host that fs.c hands to every read and write, never by
 * calling into fs.c (sysfs hands a zram attribute its device the same way).
 */
#ifndef ZRAMFUSE_FS_CTL_H
#define ZRAMFUSE_FS_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fs_ctl_host;
struct fs_inode;
struct fs_ctl_handle;
struct policy;
struct store;
struct store_file;

/* Room the table has in fs.c's fixed node ids (both sides assert it). */
#define FS_CTL_MAX_FILES 256

/* ---- the control files, for fs.c ------------------------------------- */

/* How many there are; their indexes are 0 .. fs_ctl_count() - 1. */
unsigned fs_ctl_count(void);
/* The name and mode (permission bits) of file @k. */
const char *fs_ctl_name(unsigned k);
mode_t fs_ctl_mode(unsigned k);
/* The index of the file called @name, or -ENOENT. */
int fs_ctl_find(const char *name);

/*
 * Open file @k with open(2)'s @flags for the caller @uid: as sysfs, the
 * mode decides even for root, and only root may write.  Returns 0 and a
 * handle, or -EACCES / -ENOMEM.
 */
int fs_ctl_open(unsigned k, int flags, uid_t uid, struct fs_ctl_handle **out);
void fs_ctl_release(struct fs_ctl_handle *h);
/*
 * Read from the file's text, which is made afresh whenever a read starts
 * at offset 0 and kept in the handle for the reads after it.  Returns the
 * byte count or -errno.
 */
ssize_t fs_ctl_read(const struct fs_ctl_host *host, struct fs_ctl_handle *h, char *buf,
		    size_t len, uint64_t off);
/*
 * A write, as sysfs takes one: the whole value in one write of less than
 * a page, trailing blanks and newlines ignored.  Returns @len or -errno.
 */
ssize_t fs_ctl_write(const struct fs_ctl_host *host, struct fs_ctl_handle *h, const char *data,
		     size_t len, uid_t uid);

/* ---- what fs.c lends the control files ------------------------------ */

struct fs_ctl_host_ops;

/* One per filesystem, filled in by fs.c before it serves. */
struct fs_ctl_host {
	struct store *st;
	struct policy *policy;
	const struct fs_ctl_host_ops *ops;
};

struct fs_ctl_host_ops {
	/* .zram/transport's line, with its newline, into @buf; its length. */
	size_t (*transport)(const struct fs_ctl_host *host, char *buf,
			    size_t cap);
	/*
	 * Call @fn for every named data file, oldest first, under the
	 * filesystem's lock: @fn must not call back into the host.  @pages
	 * and @compr are what the store holds for the file
	 * (store_file_usage()).
	 */
	void (*for_each_file)(const struct fs_ctl_host *host,
			      void (*fn)(void *arg, const char *name,
					 uint64_t size, uint64_t pages,
					 uint64_t compr),
			      void *arg);
	/*
	 * The device file of zram's page indexes (writeback page_index=,
	 * block_state): the oldest named file, normally the one size= made.
	 * Returned pinned - its pages stay until file_unpin() - or NULL when
	 * there is none.
	 */
	struct fs_inode *(*file_primary)(const struct fs_ctl_host *host);
	void (*file_unpin)(struct fs_inode *i);
	/* A pinned file's pages in the store, and its size. */
	struct store_file *(*file_pages)(struct fs_inode *i);
	uint64_t (*file_size)(struct fs_inode *i);
};

#endif
