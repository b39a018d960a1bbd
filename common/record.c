/*
 * record.c - the protocol applied to the event log (see record.h).
 */
#include "record.h"

#include "role.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

void cb_record_instance_text(unsigned instance, char out[16])
{
	if (instance)
		snprintf(out, 16, "%u", instance);
	else
		out[0] = '\0';
}

static int source_get(void *ctx, const char *visit, const char *form,
		      unsigned instance, const char *item, const char **value,
		      struct cb_err *err)
{
	struct cb_record_source *rs = ctx;
	struct cb_merge_item it;
	int rc;

	*value = NULL;
	cb_record_instance_text(instance, rs->instance);
	/* Checks read many items no event has set yet: no message for
	 * those. */
	rc = cb_merge_item_get(rs->merge, rs->subject, visit, form,
			       rs->instance, item, &it, NULL);
	if (rc == CB_ENOTFOUND)
		return 0;
	if (rc)
		return cb_err_set(err, rc, "reading %s %s %s: %s", visit, form,
				  item, cb_err_name(rc));
	if (!it.conflict)
		*value = it.value;
	return 0;
}

static int source_last_instance(void *ctx, const char *visit, const char *form,
				unsigned *last, struct cb_err *err)
{
	struct cb_record_source *rs = ctx;

	(void)err;
	*last = cb_merge_last_instance(rs->merge, rs->subject, visit, form);
	return 0;
}

struct cb_check_source cb_record_source(struct cb_record_source *rs,
					struct cb_merge *m, const char *subject)
{
	struct cb_check_source src;

	rs->merge = m;
	rs->subject = subject;
	rs->instance[0] = '\0';
	src.get = source_get;
	src.ctx = rs;
	src.last_instance = source_last_instance;
	return src;
}

/* Append `code` to a comma-separated list, ending in "..." when full. */
static void list_add(char *list, size_t cap, const char *code)
{
	size_t len = strlen(list), n = strlen(code);

	if (len >= 3 && !strcmp(list + len - 3, "..."))
		return;
	if (len + n + 6 >= cap) {
		snprintf(list + len, cap - len, "%s...", len ? ", " : "");
		return;
	}
	snprintf(list + len, cap - len, "%s%s", len ? ", " : "", code);
}

int cb_record_resolve(const struct cb_protocol *p, const char *visit,
		      const char *form, const struct cb_protocol_visit **v_out,
		      const struct cb_protocol_form **f_out, unsigned *instance,
		      struct cb_err *err)
{
	char list[CB_RECORD_LIST_MAX] = "";
	const struct cb_protocol_visit *v;
	const struct cb_protocol_form *f;
	char code[CB_PROTOCOL_CODE_MAX + 1];
	const char *hash = strchr(form, '#');
	size_t i, n = hash ? (size_t)(hash - form) : strlen(form);
	int rc;

	v = cb_protocol_find_visit(p, visit);
	if (!v) {
		for (i = 0; i < p->nvisits; i++)
			list_add(list, sizeof(list), p->visits[i].code);
		return cb_err_set(err, CB_ENOTFOUND,
				  "unknown visit '%.64s'; the visits are: %s",
				  visit, list);
	}
	f = NULL;
	if (n <= CB_PROTOCOL_CODE_MAX) {
		memcpy(code, form, n);
		code[n] = '\0';
		f = cb_protocol_find_form(p, code);
	}
	if (!f || !cb_protocol_visit_has_form(v, f)) {
		for (i = 0; i < v->nforms; i++)
			list_add(list, sizeof(list), v->forms[i]->code);
		return cb_err_set(err, CB_ENOTFOUND,
				  "visit %s has no form '%.64s'; its forms "
				  "are: %s",
				  v->code, form, list);
	}
	rc = cb_protocol_parse_target(p, form, &f, instance, err);
	if (rc)
		return rc;
	*v_out = v;
	*f_out = f;
	return 0;
}

