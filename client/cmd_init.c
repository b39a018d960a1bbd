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
#include "derive.h"
#include "net.h"
#include "sync.h"
#include "cli.h"
#include "jout.h"
#include "clock.h"
#include "event.h"
#include "id.h"
#include "json.h"
#include "pass.h"
#include "protocol.h"
#include "record.h"
#include "store.h"
#include "withheld.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

const char cmd_init_help[] =
    "usage: casebook init --server URL --token TOKEN --user NAME\n"
    "                     [--cacert FILE]\n"
    "       casebook init --site SITE --device-index N --protocol FILE\n"
    "                     --user NAME --role coordinator|investigator\n"
    "\n"
    "With --server, register this device with the central server using a\n"
    "one-time token from its administrator ('casebookd token create'):\n"
    "the site, role and device index come from the token, and the study\n"
    "protocol from the server. 'casebook sync' then talks to that server.\n"
    "--cacert FILE trusts a development certificate for an https server.\n"
    "\n"
    "Without a server, the laptop works alone (it cannot sync later):\n"
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
    "If an init with --server is interrupted (the token may then be\n"
    "spent on the server), run the same command again with the same\n"
    "token and passphrase: it finishes with the same device. What an\n"
    "interrupted init left half made is removed by the next one.\n"
    "\n"
    "Exit codes: 0 created; 1 bad protocol file or a store already\n"
    "exists; 2 usage (bad site code, device index, user or role); 4 the\n"
    "server refused the token; 5 the server cannot be reached (nothing\n"
    "was created and the token is still unused).\n";

const char cmd_store_help[] =
    "usage: casebook store check [--json]\n"
    "\n"
    "Verify the whole local store: SQLite's integrity check, the sealed\n"
    "tally of its rows, then decrypt and authenticate every event, subject,\n"
    "setting, quarantine row and derived row, and derive every subject\n"
    "again from its events to compare with the rows kept for it. Prints\n"
    "the device, the acting user, counts and a digest of the decrypted\n"
    "content (equal content gives an equal digest). It writes nothing.\n"
    "--json: {\"status\":\"intact\",\"site\",\"device_index\",\"device_id\",\n"
    "\"user\",\"role\",\"events\",\"unsynced\",\"subjects\",\"users\",\n"
    "\"settings\",\"quarantined\",\"derived_checked\",\"pending\",\n"
    "\"digest\"} (a damaged store gives an error, not JSON).\n"
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

/* Check protocol text; prints every problem found. */
static int check_protocol(const char *bytes, size_t len, const char *what)
{
	struct cb_protocol_problems problems;
	struct cb_protocol *proto = NULL;
	struct cb_err err;
	size_t i;
	int rc;

	cb_err_clear(&err);
	cb_protocol_problems_init(&problems);
	rc = cb_protocol_load_json(bytes, len, what, &proto, &problems, &err);
	cb_protocol_free(proto);
	if (!rc) {
		cb_protocol_problems_release(&problems);
		return EXIT_OK;
	}
	if (problems.count == 0)
		cli_error("protocol %s is not usable: %s", what, err.msg);
	for (i = 0; i < problems.count; i++)
		cli_error("protocol %s: %s", what, problems.msgs[i]);
	if (problems.total > problems.count)
		cli_error("protocol %s: ... and %zu more problems", what,
			  problems.total - problems.count);
	cb_protocol_problems_release(&problems);
	return EXIT_FAIL;
}

/* Load and check the protocol file; prints every problem found. */
static int read_protocol(const char *path, char **bytes, size_t *len)
{
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	*bytes = NULL;
	rc = cb_file_read(path, CB_PROTOCOL_FILE_MAX, bytes, len, &err);
	if (rc)
		return cli_error("cannot use protocol file: %s", err.msg);
	rc = check_protocol(*bytes, *len, path);
	if (rc) {
		free(*bytes);
		*bytes = NULL;
	}
	return rc;
}

