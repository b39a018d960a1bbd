/*
 * cmd_query.c - data queries: `casebook query open|list|answer|close`.
 *
 * A query is a question about a subject's data, raised centrally by a
 * data manager or monitor and answered at the site. Each action is one
 * event (query.open, query.answer, query.close; event.h) written through
 * entry_commit_event, so it syncs like any other event and reaches the
 * site at its next sync. The merge engine derives every query's state
 * from those events (merge.h): its id is the id of the query.open event
 * (or, for a conflict's system query, a hash of the conflict), and its
 * status only moves forward (open, answered, closed).
 *
 * Who may do what mirrors the server's rules (server/core.c): opening
 * and closing belong to the data manager and the monitor; site staff,
 * the data manager and the monitor answer. The check here only saves a
 * round trip: the server refuses the same events.
 */
#include "canon.h"
#include "clock.h"
#include "cli.h"
#include "derive.h"
#include "entry.h"
#include "jout.h"
#include "json.h"
#include "record.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest query, answer or closing text, in bytes. */
#define QUERY_TEXT_MAX 4000

/* Shortest id prefix accepted in place of a whole query id. */
#define QUERY_PREFIX_MIN 6

const char cmd_query_help[] =
    "usage: casebook query open SUBJECT VISIT [FORM [ITEM]] --text TEXT\n"
    "       casebook query list [--all] [--status open|answered|closed]\n"
    "                           [--site CODE] [--subject ID] [--age DAYS]\n"
    "                           [--json]\n"
    "       casebook query answer ID --text TEXT\n"
    "       casebook query close ID [--text TEXT]\n"
    "       casebook query reopen ID --text TEXT\n"
    "\n"
    "open    raise a query (data manager and monitor) about one item of\n"
    "        a subject's form, about a whole form (no ITEM), or about a\n"
    "        whole visit (no FORM). FORM is a form code, or CODE#N for\n"
    "        instance N of a repeating form (adverse events: VISIT LOG,\n"
    "        FORM AE#2). Prints the new query's id.\n"
    "list    the open and answered queries on this device (--all: closed\n"
    "        ones too): id, subject, visit, form, item, status, the\n"
    "        question and the last answer. A conflict's query is a system\n"
    "        query (\"system\": true; it closes when the conflict is\n"
    "        resolved); a soft edit check's query is opened by the person\n"
    "        whose save raised it. All are listed together. Filters, all\n"
    "        of which must hold:\n"
    "          --status S   only queries in status S (closed implies --all)\n"
    "          --site CODE  only subjects of site CODE (the id's prefix)\n"
    "          --subject ID only that subject\n"
    "          --age DAYS   only queries opened at least DAYS whole days\n"
    "                       ago (by this laptop's clock)\n"
    "        --json prints "
    "{\"queries\":[{\"id\",\"subject\",\"visit\",\"form\",\n"
    "        "
    "\"instance\",\"item\",\"status\",\"system\",\"text\",\"opened_by\",\n"
    "        \"opened_at\",\"answer\",\"answered_by\",\"closed_by\"}]}. The "
    "text\n"
    "        of a system query on an item the protocol marks unblinded is\n"
    "        withheld from every role but lab and dsmb.\n"
    "answer  answer a query (site staff, data manager, monitor).\n"
    "close   close a query, optionally with a closing remark (data\n"
    "        manager and monitor).\n"
    "reopen  open a closed query again, with the reason (data manager\n"
    "        and monitor).\n"
    "\n"
    "ID is a query id as 'query list' or 'status' show it, or a unique\n"
    "prefix of at least 6 characters. Every action is recorded as an\n"
    "event with who and when; it reaches the other devices at their\n"
    "next sync.\n"
    "\n"
    "Exit codes: 0 ok; 1 failure (unknown subject, query or code; a\n"
    "closed query answered or closed, an open one reopened); 2 usage;\n"
    "4 wrong passphrase or a role that may not do this (nothing is\n"
    "recorded).\n";