int cb_record_item(const struct cb_protocol_form *form, const char *code,
		   const struct cb_protocol_item **out, struct cb_err *err)
{
	char list[CB_RECORD_LIST_MAX] = "";
	size_t i;

	*out = cb_protocol_find_item(form, code);
	if (*out)
		return 0;
	for (i = 0; i < form->nitems; i++)
		list_add(list, sizeof(list), form->items[i].code);
	return cb_err_set(err, CB_ENOTFOUND,
			  "form %s has no item '%.64s'; its items are: %s",
			  form->code, code, list);
}

/*
 * "Today" for a save: the UTC date of the event's own wall time, so the
 * laptop that makes the event and the server that receives it later reach
 * the same verdict (see record.h).
 */
static int record_today(const struct cb_event *ev, char out[16],
			struct cb_err *err)
{
	int64_t ms;

	if (cb_clock_parse_utc(ev->wall, &ms, err))
		return cb_err_set(err, CB_EINVAL,
				  "event %s: wall time '%.40s' is not UTC "
				  "YYYY-MM-DDTHH:MM:SS.mmmZ",
				  ev->id, ev->wall);
	memcpy(out, ev->wall, 10); /* its date part */
	out[10] = '\0';
	return 0;
}

/*
 * A writer who may not write the form may still resolve a conflict on it
 * (cb_role_resolves): every change must be of an item in conflict, name
 * every one of its heads, and not be of an item withheld from the writer.
 */
static int check_resolution(struct cb_merge *m, const struct cb_event *ev,
			    const struct cb_protocol_form *f, const char *role,
			    struct cb_err *err)
{
	const struct cb_protocol_item *item;
	struct cb_merge_item it;
	size_t i, j, k;
	int rc;

	if (!ev->nchanges)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "the %s role may not write form %s", role,
				  f->code);
	for (i = 0; i < ev->nchanges; i++) {
		const struct cb_change *c = &ev->changes[i];

		rc = cb_record_item(f, c->item, &item, err);
		if (rc)
			return rc;
		if (item->unblinded && !cb_role_unblinded(role))
			return cb_err_set(err, CB_EFORBIDDEN,
					  "%s.%s is withheld from the %s role",
					  f->code, c->item, role);
		rc = cb_merge_item_get(m, ev->subject, ev->visit, ev->form,
				       ev->instance ? ev->instance : "",
				       c->item, &it, err);
		if (rc == CB_ENOTFOUND || (!rc && !it.conflict))
			return cb_err_set(err, CB_EFORBIDDEN,
					  "the %s role may not write form %s: "
					  "it only resolves conflicts, and "
					  "%s has none",
					  role, f->code, c->item);
		if (rc)
			return rc;
		for (j = 0; j < it.nheads; j++) {
			for (k = 0; k < c->nprev; k++)
				if (!strcmp(c->prev[k], it.heads[j]))
					break;
			if (k == c->nprev)
				return cb_err_set(
				    err, CB_EFORBIDDEN,
				    "%s.%s: a resolution must supersede every "
				    "conflicting value (head %s not named)",
				    f->code, c->item, it.heads[j]);
		}
	}
	return 0;
}

int cb_record_check_save(const struct cb_protocol *p, struct cb_merge *m,
			 const char *role, const struct cb_event *ev,
			 struct cb_check_results *res, struct cb_err *err)
{
	const struct cb_protocol_visit *v;
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *item;
	struct cb_check_change *changes = NULL;
	struct cb_record_source rs;
	struct cb_check_source base, over;
	struct cb_check_overlay ov;
	struct cb_check_context ctx;
	char target[CB_PROTOCOL_CODE_MAX + 16], today[16];
	unsigned instance;
	size_t i;
	int rc, randomize;

