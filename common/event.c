/*
 * event.c - the event record: strict reading from JSON, validation,
 * writing to JSON, and the device signature over the canonical encoding.
 *
 * Events arrive from devices we trust only as far as their signatures, so
 * the reader checks every type, every format and every size before it
 * copies anything, and names the JSON path of what it refuses. Signing and
 * verifying both rebuild the signed bytes from the parsed struct rather
 * than reuse the bytes that arrived, so what is verified is exactly what
 * is stored and merged.
 */
#include "event.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "clock.h"
#include "crypto.h"
#include "hlc.h"
#include "id.h"
#include "json.h"
#include "text.h"

/* Longest JSON path written into a message ("$.changes[511].prev[63]"). */
#define PATH_MAX_LEN 64

/*
 * Where a value sits in the event, as base[i]leaf[j] (an index left out
 * when negative, leaf when NULL): "$.changes" 3 ".prev" 1 is
 * "$.changes[3].prev[1]". Rendered only for an error message, so the
 * checks of a valid event never format text.
 */
struct jpath {
	const char *base;
	long i;
	const char *leaf;
	long j;
};

#define JP(s) (&(const struct jpath){(s), -1, NULL, -1})

static const char *jpath_text(const struct jpath *at, char *buf, size_t cap)
{
	char i[24] = "", j[24] = "";

	if (at->i >= 0)
		snprintf(i, sizeof(i), "[%ld]", at->i);
	if (at->j >= 0)
		snprintf(j, sizeof(j), "[%ld]", at->j);
	snprintf(buf, cap, "%s%s%s%s", at->base, i, at->leaf ? at->leaf : "",
		 j);
	return buf;
}

void cb_event_init(struct cb_event *ev)
{
	memset(ev, 0, sizeof(*ev));
}

static void change_release(struct cb_change *ch)
{
	free(ch->item);
	free(ch->value);
	free(ch->prev);
	memset(ch, 0, sizeof(*ch));
}

void cb_event_release(struct cb_event *ev)
{
	size_t i;

	if (!ev)
		return;
	free(ev->device);
	free(ev->site);
	free(ev->user);
	free(ev->subject);
	free(ev->kind);
	free(ev->visit);
	free(ev->form);
	free(ev->instance);
	free(ev->reason);
	for (i = 0; i < ev->nchanges; i++)
		change_release(&ev->changes[i]);
	free(ev->changes);
	for (i = 0; i < ev->ndata; i++) {
		free(ev->data[i].key);
		free(ev->data[i].value);
	}
	free(ev->data);
	cb_event_init(ev);
}

_Static_assert(CB_CLOCK_UTC_LEN == CB_EVENT_TIME_LEN, "time widths differ");
_Static_assert(CB_ID_HEX_LEN == CB_EVENT_ID_HEX, "id widths differ");
_Static_assert(CB_HLC_HEX == CB_EVENT_HLC_HEX, "clock widths differ");

/* The group of an id made on the day of clock value t (event.h). */
static int id_group(const struct cb_key *group_key, uint64_t t,
		    unsigned char group[CB_ID_GROUP_BYTES], struct cb_err *err)
{
	unsigned char day[8], h[CB_KEYED_HASH_BYTES];
	int64_t ms = cb_hlc_ms(t);
	uint64_t d = ms < 0 ? 0 : (uint64_t)ms / 86400000u;
	int i, rc;

	for (i = 0; i < 8; i++)
		day[i] = (unsigned char)(d >> (8 * (7 - i)));
	rc = cb_keyed_hash_with(group_key, day, sizeof(day), h, err);
	if (!rc)
		memcpy(group, h, CB_ID_GROUP_BYTES);
	return rc;
}

int cb_event_stamp(struct cb_event *ev, struct cb_hlc *clock,
		   const struct cb_key *group_key, struct cb_err *err)
{
	char id[CB_ID_HEX_LEN + 1], wall[CB_CLOCK_UTC_BUF];
	unsigned char group[CB_ID_GROUP_BYTES];
	struct cb_hlc saved = *clock;
	uint64_t t;
	int rc;

	if (cb_clock_format_utc(cb_clock_now_ms(), wall))
		return cb_err_set(err, CB_EINVAL,
				  "the wall clock is outside years 1..9999");
	rc = cb_hlc_now(clock, &t, err);
	if (!rc && group_key)
		rc = id_group(group_key, t, group, err);
	if (!rc && (group_key ? cb_id_grouped(group, id) : cb_id_random(id)))
		rc = cb_err_set(err, CB_EIO, "no randomness for an event id");
	if (rc) {
		*clock = saved;
		return rc;
	}
	memcpy(ev->id, id, sizeof(ev->id));
	cb_hlc_format(t, ev->hlc);
	memcpy(ev->wall, wall, sizeof(ev->wall));
	return 0;
}

/* ---- setters ---------------------------------------------------------- */

