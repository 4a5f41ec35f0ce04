// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * zctl_conf: the configuration files, in zram-generator's format.
 *
 * /etc/zramfuse.conf, then /etc/zramfuse.conf.d/ *.conf in the order of
 * their names; [name] opens a section, "key = value" sets a key of it,
 * and a key set again, in the same file or a later one, takes the later
 * value (zram-generator merges its files the same way).  Blank lines and
 * lines that start with '#' or ';' are comments.  Every value is kept as
 * text with the file and line it came from, and checked after all files
 * are read, so that a message names the line whose value is in force.
 *
 * The keys are zram-generator's where they mean something here (sizes in
 * MiB, expressions over ram, the machine's MemTotal in MiB):
 *
 *   zram-size               expression, default min(ram / 2, 4096)
 *   zram-fraction,          the old pair, used when zram-size is not set:
 *   max-zram-size           min(ram * fraction, max), 0.5 and 4096
 *   zram-resident-limit     expression, the store's mem_limit; 0 none
 *   compression-algorithm   lz4 | zstd, optionally (level=N)
 *   swap-priority           -1 .. 32767, default 100
 *   writeback-device        a path, passed as -o backing_dev=
 *   options                 swapon's: discard, discard=once|pages, or
 *                           empty for none; default discard
 *   host-memory-limit       MiB or none: no swap on a machine with more
 *   fs-type                 swap, the only kind zramfuse sets up
 *
 * and anything else, mount-point included (zramfuse mounts no filesystem
 * on its swap), is refused with its line.
 *
 * While the files are read a section is a struct zctl_conf_raw (each
 * key's text, file and line); zctl_conf_cook() turns it into the struct
 * zctl_conf_section of zctl_conf.h.  The expressions are parsed by recursive
 * descent, one zctl_conf_expr_ function per level of precedence.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zctl_conf.h"
#include "zctl_sys.h"

#define ZCTL_MIB (1024.0 * 1024.0)

enum zctl_conf_key {
	KEY_ZRAM_SIZE,
	KEY_FRACTION,
	KEY_MAX_SIZE,
	KEY_RESIDENT,
	KEY_ALGORITHM,
	KEY_PRIORITY,
	KEY_WRITEBACK,
	KEY_OPTIONS,
	KEY_HOST_LIMIT,
	KEY_FS_TYPE,
	KEY_COUNT
};

static const char *const zctl_conf_keys[KEY_COUNT] = {
	[KEY_ZRAM_SIZE] = "zram-size",
	[KEY_FRACTION] = "zram-fraction",
	[KEY_MAX_SIZE] = "max-zram-size",
	[KEY_RESIDENT] = "zram-resident-limit",
	[KEY_ALGORITHM] = "compression-algorithm",
	[KEY_PRIORITY] = "swap-priority",
	[KEY_WRITEBACK] = "writeback-device",
	[KEY_OPTIONS] = "options",
	[KEY_HOST_LIMIT] = "host-memory-limit",
	[KEY_FS_TYPE] = "fs-type",
};

/* A value as read, and where. */
struct zctl_conf_val {
	char *text;		/* NULL: not set */
	char *file;
	int line;
};

struct zctl_conf_raw {
	char name[ZCTL_CONF_NAME_MAX + 1];
	struct zctl_conf_val v[KEY_COUNT];
};

struct zctl_conf_reader {
	struct zctl_conf_raw *sec;
	size_t n;
	double ram;
	char *err;
	size_t errlen;
};

static int zctl_conf_error(struct zctl_conf_reader *r, const char *file,
			   int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int zctl_conf_error(struct zctl_conf_reader *r, const char *file,
			   int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->err, r->errlen, "%s:%d: ", file, line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < r->errlen)
		vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* --- expressions ------------------------------------------------------ */

struct zctl_conf_expr {
	const char *s, *p;
	double ram;
	char *err;
	size_t errlen;
	int failed;
};

static void zctl_conf_expr_fail(struct zctl_conf_expr *e, const char *what)
{
	if (e->failed)
		return;
	e->failed = 1;
	if (*e->p)
		snprintf(e->err, e->errlen, "%s at column %d ('%c')", what,
			 (int)(e->p - e->s) + 1, *e->p);
	else
		snprintf(e->err, e->errlen, "%s at the end", what);
}

static void zctl_conf_expr_space(struct zctl_conf_expr *e)
{
	while (isspace((unsigned char)*e->p))
		e->p++;
}

static double zctl_conf_expr_sum(struct zctl_conf_expr *e);
static double zctl_conf_expr_unary(struct zctl_conf_expr *e);

static double zctl_conf_expr_call(struct zctl_conf_expr *e, const char *name,
				  size_t len)
{
	static const char *const fns[] = { "min", "max", "floor", "ceil",
					   "round", "abs" };
	double args[16], v;
	size_t f, n = 0, i;

	for (f = 0; f < sizeof(fns) / sizeof(fns[0]); f++)
		if (strlen(fns[f]) == len && !strncmp(fns[f], name, len))
			break;
	if (f == sizeof(fns) / sizeof(fns[0])) {
		e->p = name;
		zctl_conf_expr_fail(e, "unknown function");
		return 0;
	}
	e->p++;	/* '(' */
	zctl_conf_expr_space(e);
	if (*e->p != ')') {
		for (;;) {
			if (n == 16) {
				zctl_conf_expr_fail(e, "too many arguments");
				return 0;
			}
			args[n++] = zctl_conf_expr_sum(e);
			if (e->failed)
				return 0;
			zctl_conf_expr_space(e);
			if (*e->p != ',')
				break;
			e->p++;
		}
	}
	if (*e->p != ')') {
		zctl_conf_expr_fail(e, "expected ',' or ')'");
		return 0;
	}
	e->p++;
	if (!n || (f >= 2 && n != 1)) {
		e->p = name;
		zctl_conf_expr_fail(e, f >= 2 ? "takes one argument" :
			       "takes at least one argument");
		return 0;
	}
	v = args[0];
	switch (f) {
	case 0:
		for (i = 1; i < n; i++)
			v = fmin(v, args[i]);
		return v;
	case 1:
		for (i = 1; i < n; i++)
			v = fmax(v, args[i]);
		return v;
	case 2:
		return floor(v);
	case 3:
		return ceil(v);
	case 4:
		return round(v);
	default:
		return fabs(v);
	}
}

static double zctl_conf_expr_primary(struct zctl_conf_expr *e)
{
	const char *start;
	double v;
	char *end;

	zctl_conf_expr_space(e);
	start = e->p;
	if (*e->p == '(') {
		e->p++;
		v = zctl_conf_expr_sum(e);
		zctl_conf_expr_space(e);
		if (*e->p != ')') {
			zctl_conf_expr_fail(e, "expected ')'");
			return 0;
		}
		e->p++;
		return v;
	}
	if (isdigit((unsigned char)*e->p) || *e->p == '.') {
		errno = 0;
		v = strtod(e->p, &end);
		/* no hex, exponents or infinities: plain decimals only */
		for (; start < end; start++)
			if (!isdigit((unsigned char)*start) && *start != '.')
				break;
		if (end == e->p || errno || start != end) {
			zctl_conf_expr_fail(e, "bad number");
			return 0;
		}
		e->p = end;
		return v;
	}
	if (isalpha((unsigned char)*e->p)) {
		size_t len;

		while (isalnum((unsigned char)*e->p) || *e->p == '_')
			e->p++;
		len = (size_t)(e->p - start);
		zctl_conf_expr_space(e);
		if (*e->p == '(')
			return zctl_conf_expr_call(e, start, len);
		if (len == 3 && !strncmp(start, "ram", 3))
			return e->ram;
		e->p = start;
		zctl_conf_expr_fail(e, "unknown name (only ram)");
		return 0;
	}
	zctl_conf_expr_fail(e, "expected a number, ram, a function or '('");
	return 0;
}

/* '^' binds tighter than unary minus on its left, right to left. */
static double zctl_conf_expr_power(struct zctl_conf_expr *e)
{
	double b = zctl_conf_expr_primary(e);

	zctl_conf_expr_space(e);
	if (!e->failed && *e->p == '^') {
		e->p++;
		return pow(b, zctl_conf_expr_unary(e));
	}
	return b;
}

static double zctl_conf_expr_unary(struct zctl_conf_expr *e)
{
	zctl_conf_expr_space(e);
	if (*e->p == '-') {
		e->p++;
		return -zctl_conf_expr_unary(e);
	}
	if (*e->p == '+') {
		e->p++;
		return zctl_conf_expr_unary(e);
	}
	return zctl_conf_expr_power(e);
}

static double zctl_conf_expr_product(struct zctl_conf_expr *e)
{
	double v = zctl_conf_expr_unary(e), r;
	char op;

	for (;;) {
		zctl_conf_expr_space(e);
		op = *e->p;
		if (e->failed || (op != '*' && op != '/' && op != '%'))
			return v;
		e->p++;
		r = zctl_conf_expr_unary(e);
		if (op == '*') {
			v *= r;
		} else if (r == 0) {
			e->p--;
			zctl_conf_expr_fail(e, "division by zero");
			return 0;
		} else {
			v = op == '/' ? v / r : fmod(v, r);
		}
	}
}

static double zctl_conf_expr_sum(struct zctl_conf_expr *e)
{
	double v = zctl_conf_expr_product(e);
	char op;

	for (;;) {
		zctl_conf_expr_space(e);
		op = *e->p;
		if (e->failed || (op != '+' && op != '-'))
			return v;
		e->p++;
		if (op == '+')
			v += zctl_conf_expr_product(e);
		else
			v -= zctl_conf_expr_product(e);
	}
}

int zctl_conf_eval(const char *expr, double ram, double *out, char *err,
		   size_t errlen)
{
	struct zctl_conf_expr e = { expr, expr, ram, err, errlen, 0 };
	double v = zctl_conf_expr_sum(&e);

	zctl_conf_expr_space(&e);
	if (!e.failed && *e.p)
		zctl_conf_expr_fail(&e, "unexpected text");
	if (!e.failed && !isfinite(v)) {
		snprintf(err, errlen, "not a finite number");
		e.failed = 1;
	}
	if (e.failed)
		return -EINVAL;
	*out = v;
	return 0;
}

/* --- values ----------------------------------------------------------- */

int zctl_conf_algorithm(const char *s, char *comp, size_t len, int *level,
			char *err, size_t errlen)
{
	size_t n = strcspn(s, "( \t");
	const char *p = s + n;
	long lv = 0;
	char *end;

	*level = 0;
	if (n == 3 && !strncmp(s, "lz4", 3))
		snprintf(comp, len, "lz4");
	else if (n == 4 && !strncmp(s, "zstd", 4))
		snprintf(comp, len, "zstd");
	else {
		snprintf(err, errlen, "%.*s: not an algorithm zramfuse has (lz4, zstd)",
			 (int)n, s);
		return -EINVAL;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	if (strncmp(p, "(level=", 7)) {
		snprintf(err, errlen, "%s: only one algorithm, with (level=N) at most (no recompression)",
			 s);
		return -EINVAL;
	}
	p += 7;
	errno = 0;
	lv = strtol(p, &end, 10);
	if (end == p || errno || strcmp(end, ")")) {
		snprintf(err, errlen, "%s: level is not a number", s);
		return -EINVAL;
	}
	/* the daemon's ranges: lz4's acceleration, zstd's level */
	if (!strcmp(comp, "lz4") ? lv < 1 || lv > 65537 : lv < -7 || lv > 22 || !lv) {
		snprintf(err, errlen, "%s: level out of range (%s)", s,
			 !strcmp(comp, "lz4") ? "1 to 65537" : "-7 to 22, not 0");
		return -EINVAL;
	}
	*level = (int)lv;
	return 0;
}

/* An expression in MiB to bytes. */
static int zctl_conf_mib(struct zctl_conf_reader *r, enum zctl_conf_key k,
			 const char *text, const char *file, int line,
			 uint64_t *out)
{
	char why[160];
	double mib;

	if (zctl_conf_eval(text, r->ram, &mib, why, sizeof(why)))
		return zctl_conf_error(r, file, line, "%s = %s: %s",
				       zctl_conf_keys[k], text, why);
	if (mib < 0)
		return zctl_conf_error(r, file, line, "%s = %s is %g MiB: negative",
				       zctl_conf_keys[k], text, mib);
	if (mib * ZCTL_MIB >= 18446744073709551615.0)
		return zctl_conf_error(r, file, line, "%s = %s: too large",
				       zctl_conf_keys[k], text);
	*out = (uint64_t)(mib * ZCTL_MIB);
	return 0;
}

static int zctl_conf_number(struct zctl_conf_reader *r,
			    const struct zctl_conf_val *v, enum zctl_conf_key k,
			    double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v->text, &end);
	if (end == v->text || *end || errno || !isfinite(*out) || *out < 0)
		return zctl_conf_error(r, v->file, v->line, "%s %s: not a number",
				       zctl_conf_keys[k], v->text);
	return 0;
}

/* Check a section's values and work out what they ask for. */
static int zctl_conf_cook(struct zctl_conf_reader *r,
			  const struct zctl_conf_raw *raw,
			  struct zctl_conf_section *s)
{
	const struct zctl_conf_val *v = raw->v;
	char why[200], expr[128];
	double frac = 0.5, max = 4096, lim;
	long prio;
	char *end;
	int rc;

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", raw->name);
	s->prio = 100;
	s->discard = ZCTL_DISCARD_BOTH;

	if (v[KEY_FS_TYPE].text && strcmp(v[KEY_FS_TYPE].text, "swap"))
		return zctl_conf_error(r, v[KEY_FS_TYPE].file, v[KEY_FS_TYPE].line,
				       "fs-type %s: zramfuse sets up swap only",
				       v[KEY_FS_TYPE].text);
	if (v[KEY_ZRAM_SIZE].text) {
		rc = zctl_conf_mib(r, KEY_ZRAM_SIZE, v[KEY_ZRAM_SIZE].text,
				   v[KEY_ZRAM_SIZE].file, v[KEY_ZRAM_SIZE].line,
				   &s->size);
	} else if (!v[KEY_FRACTION].text && !v[KEY_MAX_SIZE].text) {
		rc = zctl_conf_mib(r, KEY_ZRAM_SIZE, "min(ram / 2, 4096)", "(default)", 0,
				   &s->size);
	} else {
		/* zram-generator's rule for the old keys */
		const struct zctl_conf_val *at = v[KEY_FRACTION].text ?
			&v[KEY_FRACTION] : &v[KEY_MAX_SIZE];

		if (v[KEY_FRACTION].text &&
		    zctl_conf_number(r, &v[KEY_FRACTION], KEY_FRACTION, &frac))
			return -EINVAL;
		if (v[KEY_MAX_SIZE].text && strcmp(v[KEY_MAX_SIZE].text, "none") &&
		    zctl_conf_number(r, &v[KEY_MAX_SIZE], KEY_MAX_SIZE, &max))
			return -EINVAL;
		if (v[KEY_MAX_SIZE].text && !strcmp(v[KEY_MAX_SIZE].text, "none"))
			snprintf(expr, sizeof(expr), "ram * %.17g", frac);
		else
			snprintf(expr, sizeof(expr), "min(ram * %.17g, %.17g)",
				 frac, max);
		rc = zctl_conf_mib(r, KEY_ZRAM_SIZE, expr, at->file, at->line,
				   &s->size);
	}
	if (rc)
		return rc;
	if (!s->size)
		s->skip = true;	/* zram-generator: size 0, no device */
	if (v[KEY_RESIDENT].text) {
		rc = zctl_conf_mib(r, KEY_RESIDENT, v[KEY_RESIDENT].text,
				   v[KEY_RESIDENT].file, v[KEY_RESIDENT].line,
				   &s->mem_limit);
		if (rc)
			return rc;
	}
	if (v[KEY_ALGORITHM].text &&
	    zctl_conf_algorithm(v[KEY_ALGORITHM].text, s->comp, sizeof(s->comp),
				&s->comp_level, why, sizeof(why)))
		return zctl_conf_error(r, v[KEY_ALGORITHM].file,
				       v[KEY_ALGORITHM].line, "%s", why);
	if (v[KEY_PRIORITY].text) {
		errno = 0;
		prio = strtol(v[KEY_PRIORITY].text, &end, 10);
		if (end == v[KEY_PRIORITY].text || *end || errno || prio < -1 ||
		    prio > 32767)
			return zctl_conf_error(r, v[KEY_PRIORITY].file,
					       v[KEY_PRIORITY].line,
					       "swap-priority %s: not a number from -1 to 32767",
					       v[KEY_PRIORITY].text);
		s->prio = (int)prio;
	}
	if (v[KEY_WRITEBACK].text) {
		if (v[KEY_WRITEBACK].text[0] != '/')
			return zctl_conf_error(r, v[KEY_WRITEBACK].file,
					       v[KEY_WRITEBACK].line,
					       "writeback-device %s: not an absolute path",
					       v[KEY_WRITEBACK].text);
		s->writeback = strdup(v[KEY_WRITEBACK].text);
		if (!s->writeback)
			return -ENOMEM;
	}
	if (v[KEY_OPTIONS].text) {
		const char *o = v[KEY_OPTIONS].text;

		if (!*o)
			s->discard = ZCTL_DISCARD_NONE;
		else if (!strcmp(o, "discard"))
			s->discard = ZCTL_DISCARD_BOTH;
		else if (!strcmp(o, "discard=once"))
			s->discard = ZCTL_DISCARD_ONCE;
		else if (!strcmp(o, "discard=pages"))
			s->discard = ZCTL_DISCARD_PAGES;
		else
			return zctl_conf_error(r, v[KEY_OPTIONS].file,
					       v[KEY_OPTIONS].line,
					       "options %s: only discard, discard=once, discard=pages or nothing",
					       o);
	}
	if (v[KEY_HOST_LIMIT].text && strcmp(v[KEY_HOST_LIMIT].text, "none")) {
		if (zctl_conf_number(r, &v[KEY_HOST_LIMIT], KEY_HOST_LIMIT, &lim))
			return -EINVAL;
		if (r->ram > lim)
			s->skip = true;
	}
	return 0;
}

/* --- files ------------------------------------------------------------ */

bool zctl_conf_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > ZCTL_CONF_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

static char *zctl_conf_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static struct zctl_conf_raw *zctl_conf_section(struct zctl_conf_reader *r,
					       const char *name)
{
	struct zctl_conf_raw *v;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->sec[i].name, name))
			return &r->sec[i];
	v = realloc(r->sec, (r->n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	r->sec = v;
	v = &r->sec[r->n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	return v;
}

static int zctl_conf_text(struct zctl_conf_reader *r, const char *file,
			  const char *text)
{
	struct zctl_conf_raw *cur = NULL;
	const char *p = text, *nl;
	char line[4096], *s, *eq, *key, *val;
	int lineno = 0, k;

	for (; *p; p = nl + (*nl != '\0')) {
		size_t len;

		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		lineno++;
		len = (size_t)(nl - p);
		if (len >= sizeof(line))
			return zctl_conf_error(r, file, lineno, "line too long");
		memcpy(line, p, len);
		line[len] = '\0';
		s = zctl_conf_trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			len = strlen(s);
			if (s[len - 1] != ']')
				return zctl_conf_error(r, file, lineno,
						       "a section header must end with ']'");
			s[len - 1] = '\0';
			s = zctl_conf_trim(s + 1);
			if (!zctl_conf_name_ok(s))
				return zctl_conf_error(r, file, lineno,
						       "section name [%s]: letters, digits, '_', '.' and '-' only, at most %d, not starting with '.' or '-'",
						       s, ZCTL_CONF_NAME_MAX);
			cur = zctl_conf_section(r, s);
			if (!cur)
				return -ENOMEM;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			return zctl_conf_error(r, file, lineno,
					       "expected [section] or key = value");
		*eq = '\0';
		key = zctl_conf_trim(s);
		val = zctl_conf_trim(eq + 1);
		for (k = 0; k < KEY_COUNT; k++)
			if (!strcmp(key, zctl_conf_keys[k]))
				break;
		if (k == KEY_COUNT) {
			if (!strcmp(key, "mount-point"))
				return zctl_conf_error(r, file, lineno,
						       "mount-point: zramfuse sets up swap, not a filesystem on it");
			return zctl_conf_error(r, file, lineno, "unknown key '%s'",
					       key);
		}
		if (!cur)
			return zctl_conf_error(r, file, lineno,
					       "%s outside a [section]", key);
		if (!*val && k != KEY_OPTIONS)
			return zctl_conf_error(r, file, lineno, "%s has no value",
					       key);
		free(cur->v[k].text);
		free(cur->v[k].file);
		cur->v[k].text = strdup(val);
		cur->v[k].file = strdup(file);
		cur->v[k].line = lineno;
		if (!cur->v[k].text || !cur->v[k].file)
			return -ENOMEM;
	}
	return 0;
}

static int zctl_conf_file(struct zctl_conf_reader *r, const char *path,
			  bool must)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "re");
	int rc;

	if (!f) {
		if (errno == ENOENT && !must)
			return 0;
		rc = -errno;
		snprintf(r->err, r->errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *t = realloc(text, cap = len + 65536);

			if (!t) {
				free(text);
				fclose(f);
				return -ENOMEM;
			}
			text = t;
		}
		size_t n = fread(text + len, 1, 4096, f);

		len += n;
		if (n < 4096)
			break;
	}
	rc = ferror(f) ? -EIO : 0;
	fclose(f);
	if (rc) {
		snprintf(r->err, r->errlen, "%s: read error", path);
	} else {
		text[len] = '\0';
		if (strlen(text) != len) {
			const char *q;
			int ln = 1;

			for (q = text; *q; q++)
				ln += *q == '\n';
			rc = zctl_conf_error(r, path, ln, "a NUL byte");
		} else
			rc = zctl_conf_text(r, path, text);
	}
	free(text);
	return rc;
}

static int zctl_conf_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int zctl_conf_dir(struct zctl_conf_reader *r, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, **nn, path[4096];
	size_t n = 0, i, l;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".conf"))
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn) {
			rc = -ENOMEM;
			break;
		}
		names = nn;
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!rc && n)
		qsort(names, n, sizeof(*names), zctl_conf_cmp);
	for (i = 0; i < n && !rc; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = zctl_conf_file(r, path, true);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static void zctl_conf_free_raw(struct zctl_conf_reader *r)
{
	size_t i;
	int k;

	for (i = 0; i < r->n; i++)
		for (k = 0; k < KEY_COUNT; k++) {
			free(r->sec[i].v[k].text);
			free(r->sec[i].v[k].file);
		}
	free(r->sec);
}

static int zctl_conf_finish(struct zctl_conf_reader *r, int rc,
			    struct zctl_conf *conf)
{
	size_t i;

	if (!rc && r->n) {
		conf->sec = calloc(r->n, sizeof(*conf->sec));
		if (!conf->sec)
			rc = -ENOMEM;
		for (i = 0; !rc && i < r->n; i++) {
			rc = zctl_conf_cook(r, &r->sec[i], &conf->sec[i]);
			conf->n = i + 1;
		}
	}
	if (rc == -ENOMEM && !*r->err)
		snprintf(r->err, r->errlen, "out of memory");
	zctl_conf_free_raw(r);
	if (rc)
		zctl_conf_free(conf);
	return rc;
}

int zctl_conf_parse(const char *name, const char *text, double ram,
		    struct zctl_conf *conf, char *err, size_t errlen)
{
	struct zctl_conf_reader r = {
		.ram = ram, .err = err, .errlen = errlen
	};

	memset(conf, 0, sizeof(*conf));
	*err = '\0';
	return zctl_conf_finish(&r, zctl_conf_text(&r, name, text), conf);
}

int zctl_conf_load(const char *file, const char *dir, double ram,
		   struct zctl_conf *conf, char *err, size_t errlen)
{
	struct zctl_conf_reader r = {
		.ram = ram, .err = err, .errlen = errlen
	};
	int rc = 0;

	memset(conf, 0, sizeof(*conf));
	*err = '\0';
	if (file)
		rc = zctl_conf_file(&r, file, false);
	if (!rc && dir) {
		rc = zctl_conf_dir(&r, dir);
		if (rc && !*err)
			snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
	}
	return zctl_conf_finish(&r, rc, conf);
}

void zctl_conf_free(struct zctl_conf *conf)
{
	size_t i;

	for (i = 0; i < conf->n; i++)
		free(conf->sec[i].writeback);
	free(conf->sec);
	conf->sec = NULL;
	conf->n = 0;
}

const struct zctl_conf_section *zctl_conf_find(const struct zctl_conf *conf,
					       const char *name)
{
	size_t i;

	for (i = 0; i < conf->n; i++)
		if (!strcmp(conf->sec[i].name, name))
			return &conf->sec[i];
	return NULL;
}
