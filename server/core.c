/*
 * core.c - the server's state and sync rules (core.h has the rules).
 */
#include "core.h"

#include "check.h"
#include "clock.h"
#include "event.h"
#include "hlc.h"
#include "json.h"
#include "recent.h"
#include "record.h"
#include "slots.h"
#include "srv.h"
#include "summary.h"
#include "buf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the server key ---------------------------------------------------- */

/* The store's key into c->key and its public half into c->server_key,
 * making one when missing. */
static void load_server_key(struct srv_core *c)
{
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	rc = srv_store_key_load(c->store, &c->key, &err);
	if (rc == CB_ENOTFOUND && !srv_store_key_create(c->store, &err))
		rc = srv_store_key_load(c->store, &c->key, &err);
	if (!rc && cb_hex_encode(c->key.pk, CB_SIGN_PUBLIC_BYTES, c->server_key,
				 sizeof(c->server_key), &err))
		rc = -1;
	if (rc) {
		cb_sign_keypair_release(&c->key);
		c->server_key[0] = '\0';
	}
}

/* ---- opening ------------------------------------------------------------- */

struct srv_reader {
	struct srv_store *s;
	struct srv_reader *next;      /* every reader */
	struct srv_reader *next_idle; /* the idle ones */
};

int srv_core_open(struct srv_core *c, const char *dir, struct cb_err *err)
{
	struct cb_protocol_problems problems;
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	pthread_mutex_init(&c->write_lock, NULL);
	pthread_mutex_init(&c->group_mu, NULL);
	pthread_cond_init(&c->group_cv, NULL);
	pthread_mutex_init(&c->nonce_lock, NULL);
	pthread_mutex_init(&c->readers_lock, NULL);
	pthread_cond_init(&c->readers_cv, NULL);
	c->ready = 1;
	rc = srv_store_open(dir, &c->store, err);
	if (!rc)
		rc = srv_store_study(c->store, &c->study, &c->proto_text,
				     &c->proto_len, &c->proto_sha256, err);
	if (!rc)
		rc = srv_store_id(c->store, c->store_id, err);
	if (!rc)
		rc = srv_cache_new(SRV_CACHE_EVENTS, &c->cache, err);
	if (rc)
		return rc;
	cb_protocol_problems_init(&problems);
	rc = cb_protocol_load_json(c->proto_text, c->proto_len, "protocol",
				   &c->proto, &problems, err);
	cb_protocol_problems_release(&problems);
	if (rc)
		return cb_err_prefix(err, "stored protocol: ");
	load_server_key(c);
	/* An upgrade (or a rebuild cut short) left the derived tables to
	 * be made again from the events. */
	if (srv_store_stale(c->store))
		rc = srv_core_rebuild(c, NULL, err);
	return rc;
}

void srv_core_close(struct srv_core *c)
{
	struct srv_reader *r, *next;

	for (r = c->readers; r; r = next) {
		next = r->next;
		srv_store_close(r->s);
		free(r);
	}
	srv_nonces_close(c->nonces);
	srv_cache_free(c->cache);
	srv_recent_free(c->recent);
	srv_store_close(c->store);
	cb_protocol_free(c->proto);
	free(c->study);
	free(c->proto_text);
	free(c->proto_sha256);
	cb_sign_keypair_release(&c->key);
	if (c->ready) {
		pthread_mutex_destroy(&c->write_lock);
		pthread_mutex_destroy(&c->group_mu);
		pthread_cond_destroy(&c->group_cv);
		pthread_mutex_destroy(&c->nonce_lock);
		pthread_mutex_destroy(&c->readers_lock);
		pthread_cond_destroy(&c->readers_cv);
	}
	memset(c, 0, sizeof(*c));
}

int srv_core_recent(struct srv_core *c, size_t max_bytes, struct cb_err *err)
{
	/* Only this process writes the store (the data directory's lock),
	 * and it numbers events as it stores them. */
	if (!srv_store_one_writer(c->store) || !srv_store_seq_free(c->store) ||
	    c->recent)
		return 0;
	c->recent = srv_recent_new(max_bytes);
	return c->recent ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
}

int srv_core_reader(struct srv_core *c, struct srv_store **out,
		    struct cb_err *err)
{
	struct srv_reader *r;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&c->readers_lock);
	while (!c->idle && c->nreaders >= SRV_READERS_MAX)
		pthread_cond_wait(&c->readers_cv, &c->readers_lock);
	r = c->idle;
	if (r) {
		c->idle = r->next_idle;
		pthread_mutex_unlock(&c->readers_lock);
		*out = r->s;
		return 0;
	}
	c->nreaders++; /* this one's place, while it opens */
	pthread_mutex_unlock(&c->readers_lock);
	r = calloc(1, sizeof(*r));
	rc = r ? srv_store_open_reader(c->dir, &r->s, err)
	       : cb_err_set(err, CB_ENOMEM, "out of memory");
	pthread_mutex_lock(&c->readers_lock);
	if (rc) {
		c->nreaders--;
		pthread_cond_signal(&c->readers_cv);
	} else {
		r->next = c->readers;
		c->readers = r;
	}
	pthread_mutex_unlock(&c->readers_lock);
	if (rc) {
		free(r);
		return rc;
	}
	*out = r->s;
	return 0;
}

void srv_core_reader_done(struct srv_core *c, struct srv_store *s)
{
	struct srv_reader *r;

	if (!s)
		return;
	pthread_mutex_lock(&c->readers_lock);
	for (r = c->readers; r && r->s != s; r = r->next)
		;
	if (r) {
		r->next_idle = c->idle;
		c->idle = r;
		pthread_cond_signal(&c->readers_cv);
	}
	pthread_mutex_unlock(&c->readers_lock);
}

/* ---- a subject's events and derived state ------------------------------ */

static int load_event(const struct srv_event_row *row, void *ctx)
{
	struct cb_merge *m = ctx;
	struct cb_event ev;
	struct cb_err err;
	int rc;

	cb_event_init(&ev);
	rc = cb_event_parse(row->json, row->json_len, &ev, &err);
	if (!rc)
		rc = cb_merge_take(m, &ev, NULL, NULL, &err);
	cb_event_release(&ev);
	/* A stored event that no longer parses is corruption: stop. */
	return rc ? CB_EINTEGRITY : 0;
}

/*
 * A new merge state of `subject` from its stored events (all of them,
 * or without those carrying unblinded items), on connection `s`.
 */
static int subject_load(struct srv_store *s, const char *subject, int unblinded,
			struct cb_merge **out, struct cb_err *err)
{
	struct cb_merge *m = NULL;
	int rc;

