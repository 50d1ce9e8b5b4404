#!/usr/bin/env bash
# Runs the fuzz target fuzz/fuzz_NAME.c (libFuzzer, ASan, UBSan) for SECONDS (default 60):
# builds it (the Makefile's fuzz rules: one set of library objects for every target), writes
# its seed corpus (fuzz/seeds.c) into build/fuzz/NAME-corpus, replays the reproducers of
# past crashes (fuzz/regressions/NAME-*; *.hex files hold binary inputs as hex), then fuzzes.
# A crash leaves its input in build/fuzz/NAME-crash-*. Usage: scripts/fuzz.sh NAME [SECONDS]
# (`make fuzz` runs every target).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/fuzz.sh NAME [SECONDS]}
secs=${2:-60}
[[ -f fuzz/fuzz_$name.c ]] || { echo "fuzz: no target fuzz/fuzz_$name.c" >&2; exit 2; }
out=build/fuzz
if [[ -z ${WEIR_FUZZ_BUILT:-} ]]; then
    make -s --no-print-directory -j2 "$out/fuzz_$name" "$out/weir-fuzz-seeds"
fi
corpus=$out/$name-corpus
mkdir -p "$corpus"
"$out/weir-fuzz-seeds" "$name" "$corpus"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
regs=()
rm -rf "$out/$name-regressions"
for f in fuzz/regressions/"$name"-*; do
    [[ -f $f ]] || continue
    if [[ $f == *.hex ]]; then
        mkdir -p "$out/$name-regressions"
        xxd -r -p "$f" >"$out/$name-regressions/$(basename "$f" .hex)"
        regs+=("$out/$name-regressions/$(basename "$f" .hex)")
    else
        regs+=("$f")
    fi
done
if ((${#regs[@]})); then
    echo "fuzz: $name: replaying ${#regs[@]} regression input(s)"
    "$out/fuzz_$name" -rss_limit_mb=2048 "${regs[@]}"
fi
case $name in
hll) max_len=13000 ;; # dense sketches up to p = 14; larger ones only slow the fuzzer down
duration | iso8601) max_len=256 ;;
config) max_len=4096 ;;
*) max_len=65536 ;;
esac
"$out/fuzz_$name" -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 \
    -artifact_prefix="$out/$name-" "$corpus"
