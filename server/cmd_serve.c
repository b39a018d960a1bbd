/*
 * cmd_serve.c - `casebookd serve`: run the HTTP API (api.c) in the
 * daemon (daemon.c) on the central store until SIGTERM or SIGINT.
 */
#include "api.h"
#include "core.h"
#include "daemon.h"
#include "slots.h"
#include "srv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_serve_help[] =
    "usage: casebookd serve --data DIR --listen ADDR:PORT [--threads N]\n"
    "                       [--rate N] [--lease N] [--max-per-ip N]\n"
    "                       [--tls-cert FILE --tls-key FILE]\n"
    "\n"
    "Serve the HTTP API (docs/api.md) on the central store in DIR until\n"
    "SIGTERM or SIGINT. On a stop signal it stops accepting, lets requests\n"
    "in progress finish and exits 0; an event is acknowledged only after\n"
    "it is committed, so none acknowledged is ever lost. Several serve\n"
    "may serve one PostgreSQL store (--store URL) at once, on one host\n"
    "or several, behind a load balancer (docs/OPERATIONS.md).\n"
    "\n"
    "  --listen ADDR:PORT   address to listen on: 127.0.0.1:8443,\n"
    "                       [::1]:8443, 0.0.0.0:8443\n"
    "  --threads N          worker threads, 1 to 64 (default 4)\n"
    "  --rate N             signed requests per second one device may\n"
    "                       make, 1 to 100000 (default 200; bursts of\n"
    "                       twice that); more are answered 429\n"
    "  --lease N            randomization slots each site device holds\n"
    "                       per stratum after a sync, 1 to 200\n"
    "                       (default 4; docs/randomization.md)\n"
    "  --max-per-ip N       connections one client address may hold,\n"
    "                       1 to 512 (default 64; laptops behind one\n"
    "                       hospital address share it)\n"
    "  --tls-cert FILE      PEM certificate (with --tls-key: HTTPS;\n"
    "                       scripts/dev-cert.sh makes a development one)\n"
    "  --tls-key FILE       PEM private key\n"
    "\n"
    "Logs one JSON object per line on stderr (never tokens, keys or\n"
    "clinical values). When it stops it logs the writer's account\n"
    "(\"msg\":\"writer\"): the groups of pushes committed, the pushes\n"
    "and events they held, and the milliseconds the single writer was\n"
    "busy and spent committing.\n"
    "\n" SRV_HELP_STORE
    "Exit codes: 0 stopped by a signal; 1 failure (no store, address in\n"
    "use, bad TLS files); 2 usage.\n";

/* The writer's account, logged when serve stops (core.h). */
static void log_writer(struct srv_core *core)
{
	struct srv_writer_stats w;
	char groups[24], pushes[24], events[24], busy[32], commit[32];
	const char *kv[] = {"groups",	 groups, "pushes",  pushes,
			    "events",	 events, "busy_us", busy,
			    "commit_us", commit, NULL};

	srv_core_writer_stats(core, &w);
	snprintf(groups, sizeof(groups), "%ld", w.groups);
	snprintf(pushes, sizeof(pushes), "%ld", w.pushes);
	snprintf(events, sizeof(events), "%lld", w.events);
	/* Whole microseconds: the log carries no decimal that could read
	 * as a clinical value (t_roles scans it for the unblinded ones). */
	snprintf(busy, sizeof(busy), "%.0f", w.busy_ms * 1e3);
	snprintf(commit, sizeof(commit), "%.0f", w.commit_ms * 1e3);
	srv_log("info", "writer", kv);
}

int cmd_serve(int argc, char **argv)
{
	static const char *const names[] = {
	    "--data", "--listen", "--threads",	  "--tls-cert", "--tls-key",
	    "--rate", "--lease",  "--max-per-ip", NULL};
	const char *vals[8] = {NULL}, *pos[1];
	struct srv_daemon_opts o;
	struct srv_core core;
	struct cb_err err;
	long threads = SRV_HTTP_THREADS_DEFAULT, rate = SRV_HTTP_RATE_DEFAULT;
	long lease = SRV_SLOTS_LEASE, per_ip = SRV_HTTP_PER_IP_LIMIT;
	int npos, rc;

	rc = srv_parse_opts("serve", argc, argv, names, vals, pos, 0, &npos);
	if (rc)
		return rc;
	if (!vals[0] || !vals[1])
		return srv_usage("serve",
				 "--data DIR and --listen ADDR:PORT are "
				 "required");
	memset(&o, 0, sizeof(o));
	o.listen = vals[1];
	if ((rc = srv_opt_range("serve", "--threads", vals[2], 1,
				SRV_HTTP_THREADS_MAX, &threads)) ||
	    (rc = srv_opt_range("serve", "--rate", vals[5], 1,
				SRV_HTTP_RATE_MAX, &rate)) ||
	    (rc = srv_opt_range("serve", "--lease", vals[6], 1,
				SRV_SLOTS_LEASE_MAX, &lease)) ||
	    (rc = srv_opt_range("serve", "--max-per-ip", vals[7], 1,
				SRV_HTTP_PER_IP_MAX, &per_ip)))
		return rc;
	o.threads = (unsigned)threads;
	o.per_ip = (unsigned)per_ip;
	srv_api_set_rate((unsigned)rate);
	srv_slots_set_lease((unsigned)lease);
	if (!vals[3] != !vals[4])
		return srv_usage("serve",
				 "--tls-cert and --tls-key go together");
	o.tls_cert = vals[3];
	o.tls_key = vals[4];
	/* SQLite's page caches, the writer's 16 MiB and one per thread,
	 * share about 20 MiB: with the cache of merge states (core.h) the
	 * server stays under 64 MiB however many threads serve
	 * (bench_server, part devices: 83.6 MiB before at 4 threads). */
	srv_store_memory_limit(20LL << 20);
	cb_err_clear(&err);
	if (srv_lock_data(vals[0], "serve", &err))
		return srv_fail(&err);
	rc = srv_core_open(&core, vals[0], &err);
	if (!rc)
		rc = srv_store_checkpointer(core.store, &err);
	/* Pulls of the events committed last answered from memory. */
	if (!rc)
		rc = srv_core_recent(&core, SRV_RECENT_BYTES, &err);
	o.name = core.study;
	if (!rc) {
		rc = srv_daemon_run(&o, srv_api_handle, srv_api_body_cap, &core,
				    &err);
		log_writer(&core);
	}
	srv_core_close(&core);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}
