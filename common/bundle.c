/*
 * bundle.c - the framing of sync bundles and replies (see bundle.h).
 */
#include "bundle.h"

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

static int is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
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
	    !is_lower_hex(p, CB_BUNDLE_DEVICE_HEX))
		return -1;
	memcpy(device, p, CB_BUNDLE_DEVICE_HEX);
	device[CB_BUNDLE_DEVICE_HEX] = '\0';
	p += CB_BUNDLE_DEVICE_HEX + 1;
	if (p[CB_SIGNATURE_BYTES * 2] != '\n' ||
	    !is_lower_hex(p, CB_SIGNATURE_BYTES * 2) ||
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
