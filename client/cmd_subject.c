/*
 * cmd_subject.c - subjects on this laptop: `casebook subject add`, `list`
 * and `show`.
 *
 * A subject id is SITE-DDNNN: the site code, this device's two-digit
 * index and a three-digit sequence kept by the store, so two laptops of
 * one site never make the same id, with no network.
 *
 * `list` reads each subject's summary row (derive.h: the subject's
 * lifecycle state, summary.h, kept as its events are stored), never the
 * event log, so it costs what it prints. `show` merges the one subject's
 * events (entry_merge) and reads no other subject's. Both build one JSON
 * tree, which --json prints as it is and the plain output renders as
 * text, so both always say the same.
 */
#include "cli.h"
#include "date.h"
#include "derive.h"
#include "entry.h"
#include "jout.h"
#include "record.h"
#include "studyday.h"
#include "withheld.h"
#include "summary.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_subject_help[] =
    "usage: casebook subject add\n"
    "       casebook subject list [--json]\n"
    "       casebook subject show SUBJECT [--json]\n"
    "\n"
    "add   create a new subject at screening and print its id, SITE-DDNNN\n"
    "      (site code, this laptop's device index, a sequence number), for\n"
    "      example KR01-01007. Works offline; ids never collide between\n"
    "      devices.\n"
    "\n"
    "list  every subject on this laptop: status (where the subject stands:\n"
    "      screening, with the eligibility verdict once it can be decided;\n"
    "      screen failure, randomized, dosed, completed, withdrawn, lost to\n"
    "      follow-up or died; UNBLINDED after an emergency code-break),\n"
    "      visits done (scheduled visits with any data), open queries (open\n"
    "      or answered, not yet closed) and conflicted items.\n"
    "\n"
    "show  one subject's schedule: every visit in protocol order (LOG last)\n"
    "      with its target day and window, counted from the protocol's day-0\n"
    "      date, the visit date, its study day (day 1 is the first dose;\n"
    "      no day 0) and whether it lies in the window; every form\n"
    "      the visit holds (each instance of a repeating form) with its\n"
    "      status, values, missing required items, derived scores and\n"
    "      signature (an adverse event: its onset's study day and whether\n"
    "      it is treatment-emergent, onset on or after the first dose);\n"
    "      then the subject's open queries with their ids.\n"
    "\n"
    "Form status: empty (no value), partial (a required item is missing),\n"
    "complete, conflicted (an item has several values after a merge),\n"
    "signed (the current signature covers every current value), or\n"
    "\"signed (broken)\" (the form was changed after signing; sign again).\n"
    "Items marked unblinded in the protocol are withheld from every role\n"
    "but lab and dsmb.\n"
    "\n"
    "--json output (stable; members are always present, null when unknown):\n"
    "  list: {\"subjects\":[{\"id\",\"status\",\"unblinded\",\"eligibility\",\n"
    "         \"visits_done\",\"open_queries\",\"conflicts\"}]}\n"
    "        status: the lifecycle state, as list shows it (no verdict)\n"
    "        eligibility: \"eligible\", \"not eligible\", \"incomplete\" or\n"
    "        null when the protocol has no eligibility rules\n"
    "        unblinded: null, or {\"user\",\"site\",\"when\",\"reason\"} of\n"
    "        the first emergency code-break (never the arm)\n"
    "  show: {\"id\",\"status\",\"eligibility\",\"day0\":DATE|null,\n"
    "         \"visits\":[VISIT...],\"queries\":[QUERY...]}\n"
    "    VISIT: {\"visit\",\"label\",\"scheduled\",\"day\",\n"
    "         \"window\":[LOW,HIGH],\"target_date\",\"window_start\",\n"
    "         \"window_end\",\"date\",\"study_day\":N|null,\n"
    "         \"in_window\":true|false|null,\n"
    "         \"forms\":[FORM...]}\n"
    "         (LOG: \"scheduled\":false, null day, window and dates)\n"
    "    FORM: {\"form\",\"instance\":N|null,\"label\",\"status\",\n"
    "         \"completeness\",\"items\":[ITEM...],\"missing\":[CODE...],\n"
    "         \"scores\":[{\"name\",\"value\":NUMBER|null}],\n"
    "         \"signature\":null|{\"id\",\"user\",\"time\",\"meaning\",\n"
    "         \"broken\",\"count\"},\"open_queries\":N}\n"
    "         (the AE form also: \"onset_study_day\":N|null,\n"
    "         \"treatment_emergent\":true|false)\n"
    "    ITEM: {\"item\",\"value\",\"conflict\",\"withheld\"}, plus\n"
    "         \"values\":[...] (every value) when conflicted\n"
    "    QUERY: {\"id\",\"status\",\"system\",\"visit\",\"form\",\n"
    "         \"instance\",\"item\",\"text\"} (not yet closed)\n"
    "  Dates are YYYY-MM-DD; times UTC.\n"
    "\n"
    "Exit codes: 0 done; 1 failure (unknown subject); 2 usage; 4 wrong\n"
    "passphrase.\n";