/* strdup that maps NULL to NULL and reports failure through *failed. */
static char *dup_or_null(const char *s, int *failed)
{
	char *copy;

	if (!s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		*failed = 1;
	return copy;
}

/* Replace the n strings *dst[i] with copies of src[i], all or nothing. */
static int replace_strings(char **const *dst, const char *const *src, size_t n,
			   struct cb_err *err)
{
	char *copies[6];
	int failed = 0;
	size_t i;

	for (i = 0; i < n; i++)
		copies[i] = dup_or_null(src[i], &failed);
	if (failed) {
		for (i = 0; i < n; i++)
			free(copies[i]);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		free(*dst[i]);
		*dst[i] = copies[i];
	}
	return 0;
}

int cb_event_set_origin(struct cb_event *ev, const char *device,
			const char *site, const char *user, struct cb_err *err)
{
	char **const dst[] = {&ev->device, &ev->site, &ev->user};
	const char *const src[] = {device, site, user};

	return replace_strings(dst, src, 3, err);
}

int cb_event_set_target(struct cb_event *ev, const char *subject,
			const char *kind, const char *visit, const char *form,
			const char *instance, struct cb_err *err)
{
	char **const dst[] = {&ev->subject, &ev->kind, &ev->visit, &ev->form,
			      &ev->instance};
	const char *const src[] = {subject, kind, visit, form, instance};

	return replace_strings(dst, src, 5, err);
}

int cb_event_set_reason(struct cb_event *ev, const char *reason,
			struct cb_err *err)
{
	char **const dst[] = {&ev->reason};
	const char *const src[] = {reason};

	return replace_strings(dst, src, 1, err);
}

/*
 * Make room for one more change. Events hold at most CB_EVENT_MAX_CHANGES,
 * so growing one slot at a time costs little and keeps no spare capacity.
 */
static int reserve_change(struct cb_event *ev)
{
	struct cb_change *grown;

	grown = realloc(ev->changes, (ev->nchanges + 1) * sizeof(*grown));
	if (!grown)
		return CB_ENOMEM;
	ev->changes = grown;
	return 0;
}

int cb_event_add_change(struct cb_event *ev, const char *item,
			const char *value, const char *const *prev,
			size_t nprev, struct cb_err *err)
{
	struct cb_change ch;
	int failed = 0;
	size_t i;

	if (ev->nchanges >= CB_EVENT_MAX_CHANGES)
		return cb_err_set(err, CB_EINVAL,
				  "$.changes: more than %d changes",
				  CB_EVENT_MAX_CHANGES);
	if (nprev > CB_EVENT_MAX_PREV)
		return cb_err_set(err, CB_EINVAL,
				  "$.changes[%zu].prev: %zu ids, over the "
				  "limit of %d",
				  ev->nchanges, nprev, CB_EVENT_MAX_PREV);
	for (i = 0; i < nprev; i++)
		if (!prev[i] || strlen(prev[i]) != CB_EVENT_ID_HEX)
			return cb_err_set(err, CB_EINVAL,
					  "$.changes[%zu].prev[%zu]: expected "
					  "an event id of %d characters",
					  ev->nchanges, i, CB_EVENT_ID_HEX);
	memset(&ch, 0, sizeof(ch));
	ch.item = dup_or_null(item, &failed);
	ch.value = dup_or_null(value, &failed);
	if (nprev) {
		ch.prev = calloc(nprev, sizeof(*ch.prev));
		if (!ch.prev)
			failed = 1;
		for (i = 0; ch.prev && i < nprev; i++)
			memcpy(ch.prev[i], prev[i], CB_EVENT_ID_HEX + 1);
		ch.nprev = nprev;
	}
	if (failed || reserve_change(ev)) {
		change_release(&ch);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	ev->changes[ev->nchanges++] = ch;
	return 0;
}

/* Index of `key` in the sorted payload, or where it would go (*found 0). */
static size_t data_find(const struct cb_event *ev, const char *key, int *found)
{
	size_t lo = 0, hi = ev->ndata;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ev->data[mid].key, key);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int cb_event_set_data(struct cb_event *ev, const char *key, const char *value,
		      struct cb_err *err)
{
	struct cb_event_kv *grown;
	char *kcopy, *vcopy;
	int found;
	size_t at;

	if (!key || !value)
		return cb_err_set(err, CB_EINVAL, "$.data: NULL key or value");
	at = data_find(ev, key, &found);
	vcopy = strdup(value);
	if (!vcopy)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	if (found) {
		free(ev->data[at].value);
		ev->data[at].value = vcopy;
		return 0;
	}
	if (ev->ndata >= CB_EVENT_MAX_DATA) {
		free(vcopy);
		return cb_err_set(err, CB_EINVAL,
				  "$.data: more than %d entries",
				  CB_EVENT_MAX_DATA);
	}
	kcopy = strdup(key);
	grown = realloc(ev->data, (ev->ndata + 1) * sizeof(*grown));
	if (!kcopy || !grown) {
		free(kcopy);
		free(vcopy);
		if (grown)
			ev->data = grown;
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	ev->data = grown;
	memmove(&ev->data[at + 1], &ev->data[at],
		(ev->ndata - at) * sizeof(*grown));
	ev->data[at].key = kcopy;
	ev->data[at].value = vcopy;
	ev->ndata++;
	return 0;
}

const char *cb_event_data(const struct cb_event *ev, const char *key)
{
	int found;
	size_t at = data_find(ev, key, &found);

	return found ? ev->data[at].value : NULL;
}

/* ---- validation ------------------------------------------------------- */

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	       c == ':' || c == '@';
}

static int name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= CB_EVENT_NAME_MAX || !name_char(s[i]))
			return 0;
	return i > 0;
}

static int kind_ok(const char *s)
{
	size_t i;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i >= CB_EVENT_KIND_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_'))
			return 0;
	}
	return 1;
}

/* What a kind must carry (see event.h). */
enum {
	K_TARGET = 1 << 0,     /* needs a visit and a form */
	K_CHANGES = 1 << 1,    /* needs at least one change */
	K_MAY_CHANGE = 1 << 2, /* may carry changes */
	K_REASON = 1 << 3,     /* needs a reason */
};

struct kind_rule {
	const char *kind;
	unsigned flags;
	const char *const *need; /* data keys required, NULL-terminated */
};

static const char *const need_sign[] = {CB_DATA_MEANING, CB_DATA_SEEN, NULL};
static const char *const need_text[] = {CB_DATA_TEXT, NULL};
static const char *const need_answer[] = {CB_DATA_QUERY, CB_DATA_TEXT, NULL};
static const char *const need_query[] = {CB_DATA_QUERY, NULL};
static const char *const need_status[] = {CB_DATA_STATUS, NULL};

static const struct kind_rule kind_rules[] = {
    {CB_KIND_FORM_SAVE, K_TARGET | K_CHANGES | K_MAY_CHANGE, NULL},
    {CB_KIND_RANDOMIZE, K_MAY_CHANGE, NULL},
    {CB_KIND_SIGN, K_TARGET, need_sign},
    {CB_KIND_UNBLIND, K_REASON, NULL},
    {CB_KIND_QUERY_OPEN, 0, need_text},
    {CB_KIND_QUERY_ANSWER, 0, need_answer},
    {CB_KIND_QUERY_CLOSE, 0, need_query},
    {CB_KIND_QUERY_REOPEN, 0, need_answer},
    {CB_KIND_SUBJECT_STATUS, 0, need_status},
};

