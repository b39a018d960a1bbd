/*
 * test_safety.c - the safety report engine (safety.h) on the shipped
 * study, fed subjects written here: the closed report by arm from a
 * subject -> arm map made in the test, treatment-emergence and study
 * day (studyday.h), counting each subject once at its worst grade,
 * conflicts, and escaping in every format.
 */
#include "t.h"

#include <cJSON.h>

#include "check.h"
#include "memfeed.h"
#include "safety.h"
#include "safety_int.h"
#include "studyday.h"

static struct cb_protocol *knee;

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

/* An AE: instance, term, onset, grade, severity, serious, relation. */
static void ae(struct mf_subject *s, const char *inst, const char *term,
	       const char *onset, const char *grade, const char *sev,
	       const char *ser, const char *rel)
{
	mf_item(s, "LOG", "AE", inst, "AETERM", term);
	mf_item(s, "LOG", "AE", inst, "AESTDTC", onset);
	mf_item(s, "LOG", "AE", inst, "AETOXGR", grade);
	mf_item(s, "LOG", "AE", inst, "AESEV", sev);
	mf_item(s, "LOG", "AE", inst, "AESER", ser);
	mf_item(s, "LOG", "AE", inst, "AEREL", rel);
	mf_item(s, "LOG", "AE", inst, "AEACN", "NONE");
}

static void dosed(struct mf_subject *s, const char *date)
{
	s->sum.dosed = (char *)date;
	s->sum.randno = (char *)"R1";
	s->sum.randomized = (char *)"2026-01-15";
	mf_item(s, "INJ", "DOSE", "", "EXDTC", date);
}

static const struct sr_cell *cell(const struct cb_safety *r, const char *tid,
				  const char *row, const char *col)
{
	const struct sr_table *t = cb_sr_table(r, tid);
	size_t i, k;

	for (i = 0; t && i < t->nrows; i++) {
		const struct sr_cell *c = &t->cells[i * t->ncols];

		if (c[0].kind != SR_TEXT || strcmp(c[0].text, row))
			continue;
		for (k = 0; k < t->ncols; k++)
			if (!strcmp(t->cols[k].id, col))
				return &c[k];
	}
	return NULL;
}

#define T_COUNT(r, tid, row, col, n_, d_)                                      \
	do {                                                                   \
		const struct sr_cell *c_ = cell(r, tid, row, col);             \
		T_ASSERT(c_);                                                  \
		T_EQ_INT(c_->n, n_);                                           \
		T_EQ_INT(c_->d, d_);                                           \
	} while (0)

static char *render(const struct cb_safety *r, enum cb_safety_format f)
{
	struct cb_buf b;
	struct cb_out o;
	struct cb_err err;
	char *s = NULL;

	cb_buf_init(&b, 1u << 24);
	cb_out_init_buf(&o, &b);
	if (!cb_safety_write(r, f, &o, &err))
		s = cb_buf_take(&b, NULL);
	cb_out_release(&o);
	cb_buf_free(&b);
	return s;
}

/* The study the cases share: three dosed subjects, one not. */
static void study(struct memfeed *f)
{
	static const char *const heads[] = {"2", "3"};
	struct mf_subject *s;

	memset(f, 0, sizeof(*f));
	/* MSC: grades 1 and 3: counted once, at grade 3. */
	s = mf_add(f, "KR01-01001", "KR01", CB_LC_DOSED);
	dosed(s, "2026-02-10T10:00");
	ae(s, "1", "Headache", "2026-02-12", "1", "MILD", "N", "POSSIBLE");
	ae(s, "2", "Cellulitis", "2026-02-20", "3", "SEV", "Y", "NOT");
	mf_item(s, "LOG", "AE", "2", "AESHOSP", "Y");
	/* PBO: an AE before the dose (not treatment-emergent), one with a
	 * partial onset in the dose's month (treatment-emergent, no study
	 * day) and a conflicted grade. */
	s = mf_add(f, "KR01-01002", "KR01", CB_LC_DOSED);
	dosed(s, "2026-02-10T09:00");
	ae(s, "1", "Knee pain", "2026-02-01", "2", "MOD", "N", "NOT");
	ae(s, "2", "headache ", "2026-02", "1", "MILD", "N", "NOT");
	mf_item(s, "LOG", "AE", "3", "AETERM", "Rash");
	mf_item(s, "LOG", "AE", "3", "AESTDTC", "2026-03-01");
	mf_item(s, "LOG", "AE", "3", "AESEV", "MOD");
	mf_item(s, "LOG", "AE", "3", "AESER", "N");
	mf_conflict(s, "LOG", "AE", "3", "AETOXGR", heads);
	/* PBO, dosed, no AE. */
	s = mf_add(f, "KR02-01001", "KR02", CB_LC_DOSED);
	dosed(s, "2026-03-01T10:00");
	/* Screened only: no arm, no column. */
	s = mf_add(f, "KR02-01002", "KR02", CB_LC_SCREENING);
	ae(s, "1", "Nausea", "2026-02-01", "1", "MILD", "N", "NOT");
}

