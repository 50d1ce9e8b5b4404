# weir: the one entry point. `make` builds; `make test`, `make run`, `make bench`, `make deps`.
CC      ?= cc
BUILD   := build
LIBS    := -lrdkafka -lroaring -lxxhash -lmsgpackc -lzstd -lcurl -lcrypto -lmicrohttpd -lm -lpthread
BASE    := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Itest -Wall -Wextra -Werror -MMD -MP
REL     := $(BASE) -O2 -g -fPIC
ASAN    := $(BASE) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
SAN_LD  := -fsanitize=address,undefined

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


.PHONY: all deps test run run-file bench format format-check clean docs
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
$(BUILD)/libweir.so: $(REL_OBJ)
	$(CC) -shared -o $@ $^ $(LIBS)
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

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
