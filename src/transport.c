// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * transport: what both transports share (include/transport.h) - the
 * daemon's log and the description of the transport that serves.
 * main.c and the transports call down into this file; it calls nothing
 * above it.  How a serving thread is started, set up and woken at
 * shutdown is src/thread.c's, as for every other thread.
 *
 * The log goes to stderr until the daemon detaches, and to syslog as
 * well once it runs in the background (main.c decides both).
 *
 * Locks: none.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

#include "transport.h"

/* Set before any thread starts (transport_log_syslog()). */
static bool transport_syslog;
/* Detached: stderr is /dev/null; relaxed, as a thread may log meanwhile. */
static atomic_bool transport_quiet;

/* ---- the log ------------------------------------------------------------ */

void transport_log(int prio, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	/* detached: only warnings and errors still go to the terminal */
	if (!atomic_load_explicit(&transport_quiet, memory_order_relaxed) &&
	    (!transport_syslog || prio <= LOG_WARNING)) {
		va_start(ap, fmt);
		fprintf(stderr, "zramfuse: ");
		errno = saved;
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	if (transport_syslog) {
		va_start(ap, fmt);
		errno = saved;
		vsyslog(prio, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

void transport_log_syslog(void)
{
	transport_syslog = true;
	openlog("zramfuse", LOG_PID, LOG_DAEMON);
}

void transport_log_quiet(void)
{
	atomic_store_explicit(&transport_quiet, true, memory_order_relaxed);
}

const char *transport_describe(const struct transport *t)
{
	return t->desc[0] ? t->desc : "transport=classic";
}
