/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zctl.h: what the files of zramfusectl, the administration tool, share.
 * Private to ctl/; nothing of the daemon's is visible here.
 *
 * zramfusectl never links the core: it reads and writes a mount's control
 * directory <mnt>/.zram/, /proc and /sys, and starts the daemon as a
 * program.  It shares one thing with the daemon, the size parser of
 * common/size.h.  A file of ctl/ is named by the prefix of what it
 * defines:
 *
 *   zctl.c        main: the verbs, their options, messages (zctl_)
 *   zctl_sys.c    mounts, loop devices, swaps, the control directory,
 *                 sizes as zramctl prints them (zctl_sys_)
 *   zctl_list.c   the listing, through libsmartcols (zctl_list_)
 *   zctl_swap.c   swapon / swapoff and their steps (zctl_swap_)
 *   zctl_conf.c   the configuration files (zctl_conf_)
 *
 * Errors: functions return 0 or -errno and print their own message, which
 * names the object, unless their comment says otherwise.
 */
#ifndef ZRAMFUSECTL_H
#define ZRAMFUSECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZCTL_PAGE 4096ULL
/* The file zramfusectl swapon creates (the daemon's default -o file=). */
#define ZCTL_FILE "swap"
/* Where swapon mounts when it is given no mount point. */
#define ZCTL_DEFAULT_MNT "/run/zramfuse"
/* Where setup mounts a configuration section NAME: ZCTL_SECTION_MNT-NAME. */
#define ZCTL_SECTION_MNT "/run/zramfuse"
/* The kernel type of a zramfuse mount (the daemon mounts subtype=zramfuse). */
#define ZCTL_FSTYPE "fuse.zramfuse"
/*
 * Where make install puts the daemon (the build's bindir); swapon looks
 * for it beside zramfusectl first, here second, then in PATH.
 */
#ifndef ZRAMFUSE_DIR
#define ZRAMFUSE_DIR "/usr/local/bin"
#endif

/* --- zctl.c ----------------------------------------------------------- */

/* "zramfusectl: " and the message, on stderr. */
void zctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- zctl_sys.c ------------------------------------------------------- */

/*
 * Every zramfuse mount point in /proc/self/mountinfo, in mount order, as a
 * malloc'ed array of malloc'ed strings ending with NULL.  NULL on error.
 */
char **zctl_sys_mounts(void);
void zctl_sys_free_list(char **list);

/*
 * What is mounted at exactly PATH (canonical): 0 nothing, 1 zramfuse,
 * 2 something else (its type copied to other).
 */
int zctl_sys_mounted(const char *path, char *other, size_t len);

/* The loop device (e.g. "loop3") whose backing file is PATH, or -ENOENT. */
int zctl_sys_loop_of(const char *path, char *name, size_t len);

struct zctl_sys_swap {
	bool on;
	int prio;
	uint64_t size, used;	/* bytes */
};
/* The state of /dev/NAME in /proc/swaps. */
int zctl_sys_swap_of(const char *name, struct zctl_sys_swap *sw);

/*
 * Read <mnt>/.zram/<file> into buf (NUL-terminated).  Returns its length
 * or -errno, silently.
 */
long zctl_sys_ctl_read(const char *mnt, const char *file, char *buf, size_t len);
/* Write text to <mnt>/.zram/<file>; silent like the read. */
int zctl_sys_ctl_write(const char *mnt, const char *file, const char *text);

/* mm_stat's nine columns and reclaim_stat's five, in the files' order. */
struct zctl_sys_mm {
	uint64_t orig, compr, total, limit, used_max, same, compacted, huge,
		huge_since;
};
int zctl_sys_mm_stat(const char *mnt, struct zctl_sys_mm *mm);
struct zctl_sys_reclaim {
	uint64_t queued_pages, queued_bytes, batches, sync_frees, freed;
};
int zctl_sys_reclaim_stat(const char *mnt, struct zctl_sys_reclaim *rs);
/* The codec in use: the bracketed word of comp_algorithm. */
int zctl_sys_algorithm(const char *mnt, char *alg, size_t len);

/* One line of .zram/files; name unescaped. */
struct zctl_sys_file {
	uint64_t size, pages, compr;
	char *name;
};
/* The files of a mount, malloc'ed; *n set.  -errno on error, silently. */
int zctl_sys_files(const char *mnt, struct zctl_sys_file **files, size_t *n);
void zctl_sys_free_files(struct zctl_sys_file *files, size_t n);

