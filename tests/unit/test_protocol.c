/*
 * test_protocol.c - the protocol loader (common/protocol.c): the shipped
 * study loads with the expected shape, lookups and target parsing work,
 * every item type validates its values, and broken protocols are refused
 * with every problem and its JSON path. The broken-file cases a user sees
 * through `casebook protocol check` are in tests/e2e/t_protocol.sh.
 */
#include "t.h"

#include "json.h"
#include "protocol.h"

static struct cb_protocol *knee;

static const char *top(void)
{
	const char *t = getenv("CASEBOOK_TOP");

	return t ? t : ".";
}

static struct cb_protocol *load_knee(void)
{
	char path[4096];
	struct cb_err err;
	struct cb_protocol_problems pr;
	struct cb_protocol *p = NULL;
	size_t i;

	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json", top());
	cb_err_clear(&err);
	cb_protocol_problems_init(&pr);
	if (cb_protocol_load_file(path, &p, &pr, &err)) {
		printf("# %s\n", err.msg);
		for (i = 0; i < pr.count; i++)
			printf("# %s\n", pr.msgs[i]);
	}
	cb_protocol_problems_release(&pr);
	return p;
}

/* Load JSON text; returns the rc, fills *pr (caller releases). */
static int load_text(const char *text, struct cb_protocol **p,
		     struct cb_protocol_problems *pr, struct cb_err *err)
{
	cb_err_clear(err);
	cb_protocol_problems_init(pr);
	return cb_protocol_load_json(text, strlen(text), "t.json", p, pr, err);
}

/* True when some problem contains `needle`. */
static int has_problem(const struct cb_protocol_problems *pr,
		       const char *needle)
{
	size_t i;

	for (i = 0; i < pr->count; i++)
		if (strstr(pr->msgs[i], needle))
			return 1;
	return 0;
}

static const struct cb_protocol_item *item(const char *form_item)
{
	return cb_protocol_find_item_path(knee, form_item);
}

/* 0 ok, 1 soft, or the negative error code. */
static int val(const char *form_item, const char *value)
{
	struct cb_err err;
	int soft = -1, rc;

	cb_err_clear(&err);
	rc = cb_protocol_check_value(item(form_item), value, &soft, &err);
	return rc ? rc : soft;
}

/* ---- the shipped study ------------------------------------------------ */

static void test_knee_loads(void)
{
	T_ASSERT(knee != NULL);
	T_EQ_STR(knee->format, "casebook-protocol/1");
	T_EQ_STR(knee->id, "knee-oa-msc");
	T_EQ_STR(knee->version, "1.4");
	T_EQ_INT(knee->nvisits, 9);
	T_EQ_INT(knee->nscheduled, 8);
	T_EQ_INT(knee->nforms, 14);
	T_EQ_INT(knee->nitems, 120);
	T_EQ_INT(knee->nrules, 7);
	T_ASSERT(knee->nchecks >= 20);
	T_EQ_INT(strlen(knee->sha256), 64);
	T_ASSERT(knee->source_len > 1000);
	T_EQ_INT(knee->source[knee->source_len], '\0');
}

static void test_knee_visits(void)
{
	static const char *const codes[] = {"SCR", "BL", "INJ", "W1", "M1",
					    "M3",  "M6", "M12", "LOG"};
	static const int days[] = {-28, 0, 21, 28, 51, 111, 201, 386};
	static const int lows[] = {-28, 0, 14, 25, 44, 97, 180, 351};
	static const int highs[] = {-1, 0, 28, 31, 58, 125, 222, 421};
	const struct cb_protocol_visit *v;
	size_t i;

	T_ASSERT(knee);
	for (i = 0; i < 9; i++) {
		v = cb_protocol_find_visit(knee, codes[i]);
		T_ASSERT(v != NULL);
		T_EQ_INT(v->index, i);
		if (i < 8) {
			T_ASSERT(v->scheduled);
			T_EQ_INT(v->day, days[i]);
			T_EQ_INT(v->low, lows[i]);
			T_EQ_INT(v->high, highs[i]);
		} else {
			T_ASSERT(!v->scheduled);
		}
	}
	T_ASSERT(cb_protocol_find_visit(knee, "M9") == NULL);
	T_ASSERT(cb_protocol_find_visit(knee, "bl") == NULL);
	v = cb_protocol_find_visit(knee, "LOG");
	T_EQ_INT(v->nforms, 2);
	T_EQ_STR(v->forms[0]->code, "AE");
	T_EQ_STR(v->forms[1]->code, "EOS");
	T_ASSERT(
	    cb_protocol_visit_has_form(cb_protocol_find_visit(knee, "M6"),
				       cb_protocol_find_form(knee, "KOOS")));
	T_ASSERT(
	    !cb_protocol_visit_has_form(cb_protocol_find_visit(knee, "M3"),
					cb_protocol_find_form(knee, "KOOS")));
	T_EQ_STR(knee->day0.text, "BL.SV.VISDT");
	T_EQ_STR(knee->day0.visit->code, "BL");
	T_EQ_STR(knee->day0.item->code, "VISDT");
}

static void test_knee_forms(void)
{
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *it;
	size_t i;

	T_ASSERT(knee);
	f = cb_protocol_find_form(knee, "VAS");
	T_ASSERT(f);
	T_EQ_INT(f->nvisits, 5);
	T_EQ_STR(f->visits[0]->code, "BL");
	T_EQ_STR(f->visits[4]->code, "M12");
	f = cb_protocol_find_form(knee, "AE");
	T_ASSERT(f && f->repeating);
	T_EQ_INT(f->nitems, 17);
	T_ASSERT(!cb_protocol_find_form(knee, "DM")->repeating);
	T_EQ_INT(cb_protocol_find_form(knee, "WOMAC")->nitems, 24);
	T_EQ_INT(cb_protocol_find_form(knee, "KOOS")->nitems, 42);
	/* items are slices of p->items, form by form */
	for (i = 0; i < knee->nforms; i++) {
		f = &knee->forms[i];
		T_EQ_INT(f->index, i);
		T_ASSERT(f->items >= knee->items &&
			 f->items + f->nitems <= knee->items + knee->nitems);
		T_ASSERT(f->items[0].form == f);
	}
	it = item("DOSE.EXVOL");
	T_ASSERT(it);
	T_EQ_INT(it->type, CB_ITEM_DECIMAL);
	T_EQ_INT(it->precision, 1);
	T_EQ_STR(it->unit, "mL");
	T_ASSERT(it->range.has_min && it->range.min == 0 &&
		 it->range.max == 10);
	T_ASSERT(it->soft.has_min && it->soft.min == 2.5 &&
		 it->soft.max == 3.5);
	T_ASSERT(it->required);
	it = item("MRI.MFCTHK");
	T_ASSERT(it && it->precision == 1 && it->range.max == 6);
	it = item("ELIG.KLGRADE");
	T_ASSERT(it && it->type == CB_ITEM_INTEGER && it->range.max == 4);
	it = item("AE.AESTDTC");
	T_EQ_INT(it->type, CB_ITEM_PARTIAL_DATE);
	it = item("AE.AEREL");
	T_EQ_INT(it->type, CB_ITEM_CHOICE);
	T_EQ_INT(it->nchoices, 5);
	T_EQ_STR(it->choices[0].code, "NOT");
	T_EQ_STR(it->choices[4].code, "DEFINITE");
	it = item("AE.AESER");
	T_EQ_INT(it->type, CB_ITEM_BOOLEAN);
	T_EQ_INT(it->nchoices, 2);
	T_EQ_STR(it->choices[0].code, "Y");
	T_EQ_STR(item("DOSE.EXDTC")->form->code, "DOSE");
	T_EQ_INT(item("DOSE.EXDTC")->type, CB_ITEM_DATETIME);
	T_ASSERT(item("DM.NOPE") == NULL);
	T_ASSERT(item("NOPE.X") == NULL);
	T_ASSERT(item("DM") == NULL);
	T_ASSERT(cb_protocol_find_item(cb_protocol_find_form(knee, "DM"),
				       "CONSDT") == item("DM.CONSDT"));
}

