/*
 * test_check.c - the edit-check engine (common/check.c): every check
 * type, hard and soft failures, three-valued partial-date comparisons,
 * visit windows, form status, eligibility and derived scores.
 *
 * The first half builds a small protocol by hand, struct by struct, so
 * the engine's semantics are tested apart from the loader. The second
 * half loads protocols from JSON text and the shipped study
 * (schemas/knee-oa-msc.json), so the engine is also tested on what the
 * loader really produces.
 */
#include "check.h"
#include "t.h"

#include <math.h>

/* ------------------------------------------------------------------ */
/* A hand-built protocol.                                              */

enum { V_SCR, V_BL, V_M1, V_LOG, NVISITS };
enum { F_SV, F_DM, F_AE, F_ELIG, F_VAS, NFORMS };

/* Items, form by form, as protocol->items holds them. */
enum {
	I_VISDT,
	I_BRTHYR,
	I_CONSDT,
	I_HEIGHT,
	I_AETERM,
	I_AESTDTC,
	I_AEENDTC,
	I_AEONGO,
	I_AESER,
	I_AESDTH,
	I_AESHOSP,
	I_AETOXGR,
	I_AEOUT,
	I_AGE,
	I_KLGRADE,
	I_PAIN3M,
	I_PREG,
	I_VAS,
	NITEMS
};

static struct cb_protocol hp;
static struct cb_protocol_visit hvisits[NVISITS];
static struct cb_protocol_form hforms[NFORMS];
static struct cb_protocol_item hitems[NITEMS];
static struct cb_protocol_check hchecks[16];
static struct cb_protocol_rule hrules[8];
static struct cb_protocol_cond cpool[64];
static struct cb_protocol_value vpool[64];
static const struct cb_protocol_item *ipool[16];
static const struct cb_protocol_item *score_items[1];
static struct cb_protocol_score hscore;
static size_t ncpool, nvpool, nipool;

static const struct cb_protocol_form *scr_forms[] = {
    &hforms[F_SV], &hforms[F_DM], &hforms[F_ELIG]};
static const struct cb_protocol_form *bl_forms[] = {&hforms[F_SV],
						    &hforms[F_VAS]};
static const struct cb_protocol_form *m1_forms[] = {&hforms[F_SV],
						    &hforms[F_VAS]};
static const struct cb_protocol_form *log_forms[] = {&hforms[F_AE]};
static const struct cb_protocol_visit *sv_visits[] = {
    &hvisits[V_SCR], &hvisits[V_BL], &hvisits[V_M1]};
static const struct cb_protocol_visit *scr_only[] = {&hvisits[V_SCR]};
static const struct cb_protocol_visit *log_only[] = {&hvisits[V_LOG]};
static const struct cb_protocol_visit *vas_visits[] = {&hvisits[V_BL],
						       &hvisits[V_M1]};
static const struct cb_protocol_choice yes_no[] = {{"Y", "Yes"}, {"N", "No"}};
static const struct cb_protocol_choice outcomes[] = {{"RECOVERED", "Recovered"},
						     {"FATAL", "Fatal"}};
static const struct cb_protocol_choice preg[] = {
    {"Y", "Yes"}, {"N", "No"}, {"NA", "Not applicable"}};

static void visit(int i, const char *code, int scheduled, int day, int low,
		  int high, const struct cb_protocol_form *const *forms,
		  size_t nforms)
{
	struct cb_protocol_visit *v = &hvisits[i];

	v->code = code;
	v->label = code;
	v->scheduled = scheduled;
	v->day = day;
	v->low = low;
	v->high = high;
	v->forms = forms;
	v->nforms = nforms;
	v->index = (size_t)i;
}

static void form(int i, const char *code, int repeating, int first, int last,
		 const struct cb_protocol_visit *const *visits, size_t nvisits)
{
	struct cb_protocol_form *f = &hforms[i];
	int k;

	f->code = code;
	f->label = code;
	f->repeating = repeating;
	f->writers = CB_WRITER_COORDINATOR | CB_WRITER_INVESTIGATOR;
	f->items = &hitems[first];
	f->nitems = (size_t)(last - first + 1);
	f->visits = visits;
	f->nvisits = nvisits;
	f->index = (size_t)i;
	for (k = first; k <= last; k++) {
		hitems[k].form = f;
		hitems[k].index = (size_t)(k - first);
	}
}

static struct cb_protocol_item *item(int i, const char *code,
				     enum cb_item_type type, int required)
{
	struct cb_protocol_item *it = &hitems[i];

	it->code = code;
	it->label = code;
	it->unit = "";
	it->type = type;
	it->required = required;
	if (type == CB_ITEM_BOOLEAN) {
		it->choices = yes_no;
		it->nchoices = 2;
	}
	if (type == CB_ITEM_TEXT)
		it->max_length = CB_PROTOCOL_TEXT_DEFAULT;
	return it;
}

static struct cb_protocol_ref ref(int visit_or_minus1, int it)
{
	struct cb_protocol_ref r;

	r.text = hitems[it].code;
	r.visit = visit_or_minus1 < 0 ? NULL : &hvisits[visit_or_minus1];
	r.item = &hitems[it];
	r.form = hitems[it].form;
	return r;
}

static struct cb_protocol_cond *conds(size_t n)
{
	struct cb_protocol_cond *c = &cpool[ncpool];

	ncpool += n;
	memset(c, 0, n * sizeof(*c));
	return c;
}

/* left op constant(s), or "present"/"absent" with no constant. */
static struct cb_protocol_cond *cmp_into(struct cb_protocol_cond *c,
					 int visit_or_minus1, int it,
					 enum cb_cmp_op op, const char *v1,
					 const char *v2)
{
	c->kind = CB_COND_COMPARE;
	c->left = ref(visit_or_minus1, it);
	c->op = op;
	c->values = &vpool[nvpool];
	if (v1) {
		vpool[nvpool].text = v1;
		vpool[nvpool].num = strtod(v1, NULL);
		nvpool++;
		c->nvalues++;
	}
	if (v2) {
		vpool[nvpool].text = v2;
		vpool[nvpool].num = strtod(v2, NULL);
		nvpool++;
		c->nvalues++;
	}
	return c;
}

static struct cb_protocol_cond *cmp(int it, enum cb_cmp_op op, const char *v1)
{
	return cmp_into(conds(1), -1, it, op, v1, NULL);
}

static void build(void)
{
	struct cb_protocol_item *it;
	struct cb_protocol_check *ck;
	struct cb_protocol_cond *c;
	size_t n = 0;

	visit(V_SCR, "SCR", 1, -28, -28, -1, scr_forms, 3);
	visit(V_BL, "BL", 1, 0, 0, 0, bl_forms, 2);
	visit(V_M1, "M1", 1, 30, 25, 35, m1_forms, 2);
	visit(V_LOG, "LOG", 0, 0, 0, 0, log_forms, 1);

	item(I_VISDT, "VISDT", CB_ITEM_DATE, 1);
	item(I_BRTHYR, "BRTHYR", CB_ITEM_INTEGER, 1);
	item(I_CONSDT, "CONSDT", CB_ITEM_DATE, 1);
	it = item(I_HEIGHT, "HEIGHT", CB_ITEM_INTEGER, 0);
	it->unit = "cm";
	it->range = (struct cb_protocol_range){1, 1, 100, 230};
	it->soft = (struct cb_protocol_range){1, 1, 140, 210};
	item(I_AETERM, "AETERM", CB_ITEM_TEXT, 1);
	item(I_AESTDTC, "AESTDTC", CB_ITEM_PARTIAL_DATE, 1);
	item(I_AEENDTC, "AEENDTC", CB_ITEM_PARTIAL_DATE, 1);
	item(I_AEONGO, "AEONGO", CB_ITEM_BOOLEAN, 0);
	item(I_AESER, "AESER", CB_ITEM_BOOLEAN, 1);
	item(I_AESDTH, "AESDTH", CB_ITEM_BOOLEAN, 0);
	item(I_AESHOSP, "AESHOSP", CB_ITEM_BOOLEAN, 0);
	it = item(I_AETOXGR, "AETOXGR", CB_ITEM_INTEGER, 0);
	it->range = (struct cb_protocol_range){1, 1, 1, 5};
	it = item(I_AEOUT, "AEOUT", CB_ITEM_CHOICE, 0);
	it->choices = outcomes;
	it->nchoices = 2;
	item(I_AGE, "AGE", CB_ITEM_INTEGER, 1);
	item(I_KLGRADE, "KLGRADE", CB_ITEM_INTEGER, 1);
	item(I_PAIN3M, "PAIN3M", CB_ITEM_BOOLEAN, 1);
	it = item(I_PREG, "PREG", CB_ITEM_CHOICE, 1);
	it->choices = preg;
	it->nchoices = 3;
	it = item(I_VAS, "VAS", CB_ITEM_INTEGER, 1);
	it->range = (struct cb_protocol_range){1, 1, 0, 100};

	form(F_SV, "SV", 0, I_VISDT, I_VISDT, sv_visits, 3);
	form(F_DM, "DM", 0, I_BRTHYR, I_HEIGHT, scr_only, 1);
	form(F_AE, "AE", 1, I_AETERM, I_AEOUT, log_only, 1);
	form(F_ELIG, "ELIG", 0, I_AGE, I_PREG, scr_only, 1);
	form(F_VAS, "VAS", 0, I_VAS, I_VAS, vas_visits, 2);

	hscore.name = "vas";
	hscore.method = cb_score_method_find("vas");
	score_items[0] = &hitems[I_VAS];
	hscore.items = score_items;
	hforms[F_VAS].scores = &hscore;
	hforms[F_VAS].nscores = 1;

	/* AE end on or after onset. */
	ck = &hchecks[n++];
	ck->id = "AE_END_AFTER_ONSET";
	ck->message = "end date before onset";
	ck->type = CB_CHECK_COMPARE;
	ck->severity = CB_SEVERITY_HARD;
	ck->form = &hforms[F_AE];
	ck->item = &hitems[I_AEENDTC];
	c = conds(1);
	c->kind = CB_COND_COMPARE;
	c->left = ref(-1, I_AEENDTC);
	c->op = CB_CMP_GE;
	c->has_other = 1;
	c->other = ref(-1, I_AESTDTC);
	ck->test = c;

	/* Ongoing forbids an end date. */
	ck = &hchecks[n++];
	ck->id = "AE_ONGOING_NO_END";
	ck->message = "an ongoing AE has no end date";
	ck->type = CB_CHECK_FORBIDDEN;
	ck->severity = CB_SEVERITY_HARD;
	ck->form = &hforms[F_AE];
	ck->item = &hitems[I_AEENDTC];
	ck->when = cmp(I_AEONGO, CB_CMP_EQ, "Y");

	/* Serious needs a criterion (soft, so a partial save is kept). */
	ck = &hchecks[n++];
	ck->id = "AE_SER_CRIT";
	ck->message = "a serious AE needs a criterion";
	ck->type = CB_CHECK_AT_LEAST_ONE;
	ck->severity = CB_SEVERITY_SOFT;
	ck->form = &hforms[F_AE];
	ck->when = cmp(I_AESER, CB_CMP_EQ, "Y");
	ipool[nipool] = &hitems[I_AESDTH];
	ipool[nipool + 1] = &hitems[I_AESHOSP];
	ck->items = &ipool[nipool];
	ck->nitems = 2;
	ck->value = "Y";
	nipool += 2;

	/* Fatal requires grade 5 and death. */
	ck = &hchecks[n++];
	ck->id = "AE_FATAL";
	ck->message = "fatal outcome needs grade 5 and death";
	ck->type = CB_CHECK_CONDITION;
	ck->severity = CB_SEVERITY_HARD;
	ck->form = &hforms[F_AE];
	ck->when = cmp(I_AEOUT, CB_CMP_EQ, "FATAL");
	c = conds(1);
	c->kind = CB_COND_ALL;
	c->nsub = 2;
	c->sub = conds(2);
	cmp_into((struct cb_protocol_cond *)&c->sub[0], -1, I_AETOXGR,
		 CB_CMP_EQ, "5", NULL);
	cmp_into((struct cb_protocol_cond *)&c->sub[1], -1, I_AESDTH, CB_CMP_EQ,
		 "Y", NULL);
	ck->test = c;

	/* End date required once not ongoing. */
	ck = &hchecks[n++];
	ck->id = "AE_END_REQUIRED";
	ck->message = "give the end date";
	ck->type = CB_CHECK_REQUIRED;
	ck->severity = CB_SEVERITY_SOFT;
	ck->form = &hforms[F_AE];
	ck->item = &hitems[I_AEENDTC];
	ck->when = cmp(I_AEONGO, CB_CMP_EQ, "N");

	/* Every date on or after consent: every form, "*". */
	ck = &hchecks[n++];
	ck->id = "AFTER_CONSENT";
	ck->message = "date before informed consent";
	ck->type = CB_CHECK_COMPARE;
	ck->severity = CB_SEVERITY_SOFT;
	c = conds(1);
	c->kind = CB_COND_COMPARE;
	c->left.text = "*";
	c->op = CB_CMP_GE;
	c->has_other = 1;
	c->other = ref(V_SCR, I_CONSDT);
	ck->test = c;

	/* Visit date in window. */
	ck = &hchecks[n++];
	ck->id = "SV_WINDOW";
	ck->message = "visit date outside its window";
	ck->type = CB_CHECK_VISIT_WINDOW;
	ck->severity = CB_SEVERITY_SOFT;
	ck->form = &hforms[F_SV];
	ck->item = &hitems[I_VISDT];

	/* Birth year against a constant: numeric, hard. */
	ck = &hchecks[n++];
	ck->id = "DM_BRTHYR";
	ck->message = "birth year after 2010";
	ck->type = CB_CHECK_COMPARE;
	ck->severity = CB_SEVERITY_HARD;
	ck->form = &hforms[F_DM];
	ck->item = &hitems[I_BRTHYR];
	ck->test = cmp(I_BRTHYR, CB_CMP_LE, "2010");

	hp.format = "casebook-protocol/1";
	hp.id = "hand";
	hp.version = "1";
	hp.title = "";
	hp.visits = hvisits;
	hp.nvisits = NVISITS;
	hp.nscheduled = 3;
	hp.forms = hforms;
	hp.nforms = NFORMS;
	hp.items = hitems;
	hp.nitems = NITEMS;
	hp.checks = hchecks;
	hp.nchecks = n;
	hp.day0 = ref(V_BL, I_VISDT);

	hp.elig_visit = &hvisits[V_SCR];
	hp.elig_form = &hforms[F_ELIG];
	n = 0;
	hrules[n].id = "INC_AGE";
	hrules[n].label = "age 40 to 75";
	c = conds(1);
	c->kind = CB_COND_ALL;
	c->nsub = 2;
	c->sub = conds(2);
	cmp_into((struct cb_protocol_cond *)&c->sub[0], -1, I_AGE, CB_CMP_GE,
		 "40", NULL);
	cmp_into((struct cb_protocol_cond *)&c->sub[1], -1, I_AGE, CB_CMP_LE,
		 "75", NULL);
	hrules[n++].cond = c;
	hrules[n].id = "INC_KL";
	hrules[n].label = "K-L grade 2 or 3";
	hrules[n++].cond =
	    cmp_into(conds(1), -1, I_KLGRADE, CB_CMP_IN, "2", "3");
	hrules[n].id = "INC_PAIN";
	hrules[n].label = "knee pain for 3 months";
	hrules[n++].cond = cmp(I_PAIN3M, CB_CMP_EQ, "Y");
	hrules[n].id = "EXC_PREG";
	hrules[n].label = "not pregnant";
	hrules[n++].cond = cmp(I_PREG, CB_CMP_NE, "Y");
	hp.rules = hrules;
	hp.nrules = n;
}

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

