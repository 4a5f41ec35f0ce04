/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * recomp: a background thread that re-encodes read-back pages with the
 * store's second codec (see src/recomp.c for why).
 */
#ifndef ZRAMFUSE_RECOMP_H
#define ZRAMFUSE_RECOMP_H

struct store;
struct recomp;

/* Start the thread; -EINVAL when @st has no second codec. */
int recomp_start(struct store *st, struct recomp **out);
/* Stop and join it (NULL is a no-op); call before store_destroy(). */
void recomp_stop(struct recomp *r);

#endif