	randomize = ev->kind && !strcmp(ev->kind, CB_KIND_RANDOMIZE);
	if (!ev->kind || (strcmp(ev->kind, CB_KIND_FORM_SAVE) && !randomize))
		return cb_err_set(err, CB_EINVAL, "event %s is not a %s",
				  ev->id, CB_KIND_FORM_SAVE);
	if (ev->instance && ev->instance[0])
		snprintf(target, sizeof(target), "%.32s#%.9s",
			 ev->form ? ev->form : "", ev->instance);
	else
		snprintf(target, sizeof(target), "%.32s",
			 ev->form ? ev->form : "");
	rc = cb_record_resolve(p, ev->visit ? ev->visit : "", target, &v, &f,
			       &instance, err);
	if (rc)
		return rc;
	/* The randomization form's writer is the randomize command: a
	 * randomize event writes that form and no other. */
	if (randomize && (f != p->rand_form || v != p->rand_visit))
		return cb_err_set(
		    err, CB_EFORBIDDEN, "a %s event writes only %s %s",
		    CB_KIND_RANDOMIZE,
		    p->rand_visit ? p->rand_visit->code : "(none)",
		    p->rand_form ? p->rand_form->code : "(none)");
	if (!randomize && !cb_protocol_form_writable(f, role)) {
		if (!cb_role_resolves(role))
			return cb_err_set(err, CB_EFORBIDDEN,
					  "the %s role may not write form %s",
					  role ? role : "(none)", f->code);
		rc = check_resolution(m, ev, f, role, err);
		if (rc)
			return rc;
	}
	if (ev->nchanges) {
		changes = calloc(ev->nchanges, sizeof(*changes));
		if (!changes)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	for (i = 0; i < ev->nchanges; i++) {
		rc = cb_record_item(f, ev->changes[i].item, &item, err);
		if (rc)
			goto out;
		changes[i].item = ev->changes[i].item;
		changes[i].value = ev->changes[i].value;
	}
	base = cb_record_source(&rs, m, ev->subject);
	ov.base = &base;
	ov.visit = v->code;
	ov.form = f->code;
	ov.instance = instance;
	ov.nchanges = ev->nchanges;
	ov.changes = changes;
	over = cb_check_overlay_source(&ov);
	rc = record_today(ev, today, err);
	if (rc)
		goto out;
	ctx.today = today;
	ctx.nchanges = ev->nchanges;
	ctx.changes = changes;
	rc = cb_check_save(p, &over, v, f, instance, &ctx, res, err);
	if (rc)
		goto out;
	for (i = 0; i < res->count; i++)
		if (res->list[i].severity == CB_SEVERITY_HARD) {
			rc = cb_err_set(err, CB_ECHECK,
					"%s.%s: %zu edit check(s) failed",
					v->code, target, res->nhard);
			break;
		}
out:
	free(changes);
	return rc;
}

int cb_record_stratum(const struct cb_protocol *p, struct cb_merge *m,
		      const char *subject, char *out, size_t cap,
		      struct cb_err *err)
{
	struct cb_record_source rs;
	struct cb_check_source src = cb_record_source(&rs, m, subject);
	size_t i, j, len = 0;
	const char *value;
	int rc, n;

