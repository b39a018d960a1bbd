/*
 * server_fixture.c - the temporary central server of the push and pull
 * fuzz targets (server_fixture.h).
 */
#include "server_fixture.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "event.h"
#include "fuzz.h"
#include "json.h"
#include "protocol.h"

static struct fz_server fz;
static int fz_ready;
static char *saved_db;
static size_t saved_len;

static const struct {
	const char *site, *role;
} dev_spec[FZ_NDEV] = {
    {"KR01", "coordinator"},
    {"KR01", "investigator"},
    {"KR02", "coordinator"},
    {"", "datamanager"},
    {"", "lab"},
    {"KR01", "coordinator"},
};

/* 2026-06-01T00:00:00Z: when device 5 was revoked. */
#define REVOKED_MS INT64_C(1780272000000)

/* A lab's CELL form for the seed subject: items only lab and dsmb see. */
static const char lab_event[] =
    "{\"id\":\"c0ffee00000000000000000000000001\",\"device\":\"x\","
    "\"site\":\"KR01\",\"user\":\"fuzz5\",\"hlc\":\"0000019b8a000000\","
    "\"wall\":\"2026-01-07T09:00:00.000Z\",\"subject\":\"KR01-01001\","
    "\"kind\":\"form.save\",\"target\":{\"visit\":\"INJ\",\"form\":\"CELL\","
    "\"instance\":\"\"},\"changes\":[{\"item\":\"CELLCNT\",\"value\":"
    "\"12.5\",\"prev\":[]},{\"item\":\"VIABIL\",\"value\":\"95.0\",\"prev\":"
    "[]},{\"item\":\"STERIL\",\"value\":\"PASS\",\"prev\":[]}],\"reason\":"
    "\"\",\"data\":{}}";

static void die(const char *what, const struct cb_err *err)
{
	fprintf(stderr, "fuzz server fixture: %s: %s\n", what,
		err ? err->msg : strerror(errno));
	abort();
}

static void remove_dir(void)
{
	static const char *const files[] = {
	    SRV_STORE_FILE,	   SRV_STORE_FILE "-wal",
	    SRV_STORE_FILE "-shm", SRV_KEY_FILE,
	    "nonces.db",	   "nonces.db-wal",
	    "nonces.db-shm",	   NULL};
	char path[600];
	size_t i;

	if (!fz.dir[0])
		return;
	srv_core_close(&fz.core);
	for (i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", fz.dir, files[i]);
		unlink(path);
	}
	rmdir(fz.dir);
}

static char *read_whole(const char *path, size_t *len)
{
	struct cb_err err;
	char *buf = NULL;

	if (cb_file_read(path, 1u << 30, &buf, len, &err))
		die(path, &err);
	return buf;
}

static void write_whole(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd))
		die(path, NULL);
}

