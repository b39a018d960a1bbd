/*
 * bundle.c - the framing of sync bundles and replies (see bundle.h).
 */
#include "bundle.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest path written. */
#define PATH_CAP 4096

char *cb_bundle_signed_text(const char *magic, const char *device,
			    const char *payload, size_t plen, size_t *len)
{
	size_t ml = strlen(magic), dl = strlen(device);
	char *t = malloc(ml + dl + plen + 3);

	if (!t)
		return NULL;
	memcpy(t, magic, ml);
	t[ml] = '\n';
	memcpy(t + ml + 1, device, dl);
	t[ml + 1 + dl] = '\n';
	memcpy(t + ml + dl + 2, payload, plen);
	*len = ml + dl + plen + 2;
	t[*len] = '\0';
	return t;
}

int cb_bundle_split(const char *magic, const char *buf, size_t len,
		    char device[CB_BUNDLE_DEVICE_HEX + 1],
		    unsigned char sig[CB_SIGNATURE_BYTES], const char **payload,
		    size_t *plen)
{
	size_t m = strlen(magic);
	const char *p = buf;
	struct cb_err err;

	if (len < m + 1 || memcmp(p, magic, m) || p[m] != '\n')
		return -1;
	p += m + 1;
	if ((size_t)(buf + len - p) <
		CB_BUNDLE_DEVICE_HEX + 1 + CB_SIGNATURE_BYTES * 2 + 1 ||
	    p[CB_BUNDLE_DEVICE_HEX] != '\n' ||
	    !cb_hex_lower_prefix(p, CB_BUNDLE_DEVICE_HEX))
		return -1;
	memcpy(device, p, CB_BUNDLE_DEVICE_HEX);
	device[CB_BUNDLE_DEVICE_HEX] = '\0';
	p += CB_BUNDLE_DEVICE_HEX + 1;
	if (p[CB_SIGNATURE_BYTES * 2] != '\n' ||
	    !cb_hex_lower_prefix(p, CB_SIGNATURE_BYTES * 2) ||
	    cb_hex_decode(p, CB_SIGNATURE_BYTES * 2, sig, CB_SIGNATURE_BYTES,
			  NULL, &err))
		return -1;
	p += CB_SIGNATURE_BYTES * 2 + 1;
	*payload = p;
	*plen = (size_t)(buf + len - p);
	return 0;
}

int cb_bundle_target_check(const char *path, const char *magic,
			   struct cb_err *err)
{
	char head[64];
	size_t ml = strlen(magic);
	struct stat sb;
	ssize_t n;
	int fd;

	/* The magic and its newline are read into head. */
	assert(ml < sizeof(head));
	if (strlen(path) > PATH_CAP)
		return cb_err_set(err, CB_EINVAL, "path is too long");
	if (lstat(path, &sb)) {
		if (errno == ENOENT)
			return 0;
		return cb_err_set(err, CB_EIO, "cannot write %s: %s", path,
				  strerror(errno));
	}
	/* rename() would replace the link itself, but whoever planted it
	 * meant the file to land somewhere else: say so instead. */
	if (S_ISLNK(sb.st_mode))
		return cb_err_set(err, CB_EEXIST,
				  "%s is a symbolic link; not written there "
				  "(give the path of a new file)",
				  path);
	if (!S_ISREG(sb.st_mode))
		return cb_err_set(err, CB_EEXIST,
				  "%s exists and is not a regular file; not "
				  "written there",
				  path);
	/* Only an older file of the same kind is replaced: never a store,
	 * a database or anything else the path happens to name. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, head, ml + 1);
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)(ml + 1) || memcmp(head, magic, ml) ||
	    head[ml] != '\n')
		return cb_err_set(err, CB_EEXIST,
				  "%s exists and is not a %s file; not "
				  "overwritten (choose another name, or "
				  "remove it first)",
				  path, magic);
	return 0;
}

int cb_bundle_write(const char *path, const char *magic, const char *device,
		    const unsigned char sig[CB_SIGNATURE_BYTES],
		    const char *payload, size_t plen, struct cb_err *err)
{
	char tmp[PATH_CAP + 16], head[256];
	char sig_hex[CB_SIGNATURE_BYTES * 2 + 1];
	size_t hlen;
	int fd, ok, rc;

	rc = cb_hex_encode(sig, CB_SIGNATURE_BYTES, sig_hex, sizeof(sig_hex),
			   err);
	if (rc)
		return rc;
	hlen = (size_t)snprintf(head, sizeof(head), "%s\n%.32s\n%s\n", magic,
				device, sig_hex);
	rc = cb_bundle_target_check(path, magic, err);
	if (rc)
		return rc;
	/* A new file of a name nobody could have prepared: mkstemp creates
	 * it exclusively (O_EXCL, mode 0600), so a link planted at a
	 * predictable temporary name cannot send the clinical data, or the
	 * truncation, into another file. */
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return cb_err_set(err, CB_EIO, "cannot create %s: %s", tmp,
				  strerror(errno));
	ok = write(fd, head, hlen) == (ssize_t)hlen &&
	     write(fd, payload, plen) == (ssize_t)plen && fsync(fd) == 0;
	if (close(fd))
		ok = 0;
	if (!ok || rename(tmp, path)) {
		int e = errno;

		unlink(tmp);
		return cb_err_set(err, CB_EIO, "cannot write %s: %s", path,
				  strerror(e));
	}
	return 0;
}

