/*
 * test_out.c - the writers' escaping (out.h) with hostile values,
 * buffering and its sticky error, the data cut-off (cutoff.h), and
 * exports written all or nothing (outdir.h).
 */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cutoff.h"
#include "out.h"
#include "outdir.h"

/* What `fn` writes of `s`, as a C string in a static buffer. */
static const char *esc(void (*fn)(struct cb_out *, const char *), const char *s)
{
	static char res[1024];
	struct cb_buf b;
	struct cb_out o;
	struct cb_err err;

	cb_buf_init(&b, 4096);
	cb_out_init_buf(&o, &b);
	fn(&o, s);
	if (cb_out_flush(&o, &err))
		snprintf(res, sizeof(res), "(error %.900s)", err.msg);
	else
		snprintf(res, sizeof(res), "%s", cb_buf_str(&b));
	cb_out_release(&o);
	cb_buf_free(&b);
	return res;
}

static void test_csv_quoting(void)
{
	T_EQ_STR(esc(cb_out_csv, "plain"), "plain");
	T_EQ_STR(esc(cb_out_csv, ""), "");
	T_EQ_STR(esc(cb_out_csv, NULL), "");
	T_EQ_STR(esc(cb_out_csv, "a,b"), "\"a,b\"");
	T_EQ_STR(esc(cb_out_csv, "say \"hi\""), "\"say \"\"hi\"\"\"");
	T_EQ_STR(esc(cb_out_csv, "\""), "\"\"\"\"");
	T_EQ_STR(esc(cb_out_csv, " lead"), "\" lead\"");
	T_EQ_STR(esc(cb_out_csv, "trail "), "\"trail \"");
	/* Markup means nothing in CSV; non-ASCII text stays as it is. */
	T_EQ_STR(esc(cb_out_csv, "<script>]]>&"), "<script>]]>&");
	T_EQ_STR(esc(cb_out_csv, "caf\xc3\xa9"), "caf\xc3\xa9");
	/* A line break (refused at entry anyway) is made visible, so no
	 * value can start a forged row. */
	T_EQ_STR(esc(cb_out_csv, "a\nb,c"), "\"a\\nb,c\"");
	T_EQ_STR(esc(cb_out_csv, "a\rb"), "a\\rb");
	T_EQ_STR(esc(cb_out_csv, "esc\x1b[2J"), "esc\\x1b[2J");
	/* Not UTF-8: shown as bytes, never passed through. */
	T_EQ_STR(esc(cb_out_csv, "bad\xff"), "bad\\xff");
}

static void test_xml_escaping(void)
{
	T_EQ_STR(esc(cb_out_xml, "plain"), "plain");
	T_EQ_STR(esc(cb_out_xml, "<script>alert(1)</script>"),
		 "&lt;script&gt;alert(1)&lt;/script&gt;");
	T_EQ_STR(esc(cb_out_xml, "]]>"), "]]&gt;");
	T_EQ_STR(esc(cb_out_xml, "a&b \"q\" 'a'"),
		 "a&amp;b &quot;q&quot; &#39;a&#39;");
	T_EQ_STR(esc(cb_out_xml, "&amp;"), "&amp;amp;");
	/* XML 1.0 has no way to write most control characters at all:
	 * they are shown, never written raw (the file would not parse). */
	T_EQ_STR(esc(cb_out_xml, "a\x01z"), "a\\x01z");
	T_EQ_STR(esc(cb_out_xml, "\xe2\x80\xae"), "\\u{202E}");
	T_EQ_STR(esc(cb_out_xml, "\xc3\xa9"), "\xc3\xa9");
}

static void test_html_escaping(void)
{
	T_EQ_STR(esc(cb_out_html, "<img src=x onerror=alert(1)>"),
		 "&lt;img src=x onerror=alert(1)&gt;");
	T_EQ_STR(esc(cb_out_html, "\" onmouseover=\"x"),
		 "&quot; onmouseover=&quot;x");
	T_EQ_STR(esc(cb_out_html, "</style><script>"),
		 "&lt;/style&gt;&lt;script&gt;");
	T_EQ_STR(esc(cb_out_html, "tab\there"), "tab\\there");
}

static void test_json_strings(void)
{
	T_EQ_STR(esc(cb_out_json, "plain"), "\"plain\"");
	T_EQ_STR(esc(cb_out_json, NULL), "null");
	T_EQ_STR(esc(cb_out_json, "a\"b\\c"), "\"a\\\"b\\\\c\"");
	T_EQ_STR(esc(cb_out_json, "</script>"), "\"</script>\"");
	/* a newline: made visible first, then the backslash escaped */
	T_EQ_STR(esc(cb_out_json, "a\nb"), "\"a\\\\nb\"");
}

static int fail_sink(void *ctx, const char *data, size_t len,
		     struct cb_err *err)
{
	int *calls = ctx;