/* A size as zramctl prints it: 0B, 512B, 4K, 1.5M, 12G. */
void zctl_sys_human(uint64_t bytes, char *buf, size_t len);

/* MemTotal in MiB, as zram-generator's "ram". */
int zctl_sys_ram_mib(double *mib);

/* --- zctl_list.c ------------------------------------------------------ */

struct zctl_list_opts {
	const char *columns;	/* --output, or NULL for the default set */
	bool all, bytes, raw, json, noheadings;
};
/* Print every zramfuse mount and its files; returns an exit status. */
int zctl_list(const struct zctl_list_opts *lo);
/* The --help text of the columns. */
void zctl_list_help_columns(void);

/* --- zctl_swap.c ------------------------------------------------------ */

enum zctl_discard {
	ZCTL_DISCARD_NONE,
	ZCTL_DISCARD_BOTH,	/* "discard": both kinds */
	ZCTL_DISCARD_ONCE,
	ZCTL_DISCARD_PAGES,
};

/* What zramfusectl swapon sets up. */
struct zctl_swapon {
	const char *mnt;
	uint64_t size;		/* bytes */
	bool size_set;		/* asked for, not the default */
	char comp[8];		/* "" = not given */
	int comp_level;		/* 0 = the codec's own */
	uint64_t mem_limit;
	bool mem_limit_set;
	int prio;		/* -1: the kernel's choice */
	bool prio_set;
	enum zctl_discard discard;
	const char *writeback;	/* writeback device, or NULL */
};
int zctl_swap_on(const struct zctl_swapon *so);
int zctl_swap_off(const char *mnt);

/* --- zctl_conf.c ------------------------------------------------------ */

#define ZCTL_CONF_FILE "/etc/zramfuse.conf"
#define ZCTL_CONF_DIR "/etc/zramfuse.conf.d"
#define ZCTL_CONF_NAME_MAX 64

/* One section after every file is read and its expressions evaluated. */
struct zctl_conf_section {
	char name[ZCTL_CONF_NAME_MAX + 1];
	bool skip;		/* host-memory-limit below ram, or size 0 */
	uint64_t size;		/* zram-size, bytes */
	uint64_t mem_limit;	/* zram-resident-limit, bytes; 0 none */
	char comp[8];		/* compression-algorithm, "" = the default */
	int comp_level;
	int prio;		/* swap-priority */
	enum zctl_discard discard;	/* options */
	char *writeback;	/* writeback-device, or NULL */
};

struct zctl_conf {
	struct zctl_conf_section *sec;
	size_t n;
};

/*
 * Read the configuration: file (unless NULL), then dir/ *.conf in the
 * order of their names (unless NULL); a key in a later file overrides the
 * same key of the same section.  Expressions are evaluated with ram MiB.
 * On error returns -EINVAL (or -errno of a file that exists but cannot be
 * read) with "file:line: what" in err.  A missing file or dir is no
 * error.
 */
int zctl_conf_load(const char *file, const char *dir, double ram,
		   struct zctl_conf *conf, char *err, size_t errlen);
/* The same for one text; name is used in messages. */
int zctl_conf_parse(const char *name, const char *text, double ram,
		    struct zctl_conf *conf, char *err, size_t errlen);
void zctl_conf_free(struct zctl_conf *conf);
/* A section name: letters, digits, '_', '.', '-', not first '.' or '-'. */
bool zctl_conf_name_ok(const char *name);
const struct zctl_conf_section *zctl_conf_find(const struct zctl_conf *conf,
					       const char *name);

/*
 * Evaluate a zram-generator size expression (MiB; + - * / % ^, unary
 * minus, parentheses, min max floor ceil round abs, the variable ram).
 * Returns 0 with *out set, or -EINVAL with the reason in err.
 */
int zctl_conf_eval(const char *expr, double ram, double *out, char *err,
		   size_t errlen);

/*
 * A compression-algorithm value: "lz4", "zstd", "zstd(level=3)".  Sets
 * comp and level; -EINVAL with the reason in err.
 */
int zctl_conf_algorithm(const char *s, char *comp, size_t len, int *level,
			char *err, size_t errlen);

#endif
