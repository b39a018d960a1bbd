/*
 * test_record.c - the rules of a new event (record.h) that a laptop and
 * the server both apply, on the shipped study: here, who may resolve a
 * conflict.
 */
#include "t.h"

#include "check.h"
#include "event.h"
#include "merge.h"
#include "record.h"
#include "role.h"

static struct cb_protocol *knee;
static struct cb_merge *m;
static unsigned long long clock_ms = 1764000000000ULL;
/* When set, the hlc the next event built gets (a clock set back). */
static unsigned long long back_ms;

static struct cb_protocol *load_knee(void)
{
	const char *top = getenv("CASEBOOK_TOP");
	char path[1024];
	struct cb_err err;

	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json",
		 top ? top : ".");
	if (cb_protocol_load_file(path, &knee, NULL, &err)) {
		printf("# knee: %s\n", err.msg);
		return NULL;
	}
	return knee;
}

/*
 * Build an event of `kind` by `user` at VISIT FORM changing ITEM to VALUE
 * (item NULL: no change) over the heads in `prev` (NULL-terminated, may
 * be NULL), with data pairs (NULL-terminated, may be NULL).
 */
static void build(struct cb_event *ev, const char *user, const char *kind,
		  const char *visit, const char *form, const char *item,
		  const char *value, const char *const *prev,
		  const char *const *data)
{
	const char *ids[CB_EVENT_MAX_PREV];
	struct cb_err err;
	size_t i, n = 0;
	int rc;

	cb_event_init(ev);
	clock_ms += 60000;
	snprintf(ev->id, sizeof(ev->id), "%032llx", clock_ms);
	snprintf(ev->hlc, sizeof(ev->hlc), "%012llx0000",
		 back_ms ? back_ms : clock_ms);
	back_ms = 0;
	memcpy(ev->wall, "2026-01-10T10:00:00.000Z", CB_EVENT_TIME_LEN + 1);
	for (i = 0; prev && prev[i]; i++)
		ids[n++] = prev[i];
	rc = cb_event_set_origin(ev, "dev1", "KR01", user, &err);
	if (!rc)
		rc = cb_event_set_target(ev, "KR01-01001", kind, visit, form,
					 "", &err);
	if (!rc)
		rc = cb_event_set_reason(ev, n ? "source document" : "", &err);
	if (!rc && item)
		rc = cb_event_add_change(ev, item, value, n ? ids : NULL, n,
					 &err);
	for (i = 0; !rc && data && data[i]; i += 2)
		rc = cb_event_set_data(ev, data[i], data[i + 1], &err);
	if (rc)
		printf("# build %s: %s\n", kind, err.msg);
}

/* Add an event to the record as it stands, unchecked; its id in `id`. */
static int add(const char *item, const char *visit, const char *form,
	       const char *value, char id[CB_EVENT_ID_HEX + 1])
{
	struct cb_event ev;
	struct cb_err err;
	int rc;

	build(&ev, "ann", CB_KIND_FORM_SAVE, visit, form, item, value, NULL,
	      NULL);
	memcpy(id, ev.id, CB_EVENT_ID_HEX + 1);
	rc = cb_merge_add(m, &ev, NULL, &err);
	if (rc)
		printf("# add: %s\n", err.msg);
	cb_event_release(&ev);
	return rc;
}

/*
 * Check a save by `role` of VISIT FORM ITEM=VALUE over `prev`: the
 * result, with the rejection code in *code ("" when accepted).
 */
static int check(const char *role, const char *visit, const char *form,
		 const char *item, const char *value, const char *const *prev,
		 const char **code)
{
	struct cb_record_writer w = {role, cb_role_is_site(role) ? "KR01" : "",
				     1};
	struct cb_check_results res;
	struct cb_event ev;
	struct cb_err err;
	int rc;

	build(&ev, "dora", CB_KIND_FORM_SAVE, visit, form, item, value, prev,
	      NULL);
	cb_check_results_init(&res);
	*code = "";
	rc = cb_record_check_event(knee, m, &w, &ev, &res, code, &err);
	if (rc)
		printf("# %s: %s (%s)\n", role, err.msg, *code ? *code : "-");
	cb_check_results_release(&res);
	cb_event_release(&ev);
	return rc;
}

