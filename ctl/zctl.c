// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zctl: zramfusectl's main, its command line and its messages.
 *
 * zramfusectl lists zramfuse mounts and sets up and tears down swap on
 * them, from the command line or from the configuration files.  The
 * verbs, and where they are done (ctl/zctl_sys.h has the map of the files):
 *
 *   (none)              the listing                 zctl_list.c
 *   swapon, swapoff     the swap's steps            zctl_swap.c
 *   setup, teardown     the same for a configuration section
 *   config              the sections as understood  zctl_conf.c
 *   compact, stat, reset  the control directory, here
 *
 * Options come before or after the verb (getopt permutes); each verb
 * refuses the options that mean nothing to it, so that a typo does not
 * silently do something else.
 */
#include "config.h"

#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "size.h"
#include "zctl_conf.h"
#include "zctl_list.h"
#include "zctl_swap.h"
#include "zctl_sys.h"

enum {
	OPT_RAW = 256,
	OPT_OUTPUT_ALL,
	OPT_CONFIG,
	OPT_WRITEBACK,
};

static const struct option zctl_longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "output-all", no_argument, NULL, OPT_OUTPUT_ALL },
	{ "bytes", no_argument, NULL, 'b' },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "noheadings", no_argument, NULL, 'n' },
	{ "json", no_argument, NULL, 'J' },
	{ "size", required_argument, NULL, 's' },
	{ "algorithm", required_argument, NULL, 'a' },
	{ "mem-limit", required_argument, NULL, 'm' },
	{ "priority", required_argument, NULL, 'p' },
	{ "writeback-device", required_argument, NULL, OPT_WRITEBACK },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void zctl_usage(void)
{
	printf(
"Usage:\n"
" zramfusectl [options]                     list zramfuse mounts and files\n"
" zramfusectl swapon [options] [MOUNTPOINT] mount, attach, swap (default %s)\n"
" zramfusectl swapoff [MOUNTPOINT]          swapoff, detach, unmount\n"
" zramfusectl setup SECTION...              swapon as a configuration section says\n"
" zramfusectl teardown SECTION...           swapoff of a section's mount point\n"
" zramfusectl config                        print the configuration as read\n"
" zramfusectl compact|stat|reset MOUNTPOINT the control directory\n"
"\n"
"Listing:\n"
" -o, --output LIST      the columns to print\n"
"     --output-all       print every column\n"
" -b, --bytes            sizes in bytes\n"
"     --raw              raw output\n"
" -n, --noheadings       no header line\n"
" -J, --json             JSON output\n"
"\n"
"swapon:\n"
" -s, --size SIZE        the file's size (K, M, G, T; default min(ram / 2, 4G))\n"
" -a, --algorithm ALG    lz4 or zstd, optionally (level=N) (default lz4)\n"
" -m, --mem-limit SIZE   the store's memory limit (default none)\n"
" -p, --priority N       swap priority, -1 to 32767 (default 100)\n"
"     --writeback-device PATH  passed to the daemon as -o backing_dev=\n"
" The daemon swapon runs: $ZRAMFUSE if set; else the first zramfuse found\n"
" beside zramfusectl, in %s, or in a directory of PATH.\n"
"\n"
"setup, teardown, config:\n"
"     --config FILE      read FILE only, not %s and %s/\n"
"\n"
" -h, --help             this text\n"
" -V, --version          the version\n"
"\n"
"Columns:\n", ZCTL_DEFAULT_MNT, ZRAMFUSE_DIR, ZCTL_CONF_FILE, ZCTL_CONF_DIR);
	zctl_list_help_columns();
	printf("\nSee zramfusectl(8).\n");
}

struct zctl_args {
	struct zctl_list_opts lo;
	bool list_opt;		/* a listing option was given */
	struct zctl_swapon so;
	bool swap_opt;
	const char *config;
};

static int zctl_size_arg(const char *opt, const char *s, uint64_t *out)
{
	int rc = size_parse(s, SIZE_UTIL_LINUX, out);

	if (rc)
		zctl_err("%s %s: %s", opt, s, rc == -ERANGE ? "too large" :
			 "not a size (a number with an optional K, M, G, T suffix)");
	return rc;
}

/* The verb's mount point: given, or the default where it has one. */
static const char *zctl_mnt(int argc, char **argv, const char *verb,
			    const char *def)
{
	if (argc > 1) {
		zctl_err("%s: one mount point at most", verb);
		return NULL;
	}
	if (argc == 1)
		return argv[0];
	if (!def)
		zctl_err("%s: which mount point?", verb);
	return def;
}

