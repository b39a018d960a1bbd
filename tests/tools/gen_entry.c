/*
 * gen_entry.c - the study generator's events, made as a laptop makes them
 * (client/entry.c, client/cmd_randomize.c): a save names the current
 * heads of what it changes and carries a reason when it changes a saved
 * value; a soft edit check's failure is followed by the site device's
 * query.open in the check's own words; a randomization takes the next
 * slot of the stratum leased to the device. Each event gets its id (a
 * hash of the seed, the subject and the event's number), its clock and
 * its signature, is checked with cb_record_check_event against the
 * subject's merge state exactly as the server will check it, and goes
 * into its device's next push (see gen_study.h).
 */
#include "gen_study.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clock.h"
#include "date.h"
#include "id.h"
#include "merge.h"
#include "record.h"

/* Refusals by our own checks printed as they happen. */
#define SHOW_REFUSED 10

/* ---- kinds --------------------------------------------------------------- */

static const char *const kind_names[GEN_K_N] = {
    CB_KIND_SUBJECT_STATUS, CB_KIND_FORM_SAVE,	CB_KIND_RANDOMIZE,
    CB_KIND_SIGN,	    CB_KIND_QUERY_OPEN, CB_KIND_QUERY_ANSWER,
    CB_KIND_QUERY_CLOSE};

const char *gen_kind_name(enum gen_kind k)
{
	return k < GEN_K_N ? kind_names[k] : "?";
}

enum gen_kind gen_kind_of(const char *kind)
{
	unsigned k;

	for (k = 0; k < GEN_K_N; k++)
		if (!strcmp(kind, kind_names[k]))
			return (enum gen_kind)k;
	return GEN_K_N;
}

void gen_day_text(int64_t day, char out[CB_DATE_TEXT_MAX + 1])
{
	struct cb_date d;

	if (cb_date_from_days(day, &d) || cb_date_format(&d, out))
		snprintf(out, CB_DATE_TEXT_MAX + 1, "0001-01-01");
}

/* ---- events -------------------------------------------------------------- */

static int show_refusal(struct gen *g, const struct gen_subject *s,
			const struct cb_event *ev, const char *code,
			const struct cb_check_results *res,
			const struct cb_err *err)
{
	size_t i;

	if (g->refused_shown++ >= SHOW_REFUSED && !g->verbose)
		return 0;
	fprintf(stderr,
		"\ngen-study: not sent, our own check refuses it: %s %s %s "
		"%s%s%s (%s): %s\n",
		ev->kind, s->id, ev->visit, ev->form,
		ev->instance[0] ? "#" : "", ev->instance,
		code ? code : "invalid", err->msg);
	for (i = 0; res && i < res->count; i++)
		if (res->list[i].severity == CB_SEVERITY_HARD)
			fprintf(stderr, "  %s [%s]: %s\n", res->list[i].path,
				res->list[i].id, res->list[i].message);
	return 0;
}

