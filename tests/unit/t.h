/*
 * t.h - the unit test harness: one binary per module, one function per case.
 *
 *   static void test_something(void) { T_ASSERT(x == 1); }
 *   int main(void) { T_RUN(test_something); return t_done(); }
 *
 * Each case prints "PASS name" or "FAIL name: file:line: what"; tests/run.sh
 * counts those lines. Randomized cases take their seed from t_seed(), which
 * reads CASEBOOK_SEED or picks one, and is printed on failure so the run
 * can be repeated.
 */
#ifndef CB_T_H
#define CB_T_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int t_failed_case;
static int t_npass, t_nfail;
static uint64_t t_seed_value;
static int t_seed_used;

static inline uint64_t t_seed(void)
{
	if (!t_seed_used) {
		const char *s = getenv("CASEBOOK_SEED");

		t_seed_value = s ? strtoull(s, NULL, 10)
				 : (uint64_t)time(NULL) ^ (uint64_t)clock();
		t_seed_used = 1;
	}
	return t_seed_value;
}

#define T_FAIL_AT(...)                                                         \
	do {                                                                   \
		if (!t_failed_case) {                                          \
			printf("FAIL %s: %s:%d: ", t_case_name, __FILE__,      \
			       __LINE__);                                      \
			printf(__VA_ARGS__);                                   \
			if (t_seed_used)                                       \
				printf(" (CASEBOOK_SEED=%llu)",                \
				       (unsigned long long)t_seed_value);      \
			printf("\n");                                          \
		}                                                              \
		t_failed_case = 1;                                             \
	} while (0)

#define T_ASSERT(c)                                                            \
	do {                                                                   \
		if (!(c)) {                                                    \
			T_FAIL_AT("%s", #c);                                   \
			return;                                                \
		}                                                              \
	} while (0)

#define T_EQ_INT(a, b)                                                         \
	do {                                                                   \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);        \
		if (t_a_ != t_b_) {                                            \
			T_FAIL_AT("%s == %s: %lld != %lld", #a, #b, t_a_,      \
				  t_b_);                                       \
			return;                                                \
		}                                                              \
	} while (0)

#define T_EQ_STR(a, b)                                                         \
	do {                                                                   \
		const char *t_a_ = (a), *t_b_ = (b);                           \
		if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) {               \
			T_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b,        \
				  t_a_ ? t_a_ : "(null)",                      \
				  t_b_ ? t_b_ : "(null)");                     \
			return;                                                \
		}                                                              \
	} while (0)

#define T_CONTAINS(hay, needle)                                                \
	do {                                                                   \
		const char *t_h_ = (hay), *t_n_ = (needle);                    \
		if (!t_h_ || !strstr(t_h_, t_n_)) {                            \
			T_FAIL_AT("\"%s\" does not contain \"%s\"",            \
				  t_h_ ? t_h_ : "(null)", t_n_);               \
			return;                                                \
		}                                                              \
	} while (0)

static const char *t_case_name = "";

#define T_RUN(fn)                                                              \
	do {                                                                   \
		t_case_name = #fn;                                             \
		t_failed_case = 0;                                             \
		fn();                                                          \
		if (t_failed_case)                                             \
			t_nfail++;                                             \
		else {                                                         \
			t_npass++;                                             \
			printf("PASS %s\n", #fn);                              \
		}                                                              \
		fflush(stdout);                                                \
	} while (0)

static inline int t_done(void)
{
	return t_nfail ? 1 : 0;
}

#endif