static int zctl_need_zramfuse(const char *mnt, char *real)
{
	if (!realpath(mnt, real)) {
		zctl_err("%s: %m", mnt);
		return -1;
	}
	if (zctl_sys_mounted(real, NULL, 0) != 1) {
		zctl_err("%s: not a zramfuse mount", real);
		return -1;
	}
	return 0;
}

static int zctl_compact(const char *mnt)
{
	char real[PATH_MAX];
	int rc;

	if (zctl_need_zramfuse(mnt, real))
		return 1;
	rc = zctl_sys_ctl_write(real, "compact", "1");
	if (rc) {
		zctl_err("%s/.zram/compact: %s", real, strerror(-rc));
		return 1;
	}
	return 0;
}

/* stat: every column of the control directory's files, one per line. */
static int zctl_stat(const char *mnt)
{
	static const struct {
		const char *file;
		const char *cols[10];
	} files[] = {
		{ "mm_stat", { "orig_data_size", "compr_data_size",
			       "mem_used_total", "mem_limit", "mem_used_max",
			       "same_pages", "pages_compacted", "huge_pages",
			       "huge_pages_since" } },
		{ "io_stat", { "failed_reads", "failed_writes", "invalid_io",
			       "notify_free" } },
		{ "reclaim_stat", { "queued_pages", "queued_bytes", "batches",
				    "sync_frees", "freed_pages" } },
		{ "reserve_stat", { "reserve_pages", "reserve_target",
				    "nowait_failed", "reserve_grown" } },
	};
	char real[PATH_MAX], buf[512], alg[32], *p, *tok, *save;
	size_t f;
	int i;

	if (zctl_need_zramfuse(mnt, real))
		return 1;
	if (!zctl_sys_algorithm(real, alg, sizeof(alg)))
		printf("comp_algorithm %s\n", alg);
	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		long rc = zctl_sys_ctl_read(real, files[f].file, buf, sizeof(buf));

		if (rc < 0) {
			zctl_err("%s/.zram/%s: %s", real, files[f].file,
				 strerror((int)-rc));
			return 1;
		}
		p = buf;
		for (i = 0; files[f].cols[i]; i++, p = NULL) {
			tok = strtok_r(p, " ", &save);
			if (!tok)
				break;
			printf("%s %s\n", files[f].cols[i], tok);
		}
		/* a newer daemon's extra columns: shown, numbered */
		for (; (tok = strtok_r(p, " ", &save)); i++, p = NULL)
			printf("%s.%d %s\n", files[f].file, i + 1, tok);
	}
	return 0;
}

/*
 * reset: zram's reset frees a device's data, and is refused while the
 * device is open.  Here: refused while a loop device holds a file of the
 * mount; otherwise every file's pages are discarded (the sizes stay) and
 * mem_used_max is reset.
 */
static int zctl_reset(const char *mnt)
{
	char real[PATH_MAX], path[2 * PATH_MAX], loop[32];
	struct zctl_sys_file *files;
	size_t n, i;
	int rc, fd, bad = 0;

	if (zctl_need_zramfuse(mnt, real))
		return 1;
	rc = zctl_sys_files(real, &files, &n);
	if (rc) {
		zctl_err("%s/.zram/files: %s", real, strerror(-rc));
		return 1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", real, files[i].name);
		if (!zctl_sys_loop_of(path, loop, sizeof(loop))) {
			zctl_err("reset: %s is attached to /dev/%s: run zramfusectl swapoff %s, or detach it, first",
				 path, loop, real);
			zctl_sys_free_files(files, n);
			return 1;
		}
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", real, files[i].name);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || (files[i].size &&
			       fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 0, (off_t)files[i].size))) {
			zctl_err("reset: %s: %m", path);
			bad = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	zctl_sys_free_files(files, n);
	rc = zctl_sys_ctl_write(real, "mem_used_max", "0");
	if (rc) {
		zctl_err("reset: %s/.zram/mem_used_max: %s", real, strerror(-rc));
		bad = 1;
	}
	return bad;
}

static int zctl_load(const char *config, struct zctl_conf *conf)
{
	char err[512];
	double ram;
	int rc;

	rc = zctl_sys_ram_mib(&ram);
	if (rc) {
		zctl_err("/proc/meminfo: %s", strerror(-rc));
		return rc;
	}
	if (config)
		rc = zctl_conf_load(config, NULL, ram, conf, err, sizeof(err));
	else
		rc = zctl_conf_load(ZCTL_CONF_FILE, ZCTL_CONF_DIR, ram, conf,
				    err, sizeof(err));
	/* a --config that is not there is an error; the defaults are not */
	if (!rc && config && access(config, R_OK)) {
		zctl_err("%s: %m", config);
		return -errno;
	}
	if (rc)
		zctl_err("%s", err);
	return rc;
}

