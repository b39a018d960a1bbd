/*
 * entry.c - a working session on the local casebook (see entry.h).
 */
#include "entry.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "clock.h"
#include "json.h"
#include "cli.h"
#include "record.h"
#include "text.h"

#include <unistd.h>

/* Subjects named in an "unknown subject" message. */
#define KNOWN_LIST_MAX 10

/* ---- The session's subjects ------------------------------------------ */

static void forget(struct entry_cached *c)
{
	free(c->subject);
	derive_subject_release(&c->d);
	memset(c, 0, sizeof(*c));
}

/* Drop every merge state (they are loaded again when used). */
static void forget_all(struct entry *e)
{
	while (e->ncache)
		forget(&e->cache[--e->ncache]);
}

/* Drop `subject`'s merge state, if held. */
static void forget_subject(struct entry *e, const char *subject)
{
	size_t i;

	for (i = 0; i < e->ncache; i++) {
		if (strcmp(e->cache[i].subject, subject))
			continue;
		forget(&e->cache[i]);
		e->cache[i] = e->cache[--e->ncache];
		memset(&e->cache[e->ncache], 0, sizeof(e->cache[0]));
		return;
	}
}

#ifdef CASEBOOK_TEST_HOOKS
static void remember_seen(struct entry *e, const char *subject)
{
	size_t i;

	for (i = 0; i < e->nseen; i++)
		if (!strcmp(e->seen[i], subject))
			return;
	if (e->nseen < ENTRY_CACHE_MAX && (e->seen[e->nseen] = strdup(subject)))
		e->nseen++;
}
#endif

/*
 * The subject's events must be at least as many as its summary row
 * counted when it was last derived (unless it is pending): an event
 * moved to another subject's hash or removed would otherwise just be
 * missing from what the session shows.
 */