static const struct kind_rule *kind_rule(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(kind_rules) / sizeof(kind_rules[0]); i++)
		if (strcmp(kind_rules[i].kind, kind) == 0)
			return &kind_rules[i];
	return NULL;
}

int cb_event_kind_known(const char *kind)
{
	return kind && kind_rule(kind) != NULL;
}

static int instance_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return 1;
	if (s[0] < '1' || s[0] > '9')
		return 0;
	for (i = 1; s[i]; i++)
		if (i >= CB_EVENT_INSTANCE_MAX || s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Value of n decimal digits at s, or -1. */
static int digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Exactly "YYYY-MM-DDTHH:MM:SS.mmmZ", a real date, UTC. */
static int time_ok(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, se, ms, leap, maxd;

	if (strlen(s) != CB_EVENT_TIME_LEN || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
	    s[23] != 'Z')
		return 0;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	se = digits(s + 17, 2);
	ms = digits(s + 20, 3);
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || se < 0 || se > 59 || ms < 0)
		return 0;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	maxd = mdays[mo - 1] + (mo == 2 && leap);
	return d <= maxd;
}

/* Check a text field: present, at most max bytes, valid UTF-8. */
static int text_check(const char *s, const struct jpath *at, size_t max,
		      size_t *total, struct cb_err *err)
{
	char path[PATH_MAX_LEN];
	size_t len;

	if (!s)
		return cb_err_set(err, CB_EINVAL, "%s: missing",
				  jpath_text(at, path, sizeof(path)));
	len = strlen(s);
	if (len > max)
		return cb_err_set(err, CB_EINVAL,
				  "%s: %zu bytes, over the limit of %zu",
				  jpath_text(at, path, sizeof(path)), len, max);
	if (!cb_utf8_valid(s, len))
		return cb_err_set(err, CB_EINVAL, "%s: not valid UTF-8",
				  jpath_text(at, path, sizeof(path)));
	*total += len;
	return 0;
}

static int name_check(const char *s, const struct jpath *at, int may_be_empty,
		      size_t *total, struct cb_err *err)
{
	char path[PATH_MAX_LEN];

	if (!s)
		return cb_err_set(err, CB_EINVAL, "%s: missing",
				  jpath_text(at, path, sizeof(path)));
	if (may_be_empty && s[0] == '\0')
		return 0;
	if (!name_ok(s))
		return cb_err_set(err, CB_EINVAL,
				  "%s: expected a name of 1 to %d letters, "
				  "digits or \"._-:@\"",
				  jpath_text(at, path, sizeof(path)),
				  CB_EVENT_NAME_MAX);
	*total += strlen(s);
	return 0;
}

static int change_check(const struct cb_event *ev, size_t ci, size_t *total,
			struct cb_err *err)
{
	const struct cb_change *ch = &ev->changes[ci];
	struct jpath at = {"$.changes", (long)ci, ".item", -1};
	char path[PATH_MAX_LEN];
	size_t i, j;
	int rc;

	rc = name_check(ch->item, &at, 0, total, err);
	if (rc)
		return rc;
	for (j = 0; j < ci; j++)
		if (strcmp(ev->changes[j].item, ch->item) == 0)
			return cb_err_set(err, CB_EINVAL,
					  "%s: item %s is already changed by "
					  "$.changes[%zu]",
					  jpath_text(&at, path, sizeof(path)),
					  ch->item, j);
	if (ch->value) {
		at.leaf = ".value";
		rc = text_check(ch->value, &at, CB_EVENT_VALUE_MAX, total, err);
		if (rc)
			return rc;
	}
	if (ch->nprev > CB_EVENT_MAX_PREV)
		return cb_err_set(err, CB_EINVAL,
				  "$.changes[%zu].prev: %zu ids, over the "
				  "limit of %d",
				  ci, ch->nprev, CB_EVENT_MAX_PREV);
	at.leaf = ".prev";
	for (i = 0; i < ch->nprev; i++) {
		at.j = (long)i;
		if (!cb_hex_lower(ch->prev[i], CB_EVENT_ID_HEX))
			return cb_err_set(err, CB_EINVAL,
					  "%s: expected an event id of %d "
					  "lowercase hex digits",
					  jpath_text(&at, path, sizeof(path)),
					  CB_EVENT_ID_HEX);
		if (strcmp(ch->prev[i], ev->id) == 0)
			return cb_err_set(err, CB_EINVAL,
					  "%s: a change cannot supersede its "
					  "own event",
					  jpath_text(&at, path, sizeof(path)));
		for (j = 0; j < i; j++)
			if (strcmp(ch->prev[j], ch->prev[i]) == 0)
				return cb_err_set(
				    err, CB_EINVAL, "%s: repeats prev[%zu]",
				    jpath_text(&at, path, sizeof(path)), j);
		*total += CB_EVENT_ID_HEX;
	}
	return 0;
}

/* data.seen: sorted, distinct event ids joined by commas, or "". */
static int seen_ok(const char *s)
{
	const char *prev = NULL;

	if (!*s)
		return 1;
	for (;;) {
		if (!cb_hex_lower_prefix(s, CB_EVENT_ID_HEX))
			return 0;
		if (prev && memcmp(prev, s, CB_EVENT_ID_HEX) >= 0)
			return 0;
		prev = s;
		s += CB_EVENT_ID_HEX;
		if (*s == '\0')
			return 1;
		if (*s++ != ',')
			return 0;
	}
}