static void zctl_section_mnt(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", ZCTL_SECTION_MNT, name);
}

static int zctl_config(const char *config)
{
	struct zctl_conf conf;
	char mnt[PATH_MAX], size[32], lim[32];
	static const char *const discard[] = { "none", "discard", "discard=once",
					       "discard=pages" };
	size_t i;

	if (zctl_load(config, &conf))
		return 1;
	for (i = 0; i < conf.n; i++) {
		const struct zctl_conf_section *s = &conf.sec[i];

		zctl_section_mnt(s->name, mnt, sizeof(mnt));
		zctl_sys_human(s->size, size, sizeof(size));
		zctl_sys_human(s->mem_limit, lim, sizeof(lim));
		printf("[%s]%s\nmount-point %s\nsize %" PRIu64 " (%s)\nmem-limit %" PRIu64 " (%s)\nalgorithm %s\nlevel %d\npriority %d\noptions %s\nwriteback-device %s\n",
		       s->name, s->skip ? " skipped" : "", mnt, s->size, size,
		       s->mem_limit, lim, *s->comp ? s->comp : "lz4",
		       s->comp_level, s->prio, discard[s->discard],
		       s->writeback ? s->writeback : "none");
	}
	zctl_conf_free(&conf);
	return 0;
}

static int zctl_setup(int argc, char **argv, const char *config)
{
	const struct zctl_conf_section *s;
	struct zctl_conf conf;
	char mnt[PATH_MAX];
	int i, bad = 0;

	if (!argc) {
		zctl_err("setup: which section?");
		return 1;
	}
	if (zctl_load(config, &conf))
		return 1;
	for (i = 0; i < argc; i++) {
		struct zctl_swapon so = { 0 };

		s = zctl_conf_find(&conf, argv[i]);
		if (!s) {
			zctl_err("setup: no section [%s] in %s", argv[i],
				 config ? config : ZCTL_CONF_FILE " or " ZCTL_CONF_DIR "/");
			bad = 1;
			continue;
		}
		if (s->skip) {
			printf("[%s]: skipped (zram-size is 0, or host-memory-limit is below this machine's RAM)\n",
			       s->name);
			continue;
		}
		zctl_section_mnt(s->name, mnt, sizeof(mnt));
		so.mnt = mnt;
		so.size = s->size;
		so.size_set = true;
		snprintf(so.comp, sizeof(so.comp), "%s", *s->comp ? s->comp : "lz4");
		so.comp_level = s->comp_level;
		so.mem_limit = s->mem_limit;
		so.mem_limit_set = true;
		so.prio = s->prio;
		so.prio_set = true;
		so.discard = s->discard;
		so.writeback = s->writeback;
		if (zctl_swap_on(&so))
			bad = 1;
	}
	zctl_conf_free(&conf);
	return bad;
}

static int zctl_teardown(int argc, char **argv)
{
	char mnt[PATH_MAX];
	int i, bad = 0;

	if (!argc) {
		zctl_err("teardown: which section?");
		return 1;
	}
	for (i = 0; i < argc; i++) {
		/* the name only: a stop must work whatever the files say now */
		if (!zctl_conf_name_ok(argv[i])) {
			zctl_err("teardown: %s: not a section name", argv[i]);
			bad = 1;
			continue;
		}
		zctl_section_mnt(argv[i], mnt, sizeof(mnt));
		if (zctl_swap_off(mnt))
			bad = 1;
	}
	return bad;
}

static int zctl_swapon_defaults(struct zctl_swapon *so)
{
	double ram;

	if (!so->size) {
		/* zram-generator's default, min(ram / 2, 4096) MiB */
		if (zctl_sys_ram_mib(&ram)) {
			zctl_err("/proc/meminfo: cannot read MemTotal");
			return -1;
		}
		ram = ram / 2 < 4096 ? ram / 2 : 4096;
		so->size = (uint64_t)(ram * 1024 * 1024);
	}
	if (!so->prio_set)
		so->prio = 100;
	return 0;
}

