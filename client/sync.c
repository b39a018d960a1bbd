/*
 * sync.c - push and pull against the central server (see sync.h).
 */
#include "sync.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "derive.h"
#include "event.h"
#include "hlc.h"
#include "id.h"
#include "json.h"
#include "lease.h"
#include "reqsig.h"
#include "seqs.h"
#include "role.h"
#include "withheld.h"

/* Longest pause between two attempts, in ms. */
#define BACKOFF_MAX_MS 4000
#define BACKOFF_FIRST_MS 250

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int sync_request(struct net *n, const struct sync_opts *o, const char *method,
		 const char *path, const char *query, const char *body,
		 size_t len, struct store *st, struct net_reply *r,
		 struct cb_err *err)
{
	long wait = BACKOFF_FIRST_MS;
	int attempt, rc = 0;

	/* The first attempt is not a retry: without it there is no reply. */
	assert(o->retries >= 0);
	for (attempt = 0; attempt <= o->retries; attempt++) {
		if (attempt) {
			pause_ms(wait);
			wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							 : wait * 2;
		}
		rc = net_request(n, method, path, query, body, len, st, r, err);
		if (rc == CB_EUNREACHABLE)
			continue;
		if (rc)
			return rc;
		if (r->status == 429 || r->status >= 500) {
			char msg[600];

			net_error_message(r, msg, sizeof(msg));
			net_reply_free(r);
			rc = cb_err_set(err, CB_EUNREACHABLE,
					"the server is not accepting requests "
					"now: %s",
					msg);
			continue;
		}
		return 0;
	}
	return rc;
}

/* A refused request as an error: 401/403 are not authorized. */
static int http_fail(const struct net_reply *r, const char *what,
		     struct cb_err *err)
{
	char msg[600];

	net_error_message(r, msg, sizeof(msg));
	if (r->status == 401)
		return cb_err_set(err, CB_EAUTH, "%s refused: %s", what, msg);
	if (r->status == 403)
		return cb_err_set(err, CB_EFORBIDDEN, "%s refused: %s", what,
				  msg);
	return cb_err_set(err, CB_EINVAL, "%s refused: %s", what, msg);
}

/*
 * The reason kept in quarantine: the server's reason, followed by the
 * message of each failed edit check it lists, so `casebook status` says
 * what was wrong ("AE end date is before the onset date"), not only that
 * a check failed. malloc'd; NULL when out of memory.
 */
static char *rejection_text(const cJSON *reason, const cJSON *checks)
{
	const char *base =
	    cJSON_IsString(reason) ? reason->valuestring : "no reason given";
	struct cb_buf b;
	const cJSON *c;
	size_t n = 0;
	int rc;

	cb_buf_init(&b, NET_REPLY_MAX);
	rc = cb_buf_addstr(&b, base, NULL);
	cJSON_ArrayForEach(c, checks)
	{
		const char *m = cb_json_str(c, "message");

		if (m && !rc)
			rc = cb_buf_printf(&b, NULL, "%s%s", n++ ? "; " : ": ",
					   m);
	}
	if (rc) {
		cb_buf_free(&b);
		return NULL;
	}
	return cb_buf_take(&b, NULL);
}

/* ---- The server's store id -------------------------------------------- */

/*
 * Compare the store id of a push or pull answer with the one kept. A
 * first one is kept; a different one (the server went back to a backup)
 * queues this device's own events again, puts the pull cursor back to
 * 0 and keeps the new id, in one transaction (the caller's must be
 * closed), and says so once. *changed gets 1 then. An answer without an
 * id (an older server) changes nothing.
 */
static int note_store(struct store *st, const cJSON *reply,
		      struct sync_stats *s, int *changed, struct cb_err *err)
{
	const char *id = cb_json_str(reply, "store");
	char *kept = NULL;
	size_t klen = 0;
	int64_t n = 0;
	int rc;