/* The rules of ev->kind (see event.h); the fields are already checked. */
static int kind_check(const struct cb_event *ev, struct cb_err *err)
{
	const struct kind_rule *rule = kind_rule(ev->kind);
	const char *v;
	size_t i;

	if (!rule)
		return cb_err_set(err, CB_EINVAL, "$.kind: unknown kind \"%s\"",
				  ev->kind);
	if ((rule->flags & K_TARGET) &&
	    (ev->visit[0] == '\0' || ev->form[0] == '\0'))
		return cb_err_set(err, CB_EINVAL,
				  "$.target: a %s event needs a visit and a "
				  "form",
				  ev->kind);
	if ((rule->flags & K_CHANGES) && ev->nchanges == 0)
		return cb_err_set(err, CB_EINVAL,
				  "$.changes: a %s event needs at least one "
				  "change",
				  ev->kind);
	if (!(rule->flags & K_MAY_CHANGE) && ev->nchanges)
		return cb_err_set(err, CB_EINVAL,
				  "$.changes: a %s event carries no changes",
				  ev->kind);
	if ((rule->flags & K_REASON) && ev->reason[0] == '\0')
		return cb_err_set(err, CB_EINVAL,
				  "$.reason: a %s event needs a reason",
				  ev->kind);
	for (i = 0; rule->need && rule->need[i]; i++)
		if (!cb_event_data(ev, rule->need[i]))
			return cb_err_set(err, CB_EINVAL,
					  "$.data.%s: missing (a %s event "
					  "needs it)",
					  rule->need[i], ev->kind);
	v = cb_event_data(ev, CB_DATA_SEEN);
	if (strcmp(ev->kind, CB_KIND_SIGN) == 0 && !seen_ok(v))
		return cb_err_set(err, CB_EINVAL,
				  "$.data.seen: expected sorted, distinct "
				  "event ids separated by commas");
	v = cb_event_data(ev, CB_DATA_QUERY);
	if (v && strncmp(ev->kind, "query.", 6) == 0 &&
	    !cb_hex_lower(v, CB_EVENT_ID_HEX))
		return cb_err_set(err, CB_EINVAL,
				  "$.data.query: expected a query id of %d "
				  "lowercase hex digits",
				  CB_EVENT_ID_HEX);
	v = cb_event_data(ev, CB_DATA_ITEM);
	if (v && strcmp(ev->kind, CB_KIND_QUERY_OPEN) == 0) {
		if (!name_ok(v))
			return cb_err_set(err, CB_EINVAL,
					  "$.data.item: expected an item code");
		if (ev->visit[0] == '\0' || ev->form[0] == '\0')
			return cb_err_set(err, CB_EINVAL,
					  "$.target: a query on an item needs "
					  "a visit and a form");
	}
	for (i = 0; i < ev->nchanges; i++)
		if (ev->changes[i].nprev && ev->reason[0] == '\0')
			return cb_err_set(
			    err, CB_EINVAL,
			    "$.reason: $.changes[%zu] replaces a "
			    "saved value of %s and needs a reason",
			    i, ev->changes[i].item);
	return 0;
}

int cb_event_check_text(const struct cb_event *ev, struct cb_err *err)
{
	char what[96];
	size_t i;
	int rc;

	if (ev->reason && ev->reason[0]) {
		if (cb_text_blank(ev->reason))
			return cb_err_set(err, CB_EINVAL,
					  "$.reason: a reason of only spaces "
					  "says nothing; give the reason");
		rc = cb_text_check(ev->reason, strlen(ev->reason), "$.reason",
				   err);
		if (rc)
			return rc;
	}
	/* A value's path is only printed when the value is refused: checked
	 * first without it, as a push checks thousands. */
	for (i = 0; i < ev->nchanges; i++) {
		const char *v = ev->changes[i].value;

		if (!v || !cb_text_check(v, strlen(v), "", err))
			continue;
		snprintf(what, sizeof(what), "$.changes[%zu].value (%s)", i,
			 ev->changes[i].item ? ev->changes[i].item : "?");
		return cb_text_check(v, strlen(v), what, err);
	}
	for (i = 0; i < ev->ndata; i++) {
		const char *v = ev->data[i].value;

		if (!v || !cb_text_check(v, strlen(v), "", err))
			continue;
		snprintf(what, sizeof(what), "$.data.%s", ev->data[i].key);
		return cb_text_check(v, strlen(v), what, err);
	}
	return 0;
}

int cb_event_validate(const struct cb_event *ev, struct cb_err *err)
{
	const char *const names[] = {ev->device, ev->site, ev->user,
				     ev->subject};
	const char *const name_paths[] = {"$.device", "$.site", "$.user",
					  "$.subject"};
	size_t total = 0, i;
	int rc;

	if (!cb_hex_lower(ev->id, CB_EVENT_ID_HEX))
		return cb_err_set(err, CB_EINVAL,
				  "$.id: expected %d lowercase hex digits",
				  CB_EVENT_ID_HEX);
	for (i = 0; i < 4; i++) {
		rc = name_check(names[i], JP(name_paths[i]), 0, &total, err);
		if (rc)
			return rc;
	}
	if (!cb_hex_lower(ev->hlc, CB_EVENT_HLC_HEX))
		return cb_err_set(err, CB_EINVAL,
				  "$.hlc: expected %d lowercase hex digits",
				  CB_EVENT_HLC_HEX);
	if (!time_ok(ev->wall))
		return cb_err_set(err, CB_EINVAL,
				  "$.wall: expected a UTC time like "
				  "2026-11-25T12:34:56.789Z");
	if (!ev->kind)
		return cb_err_set(err, CB_EINVAL, "$.kind: missing");
	if (!kind_ok(ev->kind))
		return cb_err_set(err, CB_EINVAL,
				  "$.kind: expected 1 to %d lowercase letters, "
				  "digits, '.' or '_', starting with a letter",
				  CB_EVENT_KIND_MAX);
	rc = name_check(ev->visit, JP("$.target.visit"), 1, &total, err);
	if (!rc)
		rc = name_check(ev->form, JP("$.target.form"), 1, &total, err);
	if (rc)
		return rc;
	if (!ev->instance)
		return cb_err_set(err, CB_EINVAL, "$.target.instance: missing");
	if (!instance_ok(ev->instance))
		return cb_err_set(err, CB_EINVAL,
				  "$.target.instance: expected \"\" or a "
				  "repeat number 1 to 999999999");
	if (ev->nchanges > CB_EVENT_MAX_CHANGES)
		return cb_err_set(
		    err, CB_EINVAL,
		    "$.changes: %zu changes, over the limit of %d",
		    ev->nchanges, CB_EVENT_MAX_CHANGES);
	if (ev->nchanges && (ev->visit[0] == '\0' || ev->form[0] == '\0'))
		return cb_err_set(err, CB_EINVAL,
				  "$.target: item changes need a visit and a "
				  "form");
	for (i = 0; i < ev->nchanges; i++) {
		rc = change_check(ev, i, &total, err);
		if (rc)
			return rc;
	}
	rc = text_check(ev->reason, JP("$.reason"), CB_EVENT_REASON_MAX, &total,
			err);
	if (rc)
		return rc;
	if (ev->ndata > CB_EVENT_MAX_DATA)
		return cb_err_set(err, CB_EINVAL,
				  "$.data: %zu entries, over the limit of %d",
				  ev->ndata, CB_EVENT_MAX_DATA);
	for (i = 0; i < ev->ndata; i++) {
		struct jpath at = {"$.data", (long)i, NULL, -1};

		rc = name_check(ev->data[i].key, &at, 0, &total, err);
		if (rc)
			return rc;
		if (i > 0 && strcmp(ev->data[i - 1].key, ev->data[i].key) >= 0)
			return cb_err_set(err, CB_EINVAL,
					  "$.data.%s: keys out of order or "
					  "repeated",
					  ev->data[i].key);
		at = (struct jpath){"$.data.", -1, ev->data[i].key, -1};
		rc = text_check(ev->data[i].value, &at, CB_EVENT_VALUE_MAX,
				&total, err);
		if (rc)
			return rc;
	}
	if (ev->sig[0] && !cb_hex_lower(ev->sig, CB_EVENT_SIG_HEX))
		return cb_err_set(err, CB_EINVAL,
				  "$.sig: expected %d lowercase hex digits",
				  CB_EVENT_SIG_HEX);
	if (ev->received_at[0] && !time_ok(ev->received_at))
		return cb_err_set(err, CB_EINVAL,
				  "$.received_at: expected a UTC time like "
				  "2026-11-25T12:34:56.789Z");
	if (total > CB_EVENT_MAX_BYTES)
		return cb_err_set(err, CB_EINVAL,
				  "$: %zu bytes of text, over the limit of %d",
				  total, CB_EVENT_MAX_BYTES);
	return kind_check(ev, err);
}

