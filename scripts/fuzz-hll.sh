#!/usr/bin/env bash
# Builds fuzz/fuzz_hll.c (the HyperLogLog deserializer) with libFuzzer, ASan and UBSan, and
# runs it for N seconds (default 60). Usage: scripts/fuzz-hll.sh [SECONDS]
# Checksums are not verified in this build (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION), so
# the fuzzer reaches the field checks behind them. Corpus: build/fuzz/hll-corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
CLANG=${CLANG:-$(command -v clang || command -v clang-14 || true)}
[[ -n $CLANG ]] || { echo "fuzz-hll: clang not found (Debian package clang)" >&2; exit 1; }
out=build/fuzz
mkdir -p "$out/hll-corpus"
flags=(-std=c11 -D_GNU_SOURCE -Iinclude -Isrc -g -O1 -fno-omit-frame-pointer
    -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fno-sanitize-recover=undefined)
"$CLANG" "${flags[@]}" -fsanitize=fuzzer,address,undefined -o "$out/fuzz_hll" \
    fuzz/fuzz_hll.c src/operators/hll.c -lxxhash -lm
# Seeds: serialized sketches of several precisions and sizes (checksums included).
"$CLANG" -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -O1 -o "$out/hll-seeds" test/tools/weir-hll-tool.c \
    src/operators/hll.c src/operators/agg_hll.c src/runtime/err.c -lxxhash -lm
"$out/hll-seeds" seeds "$out/hll-corpus" >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Inputs up to 13 KB: dense sketches up to p = 14 (larger ones take the same code paths
# and only slow the fuzzer down; the unit tests cover them).
"$out/fuzz_hll" -max_total_time="$secs" -max_len=13000 -rss_limit_mb=2048 \
    -artifact_prefix="$out/" "$out/hll-corpus"
