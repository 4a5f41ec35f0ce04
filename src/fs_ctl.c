// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fs_ctl: the control directory <mnt>/.zram/, zram's sysfs attributes as
 * files (names, syntax, columns and errnos as zram has them, so that
 * zram users' scripts work unchanged), and the files zram lacks.
 *
 * The data structure is one table, fs_ctl_files[], declared the way zram
 * declares its attributes: a row per file - name, mode, show, store - and
 * the two functions beside it.  A new control file is a row and its two
 * functions; nothing else in the tree names it (fs.c serves whatever the
 * table holds: node ids, lookup, readdir, stat, open, read and write).
 * A row's index is its place in readdir and its node id's offset from
 * fs.c's first control id.  A family of like files - the stats.c lines,
 * the policy knobs - gets its functions from one macro each.
 *
 *   show   writes the file's text into a buffer of @cap bytes and returns
 *          its length, as snprintf() does: when that is @cap or more, it
 *          runs again with room for the whole.  Most texts are one line
 *          from stats.c; the long ones (files, block_state) cost a second
 *          run only when they outgrow the first buffer, a page.
 *   store  takes the written value, trailing blanks and newlines cut
 *          (sysfs_streq()'s leniency), and returns 0 or zram's -errno.
 *          It runs on the writing thread and may take as long as the
 *          work does (a compaction, a writeback pass): sysfs does the same.
 *
 * No show or store waits for a writeback or recompression pass that
 * runs: a show answers at once, a store that would change what the pass
 * uses gets -EBUSY and a second pass -EAGAIN, as zram's (the store's
 * locks, src/store_core.h, are built for it).
 *
 * Reading: the text is made whole when a read starts at offset 0 and kept
 * in the open handle, so a reader that takes it in pieces sees one
 * snapshot; the trade-off against a seq_file-like cursor is memory for
 * the length of the open, which only block_state makes large.
 *
 * Permissions follow sysfs: the mode decides even for root, and only root
 * writes (the directory is root's).  This file never touches the pool
 * (the store's functions do) and includes no libfuse header.
 *
 * Lock order: a handle's lock (held while a show runs), then what the
 * show takes - fs.c's lock (files, block_state's choice of file), then
 * the store's own.  Writes take no lock here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fs_ctl.h"
#include "policy.h"
#include "pp.h"
#include "size.h"
#include "stats.h"
#include "store.h"

/* The first buffer a show gets: a page, as sysfs gives one. */
#define FS_CTL_TEXT_MIN 4096
/* page_index= words in one write to writeback (4 KiB holds about 300) */
#define FS_CTL_MAX_SCANS 512

struct fs_ctl_file {
	const char *name;
	mode_t mode;
	/* NULL for a file that cannot be read (mode without r) */
	ssize_t (*show)(const struct fs_ctl_host *host, char *buf, size_t cap);
	/* NULL for a file that cannot be written (mode without w) */
	int (*store)(const struct fs_ctl_host *host, const char *val);
};

/* A control file's open handle: its text, made at offset 0. */
struct fs_ctl_handle {
	const struct fs_ctl_file *f;
	pthread_mutex_t lock;
	char *text;			/* protected by lock */
	size_t len;			/* protected by lock */
};

/* The room left in a text of @cap bytes after @n: none once it is full. */
static size_t fs_ctl_room(size_t cap, size_t n)
{
	return n < cap ? cap - n : 0;
}

/* ---- zram's statistics --------------------------------------------------- */

/* A file that is one stats.c formatter over the store's figures. */
static ssize_t fs_ctl_stats(const struct fs_ctl_host *host,
			    int (*fmt)(const struct store_stats *s, char *buf,
				       size_t len),
			    char *buf, size_t cap)
{
	struct store_stats s;

	store_stats(host->st, &s);
	return fmt(&s, buf, cap);
}

/* fs_ctl_<name>_show(): stats_<name>() */
#define FS_CTL_STATS(name)						\
static ssize_t fs_ctl_##name##_show(const struct fs_ctl_host *host, char *buf, size_t cap) \
{									\
	return fs_ctl_stats(host, stats_##name, buf, cap);		\
}

FS_CTL_STATS(mm_stat)
FS_CTL_STATS(io_stat)
FS_CTL_STATS(bd_stat)

/* ---- memory ---------------------------------------------------------------- */

static ssize_t fs_ctl_mem_limit_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	struct store_stats s;

	store_stats(host->st, &s);
	return stats_u64(s.mem_limit, buf, cap);
}

/* "1G\n", "0" (no limit) */
static int fs_ctl_mem_limit_store(const struct fs_ctl_host *host, const char *val)
{
	uint64_t v;

	if (size_parse(val, 0, &v))
		return -EINVAL;
	store_set_mem_limit(host->st, v);
	return 0;
}

static ssize_t fs_ctl_mem_used_max_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	struct store_stats s;

	store_stats(host->st, &s);
	return stats_u64(s.mem_used_max, buf, cap);
}

/* Only "0": the peak starts again from what is used now. */
static int fs_ctl_mem_used_max_store(const struct fs_ctl_host *host, const char *val)
{
	if (strcmp(val, "0"))
		return -EINVAL;
	store_reset_mem_used_max(host->st);
	return 0;
}

/* Any value: free what waits in the reclaim queue first, then compact. */
static int fs_ctl_compact_store(const struct fs_ctl_host *host, const char *val)
{
	(void)val;
	store_drain(host->st);
	store_compact(host->st);
	return 0;
}

/* ---- the store's own figures (not in zram) ------------------------------ */

FS_CTL_STATS(reclaim_stat)
FS_CTL_STATS(reserve_stat)
FS_CTL_STATS(readback_stat)

/* One line per named file (stats_file_line()), oldest first. */
struct fs_ctl_files_text {
	char *buf;
	size_t cap, n;
};

static void fs_ctl_files_line(void *arg, const char *name, uint64_t size,
			      uint64_t pages, uint64_t compr)
{
	struct fs_ctl_files_text *t = arg;
	size_t room = fs_ctl_room(t->cap, t->n);

	t->n += (size_t)stats_file_line(size, pages, compr, name,
					t->buf + (room ? t->n : 0), room);
}

static ssize_t fs_ctl_files_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	struct fs_ctl_files_text t = { .buf = buf, .cap = cap };

	buf[0] = '\0';
	host->ops->for_each_file(host, fs_ctl_files_line, &t);
	return (ssize_t)t.n;
}