static void add_devices(struct srv_store *s)
{
	struct cb_err err;
	int64_t now = cb_clock_now_ms();
	size_t i;

	for (i = 0; i < FZ_NDEV; i++) {
		unsigned char seed[crypto_sign_SEEDBYTES];
		unsigned char pk[crypto_sign_PUBLICKEYBYTES];
		unsigned char sk[crypto_sign_SECRETKEYBYTES];
		struct srv_token t;
		struct srv_user u;
		struct fz_dev *d = &fz.devs[i];
		char text[32];

		memset(seed, (int)(0x41 + i), sizeof(seed));
		crypto_sign_seed_keypair(pk, sk, seed);
		if (cb_sign_keypair_from_secret(sk, sizeof(sk), &d->kp, &err))
			die("device key", &err);
		sodium_memzero(sk, sizeof(sk));
		memset(&t, 0, sizeof(t));
		snprintf(t.id, sizeof(t.id),
			 "7000000000000000000000000000000%zu", i + 1);
		snprintf(text, sizeof(text), "fuzz-token-%zu", i + 1);
		cb_sha256_hex(text, strlen(text), t.hash);
		snprintf(t.site, sizeof(t.site), "%s", dev_spec[i].site);
		snprintf(t.role, sizeof(t.role), "%s", dev_spec[i].role);
		t.created_ms = now;
		t.expires_ms = now + 24 * 3600 * 1000;
		if (srv_store_token_add(s, &t, &err))
			die("token", &err);
		memset(&d->dev, 0, sizeof(d->dev));
		snprintf(d->dev.id, sizeof(d->dev.id),
			 "f000000000000000000000000000000%zu", i + 1);
		memcpy(d->dev.pk, d->kp.pk, sizeof(d->dev.pk));
		snprintf(d->dev.user, sizeof(d->dev.user), "fuzz%zu", i + 1);
		/* casebookd user add: the device's person */
		memset(&u, 0, sizeof(u));
		snprintf(u.name, sizeof(u.name), "%s", d->dev.user);
		snprintf(u.full_name, sizeof(u.full_name), "Fuzz %zu", i + 1);
		snprintf(u.role, sizeof(u.role), "%s", dev_spec[i].role);
		snprintf(u.site, sizeof(u.site), "%s", dev_spec[i].site);
		u.created_ms = now;
		if (srv_store_user_add(s, &u, &err))
			die("user", &err);
		if (srv_store_register(s, t.hash, now, &d->dev, &err))
			die("register", &err);
	}
	if (srv_store_device_revoke(s, fz.devs[FZ_REVOKED].dev.id, REVOKED_MS,
				    &err) ||
	    srv_store_device_get(s, fz.devs[FZ_REVOKED].dev.id,
				 &fz.devs[FZ_REVOKED].dev, &err))
		die("revoke", &err);
}

/* Push the seed subject's events and the lab's form; all must be taken. */
static void add_events(void)
{
	char path[4096];
	struct cb_err err;
	cJSON *seed, *lab, *reply = NULL;
	char *text;
	size_t len;

	snprintf(path, sizeof(path),
		 "%s/tests/fuzz/corpus/push_signed/"
		 "seed-all.json",
		 fuzz_top());
	text = read_whole(path, &len);
	seed = cb_json_parse(text, len, CB_JSON_DOC_MAX, path, &err);
	free(text);
	if (!cJSON_IsArray(seed))
		die("seed events", &err);
	fz_sign_events(seed, &fz.devs[0]);
	if (srv_core_push(&fz.core, &fz.devs[0].dev, seed, &reply, &err))
		die("seed push", &err);
	if (cJSON_GetObjectItem(reply, "accepted")->valueint !=
	    cJSON_GetArraySize(seed))
		die("seed events refused", NULL);
	cJSON_Delete(reply);
	cJSON_Delete(seed);
	lab = cJSON_CreateArray();
	cJSON_AddItemToArray(lab, cJSON_Parse(lab_event));
	fz_sign_events(lab, &fz.devs[4]);
	if (srv_core_push(&fz.core, &fz.devs[4].dev, lab, &reply, &err))
		die("lab push", &err);
	if (cJSON_GetObjectItem(reply, "accepted")->valueint != 1) {
		char *r = cJSON_PrintUnformatted(reply);

		fprintf(stderr, "lab event: %s\n", r);
		die("lab event refused", NULL);
	}
	cJSON_Delete(reply);
	cJSON_Delete(lab);
}

struct fz_server *fz_server(void)
{
	struct cb_protocol_problems pr;
	struct cb_protocol *p = NULL;
	struct srv_store *s = NULL;
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	struct cb_err err;