static int check_count(struct entry *e, const char *subject,
		       const struct derive_subject *d, struct cb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	long long n = -1;
	int rc, pending = 0;
	cJSON *j;

	rc = store_summary_get(e->st, subject, &text, &len, &pending, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	if (rc || pending) {
		free(text);
		return rc;
	}
	j = cb_json_parse(text, len, len + 1, "summary row", err);
	free(text);
	if (j && cb_json_int(j, "events", 0, INT64_MAX, &n, "$.events", err))
		n = -1;
	cJSON_Delete(j);
	if (n == d->nstored)
		return 0;
	return cb_err_set(err, CB_EINTEGRITY,
			  "integrity error: the store holds %lld events of "
			  "subject %.64s, but its summary row counted %lld: "
			  "rows were removed or moved outside casebook; "
			  "restore the store from a backup and sync",
			  (long long)d->nstored, subject, n);
}

int entry_merge(struct entry *e, const char *subject, struct cb_merge **m,
		struct cb_err *err)
{
	struct entry_cached *c = NULL;
	size_t i, oldest = 0;
	int rc, began = 0;

	*m = NULL;
	e->tick++;
#ifdef CASEBOOK_TEST_HOOKS
	remember_seen(e, subject);
#endif
	for (i = 0; i < e->ncache; i++) {
		if (!strcmp(e->cache[i].subject, subject)) {
			e->cache[i].used = e->tick;
			*m = e->cache[i].d.merge;
			return 0;
		}
		if (e->cache[i].used < e->cache[oldest].used)
			oldest = i;
	}
	if (e->ncache == ENTRY_CACHE_MAX)
		forget(&e->cache[oldest]);
	else
		oldest = e->ncache++;
	c = &e->cache[oldest];
	c->subject = strdup(subject);
	if (!c->subject) {
		e->cache[oldest] = e->cache[--e->ncache];
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	/* The events and the row that counted them, in one snapshot. */
	rc = store_read_begin(e->st, &began, err);
	if (!rc)
		rc = derive_load(e->st, subject, &c->d, err);
	if (!rc)
		rc = check_count(e, subject, &c->d, err);
	store_read_end(e->st, began);
	if (rc) {
		forget(c);
		e->cache[oldest] = e->cache[--e->ncache];
		memset(&e->cache[e->ncache], 0, sizeof(e->cache[0]));
		return rc;
	}
	c->used = e->tick;
	/* New events of this subject come after every one of its events. */
	if (c->d.clock > e->hlc.last)
		cb_hlc_init(&e->hlc, c->d.clock);
	*m = c->d.merge;
	return 0;
}

/* The cache slot of a subject entry_merge just returned. */
static struct entry_cached *slot_of(struct entry *e, const char *subject)
{
	size_t i;

	for (i = 0; i < e->ncache; i++)
		if (!strcmp(e->cache[i].subject, subject))
			return &e->cache[i];
	return NULL;
}

int entry_open(const struct cli_global *g, struct entry *e, struct cb_err *err)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = store_open_cli(g, &e->st, err);
	if (!rc)
		rc = store_protocol_load(e->st, &e->proto, err);
	/* Rows left pending (a pull, an upgrade) are brought up to date
	 * once, here; where that cannot be done now, every reader derives
	 * those subjects in memory. */
	if (!rc && !store_readonly(e->st)) {
		rc =
		    derive_pending(e->st, e->proto, cli_progress(g), NULL, err);
		if (rc == CB_EBUSY) {
			cb_err_clear(err);
			rc = 0;
		}
	}
	if (!rc)
		rc = store_last_seq(e->st, &e->last_seq, err);
	if (rc) {
		entry_close(e);
		return rc;
	}
	cb_hlc_init(&e->hlc, store_clock(e->st));
	return 0;
}

/* What another process stored since the cache was current. */
static int refresh(struct entry *e, struct cb_err *err)
{
	int64_t last;
	int rc;

	rc = store_last_seq(e->st, &last, err);
	if (rc)
		return rc;
	if (last != e->last_seq)
		forget_all(e);
	e->last_seq = last;
	if (store_clock(e->st) > e->hlc.last)
		cb_hlc_init(&e->hlc, store_clock(e->st));
	return 0;
}

int entry_begin(struct entry *e, struct cb_err *err)
{
	int rc = store_begin(e->st, err);

	if (!rc)
		rc = refresh(e, err);
	if (rc && store_in_transaction(e->st))
		entry_rollback(e);
	return rc;
}

int entry_commit(struct entry *e, struct cb_err *err)
{
	int rc = store_commit(e->st, err);

	if (rc)
		forget_all(e);
	return rc;
}

void entry_rollback(struct entry *e)
{
	store_rollback(e->st);
	forget_all(e);
}

#ifdef CASEBOOK_TEST_HOOKS
static int seen_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * CASEBOOK_TEST_SESSION_DUMP=FILE (with CASEBOOK_TEST_HOOKS=1): at close,
 * write the canonical dump of every subject the session used, as the
 * session would show it now, so a test can compare it with what the
 * store holds after a failure.
 */
static void session_dump(struct entry *e)
{
	const char *hooks = getenv("CASEBOOK_TEST_HOOKS");
	const char *path = getenv("CASEBOOK_TEST_SESSION_DUMP");
	struct cb_merge *m;
	struct cb_err err;
	FILE *f;
	size_t i;

	if (!hooks || strcmp(hooks, "1") || !path || !e->st)
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	qsort(e->seen, e->nseen, sizeof(*e->seen), seen_cmp);
	fputs(CB_MERGE_DUMP_HEAD, f);
	for (i = 0; i < e->nseen; i++) {
		char *text = NULL;
		size_t len = 0;

		if (entry_merge(e, e->seen[i], &m, &err) || !cb_merge_count(m))
			continue;
		if (!cb_merge_dump_subject(m, e->seen[i], &text, &len, &err))
			fwrite(text, 1, len, f);
		free(text);
	}
	fclose(f);
}
#endif

void entry_close(struct entry *e)
{
#ifdef CASEBOOK_TEST_HOOKS
	session_dump(e);
	while (e->nseen)
		free(e->seen[--e->nseen]);
#endif
	forget_all(e);
	cb_protocol_free(e->proto);
	store_close(e->st);
	memset(e, 0, sizeof(*e));
}

struct known_ctx {
	size_t n;
	char list[400];
};

static int known_one(void *ctx, const struct derive_summary *s)
{
	struct known_ctx *k = ctx;
	size_t len = strlen(k->list);

	if (!s->summary)
		return 0; /* nothing of it on the record */
	if (k->n < KNOWN_LIST_MAX)
		snprintf(k->list + len, sizeof(k->list) - len, "%s%s",
			 k->n ? ", " : "", s->subject);
	else if (k->n == KNOWN_LIST_MAX)
		snprintf(k->list + len, sizeof(k->list) - len, ", ...");
	k->n++;
	return 0;
}

int entry_subject_known(struct entry *e, const char *subject,
			struct cb_err *err)
{
	struct known_ctx k;
	struct cb_merge *m;
	int rc;

	rc = entry_merge(e, subject, &m, err);
	if (rc)
		return rc;
	if (cb_merge_count(m))
		return 0;
	memset(&k, 0, sizeof(k));
	rc = derive_each_summary(e->st, e->proto, known_one, &k, err);
	if (rc)
		return rc;
	if (!k.n)
		return cb_err_set(err, CB_ENOTFOUND,
				  "unknown subject '%.64s'; this laptop has "
				  "no subjects yet ('casebook subject add')",
				  subject);
	return cb_err_set(
	    err, CB_ENOTFOUND,
	    "unknown subject '%.64s'; subjects on this laptop: %s", subject,
	    k.list);
}

static int first_site(const struct cb_event *ev, void *ctx)
{
	const char **site = ctx;

	*site = ev->site;
	return 1; /* the first event is enough: a subject has one site */
}

int entry_new_event(struct entry *e, struct cb_event *ev, const char *kind,
		    const char *subject, const char *visit, const char *form,
		    const char *instance, struct cb_err *err)
{
	const char *site = store_site(e->st);
	const struct cb_key *idkey = NULL;
	struct cb_merge *m;
	int rc;

	/* A central role writes about a subject in that subject's site. */
	if (store_is_central(e->st) && subject && subject[0]) {
		rc = entry_merge(e, subject, &m, err);
		if (rc)
			return rc;
		if (cb_merge_each_event(m, subject, first_site, &site) < 0)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cb_event_init(ev);
	rc = store_id_key(e->st, &idkey, err);
	if (!rc)
		rc = cb_event_stamp(ev, &e->hlc, idkey, err);
	if (!rc)
		rc = cb_event_set_origin(ev, store_device_id(e->st), site,
					 store_user(e->st), err);
	if (!rc)
		rc = cb_event_set_target(ev, subject, kind, visit, form,
					 instance, err);
	if (!rc)
		rc = cb_event_set_reason(ev, "", err);
	if (rc)
		cb_event_release(ev);
	return rc;
}

/* Store, merge and derive one checked event, in the open transaction. */
static int commit_in_tx(struct entry *e, struct cb_event *ev,
			struct cb_err *err)
{
	struct entry_cached *c;
	struct cb_merge *m;
	char *json = NULL;
	int64_t seq = 0;
	uint64_t t;
	int rc;

	rc = cb_event_validate(ev, err);
	if (!rc)
		rc = entry_merge(e, ev->subject, &m, err);
	if (!rc) {
		/* The server applies the same rules again; an event it would
		 * refuse is never made here. */
		struct cb_record_writer w = {store_role(e->st),
					     store_site(e->st),
					     store_device_index(e->st)};
		struct cb_check_results res;
		const char *code;

		cb_check_results_init(&res);
		rc = cb_record_check_event(e->proto, m, &w, ev, &res, &code,
					   err);
		cb_check_results_release(&res);
	}
	if (!rc)
		rc = store_sign_event(e->st, ev, err);
	if (!rc)
		rc = cb_event_print(ev, &json, err);
	/* The clock is kept with the event, in the same commit. */
	if (!rc)
		store_set_clock(e->st, e->hlc.last);
	if (!rc)
		rc = store_add_event(e->st, ev->id, ev->subject, json,
				     strlen(json), 0, &seq, err);
	free(json);
	c = rc ? NULL : slot_of(e, ev->subject);
	if (!rc && !c)
		rc = cb_err_set(err, CB_ENOMEM, "the session lost a subject");
	if (!rc)
		rc = cb_merge_add(c->d.merge, ev, NULL, err);
	if (!rc) {
		c->d.nstored++;
		c->d.last_seq = seq;
		if (!cb_hlc_parse(ev->hlc, &t, NULL) && t > c->d.clock)
			c->d.clock = t;
		rc = derive_write(e->st, e->proto, ev->subject, &c->d, err);
	}
	/* Skip ahead only when nothing else was stored in between. */
	if (!rc && seq == e->last_seq + 1)
		e->last_seq = seq;
	if (rc && ev->subject)
		forget_subject(e, ev->subject);
	return rc;
}

int entry_commit_event(struct entry *e, struct cb_event *ev, struct cb_err *err)
{
	int rc;

	if (store_in_transaction(e->st))
		return commit_in_tx(e, ev, err);
	rc = entry_begin(e, err);
	if (rc)
		return rc;
	rc = commit_in_tx(e, ev, err);
	if (rc) {
		entry_rollback(e);
		return rc;
	}
	return entry_commit(e, err);
}

void entry_save_result_init(struct entry_save_result *r)
{
	memset(r, 0, sizeof(*r));
	cb_check_results_init(&r->checks);
}

void entry_save_result_release(struct entry_save_result *r)
{
	cb_check_results_release(&r->checks);
	memset(r, 0, sizeof(*r));
}

/* Item codes are upper case in every protocol; accept any case. */
static void upcase(const char *in, char *out, size_t cap)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < cap; i++)
		out[i] = (char)toupper((unsigned char)in[i]);
	out[i] = '\0';
}

