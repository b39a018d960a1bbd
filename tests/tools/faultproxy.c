/*
 * faultproxy.c - a TCP proxy that damages traffic on purpose, for the
 * randomized crash trial (tests/tools/trial.py, docs/RELIABILITY.md).
 * Laptops talk to it instead of the server; it forwards each connection
 * to the server and, driven by a seed, delays, drops, truncates, resets
 * or duplicates the bytes at a random point.
 *
 *   faultproxy --listen 127.0.0.1:PORT --to 127.0.0.1:PORT --seed N
 *              [--rate PERCENT] [--max-delay MS] [--log FILE]
 *              [--port-file FILE]
 *
 * --listen with port 0 takes a free port; --port-file gets its number
 * once the proxy listens (so a test never races for a port). --rate is
 * the share of connections that get a fault (default 30). The upstream
 * is connected anew for each connection, so the server may be killed
 * and restarted behind the proxy.
 *
 * Connection k (counted from 0) gets its plan from the seed and k alone:
 * whether it is damaged, how, in which direction and after how many
 * bytes. A trial that opens its connections in the same order replays
 * the same damage. The faults:
 *
 *   delay      pauses of up to --max-delay ms before chunks from the
 *              point on (the connection then completes)
 *   drop       from the point on, bytes in that direction are thrown
 *              away; after a pause both sides are closed
 *   truncate   bytes up to the point are delivered, then both sides are
 *              closed at once
 *   reset      both sides are reset (RST) at the point
 *   duplicate  either the chunk at the point is sent twice, or, once the
 *              connection is over, everything the client sent is sent
 *              again on a new connection to the server (its answer is
 *              read and thrown away): a replayed request
 *
 * "up" is laptop to server, "down" server to laptop: a request lost on
 * its way, or an answer lost after the server acted on the request.
 * --log gets one line per connection: its number, the plan, and the
 * bytes moved each way.
 *
 * SIGTERM or SIGINT end the proxy; connections in flight are cut.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* A request kept for a replay is cut at this size (requests of the
 * trial are far smaller). */
#define REPLAY_MAX (8u << 20)
#define CHUNK 16384

enum fault {
	F_NONE,
	F_DELAY,
	F_DROP,
	F_TRUNCATE,
	F_RESET,
	F_DUP_CHUNK,
	F_REPLAY
};
static const char *const fault_names[] = {
    "none", "delay", "drop", "truncate", "reset", "duplicate-chunk", "replay"};

static struct sockaddr_in upstream;
static uint64_t seed;
static unsigned rate = 30, max_delay_ms = 300;
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

struct plan {
	enum fault fault;
	int down;     /* 0: laptop to server, 1: server to laptop */
	uint64_t at;  /* bytes in that direction before the fault */
	uint64_t rng; /* for the pauses of a delay */
	int pauses;   /* a delay pauses before at most 4 chunks */
};

struct conn {
	unsigned long k;
	int client, server;
	struct plan p;
};

