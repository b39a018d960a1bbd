/*
 * fileio.c - files written for people to keep (see fileio.h).
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fileio_write_new(const char *path, const void *data, size_t len, int mode,
		     struct cb_err *err)
{
	const char *p = data;
	int fd =
	    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);

	if (fd < 0)
		return cb_err_set(err, errno == EEXIST ? CB_EEXIST : CB_EIO,
				  "cannot create %s: %s", path,
				  strerror(errno));
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;

			close(fd);
			unlink(path);
			return cb_err_set(err, CB_EIO, "writing %s: %s", path,
					  strerror(e));
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) || close(fd)) {
		unlink(path);
		return cb_err_set(err, CB_EIO, "writing %s: %s", path,
				  strerror(errno));
	}
	return 0;
}
