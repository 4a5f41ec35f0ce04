// SPDX-License-Identifier: GPL-2.0-or-later
/* options_test: the size parser and the option table, without mounting. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "options.h"
#include "tap.h"

static int parse(struct options *o, char *err, size_t errlen, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, errlen);
	argv[argc++] = (char *)"zramfuse";
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	return options_parse(argc, argv, o, err, errlen);
}

int main(void)
{
	static const struct { const char *s; int rc; uint64_t v; } sizes[] = {
		{ "0", 0, 0 }, { "4096", 0, 4096 }, { "4k", 0, 4096 },
		{ "64K", 0, 65536 }, { "1m", 0, 1ull << 20 }, { "2G", 0, 2ull << 30 },
		{ "3T", 0, 3ull << 40 }, { "16777215T", 0, 16777215ull << 40 },
		{ "16777216T", -ERANGE, 0 }, { "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 }, { "", -EINVAL, 0 },
		{ "K", -EINVAL, 0 }, { "-1", -EINVAL, 0 }, { "1KB", -EINVAL, 0 },
		{ "1P", -EINVAL, 0 }, { " 1", -EINVAL, 0 }, { "0x10", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
	};
	struct options o;
	char err[256];
	uint64_t v;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		int rc = options_parse_size(sizes[k].s, &v);

		tap_ok(rc == sizes[k].rc && (rc || v == sizes[k].v),
		       "size \"%s\" -> %d", sizes[k].s, rc);
	}

	tap_ok(parse(&o, err, sizeof(err), "/", NULL) == 0 &&
	       o.size == 0 && !strcmp(o.file, "swap") && !strcmp(o.comp, "lz4") &&
	       o.threads == OPTIONS_DEFAULT_THREADS && o.deferred_free &&
	       o.reserve == OPTIONS_DEFAULT_RESERVE && o.mlock && o.io_flusher &&
	       o.oom_adj && !o.foreground && !o.source && !o.recomp &&
	       o.readback_recomp && o.recomp_level == 0 &&
	       !strcmp(o.mountpoint, "/"), "defaults");
	options_free(&o);

	tap_ok(parse(&o, err, sizeof(err), "-o", "size=1000,file=sw,comp=zstd,comp_level=-3",
		     "-o", "mem_limit=1G,deferred_free=off,threads=8,reclaim_threads=2",
		     "-o", "reserve=5,nomlock,noioflusher,nooomadj", "-f",
		     "-o", "recomp=lz4,recomp_level=5,readback_recomp=off", "/", NULL) == 0 &&
	       !strcmp(o.recomp, "lz4") && o.recomp_level == 5 && !o.readback_recomp &&
	       o.size == 4096 && !strcmp(o.file, "sw") && !strcmp(o.comp, "zstd") &&
	       o.comp_level == -3 && o.mem_limit == 1ull << 30 && !o.deferred_free &&
	       o.threads == 8 && o.reclaim_threads == 2 && o.reserve == 4096 &&
	       !o.mlock && !o.io_flusher && !o.oom_adj && o.foreground,
	       "every option, sizes rounded up to 4K");
	options_free(&o);

	tap_ok(parse(&o, err, sizeof(err), "/", NULL) == 0 && !o.comp_dict && !o.recomp_dict,
	       "no dictionaries by default");
	options_free(&o);
	tap_ok(parse(&o, err, sizeof(err), "-o", "comp=zstd,comp_dict=/etc/d1,recomp_dict=/d2",
		     "/", NULL) == 0 && !strcmp(o.comp_dict, "/etc/d1") &&
	       !strcmp(o.recomp_dict, "/d2"), "comp_dict= and recomp_dict=");
	options_free(&o);

	tap_ok(parse(&o, err, sizeof(err), "zramfuse", "/", "-o", "size=1M,rw", NULL) == 0 &&
	       o.source && !strcmp(o.source, "zramfuse") && o.size == 1u << 20,
	       "mount.fuse3 form: SOURCE MOUNTPOINT -o ...");
	options_free(&o);

	tap_ok(parse(&o, err, sizeof(err), "-s", "/", NULL) == 0 && o.threads == 1,
	       "-s means one worker");
	options_free(&o);

	tap_ok(parse(&o, err, sizeof(err), "/", NULL) == 0 &&
	       o.transport == OPTIONS_TRANSPORT_AUTO &&
	       o.uring_depth == OPTIONS_DEFAULT_URING_DEPTH &&
	       o.uring_threads == OPTIONS_DEFAULT_URING_THREADS,
	       "transport=auto, uring_depth=%u and uring_threads=%u by default",
	       OPTIONS_DEFAULT_URING_DEPTH, OPTIONS_DEFAULT_URING_THREADS);
	options_free(&o);
	tap_ok(parse(&o, err, sizeof(err), "-o", "transport=classic", "/", NULL) == 0 &&
	       o.transport == OPTIONS_TRANSPORT_CLASSIC, "transport=classic");
	options_free(&o);
	tap_ok(parse(&o, err, sizeof(err), "-o", "transport=uring,uring_depth=64,uring_threads=16",
		     "/", NULL) == 0 &&
	       o.transport == OPTIONS_TRANSPORT_URING && o.uring_depth == 64 &&
	       o.uring_threads == 16, "transport=uring,uring_depth=64,uring_threads=16");
	options_free(&o);

	static const char *const bad[] = {
		"size=0", "size=abc", "size=2000T", "size=", "comp=gzip",
		"comp_level=x", "threads=0", "threads=65", "threads=1x",
		"reclaim_threads=0", "deferred_free=maybe", "reserve=2G",
		"mem_limit=1Q", "file=a/b", "file=.zram", "file=",
		"recomp=gzip", "recomp=", "recomp_level=x", "readback_recomp=1",
		"transport=", "transport=io_uring", "uring_depth=0",
		"uring_depth=65", "uring_threads=0", "uring_threads=17",
		"comp_dict=", "comp_dict=rel/dict", "recomp_dict=", "recomp_dict=d",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		int rc = parse(&o, err, sizeof(err), "-o", bad[k], "/", NULL);

		tap_ok(rc == -EINVAL && strchr(err, '\n') == NULL && *err,
		       "refused: %s (%s)", bad[k], err);
	}
	tap_ok(parse(&o, err, sizeof(err), NULL) == -EINVAL && strstr(err, "mount point"),
	       "no mount point (%s)", err);
	tap_ok(parse(&o, err, sizeof(err), "a", "b", "c", NULL) == -EINVAL,
	       "three arguments (%s)", err);
	tap_ok(parse(&o, err, sizeof(err), "/nonexistent/x", NULL) == -EINVAL,
	       "missing mount point (%s)", err);
	return tap_done();
}
