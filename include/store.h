/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store: the compressed page store below the FUSE layer.
 *
 * A struct store owns the allocator (zspool), the codecs, the memory for
 * writes (the reserve), the deferred-free queue (reclaim) and the backing
 * file, and is shared by every file.  A struct store_file is one file's
 * contents: a sparse table of 4 KiB slots.  The store knows nothing of
 * file sizes or names; the caller (fs.c) keeps those and clamps offsets.
 * Every function returns 0 / a byte count or -errno, and is safe to call
 * from many threads at once on the same file.  The implementation's map
 * is at the top of src/store_core.h.
 */
#ifndef ZRAMFUSE_STORE_H
#define ZRAMFUSE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_PAGE_SIZE 4096u
#define STORE_PAGE_SHIFT 12
/*
 * The largest offset the slot table can address (128 TiB); I/O beyond it
 * fails with -EFBIG (counted in invalid_io), discards are clamped to it.
 */
#define STORE_MAX_BYTES (1ull << 47)
/* The largest dictionary (a dict= file, a trained one). */
#define STORE_DICT_MAX (1u << 20)
/* train_dict: the default size, the smallest, the sample's bounds in pages */
#define STORE_TRAIN_DEFAULT_BYTES (64u << 10)
#define STORE_TRAIN_MIN_BYTES 1024u
#define STORE_TRAIN_PAGES 2048u
#define STORE_TRAIN_MIN_PAGES 16u

struct store;
struct store_file;

struct store_config {
	const char *comp;		/* codec name; NULL = "lz4" */
	int comp_level;			/* 0 = the codec's default */
	uint64_t mem_limit;		/* bytes; 0 = no limit */
	bool deferred_free;		/* false: discard/destroy free in place */
	unsigned reclaim_threads;	/* 0 = 1 */
	size_t reclaim_queue_max;	/* handles; 0 = a sensible default */
	uint64_t reserve_pages;		/* allocator reserve; 0 = none */
	/*
	 * With nowait_writes: the memory headroom (src/reserve.c) at
	 * which a writer that found the reserve empty faults pages in itself;
	 * 0 = 64 MiB, UINT64_MAX = never (writes then use the reserve only).
	 */
	uint64_t headroom_min;
	/*
	 * Writes never wait for memory the kernel would have to reclaim: a
	 * write takes pages from the reserve, or faults them in itself while
	 * memory is plentiful, and fails with -ENOMEM only when neither
	 * works (see src/reserve.c).
	 */
	bool nowait_writes;
	/* recompression priority 1 (recomp_algorithm), NULL = none yet */
	const char *recomp;
	int recomp_level;		/* 0 = its default */
	unsigned max_zspage_pages;	/* 0 = 8 */
	/* writeback's backing file or block device; NULL = none yet */
	const char *backing_dev;
	/* a regular backing file shorter than this is made this long (sparse) */
	uint64_t backing_need;
	/*
	 * Where store_create() writes a sentence saying why it failed, when
	 * it knows more than the errno (the backing file): @why_len bytes,
	 * "" when it has nothing to add; NULL = nowhere.
	 */
	char *why;
	size_t why_len;
	/*
	 * zstd dictionaries (absolute paths; NULL = none) of the primary codec
	 * and of recompression priority 1, as algorithm_params dict= sets them.
	 */
	const char *comp_dict;
	const char *recomp_dict;
};

