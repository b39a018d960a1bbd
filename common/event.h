/*
 * event.h - the immutable event: the unit of the record, of sync and of
 * the audit trail.
 *
 * Every action on a subject's data is one event (DESIGN.md section 3):
 * who (device, site, user), when (hybrid logical clock and the device's
 * wall clock), what (subject, kind, target form instance, item changes with
 * the heads each change supersedes), why (reason), an optional kind-specific
 * payload (`data`, string to string), and an Ed25519 signature by the
 * device over the canonical encoding of all of that. The server adds
 * received_at, outside the signed part.
 *
 * The JSON form of an event, as sent over the wire and stored:
 *
 *   {"id":"<32 hex>","device":"...","site":"...","user":"...",
 *    "hlc":"<16 hex>","wall":"2026-11-25T12:34:56.789Z",
 *    "subject":"...","kind":"form.save",
 *    "target":{"visit":"BL","form":"VAS","instance":""},
 *    "changes":[{"item":"VAS","value":"42","prev":["<32 hex>",...]}],
 *    "reason":"","data":{"key":"value"},
 *    "sig":"<128 hex>","received_at":"2026-11-25T12:35:00.000Z"}
 *
 * "value" is a string or null (the item was cleared). "data" may be absent
 * (no payload); "sig" is absent on an event not yet signed and
 * "received_at" on one the server has not received. Every other member is
 * required and no other member is accepted, so nothing can ride along
 * outside the signature.
 *
 * The signed bytes are the canonical encoding (canon.h) of the object
 * above without "sig" and "received_at", with "data" always present (empty
 * when there is no payload). Because the canonical encoding sorts object
 * keys, the order of "data" keys never matters; the order of "changes" and
 * of each "prev" list is kept and signed.
 *
 * Names (device, site, user, subject, visit, form, item, data keys) are 1
 * to CB_EVENT_NAME_MAX bytes of ASCII letters, digits and "._-:@". That
 * keeps them safe as keys, file names and CSV cells, and lets the merge
 * engine join them with a separator byte that cannot occur inside one.
 *
 * Kinds are a closed set (CB_KIND_* below): an event of any other kind is
 * refused, because a replica that cannot interpret an event cannot merge
 * it the same way as the others (a newer kind therefore reaches a store
 * only once every replica that merges it knows it). Adding a kind means adding
 * it here and to the table in event.c, with its rules. What each kind must
 * carry:
 *
 *   form.save       a visit and a form, and at least one change
 *   randomize       may carry changes (the RAND form items); data free
 *   sign            a visit and a form, no changes; data.meaning (what the
 *                   signature means, 21 CFR 11.50) and data.seen: the ids
 *                   of the form's current heads when it was signed
 *                   (cb_merge_form_seen), sorted, comma-separated, each
 *                   once ("" for an empty form); see merge.h for how a
 *                   signature becomes broken
 *   unblind         a reason, no changes
 *   query.open      data.text; data.item optionally names the item the
 *                   query is about (then a visit and a form are needed);
 *                   the query's id is the event's id; no changes
 *   query.answer    data.query (the query id) and data.text; no changes
 *   query.close     data.query; data.text optional; no changes
 *   query.reopen    data.query and data.text (why it is reopened); no
 *                   changes
 *   subject.status  data.status; no changes
 *
 * A change that names any prev replaces a value someone saved, so an event
 * with such a change needs a reason (DESIGN.md: "reason required when a
 * saved value changes"); that includes resolving a conflict.
 */
#ifndef CB_EVENT_H
#define CB_EVENT_H

#include <stddef.h>
#include <cJSON.h>

#include "crypto.h"
#include "err.h"
#include "hlc.h"

/* Fixed-width fields, in characters (the arrays hold one more for NUL). */
#define CB_EVENT_ID_HEX 32   /* 16 random bytes, lowercase hex */
#define CB_EVENT_HLC_HEX 16  /* 48-bit ms + 16-bit counter, lowercase hex */
#define CB_EVENT_TIME_LEN 24 /* "2026-11-25T12:34:56.789Z" */
#define CB_EVENT_SIG_HEX 128 /* Ed25519 signature, lowercase hex */

/* Caps. Anything over them is refused (CB_EINVAL naming the field). */
#define CB_EVENT_NAME_MAX 64	   /* bytes in a name (see above) */
#define CB_EVENT_KIND_MAX 64	   /* bytes in a kind */
#define CB_EVENT_INSTANCE_MAX 9	   /* digits in a repeat instance */
#define CB_EVENT_MAX_CHANGES 512   /* changes in one event */
#define CB_EVENT_MAX_PREV 64	   /* prev ids in one change */
#define CB_EVENT_VALUE_MAX 65536   /* bytes in one value or data value */
#define CB_EVENT_REASON_MAX 4096   /* bytes in the reason */
#define CB_EVENT_MAX_DATA 64	   /* entries in data */
#define CB_EVENT_MAX_BYTES 1048576 /* all strings of one event together */

