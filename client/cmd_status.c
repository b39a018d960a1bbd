/*
 * cmd_status.c - `casebook status`: what this laptop still has to do.
 *
 * Work waiting for the server (unsynced and quarantined events, the last
 * sync), open queries, and the visits that are overdue or coming up, from
 * the protocol's schedule, for the subjects still on study. Everything is
 * read from the store's tally, its quarantine and each subject's derived
 * rows (derive.h), never from the event log, so the cost grows with what
 * is printed, not with what the laptop holds. Today is cb_clock_now_ms()
 * (UTC), so a test can move it with CASEBOOK_CLOCK_OFFSET_MS.
 */
#include "cli.h"
#include "clock.h"
#include "date.h"
#include "derive.h"
#include "entry.h"
#include "jout.h"
#include "json.h"
#include "summary.h"
#include "sync.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The setting read here (written by sync). */
#define STATUS_META_LAST_SYNC SYNC_META_LAST

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
    "                      store's quarantine, one row per event, kept by\n"
    "                      `casebook sync` and `bundle import`)\n"
    "  last sync           the setting sync.last, or \"never\"\n"
    "  open queries        queries not yet closed (open or answered), each\n"
    "                      with its id, subject, target and text\n"
    "  overdue visits      today is past the last day of the visit's window\n"
    "                      and its visit date is still empty\n"
    "  upcoming visits     the visit date is empty and today is within the\n"
    "                      window or at most 7 days before it opens\n"
    "\n"
    "Windows count from each subject's day-0 date (the protocol's day0 item);\n"
    "a subject without one has no schedule yet, and a subject off study (a\n"
    "screen failure, completed, withdrawn, lost to follow-up, died) has no\n"
    "visits due. Today is the UTC date.\n"
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
	cJSON *root, *qlist, *overdue, *upcoming, *qevents;
	int64_t today; /* days since 1970-01-01, UTC */
	size_t nqueries;
	struct jout j;
	struct cb_err *err;
};

/* ---- Schedule -------------------------------------------------------- */

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

static int schedule_subject(void *ctx, const struct derive_summary *ds)
{
	struct status *s = ctx;
	const struct cb_protocol *p = s->e->proto;
	struct cb_date zero, lo, hi;
	int64_t zday, rel;
	size_t i;

	/* Nothing on the record, off study (issue 13), or no day 0 yet:
	 * no visit is due. */
	if (!ds->summary || cb_lifecycle_off_study(ds->summary->state) ||
	    cb_date_parse_any(ds->summary->day0, &zero) ||
	    cb_date_days(&zero, &zday))
		return 0;
	rel = s->today - zday;
	for (i = 0; i < p->nvisits; i++) {
		const struct cb_protocol_visit *v = &p->visits[i];

		if (!v->scheduled || !cb_protocol_visit_date_item(p, v) ||
		    derive_dated(ds->dated, v->code))
			continue; /* no date item, or the visit took place */
		if (cb_date_add_days(&zero, v->low, &lo) ||
		    cb_date_add_days(&zero, v->high, &hi))
			continue;
		if (rel > v->high)
			add_visit(s, s->overdue, ds->subject, v, &lo, &hi,
				  "days_overdue", rel - v->high);
		else if (rel >= v->low - STATUS_UPCOMING_DAYS)
			add_visit(s, s->upcoming, ds->subject, v, &lo, &hi,
				  "days_until_open", v->low - rel);
	}
	return s->j.oom;
}

/* ---- Queries --------------------------------------------------------- */

