/*
 * test_srv_core.c - the server keeps derived state subject by subject
 * (core.h): what the incremental path builds push by push must be, byte
 * for byte, what `casebookd rebuild` derives from the events alone.
 *
 * A random study (seeded: the seed is printed on failure and
 * CASEBOOK_SEED replays it) is generated as a laptop fleet would make it:
 * subjects created by their devices, saves by two site devices that
 * often miss each other's changes (conflicts), resolutions with a
 * reason, queries opened by a data manager, answered by the site and
 * closed, e-signatures over the form's heads, and events sent again.
 * The same events go to two stores in different orders (subjects
 * interleaved at random, each subject's events in the order made) and
 * different batch splits, one of them with a cache too small to hold
 * anything for long. Then, for each store: its derived tables equal a
 * rebuild's; and the two stores agree with each other, in derived
 * tables and in the canonical dump. Then two writers push the same
 * events into one store at once (two cores: on PostgreSQL as two
 * processes would): each event is stored once, and the derived tables
 * are still a rebuild's.
 *
 * CASEBOOK_TEST_STORE=pg runs it all on PostgreSQL (CASEBOOK_PG_HOST,
 * CASEBOOK_PG_USER: tests/tools/pgtest.sh), a database per store.
 */
#include "t.h"

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "core.h"
#include "crypto.h"
#include "event.h"
#include "hlc.h"
#include "id.h"
#include "json.h"
#include "recent.h"
#include "record.h"
#include "srv.h"
#include <libpq-fe.h>
#include <sqlite3.h>

