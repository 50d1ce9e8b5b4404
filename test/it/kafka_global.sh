#!/usr/bin/env bash
# One pipeline over all partitions (a global count): its watermark is the minimum over the
# partitions, so silent partitions hold it back, unless --idle-timeout marks them idle, after
# which the active partition alone moves it and the windows behind it fire.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
start_broker --topic raw:3 --topic idle:1 --topic held:1

# Four minutes of events over 3 partitions; partitions 1 and 2 stop after the first minute.
"$rel/weir-gen" --seed 9 --events 12000 --products 30 --users 1500 --rate 50 \
    --disorder-ms 3000 >"$work/events.jsonl"
$py "$util" split-by-key "$work/events.jsonl" --partitions 3 --prefix "$work/p"
$py - "$work" <<'PY'
import json, sys
w = sys.argv[1]
def first_minute(r):
    return json.loads(r)["timestamp"] < "2024-01-01T00:01:00"
for p in range(3):
    recs = open(f"{w}/p{p}.jsonl").readlines()
    open(f"{w}/p{p}.phase1", "w").writelines(r for r in recs if first_minute(r))
    open(f"{w}/p{p}.phase2", "w").writelines(r for r in recs if p == 0 and not first_minute(r))
# The same records in their original (time) order, for the file job.
with open(f"{w}/all.jsonl", "w") as out:
    for r in open(f"{w}/events.jsonl"):
        if first_minute(r) or int(json.loads(r)["product_id"]) % 3 == 0:
            out.write(r)
PY
for p in 0 1 2; do
    kcat -q -b "$brokers" -t raw -p "$p" -P -l "$work/p$p.phase1" || die "kcat produce failed"
done

# The idle run: phase 2 (partition 0 only) arrives once every partition has been silent
# for longer than the idle timeout.
start_job "$work/idle.log" --global --input-topic raw --output-topic idle --group-id idle \
    --idle-timeout 1s --stop-when-idle 6s --late-output "$work/late.jsonl"
wait_log "$work/idle.log" "assigned partitions" 30
sleep 3
kcat -q -b "$brokers" -t raw -p 0 -P -l "$work/p0.phase2" || die "kcat produce failed"
finish_job "$work/idle.log"
cat "$work/idle.log"
[[ $(summary_field "$work/idle.log" late_dropped) == 0 ]] ||
    die "records were late: $(head -c 600 "$work/late.jsonl")"

file_job "$work/expect.jsonl" "$work/all.jsonl" --global
$py "$util" consume --brokers "$brokers" --topic idle --out "$work/idle.consumed"
# Partitions 1 and 2 are idle: partition 0's watermark alone decides what fires.
$py "$util" fired --expected "$work/expect.jsonl" --events "$work/p0.jsonl" \
    --out "$work/idle.fired" >/dev/null
$py "$util" check-results "$work/idle.consumed" "$work/idle.fired" ||
    die "with idle partitions excluded, the fired windows differ"
ni=$(wc -l <"$work/idle.consumed")
((ni >= 2)) || die "only $ni windows fired with idle partitions excluded"

# The same topic without an idle timeout: partitions 1 and 2 hold the watermark in the
# first minute, so nothing past it fires.
run_job "$work/held.log" --global --input-topic raw --output-topic held --group-id held \
    --stop-when-idle 1s
cat "$work/held.log"
$py "$util" fired --expected "$work/expect.jsonl" --events "$work"/p?.phase1 "$work/p0.jsonl" \
    --out "$work/held.fired" >/dev/null
$py "$util" consume --brokers "$brokers" --topic held --out "$work/held.consumed"
$py "$util" check-results "$work/held.consumed" "$work/held.fired" ||
    die "without idleness, the fired windows are not those below the minimum watermark"
nh=$(wc -l <"$work/held.consumed")
((nh < ni)) || die "silent partitions did not hold the watermark ($nh vs $ni)"
echo "PASS kafka_global: $ni windows with idle partitions excluded, $nh without"
