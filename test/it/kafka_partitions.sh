#!/usr/bin/env bash
# Per-partition windows on a topic keyed by product: each partition has its own watermark, so
# however the partitions interleave no record is late, and a partition that goes silent holds
# back no other partition's windows. Against that, one pipeline over all partitions
# (input.keyed=false) fires only what the slowest partition's watermark allows.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
start_broker --topic raw:4 --topic keyed:4 --topic drained:4 --topic global:4

# Five minutes of events, split by product over 4 partitions; partition 3 stops after the
# first minute (its products go silent).
"$rel/weir-gen" --seed 5 --events 24000 --products 40 --users 2000 --rate 80 \
    --disorder-ms 4000 >"$work/events.jsonl"
$py "$util" split-by-key "$work/events.jsonl" --partitions 4 --prefix "$work/p"
$py - "$work/p3.jsonl" <<'PY'
import json, sys
recs = [l for l in open(sys.argv[1]) if json.loads(l)["timestamp"] < "2024-01-01T00:01:00"]
open(sys.argv[1], "w").writelines(recs)
PY
for p in 0 1 2; do
    head -n 3000 "$work/p$p.jsonl" >"$work/p$p.first"
    tail -n +3001 "$work/p$p.jsonl" >"$work/p$p.second"
done

# Phase 1 with kcat (partitions 0, 1) and kafka-python (2, 3); the job starts; phase 2
# arrives while it runs, in another partition order.
produce_part() { # partition file
    if (($1 < 2)); then
        kcat -q -b "$brokers" -t raw -p "$1" -P -l "$2" || die "kcat produce failed"
    else
        $py "$util" produce --brokers "$brokers" --topic raw --partition "$1" "$2" >/dev/null
    fi
}
produce_part 3 "$work/p3.jsonl"
for p in 0 1 2; do produce_part "$p" "$work/p$p.first"; done
# (8 s of idleness before it stops: phase 2 must come first, also when Python starts slowly.)
run_job "$work/keyed.log" --input-topic raw --output-topic keyed --group-id keyed \
    --idle-timeout 500ms --stop-when-idle 8s &
job=$!
sleep 1
for p in 2 0 1; do produce_part "$p" "$work/p$p.second"; done
wait "$job" || die "the keyed job failed"
cat "$work/keyed.log"

for p in 0 1 2 3; do file_job "$work/expect$p.jsonl" "$work/p$p.jsonl"; done
[[ $(summary_field "$work/keyed.log" late_dropped) == 0 ]] || die "records were late"
total=$(cat "$work"/p?.jsonl | wc -l)
[[ $(summary_field "$work/keyed.log" records) == "$total" ]] || die "not every record was read"

# 1. Without --drain the open windows stay open: each partition fired exactly what its own
#    watermark passed, partition 3's silence notwithstanding.
for p in 0 1 2 3; do
    $py "$util" fired --expected "$work/expect$p.jsonl" --events "$work/p$p.jsonl" \
        --out "$work/fired$p.jsonl" >/dev/null
done
$py "$util" consume --brokers "$brokers" --topic keyed --out "$work/keyed.consumed"
$py "$util" check-results "$work/keyed.consumed" "$work"/fired?.jsonl --key-field product_id ||
    die "keyed results are not each partition's own fired windows"
last3=$($py "$util" windows "$work/keyed.consumed" | tail -n 1)
[[ $last3 > "2024-01-01T00:03:00" ]] || die "partitions 0-2 were held back: last window $last3"

# 2. With --drain the last windows fire too: every partition equals its file run.
run_job "$work/drained.log" --input-topic raw --output-topic drained --group-id drained \
    --stop-when-idle 1s --drain
[[ $(summary_field "$work/drained.log" late_dropped) == 0 ]] || die "records were late (drain)"
$py "$util" consume --brokers "$brokers" --topic drained --out "$work/drained.consumed"
$py "$util" check-results "$work/drained.consumed" "$work"/expect?.jsonl --key-field product_id ||
    die "drained results differ from the file runs"

# 3. One pipeline over all partitions: the minimum watermark, held by partition 3, lets only
#    the first windows fire (no idle timeout), and those equal the file runs' windows.
run_job "$work/global.log" --input-topic raw --output-topic global --group-id global \
    -X input.keyed=false --stop-when-idle 1s
cat "$work/global.log"
[[ $(summary_field "$work/global.log" partitions) == 4 ]] || die "global: not 4 partitions"
$py "$util" fired --expected "$work"/expect?.jsonl --events "$work"/p?.jsonl \
    --out "$work/global.fired" >/dev/null
$py "$util" consume --brokers "$brokers" --topic global --out "$work/global.consumed"
$py "$util" check-results "$work/global.consumed" "$work/global.fired" --key-field product_id ||
    die "global results are not the windows below the minimum watermark"
nk=$(wc -l <"$work/keyed.consumed")
ng=$(wc -l <"$work/global.consumed")
((ng < nk)) || die "the silent partition did not hold back the global pipeline ($ng vs $nk)"
echo "PASS kafka_partitions: keyed $nk firings, global $ng"
