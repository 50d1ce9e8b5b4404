# The window operator matches a brute-force reference model record by record, over a
# million generated events with disorder, late records, mixed encodings and malformed
# lines, for several settings of window size, out-of-orderness, lateness and emit mode.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
events=${WEIR_REF_EVENTS:-1000000}
"$WEIR_REL_BIN/weir-gen" --seed 7 --events "$events" --products 300 --users 20000 --rate 1000 \
    --disorder-ms 8000 --late 0.03 --late-max-ms 150000 --bad 0.01 --mixed >"$tmp/in.jsonl"

to_tuples() { # job output JSON lines -> the reference's tuple lines
    /usr/bin/python3 -c '
import json, sys, calendar, datetime
def ms(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(d.timetuple()) * 1000 + d.microsecond // 1000
key = sys.argv[1]
for line in sys.stdin:
    o = json.loads(line)
    print(json.dumps([o.get(key, ""), ms(o["window_start"]), ms(o["window_end"]),
                      o["unique_user_count"], o["event_count"], o.get("late", False)]))
' "$1"
}

check() { # name, reference args..., -- job args...
    local name=$1 W=$2 ooo=$3 L=$4 emit=$5 global=$6
    shift 6
    local gflag=()
    [[ $global == 1 ]] && gflag=(--global)
    /usr/bin/python3 "$WEIR_ROOT/test/it/reference_model.py" "$tmp/in.jsonl" product_id auto \
        "$global" "$W" "$ooo" "$L" "$emit" >"$tmp/ref.out"
    "$WEIR_BIN/unique-users" --input "$tmp/in.jsonl" --output "$tmp/job.jsonl" \
        --window "${W}ms" --out-of-orderness "${ooo}ms" --allowed-lateness "${L}ms" \
        --emit "$emit" "${gflag[@]}" 2>"$tmp/summary.json"
    to_tuples product_id <"$tmp/job.jsonl" >"$tmp/job.out"
    head -n -1 "$tmp/ref.out" >"$tmp/ref.firings"
    if ! cmp -s "$tmp/ref.firings" "$tmp/job.out"; then
        echo "FAIL $name: firings differ from the reference model (first difference):"
        diff "$tmp/ref.firings" "$tmp/job.out" | head -n 10
        exit 1
    fi
    /usr/bin/python3 - "$tmp/ref.out" "$tmp/summary.json" "$name" <<'PY'
import json, sys
ref = json.loads(open(sys.argv[1]).read().splitlines()[-1])
job = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
for k in ("valid", "invalid", "late_dropped", "emissions"):
    if ref[k] != job[k]:
        sys.exit(f"FAIL {sys.argv[3]}: {k}: reference {ref[k]}, job {job[k]}")
if ref["emissions"] == 0 or ref["invalid"] == 0 or ref["late_dropped"] == 0:
    sys.exit(f"FAIL {sys.argv[3]}: the data does not exercise firings, invalid and late records")
print(f"ok {sys.argv[3]}: {ref['emissions']} firings, {ref['valid']} valid, "
      f"{ref['invalid']} invalid, {ref['late_dropped']} late dropped")
PY
}

check "W=60s ooo=10s L=0 updates" 60000 10000 0 updates 0
check "W=60s ooo=10s L=30s updates" 60000 10000 30000 updates 0
check "W=60s ooo=10s L=30s final" 60000 10000 30000 final 0
check "W=10s ooo=3s L=45s updates" 10000 3000 45000 updates 0
check "W=25s ooo=0 L=0 final" 25000 0 0 final 0
check "global W=30s ooo=5s L=20s updates" 30000 5000 20000 updates 1
