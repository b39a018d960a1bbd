/*
 * studyday.c - study day and treatment-emergence (studyday.h).
 */
#include "studyday.h"

#include <inttypes.h>
#include <stdio.h>

#include "date.h"

int cb_study_day(const char *value, const char *first_dose,
		 char out[CB_STUDY_DAY_BUF])
{
	struct cb_date d, ref;
	int64_t day;

	out[0] = '\0';
	if (!first_dose || !*first_dose || cb_date_parse_any(value, &d) ||
	    cb_date_parse_any(first_dose, &ref) ||
	    cb_date_study_day(&d, &ref, &day))
		return 0;
	snprintf(out, CB_STUDY_DAY_BUF, "%" PRId64, day);
	return 1;
}

int cb_treatment_emergent(const char *onset, const char *first_dose)
{
	struct cb_date d, ref;

	if (!first_dose || !*first_dose || cb_date_parse_any(first_dose, &ref))
		return 0;
	if (cb_date_parse_any(onset, &d))
		return 1;
	return cb_date_compare(&d, &ref) != CB_DATE_BEFORE;
}
