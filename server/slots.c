/*
 * slots.c - the randomization slots of the central store (slots.h):
 * import of a sealed list, leases to site devices, the slot check of a
 * randomize event, and the randomization report. The sealed arms pass
 * through as hex text; nothing here can open one.
 */
#include "slots.h"

#include "check.h"
#include "clock.h"
#include "http.h"
#include "record.h"
#include "srv.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS rand_lists(list_id TEXT PRIMARY KEY,"
    " fingerprint TEXT NOT NULL, study TEXT NOT NULL,"
    " imported_at TEXT NOT NULL, nslots INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rand_sites(list_id TEXT NOT NULL,"
    " site TEXT NOT NULL, codebreak_pub TEXT NOT NULL,"
    " codebreak_key TEXT NOT NULL, PRIMARY KEY(list_id, site));"
    "CREATE TABLE IF NOT EXISTS rand_slots(randno TEXT PRIMARY KEY,"
    " list_id TEXT NOT NULL, site TEXT NOT NULL, stratum TEXT NOT NULL,"
    " seq INTEGER NOT NULL, kit TEXT NOT NULL UNIQUE,"
    " arm_unblinding TEXT NOT NULL, arm_site TEXT NOT NULL,"
    " device TEXT, leased_at TEXT, subject TEXT UNIQUE, event TEXT,"
    " used_at TEXT);"
    "CREATE INDEX IF NOT EXISTS rand_slots_cell"
    " ON rand_slots(site, stratum, seq);"
    "CREATE INDEX IF NOT EXISTS rand_slots_device"
    " ON rand_slots(device, stratum, seq);";

static int db_fail(sqlite3 *db, struct cb_err *err, const char *what)
{
	int rc = sqlite3_errcode(db);

	return cb_err_set(
	    err, rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? CB_EBUSY : CB_EIO,
	    "central store: %s: %s", what, sqlite3_errmsg(db));
}

static int ensure(sqlite3 *db, struct cb_err *err)
{
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, err, "randomization tables");
	return 0;
}

