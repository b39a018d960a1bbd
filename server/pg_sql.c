/*
 * pg_sql.c - every statement of the central store's PostgreSQL backend
 * (pg_int.h), prepared once per connection by pg_run. Text columns
 * collate bytewise (the schema in pg_store.c), so ORDER BY here orders
 * as SQLite's does.
 */
#include "pg_int.h"

#define T "TEXT COLLATE \"C\""
#define SLOT_COLS                                                              \
	"randno, list_id, site, stratum, seq, kit, coalesce(device, ''),"      \
	" coalesce(subject, ''), arm_unblinding, arm_site"
#define EVENT_COLS                                                             \
	"seq, id, device, site, subject, kind, unblinded, json, received_at"

const char *const pg_sql[PG_COUNT] = {
    [PG_SETTING_GET] = "SELECT value FROM settings WHERE key = $1",
    [PG_SETTING_PUT] =
	"INSERT INTO settings(key, value) VALUES($1, $2)"
	" ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [PG_KEY_GET] = "SELECT secret FROM server_key WHERE id = 1",
    [PG_KEY_PUT] = "INSERT INTO server_key(id, secret) VALUES(1, $1)"
		   " ON CONFLICT (id) DO NOTHING",
    [PG_SITE_ADD] = "INSERT INTO sites(code, name, created_ms)"
		    " VALUES($1, $2, $3) ON CONFLICT (code) DO NOTHING",
    [PG_SITE_GET] = "SELECT 1 FROM sites WHERE code = $1",
    [PG_SITE_EACH] = "SELECT code, name FROM sites ORDER BY code",
    [PG_SITE_LOCK] = "SELECT pg_advisory_xact_lock(1128398853,"
		     " hashtext($1))",
    [PG_TOKEN_ADD] = "INSERT INTO tokens(id, hash, site, role, created_ms,"
		     " expires_ms, \"user\") VALUES($1, $2, $3, $4, $5, $6,"
		     " $7)",
    [PG_TOKEN_BY_HASH] = "SELECT id, hash, site, role, created_ms,"
			 " expires_ms, used_ms, device, revoked, \"user\""
			 " FROM tokens WHERE hash = $1 FOR UPDATE",
    [PG_TOKEN_EACH] = "SELECT id, hash, site, role, created_ms, expires_ms,"
		      " used_ms, device, revoked, \"user\" FROM tokens"
		      " ORDER BY created_ms DESC, id",
    [PG_USER_ADD] = "INSERT INTO users(name, full_name, role, site,"
		    " created_ms) VALUES($1, $2, $3, $4, $5)"
		    " ON CONFLICT (name) DO NOTHING",
    [PG_USER_GET] = "SELECT name, full_name, role, site, created_ms,"
		    " disabled_ms, disabled_reason FROM users WHERE name = $1",
    [PG_USER_EACH] = "SELECT name, full_name, role, site, created_ms,"
		     " disabled_ms, disabled_reason FROM users"
		     " WHERE ($1::text IS NULL OR site = $1)"
		     " AND ($2::text IS NULL OR role = $2) ORDER BY site, name",
    [PG_USER_DISABLE] = "UPDATE users SET disabled_ms = $2,"
			" disabled_reason = $3 WHERE name = $1"
			" AND disabled_ms = 0",
    [PG_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE id = $1",
    [PG_TOKEN_USE] = "UPDATE tokens SET used_ms = $2, device = $3"
		     " WHERE id = $1 AND used_ms = 0",
    [PG_DEVICE_NEXT_INDEX] = "SELECT COALESCE(MAX(device_index), 0) + 1"
			     " FROM devices WHERE site = $1",
    [PG_DEVICE_ADD] = "INSERT INTO devices(id, public_key, site, role,"
		      " device_index, \"user\", created_ms) VALUES($1, $2,"
		      " $3, $4, $5, $6, $7)",
    [PG_DEVICE_BY_KEY] = "SELECT 1 FROM devices WHERE public_key = $1",
    [PG_DEVICE_GET] = "SELECT id, public_key, site, role, device_index,"
		      " \"user\", created_ms, revoked_ms, max_hlc FROM devices"
		      " WHERE id = $1",
    [PG_DEVICE_EACH] = "SELECT id, public_key, site, role, device_index,"
		       " \"user\", created_ms, revoked_ms, max_hlc FROM devices"
		       " ORDER BY site, device_index",
    [PG_DEVICE_REVOKE] = "UPDATE devices SET revoked_ms = $2"
			 " WHERE id = $1 AND revoked_ms = 0",
    [PG_DEVICE_SEEN] = "UPDATE devices SET max_hlc = $2 WHERE id = $1"
		       " AND max_hlc < $2",
    [PG_DEVICE_LOCK] = "SELECT id, public_key, site, role, device_index,"
		       " \"user\", created_ms, revoked_ms, max_hlc FROM devices"
		       " WHERE id = $1 FOR UPDATE",
    [PG_REUSE_ADD] = "INSERT INTO subject_reuse(subject, device, hlc)"
		     " VALUES($1, $2, $3) ON CONFLICT (subject, device)"
		     " DO UPDATE SET hlc = least(subject_reuse.hlc,"
		     " excluded.hlc)",
    [PG_REUSE_GET] = "SELECT hlc FROM subject_reuse WHERE subject = $1"
		     " AND device = $2",
    [PG_LOCK_ALLSUBJ_SHARED] = "SELECT pg_advisory_xact_lock_shared("
			       "1128398850, 0)",
    [PG_LOCK_ALLSUBJ] = "SELECT pg_advisory_xact_lock(1128398850, 0)",
    /* In the order of the hashes: every process the same order. */
    [PG_LOCK_SUBJECTS] = "SELECT count(pg_advisory_xact_lock(1128398851,"
			 " h)) FROM (SELECT DISTINCT hashtext(x) AS h"
			 " FROM unnest($1::text[]) AS x ORDER BY 1) AS q",
    [PG_LOCK_EVENTS] = "SELECT pg_advisory_xact_lock(1128398852, 0)",
    [PG_EVENTS_ADD] =
	"INSERT INTO events(" EVENT_COLS ") SELECT nextval('events_seq'),"
	" u.id, u.device, u.site, u.subject, u.kind, u.unblinded, u.json,"
	" u.received_at FROM unnest($1::text[], $2::text[], $3::text[],"
	" $4::text[], $5::text[], $6::int[], $7::text[], $8::text[])"
	" WITH ORDINALITY AS u(id, device, site, subject, kind, unblinded,"
	" json, received_at, n) ORDER BY u.n ON CONFLICT (id) DO NOTHING"
	" RETURNING id, seq",
    [PG_EVENT_ADD_ONE] = "INSERT INTO events(" EVENT_COLS ")"
			 " VALUES(nextval('events_seq'), $1, $2, $3, $4, $5,"
			 " $6, $7, $8) ON CONFLICT (id) DO NOTHING"
			 " RETURNING seq",
    [PG_EVENT_GET] = "SELECT json FROM events WHERE id = $1",
    [PG_EVENT_EACH] = "SELECT " EVENT_COLS " FROM events WHERE seq > $1"
		      " AND ($2::int = 1 OR unblinded = 0)"
		      " ORDER BY seq LIMIT $3",
    [PG_EVENT_EACH_SITE] = "SELECT " EVENT_COLS " FROM events"
			   " WHERE site = $4 AND seq > $1"
			   " AND ($2::int = 1 OR unblinded = 0)"
			   " ORDER BY seq LIMIT $3",
    [PG_EVENT_MAX] = "SELECT COALESCE(MAX(seq), 0) FROM events",
    [PG_EVENT_WITHHELD] = "SELECT " EVENT_COLS " FROM events"
			  " WHERE seq > $1 AND seq <= $2 AND unblinded = 1"
			  " AND ($3::text IS NULL OR site = $3) ORDER BY seq",
    [PG_EVENT_OF_SUBJECT] = "SELECT " EVENT_COLS " FROM events"
			    " WHERE subject = $1"
			    " AND ($2::int = 1 OR unblinded = 0)"
			    " ORDER BY seq",
    [PG_SUBJECT_NEVENTS] = "SELECT nevents FROM subjects WHERE subject = $1",
    [PG_SUBJECT_PUT] = "INSERT INTO subjects(subject, site, nevents, state,"
		       " summary) VALUES($1, $2, $3, $4, $5)"
		       " ON CONFLICT (subject) DO UPDATE SET site ="
		       " excluded.site, nevents = excluded.nevents, state ="
		       " excluded.state, summary = excluded.summary",
    [PG_QUERIES_DEL] = "DELETE FROM queries WHERE subject = $1",
    [PG_FORMS_DEL] = "DELETE FROM forms WHERE subject = $1",
    [PG_QUERY_PUT] = "INSERT INTO queries(id, subject, site, visit, form,"
		     " instance, item, status, system, text, nanswers)"
		     " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
		     " ON CONFLICT (id) DO UPDATE SET subject ="
		     " excluded.subject, site = excluded.site, visit ="
		     " excluded.visit, form = excluded.form, instance ="
		     " excluded.instance, item = excluded.item, status ="
		     " excluded.status, system = excluded.system, text ="
		     " excluded.text, nanswers = excluded.nanswers",
    [PG_QUERY_DEL_ID] = "DELETE FROM queries WHERE id = $1",
    [PG_QUERY_EACH] = "SELECT id, subject, site, visit, form, instance,"
		      " item, status, system, text, nanswers FROM queries"
		      " WHERE ($1::text IS NULL OR site = $1)"
		      " AND ($2::text IS NULL OR status = $2)"
		      " ORDER BY site, subject, id LIMIT $3",
    [PG_FORM_ROWS_OF] = "SELECT subject, visit, form, instance, items"
			" FROM forms WHERE subject = $1 AND visit = $2"
			" AND form = $3 ORDER BY length(instance), instance",
    [PG_FORM_ROWS_EACH] = "SELECT subject, visit, form, instance, items"
			  " FROM forms WHERE subject = $1"
			  " ORDER BY visit, form, length(instance), instance",
    [PG_FORM_ITEMS] = "SELECT items FROM forms WHERE subject = $1"
		      " AND visit = $2 AND form = $3 AND instance = $4",
    [PG_FORM_PUT] = "INSERT INTO forms(subject, visit, form, instance,"
		    " nitems, nconflicts, nsigns, sign, broken, items)"
		    " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
		    " ON CONFLICT (subject, visit, form, instance) DO UPDATE"
		    " SET nitems = excluded.nitems, nconflicts ="
		    " excluded.nconflicts, nsigns = excluded.nsigns, sign ="
		    " excluded.sign, broken = excluded.broken, items ="
		    " excluded.items",
    [PG_SLOT_GET] = "SELECT " SLOT_COLS ", coalesce(event, '')"
		    " FROM rand_slots WHERE randno = $1",
    /* A writer holds the slot it checks until its commit: the same slot
     * used by two processes at once is used once. */
    [PG_SLOT_GET_LOCK] = "SELECT " SLOT_COLS ", coalesce(event, '')"
			 " FROM rand_slots WHERE randno = $1 FOR UPDATE",
    [PG_SLOT_OF_SUBJECT] = "SELECT randno FROM rand_slots"
			   " WHERE subject = $1",
    /* A slot taken while leases were paused (leased to no device)
     * becomes the device's that used it. */
    [PG_SLOT_MARK] = "UPDATE rand_slots SET subject = $2, event = $3,"
		     " used_at = $4, device = coalesce(device, $5),"
		     " leased_at = coalesce(leased_at, $4) WHERE randno = $1"
		     " AND (subject IS NULL OR subject = $2)",
    [PG_SLOT_HOLD] = "UPDATE rand_slots SET device = $2, leased_at = $4"
		     " WHERE randno = $1 AND site = $3 AND device IS NULL"
		     " AND subject IS NULL",
    [PG_SLOT_KIT] = "SELECT randno FROM rand_slots WHERE kit = $1",
    [PG_SLOT_INSERT] = "INSERT INTO rand_slots(randno, list_id, site,"
		       " stratum, seq, kit, arm_unblinding, arm_site)"
		       " VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
    [PG_SLOT_DELETE] = "DELETE FROM rand_slots WHERE randno = $1",
    [PG_SLOT_CELLS] = "SELECT DISTINCT stratum FROM rand_slots"
		      " WHERE site = $1 ORDER BY stratum",
    [PG_SLOT_HAVE] = "SELECT count(*) FROM rand_slots WHERE device = $1"
		     " AND stratum = $2 AND site = $3 AND subject IS NULL",
    [PG_SLOT_LEASE_LOCK] = "SELECT pg_advisory_xact_lock(1128398854,"
			   " hashtext($1))",
    [PG_SLOT_LEASE] = "UPDATE rand_slots SET device = $1, leased_at = $2"
		      " WHERE randno IN (SELECT randno FROM rand_slots"
		      " WHERE site = $3 AND stratum = $4 AND device IS NULL"
		      " AND subject IS NULL ORDER BY seq LIMIT $5)"
		      " AND device IS NULL",
    [PG_SLOT_LIST_ADD] = "INSERT INTO rand_lists(list_id, fingerprint,"
			 " study, imported_at, nslots)"
			 " VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    [PG_SLOT_SITE_ADD] = "INSERT INTO rand_sites(list_id, site,"
			 " codebreak_pub, codebreak_key)"
			 " VALUES($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    [PG_SLOT_COUNTS] = "SELECT site, count(*), count(device),"
		       " count(subject) FROM rand_slots GROUP BY site"
		       " ORDER BY site",
    [PG_NONCE_ADD] = "INSERT INTO nonces(device, nonce, time_ms)"
		     " VALUES($1, $2, $3) ON CONFLICT DO NOTHING",
    [PG_NONCE_PRUNE] = "DELETE FROM nonces WHERE time_ms < $1",
};