struct query_find {
	const char *visit, *form, *instance, *item, *check;
	int found;
};

static int query_match(const struct cb_merge_query *q, void *ctx)
{
	struct query_find *f = ctx;
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

/*
 * Open a system query for one soft failure, unless one is open already,
 * on the form instance the failure belongs to: the saved one, or another
 * one a related check ran on (a visit whose window moved with the
 * baseline date, say).
 */
static int open_soft_query(struct entry *e, const char *subject,
			   const struct cb_check_result *res, size_t *opened,
			   struct cb_err *err)
{
	struct query_find f;
	struct cb_merge *m;
	struct cb_event q;
	const char *item = res->item ? res->item->code : "";
	char instance[16];
	int rc;

	cb_record_instance_text(res->instance, instance);
	f.visit = res->visit->code;
	f.form = res->form->code;
	f.instance = instance;
	f.item = item;
	f.check = res->id;
	f.found = 0;
	rc = entry_merge(e, subject, &m, err);
	if (!rc)
		rc = cb_merge_each_query(m, subject, query_match, &f, err);
	if (rc || f.found)
		return rc;
	rc = entry_new_event(e, &q, CB_KIND_QUERY_OPEN, subject, f.visit,
			     f.form, instance, err);
	if (rc)
		return rc;
	rc = cb_event_set_data(&q, CB_DATA_TEXT, res->message, err);
	if (!rc && item[0])
		rc = cb_event_set_data(&q, CB_DATA_ITEM, item, err);
	if (!rc)
		rc = cb_event_set_data(&q, "check", res->id, err);
	if (!rc)
		rc = entry_commit_event(e, &q, err);
	cb_event_release(&q);
	if (!rc)
		(*opened)++;
	return rc;
}

int entry_open_soft_queries(struct entry *e, const char *subject,
			    const struct cb_check_results *checks,
			    size_t *opened, struct cb_err *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < checks->count; i++)
		if (checks->list[i].severity == CB_SEVERITY_SOFT)
			rc = open_soft_query(e, subject, &checks->list[i],
					     opened, err);
	return rc;
}

