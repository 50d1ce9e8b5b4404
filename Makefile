# weir: the one entry point. `make` builds; `make test`, `make run`, `make bench`, `make deps`.
CC      ?= cc
BUILD   := build
LIBS    := -lrdkafka -lroaring -lxxhash -lmsgpackc -lzstd -lcurl -lcrypto -lm -lpthread
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

# Profile-guided optimisation of the library's release objects, with GCC (PGO=0 skips it):
# the library is first built instrumented under build/pgo, the unique-users job runs on
# generated events (scripts/pgo-train.sh), and each object of src/ is then compiled with its
# profile. operator-exact 1.10x, paired ratio of 8 interleaved rounds (docs/BENCHMARKS.md).
PGO      ?= $(if $(shell $(CC) -v 2>&1 | grep '^gcc version'),1,0)
PGO_DIR  := $(BUILD)/pgo
PGO_OBJ  := $(LIB_SRC:%.c=$(PGO_DIR)/obj/%.o)
PGO_GEN  := -fprofile-generate -fprofile-update=single
PGO_USE  := -fprofile-use -fprofile-partial-training -Wno-missing-profile


.PHONY: all deps test run run-file bench format format-check clean docs install
all: $(BUILD)/libweir.a $(BUILD)/libweir.so $(JOBS) $(EXAMPLES) $(TOOLS) $(if $(BENCH_SRC),$(BUILD)/bin/weir-bench)

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
$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(BUILD)/libweir.a $(LIBS)
$(BUILD)/asan/examples/%: $(BUILD)/asan/examples/%.o $(BUILD)/asan/libweir.a
	@mkdir -p $(@D)
	$(CC) $(SAN_LD) -o $@ $< $(BUILD)/asan/libweir.a $(LIBS)
# Test tools (data generators, reference models) are built optimised: they feed big runs.
$(BUILD)/bin/%: $(BUILD)/obj/test/tools/%.o $(SUP_REL) $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(SUP_REL) $(BUILD)/libweir.a $(LIBS)
$(BUILD)/test/%: $(BUILD)/asan/test/%.o $(SUP_OBJ) $(BUILD)/asan/libweir.a
	@mkdir -p $(@D)
	$(CC) $(SAN_LD) $(TEST_LD) -o $@ $< $(SUP_OBJ) $(BUILD)/asan/libweir.a -lcmocka $(LIBS)
# test_oom fails the library's allocations one by one through these wrappers.
$(BUILD)/test/test_oom: TEST_LD := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
$(BUILD)/bin/weir-bench: $(BENCH_SRC:%.c=$(BUILD)/obj/%.o) $(SUP_REL) $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $(BENCH_SRC:%.c=$(BUILD)/obj/%.o) $(SUP_REL) $(BUILD)/libweir.a $(LIBS)

# The whole test run: unit tests and integration tests, under ASan+UBSan.
test: deps
	@$(MAKE) --no-print-directory all $(TESTS) $(ASAN_JOBS) $(ASAN_EX)
	@scripts/run-tests.sh $(T)

# make run: the dev broker, a generated sample produced to Kafka, the job, the results read
# back; make run-file: the same job over a file.
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-demo-kafka.sh

run-file: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-bench.sh

docs: $(BUILD)/bin/unique-users
	$(BUILD)/bin/unique-users --config-doc > docs/CONFIGURATION.md

# make install PREFIX=/usr/local DESTDIR=: headers, both libraries (and the .so links), the
# pkg-config file weir.pc and the jobs' binaries.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
PCDIR      ?= $(LIBDIR)/pkgconfig

$(BUILD)/weir.pc: src/weir.pc.in include/weir/weir.h Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< >$@
# Rewritten on every install: its paths are those of this install's PREFIX.
.PHONY: $(BUILD)/weir.pc

install: $(BUILD)/libweir.a $(BUILD)/libweir.so $(JOBS) $(BUILD)/weir.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/weir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR) \
	    $(DESTDIR)$(BINDIR)
	install -m 644 include/weir/*.h $(DESTDIR)$(INCLUDEDIR)/weir/
	install -m 644 $(BUILD)/libweir.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libweir.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libweir.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libweir.so.$(SOVER)
	ln -sf libweir.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libweir.so
	install -m 644 $(BUILD)/weir.pc $(DESTDIR)$(PCDIR)/
	install -m 755 $(JOBS) $(DESTDIR)$(BINDIR)/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
