#!/usr/bin/env bash
# Kafka-mode checkpoints of a global aggregation (--global: one pipeline over every
# partition, one checkpoint stream "<group>/<topic>/all" holding every partition's offset):
# killed with SIGKILL 6 times while events arrive, restored each time; the results must be
# those of one uninterrupted run, each once. One input partition: over several, which
# records are late depends on how the partitions interleave (the minimum watermark), so no
# two runs need agree, crashed or not; and the results topic has one partition, since
# key-less messages are spread over partitions and their order would be lost.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
crash=$root/test/it/kafka_crash.py

start_broker --topic raw:1 --topic out:1 --topic ref:1 --topic ck:2
"$rel/weir-gen" --seed 31 --events 100000 --products 50 --users 4000 --rate 2000 \
    --disorder-ms 2000 --late 0.01 --late-max-ms 30000 --bad 0.002 >"$work/events.jsonl"
common=(--global --window 5s --out-of-orderness 3s --allowed-lateness 10s --emit updates)

$py -u "$crash" drive --brokers "$brokers" --topic raw --events "$work/events.jsonl" \
    --rate 2000 --kills 6 --seed 3 --log "$work/global.log" -- \
    "$bin/unique-users" --brokers "$brokers" --input-topic raw --output-topic out \
    --group-id glob --checkpoint-topic ck --checkpoint-interval 300ms -X checkpoint.log=true \
    --stop-when-idle 3s --drain "${common[@]}" \
    -X kafka.consumer.session.timeout.ms=3000 -X kafka.consumer.heartbeat.interval.ms=1000 \
    >"$work/drive.out" || die "driver: $(tail -n 5 "$work/drive.out"; tail -n 5 "$work"/global.log.0)"
cat "$work/drive.out"
restored=$(grep -c "restored checkpoint .* of glob/raw/all" "$work/global.log.0" || true)
((restored >= 3)) || die "only $restored restores in 6 restarts"

run_job "$work/ref.log" --input-topic raw --output-topic ref --group-id ref \
    --stop-when-idle 2s --drain "${common[@]}"
$py "$crash" compare --brokers "$brokers" --topic out --reference ref ||
    die "the global results after 6 crashes differ from one run"
last=$(grep '"mode":"kafka"' "$work/global.log.0" | tail -n 1)
echo "$last" >"$work/last.log"
for k in records valid invalid late_dropped emissions; do
    a=$(summary_field "$work/last.log" "$k")
    b=$(summary_field "$work/ref.log" "$k")
    [[ $a == "$b" ]] || die "counter $k: $a after the crashes, $b in one run"
done
echo "kafka_checkpoint_global: ok"
