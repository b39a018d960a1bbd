/*
 * test_merge.c - the merge engine: heads, conflicts and their query ids,
 * convergence, resolution, signatures, queries, the audit trail, the
 * index of the last instance of a repeating form, and the
 * property that the derived state depends only on the set of events:
 * the same set in 1,000 random orders with duplicates gives byte-identical
 * dumps.
 */
#include "t.h"

#include <time.h>

#include "event.h"
#include "merge.h"

/* ---- building events -------------------------------------------------- */

static void id_of(unsigned n, char out[CB_EVENT_ID_HEX + 1])
{
	snprintf(out, CB_EVENT_ID_HEX + 1, "%032x", n);
}

/* The id text of event number n, in a rotating static buffer. */
static const char *ID(unsigned n)
{
	static char buf[8][CB_EVENT_ID_HEX + 1];
	static int at;

	at = (at + 1) % 8;
	id_of(n, buf[at]);
	return buf[at];
}

/*
 * A new event number n by `user` on `dev` (hlc n, so the clock order is
 * the numbering), kind, target. The caller adds changes and data.
 */
static struct cb_event *mk(unsigned n, const char *dev, const char *user,
			   const char *subject, const char *kind,
			   const char *visit, const char *form,
			   const char *instance, const char *reason)
{
	struct cb_event *ev = malloc(sizeof(*ev));

	if (!ev)
		abort();
	cb_event_init(ev);
	id_of(n, ev->id);
	snprintf(ev->hlc, sizeof(ev->hlc), "%016x", 0x1000 + n);
	memcpy(ev->wall, "2026-11-25T12:34:56.789Z", sizeof(ev->wall));
	if (cb_event_set_origin(ev, dev, "KR01", user, NULL) ||
	    cb_event_set_target(ev, subject, kind, visit, form, instance,
				NULL) ||
	    cb_event_set_reason(ev, reason, NULL))
		abort();
	return ev;
}

/* Add a change of item to value, superseding up to three events (0 ends). */
static void chg(struct cb_event *ev, const char *item, const char *value,
		unsigned p1, unsigned p2, unsigned p3)
{
	char ids[3][CB_EVENT_ID_HEX + 1];
	const char *prev[3];
	unsigned ps[3] = {p1, p2, p3};
	size_t n = 0, i;

	for (i = 0; i < 3; i++)
		if (ps[i]) {
			id_of(ps[i], ids[n]);
			prev[n] = ids[n];
			n++;
		}
	if (cb_event_add_change(ev, item, value, prev, n, NULL))
		abort();
}

static void data(struct cb_event *ev, const char *key, const char *value)
{
	if (cb_event_set_data(ev, key, value, NULL))
		abort();
}

static void free_event(struct cb_event *ev)
{
	cb_event_release(ev);
	free(ev);
}

/* ---- the fixed event set ---------------------------------------------- */

#define MAXSET 64
static struct cb_event *set[MAXSET];
static size_t nset;

static struct cb_event *put(struct cb_event *ev)
{
	set[nset++] = ev;
	return ev;
}

/*
 * Subject S1 on two devices: a conflict on BL/VAS/VAS, a convergence,
 * a three-way conflict only partly resolved, a resolved conflict, a form
 * signed and then changed, a signed form left alone, queries in every
 * status (one on a conflict), AE instances 1, 2 and 10, a cleared value,
 * a prev cycle, and a change naming an event missing from the set.
 */
