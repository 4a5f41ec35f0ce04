/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tap.h: the smallest TAP producer the unit tests need.  Each test program
 * prints "1..N" (or a plan at the end), then "ok"/"not ok" lines; automake's
 * tap-driver.sh reads them.  A failed check prints where it failed as a
 * TAP diagnostic ("# ...") and counts as "not ok".
 *
 * Seeds: tap_seed() takes ZRAMFUSE_SEED from the environment (or the time),
 * prints it, and returns it, so that a failing random test can be rerun.
 */
#ifndef ZRAMFUSE_TAP_H
#define ZRAMFUSE_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int tap_n, tap_failed;

static inline void tap_plan(int n) { printf("1..%d\n", n); fflush(stdout); }

static inline __attribute__((format(printf, 2, 3)))
int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

static inline __attribute__((format(printf, 1, 2)))
void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Print the plan from the count of tests run and return the exit status. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

/* A check inside a test: on failure, report where and evaluate to 0. */
#define TAP_CHECK(cond) \
	((cond) ? 1 : (tap_diag("%s:%d: check failed: %s", __FILE__, \
				__LINE__, #cond), 0))

static inline uint64_t tap_seed(void)
{
	const char *s = getenv("ZRAMFUSE_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);

	tap_diag("seed %" PRIu64 " (set ZRAMFUSE_SEED to repeat)", seed);
	return seed;
}

/* xorshift64*: a small, fast, seedable generator for tests. */
static inline uint64_t tap_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

#endif
