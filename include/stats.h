/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stats: the text form of the store's figures, as the control files in
 * <mnt>/.zram/ show them.  Pure formatting over struct store_stats, so it
 * lives in the core library and is unit-tested without a mount.
 *
 * Every function works like snprintf(): it writes at most @len bytes
 * including the NUL and returns the length the full text needs.  Each
 * text ends with a newline, as zram's sysfs files do.
 */
#ifndef ZRAMFUSE_STATS_H
#define ZRAMFUSE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * zram's mm_stat, nine columns in zram's order: orig_data_size
 * compr_data_size mem_used_total mem_limit mem_used_max same_pages
 * pages_compacted huge_pages huge_pages_since.
 */
int stats_mm_stat(const struct store_stats *s, char *buf, size_t len);
/* zram's io_stat: failed_reads failed_writes invalid_io notify_free. */
int stats_io_stat(const struct store_stats *s, char *buf, size_t len);
/*
 * The deferred-free queue: queued_pages queued_bytes batches sync_frees
 * freed_pages.
 */
int stats_reclaim_stat(const struct store_stats *s, char *buf, size_t len);
/* The allocator reserve: reserve_pages reserve_target nowait_failed. */
int stats_reserve_stat(const struct store_stats *s, char *buf, size_t len);
/*
 * Pages read since they were last written: readback_pages readback_compr
 * readback_recomp (those held by a recompression codec) readback_todo
 * (those no codec has tried yet).
 */
int stats_readback_stat(const struct store_stats *s, char *buf, size_t len);
/* zram's bd_stat, in 4 KiB pages: bd_count bd_reads bd_writes. */
int stats_bd_stat(const struct store_stats *s, char *buf, size_t len);
/*
 * train_dict (not in zram): dict_bytes samples sample_bytes compr_plain
 * compr_dict (the last training: its dictionary, the pages it sampled,
 * their bytes compressed without and with it) dicts mem (dictionaries
 * pages or codecs use now, and their bytes).
 */
int stats_train_dict(const struct store_dict_stats *d, char *buf, size_t len);
/* One number and a newline (mem_limit, mem_used_max). */
int stats_u64(uint64_t v, char *buf, size_t len);
/*
 * zram's comp_algorithm: the space-separated @available names with
 * @current in brackets, e.g. "[lz4] zstd".
 */
int stats_comp_algorithm(const char *current, const char *available,
			 char *buf, size_t len);
/*
 * One line of .zram/files: size stored_pages compr_data_size name.  The
 * name comes last so that it may hold spaces; a newline or backslash in
 * it is written as \n or \\.
 */
int stats_file_line(uint64_t size, uint64_t pages, uint64_t compr_bytes,
		    const char *name, char *buf, size_t len);

#endif
