// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * options: the -o option table, its defaults, its validation and --help.
 *
 * fuse_opt_parse() walks argv once with one key per zramfuse option; each
 * value is parsed and checked as it is met, so the first bad one stops the
 * parse with a message naming it.  Options that are not ours (allow_other,
 * ro, fsname=...) are kept in the argument list for fuse_session_new(),
 * which refuses the ones libfuse does not know either.  This file sees
 * only <fuse_opt.h>, never the low-level API.
 *
 * The generic switches are handled here too, rather than by
 * fuse_parse_cmdline(): that one accepts only one non-option argument
 * (mount.fuse3 passes two) and options such as clone_fd and
 * max_idle_threads that mean nothing with zramfuse's own session loop.
 */
#include "config.h"

#define FUSE_USE_VERSION 314
#include <fuse_opt.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "options.h"
#include "size.h"

enum {
	KEY_SIZE,
	KEY_FILE,
	KEY_COMP,
	KEY_COMP_LEVEL,
	KEY_COMP_DICT,
	KEY_RECOMP,
	KEY_RECOMP_LEVEL,
	KEY_RECOMP_DICT,
	KEY_READBACK_RECOMP,
	KEY_MEM_LIMIT,
	KEY_DEFERRED_FREE,
	KEY_THREADS,
	KEY_RECLAIM_THREADS,
	KEY_RESERVE,
	KEY_NOMLOCK,
	KEY_NOIOFLUSHER,
	KEY_NOOOMADJ,
	KEY_BACKING_DEV,
	KEY_TRANSPORT,
	KEY_URING_DEPTH,
	KEY_URING_THREADS,
	KEY_WRITEBACK_IDLE,
	KEY_WRITEBACK_IDLE_PAGES,
	KEY_RECOMPRESS_IDLE,
	KEY_RECOMPRESS_IDLE_PAGES,
	KEY_FOREGROUND,
	KEY_DEBUG,
	KEY_SINGLE,
	KEY_HELP,
	KEY_VERSION,
};

