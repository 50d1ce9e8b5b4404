# The operator in hll mode over generated streams: every window's estimate is within
# three standard errors of the exact count of the same run, keyed and global, at two
# precisions, with windows large enough that the sketches turn dense.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$WEIR_REL_BIN/weir-gen" --seed 11 --events 600000 --products 40 --zipf 1.1 --users 1000000 \
    --rate 5000 --disorder-ms 5000 --late 0.01 >"$tmp/in.jsonl"

compare() { # precision, need-dense (1: some window must exceed 10 x 2^p), extra flags...
    local p=$1 need=$2
    shift 2
    "$WEIR_BIN/unique-users" --input "$tmp/in.jsonl" --output "$tmp/exact.jsonl" "$@" 2>/dev/null
    "$WEIR_BIN/unique-users" --input "$tmp/in.jsonl" --output "$tmp/hll.jsonl" --distinct hll \
        --hll-precision "$p" "$@" 2>/dev/null
    /usr/bin/python3 - "$tmp/exact.jsonl" "$tmp/hll.jsonl" "$p" "$need" "$*" <<'PY'
import json, math, sys
exact = [json.loads(l) for l in open(sys.argv[1])]
hll = [json.loads(l) for l in open(sys.argv[2])]
p, need, flags = int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
se = 1.04 / math.sqrt(2 ** p)
assert len(exact) == len(hll) and len(exact) >= 2, (len(exact), len(hll))
worst, big = 0.0, 0
for e, h in zip(exact, hll):
    assert (e.get("product_id"), e["window_start"], e["event_count"]) == \
        (h.get("product_id"), h["window_start"], h["event_count"]), (e, h)
    n, est = e["unique_user_count"], h["unique_user_count"]
    err = abs(est - n) / n
    worst = max(worst, err / se)
    big += n > 10 * 2 ** p
    if err > 3 * se:
        sys.exit(f"FAIL p={p} {flags}: {e.get('product_id')} {e['window_start']}: exact {n}, "
                 f"hll {est}, error {err:.4f} > 3 x {se:.4f}")
assert big > 0 or not need, f"p={p} {flags}: no window above 10 x 2^p"
print(f"ok p={p} {flags}: {len(exact)} windows, worst error {worst:.2f} standard errors, "
      f"{big} above 10 x 2^p")
PY
}
compare 10 1
compare 14 0
compare 14 1 --global
