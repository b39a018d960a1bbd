/*
 * cmd_user.c - the people who may unlock this laptop's store:
 * `casebook user add|list` and `casebook passwd`.
 *
 * Each user has a keyslot: the store's data key wrapped under that user's
 * passphrase (store.h). Adding a user therefore needs the data key, so an
 * investigator who can already unlock the store must be present; changing
 * a passphrase re-wraps the acting user's slot and touches nothing else.
 */
#include "cli.h"
#include "jout.h"
#include "pass.h"
#include "store.h"
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_user_help[] =
    "usage: casebook user add NAME --role coordinator|investigator\n"
    "                         [--new-passphrase-file FILE]\n"
    "       casebook user list [--json]\n"
    "\n"
    "add   give NAME their own passphrase for this laptop's store. The\n"
    "      acting user (--user, else $CASEBOOK_USER, else the user who\n"
    "      created the store) must be an investigator and unlocks with\n"
    "      their passphrase (--passphrase-file, $CASEBOOK_PASSPHRASE, or\n"
    "      the terminal). The new user's passphrase comes from\n"
    "      --new-passphrase-file FILE, else $CASEBOOK_NEW_PASSPHRASE, else\n"
    "      is asked twice on the terminal; at least 8 characters.\n"
    "      A laptop registered with a server adds only a person the\n"
    "      server knows for its site, with that role and not disabled\n"
    "      (the list each sync brings; works offline after one sync).\n"
    "list  the users of this store and their roles; --json:\n"
    "      {\"users\":[{\"user\",\"role\"}]}\n"
    "\n"
    "Exit codes: 0 done; 1 failure (user exists, passphrase too short,\n"
    "not known to the server for this site and role, or disabled);\n"
    "2 usage; 4 wrong passphrase, unknown acting user, or the acting user\n"
    "is not an investigator.\n";

const char cmd_passwd_help[] =
    "usage: casebook passwd [--new-passphrase-file FILE]\n"
    "\n"
    "Change the acting user's passphrase. The current passphrase comes\n"
    "from --passphrase-file, $CASEBOOK_PASSPHRASE or the terminal; the new\n"
    "one from --new-passphrase-file FILE, $CASEBOOK_NEW_PASSPHRASE, or is\n"
    "asked twice on the terminal (at least 8 characters). Only this user's\n"
    "keyslot is rewritten; the data stays as it is.\n"
    "\n"
    "Exit codes: 0 changed; 1 failure; 2 usage; 4 wrong passphrase.\n";

struct find_user {
	const char *name;
	int found;
};

static int find_user_cb(void *ctx, const char *name, const char *role)
{
	struct find_user *f = ctx;

	(void)role;
	if (!strcmp(name, f->name))
		f->found = 1;
	return 0;
}

/* The list, as text (ctx NULL) or into a JSON array (struct user_json). */
struct user_json {
	struct jout j;
	cJSON *users;
};

static int print_user(void *ctx, const char *name, const char *role)
{
	struct user_json *uj = ctx;
	cJSON *o;

	if (!uj) {
		printf("%-24s %s\n", name, role);
		return 0;
	}
	o = jout_put(&uj->j, uj->users, NULL, cJSON_CreateObject());
	if (o) {
		jout_str(&uj->j, o, "user", name);
		jout_str(&uj->j, o, "role", role);
	}
	return 0;
}

/* Open the store and unlock it as the acting user, asking the passphrase. */
static int open_as(struct cli_global *g, const char *need_role,
		   struct store **out)
{
	struct cb_err err;

	cb_err_clear(&err);
	if (store_open_cli_as(g, need_role, "adding a user", out, &err))
		return cli_fail(&err);
	return EXIT_OK;
}

/*
 * A laptop registered with a server adds only people the server knows:
 * registered by the administrator for this laptop's site, with this
 * role, and not disabled (from the list each sync brings, so it works
 * offline). A laptop that has not synced yet cannot tell: sync first. A
 * store made without a server keeps its own users (the server still
 * judges every event's person when its events reach one by bundle).
 */
static int known_to_server(struct store *st, const char *name, const char *role,
			   struct cb_err *err)
{
	const cJSON *r, *s, *d;
	cJSON *p = NULL;
	char *server = NULL;
	int rc, have = 0;

	rc = store_meta_opt(st, SYNC_META_SERVER, &server, err);
	if (rc || !server)
		return rc;
	free(server);
	rc = sync_person(st, name, &p, &have, err);
	if (rc)
		return rc;
	if (!have)
		return cb_err_set(err, CB_ENOTFOUND,
				  "this laptop does not know the server's "
				  "people yet: run 'casebook sync' first; "
				  "nothing was changed");
	if (!p)
		return cb_err_set(err, CB_ENOTFOUND,
				  "the server does not know '%s' for site "
				  "%s: the administrator registers people "
				  "('casebookd user add'), then sync; "
				  "nothing was changed",
				  name, store_site(st));
	r = cJSON_GetObjectItemCaseSensitive(p, "role");
	s = cJSON_GetObjectItemCaseSensitive(p, "site");
	d = cJSON_GetObjectItemCaseSensitive(p, "disabled_at");
	if (!cJSON_IsString(s) || strcmp(s->valuestring, store_site(st)))
		rc = cb_err_set(err, CB_ENOTFOUND,
				"the server knows '%s', but not for site %s; "
				"nothing was changed",
				name, store_site(st));
	else if (!cJSON_IsString(r) || strcmp(r->valuestring, role))
		rc = cb_err_set(err, CB_EINVAL,
				"the server knows '%s' as %s, not %s; "
				"nothing was changed",
				name, cJSON_IsString(r) ? r->valuestring : "?",
				role);
	else if (d && !cJSON_IsNull(d))
		rc = cb_err_set(err, CB_EINVAL,
				"'%s' was disabled on the server at %s; "
				"nothing was changed",
				name, cJSON_IsString(d) ? d->valuestring : "?");
	cJSON_Delete(p);
	return rc;
}

