# libsupervise - plain GNU make.  See README.md.
.DELETE_ON_ERROR:
.SUFFIXES:

MAJOR   = 1
MINOR   = 0
PATCH   = 0
VERSION = $(MAJOR).$(MINOR).$(PATCH)

PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
MANDIR      ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR     ?=

PKG_CONFIG ?= pkg-config
CC ?= cc
CXX ?= c++

# SAN=address or SAN=thread builds everything with that sanitizer, in its
# own build directory, so switching needs no clean.
SAN ?=
B := build$(if $(SAN),-$(SAN))

SAN_address := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_thread  := -fsanitize=thread
SANFLAGS := $(SAN_$(SAN))

BSD_CFLAGS   := $(shell $(PKG_CONFIG) --cflags libbsd-overlay 2>/dev/null)
BSD_LIBS     := $(shell $(PKG_CONFIG) --libs libbsd-overlay 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

OPT ?= -O2 -g
WARN := -Wall -Wextra
# The user's CFLAGS, CPPFLAGS and LDFLAGS are added last, never replaced.
XCFLAGS  := -std=c11 -D_GNU_SOURCE -pthread $(OPT) $(WARN) $(SANFLAGS) -Iinclude $(BSD_CFLAGS)
LIBFLAGS := -fPIC -fvisibility=hidden
XLDFLAGS := -pthread $(SANFLAGS)

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:lib/%.c=$(B)/lib/%.o)
STATIC   := $(B)/libsupervise.a
SONAME   := libsupervise.so.$(MAJOR)
SHARED   := $(B)/libsupervise.so.$(VERSION)

TEST_SRCS := $(wildcard test/check_*.c)
TEST_OBJS := $(TEST_SRCS:test/%.c=$(B)/test/%.o) $(B)/test/runner.o $(B)/test/helpers.o
RUNNER    := $(B)/test/runner

EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLES     := $(EXAMPLE_SRCS:examples/%.c=$(B)/examples/%)
BENCH_SRCS   := $(wildcard bench/*.c)
BENCHES      := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)

MANPAGES := $(wildcard man/man3/*.3 man/man7/*.7)

DEB_PACKAGES := pkg-config libbsd-dev check mandoc

.PHONY: all check check-run deps need-deps install uninstall clean examples \
	bench demo demo-run soak fuzz

all: $(STATIC) $(B)/$(SONAME) $(B)/libsupervise.so

$(B)/lib/%.o: lib/%.c $(wildcard lib/*.h) include/supervise.h
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(LIBFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(STATIC): $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(SHARED): $(LIB_OBJS) $(B)/supervise.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script,$(B)/supervise.map \
		-Wl,--no-undefined $(XLDFLAGS) $(LDFLAGS) -o $@ $(LIB_OBJS) $(BSD_LIBS)

$(B)/$(SONAME): $(SHARED)
	ln -sf $(notdir $<) $@
$(B)/libsupervise.so: $(B)/$(SONAME)
	ln -sf $(notdir $<) $@

# The version script is made from the lists of documented symbols.
SYMS := $(wildcard lib/*.sym)
$(B)/symbols.txt: $(SYMS)
	@mkdir -p $(@D)
	cat $(SYMS) | sort > $@
$(B)/supervise.map: $(B)/symbols.txt
	{ echo 'SUPERVISE_$(MAJOR) {'; echo '  global:'; \
	  sed 's/.*/    &;/' $<; echo '  local: *;'; echo '};'; } > $@

