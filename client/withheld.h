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
 * What the device was told is kept one subject at a time, in the store's
 * sealed withheld row of that subject (store.h, "Withheld values"):
 * {"subject":"SUBJECT","forms":{"VISIT.FORM.INSTANCE":{"ITEM":true}}},
 * the latest word for each item in server order (true: it has a value).
 * So recording a page reads and writes only the subjects it names, and
 * a command that shows one subject reads only that subject's row.
 * (Stores of schema 2 and older kept the whole study in one setting,
 * "withheld"; the store's upgrade makes it rows.)
 */
#ifndef CASEBOOK_WITHHELD_H
#define CASEBOOK_WITHHELD_H

#include <cJSON.h>

#include "err.h"
#include "store.h"

/*
 * Record the "withheld" array of one pull page (NULL or absent: nothing
 * to record) in the store, inside the caller's transaction: the entries
 * are taken in order, grouped by subject, and each subject's row is read
 * once and written once. Entries that are not {"subject","visit","form",
 * "instance","items":{ITEM:bool}} are refused (CB_EINVAL, nothing
 * recorded). 0, or the store's error.
 */
int withheld_note(struct store *st, const cJSON *list, struct cb_err *err);

/* withheld_note for one entry of the array (a bundle reply's pages). */
int withheld_note_one(struct store *st, const cJSON *entry, struct cb_err *err);

/*
 * One subject's withheld values, read once for a command that asks of
 * many items (withheld_load, withheld_in, withheld_release).
 */
struct withheld {
	cJSON *row; /* the subject's row, NULL when it has none */
};

/*
 * Read the row of `subject` into *w (released with withheld_release,
 * also after a failure). 0, or the store's error; CB_EINTEGRITY when the
 * row is not this subject's withheld row.
 */
int withheld_load(struct store *st, const char *subject, struct withheld *w,
		  struct cb_err *err);

/*
 * 1 when the server said item `item` of instance `inst` ("" for a
 * non-repeating form) of `form` at `visit` of the loaded subject has a
 * value withheld from this device, else 0.
 */
int withheld_in(const struct withheld *w, const char *visit, const char *form,
		const char *inst, const char *item);

void withheld_release(struct withheld *w);

#endif
