/*
 * cmd_status.c - `casebook status`: what this laptop still has to do.
 *
 * Work waiting for the server (unsynced and quarantined events, the last
 * sync), open queries, and the visits that are overdue or coming up, from
 * the protocol's schedule. Everything is read from the store and the
 * merge state; nothing is written. Today is cb_clock_now_ms() (UTC), so a
 * test can move it with CASEBOOK_CLOCK_OFFSET_MS.
 *
 * The sync settings are written by `casebook sync` (the sync issue); until
 * then they are absent and status shows 0 quarantined and "never".
 */
#include "cli.h"
#include "clock.h"
#include "date.h"
#include "entry.h"
#include "jout.h"
#include "json.h"
#include "record.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Settings read here (written by sync). */
#define STATUS_META_QUARANTINE "sync.quarantine"
#define STATUS_META_LAST_SYNC "sync.last"

/* A visit is upcoming this many days before its window opens. */
#define STATUS_UPCOMING_DAYS 7

#define MS_PER_DAY 86400000LL

const char cmd_status_help[] =
    "usage: casebook status [--json]\n"
    "\n"
    "What this laptop still has to do:\n"
    "\n"
    "  unsynced events     events recorded here and not yet on the server\n"
    "  quarantined events  events the server rejected, with each reason (the\n"
    "                      JSON array kept in the setting sync.quarantine by\n"
    "                      `casebook sync`; 0 when there is none)\n"
    "  last sync           the setting sync.last, or \"never\"\n"
    "  open queries        queries not yet closed (open or answered), each\n"
    "                      with its id, subject, target and text\n"
    "  overdue visits      today is past the last day of the visit's window\n"
    "                      and its visit date is still empty\n"
    "  upcoming visits     the visit date is empty and today is within the\n"
    "                      window or at most 7 days before it opens\n"
    "\n"
    "Windows count from each subject's day-0 date (the protocol's day0 item);\n"
    "a subject without one has no schedule yet. Today is the UTC date.\n"
    "\n"
    "--json prints one object (stable; members always present):\n"
    "  {\"today\":DATE,\"events\":N,\"unsynced\":N,\n"
    "   \"quarantined\":{\"count\":N,\"events\":[...as sync recorded them]},\n"
    "   \"last_sync\":TEXT|null,\n"
    "   \"queries\":{\"open\":N,\"list\":[{\"id\",\"subject\",\"status\",\n"
    "     \"system\",\"visit\",\"form\",\"instance\",\"item\",\"text\"}]},\n"
    "   \"overdue\":[{\"subject\",\"visit\",\"label\",\"window_start\",\n"
    "     \"window_end\",\"days_overdue\"}],\n"
    "   \"upcoming\":[{\"subject\",\"visit\",\"label\",\"window_start\",\n"
    "     \"window_end\",\"days_until_open\"}]}\n"
    "  days_until_open is 0 or less once the window is open.\n"
    "\n"
    "Exit codes: 0 done; 1 failure; 2 usage; 4 wrong passphrase.\n";

struct status {
	struct entry *e;
	cJSON *root, *qlist, *overdue, *upcoming;
	int64_t today; /* days since 1970-01-01, UTC */
	size_t nqueries;
	struct jout j;
	struct cb_err *err;
};

/* ---- Schedule -------------------------------------------------------- */

/* The merged item, or 0 when no event has changed it. */
static int item_get(struct entry *e, const char *subject, const char *visit,
		    const char *form, const char *item,
		    struct cb_merge_item *out)
{
	struct cb_err err;

	return !cb_merge_item_get(e->merge, subject, visit, form, "", item, out,
				  &err);
}

static void add_visit(struct status *s, cJSON *arr, const char *subject,
		      const struct cb_protocol_visit *v,
		      const struct cb_date *lo, const struct cb_date *hi,
		      const char *days_key, int64_t days)
{
	cJSON *o = jout_put(&s->j, arr, NULL, cJSON_CreateObject());

	if (!o)
		return;
	jout_str(&s->j, o, "subject", subject);
	jout_str(&s->j, o, "visit", v->code);
	jout_str(&s->j, o, "label", v->label);
	jout_date(&s->j, o, "window_start", lo);
	jout_date(&s->j, o, "window_end", hi);
	jout_num(&s->j, o, days_key, (double)days);
}

