#!/usr/bin/env bash
# weir-nexmark q0 q1 q2 q5 q7 q11 q15 q16 against the brute-force reference nexmark_ref.py, on
# 120,000 generated events with disorder beyond the 4 s out-of-orderness (late records) and
# malformed, mistyped and unknown-type lines mixed in, for two seeds: output records and the
# summary's counts exactly. q11/q15/q16 also give weir-window --config examples/nexmark/qN.conf
# byte for byte. Then garbage input never crashes, and bad flags exit 2 with one line.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${WEIR_BIN:-$root/build/asan/bin}
py=/usr/bin/python3
ref=$root/test/it/nexmark_ref.py
N=$bin/weir-nexmark
die() { echo "FAIL: $*" >&2; exit 1; }
[[ -x $N ]] || die "$N not built (make)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
QUERIES="q0 q1 q2 q5 q7 q11 q15 q16"

# Seed 42 delays events by up to 20 s: late records for the hopping and session windows too.
for run in "11 6000" "42 20000"; do
    read -r seed disorder <<<"$run"
    d=$tmp/s$seed
    mkdir -p "$d"
    # 1000 events/s: two minutes of event time; delays past 4 s make some records late.
    "$N" gen --events 120000 --seed $seed --rate 1000 --disorder-ms $disorder --output "$d/gen.jsonl" \
        2>/dev/null
    $py "$ref" inject "$d/gen.jsonl" "$d/in.jsonl" $seed
    for q in $QUERIES; do
        "$N" $q --input "$d/in.jsonl" --output "$d/$q.out" 2>"$d/$q.sum" ||
            die "seed $seed $q exited $? ($(cat "$d/$q.sum"))"
    done
    for q in q11 q15 q16; do
        "$bin/weir-window" --config "$root/examples/nexmark/$q.conf" --input "$d/in.jsonl" \
            --output "$d/$q.ww" 2>/dev/null
        cmp -s "$d/$q.out" "$d/$q.ww" || die "seed $seed: $q differs from weir-window --config"
        "$N" $q --print-config | cmp -s - <(grep -v '^#' "$root/examples/nexmark/$q.conf") ||
            die "$q: the built-in configuration is not examples/nexmark/$q.conf"
    done
    # stdin and stdout give the same bytes as files.
    "$N" q7 <"$d/in.jsonl" 2>/dev/null | cmp -s - "$d/q7.out" || die "q7 through stdin differs"
    $py "$ref" check "$d/in.jsonl" "$d" || die "seed $seed: weir and the reference differ"
    grep -q '"late_dropped":[1-9]' "$d/q7.sum" || die "seed $seed: no late record exercised"
    grep -q '"bad_fields":[1-9]' "$d/q0.sum" || die "seed $seed: no mistyped bid exercised"
    if [[ $seed == 42 ]]; then
        for q in q5 q11; do
            grep -q '"late_dropped":[1-9]' "$d/$q.sum" || die "seed $seed: $q had no late record"
        done
    fi
done

# Garbage only: counted, never a crash.
{
    head -c 200000 /dev/urandom
    printf '\n{}\n{"type":"bid"}\n{"type":"bid","date_time":1704067200000}\n'
    printf '{"type":"bid","date_time":1704067200000,"auction":1e400,"bidder":null,"price":{}}\n'
    printf '%*s\n' 2000000 x
} >"$tmp/garbage"
for q in $QUERIES; do
    "$N" $q --input "$tmp/garbage" --output /dev/null 2>"$tmp/g.sum" || die "$q on garbage: exit $?"
    grep -q '"records":' "$tmp/g.sum" || die "$q on garbage: no summary"
done

# Bad usage: exit 2, one line.
for args in "q5 --bogus" "q7 --input" "q99" "q11 --output" "q0 extra"; do
    set +e
    # shellcheck disable=SC2086
    "$N" $args >/dev/null 2>"$tmp/err"
    rc=$?
    set -e
    [[ $rc == 2 && $(wc -l <"$tmp/err") == 1 ]] || die "weir-nexmark $args: exit $rc, $(cat "$tmp/err")"
done
"$N" q5 --input "$tmp/missing" 2>/dev/null && die "a missing input file succeeded"
echo "ok: 8 queries match the reference on two seeds"