/* Prepare `sql`; NULL (err set) on failure. */
static sqlite3_stmt *prep(sqlite3 *db, const char *sql, struct cb_err *err)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		if (err)
			db_fail(db, err, "prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

/* Lowercase hex of `len` bytes, malloc'd; NULL when out of memory. */
static char *hex_alloc(const void *bin, size_t len)
{
	struct cb_err err;
	char *out = malloc(CB_HEX_SIZE(len));

	if (out && cb_hex_encode(bin, len, out, CB_HEX_SIZE(len), &err)) {
		free(out);
		out = NULL;
	}
	return out;
}

/* ---- import ------------------------------------------------------------ */

struct hexslot {
	char *unblind, *site;
};

static void hexslots_free(struct hexslot *h, size_t n)
{
	size_t i;

	for (i = 0; h && i < n; i++) {
		free(h[i].unblind);
		free(h[i].site);
	}
	free(h);
}

/*
 * Phase one: every slot of the list already stored is identical (kept),
 * or unassigned and dropped for the new one (replaced), or assigned and
 * the import is refused. `exists[i]` is set for kept slots.
 */
static int import_compare(sqlite3 *db, const struct cb_randlist *list,
			  const struct hexslot *hx, unsigned char *exists,
			  struct srv_slots_import *r, struct cb_err *err)
{
	sqlite3_stmt *get, *del = NULL;
	size_t i;
	int rc = 0;

	get = prep(db,
		   "SELECT list_id, site, stratum, seq, kit, arm_unblinding,"
		   " arm_site, device, subject FROM rand_slots"
		   " WHERE randno = ?",
		   err);
	if (get)
		del = prep(db, "DELETE FROM rand_slots WHERE randno = ?", err);
	if (!get || !del) {
		sqlite3_finalize(get);
		return err->code;
	}
	for (i = 0; i < list->nslots && !rc; i++) {
		const struct cb_randlist_slot *sl = &list->slots[i];
		int same;

		sqlite3_reset(get);
		bind_text(get, 1, sl->randno);
		rc = sqlite3_step(get);
		if (rc == SQLITE_DONE) {
			rc = 0;
			continue;
		}
		if (rc != SQLITE_ROW) {
			rc = db_fail(db, err, "reading slots");
			break;
		}
		rc = 0;
		same = !strcmp(col(get, 0), list->list_id) &&
		       !strcmp(col(get, 1), sl->site) &&
		       !strcmp(col(get, 2), sl->stratum) &&
		       sqlite3_column_int64(get, 3) == (sqlite3_int64)sl->seq &&
		       !strcmp(col(get, 4), sl->kit) &&
		       !strcmp(col(get, 5), hx[i].unblind) &&
		       !strcmp(col(get, 6), hx[i].site);
		if (same) {
			exists[i] = 1;
			r->kept++;
			continue;
		}
		if (sqlite3_column_type(get, 7) != SQLITE_NULL ||
		    sqlite3_column_type(get, 8) != SQLITE_NULL) {
			rc = cb_err_set(err, CB_ECONFLICT,
					"slot %s is already %s; a list that "
					"changes it cannot be imported",
					sl->randno,
					sqlite3_column_type(get, 8) !=
						SQLITE_NULL
					    ? "used by a subject"
					    : "leased to a device");
			break;
		}
		sqlite3_reset(get);
		sqlite3_reset(del);
		bind_text(del, 1, sl->randno);
		if (sqlite3_step(del) != SQLITE_DONE)
			rc = db_fail(db, err, "replacing a slot");
		r->replaced++;
	}
	sqlite3_finalize(get);
	sqlite3_finalize(del);
	return rc;
}

/* Phase two: insert the slots not kept; a kit already taken refuses. */
static int import_insert(sqlite3 *db, const struct cb_randlist *list,
			 const struct hexslot *hx, const unsigned char *exists,
			 struct srv_slots_import *r, struct cb_err *err)
{
	sqlite3_stmt *kit, *ins = NULL;
	size_t i;
	int rc = 0;

	kit = prep(db, "SELECT randno FROM rand_slots WHERE kit = ?", err);
	if (kit)
		ins = prep(db,
			   "INSERT INTO rand_slots(randno, list_id, site,"
			   " stratum, seq, kit, arm_unblinding, arm_site)"
			   " VALUES(?,?,?,?,?,?,?,?)",
			   err);
	if (!kit || !ins) {
		sqlite3_finalize(kit);
		return err->code;
	}
	for (i = 0; i < list->nslots && !rc; i++) {
		const struct cb_randlist_slot *sl = &list->slots[i];

		if (exists[i])
			continue;
		sqlite3_reset(kit);
		bind_text(kit, 1, sl->kit);
		rc = sqlite3_step(kit);
		if (rc == SQLITE_ROW) {
			rc = cb_err_set(err, CB_ECONFLICT,
					"kit %s of slot %s is already the kit "
					"of slot %s; kit numbers must stay "
					"unique",
					sl->kit, sl->randno, col(kit, 0));
			break;
		}
		if (rc != SQLITE_DONE) {
			rc = db_fail(db, err, "reading kits");
			break;
		}
		rc = 0;
		sqlite3_reset(ins);
		bind_text(ins, 1, sl->randno);
		bind_text(ins, 2, list->list_id);
		bind_text(ins, 3, sl->site);
		bind_text(ins, 4, sl->stratum);
		sqlite3_bind_int64(ins, 5, (sqlite3_int64)sl->seq);
		bind_text(ins, 6, sl->kit);
		bind_text(ins, 7, hx[i].unblind);
		bind_text(ins, 8, hx[i].site);
		if (sqlite3_step(ins) != SQLITE_DONE)
			rc = db_fail(db, err, "storing a slot");
		r->added++;
	}
	sqlite3_finalize(kit);
	sqlite3_finalize(ins);
	if (r->replaced > r->added)
		r->replaced = r->added;
	return rc;
}

/* The list's own rows: rand_lists and rand_sites (kept when present). */
static int import_meta(sqlite3 *db, const struct cb_randlist *list,
		       const char *study, struct cb_err *err)
{
	char now[CB_CLOCK_UTC_BUF];
	sqlite3_stmt *st;
	size_t i;
	int rc = 0;

	cb_clock_format_utc(cb_clock_now_ms(), now);
	st = prep(db,
		  "INSERT OR IGNORE INTO rand_lists(list_id, fingerprint,"
		  " study, imported_at, nslots) VALUES(?,?,?,?,?)",
		  err);
	if (!st)
		return err->code;
	bind_text(st, 1, list->list_id);
	bind_text(st, 2, list->fingerprint);
	bind_text(st, 3, study);
	bind_text(st, 4, now);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)list->nslots);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "storing the list");
	sqlite3_finalize(st);
	if (rc)
		return rc;
	st = prep(db,
		  "INSERT OR IGNORE INTO rand_sites(list_id, site,"
		  " codebreak_pub, codebreak_key) VALUES(?,?,?,?)",
		  err);
	if (!st)
		return err->code;
	for (i = 0; i < list->nsites && !rc; i++) {
		const struct cb_randlist_site *site = &list->sites[i];
		char *pub = hex_alloc(site->codebreak_pub, CB_BOX_PUBLIC_BYTES);
		char *key = site->codebreak_key
				? hex_alloc(site->codebreak_key,
					    strlen(site->codebreak_key))
				: NULL;

		if (!pub || !key) {
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		} else {
			sqlite3_reset(st);
			bind_text(st, 1, list->list_id);
			bind_text(st, 2, site->code);
			bind_text(st, 3, pub);
			bind_text(st, 4, key);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = db_fail(db, err, "storing a site key");
		}
		free(pub);
		free(key);
	}
	sqlite3_finalize(st);
	return rc;
}

