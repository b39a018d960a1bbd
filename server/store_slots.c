/*
 * store_slots.c - the randomization tables of the central store
 * (store.h; what they mean is slots.h's): slots as the imported list
 * made them, their leases and uses, the lists and the sites'
 * code-break keys. Never an arm in plaintext: each slot's two sealed
 * arms are kept as the opaque hex text the list carries.
 */
#include "store_int.h"

#include "buf.h"
#include "clock.h"

#include <stdlib.h>
#include <string.h>

/* Fill `sl` from the current row of a ten-column slots query. */
static void slot_row(sqlite3_stmt *st, struct srv_slot *sl)
{
	sl->randno = sqlite3_column_type(st, 0) == SQLITE_NULL
			 ? NULL
			 : cb_db_col_text(st, 0);
	sl->list = cb_db_col_text(st, 1);
	sl->site = cb_db_col_text(st, 2);
	sl->stratum = cb_db_col_text(st, 3);
	sl->seq = sqlite3_column_int64(st, 4);
	sl->kit = cb_db_col_text(st, 5);
	sl->device = cb_db_col_text(st, 6);
	sl->subject = cb_db_col_text(st, 7);
	sl->arm_unblind = cb_db_col_text(st, 8);
	sl->arm_site = cb_db_col_text(st, 9);
}

int sq_slot_get(struct srv_store *s, const char *randno,
		struct srv_slot_info *out, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SLOT_GET, err);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, randno);
	rc = st_row(s, st, "read a slot", err);
	if (rc == 1) {
		cb_db_col_copy(out->randno, sizeof(out->randno), st, 0);
		cb_db_col_copy(out->list, sizeof(out->list), st, 1);
		cb_db_col_copy(out->site, sizeof(out->site), st, 2);
		cb_db_col_copy(out->stratum, sizeof(out->stratum), st, 3);
		out->seq = sqlite3_column_int64(st, 4);
		cb_db_col_copy(out->kit, sizeof(out->kit), st, 5);
		cb_db_col_copy(out->device, sizeof(out->device), st, 6);
		cb_db_col_copy(out->subject, sizeof(out->subject), st, 7);
		cb_db_col_copy(out->event, sizeof(out->event), st, 10);
	}
	sqlite3_reset(st);
	return rc == 1 ? 0
	       : rc    ? rc
		       : cb_err_set(err, CB_ENOTFOUND, "no slot %.40s", randno);
}

int sq_slot_of_subject(struct srv_store *s, const char *subject, char *out,
		       size_t cap, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SLOT_OF_SUBJECT, err);
	int rc;

	out[0] = '\0';
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, subject);
	rc = st_row(s, st, "read slots", err);
	if (rc == 1)
		cb_db_col_copy(out, cap, st, 0);
	sqlite3_reset(st);
	return rc == 1 ? 0
	       : rc    ? rc
		    : cb_err_set(err, CB_ENOTFOUND, "subject %s used no slot",
				 subject);
}