static int arms_of(struct cb_arms *a, struct cb_err *err)
{
	int rc = cb_arms_add(a, "KR01-01001", "MSC", err);

	if (!rc)
		rc = cb_arms_add(a, "KR01-01002", "PBO", err);
	if (!rc)
		rc = cb_arms_add(a, "KR02-01001", "PBO", err);
	return rc;
}

static void test_closed_by_arm(void)
{
	struct memfeed f;
	struct cb_feed feed;
	struct cb_arms *arms;
	struct cb_safety_opts o = {NULL, NULL, "2026-04-01T00:00:00.000Z", NULL,
				   "test"};
	struct cb_safety *r = NULL;
	struct cb_err err;
	const struct sr_table *t;
	char *text, *html;

	T_ASSERT(knee);
	study(&f);
	feed = mf_feed(&f);
	T_EQ_INT(cb_arms_new(&arms, &err), 0);
	T_EQ_INT(arms_of(arms, &err), 0);
	o.arms = arms;
	T_EQ_INT(cb_safety_compute(knee, &feed, &o, &r, &err), 0);
	T_EQ_INT(f.asked.unblinded, 0);
	/* The feed is told the two forms the report reads, in order. */
	T_ASSERT(f.asked.forms);
	T_EQ_STR(f.asked.forms[0], "INJ");
	T_EQ_STR(f.asked.forms[1], "DOSE");
	T_EQ_STR(f.asked.forms[2], "LOG");
	T_EQ_STR(f.asked.forms[3], "AE");
	T_ASSERT(!f.asked.forms[4]);
	T_EQ_INT(r->ngroups, 3);
	T_EQ_STR(r->groups[0].id, "MSC");
	T_EQ_STR(r->groups[1].id, "PBO");
	T_EQ_INT(r->groups[0].N, 1);
	T_EQ_INT(r->groups[1].N, 2);
	T_EQ_INT(r->groups[2].N, 3);
	T_COUNT(r, "teae_overview", "Any TEAE", "MSC", 1, 1);
	T_COUNT(r, "teae_overview", "Any TEAE", "PBO", 1, 2);
	T_COUNT(r, "teae_overview", "Any TEAE", "total", 2, 3);
	T_COUNT(r, "teae_overview", "Any serious TEAE", "MSC", 1, 1);
	T_COUNT(r, "teae_overview", "Any related TEAE", "total", 1, 3);
	/* Worst grade: the MSC subject once, at 3 (not also at 1); the
	 * PBO subject's TEAEs are grade 1 and a conflict: grade 1. */
	T_COUNT(r, "teae_grade", "Grade 3", "MSC", 1, 1);
	T_COUNT(r, "teae_grade", "Grade 1", "MSC", 0, 1);
	T_COUNT(r, "teae_grade", "Grade 1", "PBO", 1, 2);
	T_COUNT(r, "teae_grade", "Grade 2", "PBO", 0, 2);
	T_COUNT(r, "teae_serious",
		"Serious: requires or prolongs hospitalization", "MSC", 1, 1);
	/* By term: case and spaces ignored. */
	T_COUNT(r, "teae_term", "HEADACHE", "total", 2, 3);
	T_ASSERT(!cell(r, "teae_term", "KNEE PAIN", "total")); /* pre-dose */
	t = cb_sr_table(r, "enrollment_arm");
	T_ASSERT(t && t->nrows == 3);
	t = cb_sr_table(r, "ae_listing");
	T_ASSERT(t);
	T_EQ_INT(t->nrows, 6);
	T_EQ_STR(t->cols[2].id, "arm");
	/* KR01-01002: AE 1 before the dose, AE 2 partial, AE 3 conflicted */
	T_EQ_STR(t->cells[2 * t->ncols + 2].text, "PBO");
	T_EQ_STR(t->cells[2 * t->ncols + 14].text, "N"); /* TE */
	T_EQ_STR(t->cells[2 * t->ncols + 6].text, "-9");
	T_EQ_STR(t->cells[3 * t->ncols + 14].text, "Y");
	T_EQ_INT(t->cells[3 * t->ncols + 6].kind, SR_EMPTY);
	T_EQ_STR(t->cells[4 * t->ncols + 8].text, "(conflict)");
	/* The screened subject's AE is listed, never counted. */
	T_EQ_STR(t->cells[5 * t->ncols + 2].text, "?");
	T_EQ_STR(t->cells[5 * t->ncols + 14].text, "N");

	text = render(r, CB_SAFETY_TEXT);
	T_ASSERT(text);
	T_CONTAINS(text, "CLOSED (by arm)");
	T_CONTAINS(text, "UNBLINDED");
	T_CONTAINS(text, "MSC (N=1)");
	html = render(r, CB_SAFETY_HTML);
	T_ASSERT(html);
	T_CONTAINS(html, "by arm</figcaption>");
	T_CONTAINS(html, "UNBLINDED");
	free(text);
	free(html);
	cb_safety_free(r);
	cb_arms_free(arms);
}