static void build_set(void)
{
	struct cb_event *e;
	char conflict_q[CB_EVENT_ID_HEX + 1];
	const char *heads[2];

	nset = 0;
	e = put(mk(1, "devA", "kim", "S1", "form.save", "BL", "VAS", "", ""));
	chg(e, "VAS", "40", 0, 0, 0);
	chg(e, "VASDTC", "2026-01-01", 0, 0, 0);
	e = put(
	    mk(2, "devA", "kim", "S1", "form.save", "BL", "VAS", "", "typo"));
	chg(e, "VAS", "42", 1, 0, 0);
	e = put(mk(3, "devB", "lee", "S1", "form.save", "BL", "VAS", "",
		   "source says 45"));
	chg(e, "VAS", "45", 1, 0, 0);
	/* converged: the same value saved twice concurrently */
	e = put(mk(4, "devA", "kim", "S1", "form.save", "BL", "WOMAC", "", ""));
	chg(e, "P1", "1", 0, 0, 0);
	e = put(mk(5, "devB", "lee", "S1", "form.save", "BL", "WOMAC", "", ""));
	chg(e, "P1", "1", 0, 0, 0);
	/* three-way conflict, resolved for two heads only */
	e = put(mk(6, "devA", "kim", "S1", "form.save", "M1", "F2", "", ""));
	chg(e, "X", "a", 0, 0, 0);
	e = put(mk(7, "devB", "lee", "S1", "form.save", "M1", "F2", "", ""));
	chg(e, "X", "b", 0, 0, 0);
	e = put(mk(8, "devC", "park", "S1", "form.save", "M1", "F2", "", ""));
	chg(e, "X", "c", 0, 0, 0);
	e = put(
	    mk(9, "devA", "kim", "S1", "form.save", "M1", "F2", "", "resolve"));
	chg(e, "X", "b", 6, 7, 0);
	/* conflict resolved by a change naming both heads */
	e = put(mk(10, "devA", "kim", "S1", "form.save", "M1", "F2", "", ""));
	chg(e, "Y", "1", 0, 0, 0);
	e = put(mk(11, "devB", "lee", "S1", "form.save", "M1", "F2", "", ""));
	chg(e, "Y", "2", 0, 0, 0);
	e = put(mk(12, "devA", "dm", "S1", "form.save", "M1", "F2", "",
		   "confirmed with site"));
	chg(e, "Y", "2", 10, 11, 0);
	/* F3 signed, then changed: broken */
	e = put(mk(13, "devA", "kim", "S1", "form.save", "BL", "F3", "", ""));
	chg(e, "Z", "z1", 0, 0, 0);
	chg(e, "Z2", "z2", 0, 0, 0);
	e = put(mk(14, "devA", "dr", "S1", "sign", "BL", "F3", "", ""));
	data(e, "meaning", "approval");
	data(e, "seen", ID(13));
	e = put(mk(15, "devB", "lee", "S1", "form.save", "BL", "F3", "",
		   "late correction"));
	chg(e, "Z", "z1b", 13, 0, 0);
	/* F4 signed and left alone: valid */
	e = put(mk(16, "devA", "kim", "S2", "form.save", "BL", "F4", "", ""));
	chg(e, "Q", "q", 0, 0, 0);
	e = put(mk(17, "devA", "dr", "S2", "sign", "BL", "F4", "", ""));
	data(e, "meaning", "approval");
	data(e, "seen", ID(16));
	/* queries: open, answered, closed, and an answer to a conflict */
	e = put(mk(18, "devC", "dm", "S1", "query.open", "BL", "VAS", "", ""));
	data(e, "text", "VAS above 40 at baseline?");
	data(e, "item", "VAS");
	e = put(mk(19, "devA", "kim", "S1", "query.answer", "", "", "", ""));
	data(e, "query", ID(18));
	data(e, "text", "yes, per source");
	e = put(mk(20, "devC", "dm", "S2", "query.open", "", "", "", ""));
	data(e, "text", "consent date?");
	e = put(mk(21, "devC", "dm", "S2", "query.close", "", "", "", ""));
	data(e, "query", ID(20));
	e = put(mk(22, "devC", "dm", "S2", "query.open", "BL", "F4", "", ""));
	data(e, "text", "still open");
	heads[0] = ID(2);
	heads[1] = ID(3);
	if (cb_merge_conflict_id("S1", "BL", "VAS", "", "VAS", heads, 2,
				 conflict_q, NULL))
		abort();
	e = put(mk(23, "devA", "kim", "S1", "query.answer", "", "", "", ""));
	data(e, "query", conflict_q);
	data(e, "text", "checking source");
	/* repeating AE form instances */
	e = put(
	    mk(24, "devA", "kim", "S1", "form.save", "LOG", "AE", "10", ""));
	chg(e, "AETERM", "\xeb\x91\x90\xed\x86\xb5", 0, 0, 0);
	e = put(mk(25, "devA", "kim", "S1", "form.save", "LOG", "AE", "2", ""));
	chg(e, "AETERM", "rash", 0, 0, 0);
	e = put(mk(26, "devA", "kim", "S1", "form.save", "LOG", "AE", "1", ""));
	chg(e, "AETERM", "nausea\n\"mild\"", 0, 0, 0);
	/* a cleared value */
	e = put(mk(27, "devA", "kim", "S1", "form.save", "LOG", "AE", "1",
		   "entered in error"));
	chg(e, "AETERM", NULL, 26, 0, 0);
	/* a prev cycle, which no honest device makes */
	e = put(mk(28, "devX", "x", "S3", "form.save", "BL", "VAS", "", "x"));
	chg(e, "W", "1", 29, 0, 0);
	e = put(mk(29, "devX", "x", "S3", "form.save", "BL", "VAS", "", "x"));
	chg(e, "W", "2", 28, 0, 0);
	/* a change superseding an event this replica never saw */
	e = put(mk(30, "devB", "lee", "S3", "form.save", "BL", "VAS", "",
		   "after sync"));
	chg(e, "VAS", "7", 99, 0, 0);
	/* a second, later signature of F3 that also missed event 15 */
	e = put(mk(31, "devB", "dr2", "S1", "sign", "BL", "F3", "", ""));
	data(e, "meaning", "review");
	data(e, "seen", ID(13));
	/* closed, reopened, answered again */
	e = put(mk(32, "devC", "dm", "S2", "query.open", "BL", "", "", ""));
	data(e, "text", "which visit date?");
	e = put(mk(33, "devC", "dm", "S2", "query.close", "", "", "", ""));
	data(e, "query", ID(32));
	e = put(mk(34, "devD", "mon", "S2", "query.reopen", "", "", "", ""));
	data(e, "query", ID(32));
	data(e, "text", "source says otherwise");
	e = put(mk(35, "devA", "kim", "S2", "query.answer", "", "", "", ""));
	data(e, "query", ID(32));
	data(e, "text", "corrected");
	/* closed, reopened, closed by two people at once */
	e = put(mk(36, "devC", "dm", "S2", "query.open", "", "", "", ""));
	data(e, "text", "age?");
	e = put(mk(37, "devC", "dm", "S2", "query.close", "", "", "", ""));
	data(e, "query", ID(36));
	e = put(mk(38, "devC", "dm", "S2", "query.reopen", "", "", "", ""));
	data(e, "query", ID(36));
	data(e, "text", "closed too soon");
	e = put(mk(39, "devD", "mon", "S2", "query.close", "", "", "", ""));
	data(e, "query", ID(36));
	e = put(mk(40, "devC", "dm", "S2", "query.close", "", "", "", ""));
	data(e, "query", ID(36));
	/* a reopen of a query that is open changes nothing */
	e = put(mk(41, "devC", "dm", "S2", "query.reopen", "", "", "", ""));
	data(e, "query", ID(22));
	data(e, "text", "again");
}

