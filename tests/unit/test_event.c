/*
 * test_event.c - events: JSON round trip, signature over the canonical
 * encoding, tamper detection on every field, independence from member
 * order, and strict refusal of malformed events.
 */
#include "t.h"

#include "canon.h"
#include "clock.h"
#include "crypto.h"
#include "event.h"
#include "hlc.h"
#include "id.h"
#include "json.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"
#define ID_C "00000000000000000000000000000001"

static struct cb_sign_keypair kp;

/* A valid unsigned form.save event with two changes and a payload. */
static int make_event(struct cb_event *ev)
{
	const char *prev[] = {ID_B, ID_C};
	int rc = 0;

	cb_event_init(ev);
	memcpy(ev->id, ID_A, sizeof(ev->id));
	memcpy(ev->hlc, "019ab697e800002a", sizeof(ev->hlc));
	memcpy(ev->wall, "2026-11-25T12:34:56.789Z", sizeof(ev->wall));
	rc |= cb_event_set_origin(ev, "dev-01", "KR01", "kim", NULL);
	rc |= cb_event_set_target(ev, "KR01-01007", CB_KIND_FORM_SAVE, "BL",
				  "VAS", "", NULL);
	rc |= cb_event_add_change(ev, "VAS", "42", prev, 2, NULL);
	rc |= cb_event_add_change(ev, "VASDTC", NULL, NULL, 0, NULL);
	rc |= cb_event_set_reason(ev, "transcription error", NULL);
	rc |= cb_event_set_data(ev, "source", "paper", NULL);
	rc |= cb_event_set_data(ev, "entry", "\xea\xb9\x80 \"q\"\n", NULL);
	return rc;
}

static char *signing_text(const struct cb_event *ev)
{
	char *out = NULL;
	size_t len;

	if (cb_event_signing_bytes(ev, &out, &len, NULL))
		return NULL;
	return out;
}

static void test_round_trip(void)
{
	struct cb_event ev, back;
	struct cb_err err;
	char *text, *a, *b;

	T_EQ_INT(make_event(&ev), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), 0);
	T_EQ_INT(cb_event_sign(&ev, kp.sk, &err), 0);
	T_EQ_INT(strlen(ev.sig), CB_EVENT_SIG_HEX);
	memcpy(ev.received_at, "2026-11-25T12:35:00.000Z",
	       sizeof(ev.received_at));
	T_EQ_INT(cb_event_print(&ev, &text, &err), 0);
	cb_event_init(&back);
	if (cb_event_parse(text, strlen(text), &back, &err))
		T_FAIL_AT("%s: %s", text, err.msg);
	T_EQ_STR(back.id, ev.id);
	T_EQ_STR(back.sig, ev.sig);
	T_EQ_STR(back.received_at, ev.received_at);
	T_EQ_STR(back.changes[0].prev[1], ID_C);
	T_ASSERT(back.changes[1].value == NULL);
	T_EQ_STR(cb_event_data(&back, "entry"), "\xea\xb9\x80 \"q\"\n");
	T_EQ_INT(cb_event_verify(&back, kp.pk, &err), 0);
	a = signing_text(&ev);
	b = signing_text(&back);
	T_EQ_STR(a, b);
	/* canonical: sorted keys, strings only, no whitespace */
	T_CONTAINS(a, "{\"changes\":[{\"item\":\"VAS\",\"prev\":[");
	T_CONTAINS(a, "{\"item\":\"VASDTC\",\"prev\":[],\"value\":null}");
	T_ASSERT(strstr(a, "\"sig\"") == NULL);
	T_ASSERT(strstr(a, "received_at") == NULL);
	free(a);
	free(b);
	free(text);
	cb_event_release(&back);
	cb_event_release(&ev);
}

static void test_copy(void)
{
	struct cb_event ev, cp;
	char *a, *b;

	T_EQ_INT(make_event(&ev), 0);
	cb_event_init(&cp);
	T_EQ_INT(cb_event_copy(&cp, &ev, NULL), 0);
	cb_event_release(&ev); /* the copy owns its own memory */
	T_EQ_INT(make_event(&ev), 0);
	a = signing_text(&ev);
	b = signing_text(&cp);
	T_ASSERT(a && b);
	T_EQ_STR(a, b);
	free(a);
	free(b);
	cb_event_release(&cp);
	cb_event_release(&ev);
}

