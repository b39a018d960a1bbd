/*
 * cmd_backup.c - `casebookd backup` and `casebookd restore`: a copy of
 * the central store taken while the server runs, and the store made
 * again from one.
 *
 * A backup is one SQLite file, the store at one moment (SQLite's online
 * backup API: pushes go on meanwhile). It holds the events, the derived
 * tables, sites, people, devices, tokens' hashes and the randomization
 * slots; not the server's key (DIR/server.key, kept apart because it is
 * a secret that signs bundle replies) and not the request nonces (kept
 * ten minutes only, in DIR/nonces.db, which a restore leaves in place).
 * A restored store gets a new identity, so devices that synced after the
 * backup send their events again (docs/api.md). What must never go back
 * (a slot leased or used, a person disabled, a device revoked, devices,
 * people, sites and tokens made, tokens used) is carried from the store
 * a restore replaces (store.h, srv_store_restore); with none to carry
 * from, new slot leases are paused until `casebookd randlist
 * resume-leases`.
 */
#include "clock.h"
#include "core.h"
#include "srv.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_backup_help[] =
    "usage: casebookd backup --data DIR --out FILE\n"
    "\n"
    "Copy the central store of DIR into FILE, a new file (never\n"
    "overwritten), as it stands at one moment, while 'casebookd serve'\n"
    "goes on serving: SQLite's online backup API, then an integrity\n"
    "check of the copy before it takes the name FILE. The server's key\n"
    "(DIR/server.key) is not in it: back that file up once, apart, and\n"
    "keep it as secret as the key of a certificate.\n"
    "\n"
    "Restore with 'casebookd restore'. A PostgreSQL store (--store URL)\n"
    "is backed up with pg_dump or base backups instead\n"
    "(docs/OPERATIONS.md).\n"
    "\n"
    "Exit codes: 0 ok; 1 failure (no store, FILE exists, disk); 2 usage.\n";

const char cmd_restore_help[] =
    "usage: casebookd restore --data DIR --from FILE [--replace]\n"
    "       casebookd restore --store URL\n"
    "\n"
    "Make the central store of DIR a copy of the backup FILE (made by\n"
    "'casebookd backup'). The server must be stopped. A store already in\n"
    "DIR is refused unless --replace, which keeps it beside the new one\n"
    "as casebookd.db.replaced-STAMP (nothing is deleted). A backup made\n"
    "by a newer casebookd (a higher schema version) is refused before\n"
    "anything changes; an older one is upgraded.\n"
    "\n"
    "The restored store gets a new identity: every device that synced\n"
    "after the backup was taken notices at its next sync and sends its\n"
    "events again, so what reached the server after the backup comes\n"
    "back from the laptops that made it. Put DIR/server.key back from\n"
    "its own backup; without it the server makes a new key, and devices\n"
    "refuse bundle replies signed by it until re-registered.\n"
    "\n"
    "With --replace, what must never go back is carried from the\n"
    "replaced store into the restored one before it takes its place, and\n"
    "printed: randomization slots leased or used (never leased again),\n"
    "people disabled, devices revoked, sites, people, devices and tokens\n"
    "made after the backup, tokens used or revoked, randomization lists\n"
    "imported; the events sequence goes on past the replaced store's, so\n"
    "no device's pull cursor skips a new event. The request nonces\n"
    "(DIR/nonces.db) stay as they are.\n"
    "\n"
    "Into a DIR with no store (the disk was lost), nothing tells which\n"
    "slots were leased after the backup: new slot leases are paused\n"
    "(devices are told 'leases_paused'; the slots a device holds stay\n"
    "usable and become its own as it syncs) until, once every site's\n"
    "laptops have synced, 'casebookd randlist resume-leases --data DIR'.\n"
    "\n"
    "A PostgreSQL store is restored with PostgreSQL's own tools\n"
    "(pg_restore, base backups: docs/OPERATIONS.md); then, with every\n"
    "casebookd on it stopped, 'casebookd restore --store URL' (no\n"
    "--from) gives the restored database its new identity.\n"
    "\n"
    "Exit codes: 0 ok; 1 failure (not a backup, damaged, newer schema, a\n"
    "store in DIR, a server running on DIR); 2 usage.\n";

int cmd_backup(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--out", NULL};
	const char *vals[2] = {NULL, NULL}, *pos[1];
	struct srv_store_stats st;
	struct srv_store *s = NULL;
	char id[SRV_ID_HEX + 1];
	struct cb_err err;
	int64_t t0;
	int npos, rc;

	rc = srv_parse_opts("backup", argc, argv, names, vals, pos, 0, &npos);
	if (rc)
		return rc;
	if (!vals[0])
		return srv_usage("backup", "--data DIR is required");
	if (!vals[1])
		return srv_usage("backup", "--out FILE is required");
	cb_err_clear(&err);
	t0 = cb_clock_now_ms();
	rc = srv_store_open_reader(vals[0], &s, &err);
	if (!rc)
		rc = srv_store_backup(s, vals[1], &err);
	if (!rc)
		rc = srv_store_stats(s, &st, &err);
	if (!rc)
		rc = srv_store_id(s, id, &err);
	srv_store_close(s);
	if (rc)
		return srv_fail(&err);
	printf("backed up %s to %s: %ld events (last sequence %" PRId64
	       "), %ld subjects, store %s, in %.1f s\n",
	       vals[0], vals[1], st.events, st.last_seq, st.subjects, id,
	       (double)(cb_clock_now_ms() - t0) / 1000.0);
	return SRV_EXIT_OK;
}

