#!/usr/bin/env bash
# The Nexmark queries on Kafka with the Kafka flags of the other jobs, from the dev broker into
# a results topic. q11 and q16 (weir-window configurations): the topic holds exactly the lines
# of the same query over the same events from a file (one input partition, so the order of
# the events is the file's). q0, q1, q2, q5 and q7 (the generic job and a second step, one
# unit over all partitions): from 2 partitions the topic holds the file run's lines as a
# multiset (the disorder stays below the 4 s bound, so no record is late either way); for q5
# and q7 so does a run killed with SIGKILL after a checkpoint and restarted with exactly-once
# checkpoints. The dev broker keeps the last 5 MiB of a partition: the events stay below that.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
G=$bin/weir-nexmark
[[ -x $G ]] || die "$G not built (make)"
start_broker --topic nx:1 --topic q11:1 --topic q16:1 --topic nx2:2 --topic q0:1 --topic q1:1 --topic q2:1 \
    --topic q5:1 --topic q7:1 \
    --topic nxk:2 --topic q5k:1 --topic q7k:1 --topic ck:1

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

# q5 and q7: 100 events a second of event time, so that the 12,000 events span 2 minutes
# (12 tumbling and 60 hopping windows), partitioned by auction over 2 partitions.
"$G" gen --events "${WEIR_NEXMARK_EVENTS:-12000}" --seed 4 --rate 100 --disorder-ms 2000 \
    --output "$work/ev2.jsonl" --brokers "$brokers" --topic nx2 2>/dev/null ||
    die "gen to Kafka failed"
fast=(-X kafka.consumer.session.timeout.ms=6000)
for q in q0 q1 q2 q5 q7; do
    "$G" "$q" --input "$work/ev2.jsonl" --output "$work/$q.file" 2>"$work/$q.file.log" ||
        die "$q over the file failed: $(tail -n 3 "$work/$q.file.log")"
    n=$(wc -l <"$work/$q.file")
    ((n > 10)) || die "$q wrote $n lines from the file"
    "$G" "$q" --brokers "$brokers" --input-topic nx2 --output-topic "$q" --stop-when-idle 2s \
        --drain "${fast[@]}" 2>"$work/$q.kafka.log" ||
        die "$q from Kafka failed ($?): $(tail -n 5 "$work/$q.kafka.log")"
    grep -q '"mode":"kafka"' "$work/$q.kafka.log" || die "$q: no Kafka summary"
    kcat_read "$q" "$work/$q.read"
    cut -f 4- "$work/$q.read" | sort >"$work/$q.kafka"
    sort "$work/$q.file" >"$work/$q.sorted"
    cmp -s "$work/$q.sorted" "$work/$q.kafka" ||
        die "$q: the topic ($(wc -l <"$work/$q.kafka") lines) differs from the file run ($n):" \
            "$(diff "$work/$q.sorted" "$work/$q.kafka" | head -n 4)"
    echo "ok $q: $n results from 2 partitions, Kafka as the file"
done

# Killed and restarted: the first half of the events, a checkpoint of the state with windows
# open (q7's max_bids aggregate among it), SIGKILL, the second half, a restart that resumes
# from the checkpoint. Exactly-once: the topic (read committed) holds the file run's lines.
half=$(($(wc -l <"$work/ev2.jsonl") / 2))
head -n "$half" "$work/ev2.jsonl" >"$work/ev2.a"
tail -n +"$((half + 1))" "$work/ev2.jsonl" >"$work/ev2.b"
produce() { # FILE: keyed by auction (bids), id (others), as gen keys them
    $py -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    sys.stdout.write("%s\t%s" % (e.get("auction", e.get("id")), l))' "$1" |
        kcat -q -b "$brokers" -t nxk -P -K $'\t' -l /dev/stdin || die "kcat produce failed"
}
produce "$work/ev2.a"
for q in q5 q7; do
    args=(--brokers "$brokers" --input-topic nxk --output-topic "${q}k" --group-id "k$q"
        --exactly-once --checkpoint-topic ck --checkpoint-interval 200ms -X checkpoint.log=true
        "${fast[@]}")
    "$G" "$q" "${args[@]}" 2>"$work/$q.k1.log" &
    pid=$!
    pids+=("$pid")
    # A checkpoint is taken every 200 ms while records arrive: once one is done, a second
    # more lets the job read the first half and checkpoint it (or not quite: either way the
    # restart must resume from what the newest durable checkpoint holds).
    for _ in $(seq 300); do
        grep -q "checkpoint: done" "$work/$q.k1.log" && break
        kill -0 "$pid" 2>/dev/null || die "$q exited early: $(tail -n 5 "$work/$q.k1.log")"
        sleep 0.1
    done
    grep -q "checkpoint: done" "$work/$q.k1.log" || die "$q took no checkpoint"
    sleep 1
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
done
produce "$work/ev2.b"
for q in q5 q7; do
    "$G" "$q" --brokers "$brokers" --input-topic nxk --output-topic "${q}k" --group-id "k$q" \
        --exactly-once --checkpoint-topic ck --checkpoint-interval 200ms -X checkpoint.log=true \
        --stop-when-idle 2s --drain "${fast[@]}" 2>"$work/$q.k2.log" ||
        die "$q restarted failed ($?): $(tail -n 5 "$work/$q.k2.log")"
    grep -q "restored checkpoint" "$work/$q.k2.log" ||
        die "$q: the restart restored no checkpoint: $(grep -i checkpoint "$work/$q.k2.log" | tail -n 3)"
    kcat -q -b "$brokers" -t "${q}k" -C -e -o beginning -X isolation.level=read_committed \
        -f '%s\n' | sort >"$work/$q.k" || die "kcat could not read ${q}k"
    cmp -s "$work/$q.sorted" "$work/$q.k" ||
        die "$q killed and restarted: the topic ($(wc -l <"$work/$q.k") lines) differs from" \
            "the file run ($(wc -l <"$work/$q.sorted")): $(diff "$work/$q.sorted" "$work/$q.k" | head -n 4)"
    echo "ok $q: killed after a checkpoint and restarted, Kafka as the file"
done

set +e
"$G" q5 --brokers "$brokers" --input-topic nx2 -X input.keyed=true 2>"$work/q5.err"
rc=$?
set -e
[[ $rc == 2 && $(wc -l <"$work/q5.err") == 1 ]] && grep -q -- 'input.keyed' "$work/q5.err" ||
    die "q5 with input.keyed=true: exit $rc, $(cat "$work/q5.err")"
echo "PASS nexmark_kafka"