supervise.pc: supervise.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# Tests, examples and benchmarks link the static library.  A white-box test
# may include lib/*.h: its object is rebuilt when they change.
$(B)/test/%.o: test/%.c test/tests.h include/supervise.h $(wildcard lib/*.h) $(B)/test/suites.inc
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -I$(B)/test $(CHECK_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# One SUITE(area) line per test/check_<area>.c, for the runner; rewritten
# whenever the list changes (not only when a file is newer).
SUITES_NOW := $(foreach f,$(TEST_SRCS),SUITE($(patsubst test/check_%.c,%,$(f))))
SUITES_OLD := $(shell cat $(B)/test/suites.inc 2>/dev/null)
ifneq ($(strip $(SUITES_NOW)),$(strip $(SUITES_OLD)))
.PHONY: $(B)/test/suites.inc
endif
$(B)/test/suites.inc:
	@mkdir -p $(@D)
	printf '%s\n' $(foreach x,$(SUITES_NOW),'$(x)') > $@

$(RUNNER): $(TEST_OBJS) $(STATIC)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $(TEST_OBJS) $(STATIC) $(BSD_LIBS) $(CHECK_LIBS)

$(B)/examples/%: examples/%.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(BSD_LIBS)

$(B)/bench/%: bench/%.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(BSD_LIBS) -lm

examples: $(EXAMPLES)

# make deps: the Debian packages the build and the tests need.
deps:
	@set -e; missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	echo "deps: installing$$missing"; \
	$$SUDO apt-get update; \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing

# Installs what is missing; the targets that need it re-read the flags
# in a sub-make afterwards.
need-deps:
	@if ! command -v $(PKG_CONFIG) >/dev/null 2>&1 || \
	    ! $(PKG_CONFIG) --exists libbsd-overlay check || \
	    ! command -v mandoc >/dev/null 2>&1; then $(MAKE) --no-print-directory deps; fi

check: need-deps
	@$(MAKE) --no-print-directory check-run

# VALGRIND=1: the suite under valgrind's memcheck (slow: longer timeouts).
ifeq ($(VALGRIND),1)
RUN_PREFIX := valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --trace-children=yes
RUN_ENV := CK_TIMEOUT_MULTIPLIER=10
endif

# Soak and fuzz programs live in test/ too, outside the Check runner.
SOAK := $(if $(wildcard test/soak.c),$(B)/test/soak)
FUZZ_DIR := build-fuzz
FUZZ := $(if $(wildcard test/fuzz_api.c),$(FUZZ_DIR)/fuzz_api)
FUZZ_SECONDS ?= 300
CLANG ?= clang

$(B)/test/soak: test/soak.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(BSD_LIBS)

# libFuzzer needs clang; it links the library's sources directly.
$(FUZZ_DIR)/fuzz_api: test/fuzz_api.c $(LIB_SRCS) lib/supervise_internal.h include/supervise.h
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude $(BSD_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -pthread -o $@ test/fuzz_api.c $(LIB_SRCS) $(BSD_LIBS)

soak: all $(SOAK)
	$(SOAK)

fuzz: $(FUZZ)
	$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/

check-run: all $(RUNNER) $(EXAMPLES) $(SOAK)
	@echo "== unit tests ($(if $(SAN),$(SAN),no sanitizer)$(if $(VALGRIND), under valgrind)) =="
	$(RUN_ENV) CK_DEFAULT_TIMEOUT=60 $(RUN_PREFIX) $(RUNNER)
	@echo "== exported symbols =="
	sh test/symbols.sh $(B)/$(SONAME) $(B)/symbols.txt
	@echo "== header compiles alone =="
	sh test/header.sh "$(CC)" "$(CXX)"
	@echo "== man pages =="
	sh test/manlint.sh
	@echo "== examples (smoke) =="
	sh test/examples.sh $(B)/examples
	sh test/signals.sh $(B)/examples
ifneq ($(SOAK),)
	@echo "== soak (short) =="
	$(RUN_PREFIX) $(SOAK) --quick
endif
ifneq ($(FUZZ),)
ifeq ($(SAN)$(VALGRIND),)
	@echo "== fuzz (short, when clang is there) =="
	@if command -v $(CLANG) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(FUZZ) || exit 1; \
	  $(FUZZ) -max_total_time=15 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
	    > $(FUZZ_DIR)/last.log 2>&1; rc=$$?; tail -4 $(FUZZ_DIR)/last.log; exit $$rc; \
	else echo "fuzz: no clang, skipped"; fi
endif
endif

demo: need-deps
	@$(MAKE) --no-print-directory demo-run

demo-run: all $(B)/examples/demo
	$(B)/examples/demo

bench: all $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done

install: all supervise.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 644 include/supervise.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libsupervise.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libsupervise.so
	install -m 644 supervise.pc $(DESTDIR)$(PKGCONFIGDIR)/
	for m in man/man3/*.3; do install -m 644 $$m $(DESTDIR)$(MANDIR)/man3/; done
	for m in man/man7/*.7; do install -m 644 $$m $(DESTDIR)$(MANDIR)/man7/; done

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/supervise.h $(DESTDIR)$(LIBDIR)/libsupervise.a \
		$(DESTDIR)$(LIBDIR)/libsupervise.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
		$(DESTDIR)$(LIBDIR)/libsupervise.so $(DESTDIR)$(PKGCONFIGDIR)/supervise.pc
	for m in man/man3/*.3; do rm -f $(DESTDIR)$(MANDIR)/man3/$${m##*/}; done
	for m in man/man7/*.7; do rm -f $(DESTDIR)$(MANDIR)/man7/$${m##*/}; done

clean:
	rm -rf build build-* supervise.pc
