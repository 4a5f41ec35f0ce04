// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fsx: a randomized exerciser of one file on a mounted zramfuse, every
 * result checked against an in-memory model of the file.
 *
 * The model is the file's bytes (or the bytes of this copy's region) and,
 * in whole-file mode, its size.  Operations, chosen at random from a
 * seeded generator (-s; printed at the start, so a failure can be run
 * again): pread and pwrite at aligned and unaligned offsets and lengths,
 * with data of the kinds the store treats apart (zeros, one repeated
 * byte, text, random bytes); fallocate in every mode src/fs.c accepts -
 * PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE with and without KEEP_SIZE, mode 0
 * (grows the size) and KEEP_SIZE alone (nothing to do) - and modes it
 * refuses, which must fail with EOPNOTSUPP and change nothing; ftruncate
 * growing and shrinking and open(O_TRUNC); close and reopen, with or
 * without O_DIRECT; SEEK_DATA/SEEK_HOLE, whose answers must agree with
 * the model (a hole reads as zeros); and from time to time a read of the
 * whole file.  After every operation fstat's size is checked.
 *
 * O_DIRECT: zramfuse opens every file direct_io, so the kernel passes
 * O_DIRECT requests through unaligned; while the descriptor is O_DIRECT
 * three ops in four use 4096-aligned offsets, lengths and buffers, and the
 * fourth is unaligned in all three and must succeed exactly as a buffered
 * one does.
 *
 * Region mode (-o OFFSET -l LEN): this copy reads and writes only bytes in
 * [OFFSET, OFFSET+LEN), so several copies can share one file on disjoint
 * regions (which may share a page: the store must then merge partial-page
 * writes of two writers).  The file's size then belongs to no copy alone,
 * so region mode never shrinks it: at the start the size is raised to at
 * least OFFSET+LEN with fallocate mode 0 (which only ever grows it, so two
 * copies starting at once cannot undo each other), the region is punched
 * to zeros, and from then on truncates and O_TRUNC are left out; the size
 * check is "at least OFFSET+LEN", and size-changing fallocate modes stay
 * in (inside the region they cannot change the size).
 *
 * The model itself is checked the same way against another filesystem:
 * with -R (no refused modes: ext4 supports COLLAPSE_RANGE and the rest)
 * and -d 0 (ext4 rejects unaligned O_DIRECT with EINVAL), 100,000 ops on
 * ext4 match it.
 *
 * Any error, ENOMEM included, is a failure: with memory to spare no write
 * may fail.  On a failure fsx prints the seed, the failing operation, the
 * first differing offset with the expected and actual bytes, and the last
 * operations, and exits 1.  At the end it prints the count of each kind of
 * operation and exits 0.  2 is bad usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define LOG_LEN 32
#define DESC_LEN 160
#define VERIFY_EVERY 500

#ifndef FALLOC_FL_UNSHARE_RANGE
#define FALLOC_FL_UNSHARE_RANGE 0x40
#endif

enum op {
	OP_READ,
	OP_WRITE,
	OP_PUNCH,		/* PUNCH_HOLE | KEEP_SIZE */
	OP_ZERO_KEEP,		/* ZERO_RANGE | KEEP_SIZE */
	OP_ZERO,		/* ZERO_RANGE: may grow the size */
	OP_ALLOC,		/* mode 0: grows the size */
	OP_ALLOC_KEEP,		/* KEEP_SIZE: nothing */
	OP_BADMODE,		/* refused modes: EOPNOTSUPP */
	OP_TRUNCATE,		/* ftruncate, grow or shrink */
	OP_OTRUNC,		/* reopen with O_TRUNC */
	OP_REOPEN,
	OP_SEEK,
	OP_VERIFY,		/* read the whole file or region */
	NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"read", "write", "punch", "zero_keep", "zero", "alloc", "alloc_keep",
	"badmode", "truncate", "otrunc", "reopen", "seek", "verify",
};

/* relative weights; region mode zeroes the size-shrinking ones */
static unsigned op_weight[NR_OPS] = {
	[OP_READ] = 30, [OP_WRITE] = 30, [OP_PUNCH] = 6, [OP_ZERO_KEEP] = 4,
	[OP_ZERO] = 3, [OP_ALLOC] = 2, [OP_ALLOC_KEEP] = 1, [OP_BADMODE] = 1,
	[OP_TRUNCATE] = 5, [OP_OTRUNC] = 1, [OP_REOPEN] = 3, [OP_SEEK] = 4,
	[OP_VERIFY] = 0,	/* every VERIFY_EVERY ops and at the end */
};

