# lbkit: one entry point.  make deps | all | test | check | demo | install | deb | clean | fuzz
#
# Sources and what they may see (the layers; a tool including a private header
# fails to build because its include path does not have it):
#   lb/include/lb/  installed headers: lb.h (liblb), lb_abi.h (kernel/user ABI),
#                   lb_chain.h (for chain programs).  The only library include path
#                   of the tools and of bpf/.
#   lb/             liblb sources and its private headers
#   bpf/, bpf/lib/  the datapath programs; one header per concern
#   lbctl/cli/      the shared CLI layer (libcli.a, never installed)
#   lbctl/, ntc/    the tools
# Everything built goes under build/ (B), with -MMD dependency files:
#   build/bin       tools                build/bpf       datapath objects
#   build/lib       liblb.a, liblb.so*, liblb.pc, libcli.a
#   build/obj       object files         build/tests, build/examples, build/bench
#   build/systemd   the systemd units and lbkit-boot, with the install paths filled in
#   build/deb       make deb: the Debian packages, built in a copy of the tree
#   build/fuzz      the libFuzzer targets (tests/fuzz/fuzz_*.c), their objects and the
#                   corpus each run grows (the seeds stay in tests/fuzz/corpus/)
#
# make SANITIZE=1 [all build/tests/unit test ...]: liblb, libcli, the tools and the C
# tests built with ASan and UBSan (not the BPF objects), into build/ as usual; the
# objects are rebuilt whenever SANITIZE changes (no 'make clean' needed).
# make fuzz [FUZZ_SECS=60]: each fuzz target (clang, libFuzzer, ASan, UBSan) for
# FUZZ_SECS seconds (the datapath one needs root); make test runs them 5 s each.
VERSION   := 0.1.0
SOVERSION := 0
PREFIX    ?= /usr/local
DESTDIR   ?=
SBINDIR   := $(PREFIX)/sbin
LIBDIR    := $(PREFIX)/lib
PKGLIBDIR := $(LIBDIR)/lbkit
BPFDIR    := $(PKGLIBDIR)
INCDIR    := $(PREFIX)/include
MANDIR    := $(PREFIX)/share/man
COMPDIR   := $(PREFIX)/share/bash-completion/completions
DOCDIR    := $(PREFIX)/share/doc/lbkit
# systemd's unit directory for PREFIX (the Debian package sets /lib/systemd/system)
UNITDIR   ?= $(PREFIX)/lib/systemd/system
B         := build

CC        ?= cc
CLANG     ?= clang
WERROR    ?=
CFLAGS    ?= -O2 -g
CFLAGS    += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -fPIC $(WERROR) -MMD -MP \
             -DLB_VERSION='"$(VERSION)"' -DLB_BPF_DIR='"$(BPFDIR)"'
PUB_INC   := -Ilb/include
LIB_CFLAGS  := $(CPPFLAGS) $(CFLAGS) $(PUB_INC) -Ilb -fvisibility=hidden
TOOL_CFLAGS := $(CPPFLAGS) $(CFLAGS) $(PUB_INC) -Ilbctl/cli
TEST_CFLAGS := $(TOOL_CFLAGS) -Itests
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Wextra -Wno-unused-parameter $(WERROR) \
             -I/usr/include/$(shell gcc -dumpmachine) $(PUB_INC)
# make LB_CT_EXTRA=1: a datapath whose conntrack value has one more field (another
# ABI version), the layout change that tests/e2e/upgrade.bats migrates across.
ifeq ($(LB_CT_EXTRA),1)
BPF_CFLAGS += -DLB_CT_EXTRA
endif
LDLIBS    := -lbpf -lelf -lz -lmnl
# Sanitizers: UB aborts (no recovery), so that a test sees it fail.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ifeq ($(SANITIZE),1)
CFLAGS    += $(SAN_FLAGS)
LIB_CFLAGS  += $(SAN_FLAGS)
TOOL_CFLAGS += $(SAN_FLAGS)
TEST_CFLAGS += $(SAN_FLAGS)
SO_LDFLAGS  := $(SAN_FLAGS)
endif
# Every C object depends on the build mode, so switching SANITIZE rebuilds them.
MODE_STAMP := $(B)/.mode-$(if $(filter 1,$(SANITIZE)),sanitize,plain)
# What has install paths in it (liblb.pc, the units, lbkit-boot) depends on the
# paths, so that make install PREFIX=... after a plain make fills in the right ones.
PATHS_STAMP := $(B)/.paths-$(shell echo '$(PREFIX) $(SBINDIR) $(PKGLIBDIR)' | cksum | cut -d' ' -f1)

