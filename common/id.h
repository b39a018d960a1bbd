/*
 * id.h - random identifiers for events, subjects, devices and everything
 * else Casebook stores: 16 bytes from libsodium written as 32 lowercase
 * hex characters, all random except an event's first 4, which group a
 * device's events of one day under a key only the device holds
 * (cb_id_grouped, cb_event_stamp in event.h). Random ids need no
 * coordination, so offline laptops can create them without ever
 * colliding in practice.
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

/* Bytes at the start of an id that name its group (cb_id_grouped). */
#define CB_ID_GROUP_BYTES 4

/*
 * Write a new id whose first CB_ID_GROUP_BYTES bytes are `group` and
 * whose other 12 are random (96 bits keep ids of one group apart). Ids of
 * one group sort together, so an index of ids takes a group's new ids at
 * one place instead of at a random page each (event.h says how events
 * are grouped). Returns 0 (as cb_id_random).
 */
int cb_id_grouped(const unsigned char group[CB_ID_GROUP_BYTES],
		  char out[CB_ID_HEX_LEN + 1]);

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
