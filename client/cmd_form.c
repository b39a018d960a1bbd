/*
 * cmd_form.c - form data: `casebook form set`, `form show` and
 * `form enter`.
 *
 * A save goes through entry_save_form(): the protocol's codes, types,
 * ranges and edit checks, then one signed form.save event. Hard check
 * failures save nothing (exit 3); soft ones save, open a query and warn.
 *
 * `form show` reads one form instance back from its subject's merge state
 * (entry_merge: that subject's events only): values (or both sides of a
 * conflict), completeness, signature, scores, open queries, and with
 * --history the audit trail, which is the event log read back through
 * cb_merge_history (never a table of its own). What it shows is gathered
 * once (struct show) and rendered by show_text or show_json (jout.h says
 * why not one tree).
 *
 * `form enter` asks item by item on a terminal, checks every answer at
 * once with cb_protocol_check_value, shows the changes, asks to confirm
 * and then saves exactly as `form set` does.
 */
#include "cli.h"
#include "entry.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "record.h"
#include "withheld.h"

const char cmd_form_help[] =
    "usage: casebook form set SUBJECT VISIT FORM ITEM=VALUE... [--reason "
    "TEXT]\n"
    "                         [--value-file ITEM=FILE]...\n"
    "       casebook form show SUBJECT VISIT FORM [--history] [--json]\n"
    "       casebook form enter SUBJECT VISIT FORM\n"
    "\n"
    "set   save item values of one form at one visit. FORM is a form code,\n"
    "      or CODE#N for instance N of a repeating form (adverse events:\n"
    "      VISIT LOG, FORM AE#2). Item codes, and the codes of choice and\n"
    "      Y/N items, are those of the protocol, in any case (stored as the\n"
    "      protocol spells them). ITEM= (empty) clears a value. Changing a\n"
    "      value that is already saved needs --reason. Every edit check\n"
    "      runs, and so does every check of another form that reads an\n"
    "      item you change (a consent date against every visit date): a\n"
    "      hard failure saves nothing and lists every failing check, with\n"
    "      VISIT.FORM.ITEM when it is on another form (exit 3); a soft\n"
    "      failure saves, opens a query on the item it concerns and warns.\n"
    "      --value-file ITEM=FILE takes the value of ITEM from FILE (one\n"
    "      final newline dropped), for long free text.\n"
    "\n"
    "show  print every item of the form with its value and unit (\"-\" when\n"
    "      missing, \"CONFLICT: a | b\" with the query id when two devices\n"
    "      saved different values), the form status (empty, partial,\n"
    "      complete; signed or signature broken; conflicted), derived\n"
    "      scores and the open queries on the form.\n"
    "      --history  also print the audit trail: every change of every\n"
    "                 item in clock order with when (UTC), who (user and\n"
    "                 device), old value, new value and why, and the\n"
    "                 signatures and queries of the form\n"
    "      --json     the same as one JSON object\n"
    "      Items the protocol marks unblinded (\"blinding\": \"unblinded\")\n"
    "      show \"(withheld: unblinded item)\" (--json: value null,\n"
    "      \"withheld\": true), and their history no value or reason, to\n"
    "      every role but lab and dsmb; so does 'form enter'. Values the\n"
    "      server holds but does not send to a blinded role (it says\n"
    "      which exist at every sync) show the same way; a form whose\n"
    "      only values are withheld has status \"withheld\", and --json\n"
    "      counts them in \"withheld_values\".\n"
    "\n"
    "enter ask for each item on the terminal, showing its label, unit,\n"
    "      allowed values or range and current value. Enter keeps the\n"
    "      current value, \"-\" clears it, \"?\" shows help. Each answer is\n"
    "      checked at once. At the end the changes are listed and saved\n"
    "      only when you confirm; changing a saved value asks for a\n"
    "      reason. Needs a terminal (use 'form set' in scripts).\n"
    "\n"
    "Exit codes: 0 saved (or nothing changed), or shown; 1 failure, or\n"
    "not confirmed; 2 usage, a missing reason or no terminal; 3 rejected\n"
    "by an edit check, unknown code or bad value; 4 wrong passphrase or a\n"
    "form your role may not write.\n";

/* Longest value shown in one cell of the history before it is cut. */
#define HIST_CELL_MAX 40
/* Widest label column in `form show`. */
#define SHOW_LABEL_MAX 56
/* Most open queries on one form instance, and most rows of its history
 * (far above what one subject's events make). */
#define FORM_QUERIES_MAX (1u << 20)
#define HIST_ROWS_MAX (1u << 24)

static int form_set(int argc, char **argv, struct cli_global *g)
{
	struct entry_save s = {0};
	struct entry_args a;
	struct entry_save_result r;
	struct entry e;
	struct cb_err err;
	int rc, ex;

	if (argc < 5)
		return cli_usage("form", "usage: casebook form set SUBJECT "
					 "VISIT FORM ITEM=VALUE...");
	s.subject = argv[2];
	s.visit = argv[3];
	s.form = argv[4];
	ex = entry_parse_values("form", argc, argv, 5, &s, &a);
	if (ex != EXIT_OK)
		goto out;
	rc = entry_open(g, &e, &err);
	if (rc) {
		ex = cli_fail(&err);
		goto out;
	}
	entry_save_result_init(&r);
	rc = entry_save_form(&e, &s, &r, &err);
	if (rc) {
		ex = entry_save_exit(&r, &err);
	} else if (!r.nchanged) {
		if (!g->quiet)
			printf("%s %s %s: nothing changed\n", s.subject,
			       r.visit->code, s.form);
	} else {
		entry_print_checks(&r, 0);
		if (!g->quiet)
			printf("%s %s %s: saved %zu item%s\n", s.subject,
			       r.visit->code, s.form, r.nchanged,
			       r.nchanged == 1 ? "" : "s");
		entry_print_scores(&e, s.subject, &r);
	}
	entry_save_result_release(&r);
	entry_close(&e);
out:
	entry_args_release(&a);
	return ex;
}

/* ---- Text helpers ---- */

/* Columns a UTF-8 text takes: its code points (close enough for a list). */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Print `s` and pad it with spaces to `width` columns. */
static void put_padded(FILE *f, const char *s, size_t width)
{
	size_t w = text_width(s);

	fputs(cli_safe(s), f);
	for (; w < width; w++)
		fputc(' ', f);
}

/* A malloc'd copy of `s` cut to `max` code points ("..." marks a cut). */
static char *cell_text(const char *s, size_t max)
{
	size_t i, n = 0;
	char *out;

	for (i = 0; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80 && n++ == max)
			break;
	}
	if (!s[i])
		return strdup(s);
	out = malloc(i + 4);
	if (out) {
		memcpy(out, s, i);
		memcpy(out + i, "...", 4);
	}
	return out;
}

/* "2026-11-25 12:34:56 UTC" from an event's wall time. */
static void wall_text(const char *wall, char *out, size_t cap)
{
	if (strlen(wall) >= 19)
		snprintf(out, cap, "%.10s %.8s UTC", wall, wall + 11);
	else
		snprintf(out, cap, "%s", wall);
}