int srv_slots_import(struct srv_store *s, const struct cb_randlist *list,
		     const char *study, const char *sha256,
		     struct srv_slots_import *r, struct cb_err *err)
{
	sqlite3 *db = srv_store_sqlite(s);
	struct hexslot *hx = NULL;
	unsigned char *exists = NULL;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	if (strcmp(list->study_id, study))
		return cb_err_set(err, CB_EINVAL,
				  "the list is for study %s; this server "
				  "holds study %s",
				  list->study_id, study);
	if (strcmp(list->protocol_sha256, sha256))
		return cb_err_set(err, CB_EINVAL,
				  "the list was made for protocol %s (SHA-256 "
				  "%.16s...); this server holds %.16s...",
				  list->protocol_version, list->protocol_sha256,
				  sha256);
	rc = ensure(db, err);
	if (rc)
		return rc;
	hx = calloc(list->nslots ? list->nslots : 1, sizeof(*hx));
	exists = calloc(list->nslots ? list->nslots : 1, 1);
	if (!hx || !exists) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < list->nslots; i++) {
		const struct cb_randlist_slot *sl = &list->slots[i];

		hx[i].unblind =
		    hex_alloc(sl->seal_unblind, sl->seal_unblind_len);
		hx[i].site = hex_alloc(sl->seal_site, sl->seal_site_len);
		if (!hx[i].unblind || !hx[i].site) {
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
			goto out;
		}
	}
	rc = srv_store_begin(s, err);
	if (rc)
		goto out;
	rc = import_compare(db, list, hx, exists, r, err);
	if (!rc)
		rc = import_insert(db, list, hx, exists, r, err);
	if (!rc)
		rc = import_meta(db, list, study, err);
	if (!rc)
		rc = srv_store_commit(s, err);
	else
		srv_store_rollback(s);
	r->same = !rc && !r->added && !r->replaced;
out:
	hexslots_free(hx, list->nslots);
	free(exists);
	return rc;
}

/* ---- leases ------------------------------------------------------------ */

/* Written once by `casebookd serve` before any request thread runs. */
static unsigned lease_size = SRV_SLOTS_LEASE;

void srv_slots_set_lease(unsigned per_stratum)
{
	lease_size = per_stratum >= 1 && per_stratum <= SRV_SLOTS_LEASE_MAX
			 ? per_stratum
			 : SRV_SLOTS_LEASE;
}

unsigned srv_slots_lease_size(void)
{
	return lease_size;
}

/* Top up `dev`'s unused slots of one cell to `want`. */
static int lease_cell(sqlite3 *db, const struct srv_device *dev,
		      const char *stratum, sqlite3_int64 want, const char *now,
		      struct cb_err *err)
{
	sqlite3_stmt *st;
	sqlite3_int64 have = 0;
	int rc = 0;

