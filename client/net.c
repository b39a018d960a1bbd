/*
 * net.c - requests to the central server over libcurl (see net.h).
 */
#include "net.h"

#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "clock.h"
#include "crypto.h"
#include "json.h"
#include "reqsig.h"

#define CONNECT_TIMEOUT_S 10L
#define REQUEST_TIMEOUT_S 120L

int net_init(struct net *n, const char *url, const char *cacert,
	     struct cb_err *err)
{
	size_t len;
	const char *rest;

	memset(n, 0, sizeof(*n));
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
		return cb_err_set(err, CB_EINVAL,
				  "server URL '%.100s' must start with http:// "
				  "or https://",
				  url ? url : "");
	len = strlen(url);
	if (len > NET_URL_MAX)
		return cb_err_set(err, CB_EINVAL, "server URL is too long");
	memcpy(n->base, url, len + 1);
	while (len && n->base[len - 1] == '/')
		n->base[--len] = '\0';
	rest = strstr(n->base, "://") + 3;
	if (!*rest || strchr(rest, '/') || strchr(rest, '?') ||
	    strchr(rest, ' '))
		return cb_err_set(err, CB_EINVAL,
				  "server URL '%.100s' must be scheme://host"
				  "[:port] with no path",
				  url);
	if (cacert) {
		if (strlen(cacert) >= sizeof(n->cacert))
			return cb_err_set(err, CB_EINVAL,
					  "--cacert path is too long");
		memcpy(n->cacert, cacert, strlen(cacert) + 1);
	}
	n->timeout_s = REQUEST_TIMEOUT_S;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	n->curl = curl_easy_init();
	if (!n->curl)
		return cb_err_set(err, CB_ENOMEM, "cannot start libcurl");
	return 0;
}

void net_free(struct net *n)
{
	if (n->curl)
		curl_easy_cleanup(n->curl);
	n->curl = NULL;
}

void net_reply_free(struct net_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* The answer's body, capped at NET_REPLY_MAX (buf.h). */
struct sink {
	struct cb_buf body;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct sink *s = ctx;
	size_t n = size * nmemb;
	int rc = cb_buf_add(&s->body, p, n, NULL);

	if (rc == CB_ETOOBIG)
		s->too_big = 1;
	return rc ? 0 : n;
}

/* Append one "Name: value" header. */
static int add_header(struct curl_slist **list, const char *name,
		      const char *value)
{
	char line[256];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	l = curl_slist_append(*list, line);
	if (!l)
		return -1;
	*list = l;
	return 0;
}

/* The four signature headers of a request by the store's device. */
static int sign_headers(struct store *st, const char *method, const char *path,
			const char *query, const char *body, size_t len,
			struct curl_slist **list, struct cb_err *err)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	char nonce[CB_REQSIG_NONCE_HEX + 1], sig_hex[CB_REQSIG_SIG_HEX + 1];
	char time_text[32];
	char *text = NULL;
	size_t text_len;
	int64_t now = cb_clock_now_ms();
	int rc;

	cb_random_bytes(sig, CB_REQSIG_NONCE_HEX / 2);
	rc = cb_hex_encode(sig, CB_REQSIG_NONCE_HEX / 2, nonce, sizeof(nonce),
			   err);
	if (!rc)
		rc = cb_reqsig_string(method, path, query, body, len,
				      store_device_id(st), now, nonce, &text,
				      &text_len, err);
	if (!rc)
		rc = store_sign(st, text, text_len, sig, err);
	free(text);
	if (!rc)
		rc = cb_hex_encode(sig, sizeof(sig), sig_hex, sizeof(sig_hex),
				   err);
	if (rc)
		return rc;
	snprintf(time_text, sizeof(time_text), "%lld", (long long)now);
	if (add_header(list, CB_REQSIG_HDR_DEVICE, store_device_id(st)) ||
	    add_header(list, CB_REQSIG_HDR_TIME, time_text) ||
	    add_header(list, CB_REQSIG_HDR_NONCE, nonce) ||
	    add_header(list, CB_REQSIG_HDR_SIGNATURE, sig_hex))
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	return 0;
}

int net_request(struct net *n, const char *method, const char *path,
		const char *query, const char *body, size_t len,
		struct store *st, struct net_reply *r, struct cb_err *err)
{
	struct curl_slist *headers = NULL;
	struct sink sink;
	char url[NET_URL_MAX + CB_REQSIG_PATH_MAX * 2 + 4];
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = n->curl;
	CURLcode cc;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	/* NET_REPLY_MAX - 1 bytes and the NUL, as before. */
	cb_buf_init(&sink.body, NET_REPLY_MAX - 1);
	sink.too_big = 0;
	snprintf(url, sizeof(url), "%s%s%s%s", n->base, path,
		 query && query[0] ? "?" : "", query ? query : "");
	if (st)
		rc = sign_headers(st, method, path, query, body, len, &headers,
				  err);
	if (!rc && body &&
	    add_header(&headers, "Content-Type", "application/json"))
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	/* No "Expect: 100-continue" round trip for large pushes. */
	if (!rc && add_header(&headers, "Expect", ""))
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	if (rc) {
		curl_slist_free_all(headers);
		return rc;
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, n->timeout_s);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "casebook");
	if (n->cacert[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, n->cacert);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? len : 0));
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	cc = curl_easy_perform(c);
	curl_slist_free_all(headers);
	if (sink.too_big) {
		cb_buf_free(&sink.body);
		return cb_err_set(err, CB_ETOOBIG,
				  "the server's answer is over %u bytes",
				  NET_REPLY_MAX);
	}
	if (cc != CURLE_OK) {
		cb_buf_free(&sink.body);
		if (cc == CURLE_OUT_OF_MEMORY)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		return cb_err_set(err, CB_EUNREACHABLE,
				  "cannot reach the server at %s: %s", n->base,
				  errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->body = cb_buf_take(&sink.body, &r->len);
	if (!r->body)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	return 0;
}

static const cJSON *error_object(const struct net_reply *r, cJSON **root)
{
	struct cb_err ignored;
	const cJSON *e;

	*root = NULL;
	if (!r->body)
		return NULL;
	*root = cb_json_parse(r->body, r->len, 1024 * 1024, "reply", &ignored);
	if (!*root)
		return NULL;
	e = cJSON_GetObjectItemCaseSensitive(*root, "error");
	return cJSON_IsObject(e) ? e : NULL;
}

void net_error_message(const struct net_reply *r, char *out, size_t cap)
{
	cJSON *root;
	const cJSON *e = error_object(r, &root);
	const char *code = e ? cb_json_str(e, "code") : NULL;
	const char *msg = e ? cb_json_str(e, "message") : NULL;

	if (msg && code)
		snprintf(out, cap, "%s (%s, HTTP %ld)", msg, code, r->status);
	else
		snprintf(out, cap, "the server answered HTTP %ld", r->status);
	cJSON_Delete(root);
}

void net_error_code(const struct net_reply *r, char *out, size_t cap)
{
	cJSON *root;
	const cJSON *e = error_object(r, &root);
	const char *code = e ? cb_json_str(e, "code") : NULL;

	snprintf(out, cap, "%s", code ? code : "");
	cJSON_Delete(root);
}