static void test_resolution(void)
{
	static const char *const created[] = {"status", "screening", NULL};
	char a[CB_EVENT_ID_HEX + 1], b[CB_EVENT_ID_HEX + 1];
	char c[CB_EVENT_ID_HEX + 1], d[CB_EVENT_ID_HEX + 1];
	char sex[CB_EVENT_ID_HEX + 1];
	const char *code;
	struct cb_event ev;
	struct cb_err err;

	T_ASSERT(load_knee() != NULL);
	T_EQ_INT(cb_merge_new(&m, &err), 0);
	build(&ev, "ann", CB_KIND_SUBJECT_STATUS, "", "", NULL, NULL, NULL,
	      created);
	T_EQ_INT(cb_merge_add(m, &ev, NULL, &err), 0);
	cb_event_release(&ev);
	/* Two laptops saved the baseline VAS without seeing each other. */
	T_EQ_INT(add("VAS", "BL", "VAS", "40", a), 0);
	T_EQ_INT(add("VAS", "BL", "VAS", "60", b), 0);
	T_EQ_INT(add("SEX", "SCR", "DM", "F", sex), 0);
	/* The unblinded laboratory's cell count, in conflict too. */
	T_EQ_INT(add("CELLCNT", "INJ", "CELL", "50", c), 0);
	T_EQ_INT(add("CELLCNT", "INJ", "CELL", "52", d), 0);

	{
		const char *both[] = {a, b, NULL}, *one[] = {a, NULL};
		const char *cells[] = {c, d, NULL}, *sexp[] = {sex, NULL};

		/* The data manager resolves it: a head, or a new value. */
		T_EQ_INT(check(CB_ROLE_DATAMANAGER, "BL", "VAS", "VAS", "60",
			       both, &code),
			 0);
		T_EQ_INT(check(CB_ROLE_DATAMANAGER, "BL", "VAS", "VAS", "55",
			       both, &code),
			 0);
		/* ... naming every conflicting value it replaces. */
		T_EQ_INT(check(CB_ROLE_DATAMANAGER, "BL", "VAS", "VAS", "60",
			       one, &code),
			 CB_EFORBIDDEN);
		T_EQ_STR(code, "forbidden");
		/* ... and nothing else: no item without a conflict. */
		T_EQ_INT(check(CB_ROLE_DATAMANAGER, "SCR", "DM", "SEX", "M",
			       sexp, &code),
			 CB_EFORBIDDEN);
		T_EQ_STR(code, "forbidden");
		T_EQ_INT(check(CB_ROLE_DATAMANAGER, "SCR", "DM", "BRTHYR",
			       "1960", NULL, &code),
			 CB_EFORBIDDEN);
		/* ... no item withheld from the data manager. */
		T_EQ_INT(check(CB_ROLE_DATAMANAGER, "INJ", "CELL", "CELLCNT",
			       "51", cells, &code),
			 CB_EFORBIDDEN);
		/* The monitor reviews but does not resolve. */
		T_EQ_INT(check(CB_ROLE_MONITOR, "BL", "VAS", "VAS", "60", both,
			       &code),
			 CB_EFORBIDDEN);
		/* The form's own writers resolve as before. */
		T_EQ_INT(check(CB_ROLE_COORDINATOR, "BL", "VAS", "VAS", "60",
			       both, &code),
			 0);
		/* A value the edit checks refuse is refused from anyone. */
		T_EQ_INT(check(CB_ROLE_DATAMANAGER, "BL", "VAS", "VAS", "101",
			       both, &code),
			 CB_ECHECK);
	}
	cb_merge_free(m);
	cb_protocol_free(knee);
}

/* Check an event of `kind` by `role` with `data`: the result and code. */
static int check_kind(const char *role, const char *kind,
		      const char *const *data, const char **code)
{
	struct cb_record_writer w = {role, cb_role_is_site(role) ? "KR01" : "",
				     1};
	struct cb_check_results res;
	struct cb_event ev;
	struct cb_err err;
	int rc;

	build(&ev, "dora", kind, "", "", NULL, NULL, NULL, data);
	cb_check_results_init(&res);
	*code = "";
	rc = cb_record_check_event(knee, m, &w, &ev, &res, code, &err);
	if (rc)
		printf("# %s %s: %s (%s)\n", role, kind, err.msg,
		       *code ? *code : "-");
	cb_check_results_release(&res);
	cb_event_release(&ev);
	return rc;
}

/* Add an event of `kind` with `data` to the record, unchecked. */
static char *put_kind(const char *kind, const char *visit, const char *form,
		      const char *const *data, char id[CB_EVENT_ID_HEX + 1])
{
	struct cb_event ev;
	struct cb_err err;

	build(&ev, "dora", kind, visit, form, NULL, NULL, NULL, data);
	memcpy(id, ev.id, CB_EVENT_ID_HEX + 1);
	if (cb_merge_add(m, &ev, NULL, &err))
		printf("# put %s: %s\n", kind, err.msg);
	cb_event_release(&ev);
	return id;
}

/*
 * An emergency code-break is accepted once the subject was randomized,
 * refused before (there is no blind to break).
 */
