#!/usr/bin/env bash
# Builds fuzz/fuzz_NAME.c with libFuzzer, ASan and UBSan against the library sources and
# runs it for SECONDS (default 60). Usage: scripts/fuzz.sh NAME [SECONDS]
# Checksums are not verified in this build (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION), so
# the fuzzer reaches the checks behind them. Corpus: build/fuzz/NAME-corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/fuzz.sh NAME [SECONDS]}
secs=${2:-60}
[[ $name == hll ]] && exec scripts/fuzz-hll.sh "$secs"
CLANG=${CLANG:-$(command -v clang || command -v clang-14 || true)}
[[ -n $CLANG ]] || { echo "fuzz: clang not found (Debian package clang)" >&2; exit 1; }
out=build/fuzz
corpus=$out/$name-corpus
mkdir -p "$corpus"
flags=(-std=c11 -D_GNU_SOURCE -Iinclude -Isrc -g -O1 -fno-omit-frame-pointer
    -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fno-sanitize-recover=undefined)
"$CLANG" "${flags[@]}" -fsanitize=fuzzer,address,undefined -o "$out/fuzz_$name" \
    "fuzz/fuzz_$name.c" $(find src -name '*.c' | sort) -lrdkafka -lroaring -lxxhash -lmsgpackc \
    -lzstd -lcurl -lcrypto -lm -lpthread
case $name in
decode)
    build/bin/weir-gen --events 50 --mixed --bad 0.3 --late 0.1 | split -l 1 - "$corpus/gen-"
    ;;
fields)
    build/bin/weir-gen --events 30 --mixed --bad 0.3 | split -l 1 - "$corpus/gen-"
    printf '%s' '{"ts":1,"k":"a","m":{"k":7},"a":{"b":"x","c":null},"n":3.5,"s":"\u00e9"}' \
        >"$corpus/rec"
    printf '%s' 'sum(total_price) where status != "cancelled" and n >= 1e3 as revenue' \
        >"$corpus/agg"
    printf '%s' 'a.b = x and n > -2.5 and s != "q\"r"' >"$corpus/pred"
    printf '%s' 'region,m.shop' >"$corpus/key"
    ;;
snapshot)
    # Seeds: real snapshots of small operators.
    build/bin/weir-snapshot-seeds "$corpus" >/dev/null
    ;;
esac
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$out/fuzz_$name" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix="$out/$name-" "$corpus"
