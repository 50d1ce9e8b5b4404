# examples/revenue_per_product.conf: revenue per product per minute without cancelled orders,
# over hand-made order events whose results are worked out below, including a cancelled order
# that is filtered yet moves the watermark so that a later order of a closed minute is late.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/orders.jsonl" <<'EOF'
{"order_id":"o1","user_id":"u1","product_id":"42","quantity":1,"total_price":19.99,"status":"paid","timestamp":"2024-01-01T12:00:05Z"}
{"order_id":"o2","user_id":"u2","product_id":"42","quantity":2,"total_price":39.98,"status":"cancelled","timestamp":"2024-01-01T12:00:10Z"}
{"order_id":"o3","user_id":"u2","product_id":"42","quantity":3,"total_price":59.97,"status":"shipped","timestamp":"2024-01-01T12:00:30Z"}
{"order_id":"o4","user_id":"u3","product_id":"7","quantity":1,"total_price":5,"status":"paid","timestamp":"2024-01-01T12:00:45Z"}
{"order_id":"o5","user_id":"u1","product_id":"42","quantity":1,"total_price":19.99,"status":"paid","timestamp":"2024-01-01T12:01:02Z"}
{"order_id":"o6","user_id":"u4","product_id":"7","quantity":4,"total_price":20,"status":"paid","timestamp":"2024-01-01T12:00:58Z"}
{"order_id":"o7","user_id":"u5","product_id":"7","quantity":1,"total_price":5,"status":"cancelled","timestamp":"2024-01-01T12:01:30Z"}
{"order_id":"o8","user_id":"u1","product_id":"42","quantity":2,"total_price":39.98,"status":"paid","timestamp":"2024-01-01T12:00:20Z"}
EOF
# 42 in 12:00: o1 + o3 (o2 cancelled; o8 arrives after o7 moved the watermark to 12:01:19.999).
# 7 in 12:00: o4 + o6, integer prices stay integers. 42 in 12:01: o5.
cat >"$tmp/expected" <<'EOF'
{"product_id":"42","window_start":"2024-01-01T12:00:00.000Z","window_end":"2024-01-01T12:01:00.000Z","revenue":79.96,"orders":2,"units":4,"buyers":2}
{"product_id":"7","window_start":"2024-01-01T12:00:00.000Z","window_end":"2024-01-01T12:01:00.000Z","revenue":25,"orders":2,"units":5,"buyers":2}
{"product_id":"42","window_start":"2024-01-01T12:01:00.000Z","window_end":"2024-01-01T12:02:00.000Z","revenue":19.99,"orders":1,"units":1,"buyers":1}
EOF
"$WEIR_BIN/weir-window" --config "$WEIR_ROOT/examples/revenue_per_product.conf" \
    --input "$tmp/orders.jsonl" --output "$tmp/out" --late-output "$tmp/late" 2>"$tmp/summary"
diff "$tmp/expected" "$tmp/out"
grep -q '"order_id":"o8"' "$tmp/late"
grep -q '"filtered":2,' "$tmp/summary"
grep -q '"late_dropped":1,' "$tmp/summary"
echo "ok: $(wc -l <"$tmp/out") firings as worked out"