static void test_knee_blinding_writers(void)
{
	const struct cb_protocol_form *cell =
	    cb_protocol_find_form(knee, "CELL");
	const struct cb_protocol_form *rand =
	    cb_protocol_find_form(knee, "RAND");
	const struct cb_protocol_form *dm = cb_protocol_find_form(knee, "DM");
	size_t i, n = 0;

	T_ASSERT(cell && rand && dm);
	T_ASSERT(cb_protocol_form_has_unblinded(cell));
	T_ASSERT(!cb_protocol_form_has_unblinded(dm));
	for (i = 0; i < knee->nitems; i++)
		n += knee->items[i].unblinded;
	T_EQ_INT(n, 3);
	T_EQ_INT(cell->writers, CB_WRITER_LAB);
	T_ASSERT(cb_protocol_form_writable(cell, "lab"));
	T_ASSERT(!cb_protocol_form_writable(cell, "coordinator"));
	T_EQ_INT(rand->writers, CB_WRITER_SYSTEM);
	T_ASSERT(cb_protocol_form_writable(rand, "system"));
	T_ASSERT(!cb_protocol_form_writable(rand, "investigator"));
	T_ASSERT(cb_protocol_form_writable(dm, "coordinator"));
	T_ASSERT(cb_protocol_form_writable(dm, "investigator"));
	T_ASSERT(!cb_protocol_form_writable(dm, "dsmb"));
	T_ASSERT(!cb_protocol_form_writable(dm, "nobody"));
	T_ASSERT(!cb_protocol_form_writable(dm, NULL));
	T_EQ_INT(cb_protocol_writer_bit("datamanager"), CB_WRITER_DATAMANAGER);
	T_EQ_INT(cb_protocol_writer_bit("Lab"), 0);
	T_EQ_STR(cb_writer_name(CB_WRITER_LAB), "lab");
	T_EQ_STR(cb_writer_name(CB_WRITER_LAB | CB_WRITER_DSMB), "");
}

static void test_knee_randomization(void)
{
	T_ASSERT(knee);
	T_EQ_INT(knee->narms, 2);
	T_EQ_STR(knee->arms[0].code, "MSC");
	T_EQ_STR(knee->arms[1].code, "PBO");
	T_EQ_INT(knee->arms[0].ratio, 1);
	T_ASSERT(cb_protocol_find_arm(knee, "PBO") == &knee->arms[1]);
	T_ASSERT(cb_protocol_find_arm(knee, "XYZ") == NULL);
	T_EQ_STR(knee->rand_visit->code, "BL");
	T_EQ_STR(knee->rand_form->code, "RAND");
	T_EQ_STR(knee->rand_number->code, "RANDNO");
	T_EQ_STR(knee->rand_kit->code, "KITNO");
	T_EQ_STR(knee->rand_datetime->code, "RANDDTC");
	T_EQ_INT(knee->nblock_sizes, 2);
	T_EQ_INT(knee->block_sizes[0], 2);
	T_EQ_INT(knee->block_sizes[1], 4);
	T_EQ_INT(knee->nstrata, 1);
	T_EQ_STR(knee->strata[0].item->code, "KLGRADE");
	T_EQ_STR(knee->strata[0].visit->code, "SCR");
	T_EQ_STR(knee->strata[0].form->code, "ELIG");
	T_EQ_INT(knee->strata[0].nlevels, 2);
	T_EQ_STR(knee->strata[0].levels[0], "2");
	T_EQ_STR(knee->strata[0].levels[1], "3");
	T_EQ_STR(knee->elig_visit->code, "SCR");
	T_EQ_STR(knee->elig_form->code, "ELIG");
}

static void test_knee_eligibility_rules(void)
{
	const struct cb_protocol_rule *r;
	size_t i;

	T_ASSERT(knee);
	r = &knee->rules[0];
	T_EQ_STR(r->id, "AGE");
	T_EQ_INT(r->cond->kind, CB_COND_ALL);
	T_EQ_INT(r->cond->nsub, 2);
	T_EQ_INT(r->cond->sub[0].op, CB_CMP_GE);
	T_EQ_STR(r->cond->sub[0].values[0].text, "40");
	T_ASSERT(r->cond->sub[0].values[0].num == 40);
	T_EQ_STR(r->cond->sub[0].left.item->code, "AGE");
	for (i = 0; i < knee->nrules; i++)
		if (!strcmp(knee->rules[i].id, "KLGRADE"))
			break;
	T_ASSERT(i < knee->nrules);
	r = &knee->rules[i];
	T_EQ_INT(r->cond->op, CB_CMP_IN);
	T_EQ_INT(r->cond->nvalues, 2);
	T_EQ_STR(r->cond->values[1].text, "3");
	for (i = 0; i < knee->nrules; i++)
		if (!strcmp(knee->rules[i].id, "PREG"))
			break;
	T_ASSERT(i < knee->nrules);
	T_EQ_INT(knee->rules[i].cond->op, CB_CMP_NE);
	T_EQ_STR(knee->rules[i].cond->values[0].text, "Y");
}

static const struct cb_protocol_check *find_check(const char *id)
{
	size_t i;

	for (i = 0; i < knee->nchecks; i++)
		if (!strcmp(knee->checks[i].id, id))
			return &knee->checks[i];
	return NULL;
}