	st = prep(db,
		  "SELECT count(*) FROM rand_slots WHERE device = ?"
		  " AND stratum = ? AND site = ? AND subject IS NULL",
		  err);
	if (!st)
		return err->code;
	bind_text(st, 1, dev->id);
	bind_text(st, 2, stratum);
	bind_text(st, 3, dev->site);
	if (sqlite3_step(st) == SQLITE_ROW)
		have = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(db, err, "counting leased slots");
	sqlite3_finalize(st);
	if (rc || have >= want)
		return rc;
	st = prep(db,
		  "UPDATE rand_slots SET device = ?, leased_at = ?"
		  " WHERE randno IN (SELECT randno FROM rand_slots"
		  " WHERE site = ? AND stratum = ? AND device IS NULL"
		  " AND subject IS NULL ORDER BY seq LIMIT ?)",
		  err);
	if (!st)
		return err->code;
	bind_text(st, 1, dev->id);
	bind_text(st, 2, now);
	bind_text(st, 3, dev->site);
	bind_text(st, 4, stratum);
	sqlite3_bind_int64(st, 5, want - have);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "leasing slots");
	sqlite3_finalize(st);
	return rc;
}

/* Run `sql` (one text parameter: the site or device) into `arr`, one
 * object per row with the given member names, one per column. */
static int rows_to(sqlite3 *db, const char *sql, const char *param,
		   const char *const *names, cJSON *arr, struct cb_err *err)
{
	sqlite3_stmt *st = prep(db, sql, err);
	int rc, i;

	if (!st)
		return err->code;
	bind_text(st, 1, param);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *o = cJSON_CreateObject();

		if (!o)
			break;
		for (i = 0; names[i]; i++)
			cJSON_AddStringToObject(o, names[i], col(st, i));
		cJSON_AddItemToArray(arr, o);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	if (rc != SQLITE_DONE)
		return db_fail(db, err, "reading slots");
	return 0;
}

int srv_slots_lease(struct srv_store *s, const struct srv_device *dev,
		    unsigned per_stratum, cJSON **reply, struct cb_err *err)
{
	static const char *const lease_cols[] = {
	    "slot",   "list", "stratum",  "seq",
	    "randno", "kit",  "arm_site", NULL};
	static const char *const assigned_cols[] = {
	    "slot", "list", "subject", "randno", "kit", "arm_site", NULL};
	static const char *const key_cols[] = {"list", "public_key", "key",
					       NULL};
	sqlite3 *db = srv_store_sqlite(s);
	char now[CB_CLOCK_UTC_BUF];
	sqlite3_stmt *st;
	cJSON *out = NULL, *lease, *assigned, *keys;
	char **cells = NULL;
	size_t ncells = 0, i;
	int rc;

	*reply = NULL;
	if (!per_stratum || per_stratum > SRV_SLOTS_LEASE_MAX)
		per_stratum = SRV_SLOTS_LEASE;
	if (!dev->site[0] || !cb_role_is_site(dev->role))
		return cb_err_set(err, CB_EFORBIDDEN,
				  "only site devices (coordinator, "
				  "investigator) hold randomization slots");
	rc = ensure(db, err);
	if (rc)
		return rc;
	cb_clock_format_utc(cb_clock_now_ms(), now);
	rc = srv_store_begin(s, err);
	if (rc)
		return rc;
	st = prep(db,
		  "SELECT DISTINCT stratum FROM rand_slots WHERE site = ?"
		  " ORDER BY stratum",
		  err);
	if (!st)
		rc = err->code;
	if (st) {
		bind_text(st, 1, dev->site);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			char **grown =
			    realloc(cells, (ncells + 1) * sizeof(*cells));

			if (!grown || !(grown[ncells] = strdup(col(st, 0)))) {
				cells = grown ? grown : cells;
				break;
			}
			cells = grown;
			ncells++;
		}
		rc = rc == SQLITE_DONE ? 0
		     : rc == SQLITE_ROW
			 ? cb_err_set(err, CB_ENOMEM, "out of memory")
			 : db_fail(db, err, "reading strata");
		sqlite3_finalize(st);
	}
	for (i = 0; i < ncells && !rc; i++)
		rc = lease_cell(db, dev, cells[i], (sqlite3_int64)per_stratum,
				now, err);
	for (i = 0; i < ncells; i++)
		free(cells[i]);
	free(cells);

	out = rc ? NULL : cJSON_CreateObject();
	if (!rc && !out)
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	if (!rc) {
		cJSON_AddStringToObject(out, "site", dev->site);
		cJSON_AddNumberToObject(out, "per_stratum", per_stratum);
		lease = cJSON_AddArrayToObject(out, "lease");
		assigned = cJSON_AddArrayToObject(out, "assigned");
		keys = cJSON_AddArrayToObject(out, "codebreak");
		if (!lease || !assigned || !keys)
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (!rc)
		rc =
		    rows_to(db,
			    "SELECT randno, list_id, stratum, seq, randno, kit,"
			    " arm_site FROM rand_slots WHERE device = ?"
			    " AND subject IS NULL ORDER BY stratum, seq",
			    dev->id, lease_cols, lease, err);
	if (!rc)
		rc = rows_to(db,
			     "SELECT randno, list_id, subject, randno, kit,"
			     " arm_site FROM rand_slots WHERE site = ?"
			     " AND subject IS NOT NULL ORDER BY randno",
			     dev->site, assigned_cols, assigned, err);
	if (!rc)
		rc = rows_to(db,
			     "SELECT list_id, codebreak_pub, codebreak_key"
			     " FROM rand_sites WHERE site = ? ORDER BY list_id",
			     dev->site, key_cols, keys, err);
	if (!rc)
		rc = srv_store_commit(s, err);
	else
		srv_store_rollback(s);
	if (rc) {
		cJSON_Delete(out);
		return rc;
	}
	*reply = out;
	return 0;
}

