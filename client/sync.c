/*
 * sync.c - push and pull against the central server (see sync.h).
 */
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "cli.h"
#include "clock.h"
#include "event.h"
#include "id.h"
#include "json.h"
#include "buf.h"

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

/* ---- Quarantine ----------------------------------------------------- */

static int quarantine_load(struct store *st, cJSON **out, struct cb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = store_meta_get(st, SYNC_META_QUARANTINE, &text, &len, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		*out = cJSON_CreateArray();
		return *out ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (rc)
		return rc;
	*out =
	    cb_json_parse(text, len, STORE_META_MAX, SYNC_META_QUARANTINE, err);
	free(text);
	if (!*out)
		return err->code ? err->code : CB_EINVAL;
	if (!cJSON_IsArray(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return cb_err_set(err, CB_EINTEGRITY,
				  "setting %s is not a list",
				  SYNC_META_QUARANTINE);
	}
	return 0;
}

int sync_quarantine_load(struct store *st, cJSON **out, struct cb_err *err)
{
	return quarantine_load(st, out, err);
}

static int quarantine_has(const cJSON *q, const char *id)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, q)
	{
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(e, "id");

		if (cJSON_IsString(i) && !strcmp(i->valuestring, id))
			return 1;
	}
	return 0;
}

static int quarantine_save(struct store *st, const cJSON *q, struct cb_err *err)
{
	char *text = cJSON_PrintUnformatted(q);
	int rc;

	if (!text)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = store_meta_set(st, SYNC_META_QUARANTINE, text, strlen(text), err);
	free(text);
	return rc;
}

int sync_quarantine_has(const cJSON *quarantine, const char *id)
{
	return quarantine_has(quarantine, id);
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

/* ---- Push ----------------------------------------------------------- */

struct pending {
	char id[CB_ID_HEX_LEN + 1];
	char *json;
	size_t len;
};

struct collect {
	const cJSON *quarantine;
	struct pending *list;
	size_t count, cap;
};

static int collect_one(void *ctx, const struct store_event *ev)
{
	struct collect *c = ctx;

	if (quarantine_has(c->quarantine, ev->id))
		return 0;
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct pending *nl = realloc(c->list, cap * sizeof(*nl));

		if (!nl)
			return CB_ENOMEM;
		c->list = nl;
		c->cap = cap;
	}
	c->list[c->count].json = malloc(ev->len + 1);
	if (!c->list[c->count].json)
		return CB_ENOMEM;
	memcpy(c->list[c->count].json, ev->json, ev->len + 1);
	c->list[c->count].len = ev->len;
	snprintf(c->list[c->count].id, sizeof(c->list[c->count].id), "%s",
		 ev->id);
	c->count++;
	return 0;
}

static void collect_free(struct collect *c)
{
	size_t i;

	for (i = 0; i < c->count; i++)
		cb_wipe_free(c->list[i].json, c->list[i].len + 1);
	free(c->list);
}

static void progress(const struct sync_opts *o, const struct sync_stats *s,
		     const char *phase)
{
	if (!o->progress)
		return;
	fprintf(stderr, "\rsync: %s: pushed %zu of %zu events, pulled %zu   ",
		phase, s->accepted + s->duplicate + s->rejected, s->to_push,
		s->pulled);
	fflush(stderr);
}