/* The label of a choice code, or NULL. */
static const char *choice_label(const struct cb_protocol_item *it,
				const char *code)
{
	size_t i;

	for (i = 0; i < it->nchoices; i++)
		if (!strcmp(it->choices[i].code, code))
			return it->choices[i].label;
	return NULL;
}

/* Join values with " | "; NULL entries as `none`. malloc'd or NULL. */
static char *join_values(const char *const *vals, size_t n, const char *none)
{
	size_t i, len = 1, at = 0;
	char *out;

	for (i = 0; i < n; i++)
		len += strlen(vals[i] ? vals[i] : none) + 3;
	out = malloc(len);
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *t = vals[i] ? vals[i] : none;
		size_t tl = strlen(t);

		if (i) {
			memcpy(out + at, " | ", 3);
			at += 3;
		}
		memcpy(out + at, t, tl);
		at += tl;
	}
	out[at] = '\0';
	return out;
}

/* ---- form show ---- */

/* One form instance being looked at. */
struct form_view {
	struct entry *e;
	/* the subject's events (entry_merge); valid until the session's
	 * next transaction */
	struct cb_merge *merge;
	const char *subject;
	const struct cb_protocol_visit *visit;
	const struct cb_protocol_form *form;
	unsigned instance;
	char inst[16];
};

/* Does the query belong to the viewed form instance? */
static int query_on_form(const struct form_view *v,
			 const struct cb_merge_query *q)
{
	return !strcmp(q->visit, v->visit->code) &&
	       !strcmp(q->form, v->form->code) && !strcmp(q->instance, v->inst);
}

/* What a blinded role sees in place of an unblinded item's value. */
#define WITHHELD "(withheld: unblinded item)"

/*
 * 1 when the acting role may not see `it`: an item the protocol marks
 * unblinded, and a role other than the unblinded ones (entry.h).
 */
static int view_withholds(const struct form_view *v,
			  const struct cb_protocol_item *it)
{
	return it && it->unblinded && !cb_role_unblinded(store_role(v->e->st));
}

/*
 * 1 when the text of query `q` is withheld: a system query (its text made
 * by the software from the data) on an item the role may not see.
 */
static int query_withheld(const struct form_view *v,
			  const struct cb_merge_query *q)
{
	return q->system && q->item[0] &&
	       view_withholds(v, cb_protocol_find_item(v->form, q->item));
}

struct query_list {
	const struct form_view *v;
	size_t n, cap;
	struct cb_merge_query *list;
	int nomem;
};

static int query_collect(const struct cb_merge_query *q, void *ctx)
{
	struct query_list *ql = ctx;

	if (q->status == CB_QUERY_CLOSED || !query_on_form(ql->v, q))
		return 0;
	if (cb_array_grow((void **)&ql->list, &ql->cap, ql->n + 1,
			  sizeof(*ql->list), FORM_QUERIES_MAX, "queries",
			  NULL)) {
		ql->nomem = 1;
		return 1;
	}
	ql->list[ql->n++] = *q;
	return 0;
}

/* One line of the audit trail. */
struct hist_row {
	char hlc[CB_EVENT_HLC_HEX + 1];
	char id[CB_EVENT_ID_HEX + 1];
	size_t order; /* item position within one event */
	char when[40];
	char *user, *device, *kind, *item, *old, *value, *reason;
	cJSON *json;
};

struct hist {
	const struct form_view *v;
	size_t n, cap;
	struct hist_row *rows;
	size_t order; /* the item being walked */
	int nomem;
};

static void hist_release(struct hist *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		struct hist_row *r = &h->rows[i];

		free(r->user);
		free(r->device);
		free(r->kind);
		free(r->item);
		free(r->old);
		free(r->value);
		free(r->reason);
		cJSON_Delete(r->json);
	}
	free(h->rows);
	memset(h, 0, sizeof(*h));
}

/*
 * A new row for event `ev` about `item` (old and value: texts for the
 * terminal, copied), with its JSON object started. NULL when out of
 * memory (h->nomem is set).
 */
static struct hist_row *hist_add(struct hist *h, const struct cb_event *ev,
				 const char *item, const char *old,
				 const char *value)
{
	struct hist_row *r;

	if (cb_array_grow((void **)&h->rows, &h->cap, h->n + 1,
			  sizeof(*h->rows), HIST_ROWS_MAX, "history", NULL))
		goto nomem;
	r = &h->rows[h->n];
	memset(r, 0, sizeof(*r));
	snprintf(r->hlc, sizeof(r->hlc), "%s", ev->hlc);
	snprintf(r->id, sizeof(r->id), "%s", ev->id);
	r->order = h->order;
	wall_text(ev->wall, r->when, sizeof(r->when));
	r->user = strdup(ev->user ? ev->user : "");
	r->device = strdup(ev->device ? ev->device : "");
	r->kind = strdup(ev->kind ? ev->kind : "");
	r->item = strdup(item);
	r->old = cell_text(old, HIST_CELL_MAX);
	r->value = cell_text(value, HIST_CELL_MAX);
	r->reason = strdup(ev->reason ? ev->reason : "");
	r->json = cJSON_CreateObject();
	h->n++; /* from here hist_release frees what was made */
	if (!r->user || !r->device || !r->kind || !r->item || !r->old ||
	    !r->value || !r->reason || !r->json)
		goto nomem;
	if (!cJSON_AddStringToObject(r->json, "when", ev->wall) ||
	    !cJSON_AddStringToObject(r->json, "hlc", ev->hlc) ||
	    !cJSON_AddStringToObject(r->json, "event", ev->id) ||
	    !cJSON_AddStringToObject(r->json, "kind", r->kind) ||
	    !cJSON_AddStringToObject(r->json, "user", r->user) ||
	    !cJSON_AddStringToObject(r->json, "device", r->device) ||
	    !cJSON_AddStringToObject(r->json, "site",
				     ev->site ? ev->site : "") ||
	    !cJSON_AddStringToObject(r->json, "item", item) ||
	    !cJSON_AddStringToObject(r->json, "reason", r->reason))
		goto nomem;
	return r;
nomem:
	h->nomem = 1;
	return NULL;
}

/* A change of an item the role may not see: who and when, nothing else. */
static int hist_withheld(struct hist *h, const struct cb_event *ev,
			 const char *item)
{
	struct hist_row *r = hist_add(h, ev, item, WITHHELD, WITHHELD);

	if (!r)
		return h->nomem;
	free(r->reason);
	r->reason = strdup("");
	cJSON_DeleteItemFromObjectCaseSensitive(r->json, "reason");
	if (!r->reason || !cJSON_AddNullToObject(r->json, "reason") ||
	    !cJSON_AddNullToObject(r->json, "value") ||
	    !cJSON_AddBoolToObject(r->json, "withheld", 1))
		h->nomem = 1;
	return h->nomem;
}