static void test_open_has_no_arm(void)
{
	struct memfeed f;
	struct cb_feed feed;
	struct cb_safety_opts o = {NULL, NULL, "2026-04-01T00:00:00.000Z", NULL,
				   "test"};
	struct cb_safety *r = NULL;
	struct cb_err err;
	char *s;
	int i;

	T_ASSERT(knee);
	study(&f);
	feed = mf_feed(&f);
	T_EQ_INT(cb_safety_compute(knee, &feed, &o, &r, &err), 0);
	T_EQ_STR(r->groups[0].id, "KR01");
	T_COUNT(r, "teae_overview", "Any TEAE", "KR01", 2, 2);
	T_COUNT(r, "teae_overview", "Any TEAE", "KR02", 0, 1);
	T_ASSERT(!cb_sr_table(r, "enrollment_arm"));
	for (i = CB_SAFETY_TEXT; i <= CB_SAFETY_HTML; i++) {
		s = render(r, (enum cb_safety_format)i);
		T_ASSERT(s);
		if (strstr(s, "MSC") || strstr(s, "PBO") ||
		    strstr(s, "\"arm\""))
			T_FAIL_AT("format %d shows an arm", i);
		free(s);
	}
	cb_safety_free(r);
}

static void test_arms_map(void)
{
	struct memfeed f;
	struct cb_feed feed;
	struct cb_arms *a;
	struct cb_safety_opts o = {NULL, NULL, "2026-04-01T00:00:00.000Z", NULL,
				   "test"};
	struct cb_safety *r = NULL;
	struct cb_err err;

	T_ASSERT(knee);
	T_EQ_INT(cb_arms_new(&a, &err), 0);
	T_EQ_INT(cb_arms_add(a, "KR01-01001", "MSC", &err), 0);
	T_EQ_INT(cb_arms_add(a, "KR01-01001", "MSC", &err), 0);
	T_EQ_INT(cb_arms_add(a, "KR01-01001", "PBO", &err), CB_ECONFLICT);
	T_EQ_STR(cb_arms_get(a, "KR01-01001"), "MSC");
	T_ASSERT(!cb_arms_get(a, "KR01-01002"));
	/* A dosed subject missing from the map has a column of its own. */
	study(&f);
	feed = mf_feed(&f);
	o.arms = a;
	T_EQ_INT(cb_safety_compute(knee, &feed, &o, &r, &err), 0);
	T_EQ_INT(r->ngroups, 4);
	T_EQ_STR(r->groups[2].id, "unknown");
	T_EQ_INT(r->groups[2].N, 2);
	cb_safety_free(r);
	/* An arm the protocol does not have is refused. */
	T_EQ_INT(cb_arms_add(a, "KR01-01002", "XYZ", &err), 0);
	T_EQ_INT(cb_safety_compute(knee, &feed, &o, &r, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "KR01-01002");
	T_ASSERT(r == NULL);
	cb_arms_free(a);
}

static void test_cutoff_and_site(void)
{
	struct memfeed f;
	struct cb_feed feed;
	struct cb_safety_opts o = {NULL, "2025-01-01T00:00:00.000Z",
				   "2025-01-01T00:00:00.000Z", NULL, "test"};
	struct cb_safety *r = NULL;
	struct cb_err err;

	T_ASSERT(knee);
	study(&f);
	feed = mf_feed(&f);
	T_EQ_INT(cb_safety_compute(knee, &feed, &o, &r, &err), CB_ENOTFOUND);
	T_CONTAINS(err.msg, "before the first event");
	T_EQ_STR(f.asked.cutoff, "2025-01-01T00:00:00.000Z");
	o.cutoff = "2026-06-01T00:00:00.000Z";
	o.site = "KR02";
	T_EQ_INT(cb_safety_compute(knee, &feed, &o, &r, &err), 0);
	T_EQ_INT(r->nsubjects, 2);
	T_EQ_INT(r->ngroups, 2);
	cb_safety_free(r);
}

/* Hostile values stay data in every format. */
static void test_escaping(void)
{
	static const char hostile[] =
	    "<script>alert(\"x\")</script>, ]]> & 'q'\xe2\x80\xae";
	struct memfeed f;
	struct cb_feed feed;
	struct cb_safety_opts o = {NULL, NULL, "2026-04-01T00:00:00.000Z", NULL,
				   "test"};
	struct cb_safety *r = NULL;
	struct mf_subject *s;
	struct cb_err err;
	char *html, *json, *csv, *text;
	cJSON *j, *t, *row;
	int found = 0;

	T_ASSERT(knee);
	memset(&f, 0, sizeof(f));
	s = mf_add(&f, "KR01-01001", "KR01", CB_LC_DOSED);
	dosed(s, "2026-02-10");
	ae(s, "1", hostile, "2026-02-12", "1", "MILD", "N", "NOT");
	feed = mf_feed(&f);
	T_EQ_INT(cb_safety_compute(knee, &feed, &o, &r, &err), 0);
	html = render(r, CB_SAFETY_HTML);
	json = render(r, CB_SAFETY_JSON);
	csv = render(r, CB_SAFETY_CSV);
	text = render(r, CB_SAFETY_TEXT);
	T_ASSERT(html && json && csv && text);
	T_ASSERT(!strstr(html, "<script"));
	T_CONTAINS(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;, "
			 "]]&gt; &amp; &#39;q&#39;\\u{202E}");
	T_ASSERT(!strstr(text, "\xe2\x80\xae"));
	T_CONTAINS(text, "\\u{202E}");
	T_CONTAINS(csv, "\"<script>alert(\"\"x\"\")</script>, ]]> & "
			"'q'\\u{202E}\"");
	j = cJSON_Parse(json);
	T_ASSERT(j);
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(j, "tables"))
	{
		if (strcmp(cJSON_GetObjectItem(t, "id")->valuestring,
			   "ae_listing"))
			continue;
		cJSON_ArrayForEach(row, cJSON_GetObjectItem(t, "rows"))
		{
			const char *term =
			    cJSON_GetArrayItem(row, 3)->valuestring;

			found = term && !strcmp(term, "<script>alert(\"x\")"
						      "</script>, ]]> & "
						      "'q'\\u{202E}");
		}
	}
	cJSON_Delete(j);
	T_ASSERT(found);
	free(html);
	free(json);
	free(csv);
	free(text);
	cb_safety_free(r);
}