/* ---- the transport (not in zram) -------------------------------------------- */

/* "uring (...)" or "classic (...)": what serves the requests */
static ssize_t fs_ctl_transport_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	return (ssize_t)host->ops->transport(host, buf, cap);
}

/* ---- codecs ----------------------------------------------------------------- */

static ssize_t fs_ctl_comp_algorithm_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	return stats_comp_algorithm(store_comp_name(host->st), codec_names(),
				    buf, cap);
}

/* zram's form: "#1: lz4 [zstd]", a line per priority set */
static ssize_t fs_ctl_recomp_algorithm_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned p = 1; p < PP_MAX_COMPS; p++) {
		const char *name = store_recomp_name(host->st, p, NULL);
		size_t room = fs_ctl_room(cap, n);
		char line[128];
		int k;

		if (!name)
			continue;
		stats_comp_algorithm(name, codec_names(), line, sizeof(line));
		k = snprintf(buf + (room ? n : 0), room, "#%u: %s", p, line);
		if (k < 0)
			return -ENOMEM;
		n += (size_t)k;
	}
	return (ssize_t)n;
}

/* zram's: algo= and priority= (1 when absent); and level= */
static int fs_ctl_recomp_algorithm_store(const struct fs_ctl_host *host, const char *val)
{
	char algo[16], dict[8];
	int prio, level, rc;

	rc = pp_parse_algo(val, algo, sizeof(algo), &prio, &level, dict,
			   sizeof(dict));
	if (rc || !algo[0] || dict[0] || prio == 0)
		return -EINVAL;
	return store_set_recomp(host->st, prio < 0 ? 1 : (unsigned)prio, algo,
				level);
}

