/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zctl_swap.h: swapon and swapoff, and their steps (ctl/zctl_swap.c).
 */
#ifndef ZRAMFUSECTL_SWAP_H
#define ZRAMFUSECTL_SWAP_H

#include <stdbool.h>
#include <stdint.h>

enum zctl_discard {
	ZCTL_DISCARD_NONE,
	ZCTL_DISCARD_BOTH,	/* "discard": both kinds */
	ZCTL_DISCARD_ONCE,
	ZCTL_DISCARD_PAGES,
};

/* What zramfusectl swapon sets up. */
struct zctl_swapon {
	const char *mnt;
	uint64_t size;		/* bytes */
	bool size_set;		/* asked for, not the default */
	char comp[8];		/* "" = not given */
	int comp_level;		/* 0 = the codec's own */
	uint64_t mem_limit;
	bool mem_limit_set;
	int prio;		/* -1: the kernel's choice */
	bool prio_set;
	enum zctl_discard discard;
	const char *writeback;	/* writeback device, or NULL */
};
int zctl_swap_on(const struct zctl_swapon *so);
int zctl_swap_off(const char *mnt);

#endif
