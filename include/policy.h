/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy: what zram leaves to cron.  A thread of its own recompresses and
 * writes back pages by age, so that nothing has to write "idle" and
 * "writeback" periodically.  Each knob is a mount option and a control
 * file of the same name in <mnt>/.zram/.
 */
#ifndef ZRAMFUSE_POLICY_H
#define ZRAMFUSE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

struct store;
struct policy;

enum policy_knob {
	POLICY_WRITEBACK_IDLE,		/* seconds; 0 = off */
	POLICY_WRITEBACK_PAGES,		/* pages per pass; 0 = no bound */
	POLICY_RECOMPRESS_IDLE,		/* seconds; 0 = off */
	POLICY_RECOMPRESS_PAGES,	/* pages per pass; 0 = no bound */
	POLICY_NR_KNOBS
};

/* The defaults of the page budgets. */
#define POLICY_DEFAULT_PAGES 4096u

/*
 * Over @st, with the knobs in @v (POLICY_NR_KNOBS).  The thread starts
 * when a policy is on, now or at a later policy_set().
 */
int policy_create(struct store *st, const uint64_t *v, struct policy **out);
/* Stop it (a pass under way finishes first). */
void policy_destroy(struct policy *p);

/* Returns 0, or -EAGAIN when the thread cannot be started. */
int policy_set(struct policy *p, enum policy_knob k, uint64_t v);
uint64_t policy_get(struct policy *p, enum policy_knob k);

#endif