	(void)data;
	(void)len;
	(*calls)++;
	return cb_err_set(err, CB_EIO, "disk full");
}

/* Writes are buffered; the first error sticks and is reported once. */
static void test_buffering_and_errors(void)
{
	struct cb_out o;
	struct cb_err err;
	struct cb_buf b;
	char big[3 * CB_OUT_BUF / 2];
	int calls = 0;

	cb_buf_init(&b, 1u << 20);
	cb_out_init_buf(&o, &b);
	cb_out_puts(&o, "x");
	T_EQ_INT(cb_buf_len(&b), 0); /* still buffered */
	memset(big, 'y', sizeof(big));
	cb_out_write(&o, big, sizeof(big));
	T_ASSERT(cb_buf_len(&b) >= CB_OUT_BUF);
	cb_out_printf(&o, "%d-%s", 42, "z");
	T_EQ_INT(cb_out_flush(&o, &err), 0);
	T_EQ_INT(cb_buf_len(&b), 1 + sizeof(big) + 4);
	T_EQ_INT(o.total, 1 + sizeof(big) + 4);
	cb_out_release(&o);
	cb_buf_free(&b);

	cb_out_init(&o, fail_sink, &calls);
	cb_out_write(&o, big, sizeof(big)); /* fills the buffer: fails */
	cb_out_write(&o, big, sizeof(big)); /* nothing more is tried */
	T_EQ_INT(calls, 1);
	T_EQ_INT(cb_out_flush(&o, &err), CB_EIO);
	T_CONTAINS(err.msg, "disk full");
	cb_out_release(&o);

	/* A buffer's cap is an error, not a silent cut. */
	cb_buf_init(&b, 10);
	cb_out_init_buf(&o, &b);
	cb_out_puts(&o, "more than ten bytes");
	T_EQ_INT(cb_out_flush(&o, &err), CB_ETOOBIG);
	cb_out_release(&o);
	cb_buf_free(&b);
}

