/*
 * jstream.h - a JSON document read from a file one value at a time.
 *
 * A sync bundle or a bundle reply (docs/bundles.md) can be larger than a
 * laptop or a server should hold in memory, so it is read as a stream:
 * the caller names the containers (objects and arrays) to open, by path,
 * and every other value is read on its own, parsed (cb_json_parse: with
 * its cap and its refusal of a repeated member), handed to the caller
 * and freed. The memory used is the largest single value plus a read
 * buffer, whatever the document's size.
 *
 * Paths: "" is the document itself, "a" a member of it, "a.b" member b
 * of member a, "x[]" any element of array x ("pull[].events[]": every
 * event of every page). A container at a path listed in `open` is
 * walked: fn gets each value in it that is not itself opened, in
 * document order, then fn(ctx, path, NULL) once the container ends. A
 * member name repeated in an opened object is refused as cb_json_parse
 * refuses one. An opened path holding a scalar is handed over whole.
 */
#ifndef CB_JSTREAM_H
#define CB_JSTREAM_H

#include <stddef.h>

#include <cJSON.h>

#include "err.h"

/* Longest path, and deepest nesting of opened containers. */
#define CB_JSTREAM_PATH_MAX 256

/*
 * Called for each value (see above); `value` is freed after the call.
 * A non-zero return stops the walk and is returned by cb_jstream_walk.
 */
typedef int (*cb_jstream_fn)(void *ctx, const char *path, const cJSON *value);

/*
 * Read one JSON document from `fd` (from its current offset to the end
 * of the file; only white space may follow the document), `open` a
 * NULL-terminated list of paths, each other value at most `value_max`
 * bytes. CB_EINVAL naming `what` and the byte offset for a document that
 * is not JSON, CB_ETOOBIG for a value over the cap, CB_EIO for a read
 * error, CB_ENOMEM; or fn's code.
 */
int cb_jstream_walk(int fd, const char *const *open, size_t value_max,
		    const char *what, cb_jstream_fn fn, void *ctx,
		    struct cb_err *err);

#endif