	*changed = 0;
	if (!id)
		return 0;
	if (strlen(id) != CB_ID_HEX_LEN || !cb_id_valid(id))
		return cb_err_set(err, CB_EINVAL,
				  "the server's answer has a bad store id");
	rc = store_meta_get(st, SYNC_META_STORE, &kept, &klen, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
	} else if (rc) {
		return rc;
	} else if (!strcmp(kept, id)) {
		free(kept);
		return 0;
	}
	rc = store_begin(st, err);
	if (!rc && kept)
		rc = store_requeue_own(st, &n, err);
	if (!rc && kept)
		rc = store_meta_set(st, SYNC_META_CURSOR, "0", 1, err);
	if (!rc)
		rc = store_meta_set(st, SYNC_META_STORE, id, strlen(id), err);
	if (!rc)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	if (!rc && kept) {
		*changed = 1;
		s->store_changed = 1;
		s->resent += (size_t)n;
		s->to_push += (size_t)n;
		fprintf(
		    stderr,
		    "casebook: the server's store is not the one this "
		    "laptop last synced with (%.8s..., now %.8s...): it was "
		    "restored from a backup. This laptop sends its %lld "
		    "event%s again (the server skips what it has) and pulls "
		    "everything from the start.\n",
		    kept, id, (long long)n, n == 1 ? "" : "s");
	}
	free(kept);
	return rc;
}

/* ---- What the pull may skip ------------------------------------------ */

/*
 * The numbers the server gave the events this sync pushed and it
 * accepted (push answers' "seqs", seqs.h): this laptop holds those
 * events, so the pull that follows asks the server to leave them out
 * (`skip`) instead of receiving every one of them back. Only numbers of
 * the store that answered: a change of store forgets them.
 */

/* The pull's query: the cursor, the page size and what to skip, as many
 * ranges as a signed request's query may hold (CB_REQSIG_PATH_MAX). */
static int pull_query(struct cb_buf *q, const char *cursor,
		      const struct cb_seqs *k, struct cb_err *err)
{
	char range[64];
	size_t i;
	int rc;

	cb_buf_reset(q);
	rc = cb_buf_printf(q, err, "since=%.40s&limit=%d", cursor,
			   SYNC_PULL_LIMIT);
	for (i = 0; !rc && i < k->n; i++) {
		int n = snprintf(range, sizeof(range), "%s%" PRId64 "-%" PRId64,
				 i ? "," : "&skip=", k->r[i].lo, k->r[i].hi);

		if (n < 0 || cb_buf_len(q) + (size_t)n > CB_REQSIG_PATH_MAX)
			break;
		rc = cb_buf_add(q, range, (size_t)n, err);
	}
	return rc;
}

/* ---- Push ----------------------------------------------------------- */

static void progress(const struct sync_opts *o, const struct sync_stats *s,
		     const char *phase)
{
	if (!o->progress)
		return;
	fprintf(stderr, "\rsync: %s: pushed %zu of %zu events, pulled %zu   ",
		phase, s->accepted + s->duplicate + s->rejected + s->deferred,
		s->to_push, s->pulled);
	fflush(stderr);
}

int sync_apply_push_result(struct store *st, const char *id, const cJSON *r,
			   struct sync_stats *s, struct cb_err *err)
{
	const char *v = cb_json_str(r, "status");
	const char *code = cb_json_str(r, "code");
	char *text;
	int rc;

	if (!v)
		v = "";
	if (!id || strlen(id) != CB_ID_HEX_LEN)
		return cb_err_set(err, CB_EINVAL,
				  "the server's push answer names no event "
				  "id in a result");
	if (!strcmp(v, "accepted") || !strcmp(v, "duplicate")) {
		if (!strcmp(v, "accepted"))
			s->accepted++;
		else
			s->duplicate++;
		return store_mark_synced(st, id, err);
	}
	if (strcmp(v, "rejected"))
		return cb_err_set(err, CB_EINVAL,
				  "the server answered '%.40s' for event %s", v,
				  id);
	if (code && !strcmp(code, SYNC_CODE_CLOCK)) {
		s->deferred++;
		return 0;
	}
	s->rejected++;
	text = rejection_text(cJSON_GetObjectItemCaseSensitive(r, "reason"),
			      cJSON_GetObjectItemCaseSensitive(r, "checks"));
	if (!text)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = store_quarantine(st, id, code ? code : "rejected", text, err);
	/* A verdict applied again (a bundle reply imported twice) is
	 * quarantined once. */
	if (rc == CB_EEXIST) {
		cb_err_clear(err);
		rc = 0;
	}
	free(text);
	return rc;
}