/* ---- reading JSON ----------------------------------------------------- */

/*
 * Member names are echoed in messages; keep them printable and short so a
 * hostile key cannot put control characters into a log line.
 */
static const char *printable(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < cap; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/*
 * Check that `obj` is an object whose members all appear in keys[0..n-1],
 * each at most once, and store them in found[]. `at` names obj.
 */
static int members(const cJSON *obj, const struct jpath *at,
		   const char *const *keys, size_t n, const cJSON **found,
		   struct cb_err *err)
{
	char shown[48], path[PATH_MAX_LEN];
	const cJSON *it;
	size_t i;

	if (!cJSON_IsObject(obj))
		return cb_err_set(
		    err, CB_EINVAL, "%s: expected an object, found %s",
		    jpath_text(at, path, sizeof(path)), cb_json_type_name(obj));
	for (i = 0; i < n; i++)
		found[i] = NULL;
	cJSON_ArrayForEach(it, obj)
	{
		for (i = 0; i < n; i++)
			if (strcmp(it->string, keys[i]) == 0)
				break;
		if (i == n)
			return cb_err_set(
			    err, CB_EINVAL, "%s.%s: unknown member",
			    jpath_text(at, path, sizeof(path)),
			    printable(it->string, shown, sizeof(shown)));
		if (found[i])
			return cb_err_set(
			    err, CB_EINVAL, "%s.%s: member appears twice",
			    jpath_text(at, path, sizeof(path)), keys[i]);
		found[i] = it;
	}
	return 0;
}

/* A required string member of at most max bytes, copied into *out. */
static int take_str(const cJSON *it, const struct jpath *at, size_t max,
		    char **out, struct cb_err *err)
{
	char path[PATH_MAX_LEN];
	size_t len;

	if (!it)
		return cb_err_set(err, CB_EINVAL, "%s: missing",
				  jpath_text(at, path, sizeof(path)));
	if (!cJSON_IsString(it) || !it->valuestring)
		return cb_err_set(
		    err, CB_EINVAL, "%s: expected a string, found %s",
		    jpath_text(at, path, sizeof(path)), cb_json_type_name(it));
	len = strlen(it->valuestring);
	if (len > max)
		return cb_err_set(err, CB_EINVAL,
				  "%s: %zu bytes, over the limit of %zu",
				  jpath_text(at, path, sizeof(path)), len, max);
	*out = strdup(it->valuestring);
	if (!*out)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	return 0;
}

/* A fixed-width text member copied into buf (width + 1 bytes). */
static int take_fixed(const cJSON *it, const struct jpath *at, char *buf,
		      size_t width, int required, struct cb_err *err)
{
	char path[PATH_MAX_LEN];

	if (!it) {
		buf[0] = '\0';
		return required ? cb_err_set(err, CB_EINVAL, "%s: missing",
					     jpath_text(at, path, sizeof(path)))
				: 0;
	}
	if (!cJSON_IsString(it) || !it->valuestring)
		return cb_err_set(
		    err, CB_EINVAL, "%s: expected a string, found %s",
		    jpath_text(at, path, sizeof(path)), cb_json_type_name(it));
	if (strlen(it->valuestring) != width)
		return cb_err_set(err, CB_EINVAL, "%s: expected %zu characters",
				  jpath_text(at, path, sizeof(path)), width);
	memcpy(buf, it->valuestring, width + 1);
	return 0;
}

static int array_of(const cJSON *it, const struct jpath *at, size_t max,
		    size_t *count, struct cb_err *err)
{
	char path[PATH_MAX_LEN];
	int n;

	if (!it)
		return cb_err_set(err, CB_EINVAL, "%s: missing",
				  jpath_text(at, path, sizeof(path)));
	if (!cJSON_IsArray(it))
		return cb_err_set(
		    err, CB_EINVAL, "%s: expected an array, found %s",
		    jpath_text(at, path, sizeof(path)), cb_json_type_name(it));
	n = cJSON_GetArraySize(it);
	if (n < 0 || (size_t)n > max)
		return cb_err_set(err, CB_EINVAL,
				  "%s: %d entries, over the limit of %zu",
				  jpath_text(at, path, sizeof(path)), n, max);
	*count = (size_t)n;
	return 0;
}

static int change_from_json(const cJSON *obj, size_t ci, struct cb_change *ch,
			    struct cb_err *err)
{
	static const char *const keys[] = {"item", "value", "prev"};
	struct jpath at = {"$.changes", (long)ci, NULL, -1};
	const cJSON *m[3], *p;
	char path[PATH_MAX_LEN];
	size_t n, i = 0;
	int rc;

	rc = members(obj, &at, keys, 3, m, err);
	if (rc)
		return rc;
	at.leaf = ".item";
	rc = take_str(m[0], &at, CB_EVENT_NAME_MAX, &ch->item, err);
	if (rc)
		return rc;
	at.leaf = ".value";
	if (!m[1])
		return cb_err_set(err, CB_EINVAL, "%s: missing",
				  jpath_text(&at, path, sizeof(path)));
	if (!cJSON_IsNull(m[1])) {
		if (!cJSON_IsString(m[1]))
			return cb_err_set(err, CB_EINVAL,
					  "%s: expected a string or null, "
					  "found %s",
					  jpath_text(&at, path, sizeof(path)),
					  cb_json_type_name(m[1]));
		rc = take_str(m[1], &at, CB_EVENT_VALUE_MAX, &ch->value, err);
		if (rc)
			return rc;
	}
	at.leaf = ".prev";
	rc = array_of(m[2], &at, CB_EVENT_MAX_PREV, &n, err);
	if (rc)
		return rc;
	if (n) {
		ch->prev = calloc(n, sizeof(*ch->prev));
		if (!ch->prev)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cJSON_ArrayForEach(p, m[2])
	{
		assert(i < n); /* array_of counted them */
		at.j = (long)i;
		rc = take_fixed(p, &at, ch->prev[i], CB_EVENT_ID_HEX, 1, err);
		if (rc)
			return rc;
		ch->nprev = ++i;
	}
	return 0;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cb_event_kv *)a)->key,
		      ((const struct cb_event_kv *)b)->key);
}