static void test_cutoff(void)
{
	char out[CB_CLOCK_UTC_BUF];
	struct cb_err err;

	T_EQ_INT(cb_cutoff_parse("2026-03-31", out, &err), 0);
	T_EQ_STR(out, "2026-03-31T23:59:59.999Z");
	T_EQ_INT(cb_cutoff_parse("2026-03-31T18:00Z", out, &err), 0);
	T_EQ_STR(out, "2026-03-31T18:00:00.000Z");
	T_EQ_INT(cb_cutoff_parse("2026-03-31T18:00:05Z", out, &err), 0);
	T_EQ_STR(out, "2026-03-31T18:00:05.000Z");
	T_EQ_INT(cb_cutoff_parse("2026-03-31T18:00:05.250Z", out, &err), 0);
	T_EQ_STR(out, "2026-03-31T18:00:05.250Z");
	T_EQ_INT(cb_cutoff_parse("2026-02-30", out, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "2026-02-30");
	T_EQ_INT(cb_cutoff_parse("2026-03-31T18:00", out, &err), CB_EINVAL);
	T_EQ_INT(cb_cutoff_parse("yesterday", out, &err), CB_EINVAL);
	T_EQ_INT(cb_cutoff_parse("", out, &err), CB_EINVAL);
	T_EQ_INT(cb_cutoff_parse("2026-03-31T25:00Z", out, &err), CB_EINVAL);
	T_EQ_STR(out, "");
}

static char tmpdir[256];

static int count_entries(const char *dir)
{
	char cmd[600];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/* Files appear only at the commit; a failure leaves the parent as it
 * was; an existing path is never written over. */
static void test_outdir(void)
{
	char path[512], file[600], buf[64];
	struct cb_outdir *d;
	struct cb_files f;
	struct cb_out *a, *b;
	struct cb_err err;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/exp", tmpdir);
	T_EQ_INT(cb_outdir_open(path, &d, &err), 0);
	f = cb_outdir_files(d);
	T_EQ_INT(f.open(f.ctx, "a.csv", &a, &err), 0);
	T_EQ_INT(f.open(f.ctx, "b.part", &b, &err), 0);
	T_EQ_INT(f.open(f.ctx, "../x", &b, &err), CB_EINVAL);
	cb_out_puts(a, "head\n");
	cb_out_puts(b, "spooled\n");
	T_EQ_INT(f.close(f.ctx, b, &err), 0);
	T_EQ_INT(f.append(f.ctx, "b.part", a, &err), 0);
	T_EQ_INT(f.remove(f.ctx, "b.part", &err), 0);
	T_EQ_INT(count_entries(tmpdir), 1); /* the temporary directory */
	T_ASSERT(access(path, F_OK) != 0);  /* not yet there */
	T_EQ_INT(cb_outdir_commit(d, &err), 0);
	cb_outdir_free(d);
	snprintf(file, sizeof(file), "%s/a.csv", path);
	fd = open(file, O_RDONLY);
	T_ASSERT(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	T_EQ_INT(n, 13);
	buf[n] = '\0';
	T_EQ_STR(buf, "head\nspooled\n");
	T_EQ_INT(count_entries(path), 1);

	/* It exists now: refused, and nothing is made. */
	T_EQ_INT(cb_outdir_open(path, &d, &err), CB_EEXIST);
	T_CONTAINS(err.msg, "already exists");
	T_EQ_INT(count_entries(tmpdir), 1);

	/* Freed without a commit: nothing is left. */
	snprintf(path, sizeof(path), "%s/gone", tmpdir);
	T_EQ_INT(cb_outdir_open(path, &d, &err), 0);
	f = cb_outdir_files(d);
	T_EQ_INT(f.open(f.ctx, "x.csv", &a, &err), 0);
	cb_out_puts(a, "partial");
	cb_outdir_free(d);
	T_EQ_INT(count_entries(tmpdir), 1);

	/* A parent that is not a directory. */
	snprintf(path, sizeof(path), "%s/exp/a.csv/sub", tmpdir);
	T_EQ_INT(cb_outdir_open(path, &d, &err), CB_EIO);
	T_CONTAINS(err.msg, "cannot write");

	/* Something appears at the path before the commit: refused, and
	 * the directory made meanwhile is left alone. */
	snprintf(path, sizeof(path), "%s/race", tmpdir);
	T_EQ_INT(cb_outdir_open(path, &d, &err), 0);
	T_EQ_INT(mkdir(path, 0700), 0);
	T_EQ_INT(cb_outdir_commit(d, &err), CB_EEXIST);
	cb_outdir_free(d);
	T_EQ_INT(count_entries(path), 0);
	T_EQ_INT(count_entries(tmpdir), 2);
}

static void test_outfile(void)
{
	char path[512], buf[64];
	struct cb_outfile *f;
	struct cb_err err;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/report.txt", tmpdir);
	T_EQ_INT(cb_outfile_open(path, &f, &err), 0);
	cb_out_puts(cb_outfile_out(f), "report\n");
	T_ASSERT(access(path, F_OK) != 0);
	T_EQ_INT(cb_outfile_commit(f, &err), 0);
	cb_outfile_free(f);
	fd = open(path, O_RDONLY);
	T_ASSERT(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	T_EQ_INT(n, 7);
	T_EQ_INT(cb_outfile_open(path, &f, &err), CB_EEXIST);
	/* Abandoned: no temporary file stays. */
	snprintf(path, sizeof(path), "%s/other.txt", tmpdir);
	T_EQ_INT(cb_outfile_open(path, &f, &err), 0);
	cb_out_puts(cb_outfile_out(f), "half");
	cb_outfile_free(f);
	T_ASSERT(access(path, F_OK) != 0);
	T_EQ_INT(count_entries(tmpdir), 3); /* exp, race, report.txt */
	snprintf(path, sizeof(path), "%s/no/such/dir.txt", tmpdir);
	T_EQ_INT(cb_outfile_open(path, &f, &err), CB_EIO);
}

static void test_memfiles(void)
{
	struct cb_memfiles *m = cb_memfiles_new(1024);
	struct cb_files f;
	struct cb_out *a, *b;
	struct cb_err err;
	size_t len;

	T_ASSERT(m);
	f = cb_memfiles_files(m);
	T_EQ_INT(f.open(f.ctx, "one", &a, &err), 0);
	T_EQ_INT(f.open(f.ctx, "one", &b, &err), CB_EEXIST);
	T_EQ_INT(f.open(f.ctx, "two", &b, &err), 0);
	cb_out_puts(b, "B");
	T_EQ_INT(f.close(f.ctx, b, &err), 0);
	cb_out_puts(a, "A");
	T_EQ_INT(f.append(f.ctx, "two", a, &err), 0);
	T_EQ_INT(f.append(f.ctx, "one", a, &err), CB_ENOTFOUND); /* open */
	T_EQ_INT(f.close(f.ctx, a, &err), 0);
	T_EQ_INT(f.remove(f.ctx, "two", &err), 0);
	T_EQ_INT(cb_memfiles_count(m), 1);
	T_EQ_STR(cb_memfiles_get(m, "one", &len), "AB");
	T_EQ_INT(len, 2);
	T_ASSERT(!cb_memfiles_get(m, "two", NULL));
	cb_memfiles_free(m);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/cbout.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL test_out: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	T_RUN(test_csv_quoting);
	T_RUN(test_xml_escaping);
	T_RUN(test_html_escaping);
	T_RUN(test_json_strings);
	T_RUN(test_buffering_and_errors);
	T_RUN(test_cutoff);
	T_RUN(test_outdir);
	T_RUN(test_outfile);
	T_RUN(test_memfiles);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	}
	return t_done();
}
