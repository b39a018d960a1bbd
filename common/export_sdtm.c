/*
 * export_sdtm.c - the sdtm export (export.h, docs/exports.md): the DM
 * and AE domains as CSV with SDTM variable names, and SUPPAE.csv with
 * the treatment-emergent flag (TRTEMFL), which SDTM keeps out of AE.
 *
 * Variables come from the protocol, never from this study's names:
 * AE's from the protocol's safety section (term, onset, end, grade,
 * severity, ongoing, relationship, action, outcome, the seriousness
 * criteria under their own item codes, the serious condition as
 * AESER); DM's reference dates from the lifecycle and first_dose; AGE,
 * SEX, RACE, ETHNIC, COUNTRY and BRTHDTC from items of those names,
 * where the protocol has them (TRIAL.md names items after SDTM
 * variables). ARM, ARMCD, ACTARM and ACTARMCD are empty: the export is
 * blinded. Study days (AESTDY, AEENDY) count from the first dose
 * (studyday.h). A conflicted value is empty (the csv export's
 * conflicts.csv lists every conflict).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_int.h"
#include "studyday.h"

#define EOL "\r\n"

/* DM variables read from items of the same name, in output order. */
static const char *const dm_named[] = {"BRTHDTC", "AGE",    "SEX",
				       "RACE",	  "ETHNIC", "COUNTRY"};
#define NNAMED (sizeof(dm_named) / sizeof(dm_named[0]))

struct sdtm {
	struct cb_out *dm, *ae, *supp;
	size_t ndm, nae, nsupp;
	const struct cb_protocol_item *named[NNAMED];
	const struct cb_protocol_visit *named_visit[NNAMED];
};

static void sep(struct cb_out *o)
{
	cb_out_putc(o, ',');
}

static int sdtm_begin(struct cb_exp *x)
{
	const struct cb_protocol *p = x->p;
	struct sdtm *s = calloc(1, sizeof(*s));
	size_t i;
	int rc;

	if (!s)
		return cb_err_set(x->err, CB_ENOMEM, "out of memory");
	x->fmt = s;
	rc = cb_exp_open(x, "DM.csv", &s->dm);
	if (!rc)
		rc = cb_exp_open(x, "AE.csv", &s->ae);
	if (!rc)
		rc = cb_exp_open(x, "SUPPAE.csv", &s->supp);
	if (rc)
		return rc;
	cb_out_puts(s->dm, "STUDYID,DOMAIN,USUBJID,SUBJID,RFSTDTC,RFENDTC,"
			   "RFXSTDTC,RFICDTC,DTHDTC,DTHFL,SITEID");
	for (i = 0; i < NNAMED; i++) {
		s->named[i] =
		    cb_exp_item_named(p, dm_named[i], &s->named_visit[i]);
		if (!s->named[i])
			continue;
		sep(s->dm);
		cb_out_puts(s->dm, dm_named[i]);
		if (!strcmp(dm_named[i], "AGE"))
			cb_out_puts(s->dm, ",AGEU");
	}
	cb_out_puts(s->dm, ",ARMCD,ARM,ACTARMCD,ACTARM" EOL);

	cb_out_puts(s->ae, "STUDYID,DOMAIN,USUBJID,AESEQ,AESPID,AETERM,"
			   "AESTDTC,AEENDTC,AESTDY,AEENDY,AEENRTPT,AESER");
	for (i = 0; i < p->ncriteria; i++) {
		sep(s->ae);
		cb_out_csv(s->ae, p->criteria[i]->code);
	}
	cb_out_puts(s->ae, ",AESEV,AETOXGR,AEREL,AEACN,AEOUT" EOL);
	cb_out_puts(s->supp, "STUDYID,RDOMAIN,USUBJID,IDVAR,IDVARVAL,QNAM,"
			     "QLABEL,QVAL,QORIG,QEVAL" EOL);
	return 0;
}

/* STUDYID,DOMAIN,USUBJID, for a row of `domain`. */
static void keys(struct cb_exp *x, struct cb_out *o, const char *domain)
{
	cb_out_csv(o, x->p->id);
	sep(o);
	cb_out_csv(o, domain);
	sep(o);
	cb_out_csv(o, x->p->id);
	cb_out_putc(o, '-');
	cb_out_csv(o, x->s->sum->subject);
}

