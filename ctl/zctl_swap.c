// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zctl_swap: swapon and swapoff, each as a list of steps.
 *
 * swapon, in order, each step skipped when what it makes is already there
 * (so that a second run changes nothing and says so):
 *
 *   mount point  mkdir the directory (its parent must exist)
 *   mount        run the daemon (found beside zramfusectl, in bindir or
 *                in PATH: zctl_swap_find_daemon), argv[0] "@zramfuse" (see
 *                below), with size=, comp=, comp_level=, mem_limit=,
 *                backing_dev=; it detaches once it serves and exits with
 *                its status if not
 *   file         <mnt>/swap, when the mount exists without it
 *   loop         LOOP_CTL_GET_FREE, then LOOP_CONFIGURE in one call: direct
 *                I/O, 4 KiB logical blocks (retried when another process
 *                takes the free device first); direct I/O is checked in
 *                /sys/block/loopN/loop/dio, since the kernel falls back to
 *                buffered I/O silently
 *   wbt          /sys/block/loopN/queue/wbt_lat_usec = 0, no writeback
 *                throttling (man/zramfuse.8, CAVEATS)
 *   mkswap       the program: the header's format is util-linux's
 *   swapon       swapon(2) with the discard flags and the priority
 *
 * A step that fails undoes, in reverse order, what this run did (never
 * what it found), names the step and exits non-zero.  ioctls and system
 * calls rather than losetup(8) and swapon(8) where they are one call:
 * nothing to parse, errno to report, and no dependence on PATH beyond
 * mkswap (and the daemon's last resort).
 *
 * swapoff: swapoff(2) on every loop device backed by a file of the mount
 * first; if one fails (ENOMEM: the swapped pages do not fit in RAM) it
 * says so and leaves everything as it is, since the pages live in the
 * daemon.  Then LOOP_CLR_FD, waiting until the device lets go of the file
 * (the kernel defers the detach while someone, udev say, holds the device
 * open), then umount, retried while the file is still busy.
 *
 * The daemon's argv[0] starts with '@': at shutdown systemd's final
 * killing spree spares root processes so named (systemd's "Storage
 * Daemons for the Root File System"), and the pages swapped to the daemon
 * must outlive the processes that own them until swap is off.
 *
 * ZRAMFUSECTL_TEST_FAIL=STEP makes STEP fail as if its call had failed
 * with EIO (swapoff's swapoff: with ENOMEM), and
 * ZRAMFUSECTL_TEST_NO_FREE_LOOP=1 makes LOOP_CTL_GET_FREE
 * fail as on a machine with every loop device taken: the rollback tests
 * use them, where doing it for real would disturb the machine.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zctl_swap.h"
#include "zctl_sys.h"

#ifndef SWAP_FLAG_DISCARD_ONCE
#define SWAP_FLAG_DISCARD_ONCE 0x20000
#endif
#ifndef SWAP_FLAG_DISCARD_PAGES
#define SWAP_FLAG_DISCARD_PAGES 0x40000
#endif

/* swapon's default priority, zram-generator's: above any disk swap. */
#define ZCTL_SWAP_PRIO 100

struct zctl_swap_ctx {
	const struct zctl_swapon *so;
	const char *step;	/* the step running */
	char mnt[PATH_MAX];
	char file[PATH_MAX + 16];
	char loop[32];		/* "loopN" */
	char dev[48];		/* "/dev/loopN" */
	char daemon[PATH_MAX];	/* the zramfuse to run; "" until looked up */
	/* what this run did, for the rollback */
	bool made_dir, mounted, made_file, attached, swapped;
	bool set_limit;		/* mem_limit changed on a mount it found */
	uint64_t old_limit;	/* what mem_limit was then */
};

static void zctl_swap_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The test hook: does STEP fail on purpose? */
static bool zctl_swap_hook(const char *step)
{
	const char *f = getenv("ZRAMFUSECTL_TEST_FAIL");

	return f && !strcmp(f, step);
}

/* Report a failed step; errno is err (negative). */
static int zctl_swap_fail(struct zctl_swap_ctx *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int zctl_swap_fail(struct zctl_swap_ctx *c, int err, const char *fmt, ...)
{
	char what[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (err)
		zctl_err("swapon: step '%s' failed: %s: %s", c->step, what,
			 strerror(-err));
	else
		zctl_err("swapon: step '%s' failed: %s", c->step, what);
	return err ? err : -EIO;
}

/* Run argv (argv[0] is the name the program sees, path what runs). */
static int zctl_swap_run(const char *path, const char *const argv[], bool quiet)
{
	int st, fd;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			/* our stdout is the report; the tools' chatter goes
			 * to stderr or nowhere */
			dup2(quiet ? fd : STDERR_FILENO, STDOUT_FILENO);
		}
		/* exec does not write argv; its prototype predates const */
		execvp(path, (char *const *)argv);
		fprintf(stderr, "zramfusectl: %s: %m\n", path);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* -o backing_dev= is there only if the daemon lists it in --help. */
static bool zctl_swap_daemon_has(const char *path, const char *opt)
{
	char cmd[PATH_MAX + 64], line[512];
	bool has = false;
	FILE *p;

	if (strchr(path, '\''))	/* it goes to the shell in quotes */
		return false;
	snprintf(cmd, sizeof(cmd), "'%s' -h 2>&1", path);
	p = popen(cmd, "re");
	if (!p)
		return false;
	while (fgets(line, sizeof(line), p))
		if (strstr(line, opt))
			has = true;
	pclose(p);
	return has;
}

/* Is p a file this process may run? */
static bool zctl_swap_runnable(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISREG(st.st_mode) && !access(p, X_OK);
}

/* Look at dir/zramfuse: on a hit copy it to c->daemon, else add it to tried. */
static bool zctl_swap_try(struct zctl_swap_ctx *c, const char *dir, size_t dlen,
			  const char *sep, char *tried, size_t tlen)
{
	char p[PATH_MAX];
	size_t n = strlen(tried);

	if ((size_t)snprintf(p, sizeof(p), "%.*s/zramfuse", (int)dlen, dir) >= sizeof(p))
		return false;
	if (zctl_swap_runnable(p)) {
		snprintf(c->daemon, sizeof(c->daemon), "%s", p);
		return true;
	}
	if (n < tlen)
		snprintf(tried + n, tlen - n, "%s%s", sep, p);
	return false;
}

/*
 * The daemon to run, into c->daemon: $ZRAMFUSE when set (the tests' or a
 * developer's choice, and then nothing else); else the first of
 *   - zramfuse beside this program (/proc/self/exe): a build tree, or an
 *     install moved elsewhere as a whole;
 *   - ZRAMFUSE_DIR, where make install puts it (bindir);
 *   - zramfuse in each directory of PATH, in order (empty entries
 *     skipped).
 * Looked up only when a daemon is to run: a swapon that finds the mount
 * there needs none.  When none is found the message lists every place.
 */
static int zctl_swap_find_daemon(struct zctl_swap_ctx *c)
{
	const char *env = getenv("ZRAMFUSE"), *path = getenv("PATH"), *p, *e;
	char self[PATH_MAX], tried[4 * PATH_MAX] = "";
	const char *sep = "; in PATH: ";
	ssize_t n;

	if (*c->daemon)
		return 0;
	if (env && *env) {
		if (!zctl_swap_runnable(env))
			return zctl_swap_fail(c, 0, "ZRAMFUSE=%s: not an executable file (unset, zramfusectl looks beside itself, in %s and in PATH)",
					      env, ZRAMFUSE_DIR);
		snprintf(c->daemon, sizeof(c->daemon), "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		e = strrchr(self, '/');
		if (e && zctl_swap_try(c, self, (size_t)(e - self),
				       "beside zramfusectl: ", tried, sizeof(tried)))
			return 0;
	}
	if (zctl_swap_try(c, ZRAMFUSE_DIR, strlen(ZRAMFUSE_DIR),
			  *tried ? "; in the install's directory: " :
			  "in the install's directory: ", tried, sizeof(tried)))
		return 0;
	/* an empty entry is skipped: execvp would take it for the current
	 * directory, which a tool run as root should not search */
	for (p = path; p; p = *e ? e + 1 : NULL) {
		e = strchrnul(p, ':');
		if (e == p)
			continue;
		if (zctl_swap_try(c, p, (size_t)(e - p), sep, tried, sizeof(tried)))
			return 0;
		sep = ", ";
	}
	return zctl_swap_fail(c, 0, "no zramfuse to run; looked %s%s (ZRAMFUSE unset)",
			      tried, path ? "" : "; PATH unset");
}

static int zctl_swap_mountpoint(struct zctl_swap_ctx *c)
{
	struct stat st;

	c->step = "mount point";
	if (zctl_swap_hook(c->step))
		return zctl_swap_fail(c, -EIO, "%s", c->so->mnt);
	if (stat(c->so->mnt, &st)) {
		if (errno != ENOENT)
			return zctl_swap_fail(c, -errno, "%s", c->so->mnt);
		if (mkdir(c->so->mnt, 0755))
			return zctl_swap_fail(c, -errno, "mkdir %s", c->so->mnt);
		c->made_dir = true;
	} else if (!S_ISDIR(st.st_mode)) {
		return zctl_swap_fail(c, -ENOTDIR, "%s", c->so->mnt);
	}
	if (!realpath(c->so->mnt, c->mnt))
		return zctl_swap_fail(c, -errno, "%s", c->so->mnt);
	snprintf(c->file, sizeof(c->file), "%s/%s", c->mnt, ZCTL_FILE);
	return 0;
}

static int zctl_swap_mount(struct zctl_swap_ctx *c, bool *fresh)
{
	const struct zctl_swapon *so = c->so;
	char opts[PATH_MAX + 256], other[64];
	size_t n;
	int rc;

	c->step = "mount";
	*fresh = false;
	rc = zctl_sys_mounted(c->mnt, other, sizeof(other));
	if (rc < 0)
		return zctl_swap_fail(c, rc, "/proc/self/mountinfo");
	if (rc == 2)
		return zctl_swap_fail(c, 0, "%s is already a mount point (%s), not zramfuse's",
				      c->mnt, other);
	if (rc == 1)
		return 0;
	if (zctl_swap_hook(c->step))
		return zctl_swap_fail(c, -EIO, "%s", c->mnt);
	n = (size_t)snprintf(opts, sizeof(opts), "size=%" PRIu64 ",comp=%s",
			     so->size, *so->comp ? so->comp : "lz4");
	if (so->comp_level)
		n += (size_t)snprintf(opts + n, sizeof(opts) - n, ",comp_level=%d",
				      so->comp_level);
	if (so->mem_limit)
		n += (size_t)snprintf(opts + n, sizeof(opts) - n,
				      ",mem_limit=%" PRIu64, so->mem_limit);
	if (so->writeback)
		n += (size_t)snprintf(opts + n, sizeof(opts) - n,
				      ",backing_dev=%s", so->writeback);
	if (n >= sizeof(opts))
		return zctl_swap_fail(c, -ENAMETOOLONG, "options");
	rc = zctl_swap_find_daemon(c);
	if (rc)
		return rc;
	rc = zctl_swap_run(c->daemon, (const char *[]){ "@zramfuse", "-o",
			   opts, c->mnt, NULL }, false);
	if (rc < 0)
		return zctl_swap_fail(c, rc, "%s", c->daemon);
	if (rc)
		return zctl_swap_fail(c, 0, "%s -o %s %s exited with status %d",
				      c->daemon, opts, c->mnt, rc);
	c->mounted = true;
	*fresh = true;
	printf("mounted %s (zramfuse -o %s)\n", c->mnt, opts);
	return 0;
}

/* The mount was there: does it hold what was asked for? */
static int zctl_swap_check(struct zctl_swap_ctx *c)
{
	const struct zctl_swapon *so = c->so;
	char alg[32], want[32], have[32];
	struct stat st;

	c->step = "mount";
	if (*so->comp && !zctl_sys_algorithm(c->mnt, alg, sizeof(alg)) &&
	    strcmp(alg, so->comp))
		return zctl_swap_fail(c, 0, "%s is mounted with %s, not %s: run zramfusectl swapoff %s first",
				      c->mnt, alg, so->comp, c->mnt);
	if (so->size_set && !stat(c->file, &st) &&
	    (uint64_t)st.st_size != ((so->size + ZCTL_PAGE - 1) & ~(ZCTL_PAGE - 1))) {
		zctl_sys_human((uint64_t)st.st_size, have, sizeof(have));
		zctl_sys_human(so->size, want, sizeof(want));
		return zctl_swap_fail(c, 0, "%s is %s, not %s: run zramfusectl swapoff %s first",
				      c->file, have, want, c->mnt);
	}
	if (so->mem_limit_set) {
		/* the one setting that changes live, as on zram; the old
		 * value is kept for the rollback */
		char *end;
		long rc = zctl_sys_ctl_read(c->mnt, "mem_limit", have, sizeof(have));

		if (rc < 0)
			return zctl_swap_fail(c, (int)rc, "%s/.zram/mem_limit", c->mnt);
		errno = 0;
		c->old_limit = strtoull(have, &end, 10);
		if (errno || end == have || (*end && *end != '\n'))
			return zctl_swap_fail(c, 0, "%s/.zram/mem_limit: not a number: %s",
					      c->mnt, have);
		if (c->old_limit == so->mem_limit)
			return 0;
		snprintf(want, sizeof(want), "%" PRIu64, so->mem_limit);
		rc = zctl_sys_ctl_write(c->mnt, "mem_limit", want);
		if (rc)
			return zctl_swap_fail(c, (int)rc, "%s/.zram/mem_limit", c->mnt);
		c->set_limit = true;
		printf("mem_limit of %s: %s (was %" PRIu64 ")\n", c->mnt, want,
		       c->old_limit);
	}
	return 0;
}

static int zctl_swap_file(struct zctl_swap_ctx *c)
{
	int fd, rc = 0;

	c->step = "file";
	if (!access(c->file, F_OK))
		return 0;
	if (zctl_swap_hook(c->step))
		return zctl_swap_fail(c, -EIO, "%s", c->file);
	if (!c->so->size)
		return zctl_swap_fail(c, -ENOENT, "%s (and no size to create it with)",
				      c->file);
	fd = open(c->file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return zctl_swap_fail(c, -errno, "create %s", c->file);
	c->made_file = true;
	if (ftruncate(fd, (off_t)c->so->size))
		rc = zctl_swap_fail(c, -errno, "size %s", c->file);
	else
		printf("created %s\n", c->file);
	close(fd);
	return rc;
}

static int zctl_swap_attach(struct zctl_swap_ctx *c)
{
	struct loop_config cfg;
	char p[96], dio[8];
	int ctl, fd, lfd = -1, n, tries, rc;

	c->step = "loop";
	if (!zctl_sys_loop_of(c->file, c->loop, sizeof(c->loop))) {
		snprintf(c->dev, sizeof(c->dev), "/dev/%s", c->loop);
		return 0;
	}
	if (zctl_swap_hook(c->step))
		return zctl_swap_fail(c, -EIO, "%s", c->file);
	fd = open(c->file, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return zctl_swap_fail(c, -errno, "open %s", c->file);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		rc = zctl_swap_fail(c, -errno, "/dev/loop-control");
		close(fd);
		return rc;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (unsigned int)fd;
	cfg.block_size = ZCTL_PAGE;
	cfg.info.lo_flags = LO_FLAGS_DIRECT_IO;
	/* what losetup -l shows; cut short as losetup cuts it */
	for (n = 0; c->file[n] && n + 1 < LO_NAME_SIZE; n++)
		cfg.info.lo_file_name[n] = (unsigned char)c->file[n];
	/* another process may take the free device between the two calls */
	for (tries = 0;; tries++) {
		if (getenv("ZRAMFUSECTL_TEST_NO_FREE_LOOP")) {
			errno = ENOSPC;
			n = -1;
		} else {
			n = ioctl(ctl, LOOP_CTL_GET_FREE);
		}
		if (n < 0) {
			rc = zctl_swap_fail(c, -errno, "no free loop device");
			break;
		}
		snprintf(c->dev, sizeof(c->dev), "/dev/loop%d", n);
		lfd = open(c->dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			rc = zctl_swap_fail(c, -errno, "open %s", c->dev);
			break;
		}
		if (!ioctl(lfd, LOOP_CONFIGURE, &cfg)) {
			rc = 0;
			break;
		}
		rc = -errno;
		close(lfd);
		lfd = -1;
		if (rc != -EBUSY || tries == 64) {
			rc = zctl_swap_fail(c, rc, "LOOP_CONFIGURE %s", c->dev);
			break;
		}
	}
	close(ctl);
	close(fd);
	if (rc)
		return rc;
	snprintf(c->loop, sizeof(c->loop), "loop%d", n);
	c->attached = true;
	close(lfd);
	snprintf(p, sizeof(p), "/sys/block/%s/loop/dio", c->loop);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? (int)read(fd, dio, sizeof(dio) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 1 || dio[0] != '1')
		return zctl_swap_fail(c, 0, "%s: the kernel refused direct I/O on %s",
				      c->dev, c->file);
	printf("attached %s to %s (direct I/O, 4096-byte sectors)\n", c->file,
	       c->dev);
	return 0;
}

static int zctl_swap_wbt(struct zctl_swap_ctx *c)
{
	char p[96];
	int fd, rc = 0;

	c->step = "wbt";
	if (zctl_swap_hook(c->step))
		return zctl_swap_fail(c, -EIO, "%s", c->dev);
	snprintf(p, sizeof(p), "/sys/block/%s/queue/wbt_lat_usec", c->loop);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)	/* a kernel without writeback throttling */
		return errno == ENOENT ? 0 : zctl_swap_fail(c, -errno, "%s", p);
	if (write(fd, "0\n", 2) != 2)
		rc = zctl_swap_fail(c, -errno, "%s", p);
	close(fd);
	return rc;
}

static int zctl_swap_enable(struct zctl_swap_ctx *c)
{
	const struct zctl_swapon *so = c->so;
	struct zctl_sys_swap sw;
	int flags = 0, rc;

	zctl_sys_swap_of(c->loop, &sw);
	if (sw.on && so->prio_set && so->prio >= 0 && sw.prio != so->prio) {
		c->step = "swapon";
		return zctl_swap_fail(c, 0, "swap is on on %s at priority %d, not %d: run zramfusectl swapoff %s first",
				      c->dev, sw.prio, so->prio, c->mnt);
	}
	if (sw.on)
		return 0;
	c->step = "mkswap";
	if (zctl_swap_hook(c->step))
		return zctl_swap_fail(c, -EIO, "%s", c->dev);
	rc = zctl_swap_run("mkswap", (const char *[]){ "mkswap", c->dev, NULL }, true);
	if (rc)
		return rc < 0 ? zctl_swap_fail(c, rc, "mkswap %s", c->dev) :
			zctl_swap_fail(c, 0, "mkswap %s exited with status %d",
				       c->dev, rc);
	c->step = "swapon";
	if (zctl_swap_hook(c->step))
		return zctl_swap_fail(c, -EIO, "%s", c->dev);
	if (so->prio >= 0)
		flags = SWAP_FLAG_PREFER |
			((so->prio << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK);
	switch (so->discard) {
	case ZCTL_DISCARD_NONE:
		break;
	case ZCTL_DISCARD_BOTH:
		flags |= SWAP_FLAG_DISCARD;
		break;
	case ZCTL_DISCARD_ONCE:
		flags |= SWAP_FLAG_DISCARD | SWAP_FLAG_DISCARD_ONCE;
		break;
	case ZCTL_DISCARD_PAGES:
		flags |= SWAP_FLAG_DISCARD | SWAP_FLAG_DISCARD_PAGES;
		break;
	}
	if (swapon(c->dev, flags))
		return zctl_swap_fail(c, -errno, "swapon %s", c->dev);
	c->swapped = true;
	printf("swapon %s\n", c->dev);
	return 0;
}

/* LOOP_CLR_FD, then wait up to 10 s for the device to let go. */
static int zctl_swap_detach(const char *loop)
{
	char dev[48], p[96], back[PATH_MAX];
	int fd, i, rc = 0;

	snprintf(dev, sizeof(dev), "/dev/%s", loop);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, LOOP_CLR_FD) && errno != ENXIO)
		rc = -errno;
	close(fd);
	if (rc)
		return rc;
	snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", loop);
	for (i = 0; i < 1000; i++) {
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 0;
		rc = (int)read(fd, back, sizeof(back));
		close(fd);
		if (rc <= 0)
			return 0;
		zctl_swap_sleep_ms(10);
	}
	return -EBUSY;
}

/* umount, retried for 10 s while the file is busy (a closing loop). */
static int zctl_swap_umount(const char *mnt)
{
	int i;

	for (i = 0; i < 1000; i++) {
		if (!umount2(mnt, UMOUNT_NOFOLLOW))
			return 0;
		if (errno != EBUSY)
			return -errno;
		zctl_swap_sleep_ms(10);
	}
	return -EBUSY;
}

/* Undo what this run did, newest first, saying what. */
static void zctl_swap_rollback(struct zctl_swap_ctx *c)
{
	int rc;

	if (c->swapped) {
		if (swapoff(c->dev))
			zctl_err("rollback: swapoff %s: %m", c->dev);
		else
			zctl_err("rolled back: swapoff %s", c->dev);
	}
	if (c->attached) {
		rc = zctl_swap_detach(c->loop);
		if (rc)
			zctl_err("rollback: detach %s: %s", c->dev, strerror(-rc));
		else
			zctl_err("rolled back: detached %s", c->dev);
	}
	if (c->made_file && !c->mounted) {
		if (unlink(c->file))
			zctl_err("rollback: unlink %s: %m", c->file);
		else
			zctl_err("rolled back: removed %s", c->file);
	}
	if (c->set_limit) {
		char old[32];

		snprintf(old, sizeof(old), "%" PRIu64, c->old_limit);
		rc = zctl_sys_ctl_write(c->mnt, "mem_limit", old);
		if (rc)
			zctl_err("rollback: mem_limit of %s back to %s: %s", c->mnt, old,
				 strerror(-rc));
		else
			zctl_err("rolled back: mem_limit of %s back to %s", c->mnt, old);
	}
	if (c->mounted) {
		rc = zctl_swap_umount(c->mnt);
		if (rc)
			zctl_err("rollback: umount %s: %s", c->mnt, strerror(-rc));
		else
			zctl_err("rolled back: unmounted %s", c->mnt);
	}
	if (c->made_dir) {
		if (rmdir(c->so->mnt))
			zctl_err("rollback: rmdir %s: %m", c->so->mnt);
		else
			zctl_err("rolled back: removed %s", c->so->mnt);
	}
}

int zctl_swap_on(const struct zctl_swapon *so)
{
	struct zctl_swap_ctx c = { .so = so };
	char size[32], lim[32];
	struct zctl_sys_swap sw;
	bool fresh;
	int rc;

	c.step = "arguments";
	if (so->writeback && zctl_swap_find_daemon(&c))
		return 1;
	if (so->writeback && !zctl_swap_daemon_has(c.daemon, "backing_dev"))
		return zctl_swap_fail(&c, 0, "writeback device %s: this zramfuse (%s) has no writeback (-o backing_dev)",
				      so->writeback, c.daemon);
	if (so->writeback && strchr(so->writeback, ','))
		return zctl_swap_fail(&c, 0, "writeback device %s: a comma in the path",
				      so->writeback);
	rc = zctl_swap_mountpoint(&c);
	if (!rc)
		rc = zctl_swap_mount(&c, &fresh);
	if (!rc && !fresh)
		rc = zctl_swap_check(&c);
	if (!rc)
		rc = zctl_swap_file(&c);
	if (!rc)
		rc = zctl_swap_attach(&c);
	if (!rc)
		rc = zctl_swap_wbt(&c);
	if (!rc)
		rc = zctl_swap_enable(&c);
	if (rc) {
		zctl_swap_rollback(&c);
		return 1;
	}
	zctl_sys_swap_of(c.loop, &sw);
	if (!c.mounted && !c.set_limit && !c.made_file && !c.attached && !c.swapped)
		printf("already set up: ");
	{
		struct zctl_sys_mm mm;
		struct stat st;
		char alg[32] = "?";

		zctl_sys_algorithm(c.mnt, alg, sizeof(alg));
		if (stat(c.file, &st))
			st.st_size = 0;
		zctl_sys_human((uint64_t)st.st_size, size, sizeof(size));
		if (zctl_sys_mm_stat(c.mnt, &mm) || !mm.limit)
			snprintf(lim, sizeof(lim), "none");
		else
			zctl_sys_human(mm.limit, lim, sizeof(lim));
		static const char *const discard[] = { "", ", discard",
						       ", discard=once",
						       ", discard=pages" };

		printf("%s (%s, %s, mem-limit %s) on %s, swap priority %d%s\n",
		       c.file, size, alg, lim, c.dev, sw.prio,
		       c.swapped ? discard[so->discard] : "");
	}
	return 0;
}

int zctl_swap_off(const char *mnt_arg)
{
	struct zctl_sys_file *files;
	char mnt[PATH_MAX], path[2 * PATH_MAX], loop[32], other[64];
	struct zctl_sys_swap sw;
	size_t n, i;
	int rc, bad = 0;

	if (!realpath(mnt_arg, mnt)) {
		if (errno == ENOENT) {
			printf("%s: not set up\n", mnt_arg);
			return 0;
		}
		zctl_err("swapoff: %s: %m", mnt_arg);
		return 1;
	}
	rc = zctl_sys_mounted(mnt, other, sizeof(other));
	if (rc == 0) {
		printf("%s: not set up\n", mnt);
		return 0;
	}
	if (rc == 2) {
		zctl_err("swapoff: %s is a %s mount, not zramfuse's", mnt, other);
		return 1;
	}
	if (rc < 0) {
		zctl_err("swapoff: /proc/self/mountinfo: %s", strerror(-rc));
		return 1;
	}
	rc = zctl_sys_files(mnt, &files, &n);
	if (rc) {
		zctl_err("swapoff: %s/.zram/files: %s", mnt, strerror(-rc));
		return 1;
	}
	/* step 1, swapoff: all of them before anything is detached */
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", mnt, files[i].name);
		if (zctl_sys_loop_of(path, loop, sizeof(loop)))
			continue;
		zctl_sys_swap_of(loop, &sw);
		if (!sw.on)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", loop);
		if (zctl_swap_hook("swapoff")) {
			rc = -ENOMEM;
		} else {
			rc = swapoff(path) ? -errno : 0;
			/* systemd's own swap unit may have turned it off */
			if (rc)
				zctl_sys_swap_of(loop, &sw);
			if (rc && !sw.on)
				rc = 0;
		}
		if (rc) {
			zctl_err("swapoff %s: %s%s: swap, %s and %s stay as they are",
				 path, strerror(-rc),
				 rc == -ENOMEM ? " (not enough memory to take back the pages swapped out)" : "",
				 path, mnt);
			zctl_sys_free_files(files, n);
			return 1;
		}
		printf("swapoff %s\n", path);
	}
	/* step 2, detach */
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", mnt, files[i].name);
		if (zctl_sys_loop_of(path, loop, sizeof(loop)))
			continue;
		rc = zctl_swap_detach(loop);
		if (rc) {
			zctl_err("swapoff: detach /dev/%s: %s", loop, strerror(-rc));
			bad = 1;
		} else {
			printf("detached /dev/%s\n", loop);
		}
	}
	zctl_sys_free_files(files, n);
	if (bad)
		return 1;
	/* step 3, umount; the daemon exits by itself */
	rc = zctl_swap_umount(mnt);
	if (rc) {
		zctl_err("swapoff: umount %s: %s", mnt, strerror(-rc));
		return 1;
	}
	printf("unmounted %s\n", mnt);
	return 0;
}