/* What the server answered to a registration. */
struct joined {
	cJSON *root;
	const char *device, *site, *role, *protocol;
	int device_index;
	size_t protocol_len;
};

/*
 * Register this device with the server: POST /v1/register with the token,
 * the new public key and the user. Prints why on failure and returns the
 * exit code.
 */
static int register_device(struct net *n, const char *token, const char *user,
			   const struct cb_sign_keypair *kp, struct joined *j)
{
	struct sync_opts o = {2, 0};
	struct net_reply r;
	struct cb_err err;
	char pk[CB_SIGN_PUBLIC_BYTES * 2 + 1], sum[CB_HASH_HEX_SIZE];
	const cJSON *v;
	cJSON *req;
	char *body;
	int rc;

	memset(j, 0, sizeof(*j));
	if (cb_hex_encode(kp->pk, CB_SIGN_PUBLIC_BYTES, pk, sizeof(pk), &err))
		return cli_fail(&err);
	req = cJSON_CreateObject();
	if (!req || !cJSON_AddStringToObject(req, "token", token) ||
	    !cJSON_AddStringToObject(req, "public_key", pk) ||
	    !cJSON_AddStringToObject(req, "user", user) ||
	    !(body = cJSON_PrintUnformatted(req))) {
		cJSON_Delete(req);
		return cli_error("out of memory");
	}
	cJSON_Delete(req);
	rc = sync_request(n, &o, "POST", "/v1/register", "", body, strlen(body),
			  NULL, &r, &err);
	free(body);
	if (rc == CB_EUNREACHABLE) {
		fprintf(stderr,
			"casebook: %s\ncasebook: nothing was created; "
			"the token is still unused\n",
			err.msg);
		return EXIT_UNREACHABLE;
	}
	if (rc)
		return cli_fail(&err);
	if (r.status != 201) {
		char msg[600];
		int ex =
		    r.status == 401 || r.status == 403 ? EXIT_AUTH : EXIT_FAIL;

		net_error_message(&r, msg, sizeof(msg));
		net_reply_free(&r);
		cli_error("the server refused to register this device: %s",
			  msg);
		return ex;
	}
	j->root =
	    cb_json_parse(r.body, r.len, NET_REPLY_MAX, "registration", &err);
	net_reply_free(&r);
	if (!j->root)
		return cli_fail(&err);
	v = cJSON_GetObjectItemCaseSensitive(j->root, "device");
	j->device = cJSON_IsString(v) ? v->valuestring : NULL;
	v = cJSON_GetObjectItemCaseSensitive(j->root, "site");
	j->site = cJSON_IsString(v) ? v->valuestring
		  : cJSON_IsNull(v) ? ""
				    : NULL;
	v = cJSON_GetObjectItemCaseSensitive(j->root, "role");
	j->role = cJSON_IsString(v) ? v->valuestring : NULL;
	v = cJSON_GetObjectItemCaseSensitive(j->root, "device_index");
	j->device_index = cJSON_IsNumber(v) ? v->valueint : -1;
	v = cJSON_GetObjectItemCaseSensitive(j->root, "protocol");
	j->protocol = cJSON_IsString(v) ? v->valuestring : NULL;
	j->protocol_len = j->protocol ? strlen(j->protocol) : 0;
	v = cJSON_GetObjectItemCaseSensitive(j->root, "protocol_sha256");
	if (!j->device || !j->site || !j->role || j->device_index < 1 ||
	    !j->protocol || !cJSON_IsString(v)) {
		cJSON_Delete(j->root);
		j->root = NULL;
		return cli_error("the server's registration answer lacks "
				 "device, site, role, device_index or "
				 "protocol");
	}
	cb_sha256_hex(j->protocol, j->protocol_len, sum);
	if (strcmp(sum, v->valuestring)) {
		cJSON_Delete(j->root);
		j->root = NULL;
		return cli_error("the protocol the server sent does not match "
				 "its SHA-256");
	}
	return check_protocol(j->protocol, j->protocol_len, "from the server");
}

