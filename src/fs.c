// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fs: the namespace over the store, the hot operations and the FUSE
 * low-level glue.  The control directory's files live in src/fs_ctl.c.
 *
 * The namespace is one flat directory of regular files plus .zram/, a
 * fixed directory of control files that mirrors zram's sysfs.  Files hold
 * no data here: each has a struct store_file (its pages) and the size,
 * mode, owner and times that the store does not know.  fs never touches
 * the pool: memory is the store's business (store_write() fails cleanly
 * when there is none).
 *
 * Node ids.  The root is 1, .zram is 2, the control files 3.. (fs_ctl.c's
 * table, in its order); a data file's node id is the address of its
 * struct fs_inode (the kernel hands it back with every request, so the
 * hot path needs no table), and its st_ino is a serial number.  An inode
 * lives while the kernel has lookups on it (nlookup), while it is open or
 * pinned (nopen), or while it has a name.  Its pages go as soon as it has
 * neither name nor opener: an unlinked file that is still open - or still
 * attached to a loop device - keeps its data until the last release, then
 * store_file_destroy() hands the whole table to reclaim and returns at
 * once.
 *
 * The directory is a list searched linearly: zramfuse holds a handful of
 * files (usually one swap file), and every data request bypasses it.
 *
 * Lock order: (a control file's handle lock, fs_ctl.c,) fs->lock, then
 * inode->size_lock, then inode->lock; the store's locks come after all of
 * them.  Reads, seeks and discards take none of them (the size is an
 * atomic); writes take size_lock shared, truncate takes it exclusive (see
 * fs_truncate() for why the kernel's i_rwsem is not enough), and only
 * truncate calls store_discard() under it; a discard never waits - it
 * detaches pages and queues them for reclaim.
 *
 * Times are kept whole, as timespecs with any tv_sec (see fs_time_set()).
 *
 * Errors: internal functions return 0 / -errno; the fs_op_* functions at
 * the bottom are the only ones that talk to libfuse.  What reaches the
 * kernel: ENOSPC at mem_limit, ENOMEM when the allocator's reserve is
 * empty (a loop device turns either into an I/O error on that bio, and
 * swap keeps the page in RAM and retries it later - waiting instead is
 * what deadlocks, issue 5), EPERM for what a flat directory of regular
 * files does not support (the errno mkdir(2), link(2), symlink(2) and
 * mknod(2) give for that), EOPNOTSUPP for other fallocate modes.
 *
 * No write_buf: without splice (turned off, so that requests land in each
 * worker's locked buffer) libfuse hands write_buf the same memory buffer
 * as write, so it would gain nothing.
 */
#include "config.h"

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>		/* RENAME_NOREPLACE, RENAME_EXCHANGE */
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "fs_ctl.h"
#include "policy.h"
#include "recomp.h"
#include "store.h"

#define FS_CTLDIR_ID 2
#define FS_CTL_FIRST_ID 3
#define FS_FIRST_SERIAL 1000
/* Node ids below this are fixed ones, never an inode's address. */
#define FS_FIXED_ID_MAX 4096
#define FS_MAX_FILE_SIZE STORE_MAX_BYTES
#define FS_CTLDIR_NAME ".zram"
/*
 * Names change only through this mount, so the kernel's dentries stay
 * right; attributes of data files are never cached, so st_blocks follows
 * every write and discard.
 */
#define FS_ENTRY_TIMEOUT 3600.0
#define FS_ATTR_TIMEOUT 0.0
_Static_assert(FS_CTL_FIRST_ID + FS_CTL_MAX_FILES < FS_FIXED_ID_MAX,
	       "fixed node ids must stay below any address");

struct fs_inode {
	struct fs *fs;
	uint64_t serial;		/* st_ino, never reused */

	/* protected by fs->lock */
	struct fs_inode *prev, *next;	/* fs->inodes */
	char *name;			/* NULL once unlinked */
	uint64_t nlookup;		/* the kernel's references */
	unsigned nopen;			/* open handles and pins */
	struct store_file *sf;		/* NULL once destroyed */

	/*
	 * Held shared by a write from reading the size to raising it, and
	 * exclusive by a truncate (fs_truncate()).  Prefers writers, so a
	 * stream of writes cannot starve a truncate.
	 */
	pthread_rwlock_t size_lock;

	pthread_mutex_t lock;
	/* protected by lock */
	mode_t mode;			/* permission bits only */
	uid_t uid;
	gid_t gid;
	struct timespec atime, ctime;
	struct timespec mtime_wide;	/* when mtime_ns is FS_TIME_WIDE */

	/* size: relaxed; only grows, except truncate (under size_lock) */
	_Atomic uint64_t size;
	/*
	 * mtime in ns since the epoch, or FS_TIME_WIDE: then it is
	 * mtime_wide.  Relaxed; stored without the lock by writes
	 * (fs_time_set()).
	 */
	_Atomic int64_t mtime_ns;
};

struct fs {
	struct store *st;
	struct policy *policy;		/* its thread: age-based post-processing */
	struct fs_ctl_host ctl;		/* what the control files see of us */
	struct recomp *readback;	/* its thread, or NULL: read-back pages */
	uid_t uid;
	gid_t gid;
	struct timespec mount_time;

	pthread_mutex_t lock;
	/* protected by lock */
	struct fs_inode inodes;		/* list head: every live inode */
	uint64_t next_serial;
	unsigned nr_open;		/* open data-file handles */

	/*
	 * What serves the requests (.zram/transport), set by the transport.
	 * A leaf lock of its own, not lock: a ring thread that falls back
	 * sets it, and must never wait for a holder of lock (who may
	 * allocate, see fs_getattr()).
	 */
	pthread_mutex_t transport_lock;
	char transport[FS_TRANSPORT_MAX];	/* protected by transport_lock */
};

/* A snapshot of a directory, made at opendir. */
struct fs_dir_entry {
	uint64_t ino;
	mode_t type;
	const char *name;
};

struct fs_dir {
	size_t n;
	struct fs_dir_entry ent[];
};

/* Each serving thread's read buffer (fs_thread_init). */
static __thread char *fs_tls_buf;

static struct timespec fs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/*
 * Times.  Every write sets the mtime, so it lives in one 64-bit atomic
 * that a write stores without a lock: nanoseconds since the epoch, which
 * covers 1677-09-21 to 2262-04-11.  Any other time a filesystem accepts -
 * tv_sec anywhere in time_t, as tmpfs takes it - is kept whole in
 * mtime_wide under the inode lock, and the atomic then holds FS_TIME_WIDE
 * (INT64_MIN, which is itself stored wide).  A reader holds the lock
 * anyway (fs_inode_stat()), so it reads either form consistently; a
 * write racing a setattr leaves whichever stored last, as on any
 * filesystem.  atime and ctime are timespecs under the lock.  Before
 * 1970 tv_sec is negative and tv_nsec still in [0, 1e9): division
 * rounds down, not towards zero.
 */
#define FS_NSEC 1000000000
#define FS_TIME_WIDE INT64_MIN

/* @ts in ns, or false when it does not fit (or is FS_TIME_WIDE). */
static bool fs_ts_ns(struct timespec ts, int64_t *ns)
{
	int64_t v;

	if (__builtin_mul_overflow((int64_t)ts.tv_sec, (int64_t)FS_NSEC, &v) ||
	    __builtin_add_overflow(v, (int64_t)ts.tv_nsec, &v) ||
	    v == FS_TIME_WIDE)
		return false;
	*ns = v;
	return true;
}

static struct timespec fs_ns_ts(int64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / FS_NSEC),
			       .tv_nsec = (long)(ns % FS_NSEC) };

	if (ts.tv_nsec < 0) {
		ts.tv_nsec += FS_NSEC;
		ts.tv_sec--;
	}
	return ts;
}

/* Set the mtime; @locked: the caller holds i->lock. */
static void fs_time_set(struct fs_inode *i, struct timespec ts, bool locked)
{
	int64_t ns;

	if (fs_ts_ns(ts, &ns)) {
		atomic_store_explicit(&i->mtime_ns, ns, memory_order_relaxed);
		return;
	}
	if (!locked)
		pthread_mutex_lock(&i->lock);
	i->mtime_wide = ts;
	atomic_store_explicit(&i->mtime_ns, FS_TIME_WIDE, memory_order_relaxed);
	if (!locked)
		pthread_mutex_unlock(&i->lock);
}

/* The mtime; the caller holds i->lock. */
static struct timespec fs_time_get_locked(struct fs_inode *i)
{
	int64_t ns = atomic_load_explicit(&i->mtime_ns, memory_order_relaxed);

	return ns == FS_TIME_WIDE ? i->mtime_wide : fs_ns_ts(ns);
}

static bool fs_is_inode(uint64_t nodeid)
{
	return nodeid >= FS_FIXED_ID_MAX;
}

static struct fs_inode *fs_inode_of(uint64_t nodeid)
{
	return (struct fs_inode *)(uintptr_t)nodeid;
}

/* Data files' node ids fail the first test, before the table is asked. */
static bool fs_is_ctl(uint64_t nodeid)
{
	return !fs_is_inode(nodeid) && nodeid >= FS_CTL_FIRST_ID &&
	       nodeid < FS_CTL_FIRST_ID + fs_ctl_count();
}

/* ---- inodes ----------------------------------------------------------- */

static void fs_list_add(struct fs *fs, struct fs_inode *i)
{
	i->next = &fs->inodes;
	i->prev = fs->inodes.prev;
	fs->inodes.prev->next = i;
	fs->inodes.prev = i;
}

static void fs_list_del(struct fs_inode *i)
{
	i->prev->next = i->next;
	i->next->prev = i->prev;
	i->prev = i->next = i;
}

/* Called with fs->lock held. */
static struct fs_inode *fs_find_locked(struct fs *fs, const char *name)
{
	for (struct fs_inode *i = fs->inodes.next; i != &fs->inodes; i = i->next)
		if (i->name && !strcmp(i->name, name))
			return i;
	return NULL;
}

/*
 * After a reference went away (fs->lock held): take the pages from an
 * inode that has neither name nor opener, and unlink the struct from the
 * list once the kernel has forgotten it too.  The caller finishes with
 * fs_inode_finish() after dropping the lock.
 */
struct fs_reap {
	struct store_file *sf;
	struct fs_inode *dead;
};

static void fs_inode_reap_locked(struct fs_inode *i, struct fs_reap *r)
{
	if (i->name || i->nopen)
		return;
	if (i->sf) {
		r->sf = i->sf;
		i->sf = NULL;
	}
	if (!i->nlookup) {
		fs_list_del(i);
		r->dead = i;
	}
}

static void fs_inode_finish(struct fs_reap *r)
{
	if (r->sf)
		store_file_destroy(r->sf);
	if (r->dead) {
		pthread_mutex_destroy(&r->dead->lock);
		pthread_rwlock_destroy(&r->dead->size_lock);
		free(r->dead->name);
		free(r->dead);
	}
}

static int fs_size_lock_init(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t a;
	int rc;

	rc = pthread_rwlockattr_init(&a);
	if (rc)
		return -rc;
	rc = pthread_rwlockattr_setkind_np(&a,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (!rc)
		rc = pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
	return -rc;
}

/* Create a linked inode named @name (fs->lock held). */
static int fs_inode_new_locked(struct fs *fs, const char *name, uid_t uid,
			       gid_t gid, struct fs_inode **out)
{
	struct fs_inode *i;
	struct timespec now = fs_now();
	int rc;

	i = calloc(1, sizeof(*i));
	if (!i)
		return -ENOMEM;
	i->name = strdup(name);
	if (!i->name) {
		rc = -ENOMEM;
		goto err_free;
	}
	rc = store_file_create(fs->st, &i->sf);
	if (rc)
		goto err_name;
	rc = fs_size_lock_init(&i->size_lock);
	if (rc)
		goto err_file;
	rc = -pthread_mutex_init(&i->lock, NULL);
	if (rc)
		goto err_size_lock;
	i->fs = fs;
	i->serial = fs->next_serial++;
	/* The rule: new files are 0600 whatever create asked for. */
	i->mode = 0600;
	i->uid = uid;
	i->gid = gid;
	i->atime = i->ctime = now;
	atomic_init(&i->mtime_ns, 0);
	fs_time_set(i, now, true);	/* no other thread sees it yet */
	atomic_init(&i->size, 0);
	fs_list_add(fs, i);
	*out = i;
	return 0;

err_size_lock:
	pthread_rwlock_destroy(&i->size_lock);
err_file:
	store_file_destroy(i->sf);
err_name:
	free(i->name);
err_free:
	free(i);
	return rc;
}

static void fs_inode_stat(struct fs_inode *i, struct stat *st)
{
	uint64_t pages = 0, compr = 0;

	/* fs->lock held: i->sf cannot go away under store_file_usage() */
	if (i->sf)
		store_file_usage(i->sf, &pages, &compr);
	memset(st, 0, sizeof(*st));
	st->st_ino = i->serial;
	st->st_nlink = i->name ? 1 : 0;
	st->st_size = (off_t)atomic_load_explicit(&i->size, memory_order_relaxed);
	st->st_blksize = STORE_PAGE_SIZE;
	st->st_blocks = (blkcnt_t)(pages * (STORE_PAGE_SIZE / 512));
	pthread_mutex_lock(&i->lock);
	st->st_mtim = fs_time_get_locked(i);
	st->st_mode = S_IFREG | i->mode;
	st->st_uid = i->uid;
	st->st_gid = i->gid;
	st->st_atim = i->atime;
	st->st_ctim = i->ctime;
	pthread_mutex_unlock(&i->lock);
}

static void fs_fixed_stat(struct fs *fs, uint64_t nodeid, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = nodeid;
	st->st_blksize = STORE_PAGE_SIZE;
	st->st_atim = st->st_mtim = st->st_ctim = fs->mount_time;
	if (nodeid == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 3;
		st->st_uid = fs->uid;
		st->st_gid = fs->gid;
	} else if (nodeid == FS_CTLDIR_ID) {
		/* root's, so that only root may write its files */
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | fs_ctl_mode((unsigned)(nodeid - FS_CTL_FIRST_ID));
		st->st_nlink = 1;
	}
}

int fs_getattr(struct fs *fs, uint64_t nodeid, struct stat *st, bool nowait)
{
	if (!fs_is_inode(nodeid)) {
		if (nodeid != FUSE_ROOT_ID && nodeid != FS_CTLDIR_ID &&
		    !fs_is_ctl(nodeid))
			return -ENOENT;
		fs_fixed_stat(fs, nodeid, st);
		return 0;
	}
	if (!nowait)
		pthread_mutex_lock(&fs->lock);
	else if (pthread_mutex_trylock(&fs->lock))
		return -EAGAIN;
	fs_inode_stat(fs_inode_of(nodeid), st);
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

bool fs_node_is_file(uint64_t nodeid)
{
	return fs_is_inode(nodeid);
}

struct fs_inode *fs_file_of(uint64_t fh)
{
	return fs_inode_of(fh);
}

double fs_attr_timeout(uint64_t nodeid)
{
	return fs_is_inode(nodeid) ? FS_ATTR_TIMEOUT : FS_ENTRY_TIMEOUT;
}

/* Pin an inode's pages for the length of an operation without a handle. */
static void fs_inode_pin(struct fs_inode *i)
{
	pthread_mutex_lock(&i->fs->lock);
	i->nopen++;
	pthread_mutex_unlock(&i->fs->lock);
}

static void fs_inode_unpin(struct fs_inode *i, bool handle)
{
	struct fs *fs = i->fs;
	struct fs_reap r = { 0 };

	pthread_mutex_lock(&fs->lock);
	i->nopen--;
	if (handle)
		fs->nr_open--;
	fs_inode_reap_locked(i, &r);
	pthread_mutex_unlock(&fs->lock);
	fs_inode_finish(&r);
}

unsigned fs_open_files(struct fs *fs)
{
	unsigned n;

	pthread_mutex_lock(&fs->lock);
	n = fs->nr_open;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

/* ---- the hot operations ---------------------------------------------- */

ssize_t fs_read(struct fs_inode *i, void *buf, size_t len, uint64_t off)
{
	uint64_t size = atomic_load_explicit(&i->size, memory_order_relaxed);

	if (off >= size || !len)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	return store_read(i->sf, buf, len, off);
}

/* Raise the size to at least @end. */
static void fs_extend(struct fs_inode *i, uint64_t end)
{
	uint64_t cur = atomic_load_explicit(&i->size, memory_order_relaxed);

	while (cur < end &&
	       !atomic_compare_exchange_weak_explicit(&i->size, &cur, end,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static void fs_touch(struct fs_inode *i)
{
	fs_time_set(i, fs_now(), false);
}

static uint64_t fs_page_up(uint64_t off)
{
	return (off + STORE_PAGE_SIZE - 1) & ~(uint64_t)(STORE_PAGE_SIZE - 1);
}

static uint64_t fs_page_down(uint64_t off)
{
	return off & ~(uint64_t)(STORE_PAGE_SIZE - 1);
}

/*
 * When store_write() fails, the pages before the failing one hold the new
 * data.  Beyond the size that must not stay (a later extension would read
 * it instead of zeros), so a write that reaches past the end of the page
 * holding the size - and past the end of its own first page - goes in two
 * parts:
 *
 *  - the head, [off, h) with h the later of those two page ends: it ends
 *    in the page that holds the size, or stays in one page beyond it, so
 *    when it fails its last page - the only one with bytes beyond the
 *    size - is the failing page or after it, and holds its old data;
 *  - the tail, [h, off + len): beyond the size, and on failure the pages
 *    it stored are whole pages inside this write (its last page is never
 *    one of them), which a discard detaches again - a discard of whole
 *    pages needs no memory and cannot fail, and touches no byte that
 *    another, adjacent write may have put in a shared page.
 *
 * When only the tail fails, the head is a short write: the size grows to
 * h and the caller learns the count (and gets the error when it writes
 * the rest).  Writes inside the file (a loop device, swap) are one part.
 *
 * A write that finds the allocator's reserve empty (-ENOMEM) is not
 * retried here: store_write() has already waited for the reserve's
 * refill for as long as that was safe (nowait_writes, include/store.h).
 */
static ssize_t fs_write_sized(struct fs_inode *i, const void *buf, size_t len,
			      uint64_t off)
{
	uint64_t size, end, h, tail_from, tail_to;
	ssize_t n;
	size_t head;

	end = off + len;
	size = atomic_load_explicit(&i->size, memory_order_relaxed);
	h = fs_page_up(size) > fs_page_up(off) ? fs_page_up(size) : fs_page_up(off);
	if (end <= h) {
		n = store_write(i->sf, buf, len, off);
		if (n < 0)
			return n;
		fs_extend(i, end);
		return n;
	}
	head = (size_t)(h - off);
	if (head) {
		n = store_write(i->sf, buf, head, off);
		if (n < 0)
			return n;
	}
	n = store_write(i->sf, (const char *)buf + head, len - head, h);
	if (n < 0) {
		tail_from = h;
		tail_to = fs_page_down(end);
		if (tail_to > tail_from)
			store_discard(i->sf, tail_from, tail_to - tail_from);
		if (!head)
			return n;
		n = 0;
	}
	fs_extend(i, h + (uint64_t)n);
	return (ssize_t)head + n;
}

ssize_t fs_write(struct fs_inode *i, const void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	/*
	 * As the kernel checks a local filesystem's s_maxbytes (it cannot
	 * know ours, FUSE's is 2^63 - 1): nothing to write is no error, at
	 * or beyond the largest file is -EFBIG, across it a short write.
	 */
	if (!len)
		return 0;
	if (off >= FS_MAX_FILE_SIZE)
		return -EFBIG;
	if (len > FS_MAX_FILE_SIZE - off)
		len = (size_t)(FS_MAX_FILE_SIZE - off);
	/* from reading the size to raising it: no truncate in between */
	pthread_rwlock_rdlock(&i->size_lock);
	n = fs_write_sized(i, buf, len, off);
	pthread_rwlock_unlock(&i->size_lock);
	if (n > 0)
		fs_touch(i);
	return n;
}

/* Discard [off, off + len) clamped to the size. */
static int fs_discard(struct fs_inode *i, uint64_t off, uint64_t len)
{
	uint64_t size = atomic_load_explicit(&i->size, memory_order_relaxed);

	if (off >= size || !len)
		return 0;
	if (len > size - off)
		len = size - off;
	return store_discard(i->sf, off, len);
}

int fs_fallocate(struct fs_inode *i, int mode, uint64_t off, uint64_t len)
{
	int rc;

	if (off > FS_MAX_FILE_SIZE || len > FS_MAX_FILE_SIZE - off)
		return -EFBIG;
	switch (mode) {
	case 0:
		/* nothing to reserve in compressed RAM: only the size grows */
		fs_extend(i, off + len);
		break;
	case FALLOC_FL_KEEP_SIZE:
		return 0;
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		rc = fs_discard(i, off, len);
		if (rc)
			return rc;
		break;
	case FALLOC_FL_ZERO_RANGE:
		rc = fs_discard(i, off, len);
		if (rc)
			return rc;
		fs_extend(i, off + len);
		break;
	default:
		return -EOPNOTSUPP;
	}
	fs_touch(i);
	return 0;
}

int fs_seek(struct fs_inode *i, uint64_t off, int whence, uint64_t *out)
{
	uint64_t size = atomic_load_explicit(&i->size, memory_order_relaxed);

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off >= size)
		return -ENXIO;
	return store_seek(i->sf, off, whence, size, out);
}

/*
 * Set a new size.  Shrinking removes everything from the new end to the
 * old end's page boundary, so that no byte beyond the size is ever stored
 * and a later extension reads zeros.
 *
 * Against writes: the kernel does not serialise them for us.  It holds
 * the inode's i_rwsem around a truncate and around the submission of a
 * write, but an asynchronous direct write that does not extend the file
 * (libaio, io_uring, and every write of a loop device with direct I/O)
 * is sent as a background request and the lock dropped while it is in
 * flight; nor does FUSE's setattr wait for such writes (a local
 * filesystem calls inode_dio_wait()).  The daemon can thus serve a write
 * and a shrink at once: the write stores its pages, the truncate
 * discards some of them, and the write then raises the size over the
 * hole it lost - or its pages land half before and half after the
 * discard (tests/trunc_race.c saw both).  So each write holds size_lock
 * shared from reading the size to raising it, and a truncate holds it
 * exclusive: a write then comes wholly before the truncate (its bytes
 * beyond the new size are discarded) or wholly after it (it stores and
 * extends as into any file), as one of the serial orders.  Writes do not
 * exclude each other, the lock is per file, and swap never truncates;
 * the lock prefers writers so that a truncate is not starved.  Reads take
 * no lock: one that overlaps a truncate may see the zeros of step 1
 * below, or the discarded pages as zeros, before the new size.
 *
 * A shrink either fails with the file unchanged or completes, in this
 * order: (1) zero the bytes of the new last page beyond the new size with
 * a store_write() of zeros - the only step that may need memory, and one
 * that changes nothing when it fails (-ENOSPC at mem_limit, -ENOMEM);
 * (2) set the size; (3) discard the whole pages beyond it, which only
 * detaches pages and cannot fail.  (store_discard() over the whole range
 * at once could fail on its partial page after freeing whole ones: the
 * size could then be neither restored - freed pages would read as zeros
 * - nor kept - the partial page would keep bytes beyond the size.)  A
 * read racing the truncate may see step 1's zeros before the new size;
 * with writes it is serialised by size_lock.
 */
static int fs_truncate(struct fs_inode *i, uint64_t size)
{
	static const char zeros[STORE_PAGE_SIZE];
	uint64_t old, tail_end, end;
	ssize_t n;
	int rc = 0;

	if (size > FS_MAX_FILE_SIZE)
		return -EFBIG;
	pthread_rwlock_wrlock(&i->size_lock);
	old = atomic_load_explicit(&i->size, memory_order_relaxed);
	if (size < old) {
		tail_end = fs_page_up(size) < old ? fs_page_up(size) : old;
		if (tail_end > size) {
			n = store_write(i->sf, zeros, (size_t)(tail_end - size), size);
			if (n < 0) {
				rc = (int)n;
				goto out;
			}
		}
	}
	atomic_store_explicit(&i->size, size, memory_order_relaxed);
	end = fs_page_up(old);
	if (end > fs_page_up(size))
		rc = store_discard(i->sf, fs_page_up(size), end - fs_page_up(size));
out:
	pthread_rwlock_unlock(&i->size_lock);
	if (!rc)
		fs_touch(i);
	return rc;
}

/* ---- namespace -------------------------------------------------------- */

static int fs_lookup(struct fs *fs, uint64_t parent, const char *name,
		     uint64_t *nodeid, struct stat *st)
{
	struct fs_inode *i;

	if (parent == FS_CTLDIR_ID) {
		int k = fs_ctl_find(name);

		if (k < 0)
			return k;
		*nodeid = FS_CTL_FIRST_ID + (unsigned)k;
		fs_fixed_stat(fs, *nodeid, st);
		return 0;
	}
	if (parent != FUSE_ROOT_ID)
		return -ENOTDIR;
	if (!strcmp(name, FS_CTLDIR_NAME)) {
		*nodeid = FS_CTLDIR_ID;
		fs_fixed_stat(fs, *nodeid, st);
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	i = fs_find_locked(fs, name);
	if (i) {
		i->nlookup++;
		*nodeid = (uintptr_t)i;
		fs_inode_stat(i, st);
	}
	pthread_mutex_unlock(&fs->lock);
	return i ? 0 : -ENOENT;
}

static void fs_forget(struct fs *fs, uint64_t nodeid, uint64_t n)
{
	struct fs_reap r = { 0 };
	struct fs_inode *i;

	if (!fs_is_inode(nodeid))
		return;
	i = fs_inode_of(nodeid);
	pthread_mutex_lock(&fs->lock);
	i->nlookup = n > i->nlookup ? 0 : i->nlookup - n;
	fs_inode_reap_locked(i, &r);
	pthread_mutex_unlock(&fs->lock);
	fs_inode_finish(&r);
}

/*
 * Create a regular file in the root; @open leaves it opened once.  The
 * kernel looked the name up first, so -EEXIST is a race or O_EXCL.
 */
static int fs_create_file(struct fs *fs, uint64_t parent, const char *name,
			  uid_t uid, gid_t gid, bool open, uint64_t *nodeid,
			  struct stat *st)
{
	struct fs_inode *i;
	int rc;

	if (parent != FUSE_ROOT_ID)
		return -EPERM;		/* nothing is created in .zram */
	if (!strcmp(name, FS_CTLDIR_NAME))
		return -EEXIST;
	pthread_mutex_lock(&fs->lock);
	if (fs_find_locked(fs, name)) {
		rc = -EEXIST;
		goto out;
	}
	rc = fs_inode_new_locked(fs, name, uid, gid, &i);
	if (rc)
		goto out;
	i->nlookup = 1;
	if (open) {
		i->nopen = 1;
		fs->nr_open++;
	}
	*nodeid = (uintptr_t)i;
	fs_inode_stat(i, st);
out:
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int fs_unlink(struct fs *fs, uint64_t parent, const char *name)
{
	struct fs_reap r = { 0 };
	struct fs_inode *i;

	if (parent != FUSE_ROOT_ID || !strcmp(name, FS_CTLDIR_NAME))
		return -EPERM;
	pthread_mutex_lock(&fs->lock);
	i = fs_find_locked(fs, name);
	if (i) {
		free(i->name);
		i->name = NULL;
		pthread_mutex_lock(&i->lock);
		i->ctime = fs_now();
		pthread_mutex_unlock(&i->lock);
		fs_inode_reap_locked(i, &r);
	}
	pthread_mutex_unlock(&fs->lock);
	fs_inode_finish(&r);
	return i ? 0 : -ENOENT;
}

static int fs_rename(struct fs *fs, uint64_t parent, const char *name,
		     uint64_t newparent, const char *newname, unsigned flags)
{
	struct fs_reap r = { 0 };
	struct fs_inode *src, *dst;
	char *copy = NULL;
	int rc = 0;

	if (parent != FUSE_ROOT_ID || newparent != FUSE_ROOT_ID ||
	    !strcmp(name, FS_CTLDIR_NAME) || !strcmp(newname, FS_CTLDIR_NAME))
		return -EPERM;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (!(flags & RENAME_EXCHANGE)) {
		copy = strdup(newname);
		if (!copy)
			return -ENOMEM;
	}
	pthread_mutex_lock(&fs->lock);
	src = fs_find_locked(fs, name);
	dst = fs_find_locked(fs, newname);
	if (!src) {
		rc = -ENOENT;
	} else if (flags & RENAME_EXCHANGE) {
		char *t;

		if (!dst) {
			rc = -ENOENT;
			goto out;
		}
		t = src->name;
		src->name = dst->name;
		dst->name = t;
	} else if (dst == src) {
		/* rename(2) onto itself does nothing */
	} else if (dst && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
	} else {
		if (dst) {
			free(dst->name);
			dst->name = NULL;
			fs_inode_reap_locked(dst, &r);
		}
		free(src->name);
		src->name = copy;
		copy = NULL;
	}
	if (!rc) {
		pthread_mutex_lock(&src->lock);
		src->ctime = fs_now();
		pthread_mutex_unlock(&src->lock);
	}
out:
	pthread_mutex_unlock(&fs->lock);
	fs_inode_finish(&r);
	free(copy);
	return rc;
}

static int fs_dir_open(struct fs *fs, uint64_t nodeid, struct fs_dir **out)
{
	struct fs_dir *d;
	size_t n = 3, names = 0, k = 0;
	char *pool;

	pthread_mutex_lock(&fs->lock);
	if (nodeid == FUSE_ROOT_ID) {
		for (struct fs_inode *i = fs->inodes.next; i != &fs->inodes; i = i->next) {
			if (i->name) {
				n++;
				names += strlen(i->name) + 1;
			}
		}
	} else {
		n = 2 + fs_ctl_count();
	}
	d = malloc(sizeof(*d) + n * sizeof(d->ent[0]) + names);
	if (!d) {
		pthread_mutex_unlock(&fs->lock);
		return -ENOMEM;
	}
	pool = (char *)&d->ent[n];
	d->ent[k++] = (struct fs_dir_entry){ nodeid, S_IFDIR, "." };
	d->ent[k++] = (struct fs_dir_entry){ FUSE_ROOT_ID, S_IFDIR, ".." };
	if (nodeid == FUSE_ROOT_ID) {
		d->ent[k++] = (struct fs_dir_entry){ FS_CTLDIR_ID, S_IFDIR,
						     FS_CTLDIR_NAME };
		for (struct fs_inode *i = fs->inodes.next; i != &fs->inodes; i = i->next) {
			if (!i->name)
				continue;
			strcpy(pool, i->name);
			d->ent[k++] = (struct fs_dir_entry){ i->serial, S_IFREG, pool };
			pool += strlen(pool) + 1;
		}
	} else {
		for (unsigned c = 0; c < fs_ctl_count(); c++)
			d->ent[k++] = (struct fs_dir_entry){
				FS_CTL_FIRST_ID + c, S_IFREG, fs_ctl_name(c) };
	}
	pthread_mutex_unlock(&fs->lock);
	d->n = k;
	*out = d;
	return 0;
}

/* ---- for the control files (include/fs_ctl.h) ------------------------- */

static struct fs *fs_of_host(const struct fs_ctl_host *host)
{
	return (struct fs *)((const char *)host - offsetof(struct fs, ctl));
}

static size_t fs_host_transport(const struct fs_ctl_host *host, char *buf,
				size_t cap)
{
	struct fs *fs = fs_of_host(host);
	size_t n;

	pthread_mutex_lock(&fs->transport_lock);
	n = (size_t)snprintf(buf, cap, "%s", fs->transport);
	pthread_mutex_unlock(&fs->transport_lock);
	return n < cap ? n : cap ? cap - 1 : 0;
}

static void fs_host_for_each_file(const struct fs_ctl_host *host,
				  void (*fn)(void *arg, const char *name,
					     uint64_t size, uint64_t pages,
					     uint64_t compr),
				  void *arg)
{
	struct fs *fs = fs_of_host(host);

	pthread_mutex_lock(&fs->lock);
	for (struct fs_inode *i = fs->inodes.next; i != &fs->inodes; i = i->next) {
		uint64_t pages = 0, compr = 0;

		if (!i->name)
			continue;
		if (i->sf)
			store_file_usage(i->sf, &pages, &compr);
		fn(arg, i->name, atomic_load_explicit(&i->size, memory_order_relaxed),
		   pages, compr);
	}
	pthread_mutex_unlock(&fs->lock);
}

static struct fs_inode *fs_host_file_primary(const struct fs_ctl_host *host)
{
	struct fs *fs = fs_of_host(host);
	struct fs_inode *found = NULL;

	pthread_mutex_lock(&fs->lock);
	for (struct fs_inode *i = fs->inodes.next; i != &fs->inodes; i = i->next) {
		if (i->name && i->sf) {
			i->nopen++;
			found = i;
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return found;
}

static void fs_host_file_unpin(struct fs_inode *i)
{
	fs_inode_unpin(i, false);
}

/* Pinned: i->sf stays until the last unpin (fs_inode_reap_locked()). */
static struct store_file *fs_host_file_pages(struct fs_inode *i)
{
	return i->sf;
}

static uint64_t fs_host_file_size(struct fs_inode *i)
{
	return atomic_load_explicit(&i->size, memory_order_relaxed);
}

static const struct fs_ctl_host_ops fs_host_ops = {
	.transport = fs_host_transport,
	.for_each_file = fs_host_for_each_file,
	.file_primary = fs_host_file_primary,
	.file_unpin = fs_host_file_unpin,
	.file_pages = fs_host_file_pages,
	.file_size = fs_host_file_size,
};

/* ---- set-up ----------------------------------------------------------- */

int fs_create(struct store *st, const struct fs_config *cfg, struct fs **out)
{
	struct fs_inode *i;
	struct fs *fs;
	int rc;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->st = st;
	fs->uid = cfg->uid;
	fs->gid = cfg->gid;
	fs->mount_time = fs_now();
	fs->next_serial = FS_FIRST_SERIAL;
	fs->inodes.next = fs->inodes.prev = &fs->inodes;
	rc = -pthread_mutex_init(&fs->lock, NULL);
	if (rc)
		goto err_free;
	rc = -pthread_mutex_init(&fs->transport_lock, NULL);
	if (rc)
		goto err_lock;
	snprintf(fs->transport, sizeof(fs->transport), "none\n");
	{
		static const uint64_t off[POLICY_NR_KNOBS] = {
			[POLICY_WRITEBACK_PAGES] = POLICY_DEFAULT_PAGES,
			[POLICY_RECOMPRESS_PAGES] = POLICY_DEFAULT_PAGES,
		};

		rc = policy_create(st, cfg->policy ? cfg->policy : off,
				   &fs->policy);
		if (rc)
			goto err_transport_lock;
	}
	fs->ctl = (struct fs_ctl_host){ .st = st, .policy = fs->policy,
					.ops = &fs_host_ops };
	if (cfg->recomp_readback) {
		rc = recomp_start(st, &fs->readback);
		if (rc)
			goto err_policy;
	}
	if (cfg->size) {
		if (cfg->size > FS_MAX_FILE_SIZE) {
			rc = -EFBIG;
			goto err_policy;
		}
		pthread_mutex_lock(&fs->lock);
		rc = fs_inode_new_locked(fs, cfg->file, cfg->uid, cfg->gid, &i);
		pthread_mutex_unlock(&fs->lock);
		if (rc)
			goto err_policy;
		/* no other thread sees it yet */
		atomic_store_explicit(&i->size, cfg->size, memory_order_relaxed);
	}
	*out = fs;
	return 0;

err_policy:
	recomp_stop(fs->readback);
	policy_destroy(fs->policy);
err_transport_lock:
	pthread_mutex_destroy(&fs->transport_lock);
err_lock:
	pthread_mutex_destroy(&fs->lock);
err_free:
	free(fs);
	return rc;
}

void fs_destroy(struct fs *fs)
{
	/* first: their passes walk the files */
	recomp_stop(fs->readback);
	policy_destroy(fs->policy);
	while (fs->inodes.next != &fs->inodes) {
		struct fs_inode *i = fs->inodes.next;
		struct fs_reap r = { .sf = i->sf, .dead = i };

		fs_list_del(i);
		fs_inode_finish(&r);
	}
	pthread_mutex_destroy(&fs->transport_lock);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

void fs_set_transport(struct fs *fs, const char *desc)
{
	pthread_mutex_lock(&fs->transport_lock);
	snprintf(fs->transport, sizeof(fs->transport), "%s\n", desc);
	pthread_mutex_unlock(&fs->transport_lock);
}

int fs_thread_init(struct fs *fs)
{
	int rc;

	rc = store_thread_init(fs->st);
	if (rc)
		return rc;
	if (!fs_tls_buf) {
		rc = -posix_memalign((void **)&fs_tls_buf, STORE_PAGE_SIZE, FS_MAX_IO);
		if (rc)
			return rc;
		/*
		 * Fault it in now (with mlockall it stays resident); volatile
		 * stores, since a compiler may drop or fold a memset().
		 */
		for (size_t k = 0; k < FS_MAX_IO; k += STORE_PAGE_SIZE)
			((volatile char *)fs_tls_buf)[k] = 1;
	}
	return 0;
}

void fs_thread_exit(void)
{
	free(fs_tls_buf);
	fs_tls_buf = NULL;
}

/* ---- the libfuse reply layer ------------------------------------------ */

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fs_reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, -rc);
}

static void fs_reply_entry(fuse_req_t req, uint64_t nodeid, const struct stat *st)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = nodeid;
	e.generation = 1;
	e.attr = *st;
	e.attr_timeout = fs_is_inode(nodeid) ? FS_ATTR_TIMEOUT : FS_ENTRY_TIMEOUT;
	e.entry_timeout = FS_ENTRY_TIMEOUT;
	fuse_reply_entry(req, &e);
}

static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/*
	 * loop's direct I/O is asynchronous: each bio becomes a background
	 * request, and the kernel's default of 12 in flight throttles swap
	 * to a crawl and, under memory pressure, lets a swap-in queue behind
	 * swap-outs (issue 5).
	 */
	conn->max_background = 256;
	conn->congestion_threshold = 192;
	conn->max_write = FS_MAX_IO;
	if (conn->capable & FUSE_CAP_ASYNC_DIO)
		conn->want |= FUSE_CAP_ASYNC_DIO;
	/*
	 * No splice: requests arrive in each worker's preallocated buffer.
	 * No atomic O_TRUNC: the kernel sends O_TRUNC as a setattr.  No
	 * writeback cache: data never sits uncompressed in the page cache.
	 */
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE | FUSE_CAP_ATOMIC_O_TRUNC |
				  FUSE_CAP_WRITEBACK_CACHE);
	conn->time_gran = 1;
}

static void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct stat st;
	uint64_t nodeid;
	int rc;

	rc = fs_lookup(fs_of(req), parent, name, &nodeid, &st);
	if (rc == -ENOENT && (parent == FUSE_ROOT_ID || parent == FS_CTLDIR_ID)) {
		/* a negative entry: every create goes through this mount */
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = FS_ENTRY_TIMEOUT;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc)
		fs_reply_err(req, rc);
	else
		fs_reply_entry(req, nodeid, &st);
}

static void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_op_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	for (size_t k = 0; k < count; k++)
		fs_forget(fs_of(req), forgets[k].ino, forgets[k].nlookup);
	fuse_reply_none(req);
}

static void fs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct stat st;
	int rc;

	(void)fi;
	rc = fs_getattr(fs_of(req), ino, &st, false);
	if (rc)
		fs_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, fs_attr_timeout(ino));
}

static int fs_setattr(struct fs *fs, uint64_t nodeid, const struct stat *attr,
		      int to_set)
{
	struct fs_inode *i;
	struct timespec now = fs_now();
	int rc = 0;

	if (!fs_is_inode(nodeid)) {
		/* "echo 1 > .zram/compact" truncates first: let it */
		if (fs_is_ctl(nodeid) && (to_set & ~(FUSE_SET_ATTR_ATIME |
		    FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		    FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)) == FUSE_SET_ATTR_SIZE)
			return 0;
		return -EPERM;
	}
	i = fs_inode_of(nodeid);
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0)
			return -EINVAL;
		fs_inode_pin(i);
		rc = i->sf ? fs_truncate(i, (uint64_t)attr->st_size) : -ENOENT;
		fs_inode_unpin(i, false);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&i->lock);
	if (to_set & FUSE_SET_ATTR_MODE)
		i->mode = attr->st_mode & 07777;
	if (to_set & FUSE_SET_ATTR_UID)
		i->uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		i->gid = attr->st_gid;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		i->atime = now;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		i->atime = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		fs_time_set(i, now, true);
	else if (to_set & FUSE_SET_ATTR_MTIME)
		fs_time_set(i, attr->st_mtim, true);
	if (to_set & FUSE_SET_ATTR_CTIME)
		i->ctime = attr->st_ctim;
	else
		i->ctime = now;
	pthread_mutex_unlock(&i->lock);
	return 0;
}