/* ---- the randomize event ----------------------------------------------- */

/* The value the event writes to `item` of the randomization form. */
static const char *change_value(const struct cb_event *ev,
				const struct cb_protocol_item *item)
{
	size_t i;

	for (i = 0; item && i < ev->nchanges; i++)
		if (!strcmp(ev->changes[i].item, item->code))
			return ev->changes[i].value;
	return NULL;
}

/* The subject is eligible on the server's record. */
static int check_eligible(const struct cb_protocol *p, struct cb_merge *m,
			  const char *subject, struct cb_err *err)
{
	struct cb_record_source rs;
	struct cb_check_source src = cb_record_source(&rs, m, subject);
	struct cb_check_elig el;
	int rc;

	cb_check_elig_init(&el);
	rc = cb_check_eligibility(p, &src, &el, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		rc = 0;
	} else if (!rc && el.status != CB_ELIG_YES) {
		rc = cb_err_set(err, CB_ECHECK,
				"subject %s is %s (%zu rule(s) failed, %zu "
				"item(s) missing)",
				subject, cb_elig_status_name(el.status),
				el.nfailed, el.missing.count);
	}
	cb_check_elig_release(&el);
	return rc;
}

int srv_slots_check(struct srv_store *s, const struct cb_protocol *p,
		    struct cb_merge *m, const struct srv_device *dev,
		    const struct cb_event *ev, const char **code,
		    struct cb_err *err)
{
	sqlite3 *db = srv_store_sqlite(s);
	const char *slot = cb_event_data(ev, SRV_SLOTS_DATA_SLOT);
	const char *randno = change_value(ev, p->rand_number);
	const char *kit = change_value(ev, p->rand_kit);
	char cell[256];
	sqlite3_stmt *st;
	int rc;

