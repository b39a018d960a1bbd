/*
 * faultinj.c - failure injection for the real binaries, SQLite's and
 * curl's way, without a line of Casebook's own code changed: a library
 * loaded with LD_PRELOAD that makes the Nth allocation, SQLite step or
 * commit, file write or fsync of a process fail. The loop tests
 * (tests/e2e/t_inject.sh) run one operation for N = 1, 2, ... until the
 * fault no longer fires, and check that each run either failed with a
 * clear error and changed nothing, or succeeded completely.
 *
 * Environment (read once, at load):
 *
 *   CBFAULT         the class of calls counted and failed:
 *                     malloc  malloc, calloc, realloc, posix_memalign,
 *                             aligned_alloc, memalign (NULL, ENOMEM)
 *                     sql     sqlite3_step and sqlite3_exec (the call is
 *                             not run; it returns CBFAULT_SQLRC with a
 *                             message on the connection saying why)
 *                     commit  the same, counting only COMMIT, END and
 *                             RELEASE statements
 *                     write   write, pwrite, pwrite64, writev to a
 *                             regular file (-1, CBFAULT_ERRNO); writes
 *                             to terminals, pipes and sockets are left
 *                             alone so error messages still get out
 *                     fsync   fsync and fdatasync (-1, CBFAULT_ERRNO)
 *                     rofs    a read-only file system: opening a file
 *                             for writing or creating it, asking
 *                             access(W_OK), writing, truncating and
 *                             unlinking (-1, EROFS), and statvfs()
 *                             says ST_RDONLY, for a test that may not
 *                             mount one (a sticky ENOSPC write fault
 *                             also makes statvfs() say no block is
 *                             free)
 *                   unset or "none": nothing fails, calls are counted
 *                   under every class so a test can see how many there
 *                   are.
 *   CBFAULT_N       the Nth counted call (1 is the first) fails; unset
 *                   or 0: none.
 *   CBFAULT_STICKY  1: the Nth and every later call fail (memory gone,
 *                   a disk that stays full); else only the Nth (a
 *                   transient failure).
 *   CBFAULT_ARM     FUNC[:K]: count only from the Kth call (default the
 *                   first) of FUNC: sqlite3_open (sqlite3_open,
 *                   sqlite3_open_v2), accept (accept, accept4) or
 *                   connect. So a server is armed by the request that
 *                   follows its health check, and start-up is not what
 *                   fails. Or sql:TEXT: from the first step of a SQLite
 *                   statement whose text holds TEXT, to aim at what
 *                   follows one read. Unset: counted from the start.
 *   CBFAULT_ERRNO   ENOSPC, EIO (default), EROFS or EDQUOT: the errno of
 *                   a failed write or fsync.
 *   CBFAULT_SQLRC   the result code a failed SQLite call returns:
 *                   IOERR (default), FULL, NOMEM, BUSY or CORRUPT.
 *   CBFAULT_LOG     a file; appended: "fired CLASS N PID" when the fault
 *                   fires, "calls CLASS COUNT PID" at a normal exit.
 *                   A test reads it to know whether N went past the last
 *                   call.
 *
 * A test program that loads this library itself can also drive it in
 * process, around one call of the code under test (tests/unit/test_oom.c):
 *
 *   void cbfault_arm(const char *cls, unsigned long n, int sticky);
 *   int cbfault_disarm(void);
 *
 * cbfault_arm sets the class, N and mode, zeroes the counts and arms;
 * cbfault_disarm stops counting and says whether the fault fired. The
 * program finds them with dlsym(RTLD_DEFAULT, ...).
 *
 * Threads: the counters are atomic, so a multi-threaded server counts
 * every call once; which thread's call is the Nth depends on timing.
 *
 * Under AddressSanitizer (gcc links libasan.so), this library sits in
 * front of it: its malloc calls ASan's through dlsym(RTLD_NEXT), and
 * ASAN_OPTIONS=verify_asan_link_order=0 keeps ASan from refusing the
 * order.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sqlite3.h>

enum fault_class {
	F_NONE,
	F_MALLOC,
	F_SQL,
	F_COMMIT,
	F_WRITE,
	F_FSYNC,
	F_ROFS
};
static const char *const class_names[] = {"none",  "malloc", "sql", "commit",
					  "write", "fsync",  "rofs"};
enum arm_at { ARM_START, ARM_OPEN, ARM_ACCEPT, ARM_CONNECT, ARM_SQL };

static struct {
	int loaded;
	enum fault_class cls;
	unsigned long n;
	int sticky;
	enum arm_at arm;
	unsigned long arm_k;
	int err_no;
	int sql_rc;
	char log[1024];
	char arm_sql[256];
} cfg;

static volatile int armed;
static unsigned long arm_calls;
static unsigned long counts[7];
static int fired_logged;
static __thread int in_sqlite;

/* ---- the real functions ---------------------------------------------- */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