	if (cap < 2)
		return cb_err_set(err, CB_EINVAL, "stratum buffer too small");
	if (!p->nstrata) {
		snprintf(out, cap, "-");
		return 0;
	}
	out[0] = '\0';
	for (i = 0; i < p->nstrata; i++) {
		const struct cb_protocol_stratum *st = &p->strata[i];

		value = NULL;
		rc = src.get(src.ctx, st->visit->code, st->form->code, 0,
			     st->item->code, &value, err);
		if (rc)
			return rc;
		if (!value)
			return cb_err_set(err, CB_ENOTFOUND,
					  "stratification factor %s: %s %s.%s "
					  "has no value",
					  st->name, st->visit->code,
					  st->form->code, st->item->code);
		for (j = 0; j < st->nlevels; j++)
			if (!strcmp(st->levels[j], value))
				break;
		if (j == st->nlevels)
			return cb_err_set(err, CB_EINVAL,
					  "stratification factor %s: %s %s.%s "
					  "is %.40s, not one of its levels",
					  st->name, st->visit->code,
					  st->form->code, st->item->code,
					  value);
		n = snprintf(out + len, cap - len, "%s%s", i ? "/" : "",
			     st->levels[j]);
		if (n < 0 || (size_t)n >= cap - len)
			return cb_err_set(err, CB_ETOOBIG,
					  "stratum cell too long");
		len += (size_t)n;
	}
	return 0;
}

/* ---- the rules of a new event -------------------------------------- */

static int stop_first(const struct cb_event *ev, void *ctx)
{
	*(const struct cb_event **)ctx = ev;
	return 1;
}

/*
 * The subject's first event in clock order into *first, NULL when it
 * has none. 0, or CB_ENOMEM when the walk could not be made: then
 * nothing is known, and "no first event" would refuse a valid event.
 */
static int first_event(struct cb_merge *m, const char *subject,
		       const struct cb_event **first)
{
	int rc;

	*first = NULL;
	rc = cb_merge_each_event(m, subject, stop_first, (void *)first);
	return rc < 0 ? rc : 0;
}

static int stop_randomize(const struct cb_event *ev, void *ctx)
{
	(void)ctx;
	return !strcmp(ev->kind, CB_KIND_RANDOMIZE);
}

/* Refuse with `c` as the rejection code. */
static int refuse(const char **code, const char *c, struct cb_err *err, int rc,
		  const char *fmt, const char *a, const char *b)
{
	*code = c;
	return cb_err_set(err, rc, fmt, a, b);
}

/* The creation of a subject: its id is the writer's to make. */
static int check_creation(const struct cb_record_writer *w,
			  const struct cb_event *ev, const char **code,
			  struct cb_err *err)
{
	char site[CB_SITE_MAX + 1], mine[CB_SUBJECT_ID_MAX + 1];
	long index = 0, seq = 0;

	if (!w->site || !w->site[0])
		return refuse(code, "site", err, CB_ENOTFOUND,
			      "$.subject: unknown subject %s (central roles "
			      "write only about subjects a site has "
			      "recorded)%s",
			      ev->subject, "");
	if (cb_subject_id_parse(ev->subject, site, &index, &seq, err)) {
		*code = "subject";
		return cb_err_prefix(err, "$.subject: ");
	}
	if (strcmp(site, ev->site))
		return refuse(code, "subject", err, CB_EINVAL,
			      "$.subject: subject %s is not an id of site %s",
			      ev->subject, ev->site);
	if (index != w->device_index) {
		cb_subject_id_make(site, w->device_index, 1, mine, err);
		mine[strlen(mine) - 3] = '\0';
		return refuse(code, "forbidden", err, CB_EFORBIDDEN,
			      "$.subject: a device creates subjects only in "
			      "its own range (%sNNN), not %s",
			      mine, ev->subject);
	}
	return 0;
}

/* The visit, form and items an event other than a save names exist. */
static int check_target(const struct cb_protocol *p, const struct cb_event *ev,
			const struct cb_protocol_form **f_out,
			struct cb_err *err)
{
	const struct cb_protocol_visit *v;
	const struct cb_protocol_form *f;
	const char *item = cb_event_data(ev, CB_DATA_ITEM);
	size_t i;

