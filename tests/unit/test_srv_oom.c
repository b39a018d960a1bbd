/*
 * test_srv_oom.c - the central store when memory runs out (store.h):
 * a lookup and a write run with each allocation failing in turn, for
 * N = 1, 2, ... until none fails. A lookup finds what is there or says
 * out of memory, never "not there"; a write is whole or absent, never a
 * row with a hole. Before cb_db_bind_text stopped the step, a value
 * SQLite could not copy was bound as NULL: the lookup of a registered
 * device said "unknown device" and the laptop was refused (401).
 *
 * The failures come from tests/tools/faultinj.so, driven in process;
 * when it is not loaded this program runs itself again under it (as
 * test_oom.c does).
 */
#include "t.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "store.h"

static void (*fault_arm)(const char *cls, unsigned long n, int sticky);
static int (*fault_disarm)(void);
static char tmp[256];
static struct srv_store *st;

static const char proto[] =
    "{\"format\":\"casebook-protocol/1\",\"id\":\"OOM\",\"version\":\"1\","
    "\"forms\":[{\"code\":\"SV\",\"label\":\"Visit\",\"items\":[{\"code\":"
    "\"VISDT\",\"label\":\"Date\",\"type\":\"date\"}]}],"
    "\"visits\":[{\"code\":\"BL\",\"label\":\"Baseline\",\"day\":0,"
    "\"window\":[0,0],\"forms\":[\"SV\"]}],\"day0\":\"BL.SV.VISDT\"}";

static void reexec_under_shim(char **argv)
{
	const char *tools = getenv("CASEBOOK_TOOLS");
	const char *top = getenv("CASEBOOK_TOP");
	const char *asan = getenv("ASAN_OPTIONS");
	char path[1024], opts[1024];

	if (tools)
		snprintf(path, sizeof(path), "%s/faultinj.so", tools);
	else
		snprintf(path, sizeof(path), "%s/build/tools/faultinj.so",
			 top ? top : ".");
	if (access(path, R_OK)) {
		printf("FAIL faultinj: %s is missing ('make test' builds it)\n",
		       path);
		exit(1);
	}
	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
		 asan ? asan : "", asan && asan[0] ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	setenv("LD_PRELOAD", path, 1);
	execv("/proc/self/exe", argv);
	printf("FAIL faultinj: cannot run again under %s\n", path);
	exit(1);
}

struct find {
	const char *code;
	char name[64];
	int found;
};

static int find_site(const char *code, const char *name, void *ctx)
{
	struct find *f = ctx;

	if (!strcmp(code, f->code)) {
		f->found = 1;
		snprintf(f->name, sizeof(f->name), "%s", name);
	}
	return 0;
}

/* A site that exists, looked up with allocation N failing: found, or
 * out of memory. */
static void test_site_lookup(void)
{
	unsigned long n;
	int fired = 1;

	for (n = 1; fired && n < 100000; n++) {
		struct cb_err err;
		int rc;

		cb_err_clear(&err);
		fault_arm("malloc", n, 0);
		rc = srv_store_site_exists(st, "KR01", &err);
		fired = fault_disarm();
		if (rc != 1 && rc != CB_ENOMEM) {
			T_FAIL_AT("allocation %lu failing: %d (%s)", n, rc,
				  rc ? err.msg : "said the site is not there");
			return;
		}
	}
	T_ASSERT(!fired);
}

/* A site added with allocation N failing: added with its name, or
 * absent; the store answers as before afterwards. */
static void test_site_add(void)
{
	unsigned long n;
	int fired = 1;

	for (n = 1; fired && n < 100000; n++) {
		struct find f = {NULL, "", 0};
		char code[16], name[32];
		struct cb_err err;
		int rc;

		snprintf(code, sizeof(code), "S%lu", n);
		snprintf(name, sizeof(name), "Site number %lu", n);
		f.code = code;
		fault_arm("malloc", n, 0);
		rc = srv_store_site_add(st, code, name, &err);
		fired = fault_disarm();
		T_ASSERT(srv_store_site_each(st, find_site, &f, &err) == 0);
		if (rc ? rc != CB_ENOMEM || f.found
		       : !f.found || strcmp(f.name, name)) {
			T_FAIL_AT("allocation %lu failing: rc %d, found %d "
				  "name '%s'",
				  n, rc, f.found, f.name);
			return;
		}
	}
	T_ASSERT(!fired);
}

int main(int argc, char **argv)
{
	void *self = dlopen(NULL, RTLD_NOW);
	char sum[CB_HASH_HEX_SIZE], dir[400], cmd[600];
	struct cb_err err;

	(void)argc;
	if (self) {
		fault_arm = (void (*)(const char *, unsigned long, int))dlsym(
		    self, "cbfault_arm");
		fault_disarm = (int (*)(void))dlsym(self, "cbfault_disarm");
	}
	if (!fault_arm || !fault_disarm)
		reexec_under_shim(argv);
	snprintf(tmp, sizeof(tmp), "%s/cbsrvoom.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp)) {
		printf("FAIL setup: mkdtemp\n");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/data", tmp);
	cb_sha256_hex(proto, strlen(proto), sum);
	if (srv_store_create(dir, "OOM", proto, strlen(proto), sum, &st,
			     &err) ||
	    srv_store_site_add(st, "KR01", "Seoul", &err)) {
		printf("FAIL setup: %s\n", err.msg);
		return 1;
	}
	T_RUN(test_site_lookup);
	T_RUN(test_site_add);
	srv_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd))
		printf("# could not remove %s\n", tmp);
	return t_done();
}