/* Close the batch a device is making and hand it to the push thread. */
int gen_flush_device(struct gen *g, struct gen_device *d, struct cb_err *err)
{
	struct gen_batch *b;

	if (!d->nbatch)
		return 0;
	if (cb_buf_addstr(&d->body, "]}", err))
		return err->code;
	b = calloc(1, sizeof(*b));
	if (!b)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	b->dev = d;
	b->n = d->nbatch;
	memcpy(b->kinds, d->kinds, d->nbatch);
	b->body = cb_buf_take(&d->body, &b->len);
	d->nbatch = 0;
	if (!b->body) {
		free(b);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	return gen_pusher_submit(&g->pusher, b, err);
}

int gen_flush_all(struct gen *g, struct cb_err *err)
{
	size_t i, j;
	int rc = 0;

	for (i = 0; !rc && i < g->nsites; i++) {
		for (j = 0; !rc && j < g->ncoord[i]; j++)
			rc = gen_flush_device(g, g->coord[i][j], err);
		if (!rc)
			rc = gen_flush_device(g, g->inv[i], err);
	}
	if (!rc)
		rc = gen_flush_device(g, g->lab, err);
	if (!rc)
		rc = gen_flush_device(g, g->dm, err);
	return rc;
}

/* Append one signed event's JSON to the device's batch. */
static int queue_event(struct gen *g, struct gen_device *d, const char *json,
		       enum gen_kind k, struct cb_err *err)
{
	size_t len = strlen(json);
	int rc;

	if (d->nbatch && (d->nbatch == GEN_BATCH_EVENTS ||
			  cb_buf_len(&d->body) + len + 3 > GEN_BATCH_BYTES)) {
		rc = gen_flush_device(g, d, err);
		if (rc)
			return rc;
	}
	rc = cb_buf_addstr(&d->body, d->nbatch ? "," : "{\"events\":[", err);
	if (!rc)
		rc = cb_buf_add(&d->body, json, len, err);
	if (rc)
		return rc;
	d->kinds[d->nbatch++] = (unsigned char)k;
	g->events++;
	return 0;
}

/* A new event of `d` about subject s (id, clock and signature later). */
int gen_new_event(struct gen_subject *s, struct gen_device *d,
		  struct cb_event *ev, const char *kind, const char *visit,
		  const char *form, const char *instance, struct cb_err *err)
{
	int rc;

	cb_event_init(ev);
	rc = cb_event_set_origin(ev, d->id, s->creator->site, d->user, err);
	if (!rc)
		rc = cb_event_set_target(ev, s->id, kind, visit, form, instance,
					 err);
	if (!rc)
		rc = cb_event_set_reason(ev, "", err);
	return rc;
}

/*
 * Give `ev` its id, clock and signature, check it as the server will and
 * queue it. 0 when queued (and added to s->m), 1 when our own check
 * refuses it (counted, not sent), or a negative code that stops the run.
 * `res` (may be NULL) gets the edit-check results.
 */
int gen_emit(struct gen *g, struct gen_subject *s, struct gen_device *d,
	     struct cb_event *ev, struct cb_check_results *res,
	     struct cb_err *err)
{
	struct cb_record_writer w = {d->role, d->site, d->index};
	struct cb_check_results own;
	unsigned char h[CB_HASH_BYTES];
	char text[256], wall[CB_CLOCK_UTC_BUF];
	enum gen_kind k = gen_kind_of(ev->kind);
	const char *code = NULL;
	char *json = NULL;
	uint64_t t;
	int n, rc;

	if (k == GEN_K_N)
		return cb_err_set(err, CB_EINVAL, "no count kept for kind %s",
				  ev->kind);
	n = snprintf(text, sizeof(text), "gen-study/event\n%s\n%s\n%" PRIu64,
		     g->seed, s->id, s->evseq++);
	cb_hash(text, (size_t)n, h);
	cb_id_from_bytes(h, ev->id);
	rc = cb_hlc_now(&g->hlc, &t, err);
	if (rc)
		return rc;
	cb_hlc_format(t, ev->hlc);
	if (cb_clock_format_utc(cb_clock_now_ms(), wall))
		return cb_err_set(err, CB_EINVAL, "the clock is out of range");
	memcpy(ev->wall, wall, CB_EVENT_TIME_LEN);
	ev->wall[CB_EVENT_TIME_LEN] = '\0';

	if (!res) {
		cb_check_results_init(&own);
		res = &own;
	}
	rc = cb_event_validate(ev, err);
	if (!rc)
		rc = cb_record_check_event(g->p, s->m, &w, ev, res, &code, err);
	if (rc == CB_ENOMEM && !code)
		goto out;
	if (rc) {
		g->counts.refused[k]++;
		show_refusal(g, s, ev, code, res, err);
		cb_err_clear(err);
		rc = 1;
		goto out;
	}
	rc = cb_event_sign(ev, d->kp.sk, err);
	if (!rc)
		rc = cb_event_print(ev, &json, err);
	if (!rc)
		rc = queue_event(g, d, json, k, err);
	if (!rc)
		rc = cb_merge_add(s->m, ev, NULL, err);
out:
	free(json);
	if (res == &own)
		cb_check_results_release(&own);
	return rc;
}

/* ---- queries ------------------------------------------------------------- */

struct open_find {
	const char *visit, *form, *instance, *item, *check;
	int found;
};

static int open_match(const struct cb_merge_query *q, void *ctx)
{
	struct open_find *f = ctx;
	const char *check;

	if (q->system || q->status == CB_QUERY_CLOSED || !q->open)
		return 0;
	check = cb_event_data(q->open, "check");
	if (check && !strcmp(check, f->check) && !strcmp(q->visit, f->visit) &&
	    !strcmp(q->form, f->form) && !strcmp(q->instance, f->instance) &&
	    !strcmp(q->item, f->item))
		f->found = 1;
	return 0;
}

void gen_remember_query(struct gen_subject *s, const struct cb_event *ev,
			const char *item, int dm)
{
	struct gen_query *q;

	if (s->nq >= GEN_QUERY_MAX)
		return;
	q = &s->q[s->nq++];
	memset(q, 0, sizeof(*q));
	snprintf(q->id, sizeof(q->id), "%s", ev->id);
	snprintf(q->visit, sizeof(q->visit), "%s", ev->visit);
	snprintf(q->form, sizeof(q->form), "%s", ev->form);
	snprintf(q->instance, sizeof(q->instance), "%s", ev->instance);
	snprintf(q->item, sizeof(q->item), "%s", item);
	q->dm = dm;
}

/*
 * The system query of each soft failure of a site device's save, on the
 * form instance it belongs to, unless the same check's query is open
 * there already: what client/entry.c's open_soft_query does.
 */
static int open_soft_queries(struct gen *g, struct gen_subject *s,
			     struct gen_device *d,
			     const struct cb_check_results *res,
			     struct cb_err *err)
{
	size_t i;
	int rc = 0;

	if (!cb_role_is_site(d->role))
		return 0;
	for (i = 0; rc >= 0 && i < res->count; i++) {
		const struct cb_check_result *r = &res->list[i];
		const char *item = r->item ? r->item->code : "";
		struct open_find f;
		struct cb_event ev;
		char inst[16];

		if (r->severity != CB_SEVERITY_SOFT)
			continue;
		cb_record_instance_text(r->instance, inst);
		f.visit = r->visit->code;
		f.form = r->form->code;
		f.instance = inst;
		f.item = item;
		f.check = r->id;
		f.found = 0;
		rc = cb_merge_each_query(s->m, s->id, open_match, &f, err);
		if (rc || f.found)
			continue;
		rc = gen_new_event(s, d, &ev, CB_KIND_QUERY_OPEN, f.visit,
				   f.form, inst, err);
		if (!rc)
			rc = cb_event_set_data(&ev, CB_DATA_TEXT, r->message,
					       err);
		if (!rc && item[0])
			rc = cb_event_set_data(&ev, CB_DATA_ITEM, item, err);
		if (!rc)
			rc = cb_event_set_data(&ev, "check", r->id, err);
		if (!rc)
			rc = gen_emit(g, s, d, &ev, NULL, err);
		if (!rc)
			gen_remember_query(s, &ev, item, 0);
		cb_event_release(&ev);
	}
	return rc < 0 ? rc : 0;
}

/* A query.answer or query.close of query q by device d. */
int gen_query_event(struct gen *g, struct gen_subject *s, struct gen_device *d,
		    const char *kind, const struct gen_query *q,
		    const char *text, struct cb_err *err)
{
	struct cb_event ev;
	int rc;

	rc =
	    gen_new_event(s, d, &ev, kind, q->visit, q->form, q->instance, err);
	if (!rc)
		rc = cb_event_set_data(&ev, CB_DATA_QUERY, q->id, err);
	if (!rc && text)
		rc = cb_event_set_data(&ev, CB_DATA_TEXT, text, err);
	if (!rc)
		rc = gen_emit(g, s, d, &ev, NULL, err);
	cb_event_release(&ev);
	return rc;
}

/* ---- saves --------------------------------------------------------------- */

void gen_save_init(struct gen_save *sv, const char *visit, const char *form,
		   unsigned instance)
{
	sv->visit = visit;
	sv->form = form;
	cb_record_instance_text(instance, sv->instance);
	sv->n = 0;
	sv->reason = NULL;
}

void gen_put(struct gen_save *sv, const char *item, const char *fmt, ...)
{
	va_list ap;

	if (sv->n >= GEN_SAVE_MAX)
		return;
	sv->items[sv->n] = item;
	va_start(ap, fmt);
	vsnprintf(sv->values[sv->n], GEN_VALUE_MAX, fmt, ap);
	va_end(ap);
	sv->n++;
}

void gen_put_day(struct gen_save *sv, const char *item, int64_t day)
{
	char d[CB_DATE_TEXT_MAX + 1];

	gen_day_text(day, d);
	gen_put(sv, item, "%s", d);
}

/*
 * Save sv as a form.save of device d, each change naming the item's
 * current heads (a changed saved value carries sv->reason), then open the
 * queries of its soft failures. Unchanged items are left out; nothing
 * changed saves nothing. 0, 1 (refused by our check) or a negative code.
 */
int gen_save_form(struct gen *g, struct gen_subject *s, struct gen_device *d,
		  const struct gen_save *sv, struct cb_err *err)
{
	struct cb_check_results res;
	struct cb_merge_item cur;
	struct cb_event ev;
	size_t i;
	int rc;

	rc = gen_new_event(s, d, &ev, CB_KIND_FORM_SAVE, sv->visit, sv->form,
			   sv->instance, err);
	for (i = 0; !rc && i < sv->n; i++) {
		rc = cb_merge_item_get(s->m, s->id, sv->visit, sv->form,
				       sv->instance, sv->items[i], &cur, err);
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			rc = cb_event_add_change(&ev, sv->items[i],
						 sv->values[i], NULL, 0, err);
		} else if (!rc && (cur.conflict || !cur.value ||
				   strcmp(cur.value, sv->values[i]))) {
			rc = cb_event_add_change(&ev, sv->items[i],
						 sv->values[i], cur.heads,
						 cur.nheads, err);
		}
	}
	if (!rc && sv->reason)
		rc = cb_event_set_reason(&ev, sv->reason, err);
	if (rc || !ev.nchanges) {
		cb_event_release(&ev);
		return rc;
	}
	cb_check_results_init(&res);
	rc = gen_emit(g, s, d, &ev, &res, err);
	if (!rc)
		rc = open_soft_queries(g, s, d, &res, err);
	cb_check_results_release(&res);
	cb_event_release(&ev);
	return rc;
}

