// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zctl_sys: what zramfusectl reads from the system, each source read
 * afresh by one function into a plain struct or list of zctl_sys.h (nothing
 * is cached here):
 *
 *   mounts      /proc/self/mountinfo, type fuse.zramfuse (the daemon
 *               mounts with subtype=zramfuse, so an fstab line and
 *               mount.fuse3 give the same type)
 *   loops       /sys/block/loopN/loop/backing_file: the path the loop
 *               device was given, which for a file of a mount is
 *               <mnt>/<file>
 *   swaps       /proc/swaps
 *   .zram/      the control directory's files, whose columns are in
 *               man/zramfuse.8
 *
 * and MemTotal for the configuration's "ram", and sizes printed as zramctl
 * prints them.  Nothing here changes anything but the control directory's
 * writable files.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zctl_sys.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void zctl_sys_unoctal(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/*
 * Walk mountinfo: call fn(mount point, fstype, arg) for each mount until
 * it returns non-zero, which is returned.
 */
static int zctl_sys_each_mount(int (*fn)(const char *, const char *, void *),
			       void *arg)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	if (!f)
		return -errno;
	while (!rc && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [tags] - type src sopts */
		char *save, *tok, *mnt = NULL, *type = NULL;
		int i = 0;

		for (tok = strtok_r(line, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save), i++) {
			if (i == 4)
				mnt = tok;
			if (i > 5 && !strcmp(tok, "-")) {
				type = strtok_r(NULL, " \n", &save);
				break;
			}
		}
		if (!mnt || !type)
			continue;
		zctl_sys_unoctal(mnt);
		rc = fn(mnt, type, arg);
	}
	free(line);
	fclose(f);
	return rc;
}

struct zctl_sys_mlist {
	char **v;
	size_t n;
	int err;
};

static int zctl_sys_add_mount(const char *mnt, const char *type, void *arg)
{
	struct zctl_sys_mlist *l = arg;
	char **v;
	size_t i;

	if (strcmp(type, ZCTL_FSTYPE))
		return 0;
	/* mounted twice on one point: the listing shows it once */
	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], mnt))
			return 0;
	v = realloc(l->v, (l->n + 2) * sizeof(*v));
	if (!v)
		return l->err = -ENOMEM;
	l->v = v;
	l->v[l->n] = strdup(mnt);
	if (!l->v[l->n])
		return l->err = -ENOMEM;
	l->v[++l->n] = NULL;
	return 0;
}

char **zctl_sys_mounts(void)
{
	struct zctl_sys_mlist l = { 0 };
	int rc;

	l.v = calloc(1, sizeof(*l.v));
	if (!l.v)
		return NULL;
	rc = zctl_sys_each_mount(zctl_sys_add_mount, &l);
	if (rc || l.err) {
		errno = l.err ? -l.err : -rc;
		zctl_sys_free_list(l.v);
		return NULL;
	}
	return l.v;
}

void zctl_sys_free_list(char **list)
{
	char **p;

	for (p = list; p && *p; p++)
		free(*p);
	free(list);
}

struct zctl_sys_at {
	const char *path;
	int what;		/* of the last mount at path: it is on top */
	char type[64];
};

static int zctl_sys_at_fn(const char *mnt, const char *type, void *arg)
{
	struct zctl_sys_at *a = arg;

	if (strcmp(mnt, a->path))
		return 0;
	a->what = strcmp(type, ZCTL_FSTYPE) ? 2 : 1;
	snprintf(a->type, sizeof(a->type), "%s", type);
	return 0;
}

int zctl_sys_mounted(const char *path, char *other, size_t len)
{
	struct zctl_sys_at a = { .path = path };
	int rc = zctl_sys_each_mount(zctl_sys_at_fn, &a);

	if (rc)
		return rc;
	if (other && len)
		snprintf(other, len, "%s", a.type);
	return a.what;
}

/* Read a small file whole; strip the final newline. */
static long zctl_sys_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (got + 1 < len) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	if (got && buf[got - 1] == '\n')
		buf[--got] = '\0';
	return (long)got;
}