int sync_apply_push_results(struct store *st, const char *const *ids, size_t n,
			    const cJSON *reply, cJSON *quarantine,
			    struct sync_stats *s, struct cb_err *err)
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
		const cJSON *status =
		    cJSON_GetObjectItemCaseSensitive(r, "status");
		const char *v =
		    cJSON_IsString(status) ? status->valuestring : "";
		const char *id = ids ? ids[i] : cb_json_str(r, "id");

		if (!id || strlen(id) != CB_ID_HEX_LEN) {
			rc = cb_err_set(err, CB_EINVAL,
					"the server's push answer names no "
					"event id in result %zu",
					i);
		} else if (!strcmp(v, "accepted") || !strcmp(v, "duplicate")) {
			rc = store_mark_synced(st, id, err);
			if (!strcmp(v, "accepted"))
				s->accepted++;
			else
				s->duplicate++;
		} else if (!strcmp(v, "rejected")) {
			const cJSON *code =
			    cJSON_GetObjectItemCaseSensitive(r, "code");
			const cJSON *reason =
			    cJSON_GetObjectItemCaseSensitive(r, "reason");
			char *text;
			cJSON *q;

			if (cJSON_IsString(code) &&
			    !strcmp(code->valuestring, SYNC_CODE_CLOCK)) {
				s->deferred++;
				i++;
				continue;
			}
			s->rejected++;
			/* A verdict applied again (a bundle reply imported
			 * twice) is quarantined once. */
			if (quarantine_has(quarantine, id)) {
				i++;
				continue;
			}
			q = cJSON_CreateObject();
			text = rejection_text(
			    reason,
			    cJSON_GetObjectItemCaseSensitive(r, "checks"));
			if (!q || !text ||
			    !cJSON_AddStringToObject(q, "id", id) ||
			    !cJSON_AddStringToObject(q, "code",
						     cJSON_IsString(code)
							 ? code->valuestring
							 : "rejected") ||
			    !cJSON_AddStringToObject(q, "reason", text)) {
				cJSON_Delete(q);
				rc =
				    cb_err_set(err, CB_ENOMEM, "out of memory");
			} else {
				cJSON_AddItemToArray(quarantine, q);
			}
			free(text);
		} else {
			rc = cb_err_set(err, CB_EINVAL,
					"the server answered '%.40s' for "
					"event %s",
					v, id);
		}
		if (rc)
			break;
		i++;
	}
	if (!rc)
		rc = quarantine_save(st, quarantine, err);
	return rc;
}

/* Apply the server's verdicts on one pushed batch, in one transaction. */
static int apply_results(struct store *st, const struct pending *batch,
			 size_t n, const cJSON *reply, cJSON *quarantine,
			 struct sync_stats *s, struct cb_err *err)
{
	const char **ids = calloc(n ? n : 1, sizeof(*ids));
	size_t i;
	int rc;

	if (!ids)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		ids[i] = batch[i].id;
	rc = store_begin(st, err);
	if (!rc)
		rc = sync_apply_push_results(st, ids, n, reply, quarantine, s,
					     err);
	if (!rc)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	free(ids);
	return rc;
}

#define PUSH_HEAD "{\"events\":["

static int push(struct store *st, struct net *n, const struct sync_opts *o,
		struct sync_stats *s, cJSON *quarantine, struct cb_err *err)
{
	struct collect c = {quarantine, NULL, 0, 0};
	char *body = NULL;
	size_t first = 0;
	int rc;

	rc = store_each_event(st, NULL, STORE_ITER_UNSYNCED, collect_one, &c,
			      err);
	if (rc == CB_ENOMEM)
		cb_err_set(err, rc, "out of memory");
	s->to_push = c.count;
	while (!rc && first < c.count) {
		struct net_reply r;
		size_t n_ev = 0, bytes = 16, pos, i;
		cJSON *reply;

		while (first + n_ev < c.count && n_ev < SYNC_BATCH_EVENTS &&
		       (n_ev == 0 || bytes + c.list[first + n_ev].len + 1 <=
					 SYNC_BATCH_BYTES))
			bytes += c.list[first + n_ev++].len + 1;
		body = malloc(bytes + 1);
		if (!body) {
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
			break;
		}
		pos = sizeof(PUSH_HEAD) - 1;
		memcpy(body, PUSH_HEAD, pos);
		for (i = 0; i < n_ev; i++) {
			if (i)
				body[pos++] = ',';
			memcpy(body + pos, c.list[first + i].json,
			       c.list[first + i].len);
			pos += c.list[first + i].len;
		}
		memcpy(body + pos, "]}", 3);
		pos += 2;
		rc = sync_request(n, o, "POST", "/v1/sync/push", "", body, pos,
				  st, &r, err);
		free(body);
		body = NULL;
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
		rc = apply_results(st, c.list + first, n_ev, reply, quarantine,
				   s, err);
		cJSON_Delete(reply);
		first += n_ev;
		progress(o, s, "push");
	}
	collect_free(&c);
	return rc;
}