static int subject_add(int argc, char **argv, struct cli_global *g)
{
	char id[STORE_SITE_MAX + 16];
	struct entry e;
	struct cb_event ev;
	struct cb_err err;
	unsigned seq;
	int rc;

	(void)argv;
	if (argc != 2)
		return cli_usage("subject", "'subject add' takes no arguments");
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	if (store_is_central(e.st)) {
		fprintf(stderr,
			"casebook: error: subjects are enrolled at a "
			"site; the %s role of this central device may "
			"not add one\n",
			store_role(e.st));
		entry_close(&e);
		return EXIT_AUTH;
	}
	rc = entry_begin(&e, &err);
	if (!rc)
		rc = store_next_subject_seq(e.st, &seq, &err);
	if (!rc) {
		snprintf(id, sizeof(id), "%s-%02d%03u", store_site(e.st),
			 store_device_index(e.st), seq);
		rc = entry_new_event(&e, &ev, CB_KIND_SUBJECT_STATUS, id, "",
				     "", "", &err);
		if (!rc) {
			rc = cb_event_set_data(&ev, CB_DATA_STATUS,
					       ENTRY_STATUS_SCREENING, &err);
			if (!rc)
				rc = entry_commit_event(&e, &ev, &err);
			cb_event_release(&ev);
		}
	}
	if (!rc)
		rc = entry_commit(&e, &err);
	else
		entry_rollback(&e);
	entry_close(&e);
	if (rc)
		return cli_fail(&err);
	printf("%s\n", id);
	return EXIT_OK;
}

/* ---- Building the JSON model ---------------------------------------- */

/*
 * The model under construction. Every add goes through the helpers
 * below, which record an allocation failure in `oom` instead of making
 * each caller check; the command reports it once at the end.
 */
struct model {
	struct entry *e;
	const char *subject;
	struct cb_merge *merge; /* the subject's events */
	struct cb_record_source rs;
	struct cb_check_source src;
	struct jout j;
	char dosed[32]; /* first dose date ("" when not dosed): study days */
	struct withheld wh; /* the subject's withheld row, once read */
	int wh_read;
};

/* ---- Subject summary ------------------------------------------------- */

/*
 * The members shared by `list` and `show`: id, status (the lifecycle
 * state), unblinded, eligibility, and (when `counts`) visits_done,
 * open_queries and conflicts.
 */
static void put_summary(struct jout *j, cJSON *o, const char *subject,
			const struct cb_summary *s, int counts)
{
	jout_str(j, o, "id", subject);
	jout_str(j, o, "status", cb_lifecycle_name(s->state));
	/* An emergency code-break is flagged wherever the subject is shown:
	 * who broke the blind, when (UTC) and why. Never the arm. */
	if (s->nunblind) {
		cJSON *u = jout_put(j, o, "unblinded", cJSON_CreateObject());

		jout_str(j, u, "user", s->unblind.user);
		jout_str(j, u, "site", s->unblind.site);
		jout_str(j, u, "when", s->unblind.when);
		jout_str(j, u, "reason", s->unblind.reason);
	} else {
		jout_null(j, o, "unblinded");
	}
	if (s->elig >= 0)
		jout_str(j, o, "eligibility",
			 cb_elig_status_name((enum cb_elig_status)s->elig));
	else
		jout_null(j, o, "eligibility");
	if (counts) {
		jout_num(j, o, "visits_done", (double)s->nvisits_done);
		jout_num(j, o, "open_queries", (double)s->open_queries);
		jout_num(j, o, "conflicts", (double)s->conflicts);
	}
}

static int model_init(struct model *m, struct entry *e, const char *subject,
		      struct cb_err *err)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->e = e;
	m->subject = subject;
	rc = entry_merge(e, subject, &m->merge, err);
	if (!rc)
		m->src = cb_record_source(&m->rs, m->merge, subject);
	return rc;
}

/* ---- subject list ---------------------------------------------------- */

struct list_ctx {
	struct jout j;
	cJSON *arr;
};

static int list_one(void *ctx, const struct derive_summary *ds)
{
	struct list_ctx *lc = ctx;
	cJSON *o;

	if (!ds->summary)
		return 0; /* every event of it is quarantined */
	o = jout_put(&lc->j, lc->arr, NULL, cJSON_CreateObject());
	if (o)
		put_summary(&lc->j, o, ds->subject, ds->summary, 1);
	return lc->j.oom;
}