	*f_out = NULL;
	if (!ev->form || !ev->form[0]) {
		if (item)
			return cb_err_set(err, CB_EINVAL,
					  "$.data.item: an item needs a visit "
					  "and a form");
		return 0;
	}
	v = cb_protocol_find_visit(p, ev->visit);
	f = cb_protocol_find_form(p, ev->form);
	if (!v)
		return cb_err_set(err, CB_ENOTFOUND,
				  "$.target.visit: unknown visit %s",
				  ev->visit);
	if (!f)
		return cb_err_set(err, CB_ENOTFOUND,
				  "$.target.form: unknown form %s", ev->form);
	if (!cb_protocol_visit_has_form(v, f))
		return cb_err_set(err, CB_ENOTFOUND,
				  "$.target: visit %s does not hold form %s",
				  ev->visit, ev->form);
	for (i = 0; i < ev->nchanges; i++)
		if (!cb_protocol_find_item(f, ev->changes[i].item))
			return cb_err_set(err, CB_ENOTFOUND,
					  "$.changes[%zu].item: form %s has no "
					  "item %s",
					  i, ev->form, ev->changes[i].item);
	if (item && !cb_protocol_find_item(f, item))
		return cb_err_set(err, CB_ENOTFOUND,
				  "$.data.item: form %s has no item %s",
				  ev->form, item);
	*f_out = f;
	return 0;
}

/* Does the engine say `text` of value `value` of item `it`? */
struct soft_try {
	const struct cb_protocol *p;
	const struct cb_protocol_visit *v;
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *it;
	unsigned instance;
	const char *text;
	int found, rc;
	struct cb_err *err;
};

static int soft_try_value(const struct cb_merge_change *c, void *ctx)
{
	struct soft_try *t = ctx;
	struct cb_check_values vals;
	struct cb_check_results res;
	struct cb_check_source src;
	size_t i;

	if (!c->value)
		return 0;
	cb_check_values_init(&vals);
	cb_check_results_init(&res);
	t->rc = cb_check_values_set(&vals, t->v->code, t->f->code, t->instance,
				    t->it->code, c->value, t->err);
	src = cb_check_values_source(&vals);
	if (!t->rc)
		t->rc = cb_check_form(t->p, &src, t->v, t->f, t->instance, &res,
				      t->err);
	for (i = 0; !t->rc && i < res.count; i++)
		if (!strcmp(res.list[i].id, CB_CHECK_ID_SOFT_RANGE) &&
		    res.list[i].item == t->it &&
		    !strcmp(res.list[i].message, t->text))
			t->found = 1;
	cb_check_results_release(&res);
	cb_check_values_release(&vals);
	return t->rc || t->found;
}

/*
 * A site writer's query.open: the system query of a soft check that the
 * protocol declares for the target form (data.text its message), or of
 * the soft range of an item (data.text the message for a value the item
 * has had). Returns 0, or CB_EFORBIDDEN / CB_ENOMEM.
 */
static int check_soft_query(const struct cb_protocol *p, struct cb_merge *m,
			    const struct cb_event *ev, struct cb_err *err)
{
	const char *check = cb_event_data(ev, "check");
	const char *text = cb_event_data(ev, CB_DATA_TEXT);
	const char *item = cb_event_data(ev, CB_DATA_ITEM);
	char target[CB_PROTOCOL_CODE_MAX + 16];
	const struct cb_protocol_visit *v;
	const struct cb_protocol_form *f;
	struct soft_try t;
	unsigned instance;
	size_t i;
	int rc;

	if (!ev->form || !ev->form[0])
		return cb_err_set(err, CB_EFORBIDDEN,
				  "$.target: the query of an edit check names "
				  "the form it checked");
	snprintf(target, sizeof(target), "%.32s%s%.9s", ev->form,
		 ev->instance[0] ? "#" : "", ev->instance);
	rc = cb_record_resolve(p, ev->visit, target, &v, &f, &instance, err);
	if (rc)
		return rc;
	if (strcmp(check, CB_CHECK_ID_SOFT_RANGE)) {
		for (i = 0; i < p->nchecks; i++) {
			const struct cb_protocol_check *ck = &p->checks[i];

			if (!strcmp(ck->id, check) &&
			    ck->severity == CB_SEVERITY_SOFT &&
			    (!ck->form || ck->form == f))
				break;
		}
		if (i == p->nchecks)
			return cb_err_set(err, CB_EFORBIDDEN,
					  "$.data.check: %s is not a soft edit "
					  "check of form %s",
					  check, f->code);
		if (strcmp(text, p->checks[i].message))
			return cb_err_set(err, CB_EFORBIDDEN,
					  "$.data.text: the query of edit "
					  "check %s says what the check says",
					  check);
		return 0;
	}
	memset(&t, 0, sizeof(t));
	t.it = item ? cb_protocol_find_item(f, item) : NULL;
	if (!t.it || !(t.it->soft.has_min || t.it->soft.has_max))
		return cb_err_set(err, CB_EFORBIDDEN,
				  "$.data.item: the soft range query names an "
				  "item of form %s that has a soft range",
				  f->code);
	t.p = p;
	t.v = v;
	t.f = f;
	t.instance = instance;
	t.text = text;
	t.err = err;
	rc = cb_merge_history(m, ev->subject, v->code, f->code, ev->instance,
			      t.it->code, soft_try_value, &t, err);
	if (t.rc)
		return t.rc;
	if (rc && rc != CB_ENOTFOUND && rc != 1)
		return rc;
	if (!t.found)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "$.data.text: no value of %s.%s gives this "
				  "soft range query",
				  f->code, t.it->code);
	return 0;
}