/*
 * dlsym itself may allocate (its error state) before real_calloc is
 * known: those few requests come from this static arena and are never
 * freed.
 */
static char boot_arena[16384] __attribute__((aligned(16)));
static size_t boot_used;
static int resolving;

static void *boot_alloc(size_t size)
{
	size_t at = (boot_used + 15) & ~(size_t)15;

	if (at + size > sizeof(boot_arena))
		return NULL;
	boot_used = at + size;
	return boot_arena + at;
}

static int is_boot(const void *p)
{
	return (const char *)p >= boot_arena &&
	       (const char *)p < boot_arena + sizeof(boot_arena);
}

static void resolve_malloc(void)
{
	if (real_malloc || resolving)
		return;
	resolving = 1;
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(
	    RTLD_NEXT, "posix_memalign");
	real_aligned_alloc =
	    (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
	real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
	resolving = 0;
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		static const char msg[] =
		    "faultinj: a real function is missing\n";
		syscall(SYS_write, 2, msg, sizeof(msg) - 1);
		abort();
	}
	return f;
}

/* ---- configuration and the log ------------------------------------------ */

static void log_line(const char *what, enum fault_class c, unsigned long v)
{
	char line[256];
	int fd, len;

	if (!cfg.log[0])
		return;
	len = snprintf(line, sizeof(line), "%s %s %lu %ld\n", what,
		       class_names[c], v, (long)getpid());
	fd = open(cfg.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	/* The raw system call: this write must be neither counted nor
	 * failed. */
	syscall(SYS_write, fd, line, (size_t)len);
	close(fd);
}

static unsigned long env_ulong(const char *name, unsigned long dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return dflt;
	v = strtoul(s, &end, 10);
	return *end ? dflt : v;
}

__attribute__((constructor)) static void load(void)
{
	const char *s;
	size_t i;

	resolve_malloc();
	s = getenv("CBFAULT");
	cfg.cls = F_NONE;
	for (i = 1; s && i < sizeof(class_names) / sizeof(*class_names); i++)
		if (!strcmp(s, class_names[i]))
			cfg.cls = (enum fault_class)i;
	cfg.n = env_ulong("CBFAULT_N", 0);
	cfg.sticky = env_ulong("CBFAULT_STICKY", 0) == 1;
	cfg.arm = ARM_START;
	cfg.arm_k = 1;
	s = getenv("CBFAULT_ARM");
	if (s && *s) {
		const char *colon = strchr(s, ':');
		size_t len = colon ? (size_t)(colon - s) : strlen(s);

		if (len == 12 && !strncmp(s, "sqlite3_open", len))
			cfg.arm = ARM_OPEN;
		else if (len == 6 && !strncmp(s, "accept", len))
			cfg.arm = ARM_ACCEPT;
		else if (len == 7 && !strncmp(s, "connect", len))
			cfg.arm = ARM_CONNECT;
		else if (len == 3 && !strncmp(s, "sql", len)) {
			/* sql:TEXT: the first step of a statement holding
			 * TEXT (no count). */
			cfg.arm = ARM_SQL;
			snprintf(cfg.arm_sql, sizeof(cfg.arm_sql), "%s",
				 colon ? colon + 1 : "");
			colon = NULL;
		}
		if (colon)
			cfg.arm_k = strtoul(colon + 1, NULL, 10);
		if (cfg.arm_k == 0)
			cfg.arm_k = 1;
	}
	s = getenv("CBFAULT_ERRNO");
	cfg.err_no = EIO;
	if (s && !strcmp(s, "ENOSPC"))
		cfg.err_no = ENOSPC;
	else if (s && !strcmp(s, "EROFS"))
		cfg.err_no = EROFS;
	else if (s && !strcmp(s, "EDQUOT"))
		cfg.err_no = EDQUOT;
	s = getenv("CBFAULT_SQLRC");
	cfg.sql_rc = SQLITE_IOERR;
	if (s && !strcmp(s, "FULL"))
		cfg.sql_rc = SQLITE_FULL;
	else if (s && !strcmp(s, "NOMEM"))
		cfg.sql_rc = SQLITE_NOMEM;
	else if (s && !strcmp(s, "BUSY"))
		cfg.sql_rc = SQLITE_BUSY;
	else if (s && !strcmp(s, "CORRUPT"))
		cfg.sql_rc = SQLITE_CORRUPT;
	s = getenv("CBFAULT_LOG");
	if (s)
		snprintf(cfg.log, sizeof(cfg.log), "%s", s);
	armed = cfg.arm == ARM_START;
	cfg.loaded = 1;
}

__attribute__((destructor)) static void unload(void)
{
	if (cfg.cls != F_NONE)
		log_line("calls", cfg.cls,
			 __atomic_load_n(&counts[cfg.cls], __ATOMIC_SEQ_CST));
}

static void arm_call(enum arm_at at)
{
	if (!cfg.loaded || armed || cfg.arm != at)
		return;
	if (__atomic_add_fetch(&arm_calls, 1, __ATOMIC_SEQ_CST) >= cfg.arm_k)
		armed = 1;
}

/*
 * Count one call of class c; nonzero when it must fail. Calls of other
 * classes than the configured one are counted too (for "none").
 */
static int hit(enum fault_class c)
{
	unsigned long k;

	if (!cfg.loaded || !armed)
		return 0;
	k = __atomic_add_fetch(&counts[c], 1, __ATOMIC_SEQ_CST);
	if (c != cfg.cls || cfg.n == 0)
		return 0;
	if (k == cfg.n || (cfg.sticky && k > cfg.n)) {
		if (!__atomic_exchange_n(&fired_logged, 1, __ATOMIC_SEQ_CST))
			log_line("fired", c, k);
		return 1;
	}
	return 0;
}

static int rofs_hit(void);

/* ---- driven in process ------------------------------------------------ */

void cbfault_arm(const char *cls, unsigned long n, int sticky);
int cbfault_disarm(void);

void cbfault_arm(const char *cls, unsigned long n, int sticky)
{
	size_t i;

	armed = 0;
	cfg.cls = F_NONE;
	for (i = 1; cls && i < sizeof(class_names) / sizeof(*class_names); i++)
		if (!strcmp(cls, class_names[i]))
			cfg.cls = (enum fault_class)i;
	cfg.n = n;
	cfg.sticky = sticky;
	for (i = 0; i < sizeof(counts) / sizeof(*counts); i++)
		__atomic_store_n(&counts[i], 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&fired_logged, 0, __ATOMIC_SEQ_CST);
	armed = 1;
}

int cbfault_disarm(void)
{
	armed = 0;
	return __atomic_load_n(&fired_logged, __ATOMIC_SEQ_CST);
}

/* ---- allocation -----------------------------------------------------------
 */

void *malloc(size_t size)
{
	if (!real_malloc) {
		if (resolving)
			return boot_alloc(size);
		resolve_malloc();
	}
	if (hit(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return real_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	if (!real_calloc) {
		if (resolving) {
			void *p;

			if (size && n > SIZE_MAX / size)
				return NULL;
			p = boot_alloc(n * size);
			if (p)
				memset(p, 0, n * size);
			return p;
		}
		resolve_malloc();
	}
	if (hit(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return real_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	if (!real_realloc)
		resolve_malloc();
	if (is_boot(p)) {
		/* Never grown in place: a fresh block with the old bytes
		 * (the arena block's size is not kept; copy what fits). */
		void *q = malloc(size);
		size_t room =
		    (size_t)(boot_arena + sizeof(boot_arena) - (char *)p);

		if (q)
			memcpy(q, p, size < room ? size : room);
		return q;
	}
	/* realloc(p, 0) frees: not an allocation that can fail. */
	if (size && hit(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return real_realloc(p, size);
}

void free(void *p)
{
	if (!p || is_boot(p))
		return;
	if (!real_free)
		resolve_malloc();
	real_free(p);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	if (!real_posix_memalign)
		resolve_malloc();
	if (hit(F_MALLOC))
		return ENOMEM;
	return real_posix_memalign(out, align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	if (!real_aligned_alloc)
		resolve_malloc();
	if (hit(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return real_aligned_alloc(align, size);
}

void *memalign(size_t align, size_t size)
{
	if (!real_memalign)
		resolve_malloc();
	if (hit(F_MALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return real_memalign(align, size);
}

/* ---- file writes and syncs --------------------------------------------------
 */

static int regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t))next("write");
	if (armed && regular(fd) && (hit(F_WRITE) || rofs_hit())) {
		if (cfg.cls == F_WRITE)
			errno = cfg.err_no;
		return -1;
	}
	return real(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, off_t))next(
		    "pwrite");
	if (armed && regular(fd) && (hit(F_WRITE) || rofs_hit())) {
		if (cfg.cls == F_WRITE)
			errno = cfg.err_no;
		return -1;
	}
	return real(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off64_t);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, off64_t))next(
		    "pwrite64");
	if (armed && regular(fd) && (hit(F_WRITE) || rofs_hit())) {
		if (cfg.cls == F_WRITE)
			errno = cfg.err_no;
		return -1;
	}
	return real(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (!real)
		real =
		    (ssize_t(*)(int, const struct iovec *, int))next("writev");
	if (armed && regular(fd) && (hit(F_WRITE) || rofs_hit())) {
		if (cfg.cls == F_WRITE)
			errno = cfg.err_no;
		return -1;
	}
	return real(fd, iov, n);
}

int fsync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))next("fsync");
	if (hit(F_FSYNC)) {
		errno = cfg.err_no;
		return -1;
	}
	return real(fd);
}

int fdatasync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))next("fdatasync");
	if (hit(F_FSYNC)) {
		errno = cfg.err_no;
		return -1;
	}
	return real(fd);
}

/* ---- a read-only file system ------------------------------------------ */

#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

static int rofs_hit(void)
{
	if (cfg.cls != F_ROFS || !hit(F_ROFS))
		return 0;
	errno = EROFS;
	return 1;
}

int open64(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	mode_t mode = 0;
	va_list ap;

	if (!real)
		real = (int (*)(const char *, int, ...))next("open64");
	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if ((flags & WRITE_FLAGS) && rofs_hit())
		return -1;
	return real(path, flags, mode);
}

int access(const char *path, int how)
{
	static int (*real)(const char *, int);

	if (!real)
		real = (int (*)(const char *, int))next("access");
	if ((how & W_OK) && rofs_hit())
		return -1;
	return real(path, how);
}

/*
 * What a full or read-only file system tells statvfs(): no free block
 * once a sticky ENOSPC write fault is armed, ST_RDONLY under rofs.
 */
static void fake_statvfs(struct statvfs *fs)
{
	if (!armed)
		return;
	if (cfg.cls == F_ROFS)
		fs->f_flag |= ST_RDONLY;
	else if (cfg.cls == F_WRITE && cfg.sticky &&
		 (cfg.err_no == ENOSPC || cfg.err_no == EDQUOT))
		fs->f_bfree = fs->f_bavail = 0;
}

int statvfs(const char *path, struct statvfs *fs)
{
	static int (*real)(const char *, struct statvfs *);
	int rc;

	if (!real)
		real = (int (*)(const char *, struct statvfs *))next("statvfs");
	rc = real(path, fs);
	if (rc == 0)
		fake_statvfs(fs);
	return rc;
}

int ftruncate64(int fd, off64_t len)
{
	static int (*real)(int, off64_t);

	if (!real)
		real = (int (*)(int, off64_t))next("ftruncate64");
	if (rofs_hit())
		return -1;
	return real(fd, len);
}

int unlink(const char *path)
{
	static int (*real)(const char *);

	if (!real)
		real = (int (*)(const char *))next("unlink");
	if (rofs_hit())
		return -1;
	return real(path);
}

/* ---- arming points ----------------------------------------------------------
 */

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	static int (*real)(int, struct sockaddr *, socklen_t *);

	if (!real)
		real = (int (*)(int, struct sockaddr *, socklen_t *))next(
		    "accept");
	int rc = real(fd, addr, len);
	if (rc >= 0)
		arm_call(ARM_ACCEPT);
	return rc;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	static int (*real)(int, struct sockaddr *, socklen_t *, int);

	if (!real)
		real = (int (*)(int, struct sockaddr *, socklen_t *, int))next(
		    "accept4");
	int rc = real(fd, addr, len, flags);
	if (rc >= 0)
		arm_call(ARM_ACCEPT);
	return rc;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);

	if (!real)
		real = (int (*)(int, const struct sockaddr *, socklen_t))next(
		    "connect");
	arm_call(ARM_CONNECT);
	return real(fd, addr, len);
}