static void list_text(const cJSON *root)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "subjects");
	const cJSON *s;

	if (!cJSON_GetArraySize(arr)) {
		printf("no subjects on this laptop ('casebook subject add')\n");
		return;
	}
	printf("%-14s %-28s %6s %8s %9s\n", "SUBJECT", "STATUS", "VISITS",
	       "QUERIES", "CONFLICTS");
	cJSON_ArrayForEach(s, arr)
	{
		const char *el = jin_str(s, "eligibility");
		const char *st = jin_str(s, "status");
		char status[128];

		/* The eligibility verdict, once decided, while screening. */
		if (el && st &&
		    !strcmp(st, cb_lifecycle_name(CB_LC_SCREENING)) &&
		    strcmp(el, cb_elig_status_name(CB_ELIG_INCOMPLETE)))
			snprintf(status, sizeof(status), "%s (%s)",
				 jin_str(s, "status") ? jin_str(s, "status")
						      : "-",
				 el);
		else
			snprintf(status, sizeof(status), "%s",
				 jin_str(s, "status") ? jin_str(s, "status")
						      : "-");
		if (cJSON_IsObject(
			cJSON_GetObjectItemCaseSensitive(s, "unblinded")))
			snprintf(status + strlen(status),
				 sizeof(status) - strlen(status), " UNBLINDED");
		printf("%-14s %-28s %6d %8d %9d\n", jin_str(s, "id"), status,
		       jin_int(s, "visits_done", 0),
		       jin_int(s, "open_queries", 0),
		       jin_int(s, "conflicts", 0));
	}
}

/* Print the tree as JSON (formatted, stable member order). */
static int print_json(const cJSON *root)
{
	char *text = cJSON_Print(root);

	if (!text)
		return cli_error("out of memory");
	printf("%s\n", text);
	cJSON_free(text);
	return EXIT_OK;
}

/* Parse [--json] after `first` fixed arguments. */
static int parse_json_flag(int argc, char **argv, int first, int *json)
{
	int i;

	*json = 0;
	for (i = first; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			*json = 1;
		else
			return cli_usage("subject", "unexpected argument '%s'",
					 argv[i]);
	}
	return 0;
}

static int subject_list(int argc, char **argv, struct cli_global *g)
{
	struct list_ctx lc;
	struct entry e;
	struct cb_err err;
	cJSON *root;
	int json, ex, rc;

	ex = parse_json_flag(argc, argv, 2, &json);
	if (ex)
		return ex;
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	cb_err_clear(&err);
	memset(&lc, 0, sizeof(lc));
	root = cJSON_CreateObject();
	lc.arr = root ? cJSON_AddArrayToObject(root, "subjects") : NULL;
	if (!lc.arr)
		lc.j.oom = 1;
	else
		rc = derive_each_summary(e.st, e.proto, list_one, &lc, &err);
	if (rc && !lc.j.oom)
		ex = cli_fail(&err);
	else if (lc.j.oom)
		ex = cli_error("out of memory");
	else if (json)
		ex = print_json(root);
	else
		list_text(root);
	cJSON_Delete(root);
	entry_close(&e);
	return ex;
}

/* ---- subject show ---------------------------------------------------- */

/* The current value of one item, NULL when missing or conflicted. */
static const char *item_value(struct cb_merge *m, const char *subject,
			      const char *visit, const char *form,
			      const char *instance, const char *item)
{
	struct cb_merge_item it;
	struct cb_err err;

	if (cb_merge_item_get(m, subject, visit, form, instance, item, &it,
			      &err))
		return NULL;
	return it.conflict ? NULL : it.value;
}

/* Day 0 of the subject's schedule as a full date; -1 when unknown. */
static int day0_date(struct model *m, struct cb_date *out)
{
	const struct cb_protocol *p = m->e->proto;
	const char *v;

	if (!p->day0.visit || !p->day0.form || !p->day0.item)
		return -1;
	v = item_value(m->merge, m->subject, p->day0.visit->code,
		       p->day0.form->code, "", p->day0.item->code);
	if (cb_date_parse_any(v, out) || !cb_date_is_full(out))
		return -1;
	return 0;
}

/* The study day of a date (TRIAL.md: day 1 is the first dose; CDISC, no
 * day 0), null when there is none (not dosed, no or a partial date). */
static void put_study_day(struct model *m, cJSON *o, const char *key,
			  const char *date)
{
	char day[CB_STUDY_DAY_BUF];

	if (cb_study_day(date, m->dosed, day))
		jout_num(&m->j, o, key, atof(day));
	else
		jout_null(&m->j, o, key);
}