/*
 * An init that registers with a server spends its one-time token before
 * the store exists. So that a kill in between loses nothing, the device
 * key is kept first in HOME/INIT_PENDING, wrapped under the new
 * passphrase (as a keyslot wraps the data key), with the server and a
 * hash of the token: run again with the same token and passphrase, init
 * registers the same key again, which the server answers with the device
 * it made (server/store.h), and finishes. The file goes once the store
 * is made.
 */
#define INIT_PENDING "casebook.init-pending"
#define INIT_PENDING_SLOT "casebook.init-pending"

static void pending_path(const char *home, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", home, INIT_PENDING);
}

/* Keep the device key of a registration about to be made. */
static int pending_write(const char *home, const char *server,
			 const char *token_sum,
			 const struct cb_sign_keypair *kp, const char *pass,
			 size_t pass_len, struct cb_err *err)
{
	char path[STORE_PATH_MAX + 32], now[CB_CLOCK_UTC_BUF];
	char pk[CB_SIGN_PUBLIC_BYTES * 2 + 1];
	char *wrapped = NULL, *text = NULL;
	struct cb_key *key = NULL;
	cJSON *o = NULL;
	int rc, fd = -1;
	size_t len;

	pending_path(home, path, sizeof(path));
	rc = cb_key_new(CB_SIGN_SECRET_BYTES, &key, err);
	if (rc)
		return rc;
	memcpy(key->bytes, kp->sk->bytes, CB_SIGN_SECRET_BYTES);
	rc = cb_key_wrap(key, pass, pass_len, INIT_PENDING_SLOT, NULL, &wrapped,
			 err);
	cb_key_free(key);
	if (rc)
		return rc;
	cb_hex_encode(kp->pk, CB_SIGN_PUBLIC_BYTES, pk, sizeof(pk), err);
	cb_clock_format_utc(cb_clock_now_ms(), now);
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "server", server) ||
	    !cJSON_AddStringToObject(o, "token_sha256", token_sum) ||
	    !cJSON_AddStringToObject(o, "public_key", pk) ||
	    !cJSON_AddStringToObject(o, "key", wrapped) ||
	    !cJSON_AddStringToObject(o, "started", now) ||
	    !(text = cJSON_PrintUnformatted(o)))
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	cJSON_Delete(o);
	free(wrapped);
	if (rc)
		return rc;
	len = strlen(text);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
		rc = cb_err_set(err, CB_EIO, "cannot write %s: %s", path,
				strerror(errno));
	if (fd >= 0)
		close(fd);
	free(text);
	return rc;
}

/*
 * An earlier interrupted registration in HOME: *kp gets its key when it
 * was for this server and token (the passphrase must be the same), 1 is
 * returned when there was none or it was for another one (said on
 * stderr, and removed). Returns 0 with *kp set, 1, or the exit code of
 * a failure (after saying why).
 */
