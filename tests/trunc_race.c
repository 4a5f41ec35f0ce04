// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * trunc_race: shrinking truncates racing asynchronous direct writes.
 *
 *     trunc_race [-r ROUNDS] [-s SEED] FILE
 *
 * Each round grows FILE back to its full size (zeros), submits a batch of
 * non-overlapping O_DIRECT writes inside it through Linux AIO (io_submit,
 * the raw system calls - what libaio and a loop device's direct I/O do:
 * the kernel sends each as a background FUSE request and returns), then,
 * while they are in flight, shrinks the file with ftruncate(), and reaps
 * them.  The kernel holds the inode lock only while it submits an
 * asynchronous write that does not extend the file, so the daemon may see
 * the truncate and the writes in any order, even at once.
 *
 * Whatever the order, the file must then look like some serial order of
 * the truncate and the writes: for each write, the part of it beyond the
 * new size T is either all its data (it came after the truncate) or all
 * zeros (before); everything of it below T is its data; and the size is
 * T or the end of the last write that came after.  Bytes beyond the size
 * must read as zeros once the file grows again.  Exit 0 when every round
 * passes, 1 with a description of the first that does not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/aio_abi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define BLOCK (64u * 1024)		/* one write */
#define NBLOCKS 128u			/* the file: 8 MiB */
#define BATCH 48u			/* writes in flight per round */
#define FSIZE ((uint64_t)NBLOCKS * BLOCK)

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 2685821657736338717ull;
}

static int io_setup(unsigned nr, aio_context_t *ctx)
{
	return (int)syscall(SYS_io_setup, nr, ctx);
}

static int io_submit(aio_context_t ctx, long n, struct iocb **iocbs)
{
	return (int)syscall(SYS_io_submit, ctx, n, iocbs);
}

static int io_getevents(aio_context_t ctx, long min, long max,
			struct io_event *ev, struct timespec *tmo)
{
	return (int)syscall(SYS_io_getevents, ctx, min, max, ev, tmo);
}