static void free_set(void)
{
	size_t i;

	for (i = 0; i < nset; i++)
		free_event(set[i]);
	nset = 0;
}

/* A merge of the whole set in the given order. */
static struct cb_merge *merge_of(const size_t *order, size_t n)
{
	struct cb_merge *m;
	struct cb_err err;
	size_t i;

	if (cb_merge_new(&m, &err))
		return NULL;
	for (i = 0; i < n; i++)
		if (cb_merge_add(m, set[order ? order[i] : i], NULL, &err)) {
			printf("# add %zu: %s\n", i, err.msg);
			cb_merge_free(m);
			return NULL;
		}
	return m;
}

static char *dump_of(struct cb_merge *m)
{
	char *out = NULL;

	if (!m || cb_merge_dump(m, &out, NULL, NULL))
		return NULL;
	return out;
}

static uint64_t rng;

static uint64_t next_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

/* ---- cases ------------------------------------------------------------ */

static void test_one_head_is_the_value(void)
{
	struct cb_merge *m;
	struct cb_merge_item it;

	build_set();
	m = merge_of(NULL, nset);
	T_ASSERT(m);
	T_EQ_INT(cb_merge_count(m), nset);
	T_EQ_INT(
	    cb_merge_item_get(m, "S1", "BL", "VAS", "", "VASDTC", &it, NULL),
	    0);
	T_ASSERT(!it.conflict);
	T_EQ_STR(it.value, "2026-01-01");
	T_EQ_INT(it.nheads, 1);
	T_EQ_STR(it.heads[0], ID(1));
	T_ASSERT(it.query == NULL);
	/* the cleared AE term has one head whose value is NULL */
	T_EQ_INT(
	    cb_merge_item_get(m, "S1", "LOG", "AE", "1", "AETERM", &it, NULL),
	    0);
	T_ASSERT(!it.conflict && it.value == NULL && it.nheads == 1);
	/* a prev naming a missing event is ignored */
	T_EQ_INT(cb_merge_item_get(m, "S3", "BL", "VAS", "", "VAS", &it, NULL),
		 0);
	T_EQ_STR(it.value, "7");
	T_EQ_INT(cb_merge_item_get(m, "S1", "BL", "VAS", "", "NOPE", &it, NULL),
		 CB_ENOTFOUND);
	T_EQ_INT(cb_merge_item_get(m, "S1", "BL", "VAS", "1", "VAS", &it, NULL),
		 CB_ENOTFOUND);
	cb_merge_free(m);
	free_set();
}

static void test_conflict_has_deterministic_query(void)
{
	struct cb_merge *m;
	struct cb_merge_item it;
	struct cb_merge_query q;
	char expect[CB_EVENT_ID_HEX + 1], other[CB_EVENT_ID_HEX + 1];
	const char *heads[2];

	build_set();
	m = merge_of(NULL, nset);
	T_ASSERT(m);
	T_EQ_INT(cb_merge_item_get(m, "S1", "BL", "VAS", "", "VAS", &it, NULL),
		 0);
	T_ASSERT(it.conflict);
	T_ASSERT(it.value == NULL);
	T_EQ_INT(it.nheads, 2);
	T_EQ_STR(it.heads[0], ID(2));
	T_EQ_STR(it.heads[1], ID(3));
	T_EQ_STR(it.head_values[0], "42");
	T_EQ_STR(it.head_values[1], "45");
	/* the id is the hash of the item and its heads, in any order */
	heads[0] = ID(3);
	heads[1] = ID(2);
	T_EQ_INT(cb_merge_conflict_id("S1", "BL", "VAS", "", "VAS", heads, 2,
				      expect, NULL),
		 0);
	T_ASSERT(it.query);
	T_EQ_STR(it.query, expect);
	T_ASSERT(strlen(expect) == CB_EVENT_ID_HEX);
	/* other names with the same heads give another id */
	T_EQ_INT(cb_merge_conflict_id("S1", "BL", "VAS", "", "VAS2", heads, 2,
				      other, NULL),
		 0);
	T_ASSERT(strcmp(other, expect) != 0);
	T_EQ_INT(cb_merge_conflict_id("S1", "BL", "VAS", "", "VAS", heads, 1,
				      other, NULL),
		 0);
	T_ASSERT(strcmp(other, expect) != 0);
	/* the system query exists and was answered */
	T_EQ_INT(cb_merge_query_get(m, expect, &q, NULL), 0);
	T_ASSERT(q.system);
	T_EQ_INT(q.status, CB_QUERY_ANSWERED);
	T_EQ_STR(q.item, "VAS");
	T_EQ_INT(cb_merge_conflict_count(m), 3); /* VAS, X, W */
	cb_merge_free(m);
	free_set();
}

static void test_equal_values_converge(void)
{
	struct cb_merge *m;
	struct cb_merge_item it;

	build_set();
	m = merge_of(NULL, nset);
	T_ASSERT(m);
	T_EQ_INT(cb_merge_item_get(m, "S1", "BL", "WOMAC", "", "P1", &it, NULL),
		 0);
	T_ASSERT(!it.conflict);
	T_EQ_INT(it.nheads, 2);
	T_EQ_STR(it.value, "1");
	T_ASSERT(it.query == NULL);
	cb_merge_free(m);
	free_set();
}

