/*
 * cmd_token.c - `casebookd token create|list|revoke`: one-time
 * registration tokens.
 *
 * A token lets one device join the study with one role (and, for a site
 * role, one site). The token text is printed once and never stored: the
 * store keeps only its SHA-256, so neither the database nor a backup of
 * it can register a device. Tokens expire (--ttl, 24 hours by default)
 * and are spent by their first successful registration.
 */
#include "clock.h"
#include "crypto.h"
#include "id.h"
#include "srv.h"
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Random bytes in a token; its text is "cbt_" and their base64url. */
#define TOKEN_BYTES 32
#define TOKEN_PREFIX "cbt_"
/* Longest --ttl accepted: 30 days. */
#define TTL_MAX_MS (30LL * 24 * 3600 * 1000)

const char cmd_token_help[] =
    "usage: casebookd token create --data DIR --user NAME [--ttl DURATION]\n"
    "       casebookd token create --data DIR --site CODE "
    "--role coordinator|investigator\n"
    "                              [--ttl DURATION]\n"
    "       casebookd token create --data DIR "
    "--role datamanager|monitor|statistician|dsmb|lab\n"
    "                              [--ttl DURATION]\n"
    "       casebookd token list --data DIR\n"
    "       casebookd token revoke --data DIR ID\n"
    "\n"
    "create  make a one-time registration token for one device and print\n"
    "        it on stdout (its id and expiry go to stderr). With --user,\n"
    "        only that person (see 'casebookd user') may register with\n"
    "        it, and the device gets the person's site and role.\n"
    "        Otherwise the token is for any registered person of the\n"
    "        given role (and site: site roles need --site; central\n"
    "        roles see every site and take none).\n"
    "        Only the token's SHA-256 is stored: keep the printed text,\n"
    "        it cannot be shown again.\n"
    "        --ttl: how long it stays valid, a number with s, m, h or d\n"
    "        (default 24h, at most 30d)\n"
    "list    print every token: ID, site, role, state (open, used,\n"
    "        expired, revoked), expiry, the person it is for ('-': any)\n"
    "revoke  revoke an unused token by its ID\n"
    "\n" SRV_HELP_STORE
    "Exit codes: 0 ok; 1 failure (unknown site or token, no store);\n"
    "2 usage.\n";