static void put_visit_schedule(struct model *m, cJSON *vo,
			       const struct cb_protocol_visit *v,
			       const struct cb_date *zero)
{
	const struct cb_protocol_item *di =
	    cb_protocol_visit_date_item(m->e->proto, v);
	struct cb_date target, lo, hi, d;
	const char *date = NULL;
	cJSON *w;
	int have = zero != NULL, in = -1;

	if (!v->scheduled) {
		jout_null(&m->j, vo, "day");
		jout_null(&m->j, vo, "window");
		jout_null(&m->j, vo, "target_date");
		jout_null(&m->j, vo, "window_start");
		jout_null(&m->j, vo, "window_end");
		jout_null(&m->j, vo, "date");
		jout_null(&m->j, vo, "study_day");
		jout_null(&m->j, vo, "in_window");
		return;
	}
	jout_num(&m->j, vo, "day", v->day);
	w = jout_put(&m->j, vo, "window", cJSON_CreateArray());
	if (w) {
		jout_num(&m->j, w, NULL, v->low);
		jout_num(&m->j, w, NULL, v->high);
	}
	if (have && (cb_date_add_days(zero, v->day, &target) ||
		     cb_date_add_days(zero, v->low, &lo) ||
		     cb_date_add_days(zero, v->high, &hi)))
		have = 0;
	jout_date(&m->j, vo, "target_date", have ? &target : NULL);
	jout_date(&m->j, vo, "window_start", have ? &lo : NULL);
	jout_date(&m->j, vo, "window_end", have ? &hi : NULL);
	if (di)
		date = item_value(m->merge, m->subject, v->code, di->form->code,
				  "", di->code);
	jout_str(&m->j, vo, "date", date);
	put_study_day(m, vo, "study_day", date);
	if (have && !cb_date_parse_any(date, &d)) {
		enum cb_date_truth a = cb_date_holds(&d, CB_DATE_GE, &lo);
		enum cb_date_truth b = cb_date_holds(&d, CB_DATE_LE, &hi);

		if (a == CB_DATE_FALSE || b == CB_DATE_FALSE)
			in = 0;
		else if (a == CB_DATE_TRUE && b == CB_DATE_TRUE)
			in = 1;
	}
	jout_tri(&m->j, vo, "in_window", in);
}

/*
 * Items of a form instance with their values (withheld when unblinded);
 * *nwithheld gets how many hold a value this role may not see, the
 * server's word for those it never sent (withheld.h).
 */
static int put_items(struct model *m, cJSON *fo,
		     const struct cb_protocol_visit *v,
		     const struct cb_protocol_form *f, const char *inst,
		     size_t *nwithheld, struct cb_err *err)
{
	int may_see = cb_role_unblinded(store_role(m->e->st));
	cJSON *arr = jout_put(&m->j, fo, "items", cJSON_CreateArray());
	size_t i, j;

	*nwithheld = 0;
	for (i = 0; arr && i < f->nitems; i++) {
		const struct cb_protocol_item *item = &f->items[i];
		struct cb_merge_item it;
		cJSON *io, *vals;
		int yes = 0, rc;

		rc = cb_merge_item_get(m->merge, m->subject, v->code, f->code,
				       inst, item->code, &it, err);
		if (rc && rc != CB_ENOTFOUND)
			return rc;
		if (rc && item->unblinded && !may_see) {
			/* The subject's withheld row: read once a command. */
			cb_err_clear(err);
			if (!m->wh_read) {
				rc = withheld_load(m->e->st, m->subject, &m->wh,
						   err);
				if (rc)
					return rc;
				m->wh_read = 1;
			}
			yes = withheld_in(&m->wh, v->code, f->code, inst,
					  item->code);
			if (!yes)
				continue;
			io = jout_put(&m->j, arr, NULL, cJSON_CreateObject());
			if (!io)
				return 0;
			jout_str(&m->j, io, "item", item->code);
			jout_null(&m->j, io, "value");
			jout_bool(&m->j, io, "conflict", 0);
			jout_bool(&m->j, io, "withheld", 1);
			++*nwithheld;
			continue;
		}
		if (rc) {
			cb_err_clear(err);
			continue;
		}
		if (!it.conflict && !it.value)
			continue; /* cleared */
		io = jout_put(&m->j, arr, NULL, cJSON_CreateObject());
		if (!io)
			return 0;
		jout_str(&m->j, io, "item", item->code);
		if (item->unblinded && !may_see) {
			jout_null(&m->j, io, "value");
			jout_bool(&m->j, io, "conflict", it.conflict);
			jout_bool(&m->j, io, "withheld", 1);
			++*nwithheld;
			continue;
		}
		jout_str(&m->j, io, "value", it.conflict ? NULL : it.value);
		jout_bool(&m->j, io, "conflict", it.conflict);
		if (it.conflict) {
			vals =
			    jout_put(&m->j, io, "values", cJSON_CreateArray());
			for (j = 0; vals && j < it.nheads; j++)
				jout_str(&m->j, vals, NULL, it.head_values[j]);
		}
		jout_bool(&m->j, io, "withheld", 0);
	}
	return 0;
}

