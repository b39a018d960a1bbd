/*
 * studyday.h - the two clinical rules every export and report applies
 * to dates (TRIAL.md, issue 13 point 3): the study day, and whether an
 * adverse event is treatment-emergent.
 *
 * Study day follows CDISC: the first dose date is day 1, the day before
 * it day -1; there is no day 0. It is given only for a full date (a date
 * or a date-time's date) of a dosed subject; a partial date has none.
 *
 * Treatment-emergent: onset on or after the first dose date. A partial
 * onset counts as treatment-emergent unless it is certainly before the
 * dose (2026-03 is, for a dose on 2026-04-02; it is not for a dose on
 * 2026-03-10), and so does a missing or conflicted onset, since nothing
 * shows it began before the dose. An AE of a subject never dosed is not
 * treatment-emergent.
 */
#ifndef CB_STUDYDAY_H
#define CB_STUDYDAY_H

/* Room for the text of a study day ("-3650000" and the NUL). */
#define CB_STUDY_DAY_BUF 16

/*
 * The study day of `value` (a date, a partial date or a date-time; NULL
 * allowed) for a subject first dosed on `first_dose` (a date or a
 * date-time; NULL or "" when not dosed), as decimal text in `out`, or ""
 * when there is none. Returns 1 when there is one, else 0.
 */
int cb_study_day(const char *value, const char *first_dose,
		 char out[CB_STUDY_DAY_BUF]);

/*
 * 1 when an AE with onset `onset` (date-like text, or NULL when missing)
 * of a subject first dosed on `first_dose` (NULL or "" when never
 * dosed) is treatment-emergent by the rule above, else 0.
 */
int cb_treatment_emergent(const char *onset, const char *first_dose);

#endif