	if (fz_ready)
		return &fz;
	if (cb_crypto_init(&err))
		die("crypto", &err);
	snprintf(fz.dir, sizeof(fz.dir), "%s/cbfuzz.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fz.dir))
		die(fz.dir, NULL);
	atexit(remove_dir);
	/* casebookd init */
	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json", fuzz_top());
	cb_protocol_problems_init(&pr);
	if (cb_protocol_load_file(path, &p, &pr, &err))
		die(path, &err);
	cb_protocol_problems_release(&pr);
	if (srv_store_create(fz.dir, p->id, p->source, p->source_len, p->sha256,
			     &s, &err) ||
	    srv_store_key_create(s, &err))
		die("init", &err);
	cb_protocol_free(p);
	/* casebookd site add, token create, and registration */
	if (srv_store_site_add(s, "KR01", "Seoul", &err) ||
	    srv_store_site_add(s, "KR02", "Busan", &err))
		die("site", &err);
	add_devices(s);
	srv_store_close(s);
	if (srv_core_open(&fz.core, fz.dir, &err))
		die("open", &err);
	add_events();
	srv_core_close(&fz.core);
	snprintf(path, sizeof(path), "%s/%s-wal", fz.dir, SRV_STORE_FILE);
	if (access(path, F_OK) == 0)
		die("a write-ahead log is left after close", NULL);
	snprintf(path, sizeof(path), "%s/%s", fz.dir, SRV_STORE_FILE);
	saved_db = read_whole(path, &saved_len);
	if (srv_core_open(&fz.core, fz.dir, &err))
		die("open", &err);
	fz_ready = 1;
	return &fz;
}

void fz_reset(void)
{
	char path[600];
	struct cb_err err;

	srv_core_close(&fz.core);
	snprintf(path, sizeof(path), "%s/%s-wal", fz.dir, SRV_STORE_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s-shm", fz.dir, SRV_STORE_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", fz.dir, SRV_STORE_FILE);
	write_whole(path, saved_db, saved_len);
	if (srv_core_open(&fz.core, fz.dir, &err))
		die("reopen", &err);
}

struct fz_dev *fz_dev_by_id(const char *id)
{
	size_t i;

	for (i = 0; id && i < FZ_NDEV; i++)
		if (!strcmp(fz.devs[i].dev.id, id))
			return &fz.devs[i];
	return NULL;
}

void fz_sign_events(cJSON *events, const struct fz_dev *caller)
{
	struct cb_err err;
	cJSON *e, *next;

	for (e = events ? events->child : NULL; e; e = next) {
		struct cb_event ev;
		const struct fz_dev *d;
		cJSON *signed_json = NULL;
		char *id;

		next = e->next;
		cb_event_init(&ev);
		if (cb_event_from_json(e, &ev, &err)) {
			cb_event_release(&ev);
			continue;
		}
		d = fz_dev_by_id(ev.device);
		if (!d) {
			d = caller;
			id = strdup(d->dev.id);
			FUZZ_ASSERT(id != NULL);
			free(ev.device);
			ev.device = id;
		}
		/* A user who is none of the fixture's people becomes the
		 * signer's person, so the event reaches the rules past
		 * "user"; the fixture's other people stay as they are. */
		if (!ev.user || strncmp(ev.user, "fuzz", 4) || !ev.user[4] ||
		    ev.user[4] < '1' || ev.user[4] > '0' + FZ_NDEV ||
		    ev.user[5]) {
			id = strdup(d->dev.user);
			FUZZ_ASSERT(id != NULL);
			free(ev.user);
			ev.user = id;
		}
		if (!cb_event_sign(&ev, d->kp.sk, &err) &&
		    !cb_event_to_json(&ev, &signed_json, &err))
			cJSON_ReplaceItemViaPointer(events, e, signed_json);
		cb_event_release(&ev);
	}
}

/* ---- checks ------------------------------------------------------------ */

/* True when `ev` changes an item the protocol marks unblinded. */
static int changes_unblinded(const struct cb_event *ev)
{
	const struct cb_protocol_form *f;
	size_t i;

	f = cb_protocol_find_form(fz.core.proto, ev->form);
	for (i = 0; f && i < ev->nchanges; i++) {
		const struct cb_protocol_item *it =
		    cb_protocol_find_item(f, ev->changes[i].item);

		if (it && it->unblinded)
			return 1;
	}
	return 0;
}

/* The roles DESIGN.md lets see unblinded items: an oracle of its own. */
static int sees_unblinded(const char *role)
{
	return !strcmp(role, "lab") || !strcmp(role, "dsmb");
}

cJSON *fz_pull(struct srv_core *core, const struct srv_device *dev,
	       int64_t since, long limit)
{
	struct srv_pull_page page;
	struct cb_err err;
	cJSON *reply;
	const char *next;
	char want[32];

	cb_err_clear(&err);
	FUZZ_ASSERT(
	    srv_core_pull(core, dev, since, limit, NULL, 0, &page, &err) == 0);
	FUZZ_ASSERT(page.text != NULL && strlen(page.text) == page.len);
	reply = cJSON_ParseWithLength(page.text, page.len);
	FUZZ_ASSERT(reply != NULL);
	FUZZ_ASSERT(cJSON_GetArraySize(cJSON_GetObjectItem(reply, "events")) ==
		    page.n);
	FUZZ_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(reply, "more")) ==
		    page.more);
	next = cb_json_str(reply, "next");
	snprintf(want, sizeof(want), "%" PRId64, page.next);
	FUZZ_ASSERT(next != NULL && !strcmp(next, want));
	free(page.text);
	return reply;
}

