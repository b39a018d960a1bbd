/*
 * cmd_status.c - `casebookd status`: what the central store holds.
 */
#include "slots.h"
#include "srv.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

const char cmd_status_help[] =
    "usage: casebookd status --data DIR\n"
    "\n"
    "Print the store's backend and schema version, the study, the\n"
    "protocol's SHA-256 and counts of sites,\n"
    "devices, open tokens, events, subjects, items, conflicts and\n"
    "unclosed queries; the randomization slots per site (imported,\n"
    "leased, used) and every emergency code-break (subject, site, who,\n"
    "when, why).\n"
    "\n" SRV_HELP_STORE "Exit codes: 0 ok; 1 failure (no store); 2 usage.\n";

int cmd_status(int argc, char **argv)
{
	static const char *const names[] = {"--data", NULL};
	const char *vals[1] = {NULL}, *pos[1];
	struct srv_store_stats st = {0};
	struct srv_store *s = NULL;
	char *study = NULL, *sha = NULL;
	struct cb_err err;
	long version = 0;
	int npos, rc;

	rc = srv_parse_opts("status", argc, argv, names, vals, pos, 0, &npos);
	if (rc)
		return rc;
	if (!vals[0])
		return srv_usage("status",
				 "--data DIR or --store URL is required");
	cb_err_clear(&err);
	rc = srv_store_open(vals[0], &s, &err);
	if (!rc)
		rc = srv_store_study(s, &study, NULL, NULL, &sha, &err);
	if (!rc)
		rc = srv_store_stats(s, &st, &err);
	if (!rc)
		rc = srv_store_schema_version(s, &version, &err);
	if (!rc)
		printf("store            %s, schema version %ld\n",
		       srv_store_backend(s), version);
	if (!rc)
		printf("study            %s\n"
		       "protocol sha256  %s\n"
		       "sites            %ld\n"
		       "devices          %ld (%ld revoked)\n"
		       "open tokens      %ld\n"
		       "events           %ld (last sequence %" PRId64 ")\n"
		       "subjects         %ld\n"
		       "items            %ld (%ld in conflict)\n"
		       "unclosed queries %ld\n",
		       study, sha, st.sites, st.devices, st.devices_revoked,
		       st.tokens_open, st.events, st.last_seq, st.subjects,
		       st.items, st.conflicts, st.queries_open);
	if (!rc)
		rc = srv_slots_report(s, stdout, &err);
	free(study);
	free(sha);
	srv_store_close(s);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}
