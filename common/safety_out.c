/*
 * safety_out.c - the safety report as aligned text, CSV and JSON
 * (safety.h, safety_int.h).
 *
 * Text reads in an 80-column terminal: a table wider than that is split
 * into panels, each repeating the table's key columns (site, subject,
 * AE number), and its long text columns (terms, reasons) wrap onto more
 * lines. Widths count terminal columns, not bytes (a Hangul or CJK
 * character takes two); what a terminal would take as a control
 * sequence is shown escaped (text.h).
 *
 * CSV stacks the tables in one file: each table opens with a header
 * line whose first field is "#" and the table's id and whose other
 * fields are the column ids; each data line starts with the table's
 * id. A count column C is two fields, C_n and C_pct (empty when the
 * column's safety population is 0). The first table, "report", holds
 * the report's facts (study, cut-off, ...) as key and value.
 *
 * JSON is one object: the facts, the columns of the summary tables
 * with their safety population, and every table with its columns and
 * rows; a count cell is {"n":..,"N":..,"pct":..}.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safety_int.h"
#include "text.h"

#define WIDTH 80
#define GAP 2
#define WRAP_MIN 16

/*
 * One UTF-8 character at s: its bytes in *len and the columns a
 * terminal gives it: 2 for the East Asian wide and full-width ranges
 * (Hangul, CJK, full-width forms), 0 for combining marks, else 1.
 * Bytes that are not UTF-8 never reach here (text.h escapes them).
 */