/* splitmix64: a small, good generator whose whole state is one word. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct plan make_plan(unsigned long k)
{
	struct plan p;
	uint64_t s = seed * 1000003ULL + k;
	unsigned bits;

	memset(&p, 0, sizeof(p));
	next_rand(&s);
	p.rng = next_rand(&s);
	if (next_rand(&s) % 100 >= rate)
		return p;
	p.fault = (enum fault)(1 + next_rand(&s) % 6);
	p.down = (int)(next_rand(&s) % 2);
	/* Offsets spread over every scale: a few bytes (inside the request
	 * line or status line), the headers, and deep into a body. */
	bits = (unsigned)(next_rand(&s) % 17);
	p.at = next_rand(&s) % ((uint64_t)1 << bits);
	return p;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Write all of buf; 0, or -1 when the peer is gone. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void reset_fd(int fd)
{
	struct linger l = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static int connect_upstream(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&upstream, sizeof(upstream))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Send a recorded request again on a new connection and read the
 * answer until the server closes or goes quiet for a second.
 */
static void replay(const char *req, size_t len)
{
	char buf[CHUNK];
	struct pollfd pfd;
	int fd = connect_upstream();

	if (fd < 0)
		return;
	if (send_all(fd, req, len) == 0) {
		shutdown(fd, SHUT_WR);
		pfd.fd = fd;
		pfd.events = POLLIN;
		while (poll(&pfd, 1, 1000) > 0 &&
		       recv(fd, buf, sizeof(buf), 0) > 0)
			;
	}
	close(fd);
}

static void *serve_conn(void *arg)
{
	struct conn *c = arg;
	struct pollfd pfd[2];
	char buf[CHUNK];
	char *req = NULL;
	size_t req_len = 0;
	uint64_t moved[2] = {0, 0};
	int open_dir[2] = {1, 1}; /* [0] laptop->server, [1] back */
	int dropping = 0, done = 0;
	const char *end = "closed";

	c->server = connect_upstream();
	if (c->server < 0) {
		close(c->client);
		end = "no upstream";
		goto out;
	}
	if (c->p.fault == F_REPLAY)
		req = malloc(REPLAY_MAX);
	if (c->p.fault == F_RESET && c->p.at == 0 && !c->p.down) {
		reset_fd(c->client);
		reset_fd(c->server);
		end = "reset";
		goto out;
	}
	while (!done && (open_dir[0] || open_dir[1])) {
		int i;

		pfd[0].fd = open_dir[0] ? c->client : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = open_dir[1] ? c->server : -1;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, dropping ? 200 : 60000) <= 0) {
			/* A drop ends after a pause; a silent minute ends
			 * any connection. */
			end = dropping ? "dropped" : "idle";
			break;
		}
		for (i = 0; i < 2 && !done; i++) {
			int from = i ? c->server : c->client;
			int to = i ? c->client : c->server;
			ssize_t n;
			size_t len, cut;
			int hit;

			if (pfd[i].fd < 0 ||
			    !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(from, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* Pass the end of this direction on. */
				shutdown(to, SHUT_WR);
				open_dir[i] = 0;
				continue;
			}
			len = (size_t)n;
			if (!i && req && req_len + len <= REPLAY_MAX) {
				memcpy(req + req_len, buf, len);
				req_len += len;
			}
			hit = c->p.fault != F_NONE && c->p.down == i &&
			      moved[i] + len > c->p.at;
			cut = hit && c->p.at > moved[i]
				  ? (size_t)(c->p.at - moved[i])
				  : 0;
			if (dropping && c->p.down == i) {
				moved[i] += len;
				continue;
			}
			if (!hit) {
				if (send_all(to, buf, len)) {
					done = 1;
					break;
				}
				moved[i] += len;
				continue;
			}
			switch (c->p.fault) {
			case F_DELAY:
				if (c->p.pauses++ < 4)
					pause_ms(
					    (unsigned)(next_rand(&c->p.rng) %
						       (max_delay_ms + 1)));
				if (send_all(to, buf, len))
					done = 1;
				break;
			case F_DROP:
				if (cut && send_all(to, buf, cut))
					done = 1;
				dropping = 1;
				break;
			case F_TRUNCATE:
				if (cut)
					send_all(to, buf, cut);
				end = "truncated";
				done = 1;
				break;
			case F_RESET:
				if (cut)
					send_all(to, buf, cut);
				reset_fd(c->client);
				reset_fd(c->server);
				c->client = c->server = -1;
				end = "reset";
				done = 1;
				break;
			case F_DUP_CHUNK:
				if (send_all(to, buf, len) ||
				    send_all(to, buf, len))
					done = 1;
				/* Once only. */
				c->p.fault = F_NONE;
				break;
			case F_REPLAY:
			case F_NONE:
				if (send_all(to, buf, len))
					done = 1;
				break;
			}
			moved[i] += len;
		}
	}
	if (c->client >= 0)
		close(c->client);
	if (c->server >= 0)
		close(c->server);
	if (req && req_len)
		replay(req, req_len);
out:
	if (log_file) {
		pthread_mutex_lock(&log_lock);
		fprintf(
		    log_file, "conn %lu %s %s at %llu: up %llu down %llu, %s\n",
		    c->k, fault_names[c->p.fault], c->p.down ? "down" : "up",
		    (unsigned long long)c->p.at, (unsigned long long)moved[0],
		    (unsigned long long)moved[1], end);
		fflush(log_file);
		pthread_mutex_unlock(&log_lock);
	}
	free(req);
	free(c);
	return NULL;
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: faultproxy --listen HOST:PORT --to HOST:PORT --seed N\n"
		"                  [--rate PERCENT] [--max-delay MS] "
		"[--log FILE] [--port-file FILE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_in listen_addr;
	socklen_t alen = sizeof(listen_addr);
	const char *listen_s = NULL, *to_s = NULL, *port_file = NULL;
	unsigned long k = 0;
	int lfd, one = 1, i;
	char *end;

	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage();
		if (!strcmp(argv[i], "--listen"))
			listen_s = v;
		else if (!strcmp(argv[i], "--to"))
			to_s = v;
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(v, &end, 10);
		else if (!strcmp(argv[i], "--rate"))
			rate = (unsigned)strtoul(v, &end, 10);
		else if (!strcmp(argv[i], "--max-delay"))
			max_delay_ms = (unsigned)strtoul(v, &end, 10);
		else if (!strcmp(argv[i], "--log"))
			log_file = fopen(v, "a");
		else if (!strcmp(argv[i], "--port-file"))
			port_file = v;
		else
			return usage();
		i++;
	}
	if (!listen_s || !to_s || parse_addr(listen_s, &listen_addr) ||
	    parse_addr(to_s, &upstream) || rate > 100)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) ||
	    listen(lfd, 64) ||
	    getsockname(lfd, (struct sockaddr *)&listen_addr, &alen)) {
		perror("faultproxy: listen");
		return 1;
	}
	if (port_file) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", ntohs(listen_addr.sin_port)) < 0 ||
		    fclose(f) || rename(tmp, port_file)) {
			perror("faultproxy: port file");
			return 1;
		}
	}
	for (;;) {
		pthread_t t;
		pthread_attr_t attr;
		struct conn *c;
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE) {
				if (errno == EMFILE || errno == ENFILE)
					pause_ms(50);
				continue;
			}
			perror("faultproxy: accept");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->k = k;
		c->client = fd;
		c->server = -1;
		c->p = make_plan(k++);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, serve_conn, c)) {
			close(fd);
			free(c);
		}
		pthread_attr_destroy(&attr);
	}
}
