// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zramfusectl's configuration parser: every key, the expressions
 * (zram-generator's default min(ram / 2, 4096) on either side of its
 * bend), files merged in order, and bad input refused with its file and
 * line.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "zctl_conf.h"

#define MIB (1024ULL * 1024)

static double eval(const char *e, double ram, int *ok)
{
	char err[200];
	double v = -12345;

	*ok = !zctl_conf_eval(e, ram, &v, err, sizeof(err));
	if (!*ok)
		tap_diag("%s: %s", e, err);
	return v;
}

static void test_expressions(void)
{
	static const struct {
		const char *e;
		double ram, want;
	} cases[] = {
		{ "min(ram / 2, 4096)", 16384, 4096 },	/* 16 GiB: capped */
		{ "min(ram / 2, 4096)", 8192, 4096 },	/* at the bend */
		{ "min(ram / 2, 4096)", 2000, 1000 },	/* below: half */
		{ "min(ram / 2, 4096)", 3915.5, 1957.75 },
		{ "ram", 1234, 1234 },
		{ "1 + 2 * 3", 0, 7 },
		{ "(1 + 2) * 3", 0, 9 },
		{ "10 - 4 - 3", 0, 3 },		/* left to right */
		{ "100 / 10 / 5", 0, 2 },
		{ "17 % 5", 0, 2 },
		{ "2 ^ 3 ^ 2", 0, 512 },	/* right to left */
		{ "-2 ^ 2", 0, -4 },		/* ^ before unary minus */
		{ "max(1, ram * 0.25, 3)", 100, 25 },
		{ "min(8, 3, 5)", 0, 3 },
		{ "floor(2.7) + ceil(2.1) + round(2.5) + abs(-4)", 0, 12 },
		{ "  ram*.5  ", 10, 5 },
		{ "min(ram, max(ram / 4, 512))", 1024, 512 },
	};
	size_t i;
	int ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = eval(cases[i].e, cases[i].ram, &ok);

		tap_ok(ok && fabs(v - cases[i].want) < 1e-9,
		       "%s with ram=%g is %g (got %g)", cases[i].e,
		       cases[i].ram, cases[i].want, v);
	}
}

static void test_bad_expressions(void)
{
	static const struct {
		const char *e, *why;
	} cases[] = {
		{ "", "expected a number" },
		{ "ram /", "at the end" },
		{ "1 / 0", "division by zero" },
		{ "5 % 0", "division by zero" },
		{ "min(1, 2", "expected ',' or ')'" },
		{ "min()", "at least one argument" },
		{ "floor(1, 2)", "one argument" },
		{ "sqrt(4)", "unknown function" },
		{ "memory / 2", "unknown name" },
		{ "4096 MiB", "unexpected text" },
		{ "1e3", "bad number" },
		{ "0x10", "bad number" },
		{ "10 ^ 400", "not a finite number" },
		{ "(1 + 2", "expected ')'" },
	};
	char err[200];
	double v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = zctl_conf_eval(cases[i].e, 1000, &v, err, sizeof(err));

		tap_ok(rc == -EINVAL && strstr(err, cases[i].why),
		       "'%s' refused: %s (got: %s)", cases[i].e, cases[i].why,
		       rc ? err : "accepted");
	}
}

static int parse(const char *text, double ram, struct zctl_conf *c, char *err,
		 size_t len)
{
	int rc = zctl_conf_parse("t.conf", text, ram, c, err, len);

	if (rc)
		tap_diag("%s", err);
	return rc;
}

