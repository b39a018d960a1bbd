/*
 * cmd_init.c - `casebook init`, which creates the encrypted local store
 * of a site laptop, and `casebook store`, which checks one.
 *
 * init validates everything it is given (site code, device index, user,
 * role, the protocol file) and refuses an existing store before it asks
 * for a passphrase, so a mistake costs no typing. The store itself is
 * written by store_create (store.c), which makes it appear complete or
 * not at all.
 */
#include "canon.h"
#include "cli.h"
#include "clock.h"
#include "event.h"
#include "id.h"
#include "json.h"
#include "pass.h"
#include "protocol.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char cmd_init_help[] =
    "usage: casebook init --site SITE --device-index N --protocol FILE\n"
    "                     --user NAME --role coordinator|investigator\n"
    "\n"
    "Create the encrypted local store of this laptop in the store\n"
    "directory (--home DIR, else $CASEBOOK_HOME, else ~/.casebook). It\n"
    "holds the study protocol, the device's signing key and every record\n"
    "entered here, all encrypted under a random data key that only the\n"
    "passphrases of this store's users unlock.\n"
    "\n"
    "  --site SITE         site code: 2 to 8 uppercase letters and digits,\n"
    "                      starting with a letter (KR01)\n"
    "  --device-index N    this laptop's number at the site, 1 to 99; it\n"
    "                      goes into subject ids (KR01-01007)\n"
    "  --protocol FILE     the study protocol (checked before use)\n"
    "  --user NAME         the first user, who unlocks by default\n"
    "  --role ROLE         coordinator or investigator\n"
    "\n"
    "The first user's new passphrase is read from --passphrase-file FILE\n"
    "(given before 'init'), else $CASEBOOK_PASSPHRASE, else asked twice on\n"
    "the terminal. It must have at least 8 characters.\n"
    "\n"
    "An existing store is never overwritten.\n"
    "\n"
    "Exit codes: 0 created; 1 bad protocol file or a store already\n"
    "exists; 2 usage (bad site code, device index, user or role).\n";

const char cmd_store_help[] =
    "usage: casebook store check\n"
    "\n"
    "Verify the whole local store: SQLite's integrity check, then decrypt\n"
    "and authenticate every event, subject and setting. Prints the device,\n"
    "the acting user, counts and a digest of the decrypted content (equal\n"
    "content gives an equal digest).\n"
    "\n"
    "Exit codes: 0 intact; 1 damaged (integrity error) or another failure;\n"
    "4 wrong passphrase or unknown user.\n";

