# Casebook build.
#
#   make                 bin/casebook and bin/casebookd from libcasebook.a
#   make test            every unit and end-to-end test; ends "N passed, N failed"
#   make demo            the main multi-site scenario on loopback
#   make bench           benchmarks (timings are reported, never asserted);
#                        BENCH_SECONDS: bench_server's 200 devices run
#                        (default 60 s, the figure issues 11 and 14 ask for)
#   make bench-pg        tests/bench/b_pg.sh alone (make bench runs it too):
#                        SQLite and PostgreSQL side by side, and 1, 2 and 3
#                        casebookd on one PostgreSQL; its sizes are in its
#                        header (CASEBOOK_BENCH_PG_*)
#   make trial|torture   seeded crash trials: 100 (CI), 2,000
#   make inject          every N of the failure-injection loops
#   make SANITIZE=address,undefined test
#                        the same code and tests under sanitizers, built in
#                        build-san/ so it never mixes with the normal objects
#   make fmt             clang-format every C file
#   make lint            cppcheck and clang-tidy, no finding allowed
#   make valgrind        the unit tests under valgrind, no error or leak
#   make fuzz            every libFuzzer target (tests/fuzz) for FUZZ_SECONDS
#                        each (default 60), built with clang, ASan and UBSan
#                        in build-fuzz/; make fuzz-ci: 30 s each, two at a
#                        time, after replaying every seed and regression
#                        input
#
# BUILD and BIN choose where objects and programs go, so several builds of
# one tree can run side by side.

CC      ?= cc
BENCH_SECONDS ?= 60
SANITIZE ?=

ifeq ($(SANITIZE),)
BUILD   ?= build
BIN     ?= bin
SANFLAGS =
else
BUILD   ?= build-san
BIN     ?= build-san/bin
SANFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

PKGS    := sqlite3 libsodium libcjson libcurl libmicrohttpd libpq
# libedit: line editing for `casebook shell`, linked into casebook only.
CLIENT_PKGS := libedit
# jemalloc: casebookd's allocator (docs/OPERATIONS.md, "Memory"), linked
# into casebookd only, and not under the sanitizers, which bring their own.
SERVER_PKGS := jemalloc
SERVER_LIBS = $(if $(SANITIZE),,$(shell pkg-config --libs $(SERVER_PKGS) 2>/dev/null))
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wwrite-strings
CFLAGS  ?= -O2 -g
# common/banned.h goes ahead of every file: a banned call (STYLE.md) is a
# compile error.
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(WARN) \
           $(CFLAGS) $(SANFLAGS) -Icommon $(PKG_CFLAGS) \
           -include common/banned.h -MMD -MP
LDLIBS_ALL = $(PKG_LIBS) -lm -lpthread

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CLIENT_LIBS = $(shell pkg-config --libs $(CLIENT_PKGS) 2>/dev/null)