static void test_knee_checks(void)
{
	static const char *const consent_forms[] = {
	    "SV", "RAND", "HARV", "DOSE", "MRI", "AE", "EOS"};
	const struct cb_protocol_check *c;
	char id[64];
	size_t i;

	T_ASSERT(knee);
	c = find_check("SV_WINDOW");
	T_ASSERT(c);
	T_EQ_INT(c->type, CB_CHECK_VISIT_WINDOW);
	T_EQ_INT(c->severity, CB_SEVERITY_SOFT);
	T_EQ_STR(c->item->code, "VISDT");

	c = find_check("AE_END_AFTER_ONSET");
	T_ASSERT(c);
	T_EQ_INT(c->type, CB_CHECK_COMPARE);
	T_EQ_INT(c->severity, CB_SEVERITY_HARD);
	T_EQ_STR(c->form->code, "AE");
	T_EQ_STR(c->item->code, "AEENDTC");
	T_EQ_INT(c->test->kind, CB_COND_COMPARE);
	T_EQ_INT(c->test->op, CB_CMP_GE);
	T_ASSERT(c->test->has_other);
	T_EQ_STR(c->test->other.item->code, "AESTDTC");
	T_ASSERT(c->test->other.visit == NULL);
	T_ASSERT(c->test->left.item == c->item);

	for (i = 0; i < sizeof(consent_forms) / sizeof(*consent_forms); i++) {
		snprintf(id, sizeof(id), "CONSENT_FIRST_%s", consent_forms[i]);
		c = find_check(id);
		T_ASSERT(c);
		T_EQ_INT(c->severity, CB_SEVERITY_HARD);
		T_ASSERT(c->item == NULL && c->test->left.item == NULL);
		T_EQ_STR(c->test->left.text, "*");
		T_EQ_STR(c->test->other.text, "SCR.DM.CONSDT");
		T_EQ_STR(c->test->other.visit->code, "SCR");
	}

	c = find_check("AE_SERIOUS_CRITERION");
	T_ASSERT(c);
	T_EQ_INT(c->type, CB_CHECK_AT_LEAST_ONE);
	T_EQ_INT(c->nitems, 6);
	T_EQ_STR(c->value, "Y");
	T_EQ_STR(c->when->left.item->code, "AESER");

	c = find_check("AE_ONGOING_NO_END");
	T_ASSERT(c && c->type == CB_CHECK_FORBIDDEN);
	T_EQ_STR(c->item->code, "AEENDTC");
	T_EQ_STR(c->when->values[0].text, "Y");

	c = find_check("AE_FATAL_GRADE5");
	T_ASSERT(c);
	T_EQ_STR(c->test->values[0].text, "5");
	T_EQ_STR(c->when->values[0].text, "FATAL");
	T_ASSERT(find_check("AE_FATAL_DEATH"));

	c = find_check("DOSE_KIT");
	T_ASSERT(c);
	T_EQ_STR(c->test->other.visit->code, "BL");
	T_EQ_STR(c->test->other.form->code, "RAND");
	T_EQ_STR(c->test->other.item->code, "KITNO");
	T_EQ_STR(cb_check_type_name(c->type), "compare");
}

/* The plausibility checks of TRIAL.md, as the shipped study writes them. */
static void test_knee_plausibility_checks(void)
{
	static const char *const grade5[] = {
	    "AE_GRADE5_FATAL", "AE_GRADE5_SERIOUS", "AE_GRADE5_DEATH"};
	const struct cb_protocol_check *c;
	size_t i;

	T_ASSERT(knee);
	c = find_check("NO_FUTURE_DATE");
	T_ASSERT(c);
	T_EQ_INT(c->type, CB_CHECK_NOT_FUTURE);
	T_EQ_INT(c->severity, CB_SEVERITY_HARD);
	T_ASSERT(c->form == NULL && c->item == NULL); /* every date */
	T_EQ_INT(c->days, 1);

	c = find_check("AGE_BIRTH_YEAR");
	T_ASSERT(c);
	T_EQ_INT(c->type, CB_CHECK_AGE);
	T_EQ_INT(c->severity, CB_SEVERITY_HARD);
	T_EQ_STR(c->form->code, "ELIG");
	T_EQ_STR(c->item->code, "AGE");
	T_EQ_STR(c->birth.item->code, "BRTHYR");
	T_EQ_STR(c->birth.visit->code, "SCR");
	T_EQ_STR(c->on.item->code, "CONSDT");

	for (i = 0; i < 3; i++) {
		c = find_check(grade5[i]);
		T_ASSERT(c);
		T_EQ_INT(c->severity, CB_SEVERITY_HARD);
		T_EQ_STR(c->when->left.item->code, "AETOXGR");
		T_EQ_STR(c->when->values[0].text, "5");
	}
	c = find_check("AE_GRADE_SEVERITY");
	T_ASSERT(c && c->type == CB_CHECK_CONDITION);
	T_EQ_INT(c->severity, CB_SEVERITY_SOFT);
	T_EQ_INT(c->test->kind, CB_COND_ANY);
	T_EQ_INT(c->test->nsub, 3);

	c = find_check("AE_CONSENT");
	T_ASSERT(c && c->severity == CB_SEVERITY_HARD);
	T_EQ_INT(c->test->op, CB_CMP_PRESENT);
	T_EQ_STR(c->test->left.text, "SCR.DM.CONSDT");
	c = find_check("EOS_CONSENT");
	T_ASSERT(c && c->severity == CB_SEVERITY_HARD);
	T_EQ_STR(c->form->code, "EOS");

	c = find_check("RAND_WINDOW");
	T_ASSERT(c && c->type == CB_CHECK_VISIT_WINDOW);
	T_EQ_INT(c->severity, CB_SEVERITY_SOFT);
	T_EQ_STR(c->item->code, "RANDDTC");
	/* The baseline visit's date stays its visit form's, not RANDDTC. */
	T_EQ_STR(cb_protocol_visit_date_item(knee,
					     cb_protocol_find_visit(knee, "BL"))
		     ->code,
		 "VISDT");

	c = find_check("SV_BEFORE_EOS");
	T_ASSERT(c && c->type == CB_CHECK_COMPARE);
	T_EQ_INT(c->severity, CB_SEVERITY_HARD);
	T_EQ_INT(c->test->op, CB_CMP_LE);
	T_EQ_STR(c->test->other.visit->code, "LOG");
	T_EQ_STR(c->test->other.item->code, "EOSDT");
}