static int hist_change(const struct cb_merge_change *c, void *ctx)
{
	struct hist *h = ctx;
	const char **olds = NULL;
	char *old = NULL;
	struct hist_row *r;
	cJSON *arr = NULL;
	size_t i;

	if (view_withholds(h->v, &h->v->form->items[h->order]))
		return hist_withheld(h, c->ev,
				     h->v->form->items[h->order].code);
	if (c->nold) {
		olds = calloc(c->nold, sizeof(*olds));
		if (!olds)
			goto nomem;
		for (i = 0; i < c->nold; i++)
			olds[i] = c->old[i].known
				      ? (c->old[i].value ? c->old[i].value
							 : "(cleared)")
				      : "?";
		old = join_values(olds, c->nold, "");
	} else {
		old = strdup("(none)");
	}
	if (!old)
		goto nomem;
	r = hist_add(h, c->ev, h->v->form->items[h->order].code, old,
		     c->value ? c->value : "(cleared)");
	if (!r)
		goto out;
	arr = cJSON_AddArrayToObject(r->json, "old");
	for (i = 0; arr && i < c->nold; i++) {
		cJSON *o = c->old[i].known && c->old[i].value
			       ? cJSON_CreateString(c->old[i].value)
			       : cJSON_CreateNull();

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			arr = NULL;
		}
	}
	if (!arr ||
	    !(c->value ? cJSON_AddStringToObject(r->json, "value", c->value)
		       : cJSON_AddNullToObject(r->json, "value")))
		goto nomem;
	goto out;
nomem:
	h->nomem = 1;
out:
	free(olds);
	free(old);
	return h->nomem;
}

/* Sign and query events of the viewed form, one row each. */
static int hist_event(const struct cb_event *ev, void *ctx)
{
	struct hist *h = ctx;
	const struct form_view *v = h->v;
	const char *item = "(form)";
	char text[CB_EVENT_ID_HEX + 64];
	const char *body = "";
	struct cb_merge_query q;
	struct hist_row *r;
	struct cb_err err;
	/* Asked once: the row's members below depend on the same answer. */
	int sign = !strcmp(ev->kind, CB_KIND_SIGN);

	h->order = 0;
	if (sign) {
		if (strcmp(ev->visit, v->visit->code) ||
		    strcmp(ev->form, v->form->code) ||
		    strcmp(ev->instance, v->inst))
			return 0;
		body = cb_event_data(ev, CB_DATA_MEANING);
		snprintf(text, sizeof(text), "SIGNED");
	} else if (!strcmp(ev->kind, CB_KIND_QUERY_OPEN) ||
		   !strcmp(ev->kind, CB_KIND_QUERY_ANSWER) ||
		   !strcmp(ev->kind, CB_KIND_QUERY_CLOSE)) {
		const char *qid = !strcmp(ev->kind, CB_KIND_QUERY_OPEN)
				      ? ev->id
				      : cb_event_data(ev, CB_DATA_QUERY);

		if (!qid || cb_merge_query_get(v->merge, qid, &q, &err) ||
		    !query_on_form(v, &q))
			return 0;
		if (q.item[0])
			item = q.item;
		if (query_withheld(v, &q))
			body = WITHHELD;
		else
			body = cb_event_data(ev, CB_DATA_TEXT);
		snprintf(text, sizeof(text), "QUERY %s %.8s",
			 !strcmp(ev->kind, CB_KIND_QUERY_OPEN)	   ? "OPENED"
			 : !strcmp(ev->kind, CB_KIND_QUERY_ANSWER) ? "ANSWERED"
								   : "CLOSED",
			 qid);
	} else {
		return 0;
	}
	r = hist_add(h, ev, item, "", text);
	if (r) {
		if (sign) {
			if (!cJSON_AddStringToObject(r->json, "meaning",
						     body ? body : ""))
				h->nomem = 1;
		} else if (!cJSON_AddStringToObject(r->json, "query", q.id) ||
			   !cJSON_AddStringToObject(r->json, "text",
						    body ? body : "")) {
			h->nomem = 1;
		}
		/* The text of a query or the meaning reads as its "why". */
		if (body && body[0] && !h->nomem && !r->reason[0]) {
			free(r->reason);
			r->reason = strdup(body);
			if (!r->reason)
				h->nomem = 1;
		}
	}
	return h->nomem;
}

static int hist_cmp(const void *a, const void *b)
{
	const struct hist_row *x = a, *y = b;
	int c = strcmp(x->hlc, y->hlc);

	if (!c)
		c = strcmp(x->id, y->id);
	if (!c)
		c = (x->order > y->order) - (x->order < y->order);
	return c;
}

/* Collect the whole audit trail of the viewed form, in clock order. */
static int hist_load(const struct form_view *v, struct hist *h,
		     struct cb_err *err)
{
	size_t i;
	int rc;

	memset(h, 0, sizeof(*h));
	h->v = v;
	for (i = 0; i < v->form->nitems; i++) {
		h->order = i;
		rc = cb_merge_history(
		    v->merge, v->subject, v->visit->code, v->form->code,
		    v->inst, v->form->items[i].code, hist_change, h, err);
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			continue;
		}
		if (h->nomem)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		if (rc)
			return rc;
	}
	rc = cb_merge_each_event(v->merge, v->subject, hist_event, h);
	if (h->nomem || rc)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	if (h->n)
		qsort(h->rows, h->n, sizeof(*h->rows), hist_cmp);
	return 0;
}

static void hist_print(const struct hist *h, size_t nwithheld)
{
	static const char *const head[] = {"WHEN", "USER", "DEVICE",
					   "ITEM", "OLD",  "NEW"};
	size_t w[6], i, k;

	for (k = 0; k < 6; k++)
		w[k] = strlen(head[k]);
	for (i = 0; i < h->n; i++) {
		const struct hist_row *r = &h->rows[i];
		const char *cell[6] = {r->when, r->user, r->device,
				       r->item, r->old,	 r->value};

		for (k = 0; k < 6; k++) {
			size_t cw = k == 2 ? 8 : text_width(cell[k]);

			if (cw > w[k])
				w[k] = cw;
		}
	}
	printf("history:\n");
	if (!h->n) {
		printf("  %s\n", nwithheld ? "(changes withheld: unblinded "
					     "items)"
					   : "(no changes recorded)");
		return;
	}
	printf("  ");
	for (k = 0; k < 6; k++) {
		put_padded(stdout, head[k], w[k]);
		fputs("  ", stdout);
	}
	printf("WHY\n");
	for (i = 0; i < h->n; i++) {
		const struct hist_row *r = &h->rows[i];
		char dev[9];

		snprintf(dev, sizeof(dev), "%s", r->device);
		printf("  ");
		put_padded(stdout, r->when, w[0]);
		fputs("  ", stdout);
		put_padded(stdout, r->user, w[1]);
		fputs("  ", stdout);
		put_padded(stdout, dev, w[2]);
		fputs("  ", stdout);
		put_padded(stdout, r->item, w[3]);
		fputs("  ", stdout);
		put_padded(stdout, r->old, w[4]);
		fputs("  ", stdout);
		put_padded(stdout, r->value, w[5]);
		fputs("  ", stdout);
		printf("%s\n", r->reason[0] ? cli_safe(r->reason) : "-");
	}
}

/* Everything `form show` prints, gathered first. */
struct show {
	enum cb_form_status status;
	struct cb_check_items missing;
	struct cb_merge_form mf;
	int has_form;
	struct cb_check_scores scores;
	struct query_list queries;
	/* per item of the form: 1 when a value exists that the acting role
	 * may not see (held here, or only known from the server) */
	unsigned char *withheld;
	size_t nwithheld;
};