int sync_apply_push_results(struct store *st, const char *const *ids, size_t n,
			    const cJSON *reply, struct sync_stats *s,
			    struct cb_err *err)
{
	const cJSON *results =
	    cJSON_GetObjectItemCaseSensitive(reply, "results");
	const cJSON *r;
	size_t i = 0;
	int rc = 0;

	if (!cJSON_IsArray(results) ||
	    (ids && (size_t)cJSON_GetArraySize(results) != n))
		return cb_err_set(err, CB_EINVAL,
				  "the server's push answer has no result "
				  "for each event");
	cJSON_ArrayForEach(r, results)
	{
		rc = sync_apply_push_result(
		    st, ids ? ids[i] : cb_json_str(r, "id"), r, s, err);
		if (rc)
			break;
		i++;
	}
	return rc;
}

/* One push batch, read from the store's queue. */
struct batch {
	struct cb_buf body;
	char (*ids)[CB_ID_HEX_LEN + 1];
	size_t n, cap;
	int64_t last; /* the highest sequence number in it */
	struct cb_err *err;
};

#define PUSH_HEAD "{\"events\":["
#define BATCH_FULL 1 /* batch_one: stop, the batch is full */

static int batch_one(void *ctx, const struct store_event *ev)
{
	struct batch *b = ctx;
	int rc;

	/* The first event always goes, however large (the server says if
	 * it is too large); the others while the body stays under the cap. */
	if (b->n && cb_buf_len(&b->body) + ev->len + 3 > SYNC_BATCH_BYTES)
		return BATCH_FULL;
	rc = cb_array_grow((void **)&b->ids, &b->cap, b->n + 1, sizeof(*b->ids),
			   SYNC_BATCH_EVENTS, "push batch", b->err);
	if (!rc && b->n)
		rc = cb_buf_addc(&b->body, ',', b->err);
	if (!rc)
		rc = cb_buf_add(&b->body, ev->json, ev->len, b->err);
	if (rc)
		return rc;
	snprintf(b->ids[b->n], sizeof(b->ids[b->n]), "%s", ev->id);
	b->n++;
	b->last = ev->seq;
	return 0;
}

/* Apply the server's verdicts on one pushed batch, in one transaction. */
static int apply_results(struct store *st, const struct batch *b,
			 const cJSON *reply, struct sync_stats *s,
			 struct cb_err *err)
{
	const char **ids = calloc(b->n ? b->n : 1, sizeof(*ids));
	size_t i;
	int rc;

	if (!ids)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (i = 0; i < b->n; i++)
		ids[i] = b->ids[i];
	rc = store_begin(st, err);
	if (!rc)
		rc = sync_apply_push_results(st, ids, b->n, reply, s, err);
	if (!rc)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	free(ids);
	return rc;
}

static int push(struct store *st, struct net *n, const struct sync_opts *o,
		struct sync_stats *s, struct cb_seqs *k, struct cb_err *err)
{
	struct store_counts c;
	struct batch b;
	int rc;

