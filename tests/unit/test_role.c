/*
 * test_role.c - roles, site codes, user names and subject ids (role.h).
 */
#include "t.h"

#include "event.h"
#include "role.h"

static void test_roles(void)
{
	T_ASSERT(cb_role_is_site("coordinator"));
	T_ASSERT(cb_role_is_site("investigator"));
	T_ASSERT(!cb_role_is_site("datamanager"));
	T_ASSERT(cb_role_is_central("lab"));
	T_ASSERT(!cb_role_is_central("investigator"));
	T_ASSERT(cb_role_known("dsmb"));
	T_ASSERT(!cb_role_known("admin"));
	T_ASSERT(!cb_role_known(NULL));
	T_ASSERT(!cb_role_known(""));
	T_ASSERT(cb_role_unblinded("lab") && cb_role_unblinded("dsmb"));
	T_ASSERT(!cb_role_unblinded("statistician"));
	T_ASSERT(cb_role_reviews("monitor") && !cb_role_reviews("lab"));
}

static void test_may_record(void)
{
	T_ASSERT(cb_role_may_record("lab", CB_KIND_FORM_SAVE, 0));
	T_ASSERT(cb_role_may_record("coordinator", CB_KIND_RANDOMIZE, 0));
	T_ASSERT(!cb_role_may_record("datamanager", CB_KIND_RANDOMIZE, 0));
	T_ASSERT(cb_role_may_record("investigator", CB_KIND_SIGN, 0));
	T_ASSERT(!cb_role_may_record("coordinator", CB_KIND_SIGN, 0));
	T_ASSERT(!cb_role_may_record("coordinator", CB_KIND_UNBLIND, 0));
	T_ASSERT(cb_role_may_record("coordinator", CB_KIND_QUERY_OPEN, 1));
	T_ASSERT(!cb_role_may_record("coordinator", CB_KIND_QUERY_OPEN, 0));
	T_ASSERT(cb_role_may_record("monitor", CB_KIND_QUERY_OPEN, 0));
	T_ASSERT(cb_role_may_record("coordinator", CB_KIND_QUERY_ANSWER, 0));
	T_ASSERT(!cb_role_may_record("coordinator", CB_KIND_QUERY_CLOSE, 0));
	T_ASSERT(cb_role_may_record("datamanager", CB_KIND_QUERY_CLOSE, 0));
	T_ASSERT(cb_role_may_record("coordinator", CB_KIND_SUBJECT_STATUS, 0));
	T_ASSERT(!cb_role_may_record("datamanager", CB_KIND_SUBJECT_STATUS, 0));
	T_ASSERT(!cb_role_may_record("statistician", "query.answer", 0));
	T_ASSERT(!cb_role_may_record("investigator", "bogus.kind", 0));
}

static void test_names(void)
{
	T_ASSERT(cb_site_valid("KR01") && cb_site_valid("AB"));
	T_ASSERT(cb_site_valid("ABCDEFGH"));
	T_ASSERT(!cb_site_valid("ABCDEFGHI"));
	T_ASSERT(!cb_site_valid("1KR") && !cb_site_valid("kr01"));
	T_ASSERT(!cb_site_valid("K") && !cb_site_valid(NULL));
	T_ASSERT(cb_user_valid("dr.kim@site-1_x"));
	T_ASSERT(!cb_user_valid("dr kim") && !cb_user_valid(""));
}

static void test_subject_ids(void)
{
	char id[CB_SUBJECT_ID_MAX + 1], site[CB_SITE_MAX + 1];
	struct cb_err err;
	long d = 0, s = 0;

	T_EQ_INT(cb_subject_id_make("KR01", 1, 7, id, &err), 0);
	T_EQ_STR(id, "KR01-01007");
	T_EQ_INT(cb_subject_id_make("ABCDEFGH", 99, 999, id, &err), 0);
	T_EQ_STR(id, "ABCDEFGH-99999");
	T_EQ_INT(strlen(id), CB_SUBJECT_ID_MAX);
	T_EQ_INT(cb_subject_id_make("KR01", 100, 1, id, &err), CB_EINVAL);
	T_EQ_INT(cb_subject_id_make("KR01", 1, 1000, id, &err), CB_EINVAL);
	T_EQ_INT(cb_subject_id_make("kr01", 1, 1, id, &err), CB_EINVAL);

	T_EQ_INT(cb_subject_id_parse("DE02-12345", site, &d, &s, &err), 0);
	T_EQ_STR(site, "DE02");
	T_EQ_INT(d, 12);
	T_EQ_INT(s, 345);
	T_EQ_INT(cb_subject_id_parse("zzz", site, &d, &s, &err), CB_EINVAL);
	T_ASSERT(strstr(err.msg, "SITE-DDNNN") != NULL);
	T_EQ_INT(cb_subject_id_parse("KR01-0100", NULL, NULL, NULL, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_subject_id_parse("KR01-010070", NULL, NULL, NULL, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_subject_id_parse("KR01-00007", NULL, NULL, NULL, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_subject_id_parse("KR01-01000", NULL, NULL, NULL, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_subject_id_parse("kr01-01007", NULL, NULL, NULL, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_subject_id_parse("KR01-0a007", NULL, NULL, NULL, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_subject_id_parse("-01007", NULL, NULL, NULL, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_subject_id_parse("ABCDEFGHI-01007", NULL, NULL, NULL, &err),
		 CB_EINVAL);
}

int main(void)
{
	T_RUN(test_roles);
	T_RUN(test_may_record);
	T_RUN(test_names);
	T_RUN(test_subject_ids);
	return t_done();
}
