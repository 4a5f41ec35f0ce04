/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * zctl_list.h: the listing of mounts and files, zramctl's table (ctl/zctl_list.c).
 */
#ifndef ZRAMFUSECTL_LIST_H
#define ZRAMFUSECTL_LIST_H

#include <stdbool.h>

struct zctl_list_opts {
	const char *columns;	/* --output, or NULL for the default set */
	bool all, bytes, raw, json, noheadings;
};
/* Print every zramfuse mount and its files; returns an exit status. */
int zctl_list(const struct zctl_list_opts *lo);
/* The --help text of the columns. */
void zctl_list_help_columns(void);

#endif
