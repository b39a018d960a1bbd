/*
 * test_err.c - err.h: cb_err_set records and returns its code;
 * cb_err_prefix keeps the code and puts its context first, and never
 * returns 0, so that `return cb_err_prefix(err, ...)` after a callee
 * that failed without setting a code is still a failure.
 */
#include "err.h"
#include "t.h"

static void test_set(void)
{
	struct cb_err err;

	cb_err_clear(&err);
	T_EQ_INT(cb_err_set(&err, CB_EIO, "disk %d", 2), CB_EIO);
	T_EQ_INT(err.code, CB_EIO);
	T_EQ_STR(err.msg, "disk 2");
	T_EQ_INT(cb_err_set(NULL, CB_ENOMEM, "no err"), CB_ENOMEM);
}

static void test_prefix_keeps_code(void)
{
	struct cb_err err;

	cb_err_clear(&err);
	cb_err_set(&err, CB_ENOTFOUND, "no form %s", "AE");
	T_EQ_INT(cb_err_prefix(&err, "visit %s: ", "LOG"), CB_ENOTFOUND);
	T_EQ_INT(err.code, CB_ENOTFOUND);
	T_EQ_STR(err.msg, "visit LOG: no form AE");
}

/* A callee that failed but left err as it was: the prefixed error is
 * still an error, in the result and in err itself. */
static void test_prefix_never_zero(void)
{
	struct cb_err err;

	cb_err_clear(&err);
	T_EQ_INT(cb_err_prefix(&err, "reading %s: ", "x"), CB_EINVAL);
	T_EQ_INT(err.code, CB_EINVAL);
	T_EQ_STR(err.msg, "reading x: ");
	T_EQ_INT(cb_err_prefix(NULL, "reading"), CB_EINVAL);
}

int main(void)
{
	T_RUN(test_set);
	T_RUN(test_prefix_keeps_code);
	T_RUN(test_prefix_never_zero);
	return t_done();
}
