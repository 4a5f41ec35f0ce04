// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zctl_list: the listing, as zramctl lists zram devices.
 *
 * One row per file of every zramfuse mount, and one row for a mount that
 * has no file.  The per-file columns (FILE, DISKSIZE, DATA, COMPR, LOOP,
 * SWAP...) come from .zram/files, /sys/block/loopN and /proc/swaps; the
 * others describe the whole mount (its store is shared by its files) and
 * repeat on each of its rows.  libsmartcols prints the table, --raw and
 * --json, as zramctl does; sizes are human-readable unless --bytes, and
 * in JSON they are numbers only with --bytes, counts always, as
 * util-linux's tools have it.  The columns are one table (zctl_list_cols,
 * indexed by enum zctl_list_col); a row is gathered into a struct
 * zctl_list_rowdata first, then each cell is printed from it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <libsmartcols.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zctl_list.h"
#include "zctl_sys.h"

enum zctl_list_col {
	COL_MOUNTPOINT,
	COL_FILE,
	COL_DISKSIZE,
	COL_DATA,
	COL_COMPR,
	COL_ALGORITHM,
	COL_TRANSPORT,
	COL_TOTAL,
	COL_MEMLIMIT,
	COL_MEMUSED,
	COL_SAME,
	COL_HUGE,
	COL_MIGRATED,
	COL_QUEUED,
	COL_QUEUEDDATA,
	COL_LOOP,
	COL_SWAP,
	COL_PRIO,
	COL_SWAPUSED,
	COL_COUNT
};

enum zctl_list_kind { K_TEXT, K_SIZE, K_COUNT, K_BOOL };

static const struct zctl_list_coldesc {
	const char *name;
	double whint;
	int flags;
	enum zctl_list_kind kind;
	bool def;
	const char *help;
} zctl_list_cols[COL_COUNT] = {
	[COL_MOUNTPOINT] = { "MOUNTPOINT", 0.2, 0, K_TEXT, true, "where the filesystem is mounted" },
	[COL_FILE] = { "FILE", 0.1, 0, K_TEXT, true, "the file's name" },
	[COL_DISKSIZE] = { "DISKSIZE", 5, SCOLS_FL_RIGHT, K_SIZE, true, "the file's size" },
	[COL_DATA] = { "DATA", 5, SCOLS_FL_RIGHT, K_SIZE, true, "uncompressed size of the file's stored data" },
	[COL_COMPR] = { "COMPR", 5, SCOLS_FL_RIGHT, K_SIZE, true, "compressed size of the file's stored data" },
	[COL_ALGORITHM] = { "ALGORITHM", 3, 0, K_TEXT, true, "the compression algorithm" },
	[COL_TRANSPORT] = { "TRANSPORT", 3, 0, K_TEXT, true, "what serves the mount: uring (FUSE over io_uring) or classic (/dev/fuse)" },
	[COL_TOTAL] = { "TOTAL", 5, SCOLS_FL_RIGHT, K_SIZE, true, "memory the mount's store uses, fragmentation included" },
	[COL_MEMLIMIT] = { "MEM-LIMIT", 5, SCOLS_FL_RIGHT, K_SIZE, true, "the mount's memory limit (0: none)" },
	[COL_MEMUSED] = { "MEM-USED", 5, SCOLS_FL_RIGHT, K_SIZE, false, "the most memory the store has used" },
	[COL_SAME] = { "SAME-PAGES", 3, SCOLS_FL_RIGHT, K_COUNT, true, "same-filled pages, stored in no memory" },
	[COL_HUGE] = { "HUGE-PAGES", 3, SCOLS_FL_RIGHT, K_COUNT, false, "pages stored uncompressed" },
	[COL_MIGRATED] = { "MIGRATED", 3, SCOLS_FL_RIGHT, K_COUNT, false, "pages freed by compaction" },
	[COL_QUEUED] = { "QUEUED", 3, SCOLS_FL_RIGHT, K_COUNT, true, "discarded pages in the deferred-free queue" },
	[COL_QUEUEDDATA] = { "QUEUED-DATA", 5, SCOLS_FL_RIGHT, K_SIZE, false, "compressed size of the queued pages" },
	[COL_LOOP] = { "LOOP", 5, 0, K_TEXT, true, "the loop device attached to the file" },
	[COL_SWAP] = { "SWAP", 1, SCOLS_FL_RIGHT, K_BOOL, true, "swap is on on that loop device" },
	[COL_PRIO] = { "PRIO", 3, SCOLS_FL_RIGHT, K_COUNT, false, "its swap priority" },
	[COL_SWAPUSED] = { "SWAP-USED", 5, SCOLS_FL_RIGHT, K_SIZE, false, "swap in use on it" },
};

