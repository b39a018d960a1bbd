/*
 * pg_slots.c - the randomization tables of the central store on
 * PostgreSQL (store.h, slots.h, pg_int.h), as store_slots.c keeps them
 * on SQLite. Two processes at once: a writer checking a slot holds its
 * row until its commit (PG_SLOT_GET_LOCK) and marks it used only while
 * unused, so a slot is used once; a site's leases are made one
 * transaction at a time (PG_K_LEASE), so a slot is leased to one device.
 */
#include "pg_int.h"

#include "buf.h"
#include "clock.h"

#include <stdlib.h>
#include <string.h>

/* Fill `sl` from row i of a ten-column slots query. */
static void slot_row(PGresult *r, int i, struct srv_slot *sl)
{
	sl->randno = pg_null(r, i, 0) ? NULL : pg_col(r, i, 0);
	sl->list = pg_col(r, i, 1);
	sl->site = pg_col(r, i, 2);
	sl->stratum = pg_col(r, i, 3);
	sl->seq = pg_int(r, i, 4);
	sl->kit = pg_col(r, i, 5);
	sl->device = pg_col(r, i, 6);
	sl->subject = pg_col(r, i, 7);
	sl->arm_unblind = pg_col(r, i, 8);
	sl->arm_site = pg_col(r, i, 9);
}

/* A writer's transaction locks the row it reads. */
static enum pg_stmt slot_get_stmt(struct pg_store *p)
{
	return !p->readonly && p->conn &&
		       PQtransactionStatus(p->conn) == PQTRANS_INTRANS
		   ? PG_SLOT_GET_LOCK
		   : PG_SLOT_GET;
}

int pg_slot_get(struct srv_store *s, const char *randno,
		struct srv_slot_info *out, struct cb_err *err)
{
	struct pg_store *p = PGS(s);
	const char *v[1] = {randno};
	PGresult *r;
	int found;

	memset(out, 0, sizeof(*out));
	r = pg_run(p, slot_get_stmt(p), 1, v, NULL, NULL, "read a slot", err);
	if (!r)
		return err->code;
	found = PQntuples(r) > 0;
	if (found) {
		pg_copy(out->randno, sizeof(out->randno), r, 0, 0);
		pg_copy(out->list, sizeof(out->list), r, 0, 1);
		pg_copy(out->site, sizeof(out->site), r, 0, 2);
		pg_copy(out->stratum, sizeof(out->stratum), r, 0, 3);
		out->seq = pg_int(r, 0, 4);
		pg_copy(out->kit, sizeof(out->kit), r, 0, 5);
		pg_copy(out->device, sizeof(out->device), r, 0, 6);
		pg_copy(out->subject, sizeof(out->subject), r, 0, 7);
		pg_copy(out->event, sizeof(out->event), r, 0, 10);
	}
	PQclear(r);
	return found ? 0
		     : cb_err_set(err, CB_ENOTFOUND, "no slot %.40s", randno);
}

int pg_slot_of_subject(struct srv_store *s, const char *subject, char *out,
		       size_t cap, struct cb_err *err)
{
	const char *v[1] = {subject};
	PGresult *r = pg_run(PGS(s), PG_SLOT_OF_SUBJECT, 1, v, NULL, NULL,
			     "read slots", err);
	int found;

	out[0] = '\0';
	if (!r)
		return err->code;
	found = PQntuples(r) > 0;
	if (found)
		pg_copy(out, cap, r, 0, 0);
	PQclear(r);
	return found ? 0
		     : cb_err_set(err, CB_ENOTFOUND, "subject %s used no slot",
				  subject);
}

