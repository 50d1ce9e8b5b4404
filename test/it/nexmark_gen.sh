#!/usr/bin/env bash
# weir-nexmark gen: every line is a JSON object of its type's fields and types, --events is
# exact, a seed gives the same bytes to a file and to standard output, disorder stays within
# --disorder-ms, bad flags exit 2 with one line naming the flag; and the Kafka path (the dev
# broker) gets every event, keyed by auction for bids, read back with kcat.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
G=$bin/weir-nexmark
[[ -x $G ]] || die "$G not built (make)"

# The schema of docs/NEXMARK.md, and the model's checkable rules, on a file of lines.
check_lines() { # FILE EVENTS DISORDER_MS
    $py - "$@" <<'PY'
import json, sys
path, events, disorder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
FIELDS = {
    "person": [("id", int), ("name", str), ("email_address", str), ("credit_card", str),
               ("city", str), ("state", str), ("date_time", int), ("extra", str)],
    "auction": [("id", int), ("item_name", str), ("description", str), ("initial_bid", int),
                ("reserve", int), ("date_time", int), ("expires", int), ("seller", int),
                ("category", int), ("extra", str)],
    "bid": [("auction", int), ("bidder", int), ("price", int), ("channel", str), ("url", str),
            ("date_time", int), ("extra", str)],
}
counts = {t: 0 for t in FIELDS}
n = 0
newest = None
late = 0
with open(path, "rb") as f:
    for raw in f:
        n += 1
        assert raw.endswith(b"\n"), f"line {n}: no newline"
        rec = json.loads(raw)
        assert isinstance(rec, dict), f"line {n}: not an object"
        t = rec.get("type")
        assert t in FIELDS, f"line {n}: type {t!r}"
        want = [("type", str)] + FIELDS[t]
        assert list(rec) == [k for k, _ in want], f"line {n}: fields {list(rec)}"
        for k, typ in want:
            v = rec[k]
            assert type(v) is typ, f"line {n}: {k} is {type(v).__name__}"
        counts[t] += 1
        dt = rec["date_time"]
        if newest is not None and dt < newest:
            late += 1
            assert newest - dt <= disorder, f"line {n}: {newest - dt} ms late > {disorder}"
        newest = dt if newest is None else max(newest, dt)
        if t == "bid":
            assert 100 <= rec["price"] <= 100_000_000
            assert rec["url"].startswith("https://www.nexmark.com/")
        if t == "auction":
            assert rec["reserve"] > rec["initial_bid"] and rec["expires"] > dt
            assert 10 <= rec["category"] <= 14
assert n == events, f"{n} lines, not {events}"
full = events // 50
assert counts["person"] >= full and counts["auction"] >= 3 * full and counts["bid"] >= 46 * full
if events % 50 == 0:
    assert counts == {"person": full, "auction": 3 * full, "bid": 46 * full}, counts
if disorder == 0:
    assert late == 0
elif events >= 10000:
    assert 0.05 * events < late < 0.15 * events, f"{late} late lines of {events}"
print(f"{path}: {n} lines, {counts}, {late} out of order")
PY
}

"$G" gen --events 20000 --seed 7 --output "$work/a.jsonl" 2>"$work/a.log" ||
    die "gen failed: $(cat "$work/a.log")"
grep -q '"events":20000' "$work/a.log" || die "no summary: $(cat "$work/a.log")"
check_lines "$work/a.jsonl" 20000 0 || die "the lines of seed 7 do not follow the schema"

# The same seed: the same bytes, to standard output too; another seed: other bytes.
"$G" gen --events 20000 --seed 7 2>/dev/null >"$work/b.jsonl"
cmp -s "$work/a.jsonl" "$work/b.jsonl" || die "seed 7 twice gave different bytes"
"$G" gen --events 20000 --seed 7 --output - 2>/dev/null >"$work/b.jsonl"
cmp -s "$work/a.jsonl" "$work/b.jsonl" || die "--output - differs from the file"
"$G" gen --events 20000 --seed 8 --output "$work/c.jsonl" 2>/dev/null
cmp -s "$work/a.jsonl" "$work/c.jsonl" && die "seeds 7 and 8 gave the same bytes"

# Odd counts, none, another rate.
for n in 0 1 49 51 12345; do
    "$G" gen --events "$n" --seed 3 --rate 1000 --output "$work/n.jsonl" 2>/dev/null
    check_lines "$work/n.jsonl" "$n" 0 >/dev/null || die "--events $n"
