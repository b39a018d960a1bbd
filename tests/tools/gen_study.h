/*
 * gen_study.h - the study generator behind scripts/gen-study (issue 11):
 * a whole generated trial pushed into a real casebookd through its HTTP
 * API, for benchmarks and tests.
 *
 * Four files, one program (build/tools/gen_study):
 *
 *   gen_study.c    command line, the plan of sites and devices, the run:
 *                  subjects in chunks, phase by phase, progress, counts
 *   gen_net.c      HTTP over libcurl: health, registration, signed
 *                  requests (common/reqsig.h), the push thread, slots
 *   gen_trial.c    one subject's trial: dates, values, adverse events,
 *                  corrections, conflicts, queries, signatures,
 *                  randomization and dosing
 *   gen_entry.c    the events of it, made as a laptop makes them and
 *                  checked with cb_record_check_event against the
 *                  subject's own merge state before they are queued
 *
 * Only common/ (libcasebook.a) is linked: the generator talks to the
 * server exactly as a laptop does, never through server/ or client/.
 *
 * Ordering. A subject's events come from several devices (the site
 * coordinator that created it, the site investigator, the central data
 * manager and the laboratory), and the server checks each event against
 * what it already holds. Subjects are made in chunks; each chunk goes
 * through four phases, and every event of a phase depends only on
 * earlier phases or on earlier events of the same device:
 *
 *   1  coordinator   creation, every visit, AEs, end of study, early
 *                    corrections, the queries of soft edit checks, one
 *                    side of a conflict, randomization and dosing
 *   2  investigator  the other side of a conflict, e-signatures
 *      lab           cell release (unblinded)
 *      data manager  queries
 *   3  coordinator   answers, conflict resolutions, late corrections
 *   4  data manager  closes; investigator re-signs broken signatures
 *
 * Batches are pushed in the order they were made by one thread, so the
 * server sees each phase after the one before. Generation carries on
 * while earlier batches are pushed.
 */
#ifndef GEN_STUDY_H
#define GEN_STUDY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "check.h"
#include "crypto.h"
#include "err.h"
#include "event.h"
#include "hlc.h"
#include "merge.h"
#include "protocol.h"
#include "date.h"
#include "reqsig.h"
#include "role.h"

/* Most events in one push, and most bytes of one push body (the server
 * takes 1000 and 4 MiB; the byte cap leaves room for the wrapper). */
#define GEN_BATCH_EVENTS 1000
#define GEN_BATCH_BYTES (3u * 1024u * 1024u + 512u * 1024u)
/* Batches made but not yet pushed before generation waits. */
#define GEN_QUEUE_MAX 8
/* Largest reply body read (a slots answer lists every used slot). */
#define GEN_REPLY_MAX (64u * 1024u * 1024u)

/* Kinds counted apart in the summary. */
enum gen_kind {
	GEN_K_STATUS,
	GEN_K_SAVE,
	GEN_K_RANDOMIZE,
	GEN_K_SIGN,
	GEN_K_QOPEN,
	GEN_K_QANSWER,
	GEN_K_QCLOSE,
	GEN_K_N
};

/* The event kind of a gen_kind, and back (GEN_K_N when unknown). */
const char *gen_kind_name(enum gen_kind k);
enum gen_kind gen_kind_of(const char *kind);

/* What the server answered, per kind. */
struct gen_counts {
	uint64_t accepted[GEN_K_N];
	uint64_t duplicate[GEN_K_N];
	uint64_t rejected[GEN_K_N];
	uint64_t refused[GEN_K_N]; /* never sent: our own check refused */
};

/* A randomization slot leased to a device (GET /v1/slots). */
struct gen_slot {
	char randno[64];
	char kit[32];
	char stratum[64];
	long seq;
	int used; /* taken by a randomize event made here */
};

/* One registered device: its key, identity and the batch it is making. */
struct gen_device {
	char id[CB_REQSIG_DEVICE_MAX + 1];
	char site[CB_SITE_MAX + 1]; /* "" for a central role */
	char role[CB_ROLE_MAX + 1];
	char user[CB_USER_MAX + 1];
	long index;
	struct cb_sign_keypair kp;

