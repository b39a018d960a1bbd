/*
 * outdir.h - the files of one export, written all or nothing.
 *
 * An export writes several files at once (one per form, a dictionary,
 * a manifest). It writes them through a struct cb_files, so the engine
 * knows no file system: a program gives it a directory
 * (cb_outdir_open), a unit test gives it memory (cb_memfiles).
 *
 * A directory export never leaves a partial result behind. The files go
 * into a new temporary directory beside the one asked for (same parent,
 * so the final rename stays on one file system), named
 * ".NAME.partial-XXXXXX"; cb_outdir_commit renames it to NAME, refusing
 * to replace anything that appeared there meanwhile; cb_outdir_free
 * without a commit removes the temporary directory and everything in it.
 * So a failure at any point (a full disk, a bad cut-off found late, a
 * killed process aside) leaves the parent as it was.
 */
#ifndef CB_OUTDIR_H
#define CB_OUTDIR_H

#include "buf.h"
#include "err.h"
#include "out.h"

/*
 * Files by name (a plain name, no '/'). open() makes a new file and
 * hands out a stream to write it (valid until close()); several may be
 * open at once. close() flushes and closes it: 0 or the first error of
 * its writes. append() writes the whole content of a closed file to an
 * open stream, and remove() deletes a closed file: together they let an
 * engine write a part first that must come later (a spool).
 */
struct cb_files {
	int (*open)(void *ctx, const char *name, struct cb_out **out,
		    struct cb_err *err);
	int (*close)(void *ctx, struct cb_out *out, struct cb_err *err);
	int (*append)(void *ctx, const char *name, struct cb_out *to,
		      struct cb_err *err);
	int (*remove)(void *ctx, const char *name, struct cb_err *err);
	void *ctx;
};

/* Longest file name (bytes) and most files open at once. */
#define CB_FILES_NAME_MAX 128
#define CB_FILES_OPEN_MAX 256

struct cb_outdir;

/*
 * Start an export into directory `path`, which must not exist
 * (CB_EEXIST) and whose parent must be a writable directory (CB_EIO
 * naming it otherwise). *out gets the handle; its files are made in the
 * temporary directory until cb_outdir_commit.
 */
int cb_outdir_open(const char *path, struct cb_outdir **out,
		   struct cb_err *err);

/* The struct cb_files writing into d (valid while d lives). */
struct cb_files cb_outdir_files(struct cb_outdir *d);

/*
 * Close any file still open and rename the temporary directory to the
 * path asked for, without replacing anything there (CB_EEXIST when
 * something appeared meanwhile; the files are then removed). CB_EIO.
 */
int cb_outdir_commit(struct cb_outdir *d, struct cb_err *err);

/* Free the handle; without a commit, remove the temporary directory and
 * its files. NULL is allowed. */
void cb_outdir_free(struct cb_outdir *d);

/*
 * One file written all or nothing (a report's --out FILE): the bytes go
 * to a temporary file beside `path` (".NAME.partial-XXXXXX"), which
 * cb_outfile_commit links to `path`, refusing to replace anything there
 * (CB_EEXIST). cb_outfile_open refuses a path that exists (CB_EEXIST)
 * or a directory it cannot write in (CB_EIO); cb_outfile_free without
 * a commit removes the temporary file.
 */
struct cb_outfile;
int cb_outfile_open(const char *path, struct cb_outfile **out,
		    struct cb_err *err);
struct cb_out *cb_outfile_out(struct cb_outfile *f);
int cb_outfile_commit(struct cb_outfile *f, struct cb_err *err);
void cb_outfile_free(struct cb_outfile *f); /* NULL allowed */

/*
 * In-memory files, for tests and for callers that want the bytes: each
 * file's content is a struct cb_buf capped at `max` bytes.
 */
struct cb_memfiles;

/* A new empty set (NULL when out of memory). */
struct cb_memfiles *cb_memfiles_new(size_t max);
void cb_memfiles_free(struct cb_memfiles *m); /* NULL allowed */
struct cb_files cb_memfiles_files(struct cb_memfiles *m);

/* The content of file `name` (NUL-terminated, *len bytes), or NULL when
 * there is no such file. Valid until the set changes or is freed. */
const char *cb_memfiles_get(const struct cb_memfiles *m, const char *name,
			    size_t *len);

/* Number of files, and the name of the i-th (in order of creation). */
size_t cb_memfiles_count(const struct cb_memfiles *m);
const char *cb_memfiles_name(const struct cb_memfiles *m, size_t i);

#endif
