/*
 * bench_kdf.c - how long one passphrase unlock takes on this machine.
 *
 * Times cb_kdf_derive at the default Argon2id cost (cb_kdf_params_init)
 * five times and prints the median, with the cost, so the defaults in
 * crypto.h can be checked against the target of about half a second on a
 * 2-core machine. The first derive is printed too: it is the one a CLI
 * unlock pays, since each run is a new process whose Argon2 memory is
 * touched for the first time. A benchmark reports; it never fails on a
 * time.
 *
 * CASEBOOK_KDF_FAST=1 would measure the test-only minimum cost instead,
 * so it is cleared first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"

#define RUNS 5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	static const char pass[] = "correct horse battery staple";
	struct cb_kdf_params params;
	struct cb_err err;
	struct cb_key *key;
	double times[RUNS], t0, first;
	int i;

	unsetenv("CASEBOOK_KDF_FAST");
	cb_err_clear(&err);
	if (cb_kdf_params_init(&params, &err)) {
		fprintf(stderr, "bench_kdf: %s\n", err.msg);
		return 1;
	}
	for (i = 0; i < RUNS; i++) {
		t0 = now_s();
		if (cb_kdf_derive(pass, sizeof(pass) - 1, &params, &key,
				  &err)) {
			fprintf(stderr, "bench_kdf: %s\n", err.msg);
			return 1;
		}
		times[i] = now_s() - t0;
		cb_key_free(key);
	}
	first = times[0];
	qsort(times, RUNS, sizeof(times[0]), cmp_double);
	printf("kdf_derive argon2id m=%zu MiB t=%llu p=1: median %.3f s "
	       "(first %.3f, min %.3f, max %.3f, %d runs)\n",
	       params.memlimit / (1024 * 1024), params.opslimit,
	       times[RUNS / 2], first, times[0], times[RUNS - 1], RUNS);
	return 0;
}
