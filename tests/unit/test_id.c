/*
 * test_id.c - id.h: random ids are 32 lowercase hex characters, valid,
 * and distinct over many draws with every byte value appearing; derived
 * ids spell their bytes; validity refuses every other shape.
 */
#include "id.h"
#include "t.h"

#define DRAWS 20000

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, CB_ID_HEX_LEN + 1);
}

static void test_random_shape(void)
{
	char id[CB_ID_HEX_LEN + 1];
	int i;

	for (i = 0; i < 100; i++) {
		memset(id, 'X', sizeof(id));
		T_EQ_INT(cb_id_random(id), 0);
		T_EQ_INT(strlen(id), CB_ID_HEX_LEN);
		T_EQ_INT(strspn(id, "0123456789abcdef"), CB_ID_HEX_LEN);
		T_ASSERT(cb_id_valid(id));
	}
	T_EQ_INT(CB_ID_HEX_LEN, 32);
}

/* Distinct over many draws, and every hex digit seen at every position
 * (a fixed or biased nibble would show). */
static void test_random_unique(void)
{
	static char ids[DRAWS][CB_ID_HEX_LEN + 1];
	unsigned seen[CB_ID_HEX_LEN];
	int i, p;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < DRAWS; i++) {
		T_EQ_INT(cb_id_random(ids[i]), 0);
		for (p = 0; p < CB_ID_HEX_LEN; p++) {
			char c = ids[i][p];

			seen[p] |= 1u << (c <= '9' ? c - '0' : c - 'a' + 10);
		}
	}
	qsort(ids, DRAWS, sizeof(ids[0]), cmp_id);
	for (i = 1; i < DRAWS; i++)
		if (!strcmp(ids[i - 1], ids[i])) {
			T_FAIL_AT("id drawn twice: %s", ids[i]);
			return;
		}
	for (p = 0; p < CB_ID_HEX_LEN; p++)
		T_EQ_INT(seen[p], 0xffff);
}

static void test_from_bytes(void)
{
	unsigned char b[CB_ID_BYTES];
	char id[CB_ID_HEX_LEN + 1];
	int i;

	for (i = 0; i < CB_ID_BYTES; i++)
		b[i] = (unsigned char)(i * 17);
	b[15] = 0xff;
	cb_id_from_bytes(b, id);
	T_EQ_STR(id, "00112233445566778899aabbccddeeff");
	memset(b, 0, sizeof(b));
	cb_id_from_bytes(b, id);
	T_EQ_STR(id, "00000000000000000000000000000000");
	T_ASSERT(cb_id_valid(id));
}

/* Grouped ids: the group first, then randomness. */
static void test_grouped(void)
{
	static const unsigned char g[CB_ID_GROUP_BYTES] = {0xde, 0xad, 0xbe,
							   0xef};
	char a[CB_ID_HEX_LEN + 1], b[CB_ID_HEX_LEN + 1];

	T_EQ_INT(cb_id_grouped(g, a), 0);
	T_EQ_INT(cb_id_grouped(g, b), 0);
	T_EQ_INT(cb_id_valid(a), 1);
	T_ASSERT(!strncmp(a, "deadbeef", 8));
	T_ASSERT(!strncmp(b, "deadbeef", 8));
	T_ASSERT(strcmp(a, b) != 0);
}

static void test_valid(void)
{
	T_ASSERT(cb_id_valid("0123456789abcdef0123456789abcdef"));
	T_ASSERT(!cb_id_valid("0123456789ABCDEF0123456789abcdef"));
	T_ASSERT(!cb_id_valid("0123456789abcdef0123456789abcde"));
	T_ASSERT(!cb_id_valid("0123456789abcdef0123456789abcdef0"));
	T_ASSERT(!cb_id_valid("0123456789abcdef0123456789abcdeg"));
	T_ASSERT(!cb_id_valid("0123456789abcdef 123456789abcdef"));
	T_ASSERT(!cb_id_valid("0123456789abcdef0123456789abcde\n"));
	T_ASSERT(!cb_id_valid(""));
	T_ASSERT(!cb_id_valid(NULL));
}

int main(void)
{
	T_RUN(test_random_shape);
	T_RUN(test_random_unique);
	T_RUN(test_from_bytes);
	T_RUN(test_valid);
	T_RUN(test_grouped);
	return t_done();
}
