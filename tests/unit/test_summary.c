/*
 * test_summary.c - a subject's summary and lifecycle (summary.h) on the
 * shipped study, from events built here by hand.
 */
#include "t.h"

#include "event.h"
#include "merge.h"
#include "summary.h"

static struct cb_protocol *knee;
static struct cb_merge *m;
static unsigned long long clock_ms = 1764000000000ULL;

static struct cb_protocol *load_knee(void)
{
	const char *top = getenv("CASEBOOK_TOP");
	char path[1024];
	struct cb_err err;

	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json",
		 top ? top : ".");
	if (cb_protocol_load_file(path, &knee, NULL, &err)) {
		printf("# knee: %s\n", err.msg);
		return NULL;
	}
	return knee;
}

/* Add one event of `kind` about S at VISIT FORM with ITEM=VALUE pairs
 * (NULL-terminated), a reason and data pairs as given. */
static int add(const char *kind, const char *visit, const char *form,
	       const char *const *changes, const char *const *data)
{
	struct cb_event ev;
	struct cb_err err;
	size_t i;
	int rc;

	cb_event_init(&ev);
	clock_ms += 60000;
	snprintf(ev.id, sizeof(ev.id), "%032llx", clock_ms);
	snprintf(ev.hlc, sizeof(ev.hlc), "%012llx0000", clock_ms);
	memcpy(ev.wall, "2026-01-10T10:00:00.000Z", CB_EVENT_TIME_LEN + 1);
	rc = cb_event_set_origin(&ev, "dev1", "KR01", "ann", &err);
	if (!rc)
		rc = cb_event_set_target(&ev, "KR01-01001", kind, visit, form,
					 "", &err);
	if (!rc)
		rc = cb_event_set_reason(
		    &ev, !strcmp(kind, CB_KIND_UNBLIND) ? "anaphylaxis" : "",
		    &err);
	for (i = 0; !rc && changes && changes[i]; i += 2)
		rc = cb_event_add_change(&ev, changes[i], changes[i + 1], NULL,
					 0, &err);
	for (i = 0; !rc && data && data[i]; i += 2)
		rc = cb_event_set_data(&ev, data[i], data[i + 1], &err);
	if (!rc)
		rc = cb_merge_add(m, &ev, NULL, &err);
	if (rc)
		printf("# add %s: %s\n", kind, err.msg);
	cb_event_release(&ev);
	return rc;
}

static int state_is(enum cb_lifecycle want, const char *date)
{
	struct cb_summary s;
	struct cb_err err;
	int ok;

	cb_summary_init(&s);
	if (cb_summary_compute(knee, m, "KR01-01001", &s, &err)) {
		printf("# summary: %s\n", err.msg);
		return 0;
	}
	ok = s.state == want && !strcmp(s.state_date, date);
	if (!ok)
		printf("# state %s %s\n", cb_lifecycle_name(s.state),
		       s.state_date);
	cb_summary_release(&s);
	return ok;
}