PUB_HDRS  := lb/include/lb/lb.h lb/include/lb/lb_abi.h lb/include/lb/lb_chain.h
BPF_OBJS  := $(B)/bpf/lb_datapath.bpf.o $(B)/bpf/lb_trivial.bpf.o
# Programs for chains: examples users install, and test programs (tests/progs/*.bpf.c).
EXAMPLE_OBJS  := $(patsubst %.c,$(B)/%.o,$(wildcard examples/*.bpf.c))
TEST_BPF_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard tests/progs/*.bpf.c)) \
		 $(B)/tests/alt/lb_datapath.bpf.o
LIB_OBJS  := $(patsubst %.c,$(B)/obj/%.o,$(wildcard lb/*.c))
CLI_OBJS  := $(patsubst %.c,$(B)/obj/%.o,$(wildcard lbctl/cli/*.c))
LBCTL_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(wildcard lbctl/lbctl*.c))
TOOLS     := $(B)/bin/lbctl $(B)/bin/lbmap $(B)/bin/lbattach $(B)/bin/ntc
LIBLB_A   := $(B)/lib/liblb.a
LIBLB_SO  := $(B)/lib/liblb.so.$(VERSION)
LIBCLI    := $(B)/lib/libcli.a
UNIT_SRCS := $(wildcard tests/unit/*.c)
DP_TESTS  := $(B)/tests/dp_test $(B)/tests/nat_test $(B)/tests/limit_test $(B)/tests/race_test
UNIT_TEST := $(B)/tests/unit
VERIFIER  := $(B)/tests/verifier
# The systemd units and the script lbkit.service runs (systemd/*.in: paths filled in).
SYSTEMD_IN := $(wildcard systemd/*.in)
SYSTEMD   := $(patsubst systemd/%.in,$(B)/systemd/%,$(SYSTEMD_IN)) \
	     $(patsubst systemd/%,$(B)/systemd/%,$(wildcard systemd/*.timer))
UNITS     := $(filter %.service %.timer,$(SYSTEMD))

.PHONY: all deps test check demo bench install deb clean unit datapath e2e print-bpf-cflags

# What make install installs (the packages too); all adds what the tests need.
INSTALLED := $(BPF_OBJS) $(EXAMPLE_OBJS) $(LIBLB_A) $(LIBLB_SO) $(B)/lib/liblb.pc $(TOOLS) $(SYSTEMD)
all: $(INSTALLED) $(TEST_BPF_OBJS)

deps:
	@scripts/deps.sh

$(B)/%.bpf.o: %.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

# The datapath with the LB_CT_EXTRA layout, for the upgrade tests.
$(B)/tests/alt/lb_datapath.bpf.o: bpf/lb_datapath.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -DLB_CT_EXTRA -MMD -MP -c $< -o $@

# The last releases of layouts 3 and 4, built from the git history, for
# tests/e2e/upgrade_abi.bats: an upgrade from each converts what moved since
# (3: endpoint lists inside lb_services; 3 and 4: a map of maps per service for the
# selection tables; lb_gc's layout since 3).  Their own make, without our flags.
ABI3_REV := 7bd91ee7ac98e3418d52f1d0310ffd24f2334f51
ABI4_REV := 27f911648d92a0290dbda8826de90006f1ec50ed
ABI3     := $(B)/tests/abi3/build/bin/lbattach
ABI4     := $(B)/tests/abi4/build/bin/lbattach
$(B)/tests/abi%/build/bin/lbattach:
	@git cat-file -e '$(ABI$*_REV)^{commit}' 2>/dev/null || \
		{ echo "make: the upgrade tests build commit $(ABI$*_REV) (layout $*): not in this clone's history" >&2; exit 1; }
	rm -rf $(B)/tests/abi$* && mkdir -p $(B)/tests/abi$*
	git archive $(ABI$*_REV) | tar -x -C $(B)/tests/abi$*
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(MAKE) -s -C $(B)/tests/abi$* \
		build/bin/lbattach build/bin/lbctl build/bpf/lb_datapath.bpf.o >/dev/null

$(MODE_STAMP):
	@mkdir -p $(@D)
	rm -f $(B)/.mode-*
	touch $@

$(PATHS_STAMP):
	@mkdir -p $(@D)
	rm -f $(B)/.paths-*
	touch $@

$(B)/obj/lb/%.o: lb/%.c $(MODE_STAMP)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(B)/obj/%.o: %.c $(MODE_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TOOL_CFLAGS) -c $< -o $@

$(LIBLB_A): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# Exactly what lb.h declares is exported (lb/liblb.map; make check compares).
$(LIBLB_SO): $(LIB_OBJS) lb/liblb.map
	@mkdir -p $(@D)
	$(CC) $(SO_LDFLAGS) $(LDFLAGS) -shared -Wl,-soname,liblb.so.$(SOVERSION) -Wl,--version-script=lb/liblb.map \
	  -Wl,--no-undefined -o $@ $(LIB_OBJS) $(LDLIBS)
	ln -sf liblb.so.$(VERSION) $(B)/lib/liblb.so.$(SOVERSION)
	ln -sf liblb.so.$(SOVERSION) $(B)/lib/liblb.so

$(B)/lib/liblb.pc: lb/liblb.pc.in Makefile $(PATHS_STAMP)
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@VERSION@|$(VERSION)|' $< > $@

$(B)/systemd/%: systemd/%.in Makefile $(PATHS_STAMP)
	@mkdir -p $(@D)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g; s|@PKGLIBDIR@|$(PKGLIBDIR)|g' $< > $@
	@if [ -x $< ]; then chmod 0755 $@; fi

$(B)/systemd/%.timer: systemd/%.timer
	@mkdir -p $(@D)
	cp $< $@

$(LIBCLI): $(CLI_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/bin/lbctl: $(LBCTL_OBJS) $(LIBCLI) $(LIBLB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bin/lbmap $(B)/bin/lbattach: $(B)/bin/%: $(B)/obj/lbctl/%.o $(LIBCLI) $(LIBLB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bin/ntc: $(B)/obj/ntc/ntc.o $(LIBCLI) $(LIBLB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The parts of lbctl the unit tests run (restore's parser, which uses the service and
# endpoint words of lbctl_svc.c); their tests see lbctl's headers.
UNIT_LBCTL_OBJS := $(B)/obj/lbctl/lbctl_restore_parse.o $(B)/obj/lbctl/lbctl_svc.o \
		   $(B)/obj/lbctl/lbctl_check.o $(B)/obj/lbctl/lbctl_batch.o
$(B)/obj/tests/unit/test_restore.o: TEST_CFLAGS += -Ilbctl
# The shapes liblb expects of its pinned maps, held against the built object.
$(B)/obj/tests/unit/test_maps.o: TEST_CFLAGS += -Ilb
$(B)/obj/tests/unit/test_diff.o: TEST_CFLAGS += -Ilb
# Health checks' pure rules (lb/health.h).
$(B)/obj/tests/unit/test_health.o: TEST_CFLAGS += -Ilb

$(UNIT_TEST): $(patsubst %.c,$(B)/obj/%.o,$(UNIT_SRCS)) $(UNIT_LBCTL_OBJS) $(LIBCLI) $(LIBLB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/obj/tests/%.o: tests/%.c $(MODE_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -c $< -o $@

# Loads every program of build/bpf/ and compares its verified instruction count with
# tests/verifier-ceilings (make check).
$(VERIFIER): $(B)/obj/tests/verifier.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/obj/tests/datapath/%.o $(LIBLB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# make test: sets itself up (deps), builds, runs unit, datapath, e2e and a short fuzz
# pass, one summary line.
test: deps all $(UNIT_TEST) $(DP_TESTS) $(FUZZ_BINS) $(ABI3) $(ABI4)
	@tests/run.sh

unit datapath e2e: all $(UNIT_TEST) $(DP_TESTS)
e2e: $(ABI3) $(ABI4)
	@tests/run.sh $@

check: deps
	$(MAKE) clean
	$(MAKE) WERROR=-Werror all $(UNIT_TEST) $(DP_TESTS) $(VERIFIER)
	@tests/check.sh

# The flags bpf/ is compiled with (tests/check.sh compiles each bpf/lib header alone).
print-bpf-cflags:
	@echo $(BPF_CFLAGS)

demo: deps all
	@scripts/demo.sh

install: $(INSTALLED)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BPFDIR) $(DESTDIR)$(INCDIR)/lb \
	  $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(COMPDIR) $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(TOOLS) $(DESTDIR)$(SBINDIR)/
	install -m 0644 $(BPF_OBJS) $(DESTDIR)$(BPFDIR)/
	install -m 0644 $(PUB_HDRS) $(DESTDIR)$(INCDIR)/lb/
	install -d $(DESTDIR)$(BPFDIR)/examples
	install -m 0644 $(EXAMPLE_OBJS) $(DESTDIR)$(BPFDIR)/examples/
	install -m 0644 $(LIBLB_A) $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(LIBLB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf liblb.so.$(VERSION) $(DESTDIR)$(LIBDIR)/liblb.so.$(SOVERSION)
	ln -sf liblb.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/liblb.so
	install -m 0644 $(B)/lib/liblb.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	for m in man/*.[378]; do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/; done
	for c in completions/*; do install -m 0644 $$c $(DESTDIR)$(COMPDIR)/; done
	install -m 0644 $(UNITS) $(DESTDIR)$(UNITDIR)/
	install -m 0755 $(B)/systemd/lbkit-boot $(DESTDIR)$(PKGLIBDIR)/
	install -m 0644 systemd/examples/attach systemd/examples/rules $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 systemd/lbkit.default $(DESTDIR)$(DOCDIR)/examples/default

# make deb: the Debian packages lbkit, liblb0 and liblb-dev (debian/), built by
# dpkg-buildpackage in a copy of the tree under build/deb (the checkout stays clean);
# the .deb files land in build/deb.
DEB_SRC := $(B)/deb/lbkit-$(VERSION)
deb:
	rm -rf $(B)/deb
	mkdir -p $(DEB_SRC)
	tar --exclude=./$(B) --exclude=./.git -cf - . | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && DEB_BUILD_OPTIONS="nocheck parallel=2" \
	  dpkg-buildpackage -b -us -uc --no-sign >../build.log 2>&1 || \
	  { tail -30 ../build.log; exit 1; }
	lintian --fail-on error $(B)/deb/*.changes

clean:
	rm -rf $(B)

# make fuzz: every target in tests/fuzz/ for FUZZ_SECS seconds (libFuzzer, clang, with
# ASan and UBSan); crashes are kept in build/fuzz/artifacts/.  The tools' objects are
# built apart, under build/fuzz/obj, with main renamed (the harness calls it) and
# coverage; the tool targets link lb_open and lb_nl_open wrapped to fail, so no
# command reaches the kernel.
FB          := $(B)/fuzz
FUZZ_SECS   ?= 60
FUZZ_CC     := clang
FUZZ_SAN    := $(SAN_FLAGS)
# clang's -Wextra also flags the { NULL } ends of tables that gcc takes as they are.
FUZZ_CFLAGS := -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wall -Wextra -Wno-unused-parameter \
	       -Wno-missing-field-initializers \
	       -std=gnu11 $(WERROR) -MMD -MP -DLB_VERSION='"$(VERSION)"' -DLB_BPF_DIR='"$(BPFDIR)"' \
	       $(PUB_INC)
FUZZ_LIB    := $(patsubst %.c,$(FB)/obj/%.o,$(wildcard lb/*.c) $(wildcard lbctl/cli/*.c))
FUZZ_WRAP   := -Wl,--wrap=lb_open -Wl,--wrap=lb_nl_open
FUZZ_TARGETS := lbctl lbmap lbattach ntc restore btfval datapath
FUZZ_BINS   := $(patsubst %,$(FB)/fuzz_%,$(FUZZ_TARGETS))

$(FB)/obj/lb/%.o: lb/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Ilb -c $< -o $@

$(FB)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Ilbctl/cli -Ilbctl -Itests -Dmain=tool_main -c $< -o $@

$(FB)/fuzz_%: $(FB)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	@mkdir -p $(@D)
	$(FUZZ_CC) -g $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_LDFLAGS) -o $@ $^ $(LDLIBS)

$(patsubst %,$(FB)/fuzz_%,lbctl lbmap lbattach ntc): FUZZ_LDFLAGS := $(FUZZ_WRAP)
$(FB)/fuzz_lbctl: $(patsubst %.c,$(FB)/obj/%.o,$(wildcard lbctl/lbctl*.c))
$(FB)/fuzz_lbmap: $(FB)/obj/lbctl/lbmap.o
$(FB)/fuzz_lbattach: $(FB)/obj/lbctl/lbattach.o
$(FB)/fuzz_ntc: $(FB)/obj/ntc/ntc.o
$(FB)/fuzz_restore: $(FB)/obj/lbctl/lbctl_restore_parse.o $(FB)/obj/lbctl/lbctl_svc.o \
		    $(FB)/obj/lbctl/lbctl_check.o $(FB)/obj/lbctl/lbctl_batch.o

# Objects of the pattern rules above, kept between builds.
.SECONDARY: $(FUZZ_LIB) $(patsubst %,$(FB)/obj/tests/fuzz/fuzz_%.o,$(FUZZ_TARGETS)) \
	    $(patsubst %.c,$(FB)/obj/%.o,$(wildcard lbctl/*.c ntc/*.c))

.PHONY: fuzz fuzz-build
fuzz-build: all $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_SECS=$(FUZZ_SECS) tests/fuzz/run.sh

# make bench: every part of the benchmark in one run (root, about 16 minutes; the
# parts run one after the other, never side by side); each part alone:
#   bench-dp   datapath cost per packet against the floor (BPF_PROG_TEST_RUN)
#   bench-fwd  UDP forwarding rate on veth: routing, nftables DNAT, lbkit tc and xdp
#   bench-tcp  real TCP through a VIP: iperf3 and new connections per second
#   bench-cp   control plane: 10,000 services x 8 endpoints, lbctl -b against nft -f
#   bench-mem  kernel memory of the maps (memlock)
#   bench-sweep  the conntrack sweep's CPU share with 1k, 100k and 1M entries
# Results: bench/results/*.csv and *.svg (gnuplot); method in bench/README.md.
BENCH_BPF  := $(patsubst %.c,$(B)/%.o,$(wildcard bench/*.bpf.c))
# The datapath with one part left out each (bpf/lib/ablate.h), for dp_bench's
# per-packet cost breakdown; never installed.
ABLATE_PARTS := ifcount clock objstats l4csum ttlmac expiry track nhcache select ctinsert fib epnh
ABLATE_BPF   := $(foreach p,$(ABLATE_PARTS),$(B)/bench/ablate/$(p)/lb_datapath.bpf.o)
$(B)/bench/ablate/%/lb_datapath.bpf.o: bpf/lb_datapath.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -DLB_ABLATE=LB_PART_$* -MMD -MP -c $< -o $@
.PHONY: bench-dp bench-fwd bench-tcp bench-cp bench-mem bench-sweep bench-plot

$(B)/bench/dp_bench: $(B)/obj/bench/dp_bench.o $(LIBLB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/obj/bench/%.o: bench/%.c $(MODE_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -c $< -o $@

$(B)/bench/sweep_bench: $(B)/obj/bench/sweep_bench.o $(LIBLB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/bench/tcp_conn: $(B)/obj/bench/tcp_conn.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^

# One part after the other, each through its own make, so that what a part needs is
# (re)built right before it runs, even if the tree was cleaned meanwhile.
bench: deps
	$(MAKE) --no-print-directory bench-dp
	$(MAKE) --no-print-directory bench-fwd
	$(MAKE) --no-print-directory bench-tcp
	$(MAKE) --no-print-directory bench-cp
	$(MAKE) --no-print-directory bench-mem
	$(MAKE) --no-print-directory bench-sweep
	bench/plot.sh

bench-dp: all $(B)/bench/dp_bench $(BENCH_BPF) $(ABLATE_BPF)
	@mkdir -p bench/results
	$(B)/bench/dp_bench bench/results/datapath.csv
	bench/plot.sh

bench-fwd: all $(BENCH_BPF)
	bench/fwd_bench.sh
	bench/plot.sh

bench-tcp: all $(B)/bench/tcp_conn
	bench/tcp_bench.sh

bench-cp: all
	bench/cp_bench.sh

bench-mem: all
	bench/mem_bench.sh

bench-sweep: all $(B)/bench/sweep_bench
	@mkdir -p bench/results
	$(B)/bench/sweep_bench bench/results/sweep.csv

bench-plot:
	bench/plot.sh

-include $(shell find $(B) -name '*.d' 2>/dev/null)