/* query.answer, query.close and query.reopen: the query exists, is the
 * subject's and may be seen by the writer; it is closed for a reopen,
 * not closed for the others. */
static int check_query_ref(const struct cb_protocol *p, struct cb_merge *m,
			   const struct cb_record_writer *w,
			   const struct cb_event *ev, struct cb_err *err)
{
	const char *id = cb_event_data(ev, CB_DATA_QUERY);
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *it = NULL;
	struct cb_merge_query q;
	struct cb_err ignored;
	int rc;

	rc = cb_merge_query_get(m, id, &q, &ignored);
	if (rc == CB_ENOMEM)
		return cb_err_set(err, rc, "out of memory");
	if (rc || strcmp(q.subject, ev->subject))
		return cb_err_set(err, CB_ENOTFOUND,
				  "$.data.query: subject %s has no query %s",
				  ev->subject, id);
	f = q.form[0] ? cb_protocol_find_form(p, q.form) : NULL;
	if (f && q.item[0])
		it = cb_protocol_find_item(f, q.item);
	if (it && it->unblinded && !cb_role_unblinded(w->role))
		return cb_err_set(err, CB_ENOTFOUND,
				  "$.data.query: subject %s has no query %s",
				  ev->subject, id);
	/* A conflict's system query is closed by resolving the conflict,
	 * nothing else, so it cannot be closed while the conflict stands
	 * nor reopened after. */
	if (q.system && (!strcmp(ev->kind, CB_KIND_QUERY_CLOSE) ||
			 !strcmp(ev->kind, CB_KIND_QUERY_REOPEN)))
		return cb_err_set(err, CB_ECONFLICT,
				  "$.data.query: query %s is the system query "
				  "of a conflict: it closes when the conflict "
				  "is resolved (save the item with a reason)",
				  id);
	if (!strcmp(ev->kind, CB_KIND_QUERY_REOPEN)) {
		if (q.status != CB_QUERY_CLOSED)
			return cb_err_set(err, CB_ECONFLICT,
					  "$.data.query: query %s is not "
					  "closed",
					  id);
		/* Later than the close it undoes, or it would change
		 * nothing (only a device with a clock set back makes
		 * one). */
		if (q.close && strcmp(ev->hlc, q.close->hlc) <= 0)
			return cb_err_set(err, CB_ECONFLICT,
					  "$.hlc: the reopen is stamped before "
					  "the close of query %s it reopens",
					  id);
		return 0;
	}
	if (q.status == CB_QUERY_CLOSED)
		return cb_err_set(err, CB_ECONFLICT,
				  "$.data.query: query %s is closed", id);
	return 0;
}

int cb_record_check_event(const struct cb_protocol *p, struct cb_merge *m,
			  const struct cb_record_writer *w,
			  const struct cb_event *ev,
			  struct cb_check_results *res, const char **code,
			  struct cb_err *err)
{
	const struct cb_protocol_form *f;
	const struct cb_event *first;
	const char *status, *kind = ev->kind;
	int rc, creation;

