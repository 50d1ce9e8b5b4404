# The example program builds, runs, and agrees with unique-users configured the same way.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$WEIR_REL_BIN/weir-gen" --seed 3 --events 50000 --products 50 --users 3000 --rate 200 \
    --disorder-ms 4000 --late 0.01 --bad 0.01 >"$tmp/in.jsonl"
"$WEIR_EXAMPLES/sessions_per_type" <"$tmp/in.jsonl" >"$tmp/example.out" 2>"$tmp/example.err"
"$WEIR_BIN/unique-users" --input "$tmp/in.jsonl" --output "$tmp/job.out" --key event_type \
    --user-field metadata.session_id --window 30s 2>/dev/null
lines=$(wc -l <"$tmp/example.out")
if ((lines < 30)); then
    echo "FAIL: the example emitted only $lines firings"
    exit 1
fi
grep -q '"event_type":"PURCHASE"' "$tmp/example.out" || { echo "FAIL: no PURCHASE firings"; exit 1; }
if ! cmp -s "$tmp/example.out" "$tmp/job.out"; then
    echo "FAIL: example and unique-users disagree"
    diff "$tmp/example.out" "$tmp/job.out" | head
    exit 1
fi
echo "ok: $lines firings; $(cat "$tmp/example.err")"
