/*
 * replay.c - run a fuzz target over files, without libFuzzer.
 *
 *   test_fuzz_NAME [FILE|DIR]...
 *
 * With no arguments it replays tests/fuzz/corpus/NAME and
 * tests/fuzz/regress/NAME (under $CASEBOOK_TOP, else the tree it was built
 * from), so `make test` checks every seed and every input that ever
 * crashed a target still passes, built with the project's compiler and,
 * under `make SANITIZE=...`, its sanitizers. It prints one PASS line for
 * the corpus and one per regression input (tests/run.sh counts them). A
 * crash or a failed property aborts the run; the input being replayed is
 * named on stderr first.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the target"
#endif

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay one file; returns 0, or -1 when it cannot be read. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -1;
	}
	/* An exact-size heap copy, so ASan sees a read past the end. */
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	fprintf(stderr, "replaying %s\n", path);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

/*
 * Replay every file of `dir` in name order (or `dir` itself when it is a
 * file); `each` prints a PASS line per file. Returns the number replayed,
 * or -1 when something could not be read.
 */
static long replay_path(const char *dir, int each)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	long done = 0;
	DIR *d;

	if (stat(dir, &st))
		return 0; /* no such directory: nothing to replay */
	if (!S_ISDIR(st.st_mode)) {
		if (replay_file(dir))
			return -1;
		if (each)
			printf("PASS fuzz_%s %s\n", FUZZ_NAME, dir);
		return 1;
	}
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **g;

			cap = cap ? cap * 2 : 64;
			g = realloc(names, cap * sizeof(*names));
			if (!g)
				break;
			names = g;
		}
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (replay_file(path)) {
			printf("FAIL fuzz_%s %s: cannot read it\n", FUZZ_NAME,
			       path);
			done = -1;
		} else if (done >= 0) {
			done++;
			if (each)
				printf("PASS fuzz_%s regress/%s\n", FUZZ_NAME,
				       names[i]);
		}
		fflush(stdout);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return done;
}

int main(int argc, char **argv)
{
	char corpus[4096], regress[4096];
	long nc, nr;
	int i, bad = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i], 1) < 0)
				bad = 1;
		return bad;
	}
	snprintf(corpus, sizeof(corpus), "%s/tests/fuzz/corpus/%s", fuzz_top(),
		 FUZZ_NAME);
	snprintf(regress, sizeof(regress), "%s/tests/fuzz/regress/%s",
		 fuzz_top(), FUZZ_NAME);
	nc = replay_path(corpus, 0);
	if (nc <= 0) {
		printf("FAIL fuzz_%s corpus: no seed inputs read in %s\n",
		       FUZZ_NAME, corpus);
		bad = 1;
	} else {
		printf("PASS fuzz_%s corpus (%ld inputs)\n", FUZZ_NAME, nc);
	}
	fflush(stdout);
	nr = replay_path(regress, 1);
	if (nr < 0)
		bad = 1;
	return bad;
}