static void test_resolution(void)
{
	struct cb_merge *m;
	struct cb_merge_item it;
	struct cb_event *r;
	size_t nconf;

	build_set();
	m = merge_of(NULL, nset);
	T_ASSERT(m);
	/* naming both heads resolves */
	T_EQ_INT(cb_merge_item_get(m, "S1", "M1", "F2", "", "Y", &it, NULL), 0);
	T_ASSERT(!it.conflict);
	T_EQ_INT(it.nheads, 1);
	T_EQ_STR(it.heads[0], ID(12));
	T_EQ_STR(it.value, "2");
	/* naming two of three heads leaves a conflict with new heads */
	T_EQ_INT(cb_merge_item_get(m, "S1", "M1", "F2", "", "X", &it, NULL), 0);
	T_ASSERT(it.conflict);
	T_EQ_INT(it.nheads, 2);
	T_EQ_STR(it.heads[0], ID(8));
	T_EQ_STR(it.heads[1], ID(9));
	/* VAS: a resolution naming only one head does not clear it */
	nconf = cb_merge_conflict_count(m);
	r = mk(50, "devC", "dm", "S1", "form.save", "BL", "VAS", "", "fix");
	chg(r, "VAS", "42", 2, 0, 0);
	T_EQ_INT(cb_merge_add(m, r, NULL, NULL), 0);
	T_EQ_INT(cb_merge_item_get(m, "S1", "BL", "VAS", "", "VAS", &it, NULL),
		 0);
	T_ASSERT(it.conflict);
	T_EQ_INT(it.nheads, 2);
	T_EQ_STR(it.heads[0], ID(3));
	T_EQ_STR(it.heads[1], ID(50));
	T_EQ_INT(cb_merge_conflict_count(m), nconf);
	free_event(r);
	/* naming all heads does */
	r = mk(51, "devC", "dm", "S1", "form.save", "BL", "VAS", "", "fix");
	chg(r, "VAS", "45", 3, 50, 0);
	T_EQ_INT(cb_merge_add(m, r, NULL, NULL), 0);
	T_EQ_INT(cb_merge_item_get(m, "S1", "BL", "VAS", "", "VAS", &it, NULL),
		 0);
	T_ASSERT(!it.conflict);
	T_EQ_STR(it.value, "45");
	T_EQ_INT(cb_merge_conflict_count(m), nconf - 1);
	free_event(r);
	/* a cycle shows as a conflict instead of vanishing */
	T_EQ_INT(cb_merge_item_get(m, "S3", "BL", "VAS", "", "W", &it, NULL),
		 0);
	T_ASSERT(it.conflict);
	T_EQ_INT(it.nheads, 2);
	cb_merge_free(m);
	free_set();
}