int zctl_sys_loop_of(const char *path, char *name, size_t len)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	char p[PATH_MAX + 64], back[PATH_MAX + 16];
	int rc = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "loop", 4) ||
		    !isdigit((unsigned char)de->d_name[4]))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file",
			 de->d_name);
		if (zctl_sys_read(p, back, sizeof(back)) <= 0)
			continue;	/* not attached */
		if (!strcmp(back, path)) {
			snprintf(name, len, "%s", de->d_name);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

int zctl_sys_swap_of(const char *name, struct zctl_sys_swap *sw)
{
	FILE *f = fopen("/proc/swaps", "re");
	char dev[PATH_MAX], type[32];
	unsigned long long size, used;
	char *line = NULL;
	size_t cap = 0;
	int prio;

	memset(sw, 0, sizeof(*sw));
	if (!f)
		return -errno;
	snprintf(type, sizeof(type), "%s", "");
	while (getline(&line, &cap, f) > 0) {
		/* Filename Type Size Used Priority; sizes in KiB */
		if (sscanf(line, "%4095s %31s %llu %llu %d", dev, type, &size,
			   &used, &prio) != 5)
			continue;
		if (strncmp(dev, "/dev/", 5) || strcmp(dev + 5, name))
			continue;
		sw->on = true;
		sw->prio = prio;
		sw->size = size << 10;
		sw->used = used << 10;
		break;
	}
	free(line);
	fclose(f);
	return 0;
}

long zctl_sys_ctl_read(const char *mnt, const char *file, char *buf, size_t len)
{
	char p[PATH_MAX];

	if ((size_t)snprintf(p, sizeof(p), "%s/.zram/%s", mnt, file) >= sizeof(p))
		return -ENAMETOOLONG;
	return zctl_sys_read(p, buf, len);
}

int zctl_sys_ctl_write(const char *mnt, const char *file, const char *text)
{
	char p[PATH_MAX];
	size_t len = strlen(text);
	ssize_t n;
	int fd, rc = 0;

	if ((size_t)snprintf(p, sizeof(p), "%s/.zram/%s", mnt, file) >= sizeof(p))
		return -ENAMETOOLONG;
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != len)
		rc = -EIO;
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

/* Parse up to n decimal columns of a control file. */
static int zctl_sys_columns(const char *mnt, const char *file, uint64_t *v,
			    int n)
{
	char buf[512], *p, *end;
	long rc = zctl_sys_ctl_read(mnt, file, buf, sizeof(buf));
	int i;

	if (rc < 0)
		return (int)rc;
	p = buf;
	for (i = 0; i < n; i++) {
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (end == p || errno)
			return -EPROTO;
		p = end;
	}
	return 0;
}

int zctl_sys_mm_stat(const char *mnt, struct zctl_sys_mm *mm)
{
	uint64_t v[9];
	int rc = zctl_sys_columns(mnt, "mm_stat", v, 9);

	if (rc)
		return rc;
	*mm = (struct zctl_sys_mm){ v[0], v[1], v[2], v[3], v[4], v[5], v[6],
				v[7], v[8] };
	return 0;
}

int zctl_sys_reclaim_stat(const char *mnt, struct zctl_sys_reclaim *rs)
{
	uint64_t v[5];
	int rc = zctl_sys_columns(mnt, "reclaim_stat", v, 5);

	if (rc)
		return rc;
	*rs = (struct zctl_sys_reclaim){ v[0], v[1], v[2], v[3], v[4] };
	return 0;
}

int zctl_sys_algorithm(const char *mnt, char *alg, size_t len)
{
	char buf[256], *b, *e;
	long rc = zctl_sys_ctl_read(mnt, "comp_algorithm", buf, sizeof(buf));

	if (rc < 0)
		return (int)rc;
	b = strchr(buf, '[');
	e = b ? strchr(b, ']') : NULL;
	if (!e)
		return -EPROTO;
	*e = '\0';
	snprintf(alg, len, "%s", b + 1);
	return 0;
}

int zctl_sys_transport(const char *mnt, char *out, size_t len)
{
	char buf[256];
	long rc = zctl_sys_ctl_read(mnt, "transport", buf, sizeof(buf));

	if (rc < 0)
		return (int)rc;
	buf[strcspn(buf, " \n")] = '\0';
	if (!*buf)
		return -EPROTO;
	snprintf(out, len, "%s", buf);
	return 0;
}

/* .zram/files writes a newline in a name as \n and a backslash as \\. */
static void zctl_sys_unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*d++ = '\n';
			s++;
		} else if (s[0] == '\\' && s[1] == '\\') {
			*d++ = '\\';
			s++;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

int zctl_sys_files(const char *mnt, struct zctl_sys_file **files, size_t *n)
{
	char p[PATH_MAX], *line = NULL;
	struct zctl_sys_file *v = NULL, *nv;
	size_t cap = 0, cnt = 0;
	FILE *f;
	int rc = 0;

	*files = NULL;
	*n = 0;
	if ((size_t)snprintf(p, sizeof(p), "%s/.zram/files", mnt) >= sizeof(p))
		return -ENAMETOOLONG;
	f = fopen(p, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		unsigned long long size, pages, compr;
		int off = 0;

		line[strcspn(line, "\n")] = '\0';
		/* size pages compr name; the name runs to the end of the line */
		if (sscanf(line, "%llu %llu %llu %n", &size, &pages, &compr,
			   &off) != 3 || !off) {
			rc = -EPROTO;
			break;
		}
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv) {
			rc = -ENOMEM;
			break;
		}
		v = nv;
		v[cnt].size = size;
		v[cnt].pages = pages;
		v[cnt].compr = compr;
		v[cnt].name = strdup(line + off);
		if (!v[cnt].name) {
			rc = -ENOMEM;
			break;
		}
		zctl_sys_unescape(v[cnt++].name);
	}
	free(line);
	fclose(f);
	if (rc) {
		zctl_sys_free_files(v, cnt);
		return rc;
	}
	*files = v;
	*n = cnt;
	return 0;
}

void zctl_sys_free_files(struct zctl_sys_file *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(files[i].name);
	free(files);
}

void zctl_sys_human(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	uint64_t whole = bytes, rest = 0;
	int u = 0, tenth;

	while (whole >= 1024 && u < 6) {
		rest = whole & 1023;
		whole >>= 10;
		u++;
	}
	/* one decimal, rounded; 1023.96K becomes 1M */
	tenth = (int)((rest * 10 + 512) / 1024);
	if (tenth == 10) {
		whole++;
		tenth = 0;
		if (whole == 1024 && u < 6) {
			whole = 1;
			u++;
		}
	}
	if (tenth)
		snprintf(buf, len, "%" PRIu64 ".%d%c", whole, tenth, units[u]);
	else
		snprintf(buf, len, "%" PRIu64 "%c", whole, units[u]);
}

int zctl_sys_ram_mib(double *mib)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[256];
	int rc = -EPROTO;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
			*mib = (double)kib / 1024.0;
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}
