/*
 * test_srv_items.c - a form instance's items as one text (store_items.c):
 * what srv_items_text writes of a merged form reads back item by item
 * with every value as it was; srv_items_each gives each item's fields,
 * heads and head values as the same JSON texts; a text that is not a form's
 * items is refused (CB_EINTEGRITY or the parser's error) without calling back;
 * the dump's lines escape as the derived dump's columns do.
 */
#include "t.h"

#include <cJSON.h>

#include "event.h"
#include "merge.h"
#include "store_be.h"

/* Event number n (hlc n) on form F of BL of S1, by `dev`. */
static struct cb_event *mk(unsigned n, const char *dev, const char *reason)
{
	struct cb_event *ev = malloc(sizeof(*ev));

	if (!ev)
		abort();
	cb_event_init(ev);
	snprintf(ev->id, sizeof(ev->id), "%032x", n);
	snprintf(ev->hlc, sizeof(ev->hlc), "%016x", 0x1000 + n);
	memcpy(ev->wall, "2026-11-25T12:34:56.789Z", sizeof(ev->wall));
	if (cb_event_set_origin(ev, dev, "KR01", "kim", NULL) ||
	    cb_event_set_target(ev, "S1", "form.save", "BL", "F", "", NULL) ||
	    cb_event_set_reason(ev, reason, NULL))
		abort();
	return ev;
}

/* Add a change of item to value superseding event number prev (0: none). */
static void change(struct cb_event *ev, const char *item, const char *value,
		   unsigned prev)
{
	char id[CB_EVENT_ID_HEX + 1];
	const char *p[1] = {id};

	snprintf(id, sizeof(id), "%032x", prev);
	if (cb_event_add_change(ev, item, value, p, prev ? 1 : 0, NULL))
		abort();
}

struct seen {
	char text[2048];
	int calls;
};

/* "item|value|conflict|heads|head values|query|changes;" of e, to s. */
static void note(struct seen *s, const struct srv_items_entry *e,
		 const char *query)
{
	struct cb_canon_buf h = {NULL, 0, 0, NULL, 0}, v = h;
	struct cb_err err;
	size_t n = strlen(s->text);

	s->calls++;
	T_EQ_INT(srv_items_strings_text(e->heads, &h, &err), 0);
	T_EQ_INT(srv_items_strings_text(e->head_values, &v, &err), 0);
	snprintf(s->text + n, sizeof(s->text) - n, "%s|%s|%d|%s|%s|%s|%lld;",
		 e->item, e->value ? e->value : "(null)", e->conflict,
		 h.buf ? h.buf : "?", v.buf ? v.buf : "?", query,
		 (long long)e->nchanges);
	free(h.buf);
	free(v.buf);
}

/*
 * srv_items_text of a merged form, read back by srv_items_each: every
 * item in byte order with its value (quotes, backslashes, a line end,
 * Hangul and a bidirectional override as they were), the conflicted
 * one with no value, both heads' values and its query, the cleared one
 * with a null value; the text parses as strict JSON.
 */
/* The conflict's query id of the item being checked (test_text). */
static char conflict_query[CB_EVENT_ID_HEX + 1];

static int check_entry(const struct srv_items_entry *e, void *ctx)
{
	note(ctx, e,
	     !e->query				? "(null)"
	     : strcmp(e->query, conflict_query) ? "another query"
						: "query");
	return 0;
}

/* Count the heads of each item (calls), for test_big_form. */
static int count_heads(const struct srv_items_entry *e, void *ctx)
{
	struct seen *s = ctx;

	s->calls += cJSON_GetArraySize(e->heads);
	return e->conflict ? 0 : -1;
}