/* zram's: priority= or algo= names the codec; level=, dict= */
static int fs_ctl_algorithm_params_store(const struct fs_ctl_host *host, const char *val)
{
	char algo[16], dict[PATH_MAX];
	int prio, level, rc;

	rc = pp_parse_algo(val, algo, sizeof(algo), &prio, &level, dict,
			   sizeof(dict));
	if (rc || (!algo[0] && prio < 0))
		return -EINVAL;
	return store_set_params(host->st, prio, algo[0] ? algo : NULL, level,
				dict[0] ? dict : NULL);
}

/* Not in zram: the last training and the dictionaries in use. */
static ssize_t fs_ctl_train_dict_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	struct store_dict_stats d;

	store_dict_stats(host->st, &d);
	return stats_train_dict(&d, buf, cap);
}

/* "1": a dictionary of the default size; else its size ("16K"). */
static int fs_ctl_train_dict_store(const struct fs_ctl_host *host, const char *val)
{
	uint64_t v;

	if (pp_streq(val, "1"))
		v = STORE_TRAIN_DEFAULT_BYTES;
	else if (size_parse(val, 0, &v) || v > SIZE_MAX)
		return -EINVAL;
	return store_train_dict(host->st, (size_t)v);
}

static int fs_ctl_recompress_store(const struct fs_ctl_host *host, const char *val)
{
	struct pp_recompress r;
	uint64_t done;
	int rc;

	rc = pp_parse_recompress(val, (unsigned)store_huge_size(host->st), &r);
	if (rc)
		return rc;
	return store_recompress(host->st, &r, 0, &done);
}

/* ---- idle pages and writeback ------------------------------------------- */

/* "all", or pages not accessed for that many seconds */
static int fs_ctl_idle_store(const struct fs_ctl_host *host, const char *val)
{
	uint64_t v;

	if (pp_parse_idle(val, &v))
		return -EINVAL;
	store_mark_idle(host->st, v);
	return 0;
}

/* zram's modes and page indexes, the latter in the oldest file's pages. */
static int fs_ctl_writeback_store(const struct fs_ctl_host *host, const char *val)
{
	struct store *st = host->st;
	struct pp_scan *scans;
	struct fs_inode *i;
	uint64_t nr_pages, done;
	size_t n;
	int rc;

	if (!store_has_backing_dev(st))
		return -ENODEV;
	scans = calloc(FS_CTL_MAX_SCANS, sizeof(*scans));
	if (!scans)
		return -ENOMEM;
	i = host->ops->file_primary(host);
	nr_pages = i ? (host->ops->file_size(i) + STORE_PAGE_SIZE - 1) >> STORE_PAGE_SHIFT : 0;
	rc = pp_parse_writeback(val, nr_pages, scans, FS_CTL_MAX_SCANS, &n);
	if (!rc)
		rc = store_writeback(st, i ? host->ops->file_pages(i) : NULL, scans, n, 0,
				     0, &done);
	if (i)
		host->ops->file_unpin(i);
	free(scans);
	return rc;
}

static ssize_t fs_ctl_writeback_limit_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	return stats_u64(store_wb_limit(host->st), buf, cap);
}

static int fs_ctl_writeback_limit_store(const struct fs_ctl_host *host, const char *val)
{
	uint64_t v;

	if (pp_parse_u64(val, 10, &v))
		return -EINVAL;
	store_set_wb_limit(host->st, v);
	return 0;
}