int cb_bundle_out_open(struct cb_bundle_out *o, const char *path,
		       const char *magic, const char *device,
		       struct cb_err *err)
{
	char head[256], zeros[CB_SIGNATURE_BYTES * 2];
	int n;

	o->fd = -1;
	o->tmp[0] = '\0';
	if (cb_bundle_target_check(path, magic, err))
		return err->code;
	snprintf(o->path, sizeof(o->path), "%s", path);
	n = snprintf(head, sizeof(head), "%s\n%.32s\n", magic, device);
	if (n < 0 || (size_t)n >= sizeof(head))
		return cb_err_set(err, CB_EINVAL, "bad bundle header");
	o->sig_at = n;
	/* Created exclusively under a random name, as cb_bundle_write. */
	snprintf(o->tmp, sizeof(o->tmp), "%s.XXXXXX", path);
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0)
		return cb_err_set(err, CB_EIO, "cannot create %s: %s", o->tmp,
				  strerror(errno));
	/* The signature's place, filled in at the end. */
	memset(zeros, '0', sizeof(zeros));
	if (cb_bundle_out_write(o, head, (size_t)n, err) ||
	    cb_bundle_out_write(o, zeros, sizeof(zeros), err) ||
	    cb_bundle_out_write(o, "\n", 1, err)) {
		cb_bundle_out_abort(o);
		return err->code;
	}
	return 0;
}

int cb_bundle_out_write(struct cb_bundle_out *o, const void *p, size_t n,
			struct cb_err *err)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(o->fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return cb_err_set(err, CB_EIO, "cannot write %s: %s",
					  o->path, strerror(errno));
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int cb_bundle_out_close(struct cb_bundle_out *o,
			const unsigned char sig[CB_SIGNATURE_BYTES],
			struct cb_err *err)
{
	char hex[CB_SIGNATURE_BYTES * 2 + 1];
	int ok, rc;

	rc = cb_hex_encode(sig, CB_SIGNATURE_BYTES, hex, sizeof(hex), err);
	if (rc) {
		cb_bundle_out_abort(o);
		return rc;
	}
	ok = pwrite(o->fd, hex, CB_SIGNATURE_BYTES * 2, (off_t)o->sig_at) ==
		 (ssize_t)(CB_SIGNATURE_BYTES * 2) &&
	     fsync(o->fd) == 0;
	if (close(o->fd))
		ok = 0;
	o->fd = -1;
	if (!ok || rename(o->tmp, o->path)) {
		int e = errno;

		unlink(o->tmp);
		return cb_err_set(err, CB_EIO, "cannot write %s: %s", o->path,
				  strerror(e));
	}
	return 0;
}

void cb_bundle_out_abort(struct cb_bundle_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp[0])
		unlink(o->tmp);
}

int cb_bundle_in_open(const char *path, const char *magic,
		      char device[CB_BUNDLE_DEVICE_HEX + 1],
		      unsigned char sig[CB_SIGNATURE_BYTES], int *fd,
		      long long *payload_at, struct cb_err *err)
{
	/* The header is at most the magic and two fixed-size lines. */
	char head[256 + CB_BUNDLE_DEVICE_HEX + CB_SIGNATURE_BYTES * 2 + 3];
	const char *payload;
	size_t plen, have = 0;
	ssize_t n;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return cb_err_set(err, CB_EIO, "cannot read %s: %s", path,
				  strerror(errno));
	while (have < sizeof(head)) {
		n = read(*fd, head + have, sizeof(head) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	if (strlen(magic) > 255 ||
	    cb_bundle_split(magic, head, have, device, sig, &payload, &plen) ||
	    lseek(*fd, (off_t)(payload - head), SEEK_SET) < 0) {
		close(*fd);
		*fd = -1;
		return cb_err_set(err, CB_EINVAL, "%s is not a file of kind %s",
				  path, magic);
	}
	*payload_at = (long long)(payload - head);
	return 0;
}