/* A change of one item naming exactly `prev` (a conflict's other side). */
int gen_save_over(struct gen *g, struct gen_subject *s, struct gen_device *d,
		  const struct gen_query *at, const char *value,
		  const char *const *prev, size_t nprev, const char *reason,
		  struct cb_err *err)
{
	struct cb_check_results res;
	struct cb_event ev;
	int rc;

	rc = gen_new_event(s, d, &ev, CB_KIND_FORM_SAVE, at->visit, at->form,
			   at->instance, err);
	if (!rc)
		rc =
		    cb_event_add_change(&ev, at->item, value, prev, nprev, err);
	if (!rc)
		rc = cb_event_set_reason(&ev, reason, err);
	if (rc) {
		cb_event_release(&ev);
		return rc;
	}
	cb_check_results_init(&res);
	rc = gen_emit(g, s, d, &ev, &res, err);
	if (!rc)
		rc = open_soft_queries(g, s, d, &res, err);
	cb_check_results_release(&res);
	cb_event_release(&ev);
	return rc;
}

/* ---- randomization --------------------------------------------------------
 */

static struct gen_slot *next_slot(struct gen_device *d, const char *cell)
{
	struct gen_slot *best = NULL;
	size_t i;

	for (i = 0; i < d->nlease; i++) {
		struct gen_slot *sl = &d->lease[i];

		if (!sl->used && !strcmp(sl->stratum, cell) &&
		    (!best || sl->seq < best->seq))
			best = sl;
	}
	return best;
}

