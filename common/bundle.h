/*
 * bundle.h - the framing of sync bundles and their replies, the files a
 * site with no network carries to the server and back (docs/bundles.md).
 *
 * A file is four parts:
 *
 *   MAGIC "\n" DEVICE "\n" SIGNATURE "\n" PAYLOAD
 *
 * MAGIC names the kind (CB_BUNDLE_MAGIC from a device, CB_REPLY_MAGIC
 * from the server), DEVICE is the 32-hex device id, SIGNATURE the
 * Ed25519ph signature (crypto.h's cb_sign_stream; 128 lowercase hex) over
 * MAGIC "\n" DEVICE "\n" PAYLOAD, made in one pass however large, by the device
 * for a bundle and by the server for a reply, and PAYLOAD the JSON document.
 * The device signs with its store's key and the server with its own, so this
 * module takes and gives signatures, not keys.
 */
#ifndef CB_BUNDLE_H
#define CB_BUNDLE_H

#include <stddef.h>

#include "crypto.h"
#include "err.h"

/* Version 2: signed with Ed25519ph. Version 1 files (pure Ed25519) are
 * refused by name (CB_BUNDLE_MAGIC_V1): the device exports again. */
#define CB_BUNDLE_MAGIC "casebook-bundle/2"
#define CB_REPLY_MAGIC "casebook-reply/2"
#define CB_BUNDLE_MAGIC_V1 "casebook-bundle/1"
#define CB_REPLY_MAGIC_V1 "casebook-reply/1"
#define CB_BUNDLE_DEVICE_HEX 32

/*
 * The bytes a signature covers, MAGIC "\n" DEVICE "\n" PAYLOAD, in a
 * malloc'd NUL-terminated string (*len bytes). NULL when out of memory.
 */
char *cb_bundle_signed_text(const char *magic, const char *device,
			    const char *payload, size_t plen, size_t *len);

/*
 * Split a file of kind `magic` into its device (copied out), signature
 * (decoded) and payload (pointing into buf). 0, or -1 for a file of
 * another kind or shape.
 */
int cb_bundle_split(const char *magic, const char *buf, size_t len,
		    char device[CB_BUNDLE_DEVICE_HEX + 1],
		    unsigned char sig[CB_SIGNATURE_BYTES], const char **payload,
		    size_t *plen);

/*
 * 0 when `path` may receive a file of kind `magic`: nothing is there, or
 * a regular file (not a symbolic link) that starts with the same magic
 * line, an older bundle or reply the new one replaces. CB_EEXIST with a
 * message naming the path otherwise (a link, a directory, a store or any
 * other file: a mistyped path must never destroy data); CB_EINVAL for a
 * path too long; CB_EIO when the path cannot be examined. Callers that
 * change stored state before writing check first, so a refused path
 * leaves nothing half done.
 */
int cb_bundle_target_check(const char *path, const char *magic,
			   struct cb_err *err);

/*
 * Write a file of kind `magic` to `path` (mode 0600) through a new
 * temporary file of a random name beside it (created exclusively), fsync
 * and rename, so a reader never sees half a file and a link planted
 * beside the target cannot redirect the write. The target is first
 * checked with cb_bundle_target_check. CB_EIO naming the path,
 * CB_EEXIST, CB_EINVAL as there.
 */
int cb_bundle_write(const char *path, const char *magic, const char *device,
		    const unsigned char sig[CB_SIGNATURE_BYTES],
		    const char *payload, size_t plen, struct cb_err *err);

/*
 * A file of kind `magic` written as a stream, for payloads too large to
 * hold: cb_bundle_out_open writes the header with room for the
 * signature (to a new temporary file of a random name beside `path`,
 * after cb_bundle_target_check), cb_bundle_out_write
 * appends payload bytes, and cb_bundle_out_close puts the signature in
 * its place, syncs and renames the file into place, so a reader never
 * sees half a file; cb_bundle_out_abort removes it. The signature covers
 * MAGIC "\n" DEVICE "\n" and the payload as written (the caller signs
 * them as they go, crypto.h's cb_sign_stream). CB_EIO naming the path,
 * CB_EEXIST and CB_EINVAL as cb_bundle_target_check.
 */
struct cb_bundle_out {
	int fd;
	char path[4097], tmp[4105];
	long long sig_at; /* offset of the signature's hex */
};
int cb_bundle_out_open(struct cb_bundle_out *o, const char *path,
		       const char *magic, const char *device,
		       struct cb_err *err);
int cb_bundle_out_write(struct cb_bundle_out *o, const void *p, size_t n,
			struct cb_err *err);
int cb_bundle_out_close(struct cb_bundle_out *o,
			const unsigned char sig[CB_SIGNATURE_BYTES],
			struct cb_err *err);
void cb_bundle_out_abort(struct cb_bundle_out *o);

/*
 * Open a file of kind `magic` for reading as a stream: its device
 * (copied out) and signature (decoded), *fd (close it) positioned at the
 * payload's first byte, *payload_at that offset. CB_EINVAL (-1 as
 * cb_bundle_split) for a file of another kind or shape, CB_EIO when it
 * cannot be read.
 */
int cb_bundle_in_open(const char *path, const char *magic,
		      char device[CB_BUNDLE_DEVICE_HEX + 1],
		      unsigned char sig[CB_SIGNATURE_BYTES], int *fd,
		      long long *payload_at, struct cb_err *err);

#endif