struct count_q {
	const char *visit, *form, *instance;
	size_t n;
};

static int count_form_query(const struct cb_merge_query *q, void *ctx)
{
	struct count_q *c = ctx;

	if (q->status != CB_QUERY_CLOSED && !strcmp(q->visit, c->visit) &&
	    !strcmp(q->form, c->form) && !strcmp(q->instance, c->instance))
		c->n++;
	return 0;
}

static int put_form(struct model *m, cJSON *forms,
		    const struct cb_protocol_visit *v,
		    const struct cb_protocol_form *f, unsigned instance,
		    struct cb_err *err)
{
	struct cb_merge_form mf;
	struct cb_check_items missing;
	struct cb_check_scores sc;
	enum cb_form_status comp;
	struct count_q cq;
	char inst[16];
	const char *status;
	cJSON *fo, *arr, *so;
	size_t i, nwithheld = 0;
	int rc, have_form;

	cb_record_instance_text(instance, inst);
	rc = cb_merge_form_get(m->merge, m->subject, v->code, f->code, inst,
			       &mf, err);
	have_form = !rc;
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		rc = 0;
	}
	if (rc)
		return rc;
	cb_check_items_init(&missing);
	rc = cb_check_form_status(m->e->proto, &m->src, v, f, instance, &comp,
				  &missing, err);
	if (rc) {
		cb_check_items_release(&missing);
		return rc;
	}
	if (have_form && mf.nconflicts)
		status = "conflicted";
	else if (have_form && mf.sign && !mf.broken)
		status = "signed";
	else if (have_form && mf.sign)
		status = "signed (broken)";
	else
		status = cb_form_status_name(comp);

	fo = jout_put(&m->j, forms, NULL, cJSON_CreateObject());
	if (!fo) {
		cb_check_items_release(&missing);
		return 0;
	}
	jout_str(&m->j, fo, "form", f->code);
	if (instance)
		jout_num(&m->j, fo, "instance", instance);
	else
		jout_null(&m->j, fo, "instance");
	jout_str(&m->j, fo, "label", f->label);
	jout_str(&m->j, fo, "status", status);
	jout_str(&m->j, fo, "completeness", cb_form_status_name(comp));
	/* An adverse event: its onset's study day and whether it is
	 * treatment-emergent (onset on or after the first dose). */
	if (f == m->e->proto->safety_form &&
	    m->e->proto->safety_items[CB_SAFETY_ONSET]) {
		const char *onset = item_value(
		    m->merge, m->subject, v->code, f->code, inst,
		    m->e->proto->safety_items[CB_SAFETY_ONSET]->code);

		put_study_day(m, fo, "onset_study_day", onset);
		jout_bool(&m->j, fo, "treatment_emergent",
			  cb_treatment_emergent(onset, m->dosed));
	}
	rc = put_items(m, fo, v, f, inst, &nwithheld, err);
	if (rc) {
		cb_check_items_release(&missing);
		return rc;
	}
	/* Values exist that this role may not see: never "empty". */
	if (comp == CB_FORM_EMPTY && nwithheld)
		cJSON_ReplaceItemInObjectCaseSensitive(
		    fo, "status", cJSON_CreateString("withheld"));
	arr = jout_put(&m->j, fo, "missing", cJSON_CreateArray());
	for (i = 0; arr && i < missing.count; i++)
		if (comp != CB_FORM_EMPTY)
			jout_str(&m->j, arr, NULL, missing.list[i].item->code);
	cb_check_items_release(&missing);

	arr = jout_put(&m->j, fo, "scores", cJSON_CreateArray());
	cb_check_scores_init(&sc);
	/* A form whose only value is in conflict is "empty" by its values,
	 * but its scores are listed, as not computed, saying why. */
	if (arr && (comp != CB_FORM_EMPTY || (have_form && mf.nconflicts)) &&
	    f->nscores) {
		rc = cb_check_scores(m->e->proto, &m->src, v, f, instance, &sc,
				     err);
		for (i = 0; !rc && i < sc.count; i++) {
			so = jout_put(&m->j, arr, NULL, cJSON_CreateObject());
			if (!so)
				break;
			jout_str(&m->j, so, "name", sc.list[i].name);
			if (sc.list[i].valid)
				jout_num(&m->j, so, "value", sc.list[i].value);
			else
				jout_null(&m->j, so, "value");
		}
	}
	cb_check_scores_release(&sc);
	if (rc)
		return rc;

	if (have_form && mf.sign) {
		const char *meaning = cb_event_data(mf.sign, CB_DATA_MEANING);

		so = jout_put(&m->j, fo, "signature", cJSON_CreateObject());
		if (so) {
			jout_str(&m->j, so, "id", mf.sign->id);
			jout_str(&m->j, so, "user", mf.sign->user);
			jout_str(&m->j, so, "time", mf.sign->wall);
			jout_str(&m->j, so, "meaning", meaning);
			jout_bool(&m->j, so, "broken", mf.broken);
			jout_num(&m->j, so, "count", (double)mf.nsigns);
		}
	} else {
		jout_null(&m->j, fo, "signature");
	}
	cq.visit = v->code;
	cq.form = f->code;
	cq.instance = inst;
	cq.n = 0;
	rc = cb_merge_each_query(m->merge, m->subject, count_form_query, &cq,
				 err);
	jout_num(&m->j, fo, "open_queries", (double)cq.n);
	return rc;
}