/* A dry run's lease: made-up slots of the cell, numbered on. */
static int dry_lease(struct gen_device *d, const char *cell, struct cb_err *err)
{
	struct gen_slot *more;
	long i, n = d->lease_size ? d->lease_size : 50;

	more = realloc(d->lease, (d->nlease + (size_t)n) * sizeof(*more));
	if (!more)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	d->lease = more;
	for (i = 0; i < n; i++) {
		struct gen_slot *sl = &more[d->nlease];

		memset(sl, 0, sizeof(*sl));
		sl->seq = (long)d->nlease + 1;
		snprintf(sl->randno, sizeof(sl->randno), "R-%s%02ld-%.8s-%05ld",
			 d->site, d->index, cell, sl->seq);
		snprintf(sl->kit, sizeof(sl->kit), "%06ld",
			 100000 + (long)d->index * 1000 + sl->seq % 1000);
		snprintf(sl->stratum, sizeof(sl->stratum), "%.63s", cell);
		d->nlease++;
	}
	return 0;
}

static size_t unused_slots(const struct gen_device *d, const char *cell)
{
	size_t i, n = 0;

	for (i = 0; i < d->nlease; i++)
		if (!d->lease[i].used && !strcmp(d->lease[i].stratum, cell))
			n++;
	return n;
}

