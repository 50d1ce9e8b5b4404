#!/usr/bin/env bash
# Kafka-mode checkpoints (issue #6): a live stream (disorder, late records, malformed lines)
# produced at a steady pace while the job is killed with SIGKILL 21 times (at random, as a
# checkpoint begins, once its state is durable and its results are being released) and
# restarted; then drained. The results topic (read by kafka-python, read_committed) must
# hold for every (key, window) exactly the firings of one uninterrupted run, the DynamoDB
# table (read by boto3) the last firing of every window, and the counters must match.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
ddb_util=$root/test/it/dynamodb_util.py
crash=$root/test/it/kafka_crash.py
dynalite=$root/test/peers/node_modules/dynalite/cli.js
[[ -f $dynalite ]] || die "dynalite missing: run make deps (npm ci in test/peers)"
export AWS_ACCESS_KEY_ID=weirtest AWS_SECRET_ACCESS_KEY=weir-secret-do-not-print
unset AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION

start_broker --topic raw:4 --topic out:4 --topic ref:4 --topic ck:4
port=$($py "$ddb_util" free-port)
node "$dynalite" --host 127.0.0.1 --port "$port" --createTableMs 20 >"$work/dynalite.log" 2>&1 &
pids+=($!)
ddb_url=http://127.0.0.1:$port
$py "$ddb_util" wait "$ddb_url" || die "dynalite did not start"

"$rel/weir-gen" --seed 11 --events 400000 --products 40 --users 2000 --rate 1500 \
    --disorder-ms 3000 --late 0.01 --late-max-ms 40000 --bad 0.002 >"$work/events.jsonl"
common=(--window 10s --out-of-orderness 4s --allowed-lateness 15s --emit updates)
fast=(-X kafka.consumer.session.timeout.ms=3000 -X kafka.consumer.heartbeat.interval.ms=1000)

# The job killed and restarted while the events arrive.
$py -u "$crash" drive --brokers "$brokers" --topic raw --events "$work/events.jsonl" \
    --rate 1500 --kills 21 --seed 5 --log "$work/crash.log" -- \
    "$bin/unique-users" --brokers "$brokers" --input-topic raw --output-topic out \
    --group-id crash --checkpoint-topic ck --checkpoint-interval 300ms -X checkpoint.log=true \
    --stop-when-idle 3s --drain "${common[@]}" "${fast[@]}" \
    --dynamodb-endpoint "$ddb_url" --dynamodb-table crash --dynamodb-create-table \
    >"$work/drive.out" || die "crash driver: $(tail -n 5 "$work/drive.out"; tail -n 5 "$work"/crash.log.0)"
cat "$work/drive.out"
restored=$(cat "$work"/crash.log.0 | grep -c "restored checkpoint" || true)
((restored >= 20)) || die "only $restored partition restores in 21 restarts"
grep -q "were not out yet: produced now" "$work"/crash.log.0 ||
    echo "note: no kill fell between a checkpoint and the end of its release this time"

# One uninterrupted run over the same topic, without checkpoints.
run_job "$work/ref.log" --input-topic raw --output-topic ref --group-id ref \
    --stop-when-idle 2s --drain "${common[@]}"
$py "$crash" compare --brokers "$brokers" --topic out --reference ref \
    --jsonl "$work/ref.jsonl" || die "the results after 21 crashes differ from one run"
$py "$ddb_util" check "$ddb_url" crash "$work/ref.jsonl" >"$work/ddb.out" ||
    die "DynamoDB items differ from the last firings: $(tail -n 5 "$work/ddb.out")"
tail -n 1 "$work/ddb.out"

# Every raw event counted once: the last run's counters (restored with the state) equal the
# uninterrupted run's.
last=$(grep '"mode":"kafka"' "$work"/crash.log.0 | tail -n 1)
[[ -n $last ]] || die "no summary from the last run"
echo "$last" >"$work/last.log"
for k in records valid invalid late_dropped late_accepted late_firings emissions; do
    a=$(summary_field "$work/last.log" "$k")
    b=$(summary_field "$work/ref.log" "$k")
    [[ $a == "$b" ]] || die "counter $k: $a after the crashes, $b in one run"
done
echo "counters equal: records $(summary_field "$work/ref.log" records)," \
    "late_dropped $(summary_field "$work/ref.log" late_dropped)"
echo "kafka_checkpoint: ok"
