/*
 * id.h - random identifiers for events, subjects, devices and everything
 * else Casebook stores: 16 random bytes from libsodium written as 32
 * lowercase hex characters. Random ids need no coordination, so offline
 * laptops can create them without ever colliding in practice.
 */
#ifndef CB_ID_H
#define CB_ID_H

#include <stddef.h>

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