	*out = NULL;
	rc = cb_merge_new(&m, err);
	if (!rc)
		rc = srv_store_subject_events(s, subject, unblinded, load_event,
					      m, err);
	if (rc == CB_EINTEGRITY && !err->code)
		cb_err_set(err, CB_EINTEGRITY,
			   "central store: a stored event of subject %s does "
			   "not parse",
			   subject);
	if (rc) {
		cb_merge_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* Write the summary of `subject` from its merge state. */
static int summary_write(struct srv_core *c, struct cb_merge *m,
			 const char *subject, struct cb_err *err)
{
	struct cb_summary sum;
	int rc;

	cb_summary_init(&sum);
	rc = cb_summary_compute(c->proto, m, subject, &sum, err);
	if (!rc)
		rc = srv_store_summary_put(c->store, &sum, err);
	cb_summary_release(&sum);
	return rc;
}

static int mark_slot(const struct cb_event *ev, void *ctx)
{
	void **a = ctx;

	if (strcmp(ev->kind, CB_KIND_RANDOMIZE))
		return 0;
	return srv_slots_mark(a[0], ev, a[1]);
}

struct rebuild {
	struct srv_core *c;
	long nevents;
	struct cb_err *err;
};

static int rebuild_one(const char *subject, const char *site, void *ctx)
{
	struct rebuild *r = ctx;
	struct cb_merge *m = NULL;
	void *slot_ctx[2];
	int rc;

	(void)site;
	rc = subject_load(r->c->store, subject, 1, &m, r->err);
	if (!rc)
		rc = srv_store_derive_subject(r->c->store, m, subject, r->err);
	if (!rc)
		rc = summary_write(r->c, m, subject, r->err);
	/* Which slots are used follows from the randomize events. */
	slot_ctx[0] = r->c->store;
	slot_ctx[1] = r->err;
	if (!rc)
		rc = cb_merge_each_event(m, subject, mark_slot, slot_ctx);
	if (m)
		r->nevents += (long)cb_merge_count(m);
	cb_merge_free(m);
	return rc;
}

int srv_core_rebuild(struct srv_core *c, long *nevents, struct cb_err *err)
{
	struct rebuild r = {c, 0, err};
	int rc;

	pthread_mutex_lock(&c->write_lock);
	srv_cache_clear(c->cache);
	rc = srv_store_begin_exclusive(c->store, err);
	if (!rc)
		rc = srv_store_derived_clear(c->store, err);
	if (!rc)
		rc = srv_slots_clear_used(c->store, err);
	if (!rc)
		rc = srv_store_subject_names(c->store, NULL, rebuild_one, &r,
					     err);
	if (!rc)
		rc = srv_store_stale_clear(c->store, err);
	if (rc && !err->code)
		cb_err_set(err, rc, "rebuild: %s", cb_err_name(rc));
	if (!rc)
		rc = srv_store_commit(c->store, err);
	else
		srv_store_rollback(c->store);
	pthread_mutex_unlock(&c->write_lock);
	if (nevents)
		*nevents = r.nevents;
	return rc;
}

/*
 * The subjects a push touches, with their merge states (held by the
 * cache, which is trimmed only once the batch is over).
 */
struct batch {
	struct touched {
		char subject[CB_EVENT_NAME_MAX + 1];
		struct cb_merge *m;
		int changed; /* an event of it was accepted */
	} * list;
	size_t n, cap;
};

/* Note that the subject of merge state `m` gained an event. */
static void batch_changed(struct batch *b, const struct cb_merge *m)
{
	size_t i;

	for (i = b->n; i-- > 0;)
		if (b->list[i].m == m)
			b->list[i].changed = 1;
}

/*
 * The merge state of `subject` for this batch: one the batch uses
 * already, one cached and current (the store counts as many events of
 * the subject as it holds: no other writer has added any), or one
 * loaded from the store now.
 */
static int subject_state(struct srv_core *c, struct batch *b,
			 const char *subject, struct cb_merge **out,
			 struct cb_err *err)
{
	struct cb_merge *m;
	int64_t n = 0;
	size_t i;
	int rc;

	for (i = b->n; i-- > 0;)
		if (!strcmp(b->list[i].subject, subject)) {
			*out = b->list[i].m;
			return 0;
		}
	rc = cb_array_grow((void **)&b->list, &b->cap, b->n + 1,
			   sizeof(*b->list), SRV_PUSH_MAX_EVENTS + 1,
			   "subjects of a push", err);
	if (rc)
		return rc;
	m = srv_cache_get(c->cache, subject);
	if (m) {
		rc = srv_store_subject_nevents(c->store, subject, &n, err);
		if (rc)
			return rc;
		if ((size_t)n != cb_merge_count(m)) {
			srv_cache_drop(c->cache, subject);
			m = NULL;
		}
	}
	if (!m) {
		rc = subject_load(c->store, subject, 1, &m, err);
		if (!rc)
			rc = srv_cache_put(c->cache, subject, m, err);
		if (rc)
			return rc;
	}
	snprintf(b->list[b->n].subject, sizeof(b->list[b->n].subject), "%s",
		 subject);
	b->list[b->n].changed = 0;
	b->list[b->n++].m = m;
	*out = m;
	return 0;
}

/* 1 when the event changes an item the protocol marks "unblinded". */
static int event_unblinded(const struct cb_protocol *p,
			   const struct cb_event *ev)
{
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *it;
	size_t i;

	if (!ev->form || !ev->form[0])
		return 0;
	f = cb_protocol_find_form(p, ev->form);
	for (i = 0; f && i < ev->nchanges; i++) {
		it = cb_protocol_find_item(f, ev->changes[i].item);
		if (it && it->unblinded)
			return 1;
	}
	return 0;
}

/* What became of a pushed event (docs/api.md). */
enum push_status {
	PUSH_UNDECIDED,
	PUSH_ACCEPTED,
	PUSH_DUPLICATE,
	PUSH_REJECTED,
};

static const char *const push_status_name[] = {"undecided", "accepted",
					       "duplicate", "rejected"};

/* One event's outcome, and what is needed to store it. */
struct push_item {
	const cJSON *json;  /* the event as sent */
	char *text;	    /* as it will be stored, or NULL (see pretext) */
	size_t at;	    /* where received_at's value is in text */
	struct cb_event ev; /* as parsed; emptied when the merge takes it */
	const struct cb_event *filed; /* the merge state's, once accepted */
	struct cb_merge *m;	      /* its subject's, once accepted */
	/* The event's id, for the reply: built after the lock is released,
	 * when `filed` may be gone (the cache may free its merge state). */
	char id[CB_EVENT_ID_HEX + 1];
	int64_t seq; /* its number in the store once stored (SQLite) or
			committed (PostgreSQL, job_seqs); else 0 */
	int parsed;
	int decided; /* push_decide ran on it (job_reset) */
	int fail;    /* the precheck failed for the server's own reason */
	enum push_status status;
	const char *code; /* rejection code */
	char msg[CB_ERR_MSG_MAX];
	cJSON *checks; /* hard edit-check failures, or NULL */
};

static void reject(struct push_item *pi, const char *code,
		   const struct cb_err *err)
{
	pi->status = PUSH_REJECTED;
	pi->code = code;
	snprintf(pi->msg, sizeof(pi->msg), "%s", err->msg);
}

/*
 * Print the event as it will be stored, with a stand-in received_at that
 * store_event overwrites in place (the same length) once the time is
 * known, so the printing runs in the parallel precheck instead of under
 * the lock. Left NULL when the stand-in is not found exactly once;
 * store_event prints the event itself then.
 */
#define RECEIVED_STANDIN "2000-01-01T00:00:00.000Z"
#define RECEIVED_KEY "\"received_at\":\""

static void pretext(struct push_item *pi)
{
	static const char key[] = RECEIVED_KEY RECEIVED_STANDIN "\"";
	char *text = NULL, *hit = NULL;
	struct cb_err err;

	memcpy(pi->ev.received_at, RECEIVED_STANDIN, CB_EVENT_TIME_LEN + 1);
	if (!cb_event_print(&pi->ev, &text, &err))
		hit = strstr(text, key);
	if (hit && !strstr(hit + 1, key)) {
		pi->text = text;
		pi->at = (size_t)(hit - text) + strlen(RECEIVED_KEY);
	} else {
		free(text);
	}
	pi->ev.received_at[0] = '\0';
}

/* The event of `pi`: the merge state's once accepted, else as parsed. */
static const struct cb_event *item_event(const struct push_item *pi)
{
	return pi->filed ? pi->filed : &pi->ev;
}

/*
 * When `ev` was made by the later of its device's clocks: its wall time,
 * or the milliseconds of its hybrid logical clock, which never goes back
 * on a device (so a laptop whose clock was set back after it made later
 * events still shows them) and which runs ahead to any later event the
 * device has received. A time that does not parse gives INT64_MAX
 * (validation has already refused it).
 */
static int64_t made_at(const struct cb_event *ev)
{
	int64_t wall;
	uint64_t hlc;
	struct cb_err err;

	if (cb_clock_parse_utc(ev->wall, &wall, &err) ||
	    cb_hlc_parse(ev->hlc, &hlc, &err))
		return INT64_MAX;
	return (int64_t)(hlc >> 16) > wall ? (int64_t)(hlc >> 16) : wall;
}

/*
 * An event stamped further ahead of this server's clock than the bound
 * of hlc.h, by its logical or its wall clock, is refused: taken in, it
 * would drag the clock of every device that pulls it into the future
 * (or exhaust it). Its device keeps it queued and sends it again; once
 * the server's time has caught up it is accepted (docs/api.md).
 */
static int clock_ahead(const struct cb_event *ev, struct cb_err *err)
{
	int64_t now = cb_clock_now_ms(), wall = 0;
	uint64_t hlc = 0;
	int64_t ahead;

	if (cb_hlc_parse(ev->hlc, &hlc, err) ||
	    cb_clock_parse_utc(ev->wall, &wall, err))
		return CB_EINVAL;
	if (!cb_hlc_too_far(hlc, now) &&
	    !cb_hlc_too_far(cb_hlc_make(wall, 0), now))
		return 0;
	ahead = cb_hlc_ms(hlc) > wall ? cb_hlc_ms(hlc) : wall;
	ahead -= now;
	return cb_err_set(err, CB_EINVAL,
			  "$.hlc: the event was stamped %lld h ahead of the "
			  "server's clock, over the %lld h a device's clock "
			  "may run ahead; it stays queued on its device and "
			  "is taken once the server's time reaches it (check "
			  "that device's date and time)",
			  (long long)(ahead / 3600000),
			  (long long)(CB_HLC_AHEAD_MAX_MS / 3600000));
}

/* Everything that needs neither the store nor the merge state. */
/*
 * An event a precheck refuses is rejected for what it is; but a failure
 * of the server's own (out of memory while reading or verifying it)
 * says nothing of the event: the push fails instead (pi->fail), and the
 * device sends the event again, where a rejection would keep it off the
 * record for good (t_inject_srv: a bundle's event "rejected: out of
 * memory").
 */
static void precheck_refuse(struct push_item *pi, const char *code,
			    const struct cb_err *err)
{
	if (err->code == CB_ENOMEM) {
		pi->fail = CB_ENOMEM;
		return;
	}
	reject(pi, code, err);
}

static void push_precheck(const struct srv_device *dev, const cJSON *item,
			  struct push_item *pi)
{
	struct cb_err err;

	cb_err_clear(&err);
	if (cb_event_from_json(item, &pi->ev, &err)) {
		precheck_refuse(pi, "invalid", &err);
		return;
	}
	pi->parsed = 1;
	memcpy(pi->id, pi->ev.id, sizeof(pi->id));
	if (strcmp(pi->ev.device, dev->id)) {
		cb_err_set(&err, CB_EFORBIDDEN,
			   "$.device: the event names device %s, not the "
			   "caller",
			   pi->ev.device);
		reject(pi, "forbidden", &err);
		return;
	}
	if (cb_event_verify(&pi->ev, dev->pk, &err)) {
		precheck_refuse(pi, "signature", &err);
		return;
	}
	if (dev->site[0] && strcmp(pi->ev.site, dev->site)) {
		cb_err_set(&err, CB_EFORBIDDEN,
			   "$.site: a device of site %s cannot write site %s",
			   dev->site, pi->ev.site);
		reject(pi, "site", &err);
		return;
	}
	if (clock_ahead(&pi->ev, &err)) {
		reject(pi, "clock", &err);
		return;
	}
	pretext(pi);
	pi->status = PUSH_UNDECIDED;
}

/*
 * The prechecks of one batch, shared by the pushing thread and helper
 * threads. Signature verification is most of the work of a push and
 * needs neither the lock nor the store (only the protocol, read-only),
 * so helpers verify events, in batch order, while the pushing thread
 * decides and stores the ones already verified under the lock: on a
 * machine with several processors the two overlap. Each event is
 * claimed by exactly one thread and its outcome lands in its own
 * push_item; the pushing thread claims an event itself rather than wait
 * for it (or verifies a later one while it waits), so nothing depends
 * on a helper having started and no processor sits idle.
 */
#define PRECHECK_MIN_EVENTS 32 /* fewer: no helpers */
#define PRECHECK_HELPERS_MAX 7

struct precheck {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct srv_device *dev;
	struct push_item *items;
	unsigned char *done; /* per event: prechecked */
	size_t n, next;	     /* next: first event nobody has claimed */
	int stop;	     /* the batch failed: claim no more */
	pthread_t tid[PRECHECK_HELPERS_MAX];
	size_t nhelpers;
};

/* Claim the next event (index in *i); 0 when none is left. */
static int precheck_claim(struct precheck *p, size_t *i)
{
	int ok;

	pthread_mutex_lock(&p->lock);
	ok = !p->stop && p->next < p->n;
	if (ok)
		*i = p->next++;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

static void precheck_one(struct precheck *p, size_t i)
{
	push_precheck(p->dev, p->items[i].json, &p->items[i]);
	pthread_mutex_lock(&p->lock);
	p->done[i] = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void *precheck_helper(void *arg)
{
	struct precheck *p = arg;
	size_t i;

	while (precheck_claim(p, &i))
		precheck_one(p, i);
	return NULL;
}

/* Start the helpers, one per further processor. CB_ENOMEM. */
static int precheck_start(struct precheck *p, const struct srv_device *dev,
			  struct push_item *items, size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = cpus > 1 ? (size_t)cpus - 1 : 0;

	memset(p, 0, sizeof(*p));
	p->done = calloc(n ? n : 1, 1);
	if (!p->done)
		return CB_ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->dev = dev;
	p->items = items;
	p->n = n;
	if (want > PRECHECK_HELPERS_MAX)
		want = PRECHECK_HELPERS_MAX;
	if (n < PRECHECK_MIN_EVENTS)
		want = 0;
	while (p->nhelpers < want &&
	       !pthread_create(&p->tid[p->nhelpers], NULL, precheck_helper, p))
		p->nhelpers++;
	return 0;
}

/*
 * Wait until event i is prechecked. Rather than sit idle, precheck the
 * next unclaimed event meanwhile (claims go in order, so when i itself
 * is unclaimed this reaches it).
 */
static void precheck_wait(struct precheck *p, size_t i)
{
	pthread_mutex_lock(&p->lock);
	while (!p->done[i]) {
		if (p->next < p->n) {
			size_t j = p->next++;

			pthread_mutex_unlock(&p->lock);
			precheck_one(p, j);
			pthread_mutex_lock(&p->lock);
		} else {
			pthread_cond_wait(&p->cond, &p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

/* Stop claiming, join the helpers, free. */
static void precheck_finish(struct precheck *p)
{
	size_t k;

	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_mutex_unlock(&p->lock);
	for (k = 0; k < p->nhelpers; k++)
		pthread_join(p->tid[k], NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->done);
}

/* Hard failures of a save as [{"id","item","message"}]. */
static cJSON *hard_failures(const struct cb_check_results *res)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a && i < res->count; i++) {
		const struct cb_check_result *r = &res->list[i];
		cJSON *o;

		if (r->severity != CB_SEVERITY_HARD)
			continue;
		o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddStringToObject(o, "id", r->id);
		cJSON_AddStringToObject(o, "item", r->path);
		cJSON_AddStringToObject(o, "message",
					r->message ? r->message : "");
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

/* Same id: same signed content (duplicate) or not (rejected). */
static int same_event(const struct cb_event *a, const struct cb_event *b)
{
	char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	struct cb_err err;
	int same;

	if (cb_event_signing_bytes(a, &x, &xl, &err) ||
	    cb_event_signing_bytes(b, &y, &yl, &err)) {
		free(x);
		return 0;
	}
	same = xl == yl && !memcmp(x, y, xl) && !strcmp(a->sig, b->sig);
	free(x);
	free(y);
	return same;
}

/*
 * A device that created a subject the server already held (a laptop
 * restored from an older backup issues an id again) believes the id is
 * a new patient: everything it writes about that id from then on is
 * refused, so the new patient's data never lands on the other's record.
 * 1 with the reason in err when `ev` is such an event; 0; or a store
 * error.
 */
static int check_reuse(struct srv_core *c, const struct srv_device *dev,
		       const struct cb_event *ev, struct cb_err *err)
{
	char since[CB_EVENT_HLC_HEX + 1];
	int rc;

	rc = srv_store_reuse_get(c->store, ev->subject, dev->id, since, err);
	if (rc || !since[0] || strcmp(ev->hlc, since) < 0)
		return rc;
	cb_err_set(err, CB_ECONFLICT,
		   "$.subject: this device created subject %s again after the "
		   "server already held it (was the laptop restored from an "
		   "older backup?); what it records about that id since is "
		   "another patient and is kept off the record: the data "
		   "manager re-enters it under a new subject id",
		   ev->subject);
	return 1;
}

/*
 * The event stored with the id of `ev`, when there is one: 1 for the same
 * signed content (a duplicate), 2 for other content, 0 for none; or a
 * store error.
 */
static int stored_twin(struct srv_core *c, const struct cb_event *ev,
		       struct cb_err *err)
{
	struct cb_event old;
	char *json = NULL;
	size_t len = 0;
	int rc, same;

	rc = srv_store_event_get(c->store, ev->id, &json, &len, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	cb_event_init(&old);
	rc = cb_event_parse(json, len, &old, err);
	free(json);
	if (rc) {
		cb_event_release(&old);
		return cb_err_set(err, CB_EINTEGRITY,
				  "central store: stored event %s does not "
				  "parse",
				  ev->id);
	}
	same = same_event(&old, ev);
	cb_event_release(&old);
	return same ? 1 : 2;
}

/*
 * The person who made `ev` must be one the administrator registered
 * (store.h), not disabled when the event was made, and one the device
 * may hold: a person of the device's site with a site role on a site
 * device, a person of the device's role on a central device. The
 * person's role, not the device's, is then the role the event is judged
 * by (*role, SRV_ROLE_MAX + 1 bytes). A disabled person's event made
 * before the disabling is theirs to have made, but only while it arrives
 * in the device's order: once the device has sent an event stamped later
 * (`seen`, the highest hlc stored from it), an older one of a disabled
 * person is a back-dated one. 1 with the reason in err when the event is
 * refused; 0; or a store error.
 */
static int check_person(struct srv_core *c, const struct srv_device *dev,
			const struct cb_event *ev, const char *seen, char *role,
			struct cb_err *err)
{
	struct srv_user u;
	int rc;

	rc = srv_store_user_get(c->store, ev->user, &u, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_set(err, CB_EFORBIDDEN,
			   "$.user: %s is not a person registered with the "
			   "server (the administrator adds people with "
			   "'casebookd user add')",
			   ev->user);
		return 1;
	}
	if (rc)
		return rc;
	if (u.disabled_ms && made_at(ev) >= u.disabled_ms) {
		char when[CB_CLOCK_UTC_BUF];

		cb_clock_format_utc(u.disabled_ms, when);
		cb_err_set(err, CB_EFORBIDDEN,
			   "$.user: %s was disabled at %s, before this event "
			   "was made",
			   ev->user, when);
		return 1;
	}
	if (u.disabled_ms && strcmp(ev->hlc, seen) < 0) {
		char when[CB_CLOCK_UTC_BUF];

		cb_clock_format_utc(u.disabled_ms, when);
		cb_err_set(err, CB_EFORBIDDEN,
			   "$.user: %s was disabled at %s; this event is "
			   "stamped before events device %s has already sent",
			   ev->user, when, dev->id);
		return 1;
	}
	if (dev->site[0] ? strcmp(u.site, dev->site) || !cb_role_is_site(u.role)
			 : strcmp(u.role, dev->role) != 0) {
		cb_err_set(err, CB_EFORBIDDEN,
			   "$.user: %s is %s%s%s and may not work on device "
			   "%s (%s%s%s)",
			   ev->user, u.role, u.site[0] ? " at " : "", u.site,
			   dev->id, dev->role, dev->site[0] ? " at " : "",
			   dev->site);
		return 1;
	}
	memcpy(role, u.role, SRV_ROLE_MAX + 1);
	return 0;
}

/*
 * The decisions that read the store, under the writer's lock and inside
 * the batch's transaction. Returns non-zero only for a store failure
 * (which fails the whole batch).
 */
static int push_decide(struct srv_core *c, const struct srv_device *dev,
		       struct batch *b, struct push_item *pi,
		       const char *now_text, const char *seen,
		       struct cb_err *ferr)
{
	struct cb_event *ev = &pi->ev;
	struct cb_merge *m = NULL;
	char role[SRV_ROLE_MAX + 1];
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	rc = stored_twin(c, ev, ferr);
	if (rc == 1) {
		pi->status = PUSH_DUPLICATE;
		return 0;
	}
	if (rc == 2) {
		cb_err_set(&err, CB_ECONFLICT,
			   "$.id: another event with id %s is already stored",
			   ev->id);
		reject(pi, "conflict", &err);
		return 0;
	}
	if (rc)
		return rc;
	if (dev->revoked_ms && made_at(ev) > dev->revoked_ms) {
		/* Only a hand-over brings a revoked device's events here:
		 * what it made once revoked is not taken (what the server
		 * already holds stays a duplicate, above). */
		char when[CB_CLOCK_UTC_BUF], made[CB_CLOCK_UTC_BUF];
		int64_t at = made_at(ev);

		cb_clock_format_utc(dev->revoked_ms, when);
		if (at == INT64_MAX)
			snprintf(made, sizeof(made), "%s", ev->wall);
		else
			cb_clock_format_utc(at, made);
		cb_err_set(&err, CB_EFORBIDDEN,
			   "$.hlc: made at %s by the later of its wall and "
			   "logical clocks, after device %s was revoked (%s)",
			   made, dev->id, when);
		reject(pi, "revoked", &err);
		return 0;
	}
	rc = check_person(c, dev, ev, seen, role, &err);
	if (rc == 1) {
		reject(pi, "user", &err);
		return 0;
	}
	if (rc) {
		*ferr = err;
		return rc;
	}
	rc = check_reuse(c, dev, ev, &err);
	if (rc == 1) {
		reject(pi, "reused", &err);
		return 0;
	}
	if (rc) {
		*ferr = err;
		return rc;
	}
	rc = subject_state(c, b, ev->subject, &m, ferr);
	if (rc)
		return rc;
	{
		struct cb_record_writer w = {role, dev->site,
					     dev->device_index};
		struct cb_check_results res;
		const char *code = NULL;

		cb_check_results_init(&res);
		rc = cb_record_check_event(c->proto, m, &w, ev, &res, &code,
					   &err);
		if (rc == CB_ECHECK)
			pi->checks = hard_failures(&res);
		cb_check_results_release(&res);
		if (rc && !code) {
			*ferr = err;
			return rc;
		}
		if (rc == CB_EEXIST && !strcmp(code, "exists")) {
			/* The device issued the id again: keep what it
			 * writes next about "its" subject off the record. */
			struct cb_err serr;

			rc = srv_store_reuse_add(c->store, ev->subject, dev->id,
						 ev->hlc, &serr);
			if (rc) {
				*ferr = serr;
				return rc;
			}
			rc = CB_EEXIST;
		}
		if (rc) {
			reject(pi, code, &err);
			return 0;
		}
	}
	if (!strcmp(ev->kind, CB_KIND_RANDOMIZE)) {
		const char *code = "slot";

		rc = srv_slots_check(c->store, c->proto, m, dev, ev, &code,
				     &err);
		if (rc == CB_EIO || rc == CB_EBUSY || rc == CB_ENOMEM) {
			*ferr = err;
			return rc;
		}
		if (rc) {
			reject(pi, code, &err);
			return 0;
		}
	}
	memcpy(ev->received_at, now_text, CB_EVENT_TIME_LEN);
	ev->received_at[CB_EVENT_TIME_LEN] = '\0';
	/* The merge state takes the parsed event over: no copy. */
	rc = cb_merge_take(m, ev, &pi->filed, NULL, &err);
	if (rc == CB_ENOMEM) {
		*ferr = err;
		return rc;
	}
	if (rc) {
		pi->filed = NULL;
		reject(pi, "invalid", &err);
		return 0;
	}
	if (!strcmp(pi->filed->kind, CB_KIND_RANDOMIZE)) {
		rc = srv_slots_mark(c->store, pi->filed, &err);
		if (rc) {
			*ferr = err;
			return rc;
		}
	}
	pi->m = m;
	pi->status = PUSH_ACCEPTED;
	return 0;
}

static int store_event(struct srv_core *c, struct push_item *pi,
		       struct cb_err *err)
{
	const struct cb_event *ev = item_event(pi);
	struct srv_event_row row;
	char *json = NULL;
	int rc = 0;

	if (pi->text) {
		json = pi->text;
		pi->text = NULL;
		memcpy(json + pi->at, ev->received_at, CB_EVENT_TIME_LEN);
	} else {
		rc = cb_event_print(ev, &json, err);
	}
	if (rc)
		return rc;
	memset(&row, 0, sizeof(row));
	row.id = ev->id;
	row.device = ev->device;
	row.site = ev->site;
	row.subject = ev->subject;
	row.kind = ev->kind;
	row.unblinded = event_unblinded(c->proto, ev);
	row.json = json;
	row.json_len = strlen(json);
	row.received_at = ev->received_at;
	pi->seq = 0;
	rc = srv_store_event_add(c->store, &row,
				 srv_store_seq_free(c->store) ? &pi->seq : NULL,
				 err);
	/* pending for pulls until the commit; a failure empties the ring */
	if (!rc && c->recent)
		srv_recent_add(c->recent, pi->seq, ev->site, row.unblinded,
			       json, row.json_len);
	free(json);
	return rc;
}

/*
 * Store an accepted event and bring the derived rows it changes up to
 * date: only what it touched (srv_store_derive_event), so a batch costs
 * the same however many events the server holds. Rows touched again by
 * a later event of the batch are written again, so each ends as the
 * whole batch leaves it.
 */
static int push_store(struct srv_core *c, struct push_item *pi,
		      struct cb_err *err)
{
	int rc = store_event(c, pi, err);

	return rc ? rc
		  : srv_store_derive_event(c->store, pi->m, item_event(pi),
					   err);
}

/* The result entry of one event; takes over pi->checks. */
static cJSON *push_result(const cJSON *item, size_t index, struct push_item *pi)
{
	cJSON *o = cJSON_CreateObject();
	const char *id = pi->parsed ? pi->id : cb_json_str(item, "id");

	int ok;

	if (!o)
		return NULL;
	/* A result missing a member would tell the device something else
	 * than what happened: all of it, or NULL (out of memory). */
	ok = cJSON_AddNumberToObject(o, "index", (double)index) &&
	     (id ? cJSON_AddStringToObject(o, "id", id)
		 : cJSON_AddNullToObject(o, "id")) &&
	     cJSON_AddStringToObject(o, "status", push_status_name[pi->status]);
	if (ok && pi->status == PUSH_REJECTED) {
		ok = cJSON_AddStringToObject(o, "code", pi->code) &&
		     cJSON_AddStringToObject(o, "reason", pi->msg);
		if (ok && pi->checks) {
			ok = cJSON_AddItemToObject(o, "checks", pi->checks);
			if (ok)
				pi->checks = NULL;
		}
	}
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/*
 * "seqs": the numbers the store gave this push's accepted events, as
 * ranges [first, last] in order, when the store tells them (left out
 * otherwise). The device holds those events, so its next pull may skip
 * them (srv_core_pull): most of what a laptop pulls after its own push
 * would be its own events coming back. CB_ENOMEM.
 */
static int seq_range_add(cJSON **list, cJSON *out, int64_t lo, int64_t hi)
{
	cJSON *r;

	if (!*list && !(*list = cJSON_AddArrayToObject(out, "seqs")))
		return CB_ENOMEM;
	r = cJSON_CreateArray();
	if (!r || !cJSON_AddItemToArray(*list, r)) {
		cJSON_Delete(r);
		return CB_ENOMEM;
	}
	return cJSON_AddItemToArray(r, cJSON_CreateNumber((double)lo)) &&
		       cJSON_AddItemToArray(r, cJSON_CreateNumber((double)hi))
		   ? 0
		   : CB_ENOMEM;
}

static int push_seqs(cJSON *out, const struct push_item *items, size_t n)
{
	cJSON *list = NULL;
	int64_t lo = 0, hi = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int64_t s = items[i].seq;

		if (items[i].status != PUSH_ACCEPTED || s <= 0)
			continue;
		if (hi && s == hi + 1) {
			hi = s;
			continue;
		}
		if (hi && seq_range_add(&list, out, lo, hi))
			return CB_ENOMEM;
		lo = hi = s;
	}
	return hi ? seq_range_add(&list, out, lo, hi) : 0;
}

/* The answer of a push, from its decided items. */
static int push_reply(const struct srv_core *c, const cJSON *events,
		      struct push_item *items, cJSON **reply,
		      struct cb_err *err)
{
	long counts[4] = {0, 0, 0, 0};
	const cJSON *item;
	cJSON *out = cJSON_CreateObject();
	cJSON *results = out ? cJSON_AddArrayToObject(out, "results") : NULL;
	size_t i = 0;

	if (!results) {
		cJSON_Delete(out);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cJSON_ArrayForEach(item, events)
	{
		cJSON *r = push_result(item, i, &items[i]);

		if (!r) {
			cJSON_Delete(out);
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		}
		cJSON_AddItemToArray(results, r);
		counts[items[i].status]++;
		i++;
	}
	if (push_seqs(out, items, i)) {
		cJSON_Delete(out);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (!cJSON_AddNumberToObject(out, "accepted",
				     (double)counts[PUSH_ACCEPTED]) ||
	    !cJSON_AddNumberToObject(out, "duplicate",
				     (double)counts[PUSH_DUPLICATE]) ||
	    !cJSON_AddNumberToObject(out, "rejected",
				     (double)counts[PUSH_REJECTED]) ||
	    !cJSON_AddStringToObject(out, "store", c->store_id)) {
		cJSON_Delete(out);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	*reply = out;
	return 0;
}

/*
 * Group commit. An accepted event is on disk before its push is
 * answered, and making it so (an fsync of SQLite's WAL, PostgreSQL's
 * WAL flush) costs milliseconds whatever the transaction holds: one
 * transaction per push would bound the whole server at a few hundred
 * pushes a second, every device's push queued behind every other's
 * flush. So pushes that arrive while the writer is busy wait in a queue,
 * and the next writer takes every waiting push (up to
 * SRV_PUSH_MAX_EVENTS events in all) into one transaction: each push is
 * decided and stored as if it were alone, one after the other (sorted by
 * device), and one commit makes them all durable before
 * any is answered. The thread that finds the writer free leads the
 * group (it does the work of the others too); the others sleep until
 * their push is done.
 *
 * A group that fails (a store error, a deadlock with another process)
 * is rolled back whole, and each of its pushes is then tried again
 * alone, so one push's failure never fails another device's push.
 */
struct push_job {
	const struct srv_device *dev;
	const cJSON *events;
	struct push_item *items;
	size_t n;
	struct precheck *pre;
	int rc;
	struct cb_err err;
	int done;
	struct push_job *next; /* in the queue, then in its group */
};

/* Most pushes in one group (each is at least one event). */
#define GROUP_MAX_PUSHES 64

/*
 * Lock every subject the group's pushes name, in one sorted pass (store.h):
 * another process pushing one of them waits for this group, or this one
 * for it, and then sees its events; one order for all, so no two groups
 * wait on each other in a circle. An event whose subject is no string is
 * refused later anyway.
 */
static int lock_subjects(struct srv_core *c, struct push_job *const *jobs,
			 size_t k, struct cb_err *err)
{
	const char **subjects;
	const cJSON *item;
	size_t j, n = 0, total = 0;
	int rc;

	for (j = 0; j < k; j++)
		total += jobs[j]->n;
	subjects = calloc(total ? total : 1, sizeof(*subjects));
	if (!subjects)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (j = 0; j < k; j++)
		cJSON_ArrayForEach(item, jobs[j]->events)
		{
			const char *subject = cb_json_str(item, "subject");

			if (subject && n < total)
				subjects[n++] = subject;
		}
	rc = srv_store_lock_subjects(c->store, subjects, n, err);
	free(subjects);
	return rc;
}

/*
 * Decide and store the events of one push, inside the group's
 * transaction; `b` holds the merge states of the group's subjects.
 */
static int job_apply(struct srv_core *c, struct push_job *job, struct batch *b,
		     const char *now_text, struct cb_err *err)
{
	char seen[CB_EVENT_HLC_HEX + 1];
	struct srv_device fresh;
	struct push_item *items = job->items;
	size_t i;
	int rc;

	/* The highest clock stored from the device, as the store has it
	 * now (check_person), its row locked until commit: another
	 * process's push of this device waits, then sees what this one
	 * stored; a push of the same device earlier in the group is seen
	 * too. */
	rc = srv_store_device_lock(c->store, job->dev->id, &fresh, err);
	if (rc)
		return rc;
	memcpy(seen, fresh.max_hlc, sizeof(seen));
	for (i = 0; i < job->n && !rc; i++) {
		precheck_wait(job->pre, i);
		if (items[i].fail) {
			rc = cb_err_set(err, items[i].fail,
					"event %zu of the push: out of memory",
					i);
			break;
		}
		if (items[i].status == PUSH_UNDECIDED) {
			items[i].decided = 1;
			rc = push_decide(c, job->dev, b, &items[i], now_text,
					 seen, err);
		}
		if (!rc && items[i].status == PUSH_ACCEPTED) {
			const struct cb_event *ev = item_event(&items[i]);

			rc = push_store(c, &items[i], err);
			batch_changed(b, items[i].m);
			if (strcmp(ev->hlc, seen) > 0)
				memcpy(seen, ev->hlc, sizeof(seen));
		}
	}
	if (!rc && strcmp(seen, fresh.max_hlc) > 0)
		rc = srv_store_device_seen(c->store, job->dev->id, seen, err);
	return rc;
}

/* A monotonic clock in microseconds, for the writer's account. */
static long long mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* The numbers a job's accepted events were given at the commit. */
static void job_seqs(struct srv_core *c, struct push_job *job)
{
	size_t i;

	for (i = 0; i < job->n; i++) {
		struct push_item *pi = &job->items[i];

		if (pi->status == PUSH_ACCEPTED && pi->filed &&
		    srv_store_event_seq(c->store, pi->filed->id, &pi->seq))
			pi->seq = 0;
	}
}

/*
 * One transaction for the pushes of `jobs`, committed or rolled back.
 * Merge states the cache let go of are put on *gone, to be freed once the
 * write lock is free (cache.h).
 */
static int group_run(struct srv_core *c, struct push_job *const *jobs, size_t k,
		     struct srv_cache_entry **gone, struct cb_err *err)
{
	char now_text[CB_CLOCK_UTC_BUF];
	struct batch b = {NULL, 0, 0};
	long long t0, t1;
	size_t i;
	int rc;

	pthread_mutex_lock(&c->write_lock);
	t0 = mono_us();
	for (i = 0; i < k; i++)
		c->writer_events += (long long)jobs[i]->n;
	cb_clock_format_utc(cb_clock_now_ms(), now_text);
	rc = srv_store_begin(c->store, err);
	if (!rc)
		rc = lock_subjects(c, jobs, k, err);
	for (i = 0; i < k && !rc; i++)
		rc = job_apply(c, jobs[i], &b, now_text, err);
	/* Each subject the group changed: its summary, once. */
	for (i = 0; i < b.n && !rc; i++)
		if (b.list[i].changed)
			rc = summary_write(c, b.list[i].m, b.list[i].subject,
					   err);
	t1 = mono_us();
	if (!rc)
		rc = srv_store_commit(c->store, err);
	c->commit_us += mono_us() - t1;
	/* A store that numbers its events at the commit tells the numbers
	 * now, while the merge states that hold the ids are still here. */
	for (i = 0; i < k && !rc && !srv_store_seq_free(c->store); i++)
		job_seqs(c, jobs[i]);
	if (c->recent) {
		if (rc)
			srv_recent_abort(c->recent);
		else
			srv_recent_commit(c->recent);
	}
	if (rc) {
		srv_store_rollback(c->store);
		/* Their merge states hold events the store does not. */
		for (i = 0; i < b.n; i++)
			srv_cache_drop(c->cache, b.list[i].subject);
	} else {
		srv_cache_trim(c->cache, gone);
	}
	c->writer_us += mono_us() - t0;
	pthread_mutex_unlock(&c->write_lock);
	free(b.list);
	return rc;
}

void srv_core_writer_stats(struct srv_core *c, struct srv_writer_stats *out)
{
	pthread_mutex_lock(&c->group_mu);
	out->groups = c->groups;
	out->pushes = c->groups_pushes;
	out->split = c->groups_split;
	pthread_mutex_unlock(&c->group_mu);
	pthread_mutex_lock(&c->write_lock);
	out->events = c->writer_events;
	out->busy_ms = (double)c->writer_us / 1e3;
	out->commit_ms = (double)c->commit_us / 1e3;
	pthread_mutex_unlock(&c->write_lock);
}

/*
 * Make a push of a failed group as it was before the group decided it:
 * every event it decided undecided again and parsed again from what the
 * device sent (the merge state that took it over was dropped).
 */
static int job_reset(struct push_job *job, struct cb_err *err)
{
	size_t i;

	for (i = 0; i < job->n; i++) {
		struct push_item *pi = &job->items[i];

		if (pi->fail) {
			/* Its precheck, again. */
			pi->fail = 0;
			cb_event_release(&pi->ev);
			cb_event_init(&pi->ev);
			push_precheck(job->dev, pi->json, pi);
			continue;
		}
		if (!pi->decided)
			continue;
		pi->decided = 0;
		pi->status = PUSH_UNDECIDED;
		pi->code = NULL;
		pi->msg[0] = '\0';
		pi->filed = NULL;
		pi->m = NULL;
		pi->seq = 0;
		cJSON_Delete(pi->checks);
		pi->checks = NULL;
		free(pi->text);
		pi->text = NULL;
		cb_event_release(&pi->ev);
		cb_event_init(&pi->ev);
		if (cb_event_from_json(pi->json, &pi->ev, err))
			return err->code ? err->code : CB_ENOMEM;
	}
	return 0;
}

static int job_cmp(const void *a, const void *b)
{
	const struct push_job *x = *(struct push_job *const *)a;
	const struct push_job *y = *(struct push_job *const *)b;

	return strcmp(x->dev->id, y->dev->id);
}

/*
 * Run the group that starts at `head`; each push's outcome in its job.
 * 1 when the group failed and its pushes were tried again alone. The
 * merge states the cache let go of are put on *gone.
 */
static int group_push(struct srv_core *c, struct push_job *head,
		      struct srv_cache_entry **gone)
{
	struct push_job *jobs[GROUP_MAX_PUSHES] = {NULL}, *j;
	size_t i, k = 0;
	struct cb_err err;
	int rc;

	for (j = head; j && k < GROUP_MAX_PUSHES; j = j->next)
		jobs[k++] = j;
	/* Device rows are locked in one order in every process. Two pushes
	 * of one device in one group were in flight at once, so the device
	 * cannot rely on their order anyway. */
	qsort(jobs, k, sizeof(*jobs), job_cmp);
	cb_err_clear(&err);
	rc = group_run(c, jobs, k, gone, &err);
	if (!rc || k == 1) {
		for (i = 0; i < k; i++) {
			jobs[i]->rc = rc;
			jobs[i]->err = err;
		}
		return 0;
	}
	for (i = 0; i < k; i++) {
		cb_err_clear(&jobs[i]->err);
		rc = job_reset(jobs[i], &jobs[i]->err);
		if (!rc)
			rc = group_run(c, &jobs[i], 1, gone, &jobs[i]->err);
		jobs[i]->rc = rc;
	}
	return 1;
}

/*
 * Queue `job` and wait until a group has taken it, leading a group
 * whenever the writer is free.
 */
static void group_wait(struct srv_core *c, struct push_job *job)
{
	pthread_mutex_lock(&c->group_mu);
	if (c->queue_tail)
		c->queue_tail->next = job;
	else
		c->queue_head = job;
	c->queue_tail = job;
	while (!job->done) {
		struct push_job *head, *last, *j, *next;
		struct srv_cache_entry *gone = NULL;
		size_t events, k;
		int split;

		if (c->group_busy) {
			pthread_cond_wait(&c->group_cv, &c->group_mu);
			continue;
		}
		/* Take the waiting pushes, the first whatever its size. */
		head = last = c->queue_head;
		events = head->n;
		k = 1;
		while (last->next && k < GROUP_MAX_PUSHES &&
		       events + last->next->n <= SRV_PUSH_MAX_EVENTS) {
			last = last->next;
			events += last->n;
			k++;
		}
		c->queue_head = last->next;
		if (!c->queue_head)
			c->queue_tail = NULL;
		last->next = NULL;
		c->group_busy = 1;
		pthread_mutex_unlock(&c->group_mu);
		split = group_push(c, head, &gone);
		pthread_mutex_lock(&c->group_mu);
		c->groups++;
		c->groups_split += split;
		c->groups_pushes += (long)k;
		for (j = head; j; j = next) {
			next = j->next;
			j->done = 1;
		}
		c->group_busy = 0;
		pthread_cond_broadcast(&c->group_cv);
		/* The next group runs (and the group's pushes are answered)
		 * while this thread frees what the cache let go of. */
		if (gone) {
			pthread_mutex_unlock(&c->group_mu);
			srv_cache_release(gone);
			pthread_mutex_lock(&c->group_mu);
		}
	}
	pthread_mutex_unlock(&c->group_mu);
}

int srv_core_push(struct srv_core *c, const struct srv_device *dev,
		  const cJSON *events, cJSON **reply, struct cb_err *err)
{
	struct precheck pre;
	struct push_item *items;
	struct push_job job;
	const cJSON *item;
	size_t i, n = (size_t)cJSON_GetArraySize(events);
	int rc = 0;

	*reply = NULL;
	items = calloc(n ? n : 1, sizeof(*items));
	if (!items)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	i = 0;
	cJSON_ArrayForEach(item, events)
	{
		cb_event_init(&items[i].ev);
		items[i].json = item;
		i++;
	}
	if (precheck_start(&pre, dev, items, n)) {
		free(items);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	/* A small batch has no helpers: verify all of it before queueing,
	 * so that many devices' small pushes verify their signatures side
	 * by side instead of one after the other under the lock. */
	if (!pre.nhelpers && n)
		precheck_wait(&pre, n - 1);

	memset(&job, 0, sizeof(job));
	job.dev = dev;
	job.events = events;
	job.items = items;
	job.n = n;
	job.pre = &pre;
	cb_err_clear(&job.err);
	group_wait(c, &job);
	precheck_finish(&pre);
	rc = job.rc;
	if (rc)
		*err = job.err;

	if (!rc)
		rc = push_reply(c, events, items, reply, err);
	for (i = 0; i < n; i++) {
		cb_event_release(&items[i].ev);
		cJSON_Delete(items[i].checks);
		free(items[i].text);
	}
	free(items);
	return rc;
}

/* ---- pull, queries, devices, nonces, registration ----------------------- */

struct pull_ctx {
	struct cb_buf *out;
	long n;	      /* events in the page */
	long scanned; /* rows read, the skipped ones too */
	const struct cb_seq_range *skip;
	size_t nskip, at; /* skip[at] is the first range not passed yet */
	struct cb_err *err;
};

/*
 * The stored text (SQLite's, NUL-terminated) goes out as it is, appended
 * to the reply's text: it was checked when it came in, and a tree of it
 * only to print it again (or a copy per event) costs CPU and memory in
 * every pull (bench_server, part devices, where devices pull fifty times
 * what they push).
 */
static int pull_one(const struct srv_event_row *row, void *ctx)
{
	struct pull_ctx *p = ctx;
	int rc;

	p->scanned++;
	/* rows come in ascending numbers, as the ranges do */
	while (p->at < p->nskip && p->skip[p->at].hi < row->seq)
		p->at++;
	if (p->at < p->nskip && p->skip[p->at].lo <= row->seq)
		return 0;
	rc = p->n ? cb_buf_addc(p->out, ',', p->err) : 0;

	if (!rc)
		rc = cb_buf_add(p->out, row->json, row->json_len, p->err);
	if (rc)
		return rc;
	p->n++;
	return 0;
}

struct withheld_ctx {
	const struct cb_protocol *proto;
	cJSON *list;
};

/*
 * One event a blinded device may not receive, as the device is told of
 * it: where, and which unblinded items it set (true) or cleared (false).
 */
static int withheld_one(const struct srv_event_row *row, void *ctx)
{
	struct withheld_ctx *w = ctx;
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *it;
	struct cb_event ev;
	struct cb_err e;
	cJSON *o, *items;
	size_t i;
	int bad;

	cb_err_clear(&e);
	cb_event_init(&ev);
	/* A stored event always parses; one that does not is not told. */
	if (cb_event_parse(row->json, row->json_len, &ev, &e)) {
		cb_event_release(&ev);
		return e.code == CB_ENOMEM ? CB_ENOMEM : 0;
	}
	f = ev.form ? cb_protocol_find_form(w->proto, ev.form) : NULL;
	o = f ? cJSON_CreateObject() : NULL;
	bad = f && (!o || !cJSON_AddItemToArray(w->list, o));
	if (bad)
		cJSON_Delete(o);
	bad = bad ||
	      (f && (!cJSON_AddStringToObject(o, "subject", ev.subject) ||
		     !cJSON_AddStringToObject(o, "visit", ev.visit) ||
		     !cJSON_AddStringToObject(o, "form", ev.form) ||
		     !cJSON_AddStringToObject(o, "instance", ev.instance)));
	items = f && !bad ? cJSON_AddObjectToObject(o, "items") : NULL;
	bad = bad || (f && !items);
	for (i = 0; !bad && f && i < ev.nchanges; i++) {
		it = cb_protocol_find_item(f, ev.changes[i].item);
		if (it && it->unblinded)
			bad = !cJSON_AddBoolToObject(
			    items, it->code, ev.changes[i].value != NULL);
	}
	cb_event_release(&ev);
	return bad ? CB_ENOMEM : 0;
}

/*
 * The rows of a pull from the store (reader s), in one snapshot: the
 * cursor past what this device may not see must not pass an event
 * committed after the page was read.
 */
static int pull_store(struct srv_store *s, const struct srv_device *dev,
		      int64_t since, long limit, struct pull_ctx *p,
		      struct withheld_ctx *w, int64_t *last, struct cb_err *err)
{
	const char *site = dev->site[0] ? dev->site : NULL;
	int rc = srv_store_begin_read(s, err);

	if (rc)
		return rc;
	rc = srv_store_event_each(s, since, limit, site,
				  cb_role_unblinded(dev->role), pull_one, p,
				  last, err);
	if (!rc && w->list)
		rc = srv_store_withheld_each(s, since, *last, site,
					     withheld_one, w, err);
	srv_store_commit(s, err);
	return rc;
}

int srv_core_pull(struct srv_core *c, const struct srv_device *dev,
		  int64_t since, long limit, const struct cb_seq_range *skip,
		  size_t nskip, struct srv_pull_page *page, struct cb_err *err)
{
	const char *site = dev->site[0] ? dev->site : NULL;
	struct withheld_ctx w = {c->proto, NULL};
	struct srv_store *s = NULL;
	struct cb_buf out;
	struct pull_ctx p;
	int64_t last = since;
	int rc, covered = 0;
	char *text;

	memset(page, 0, sizeof(*page));
	memset(&p, 0, sizeof(p));
	cb_buf_init(&out, SRV_PULL_TEXT_MAX);
	p.out = &out;
	p.skip = skip;
	p.nskip = skip ? nskip : 0;
	p.err = err;
	rc = cb_buf_addstr(&out, "{\"events\":[", err);
	/* A blinded device is told which unblinded values exist in the
	 * range the page covers, never the values, so it shows them as
	 * withheld rather than missing. */
	if (!rc && !cb_role_unblinded(dev->role) &&
	    !(w.list = cJSON_CreateArray()))
		rc = CB_ENOMEM;
	/* The events committed last are in memory; older ones in the
	 * store. */
	if (!rc && c->recent)
		rc = srv_recent_pull(c->recent, since, limit, site,
				     cb_role_unblinded(dev->role), pull_one, &p,
				     w.list ? withheld_one : NULL, &w, &last,
				     &covered);
	if (!rc && !covered) {
		rc = srv_core_reader(c, &s, err);
		if (!rc)
			rc = pull_store(s, dev, since, limit, &p, &w, &last,
					err);
		srv_core_reader_done(c, s);
	}
	if (!rc)
		rc = cb_buf_addc(&out, ']', err);
	if (!rc && w.list) {
		text = cJSON_PrintUnformatted(w.list);
		rc = text ? cb_buf_printf(&out, err, ",\"withheld\":%s", text)
			  : CB_ENOMEM;
		free(text);
	}
	cJSON_Delete(w.list);
	if (!rc)
		rc = cb_buf_printf(
		    &out, err,
		    ",\"next\":\"%" PRId64 "\",\"more\":%s,\"store\":\"%s\"}",
		    last, p.scanned == limit ? "true" : "false", c->store_id);
	if (rc) {
		cb_buf_free(&out);
		if (rc == CB_ENOMEM && !err->code)
			cb_err_set(err, rc, "out of memory");
		if (!err->code)
			cb_err_set(err, rc, "reading events: %s",
				   cb_err_name(rc));
		return rc;
	}
	page->n = p.n;
	page->more = p.scanned == limit;
	page->next = last;
	page->text = cb_buf_take(&out, &page->len);
	return page->text ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
}

static int query_one(const struct srv_query_row *q, void *ctx)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return CB_ENOMEM;
	cJSON_AddStringToObject(o, "id", q->id);
	cJSON_AddStringToObject(o, "site", q->site);
	cJSON_AddStringToObject(o, "subject", q->subject);
	cJSON_AddStringToObject(o, "visit", q->visit);
	cJSON_AddStringToObject(o, "form", q->form);
	cJSON_AddStringToObject(o, "instance", q->instance);
	cJSON_AddStringToObject(o, "item", q->item);
	cJSON_AddStringToObject(o, "status", q->status);
	cJSON_AddBoolToObject(o, "system", q->system);
	cJSON_AddStringToObject(o, "text", q->text);
	cJSON_AddNumberToObject(o, "answers", (double)q->nanswers);
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

static int queries_on(struct srv_store *s, const struct srv_device *dev,
		      const char *status, cJSON **reply, struct cb_err *err);

int srv_core_queries(struct srv_core *c, const struct srv_device *dev,
		     const char *status, cJSON **reply, struct cb_err *err)
{
	struct srv_store *s = NULL;
	int rc;

	*reply = NULL;
	rc = srv_core_reader(c, &s, err);
	if (rc)
		return rc;
	rc = queries_on(s, dev, status, reply, err);
	srv_core_reader_done(c, s);
	return rc;
}

/* srv_core_queries on reader s. */
static int queries_on(struct srv_store *s, const struct srv_device *dev,
		      const char *status, cJSON **reply, struct cb_err *err)
{
	cJSON *out, *list;
	int rc;

	out = cJSON_CreateObject();
	list = out ? cJSON_AddArrayToObject(out, "queries") : NULL;
	if (!list) {
		cJSON_Delete(out);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	rc = srv_store_query_each(s, dev->site[0] ? dev->site : NULL, status, 0,
				  query_one, list, err);
	if (rc) {
		cJSON_Delete(out);
		if (!err->code)
			cb_err_set(err, rc, "reading queries: %s",
				   cb_err_name(rc));
		return rc;
	}
	*reply = out;
	return 0;
}

static int user_one(const struct srv_user *u, void *ctx)
{
	cJSON *o = cJSON_CreateObject();
	char when[CB_CLOCK_UTC_BUF];

	if (!o || !cJSON_AddItemToArray(ctx, o)) {
		cJSON_Delete(o);
		return CB_ENOMEM;
	}
	if (u->disabled_ms)
		cb_clock_format_utc(u->disabled_ms, when);
	if (!cJSON_AddStringToObject(o, "name", u->name) ||
	    !cJSON_AddStringToObject(o, "full_name", u->full_name) ||
	    !cJSON_AddStringToObject(o, "role", u->role) ||
	    !cJSON_AddStringToObject(o, "site", u->site) ||
	    !(u->disabled_ms ? cJSON_AddStringToObject(o, "disabled_at", when)
			     : cJSON_AddNullToObject(o, "disabled_at")))
		return CB_ENOMEM;
	return 0;
}

static int users_on(struct srv_store *s, const struct srv_device *dev,
		    cJSON **reply, struct cb_err *err);

int srv_core_users(struct srv_core *c, const struct srv_device *dev,
		   cJSON **reply, struct cb_err *err)
{
	struct srv_store *s = NULL;
	int rc;

	*reply = NULL;
	rc = srv_core_reader(c, &s, err);
	if (rc)
		return rc;
	rc = users_on(s, dev, reply, err);
	srv_core_reader_done(c, s);
	return rc;
}

/* srv_core_users on reader s. */
static int users_on(struct srv_store *s, const struct srv_device *dev,
		    cJSON **reply, struct cb_err *err)
{
	cJSON *out, *list;
	int rc;

	out = cJSON_CreateObject();
	list = out ? cJSON_AddArrayToObject(out, "users") : NULL;
	if (!list) {
		cJSON_Delete(out);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	/* A site device holds its site's people, a central device the
	 * people of its role (check_person). */
	rc = srv_store_user_each(s, dev->site[0] ? dev->site : "",
				 dev->site[0] ? NULL : dev->role, user_one,
				 list, err);
	if (rc) {
		cJSON_Delete(out);
		if (!err->code)
			cb_err_set(err, rc, "reading users: %s",
				   cb_err_name(rc));
		return rc;
	}
	*reply = out;
	return 0;
}

int srv_core_device(struct srv_core *c, const char *id, struct srv_device *out,
		    struct cb_err *err)
{
	struct srv_store *s = NULL;
	int rc = srv_core_reader(c, &s, err);

	if (rc)
		return rc;
	rc = srv_store_device_get(s, id, out, err);
	srv_core_reader_done(c, s);
	return rc;
}

int srv_core_nonce(struct srv_core *c, const char *device, const char *nonce,
		   int64_t time_ms, struct cb_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&c->nonce_lock);
	if (!c->nonces)
		rc = srv_nonces_open(c->dir, &c->nonces, err);
	if (!rc)
		rc = srv_nonces_use(c->nonces, device, nonce, time_ms,
				    cb_clock_now_ms(), err);
	pthread_mutex_unlock(&c->nonce_lock);
	return rc;
}

int srv_core_register(struct srv_core *c, const char *token_hash,
		      struct srv_device *dev, struct cb_err *err)
{
	int rc;

	pthread_mutex_lock(&c->write_lock);
	rc = srv_store_register(c->store, token_hash, cb_clock_now_ms(), dev,
				err);
	pthread_mutex_unlock(&c->write_lock);
	return rc;
}

/* ---- the canonical dump ------------------------------------------------- */

struct dump {
	struct srv_core *c;
	struct srv_store *s;
	int unblinded;
	int (*out)(const char *text, size_t len, void *ctx);
	void *ctx;
	struct cb_err *err;
};

static int dump_one(const char *subject, const char *site, void *vctx)
{
	struct dump *d = vctx;
	struct cb_merge *m = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	(void)site;
	rc = subject_load(d->s, subject, d->unblinded, &m, d->err);
	/* A subject whose every event is withheld is no subject there. */
	if (!rc && cb_merge_count(m))
		rc = cb_merge_dump_subject(m, subject, &text, &len, d->err);
	if (!rc && text)
		rc = d->out(text, len, d->ctx);
	free(text);
	cb_merge_free(m);
	return rc;
}

int srv_core_canonical_dump(struct srv_core *c, const char *site, int unblinded,
			    int (*out)(const char *text, size_t len, void *ctx),
			    void *ctx, struct cb_err *err)
{
	struct dump d = {c, NULL, unblinded, out, ctx, err};
	int rc;

	rc = srv_core_reader(c, &d.s, err);
	if (rc)
		return rc;
	rc = srv_store_begin_read(d.s, err);
	if (!rc) {
		rc = out(CB_MERGE_DUMP_HEAD, strlen(CB_MERGE_DUMP_HEAD), ctx);
		if (!rc)
			rc = srv_store_subject_names(d.s, site, dump_one, &d,
						     err);
		srv_store_commit(d.s, err);
	}
	srv_core_reader_done(c, d.s);
	return rc;
}

/* ---- the feed of exports and reports (feed.h) ---------------------------- */

struct feed_run {
	struct srv_core *c;
	struct srv_store *s;
	const struct cb_feed_opts *o;
	cb_feed_fn fn;
	void *fctx;
	struct cb_err *err;
	/* the subject being read from the derived tables */
	struct cb_feed_items items;
	struct cb_buf strings; /* head values of conflicted items */
	cJSON **heads;	       /* parsed head_values, one per item */
	size_t nheads, cap_heads;
};

/* An item of a derived row, unless it is withheld from the feed. */
static int feed_item(const struct srv_item_row *it, void *ctx)
{
	struct feed_run *r = ctx;
	struct cb_feed_item *fi;
	cJSON *hv = NULL;
	int rc;

	if (!r->o->unblinded) {
		const struct cb_protocol_form *f =
		    cb_protocol_find_form(r->c->proto, it->form);
		const struct cb_protocol_item *pi =
		    f ? cb_protocol_find_item(f, it->item) : NULL;

		if (pi && pi->unblinded)
			return 0;
	}
	rc = cb_array_grow((void **)&r->items.items, &r->items.cap,
			   r->items.n + 1, sizeof(*r->items.items), 1000000,
			   "items of a subject", r->err);
	if (rc)
		return rc;
	fi = &r->items.items[r->items.n];
	memset(fi, 0, sizeof(*fi));
	/* The row's strings last only during this call: keep copies in
	 * one buffer, as offsets until the subject is complete. */
	fi->visit = (const char *)(uintptr_t)cb_buf_len(&r->strings);
	rc = cb_buf_add(&r->strings, it->visit, strlen(it->visit) + 1, r->err);
	fi->form = (const char *)(uintptr_t)cb_buf_len(&r->strings);
	rc = rc ? rc
		: cb_buf_add(&r->strings, it->form, strlen(it->form) + 1,
			     r->err);
	fi->instance = (const char *)(uintptr_t)cb_buf_len(&r->strings);
	rc = rc ? rc
		: cb_buf_add(&r->strings, it->instance,
			     strlen(it->instance) + 1, r->err);
	fi->item = (const char *)(uintptr_t)cb_buf_len(&r->strings);
	rc = rc ? rc
		: cb_buf_add(&r->strings, it->item, strlen(it->item) + 1,
			     r->err);
	fi->value = it->value
			? (const char *)(uintptr_t)(cb_buf_len(&r->strings) + 1)
			: NULL;
	if (!rc && it->value)
		rc = cb_buf_add(&r->strings, it->value, strlen(it->value) + 1,
				r->err);
	fi->conflict = it->conflict;
	if (!rc && it->conflict) {
		hv = cJSON_Parse(it->head_values);
		if (!hv)
			rc = cb_err_set(r->err, CB_EINTEGRITY,
					"central store: an item's heads do not "
					"parse");
	}
	if (!rc)
		rc = cb_array_grow((void **)&r->heads, &r->cap_heads,
				   r->items.n + 1, sizeof(*r->heads), 1000000,
				   "items of a subject", r->err);
	if (rc) {
		cJSON_Delete(hv);
		return rc;
	}
	r->heads[r->items.n] = hv;
	r->items.n++;
	return 0;
}

/* Hand one subject read from the derived tables to the reader. */
static int feed_derived(const struct cb_summary *sum, void *ctx)
{
	struct feed_run *r = ctx;
	struct cb_feed_subject fs;
	const char **vals = NULL;
	size_t i, nvals = 0, k;
	int rc;

	r->items.n = 0;
	cb_buf_reset(&r->strings);
	if (r->o->forms) {
		const char *const *f;

		rc = 0;
		for (f = r->o->forms; !rc && f[0]; f += 2)
			rc = srv_store_items_of(r->s, sum->subject, f[0], f[1],
						feed_item, r, r->err);
	} else
		rc = srv_store_items_each(r->s, sum->subject, feed_item, r,
					  r->err);
	for (i = 0; !rc && i < r->items.n; i++)
		nvals += (size_t)cJSON_GetArraySize(r->heads[i]);
	if (!rc && nvals && !(vals = calloc(nvals, sizeof(*vals))))
		rc = cb_err_set(r->err, CB_ENOMEM, "out of memory");
	/* The buffer is complete: offsets become pointers. */
	for (i = 0, k = 0; !rc && i < r->items.n; i++) {
		struct cb_feed_item *fi = &r->items.items[i];
		const char *base = cb_buf_str(&r->strings);
		const cJSON *h;

		fi->visit = base + (uintptr_t)fi->visit;
		fi->form = base + (uintptr_t)fi->form;
		fi->instance = base + (uintptr_t)fi->instance;
		fi->item = base + (uintptr_t)fi->item;
		if (fi->value)
			fi->value = base + (uintptr_t)fi->value - 1;
		fi->head_values = vals + k;
		fi->nheads = 0;
		cJSON_ArrayForEach(h, r->heads[i])
		{
			/* counted into nvals above */
			assert(k < nvals);
			vals[k++] = cJSON_IsString(h) ? h->valuestring : NULL;
			fi->nheads++;
		}
	}
	if (!rc) {
		fs.sum = sum;
		fs.items = r->items.items;
		fs.nitems = r->items.n;
		fs.merge = NULL;
		rc = r->fn(&fs, r->fctx);
	}
	for (i = 0; i < r->items.n; i++)
		cJSON_Delete(r->heads[i]);
	free(vals);
	return rc;
}

struct cutoff_load {
	struct cb_merge *m;
	const char *cutoff;
};

static int load_until(const struct srv_event_row *row, void *ctx)
{
	struct cutoff_load *l = ctx;

	if (l->cutoff && strcmp(row->received_at, l->cutoff) > 0)
		return 0;
	return load_event(row, l->m);
}

/* Hand one subject, replayed from its events, to the reader. */
static int feed_replay(const char *subject, const char *site, void *ctx)
{
	struct feed_run *r = ctx;
	struct cutoff_load l = {NULL, r->o->cutoff};
	struct cb_feed_subject fs;
	struct cb_summary sum;
	int rc;

	(void)site;
	cb_summary_init(&sum);
	rc = cb_merge_new(&l.m, r->err);
	if (!rc)
		rc = srv_store_subject_events(r->s, subject, r->o->unblinded,
					      load_until, &l, r->err);
	if (rc == CB_EINTEGRITY && !r->err->code)
		cb_err_set(r->err, rc,
			   "central store: a stored event of subject %s does "
			   "not parse",
			   subject);
	/* A subject with no event by the cut-off did not exist then. */
	if (!rc && !cb_merge_count(l.m)) {
		cb_merge_free(l.m);
		return 0;
	}
	if (!rc)
		rc =
		    cb_summary_compute(r->c->proto, l.m, subject, &sum, r->err);
	if (!rc)
		rc = cb_feed_items_from_merge(r->c->proto, l.m, subject,
					      r->o->unblinded, &r->items,
					      r->err);
	if (!rc) {
		fs.sum = &sum;
		fs.items = r->items.items;
		fs.nitems = r->items.n;
		fs.merge = r->o->with_merge ? l.m : NULL;
		rc = r->fn(&fs, r->fctx);
	}
	cb_summary_release(&sum);
	cb_merge_free(l.m);
	return rc;
}

int srv_core_feed(struct srv_core *c, const struct cb_feed_opts *o,
		  cb_feed_fn fn, void *fctx, struct cb_err *err)
{
	struct feed_run r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.o = o;
	r.fn = fn;
	r.fctx = fctx;
	r.err = err;
	cb_buf_init(&r.strings, 64u * 1024 * 1024);
	rc = srv_core_reader(c, &r.s, err);
	if (rc) {
		cb_buf_free(&r.strings);
		return rc;
	}
	rc = srv_store_begin_read(r.s, err);
	if (!rc) {
		/* Without a cut-off or the audit trail, the derived tables
		 * hold all of it; otherwise each subject is replayed from
		 * its events. */
		if (!o->cutoff && !o->with_merge)
			rc = srv_store_summary_each(r.s, o->site, feed_derived,
						    &r, err);
		else
			rc = srv_store_subject_names(r.s, o->site, feed_replay,
						     &r, err);
		srv_store_commit(r.s, err);
	}
	srv_core_reader_done(c, r.s);
	cb_feed_items_free(&r.items);
	cb_buf_free(&r.strings);
	free(r.heads);
	return rc;
}

static int feed_each(void *ctx, const struct cb_feed_opts *o, cb_feed_fn fn,
		     void *fctx, struct cb_err *err)
{
	return srv_core_feed(ctx, o, fn, fctx, err);
}

struct cb_feed srv_core_feed_of(struct srv_core *c)
{
	struct cb_feed f = {feed_each, c};

	return f;
}
