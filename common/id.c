/*
 * id.c - random and derived identifiers (see id.h).
 */
#include "id.h"

#include "crypto.h"
#include "err.h"

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

	/* libsodium's randombytes initialises itself and aborts rather
	 * than return weak bytes, so this cannot fail. */
	cb_random_bytes(bytes, sizeof(bytes));
	cb_id_from_bytes(bytes, out);
	return 0;
}

int cb_id_grouped(const unsigned char group[CB_ID_GROUP_BYTES],
		  char out[CB_ID_HEX_LEN + 1])
{
	unsigned char bytes[CB_ID_BYTES];

	memcpy(bytes, group, CB_ID_GROUP_BYTES);
	cb_random_bytes(bytes + CB_ID_GROUP_BYTES,
			sizeof(bytes) - CB_ID_GROUP_BYTES);
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
