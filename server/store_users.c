/*
 * store_users.c - the people of the study in the central store
 * (store.h): who may make events, with which role and at which site.
 */
#include "store_int.h"

#include <string.h>

static void user_row(sqlite3_stmt *st, struct srv_user *u)
{
	memset(u, 0, sizeof(*u));
	cb_db_col_copy(u->name, sizeof(u->name), st, 0);
	cb_db_col_copy(u->full_name, sizeof(u->full_name), st, 1);
	cb_db_col_copy(u->role, sizeof(u->role), st, 2);
	cb_db_col_copy(u->site, sizeof(u->site), st, 3);
	u->created_ms = sqlite3_column_int64(st, 4);
	u->disabled_ms = sqlite3_column_int64(st, 5);
	cb_db_col_copy(u->disabled_reason, sizeof(u->disabled_reason), st, 6);
}

int sq_user_add(struct srv_store *s, const struct srv_user *u,
		struct cb_err *err)
{
	struct srv_user old;
	sqlite3_stmt *st;
	int rc;

	if (u->site[0]) {
		/* the statement, not srv_store_site_exists: store.c calls
		 * this file, so this file does not call store.c */
		st = st_get(s, ST_SITE_GET, err);
		if (!st)
			return err->code;
		cb_db_bind_text(st, 1, u->site);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			return cb_err_set(err, CB_ENOTFOUND,
					  "unknown site %s (add it with "
					  "'casebookd site add')",
					  u->site);
		if (rc != SQLITE_ROW)
			return st_fail(s, rc, "read site", err);
	}
	rc = sq_user_get(s, u->name, &old, err);
	if (!rc)
		return cb_err_set(err, CB_EEXIST,
				  "user %s already exists%s; user names are "
				  "never reused",
				  u->name,
				  old.disabled_ms ? " (disabled)" : "");
	if (rc != CB_ENOTFOUND)
		return rc;
	cb_err_clear(err);
	st = st_get(s, ST_USER_ADD, err);
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, u->name);
	cb_db_bind_text(st, 2, u->full_name);
	cb_db_bind_text(st, 3, u->role);
	cb_db_bind_text(st, 4, u->site);
	sqlite3_bind_int64(st, 5, u->created_ms);
	return st_done(s, st, "add user", err);
}

int sq_user_get(struct srv_store *s, const char *name, struct srv_user *out,
		struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_USER_GET, err);
	int rc;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		user_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return cb_err_set(err, CB_ENOTFOUND, "unknown user %s", name);
	return st_fail(s, rc, "read user", err);
}

int sq_user_each(struct srv_store *s, const char *site, const char *role,
		 int (*fn)(const struct srv_user *u, void *ctx), void *ctx,
		 struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_USER_EACH, err);
	struct srv_user u;
	int rc;

	if (!st)
		return err->code;
	if (site)
		cb_db_bind_text(st, 1, site);
	else
		sqlite3_bind_null(st, 1);
	if (role)
		cb_db_bind_text(st, 2, role);
	else
		sqlite3_bind_null(st, 2);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		user_row(st, &u);
		r = fn(&u, ctx);
		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : st_fail(s, rc, "list users", err);
}

int sq_user_disable(struct srv_store *s, const char *name, int64_t now_ms,
		    const char *reason, struct cb_err *err)
{
	struct srv_user u;
	sqlite3_stmt *st;
	int rc;

	rc = sq_user_get(s, name, &u, err);
	if (rc)
		return rc;
	if (u.disabled_ms)
		return cb_err_set(err, CB_ECONFLICT,
				  "user %s is already disabled", name);
	st = st_get(s, ST_USER_DISABLE, err);
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, now_ms > 0 ? now_ms : 1);
	cb_db_bind_text(st, 3, reason);
	return st_done(s, st, "disable user", err);
}