static int pending_resume(const char *home, const char *server,
			  const char *token_sum, const char *pass,
			  size_t pass_len, struct cb_sign_keypair *kp)
{
	char path[STORE_PATH_MAX + 32];
	struct cb_key *key = NULL;
	struct cb_err err;
	cJSON *o;
	int rc;

	pending_path(home, path, sizeof(path));
	if (access(path, F_OK) != 0)
		return 1;
	o = cb_json_load_file(path, 65536, &err);
	if (!o || !cb_json_str(o, "key") || !cb_json_str(o, "server") ||
	    !cb_json_str(o, "token_sha256")) {
		cJSON_Delete(o);
		fprintf(stderr,
			"casebook: warning: %s from an interrupted init is "
			"unreadable; removed it\n",
			path);
		unlink(path);
		return 1;
	}
	if (strcmp(cb_json_str(o, "server"), server) ||
	    strcmp(cb_json_str(o, "token_sha256"), token_sum)) {
		fprintf(
		    stderr,
		    "casebook: warning: an earlier 'casebook init' with "
		    "another token or server (%s, started %s) was "
		    "interrupted; if it reached the server, its token "
		    "is spent and a device with public key %.16s... is "
		    "registered there: ask the administrator to revoke "
		    "it ('casebookd device list')\n",
		    cb_json_str(o, "server"),
		    cb_json_str(o, "started") ? cb_json_str(o, "started") : "?",
		    cb_json_str(o, "public_key") ? cb_json_str(o, "public_key")
						 : "?");
		cJSON_Delete(o);
		unlink(path);
		return 1;
	}
	rc = cb_key_unwrap(cb_json_str(o, "key"), pass, pass_len,
			   INIT_PENDING_SLOT, &key, &err);
	cJSON_Delete(o);
	if (rc == CB_EAUTH) {
		fprintf(stderr,
			"casebook: error: an earlier 'casebook init' with this "
			"token was interrupted; give the same new passphrase "
			"as then to finish it (or remove %s and ask the "
			"administrator for a new token)\n",
			path);
		return EXIT_AUTH;
	}
	if (!rc && key->len == CB_SIGN_SECRET_BYTES)
		rc =
		    cb_sign_keypair_from_secret(key->bytes, key->len, kp, &err);
	else if (!rc)
		rc = cb_err_set(&err, CB_EINTEGRITY, "%s is damaged", path);
	cb_key_free(key);
	if (rc)
		return cli_fail(&err);
	fprintf(stderr, "casebook: finishing the 'casebook init' that was "
			"interrupted\n");
	return 0;
}

