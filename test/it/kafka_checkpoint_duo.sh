#!/usr/bin/env bash
# Kafka-mode checkpoints with two instances in one consumer group (issue #6): while events
# arrive, one instance at a time is killed with SIGKILL and restarted, so partitions move
# between them both ways: taken over from a dead owner (restored from its last checkpoint)
# and handed back by a live one (checkpointed on revocation). The results topic must hold
# exactly the firings of one uninterrupted run, each once.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
crash=$root/test/it/kafka_crash.py

start_broker --topic raw:6 --topic out:6 --topic ref:6 --topic ck:3
"$rel/weir-gen" --seed 23 --events 200000 --products 60 --users 3000 --rate 2000 \
    --disorder-ms 2000 --late 0.01 --late-max-ms 30000 --bad 0.002 >"$work/events.jsonl"
common=(--window 10s --out-of-orderness 3s --allowed-lateness 10s --emit updates)

$py -u "$crash" drive --brokers "$brokers" --topic raw --events "$work/events.jsonl" \
    --rate 2000 --kills 6 --instances 2 --seed 9 --log "$work/duo.log" -- \
    "$bin/unique-users" --brokers "$brokers" --input-topic raw --output-topic out \
    --group-id duo --checkpoint-topic ck --checkpoint-interval 500ms -X checkpoint.log=true \
    --stop-when-idle 4s --drain "${common[@]}" \
    -X kafka.consumer.session.timeout.ms=3000 -X kafka.consumer.heartbeat.interval.ms=1000 \
    >"$work/drive.out" || die "duo driver: $(tail -n 5 "$work/drive.out"; tail -n 5 "$work"/duo.log.*)"
cat "$work/drive.out"
handed=$(cat "$work"/duo.log.* | grep -c " unique-users: revoked partitions" || true)
restored=$(cat "$work"/duo.log.* | grep -c "restored checkpoint" || true)
echo "revocations $handed, partition restores $restored"
((restored >= 6)) || die "partitions were restored only $restored times"

run_job "$work/ref.log" --input-topic raw --output-topic ref --group-id ref \
    --stop-when-idle 2s --drain "${common[@]}"
$py "$crash" compare --brokers "$brokers" --topic out --reference ref ||
    die "the results of two instances killed in turn differ from one run"
echo "kafka_checkpoint_duo: ok"
