/*
 * cutoff.h - the data cut-off of an export or a report, as people type
 * it and as received times are stored.
 *
 * Every event the server stores carries its received time (UTC,
 * "YYYY-MM-DDTHH:MM:SS.mmmZ"); an export or report "as of" a cut-off
 * reads only the events received at or before it (feed.h). People give
 * a cut-off as a date, meaning the end of that UTC day (every event
 * received that day is in), or as a UTC time to the minute, second or
 * millisecond, with its Z.
 */
#ifndef CB_CUTOFF_H
#define CB_CUTOFF_H

#include "clock.h"
#include "err.h"

/*
 * Read `text` ("2026-03-31", "2026-03-31T18:00Z", "2026-03-31T18:00:05Z"
 * or "2026-03-31T18:00:05.250Z") into `out` as the stored form
 * ("2026-03-31T23:59:59.999Z" for the first). Returns 0, or CB_EINVAL
 * with a message quoting the text and saying what is accepted.
 */
int cb_cutoff_parse(const char *text, char out[CB_CLOCK_UTC_BUF],
		    struct cb_err *err);

#endif