/* `casebook init --server URL --token TOKEN --user NAME [--cacert F]` */
static int init_server(struct cli_global *g, const char *server,
		       const char *token, const char *user, const char *cacert)
{
	char home[STORE_PATH_MAX + 1], path[STORE_PATH_MAX + 32];
	char prompt[STORE_USER_MAX + 40], *abs_cacert = NULL;
	char token_sum[CB_HASH_HEX_SIZE];
	struct store_create_params p;
	struct cb_sign_keypair kp;
	struct store *st = NULL;
	const char *settings[7];
	struct joined j;
	struct net n;
	struct cb_err err;
	struct stat sb;
	char *pass = NULL;
	size_t pass_len = 0;
	int rc, ex, lock = -1, k = 0;

	memset(&kp, 0, sizeof(kp));
	memset(&j, 0, sizeof(j));
	if (!cb_user_valid(user))
		return cli_usage("init",
				 "bad user name '%s': use 1 to %d letters, "
				 "digits and . _ - @",
				 user, STORE_USER_MAX);
	if (cacert && !(abs_cacert = realpath(cacert, NULL)))
		return cli_error("cannot use --cacert %s: %s", cacert,
				 strerror(errno));
	if (net_init(&n, server, abs_cacert, &err)) {
		free(abs_cacert);
		return cli_usage("init", "%s", err.msg);
	}
	if (store_home(g, home, sizeof(home), &err)) {
		ex = cli_fail(&err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", home, STORE_DB_NAME);
	if (stat(path, &sb) == 0) {
		ex = cli_error("a casebook store already exists at %s; "
			       "nothing was changed",
			       path);
		goto out;
	}
	if (store_init_lock(home, &lock, &err)) {
		ex = cli_fail(&err);
		goto out;
	}
	snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", user);
	if (pass_get_new(g->passphrase_file, PASS_ENV, prompt, &pass, &pass_len,
			 &err)) {
		ex = cli_fail(&err);
		goto out;
	}
	cb_sha256_hex(token, strlen(token), token_sum);
	ex = pending_resume(home, n.base, token_sum, pass, pass_len, &kp);
	if (ex == 1) {
		if (cb_sign_keypair_new(&kp, &err) ||
		    pending_write(home, n.base, token_sum, &kp, pass, pass_len,
				  &err)) {
			ex = cli_fail(&err);
			goto out;
		}
	} else if (ex) {
		goto out;
	}
	ex = register_device(&n, token, user, &kp, &j);
	if (ex)
		goto out;
#ifdef CASEBOOK_TEST_HOOKS
	/* The store's tests stop here, as a kill would. */
	if (getenv("CASEBOOK_TEST_HOOKS") &&
	    getenv("CASEBOOK_TEST_INIT_STOP") &&
	    !strcmp(getenv("CASEBOOK_TEST_INIT_STOP"), "register"))
		_exit(9);
#endif
	memset(&p, 0, sizeof(p));
	p.home = home;
	p.site = j.site;
	p.device_index = j.device_index;
	p.protocol = j.protocol;
	p.protocol_len = j.protocol_len;
	p.user = user;
	p.role = j.role;
	p.pass = pass;
	p.pass_len = pass_len;
	p.device_id = j.device;
	p.sign_secret = kp.sk->bytes;
	/* Where the server is, and its key, which signs bundle replies
	 * (docs/bundles.md): written with the store, never apart. */
	settings[k++] = SYNC_META_SERVER;
	settings[k++] = n.base;
	if (abs_cacert) {
		settings[k++] = SYNC_META_CACERT;
		settings[k++] = abs_cacert;
	}
	if (cb_json_str(j.root, "server_key")) {
		settings[k++] = SYNC_META_SERVER_KEY;
		settings[k++] = cb_json_str(j.root, "server_key");
	}
	settings[k] = NULL;
	p.settings = settings;
	rc = store_create(&p, &st, &err);
	if (rc) {
		ex = cli_fail(&err);
		fprintf(stderr,
			"casebook: the device %s was registered but no store "
			"was made; run the same 'casebook init' again with the "
			"same token and passphrase to finish\n",
			j.device);
	} else {
		pending_path(home, path, sizeof(path));
		unlink(path);
		printf("Registered with %s and created the casebook store in "
		       "%s\n"
		       "  %s%s%s, device %02d, device id %s\n"
		       "  user %s (%s)\n",
		       n.base, home, j.site[0] ? "site " : "central role",
		       j.site, "", store_device_index(st), store_device_id(st),
		       store_user(st), store_role(st));
		ex = EXIT_OK;
	}
	store_close(st);
out:
	store_init_unlock(home, lock);
	cJSON_Delete(j.root);
	cb_sign_keypair_release(&kp);
	pass_free(pass);
	net_free(&n);
	free(abs_cacert);
	return ex;
}

int cmd_init(int argc, char **argv, struct cli_global *g)
{
	const char *site = NULL, *index_text = NULL, *protocol = NULL;
	const char *user = g->user, *role = NULL;
	const char *server = NULL, *token = NULL, *cacert = NULL;
	char home[STORE_PATH_MAX + 1], path[STORE_PATH_MAX + 32];
	char prompt[STORE_USER_MAX + 40];
	struct store_create_params p;
	struct store *st = NULL;
	struct cb_err err;
	struct stat sb;
	char *bytes = NULL, *pass = NULL;
	size_t len = 0, pass_len = 0;
	int i, index, rc, lock = -1;

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
		else if (!strcmp(a, "--server"))
			slot = &server;
		else if (!strcmp(a, "--token"))
			slot = &token;
		else if (!strcmp(a, "--cacert"))
			slot = &cacert;
		else
			return cli_usage("init ", "unknown argument '%s'", a);
		if (i + 1 >= argc)
			return cli_usage("init ", "option %s needs a value", a);
		*slot = argv[++i];
	}
	if (server || token) {
		if (!server || !token || !user)
			return cli_usage("init",
					 "joining a server needs "
					 "--server, --token and --user");
		if (site || index_text || protocol || role)
			return cli_usage("init", "with --server, the site, "
						 "device index, role and "
						 "protocol come from the "
						 "server's token");
		return init_server(g, server, token, user, cacert);
	}
	if (cacert)
		return cli_usage("init", "--cacert goes with --server");
	if (!site || !index_text || !protocol || !user || !role)
		return cli_usage("init ", "init needs --site, --device-index, "
					  "--protocol, --user and --role");
	if (!cb_site_valid(site))
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
	if (!cb_user_valid(user))
		return cli_usage("init ",
				 "bad user name '%s': use 1 to %d letters, "
				 "digits and . _ - @",
				 user, STORE_USER_MAX);
	if (!cb_role_is_site(role))
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
	rc = store_init_lock(home, &lock, &err);
	if (!rc)
		rc = store_create(&p, &st, &err);
	store_init_unlock(home, lock);
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

#ifdef CASEBOOK_TEST_HOOKS
/*
 * The store's test hooks exist only in the test build of casebook (make's
 * build/hooks/casebook, compiled with CASEBOOK_TEST_HOOKS), never in
 * bin/casebook, and even there only with CASEBOOK_TEST_HOOKS=1 set.
 */
/*
 * `casebook store test-events SUBJECT N TEXT`, for the store's own
 * end-to-end tests only: appends N signed events, form.saves setting
 * BL/VS item NOTE to TEXT (not checked against the protocol), the first
 * of them the subject's creation when the store has none of its events
 * yet (the server takes nothing about a subject before its creation).
 */
static int any_event(void *ctx, const struct store_event *ev)
{
	(void)ctx;
	(void)ev;
	return 1;
}

static int test_events(struct store *st, const char *subject, int n,
		       const char *text, struct cb_err *err)
{
	int i, rc = 0, create;

	create = store_each_event(st, subject, STORE_ITER_ALL, any_event, NULL,
				  err) == 0;
	cb_err_clear(err);
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
		if (!rc && create && i == 0) {
			rc = cb_event_set_target(&ev, subject,
						 CB_KIND_SUBJECT_STATUS, "", "",
						 "", err);
			if (!rc)
				rc = cb_event_set_data(&ev, CB_DATA_STATUS,
						       CB_SUBJECT_CREATED, err);
		} else if (!rc) {
			rc =
			    cb_event_set_target(&ev, subject, CB_KIND_FORM_SAVE,
						"BL", "VS", "", err);
			if (!rc)
				rc = cb_event_add_change(&ev, "NOTE", text,
							 NULL, 0, err);
		}
		if (!rc)
			rc = cb_event_set_reason(&ev, "", err);
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

/*
 * Record `json`, the "withheld" array of a pull page, as a sync does
 * (withheld.h), in one transaction: a blinded laptop's withheld rows
 * without a server.
 */
static int test_withheld(struct store *st, const char *json, struct cb_err *err)
{
	cJSON *list = cJSON_Parse(json);
	int rc;

	if (!cJSON_IsArray(list)) {
		cJSON_Delete(list);
		return cb_err_set(err, CB_EINVAL,
				  "test-withheld takes a JSON array");
	}
	rc = store_begin(st, err);
	if (!rc)
		rc = withheld_note(st, list, err);
	if (!rc)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	cJSON_Delete(list);
	return rc;
}

/* `casebook store test-events|test-secrets|test-list|test-withheld`; -1:
 * not a hook. */
static int store_test_hook(int argc, char **argv, struct cli_global *g)
{
	const char *hooks = getenv("CASEBOOK_TEST_HOOKS");
	struct store *st = NULL;
	struct cb_err err;
	int rc;

	if (!hooks || strcmp(hooks, "1"))
		return -1;
	if (!strcmp(argv[1], "test-events")) {
		if (argc != 5)
			return cli_usage("store ",
					 "test-events SUBJECT N TEXT");
	} else if (!strcmp(argv[1], "test-secrets")) {
		if (argc != 2)
			return cli_usage("store ", "test-secrets");
	} else if (!strcmp(argv[1], "test-list")) {
		if (argc != 2 && argc != 3)
			return cli_usage("store ", "test-list [SUBJECT]");
	} else if (!strcmp(argv[1], "test-withheld")) {
		if (argc != 3)
			return cli_usage("store ", "test-withheld JSON");
	} else {
		return -1;
	}
	cb_err_clear(&err);
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
	} else if (!strcmp(argv[1], "test-withheld")) {
		rc = test_withheld(st, argv[2], &err);
	} else {
		rc = store_each_event(st, argc == 3 ? argv[2] : NULL,
				      STORE_ITER_ALL, print_event, NULL, &err);
	}
	store_close(st);
	return rc ? cli_fail(&err) : EXIT_OK;
}
#endif

int cmd_store(int argc, char **argv, struct cli_global *g)
{
	struct store_check_report rep;
	struct cb_protocol *p = NULL;
	struct store *st = NULL;
	struct cb_err err;
	int64_t checked = 0, pending = 0;
	int rc;

	cb_err_clear(&err);
	if (argc < 2)
		return cli_usage("store ", "store needs a subcommand: check");
#ifdef CASEBOOK_TEST_HOOKS
	rc = store_test_hook(argc, argv, g);
	if (rc >= 0)
		return rc;
#endif
	if (strcmp(argv[1], "check"))
		return cli_usage("store ", "unknown subcommand '%s'", argv[1]);
	if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json")))
		return cli_usage("store ", "store check takes only --json");
	rc = store_open_cli(g, &st, &err);
	if (rc)
		return cli_fail(&err);
	rc = store_check(st, &rep, &err);
	/* The derived rows say what the events say (derive.h). */
	if (!rc)
		rc = store_protocol_load(st, &p, &err);
	if (!rc)
		rc = derive_check(st, p, &checked, &pending, &err);
	if (!rc && argc == 3) {
		struct jout j = {0};
		cJSON *o = cJSON_CreateObject();

		jout_str(&j, o, "status", "intact");
		jout_str(&j, o, "site", store_site(st));
		jout_num(&j, o, "device_index", store_device_index(st));
		jout_str(&j, o, "device_id", store_device_id(st));
		jout_str(&j, o, "user", store_user(st));
		jout_str(&j, o, "role", store_role(st));
		jout_num(&j, o, "events", (double)rep.events);
		jout_num(&j, o, "unsynced", (double)rep.unsynced);
		jout_num(&j, o, "subjects", (double)rep.subjects);
		jout_num(&j, o, "users", (double)rep.users);
		jout_num(&j, o, "settings", (double)rep.settings);
		jout_num(&j, o, "quarantined", (double)rep.quarantined);
		jout_num(&j, o, "derived_checked", (double)checked);
		jout_num(&j, o, "pending", (double)pending);
		jout_str(&j, o, "digest", rep.digest);
		cb_protocol_free(p);
		store_close(st);
		return jout_emit(&j, o);
	}
	if (!rc)
		printf("store: intact\n"
		       "site %s, device %02d, device id %s\n"
		       "user %s (%s)\n"
		       "events %lld (%lld unsynced), subjects %lld, "
		       "users %lld, settings %lld\n"
		       "quarantined %lld, withheld values of %lld subjects; "
		       "derived rows of %lld subjects match their events "
		       "(%lld pending)\n"
		       "content digest %s\n",
		       store_site(st), store_device_index(st),
		       store_device_id(st), store_user(st), store_role(st),
		       (long long)rep.events, (long long)rep.unsynced,
		       (long long)rep.subjects, (long long)rep.users,
		       (long long)rep.settings, (long long)rep.quarantined,
		       (long long)rep.withheld, (long long)checked,
		       (long long)pending, rep.digest);
	cb_protocol_free(p);
	store_close(st);
	return rc ? cli_fail(&err) : EXIT_OK;
}
