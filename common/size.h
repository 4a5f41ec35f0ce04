/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * size: a byte count written as text, the one parser the daemon and
 * zramfusectl share (and the only code they share).
 *
 * The grammar: decimal digits, then at most one unit letter K, M, G or T,
 * either case, a power of 1024 ("4096", "64k", "2G").  Nothing else: no
 * sign, no blank, no fraction, no "0x".
 *
 * SIZE_UTIL_LINUX adds what util-linux's tools take (zramctl --size,
 * swapon, losetup), for zramfusectl whose options mirror zramctl's: the
 * letter P, and after the letter "iB" (the same power of 1024) or "B" (a
 * power of 1000), so "1KiB" is 1024 and "1KB" 1000.  The daemon leaves it
 * out: its sizes (-o size=, .zram/disksize) follow zram's, which has no
 * "KB", and "1KB" is better refused there than read as either 1000 or
 * 1024.
 */
#ifndef ZRAMFUSE_SIZE_H
#define ZRAMFUSE_SIZE_H

#include <stdint.h>

#define SIZE_UTIL_LINUX 1u

/*
 * Parse @s, the whole string, as a size under @flags (0 or
 * SIZE_UTIL_LINUX).  Returns 0 with *@out set; -EINVAL when @s is not a
 * size, -ERANGE when it is one beyond UINT64_MAX bytes.  *@out is left
 * alone on error.
 */
int size_parse(const char *s, unsigned flags, uint64_t *out);

#endif