	memset(&b, 0, sizeof(b));
	b.err = err;
	/* Room for the largest event beside the cap's worth of others. */
	cb_buf_init(&b.body, SYNC_BATCH_BYTES + CB_VALUE_MAX + 64);
	rc = store_counts(st, &c, err);
	s->to_push = rc ? 0 : (size_t)c.queued;
	while (!rc) {
		struct net_reply r;
		cJSON *reply;

		cb_buf_reset(&b.body);
		b.n = 0;
		rc = cb_buf_addstr(&b.body, PUSH_HEAD, err);
		if (!rc)
			rc = store_each_queued(st, b.last, SYNC_BATCH_EVENTS,
					       batch_one, &b, err);
		if (rc == BATCH_FULL)
			rc = 0;
		if (!rc && !b.n)
			break; /* the queue is empty */
		if (!rc)
			rc = cb_buf_addstr(&b.body, "]}", err);
		if (rc)
			break;
		rc = sync_request(n, o, "POST", "/v1/sync/push", "",
				  cb_buf_str(&b.body), cb_buf_len(&b.body), st,
				  &r, err);
		if (rc)
			break;
		if (r.status != 200) {
			rc = http_fail(&r, "push", err);
			net_reply_free(&r);
			break;
		}
		reply = cb_json_parse(r.body, r.len, NET_REPLY_MAX,
				      "push answer", err);
		net_reply_free(&r);
		if (!reply) {
			rc = err->code ? err->code : CB_EINVAL;
			break;
		}
		{
			int changed = 0;

			rc = note_store(st, reply, s, &changed, err);
			/* From the start of the queue again: the events
			 * queued anew come before this batch. */
			if (changed) {
				b.last = 0;
				k->n = 0;
			}
		}
		if (!rc)
			rc = apply_results(st, &b, reply, s, err);
		if (!rc)
			cb_seqs_note(
			    k, cJSON_GetObjectItemCaseSensitive(reply, "seqs"));
		cJSON_Delete(reply);
		progress(o, s, "push");
	}
	if (b.body.data)
		cb_wipe(b.body.data, b.body.cap);
	cb_buf_free(&b.body);
	free(b.ids);
	return rc;
}

/* ---- Pull ----------------------------------------------------------- */

/* Store one pulled event; our own events come back too. */
int sync_store_pulled(struct store *st, const cJSON *j, struct sync_stats *s,
		      struct derive_cache *dc, struct cb_err *err)
{
	struct cb_event ev;
	char *text = NULL;
	int64_t seq = 0;
	int rc;

	cb_event_init(&ev);
	rc = cb_event_from_json(j, &ev, err);
	if (rc) {
		cb_err_prefix(err, "pulled event: ");
		return rc;
	}
	rc = cb_event_print(&ev, &text, err);
	if (!rc)
		rc = store_add_event(st, ev.id, ev.subject, text, strlen(text),
				     STORE_EVENT_SYNCED, &seq, err);
	if (rc == CB_EEXIST) {
		/* Ours, pushed earlier: it is on the server now. */
		cb_err_clear(err);
		rc = store_mark_synced(st, ev.id, err);
	} else if (!rc) {
		uint64_t t;

		s->stored++;
		/* The device's clock runs ahead to every event it holds,
		 * never further than hlc.h's bound past its own clock. */
		if (!cb_hlc_parse(ev.hlc, &t, NULL))
			store_set_clock(st, cb_hlc_bound(t, cb_clock_now_ms()));
		if (dc)
			rc = derive_cache_add(dc, &ev, seq, err);
	}
	free(text);
	cb_event_release(&ev);
	s->pulled++;
	return rc;
}

int sync_store_pull_page(struct store *st, const cJSON *page, const char **next,
			 int *more, struct sync_stats *s,
			 struct derive_cache *dc, struct cb_err *err)
{
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(page, "events");
	const cJSON *nx = cJSON_GetObjectItemCaseSensitive(page, "next");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(page, "more");
	const cJSON *e;
	int rc = 0;

	if (!cJSON_IsArray(events) || !cJSON_IsString(nx) || !cJSON_IsBool(m) ||
	    strlen(nx->valuestring) > 40)
		return cb_err_set(err, CB_EINVAL,
				  "the server's pull answer is not "
				  "{events, next, more}");
	cJSON_ArrayForEach(e, events)
	{
		rc = sync_store_pulled(st, e, s, dc, err);
		if (rc)
			break;
	}
	if (!rc)
		rc = withheld_note(
		    st, cJSON_GetObjectItemCaseSensitive(page, "withheld"),
		    err);
	if (rc)
		return rc;
	*next = nx->valuestring;
	*more = cJSON_IsTrue(m);
	return 0;
}

/*
 * Pages are stored a few at a time: one transaction takes pages until it
 * holds SYNC_PULL_COMMIT_EVENTS events (or the last page came), with the
 * cursor of its last page, so a big pull writes and syncs the store a
 * few times, not once a page, and an interruption loses nothing: what
 * was not committed is pulled again from the committed cursor.
 */