static int data_from_json(const cJSON *obj, struct cb_event *ev,
			  struct cb_err *err)
{
	const cJSON *it;
	char path[PATH_MAX_LEN], shown[48];
	int n, rc;
	size_t i;

	if (!obj)
		return 0;
	if (!cJSON_IsObject(obj))
		return cb_err_set(err, CB_EINVAL,
				  "$.data: expected an object, found %s",
				  cb_json_type_name(obj));
	n = cJSON_GetArraySize(obj);
	if (n > CB_EVENT_MAX_DATA)
		return cb_err_set(err, CB_EINVAL,
				  "$.data: %d entries, over the limit of %d", n,
				  CB_EVENT_MAX_DATA);
	if (n == 0)
		return 0;
	ev->data = calloc((size_t)n, sizeof(*ev->data));
	if (!ev->data)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, obj)
	{
		const struct jpath at = {
		    "$.data.", -1, printable(it->string, shown, sizeof(shown)),
		    -1};

		if (strlen(it->string) > CB_EVENT_NAME_MAX ||
		    !name_ok(it->string))
			return cb_err_set(err, CB_EINVAL,
					  "%s: expected a key of 1 to %d "
					  "letters, digits or \"._-:@\"",
					  jpath_text(&at, path, sizeof(path)),
					  CB_EVENT_NAME_MAX);
		ev->data[ev->ndata].key = strdup(it->string);
		if (!ev->data[ev->ndata].key)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		ev->ndata++;
		rc = take_str(it, &at, CB_EVENT_VALUE_MAX,
			      &ev->data[ev->ndata - 1].value, err);
		if (rc)
			return rc;
	}
	qsort(ev->data, ev->ndata, sizeof(*ev->data), kv_cmp);
	for (i = 1; i < ev->ndata; i++)
		if (strcmp(ev->data[i - 1].key, ev->data[i].key) == 0)
			return cb_err_set(err, CB_EINVAL,
					  "$.data.%s: member appears twice",
					  ev->data[i].key);
	return 0;
}

enum {
	M_ID,
	M_DEVICE,
	M_SITE,
	M_USER,
	M_HLC,
	M_WALL,
	M_SUBJECT,
	M_KIND,
	M_TARGET,
	M_CHANGES,
	M_REASON,
	M_DATA,
	M_SIG,
	M_RECEIVED,
	M_COUNT
};

static int parse_event(const cJSON *json, struct cb_event *ev,
		       struct cb_err *err)
{
	static const char *const keys[M_COUNT] = {
	    "id",     "device",	 "site", "user",       "hlc",
	    "wall",   "subject", "kind", "target",     "changes",
	    "reason", "data",	 "sig",	 "received_at"};
	static const char *const tkeys[] = {"visit", "form", "instance"};
	const cJSON *m[M_COUNT], *t[3], *c;
	size_t n, i = 0;
	int rc;

