/*
 * hlc.h - the hybrid logical clock that orders events (DESIGN.md section 3).
 *
 * A timestamp is 64 bits: the high 48 are milliseconds since the Unix
 * epoch, the low 16 a counter that orders events within one millisecond
 * (or while the wall clock stands still or runs backwards). Its text is
 * 16 lowercase hex digits, so comparing two texts with strcmp orders them
 * exactly as their numbers.
 *
 * A device keeps one struct cb_hlc. cb_hlc_now stamps a local event;
 * cb_hlc_observe takes in a timestamp seen on an event from elsewhere.
 * Each returns a value greater than every value the state has returned or
 * observed before, whatever cb_clock_now_ms() does, so a device's events
 * are strictly ordered and an event is stamped after every event its
 * author had seen: the clock order is a linear extension of causality.
 * The clock stays close to wall time: it runs ahead of the wall clock only
 * by what it has observed from faster clocks, plus one millisecond for
 * each 65536 events within one millisecond (when the counter is full, the
 * millisecond part is advanced instead of wrapping).
 *
 * The state is a plain value: a program persists `last` (for example in
 * its store) and restores it with cb_hlc_init, so the clock stays
 * monotonic across restarts. It is not locked; one thread at a time.
 */
#ifndef CB_HLC_H
#define CB_HLC_H

#include <stdint.h>

#include "err.h"

/* Characters of a timestamp's text, without the NUL. */
#define CB_HLC_HEX 16
/* Bits of the counter part. */
#define CB_HLC_COUNTER_BITS 16
/* Largest counter and largest millisecond part. */
#define CB_HLC_COUNTER_MAX 0xffffu
#define CB_HLC_MS_MAX ((INT64_C(1) << 48) - 1)

/*
 * How far a clock value may run ahead of the wall clock that reads it:
 * 24 hours. A device never takes in a remote value further ahead than
 * this (cb_hlc_observe stops at the bound), and the server refuses an
 * event stamped further ahead of its own clock (docs/api.md), so one
 * device with a wildly wrong clock, or a hostile one, cannot drag every
 * replica's clock into the future or exhaust it. Honest clocks stay well
 * inside it: devices sync only with a clock within five minutes of the
 * server's (reqsig.h).
 */
#define CB_HLC_AHEAD_MAX_MS (24LL * 60 * 60 * 1000)

struct cb_hlc {
	uint64_t last; /* greatest timestamp issued or observed; 0 at start */
};

/* Start a clock that has issued nothing after `last` (0 for a new one). */
void cb_hlc_init(struct cb_hlc *h, uint64_t last);

/* Build a timestamp from its parts (ms is clamped to 0..CB_HLC_MS_MAX). */
uint64_t cb_hlc_make(int64_t ms, unsigned counter);

/* The millisecond and counter parts of a timestamp. */
int64_t cb_hlc_ms(uint64_t t);
unsigned cb_hlc_counter(uint64_t t);

/*
 * Stamp a local event: max(last + 1, wall clock with counter 0). Stores
 * it in h->last and *out. CB_ETOOBIG when the clock is exhausted (the
 * year 10889); the state is then unchanged.
 */
int cb_hlc_now(struct cb_hlc *h, uint64_t *out, struct cb_err *err);

/*
 * Take in `remote`, a timestamp read from an event made elsewhere, and
 * return in *out (may be NULL) a fresh timestamp greater than both it and
 * everything before: max(last + 1, remote + 1, wall clock with counter 0),
 * where a remote further than CB_HLC_AHEAD_MAX_MS ahead of the wall clock
 * counts only as far as that bound (cb_hlc_bound). CB_ETOOBIG when the
 * clock is exhausted; the state is then unchanged.
 */
int cb_hlc_observe(struct cb_hlc *h, uint64_t remote, uint64_t *out,
		   struct cb_err *err);

/*
 * `t`, or the greatest timestamp no more than CB_HLC_AHEAD_MAX_MS ahead
 * of `now_ms` when t is further ahead: what a device takes in of a
 * remote clock value.
 */
uint64_t cb_hlc_bound(uint64_t t, int64_t now_ms);

/* 1 when t's millisecond part is over CB_HLC_AHEAD_MAX_MS past now_ms. */
int cb_hlc_too_far(uint64_t t, int64_t now_ms);

/* Write `t` as 16 lowercase hex digits and a NUL. */
void cb_hlc_format(uint64_t t, char out[CB_HLC_HEX + 1]);

/*
 * Read exactly 16 lowercase hex digits (the output of cb_hlc_format).
 * Returns 0 with *out set, or CB_EINVAL with a message quoting the text.
 */
int cb_hlc_parse(const char *s, uint64_t *out, struct cb_err *err);

#endif