/* ---- SQLite
 * ------------------------------------------------------------------ */

int sqlite3_open_v2(const char *path, sqlite3 **db, int flags, const char *vfs)
{
	static int (*real)(const char *, sqlite3 **, int, const char *);

	if (!real)
		real = (int (*)(const char *, sqlite3 **, int,
				const char *))next("sqlite3_open_v2");
	arm_call(ARM_OPEN);
	return real(path, db, flags, vfs);
}

int sqlite3_open(const char *path, sqlite3 **db)
{
	static int (*real)(const char *, sqlite3 **);

	if (!real)
		real = (int (*)(const char *, sqlite3 **))next("sqlite3_open");
	arm_call(ARM_OPEN);
	return real(path, db);
}

/* A COMMIT, END or RELEASE statement (leading blanks skipped). */
static int is_commit(const char *sql)
{
	if (!sql)
		return 0;
	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
		sql++;
	return !strncasecmp(sql, "COMMIT", 6) || !strncasecmp(sql, "END", 3) ||
	       !strncasecmp(sql, "RELEASE", 7);
}

typedef int (*exec_cb)(void *, int, char **, char **);

/*
 * Leave a message on the connection that says the failure was injected,
 * by running a statement that fails to prepare; sqlite3_errmsg() then
 * reads "no such function: cbfault_injected_failure".
 */