	rc = members(json, JP("$"), keys, M_COUNT, m, err);
	if (rc)
		return rc;
	if ((rc = take_fixed(m[M_ID], JP("$.id"), ev->id, CB_EVENT_ID_HEX, 1,
			     err)) ||
	    (rc = take_str(m[M_DEVICE], JP("$.device"), CB_EVENT_NAME_MAX,
			   &ev->device, err)) ||
	    (rc = take_str(m[M_SITE], JP("$.site"), CB_EVENT_NAME_MAX,
			   &ev->site, err)) ||
	    (rc = take_str(m[M_USER], JP("$.user"), CB_EVENT_NAME_MAX,
			   &ev->user, err)) ||
	    (rc = take_fixed(m[M_HLC], JP("$.hlc"), ev->hlc, CB_EVENT_HLC_HEX,
			     1, err)) ||
	    (rc = take_fixed(m[M_WALL], JP("$.wall"), ev->wall,
			     CB_EVENT_TIME_LEN, 1, err)) ||
	    (rc = take_str(m[M_SUBJECT], JP("$.subject"), CB_EVENT_NAME_MAX,
			   &ev->subject, err)) ||
	    (rc = take_str(m[M_KIND], JP("$.kind"), CB_EVENT_KIND_MAX,
			   &ev->kind, err)))
		return rc;
	if (!m[M_TARGET])
		return cb_err_set(err, CB_EINVAL, "$.target: missing");
	if ((rc = members(m[M_TARGET], JP("$.target"), tkeys, 3, t, err)) ||
	    (rc = take_str(t[0], JP("$.target.visit"), CB_EVENT_NAME_MAX,
			   &ev->visit, err)) ||
	    (rc = take_str(t[1], JP("$.target.form"), CB_EVENT_NAME_MAX,
			   &ev->form, err)) ||
	    (rc = take_str(t[2], JP("$.target.instance"), CB_EVENT_INSTANCE_MAX,
			   &ev->instance, err)))
		return rc;
	rc = array_of(m[M_CHANGES], JP("$.changes"), CB_EVENT_MAX_CHANGES, &n,
		      err);
	if (rc)
		return rc;
	if (n) {
		ev->changes = calloc(n, sizeof(*ev->changes));
		if (!ev->changes)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cJSON_ArrayForEach(c, m[M_CHANGES])
	{
		ev->nchanges = ++i;
		rc = change_from_json(c, i - 1, &ev->changes[i - 1], err);
		if (rc)
			return rc;
	}
	if ((rc = take_str(m[M_REASON], JP("$.reason"), CB_EVENT_REASON_MAX,
			   &ev->reason, err)) ||
	    (rc = data_from_json(m[M_DATA], ev, err)) ||
	    (rc = take_fixed(m[M_SIG], JP("$.sig"), ev->sig, CB_EVENT_SIG_HEX,
			     0, err)) ||
	    (rc = take_fixed(m[M_RECEIVED], JP("$.received_at"),
			     ev->received_at, CB_EVENT_TIME_LEN, 0, err)))
		return rc;
	return cb_event_validate(ev, err);
}

int cb_event_from_json(const cJSON *json, struct cb_event *ev,
		       struct cb_err *err)
{
	int rc;

	/* cb_event_release takes NULL; parsing needs an event to fill. */
	assert(ev);
	cb_event_release(ev);
	rc = parse_event(json, ev, err);
	if (rc)
		cb_event_release(ev);
	return rc;
}

/* ---- writing JSON and signing ----------------------------------------- */

static int add_str(cJSON *obj, const char *key, const char *value)
{
	return cJSON_AddStringToObject(obj, key, value ? value : "") ? 0 : -1;
}

/* The JSON form as a tree, sig and received_at included when set. */
static cJSON *build_json(const struct cb_event *ev)
{
	cJSON *root, *target, *changes, *data, *ch, *prev;
	size_t i, j;
	int bad = 0;

	root = cJSON_CreateObject();
	if (!root)
		return NULL;
	bad |= add_str(root, "id", ev->id);
	bad |= add_str(root, "device", ev->device);
	bad |= add_str(root, "site", ev->site);
	bad |= add_str(root, "user", ev->user);
	bad |= add_str(root, "hlc", ev->hlc);
	bad |= add_str(root, "wall", ev->wall);
	bad |= add_str(root, "subject", ev->subject);
	bad |= add_str(root, "kind", ev->kind);
	target = cJSON_AddObjectToObject(root, "target");
	if (!target)
		goto fail;
	bad |= add_str(target, "visit", ev->visit);
	bad |= add_str(target, "form", ev->form);
	bad |= add_str(target, "instance", ev->instance);
	changes = cJSON_AddArrayToObject(root, "changes");
	if (!changes)
		goto fail;
	for (i = 0; i < ev->nchanges && !bad; i++) {
		const struct cb_change *c = &ev->changes[i];

		ch = cJSON_CreateObject();
		if (!ch || !cJSON_AddItemToArray(changes, ch)) {
			cJSON_Delete(ch);
			goto fail;
		}
		bad |= add_str(ch, "item", c->item);
		if (c->value)
			bad |= add_str(ch, "value", c->value);
		else if (!cJSON_AddNullToObject(ch, "value"))
			goto fail;
		prev = cJSON_AddArrayToObject(ch, "prev");
		if (!prev)
			goto fail;
		for (j = 0; j < c->nprev; j++) {
			cJSON *s = cJSON_CreateString(c->prev[j]);

			if (!s || !cJSON_AddItemToArray(prev, s)) {
				cJSON_Delete(s);
				goto fail;
			}
		}
	}
	bad |= add_str(root, "reason", ev->reason);
	data = cJSON_AddObjectToObject(root, "data");
	if (!data)
		goto fail;
	for (i = 0; i < ev->ndata; i++)
		bad |= add_str(data, ev->data[i].key, ev->data[i].value);
	if (ev->sig[0])
		bad |= add_str(root, "sig", ev->sig);
	if (ev->received_at[0])
		bad |= add_str(root, "received_at", ev->received_at);
	if (bad)
		goto fail;
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

int cb_event_to_json(const struct cb_event *ev, cJSON **out, struct cb_err *err)
{
	*out = build_json(ev);
	return *out ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
}

/*
 * Write the event as canonical JSON (canon.h) straight from the struct:
 * members in key byte order, no tree in between. The unsigned members
 * (received_at, sig) only when `with_unsigned`. The event must have
 * passed cb_event_validate for the result to be canonical (every string
 * valid UTF-8, data keys in order): then it is byte for byte what
 * cb_canon_encode gives for the event's JSON form (test_event checks that
 * both agree).
 */
static int write_event(const struct cb_event *ev, int with_unsigned,
		       struct cb_canon_buf *b)
{
	size_t i, j;
	int rc = 0;

#define RAW(s) (rc = rc ? rc : cb_canon_put(b, s, sizeof(s) - 1))
#define STR(s) (rc = rc ? rc : cb_canon_put_string(b, (s) ? (s) : ""))
#define MEMBER(k, v) (RAW(k), STR(v)) /* k: the text before the value */
	RAW("{\"changes\":[");
	for (i = 0; i < ev->nchanges; i++) {
		const struct cb_change *c = &ev->changes[i];

		if (i)
			RAW(",");
		MEMBER("{\"item\":", c->item);
		RAW(",\"prev\":[");
		for (j = 0; j < c->nprev; j++) {
			if (j)
				RAW(",");
			STR(c->prev[j]);
		}
		RAW("],\"value\":");
		if (c->value)
			STR(c->value);
		else
			RAW("null");
		RAW("}");
	}
	RAW("],\"data\":{");
	for (i = 0; i < ev->ndata; i++) {
		if (i)
			RAW(",");
		STR(ev->data[i].key);
		MEMBER(":", ev->data[i].value);
	}
	MEMBER("},\"device\":", ev->device);
	MEMBER(",\"hlc\":", ev->hlc);
	MEMBER(",\"id\":", ev->id);
	MEMBER(",\"kind\":", ev->kind);
	MEMBER(",\"reason\":", ev->reason);
	if (with_unsigned && ev->received_at[0])
		MEMBER(",\"received_at\":", ev->received_at);
	if (with_unsigned && ev->sig[0])
		MEMBER(",\"sig\":", ev->sig);
	MEMBER(",\"site\":", ev->site);
	MEMBER(",\"subject\":", ev->subject);
	MEMBER(",\"target\":{\"form\":", ev->form);
	MEMBER(",\"instance\":", ev->instance);
	MEMBER(",\"visit\":", ev->visit);
	MEMBER("},\"user\":", ev->user);
	MEMBER(",\"wall\":", ev->wall);
	RAW("}");
#undef RAW
#undef STR
#undef MEMBER
	return rc;
}

static int write_text(const struct cb_event *ev, int with_unsigned,
		      int validate, char **out, size_t *len, struct cb_err *err)
{
	struct cb_canon_buf b = {NULL, 0, 0, err, 0};
	int rc;

	*out = NULL;
	if (len)
		*len = 0;
	rc = validate ? cb_event_validate(ev, err) : 0;
	if (!rc)
		rc = write_event(ev, with_unsigned, &b);
	if (rc) {
		free(b.buf);
		return rc;
	}
	*out = b.buf;
	if (len)
		*len = b.len;
	return 0;
}

int cb_event_signing_bytes(const struct cb_event *ev, char **out, size_t *len,
			   struct cb_err *err)
{
	return write_text(ev, 0, 1, out, len, err);
}

int cb_event_sign(struct cb_event *ev, const struct cb_key *sk,
		  struct cb_err *err)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	char *msg;
	size_t len;
	int rc;

	rc = cb_event_signing_bytes(ev, &msg, &len, err);
	if (rc)
		return rc;
	rc = cb_sign(sk, msg, len, sig, err);
	free(msg);
	if (rc)
		return rc;
	return cb_hex_encode(sig, sizeof(sig), ev->sig, sizeof(ev->sig), err);
}

int cb_event_verify(const struct cb_event *ev, const unsigned char *public_key,
		    struct cb_err *err)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	char *msg;
	size_t len;
	int rc;