/*
 * Which items of the form hold a value the acting role may not see: one
 * held here (a device sent them anyway), or one the server said exists
 * (withheld.h). A blinded role sees such a form as withheld, never empty.
 */
static int show_withheld(const struct form_view *v, struct show *s,
			 struct cb_err *err)
{
	struct withheld w = {NULL};
	size_t i;
	int rc = 0, yes, loaded = 0;

	s->withheld = calloc(v->form->nitems ? v->form->nitems : 1, 1);
	if (!s->withheld)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (i = 0; !rc && i < v->form->nitems; i++) {
		const struct cb_protocol_item *it = &v->form->items[i];
		struct cb_merge_item mi;

		if (!view_withholds(v, it))
			continue;
		rc = cb_merge_item_get(v->merge, v->subject, v->visit->code,
				       v->form->code, v->inst, it->code, &mi,
				       err);
		if (!rc && (mi.conflict || mi.value)) {
			yes = 1;
		} else if (rc && rc != CB_ENOTFOUND) {
			break;
		} else {
			/* The subject's withheld row, read once. */
			cb_err_clear(err);
			rc = loaded
				 ? 0
				 : withheld_load(v->e->st, v->subject, &w, err);
			if (rc)
				break;
			loaded = 1;
			yes = withheld_in(&w, v->visit->code, v->form->code,
					  v->inst, it->code);
		}
		s->withheld[i] = (unsigned char)yes;
		s->nwithheld += (size_t)yes;
	}
	withheld_release(&w);
	return rc;
}

/* The form status as shown: "withheld" for a blinded role when the only
 * values it could count are ones it may not see. */
static const char *show_status_name(const struct show *s)
{
	if (s->status == CB_FORM_EMPTY && s->nwithheld)
		return "withheld";
	return cb_form_status_name(s->status);
}

static int show_load(const struct form_view *v, struct show *s,
		     struct cb_err *err)
{
	struct cb_record_source rs;
	struct cb_check_source src =
	    cb_record_source(&rs, v->merge, v->subject);
	int rc;

	memset(s, 0, sizeof(*s));
	cb_check_items_init(&s->missing);
	cb_check_scores_init(&s->scores);
	rc = cb_check_form_status(v->e->proto, &src, v->visit, v->form,
				  v->instance, &s->status, &s->missing, err);
	/* Scores of a form with unblinded items would tell their values. */
	if (!rc && (!cb_protocol_form_has_unblinded(v->form) ||
		    cb_role_unblinded(store_role(v->e->st))))
		rc = cb_check_scores(v->e->proto, &src, v->visit, v->form,
				     v->instance, &s->scores, err);
	if (rc)
		return rc;
	rc = cb_merge_form_get(v->merge, v->subject, v->visit->code,
			       v->form->code, v->inst, &s->mf, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
	} else if (rc) {
		return rc;
	} else {
		s->has_form = 1;
	}
	rc = show_withheld(v, s, err);
	if (rc)
		return rc;
	s->queries.v = v;
	rc = cb_merge_each_query(v->merge, v->subject, query_collect,
				 &s->queries, err);
	if (s->queries.nomem)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	return rc;
}

static void show_release(struct show *s)
{
	cb_check_items_release(&s->missing);
	cb_check_scores_release(&s->scores);
	free(s->queries.list);
	free(s->withheld);
}

/* The form's display name: "AE#2" or "DM". */
static void form_name(const struct form_view *v, char *out, size_t cap)
{
	if (v->instance)
		snprintf(out, cap, "%s#%u", v->form->code, v->instance);
	else
		snprintf(out, cap, "%s", v->form->code);
}

/* What a value reads as on the terminal ("M (Male)", "170.5 cm"). */
static void value_text(const struct cb_protocol_item *it, const char *value,
		       char *out, size_t cap)
{
	const char *label =
	    it->type == CB_ITEM_CHOICE ? choice_label(it, value) : NULL;

	if (label)
		snprintf(out, cap, "%s (%s)", value, label);
	else if (it->unit[0])
		snprintf(out, cap, "%s %s", value, it->unit);
	else
		snprintf(out, cap, "%s", value);
}

static int show_text(const struct form_view *v, const struct show *s,
		     const struct hist *h, struct cb_err *err)
{
	char name[CB_PROTOCOL_CODE_MAX + 16];
	size_t i, wcode = 0, wlabel = 0;
	int rc;

	form_name(v, name, sizeof(name));
	printf("%s %s %s (%s)\n", v->subject, v->visit->code, name,
	       v->form->label);
	printf("status: %s", show_status_name(s));
	if (s->nwithheld)
		printf(" (%zu unblinded value%s entered, withheld from the %s "
		       "role)",
		       s->nwithheld, s->nwithheld == 1 ? "" : "s",
		       store_role(v->e->st));
	if (s->has_form && s->mf.sign) {
		char when[40];

		wall_text(s->mf.sign->wall, when, sizeof(when));
		printf(", signed by %s on %s", s->mf.sign->user, when);
		if (s->mf.broken)
			printf(", SIGNATURE BROKEN (changed after signing)");
	}
	if (s->has_form && s->mf.nconflicts)
		printf(", CONFLICTED (%zu item%s)", s->mf.nconflicts,
		       s->mf.nconflicts == 1 ? "" : "s");
	printf("\n");

	for (i = 0; i < v->form->nitems; i++) {
		const struct cb_protocol_item *it = &v->form->items[i];
		size_t lw = text_width(it->label);

		if (strlen(it->code) > wcode)
			wcode = strlen(it->code);
		if (lw > wlabel)
			wlabel = lw;
	}
	if (wlabel > SHOW_LABEL_MAX)
		wlabel = SHOW_LABEL_MAX;
	for (i = 0; i < v->form->nitems; i++) {
		const struct cb_protocol_item *it = &v->form->items[i];
		struct cb_merge_item mi;

		printf("  ");
		put_padded(stdout, it->code, wcode);
		printf("  ");
		put_padded(stdout, it->label, wlabel);
		printf("  ");
		rc = cb_merge_item_get(v->merge, v->subject, v->visit->code,
				       v->form->code, v->inst, it->code, &mi,
				       err);
		if (s->withheld[i]) {
			cb_err_clear(err);
			printf("%s\n", WITHHELD);
		} else if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			printf("-\n");
		} else if (rc) {
			printf("\n");
			return rc;
		} else if (view_withholds(v, it) && (mi.conflict || mi.value)) {
			printf("%s\n", WITHHELD);
		} else if (mi.conflict) {
			char *j =
			    join_values(mi.head_values, mi.nheads, "(cleared)");

			if (!j)
				return cb_err_set(err, CB_ENOMEM,
						  "out of memory");
			printf("CONFLICT: %s (query %s)\n", cli_safe(j),
			       mi.query ? mi.query : "-");
			free(j);
		} else if (!mi.value) {
			printf("-\n");
		} else {
			size_t cap = strlen(mi.value) + 3 * SHOW_LABEL_MAX +
				     CB_PROTOCOL_LABEL_MAX;
			char *t = malloc(cap);

			if (!t)
				return cb_err_set(err, CB_ENOMEM,
						  "out of memory");
			value_text(it, mi.value, t, cap);
			printf("%s\n", cli_safe(t));
			free(t);
		}
	}
	if (s->missing.count) {
		printf("missing required:");
		for (i = 0; i < s->missing.count; i++)
			printf("%s %s", i ? "," : "",
			       s->missing.list[i].item->code);
		printf("\n");
	}
	if (s->scores.count) {
		printf("scores:\n");
		for (i = 0; i < s->scores.count; i++) {
			if (s->scores.list[i].valid)
				printf("  %-20s %.2f\n", s->scores.list[i].name,
				       s->scores.list[i].value);
			else if (s->has_form && s->mf.nconflicts)
				printf("  %-20s (not scored: an item is in "
				       "conflict, or too many are missing)\n",
				       s->scores.list[i].name);
			else
				printf("  %-20s (not scored: too many items "
				       "missing)\n",
				       s->scores.list[i].name);
		}
	}
	printf("open queries: %s\n", s->queries.n ? "" : "none");
	for (i = 0; i < s->queries.n; i++) {
		const struct cb_merge_query *q = &s->queries.list[i];

		printf("  %s  %-8s  %-8s  %s\n", q->id,
		       q->item[0] ? q->item : "(form)",
		       cb_query_status_name(q->status),
		       query_withheld(v, q) ? WITHHELD
		       : q->text	    ? cli_safe(q->text)
					    : "");
	}
	if (h)
		hist_print(h, s->nwithheld);
	return 0;
}

