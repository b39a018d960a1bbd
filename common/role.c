/*
 * role.c - roles, site codes, user names and subject ids (see role.h).
 */
#include "role.h"

#include <stdio.h>
#include <string.h>

#include "event.h"

static int in_list(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; s && list[i]; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

int cb_role_is_site(const char *role)
{
	static const char *const roles[] = {CB_ROLE_COORDINATOR,
					    CB_ROLE_INVESTIGATOR, NULL};

	return in_list(role, roles);
}

int cb_role_is_central(const char *role)
{
	static const char *const roles[] = {
	    CB_ROLE_DATAMANAGER, CB_ROLE_MONITOR, CB_ROLE_STATISTICIAN,
	    CB_ROLE_DSMB,	 CB_ROLE_LAB,	  NULL};

	return in_list(role, roles);
}

int cb_role_known(const char *role)
{
	return cb_role_is_site(role) || cb_role_is_central(role);
}

int cb_role_unblinded(const char *role)
{
	static const char *const roles[] = {CB_ROLE_LAB, CB_ROLE_DSMB, NULL};

	return in_list(role, roles);
}

int cb_role_reviews(const char *role)
{
	static const char *const roles[] = {CB_ROLE_DATAMANAGER,
					    CB_ROLE_MONITOR, NULL};

	return in_list(role, roles);
}

int cb_role_resolves(const char *role)
{
	return role && !strcmp(role, CB_ROLE_DATAMANAGER);
}

int cb_role_may_record(const char *role, const char *kind, int for_check)
{
	int site = cb_role_is_site(role), reviews = cb_role_reviews(role);

	if (!role || !kind)
		return 0;
	if (!strcmp(kind, CB_KIND_FORM_SAVE))
		return 1;
	if (!strcmp(kind, CB_KIND_RANDOMIZE) ||
	    !strcmp(kind, CB_KIND_SUBJECT_STATUS))
		return site;
	if (!strcmp(kind, CB_KIND_SIGN) || !strcmp(kind, CB_KIND_UNBLIND))
		return !strcmp(role, CB_ROLE_INVESTIGATOR);
	/* People at a site answer queries; they do not raise them, but a
	 * site device opens the system query of a soft edit check that
	 * failed on a save. */
	if (!strcmp(kind, CB_KIND_QUERY_OPEN))
		return reviews || (site && for_check);
	if (!strcmp(kind, CB_KIND_QUERY_ANSWER))
		return site || reviews;
	if (!strcmp(kind, CB_KIND_QUERY_CLOSE) ||
	    !strcmp(kind, CB_KIND_QUERY_REOPEN))
		return reviews;
	return 0;
}

int cb_site_valid(const char *code)
{
	size_t i, n = code ? strlen(code) : 0;

	if (n < 2 || n > CB_SITE_MAX || code[0] < 'A' || code[0] > 'Z')
		return 0;
	for (i = 0; i < n; i++)
		if (!((code[i] >= 'A' && code[i] <= 'Z') ||
		      (code[i] >= '0' && code[i] <= '9')))
			return 0;
	return 1;
}

int cb_user_valid(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n < 1 || n > CB_USER_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-' || c == '@'))
			return 0;
	}
	return 1;
}

int cb_subject_id_make(const char *site, long device_index, long seq,
		       char out[CB_SUBJECT_ID_MAX + 1], struct cb_err *err)
{
	out[0] = '\0';
	if (!cb_site_valid(site))
		return cb_err_set(err, CB_EINVAL, "bad site code");
	if (device_index < 1 || device_index > CB_DEVICE_INDEX_MAX)
		return cb_err_set(err, CB_EINVAL, "bad device index %ld",
				  device_index);
	if (seq < 1 || seq > CB_SUBJECT_SEQ_MAX)
		return cb_err_set(err, CB_EINVAL, "bad subject number %ld",
				  seq);
	snprintf(out, CB_SUBJECT_ID_MAX + 1, "%s-%02ld%03ld", site,
		 device_index, seq);
	return 0;
}

static int digits(const char *s, size_t n, long *out)
{
	long v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int cb_subject_id_parse(const char *id, char *site, long *device_index,
			long *seq, struct cb_err *err)
{
	char code[CB_SITE_MAX + 1], q[CB_SUBJECT_ID_MAX * 4 + 8];
	const char *dash = id ? strchr(id, '-') : NULL;
	size_t n = dash ? (size_t)(dash - id) : 0;
	long d = 0, s = 0;

	if (!id)
		return cb_err_set(err, CB_EINVAL, "no subject id");
	cb_err_quote(id, q, sizeof(q));
	if (!dash || n > CB_SITE_MAX || strlen(dash + 1) != 5 ||
	    digits(dash + 1, 2, &d) || digits(dash + 3, 3, &s))
		return cb_err_set(err, CB_EINVAL,
				  "subject id \"%s\" is not SITE-DDNNN (a "
				  "site code, a two-digit device index and a "
				  "three-digit number, e.g. KR01-01007)",
				  q);
	memcpy(code, id, n);
	code[n] = '\0';
	if (!cb_site_valid(code))
		return cb_err_set(err, CB_EINVAL,
				  "subject id \"%s\" does not start with a "
				  "site code",
				  q);
	if (d < 1 || s < 1)
		return cb_err_set(err, CB_EINVAL,
				  "subject id \"%s\": device index and number "
				  "start at 01 and 001",
				  q);
	if (site)
		memcpy(site, code, n + 1);
	if (device_index)
		*device_index = d;
	if (seq)
		*seq = s;
	return 0;
}