/* Every event `d` pulls from cursor 0, checked; the reply is returned. */
static cJSON *pull_checked(const struct fz_dev *d)
{
	const cJSON *events, *e, *f;
	struct cb_err err;
	cJSON *reply = NULL;

	cb_err_clear(&err);
	reply = fz_pull(&fz.core, &d->dev, 0, SRV_PULL_MAX);
	events = cb_json_arr(reply, "events");
	FUZZ_ASSERT(events != NULL && cb_json_str(reply, "next") != NULL);
	cJSON_ArrayForEach(e, events)
	{
		struct cb_event ev;
		struct srv_device signer;

		cb_event_init(&ev);
		FUZZ_ASSERT(cb_event_from_json(e, &ev, &err) == 0);
		FUZZ_ASSERT(ev.received_at[0] != '\0');
		if (d->dev.site[0])
			FUZZ_ASSERT(!strcmp(ev.site, d->dev.site));
		if (!sees_unblinded(d->dev.role))
			FUZZ_ASSERT(!changes_unblinded(&ev));
		FUZZ_ASSERT(srv_store_device_get(fz.core.store, ev.device,
						 &signer, &err) == 0);
		FUZZ_ASSERT(cb_event_verify(&ev, signer.pk, &err) == 0);
		for (f = events->child; f != e; f = f->next)
			FUZZ_ASSERT(strcmp(cb_json_str(f, "id"), ev.id));
		cb_event_release(&ev);
	}
	return reply;
}

void fz_check_store(void)
{
	size_t i;

	for (i = 0; i < FZ_NDEV; i++)
		cJSON_Delete(pull_checked(&fz.devs[i]));
}

/* 1 when the central unblinded pull holds an event with id `id`. */
static int stored(const cJSON *all, const char *id)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cb_json_arr(all, "events"))
	{
		const char *got = cb_json_str(e, "id");

		if (got && !strcmp(got, id))
			return 1;
	}
	return 0;
}

static int collect(const char *text, size_t len, void *ctx)
{
	struct cb_err err;

	return cb_buf_add(ctx, text, len, &err) ? 1 : 0;
}

/* The derived tables as text (srv_store_derived_dump). */
static char *derived(void)
{
	struct cb_err err;
	struct cb_buf b;
	char *text;

	cb_buf_init(&b, (size_t)1 << 30);
	FUZZ_ASSERT(srv_store_derived_dump(fz.core.store, collect, &b, &err) ==
		    0);
	text = cb_buf_take(&b, NULL);
	if (!text)
		text = strdup("");
	FUZZ_ASSERT(text != NULL);
	return text;
}

/*
 * The derived tables a push updated event by event are those a rebuild
 * from every stored event gives, with the merge state of this core and
 * with one loaded afresh from the store (as after a restart).
 */
