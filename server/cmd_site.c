/*
 * cmd_site.c - `casebookd site add|list`: the study's sites.
 *
 * A site code is what site devices are bound to and what every one of
 * their events carries; registration tokens of site roles name one.
 */
#include "srv.h"
#include "store.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_site_help[] =
    "usage: casebookd site add --data DIR CODE --name NAME\n"
    "       casebookd site list --data DIR\n"
    "\n"
    "add   register a site: CODE is 2 to 8 uppercase letters and digits,\n"
    "      starting with a letter (KR01); NAME is its name for people\n"
    "      (UTF-8 text with no control characters, line breaks or\n"
    "      bidirectional controls)\n"
    "list  print every site, one per line: CODE<TAB>NAME\n"
    "\n" SRV_HELP_STORE
    "Exit codes: 0 ok; 1 failure (the site exists, no store); 2 usage.\n";

/* A name stored before names were checked is shown escaped: a tab or
 * newline in it would forge a row of the listing. */
static int print_site(const char *code, const char *name, void *ctx)
{
	char *safe;
	int oom = 0;

	(void)ctx;
	safe = cb_text_escape(name, &oom);
	if (oom)
		return CB_ENOMEM;
	printf("%s\t%s\n", code, safe ? safe : name);
	free(safe);
	return 0;
}

int cmd_site(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--name", NULL};
	const char *vals[2] = {NULL, NULL}, *pos[2];
	struct srv_store *s = NULL;
	struct cb_err err;
	int npos, rc;

	rc = srv_parse_opts("site", argc, argv, names, vals, pos, 2, &npos);
	if (rc)
		return rc;
	if (npos < 1)
		return srv_usage("site", "say 'add' or 'list'");
	if (!vals[0])
		return srv_usage("site",
				 "--data DIR or --store URL is required");
	if (!strcmp(pos[0], "add")) {
		if (npos != 2)
			return srv_usage("site", "add needs a site CODE");
		if (!cb_site_valid(pos[1]))
			return srv_usage("site",
					 "'%s' is not a site code (2 to 8 "
					 "uppercase letters and digits, a "
					 "letter first)",
					 pos[1]);
		if (!vals[1] || cb_text_blank(vals[1]) ||
		    strlen(vals[1]) > SRV_SITE_NAME_MAX)
			return srv_usage("site",
					 "--name NAME is required: 1 to %d "
					 "bytes, not only spaces",
					 SRV_SITE_NAME_MAX);
		cb_err_clear(&err);
		if (cb_text_check(vals[1], strlen(vals[1]), "--name", &err))
			return srv_usage("site", "%s", err.msg);
	} else if (strcmp(pos[0], "list") || npos != 1 || vals[1]) {
		return srv_usage("site", "say 'add' or 'list'");
	}
	cb_err_clear(&err);
	rc = srv_store_open(vals[0], &s, &err);
	if (rc)
		return srv_fail(&err);
	if (!strcmp(pos[0], "add")) {
		rc = srv_store_site_add(s, pos[1], vals[1], &err);
		if (!rc)
			printf("added site %s (%s)\n", pos[1], vals[1]);
	} else {
		rc = srv_store_site_each(s, print_site, NULL, &err);
	}
	srv_store_close(s);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}
