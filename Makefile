# weir: the one entry point. `make` builds; `make test`, `make run`, `make bench`, `make deps`.
CC      ?= cc
BUILD   := build
# What libweir uses, and so all its static links: librdkafka (Kafka), CRoaring (exact distinct),
# xxHash, msgpack and zstd (snapshots), libcurl and libcrypto (DynamoDB, SigV4), libmicrohttpd
# (the metrics server). Release links record only what a binary uses (GCC's --as-needed;
# test/it/link_needs.sh checks it).
LIBS    := -lrdkafka -lroaring -lxxhash -lmsgpackc -lzstd -lcurl -lcrypto -lmicrohttpd -lm -lpthread
BASE    := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Itest -Wall -Wextra -Werror -MMD -MP
REL     := $(BASE) -O2 -g -fPIC
ASAN    := $(BASE) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
SAN_LD  := -fsanitize=address,undefined
# The library's version (include/weir/weir.h) and its ABI version, the SONAME's number.
VERSION := $(shell sed -n 's/^\#define WEIR_VERSION_STRING *"\(.*\)"/\1/p' include/weir/weir.h)
SOVER   := 0

LIB_SRC  := $(sort $(shell find src -name '*.c'))
REL_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
ASAN_OBJ := $(LIB_SRC:%.c=$(BUILD)/asan/%.o)
SUP_SRC  := $(sort $(wildcard test/support/*.c))
SUP_OBJ  := $(SUP_SRC:%.c=$(BUILD)/asan/%.o)
SUP_REL  := $(SUP_SRC:%.c=$(BUILD)/obj/%.o)
JOB_SRC  := $(sort $(wildcard jobs/*.c))
JOBS     := $(JOB_SRC:jobs/%.c=$(BUILD)/bin/%)
ASAN_JOBS:= $(JOB_SRC:jobs/%.c=$(BUILD)/asan/bin/%)
EX_SRC   := $(sort $(wildcard examples/*.c))
EXAMPLES := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)
ASAN_EX  := $(EX_SRC:examples/%.c=$(BUILD)/asan/examples/%)
TEST_SRC := $(sort $(wildcard test/test_*.c))
TESTS    := $(TEST_SRC:test/%.c=$(BUILD)/test/%)
TOOL_SRC := $(sort $(wildcard test/tools/*.c))
TOOLS    := $(TOOL_SRC:test/tools/%.c=$(BUILD)/bin/%)
BENCH_SRC:= $(sort $(wildcard bench/*.c))
# The platform's services (services/*.c, one binary each) over their HTTP layer and store
# (services/lib/), linked with libweir; only they link SQLite, jansson and libpq.
SVC_SRC  := $(sort $(wildcard services/*.c))
SVCS     := $(SVC_SRC:services/%.c=$(BUILD)/bin/%)
ASAN_SVCS:= $(SVC_SRC:services/%.c=$(BUILD)/asan/bin/%)
SVCL_SRC := $(sort $(wildcard services/lib/*.c))
SVCL_OBJ := $(SVCL_SRC:%.c=$(BUILD)/obj/%.o)
SVCL_ASAN:= $(SVCL_SRC:%.c=$(BUILD)/asan/%.o)
SVC_LIBS := -lmicrohttpd -lsqlite3 -ljansson -lpq
SVC_INC  := -I/usr/include/postgresql

# Profile-guided optimisation of the library's release objects, with GCC (PGO=0 skips it):
# the library is first built instrumented under build/pgo, the unique-users job runs on
# generated events (scripts/pgo-train.sh), and each object of src/ is then compiled with its
# profile. operator-exact 1.10x, paired ratio of 8 interleaved rounds (docs/BENCHMARKS.md).
PGO      ?= $(if $(shell $(CC) -v 2>&1 | grep '^gcc version'),1,0)
PGO_DIR  := $(BUILD)/pgo
PGO_OBJ  := $(LIB_SRC:%.c=$(PGO_DIR)/obj/%.o)
PGO_GEN  := -fprofile-generate -fprofile-update=single
PGO_USE  := -fprofile-use -fprofile-partial-training -Wno-missing-profile


.PHONY: all deps test run run-kafka run-file bench format format-check clean docs fuzz fuzz-build install
all: $(BUILD)/libweir.a $(BUILD)/libweir.so $(JOBS) $(SVCS) $(EXAMPLES) $(TOOLS) $(if $(BENCH_SRC),$(BUILD)/bin/weir-bench)

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(REL) -c $< -o $@
$(BUILD)/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ASAN) -c $< -o $@

ifeq ($(PGO),1)
$(PGO_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(REL) $(PGO_GEN) -c $< -o $@
$(PGO_DIR)/libweir.a: $(PGO_OBJ)
	rm -f $@ && ar rcs $@ $^
$(PGO_DIR)/bin/unique-users: $(PGO_DIR)/obj/jobs/unique-users.o $(PGO_DIR)/libweir.a
	@mkdir -p $(@D)
	$(CC) $(PGO_GEN) -o $@ $< $(PGO_DIR)/libweir.a $(LIBS)
$(PGO_DIR)/bin/weir-gen: $(BUILD)/obj/test/tools/weir-gen.o $(SUP_REL) $(PGO_DIR)/libweir.a
	@mkdir -p $(@D)
	$(CC) $(PGO_GEN) -o $@ $< $(SUP_REL) $(PGO_DIR)/libweir.a $(LIBS)
$(PGO_DIR)/profile.stamp: $(PGO_DIR)/bin/unique-users $(PGO_DIR)/bin/weir-gen scripts/pgo-train.sh
	scripts/pgo-train.sh $(PGO_DIR)
# A release object of the library, with the profile of its instrumented twin: -dumpdir and
# -dumpbase name that object's auxiliary files, where GCC reads the profile (a copy of it
# beside this object is refused: the ids of static functions hash the auxiliary name).
$(REL_OBJ): $(BUILD)/obj/%.o: %.c $(PGO_DIR)/profile.stamp
	@mkdir -p $(@D)
	$(CC) $(REL) $(PGO_USE) -MF $(@:.o=.d) -dumpdir $(dir $(PGO_DIR)/obj/$*) -dumpbase $(notdir $*) -c $< -o $@
endif

$(BUILD)/libweir.a: $(REL_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
# The shared library exports the public API only (src/libweir.map) and is named by its ABI
# version: libweir.so.0 (the SONAME) -> libweir.so.$(VERSION), and libweir.so for the linker.
$(BUILD)/libweir.so.$(VERSION): $(REL_OBJ) src/libweir.map
	$(CC) -shared -Wl,-soname,libweir.so.$(SOVER) -Wl,--version-script=src/libweir.map \
	    -Wl,--no-undefined -o $@ $(REL_OBJ) $(LIBS)
$(BUILD)/libweir.so.$(SOVER): $(BUILD)/libweir.so.$(VERSION)
	ln -sf $(<F) $@
$(BUILD)/libweir.so: $(BUILD)/libweir.so.$(SOVER)
	ln -sf $(<F) $@
$(BUILD)/asan/libweir.a: $(ASAN_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/jobs/%.o $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(BUILD)/libweir.a $(LIBS)
$(BUILD)/asan/bin/%: $(BUILD)/asan/jobs/%.o $(BUILD)/asan/libweir.a
	@mkdir -p $(@D)
	$(CC) $(SAN_LD) -o $@ $< $(BUILD)/asan/libweir.a $(LIBS)
$(SVCS): $(BUILD)/bin/%: $(BUILD)/obj/services/%.o $(SVCL_OBJ) $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(SVCL_OBJ) $(BUILD)/libweir.a $(SVC_LIBS) $(LIBS)
$(ASAN_SVCS): $(BUILD)/asan/bin/%: $(BUILD)/asan/services/%.o $(SVCL_ASAN) $(BUILD)/asan/libweir.a
	@mkdir -p $(@D)
	$(CC) $(SAN_LD) -o $@ $< $(SVCL_ASAN) $(BUILD)/asan/libweir.a $(SVC_LIBS) $(LIBS)
$(BUILD)/obj/services/%.o: REL += $(SVC_INC)
$(BUILD)/asan/services/%.o: ASAN += $(SVC_INC)
# The services' unit tests (test/test_services_*.c) link their HTTP layer and store too.
$(BUILD)/test/test_services_%: $(BUILD)/asan/test/test_services_%.o $(SVCL_ASAN) $(SUP_OBJ) $(BUILD)/asan/libweir.a
	@mkdir -p $(@D)
	$(CC) $(SAN_LD) -o $@ $< $(SVCL_ASAN) $(SUP_OBJ) $(BUILD)/asan/libweir.a -lcmocka $(SVC_LIBS) $(LIBS)
$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(BUILD)/libweir.a $(LIBS)
$(BUILD)/asan/examples/%: $(BUILD)/asan/examples/%.o $(BUILD)/asan/libweir.a
	@mkdir -p $(@D)
	$(CC) $(SAN_LD) -o $@ $< $(BUILD)/asan/libweir.a $(LIBS)
# weir-nexmark and weir-bench link the Nexmark queries of examples/nexmark/, written there as a
# user of the library writes a job.
NX_OBJ  := $(BUILD)/obj/examples/nexmark/nexmark_queries.o
NX_ASAN := $(BUILD)/asan/examples/nexmark/nexmark_queries.o
$(BUILD)/bin/weir-nexmark: $(BUILD)/obj/jobs/weir-nexmark.o $(NX_OBJ) $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(NX_OBJ) $(BUILD)/libweir.a $(LIBS)
$(BUILD)/asan/bin/weir-nexmark: $(BUILD)/asan/jobs/weir-nexmark.o $(NX_ASAN) $(BUILD)/asan/libweir.a
	@mkdir -p $(@D)
	$(CC) $(SAN_LD) -o $@ $< $(NX_ASAN) $(BUILD)/asan/libweir.a $(LIBS)
# Test tools (data generators, reference models) are built optimised: they feed big runs.
$(BUILD)/bin/%: $(BUILD)/obj/test/tools/%.o $(SUP_REL) $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(SUP_REL) $(BUILD)/libweir.a $(LIBS)
$(BUILD)/test/%: $(BUILD)/asan/test/%.o $(SUP_OBJ) $(BUILD)/asan/libweir.a
	@mkdir -p $(@D)
	$(CC) $(SAN_LD) $(TEST_LD) -o $@ $< $(SUP_OBJ) $(BUILD)/asan/libweir.a -lcmocka $(LIBS)
# test_oom fails the library's allocations one by one through these wrappers.
$(BUILD)/test/test_oom: TEST_LD := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
$(BUILD)/bin/weir-bench: $(BENCH_SRC:%.c=$(BUILD)/obj/%.o) $(SUP_REL) $(NX_OBJ) $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $(BENCH_SRC:%.c=$(BUILD)/obj/%.o) $(SUP_REL) $(NX_OBJ) $(BUILD)/libweir.a $(LIBS)

# Fuzz targets (fuzz/fuzz_NAME.c, one per parser of untrusted bytes): libFuzzer with ASan and
# UBSan, built with clang against one set of library objects compiled once for all of them.
# Checksums are not verified in these objects (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION), so
# the fuzzer reaches the checks behind them. `make fuzz` runs every target FUZZ_SECONDS (60)
# each (all of them, naming those that failed), or only FUZZ="NAME ..."; scripts/fuzz.sh NAME
# SECONDS runs one.
FUZZ_CC      ?= $(or $(shell command -v clang || command -v clang-14),clang)
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Itest -g -O1 -fno-omit-frame-pointer \
                -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
                -MMD -MP
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES   := $(FUZZ_SRC:fuzz/fuzz_%.c=%)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_OBJ     := $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_SUP     := $(BUILD)/fuzz/obj/test/support/gen.o
# fuzz_kafka_ckpt reads and writes checkpoint-topic messages in memory: these librdkafka calls of
# the store's reader are replaced by the target's (__wrap_...), the store's code is not.
FUZZ_RDK_WRAP := rd_kafka_new rd_kafka_destroy rd_kafka_consumer_close rd_kafka_topic_new \
                 rd_kafka_topic_destroy rd_kafka_metadata rd_kafka_metadata_destroy \
                 rd_kafka_query_watermark_offsets rd_kafka_assign rd_kafka_consumer_poll \
                 rd_kafka_message_destroy rd_kafka_producev

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c $< -o $@
$(BUILD)/fuzz/obj/fuzz/%.o: fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Wall -Wextra -Werror -c $< -o $@
$(BUILD)/fuzz/libweir.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/fuzz/fuzz_%.o $(BUILD)/fuzz/libweir.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_LD) -o $@ $< $(BUILD)/fuzz/libweir.a $(LIBS)
$(BUILD)/fuzz/fuzz_kafka_ckpt: FUZZ_LD := $(FUZZ_RDK_WRAP:%=-Wl,--wrap=%)
# The services' target takes their HTTP layer and its libraries too.
$(BUILD)/fuzz/fuzz_services_http: $(BUILD)/fuzz/obj/fuzz/fuzz_services_http.o \
                                  $(BUILD)/fuzz/obj/services/lib/http.o $(BUILD)/fuzz/libweir.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -lmicrohttpd -ljansson $(LIBS)
$(BUILD)/fuzz/fuzz_services_csv: $(BUILD)/fuzz/obj/fuzz/fuzz_services_csv.o \
                                 $(BUILD)/fuzz/obj/services/lib/csv.o $(BUILD)/fuzz/libweir.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)
$(BUILD)/fuzz/fuzz_services_h1: $(BUILD)/fuzz/obj/fuzz/fuzz_services_h1.o \
                                $(BUILD)/fuzz/obj/services/lib/h1.o $(BUILD)/fuzz/libweir.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)
# The seed corpora, made by code (fuzz/seeds.c NAME DIR).
$(BUILD)/fuzz/weir-fuzz-seeds: $(BUILD)/fuzz/obj/fuzz/seeds.o $(FUZZ_SUP) $(BUILD)/fuzz/libweir.a
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $< $(FUZZ_SUP) $(BUILD)/fuzz/libweir.a $(LIBS)

fuzz-build: $(FUZZ_BINS) $(BUILD)/fuzz/weir-fuzz-seeds
fuzz:
	@$(MAKE) --no-print-directory fuzz-build
	@failed=; for n in $(or $(FUZZ),$(FUZZ_NAMES)); do \
	    WEIR_FUZZ_BUILT=1 scripts/fuzz.sh $$n $(FUZZ_SECONDS) || failed="$$failed $$n"; done; \
	if [ -n "$$failed" ]; then echo "make fuzz: failed:$$failed" >&2; exit 1; fi

# The whole test run: unit tests and integration tests, under ASan+UBSan.
test: deps
	@$(MAKE) --no-print-directory all $(TESTS) $(ASAN_JOBS) $(ASAN_SVCS) $(ASAN_EX)
	@scripts/run-tests.sh $(T)

# make run: the whole platform on loopback (dev broker, dynalite, the five services, the job
# into Kafka and DynamoDB), driven through the gateway (scripts/run-platform.sh); make
# run-kafka: the job alone on a generated sample in Kafka; make run-file: the job over a file.
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-platform.sh

run-kafka: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-demo-kafka.sh

run-file: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-bench.sh

docs: $(BUILD)/bin/unique-users $(SVCS)
	scripts/config-doc.sh $(BUILD)/bin > docs/CONFIGURATION.md

# make install PREFIX=/usr/local DESTDIR=: headers, both libraries (and the .so links), the
# pkg-config file weir.pc and the binaries of the jobs and the services.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
PCDIR      ?= $(LIBDIR)/pkgconfig

$(BUILD)/weir.pc: src/weir.pc.in include/weir/weir.h Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS@|$(LIBS)|' $< >$@
# Rewritten on every install: its paths are those of this install's PREFIX.
.PHONY: $(BUILD)/weir.pc

install: $(BUILD)/libweir.a $(BUILD)/libweir.so $(JOBS) $(SVCS) $(BUILD)/weir.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/weir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR) \
	    $(DESTDIR)$(BINDIR)
	install -m 644 include/weir/*.h $(DESTDIR)$(INCLUDEDIR)/weir/
	install -m 644 $(BUILD)/libweir.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libweir.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libweir.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libweir.so.$(SOVER)
	ln -sf libweir.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libweir.so
	install -m 644 $(BUILD)/weir.pc $(DESTDIR)$(PCDIR)/
	install -m 755 $(JOBS) $(SVCS) $(DESTDIR)$(BINDIR)/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
