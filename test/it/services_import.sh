# product-import through the gateway: a CSV with a BOM, CRLF and LF, quoted commas, doubled
# quotes, newlines in quotes, non-ASCII text, empty lines, bad prices and stocks and a
# truncated last row; good rows imported verbatim, bad rows reported by the line they start
# on, the JSON summary, exit 1; exit 0 on a clean file, 2 on bad usage or an unreadable file;
# --watch moves each file to done/ or failed/ and, with --metrics-port, serves /metrics (files
# and rows by outcome, promtool-clean), /healthz, and /readyz (503 while its inbox cannot be
# read). Everything under ASan.
set -euo pipefail
source "$(dirname "$0")/services_lib.bash"
[[ -x $bin/api-gateway && -x $bin/product-import ]] || die "api-gateway/product-import not built"
unset PRODUCT_API_URL
db=$work/shop.db
start_service products product-service --db "$db"
start_service gw api-gateway --products "http://$products" --timeout-ms 5000
imp=$bin/product-import

printf '\xef\xbb\xbfname,description,price,category,stock_quantity\r\n' >"$work/messy.csv"
cat >>"$work/messy.csv" <<'CSV'
"Mug, large","A ""big"" mug",12.50,kitchen,10

"Lamp","two
lines",30,home,5
Bad price,desc,abc,x,1
Negative,desc,-1,x,1

Café ☕,ünïcode "quoted",3.2,food,
Bad stock,desc,1,x,1.5
Short,row,1
'; DROP TABLE products; --,"x",0,sql,0
"Truncated","never ends,5,x
CSV
rc=0
"$imp" "$work/messy.csv" --gateway "http://$gw" --concurrency 3 >"$work/sum.json" \
    2>"$work/fail.txt" || rc=$?
((rc == 1)) || die "exit $rc for a file with bad rows, expected 1"
$py - "$work/sum.json" "$work/fail.txt" "http://$gw" <<'PY'
import json, sys, urllib.request
s = json.load(open(sys.argv[1]))
fails = {f["line"]: f["reason"] for f in s["failures"]}
assert s["rows"] == 9 and s["imported"] == 4 and s["failed"] == 5, s
want = {6: "bad price", 7: "bad price", 10: "bad stock_quantity", 11: "expected 5 fields",
        13: "unterminated quoted field"}
assert sorted(fails) == sorted(want), s
for line, start in want.items():
    assert fails[line].startswith(start), (line, fails[line])
text = open(sys.argv[2]).read()
for line in want:
    assert f"messy.csv:{line}: " in text, text
with urllib.request.urlopen(sys.argv[3] + "/products?limit=100") as r:
    got = {p["name"]: p for p in json.load(r)["products"]}
assert set(got) == {"Mug, large", "Lamp", "Café ☕", "'; DROP TABLE products; --"}, got
assert got["Mug, large"]["description"] == 'A "big" mug' and got["Mug, large"]["price"] == 12.5
assert got["Lamp"]["description"] == "two\nlines" and got["Lamp"]["stock_quantity"] == 5
assert got["Café ☕"]["description"] == 'ünïcode "quoted"'
assert got["Café ☕"]["stock_quantity"] == 0
print("messy.csv: 4 rows imported, 5 reported by line:", sorted(fails))
PY

# A clean file: exit 0; no rows but a header: exit 0; bad usage and unreadable files: 2.
printf 'name,price\nPlain,1\n' >"$work/ok.csv"
"$imp" "$work/ok.csv" --gateway "http://$gw" >/dev/null 2>&1 || die "a clean file did not exit 0"
PRODUCT_API_URL=http://$gw "$imp" "$work/ok.csv" >/dev/null 2>&1 || die "PRODUCT_API_URL ignored"
for args in "" "$work/ok.csv" "$work/none.csv --gateway http://$gw" \
    "$work/ok.csv --gateway ftp://x" "$work/ok.csv --gateway http://$gw --concurrency 0" \
    "$work/ok.csv --gateway http://$gw --bogus" "$work/ok.csv $work/ok.csv --gateway http://$gw"; do
    rc=0
    # shellcheck disable=SC2086
    "$imp" $args >/dev/null 2>&1 || rc=$?
    ((rc == 2)) || die "product-import $args: exit $rc, expected 2"
