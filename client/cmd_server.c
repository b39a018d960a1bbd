/*
 * cmd_server.c - `casebook server show|set`: the address of the central
 * server this laptop syncs with, and moving it. A move is taken only
 * from a server that proves it holds the key the laptop pinned at
 * registration (GET /v1/health?challenge=, reqsig.h's proof), serves the
 * same protocol, and knows this device (a signed request it answers):
 * the study's server at a new address, set up by its administrator.
 */
#include "cli.h"
#include "jout.h"
#include "crypto.h"
#include "json.h"
#include "net.h"
#include "protocol.h"
#include "reqsig.h"
#include "store.h"
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_server_help[] =
    "usage: casebook server show [--json]\n"
    "       casebook server set URL [--cacert FILE]\n"
    "\n"
    "show: the server this laptop syncs with and the server key it pinned\n"
    "at registration ('casebook init --server'). --json:\n"
    "{\"server\",\"server_key\",\"cacert\"}, each null when unset.\n"
    "\n"
    "set: move this laptop to the study's server at a new address, when\n"
    "its administrator has moved it (new host name, port or certificate).\n"
    "Before anything is saved the server at URL must:\n"
    "  - prove it holds the server key pinned at registration: it signs a\n"
    "    fresh random challenge (GET /v1/health?challenge=, docs/api.md)\n"
    "    and the signature must verify with the pinned key;\n"
    "  - serve the protocol this laptop holds (same SHA-256);\n"
    "  - know this device: a signed request must be answered.\n"
    "A server that fails any of these is refused and nothing changes: the\n"
    "laptop keeps syncing with the address it had. The pinned key itself\n"
    "never changes here; a server with a new key means registering the\n"
    "laptop again.\n"
    "\n"
    "Options:\n"
    "  --cacert FILE   trust this certificate for an https URL, and keep it\n"
    "                  for later syncs (else the one given before, if any)\n"
    "\n"
    "Exit codes: 0 done; 1 the server at URL is not this study's server\n"
    "(another key, another protocol, a bad proof) or the store has no\n"
    "pinned key; 2 usage; 4 wrong passphrase, or the server does not know\n"
    "this device; 5 URL unreachable.\n";

/* The pinned server key (hex) decoded into pk; a message when unusable. */
static int pinned_key(struct store *st, unsigned char pk[CB_SIGN_PUBLIC_BYTES],
		      char **hex)
{
	struct cb_err err;
	size_t n = 0;

	*hex = store_meta_or_null(st, SYNC_META_SERVER_KEY);
	if (!*hex)
		return cli_error("this store holds no pinned server key (it "
				 "was not registered with a server, or with "
				 "one that had no key): the server's identity "
				 "cannot be checked, so its address cannot be "
				 "moved; register the laptop again");
	cb_err_clear(&err);
	if (cb_hex_decode(*hex, strlen(*hex), pk, CB_SIGN_PUBLIC_BYTES, &n,
			  &err) ||
	    n != CB_SIGN_PUBLIC_BYTES)
		return cli_error("the pinned server key %s is damaged",
				 SYNC_META_SERVER_KEY);
	return 0;
}