	/* The push being built: {"events":[ ... */
	struct cb_buf body;
	size_t nbatch;
	unsigned char kinds[GEN_BATCH_EVENTS];

	/* Coordinators: the slots leased to this device and the server's
	 * lease size per stratum (its last slots answer). */
	struct gen_slot *lease;
	size_t nlease;
	long lease_size;
};

/* ---- gen_net.c ------------------------------------------------------- */

/* One libcurl handle (one per thread) and the server's base URL. */
struct gen_http {
	void *curl;
	char base[256];
};

struct gen_reply {
	long status;
	char *body; /* NUL-terminated, malloc'd */
	size_t len;
};

/* Call once before any other gen_net function (curl_global_init). */
int gen_net_global(struct cb_err *err);

int gen_http_open(struct gen_http *h, const char *base, struct cb_err *err);
void gen_http_close(struct gen_http *h);
void gen_reply_free(struct gen_reply *r);

/*
 * One request, signed by `dev` (NULL: unsigned), retried on network
 * errors, 429 and 5xx with a growing pause. 0 with the last reply in *r,
 * or CB_EIO when the server could not be reached at all.
 */
int gen_http_request(struct gen_http *h, const struct gen_device *dev,
		     const char *method, const char *path, const char *body,
		     size_t len, struct gen_reply *r, struct cb_err *err);

/* Poll GET /v1/health until it answers 200, for at most `seconds`. */
int gen_health_wait(struct gen_http *h, double seconds, struct cb_err *err);

/*
 * Register `dev` (its key pair already made, user set) with the one-time
 * `token`: fills id, site, role and index from the answer; *protocol
 * (may be NULL) gets a malloc'd copy of the protocol text it carries.
 */
int gen_register(struct gen_http *h, struct gen_device *dev, const char *token,
		 char **protocol, size_t *protocol_len, struct cb_err *err);

/*
 * GET /v1/slots as `dev`: its lease replaces dev->lease, a slot already
 * taken here (whose randomize event the server may not hold yet) staying
 * taken. CB_ENOTFOUND when the server has no randomization for it (403
 * or 404).
 */
int gen_fetch_slots(struct gen_http *h, struct gen_device *dev,
		    struct cb_err *err);

/* A finished push body waiting for the push thread. */
struct gen_batch {
	struct gen_device *dev;
	char *body;
	size_t len, n;
	unsigned char kinds[GEN_BATCH_EVENTS];
	struct gen_batch *next;
};

/*
 * The push thread: takes batches in the order they are submitted and
 * posts each to /v1/sync/push as its device, counting the answers.
 */
struct gen_pusher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gen_batch *head, *tail;
	size_t queued;
	int busy, stop, failed, started;
	struct cb_err err; /* why it failed */
	struct gen_http http;
	struct gen_counts counts;
	uint64_t pushed;   /* events answered */
	uint64_t requests; /* pushes answered */
	unsigned shown;	   /* rejections printed */
	int verbose;
	int dry; /* count every batch as accepted, send nothing */
};

/* Start the push thread; base NULL: a dry run (nothing is sent). */
int gen_pusher_start(struct gen_pusher *p, const char *base, int verbose,
		     struct cb_err *err);
/* Hand a batch over (blocks while GEN_QUEUE_MAX wait); CB_EIO if the
 * push thread has failed, the batch is then freed. */
int gen_pusher_submit(struct gen_pusher *p, struct gen_batch *b,
		      struct cb_err *err);
/* Wait until every submitted batch is answered. */
int gen_pusher_drain(struct gen_pusher *p, struct cb_err *err);
/* Drain, stop the thread and free what it holds. */
int gen_pusher_stop(struct gen_pusher *p, struct cb_err *err);
/* A snapshot of the counters, under the lock. */
void gen_pusher_progress(struct gen_pusher *p, uint64_t *events,
			 struct gen_counts *counts);

/* Everything one run shares. */
struct gen {
	struct cb_protocol *p;
	char seed[128];
	int64_t today;	 /* days since 1970-01-01: no date after it */
	long per_device; /* subjects a coordinator creates (gen_place) */
	int randomize;
	int verbose;
	int dry; /* no server: leases are made up, batches not sent */

