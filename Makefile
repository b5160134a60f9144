# lbkit: one entry point.  make deps | all | test | check | demo | install | clean
VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
SBINDIR   := $(PREFIX)/sbin
LIBDIR    := $(PREFIX)/lib
BPFDIR    := $(LIBDIR)/lbkit
INCDIR    := $(PREFIX)/include
MANDIR    := $(PREFIX)/share/man
COMPDIR   := $(PREFIX)/share/bash-completion/completions

CC        ?= cc
CLANG     ?= clang
WERROR    ?=
CFLAGS    ?= -O2 -g
CFLAGS    += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -fPIC $(WERROR) \
             -Ilb -Ibpf -Ilbctl -DLB_VERSION='"$(VERSION)"' -DLB_BPF_DIR='"$(BPFDIR)"'
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Wextra -Wno-unused-parameter $(WERROR) \
             -I/usr/include/$(shell gcc -dumpmachine) -Ibpf
LDLIBS    := -lbpf -lelf -lz -lmnl

BPF_HDRS  := $(wildcard bpf/*.h)
BPF_OBJS  := bpf/lb_datapath.bpf.o bpf/lb_trivial.bpf.o
# Programs for chains: examples users install, and test programs (tests/progs/*.bpf.c).
EXAMPLE_OBJS := $(patsubst %.c,%.o,$(wildcard examples/*.bpf.c))
TEST_BPF_OBJS := $(patsubst %.c,%.o,$(wildcard tests/progs/*.bpf.c))
LIB_SRCS  := $(wildcard lb/*.c)
LIB_OBJS  := $(LIB_SRCS:.c=.o)
LIB_HDRS  := $(wildcard lb/*.h) bpf/lb_abi.h
CLI_OBJS  := lbctl/cli.o lbctl/json_print.o
TOOLS     := lbctl/lbctl lbctl/lbmap lbctl/lbattach ntc/ntc
UNIT_SRCS := $(wildcard tests/unit/*.c)
DP_TESTS  := tests/datapath/dp_test tests/datapath/nat_test tests/datapath/limit_test

.PHONY: all deps test check demo bench install clean unit datapath e2e

all: $(BPF_OBJS) $(EXAMPLE_OBJS) $(TEST_BPF_OBJS) lb/liblb.a lb/liblb.so lb/liblb.pc $(TOOLS)

deps:
	@scripts/deps.sh

bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

examples/%.bpf.o: examples/%.bpf.c $(BPF_HDRS)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

tests/progs/%.bpf.o: tests/progs/%.bpf.c $(BPF_HDRS)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

lb/%.o: lb/%.c $(LIB_HDRS)
	$(CC) $(CFLAGS) -c $< -o $@

lbctl/%.o: lbctl/%.c lbctl/*.h $(LIB_HDRS)
	$(CC) $(CFLAGS) -c $< -o $@

ntc/%.o: ntc/%.c lbctl/*.h $(LIB_HDRS)
	$(CC) $(CFLAGS) -c $< -o $@

lb/liblb.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

lb/liblb.so: $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,liblb.so.0 -o $@ $^ $(LDLIBS)

lb/liblb.pc: lb/liblb.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@VERSION@|$(VERSION)|' $< > $@

lbctl/lbctl: lbctl/lbctl.o lbctl/lbctl_svc.o lbctl/lbctl_ct.o lbctl/lbctl_mon.o lbctl/lbctl_save.o lbctl/lbctl_trace.o $(CLI_OBJS) lb/liblb.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

lbctl/lbmap lbctl/lbattach: %: %.o $(CLI_OBJS) lb/liblb.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

ntc/ntc: ntc/ntc.o $(CLI_OBJS) lb/liblb.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

tests/unit/unit: $(UNIT_SRCS) $(CLI_OBJS) lb/liblb.a
	$(CC) $(CFLAGS) -Itests -o $@ $(UNIT_SRCS) $(CLI_OBJS) lb/liblb.a $(LDLIBS)

tests/datapath/%: tests/datapath/%.c tests/datapath/pkt.h tests/datapath/harness.h tests/tap.h lb/liblb.a
	$(CC) $(CFLAGS) -Itests -o $@ $< lb/liblb.a $(LDLIBS)

# make test: sets itself up (deps), builds, runs unit, datapath and e2e, one summary line.
test: deps all tests/unit/unit $(DP_TESTS)
	@tests/run.sh

unit datapath e2e: all tests/unit/unit $(DP_TESTS)
	@tests/run.sh $@

check: deps
	$(MAKE) clean
	$(MAKE) WERROR=-Werror all tests/unit/unit $(DP_TESTS)
	@tests/check.sh

demo: deps all
	@scripts/demo.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BPFDIR) $(DESTDIR)$(INCDIR)/lb \
	  $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(COMPDIR)
	install -m 0755 $(TOOLS) $(DESTDIR)$(SBINDIR)/
	install -m 0644 $(BPF_OBJS) $(DESTDIR)$(BPFDIR)/
	install -m 0644 lb/lb.h $(DESTDIR)$(INCDIR)/lb/lb.h
	install -m 0644 bpf/lb_abi.h $(DESTDIR)$(INCDIR)/lb/lb_abi.h
	install -m 0644 bpf/lb_chain.h $(DESTDIR)$(INCDIR)/lb/lb_chain.h
	install -d $(DESTDIR)$(BPFDIR)/examples
	install -m 0644 $(EXAMPLE_OBJS) $(DESTDIR)$(BPFDIR)/examples/
	install -m 0644 lb/liblb.a $(DESTDIR)$(LIBDIR)/
	install -m 0755 lb/liblb.so $(DESTDIR)$(LIBDIR)/liblb.so.$(VERSION)
	ln -sf liblb.so.$(VERSION) $(DESTDIR)$(LIBDIR)/liblb.so.0
	ln -sf liblb.so.0 $(DESTDIR)$(LIBDIR)/liblb.so
	install -m 0644 lb/liblb.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	for m in man/*.[378]; do install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/; done
	for c in completions/*; do install -m 0644 $$c $(DESTDIR)$(COMPDIR)/; done

clean:
	rm -f bpf/*.o lb/*.o lb/liblb.a lb/liblb.so lb/liblb.pc lbctl/*.o ntc/*.o $(TOOLS) \
	  examples/*.o tests/progs/*.o tests/unit/unit $(DP_TESTS) bench/dp_bench

# make bench: every part of the benchmark in one run (root, about 5 minutes; the
# parts run one after the other, never side by side); each part alone:
#   bench-dp   datapath cost per packet against the floor (BPF_PROG_TEST_RUN)
#   bench-fwd  UDP forwarding rate on veth: routing, nftables DNAT, lbkit tc and xdp
#   bench-tcp  real TCP through a VIP: iperf3 and new connections per second
#   bench-cp   control plane: 10,000 services x 8 endpoints, lbctl -b against nft -f
#   bench-mem  kernel memory of the maps (memlock)
# Results: bench/results/*.csv and *.svg (gnuplot); method in bench/README.md.
BENCH_BPF  := $(patsubst %.c,%.o,$(wildcard bench/*.bpf.c))
BENCH_BINS := bench/dp_bench bench/tcp_conn
.PHONY: bench-dp bench-fwd bench-tcp bench-cp bench-mem bench-plot clean-bench

bench/%.bpf.o: bench/%.bpf.c
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

bench/dp_bench: bench/dp_bench.c tests/datapath/pkt.h tests/datapath/harness.h lb/liblb.a
	$(CC) $(CFLAGS) -Itests -o $@ bench/dp_bench.c lb/liblb.a $(LDLIBS)

bench/tcp_conn: bench/tcp_conn.c
	$(CC) $(CFLAGS) -o $@ $<

# One part after the other, each through its own make, so that what a part needs is
# (re)built right before it runs, even if the tree was cleaned meanwhile.
bench: deps
	$(MAKE) --no-print-directory bench-dp
	$(MAKE) --no-print-directory bench-fwd
	$(MAKE) --no-print-directory bench-tcp
	$(MAKE) --no-print-directory bench-cp
	$(MAKE) --no-print-directory bench-mem
	bench/plot.sh

bench-dp: all bench/dp_bench
	@mkdir -p bench/results
	bench/dp_bench bench/results/datapath.csv
	bench/plot.sh

bench-fwd: all $(BENCH_BPF)
	bench/fwd_bench.sh
	bench/plot.sh

bench-tcp: all bench/tcp_conn
	bench/tcp_bench.sh

bench-cp: all
	bench/cp_bench.sh

bench-mem: all
	bench/mem_bench.sh

bench-plot:
	bench/plot.sh

clean: clean-bench
clean-bench:
	rm -f $(BENCH_BINS) bench/*.bpf.o
