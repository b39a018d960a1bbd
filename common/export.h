/*
 * export.h - the statistician's exports (DESIGN.md section 8,
 * docs/exports.md): the record of a feed (feed.h) written as files in
 * one of four formats.
 *
 *   csv    one file per form (FORM.csv: one row per subject, visit and
 *          repeat instance; item columns in protocol order, the study
 *          day of each date, derived scores), dictionary.csv,
 *          codelists.csv, subjects.csv, conflicts.csv
 *   odm    CDISC ODM 1.3.2: odm-snapshot.xml (current values) and
 *          odm-transactional.xml (every change with its AuditRecord,
 *          every e-signature, AdminData)
 *   sdtm   SDTM-shaped DM.csv, AE.csv and SUPPAE.csv
 *   jsonl  events.jsonl: every event, one per line, as stored
 *
 * and in each, export.json: the format, study, protocol version and
 * SHA-256, site, the data cut-off, counts and the files written.
 *
 * Exports are blinded, always: the feed is asked without unblinded
 * items, and nothing in a feed carries an arm, so no arm, sealed arm or
 * unblinded value can reach a file. Items the protocol marks unblinded
 * are left out of the data and the metadata alike, and export.json
 * names them as withheld (they are not missing).
 *
 * Memory holds one subject at a time (the feed's), whatever the size
 * of the study; the ODM files are assembled from spooled parts, since
 * their AdminData (who signed, which sites) must come before the data
 * it describes.
 */
#ifndef CB_EXPORT_H
#define CB_EXPORT_H

#include <stddef.h>

#include "err.h"
#include "feed.h"
#include "outdir.h"
#include "protocol.h"

enum cb_export_format {
	CB_EXPORT_CSV,
	CB_EXPORT_ODM,
	CB_EXPORT_SDTM,
	CB_EXPORT_JSONL,
};

/* The format named `name` ("csv", "odm", "sdtm", "jsonl"): 0, or
 * CB_EINVAL naming the formats there are. */
int cb_export_format_parse(const char *name, enum cb_export_format *out,
			   struct cb_err *err);
const char *cb_export_format_name(enum cb_export_format f);

struct cb_export_opts {
	enum cb_export_format format;
	const char *site;   /* NULL: every site */
	const char *cutoff; /* cutoff.h form: events received by then;
			       NULL: every event */
	/*
	 * The data cut-off every output states: the cut-off when there is
	 * one, else the time the export began (every event received by
	 * then). Required.
	 */
	const char *asof;
	const char *source; /* the program, "casebookd 0.1.0" */
	/* When the export was made (ODM's CreationDateTime); NULL: asof.
	 * Nothing else depends on it, so the same data as of the same
	 * cut-off gives the same files. */
	const char *created;
};

/* What an export wrote. */
struct cb_export_stats {
	size_t subjects;
	size_t rows;   /* data rows of every CSV file */
	size_t values; /* item values written (csv: cells with a value) */
	size_t events; /* jsonl: events; odm: audit records */
	size_t files;
};

/*
 * Write the export of `feed` (the record of `p`) as `o` says into
 * `files`, and fill *st (may be NULL). Returns 0; CB_ENOTFOUND when a
 * cut-off was given and no subject had an event received by then (so
 * the cut-off is before the first event); the feed's errors; or the
 * files' (CB_EIO). On failure some files may have been written: the
 * caller discards them (cb_outdir_free).
 */
int cb_export(const struct cb_protocol *p, const struct cb_feed *feed,
	      const struct cb_export_opts *o, const struct cb_files *files,
	      struct cb_export_stats *st, struct cb_err *err);

#endif
