/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pagemix: the realistic page mix (see pagemix.h).
 *
 * Library pages are spread over every shared library: with N files and a
 * pool of P pages, each file gives ceil(P / N) pages at evenly spaced
 * offsets (all-zero pages skipped: the zero share is counted apart), so
 * the pool holds code, relocations and data of many libraries rather
 * than the first megabytes of one.  Text is the files' bytes back to back;
 * a text page starts anywhere in it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pagemix.h"

#define LIB_DIR "/usr/lib/x86_64-linux-gnu"

/* where text comes from, and the name ending taken there ("" any) */
static const struct {
	const char *dir, *suffix;
} text_dirs[] = {
	{ "/usr/share/common-licenses", "" },
	{ "/usr/include", ".h" },
};

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static int is_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Does @name contain @part (@end: end with it)?  Hidden files never. */
static int name_has(const char *name, const char *part, int end)
{
	size_t n = strlen(name), k = strlen(part);

	if (name[0] == '.' || n < k)
		return 0;
	return end ? strcmp(name + n - k, part) == 0 : strstr(name, part) != NULL;
}

/*
 * The regular files (not links: a library's links name the same file) of
 * @dir whose names have @part (see name_has()) and that hold at least one page, in name
 * order.  Returns their count; *@names and *@sizes are malloc'ed.
 */
static size_t list_files(const char *dir, const char *part, int end,
			 char ***names, off_t **sizes)
{
	struct dirent **ents;
	int dfd, n = scandir(dir, &ents, NULL, alphasort);
	size_t k = 0;

	*names = NULL;
	*sizes = NULL;
	if (n < 0)
		return 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*names = calloc((size_t)n + 1, sizeof(**names));
	*sizes = calloc((size_t)n + 1, sizeof(**sizes));
	for (int i = 0; i < n; i++) {
		struct stat st;

		if (dfd >= 0 && *names && *sizes &&
		    name_has(ents[i]->d_name, part, end) &&
		    fstatat(dfd, ents[i]->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_size >= (off_t)PAGEMIX_PAGE) {
			(*names)[k] = strdup(ents[i]->d_name);
			(*sizes)[k] = st.st_size;
			if ((*names)[k])
				k++;
		}
		free(ents[i]);
	}
	free(ents);
	if (dfd >= 0)
		close(dfd);
	return k;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n && names; i++)
		free(names[i]);
	free(names);
}

static int open_in(const char *dir, const char *name)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (dfd < 0)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	close(dfd);
	return fd;
}

static void read_libs(struct pagemix *m, size_t want)
{
	char **names;
	off_t *sizes;
	size_t n = list_files(LIB_DIR, ".so", 0, &names, &sizes), per;

	if (!n)
		goto out;
	per = (want + n - 1) / n;
	for (size_t f = 0; f < n && m->nlib < want; f++) {
		uint64_t pages = (uint64_t)sizes[f] / PAGEMIX_PAGE;
		int fd = open_in(LIB_DIR, names[f]);
		size_t got = m->nlib;

		if (fd < 0)
			continue;
		for (size_t j = 0; j < per && m->nlib < want; j++) {
			unsigned char *p = m->lib + m->nlib * PAGEMIX_PAGE;
			off_t off = (off_t)(j * pages / per) * PAGEMIX_PAGE;

			if (pread(fd, p, PAGEMIX_PAGE, off) == PAGEMIX_PAGE &&
			    !is_zero(p, PAGEMIX_PAGE))
				m->nlib++;
		}
		close(fd);
		m->nlib_files += m->nlib > got;
	}
out:
	free_names(names, n);
	free(sizes);
}

static void read_text(struct pagemix *m, size_t want)
{
	for (size_t d = 0; d < sizeof(text_dirs) / sizeof(text_dirs[0]); d++) {
		char **names;
		off_t *sizes;
		size_t n = list_files(text_dirs[d].dir, text_dirs[d].suffix,
					      1, &names, &sizes);

		for (size_t f = 0; f < n && m->ntext < want; f++) {
			int fd = open_in(text_dirs[d].dir, names[f]);
			ssize_t r;
			size_t got = m->ntext;

			if (fd < 0)
				continue;
			while (m->ntext < want &&
			       (r = read(fd, m->text + m->ntext,
					 want - m->ntext)) > 0)
				m->ntext += (size_t)r;
			close(fd);
			m->ntext_files += m->ntext > got;
		}
		free_names(names, n);
		free(sizes);
	}
}

int pagemix_init(struct pagemix *m, uint64_t seed, size_t lib_pages,
		 size_t text_bytes)
{
	memset(m, 0, sizeof(*m));
	m->seed = seed;
	m->lib = malloc(lib_pages * PAGEMIX_PAGE);
	m->text = malloc(text_bytes);
	if (!m->lib || !m->text) {
		pagemix_free(m);
		return -ENOMEM;
	}
	read_libs(m, lib_pages);
	read_text(m, text_bytes);
	if (!m->nlib || m->ntext < 2 * PAGEMIX_PAGE) {
		pagemix_free(m);
		return -ENOENT;
	}
	return 0;
}

void pagemix_free(struct pagemix *m)
{
	free(m->lib);
	free(m->text);
	m->lib = NULL;
	m->text = NULL;
	m->nlib = m->ntext = 0;
}

enum pagemix_kind pagemix_fill(const struct pagemix *m, unsigned char *page,
			       uint64_t index, uint64_t gen)
{
	uint64_t s = mix64(m->seed ^ mix64(index ^ mix64(gen)));
	unsigned pct = (unsigned)(s % 100);

	s = mix64(s);
	if (pct < 30) {
		memset(page, 0, PAGEMIX_PAGE);
		return PAGEMIX_ZERO;
	}
	if (pct < 70) {
		size_t off = (size_t)(s % m->ntext), n = m->ntext - off;

		if (n >= PAGEMIX_PAGE) {
			memcpy(page, m->text + off, PAGEMIX_PAGE);
		} else {
			memcpy(page, m->text + off, n);
			memcpy(page + n, m->text, PAGEMIX_PAGE - n);
		}
		return PAGEMIX_TEXT;
	}
	if (pct < 90) {
		memcpy(page, m->lib + (s % m->nlib) * PAGEMIX_PAGE,
		       PAGEMIX_PAGE);
		return PAGEMIX_LIB;
	}
	for (size_t k = 0; k < PAGEMIX_PAGE; k += 8) {
		s = mix64(s);
		memcpy(page + k, &s, 8);
	}
	return PAGEMIX_RANDOM;
}