/* Roles that raise and close queries. */
static int role_central_review(const char *role)
{
	return !strcmp(role, "datamanager") || !strcmp(role, "monitor");
}

/* Roles that answer them: site staff and the reviewers. */
static int role_may_answer(const char *role)
{
	return cb_role_is_site(role) || role_central_review(role);
}

static int need_role(struct entry *e, int ok, const char *what, const char *who,
		     struct cb_err *err)
{
	if (ok)
		return 0;
	return cb_err_set(err, CB_EFORBIDDEN,
			  "only %s may %s a query; %s is a %s", who, what,
			  store_user(e->st), store_role(e->st));
}

/* --text: valid UTF-8, not empty, at most QUERY_TEXT_MAX bytes. */
static int text_ok(const char *text)
{
	size_t n = strlen(text);

	return n && n <= QUERY_TEXT_MAX && cb_utf8_valid(text, n);
}

/* ---- finding a query -------------------------------------------------- */

struct query_find {
	const char *want;
	size_t len;
	size_t n;
	char id[CB_EVENT_ID_HEX + 1];
	char subject[CB_EVENT_NAME_MAX + 1];
};

static int find_one(void *ctx, const cJSON *q)
{
	struct query_find *f = ctx;
	const char *id = cb_json_str(q, "id");

	if (!id || strncmp(id, f->want, f->len))
		return 0;
	if (!f->n++) {
		snprintf(f->id, sizeof(f->id), "%s", id);
		snprintf(f->subject, sizeof(f->subject), "%s",
			 cb_json_str(q, "subject"));
	}
	return 0;
}

/*
 * The query `id` names (whole, or a unique prefix) into *q, from the
 * query rows of every subject, then its subject's merge state (which *q
 * points into).
 */
static int query_find(struct entry *e, const char *id, struct cb_merge_query *q,
		      struct cb_err *err)
{
	struct query_find f;
	struct cb_merge *m;
	char quoted[80];
	int rc;

	memset(&f, 0, sizeof(f));
	f.want = id;
	f.len = strlen(id);
	cb_err_quote(id, quoted, sizeof(quoted));
	if (f.len < QUERY_PREFIX_MIN || f.len > CB_EVENT_ID_HEX)
		return cb_err_set(err, CB_ENOTFOUND,
				  "no query '%s' on this device (give the id "
				  "or at least %d of its first characters)",
				  quoted, QUERY_PREFIX_MIN);
	rc = derive_each_query(e->st, e->proto, NULL, find_one, &f, err);
	if (rc)
		return rc;
	if (!f.n)
		return cb_err_set(err, CB_ENOTFOUND,
				  "no query '%s' on this device ('casebook "
				  "query list --all' lists them)",
				  quoted);
	if (f.n > 1)
		return cb_err_set(err, CB_EINVAL,
				  "%zu queries start with '%s'; give more of "
				  "the id",
				  f.n, quoted);
	rc = entry_merge(e, f.subject, &m, err);
	if (!rc)
		rc = cb_merge_query_get(m, f.id, q, err);
	return rc;
}

/* ---- recording an event ----------------------------------------------- */

/* One query event: its target, and data.KEY=VALUE pairs (NULL ends). */
struct query_event {
	const char *kind;
	const char *subject, *visit, *form, *instance;
	const char *keys[3];
	const char *values[3];
};

/* Build, sign, store and merge the event; its id into id_out. */
static int query_record(struct entry *e, const struct query_event *qe,
			char id_out[CB_EVENT_ID_HEX + 1], struct cb_err *err)
{
	struct cb_event ev;
	size_t i;
	int rc;

	rc = entry_new_event(e, &ev, qe->kind, qe->subject, qe->visit, qe->form,
			     qe->instance, err);
	if (rc)
		return rc;
	for (i = 0; !rc && i < 3 && qe->keys[i]; i++)
		rc = cb_event_set_data(&ev, qe->keys[i], qe->values[i], err);
	if (!rc)
		rc = entry_commit_event(e, &ev, err);
	if (!rc)
		memcpy(id_out, ev.id, CB_EVENT_ID_HEX + 1);
	cb_event_release(&ev);
	return rc;
}

