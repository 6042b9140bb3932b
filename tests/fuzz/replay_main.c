/*
 * replay_main.c - run a libFuzzer target over saved inputs without
 * libFuzzer, so gcc builds replay the corpus as an ordinary test.
 *
 *	<target>_replay FILE|DIR...
 *
 * Directories are read one level deep, files in name order.  Exits non-zero when an input
 * cannot be read or nothing was replayed; a failing input crashes, as it
 * would under the fuzzer.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	uint8_t *data = NULL;
	struct stat st;
	size_t n = 0;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	if (st.st_size > 0 && (data = malloc((size_t)st.st_size)) != NULL)
		n = fread(data, 1, (size_t)st.st_size, f);
	fclose(f);
	if (st.st_size > 0 && n != (size_t)st.st_size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(data);
		return -1;
	}
	LLVMFuzzerTestOneInput(data != NULL ? data : (const uint8_t *)"", n);
	free(data);
	return 0;
}

/* Returns inputs replayed, or -1 on a read error. */
static int
replay_dir(const char *dir)
{
	struct dirent **names;
	char path[4096];
	int count = 0, n;

	/* In name order: targets that keep state across inputs replay the
	 * same sequence every time. */
	if ((n = scandir(dir, &names, NULL, alphasort)) < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (names[i]->d_name[0] == '.' || stat(path, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path) < 0) {
			count = -1;
			break;
		}
		count++;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return count;
}

int
main(int argc, char **argv)
{
	struct stat st;
	int i, n, total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n = replay_dir(argv[i]);
		else
			n = replay_file(argv[i]) < 0 ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	printf("replayed %d inputs\n", total);
	return total > 0 ? 0 : 1;
}