/* Many sites: the text splits its tables into panels of 80 columns. */
static void test_text_fits_80(void)
{
	static const char *const sites[] = {"KR01", "KR02", "KR03", "KR04",
					    "KR05", "KR06", "KR07"};
	static char ids[7][16];
	struct memfeed f;
	struct cb_feed feed;
	struct cb_safety_opts o = {NULL, NULL, "2026-04-01T00:00:00.000Z", NULL,
				   "test"};
	struct cb_safety *r = NULL;
	struct cb_err err;
	char *text, *line, *save = NULL;
	size_t i, w;

	T_ASSERT(knee);
	memset(&f, 0, sizeof(f));
	for (i = 0; i < 7; i++) {
		struct mf_subject *s;

		snprintf(ids[i], sizeof(ids[i]), "%s-01001", sites[i]);
		s = mf_add(&f, ids[i], sites[i], CB_LC_DOSED);
		dosed(s, "2026-02-10");
		ae(s, "1",
		   i % 2 ? "A very long verbatim adverse event term that goes "
			   "on and on"
			 : "\xeb\xac\xb4\xeb\xa6\x8e \xeb\xb6\x80\xec\xa2"
			   "\x85 \xeb\xac\xb4\xeb\xa6\x8e \xeb\xb6\x80\xec"
			   "\xa2\x85 \xeb\xac\xb4\xeb\xa6\x8e \xeb\xb6\x80"
			   "\xec\xa2\x85 \xeb\xac\xb4\xeb\xa6\x8e",
		   "2026-02-12", "2", "MOD", "N", "NOT");
	}
	feed = mf_feed(&f);
	T_EQ_INT(cb_safety_compute(knee, &feed, &o, &r, &err), 0);
	text = render(r, CB_SAFETY_TEXT);
	T_ASSERT(text);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *p;

		/* columns: two for each Hangul syllable (3 bytes, 0xEA..) */
		for (p = line, w = 0; *p; p++)
			w += ((unsigned char)*p & 0xc0) != 0x80
				 ? ((unsigned char)*p >= 0xea &&
				    (unsigned char)*p <= 0xed)
				       ? 2
				       : 1
				 : 0;
		if (w > 80) {
			T_FAIL_AT("line of %zu columns: %s", w, line);
			break;
		}
	}
	free(text);
	cb_safety_free(r);
}