/* Add `value` (NULL: JSON null) under `key`; 0 or -1. */
static int json_str_or_null(cJSON *obj, const char *key, const char *value)
{
	return (value ? cJSON_AddStringToObject(obj, key, value)
		      : cJSON_AddNullToObject(obj, key))
		   ? 0
		   : -1;
}

static int show_json(const struct form_view *v, const struct show *s,
		     struct hist *h, struct cb_err *err)
{
	cJSON *root = cJSON_CreateObject(), *arr, *o, *sig;
	char name[CB_PROTOCOL_CODE_MAX + 16];
	char *text = NULL;
	size_t i, k;
	int rc = 0, bad = !root;

	form_name(v, name, sizeof(name));
	bad = bad || !cJSON_AddStringToObject(root, "subject", v->subject) ||
	      !cJSON_AddStringToObject(root, "visit", v->visit->code) ||
	      !cJSON_AddStringToObject(root, "form", v->form->code) ||
	      !cJSON_AddStringToObject(root, "target", name) ||
	      !cJSON_AddNumberToObject(root, "instance", v->instance) ||
	      !cJSON_AddStringToObject(root, "label", v->form->label) ||
	      !cJSON_AddStringToObject(root, "status", show_status_name(s)) ||
	      !cJSON_AddNumberToObject(root, "withheld_values",
				       (double)s->nwithheld) ||
	      !cJSON_AddBoolToObject(root, "conflicted",
				     s->has_form && s->mf.nconflicts);
	if (!bad && s->has_form && s->mf.sign) {
		sig = cJSON_AddObjectToObject(root, "signature");
		bad = !sig ||
		      !cJSON_AddStringToObject(sig, "user", s->mf.sign->user) ||
		      !cJSON_AddStringToObject(sig, "when", s->mf.sign->wall) ||
		      json_str_or_null(
			  sig, "meaning",
			  cb_event_data(s->mf.sign, CB_DATA_MEANING)) ||
		      !cJSON_AddBoolToObject(sig, "broken", s->mf.broken);
	} else if (!bad) {
		bad = !cJSON_AddNullToObject(root, "signature");
	}
	arr = bad ? NULL : cJSON_AddArrayToObject(root, "items");
	bad = bad || !arr;
	for (i = 0; !bad && i < v->form->nitems; i++) {
		const struct cb_protocol_item *it = &v->form->items[i];
		struct cb_merge_item mi;

		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			bad = 1;
			break;
		}
		bad = !cJSON_AddStringToObject(o, "item", it->code) ||
		      !cJSON_AddStringToObject(o, "label", it->label) ||
		      !cJSON_AddStringToObject(o, "unit", it->unit) ||
		      !cJSON_AddStringToObject(o, "type",
					       cb_item_type_name(it->type));
		if (bad)
			break;
		rc = cb_merge_item_get(v->merge, v->subject, v->visit->code,
				       v->form->code, v->inst, it->code, &mi,
				       err);
		if (rc == CB_ENOTFOUND && s->withheld[i]) {
			cb_err_clear(err);
			rc = 0;
			bad = json_str_or_null(o, "value", NULL) ||
			      !cJSON_AddBoolToObject(o, "conflict", 0) ||
			      !cJSON_AddBoolToObject(o, "withheld", 1);
			continue;
		}
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			rc = 0;
			bad = json_str_or_null(o, "value", NULL) ||
			      !cJSON_AddBoolToObject(o, "conflict", 0);
			continue;
		}
		if (rc)
			goto out;
		if (view_withholds(v, it) && (mi.conflict || mi.value)) {
			bad = json_str_or_null(o, "value", NULL) ||
			      !cJSON_AddBoolToObject(o, "conflict",
						     mi.conflict) ||
			      !cJSON_AddBoolToObject(o, "withheld", 1);
			continue;
		}
		bad = json_str_or_null(o, "value",
				       mi.conflict ? NULL : mi.value) ||
		      !cJSON_AddBoolToObject(o, "conflict", mi.conflict);
		if (!bad && mi.conflict) {
			cJSON *vals = cJSON_AddArrayToObject(o, "values");

			bad = !vals || json_str_or_null(o, "query", mi.query);
			for (k = 0; !bad && k < mi.nheads; k++) {
				cJSON *x =
				    mi.head_values[k]
					? cJSON_CreateString(mi.head_values[k])
					: cJSON_CreateNull();

				if (!x || !cJSON_AddItemToArray(vals, x)) {
					cJSON_Delete(x);
					bad = 1;
				}
			}
		}
	}
	arr = bad ? NULL : cJSON_AddArrayToObject(root, "missing");
	bad = bad || !arr;
	for (i = 0; !bad && i < s->missing.count; i++) {
		o = cJSON_CreateString(s->missing.list[i].item->code);
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			bad = 1;
		}
	}
	arr = bad ? NULL : cJSON_AddArrayToObject(root, "scores");
	bad = bad || !arr;
	for (i = 0; !bad && i < s->scores.count; i++) {
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			bad = 1;
			break;
		}
		bad = !cJSON_AddStringToObject(o, "name",
					       s->scores.list[i].name) ||
		      !(s->scores.list[i].valid
			    ? cJSON_AddNumberToObject(o, "value",
						      s->scores.list[i].value)
			    : cJSON_AddNullToObject(o, "value"));
	}
	arr = bad ? NULL : cJSON_AddArrayToObject(root, "queries");
	bad = bad || !arr;
	for (i = 0; !bad && i < s->queries.n; i++) {
		const struct cb_merge_query *q = &s->queries.list[i];

		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			bad = 1;
			break;
		}
		bad = !cJSON_AddStringToObject(o, "id", q->id) ||
		      !cJSON_AddStringToObject(o, "item", q->item) ||
		      !cJSON_AddStringToObject(
			  o, "status", cb_query_status_name(q->status)) ||
		      !cJSON_AddBoolToObject(o, "system", q->system) ||
		      !cJSON_AddStringToObject(o, "text",
					       query_withheld(v, q) ? WITHHELD
					       : q->text	    ? q->text
								    : "");
	}
	if (!bad && h) {
		arr = cJSON_AddArrayToObject(root, "history");
		bad = !arr;
		for (i = 0; !bad && i < h->n; i++) {
			bad = !cJSON_AddItemToArray(arr, h->rows[i].json);
			if (!bad)
				h->rows[i].json = NULL; /* now root's */
		}
	}
	if (!bad)
		text = cJSON_Print(root);
	if (bad || !text) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	printf("%s\n", text);
