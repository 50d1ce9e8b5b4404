#!/usr/bin/env bash
# Kafka-mode checkpoints that cannot be used (issue #6): a restart under a configuration of
# another meaning is refused (exit 2, naming the keys) unless --reset-state; a checkpoint
# whose chunk is damaged, truncated or of another checkpoint, or whose manifest is foreign,
# is refused with a line saying why and an older one is restored; with none usable the job
# stops (exit 2) instead of loading half a state or guessing.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
crash=$root/test/it/kafka_crash.py

start_broker --topic raw:2 --topic out:2 --topic ck:2
"$rel/weir-gen" --seed 4 --events 30000 --products 30 --users 900 --rate 1000 \
    --disorder-ms 2000 >"$work/events.jsonl"
split -n l/3 -d "$work/events.jsonl" "$work/part."
# A short rebalance timeout: the dev broker sometimes waits that long for a member that has
# left right after a failed start (a mock quirk; a real coordinator does not).
args=(--input-topic raw --output-topic out --group-id f --checkpoint-topic ck
    --checkpoint-interval 200ms --window 10s --stop-when-idle 1s
    -X kafka.consumer.session.timeout.ms=6000 -X kafka.consumer.max.poll.interval.ms=10000)

# Three runs, a third of the input each: three checkpoints per partition at least.
for i in 0 1 2; do
    kcat_produce raw "$work/part.0$i"
    run_job "$work/run$i.log" "${args[@]}"
done
(($(summary_field "$work/run2.log" restored_partitions) == 2)) || die "run 3 restored nothing"

# Another window size: refused, naming the key, before anything is read.
rc=0
"$bin/unique-users" --brokers "$brokers" "${args[@]/10s/30s}" 2>"$work/meaning.log" || rc=$?
((rc == 2)) || die "a changed window size gave exit $rc: $(tail -n 3 "$work/meaning.log")"
grep -q "window.size=10s (now 30s).*--reset-state" "$work/meaning.log" ||
    die "no clear refusal: $(grep -v '^%' "$work/meaning.log" | tail -n 3)"

# Partition 1: the newest checkpoint's chunk flipped, then truncated: each refused in turn.
for how in chunk-flip chunk-truncate; do
    seq=$($py "$crash" tamper --brokers "$brokers" --topic ck --stream f/raw/1 --how $how)
    run_job "$work/$how.log" "${args[@]}"
    grep -q "checkpoint $seq of f/raw/1 (topic ck) refused" "$work/$how.log" ||
        die "$how of checkpoint $seq not refused: $(grep -v '^%' "$work/$how.log" | tail -n 4)"
    grep -Eq "partition 1: restored checkpoint ([0-9]+)" "$work/$how.log" ||
        die "no fallback after $how"
    echo "$how: $(grep -m1 "refused" "$work/$how.log")"
done

# Partition 0: every checkpoint it has damaged in another way: no usable one, exit 2.
# (A manifest made garbage drops out of the list the tamper tool reads, a chunk does not.)
for t in manifest-garbage:0 chunk-foreign:0 chunk-flip:1; do
    $py "$crash" tamper --brokers "$brokers" --topic ck --stream f/raw/0 --how "${t%:*}" \
        --nth "${t#*:}" >/dev/null || die "tamper $t failed"
done
rc=0
"$bin/unique-users" --brokers "$brokers" "${args[@]}" 2>"$work/none.log" || rc=$?
((rc == 2)) || die "no usable checkpoint gave exit $rc: $(tail -n 3 "$work/none.log")"
grep -q "no usable checkpoint of f/raw/0" "$work/none.log" || die "unclear: $(tail -n 3 "$work/none.log")"
grep -q "manifest not a weir manifest" "$work/none.log" || die "foreign manifest not reported"
grep -q "belongs to another checkpoint" "$work/none.log" || die "foreign chunk not reported"

# --reset-state: the old checkpoints are cleared, the job starts from empty state at the
# group's committed offsets, and the next run restores what that one wrote.
"$rel/weir-gen" --seed 5 --events 6000 --products 30 --users 900 --rate 1000 \
    --start-ms 1704070000000 >"$work/more.jsonl"
kcat_produce raw "$work/more.jsonl"
run_job "$work/reset.log" "${args[@]/10s/30s}" --reset-state
(($(summary_field "$work/reset.log" restored_partitions) == 0)) || die "--reset-state restored"
(($(summary_field "$work/reset.log" records) == 6000)) || die "--reset-state did not read on"
run_job "$work/after.log" "${args[@]/10s/30s}"
(($(summary_field "$work/after.log" restored_partitions) == 2)) ||
    die "the run after --reset-state did not restore its checkpoints"
echo "kafka_checkpoint_faults: ok"