static void test_knee_scores_and_safety(void)
{
	const struct cb_protocol_form *w = cb_protocol_find_form(knee, "WOMAC");
	const struct cb_protocol_form *k = cb_protocol_find_form(knee, "KOOS");

	T_ASSERT(w && k);
	T_EQ_INT(w->nscores, 1);
	T_EQ_STR(w->scores[0].method->name, "womac");
	T_EQ_STR(w->scores[0].name, "womac");
	T_EQ_STR(w->scores[0].items[0]->code, "P1");
	T_EQ_STR(w->scores[0].items[23]->code, "F17");
	T_EQ_INT(k->nscores, 1);
	T_EQ_STR(k->scores[0].items[41]->code, "Q4");
	T_EQ_STR(cb_protocol_find_form(knee, "VAS")->scores[0].items[0]->code,
		 "VAS");

	T_EQ_STR(knee->safety_form->code, "AE");
	T_EQ_STR(knee->safety_items[CB_SAFETY_TERM]->code, "AETERM");
	T_EQ_STR(knee->safety_items[CB_SAFETY_ONSET]->code, "AESTDTC");
	T_EQ_STR(knee->safety_items[CB_SAFETY_END]->code, "AEENDTC");
	T_EQ_STR(knee->safety_items[CB_SAFETY_GRADE]->code, "AETOXGR");
	T_EQ_STR(knee->safety_items[CB_SAFETY_SEVERITY]->code, "AESEV");
	T_EQ_STR(knee->safety_items[CB_SAFETY_ONGOING]->code, "AEONGO");
	T_EQ_STR(knee->safety_items[CB_SAFETY_RELATIONSHIP]->code, "AEREL");
	T_EQ_STR(knee->safety_items[CB_SAFETY_ACTION]->code, "AEACN");
	T_EQ_STR(knee->safety_items[CB_SAFETY_OUTCOME]->code, "AEOUT");
	T_ASSERT(knee->safety_flags[CB_SAFETY_SERIOUS]);
	T_ASSERT(knee->safety_flags[CB_SAFETY_RELATED]);
	T_EQ_INT(knee->safety_flags[CB_SAFETY_DEATH]->kind, CB_COND_ANY);
	T_ASSERT(knee->safety_flags[CB_SAFETY_DISCONTINUED]);
	T_EQ_INT(knee->ncriteria, 6);
	T_EQ_STR(knee->criteria[0]->code, "AESDTH");
	T_EQ_STR(knee->first_dose.item->code, "EXDTC");
	T_EQ_STR(knee->first_dose.visit->code, "INJ");
}

/* ---- values ------------------------------------------------------------ */

static void test_value_integer(void)
{
	T_ASSERT(knee);
	T_EQ_INT(val("VAS.VAS", "0"), 0);
	T_EQ_INT(val("VAS.VAS", "100"), 0);
	T_EQ_INT(val("VAS.VAS", "101"), CB_ECHECK);
	T_EQ_INT(val("VAS.VAS", "-1"), CB_ECHECK);
	T_EQ_INT(val("VAS.VAS", "50.0"), CB_EINVAL);
	T_EQ_INT(val("VAS.VAS", "050"), CB_EINVAL);
	T_EQ_INT(val("VAS.VAS", "+5"), CB_EINVAL);
	T_EQ_INT(val("VAS.VAS", "-0"), CB_EINVAL);
	T_EQ_INT(val("VAS.VAS", " 5"), CB_EINVAL);
	T_EQ_INT(val("VAS.VAS", "5a"), CB_EINVAL);
	T_EQ_INT(val("VAS.VAS", ""), CB_EINVAL);
	T_EQ_INT(val("VAS.VAS", "1e2"), CB_EINVAL);
	T_EQ_INT(val("VAS.VAS", "99999999999999999999"), CB_EINVAL);
	T_EQ_INT(val("WOMAC.P1", "4"), 0);
	T_EQ_INT(val("WOMAC.P1", "5"), CB_ECHECK);
	T_EQ_INT(val("AE.AETOXGR", "0"), CB_ECHECK);
	T_EQ_INT(val("AE.AETOXGR", "5"), 0);
	T_EQ_INT(val("PE.ROM", "160"), 0);
	T_EQ_INT(val("PE.ROM", "161"), CB_ECHECK);
	T_EQ_INT(val("HARV.LIPOVOL", "9"), CB_ECHECK);
	/* a missing value is not a format error */
	T_EQ_INT(val("VAS.VAS", NULL), 0);
}

static void test_value_decimal(void)
{
	struct cb_err err;

	T_ASSERT(knee);
	T_EQ_INT(val("DOSE.EXVOL", "3"), 0);
	T_EQ_INT(val("DOSE.EXVOL", "3.0"), 0);
	T_EQ_INT(val("DOSE.EXVOL", "2.5"), 0);
	T_EQ_INT(val("DOSE.EXVOL", "3.5"), 0);
	T_EQ_INT(val("DOSE.EXVOL", "2.4"), 1); /* soft */
	T_EQ_INT(val("DOSE.EXVOL", "3.6"), 1);
	T_EQ_INT(val("DOSE.EXVOL", "0"), 1);
	T_EQ_INT(val("DOSE.EXVOL", "10"), 1);
	T_EQ_INT(val("DOSE.EXVOL", "10.1"), CB_ECHECK);
	T_EQ_INT(val("DOSE.EXVOL", "3.25"), CB_EINVAL); /* precision 1 */
	T_EQ_INT(val("DOSE.EXVOL", ".5"), CB_EINVAL);
	T_EQ_INT(val("DOSE.EXVOL", "3."), CB_EINVAL);
	T_EQ_INT(val("DOSE.EXVOL", "3,5"), CB_EINVAL);
	T_EQ_INT(val("DOSE.EXVOL", "-0.0"), CB_EINVAL);
	T_EQ_INT(val("MRI.MFCTHK", "6.0"), 0);
	T_EQ_INT(val("MRI.MFCTHK", "6.1"), CB_ECHECK);
	T_EQ_INT(val("DM.HEIGHT", "99.9"), CB_ECHECK);
	T_EQ_INT(val("DM.HEIGHT", "230.0"), 0);
	T_EQ_INT(val("DM.WEIGHT", "250.1"), CB_ECHECK);
	cb_err_clear(&err);
	T_EQ_INT(
	    cb_protocol_check_value(item("DOSE.EXVOL"), "3.25", NULL, &err),
	    CB_EINVAL);
	T_CONTAINS(err.msg, "DOSE.EXVOL");
	T_CONTAINS(err.msg, "1 decimal place");
	cb_err_clear(&err);
	T_EQ_INT(cb_protocol_check_value(item("DOSE.EXVOL"), "11", NULL, &err),
		 CB_ECHECK);
	T_CONTAINS(err.msg, "DOSE.EXVOL");
	T_CONTAINS(err.msg, "0 to 10 mL");
}

static void test_value_text(void)
{
	char buf[64];
	struct cb_err err;

	T_ASSERT(knee);
	/* KITNO: at most 20 characters, counted as code points */
	T_EQ_INT(val("DOSE.KITNO", "K-0001"), 0);
	T_EQ_INT(val("DOSE.KITNO", "12345678901234567890"), 0);
	T_EQ_INT(val("DOSE.KITNO", "123456789012345678901"), CB_EINVAL);
	/* 20 x U+00E9 is 40 bytes but 20 characters */
	for (int i = 0; i < 21; i++)
		memcpy(buf + 2 * i, "\xc3\xa9", 2);
	buf[42] = '\0';
	T_EQ_INT(val("DOSE.KITNO", buf), CB_EINVAL);
	buf[40] = '\0';
	T_EQ_INT(val("DOSE.KITNO", buf), 0);
	T_EQ_INT(val("DOSE.KITNO", "\xe6\x97\xa5\xe6\x9c\xac"), 0); /* 2 CJK */
	T_EQ_INT(val("DOSE.KITNO", "bad\xc3"), CB_EINVAL);	    /* cut */
	T_EQ_INT(val("DOSE.KITNO", "\xc0\xaf"), CB_EINVAL);	/* overlong */
	T_EQ_INT(val("DOSE.KITNO", "\xed\xa0\x80"), CB_EINVAL); /* surrogate */
	T_EQ_INT(val("DOSE.KITNO", "a\x01"), CB_EINVAL);
	T_EQ_INT(val("AE.AETERM", "Headache\nmild"), 0);
	T_EQ_INT(val("DOSE.KITNO", ""), CB_EINVAL);
	cb_err_clear(&err);
	cb_protocol_check_value(item("DOSE.KITNO"), "123456789012345678901",
				NULL, &err);
	T_CONTAINS(err.msg, "21 characters");
	T_CONTAINS(err.msg, "limit of 20");
}