static void test_keys(void)
{
	const struct zctl_conf_section *s;
	struct zctl_conf c;
	char err[300];

	tap_ok(!parse(
"# a comment\n"
"; another\n"
"\n"
"[zram0]\n"
"zram-size = ram / 4 + 1\n"
"zram-resident-limit = 256\n"
"compression-algorithm = zstd(level=7)\n"
"swap-priority = 32767\n"
"writeback-device = /dev/vdb1\n"
"options = discard=pages\n"
"host-memory-limit = 9000\n"
"fs-type = swap\n"
"  [ zram1 ]  \n"
"compression-algorithm=lz4\n"
"swap-priority=-1\n"
"options =\n"
"[zram2]\n"
"options = discard=once\n"
"compression-algorithm = lz4(level=9)\n"
"host-memory-limit = 1000\n"
"[zram3]\n"
"zram-size = 0\n"
"host-memory-limit = none\n", 8192, &c, err, sizeof(err)),
	       "every key parses");
	tap_ok(c.n == 4, "four sections (%zu)", c.n);
	s = zctl_conf_find(&c, "zram0");
	tap_ok(s && s->size == 2049 * MIB, "zram-size = ram / 4 + 1 is 2049 MiB");
	tap_ok(s && s->mem_limit == 256 * MIB, "zram-resident-limit = 256 MiB");
	tap_ok(s && !strcmp(s->comp, "zstd") && s->comp_level == 7,
	       "compression-algorithm = zstd(level=7)");
	tap_ok(s && s->prio == 32767, "swap-priority = 32767");
	tap_ok(s && s->writeback && !strcmp(s->writeback, "/dev/vdb1"),
	       "writeback-device");
	tap_ok(s && s->discard == ZCTL_DISCARD_PAGES, "options = discard=pages");
	tap_ok(s && !s->skip, "host-memory-limit 9000 above ram 8192: set up");
	s = zctl_conf_find(&c, "zram1");
	tap_ok(s && s->size == 4096 * MIB, "zram-size's default: min(ram / 2, 4096) = 4096 MiB at 8 GiB");
	tap_ok(s && !strcmp(s->comp, "lz4") && !s->comp_level, "lz4, no level");
	tap_ok(s && s->prio == -1, "swap-priority = -1");
	tap_ok(s && s->discard == ZCTL_DISCARD_NONE, "options = (empty): no discard");
	tap_ok(s && !s->mem_limit && !s->writeback, "unset keys: no limit, no writeback");
	s = zctl_conf_find(&c, "zram2");
	tap_ok(s && s->discard == ZCTL_DISCARD_ONCE, "options = discard=once");
	tap_ok(s && s->comp_level == 9, "lz4(level=9)");
	tap_ok(s && s->skip, "host-memory-limit 1000 below ram 8192: skipped");
	tap_ok(s && s->prio == 100 , "swap-priority's default is 100");
	s = zctl_conf_find(&c, "zram3");
	tap_ok(s && s->skip && !s->size, "zram-size = 0: skipped");
	tap_ok(!zctl_conf_find(&c, "zram9"), "no such section");
	zctl_conf_free(&c);

	tap_ok(!parse("[a]\n", 3000, &c, err, sizeof(err)) && c.n == 1 &&
	       c.sec[0].size == 1500 * MIB &&
	       c.sec[0].discard == ZCTL_DISCARD_BOTH && !*c.sec[0].comp,
	       "an empty section: half of 3000 MiB, discard, the default codec");
	zctl_conf_free(&c);

	/* zram-generator's old pair, when zram-size is not given */
	tap_ok(!parse("[a]\nzram-fraction = 0.25\nmax-zram-size = 100\n"
		      "[b]\nzram-fraction = 0.25\n"
		      "[c]\nmax-zram-size = none\n"
		      "[d]\nzram-fraction = 1\nzram-size = 10\n",
		      1000, &c, err, sizeof(err)), "zram-fraction, max-zram-size");
	tap_ok(c.n == 4 && c.sec[0].size == 100 * MIB,
	       "min(1000 * 0.25, 100) = 100 MiB");
	tap_ok(c.n == 4 && c.sec[1].size == 250 * MIB,
	       "fraction 0.25 of 1000, under the default max 4096");
	tap_ok(c.n == 4 && c.sec[2].size == 500 * MIB,
	       "max-zram-size = none: ram * 0.5");
	tap_ok(c.n == 4 && c.sec[3].size == 10 * MIB, "zram-size wins over them");
	zctl_conf_free(&c);

	/* a key set twice: the later one */
	tap_ok(!parse("[a]\nswap-priority = 1\n[b]\n[a]\nswap-priority = 2\n",
		      1000, &c, err, sizeof(err)) && c.n == 2 &&
	       zctl_conf_find(&c, "a")->prio == 2, "a key set again: the later value");
	zctl_conf_free(&c);
}