/*
 * Pages are stored a few at a time: one transaction takes pages until it
 * holds SYNC_PULL_COMMIT_EVENTS events (or the last page came), with the
 * cursor of its last page, so a big pull writes and syncs the store a
 * few times, not once a page, and an interruption loses nothing: what
 * was not committed is pulled again from the committed cursor. The
 * subjects the pages touch are merged as their events arrive (a
 * derive_cache of SYNC_DERIVE_CACHE subjects) and their rows written in
 * the same transaction; those it had to let go are derived at the end.
 */
static int pull(struct store *st, const struct cb_protocol *p, struct net *n,
		const struct sync_opts *o, struct sync_stats *s,
		struct cb_seqs *k, struct cb_err *err)
{
	struct cb_buf query;
	struct derive_cache *dc = NULL;
	char *cursor = NULL;
	size_t clen = 0, held = 0; /* pulled events in the open transaction */
	int rc, more = 1, in_tx = 0;

	cb_buf_init(&query, 4096);
	rc = derive_cache_new(st, p, SYNC_DERIVE_CACHE, &dc, err);
	if (!rc)
		rc = store_meta_get(st, SYNC_META_CURSOR, &cursor, &clen, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		cursor = strdup("0");
		rc = cursor ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	while (!rc && more) {
		struct net_reply r;
		const char *next = NULL;
		size_t before = s->pulled;
		int page_more = 0;
		cJSON *reply = NULL;

		memset(&r, 0, sizeof(r));
		rc = pull_query(&query, cursor, k, err);
		if (!rc)
			rc = sync_request(n, o, "GET", "/v1/sync/pull",
					  cb_buf_str(&query), NULL, 0, st, &r,
					  err);
		if (!rc && r.status != 200) {
			rc = http_fail(&r, "pull", err);
			net_reply_free(&r);
		} else if (!rc) {
			reply = cb_json_parse(r.body, r.len, NET_REPLY_MAX,
					      "pull answer", err);
			net_reply_free(&r);
			if (!reply)
				rc = err->code ? err->code : CB_EINVAL;
		}
		if (rc) {
			/* The pages stored so far stay: they are whole,
			 * with their cursor. */
			struct cb_err keep;

			if (in_tx && (derive_cache_write(dc, &keep) ||
				      store_commit(st, &keep)))
				store_rollback(st);
			in_tx = 0;
			break;
		}
		{
			const char *id = cb_json_str(reply, "store");
			char *kept = NULL;
			size_t klen = 0;
			int changed = 0;

			/* Another store than the one the cursor is of: the
			 * pages not committed yet go, and the pull starts
			 * again from 0 (note_store). */
			if (id && in_tx &&
			    (store_meta_get(st, SYNC_META_STORE, &kept, &klen,
					    err) ||
			     strcmp(kept, id))) {
				cb_err_clear(err);
				store_rollback(st);
				derive_cache_forget(dc);
				in_tx = 0;
				held = 0;
			}
			free(kept);
			if (!in_tx)
				rc = note_store(st, reply, s, &changed, err);
			if (!rc && changed) {
				char *zero = strdup("0");

				k->n = 0; /* numbers of another store */
				cJSON_Delete(reply);
				if (!zero) {
					rc = cb_err_set(err, CB_ENOMEM,
							"out of memory");
					break;
				}
				free(cursor);
				cursor = zero;
				more = 1;
				continue;
			}
			if (rc) {
				cJSON_Delete(reply);
				break;
			}
		}
		if (!in_tx) {
			rc = store_begin(st, err);
			in_tx = !rc;
		}
		if (!rc)
			rc = sync_store_pull_page(st, reply, &next, &page_more,
						  s, dc, err);
		if (!rc)
			rc = store_meta_set(st, SYNC_META_CURSOR, next,
					    strlen(next), err);
		held += s->pulled - before;
		if (!rc && (!page_more || held >= SYNC_PULL_COMMIT_EVENTS)) {
			rc = derive_cache_write(dc, err);
			if (!rc)
				rc = store_commit(st, err);
			else
				store_rollback(st);
			in_tx = 0;
			held = 0;
		}
		if (rc && in_tx) {
			store_rollback(st);
			in_tx = 0;
		}
		if (rc)
			derive_cache_forget(dc);
		if (!rc) {
			char *nc = strdup(next);

			if (!nc) {
				rc =
				    cb_err_set(err, CB_ENOMEM, "out of memory");
			} else {
				free(cursor);
				cursor = nc;
			}
		}
		more = page_more;
		cJSON_Delete(reply);
		progress(o, s, "pull");
	}
	if (in_tx) {
		if (!rc)
			rc = derive_cache_write(dc, err);
		if (rc)
			store_rollback(st);
		else
			rc = store_commit(st, err);
	}
	derive_cache_free(dc);
	free(cursor);
	cb_buf_free(&query);
	return rc;
}

/* Fetch and keep the device's randomization lease (GET /v1/slots). */
static int fetch_slots(struct store *st, struct net *n,
		       const struct sync_opts *o, struct sync_stats *s,
		       struct cb_err *err)
{
	struct net_reply r;
	cJSON *reply;
	int rc;