static void test_value_dates(void)
{
	T_ASSERT(knee);
	T_EQ_INT(val("DM.CONSDT", "2024-02-29"), 0);
	T_EQ_INT(val("DM.CONSDT", "2023-02-29"), CB_EINVAL);
	T_EQ_INT(val("DM.CONSDT", "2024-04-31"), CB_EINVAL);
	T_EQ_INT(val("DM.CONSDT", "2024-03"), CB_EINVAL); /* full date only */
	T_EQ_INT(val("DM.CONSDT", "2024"), CB_EINVAL);
	T_EQ_INT(val("DM.CONSDT", "2024-3-5"), CB_EINVAL);
	T_EQ_INT(val("AE.AESTDTC", "2024"), 0);
	T_EQ_INT(val("AE.AESTDTC", "2024-03"), 0);
	T_EQ_INT(val("AE.AESTDTC", "2024-03-05"), 0);
	T_EQ_INT(val("AE.AESTDTC", "2024-13"), CB_EINVAL);
	T_EQ_INT(val("AE.AESTDTC", "2024-02-30"), CB_EINVAL);
	T_EQ_INT(val("AE.AESTDTC", "24-03"), CB_EINVAL);
	T_EQ_INT(val("DOSE.EXDTC", "2024-03-05T10:30"), 0);
	T_EQ_INT(val("DOSE.EXDTC", "2024-03-05T10:30:59"), 0);
	T_EQ_INT(val("DOSE.EXDTC", "2024-03-05T24:00"), CB_EINVAL);
	T_EQ_INT(val("DOSE.EXDTC", "2024-03-05"), CB_EINVAL);
	T_EQ_INT(val("DOSE.EXDTC", "2024-03-05 10:30"), CB_EINVAL);
}

static void test_value_choice_boolean(void)
{
	struct cb_err err;

	T_ASSERT(knee);
	T_EQ_INT(val("DM.SEX", "M"), 0);
	T_EQ_INT(val("DM.SEX", "F"), 0);
	T_EQ_INT(val("DM.SEX", "m"), CB_EINVAL);
	T_EQ_INT(val("DM.SEX", "X"), CB_EINVAL);
	T_EQ_INT(val("ELIG.PREG", "NA"), 0);
	T_EQ_INT(val("AE.AEOUT", "RECOVERED_SEQ"), 0);
	T_EQ_INT(val("CELL.STERIL", "PASS"), 0);
	T_EQ_INT(val("PE.EFFUS", "MODERATE"), CB_EINVAL);
	T_EQ_INT(val("AE.AESER", "Y"), 0);
	T_EQ_INT(val("AE.AESER", "N"), 0);
	T_EQ_INT(val("AE.AESER", "y"), CB_EINVAL);
	T_EQ_INT(val("AE.AESER", "Yes"), CB_EINVAL);
	T_EQ_INT(val("AE.AESER", "1"), CB_EINVAL);
	cb_err_clear(&err);
	/* Typed in any case, stored as the protocol spells the code; the
	 * value itself is refused until then (the server sees only codes). */
	T_EQ_STR(cb_protocol_canonical_value(item("DM.SEX"), "f"), "F");
	T_EQ_STR(cb_protocol_canonical_value(item("PE.EFFUS"), "mod"), "MOD");
	T_EQ_STR(cb_protocol_canonical_value(item("AE.AEOUT"), "Recovered_Seq"),
		 "RECOVERED_SEQ");
	T_EQ_STR(cb_protocol_canonical_value(item("AE.AESER"), "y"), "Y");
	T_ASSERT(cb_protocol_canonical_value(item("DM.SEX"), "f") ==
		 item("DM.SEX")->choices[1].code);
	{
		const char *typed = "M", *odd = "male", *lab = "Moderate";
		const char *num = "abc";

		T_ASSERT(cb_protocol_canonical_value(item("DM.SEX"), typed) ==
			 typed);
		T_ASSERT(cb_protocol_canonical_value(item("DM.SEX"), odd) ==
			 odd);
		/* Codes only: a label is form enter's business. */
		T_ASSERT(cb_protocol_canonical_value(item("PE.EFFUS"), lab) ==
			 lab);
		T_ASSERT(cb_protocol_canonical_value(item("DM.BRTHYR"), num) ==
			 num);
	}
	T_ASSERT(cb_protocol_canonical_value(item("DM.SEX"), NULL) == NULL);
	cb_err_clear(&err);
	cb_protocol_check_value(item("PE.EFFUS"), "MODERATE", NULL, &err);
	T_CONTAINS(err.msg, "PE.EFFUS");
	T_CONTAINS(err.msg, "NONE, SMALL, MOD, LARGE");
}

