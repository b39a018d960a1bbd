/*
 * cutoff.c - reading a data cut-off (cutoff.h).
 */
#include "cutoff.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int cb_cutoff_parse(const char *text, char out[CB_CLOCK_UTC_BUF],
		    struct cb_err *err)
{
	char full[CB_CLOCK_UTC_BUF], q[64];
	size_t n = text ? strlen(text) : 0;
	struct cb_err ignored;
	int64_t ms;

	out[0] = '\0';
	if (n == 10)
		snprintf(full, sizeof(full), "%sT23:59:59.999Z", text);
	else if (n == 17 && text[16] == 'Z')
		snprintf(full, sizeof(full), "%.16s:00.000Z", text);
	else if (n == 20 && text[19] == 'Z')
		snprintf(full, sizeof(full), "%.19s.000Z", text);
	else if (n == CB_CLOCK_UTC_LEN)
		snprintf(full, sizeof(full), "%s", text);
	else
		full[0] = '\0';
	if (!full[0] || cb_clock_parse_utc(full, &ms, &ignored)) {
		cb_err_quote(text ? text : "", q, sizeof(q));
		return cb_err_set(err, CB_EINVAL,
				  "cut-off \"%s\": expected a date "
				  "(YYYY-MM-DD, the end of that UTC day) or "
				  "a UTC time (YYYY-MM-DDTHH:MM[:SS[.mmm]]Z)",
				  q);
	}
	memcpy(out, full, CB_CLOCK_UTC_LEN + 1);
	return 0;
}
