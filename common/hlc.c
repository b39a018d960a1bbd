/*
 * hlc.c - the hybrid logical clock (see hlc.h).
 *
 * With the millisecond part in the high bits, the classic rules (take the
 * greatest of the local, remote and wall times; bump the counter when the
 * greatest is not the wall time) reduce to integer arithmetic: the next
 * value is max(last + 1, remote + 1, wall << 16). Adding one to a full
 * counter carries into the millisecond part, which is how counter
 * overflow is handled.
 */
#include "hlc.h"

#include <stdio.h>

#include "clock.h"

void cb_hlc_init(struct cb_hlc *h, uint64_t last)
{
	h->last = last;
}

uint64_t cb_hlc_make(int64_t ms, unsigned counter)
{
	if (ms < 0)
		ms = 0;
	if (ms > CB_HLC_MS_MAX)
		ms = CB_HLC_MS_MAX;
	return ((uint64_t)ms << CB_HLC_COUNTER_BITS) |
	       (counter & CB_HLC_COUNTER_MAX);
}

int64_t cb_hlc_ms(uint64_t t)
{
	return (int64_t)(t >> CB_HLC_COUNTER_BITS);
}

unsigned cb_hlc_counter(uint64_t t)
{
	return (unsigned)(t & CB_HLC_COUNTER_MAX);
}

/* The wall clock as a timestamp with counter 0. */
static uint64_t wall_now(void)
{
	return cb_hlc_make(cb_clock_now_ms(), 0);
}

/* max(a + 1, wall), or CB_ETOOBIG when a + 1 does not exist. */
static int next_after(uint64_t a, uint64_t wall, uint64_t *out,
		      struct cb_err *err)
{
	if (a == UINT64_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "hybrid logical clock exhausted");
	*out = a + 1 > wall ? a + 1 : wall;
	return 0;
}

int cb_hlc_now(struct cb_hlc *h, uint64_t *out, struct cb_err *err)
{
	uint64_t next = 0;
	int rc;

	rc = next_after(h->last, wall_now(), &next, err);
	if (rc)
		return rc;
	h->last = next;
	*out = next;
	return 0;
}

uint64_t cb_hlc_bound(uint64_t t, int64_t now_ms)
{
	uint64_t bound;

	if (now_ms > CB_HLC_MS_MAX - CB_HLC_AHEAD_MAX_MS)
		return t;
	bound = cb_hlc_make(now_ms + CB_HLC_AHEAD_MAX_MS, CB_HLC_COUNTER_MAX);
	return t > bound ? bound : t;
}

int cb_hlc_too_far(uint64_t t, int64_t now_ms)
{
	return cb_hlc_ms(t) > now_ms &&
	       cb_hlc_ms(t) - now_ms > CB_HLC_AHEAD_MAX_MS;
}

int cb_hlc_observe(struct cb_hlc *h, uint64_t remote, uint64_t *out,
		   struct cb_err *err)
{
	int64_t wall_ms = cb_clock_now_ms();
	uint64_t wall = cb_hlc_make(wall_ms, 0), next = 0;
	int rc;

	remote = cb_hlc_bound(remote, wall_ms);
	rc = next_after(remote > h->last ? remote : h->last, wall, &next, err);
	if (rc)
		return rc;
	h->last = next;
	if (out)
		*out = next;
	return 0;
}

void cb_hlc_format(uint64_t t, char out[CB_HLC_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = CB_HLC_HEX - 1; i >= 0; i--) {
		out[i] = hex[t & 0xf];
		t >>= 4;
	}
	out[CB_HLC_HEX] = '\0';
}

int cb_hlc_parse(const char *s, uint64_t *out, struct cb_err *err)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < CB_HLC_HEX; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = (v << 4) | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (v << 4) | (uint64_t)(c - 'a' + 10);
		else
			break;
	}
	if (i != CB_HLC_HEX || s[i] != '\0')
		return cb_err_set(err, CB_EINVAL,
				  "clock value \"%.40s\": expected %d "
				  "lowercase hex digits",
				  s, CB_HLC_HEX);
	*out = v;
	return 0;
}
