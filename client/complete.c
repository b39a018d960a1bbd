/*
 * complete.c - completion of a line of `casebook shell` (complete.h).
 *
 * A command's usage lines are read as "variants": the words after each
 * "casebook", brackets, parentheses and "..." taken off. A variant is
 * kept while the words typed so far fit it (its literal subcommands
 * match, its options are skipped with their values); what the next
 * word may be is then the union over the variants left.
 */
#include "complete.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol.h"
#include "words.h"

/* A word of a usage line, brackets and "..." taken off. */
struct uword {
	char text[64];
	int option;	/* --NAME */
	int takes;	/* an option followed by its value */
	char value[64]; /* the option's value word ("csv|json", "FILE") */
	int repeats;	/* ended in "..." */
};

/* Most words of one variant. */
#define UWORDS_MAX 48

struct variant {
	struct uword w[UWORDS_MAX];
	int n;
};

/* What the typed words said, for the placeholders after them. */
struct typed {
	const char *visit, *form;
};

static int list_add(struct complete_list *l, const char *s, size_t n)
{
	char *copy;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == n && !strncmp(l->v[i], s, n))
			return 0;
	if (l->n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	copy = strndup(s, n);
	if (!copy)
		return -1;
	l->v[l->n++] = copy;
	return 0;
}

void complete_list_release(struct complete_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Offer `s` (n bytes, or strlen when n is 0) when it begins with
 * `prefix`, case aside. */
static int offer(struct complete_list *l, const char *prefix, const char *s,
		 size_t n)
{
	size_t plen = strlen(prefix);

	if (!n)
		n = strlen(s);
	if (plen > n || strncasecmp(s, prefix, plen))
		return 0;
	return list_add(l, s, n);
}

/* Each word of an alternation "a|b|c" that begins with `prefix`. */
static int offer_alts(struct complete_list *l, const char *prefix,
		      const char *alts)
{
	const char *p = alts;

	while (*p) {
		size_t n = strcspn(p, "|");

		if (n && offer(l, prefix, p, n))
			return -1;
		p += n;
		if (*p == '|')
			p++;
	}
	return 0;
}

/* 1 for a literal word of a usage line ("list", "csv|json"). */
static int is_literal(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && *s != '|' && *s != '-')
			return 0;
	return 1;
}

/* Copy `raw` (n bytes) into `out` without brackets and parentheses;
 * *repeats when it ends in "...", *closes when it held ']' or ')'. */
static void clean(const char *raw, size_t n, char *out, size_t cap,
		  int *repeats, int *closes)
{
	size_t i, k = 0;

	*repeats = *closes = 0;
	if (n >= 3 && !strncmp(raw + n - 3, "...", 3)) {
		*repeats = 1;
		n -= 3;
	}
	for (i = 0; i < n && k + 1 < cap; i++) {
		if (raw[i] == ']' || raw[i] == ')')
			*closes = 1;
		if (!strchr("[]()", raw[i]))
			out[k++] = raw[i];
	}
	out[k] = '\0';
}

/*
 * The variants of `cmd`'s usage lines (the first paragraph of `help`)
 * into v[0..*nv).
 */
static void variants_of(const char *help, struct variant *v, int *nv, int max)
{
	const char *p = help, *end = strstr(help, "\n\n");
	struct variant *cur = NULL;

	*nv = 0;
	if (!end)
		end = help + strlen(help);
	while (p < end) {
		char word[64];
		size_t n;
		int rep, closes;

		while (p < end && isspace((unsigned char)*p))
			p++;
		n = 0;
		while (p + n < end && !isspace((unsigned char)p[n]))
			n++;
		if (!n)
			break;
		clean(p, n, word, sizeof(word), &rep, &closes);
		if (!strcmp(word, "casebook")) {
			cur = *nv < max ? &v[(*nv)++] : NULL;
			if (cur)
				cur->n = 0;
		} else if (cur && cur->n < UWORDS_MAX && word[0] &&
			   strcmp(word, "|") && strcmp(word, "usage:")) {
			struct uword *u = &cur->w[cur->n];
			struct uword *prev =
			    cur->n ? &cur->w[cur->n - 1] : NULL;

			/* The value of the option before it ("--format
			 * csv|json", "[--reason TEXT]"). */
			if (prev && prev->option && prev->takes &&
			    !prev->value[0] && word[0] != '-') {
				snprintf(prev->value, sizeof(prev->value), "%s",
					 word);
			} else {
				memset(u, 0, sizeof(*u));
				snprintf(u->text, sizeof(u->text), "%s", word);
				u->option = word[0] == '-';
				u->takes = u->option && !closes;
				u->repeats = rep;
				cur->n++;
			}
		}
		p += n;
	}
}

/* The option `name` of variant v, or NULL. */
static const struct uword *find_option(const struct variant *v,
				       const char *name)
{
	int i;

	for (i = 0; i < v->n; i++)
		if (v->w[i].option && !strcmp(v->w[i].text, name))
			return &v->w[i];
	return NULL;
}

/* The k-th positional word of v (0 is the command), or the last one
 * when it repeats; NULL past the end. */
static const struct uword *positional(const struct variant *v, int k)
{
	const struct uword *last = NULL;
	int i, at = 0;

	for (i = 0; i < v->n; i++) {
		if (v->w[i].option)
			continue;
		if (at++ == k)
			return &v->w[i];
		last = &v->w[i];
	}
	return last && last->repeats ? last : NULL;
}

