/*
 * id.c - random and derived identifiers (see id.h).
 */
#include "id.h"

#include <sodium.h>
#include <stdatomic.h>

#include "err.h"

static atomic_int sodium_ready;

/*
 * sodium_init() is itself thread-safe and idempotent; the flag only saves
 * taking libsodium's lock on every id.
 */
static int ensure_sodium(void)
{
	if (atomic_load_explicit(&sodium_ready, memory_order_acquire))
		return 0;
	if (sodium_init() < 0)
		return CB_EIO;
	atomic_store_explicit(&sodium_ready, 1, memory_order_release);
	return 0;
}

void cb_id_from_bytes(const unsigned char bytes[CB_ID_BYTES],
		      char out[CB_ID_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < CB_ID_BYTES; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 0xf];
	}
	out[CB_ID_HEX_LEN] = '\0';
}

int cb_id_random(char out[CB_ID_HEX_LEN + 1])
{
	unsigned char bytes[CB_ID_BYTES];

	out[0] = '\0';
	if (ensure_sodium())
		return CB_EIO;
	randombytes_buf(bytes, sizeof(bytes));
	cb_id_from_bytes(bytes, out);
	return 0;
}

int cb_id_valid(const char *s)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < CB_ID_HEX_LEN; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return s[CB_ID_HEX_LEN] == '\0';
}