out:
	free(text);
	cJSON_Delete(root);
	return rc;
}

/*
 * Open the session and resolve SUBJECT VISIT FORM into `v`. Returns 0, or
 * an exit code after printing why (the session is then closed).
 */
static int view_open(struct cli_global *g, const char *subject,
		     const char *visit, const char *form, struct entry *e,
		     struct form_view *v)
{
	struct cb_err err;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = entry_open(g, e, &err);
	if (rc)
		return cli_fail(&err);
	v->e = e;
	v->subject = subject;
	rc = entry_subject_known(e, subject, &err);
	if (!rc)
		rc = entry_merge(e, subject, &v->merge, &err);
	if (!rc)
		rc = cb_record_resolve(e->proto, visit, form, &v->visit,
				       &v->form, &v->instance, &err);
	if (rc) {
		int ex =
		    rc == CB_ENOTFOUND || rc == CB_EINVAL
			? (fprintf(stderr, "casebook: error: %s\n", err.msg),
			   EXIT_CHECK)
			: cli_fail(&err);

		entry_close(e);
		return ex;
	}
	cb_record_instance_text(v->instance, v->inst);
	return 0;
}

static int form_show(int argc, char **argv, struct cli_global *g)
{
	const char *pos[3];
	int i, npos = 0, history = 0, json = 0, ex = EXIT_OK;
	struct form_view v;
	struct show s;
	struct hist h;
	struct entry e;
	struct cb_err err;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--history"))
			history = 1;
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (argv[i][0] == '-' && argv[i][1])
			return cli_usage("form", "unknown option '%s'",
					 argv[i]);
		else if (npos < 3)
			pos[npos++] = argv[i];
		else
			return cli_usage("form", "'form show' takes SUBJECT "
						 "VISIT FORM");
	}
	if (npos != 3)
		return cli_usage("form", "usage: casebook form show SUBJECT "
					 "VISIT FORM [--history] [--json]");
	ex = view_open(g, pos[0], pos[1], pos[2], &e, &v);
	if (ex)
		return ex;
	memset(&h, 0, sizeof(h));
	if (!show_load(&v, &s, &err) &&
	    (!history || !hist_load(&v, &h, &err)) &&
	    !(json ? show_json(&v, &s, history ? &h : NULL, &err)
		   : show_text(&v, &s, history ? &h : NULL, &err)))
		ex = EXIT_OK;
	else
		ex = cli_fail(&err);
	hist_release(&h);
	show_release(&s);
	entry_close(&e);
	return ex;
}

/* ---- form enter ---- */

/* Where `form enter` talks to the person: a terminal. */
struct tty_io {
	FILE *in, *out;
	int close_out;
	char *line; /* the last answer, trimmed */
	size_t cap;
};

/*
 * Answers are read from standard input, which must be a terminal;
 * prompts go to standard output when it is one, else to /dev/tty, so
 * `form enter ... > log` still shows the questions. -1 when standard
 * input is not a terminal.
 */
static int tty_open(struct tty_io *io)
{
	memset(io, 0, sizeof(*io));
	if (!isatty(STDIN_FILENO))
		return -1;
	io->in = stdin;
	io->out = stdout;
	if (!isatty(STDOUT_FILENO)) {
		FILE *f = fopen("/dev/tty", "w");

		if (f) {
			io->out = f;
			io->close_out = 1;
		} else {
			io->out = stderr;
		}
	}
	return 0;
}

static void tty_close(struct tty_io *io)
{
	if (io->close_out)
		fclose(io->out);
	free(io->line);
	memset(io, 0, sizeof(*io));
}

/*
 * Print `prompt` and read one answer into io->line, without its line end
 * and surrounding blanks. 1 when read, 0 at end of input (Ctrl-D).
 */
static int tty_ask(struct tty_io *io, const char *prompt)
{
	ssize_t n;
	char *p;
	size_t len;

	fputs(prompt, io->out);
	fflush(io->out);
	n = getline(&io->line, &io->cap, io->in);
	if (n < 0) {
		fputc('\n', io->out);
		return 0;
	}
	p = io->line;
	len = (size_t)n;
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r' ||
		       p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	p[len] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	memmove(io->line, p, strlen(p) + 1);
	return 1;
}

/* y/yes (1), anything else (0), end of input (-1); `dflt` for Enter. */
static int tty_yes(struct tty_io *io, const char *prompt, int dflt)
{
	if (!tty_ask(io, prompt))
		return -1;
	if (!io->line[0])
		return dflt;
	return !strcasecmp(io->line, "y") || !strcasecmp(io->line, "yes");
}

/* "from 0 to 100", "at least 1", "at most 5", or "" into out. */
static void range_text(const struct cb_protocol_range *r, char *out, size_t cap)
{
	if (r->has_min && r->has_max)
		snprintf(out, cap, "from %g to %g", r->min, r->max);
	else if (r->has_min)
		snprintf(out, cap, "at least %g", r->min);
	else if (r->has_max)
		snprintf(out, cap, "at most %g", r->max);
	else
		out[0] = '\0';
}

/* What an answer to `it` must look like, on one or more lines. */
static void item_hint(FILE *f, const struct cb_protocol_item *it, int full)
{
	char range[96], soft[96];
	size_t i;

	range_text(&it->range, range, sizeof(range));
	range_text(&it->soft, soft, sizeof(soft));
	fputs("      ", f);
	switch (it->type) {
	case CB_ITEM_INTEGER:
		fprintf(f, "whole number%s%s", range[0] ? " " : "", range);
		break;
	case CB_ITEM_DECIMAL:
		fprintf(f, "number with at most %d decimal%s%s%s",
			it->precision, it->precision == 1 ? "" : "s",
			range[0] ? ", " : "", range);
		break;
	case CB_ITEM_TEXT:
		fprintf(f, "text, at most %zu characters", it->max_length);
		break;
	case CB_ITEM_DATE:
		fputs("date YYYY-MM-DD", f);
		break;
	case CB_ITEM_PARTIAL_DATE:
		fputs("date YYYY-MM-DD; partial date YYYY-MM or YYYY when "
		      "the day or month is unknown",
		      f);
		break;
	case CB_ITEM_DATETIME:
		fputs("date and time YYYY-MM-DDTHH:MM (site local time)", f);
		break;
	case CB_ITEM_BOOLEAN:
		fputs("Y = yes, N = no", f);
		break;
	case CB_ITEM_CHOICE:
		if (full) {
			fputs("one of:", f);
			for (i = 0; i < it->nchoices; i++)
				fprintf(f, "\n        %-14s %s",
					it->choices[i].code,
					it->choices[i].label);
		} else {
			fputs("one of: ", f);
			for (i = 0; i < it->nchoices; i++)
				fprintf(f, "%s%s = %s", i ? ", " : "",
					it->choices[i].code,
					it->choices[i].label);
		}
		break;
	}
	if (soft[0])
		fprintf(f, "; expected %s (else a query is opened)", soft);
	if (it->unit[0])
		fprintf(f, "; in %s", it->unit);
	if (it->required)
		fputs("; required", f);
	fputc('\n', f);
}