static const struct {
	int mode;
	const char *name;
} bad_modes[] = {
	{ FALLOC_FL_PUNCH_HOLE, "PUNCH_HOLE" },
	{ FALLOC_FL_COLLAPSE_RANGE, "COLLAPSE_RANGE" },
	{ FALLOC_FL_INSERT_RANGE, "INSERT_RANGE" },
	{ FALLOC_FL_UNSHARE_RANGE, "UNSHARE_RANGE" },
	{ FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE, "UNSHARE_RANGE|KEEP_SIZE" },
	{ FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	  "ZERO_RANGE|PUNCH_HOLE|KEEP_SIZE" },
};

/* ---- state -------------------------------------------------------------- */

static const char *path;
static uint64_t seed;
static bool region;		/* -o/-l given */
static uint64_t base;		/* first byte of our range */
static uint64_t span;		/* bytes in our range (maxsize in whole mode) */
static uint64_t max_len = 256 * 1024;
static int direct_policy = 2;	/* 0 never, 1 always, 2 at random */

static unsigned char *model;	/* model[k] is the file's byte base + k */
static uint64_t msize;		/* whole-file mode: the file's size */
static unsigned char *wbuf, *rbuf;	/* max_len + 2 pages, page-aligned */

static int fd = -1;
static bool direct;
static uint64_t opno;
static uint64_t counts[NR_OPS];
static uint64_t bytes_written, bytes_read;
static uint64_t rng_state;

