# Casebook build.
#
#   make                 bin/casebook and bin/casebookd from libcasebook.a
#   make test            every unit and end-to-end test; ends "N passed, N failed"
#   make demo            the main multi-site scenario on loopback
#   make bench           benchmarks (timings are reported, never asserted)
#   make SANITIZE=address,undefined test
#                        the same code and tests under sanitizers, built in
#                        build-san/ so it never mixes with the normal objects
#   make fmt             clang-format every C file
#
# BUILD and BIN choose where objects and programs go, so several builds of
# one tree can run side by side.

CC      ?= cc
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

COMMON_SRC := $(sort $(wildcard common/*.c))
CLIENT_SRC := $(sort $(wildcard client/*.c))
SERVER_SRC := $(sort $(wildcard server/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench/bench_*.c))

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
LIB        := $(BUILD)/libcasebook.a

# The test build of casebook: the same program plus the test hooks (store
# test-events|test-list|test-secrets, status test-set) that some end-to-end
# tests use. Only the files holding hooks are compiled again, with
# CASEBOOK_TEST_HOOKS; bin/casebook never contains them.
HOOK_SRC   := client/cmd_init.c client/cmd_status.c client/store.c
HOOK_OBJ   := $(HOOK_SRC:%.c=$(BUILD)/hooks/%.o)
HOOK_BIN   := $(BUILD)/hooks/casebook

.PHONY: all deps test unit demo bench fmt clean
all: deps-check $(BIN)/casebook $(BIN)/casebookd

# Stop early with a useful message when a library is missing.
.PHONY: deps-check
deps-check:
	@pkg-config --exists $(PKGS) || { \
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
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(CLIENT_OBJ) $(LIB) $(LDLIBS_ALL)

$(BUILD)/hooks/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DCASEBOOK_TEST_HOOKS -c -o $@ $<

$(HOOK_BIN): $(filter-out $(HOOK_SRC:%.c=$(BUILD)/%.o),$(CLIENT_OBJ)) \
		$(HOOK_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ \
	  $(filter-out $(HOOK_SRC:%.c=$(BUILD)/%.o),$(CLIENT_OBJ)) \
	  $(HOOK_OBJ) $(LIB) $(LDLIBS_ALL)

$(BIN)/casebookd: $(SERVER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(SERVER_OBJ) $(LIB) $(LDLIBS_ALL)

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

# bench_store saves through the client's encrypted store (client/store.h),
# so it links the client's objects too (all but its main).
$(BUILD)/bench/bench_store: tests/bench/bench_store.c \
		$(filter-out %/main.o,$(CLIENT_OBJ)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(filter-out %/main.o,$(CLIENT_OBJ)) \
	  $(LIB) $(LDLIBS_ALL)

# bench_sync fills a registered laptop through the client's data-entry
# session and stores rows through the server's store layer, so it links
# the client's objects (all but its main) and the server's store layer
# (store*.o and its PostgreSQL backend pg_*.o).
STORE_OBJ := $(filter $(BUILD)/server/store%.o $(BUILD)/server/pg_%.o,$(SERVER_OBJ))
$(BUILD)/bench/bench_sync: tests/bench/bench_sync.c \
		$(filter-out %/main.o,$(CLIENT_OBJ)) $(STORE_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(filter-out %/main.o,$(CLIENT_OBJ)) \
	  $(STORE_OBJ) $(LIB) $(LDLIBS_ALL)

# `make test` installs what is missing first, as the README promises.
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(HOOK_BIN)
	@CASEBOOK_BIN=$(abspath $(BIN)) CASEBOOK_UNIT=$(abspath $(BUILD)/tests) \
	  CASEBOOK_HOOKS=$(abspath $(HOOK_BIN)) \
	  CASEBOOK_PG_LEAN=$(if $(SANITIZE),1,) tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@CASEBOOK_BIN=$(abspath $(BIN)) scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(HOOK_BIN)
	@CASEBOOK_BIN=$(abspath $(BIN)) CASEBOOK_BENCH=$(abspath $(BUILD)/bench) \
	  CASEBOOK_HOOKS=$(abspath $(HOOK_BIN)) tests/bench/run.sh

fmt:
	clang-format -i common/*.[ch] client/*.[ch] server/*.[ch] tests/unit/*.[ch]

clean:
	rm -rf build build-san bin

-include $(COMMON_OBJ:.o=.d) $(CLIENT_OBJ:.o=.d) $(SERVER_OBJ:.o=.d) \
	$(HOOK_OBJ:.o=.d)