static void check_rebuild(void)
{
	char *pushed = derived(), *again;
	struct cb_err err;

	cb_err_clear(&err);
	FUZZ_ASSERT(srv_core_rebuild(&fz.core, NULL, &err) == 0);
	again = derived();
	if (strcmp(pushed, again))
		fprintf(stderr, "derived after push:\n%s\nafter rebuild:\n%s\n",
			pushed, again);
	FUZZ_ASSERT(!strcmp(pushed, again));
	free(again);
	srv_core_close(&fz.core);
	FUZZ_ASSERT(srv_core_open(&fz.core, fz.dir, &err) == 0);
	FUZZ_ASSERT(srv_core_rebuild(&fz.core, NULL, &err) == 0);
	again = derived();
	if (strcmp(pushed, again))
		fprintf(stderr, "derived after push:\n%s\nafter reopen:\n%s\n",
			pushed, again);
	FUZZ_ASSERT(!strcmp(pushed, again));
	free(again);
	free(pushed);
}

int fz_push_and_check(const cJSON *events, const struct fz_dev *caller)
{
	const cJSON *results, *r;
	struct cb_err err;
	cJSON *reply = NULL, *again = NULL, *all;
	long counts[3] = {0, 0, 0};
	int n = cJSON_GetArraySize(events), i;

	cb_err_clear(&err);
	FUZZ_ASSERT(
	    srv_core_push(&fz.core, &caller->dev, events, &reply, &err) == 0);
	if (getenv("FUZZ_VERBOSE")) {
		char *text = cJSON_PrintUnformatted(reply);

		fprintf(stderr, "push as %s: %s\n", caller->dev.id,
			text ? text : "?");
		cJSON_free(text);
	}
	results = cb_json_arr(reply, "results");
	FUZZ_ASSERT(results && cJSON_GetArraySize(results) == n);
	i = 0;
	cJSON_ArrayForEach(r, results)
	{
		const char *st = cb_json_str(r, "status");
		const cJSON *idx = cJSON_GetObjectItemCaseSensitive(r, "index");

		FUZZ_ASSERT(st && cJSON_IsNumber(idx) && idx->valueint == i);
		if (!strcmp(st, "accepted"))
			counts[0]++;
		else if (!strcmp(st, "duplicate"))
			counts[1]++;
		else
			FUZZ_ASSERT(!strcmp(st, "rejected") &&
				    cb_json_str(r, "code") &&
				    cb_json_str(r, "reason"));
		if (!strcmp(st, "rejected"))
			counts[2]++;
		i++;
	}
	FUZZ_ASSERT(cJSON_GetObjectItem(reply, "accepted")->valueint ==
		    counts[0]);
	FUZZ_ASSERT(cJSON_GetObjectItem(reply, "duplicate")->valueint ==
		    counts[1]);
	FUZZ_ASSERT(cJSON_GetObjectItem(reply, "rejected")->valueint ==
		    counts[2]);
	if (counts[0] == 0) {
		cJSON_Delete(reply);
		return 0;
	}
	/* what was accepted is stored, and handed out as the rules say */
	check_rebuild();
	fz_check_store();
	all = pull_checked(&fz.devs[4]);
	cJSON_ArrayForEach(r, results)
	{
		if (!strcmp(cb_json_str(r, "status"), "accepted"))
			FUZZ_ASSERT(stored(all, cb_json_str(r, "id")));
	}
	cJSON_Delete(all);
	/* pushed again: what was accepted is a duplicate now */
	FUZZ_ASSERT(
	    srv_core_push(&fz.core, &caller->dev, events, &again, &err) == 0);
	for (r = results->child, i = 0; r; r = r->next, i++) {
		const cJSON *r2 =
		    cJSON_GetArrayItem(cb_json_arr(again, "results"), i);

		if (!strcmp(cb_json_str(r, "status"), "accepted"))
			FUZZ_ASSERT(
			    !strcmp(cb_json_str(r2, "status"), "duplicate"));
	}
	cJSON_Delete(again);
	cJSON_Delete(reply);
	return (int)counts[0];
}
