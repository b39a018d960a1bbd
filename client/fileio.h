/*
 * fileio.h - files the command line writes for people to keep: the
 * statistician's keys, randomization lists and code-break sheets.
 */
#ifndef CB_FILEIO_H
#define CB_FILEIO_H

#include <stddef.h>

#include "err.h"

/*
 * Create `path` (never replacing a file: CB_EEXIST) with `mode` and
 * write `len` bytes, synced to disk; the file is removed again when a
 * write fails (CB_EIO naming the path).
 */
int fileio_write_new(const char *path, const void *data, size_t len, int mode,
		     struct cb_err *err);

#endif