struct inst_ctx {
	const char *visit, *form;
	unsigned *list;
	size_t n, cap;
};

static int inst_one(const struct cb_merge_form *f, void *ctx)
{
	struct inst_ctx *ic = ctx;
	unsigned long n;

	if (strcmp(f->visit, ic->visit) || strcmp(f->form, ic->form))
		return 0;
	n = strtoul(f->instance, NULL, 10);
	if (!n || n > CB_PROTOCOL_REPEAT_MAX || ic->n == ic->cap)
		return 0;
	ic->list[ic->n++] = (unsigned)n;
	return 0;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static int put_visit(struct model *m, cJSON *visits,
		     const struct cb_protocol_visit *v,
		     const struct cb_date *zero, struct cb_err *err)
{
	cJSON *vo, *forms;
	size_t i, k;
	int rc = 0;

	vo = jout_put(&m->j, visits, NULL, cJSON_CreateObject());
	if (!vo)
		return 0;
	jout_str(&m->j, vo, "visit", v->code);
	jout_str(&m->j, vo, "label", v->label);
	jout_bool(&m->j, vo, "scheduled", v->scheduled);
	put_visit_schedule(m, vo, v, zero);
	forms = jout_put(&m->j, vo, "forms", cJSON_CreateArray());
	for (i = 0; forms && !rc && i < v->nforms; i++) {
		const struct cb_protocol_form *f = v->forms[i];
		struct inst_ctx ic;

		if (!f->repeating) {
			rc = put_form(m, forms, v, f, 0, err);
			continue;
		}
		memset(&ic, 0, sizeof(ic));
		ic.visit = v->code;
		ic.form = f->code;
		ic.cap = CB_PROTOCOL_REPEAT_MAX;
		ic.list = calloc(ic.cap, sizeof(*ic.list));
		if (!ic.list)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		cb_merge_each_form(m->merge, m->subject, inst_one, &ic);
		qsort(ic.list, ic.n, sizeof(*ic.list), cmp_unsigned);
		for (k = 0; !rc && k < ic.n; k++)
			if (!k || ic.list[k] != ic.list[k - 1])
				rc = put_form(m, forms, v, f, ic.list[k], err);
		free(ic.list);
	}
	return rc;
}

struct query_ctx {
	struct model *m;
	cJSON *arr;
};

static int query_one(const struct cb_merge_query *q, void *ctx)
{
	struct query_ctx *qc = ctx;
	struct model *m = qc->m;
	cJSON *o;

	if (q->status == CB_QUERY_CLOSED)
		return 0;
	o = jout_put(&m->j, qc->arr, NULL, cJSON_CreateObject());
	if (!o)
		return 0;
	jout_str(&m->j, o, "id", q->id);
	jout_str(&m->j, o, "status", cb_query_status_name(q->status));
	jout_bool(&m->j, o, "system", q->system);
	jout_str(&m->j, o, "visit", q->visit);
	jout_str(&m->j, o, "form", q->form);
	jout_str(&m->j, o, "instance", q->instance);
	jout_str(&m->j, o, "item", q->item);
	jout_str(&m->j, o, "text", q->text);
	return 0;
}

static int build_show(struct model *m, cJSON *root, struct cb_err *err)
{
	const struct cb_protocol *p = m->e->proto;
	struct query_ctx qc;
	struct cb_date zero;
	int have0, pass, rc;
	cJSON *visits;
	size_t i;

	{
		struct cb_summary sum;

		cb_summary_init(&sum);
		rc = cb_summary_compute(p, m->merge, m->subject, &sum, err);
		if (!rc)
			put_summary(&m->j, root, m->subject, &sum, 0);
		snprintf(m->dosed, sizeof(m->dosed), "%s",
			 !rc && sum.dosed ? sum.dosed : "");
		cb_summary_release(&sum);
		if (rc)
			return rc;
	}
	have0 = !day0_date(m, &zero);
	jout_date(&m->j, root, "day0", have0 ? &zero : NULL);
	visits = jout_put(&m->j, root, "visits", cJSON_CreateArray());
	/* Scheduled visits in protocol order, then LOG. */
	for (pass = 0; visits && pass < 2; pass++)
		for (i = 0; i < p->nvisits; i++) {
			const struct cb_protocol_visit *v = &p->visits[i];

			if (v->scheduled != !pass)
				continue;
			rc = put_visit(m, visits, v, have0 ? &zero : NULL, err);
			if (rc)
				return rc;
		}
	qc.m = m;
	qc.arr = jout_put(&m->j, root, "queries", cJSON_CreateArray());
	if (!qc.arr)
		return 0;
	return cb_merge_each_query(m->merge, m->subject, query_one, &qc, err);
}

static void show_form_text(const cJSON *fo, const cJSON *queries,
			   const char *visit)
{
	const cJSON *it, *x, *sig;
	char name[64];
	const char *status =
	    jin_str(fo, "status") ? jin_str(fo, "status") : "-";
	int inst = jin_int(fo, "instance", 0), first;

	if (inst)
		snprintf(name, sizeof(name), "%s#%d", jin_str(fo, "form"),
			 inst);
	else
		snprintf(name, sizeof(name), "%s", jin_str(fo, "form"));
	printf("  %-9s %s", name, status);
	sig = cJSON_GetObjectItemCaseSensitive(fo, "signature");
	if (cJSON_IsObject(sig)) {
		if (jin_tri(sig, "broken") == 1)
			printf(": changed after signing by %s at %s",
			       jin_str(sig, "user"), jin_str(sig, "time"));
		else
			printf(" by %s at %s", jin_str(sig, "user"),
			       jin_str(sig, "time"));
	}
	first = 1;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(fo, "missing"))
	{
		printf("%s%s", first ? " (missing: " : ", ", x->valuestring);
		first = 0;
	}
	printf("%s\n", first ? "" : ")");
	if (cJSON_IsBool(
		cJSON_GetObjectItemCaseSensitive(fo, "treatment_emergent"))) {
		const cJSON *d =
		    cJSON_GetObjectItemCaseSensitive(fo, "onset_study_day");

		if (cJSON_IsNumber(d))
			printf("      onset on study day %d", d->valueint);
		else
			printf("      onset study day: none (not dosed, or no "
			       "full onset date)");
		printf(", %s\n", jin_tri(fo, "treatment_emergent") == 1
				     ? "treatment-emergent"
				     : "not treatment-emergent");
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(fo, "items"))
	{
		if (jin_tri(it, "withheld") == 1) {
			printf("      %-10s (withheld: unblinded item)\n",
			       jin_str(it, "item"));
		} else if (jin_tri(it, "conflict") == 1) {
			printf("      %-10s CONFLICT:", jin_str(it, "item"));
			cJSON_ArrayForEach(
			    x, cJSON_GetObjectItemCaseSensitive(it, "values"))
			    printf(" [%s]", cJSON_IsString(x) ? x->valuestring
							      : "(cleared)");
			printf("\n");
		} else {
			printf("      %-10s %s\n", jin_str(it, "item"),
			       jin_str(it, "value"));
		}
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(fo, "scores"))
	{
		const cJSON *val = cJSON_GetObjectItemCaseSensitive(x, "value");

		if (cJSON_IsNumber(val))
			printf("      score %-14s %.2f\n", jin_str(x, "name"),
			       val->valuedouble);
		else if (!strcmp(status, "conflicted"))
			printf("      score %-14s (not scored: an item is in "
			       "conflict, or too many are missing)\n",
			       jin_str(x, "name"));
		else
			printf("      score %-14s (not scored: too many items "
			       "missing)\n",
			       jin_str(x, "name"));
	}
	cJSON_ArrayForEach(x, queries)
	{
		char qi[16];

		snprintf(qi, sizeof(qi), "%d", inst);
		if (strcmp(jin_str(x, "visit"), visit) ||
		    strcmp(jin_str(x, "form"), jin_str(fo, "form")) ||
		    strcmp(jin_str(x, "instance"), inst ? qi : ""))
			continue;
		printf("      query %s (%s)%s%s: %s\n", jin_str(x, "id"),
		       jin_str(x, "status"),
		       jin_str(x, "item")[0] ? " on " : "", jin_str(x, "item"),
		       jin_str(x, "text") ? jin_str(x, "text") : "");
	}
}