COMMON_SRC := $(sort $(wildcard common/*.c))
CLIENT_SRC := $(sort $(wildcard client/*.c))
SERVER_SRC := $(sort $(wildcard server/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench/bench_*.c))
# The study generator's files (gen_*.c); the fault tools beside them
# (faultinj.c, faultproxy.c) are programs of their own, below.
TOOL_SRC   := $(sort $(wildcard tests/tools/gen_*.c))

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
LIB        := $(BUILD)/libcasebook.a
# The study generator behind scripts/gen-study (tests/tools/gen_study.h).
GEN_STUDY  := $(BUILD)/tools/gen_study

# The test build of casebook: the same program plus the test hooks (store
# test-events|test-list|test-secrets, status test-set) that some end-to-end
# tests use. Only the files holding hooks are compiled again, with
# CASEBOOK_TEST_HOOKS; bin/casebook never contains them.
HOOK_SRC   := client/cmd_init.c client/cmd_status.c client/entry.c \
              client/store.c client/store_open.c client/store_rows.c
HOOK_OBJ   := $(HOOK_SRC:%.c=$(BUILD)/hooks/%.o)
HOOK_BIN   := $(BUILD)/hooks/casebook

.PHONY: all deps test unit demo bench bench-pg fmt clean fuzz fuzz-ci fuzz-build \
	man install
all: deps-check $(BIN)/casebook $(BIN)/casebookd $(GEN_STUDY)

# Stop early with a useful message when a library is missing.
.PHONY: deps-check
deps-check:
	@pkg-config --exists $(PKGS) $(CLIENT_PKGS) $(SERVER_PKGS) || { \
	  echo "missing build dependencies; run: scripts/install-deps.sh (or make deps)"; exit 1; }

deps:
	@scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN)/casebook: $(CLIENT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(CLIENT_OBJ) $(LIB) $(LDLIBS_ALL) \
	  $(CLIENT_LIBS)

$(BUILD)/hooks/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DCASEBOOK_TEST_HOOKS -c -o $@ $<

$(HOOK_BIN): $(filter-out $(HOOK_SRC:%.c=$(BUILD)/%.o),$(CLIENT_OBJ)) \
		$(HOOK_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ \
	  $(filter-out $(HOOK_SRC:%.c=$(BUILD)/%.o),$(CLIENT_OBJ)) \
	  $(HOOK_OBJ) $(LIB) $(LDLIBS_ALL) $(CLIENT_LIBS)

$(BIN)/casebookd: $(SERVER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(SERVER_OBJ) $(LIB) $(LDLIBS_ALL) \
	  $(SERVER_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/t.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDLIBS_ALL)

# Unit tests of the server's own modules (test_srv_*.c) link its objects
# (all but its main) too.
$(BUILD)/tests/test_srv_%: tests/unit/test_srv_%.c tests/unit/t.h \
		$(filter-out %/main.o,$(SERVER_OBJ)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Iserver -o $@ $< \
	  $(filter-out %/main.o,$(SERVER_OBJ)) $(LIB) $(LDLIBS_ALL)

$(BUILD)/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS_ALL)

# It links libcasebook.a only: it talks to casebookd over HTTP like a
# laptop, never through server/ or client/.
$(GEN_STUDY): $(TOOL_SRC) tests/tools/gen_study.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(TOOL_SRC) $(LIB) $(LDLIBS_ALL)

# bench_store saves through the client's encrypted store (client/store.h),
# so it links the client's objects too (all but its main).
$(BUILD)/bench/bench_store: tests/bench/bench_store.c \
		$(filter-out %/main.o,$(CLIENT_OBJ)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(filter-out %/main.o,$(CLIENT_OBJ)) \
	  $(LIB) $(LDLIBS_ALL) $(CLIENT_LIBS)

# bench_laptop fills registered laptops through the client's store.
$(BUILD)/bench/bench_laptop: tests/bench/bench_laptop.c \
		$(filter-out %/main.o,$(CLIENT_OBJ)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(filter-out %/main.o,$(CLIENT_OBJ)) \
	  $(LIB) $(LDLIBS_ALL) $(CLIENT_LIBS)

# bench_sync fills a registered laptop through the client's data-entry
# session and stores rows through the server's store layer, so it links
# the client's objects (all but its main) and the server's store layer
# (store*.o and its PostgreSQL backend pg_*.o).
STORE_OBJ := $(filter $(BUILD)/server/store%.o $(BUILD)/server/pg_%.o,$(SERVER_OBJ))
$(BUILD)/bench/bench_sync: tests/bench/bench_sync.c \
		$(filter-out %/main.o,$(CLIENT_OBJ)) $(STORE_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(filter-out %/main.o,$(CLIENT_OBJ)) \
	  $(STORE_OBJ) $(LIB) $(LDLIBS_ALL) $(CLIENT_LIBS)

# Test tools (tests/tools/, docs/RELIABILITY.md): the failure-injection
# library the loop tests load with LD_PRELOAD, and the fault-injecting
# TCP proxy of the crash trial. Never built with sanitizers: the library
# goes in front of the sanitizer's own allocator.
TOOLS := $(BUILD)/tools/faultinj.so $(BUILD)/tools/faultproxy

$(BUILD)/tools/faultinj.so: tests/tools/faultinj.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARN) $(CFLAGS) -fPIC -shared \
	  $(shell pkg-config --cflags sqlite3 2>/dev/null) -o $@ $< -ldl

$(BUILD)/tools/faultproxy: tests/tools/faultproxy.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(WARN) \
	  $(CFLAGS) -o $@ $< -lpthread

# `make test` installs what is missing first, as the README promises.
# The benchmarks are built too (not run), so that a change of an
# interface they use cannot leave `make bench` broken.
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(HOOK_BIN) $(FUZZ_REPLAY) \
	  $(TOOLS) $(BENCH_BIN)
	@CASEBOOK_BIN=$(abspath $(BIN)) CASEBOOK_UNIT=$(abspath $(BUILD)/tests) \
	  CASEBOOK_HOOKS=$(abspath $(HOOK_BIN)) \
	  CASEBOOK_GEN_STUDY=$(abspath $(GEN_STUDY)) \
	  CASEBOOK_TOOLS=$(abspath $(BUILD)/tools) \
	  CASEBOOK_PG_LEAN=$(if $(SANITIZE),1,) \
	  CASEBOOK_SANITIZED=$(if $(SANITIZE),1,) tests/run.sh

# The long runs of the reliability suites (docs/RELIABILITY.md):
#   make trial     TRIALS (default 100) seeded crash trials, JOBS at a time
#                  (default 3); SEED=N picks the first seed; CI runs it
#   make torture   the same with 2,000 trials
#   make inject    the failure-injection loops over every N, not a sample
TRIALS ?= 100
TRIAL_JOBS ?= 3
.PHONY: trial torture inject
trial: deps
	@$(MAKE) --no-print-directory all $(TOOLS)
	@CASEBOOK_BIN=$(abspath $(BIN)) CASEBOOK_TOOLS=$(abspath $(BUILD)/tools) \
	  python3 tests/tools/trial.py --trials $(TRIALS) --jobs $(TRIAL_JOBS) \
	  $(if $(SEED),--first-seed $(SEED)) $(if $(KEEP),--keep $(KEEP))

torture:
	@$(MAKE) --no-print-directory trial TRIALS=2000

inject: deps
	@$(MAKE) --no-print-directory all $(HOOK_BIN) $(TOOLS)
	@CASEBOOK_BIN=$(abspath $(BIN)) CASEBOOK_HOOKS=$(abspath $(HOOK_BIN)) \
	  CASEBOOK_TOOLS=$(abspath $(BUILD)/tools) INJECT_FULL=1 \
	  TESTS=t_inject tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@CASEBOOK_BIN=$(abspath $(BIN)) scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(HOOK_BIN)
	@CASEBOOK_BIN=$(abspath $(BIN)) CASEBOOK_BENCH=$(abspath $(BUILD)/bench) \
	  CASEBOOK_BENCH_SECONDS=$(BENCH_SECONDS) \
	  CASEBOOK_HOOKS=$(abspath $(HOOK_BIN)) tests/bench/run.sh

bench-pg: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/bench_server
	@CASEBOOK_BIN=$(abspath $(BIN)) CASEBOOK_BENCH=$(abspath $(BUILD)/bench) \
	  CASEBOOK_BENCH_SECONDS=$(BENCH_SECONDS) sh tests/bench/b_pg.sh

# ---- static analysis and leak checks (CI runs both) ---------------------
#
# make lint       cppcheck and clang-tidy on the project's own code
#                 (common/, client/, server/): any finding fails
# make valgrind   every unit test under valgrind: any memory error or
#                 leak fails
# The checks are chosen to find bugs, not to restyle: clang-tidy runs the
# static analyzer (its core.* path checks: null and garbage values; leaks,
# double frees, use after free, dead stores, unix API misuse, malloc(0))
# and the bugprone checks, but not:
#  - the analyzer's "insecure API" advice (memcpy_s and friends are not in
#    glibc; STYLE.md bans the calls that are unsafe);
#  - valist.Uninitialized: clang 14 does not see va_start on x86-64 (whose
#    va_list is an array): each of its ten findings is a vsnprintf or
#    vfprintf right after the va_start of the same va_list;
#  - bugprone checks that ask for another spelling of sound code
#    (sizeof(*p) of an array of pointers, memcpy of a counted length).
# The analyzer reads one file at a time: what a function of another file
# guarantees (cb_err_set returns its code, cb_db_stmt's NULL comes with
# err set) is said to it in that function's header, under
# __clang_analyzer__, and an invariant it cannot work out is an assert
# (docs/RELIABILITY.md, "Static analysis and valgrind").
LINT_SRC := $(COMMON_SRC) $(CLIENT_SRC) $(SERVER_SRC)
LINT_CPPFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
  -Icommon $(PKG_CFLAGS)
TIDY_CHECKS := -*,clang-analyzer-*,bugprone-*,$\
  -clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,$\
  -clang-analyzer-security.insecureAPI.strcpy,$\
  -bugprone-easily-swappable-parameters,$\
  -bugprone-reserved-identifier,$\
  -bugprone-suspicious-string-compare,$\
  -bugprone-implicit-widening-of-multiplication-result,$\
  -bugprone-narrowing-conversions,$\
  -bugprone-branch-clone,$\
  -bugprone-assignment-in-if-condition,$\
  -bugprone-sizeof-expression,$\
  -bugprone-not-null-terminated-result,$\
  -clang-analyzer-valist.Uninitialized
LINT_JOBS ?= 2
.PHONY: lint valgrind
lint: deps
	cppcheck -q -j$(LINT_JOBS) --std=c11 --enable=warning,portability \
	  --inline-suppr --error-exitcode=1 --suppress=missingIncludeSystem \
	  -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Icommon \
	  $(filter %/cjson,$(PKG_CFLAGS)) \
	  common client server
	printf '%s\n' $(LINT_SRC) | xargs -P $(LINT_JOBS) -n 8 sh -c \
	  'clang-tidy -quiet --warnings-as-errors="*" \
	    --checks="$(TIDY_CHECKS)" "$$@" -- $(LINT_CPPFLAGS) 2>/dev/null' sh
	@echo "lint: cppcheck and clang-tidy found nothing"

# test_oom and test_srv_oom fail allocations through faultinj.so
# (LD_PRELOAD), whose malloc calls the C library's. By default valgrind
# replaces malloc in the program and its libraries, faultinj.so's too,
# and no fault would fire; with somalloc=nouserintercepts it replaces
# only the C library's, so faultinj.so fails the Nth allocation and
# valgrind checks the rest.
# The two are given faultinj.so up front (not by running themselves
# again through /proc/self/exe, which is valgrind under valgrind).
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full \
  --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect,possible \
  --soname-synonyms=somalloc=nouserintercepts
FAULTINJ := $(BUILD)/tools/faultinj.so
valgrind: deps
	@$(MAKE) -s --no-print-directory $(UNIT_BIN) $(FAULTINJ)
	@fail=0; for t in $(UNIT_BIN); do \
	  case $$t in */test_oom|*/test_srv_oom) \
	    pre="env LD_PRELOAD=$(abspath $(FAULTINJ))";; *) pre=;; esac; \
	  if $$pre $(VALGRIND) --log-file=$$t.valgrind $$t >$$t.vglog 2>&1; then \
	    echo "valgrind: $${t##*/} clean"; \
	  else \
	    echo "valgrind: $${t##*/} FAILED"; cat $$t.valgrind; \
	    tail -20 $$t.vglog; fail=1; \
	  fi; \
	done; exit $$fail