/* Each tampering edits one field of a signed event. */
static void tamper(struct cb_event *ev, int which)
{
	switch (which) {
	case 0:
		ev->id[5] = ev->id[5] == 'a' ? 'b' : 'a';
		break;
	case 1:
		ev->device[0] = 'x';
		break;
	case 2:
		ev->site[0] = 'x';
		break;
	case 3:
		ev->user[0] = 'x';
		break;
	case 4:
		ev->hlc[15] = ev->hlc[15] == 'a' ? 'b' : 'a';
		break;
	case 5:
		ev->wall[22] = '0';
		break;
	case 6:
		ev->subject[9] = '9';
		break;
	case 7:
		free(ev->kind);
		ev->kind = strdup(CB_KIND_RANDOMIZE);
		break;
	case 8:
		ev->visit[0] = 'M';
		break;
	case 9:
		ev->form[0] = 'X';
		break;
	case 10:
		free(ev->instance);
		ev->instance = strdup("1");
		break;
	case 11:
		ev->changes[0].item[0] = 'W';
		break;
	case 12:
		ev->changes[0].value[0] = '5';
		break;
	case 13:
		free(ev->changes[0].value);
		ev->changes[0].value = NULL;
		break;
	case 14:
		ev->changes[1].value = strdup("");
		break;
	case 15:
		ev->changes[0].prev[0][0] = 'e';
		break;
	case 16:
		ev->changes[0].nprev = 1;
		break;
	case 17: {
		/* swap the order of prev ids */
		char tmp[CB_EVENT_ID_HEX + 1];

		memcpy(tmp, ev->changes[0].prev[0], sizeof(tmp));
		memcpy(ev->changes[0].prev[0], ev->changes[0].prev[1],
		       sizeof(tmp));
		memcpy(ev->changes[0].prev[1], tmp, sizeof(tmp));
		break;
	}
	case 18:
		ev->reason[0] = 'T';
		break;
	case 19:
		ev->data[1].value[0] = 'P';
		break;
	case 20:
		cb_event_set_data(ev, "extra", "1", NULL);
		break;
	case 21:
		free(ev->changes[1].item);
		free(ev->changes[1].value);
		free(ev->changes[1].prev);
		ev->nchanges = 1;
		break;
	case 22:
		ev->sig[0] = ev->sig[0] == 'a' ? 'b' : 'a';
		break;
	}
}

#define NTAMPER 23

static void test_tamper_breaks_signature(void)
{
	struct cb_event ev;
	struct cb_err err;
	int i;

	for (i = 0; i < NTAMPER; i++) {
		int rc;

		T_EQ_INT(make_event(&ev), 0);
		T_EQ_INT(cb_event_sign(&ev, kp.sk, NULL), 0);
		T_EQ_INT(cb_event_verify(&ev, kp.pk, NULL), 0);
		tamper(&ev, i);
		cb_err_clear(&err);
		rc = cb_event_verify(&ev, kp.pk, &err);
		if (rc != CB_EAUTH) {
			T_FAIL_AT("tampering %d: verify gave %d (%s)", i, rc,
				  err.msg);
			cb_event_release(&ev);
			return;
		}
		cb_event_release(&ev);
	}
	/* received_at is outside the signature: the server sets it */
	T_EQ_INT(make_event(&ev), 0);
	T_EQ_INT(cb_event_sign(&ev, kp.sk, NULL), 0);
	memcpy(ev.received_at, "2026-11-25T12:35:00.000Z",
	       sizeof(ev.received_at));
	T_EQ_INT(cb_event_verify(&ev, kp.pk, NULL), 0);
	/* another device's key does not verify it */
	{
		struct cb_sign_keypair other;

		T_EQ_INT(cb_sign_keypair_new(&other, NULL), 0);
		T_EQ_INT(cb_event_verify(&ev, other.pk, &err), CB_EAUTH);
		cb_sign_keypair_release(&other);
	}
	/* unsigned */
	ev.sig[0] = '\0';
	T_EQ_INT(cb_event_verify(&ev, kp.pk, &err), CB_EAUTH);
	T_CONTAINS(err.msg, "not signed");
	cb_event_release(&ev);
}