/* What a restore carried from the store it replaced. */
static void print_carry(const struct srv_restore_carry *c)
{
	printf("carried from the replaced store: %ld site(s), %ld person(s) "
	       "added and %ld disabled, %ld device(s) added and %ld revoked, "
	       "%ld token(s) added, %ld used and %ld revoked\n",
	       c->sites, c->users, c->users_disabled, c->devices,
	       c->devices_revoked, c->tokens, c->tokens_used,
	       c->tokens_revoked);
	printf("carried from the replaced store: %ld randomization list(s), "
	       "%ld slot(s) added, %ld slot lease(s), %ld slot use(s), %ld "
	       "re-used subject id(s)\n",
	       c->lists, c->slots, c->slots_leased, c->slots_used, c->reuse);
	if (c->seq_after > c->seq_backup)
		printf("events sequence: the backup's ended at %" PRId64
		       ", new events are numbered after %" PRId64
		       " (the replaced store's last)\n",
		       c->seq_backup, c->seq_after);
}

/* A PostgreSQL database restored by PostgreSQL's tools: its new
 * identity, as a restore from a file gives one. */
static int restore_pg(const char *url)
{
	struct srv_store_stats st;
	struct srv_store *s = NULL;
	char id[SRV_ID_HEX + 1];
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	rc = srv_store_open(url, &s, &err);
	if (!rc)
		rc = srv_store_begin(s, &err);
	if (!rc) {
		rc = srv_store_id_renew(s, &err);
		if (!rc)
			rc = srv_store_commit(s, &err);
		else
			srv_store_rollback(s);
	}
	if (!rc)
		rc = srv_store_stats(s, &st, &err);
	if (!rc)
		rc = srv_store_id(s, id, &err);
	srv_store_close(s);
	if (rc)
		return srv_fail(&err);
	printf("restored store: %ld events (last sequence %" PRId64
	       "), %ld subjects; new store id %s\n",
	       st.events, st.last_seq, st.subjects, id);
	return SRV_EXIT_OK;
}

int cmd_restore(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--from", NULL};
	const char *vals[2] = {NULL, NULL}, *pos[1];
	char replaced[4400], id[SRV_ID_HEX + 1], key[4200];
	struct srv_restore_carry carry;
	struct srv_store_stats st;
	struct srv_store *s = NULL;
	struct cb_err err;
	int npos, rc, replace;

	replace = srv_take_flag(&argc, argv, "--replace");
	rc = srv_parse_opts("restore", argc, argv, names, vals, pos, 0, &npos);
	if (rc)
		return rc;
	if (!vals[0])
		return srv_usage("restore", "--data DIR is required");
	if (srv_store_is_pg(vals[0]) && (vals[1] || replace))
		return srv_error("a PostgreSQL store is restored with "
				 "PostgreSQL's own tools (pg_restore, base "
				 "backups: docs/OPERATIONS.md, section 5); "
				 "then 'casebookd restore --store URL', "
				 "without --from, gives it a new identity");
	if (srv_store_is_pg(vals[0]))
		return restore_pg(vals[0]);
	if (!vals[1])
		return srv_usage("restore", "--from FILE is required");
	cb_err_clear(&err);
	rc = srv_lock_data(vals[0], "restoring", &err);
	if (!rc)
		rc = srv_store_restore(vals[0], vals[1], replace, replaced,
				       sizeof(replaced), &carry, &err);
	/* Opened once as a writer: an older backup is upgraded now. */
	if (!rc)
		rc = srv_store_open(vals[0], &s, &err);
	if (!rc)
		rc = srv_store_stats(s, &st, &err);
	if (!rc)
		rc = srv_store_id(s, id, &err);
	srv_store_close(s);
	if (rc)
		return srv_fail(&err);
	printf("restored %s from %s: %ld events (last sequence %" PRId64
	       "), %ld subjects; new store id %s\n",
	       vals[0], vals[1], st.events, st.last_seq, st.subjects, id);
	if (replaced[0])
		printf("the store that was there is kept as %s\n", replaced);
	if (carry.replaced)
		print_carry(&carry);
	if (carry.leases_paused)
		fprintf(stderr,
			"casebookd: warning: new randomization slot leases are "
			"paused: %s\n",
			carry.replaced
			    ? "the replaced store had them paused"
			    : "with no store to carry them from, the slots "
			      "leased after the backup are unknown; once every "
			      "site's laptops have synced, run 'casebookd "
			      "randlist resume-leases --data DIR'");
	snprintf(key, sizeof(key), "%s/%s", vals[0], SRV_KEY_FILE);
	if (access(key, F_OK))
		fprintf(stderr,
			"casebookd: warning: %s is missing: put the server's "
			"key back from its own backup before serving\n",
			key);
	return SRV_EXIT_OK;
}
