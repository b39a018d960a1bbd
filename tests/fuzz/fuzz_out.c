/*
 * fuzz_out.c - the escaping of the exports and reports (out.h): one
 * value, any bytes up to the first NUL, through cb_out_csv, cb_out_xml,
 * cb_out_html and cb_out_json.
 *
 * Properties, with E the value as cb_text_escape shows it (the value
 * itself when it holds nothing text.h refuses):
 *   - E is valid UTF-8 with nothing text.h refuses, and so is every
 *     output: no control character, newline or bidirectional override
 *     reaches a file, whatever the record holds;
 *   - CSV: the field is E as RFC 4180 reads it back (quoted exactly when
 *     it holds a comma, a quote, a line end or an outer space; quotes
 *     doubled), so a value never splits a row or a cell;
 *   - XML and HTML: no < > " ' and no & but the five entities, and the
 *     entities read back give E, so a value never becomes markup, closes
 *     an attribute or a CDATA section;
 *   - JSON: strict JSON (cb_json_parse) reads back the string E.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "canon.h"
#include "fuzz.h"
#include "json.h"
#include "out.h"
#include "text.h"

/* What `fn` writes for s, NUL-terminated (malloc'd). */
static char *written(void (*fn)(struct cb_out *, const char *), const char *s)
{
	struct cb_buf b;
	struct cb_out o;
	struct cb_err err;
	char *text;

	cb_buf_init(&b, (size_t)1 << 26);
	cb_out_init_buf(&o, &b);
	fn(&o, s);
	cb_err_clear(&err);
	FUZZ_ASSERT(cb_out_flush(&o, &err) == 0);
	cb_out_release(&o);
	text = malloc(cb_buf_len(&b) + 1);
	FUZZ_ASSERT(text != NULL);
	memcpy(text, cb_buf_len(&b) ? cb_buf_str(&b) : "", cb_buf_len(&b));
	text[cb_buf_len(&b)] = '\0';
	cb_buf_free(&b);
	return text;
}

/* Valid UTF-8 with nothing text.h refuses. */
static int clean(const char *s)
{
	struct cb_err err;

	cb_err_clear(&err);
	return cb_text_check(s, strlen(s), "output", &err) == 0;
}

/* RFC 4180's reading of one field (no separators around it). */
static char *csv_read(const char *f)
{
	size_t n = strlen(f), i, k = 0;
	char *out = malloc(n + 1);

	FUZZ_ASSERT(out != NULL);
	if (n && f[0] == '"') {
		FUZZ_ASSERT(n >= 2 && f[n - 1] == '"');
		for (i = 1; i < n - 1; i++) {
			if (f[i] == '"') {
				/* inside quotes, a quote only doubled */
				FUZZ_ASSERT(i + 1 < n - 1 && f[i + 1] == '"');
				i++;
			}
			out[k++] = f[i];
		}
	} else {
		FUZZ_ASSERT(strpbrk(f, "\",\r\n") == NULL);
		FUZZ_ASSERT(!n || (f[0] != ' ' && f[n - 1] != ' '));
		memcpy(out, f, n);
		k = n;
	}
	out[k] = '\0';
	return out;
}

/* The five entities read back; every & must start one of them. */
static char *markup_read(const char *m)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'},
		    {"&lt;", '<'},
		    {"&gt;", '>'},
		    {"&quot;", '"'},
		    {"&#39;", '\''}};
	size_t n = strlen(m), i, k = 0, e;
	char *out = malloc(n + 1);

	FUZZ_ASSERT(out != NULL);
	FUZZ_ASSERT(strpbrk(m, "<>\"'") == NULL);
	for (i = 0; i < n; i++) {
		if (m[i] != '&') {
			out[k++] = m[i];
			continue;
		}
		for (e = 0; e < sizeof(ents) / sizeof(ents[0]); e++)
			if (!strncmp(m + i, ents[e].ent, strlen(ents[e].ent)))
				break;
		FUZZ_ASSERT(e < sizeof(ents) / sizeof(ents[0]));
		out[k++] = ents[e].c;
		i += strlen(ents[e].ent) - 1;
	}
	out[k] = '\0';
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *shown, *esc, *csv, *xml, *html, *json;
	char *back;
	struct cb_err err;
	cJSON *j;
	int oom = 0;

	FUZZ_ASSERT(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0'; /* a value ends at its first NUL, as in C */
	esc = cb_text_escape(s, &oom);
	FUZZ_ASSERT(!oom);
	shown = esc ? esc : s;
	FUZZ_ASSERT(clean(shown));
	/* nothing to escape: the value itself */
	FUZZ_ASSERT(esc || clean(s));

	csv = written(cb_out_csv, s);
	FUZZ_ASSERT(clean(csv));
	back = csv_read(csv);
	FUZZ_ASSERT(!strcmp(back, shown));
	free(back);

	xml = written(cb_out_xml, s);
	html = written(cb_out_html, s);
	FUZZ_ASSERT(clean(xml) && clean(html));
	back = markup_read(xml);
	FUZZ_ASSERT(!strcmp(back, shown));
	free(back);
	back = markup_read(html);
	FUZZ_ASSERT(!strcmp(back, shown));
	free(back);

	json = written(cb_out_json, s);
	cb_err_clear(&err);
	j = cb_json_parse(json, strlen(json), CB_JSON_DOC_MAX, "fuzz", &err);
	FUZZ_ASSERT(j != NULL && cJSON_IsString(j));
	FUZZ_ASSERT(!strcmp(j->valuestring, shown));
	cJSON_Delete(j);

	free(csv);
	free(xml);
	free(html);
	free(json);
	free(esc);
	free(s);
	return 0;
}
