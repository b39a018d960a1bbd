/*
 * test_hlc.c - the hybrid logical clock: monotonic under a wall clock that
 * runs backwards, stalls and jumps; observing remote clocks; counter
 * overflow; text order equal to numeric order.
 */
#include "t.h"

#include "clock.h"
#include "hlc.h"

/* A wall clock the test moves by hand. */
static int64_t fake_ms;

static int64_t fake_source(void *ctx)
{
	(void)ctx;
	return fake_ms;
}

static void use_fake_clock(int64_t ms)
{
	fake_ms = ms;
	cb_clock_set_source(fake_source, NULL);
}

static uint64_t t_rand_state;

static uint64_t t_rand(void)
{
	/* xorshift64*, seeded from t_seed() */
	t_rand_state ^= t_rand_state >> 12;
	t_rand_state ^= t_rand_state << 25;
	t_rand_state ^= t_rand_state >> 27;
	return t_rand_state * 2685821657736338717ULL;
}

static void test_follows_wall_clock(void)
{
	struct cb_hlc h;
	uint64_t t;

	use_fake_clock(1764000000000LL);
	cb_hlc_init(&h, 0);
	T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
	T_EQ_INT(cb_hlc_ms(t), 1764000000000LL);
	T_EQ_INT(cb_hlc_counter(t), 0);
	T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
	T_EQ_INT(cb_hlc_ms(t), 1764000000000LL);
	T_EQ_INT(cb_hlc_counter(t), 1);
	fake_ms += 5;
	T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
	T_EQ_INT(cb_hlc_ms(t), 1764000000005LL);
	T_EQ_INT(cb_hlc_counter(t), 0);
	T_EQ_INT(h.last, t);
	cb_clock_set_source(NULL, NULL);
}

static void test_backwards_clock(void)
{
	struct cb_hlc h;
	uint64_t t, prev;
	int i;

	use_fake_clock(1764000000000LL);
	cb_hlc_init(&h, 0);
	T_EQ_INT(cb_hlc_now(&h, &prev, NULL), 0);
	fake_ms -= 3600000; /* an hour back */
	for (i = 0; i < 100; i++) {
		T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
		T_ASSERT(t > prev);
		/* it keeps the old millisecond and counts */
		T_EQ_INT(cb_hlc_ms(t), 1764000000000LL);
		prev = t;
	}
	/* once the wall clock passes it again, it follows the wall clock */
	fake_ms = 1764000000100LL;
	T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
	T_EQ_INT(cb_hlc_ms(t), 1764000000100LL);
	T_EQ_INT(cb_hlc_counter(t), 0);
	cb_clock_set_source(NULL, NULL);
}

/* A clock that wanders randomly, backwards and forwards, with jumps. */
static void test_random_walk_monotonic(void)
{
	struct cb_hlc h;
	uint64_t t, prev = 0, remote;
	int i;

	t_rand_state = t_seed() | 1;
	use_fake_clock(1764000000000LL);
	cb_hlc_init(&h, 0);
	for (i = 0; i < 100000; i++) {
		uint64_t r = t_rand();

		switch (r % 8) {
		case 0:
			fake_ms -= (int64_t)(r >> 8) % 100000;
			break;
		case 1:
			fake_ms += (int64_t)(r >> 8) % 1000000;
			break;
		case 2:
			fake_ms = 0; /* clock reset to the epoch */
			break;
		default:
			break;
		}
		if (r % 5 == 0) {
			remote = cb_hlc_make(
			    fake_ms + (int64_t)(r >> 40) % 5000 - 2500,
			    (unsigned)(r >> 16));
			T_EQ_INT(cb_hlc_observe(&h, remote, &t, NULL), 0);
			T_ASSERT(t > remote);
		} else {
			T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
		}
		if (t <= prev)
			T_FAIL_AT("step %d: %llx after %llx", i,
				  (unsigned long long)t,
				  (unsigned long long)prev);
		T_ASSERT(t > prev);
		prev = t;
	}
	cb_clock_set_source(NULL, NULL);
}

static void test_observe_ahead(void)
{
	struct cb_hlc h;
	uint64_t remote, t;
	struct cb_err err;

	use_fake_clock(1764000000000LL);
	cb_hlc_init(&h, 0);
	remote = cb_hlc_make(1764000060000LL, 7); /* a minute ahead */
	T_EQ_INT(cb_hlc_observe(&h, remote, &t, NULL), 0);
	T_EQ_INT(cb_hlc_ms(t), 1764000060000LL);
	T_EQ_INT(cb_hlc_counter(t), 8);
	/* the next local stamp stays after what was observed */
	T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
	T_EQ_INT(cb_hlc_ms(t), 1764000060000LL);
	T_EQ_INT(cb_hlc_counter(t), 9);
	/* observing something older changes only the counter */
	T_EQ_INT(cb_hlc_observe(&h, cb_hlc_make(1, 0), &t, NULL), 0);
	T_EQ_INT(cb_hlc_counter(t), 10);

	/* a wildly fast clock is taken in only up to the bound */
	cb_hlc_init(&h, 0);
	T_EQ_INT(cb_hlc_observe(&h, UINT64_MAX, &t, &err), 0);
	T_EQ_INT(cb_hlc_ms(t), 1764000000000LL + CB_HLC_AHEAD_MAX_MS + 1);
	T_EQ_INT(cb_hlc_counter(t), 0);
	/* ...so the clock goes on working */
	T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
	cb_hlc_init(&h, 0);
	remote = cb_hlc_make(1764000000000LL + CB_HLC_AHEAD_MAX_MS, 3);
	T_EQ_INT(cb_hlc_observe(&h, remote, &t, NULL), 0);
	T_ASSERT(t == remote + 1);
	T_ASSERT(!cb_hlc_too_far(remote, 1764000000000LL));
	T_ASSERT(cb_hlc_too_far(
	    cb_hlc_make(1764000000000LL + CB_HLC_AHEAD_MAX_MS + 1, 0),
	    1764000000000LL));
	T_ASSERT(cb_hlc_too_far(UINT64_MAX, 1764000000000LL));
	T_ASSERT(!cb_hlc_too_far(0, 1764000000000LL));
	T_ASSERT(cb_hlc_bound(UINT64_MAX, 0) ==
		 cb_hlc_make(CB_HLC_AHEAD_MAX_MS, CB_HLC_COUNTER_MAX));
	T_ASSERT(cb_hlc_bound(7, 0) == 7);
	cb_clock_set_source(NULL, NULL);
}