static void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int to_set, struct fuse_file_info *fi)
{
	struct stat st;
	int rc;

	(void)fi;
	rc = fs_setattr(fs_of(req), ino, attr, to_set);
	if (!rc)
		rc = fs_getattr(fs_of(req), ino, &st, false);
	if (rc)
		fs_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, fs_attr_timeout(ino));
}

static void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat st;
	uint64_t nodeid;
	int rc;

	(void)rdev;
	/* mknod(2): EPERM when the filesystem does not support the type */
	if (!S_ISREG(mode)) {
		fs_reply_err(req, -EPERM);
		return;
	}
	rc = fs_create_file(fs_of(req), parent, name, ctx->uid, ctx->gid, false,
			    &nodeid, &st);
	if (rc)
		fs_reply_err(req, rc);
	else
		fs_reply_entry(req, nodeid, &st);
}

/* mkdir(2), symlink(2) and link(2) all say EPERM for "not supported". */
static void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EPERM);
}

static void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			  const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		       const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EPERM);
}

static void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EPERM);
}

static void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -fs_unlink(fs_of(req), parent, name));
}

static void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	fuse_reply_err(req, -fs_rename(fs_of(req), parent, name, newparent,
				       newname, flags));
}

static void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat st;
	uint64_t nodeid;
	int rc;

	(void)mode;
	rc = fs_create_file(fs_of(req), parent, name, ctx->uid, ctx->gid, true,
			    &nodeid, &st);
	if (rc) {
		fs_reply_err(req, rc);
		return;
	}
	fi->fh = nodeid;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	if (fuse_reply_create(req, &(struct fuse_entry_param){
		.ino = nodeid, .generation = 1, .attr = st,
		.attr_timeout = FS_ATTR_TIMEOUT, .entry_timeout = FS_ENTRY_TIMEOUT,
	}, fi) == -ENOENT) {
		/* interrupted: no release, no forget will come for these */
		fs_forget(fs_of(req), nodeid, 1);
		fs_inode_unpin(fs_inode_of(nodeid), true);
	}
}

