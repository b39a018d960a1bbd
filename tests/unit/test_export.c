/*
 * test_export.c - the export engine (export.h) on the shipped study,
 * fed subjects written here, into memory: the csv and sdtm files cell by
 * cell, conflicts marked and never resolved, study days and the
 * treatment-emergent flag, scores, unblinded items never written even
 * when a feed hands them out, the manifest, and bad input.
 */
#include "t.h"

#include <cJSON.h>

#include "export.h"
#include "memfeed.h"
#include "outdir.h"

static struct cb_protocol *knee;

static struct cb_protocol *load_knee(void)
{
	const char *top = getenv("CASEBOOK_TOP");
	char path[1024];
	struct cb_err err;

	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json",
		 top ? top : ".");
	if (cb_protocol_load_file(path, &knee, NULL, &err)) {
		printf("# knee: %s\n", err.msg);
		return NULL;
	}
	return knee;
}

static void study(struct memfeed *f)
{
	static const char *const heads[] = {"71.5", "72.5"};
	struct mf_subject *s;

	memset(f, 0, sizeof(*f));
	s = mf_add(f, "KR01-01001", "KR01", CB_LC_DOSED);
	s->sum.dosed = (char *)"2026-02-10";
	s->sum.randno = (char *)"R-KR01-2-001";
	s->sum.kit = (char *)"537942";
	s->sum.nunblind = 1;
	mf_item(s, "BL", "SV", "", "VISDT", "2026-01-20");
	mf_item(s, "BL", "VAS", "", "VAS", "42");
	mf_item(s, "INJ", "DOSE", "", "EXDTC", "2026-02-10T10:00");
	/* a feed that hands out an unblinded value anyway */
	mf_item(s, "INJ", "CELL", "", "CELLCNT", "987.6");
	mf_item(s, "LOG", "AE", "1", "AETERM", "Say \"hi\", <b>");
	mf_item(s, "LOG", "AE", "1", "AESTDTC", "2026-02-12");
	mf_item(s, "LOG", "AE", "2", "AETERM", "Before");
	mf_item(s, "LOG", "AE", "2", "AESTDTC", "2026-02-01");
	mf_item(s, "LOG", "AE", "10", "AETERM", "Partial");
	mf_item(s, "LOG", "AE", "10", "AESTDTC", "2026-02");
	mf_item(s, "LOG", "AE", "10", "AEONGO", "Y");
	mf_item(s, "SCR", "DM", "", "BRTHYR", "1966");
	mf_conflict(s, "SCR", "DM", "", "WEIGHT", heads);
	mf_item(s, "SCR", "ELIG", "", "AGE", "60");
	s = mf_add(f, "KR02-01001", "KR02", CB_LC_SCREENING);
	s->received = "2026-03-01T00:00:00.000Z";
	mf_item(s, "SCR", "DM", "", "SEX", "F");
}

static const char *file(struct cb_memfiles *m, const char *name)
{
	const char *s = cb_memfiles_get(m, name, NULL);

	return s ? s : "(no such file)";
}

static int run(struct memfeed *f, enum cb_export_format fmt, const char *cutoff,
	       struct cb_memfiles **out, struct cb_err *err)
{
	struct cb_export_opts o = {
	    fmt,    NULL, cutoff, cutoff ? cutoff : "2026-04-01T00:00:00.000Z",
	    "test", NULL};
	struct cb_feed feed = mf_feed(f);
	struct cb_files files;
	int rc;

	*out = cb_memfiles_new(1u << 22);
	if (!*out)
		return CB_ENOMEM;
	files = cb_memfiles_files(*out);
	rc = cb_export(knee, &feed, &o, &files, NULL, err);
	return rc;
}

