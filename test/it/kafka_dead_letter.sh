#!/usr/bin/env bash
# Bad messages in the raw topic: counted by reason exactly as the file job counts them, produced
# unchanged (byte for byte, whatever the bytes) to --dead-letter-topic, and never a reason to
# stop; the valid ones give the file job's results. Without a dead-letter topic they are only
# counted.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
start_broker --topic raw:1 --topic results:2 --topic dlq:1

# Generated events with malformed ones mixed in (kcat), then hand-made bad records with odd
# bytes (kafka-python sends each line's exact bytes).
"$rel/weir-gen" --seed 33 --events 8000 --products 20 --users 900 --rate 100 --bad 0.04 \
    >"$work/gen.jsonl"
$py - "$work/odd.jsonl" <<'PY'
import sys
recs = [b'\xff\xfe\x00binary', b'{"user_id":"u1","product_id":"7","timestamp":"yesterday"}',
        b'null', b'[1,2,3]', b'{"user_id":"u1","product_id":"7","timestamp":"2024-01-01T00:00:0',
        b'{"user_id":"\xc3\x28","product_id":"7","timestamp":"2024-01-01T00:00:01Z"}',
        b'\t \x01\x02', b'', b'{"product_id":{"nested":1},"user_id":"u2","timestamp":1704067201}']
open(sys.argv[1], "wb").write(b"\n".join(recs) + b"\n")
PY
kcat -q -b "$brokers" -t raw -p 0 -P -l "$work/gen.jsonl" || die "kcat produce failed"
$py "$util" produce --brokers "$brokers" --topic raw --partition 0 "$work/odd.jsonl"
# The file job's input is what the topic holds (kcat skips empty lines; kafka-python sent one
# empty message).
$py "$util" consume --brokers "$brokers" --topic raw --out "$work/raw.consumed"
$py "$util" split "$work/raw.consumed" --partitions 1 --prefix "$work/all"
mv "$work/all0.jsonl" "$work/all.jsonl"

run_job "$work/job.log" --input-topic raw --output-topic results --group-id dl \
    --dead-letter-topic dlq --stop-when-idle 1s --drain
cat "$work/job.log"
file_job "$work/expect.jsonl" "$work/all.jsonl" --dead-letter "$work/expect.dead"

# Counters: the same as the file job's, by reason.
$py - "$work/job.log" "$work/expect.jsonl.summary" <<'PY' || die "counters differ from the file job's"
import json, sys
k = [json.loads(l) for l in open(sys.argv[1]) if '"mode":"kafka"' in l][-1]
f = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")][-1]
for key in ("records", "valid", "invalid", "invalid_by", "late_dropped", "emissions"):
    if k[key] != f[key]:
        sys.exit(f"{key}: kafka {k[key]} file {f[key]}")
if k["invalid"] < 300 or k["kafka"]["dead_letters"] != k["invalid"]:
    sys.exit(f"expected every invalid record in the dead-letter topic: {k}")
print("counters equal:", k["invalid"], "invalid", k["invalid_by"])
PY

$py "$util" consume --brokers "$brokers" --topic dlq --out "$work/dlq.consumed"
$py "$util" check-values "$work/dlq.consumed" "$work/expect.dead" ||
    die "the dead-letter topic does not hold the invalid records unchanged"
grep -c . "$work/expect.dead" >/dev/null || die "no dead letters expected"
$py "$util" consume --brokers "$brokers" --topic results --out "$work/results.consumed"
$py "$util" check-results "$work/results.consumed" "$work/expect.jsonl" --key-field product_id ||
    die "results differ from the file job's"

# Without a dead-letter topic: counted, nothing produced anywhere else.
run_job "$work/nodl.log" --input-topic raw --output-topic '' --group-id nodl --stop-when-idle 1s
[[ $(summary_field "$work/nodl.log" invalid) == $(summary_field "$work/job.log" invalid) ]] ||
    die "invalid count differs without a dead-letter topic"
[[ $(summary_field "$work/nodl.log" kafka.dead_letters) == 0 ]] || die "dead letters produced"
$py "$util" consume --brokers "$brokers" --topic dlq --out "$work/dlq2.consumed"
cmp -s "$work/dlq.consumed" "$work/dlq2.consumed" || die "the dead-letter topic changed"
echo "PASS kafka_dead_letter: $(summary_field "$work/job.log" invalid) dead letters"
