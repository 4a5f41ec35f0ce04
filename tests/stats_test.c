// SPDX-License-Identifier: GPL-2.0-or-later
/* stats_test: the text of the control files, column by column. */
#include "config.h"

#include <string.h>

#include "stats.h"
#include "tap.h"

int main(void)
{
	struct store_stats s;
	char buf[512], small[8];
	int n;

	memset(&s, 0, sizeof(s));
	s.orig_data_size = 1;
	s.compr_data_size = 2;
	s.mem_used_total = 3;
	s.mem_limit = 4;
	s.mem_used_max = 5;
	s.same_pages = 6;
	s.pages_compacted = 7;
	s.huge_pages = 8;
	s.huge_pages_since = 9;
	s.failed_reads = 10;
	s.failed_writes = 11;
	s.invalid_io = 12;
	s.notify_free = 13;
	s.reclaim_queued_pages = 14;
	s.reclaim_queued_bytes = 15;
	s.reclaim_batches = 16;
	s.reclaim_sync_frees = 17;
	s.reclaim_freed_pages = 18;
	s.reserve_pages = 19;
	s.reserve_target = 20;
	s.nowait_failed = 21;
	s.reserve_grown = 22;
	s.readback_pages = 23;
	s.readback_compr = 24;
	s.readback_recomp = 25;
	s.readback_todo = 26;

	n = stats_mm_stat(&s, buf, sizeof(buf));
	tap_ok(!strcmp(buf, "1 2 3 4 5 6 7 8 9\n") && n == (int)strlen(buf),
	       "mm_stat: zram's nine columns in zram's order");
	stats_io_stat(&s, buf, sizeof(buf));
	tap_ok(!strcmp(buf, "10 11 12 13\n"), "io_stat: four columns");
	stats_reclaim_stat(&s, buf, sizeof(buf));
	tap_ok(!strcmp(buf, "14 15 16 17 18\n"), "reclaim_stat: five columns");
	stats_reserve_stat(&s, buf, sizeof(buf));
	tap_ok(!strcmp(buf, "19 20 21 22\n"), "reserve_stat: four columns");
	stats_readback_stat(&s, buf, sizeof(buf));
	tap_ok(!strcmp(buf, "23 24 25 26\n"), "readback_stat: four columns");
	stats_u64(UINT64_MAX, buf, sizeof(buf));
	tap_ok(!strcmp(buf, "18446744073709551615\n"), "a single number");
	{
		struct store_dict_stats d = { 65536, 2048, 8388608, 3000000, 2500000,
					      2, 1200000 };

		stats_train_dict(&d, buf, sizeof(buf));
		tap_ok(!strcmp(buf, "65536 2048 8388608 3000000 2500000 2 1200000\n"),
		       "train_dict: seven columns");
	}

	n = stats_mm_stat(&s, small, sizeof(small));
	tap_ok(n == 18 && strlen(small) == sizeof(small) - 1,
	       "snprintf semantics: truncated, NUL-terminated, full length returned");

	stats_comp_algorithm("lz4", "lz4 zstd", buf, sizeof(buf));
	tap_ok(!strcmp(buf, "[lz4] zstd\n"), "comp_algorithm: current first");
	stats_comp_algorithm("zstd", "lz4 zstd", buf, sizeof(buf));
	tap_ok(!strcmp(buf, "lz4 [zstd]\n"), "comp_algorithm: current second");
	n = stats_comp_algorithm("zstd", "lz4 zstd", small, 4);
	tap_ok(n == 11 && !strcmp(small, "lz4"), "comp_algorithm: truncation");

	n = stats_file_line(8192, 2, 100, "swap", buf, sizeof(buf));
	tap_ok(!strcmp(buf, "8192 2 100 swap\n") && n == 16, "files: one line");
	stats_file_line(0, 0, 0, "a b\nc\\", buf, sizeof(buf));
	tap_ok(!strcmp(buf, "0 0 0 a b\\nc\\\\\n"), "files: escapes newline and backslash");
	n = stats_file_line(1, 2, 3, "name", small, sizeof(small));
	tap_ok(n == 11 && strlen(small) == 7, "files: truncation");
	return tap_done();
}