done
first=$(head -n 1 "$work/n.jsonl" | $py -c 'import json,sys; print(json.load(sys.stdin)["date_time"])')
last=$(tail -n 1 "$work/n.jsonl" | $py -c 'import json,sys; print(json.load(sys.stdin)["date_time"])')
((last - first == 12344)) || die "at 1000 events/s, 12345 events span $((last - first)) ms"

# Disorder: the same lines, some later, none more than D ms behind the newest before them.
"$G" gen --events 20000 --seed 7 --disorder-ms 2500 --output "$work/d.jsonl" 2>/dev/null
check_lines "$work/d.jsonl" 20000 2500 || die "disorder out of bounds"
cmp -s <(sort "$work/a.jsonl") <(sort "$work/d.jsonl") || die "disorder changed the events"

# Bad flags: exit 2, one line naming the flag.
bad_flag() { # PATTERN ARGS...
    local pat=$1 rc=0
    shift
    "$G" "$@" >"$work/out" 2>"$work/err" || rc=$?
    ((rc == 2)) || die "weir-nexmark $* exited $rc, not 2"
    [[ $(wc -l <"$work/err") == 1 ]] || die "weir-nexmark $*: not one line: $(cat "$work/err")"
    grep -q -- "$pat" "$work/err" || die "weir-nexmark $*: no \"$pat\" in: $(cat "$work/err")"
    [[ ! -s $work/out ]] || die "weir-nexmark $* wrote output"
}
bad_flag "--rate" gen --events 10 --seed 1 --rate 0
bad_flag "--rate" gen --events 10 --seed 1 --rate fast
bad_flag "--events" gen --events -1 --seed 1
bad_flag "--events" gen --seed 1
bad_flag "--seed" gen --events 10
bad_flag "--seed" gen --events 10 --seed 1x
bad_flag "--disorder-ms" gen --events 10 --seed 1 --disorder-ms 1s
bad_flag "--frobnicate" gen --events 10 --seed 1 --frobnicate
bad_flag "--topic" gen --events 10 --seed 1 --brokers 127.0.0.1:9
bad_flag "--brokers" gen --events 10 --seed 1 --topic t
bad_flag "unknown command" q99
"$G" --help | grep -q '^  gen' || die "--help does not list gen"
"$G" gen --help | grep -q -- '--disorder-ms' || die "gen --help does not list --disorder-ms"

# Kafka: every event once, bids keyed by auction, auctions and people by id, timestamped
# with date_time.
start_broker --topic nexmark:4
"$G" gen --events 5000 --seed 5 --disorder-ms 500 --brokers "$brokers" --topic nexmark \
    2>"$work/k.log" || die "gen to Kafka failed: $(tail -n 5 "$work/k.log")"
"$G" gen --events 5000 --seed 5 --disorder-ms 500 --output "$work/k.jsonl" 2>/dev/null
kcat_read nexmark "$work/k.read"
$py - "$work/k.read" "$work/k.jsonl" <<'PY' || die "the topic does not hold the file's events"
import json, sys
got = [l.rstrip("\n").split("\t", 3) for l in open(sys.argv[1])]
want = open(sys.argv[2]).read().splitlines()
assert sorted(v for _, _, _, v in got) == sorted(want), f"{len(got)} messages, {len(want)} lines"
parts = {}
for p, k, ts, v in got:
    r = json.loads(v)
    key = {"bid": r.get("auction"), "auction": r.get("id"), "person": r.get("id")}[r["type"]]
    assert k == str(key), f"key {k} for {v[:80]}"
    assert int(ts) == r["date_time"], f"timestamp {ts} for {v[:80]}"
    parts.setdefault(k, set()).add(p)
assert all(len(s) == 1 for s in parts.values()), "a key on two partitions"
assert len({p for p, _, _, _ in got}) == 4, "not every partition used"
# Per partition, the order of the file (the producer keeps each partition's order).
for part in {p for p, _, _, _ in got}:
    mine = [v for p, _, _, v in got if p == part]
    pos = {l: i for i, l in enumerate(want)}
    idx = [pos[v] for v in mine]
    assert idx == sorted(idx), f"partition {part} out of the file's order"
print(f"kafka: {len(got)} messages on {len(parts)} keys")
PY
# A broker that never answers: the messages time out, exit 1, no summary.
rc=0
"$G" gen --events 100 --seed 1 --brokers 127.0.0.1:1 --topic t \
    -X kafka.message.timeout.ms=1500 2>"$work/down.log" || rc=$?
((rc == 1)) || die "with no broker, gen exited $rc, not 1"
grep -q 'messages failed' "$work/down.log" || die "no failure reported: $(cat "$work/down.log")"
grep -q '"mode":"nexmark-gen"' "$work/down.log" && die "a summary despite failed deliveries"
echo "PASS nexmark_gen"
