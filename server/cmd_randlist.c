/*
 * cmd_randlist.c - `casebookd randlist import|show|resume-leases`: bring the
 * independent statistician's sealed randomization list into the central
 * store (server/slots.h, docs/randomization.md).
 *
 * The list is verified (cb_randlist_load: signature and structure) and
 * must be for this store's study and exact protocol. Its slots are stored
 * with their sealed arms as opaque text; the server holds no key that
 * opens them.
 */
#include "json.h"
#include "randlist.h"
#include "slots.h"
#include "srv.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_randlist_help[] =
    "usage: casebookd randlist import --data DIR LIST.json\n"
    "       casebookd randlist show --data DIR\n"
    "       casebookd randlist resume-leases --data DIR\n"
    "\n"
    "import verifies the randomization list made by `casebook randlist\n"
    "generate` (its signature and structure), checks it is for this\n"
    "study and this exact protocol (SHA-256), and stores its slots: site,\n"
    "stratum, sequence, randomization and kit numbers, and the two sealed\n"
    "arms, which the server cannot open. It prints the list's signing-key\n"
    "fingerprint: compare it with the one the statistician reports.\n"
    "\n"
    "Importing the same list again changes nothing. Another list may\n"
    "replace slots no device has leased yet; a list that would change a\n"
    "slot already leased or used, or reuse a kit number, is refused and\n"
    "nothing of it is stored.\n"
    "\n"
    "show prints the slots per site (imported, leased, used) and every\n"
    "emergency code-break, and says when new leases are paused.\n"
    "\n"
    "resume-leases lets devices lease new slots again after 'casebookd\n"
    "restore' into an empty data directory paused them (the slots the\n"
    "lost store leased after the backup are unknown to the restored\n"
    "one). While paused, each laptop's sync tells the server the slots\n"
    "it used and holds, which become its own. Run it once every site's\n"
    "laptops have synced with the restored server: a slot still held by\n"
    "a laptop that has not synced could be leased to another. It works\n"
    "while the server runs.\n"
    "\n" SRV_HELP_STORE
    "Exit codes: 0 ok; 1 failure (bad signature or structure, another\n"
    "study or protocol, a change to an assigned slot); 2 usage.\n";

static int randlist_import(const char *dir, const char *path)
{
	struct cb_randlist_problems pr;
	struct srv_slots_import r;
	struct cb_randlist list;
	struct srv_store *s = NULL;
	char *text = NULL, *study = NULL, *sha = NULL;
	size_t len = 0, i;
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	memset(&list, 0, sizeof(list));
	cb_randlist_problems_init(&pr);
	rc = cb_file_read(path, CB_RANDLIST_FILE_MAX, &text, &len, &err);
	if (rc)
		return srv_fail(&err);
	rc = cb_randlist_load(text, len, &list, &pr, &err);
	free(text);
	if (rc) {
		fprintf(stderr, "casebookd: error: %s: %s\n", path,
			rc == CB_EINTEGRITY
			    ? "the signature does not verify: the list was "
			      "altered or is not a randomization list"
			    : "not a valid randomization list");
		for (i = 0; i < pr.count; i++)
			fprintf(stderr, "  %s\n", pr.msgs[i]);
		cb_randlist_problems_release(&pr);
		return SRV_EXIT_FAIL;
	}
	cb_randlist_problems_release(&pr);
	rc = srv_store_open(dir, &s, &err);
	if (!rc)
		rc = srv_store_study(s, &study, NULL, NULL, &sha, &err);
	if (!rc)
		rc = srv_slots_import(s, &list, study, sha, &r, &err);
	if (!rc) {
		printf("list %s (fingerprint %s): %zu slots, %zu sites\n",
		       list.list_id, list.fingerprint, list.nslots,
		       list.nsites);
		if (r.same)
			printf("already imported: nothing changed\n");
		else
			printf("imported: %zu new slots, %zu replaced, %zu "
			       "unchanged\n",
			       r.added, r.replaced, r.kept);
	}
	free(study);
	free(sha);
	srv_store_close(s);
	cb_randlist_release(&list);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}

static int randlist_show(const char *dir)
{
	struct srv_store *s = NULL;
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	rc = srv_store_open(dir, &s, &err);
	if (!rc)
		rc = srv_slots_report(s, stdout, &err);
	if (!rc) {
		char why[400];

		rc = srv_store_leases_paused(s, why, sizeof(why), &err);
		if (rc == 1)
			printf("new leases       PAUSED (%s): 'casebookd "
			       "randlist resume-leases' once every site has "
			       "synced\n",
			       why);
		rc = rc < 0 ? rc : 0;
	}
	srv_store_close(s);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}

static int randlist_resume(const char *dir)
{
	struct srv_store *s = NULL;
	struct cb_err err;
	int rc, was = 0;

	cb_err_clear(&err);
	rc = srv_store_open(dir, &s, &err);
	if (!rc)
		rc = srv_store_leases_resume(s, &was, &err);
	srv_store_close(s);
	if (rc)
		return srv_fail(&err);
	printf(was ? "new slot leases resumed\n"
		   : "new slot leases were not paused: nothing changed\n");
	return SRV_EXIT_OK;
}

int cmd_randlist(int argc, char **argv)
{
	static const char *const names[] = {"--data", NULL};
	const char *vals[1] = {NULL}, *pos[1];
	int npos = 0, rc;

	if (argc < 2)
		return srv_usage("randlist",
				 "expected import, show or resume-leases");
	rc = srv_parse_opts("randlist", argc - 1, argv + 1, names, vals, pos, 1,
			    &npos);
	if (rc)
		return rc;
	if (!vals[0])
		return srv_usage("randlist",
				 "--data DIR or --store URL is required");
	if (!strcmp(argv[1], "import")) {
		if (npos != 1)
			return srv_usage("randlist",
					 "import needs the list file");
		return randlist_import(vals[0], pos[0]);
	}
	if (!strcmp(argv[1], "show")) {
		if (npos)
			return srv_usage("randlist", "show takes no file");
		return randlist_show(vals[0]);
	}
	if (!strcmp(argv[1], "resume-leases")) {
		if (npos)
			return srv_usage("randlist",
					 "resume-leases takes no file");
		return randlist_resume(vals[0]);
	}
	return srv_usage("randlist", "unknown subcommand '%s'", argv[1]);
}