static char oplog[LOG_LEN][DESC_LEN];
static char cur[DESC_LEN];	/* the operation being done */

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rnd(void)
{
	/* splitmix64: every seed, 0 included, gives a good stream */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in [0, n), n > 0 */
static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static uint64_t round_up(uint64_t x)
{
	return (x + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

static uint64_t round_down(uint64_t x)
{
	return x & ~(uint64_t)(PAGE - 1);
}

static void dump_log(void)
{
	uint64_t first = opno >= LOG_LEN ? opno - LOG_LEN + 1 : 1;

	fprintf(stderr, "fsx: last operations (oldest first):\n");
	for (uint64_t k = first; k <= opno; k++)
		if (oplog[k % LOG_LEN][0])
			fprintf(stderr, "  %s\n", oplog[k % LOG_LEN]);
}

__attribute__((format(printf, 1, 2), noreturn))
static void fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "fsx: FAIL at op %" PRIu64 " (seed %" PRIu64 ", file %s): ",
		opno, seed, path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfsx: failing op: %s\n", cur[0] ? cur : "(set-up)");
	dump_log();
	fprintf(stderr, "fsx: rerun with -s %" PRIu64 "\n", seed);
	exit(1);
}

/* Describe the operation about to run; it goes to the log as it starts. */
__attribute__((format(printf, 1, 2)))
static void describe(const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(cur, sizeof(cur), "#%" PRIu64 " %s ", opno,
		     direct ? "[D]" : "[b]");
	va_start(ap, fmt);
	vsnprintf(cur + n, sizeof(cur) - (size_t)n, fmt, ap);
	va_end(ap);
	memcpy(oplog[opno % LOG_LEN], cur, sizeof(cur));
}

/* The model's end: what a read may return up to. */
static uint64_t model_end(void)
{
	return region ? base + span : msize;
}

/* Compare @n bytes read at file offset @off with the model. */
static void compare(const unsigned char *got, uint64_t off, uint64_t n)
{
	const unsigned char *want = model + (off - base);

	if (!memcmp(got, want, n))
		return;
	for (uint64_t k = 0; k < n; k++) {
		if (got[k] == want[k])
			continue;
		uint64_t from = k >= 8 ? k - 8 : 0;
		uint64_t to = k + 24 < n ? k + 24 : n;
		uint64_t ndiff = 0;
		char e[3 * 32 + 1] = "", a[3 * 32 + 1] = "";

		for (uint64_t j = k; j < n; j++)
			ndiff += got[j] != want[j];
		for (uint64_t j = from; j < to; j++) {
			snprintf(e + 3 * (j - from), 4, "%02x ", want[j]);
			snprintf(a + 3 * (j - from), 4, "%02x ", got[j]);
		}
		fail("data differs: first at offset %" PRIu64 " (0x%" PRIx64
		     "), expected 0x%02x, got 0x%02x; %" PRIu64 " of the %"
		     PRIu64 " bytes from there differ\n"
		     "  bytes from offset %" PRIu64 ":\n  expected: %s\n  actual:   %s",
		     off + k, off + k, want[k], got[k], ndiff, n - k,
		     off + from, e, a);
	}
}

static void check_size(void)
{
	struct stat st;

	if (fstat(fd, &st))
		fail("fstat: %s", strerror(errno));
	if (region) {
		if ((uint64_t)st.st_size < base + span)
			fail("size %jd is below the region's end %" PRIu64,
			     (intmax_t)st.st_size, base + span);
	} else if ((uint64_t)st.st_size != msize) {
		fail("size %jd, model %" PRIu64, (intmax_t)st.st_size, msize);
	}
}

static void do_open(int extra)
{
	int flags = O_RDWR | O_CREAT | extra;

	if (direct_policy == 1 || (direct_policy == 2 && rnd_below(2)))
		flags |= O_DIRECT;
	fd = open(path, flags, 0600);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	direct = flags & O_DIRECT;
}

/* Zero model bytes [off, end) clamped to our range. */
static void model_zero(uint64_t off, uint64_t end)
{
	uint64_t lo = off > base ? off : base;
	uint64_t hi = end < base + span ? end : base + span;

	if (hi > lo)
		memset(model + (lo - base), 0, hi - lo);
}

/* Change the whole-file model's size; bytes beyond it stay zero. */
static void model_resize(uint64_t size)
{
	if (size < msize)
		model_zero(size, msize);
	msize = size;
}

/* ---- choosing offsets, lengths and data --------------------------------- */

static uint64_t pick_len(void)
{
	uint64_t n;

	switch (rnd_below(16)) {
	case 0: case 1: case 2: case 3:
		n = 1 + rnd_below(64);
		break;
	case 4:
		n = PAGE - 1 + rnd_below(3);
		break;
	case 5:
		n = 512 * (1 + rnd_below(16));
		break;
	case 6: case 7: case 8: case 9:
		n = PAGE * (1 + rnd_below(16));
		break;
	case 10: case 11: case 12:
		n = 1 + rnd_below(65536);
		break;
	case 13: case 14:
		n = 1 + rnd_below(max_len / 4 ? max_len / 4 : 1);
		break;
	default:
		n = 1 + rnd_below(max_len);
		break;
	}
	return n < max_len ? n : max_len;
}

/*
 * An offset and length inside [lo, hi); page-aligned (both) when @aligned
 * and the range holds a whole page.  Returns whether it is aligned.
 */
static bool pick_range(uint64_t lo, uint64_t hi, bool aligned, uint64_t *off,
		       uint64_t *len)
{
	uint64_t o, n;

	if (aligned && round_down(hi) >= round_up(lo) + PAGE) {
		lo = round_up(lo);
		hi = round_down(hi);
	} else {
		aligned = false;
	}
	switch (rnd_below(3)) {
	case 0:		/* a page boundary */
		o = round_down(lo + rnd_below(hi - lo));
		if (o < lo)
			o = lo;
		break;
	case 1:		/* just around one */
		o = round_down(lo + rnd_below(hi - lo)) + rnd_below(9) - 4;
		if (o < lo || o >= hi)
			o = lo + rnd_below(hi - lo);
		break;
	default:
		o = lo + rnd_below(hi - lo);
		break;
	}
	n = pick_len();
	if (aligned) {
		o = round_down(o);
		n = round_up(n);
	}
	if (n > hi - o)
		n = hi - o;
	if (!n)
		n = 1;
	*off = o;
	*len = n;
	return aligned;
}

/* Is this op aligned?  Always when buffered (it does not matter). */
static bool want_aligned(void)
{
	return direct && rnd_below(4) != 0;
}

static const char *const words[] = {
	"swap", "page", "zspage", "compressed", "the", "of", "slot", "loop",
	"fuse", "reclaim", "discard", "write", "read", "zero", "handle",
};

/* Fill @p[0..n) with one kind of data; returns the kind's name. */
static const char *fill(unsigned char *p, uint64_t n)
{
	switch (rnd_below(6)) {
	case 0:
		memset(p, 0, n);
		return "zeros";
	case 1: {
		int c = (int)(1 + rnd_below(255));

		memset(p, c, n);
		return "same";
	}
	case 2: {
		uint64_t k = 0;

		while (k < n) {
			const char *w = words[rnd_below(sizeof(words) / sizeof(words[0]))];
			size_t l = strlen(w);

			for (size_t j = 0; j < l && k < n; j++)
				p[k++] = (unsigned char)w[j];
			if (k < n)
				p[k++] = rnd_below(10) ? ' ' : '\n';
		}
		return "text";
	}
	case 3:
		/* the op number in every 8 bytes: says which write put a byte */
		for (uint64_t k = 0; k < n; k++)
			p[k] = (unsigned char)(k % 8 < 4 ? opno >> (8 * (k % 4)) : 0xa5 ^ k);
		return "tagged";
	default:
		for (uint64_t k = 0; k < n; k += 8) {
			uint64_t r = rnd();

			memcpy(p + k, &r, n - k < 8 ? n - k : 8);
		}
		return "random";
	}
}

/* ---- the operations ----------------------------------------------------- */

static void op_read(void)
{
	uint64_t off, len, want;
	bool al;
	unsigned char *buf;
	ssize_t r;

	/* whole-file mode also reads at and beyond the end */
	al = pick_range(base, region ? base + span : span + 2 * PAGE,
			want_aligned(), &off, &len);
	buf = al ? rbuf : rbuf + 1 + rnd_below(PAGE - 1);
	describe("read %" PRIu64 " @ %" PRIu64 "%s", len, off, al ? "" : " (unaligned)");
	want = off >= model_end() ? 0 :
	       len < model_end() - off ? len : model_end() - off;
	r = pread(fd, buf, len, (off_t)off);
	if (r < 0)
		fail("pread: %s", strerror(errno));
	if ((uint64_t)r != want)
		fail("pread returned %zd, expected %" PRIu64 " (size %" PRIu64 ")",
		     r, want, model_end());
	compare(buf, off, (uint64_t)r);
	bytes_read += (uint64_t)r;
}

static void op_write(void)
{
	uint64_t off, len;
	bool al;
	unsigned char *buf;
	const char *kind;
	ssize_t r;

	al = pick_range(base, base + span, want_aligned(), &off, &len);
	buf = al ? wbuf : wbuf + 1 + rnd_below(PAGE - 1);
	kind = fill(buf, len);
	describe("write %" PRIu64 " @ %" PRIu64 " %s%s", len, off, kind,
		 al ? "" : " (unaligned)");
	r = pwrite(fd, buf, len, (off_t)off);
	if (r < 0)
		fail("pwrite: %s", strerror(errno));
	if ((uint64_t)r != len)
		fail("pwrite returned %zd of %" PRIu64, r, len);
	memcpy(model + (off - base), buf, len);
	if (!region && off + len > msize)
		msize = off + len;
	bytes_written += len;
}

static void op_fallocate(enum op op)
{
	static const struct {
		int mode;
		const char *name;
	} modes[] = {
		[OP_PUNCH] = { FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "PUNCH_HOLE|KEEP_SIZE" },
		[OP_ZERO_KEEP] = { FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, "ZERO_RANGE|KEEP_SIZE" },
		[OP_ZERO] = { FALLOC_FL_ZERO_RANGE, "ZERO_RANGE" },
		[OP_ALLOC] = { 0, "0" },
		[OP_ALLOC_KEEP] = { FALLOC_FL_KEEP_SIZE, "KEEP_SIZE" },
	};
	uint64_t off, len, end;
	int mode = modes[op].mode;

	pick_range(base, base + span, rnd_below(2), &off, &len);
	/* holes and zero ranges are often large */
	if (rnd_below(4) == 0)
		len = 1 + rnd_below(base + span - off);
	end = off + len;
	describe("fallocate %s %" PRIu64 " @ %" PRIu64, modes[op].name, len, off);
	if (fallocate(fd, mode, (off_t)off, (off_t)len))
		fail("fallocate(%s): %s", modes[op].name, strerror(errno));
	switch (op) {
	case OP_PUNCH:
	case OP_ZERO_KEEP:
		model_zero(off, region ? end : (end < msize ? end : msize));
		break;
	case OP_ZERO:
		model_zero(off, end);
		if (!region && end > msize)
			msize = end;
		break;
	case OP_ALLOC:
		if (!region && end > msize)
			msize = end;
		break;
	default:
		break;
	}
}

static void op_badmode(void)
{
	unsigned k = (unsigned)rnd_below(sizeof(bad_modes) / sizeof(bad_modes[0]));
	uint64_t off, len;

	pick_range(base, base + span, true, &off, &len);
	describe("fallocate %s %" PRIu64 " @ %" PRIu64 " (must be refused)",
		 bad_modes[k].name, len, off);
	if (!fallocate(fd, bad_modes[k].mode, (off_t)off, (off_t)len))
		fail("fallocate(%s) succeeded; zramfuse does not support it",
		     bad_modes[k].name);
	if (errno != EOPNOTSUPP)
		fail("fallocate(%s): %s, expected EOPNOTSUPP", bad_modes[k].name,
		     strerror(errno));
}

static uint64_t pick_size(void)
{
	switch (rnd_below(4)) {
	case 0:
		return rnd_below(3 * PAGE);
	case 1:
		return round_down(rnd_below(span + 1));
	default:
		return rnd_below(span + 1);
	}
}

static void op_truncate(void)
{
	uint64_t size = pick_size();

	describe("ftruncate %" PRIu64 " (from %" PRIu64 ")", size, msize);
	if (ftruncate(fd, (off_t)size))
		fail("ftruncate: %s", strerror(errno));
	model_resize(size);
}

static void op_reopen(bool trunc)
{
	describe("close, reopen%s", trunc ? " with O_TRUNC" : "");
	if (close(fd))
		fail("close: %s", strerror(errno));
	fd = -1;
	do_open(trunc ? O_TRUNC : 0);
	if (trunc)
		model_resize(0);
	/* log the new descriptor's kind */
	snprintf(oplog[opno % LOG_LEN] + strlen(oplog[opno % LOG_LEN]),
		 DESC_LEN - strlen(oplog[opno % LOG_LEN]), " -> %s",
		 direct ? "O_DIRECT" : "buffered");
}

/* Are model bytes [off, end) (clamped to our range) all zero? */
static bool model_is_zero(uint64_t off, uint64_t end, uint64_t *where)
{
	uint64_t lo = off > base ? off : base;
	uint64_t hi = end < base + span ? end : base + span;

	for (uint64_t k = lo; k < hi; k++)
		if (model[k - base]) {
			*where = k;
			return false;
		}
	return true;
}

/*
 * SEEK_DATA/SEEK_HOLE work at page granularity, so only this can be
 * checked: no data before what SEEK_DATA finds, and none in the page
 * SEEK_HOLE finds, nor anywhere once SEEK_DATA says ENXIO.
 */
static void op_seek(void)
{
	bool data = rnd_below(2);
	uint64_t end = model_end(), off, nz;
	off_t r;

	if (!region && !end) {
		off = rnd_below(2 * PAGE);
	} else {
		off = base + rnd_below(span);
		if (!region && off >= end + PAGE)
			off = rnd_below(end + PAGE);
	}
	describe("lseek %s from %" PRIu64, data ? "SEEK_DATA" : "SEEK_HOLE", off);
	r = lseek(fd, (off_t)off, data ? SEEK_DATA : SEEK_HOLE);
	if (r < 0) {
		if (errno != ENXIO)
			fail("lseek: %s", strerror(errno));
		if (!region && off >= end)
			return;
		if (!data)
			fail("SEEK_HOLE from %" PRIu64 " inside the file: ENXIO", off);
		if (!model_is_zero(off, region ? end : msize, &nz))
			fail("SEEK_DATA from %" PRIu64 ": ENXIO, but byte %" PRIu64
			     " is 0x%02x", off, nz, model[nz - base]);
		return;
	}
	if (!region && off >= end)
		fail("lseek from %" PRIu64 " at or past the size %" PRIu64
		     " returned %jd, expected ENXIO", off, end, (intmax_t)r);
	if ((uint64_t)r < off)
		fail("lseek from %" PRIu64 " returned %jd, before it", off, (intmax_t)r);
	if (!region && (uint64_t)r > end)
		fail("lseek returned %jd, past the size %" PRIu64, (intmax_t)r, end);
	if (data) {
		if (!region && (uint64_t)r == end)
			fail("SEEK_DATA returned the size %" PRIu64, end);
		if (!model_is_zero(off, (uint64_t)r, &nz))
			fail("SEEK_DATA from %" PRIu64 " skipped to %jd over byte %"
			     PRIu64 " = 0x%02x", off, (intmax_t)r, nz, model[nz - base]);
	} else if (!model_is_zero((uint64_t)r, round_down((uint64_t)r) + PAGE, &nz) &&
		   (region || nz < msize)) {
		fail("SEEK_HOLE from %" PRIu64 " returned %jd, but byte %" PRIu64
		     " of that page is 0x%02x", off, (intmax_t)r, nz, model[nz - base]);
	}
}

/* Read everything we model and compare; in whole-file mode, EOF too. */
static void op_verify(void)
{
	uint64_t end = model_end(), off = base;

	describe("verify [%" PRIu64 ", %" PRIu64 ")", base, end);
	while (off < end) {
		uint64_t n = end - off < max_len ? end - off : max_len;
		ssize_t r = pread(fd, rbuf, n, (off_t)off);

		if (r < 0)
			fail("verify: pread %" PRIu64 " @ %" PRIu64 ": %s", n, off,
			     strerror(errno));
		if ((uint64_t)r != n)
			fail("verify: pread %" PRIu64 " @ %" PRIu64 " returned %zd",
			     n, off, r);
		compare(rbuf, off, n);
		off += n;
	}
	if (!region) {
		ssize_t r = pread(fd, rbuf, PAGE, (off_t)end);

		if (r != 0)
			fail("verify: pread at the size %" PRIu64 " returned %zd%s%s",
			     end, r, r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
	}
	check_size();
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: fsx -f FILE [-s SEED] [-n OPS | -t SECONDS] [-m MAXSIZE]\n"
		"           [-o OFFSET -l LEN] [-L MAXLEN] [-d 0|1|2] [-q] [-R]\n"
		"  -m  whole-file mode: the file's largest size (default 4 MiB)\n"
		"  -o, -l  region mode: touch only [OFFSET, OFFSET+LEN), never shrink\n"
		"  -L  the longest single read or write (default 256 KiB)\n"
		"  -d  O_DIRECT: 0 never, 1 always, 2 at random on each open (default)\n"
		"  -q  no per-op counts at the end, one summary line\n"
		"  -R  reference run on another filesystem: leave out the fallocate\n"
		"      modes zramfuse refuses (others may support them)\n");
	exit(2);
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		usage();
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		usage();
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static enum op pick_op(unsigned total)
{
	unsigned r = (unsigned)rnd_below(total);

	for (unsigned k = 0; k < NR_OPS; k++) {
		if (r < op_weight[k])
			return (enum op)k;
		r -= op_weight[k];
	}
	return OP_READ;
}

int main(int argc, char **argv)
{
	uint64_t nops = 0, secs = 0, maxsize = 4 << 20, off = 0, len = 0;
	bool have_seed = false, have_off = false, quiet = false;
	unsigned total = 0;
	double t0, t1;
	int c;

	while ((c = getopt(argc, argv, "f:s:n:t:m:o:l:L:d:qR")) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case 's': seed = parse_u64(optarg); have_seed = true; break;
		case 'n': nops = parse_u64(optarg); break;
		case 't': secs = parse_u64(optarg); break;
		case 'm': maxsize = parse_u64(optarg); break;
		case 'o': off = parse_u64(optarg); have_off = true; break;
		case 'l': len = parse_u64(optarg); break;
		case 'L': max_len = parse_u64(optarg); break;
		case 'd': direct_policy = (int)parse_u64(optarg); break;
		case 'q': quiet = true; break;
		case 'R': op_weight[OP_BADMODE] = 0; break;
		default: usage();
		}
	}
	if (!path || optind != argc || direct_policy > 2 || max_len < PAGE ||
	    max_len > (64u << 20) || (nops && secs))
		usage();
	if (have_off || len) {
		if (!len || len < 2 * PAGE)
			usage();	/* a region must hold an aligned page */
		region = true;
		base = off;
		span = len;
		op_weight[OP_TRUNCATE] = op_weight[OP_OTRUNC] = 0;
	} else {
		if (maxsize < 2 * PAGE || maxsize > (1ull << 32))
			usage();
		span = maxsize;
	}
	if (!nops && !secs)
		nops = 10000;
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^
		       ((uint64_t)getpid() << 20);
	}
	rng_state = seed;
	for (unsigned k = 0; k < NR_OPS; k++)
		total += op_weight[k];

	model = calloc(1, span);
	if (!model || posix_memalign((void **)&wbuf, PAGE, max_len + 2 * PAGE) ||
	    posix_memalign((void **)&rbuf, PAGE, max_len + 2 * PAGE)) {
		fprintf(stderr, "fsx: out of memory for a %" PRIu64 "-byte model\n", span);
		return 2;
	}
	if (region)
		printf("fsx: seed %" PRIu64 " file %s region [%" PRIu64 ", %" PRIu64
		       ") ops %" PRIu64 " secs %" PRIu64 "\n", seed, path, base,
		       base + span, nops, secs);
	else
		printf("fsx: seed %" PRIu64 " file %s whole file, max size %" PRIu64
		       " ops %" PRIu64 " secs %" PRIu64 "\n", seed, path, span,
		       nops, secs);
	/* the same operations again (alone: a region's neighbour is timing) */
	printf("fsx: replay: fsx -s %" PRIu64 " -f %s", seed, path);
	if (region)
		printf(" -o %" PRIu64 " -l %" PRIu64, base, span);
	else
		printf(" -m %" PRIu64, span);
	printf(" -L %" PRIu64 " -d %d %s %" PRIu64 "\n", max_len, direct_policy,
	       secs ? "-t" : "-n", secs ? secs : nops);
	fflush(stdout);

	/* set-up: a file we know (op 0 in the log) */
	if (region) {
		do_open(0);
		describe("set-up: fallocate 0 %" PRIu64 " @ %" PRIu64
			 ", PUNCH_HOLE|KEEP_SIZE the region", span, base);
		if (fallocate(fd, 0, (off_t)base, (off_t)span))
			fail("fallocate(0) to the region's end: %s", strerror(errno));
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)base, (off_t)span))
			fail("punching the region: %s", strerror(errno));
	} else {
		do_open(O_TRUNC);
		describe("set-up: open O_TRUNC");
	}
	check_size();

	t0 = now();
	for (opno = 1; secs ? now() - t0 < (double)secs : opno <= nops; opno++) {
		enum op op = opno % VERIFY_EVERY ? pick_op(total) : OP_VERIFY;

		counts[op]++;
		switch (op) {
		case OP_READ: op_read(); break;
		case OP_WRITE: op_write(); break;
		case OP_PUNCH:
		case OP_ZERO_KEEP:
		case OP_ZERO:
		case OP_ALLOC:
		case OP_ALLOC_KEEP: op_fallocate(op); break;
		case OP_BADMODE: op_badmode(); break;
		case OP_TRUNCATE: op_truncate(); break;
		case OP_OTRUNC: op_reopen(true); break;
		case OP_REOPEN: op_reopen(false); break;
		case OP_SEEK: op_seek(); break;
		case OP_VERIFY: op_verify(); break;
		case NR_OPS: break;
		}
		check_size();
	}
	counts[OP_VERIFY]++;
	op_verify();
	if (close(fd))
		fail("close: %s", strerror(errno));
	t1 = now();

	printf("fsx: seed %" PRIu64 " %s: %" PRIu64 " ops in %.1f s, %" PRIu64
	       " MiB written, %" PRIu64 " MiB read, all matched the model\n",
	       seed, path, opno, t1 - t0, bytes_written >> 20, bytes_read >> 20);
	if (!quiet) {
		printf("fsx: counts:");
		for (unsigned k = 0; k < NR_OPS; k++)
			if (op_weight[k] || counts[k])
				printf(" %s %" PRIu64, op_names[k], counts[k]);
		printf("\n");
	}
	free(model);
	free(wbuf);
	free(rbuf);
	return 0;
}