	*code = "invalid";
	rc = cb_event_check_text(ev, err);
	if (rc)
		return rc;
	if (!cb_role_may_record(w->role, kind,
				cb_event_data(ev, "check") != NULL)) {
		*code = "forbidden";
		return cb_err_set(err, CB_EFORBIDDEN,
				  "$.kind: the %s role may not record %s "
				  "events",
				  w->role ? w->role : "(none)", kind);
	}
	if (w->site && w->site[0] && strcmp(ev->site, w->site))
		return refuse(code, "site", err, CB_EFORBIDDEN,
			      "$.site: a device of site %s cannot write site "
			      "%s",
			      w->site, ev->site);
	status = cb_event_data(ev, CB_DATA_STATUS);
	creation = !strcmp(kind, CB_KIND_SUBJECT_STATUS);
	if (creation && strcmp(status, CB_SUBJECT_CREATED)) {
		char q[80];

		cb_err_quote(status, q, sizeof(q));
		return cb_err_set(err, CB_EINVAL,
				  "$.data.status: unknown subject status "
				  "\"%s\" (a device records only \"%s\", the "
				  "subject's creation)",
				  q, CB_SUBJECT_CREATED);
	}
	if (first_event(m, ev->subject, &first)) {
		*code = NULL;
		return cb_err_set(err, CB_ENOMEM,
				  "out of memory reading subject %s",
				  ev->subject);
	}
	if (!first && !creation) {
		if (!w->site || !w->site[0])
			return check_creation(w, ev, code, err);
		return refuse(code, "subject", err, CB_ENOTFOUND,
			      "$.subject: unknown subject %s (a subject's "
			      "first event is its creation, "
			      "'casebook subject add')%s",
			      ev->subject, "");
	}
	if (first && creation)
		return refuse(code, "exists", err, CB_EEXIST,
			      "$.subject: subject %s exists already; it is "
			      "created once%s",
			      ev->subject, "");
	if (creation)
		return check_creation(w, ev, code, err);
	if (strcmp(first->site, ev->site))
		return refuse(code, "site", err, CB_EFORBIDDEN,
			      "$.site: subject %s belongs to another site%s",
			      ev->subject, "");
	if (!strcmp(kind, CB_KIND_FORM_SAVE) ||
	    !strcmp(kind, CB_KIND_RANDOMIZE)) {
		rc = cb_record_check_save(p, m, w->role, ev, res, err);
		*code = rc == CB_ECHECK	      ? "check"
			: rc == CB_EFORBIDDEN ? "forbidden"
			: rc == CB_ENOMEM     ? NULL
					      : "invalid";
		return rc;
	}
	rc = check_target(p, ev, &f, err);
	if (rc)
		return rc;
	if (!strcmp(kind, CB_KIND_UNBLIND)) {
		rc = cb_merge_each_event(m, ev->subject, stop_randomize, NULL);
		if (rc < 0) {
			*code = NULL;
			return cb_err_set(err, CB_ENOMEM,
					  "out of memory reading subject %s",
					  ev->subject);
		}
		if (!rc)
			return refuse(code, "subject", err, CB_ECONFLICT,
				      "$.subject: subject %s was never "
				      "randomized; there is no blind to "
				      "break%s",
				      ev->subject, "");
		rc = 0; /* the walk stopped at the randomization */
	}
	*code = "query";
	if (!strcmp(kind, CB_KIND_QUERY_OPEN) && !cb_role_reviews(w->role))
		rc = check_soft_query(p, m, ev, err);
	else if (!strcmp(kind, CB_KIND_QUERY_ANSWER) ||
		 !strcmp(kind, CB_KIND_QUERY_CLOSE) ||
		 !strcmp(kind, CB_KIND_QUERY_REOPEN))
		rc = check_query_ref(p, m, w, ev, err);
	if (rc == CB_ENOMEM)
		*code = NULL;
	return rc;
}
