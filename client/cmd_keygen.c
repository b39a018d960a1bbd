/*
 * cmd_keygen.c - `casebook keygen --out FILE`: the trial unblinding key
 * pair, made once by the independent statistician (DESIGN.md section 5).
 *
 * Every arm of the randomization list is sealed to the public key; the
 * secret, kept offline under a passphrase, opens the whole list (for the
 * statistician's reveal and the DSMB's closed report). The file formats
 * are in common/randlist.h and docs/randlist.md.
 */
#include "cli.h"
#include "fileio.h"
#include "pass.h"
#include "randlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_keygen_help[] =
    "usage: casebook keygen --out FILE [--passphrase-file PFILE]\n"
    "\n"
    "Make the trial unblinding key pair (X25519). The secret goes to FILE,\n"
    "wrapped under a passphrase (Argon2id), and the public key to\n"
    "FILE.pub; the public key is also printed. Give FILE.pub to whoever\n"
    "generates the randomization list ('casebook randlist generate\n"
    "--unblinding-pub FILE.pub'); keep FILE and its passphrase offline,\n"
    "with the unblinded statistician. Existing files are never\n"
    "overwritten.\n"
    "\n"
    "The passphrase (at least 8 characters) comes from PFILE (its first\n"
    "line), else the global --passphrase-file, else\n"
    "$CASEBOOK_NEW_PASSPHRASE, else it is asked twice on the terminal.\n"
    "No local store is needed.\n"
    "\n"
    "Example:\n"
    "  casebook keygen --out unblind.key\n"
    "\n"
    "Exit codes: 0 written; 1 failure (a file exists, passphrase too\n"
    "short or the two differ); 2 usage.\n";

int cmd_keygen(int argc, char **argv, struct cli_global *g)
{
	const char *out = NULL, *pfile = NULL;
	char *pub_path = NULL, *pass = NULL, *pub_text = NULL;
	char *key_text = NULL;
	char pub_hex[CB_HEX_SIZE(32)];
	size_t pass_len = 0, n;
	struct cb_err err;
	int i, rc;

	cb_err_clear(&err);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--passphrase-file") && i + 1 < argc)
			pfile = argv[++i];
		else
			return cli_usage("keygen", "unexpected argument '%s'",
					 argv[i]);
	}
	if (!out)
		return cli_usage("keygen", "--out FILE is required");
	if (!pfile)
		pfile = g->passphrase_file;
	n = strlen(out) + 5;
	pub_path = malloc(n);
	if (!pub_path)
		return cli_error("out of memory");
	snprintf(pub_path, n, "%s.pub", out);
	if (!access(out, F_OK) || !access(pub_path, F_OK)) {
		rc = cli_error("%s exists; keygen never overwrites a key",
			       !access(out, F_OK) ? out : pub_path);
		goto done;
	}
	rc = pass_get_new(pfile, PASS_NEW_ENV,
			  "New passphrase for the unblinding key: ", &pass,
			  &pass_len, &err);
	if (!rc) {
		pass_warn_test_cost("the unblinding key");
		rc = cb_unblind_key_create(pass, pass_len, &pub_text, &key_text,
					   pub_hex, &err);
	}
	if (!rc)
		rc = fileio_write_new(out, key_text, strlen(key_text), 0600,
				      &err);
	if (!rc) {
		rc = fileio_write_new(pub_path, pub_text, strlen(pub_text),
				      0644, &err);
		if (rc)
			unlink(out);
	}
	if (rc) {
		rc = cli_fail(&err);
		goto done;
	}
	printf("unblinding public key: %s\n", pub_hex);
	printf("wrote %s (secret: keep it offline) and %s\n", out, pub_path);
	rc = EXIT_OK;
done:
	if (key_text)
		cb_wipe_free(key_text, strlen(key_text));
	free(pub_text);
	pass_free(pass);
	free(pub_path);
	return rc;
}