	if (!cb_role_is_site(store_role(st)))
		return 0; /* a central role's device holds no slots */
	rc = sync_request(n, o, "GET", "/v1/slots", "", NULL, 0, st, &r, err);
	if (rc)
		return rc;
	if (r.status == 404 || r.status == 403) {
		/* a server without randomization, or a role without slots */
		net_reply_free(&r);
		return 0;
	}
	if (r.status == 409) {
		char code[64], msg[600];

		net_error_code(&r, code, sizeof(code));
		if (!strcmp(code, SYNC_CODE_LEASES_PAUSED)) {
			char *held = NULL, *query;
			size_t qn;

			/* The slots held stay usable; only new ones wait.
			 * The server is told which this device holds: its
			 * record of them may predate their lease. */
			net_error_message(&r, msg, sizeof(msg));
			net_reply_free(&r);
			rc = lease_held(st, &held, SYNC_HELD_MAX, err);
			if (rc)
				return rc;
			qn = strlen(held) + 8;
			query = held[0] ? malloc(qn) : NULL;
			if (query) {
				snprintf(query, qn, "held=%s", held);
				rc = sync_request(n, o, "GET", "/v1/slots",
						  query, NULL, 0, st, &r, err);
				if (!rc && r.status == 409)
					net_error_message(&r, msg, sizeof(msg));
				if (!rc)
					net_reply_free(&r);
			} else if (held[0]) {
				rc =
				    cb_err_set(err, CB_ENOMEM, "out of memory");
			}
			free(query);
			free(held);
			if (rc)
				return rc;
			s->leases_paused = 1;
			fprintf(stderr,
				"casebook: warning: no new randomization slots "
				"for now: %s\n",
				msg);
			return 0;
		}
	}
	if (r.status != 200) {
		char msg[300];

		net_error_message(&r, msg, sizeof(msg));
		net_reply_free(&r);
		return cb_err_set(err, CB_EINVAL, "slots: %s", msg);
	}
	reply =
	    cb_json_parse(r.body, r.len, NET_REPLY_MAX, "slots answer", err);
	net_reply_free(&r);
	if (!reply)
		return err->code ? err->code : CB_EINVAL;
	rc = store_begin(st, err);
	if (!rc)
		rc = lease_save(st, reply, err);
	if (!rc)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	cJSON_Delete(reply);
	return rc;
}

/*
 * Fetch and keep the people the server knows for this device (GET
 * /v1/users). A server that does not have the list (404) leaves the kept
 * one as it is.
 */
static int fetch_users(struct store *st, struct net *n,
		       const struct sync_opts *o, struct cb_err *err)
{
	struct net_reply r;
	cJSON *reply;
	int rc;

	rc = sync_request(n, o, "GET", "/v1/users", "", NULL, 0, st, &r, err);
	if (rc)
		return rc;
	if (r.status == 404) {
		net_reply_free(&r);
		return 0;
	}
	if (r.status != 200) {
		char msg[300];

		net_error_message(&r, msg, sizeof(msg));
		net_reply_free(&r);
		return cb_err_set(err, CB_EINVAL, "users: %s", msg);
	}
	reply =
	    cb_json_parse(r.body, r.len, NET_REPLY_MAX, "users answer", err);
	net_reply_free(&r);
	if (!reply)
		return err->code ? err->code : CB_EINVAL;
	rc = sync_keep_users(st, reply, err);
	cJSON_Delete(reply);
	return rc;
}

int sync_keep_users(struct store *st, const cJSON *answer, struct cb_err *err)
{
	char *text;
	int rc;

	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(answer, "users")))
		return cb_err_set(err, CB_EINVAL,
				  "the server's list of people has no "
				  "'users' list");
	/* Kept as printed here, so a network sync and a bundle keep the
	 * same bytes for the same list. */
	text = cJSON_PrintUnformatted(answer);
	if (!text)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = store_meta_set(st, SYNC_META_USERS, text, strlen(text), err);
	free(text);
	return rc;
}