/*
 * Randomize an eligible subject as `casebook gen_randomize` does, with the
 * next slot of its stratum leased to its coordinator; when the lease is
 * used up, the device's randomizations so far are pushed and the lease
 * topped up (GET /v1/slots), as a sync does. On the baseline date.
 */
int gen_randomize(struct gen *g, struct gen_subject *s, const char *when,
		  struct cb_err *err)
{
	const struct cb_protocol *p = g->p;
	struct gen_device *d = s->creator;
	struct cb_record_source rs;
	struct cb_check_source src = cb_record_source(&rs, s->m, s->id);
	struct cb_check_elig el;
	struct gen_slot *slot;
	struct cb_event ev;
	char cell[256];
	int rc;

	cb_check_elig_init(&el);
	rc = cb_check_eligibility(p, &src, &el, err);
	if (!rc && el.status != CB_ELIG_YES)
		rc = cb_err_set(err, CB_ECHECK, "not eligible");
	cb_check_elig_release(&el);
	if (!rc)
		rc = cb_record_stratum(p, s->m, s->id, cell, sizeof(cell), err);
	if (rc == CB_ENOMEM)
		return rc;
	if (rc) {
		g->counts.refused[GEN_K_RANDOMIZE]++;
		fprintf(stderr, "\ngen-study: %s not randomized: %s\n", s->id,
			err->msg);
		cb_err_clear(err);
		return 1;
	}
	slot = next_slot(d, cell);
	if (!slot && g->dry) {
		rc = dry_lease(d, cell, err);
		if (rc)
			return rc;
		slot = next_slot(d, cell);
	}
	if (!slot) {
		/* Top the lease up as a sync does. The server counts a slot
		 * used once it holds the gen_randomize event: the device's
		 * batch went out when half its lease was left (below), so that
		 * has usually happened; else wait until it has. */
		rc = gen_fetch_slots(&g->http, d, err);
		if (rc && rc != CB_ENOTFOUND)
			return rc;
		slot = next_slot(d, cell);
		if (!slot && !rc) {
			rc = gen_flush_device(g, d, err);
			if (!rc)
				rc = gen_pusher_drain(&g->pusher, err);
			if (!rc)
				rc = gen_fetch_slots(&g->http, d, err);
			if (rc && rc != CB_ENOTFOUND)
				return rc;
			slot = next_slot(d, cell);
		}
		cb_err_clear(err);
	}
	if (!slot) {
		g->no_slot++;
		return 1;
	}
	rc = gen_new_event(s, d, &ev, CB_KIND_RANDOMIZE, p->rand_visit->code,
			   p->rand_form->code, "", err);
	if (!rc)
		rc = cb_event_add_change(&ev, p->rand_number->code,
					 slot->randno, NULL, 0, err);
	if (!rc)
		rc = cb_event_add_change(&ev, p->rand_kit->code, slot->kit,
					 NULL, 0, err);
	if (!rc && p->rand_datetime)
		rc = cb_event_add_change(&ev, p->rand_datetime->code, when,
					 NULL, 0, err);
	if (!rc)
		rc = cb_event_set_data(&ev, "slot", slot->randno, err);
	if (!rc) {
		struct cb_check_results res;

		cb_check_results_init(&res);
		rc = gen_emit(g, s, d, &ev, &res, err);
		if (!rc)
			rc = open_soft_queries(g, s, d, &res, err);
		cb_check_results_release(&res);
	}
	if (!rc) {
		slot->used = 1;
		s->randomized = 1;
		snprintf(s->kit, sizeof(s->kit), "%s", slot->kit);
		g->randomized++;
		if ((long)unused_slots(d, cell) == d->lease_size / 2)
			rc = gen_flush_device(g, d, err);
	}
	cb_event_release(&ev);
	return rc;
}