void zctl_list_help_columns(void)
{
	int i;

	for (i = 0; i < COL_COUNT; i++)
		printf(" %12s  %s\n", zctl_list_cols[i].name,
		       zctl_list_cols[i].help);
}

/* Parse --output: comma-separated names, case-insensitive as zramctl's. */
static int zctl_list_columns(const struct zctl_list_opts *lo, int *cols)
{
	char *list, *tok, *save;
	int n = 0, i;

	if (lo->all || !lo->columns) {
		for (i = 0; i < COL_COUNT; i++)
			if (lo->all || zctl_list_cols[i].def)
				cols[n++] = i;
		return n;
	}
	list = strdup(lo->columns);
	if (!list)
		return -ENOMEM;
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < COL_COUNT; i++)
			if (!strcasecmp(tok, zctl_list_cols[i].name))
				break;
		if (i == COL_COUNT) {
			zctl_err("unknown column: %s (see --help)", tok);
			free(list);
			return -EINVAL;
		}
		if (n == COL_COUNT) {
			zctl_err("--output: too many columns");
			free(list);
			return -EINVAL;
		}
		cols[n++] = i;
	}
	free(list);
	if (!n) {
		zctl_err("--output: no column");
		return -EINVAL;
	}
	return n;
}

/* What one row shows; has_* false leaves the cell empty (JSON null). */
struct zctl_list_rowdata {
	const char *mnt;
	const struct zctl_sys_file *file; /* NULL: a mount with no file */
	bool has_mm, has_rs, has_loop;
	struct zctl_sys_mm mm;
	struct zctl_sys_reclaim rs;
	char alg[32];
	char transport[16];
	char loop[32];
	struct zctl_sys_swap sw;
};

static int zctl_list_cell(struct libscols_line *ln, size_t i, int col,
			  const struct zctl_list_rowdata *r, bool bytes)
{
	const struct zctl_sys_file *f = r->file;
	enum zctl_list_kind kind = zctl_list_cols[col].kind;
	char buf[PATH_MAX + 8];
	uint64_t v = 0;
	bool have = true;

	switch (col) {
	case COL_MOUNTPOINT:
		return scols_line_set_data(ln, i, r->mnt);
	case COL_FILE:
		return f ? scols_line_set_data(ln, i, f->name) : 0;
	case COL_ALGORITHM:
		return *r->alg ? scols_line_set_data(ln, i, r->alg) : 0;
	case COL_TRANSPORT:
		return *r->transport ? scols_line_set_data(ln, i, r->transport) : 0;
	case COL_LOOP:
		if (!r->has_loop)
			return 0;
		snprintf(buf, sizeof(buf), "/dev/%s", r->loop);
		return scols_line_set_data(ln, i, buf);
	case COL_SWAP:
		if (!f)
			return 0;
		return scols_line_set_data(ln, i, r->sw.on ? "1" : "0");
	case COL_DISKSIZE:
		have = f;
		v = f ? f->size : 0;
		break;
	case COL_DATA:
		have = f;
		v = f ? f->pages * ZCTL_PAGE : 0;
		break;
	case COL_COMPR:
		have = f;
		v = f ? f->compr : 0;
		break;
	case COL_TOTAL:
		have = r->has_mm;
		v = r->mm.total;
		break;
	case COL_MEMLIMIT:
		have = r->has_mm;
		v = r->mm.limit;
		break;
	case COL_MEMUSED:
		have = r->has_mm;
		v = r->mm.used_max;
		break;
	case COL_SAME:
		have = r->has_mm;
		v = r->mm.same;
		break;
	case COL_HUGE:
		have = r->has_mm;
		v = r->mm.huge;
		break;
	case COL_MIGRATED:
		have = r->has_mm;
		v = r->mm.compacted;
		break;
	case COL_QUEUED:
		have = r->has_rs;
		v = r->rs.queued_pages;
		break;
	case COL_QUEUEDDATA:
		have = r->has_rs;
		v = r->rs.queued_bytes;
		break;
	case COL_PRIO:
		if (!r->sw.on)
			return 0;
		snprintf(buf, sizeof(buf), "%d", r->sw.prio);
		return scols_line_set_data(ln, i, buf);
	case COL_SWAPUSED:
		have = r->sw.on;
		v = r->sw.used;
		break;
	}
	if (!have)
		return 0;
	if (kind == K_SIZE && !bytes) {
		zctl_sys_human(v, buf, sizeof(buf));
		return scols_line_set_data(ln, i, buf);
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return scols_line_set_data(ln, i, buf);
}

static int zctl_list_row(struct libscols_table *tb, const int *cols, int ncols,
			 struct zctl_list_rowdata *r, bool bytes)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	char path[PATH_MAX];
	int i;

	if (!ln)
		return -ENOMEM;
	r->has_loop = false;
	memset(&r->sw, 0, sizeof(r->sw));
	if (r->file && (size_t)snprintf(path, sizeof(path), "%s/%s", r->mnt,
					r->file->name) < sizeof(path) &&
	    !zctl_sys_loop_of(path, r->loop, sizeof(r->loop))) {
		r->has_loop = true;
		zctl_sys_swap_of(r->loop, &r->sw);
	}
	for (i = 0; i < ncols; i++)
		if (zctl_list_cell(ln, (size_t)i, cols[i], r, bytes))
			return -ENOMEM;
	return 0;
}

