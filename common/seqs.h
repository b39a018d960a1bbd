/*
 * seqs.h - ranges of the central store's event numbers: the "seqs" of a
 * push answer (the numbers of the events it stored) and the `skip` of a
 * pull (events the device holds, left out of the page). docs/api.md.
 */
#ifndef CB_SEQS_H
#define CB_SEQS_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/* Most ranges one pull may skip. */
#define CB_SEQS_MAX 64

/* Event numbers lo..hi, both included. */
struct cb_seq_range {
	int64_t lo, hi;
};

/* Ranges in ascending order, apart. */
struct cb_seqs {
	struct cb_seq_range r[CB_SEQS_MAX];
	size_t n;
};

/*
 * Add a push answer's "seqs" (`seqs` may be NULL or anything): ranges
 * [lo, hi] of integers 1 to 2^53, in ascending order, each after what k
 * holds (one that follows the last is joined to it). Skipping less is
 * always safe (an event received again is one already held), so what
 * does not read as that, and what does not fit, is left out.
 */
void cb_seqs_note(struct cb_seqs *k, const cJSON *seqs);

#endif
