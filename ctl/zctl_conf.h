/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zctl_conf.h: the configuration files, zram-generator's format
 * (ctl/zctl_conf.c).
 */
#ifndef ZRAMFUSECTL_CONF_H
#define ZRAMFUSECTL_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zctl_swap.h"

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