/* zram's figures, with zram's meaning, plus what zram lacks. */
struct store_stats {
	/* mm_stat, in zram's order */
	uint64_t orig_data_size;	/* bytes of pages stored, same-filled included */
	uint64_t compr_data_size;	/* bytes of compressed objects */
	uint64_t mem_used_total;	/* bytes of allocator pages */
	uint64_t mem_limit;		/* bytes; 0 = none */
	uint64_t mem_used_max;		/* bytes */
	uint64_t same_pages;
	uint64_t pages_compacted;
	uint64_t huge_pages;
	uint64_t huge_pages_since;
	/* io_stat */
	uint64_t failed_reads;
	uint64_t failed_writes;
	uint64_t invalid_io;
	uint64_t notify_free;		/* pages freed by discard */
	/* deferred free */
	uint64_t reclaim_queued_pages;	/* waiting to be freed now */
	uint64_t reclaim_queued_bytes;
	uint64_t reclaim_batches;	/* batches run */
	uint64_t reclaim_sync_frees;	/* queue full: freed by the caller */
	uint64_t reclaim_freed_pages;	/* freed by the reclaim thread */
	/* allocator reserve */
	uint64_t reserve_pages;
	uint64_t reserve_target;
	uint64_t nowait_failed;		/* write allocations refused for want of a page */
	uint64_t reserve_grown;		/* pages writers faulted in themselves */
	/* counters */
	uint64_t reads;
	uint64_t writes;
	/* pages read since they were written (on a swap device: pages the
	 * kernel may also hold in its swap cache) and their objects' bytes */
	uint64_t readback_pages;
	uint64_t readback_compr;
	uint64_t readback_recomp;	/* of them, held by a recompression codec */
	uint64_t readback_todo;		/* objects among them not tried yet */
	/* slot-table metadata of all files (and destroyed, not yet freed) */
	uint64_t table_bytes;
	/* bd_stat, in 4 KiB pages: on the backing file now, read, written */
	uint64_t bd_count;
	uint64_t bd_reads;
	uint64_t bd_writes;
};

int store_create(const struct store_config *cfg, struct store **out);
/* Destroys all remaining files, drains and stops reclaim, frees the pool. */
void store_destroy(struct store *st);

/*
 * Create this thread's scratch state (codec context, bounce buffers) now,
 * so that the I/O path never allocates it.  Optional: the I/O calls do it
 * on first use otherwise.  State is freed when the thread exits.
 */
int store_thread_init(struct store *st);

int store_file_create(struct store *st, struct store_file **out);
/*
 * The file is gone (unlinked and closed): hand its whole table to
 * reclaim and return at once.  No call on @f may be running or follow.
 */
void store_file_destroy(struct store_file *f);

/* Read @len bytes at @off; holes read as zeros.  Returns @len or -errno. */
ssize_t store_read(struct store_file *f, void *buf, size_t len, uint64_t off);
/*
 * Write @len bytes at @off.  Returns @len or -errno: -ENOSPC at the memory
 * limit (then nothing already stored has changed), -ENOMEM when
 * nowait_writes is set and no page could be had at once.  Pages are
 * written in order, each on its own: when a write of several pages fails,
 * the pages before the failing one hold the new data, that page and the
 * ones after it their old data.
 */
ssize_t store_write(struct store_file *f, const void *buf, size_t len,
		    uint64_t off);
/*
 * Punch a hole: whole pages are detached and queued for reclaim, partial
 * pages at the ends are zeroed in place.  Returns 0 or -errno.
 */
int store_discard(struct store_file *f, uint64_t off, uint64_t len);

/*
 * SEEK_DATA / SEEK_HOLE at page granularity from @off, within [0, @size).
 * Returns 0 and the offset in *@out, or -ENXIO as lseek(2) does.
 */
int store_seek(struct store_file *f, uint64_t off, int whence, uint64_t size,
	       uint64_t *out);

/* Per-file figures: pages stored (same-filled included), compressed bytes. */
void store_file_usage(struct store_file *f, uint64_t *pages,
		      uint64_t *compr_bytes);

void store_stats(struct store *st, struct store_stats *out);
const char *store_comp_name(struct store *st);
/* Compact the allocator; returns pages freed. */
uint64_t store_compact(struct store *st);
/* The same, keeping up to @pages freed pages resident (zspool_compact_keep()). */
uint64_t store_compact_keep(struct store *st, uint64_t pages);
/* Compact, keeping only what the pool's allocations want (zspool_tidy()). */
uint64_t store_tidy(struct store *st);
/* Wait until everything queued for reclaim so far has been freed. */
void store_drain(struct store *st);
void store_set_mem_limit(struct store *st, uint64_t bytes);
/* Reset mem_used_max to the current mem_used_total. */
void store_reset_mem_used_max(struct store *st);
void store_set_reserve(struct store *st, uint64_t pages);

