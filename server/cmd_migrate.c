/*
 * cmd_migrate.c - `casebookd migrate`: move a study's central store to
 * another backend (a data directory's SQLite store to PostgreSQL, or
 * back), verified.
 *
 * The record is copied as it is (srv_store_copy: settings, sites,
 * tokens, devices, events with their sequence numbers, slots with their
 * leases and uses, the server key), the new store's derived tables are
 * rebuilt from the copied events, and then both stores are dumped: the
 * canonical text of the events (what devices hold) and the derived
 * tables must be byte for byte the same, or the command fails saying
 * so. The source is only read.
 */
#include "core.h"
#include "srv.h"
#include "store.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

const char cmd_migrate_help[] =
    "usage: casebookd migrate --from DIR|URL --to URL|DIR\n"
    "\n"
    "Copy the central store at --from into a new store at --to: a data\n"
    "directory (SQLite) into a PostgreSQL database\n"
    "(postgresql://USER@HOST/DB, empty, made by its administrator:\n"
    "docs/OPERATIONS.md), or a database into a new data directory.\n"
    "Everything is copied: sites, tokens, devices, every event with its\n"
    "sequence number (devices go on syncing where they were), the\n"
    "randomization slots with their leases and uses, and the server key\n"
    "(devices keep trusting its bundle replies). The new store's derived\n"
    "tables are rebuilt from the events, then both stores are compared:\n"
    "the canonical dumps of the events and the dumps of the derived\n"
    "tables must be identical.\n"
    "\n"
    "Stop every casebookd serving --from first (for a data directory,\n"
    "migrate refuses while one runs); serve --to afterwards.\n"
    "\n"
    "Exit codes: 0 copied and verified; 1 failure (--to already holds a\n"
    "store, a copy that differs); 2 usage.\n";

/* A dump's SHA-256, taken as it streams by. */
struct digest {
	crypto_hash_sha256_state st;
	long long bytes;
};

static int digest_add(const char *text, size_t len, void *ctx)
{
	struct digest *d = ctx;

	crypto_hash_sha256_update(&d->st, (const unsigned char *)text, len);
	d->bytes += (long long)len;
	return 0;
}

/* The canonical dump (events) or derived dump of an open core, as hex. */
static int dump_digest(struct srv_core *c, int canonical, char hex[65],
		       long long *bytes, struct cb_err *err)
{
	unsigned char sum[crypto_hash_sha256_BYTES];
	struct digest d;
	int rc;

	crypto_hash_sha256_init(&d.st);
	d.bytes = 0;
	rc = canonical
		 ? srv_core_canonical_dump(c, NULL, 1, digest_add, &d, err)
		 : srv_store_derived_dump(c->store, digest_add, &d, err);
	if (rc)
		return rc;
	crypto_hash_sha256_final(&d.st, sum);
	sodium_bin2hex(hex, 65, sum, sizeof(sum));
	*bytes = d.bytes;
	return 0;
}

static int progress(const char *table, long rows, void *ctx)
{
	(void)ctx;
	printf("copied %-14s %ld row%s\n", table, rows, rows == 1 ? "" : "s");
	return 0;
}

/* Copy the record of src into the new store at `to`. */
static int copy(struct srv_core *src, const char *to, struct cb_err *err)
{
	struct srv_store *dst = NULL;
	int rc;

	rc = srv_store_create(to, src->study, src->proto_text, src->proto_len,
			      src->proto_sha256, &dst, err);
	if (rc)
		return rc;
	rc = srv_store_begin_read(src->store, err);
	if (!rc)
		rc = srv_store_begin_exclusive(dst, err);
	if (!rc)
		rc = srv_store_copy(src->store, dst, progress, NULL, err);
	if (!rc)
		rc = srv_store_commit(dst, err);
	else
		srv_store_rollback(dst);
	srv_store_rollback(src->store);
	srv_store_close(dst);
	return rc;
}

int cmd_migrate(int argc, char **argv)
{
	static const char *const names[] = {"--from", "--to", NULL};
	const char *vals[2] = {NULL, NULL}, *pos[1];
	struct srv_core src, dst;
	char a[65], b[65];
	long long na = 0, nb = 0;
	struct cb_err err;
	long nevents = 0;
	int npos, rc, k;

	rc = srv_parse_opts("migrate", argc, argv, names, vals, pos, 0, &npos);
	if (rc)
		return rc;
	if (!vals[0] || !vals[1])
		return srv_usage("migrate", "--from and --to are required");
	if (!strcmp(vals[0], vals[1]))
		return srv_usage("migrate",
				 "--from and --to are the same store");
	if (sodium_init() < 0)
		return srv_error("cannot start libsodium");
	cb_err_clear(&err);
	memset(&dst, 0, sizeof(dst));
	if (srv_lock_data(vals[0], "migrate", &err))
		return srv_fail(&err);
	rc = srv_core_open(&src, vals[0], &err);
	if (!rc)
		rc = copy(&src, vals[1], &err);
	if (!rc)
		rc = srv_core_open(&dst, vals[1], &err);
	if (!rc)
		rc = srv_core_rebuild(&dst, &nevents, &err);
	if (!rc)
		printf("rebuilt the derived tables of %s from %ld events\n",
		       vals[1], nevents);
	/* The proof: both stores dump the same, events and derived. */
	for (k = 1; !rc && k >= 0; k--) {
		const char *what = k ? "canonical dump of the events"
				     : "dump of the derived tables";

		rc = dump_digest(&src, k, a, &na, &err);
		if (!rc)
			rc = dump_digest(&dst, k, b, &nb, &err);
		if (!rc && strcmp(a, b))
			rc = cb_err_set(&err, CB_EINTEGRITY,
					"the copy differs from %s: the %s has "
					"SHA-256 %s (%lld bytes) there and %s "
					"(%lld bytes) in the copy; the copy "
					"cannot be used (drop it and migrate "
					"again)",
					vals[0], what, a, na, b, nb);
		if (!rc)
			printf("verified: the %s is identical (%lld bytes, "
			       "SHA-256 %s)\n",
			       what, na, a);
	}
	srv_core_close(&src);
	srv_core_close(&dst);
	if (rc)
		return srv_fail(&err);
	printf("migrated %s to %s\n", vals[0], vals[1]);
	return SRV_EXIT_OK;
}
