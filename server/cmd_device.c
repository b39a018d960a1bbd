/*
 * cmd_device.c - `casebookd device list|revoke`: registered devices.
 *
 * A revoked device is refused on every request from then on (403); its
 * events already received stay in the record. Its unsynced work can
 * still reach the study through the administrator (DESIGN.md section 4).
 */
#include "clock.h"
#include "srv.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

const char cmd_device_help[] =
    "usage: casebookd device list --data DIR\n"
    "       casebookd device revoke --data DIR ID\n"
    "\n"
    "list    print every device, one per line: ID, site ('-' for a\n"
    "        central role), device index, role, user, registered, state\n"
    "revoke  refuse every further request from device ID\n"
    "\n" SRV_HELP_STORE
    "Exit codes: 0 ok; 1 failure (unknown device, no store); 2 usage.\n";

static int print_device(const struct srv_device *d, void *ctx)
{
	char when[CB_CLOCK_UTC_BUF];

	(void)ctx;
	cb_clock_format_utc(d->created_ms, when);
	printf("%s\t%s\t%ld\t%s\t%s\t%s\t%s\n", d->id,
	       d->site[0] ? d->site : "-", d->device_index, d->role, d->user,
	       when, d->revoked_ms ? "revoked" : "active");
	return 0;
}

int cmd_device(int argc, char **argv)
{
	static const char *const names[] = {"--data", NULL};
	const char *vals[1] = {NULL}, *pos[2];
	struct srv_store *s = NULL;
	struct cb_err err;
	int npos, rc;

	rc = srv_parse_opts("device", argc, argv, names, vals, pos, 2, &npos);
	if (rc)
		return rc;
	if (npos < 1 || (strcmp(pos[0], "list") && strcmp(pos[0], "revoke")))
		return srv_usage("device", "say 'list' or 'revoke'");
	if (!vals[0])
		return srv_usage("device",
				 "--data DIR or --store URL is required");
	if (!strcmp(pos[0], "list") && npos != 1)
		return srv_usage("device", "list takes only --data");
	if (!strcmp(pos[0], "revoke") && npos != 2)
		return srv_usage("device", "revoke needs a device ID");
	cb_err_clear(&err);
	rc = srv_store_open(vals[0], &s, &err);
	if (rc)
		return srv_fail(&err);
	if (!strcmp(pos[0], "list"))
		rc = srv_store_device_each(s, print_device, NULL, &err);
	else if (!(rc = srv_store_device_revoke(s, pos[1], cb_clock_now_ms(),
						&err)))
		printf("revoked device %s\n", pos[1]);
	srv_store_close(s);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}
