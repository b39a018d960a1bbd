/*
 * cmd_init.c - `casebookd init`: create the central store of a study.
 *
 * The protocol is loaded and checked in full before anything is written,
 * and its exact bytes are kept with their SHA-256, which is the version
 * identity devices receive at registration.
 */
#include "core.h"
#include "protocol.h"
#include "srv.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

const char cmd_init_help[] =
    "usage: casebookd init --data DIR --protocol FILE\n"
    "\n"
    "Create the central store of a study in DIR (created if missing):\n"
    "the SQLite database DIR/casebookd.db holding the study protocol,\n"
    "sites, registration tokens, devices and every event, and the\n"
    "server's Ed25519 key DIR/server.key (mode 0600) that signs bundle\n"
    "replies (docs/bundles.md). The protocol\n"
    "is checked first; every problem found is printed.\n"
    "\n"
    "With --store URL the same goes into the tables of that PostgreSQL\n"
    "database, the key included: create the (empty, UTF8) database and\n"
    "its roles first (docs/OPERATIONS.md).\n"
    "\n"
    "  --data DIR        the server's data directory\n"
    "  --protocol FILE   the study protocol (JSON, see schemas/README.md)\n"
    "\n"
    "An existing store is never overwritten.\n"
    "\n" SRV_HELP_STORE
    "Exit codes: 0 created; 1 bad protocol or a store already exists;\n"
    "2 usage.\n";

int cmd_init(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--protocol", NULL};
	const char *vals[2] = {NULL, NULL}, *pos[1];
	struct cb_protocol_problems problems;
	struct cb_protocol *p = NULL;
	struct srv_store *s = NULL;
	struct cb_err err;
	int npos, rc;
	size_t i;

	rc = srv_parse_opts("init", argc, argv, names, vals, pos, 0, &npos);
	if (rc)
		return rc;
	if (!vals[0] || !vals[1])
		return srv_usage("init", "--data DIR and --protocol FILE are "
					 "required");
	cb_err_clear(&err);
	cb_protocol_problems_init(&problems);
	rc = cb_protocol_load_file(vals[1], &p, &problems, &err);
	if (rc) {
		if (problems.count == 0)
			srv_fail(&err);
		for (i = 0; i < problems.count; i++)
			fprintf(stderr, "casebookd: %s: %s\n", vals[1],
				problems.msgs[i]);
		cb_protocol_problems_release(&problems);
		return SRV_EXIT_FAIL;
	}
	cb_protocol_problems_release(&problems);
	rc = srv_store_create(vals[0], p->id, p->source, p->source_len,
			      p->sha256, &s, &err);
	/* The key that signs bundle replies (docs/bundles.md). */
	if (!rc && (rc = srv_store_key_create(s, &err)) == CB_EEXIST)
		rc = 0; /* a key left in DIR is kept */
	if (rc) {
		srv_store_close(s);
		cb_protocol_free(p);
		return srv_fail(&err);
	}
	printf("created central store for study %s (protocol %s, sha256 "
	       "%s) in %s\n",
	       p->id, p->version, p->sha256, vals[0]);
	srv_store_close(s);
	cb_protocol_free(p);
	return SRV_EXIT_OK;
}