static void test_duplicates(void)
{
	struct cb_merge *m;
	struct cb_event *e, *forged;
	struct cb_err err;
	int added = -1;

	build_set();
	T_EQ_INT(cb_merge_new(&m, NULL), 0);
	e = set[1];
	T_EQ_INT(cb_merge_add(m, e, &added, NULL), 0);
	T_EQ_INT(added, 1);
	T_EQ_INT(cb_merge_add(m, e, &added, NULL), 0);
	T_EQ_INT(added, 0);
	T_EQ_INT(cb_merge_count(m), 1);
	/* a signature or receipt time does not make it different */
	forged = malloc(sizeof(*forged));
	T_ASSERT(forged);
	cb_event_init(forged);
	T_EQ_INT(cb_event_copy(forged, e, NULL), 0);
	memcpy(forged->received_at, "2026-11-25T12:35:00.000Z",
	       sizeof(forged->received_at));
	T_EQ_INT(cb_merge_add(m, forged, &added, NULL), 0);
	T_EQ_INT(added, 0);
	/* the same id with other content is refused and changes nothing */
	forged->changes[0].value[0] = '9';
	T_EQ_INT(cb_merge_add(m, forged, &added, &err), CB_ECONFLICT);
	T_CONTAINS(err.msg, e->id);
	T_EQ_STR(cb_merge_event(m, e->id)->changes[0].value, "42");
	/* an invalid event is refused */
	free(forged->kind);
	forged->kind = strdup("bogus.kind");
	forged->id[0] = 'f';
	T_EQ_INT(cb_merge_add(m, forged, &added, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "unknown kind");
	T_EQ_INT(cb_merge_count(m), 1);
	free_event(forged);
	cb_merge_free(m);
	free_set();
}

/*
 * cb_merge_take files the caller's event without copying it: the same
 * state as cb_merge_add, the caller's struct left empty; a duplicate or
 * a refused event stays the caller's, untouched.
 */
static void test_take(void)
{
	struct cb_merge *a, *b;
	const struct cb_event *filed;
	struct cb_event ev;
	struct cb_err err;
	char *da, *db, id[CB_EVENT_ID_HEX + 1];
	size_t i;
	int added;

	build_set();
	T_EQ_INT(cb_merge_new(&a, NULL), 0);
	T_EQ_INT(cb_merge_new(&b, NULL), 0);
	for (i = 0; i < nset; i++) {
		T_EQ_INT(cb_merge_add(a, set[i], NULL, NULL), 0);
		cb_event_init(&ev);
		T_EQ_INT(cb_event_copy(&ev, set[i], NULL), 0);
		memcpy(id, ev.id, sizeof(id));
		filed = NULL;
		added = -1;
		T_EQ_INT(cb_merge_take(b, &ev, &filed, &added, NULL), 0);
		T_EQ_INT(added, 1);
		T_ASSERT(filed != NULL && filed == cb_merge_event(b, id));
		T_ASSERT(ev.id[0] == '\0' && ev.changes == NULL &&
			 ev.subject == NULL);
		cb_event_release(&ev);
	}
	da = dump_of(a);
	db = dump_of(b);
	T_ASSERT(da && db);
	if (da && db)
		T_EQ_STR(db, da);
	free(da);
	free(db);

	/* a duplicate stays the caller's */
	cb_event_init(&ev);
	T_EQ_INT(cb_event_copy(&ev, set[0], NULL), 0);
	T_EQ_INT(cb_merge_take(b, &ev, &filed, &added, NULL), 0);
	T_EQ_INT(added, 0);
	T_ASSERT(filed == cb_merge_event(b, set[0]->id));
	T_EQ_STR(ev.id, set[0]->id);
	T_ASSERT(ev.subject && !strcmp(ev.subject, set[0]->subject));
	/* so does a refused one */
	free(ev.kind);
	ev.kind = strdup("bogus.kind");
	ev.id[0] = ev.id[0] == 'f' ? 'e' : 'f';
	T_EQ_INT(cb_merge_take(b, &ev, &filed, &added, &err), CB_EINVAL);
	T_ASSERT(filed == NULL);
	T_ASSERT(ev.kind && !strcmp(ev.kind, "bogus.kind"));
	T_ASSERT(ev.subject && !strcmp(ev.subject, set[0]->subject));
	cb_event_release(&ev);
	T_EQ_INT(cb_merge_count(b), nset);
	cb_merge_free(a);
	cb_merge_free(b);
	free_set();
}

/* The highest instance of a repeating form, found without a walk. */
static void test_last_instance(void)
{
	size_t order[MAXSET], i;
	struct cb_merge *m;
	struct cb_event *e;

	build_set();
	m = merge_of(NULL, nset);
	T_ASSERT(m);
	/* AE instances 1, 2 and 10: gaps do not hide the last one. */
	T_EQ_INT(cb_merge_last_instance(m, "S1", "LOG", "AE"), 10);
	T_EQ_INT(cb_merge_last_instance(m, "S1", "BL", "VAS"), 0);
	T_EQ_INT(cb_merge_last_instance(m, "S2", "LOG", "AE"), 0);
	T_EQ_INT(cb_merge_last_instance(m, "S9", "LOG", "AE"), 0);
	T_EQ_INT(cb_merge_last_instance(m, NULL, "LOG", "AE"), 0);
	/* A later instance, by a save or a signature, moves it. */
	e = mk(90, "devB", "lee", "S1", "form.save", "LOG", "AE", "12", "");
	chg(e, "AETERM", "Rash", 0, 0, 0);
	T_EQ_INT(cb_merge_add(m, e, NULL, NULL), 0);
	T_EQ_INT(cb_merge_last_instance(m, "S1", "LOG", "AE"), 12);
	free_event(e);
	e = mk(91, "devB", "lee", "S1", "sign", "LOG", "AE", "15", "");
	data(e, "meaning", "reviewed");
	data(e, "seen", "");
	T_EQ_INT(cb_merge_add(m, e, NULL, NULL), 0);
	T_EQ_INT(cb_merge_last_instance(m, "S1", "LOG", "AE"), 15);
	free_event(e);
	cb_merge_free(m);
	/* The same in any order of adding. */
	for (i = 0; i < nset; i++)
		order[i] = nset - 1 - i;
	m = merge_of(order, nset);
	T_ASSERT(m);
	T_EQ_INT(cb_merge_last_instance(m, "S1", "LOG", "AE"), 10);
	cb_merge_free(m);
	free_set();
}

static void test_signatures(void)
{
	struct cb_merge *m;
	struct cb_merge_form f;
	struct cb_event *s;
	char *seen;

	build_set();
	m = merge_of(NULL, nset);
	T_ASSERT(m);
	T_EQ_INT(cb_merge_form_get(m, "S1", "BL", "F3", "", &f, NULL), 0);
	T_ASSERT(f.sign);
	/* the current signature is the last in clock order */
	T_EQ_STR(f.sign->id, ID(31));
	T_ASSERT(f.broken);
	T_EQ_INT(f.nitems, 2);
	T_EQ_INT(f.nsigns, 2);
	T_EQ_INT(cb_merge_form_get(m, "S2", "BL", "F4", "", &f, NULL), 0);
	T_ASSERT(f.sign && !f.broken);
	T_EQ_INT(cb_merge_form_get(m, "S1", "BL", "VAS", "", &f, NULL), 0);
	T_ASSERT(!f.sign && !f.broken);
	T_EQ_INT(f.nconflicts, 1);
	/* what a new signature of F3 must name: Z2's head 13, Z's head 15 */
	T_EQ_INT(cb_merge_form_seen(m, "S1", "BL", "F3", "", &seen, NULL), 0);
	T_EQ_INT(strlen(seen), 2 * CB_EVENT_ID_HEX + 1);
	T_ASSERT(strncmp(seen, ID(13), CB_EVENT_ID_HEX) == 0);
	T_EQ_STR(seen + CB_EVENT_ID_HEX + 1, ID(15));
	/* re-signing over the current heads repairs it */
	s = mk(42, "devA", "dr", "S1", "sign", "BL", "F3", "", "");
	data(s, "meaning", "approval");
	data(s, "seen", seen);
	free(seen);
	T_EQ_INT(cb_merge_add(m, s, NULL, NULL), 0);
	T_EQ_INT(cb_merge_form_get(m, "S1", "BL", "F3", "", &f, NULL), 0);
	T_EQ_STR(f.sign->id, ID(42));
	T_ASSERT(!f.broken);
	T_EQ_INT(f.nsigns, 3);
	free_event(s);
	/* a new item on the form after the signature breaks it again */
	s = mk(43, "devB", "lee", "S1", "form.save", "BL", "F3", "", "");
	chg(s, "Z3", "new", 0, 0, 0);
	T_EQ_INT(cb_merge_add(m, s, NULL, NULL), 0);
	T_EQ_INT(cb_merge_form_get(m, "S1", "BL", "F3", "", &f, NULL), 0);
	T_ASSERT(f.broken);
	free_event(s);
	/* an empty form: "" */
	T_EQ_INT(cb_merge_form_seen(m, "S9", "BL", "F3", "", &seen, NULL), 0);
	T_EQ_STR(seen, "");
	free(seen);
	cb_merge_free(m);
	free_set();
}

struct qlist {
	char text[2048];
};

static int list_query(const struct cb_merge_query *q, void *ctx)
{
	struct qlist *l = ctx;
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof(l->text) - n, "%s:%s:%s;",
		 q->system ? "sys" : q->text, cb_query_status_name(q->status),
		 q->item);
	return 0;
}