/* "SUBJECT VISIT FORM#N ITEM" of a query, for messages. */
static void query_target(const struct cb_merge_query *q, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s%s%s%s%s%s%s", q->subject,
		 q->visit[0] ? " " : "", q->visit, q->form[0] ? " " : "",
		 q->form, q->instance[0] ? "#" : "", q->instance,
		 q->item[0] ? " " : "", q->item);
}

/* ---- query open ------------------------------------------------------- */

static int query_open(int argc, char **argv, struct cli_global *g)
{
	const struct cb_protocol_visit *v;
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *it;
	const char *pos[4], *text = NULL;
	char inst[16], id[CB_EVENT_ID_HEX + 1], item[CB_EVENT_NAME_MAX + 1];
	struct query_event qe;
	struct entry e;
	struct cb_err err;
	unsigned instance;
	int i, npos = 0, rc;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--text")) {
			if (i + 1 >= argc)
				return cli_usage("query",
						 "--text needs a text");
			text = argv[++i];
		} else if (npos < 4 && argv[i][0] != '-') {
			pos[npos++] = argv[i];
		} else {
			return cli_usage("query", "unexpected argument '%s'",
					 argv[i]);
		}
	}
	if (npos < 2)
		return cli_usage("query", "usage: casebook query open SUBJECT "
					  "VISIT [FORM [ITEM]] --text TEXT");
	if (!text)
		return cli_usage("query", "query open needs --text TEXT");
	if (!text_ok(text))
		return cli_usage("query",
				 "--text must be 1 to %d bytes of UTF-8",
				 QUERY_TEXT_MAX);

	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	rc = need_role(&e, role_central_review(store_role(e.st)), "open",
		       "a data manager or a monitor", &err);
	if (!rc)
		rc = entry_subject_known(&e, pos[0], &err);
	it = NULL;
	f = NULL;
	instance = 0;
	if (!rc && npos == 2) {
		/* a query on the whole visit */
		v = cb_protocol_find_visit(e.proto, pos[1]);
		if (!v)
			rc = cb_err_set(&err, CB_ENOTFOUND,
					"unknown visit '%s' in this protocol",
					pos[1]);
	} else if (!rc) {
		rc = cb_record_resolve(e.proto, pos[1], pos[2], &v, &f,
				       &instance, &err);
	}
	if (!rc && npos == 4) {
		/* Item codes are upper case in every protocol; any case. */
		for (i = 0; pos[3][i] && i < CB_EVENT_NAME_MAX; i++)
			item[i] = (char)toupper((unsigned char)pos[3][i]);
		item[i] = '\0';
		rc = cb_record_item(f, item, &it, &err);
	}
	if (rc)
		goto out;
	cb_record_instance_text(instance, inst);
	memset(&qe, 0, sizeof(qe));
	qe.kind = CB_KIND_QUERY_OPEN;
	qe.subject = pos[0];
	qe.visit = v->code;
	qe.form = f ? f->code : "";
	qe.instance = inst;
	i = 0;
	if (it) {
		qe.keys[i] = CB_DATA_ITEM;
		qe.values[i++] = it->code;
	}
	qe.keys[i] = CB_DATA_TEXT;
	qe.values[i] = text;
	rc = query_record(&e, &qe, id, &err);
	if (!rc)
		printf("query %s opened on %s %s%s%s%s%s%s%s%s\n", id, pos[0],
		       v->code, f ? " " : "", f ? f->code : "",
		       inst[0] ? "#" : "", inst, it ? " " : "",
		       it ? it->code : "", f ? "" : " (the visit)");
out:
	entry_close(&e);
	return rc ? cli_fail(&err) : EXIT_OK;
}