static struct cb_check_values vals;
static struct cb_check_source src;
static struct cb_check_results res;

static void reset(void)
{
	cb_check_values_release(&vals);
	cb_check_values_init(&vals);
	cb_check_results_release(&res);
	cb_check_results_init(&res);
	src = cb_check_values_source(&vals);
}

/* Set values from "V.F.I=x V.F#2.I=y ..." (space separated). */
static int set(const char *desc)
{
	const char *p = desc;
	struct cb_err err;
	char tok[256];

	while (*p) {
		size_t n = strcspn(p, " ");

		if (n >= sizeof(tok))
			return 0;
		if (n) {
			memcpy(tok, p, n);
			tok[n] = '\0';
			if (cb_check_values_parse(&vals, tok, &err))
				return 0;
		}
		p += n;
		if (*p)
			p++;
	}
	return 1;
}

/* The result with that id (and item path, when not NULL), or NULL. */
static const struct cb_check_result *found(const char *id, const char *path)
{
	size_t i;

	for (i = 0; i < res.count; i++)
		if (!strcmp(res.list[i].id, id) &&
		    (!path || !strcmp(res.list[i].path, path)))
			return &res.list[i];
	return NULL;
}

static int run_form(const struct cb_protocol *p, const char *visit_code,
		    const char *form_code, unsigned instance)
{
	const struct cb_protocol_visit *v = NULL;
	const struct cb_protocol_form *f = NULL;
	struct cb_err err;
	size_t i;

	for (i = 0; i < p->nvisits; i++)
		if (!strcmp(p->visits[i].code, visit_code))
			v = &p->visits[i];
	for (i = 0; i < p->nforms; i++)
		if (!strcmp(p->forms[i].code, form_code))
			f = &p->forms[i];
	if (!v || !f)
		return -100;
	cb_check_results_release(&res);
	cb_check_results_init(&res);
	cb_err_clear(&err);
	return cb_check_form(p, &src, v, f, instance, &res, &err);
}

/* ------------------------------------------------------------------ */
/* Values.                                                             */

static void test_values_store(void)
{
	struct cb_err err;

	reset();
	T_ASSERT(set("SCR.DM.HEIGHT=170 LOG.AE#2.AETERM=x LOG.AE#10.AETERM=y"));
	T_EQ_STR(cb_check_values_get(&vals, "SCR", "DM", 0, "HEIGHT"), "170");
	T_EQ_STR(cb_check_values_get(&vals, "LOG", "AE", 2, "AETERM"), "x");
	T_EQ_STR(cb_check_values_get(&vals, "LOG", "AE", 10, "AETERM"), "y");
	T_ASSERT(!cb_check_values_get(&vals, "LOG", "AE", 1, "AETERM"));
	T_ASSERT(set("SCR.DM.HEIGHT=171"));
	T_EQ_STR(cb_check_values_get(&vals, "SCR", "DM", 0, "HEIGHT"), "171");
	T_EQ_INT(vals.count, 3);
	T_ASSERT(set("SCR.DM.HEIGHT="));
	T_ASSERT(!cb_check_values_get(&vals, "SCR", "DM", 0, "HEIGHT"));
	T_EQ_INT(vals.count, 2);
	T_EQ_INT(cb_check_values_parse(&vals, "SCR.DM=1", &err), CB_EINVAL);
	T_EQ_INT(cb_check_values_parse(&vals, "SCR.DM.X.Y=1", &err), CB_EINVAL);
	T_EQ_INT(cb_check_values_parse(&vals, "SCR.AE#0.X=1", &err), CB_EINVAL);
	T_EQ_INT(cb_check_values_parse(&vals, "SCR.AE#x.X=1", &err), CB_EINVAL);
	T_EQ_INT(cb_check_values_set(&vals, "SCR", "DM", 0, "X", "", &err),
		 CB_EINVAL);
}

/* Many values in random order: lookups find each one. */
static void test_values_random(void)
{
	uint64_t s = t_seed();
	char visit[8], item[8], val[16];
	int i, present[200];
	struct cb_err err;

	reset();
	memset(present, 0, sizeof(present));
	for (i = 0; i < 2000; i++) {
		int k;

		s = s * 6364136223846793005ull + 1442695040888963407ull;
		k = (int)((s >> 33) % 200);
		snprintf(visit, sizeof(visit), "V%d", k % 7);
		snprintf(item, sizeof(item), "I%d", k);
		snprintf(val, sizeof(val), "%d", i);
		if ((s >> 20) % 5 == 0) {
			T_EQ_INT(cb_check_values_set(&vals, visit, "F",
						     (unsigned)(k % 3), item,
						     NULL, &err),
				 0);
			present[k] = 0;
		} else {
			T_EQ_INT(cb_check_values_set(&vals, visit, "F",
						     (unsigned)(k % 3), item,
						     val, &err),
				 0);
			present[k] = i + 1;
		}
	}
	for (i = 0; i < 200; i++) {
		const char *v;

		snprintf(visit, sizeof(visit), "V%d", i % 7);
		snprintf(item, sizeof(item), "I%d", i);
		v = cb_check_values_get(&vals, visit, "F", (unsigned)(i % 3),
					item);
		if (!present[i]) {
			T_ASSERT(v == NULL);
		} else {
			snprintf(val, sizeof(val), "%d", present[i] - 1);
			T_EQ_STR(v, val);
		}
	}
	for (i = 1; i < (int)vals.count; i++) {
		const struct cb_check_value *a = &vals.list[i - 1];
		const struct cb_check_value *b = &vals.list[i];
		int c = strcmp(a->visit, b->visit);

		if (!c)
			c = strcmp(a->form, b->form);
		if (!c)
			c = a->instance < b->instance	? -1
			    : a->instance > b->instance ? 1
							: 0;
		if (!c)
			c = strcmp(a->item, b->item);
		T_ASSERT(c < 0);
	}
}

/* ------------------------------------------------------------------ */
/* Edit checks on the hand-built protocol.                             */