static void test_lifecycle(void)
{
	static const char *const created[] = {"status", "screening", NULL};
	static const char *const dm[] = {
	    "CONSDT", "2026-01-05", "BRTHYR", "1960", "SEX", "F", NULL};
	static const char *const elig[] = {
	    "AGE",     "65", "KLGRADE",	 "2", "PAIN3M", "Y", "BMI", "28",
	    "IAINJ3M", "N",  "INFLARTH", "N", "PREG",	"N", NULL};
	static const char *const rand[] = {
	    "RANDNO",  "R-0007",	   "KITNO", "123456",
	    "RANDDTC", "2026-01-20T09:30", NULL};
	static const char *const dose[] = {"EXDTC", "2026-02-10T10:00", "KITNO",
					   "123456", NULL};
	static const char *const eos[] = {"EOSSTAT", "LOST", "EOSDT",
					  "2026-05-01", NULL};
	static const char *const unbl[] = {"slot", "R-0007", NULL};
	struct cb_summary s, back;
	struct cb_err err;
	cJSON *j = NULL;

	T_ASSERT(load_knee() != NULL);
	T_EQ_INT(cb_merge_new(&m, &err), 0);
	T_EQ_INT(add(CB_KIND_SUBJECT_STATUS, "", "", NULL, created), 0);
	T_ASSERT(state_is(CB_LC_SCREENING, "2026-01-10"));
	T_EQ_INT(add(CB_KIND_FORM_SAVE, "SCR", "DM", dm, NULL), 0);
	T_ASSERT(state_is(CB_LC_SCREENING, "2026-01-05"));
	T_EQ_INT(add(CB_KIND_FORM_SAVE, "SCR", "ELIG", elig, NULL), 0);
	T_ASSERT(state_is(CB_LC_SCREENING, "2026-01-05"));
	T_EQ_INT(add(CB_KIND_RANDOMIZE, "BL", "RAND", rand, unbl), 0);
	T_ASSERT(state_is(CB_LC_RANDOMIZED, "2026-01-20"));
	T_EQ_INT(add(CB_KIND_FORM_SAVE, "INJ", "DOSE", dose, NULL), 0);
	T_ASSERT(state_is(CB_LC_DOSED, "2026-02-10"));
	T_EQ_INT(add(CB_KIND_UNBLIND, "", "", NULL, unbl), 0);
	T_EQ_INT(add(CB_KIND_FORM_SAVE, "LOG", "EOS", eos, NULL), 0);
	T_ASSERT(state_is(CB_LC_LOST, "2026-05-01"));

	cb_summary_init(&s);
	cb_summary_init(&back);
	T_EQ_INT(cb_summary_compute(knee, m, "KR01-01001", &s, &err), 0);
	T_ASSERT(cb_lifecycle_off_study(s.state));
	T_EQ_STR(s.site, "KR01");
	T_EQ_STR(s.randno, "R-0007");
	T_EQ_STR(s.kit, "123456");
	T_EQ_STR(s.consent, "2026-01-05");
	T_EQ_INT(s.elig, CB_ELIG_YES);
	T_EQ_INT(s.nunblind, 1);
	T_EQ_STR(s.unblind.user, "ann");
	T_EQ_STR(s.unblind.reason, "anaphylaxis");
	T_EQ_STR(s.visits, "SCR,BL,INJ");
	T_ASSERT(cb_summary_visit_done(&s, "BL"));
	T_ASSERT(!cb_summary_visit_done(&s, "B"));
	T_ASSERT(!cb_summary_visit_done(&s, "M1"));
	T_EQ_INT(s.nevents, 7);
	/* The stored form reads back the same. */
	T_EQ_INT(cb_summary_to_json(&s, &j, &err), 0);
	T_EQ_INT(cb_summary_from_json(j, &back, &err), 0);
	T_EQ_INT(back.state, CB_LC_LOST);
	T_EQ_STR(back.state_date, "2026-05-01");
	T_EQ_STR(back.unblind.reason, "anaphylaxis");
	T_EQ_INT(back.elig, CB_ELIG_YES);
	T_EQ_STR(back.visits, s.visits);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"subject\":\"x\"}");
	T_EQ_INT(cb_summary_from_json(j, &back, &err), CB_EINVAL);
	cJSON_Delete(j);
	cb_summary_release(&s);
	cb_summary_release(&back);
	cb_merge_free(m);
	m = NULL;
}

static void test_screen_failure(void)
{
	static const char *const created[] = {"status", "screening", NULL};
	static const char *const elig[] = {
	    "AGE",     "30", "KLGRADE",	 "2", "PAIN3M", "Y", "BMI", "28",
	    "IAINJ3M", "N",  "INFLARTH", "N", "PREG",	"N", NULL};
	static const char *const eos[] = {"EOSSTAT", "WITHDREW", "EOSDT",
					  "2026-03-01", NULL};
	struct cb_err err;

	T_EQ_INT(cb_merge_new(&m, &err), 0);
	T_EQ_INT(add(CB_KIND_SUBJECT_STATUS, "", "", NULL, created), 0);
	T_EQ_INT(add(CB_KIND_FORM_SAVE, "SCR", "ELIG", elig, NULL), 0);
	T_ASSERT(state_is(CB_LC_SCREEN_FAILURE, "2026-01-10"));
	/* An end of study for a screen failure: still a screen failure. */
	T_EQ_INT(add(CB_KIND_FORM_SAVE, "LOG", "EOS", eos, NULL), 0);
	T_ASSERT(state_is(CB_LC_SCREEN_FAILURE, "2026-01-10"));
	T_ASSERT(cb_lifecycle_off_study(CB_LC_SCREEN_FAILURE));
	T_ASSERT(!cb_lifecycle_off_study(CB_LC_DOSED));
	cb_merge_free(m);
	m = NULL;
}

static void test_unknown(void)
{
	struct cb_summary s;
	struct cb_err err;

	T_EQ_INT(cb_merge_new(&m, &err), 0);
	cb_summary_init(&s);
	T_EQ_INT(cb_summary_compute(knee, m, "KR01-09999", &s, &err),
		 CB_ENOTFOUND);
	cb_merge_free(m);
	m = NULL;
}

int main(void)
{
	T_RUN(test_lifecycle);
	T_RUN(test_screen_failure);
	T_RUN(test_unknown);
	cb_protocol_free(knee);
	return t_done();
}
