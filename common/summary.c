/*
 * summary.c - one subject's summary from its events (see summary.h).
 */
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "record.h"

static const char *const lc_names[] = {
    "screening", "screen failure", "randomized",	"dosed",
    "completed", "withdrawn",	   "lost to follow-up", "died"};

const char *cb_lifecycle_name(enum cb_lifecycle s)
{
	return (size_t)s < sizeof(lc_names) / sizeof(lc_names[0]) ? lc_names[s]
								  : "?";
}

int cb_lifecycle_off_study(enum cb_lifecycle s)
{
	return s == CB_LC_SCREEN_FAILURE || s >= CB_LC_COMPLETED;
}

void cb_summary_init(struct cb_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->elig = -1;
}

void cb_summary_release(struct cb_summary *s)
{
	char **fields[] = {
	    &s->subject,      &s->site,		 &s->state_date,
	    &s->created,      &s->consent,	 &s->day0,
	    &s->randomized,   &s->randno,	 &s->kit,
	    &s->dosed,	      &s->ended,	 &s->end_status,
	    &s->visits,	      &s->unblind.user,	 &s->unblind.site,
	    &s->unblind.when, &s->unblind.reason};
	size_t i;

	if (!s)
		return;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		free(*fields[i]);
	cb_summary_init(s);
}

/* Set *field to a copy of v ("" for NULL); 0 or -1 when out of memory. */
static int set(char **field, const char *v)
{
	char *c = strdup(v ? v : "");

	if (!c)
		return -1;
	free(*field);
	*field = c;
	return 0;
}

/* The date part of a date or date-time value (at most 10 characters). */
static int set_date(char **field, const char *v)
{
	char d[11];
	size_t n = v ? strlen(v) : 0;

	if (n > 10)
		n = 10;
	memcpy(d, v ? v : "", n);
	d[n] = '\0';
	return set(field, d);
}

struct walk {
	const struct cb_protocol *p;
	struct cb_summary *s;
	const struct cb_event *any, *created, *unblind, *last_elig;
	size_t nunblind, nevents;
	unsigned char *done; /* per visit index */
	size_t conflicts, queries, aes;
};

static int walk_event(const struct cb_event *ev, void *ctx)
{
	struct walk *w = ctx;
	const struct cb_protocol *p = w->p;

	w->nevents++;
	if (!w->any)
		w->any = ev; /* every event of a subject carries its site */
	if (!strcmp(ev->kind, CB_KIND_SUBJECT_STATUS) && !w->created)
		w->created = ev;
	if (!strcmp(ev->kind, CB_KIND_UNBLIND)) {
		if (!w->unblind)
			w->unblind = ev; /* clock order: the first */
		w->nunblind++;
	}
	if (p->elig_form && ev->nchanges && ev->visit && ev->form &&
	    !strcmp(ev->visit, p->elig_visit->code) &&
	    !strcmp(ev->form, p->elig_form->code))
		w->last_elig = ev; /* clock order: the last */
	return 0;
}

static int walk_item(const struct cb_merge_item *it, void *ctx)
{
	struct walk *w = ctx;
	const struct cb_protocol_visit *v;

	if (it->conflict)
		w->conflicts++;
	if (!it->conflict && !it->value)
		return 0;
	v = cb_protocol_find_visit(w->p, it->visit);
	if (v && v->scheduled)
		w->done[v->index] = 1;
	return 0;
}

static int walk_query(const struct cb_merge_query *q, void *ctx)
{
	struct walk *w = ctx;

	if (q->status != CB_QUERY_CLOSED)
		w->queries++;
	return 0;
}

static int walk_form(const struct cb_merge_form *f, void *ctx)
{
	struct walk *w = ctx;

	if (w->p->safety_form && f->nitems &&
	    !strcmp(f->form, w->p->safety_form->code))
		w->aes++;
	return 0;
}

/* The current value of a fixed reference (NULL: none, or conflicted). */
static const char *value_of(struct cb_merge *m, const char *subject,
			    const struct cb_protocol_visit *v,
			    const struct cb_protocol_form *f,
			    const struct cb_protocol_item *it)
{
	struct cb_merge_item mi;
	struct cb_err ignored;

	if (!v || !f || !it ||
	    cb_merge_item_get(m, subject, v->code, f->code, "", it->code, &mi,
			      &ignored) ||
	    mi.conflict)
		return NULL;
	return mi.value;
}

static const char *ref_value(struct cb_merge *m, const char *subject,
			     const struct cb_protocol_ref *r)
{
	return value_of(m, subject, r->visit, r->form, r->item);
}

