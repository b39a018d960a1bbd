/*
 * arms.h - the randomized subjects' arms, opened on a DSMB member's
 * machine (cmd_arms.c, DESIGN.md section 5): the sealed arms come from
 * the central server (GET /v1/arms, DSMB devices only) and are opened
 * here with the trial unblinding secret key. `casebook arms` prints
 * them; `casebook report safety --closed` gives them to the report.
 */
#ifndef CB_ARMS_H
#define CB_ARMS_H

#include "err.h"
#include "store.h"

/* Where the unblinding key's passphrase comes from without a file. */
#define ARMS_PASS_ENV "CASEBOOK_UNBLIND_PASSPHRASE"

/*
 * Unlock the unblinding key in file `key` (its passphrase from the
 * first line of `pass_file`, else $ARMS_PASS_ENV, else asked on the
 * terminal), fetch every randomized subject's sealed arm through the
 * server `st` is registered with (`cacert`: NULL for the one given at
 * init), open each and call fn(ctx, subject, site, randno, arm) once
 * per subject, in the server's order; the opened arm is wiped after
 * the call. fn returning non-zero stops and is returned. CB_EAUTH for a
 * wrong key passphrase or key, CB_EFORBIDDEN when the server refuses
 * the device, CB_EINVAL for a store not registered with a server or an
 * answer that is not the documented one; the network's errors.
 */
int arms_open_all(struct store *st, const char *key, const char *pass_file,
		  const char *cacert,
		  int (*fn)(void *ctx, const char *subject, const char *site,
			    const char *randno, const char *arm),
		  void *ctx, struct cb_err *err);

#endif
