/*
 * store_api.c - the central store's interface (store.h) over its two
 * backends (store_be.h): every srv_store_* call goes to the table of the
 * handle's backend, chosen when the store is opened by what names it (a
 * data directory: SQLite; a postgresql:// URI: PostgreSQL). What does
 * not depend on the backend lives here once: which derived rows an event
 * changes, the subjects' summaries as JSON, the server key's making, and
 * copying one store's record into another.
 */
#include "store_be.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- which backend ------------------------------------------------------ */

int srv_store_is_pg(const char *where)
{
	return where && (!strncmp(where, "postgresql://", 13) ||
			 !strncmp(where, "postgres://", 11));
}

static const struct srv_store_ops *ops_for(const char *where)
{
	return srv_store_is_pg(where) ? &srv_pg_ops : &srv_sqlite_ops;
}

const char *srv_store_backend(struct srv_store *s)
{
	return s->ops->name;
}

/* ---- opening --------------------------------------------------------------
 */

int srv_store_create(const char *where, const char *study, const char *proto,
		     size_t proto_len, const char *proto_sha256,
		     struct srv_store **out, struct cb_err *err)
{
	return ops_for(where)->create(where, study, proto, proto_len,
				      proto_sha256, out, err);
}

int srv_store_open(const char *where, struct srv_store **out,
		   struct cb_err *err)
{
	return ops_for(where)->open(where, 0, out, err);
}

int srv_store_open_reader(const char *where, struct srv_store **out,
			  struct cb_err *err)
{
	return ops_for(where)->open(where, 1, out, err);
}

void srv_store_close(struct srv_store *s)
{
	if (s)
		s->ops->close(s);
}

int srv_store_schema_version(struct srv_store *s, long *v, struct cb_err *err)
{
	return s->ops->schema_version(s, v, err);
}

int srv_store_stale(struct srv_store *s)
{
	return s->ops->stale(s);
}

int srv_store_stale_clear(struct srv_store *s, struct cb_err *err)
{
	return s->ops->stale_clear(s, err);
}

int srv_store_checkpointer(struct srv_store *s, struct cb_err *err)
{
	return s->ops->checkpointer(s, err);
}

int srv_store_study(struct srv_store *s, char **study, char **proto,
		    size_t *proto_len, char **sha256, struct cb_err *err)
{
	return s->ops->study(s, study, proto, proto_len, sha256, err);
}

/* ---- the server key ------------------------------------------------------ */

int srv_store_key_create(struct srv_store *s, struct cb_err *err)
{
	struct cb_sign_keypair kp;
	int rc;

	rc = cb_sign_keypair_new(&kp, err);
	if (rc)
		return rc;
	rc = s->ops->key_create(s, kp.sk->bytes, err);
	cb_sign_keypair_release(&kp);
	return rc;
}

int srv_store_key_load(struct srv_store *s, struct cb_sign_keypair *kp,
		       struct cb_err *err)
{
	unsigned char secret[CB_SIGN_SECRET_BYTES];
	int rc;

	memset(kp, 0, sizeof(*kp));
	rc = s->ops->key_get(s, secret, err);
	if (!rc) {
		rc = cb_sign_keypair_from_secret(secret, sizeof(secret), kp,
						 err);
		/* Out of memory is told as that: only a key that is not
		 * one is damaged. */
		if (rc == CB_EINVAL)
			rc = cb_err_set(err, CB_EINTEGRITY,
					"central store: the server key is "
					"damaged");
	}
	cb_wipe(secret, sizeof(secret));
	return rc;
}

/* ---- transactions ------------------------------------------------------ */

int srv_store_begin(struct srv_store *s, struct cb_err *err)
{
	return s->ops->begin(s, err);
}

int srv_store_begin_read(struct srv_store *s, struct cb_err *err)
{
	return s->ops->begin_read(s, err);
}

int srv_store_begin_exclusive(struct srv_store *s, struct cb_err *err)
{
	return s->ops->begin_exclusive(s, err);
}