/* A mount's rows; a mount that does not answer gets one row that says so. */
static int zctl_list_mount(struct libscols_table *tb, const int *cols,
			   int ncols, const char *mnt, bool bytes)
{
	struct zctl_list_rowdata r = { .mnt = mnt };
	struct zctl_sys_file *files;
	size_t n, i;
	int rc;

	r.has_mm = !zctl_sys_mm_stat(mnt, &r.mm);
	r.has_rs = !zctl_sys_reclaim_stat(mnt, &r.rs);
	if (zctl_sys_algorithm(mnt, r.alg, sizeof(r.alg)))
		*r.alg = '\0';
	if (zctl_sys_transport(mnt, r.transport, sizeof(r.transport)))
		*r.transport = '\0';
	rc = zctl_sys_files(mnt, &files, &n);
	if (rc) {
		errno = -rc;
		zctl_err("%s: reading .zram/files: %m", mnt);
		n = 0;
		files = NULL;
	}
	if (!n) {
		rc = zctl_list_row(tb, cols, ncols, &r, bytes);
	} else {
		for (i = 0; i < n && !rc; i++) {
			r.file = &files[i];
			rc = zctl_list_row(tb, cols, ncols, &r, bytes);
		}
	}
	zctl_sys_free_files(files, n);
	return rc;
}

int zctl_list(const struct zctl_list_opts *lo)
{
	int cols[COL_COUNT], ncols, i, rc = 0;
	struct libscols_table *tb;
	char **mounts, **m;

	ncols = zctl_list_columns(lo, cols);
	if (ncols < 0)
		return 1;
	mounts = zctl_sys_mounts();
	if (!mounts) {
		zctl_err("/proc/self/mountinfo: %m");
		return 1;
	}
	scols_init_debug(0);
	tb = scols_new_table();
	if (!tb) {
		zctl_sys_free_list(mounts);
		zctl_err("out of memory");
		return 1;
	}
	scols_table_enable_raw(tb, lo->raw);
	scols_table_enable_noheadings(tb, lo->noheadings);
	if (lo->json) {
		scols_table_enable_json(tb, 1);
		scols_table_set_name(tb, "filesystems");
	}
	for (i = 0; i < ncols; i++) {
		const struct zctl_list_coldesc *d = &zctl_list_cols[cols[i]];
		struct libscols_column *cl;
		int jt = SCOLS_JSON_STRING;

		cl = scols_table_new_column(tb, d->name, d->whint, d->flags);
		if (!cl) {
			rc = -ENOMEM;
			break;
		}
		if (d->kind == K_COUNT || (d->kind == K_SIZE && lo->bytes))
			jt = SCOLS_JSON_NUMBER;
		else if (d->kind == K_BOOL)
			jt = SCOLS_JSON_BOOLEAN;
		scols_column_set_json_type(cl, jt);
	}
	for (m = mounts; !rc && *m; m++)
		rc = zctl_list_mount(tb, cols, ncols, *m, lo->bytes);
	if (!rc)
		rc = scols_print_table(tb);
	scols_unref_table(tb);
	zctl_sys_free_list(mounts);
	if (rc) {
		zctl_err("printing the table: %s", strerror(rc < 0 ? -rc : rc));
		return 1;
	}
	return 0;
}