static void test_queries(void)
{
	struct cb_merge *m;
	struct cb_merge_query q;
	struct qlist l = {""};

	build_set();
	m = merge_of(NULL, nset);
	T_ASSERT(m);
	T_EQ_INT(cb_merge_query_get(m, ID(18), &q, NULL), 0);
	T_EQ_INT(q.status, CB_QUERY_ANSWERED);
	T_EQ_STR(q.item, "VAS");
	T_EQ_STR(q.answer->id, ID(19));
	T_EQ_INT(cb_merge_query_get(m, ID(20), &q, NULL), 0);
	T_EQ_INT(q.status, CB_QUERY_CLOSED);
	T_EQ_STR(q.close->id, ID(21));
	T_EQ_INT(cb_merge_query_get(m, ID(22), &q, NULL), 0);
	T_EQ_INT(q.status, CB_QUERY_OPEN);
	T_EQ_STR(q.text, "still open");
	T_ASSERT(q.reopen == NULL);
	/* reopened, then answered: answered, with no close in effect */
	T_EQ_INT(cb_merge_query_get(m, ID(32), &q, NULL), 0);
	T_EQ_INT(q.status, CB_QUERY_ANSWERED);
	T_ASSERT(q.close == NULL);
	T_EQ_STR(q.reopen->id, ID(34));
	T_EQ_STR(q.answer->id, ID(35));
	/* reopened, then closed twice: closed by the first of those */
	T_EQ_INT(cb_merge_query_get(m, ID(36), &q, NULL), 0);
	T_EQ_INT(q.status, CB_QUERY_CLOSED);
	T_EQ_STR(q.close->id, ID(39));
	T_EQ_STR(q.reopen->id, ID(38));
	T_EQ_INT(cb_merge_query_get(m, ID(19), &q, NULL), CB_ENOTFOUND);
	T_EQ_INT(cb_merge_each_query(m, "S2", list_query, &l, NULL), 0);
	T_EQ_STR(l.text, "consent date?:closed:;still open:open:;which visit "
			 "date?:answered:;age?:closed:;");
	l.text[0] = '\0';
	T_EQ_INT(cb_merge_each_query(m, NULL, list_query, &l, NULL), 0);
	/* two event queries on S1, two on S2, three conflicts */
	T_CONTAINS(l.text, "sys:answered:VAS;");
	T_CONTAINS(l.text, "sys:open:X;");
	cb_merge_free(m);
	free_set();
}

struct hist {
	char text[2048];
};

static int list_change(const struct cb_merge_change *c, void *ctx)
{
	struct hist *h = ctx;
	size_t n = strlen(h->text), i;

	n += (size_t)snprintf(h->text + n, sizeof(h->text) - n, "%s %s %s [",
			      c->ev->user, c->value ? c->value : "null",
			      c->ev->reason);
	for (i = 0; i < c->nold && n < sizeof(h->text); i++)
		n += (size_t)snprintf(
		    h->text + n, sizeof(h->text) - n, "%s,",
		    c->old[i].known
			? (c->old[i].value ? c->old[i].value : "null")
			: "?");
	if (n < sizeof(h->text))
		snprintf(h->text + n, sizeof(h->text) - n, "]%s;",
			 c->head ? "*" : "");
	return 0;
}

static void test_history(void)
{
	struct cb_merge *m;
	struct hist h = {""};
	size_t order[MAXSET], i;

	build_set();
	/* added backwards, listed in clock order */
	for (i = 0; i < nset; i++)
		order[i] = nset - 1 - i;
	m = merge_of(order, nset);
	T_ASSERT(m);
	T_EQ_INT(cb_merge_history(m, "S1", "BL", "VAS", "", "VAS", list_change,
				  &h, NULL),
		 0);
	T_EQ_STR(h.text, "kim 40  [];kim 42 typo [40,]*;"
			 "lee 45 source says 45 [40,]*;");
	h.text[0] = '\0';
	T_EQ_INT(cb_merge_history(m, "S1", "LOG", "AE", "1", "AETERM",
				  list_change, &h, NULL),
		 0);
	T_EQ_STR(h.text, "kim nausea\n\"mild\"  [];kim null entered in error "
			 "[nausea\n\"mild\",]*;");
	h.text[0] = '\0';
	T_EQ_INT(cb_merge_history(m, "S3", "BL", "VAS", "", "VAS", list_change,
				  &h, NULL),
		 0);
	T_EQ_STR(h.text, "lee 7 after sync [?,]*;");
	T_EQ_INT(cb_merge_history(m, "S3", "BL", "VAS", "", "NOPE", list_change,
				  &h, NULL),
		 CB_ENOTFOUND);
	cb_merge_free(m);
	free_set();
}