	size_t nsites;
	char (*sites)[CB_SITE_MAX + 1];
	/* per site: its coordinators (creators of its subjects, in order)
	 * and its investigator */
	struct gen_device ***coord;
	size_t *ncoord;
	struct gen_device **inv;
	struct gen_device *dm, *lab;

	struct cb_hlc hlc; /* one clock for every device: causal order */
	struct gen_pusher pusher;
	struct gen_http http; /* the main thread's: slots */

	/* Counts of what was made. */
	struct gen_counts counts; /* .refused only */
	uint64_t events;	  /* queued for pushing */
	uint64_t screen_fail, randomized, no_slot, dosed, completed, withdrew,
	    lost, died, ongoing, conflicts, aes, serious;
	unsigned refused_shown;
};

/* ---- gen_entry.c: events as a laptop makes them ------------------------ */

/* Most items one save writes (KOOS has 42), and the longest value. */
#define GEN_SAVE_MAX 64
#define GEN_VALUE_MAX 128
/* Per subject: queries acted on later, adverse events, signed forms. */
#define GEN_QUERY_MAX 64
#define GEN_AE_MAX 12
#define GEN_SIGN_MAX 96
/* Scheduled visits after day 0 this generator follows. */
#define GEN_VISIT_MAX 32

/* A subject's own random stream (xoshiro256**, gen_trial.c). */
struct gen_rng {
	uint64_t s[4];
};

/* A query a later phase answers or closes. */
struct gen_query {
	char id[CB_EVENT_ID_HEX + 1];
	char visit[CB_PROTOCOL_CODE_MAX + 1], form[CB_PROTOCOL_CODE_MAX + 1];
	char instance[16], item[CB_PROTOCOL_CODE_MAX + 1];
	int dm; /* raised by the data manager, else a soft check's */
	int answered;
};

/* A form instance: what the investigator signed. */
struct gen_form {
	char visit[CB_PROTOCOL_CODE_MAX + 1], form[CB_PROTOCOL_CODE_MAX + 1];
	char instance[16];
};

/* One planned adverse event. */
struct gen_ae {
	int64_t onset, end; /* days; end the day it resolves (or death) */
	int grade, serious, criterion, rel, relpr, treated, partial;
	int fatal, sev_off, no_end;
	const char *term;
	unsigned instance; /* 0 until reported */
	int closed;	   /* its resolution is recorded */
};

/* Why a subject left the study early. */
enum gen_leave { GEN_STAYS, GEN_WITHDREW, GEN_LOST, GEN_DIED };

/*
 * One subject while its chunk is made: its plan (drawn at the start of
 * phase 1), how far it got, and what the later phases act on. Its merge
 * state holds its events made so far, which are the events the server
 * holds of it when the next one arrives.
 */
struct gen_subject {
	uint64_t index;
	char id[CB_SUBJECT_ID_MAX + 1];
	size_t site;
	struct gen_device *creator;
	struct gen_rng rng;
	uint64_t evseq;
	struct cb_merge *m;

	/* the plan */
	int64_t consent, scr, bl;
	int64_t vdate[GEN_VISIT_MAX]; /* post-baseline visits, in order */
	int male, right_knee, fail, klgrade, age, brthyr;
	double height, weight;
	int vas0, rom0;
	double improve, mfc0;
	enum gen_leave leave;
	size_t leave_at; /* post-baseline visit index it does not reach */
	int64_t eos;	 /* end of study date, or -1 */
	const char *leave_reason;

	int last_of_device; /* its creator's last, another one follows */

	/* how far it got */
	int created, randomized, inj_done, reached_bl;
	char kit[32];

	struct gen_ae ae[GEN_AE_MAX];
	size_t nae;
	unsigned ae_next;

	struct gen_query q[GEN_QUERY_MAX];
	size_t nq;
	struct gen_form signs[GEN_SIGN_MAX];
	size_t nsigns;
	int has_conflict;
	struct gen_query conflict; /* visit, form, instance, item; id = h0 */
};

/* One save: items of one form instance and their values. */
struct gen_save {
	const char *visit, *form;
	char instance[16];
	size_t n;
	const char *items[GEN_SAVE_MAX];
	char values[GEN_SAVE_MAX][GEN_VALUE_MAX];
	const char *reason;
};