	*code = "slot";
	if (!p->rand_form)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "the protocol has no randomization");
	if (!slot)
		return cb_err_set(err, CB_EINVAL,
				  "$.data.slot: a randomize event names the "
				  "slot it used");
	rc = ensure(db, err);
	if (rc)
		return rc;
	st = prep(db,
		  "SELECT site, stratum, kit, device, subject FROM rand_slots"
		  " WHERE randno = ?",
		  err);
	if (!st)
		return err->code;
	bind_text(st, 1, slot);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = cb_err_set(err, CB_EFORBIDDEN,
				"$.data.slot: no slot %.40s in the imported "
				"randomization list",
				slot);
	} else if (rc != SQLITE_ROW) {
		rc = db_fail(db, err, "reading a slot");
	} else if (strcmp(col(st, 0), ev->site) ||
		   strcmp(col(st, 3), dev->id)) {
		rc = cb_err_set(err, CB_EFORBIDDEN,
				"$.data.slot: slot %.40s is not leased to "
				"this device",
				slot);
	} else if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
		rc = cb_err_set(err, CB_ECONFLICT,
				"$.data.slot: slot %.40s is already used by "
				"subject %.40s",
				slot, col(st, 4));
	} else if (!randno || strcmp(randno, slot) || !kit ||
		   strcmp(kit, col(st, 2))) {
		rc = cb_err_set(err, CB_EINVAL,
				"$.changes: a randomize event writes its "
				"slot's randomization and kit numbers");
	} else {
		rc = 0;
		if (cb_record_stratum(p, m, ev->subject, cell, sizeof(cell),
				      err))
			rc = err->code == CB_ENOMEM ? CB_ENOMEM : CB_ECHECK;
		else if (strcmp(cell, col(st, 1)))
			rc = cb_err_set(err, CB_ECHECK,
					"$.data.slot: slot %.40s is of stratum "
					"%.40s, the subject's is %s",
					slot, col(st, 1), cell);
	}
	sqlite3_finalize(st);
	if (rc == CB_ECHECK)
		*code = "check";
	if (rc)
		return rc;
	st = prep(db, "SELECT randno FROM rand_slots WHERE subject = ?", err);
	if (!st)
		return err->code;
	bind_text(st, 1, ev->subject);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = cb_err_set(err, CB_ECONFLICT,
				"subject %.40s is already randomized (%.40s)",
				ev->subject, col(st, 0));
	else if (rc != SQLITE_DONE)
		rc = db_fail(db, err, "reading slots");
	else
		rc = 0;
	sqlite3_finalize(st);
	if (rc)
		return rc;
	*code = "check";
	return check_eligible(p, m, ev->subject, err);
}

int srv_slots_mark(struct srv_store *s, const struct cb_event *ev,
		   struct cb_err *err)
{
	sqlite3 *db = srv_store_sqlite(s);
	sqlite3_stmt *st;
	int rc = 0;

	st = prep(db,
		  "UPDATE rand_slots SET subject = ?, event = ?, used_at = ?"
		  " WHERE randno = ?",
		  err);
	if (!st)
		return err->code;
	bind_text(st, 1, ev->subject);
	bind_text(st, 2, ev->id);
	bind_text(st, 3, ev->received_at);
	bind_text(st, 4, cb_event_data(ev, SRV_SLOTS_DATA_SLOT));
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(db, err, "marking a slot used");
	sqlite3_finalize(st);
	return rc;
}

int srv_slots_clear_used(struct srv_store *s, struct cb_err *err)
{
	sqlite3 *db = srv_store_sqlite(s);
	int rc = ensure(db, err);

	if (!rc && sqlite3_exec(db,
				"UPDATE rand_slots SET subject = NULL,"
				" event = NULL, used_at = NULL",
				NULL, NULL, NULL) != SQLITE_OK)
		rc = db_fail(db, err, "clearing used slots");
	return rc;
}

/* ---- report ------------------------------------------------------------ */

struct report_ctx {
	FILE *out;
	long n;
};

static int report_unblind(const struct srv_event_row *row, void *ctx)
{
	struct report_ctx *r = ctx;
	struct cb_event ev;
	struct cb_err err;

	if (strcmp(row->kind, CB_KIND_UNBLIND))
		return 0;
	cb_event_init(&ev);
	if (!cb_event_parse(row->json, row->json_len, &ev, &err)) {
		if (!r->n)
			fprintf(r->out, "code-breaks:\n");
		fprintf(r->out, "  UNBLINDED %s site %s by %s at %s: %s\n",
			ev.subject, ev.site, ev.user, ev.wall,
			ev.reason ? ev.reason : "");
		r->n++;
	}
	cb_event_release(&ev);
	return 0;
}