/*
 * Post-processing: zram's idle, writeback and recompression.
 *
 * Every stored page has an access time (seconds, set by each read and
 * write) and an idle mark that any read or write clears.
 *
 * store_mark_idle(): @age PP_IDLE_ALL marks every page in memory idle
 * (same-filled and written-back pages are never idle, as in zram);
 * otherwise a page is marked idle when its last access is at least @age
 * seconds old and its mark is cleared when it is younger.  Returns the
 * pages marked idle.
 */
uint64_t store_mark_idle(struct store *st, uint64_t age);

/*
 * A writeback or recompression pass runs one at a time (zram's
 * pp_in_progress).  A caller that serves requests passes 0 and gets
 * -EAGAIN at once while another runs; a background thread passes
 * STORE_PP_WAIT and waits for it (and goes before the callers that only
 * try).
 */
#define STORE_PP_WAIT 1u

struct pp_scan;
/*
 * zram's writeback: move the pages that @scans select (include/pp.h; a
 * scan with page indexes applies to @primary, one without to every file)
 * to the backing file, compressed, one 4 KiB block each, up to
 * writeback_batch_size of them written at a time; at most @max_pages
 * (0 = no bound).  The pages' memory is freed; reads come back from the
 * file.  @flags: STORE_PP_WAIT or 0 (above).  Returns 0 and the pages
 * moved in *@done, or -errno: -ENODEV without a backing file, -EAGAIN
 * while another pass runs, -EIO when the writeback limit is reached (or
 * a write failed), -ENOSPC when the backing file is full; pages moved
 * before the error stay moved.
 */
int store_writeback(struct store *st, struct store_file *primary,
		    const struct pp_scan *scans, size_t n, uint64_t max_pages,
		    unsigned flags, uint64_t *done);
/*
 * Open @path as the backing file (backing_open(), include/backing.h: an
 * absolute path, a regular file or a block device, checked before
 * anything else is done to it, and kept to this store alone); a regular
 * file shorter than @need bytes is made that long, sparse.  Naming the
 * current one again changes nothing.  Returns 0, or -errno with a
 * sentence saying why in @why (@why_len bytes; may be NULL): -EBUSY once
 * a page has been written back to the current one or while a writeback
 * pass uses it, or when another user holds the file; backing_open()'s
 * errors.  The file is opened before any lock is taken, so no thread
 * waits behind the opening.
 */
int store_set_backing_dev(struct store *st, const char *path, uint64_t need,
			  char *why, size_t why_len);
/*
 * Copy the backing file's path into @buf (@size bytes, cut short to fit,
 * NUL-terminated) and return true, or return false with @buf "" when
 * there is none.  A copy because a write to backing_dev frees the old
 * path; it waits for no pass.
 */
bool store_backing_dev(struct store *st, char *buf, size_t size);
/* Whether there is a backing file; once there is one, there always is. */
bool store_has_backing_dev(struct store *st);
/*
 * zram's writeback_batch_size: pages a writeback pass writes at a time
 * (STORE_WB_BATCH_DEFAULT, 32, as zram; at least 1, and a pass takes at
 * most 256 of them); the setter returns 0 or -EINVAL for 0.
 */
unsigned store_wb_batch(struct store *st);
int store_set_wb_batch(struct store *st, uint64_t pages);
/* zram's writeback_limit (4 KiB pages) and writeback_limit_enable. */
uint64_t store_wb_limit(struct store *st);
void store_set_wb_limit(struct store *st, uint64_t pages);
bool store_wb_limit_enable(struct store *st);
void store_set_wb_limit_enable(struct store *st, bool on);
/*
 * zram's recomp_algorithm: the codec of recompression priority @prio
 * (1-3) and its level (0: the codec's default).  -EINVAL for a bad
 * priority, codec or level, -EBUSY once pages use that priority or while
 * a recompression pass uses it.
 */
int store_set_recomp(struct store *st, unsigned prio, const char *name,
		     int level);
/*
 * Compressed to this or more, a page is stored raw: the allocator's huge
 * class size (zram's huge_class_size).
 */