static int list_form(const struct cb_merge_form *f, void *ctx)
{
	struct hist *h = ctx;
	size_t n = strlen(h->text);

	snprintf(h->text + n, sizeof(h->text) - n, "%s/%s/%s#%s;", f->subject,
		 f->visit, f->form, f->instance);
	return 0;
}

static void test_order_of_walks(void)
{
	struct cb_merge *m;
	struct hist h = {""};

	build_set();
	m = merge_of(NULL, nset);
	T_ASSERT(m);
	T_EQ_INT(cb_merge_each_form(m, "S1", list_form, &h), 0);
	/* instances numerically: 1, 2, 10 */
	T_EQ_STR(h.text, "S1/BL/F3#;S1/BL/VAS#;S1/BL/WOMAC#;S1/LOG/AE#1;"
			 "S1/LOG/AE#2;S1/LOG/AE#10;S1/M1/F2#;");
	cb_merge_free(m);
	free_set();
}

static int list_item(const struct cb_merge_item *it, void *ctx)
{
	struct hist *h = ctx;
	size_t n = strlen(h->text);

	snprintf(h->text + n, sizeof(h->text) - n, "%s/%s#%s/%s=%s;", it->visit,
		 it->form, it->instance, it->item,
		 it->conflict ? "?"
		 : it->value  ? it->value
			      : "-");
	return 0;
}

/*
 * cb_merge_each_item with a form instance named whole walks that form's
 * own items: in byte order of the name whatever order they came in (the
 * store writes them as one text in that order), the same items and
 * values as the walk of the whole state gives for it (instance NULL),
 * nothing of another form or instance.
 */
static void test_form_items(void)
{
	struct hist a = {""}, b = {""};
	struct cb_event *ev[4];
	struct cb_merge *m;
	size_t i;

	ev[0] =
	    mk(1, "D1", "ann", "S1", CB_KIND_FORM_SAVE, "BL", "KOOS", "", "");
	chg(ev[0], "S2", "1", 0, 0, 0);
	chg(ev[0], "P9", "2", 0, 0, 0);
	chg(ev[0], "A1", "3", 0, 0, 0);
	ev[1] = mk(2, "D1", "ann", "S1", CB_KIND_FORM_SAVE, "BL", "KOOS", "",
		   "a correction");
	chg(ev[1], "B7", "4", 0, 0, 0);
	chg(ev[1], "ZZ", "5", 0, 0, 0);
	chg(ev[1], "A1", "6", 1, 0, 0);
	chg(ev[1], "A", "", 0, 0, 0);
	ev[2] =
	    mk(3, "D1", "ann", "S1", CB_KIND_FORM_SAVE, "M1", "KOOS", "", "");
	chg(ev[2], "AA", "7", 0, 0, 0);
	ev[3] =
	    mk(4, "D1", "ann", "S1", CB_KIND_FORM_SAVE, "LOG", "AE", "2", "");
	chg(ev[3], "AETERM", "x", 0, 0, 0);
	T_EQ_INT(cb_merge_new(&m, NULL), 0);
	for (i = 4; i-- > 0;) {
		struct cb_err err;
		int rc = cb_merge_add(m, ev[i], NULL, &err);

		if (rc)
			printf("# event %zu: %s\n", i, err.msg);
		T_EQ_INT(rc, 0);
	}
	T_EQ_INT(cb_merge_each_item(m, "S1", "BL", "KOOS", "", list_item, &a),
		 0);
	T_EQ_STR(a.text, "BL/KOOS#/A=;BL/KOOS#/A1=6;BL/KOOS#/B7=4;"
			 "BL/KOOS#/P9=2;BL/KOOS#/S2=1;BL/KOOS#/ZZ=5;");
	T_EQ_INT(cb_merge_each_item(m, "S1", "BL", "KOOS", NULL, list_item, &b),
		 0);
	T_EQ_STR(a.text, b.text);
	a.text[0] = '\0';
	T_EQ_INT(cb_merge_each_item(m, "S1", "LOG", "AE", "2", list_item, &a),
		 0);
	T_EQ_STR(a.text, "LOG/AE#2/AETERM=x;");
	a.text[0] = '\0';
	T_EQ_INT(cb_merge_each_item(m, "S1", "LOG", "AE", "1", list_item, &a),
		 0);
	T_EQ_INT(cb_merge_each_item(m, "S2", "BL", "KOOS", "", list_item, &a),
		 0);
	T_EQ_STR(a.text, "");
	cb_merge_free(m);
	for (i = 0; i < 4; i++)
		free_event(ev[i]);
}

/*
 * The property: 1,000 random orders of the set, each with random
 * duplicates, give the same dump as the set in its own order; and the
 * dump does notice a missing event.
 */
