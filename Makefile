# libsupervise - plain GNU make.  See README.md.
.DELETE_ON_ERROR:
.SUFFIXES:

MAJOR   = 1
MINOR   = 2
PATCH   = 0
VERSION = $(MAJOR).$(MINOR).$(PATCH)

PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
MANDIR      ?= $(PREFIX)/share/man
DATADIR     ?= $(PREFIX)/share
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BINDIR      ?= $(PREFIX)/bin
DESTDIR     ?=

PKG_CONFIG ?= pkg-config
CC ?= cc
CXX ?= c++

# SAN=address or SAN=thread builds everything with that sanitizer, in its
# own build directory, so switching needs no clean; so does CC=clang
# (build-clang, build-address-clang: clang's UBSan checks more than gcc's).
SAN ?=
B := build$(if $(SAN),-$(SAN))$(if $(filter clang%,$(notdir $(firstword $(CC)))),-clang)

SAN_address := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_thread  := -fsanitize=thread
SANFLAGS := $(SAN_$(SAN))

BSD_CFLAGS   := $(shell $(PKG_CONFIG) --cflags libbsd-overlay 2>/dev/null)
BSD_LIBS     := $(shell $(PKG_CONFIG) --libs libbsd-overlay 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)
# supervisectl alone uses these; the library depends on pthreads and libbsd only.
TOOL_PKGS    := jansson ncursesw libmicrohttpd
TOOL_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(TOOL_PKGS) 2>/dev/null)
TOOL_LIBS    := $(shell $(PKG_CONFIG) --libs $(TOOL_PKGS) 2>/dev/null)

OPT ?= -O2 -g
WARN := -Wall -Wextra
# The user's CFLAGS, CPPFLAGS and LDFLAGS are added last, never replaced.
XCFLAGS  := -std=c11 -D_GNU_SOURCE -pthread $(OPT) $(WARN) $(SANFLAGS) -Iinclude $(BSD_CFLAGS)
# Each object depends on the headers it includes (-MMD), no others.
DEPFLAGS  = -MMD -MP -MF $(@:.o=.d)
LIBFLAGS := -fPIC -fvisibility=hidden
XLDFLAGS := -pthread $(SANFLAGS)

# lib/ in layers (see lib/README): base/ under core/, and the rest on top.
LIB_SRCS := $(sort $(wildcard lib/*/*.c))
LIB_HDRS := $(sort $(wildcard lib/*/*.h))
LIB_OBJS := $(LIB_SRCS:lib/%.c=$(B)/lib/%.o)
STATIC   := $(B)/libsupervise.a
SONAME   := libsupervise.so.$(MAJOR)
SHARED   := $(B)/libsupervise.so.$(VERSION)

TEST_SRCS := $(wildcard test/check_*.c)
# The tests speak to the control socket with supervisectl's own client.
TEST_OBJS := $(TEST_SRCS:test/%.c=$(B)/test/%.o) $(B)/test/runner.o $(B)/test/helpers.o \
	$(B)/test/ctl_client.o $(B)/test/ctl_out.o
RUNNER    := $(B)/test/runner

EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLES     := $(EXAMPLE_SRCS:examples/%.c=$(B)/examples/%)
CXX_EXAMPLE_SRCS := $(wildcard examples/*.cpp)
EXAMPLES     += $(CXX_EXAMPLE_SRCS:examples/%.cpp=$(B)/examples/%)
BENCH_SRCS   := $(wildcard bench/*.c)
BENCHES      := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)

MANPAGES := $(wildcard man/man1/*.1 man/man3/*.3 man/man7/*.7)
TOOL     := $(B)/supervisectl

# libmd-dev: libmd.a, for a static link (libbsd-dev pulls it in anyway);
# libc.a comes with libc6-dev, and g++ with build-essential.
# libjansson-dev, libncurses-dev, libmicrohttpd-dev: supervisectl's JSON,
# its top screen and its HTTP server (serve).  curl: the tests of serve.
DEB_PACKAGES := pkg-config libbsd-dev libmd-dev check mandoc g++ libjansson-dev \
	libncurses-dev libmicrohttpd-dev curl

# DEPS=no, for a packager's build: make never installs anything (no apt-get,
# no sudo); a missing dependency stops check and demo with its name.  By
# default they install what is missing with make deps.
DEPS ?= yes

.PHONY: all check check-run deps need-deps install install-examples uninstall clean examples \
	bench bench-peers bench-peers-run deps-peers demo demo-run soak fuzz

all: $(STATIC) $(B)/$(SONAME) $(B)/libsupervise.so $(TOOL)

$(B)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -Ilib $(LIBFLAGS) $(DEPFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# version.c stops the build if the header's SUPV_VERSION_* disagree with these.
$(B)/lib/abi/version.o: XCFLAGS += -DSUPV_MAKE_MAJOR=$(MAJOR) -DSUPV_MAKE_MINOR=$(MINOR) \
	-DSUPV_MAKE_PATCH=$(PATCH)
$(B)/lib/abi/version.o: Makefile

$(STATIC): $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# A sanitized shared library leaves the sanitizer's runtime to the program
# (clang links it into executables only): no --no-undefined then.
NOUNDEF := $(if $(SAN),,-Wl,--no-undefined)
$(SHARED): $(LIB_OBJS) $(B)/supervise.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script,$(B)/supervise.map \
		$(NOUNDEF) $(XLDFLAGS) $(LDFLAGS) -o $@ $(LIB_OBJS) $(BSD_LIBS)

$(B)/$(SONAME): $(SHARED)
	ln -sf $(notdir $<) $@
$(B)/libsupervise.so: $(B)/$(SONAME)
	ln -sf $(notdir $<) $@

# The version script is made from lib/abi/*.sym: lists of exported names under
# "NODE:" headings, one version node per release, oldest first (see the
# top of lib/abi/supervise.sym).  symbols.txt has one "NODE NAME" line per
# symbol, in node order; supervise.map chains the nodes, each inheriting
# the one before, and hides everything else.
SYMS := $(wildcard lib/abi/*.sym)
$(B)/symbols.txt: $(SYMS)
	@mkdir -p $(@D)
	awk 'FNR == 1 { node = "" } /^[ \t]*(#|$$)/ { next } \
	  /^SUPERVISE_[0-9]+(\.[0-9]+)?:$$/ { node = substr($$0, 1, length($$0) - 1); next } \
	  node == "" || !/^[A-Za-z_][A-Za-z0-9_]*$$/ { \
	    printf "%s:%d: expected a name under a node heading: %s\n", FILENAME, FNR, $$0 > "/dev/stderr"; bad = 1; next } \
	  { print node, $$0 } END { exit bad }' $(SYMS) > $@.tmp || { rm -f $@.tmp; exit 1; }
	sort -k1,1V -k2,2 $@.tmp > $@
	rm -f $@.tmp
$(B)/supervise.map: $(B)/symbols.txt
	awk 'function end() { if (node == "") return; if (parent == "") print "  local: *;"; \
	    print "}" (parent != "" ? " " parent : "") ";" } \
	  $$1 != node { end(); parent = node; node = $$1; print node " {"; print "  global:" } \
	  { print "    " $$2 ";" } END { end() }' $< > $@

# supervise.pc says where install puts things.  pc.vars holds the values it
# was made with and is rewritten only when they change, so that an install
# with another PREFIX, LIBDIR or INCLUDEDIR remakes it.  Paths under PREFIX
# are written relative to ${prefix}.
PC_VARS := $(PREFIX) $(LIBDIR) $(INCLUDEDIR) $(VERSION)
PC_VARS_OLD := $(shell cat $(B)/pc.vars 2>/dev/null)
ifneq ($(strip $(PC_VARS)),$(strip $(PC_VARS_OLD)))
.PHONY: $(B)/pc.vars
endif
$(B)/pc.vars:
	@mkdir -p $(@D)
	printf '%s\n' '$(PC_VARS)' > $@
$(B)/supervise.pc: supervise.pc.in $(B)/pc.vars Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $@

# Tests, examples and benchmarks link the static library.  A white-box test
# may include lib/*/*.h: its object is rebuilt when they change (-MMD).
$(B)/test/%.o: test/%.c $(B)/test/suites.inc
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -Ilib -I$(B)/test $(CHECK_CFLAGS) $(DEPFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

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

$(B)/test/ctl_%.o: tools/supervisectl/%.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -Ilib $(DEPFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(RUNNER): $(TEST_OBJS) $(STATIC)
	$(CC) $(XLDFLAGS) -rdynamic $(LDFLAGS) -o $@ $(TEST_OBJS) $(STATIC) $(BSD_LIBS) $(CHECK_LIBS)

$(B)/examples/%: examples/%.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(BSD_LIBS)

# C++ examples: the header must stay free of C++ warnings, -Wshadow included.
CXXWARN := -Wall -Wextra -Werror -Wshadow
$(B)/examples/%: examples/%.cpp include/supervise.h $(STATIC)
	@mkdir -p $(@D)
	$(CXX) -pthread $(OPT) $(CXXWARN) $(SANFLAGS) -Iinclude $(CPPFLAGS) $(CXXFLAGS) \
		$(XLDFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(BSD_LIBS)

$(B)/bench/%: bench/%.c bench/bench.h bench/ring.h bench/lat.h $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(BSD_LIBS) -lm

examples: $(EXAMPLES)

# The control socket's tool: it speaks the protocol, and links no library
# of ours.  Its client (client.c) is linked into the tests as well.
# It decodes paths with the library's own codec (lib/base/path.c, pure).
TOOL_SRCS := $(wildcard tools/supervisectl/*.c) lib/base/path.c
$(TOOL): $(TOOL_SRCS) tools/supervisectl/ctl.h lib/base/path.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -pthread $(OPT) $(WARN) $(SANFLAGS) -Ilib $(TOOL_CFLAGS) \
		$(CPPFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $(TOOL_SRCS) $(TOOL_LIBS)

# make deps: the Debian packages the build and the tests need.
deps:
	@set -e; missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	if [ "$(DEPS)" = no ]; then \
	  echo "deps: missing$$missing; DEPS=no: not installing them" >&2; exit 1; fi; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	echo "deps: installing$$missing"; \
	$$SUDO apt-get update; \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing

# What check (NEED=build tests) and demo (NEED=build) need, looked for as
# the build looks for it.  If something is missing: with DEPS=no, stop
# and name it; otherwise make deps installs it, and the targets that need
# it re-read the flags in a sub-make afterwards.
check: NEED = build tests
demo: NEED = build
need-deps:
	@m=""; \
	if ! command -v $(PKG_CONFIG) >/dev/null 2>&1; then \
	  m="$$m\n  pkg-config: no $(PKG_CONFIG) command (it finds libbsd and check)"; \
	else \
	  $(PKG_CONFIG) --exists libbsd-overlay || \
	    m="$$m\n  libbsd-dev: $(PKG_CONFIG) finds no libbsd-overlay"; \
	  $(PKG_CONFIG) --exists jansson || \
	    m="$$m\n  libjansson-dev: $(PKG_CONFIG) finds no jansson (for supervisectl)"; \
	  $(PKG_CONFIG) --exists ncursesw || \
	    m="$$m\n  libncurses-dev: $(PKG_CONFIG) finds no ncursesw (for supervisectl top)"; \
	  $(PKG_CONFIG) --exists libmicrohttpd || \
	    m="$$m\n  libmicrohttpd-dev: $(PKG_CONFIG) finds no libmicrohttpd (for supervisectl serve)"; \
	  case "$(NEED)" in *tests*) $(PKG_CONFIG) --exists check || \
	    m="$$m\n  check: $(PKG_CONFIG) finds no check (the unit test framework)";; esac; \
	fi; \
	case "$(NEED)" in *tests*) \
	  command -v mandoc >/dev/null 2>&1 || m="$$m\n  mandoc: no mandoc command (the man page lint)"; \
	  command -v curl >/dev/null 2>&1 || m="$$m\n  curl: no curl command (the HTTP tests)"; \
	  command -v $(CXX) >/dev/null 2>&1 || m="$$m\n  g++: no $(CXX) command (CXX, for the C++ tests)";; \
	esac; \
	[ -z "$$m" ] && exit 0; \
	if [ "$(DEPS)" = no ]; then \
	  printf 'missing, with the Debian package that has it:%b\n' "$$m" >&2; \
	  echo "DEPS=no: not installing anything; install those, or run without DEPS=no" >&2; \
	  exit 1; \
	fi; \
	$(MAKE) --no-print-directory deps

check: need-deps
	@$(MAKE) --no-print-directory check-run

# VALGRIND=1: the suite under valgrind's memcheck (slow: longer timeouts).
# Otherwise glibc's malloc poisons what is freed, with no per-thread cache
# to keep it intact, so that a use after free misbehaves in the plain run
# too (the sanitizers' own allocators ignore this).
ifeq ($(VALGRIND),1)
RUN_PREFIX := valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --trace-children=yes
RUN_ENV := CK_TIMEOUT_MULTIPLIER=10
else
RUN_ENV := GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.perturb=165
endif

# ASan: what other libraries keep for the process's life is not a leak of
# ours (test/lsan.supp names each); the programs make check runs read it.
ifeq ($(SAN),address)
export LSAN_OPTIONS := suppressions=$(CURDIR)/test/lsan.supp:print_suppressions=0
endif

# Prometheus's promtool checks the metrics the tests make, when there is
# one: in PATH, or PROMTOOL=/path (.ci/run unpacks Debian's).
PROMTOOL ?= $(shell command -v promtool 2>/dev/null)

# Soak and fuzz programs live in test/ too, outside the Check runner.
SOAK := $(if $(wildcard test/soak.c),$(B)/test/soak)
FUZZ_DIR := build-fuzz
FUZZ := $(if $(wildcard test/fuzz_api.c),$(FUZZ_DIR)/fuzz_api) \
	$(if $(wildcard test/fuzz_control.c),$(FUZZ_DIR)/fuzz_control)
FUZZ_SECONDS ?= 300
CLANG ?= clang

# The program check_procs.c runs as a process child: plain, no library.
$(B)/test/proc_child: test/proc_child.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

# A program for the SUPV_CHAOS-in-a-setuid-program test (check_ctl_safety.c).
$(B)/test/chaos_probe: test/chaos_probe.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(BSD_LIBS)

$(B)/test/soak: test/soak.c $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(BSD_LIBS)

# libFuzzer needs clang; it links the library's sources directly.
$(FUZZ_DIR)/fuzz_%: test/fuzz_%.c $(LIB_SRCS) $(LIB_HDRS) include/supervise.h
	@mkdir -p $(@D)
	$(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Ilib $(BSD_CFLAGS) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-pthread -o $@ $< $(LIB_SRCS) $(BSD_LIBS)

# Growth-safe structs: a program built against an older header (every
# struct without its last member) runs clean under ASan against the
# library, built here with ASan whatever SAN says.
ABI_FLAGS := -std=c11 -D_GNU_SOURCE -pthread -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined
ABI_OBJS  := $(LIB_SRCS:lib/%.c=$(B)/abicheck/%.o)
$(B)/abicheck/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(ABI_FLAGS) -Iinclude -Ilib $(BSD_CFLAGS) $(DEPFLAGS) -c -o $@ $<
$(B)/abicheck/old/supervise.h: include/supervise.h test/old_header.awk
	@mkdir -p $(@D)
	awk -f test/old_header.awk include/supervise.h > $@
$(B)/abicheck/abi_old: test/abi_old.c $(B)/abicheck/old/supervise.h $(ABI_OBJS)
	$(CC) $(ABI_FLAGS) -I$(B)/abicheck/old -o $@ test/abi_old.c $(ABI_OBJS) $(BSD_LIBS)

soak: all $(SOAK)
	$(SOAK)

fuzz: $(FUZZ)
	@for f in $(FUZZ); do echo "== $$f =="; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/ || exit 1; done

check-run: all $(RUNNER) $(EXAMPLES) $(SOAK) $(B)/abicheck/abi_old $(B)/test/chaos_probe \
	$(B)/test/proc_child
	@echo "== unit tests ($(if $(SAN),$(SAN),no sanitizer)$(if $(VALGRIND), under valgrind)) =="
	$(RUN_ENV) SUPV_TEST_TOOL=$(TOOL) SUPV_TEST_PROC_CHILD=$(B)/test/proc_child $(if $(SAN),,SUPV_TEST_CHAOS_PROBE=$(B)/test/chaos_probe) \
		SUPV_TEST_PROMTOOL="$(PROMTOOL)" \
		CK_DEFAULT_TIMEOUT=60 $(RUN_PREFIX) $(RUNNER)
	@echo "== exported symbols =="
	sh test/symbols.sh $(B)/$(SONAME) $(B)/symbols.txt $(VERSION)
	sh test/archive.sh $(STATIC) "$(CC) $(SANFLAGS)" "$(BSD_LIBS)"
	sh test/layering.sh $(B)
	@echo "== growth-safe structs (an older header, under ASan) =="
	$(B)/abicheck/abi_old
	@echo "== header compiles alone =="
	sh test/header.sh "$(CC)" "$(CXX)"
	@echo "== man pages =="
	sh test/manlint.sh
	@echo "== examples (smoke) =="
	sh test/examples.sh $(B)/examples
	sh test/signals.sh $(B)/examples
ifeq ($(SAN),)
	sh test/valgrind.sh $(B)/examples
endif
	@echo "== supervisectl against a running tree =="
	SUPV_TEST_PROMTOOL="$(PROMTOOL)" sh test/control.sh $(TOOL) $(B)/examples
ifeq ($(SAN)$(VALGRIND),)
	@echo "== static link from the installed supervise.pc =="
	sh test/static.sh "$(CC)" "$(MAKE)"
else
	@echo "static: SKIPPED under $(if $(SAN),SAN=$(SAN),valgrind) (a sanitized build does not link statically)"
endif
ifneq ($(SOAK),)
	@echo "== soak (short) =="
	$(RUN_PREFIX) $(SOAK) --quick
endif
ifneq ($(FUZZ),)
ifeq ($(SAN)$(VALGRIND),)
	@echo "== fuzz (short, when clang is there) =="
	@if command -v $(CLANG) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(FUZZ) || exit 1; \
	  for f in $(FUZZ); do echo "$$f:"; \
	    $$f -max_total_time=15 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ \
	      > $$f.log 2>&1; rc=$$?; tail -4 $$f.log; [ $$rc -eq 0 ] || exit $$rc; \
	  done; \
	else echo "fuzz: no clang, skipped"; fi
endif
endif

demo: need-deps
	@$(MAKE) --no-print-directory demo-run

# The tree's failure, restart and hang detection; then a crash isolated in
# a process child (examples/isolate.c).
demo-run: all $(B)/examples/demo $(B)/examples/isolate
	$(B)/examples/demo
	@echo
	$(B)/examples/isolate

bench: all $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done

# make bench-peers: the restart rows of bench/restart.c beside OTP's
# supervisor and Go's suture v4, in one run (bench/peers/README.md).  Their
# Debian packages are only for this target, so they are not in
# DEB_PACKAGES; make deps-peers installs them (never with DEPS=no).
PEER_PACKAGES := erlang-nox erlang-src golang-go golang-github-thejerf-suture-dev

deps-peers:
	@set -e; missing=""; for p in $(PEER_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps-peers: all installed"; exit 0; fi; \
	if [ "$(DEPS)" = no ]; then \
	  echo "deps-peers: missing$$missing; DEPS=no: not installing them" >&2; exit 1; fi; \
	if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	echo "deps-peers: installing$$missing"; \
	$$SUDO apt-get update; \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $$missing

# The build's own dependencies first (need-deps, as for demo), then the
# peers'; the run is a sub-make, so that flags found after an install are
# read again.
bench-peers: NEED = build
bench-peers: need-deps
	@$(MAKE) --no-print-directory deps-peers
	@$(MAKE) --no-print-directory bench-peers-run

bench-peers-run: $(STATIC)
	CC="$(CC)" PEERS_CFLAGS="$(SANFLAGS)" bash bench/peers/run.sh $(STATIC) $(B)/bench/peers

# The directories install makes if they are missing; uninstall removes them,
# and their parents below PREFIX, when it leaves them empty.  (It cannot tell
# them from directories that were there, empty, before the install.)
INSTALL_DIRS = $(BINDIR) $(PKGCONFIGDIR) $(LIBDIR) $(INCLUDEDIR) $(MANDIR)/man1 \
	$(MANDIR)/man3 $(MANDIR)/man7 $(DATADIR)/libsupervise

install: all $(B)/supervise.pc
	install -d $(addprefix $(DESTDIR),$(INSTALL_DIRS))
	install -m 644 include/supervise.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libsupervise.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libsupervise.so
	install -m 644 $(B)/supervise.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 755 $(TOOL) $(DESTDIR)$(BINDIR)/
	install -m 644 supervise.supp $(DESTDIR)$(DATADIR)/libsupervise/
	for m in man/man1/*.1 man/man3/*.3 man/man7/*.7; do \
		d=$(DESTDIR)$(MANDIR)/$$(basename $$(dirname $$m)); \
		if [ -L $$m ]; then ln -sf $$(readlink $$m) $$d/$${m##*/}; \
		else install -m 644 $$m $$d/; fi; \
	done

# The daemon example where examples/daemon.service expects it, and its units.
SYSTEMDDIR ?= /etc/systemd/system
install-examples: $(B)/examples/daemon
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDDIR)
	install -m 755 $(B)/examples/daemon $(DESTDIR)$(BINDIR)/supv-daemon
	install -m 644 examples/daemon.service examples/daemon-http.service \
		$(DESTDIR)$(SYSTEMDDIR)/

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/supervise.h $(DESTDIR)$(LIBDIR)/libsupervise.a \
		$(DESTDIR)$(LIBDIR)/libsupervise.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
		$(DESTDIR)$(LIBDIR)/libsupervise.so $(DESTDIR)$(PKGCONFIGDIR)/supervise.pc \
		$(DESTDIR)$(BINDIR)/supervisectl $(DESTDIR)$(DATADIR)/libsupervise/supervise.supp
	for m in man/man1/*.1; do rm -f $(DESTDIR)$(MANDIR)/man1/$${m##*/}; done
	for m in man/man3/*.3; do rm -f $(DESTDIR)$(MANDIR)/man3/$${m##*/}; done
	for m in man/man7/*.7; do rm -f $(DESTDIR)$(MANDIR)/man7/$${m##*/}; done
	@p='$(DESTDIR)$(PREFIX)'; for d in $(addprefix $(DESTDIR),$(INSTALL_DIRS)); do \
	  while [ -d "$$d" ] && rmdir "$$d" 2>/dev/null; do \
	    echo "rmdir $$d"; d=$${d%/*}; \
	    case $$d in "$$p"/*) ;; *) break ;; esac; \
	  done; \
	done

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(ABI_OBJS:.o=.d)

clean:
	rm -rf build build-* supervise.pc