/* The kinds: a closed set (see the top of this file). */
#define CB_KIND_FORM_SAVE "form.save"
#define CB_KIND_RANDOMIZE "randomize"
#define CB_KIND_SIGN "sign"
#define CB_KIND_UNBLIND "unblind"
#define CB_KIND_QUERY_OPEN "query.open"
#define CB_KIND_QUERY_ANSWER "query.answer"
#define CB_KIND_QUERY_CLOSE "query.close"
#define CB_KIND_QUERY_REOPEN "query.reopen"
#define CB_KIND_SUBJECT_STATUS "subject.status"

/* Payload keys the kinds above use (see the top of this file). */
#define CB_DATA_MEANING "meaning"
#define CB_DATA_SEEN "seen"
#define CB_DATA_TEXT "text"
#define CB_DATA_ITEM "item"
#define CB_DATA_QUERY "query"
#define CB_DATA_STATUS "status"

/* True when `kind` is one of the CB_KIND_* kinds. */
int cb_event_kind_known(const char *kind);

/* One item change: the new value and the changes it supersedes. */
struct cb_change {
	char *item;  /* item code, owned */
	char *value; /* new value, owned; NULL when the item is cleared */
	/* ids of the events whose value of this item the author saw as
	 * current; nprev <= CB_EVENT_MAX_PREV; owned */
	char (*prev)[CB_EVENT_ID_HEX + 1];
	size_t nprev;
};

/* One entry of the kind-specific payload. */
struct cb_event_kv {
	char *key;   /* owned */
	char *value; /* owned */
};

/*
 * An event. Every pointer member is a malloc'd string owned by the event
 * and freed by cb_event_release; callers building an event may assign
 * malloc'd strings directly or use the setters below. A NULL required
 * string counts as missing. Fixed-width fields are NUL-terminated text
 * ("" when not set).
 */
struct cb_event {
	char id[CB_EVENT_ID_HEX + 1];
	char *device;
	char *site;
	char *user;
	char hlc[CB_EVENT_HLC_HEX + 1];
	char wall[CB_EVENT_TIME_LEN + 1]; /* device wall clock, UTC */
	char *subject;
	char *kind;
	char *visit;	/* "" for an event about the whole subject */
	char *form;	/* "" likewise */
	char *instance; /* "" for a non-repeating form, else "1", "2", ... */
	struct cb_change *changes;
	size_t nchanges;
	char *reason; /* "" when none was given */
	/* payload, kept sorted by key with no key twice */
	struct cb_event_kv *data;
	size_t ndata;
	char sig[CB_EVENT_SIG_HEX + 1]; /* "" when unsigned */
	char
	    received_at[CB_EVENT_TIME_LEN + 1]; /* "" until the server has it */
};

/* Make `ev` an empty event (no allocation). */
void cb_event_init(struct cb_event *ev);

/* Free everything `ev` owns and make it empty again. NULL is allowed. */
void cb_event_release(struct cb_event *ev);

/*
 * Give a new event its identity and time: a fresh id, the next value of
 * the device's hybrid logical clock `clock` (hlc.h; the caller persists
 * clock->last afterwards) and the wall-clock time from cb_clock_now_ms().
 *
 * The id (id.h): with `group_key` NULL, 16 random bytes. With the
 * device's group key (a secret of the device's store), its first
 * CB_ID_GROUP_BYTES are the keyed hash of the UTC day of the event's
 * clock, the other 12 random: a device's events of one day sort together,
 * so the indexes of ids (the central store's, the laptop's) take them at
 * one place, and a push dirties a few index pages rather than one per
 * event whatever the store holds (docs/PERFORMANCE.md). Without the key
 * the id tells nothing of when it was made, only which events one device
 * made on one day (docs/SECURITY.md).
 *
 * CB_EIO when no randomness is available, CB_ETOOBIG when the clock is
 * exhausted, CB_EINVAL when the wall clock is outside years 1..9999; the
 * event is unchanged on failure.
 */
int cb_event_stamp(struct cb_event *ev, struct cb_hlc *clock,
		   const struct cb_key *group_key, struct cb_err *err);

/*
 * Setters for callers building an event. Each replaces the named fields
 * with copies of the arguments (which stay the caller's); they do not
 * validate, cb_event_validate does. CB_ENOMEM on allocation failure, in
 * which case the event is unchanged.
 */
int cb_event_set_origin(struct cb_event *ev, const char *device,
			const char *site, const char *user, struct cb_err *err);
int cb_event_set_target(struct cb_event *ev, const char *subject,
			const char *kind, const char *visit, const char *form,
			const char *instance, struct cb_err *err);
int cb_event_set_reason(struct cb_event *ev, const char *reason,
			struct cb_err *err);

/*
 * Append a change of `item` to `value` (NULL clears the item), naming the
 * `nprev` event ids in `prev` (each CB_EVENT_ID_HEX characters) as the
 * values it supersedes: normally the item's current heads, from
 * cb_merge_item_get. Refuses (CB_EINVAL) a change past
 * CB_EVENT_MAX_CHANGES, more than CB_EVENT_MAX_PREV prev ids, or a prev
 * that is not CB_EVENT_ID_HEX characters long; other checks are left to
 * cb_event_validate.
 */