static void test_compare_dates(void)
{
	reset();
	T_ASSERT(set("LOG.AE#1.AETERM=Headache LOG.AE#1.AESTDTC=2024-03-10 "
		     "LOG.AE#1.AEENDTC=2024-03-09 LOG.AE#1.AESER=N"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_END_AFTER_ONSET", "AE.AEENDTC"));
	T_EQ_INT(found("AE_END_AFTER_ONSET", NULL)->severity, CB_SEVERITY_HARD);
	T_EQ_STR(found("AE_END_AFTER_ONSET", NULL)->message,
		 "end date before onset");
	T_EQ_INT(res.nhard, 1);

	/* Same day passes; another instance is not looked at. */
	T_ASSERT(set("LOG.AE#1.AEENDTC=2024-03-10 LOG.AE#2.AETERM=x "
		     "LOG.AE#2.AESTDTC=2025-01-01"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_END_AFTER_ONSET", NULL));
	T_EQ_INT(res.nhard, 0);
}

static void test_partial_dates_unknown_pass(void)
{
	reset();
	/* 2024-03 vs 2024-03-10: could be either: passes. */
	T_ASSERT(set("LOG.AE#1.AETERM=x LOG.AE#1.AESTDTC=2024-03-10 "
		     "LOG.AE#1.AEENDTC=2024-03 LOG.AE#1.AESER=N"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_END_AFTER_ONSET", NULL));
	/* 2024 vs 2024-03-10: unknown too. */
	T_ASSERT(set("LOG.AE#1.AEENDTC=2024"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_END_AFTER_ONSET", NULL));
	/* 2024-02 is certainly before 2024-03-10: fails. */
	T_ASSERT(set("LOG.AE#1.AEENDTC=2024-02"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_END_AFTER_ONSET", NULL));
	/* 2023 onset, 2024-02 end: certainly after. */
	T_ASSERT(set("LOG.AE#1.AESTDTC=2023"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_END_AFTER_ONSET", NULL));
	/* Missing onset: a COMPARE check with a missing operand passes. */
	T_ASSERT(set("LOG.AE#1.AESTDTC= LOG.AE#1.AEENDTC=2000"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_END_AFTER_ONSET", NULL));
}

static void test_forbidden_ongoing(void)
{
	reset();
	T_ASSERT(set("LOG.AE#1.AETERM=x LOG.AE#1.AESTDTC=2024-03-10 "
		     "LOG.AE#1.AEENDTC=2024-03-12 LOG.AE#1.AEONGO=Y "
		     "LOG.AE#1.AESER=N"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_ONGOING_NO_END", "AE.AEENDTC"));
	T_ASSERT(set("LOG.AE#1.AEONGO=N"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_ONGOING_NO_END", NULL));
	T_ASSERT(set("LOG.AE#1.AEONGO=Y LOG.AE#1.AEENDTC="));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_ONGOING_NO_END", NULL));
	T_EQ_INT(res.nhard + res.nsoft, 0);
}

static void test_required_when(void)
{
	reset();
	T_ASSERT(set("LOG.AE#1.AETERM=x LOG.AE#1.AESTDTC=2024-03-10 "
		     "LOG.AE#1.AEONGO=N LOG.AE#1.AESER=N"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_END_REQUIRED", "AE.AEENDTC"));
	T_EQ_INT(found("AE_END_REQUIRED", NULL)->severity, CB_SEVERITY_SOFT);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(res.nsoft, 1);
	T_ASSERT(set("LOG.AE#1.AEONGO="));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_END_REQUIRED", NULL));
}

static void test_serious_needs_criterion(void)
{
	reset();
	T_ASSERT(set("LOG.AE#3.AETERM=x LOG.AE#3.AESTDTC=2024-03-10 "
		     "LOG.AE#3.AESER=Y"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 3), 0);
	T_ASSERT(found("AE_SER_CRIT", "AE.AESDTH"));
	/* A criterion answered N does not count: the value must be Y. */
	T_ASSERT(set("LOG.AE#3.AESDTH=N LOG.AE#3.AESHOSP=N"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 3), 0);
	T_ASSERT(found("AE_SER_CRIT", NULL));
	T_ASSERT(set("LOG.AE#3.AESHOSP=Y"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 3), 0);
	T_ASSERT(!found("AE_SER_CRIT", NULL));
	/* Not serious: no criterion needed. */
	T_ASSERT(set("LOG.AE#3.AESHOSP= LOG.AE#3.AESER=N"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 3), 0);
	T_ASSERT(!found("AE_SER_CRIT", NULL));
}

static void test_fatal_condition(void)
{
	reset();
	T_ASSERT(set("LOG.AE#1.AETERM=x LOG.AE#1.AESTDTC=2024-03-10 "
		     "LOG.AE#1.AESER=Y LOG.AE#1.AESHOSP=Y "
		     "LOG.AE#1.AEOUT=FATAL LOG.AE#1.AETOXGR=4"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_FATAL", NULL));
	T_EQ_INT(found("AE_FATAL", NULL)->severity, CB_SEVERITY_HARD);
	/* Reported on the first item of the form the test reads. */
	T_EQ_STR(found("AE_FATAL", NULL)->path, "AE.AETOXGR");
	T_ASSERT(set("LOG.AE#1.AETOXGR=5"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_FATAL", NULL)); /* death criterion missing */
	T_ASSERT(set("LOG.AE#1.AESDTH=Y"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_FATAL", NULL));
	T_ASSERT(set("LOG.AE#1.AEOUT=RECOVERED LOG.AE#1.AETOXGR=2 "
		     "LOG.AE#1.AESDTH=N"));
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_FATAL", NULL));
}

static void test_item_values_hard_soft(void)
{
	reset();
	T_ASSERT(set("SCR.DM.BRTHYR=1960 SCR.DM.CONSDT=2024-01-10 "
		     "SCR.DM.HEIGHT=215"));
	T_EQ_INT(run_form(&hp, "SCR", "DM", 0), 0);
	T_ASSERT(found(CB_CHECK_ID_SOFT_RANGE, "DM.HEIGHT"));
	T_CONTAINS(found(CB_CHECK_ID_SOFT_RANGE, NULL)->message, "215 cm");
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(res.nsoft, 1);
	T_ASSERT(set("SCR.DM.HEIGHT=231"));
	T_EQ_INT(run_form(&hp, "SCR", "DM", 0), 0);
	T_ASSERT(found(CB_CHECK_ID_RANGE, "DM.HEIGHT"));
	T_EQ_INT(found(CB_CHECK_ID_RANGE, NULL)->severity, CB_SEVERITY_HARD);
	T_ASSERT(set("SCR.DM.HEIGHT=1.5"));
	T_EQ_INT(run_form(&hp, "SCR", "DM", 0), 0);
	T_ASSERT(found(CB_CHECK_ID_FORMAT, "DM.HEIGHT"));
	T_ASSERT(set("SCR.DM.HEIGHT=170"));
	T_EQ_INT(run_form(&hp, "SCR", "DM", 0), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* A numeric compare against a constant: 2011 > 2010, 999 < 2010
	 * numerically although not as text. */
	T_ASSERT(set("SCR.DM.BRTHYR=2011"));
	T_EQ_INT(run_form(&hp, "SCR", "DM", 0), 0);
	T_ASSERT(found("DM_BRTHYR", "DM.BRTHYR"));
	T_ASSERT(set("SCR.DM.BRTHYR=999"));
	T_EQ_INT(run_form(&hp, "SCR", "DM", 0), 0);
	T_ASSERT(!found("DM_BRTHYR", NULL));
}

static void test_every_form_star(void)
{
	reset();
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-10 SCR.DM.BRTHYR=1960 "
		     "SCR.SV.VISDT=2024-01-09 LOG.AE#1.AETERM=x "
		     "LOG.AE#1.AESTDTC=2024-01 LOG.AE#1.AEENDTC=2023-12-31 "
		     "LOG.AE#1.AESER=N"));
	T_EQ_INT(run_form(&hp, "SCR", "SV", 0), 0);
	T_ASSERT(found("AFTER_CONSENT", "SV.VISDT"));
	T_EQ_INT(found("AFTER_CONSENT", NULL)->severity, CB_SEVERITY_SOFT);
	/* AE: onset 2024-01 is maybe before the 10th: passes; end is
	 * certainly before consent: one failure, on AEENDTC. */
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(found("AFTER_CONSENT", "AE.AEENDTC"));
	T_ASSERT(!found("AFTER_CONSENT", "AE.AESTDTC"));
	/* Consent compared with itself is never a failure. */
	T_EQ_INT(run_form(&hp, "SCR", "DM", 0), 0);
	T_ASSERT(!found("AFTER_CONSENT", NULL));
	/* Unknown consent date: nothing to compare with. */
	T_ASSERT(set("SCR.DM.CONSDT="));
	T_EQ_INT(run_form(&hp, "SCR", "SV", 0), 0);
	T_ASSERT(!found("AFTER_CONSENT", NULL));
}

static void test_visit_window(void)
{
	reset();
	/* Day 0 = 2024-02-01; M1 window is day 25..35 = 02-26..03-07. */
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-01 BL.SV.VISDT=2024-02-01 "
		     "M1.SV.VISDT=2024-02-26"));
	T_EQ_INT(run_form(&hp, "M1", "SV", 0), 0);
	T_ASSERT(!found("SV_WINDOW", NULL));
	T_ASSERT(set("M1.SV.VISDT=2024-03-07"));
	T_EQ_INT(run_form(&hp, "M1", "SV", 0), 0);
	T_ASSERT(!found("SV_WINDOW", NULL));
	T_ASSERT(set("M1.SV.VISDT=2024-03-08"));
	T_EQ_INT(run_form(&hp, "M1", "SV", 0), 0);
	T_ASSERT(found("SV_WINDOW", "SV.VISDT"));
	T_EQ_INT(found("SV_WINDOW", NULL)->severity, CB_SEVERITY_SOFT);
	T_ASSERT(set("M1.SV.VISDT=2024-02-25"));
	T_EQ_INT(run_form(&hp, "M1", "SV", 0), 0);
	T_ASSERT(found("SV_WINDOW", NULL));
	/* Day 0 itself is in its 0..0 window. */
	T_EQ_INT(run_form(&hp, "BL", "SV", 0), 0);
	T_ASSERT(!found("SV_WINDOW", NULL));
	/* Screening is before day 0: -28..-1. */
	T_ASSERT(set("SCR.SV.VISDT=2024-01-31"));
	T_EQ_INT(run_form(&hp, "SCR", "SV", 0), 0);
	T_ASSERT(!found("SV_WINDOW", NULL));
	T_ASSERT(set("SCR.SV.VISDT=2024-02-01"));
	T_EQ_INT(run_form(&hp, "SCR", "SV", 0), 0);
	T_ASSERT(found("SV_WINDOW", NULL));
	/* Day 0 unknown: skipped. */
	T_ASSERT(set("BL.SV.VISDT= M1.SV.VISDT=2030-01-01"));
	T_EQ_INT(run_form(&hp, "M1", "SV", 0), 0);
	T_ASSERT(!found("SV_WINDOW", NULL));
}

static void test_bad_target(void)
{
	struct cb_err err;

	reset();
	T_EQ_INT(cb_check_form(&hp, &src, &hvisits[V_BL], &hforms[F_DM], 0,
			       &res, &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "BL");
	T_EQ_INT(cb_check_form(&hp, &src, &hvisits[V_LOG], &hforms[F_AE], 0,
			       &res, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_check_form(&hp, &src, &hvisits[V_SCR], &hforms[F_DM], 1,
			       &res, &err),
		 CB_EINVAL);
	/* An empty form has nothing to fail. */
	T_EQ_INT(cb_check_form(&hp, &src, &hvisits[V_LOG], &hforms[F_AE], 1,
			       &res, &err),
		 0);
	T_EQ_INT(res.count, 0);
}

static int failing_get(void *ctx, const char *visit, const char *form,
		       unsigned instance, const char *it, const char **value,
		       struct cb_err *err)
{
	(void)ctx;
	(void)visit;
	(void)form;
	(void)instance;
	(void)it;
	*value = "2024-01-01";
	return cb_err_set(err, CB_EIO, "store broke");
}

static void test_source_error(void)
{
	struct cb_check_source bad = {failing_get, NULL, NULL};
	struct cb_check_elig e;
	enum cb_form_status st;
	struct cb_err err;

	reset();
	T_EQ_INT(cb_check_form(&hp, &bad, &hvisits[V_LOG], &hforms[F_AE], 1,
			       &res, &err),
		 CB_EIO);
	T_CONTAINS(err.msg, "store broke");
	T_EQ_INT(cb_check_form_status(&hp, &bad, &hvisits[V_SCR], &hforms[F_DM],
				      0, &st, NULL, &err),
		 CB_EIO);
	cb_check_elig_init(&e);
	T_EQ_INT(cb_check_eligibility(&hp, &bad, &e, &err), CB_EIO);
	cb_check_elig_release(&e);
}

/* ------------------------------------------------------------------ */
/* Form status, eligibility, scores on the hand-built protocol.        */

static enum cb_form_status status_of(int v, int f, unsigned instance,
				     struct cb_check_items *missing)
{
	enum cb_form_status st = CB_FORM_EMPTY;
	struct cb_err err;

	if (cb_check_form_status(&hp, &src, &hvisits[v], &hforms[f], instance,
				 &st, missing, &err))
		return (enum cb_form_status) - 1;
	return st;
}

static void test_form_status(void)
{
	struct cb_check_items miss;

	reset();
	cb_check_items_init(&miss);
	T_EQ_INT(status_of(V_SCR, F_DM, 0, NULL), CB_FORM_EMPTY);
	T_ASSERT(set("SCR.DM.HEIGHT=170"));
	T_EQ_INT(status_of(V_SCR, F_DM, 0, &miss), CB_FORM_PARTIAL);
	T_EQ_INT(miss.count, 2);
	T_EQ_STR(miss.list[0].item->code, "BRTHYR");
	T_EQ_STR(miss.list[1].item->code, "CONSDT");
	T_ASSERT(miss.list[0].visit == &hvisits[V_SCR]);
	T_ASSERT(set("SCR.DM.BRTHYR=1960 SCR.DM.CONSDT=2024-01-01"));
	T_EQ_INT(status_of(V_SCR, F_DM, 0, NULL), CB_FORM_COMPLETE);
	T_ASSERT(set("SCR.DM.HEIGHT="));
	T_EQ_INT(status_of(V_SCR, F_DM, 0, NULL), CB_FORM_COMPLETE);
	T_EQ_STR(cb_form_status_name(CB_FORM_PARTIAL), "partial");

	/* AE: AEENDTC is required, except when ongoing forbids it. */
	T_ASSERT(set("LOG.AE#1.AETERM=x LOG.AE#1.AESTDTC=2024 "
		     "LOG.AE#1.AESER=N"));
	T_EQ_INT(status_of(V_LOG, F_AE, 1, NULL), CB_FORM_PARTIAL);
	T_ASSERT(set("LOG.AE#1.AEONGO=Y"));
	T_EQ_INT(status_of(V_LOG, F_AE, 1, NULL), CB_FORM_COMPLETE);
	T_ASSERT(set("LOG.AE#1.AEONGO=N"));
	T_EQ_INT(status_of(V_LOG, F_AE, 1, NULL), CB_FORM_PARTIAL);
	T_ASSERT(set("LOG.AE#1.AEENDTC=2024-05"));
	T_EQ_INT(status_of(V_LOG, F_AE, 1, NULL), CB_FORM_COMPLETE);
	T_EQ_INT(status_of(V_LOG, F_AE, 2, NULL), CB_FORM_EMPTY);
	cb_check_items_release(&miss);
}

static void test_required_check_makes_required(void)
{
	/* AEENDTC not flagged required: the REQUIRED check's `when` makes
	 * it required only when not ongoing. */
	reset();
	hitems[I_AEENDTC].required = 0;
	T_ASSERT(set("LOG.AE#1.AETERM=x LOG.AE#1.AESTDTC=2024 "
		     "LOG.AE#1.AESER=N"));
	T_EQ_INT(status_of(V_LOG, F_AE, 1, NULL), CB_FORM_COMPLETE);
	T_ASSERT(set("LOG.AE#1.AEONGO=N"));
	T_EQ_INT(status_of(V_LOG, F_AE, 1, NULL), CB_FORM_PARTIAL);
	hitems[I_AEENDTC].required = 1;
}

static int has_rule(const struct cb_check_elig *e, const char *id, int failed)
{
	size_t i, n = failed ? e->nfailed : e->nundecided;

	for (i = 0; i < n; i++)
		if (!strcmp((failed ? e->failed : e->undecided)[i]->id, id))
			return 1;
	return 0;
}

static int has_missing(const struct cb_check_elig *e, const char *code)
{
	size_t i;

	for (i = 0; i < e->missing.count; i++)
		if (!strcmp(e->missing.list[i].item->code, code))
			return 1;
	return 0;
}

static void test_eligibility(void)
{
	struct cb_check_elig e;
	struct cb_err err;

	reset();
	cb_check_elig_init(&e);
	T_EQ_INT(cb_check_eligibility(&hp, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_INCOMPLETE);
	T_ASSERT(has_missing(&e, "AGE") && has_missing(&e, "PREG"));
	T_EQ_INT(e.nfailed, 0);

	T_ASSERT(set("SCR.ELIG.AGE=52 SCR.ELIG.KLGRADE=3 SCR.ELIG.PAIN3M=Y "
		     "SCR.ELIG.PREG=NA"));
	T_EQ_INT(cb_check_eligibility(&hp, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_YES);
	T_EQ_INT(e.nfailed + e.nundecided + e.missing.count, 0);
	T_EQ_STR(cb_elig_status_name(e.status), "eligible");

	T_ASSERT(set("SCR.ELIG.AGE=76 SCR.ELIG.KLGRADE=4 SCR.ELIG.PREG=Y"));
	T_EQ_INT(cb_check_eligibility(&hp, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_NO);
	T_EQ_INT(e.nfailed, 3);
	T_ASSERT(has_rule(&e, "INC_AGE", 1));
	T_ASSERT(has_rule(&e, "INC_KL", 1));
	T_ASSERT(has_rule(&e, "EXC_PREG", 1));
	T_ASSERT(!has_rule(&e, "INC_PAIN", 1));
	T_EQ_STR(e.failed[0]->label, "age 40 to 75");

	/* A missing item makes its rule undecided, not failed. */
	T_ASSERT(set("SCR.ELIG.AGE= SCR.ELIG.KLGRADE=2 SCR.ELIG.PREG=N"));
	T_EQ_INT(cb_check_eligibility(&hp, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_INCOMPLETE);
	T_EQ_INT(e.nfailed, 0);
	T_ASSERT(has_rule(&e, "INC_AGE", 0));
	T_ASSERT(has_missing(&e, "AGE"));
	T_EQ_INT(e.missing.count, 1);

	/* A failure wins over missing data. */
	T_ASSERT(set("SCR.ELIG.PAIN3M=N"));
	T_EQ_INT(cb_check_eligibility(&hp, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_NO);
	T_ASSERT(has_rule(&e, "INC_PAIN", 1));
	T_ASSERT(has_missing(&e, "AGE"));
	cb_check_elig_release(&e);

	hp.elig_form = NULL;
	T_EQ_INT(cb_check_eligibility(&hp, &src, &e, &err), CB_ENOTFOUND);
	hp.elig_form = &hforms[F_ELIG];
	cb_check_elig_release(&e);
}

static void test_scores_vas(void)
{
	struct cb_check_scores sc;
	struct cb_err err;

	reset();
	cb_check_scores_init(&sc);
	T_ASSERT(set("M1.VAS.VAS=57"));
	T_EQ_INT(cb_check_scores(&hp, &src, &hvisits[V_M1], &hforms[F_VAS], 0,
				 &sc, &err),
		 0);
	T_EQ_INT(sc.count, 1);
	T_EQ_STR(sc.list[0].name, "vas");
	T_ASSERT(sc.list[0].valid);
	T_ASSERT(fabs(sc.list[0].value - 57.0) < 1e-9);
	/* At BL nothing was entered: null. */
	T_EQ_INT(cb_check_scores(&hp, &src, &hvisits[V_BL], &hforms[F_VAS], 0,
				 &sc, &err),
		 0);
	T_ASSERT(!sc.list[0].valid);
	/* Out of range is never clamped. */
	T_ASSERT(set("BL.VAS.VAS=101"));
	T_EQ_INT(cb_check_scores(&hp, &src, &hvisits[V_BL], &hforms[F_VAS], 0,
				 &sc, &err),
		 0);
	T_ASSERT(!sc.list[0].valid);
	/* No scores on a form without any. */
	T_EQ_INT(cb_check_scores(&hp, &src, &hvisits[V_SCR], &hforms[F_DM], 0,
				 &sc, &err),
		 0);
	T_EQ_INT(sc.count, 0);
	cb_check_scores_release(&sc);
}

static void test_overlay(void)
{
	struct cb_check_change ch[3] = {{"AEENDTC", "2024-03-01"},
					{"AEONGO", NULL},
					{"AEENDTC", "2024-03-20"}};
	struct cb_check_overlay o;
	struct cb_check_source base;
	const char *v = NULL;
	struct cb_err err;

	reset();
	T_ASSERT(set("LOG.AE#1.AETERM=x LOG.AE#1.AESTDTC=2024-03-10 "
		     "LOG.AE#1.AEONGO=Y LOG.AE#1.AESER=N LOG.AE#2.AEONGO=Y"));
	base = src;
	o.base = &base;
	o.visit = "LOG";
	o.form = "AE";
	o.instance = 1;
	o.changes = ch;
	o.nchanges = 2;
	src = cb_check_overlay_source(&o);
	/* The pending end date is before onset; ongoing is cleared. */
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_END_AFTER_ONSET", NULL));
	T_ASSERT(!found("AE_ONGOING_NO_END", NULL));
	/* The last change to an item counts. */
	o.nchanges = 3;
	T_EQ_INT(run_form(&hp, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* Other instances read through to the base. */
	T_EQ_INT(src.get(src.ctx, "LOG", "AE", 2, "AEONGO", &v, &err), 0);
	T_EQ_STR(v, "Y");
	T_EQ_INT(src.get(src.ctx, "LOG", "AE", 1, "AEONGO", &v, &err), 0);
	T_ASSERT(v == NULL);
	src = base;
}

/* A rule fails when it fails whatever a missing item turns out to be. */
static void test_eligibility_certain_failure(void)
{
	struct cb_protocol_rule saved = hrules[1];
	struct cb_protocol_cond *c;
	struct cb_check_elig e;
	struct cb_err err;

	reset();
	cb_check_elig_init(&e);
	/* KLGRADE in (2,3) and PAIN3M = Y, in one rule. */
	c = conds(1);
	c->kind = CB_COND_ALL;
	c->nsub = 2;
	c->sub = conds(2);
	cmp_into((struct cb_protocol_cond *)&c->sub[0], -1, I_KLGRADE,
		 CB_CMP_IN, "2", "3");
	cmp_into((struct cb_protocol_cond *)&c->sub[1], -1, I_PAIN3M, CB_CMP_EQ,
		 "Y", NULL);
	hrules[1].cond = c;
	T_ASSERT(set("SCR.ELIG.AGE=50 SCR.ELIG.KLGRADE=4 SCR.ELIG.PREG=N"));
	T_EQ_INT(cb_check_eligibility(&hp, &src, &e, &err), 0);
	hrules[1] = saved;
	T_EQ_INT(e.status, CB_ELIG_NO);
	T_ASSERT(has_rule(&e, "INC_KL", 1));
	T_ASSERT(has_rule(&e, "INC_PAIN", 0));
	T_ASSERT(has_missing(&e, "PAIN3M"));
	cb_check_elig_release(&e);
}

/* ------------------------------------------------------------------ */
/* Protocols loaded from JSON.                                         */

/*
 * A small study written as JSON with single quotes for readability; they
 * become double quotes before loading (no text in it has a quote). The
 * 24 WOMAC items go between head and tail.
 */
/* clang-format off */
static const char mini_head[] =
	"{'format':'casebook-protocol/1','id':'mini','version':'1',"
	"'forms':["
	"{'code':'SV','label':'Visit','items':["
	" {'code':'VISDT','label':'VISDT','type':'date','required':true}"
	"]},"
	"{'code':'DM','label':'Demographics','items':["
	" {'code':'CONSDT','label':'CONSDT','type':'date','required':true},"
	" {'code':'WEIGHT','label':'WEIGHT','type':'decimal','precision':1,"
	"'unit':'kg','range':{'min':30,'max':250},'soft':{'min':40,"
	"'max':150}}"
	"]},"
	"{'code':'ELIG','label':'Eligibility','items':["
	" {'code':'AGE','label':'AGE','type':'integer','required':true},"
	" {'code':'INFL','label':'INFL','type':'boolean','required':true}"
	"]},"
	"{'code':'AE','label':'Adverse event','repeating':true,'items':["
	" {'code':'AETERM','label':'AETERM','type':'text','required':true},"
	" {'code':'AESTDTC','label':'AESTDTC','type':'partial_date',"
	"'required':true},"
	" {'code':'AEENDTC','label':'AEENDTC','type':'partial_date'},"
	" {'code':'AEONGO','label':'AEONGO','type':'boolean'},"
	" {'code':'AESER','label':'AESER','type':'boolean',"
	"'required':true},"
	" {'code':'AESDTH','label':'AESDTH','type':'boolean'},"
	" {'code':'AESHOSP','label':'AESHOSP','type':'boolean'},"
	" {'code':'AETOXGR','label':'AETOXGR','type':'integer',"
	"'range':{'min':1,'max':5}},"
	" {'code':'AEOUT','label':'AEOUT','type':'choice',"
	"'choices':[{'code':'RECOVERED','label':'Recovered'},"
	"{'code':'FATAL','label':'Fatal'}]}"
	"]},"
	"{'code':'VAS','label':'VAS','scores':[{'method':'vas'}],'items':["
	" {'code':'VAS','label':'VAS','type':'integer','range':{'min':0,"
	"'max':100}}"
	"]},"
	"{'code':'WOMAC','label':'WOMAC','scores':[{'method':'womac',"
	"'name':'WOMAC'}],'items':[";

static const char mini_tail[] =
	"]}],"
	"'visits':["
	" {'code':'SCR','label':'Screening','day':-28,'window':[-28,-1],"
	"'forms':['SV','DM','ELIG']},"
	" {'code':'BL','label':'Baseline','day':0,'window':[0,0],"
	"'forms':['SV','VAS','WOMAC']},"
	" {'code':'M1','label':'Month 1','day':30,'window':[25,35],"
	"'forms':['SV','VAS','WOMAC']},"
	" {'code':'LOG','label':'Any time','forms':['AE']}"
	"],"
	"'day0':'BL.SV.VISDT',"
	"'eligibility':{'visit':'SCR','form':'ELIG','rules':["
	" {'id':'INC_AGE','label':'Age 40 to 75',"
	"'condition':{'all':[{'item':'AGE','op':'>=','value':40},"
	"{'item':'AGE','op':'<=','value':75}]}},"
	" {'id':'EXC_INFL','label':'No inflammatory arthritis',"
	"'condition':{'item':'INFL','op':'=','value':'N'}},"
	" {'id':'CONSENTED','label':'Consent given',"
	"'condition':{'item':'DM.CONSDT','op':'present'}}"
	"]},"
	"'checks':["
	" {'id':'AE_END_AFTER_ONSET','type':'compare','severity':'hard',"
	"'message':'end before onset','form':'AE','item':'AEENDTC',"
	"'op':'>=','other':'AESTDTC'},"
	" {'id':'AE_ONGOING_NO_END','type':'forbidden','severity':'hard',"
	"'message':'ongoing: no end date','form':'AE','item':'AEENDTC',"
	"'when':{'item':'AEONGO','op':'=','value':'Y'}},"
	" {'id':'AE_END_REQUIRED','type':'required','severity':'soft',"
	"'message':'give the end date','form':'AE','item':'AEENDTC',"
	"'when':{'item':'AEONGO','op':'=','value':'N'}},"
	" {'id':'AE_SER_CRIT','type':'at_least_one','severity':'hard',"
	"'message':'serious needs a criterion','form':'AE',"
	"'items':['AESDTH','AESHOSP'],'value':'Y','when':{'item':'AESER',"
	"'op':'=','value':'Y'}},"
	" {'id':'AE_FATAL','type':'condition','severity':'hard',"
	"'message':'fatal needs grade 5 and death','form':'AE',"
	"'when':{'item':'AEOUT','op':'=','value':'FATAL'},"
	"'condition':{'all':[{'item':'AETOXGR','op':'=','value':5},"
	"{'item':'AESDTH','op':'=','value':'Y'}]}},"
	" {'id':'AFTER_CONSENT','type':'compare','severity':'soft',"
	"'message':'date before consent','form':'*','item':'*','op':'>=',"
	"'other':'SCR.DM.CONSDT'},"
	" {'id':'SV_WINDOW','type':'visit_window','severity':'soft',"
	"'message':'outside the window','form':'SV','item':'VISDT'},"
	" {'id':'WEIGHT_NOT_PLACEHOLDER','type':'compare',"
	"'severity':'hard','message':'99.9 is a placeholder','form':'DM',"
	"'item':'WEIGHT','op':'not_in','values':[99.9,111]},"
	" {'id':'VAS_VS_BL','type':'compare','severity':'soft',"
	"'message':'worse than at baseline','form':'VAS','item':'VAS',"
	"'op':'<=','other':'BL.VAS.VAS'}"
	"]}";
/* clang-format on */

static struct cb_protocol *mini;

static const char *const womac_items[] = {
    "P1",  "P2",  "P3",	 "P4",	"P5",  "S1",  "S2",  "F1",
    "F2",  "F3",  "F4",	 "F5",	"F6",  "F7",  "F8",  "F9",
    "F10", "F11", "F12", "F13", "F14", "F15", "F16", "F17"};

/* Load the mini protocol once; its problems are printed on failure. */
static struct cb_protocol *load_mini(void)
{
	struct cb_protocol_problems pr;
	char text[16384];
	struct cb_err err;
	size_t len, i;

	if (mini)
		return mini;
	len = (size_t)snprintf(text, sizeof(text), "%s", mini_head);
	for (i = 0; i < 24 && len < sizeof(text); i++)
		len +=
		    (size_t)snprintf(text + len, sizeof(text) - len,
				     "%s{\"code\":\"%s\",\"type\":\"integer\","
				     "\"range\":{\"min\":0,\"max\":4}}",
				     i ? "," : "", womac_items[i]);
	if (len < sizeof(text))
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s",
					mini_tail);
	if (len >= sizeof(text))
		return NULL;
	for (i = 0; i < len; i++)
		if (text[i] == '\'')
			text[i] = '"';
	cb_protocol_problems_init(&pr);
	if (cb_protocol_load_json(text, len, "mini", &mini, &pr, &err)) {
		for (i = 0; i < pr.count; i++)
			printf("# mini: %s\n", pr.msgs[i]);
		printf("# mini: %s\n", err.msg);
		mini = NULL;
	}
	cb_protocol_problems_release(&pr);
	return mini;
}

static void test_json_ae_checks(void)
{
	struct cb_protocol *p = load_mini();

	T_ASSERT(p);
	reset();
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-01 LOG.AE#1.AETERM=Rash "
		     "LOG.AE#1.AESTDTC=2024-03-10 LOG.AE#1.AEENDTC=2024-03-09 "
		     "LOG.AE#1.AESER=N"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_END_AFTER_ONSET", "AE.AEENDTC"));
	T_EQ_STR(found("AE_END_AFTER_ONSET", NULL)->message,
		 "end before onset");
	T_EQ_INT(res.nhard, 1);
	/* Partial end date that may be after onset: passes. */
	T_ASSERT(set("LOG.AE#1.AEENDTC=2024-03"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* Ongoing with an end date. */
	T_ASSERT(set("LOG.AE#1.AEONGO=Y"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_ONGOING_NO_END", "AE.AEENDTC"));
	/* Not ongoing and no end date: a soft query. */
	T_ASSERT(set("LOG.AE#1.AEONGO=N LOG.AE#1.AEENDTC="));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_END_REQUIRED", "AE.AEENDTC"));
	T_EQ_INT(res.nhard, 0);
	/* Serious without a criterion, then with one. */
	T_ASSERT(set("LOG.AE#1.AEONGO=Y LOG.AE#1.AESER=Y"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_SER_CRIT", NULL));
	T_EQ_INT(found("AE_SER_CRIT", NULL)->severity, CB_SEVERITY_HARD);
	T_ASSERT(set("LOG.AE#1.AESHOSP=Y"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(!found("AE_SER_CRIT", NULL));
	/* Fatal: grade 5 and death. */
	T_ASSERT(set("LOG.AE#1.AEOUT=FATAL LOG.AE#1.AETOXGR=3"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_FATAL", "AE.AETOXGR"));
	T_ASSERT(set("LOG.AE#1.AETOXGR=5 LOG.AE#1.AESDTH=Y"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* A grade outside 1..5 is a hard range failure. */
	T_ASSERT(set("LOG.AE#1.AETOXGR=6"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found(CB_CHECK_ID_RANGE, "AE.AETOXGR"));
	/* A choice code the list lacks is malformed. */
	T_ASSERT(set("LOG.AE#1.AETOXGR=5 LOG.AE#1.AEOUT=DEAD"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found(CB_CHECK_ID_FORMAT, "AE.AEOUT"));
}

static void test_json_dates_windows(void)
{
	struct cb_protocol *p = load_mini();

	T_ASSERT(p);
	reset();
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-10 SCR.SV.VISDT=2024-01-12 "
		     "BL.SV.VISDT=2024-02-01 M1.SV.VISDT=2024-03-02 "
		     "LOG.AE#4.AETERM=x LOG.AE#4.AESTDTC=2024 "
		     "LOG.AE#4.AEENDTC=2023-12 LOG.AE#4.AESER=N"));
	/* Day 30 in 25..35. */
	T_EQ_INT(run_form(p, "M1", "SV", 0), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	T_ASSERT(set("M1.SV.VISDT=2024-03-08")); /* day 36 */
	T_EQ_INT(run_form(p, "M1", "SV", 0), 0);
	T_ASSERT(found("SV_WINDOW", "SV.VISDT"));
	T_EQ_INT(found("SV_WINDOW", NULL)->severity, CB_SEVERITY_SOFT);
	/* Screening on day 0 is outside -28..-1. */
	T_ASSERT(set("SCR.SV.VISDT=2024-02-01"));
	T_EQ_INT(run_form(p, "SCR", "SV", 0), 0);
	T_ASSERT(found("SV_WINDOW", NULL));
	/* Without day 0 there is no window to be outside of. */
	T_ASSERT(set("BL.SV.VISDT="));
	T_EQ_INT(run_form(p, "M1", "SV", 0), 0);
	T_ASSERT(!found("SV_WINDOW", NULL));
	/* Every date on or after consent: the AE onset "2024" may be after
	 * 2024-01-10, its end 2023-12 certainly is not. */
	T_EQ_INT(run_form(p, "LOG", "AE", 4), 0);
	T_ASSERT(found("AFTER_CONSENT", "AE.AEENDTC"));
	T_ASSERT(!found("AFTER_CONSENT", "AE.AESTDTC"));
	T_ASSERT(
	    found("AE_END_AFTER_ONSET", "AE.AEENDTC")); /* 2023-12 < 2024 */
	T_ASSERT(set("SCR.SV.VISDT=2024-01-09"));
	T_EQ_INT(run_form(p, "SCR", "SV", 0), 0);
	T_ASSERT(found("AFTER_CONSENT", "SV.VISDT"));
}

static void test_json_numbers(void)
{
	struct cb_protocol *p = load_mini();

	T_ASSERT(p);
	reset();
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-10 SCR.DM.WEIGHT=72.5"));
	T_EQ_INT(run_form(p, "SCR", "DM", 0), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	T_ASSERT(set("SCR.DM.WEIGHT=160.0"));
	T_EQ_INT(run_form(p, "SCR", "DM", 0), 0);
	T_ASSERT(found(CB_CHECK_ID_SOFT_RANGE, "DM.WEIGHT"));
	T_EQ_INT(res.nhard, 0);
	T_ASSERT(set("SCR.DM.WEIGHT=251"));
	T_EQ_INT(run_form(p, "SCR", "DM", 0), 0);
	T_ASSERT(found(CB_CHECK_ID_RANGE, "DM.WEIGHT"));
	T_ASSERT(set("SCR.DM.WEIGHT=72.55"));
	T_EQ_INT(run_form(p, "SCR", "DM", 0), 0);
	T_ASSERT(found(CB_CHECK_ID_FORMAT, "DM.WEIGHT"));
	/* not_in compares numbers: 111.0 is 111. */
	T_ASSERT(set("SCR.DM.WEIGHT=111.0"));
	T_EQ_INT(run_form(p, "SCR", "DM", 0), 0);
	T_ASSERT(found("WEIGHT_NOT_PLACEHOLDER", "DM.WEIGHT"));
	T_ASSERT(set("SCR.DM.WEIGHT=99.8"));
	T_EQ_INT(run_form(p, "SCR", "DM", 0), 0);
	T_ASSERT(!found("WEIGHT_NOT_PLACEHOLDER", NULL));
	/* A fixed VISIT.FORM.ITEM reference: M1 against BL. */
	T_ASSERT(set("BL.VAS.VAS=40 M1.VAS.VAS=41"));
	T_EQ_INT(run_form(p, "M1", "VAS", 0), 0);
	T_ASSERT(found("VAS_VS_BL", "VAS.VAS"));
	T_ASSERT(set("M1.VAS.VAS=40"));
	T_EQ_INT(run_form(p, "M1", "VAS", 0), 0);
	T_ASSERT(!found("VAS_VS_BL", NULL));
	T_EQ_INT(run_form(p, "BL", "VAS", 0), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
}

static void test_json_eligibility(void)
{
	struct cb_protocol *p = load_mini();
	struct cb_check_elig e;
	struct cb_err err;

	T_ASSERT(p);
	reset();
	cb_check_elig_init(&e);
	T_ASSERT(set("SCR.ELIG.AGE=60 SCR.ELIG.INFL=N"));
	T_EQ_INT(cb_check_eligibility(p, &src, &e, &err), 0);
	/* Consent (another form at the same visit) is missing. */
	T_EQ_INT(e.status, CB_ELIG_INCOMPLETE);
	T_ASSERT(has_rule(&e, "CONSENTED", 0));
	T_ASSERT(has_missing(&e, "CONSDT"));
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-01"));
	T_EQ_INT(cb_check_eligibility(p, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_YES);
	T_ASSERT(set("SCR.ELIG.AGE=39 SCR.ELIG.INFL=Y"));
	T_EQ_INT(cb_check_eligibility(p, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_NO);
	T_EQ_INT(e.nfailed, 2);
	T_EQ_STR(e.failed[0]->id, "INC_AGE");
	T_EQ_STR(e.failed[0]->label, "Age 40 to 75");
	T_EQ_STR(e.failed[1]->id, "EXC_INFL");
	T_EQ_INT(e.missing.count, 0);
	cb_check_elig_release(&e);
}

static const struct cb_check_score *
score_named(const struct cb_check_scores *sc, const char *name)
{
	size_t i;

	for (i = 0; i < sc->count; i++)
		if (!strcmp(sc->list[i].name, name))
			return &sc->list[i];
	return NULL;
}

static void test_json_scores_status(void)
{
	struct cb_protocol *p = load_mini();
	const struct cb_protocol_visit *bl;
	const struct cb_protocol_form *w;
	struct cb_check_scores sc;
	enum cb_form_status st;
	struct cb_err err;
	char buf[64];
	size_t i;

	T_ASSERT(p);
	reset();
	cb_check_scores_init(&sc);
	bl = cb_protocol_find_visit(p, "BL");
	w = cb_protocol_find_form(p, "WOMAC");
	T_ASSERT(bl && w);
	T_EQ_INT(cb_check_form_status(p, &src, bl, w, 0, &st, NULL, &err), 0);
	T_EQ_INT(st, CB_FORM_EMPTY);
	/* Every item 1, except P1 = 3: pain 7, stiffness 2, function 17. */
	for (i = 0; i < 24; i++) {
		snprintf(buf, sizeof(buf), "BL.WOMAC.%s=%d", womac_items[i],
			 i == 0 ? 3 : 1);
		T_ASSERT(set(buf));
	}
	T_EQ_INT(cb_check_scores(p, &src, bl, w, 0, &sc, &err), 0);
	T_EQ_INT(sc.count, 4);
	T_EQ_STR(sc.list[0].name, "WOMAC_pain");
	T_EQ_STR(sc.list[0].output, "pain");
	T_ASSERT(sc.list[0].valid && fabs(sc.list[0].value - 7) < 1e-9);
	T_ASSERT(fabs(score_named(&sc, "WOMAC_stiffness")->value - 2) < 1e-9);
	T_ASSERT(fabs(score_named(&sc, "WOMAC_function")->value - 17) < 1e-9);
	T_ASSERT(fabs(score_named(&sc, "WOMAC_total")->value - 26) < 1e-9);
	T_EQ_INT(cb_check_form_status(p, &src, bl, w, 0, &st, NULL, &err), 0);
	T_EQ_INT(st, CB_FORM_COMPLETE); /* no item is required */

	/* One pain item missing: mean of the other four (1.5) imputed:
	 * pain = 1.5 x 5 = 7.5; total 26.5. */
	T_ASSERT(set("BL.WOMAC.P2="));
	T_EQ_INT(cb_check_scores(p, &src, bl, w, 0, &sc, &err), 0);
	T_ASSERT(fabs(score_named(&sc, "WOMAC_pain")->value - 7.5) < 1e-9);
	T_ASSERT(fabs(score_named(&sc, "WOMAC_total")->value - 26.5) < 1e-9);
	/* Two missing: pain and total are null, the others stay. */
	T_ASSERT(set("BL.WOMAC.P3="));
	T_EQ_INT(cb_check_scores(p, &src, bl, w, 0, &sc, &err), 0);
	T_ASSERT(!score_named(&sc, "WOMAC_pain")->valid);
	T_ASSERT(!score_named(&sc, "WOMAC_total")->valid);
	T_ASSERT(score_named(&sc, "WOMAC_stiffness")->valid);
	/* A stored value outside 0..4 invalidates its subscale. */
	T_ASSERT(set("BL.WOMAC.P2=1 BL.WOMAC.P3=1 BL.WOMAC.S1=5"));
	T_EQ_INT(cb_check_scores(p, &src, bl, w, 0, &sc, &err), 0);
	T_ASSERT(score_named(&sc, "WOMAC_pain")->valid);
	T_ASSERT(!score_named(&sc, "WOMAC_stiffness")->valid);

	/* VAS: default name, the output is the method's own name. */
	T_ASSERT(set("BL.VAS.VAS=35"));
	T_EQ_INT(cb_check_scores(p, &src, bl, cb_protocol_find_form(p, "VAS"),
				 0, &sc, &err),
		 0);
	T_EQ_INT(sc.count, 1);
	T_EQ_STR(sc.list[0].name, "vas");
	T_ASSERT(fabs(sc.list[0].value - 35) < 1e-9);
	cb_check_scores_release(&sc);
}

/* ------------------------------------------------------------------ */
/* The shipped study.                                                  */

static struct cb_protocol *knee;

static struct cb_protocol *load_knee(void)
{
	const char *top = getenv("CASEBOOK_TOP");
	struct cb_protocol_problems pr;
	char path[1024];
	struct cb_err err;
	size_t i;

	if (knee)
		return knee;
	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json",
		 top ? top : ".");
	cb_protocol_problems_init(&pr);
	if (cb_protocol_load_file(path, &knee, &pr, &err)) {
		for (i = 0; i < pr.count; i++)
			printf("# knee: %s\n", pr.msgs[i]);
		printf("# knee: %s\n", err.msg);
		knee = NULL;
	}
	cb_protocol_problems_release(&pr);
	return knee;
}

/* A failure of a declared check of that type on that item, or NULL. */
static const struct cb_check_result *found_type(enum cb_check_type type,
						const char *path)
{
	size_t i;

	for (i = 0; i < res.count; i++)
		if (res.list[i].check && res.list[i].check->type == type &&
		    !strcmp(res.list[i].path, path))
			return &res.list[i];
	return NULL;
}

/* A complete, valid, non-serious AE #1 after consent. */
static const char knee_ae[] =
    "SCR.DM.CONSDT=2024-01-05 LOG.AE#1.AETERM=Knee_swelling "
    "LOG.AE#1.AESTDTC=2024-03-10 LOG.AE#1.AEENDTC=2024-03-20 "
    "LOG.AE#1.AEONGO=N LOG.AE#1.AETOXGR=2 LOG.AE#1.AESEV=MOD "
    "LOG.AE#1.AESER=N LOG.AE#1.AEREL=POSSIBLE LOG.AE#1.AERELPR=UNLIKELY "
    "LOG.AE#1.AEACN=NONE LOG.AE#1.AEOUT=RECOVERED";

static void test_knee_ae(void)
{
	struct cb_protocol *p = load_knee();
	const struct cb_check_result *r;

	T_ASSERT(p);
	reset();
	T_ASSERT(set(knee_ae));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);

	/* End before onset: hard; a partial end that may be after: none. */
	T_ASSERT(set("LOG.AE#1.AEENDTC=2024-03-09"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	r = found_type(CB_CHECK_COMPARE, "AE.AEENDTC");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD);
	T_ASSERT(set("LOG.AE#1.AESTDTC=2024-03 LOG.AE#1.AEENDTC=2024-03-02"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);

	/* Onset before consent: the "*" date check, hard. */
	T_ASSERT(set("LOG.AE#1.AESTDTC=2023-12"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	r = found_type(CB_CHECK_COMPARE, "AE.AESTDTC");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD);
	T_ASSERT(set("LOG.AE#1.AESTDTC=2024"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);

	/* Ongoing forbids an end date. */
	T_ASSERT(set("LOG.AE#1.AEONGO=Y"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found_type(CB_CHECK_FORBIDDEN, "AE.AEENDTC"));
	T_ASSERT(set("LOG.AE#1.AEENDTC="));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);

	/* Serious requires a criterion; a criterion requires serious. */
	T_ASSERT(set("LOG.AE#1.AESER=Y"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard, 1);
	T_ASSERT(res.list[0].check &&
		 res.list[0].check->type == CB_CHECK_AT_LEAST_ONE);
	T_ASSERT(set("LOG.AE#1.AESHOSP=Y"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	T_ASSERT(set("LOG.AE#1.AESER=N"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found_type(CB_CHECK_COMPARE, "AE.AESER"));

	/* Fatal requires grade 5 and the death criterion. */
	T_ASSERT(
	    set("LOG.AE#1.AESER=Y LOG.AE#1.AEONGO=N "
		"LOG.AE#1.AEENDTC=2024-04-02 LOG.AE#1.AEOUT=FATAL "
		"LOG.AE#1.AETOXGR=4 LOG.AE#1.AESEV=SEV LOG.AE#1.AESDTH=N"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_FATAL_GRADE5", NULL));
	T_ASSERT(found("AE_FATAL_DEATH", NULL));
	T_EQ_INT(res.nhard, 2);
	/* The death criterion left blank does not slip through, whether
	 * the outcome or the grade asks for it. */
	T_ASSERT(set("LOG.AE#1.AETOXGR=5 LOG.AE#1.AESDTH="));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_FATAL_DEATH", NULL));
	T_ASSERT(found("AE_GRADE5_DEATH", NULL));
	T_EQ_INT(res.nhard, 2);
	T_ASSERT(set("LOG.AE#1.AETOXGR=5 LOG.AE#1.AESDTH=Y"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* Grade 5 is death: another outcome is refused (TRIAL.md: hard). */
	T_ASSERT(set("LOG.AE#1.AEOUT=RECOVERED_SEQ"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	r = found("AE_GRADE5_FATAL", "AE.AEOUT");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD);
	T_EQ_INT(res.nhard, 1);
	/* ... and so is a grade 5 AE that is not serious. */
	T_ASSERT(set("LOG.AE#1.AEOUT=FATAL LOG.AE#1.AESER=N "
		     "LOG.AE#1.AESDTH= LOG.AE#1.AESHOSP="));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	r = found("AE_GRADE5_SERIOUS", "AE.AESER");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD);
	T_ASSERT(found("AE_GRADE5_DEATH", NULL));
	/* Grade 4 reported as mild: a query (soft), on the grade. */
	T_ASSERT(set("LOG.AE#1.AESER=N LOG.AE#1.AEOUT=RECOVERED "
		     "LOG.AE#1.AETOXGR=4 LOG.AE#1.AESEV=MILD"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard, 0);
	r = found("AE_GRADE_SEVERITY", "AE.AETOXGR");
	T_ASSERT(r && r->severity == CB_SEVERITY_SOFT);
	T_EQ_INT(res.nsoft, 1);
	T_ASSERT(set("LOG.AE#1.AETOXGR=1"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	T_ASSERT(set("LOG.AE#1.AETOXGR=3 LOG.AE#1.AESEV=SEV"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	T_ASSERT(set("LOG.AE#1.AESEV=MOD"));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	T_ASSERT(found("AE_GRADE_SEVERITY", "AE.AETOXGR"));
	/* No consent date on record: an AE is refused. */
	T_ASSERT(set("LOG.AE#1.AESEV=SEV SCR.DM.CONSDT="));
	T_EQ_INT(run_form(p, "LOG", "AE", 1), 0);
	r = found("AE_CONSENT", "AE");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD);
	T_EQ_INT(res.nhard + res.nsoft, 1);
}

static void test_knee_visits(void)
{
	struct cb_protocol *p = load_knee();
	const struct cb_check_result *r;

	T_ASSERT(p);
	reset();
	/* Day 0 2024-02-01: INJ is days 14..28, 02-15..02-29. */
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-05 SCR.SV.VISDT=2024-01-08 "
		     "BL.SV.VISDT=2024-02-01 INJ.SV.VISDT=2024-02-29"));
	T_EQ_INT(run_form(p, "INJ", "SV", 0), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	T_ASSERT(set("INJ.SV.VISDT=2024-03-01"));
	T_EQ_INT(run_form(p, "INJ", "SV", 0), 0);
	r = found_type(CB_CHECK_VISIT_WINDOW, "SV.VISDT");
	T_ASSERT(r && r->severity == CB_SEVERITY_SOFT);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(run_form(p, "SCR", "SV", 0), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* A visit before consent is refused. */
	T_ASSERT(set("SCR.SV.VISDT=2024-01-04"));
	T_EQ_INT(run_form(p, "SCR", "SV", 0), 0);
	r = found_type(CB_CHECK_COMPARE, "SV.VISDT");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD);

	/* Dosing: the kit must be the subject's, a date-time compares with
	 * the visit date by its date part, volume has a soft range. */
	T_ASSERT(set("SCR.DM.KNEE=L BL.RAND.KITNO=K-1001 "
		     "INJ.SV.VISDT=2024-02-22 INJ.DOSE.EXDTC=2024-02-22T10:15 "
		     "INJ.DOSE.KITNO=K-1001 INJ.DOSE.EXVOL=3.0 "
		     "INJ.DOSE.EXKNEE=L INJ.DOSE.EXLOT=LOT7 "
		     "INJ.DOSE.IMMREACT=N"));
	T_EQ_INT(run_form(p, "INJ", "DOSE", 0), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	T_ASSERT(set("INJ.DOSE.KITNO=K-1002 INJ.DOSE.EXVOL=4.0 "
		     "INJ.DOSE.EXDTC=2024-02-23T09:00"));
	T_EQ_INT(run_form(p, "INJ", "DOSE", 0), 0);
	r = found_type(CB_CHECK_COMPARE, "DOSE.KITNO");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD);
	T_ASSERT(found(CB_CHECK_ID_SOFT_RANGE, "DOSE.EXVOL"));
	r = found_type(CB_CHECK_COMPARE, "DOSE.EXDTC");
	T_ASSERT(r && r->severity == CB_SEVERITY_SOFT);
	T_EQ_INT(res.nhard, 1);

	/* Hard ranges. */
	T_ASSERT(set("M6.VAS.VAS=101"));
	T_EQ_INT(run_form(p, "M6", "VAS", 0), 0);
	T_ASSERT(found(CB_CHECK_ID_RANGE, "VAS.VAS"));
}

static void test_knee_eligibility(void)
{
	struct cb_protocol *p = load_knee();
	struct cb_check_elig e;
	struct cb_err err;
	size_t i;

	T_ASSERT(p);
	reset();
	cb_check_elig_init(&e);
	T_ASSERT(set("SCR.ELIG.AGE=55 SCR.ELIG.KLGRADE=2 SCR.ELIG.PAIN3M=Y "
		     "SCR.ELIG.BMI=28.5 SCR.ELIG.IAINJ3M=N "
		     "SCR.ELIG.INFLARTH=N SCR.ELIG.PREG=NA"));
	T_EQ_INT(cb_check_eligibility(p, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_YES);

	T_ASSERT(set("SCR.ELIG.AGE=80 SCR.ELIG.KLGRADE=4 SCR.ELIG.BMI=35.1"));
	T_EQ_INT(cb_check_eligibility(p, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_NO);
	T_EQ_INT(e.nfailed, 3);
	for (i = 0; i < e.nfailed; i++)
		T_ASSERT(e.failed[i]->label && *e.failed[i]->label);
	T_ASSERT(has_rule(&e, "AGE", 1) && has_rule(&e, "KLGRADE", 1) &&
		 has_rule(&e, "BMI", 1));

	T_ASSERT(set("SCR.ELIG.AGE=75 SCR.ELIG.KLGRADE=3 SCR.ELIG.BMI= "
		     "SCR.ELIG.PREG="));
	T_EQ_INT(cb_check_eligibility(p, &src, &e, &err), 0);
	T_EQ_INT(e.status, CB_ELIG_INCOMPLETE);
	T_EQ_INT(e.nfailed, 0);
	T_ASSERT(has_missing(&e, "BMI") && has_missing(&e, "PREG"));
	T_ASSERT(has_rule(&e, "BMI", 0));
	cb_check_elig_release(&e);
}

static void test_knee_status_scores(void)
{
	struct cb_protocol *p = load_knee();
	const struct cb_protocol_visit *m6, *log;
	struct cb_check_items miss;
	struct cb_check_scores sc;
	enum cb_form_status st;
	struct cb_err err;
	char buf[64];
	int i;

	T_ASSERT(p);
	reset();
	cb_check_items_init(&miss);
	cb_check_scores_init(&sc);
	log = cb_protocol_find_visit(p, "LOG");
	m6 = cb_protocol_find_visit(p, "M6");
	T_ASSERT(log && m6);
	T_ASSERT(set(knee_ae));
	T_EQ_INT(cb_check_form_status(p, &src, log,
				      cb_protocol_find_form(p, "AE"), 1, &st,
				      NULL, &err),
		 0);
	T_EQ_INT(st, CB_FORM_COMPLETE);
	/* Not ongoing and no end date: partial; ongoing: complete. */
	T_ASSERT(set("LOG.AE#1.AEENDTC="));
	T_EQ_INT(cb_check_form_status(p, &src, log,
				      cb_protocol_find_form(p, "AE"), 1, &st,
				      &miss, &err),
		 0);
	T_EQ_INT(st, CB_FORM_PARTIAL);
	T_EQ_INT(miss.count, 1);
	T_EQ_STR(miss.list[0].item->code, "AEENDTC");
	T_ASSERT(set("LOG.AE#1.AEONGO=Y"));
	T_EQ_INT(cb_check_form_status(p, &src, log,
				      cb_protocol_find_form(p, "AE"), 1, &st,
				      NULL, &err),
		 0);
	T_EQ_INT(st, CB_FORM_COMPLETE);

	/* KOOS at M6: pain 5 of 9 answered (valid), symptoms 3 of 7 (not). */
	for (i = 1; i <= 5; i++) {
		snprintf(buf, sizeof(buf), "M6.KOOS.P%d=%d", i, i % 2 ? 1 : 2);
		T_ASSERT(set(buf));
	}
	for (i = 1; i <= 3; i++) {
		snprintf(buf, sizeof(buf), "M6.KOOS.S%d=0", i);
		T_ASSERT(set(buf));
	}
	T_EQ_INT(cb_check_scores(p, &src, m6, cb_protocol_find_form(p, "KOOS"),
				 0, &sc, &err),
		 0);
	T_EQ_INT(sc.count, 5);
	/* mean(1,2,1,2,1) = 1.4; 100 - 35 = 65. */
	T_EQ_STR(sc.list[0].name, "koos_pain");
	T_ASSERT(sc.list[0].valid && fabs(sc.list[0].value - 65) < 1e-9);
	T_EQ_STR(sc.list[1].name, "koos_symptoms");
	T_ASSERT(!sc.list[1].valid);
	T_EQ_INT(cb_check_form_status(p, &src, m6,
				      cb_protocol_find_form(p, "KOOS"), 0, &st,
				      NULL, &err),
		 0);
	T_EQ_INT(st, CB_FORM_COMPLETE); /* no KOOS item is required */
	cb_check_scores_release(&sc);
	cb_check_items_release(&miss);
}

/* ------------------------------------------------------------------ */
/* Saves: related checks, today, age.                                  */

/*
 * Check a save of "ITEM=VALUE ..." (VALUE empty: cleared) into instance
 * `instance` of FORM at VISIT over the values in `vals`, as record.c
 * does: an overlay over the source, cb_check_save with today (or NULL).
 * `base` NULL reads `src`.
 */
static int run_save_from(const struct cb_protocol *p,
			 const struct cb_check_source *base,
			 const char *visit_code, const char *form_code,
			 unsigned instance, const char *changes,
			 const char *today)
{
	static char buf[1024];
	struct cb_check_change ch[16];
	struct cb_check_context ctx;
	struct cb_check_overlay o;
	struct cb_check_source over;
	const struct cb_protocol_visit *v;
	const struct cb_protocol_form *f;
	struct cb_err err;
	size_t n = 0, len;
	char *tok, *eq;

	v = cb_protocol_find_visit(p, visit_code);
	f = cb_protocol_find_form(p, form_code);
	if (!v || !f || strlen(changes) >= sizeof(buf))
		return -100;
	snprintf(buf, sizeof(buf), "%s", changes);
	for (tok = buf; *tok && n < 16; tok += len) {
		len = strcspn(tok, " ");
		if (tok[len])
			tok[len++] = '\0';
		if (!*tok)
			continue;
		eq = strchr(tok, '=');
		if (!eq)
			return -101;
		*eq = '\0';
		ch[n].item = tok;
		ch[n].value = eq[1] ? eq + 1 : NULL;
		n++;
	}
	o.base = base ? base : &src;
	o.visit = visit_code;
	o.form = form_code;
	o.instance = instance;
	o.nchanges = n;
	o.changes = ch;
	over = cb_check_overlay_source(&o);
	ctx.today = today;
	ctx.nchanges = n;
	ctx.changes = ch;
	cb_check_results_release(&res);
	cb_check_results_init(&res);
	cb_err_clear(&err);
	return cb_check_save(p, &over, v, f, instance, &ctx, &res, &err);
}

static int run_save(const struct cb_protocol *p, const char *visit_code,
		    const char *form_code, unsigned instance,
		    const char *changes, const char *today)
{
	return run_save_from(p, NULL, visit_code, form_code, instance, changes,
			     today);
}

/*
 * Consent on or before every other date, whichever is saved last: the
 * same hard verdict, located on the other form instance when the consent
 * date comes second; only the instances that break it fail.
 */
static void test_knee_consent_both_orders(void)
{
	struct cb_protocol *p = load_knee();
	const struct cb_check_result *r;

	T_ASSERT(p);
	/* Consent first, then a visit before it: refused. */
	reset();
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-10"));
	T_EQ_INT(run_save(p, "SCR", "SV", 0, "VISDT=2024-01-05", NULL), 0);
	r = found("CONSENT_FIRST_SV", "SV.VISDT");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD && !r->elsewhere);
	T_EQ_INT(res.nhard, 1);

	/* The visit (and an AE) first, then the consent date after them. */
	reset();
	T_ASSERT(set("SCR.SV.VISDT=2024-01-05 BL.SV.VISDT=2024-02-01 "
		     "LOG.AE#1.AESTDTC=2024-01-07 LOG.AE#2.AESTDTC=2024-03"));
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "CONSDT=2024-01-10", NULL), 0);
	r = found("CONSENT_FIRST_SV", "SCR.SV.VISDT");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD && r->elsewhere);
	T_EQ_STR(r->visit->code, "SCR");
	T_EQ_STR(r->form->code, "SV");
	T_EQ_INT(r->instance, 0);
	T_EQ_STR(r->item->code, "VISDT");
	r = found("CONSENT_FIRST_AE", "LOG.AE#1.AESTDTC");
	T_ASSERT(r && r->elsewhere && r->instance == 1);
	T_EQ_STR(r->form->code, "AE");
	/* BL (after consent) and AE#2 (2024-03) pass. */
	T_EQ_INT(res.nhard, 2);
	T_EQ_INT(res.nsoft, 0);
	/* A consent date before them all passes. */
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "CONSDT=2024-01-05", NULL), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);

	/* With a visit already before consent (two laptops merged), a save
	 * that leaves the consent date alone is not blocked by it. */
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-10"));
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "HEIGHT=170", NULL), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* cb_check_form knows no changes: no related check runs. */
	T_EQ_INT(run_form(p, "SCR", "DM", 0), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);

	/* Clearing the consent date while adverse events need it. */
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "CONSDT=", NULL), 0);
	r = found("AE_CONSENT", "LOG.AE#1");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD && r->elsewhere);
	T_ASSERT(found("AE_CONSENT", "LOG.AE#2"));
	T_EQ_INT(res.nhard, 2);
}

/* Visit windows and the randomization window move with the baseline. */
static void test_knee_windows_both_orders(void)
{
	struct cb_protocol *p = load_knee();
	const struct cb_check_result *r;

	T_ASSERT(p);
	reset();
	/* Baseline 2024-02-01: INJ on day 28 and randomization on day 0. */
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-05 BL.SV.VISDT=2024-02-01 "
		     "BL.RAND.RANDDTC=2024-02-01T09:30 "
		     "INJ.SV.VISDT=2024-02-29"));
	T_EQ_INT(run_save(p, "BL", "SV", 0, "VISDT=2024-02-01", NULL), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* The baseline moves a week later: INJ is on day 21 (inside), the
	 * randomization on day -7 (outside: soft, on RAND). */
	T_EQ_INT(run_save(p, "BL", "SV", 0, "VISDT=2024-02-08", NULL), 0);
	r = found("RAND_WINDOW", "BL.RAND.RANDDTC");
	T_ASSERT(r && r->severity == CB_SEVERITY_SOFT && r->elsewhere);
	T_EQ_STR(r->visit->code, "BL");
	T_EQ_STR(r->form->code, "RAND");
	T_EQ_INT(res.nsoft, 1);
	T_EQ_INT(res.nhard, 0);
	/* A week earlier: INJ on day 35 is outside its window. */
	T_EQ_INT(run_save(p, "BL", "SV", 0, "VISDT=2024-01-25", NULL), 0);
	r = found("SV_WINDOW", "INJ.SV.VISDT");
	T_ASSERT(r && r->severity == CB_SEVERITY_SOFT && r->elsewhere);
	T_EQ_STR(r->visit->code, "INJ");
	T_ASSERT(found("RAND_WINDOW", "BL.RAND.RANDDTC"));
	T_EQ_INT(res.nsoft, 2);
	/* The other order gives the same queries, on the same items. */
	T_ASSERT(set("BL.SV.VISDT=2024-01-25"));
	T_EQ_INT(run_save(p, "INJ", "SV", 0, "VISDT=2024-02-29", NULL), 0);
	r = found("SV_WINDOW", "SV.VISDT");
	T_ASSERT(r && r->severity == CB_SEVERITY_SOFT && !r->elsewhere);
	T_EQ_INT(res.nsoft, 1);
	T_EQ_INT(run_form(p, "BL", "RAND", 0), 0);
	T_ASSERT(found("RAND_WINDOW", "RAND.RANDDTC"));
}

/* No visit after the end of study, whichever is saved last. */
static void test_knee_eos_both_orders(void)
{
	struct cb_protocol *p = load_knee();
	const struct cb_check_result *r;

	T_ASSERT(p);
	reset();
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-05 BL.SV.VISDT=2024-02-01 "
		     "M1.SV.VISDT=2024-03-20"));
	T_EQ_INT(run_save(p, "LOG", "EOS", 0,
			  "EOSSTAT=WITHDREW EOSDT=2024-03-01 EOSREAS=moved",
			  NULL),
		 0);
	r = found("SV_BEFORE_EOS", "M1.SV.VISDT");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD && r->elsewhere);
	T_EQ_INT(res.nhard, 1); /* BL is before the end of study */
	T_EQ_INT(run_save(p, "LOG", "EOS", 0,
			  "EOSSTAT=WITHDREW EOSDT=2024-03-20 EOSREAS=moved",
			  NULL),
		 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* End of study first, then a visit after it. */
	T_ASSERT(set("M1.SV.VISDT= LOG.EOS.EOSSTAT=WITHDREW "
		     "LOG.EOS.EOSDT=2024-03-01 LOG.EOS.EOSREAS=moved"));
	T_EQ_INT(run_save(p, "M1", "SV", 0, "VISDT=2024-03-20", NULL), 0);
	r = found("SV_BEFORE_EOS", "SV.VISDT");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD && !r->elsewhere);
	/* An end of study needs a consent date on record. */
	T_ASSERT(set("SCR.DM.CONSDT="));
	T_EQ_INT(run_form(p, "LOG", "EOS", 0), 0);
	r = found("EOS_CONSENT", "EOS");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD);
}

/* AGE against the birth year and the consent date, from either side. */
static void test_knee_age(void)
{
	struct cb_protocol *p = load_knee();
	const struct cb_check_result *r;

	T_ASSERT(p);
	reset();
	T_ASSERT(set("SCR.DM.BRTHYR=1960 SCR.DM.CONSDT=2024-01-10"));
	T_EQ_INT(run_save(p, "SCR", "ELIG", 0, "AGE=63", NULL), 0);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(run_save(p, "SCR", "ELIG", 0, "AGE=64", NULL), 0);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(run_save(p, "SCR", "ELIG", 0, "AGE=62", NULL), 0);
	r = found("AGE_BIRTH_YEAR", "ELIG.AGE");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD && !r->elsewhere);
	T_EQ_INT(run_save(p, "SCR", "ELIG", 0, "AGE=65", NULL), 0);
	T_ASSERT(found("AGE_BIRTH_YEAR", "ELIG.AGE"));
	/* Age first; a birth year or consent date that disagrees later. */
	T_ASSERT(set("SCR.ELIG.AGE=63"));
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "BRTHYR=1950", NULL), 0);
	r = found("AGE_BIRTH_YEAR", "SCR.ELIG.AGE");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD && r->elsewhere);
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "CONSDT=2026-01-10", NULL), 0);
	T_ASSERT(found("AGE_BIRTH_YEAR", "SCR.ELIG.AGE"));
	/* Nothing to compare with yet: passes. */
	T_ASSERT(set("SCR.DM.CONSDT="));
	T_EQ_INT(run_save(p, "SCR", "ELIG", 0, "AGE=20", NULL), 0);
	T_EQ_INT(res.nhard, 0);

	/* A `when` reading another form relates it too: pregnancy answered
	 * N, then the sex recorded as M, opens the query on PREG. */
	reset();
	T_ASSERT(set("SCR.ELIG.PREG=N"));
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "SEX=F", NULL), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "SEX=M", NULL), 0);
	r = found("ELIG_PREG_MALE", "SCR.ELIG.PREG");
	T_ASSERT(r && r->severity == CB_SEVERITY_SOFT && r->elsewhere);
	T_EQ_INT(res.nsoft, 1);
}

/* No date after today plus one day, on every date of every form. */
static void test_knee_not_future(void)
{
	struct cb_protocol *p = load_knee();
	const struct cb_check_result *r;
	struct cb_err err;

	T_ASSERT(p);
	reset();
	T_ASSERT(set("SCR.DM.CONSDT=2024-01-05"));
	/* Today 2024-03-10: the 11th is allowed (the device's date plus
	 * one day), the 12th is not. */
	T_EQ_INT(run_save(p, "BL", "SV", 0, "VISDT=2024-03-11", "2024-03-10"),
		 0);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(run_save(p, "BL", "SV", 0, "VISDT=2024-03-12", "2024-03-10"),
		 0);
	r = found("NO_FUTURE_DATE", "SV.VISDT");
	T_ASSERT(r && r->severity == CB_SEVERITY_HARD);
	/* Without a today (cb_check_form) the check does not run. */
	T_ASSERT(set("BL.SV.VISDT=2024-03-12"));
	T_EQ_INT(run_form(p, "BL", "SV", 0), 0);
	T_ASSERT(!found("NO_FUTURE_DATE", NULL));
	/* Partial dates fail only when certainly after. */
	T_EQ_INT(run_save(p, "LOG", "AE", 1, "AETERM=x AESTDTC=2024-03",
			  "2024-03-10"),
		 0);
	T_ASSERT(!found("NO_FUTURE_DATE", NULL));
	T_EQ_INT(run_save(p, "LOG", "AE", 1, "AETERM=x AESTDTC=2024-04",
			  "2024-03-10"),
		 0);
	T_ASSERT(found("NO_FUTURE_DATE", "AE.AESTDTC"));
	T_EQ_INT(
	    run_save(p, "LOG", "AE", 1, "AETERM=x AESTDTC=2025", "2024-03-10"),
	    0);
	T_ASSERT(found("NO_FUTURE_DATE", "AE.AESTDTC"));
	/* A date-time by its date; the consent date too. */
	T_EQ_INT(run_save(p, "INJ", "DOSE", 0, "EXDTC=2024-03-11T23:59",
			  "2024-03-10"),
		 0);
	T_ASSERT(!found("NO_FUTURE_DATE", NULL));
	T_EQ_INT(run_save(p, "INJ", "DOSE", 0, "EXDTC=2024-03-12T00:00",
			  "2024-03-10"),
		 0);
	T_ASSERT(found("NO_FUTURE_DATE", "DOSE.EXDTC"));
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "CONSDT=2024-12-01", "2024-03-10"),
		 0);
	T_ASSERT(found("NO_FUTURE_DATE", "DM.CONSDT"));
	/* A today that is not a date is the caller's error. */
	cb_err_clear(&err);
	T_EQ_INT(run_save(p, "SCR", "DM", 0, "HEIGHT=170", "2024-03"),
		 CB_EINVAL);
}

/*
 * A generic study for the engine: FORM.ITEM and VISIT.FORM.ITEM
 * references from a repeating form, an age from a birth date, a check on
 * every form.
 */
/* clang-format off */
static const char rel_json[] =
	"{'format':'casebook-protocol/1','id':'rel','version':'1',"
	"'forms':["
	"{'code':'SV','label':'Visit','items':["
	" {'code':'VISDT','type':'date'}]},"
	"{'code':'HDR','label':'Header','items':["
	" {'code':'LIMIT','type':'integer'},{'code':'NOTE','type':'text'}]},"
	"{'code':'OBS','label':'Observation','repeating':true,'items':["
	" {'code':'VAL','type':'integer'},{'code':'OBSDT','type':'date'}]},"
	"{'code':'BD','label':'Birth','items':["
	" {'code':'BIRTH','type':'partial_date'},{'code':'AGE','type':'integer'},"
	" {'code':'ON','type':'partial_date'}]}],"
	"'visits':["
	" {'code':'V1','label':'One','day':0,'window':[0,0],"
	"'forms':['SV','HDR','OBS','BD']},"
	" {'code':'V2','label':'Two','day':10,'window':[8,12],"
	"'forms':['SV','HDR','OBS']}],"
	"'day0':'V1.SV.VISDT',"
	"'checks':["
	" {'id':'OBS_LIMIT','form':'OBS','type':'compare','item':'VAL',"
	"'op':'<=','other':'HDR.LIMIT','severity':'hard','message':'over'},"
	" {'id':'OBS_V1','form':'OBS','type':'compare','item':'VAL',"
	"'op':'>=','other':'V1.HDR.LIMIT','severity':'soft','message':'under'},"
	" {'id':'AFTER_V1','form':'*','type':'compare','item':'*',"
	"'op':'>=','other':'V1.SV.VISDT','severity':'soft','message':'early'},"
	" {'id':'AGE','form':'BD','type':'age','item':'AGE','birth':'BIRTH',"
	"'on':'ON','severity':'hard','message':'age'},"
	" {'id':'OBS_STRICT','form':'OBS','type':'condition',"
	"'severity':'soft','message':'strict',"
	"'when':{'any':[{'item':'HDR.LIMIT','op':'=','value':-1},"
	"{'not':{'item':'HDR.NOTE','op':'!=','value':'strict'}}]},"
	"'condition':{'item':'VAL','op':'<=','value':100}}"
	"]}";
/* clang-format on */

static struct cb_protocol *rel;

static struct cb_protocol *load_rel(void)
{
	struct cb_protocol_problems pr;
	char text[sizeof(rel_json)];
	struct cb_err err;
	size_t i;

	if (rel)
		return rel;
	memcpy(text, rel_json, sizeof(text));
	for (i = 0; text[i]; i++)
		if (text[i] == '\'')
			text[i] = '"';
	cb_protocol_problems_init(&pr);
	if (cb_protocol_load_json(text, strlen(text), "rel", &rel, &pr, &err)) {
		for (i = 0; i < pr.count; i++)
			printf("# rel: %s\n", pr.msgs[i]);
		rel = NULL;
	}
	cb_protocol_problems_release(&pr);
	return rel;
}

static void related_reach(const struct cb_protocol *p)
{
	struct cb_check_source no_instances;
	const struct cb_check_result *r;

	reset();
	T_ASSERT(set("V1.HDR.LIMIT=10 V1.OBS#1.VAL=5 V1.OBS#3.VAL=12 "
		     "V2.HDR.LIMIT=1 V2.OBS#1.VAL=8"));
	/* FORM.ITEM reaches the saved visit only, every instance there. */
	T_EQ_INT(run_save(p, "V1", "HDR", 0, "LIMIT=6", NULL), 0);
	r = found("OBS_LIMIT", "V1.OBS#3.VAL");
	T_ASSERT(r && r->elsewhere && r->instance == 3);
	T_EQ_STR(r->visit->code, "V1");
	T_ASSERT(!found("OBS_LIMIT", "V1.OBS#1.VAL"));
	T_ASSERT(!found("OBS_LIMIT", "V2.OBS#1.VAL")); /* 8 > 1, not run */
	T_EQ_INT(res.nhard, 1);
	/* VISIT.FORM.ITEM reaches every visit holding the form. */
	r = found("OBS_V1", "V1.OBS#1.VAL");
	T_ASSERT(r && r->severity == CB_SEVERITY_SOFT);
	T_EQ_INT(res.nsoft, 1);
	T_EQ_INT(run_save(p, "V1", "HDR", 0, "LIMIT=9", NULL), 0);
	T_ASSERT(found("OBS_V1", "V2.OBS#1.VAL"));
	T_ASSERT(found("OBS_V1", "V1.OBS#1.VAL"));
	T_ASSERT(found("OBS_LIMIT", "V1.OBS#3.VAL"));
	/* A change no check reads runs nothing elsewhere. */
	T_EQ_INT(run_save(p, "V1", "HDR", 0, "NOTE=hello", NULL), 0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* A reference inside any/not reaches as far as a bare one (the
	 * item's readers, protocol.h, hold checks named at any depth). */
	T_ASSERT(set("V1.OBS#3.VAL=150"));
	T_EQ_INT(run_save(p, "V1", "HDR", 0, "NOTE=strict", NULL), 0);
	r = found("OBS_STRICT", "V1.OBS#3.VAL");
	T_ASSERT(r && r->elsewhere && r->severity == CB_SEVERITY_SOFT);
	T_ASSERT(!found("OBS_STRICT", "V2.OBS#1.VAL"));
	T_ASSERT(set("V1.OBS#3.VAL=12 V1.HDR.NOTE="));
	/* A source that cannot list instances skips repeating forms. */
	no_instances = src;
	no_instances.last_instance = NULL;
	T_EQ_INT(
	    run_save_from(p, &no_instances, "V1", "HDR", 0, "LIMIT=6", NULL),
	    0);
	T_EQ_INT(res.nhard + res.nsoft, 0);
	/* The saved instance is checked once, as itself. */
	T_EQ_INT(run_save(p, "V1", "OBS", 3, "VAL=12", NULL), 0);
	r = found("OBS_LIMIT", "OBS.VAL");
	T_ASSERT(r && !r->elsewhere && r->instance == 3);
	T_EQ_INT(res.nhard, 1);
	/* A new instance is seen by the overlay's last_instance. */
	T_ASSERT(set("V1.OBS#1.VAL= V1.OBS#3.VAL="));
	T_EQ_INT(run_save(p, "V1", "OBS", 5, "VAL=50", NULL), 0);
	T_ASSERT(found("OBS_LIMIT", "OBS.VAL"));
}

static void related_every_form(const struct cb_protocol *p)
{
	reset();
	T_ASSERT(set("V2.SV.VISDT=2024-01-12 V2.OBS#2.OBSDT=2024-01-05 "
		     "V1.BD.ON=2024-01-01"));
	/* Day 0 moves after every other date: a "*" check on every form
	 * runs on every instance holding a date, and windows follow. */
	T_EQ_INT(run_save(p, "V1", "SV", 0, "VISDT=2024-01-06", NULL), 0);
	T_ASSERT(found("AFTER_V1", "V2.OBS#2.OBSDT"));
	T_ASSERT(found("AFTER_V1", "V1.BD.ON"));
	T_ASSERT(!found("AFTER_V1", "V2.SV.VISDT"));
	/* V2 on day 6 is outside 8..12: no window check in this study. */
	T_EQ_INT(res.nsoft, 2);
	T_EQ_INT(res.nhard, 0);
}

static void test_related_reach(void)
{
	struct cb_protocol *p = load_rel();

	T_ASSERT(p);
	if (p)
		related_reach(p);
}

static void test_related_every_form(void)
{
	struct cb_protocol *p = load_rel();

	T_ASSERT(p);
	if (p)
		related_every_form(p);
}

/*
 * A protocol built by hand, not by the loader, has no readers
 * (has_readers 0): its saves look at every check for the related ones,
 * and find what the loaded protocol's readers find. The same cases as
 * above on the loaded protocol with its readers emptied, then put back.
 */
static void test_related_without_readers(void)
{
	struct cb_protocol *p = load_rel();
	size_t saved[256], f, i, k;

	T_ASSERT(p && p->has_readers && p->nitems <= 256);
	if (!p || p->nitems > 256)
		return;
	for (f = 0, k = 0; f < p->nforms; f++)
		for (i = 0; i < p->forms[f].nitems; i++) {
			struct cb_protocol_item *it =
			    (struct cb_protocol_item *)&p->forms[f].items[i];

			saved[k++] = it->nreaders;
			it->nreaders = 0;
		}
	p->has_readers = 0;
	related_reach(p);
	related_every_form(p);
	for (f = 0, k = 0; f < p->nforms; f++)
		for (i = 0; i < p->forms[f].nitems; i++)
			((struct cb_protocol_item *)&p->forms[f].items[i])
			    ->nreaders = saved[k++];
	p->has_readers = 1;
}

static void test_age_from_dates(void)
{
	struct cb_protocol *p = load_rel();

	T_ASSERT(p);
	reset();
	/* Two full dates: exactly the completed years. */
	T_ASSERT(set("V1.BD.BIRTH=1960-06-15 V1.BD.ON=2024-06-14"));
	T_EQ_INT(run_save(p, "V1", "BD", 0, "AGE=63", NULL), 0);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(run_save(p, "V1", "BD", 0, "AGE=64", NULL), 0);
	T_ASSERT(found("AGE", "BD.AGE"));
	T_ASSERT(set("V1.BD.ON=2024-06-15"));
	T_EQ_INT(run_save(p, "V1", "BD", 0, "AGE=64", NULL), 0);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(run_save(p, "V1", "BD", 0, "AGE=63", NULL), 0);
	T_ASSERT(found("AGE", "BD.AGE"));
	/* A partial date: the year rule, one of two ages. */
	T_ASSERT(set("V1.BD.BIRTH=1960-06"));
	T_EQ_INT(run_save(p, "V1", "BD", 0, "AGE=63", NULL), 0);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(run_save(p, "V1", "BD", 0, "AGE=64", NULL), 0);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(run_save(p, "V1", "BD", 0, "AGE=62", NULL), 0);
	T_ASSERT(found("AGE", "BD.AGE"));
	T_ASSERT(set("V1.BD.BIRTH=1960-06-15 V1.BD.ON=2024"));
	T_EQ_INT(run_save(p, "V1", "BD", 0, "AGE=63", NULL), 0);
	T_EQ_INT(res.nhard, 0);
	T_EQ_INT(run_save(p, "V1", "BD", 0, "AGE=65", NULL), 0);
	T_ASSERT(found("AGE", "BD.AGE"));
}

/* The values source knows the highest instance of each form. */
static void test_values_last_instance(void)
{
	unsigned last = 99;
	struct cb_err err;

	reset();
	T_ASSERT(set("LOG.AE#2.AETERM=x LOG.AE#7.AETERM=y BL.VAS#9.VAS=1"));
	T_ASSERT(src.last_instance != NULL);
	T_EQ_INT(src.last_instance(src.ctx, "LOG", "AE", &last, &err), 0);
	T_EQ_INT(last, 7);
	T_EQ_INT(src.last_instance(src.ctx, "LOG", "EOS", &last, &err), 0);
	T_EQ_INT(last, 0);
}

int main(void)
{
	build();
	T_RUN(test_values_store);
	T_RUN(test_values_random);
	T_RUN(test_compare_dates);
	T_RUN(test_partial_dates_unknown_pass);
	T_RUN(test_forbidden_ongoing);
	T_RUN(test_required_when);
	T_RUN(test_serious_needs_criterion);
	T_RUN(test_fatal_condition);
	T_RUN(test_item_values_hard_soft);
	T_RUN(test_every_form_star);
	T_RUN(test_visit_window);
	T_RUN(test_bad_target);
	T_RUN(test_source_error);
	T_RUN(test_form_status);
	T_RUN(test_required_check_makes_required);
	T_RUN(test_eligibility);
	T_RUN(test_scores_vas);
	T_RUN(test_overlay);
	T_RUN(test_eligibility_certain_failure);
	T_RUN(test_json_ae_checks);
	T_RUN(test_json_dates_windows);
	T_RUN(test_json_numbers);
	T_RUN(test_json_eligibility);
	T_RUN(test_json_scores_status);
	T_RUN(test_knee_ae);
	T_RUN(test_knee_visits);
	T_RUN(test_knee_eligibility);
	T_RUN(test_knee_status_scores);
	T_RUN(test_knee_consent_both_orders);
	T_RUN(test_knee_windows_both_orders);
	T_RUN(test_knee_eos_both_orders);
	T_RUN(test_knee_age);
	T_RUN(test_knee_not_future);
	T_RUN(test_related_reach);
	T_RUN(test_related_every_form);
	T_RUN(test_related_without_readers);
	T_RUN(test_age_from_dates);
	T_RUN(test_values_last_instance);
	cb_protocol_free(mini);
	cb_protocol_free(rel);
	cb_protocol_free(knee);
	reset();
	cb_check_values_release(&vals);
	cb_check_results_release(&res);
	return t_done();
}
