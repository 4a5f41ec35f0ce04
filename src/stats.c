// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * stats: the text of the control files.  Columns and their order follow
 * zram's sysfs, so scripts that split /sys/block/zram0/mm_stat on blanks
 * read <mnt>/.zram/mm_stat unchanged; the figures come from store_stats()
 * with zram's meaning (see include/store.h).  Unlike zram, columns are
 * separated by one space without padding, so "cut -d' ' -f1" works too.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

int stats_mm_stat(const struct store_stats *s, char *buf, size_t len)
{
	return snprintf(buf, len,
			"%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			" %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			" %" PRIu64 "\n",
			s->orig_data_size, s->compr_data_size,
			s->mem_used_total, s->mem_limit, s->mem_used_max,
			s->same_pages, s->pages_compacted, s->huge_pages,
			s->huge_pages_since);
}

int stats_io_stat(const struct store_stats *s, char *buf, size_t len)
{
	return snprintf(buf, len,
			"%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			s->failed_reads, s->failed_writes, s->invalid_io,
			s->notify_free);
}

int stats_reclaim_stat(const struct store_stats *s, char *buf, size_t len)
{
	return snprintf(buf, len,
			"%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			" %" PRIu64 "\n",
			s->reclaim_queued_pages, s->reclaim_queued_bytes,
			s->reclaim_batches, s->reclaim_sync_frees,
			s->reclaim_freed_pages);
}

int stats_reserve_stat(const struct store_stats *s, char *buf, size_t len)
{
	return snprintf(buf, len, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			s->reserve_pages, s->reserve_target,
			s->nowait_failed, s->reserve_grown);
}

int stats_readback_stat(const struct store_stats *s, char *buf, size_t len)
{
	return snprintf(buf, len, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			s->readback_pages, s->readback_compr, s->readback_recomp,
			s->readback_todo);
}

int stats_bd_stat(const struct store_stats *s, char *buf, size_t len)
{
	return snprintf(buf, len, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			s->bd_count, s->bd_reads, s->bd_writes);
}

int stats_train_dict(const struct store_dict_stats *d, char *buf, size_t len)
{
	return snprintf(buf, len, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			" %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			d->dict_bytes, d->samples, d->sample_bytes, d->compr_plain,
			d->compr_dict, d->dicts, d->mem);
}

int stats_u64(uint64_t v, char *buf, size_t len)
{
	return snprintf(buf, len, "%" PRIu64 "\n", v);
}

int stats_comp_algorithm(const char *current, const char *available,
			 char *buf, size_t len)
{
	const char *p = available;
	size_t n = 0;
	int k;

	if (len)
		buf[0] = '\0';
	while (*p) {
		size_t w = strcspn(p, " ");
		int cur = strlen(current) == w && !strncmp(p, current, w);

		k = snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0,
			     "%s%s%.*s%s", n ? " " : "", cur ? "[" : "",
			     (int)w, p, cur ? "]" : "");
		n += (size_t)k;
		p += w;
		while (*p == ' ')
			p++;
	}
	k = snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0, "\n");
	return (int)n + k;
}

/* Append @c at *@n, keeping room for the final NUL. */
static void stats_put(char *buf, size_t len, size_t *n, char c)
{
	if (*n + 1 < len)
		buf[*n] = c;
	(*n)++;
}

int stats_file_line(uint64_t size, uint64_t pages, uint64_t compr_bytes,
		    const char *name, char *buf, size_t len)
{
	size_t n;

	n = (size_t)snprintf(buf, len, "%" PRIu64 " %" PRIu64 " %" PRIu64 " ",
			     size, pages, compr_bytes);
	for (; *name; name++) {
		if (*name == '\n' || *name == '\\') {
			stats_put(buf, len, &n, '\\');
			stats_put(buf, len, &n, *name == '\n' ? 'n' : '\\');
		} else {
			stats_put(buf, len, &n, *name);
		}
	}
	stats_put(buf, len, &n, '\n');
	if (len)
		buf[n < len ? n : len - 1] = '\0';
	return (int)n;
}