int cb_event_add_change(struct cb_event *ev, const char *item,
			const char *value, const char *const *prev,
			size_t nprev, struct cb_err *err);

/*
 * Set payload entry `key` to `value`, replacing an entry with the same
 * key, keeping the payload sorted. Refuses (CB_EINVAL) a new entry past
 * CB_EVENT_MAX_DATA.
 */
int cb_event_set_data(struct cb_event *ev, const char *key, const char *value,
		      struct cb_err *err);

/* The payload value for `key`, or NULL when there is none. */
const char *cb_event_data(const struct cb_event *ev, const char *key);

/*
 * Check every field of `ev` against the formats and caps above: ids and
 * the clock are lowercase hex of the right length, times are real UTC
 * times in the one accepted format, names are well formed, text is valid
 * UTF-8, no item is changed twice in one event, no change names the same
 * prev twice or its own event, the payload is sorted with unique keys,
 * and the kind is known and carries what it must (top of this file).
 * Returns 0 or CB_EINVAL with a
 * message starting with the JSON path of the first bad field
 * ("$.changes[3].prev[1]: ...").
 */
int cb_event_validate(const struct cb_event *ev, struct cb_err *err);

/*
 * The rules for the text of a new event (text.h), which the laptop
 * applies before it saves and the server again when it receives: the
 * reason, every changed value and every payload value hold no control
 * character, line break or bidirectional text control, and a reason that
 * is given is not blank. cb_event_validate does not apply them, so events
 * stored before the rule still load. 0, or CB_EINVAL naming the field.
 */
int cb_event_check_text(const struct cb_event *ev, struct cb_err *err);

/*
 * Read an event from its JSON form (see the top of this file) into `ev`,
 * which must be initialised and is overwritten. Strict: every member must
 * be present (except data, sig and received_at) with its exact type, no
 * unknown or repeated member is accepted, and the result must pass
 * cb_event_validate. Sizes are checked before anything is copied.
 * Returns 0, or CB_EINVAL with the JSON path of the offending field, or
 * CB_ENOMEM; on failure `ev` is left empty.
 */
int cb_event_from_json(const cJSON *json, struct cb_event *ev,
		       struct cb_err *err);

/*
 * The JSON form of `ev`, including sig and received_at when they are set.
 * *out is a new tree the caller frees with cJSON_Delete. CB_ENOMEM.
 */
int cb_event_to_json(const struct cb_event *ev, cJSON **out,
		     struct cb_err *err);

/*
 * The bytes the device signs: the canonical encoding of every field but
 * sig and received_at. *out is malloc'd (free with free()), NUL-terminated,
 * *len bytes long. The event must be valid (CB_EINVAL otherwise); also
 * CB_ENOMEM.
 */
int cb_event_signing_bytes(const struct cb_event *ev, char **out, size_t *len,
			   struct cb_err *err);

/*
 * Sign `ev` with the device's Ed25519 secret key (the `sk` of its struct
 * cb_sign_keypair) and store the signature in ev->sig. The event must be
 * valid (CB_EINVAL otherwise).
 */
int cb_event_sign(struct cb_event *ev, const struct cb_key *sk,
		  struct cb_err *err);

/*
 * Make `dst` (initialised; its old content is released) a deep copy of
 * `src`, which need not be valid. CB_ENOMEM, leaving `dst` empty.
 */
int cb_event_copy(struct cb_event *dst, const struct cb_event *src,
		  struct cb_err *err);

/*
 * cb_json_parse (capped at CB_EVENT_JSON_MAX bytes) and then
 * cb_event_from_json: read one event from `len` bytes of JSON text. The
 * cap leaves room for CB_EVENT_MAX_BYTES of text written with JSON
 * escapes (up to six bytes per control character), so every valid event
 * can be read back from its own cb_event_print text.
 */
#define CB_EVENT_JSON_MAX (8u * 1024u * 1024u)
int cb_event_parse(const char *text, size_t len, struct cb_event *ev,
		   struct cb_err *err);

/*
 * The JSON form of `ev` as compact text, in a malloc'd NUL-terminated
 * string the caller frees with free(): for a valid event, its canonical
 * encoding (canon.h) with sig and received_at when they are set. The
 * event is not validated here. CB_ENOMEM, CB_ETOOBIG.
 */
int cb_event_print(const struct cb_event *ev, char **out, struct cb_err *err);

/*
 * Verify ev->sig against the device's Ed25519 public key (32 bytes).
 * Returns 0 when the signature is good; CB_EAUTH when the event is
 * unsigned or the signature does not match its content; CB_EINVAL when the
 * event is not valid.
 */
int cb_event_verify(const struct cb_event *ev, const unsigned char *public_key,
		    struct cb_err *err);

#endif