static size_t char_cols(const char *s, size_t *len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n = 1;

	if (p[0] < 0x80) {
		*len = 1;
		return 1;
	}
	if (p[0] >= 0xf0)
		n = 4;
	else if (p[0] >= 0xe0)
		n = 3;
	else
		n = 2;
	cp = p[0] & (0xff >> (n + 1));
	for (*len = 1; *len < n && (p[*len] & 0xc0) == 0x80; (*len)++)
		cp = (cp << 6) | (p[*len] & 0x3f);
	if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200d))
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) ||
	    (cp >= 0x1f300 && cp <= 0x1faff) ||
	    (cp >= 0x20000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

/* Terminal columns of the first `len` bytes of s. */
static size_t cols_n(const char *s, size_t len)
{
	size_t n = 0, k = 0, b;

	while (k < len && s[k]) {
		n += char_cols(s + k, &b);
		k += b;
	}
	return n;
}

static size_t chars(const char *s)
{
	return cols_n(s, strlen(s));
}

/* Bytes of the longest prefix of s at most `w` columns wide. */
static size_t prefix_bytes(const char *s, size_t w)
{
	size_t b = 0, used = 0, len, c;

	while (s[b]) {
		c = char_cols(s + b, &len);
		if (used + c > w)
			break;
		used += c;
		b += len;
	}
	return b;
}

/* Lines are built here, then written without trailing spaces. */
struct line {
	char buf[4096];
	size_t len;
};

static void lput(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - l->len)
		n = sizeof(l->buf) - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void pad(struct line *l, size_t n)
{
	while (n-- && l->len < sizeof(l->buf))
		l->buf[l->len++] = ' ';
}

static void lflush(struct cb_out *o, struct line *l)
{
	while (l->len && l->buf[l->len - 1] == ' ')
		l->len--;
	cb_out_write(o, l->buf, l->len);
	cb_out_putc(o, '\n');
	l->len = 0;
}

/* True for printable ASCII only: nothing to escape, one column each. */
static int plain(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* A cell's text, safe for a terminal, as a malloc'd copy (NULL when
 * out of memory). */
static char *shown_copy(const struct sr_cell *c)
{
	char buf[64], *e;
	const char *t = cb_sr_cell_text(c, buf, sizeof(buf));
	int oom = 0;

	if (plain(t))
		return strdup(t);
	e = cb_text_escape(t, &oom);
	return e ? e : oom ? NULL : strdup(t);
}

/* Its width in columns, without a copy when none is needed. */
static size_t shown_width(const struct sr_cell *c)
{
	char buf[64], *e;
	const char *t = cb_sr_cell_text(c, buf, sizeof(buf));
	int oom = 0;
	size_t n;

	if (plain(t))
		return strlen(t);
	e = cb_text_escape(t, &oom);
	n = chars(e ? e : t);
	free(e);
	return n;
}

/*
 * The next line of `s` at most `w` characters wide, breaking at a space
 * when it can: its bytes in *len; returns where the rest starts.
 */
static const char *wrap_line(const char *s, size_t w, size_t *len)
{
	size_t b = prefix_bytes(s, w), k;

	/* A column narrower than one wide character still moves on. */
	if (!b && *s)
		char_cols(s, &b);
	if (!s[b]) {
		*len = b;
		return s + b;
	}
	for (k = b; k > 0; k--)
		if (s[k] == ' ') {
			*len = k;
			return s + k + 1;
		}
	*len = b;
	return s + b;
}

/* A paragraph, wrapped and indented by two. */
static void text_para(struct cb_out *o, const char *s)
{
	size_t len;

	while (*s) {
		const char *line = s;

		s = wrap_line(s, WIDTH - 2, &len);
		cb_out_puts(o, "  ");
		cb_out_write(o, line, len);
		cb_out_puts(o, "\n");
		while (*s == ' ')
			s++;
	}
}

/* `len` bytes of `s` in a column `w` wide, aligned. */
static void field(struct line *l, const char *s, size_t len, size_t w, int num,
		  int first)
{
	size_t n = cols_n(s, len);

	if (!first)
		pad(l, GAP);
	if (num)
		pad(l, w > n ? w - n : 0);
	lput(l, s, len);
	if (!num)
		pad(l, w > n ? w - n : 0);
}

/* One panel: columns `cols` (ncols of them) with widths `w`. */
static void text_panel(struct cb_out *o, const struct sr_table *t,
		       const size_t *cols, size_t ncols, const size_t *w)
{
	char **text;
	const char **rest;
	struct line l;
	size_t r, i, used = 0;
	int more;

	/* Every table has a column (safety.c), so text_table gives each
	 * panel one at least. */
	assert(ncols > 0);
	text = calloc(ncols, sizeof(*text));
	rest = calloc(ncols, sizeof(*rest));
	l.len = 0;
	if (!text || !rest) {
		cb_out_fail(o, CB_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < ncols; i++) {
		const struct sr_col *c = &t->cols[cols[i]];

		field(&l, c->head, prefix_bytes(c->head, w[i]), w[i], c->num,
		      i == 0);
		used += w[i] + (i ? GAP : 0);
	}
	lflush(o, &l);
	for (i = 0; i < used; i++)
		cb_out_putc(o, '-');
	cb_out_puts(o, "\n");
	for (r = 0; r < t->nrows && !o->rc; r++) {
		const struct sr_cell *row = &t->cells[r * t->ncols];

		for (i = 0; i < ncols; i++) {
			text[i] = shown_copy(&row[cols[i]]);
			if (!text[i])
				cb_out_fail(o, CB_ENOMEM, "out of memory");
			rest[i] = text[i] ? text[i] : "";
		}
		do {
			more = 0;
			for (i = 0; i < ncols; i++) {
				const char *line = rest[i];
				size_t len;

				rest[i] = wrap_line(line, w[i], &len);
				while (*rest[i] == ' ')
					rest[i]++;
				field(&l, line, len, w[i], t->cols[cols[i]].num,
				      i == 0);
				if (*rest[i])
					more = 1;
			}
			lflush(o, &l);
		} while (more);
		for (i = 0; i < ncols; i++) {
			free(text[i]);
			text[i] = NULL;
		}
	}
out:
	free(text);
	free(rest);
}

/*
 * A table in panels of at most WIDTH columns. Each panel holds the key
 * columns and as many others as fit with the wrapping columns at
 * WRAP_MIN; the room left widens its wrapping columns back towards
 * their natural width.
 */
static void text_table(struct cb_out *o, const struct sr_table *t, int num)
{
	size_t *nat = calloc(t->ncols, sizeof(*nat));
	size_t *minw = calloc(t->ncols, sizeof(*minw));
	size_t *cols = calloc(t->ncols, sizeof(*cols));
	size_t *pw = calloc(t->ncols, sizeof(*pw));
	size_t i, r, start;

	cb_out_printf(o, "\n%d. %s\n", num, t->title);
	if (t->note)
		text_para(o, t->note);
	cb_out_puts(o, "\n");
	if (!nat || !minw || !cols || !pw) {
		cb_out_fail(o, CB_ENOMEM, "out of memory");
		goto out;
	}
	if (!t->nrows) {
		cb_out_puts(o, "  (none)\n");
		goto out;
	}
	for (i = 0; i < t->ncols; i++)
		nat[i] = chars(t->cols[i].head);
	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++) {
			size_t n = shown_width(&t->cells[r * t->ncols + i]);

			if (n > nat[i])
				nat[i] = n;
		}
	for (i = 0; i < t->ncols; i++)
		minw[i] =
		    t->cols[i].wrap && nat[i] > WRAP_MIN ? WRAP_MIN : nat[i];
	start = t->nkey;
	do {
		size_t n = 0, width = 0, room;

		for (i = 0; i < t->nkey && i < t->ncols; i++) {
			cols[n] = i;
			pw[n] = minw[i];
			width += minw[i] + (n ? GAP : 0);
			n++;
		}
		while (start < t->ncols) {
			size_t add = minw[start] + (n ? GAP : 0);

			if (n > t->nkey && width + add > WIDTH)
				break;
			cols[n] = start;
			pw[n] = minw[start];
			width += add;
			n++;
			start++;
		}
		room = width < WIDTH ? WIDTH - width : 0;
		for (i = 0; i < n && room; i++) {
			size_t more = nat[cols[i]] - pw[i];

			if (more > room)
				more = room;
			pw[i] += more;
			room -= more;
		}
		text_panel(o, t, cols, n, pw);
		if (start < t->ncols)
			cb_out_puts(o, "\n");
	} while (start < t->ncols);
out:
	free(nat);
	free(minw);
	free(cols);
	free(pw);
}

int cb_sr_text(const struct cb_safety *r, struct cb_out *o)
{
	const struct cb_protocol *p = r->p;
	size_t i;

	cb_out_printf(o, "INTERIM SAFETY REPORT, %s\n", cb_sr_kind(r));
	if (r->closed)
		cb_out_puts(o, "UNBLINDED: for the DSMB's closed session "
			       "only. Do not share.\n");
	cb_out_puts(o, "Study:          ");
	cb_out_puts(o, p->id);
	cb_out_printf(o, " (protocol %s)\n", p->version);
	cb_out_printf(o, "Data cut-off:   %s\n                (%s)\n", r->asof,
		      r->cutoff_given ? "the events received by then"
				      : "every event received when the "
					"report was made");
	cb_out_printf(o, "Sites:          %s\n", r->site ? r->site : "all");
	cb_out_printf(o,
		      "Subjects:       %zu; safety population (dosed): %zu; "
		      "adverse events: %zu\n",
		      r->nsubjects, r->ndosed, r->naes);
	cb_out_printf(o, "Made by:        %s\n", r->source);
	for (i = 0; i < r->ntables; i++)
		text_table(o, &r->tables[i], (int)i + 1);
	return 0;
}

/* ---- CSV -------------------------------------------------------------------
 */

static void csv_head(struct cb_out *o, const struct sr_table *t)
{
	size_t i, r;
	int count;

	cb_out_putc(o, '#');
	cb_out_csv(o, t->id);
	for (i = 0; i < t->ncols; i++) {
		/* A column of counts is two fields. */
		count = 0;
		for (r = 0; r < t->nrows; r++)
			if (t->cells[r * t->ncols + i].kind == SR_COUNT)
				count = 1;
		cb_out_putc(o, ',');
		cb_out_csv(o, t->cols[i].id);
		if (count) {
			cb_out_puts(o, "_n,");
			cb_out_csv(o, t->cols[i].id);
			cb_out_puts(o, "_pct");
		}
	}
	cb_out_puts(o, "\r\n");
}

static void kv(struct cb_out *o, const char *k, const char *v)
{
	cb_out_puts(o, "report,");
	cb_out_csv(o, k);
	cb_out_putc(o, ',');
	cb_out_csv(o, v);
	cb_out_puts(o, "\r\n");
}

int cb_sr_csv(const struct cb_safety *r, struct cb_out *o)
{
	size_t i, k, row;
	char buf[64];

	cb_out_puts(o, "#report,key,value\r\n");
	kv(o, "report", "safety");
	kv(o, "type", r->closed ? "closed" : "open");
	kv(o, "study", r->p->id);
	kv(o, "protocol_version", r->p->version);
	kv(o, "data_cutoff", r->asof);
	kv(o, "cutoff_given", r->cutoff_given ? "Y" : "N");
	kv(o, "site", r->site ? r->site : "");
	snprintf(buf, sizeof(buf), "%zu", r->nsubjects);
	kv(o, "subjects", buf);
	snprintf(buf, sizeof(buf), "%zu", r->ndosed);
	kv(o, "safety_population", buf);
	snprintf(buf, sizeof(buf), "%zu", r->naes);
	kv(o, "adverse_events", buf);
	kv(o, "source", r->source);
	for (i = 0; i < r->ntables; i++) {
		const struct sr_table *t = &r->tables[i];
		int *count = calloc(t->ncols ? t->ncols : 1, sizeof(*count));

		if (!count)
			return CB_ENOMEM;
		for (row = 0; row < t->nrows; row++)
			for (k = 0; k < t->ncols; k++)
				if (t->cells[row * t->ncols + k].kind ==
				    SR_COUNT)
					count[k] = 1;
		csv_head(o, t);
		for (row = 0; row < t->nrows; row++) {
			const struct sr_cell *c = &t->cells[row * t->ncols];

			cb_out_csv(o, t->id);
			for (k = 0; k < t->ncols; k++) {
				cb_out_putc(o, ',');
				if (c[k].kind == SR_TEXT)
					cb_out_csv(o, c[k].text);
				else if (c[k].kind != SR_EMPTY)
					cb_out_printf(o, "%ld", c[k].n);
				if (!count[k])
					continue;
				cb_out_putc(o, ',');
				if (c[k].kind == SR_COUNT && c[k].d > 0)
					cb_out_printf(o, "%.1f",
						      cb_sr_pct(&c[k]));
			}
			cb_out_puts(o, "\r\n");
		}
		free(count);
	}
	return 0;
}

/* ---- JSON ------------------------------------------------------------------
 */

int cb_sr_json(const struct cb_safety *r, struct cb_out *o)
{
	size_t i, k, row;

	cb_out_puts(o, "{\"report\":\"safety\",\"type\":");
	cb_out_json(o, r->closed ? "closed" : "open");
	cb_out_puts(o, ",\"study\":");
	cb_out_json(o, r->p->id);
	cb_out_puts(o, ",\"protocol_version\":");
	cb_out_json(o, r->p->version);
	cb_out_puts(o, ",\"data_cutoff\":");
	cb_out_json(o, r->asof);
	cb_out_printf(o, ",\"cutoff_given\":%s,\"site\":",
		      r->cutoff_given ? "true" : "false");
	cb_out_json(o, r->site);
	cb_out_printf(o,
		      ",\"subjects\":%zu,\"safety_population\":%zu,"
		      "\"adverse_events\":%zu,\"source\":",
		      r->nsubjects, r->ndosed, r->naes);
	cb_out_json(o, r->source);
	cb_out_puts(o, ",\n\"columns\":[");
	for (i = 0; i < r->ngroups; i++) {
		cb_out_puts(o, i ? ",{\"id\":" : "{\"id\":");
		cb_out_json(o, r->groups[i].id);
		cb_out_puts(o, ",\"label\":");
		cb_out_json(o, r->groups[i].label);
		cb_out_printf(o, ",\"N\":%ld}", r->groups[i].N);
	}
	cb_out_puts(o, "],\n\"tables\":[");
	for (i = 0; i < r->ntables; i++) {
		const struct sr_table *t = &r->tables[i];

		cb_out_puts(o, i ? ",\n{\"id\":" : "\n{\"id\":");
		cb_out_json(o, t->id);
		cb_out_puts(o, ",\"title\":");
		cb_out_json(o, t->title);
		cb_out_puts(o, ",\"note\":");
		cb_out_json(o, t->note);
		cb_out_puts(o, ",\"columns\":[");
		for (k = 0; k < t->ncols; k++) {
			cb_out_puts(o, k ? ",{\"id\":" : "{\"id\":");
			cb_out_json(o, t->cols[k].id);
			cb_out_puts(o, ",\"label\":");
			cb_out_json(o, t->cols[k].head);
			cb_out_puts(o, "}");
		}
		cb_out_puts(o, "],\"rows\":[");
		for (row = 0; row < t->nrows; row++) {
			const struct sr_cell *c = &t->cells[row * t->ncols];

			cb_out_puts(o, row ? ",\n[" : "\n[");
			for (k = 0; k < t->ncols; k++) {
				if (k)
					cb_out_putc(o, ',');
				switch (c[k].kind) {
				case SR_TEXT:
					cb_out_json(o, c[k].text);
					break;
				case SR_INT:
					cb_out_printf(o, "%ld", c[k].n);
					break;
				case SR_COUNT:
					cb_out_printf(o, "{\"n\":%ld,\"N\":%ld",
						      c[k].n, c[k].d);
					if (c[k].d > 0)
						cb_out_printf(o,
							      ",\"pct\":%.1f}",
							      cb_sr_pct(&c[k]));
					else
						cb_out_puts(o,
							    ",\"pct\":null}");
					break;
				default:
					cb_out_puts(o, "null");
				}
			}
			cb_out_puts(o, "]");
		}
		cb_out_puts(o, "]}");
	}
	cb_out_puts(o, "\n]}\n");
	return 0;
}