/* ---- Pull ----------------------------------------------------------- */

/* Store one pulled event; our own events come back too. */
static int store_pulled(struct store *st, const cJSON *j, struct sync_stats *s,
			struct cb_err *err)
{
	struct cb_event ev;
	char *text = NULL;
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
				     STORE_EVENT_SYNCED, NULL, err);
	if (rc == CB_EEXIST) {
		/* Ours, pushed earlier: it is on the server now. */
		cb_err_clear(err);
		rc = store_mark_synced(st, ev.id, err);
	} else if (!rc) {
		s->stored++;
	}
	free(text);
	cb_event_release(&ev);
	return rc;
}

int sync_store_pull_page(struct store *st, const cJSON *page, const char **next,
			 int *more, struct sync_stats *s, struct cb_err *err)
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
		rc = store_pulled(st, e, s, err);
		s->pulled++;
		if (rc)
			break;
	}
	if (rc)
		return rc;
	*next = nx->valuestring;
	*more = cJSON_IsTrue(m);
	return 0;
}

static int pull(struct store *st, struct net *n, const struct sync_opts *o,
		struct sync_stats *s, struct cb_err *err)
{
	char *cursor = NULL;
	size_t clen = 0;
	int rc, more = 1;

	rc = store_meta_get(st, SYNC_META_CURSOR, &cursor, &clen, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		cursor = strdup("0");
		rc = cursor ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	while (!rc && more) {
		struct net_reply r;
		char query[96];
		const char *next = NULL;
		int page_more = 0;
		cJSON *reply;

		snprintf(query, sizeof(query), "since=%.40s&limit=%d", cursor,
			 SYNC_PULL_LIMIT);
		rc = sync_request(n, o, "GET", "/v1/sync/pull", query, NULL, 0,
				  st, &r, err);
		if (rc)
			break;
		if (r.status != 200) {
			rc = http_fail(&r, "pull", err);
			net_reply_free(&r);
			break;
		}
		reply = cb_json_parse(r.body, r.len, NET_REPLY_MAX,
				      "pull answer", err);
		net_reply_free(&r);
		if (!reply) {
			rc = err->code ? err->code : CB_EINVAL;
			break;
		}
		rc = store_begin(st, err);
		if (!rc)
			rc = sync_store_pull_page(st, reply, &next, &page_more,
						  s, err);
		if (!rc)
			rc = store_meta_set(st, SYNC_META_CURSOR, next,
					    strlen(next), err);
		if (!rc)
			rc = store_commit(st, err);
		else
			store_rollback(st);
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
	free(cursor);
	return rc;
}

int sync_run(struct store *st, struct net *n, const struct sync_opts *o,
	     struct sync_stats *stats, struct cb_err *err)
{
	cJSON *quarantine = NULL;
	char now[CB_CLOCK_UTC_BUF];
	int rc;

	memset(stats, 0, sizeof(*stats));
	rc = quarantine_load(st, &quarantine, err);
	if (!rc)
		rc = push(st, n, o, stats, quarantine, err);
	if (!rc)
		rc = pull(st, n, o, stats, err);
	if (!rc)
		rc = randomize_fetch_slots(st, n, o, err);
	if (quarantine)
		stats->quarantined = (size_t)cJSON_GetArraySize(quarantine);
	cJSON_Delete(quarantine);
	if (o->progress)
		fputc('\n', stderr);
	if (rc)
		return rc;
	cb_clock_format_utc(cb_clock_now_ms(), now);
	return store_meta_set(st, SYNC_META_LAST, now, strlen(now), err);
}

void sync_print_stats(const struct sync_stats *s)
{
	size_t pushed = s->accepted + s->duplicate + s->rejected + s->deferred;

	printf("pushed %zu event%s: %zu accepted, %zu already there, "
	       "%zu rejected\n"
	       "pulled %zu event%s, %zu new\n",
	       pushed, pushed == 1 ? "" : "s", s->accepted, s->duplicate,
	       s->rejected, s->pulled, s->pulled == 1 ? "" : "s", s->stored);
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