/* The lifecycle state from what the summary holds. */
static int settle_state(const struct cb_protocol *p, struct cb_summary *s,
			const struct walk *w)
{
	size_t i;

	if (s->end_status[0] && !(s->elig == CB_ELIG_NO && !s->randno[0])) {
		for (i = 0; i < p->nend_states; i++)
			if (!strcmp(p->end_states[i].code, s->end_status))
				break;
		if (i < p->nend_states) {
			s->state = (enum cb_lifecycle)(CB_LC_COMPLETED +
						       p->end_states[i].state);
			return set(&s->state_date, s->ended);
		}
	}
	if (s->dosed[0]) {
		s->state = CB_LC_DOSED;
		return set(&s->state_date, s->dosed);
	}
	if (s->randno[0]) {
		s->state = CB_LC_RANDOMIZED;
		return set(&s->state_date, s->randomized);
	}
	if (s->elig == CB_ELIG_NO) {
		s->state = CB_LC_SCREEN_FAILURE;
		return set_date(&s->state_date,
				w->last_elig ? w->last_elig->wall : "");
	}
	s->state = CB_LC_SCREENING;
	return s->consent[0] ? set(&s->state_date, s->consent)
			     : set_date(&s->state_date, s->created);
}

int cb_summary_compute(const struct cb_protocol *p, struct cb_merge *m,
		       const char *subject, struct cb_summary *out,
		       struct cb_err *err)
{
	struct walk w;
	struct cb_buf vis;
	int rc = 0, bad = 0;
	size_t i;

	cb_summary_release(out);
	memset(&w, 0, sizeof(w));
	w.p = p;
	w.s = out;
	w.done = calloc(p->nvisits + 1, 1);
	if (!w.done)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	if (cb_merge_each_event(m, subject, walk_event, &w) ||
	    cb_merge_each_item(m, subject, NULL, NULL, NULL, walk_item, &w) ||
	    cb_merge_each_form(m, subject, walk_form, &w) ||
	    cb_merge_each_query(m, subject, walk_query, &w, err)) {
		free(w.done);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (!w.nevents) {
		free(w.done);
		return cb_err_set(err, CB_ENOTFOUND, "no events of subject %s",
				  subject);
	}
	bad |= set(&out->subject, subject);
	bad |= set(&out->site, w.any ? w.any->site : "");
	bad |= set(&out->created, w.created ? w.created->wall : "");
	bad |= set(&out->consent, ref_value(m, subject, &p->consent));
	bad |= set(&out->day0, ref_value(m, subject, &p->day0));
	bad |= set(&out->randno, value_of(m, subject, p->rand_visit,
					  p->rand_form, p->rand_number));
	bad |= set(&out->kit, value_of(m, subject, p->rand_visit, p->rand_form,
				       p->rand_kit));
	/* randno is NULL when copying it ran out of memory. */
	bad |= set_date(&out->randomized,
			out->randno && out->randno[0]
			    ? value_of(m, subject, p->rand_visit, p->rand_form,
				       p->rand_datetime)
			    : NULL);
	bad |= set_date(&out->dosed, ref_value(m, subject, &p->first_dose));
	bad |= set(&out->end_status, ref_value(m, subject, &p->end_status));
	bad |= set(&out->ended, ref_value(m, subject, &p->end_date));
	if (p->elig_form) {
		struct cb_record_source rs;
		struct cb_check_source src = cb_record_source(&rs, m, subject);
		struct cb_check_elig el;

		cb_check_elig_init(&el);
		rc = cb_check_eligibility(p, &src, &el, err);
		if (!rc)
			out->elig = (int)el.status;
		cb_check_elig_release(&el);
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			rc = 0;
		}
	}
	cb_buf_init(&vis, 64 * 1024);
	for (i = 0; !rc && i < p->nvisits; i++) {
		if (!p->visits[i].scheduled || !w.done[i])
			continue;
		rc = cb_buf_printf(&vis, err, "%s%s",
				   out->nvisits_done ? "," : "",
				   p->visits[i].code);
		out->nvisits_done++;
	}
	free(w.done);
	bad |= set(&out->visits, cb_buf_str(&vis));
	cb_buf_free(&vis);
	out->open_queries = w.queries;
	out->conflicts = w.conflicts;
	out->aes = w.aes;
	out->nevents = w.nevents;
	out->nunblind = w.nunblind;
	if (w.unblind) {
		bad |= set(&out->unblind.user, w.unblind->user);
		bad |= set(&out->unblind.site, w.unblind->site);
		bad |= set(&out->unblind.when, w.unblind->wall);
		bad |= set(&out->unblind.reason, w.unblind->reason);
	}
	if (!rc && !bad)
		bad |= settle_state(p, out, &w);
	if (bad && !rc)
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	if (rc)
		cb_summary_release(out);
	return rc;
}

/* ---- JSON ------------------------------------------------------------------
 */

static const char *const elig_names[] = {"incomplete", "not eligible",
					 "eligible"};