/* Both NULL, or both the same text. */
static int same_value(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

int entry_save_form(struct entry *e, const struct entry_save *s,
		    struct entry_save_result *r, struct cb_err *err)
{
	const struct cb_protocol_item *item;
	char inst[16], code[CB_PROTOCOL_CODE_MAX + 1];
	struct cb_merge_item cur;
	struct cb_merge *m = NULL;
	struct cb_event ev;
	size_t i, j;
	int rc, need_reason = 0, resolving, own;

	cb_event_init(&ev);
	/* Inside the caller's transaction (a bulk import) nothing is begun
	 * or committed here; see entry.h. Asked for, never inferred: a
	 * transaction some failure left open must not swallow a save. */
	own = !s->in_caller_tx;
	if (!own && !store_in_transaction(e->st))
		return cb_err_set(err, CB_EINVAL,
				  "entry: no transaction open for the save");
	rc = own ? entry_begin(e, err) : 0;
	if (rc)
		return rc;
	rc = entry_subject_known(e, s->subject, err);
	if (!rc)
		rc = entry_merge(e, s->subject, &m, err);
	if (rc)
		goto out;
	if (s->new_instance) {
		char first[CB_PROTOCOL_CODE_MAX + 4];

		/* Resolve as instance 1, then take the next free number. */
		snprintf(first, sizeof(first), "%.32s#1", s->form);
		rc = cb_record_resolve(e->proto, s->visit, first, &r->visit,
				       &r->form, &r->instance, err);
		if (!rc)
			rc = entry_next_instance(e, s->subject, r->visit->code,
						 r->form->code, &r->instance,
						 err);
		if (!rc) {
			if (r->instance > CB_PROTOCOL_REPEAT_MAX)
				rc = cb_err_set(err, CB_ETOOBIG,
						"%s already has %d %s forms, "
						"the most one subject can have",
						s->subject,
						CB_PROTOCOL_REPEAT_MAX,
						r->form->code);
		}
	} else {
		rc = cb_record_resolve(e->proto, s->visit, s->form, &r->visit,
				       &r->form, &r->instance, err);
	}
	if (rc)
		goto out;
	/* The data manager writes no form but resolves conflicts on any:
	 * only items in conflict (cb_record_check_save checks it again). */
	resolving = !cb_protocol_form_writable(r->form, store_role(e->st));
	if (resolving && !cb_role_resolves(store_role(e->st))) {
		rc = cb_err_set(err, CB_EFORBIDDEN,
				"form %s may not be written by the %s role",
				r->form->code, store_role(e->st));
		goto out;
	}
	cb_record_instance_text(r->instance, inst);

	rc = entry_new_event(e, &ev, CB_KIND_FORM_SAVE, s->subject,
			     r->visit->code, r->form->code, inst, err);
	if (rc)
		goto out;
	for (i = 0; i < s->n; i++) {
		const char *value = s->values[i][0] ? s->values[i] : NULL;
		size_t len = strlen(s->values[i]);

		upcase(s->items[i], code, sizeof(code));
		rc = cb_record_item(r->form, code, &item, err);
		if (rc)
			goto out;
		/* Codes in any case are stored as the protocol spells them. */
		value = cb_protocol_canonical_value(item, value);
		for (j = 0; j < i; j++) {
			char other[CB_PROTOCOL_CODE_MAX + 1];

			upcase(s->items[j], other, sizeof(other));
			if (!strcmp(other, code)) {
				rc = cb_err_set(err, CB_EINVAL,
						"item %s is given twice",
						item->code);
				goto out;
			}
		}
		if (len > CB_EVENT_VALUE_MAX) {
			rc = cb_err_set(err, CB_ETOOBIG,
					"%s.%s: the value is %zu bytes; at "
					"most %d are accepted",
					r->form->code, item->code, len,
					CB_EVENT_VALUE_MAX);
			goto out;
		}
		if (!cb_utf8_valid(s->values[i], len)) {
			rc = cb_err_set(err, CB_EINVAL,
					"%s.%s: the value is not valid UTF-8 "
					"text",
					r->form->code, item->code);
			goto out;
		}
		{
			char what[2 * CB_PROTOCOL_CODE_MAX + 2];

			snprintf(what, sizeof(what), "%s.%s", r->form->code,
				 item->code);
			rc = cb_text_check(s->values[i], len, what, err);
			if (rc)
				goto out;
		}
		rc = cb_merge_item_get(m, s->subject, r->visit->code,
				       r->form->code, inst, item->code, &cur,
				       err);
		if (resolving &&
		    (rc == CB_ENOTFOUND || (!rc && !cur.conflict))) {
			rc = cb_err_set(err, CB_EFORBIDDEN,
					"form %s may not be written by the %s "
					"role: it only resolves conflicts, and "
					"%s has none",
					r->form->code, store_role(e->st),
					item->code);
			goto out;
		}
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			if (!value)
				continue; /* clearing what was never set */
			rc = cb_event_add_change(&ev, item->code, value, NULL,
						 0, err);
		} else if (!rc) {
			if (!cur.conflict && same_value(cur.value, value))
				continue; /* unchanged */
			need_reason = 1;
			rc = cb_event_add_change(&ev, item->code, value,
						 cur.heads, cur.nheads, err);
		}
		if (rc)
			goto out;
	}
	if (!ev.nchanges)
		goto out; /* nothing to write: rc is 0 */
	/* Edit checks first: a rejected value is the more useful message. */
	rc = cb_record_check_save(e->proto, m, store_role(e->st), &ev,
				  &r->checks, err);
	if (rc)
		goto out;
	if (need_reason && (!s->reason || cb_text_blank(s->reason))) {
		r->need_reason = 1;
		rc = cb_err_set(err, CB_EINVAL,
				"changing a saved value needs a reason "
				"(--reason TEXT)");
		goto out;
	}
	if (s->reason && (rc = cb_event_set_reason(&ev, s->reason, err)))
		goto out;
	r->wrote = 1;
	rc = entry_commit_event(e, &ev, err);
	if (!rc)
		rc = entry_open_soft_queries(e, s->subject, &r->checks,
					     &r->nqueries, err);
	if (rc)
		goto out;
	/* A failed commit is rolled back by store_commit itself; the
	 * session then drops what it merged (entry_commit). */
	rc = own ? entry_commit(e, err) : 0;
	if (!rc) {
		r->nchanged = ev.nchanges;
		memcpy(r->event_id, ev.id, sizeof(r->event_id));
	}
	cb_event_release(&ev);
	return rc;
out:
	/* Whatever failed, after any step: nothing of the save stays, in
	 * the store or in the session's merge state. In the caller's
	 * transaction a save refused before r->wrote changed neither; after
	 * it, the caller rolls back. */
	if (own)
		entry_rollback(e);
	cb_event_release(&ev);
	return rc;
}

