# imdr — one Makefile for everything. `make demo`, `make check`, `make bench`.
# SANITIZE=1 builds with ASan+UBSan into build-san/; VALGRIND=1 make check
# runs the unit tests under valgrind. `make fuzz` builds the libFuzzer
# harnesses of tests/fuzz with clang into build-fuzz/ and runs each for
# FUZZ_SECS seconds (60).

PREFIX   ?= /usr/local
SBINDIR  ?= /sbin
PKGS      = fuse3 libarchive libzstd libcrypto libcurl jansson sqlite3 inih libkeyutils
PKG_CONFIG ?= pkg-config

ifeq ($(FUZZ),1)
BUILD    ?= build-fuzz
CC        = clang
SANFLAGS  = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),1)
BUILD    ?= build-san
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    ?= build
SANFLAGS  =
endif

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -pthread -D_FILE_OFFSET_BITS=64 \
            -DFUSE_USE_VERSION=312 -D_GNU_SOURCE -I. $(SANFLAGS)
pc = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
# Each folder is compiled with only its own third-party flags (DESIGN.md's
# layer table; tests/integration/layers.sh checks the includes themselves):
# libfuse3 for fs/ (and mount.imdr), libarchive headers for ingest/ (the
# library itself is opened at run time, ingest/archive_dl.c), curl headers
# for backends/ (libcurl itself is opened at run time, backends/curl_dl.c),
# libsqlite3 for search/, libarchive for engine/ too (export's zip writer).
FLAGS_lib      =
FLAGS_backends = $(call pc,libcurl libcrypto)
FLAGS_repo     = $(call pc,libcrypto libzstd jansson libkeyutils)
FLAGS_catalog  =
FLAGS_ingest   = $(call pc,libarchive jansson libcrypto)
FLAGS_engine   = $(call pc,libarchive jansson)
FLAGS_search   = $(call pc,sqlite3 jansson)
FLAGS_jobs     = $(call pc,inih jansson)
FLAGS_fs       = $(call pc,fuse3)
FLAGS_cli      = $(call pc,fuse3 jansson inih)
FLAGS_tests    = $(call pc,$(PKGS))
FLAGS_examples = $(call pc,$(PKGS))
folder_flags = $(FLAGS_$(firstword $(subst /, ,$(1))))
# libcurl is opened at run time, only for cloud repositories (backends/curl_dl.c),
# and libarchive only to read or write an archive (ingest/archive_dl.c)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(filter-out libcurl libarchive,$(PKGS)) 2>/dev/null)
LDFLAGS  += -pthread -Wl,--as-needed $(SANFLAGS)
LDLIBS   += $(PKG_LIBS) -lm

# Every .c in a library folder is part of libimdr.a; in cli/, files named
# cmd_*.c, imdr.c and mount_imdr.c are the programs, the rest is shared.
LIB_DIRS = lib backends repo catalog ingest search engine jobs fs
LIB_SRC  = $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)) \
           $(filter-out cli/imdr.c cli/mount_imdr.c cli/cmd_%.c,$(wildcard cli/*.c))
IMDR_SRC = cli/imdr.c $(wildcard cli/cmd_*.c)
MOUNT_SRC = cli/mount_imdr.c
UNIT_SRC = $(wildcard tests/unit/test_*.c)
TOOL_SRC = $(wildcard examples/*.c tests/tools/*.c)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_COMMON = tests/fuzz/export.c
FUZZ_SECS ?= 60

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ  = $(call obj,$(LIB_SRC))
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_BIN = $(patsubst %.c,$(BUILD)/tools/%,$(notdir $(TOOL_SRC)))
FUZZ_BIN = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

PROGS = $(BUILD)/imdr $(if $(wildcard $(MOUNT_SRC)),$(BUILD)/mount.imdr)

.PHONY: all check install uninstall clean demo bench deps test-deps unit fuzz fuzz-build
all: $(PROGS) $(TOOL_BIN)

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call folder_flags,$<) -MMD -MP -c -o $@ $<

$(BUILD)/libimdr.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/imdr: $(call obj,$(IMDR_SRC)) $(BUILD)/libimdr.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mount.imdr: $(call obj,$(MOUNT_SRC)) $(BUILD)/libimdr.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libimdr.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/libimdr.a $(call obj,$(TOOL_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %/$*.o,$(call obj,$(TOOL_SRC))) $(BUILD)/libimdr.a $(LDLIBS)

unit: $(UNIT_BIN)

# libFuzzer links its own main: harness objects and the shared export
# builder, against the library built with -fsanitize=fuzzer-no-link (FUZZ=1)
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(call obj,$(FUZZ_COMMON)) $(BUILD)/libimdr.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

.SECONDARY: $(call obj,$(FUZZ_SRC) $(FUZZ_COMMON))

fuzz-build: $(FUZZ_BIN)

fuzz:
	@command -v clang >/dev/null || { echo "make fuzz needs clang (scripts/deps.sh test installs it)" >&2; exit 1; }
	@$(MAKE) --no-print-directory FUZZ=1 BUILD=build-fuzz fuzz-build
	@BUILD=build-fuzz FUZZ_SECS=$(FUZZ_SECS) tests/fuzz/run.sh

check: test-deps
	@$(MAKE) --no-print-directory all unit
	@BUILD=$(BUILD) VALGRIND=$(VALGRIND) tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) FULL=$(FULL) bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR) $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BUILD)/imdr $(DESTDIR)$(PREFIX)/bin/imdr
	install -m 0755 $(BUILD)/mount.imdr $(DESTDIR)$(SBINDIR)/mount.imdr
	-install -m 0644 docs/imdr.1 $(DESTDIR)$(PREFIX)/share/man/man1/ 2>/dev/null
	-install -m 0644 docs/mount.imdr.8 $(DESTDIR)$(PREFIX)/share/man/man8/ 2>/dev/null

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/imdr $(DESTDIR)$(SBINDIR)/mount.imdr

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
