/*
 * json.h - bounded JSON helpers over cJSON.
 *
 * Every document Casebook reads has a hard size cap, passed by the caller,
 * so a hostile or broken input can never make a reader allocate without
 * bound. Parse errors name the line and column where the parser stopped.
 */
#ifndef CB_JSON_H
#define CB_JSON_H

#include <stddef.h>
#include <cJSON.h>

#include "err.h"

/* Largest JSON file any reader accepts unless it asks for less. */
#define CB_JSON_DOC_MAX (16u * 1024u * 1024u)

/*
 * Parse `len` bytes of `text` (not necessarily NUL-terminated). Refuses
 * input over `max` bytes (CB_ETOOBIG), and malformed JSON or trailing
 * garbage (CB_EINVAL, "line L, column C", columns counted in characters).
 * Stricter than cJSON alone: a NUL byte or \u0000 (at which cJSON
 * would silently cut a string short), invalid UTF-8, a control character
 * (raw, in a string, or as "white space" other than space, tab, CR and
 * LF), numbers JSON does not allow (01, 1., .5) and an object that repeats
 * a member (CB_EINVAL naming the object's JSON path and the key: readers
 * differ on which copy wins) are refused too. Running out of memory is
 * CB_ENOMEM ("WHAT: out of memory"), never reported as bad JSON. `what`
 * names the document in messages. Returns a tree the caller frees with
 * cJSON_Delete, or NULL.
 */
cJSON *cb_json_parse(const char *text, size_t len, size_t max, const char *what,
		     struct cb_err *err);

/*
 * Read a whole file of at most `max` bytes into a NUL-terminated buffer
 * the caller frees with free(). `*len` gets the length without the NUL.
 */
int cb_file_read(const char *path, size_t max, char **out, size_t *len,
		 struct cb_err *err);

/* Read and parse a JSON file (cb_file_read + cb_json_parse). */
cJSON *cb_json_load_file(const char *path, size_t max, struct cb_err *err);

/*
 * Typed member lookups. Each returns NULL (or the fallback) when the member
 * is absent or has another type; callers that must tell the two apart use
 * cJSON_GetObjectItemCaseSensitive directly.
 */
const char *cb_json_str(const cJSON *obj, const char *key);
const cJSON *cb_json_obj(const cJSON *obj, const char *key);
const cJSON *cb_json_arr(const cJSON *obj, const char *key);

/*
 * Integer member: 0 and *out set when present, a number and integral within
 * [lo, hi]; CB_ENOTFOUND when absent; CB_EINVAL otherwise, with a message
 * naming `path` (a JSON path such as "$.visits[2].day").
 */
int cb_json_int(const cJSON *obj, const char *key, long long lo, long long hi,
		long long *out, const char *path, struct cb_err *err);

/*
 * A cJSON value's type for messages, with its article: "a string",
 * "a number", "an object", "null", and "nothing" for NULL.
 */
const char *cb_json_type_name(const cJSON *item);

/*
 * Serialize compactly into a malloc'd string the caller frees with
 * cJSON_free(), or NULL when out of memory.
 */
char *cb_json_print(const cJSON *item);

#endif
