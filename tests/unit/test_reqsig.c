/*
 * test_reqsig.c - request signatures (common/reqsig.h), and the small
 * signing client the server's end-to-end test drives.
 *
 * Run with no arguments it is a unit test like the others. Run as
 * `test_reqsig client ...` it is the independent device the end-to-end
 * script tests/e2e/t_server.sh needs for signed requests, since curl(1)
 * cannot sign; see client_usage below. Keeping it here, built from the
 * same library as the product but outside it, means casebookd carries no
 * test-only command.
 */
#include "t.h"

#include "clock.h"
#include "crypto.h"
#include "event.h"
#include "hlc.h"
#include "json.h"
#include "reqsig.h"

#include <inttypes.h>

static struct cb_sign_keypair kp, kp2;
static const char *dev = "0123456789abcdef0123456789abcdef";
static const char *nonce = "00112233445566778899aabbccddeeff";

static int sign_req(struct cb_reqsig *rs, const char *method, const char *path,
		    const char *query, const char *body, int64_t t)
{
	struct cb_err err;

	return cb_reqsig_sign_at(rs, kp.sk, dev, t, nonce, method, path, query,
				 body, body ? strlen(body) : 0, &err);
}

static int verify_req(const struct cb_reqsig *rs, const char *method,
		      const char *path, const char *query, const char *body)
{
	struct cb_err err;

	return cb_reqsig_verify(rs, kp.pk, method, path, query, body,
				body ? strlen(body) : 0, &err);
}

static void test_string_format(void)
{
	struct cb_err err;
	char *s = NULL;
	size_t len = 0;
	char want[512], hash[CB_HASH_HEX_SIZE];

	cb_sha256_hex("{}", 2, hash);
	T_EQ_INT(cb_reqsig_string("POST", "/v1/sync/push", "a=1", "{}", 2, dev,
				  1700000000123, nonce, &s, &len, &err),
		 0);
	snprintf(want, sizeof(want),
		 "casebook-request/1\nPOST\n/v1/sync/push\na=1\n%s\n"
		 "1700000000123\n%s\n%s",
		 hash, nonce, dev);
	T_EQ_STR(s, want);
	T_EQ_INT(len, strlen(want));
	free(s);
	/* No body hashes the empty string; NULL query is "". */
	T_EQ_INT(cb_reqsig_string("GET", "/v1/health", NULL, NULL, 0, dev, 5,
				  nonce, &s, NULL, &err),
		 0);
	T_CONTAINS(s, "\n/v1/health\n\ne3b0c44298fc1c149afbf4c8996fb924"
		      "27ae41e4649b934ca495991b7852b855\n5\n");
	free(s);
}

