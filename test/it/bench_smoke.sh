#!/usr/bin/env bash
# The benchmark harness works: every weir-bench scenario runs briefly (small N, one run) and
# its last line is one JSON object with the required fields. Asserts nothing about time.
set -uo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bench=${WEIR_REL_BIN:-$root/build/bin}/weir-bench
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
die() { echo "FAIL: $*" >&2; exit 1; }

[[ -x $bench ]] || die "$bench not built (make all builds it from bench/*.c)"
export WEIR_ROOT=$root WEIR_BENCH_DATA_DIR=$work

# Usage errors are errors.
"$bench" --scenario no-such-scenario >/dev/null 2>&1 && die "an unknown scenario was accepted"
"$bench" --scenario scan --events 0 >/dev/null 2>&1 && die "--events 0 was accepted"
"$bench" --scenario scan --runs 0 >/dev/null 2>&1 && die "--runs 0 was accepted"

mapfile -t scenarios < <("$bench" --list | awk '{print $1}')
for s in scan decode decode-cjson decode-jansson operator-exact operator-hll operator-exact-steady \
    file-exact file-hll hll-add hll-vs-redis state-memory kafka-e2e dynamodb-sink; do
    printf '%s\n' "${scenarios[@]}" | grep -qx -- "$s" || die "--list lacks $s"
done

failed=0
for s in "${scenarios[@]}"; do
    n=20000
    [[ $s == dynamodb-sink ]] && n=500
    start=$SECONDS
    if ! timeout -k 5 120 "$bench" --scenario "$s" --events "$n" --runs 1 >"$work/$s.out" \
        2>"$work/$s.err"; then
        echo "FAIL: $s exited non-zero:" >&2
        tail -n 5 "$work/$s.out" "$work/$s.err" >&2
        failed=1
        continue
    fi
    # The last line alone is the result; readable lines come before it.
    if ! $py - "$s" "$n" "$work/$s.out" <<'EOF'; then
import json, sys
name, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(path).read().splitlines()
assert len(lines) >= 2, "no readable lines before the result"
for l in lines[:-1]:
    assert not l.startswith("{"), "a JSON line before the last: " + l
r = json.loads(lines[-1])
assert isinstance(r, dict), "the last line is not an object"
assert r["scenario"] == name, r["scenario"]
assert "failed" not in r, r.get("failed")
if r.get("skipped"):
    print(f"note: {name} skipped: {r['skipped']}")
    sys.exit(0)
for k in ("events", "runs", "events_per_sec_median", "events_per_sec_min",
          "events_per_sec_max", "peak_rss_bytes"):
    assert isinstance(r.get(k), (int, float)), f"{k} missing or not a number: {r.get(k)!r}"
assert r["runs"] >= 1
assert r["events"] >= 1
assert 0 < r["events_per_sec_min"] <= r["events_per_sec_median"] <= r["events_per_sec_max"]
assert r["peak_rss_bytes"] > 0
if name in ("operator-exact", "operator-hll", "operator-exact-steady", "state-memory"):
    assert r.get("state_bytes", 0) > 0, "state_bytes missing"
if name == "operator-exact-steady":
    assert r["cold_events_per_sec_median"] > 0 and r["steady_over_cold"] > 0
if name == "state-memory":
    modes = {p["mode"] for p in r["points"]}
    assert modes == {"exact", "hll"}, modes
    assert all(p["state_bytes"] > 0 for p in r["points"])
if "vs_scan" in r:
    assert r["vs_scan"] > 0 and r["scan_events_per_sec_median"] > 0
if "weir_over_peer" in r:
    assert r["weir_over_peer"] > 0
if name.startswith("decode-"):
    assert r["same_fields_as_weir"] is True
if name not in ("state-memory", "dynamodb-sink", "hll-add"):
    assert r["events"] == n, f"events {r['events']} != {n}"
EOF
        echo "FAIL: $s: bad result line: $(tail -n 1 "$work/$s.out")" >&2
        failed=1
        continue
    fi
    echo "ok   $s ($((SECONDS - start)) s)"
done
((failed == 0)) || die "some scenarios failed"
echo "bench smoke: ${#scenarios[@]} scenarios ran and printed a valid result line"
