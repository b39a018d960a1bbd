/*
 * arms.c - the randomized subjects' arms, fetched sealed from the
 * server and opened here with the unblinding key (arms.h).
 */
#include "arms.h"

#include "crypto.h"
#include "json.h"
#include "net.h"
#include "pass.h"
#include "randlist.h"
#include "sync.h"

#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The unblinding key pair from `path`. */
static int key_unlock(const char *path, const char *pass_file,
		      struct cb_box_keypair *kp, struct cb_err *err)
{
	char *text = NULL, *pass = NULL;
	size_t len = 0, pass_len = 0;
	int rc;

	rc = cb_file_read(path, CB_UNBLIND_FILE_MAX, &text, &len, err);
	if (!rc)
		rc = pass_get_from(pass_file, ARMS_PASS_ENV,
				   "Passphrase for the unblinding key: ", &pass,
				   &pass_len, err);
	if (!rc)
		rc = cb_unblind_key_unlock(text, len, pass, pass_len, kp, err);
	pass_free(pass);
	if (text)
		cb_wipe_free(text, len);
	return rc;
}

/* GET /v1/arms as the parsed answer. */
static int fetch_arms(struct store *st, const char *cacert, cJSON **out,
		      struct cb_err *err)
{
	struct sync_opts o = {4, 0};
	char *server, *saved = NULL;
	struct net_reply r = {0, NULL, 0};
	struct net n;
	int rc;

	*out = NULL;
	server = store_meta_or_null(st, SYNC_META_SERVER);
	if (!server)
		return cb_err_set(err, CB_EINVAL,
				  "this store was not registered with a server "
				  "('casebook init --server URL --token TOKEN' "
				  "makes one that is)");
	if (!cacert)
		cacert = saved = store_meta_or_null(st, SYNC_META_CACERT);
	rc = net_init(&n, server, cacert, err);
	if (!rc) {
		rc = sync_request(&n, &o, "GET", "/v1/arms", "", NULL, 0, st,
				  &r, err);
		net_free(&n);
	}
	if (!rc && r.status != 200) {
		char msg[512];

		net_error_message(&r, msg, sizeof(msg));
		rc = cb_err_set(
		    err,
		    r.status == 401 || r.status == 403 ? CB_EFORBIDDEN : CB_EIO,
		    "the server refused the arms: %s", msg);
	}
	if (!rc) {
		*out = cb_json_parse(r.body, r.len, NET_REPLY_MAX,
				     "the arms answer", err);
		if (!*out)
			rc = err->code;
		else if (!cJSON_IsArray(
			     cJSON_GetObjectItemCaseSensitive(*out, "arms")))
			rc = cb_err_set(err, CB_EINVAL,
					"the server's arms answer is not the "
					"documented one");
	}
	if (rc) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	net_reply_free(&r);
	free(server);
	free(saved);
	return rc;
}

/* A string member of an arms row, or NULL. */
static const char *member(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Open one row's sealed arm into *arm (malloc'd). */
static int open_row(const cJSON *row, const struct cb_box_keypair *kp,
		    char **arm, struct cb_err *err)
{
	const char *list_id = member(row, "list");
	const char *randno = member(row, "randno");
	const char *hex = member(row, "arm_unblind");
	struct cb_randlist list;
	struct cb_randlist_slot slot;
	unsigned char *sealed;
	size_t len = 0;
	int rc;

	*arm = NULL;
	if (!list_id || !randno || !hex || !member(row, "subject") ||
	    !member(row, "site"))
		return cb_err_set(err, CB_EINVAL,
				  "an arms row of the server lacks a member");
	sealed = malloc(strlen(hex) / 2 + 1);
	if (!sealed)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = cb_hex_decode(hex, strlen(hex), sealed, strlen(hex) / 2 + 1, &len,
			   err);
	if (!rc) {
		memset(&list, 0, sizeof(list));
		memset(&slot, 0, sizeof(slot));
		list.list_id = (char *)(uintptr_t)list_id;
		slot.randno = (char *)(uintptr_t)randno;
		slot.seal_unblind = sealed;
		slot.seal_unblind_len = len;
		rc = cb_randlist_open_arm(
		    &list, &slot, CB_RANDLIST_SEAL_UNBLIND, kp, arm, err);
	}
	free(sealed);
	return rc;
}

int arms_open_all(struct store *st, const char *key, const char *pass_file,
		  const char *cacert,
		  int (*fn)(void *ctx, const char *subject, const char *site,
			    const char *randno, const char *arm),
		  void *ctx, struct cb_err *err)
{
	struct cb_box_keypair kp = {0};
	const cJSON *row;
	cJSON *reply = NULL;
	char *arm = NULL;
	int rc;

	rc = key_unlock(key, pass_file, &kp, err);
	if (!rc)
		rc = fetch_arms(st, cacert, &reply, err);
	if (!rc) {
		cJSON_ArrayForEach(row, cJSON_GetObjectItem(reply, "arms"))
		{
			rc = open_row(row, &kp, &arm, err);
			if (!rc)
				rc = fn(ctx, member(row, "subject"),
					member(row, "site"),
					member(row, "randno"), arm);
			if (arm)
				cb_wipe_free(arm, strlen(arm) + 1);
			arm = NULL;
			if (rc)
				break;
		}
	}
	cJSON_Delete(reply);
	cb_box_keypair_release(&kp);
	return rc;
}