/* The same event written with members in another order. */
static const char shuffled[] =
    "{\"data\":{\"source\":\"paper\",\"entry\":\"x\"},"
    "\"changes\":[{\"prev\":[],\"value\":\"42\",\"item\":\"VAS\"}],"
    "\"reason\":\"\",\"kind\":\"form.save\",\"subject\":\"S1\","
    "\"target\":{\"instance\":\"\",\"form\":\"VAS\",\"visit\":\"BL\"},"
    "\"wall\":\"2026-11-25T12:34:56.789Z\",\"hlc\":\"019ab697e800002a\","
    "\"user\":\"kim\",\"site\":\"KR01\",\"device\":\"d1\","
    "\"id\":\"" ID_A "\"}";
static const char ordered[] =
    "{\"id\":\"" ID_A "\",\"device\":\"d1\",\"site\":\"KR01\","
    "\"user\":\"kim\",\"hlc\":\"019ab697e800002a\","
    "\"wall\":\"2026-11-25T12:34:56.789Z\",\"subject\":\"S1\","
    "\"kind\":\"form.save\","
    "\"target\":{\"visit\":\"BL\",\"form\":\"VAS\",\"instance\":\"\"},"
    "\"changes\":[{\"item\":\"VAS\",\"value\":\"42\",\"prev\":[]}],"
    "\"reason\":\"\",\"data\":{\"entry\":\"x\",\"source\":\"paper\"}}";

static void test_canonical_ignores_member_order(void)
{
	struct cb_event a, b;
	struct cb_err err;
	char *ta, *tb;

	cb_event_init(&a);
	cb_event_init(&b);
	if (cb_event_parse(shuffled, strlen(shuffled), &a, &err))
		T_FAIL_AT("%s", err.msg);
	if (cb_event_parse(ordered, strlen(ordered), &b, &err))
		T_FAIL_AT("%s", err.msg);
	ta = signing_text(&a);
	tb = signing_text(&b);
	T_ASSERT(ta && tb);
	T_EQ_STR(ta, tb);
	/* a signature made over one verifies the other */
	T_EQ_INT(cb_event_sign(&a, kp.sk, NULL), 0);
	memcpy(b.sig, a.sig, sizeof(b.sig));
	T_EQ_INT(cb_event_verify(&b, kp.pk, NULL), 0);
	free(ta);
	free(tb);
	cb_event_release(&a);
	cb_event_release(&b);
}

/*
 * Malformed events, each a text substitution into `ordered` (or a whole
 * document), with a fragment the error message must contain.
 */
struct bad_case {
	const char *from, *to; /* replace `from` in `ordered` by `to` */
	const char *msg;
};

static const struct bad_case bad_cases[] = {
    {ID_A, "0123456789ABCDEF0123456789ABCDEF", "$.id"},
    {ID_A, "0123456789abcdef", "$.id"},
    {ID_A "\"", "0123456789abcdef0123456789abcdeg\"", "$.id"},
    {"019ab697e800002a", "019ab697e800002", "$.hlc"},
    {"019ab697e800002a", "019ab697e800002A", "$.hlc"},
    {"\"hlc\":\"019ab697e800002a\"", "\"hlc\":42", "$.hlc"},
    {"form.save", "form.delete", "unknown kind"},
    {"form.save", "Form.save", "$.kind"},
    {"2026-11-25T12:34:56.789Z", "2026-02-30T12:34:56.789Z", "$.wall"},
    {"2026-11-25T12:34:56.789Z", "2026-11-25 12:34:56.789Z", "$.wall"},
    {"\"device\":\"d1\"", "\"device\":\"d 1\"", "$.device"},
    {"\"device\":\"d1\",", "", "$.device: missing"},
    {"\"device\":\"d1\"", "\"device\":\"d1\",\"device\":\"d1\"",
     "member \"device\" more than once"},
    {"\"reason\":\"\"", "\"reason\":\"\",\"extra\":\"1\"", "unknown"},
    {"\"value\":\"42\"", "\"value\":42", "$.changes[0].value"},
    {"\"value\":\"42\"", "\"value\":\"\xff\"", "UTF-8"},
    {"\"value\":\"42\",", "", "$.changes[0].value: missing"},
    {"\"prev\":[]", "\"prev\":[\"abc\"]", "$.changes[0].prev[0]"},
    {"\"prev\":[]", "\"prev\":[\"" ID_A "\"]", "own event"},
    {"\"prev\":[]", "\"prev\":[\"" ID_B "\",\"" ID_B "\"]", "repeats"},
    {"\"prev\":[]", "\"prev\":[\"" ID_B "\"]", "needs a reason"},
    {"\"prev\":[]}]",
     "\"prev\":[]},{\"item\":\"VAS\",\"value\":null,"
     "\"prev\":[]}]",
     "already changed"},
    {"\"changes\":[{\"item\":\"VAS\",\"value\":\"42\",\"prev\":[]}]",
     "\"changes\":[]", "at least one change"},
    {"\"visit\":\"BL\"", "\"visit\":\"\"", "visit and a form"},
    {"\"instance\":\"\"", "\"instance\":\"0\"", "$.target.instance"},
    {"\"instance\":\"\"", "\"instance\":\"01\"", "$.target.instance"},
    {"\"target\":{", "\"target\":{\"x\":\"1\",", "$.target.x"},
    {"\"entry\":\"x\"", "\"entry\":1", "$.data.entry"},
    {"\"entry\":\"x\"", "\"en try\":\"x\"", "$.data"},
    {"\"source\":\"paper\"", "\"entry\":\"y\"",
     "$.data has member \"entry\" more"},
    {"\"changes\":[", "\"changes\":{", "invalid"},
};