fmt:
	clang-format -i common/*.[ch] client/*.[ch] server/*.[ch] tests/unit/*.[ch] \
	  tests/tools/*.[ch] tests/fuzz/*.[ch]

# ---- manual pages and installation ----------------------------------------
#
# The manual pages are made from the programs' own --help texts
# (scripts/mkman), so they cannot disagree. `make install` puts the
# programs, the pages, bash completion, the systemd unit and its sysusers
# file under $(DESTDIR)$(PREFIX).
PREFIX  ?= /usr/local
MANDIR  := $(BUILD)/man
MAN_OUT := $(MANDIR)/casebook.1 $(MANDIR)/casebookd.8

man: $(MAN_OUT)
$(MANDIR)/casebook.1: $(BIN)/casebook scripts/mkman
	@mkdir -p $(dir $@)
	scripts/mkman $(BIN)/casebook 1 \
	  "clinical-trial data capture that works offline" >$@.tmp && mv $@.tmp $@
$(MANDIR)/casebookd.8: $(BIN)/casebookd scripts/mkman
	@mkdir -p $(dir $@)
	scripts/mkman $(BIN)/casebookd 8 "the central Casebook server" \
	  >$@.tmp && mv $@.tmp $@

install: all man
	scripts/install.sh $(BIN) $(MANDIR) "$(DESTDIR)" $(PREFIX)

clean:
	rm -rf build build-san build-fuzz bin

# ---- fuzzing (tests/fuzz) -------------------------------------------------
#
# Each tests/fuzz/fuzz_NAME.c is one libFuzzer target. `make fuzz` builds
# them with clang against a libcasebook (and the server's objects) compiled
# with -fsanitize=fuzzer-no-link,address,undefined in build-fuzz/, then runs
# each for FUZZ_SECONDS (tests/fuzz/run.sh). The same files are also built
# with the project's compiler and tests/fuzz/replay.c into
# $(BUILD)/tests/test_fuzz_NAME, which `make test` runs over the seeds
# (tests/fuzz/corpus/NAME) and every input that ever crashed a target
# (tests/fuzz/regress/NAME).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := protocol json event canon merge reqsig bundle randlist out push \
                push_signed pull
# Targets that drive the server's core on a temporary store.
FUZZ_SERVER  := push push_signed pull
FUZZ_SERVER_OBJ = $(filter-out %/main.o,$(SERVER_OBJ))
FUZZ_DEFS     = -Itests/fuzz -Iserver -DFUZZ_TOP='"$(CURDIR)"'
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(BUILD)/tests/test_fuzz_%)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

$(filter-out $(FUZZ_SERVER:%=$(BUILD)/tests/test_fuzz_%),$(FUZZ_REPLAY)): \
		$(BUILD)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
		tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_DEFS) -DFUZZ_NAME='"$*"' -o $@ \
	  tests/fuzz/fuzz_$*.c tests/fuzz/replay.c $(LIB) $(LDLIBS_ALL)

$(FUZZ_SERVER:%=$(BUILD)/tests/test_fuzz_%): $(BUILD)/tests/test_fuzz_%: \
		tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h \
		tests/fuzz/server_fixture.c tests/fuzz/server_fixture.h \
		$(FUZZ_SERVER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_DEFS) -DFUZZ_NAME='"$*"' -o $@ \
	  tests/fuzz/fuzz_$*.c tests/fuzz/replay.c tests/fuzz/server_fixture.c \
	  $(FUZZ_SERVER_OBJ) $(LIB) $(LDLIBS_ALL)

# The libFuzzer programs; only meaningful in the build-fuzz configuration
# that fuzz-build sets up (SANITIZE with fuzzer-no-link).
$(filter-out $(FUZZ_SERVER:%=$(BUILD)/fuzz/fuzz_%),$(FUZZ_BINS)): \
		$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_DEFS) -fsanitize=fuzzer -o $@ \
	  tests/fuzz/fuzz_$*.c $(LIB) $(LDLIBS_ALL)

$(FUZZ_SERVER:%=$(BUILD)/fuzz/fuzz_%): $(BUILD)/fuzz/fuzz_%: \
		tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h tests/fuzz/server_fixture.c \
		tests/fuzz/server_fixture.h $(FUZZ_SERVER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_DEFS) -fsanitize=fuzzer -o $@ \
	  tests/fuzz/fuzz_$*.c tests/fuzz/server_fixture.c \
	  $(FUZZ_SERVER_OBJ) $(LIB) $(LDLIBS_ALL)

# clang's -Wstring-concatenation takes the SQL split over lines in
# server/store.c's arrays for a missing comma; gcc has no such warning.
fuzz-build: deps
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=build-fuzz \
	  BIN=build-fuzz/bin CFLAGS='-O1 -g -Wno-string-concatenation' \
	  SANITIZE=fuzzer-no-link,address,undefined \
	  $(FUZZ_TARGETS:%=build-fuzz/fuzz/fuzz_%)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

# CI: 30 s of fuzzing for each target, two targets at a time (one per
# processor), so that the whole stays within CI's 30 minutes.
fuzz-ci: fuzz-build
	@FUZZ_SECONDS=30 FUZZ_JOBS=2 tests/fuzz/run.sh $(FUZZ_TARGETS)

-include $(COMMON_OBJ:.o=.d) $(CLIENT_OBJ:.o=.d) $(SERVER_OBJ:.o=.d) \
	$(HOOK_OBJ:.o=.d)