int srv_slots_report(struct srv_store *s, FILE *out, struct cb_err *err)
{
	sqlite3 *db = srv_store_sqlite(s);
	struct report_ctx r = {out, 0};
	sqlite3_stmt *st;
	int rc = 0;

	/* No table yet: no list imported (and a report writes nothing). */
	st = prep(db,
		  "SELECT site, count(*), count(device), count(subject)"
		  " FROM rand_slots GROUP BY site ORDER BY site",
		  NULL);
	if (!st)
		fprintf(out, "randomization    no list imported\n");
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		fprintf(out,
			"randomization    site %s: %lld slots, %lld leased, "
			"%lld used\n",
			col(st, 0), (long long)sqlite3_column_int64(st, 1),
			(long long)sqlite3_column_int64(st, 2),
			(long long)sqlite3_column_int64(st, 3));
	if (st) {
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return db_fail(db, err, "reading slots");
	}
	rc = srv_store_event_each(s, 0, 0, NULL, 1, report_unblind, &r, NULL,
				  err);
	if (!rc)
		fprintf(out, "code-breaks      %ld\n", r.n);
	return rc;
}

/* ---- GET /v1/slots ----------------------------------------------------- */

void srv_api_slots(struct srv_req *r)
{
	struct cb_err err;
	cJSON *reply = NULL;
	int rc;

	cb_err_clear(&err);
	if (!r->dev.site[0] || !cb_role_is_site(r->dev.role)) {
		srv_req_error(r, 403, "forbidden",
			      "only site devices (coordinator, investigator) "
			      "hold randomization slots");
		return;
	}
	pthread_mutex_lock(&r->core->lock);
	rc = srv_slots_lease(r->core->store, &r->dev, srv_slots_lease_size(),
			     &reply, &err);
	pthread_mutex_unlock(&r->core->lock);
	if (rc) {
		srv_req_error(r, rc == CB_EBUSY ? 503 : 500, "internal",
			      "could not lease slots");
		return;
	}
	srv_req_json(r, 200, reply);
}

/* ---- GET /v1/arms ------------------------------------------------------ */

int srv_slots_arms(struct srv_store *s, cJSON **reply, struct cb_err *err)
{
	static const char *const arm_cols[] = {"subject",     "list", "site",
					       "randno",      "kit",  "stratum",
					       "arm_unblind", NULL};
	sqlite3 *db = srv_store_sqlite(s);
	cJSON *out, *arms;
	int rc;

	*reply = NULL;
	rc = ensure(db, err);
	if (rc)
		return rc;
	out = cJSON_CreateObject();
	arms = out ? cJSON_AddArrayToObject(out, "arms") : NULL;
	if (!arms) {
		cJSON_Delete(out);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	rc = srv_store_begin(s, err);
	/* rows_to's one parameter, NULL here, is tested and ignored. */
	if (!rc)
		rc = rows_to(db,
			     "SELECT subject, list_id, site, randno, kit,"
			     " stratum, arm_unblinding FROM rand_slots"
			     " WHERE subject IS NOT NULL AND ?1 IS NULL"
			     " ORDER BY site, randno",
			     NULL, arm_cols, arms, err);
	if (!rc)
		rc = srv_store_commit(s, err);
	else
		srv_store_rollback(s);
	if (rc) {
		cJSON_Delete(out);
		return rc;
	}
	*reply = out;
	return 0;
}

void srv_api_arms(struct srv_req *r)
{
	struct cb_err err;
	cJSON *reply = NULL;
	int rc;

	cb_err_clear(&err);
	if (strcmp(r->dev.role, SRV_SLOTS_ARMS_ROLE)) {
		srv_req_error(r, 403, "forbidden",
			      "only the DSMB role receives the sealed arms");
		return;
	}
	pthread_mutex_lock(&r->core->lock);
	rc = srv_slots_arms(r->core->store, &reply, &err);
	pthread_mutex_unlock(&r->core->lock);
	if (rc) {
		srv_req_error(r, rc == CB_EBUSY ? 503 : 500, "internal",
			      "could not read the arms");
		return;
	}
	srv_req_json(r, 200, reply);
}