static int schedule_subject(const char *subject, void *ctx)
{
	struct status *s = ctx;
	const struct cb_protocol *p = s->e->proto;
	struct cb_merge_item it;
	struct cb_date zero, lo, hi;
	int64_t zday, rel;
	size_t i;

	if (!p->day0.visit || !p->day0.form || !p->day0.item ||
	    !item_get(s->e, subject, p->day0.visit->code, p->day0.form->code,
		      p->day0.item->code, &it) ||
	    it.conflict || cb_date_parse_any(it.value, &zero) ||
	    cb_date_days(&zero, &zday))
		return 0; /* no day 0 yet: no schedule */
	rel = s->today - zday;
	for (i = 0; i < p->nvisits; i++) {
		const struct cb_protocol_visit *v = &p->visits[i];
		const struct cb_protocol_item *di;

		if (!v->scheduled)
			continue;
		di = cb_protocol_visit_date_item(p, v);
		if (!di || (item_get(s->e, subject, v->code, di->form->code,
				     di->code, &it) &&
			    (it.conflict || it.value)))
			continue; /* no date item, or the visit took place */
		if (cb_date_add_days(&zero, v->low, &lo) ||
		    cb_date_add_days(&zero, v->high, &hi))
			continue;
		if (rel > v->high)
			add_visit(s, s->overdue, subject, v, &lo, &hi,
				  "days_overdue", rel - v->high);
		else if (rel >= v->low - STATUS_UPCOMING_DAYS)
			add_visit(s, s->upcoming, subject, v, &lo, &hi,
				  "days_until_open", v->low - rel);
	}
	return s->j.oom;
}

/* ---- Queries --------------------------------------------------------- */

static int query_one(const struct cb_merge_query *q, void *ctx)
{
	struct status *s = ctx;
	cJSON *o;

	if (q->status == CB_QUERY_CLOSED)
		return 0;
	s->nqueries++;
	o = jout_put(&s->j, s->qlist, NULL, cJSON_CreateObject());
	if (!o)
		return 1;
	jout_str(&s->j, o, "id", q->id);
	jout_str(&s->j, o, "subject", q->subject);
	jout_str(&s->j, o, "status", cb_query_status_name(q->status));
	jout_put(&s->j, o, "system", cJSON_CreateBool(q->system));
	jout_str(&s->j, o, "visit", q->visit);
	jout_str(&s->j, o, "form", q->form);
	jout_str(&s->j, o, "instance", q->instance);
	jout_str(&s->j, o, "item", q->item);
	jout_str(&s->j, o, "text", q->text);
	return s->j.oom;
}

/* ---- Sync bookkeeping ------------------------------------------------ */

static int put_sync(struct status *s)
{
	struct store *st = s->e->st;
	int64_t total = 0, unsynced = 0;
	char *text = NULL;
	size_t len = 0;
	cJSON *q, *events;
	int rc;

	rc = store_count_events(st, &total, &unsynced, s->err);
	if (rc)
		return rc;
	jout_num(&s->j, s->root, "events", (double)total);
	jout_num(&s->j, s->root, "unsynced", (double)unsynced);

	q = jout_put(&s->j, s->root, "quarantined", cJSON_CreateObject());
	rc = store_meta_get(st, STATUS_META_QUARANTINE, &text, &len, s->err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(s->err);
		events = cJSON_CreateArray();
	} else if (rc) {
		return rc;
	} else {
		events = cb_json_parse(text, len, STORE_META_MAX,
				       STATUS_META_QUARANTINE, s->err);
		free(text);
		if (!events)
			return s->err->code ? s->err->code : CB_ENOMEM;
		if (!cJSON_IsArray(events)) {
			cJSON_Delete(events);
			return cb_err_set(s->err, CB_EINTEGRITY,
					  "the setting %s is not a JSON array",
					  STATUS_META_QUARANTINE);
		}
	}
	jout_num(&s->j, q, "count", (double)cJSON_GetArraySize(events));
	jout_put(&s->j, q, "events", events);

	rc = store_meta_get(st, STATUS_META_LAST_SYNC, &text, &len, s->err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(s->err);
		jout_str(&s->j, s->root, "last_sync", NULL);
		return 0;
	}
	if (rc)
		return rc;
	jout_str(&s->j, s->root, "last_sync", text);
	free(text);
	return 0;
}

/* ---- Output ---------------------------------------------------------- */

static void print_target(const cJSON *q)
{
	const char *inst = jin_str(q, "instance");

	printf("%s", jin_str(q, "subject"));
	if (jin_str(q, "visit")[0])
		printf(" %s", jin_str(q, "visit"));
	if (jin_str(q, "form")[0])
		printf(" %s%s%s", jin_str(q, "form"), inst[0] ? "#" : "", inst);
	if (jin_str(q, "item")[0])
		printf(" %s", jin_str(q, "item"));
}

