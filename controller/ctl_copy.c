/*
 * ctl_copy.c - itm-controller --import FILE / --export FILE: the whole
 * content of an SQLite file into the (empty) store given with --store,
 * or of the store into a new SQLite file (store_copy()), then exit.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* Remove a half-written export (the file and its WAL). */
static void
export_discard(const char *path)
{
	char side[4096];

	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

static int
open_or_say(struct store **st, const char *where)
{
	char err[512];
	int rc = store_open(st, where, err, sizeof(err));

	if (rc < 0)
		fprintf(stderr, "itm-controller: store %s: %s\n", where, err);
	return rc;
}

/* Copy @from into @to (both opened here); 0 or 1 as an exit code. */
static int
copy_stores(const char *from, const char *to, const char *verb)
{
	struct store *src = NULL, *dst = NULL;
	char err[1024];
	size_t n = 0;
	int rc;

	rc = open_or_say(&src, from);
	if (rc == 0)
		rc = open_or_say(&dst, to);
	if (rc == 0 && (rc = store_copy(dst, src, &n, err, sizeof(err))) < 0)
		fprintf(stderr, "itm-controller: %s %s into %s: %s\n", verb,
			from, to, err);
	if (rc == 0)
		printf("%s %zu generations from %s into %s\n", verb, n, from,
		       to);
	store_close(dst);
	store_close(src);
	return rc < 0;
}

int
ctl_copy_run(const struct ctl_config *cfg)
{
	int rc;

	if (cfg->import_path) {
		if (access(cfg->import_path, R_OK) < 0) {
			fprintf(stderr, "itm-controller: --import %s: %s\n",
				cfg->import_path, strerror(errno));
			return 1;
		}
		return copy_stores(cfg->import_path, cfg->db_path, "imported");
	}
	if (access(cfg->export_path, F_OK) == 0) {
		fprintf(stderr,
			"itm-controller: --export %s: the file exists; "
			"export writes a new file\n",
			cfg->export_path);
		return 1;
	}
	rc = copy_stores(cfg->db_path, cfg->export_path, "exported");
	if (rc)
		export_discard(cfg->export_path);
	return rc;
}