/* GET /v1/health?challenge= at n: the proof, the protocol and the key. */
static int check_identity(struct store *st, struct net *n,
			  const unsigned char pk[CB_SIGN_PUBLIC_BYTES],
			  const char *pk_hex, const char *url)
{
	char challenge[CB_SERVER_PROOF_HEX + 1],
	    query[CB_SERVER_PROOF_HEX + 16];
	char sum[CB_HASH_HEX_SIZE], msg[256];
	unsigned char sig[CB_SIGNATURE_BYTES];
	struct cb_protocol *p = NULL;
	struct net_reply r = {0};
	struct cb_key *rnd = NULL;
	const char *bytes, *v;
	struct cb_err err;
	cJSON *o = NULL;
	size_t len, sl = 0;
	int rc;

	cb_err_clear(&err);
	rc = cb_key_random(CB_SERVER_PROOF_HEX / 2, &rnd, &err);
	if (!rc)
		rc = cb_hex_encode(rnd->bytes, rnd->len, challenge,
				   sizeof(challenge), &err);
	cb_key_free(rnd);
	if (!rc)
		rc = store_protocol_bytes(st, &bytes, &len, &err);
	if (!rc)
		rc = store_protocol_load(st, &p, &err);
	if (rc)
		return cli_fail(&err);
	cb_sha256_hex(bytes, len, sum);
	snprintf(query, sizeof(query), "challenge=%s", challenge);
	rc =
	    net_request(n, "GET", "/v1/health", query, NULL, 0, NULL, &r, &err);
	if (rc) {
		cb_protocol_free(p);
		return cli_fail(&err);
	}
	if (r.status != 200) {
		net_error_message(&r, msg, sizeof(msg));
		rc = cli_error("%s does not prove its key: %s", cli_safe(url),
			       cli_safe(msg));
		goto out;
	}
	o = cb_json_parse(r.body, r.len, NET_REPLY_MAX, "the health answer",
			  &err);
	if (!o) {
		rc = cli_fail(&err);
		goto out;
	}
	v = cb_json_str(o, "server_key");
	if (!v || strcmp(v, pk_hex)) {
		rc = cli_error("%s is not this study's server: its key %s is "
			       "not the key pinned at registration (%s); "
			       "nothing changed",
			       cli_safe(url), v ? cli_safe(v) : "(none)",
			       pk_hex);
		goto out;
	}
	snprintf(msg, sizeof(msg), "%s\n%s\n%s", CB_SERVER_PROOF_VERSION,
		 challenge, p->id);
	v = cb_json_str(o, "proof");
	if (!v || cb_hex_decode(v, strlen(v), sig, sizeof(sig), &sl, &err) ||
	    sl != sizeof(sig) || cb_verify(pk, msg, strlen(msg), sig, &err)) {
		rc = cli_error("%s claims the pinned key but cannot prove it "
			       "holds it (its signature of the challenge "
			       "does not verify): refused; nothing changed",
			       cli_safe(url));
		goto out;
	}
	v = cb_json_str(o, "protocol_sha256");
	if (!v || strcmp(v, sum)) {
		rc = cli_error("%s serves another protocol (SHA-256 %s, this "
			       "laptop holds %s): refused; nothing changed",
			       cli_safe(url), v ? cli_safe(v) : "(none)", sum);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(o);
	net_reply_free(&r);
	cb_protocol_free(p);
	return rc;
}

/* A signed request the server answers only for a device it knows. */
static int check_device(struct store *st, struct net *n, const char *url)
{
	struct net_reply r = {0};
	struct cb_err err;
	char msg[256];
	int rc;

	cb_err_clear(&err);
	rc = net_request(n, "GET", "/v1/protocol", NULL, NULL, 0, st, &r, &err);
	if (rc)
		return cli_fail(&err);
	if (r.status != 200) {
		net_error_message(&r, msg, sizeof(msg));
		net_reply_free(&r);
		fprintf(stderr,
			"casebook: error: %s does not take this device's "
			"requests: %s; nothing changed\n",
			cli_safe(url), cli_safe(msg));
		return EXIT_AUTH;
	}
	net_reply_free(&r);
	return 0;
}

static int server_set(struct store *st, const char *url, const char *cacert)
{
	unsigned char pk[CB_SIGN_PUBLIC_BYTES];
	char *pk_hex = NULL, *old = NULL, *saved_cacert = NULL;
	struct cb_err err;
	struct net n;
	int rc;

	cb_err_clear(&err);
	rc = pinned_key(st, pk, &pk_hex);
	if (rc)
		goto out;
	rc = store_meta_opt(st, SYNC_META_SERVER, &old, &err);
	if (!rc && !cacert)
		rc = store_meta_opt(st, SYNC_META_CACERT, &saved_cacert, &err);
	if (rc) {
		rc = cli_fail(&err);
		goto out;
	}
	rc = net_init(&n, url, cacert ? cacert : saved_cacert, &err);
	if (rc) {
		rc = cli_fail(&err);
		goto out;
	}
	rc = check_identity(st, &n, pk, pk_hex, url);
	if (!rc)
		rc = check_device(st, &n, url);
	net_free(&n);
	if (rc)
		goto out;
	/* net_init accepted it: the URL as given, which is what sync uses. */
	rc = store_begin(st, &err);
	if (!rc)
		rc = store_meta_set(st, SYNC_META_SERVER, url, strlen(url),
				    &err);
	if (!rc && cacert)
		rc = store_meta_set(st, SYNC_META_CACERT, cacert,
				    strlen(cacert), &err);
	if (!rc)
		rc = store_commit(st, &err);
	if (rc) {
		store_rollback(st);
		rc = cli_fail(&err);
		goto out;
	}
	printf("server: %s (was %s)\n"
	       "server key %s: proved by the server\n",
	       cli_safe(url), old ? cli_safe(old) : "none", pk_hex);
out:
	free(pk_hex);
	free(old);
	free(saved_cacert);
	return rc;
}

static int server_show(struct store *st, int json)
{
	char *url = store_meta_or_null(st, SYNC_META_SERVER);
	char *key = store_meta_or_null(st, SYNC_META_SERVER_KEY);
	char *ca = store_meta_or_null(st, SYNC_META_CACERT);

	if (json) {
		struct jout j = {0};
		cJSON *root = cJSON_CreateObject();

		jout_str(&j, root, "server", url);
		jout_str(&j, root, "server_key", key);
		jout_str(&j, root, "cacert", ca);
		free(url);
		free(key);
		free(ca);
		return jout_emit(&j, root);
	}
	printf("server: %s\nserver key: %s\n", url ? cli_safe(url) : "none",
	       key ? key : "none");
	if (ca)
		printf("cacert: %s\n", cli_safe(ca));
	free(url);
	free(key);
	free(ca);
	return EXIT_OK;
}

int cmd_server(int argc, char **argv, struct cli_global *g)
{
	const char *url = NULL, *cacert = NULL;
	struct store *st = NULL;
	struct cb_err err;
	int i, rc, set, json = 0;

	if (argc < 2)
		return cli_usage("server", "server needs a subcommand: show or "
					   "set");
	set = !strcmp(argv[1], "set");
	if (!set && strcmp(argv[1], "show"))
		return cli_usage("server", "unknown subcommand '%s'", argv[1]);
	for (i = 2; i < argc; i++) {
		if (set && !strcmp(argv[i], "--cacert") && i + 1 < argc)
			cacert = argv[++i];
		else if (!set && !strcmp(argv[i], "--json"))
			json = 1;
		else if (set && !url && argv[i][0] != '-')
			url = argv[i];
		else
			return cli_usage("server", "unknown argument '%s'",
					 argv[i]);
	}
	if (set && !url)
		return cli_usage("server", "server set needs the new URL");
	if (set && strlen(url) > NET_URL_MAX)
		return cli_usage("server", "the URL is longer than %d bytes",
				 NET_URL_MAX);
	cb_err_clear(&err);
	rc = store_open_cli(g, &st, &err);
	if (rc)
		return cli_fail(&err);
	rc = set ? server_set(st, url, cacert) : server_show(st, json);
	store_close(st);
	return rc;
}