static ssize_t fs_ctl_writeback_limit_enable_show(const struct fs_ctl_host *host, char *buf,
						  size_t cap)
{
	return stats_u64(store_wb_limit_enable(host->st), buf, cap);
}

static int fs_ctl_writeback_limit_enable_store(const struct fs_ctl_host *host, const char *val)
{
	uint64_t v;

	if (pp_parse_u64(val, 10, &v))
		return -EINVAL;
	store_set_wb_limit_enable(host->st, v != 0);
	return 0;
}

/* zram's: how many pages a writeback pass keeps in flight, 32 by default */
static ssize_t fs_ctl_writeback_batch_size_show(const struct fs_ctl_host *host, char *buf,
						size_t cap)
{
	return stats_u64(store_wb_batch(host->st), buf, cap);
}

/* zram's kstrtouint(): a decimal number, 0 refused (EINVAL) */
static int fs_ctl_writeback_batch_size_store(const struct fs_ctl_host *host, const char *val)
{
	uint64_t v;

	if (pp_parse_u64(val, 10, &v))
		return -EINVAL;
	return store_set_wb_batch(host->st, v);
}

/* zram's compressed_writeback: always on here (pages go compressed) */
static ssize_t fs_ctl_compressed_writeback_show(const struct fs_ctl_host *host, char *buf,
						size_t cap)
{
	(void)host;
	return stats_u64(1, buf, cap);
}

/*
 * zram's kstrtobool(): a true value is what it is already, and is taken
 * (a zram script sets it before disksize); false cannot be had - this
 * store keeps every page compressed - and gets zram's errno for a
 * setting that cannot change on an initialised device, EBUSY.
 */
static int fs_ctl_compressed_writeback_store(const struct fs_ctl_host *host, const char *val)
{
	bool on;

	(void)host;
	if (pp_parse_bool(val, &on))
		return -EINVAL;
	return on ? 0 : -EBUSY;
}

static ssize_t fs_ctl_backing_dev_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	char path[PATH_MAX];
	bool has = store_backing_dev(host->st, path, sizeof(path));

	return snprintf(buf, cap, "%s\n", has ? path : "none");
}

/*
 * A file shorter than the device file (the disksize) is made that long
 * (store_set_backing_dev()); the errno says why it was refused, as zram's.
 */
static int fs_ctl_backing_dev_store(const struct fs_ctl_host *host, const char *val)
{
	struct fs_inode *i = host->ops->file_primary(host);
	uint64_t need = i ? host->ops->file_size(i) : 0;

	if (i)
		host->ops->file_unpin(i);
	return store_set_backing_dev(host->st, val, need, NULL, 0);
}

/* The oldest file's pages, one line each; empty when there is no file. */
static ssize_t fs_ctl_block_state_show(const struct fs_ctl_host *host, char *buf, size_t cap)
{
	struct fs_inode *i = host->ops->file_primary(host);
	size_t len, copy;
	char *text;
	int rc;

	buf[0] = '\0';
	if (!i)
		return 0;
	rc = store_block_state(host->ops->file_pages(i), &text, &len);
	host->ops->file_unpin(i);
	if (rc)
		return rc;
	copy = len < cap ? len : cap - 1;
	memcpy(buf, text, copy);
	buf[copy] = '\0';
	free(text);
	return (ssize_t)len;
}

/* ---- the policies (include/policy.h), not in zram ------------------------- */

static ssize_t fs_ctl_policy_show(const struct fs_ctl_host *host, enum policy_knob k, char *buf,
				  size_t cap)
{
	return stats_u64(policy_get(host->policy, k), buf, cap);
}

static int fs_ctl_policy_store(const struct fs_ctl_host *host, enum policy_knob k,
			       const char *val)
{
	uint64_t v;

	if (pp_parse_u64(val, 10, &v))
		return -EINVAL;
	return policy_set(host->policy, k, v);
}

