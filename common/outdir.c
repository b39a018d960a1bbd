/*
 * outdir.c - the files of one export in a temporary directory renamed
 * at the end, or in memory (outdir.h).
 */
#include "outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* renameat2's flag (linux/fs.h), spelled here to keep that header out. */
#define OUTDIR_RENAME_NOREPLACE 1u

struct dfile {
	char name[CB_FILES_NAME_MAX + 1];
	int fd;
	struct cb_out out;
};

struct cb_outdir {
	char *final; /* the path asked for */
	char *tmp;   /* the temporary directory beside it */
	int committed;
	struct dfile *open[CB_FILES_OPEN_MAX];
	size_t nopen;
};

static int name_ok(const char *name, struct cb_err *err)
{
	size_t n = strlen(name);

	if (!n || n > CB_FILES_NAME_MAX || strchr(name, '/') ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return cb_err_set(err, CB_EINVAL, "bad export file name");
	return 0;
}

int cb_outdir_open(const char *path, struct cb_outdir **out, struct cb_err *err)
{
	struct cb_outdir *d;
	const char *slash, *base;
	char *parent = NULL;
	struct stat st;
	size_t plen, n;
	int rc = 0;

	*out = NULL;
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (!n)
		return cb_err_set(err, CB_EINVAL, "no output directory given");
	d = calloc(1, sizeof(*d));
	if (!d || !(d->final = strndup(path, n))) {
		free(d);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (lstat(d->final, &st) == 0) {
		rc = cb_err_set(err, CB_EEXIST,
				"%s already exists: give a new directory "
				"(nothing is ever written over)",
				d->final);
		goto fail;
	}
	if (errno != ENOENT) {
		rc = cb_err_set(err, CB_EIO, "cannot write %s: %s", d->final,
				strerror(errno));
		goto fail;
	}
	slash = strrchr(d->final, '/');
	base = slash ? slash + 1 : d->final;
	plen = slash ? (size_t)(slash - d->final) : 0;
	parent = slash ? (plen ? strndup(d->final, plen) : strdup("/"))
		       : strdup(".");
	if (!parent || !strcmp(base, ".") || !strcmp(base, "..")) {
		rc = parent ? cb_err_set(err, CB_EINVAL,
					 "%s: not a directory name", d->final)
			    : cb_err_set(err, CB_ENOMEM, "out of memory");
		goto fail;
	}
	if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
		rc = cb_err_set(err, CB_EIO,
				"cannot write %s: %s is not a directory",
				d->final, parent);
		goto fail;
	}
	n = strlen(parent) + strlen(base) + 32;
	d->tmp = malloc(n);
	if (!d->tmp) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(d->tmp, n, "%s/.%s.partial-XXXXXX", parent, base);
	if (!mkdtemp(d->tmp)) {
		rc = cb_err_set(err, CB_EIO, "cannot write in %s: %s", parent,
				strerror(errno));
		free(d->tmp);
		d->tmp = NULL;
		goto fail;
	}
	free(parent);
	*out = d;
	return 0;
fail:
	free(parent);
	cb_outdir_free(d);
	return rc;
}

static int dir_open(void *ctx, const char *name, struct cb_out **out,
		    struct cb_err *err)
{
	struct cb_outdir *d = ctx;
	struct dfile *f;
	char *path;
	size_t n;
	int rc;

	rc = name_ok(name, err);
	if (rc)
		return rc;
	if (d->nopen == CB_FILES_OPEN_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "more than %u export files open at once",
				  CB_FILES_OPEN_MAX);
	n = strlen(d->tmp) + strlen(name) + 2;
	f = calloc(1, sizeof(*f));
	path = malloc(n);
	if (!f || !path) {
		free(f);
		free(path);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	snprintf(path, n, "%s/%s", d->tmp, name);
	f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	free(path);
	if (f->fd < 0) {
		rc = cb_err_set(err, errno == EEXIST ? CB_EEXIST : CB_EIO,
				"cannot create %s: %s", name, strerror(errno));
		free(f);
		return rc;
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	cb_out_init_fd(&f->out, f->fd);
	d->open[d->nopen++] = f;
	*out = &f->out;
	return 0;
}

static int dir_close(void *ctx, struct cb_out *out, struct cb_err *err)
{
	struct cb_outdir *d = ctx;
	struct dfile *f = NULL;
	size_t i;
	int rc;

	for (i = 0; i < d->nopen; i++)
		if (&d->open[i]->out == out) {
			f = d->open[i];
			d->open[i] = d->open[--d->nopen];
			break;
		}
	if (!f)
		return cb_err_set(err, CB_EINVAL, "no such open export file");
	rc = cb_out_flush(&f->out, err);
	if (!rc && fsync(f->fd) != 0 && errno != EINVAL)
		rc =
		    cb_err_set(err, CB_EIO, "%s: %s", f->name, strerror(errno));
	if (close(f->fd) != 0 && !rc)
		rc =
		    cb_err_set(err, CB_EIO, "%s: %s", f->name, strerror(errno));
	if (rc)
		cb_err_prefix(err, "writing %s", f->name);
	cb_out_release(&f->out);
	free(f);
	return rc;
}

static char *dir_path(struct cb_outdir *d, const char *name, struct cb_err *err)
{
	size_t n = strlen(d->tmp) + strlen(name) + 2;
	char *path;

	if (name_ok(name, err))
		return NULL;
	path = malloc(n);
	if (!path) {
		cb_err_set(err, CB_ENOMEM, "out of memory");
		return NULL;
	}
	snprintf(path, n, "%s/%s", d->tmp, name);
	return path;
}

static int dir_append(void *ctx, const char *name, struct cb_out *to,
		      struct cb_err *err)
{
	struct cb_outdir *d = ctx;
	char *path = dir_path(d, name, err), *chunk;
	ssize_t n;
	int fd, rc = 0;

	if (!path)
		return err->code;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return cb_err_set(err, CB_EIO, "cannot read %s: %s", name,
				  strerror(errno));
	chunk = malloc(CB_OUT_BUF);
	if (!chunk) {
		close(fd);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	for (;;) {
		n = read(fd, chunk, CB_OUT_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cb_err_set(err, CB_EIO, "reading %s: %s", name,
					strerror(errno));
			break;
		}
		if (!n)
			break;
		cb_out_write(to, chunk, (size_t)n);
	}
	free(chunk);
	close(fd);
	return rc;
}

static int dir_remove(void *ctx, const char *name, struct cb_err *err)
{
	char *path = dir_path(ctx, name, err);
	int rc = 0;

	if (!path)
		return err->code;
	if (unlink(path) != 0)
		rc = cb_err_set(err, CB_EIO, "cannot remove %s: %s", name,
				strerror(errno));
	free(path);
	return rc;
}

struct cb_files cb_outdir_files(struct cb_outdir *d)
{
	struct cb_files f = {dir_open, dir_close, dir_append, dir_remove, d};

	return f;
}

/* rename(2) that never replaces: renameat2 where the kernel and the file
 * system have it, else a check just before (a small window). */
static int rename_new(const char *from, const char *to)
{
	long r = syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to,
			 OUTDIR_RENAME_NOREPLACE);
	struct stat st;

	if (r == 0 || (errno != ENOSYS && errno != EINVAL))
		return (int)r;
	if (lstat(to, &st) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

int cb_outdir_commit(struct cb_outdir *d, struct cb_err *err)
{
	struct cb_err e2;
	int rc = 0;

	while (d->nopen) {
		cb_err_clear(&e2);
		if (dir_close(d, &d->open[0]->out, &e2) && !rc)
			rc = cb_err_set(err, e2.code, "%s", e2.msg);
	}
	if (rc)
		return rc;
	if (rename_new(d->tmp, d->final) != 0)
		return cb_err_set(err, errno == EEXIST ? CB_EEXIST : CB_EIO,
				  "cannot make %s: %s", d->final,
				  errno == EEXIST ? "it exists now"
						  : strerror(errno));
	d->committed = 1;
	return 0;
}

/* Remove the temporary directory: only files, as the export made it. */
static void remove_tmp(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *e;

	if (dh) {
		while ((e = readdir(dh))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			unlinkat(dirfd(dh), e->d_name, 0);
		}
		closedir(dh);
	}
	rmdir(dir);
}

void cb_outdir_free(struct cb_outdir *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->nopen; i++) {
		close(d->open[i]->fd);
		cb_out_release(&d->open[i]->out);
		free(d->open[i]);
	}
	if (d->tmp && !d->committed)
		remove_tmp(d->tmp);
	free(d->tmp);
	free(d->final);
	free(d);
}

/* ---- one file ---------------------------------------------------------------
 */

struct cb_outfile {
	char *final, *tmp;
	int fd, committed;
	struct cb_out out;
};

int cb_outfile_open(const char *path, struct cb_outfile **out,
		    struct cb_err *err)
{
	struct cb_outfile *f;
	const char *slash = strrchr(path, '/'), *base;
	struct stat st;
	size_t n;
	int rc;

	*out = NULL;
	if (!*path)
		return cb_err_set(err, CB_EINVAL, "no output file given");
	if (lstat(path, &st) == 0)
		return cb_err_set(err, CB_EEXIST,
				  "%s already exists: give a new file name "
				  "(nothing is ever written over)",
				  path);
	base = slash ? slash + 1 : path;
	if (!*base)
		return cb_err_set(err, CB_EINVAL, "%s: not a file name", path);
	f = calloc(1, sizeof(*f));
	n = strlen(path) + 32;
	if (!f || !(f->final = strdup(path)) || !(f->tmp = malloc(n))) {
		if (f)
			free(f->final);
		free(f);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	snprintf(f->tmp, n, "%.*s.%s.partial-XXXXXX",
		 (int)(slash ? (size_t)(slash - path) + 1 : 0), path, base);
	f->fd = mkstemp(f->tmp);
	if (f->fd < 0) {
		rc = cb_err_set(err, CB_EIO, "cannot write %s: %s", path,
				strerror(errno));
		free(f->tmp);
		f->tmp = NULL;
		cb_outfile_free(f);
		return rc;
	}
	cb_out_init_fd(&f->out, f->fd);
	*out = f;
	return 0;
}

struct cb_out *cb_outfile_out(struct cb_outfile *f)
{
	return &f->out;
}

int cb_outfile_commit(struct cb_outfile *f, struct cb_err *err)
{
	int rc;

	rc = cb_out_flush(&f->out, err);
	if (!rc && fsync(f->fd) != 0 && errno != EINVAL)
		rc = cb_err_set(err, CB_EIO, "%s: %s", f->final,
				strerror(errno));
	if (close(f->fd) != 0 && !rc)
		rc = cb_err_set(err, CB_EIO, "%s: %s", f->final,
				strerror(errno));
	f->fd = -1;
	if (rc)
		return rc;
	/* link(2) never replaces: the new name appears whole, or not. */
	if (link(f->tmp, f->final) != 0)
		return cb_err_set(err, errno == EEXIST ? CB_EEXIST : CB_EIO,
				  "cannot make %s: %s", f->final,
				  errno == EEXIST ? "it exists now"
						  : strerror(errno));
	f->committed = 1;
	unlink(f->tmp);
	return 0;
}

void cb_outfile_free(struct cb_outfile *f)
{
	if (!f)
		return;
	if (f->fd >= 0 && f->tmp)
		close(f->fd);
	if (f->tmp && !f->committed)
		unlink(f->tmp);
	cb_out_release(&f->out);
	free(f->tmp);
	free(f->final);
	free(f);
}

/* ---- in memory ------------------------------------------------------------
 */

struct mfile {
	char name[CB_FILES_NAME_MAX + 1];
	struct cb_buf data;
	struct cb_out out;
	int open;
};

struct cb_memfiles {
	struct mfile **files;
	size_t n, cap, max;
};

struct cb_memfiles *cb_memfiles_new(size_t max)
{
	struct cb_memfiles *m = calloc(1, sizeof(*m));

	if (m)
		m->max = max;
	return m;
}

void cb_memfiles_free(struct cb_memfiles *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++) {
		cb_out_release(&m->files[i]->out);
		cb_buf_free(&m->files[i]->data);
		free(m->files[i]);
	}
	free(m->files);
	free(m);
}

static struct mfile *mem_find(const struct cb_memfiles *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->files[i]->name, name))
			return m->files[i];
	return NULL;
}

static int mem_open(void *ctx, const char *name, struct cb_out **out,
		    struct cb_err *err)
{
	struct cb_memfiles *m = ctx;
	struct mfile *f;
	int rc;

	rc = name_ok(name, err);
	if (rc)
		return rc;
	if (mem_find(m, name))
		return cb_err_set(err, CB_EEXIST, "%s exists", name);
	rc = cb_array_grow((void **)&m->files, &m->cap, m->n + 1,
			   sizeof(*m->files), CB_FILES_OPEN_MAX * 16, "files",
			   err);
	if (rc)
		return rc;
	f = calloc(1, sizeof(*f));
	if (!f)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	snprintf(f->name, sizeof(f->name), "%s", name);
	cb_buf_init(&f->data, m->max);
	cb_out_init_buf(&f->out, &f->data);
	f->open = 1;
	m->files[m->n++] = f;
	*out = &f->out;
	return 0;
}

static int mem_close(void *ctx, struct cb_out *out, struct cb_err *err)
{
	struct cb_memfiles *m = ctx;
	size_t i;
	int rc;

	for (i = 0; i < m->n; i++)
		if (&m->files[i]->out == out && m->files[i]->open) {
			m->files[i]->open = 0;
			rc = cb_out_flush(out, err);
			cb_out_release(out);
			return rc;
		}
	return cb_err_set(err, CB_EINVAL, "no such open file");
}

static int mem_append(void *ctx, const char *name, struct cb_out *to,
		      struct cb_err *err)
{
	struct mfile *f = mem_find(ctx, name);

	if (!f || f->open)
		return cb_err_set(err, CB_ENOTFOUND, "no closed file %s", name);
	cb_out_write(to, cb_buf_str(&f->data), cb_buf_len(&f->data));
	return 0;
}

static int mem_remove(void *ctx, const char *name, struct cb_err *err)
{
	struct cb_memfiles *m = ctx;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->files[i]->name, name) && !m->files[i]->open) {
			cb_buf_free(&m->files[i]->data);
			free(m->files[i]);
			memmove(&m->files[i], &m->files[i + 1],
				(m->n - i - 1) * sizeof(*m->files));
			m->n--;
			return 0;
		}
	return cb_err_set(err, CB_ENOTFOUND, "no closed file %s", name);
}

struct cb_files cb_memfiles_files(struct cb_memfiles *m)
{
	struct cb_files f = {mem_open, mem_close, mem_append, mem_remove, m};

	return f;
}

const char *cb_memfiles_get(const struct cb_memfiles *m, const char *name,
			    size_t *len)
{
	struct mfile *f = mem_find(m, name);

	if (!f)
		return NULL;
	if (len)
		*len = cb_buf_len(&f->data);
	return cb_buf_str(&f->data);
}

size_t cb_memfiles_count(const struct cb_memfiles *m)
{
	return m->n;
}

const char *cb_memfiles_name(const struct cb_memfiles *m, size_t i)
{
	return i < m->n ? m->files[i]->name : NULL;
}