static void dm_row(struct cb_exp *x, struct sdtm *s)
{
	const struct cb_summary *sum = x->s->sum;
	const char *dose = cb_exp_first_dose(x);
	int died = sum->state == CB_LC_DIED;
	struct cb_out *o = s->dm;
	size_t i;

	keys(x, o, "DM");
	sep(o);
	cb_out_csv(o, sum->subject);
	sep(o);
	cb_out_csv(o, dose);
	sep(o);
	cb_out_csv(o, sum->ended);
	sep(o);
	cb_out_csv(o, dose);
	sep(o);
	cb_out_csv(o, sum->consent);
	sep(o);
	cb_out_csv(o, died ? sum->ended : "");
	sep(o);
	cb_out_csv(o, died ? "Y" : "");
	sep(o);
	cb_out_csv(o, sum->site);
	for (i = 0; i < NNAMED; i++) {
		const struct cb_protocol_item *it = s->named[i];
		const char *v;

		if (!it)
			continue;
		v = cb_fview_value(&x->view, s->named_visit[i]->code,
				   it->form->code, 0, it->code);
		sep(o);
		cb_out_csv(o, v);
		if (!strcmp(dm_named[i], "AGE")) {
			/* SDTM spells the unit in capitals: YEARS */
			sep(o);
			if (v && it->unit[0]) {
				const char *u;

				for (u = it->unit; *u; u++)
					cb_out_putc(
					    o, (char)(*u >= 'a' && *u <= 'z'
							  ? *u - 'a' + 'A'
							  : *u));
			}
		}
	}
	cb_out_puts(o, ",,,," EOL);
	s->ndm++;
}

/* The value of safety item `k` of AE instance `inst` (NULL: none). */
static const char *ae_value(struct cb_exp *x, const char *visit,
			    enum cb_safety_item k, unsigned inst)
{
	const struct cb_protocol_item *it = x->p->safety_items[k];

	if (!it)
		return NULL;
	return cb_fview_value(&x->view, visit, it->form->code, inst, it->code);
}

static int ae_rows(struct cb_exp *x, struct sdtm *s)
{
	const struct cb_protocol *p = x->p;
	const struct cb_protocol_visit *v = cb_exp_safety_visit(x);
	const char *dose = cb_exp_first_dose(x);
	char day[CB_STUDY_DAY_BUF];
	size_t pos = 0, seq = 0, i;
	unsigned inst;

	if (!v)
		return 0;
	while (cb_fview_next_instance(&x->view, v->code, p->safety_form->code,
				      &pos, &inst)) {
		const char *onset = ae_value(x, v->code, CB_SAFETY_ONSET, inst);
		const char *end = ae_value(x, v->code, CB_SAFETY_END, inst);
		const char *ongo =
		    ae_value(x, v->code, CB_SAFETY_ONGOING, inst);
		const char *ser =
		    cb_exp_safety_flag(x, CB_SAFETY_SERIOUS, inst);
		struct cb_out *o = s->ae;

		if (x->err->code)
			return x->err->code;
		seq++;
		keys(x, o, "AE");
		cb_out_printf(o, ",%zu,%u,", seq, inst);
		cb_out_csv(o, ae_value(x, v->code, CB_SAFETY_TERM, inst));
		sep(o);
		cb_out_csv(o, onset);
		sep(o);
		cb_out_csv(o, end);
		sep(o);
		if (cb_study_day(onset, dose, day))
			cb_out_puts(o, day);
		sep(o);
		if (cb_study_day(end, dose, day))
			cb_out_puts(o, day);
		sep(o);
		if (ongo && !strcmp(ongo, "Y"))
			cb_out_puts(o, "ONGOING");
		sep(o);
		cb_out_csv(o, ser);
		for (i = 0; i < p->ncriteria; i++) {
			sep(o);
			cb_out_csv(o, cb_fview_value(&x->view, v->code,
						     p->safety_form->code, inst,
						     p->criteria[i]->code));
		}
		sep(o);
		cb_out_csv(o, ae_value(x, v->code, CB_SAFETY_SEVERITY, inst));
		sep(o);
		cb_out_csv(o, ae_value(x, v->code, CB_SAFETY_GRADE, inst));
		sep(o);
		cb_out_csv(o,
			   ae_value(x, v->code, CB_SAFETY_RELATIONSHIP, inst));
		sep(o);
		cb_out_csv(o, ae_value(x, v->code, CB_SAFETY_ACTION, inst));
		sep(o);
		cb_out_csv(o, ae_value(x, v->code, CB_SAFETY_OUTCOME, inst));
		cb_out_puts(o, EOL);
		s->nae++;

		keys(x, s->supp, "AE");
		cb_out_printf(s->supp,
			      ",AESEQ,%zu,TRTEMFL,Treatment Emergent Flag,%s,"
			      "DERIVED," EOL,
			      seq,
			      cb_treatment_emergent(onset, dose) ? "Y" : "N");
		s->nsupp++;
	}
	return 0;
}

static int sdtm_subject(struct cb_exp *x)
{
	struct sdtm *s = x->fmt;

	dm_row(x, s);
	return x->p->safety_form ? ae_rows(x, s) : 0;
}

static int sdtm_end(struct cb_exp *x)
{
	struct sdtm *s = x->fmt;
	int rc;

	rc = cb_exp_close(x, s->dm, "DM.csv", s->ndm);
	if (!rc)
		rc = cb_exp_close(x, s->ae, "AE.csv", s->nae);
	if (!rc)
		rc = cb_exp_close(x, s->supp, "SUPPAE.csv", s->nsupp);
	return rc;
}

static void sdtm_free(struct cb_exp *x)
{
	free(x->fmt);
	x->fmt = NULL;
}

const struct cb_exp_format cb_exp_sdtm = {
    "sdtm", 0, sdtm_begin, sdtm_subject, sdtm_end, sdtm_free,
};