	if (!ev->sig[0])
		return cb_err_set(err, CB_EAUTH, "event %.*s is not signed",
				  CB_EVENT_ID_HEX, ev->id);
	rc = cb_event_signing_bytes(ev, &msg, &len, err);
	if (rc)
		return rc;
	rc = cb_hex_decode(ev->sig, strlen(ev->sig), sig, sizeof(sig), NULL,
			   err);
	if (rc)
		rc = cb_err_prefix(err, "$.sig: ");
	else if (cb_verify(public_key, msg, len, sig, NULL) != 0)
		rc = cb_err_set(err, CB_EAUTH,
				"event %s: signature does not match its "
				"content and device key",
				ev->id);
	free(msg);
	return rc;
}

/* ---- copying and text ------------------------------------------------- */

int cb_event_copy(struct cb_event *dst, const struct cb_event *src,
		  struct cb_err *err)
{
	int failed = 0;
	size_t i;

	cb_event_release(dst);
	memcpy(dst->id, src->id, sizeof(dst->id));
	memcpy(dst->hlc, src->hlc, sizeof(dst->hlc));
	memcpy(dst->wall, src->wall, sizeof(dst->wall));
	memcpy(dst->sig, src->sig, sizeof(dst->sig));
	memcpy(dst->received_at, src->received_at, sizeof(dst->received_at));
	dst->device = dup_or_null(src->device, &failed);
	dst->site = dup_or_null(src->site, &failed);
	dst->user = dup_or_null(src->user, &failed);
	dst->subject = dup_or_null(src->subject, &failed);
	dst->kind = dup_or_null(src->kind, &failed);
	dst->visit = dup_or_null(src->visit, &failed);
	dst->form = dup_or_null(src->form, &failed);
	dst->instance = dup_or_null(src->instance, &failed);
	dst->reason = dup_or_null(src->reason, &failed);
	if (src->nchanges) {
		dst->changes = calloc(src->nchanges, sizeof(*dst->changes));
		if (!dst->changes)
			failed = 1;
	}
	for (i = 0; dst->changes && i < src->nchanges; i++) {
		const struct cb_change *from = &src->changes[i];
		struct cb_change *to = &dst->changes[i];

		dst->nchanges = i + 1;
		to->item = dup_or_null(from->item, &failed);
		to->value = dup_or_null(from->value, &failed);
		if (from->nprev) {
			to->prev = malloc(from->nprev * sizeof(*to->prev));
			if (!to->prev) {
				failed = 1;
				continue;
			}
			memcpy(to->prev, from->prev,
			       from->nprev * sizeof(*to->prev));
			to->nprev = from->nprev;
		}
	}
	if (src->ndata) {
		dst->data = calloc(src->ndata, sizeof(*dst->data));
		if (!dst->data)
			failed = 1;
	}
	for (i = 0; dst->data && i < src->ndata; i++) {
		dst->ndata = i + 1;
		dst->data[i].key = dup_or_null(src->data[i].key, &failed);
		dst->data[i].value = dup_or_null(src->data[i].value, &failed);
	}
	if (failed) {
		cb_event_release(dst);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	return 0;
}

int cb_event_parse(const char *text, size_t len, struct cb_event *ev,
		   struct cb_err *err)
{
	struct cb_err local;
	cJSON *json;
	int rc;

	if (!err)
		err = &local;
	cb_err_clear(err);
	cb_event_release(ev);
	json = cb_json_parse(text, len, CB_EVENT_JSON_MAX, "event", err);
	if (!json)
		return err->code ? err->code : CB_EINVAL;
	rc = cb_event_from_json(json, ev, err);
	cJSON_Delete(json);
	return rc;
}

int cb_event_print(const struct cb_event *ev, char **out, struct cb_err *err)
{
	return write_text(ev, 1, 0, out, NULL, err);
}