static void show_text(const cJSON *root)
{
	const cJSON *queries =
	    cJSON_GetObjectItemCaseSensitive(root, "queries");
	const cJSON *v, *fo, *q;
	const char *el = jin_str(root, "eligibility");
	int other = 0;

	const cJSON *ub = cJSON_GetObjectItemCaseSensitive(root, "unblinded");

	printf("Subject %s   status: %s", jin_str(root, "id"),
	       jin_str(root, "status") ? jin_str(root, "status") : "-");
	if (el)
		printf("   eligibility: %s", el);
	if (cJSON_IsObject(ub))
		printf("\nUNBLINDED (emergency code-break) by %s at %s: %s",
		       jin_str(ub, "user"), jin_str(ub, "when"),
		       jin_str(ub, "reason"));
	printf("\nDay 0: %s\n",
	       jin_str(root, "day0") ? jin_str(root, "day0") : "not yet known");
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "visits"))
	{
		printf("\n%s  %s", jin_str(v, "visit"), jin_str(v, "label"));
		if (jin_tri(v, "scheduled") == 1) {
			const cJSON *w =
			    cJSON_GetObjectItemCaseSensitive(v, "window");
			int in = jin_tri(v, "in_window");

			printf("  (day %d, window %d..%d", jin_int(v, "day", 0),
			       cJSON_GetArrayItem(w, 0)->valueint,
			       cJSON_GetArrayItem(w, 1)->valueint);
			if (jin_str(v, "window_start"))
				printf(": %s..%s", jin_str(v, "window_start"),
				       jin_str(v, "window_end"));
			printf(")");
			if (jin_str(v, "date"))
				printf("  date %s%s", jin_str(v, "date"),
				       in == 1	 ? ", in window"
				       : in == 0 ? ", OUTSIDE the window"
						 : "");
			if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(
				v, "study_day")))
				printf(", study day %d",
				       jin_int(v, "study_day", 0));
		}
		printf("\n");
		cJSON_ArrayForEach(fo,
				   cJSON_GetObjectItemCaseSensitive(v, "forms"))
		    show_form_text(fo, queries, jin_str(v, "visit"));
	}
	cJSON_ArrayForEach(q, queries)
	{
		if (jin_str(q, "form")[0])
			continue;
		if (!other++)
			printf("\nQueries about the subject:\n");
		printf("  query %s (%s): %s\n", jin_str(q, "id"),
		       jin_str(q, "status"),
		       jin_str(q, "text") ? jin_str(q, "text") : "");
	}
	printf("\nOpen queries: %d\n", cJSON_GetArraySize(queries));
}

