/*
 * test_topo_corpus.c - topo.yaml files as saved input and expected output
 * (bgpd regress/config style).
 *
 * topo_bad/NAME.yaml: a topology with a fault.  topo_parse() must refuse
 * it with exactly the lines of NAME.expected.  (That a refused topology
 * never reaches the store is the controller's part: it parses before it
 * stores; tests/integ/ctl_lab4.sh checks the database file is unchanged.)
 *
 * topo_good/NAME.yaml: a valid topology.  NAME.expected holds every
 * node's neighbour table (neigh_print).
 *
 * ITM_TOPO_REGEN=1 rewrites the .expected files from the current output
 * (review the diff before committing).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "neigh.h"
#include "topo.h"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (n + 4096 > cap) {
			cap = cap * 2 + 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void
expect_text(const char *dir, const char *name, const char *got)
{
	char path[512], *want;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s/%s.expected", ITM_TOPO_CORPUS, dir,
		 name);
	if (getenv("ITM_TOPO_REGEN")) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	want = slurp(path, &len);
	if (want == NULL)
		fail_msg("%s: missing (ITM_TOPO_REGEN=1 writes it)", path);
	if (strcmp(want, got) != 0) {
		print_error("--- %s\n%s--- got\n%s", path, want, got);
		fail_msg("%s/%s: output differs", dir, name);
	}
	free(want);
}

static char *
read_case(const char *dir, const char *name, size_t *len)
{
	char path[512];
	char *yaml;

	snprintf(path, sizeof(path), "%s/%s/%s.yaml", ITM_TOPO_CORPUS, dir,
		 name);
	yaml = slurp(path, len);
	assert_non_null(yaml);
	return yaml;
}

static void
bad_case(void **state)
{
	const char *name = *state;
	char file[128], *out = NULL;
	struct topo_config *cfg = NULL;
	struct topo_errors errs;
	size_t len, outlen;
	char *yaml = read_case("topo_bad", name, &len);
	FILE *mem = open_memstream(&out, &outlen);

	snprintf(file, sizeof(file), "%s.yaml", name);
	topo_errors_init(&errs);
	assert_int_equal(topo_parse(yaml, len, file, &cfg, &errs), -EINVAL);
	assert_null(cfg);
	assert_true(errs.n > 0);
	topo_errors_print(&errs, mem);
	fclose(mem);
	expect_text("topo_bad", name, out);
	topo_errors_free(&errs);
	free(out);
	free(yaml);
}

static void
print_tables(const struct neigh_set *set, FILE *f)
{
	for (size_t i = 0; i < set->n; i++)
		neigh_print(&set->tables[i], f);
}

static void
good_case(void **state)
{
	const char *name = *state;
	struct topo_config *cfg;
	struct neigh_set *set;
	struct topo_errors errs;
	char *out = NULL;
	size_t len, olen;
	char *yaml = read_case("topo_good", name, &len);
	FILE *mem = open_memstream(&out, &olen);

	topo_errors_init(&errs);
	if (topo_parse(yaml, len, name, &cfg, &errs) != 0) {
		topo_errors_print(&errs, stderr);
		fail_msg("%s: does not parse", name);
	}
	assert_int_equal(neigh_build(cfg, &set), 0);
	print_tables(set, mem);
	fclose(mem);
	expect_text("topo_good", name, out);
	neigh_set_free(set);
	topo_config_free(cfg);
	free(out);
	free(yaml);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of DIR/ *.yaml without the suffix, sorted. */
static size_t
list_cases(const char *dir, char ***names)
{
	char path[512];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", ITM_TOPO_CORPUS, dir);
	d = opendir(path);
	if (d == NULL)
		return 0;
	*names = NULL;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml"))
			continue;
		*names = realloc(*names, (n + 1) * sizeof(**names));
		(*names)[n++] = strndup(de->d_name, l - 5);
	}
	closedir(d);
	qsort(*names, n, sizeof(**names), cmp_names);
	return n;
}

/* A database with one good generation, closed (no WAL left). */
int
main(void)
{
	char **bad = NULL, **good = NULL;
	size_t nb = list_cases("topo_bad", &bad);
	size_t ng = list_cases("topo_good", &good);
	struct CMUnitTest *t = calloc(nb + ng + 1, sizeof(*t));
	int rc;

	if (nb < 15 || ng == 0) {
		fprintf(stderr, "corpus too small: %zu bad, %zu good\n", nb,
			ng);
		return 1;
	}
	for (size_t i = 0; i < nb; i++)
		t[i] = (struct CMUnitTest){ .name = bad[i],
					    .test_func = bad_case,
					    .initial_state = bad[i] };
	for (size_t i = 0; i < ng; i++)
		t[nb + i] = (struct CMUnitTest){ .name = good[i],
						 .test_func = good_case,
						 .initial_state = good[i] };
	rc = _cmocka_run_group_tests("topo_corpus", t, nb + ng, NULL, NULL);
	for (size_t i = 0; i < nb; i++)
		free(bad[i]);
	for (size_t i = 0; i < ng; i++)
		free(good[i]);
	free(bad);
	free(good);
	free(t);
	return rc;
}
