/*
 * server_fixture.h - the central server the push and pull fuzz targets
 * drive: a temporary data directory made once per process the way
 * `casebookd init`, `site add`, `token create` and registration make one
 * (server/store.h), opened with srv_core_open (server/core.h) like
 * `casebookd serve`, with these registered devices (keys derived from
 * fixed seeds, so inputs signed by them stay valid across runs):
 *
 *   0  KR01 coordinator          f...01
 *   1  KR01 investigator         f...02
 *   2  KR02 coordinator          f...03
 *   3  datamanager (central)     f...04
 *   4  lab (central, unblinded)  f...05
 *   5  KR01 coordinator, revoked on 2026-06-01 (a bundle hand-over)
 *
 * and the events of tests/fuzz/corpus/push_signed/seed-all.json (one
 * KR01 subject) plus a lab's unblinded CELL form already stored. Only the
 * public functions of core.h and store.h are used, so the server's
 * internals can change without touching the targets.
 *
 * Every input starts from that same state: fz_reset restores the
 * database from a copy taken after setup whenever an input stored
 * something, so a crash replays from its input alone.
 */
#ifndef CB_FUZZ_SERVER_FIXTURE_H
#define CB_FUZZ_SERVER_FIXTURE_H

#include <cJSON.h>

#include "core.h"
#include "crypto.h"
#include "store.h"

#define FZ_NDEV 6
#define FZ_REVOKED 5

struct fz_dev {
	struct srv_device dev;
	struct cb_sign_keypair kp;
};

struct fz_server {
	char dir[512];
	struct srv_core core;
	struct fz_dev devs[FZ_NDEV];
};

/* The fixture, set up on the first call (aborts when it cannot be). */
struct fz_server *fz_server(void);

/* The fixture device with this id, or NULL. */
struct fz_dev *fz_dev_by_id(const char *id);

/* Back to the state right after setup (a new core on the saved store). */
void fz_reset(void);

/*
 * Make every element of `events` that reads as an event a signed event of
 * a fixture device: its own when it names one, else `caller`'s (whose id
 * it gets). Elements that do not read as events stay as they are.
 */
void fz_sign_events(cJSON *events, const struct fz_dev *caller);

/*
 * Push `events` as `caller` with srv_core_push and check the reply and
 * the store (see fz_check_store); an event accepted is stored, shows in
 * a pull, and is a duplicate when pushed again; the derived tables the
 * push wrote equal a rebuild from the events (srv_core_rebuild), also
 * with the core opened afresh. Returns the number of events accepted
 * (the caller restores the fixture with fz_reset once it is done when
 * that was not 0). With FUZZ_VERBOSE set in the environment, each reply
 * is printed on stderr.
 */
int fz_push_and_check(const cJSON *events, const struct fz_dev *caller);

/*
 * Pull everything as every device and check what the server hands out:
 * only the device's own site to a site role, no unblinded item to a
 * blinded role, every event valid and signed by the registered device it
 * names, no event twice.
 */
void fz_check_store(void);

/*
 * srv_core_pull of `dev` on `core`, its answer parsed as a device reads
 * it: the property fails when the pull fails, when the text is not JSON,
 * or when what the page says (events, more, next) is not what the text
 * says. The caller frees the tree.
 */
cJSON *fz_pull(struct srv_core *core, const struct srv_device *dev,
	       int64_t since, long limit);

#endif
