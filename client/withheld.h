/*
 * withheld.h - which unblinded values exist that a blinded laptop is not
 * sent.
 *
 * The server sends events that change items the protocol marks
 * "unblinded" only to the unblinded roles. With each pull page a blinded
 * device is told instead which of those items were set or cleared, and
 * where (docs/api.md, "withheld"), never the values, so that `form show`
 * can say a value exists and is withheld rather than that it is missing.
 *
 * What the device was told is kept in one encrypted setting, "withheld":
 * {"SUBJECT":{"VISIT.FORM.INSTANCE":{"ITEM":true}}}, the latest word for
 * each item in server order (true: it has a value).
 */
#ifndef CASEBOOK_WITHHELD_H
#define CASEBOOK_WITHHELD_H

#include <cJSON.h>

#include "err.h"
#include "store.h"

/* The setting that holds it. */
#define WITHHELD_META "withheld"

/*
 * Record the "withheld" array of one pull page (NULL or absent: nothing
 * to record) in the store, inside the caller's transaction. Entries that
 * are not {"subject","visit","form","instance","items":{ITEM:bool}} are
 * refused (CB_EINVAL, nothing recorded). 0, or the store's error.
 */
int withheld_note(struct store *st, const cJSON *list, struct cb_err *err);

/* withheld_note for one entry of the array (a bundle reply's pages). */
int withheld_note_one(struct store *st, const cJSON *entry, struct cb_err *err);

/*
 * *out = 1 when the server said item `item` of instance `inst` ("" for a
 * non-repeating form) of `form` at `visit` of `subject` has a value
 * withheld from this device, else 0. 0, or the store's error.
 */
int withheld_has(struct store *st, const char *subject, const char *visit,
		 const char *form, const char *inst, const char *item, int *out,
		 struct cb_err *err);

#endif
