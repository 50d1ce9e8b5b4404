# weir: the one entry point. `make` builds; `make test`, `make run`, `make bench`, `make deps`.
CC      ?= cc
BUILD   := build
LIBS    := -lrdkafka -lroaring -lxxhash -lmsgpackc -lzstd -lcurl -lcrypto -lmicrohttpd \
           -lsqlite3 -lm -lpthread
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
# Test tools (data generators, reference models) are built optimised: they feed big runs.
$(BUILD)/bin/%: $(BUILD)/obj/test/tools/%.o $(SUP_REL) $(BUILD)/libweir.a
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(SUP_REL) $(BUILD)/libweir.a $(LIBS)
$(BUILD)/test/%: $(BUILD)/asan/test/%.o $(SUP_OBJ) $(BUILD)/asan/libweir.a
	@mkdir -p $(@D)
	$(CC) $(SAN_LD) -o $@ $< $(SUP_OBJ) $(BUILD)/asan/libweir.a -lcmocka $(LIBS)
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

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