static void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int rc;

	/* the page cache must never hold what the store keeps compressed */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	if (fs_is_ctl(ino)) {
		struct fs_ctl_handle *h;

		rc = fs_ctl_open((unsigned)(ino - FS_CTL_FIRST_ID), fi->flags,
				 fuse_req_ctx(req)->uid, &h);
		if (rc) {
			fs_reply_err(req, rc);
			return;
		}
		fi->fh = (uintptr_t)h;
	} else if (fs_is_inode(ino)) {
		struct fs_inode *i = fs_inode_of(ino);

		pthread_mutex_lock(&fs->lock);
		rc = i->sf ? 0 : -ENOENT;
		if (!rc) {
			i->nopen++;
			fs->nr_open++;
		}
		pthread_mutex_unlock(&fs->lock);
		if (rc) {
			fs_reply_err(req, rc);
			return;
		}
		fi->fh = ino;
	} else {
		fs_reply_err(req, -EISDIR);
		return;
	}
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* interrupted: the kernel will send no release for it */
		if (fs_is_ctl(ino))
			fs_ctl_release((struct fs_ctl_handle *)(uintptr_t)fi->fh);
		else
			fs_inode_unpin(fs_inode_of(ino), true);
	}
}

static void fs_op_release(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	if (fs_is_ctl(ino))
		fs_ctl_release((struct fs_ctl_handle *)(uintptr_t)fi->fh);
	else if (fs_is_inode(ino))
		fs_inode_unpin(fs_inode_of(ino), true);
	fuse_reply_err(req, 0);
}

