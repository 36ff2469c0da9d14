# acrdiag: plain GNU make.  `make` builds ./acrdiag, `make check` runs every
# test, `make SANITIZE=address,undefined check` runs them under sanitizers.
VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/acrdiag
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Debian's zsh looks in vendor-completions; a local install in site-functions.
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
DOCS := README.md docs/verdicts.md docs/acr-network-facts.md
CC ?= cc
# The prober's TTL-limited probes use connect() with IP_TTL (as mtr does),
# which needs no raw-packet library and draws no kernel RST; so no libnet.
PKGS := libpcap libcares openssl jansson zlib libzstd liblzma libnghttp2

WARN := -std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS ?= -O2 -g
ALL_CFLAGS := $(WARN) $(CPPFLAGS) $(CFLAGS) -D_GNU_SOURCE -DACRDIAG_VERSION='"$(VERSION)"' \
              -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpcap -lcares -lssl -lcrypto -ljansson -lz -lzstd -llzma -lnghttp2)
# analyze reads and decodes on a second thread (capture/pktpipe.c).
LDLIBS += -lpthread
ALL_LDFLAGS := -pie -Wl,-z,relro,-z,now $(LDFLAGS)

ifdef CI
ALL_CFLAGS += -Werror
endif
# Another compiler's objects live apart as well: CC=clang builds in build/clang/.
ifneq ($(filter clang%,$(notdir $(firstword $(CC)))),)
BUILD_TAG := clang/
endif
ifdef SANITIZE
# Sanitizer builds live apart so they never mix with the release objects.
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer -O1
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
HARDEN := -fPIE
ifeq ($(SANITIZE),thread)
# ThreadSanitizer cannot mix with the others: a build of its own.
BUILD := build/$(BUILD_TAG)tsan
else
BUILD := build/$(BUILD_TAG)san
endif
else
BUILD := build/$(BUILD_TAG)rel
ALL_CFLAGS += $(HARDEN)
endif