static int user_add(int argc, char **argv, struct cli_global *g)
{
	const char *name = NULL, *role = NULL, *new_file = NULL;
	char prompt[STORE_USER_MAX + 48];
	struct find_user f;
	struct store *st = NULL;
	struct cb_err err;
	char *pass = NULL;
	size_t pass_len = 0;
	int i, rc;

	cb_err_clear(&err);
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--role") ||
		    !strcmp(argv[i], "--new-passphrase-file")) {
			if (i + 1 >= argc)
				return cli_usage("user ",
						 "option %s needs a value",
						 argv[i]);
			if (!strcmp(argv[i], "--role"))
				role = argv[++i];
			else
				new_file = argv[++i];
		} else if (argv[i][0] == '-' || name) {
			return cli_usage("user ", "unexpected argument '%s'",
					 argv[i]);
		} else {
			name = argv[i];
		}
	}
	if (!name || !role)
		return cli_usage("user ", "user add needs NAME and --role");
	if (!cb_user_valid(name))
		return cli_usage("user ",
				 "bad user name '%s': use 1 to %d letters, "
				 "digits and . _ - @",
				 name, STORE_USER_MAX);
	if (!cb_role_is_site(role))
		return cli_usage("user ",
				 "bad role '%s': use coordinator or "
				 "investigator",
				 role);
	rc = open_as(g, CB_ROLE_INVESTIGATOR, &st);
	if (rc)
		return rc;
	rc = known_to_server(st, name, role, &err);
	f.name = name;
	f.found = 0;
	if (!rc)
		rc = store_each_user(st, find_user_cb, &f, &err);
	if (!rc && f.found)
		rc = cb_err_set(&err, CB_EEXIST,
				"user '%s' already exists; nothing was changed",
				name);
	if (!rc) {
		snprintf(prompt, sizeof(prompt),
			 "New passphrase for %s (%s): ", name, role);
		rc = pass_get_new(new_file, PASS_NEW_ENV, prompt, &pass,
				  &pass_len, &err);
	}
	if (!rc)
		rc = store_add_user(st, name, role, pass, pass_len, &err);
	pass_free(pass);
	if (!rc)
		printf("Added user %s (%s), by %s.\n", name, role,
		       store_user(st));
	store_close(st);
	return rc ? cli_fail(&err) : EXIT_OK;
}

int cmd_user(int argc, char **argv, struct cli_global *g)
{
	struct store *st = NULL;
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	if (argc < 2)
		return cli_usage("user ", "user needs a subcommand: add, list");
	if (!strcmp(argv[1], "add"))
		return user_add(argc, argv, g);
	if (strcmp(argv[1], "list"))
		return cli_usage("user ", "unknown subcommand '%s'", argv[1]);
	if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json")))
		return cli_usage("user ", "user list takes only --json");
	rc = open_as(g, NULL, &st);
	if (rc)
		return rc;
	if (argc == 3) {
		struct user_json uj = {{0}, NULL};
		cJSON *root = cJSON_CreateObject();

		uj.users = jout_put(&uj.j, root, "users", cJSON_CreateArray());
		rc = store_each_user(st, print_user, &uj, &err);
		store_close(st);
		if (rc) {
			cJSON_Delete(root);
			return cli_fail(&err);
		}
		return jout_emit(&uj.j, root);
	}
	rc = store_each_user(st, print_user, NULL, &err);
	store_close(st);
	return rc ? cli_fail(&err) : EXIT_OK;
}

int cmd_passwd(int argc, char **argv, struct cli_global *g)
{
	const char *new_file = NULL;
	char prompt[STORE_USER_MAX + 32];
	struct store *st = NULL;
	struct cb_err err;
	char *pass = NULL;
	size_t pass_len = 0;
	int i, rc;

	cb_err_clear(&err);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--new-passphrase-file") && i + 1 < argc)
			new_file = argv[++i];
		else
			return cli_usage("passwd ", "unexpected argument '%s'",
					 argv[i]);
	}
	rc = open_as(g, NULL, &st);
	if (rc)
		return rc;
	snprintf(prompt, sizeof(prompt),
		 "New passphrase for %s: ", store_user(st));
	rc = pass_get_new(new_file, PASS_NEW_ENV, prompt, &pass, &pass_len,
			  &err);
	if (!rc)
		rc = store_change_passphrase(st, pass, pass_len, &err);
	pass_free(pass);
	if (!rc)
		printf("Passphrase changed for %s.\n", store_user(st));
	store_close(st);
	return rc ? cli_fail(&err) : EXIT_OK;
}