static void test_parse_target(void)
{
	const struct cb_protocol_form *f;
	unsigned inst = 77;
	struct cb_err err;

	T_ASSERT(knee);
	cb_err_clear(&err);
	T_EQ_INT(cb_protocol_parse_target(knee, "AE#3", &f, &inst, &err), 0);
	T_EQ_STR(f->code, "AE");
	T_EQ_INT(inst, 3);
	T_EQ_INT(cb_protocol_parse_target(knee, "AE#9999", &f, &inst, &err), 0);
	T_EQ_INT(inst, 9999);
	T_EQ_INT(cb_protocol_parse_target(knee, "DM", &f, &inst, &err), 0);
	T_EQ_STR(f->code, "DM");
	T_EQ_INT(inst, 0);
	T_EQ_INT(cb_protocol_parse_target(knee, "AE", &f, &inst, &err),
		 CB_EINVAL);
	T_ASSERT(f == NULL);
	T_EQ_INT(cb_protocol_parse_target(knee, "DM#1", &f, &inst, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_protocol_parse_target(knee, "AE#0", &f, &inst, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_protocol_parse_target(knee, "AE#01", &f, &inst, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_protocol_parse_target(knee, "AE#10000", &f, &inst, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_protocol_parse_target(knee, "AE#", &f, &inst, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_protocol_parse_target(knee, "AE#-1", &f, &inst, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_protocol_parse_target(knee, "AE#2x", &f, &inst, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_protocol_parse_target(knee, "XX#1", &f, &inst, &err),
		 CB_ENOTFOUND);
	T_EQ_INT(cb_protocol_parse_target(knee, "ae#1", &f, &inst, &err),
		 CB_ENOTFOUND);
	T_EQ_INT(cb_protocol_parse_target(knee, "", &f, &inst, &err),
		 CB_ENOTFOUND);
	T_CONTAINS(err.msg, "unknown form");
}

static void test_names(void)
{
	T_EQ_STR(cb_item_type_name(CB_ITEM_PARTIAL_DATE), "partial_date");
	T_EQ_STR(cb_item_type_name(CB_ITEM_BOOLEAN), "boolean");
	T_EQ_STR(cb_cmp_op_name(CB_CMP_LE), "<=");
	T_EQ_STR(cb_cmp_op_name(CB_CMP_NOT_IN), "not_in");
	T_EQ_STR(cb_check_type_name(CB_CHECK_AT_LEAST_ONE), "at_least_one");
	T_EQ_STR(cb_check_type_name(CB_CHECK_VISIT_WINDOW), "visit_window");
	T_EQ_STR(cb_check_type_name(CB_CHECK_NOT_FUTURE), "not_future");
	T_EQ_STR(cb_check_type_name(CB_CHECK_AGE), "age");
}

/* ---- broken protocols --------------------------------------------------- */

/* A small good protocol; %s slots let cases splice in broken parts. */
#define MINI_HEAD                                                              \
	"{\"format\":\"casebook-protocol/1\",\"id\":\"t\",\"version\":\"1\","  \
	"\"visits\":[{\"code\":\"V1\",\"label\":\"One\",\"day\":0,"            \
	"\"window\":[0,0],\"forms\":[\"F\"]},"                                 \
	"{\"code\":\"LOG\",\"label\":\"Log\",\"forms\":[\"AE\"]}],"            \
	"\"day0\":\"V1.F.D\","

static const char mini_forms[] =
    "\"forms\":[{\"code\":\"F\",\"label\":\"F\",\"items\":["
    "{\"code\":\"D\",\"type\":\"date\"},"
    "{\"code\":\"N\",\"type\":\"integer\",\"range\":{\"min\":0,\"max\":9}},"
    "{\"code\":\"C\",\"type\":\"choice\",\"choices\":[\"A\",\"B\"]}]},"
    "{\"code\":\"AE\",\"label\":\"AE\",\"repeating\":true,\"items\":["
    "{\"code\":\"S\",\"type\":\"partial_date\"},"
    "{\"code\":\"E\",\"type\":\"partial_date\"}]}]";

static void test_mini_good(void)
{
	char text[4096];
	struct cb_protocol *p = NULL;
	struct cb_protocol_problems pr;
	struct cb_err err;

	snprintf(text, sizeof(text), "%s%s}", MINI_HEAD, mini_forms);
	T_EQ_INT(load_text(text, &p, &pr, &err), 0);
	T_EQ_INT(pr.count, 0);
	T_ASSERT(p != NULL);
	T_EQ_INT(p->nforms, 2);
	T_EQ_INT(p->nitems, 5);
	T_EQ_STR(p->title, "");
	cb_protocol_free(p);
	cb_protocol_problems_release(&pr);
}

/* Load MINI with `extra` members; expect every needle among the problems. */
static void expect_problems(const char *forms, const char *extra,
			    const char *const *needles)
{
	char text[8192];
	struct cb_protocol *p = (struct cb_protocol *)1;
	struct cb_protocol_problems pr;
	struct cb_err err;
	size_t i;

	snprintf(text, sizeof(text), "%s%s%s}", MINI_HEAD,
		 forms ? forms : mini_forms, extra);
	T_EQ_INT(load_text(text, &p, &pr, &err), CB_EINVAL);
	T_ASSERT(p == NULL);
	T_ASSERT(pr.count > 0);
	T_EQ_INT(err.code, CB_EINVAL);
	T_CONTAINS(err.msg, pr.msgs[0]);
	for (i = 0; needles[i]; i++)
		if (!has_problem(&pr, needles[i])) {
			T_FAIL_AT("no problem contains \"%s\" (first: %s)",
				  needles[i], pr.msgs[0]);
			break;
		}
	cb_protocol_problems_release(&pr);
}

static void test_bad_check_refs(void)
{
	static const char *const n1[] = {
	    "$.checks[0].other: unknown item \"X\" in form AE", NULL};
	static const char *const n2[] = {
	    "$.checks[0].item: unknown item \"Q\" in form F", NULL};
	static const char *const n3[] = {
	    "$.checks[0].when.value: F.C: \"Z\" is not one of A, B", NULL};
	static const char *const n4[] = {
	    "$.checks[0].other", "cannot compare N (integer) with D (date)",
	    NULL};

	expect_problems(
	    NULL,
	    ",\"checks\":[{\"id\":\"K\",\"form\":\"AE\",\"type\":"
	    "\"compare\",\"item\":\"E\",\"op\":\">=\",\"other\":\"X\","
	    "\"severity\":\"hard\",\"message\":\"m\"}]",
	    n1);
	expect_problems(NULL,
			",\"checks\":[{\"id\":\"K\",\"form\":\"F\",\"type\":"
			"\"required\",\"item\":\"Q\",\"severity\":\"soft\","
			"\"message\":\"m\"}]",
			n2);
	expect_problems(NULL,
			",\"checks\":[{\"id\":\"K\",\"form\":\"F\",\"type\":"
			"\"required\",\"item\":\"N\",\"when\":{\"item\":\"C\","
			"\"op\":\"=\",\"value\":\"Z\"},\"severity\":\"soft\","
			"\"message\":\"m\"}]",
			n3);
	expect_problems(
	    NULL,
	    ",\"checks\":[{\"id\":\"K\",\"form\":\"F\",\"type\":"
	    "\"compare\",\"item\":\"N\",\"op\":\"<\",\"other\":\"D\","
	    "\"severity\":\"soft\",\"message\":\"m\"}]",
	    n4);
}

static void test_bad_items(void)
{
	static const char *const n1[] = {
	    "$.forms[0].items[0].range.min: min 5 is greater than max 1",
	    "$.forms[0].items[1].choices: a choice item needs at least one "
	    "choice",
	    "$.forms[0].items[2].code: duplicate item code \"D\" in form F",
	    NULL};
	static const char forms[] =
	    "\"forms\":[{\"code\":\"F\",\"label\":\"F\",\"items\":["
	    "{\"code\":\"D\",\"type\":\"integer\",\"range\":{\"min\":5,"
	    "\"max\":1}},"
	    "{\"code\":\"C\",\"type\":\"choice\",\"choices\":[]},"
	    "{\"code\":\"D\",\"type\":\"date\"}]},"
	    "{\"code\":\"AE\",\"label\":\"AE\",\"items\":["
	    "{\"code\":\"S\",\"type\":\"date\"}]}]";

	expect_problems(forms, "", n1);
}

/* not_future and age checks: the good shapes load, the bad are named. */
static void test_new_check_types(void)
{
	static const char forms[] =
	    "\"forms\":[{\"code\":\"F\",\"label\":\"F\",\"items\":["
	    "{\"code\":\"D\",\"type\":\"date\"},"
	    "{\"code\":\"N\",\"type\":\"integer\"},"
	    "{\"code\":\"C\",\"type\":\"choice\",\"choices\":[\"A\",\"B\"]},"
	    "{\"code\":\"BY\",\"type\":\"integer\"}]},"
	    "{\"code\":\"AE\",\"label\":\"AE\",\"repeating\":true,"
	    "\"items\":[{\"code\":\"S\",\"type\":\"partial_date\"},"
	    "{\"code\":\"T\",\"type\":\"text\"}]}]";
	static const char good[] =
	    ",\"checks\":["
	    "{\"id\":\"NF\",\"form\":\"*\",\"type\":\"not_future\","
	    "\"item\":\"*\",\"days\":1,\"severity\":\"hard\",\"message\":\"m\"}"
	    ","
	    "{\"id\":\"NF2\",\"form\":\"AE\",\"type\":\"not_future\","
	    "\"item\":\"S\",\"severity\":\"soft\",\"message\":\"m\"},"
	    "{\"id\":\"AG\",\"form\":\"F\",\"type\":\"age\",\"item\":\"N\","
	    "\"birth\":\"BY\",\"on\":\"V1.F.D\",\"severity\":\"hard\","
	    "\"message\":\"m\"}]";
	static const char *const n1[] = {
	    "$.checks[0].item: C is choice; a not_future check needs a date",
	    "$.checks[1].days: 400 is outside 0..366",
	    "$.checks[2].item: N is integer; a not_future check needs",
	    "$.checks[3].item: item \"*\" is only for compare and not_future",
	    "$.checks[4].form: form \"*\" (every form) is only for compare "
	    "and not_future checks",
	    "$.checks[5].item: D is date; an age check needs an integer item",
	    "$.checks[6].birth: C is choice; the birth is an integer year or "
	    "a date-like item",
	    "$.checks[7].on: BY is integer; an age is taken on a date-like "
	    "item",
	    "$.checks[8].birth: missing",
	    "$.checks[9].other: unknown member",
	    NULL};
	static const char bad[] =
	    ",\"checks\":["
	    "{\"id\":\"K0\",\"form\":\"F\",\"type\":\"not_future\","
	    "\"item\":\"C\",\"severity\":\"hard\",\"message\":\"m\"},"
	    "{\"id\":\"K1\",\"form\":\"F\",\"type\":\"not_future\","
	    "\"item\":\"D\",\"days\":400,\"severity\":\"hard\",\"message\":"
	    "\"m\"},"
	    "{\"id\":\"K2\",\"form\":\"F\",\"type\":\"not_future\","
	    "\"item\":\"N\",\"severity\":\"hard\",\"message\":\"m\"},"
	    "{\"id\":\"K3\",\"form\":\"F\",\"type\":\"age\","
	    "\"item\":\"*\",\"birth\":\"BY\",\"on\":\"D\",\"severity\":"
	    "\"hard\","
	    "\"message\":\"m\"},"
	    "{\"id\":\"K4\",\"form\":\"*\",\"type\":\"age\","
	    "\"item\":\"*\",\"birth\":\"BY\",\"on\":\"D\",\"severity\":"
	    "\"hard\","
	    "\"message\":\"m\"},"
	    "{\"id\":\"K5\",\"form\":\"F\",\"type\":\"age\","
	    "\"item\":\"D\",\"birth\":\"BY\",\"on\":\"D\",\"severity\":"
	    "\"hard\","
	    "\"message\":\"m\"},"
	    "{\"id\":\"K6\",\"form\":\"F\",\"type\":\"age\","
	    "\"item\":\"N\",\"birth\":\"C\",\"on\":\"D\",\"severity\":\"hard\","
	    "\"message\":\"m\"},"
	    "{\"id\":\"K7\",\"form\":\"F\",\"type\":\"age\","
	    "\"item\":\"N\",\"birth\":\"D\",\"on\":\"BY\",\"severity\":"
	    "\"hard\","
	    "\"message\":\"m\"},"
	    "{\"id\":\"K8\",\"form\":\"F\",\"type\":\"age\","
	    "\"item\":\"N\",\"on\":\"D\",\"severity\":\"hard\","
	    "\"message\":\"m\"},"
	    "{\"id\":\"K9\",\"form\":\"F\",\"type\":\"not_future\","
	    "\"item\":\"D\",\"other\":\"D\",\"severity\":\"hard\","
	    "\"message\":\"m\"}]";
	char text[8192];
	struct cb_protocol *p = NULL;
	struct cb_protocol_problems pr;
	struct cb_err err;

	snprintf(text, sizeof(text), "%s%s%s}", MINI_HEAD, forms, good);
	T_EQ_INT(load_text(text, &p, &pr, &err), 0);
	T_ASSERT(p != NULL);
	T_EQ_INT(p->nchecks, 3);
	T_EQ_INT(p->checks[0].type, CB_CHECK_NOT_FUTURE);
	T_ASSERT(p->checks[0].form == NULL && p->checks[0].item == NULL);
	T_EQ_INT(p->checks[0].days, 1);
	T_EQ_INT(p->checks[1].days, 0); /* default: not after today */
	T_EQ_STR(p->checks[1].item->code, "S");
	T_EQ_INT(p->checks[2].type, CB_CHECK_AGE);
	T_EQ_STR(p->checks[2].birth.item->code, "BY");
	T_ASSERT(p->checks[2].birth.visit == NULL);
	T_EQ_STR(p->checks[2].on.visit->code, "V1");
	cb_protocol_free(p);
	cb_protocol_problems_release(&pr);
	expect_problems(forms, bad, n1);
}

/* The safety section's items must have the types the report reads. */
static void test_bad_safety_items(void)
{
	static const char *const n1[] = {
	    "$.safety.ongoing: S is partial_date, which does not fit "
	    "\"ongoing\"",
	    "$.safety.outcome: E is partial_date, which does not fit "
	    "\"outcome\"",
	    "$.safety.action: unknown item", NULL};

	expect_problems(NULL,
			",\"safety\":{\"form\":\"AE\",\"ongoing\":\"S\","
			"\"outcome\":\"E\",\"action\":\"X\"}",
			n1);
}

/* Values are typed in any case, so a list's codes must differ otherwise. */
static void test_choice_codes_case(void)
{
	static const char *const n1[] = {
	    "$.forms[0].items[2].choices[1]: choice codes \"A\" and \"a\" "
	    "differ only in case",
	    "$.forms[0].items[2].choices[2]: duplicate choice code \"A\"",
	    NULL};
	static const char forms[] =
	    "\"forms\":[{\"code\":\"F\",\"label\":\"F\",\"items\":["
	    "{\"code\":\"D\",\"type\":\"date\"},"
	    "{\"code\":\"N\",\"type\":\"integer\"},"
	    "{\"code\":\"C\",\"type\":\"choice\",\"choices\":[\"A\",\"a\","
	    "\"A\"]}]},"
	    "{\"code\":\"AE\",\"label\":\"AE\",\"items\":["
	    "{\"code\":\"S\",\"type\":\"date\"}]}]";

	expect_problems(forms, "", n1);
}

/* A visit's date is its visit form's even when another window comes first. */
static void test_visit_date_item_prefers_day0_form(void)
{
	static const char text[] =
	    "{\"format\":\"casebook-protocol/"
	    "1\",\"id\":\"t\",\"version\":\"1\","
	    "\"visits\":[{\"code\":\"V1\",\"label\":\"One\",\"day\":0,"
	    "\"window\":[0,0],\"forms\":[\"R\",\"SV\"]}],"
	    "\"day0\":\"V1.SV.VISDT\","
	    "\"forms\":[{\"code\":\"SV\",\"label\":\"SV\",\"items\":["
	    "{\"code\":\"VISDT\",\"type\":\"date\"}]},"
	    "{\"code\":\"R\",\"label\":\"R\",\"items\":["
	    "{\"code\":\"RDT\",\"type\":\"datetime\"}]}],"
	    "\"checks\":["
	    "{\"id\":\"RW\",\"form\":\"R\",\"type\":\"visit_window\","
	    "\"item\":\"RDT\",\"severity\":\"soft\",\"message\":\"m\"},"
	    "{\"id\":\"SW\",\"form\":\"SV\",\"type\":\"visit_window\","
	    "\"item\":\"VISDT\",\"severity\":\"soft\",\"message\":\"m\"}]}";
	struct cb_protocol *p = NULL;
	struct cb_protocol_problems pr;
	struct cb_err err;

	T_EQ_INT(load_text(text, &p, &pr, &err), 0);
	T_ASSERT(p != NULL);
	T_EQ_STR(cb_protocol_visit_date_item(p, &p->visits[0])->code, "VISDT");
	cb_protocol_free(p);
	cb_protocol_problems_release(&pr);
}

static void test_bad_json(void)
{
	static const char text[] = "{\n  \"format\": \"casebook-protocol/1\"\n"
				   "  \"id\": \"x\"\n}\n";
	struct cb_protocol *p = NULL;
	struct cb_protocol_problems pr;
	struct cb_err err;

	T_EQ_INT(load_text(text, &p, &pr, &err), CB_EINVAL);
	T_ASSERT(p == NULL);
	T_EQ_INT(pr.count, 1);
	T_CONTAINS(pr.msgs[0], "t.json: invalid JSON at line 3, column 3");
	cb_protocol_problems_release(&pr);

	T_EQ_INT(load_text("[1,2]", &p, &pr, &err), CB_EINVAL);
	T_CONTAINS(pr.msgs[0], "$: expected an object, found an array");
	cb_protocol_problems_release(&pr);
}

/* Over CB_PROTOCOL_PROBLEMS_MAX problems: the first are kept, all counted. */
static void test_problem_cap(void)
{
	size_t cap = 64 * 1024, len, i;
	char *text = malloc(cap);
	struct cb_protocol *p = NULL;
	struct cb_protocol_problems pr;
	struct cb_err err;

	T_ASSERT(text);
	len = (size_t)snprintf(text, cap,
			       "%s\"forms\":[{\"code\":\"F\",\"label\":\"F\","
			       "\"items\":[{\"code\":\"D\",\"type\":\"date\"}",
			       MINI_HEAD);
	for (i = 0; i < 150; i++)
		len += (size_t)snprintf(
		    text + len, cap - len,
		    ",{\"code\":\"I%zu\",\"type\":\"real\"}", i);
	snprintf(text + len, cap - len,
		 "]},{\"code\":\"AE\",\"label\":\"AE\",\"items\":[{\"code\":"
		 "\"S\",\"type\":\"date\"}]}]}");
	T_EQ_INT(load_text(text, &p, &pr, &err), CB_EINVAL);
	free(text);
	T_EQ_INT(pr.count, CB_PROTOCOL_PROBLEMS_MAX);
	T_EQ_INT(pr.total, 150);
	T_CONTAINS(err.msg, "150 problems");
	cb_protocol_problems_release(&pr);
	T_EQ_INT(pr.count, 0);
	T_ASSERT(pr.msgs == NULL);
}

static void test_missing_file(void)
{
	struct cb_protocol *p = NULL;
	struct cb_protocol_problems pr;
	struct cb_err err;

	cb_err_clear(&err);
	cb_protocol_problems_init(&pr);
	T_EQ_INT(cb_protocol_load_file("/nonexistent/x.json", &p, &pr, &err),
		 CB_ENOTFOUND);
	T_ASSERT(p == NULL);
	T_EQ_INT(pr.count, 0);
	T_CONTAINS(err.msg, "/nonexistent/x.json");
	cb_protocol_problems_release(&pr);
}

/*
 * Random damage to the shipped file never crashes the loader (run it
 * under the sanitizers), and always gives 0 or a reported problem.
 */
static void test_random_damage(void)
{
	uint64_t s = t_seed();
	const char *src;
	size_t len, round, k;
	char *buf;

	T_ASSERT(knee);
	src = knee->source;
	len = knee->source_len;
	buf = malloc(len + 1);
	T_ASSERT(buf);
	for (round = 0; round < 200; round++) {
		struct cb_protocol *p = NULL;
		struct cb_protocol_problems pr;
		struct cb_err err;
		int rc;

		memcpy(buf, src, len + 1);
		for (k = 0; k < 1 + round % 4; k++) {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			buf[(s >> 33) % len] =
			    " \"{}[],:0aZ.#*-"[(s >> 13) % 15];
		}
		rc = load_text(buf, &p, &pr, &err);
		if (rc == 0) {
			T_ASSERT(p != NULL && pr.count == 0);
			cb_protocol_free(p);
		} else if (rc != CB_EINVAL || pr.count == 0) {
			cb_protocol_problems_release(&pr);
			free(buf);
			T_FAIL_AT("round %zu: rc %d, %zu problems", round, rc,
				  pr.count);
			return;
		}
		cb_protocol_problems_release(&pr);
	}
	free(buf);
}

int main(void)
{
	knee = load_knee();
	T_RUN(test_knee_loads);
	T_RUN(test_knee_visits);
	T_RUN(test_knee_forms);
	T_RUN(test_knee_blinding_writers);
	T_RUN(test_knee_randomization);
	T_RUN(test_knee_eligibility_rules);
	T_RUN(test_knee_checks);
	T_RUN(test_knee_plausibility_checks);
	T_RUN(test_knee_scores_and_safety);
	T_RUN(test_bad_safety_items);
	T_RUN(test_value_integer);
	T_RUN(test_value_decimal);
	T_RUN(test_value_text);
	T_RUN(test_value_dates);
	T_RUN(test_value_choice_boolean);
	T_RUN(test_parse_target);
	T_RUN(test_names);
	T_RUN(test_mini_good);
	T_RUN(test_bad_check_refs);
	T_RUN(test_bad_items);
	T_RUN(test_new_check_types);
	T_RUN(test_choice_codes_case);
	T_RUN(test_visit_date_item_prefers_day0_form);
	T_RUN(test_bad_json);
	T_RUN(test_problem_cap);
	T_RUN(test_missing_file);
	T_RUN(test_random_damage);
	cb_protocol_free(knee);
	return t_done();
}