struct instance_ctx {
	const char *visit, *form;
	unsigned max;
};

static int instance_one(const struct cb_merge_form *f, void *ctx)
{
	struct instance_ctx *ic = ctx;
	unsigned long n;

	if (strcmp(f->visit, ic->visit) || strcmp(f->form, ic->form))
		return 0;
	n = strtoul(f->instance, NULL, 10);
	if (n > ic->max && n <= CB_PROTOCOL_REPEAT_MAX)
		ic->max = (unsigned)n;
	return 0;
}

int entry_next_instance(struct entry *e, const char *subject, const char *visit,
			const char *form, unsigned *out, struct cb_err *err)
{
	struct instance_ctx ic = {visit, form, 0};
	struct cb_merge *m;
	int rc;

	*out = 0;
	rc = entry_merge(e, subject, &m, err);
	if (rc)
		return rc;
	if (cb_merge_each_form(m, subject, instance_one, &ic) < 0)
		return cb_err_set(err, CB_ENOMEM, "out of memory reading %s",
				  subject);
	*out = ic.max + 1;
	return 0;
}

const char *entry_rand_value(struct entry *e, const char *subject,
			     const struct cb_protocol_item *item)
{
	struct cb_record_source rs;
	struct cb_check_source src;
	struct cb_merge *m;
	const char *value = NULL;
	struct cb_err err;

	if (!item || !e->proto->rand_form || entry_merge(e, subject, &m, &err))
		return NULL;
	src = cb_record_source(&rs, m, subject);
	if (src.get(src.ctx, e->proto->rand_visit->code,
		    e->proto->rand_form->code, 0, item->code, &value, &err))
		return NULL;
	return value;
}