int srv_store_commit(struct srv_store *s, struct cb_err *err)
{
	return s->ops->commit(s, err);
}

void srv_store_rollback(struct srv_store *s)
{
	if (s)
		s->ops->rollback(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int srv_store_lock_subjects(struct srv_store *s, const char **subjects,
			    size_t n, struct cb_err *err)
{
	size_t i, k = 0;

	/* One order for every process: no two batches wait on each other
	 * in a circle. */
	qsort(subjects, n, sizeof(*subjects), cmp_str);
	for (i = 0; i < n; i++)
		if (!k || strcmp(subjects[k - 1], subjects[i]))
			subjects[k++] = subjects[i];
	return k ? s->ops->lock_subjects(s, subjects, k, err) : 0;
}

/* ---- sites, tokens, devices ---------------------------------------------- */

int srv_store_site_add(struct srv_store *s, const char *code, const char *name,
		       struct cb_err *err)
{
	return s->ops->site_add(s, code, name, err);
}

int srv_store_site_exists(struct srv_store *s, const char *code,
			  struct cb_err *err)
{
	return s->ops->site_exists(s, code, err);
}

int srv_store_site_each(struct srv_store *s,
			int (*fn)(const char *code, const char *name,
				  void *ctx),
			void *ctx, struct cb_err *err)
{
	return s->ops->site_each(s, fn, ctx, err);
}

int srv_store_token_add(struct srv_store *s, const struct srv_token *t,
			struct cb_err *err)
{
	return s->ops->token_add(s, t, err);
}

int srv_store_token_each(struct srv_store *s,
			 int (*fn)(const struct srv_token *t, void *ctx),
			 void *ctx, struct cb_err *err)
{
	return s->ops->token_each(s, fn, ctx, err);
}

int srv_store_token_revoke(struct srv_store *s, const char *id,
			   struct cb_err *err)
{
	return s->ops->token_revoke(s, id, err);
}

int srv_store_register(struct srv_store *s, const char *token_hash,
		       int64_t now_ms, struct srv_device *dev,
		       struct cb_err *err)
{
	return s->ops->reg(s, token_hash, now_ms, dev, err);
}

int srv_store_device_get(struct srv_store *s, const char *id,
			 struct srv_device *out, struct cb_err *err)
{
	return s->ops->device_get(s, id, out, err);
}

int srv_store_device_each(struct srv_store *s,
			  int (*fn)(const struct srv_device *d, void *ctx),
			  void *ctx, struct cb_err *err)
{
	return s->ops->device_each(s, fn, ctx, err);
}

int srv_store_device_revoke(struct srv_store *s, const char *id, int64_t now_ms,
			    struct cb_err *err)
{
	return s->ops->device_revoke(s, id, now_ms, err);
}

int srv_store_device_seen(struct srv_store *s, const char *id, const char *hlc,
			  struct cb_err *err)
{
	return s->ops->device_seen(s, id, hlc, err);
}

int srv_store_device_lock(struct srv_store *s, const char *id,
			  struct srv_device *out, struct cb_err *err)
{
	return s->ops->device_lock(s, id, out, err);
}

int srv_store_id(struct srv_store *s, char out[SRV_ID_HEX + 1],
		 struct cb_err *err)
{
	return s->ops->store_id(s, out, err);
}

int srv_store_id_renew(struct srv_store *s, struct cb_err *err)
{
	return s->ops->store_id_renew(s, err);
}

int srv_store_leases_paused(struct srv_store *s, char *why, size_t cap,
			    struct cb_err *err)
{
	return s->ops->leases_paused(s, why, cap, err);
}

int srv_store_leases_resume(struct srv_store *s, int *was, struct cb_err *err)
{
	return s->ops->leases_resume(s, was, err);
}

int srv_store_backup(struct srv_store *s, const char *path, struct cb_err *err)
{
	return s->ops->backup(s, path, err);
}

/* ---- people -------------------------------------------------------------- */

int srv_store_user_add(struct srv_store *s, const struct srv_user *u,
		       struct cb_err *err)
{
	return s->ops->user_add(s, u, err);
}

int srv_store_user_get(struct srv_store *s, const char *name,
		       struct srv_user *out, struct cb_err *err)
{
	return s->ops->user_get(s, name, out, err);
}

int srv_store_user_each(struct srv_store *s, const char *site, const char *role,
			int (*fn)(const struct srv_user *u, void *ctx),
			void *ctx, struct cb_err *err)
{
	return s->ops->user_each(s, site, role, fn, ctx, err);
}

int srv_store_user_disable(struct srv_store *s, const char *name,
			   int64_t now_ms, const char *reason,
			   struct cb_err *err)
{
	return s->ops->user_disable(s, name, now_ms, reason, err);
}

/* ---- nonces -------------------------------------------------------------- */

int srv_nonces_open(const char *where, struct srv_nonces **out,
		    struct cb_err *err)
{
	const struct srv_store_ops *ops = ops_for(where);
	int rc = ops->nonces_open(where, out, err);

	if (!rc)
		(*out)->ops = ops;
	return rc;
}

void srv_nonces_close(struct srv_nonces *n)
{
	if (n)
		n->ops->nonces_close(n);
}

int srv_nonces_use(struct srv_nonces *n, const char *device, const char *nonce,
		   int64_t time_ms, int64_t now_ms, struct cb_err *err)
{
	return n->ops->nonces_use(n, device, nonce, time_ms, now_ms, err);
}

/* ---- re-used subject ids, events ----------------------------------------- */

int srv_store_reuse_add(struct srv_store *s, const char *subject,
			const char *device, const char *hlc, struct cb_err *err)
{
	return s->ops->reuse_add(s, subject, device, hlc, err);
}

int srv_store_reuse_get(struct srv_store *s, const char *subject,
			const char *device, char hlc[CB_EVENT_HLC_HEX + 1],
			struct cb_err *err)
{
	return s->ops->reuse_get(s, subject, device, hlc, err);
}

int srv_store_event_add(struct srv_store *s, const struct srv_event_row *row,
			int64_t *seq, struct cb_err *err)
{
	return s->ops->event_add(s, row, seq, err);
}

int srv_store_seq_free(const struct srv_store *s)
{
	return s->ops->seq_free;
}

int srv_store_one_writer(const struct srv_store *s)
{
	return s->ops->one_writer;
}

int srv_store_event_seq(struct srv_store *s, const char *id, int64_t *seq)
{
	return s->ops->event_seq ? s->ops->event_seq(s, id, seq) : CB_ENOTFOUND;
}

int srv_store_event_get(struct srv_store *s, const char *id, char **json,
			size_t *len, struct cb_err *err)
{
	return s->ops->event_get(s, id, json, len, err);
}

int srv_store_event_each(struct srv_store *s, int64_t since, long limit,
			 const char *site, int unblinded,
			 int (*fn)(const struct srv_event_row *row, void *ctx),
			 void *ctx, int64_t *last, struct cb_err *err)
{
	return s->ops->event_each(s, since, limit, site, unblinded, fn, ctx,
				  last, err);
}

int srv_store_withheld_each(struct srv_store *s, int64_t since, int64_t upto,
			    const char *site,
			    int (*fn)(const struct srv_event_row *row,
				      void *ctx),
			    void *ctx, struct cb_err *err)
{
	return s->ops->withheld_each(s, since, upto, site, fn, ctx, err);
}

int srv_store_subject_events(struct srv_store *s, const char *subject,
			     int unblinded,
			     int (*fn)(const struct srv_event_row *row,
				       void *ctx),
			     void *ctx, struct cb_err *err)
{
	return s->ops->subject_events(s, subject, unblinded, fn, ctx, err);
}

int srv_store_subject_names(struct srv_store *s, const char *site,
			    int (*fn)(const char *subject, const char *site,
				      void *ctx),
			    void *ctx, struct cb_err *err)
{
	return s->ops->subject_names(s, site, fn, ctx, err);
}

int srv_store_subject_nevents(struct srv_store *s, const char *subject,
			      int64_t *n, struct cb_err *err)
{
	return s->ops->subject_nevents(s, subject, n, err);
}

/* ---- derived tables ------------------------------------------------------ */

int srv_store_derived_clear(struct srv_store *s, struct cb_err *err)
{
	return s->ops->derived_clear(s, err);
}

/* Write the forms row of `f`, its items text made in b. */
static int form_write(struct srv_store *s, struct cb_merge *m,
		      const struct cb_merge_form *f, struct cb_canon_buf *b,
		      struct cb_err *err)
{
	int rc = srv_items_text(m, f, b, err);

	return rc ? rc : s->ops->form_put(s, f, b->buf, err);
}

struct derive_ctx {
	struct srv_store *s;
	struct cb_merge *m;
	const char *site;
	struct cb_canon_buf b;
	struct cb_err *err;
};

static int derive_query(const struct cb_merge_query *q, void *vctx)
{
	struct derive_ctx *c = vctx;

	return c->s->ops->query_put(c->s, q, c->site, c->err);
}

static int derive_form(const struct cb_merge_form *f, void *vctx)
{
	struct derive_ctx *c = vctx;

	return form_write(c->s, c->m, f, &c->b, c->err);
}

static int site_of(const struct cb_event *ev, void *ctx)
{
	*(const char **)ctx = ev->site;
	return 1;
}

int srv_store_derive_subject(struct srv_store *s, struct cb_merge *m,
			     const char *subject, struct cb_err *err)
{
	struct derive_ctx c = {s, m, "", {NULL, 0, 0, err, 0}, err};
	int rc;

	/* A walk that fails (out of memory) would leave the site empty in
	 * every row written below. */
	if (cb_merge_each_event(m, subject, site_of, &c.site) < 0)
		return cb_err_set(err, CB_ENOMEM,
				  "deriving subject %s: out of memory",
				  subject);
	rc = s->ops->subject_clear(s, subject, err);
	if (rc)
		return rc;
	cb_err_clear(err);
	rc = cb_merge_each_form(m, subject, derive_form, &c);
	if (!rc)
		rc = cb_merge_each_query(m, subject, derive_query, &c, err);
	if (rc && !err->code)
		cb_err_set(err, rc, "deriving subject %s: %s", subject,
			   cb_err_name(rc));
	free(c.b.buf);
	return rc;
}

/*
 * Write the current row of query `id` when the merge state lists it (a
 * query whose open event has arrived, or the system query of a
 * conflicted item). The merge state holds one subject: its site is the
 * event's.
 */
static int query_refresh(struct srv_store *s, struct cb_merge *m,
			 const char *id, const struct cb_event *ev,
			 struct cb_err *err)
{
	struct cb_merge_query q;
	int rc;

	rc = cb_merge_query_get(m, id, &q, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	return rc ? rc : s->ops->query_put(s, &q, ev->site, err);
}

/* The stored query of each of an event's changed items (old_queries). */
struct old_queries {
	const struct cb_event *ev;
	char (*id)[SRV_ID_HEX + 1]; /* [ev->nchanges] */
};

static int old_query(const struct srv_items_entry *e, void *vctx)
{
	struct old_queries *o = vctx;
	size_t i;

	if (!e->query)
		return 0;
	for (i = 0; i < o->ev->nchanges; i++)
		if (!strcmp(o->ev->changes[i].item, e->item))
			snprintf(o->id[i], SRV_ID_HEX + 1, "%s", e->query);
	return 0;
}

/*
 * Write the forms row of the form instance `ev` changes (its items text
 * whole), and bring the system queries of its changed items up to date:
 * an item changed before may have had a conflict whose query (in the
 * stored row) is no longer current, and a conflicted item's query is
 * written as it stands.
 */
static int derive_form_of(struct srv_store *s, struct cb_merge *m,
			  const struct cb_event *ev, struct cb_err *err)
{
	struct old_queries o = {ev, NULL};
	struct cb_canon_buf text = {NULL, 0, 0, err, 0};
	struct cb_merge_form f;
	struct cb_buf b;
	size_t i;
	int rc;

	rc = cb_merge_form_get(m, ev->subject, ev->visit, ev->form,
			       ev->instance, &f, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	cb_buf_init(&b, SRV_ITEMS_MAX);
	/* Only an item changed before can have a stored system query (of
	 * a conflict) that is no longer current. */
	for (i = 0; !rc && i < ev->nchanges && !o.id; i++) {
		struct cb_merge_item it;

		if (!cb_merge_item_get(m, ev->subject, ev->visit, ev->form,
				       ev->instance, ev->changes[i].item, &it,
				       NULL) &&
		    it.nchanges > 1) {
			o.id = calloc(ev->nchanges, sizeof(*o.id));
			if (!o.id)
				rc =
				    cb_err_set(err, CB_ENOMEM, "out of memory");
		}
	}
	if (!rc && o.id) {
		rc = s->ops->form_items(s, ev->subject, ev->visit, ev->form,
					ev->instance, &b, err);
		if (!rc && cb_buf_len(&b))
			rc = srv_items_each(cb_buf_str(&b), cb_buf_len(&b),
					    old_query, &o, err);
	}
	if (!rc)
		rc = form_write(s, m, &f, &text, err);
	for (i = 0; !rc && i < ev->nchanges; i++) {
		const char *old = o.id ? o.id[i] : "";
		struct cb_merge_item it;

		rc = cb_merge_item_get(m, ev->subject, ev->visit, ev->form,
				       ev->instance, ev->changes[i].item, &it,
				       NULL);
		if (rc == CB_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc)
			rc = cb_err_set(err, rc, "deriving %s: %s", ev->subject,
					cb_err_name(rc));
		if (!rc && old[0] &&
		    !(it.conflict && it.query && !strcmp(old, it.query)))
			rc = s->ops->query_del(s, old, err);
		if (!rc && it.conflict && it.query)
			rc = query_refresh(s, m, it.query, ev, err);
	}
	free(o.id);
	free(text.buf);
	cb_buf_free(&b);
	return rc;
}

int srv_store_derive_event(struct srv_store *s, struct cb_merge *m,
			   const struct cb_event *ev, struct cb_err *err)
{
	const char *qid = NULL;
	int rc = 0;

	if (ev->form && ev->form[0])
		rc = derive_form_of(s, m, ev, err);
	if (rc)
		return rc;
	if (!strcmp(ev->kind, CB_KIND_QUERY_OPEN))
		qid = ev->id;
	else if (!strcmp(ev->kind, CB_KIND_QUERY_ANSWER) ||
		 !strcmp(ev->kind, CB_KIND_QUERY_CLOSE) ||
		 !strcmp(ev->kind, CB_KIND_QUERY_REOPEN))
		qid = cb_event_data(ev, CB_DATA_QUERY);
	return qid ? query_refresh(s, m, qid, ev, err) : 0;
}

int srv_store_summary_put(struct srv_store *s, const struct cb_summary *sum,
			  struct cb_err *err)
{
	cJSON *j = NULL;
	char *text;
	int rc;

	rc = cb_summary_to_json(sum, &j, err);
	if (rc)
		return rc;
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!text)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = s->ops->subject_put(s, sum->subject, sum->site,
				 (int64_t)sum->nevents,
				 cb_lifecycle_name(sum->state), text, err);
	free(text);
	return rc;
}

struct summary_walk {
	int (*fn)(const struct cb_summary *sum, void *ctx);
	void *ctx;
	struct cb_summary sum;
	struct cb_err *err;
};

static int summary_row(const char *json, size_t len, void *ctx)
{
	struct summary_walk *w = ctx;
	cJSON *j = cJSON_ParseWithLength(json, len);
	int r;

	r = j ? cb_summary_from_json(j, &w->sum, w->err)
	      : cb_err_set(w->err, CB_EINTEGRITY,
			   "central store: a subject's summary does not "
			   "parse");
	cJSON_Delete(j);
	return r ? r : w->fn(&w->sum, w->ctx);
}

int srv_store_summary_each(struct srv_store *s, const char *site,
			   int (*fn)(const struct cb_summary *sum, void *ctx),
			   void *ctx, struct cb_err *err)
{
	struct summary_walk w;
	int rc;

	w.fn = fn;
	w.ctx = ctx;
	w.err = err;
	cb_summary_init(&w.sum);
	rc = s->ops->summary_rows(s, site, summary_row, &w, err);
	cb_summary_release(&w.sum);
	return rc;
}

struct items_walk {
	const struct srv_form_row *f;
	int (*fn)(const struct srv_item_row *it, void *ctx);
	void *ctx;
	struct cb_canon_buf values; /* a conflicted item's head values */
	struct cb_err *err;
};

static int items_entry(const struct srv_items_entry *e, void *vctx)
{
	struct items_walk *w = vctx;
	struct srv_item_row it;
	int rc;

	it.subject = w->f->subject;
	it.visit = w->f->visit;
	it.form = w->f->form;
	it.instance = w->f->instance;
	it.item = e->item;
	it.value = e->value;
	it.conflict = e->conflict;
	it.head_values = NULL;
	if (e->conflict) {
		rc = srv_items_strings_text(e->head_values, &w->values, w->err);
		if (rc)
			return rc;
		it.head_values = w->values.buf;
	}
	return w->fn(&it, w->ctx);
}

/* Each item of one forms row, to the walk's fn. */
static int items_form(const struct srv_form_row *f, void *vctx)
{
	struct items_walk *w = vctx;

	w->f = f;
	return srv_items_each(f->items, strlen(f->items), items_entry, w,
			      w->err);
}

int srv_store_items_of(struct srv_store *s, const char *subject,
		       const char *visit, const char *form,
		       int (*fn)(const struct srv_item_row *it, void *ctx),
		       void *ctx, struct cb_err *err)
{
	struct items_walk w = {NULL, fn, ctx, {NULL, 0, 0, err, 0}, err};
	int rc =
	    s->ops->form_rows(s, subject, visit, form, items_form, &w, err);

	free(w.values.buf);
	return rc;
}

int srv_store_items_each(struct srv_store *s, const char *subject,
			 int (*fn)(const struct srv_item_row *it, void *ctx),
			 void *ctx, struct cb_err *err)
{
	struct items_walk w = {NULL, fn, ctx, {NULL, 0, 0, err, 0}, err};
	int rc = s->ops->form_rows(s, subject, NULL, NULL, items_form, &w, err);

	free(w.values.buf);
	return rc;
}

int srv_store_query_each(struct srv_store *s, const char *site,
			 const char *status, long limit,
			 int (*fn)(const struct srv_query_row *q, void *ctx),
			 void *ctx, struct cb_err *err)
{
	return s->ops->query_each(s, site, status, limit, fn, ctx, err);
}

int srv_store_derived_dump(struct srv_store *s,
			   int (*out)(const char *text, size_t len, void *ctx),
			   void *ctx, struct cb_err *err)
{
	return s->ops->derived_dump(s, out, ctx, err);
}

int srv_store_stats(struct srv_store *s, struct srv_store_stats *st,
		    struct cb_err *err)
{
	return s->ops->stats(s, st, err);
}

/* ---- randomization slots --------------------------------------------------
 */

int srv_store_slot_get(struct srv_store *s, const char *randno,
		       struct srv_slot_info *out, struct cb_err *err)
{
	return s->ops->slot_get(s, randno, out, err);
}

int srv_store_slot_of_subject(struct srv_store *s, const char *subject,
			      char *out, size_t cap, struct cb_err *err)
{
	return s->ops->slot_of_subject(s, subject, out, cap, err);
}

int srv_store_slots_put(struct srv_store *s, const char *list_id,
			const struct srv_slot_new *slots, size_t n,
			size_t *added, size_t *replaced, size_t *kept,
			struct cb_err *err)
{
	return s->ops->slots_put(s, list_id, slots, n, added, replaced, kept,
				 err);
}

int srv_store_slots_list(struct srv_store *s, const char *list_id,
			 const char *fingerprint, const char *study,
			 size_t nslots, struct cb_err *err)
{
	return s->ops->slots_list(s, list_id, fingerprint, study, nslots, err);
}

int srv_store_slots_site(struct srv_store *s, const char *list_id,
			 const char *site, const char *pub_hex,
			 const char *key_hex, struct cb_err *err)
{
	return s->ops->slots_site(s, list_id, site, pub_hex, key_hex, err);
}

int srv_store_slots_lease(struct srv_store *s, const char *device,
			  const char *site, long want, const char *now,
			  struct cb_err *err)
{
	return s->ops->slots_lease(s, device, site, want, now, err);
}

int srv_store_slots_each(struct srv_store *s, int kind, const char *device,
			 const char *site,
			 int (*fn)(const struct srv_slot *sl, void *ctx),
			 void *ctx, struct cb_err *err)
{
	return s->ops->slots_each(s, kind, device, site, fn, ctx, err);
}

int srv_store_slot_mark(struct srv_store *s, const char *randno,
			const char *subject, const char *event,
			const char *device, const char *when,
			struct cb_err *err)
{
	return s->ops->slot_mark(s, randno, subject, event, device, when, err);
}

int srv_store_slot_hold(struct srv_store *s, const char *randno,
			const char *device, const char *site, const char *now,
			int *took, struct cb_err *err)
{
	return s->ops->slot_hold(s, randno, device, site, now, took, err);
}

int srv_store_slots_clear_used(struct srv_store *s, struct cb_err *err)
{
	return s->ops->slots_clear_used(s, err);
}

int srv_store_slots_counts(struct srv_store *s, long *lists,
			   int (*fn)(const char *site, long slots, long leased,
				     long used, void *ctx),
			   void *ctx, struct cb_err *err)
{
	return s->ops->slots_counts(s, lists, fn, ctx, err);
}

/* ---- copying one store's record into another ---------------------------- */

struct copy_ctx {
	struct srv_store *to;
	size_t table;
	long rows;
	struct cb_err *err;
};

static int copy_row(const struct srv_raw_row *r, void *vctx)
{
	struct copy_ctx *c = vctx;

	/* The target has its own schema version, and is rebuilt. */
	if (c->table == 0 && r->v[0] &&
	    (!strcmp(r->v[0], "schema_version") ||
	     !strcmp(r->v[0], SRV_SETTING_STALE)))
		return 0;
	c->rows++;
	return c->to->ops->raw_put(c->to, c->table, r, c->err);
}

int srv_store_copy(struct srv_store *from, struct srv_store *to,
		   int (*progress)(const char *table, long rows, void *ctx),
		   void *pctx, struct cb_err *err)
{
	unsigned char secret[CB_SIGN_SECRET_BYTES];
	struct copy_ctx c = {to, 0, 0, err};
	int rc = 0;

	for (c.table = 0; c.table < srv_raw_ntables && !rc; c.table++) {
		c.rows = 0;
		rc = from->ops->raw_each(from, c.table, copy_row, &c, err);
		if (!rc && progress)
			rc = progress(srv_raw_tables[c.table].name, c.rows,
				      pctx);
	}
	if (!rc)
		rc = to->ops->raw_done(to, err);
	if (rc)
		return rc;
	/* The server key goes along: devices know its public half. */
	rc = from->ops->key_get(from, secret, err);
	if (!rc)
		rc = to->ops->key_create(to, secret, err);
	else if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		rc = 0;
	}
	cb_wipe(secret, sizeof(secret));
	return rc;
}