/* ---- query answer / close --------------------------------------------- */

/* What query_reply does. */
enum reply_mode { REPLY_ANSWER, REPLY_CLOSE, REPLY_REOPEN };

static int query_reply(int argc, char **argv, struct cli_global *g,
		       enum reply_mode mode)
{
	const int closing = mode != REPLY_ANSWER;
	const char *cmd = mode == REPLY_ANSWER	? "answer"
			  : mode == REPLY_CLOSE ? "close"
						: "reopen";
	const char *id_arg = NULL, *text = NULL;
	char id[CB_EVENT_ID_HEX + 1], ev_id[CB_EVENT_ID_HEX + 1];
	char target[400];
	struct cb_merge_query q;
	struct query_event qe;
	struct entry e;
	struct cb_err err;
	int i, rc;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--text")) {
			if (i + 1 >= argc)
				return cli_usage("query",
						 "--text needs a text");
			text = argv[++i];
		} else if (!id_arg && argv[i][0] != '-') {
			id_arg = argv[i];
		} else {
			return cli_usage("query", "unexpected argument '%s'",
					 argv[i]);
		}
	}
	if (!id_arg)
		return cli_usage("query", "usage: casebook query %s ID%s", cmd,
				 mode == REPLY_CLOSE ? " [--text TEXT]"
						     : " --text TEXT");
	if (mode != REPLY_CLOSE && !text)
		return cli_usage("query", "query %s needs --text TEXT%s", cmd,
				 mode == REPLY_REOPEN ? ": why it is reopened"
						      : "");
	if (text && !text_ok(text))
		return cli_usage("query",
				 "--text must be 1 to %d bytes of UTF-8",
				 QUERY_TEXT_MAX);

	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	if (closing)
		rc = need_role(&e, role_central_review(store_role(e.st)), cmd,
			       "a data manager or a monitor", &err);
	else
		rc = need_role(&e, role_may_answer(store_role(e.st)), "answer",
			       "site staff, a data manager or a monitor", &err);
	if (!rc)
		rc = query_find(&e, id_arg, &q, &err);
	if (rc)
		goto out;
	if (mode == REPLY_REOPEN && q.status != CB_QUERY_CLOSED) {
		rc = cb_err_set(&err, CB_EINVAL,
				"query %s is %s, not closed: there is nothing "
				"to reopen",
				q.id, cb_query_status_name(q.status));
		goto out;
	}
	if (mode != REPLY_REOPEN && q.status == CB_QUERY_CLOSED) {
		rc = cb_err_set(&err, CB_EINVAL,
				"query %s is closed; reopen it ('casebook "
				"query reopen ID --text WHY') to raise the "
				"question again",
				q.id);
		goto out;
	}
	/* q points into the merge state, which the commit changes. */
	snprintf(id, sizeof(id), "%s", q.id);
	query_target(&q, target, sizeof(target));
	memset(&qe, 0, sizeof(qe));
	qe.kind = mode == REPLY_ANSWER	? CB_KIND_QUERY_ANSWER
		  : mode == REPLY_CLOSE ? CB_KIND_QUERY_CLOSE
					: CB_KIND_QUERY_REOPEN;
	qe.subject = q.subject;
	qe.visit = q.visit;
	qe.form = q.form;
	qe.instance = q.instance;
	qe.keys[0] = CB_DATA_QUERY;
	qe.values[0] = id;
	if (text) {
		qe.keys[1] = CB_DATA_TEXT;
		qe.values[1] = text;
	}
	rc = query_record(&e, &qe, ev_id, &err);
	if (!rc)
		printf("query %s on %s %s\n", id, target,
		       mode == REPLY_ANSWER  ? "answered"
		       : mode == REPLY_CLOSE ? "closed"
					     : "reopened");
out:
	entry_close(&e);
	return rc ? cli_fail(&err) : EXIT_OK;
}

