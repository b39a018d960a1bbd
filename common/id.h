/*
 * id.h - random identifiers for events, subjects, devices and everything
 * else Casebook stores: 16 random bytes from libsodium written as 32
 * lowercase hex characters (an event's: its time, then 10 random bytes). Random
 * ids need no coordination, so offline laptops can create them without ever
 * colliding in practice.
 */
#ifndef CB_ID_H
#define CB_ID_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of randomness in an id. */
#define CB_ID_BYTES 16
/* Characters of an id's text, without the NUL (buffers are this + 1). */
#define CB_ID_HEX_LEN (2 * CB_ID_BYTES)

/*
 * Write a new random id and its NUL into `out`. Initialises libsodium on
 * first use (safe from any thread, any number of times). Returns 0, or
 * CB_EIO when libsodium cannot initialise (no usable randomness); `out`
 * is then the empty string.
 */
int cb_id_random(char out[CB_ID_HEX_LEN + 1]);

/*
 * Write a new id whose first 6 bytes are `ms` (a time in milliseconds,
 * its low 48 bits, most significant first) and whose other 10 are
 * random. Ids made later sort after those made earlier, so an index of
 * them (the central store's events by id, a laptop's) takes new ids at
 * one place instead of at a random page each: a push of 500 events
 * dirties a few index pages rather than 500, whatever the store holds
 * (docs/PERFORMANCE.md). 80 random bits keep ids made in the same
 * millisecond apart. The time is the event's own (its clock is in the
 * event anyway). Returns 0 (as cb_id_random).
 */
int cb_id_timed(uint64_t ms, char out[CB_ID_HEX_LEN + 1]);

/*
 * Write `bytes` as an id's text, for ids derived rather than drawn (for
 * example a hash of other ids, so every replica derives the same id).
 */
void cb_id_from_bytes(const unsigned char bytes[CB_ID_BYTES],
		      char out[CB_ID_HEX_LEN + 1]);

/*
 * True when `s` is exactly CB_ID_HEX_LEN characters of 0-9a-f followed by
 * its NUL. NULL, uppercase hex and any other length are false.
 */
int cb_id_valid(const char *s);

#endif