/*
 * A new event of device d about subject s, with its target; its id,
 * clock and signature come in gen_emit. CB_ENOMEM.
 */
int gen_new_event(struct gen_subject *s, struct gen_device *d,
		  struct cb_event *ev, const char *kind, const char *visit,
		  const char *form, const char *instance, struct cb_err *err);

/*
 * Give `ev` its id, clock and signature, check it as the server will
 * (cb_record_check_event on s->m) and queue it on d's push. 0 when
 * queued and added to s->m; 1 when our own check refuses it (counted in
 * g->counts.refused, the first few printed, nothing sent); or a negative
 * CB_E* code that stops the run. `res` (may be NULL) gets the edit-check
 * results.
 */
int gen_emit(struct gen *g, struct gen_subject *s, struct gen_device *d,
	     struct cb_event *ev, struct cb_check_results *res,
	     struct cb_err *err);

/* Remember the query opened by `ev` for the later phases. */
void gen_remember_query(struct gen_subject *s, const struct cb_event *ev,
			const char *item, int dm);

/* A query.answer or query.close of query q by d; as gen_emit. */
int gen_query_event(struct gen *g, struct gen_subject *s, struct gen_device *d,
		    const char *kind, const struct gen_query *q,
		    const char *text, struct cb_err *err);

/* Start a save of instance `instance` (0: none) of form at visit. */
void gen_save_init(struct gen_save *sv, const char *visit, const char *form,
		   unsigned instance);
/* Add ITEM=value (printf) or ITEM=date (days since 1970) to a save. */
void gen_put(struct gen_save *sv, const char *item, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gen_put_day(struct gen_save *sv, const char *item, int64_t day);

/*
 * Save sv as device d's form.save, each change naming the item's current
 * heads (so a change of a saved value, or of a conflict, needs
 * sv->reason), unchanged items left out, then open the queries of its
 * soft failures. As gen_emit; nothing changed saves nothing (0).
 */
int gen_save_form(struct gen *g, struct gen_subject *s, struct gen_device *d,
		  const struct gen_save *sv, struct cb_err *err);

/* A change of one item naming exactly `prev` (a concurrent edit). */
int gen_save_over(struct gen *g, struct gen_subject *s, struct gen_device *d,
		  const struct gen_query *at, const char *value,
		  const char *const *prev, size_t nprev, const char *reason,
		  struct cb_err *err);

/*
 * Randomize eligible subject s as `casebook randomize` does, at `when`
 * (its RAND date and time), with the next slot of its stratum leased to
 * its creator; the lease is topped up (GET /v1/slots) when used up. 0
 * randomized; 1 not (no slot left: counted in g->no_slot); or as
 * gen_emit.
 */
int gen_randomize(struct gen *g, struct gen_subject *s, const char *when,
		  struct cb_err *err);

/* Close d's push being built and hand it to the push thread. */
int gen_flush_device(struct gen *g, struct gen_device *d, struct cb_err *err);

/* `day` (days since 1970-01-01) as YYYY-MM-DD. */
void gen_day_text(int64_t day, char out[CB_DATE_TEXT_MAX + 1]);

/* ---- gen_trial.c: the trial ------------------------------------------- */

/*
 * Where subject number `i` (0-based) goes: site i mod nsites, and there
 * the coordinator (index into g->coord[site]) that creates it and its
 * number on that device. Each coordinator creates `per_device` subjects
 * of its site, then the next one takes over.
 */
void gen_place(size_t nsites, long per_device, uint64_t i, size_t *site,
	       size_t *coord, long *seq);

/* Subjects one coordinator device creates by default, and at most. */
#define GEN_PER_DEVICE CB_SUBJECT_SEQ_MAX

/*
 * Make subjects first..first+n-1 through the four phases (top of this
 * file), queueing their events on the devices and submitting batches.
 * Returns 0, or a negative CB_E* code for a failure that stops the run
 * (out of memory, the push thread failed); events our own checks refuse
 * are counted in g->counts.refused and skipped.
 */
int gen_chunk(struct gen *g, uint64_t first, size_t n, struct cb_err *err);

/* Finish every device's batch and hand it to the push thread. */
int gen_flush_all(struct gen *g, struct cb_err *err);

#endif