static int fail(unsigned round, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(unsigned round, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "trunc_race: round %u: ", round);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* The byte a write of round @r to block @b puts at @k: never zero. */
static unsigned char fill(unsigned r, unsigned b, size_t k)
{
	return (unsigned char)(1 + (r * 131 + b * 7 + k / PAGE) % 255);
}

int main(int argc, char **argv)
{
	unsigned rounds = 200, blocks[NBLOCKS];
	uint64_t seed = (uint64_t)time(NULL);
	unsigned char *wbuf[BATCH], *rbuf;
	struct iocb cb[BATCH], *cbp[BATCH];
	struct io_event ev[BATCH];
	aio_context_t ctx = 0;
	unsigned reordered = 0, before = 0;
	int opt, fd;

	while ((opt = getopt(argc, argv, "r:s:")) != -1) {
		if (opt == 'r')
			rounds = (unsigned)strtoul(optarg, NULL, 0);
		else if (opt == 's')
			seed = strtoull(optarg, NULL, 0);
		else
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: trunc_race [-r ROUNDS] [-s SEED] FILE\n");
		return 2;
	}
	printf("trunc_race: seed %" PRIu64 ", %u rounds\n", seed, rounds);
	rnd_state = seed ? seed : 1;
	fd = open(argv[optind], O_RDWR | O_CREAT | O_DIRECT, 0600);
	if (fd < 0) {
		perror(argv[optind]);
		return 1;
	}
	if (io_setup(BATCH, &ctx)) {
		perror("io_setup");
		return 1;
	}
	for (unsigned k = 0; k < BATCH; k++) {
		if (posix_memalign((void **)&wbuf[k], PAGE, BLOCK))
			return 1;
	}
	if (posix_memalign((void **)&rbuf, PAGE, FSIZE))
		return 1;

	for (unsigned r = 0; r < rounds; r++) {
		uint64_t t, size, want;
		struct stat st;
		int n, got = 0;

		if (ftruncate(fd, 0) || ftruncate(fd, (off_t)FSIZE))
			return fail(r, "ftruncate to %" PRIu64 ": %m", FSIZE);
		/* BATCH distinct blocks, in random order */
		for (unsigned b = 0; b < NBLOCKS; b++)
			blocks[b] = b;
		for (unsigned b = NBLOCKS - 1; b > 0; b--) {
			unsigned j = (unsigned)(rnd() % (b + 1)), x = blocks[b];

			blocks[b] = blocks[j];
			blocks[j] = x;
		}
		for (unsigned k = 0; k < BATCH; k++) {
			for (size_t i = 0; i < BLOCK; i++)
				wbuf[k][i] = fill(r, blocks[k], i);
			memset(&cb[k], 0, sizeof(cb[k]));
			cb[k].aio_fildes = (uint32_t)fd;
			cb[k].aio_lio_opcode = IOCB_CMD_PWRITE;
			cb[k].aio_buf = (uint64_t)(uintptr_t)wbuf[k];
			cb[k].aio_nbytes = BLOCK;
			cb[k].aio_offset = (int64_t)blocks[k] * BLOCK;
			cb[k].aio_data = k;
			cbp[k] = &cb[k];
		}
		/* a new size anywhere in the file, at a page or not */
		t = rnd() % FSIZE;
		if (rnd() & 1)
			t &= ~(uint64_t)(PAGE - 1);
		n = io_submit(ctx, BATCH, cbp);
		if (n != (int)BATCH)
			return fail(r, "io_submit: %d (%m)", n);
		if (ftruncate(fd, (off_t)t))
			return fail(r, "ftruncate to %" PRIu64 ": %m", t);
		while (got < (int)BATCH) {
			n = io_getevents(ctx, 1, BATCH, ev, NULL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return fail(r, "io_getevents: %m");
			for (int e = 0; e < n; e++) {
				if (ev[e].res != (int64_t)BLOCK)
					return fail(r, "write of block %u: %" PRId64,
						    blocks[ev[e].data], (int64_t)ev[e].res);
			}
			got += n;
		}

		if (fstat(fd, &st))
			return fail(r, "fstat: %m");
		size = (uint64_t)st.st_size;
		/* grow back, so that anything stored beyond the size shows */
		if (ftruncate(fd, (off_t)FSIZE))
			return fail(r, "ftruncate back to %" PRIu64 ": %m", FSIZE);
		if (pread(fd, rbuf, FSIZE, 0) != (ssize_t)FSIZE)
			return fail(r, "pread: %m");
		want = t;
		for (unsigned k = 0; k < BATCH; k++) {
			uint64_t off = (uint64_t)blocks[k] * BLOCK, end = off + BLOCK;
			uint64_t from = off > t ? off : t;
			size_t data = 0, zero = 0;

			/* below the cut: always the write's data */
			for (uint64_t i = off; i < end && i < t; i++) {
				if (rbuf[i] != fill(r, blocks[k], i - off))
					return fail(r, "block %u byte %" PRIu64 " below the new size %" PRIu64 " lost",
						    blocks[k], i, t);
			}
			if (end <= t)
				continue;
			for (uint64_t i = from; i < end; i++) {
				if (rbuf[i] == fill(r, blocks[k], i - off))
					data++;
				else if (!rbuf[i])
					zero++;
			}
			if (data + zero != end - from || (data && zero))
				return fail(r, "block %u beyond the new size %" PRIu64 ": %zu bytes data, %zu zero, %zu other of %" PRIu64 " (size %" PRIu64 ")",
					    blocks[k], t, data, zero,
					    end - from - data - zero, end - from, size);
			if (data) {
				reordered++;
				if (end > want)
					want = end;
			} else {
				before++;
			}
		}
		if (size != want)
			return fail(r, "size %" PRIu64 " after truncating to %" PRIu64 ", but the writes that came after end at %" PRIu64,
				    size, t, want);
		/* nothing but the writes' data: bytes outside every block are zero */
		for (uint64_t i = 0; i < FSIZE; i++) {
			if (rbuf[i]) {
				unsigned b = (unsigned)(i / BLOCK), k;

				for (k = 0; k < BATCH && blocks[k] != b; k++)
					;
				if (k == BATCH)
					return fail(r, "byte %" PRIu64 " nonzero outside every write", i);
			}
		}
	}
	printf("trunc_race: %u rounds of %u writes against a truncate: consistent "
	       "(%u writes beyond the cut landed after it, %u before)\n",
	       rounds, BATCH, reordered, before);
	return 0;
}