static const char proto[] =
    "{\"format\":\"casebook-protocol/1\",\"id\":\"PROP\",\"version\":\"1\","
    "\"forms\":["
    "{\"code\":\"SV\",\"label\":\"Visit\",\"writers\":[\"coordinator\","
    "\"investigator\"],\"items\":[{\"code\":\"VISDT\",\"label\":\"Date\","
    "\"type\":\"date\"}]},"
    "{\"code\":\"A\",\"label\":\"A\",\"writers\":[\"coordinator\","
    "\"investigator\"],\"items\":["
    "{\"code\":\"X\",\"label\":\"X\",\"type\":\"text\",\"max_length\":20},"
    "{\"code\":\"Y\",\"label\":\"Y\",\"type\":\"text\",\"max_length\":20},"
    "{\"code\":\"Z\",\"label\":\"Z\",\"type\":\"integer\"}]}],"
    "\"visits\":[{\"code\":\"BL\",\"label\":\"Baseline\",\"day\":0,"
    "\"window\":[0,0],\"forms\":[\"SV\",\"A\"]},"
    "{\"code\":\"M1\",\"label\":\"Month 1\",\"day\":30,"
    "\"window\":[20,40],\"forms\":[\"A\"]}],"
    "\"day0\":\"BL.SV.VISDT\"}";

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t pick(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* A registered device of the test: key, id, role, index. */
struct dev {
	struct cb_sign_keypair kp;
	struct srv_device d;
};

/* The events made, in the order made, as JSON texts. */
struct made {
	char **json;
	char **subject;
	size_t n, cap;
};

static char tmp[256];
static struct dev devs[3]; /* coordinator 1, investigator 2, data manager */
static struct made made;
static uint64_t clock_ms = 1764000000000ULL;

static int register_dev(struct srv_core *c, struct dev *v, const char *site,
			const char *role, const char *user)
{
	struct srv_token t;
	struct srv_user u;
	struct cb_err err;
	char hash[CB_HASH_HEX_SIZE], token[64];

	/* The site and the person first: the server takes events only
	 * from people it knows. */
	if (site[0] && srv_store_site_exists(c->store, site, &err) == 0 &&
	    srv_store_site_add(c->store, site, site, &err))
		return -1;
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", user);
	snprintf(u.full_name, sizeof(u.full_name), "Test %s", user);
	snprintf(u.role, sizeof(u.role), "%s", role);
	snprintf(u.site, sizeof(u.site), "%s", site);
	if (srv_store_user_add(c->store, &u, &err)) {
		printf("# user add: %s\n", err.msg);
		return -1;
	}
	memset(&t, 0, sizeof(t));
	snprintf(token, sizeof(token), "tok-%s-%s", role, user);
	cb_sha256_hex(token, strlen(token), hash);
	cb_id_random(t.id);
	snprintf(t.hash, sizeof(t.hash), "%s", hash);
	snprintf(t.site, sizeof(t.site), "%s", site);
	snprintf(t.role, sizeof(t.role), "%s", role);
	t.created_ms = 0;
	t.expires_ms = INT64_MAX;
	if (srv_store_token_add(c->store, &t, &err))
		return -1;
	memset(&v->d, 0, sizeof(v->d));
	memcpy(v->d.pk, v->kp.pk, sizeof(v->d.pk));
	snprintf(v->d.user, sizeof(v->d.user), "%s", user);
	cb_id_random(v->d.id);
	return srv_store_register(c->store, hash, 1, &v->d, &err);
}

/* On PostgreSQL (CASEBOOK_TEST_STORE=pg): the test server's socket. */
static const char *pg_host(void)
{
	const char *s = getenv("CASEBOOK_TEST_STORE");

	return s && !strcmp(s, "pg") ? getenv("CASEBOOK_PG_HOST") : NULL;
}

/* Run a PostgreSQL client program on the test server's database
 * cbunit_PID_NAME (what: "createdb", "dropdb --if-exists", or "createdb
 * -T TEMPLATE" with the template's name in `from`). */
static int pg_tool(const char *what, const char *name, const char *from)
{
	char cmd[1200], tpl[200] = "";

	if (from)
		snprintf(tpl, sizeof(tpl), "-T cbunit_%d_%s", (int)getpid(),
			 from);
	snprintf(cmd, sizeof(cmd), "%s %s -h '%s' -U '%s' cbunit_%d_%s", what,
		 tpl, pg_host(), getenv("CASEBOOK_PG_USER"), (int)getpid(),
		 name);
	return system(cmd);
}

/* Where store `name` is: a directory of tmp, or a database. */
static void where(const char *name, char *out, size_t cap)
{
	if (pg_host())
		snprintf(out, cap, "postgresql://%s@/cbunit_%d_%s?host=%s",
			 getenv("CASEBOOK_PG_USER"), (int)getpid(), name,
			 pg_host());
	else
		snprintf(out, cap, "%s/%s", tmp, name);
}

static int open_store(struct srv_core *c, const char *name, int make)
{
	char dir[600];
	struct srv_store *s = NULL;
	struct cb_err err;
	char sum[CB_HASH_HEX_SIZE];

	where(name, dir, sizeof(dir));
	if (make && pg_host() && pg_tool("createdb", name, NULL))
		return -1;
	if (make) {
		cb_sha256_hex(proto, strlen(proto), sum);
		if (srv_store_create(dir, "PROP", proto, strlen(proto), sum, &s,
				     &err)) {
			printf("# create: %s\n", err.msg);
			return -1;
		}
		if (srv_store_key_create(s, &err)) {
			srv_store_close(s);
			return -1;
		}
		srv_store_close(s);
	}
	if (srv_core_open(c, dir, &err)) {
		printf("# open: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* The truth: every event made, merged, to derive prev and seen from. */
static struct cb_merge *truth;

static int keep(struct cb_event *ev, const struct dev *v)
{
	struct cb_err err;
	char *json = NULL;

	clock_ms += 1 + pick(3);
	cb_hlc_format(cb_hlc_make((int64_t)clock_ms, 0), ev->hlc);
	if (cb_event_sign(ev, v->kp.sk, &err) ||
	    cb_event_print(ev, &json, &err)) {
		printf("# event: %s\n", err.msg);
		return -1;
	}
	if (made.n == made.cap) {
		made.cap = made.cap ? made.cap * 2 : 256;
		made.json = realloc(made.json, made.cap * sizeof(char *));
		made.subject = realloc(made.subject, made.cap * sizeof(char *));
	}
	made.json[made.n] = json;
	made.subject[made.n] = strdup(ev->subject);
	made.n++;
	return cb_merge_add(truth, ev, NULL, &err);
}

static int new_event(struct cb_event *ev, const struct dev *v,
		     const char *subject, const char *kind, const char *visit,
		     const char *form)
{
	struct cb_err err;

	cb_event_init(ev);
	if (cb_id_random(ev->id) ||
	    cb_event_set_origin(ev, v->d.id, "KR01", v->d.user, &err) ||
	    cb_event_set_target(ev, subject, kind, visit, form, "", &err) ||
	    cb_event_set_reason(ev, "", &err))
		return -1;
	memcpy(ev->wall, "2026-01-10T10:00:00.000Z", CB_EVENT_TIME_LEN + 1);
	return 0;
}

/* One random event about `subject` (already created). */
static int one_event(const char *subject)
{
	static const char *const items[] = {"X", "Y", "Z"};
	static const char *const visits[] = {"BL", "M1"};
	const char *visit = visits[pick(2)], *item = items[pick(3)];
	struct dev *site = &devs[pick(2)];
	struct cb_merge_item it;
	struct cb_event ev;
	struct cb_err err;
	char value[32];
	size_t r = pick(100);
	int rc;

	if (r < 70) { /* a save, seeing everything, some, or nothing */
		const char *const *prev = NULL;
		size_t nprev = 0;

		if (!cb_merge_item_get(truth, subject, visit, "A", "", item,
				       &it, &err)) {
			size_t how = pick(10);

			prev = it.heads;
			nprev = how < 6 ? it.nheads : how < 8 ? 0 : 1;
		}
		if (!strcmp(item, "Z"))
			snprintf(value, sizeof(value), "%u",
				 (unsigned)pick(50));
		else
			snprintf(value, sizeof(value), "v%u",
				 (unsigned)pick(6));
		if (new_event(&ev, site, subject, CB_KIND_FORM_SAVE, visit,
			      "A"))
			return -1;
		rc = cb_event_add_change(&ev, item, pick(12) ? value : NULL,
					 prev, nprev, &err);
		if (!rc && nprev)
			rc = cb_event_set_reason(&ev, "corrected", &err);
		if (!rc)
			rc = keep(&ev, site);
		cb_event_release(&ev);
		return rc;
	}
	if (r < 80) { /* the data manager asks about an item */
		if (new_event(&ev, &devs[2], subject, CB_KIND_QUERY_OPEN, visit,
			      "A") ||
		    cb_event_set_data(&ev, CB_DATA_TEXT, "Please check",
				      &err) ||
		    cb_event_set_data(&ev, CB_DATA_ITEM, item, &err))
			return -1;
		rc = keep(&ev, &devs[2]);
		cb_event_release(&ev);
		return rc;
	}
	if (r < 92) { /* an answer, a close or a reopen of a query */
		struct {
			char id[CB_EVENT_ID_HEX + 1];
		} q = {""};
		int mode = (int)pick(3), answer = mode == 0, reopen = mode == 2;
		const struct dev *who = answer ? site : &devs[2];

		{
			struct cb_merge_query mq;
			const struct cb_event *e2 = NULL;
			size_t i;

			/* the newest query.open of the subject in `made` */
			for (i = made.n; i-- > 0 && !e2;) {
				struct cb_event tmp_ev;

				if (strcmp(made.subject[i], subject))
					continue;
				cb_event_init(&tmp_ev);
				if (!cb_event_parse(made.json[i],
						    strlen(made.json[i]),
						    &tmp_ev, &err) &&
				    !strcmp(tmp_ev.kind, CB_KIND_QUERY_OPEN) &&
				    !cb_merge_query_get(truth, tmp_ev.id, &mq,
							&err) &&
				    (mq.status == CB_QUERY_CLOSED) == reopen)
					snprintf(q.id, sizeof(q.id), "%s",
						 tmp_ev.id);
				cb_event_release(&tmp_ev);
				if (q.id[0])
					break;
			}
		}
		if (!q.id[0])
			return 0;
		if (new_event(&ev, who, subject,
			      answer   ? CB_KIND_QUERY_ANSWER
			      : reopen ? CB_KIND_QUERY_REOPEN
				       : CB_KIND_QUERY_CLOSE,
			      "", "") ||
		    cb_event_set_data(&ev, CB_DATA_QUERY, q.id, &err) ||
		    ((answer || reopen) &&
		     cb_event_set_data(&ev, CB_DATA_TEXT, "Checked", &err)))
			return -1;
		rc = keep(&ev, who);
		cb_event_release(&ev);
		return rc;
	}
	{ /* the investigator signs the form as it stands */
		char *seen = NULL;

		if (cb_merge_form_seen(truth, subject, visit, "A", "", &seen,
				       &err) ||
		    new_event(&ev, &devs[1], subject, CB_KIND_SIGN, visit,
			      "A") ||
		    cb_event_set_data(&ev, CB_DATA_MEANING, "reviewed", &err) ||
		    cb_event_set_data(&ev, CB_DATA_SEEN, seen, &err)) {
			free(seen);
			return -1;
		}
		free(seen);
		rc = keep(&ev, &devs[1]);
		cb_event_release(&ev);
		return rc;
	}
}

/* A query opened, closed and reopened by the data manager on the first
 * subject (of device 0). */
static int query_life(long device_index)
{
	static const char *const kinds[] = {
	    CB_KIND_QUERY_OPEN, CB_KIND_QUERY_CLOSE, CB_KIND_QUERY_REOPEN};
	char subject[32], qid[CB_EVENT_ID_HEX + 1] = "";
	struct cb_err err;
	size_t i;

	snprintf(subject, sizeof(subject), "KR01-%02ld%03d", device_index, 1);
	for (i = 0; i < 3; i++) {
		struct cb_event ev;
		int rc =
		    i ? new_event(&ev, &devs[2], subject, kinds[i], "", "")
		      : new_event(&ev, &devs[2], subject, kinds[i], "BL", "A");

		if (!rc && i == 0)
			rc = cb_event_set_data(&ev, CB_DATA_TEXT,
					       "Please check", &err) ||
			     cb_event_set_data(&ev, CB_DATA_ITEM, "X", &err);
		if (!rc && i > 0)
			rc = cb_event_set_data(&ev, CB_DATA_QUERY, qid, &err);
		if (!rc && i == 2)
			rc = cb_event_set_data(&ev, CB_DATA_TEXT, "Checked",
					       &err);
		if (!rc && i == 0)
			snprintf(qid, sizeof(qid), "%s", ev.id);
		if (!rc)
			rc = keep(&ev, &devs[2]);
		cb_event_release(&ev);
		if (rc)
			return -1;
	}
	return 0;
}

static int make_study(size_t nsubjects, size_t per_subject)
{
	size_t s, k;
	struct cb_err err;

	if (cb_merge_new(&truth, &err))
		return -1;
	for (s = 0; s < nsubjects; s++) {
		char subject[32];
		struct dev *v = &devs[s % 2];
		struct cb_event ev;

		snprintf(subject, sizeof(subject), "KR01-%02ld%03zu",
			 v->d.device_index, s + 1);
		if (new_event(&ev, v, subject, CB_KIND_SUBJECT_STATUS, "",
			      "") ||
		    cb_event_set_data(&ev, CB_DATA_STATUS, CB_SUBJECT_CREATED,
				      &err) ||
		    keep(&ev, v))
			return -1;
		cb_event_release(&ev);
	}
	/* Then events about random subjects, interleaved. */
	for (k = 0; k < nsubjects * per_subject; k++) {
		char subject[32];
		size_t s2 = pick(nsubjects);

		snprintf(subject, sizeof(subject), "KR01-%02ld%03zu",
			 devs[s2 % 2].d.device_index, s2 + 1);
		if (one_event(subject))
			return -1;
	}
	/* A reopened query in every study: the random draws above leave
	 * one out for some seeds (1796578961), and a query's whole life is
	 * part of what the two orders must agree on. */
	return nsubjects ? query_life(devs[0].d.device_index) : 0;
}

/*
 * Exactly one more event about `subject`: one_event makes none when it
 * drew a query's follow-up and the subject has no query to follow up.
 */
static int one_more_event(const char *subject)
{
	size_t n0 = made.n;

	while (made.n == n0)
		if (one_event(subject))
			return -1;
	return 0;
}

/* The registered device that made the event text `json`. */
static const struct dev *maker(const char *json)
{
	size_t d;

	for (d = 0; d < 3; d++)
		if (strstr(json, devs[d].d.id))
			return &devs[d];
	return NULL;
}

/*
 * Push events idx[0..n) of `made` in that order, in random batches of at
 * most max_batch: a batch is a run of events of one device (a push
 * comes from one device), so the order is kept.
 */
static int push_all(struct srv_core *c, const size_t *idx, size_t n,
		    size_t max_batch)
{
	size_t i = 0;

	while (i < n) {
		size_t want = 1 + pick(max_batch), j = i;
		const struct dev *d = maker(made.json[idx[i]]);
		cJSON *events = cJSON_CreateArray(), *reply = NULL;
		struct cb_err err;

		while (j < n && j - i < want && maker(made.json[idx[j]]) == d)
			cJSON_AddItemToArray(events,
					     cJSON_Parse(made.json[idx[j++]]));
		if (!d || srv_core_push(c, &d->d, events, &reply, &err)) {
			printf("# push: %s\n", d ? err.msg : "no device");
			cJSON_Delete(events);
			return -1;
		}
		cJSON_Delete(reply);
		cJSON_Delete(events);
		i = j;
	}
	return 0;
}

/*
 * An order of the events: subjects interleaved at random, each
 * subject's events in the order made, and about a tenth sent again
 * later (duplicates). *n gets the count.
 */
static size_t *order(size_t *n)
{
	size_t *out = malloc((made.n * 2 + 1) * sizeof(*out));
	size_t k = 0, left = made.n;
	unsigned char *used = calloc(made.n + 1, 1);

	/* Repeatedly take the first unused event of a random subject:
	 * pick a random unused event and walk back to the first unused
	 * one of its subject. */
	while (left) {
		size_t r = pick(made.n), j;

		while (used[r])
			r = (r + 1) % made.n;
		for (j = 0; j < r; j++)
			if (!used[j] &&
			    !strcmp(made.subject[j], made.subject[r]))
				break;
		if (j < r)
			r = j;
		used[r] = 1;
		out[k++] = r;
		left--;
		if (!pick(10) && k > 1) {
			size_t again = out[pick(k - 1)];

			out[k++] = again;
		}
	}
	free(used);
	*n = k;
	return out;
}

struct text {
	char *p;
	size_t len;
};

static int collect(const char *t, size_t len, void *ctx)
{
	struct text *x = ctx;

	x->p = realloc(x->p, x->len + len + 1);
	memcpy(x->p + x->len, t, len);
	x->len += len;
	x->p[x->len] = '\0';
	return 0;
}

static char *derived(struct srv_core *c)
{
	struct text t = {NULL, 0};
	struct cb_err err;

	if (srv_store_derived_dump(c->store, collect, &t, &err))
		printf("# dump: %s\n", err.msg);
	return t.p ? t.p : strdup("");
}

static char *canonical(struct srv_core *c)
{
	struct text t = {NULL, 0};
	struct cb_err err;

	if (srv_core_canonical_dump(c, NULL, 1, collect, &t, &err))
		printf("# canonical: %s\n", err.msg);
	return t.p ? t.p : strdup("");
}

/* A feed's subjects as text: summary and items, for comparing. */
static int feed_text(const struct cb_feed_subject *fs, void *ctx)
{
	struct text *t = ctx;
	struct cb_err err;
	cJSON *j = NULL;
	char *js, line[512];
	size_t i, k;

	if (cb_summary_to_json(fs->sum, &j, &err))
		return -1;
	js = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	collect(js, strlen(js), t);
	collect("\n", 1, t);
	free(js);
	for (i = 0; i < fs->nitems; i++) {
		const struct cb_feed_item *it = &fs->items[i];

		snprintf(line, sizeof(line), "  %s %s %s %s = %s%s", it->visit,
			 it->form, it->instance, it->item,
			 it->value ? it->value : "-",
			 it->conflict ? " conflict:" : "");
		collect(line, strlen(line), t);
		for (k = 0; it->conflict && k < it->nheads; k++) {
			snprintf(line, sizeof(line), " %s",
				 it->head_values[k] ? it->head_values[k] : "-");
			collect(line, strlen(line), t);
		}
		collect("\n", 1, t);
	}
	return 0;
}

static char *fed(struct srv_core *c, int with_merge, const char *cutoff)
{
	struct cb_feed_opts o = {NULL, cutoff, 1, with_merge, NULL};
	struct text t = {NULL, 0};
	struct cb_err err;

	if (srv_core_feed(c, &o, feed_text, &t, &err))
		printf("# feed: %s\n", err.msg);
	return t.p ? t.p : strdup("");
}

/* One writer of two_writers: every event, in batches of `batch` (each
 * batch one device's), counting what its pushes accepted. */
struct writer {
	struct srv_core c;
	const size_t *idx;
	size_t n, batch;
	long accepted, busy;
	int failed;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t i = 0;

	while (i < w->n && !w->failed) {
		const struct dev *d = maker(made.json[w->idx[i]]);
		cJSON *events = cJSON_CreateArray(), *reply = NULL;
		struct cb_err err;
		size_t j = i;
		int rc;

		while (j < w->n && j - i < w->batch &&
		       maker(made.json[w->idx[j]]) == d)
			cJSON_AddItemToArray(
			    events, cJSON_Parse(made.json[w->idx[j++]]));
		rc = d ? srv_core_push(&w->c, &d->d, events, &reply, &err)
		       : CB_EINVAL;
		if (rc == CB_EBUSY) {
			/* Two transactions collided: a device tries again. */
			w->busy++;
			cJSON_Delete(events);
			continue;
		}
		if (rc) {
			printf("# push: %s\n", d ? err.msg : "no device");
			w->failed = 1;
		} else {
			w->accepted += (long)cJSON_GetNumberValue(
			    cJSON_GetObjectItem(reply, "accepted"));
		}
		cJSON_Delete(reply);
		cJSON_Delete(events);
		i = j;
	}
	return NULL;
}

/*
 * Two cores on store c (two connections, two caches: what two
 * processes have) push every event at once, in different orders and
 * batches: each is accepted once, the derived tables are a rebuild's
 * and the canonical dump is `want`'s.
 */
static void two_writers(const char *want)
{
	struct writer w[2];
	pthread_t tid[2];
	struct cb_err err;
	char *d1, *d2, *cd;
	size_t k;

	memset(w, 0, sizeof(w));
	for (k = 0; k < 2; k++) {
		T_EQ_INT(open_store(&w[k].c, "c", 0), 0);
		w[k].idx = order(&w[k].n);
		w[k].batch = k ? 9 : 23;
	}
	for (k = 0; k < 2; k++)
		T_EQ_INT(pthread_create(&tid[k], NULL, writer_main, &w[k]), 0);
	for (k = 0; k < 2; k++)
		pthread_join(tid[k], NULL);
	T_ASSERT(!w[0].failed && !w[1].failed);
	T_EQ_INT(w[0].accepted + w[1].accepted, (long)made.n);
	if (w[0].busy + w[1].busy)
		printf("# %ld pushes tried again after a collision\n",
		       w[0].busy + w[1].busy);
	d1 = derived(&w[0].c);
	cd = canonical(&w[1].c);
	T_EQ_INT(srv_core_rebuild(&w[0].c, NULL, &err), 0);
	d2 = derived(&w[1].c);
	if (strcmp(d1, d2))
		T_FAIL_AT("two writers: derived tables differ from a rebuild");
	if (strcmp(cd, want))
		T_FAIL_AT("two writers: the canonical dump differs");
	free(d1);
	free(d2);
	free(cd);
	for (k = 0; k < 2; k++) {
		free((void *)w[k].idx);
		srv_core_close(&w[k].c);
	}
}

static int sql(const char *name, const char *q);

/* One pushing thread of group_commit: its events, a push each. */
struct grouper {
	struct srv_core *c;
	const char *json[8];
	size_t n;
	long accepted;
	int rc; /* the first failed push's */
	char msg[CB_ERR_MSG_MAX];
	pthread_t tid;
};

static void *grouper_main(void *arg)
{
	struct grouper *g = arg;
	size_t i;

	for (i = 0; i < g->n; i++) {
		const struct dev *d = maker(g->json[i]);
		cJSON *events = cJSON_CreateArray(), *reply = NULL;
		struct cb_err err;
		int rc;

		cb_err_clear(&err);
		cJSON_AddItemToArray(events, cJSON_Parse(g->json[i]));
		rc = d ? srv_core_push(g->c, &d->d, events, &reply, &err)
		       : CB_EINVAL;
		if (rc && !g->rc) {
			g->rc = rc;
			snprintf(g->msg, sizeof(g->msg), "%s", err.msg);
		}
		if (!rc)
			g->accepted += (long)cJSON_GetNumberValue(
			    cJSON_GetObjectItem(reply, "accepted"));
		cJSON_Delete(reply);
		cJSON_Delete(events);
	}
	return NULL;
}

/* A whole share of events, a push each, on share->g's store. */
struct share_ctx {
	struct grouper *g;
	const char **json;
	size_t n;
};

static void *share_main(void *arg)
{
	struct share_ctx *sh = arg;
	struct grouper *g = sh->g;
	size_t i;

	for (i = 0; i < sh->n; i++) {
		g->json[0] = sh->json[i];
		g->n = 1;
		grouper_main(g);
	}
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * Start g[0], let it take the writer's turn, then g[1..n) while the
 * writer is held busy (the test holds write_lock), so that they queue
 * and go as one group once it is free.
 */
static void run_queued(struct srv_core *c, struct grouper *g, size_t n)
{
	size_t k;

	pthread_mutex_lock(&c->write_lock);
	T_EQ_INT(pthread_create(&g[0].tid, NULL, grouper_main, &g[0]), 0);
	sleep_ms(100);
	for (k = 1; k < n; k++)
		T_EQ_INT(pthread_create(&g[k].tid, NULL, grouper_main, &g[k]),
			 0);
	sleep_ms(500);
	pthread_mutex_unlock(&c->write_lock);
	for (k = 0; k < n; k++)
		pthread_join(g[k].tid, NULL);
}

/* One reading thread of readers_shared: pulls of every event, again. */
struct puller {
	struct srv_core *c;
	const struct srv_device *dev;
	long want, bad;
	pthread_t tid;
};

static void *puller_main(void *arg)
{
	struct puller *p = arg;
	int k;

	for (k = 0; k < 10; k++) {
		struct srv_pull_page page;
		struct cb_err err;
		int64_t since = 0;
		long n = 0;
		int more = 1;

		while (more) {
			cb_err_clear(&err);
			if (srv_core_pull(p->c, p->dev, since, 50, NULL, 0,
					  &page, &err)) {
				p->bad++;
				break;
			}
			n += page.n;
			more = page.more;
			since = page.next;
			free(page.text);
		}
		if (n != p->want)
			p->bad++;
	}
	return NULL;
}

/*
 * The read-only connections (srv_core_reader) are lent one request at a
 * time: twelve threads pulling at once share at most SRV_READERS_MAX,
 * and each reads the whole record every time.
 */
static void readers_shared(struct srv_core *c, long want)
{
	struct puller p[12];
	size_t k;

	memset(p, 0, sizeof(p));
	for (k = 0; k < 12; k++) {
		p[k].c = c;
		p[k].dev = &devs[2].d; /* the data manager sees everything */
		p[k].want = want;
		T_EQ_INT(pthread_create(&p[k].tid, NULL, puller_main, &p[k]),
			 0);
	}
	for (k = 0; k < 12; k++) {
		pthread_join(p[k].tid, NULL);
		T_EQ_INT(p[k].bad, 0);
	}
	T_ASSERT(c->nreaders >= 1 && c->nreaders <= SRV_READERS_MAX);
}

/*
 * Group commit (core.c). Store d gets every event as single-event
 * pushes from eight threads at once, each thread a share of the
 * subjects in the order made: they are all accepted once, in fewer
 * transactions than pushes, and the derived tables and the canonical
 * dump are as pushed one by one (`want`). Then a push about a subject
 * whose stored event was damaged goes in one group with seven others:
 * it alone fails, telling why; the seven are stored.
 */
static void group_commit(const char *want)
{
	struct grouper g[8];
	struct srv_core c;
	struct cb_err err;
	char *d1, *d2, *cd, *damaged;
	size_t i, k, nsub = 0, start;
	long accepted = 0;
	char **subs = calloc(made.n, sizeof(*subs));
	pthread_t tid[8];
	struct share_ctx share[8];

	/* The distinct subjects, in the order first made. */
	for (i = 0; i < made.n; i++) {
		for (k = 0; k < nsub && strcmp(subs[k], made.subject[i]); k++)
			;
		if (k == nsub)
			subs[nsub++] = made.subject[i];
	}
	T_ASSERT(nsub >= 8);
	T_EQ_INT(open_store(&c, "d", 0), 0);
	/* Each thread pushes its subjects' events one push at a time. */
	memset(share, 0, sizeof(share));
	for (k = 0; k < 8; k++)
		share[k].json = calloc(made.n, sizeof(char *));
	for (i = 0; i < made.n; i++) {
		for (k = 0; strcmp(subs[k], made.subject[i]); k++)
			;
		k %= 8;
		share[k].json[share[k].n++] = made.json[i];
	}
	memset(g, 0, sizeof(g));
	for (k = 0; k < 8; k++) {
		g[k].c = &c;
		share[k].g = &g[k];
	}
	for (k = 0; k < 8; k++)
		T_EQ_INT(pthread_create(&tid[k], NULL, share_main, &share[k]),
			 0);
	for (k = 0; k < 8; k++)
		pthread_join(tid[k], NULL);
	for (k = 0; k < 8; k++) {
		if (g[k].rc)
			printf("# push: %s\n", g[k].msg);
		T_EQ_INT(g[k].rc, 0);
		accepted += g[k].accepted;
		free(share[k].json);
	}
	T_EQ_INT(accepted, (long)made.n);
	printf("# %ld pushes in %ld groups\n", c.groups_pushes, c.groups);
	T_EQ_INT(c.groups_pushes, (long)made.n);
	T_ASSERT(c.groups < c.groups_pushes);
	T_EQ_INT(c.groups_split, 0);
	/* The writer's account: the same groups and pushes, every event
	 * once, and its commits a part of its busy time. */
	{
		struct srv_writer_stats w;

		srv_core_writer_stats(&c, &w);
		T_EQ_INT(w.groups, c.groups);
		T_EQ_INT(w.pushes, c.groups_pushes);
		T_EQ_INT(w.split, 0);
		T_EQ_INT(w.events, (long long)made.n);
		T_ASSERT(w.commit_ms > 0);
		T_ASSERT(w.busy_ms > w.commit_ms);
	}
	readers_shared(&c, (long)made.n);
	d1 = derived(&c);
	cd = canonical(&c);
	T_EQ_INT(srv_core_rebuild(&c, NULL, &err), 0);
	d2 = derived(&c);
	if (strcmp(d1, d2))
		T_FAIL_AT("group commit: derived tables differ from a rebuild");
	if (strcmp(cd, want))
		T_FAIL_AT("group commit: the canonical dump differs");
	free(d1);
	free(d2);
	free(cd);
	srv_core_close(&c);

	/* A damaged stored event of subjects[0]; a store opened afresh
	 * has nothing cached, so a push about it reads it. */
	{
		char q[300];

		snprintf(q, sizeof(q),
			 "UPDATE events SET json = '{\"x\":1}' WHERE seq ="
			 " (SELECT MIN(seq) FROM events WHERE subject = '%s')",
			 subs[0]);
		T_EQ_INT(sql("d", q), 0);
	}
	damaged = subs[0];
	T_EQ_INT(open_store(&c, "d", 0), 0);
	start = made.n;
	/* g[0] holds the writer's turn (a subject of its own); g[1] the
	 * damaged subject; g[2..8) one other subject each. */
	T_EQ_INT(one_more_event(subs[1]), 0);
	T_EQ_INT(one_more_event(damaged), 0);
	for (k = 2; k < 8; k++)
		T_EQ_INT(one_more_event(subs[k]), 0);
	T_EQ_INT(made.n, start + 8);
	memset(g, 0, sizeof(g));
	for (k = 0; k < 8; k++) {
		g[k].c = &c;
		g[k].json[0] = made.json[start + k];
		g[k].n = 1;
	}
	run_queued(&c, g, 8);
	T_EQ_INT(g[0].rc, 0);
	T_EQ_INT(g[0].accepted, 1);
	T_ASSERT(g[1].rc != 0);
	T_ASSERT(strstr(g[1].msg, damaged) && strstr(g[1].msg, "not parse"));
	for (k = 2; k < 8; k++) {
		if (g[k].rc)
			printf("# push %zu: %s\n", k, g[k].msg);
		T_EQ_INT(g[k].rc, 0);
		T_EQ_INT(g[k].accepted, 1);
	}
	printf("# then %ld pushes in %ld groups, %ld split\n", c.groups_pushes,
	       c.groups, c.groups_split);
	T_EQ_INT(c.groups_split, 1);
	T_EQ_INT(c.groups, 2);
	srv_core_close(&c);
	free(subs);
}

/* Run `q` on store `name` (where()), as SQL: the data directory's
 * SQLite file, or the PostgreSQL database. */
static int sql(const char *name, const char *q)
{
	char path[600];
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc;

	if (pg_host()) {
		PGconn *pc;
		PGresult *r;

		where(name, path, sizeof(path));
		pc = PQconnectdb(path);
		r = PQexec(pc, q);
		rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
		if (rc)
			printf("# sql: %s\n", PQerrorMessage(pc));
		PQclear(r);
		PQfinish(pc);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", tmp, name, SRV_STORE_FILE);
	rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, q, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		printf("# sql: %s\n", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc;
}

/*
 * A store of schema version 2 (no people) upgraded by opening it:
 * everyone it took events from becomes a person, with the role and site
 * of their devices; a store newer than this casebookd is refused, never
 * read.
 */
static void check_upgrade(void)
{
	struct srv_core c;
	struct srv_user u;
	struct srv_device d;
	struct cb_err err;
	char cmd[1200];

	if (pg_host()) {
		T_EQ_INT(pg_tool("createdb", "old", "a"), 0);
	} else {
		snprintf(cmd, sizeof(cmd), "cp -a %s/a %s/old", tmp, tmp);
		T_EQ_INT(system(cmd), 0);
	}
	/* As version 2 had it, with "ann" known only from her events
	 * (the same SQL on both backends). */
	T_EQ_INT(sql("old", "DROP TABLE users; DROP TABLE schema_history;"
			    "ALTER TABLE tokens DROP COLUMN \"user\";"
			    "ALTER TABLE devices DROP COLUMN max_hlc;"
			    "UPDATE devices SET \"user\" = 'first'"
			    " WHERE \"user\" = 'ann';"
			    "DELETE FROM settings WHERE key = 'store_id';"
			    "UPDATE settings SET value = '2'"
			    " WHERE key = 'schema_version';"),
		 0);
	T_EQ_INT(open_store(&c, "old", 0), 0);
	T_EQ_INT(srv_store_user_get(c.store, "ann", &u, &err), 0);
	T_EQ_STR(u.role, "coordinator");
	T_EQ_STR(u.site, "KR01");
	T_EQ_STR(u.full_name, "ann");
	T_EQ_INT(srv_store_user_get(c.store, "first", &u, &err), 0);
	T_EQ_STR(u.role, "coordinator");
	T_EQ_INT(srv_store_user_get(c.store, "ian", &u, &err), 0);
	T_EQ_STR(u.role, "investigator");
	T_EQ_INT(srv_store_user_get(c.store, "dora", &u, &err), 0);
	T_EQ_STR(u.role, "datamanager");
	T_EQ_STR(u.site, "");
	T_EQ_INT(srv_store_user_get(c.store, "nobody", &u, &err), CB_ENOTFOUND);
	/* each device's newest clock read from its events */
	T_EQ_INT(srv_store_device_get(c.store, devs[0].d.id, &d, &err), 0);
	T_EQ_INT((int)strlen(d.max_hlc), 16);
	/* and an identity */
	T_EQ_INT((int)strlen(c.store_id), SRV_ID_HEX);
	srv_core_close(&c);
	/* A store from a newer casebookd. */
	T_EQ_INT(sql("old", "UPDATE settings SET value = '99'"
			    " WHERE key = 'schema_version';"),
		 0);
	where("old", cmd, sizeof(cmd));
	memset(&c, 0, sizeof(c));
	cb_err_clear(&err);
	T_ASSERT(srv_core_open(&c, cmd, &err) != 0);
	T_ASSERT(strstr(err.msg, "schema version 99, made by a newer "
				 "casebookd") != NULL);
	srv_core_close(&c);
}

static int count_row(const struct srv_event_row *row, void *ctx)
{
	(void)row;
	(*(long *)ctx)++;
	return 0;
}

/*
 * Pulls answered from the events committed last (recent.h) are the
 * pulls the store gives, byte for byte: every device, cursors inside and
 * below what the ring holds, page sizes from 1 up, skip ranges.
 */
static void recent_is_store(struct srv_core *c)
{
	struct srv_recent *ring = c->recent;
	struct srv_pull_page page;
	struct cb_err err;
	int64_t max = 0;
	long covered = 0, below = 0;
	int more = 1, d, t;

	if (!ring)
		return; /* PostgreSQL: pulls read the store */
	while (more) {
		T_EQ_INT(srv_core_pull(c, &devs[2].d, max, 1000, NULL, 0, &page,
				       &err),
			 0);
		more = page.more;
		max = page.next;
		free(page.text);
	}
	for (d = 0; d < 3; d++)
		for (t = 0; t < 150; t++) {
			struct srv_pull_page a, b;
			struct cb_seq_range skip[2];
			size_t nskip = pick(3);
			int64_t since = t % 10 ? max - (int64_t)pick(60) : 0;
			long limit = 1 + (long)pick(t % 3 ? 8 : 80), n = 0;
			int64_t last;
			int cov;

			if (since < 0)
				since = 0;
			skip[0].lo = since + 1 + (int64_t)pick(5);
			skip[0].hi = skip[0].lo + (int64_t)pick(4);
			skip[1].lo = skip[0].hi + 2;
			skip[1].hi = skip[1].lo + (int64_t)pick(10);
			T_EQ_INT(srv_core_pull(c, &devs[d].d, since, limit,
					       skip, nskip > 2 ? 2 : nskip, &a,
					       &err),
				 0);
			c->recent = NULL;
			T_EQ_INT(srv_core_pull(c, &devs[d].d, since, limit,
					       skip, nskip > 2 ? 2 : nskip, &b,
					       &err),
				 0);
			c->recent = ring;
			if (a.len != b.len || memcmp(a.text, b.text, a.len))
				T_FAIL_AT("device %d, since %lld, limit %ld: "
					  "the ring's page differs from the "
					  "store's: %.200s against %.200s",
					  d, (long long)since, limit, a.text,
					  b.text);
			free(a.text);
			free(b.text);
			T_EQ_INT(srv_recent_pull(ring, since, 1, NULL, 1,
						 count_row, &n, NULL, NULL,
						 &last, &cov),
				 0);
			if (cov)
				covered++;
			else
				below++;
		}
	/* both ways were taken */
	T_ASSERT(covered > 0);
	T_ASSERT(below > 0);
}

static void test_incremental_is_rebuild(void)
{
	struct srv_core a, b;
	struct cb_err err;
	char *da, *db, *ra, *rb, *ca, *cbd;
	size_t *oa, *ob, na, nb, i;
	int k;

	rng = t_seed() | 1;
	snprintf(tmp, sizeof(tmp), "%s/cbsrvcore.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	T_ASSERT(mkdtemp(tmp) != NULL);
	for (k = 0; k < 3; k++)
		T_EQ_INT(cb_sign_keypair_new(&devs[k].kp, &err), 0);
	T_EQ_INT(open_store(&a, "a", 1), 0);
	T_EQ_INT(register_dev(&a, &devs[0], "KR01", "coordinator", "ann"), 0);
	T_EQ_INT(register_dev(&a, &devs[1], "KR01", "investigator", "ian"), 0);
	T_EQ_INT(register_dev(&a, &devs[2], "", "datamanager", "dora"), 0);
	srv_core_close(&a);
	/* empty: the registrations alone, for the two writers below. */
	if (pg_host()) {
		T_EQ_INT(pg_tool("createdb", "empty", "a"), 0);
	} else {
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "cp -a %s/a %s/empty", tmp, tmp);
		T_EQ_INT(system(cmd), 0);
	}
	/* b: a copy of a's store, with the same devices. */
	if (pg_host()) {
		T_EQ_INT(pg_tool("createdb", "b", "a"), 0);
	} else {
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "cp -a %s/a %s/b", tmp, tmp);
		T_EQ_INT(system(cmd), 0);
	}
	T_EQ_INT(open_store(&a, "a", 0), 0);
	T_EQ_INT(open_store(&b, "b", 0), 0);
	/* b keeps almost nothing cached: loads and evictions all along.
	 */
	srv_cache_free(b.cache);
	T_EQ_INT(srv_cache_new(20, &b.cache, &err), 0);
	/* b keeps the events it commits for pulls, a few kilobytes: the
	 * oldest go all along (not a, which a second core writes below, as
	 * a serving casebookd never allows). */
	T_EQ_INT(srv_core_recent(&b, 6000, &err), 0);
	T_EQ_INT(make_study(14, 30), 0);

	oa = order(&na);
	ob = order(&nb);
	T_EQ_INT(push_all(&a, oa, na, 40), 0);
	T_EQ_INT(push_all(&b, ob, nb, 7), 0);
	/* Another writer on a's store adds to subjects a has cached,
	 * then a goes on: its cached states must not be trusted
	 * blindly. */
	{
		struct srv_core a2;
		size_t first = made.n, more, *idx, j;

		for (j = 0; j < 60; j++)
			T_EQ_INT(one_event(made.subject[pick(14)]), 0);
		more = made.n - first;
		idx = malloc(more * sizeof(*idx));
		for (j = 0; j < more; j++)
			idx[j] = first + j;
		T_EQ_INT(open_store(&a2, "a", 0), 0);
		T_EQ_INT(push_all(&a2, idx, more / 2, 5), 0);
		srv_core_close(&a2);
		T_EQ_INT(push_all(&a, idx + more / 2, more - more / 2, 5), 0);
		T_EQ_INT(push_all(&b, idx, more, 5), 0);
		free(idx);
	}
	recent_is_store(&b);
	da = derived(&a);
	db = derived(&b);
	ca = canonical(&a);
	cbd = canonical(&b);
	T_EQ_INT(srv_core_rebuild(&a, NULL, &err), 0);
	T_EQ_INT(srv_core_rebuild(&b, NULL, &err), 0);
	ra = derived(&a);
	rb = derived(&b);
	if (strcmp(da, ra))
		T_FAIL_AT("store a: incremental and rebuilt derived tables "
			  "differ");
	else if (strcmp(db, rb))
		T_FAIL_AT("store b: incremental and rebuilt derived tables "
			  "differ");
	else if (strcmp(da, db))
		T_FAIL_AT("the two orders gave different derived tables");
	else if (strcmp(ca, cbd))
		T_FAIL_AT("the two orders gave different canonical dumps");
	/* Exports read the derived tables, or replay the events (a
	 * cut-off, the audit trail): both say the same. */
	{
		char *f1 = fed(&a, 0, NULL), *f2 = fed(&a, 1, NULL);
		char *f3 = fed(&a, 0, "1999-01-01T00:00:00.000Z");

		if (!f1[0] || strcmp(f1, f2))
			T_FAIL_AT("the derived and replayed feeds differ");
		else if (f3[0])
			T_FAIL_AT("a cut-off before every event fed "
				  "something");
		T_ASSERT(strstr(f1, " conflict: ") != NULL);
		free(f1);
		free(f2);
		free(f3);
	}
	/* Something happened: conflicts, queries, signatures. */
	T_ASSERT(strstr(da, "\t1\t[\"") != NULL); /* a conflicted item */
	T_ASSERT(strstr(da, "\tanswered\t") || strstr(da, "\tclosed\t"));
	T_ASSERT(strstr(ca, " reopen ") != NULL);
	T_ASSERT(strstr(ca, " signed ") != NULL);
	free(da);
	free(db);
	free(ra);
	free(rb);
	free(cbd);
	free(oa);
	free(ob);
	srv_core_close(&a);
	srv_core_close(&b);
	/* Two writers at once into a copy of the registrations: c. */
	if (pg_host()) {
		T_EQ_INT(pg_tool("createdb", "c", "empty"), 0);
	} else {
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "cp -a %s/empty %s/c", tmp, tmp);
		T_EQ_INT(system(cmd), 0);
	}
	two_writers(ca);
	/* d: the same for group commit. */
	if (pg_host()) {
		T_EQ_INT(pg_tool("createdb", "d", "empty"), 0);
	} else {
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "cp -a %s/empty %s/d", tmp, tmp);
		T_EQ_INT(system(cmd), 0);
	}
	group_commit(ca);
	free(ca);
	/* A store of version 2, on either backend (t_schema.sh upgrades
	 * one from 3, and SQLite's from 1). */
	check_upgrade();
	for (i = 0; i < made.n; i++) {
		free(made.json[i]);
		free(made.subject[i]);
	}
	free(made.json);
	free(made.subject);
	cb_merge_free(truth);
	for (k = 0; k < 3; k++)
		cb_sign_keypair_release(&devs[k].kp);
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd))
			printf("# could not remove %s\n", tmp);
	}
	if (pg_host()) {
		pg_tool("dropdb --if-exists", "a", NULL);
		pg_tool("dropdb --if-exists", "b", NULL);
		pg_tool("dropdb --if-exists", "c", NULL);
		pg_tool("dropdb --if-exists", "d", NULL);
		pg_tool("dropdb --if-exists", "empty", NULL);
		pg_tool("dropdb --if-exists", "old", NULL);
	}
}

struct rows {
	char seen[64];
};

static int note_row(const struct srv_event_row *row, void *ctx)
{
	struct rows *r = ctx;
	size_t n = strlen(r->seen);

	snprintf(r->seen + n, sizeof(r->seen) - n, "%s%lld", n ? "," : "",
		 (long long)row->seq);
	return 0;
}

static const char *text30(char c)
{
	static char t[8][31];
	static int k;
	char *x = t[k++ % 8];

	memset(x, c, 30);
	x[30] = '\0';
	return x;
}

/* The ring of events committed last (recent.c) on its own: what it
 * covers, pending events, gaps, the bytes it keeps, filters, failures. */
static void test_recent(void)
{
	struct srv_recent *r = srv_recent_new(100);
	struct rows a, w;
	int64_t last = -1;
	int cov = -1;

#define PULL(since, limit, site, unbl, wh)                                     \
	do {                                                                   \
		memset(&a, 0, sizeof(a));                                      \
		memset(&w, 0, sizeof(w));                                      \
		T_EQ_INT(srv_recent_pull(r, since, limit, site, unbl,          \
					 note_row, &a, wh ? note_row : NULL,   \
					 &w, &last, &cov),                     \
			 0);                                                   \
	} while (0)
#define ADD(seq, site, unbl, c)                                                \
	T_EQ_INT(srv_recent_add(r, seq, site, unbl, text30(c), 30), 0)

	T_ASSERT(r != NULL);
	PULL(0, 10, NULL, 1, 0);
	T_EQ_INT(cov, 0); /* nothing added: nothing covered */
	ADD(5, "S1", 0, 'a');
	ADD(6, "S2", 1, 'b');
	ADD(7, "S1", 1, 'c');
	/* pending: covered from 4, but nothing seen, the cursor stays */
	PULL(4, 10, NULL, 1, 0);
	T_EQ_INT(cov, 1);
	T_EQ_STR(a.seen, "");
	T_ASSERT(last == 4);
	srv_recent_commit(r);
	PULL(3, 10, NULL, 1, 0);
	T_EQ_INT(cov, 0); /* 4 may exist: not here */
	PULL(4, 10, NULL, 1, 0);
	T_EQ_INT(cov, 1);
	T_EQ_STR(a.seen, "5,6,7");
	T_ASSERT(last == 7);
	PULL(4, 2, NULL, 1, 0);
	T_EQ_STR(a.seen, "5,6");
	T_ASSERT(last == 6);
	/* a site's blinded device: 7 withheld, the cursor at the newest */
	PULL(4, 10, "S1", 0, 1);
	T_EQ_STR(a.seen, "5");
	T_EQ_STR(w.seen, "7");
	T_ASSERT(last == 7);
	/* a page full at 5: nothing withheld past it */
	PULL(4, 1, "S1", 0, 1);
	T_EQ_STR(a.seen, "5");
	T_EQ_STR(w.seen, "");
	T_ASSERT(last == 5);
	PULL(9, 10, NULL, 1, 0);
	T_EQ_INT(cov, 1);
	T_EQ_STR(a.seen, "");
	T_ASSERT(last == 9); /* a cursor past the newest stays */
	/* a rolled back transaction: its events go, the next takes the
	 * same numbers */
	ADD(8, "S1", 0, 'x');
	srv_recent_abort(r);
	PULL(7, 10, NULL, 1, 0);
	T_EQ_STR(a.seen, "");
	T_ASSERT(last == 7);
	ADD(8, "S1", 0, 'y');
	srv_recent_commit(r);
	PULL(7, 10, NULL, 1, 0);
	T_EQ_STR(a.seen, "8");
	/* a gap: 9 was stored elsewhere, so 8 no longer covers */
	ADD(10, "S1", 0, 'd');
	srv_recent_commit(r);
	PULL(8, 10, NULL, 1, 0);
	T_EQ_INT(cov, 0);
	PULL(9, 10, NULL, 1, 0);
	T_EQ_INT(cov, 1);
	T_EQ_STR(a.seen, "10");
	/* past 100 bytes the oldest committed go; pending ones stay until
	 * their commit, and the cursor never passes them */
	ADD(11, "S1", 0, 'e');
	ADD(12, "S1", 0, 'f');
	ADD(13, "S1", 0, 'g');
	ADD(14, "S1", 0, 'h');
	PULL(9, 10, NULL, 1, 0);
	T_EQ_INT(cov, 0); /* 10 went */
	PULL(10, 10, NULL, 1, 0);
	T_EQ_INT(cov, 1);
	T_EQ_STR(a.seen, "");
	T_ASSERT(last == 10);
	srv_recent_commit(r);
	PULL(10, 10, NULL, 1, 0);
	T_EQ_INT(cov, 0); /* three of 30 bytes kept: 12 to 14 */
	PULL(11, 10, NULL, 1, 0);
	T_EQ_STR(a.seen, "12,13,14");
	/* events that could not be kept (more pending than the ring's
	 * array holds): the ring claims nothing, then starts again */
	{
		int64_t q, rc = 0;

		for (q = 15; !rc && q < 15 + 70000; q++)
			rc = srv_recent_add(r, q, "S1", 0, "x", 1);
		T_EQ_INT((int)rc, CB_ETOOBIG);
		PULL(14, 10, NULL, 1, 0);
		T_EQ_INT(cov, 0);
		srv_recent_abort(r);
		ADD(q, "S1", 0, 'j');
		srv_recent_commit(r);
		PULL(q - 1, 10, NULL, 1, 0);
		T_EQ_INT(cov, 1);
		T_ASSERT(last == q);
		PULL(q - 2, 10, NULL, 1, 0);
		T_EQ_INT(cov, 0);
	}
#undef PULL
#undef ADD
	srv_recent_free(r);
}

/* A pull's skip ranges (srv.c): what is taken, what is refused. */
static void test_seq_ranges(void)
{
	static const char *const bad[] = {
	    "1-2,", ",1-2",    "1-2,,3-4", "2-1",
	    "0-1",  "1-2,2-3", "3-4,1-2",  "a-b",
	    "1--2", "1-2-3",   "-1-2",	   "1-",
	    "-",    "+1-2",    " 1-2",	   "01-2",
	    "1-2 ", "1",       "1-2;3-4",  "1-1234567890123456789"};
	struct cb_seq_range r[4];
	size_t i, n = 99;

	T_EQ_INT(srv_seq_ranges("", r, 4, &n), 0);
	T_EQ_INT((int)n, 0);
	T_EQ_INT(srv_seq_ranges("5-5", r, 4, &n), 0);
	T_EQ_INT((int)n, 1);
	T_ASSERT(r[0].lo == 5 && r[0].hi == 5);
	/* touching ranges are taken (they do not overlap) */
	T_EQ_INT(srv_seq_ranges("1-2,3-4,10-20,999999999999999999-"
				"999999999999999999",
				r, 4, &n),
		 0);
	T_EQ_INT((int)n, 4);
	T_ASSERT(r[1].lo == 3 && r[1].hi == 4 && r[2].lo == 10 &&
		 r[2].hi == 20 && r[3].lo == 999999999999999999LL);
	/* one more than max */
	T_EQ_INT(srv_seq_ranges("1-1,3-3,5-5,7-7,9-9", r, 4, &n), -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (srv_seq_ranges(bad[i], r, 4, &n) != -1)
			T_FAIL_AT("skip '%s' was taken", bad[i]);
}

/* A push answer's "seqs" noted for the pull's skip (seqs.c): joined
 * when they follow, left out when they do not read as ascending ranges
 * of whole numbers, or do not fit. */
static void test_seqs_note(void)
{
	struct cb_seqs k;
	cJSON *j;
	int i;

	memset(&k, 0, sizeof(k));
	j = cJSON_Parse("[[3,5],[6,9],[12,12]]");
	cb_seqs_note(&k, j);
	cJSON_Delete(j);
	T_EQ_INT((int)k.n, 2);
	T_ASSERT(k.r[0].lo == 3 && k.r[0].hi == 9 && k.r[1].lo == 12);
	/* the next answer follows on; a range going back stops the rest */
	j = cJSON_Parse("[[13,20],[30,31],[25,26],[40,41]]");
	cb_seqs_note(&k, j);
	cJSON_Delete(j);
	T_EQ_INT((int)k.n, 3);
	T_ASSERT(k.r[1].hi == 20 && k.r[2].lo == 30 && k.r[2].hi == 31);
	/* not ranges of whole numbers from 1: nothing taken */
	for (i = 0; i < 6; i++) {
		static const char *const bad[] = {"[[50.5,51]]",   "[[0,51]]",
						  "[[52,51]]",	   "[[50]]",
						  "[[\"50\",51]]", "{\"a\":1}"};

		j = cJSON_Parse(bad[i]);
		cb_seqs_note(&k, j);
		cJSON_Delete(j);
	}
	cb_seqs_note(&k, NULL);
	T_EQ_INT((int)k.n, 3);
	/* no more than CB_SEQS_MAX ranges */
	for (i = 0; i < 100; i++) {
		char t[64];

		snprintf(t, sizeof(t), "[[%d,%d]]", 100 + 2 * i, 100 + 2 * i);
		j = cJSON_Parse(t);
		cb_seqs_note(&k, j);
		cJSON_Delete(j);
	}
	T_EQ_INT((int)k.n, CB_SEQS_MAX);
	T_ASSERT(k.r[CB_SEQS_MAX - 1].lo == 100 + 2 * (CB_SEQS_MAX - 4));
}

int main(void)
{
	T_RUN(test_seqs_note);
	T_RUN(test_seq_ranges);
	T_RUN(test_recent);
	T_RUN(test_incremental_is_rebuild);
	return t_done();
}