/* One slot of a list: kept as it is, replaced, or refused. */
static int put_one(struct srv_store *s, const char *list_id,
		   const struct srv_slot_new *n, size_t *added,
		   size_t *replaced, size_t *kept, struct cb_err *err)
{
	struct srv_slot old;
	sqlite3_stmt *st = st_get(s, ST_SLOT_GET, err);
	int rc, same = 0, taken = 0;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, n->randno);
	rc = st_row(s, st, "read a slot", err);
	if (rc == 1) {
		slot_row(st, &old);
		same = !strcmp(old.list, list_id) &&
		       !strcmp(old.site, n->site) &&
		       !strcmp(old.stratum, n->stratum) && old.seq == n->seq &&
		       !strcmp(old.kit, n->kit) &&
		       !strcmp(old.arm_unblind, n->arm_unblind) &&
		       !strcmp(old.arm_site, n->arm_site);
		taken = old.device[0] || old.subject[0];
		if (taken && !same)
			rc = cb_err_set(err, CB_ECONFLICT,
					"slot %s is already %s; a list that "
					"changes it cannot be imported",
					n->randno,
					old.subject[0] ? "used by a subject"
						       : "leased to a device");
	}
	sqlite3_reset(st);
	if (rc < 0)
		return rc;
	if (rc == 1 && same) {
		(*kept)++;
		return 0;
	}
	if (rc == 1) {
		st = st_get(s, ST_SLOT_DELETE, err);
		if (!st)
			return err->code;
		cb_db_bind_text(st, 1, n->randno);
		rc = st_done(s, st, "replacing a slot", err);
		if (rc)
			return rc;
		(*replaced)++;
	}
	cb_err_clear(err);
	st = st_get(s, ST_SLOT_KIT, err);
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, n->kit);
	rc = st_row(s, st, "reading kits", err);
	if (rc == 1)
		rc = cb_err_set(err, CB_ECONFLICT,
				"kit %s of slot %s is already the kit of slot "
				"%s; kit numbers must stay unique",
				n->kit, n->randno, cb_db_col_text(st, 0));
	sqlite3_reset(st);
	if (rc)
		return rc;
	st = st_get(s, ST_SLOT_INSERT, err);
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, n->randno);
	cb_db_bind_text(st, 2, list_id);
	cb_db_bind_text(st, 3, n->site);
	cb_db_bind_text(st, 4, n->stratum);
	sqlite3_bind_int64(st, 5, n->seq);
	cb_db_bind_text(st, 6, n->kit);
	cb_db_bind_text(st, 7, n->arm_unblind);
	cb_db_bind_text(st, 8, n->arm_site);
	rc = st_done(s, st, "storing a slot", err);
	if (!rc)
		(*added)++;
	return rc;
}

int sq_slots_put(struct srv_store *s, const char *list_id,
		 const struct srv_slot_new *slots, size_t n, size_t *added,
		 size_t *replaced, size_t *kept, struct cb_err *err)
{
	size_t i;
	int rc = 0;

	*added = *replaced = *kept = 0;
	for (i = 0; i < n && !rc; i++)
		rc = put_one(s, list_id, &slots[i], added, replaced, kept, err);
	if (*replaced > *added)
		*replaced = *added;
	return rc;
}

int sq_slots_list(struct srv_store *s, const char *list_id,
		  const char *fingerprint, const char *study, size_t nslots,
		  struct cb_err *err)
{
	char now[CB_CLOCK_UTC_BUF];
	sqlite3_stmt *st = st_get(s, ST_SLOT_LIST_ADD, err);

	if (!st)
		return err->code;
	cb_clock_format_utc(cb_clock_now_ms(), now);
	cb_db_bind_text(st, 1, list_id);
	cb_db_bind_text(st, 2, fingerprint);
	cb_db_bind_text(st, 3, study);
	cb_db_bind_text(st, 4, now);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)nslots);
	return st_done(s, st, "storing the list", err);
}

int sq_slots_site(struct srv_store *s, const char *list_id, const char *site,
		  const char *pub_hex, const char *key_hex, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SLOT_SITE_ADD, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, list_id);
	cb_db_bind_text(st, 2, site);
	cb_db_bind_text(st, 3, pub_hex);
	cb_db_bind_text(st, 4, key_hex);
	return st_done(s, st, "storing a site key", err);
}

/* The stratum cells of `site`, as a malloc'd array of strings. */
static int cells_of(struct srv_store *s, const char *site, char ***out,
		    size_t *n, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SLOT_CELLS, err);
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, site);
	while ((rc = st_row(s, st, "reading strata", err)) == 1) {
		char *c = strdup(cb_db_col_text(st, 0));

		rc = c ? cb_array_grow((void **)out, &cap, *n + 1,
				       sizeof(**out), 100000, "strata", err)
		       : cb_err_set(err, CB_ENOMEM, "out of memory");
		if (rc) {
			free(c);
			break;
		}
		(*out)[(*n)++] = c;
	}
	sqlite3_reset(st);
	return rc;
}