static int subject_show(int argc, char **argv, struct cli_global *g)
{
	struct model m;
	struct entry e;
	struct cb_err err;
	cJSON *root;
	int json, ex, rc;

	if (argc < 3 || !strcmp(argv[2], "--json"))
		return cli_usage("subject", "usage: casebook subject show "
					    "SUBJECT [--json]");
	ex = parse_json_flag(argc, argv, 3, &json);
	if (ex)
		return ex;
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	rc = entry_subject_known(&e, argv[2], &err);
	if (rc) {
		entry_close(&e);
		return cli_fail(&err);
	}
	cb_err_clear(&err);
	root = NULL;
	rc = model_init(&m, &e, argv[2], &err);
	if (!rc)
		root = cJSON_CreateObject();
	if (!rc && !root)
		m.j.oom = 1;
	else if (!rc)
		rc = build_show(&m, root, &err);
	if (rc)
		ex = cli_fail(&err);
	else if (m.j.oom)
		ex = cli_error("out of memory");
	else if (json)
		ex = print_json(root);
	else
		show_text(root);
	cJSON_Delete(root);
	withheld_release(&m.wh);
	entry_close(&e);
	return ex;
}

int cmd_subject(int argc, char **argv, struct cli_global *g)
{
	if (argc < 2)
		return cli_usage("subject",
				 "which subject command? (add, list, show)");
	if (!strcmp(argv[1], "add"))
		return subject_add(argc, argv, g);
	if (!strcmp(argv[1], "list"))
		return subject_list(argc, argv, g);
	if (!strcmp(argv[1], "show"))
		return subject_show(argc, argv, g);
	return cli_usage("subject", "unknown subject command '%s'", argv[1]);
}