/*
 * The stored form of a typed answer: choice codes and Y/N in any case,
 * a choice's label, yes/no. Returns `typed` itself when nothing matches,
 * so the check reports it.
 */
static const char *normalize(const struct cb_protocol_item *it,
			     const char *typed)
{
	const char *code;
	size_t i;

	if (it->type == CB_ITEM_BOOLEAN) {
		if (!strcasecmp(typed, "y") || !strcasecmp(typed, "yes"))
			return "Y";
		if (!strcasecmp(typed, "n") || !strcasecmp(typed, "no"))
			return "N";
	}
	if (it->type != CB_ITEM_CHOICE)
		return typed;
	/* A code in any case, as `form set` takes it; else a label. */
	code = cb_protocol_canonical_value(it, typed);
	for (i = 0; i < it->nchoices; i++)
		if (!strcmp(it->choices[i].code, code))
			return code;
	for (i = 0; i < it->nchoices; i++)
		if (!strcasecmp(it->choices[i].label, typed))
			return it->choices[i].code;
	return typed;
}

/* One item as `form enter` holds it. */
struct answer {
	int found;    /* the item has a stored change */
	int conflict; /* and it is conflicted */
	char *saved;  /* its stored value (NULL: none, cleared, conflict) */
	char *shown;  /* how the stored value reads ("" when none) */
	int set;      /* the person answered it (a value or "-") */
	char *value;  /* that answer (NULL: clear) */
};

/* True when the answer changes what is stored. */
static int answer_changes(const struct answer *a)
{
	if (!a->set)
		return 0;
	if (a->conflict)
		return 1;
	if (!a->saved || !a->value)
		return a->saved != a->value;
	return strcmp(a->saved, a->value) != 0;
}

static void answers_free(struct answer *a, size_t n)
{
	size_t i;

	for (i = 0; a && i < n; i++) {
		free(a[i].saved);
		free(a[i].shown);
		free(a[i].value);
	}
	free(a);
}

/* Read what is stored for every item of the form. */
static int answers_load(const struct form_view *v, struct answer **out,
			struct cb_err *err)
{
	const struct cb_protocol_form *f = v->form;
	struct answer *a = calloc(f->nitems ? f->nitems : 1, sizeof(*a));
	size_t i;
	int rc = 0;

	if (!a)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (i = 0; i < f->nitems && !rc; i++) {
		struct cb_merge_item mi;

		rc = cb_merge_item_get(v->merge, v->subject, v->visit->code,
				       f->code, v->inst, f->items[i].code, &mi,
				       err);
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			rc = 0;
			a[i].shown = strdup("");
		} else if (!rc && view_withholds(v, &f->items[i])) {
			a[i].found = 1;
			a[i].shown = strdup(WITHHELD);
		} else if (!rc) {
			a[i].found = 1;
			a[i].conflict = mi.conflict;
			if (mi.conflict) {
				char *j = join_values(mi.head_values, mi.nheads,
						      "(cleared)");
				size_t len = j ? strlen(j) + 16 : 0;

				a[i].shown = j ? malloc(len) : NULL;
				if (a[i].shown)
					snprintf(a[i].shown, len,
						 "CONFLICT: %s", j);
				free(j);
			} else {
				a[i].shown = strdup(mi.value ? mi.value : "");
				if (mi.value &&
				    !(a[i].saved = strdup(mi.value)))
					rc = CB_ENOMEM;
			}
		}
		if (!rc && !a[i].shown)
			rc = CB_ENOMEM;
	}
	if (rc == CB_ENOMEM)
		cb_err_set(err, CB_ENOMEM, "out of memory");
	if (rc) {
		for (i = 0; i < f->nitems; i++) {
			free(a[i].saved);
			free(a[i].shown);
		}
		free(a);
		return rc;
	}
	*out = a;
	return 0;
}

/* What the answer reads as now: the new answer, else what is stored. */
static const char *answer_text(const struct answer *a)
{
	if (a->set)
		return a->value ? a->value : "-";
	return a->shown;
}

/*
 * Ask every item once. 1 when the person went through the form, 0 at
 * end of input, -1 when out of memory.
 */
static int ask_items(struct tty_io *io, const struct form_view *v,
		     struct answer *ans)
{
	const struct cb_protocol_form *f = v->form;
	size_t i;

	for (i = 0; i < f->nitems; i++) {
		const struct cb_protocol_item *it = &f->items[i];
		struct answer *a = &ans[i];
		const char *now = cli_safe(answer_text(a));
		size_t plen = strlen(now) + CB_PROTOCOL_CODE_MAX + 16;
		char *prompt = malloc(plen);

		if (!prompt)
			return -1;
		snprintf(prompt, plen, now[0] ? "%s [%s]: " : "%s: ", it->code,
			 now);
		fprintf(io->out, "\n(%zu/%zu) %s  %s%s%s%s\n", i + 1, f->nitems,
			it->code, it->label, it->unit[0] ? " (" : "", it->unit,
			it->unit[0] ? ")" : "");
		item_hint(io->out, it, 0);
		if (a->found)
			fprintf(io->out, "      saved: %s\n",
				a->shown[0] ? cli_safe(a->shown) : "-");
		for (;;) {
			const char *value;
			struct cb_err err;
			int soft = 0;
			char *copy;

			if (!tty_ask(io, prompt)) {
				free(prompt);
				return 0;
			}
			if (!io->line[0])
				break; /* keep */
			if (!strcmp(io->line, "?")) {
				fprintf(io->out, "      %s: %s\n", it->code,
					it->label);
				item_hint(io->out, it, 1);
				fprintf(io->out,
					"      Enter keeps the value in "
					"brackets, - clears it, ? shows this "
					"help; Ctrl-D stops without saving.\n");
				continue;
			}
			if (!strcmp(io->line, "-")) {
				free(a->value);
				a->value = NULL;
				a->set = 1;
				break;
			}
			value = normalize(it, io->line);
			if (strlen(value) > CB_EVENT_VALUE_MAX) {
				fprintf(io->out,
					"      not accepted: at most "
					"%d bytes\n",
					CB_EVENT_VALUE_MAX);
				continue;
			}
			if (cb_protocol_check_value(it, value, &soft, &err)) {
				fprintf(io->out, "      not accepted: %s\n",
					err.msg);
				continue;
			}
			if (soft) {
				char soft_range[96];

				range_text(&it->soft, soft_range,
					   sizeof(soft_range));
				fprintf(io->out,
					"      note: %s is outside the "
					"expected %s; saving it opens a "
					"query\n",
					value, soft_range);
			}
			copy = strdup(value);
			if (!copy) {
				free(prompt);
				return -1;
			}
			free(a->value);
			a->value = copy;
			a->set = 1;
			break;
		}
		free(prompt);
	}
	return 1;
}