int cb_summary_to_json(const struct cb_summary *s, cJSON **out,
		       struct cb_err *err)
{
	cJSON *o = cJSON_CreateObject(), *u;
	int ok = o != NULL;

#define STR(k, v) ok = ok && cJSON_AddStringToObject(o, k, (v) ? (v) : "")
#define NUM(k, v) ok = ok && cJSON_AddNumberToObject(o, k, (double)(v))
	STR("subject", s->subject);
	STR("site", s->site);
	STR("state", cb_lifecycle_name(s->state));
	STR("state_date", s->state_date);
	STR("created", s->created);
	STR("consent", s->consent);
	STR("day0", s->day0);
	STR("randomized", s->randomized);
	STR("randno", s->randno);
	STR("kit", s->kit);
	STR("dosed", s->dosed);
	STR("ended", s->ended);
	STR("end_status", s->end_status);
	if (ok && s->elig >= 0 && s->elig <= CB_ELIG_YES)
		STR("elig", elig_names[s->elig]);
	else
		ok = ok && cJSON_AddNullToObject(o, "elig");
	STR("visits", s->visits);
	NUM("visits_done", s->nvisits_done);
	NUM("open_queries", s->open_queries);
	NUM("conflicts", s->conflicts);
	NUM("aes", s->aes);
	NUM("codebreaks", s->nunblind);
	NUM("events", s->nevents);
	if (ok && s->nunblind) {
		u = cJSON_AddObjectToObject(o, "unblinded");
		ok = u && cJSON_AddStringToObject(u, "user", s->unblind.user) &&
		     cJSON_AddStringToObject(u, "site", s->unblind.site) &&
		     cJSON_AddStringToObject(u, "when", s->unblind.when) &&
		     cJSON_AddStringToObject(u, "reason", s->unblind.reason);
	} else {
		ok = ok && cJSON_AddNullToObject(o, "unblinded");
	}
#undef STR
#undef NUM
	if (!ok) {
		cJSON_Delete(o);
		*out = NULL;
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	*out = o;
	return 0;
}

static int get_str(const cJSON *j, const char *k, char **field, int *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	if (!cJSON_IsString(v)) {
		*bad = 1;
		return -1;
	}
	if (set(field, v->valuestring))
		*bad = 2;
	return 0;
}

static size_t get_num(const cJSON *j, const char *k, int *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0) {
		*bad = 1;
		return 0;
	}
	return (size_t)v->valuedouble;
}

int cb_summary_from_json(const cJSON *j, struct cb_summary *out,
			 struct cb_err *err)
{
	const cJSON *el, *u;
	char *state = NULL;
	int bad = 0;
	size_t i;

	cb_summary_release(out);
	get_str(j, "subject", &out->subject, &bad);
	get_str(j, "site", &out->site, &bad);
	get_str(j, "state_date", &out->state_date, &bad);
	get_str(j, "created", &out->created, &bad);
	get_str(j, "consent", &out->consent, &bad);
	get_str(j, "day0", &out->day0, &bad);
	get_str(j, "randomized", &out->randomized, &bad);
	get_str(j, "randno", &out->randno, &bad);
	get_str(j, "kit", &out->kit, &bad);
	get_str(j, "dosed", &out->dosed, &bad);
	get_str(j, "ended", &out->ended, &bad);
	get_str(j, "end_status", &out->end_status, &bad);
	get_str(j, "visits", &out->visits, &bad);
	get_str(j, "state", &state, &bad);
	out->nvisits_done = get_num(j, "visits_done", &bad);
	out->open_queries = get_num(j, "open_queries", &bad);
	out->conflicts = get_num(j, "conflicts", &bad);
	out->aes = get_num(j, "aes", &bad);
	out->nunblind = get_num(j, "codebreaks", &bad);
	out->nevents = get_num(j, "events", &bad);
	for (i = 0; state && i < sizeof(lc_names) / sizeof(lc_names[0]); i++)
		if (!strcmp(state, lc_names[i]))
			break;
	if (!state || i == sizeof(lc_names) / sizeof(lc_names[0]))
		bad = bad ? bad : 1;
	else
		out->state = (enum cb_lifecycle)i;
	free(state);
	el = cJSON_GetObjectItemCaseSensitive(j, "elig");
	out->elig = -1;
	for (i = 0; cJSON_IsString(el) && i < 3; i++)
		if (!strcmp(el->valuestring, elig_names[i]))
			out->elig = (int)i;
	if (!cJSON_IsNull(el) && out->elig < 0)
		bad = bad ? bad : 1;
	u = cJSON_GetObjectItemCaseSensitive(j, "unblinded");
	if (cJSON_IsObject(u)) {
		get_str(u, "user", &out->unblind.user, &bad);
		get_str(u, "site", &out->unblind.site, &bad);
		get_str(u, "when", &out->unblind.when, &bad);
		get_str(u, "reason", &out->unblind.reason, &bad);
	} else if (!cJSON_IsNull(u)) {
		bad = bad ? bad : 1;
	}
	if (bad) {
		cb_summary_release(out);
		return bad == 2 ? cb_err_set(err, CB_ENOMEM, "out of memory")
				: cb_err_set(err, CB_EINVAL,
					     "not a subject summary");
	}
	return 0;
}

int cb_summary_visit_done(const struct cb_summary *s, const char *code)
{
	const char *p = s->visits ? s->visits : "";
	size_t n = strlen(code);

	while (*p) {
		if (!strncmp(p, code, n) && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	return 0;
}
