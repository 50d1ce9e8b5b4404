# Every parser of untrusted bytes has a fuzz target (fuzz/fuzz_*.c); each replays its
# regressions (fuzz/regressions/) and fuzzes briefly under libFuzzer with ASan and UBSan,
# WEIR_FUZZ_SECONDS (2) each: `make fuzz` runs them longer. The targets share one build of
# the library's objects (make fuzz-build), made once here.
set -euo pipefail
cd "$WEIR_ROOT"
secs=${WEIR_FUZZ_SECONDS:-2}
start=$SECONDS
if ! make -s --no-print-directory -j2 fuzz-build >build/fuzz-build.log 2>&1; then
    echo "FAIL: make fuzz-build"
    tail -n 30 build/fuzz-build.log
    exit 1
fi
echo "ok: fuzz-build in $((SECONDS - start)) s"
n=0
failed=()
for t in fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    name=${name#fuzz_}
    n=$((n + 1))
    if ! WEIR_FUZZ_BUILT=1 scripts/fuzz.sh "$name" "$secs" >"build/fuzz-$name.log" 2>&1; then
        echo "FAIL: fuzz target $name (log: build/fuzz-$name.log)"
        grep -m1 -B2 -A12 'ERROR:\|CHECK failed\|runtime error' "build/fuzz-$name.log" |
            grep -v '^ *#[0-9]* 0x.* in fuzzer::' || tail -n 20 "build/fuzz-$name.log"
        failed+=("$name")
        continue
    fi
    echo "ok: $name: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "build/fuzz-$name.log")"
done
# A target that is not exercised cannot find anything: the set must be the full one.
((n >= 16)) || { echo "FAIL: only $n fuzz targets"; exit 1; }
echo "$n targets in $((SECONDS - start)) s"
((${#failed[@]} == 0)) || { echo "FAIL: ${failed[*]}"; exit 1; }