/* Print the changes; returns how many there are. */
static size_t print_changes(struct tty_io *io, const struct form_view *v,
			    const struct answer *ans)
{
	size_t i, n = 0, w = 0;
	char name[CB_PROTOCOL_CODE_MAX + 16];

	for (i = 0; i < v->form->nitems; i++)
		if (answer_changes(&ans[i]) &&
		    strlen(v->form->items[i].code) > w)
			w = strlen(v->form->items[i].code);
	form_name(v, name, sizeof(name));
	for (i = 0; i < v->form->nitems; i++) {
		const struct answer *a = &ans[i];

		if (!answer_changes(a))
			continue;
		if (!n++)
			fprintf(io->out, "\nChanges to %s %s %s:\n", v->subject,
				v->visit->code, name);
		fputs("  ", io->out);
		put_padded(io->out, v->form->items[i].code, w);
		fprintf(io->out, "  %s -> %s\n",
			a->found ? (a->shown[0] ? a->shown : "(cleared)")
				 : "(none)",
			a->value ? a->value : "(cleared)");
	}
	return n;
}

/* Save the changed answers; returns 0 or the save's error code. */
static int save_answers(struct entry *e, const struct form_view *v,
			const char *form_arg, const struct answer *ans,
			const char *reason, struct entry_save_result *r,
			struct cb_err *err)
{
	const char **items, **values;
	struct entry_save s = {0};
	size_t i;
	int rc;

	items = calloc(v->form->nitems + 1, sizeof(*items));
	values = calloc(v->form->nitems + 1, sizeof(*values));
	if (!items || !values) {
		free(items);
		free(values);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	for (i = 0; i < v->form->nitems; i++) {
		if (!answer_changes(&ans[i]))
			continue;
		items[s.n] = v->form->items[i].code;
		values[s.n] = ans[i].value ? ans[i].value : "";
		s.n++;
	}
	s.subject = v->subject;
	s.visit = v->visit->code;
	s.form = form_arg;
	s.items = items;
	s.values = values;
	s.reason = reason;
	rc = entry_save_form(e, &s, r, err);
	free(items);
	free(values);
	return rc;
}

static int form_enter(int argc, char **argv, struct cli_global *g)
{
	struct answer *ans = NULL;
	struct entry_save_result r;
	struct form_view v;
	struct tty_io io;
	struct entry e;
	struct cb_err err;
	char *reason = NULL;
	int ex, rc, k;

	if (argc != 5)
		return cli_usage("form", "usage: casebook form enter SUBJECT "
					 "VISIT FORM");
	if (tty_open(&io)) {
		fprintf(stderr, "casebook: 'form enter' needs a terminal: "
				"standard input is not one (use 'casebook "
				"form set' in scripts)\n");
		return EXIT_USAGE;
	}
	ex = view_open(g, argv[2], argv[3], argv[4], &e, &v);
	if (ex) {
		tty_close(&io);
		return ex;
	}
	entry_save_result_init(&r);
	if (!cb_protocol_form_writable(v.form, store_role(e.st))) {
		cb_err_set(&err, CB_EFORBIDDEN,
			   "form %s may not be written by the %s role",
			   v.form->code, store_role(e.st));
		ex = cli_fail(&err);
		goto out;
	}
	if (answers_load(&v, &ans, &err)) {
		ex = cli_fail(&err);
		goto out;
	}
	fprintf(io.out,
		"%s %s %s (%s), %zu item%s. Enter keeps the value in "
		"brackets, - clears it, ? shows help.\n",
		v.subject, v.visit->code, argv[4], v.form->label,
		v.form->nitems, v.form->nitems == 1 ? "" : "s");
	for (;;) {
		k = ask_items(&io, &v, ans);
		if (k <= 0) {
			ex = k < 0 ? cli_error("out of memory") : EXIT_FAIL;
			if (!k)
				fprintf(stderr, "casebook: stopped: nothing "
						"was saved\n");
			goto out;
		}
		if (!print_changes(&io, &v, ans)) {
			printf("%s %s %s: nothing changed\n", v.subject,
			       v.visit->code, argv[4]);
			ex = EXIT_OK;
			goto out;
		}
		k = tty_yes(&io, "Save? [y/N] ", 0);
		if (k <= 0) {
			fprintf(stderr, "casebook: not saved\n");
			ex = EXIT_FAIL;
			goto out;
		}
		rc = save_answers(&e, &v, argv[4], ans, reason, &r, &err);
		while (rc && r.need_reason) {
			fprintf(io.out, "Saved values change, so a reason is "
					"needed (it goes into the audit "
					"trail).\n");
			do {
				if (!tty_ask(&io, "Reason: ")) {
					fprintf(stderr, "casebook: stopped: "
							"nothing was saved\n");
					ex = EXIT_FAIL;
					goto out;
				}
			} while (!io.line[0]);
			free(reason);
			reason = strdup(io.line);
			if (!reason) {
				ex = cli_error("out of memory");
				goto out;
			}
			entry_save_result_release(&r);
			entry_save_result_init(&r);
			rc = save_answers(&e, &v, argv[4], ans, reason, &r,
					  &err);
		}
		if (rc != CB_ECHECK)
			break;
		entry_print_checks(&r, 1);
		fprintf(stderr, "casebook: nothing was saved\n");
		k = tty_yes(&io, "Change the answers and try again? [Y/n] ", 1);
		if (k <= 0) {
			ex = EXIT_CHECK;
			goto out;
		}
		entry_save_result_release(&r);
		entry_save_result_init(&r);
	}
	if (rc) {
		ex = entry_save_exit(&r, &err);
	} else if (!r.nchanged) {
		if (!g->quiet)
			printf("%s %s %s: nothing changed\n", v.subject,
			       v.visit->code, argv[4]);
		ex = EXIT_OK;
	} else {
		entry_print_checks(&r, 0);
		if (!g->quiet)
			printf("%s %s %s: saved %zu item%s\n", v.subject,
			       v.visit->code, argv[4], r.nchanged,
			       r.nchanged == 1 ? "" : "s");
		entry_print_scores(&e, v.subject, &r);
		ex = EXIT_OK;
	}
out:
	free(reason);
	answers_free(ans, v.form->nitems);
	entry_save_result_release(&r);
	entry_close(&e);
	tty_close(&io);
	return ex;
}

int cmd_form(int argc, char **argv, struct cli_global *g)
{
	if (argc < 2)
		return cli_usage("form", "which form command? (set, show, "
					 "enter)");
	if (!strcmp(argv[1], "set"))
		return form_set(argc, argv, g);
	if (!strcmp(argv[1], "show"))
		return form_show(argc, argv, g);
	if (!strcmp(argv[1], "enter"))
		return form_enter(argc, argv, g);
	return cli_usage("form", "unknown form command '%s'", argv[1]);
}