/* Parse "90s", "15m", "24h", "7d" into ms; -1 when malformed. */
static int64_t parse_ttl(const char *s)
{
	int64_t v = 0, unit;
	size_t i, n = strlen(s);

	if (n < 2 || n > 10 || s[0] == '0')
		return -1;
	for (i = 0; i + 1 < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	switch (s[n - 1]) {
	case 's':
		unit = 1000;
		break;
	case 'm':
		unit = 60 * 1000;
		break;
	case 'h':
		unit = 3600 * 1000;
		break;
	case 'd':
		unit = 24 * 3600 * 1000;
		break;
	default:
		return -1;
	}
	if (v > TTL_MAX_MS / unit)
		return -1;
	return v * unit;
}

static int create(struct srv_store *s, const char *site, const char *role,
		  const char *user, int64_t ttl, struct cb_err *err)
{
	unsigned char raw[TOKEN_BYTES];
	char text[sizeof(TOKEN_PREFIX) + 64];
	char b64[64], when[CB_CLOCK_UTC_BUF];
	struct srv_token t;
	struct srv_user u;
	int rc;

	memset(&t, 0, sizeof(t));
	if (user) {
		rc = srv_store_user_get(s, user, &u, err);
		if (rc == CB_ENOTFOUND)
			return cb_err_set(err, CB_ENOTFOUND,
					  "no user %s (add the person with "
					  "'casebookd user add')",
					  user);
		if (rc)
			return rc;
		if (u.disabled_ms)
			return cb_err_set(err, CB_EFORBIDDEN,
					  "user %s is disabled", user);
		snprintf(t.user, sizeof(t.user), "%s", u.name);
		role = u.role;
		site = u.site[0] ? u.site : NULL;
	}
	if (site) {
		rc = srv_store_site_exists(s, site, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return cb_err_set(err, CB_ENOTFOUND,
					  "no site %s (add it with 'casebookd "
					  "site add')",
					  site);
		snprintf(t.site, sizeof(t.site), "%s", site);
	}
	rc = cb_crypto_init(err);
	if (rc)
		return rc;
	if (cb_id_random(t.id))
		return cb_err_set(err, CB_EIO, "no randomness available");
	cb_random_bytes(raw, sizeof(raw));
	rc = cb_b64_encode(raw, sizeof(raw), CB_B64_URL, b64, sizeof(b64), err);
	memset(raw, 0, sizeof(raw));
	if (rc)
		return rc;
	snprintf(text, sizeof(text), "%s%s", TOKEN_PREFIX, b64);
	cb_sha256_hex(text, strlen(text), t.hash);
	snprintf(t.role, sizeof(t.role), "%s", role);
	t.created_ms = cb_clock_now_ms();
	t.expires_ms = t.created_ms + ttl;
	rc = srv_store_token_add(s, &t, err);
	if (!rc) {
		cb_clock_format_utc(t.expires_ms, when);
		printf("%s\n", text);
		fflush(stdout);
		fprintf(stderr,
			"token %s: %s%srole %s%s%s, expires %s; it is shown "
			"only once\n",
			t.id, user ? user : "", user ? ", " : "", role,
			site ? " at site " : "", site ? site : "", when);
	}
	memset(text, 0, sizeof(text));
	memset(b64, 0, sizeof(b64));
	return rc;
}

static int print_token(const struct srv_token *t, void *ctx)
{
	char when[CB_CLOCK_UTC_BUF];
	const char *state = "open";

	if (t->revoked)
		state = "revoked";
	else if (t->used_ms)
		state = "used";
	else if (cb_clock_now_ms() >= t->expires_ms)
		state = "expired";
	(void)ctx;
	cb_clock_format_utc(t->expires_ms, when);
	printf("%s\t%s\t%s\t%s\t%s\t%s\n", t->id, t->site[0] ? t->site : "-",
	       t->role, state, when, t->user[0] ? t->user : "-");
	return 0;
}

int cmd_token(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--site", "--role",
					    "--ttl",  "--user", NULL};
	const char *vals[5] = {NULL, NULL, NULL, NULL, NULL}, *pos[2];
	struct srv_store *s = NULL;
	struct cb_err err;
	int64_t ttl = 24LL * 3600 * 1000;
	int npos, rc;

	rc = srv_parse_opts("token", argc, argv, names, vals, pos, 2, &npos);
	if (rc)
		return rc;
	if (npos < 1)
		return srv_usage("token", "say 'create', 'list' or 'revoke'");
	if (!vals[0])
		return srv_usage("token",
				 "--data DIR or --store URL is required");
	if (!strcmp(pos[0], "create")) {
		if (npos != 1)
			return srv_usage("token", "unexpected argument '%s'",
					 pos[1]);
		if (vals[4] && (vals[1] || vals[2]))
			return srv_usage("token",
					 "--user takes the person's site and "
					 "role: give no --site or --role");
		if (vals[4] && !cb_user_valid(vals[4]))
			return srv_usage("token", "'%s' is not a user name",
					 vals[4]);
		if (!vals[4] && !vals[2])
			return srv_usage("token", "--user or --role is "
						  "required");
		if (vals[4]) {
			/* the person's site and role, read below */
		} else if (cb_role_is_site(vals[2])) {
			if (!vals[1])
				return srv_usage("token",
						 "the %s role needs --site "
						 "CODE",
						 vals[2]);
			if (!cb_site_valid(vals[1]))
				return srv_usage("token",
						 "'%s' is not a site code",
						 vals[1]);
		} else if (cb_role_is_central(vals[2])) {
			if (vals[1])
				return srv_usage("token",
						 "the %s role is central and "
						 "takes no --site",
						 vals[2]);
		} else {
			return srv_usage("token",
					 "unknown role '%s' (coordinator, "
					 "investigator, datamanager, monitor, "
					 "statistician, dsmb, lab)",
					 vals[2]);
		}
		if (vals[3] && (ttl = parse_ttl(vals[3])) < 0)
			return srv_usage("token",
					 "bad --ttl '%s' (a number with s, m, "
					 "h or d, at most 30d)",
					 vals[3]);
	} else if (!strcmp(pos[0], "list")) {
		if (npos != 1 || vals[1] || vals[2] || vals[3] || vals[4])
			return srv_usage("token", "list takes only --data");
	} else if (!strcmp(pos[0], "revoke")) {
		if (npos != 2 || vals[1] || vals[2] || vals[3] || vals[4])
			return srv_usage("token", "revoke takes --data and an "
						  "ID");
	} else {
		return srv_usage("token", "say 'create', 'list' or 'revoke'");
	}
	cb_err_clear(&err);
	rc = srv_store_open(vals[0], &s, &err);
	if (rc)
		return srv_fail(&err);
	if (!strcmp(pos[0], "create"))
		rc = create(s, vals[1], vals[2], vals[4], ttl, &err);
	else if (!strcmp(pos[0], "list"))
		rc = srv_store_token_each(s, print_token, NULL, &err);
	else if (!(rc = srv_store_token_revoke(s, pos[1], &err)))
		printf("revoked token %s\n", pos[1]);
	srv_store_close(s);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}
