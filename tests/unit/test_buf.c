/*
 * test_buf.c - the capped buffer and array growth (buf.h).
 */
#include "t.h"

#include "buf.h"

static void test_add_and_cap(void)
{
	struct cb_buf b;
	struct cb_err err;
	char *p;
	size_t len = 0;
	int i;

	cb_buf_init(&b, 10);
	T_EQ_STR(cb_buf_str(&b), "");
	T_EQ_INT(cb_buf_addstr(&b, "hello", &err), 0);
	T_EQ_INT(cb_buf_addc(&b, ' ', &err), 0);
	T_EQ_INT(cb_buf_printf(&b, &err, "%d", 42), 0);
	T_EQ_STR(cb_buf_str(&b), "hello 42");
	T_EQ_INT(cb_buf_len(&b), 8);
	/* Two more fit, the third passes the cap and changes nothing. */
	T_EQ_INT(cb_buf_add(&b, "ab", 2, &err), 0);
	T_EQ_INT(cb_buf_addc(&b, 'c', &err), CB_ETOOBIG);
	T_ASSERT(strstr(err.msg, "cap of 10") != NULL);
	T_EQ_INT(cb_buf_printf(&b, &err, "%s", "x"), CB_ETOOBIG);
	T_EQ_STR(cb_buf_str(&b), "hello 42ab");
	cb_buf_reset(&b);
	T_EQ_STR(cb_buf_str(&b), "");
	for (i = 0; i < 10; i++)
		T_EQ_INT(cb_buf_addc(&b, (char)('0' + i), &err), 0);
	p = cb_buf_take(&b, &len);
	T_EQ_STR(p, "0123456789");
	T_EQ_INT(len, 10);
	free(p);
	T_EQ_INT(cb_buf_len(&b), 0);
	p = cb_buf_take(&b, &len);
	T_EQ_STR(p, "");
	free(p);
	cb_buf_free(&b);
}

static void test_big(void)
{
	struct cb_buf b;
	size_t i;

	cb_buf_init(&b, 1u << 20);
	for (i = 0; i < (1u << 20) / 8; i++)
		T_EQ_INT(cb_buf_add(&b, "01234567", 8, NULL), 0);
	T_EQ_INT(cb_buf_len(&b), 1u << 20);
	T_EQ_INT(cb_buf_addc(&b, 'x', NULL), CB_ETOOBIG);
	T_EQ_INT(memcmp(cb_buf_str(&b) + (1u << 20) - 8, "01234567", 8), 0);
	cb_buf_free(&b);
}

static void test_array(void)
{
	int *a = NULL;
	size_t cap = 0, i;
	struct cb_err err;

	for (i = 0; i < 1000; i++) {
		T_EQ_INT(cb_array_grow((void **)&a, &cap, i + 1, sizeof(*a),
				       1000, "numbers", &err),
			 0);
		a[i] = (int)i;
	}
	T_ASSERT(cap >= 1000 && cap <= 1000);
	T_EQ_INT(a[999], 999);
	T_EQ_INT(cb_array_grow((void **)&a, &cap, 1001, sizeof(*a), 1000,
			       "numbers", &err),
		 CB_ETOOBIG);
	T_ASSERT(strstr(err.msg, "numbers: more than 1000") != NULL);
	free(a);
}

int main(void)
{
	T_RUN(test_add_and_cap);
	T_RUN(test_big);
	T_RUN(test_array);
	return t_done();
}
