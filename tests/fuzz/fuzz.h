/*
 * fuzz.h - what the fuzz targets in tests/fuzz share.
 *
 * Each fuzz_NAME.c defines LLVMFuzzerTestOneInput, the libFuzzer entry
 * point: it feeds one input to the code under test and checks properties
 * that must hold for every input (a round trip gives back what went in,
 * a value accepted once is accepted again, the server never hands out an
 * event whose signature does not verify, ...). A property that fails
 * aborts, which libFuzzer and the replay driver (replay.c) report as a
 * crash together with the input.
 *
 * The same file builds two ways: with clang -fsanitize=fuzzer,address,
 * undefined into build-fuzz/fuzz/fuzz_NAME (`make fuzz`), and with the
 * project's compiler and replay.c into BUILD/tests/test_fuzz_NAME, which
 * `make test` runs over the target's seed corpus and regression inputs.
 */
#ifndef CB_FUZZ_H
#define CB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The libFuzzer entry point each target defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the failed property and where it is. */
#define FUZZ_ASSERT(c)                                                         \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz property failed: %s (%s:%d)\n",  \
				#c, __FILE__, __LINE__);                       \
			abort();                                               \
		}                                                              \
	} while (0)

/*
 * The top of the source tree, for files a target reads (the shipped
 * protocol): $CASEBOOK_TOP, else the tree the target was built from.
 */
static inline const char *fuzz_top(void)
{
	const char *t = getenv("CASEBOOK_TOP");

#ifdef FUZZ_TOP
	return t && *t ? t : FUZZ_TOP;
#else
	return t && *t ? t : ".";
#endif
}

#endif
