/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zctl_sys.h: the bottom of zramfusectl, the administration tool - what
 * it reads and writes of the system - and what every file of ctl/ shares
 * (constants, zctl_err()).  Private to ctl/; nothing of the daemon's is
 * visible here.
 *
 * zramfusectl never links the core: it reads and writes a mount's control
 * directory <mnt>/.zram/, /proc and /sys, and starts the daemon as a
 * program.  It shares one thing with the daemon, the size parser of
 * common/size.h.  A file of ctl/ is named by the prefix of what it
 * defines, and declares it in a header of the same name; the calls go
 * one way, down this list:
 *
 *   zctl.c        main: the verbs and their options (zctl_)
 *   zctl_conf.c   the configuration files (zctl_conf_)
 *   zctl_list.c   the listing, through libsmartcols (zctl_list_)
 *   zctl_swap.c   swapon / swapoff and their steps (zctl_swap_)
 *   zctl_sys.c    mounts, loop devices, swaps, the control directory,
 *                 sizes as zramctl prints them (zctl_sys_); zctl_err(),
 *                 the messages' one form, inline in zctl_sys.h
 *
 * Errors: functions return 0 or -errno and print their own message, which
 * names the object, unless their comment says otherwise.
 */
#ifndef ZRAMFUSECTL_SYS_H
#define ZRAMFUSECTL_SYS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/*
 * "zramfusectl: " and the message, on stderr.  Here, not in zctl.c: every
 * file prints its own messages, and none of them calls up into main.
 */
static inline __attribute__((format(printf, 1, 2)))
void zctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("zramfusectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

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
/*
 * What serves the mount: the first word of .zram/transport ("uring" or
 * "classic"); 0 or -errno (a daemon too old to have the file: -ENOENT).
 */
int zctl_sys_transport(const char *mnt, char *out, size_t len);

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

#endif
