#!/usr/bin/env bash
# make run: the unique-users job over a generated sample of raw events, results as a table.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== generating 100,000 raw events (12 products, 3,000 users, disorder, late and malformed records)"
build/bin/weir-gen --seed 42 --events 100000 --products 12 --users 3000 --rate 1000 \
    --disorder-ms 8000 --late 0.002 --late-max-ms 40000 --bad 0.002 --mixed >"$tmp/events.jsonl"
head -n 2 "$tmp/events.jsonl" | sed 's/^/   /'
echo "== build/bin/unique-users --input events.jsonl --window 60s --out-of-orderness 10s --allowed-lateness 30s --format table"
build/bin/unique-users --input "$tmp/events.jsonl" --window 60s --out-of-orderness 10s \
    --allowed-lateness 30s --format table 2>"$tmp/summary.json"
echo "== run summary"
cat "$tmp/summary.json"