/* `ordered` with the first `from` replaced by `to`, malloc'd. */
static char *substitute(const char *from, const char *to)
{
	const char *at = strstr(ordered, from);
	size_t n;
	char *out;

	if (!at)
		return NULL;
	n = strlen(ordered) - strlen(from) + strlen(to) + 1;
	out = malloc(n);
	if (!out)
		return NULL;
	snprintf(out, n, "%.*s%s%s", (int)(at - ordered), ordered, to,
		 at + strlen(from));
	return out;
}

static void test_strict_reading(void)
{
	struct cb_event ev;
	struct cb_err err;
	size_t i;

	cb_event_init(&ev);
	T_EQ_INT(cb_event_parse(ordered, strlen(ordered), &ev, NULL), 0);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		char *text = substitute(bad_cases[i].from, bad_cases[i].to);
		int rc;

		if (!text) {
			T_FAIL_AT("case %zu: cannot substitute", i);
			return;
		}
		cb_err_clear(&err);
		rc = cb_event_parse(text, strlen(text), &ev, &err);
		if (rc != CB_EINVAL || !strstr(err.msg, bad_cases[i].msg)) {
			T_FAIL_AT("case %zu: rc %d, \"%s\" lacks \"%s\"", i, rc,
				  err.msg, bad_cases[i].msg);
			free(text);
			return;
		}
		/* on failure the event is left empty */
		T_ASSERT(ev.device == NULL && ev.id[0] == '\0');
		free(text);
	}
	T_EQ_INT(cb_event_parse("[]", 2, &ev, &err), CB_EINVAL);
	T_EQ_INT(cb_event_parse("{", 1, &ev, &err), CB_EINVAL);
}