int main(int argc, char **argv)
{
	struct zctl_args a = { 0 };
	char err[160];
	const char *verb, *mnt;
	long prio;
	char *end;
	int c;

	a.so.discard = ZCTL_DISCARD_BOTH;
	while ((c = getopt_long(argc, argv, "o:bnJs:a:m:p:hV", zctl_longopts,
				NULL)) != -1) {
		switch (c) {
		case 'o':
			a.lo.columns = optarg;
			a.list_opt = true;
			break;
		case OPT_OUTPUT_ALL:
			a.lo.all = true;
			a.list_opt = true;
			break;
		case 'b':
			a.lo.bytes = true;
			a.list_opt = true;
			break;
		case OPT_RAW:
			a.lo.raw = true;
			a.list_opt = true;
			break;
		case 'n':
			a.lo.noheadings = true;
			a.list_opt = true;
			break;
		case 'J':
			a.lo.json = true;
			a.list_opt = true;
			break;
		case 's':
			if (zctl_size_arg("--size", optarg, &a.so.size))
				return 1;
			if (!a.so.size) {
				zctl_err("--size 0: the file needs a size");
				return 1;
			}
			a.so.size_set = true;
			a.swap_opt = true;
			break;
		case 'a':
			if (zctl_conf_algorithm(optarg, a.so.comp, sizeof(a.so.comp),
						&a.so.comp_level, err, sizeof(err))) {
				zctl_err("--algorithm %s", err);
				return 1;
			}
			a.swap_opt = true;
			break;
		case 'm':
			if (zctl_size_arg("--mem-limit", optarg, &a.so.mem_limit))
				return 1;
			a.so.mem_limit_set = true;
			a.swap_opt = true;
			break;
		case 'p':
			errno = 0;
			prio = strtol(optarg, &end, 10);
			if (end == optarg || *end || errno || prio < -1 ||
			    prio > 32767) {
				zctl_err("--priority %s: not a number from -1 to 32767",
					 optarg);
				return 1;
			}
			a.so.prio = (int)prio;
			a.so.prio_set = true;
			a.swap_opt = true;
			break;
		case OPT_WRITEBACK:
			a.so.writeback = optarg;
			a.swap_opt = true;
			break;
		case OPT_CONFIG:
			a.config = optarg;
			break;
		case 'h':
			zctl_usage();
			return 0;
		case 'V':
			printf("zramfusectl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'zramfusectl --help'.\n");
			return 1;
		}
	}
	argc -= optind;
	argv += optind;
	verb = argc ? argv[0] : NULL;
	if (verb) {
		argc--;
		argv++;
	}
	if (verb && a.list_opt) {
		zctl_err("%s: the listing's options (-o, -b, -n, -J, --raw) go without a verb",
			 verb);
		return 1;
	}
	if (a.swap_opt && (!verb || strcmp(verb, "swapon"))) {
		zctl_err("--size, --algorithm, --mem-limit, --priority and --writeback-device are swapon's");
		return 1;
	}
	if (a.config && (!verb || (strcmp(verb, "setup") && strcmp(verb, "config")))) {
		zctl_err("--config is for setup and config");
		return 1;
	}
	if (!verb)
		return zctl_list(&a.lo);
	if (!strcmp(verb, "swapon")) {
		mnt = zctl_mnt(argc, argv, verb, ZCTL_DEFAULT_MNT);
		if (!mnt || zctl_swapon_defaults(&a.so))
			return 1;
		a.so.mnt = mnt;
		return zctl_swap_on(&a.so);
	}
	if (!strcmp(verb, "swapoff")) {
		mnt = zctl_mnt(argc, argv, verb, ZCTL_DEFAULT_MNT);
		return mnt ? zctl_swap_off(mnt) : 1;
	}
	if (!strcmp(verb, "setup"))
		return zctl_setup(argc, argv, a.config);
	if (!strcmp(verb, "teardown"))
		return zctl_teardown(argc, argv);
	if (!strcmp(verb, "config")) {
		if (argc) {
			zctl_err("config takes no arguments");
			return 1;
		}
		return zctl_config(a.config);
	}
	if (!strcmp(verb, "compact") || !strcmp(verb, "stat") ||
	    !strcmp(verb, "reset")) {
		mnt = zctl_mnt(argc, argv, verb, NULL);
		if (!mnt)
			return 1;
		if (!strcmp(verb, "compact"))
			return zctl_compact(mnt);
		return !strcmp(verb, "stat") ? zctl_stat(mnt) : zctl_reset(mnt);
	}
	zctl_err("unknown verb '%s' (see --help)", verb);
	return 1;
}