static void test_unblind(void)
{
	static const char *const created[] = {"status", "screening", NULL};
	static const char *const slot[] = {"slot", "R-KR01-1-001", NULL};
	struct cb_record_writer w = {CB_ROLE_INVESTIGATOR, "KR01", 1};
	char tmp[CB_EVENT_ID_HEX + 1];
	struct cb_check_results res;
	struct cb_event ev;
	struct cb_err err;
	const char *code;
	int round;

	T_ASSERT(load_knee() != NULL);
	T_EQ_INT(cb_merge_new(&m, &err), 0);
	put_kind(CB_KIND_SUBJECT_STATUS, "", "", created, tmp);
	for (round = 0; round < 2; round++) {
		if (round)
			put_kind(CB_KIND_RANDOMIZE, "", "", slot, tmp);
		build(&ev, "ian", CB_KIND_UNBLIND, "", "", NULL, NULL, NULL,
		      slot);
		T_EQ_INT(
		    cb_event_set_reason(&ev, "suspected anaphylaxis", &err), 0);
		cb_check_results_init(&res);
		code = "";
		T_EQ_INT(
		    cb_record_check_event(knee, m, &w, &ev, &res, &code, &err),
		    (round ? 0 : CB_ECONFLICT));
		if (!round)
			T_EQ_STR(code, "subject");
		cb_check_results_release(&res);
		cb_event_release(&ev);
	}
	cb_merge_free(m);
	cb_protocol_free(knee);
}

static void test_reopen(void)
{
	static const char *const created[] = {"status", "screening", NULL};
	static const char *const ask[] = {"text", "Is the VAS right?", "item",
					  "VAS", NULL};
	char q[CB_EVENT_ID_HEX + 1], tmp[CB_EVENT_ID_HEX + 1];
	const char *code;
	struct cb_err err;

	T_ASSERT(load_knee() != NULL);
	T_EQ_INT(cb_merge_new(&m, &err), 0);
	put_kind(CB_KIND_SUBJECT_STATUS, "", "", created, tmp);
	put_kind(CB_KIND_QUERY_OPEN, "BL", "VAS", ask, q);
	{
		const char *const reopen[] = {
		    "query", q, "text", "the source says otherwise", NULL};
		const char *const close[] = {"query", q, NULL};
		const char *const answer[] = {"query", q, "text", "fixed",
					      NULL};

		/* An open query is not reopened. */
		T_EQ_INT(check_kind(CB_ROLE_MONITOR, CB_KIND_QUERY_REOPEN,
				    reopen, &code),
			 CB_ECONFLICT);
		T_EQ_STR(code, "query");
		put_kind(CB_KIND_QUERY_CLOSE, "", "", close, tmp);
		/* A closed one is answered no more, but reviewers reopen
		 * it; the site does not. */
		T_EQ_INT(check_kind(CB_ROLE_COORDINATOR, CB_KIND_QUERY_ANSWER,
				    answer, &code),
			 CB_ECONFLICT);
		T_EQ_INT(check_kind(CB_ROLE_MONITOR, CB_KIND_QUERY_REOPEN,
				    reopen, &code),
			 0);
		T_EQ_INT(check_kind(CB_ROLE_DATAMANAGER, CB_KIND_QUERY_REOPEN,
				    reopen, &code),
			 0);
		T_EQ_INT(check_kind(CB_ROLE_COORDINATOR, CB_KIND_QUERY_REOPEN,
				    reopen, &code),
			 CB_EFORBIDDEN);
		T_EQ_STR(code, "forbidden");
		/* A reopen stamped before the close would change nothing. */
		back_ms = clock_ms - 3600000;
		T_EQ_INT(check_kind(CB_ROLE_MONITOR, CB_KIND_QUERY_REOPEN,
				    reopen, &code),
			 CB_ECONFLICT);
		/* Reopened, it is answered again. */
		put_kind(CB_KIND_QUERY_REOPEN, "", "", reopen, tmp);
		T_EQ_INT(check_kind(CB_ROLE_COORDINATOR, CB_KIND_QUERY_ANSWER,
				    answer, &code),
			 0);
	}
	/* A conflict's system query closes with the conflict, never by
	 * hand. */
	{
		char a[CB_EVENT_ID_HEX + 1], b[CB_EVENT_ID_HEX + 1];
		struct cb_merge_item it;

		T_EQ_INT(add("VAS", "BL", "VAS", "40", a), 0);
		T_EQ_INT(add("VAS", "BL", "VAS", "60", b), 0);
		T_EQ_INT(cb_merge_item_get(m, "KR01-01001", "BL", "VAS", "",
					   "VAS", &it, &err),
			 0);
		T_ASSERT(it.conflict && it.query);
		{
			const char *const close[] = {"query", it.query, NULL};

			T_EQ_INT(check_kind(CB_ROLE_DATAMANAGER,
					    CB_KIND_QUERY_CLOSE, close, &code),
				 CB_ECONFLICT);
			T_EQ_STR(code, "query");
		}
	}
	/* A reopen without its reason is not an event. */
	{
		struct cb_event ev;
		const char *const bare[] = {"query", q, NULL};

		build(&ev, "dora", CB_KIND_QUERY_REOPEN, "", "", NULL, NULL,
		      NULL, bare);
		T_EQ_INT(cb_event_validate(&ev, &err), CB_EINVAL);
		cb_event_release(&ev);
	}
	cb_merge_free(m);
	cb_protocol_free(knee);
}

int main(void)
{
	T_RUN(test_resolution);
	T_RUN(test_reopen);
	T_RUN(test_unblind);
	return t_done();
}