static void test_text(void)
{
	static const char odd[] = "say \"hi\" \\ back\nline \xeb\x91\x90"
				  "\xed\x86\xb5 \xe2\x80\xae!";
	struct cb_canon_buf b = {NULL, 0, 0, NULL, 0};
	struct cb_merge_form f;
	struct seen s = {"", 0};
	struct cb_event *ev[4];
	struct cb_merge *m;
	struct cb_err err;
	char want[1024];
	cJSON *j;
	size_t i;

	ev[0] = mk(1, "devA", "");
	change(ev[0], "Z", odd, 0);
	change(ev[0], "C", "40", 0);
	change(ev[0], "E", "x", 0);
	ev[1] = mk(2, "devB", "other source");
	change(ev[1], "C", "45", 0);
	ev[2] = mk(3, "devA", "entered in error");
	change(ev[2], "E", NULL, 1);
	ev[3] = mk(4, "devA", "");
	change(ev[3], "A", "1", 0);
	T_EQ_INT(cb_merge_new(&m, NULL), 0);
	for (i = 0; i < 4; i++)
		T_EQ_INT(cb_merge_add(m, ev[i], NULL, NULL), 0);
	T_EQ_INT(cb_merge_form_get(m, "S1", "BL", "F", "", &f, &err), 0);
	{
		struct cb_merge_item it;

		T_EQ_INT(
		    cb_merge_item_get(m, "S1", "BL", "F", "", "C", &it, &err),
		    0);
		T_ASSERT(it.query != NULL);
		snprintf(conflict_query, sizeof(conflict_query), "%s",
			 it.query ? it.query : "");
	}
	b.err = &err;
	T_EQ_INT(srv_items_text(m, &f, &b, &err), 0);
	j = cJSON_ParseWithOpts(b.buf, NULL, 1);
	T_ASSERT(j && cJSON_GetArraySize(j) == 4);
	cJSON_Delete(j);
	T_EQ_INT(srv_items_each(b.buf, b.len, check_entry, &s, &err), 0);
	snprintf(want, sizeof(want),
		 "A|1|0|[\"%032x\"]|[\"1\"]|(null)|1;"
		 "C|(null)|1|[\"%032x\",\"%032x\"]|[\"40\",\"45\"]|query|2;"
		 "E|(null)|0|[\"%032x\"]|[null]|(null)|2;"
		 "Z|%s|0|[\"%032x\"]|[\"say \\\"hi\\\" \\\\ back\\nline "
		 "\xeb\x91\x90\xed\x86\xb5 \xe2\x80\xae!\"]|(null)|1;",
		 4u, 1u, 2u, 3u, odd, 1u);
	T_EQ_STR(s.text, want);
	free(b.buf);
	cb_merge_free(m);
	for (i = 0; i < 4; i++) {
		cb_event_release(ev[i]);
		free(ev[i]);
	}
}

static int collect(const struct srv_items_entry *e, void *ctx)
{
	note(ctx, e, e->query ? e->query : "(null)");
	return 0;
}

/* The text itself: names, values and numbers as written, a control
 * character escaped as \u00XX. */
static void test_text_exact(void)
{
	struct cb_canon_buf b = {NULL, 0, 0, NULL, 0};
	struct cb_merge_form f;
	struct cb_event *ev = mk(7, "devA", "");
	struct cb_merge *m;
	struct cb_err err;
	char want[256];

	change(ev, "B", "a\x01\"b", 0);
	change(ev, "A", "1", 0);
	T_EQ_INT(cb_merge_new(&m, NULL), 0);
	T_EQ_INT(cb_merge_add(m, ev, NULL, &err), 0);
	T_EQ_INT(cb_merge_form_get(m, "S1", "BL", "F", "", &f, &err), 0);
	T_EQ_INT(srv_items_text(m, &f, &b, &err), 0);
	snprintf(want, sizeof(want),
		 "[[\"A\",\"1\",0,[\"%032x\"],[\"1\"],null,1],"
		 "[\"B\",\"a\\u0001\\\"b\",0,[\"%032x\"],"
		 "[\"a\\u0001\\\"b\"],null,1]]",
		 7u, 7u);
	T_EQ_STR(b.buf ? b.buf : "", want);
	free(b.buf);
	cb_merge_free(m);
	cb_event_release(ev);
	free(ev);
}

/*
 * A form over an event's 8 MiB (CB_CANON_MAX): one item with 2,500
 * conflicting heads of 4,000 characters each (10 MB of head values) is
 * written and read back whole, not refused as too big.
 */
static void test_big_form(void)
{
	struct cb_canon_buf b = {NULL, 0, 0, NULL, 0};
	static char value[4001];
	struct cb_merge_form f;
	struct cb_merge *m;
	struct cb_err err;
	struct seen s = {"", 0};
	unsigned n;

	memset(value, 'v', sizeof(value) - 1);
	T_EQ_INT(cb_merge_new(&m, NULL), 0);
	for (n = 1; n <= 2500; n++) {
		struct cb_event *ev = mk(n, "devA", "");

		snprintf(value, 9, "%08u", n);
		value[8] = 'v';
		change(ev, "LONG", value, 0);
		T_EQ_INT(cb_merge_add(m, ev, NULL, &err), 0);
		cb_event_release(ev);
		free(ev);
	}
	T_EQ_INT(cb_merge_form_get(m, "S1", "BL", "F", "", &f, &err), 0);
	T_EQ_INT(srv_items_text(m, &f, &b, &err), 0);
	T_ASSERT(b.len > CB_CANON_MAX);
	T_EQ_INT(
	    srv_items_each(b.buf ? b.buf : "", b.len, count_heads, &s, &err),
	    0);
	T_EQ_INT(s.calls, 2500);
	free(b.buf);
	cb_merge_free(m);
}

