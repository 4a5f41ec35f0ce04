/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * options: the daemon's command line.
 *
 * options_parse() takes argv, keeps zramfuse's own -o options (size=,
 * comp=, ...) and validates them, and leaves what belongs to libfuse
 * (-f, -d, allow_other, ...) in o->args for fuse_session_new().  Both
 * command-line forms are accepted:
 *
 *     zramfuse [-o OPTS] MOUNTPOINT
 *     zramfuse SOURCE MOUNTPOINT -o OPTS      (mount.fuse3, /etc/fstab)
 *
 * Errors are reported as one line of text in the caller's buffer, so that
 * the daemon prints exactly one line and mounts nothing.
 */
#ifndef ZRAMFUSE_OPTIONS_H
#define ZRAMFUSE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "store.h"

#define OPTIONS_DEFAULT_FILE "swap"
#define OPTIONS_DEFAULT_COMP "lz4"
#define OPTIONS_DEFAULT_THREADS 4u
#define OPTIONS_MAX_THREADS 64u
#define OPTIONS_DEFAULT_RECLAIM_THREADS 1u
#define OPTIONS_MAX_RECLAIM_THREADS 16u
#define OPTIONS_DEFAULT_RESERVE (4ull << 20)
#define OPTIONS_MAX_RESERVE (1ull << 30)
/* The largest file, and so the largest size=: what the store addresses. */
#define OPTIONS_MAX_SIZE STORE_MAX_BYTES
/* Entries in each ring queue (transport=uring): each holds max_write. */
#define OPTIONS_DEFAULT_URING_DEPTH 8u
#define OPTIONS_MAX_URING_DEPTH 64u
/* Threads (rings) per ring queue; one queue per possible CPU. */
#define OPTIONS_DEFAULT_URING_THREADS 2u
#define OPTIONS_MAX_URING_THREADS 16u

/* -o transport=: see include/transport.h */
enum options_transport {
	OPTIONS_TRANSPORT_AUTO,		/* uring when the kernel offers it */
	OPTIONS_TRANSPORT_CLASSIC,
	OPTIONS_TRANSPORT_URING,	/* or fail to start */
};

struct options {
	/* zramfuse's own options, validated */
	uint64_t size;			/* bytes, multiple of 4 KiB; 0 = no file */
	char *file;			/* name of that file */
	char *comp;
	int comp_level;			/* 0 = the codec's default */
	char *comp_dict;		/* zstd dictionary file, or NULL */
	char *recomp;			/* second codec, "off", or NULL = default */
	int recomp_level;		/* 0 = the codec's default */
	char *recomp_dict;		/* its dictionary file, or NULL */
	bool readback_recomp;		/* recompress read-back pages */
	uint64_t mem_limit;		/* bytes; 0 = none */
	bool deferred_free;
	unsigned threads;		/* FUSE worker threads */
	unsigned reclaim_threads;
	uint64_t reserve;		/* bytes, multiple of 4 KiB */
	bool mlock, io_flusher, oom_adj;
	char *backing_dev;		/* writeback's file; NULL = none */
	enum options_transport transport;
	unsigned uring_depth;		/* entries per ring */
	unsigned uring_threads;		/* rings per kernel queue */
	uint64_t policy[POLICY_NR_KNOBS];	/* include/policy.h */

	/* generic options, as fuse_parse_cmdline() left them */
	bool foreground, debug;
	bool show_help, show_version;
	char *source;			/* mount.fuse3's first argument, or NULL */
	char *mountpoint;		/* as given */

	/*
	 * What is left for libfuse (argv[0], -f, -d, -o allow_other...), to
	 * be passed to fuse_parse_cmdline() and fuse_session_new().  Opaque
	 * here so that only the FUSE layer sees libfuse's types.
	 */
	void *fuse_args;		/* struct fuse_args * */
};

/*
 * Parse argv into @o.  Returns 0, or -EINVAL with one line (no newline)
 * in @err - or an empty @err when libfuse's parser has already printed
 * its own line (a "-o" with nothing after it).  On success the caller owns @o and frees it with
 * options_free(); on failure @o is already freed.
 */
int options_parse(int argc, char **argv, struct options *o,
		  char *err, size_t errlen);
void options_free(struct options *o);

/* The --help text, for @prog. */
void options_help(const char *prog);

/*
 * A size as the daemon's options and control files spell it: "4096",
 * "64K", "1g", "2T", a byte count with an optional binary suffix K, M, G
 * or T (either case).  Returns 0 and the value, -EINVAL for anything
 * else, -ERANGE on overflow.  The parser is common/size.c's, which
 * zramfusectl shares.
 */
int options_parse_size(const char *s, uint64_t *out);

#endif
