/*
 * core.h - the server's state and the sync rules, independent of HTTP.
 *
 * A struct srv_core holds the open store, the study protocol and the
 * merge state of every event received (merge.h), which the push rules
 * read (edit checks see the subject's current record) and from which
 * the derived tables are written. One mutex serialises every use of the
 * store and the merge state; the work that needs neither (parsing,
 * signature verification) runs outside it, spread over one thread per
 * processor and overlapping with the decisions made under it.
 *
 * The push rules, for each event of a batch (DESIGN.md sections 3-5;
 * docs/api.md "The rule set" lists them with their rejection codes):
 *   - it parses strictly (event.h) and its signature verifies with the
 *     public key of the device it names, which must be the caller; a
 *     site device writes only its own site;
 *   - it is not stamped more than CB_HLC_AHEAD_MAX_MS ahead of the
 *     server's clock (hlc.h);
 *   - an id already stored with the same signed content is a duplicate,
 *     with other content it is rejected;
 *   - a device that created a subject again (srv_store_reuse_add) has
 *     everything it writes about that subject refused;
 *   - cb_record_check_event (record.h): every rule a laptop applies to
 *     an event, from roles and subject creation to edit checks and
 *     query references, applied again here;
 *   - a randomize event uses a slot leased to the device (slots.h).
 * Accepted events are stored, and their subjects' derived rows updated,
 * in one transaction, committed before the answer is built: an event
 * reported accepted is on disk.
 */
#ifndef SRV_CORE_H
#define SRV_CORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "crypto.h"
#include "err.h"
#include "merge.h"
#include "protocol.h"
#include "store.h"

/* Most events in one push, and most bytes of a request body. */
#define SRV_PUSH_MAX_EVENTS 1000
#define SRV_BODY_MAX (4u * 1024u * 1024u)
/* Events one pull returns by default and at most. */
#define SRV_PULL_DEFAULT 500
#define SRV_PULL_MAX 1000

struct srv_core {
	pthread_mutex_t lock;
	struct srv_store *store;
	struct cb_protocol *proto;
	struct cb_merge *merge;
	char *study;
	char *proto_text; /* the protocol's exact bytes */
	size_t proto_len;
	char *proto_sha256;
	/* The server's Ed25519 public key in hex, "" when it has none. */
	char server_key[CB_SIGN_PUBLIC_BYTES * 2 + 1];
};

/*
 * The server's own Ed25519 key, which signs bundle replies
 * (docs/bundles.md); devices learn its public key at registration. It
 * lives in DIR/SRV_KEY_FILE as the 64-byte secret in hex, mode 0600,
 * made by `casebookd init` (or by the first srv_core_open of an older
 * data directory). It is never logged.
 */
#define SRV_KEY_FILE "server.key"

/* Make a new key file in `dir`. CB_EEXIST when there is one already. */
int srv_core_key_create(const char *dir, struct cb_err *err);

/*
 * Load the key of `dir` into *kp (release with cb_sign_keypair_release).
 * CB_ENOTFOUND when there is none, CB_EINTEGRITY when it is damaged.
 */
int srv_core_key_load(const char *dir, struct cb_sign_keypair *kp,
		      struct cb_err *err);

/*
 * Open the store in `dir`, load its protocol and every event into the
 * merge state, and the server's public key (made when missing; left ""
 * when it cannot be). Release with srv_core_close.
 */
int srv_core_open(struct srv_core *c, const char *dir, struct cb_err *err);

/* Close everything; a zeroed or failed core is fine. */
void srv_core_close(struct srv_core *c);

/*
 * Empty every derived table and fill it again from the merge state, in
 * one transaction (`casebookd rebuild`).
 */
int srv_core_rebuild(struct srv_core *c, struct cb_err *err);

/*
 * Apply a push of `events` (a JSON array, at most SRV_PUSH_MAX_EVENTS)
 * from device `dev`. *reply gets {"results":[...],"accepted":N,
 * "duplicate":N,"rejected":N}, one result per event in order (see
 * docs/api.md). A revoked `dev` (only a bundle hand-over pushes for one)
 * gets the events it made after its revocation rejected ("revoked"). Returns 0;
 * CB_EIO (and no reply) when the store failed, in which case nothing of the
 * batch was stored.
 */
int srv_core_push(struct srv_core *c, const struct srv_device *dev,
		  const cJSON *events, cJSON **reply, struct cb_err *err);

/*
 * The events after cursor `since` that `dev` may see, at most `limit`:
 * *reply gets {"events":[...],"next":"CURSOR","more":bool}.
 */
int srv_core_pull(struct srv_core *c, const struct srv_device *dev,
		  int64_t since, long limit, cJSON **reply, struct cb_err *err);

/*
 * The queries `dev` may see, of status `status` (NULL: any): *reply gets
 * {"queries":[...]}.
 */
int srv_core_queries(struct srv_core *c, const struct srv_device *dev,
		     const char *status, cJSON **reply, struct cb_err *err);

#endif