static const struct fuse_opt options_table[] = {
	FUSE_OPT_KEY("size=", KEY_SIZE),
	FUSE_OPT_KEY("file=", KEY_FILE),
	FUSE_OPT_KEY("comp=", KEY_COMP),
	FUSE_OPT_KEY("comp_level=", KEY_COMP_LEVEL),
	FUSE_OPT_KEY("comp_dict=", KEY_COMP_DICT),
	FUSE_OPT_KEY("recomp=", KEY_RECOMP),
	FUSE_OPT_KEY("recomp_level=", KEY_RECOMP_LEVEL),
	FUSE_OPT_KEY("recomp_dict=", KEY_RECOMP_DICT),
	FUSE_OPT_KEY("readback_recomp=", KEY_READBACK_RECOMP),
	FUSE_OPT_KEY("mem_limit=", KEY_MEM_LIMIT),
	FUSE_OPT_KEY("deferred_free=", KEY_DEFERRED_FREE),
	FUSE_OPT_KEY("threads=", KEY_THREADS),
	FUSE_OPT_KEY("reclaim_threads=", KEY_RECLAIM_THREADS),
	FUSE_OPT_KEY("reserve=", KEY_RESERVE),
	FUSE_OPT_KEY("nomlock", KEY_NOMLOCK),
	FUSE_OPT_KEY("noioflusher", KEY_NOIOFLUSHER),
	FUSE_OPT_KEY("nooomadj", KEY_NOOOMADJ),
	FUSE_OPT_KEY("backing_dev=", KEY_BACKING_DEV),
	FUSE_OPT_KEY("transport=", KEY_TRANSPORT),
	FUSE_OPT_KEY("uring_depth=", KEY_URING_DEPTH),
	FUSE_OPT_KEY("uring_threads=", KEY_URING_THREADS),
	FUSE_OPT_KEY("writeback_idle=", KEY_WRITEBACK_IDLE),
	FUSE_OPT_KEY("writeback_idle_pages=", KEY_WRITEBACK_IDLE_PAGES),
	FUSE_OPT_KEY("recompress_idle=", KEY_RECOMPRESS_IDLE),
	FUSE_OPT_KEY("recompress_idle_pages=", KEY_RECOMPRESS_IDLE_PAGES),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("--foreground", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("--debug", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-s", KEY_SINGLE),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

struct options_ctx {
	struct options *o;
	char *err;
	size_t errlen;
	char *nonopt[2];
	unsigned nr_nonopt;
	bool single;
};

static int __attribute__((format(printf, 2, 3)))
options_error(struct options_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The daemon's sizes take common/size.h's grammar without util-linux's. */
int options_parse_size(const char *s, uint64_t *out)
{
	return size_parse(s, 0, out);
}

static uint64_t options_round_page(uint64_t v)
{
	return (v + 4095) & ~4095ull;
}

/* The value after the first '=' of "name=value". */
static const char *options_value(const char *arg)
{
	const char *eq = strchr(arg, '=');

	return eq ? eq + 1 : "";
}

/* @v in the largest unit that divides it: "1024T", "1G", "4097". */
static void options_fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 "%.*s", v, u >= 0 ? 1 : 0,
		 u >= 0 ? &units[u] : "");
}

static int options_size_value(struct options_ctx *c, const char *arg,
			      uint64_t min, uint64_t max, uint64_t *out)
{
	const char *v = options_value(arg);
	char lim[32];
	uint64_t n;
	int rc;

	rc = options_parse_size(v, &n);
	if (rc == -ERANGE || (rc == 0 && n > max)) {
		options_fmt_size(max, lim, sizeof(lim));
		return options_error(c, "%s: too large (at most %s)", arg, lim);
	}
	if (rc)
		return options_error(c, "%s: not a size (a number with an optional K, M, G or T suffix)",
				     arg);
	if (n < min) {
		options_fmt_size(min, lim, sizeof(lim));
		return options_error(c, "%s: too small (at least %s)", arg, lim);
	}
	*out = n;
	return 0;
}

/* "on" or "off". */
static int options_onoff_value(struct options_ctx *c, const char *arg,
			       const char *v, bool *out)
{
	if (strcmp(v, "on") && strcmp(v, "off"))
		return options_error(c, "%s: expected on or off", arg);
	*out = !strcmp(v, "on");
	return 0;
}

static int options_uint_value(struct options_ctx *c, const char *arg,
			      unsigned min, unsigned max, unsigned *out)
{
	const char *v = options_value(arg);
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (!isdigit((unsigned char)*v) || *end || errno || n < min || n > max)
		return options_error(c, "%s: not a number from %u to %u",
				     arg, min, max);
	*out = (unsigned)n;
	return 0;
}

static int options_replace(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

static int options_proc(void *data, const char *arg, int key,
			struct fuse_args *outargs)
{
	struct options_ctx *c = data;
	struct options *o = c->o;
	const char *v = options_value(arg);
	unsigned u;
	long l;
	char *end;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (c->nr_nonopt == 2)
			return options_error(c, "%s: too many arguments (expected [SOURCE] MOUNTPOINT)",
					     arg);
		c->nonopt[c->nr_nonopt] = strdup(arg);
		if (!c->nonopt[c->nr_nonopt])
			return options_error(c, "out of memory");
		c->nr_nonopt++;
		return 0;
	case FUSE_OPT_KEY_OPT:
		return 1;	/* libfuse's, or unknown: fuse_session_new() decides */
	case KEY_SIZE:
		if (options_size_value(c, arg, 1, OPTIONS_MAX_SIZE, &o->size))
			return -1;
		o->size = options_round_page(o->size);
		return 0;
	case KEY_FILE:
		if (!*v || strchr(v, '/') || !strcmp(v, ".") || !strcmp(v, "..") ||
		    !strcmp(v, ".zram") || strlen(v) > 255)
			return options_error(c, "%s: not a file name (no '/', not \".zram\", at most 255 bytes)",
					     arg);
		if (options_replace(&o->file, v))
			return options_error(c, "out of memory");
		return 0;
	case KEY_WRITEBACK_IDLE:
	case KEY_WRITEBACK_IDLE_PAGES:
	case KEY_RECOMPRESS_IDLE:
	case KEY_RECOMPRESS_IDLE_PAGES:
		if (options_uint_value(c, arg, 0, UINT_MAX, &u))
			return -1;
		o->policy[key - KEY_WRITEBACK_IDLE] = u;
		return 0;
	case KEY_BACKING_DEV:
	case KEY_COMP_DICT:
	case KEY_RECOMP_DICT:
		/* opened by the store; a bad one stops the mount there */
		if (*v != '/')
			return options_error(c, "%s: not an absolute path", arg);
		if (options_replace(key == KEY_BACKING_DEV ? &o->backing_dev :
				    key == KEY_COMP_DICT ? &o->comp_dict : &o->recomp_dict, v))
			return options_error(c, "out of memory");
		return 0;
	case KEY_COMP:
		if (strcmp(v, "lz4") && strcmp(v, "zstd"))
			return options_error(c, "%s: unknown compressor (lz4 or zstd)", arg);
		if (options_replace(&o->comp, v))
			return options_error(c, "out of memory");
		return 0;
	case KEY_COMP_LEVEL:
	case KEY_RECOMP_LEVEL:
		errno = 0;
		l = strtol(v, &end, 10);
		if (!*v || *end || errno || l < -1000000 || l > 1000000)
			return options_error(c, "%s: not a number", arg);
		*(key == KEY_COMP_LEVEL ? &o->comp_level : &o->recomp_level) = (int)l;
		return 0;
	case KEY_RECOMP:
		if (strcmp(v, "lz4") && strcmp(v, "zstd") && strcmp(v, "off"))
			return options_error(c, "%s: unknown compressor (lz4, zstd or off)", arg);
		if (options_replace(&o->recomp, v))
			return options_error(c, "out of memory");
		return 0;
	case KEY_READBACK_RECOMP:
		return options_onoff_value(c, arg, v, &o->readback_recomp);
	case KEY_MEM_LIMIT:
		return options_size_value(c, arg, 0, UINT64_MAX, &o->mem_limit);
	case KEY_DEFERRED_FREE:
		return options_onoff_value(c, arg, v, &o->deferred_free);
	case KEY_THREADS:
		if (options_uint_value(c, arg, 1, OPTIONS_MAX_THREADS, &u))
			return -1;
		o->threads = u;
		return 0;
	case KEY_RECLAIM_THREADS:
		if (options_uint_value(c, arg, 1, OPTIONS_MAX_RECLAIM_THREADS, &u))
			return -1;
		o->reclaim_threads = u;
		return 0;
	case KEY_RESERVE:
		if (options_size_value(c, arg, 0, OPTIONS_MAX_RESERVE, &o->reserve))
			return -1;
		o->reserve = options_round_page(o->reserve);
		return 0;
	case KEY_NOMLOCK:
		o->mlock = false;
		return 0;
	case KEY_NOIOFLUSHER:
		o->io_flusher = false;
		return 0;
	case KEY_NOOOMADJ:
		o->oom_adj = false;
		return 0;
	case KEY_TRANSPORT:
		if (!strcmp(v, "auto"))
			o->transport = OPTIONS_TRANSPORT_AUTO;
		else if (!strcmp(v, "classic"))
			o->transport = OPTIONS_TRANSPORT_CLASSIC;
		else if (!strcmp(v, "uring"))
			o->transport = OPTIONS_TRANSPORT_URING;
		else
			return options_error(c, "%s: expected auto, classic or uring", arg);
		return 0;
	case KEY_URING_DEPTH:
		if (options_uint_value(c, arg, 1, OPTIONS_MAX_URING_DEPTH, &u))
			return -1;
		o->uring_depth = u;
		return 0;
	case KEY_URING_THREADS:
		if (options_uint_value(c, arg, 1, OPTIONS_MAX_URING_THREADS, &u))
			return -1;
		o->uring_threads = u;
		return 0;
	case KEY_FOREGROUND:
		o->foreground = true;
		return 0;
	case KEY_DEBUG:
		/* libfuse's session prints each request when it sees "-d" */
		o->debug = true;
		o->foreground = true;
		return fuse_opt_add_arg(outargs, "-d") ? -1 : 0;
	case KEY_SINGLE:
		c->single = true;
		return 0;
	case KEY_HELP:
		o->show_help = true;
		return 0;
	case KEY_VERSION:
		o->show_version = true;
		return 0;
	}
	return options_error(c, "%s: internal error: unhandled option", arg);
}

static void options_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->deferred_free = true;
	o->readback_recomp = true;
	o->threads = OPTIONS_DEFAULT_THREADS;
	o->reclaim_threads = OPTIONS_DEFAULT_RECLAIM_THREADS;
	o->reserve = OPTIONS_DEFAULT_RESERVE;
	o->policy[POLICY_WRITEBACK_PAGES] = POLICY_DEFAULT_PAGES;
	o->policy[POLICY_RECOMPRESS_PAGES] = POLICY_DEFAULT_PAGES;
	o->mlock = o->io_flusher = o->oom_adj = true;
	o->transport = OPTIONS_TRANSPORT_AUTO;
	o->uring_depth = OPTIONS_DEFAULT_URING_DEPTH;
	o->uring_threads = OPTIONS_DEFAULT_URING_THREADS;
}

/* Add "-oname=value" with value escaped for libfuse's comma splitting. */
static int options_add_escaped(struct fuse_args *args, const char *name,
			       const char *value)
{
	char *opt = NULL;
	char *arg;
	int rc;

	if (fuse_opt_add_opt(&opt, name) ||
	    fuse_opt_add_opt_escaped(&opt, value))
		goto fail;
	/* fuse_opt_add_opt() joined them with a comma: make it "name=value" */
	opt[strlen(name)] = '=';
	if (asprintf(&arg, "-o%s", opt) < 0)
		goto fail;
	rc = fuse_opt_add_arg(args, arg);
	free(arg);
	free(opt);
	return rc;
fail:
	free(opt);
	return -1;
}

int options_parse(int argc, char **argv, struct options *o,
		  char *err, size_t errlen)
{
	struct fuse_args *args;
	struct options_ctx c = { .o = o, .err = err, .errlen = errlen };
	struct stat st;
	char *mnt;

	options_defaults(o);
	args = calloc(1, sizeof(*args));
	if (!args) {
		snprintf(err, errlen, "out of memory");
		return -EINVAL;
	}
	*args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	o->fuse_args = args;
	/*
	 * Our own errors fill @err; libfuse prints its own ("missing
	 * argument after `-o'") and leaves it empty, so that one line shows.
	 */
	*err = '\0';
	if (fuse_opt_parse(args, &c, options_table, options_proc) == -1)
		goto fail;
	if (!o->file && !(o->file = strdup(OPTIONS_DEFAULT_FILE)))
		goto nomem;
	if (!o->comp && !(o->comp = strdup(OPTIONS_DEFAULT_COMP)))
		goto nomem;
	if (c.single)
		o->threads = 1;
	if (o->show_help || o->show_version)
		goto out;

	if (c.nr_nonopt == 0) {
		snprintf(err, errlen, "no mount point given (see --help)");
		goto fail;
	}
	if (c.nr_nonopt == 2) {
		o->source = c.nonopt[0];
		c.nonopt[0] = NULL;
	}
	mnt = c.nonopt[c.nr_nonopt - 1];
	o->mountpoint = realpath(mnt, NULL);
	if (!o->mountpoint || stat(o->mountpoint, &st)) {
		snprintf(err, errlen, "mount point %s: %s", mnt, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "mount point %s: %s", mnt, strerror(ENOTDIR));
		goto fail;
	}

	/*
	 * default_permissions: the kernel checks every access against the
	 * modes, which matters once allow_other lets others in.  The source
	 * shows in /proc/mounts; subtype makes the type "fuse.zramfuse".
	 */
	if (fuse_opt_add_arg(args, "-odefault_permissions") ||
	    fuse_opt_add_arg(args, "-osubtype=zramfuse") ||
	    options_add_escaped(args, "fsname", o->source ? o->source : "zramfuse"))
		goto nomem;
out:
	free(c.nonopt[0]);
	free(c.nonopt[1]);
	return 0;

nomem:
	snprintf(err, errlen, "out of memory");
fail:
	free(c.nonopt[0]);
	free(c.nonopt[1]);
	options_free(o);
	return -EINVAL;
}

void options_free(struct options *o)
{
	if (o->fuse_args) {
		fuse_opt_free_args(o->fuse_args);
		free(o->fuse_args);
	}
	free(o->file);
	free(o->comp);
	free(o->comp_dict);
	free(o->recomp);
	free(o->recomp_dict);
	free(o->backing_dev);
	free(o->source);
	free(o->mountpoint);
	memset(o, 0, sizeof(*o));
}

void options_help(const char *prog)
{
	printf(
"usage: %s [-o OPTIONS] MOUNTPOINT\n"
"       %s SOURCE MOUNTPOINT -o OPTIONS   (as mount.fuse3 runs it)\n"
"\n"
"A filesystem whose files live in compressed RAM, for swap through a loop\n"
"device:\n"
"    %s -o size=4G /run/zramfuse\n"
"    losetup --direct-io=on --sector-size 4096 -f --show /run/zramfuse/swap\n"
"\n"
"zramfuse options:\n"
"    -o size=SIZE           create one file of SIZE bytes (K, M, G, T\n"
"                           suffixes; rounded up to 4K) (default: none)\n"
"    -o file=NAME           name of that file (default: " OPTIONS_DEFAULT_FILE ")\n"
"    -o comp=lz4|zstd       compressor (default: " OPTIONS_DEFAULT_COMP ")\n"
"    -o comp_level=N        compression level (default: the codec's)\n"
"    -o comp_dict=PATH      zstd dictionary for new pages, a trained one\n"
"                           or raw content, at most 1M (default: none)\n"
"    -o recomp=lz4|zstd|off\n"
"                           second codec, for recompression (default:\n"
"                           zstd with comp=lz4, else off)\n"
"    -o recomp_level=N      its level (default: the codec's)\n"
"    -o recomp_dict=PATH    its zstd dictionary (default: none)\n"
"    -o readback_recomp=on|off\n"
"                           recompress pages read back in the background\n"
"                           (default: on with a second codec)\n"
"    -o mem_limit=SIZE      most memory the store may use; 0 = none\n"
"                           (default: 0)\n"
"    -o deferred_free=on|off  free discarded pages on a reclaim thread\n"
"                           (default: on)\n"
"    -o threads=N           FUSE worker threads, 1-%u (default: %u)\n"
"    -o reclaim_threads=N   deferred-free threads, 1-%u (default: %u)\n"
"    -o reserve=SIZE        pre-faulted locked pages kept for writes;\n"
"                           0 = none, writes may then wait (default: %lluK)\n"
"    -o nomlock             do not lock the daemon's memory (mlockall)\n"
"    -o noioflusher         do not mark threads PR_SET_IO_FLUSHER\n"
"    -o nooomadj            do not set oom_score_adj to -1000\n"
"    -o backing_dev=PATH    file or block device for writeback (zram's\n"
"                           backing_dev; default: none)\n"
"    -o transport=auto|classic|uring  how requests travel: FUSE over\n"
"                           io_uring, or read()/write() on /dev/fuse; auto\n"
"                           takes io_uring when the kernel offers it\n"
"                           (default: auto)\n"
"    -o uring_depth=N       requests each io_uring ring holds, 1-%u\n"
"                           (default: %u)\n"
"    -o uring_threads=N     rings (threads) per CPU's queue, 1-%u\n"
"                           (default: %u)\n"
"    -o writeback_idle=SECS write back pages not accessed for SECS\n"
"                           seconds, by itself; 0 = never (default: 0)\n"
"    -o writeback_idle_pages=N  at most N pages a second; 0 = no bound\n"
"                           (default: %u)\n"
"    -o recompress_idle=SECS  recompress pages not accessed for SECS\n"
"                           seconds, by itself; 0 = never (default: 0)\n"
"    -o recompress_idle_pages=N  at most N pages a second; 0 = no bound\n"
"                           (default: %u)\n"
"\n"
"generic options:\n"
"    -h, --help             print this help and exit\n"
"    -V, --version          print the version and exit\n"
"    -f, --foreground       stay in the foreground\n"
"    -d, --debug            print every FUSE request (implies -f)\n"
"    -s                     one worker thread (threads=1)\n"
"    -o allow_other         let every user reach the mount (the kernel\n"
"                           then enforces file modes)\n"
"    -o allow_root          let root reach the mount too\n"
"    -o auto_unmount        unmount when the daemon exits\n"
"\n"
"Other FUSE mount options (ro, fsname=, ...) are passed to libfuse.\n"
"See zramfuse(8).\n",
	       prog, prog, prog,
	       OPTIONS_MAX_THREADS, OPTIONS_DEFAULT_THREADS,
	       OPTIONS_MAX_RECLAIM_THREADS, OPTIONS_DEFAULT_RECLAIM_THREADS,
	       OPTIONS_DEFAULT_RESERVE >> 10,
	       OPTIONS_MAX_URING_DEPTH, OPTIONS_DEFAULT_URING_DEPTH,
	       OPTIONS_MAX_URING_THREADS, OPTIONS_DEFAULT_URING_THREADS,
	       POLICY_DEFAULT_PAGES, POLICY_DEFAULT_PAGES);
}