static void test_csv_files(void)
{
	struct memfeed f;
	struct cb_memfiles *m;
	struct cb_err err;
	const char *ae, *dm, *subj, *vas;

	T_ASSERT(knee);
	study(&f);
	T_EQ_INT(run(&f, CB_EXPORT_CSV, NULL, &m, &err), 0);
	T_EQ_INT(f.asked.unblinded, 0); /* blinded, always */
	T_ASSERT(!cb_memfiles_get(m, "CELL.csv", NULL));
	T_ASSERT(!strstr(file(m, "dictionary.csv"), "CELLCNT"));
	ae = file(m, "AE.csv");
	T_ASSERT(!strncmp(ae,
			  "SUBJECT,SITE,VISIT,INSTANCE,TRTEMFL,AETERM,"
			  "AESTDTC,AESTDTC_DY,AEENDTC,AEENDTC_DY,AEONGO,",
			  86));
	/* instances in numeric order; quoting; study day; TE flag */
	T_CONTAINS(ae, "\r\nKR01-01001,KR01,LOG,1,Y,\"Say \"\"hi\"\", <b>\","
		       "2026-02-12,3,,,");
	T_CONTAINS(ae, "\r\nKR01-01001,KR01,LOG,2,N,Before,2026-02-01,-9,,,");
	T_CONTAINS(ae, "\r\nKR01-01001,KR01,LOG,10,Y,Partial,2026-02,,,,Y,");
	T_ASSERT(strstr(ae, "LOG,2,") < strstr(ae, "LOG,10,"));
	dm = file(m, "DM.csv");
	/* the conflict: no value, and the row says so with both heads */
	T_CONTAINS(dm, "SUBJECT,SITE,VISIT,VISITDY,BRTHYR,SEX,HEIGHT,WEIGHT,"
		       "KNEE,CONSDT,CONSDT_DY,CONFLICTS\r\n");
	T_CONTAINS(dm, "KR01-01001,KR01,SCR,,1966,,,,,,,"
		       "WEIGHT: 71.5 | 72.5\r\n");
	T_CONTAINS(file(m, "conflicts.csv"),
		   "KR01-01001,KR01,SCR,DM,,WEIGHT,2,72.5\r\n");
	vas = file(m, "VAS.csv");
	T_CONTAINS(vas, "SUBJECT,SITE,VISIT,VISITDY,VAS,vas,CONFLICTS\r\n");
	T_CONTAINS(vas, "KR01-01001,KR01,BL,-21,42,42.00,\r\n");
	subj = file(m, "subjects.csv");
	T_CONTAINS(subj, "KR01-01001,KR01,dosed,,,,,R-KR01-2-001,537942,"
			 "2026-02-10,,,Y,1,");
	T_CONTAINS(subj, "KR02-01001,KR02,screening,");
	T_ASSERT(!strstr(subj, "987.6"));
	T_CONTAINS(file(m, "codelists.csv"), "AE,AESEV,MOD,Moderate\r\n");
	cb_memfiles_free(m);
}

static void test_manifest(void)
{
	struct memfeed f;
	struct cb_memfiles *m;
	struct cb_err err;
	cJSON *j, *files, *x;
	int n = 0;

	T_ASSERT(knee);
	study(&f);
	T_EQ_INT(run(&f, CB_EXPORT_SDTM, NULL, &m, &err), 0);
	j = cJSON_Parse(file(m, "export.json"));
	T_ASSERT(j);
	T_EQ_STR(cJSON_GetObjectItem(j, "format")->valuestring, "sdtm");
	T_EQ_STR(cJSON_GetObjectItem(j, "data_cutoff")->valuestring,
		 "2026-04-01T00:00:00.000Z");
	T_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(j, "cutoff_given")));
	T_EQ_INT(cJSON_GetObjectItem(j, "subjects")->valueint, 2);
	T_EQ_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "withheld"), 0)
		     ->valuestring,
		 "CELL.CELLCNT");
	files = cJSON_GetObjectItem(j, "files");
	cJSON_ArrayForEach(x, files)
	{
		const char *name = cJSON_GetObjectItem(x, "name")->valuestring;

		n++;
		if (!strcmp(name, "AE.csv"))
			T_EQ_INT(cJSON_GetObjectItem(x, "rows")->valueint, 3);
	}
	T_EQ_INT(n, 3);
	cJSON_Delete(j);
	T_CONTAINS(file(m, "DM.csv"),
		   "knee-oa-msc,DM,knee-oa-msc-KR01-01001,KR01-01001,"
		   "2026-02-10T10:00,,2026-02-10T10:00,,,,KR01,60,YEARS,,,,,"
		   "\r\n");
	T_CONTAINS(file(m, "AE.csv"), "knee-oa-msc,AE,knee-oa-msc-KR01-01001,"
				      "3,10,Partial,2026-02,,,,ONGOING,N,");
	T_CONTAINS(file(m, "SUPPAE.csv"),
		   "AESEQ,2,TRTEMFL,Treatment Emergent Flag,N,DERIVED,");
	cb_memfiles_free(m);
}

static void test_bad_input(void)
{
	struct memfeed f;
	struct cb_memfiles *m;
	struct cb_err err;
	enum cb_export_format fmt;

	T_ASSERT(knee);
	study(&f);
	T_EQ_INT(run(&f, CB_EXPORT_CSV, "2025-12-31T00:00:00.000Z", &m, &err),
		 CB_ENOTFOUND);
	T_CONTAINS(err.msg, "before the first event");
	cb_memfiles_free(m);
	T_EQ_INT(run(&f, CB_EXPORT_CSV, "2026-02-01T00:00:00.000Z", &m, &err),
		 0);
	T_ASSERT(!strstr(file(m, "subjects.csv"), "KR02-01001"));
	cb_memfiles_free(m);
	/* The audit trail needs each subject's events: a feed without
	 * them is an error, not an empty file. */
	T_EQ_INT(run(&f, CB_EXPORT_ODM, NULL, &m, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "no events");
	cb_memfiles_free(m);
	T_EQ_INT(cb_export_format_parse("xlsx", &fmt, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "csv, odm, sdtm or jsonl");
	T_EQ_INT(cb_export_format_parse("jsonl", &fmt, &err), 0);
	T_EQ_INT(fmt, CB_EXPORT_JSONL);
}

int main(void)
{
	load_knee();
	T_RUN(test_csv_files);
	T_RUN(test_manifest);
	T_RUN(test_bad_input);
	cb_protocol_free(knee);
	return t_done();
}
