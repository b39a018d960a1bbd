/*
 * export_jsonl.c - the jsonl export (export.h, docs/exports.md):
 * events.jsonl, every event of the exported subjects, one JSON object
 * a line as it is stored and synced (event.h), subject by subject in
 * byte order of the id, each subject's events in clock order (hlc, then
 * id). Events carrying unblinded items are not in a blinded feed.
 */
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "export_int.h"

struct jsonl {
	struct cb_out *out;
	size_t lines;
};

static int jsonl_begin(struct cb_exp *x)
{
	struct jsonl *j = calloc(1, sizeof(*j));

	if (!j)
		return cb_err_set(x->err, CB_ENOMEM, "out of memory");
	x->fmt = j;
	return cb_exp_open(x, "events.jsonl", &j->out);
}

struct line_ctx {
	struct cb_exp *x;
	struct jsonl *j;
};

static int one_event(const struct cb_event *ev, void *ctx)
{
	struct line_ctx *l = ctx;
	char *text = NULL;
	int rc;

	rc = cb_event_print(ev, &text, l->x->err);
	if (rc)
		return rc;
	cb_out_puts(l->j->out, text);
	cb_out_puts(l->j->out, "\n");
	free(text);
	l->j->lines++;
	l->x->st.events++;
	return 0;
}

static int jsonl_subject(struct cb_exp *x)
{
	struct line_ctx l = {x, x->fmt};
	int rc;

	if (!x->s->merge)
		return cb_err_set(x->err, CB_EINVAL,
				  "the feed gave no events for the jsonl "
				  "export");
	rc =
	    cb_merge_each_event(x->s->merge, x->s->sum->subject, one_event, &l);
	if (rc && !x->err->code)
		cb_err_set(x->err, rc, "out of memory");
	return rc;
}

static int jsonl_end(struct cb_exp *x)
{
	struct jsonl *j = x->fmt;
	int rc = cb_exp_close(x, j->out, "events.jsonl", j->lines);

	j->out = NULL;
	return rc;
}

static void jsonl_free(struct cb_exp *x)
{
	free(x->fmt);
	x->fmt = NULL;
}

const struct cb_exp_format cb_exp_jsonl = {
    "jsonl", 1, jsonl_begin, jsonl_subject, jsonl_end, jsonl_free,
};