size_t store_huge_size(struct store *st);
/*
 * zram's algorithm_params: the parameters of the codec at priority @prio
 * (0 the primary, 1-3 recompression), or (@prio < 0) of the one named
 * @name, set as a whole as zram sets them: its @level (0: the codec's
 * default) and the dictionary in the file at absolute path @dict (a
 * trained one or raw content, at most STORE_DICT_MAX bytes), or none
 * (NULL).  New pages of the primary are compressed with them from each
 * worker's next request on, those of a recompression codec from the next
 * recompress; every page stored before still decodes (its dictionary
 * stays until no page uses it).  Returns 0, or -EINVAL (no such codec,
 * @name not the codec at @prio, a level out of its range, a dictionary
 * for a codec without them, a relative path, an empty or malformed
 * file), -EISDIR, -EFBIG (too large), -EBUSY (seven dictionaries still in
 * use), -EAGAIN (recomp_algorithm changed that priority's codec
 * meanwhile), open(2)'s errno, -ENOMEM; on error nothing changes.  The
 * file is read and the dictionary made before any lock is taken; no pass
 * keeps it waiting (a pass goes on with the parameters it started with).
 */
int store_set_params(struct store *st, int prio, const char *name, int level,
		     const char *dict);
/*
 * train_dict: train a dictionary of at most @size bytes (1 KiB to
 * STORE_DICT_MAX) from a sample of the pages stored now - up to
 * STORE_TRAIN_PAGES compressed objects spread over every file, decoded
 * one at a time under their slot locks - and install it for every codec
 * that takes one (the primary and the recompression codecs), at their
 * levels, as store_set_params() would.  Runs on the caller's thread for
 * as long as training takes (about half a second), waiting for no pass.
 * Returns 0, or -EINVAL (a bad size, no codec takes dictionaries),
 * -ENODATA (fewer than STORE_TRAIN_MIN_PAGES pages, or none the trainer
 * could use), -EAGAIN (another training runs, or the codecs changed
 * meanwhile), -EBUSY, -ENOMEM.
 */
int store_train_dict(struct store *st, size_t size);

/* train_dict's report. */
struct store_dict_stats {
	/* the last training: its dictionary's bytes, pages sampled and their
	 * bytes, those pages compressed without and with it */
	uint64_t dict_bytes;
	uint64_t samples;
	uint64_t sample_bytes;
	uint64_t compr_plain;
	uint64_t compr_dict;
	uint64_t dicts;			/* dictionaries pages or codecs use */
	uint64_t mem;			/* their bytes, decoding and encoding forms */
};
/*
 * Fill @out; dictionaries no page and no codec uses any more are freed
 * first.  Costs no walk over the pages (each thread counts the pages per
 * dictionary it stores and drops) and waits for no pass.
 */
void store_dict_stats(struct store *st, struct store_dict_stats *out);
/* The codec of priority @prio (1-3) and its level, or NULL when unset. */
const char *store_recomp_name(struct store *st, unsigned prio, int *level);
struct pp_recompress;
/*
 * zram's recompress (include/pp.h for the request): pages that shrink
 * with a recompression codec are re-encoded with it; a page no codec up
 * to the highest one shrinks is marked incompressible and not tried
 * again.  @flags: STORE_PP_WAIT or 0 (see store_writeback()).  The codecs'
 * contexts are made once the pass has the post-processing lock, which
 * no serving thread waits for.  Returns 0 and the pages recompressed in
 * *@done, or -EINVAL (no such codec or priority), -EAGAIN (another pass
 * runs), -ENOSPC or -ENOMEM (no memory for a new object: the pass stops
 * there).
 */
int store_recompress(struct store *st, const struct pp_recompress *r,
		     unsigned flags, uint64_t *done);
/* Wait until every freed block of the backing file has its hole punched. */
void store_backing_sync(struct store *st);
/*
 * zram's debugfs block_state for the stored pages of @f, one line each:
 * "index access_time flags" with flags s(ame) w(ritten back) h(uge)
 * i(dle) r(ecompressed) n (incompressible), '.' when not.  A new buffer
 * in *@text (free() it).  Returns 0 or -ENOMEM.
 */
int store_block_state(struct store_file *f, char **text, size_t *len);

#endif
