/*
 * srv.c - helpers every casebookd command uses (srv.h): messages, option
 * scanning, the role model and the JSON log on stderr.
 */
#include "srv.h"
#include "store.h"

#include "clock.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int srv_error(const char *fmt, ...)
{
	va_list ap;

	fputs("casebookd: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return SRV_EXIT_FAIL;
}

int srv_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "casebookd %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'casebookd %s --help'.\n", cmd);
	return SRV_EXIT_USAGE;
}

int srv_fail(const struct cb_err *err)
{
	return srv_error("%s", err->msg);
}

int srv_parse_opts(const char *cmd, int argc, char **argv,
		   const char *const *names, const char **values,
		   const char **pos, int maxpos, int *npos)
{
	int i, k;

	*npos = 0;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || !a[1]) {
			if (*npos >= maxpos)
				return srv_usage(cmd,
						 "unexpected argument "
						 "'%s'",
						 a);
			pos[(*npos)++] = a;
			continue;
		}
		for (k = 0; names[k]; k++)
			if (!strcmp(a, names[k]) ||
			    (!strcmp(a, "--store") &&
			     !strcmp(names[k], "--data")))
				break;
		if (!names[k])
			return srv_usage(cmd, "unknown option '%s'", a);
		if (i + 1 >= argc)
			return srv_usage(cmd, "option %s needs a value", a);
		if (!strcmp(names[k], "--data") && values[k])
			return srv_usage(cmd, "give --data DIR or --store URL, "
					      "once");
		if (!strcmp(a, "--store") && !srv_store_is_pg(argv[i + 1]))
			return srv_usage(cmd, "--store takes a PostgreSQL URI, "
					      "postgresql://USER@HOST/DB");
		if (!strcmp(a, "--data") && srv_store_is_pg(argv[i + 1]))
			return srv_usage(cmd, "a PostgreSQL URI goes with "
					      "--store, not --data");
		values[k] = argv[++i];
	}
	return 0;
}

int srv_opt_range(const char *cmd, const char *opt, const char *text, long lo,
		  long hi, long *out)
{
	char *end;
	long v;

	if (!text)
		return 0;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || end == text || v < lo || v > hi)
		return srv_usage(cmd, "%s: expected %ld to %ld", opt, lo, hi);
	*out = v;
	return 0;
}

int srv_take_flag(int *argc, char **argv, const char *flag)
{
	int i, n = 1, found = 0;

	for (i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], flag))
			found = 1;
		else
			argv[n++] = argv[i];
	}
	for (i = n; i < *argc; i++)
		argv[i] = NULL;
	*argc = n;
	return found;
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void srv_log(const char *level, const char *msg, const char *const *kv)
{
	char ts[CB_CLOCK_UTC_BUF];
	cJSON *o = cJSON_CreateObject();
	char *line;
	size_t i;

	if (!o)
		return;
	cb_clock_format_utc(cb_clock_now_ms(), ts);
	cJSON_AddStringToObject(o, "ts", ts);
	cJSON_AddStringToObject(o, "level", level);
	cJSON_AddStringToObject(o, "msg", msg);
	for (i = 0; kv && kv[i]; i += 2)
		if (kv[i + 1])
			cJSON_AddStringToObject(o, kv[i], kv[i + 1]);
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!line)
		return;
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	free(line);
}

int srv_lock_data(const char *dir, const char *what, struct cb_err *err)
{
	char path[4200];
	int fd;

	if (srv_store_is_pg(dir))
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/casebookd.lock", dir) >=
	    sizeof(path))
		return cb_err_set(err, CB_EINVAL,
				  "data directory path is too "
				  "long");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return 0; /* no data directory: opening the store says so */
	if (fd < 0)
		return cb_err_set(err, CB_EIO, "cannot open %s: %s", path,
				  strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK)
			return cb_err_set(
			    err, CB_EBUSY,
			    "another casebookd (a running "
			    "'casebookd serve', rebuild or bundle "
			    "import) is using %s; %s needs it to "
			    "stop first",
			    dir, what);
		return cb_err_set(err, CB_EIO, "cannot lock %s: %s", path,
				  strerror(e));
	}
	/* Kept open (and locked) until the process exits. */
	return 0;
}

int srv_seq_ranges(const char *s, struct cb_seq_range *out, size_t max,
		   size_t *n)
{
	char num[20];
	int64_t prev = 0;

	*n = 0;
	while (*s) {
		long long v[2];
		int k;

		if (*n == max)
			return -1;
		for (k = 0; k < 2; k++) {
			size_t len = strcspn(s, k ? "," : "-");

			if (len == 0 || len >= sizeof(num))
				return -1;
			memcpy(num, s, len);
			num[len] = '\0';
			v[k] = srv_decimal(num, 1, INT64_MAX);
			if (v[k] < 0)
				return -1;
			s += len;
			if (k == 0 && *s++ != '-')
				return -1;
		}
		if (v[0] > v[1] || v[0] <= prev)
			return -1;
		if (*s == ',' && !*++s)
			return -1; /* a trailing comma */
		out[*n].lo = v[0];
		out[*n].hi = v[1];
		prev = v[1];
		(*n)++;
	}
	return 0;
}

long long srv_decimal(const char *s, long long lo, long long hi)
{
	long long v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 18 || (s[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= lo && v <= hi ? v : -1;
}