static void test_counter_overflow(void)
{
	struct cb_hlc h;
	uint64_t t;
	unsigned i;

	use_fake_clock(1764000000000LL);
	cb_hlc_init(&h, cb_hlc_make(1764000000000LL, CB_HLC_COUNTER_MAX - 2));
	for (i = 0; i < 2; i++)
		T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
	T_EQ_INT(cb_hlc_counter(t), CB_HLC_COUNTER_MAX);
	/* the full counter carries into the millisecond, never wraps */
	T_EQ_INT(cb_hlc_now(&h, &t, NULL), 0);
	T_EQ_INT(cb_hlc_ms(t), 1764000000001LL);
	T_EQ_INT(cb_hlc_counter(t), 0);

	/* the same when observing a remote value with a full counter */
	cb_hlc_init(&h, 0);
	T_EQ_INT(
	    cb_hlc_observe(&h, cb_hlc_make(1764000000500LL, CB_HLC_COUNTER_MAX),
			   &t, NULL),
	    0);
	T_EQ_INT(cb_hlc_ms(t), 1764000000501LL);
	T_EQ_INT(cb_hlc_counter(t), 0);

	/* the very last value cannot be followed */
	cb_hlc_init(&h, UINT64_MAX);
	T_EQ_INT(cb_hlc_now(&h, &t, NULL), CB_ETOOBIG);
	T_ASSERT(h.last == UINT64_MAX);
	cb_hlc_init(&h, UINT64_MAX);
	T_EQ_INT(cb_hlc_observe(&h, 5, &t, NULL), CB_ETOOBIG);
	T_ASSERT(h.last == UINT64_MAX);
	cb_clock_set_source(NULL, NULL);
}

static void test_text_round_trip(void)
{
	char buf[CB_HLC_HEX + 1];
	uint64_t v;
	struct cb_err err;

	cb_hlc_format(cb_hlc_make(1764000000000LL, 0x2a), buf);
	T_EQ_STR(buf, "019ab697e800002a");
	T_EQ_INT(cb_hlc_parse(buf, &v, NULL), 0);
	T_ASSERT(v == cb_hlc_make(1764000000000LL, 0x2a));
	cb_hlc_format(UINT64_MAX, buf);
	T_EQ_STR(buf, "ffffffffffffffff");
	cb_hlc_format(0, buf);
	T_EQ_STR(buf, "0000000000000000");

	T_EQ_INT(cb_hlc_parse("019AB697E800002A", &v, &err), CB_EINVAL);
	T_EQ_INT(cb_hlc_parse("019aba8dac00002", &v, &err), CB_EINVAL);
	T_EQ_INT(cb_hlc_parse("019ab697e800002a0", &v, &err), CB_EINVAL);
	T_EQ_INT(cb_hlc_parse("019aba8dac00002g", &v, &err), CB_EINVAL);
	T_EQ_INT(cb_hlc_parse("", &v, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "hex");
}

static void test_text_sorts_like_numbers(void)
{
	char a[CB_HLC_HEX + 1], b[CB_HLC_HEX + 1];
	int i;

	t_rand_state = t_seed() | 1;
	for (i = 0; i < 100000; i++) {
		uint64_t x = t_rand(), y = t_rand();
		int c;

		if (i % 3 == 0)
			y = x + (t_rand() % 3) - 1; /* neighbours */
		if (i % 7 == 0)
			x >>= (t_rand() % 64);
		cb_hlc_format(x, a);
		cb_hlc_format(y, b);
		c = strcmp(a, b);
		if ((c < 0) != (x < y) || (c == 0) != (x == y)) {
			T_FAIL_AT("%s vs %s", a, b);
			return;
		}
	}
}

int main(void)
{
	T_RUN(test_follows_wall_clock);
	T_RUN(test_backwards_clock);
	T_RUN(test_random_walk_monotonic);
	T_RUN(test_observe_ahead);
	T_RUN(test_counter_overflow);
	T_RUN(test_text_round_trip);
	T_RUN(test_text_sorts_like_numbers);
	return t_done();
}