static void test_bad_components(void)
{
	struct cb_err err;
	char *s = NULL;

	T_EQ_INT(cb_reqsig_string("get", "/x", "", NULL, 0, dev, 1, nonce, &s,
				  NULL, &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "method");
	T_EQ_INT(cb_reqsig_string("GET", "x", "", NULL, 0, dev, 1, nonce, &s,
				  NULL, &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "path");
	T_EQ_INT(cb_reqsig_string("GET", "/x", "a\nb", NULL, 0, dev, 1, nonce,
				  &s, NULL, &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "query");
	T_EQ_INT(cb_reqsig_string("GET", "/x", "", NULL, 0, "a b", 1, nonce, &s,
				  NULL, &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "Device");
	T_EQ_INT(cb_reqsig_string("GET", "/x", "", NULL, 0, dev, -1, nonce, &s,
				  NULL, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_reqsig_string("GET", "/x", "", NULL, 0, dev, 1,
				  "00112233445566778899AABBCCDDEEFF", &s, NULL,
				  &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "Nonce");
	T_ASSERT(s == NULL);
}

static void test_roundtrip(void)
{
	struct cb_reqsig rs;
	struct cb_err err;

	T_EQ_INT(sign_req(&rs, "POST", "/v1/sync/push", "", "{\"events\":[]}",
			  1700000000000),
		 0);
	T_EQ_STR(rs.device, dev);
	T_EQ_STR(rs.nonce, nonce);
	T_EQ_INT(strlen(rs.sig), CB_REQSIG_SIG_HEX);
	T_EQ_INT(
	    verify_req(&rs, "POST", "/v1/sync/push", "", "{\"events\":[]}"), 0);
	/* A fresh signature gets a random nonce and the current time. */
	T_EQ_INT(cb_reqsig_sign(&rs, kp.sk, dev, "GET", "/v1/sync/pull",
				"since=0", NULL, 0, &err),
		 0);
	T_ASSERT(strcmp(rs.nonce, nonce) != 0);
	T_EQ_INT(cb_reqsig_check_time(&rs, cb_clock_now_ms(), CB_REQSIG_SKEW_MS,
				      &err),
		 0);
	T_EQ_INT(verify_req(&rs, "GET", "/v1/sync/pull", "since=0", NULL), 0);
}

/* Changing any one signed component makes verification fail. */
static void test_tamper_each_component(void)
{
	struct cb_reqsig rs, t;
	const char *body = "{\"events\":[1]}";

	T_EQ_INT(sign_req(&rs, "POST", "/v1/sync/push", "x=1", body, 1000), 0);
	T_EQ_INT(verify_req(&rs, "POST", "/v1/sync/push", "x=1", body), 0);
	T_EQ_INT(verify_req(&rs, "PUT", "/v1/sync/push", "x=1", body),
		 CB_EAUTH);
	T_EQ_INT(verify_req(&rs, "POST", "/v1/sync/pull", "x=1", body),
		 CB_EAUTH);
	T_EQ_INT(verify_req(&rs, "POST", "/v1/sync/push", "x=2", body),
		 CB_EAUTH);
	T_EQ_INT(verify_req(&rs, "POST", "/v1/sync/push", "", body), CB_EAUTH);
	T_EQ_INT(
	    verify_req(&rs, "POST", "/v1/sync/push", "x=1", "{\"events\":[2]}"),
	    CB_EAUTH);
	T_EQ_INT(verify_req(&rs, "POST", "/v1/sync/push", "x=1", NULL),
		 CB_EAUTH);
	t = rs;
	t.time_ms++;
	T_EQ_INT(verify_req(&t, "POST", "/v1/sync/push", "x=1", body),
		 CB_EAUTH);
	t = rs;
	t.nonce[0] = t.nonce[0] == '0' ? '1' : '0';
	T_EQ_INT(verify_req(&t, "POST", "/v1/sync/push", "x=1", body),
		 CB_EAUTH);
	t = rs;
	t.device[0] = t.device[0] == '0' ? '1' : '0';
	T_EQ_INT(verify_req(&t, "POST", "/v1/sync/push", "x=1", body),
		 CB_EAUTH);
	t = rs;
	t.sig[10] = t.sig[10] == 'a' ? 'b' : 'a';
	T_EQ_INT(verify_req(&t, "POST", "/v1/sync/push", "x=1", body),
		 CB_EAUTH);
	/* The right request under another device's key. */
	{
		struct cb_err err;

		T_EQ_INT(cb_reqsig_verify(&rs, kp2.pk, "POST", "/v1/sync/push",
					  "x=1", body, strlen(body), &err),
			 CB_EAUTH);
	}
}

/* A random byte of a random body flipped (seeded). */
static void test_tamper_random_body(void)
{
	uint64_t seed = t_seed();
	unsigned char body[300];
	struct cb_reqsig rs;
	struct cb_err err;
	unsigned char bit;
	int round;

	srand((unsigned)seed);
	for (round = 0; round < 50; round++) {
		size_t n = 1 + (size_t)rand() % sizeof(body), i, at;

		for (i = 0; i < n; i++)
			body[i] = (unsigned char)rand();
		T_EQ_INT(cb_reqsig_sign_at(&rs, kp.sk, dev, 42, nonce, "POST",
					   "/v1/sync/push", "", body, n, &err),
			 0);
		T_EQ_INT(cb_reqsig_verify(&rs, kp.pk, "POST", "/v1/sync/push",
					  "", body, n, &err),
			 0);
		at = (size_t)rand() % n;
		bit = (unsigned char)(1u << (rand() % 8));
		body[at] ^= bit;
		T_EQ_INT(cb_reqsig_verify(&rs, kp.pk, "POST", "/v1/sync/push",
					  "", body, n, &err),
			 CB_EAUTH);
		/* A truncated body fails too. */
		body[at] ^= bit;
		T_EQ_INT(cb_reqsig_verify(&rs, kp.pk, "POST", "/v1/sync/push",
					  "", body, n - 1, &err),
			 CB_EAUTH);
	}
}

static void test_parse(void)
{
	struct cb_reqsig rs;
	struct cb_err err;
	char sig[CB_REQSIG_SIG_HEX + 1];

	memset(sig, 'a', CB_REQSIG_SIG_HEX);
	sig[CB_REQSIG_SIG_HEX] = 0;
	T_EQ_INT(cb_reqsig_parse(&rs, dev, "1700000000000", nonce, sig, &err),
		 0);
	T_EQ_INT(rs.time_ms, 1700000000000);
	T_EQ_STR(rs.device, dev);
	T_EQ_INT(cb_reqsig_parse(&rs, NULL, "1", nonce, sig, &err), CB_EAUTH);
	T_CONTAINS(err.msg, "X-Casebook-Device");
	T_EQ_INT(cb_reqsig_parse(&rs, dev, NULL, nonce, sig, &err), CB_EAUTH);
	T_CONTAINS(err.msg, "X-Casebook-Time");
	T_EQ_INT(cb_reqsig_parse(&rs, dev, "1", NULL, sig, &err), CB_EAUTH);
	T_CONTAINS(err.msg, "X-Casebook-Nonce");
	T_EQ_INT(cb_reqsig_parse(&rs, dev, "1", nonce, NULL, &err), CB_EAUTH);
	T_CONTAINS(err.msg, "X-Casebook-Signature");
	T_EQ_INT(cb_reqsig_parse(&rs, dev, "017", nonce, sig, &err), CB_EINVAL);
	T_EQ_INT(cb_reqsig_parse(&rs, dev, "-5", nonce, sig, &err), CB_EINVAL);
	T_EQ_INT(cb_reqsig_parse(&rs, dev, "", nonce, sig, &err), CB_EINVAL);
	T_EQ_INT(
	    cb_reqsig_parse(&rs, dev, "9999999999999999", nonce, sig, &err),
	    CB_EINVAL);
	T_EQ_INT(cb_reqsig_parse(&rs, dev, "1", "0011", sig, &err), CB_EINVAL);
	T_EQ_INT(cb_reqsig_parse(&rs, dev, "1", nonce, "ab", &err), CB_EINVAL);
	sig[5] = 'A';
	T_EQ_INT(cb_reqsig_parse(&rs, dev, "1", nonce, sig, &err), CB_EINVAL);
	T_EQ_INT(cb_reqsig_parse(&rs, "dev ice", "1", nonce, "ab", &err),
		 CB_EINVAL);
}

static void test_time_window(void)
{
	struct cb_reqsig rs;
	struct cb_err err;
	int64_t now = 1700000000000;

	memset(&rs, 0, sizeof(rs));
	rs.time_ms = now;
	T_EQ_INT(cb_reqsig_check_time(&rs, now, CB_REQSIG_SKEW_MS, &err), 0);
	rs.time_ms = now + CB_REQSIG_SKEW_MS;
	T_EQ_INT(cb_reqsig_check_time(&rs, now, CB_REQSIG_SKEW_MS, &err), 0);
	rs.time_ms = now - CB_REQSIG_SKEW_MS;
	T_EQ_INT(cb_reqsig_check_time(&rs, now, CB_REQSIG_SKEW_MS, &err), 0);
	rs.time_ms = now + CB_REQSIG_SKEW_MS + 1;
	T_EQ_INT(cb_reqsig_check_time(&rs, now, CB_REQSIG_SKEW_MS, &err),
		 CB_EAUTH);
	T_CONTAINS(err.msg, "clock");
	rs.time_ms = now - CB_REQSIG_SKEW_MS - 1;
	T_EQ_INT(cb_reqsig_check_time(&rs, now, CB_REQSIG_SKEW_MS, &err),
		 CB_EAUTH);
}

/* ---- the end-to-end test's signing client ----------------------------- */

static int client_usage(void)
{
	fprintf(stderr,
		"usage: test_reqsig client keygen KEYFILE\n"
		"         writes a new secret key (hex) to KEYFILE, prints "
		"the public key\n"
		"       test_reqsig client headers KEYFILE DEVICE METHOD PATH "
		"QUERY [BODYFILE]\n"
		"         prints the four signature headers, one per line\n"
		"       test_reqsig client event KEYFILE DEVICE SITE USER "
		"SUBJECT KIND VISIT FORM INSTANCE\n"
		"                   [--reason R] [--data K=V] [--prev ID] "
		"[--hlc HEX] [--wall TIME] [ITEM=VALUE | ITEM=] ...\n"
		"         prints one signed event (ITEM= clears the item; "
		"--prev applies to later changes)\n"
		"The clock honours CASEBOOK_CLOCK_OFFSET_MS.\n");
	return 2;
}

static int client_fail(const struct cb_err *err)
{
	fprintf(stderr, "test_reqsig client: %s\n", err->msg);
	return 1;
}

static int load_key(const char *file, struct cb_sign_keypair *k,
		    struct cb_err *err)
{
	unsigned char secret[CB_SIGN_SECRET_BYTES];
	char *text = NULL;
	size_t len;
	int rc;

	rc = cb_file_read(file, 4096, &text, &len, err);
	if (rc)
		return rc;
	while (len && (text[len - 1] == '\n'))
		len--;
	rc = cb_hex_decode(text, len, secret, sizeof(secret), NULL, err);
	free(text);
	if (!rc)
		rc =
		    cb_sign_keypair_from_secret(secret, sizeof(secret), k, err);
	memset(secret, 0, sizeof(secret));
	return rc;
}

static int client_keygen(const char *file)
{
	struct cb_sign_keypair k;
	struct cb_err err;
	char hex[CB_HEX_SIZE(CB_SIGN_SECRET_BYTES)];
	FILE *f;

	if (cb_sign_keypair_new(&k, &err))
		return client_fail(&err);
	cb_hex_encode(k.sk->bytes, k.sk->len, hex, sizeof(hex), &err);
	f = fopen(file, "w");
	if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f)) {
		fprintf(stderr, "test_reqsig client: cannot write %s\n", file);
		return 1;
	}
	cb_hex_encode(k.pk, sizeof(k.pk), hex, sizeof(hex), &err);
	printf("%s\n", hex);
	cb_sign_keypair_release(&k);
	return 0;
}

static int client_headers(int argc, char **argv)
{
	struct cb_sign_keypair k;
	struct cb_reqsig rs;
	struct cb_err err;
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (argc < 6 || argc > 7)
		return client_usage();
	if (argc == 7 && cb_file_read(argv[6], 64u << 20, &body, &len, &err))
		return client_fail(&err);
	if (load_key(argv[1], &k, &err)) {
		free(body);
		return client_fail(&err);
	}
	rc = cb_reqsig_sign(&rs, k.sk, argv[2], argv[3], argv[4], argv[5], body,
			    len, &err);
	free(body);
	cb_sign_keypair_release(&k);
	if (rc)
		return client_fail(&err);
	printf("%s: %s\n%s: %" PRId64 "\n%s: %s\n%s: %s\n",
	       CB_REQSIG_HDR_DEVICE, rs.device, CB_REQSIG_HDR_TIME, rs.time_ms,
	       CB_REQSIG_HDR_NONCE, rs.nonce, CB_REQSIG_HDR_SIGNATURE, rs.sig);
	return 0;
}

static int client_event(int argc, char **argv)
{
	struct cb_sign_keypair k;
	struct cb_event ev;
	struct cb_hlc clock;
	struct cb_err err;
	const char *prev[CB_EVENT_MAX_PREV];
	size_t nprev = 0;
	char *out = NULL;
	int i, rc = 0;

	if (argc < 10)
		return client_usage();
	if (load_key(argv[1], &k, &err))
		return client_fail(&err);
	cb_event_init(&ev);
	cb_hlc_init(&clock, 0);
	if (cb_event_set_origin(&ev, argv[2], argv[3], argv[4], &err) ||
	    cb_event_set_target(&ev, argv[5], argv[6], argv[7], argv[8],
				argv[9], &err) ||
	    cb_event_set_reason(&ev, "", &err) ||
	    cb_event_stamp(&ev, &clock, NULL, &err))
		goto fail;
	for (i = 10; i < argc; i++) {
		char *eq;

		if (!strcmp(argv[i], "--reason") && i + 1 < argc) {
			if (cb_event_set_reason(&ev, argv[++i], &err))
				goto fail;
			continue;
		}
		if (!strcmp(argv[i], "--hlc") && i + 1 < argc) {
			snprintf(ev.hlc, sizeof(ev.hlc), "%s", argv[++i]);
			continue;
		}
		if (!strcmp(argv[i], "--wall") && i + 1 < argc) {
			snprintf(ev.wall, sizeof(ev.wall), "%s", argv[++i]);
			continue;
		}
		if (!strcmp(argv[i], "--prev") && i + 1 < argc) {
			if (nprev < CB_EVENT_MAX_PREV)
				prev[nprev++] = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "--data") && i + 1 < argc) {
			eq = strchr(argv[++i], '=');
			if (!eq)
				return client_usage();
			*eq = 0;
			if (cb_event_set_data(&ev, argv[i], eq + 1, &err))
				goto fail;
			continue;
		}
		eq = strchr(argv[i], '=');
		if (!eq)
			return client_usage();
		*eq = 0;
		if (cb_event_add_change(&ev, argv[i], eq[1] ? eq + 1 : NULL,
					prev, nprev, &err))
			goto fail;
	}
	if (cb_event_sign(&ev, k.sk, &err) || cb_event_print(&ev, &out, &err))
		goto fail;
	printf("%s\n", out);
	free(out);
	goto done;
fail:
	rc = client_fail(&err);
done:
	cb_event_release(&ev);
	cb_sign_keypair_release(&k);
	return rc;
}

static int client_main(int argc, char **argv)
{
	struct cb_err err;

	if (cb_clock_init(&err))
		return client_fail(&err);
	if (argc == 2 && !strcmp(argv[0], "keygen"))
		return client_keygen(argv[1]);
	if (argc >= 1 && !strcmp(argv[0], "headers"))
		return client_headers(argc, argv);
	if (argc >= 1 && !strcmp(argv[0], "event"))
		return client_event(argc, argv);
	return client_usage();
}

int main(int argc, char **argv)
{
	struct cb_err err;

	if (argc > 1 && !strcmp(argv[1], "client"))
		return client_main(argc - 2, argv + 2);
	if (cb_sign_keypair_new(&kp, &err) || cb_sign_keypair_new(&kp2, &err)) {
		printf("FAIL setup: %s\n", err.msg);
		return 1;
	}
	T_RUN(test_string_format);
	T_RUN(test_bad_components);
	T_RUN(test_roundtrip);
	T_RUN(test_tamper_each_component);
	T_RUN(test_tamper_random_body);
	T_RUN(test_parse);
	T_RUN(test_time_window);
	cb_sign_keypair_release(&kp);
	cb_sign_keypair_release(&kp2);
	return t_done();
}
