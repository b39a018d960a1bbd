/*
 * cmd_user.c - `casebookd user add|list|disable`: the people of the
 * study.
 *
 * Every event names the person who made it, and a signature is that
 * person's (21 CFR 11.100: unique to one individual). The administrator
 * registers each person once, with a full name, one role and, for a site
 * role, one site; laptops may hold only people the server knows for
 * their site (they pull the list at sync), and the server refuses events
 * of anyone else (docs/api.md, code "user"). Names are never reused: a
 * person who leaves is disabled, and what they make afterwards is
 * refused.
 */
#include "clock.h"
#include "srv.h"
#include "store.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_user_help[] =
    "usage: casebookd user add --data DIR NAME --full-name TEXT\n"
    "                          --role ROLE [--site CODE]\n"
    "       casebookd user list --data DIR [--site CODE]\n"
    "       casebookd user disable --data DIR NAME --reason TEXT\n"
    "\n"
    "add      register a person: NAME is what events carry (1 to 64 of\n"
    "         letters, digits and \"._-@\"), --full-name what a signature\n"
    "         is shown with. Site roles (coordinator, investigator) need\n"
    "         --site; central roles (datamanager, monitor, statistician,\n"
    "         dsmb, lab) take none. A name is never reused.\n"
    "list     print every person (of one site with --site), one per\n"
    "         line: name, site ('-' for central), role, state (enabled,\n"
    "         or disabled with the time), full name\n"
    "disable  refuse every event the person makes from now on, and\n"
    "         every registration in their name; their earlier events\n"
    "         stay in the record. There is no enable: register the\n"
    "         person again under a new name.\n"
    "\n"
    "Exit codes: 0 ok; 1 failure (unknown site or user, name taken, no\n"
    "store); 2 usage.\n";

static int print_user(const struct srv_user *u, void *ctx)
{
	char when[CB_CLOCK_UTC_BUF], *name;
	int oom = 0;

	(void)ctx;
	name = cb_text_escape(u->full_name, &oom);
	if (oom)
		return CB_ENOMEM;
	if (u->disabled_ms)
		cb_clock_format_utc(u->disabled_ms, when);
	printf("%s\t%s\t%s\t%s%s\t%s\n", u->name, u->site[0] ? u->site : "-",
	       u->role, u->disabled_ms ? "disabled " : "enabled",
	       u->disabled_ms ? when : "", name ? name : u->full_name);
	free(name);
	return 0;
}

/* A full name or reason: text that says something, with no controls. */
static int check_text(const char *what, const char *v, size_t max)
{
	struct cb_err err;

	if (!v || cb_text_blank(v))
		return srv_usage("user", "%s must say something", what);
	if (strlen(v) > max)
		return srv_usage("user", "%s: at most %zu bytes", what, max);
	cb_err_clear(&err);
	if (cb_text_check(v, strlen(v), what, &err))
		return srv_usage("user", "%s", err.msg);
	return 0;
}

static int add(struct srv_store *s, const char *name, const char *full,
	       const char *role, const char *site, struct cb_err *err)
{
	struct srv_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.full_name, sizeof(u.full_name), "%s", full);
	snprintf(u.role, sizeof(u.role), "%s", role);
	snprintf(u.site, sizeof(u.site), "%s", site ? site : "");
	u.created_ms = cb_clock_now_ms();
	return srv_store_user_add(s, &u, err);
}

int cmd_user(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--full-name", "--role",
					    "--site", "--reason",    NULL};
	const char *vals[5] = {NULL, NULL, NULL, NULL, NULL}, *pos[3];
	const char *verb;
	struct srv_store *s = NULL;
	struct cb_err err;
	int npos, rc;

	rc = srv_parse_opts("user", argc, argv, names, vals, pos, 3, &npos);
	if (rc)
		return rc;
	if (npos < 1)
		return srv_usage("user", "say 'add', 'list' or 'disable'");
	verb = pos[0];
	if (!vals[0])
		return srv_usage("user", "--data DIR is required");
	if (!strcmp(verb, "add")) {
		if (npos != 2)
			return srv_usage("user", "add needs one NAME");
		if (!cb_user_valid(pos[1]))
			return srv_usage("user",
					 "bad user name '%s': use 1 to %d "
					 "letters, digits and \"._-@\"",
					 pos[1], CB_USER_MAX);
		if ((rc =
			 check_text("--full-name", vals[1], SRV_FULL_NAME_MAX)))
			return rc;
		if (!vals[2])
			return srv_usage("user", "--role is required");
		if (cb_role_is_site(vals[2])) {
			if (!vals[3])
				return srv_usage("user",
						 "the %s role needs --site "
						 "CODE",
						 vals[2]);
			if (!cb_site_valid(vals[3]))
				return srv_usage(
				    "user", "'%s' is not a site code", vals[3]);
		} else if (cb_role_is_central(vals[2])) {
			if (vals[3])
				return srv_usage("user",
						 "the %s role is central and "
						 "takes no --site",
						 vals[2]);
		} else {
			return srv_usage("user",
					 "unknown role '%s' (coordinator, "
					 "investigator, datamanager, monitor, "
					 "statistician, dsmb, lab)",
					 vals[2]);
		}
		if (vals[4])
			return srv_usage("user", "add takes no --reason");
	} else if (!strcmp(verb, "list")) {
		if (npos != 1 || vals[1] || vals[2] || vals[4])
			return srv_usage("user",
					 "list takes only --data and --site");
		if (vals[3] && !cb_site_valid(vals[3]))
			return srv_usage("user", "'%s' is not a site code",
					 vals[3]);
	} else if (!strcmp(verb, "disable")) {
		if (npos != 2 || vals[1] || vals[2] || vals[3])
			return srv_usage("user", "disable takes --data, NAME "
						 "and --reason");
		if ((rc = check_text("--reason", vals[4], SRV_REASON_MAX)))
			return rc;
	} else {
		return srv_usage("user", "say 'add', 'list' or 'disable'");
	}
	cb_err_clear(&err);
	rc = srv_store_open(vals[0], &s, &err);
	if (rc)
		return srv_fail(&err);
	if (!strcmp(verb, "add")) {
		rc = srv_store_begin(s, &err);
		if (!rc) {
			rc = add(s, pos[1], vals[1], vals[2], vals[3], &err);
			if (rc)
				srv_store_rollback(s);
			else
				rc = srv_store_commit(s, &err);
		}
		if (!rc)
			printf("added user %s (%s%s%s)\n", pos[1], vals[2],
			       vals[3] ? " at " : "", vals[3] ? vals[3] : "");
	} else if (!strcmp(verb, "list")) {
		rc = srv_store_user_each(s, vals[3], NULL, print_user, NULL,
					 &err);
	} else if (!(rc = srv_store_user_disable(s, pos[1], cb_clock_now_ms(),
						 vals[4], &err))) {
		printf("disabled user %s\n", pos[1]);
	}
	srv_store_close(s);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}