/* ---- query list -------------------------------------------------------- */

struct query_list {
	struct jout j;
	cJSON *list;
	int all;
	struct entry *e;
	/* filters (NULL / -1: none) */
	const char *status, *site, *subject;
	long age_days;
	int64_t now_ms;
};

/*
 * 1 when query row `q` passes the list's filters. The site is the
 * subject id's prefix before its last '-' (SITE-DDNNN). A row without an
 * opening time (derived by an earlier version, until its subject next
 * changes) is kept by --age: an unknown age never hides a query.
 */
static int list_wants(const struct query_list *l, const cJSON *q)
{
	const char *st = cb_json_str(q, "status");
	const char *subj = cb_json_str(q, "subject");
	const char *at = cb_json_str(q, "opened_at");
	const char *dash;
	int64_t ms;
	struct cb_err e;

	if (l->status) {
		if (!st || strcmp(st, l->status))
			return 0;
	} else if (st && !strcmp(st, cb_query_status_name(CB_QUERY_CLOSED)) &&
		   !l->all) {
		return 0;
	}
	if (l->subject && (!subj || strcmp(subj, l->subject)))
		return 0;
	if (l->site) {
		dash = subj ? strrchr(subj, '-') : NULL;
		if (!dash || (size_t)(dash - subj) != strlen(l->site) ||
		    strncmp(subj, l->site, strlen(l->site)))
			return 0;
	}
	cb_err_clear(&e);
	if (l->age_days >= 0 && at && !cb_clock_parse_utc(at, &ms, &e) &&
	    (l->now_ms - ms) / 86400000 < l->age_days)
		return 0;
	return 1;
}

/*
 * 1 when the text of query `q` is withheld from the acting role: a system
 * query (its text made by the software from the data, a soft edit check's
 * message) on an item the protocol marks unblinded, for a blinded role.
 */
static int query_withheld(struct entry *e, const cJSON *q)
{
	const struct cb_protocol_item *it;
	const char *item = cb_json_str(q, "item"),
		   *form = cb_json_str(q, "form");

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "system")) ||
	    !item || !item[0] || !form || cb_role_unblinded(store_role(e->st)))
		return 0;
	it = cb_protocol_find_item(cb_protocol_find_form(e->proto, form), item);
	return it && it->unblinded;
}

static int list_one(void *ctx, const cJSON *q)
{
	static const char *const keys[] = {
	    "id",	 "subject", "visit",	   "form",     "instance",
	    "item",	 "status",  "system",	   "text",     "opened_by",
	    "opened_at", "answer",  "answered_by", "closed_by"};
	struct query_list *l = ctx;
	size_t i;
	cJSON *o;

	if (!list_wants(l, q))
		return 0;
	o = jout_put(&l->j, l->list, NULL, cJSON_CreateObject());
	for (i = 0; o && i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(q, keys[i]);

		if (!strcmp(keys[i], "text") && query_withheld(l->e, q))
			jout_str(&l->j, o, "text",
				 "(withheld: unblinded item)");
		else
			jout_put(&l->j, o, keys[i],
				 v ? cJSON_Duplicate(v, 1)
				   : cJSON_CreateNull());
	}
	return l->j.oom;
}

static void list_text(const cJSON *root)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "queries");
	const cJSON *q;
	int n = cJSON_GetArraySize(list);

	if (!n) {
		printf("No queries.\n");
		return;
	}
	cJSON_ArrayForEach(q, list)
	{
		const char *inst = jin_str(q, "instance");
		const char *answer = jin_str(q, "answer");

		printf("%s  %-8s %s", jin_str(q, "id"), jin_str(q, "status"),
		       jin_str(q, "subject"));
		if (jin_str(q, "visit")[0])
			printf(" %s", jin_str(q, "visit"));
		if (jin_str(q, "form")[0])
			printf(" %s%s%s", jin_str(q, "form"),
			       inst[0] ? "#" : "", inst);
		if (jin_str(q, "item")[0])
			printf(" %s", jin_str(q, "item"));
		printf("%s\n", jin_tri(q, "system") == 1 ? " (system)" : "");
		printf("    Q: %s\n",
		       jin_str(q, "text") ? jin_str(q, "text") : "");
		if (answer)
			printf("    A: %s (%s)\n", answer,
			       jin_str(q, "answered_by"));
	}
	printf("%d quer%s\n", n, n == 1 ? "y" : "ies");
}