static void test_random_orders_same_state(void)
{
	size_t order[3 * MAXSET], n, i, round;
	struct cb_merge *m;
	char *ref, *dump;

	build_set();
	ref = dump_of(m = merge_of(NULL, nset));
	cb_merge_free(m);
	T_ASSERT(ref);
	T_CONTAINS(ref, "conflict");
	T_CONTAINS(ref, "signed "
			"00000000000000000000000000000011 valid");
	T_CONTAINS(ref, "signed "
			"0000000000000000000000000000001f broken");

	/* without event 3 (the second VAS head), the state differs */
	for (i = 0, n = 0; i < nset; i++)
		if (i != 2)
			order[n++] = i;
	dump = dump_of(m = merge_of(order, n));
	cb_merge_free(m);
	T_ASSERT(dump && strcmp(dump, ref) != 0);
	free(dump);

	rng = t_seed() | 1;
	for (round = 0; round < 1000; round++) {
		n = nset;
		for (i = 0; i < nset; i++)
			order[i] = i;
		/* duplicates: up to a third more copies of random events */
		for (i = next_rand() % (nset / 3 + 1); i > 0; i--)
			order[n++] = next_rand() % nset;
		for (i = n - 1; i > 0; i--) {
			size_t j = next_rand() % (i + 1), tmp = order[i];

			order[i] = order[j];
			order[j] = tmp;
		}
		m = merge_of(order, n);
		T_ASSERT(m);
		/* reading midway must not change the final state */
		if (round % 2 == 0) {
			struct cb_merge_item it;

			cb_merge_item_get(m, "S1", "BL", "VAS", "", "VAS", &it,
					  NULL);
		}
		dump = dump_of(m);
		T_EQ_INT(cb_merge_count(m), nset);
		cb_merge_free(m);
		if (!dump || strcmp(dump, ref) != 0) {
			T_FAIL_AT("round %zu: dump differs", round);
			free(dump);
			free(ref);
			free_set();
			return;
		}
		free(dump);
	}
	free(ref);
	free_set();
}

/* Also when events are interleaved with reads (incremental settling). */
static void test_incremental_equals_batch(void)
{
	size_t order[MAXSET], i;
	struct cb_merge *m, *batch;
	char *a, *b;

	build_set();
	rng = t_seed() ^ 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < nset; i++)
		order[i] = i;
	for (i = nset - 1; i > 0; i--) {
		size_t j = next_rand() % (i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	T_EQ_INT(cb_merge_new(&m, NULL), 0);
	for (i = 0; i < nset; i++) {
		char *d;

		T_EQ_INT(cb_merge_add(m, set[order[i]], NULL, NULL), 0);
		d = dump_of(m); /* settles after every event */
		T_ASSERT(d);
		free(d);
	}
	batch = merge_of(order, nset);
	a = dump_of(m);
	b = dump_of(batch);
	T_ASSERT(a && b);
	T_EQ_STR(a, b);
	free(a);
	free(b);
	cb_merge_free(m);
	cb_merge_free(batch);
	free_set();
}

/*
 * 20,000 events: 400 subjects, each with 10 items edited in chains, plus
 * concurrent edits; added in a random order. Must finish quickly (it
 * would take minutes if anything were quadratic); the time is printed,
 * not asserted, except for a generous ceiling.
 */
static void test_scale(void)
{
	enum { SUBJ = 400, ITEMS = 10, EDITS = 5 };
	struct cb_event **evs;
	size_t n = 0, i, cap = SUBJ * ITEMS * EDITS;
	struct cb_merge *m;
	struct timespec t0, t1;
	char subj[16], item[16], val[16], *dump;
	double secs;
	unsigned id = 1000;

	evs = calloc(cap, sizeof(*evs));
	T_ASSERT(evs);
	for (i = 0; i < SUBJ; i++) {
		size_t k, e;

		snprintf(subj, sizeof(subj), "S%zu", i);
		for (k = 0; k < ITEMS; k++) {
			unsigned prev = 0;

			snprintf(item, sizeof(item), "I%zu", k);
			for (e = 0; e < EDITS; e++) {
				/* the last edit is concurrent with the 4th */
				unsigned p = e == EDITS - 1 ? prev - 1 : prev;

				snprintf(val, sizeof(val), "%zu", e);
				evs[n] = mk(++id, "d1", "u", subj, "form.save",
					    "BL", "F", "", p ? "edit" : "");
				chg(evs[n], item, val, p, 0, 0);
				n++;
				prev = id;
			}
		}
	}
	rng = t_seed() | 1;
	for (i = n - 1; i > 0; i--) {
		size_t j = next_rand() % (i + 1);
		struct cb_event *tmp = evs[i];

		evs[i] = evs[j];
		evs[j] = tmp;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	T_EQ_INT(cb_merge_new(&m, NULL), 0);
	for (i = 0; i < n; i++)
		T_EQ_INT(cb_merge_add(m, evs[i], NULL, NULL), 0);
	T_EQ_INT(cb_merge_conflict_count(m), SUBJ * ITEMS);
	T_EQ_INT(cb_merge_dump(m, &dump, NULL, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Printed, never asserted (STYLE: no timing in make test; under
	 * make valgrind it takes minutes). */
	printf("# %zu events merged and dumped in %.3f s\n", n, secs);
	free(dump);
	cb_merge_free(m);
	for (i = 0; i < n; i++)
		free_event(evs[i]);
	free(evs);
}

int main(void)
{
	T_RUN(test_one_head_is_the_value);
	T_RUN(test_conflict_has_deterministic_query);
	T_RUN(test_equal_values_converge);
	T_RUN(test_resolution);
	T_RUN(test_duplicates);
	T_RUN(test_take);
	T_RUN(test_last_instance);
	T_RUN(test_signatures);
	T_RUN(test_queries);
	T_RUN(test_history);
	T_RUN(test_order_of_walks);
	T_RUN(test_form_items);
	T_RUN(test_random_orders_same_state);
	T_RUN(test_incremental_equals_batch);
	T_RUN(test_scale);
	return t_done();
}