static void test_study_day_and_emergence(void)
{
	char d[CB_STUDY_DAY_BUF];

	T_EQ_INT(cb_study_day("2026-02-10", "2026-02-10T10:00", d), 1);
	T_EQ_STR(d, "1");
	T_EQ_INT(cb_study_day("2026-02-09", "2026-02-10", d), 1);
	T_EQ_STR(d, "-1");
	T_EQ_INT(cb_study_day("2026-03-01T08:00", "2026-02-10", d), 1);
	T_EQ_STR(d, "20");
	T_EQ_INT(cb_study_day("2026-02", "2026-02-10", d), 0);
	T_EQ_STR(d, "");
	T_EQ_INT(cb_study_day("2026-02-12", "", d), 0);
	T_EQ_INT(cb_study_day(NULL, "2026-02-10", d), 0);

	T_EQ_INT(cb_treatment_emergent("2026-02-10", "2026-02-10T10:00"), 1);
	T_EQ_INT(cb_treatment_emergent("2026-02-09", "2026-02-10"), 0);
	T_EQ_INT(cb_treatment_emergent("2026-02", "2026-02-10"), 1);
	T_EQ_INT(cb_treatment_emergent("2026-01", "2026-02-10"), 0);
	T_EQ_INT(cb_treatment_emergent("2025", "2026-02-10"), 0);
	T_EQ_INT(cb_treatment_emergent("2026", "2026-02-10"), 1);
	T_EQ_INT(cb_treatment_emergent(NULL, "2026-02-10"), 1);
	T_EQ_INT(cb_treatment_emergent("2026-03-01", ""), 0);
	T_EQ_INT(cb_treatment_emergent("2026-03-01", NULL), 0);
}

/* The protocol's safety flags, evaluated as the report does. */
static void test_condition(void)
{
	struct cb_check_values v;
	struct cb_check_source src;
	enum cb_check_truth t;
	struct cb_err err;
	const struct cb_protocol_visit *log;

	T_ASSERT(knee);
	log = cb_protocol_find_visit(knee, "LOG");
	cb_check_values_init(&v);
	src = cb_check_values_source(&v);
	T_EQ_INT(
	    cb_check_values_set(&v, "LOG", "AE", 2, "AEREL", "PROBABLE", &err),
	    0);
	T_EQ_INT(cb_check_condition(knee, &src, log, knee->safety_form, 2,
				    knee->safety_flags[CB_SAFETY_RELATED], &t,
				    &err),
		 0);
	T_EQ_INT(t, CB_CHECK_TRUE);
	T_EQ_INT(cb_check_condition(knee, &src, log, knee->safety_form, 1,
				    knee->safety_flags[CB_SAFETY_RELATED], &t,
				    &err),
		 0);
	T_EQ_INT(t, CB_CHECK_FALSE);
	T_EQ_INT(cb_check_values_set(&v, "LOG", "AE", 2, "AESDTH", "Y", &err),
		 0);
	T_EQ_INT(cb_check_condition(knee, &src, log, knee->safety_form, 2,
				    knee->safety_flags[CB_SAFETY_DEATH], &t,
				    &err),
		 0);
	T_EQ_INT(t, CB_CHECK_TRUE);
	cb_check_values_release(&v);
}

int main(void)
{
	load_knee();
	T_RUN(test_closed_by_arm);
	T_RUN(test_open_has_no_arm);
	T_RUN(test_arms_map);
	T_RUN(test_cutoff_and_site);
	T_RUN(test_escaping);
	T_RUN(test_text_fits_80);
	T_RUN(test_study_day_and_emergence);
	T_RUN(test_condition);
	cb_protocol_free(knee);
	return t_done();
}