/* A knob's two functions: its value, and a decimal number that sets it. */
#define FS_CTL_POLICY(name, knob)					\
static ssize_t fs_ctl_##name##_show(const struct fs_ctl_host *host, char *buf, size_t cap) \
{									\
	return fs_ctl_policy_show(host, knob, buf, cap);			\
}									\
static int fs_ctl_##name##_store(const struct fs_ctl_host *host, const char *val)	\
{									\
	return fs_ctl_policy_store(host, knob, val);			\
}

FS_CTL_POLICY(writeback_idle, POLICY_WRITEBACK_IDLE)
FS_CTL_POLICY(writeback_idle_pages, POLICY_WRITEBACK_PAGES)
FS_CTL_POLICY(recompress_idle, POLICY_RECOMPRESS_IDLE)
FS_CTL_POLICY(recompress_idle_pages, POLICY_RECOMPRESS_PAGES)

/* ---- the table ---------------------------------------------------------------- */

static const struct fs_ctl_file fs_ctl_files[] = {
	{ "mm_stat", 0444, fs_ctl_mm_stat_show, NULL },
	{ "io_stat", 0444, fs_ctl_io_stat_show, NULL },
	{ "mem_limit", 0644, fs_ctl_mem_limit_show, fs_ctl_mem_limit_store },
	{ "mem_used_max", 0644, fs_ctl_mem_used_max_show, fs_ctl_mem_used_max_store },
	{ "compact", 0200, NULL, fs_ctl_compact_store },
	{ "comp_algorithm", 0444, fs_ctl_comp_algorithm_show, NULL },
	{ "reclaim_stat", 0444, fs_ctl_reclaim_stat_show, NULL },
	{ "reserve_stat", 0444, fs_ctl_reserve_stat_show, NULL },
	{ "readback_stat", 0444, fs_ctl_readback_stat_show, NULL },
	{ "files", 0444, fs_ctl_files_show, NULL },
	{ "transport", 0444, fs_ctl_transport_show, NULL },
	/* post-processing, zram's names */
	{ "idle", 0200, NULL, fs_ctl_idle_store },
	{ "writeback", 0200, NULL, fs_ctl_writeback_store },
	{ "writeback_limit", 0644, fs_ctl_writeback_limit_show,
	  fs_ctl_writeback_limit_store },
	{ "writeback_limit_enable", 0644, fs_ctl_writeback_limit_enable_show,
	  fs_ctl_writeback_limit_enable_store },
	{ "writeback_batch_size", 0644, fs_ctl_writeback_batch_size_show,
	  fs_ctl_writeback_batch_size_store },
	{ "compressed_writeback", 0644, fs_ctl_compressed_writeback_show,
	  fs_ctl_compressed_writeback_store },
	{ "backing_dev", 0644, fs_ctl_backing_dev_show, fs_ctl_backing_dev_store },
	{ "bd_stat", 0444, fs_ctl_bd_stat_show, NULL },
	/* zram's is in debugfs, /sys/kernel/debug/zram/zram0/block_state */
	{ "block_state", 0400, fs_ctl_block_state_show, NULL },
	{ "recomp_algorithm", 0644, fs_ctl_recomp_algorithm_show,
	  fs_ctl_recomp_algorithm_store },
	{ "recompress", 0200, NULL, fs_ctl_recompress_store },
	{ "algorithm_params", 0200, NULL, fs_ctl_algorithm_params_store },
	{ "train_dict", 0644, fs_ctl_train_dict_show, fs_ctl_train_dict_store },
	/* the policies */
	{ "writeback_idle", 0644, fs_ctl_writeback_idle_show,
	  fs_ctl_writeback_idle_store },
	{ "writeback_idle_pages", 0644, fs_ctl_writeback_idle_pages_show,
	  fs_ctl_writeback_idle_pages_store },
	{ "recompress_idle", 0644, fs_ctl_recompress_idle_show,
	  fs_ctl_recompress_idle_store },
	{ "recompress_idle_pages", 0644, fs_ctl_recompress_idle_pages_show,
	  fs_ctl_recompress_idle_pages_store },
};

