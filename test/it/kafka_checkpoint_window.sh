#!/usr/bin/env bash
# weir-window in Kafka mode with --exactly-once checkpoints: events (with disorder, very late
# records and malformed lines, weir_window_ref.py's generator) arrive at a steady pace while
# the job is killed with SIGKILL 6 times (at random, as a checkpoint begins, once it is
# durable) and restarted. The results topic must hold, for every (key, window), exactly the
# firings of one uninterrupted run in order, each once, for two window kinds (tumbling with
# updates, sessions in final mode); and the counters must be those of the uninterrupted run.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
crash=$root/test/it/kafka_crash.py
ww=$bin/weir-window
[[ -x $ww ]] || die "$ww not built (make)"

start_broker --topic raw:2 --topic raw2:2 --topic out-t:2 --topic ref-t:2 --topic out-s:2 --topic ref-s:2 \
    --topic ck:2
# Event time advances 0.2 s a record on average: at 1,000 records a second the stream
# covers windows of 30 s in about 150 records.
$py "$root/test/it/weir_window_ref.py" gen "${WEIR_WINDOW_EVENTS:-16000}" 5 >"$work/events.jsonl"
fast=(-X kafka.consumer.session.timeout.ms=3000 -X kafka.consumer.heartbeat.interval.ms=1000)
aggs=(--agg 'count()' --agg 'sum(total_price) where status != cancelled as revenue'
    --agg 'count_distinct(user_id)' --agg 'max(quantity)')
tumble=(--key product_id --window tumble:30s --out-of-orderness 5s --allowed-lateness 20s
    --emit updates --where 'status != pending' "${aggs[@]}")
session=(--key product_id --window session:10s --out-of-orderness 3s --emit final "${aggs[@]}")

$py -u "$crash" drive --brokers "$brokers" --topic raw --events "$work/events.jsonl" \
    --rate 1000 --kills 6 --seed 7 --log "$work/tumble.log" -- \
    "$ww" --brokers "$brokers" --input-topic raw --output-topic out-t --group-id wt \
    --exactly-once --checkpoint-topic ck --checkpoint-interval 300ms -X checkpoint.log=true \
    --stop-when-idle 3s --drain "${tumble[@]}" "${fast[@]}" \
    >"$work/drive.out" || die "driver: $(tail -n 5 "$work/drive.out"; tail -n 5 "$work"/tumble.log.0)"
cat "$work/drive.out"
grep -l "AddressSanitizer\|runtime error" "$work"/tumble.log.* && die "an instance crashed"
restored=$(grep -c "restored checkpoint" "$work/tumble.log.0" || true)
((restored >= 3)) || die "only $restored partition restores in 6 restarts"

run_ref() { # NAME INPUT TOPIC ARGS...
    local name=$1 input=$2 topic=$3
    shift 3
    "$ww" --brokers "$brokers" --input-topic "$input" --output-topic "$topic" --group-id "$name" \
        --stop-when-idle 2s --drain "${fast[@]}" "$@" 2>"$work/$name.log" ||
        die "$name failed: $(tail -n 5 "$work/$name.log")"
}
run_ref ref-t raw ref-t "${tumble[@]}"
$py "$crash" compare --brokers "$brokers" --topic out-t --reference ref-t ||
    die "tumble: the results after 6 kills differ from one run"
last=$(grep '"mode":"kafka"' "$work/tumble.log.0" | tail -n 1)
echo "$last" >"$work/last.log"
for k in records valid invalid filtered late_dropped emissions; do
    a=$(summary_field "$work/last.log" "$k")
    b=$(summary_field "$work/ref-t.log" "$k")
    [[ $a == "$b" ]] || die "counter $k: $a after the kills, $b in one run"
done

# Sessions, the same way from a second topic.
$py -u "$crash" drive --brokers "$brokers" --topic raw2 --events "$work/events.jsonl" \
    --rate 1000 --kills 4 --seed 8 --log "$work/session.log" -- \
    "$ww" --brokers "$brokers" --input-topic raw2 --output-topic out-s --group-id ws \
    --exactly-once --checkpoint-topic ck --checkpoint-interval 300ms -X checkpoint.log=true \
    --stop-when-idle 3s --drain "${session[@]}" "${fast[@]}" \
    >"$work/drive2.out" || die "driver: $(tail -n 5 "$work/drive2.out"; tail -n 5 "$work"/session.log.0)"
cat "$work/drive2.out"
run_ref ref-s raw2 ref-s "${session[@]}"
$py "$crash" compare --brokers "$brokers" --topic out-s --reference ref-s ||
    die "session: the results after 4 kills differ from one run"
echo "kafka_checkpoint_window: ok"
