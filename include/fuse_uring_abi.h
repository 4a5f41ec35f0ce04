/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse_uring_abi: the parts of the FUSE-over-io_uring protocol that
 * zramfuse uses, as the kernel's uapi <linux/fuse.h> defines them from
 * Linux 6.14 (FUSE protocol 7.42) on.  Debian 12's headers (7.38) and
 * libfuse 3.14 predate it, so they are declared here; the names follow the
 * kernel's, with a ZF_ prefix where a newer system header may define the
 * same name.  The layouts are ABI: fs/fuse/dev_uring.c reads and writes
 * them in the daemon's memory.
 */
#ifndef ZRAMFUSE_FUSE_URING_ABI_H
#define ZRAMFUSE_FUSE_URING_ABI_H

#include <stdint.h>

/* INIT flag, bit 41: bit 9 of flags2 (valid with FUSE_INIT_EXT in flags) */
#define ZF_FUSE_OVER_IO_URING_FLAGS2	(1u << 9)
#define ZF_FUSE_INIT_EXT		(1u << 30)

/* IORING_OP_URING_CMD's cmd_op on /dev/fuse */
#define ZF_FUSE_IO_URING_CMD_REGISTER		1u
#define ZF_FUSE_IO_URING_CMD_COMMIT_AND_FETCH	2u

#define ZF_FUSE_URING_IN_OUT_HEADER_SZ	128
#define ZF_FUSE_URING_OP_IN_OUT_SZ	128

/* The trailer of each entry's header buffer. */
struct zf_fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;	/* the request's unique, echoed on commit */
	uint32_t payload_sz;	/* bytes valid in the payload, either way */
	uint32_t padding;	/* must be 0 */
	uint64_t reserved;
};

/*
 * iov[0] of a REGISTER: in_out holds a fuse_in_header when a request
 * arrives and the daemon's fuse_out_header on commit; op_in the request's
 * fixed per-opcode argument (its in_args[0], e.g. fuse_read_in).  iov[1],
 * the payload, holds the remaining arguments (names, write data) and the
 * reply's, and must be at least the connection's max payload:
 * max(8 KiB, max_write, max_pages * page size).
 */
struct zf_fuse_uring_req_header {
	char in_out[ZF_FUSE_URING_IN_OUT_HEADER_SZ];
	char op_in[ZF_FUSE_URING_OP_IN_OUT_SZ];
	struct zf_fuse_uring_ent_in_out ring_ent_in_out;
};

/* In the command area of a 128-byte SQE (IORING_SETUP_SQE128). */
struct zf_fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;	/* COMMIT_AND_FETCH: the request answered */
	uint16_t qid;		/* the queue: one per possible CPU */
	uint8_t padding[6];
};

_Static_assert(sizeof(struct zf_fuse_uring_ent_in_out) == 32, "uapi layout");
_Static_assert(sizeof(struct zf_fuse_uring_req_header) == 288, "uapi layout");
_Static_assert(sizeof(struct zf_fuse_uring_cmd_req) == 24, "uapi layout");

#endif