done
printf 'title,cost\nx,1\n' >"$work/nohdr.csv"
rc=0
"$imp" "$work/nohdr.csv" --gateway "http://$gw" >/dev/null 2>&1 || rc=$?
((rc == 2)) || die "a file without the columns: exit $rc, expected 2"
# The gateway down: every row fails with 503, exit 1.
rc=0
"$imp" "$work/ok.csv" --gateway "http://127.0.0.1:1" >"$work/down.json" 2>/dev/null || rc=$?
((rc == 1)) && grep -q 'HTTP 503' "$work/down.json" || die "gateway down: exit $rc"

# --metrics-port: only with --watch, a port, and --check-config names the address.
for args in "$work/ok.csv --metrics-port 9464" "--watch $work --metrics-port 70000" \
    "--watch $work --metrics-port 9464 --metrics-host localhost"; do
    rc=0
    # shellcheck disable=SC2086
    "$imp" $args --gateway "http://$gw" --check-config 2>"$work/m.err" || rc=$?
    ((rc == 2)) && [[ $(wc -l <"$work/m.err") == 1 ]] && grep -q -- --metrics- "$work/m.err" ||
        die "product-import $args: exit $rc: $(cat "$work/m.err")"
done
"$imp" --watch "$work" --gateway "http://$gw" --metrics-port 9464 --metrics-host 0.0.0.0 \
    --log-format json --check-config 2>"$work/m.err" || die "--check-config with --metrics-port"
grep -q '"listen":"0.0.0.0:9464"' "$work/m.err" || die "--check-config names no address: $(cat "$work/m.err")"

# --watch: a good and a bad file appear; they end in done/ and failed/.
mkdir "$work/in"
mport=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$imp" --watch "$work/in" --gateway "http://$gw" --metrics-port "$mport" >"$work/watch.out" \
    2>"$work/watch.log" &
wpid=$!
pids+=("$wpid")
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$mport/healthz" && break
    sleep 0.1
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/readyz") == 200 ]] ||
    die "--watch: /readyz is not 200"
cp "$work/ok.csv" "$work/in/good.csv"
cp "$work/messy.csv" "$work/in/bad.csv"
touch -d '-5 seconds' "$work/in/good.csv" "$work/in/bad.csv"
for _ in $(seq 200); do
    [[ -f $work/in/done/good.csv && -f $work/in/failed/bad.csv ]] && break
    sleep 0.1
done
[[ -f $work/in/done/good.csv ]] || die "--watch: good.csv not in done/"
[[ -f $work/in/failed/bad.csv ]] || die "--watch: bad.csv not in failed/"
[[ $(wc -l <"$work/watch.out") == 2 ]] || die "--watch: expected two summaries"
curl -sf -o "$work/metrics.txt" "http://127.0.0.1:$mport/metrics" || die "--watch: no /metrics"
for want in 'weir_import_files_total{outcome="done"} 1' 'weir_import_files_total{outcome="failed"} 1' \
    'weir_import_rows_total{outcome="imported"} 5' 'weir_import_rows_total{outcome="failed"} 5'; do
    grep -qxF "$want" "$work/metrics.txt" || die "--watch: no \"$want\" in: $(grep import "$work/metrics.txt")"
done
if command -v promtool >/dev/null; then
    promtool check metrics <"$work/metrics.txt" >"$work/promtool.out" 2>&1 && [[ ! -s $work/promtool.out ]] ||
        die "--watch: promtool check metrics: $(cat "$work/promtool.out")"
fi
# The inbox gone: not ready, with the reason; back: ready again.
mv "$work/in" "$work/in.away"
code=
for _ in $(seq 50); do
    code=$(curl -s -o "$work/readyz.txt" -w '%{http_code}' "http://127.0.0.1:$mport/readyz" || true)
    [[ $code == 503 ]] && break
    sleep 0.1
done
[[ $code == 503 ]] && grep -q "cannot be read" "$work/readyz.txt" || die "--watch: inbox gone, /readyz $code"
mv "$work/in.away" "$work/in"
for _ in $(seq 50); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/readyz" || true)
    [[ $code == 200 ]] && break
    sleep 0.1
done
[[ $code == 200 ]] || die "--watch: inbox back, /readyz $code"
echo "ok: --watch serves /metrics (files and rows by outcome), /healthz and /readyz"
stop_service "$wpid" product-import
stop_service "$gw_pid" api-gateway
stop_service "$products_pid" product-service
echo "ok"