static void status_text(const cJSON *root)
{
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "quarantined");
	const cJSON *qs = cJSON_GetObjectItemCaseSensitive(root, "queries");
	const cJSON *x;
	int n;

	printf("Today:              %s (UTC)\n", jin_str(root, "today"));
	printf("Unsynced events:    %d of %d\n", jin_int(root, "unsynced", 0),
	       jin_int(root, "events", 0));
	printf("Quarantined events: %d\n", jin_int(q, "count", 0));
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(q, "events"))
	{
		if (cJSON_IsString(x)) {
			printf("  %s\n", x->valuestring);
		} else {
			char *raw = NULL;

			if (jin_str(x, "reason"))
				printf("  %s: %s\n",
				       jin_str(x, "id") ? jin_str(x, "id")
							: "?",
				       jin_str(x, "reason"));
			else if ((raw = cJSON_PrintUnformatted(x)))
				printf("  %s\n", raw);
			cJSON_free(raw);
		}
	}
	printf("Last sync:          %s\n", jin_str(root, "last_sync")
					       ? jin_str(root, "last_sync")
					       : "never");

	printf("Open queries:       %d\n", jin_int(qs, "open", 0));
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(qs, "list"))
	{
		printf("  ");
		print_target(x);
		printf("  [%s, %s] %s\n", jin_str(x, "id"),
		       jin_str(x, "status"),
		       jin_str(x, "text") ? jin_str(x, "text") : "");
	}

	x = cJSON_GetObjectItemCaseSensitive(root, "overdue");
	printf("Overdue visits:     %d\n", cJSON_GetArraySize(x));
	cJSON_ArrayForEach(q, x)
	{
		n = jin_int(q, "days_overdue", 0);
		printf("  %s %s (%s): window %s..%s ended %d day%s ago\n",
		       jin_str(q, "subject"), jin_str(q, "visit"),
		       jin_str(q, "label"), jin_str(q, "window_start"),
		       jin_str(q, "window_end"), n, n == 1 ? "" : "s");
	}
	x = cJSON_GetObjectItemCaseSensitive(root, "upcoming");
	printf("Upcoming visits:    %d\n", cJSON_GetArraySize(x));
	cJSON_ArrayForEach(q, x)
	{
		n = jin_int(q, "days_until_open", 0);
		printf("  %s %s (%s): window %s..%s", jin_str(q, "subject"),
		       jin_str(q, "visit"), jin_str(q, "label"),
		       jin_str(q, "window_start"), jin_str(q, "window_end"));
		if (n > 0)
			printf(" opens in %d day%s\n", n, n == 1 ? "" : "s");
		else
			printf(" is open now\n");
	}
}

#ifdef CASEBOOK_TEST_HOOKS
/*
 * For tests of this command before sync exists: `casebook status test-set
 * KEY VALUE` writes one of the two sync settings read above. Like the
 * store's test hooks, only in the test build of casebook and only with
 * CASEBOOK_TEST_HOOKS=1.
 */
static int status_test_set(int argc, char **argv, struct cli_global *g)
{
	struct entry e;
	struct cb_err err;
	int rc;

	if (argc != 4 || (strcmp(argv[2], STATUS_META_QUARANTINE) &&
			  strcmp(argv[2], STATUS_META_LAST_SYNC)))
		return cli_usage("status", "test-set sync.quarantine|sync.last "
					   "VALUE");
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	rc = store_meta_set(e.st, argv[2], argv[3], strlen(argv[3]), &err);
	entry_close(&e);
	return rc ? cli_fail(&err) : EXIT_OK;
}
#endif

int cmd_status(int argc, char **argv, struct cli_global *g)
{
	struct status s;
	struct cb_date today;
	struct entry e;
	struct cb_err err;
	cJSON *qo;
	int64_t ms;
	int i, json = 0, rc, ex;

#ifdef CASEBOOK_TEST_HOOKS
	{
		const char *hooks = getenv("CASEBOOK_TEST_HOOKS");

		if (argc > 1 && !strcmp(argv[1], "test-set") && hooks &&
		    !strcmp(hooks, "1"))
			return status_test_set(argc, argv, g);
	}
#endif
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			return cli_usage("status", "unexpected argument '%s'",
					 argv[i]);
	}
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	cb_err_clear(&err);
	memset(&s, 0, sizeof(s));
	s.e = &e;
	s.err = &err;
	ms = cb_clock_now_ms();
	s.today = ms / MS_PER_DAY - (ms % MS_PER_DAY < 0);
	s.root = cJSON_CreateObject();
	if (!s.root) {
		entry_close(&e);
		return cli_error("out of memory");
	}
	if (cb_date_from_days(s.today, &today))
		jout_str(&s.j, s.root, "today", NULL);
	else
		jout_date(&s.j, s.root, "today", &today);
	rc = put_sync(&s);
	qo = jout_put(&s.j, s.root, "queries", cJSON_CreateObject());
	if (!rc && qo) {
		s.qlist = cJSON_CreateArray();
		rc = cb_merge_each_query(e.merge, NULL, query_one, &s, &err);
		jout_num(&s.j, qo, "open", (double)s.nqueries);
		jout_put(&s.j, qo, "list", s.qlist);
	}
	s.overdue = jout_put(&s.j, s.root, "overdue", cJSON_CreateArray());
	s.upcoming = jout_put(&s.j, s.root, "upcoming", cJSON_CreateArray());
	if (!rc && !s.j.oom)
		cb_merge_each_subject(e.merge, schedule_subject, &s);

	if (rc && !s.j.oom) {
		ex = cli_fail(&err);
	} else if (s.j.oom) {
		ex = cli_error("out of memory");
	} else if (json) {
		char *text = cJSON_Print(s.root);

		ex = text ? EXIT_OK : cli_error("out of memory");
		if (text)
			printf("%s\n", text);
		cJSON_free(text);
	} else {
		status_text(s.root);
		ex = EXIT_OK;
	}
	cJSON_Delete(s.root);
	entry_close(&e);
	return ex;
}