static void test_kind_rules(void)
{
	struct cb_event ev;
	struct cb_err err;

	/* a signature needs a meaning and the sorted heads it saw */
	cb_event_init(&ev);
	memcpy(ev.id, ID_A, sizeof(ev.id));
	memcpy(ev.hlc, "019ab697e800002a", sizeof(ev.hlc));
	memcpy(ev.wall, "2026-11-25T12:34:56.789Z", sizeof(ev.wall));
	T_EQ_INT(cb_event_set_origin(&ev, "d1", "KR01", "lee", NULL), 0);
	T_EQ_INT(
	    cb_event_set_target(&ev, "S1", CB_KIND_SIGN, "BL", "VAS", "", NULL),
	    0);
	T_EQ_INT(cb_event_set_reason(&ev, "", NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "$.data.meaning");
	T_EQ_INT(cb_event_set_data(&ev, "meaning", "approval", NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "$.data.seen");
	T_EQ_INT(cb_event_set_data(&ev, "seen", "", NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), 0);
	T_EQ_INT(cb_event_set_data(&ev, "seen", ID_B "," ID_C, NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "sorted");
	T_EQ_INT(cb_event_set_data(&ev, "seen", ID_C "," ID_B, NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), 0);
	T_EQ_INT(cb_event_set_data(&ev, "seen", ID_C "," ID_C, NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
	T_EQ_INT(cb_event_set_data(&ev, "seen", ID_C ",", NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
	T_EQ_INT(cb_event_set_data(&ev, "seen", ID_C, NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), 0);
	/* no changes on a signature */
	T_EQ_INT(cb_event_add_change(&ev, "VAS", "1", NULL, 0, NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "carries no changes");
	cb_event_release(&ev);

	/* query.answer names its query */
	cb_event_init(&ev);
	memcpy(ev.id, ID_A, sizeof(ev.id));
	memcpy(ev.hlc, "019ab697e800002a", sizeof(ev.hlc));
	memcpy(ev.wall, "2026-11-25T12:34:56.789Z", sizeof(ev.wall));
	T_EQ_INT(cb_event_set_origin(&ev, "d1", "KR01", "lee", NULL), 0);
	T_EQ_INT(cb_event_set_target(&ev, "S1", CB_KIND_QUERY_ANSWER, "", "",
				     "", NULL),
		 0);
	T_EQ_INT(cb_event_set_reason(&ev, "", NULL), 0);
	T_EQ_INT(cb_event_set_data(&ev, "text", "checked source", NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "$.data.query");
	T_EQ_INT(cb_event_set_data(&ev, "query", "nope", NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
	T_EQ_INT(cb_event_set_data(&ev, "query", ID_B, NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), 0);
	/* unblinding needs a reason */
	free(ev.kind);
	ev.kind = strdup(CB_KIND_UNBLIND);
	T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "$.reason");
	T_EQ_INT(cb_event_set_reason(&ev, "SAE, treating physician", NULL), 0);
	T_EQ_INT(cb_event_validate(&ev, &err), 0);
	T_ASSERT(cb_event_kind_known("query.close"));
	T_ASSERT(cb_event_kind_known("query.reopen"));
	T_ASSERT(!cb_event_kind_known("query.delete"));
	T_ASSERT(!cb_event_kind_known(NULL));
	cb_event_release(&ev);
}

static void test_setters_refuse(void)
{
	struct cb_event ev;
	struct cb_err err;
	const char *long_prev[] = {ID_A "ff"};
	const char *short_prev[] = {"abc"};

	cb_event_init(&ev);
	/* a too-long id is refused, not silently cut to a valid one */
	T_EQ_INT(cb_event_add_change(&ev, "X", "1", long_prev, 1, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_event_add_change(&ev, "X", "1", short_prev, 1, &err),
		 CB_EINVAL);
	T_EQ_INT(ev.nchanges, 0);
	T_EQ_INT(cb_event_set_data(&ev, "b", "2", NULL), 0);
	T_EQ_INT(cb_event_set_data(&ev, "a", "1", NULL), 0);
	T_EQ_INT(cb_event_set_data(&ev, "b", "3", NULL), 0);
	T_EQ_INT(ev.ndata, 2);
	T_EQ_STR(ev.data[0].key, "a");
	T_EQ_STR(cb_event_data(&ev, "b"), "3");
	T_ASSERT(cb_event_data(&ev, "c") == NULL);
	cb_event_release(&ev);
}

static int64_t fake_ms;

static int64_t fake_source(void *ctx)
{
	(void)ctx;
	return fake_ms;
}

static void test_stamp(void)
{
	struct cb_event a, b;
	struct cb_hlc clock;
	uint64_t ta, tb;

	fake_ms = 1764000000000LL; /* 2025-11-24T16:00:00.000Z */
	cb_clock_set_source(fake_source, NULL);
	cb_hlc_init(&clock, 0);
	T_EQ_INT(make_event(&a), 0);
	T_EQ_INT(make_event(&b), 0);
	T_EQ_INT(cb_event_stamp(&a, &clock, NULL, NULL), 0);
	fake_ms -= 1000; /* the wall clock steps back */
	T_EQ_INT(cb_event_stamp(&b, &clock, NULL, NULL), 0);
	cb_clock_set_source(NULL, NULL);
	T_ASSERT(strcmp(a.id, b.id) != 0);
	T_ASSERT(strcmp(a.id, ID_A) != 0);
	T_EQ_INT(cb_id_valid(a.id), 1);
	T_EQ_STR(a.wall, "2025-11-24T16:00:00.000Z");
	T_EQ_STR(b.wall, "2025-11-24T15:59:59.000Z");
	/* the clock still moves forward, and is what the state holds */
	T_EQ_INT(cb_hlc_parse(a.hlc, &ta, NULL), 0);
	T_EQ_INT(cb_hlc_parse(b.hlc, &tb, NULL), 0);
	T_ASSERT(tb > ta);
	T_ASSERT(strcmp(b.hlc, a.hlc) > 0);
	T_ASSERT(clock.last == tb);
	T_EQ_INT(cb_event_validate(&a, NULL), 0);
	/* Grouped ids: a device's events of one day share the first
	 * bytes, a keyed hash of the day; another day or another key
	 * gives another group (w.h.p.), and the id does not carry the
	 * time in the clear. */
	{
		struct cb_key *k1 = NULL, *k2 = NULL;
		struct cb_event g[4];
		char ms[16];
		int i;

		T_EQ_INT(cb_key_random(CB_KEYED_HASH_KEY_BYTES, &k1, NULL), 0);
		T_EQ_INT(cb_key_random(CB_KEYED_HASH_KEY_BYTES, &k2, NULL), 0);
		cb_clock_set_source(fake_source, NULL);
		for (i = 0; i < 4; i++)
			T_EQ_INT(make_event(&g[i]), 0);
		T_EQ_INT(cb_event_stamp(&g[0], &clock, k1, NULL), 0);
		fake_ms += 3600000; /* an hour later, the same day */
		T_EQ_INT(cb_event_stamp(&g[1], &clock, k1, NULL), 0);
		T_EQ_INT(cb_event_stamp(&g[2], &clock, k2, NULL), 0);
		fake_ms += 86400000; /* the next day */
		T_EQ_INT(cb_event_stamp(&g[3], &clock, k1, NULL), 0);
		cb_clock_set_source(NULL, NULL);
		T_ASSERT(!strncmp(g[0].id, g[1].id, 2 * CB_ID_GROUP_BYTES));
		T_ASSERT(strcmp(g[0].id, g[1].id) != 0);
		T_ASSERT(strncmp(g[0].id, g[2].id, 2 * CB_ID_GROUP_BYTES));
		T_ASSERT(strncmp(g[0].id, g[3].id, 2 * CB_ID_GROUP_BYTES));
		snprintf(ms, sizeof(ms), "%llx",
			 (unsigned long long)(fake_ms - 86400000 - 3600000));
		T_ASSERT(strstr(g[0].id, ms) == NULL);
		for (i = 0; i < 4; i++) {
			T_EQ_INT(cb_id_valid(g[i].id), 1);
			cb_event_release(&g[i]);
		}
		cb_key_free(k1);
		cb_key_free(k2);
	}

	T_EQ_INT(cb_event_validate(&b, NULL), 0);
	cb_event_release(&a);
	cb_event_release(&b);
}

/* ---- the direct writer against the general canonical encoder ---------- */

static unsigned long rnd_state = 88172645463325252ul;

static unsigned rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

/* Random valid UTF-8 text: escapes, control bytes, 2-4 byte sequences. */
static void rnd_text(char *out, size_t cap)
{
	static const char *const pieces[] = {"a",
					     "Z",
					     "0",
					     " ",
					     "\"",
					     "\\",
					     "/",
					     "\n",
					     "\r",
					     "\t",
					     "\b",
					     "\f",
					     "\x01",
					     "\x1f",
					     "\x7f",
					     "\xc3\xa9",
					     "\xea\xb9\x80",
					     "\xf0\x9f\x98\x80",
					     "{",
					     "]",
					     ":",
					     ","};
	size_t n = rnd(12), len = 0, i;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
		size_t pl = strlen(p);

		if (len + pl + 1 > cap)
			break;
		memcpy(out + len, p, pl + 1);
		len += pl;
	}
}

static void rnd_id(char out[CB_EVENT_ID_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < CB_EVENT_ID_HEX; i++)
		out[i] = hex[rnd(16)];
	out[CB_EVENT_ID_HEX] = '\0';
}

/* A random valid form.save event; 0 or -1. */
static int rnd_event(struct cb_event *ev)
{
	static const char *const keys[] = {"entry", "source", "zeta", "a.b",
					   "note"};
	char text[128], item[16], key[16];
	char prev[3][CB_EVENT_ID_HEX + 1];
	const char *prevs[3];
	size_t i, nch = 1 + rnd(4), nd = rnd(4);
	int rc = 0;

	cb_event_init(ev);
	rnd_id(ev->id);
	memcpy(ev->hlc, "019ab697e800002a", sizeof(ev->hlc));
	memcpy(ev->wall, "2026-11-25T12:34:56.789Z", sizeof(ev->wall));
	rc |= cb_event_set_origin(ev, "dev-01", "KR01", "kim", NULL);
	rc |= cb_event_set_target(ev, "KR01-01007", CB_KIND_FORM_SAVE, "BL",
				  "VAS", rnd(2) ? "" : "3", NULL);
	for (i = 0; i < nch; i++) {
		size_t np = rnd(4), j;

		for (j = 0; j < np; j++) {
			rnd_id(prev[j % 3]);
			prevs[j % 3] = prev[j % 3];
		}
		snprintf(item, sizeof(item), "IT%zu", i);
		rnd_text(text, sizeof(text));
		rc |= cb_event_add_change(ev, item, rnd(4) ? text : NULL, prevs,
					  np > 3 ? 3 : np, NULL);
	}
	rnd_text(text, sizeof(text));
	rc |= cb_event_set_reason(ev, text[0] ? text : "why", NULL);
	for (i = 0; i < nd; i++) {
		snprintf(key, sizeof(key), "%s",
			 keys[rnd(sizeof(keys) / sizeof(keys[0]))]);
		rnd_text(text, sizeof(text));
		rc |= cb_event_set_data(ev, key, text, NULL);
	}
	if (rnd(2))
		memcpy(ev->received_at, "2026-11-25T12:35:00.000Z",
		       sizeof(ev->received_at));
	return rc ? -1 : 0;
}

static char *canon_of_tree(const struct cb_event *ev, int with_unsigned)
{
	cJSON *tree = NULL;
	char *out = NULL;
	size_t len;

	if (cb_event_to_json(ev, &tree, NULL))
		return NULL;
	if (!with_unsigned) {
		cJSON_DeleteItemFromObject(tree, "sig");
		cJSON_DeleteItemFromObject(tree, "received_at");
	}
	if (cb_canon_encode(tree, &out, &len, NULL))
		out = NULL;
	cJSON_Delete(tree);
	return out;
}

/*
 * Signing bytes and the printed text are written straight from the
 * struct; over many random events both must be byte for byte the
 * general encoder's canonical encoding of the event's JSON tree, or a
 * signature made by one version would not verify on another.
 */
static void test_writer_matches_canon(void)
{
	struct cb_err err;
	int i;

	for (i = 0; i < 2000; i++) {
		struct cb_event ev;
		char *direct = NULL, *tree = NULL, *printed = NULL,
		     *tree_all = NULL;
		size_t len;

		if (rnd_event(&ev)) {
			T_FAIL_AT("event %d: cannot build", i);
			cb_event_release(&ev);
			return;
		}
		if (i % 3 == 0 && cb_event_sign(&ev, kp.sk, &err))
			T_FAIL_AT("event %d: sign: %s", i, err.msg);
		if (cb_event_signing_bytes(&ev, &direct, &len, &err))
			T_FAIL_AT("event %d: %s", i, err.msg);
		tree = canon_of_tree(&ev, 0);
		T_ASSERT(tree != NULL);
		if (direct && tree && strcmp(direct, tree))
			T_FAIL_AT("event %d:\n direct %s\n canon  %s", i,
				  direct, tree);
		T_EQ_INT(direct ? strlen(direct) : 0, len);
		T_EQ_INT(cb_event_print(&ev, &printed, &err), 0);
		tree_all = canon_of_tree(&ev, 1);
		if (printed && tree_all && strcmp(printed, tree_all))
			T_FAIL_AT("event %d:\n printed %s\n canon   %s", i,
				  printed, tree_all);
		free(direct);
		free(tree);
		free(printed);
		free(tree_all);
		cb_event_release(&ev);
	}
}

int main(void)
{
	if (cb_sign_keypair_new(&kp, NULL)) {
		printf("FAIL keypair: cannot make a key\n");
		return 1;
	}
	T_RUN(test_round_trip);
	T_RUN(test_copy);
	T_RUN(test_tamper_breaks_signature);
	T_RUN(test_canonical_ignores_member_order);
	T_RUN(test_strict_reading);
	T_RUN(test_kind_rules);
	T_RUN(test_setters_refuse);
	T_RUN(test_stamp);
	T_RUN(test_writer_matches_canon);
	cb_sign_keypair_release(&kp);
	return t_done();
}