static void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	char *buf = fs_tls_buf, *heap = NULL;
	ssize_t n;

	if (off < 0) {
		fs_reply_err(req, -EINVAL);
		return;
	}
	if (!buf || size > FS_MAX_IO) {
		/* not a worker made by main, or a larger read than negotiated */
		buf = heap = malloc(size ? size : 1);
		if (!buf) {
			fs_reply_err(req, -ENOMEM);
			return;
		}
	}
	if (fs_is_ctl(ino))
		n = fs_ctl_read(&fs_of(req)->ctl, (struct fs_ctl_handle *)(uintptr_t)fi->fh,
				buf, size, (uint64_t)off);
	else
		n = fs_read(fs_inode_of(fi->fh), buf, size, (uint64_t)off);
	if (n < 0)
		fs_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(heap);
}

static void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	if (off < 0) {
		fs_reply_err(req, -EINVAL);
		return;
	}
	if (fs_is_ctl(ino))
		n = fs_ctl_write(&fs_of(req)->ctl, (struct fs_ctl_handle *)(uintptr_t)fi->fh,
				 buf, size, fuse_req_ctx(req)->uid);
	else
		n = fs_write(fs_inode_of(fi->fh), buf, size, (uint64_t)off);
	if (n < 0)
		fs_reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void fs_op_flush(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);		/* nothing is ever buffered */
}

