/*
 * fuzz_protocol.c - the protocol loader (protocol.h:
 * cb_protocol_load_json) and the lookups built on what it loads.
 *
 * Properties: a refused protocol gives CB_EINVAL with at least one problem
 * (or CB_ETOOBIG / CB_ENOMEM) and no protocol; a loaded one keeps the
 * exact bytes and their SHA-256, every code finds the thing it names, the
 * structure protocol.h documents holds (references point into the
 * protocol, conditions have the operands their operator takes), and
 * checking any value of any item answers without crashing.
 */
#include <string.h>

#include "crypto.h"
#include "fuzz.h"
#include "protocol.h"

static const char *const sample_values[] = {"0",
					    "-1",
					    "42",
					    "3.5",
					    "1e3",
					    "2024-03-05",
					    "2024-02-30",
					    "2024",
					    "2024-03",
					    "2024-03-05T10:30",
					    "Y",
					    "N",
					    "MILD",
					    "1",
					    "99999999999999999999",
					    "-0",
					    "0.0000001",
					    "\xc3\xa9t\xc3\xa9",
					    " 1",
					    NULL};

static void check_cond(const struct cb_protocol *p,
		       const struct cb_protocol_cond *c, int depth)
{
	size_t i;

	FUZZ_ASSERT(depth <= CB_PROTOCOL_COND_DEPTH + 1);
	switch (c->kind) {
	case CB_COND_COMPARE:
		FUZZ_ASSERT(c->nsub == 0);
		if (c->left.item)
			FUZZ_ASSERT(c->left.form &&
				    c->left.item->form == c->left.form);
		switch (c->op) {
		case CB_CMP_PRESENT:
		case CB_CMP_ABSENT:
			FUZZ_ASSERT(c->nvalues == 0 && !c->has_other);
			break;
		case CB_CMP_IN:
		case CB_CMP_NOT_IN:
			FUZZ_ASSERT(c->nvalues >= 1 || c->has_other);
			break;
		default:
			FUZZ_ASSERT(c->has_other ? c->nvalues == 0
						 : c->nvalues == 1);
		}
		for (i = 0; i < c->nvalues; i++)
			FUZZ_ASSERT(c->values[i].text != NULL);
		if (c->has_other)
			FUZZ_ASSERT(c->other.item && c->other.form);
		break;
	case CB_COND_NOT:
		FUZZ_ASSERT(c->nsub == 1);
		check_cond(p, &c->sub[0], depth + 1);
		break;
	default:
		for (i = 0; i < c->nsub; i++)
			check_cond(p, &c->sub[i], depth + 1);
	}
}

static void walk(const struct cb_protocol *p, const uint8_t *data, size_t size)
{
	char sum[CB_HASH_HEX_SIZE];
	struct cb_err err;
	size_t i, j, k;

	FUZZ_ASSERT(p->source_len == size && !memcmp(p->source, data, size));
	cb_sha256_hex(data, size, sum);
	FUZZ_ASSERT(!strcmp(sum, p->sha256));
	FUZZ_ASSERT(p->nvisits <= CB_PROTOCOL_VISITS_MAX);
	FUZZ_ASSERT(p->nforms <= CB_PROTOCOL_FORMS_MAX);
	for (i = 0; i < p->nvisits; i++) {
		const struct cb_protocol_visit *v = &p->visits[i];

		FUZZ_ASSERT(cb_protocol_find_visit(p, v->code) == v);
		FUZZ_ASSERT(v->index == i);
		(void)cb_protocol_visit_date_item(p, v);
		for (j = 0; j < v->nforms; j++)
			FUZZ_ASSERT(cb_protocol_visit_has_form(v, v->forms[j]));
	}
	for (i = 0; i < p->nforms; i++) {
		const struct cb_protocol_form *f = &p->forms[i];
		const struct cb_protocol_form *got = NULL;
		unsigned inst = 0;
		char target[CB_PROTOCOL_CODE_MAX + 8];

		FUZZ_ASSERT(cb_protocol_find_form(p, f->code) == f);
		FUZZ_ASSERT(f->index == i);
		snprintf(target, sizeof(target), "%s%s", f->code,
			 f->repeating ? "#7" : "");
		FUZZ_ASSERT(cb_protocol_parse_target(p, target, &got, &inst,
						     &err) == 0);
		FUZZ_ASSERT(got == f && inst == (f->repeating ? 7u : 0u));
		(void)cb_protocol_form_has_unblinded(f);
		(void)cb_protocol_form_writable(f, "coordinator");
		for (j = 0; j < f->nitems; j++) {
			const struct cb_protocol_item *it = &f->items[j];

			FUZZ_ASSERT(it->form == f && it->index == j);
			FUZZ_ASSERT(cb_protocol_find_item(f, it->code) == it);
			for (k = 0; sample_values[k]; k++) {
				int soft = 0;

				(void)cb_protocol_check_value(
				    it, sample_values[k], &soft, &err);
			}
			for (k = 0; k < it->nchoices; k++) {
				int soft = 0,
				    rc = cb_protocol_check_value(
					it, it->choices[k].code, &soft, &err);

				FUZZ_ASSERT(rc == 0 || rc == CB_ECHECK);
			}
		}
	}
	for (i = 0; i < p->nchecks; i++) {
		const struct cb_protocol_check *c = &p->checks[i];

		if (c->when)
			check_cond(p, c->when, 1);
		if (c->test)
			check_cond(p, c->test, 1);
	}
	for (i = 0; i < p->nrules; i++)
		check_cond(p, p->rules[i].cond, 1);
	for (i = 0; i < p->narms; i++)
		FUZZ_ASSERT(cb_protocol_find_arm(p, p->arms[i].code) ==
			    &p->arms[i]);
	for (i = 0; i < p->nstrata; i++) {
		const struct cb_protocol_stratum *s = &p->strata[i];

		for (j = 0; j < s->nlevels; j++) {
			int soft = 0, rc = cb_protocol_check_value(
					  s->item, s->levels[j], &soft, &err);

			FUZZ_ASSERT(rc == 0 || rc == CB_ECHECK);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cb_protocol_problems pr;
	struct cb_protocol *p = NULL;
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	cb_protocol_problems_init(&pr);
	rc = cb_protocol_load_json((const char *)data, size, "fuzz", &p, &pr,
				   &err);
	if (rc) {
		FUZZ_ASSERT(p == NULL);
		FUZZ_ASSERT(rc == CB_EINVAL || rc == CB_ETOOBIG ||
			    rc == CB_ENOMEM);
		if (rc == CB_EINVAL)
			FUZZ_ASSERT(pr.count >= 1 && pr.total >= pr.count &&
				    pr.count <= CB_PROTOCOL_PROBLEMS_MAX);
	} else {
		FUZZ_ASSERT(p != NULL && pr.count == 0);
		walk(p, data, size);
	}
	cb_protocol_problems_release(&pr);
	cb_protocol_free(p);
	return 0;
}