static void test_each(void)
{
	static const char text[] =
	    "[[\"A1\",\"3\",0,[\"aa\"],[\"3\"],null,1],"
	    "[\"VAS\",null,1,[\"bb\",\"cc\"],[\"40\",null],\"qq\",3],"
	    "[\"X\",null,0,[\"dd\"],[null],null,2]]";
	struct seen s = {"", 0};
	struct cb_err err;

	T_EQ_INT(srv_items_each(text, strlen(text), collect, &s, &err), 0);
	T_EQ_INT(s.calls, 3);
	T_EQ_STR(s.text, "A1|3|0|[\"aa\"]|[\"3\"]|(null)|1;"
			 "VAS|(null)|1|[\"bb\",\"cc\"]|[\"40\",null]|qq|3;"
			 "X|(null)|0|[\"dd\"]|[null]|(null)|2;");
	s.text[0] = '\0';
	s.calls = 0;
	T_EQ_INT(srv_items_each("[]", 2, collect, &s, &err), 0);
	T_EQ_INT(s.calls, 0);
}

/* A text that is not a form's items: refused, nothing called back. */
static void refused(const char *text)
{
	struct seen s = {"", 0};
	struct cb_err err;
	int rc = srv_items_each(text, strlen(text), collect, &s, &err);

	if (!rc)
		printf("# accepted: %s\n", text);
	T_EQ_INT(rc, CB_EINTEGRITY);
	T_CONTAINS(err.msg, "casebookd rebuild");
	T_EQ_INT(s.calls, 0);
}

static void test_refused(void)
{
	refused("");
	refused("{}");
	refused("[[\"A\",\"1\",0,[\"h\"],[\"1\"],null]]");	 /* 6 members */
	refused("[[1,\"1\",0,[\"h\"],[\"1\"],null,1]]");	 /* name */
	refused("[[\"A\",1,0,[\"h\"],[\"1\"],null,1]]");	 /* value */
	refused("[[\"A\",\"1\",\"0\",[\"h\"],[\"1\"],null,1]]"); /* flag */
	refused("[[\"A\",\"1\",0,[1],[\"1\"],null,1]]");	 /* heads */
	refused("[[\"A\",\"1\",0,[\"h\"],\"1\",null,1]]");	 /* values */
	refused("[[\"A\",\"1\",0,[\"h\"],[\"1\"],7,1]]");	 /* query */
	refused("[[\"A\",\"1\",0,[\"h\"],[\"1\"],null,-1]]");	 /* changes */
	refused("[[\"A\",\"1\",0,[\"h\"],[\"1\"],null,1]");	 /* cut */
	refused("[\"A\"]");
	refused("[]x"); /* after it */
	refused("[[\"A\",\"1\",0,[\"h\",\"i\"],[\"1\"],null,1]]"); /* 2 heads, 1
								      value */
	refused("[[\"A\",\"1\",2,[\"h\"],[\"1\"],null,1]]");	   /* flag 2 */
	refused("[[\"A\",\"1\",0,[\"h\"],[\"1\"],null,1.5]]");	   /* changes */
}

static void test_dump(void)
{
	static const char text[] =
	    "[[\"A\",\"x\\ty\\\\z\\nw\",0,[\"aa\"],[\"x\\ty\\\\z\\nw\"],null,1]"
	    ","
	    "[\"B\",null,1,[\"bb\",\"cc\"],[\"1\",\"2\"],\"qq\",2]]";
	const struct srv_form_row f = {"S1", "BL", "F", "", text};
	struct cb_buf b;
	struct cb_err err;

	cb_buf_init(&b, 1u << 20);
	T_EQ_INT(srv_items_dump(&b, &f, &err), 0);
	T_EQ_STR(
	    cb_buf_str(&b),
	    "S1\tBL\tF\t\tA\tx\\ty\\\\z\\nw\t0\t[\"aa\"]\t"
	    "[\"x\\\\ty\\\\\\\\z\\\\nw\"]\t\\N\t1\n"
	    "S1\tBL\tF\t\tB\t\\N\t1\t[\"bb\",\"cc\"]\t[\"1\",\"2\"]\tqq\t2\n");
	cb_buf_free(&b);
}

int main(void)
{
	T_RUN(test_text);
	T_RUN(test_text_exact);
	T_RUN(test_big_form);
	T_RUN(test_each);
	T_RUN(test_refused);
	T_RUN(test_dump);
	return t_done();
}