static void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)ino, (void)datasync, (void)fi;
	fuse_reply_err(req, 0);		/* RAM is as durable as it gets */
}

static void fs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fs_dir *d;
	int rc;

	if (ino != FUSE_ROOT_ID && ino != FS_CTLDIR_ID) {
		fs_reply_err(req, -ENOTDIR);
		return;
	}
	rc = fs_dir_open(fs_of(req), ino, &d);
	if (rc) {
		fs_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) == -ENOENT)
		free(d);
}

static void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	size_t n = 0;
	char *buf;

	(void)ino;
	buf = malloc(size);
	if (!buf) {
		fs_reply_err(req, -ENOMEM);
		return;
	}
	for (size_t k = off < 0 ? 0 : (size_t)off; k < d->n; k++) {
		struct stat st = { .st_ino = d->ent[k].ino, .st_mode = d->ent[k].type };
		size_t w = fuse_add_direntry(req, buf + n, size - n, d->ent[k].name,
					     &st, (off_t)(k + 1));

		if (w > size - n)
			break;
		n += w;
	}
	fuse_reply_buf(req, buf, n);
	free(buf);
}

static void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			     struct fuse_file_info *fi)
{
	(void)ino;
	free((void *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			   struct fuse_file_info *fi)
{
	(void)ino, (void)datasync, (void)fi;
	fuse_reply_err(req, 0);
}

static void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct store_stats s;
	struct statvfs sv;
	uint64_t cap, used;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

	(void)ino;
	store_stats(fs->st, &s);
	/* capacity: the memory limit, or all of RAM when there is none */
	cap = s.mem_limit ? s.mem_limit
			  : (uint64_t)(pages > 0 ? pages : 0) * (uint64_t)(psize > 0 ? psize : 4096);
	used = s.mem_used_total < cap ? s.mem_used_total : cap;
	memset(&sv, 0, sizeof(sv));
	/* 4 KiB blocks: loop takes its discard granularity from f_bsize */
	sv.f_bsize = sv.f_frsize = STORE_PAGE_SIZE;
	sv.f_blocks = cap / STORE_PAGE_SIZE;
	sv.f_bfree = sv.f_bavail = (cap - used) / STORE_PAGE_SIZE;
	sv.f_files = 1u << 20;
	sv.f_ffree = sv.f_favail = (1u << 20) - 1;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			    off_t offset, off_t length, struct fuse_file_info *fi)
{
	if (!fs_is_inode(ino)) {
		fs_reply_err(req, -EOPNOTSUPP);
		return;
	}
	if (offset < 0 || length <= 0) {
		fs_reply_err(req, -EINVAL);
		return;
	}
	fuse_reply_err(req, -fs_fallocate(fs_inode_of(fi->fh), mode,
					  (uint64_t)offset, (uint64_t)length));
}

static void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
			struct fuse_file_info *fi)
{
	uint64_t out;
	int rc;

	if (!fs_is_inode(ino)) {
		fs_reply_err(req, -EINVAL);
		return;
	}
	if (off < 0) {
		fs_reply_err(req, -ENXIO);
		return;
	}
	rc = fs_seek(fs_inode_of(fi->fh), (uint64_t)off, whence, &out);
	if (rc)
		fs_reply_err(req, rc);
	else
		fuse_reply_lseek(req, (off_t)out);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.setattr = fs_op_setattr,
	.mknod = fs_op_mknod,
	.mkdir = fs_op_mkdir,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.symlink = fs_op_symlink,
	.rename = fs_op_rename,
	.link = fs_op_link,
	.open = fs_op_open,
	.read = fs_op_read,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.release = fs_op_release,
	.fsync = fs_op_fsync,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.releasedir = fs_op_releasedir,
	.fsyncdir = fs_op_fsyncdir,
	.statfs = fs_op_statfs,
	.create = fs_op_create,
	.fallocate = fs_op_fallocate,
	.lseek = fs_op_lseek,
};

const struct fuse_lowlevel_ops *fs_lowlevel_ops(size_t *size)
{
	*size = sizeof(fs_ops);
	return &fs_ops;
}
