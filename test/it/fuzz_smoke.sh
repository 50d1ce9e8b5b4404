# Every parser of untrusted bytes has a fuzz target; each runs briefly under libFuzzer with
# ASan and UBSan (scripts/fuzz.sh NAME 600 runs one for longer).
set -euo pipefail
cd "$WEIR_ROOT"
for t in fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    name=${name#fuzz_}
    if ! scripts/fuzz.sh "$name" "${WEIR_FUZZ_SECONDS:-10}" >"build/fuzz-$name.log" 2>&1; then
        echo "FAIL: fuzz target $name"
        tail -n 30 "build/fuzz-$name.log"
        exit 1
    fi
    echo "ok: $name: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "build/fuzz-$name.log")"
done