/* Strict decimal 1..STORE_DEVICE_INDEX_MAX; -1 when it is not. */
static int parse_device_index(const char *s)
{
	int v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 2 || s[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= STORE_DEVICE_INDEX_MAX ? v : -1;
}

/* Load and check the protocol file; prints every problem found. */
static int read_protocol(const char *path, char **bytes, size_t *len)
{
	struct cb_protocol_problems problems;
	struct cb_protocol *proto = NULL;
	struct cb_err err;
	size_t i;
	int rc;

	cb_err_clear(&err);
	*bytes = NULL;
	rc = cb_file_read(path, CB_PROTOCOL_FILE_MAX, bytes, len, &err);
	if (rc)
		return cli_error("cannot use protocol file: %s", err.msg);
	cb_protocol_problems_init(&problems);
	rc = cb_protocol_load_json(*bytes, *len, path, &proto, &problems, &err);
	cb_protocol_free(proto);
	if (!rc) {
		cb_protocol_problems_release(&problems);
		return EXIT_OK;
	}
	if (problems.count == 0)
		cli_error("protocol %s is not usable: %s", path, err.msg);
	for (i = 0; i < problems.count; i++)
		cli_error("protocol %s: %s", path, problems.msgs[i]);
	if (problems.total > problems.count)
		cli_error("protocol %s: ... and %zu more problems", path,
			  problems.total - problems.count);
	cb_protocol_problems_release(&problems);
	free(*bytes);
	*bytes = NULL;
	return EXIT_FAIL;
}

int cmd_init(int argc, char **argv, struct cli_global *g)
{
	const char *site = NULL, *index_text = NULL, *protocol = NULL;
	const char *user = g->user, *role = NULL;
	char home[STORE_PATH_MAX + 1], path[STORE_PATH_MAX + 32];
	char prompt[STORE_USER_MAX + 40];
	struct store_create_params p;
	struct store *st = NULL;
	struct cb_err err;
	struct stat sb;
	char *bytes = NULL, *pass = NULL;
	size_t len = 0, pass_len = 0;
	int i, index, rc;

	cb_err_clear(&err);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

		if (!strcmp(a, "--site"))
			slot = &site;
		else if (!strcmp(a, "--device-index"))
			slot = &index_text;
		else if (!strcmp(a, "--protocol"))
			slot = &protocol;
		else if (!strcmp(a, "--user"))
			slot = &user;
		else if (!strcmp(a, "--role"))
			slot = &role;
		else if (!strcmp(a, "--server") || !strcmp(a, "--token"))
			return cli_usage("init ",
					 "joining a server (%s) is not "
					 "supported by this build",
					 a);
		else
			return cli_usage("init ", "unknown argument '%s'", a);
		if (i + 1 >= argc)
			return cli_usage("init ", "option %s needs a value", a);
		*slot = argv[++i];
	}
	if (!site || !index_text || !protocol || !user || !role)
		return cli_usage("init ", "init needs --site, --device-index, "
					  "--protocol, --user and --role");
	if (!store_site_valid(site))
		return cli_usage("init ",
				 "bad site code '%s': use 2 to %d uppercase "
				 "letters and digits, starting with a letter "
				 "(e.g. KR01)",
				 site, STORE_SITE_MAX);
	index = parse_device_index(index_text);
	if (index < 0)
		return cli_usage("init ",
				 "bad device index '%s': use a number from 1 "
				 "to %d",
				 index_text, STORE_DEVICE_INDEX_MAX);
	if (!store_user_valid(user))
		return cli_usage("init ",
				 "bad user name '%s': use 1 to %d letters, "
				 "digits and . _ - @",
				 user, STORE_USER_MAX);
	if (!store_role_valid(role))
		return cli_usage("init ",
				 "bad role '%s': use coordinator or "
				 "investigator",
				 role);
	if (store_home(g, home, sizeof(home), &err))
		return cli_fail(&err);
	snprintf(path, sizeof(path), "%s/%s", home, STORE_DB_NAME);
	if (stat(path, &sb) == 0)
		return cli_error("a casebook store already exists at %s; "
				 "nothing was changed",
				 path);
	rc = read_protocol(protocol, &bytes, &len);
	if (rc)
		return rc;

	snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", user);
	rc = pass_get_new(g->passphrase_file, PASS_ENV, prompt, &pass,
			  &pass_len, &err);
	if (rc) {
		free(bytes);
		return cli_fail(&err);
	}
	memset(&p, 0, sizeof(p));
	p.home = home;
	p.site = site;
	p.device_index = index;
	p.protocol = bytes;
	p.protocol_len = len;
	p.user = user;
	p.role = role;
	p.pass = pass;
	p.pass_len = pass_len;
	rc = store_create(&p, &st, &err);
	pass_free(pass);
	free(bytes);
	if (rc)
		return cli_fail(&err);
	printf("Created the casebook store in %s\n"
	       "  site %s, device %02d, device id %s\n"
	       "  user %s (%s)\n",
	       home, store_site(st), store_device_index(st),
	       store_device_id(st), store_user(st), store_role(st));
	store_close(st);
	return EXIT_OK;
}

/* ---- casebook store --------------------------------------------------- */

/*
 * `casebook store test-events SUBJECT N TEXT`, for the store's own
 * end-to-end tests only: appends N signed form.save events setting
 * BL/VS item NOTE to TEXT (not checked against the protocol). It exists only
 * when CASEBOOK_TEST_HOOKS=1, so the store can be filled and scanned before the
 * data entry commands exist.
 */