#define FS_CTL_NR (sizeof(fs_ctl_files) / sizeof(fs_ctl_files[0]))

_Static_assert(FS_CTL_NR <= FS_CTL_MAX_FILES,
	       "the control files must fit in fs.c's fixed node ids");

/* ---- what fs.c calls ---------------------------------------------------------- */

unsigned fs_ctl_count(void)
{
	return FS_CTL_NR;
}

const char *fs_ctl_name(unsigned k)
{
	return fs_ctl_files[k].name;
}

mode_t fs_ctl_mode(unsigned k)
{
	return fs_ctl_files[k].mode;
}

int fs_ctl_find(const char *name)
{
	for (unsigned k = 0; k < FS_CTL_NR; k++)
		if (!strcmp(name, fs_ctl_files[k].name))
			return (int)k;
	return -ENOENT;
}

int fs_ctl_open(unsigned k, int flags, uid_t uid, struct fs_ctl_handle **out)
{
	struct fs_ctl_handle *h;
	mode_t mode = fs_ctl_files[k].mode;
	int acc = flags & O_ACCMODE;

	if (acc != O_WRONLY && !(mode & 0444))
		return -EACCES;
	if (acc != O_RDONLY && (!(mode & 0200) || uid != 0))
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->f = &fs_ctl_files[k];
	pthread_mutex_init(&h->lock, NULL);
	*out = h;
	return 0;
}

void fs_ctl_release(struct fs_ctl_handle *h)
{
	pthread_mutex_destroy(&h->lock);
	free(h->text);
	free(h);
}

/* Run @f's show in a buffer large enough for its whole text. */
static int fs_ctl_text(const struct fs_ctl_host *host, const struct fs_ctl_file *f, char **text,
		       size_t *len)
{
	size_t cap = FS_CTL_TEXT_MIN;

	if (!f->show)
		return -EACCES;
	for (;;) {
		char *buf = malloc(cap);
		ssize_t k;

		if (!buf)
			return -ENOMEM;
		k = f->show(host, buf, cap);
		if (k >= 0 && (size_t)k < cap) {
			*text = buf;
			*len = (size_t)k;
			return 0;
		}
		free(buf);
		if (k < 0)
			return (int)k;
		cap = (size_t)k + 1;	/* it grew: run again with room */
	}
}

ssize_t fs_ctl_read(const struct fs_ctl_host *host, struct fs_ctl_handle *h, char *buf,
		    size_t len, uint64_t off)
{
	ssize_t n = 0;

	pthread_mutex_lock(&h->lock);
	if (off == 0 || !h->text) {
		char *text = NULL;
		size_t tlen = 0;
		int rc = fs_ctl_text(host, h->f, &text, &tlen);

		if (rc) {
			n = rc;
			goto out;
		}
		free(h->text);
		h->text = text;
		h->len = tlen;
	}
	if (off < h->len) {
		n = (ssize_t)(h->len - off < len ? h->len - off : len);
		memcpy(buf, h->text + off, (size_t)n);
	}
out:
	pthread_mutex_unlock(&h->lock);
	return n;
}

ssize_t fs_ctl_write(const struct fs_ctl_host *host, struct fs_ctl_handle *h, const char *data,
		     size_t len, uid_t uid)
{
	char val[STORE_PAGE_SIZE];	/* what sysfs takes in one write */
	size_t n = len;
	int rc;

	if (uid != 0)
		return -EACCES;
	if (n >= sizeof(val))
		return -EINVAL;
	memcpy(val, data, n);
	while (n && (val[n - 1] == '\n' || val[n - 1] == ' ' || val[n - 1] == '\t'))
		n--;
	val[n] = '\0';
	if (!h->f->store)
		return -EACCES;
	rc = h->f->store(host, val);
	return rc ? rc : (ssize_t)len;
}
