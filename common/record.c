/*
 * record.c - the protocol applied to the event log (see record.h).
 */
#include "record.h"

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
	struct cb_err ignored;
	int rc;

	(void)err;
	*value = NULL;
	cb_record_instance_text(instance, rs->instance);
	rc = cb_merge_item_get(rs->merge, rs->subject, visit, form,
			       rs->instance, item, &it, &ignored);
	if (rc == CB_ENOTFOUND)
		return 0;
	if (rc)
		return cb_err_set(err, rc, "%s", ignored.msg);
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
	if (!randomize && !cb_protocol_form_writable(f, role))
		return cb_err_set(err, CB_EFORBIDDEN,
				  "the %s role may not write form %s",
				  role ? role : "(none)", f->code);
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