static int query_one(void *ctx, const cJSON *q)
{
	struct status *s = ctx;
	static const char *const keys[] = {"id",       "subject", "status",
					   "system",   "visit",	  "form",
					   "instance", "item",	  "text"};
	const char *st = cb_json_str(q, "status");
	size_t i;
	cJSON *o;

	if (!st || !strcmp(st, cb_query_status_name(CB_QUERY_CLOSED)))
		return 0;
	s->nqueries++;
	o = jout_put(&s->j, s->qlist, NULL, cJSON_CreateObject());
	for (i = 0; o && i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(q, keys[i]);

		jout_put(&s->j, o, keys[i],
			 v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
	}
	return s->j.oom;
}

/* ---- Sync bookkeeping ------------------------------------------------ */

static int quarantined_one(void *ctx, const char *id, const char *code,
			   const char *reason)
{
	struct status *s = ctx;
	cJSON *o = jout_put(&s->j, s->qevents, NULL, cJSON_CreateObject());

	jout_str(&s->j, o, "id", id);
	jout_str(&s->j, o, "code", code);
	jout_str(&s->j, o, "reason", reason);
	return s->j.oom;
}

static int put_sync(struct status *s)
{
	struct store *st = s->e->st;
	struct store_counts c;
	char *text = NULL;
	size_t len = 0;
	cJSON *q;
	int rc;

	rc = store_counts(st, &c, s->err);
	if (rc)
		return rc;
	jout_num(&s->j, s->root, "events", (double)c.events);
	jout_num(&s->j, s->root, "unsynced", (double)c.unsynced);

	q = jout_put(&s->j, s->root, "quarantined", cJSON_CreateObject());
	jout_num(&s->j, q, "count", (double)c.quarantined);
	s->qevents = jout_put(&s->j, q, "events", cJSON_CreateArray());
	rc = s->qevents ? store_each_quarantined(st, quarantined_one, s, s->err)
			: 0;
	if (rc)
		return s->j.oom ? 0 : rc;

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
 * For tests of this command without a server: `casebook status test-set
 * sync.last VALUE` (or sync.store, the server's store id) writes the
 * setting a sync writes, and `status test-set sync.quarantine JSON`
 * quarantines each {"id","code","reason"} of the
 * JSON array as a rejected push would. Like the store's test hooks, only
 * in the test build of casebook and only with CASEBOOK_TEST_HOOKS=1.
 */
static int status_test_set(int argc, char **argv, struct cli_global *g)
{
	const cJSON *x;
	struct entry e;
	struct cb_err err;
	cJSON *q = NULL;
	int rc;

	if (argc != 4 || (strcmp(argv[2], "sync.quarantine") &&
			  strcmp(argv[2], STATUS_META_LAST_SYNC) &&
			  strcmp(argv[2], "sync.store")))
		return cli_usage("status", "test-set sync.quarantine|sync.last|"
					   "sync.store VALUE");
	if (!strcmp(argv[2], "sync.quarantine")) {
		q = cJSON_Parse(argv[3]);
		if (!cJSON_IsArray(q)) {
			cJSON_Delete(q);
			return cli_usage("status", "test-set sync.quarantine "
						   "takes a JSON array");
		}
	}
	rc = entry_open(g, &e, &err);
	if (rc) {
		cJSON_Delete(q);
		return cli_fail(&err);
	}
	if (!q)
		rc = store_meta_set(e.st, argv[2], argv[3], strlen(argv[3]),
				    &err);
	cJSON_ArrayForEach(x, q)
	{
		const char *id = cb_json_str(x, "id");
		const char *code = cb_json_str(x, "code");
		const char *reason = cb_json_str(x, "reason");

		if (!rc)
			rc = store_quarantine(e.st, id ? id : "",
					      code ? code : "rejected",
					      reason ? reason : "", &err);
	}
	cJSON_Delete(q);
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
		rc =
		    derive_each_query(e.st, e.proto, NULL, query_one, &s, &err);
		jout_num(&s.j, qo, "open", (double)s.nqueries);
		jout_put(&s.j, qo, "list", s.qlist);
	}
	s.overdue = jout_put(&s.j, s.root, "overdue", cJSON_CreateArray());
	s.upcoming = jout_put(&s.j, s.root, "upcoming", cJSON_CreateArray());
	if (!rc && !s.j.oom)
		rc = derive_each_summary(e.st, e.proto, schedule_subject, &s,
					 &err);

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
