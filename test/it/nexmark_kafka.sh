#!/usr/bin/env bash
# The Nexmark queries that run as weir-window configurations (q11, q16) from the dev broker
# into a Kafka topic, with the Kafka flags of the other jobs: the results topic holds exactly
# the lines of the same query over the same events from a file (one input partition, so the
# order of the events is the file's), and the queries written in C refuse Kafka flags. The
# dev broker keeps the last 5 MiB of a partition: the events stay below that.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
G=$bin/weir-nexmark
[[ -x $G ]] || die "$G not built (make)"
start_broker --topic nx:1 --topic q11:1 --topic q16:1

"$G" gen --events "${WEIR_NEXMARK_EVENTS:-12000}" --seed 9 --disorder-ms 2000 \
    --output "$work/events.jsonl" 2>/dev/null
kcat -q -b "$brokers" -t nx -p 0 -P -l "$work/events.jsonl" || die "kcat produce failed"

for q in q11 q16; do
    "$G" "$q" --input "$work/events.jsonl" --output "$work/$q.file" 2>"$work/$q.file.log" ||
        die "$q over the file failed: $(tail -n 3 "$work/$q.file.log")"
    "$G" "$q" --brokers "$brokers" --input-topic nx --output-topic "$q" --stop-when-idle 2s \
        --drain -X kafka.consumer.session.timeout.ms=6000 2>"$work/$q.kafka.log" ||
        die "$q from Kafka failed ($?): $(tail -n 5 "$work/$q.kafka.log")"
    grep -q '"mode":"kafka"' "$work/$q.kafka.log" || die "$q: no Kafka summary"
    kcat_read "$q" "$work/$q.read"
    cut -f 4- "$work/$q.read" >"$work/$q.kafka"
    n=$(wc -l <"$work/$q.file")
    ((n > 0)) || die "$q wrote nothing from the file"
    # One partition in, one out: the same lines in the same order.
    cmp -s "$work/$q.file" "$work/$q.kafka" ||
        die "$q: the topic ($(wc -l <"$work/$q.kafka") lines) differs from the file run ($n)"
    echo "ok $q: $n results, Kafka as the file"
done

set +e
"$G" q7 --brokers "$brokers" --input-topic nx 2>"$work/q7.err"
rc=$?
set -e
[[ $rc == 2 && $(wc -l <"$work/q7.err") == 1 ]] && grep -q -- '--brokers' "$work/q7.err" ||
    die "q7 with --brokers: exit $rc, $(cat "$work/q7.err")"
echo "PASS nexmark_kafka"