/* ---- Output shared by the data-entry commands ---- */

/* Print the edit-check failures of a save, hard ones first. */
void entry_print_checks(const struct entry_save_result *r, int hard_only)
{
	size_t i;

	for (i = 0; i < r->checks.count; i++) {
		const struct cb_check_result *c = &r->checks.list[i];

		if (c->severity != CB_SEVERITY_HARD)
			continue;
		fprintf(stderr, "casebook: rejected: %s [%s]: %s\n", c->path,
			c->id, c->message);
	}
	if (hard_only)
		return;
	for (i = 0; i < r->checks.count; i++) {
		const struct cb_check_result *c = &r->checks.list[i];

		if (c->severity != CB_SEVERITY_SOFT)
			continue;
		fprintf(stderr,
			"casebook: warning: %s [%s]: %s (query opened)\n",
			c->path, c->id, c->message);
	}
}

/* Print the derived scores of a form instance, if it declares any. */
void entry_print_scores(struct entry *e, const char *subject,
			const struct entry_save_result *r)
{
	struct cb_record_source rs;
	struct cb_check_source src;
	struct cb_check_scores sc;
	struct cb_merge *m;
	struct cb_err err;
	size_t i;

	if (entry_merge(e, subject, &m, &err))
		return;
	src = cb_record_source(&rs, m, subject);
	cb_check_scores_init(&sc);
	if (!cb_check_scores(e->proto, &src, r->visit, r->form, r->instance,
			     &sc, &err)) {
		for (i = 0; i < sc.count; i++) {
			if (sc.list[i].valid)
				printf("  %-20s %.2f\n", sc.list[i].name,
				       sc.list[i].value);
			else
				printf("  %-20s (not scored: too many items "
				       "missing)\n",
				       sc.list[i].name);
		}
	}
	cb_check_scores_release(&sc);
}