static void set_message(sqlite3 *db)
{
	static int (*real_exec)(sqlite3 *, const char *, exec_cb, void *,
				char **);

	if (!db)
		return;
	if (!real_exec)
		real_exec = (int (*)(sqlite3 *, const char *, exec_cb, void *,
				     char **))next("sqlite3_exec");
	in_sqlite++;
	real_exec(db, "SELECT cbfault_injected_failure()", NULL, NULL, NULL);
	in_sqlite--;
}

int sqlite3_step(sqlite3_stmt *s)
{
	static int (*real)(sqlite3_stmt *);
	static const char *(*sql_of)(sqlite3_stmt *);
	static sqlite3 *(*db_of)(sqlite3_stmt *);
	int fail;

	if (!real) {
		real = (int (*)(sqlite3_stmt *))next("sqlite3_step");
		sql_of = (const char *(*)(sqlite3_stmt *))next("sqlite3_sql");
		db_of =
		    (sqlite3 * (*)(sqlite3_stmt *)) next("sqlite3_db_handle");
	}
	if (!armed && cfg.arm == ARM_SQL && cfg.arm_sql[0]) {
		const char *text = sql_of(s);

		if (text && strstr(text, cfg.arm_sql))
			arm_call(ARM_SQL);
	}
	if (in_sqlite || !armed)
		return real(s);
	fail = hit(F_SQL);
	if (is_commit(sql_of(s)))
		fail |= hit(F_COMMIT);
	if (fail) {
		set_message(db_of(s));
		return cfg.sql_rc;
	}
	in_sqlite++;
	int rc = real(s);
	in_sqlite--;
	return rc;
}

int sqlite3_exec(sqlite3 *db, const char *sql, exec_cb cb, void *arg,
		 char **errmsg)
{
	static int (*real)(sqlite3 *, const char *, exec_cb, void *, char **);
	static char *(*mprintf)(const char *, ...);
	int fail;

	if (!real) {
		real = (int (*)(sqlite3 *, const char *, exec_cb, void *,
				char **))next("sqlite3_exec");
		mprintf = (char *(*)(const char *, ...))next("sqlite3_mprintf");
	}
	if (in_sqlite || !armed)
		return real(db, sql, cb, arg, errmsg);
	fail = hit(F_SQL);
	if (is_commit(sql))
		fail |= hit(F_COMMIT);
	if (fail) {
		set_message(db);
		if (errmsg)
			*errmsg = mprintf("cbfault_injected_failure");
		return cfg.sql_rc;
	}
	in_sqlite++;
	int rc = real(db, sql, cb, arg, errmsg);
	in_sqlite--;
	return rc;
}
