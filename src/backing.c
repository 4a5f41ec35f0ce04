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
 * Opening (backing_open()) checks the file before anything happens to
 * it - by an O_PATH descriptor, so that not even a driver's open runs on
 * a file it refuses - and then opens that very inode through /proc; a
 * regular file gets an open file description lock, so that two mounts
 * cannot share one and punch holes in each other's pages, and a block
 * device an exclusive open.  The comment above backing_open() says how
 * and why.
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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backing.h"
#include "thread.h"

#define BACKING_WORD_BITS 64u

struct backing {
	int fd;
	dev_t dev;			/* the file's identity (backing_id()) */
	ino_t ino;
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

void backing_id(const struct backing *bf, dev_t *dev, ino_t *ino)
{
	*dev = bf->dev;
	*ino = bf->ino;
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

static int backing_io(struct backing *bf, uint64_t blk, unsigned n, void *buf,
		      bool write)
{
	off_t off = (off_t)(blk * BACKING_BLOCK_SIZE);
	size_t len = (size_t)n * BACKING_BLOCK_SIZE;
	ssize_t r;

	if (blk >= bf->blocks || n > bf->blocks - blk)
		return -EINVAL;
	do {
		r = write ? pwrite(bf->fd, buf, len, off) : pread(bf->fd, buf, len, off);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return (size_t)r == len ? 0 : -EIO;
}

int backing_write(struct backing *bf, uint64_t blk, unsigned n, const void *buf)
{
	return backing_io(bf, blk, n, (void *)buf, true);
}

int backing_read(struct backing *bf, uint64_t blk, void *buf)
{
	return backing_io(bf, blk, 1, buf, false);
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

/* ---- opening ---------------------------------------------------------- */

/* A sentence for the caller, as snprintf() into @why (NULL: none). */
static void __attribute__((format(printf, 3, 4)))
backing_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* The name a process gives itself (/proc/PID/comm), or "?". */
static void backing_comm(long pid, char *buf, size_t len)
{
	char p[64];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(p, sizeof(p), "/proc/%ld/comm", pid);
	f = fopen(p, "re");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* Does /proc/PID/fdinfo/FD (@path) list a lock on the file @key names? */
static bool backing_fdinfo_locks(const char *path, const char *key)
{
	char line[256];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "lock:", 5) && strstr(line, key);
	fclose(f);
	return found;
}

/*
 * The process that holds a lock on the file @sb: an open file
 * description lock reports no owner (F_OFD_GETLK's l_pid and /proc/locks
 * say -1), but /proc/PID/fdinfo/FD lists the locks each open file
 * description holds, as "lock: ... MAJ:MIN:INODE ..." (hexadecimal
 * device numbers, as /proc/locks prints them).  So every process's
 * descriptors are looked at - on this error path only - and the first
 * whose fdinfo lists one is the holder.  Returns its pid, or 0 when none
 * is found (a process whose /proc we may not read, or one that let go
 * meanwhile).
 */
static long backing_lock_holder(const struct stat *sb)
{
	char key[64], path[300];
	struct dirent *pe, *fe;
	DIR *proc, *fds;
	long holder = 0;

	snprintf(key, sizeof(key), " %02x:%02x:%llu ", major(sb->st_dev),
		 minor(sb->st_dev), (unsigned long long)sb->st_ino);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (!holder && (pe = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(pe->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fdinfo", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!holder && (fe = readdir(fds)) != NULL) {
			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%s", pid, fe->d_name);
			if (backing_fdinfo_locks(path, key))
				holder = pid;
		}
		closedir(fds);
	}
	closedir(proc);
	return holder;
}

/*
 * Lock the regular file @fd (@sb) for this backing file alone: an
 * exclusive open file description lock, which conflicts with another
 * zramfuse's (and with any POSIX lock), goes with the descriptor, and
 * holds as long as it is open.  Returns 0 or -EBUSY with who holds it.
 */
static int backing_lock(int fd, const char *path, const struct stat *sb,
			char *why, size_t why_len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char comm[32];
	long pid;

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES) {
		int err = errno;

		backing_why(why, why_len, "%s: cannot lock it for this daemon alone: %s",
			    path, strerror(err));
		return -err;
	}
	pid = backing_lock_holder(sb);
	backing_comm(pid, comm, sizeof(comm));
	if (pid == (long)getpid())
		backing_why(why, why_len, "%s: already the backing file of this daemon (pid %ld)",
			    path, pid);
	else if (pid)
		backing_why(why, why_len, "%s: in use: process %ld (%s) holds a lock on it, as a zramfuse mount does on its backing file",
			    path, pid, comm);
	else
		backing_why(why, why_len, "%s: in use: another process holds a lock on it (as a zramfuse mount does on its backing file)",
			    path);
	return -EBUSY;
}

/*
 * Who holds the block device @rdev that an exclusive open was refused:
 * a mount, swap, or a device stacked on it, by /proc and /sys; "" when
 * none of those says.
 */
static void backing_blk_holder(dev_t rdev, char *buf, size_t len)
{
	char line[1024], p[128];
	unsigned maj, min;
	struct dirent *de;
	FILE *f;
	DIR *d;

	buf[0] = '\0';
	f = fopen("/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[512];

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..." */
		if (sscanf(line, "%*s %*s %u:%u %*s %511s", &maj, &min, mnt) == 3 &&
		    maj == major(rdev) && min == minor(rdev)) {
			snprintf(buf, len, " (mounted on %s)", mnt);
			break;
		}
	}
	if (f)
		fclose(f);
	if (buf[0])
		return;
	f = fopen("/proc/swaps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char dev[512];
		struct stat sb;

		if (sscanf(line, "%511s", dev) == 1 && stat(dev, &sb) == 0 &&
		    S_ISBLK(sb.st_mode) && sb.st_rdev == rdev) {
			snprintf(buf, len, " (swap is on it)");
			break;
		}
	}
	if (f)
		fclose(f);
	if (buf[0])
		return;
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/holders", major(rdev), minor(rdev));
	d = opendir(p);
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.') {
			snprintf(buf, len, " (held by %s)", de->d_name);
			break;
		}
	}
	if (d)
		closedir(d);
}

/*
 * Is the block device @rdev a loop device (or a partition of one) over
 * a file on a FUSE filesystem - this daemon's own file, say?
 */
static bool backing_loop_on_fuse(dev_t rdev)
{
	for (unsigned i = 0; i < 2; i++) {
		char p[128], file[4096];
		struct statfs sfs;
		FILE *f;
		bool ok;

		/* the device itself, then the disk a partition is part of */
		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/%sloop/backing_file",
			 major(rdev), minor(rdev), i ? "../" : "");
		f = fopen(p, "re");
		if (!f)
			continue;
		ok = fgets(file, sizeof(file), f) != NULL;
		fclose(f);
		if (!ok)
			continue;
		file[strcspn(file, "\n")] = '\0';
		return statfs(file, &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC;
	}
	return false;
}

/*
 * Open @path for writeback, checking everything before anything happens
 * to it (include/backing.h).
 *
 * First an O_PATH|O_NOFOLLOW descriptor: it names the file (or the
 * symlink) without opening it, so no driver's open runs - a character
 * device such as /dev/watchdog is looked at, not armed - and a symlink
 * is seen as one.  Its type and filesystem are checked on it (fstat,
 * fstatfs).  Then the file is opened for real through /proc/self/fd/N,
 * which reaches that very inode whatever the path names by now: a
 * symlink swapped in between cannot send writeback (and hole punching)
 * to another file.  Opening by path again and comparing st_dev/st_ino
 * afterwards would catch the swap too, but only after the other file's
 * open had run.  The real open has O_NONBLOCK and O_NOCTTY (nothing may
 * wait or become our terminal), O_CLOEXEC, and for a block device O_EXCL
 * (the kernel's exclusive claim, as zram takes).  A regular file is then
 * locked (backing_lock()), put into direct I/O, and extended when short.
 */
int backing_open(const char *path, uint64_t need, struct backing **out,
		 char *why, size_t why_len)
{
	int oflags = O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_LARGEFILE;
	struct backing *bf;
	char proc[64], holder[600];
	struct statfs sfs;
	struct stat sb, sb2;
	uint64_t bytes;
	int pfd, fd, ret;

	if (why && why_len)
		why[0] = '\0';
	if (path[0] != '/') {
		backing_why(why, why_len, "%s: not an absolute path", path);
		return -EINVAL;
	}
	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		ret = -errno;
		backing_why(why, why_len, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(pfd, &sb) < 0 || fstatfs(pfd, &sfs) < 0) {
		ret = -errno;
		backing_why(why, why_len, "%s: %s", path, strerror(-ret));
		goto err_pfd;
	}
	if (S_ISLNK(sb.st_mode)) {
		backing_why(why, why_len, "%s: a symbolic link; name the file itself (a link can be changed to point elsewhere)",
			    path);
		ret = -ELOOP;
		goto err_pfd;
	}
	if (S_ISDIR(sb.st_mode)) {
		backing_why(why, why_len, "%s: a directory, not a regular file or a block device",
			    path);
		ret = -EISDIR;
		goto err_pfd;
	}
	if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
		backing_why(why, why_len, "%s: not a regular file or a block device (it was not opened)",
			    path);
		ret = -ENOTBLK;
		goto err_pfd;
	}
	if (sfs.f_type == FUSE_SUPER_MAGIC ||
	    (S_ISBLK(sb.st_mode) && backing_loop_on_fuse(sb.st_rdev))) {
		backing_why(why, why_len, "%s: %s a FUSE filesystem (a zramfuse mount's own file, or another daemon's): writeback there could wait on a daemon that waits for memory",
			    path, S_ISBLK(sb.st_mode) ? "a loop device over a file on" : "on");
		ret = -EDEADLK;
		goto err_pfd;
	}

	if (S_ISBLK(sb.st_mode))
		oflags |= O_EXCL | O_DIRECT;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, oflags);
	if (fd < 0) {
		ret = -errno;
		if (ret == -EBUSY && S_ISBLK(sb.st_mode)) {
			backing_blk_holder(sb.st_rdev, holder, sizeof(holder));
			backing_why(why, why_len, "%s: in use%s; a block device must be ours alone",
				    path, holder[0] ? holder : " (another user holds it exclusively)");
		} else if (ret == -ENOENT) {
			backing_why(why, why_len, "%s: cannot reopen it through %s (is /proc mounted?)",
				    path, proc);
		} else {
			backing_why(why, why_len, "%s: %s", path, strerror(-ret));
		}
		goto err_pfd;
	}
	close(pfd);
	if (fstat(fd, &sb2) < 0 || sb2.st_dev != sb.st_dev || sb2.st_ino != sb.st_ino) {
		backing_why(why, why_len, "%s: changed while it was opened", path);
		ret = -EAGAIN;
		goto err_fd;
	}
	if (S_ISBLK(sb.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
			ret = -errno;
			backing_why(why, why_len, "%s: size: %s", path, strerror(-ret));
			goto err_fd;
		}
	} else {
		int fl;

		ret = backing_lock(fd, path, &sb, why, why_len);
		if (ret < 0)
			goto err_fd;
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, (fl & ~O_NONBLOCK) | O_DIRECT) < 0) {
			ret = -errno;
			backing_why(why, why_len, "%s: its filesystem (type 0x%lx) has no direct I/O, which writeback needs: %s",
				    path, (unsigned long)sfs.f_type, strerror(-ret));
			goto err_fd;
		}
		bytes = (uint64_t)sb.st_size;
		need = (need + BACKING_BLOCK_SIZE - 1) / BACKING_BLOCK_SIZE * BACKING_BLOCK_SIZE;
		if (bytes < need) {
			/* sparse: blocks are taken only as pages are written back */
			if (ftruncate(fd, (off_t)need) < 0) {
				ret = -errno;
				backing_why(why, why_len, "%s: %llu bytes, and writeback needs %llu (the disksize): extending it failed: %s; make it that large (truncate -s %llu %s)",
					    path, (unsigned long long)bytes,
					    (unsigned long long)need, strerror(-ret),
					    (unsigned long long)need, path);
				goto err_fd;
			}
			bytes = need;
		}
	}
	if (bytes < BACKING_BLOCK_SIZE) {
		if (S_ISBLK(sb.st_mode))
			backing_why(why, why_len, "%s: %llu bytes, smaller than one block (4096 bytes)",
				    path, (unsigned long long)bytes);
		else
			backing_why(why, why_len, "%s: %llu bytes, and no disksize says how large it must be: give it the size writeback may use (truncate -s SIZE %s)",
				    path, (unsigned long long)bytes, path);
		ret = -EINVAL;
		goto err_fd;
	}
	bf = calloc(1, sizeof(*bf));
	if (!bf) {
		ret = -ENOMEM;
		goto err_fd;
	}
	bf->fd = fd;
	bf->dev = sb.st_dev;
	bf->ino = sb.st_ino;
	bf->blocks = bytes / BACKING_BLOCK_SIZE;
	if (bf->blocks > BACKING_MAX_BLOCKS)
		bf->blocks = BACKING_MAX_BLOCKS;
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
err_pfd:
	close(pfd);
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