static int test_events(struct store *st, const char *subject, int n,
		       const char *text, struct cb_err *err)
{
	int i, rc = 0;

	rc = store_begin(st, err);
	for (i = 0; !rc && i < n; i++) {
		struct cb_event ev;
		char id[CB_ID_HEX_LEN + 1], wall[CB_CLOCK_UTC_BUF];
		char *json = NULL;
		size_t len = 0;
		cJSON *tree = NULL;
		int64_t now = cb_clock_now_ms();

		cb_event_init(&ev);
		rc = cb_id_random(id);
		if (!rc) {
			memcpy(ev.id, id, sizeof(ev.id));
			snprintf(ev.hlc, sizeof(ev.hlc), "%012llx%04x",
				 (unsigned long long)now, (unsigned)i & 0xffff);
			cb_clock_format_utc(now, wall);
			memcpy(ev.wall, wall, CB_EVENT_TIME_LEN);
			ev.wall[CB_EVENT_TIME_LEN] = '\0';
			rc = cb_event_set_origin(&ev, store_device_id(st),
						 store_site(st), store_user(st),
						 err);
		}
		if (!rc)
			rc =
			    cb_event_set_target(&ev, subject, CB_KIND_FORM_SAVE,
						"BL", "VS", "", err);
		if (!rc)
			rc = cb_event_set_reason(&ev, "", err);
		if (!rc)
			rc = cb_event_add_change(&ev, "NOTE", text, NULL, 0,
						 err);
		if (!rc)
			rc = store_sign_event(st, &ev, err);
		if (!rc)
			rc = cb_event_to_json(&ev, &tree, err);
		if (!rc)
			rc = cb_canon_encode(tree, &json, &len, err);
		if (!rc)
			rc = store_add_event(st, ev.id, subject, json, len, 0,
					     NULL, err);
		cJSON_Delete(tree);
		free(json);
		cb_event_release(&ev);
	}
	if (rc) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st, err);
}

static int print_event(void *ctx, const struct store_event *ev)
{
	(void)ctx;
	printf("%lld %s %s %s\n", (long long)ev->seq, ev->id,
	       ev->synced ? "synced" : "unsynced", ev->json);
	return 0;
}

int cmd_store(int argc, char **argv, struct cli_global *g)
{
	const char *hooks = getenv("CASEBOOK_TEST_HOOKS");
	int testing = hooks && !strcmp(hooks, "1");
	struct store_check_report rep;
	struct store *st = NULL;
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	if (argc < 2)
		return cli_usage("store ", "store needs a subcommand: check");
	if (!strcmp(argv[1], "check")) {
		if (argc != 2)
			return cli_usage("store ", "store check takes no "
						   "arguments");
	} else if (testing && !strcmp(argv[1], "test-events")) {
		if (argc != 5)
			return cli_usage("store ",
					 "test-events SUBJECT N TEXT");
	} else if (testing && !strcmp(argv[1], "test-secrets")) {
		if (argc != 2)
			return cli_usage("store ", "test-secrets");
	} else if (testing && !strcmp(argv[1], "test-list")) {
		if (argc != 2 && argc != 3)
			return cli_usage("store ", "test-list [SUBJECT]");
	} else {
		return cli_usage("store ", "unknown subcommand '%s'", argv[1]);
	}
	rc = store_open_cli(g, &st, &err);
	if (rc)
		return cli_fail(&err);
	if (!strcmp(argv[1], "test-events")) {
		char *end;
		long n = strtol(argv[3], &end, 10);

		if (*end || n < 1 || n > 100000) {
			store_close(st);
			return cli_usage("store ", "bad count '%s'", argv[3]);
		}
		rc = test_events(st, argv[2], (int)n, argv[4], &err);
	} else if (!strcmp(argv[1], "test-secrets")) {
		char hex[STORE_SECRETS_HEX];

		rc = store_test_secrets(st, hex, sizeof(hex), &err);
		if (!rc)
			printf("%s\n", hex);
		memset(hex, 0, sizeof(hex));
	} else if (!strcmp(argv[1], "test-list")) {
		rc = store_each_event(st, argc == 3 ? argv[2] : NULL,
				      STORE_ITER_ALL, print_event, NULL, &err);
	} else {
		rc = store_check(st, &rep, &err);
		if (!rc)
			printf("store: intact\n"
			       "site %s, device %02d, device id %s\n"
			       "user %s (%s)\n"
			       "events %lld (%lld unsynced), subjects %lld, "
			       "users %lld, settings %lld\n"
			       "content digest %s\n",
			       store_site(st), store_device_index(st),
			       store_device_id(st), store_user(st),
			       store_role(st), (long long)rep.events,
			       (long long)rep.unsynced, (long long)rep.subjects,
			       (long long)rep.users, (long long)rep.settings,
			       rep.digest);
	}
	store_close(st);
	return rc ? cli_fail(&err) : EXIT_OK;
}