/* Offer what the placeholder `ph` stands for. */
static int offer_placeholder(const struct complete_src *src,
			     const struct typed *t, const char *ph,
			     const char *prefix, struct complete_list *l)
{
	const struct cb_protocol *p = src->protocol;
	const struct cb_protocol_form *f = NULL;
	const struct cb_protocol_visit *vis = NULL;
	size_t i;
	int rc = 0;

	if (!strcmp(ph, "SUBJECT")) {
		for (i = 0; !rc && i < src->nsubjects; i++)
			rc = offer(l, prefix, src->subjects[i], 0);
		return rc;
	}
	if (!p)
		return 0;
	if (!strcmp(ph, "VISIT")) {
		for (i = 0; !rc && i < p->nvisits; i++)
			rc = offer(l, prefix, p->visits[i].code, 0);
		return rc;
	}
	if (t->visit)
		for (i = 0; i < p->nvisits; i++)
			if (!strcasecmp(p->visits[i].code, t->visit))
				vis = &p->visits[i];
	if (!strcmp(ph, "FORM")) {
		if (vis) {
			for (i = 0; !rc && i < vis->nforms; i++)
				rc = offer(l, prefix, vis->forms[i]->code, 0);
		} else {
			for (i = 0; !rc && i < p->nforms; i++)
				rc = offer(l, prefix, p->forms[i].code, 0);
		}
		return rc;
	}
	if (strcmp(ph, "ITEM") && strcmp(ph, "ITEM=VALUE"))
		return 0;
	if (t->form) {
		/* CODE#N is instance N of the form CODE */
		size_t n = strcspn(t->form, "#");

		for (i = 0; i < p->nforms; i++)
			if (strlen(p->forms[i].code) == n &&
			    !strncasecmp(p->forms[i].code, t->form, n))
				f = &p->forms[i];
	} else {
		f = p->safety_form;
	}
	if (!f)
		return 0;
	for (i = 0; !rc && i < f->nitems; i++) {
		char word[128];

		snprintf(word, sizeof(word), "%s%s", f->items[i].code,
			 strcmp(ph, "ITEM") ? "=" : "");
		rc = offer(l, prefix, word, 0);
	}
	return rc;
}

/*
 * What may follow the typed words w[0..n) of a command in variant
 * `v`, beginning with `prefix`. Nothing when the words do not fit v.
 */
static int offer_variant(const struct complete_src *src,
			 const struct variant *v, char **w, int n,
			 const char *prefix, struct complete_list *l)
{
	struct typed t = {0};
	const struct uword *u;
	int i, k = 1;

	for (i = 1; i < n; i++) {
		if (w[i][0] == '-' && w[i][1]) {
			const struct uword *o = find_option(v, w[i]);

			if (o && o->takes) {
				if (i + 1 == n) {
					/* the option's value is being typed */
					if (is_literal(o->value))
						return offer_alts(l, prefix,
								  o->value);
					return 0;
				}
				i++;
			}
			continue;
		}
		u = positional(v, k++);
		if (!u)
			return 0;
		if (is_literal(u->text)) {
			size_t wl = strlen(w[i]);
			const char *p = u->text;
			int hit = 0;

			while (*p) {
				size_t m = strcspn(p, "|");

				if (m == wl && !strncmp(p, w[i], m))
					hit = 1;
				p += m + (p[m] == '|');
			}
			if (!hit)
				return 0;
		} else if (!strcmp(u->text, "VISIT")) {
			t.visit = w[i];
		} else if (!strcmp(u->text, "FORM")) {
			t.form = w[i];
		}
	}
	if (prefix[0] == '-') {
		for (i = 0; i < v->n; i++)
			if (v->w[i].option && offer(l, prefix, v->w[i].text, 0))
				return -1;
		return 0;
	}
	u = positional(v, k);
	if (!u)
		return 0;
	if (is_literal(u->text))
		return offer_alts(l, prefix, u->text);
	return offer_placeholder(src, &t, u->text, prefix, l);
}

int complete_line(const struct complete_src *src, const char *line, size_t len,
		  struct complete_list *out, struct cb_err *err)
{
	struct variant *v = NULL;
	struct words w;
	struct cb_err ignored = {0};
	const char *prefix = "";
	int n, nv = 0, i, rc = 0;
	size_t c;

	memset(out, 0, sizeof(*out));
	if (words_split(line, len, 1, &w, &ignored))
		return 0;
	n = w.argc;
	out->start = len;
	if (w.last_open) {
		prefix = w.argv[--n];
		out->start = w.last_start;
	}
	if (n == 0 || (n == 1 && !strcmp(w.argv[0], "help"))) {
		for (c = 0; !rc && c < src->ncommands; c++)
			rc = offer(out, prefix, src->commands[c].name, 0);
		for (c = 0; !rc && n == 0 && src->extra && src->extra[c]; c++)
			rc = offer(out, prefix, src->extra[c], 0);
		goto done;
	}
	v = calloc(16, sizeof(*v));
	if (!v) {
		rc = -1;
		goto done;
	}
	for (c = 0; c < src->ncommands; c++) {
		if (strcmp(src->commands[c].name, w.argv[0]))
			continue;
		variants_of(src->commands[c].help, v, &nv, 16);
		for (i = 0; !rc && i < nv; i++)
			rc = offer_variant(src, &v[i], w.argv, n, prefix, out);
	}
done:
	free(v);
	words_release(&w);
	if (rc) {
		complete_list_release(out);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	return 0;
}