int sq_slots_lease(struct srv_store *s, const char *device, const char *site,
		   long want, const char *now, struct cb_err *err)
{
	sqlite3_stmt *st;
	char **cells = NULL;
	size_t n = 0, i;
	int rc;

	rc = cells_of(s, site, &cells, &n, err);
	for (i = 0; i < n && !rc; i++) {
		int64_t have = 0;

		st = st_get(s, ST_SLOT_HAVE, err);
		if (!st) {
			rc = err->code;
			break;
		}
		cb_db_bind_text(st, 1, device);
		cb_db_bind_text(st, 2, cells[i]);
		cb_db_bind_text(st, 3, site);
		rc = st_row(s, st, "counting leased slots", err);
		if (rc == 1)
			have = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc < 0)
			break;
		rc = 0;
		if (have >= want)
			continue;
		st = st_get(s, ST_SLOT_LEASE, err);
		if (!st) {
			rc = err->code;
			break;
		}
		cb_db_bind_text(st, 1, device);
		cb_db_bind_text(st, 2, now);
		cb_db_bind_text(st, 3, site);
		cb_db_bind_text(st, 4, cells[i]);
		sqlite3_bind_int64(st, 5, want - have);
		rc = st_done(s, st, "leasing slots", err);
	}
	for (i = 0; i < n; i++)
		free(cells[i]);
	free(cells);
	return rc;
}

int sq_slots_each(struct srv_store *s, int kind, const char *device,
		  const char *site,
		  int (*fn)(const struct srv_slot *sl, void *ctx), void *ctx,
		  struct cb_err *err)
{
	static const enum stmt_id ids[] = {ST_SLOT_LEASED, ST_SLOT_ASSIGNED,
					   ST_SLOT_KEYS, ST_SLOT_ARMS};
	struct srv_slot sl;
	sqlite3_stmt *st;
	int rc, r = 0;

	if (kind < 0 || kind > 3)
		return cb_err_set(err, CB_EINVAL, "no such slot listing");
	st = st_get(s, ids[kind], err);
	if (!st)
		return err->code;
	if (kind == 0)
		cb_db_bind_text(st, 1, device);
	else if (kind < 3)
		cb_db_bind_text(st, 1, site);
	while ((rc = st_row(s, st, "reading slots", err)) == 1) {
		slot_row(st, &sl);
		r = fn(&sl, ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	return r ? r : rc;
}

int sq_slot_mark(struct srv_store *s, const char *randno, const char *subject,
		 const char *event, const char *device, const char *when,
		 struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SLOT_MARK, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, randno);
	cb_db_bind_text(st, 2, subject);
	cb_db_bind_text(st, 3, event);
	cb_db_bind_text(st, 4, when);
	cb_db_bind_text(st, 5, device);
	return st_done(s, st, "marking a slot used", err);
}

int sq_slot_hold(struct srv_store *s, const char *randno, const char *device,
		 const char *site, const char *now, int *took,
		 struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SLOT_HOLD, err);
	int rc;

	*took = 0;
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, randno);
	cb_db_bind_text(st, 2, device);
	cb_db_bind_text(st, 3, site);
	cb_db_bind_text(st, 4, now);
	rc = st_done(s, st, "recording a held slot", err);
	if (!rc)
		*took = sqlite3_changes(SQ(s)->db.db) > 0;
	return rc;
}

int sq_slots_clear_used(struct srv_store *s, struct cb_err *err)
{
	return cb_db_exec(&SQ(s)->db,
			  "UPDATE rand_slots SET subject = NULL,"
			  " event = NULL, used_at = NULL WHERE event IS NULL"
			  " OR device IS NULL"
			  " OR event IN (SELECT id FROM events)",
			  "clearing used slots", err);
}

int sq_slots_counts(struct srv_store *s, long *lists,
		    int (*fn)(const char *site, long slots, long leased,
			      long used, void *ctx),
		    void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc, r = 0;

	rc =
	    cb_db_int64(&SQ(s)->db, "SELECT count(*) FROM rand_lists", &n, err);
	*lists = (long)n;
	if (rc)
		return rc;
	st = st_get(s, ST_SLOT_COUNTS, err);
	if (!st)
		return err->code;
	while ((rc = st_row(s, st, "reading slots", err)) == 1) {
		r = fn(cb_db_col_text(st, 0), (long)sqlite3_column_int64(st, 1),
		       (long)sqlite3_column_int64(st, 2),
		       (long)sqlite3_column_int64(st, 3), ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	return r ? r : rc;
}