static void test_bad_input(void)
{
	static const struct {
		const char *text, *where, *why;
	} cases[] = {
		{ "zram-size = 1\n", "t.conf:1:", "outside a [section]" },
		{ "[a]\n\nfoo = 1\n", "t.conf:3:", "unknown key 'foo'" },
		{ "[a]\nmount-point = /mnt\n", "t.conf:2:", "swap, not a filesystem" },
		{ "[a]\nfs-type = ext4\n", "t.conf:2:", "swap only" },
		{ "[a\n", "t.conf:1:", "must end with ']'" },
		{ "[]\n", "t.conf:1:", "section name" },
		{ "[a b]\n", "t.conf:1:", "section name" },
		{ "[../x]\n", "t.conf:1:", "section name" },
		{ "[a]\njust words\n", "t.conf:2:", "expected [section]" },
		{ "[a]\nzram-size =\n", "t.conf:2:", "has no value" },
		{ "[a]\n#\nzram-size = ram / 0\n", "t.conf:3:", "zram-size = ram / 0: division by zero" },
		{ "[a]\nzram-size = 4G\n", "t.conf:2:", "unexpected text" },
		{ "[a]\nzram-size = 10 - 20\n", "t.conf:2:", "negative" },
		{ "[a]\nzram-resident-limit = ram +\n", "t.conf:2:", "zram-resident-limit = ram +: expected" },
		{ "[a]\ncompression-algorithm = lzo-rle\n", "t.conf:2:", "lz4, zstd" },
		{ "[a]\ncompression-algorithm = zstd(level=23)\n", "t.conf:2:", "out of range" },
		{ "[a]\ncompression-algorithm = zstd(level=0)\n", "t.conf:2:", "out of range" },
		{ "[a]\ncompression-algorithm = lz4(level=0)\n", "t.conf:2:", "out of range" },
		{ "[a]\ncompression-algorithm = zstd(lvl=3)\n", "t.conf:2:", "(level=N)" },
		{ "[a]\ncompression-algorithm = zstd lz4 (type=idle)\n", "t.conf:2:", "no recompression" },
		{ "[a]\ncompression-algorithm = zstd(level=x)\n", "t.conf:2:", "not a number" },
		{ "[a]\nswap-priority = 32768\n", "t.conf:2:", "-1 to 32767" },
		{ "[a]\nswap-priority = -2\n", "t.conf:2:", "-1 to 32767" },
		{ "[a]\nswap-priority = high\n", "t.conf:2:", "-1 to 32767" },
		{ "[a]\nwriteback-device = vdb\n", "t.conf:2:", "absolute path" },
		{ "[a]\noptions = discard,nofail\n", "t.conf:2:", "only discard" },
		{ "[a]\nhost-memory-limit = lots\n", "t.conf:2:", "host-memory-limit lots: not a number" },
		{ "[a]\nzram-fraction = half\n", "t.conf:2:", "not a number" },
		{ "[a]\nmax-zram-size = -5\n", "t.conf:2:", "not a number" },
		/* the line whose value is in force is the one named */
		{ "[a]\nswap-priority = x\nswap-priority = 5\n[b]\nswap-priority = y\n",
		  "t.conf:5:", "-1 to 32767" },
	};
	struct zctl_conf c;
	char err[300];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = zctl_conf_parse("t.conf", cases[i].text, 1000, &c, err,
					 sizeof(err));

		tap_ok(rc == -EINVAL && !strncmp(err, cases[i].where,
						 strlen(cases[i].where)) &&
		       strstr(err, cases[i].why),
		       "refused at %s %s (got: %s)", cases[i].where, cases[i].why,
		       rc ? err : "accepted");
		if (!rc)
			zctl_conf_free(&c);
	}
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f))
		tap_diag("writing %s failed", path);
}

/* /etc/zramfuse.conf, then conf.d/ *.conf by name, later keys win. */
static void test_files(void)
{
	char dir[] = "/tmp/zramfusectl-conf.XXXXXX", main[64], d[64], p[96];
	const struct zctl_conf_section *s;
	struct zctl_conf c;
	char err[300];
	int rc;

	if (!mkdtemp(dir)) {
		tap_ok(0, "mkdtemp");
		return;
	}
	snprintf(main, sizeof(main), "%s/zramfuse.conf", dir);
	snprintf(d, sizeof(d), "%s/zramfuse.conf.d", dir);
	mkdir(d, 0755);
	put(main, "[zram0]\nzram-size = 100\nswap-priority = 1\n");
	snprintf(p, sizeof(p), "%s/20-b.conf", d);
	put(p, "[zram0]\nswap-priority = 3\n[zram1]\nzram-size = 7\n");
	snprintf(p, sizeof(p), "%s/10-a.conf", d);
	put(p, "[zram0]\nswap-priority = 2\ncompression-algorithm = zstd\n");
	snprintf(p, sizeof(p), "%s/30-c.conf.disabled", d);
	put(p, "garbage\n");
	rc = zctl_conf_load(main, d, 1000, &c, err, sizeof(err));
	if (rc)
		tap_diag("%s", err);
	s = rc ? NULL : zctl_conf_find(&c, "zram0");
	tap_ok(s && s->size == 100 * MIB && s->prio == 3 && !strcmp(s->comp, "zstd"),
	       "files merged: main, then 10-a, then 20-b; other names ignored");
	tap_ok(!rc && zctl_conf_find(&c, "zram1") &&
	       zctl_conf_find(&c, "zram1")->size == 7 * MIB,
	       "a section from a drop-in");
	if (!rc)
		zctl_conf_free(&c);

	snprintf(p, sizeof(p), "%s/20-b.conf", d);
	put(p, "[zram0]\n\nswap-priority = 3\nzram-size = ram / 0\n");
	rc = zctl_conf_load(main, d, 1000, &c, err, sizeof(err));
	tap_ok(rc == -EINVAL && strstr(err, "20-b.conf:4:") &&
	       strstr(err, "division by zero"),
	       "an error names the drop-in and its line (%s)", err);
	if (!rc)
		zctl_conf_free(&c);

	unlink(p);
	snprintf(p, sizeof(p), "%s/10-a.conf", d);
	unlink(p);
	snprintf(p, sizeof(p), "%s/30-c.conf.disabled", d);
	unlink(p);
	unlink(main);
	rc = zctl_conf_load(main, d, 1000, &c, err, sizeof(err));
	tap_ok(!rc && c.n == 0, "no files: no sections, no error");
	rmdir(d);
	rmdir(dir);
}

int main(void)
{
	test_expressions();
	test_bad_expressions();
	test_keys();
	test_bad_input();
	test_files();
	return tap_done();
}