int sync_person(struct store *st, const char *name, cJSON **out, int *have_list,
		struct cb_err *err)
{
	const cJSON *u;
	cJSON *root;
	char *text = NULL;
	int rc;

	*out = NULL;
	*have_list = 0;
	rc = store_meta_opt(st, SYNC_META_USERS, &text, err);
	if (rc || !text)
		return rc;
	root = cJSON_Parse(text);
	free(text);
	if (!root)
		return cb_err_set(err, CB_EINTEGRITY,
				  "the kept list of people is not JSON");
	*have_list = 1;
	cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(root, "users"))
	{
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(u, "name");

		if (cJSON_IsString(nm) && !strcmp(nm->valuestring, name)) {
			*out = cJSON_Duplicate(u, 1);
			break;
		}
	}
	cJSON_Delete(root);
	return 0;
}

int sync_run(struct store *st, struct net *n, const struct sync_opts *o,
	     struct sync_stats *stats, struct cb_err *err)
{
	struct cb_protocol *p = NULL;
	struct store_counts c;
	struct cb_err ignored;
	struct cb_seqs skip;
	char now[CB_CLOCK_UTC_BUF];
	int rc;

	memset(stats, 0, sizeof(*stats));
	skip.n = 0;
	rc = store_protocol_load(st, &p, err);
	if (!rc)
		rc = push(st, n, o, stats, &skip, err);
	if (!rc) {
		int before = stats->store_changed;

		rc = pull(st, p, n, o, stats, &skip, err);
		/* The pull found the store changed: what it queued again
		 * goes now. */
		if (!rc && stats->store_changed && !before)
			rc = push(st, n, o, stats, &skip, err);
	}
	if (!rc)
		rc = fetch_slots(st, n, o, stats, err);
	if (!rc)
		rc = fetch_users(st, n, o, err);
	if (o->progress)
		fputc('\n', stderr);
	/* Subjects left pending (by this pull's cache, an earlier
	 * interrupted one, or another process), each merged once. */
	if (!rc)
		rc = derive_pending(st, p, o->progress, NULL, err);
	cb_protocol_free(p);
	if (!store_counts(st, &c, &ignored))
		stats->quarantined = (size_t)c.quarantined;
	if (rc)
		return rc;
	cb_clock_format_utc(cb_clock_now_ms(), now);
	return store_meta_set(st, SYNC_META_LAST, now, strlen(now), err);
}

void sync_print_stats(const struct sync_stats *s, int quiet)
{
	size_t pushed = s->accepted + s->duplicate + s->rejected + s->deferred;

	if (!quiet)
		printf("pushed %zu event%s: %zu accepted, %zu already there, "
		       "%zu rejected\n"
		       "pulled %zu event%s, %zu new\n",
		       pushed, pushed == 1 ? "" : "s", s->accepted,
		       s->duplicate, s->rejected, s->pulled,
		       s->pulled == 1 ? "" : "s", s->stored);
	if (s->deferred)
		printf("%zu event%s stamped by this laptop's clock more than "
		       "a day ahead of the server's: kept queued and sent "
		       "again at each sync until the server's time reaches "
		       "%s (check this laptop's date and time)\n",
		       s->deferred, s->deferred == 1 ? " was" : "s were",
		       s->deferred == 1 ? "it" : "them");
	if (s->quarantined)
		printf("%zu event%s in quarantine: see 'casebook status'\n",
		       s->quarantined, s->quarantined == 1 ? "" : "s");
}
