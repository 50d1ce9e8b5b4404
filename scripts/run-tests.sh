#!/usr/bin/env bash
# Runs every test (or those whose name contains $1): cmocka unit tests, then integration
# tests under test/it/. Each runs in its own process with a time limit; the last line
# is "N passed, N failed". The Kafka checkpoint crash tests spend most of their time waiting
# for the dev broker's group coordinator, not computing: they run in a second lane, beside
# the others, so that the whole run stays well within its time budget on two cores.
set -uo pipefail
cd "$(dirname "$0")/.."
filter=${1:-}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export WEIR_ROOT=$PWD WEIR_BIN=$PWD/build/asan/bin WEIR_REL_BIN=$PWD/build/bin
export WEIR_EXAMPLES=$PWD/build/asan/examples
passed=0 failed=0 failures=()
logdir=build/test-logs
mkdir -p "$logdir"

run_one() { # name, timeout seconds, command...
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    if timeout -k 10 "$limit" "$@" >"$logdir/$name.log" 2>&1; then
        passed=$((passed + 1))
        printf 'PASS %-40s %4ds\n' "$name" $((SECONDS - start))
    else
        failed=$((failed + 1))
        failures+=("$name")
        printf 'FAIL %-40s %4ds (log: %s)\n' "$name" $((SECONDS - start)) "$logdir/$name.log"
        tail -n 40 "$logdir/$name.log" | sed 's/^/    | /'
    fi
}

# The second lane: its results are printed when it ends.
lane2=$logdir/.lane2
: >"$lane2"
(
    passed=0 failed=0 failures=()
    for t in test/it/kafka_checkpoint*.sh; do
        [[ -f $t ]] || continue
        name=it_$(basename "$t" .sh)
        [[ -z $filter || $name == *"$filter"* ]] || continue
        run_one "$name" 600 bash "$t"
    done
    echo "LANE $passed $failed ${failures[*]}"
) >"$lane2" 2>&1 &
lane2_pid=$!

for t in build/test/test_*; do
    [[ -x $t ]] || continue
    name=$(basename "$t")
    [[ -z $filter || $name == *"$filter"* ]] || continue
    run_one "$name" 600 "$t"
done
for t in test/it/*.sh; do
    [[ -f $t ]] || continue
    [[ $(basename "$t") == kafka_checkpoint* ]] && continue
    name=it_$(basename "$t" .sh)
    [[ -z $filter || $name == *"$filter"* ]] || continue
    run_one "$name" 600 bash "$t"
done

wait "$lane2_pid"
grep -v '^LANE ' "$lane2"
read -r _ p2 f2 fl2 < <(grep '^LANE ' "$lane2")
passed=$((passed + ${p2:-0}))
failed=$((failed + ${f2:-1}))
[[ -n ${fl2:-} ]] && failures+=($fl2)
rm -f "$lane2"
((failed)) && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