/* One slot of a list: kept as it is, replaced, or refused. */
static int put_one(struct pg_store *p, const char *list_id,
		   const struct srv_slot_new *n, size_t *added,
		   size_t *replaced, size_t *kept, struct cb_err *err)
{
	const char *v[8];
	struct srv_slot old;
	char seq[24];
	PGresult *r;
	int rc = 0, found, same = 0, taken = 0;

	v[0] = n->randno;
	r = pg_run(p, slot_get_stmt(p), 1, v, NULL, NULL, "read a slot", err);
	if (!r)
		return err->code;
	found = PQntuples(r) > 0;
	if (found) {
		slot_row(r, 0, &old);
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
	PQclear(r);
	if (rc)
		return rc;
	if (found && same) {
		(*kept)++;
		return 0;
	}
	if (found) {
		rc = pg_do(p, PG_SLOT_DELETE, 1, v, NULL, "replacing a slot",
			   err);
		if (rc)
			return rc;
		(*replaced)++;
	}
	v[0] = n->kit;
	r = pg_run(p, PG_SLOT_KIT, 1, v, NULL, NULL, "reading kits", err);
	if (!r)
		return err->code;
	if (PQntuples(r))
		rc = cb_err_set(err, CB_ECONFLICT,
				"kit %s of slot %s is already the kit of slot "
				"%s; kit numbers must stay unique",
				n->kit, n->randno, pg_col(r, 0, 0));
	PQclear(r);
	if (rc)
		return rc;
	v[0] = n->randno;
	v[1] = list_id;
	v[2] = n->site;
	v[3] = n->stratum;
	v[4] = pg_i64(seq, n->seq);
	v[5] = n->kit;
	v[6] = n->arm_unblind;
	v[7] = n->arm_site;
	rc = pg_do(p, PG_SLOT_INSERT, 8, v, NULL, "storing a slot", err);
	if (!rc)
		(*added)++;
	return rc;
}

int pg_slots_put(struct srv_store *s, const char *list_id,
		 const struct srv_slot_new *slots, size_t n, size_t *added,
		 size_t *replaced, size_t *kept, struct cb_err *err)
{
	size_t i;
	int rc = 0;

	*added = *replaced = *kept = 0;
	for (i = 0; i < n && !rc; i++)
		rc = put_one(PGS(s), list_id, &slots[i], added, replaced, kept,
			     err);
	if (*replaced > *added)
		*replaced = *added;
	return rc;
}

int pg_slots_list(struct srv_store *s, const char *list_id,
		  const char *fingerprint, const char *study, size_t nslots,
		  struct cb_err *err)
{
	char now[CB_CLOCK_UTC_BUF], n[24];
	const char *v[5] = {list_id, fingerprint, study, now,
			    pg_i64(n, (int64_t)nslots)};

	cb_clock_format_utc(cb_clock_now_ms(), now);
	return pg_do(PGS(s), PG_SLOT_LIST_ADD, 5, v, NULL, "storing the list",
		     err);
}

int pg_slots_site(struct srv_store *s, const char *list_id, const char *site,
		  const char *pub_hex, const char *key_hex, struct cb_err *err)
{
	const char *v[4] = {list_id, site, pub_hex, key_hex};

	return pg_do(PGS(s), PG_SLOT_SITE_ADD, 4, v, NULL, "storing a site key",
		     err);
}

int pg_slots_lease(struct srv_store *s, const char *device, const char *site,
		   long want, const char *now, struct cb_err *err)
{
	struct pg_store *p = PGS(s);
	const char *v[5];
	char more[24];
	PGresult *cells, *r;
	int i, rc;

	v[0] = site;
	rc = pg_do(p, PG_SLOT_LEASE_LOCK, 1, v, NULL, "leasing slots", err);
	if (rc)
		return rc;
	cells =
	    pg_run(p, PG_SLOT_CELLS, 1, v, NULL, NULL, "reading strata", err);
	if (!cells)
		return err->code;
	for (i = 0; i < PQntuples(cells) && !rc; i++) {
		int64_t have;

		v[0] = device;
		v[1] = pg_col(cells, i, 0);
		v[2] = site;
		r = pg_run(p, PG_SLOT_HAVE, 3, v, NULL, NULL,
			   "counting leased slots", err);
		if (!r) {
			rc = err->code;
			break;
		}
		have = pg_int(r, 0, 0);
		PQclear(r);
		if (have >= want)
			continue;
		v[0] = device;
		v[1] = now;
		v[2] = site;
		v[3] = pg_col(cells, i, 0);
		v[4] = pg_i64(more, want - have);
		rc = pg_do(p, PG_SLOT_LEASE, 5, v, NULL, "leasing slots", err);
	}
	PQclear(cells);
	return rc;
}

struct slot_walk {
	int (*fn)(const struct srv_slot *sl, void *ctx);
	void *ctx;
};

static int slot_walk_row(PGresult *r, int i, void *vctx)
{
	struct slot_walk *w = vctx;
	struct srv_slot sl;

	slot_row(r, i, &sl);
	return w->fn(&sl, w->ctx);
}

int pg_slots_each(struct srv_store *s, int kind, const char *device,
		  const char *site,
		  int (*fn)(const struct srv_slot *sl, void *ctx), void *ctx,
		  struct cb_err *err)
{
	static const char *const sql[] = {
	    "SELECT randno, list_id, site, stratum, seq, kit,"
	    " coalesce(device, ''), coalesce(subject, ''), arm_unblinding,"
	    " arm_site FROM rand_slots WHERE device = $1 AND subject IS NULL"
	    " ORDER BY stratum, seq",
	    "SELECT randno, list_id, site, stratum, seq, kit,"
	    " coalesce(device, ''), coalesce(subject, ''), arm_unblinding,"
	    " arm_site FROM rand_slots WHERE site = $1 AND subject IS NOT"
	    " NULL ORDER BY randno",
	    "SELECT NULL, list_id, site, '', 0, '', '', '', codebreak_pub,"
	    " codebreak_key FROM rand_sites WHERE site = $1 ORDER BY list_id",
	    "SELECT randno, list_id, site, stratum, seq, kit,"
	    " coalesce(device, ''), coalesce(subject, ''), arm_unblinding,"
	    " arm_site FROM rand_slots WHERE subject IS NOT NULL"
	    " ORDER BY site, randno",
	};
	struct slot_walk w = {fn, ctx};
	const char *v[1];

	if (kind < 0 || kind > 3)
		return cb_err_set(err, CB_EINVAL, "no such slot listing");
	v[0] = kind == 0 ? device : site;
	return pg_each(PGS(s), sql[kind], kind < 3 ? 1 : 0, v, slot_walk_row,
		       &w, "reading slots", err);
}

int pg_slot_mark(struct srv_store *s, const char *randno, const char *subject,
		 const char *event, const char *device, const char *when,
		 struct cb_err *err)
{
	const char *v[5] = {randno, subject, event, when, device};
	long n = 0;
	int rc =
	    pg_do(PGS(s), PG_SLOT_MARK, 5, v, &n, "marking a slot used", err);

	/* The row is held since the check: only a store changed under us
	 * (never in a push) gets here. */
	if (!rc && n != 1)
		return cb_err_set(err, CB_ECONFLICT,
				  "slot %s is already used by another subject",
				  randno);
	return rc;
}

int pg_slot_hold(struct srv_store *s, const char *randno, const char *device,
		 const char *site, const char *now, int *took,
		 struct cb_err *err)
{
	const char *v[4] = {randno, device, site, now};
	long n = 0;
	int rc =
	    pg_do(PGS(s), PG_SLOT_HOLD, 4, v, &n, "recording a held slot", err);

	*took = !rc && n > 0;
	return rc;
}

/* Every use but that of a leased slot by an event the store does not
 * hold (a restore carried it; its event has not come back yet). */
int pg_slots_clear_used(struct srv_store *s, struct cb_err *err)
{
	return pg_exec(PGS(s),
		       "UPDATE rand_slots SET subject = NULL, event = NULL,"
		       " used_at = NULL WHERE subject IS NOT NULL AND (event"
		       " IS NULL OR device IS NULL OR event IN (SELECT id"
		       " FROM events))",
		       "clearing used slots", err);
}

int pg_slots_counts(struct srv_store *s, long *lists,
		    int (*fn)(const char *site, long slots, long leased,
			      long used, void *ctx),
		    void *ctx, struct cb_err *err)
{
	struct pg_store *p = PGS(s);
	PGresult *r;
	int i, rc = 0;

	*lists = 0;
	r = PQexec(p->conn, "SELECT count(*) FROM rand_lists");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_fail(p, r, "reading slots", err);
		PQclear(r);
		return rc;
	}
	*lists = (long)pg_int(r, 0, 0);
	PQclear(r);
	r = pg_run(p, PG_SLOT_COUNTS, 0, NULL, NULL, NULL, "reading slots",
		   err);
	if (!r)
		return err->code;
	for (i = 0; i < PQntuples(r) && !rc; i++)
		rc = fn(pg_col(r, i, 0), (long)pg_int(r, i, 1),
			(long)pg_int(r, i, 2), (long)pg_int(r, i, 3), ctx);
	PQclear(r);
	return rc;
}
