/*
 * req.c - answers of HTTP requests (req.h).
 */
#include "req.h"

#include "err.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_resp(struct srv_req *r, unsigned status, char *text, size_t len,
		     const char *ctype)
{
	free(r->resp);
	r->status = status;
	r->resp = text;
	r->resp_len = len;
	r->ctype = ctype;
}

void srv_req_json(struct srv_req *r, unsigned status, cJSON *json)
{
	char *text = json ? cJSON_PrintUnformatted(json) : NULL;

	cJSON_Delete(json);
	if (!text) {
		/* Out of memory: a fixed answer that needs no allocation
		 * beyond a copy. */
		text = strdup("{\"error\":{\"code\":\"internal\",\"message\":"
			      "\"out of memory\"}}");
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		r->error_code = "internal";
	}
	set_resp(r, status, text, text ? strlen(text) : 0, "application/json");
}

void srv_req_json_text(struct srv_req *r, unsigned status, char *text,
		       size_t len)
{
	set_resp(r, status, text, len, "application/json");
}

void srv_req_raw(struct srv_req *r, unsigned status, const char *ctype,
		 const char *bytes, size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy) {
		srv_req_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			      "out of memory");
		return;
	}
	memcpy(copy, bytes, len);
	copy[len] = '\0';
	set_resp(r, status, copy, len, ctype);
}

void srv_req_error(struct srv_req *r, unsigned status, const char *code,
		   const char *fmt, ...)
{
	char msg[CB_ERR_MSG_MAX];
	cJSON *o = cJSON_CreateObject(), *e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = o ? cJSON_AddObjectToObject(o, "error") : NULL;
	if (e) {
		cJSON_AddStringToObject(e, "code", code);
		cJSON_AddStringToObject(e, "message", msg);
	}
	r->error_code = code;
	srv_req_json(r, status, o);
	r->error_code = code;
}

unsigned srv_req_status(int cb_code)
{
	static const struct {
		int code;
		unsigned status;
	} map[] = {
	    {CB_EINVAL, MHD_HTTP_BAD_REQUEST},
	    {CB_ECHECK, MHD_HTTP_BAD_REQUEST},
	    {CB_EAUTH, MHD_HTTP_UNAUTHORIZED},
	    {CB_EFORBIDDEN, MHD_HTTP_FORBIDDEN},
	    {CB_ENOTFOUND, MHD_HTTP_NOT_FOUND},
	    {CB_EEXIST, MHD_HTTP_CONFLICT},
	    {CB_ECONFLICT, MHD_HTTP_CONFLICT},
	    {CB_ETOOBIG, MHD_HTTP_CONTENT_TOO_LARGE},
	    {CB_EBUSY, MHD_HTTP_SERVICE_UNAVAILABLE},
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].code == cb_code)
			return map[i].status;
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

void srv_req_fail(struct srv_req *r, int cb_code, const char *code,
		  const char *msg)
{
	srv_req_error(r, srv_req_status(cb_code), code ? code : "internal",
		      "%s", msg);
}

void srv_req_fail_cause(struct srv_req *r, int cb_code, const char *code,
			const char *msg, const struct cb_err *cause)
{
	srv_req_fail(r, cb_code, code, msg);
	snprintf(r->cause, sizeof(r->cause), "%s",
		 cause && cause->msg[0] ? cause->msg : "");
}

const char *srv_req_arg(struct srv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

const char *srv_req_header(struct srv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}