LIB_SRC := $(wildcard capture/*.c probe/*.c analysis/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
# The command line: acrdiag.c picks the command, cli/ holds analyze and watch.
CLI_SRC := acrdiag.c $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libacrdiag.a
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%-replay)
TOOL := $(BUILD)/acrdiag
# Every header compiles alone (`make headers`): none leans on what its
# includer happened to include first.
HEADERS := $(wildcard cli/*.h capture/*.h analysis/*.h probe/*.h tests/unit/*.h tests/fuzz/*.h)

.PHONY: all check unit tsan install uninstall clean pcaps fuzz bench bench-live bench-large demo tool headers
all: acrdiag

acrdiag: $(TOOL)
	cp $(TOOL) $@

# The library and the tool in $(BUILD) only (CI's clang build: ./acrdiag stays gcc's).
tool: $(TOOL)

headers:
	@p=0; f=0; for h in $(HEADERS); do \
	    if echo "#include \"$$h\"" | $(CC) $(ALL_CFLAGS) -fsyntax-only -x c -; then p=$$((p + 1)); \
	    else echo "FAIL $$h does not compile alone"; f=$$((f + 1)); fi; \
	done; echo "$$p passed, $$f failed"; [ $$f -eq 0 ]

$(TOOL): $(CLI_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -MMD -MP -o $@ $< $(LIB) $(LDLIBS)

# Fuzz harnesses built with the one-file driver, so every run replays the
# saved corpus under whatever compiler and sanitizers this build uses.
$(BUILD)/fuzz/%-replay: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -MMD -MP -o $@ $< tests/fuzz/replay_main.c $(LIB) $(LDLIBS)

# libFuzzer harnesses (`make fuzz`): clang with -fsanitize=fuzzer,address,undefined
# builds build/fuzz/<harness>; the library is compiled apart for it.  Run one
# with e.g. build/fuzz/fuzz_dns tests/fuzz/corpus/fuzz_dns (tests/fuzz/README.md).
FUZZ_CC ?= clang
FUZZ_DIR := build/fuzz
FUZZ_CFLAGS := $(WARN) -O1 -g -fno-omit-frame-pointer -D_GNU_SOURCE \
               -DACRDIAG_VERSION='"$(VERSION)"' -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
               -fsanitize=address,undefined -fno-sanitize-recover=all
ifdef CI
FUZZ_CFLAGS += -Werror
endif
FUZZ_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)

fuzz: $(FUZZ_BIN)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BIN): $(FUZZ_DIR)/%: tests/fuzz/%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_OBJ) $(LDLIBS)

# Everything the test runner needs, then the runner itself.
check: $(TOOL) $(UNIT_BIN) $(FUZZ_REPLAY)
	BUILD=$(BUILD) tests/run.sh

# `make tsan`: ThreadSanitizer over analyze's two threads (capture/ring.c,
# capture/pktpipe.c): the ring's unit test, then analyze --threads 2 on
# captures with key log blocks, a gzip copy, a cut (damaged) copy and a
# 40,000-packet bench/gen file (many batches); any report fails it.
TSAN := build/$(BUILD_TAG)tsan
TSAN_CAPTURES := pcaps/registry_denied_keys.curl.pcapng pcaps/fw_close_sni.curl.pcap pcaps/acr_ip_denied.curl.pcap
tsan:
	$(MAKE) SANITIZE=thread tool $(TSAN)/tests/test_ring $(TSAN)/bench/gen
	$(TSAN)/tests/test_ring
	$(TSAN)/bench/gen -n 40000 $(TSAN)/gen.pcap >/dev/null
	gzip -c $(TSAN)/gen.pcap >$(TSAN)/gen.pcap.gz
	head -c 1000000 $(TSAN)/gen.pcap >$(TSAN)/cut.pcap
	@n=0; for f in $(TSAN_CAPTURES) $(TSAN)/gen.pcap $(TSAN)/gen.pcap.gz $(TSAN)/cut.pcap; do \
	    TSAN_OPTIONS=halt_on_error=1:exitcode=66 $(TSAN)/acrdiag analyze --threads 2 --json "$$f" \
	        >/dev/null 2>$(TSAN)/last.err; \
	    rc=$$?; if [ $$rc -gt 3 ]; then echo "FAIL tsan $$f (exit $$rc)"; cat $(TSAN)/last.err; exit 1; fi; \
	    n=$$((n + 1)); done; echo "tsan: analyze --threads 2 on $$n captures, no report"

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t || exit 1; done

# `make bench`: analyze's packet rate and peak memory against a bare libpcap
# read and tshark on one large synthetic capture (README "Benchmark").
# Informational: it never fails because a machine is slow.
$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -MMD -MP -o $@ $< $(LDLIBS)

bench: $(TOOL) $(BUILD)/bench/gen $(BUILD)/bench/readloop
	BUILD=$(BUILD) bench/run.sh

# `make bench-live` (root): the highest replay rate `acrdiag watch` reads
# with no kernel drop, in two acrd_bench_* namespaces (bench/live.sh; the
# sender bench/blast.c, or tcpreplay).
bench-live: $(TOOL) $(BUILD)/bench/gen $(BUILD)/bench/blast $(BUILD)/bench/pcapknobs.so
	BUILD=$(BUILD) bench/live.sh

# bench/pcapknobs.c: LD_PRELOAD library that lets bench-live run watch as it
# was before (immediate mode) and try other block timeouts
# (BENCH_LIVE_TIMEOUT_MS).
$(BUILD)/bench/%.so: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -shared -MMD -MP -o $@ $< -ldl

# `make bench-large`: analyze's peak RSS and progress line on a generated
# 10 GB capture, deleted afterwards (bench/large.sh).
bench-large: $(TOOL) $(BUILD)/bench/gen
	BUILD=$(BUILD) bench/large.sh

demo: acrdiag
	ACRDIAG=./acrdiag tests/demo.sh

pcaps: $(TOOL)
	tests/lab/record-all.sh

# `make install` (PREFIX=/usr/local, DESTDIR for a staging root): the
# binary, acrdiag(1), bash and zsh completion, the docs; `make uninstall`
# removes exactly those.
install: acrdiag
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 acrdiag $(DESTDIR)$(BINDIR)/acrdiag
	install -m 0644 doc/acrdiag.1 $(DESTDIR)$(MANDIR)/man1/acrdiag.1
	install -m 0644 completion/acrdiag.bash $(DESTDIR)$(BASHCOMPDIR)/acrdiag
	install -m 0644 completion/_acrdiag $(DESTDIR)$(ZSHCOMPDIR)/_acrdiag
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/acrdiag $(DESTDIR)$(MANDIR)/man1/acrdiag.1 \
		$(DESTDIR)$(BASHCOMPDIR)/acrdiag $(DESTDIR)$(ZSHCOMPDIR)/_acrdiag \
		$(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -rf build acrdiag

-include $(shell find build -name '*.d' 2>/dev/null)