static int query_list(int argc, char **argv, struct cli_global *g)
{
	struct query_list l;
	struct entry e;
	struct cb_err err;
	cJSON *root;
	int i, json = 0, rc;

	memset(&l, 0, sizeof(l));
	l.age_days = -1;
	for (i = 2; i < argc; i++) {
		const char *opt = argv[i];

		if (!strcmp(opt, "--all")) {
			l.all = 1;
			continue;
		}
		if (!strcmp(opt, "--json")) {
			json = 1;
			continue;
		}
		if (strcmp(opt, "--status") && strcmp(opt, "--site") &&
		    strcmp(opt, "--subject") && strcmp(opt, "--age"))
			return cli_usage("query", "unexpected argument '%s'",
					 opt);
		if (i + 1 >= argc || !argv[i + 1][0])
			return cli_usage("query", "%s needs a value", opt);
		i++;
		if (!strcmp(opt, "--status")) {
			if (strcmp(argv[i], "open") &&
			    strcmp(argv[i], "answered") &&
			    strcmp(argv[i], "closed"))
				return cli_usage("query",
						 "--status must be open, "
						 "answered or closed");
			l.status = argv[i];
		} else if (!strcmp(opt, "--site")) {
			l.site = argv[i];
		} else if (!strcmp(opt, "--subject")) {
			l.subject = argv[i];
		} else {
			char *end;

			errno = 0;
			l.age_days = strtol(argv[i], &end, 10);
			if (errno || *end || end == argv[i] || l.age_days < 0 ||
			    l.age_days > 100000)
				return cli_usage("query",
						 "--age takes a whole number "
						 "of days (0 to 100000)");
		}
	}
	l.now_ms = cb_clock_now_ms();
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	l.e = &e;
	root = cJSON_CreateObject();
	l.list = jout_put(&l.j, root, "queries", cJSON_CreateArray());
	rc = root ? 0 : CB_ENOMEM;
	if (!rc)
		rc = derive_each_query(e.st, e.proto, NULL, list_one, &l, &err);
	if (!rc && l.j.oom)
		rc = CB_ENOMEM;
	if (rc == CB_ENOMEM)
		cb_err_set(&err, CB_ENOMEM, "out of memory");
	if (!rc && json) {
		char *text = cJSON_PrintUnformatted(root);

		if (text) {
			printf("%s\n", text);
			cJSON_free(text);
		} else {
			rc = cb_err_set(&err, CB_ENOMEM, "out of memory");
		}
	} else if (!rc) {
		list_text(root);
	}
	cJSON_Delete(root);
	entry_close(&e);
	return rc ? cli_fail(&err) : EXIT_OK;
}

int cmd_query(int argc, char **argv, struct cli_global *g)
{
	if (argc < 2)
		return cli_usage("query", "query needs a subcommand: open, "
					  "list, answer, close or reopen");
	if (!strcmp(argv[1], "open"))
		return query_open(argc, argv, g);
	if (!strcmp(argv[1], "list"))
		return query_list(argc, argv, g);
	if (!strcmp(argv[1], "answer"))
		return query_reply(argc, argv, g, REPLY_ANSWER);
	if (!strcmp(argv[1], "close"))
		return query_reply(argc, argv, g, REPLY_CLOSE);
	if (!strcmp(argv[1], "reopen"))
		return query_reply(argc, argv, g, REPLY_REOPEN);
	return cli_usage("query", "unknown subcommand '%s'", argv[1]);
}