/* The exit code of a failed save. */
int entry_save_exit(const struct entry_save_result *r, const struct cb_err *err)
{
	if (err->code == CB_ECHECK) {
		entry_print_checks(r, 1);
		fprintf(stderr, "casebook: nothing was saved\n");
		return EXIT_CHECK;
	}
	if (r->need_reason) {
		fprintf(stderr, "casebook: %s\n", err->msg);
		return EXIT_USAGE;
	}
	if (err->code == CB_ENOTFOUND || err->code == CB_ETOOBIG ||
	    err->code == CB_EINVAL) {
		fprintf(stderr, "casebook: error: %s\n", err->msg);
		return EXIT_CHECK;
	}
	return cli_fail(err);
}

/* ---- Arguments of a save ---- */

/* Largest file --value-file reads; values themselves are capped lower
 * (CB_EVENT_VALUE_MAX), so a bigger value is refused with its size. */
#define VALUE_FILE_MAX (16u * 1024u * 1024u)

/*
 * Read the value of --value-file ITEM=FILE: the file's bytes, without one
 * final newline. Returns EXIT_OK with *out malloc'd, or an exit code
 * after printing why.
 */
static int read_value_file(const char *path, char **out)
{
	struct cb_err err;
	size_t len;

	if (cb_file_read(path, VALUE_FILE_MAX, out, &len, &err)) {
		fprintf(stderr, "casebook: error: %s\n", err.msg);
		return err.code == CB_ETOOBIG ? EXIT_CHECK : EXIT_FAIL;
	}
	if (memchr(*out, '\0', len)) {
		fprintf(stderr,
			"casebook: error: %s holds a NUL byte: not text\n",
			path);
		free(*out);
		*out = NULL;
		return EXIT_CHECK;
	}
	if (len && (*out)[len - 1] == '\n')
		(*out)[--len] = '\0';
	return EXIT_OK;
}

int entry_parse_values(const char *cmd, int argc, char **argv, int first,
		       struct entry_save *s, struct entry_args *a)
{
	char *eq;
	int i, ex;

	memset(a, 0, sizeof(*a));
	a->items = calloc((size_t)argc, sizeof(*a->items));
	a->values = calloc((size_t)argc, sizeof(*a->values));
	a->owned = calloc((size_t)argc, sizeof(*a->owned));
	if (!a->items || !a->values || !a->owned)
		return cli_error("out of memory");
	s->items = a->items;
	s->values = a->values;
	s->n = 0;
	for (i = first; i < argc; i++) {
		if (!strcmp(argv[i], "--reason")) {
			if (i + 1 >= argc)
				return cli_usage(cmd, "--reason needs a text");
			s->reason = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "--value-file")) {
			if (i + 1 >= argc || !(eq = strchr(argv[i + 1], '=')) ||
			    eq == argv[i + 1])
				return cli_usage(cmd, "--value-file needs "
						      "ITEM=FILE");
			*eq = '\0';
			ex = read_value_file(eq + 1, &a->owned[a->nowned]);
			if (ex != EXIT_OK)
				return ex;
			a->items[s->n] = argv[++i];
			a->values[s->n++] = a->owned[a->nowned++];
			continue;
		}
		eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i])
			return cli_usage(cmd, "'%s' is not ITEM=VALUE",
					 argv[i]);
		*eq = '\0';
		a->items[s->n] = argv[i];
		a->values[s->n++] = eq + 1;
	}
	if (!s->n)
		return cli_usage(cmd, "no ITEM=VALUE given");
	return EXIT_OK;
}

void entry_args_release(struct entry_args *a)
{
	while (a->nowned)
		free(a->owned[--a->nowned]);
	free(a->owned);
	free(a->items);
	free(a->values);
	memset(a, 0, sizeof(*a));
}
