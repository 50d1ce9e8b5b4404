#!/usr/bin/env bash
# Exactly-once on a quiet stream (issue 21, item 2): results are released at checkpoints, so
# checkpoints must keep their interval while no record arrives, or the windows that an idle
# partition's watermark fires (--idle-advance) never reach the results topic; and a clean stop
# (--stop-when-idle here, SIGTERM in kafka_checkpoint_restart.sh) releases everything fired
# before it. The results topic must end with exactly the firings of the file job over the same
# events (final emission: one firing per window, no late records).
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"

start_broker --topic raw:2 --topic out:2 --topic out2:2 --topic ck:2
"$rel/weir-gen" --seed 5 --events 3000 --products 20 --users 500 --rate 1000 --disorder-ms 0 \
    >"$work/events.jsonl"
common=(--window 2s --out-of-orderness 1s --emit final)
file_job "$work/ref.jsonl" "$work/events.jsonl" "${common[@]}"
want=$(wc -l <"$work/ref.jsonl")
((want > 20)) || die "the file job fired only $want windows"
eo=(--input-topic raw --exactly-once --checkpoint-topic ck --checkpoint-interval 1s
    --idle-timeout 2s --idle-advance "${common[@]}")

count() { # topic: messages on it now
    kcat -q -b "$brokers" -t "$1" -C -e -o beginning -f '%o\n' | wc -l
}

# 1. A running job: the records stop, the idle watermark fires the last windows, and the
#    next checkpoints release them while the stream stays quiet.
start_job "$work/run.log" --output-topic out --group-id idle1 "${eo[@]}"
wait_log "$work/run.log" "assigned partitions" 30
kcat_produce raw "$work/events.jsonl"
got=0
for _ in $(seq 60); do
    got=$(count out)
    ((got >= want)) && break
    sleep 0.5
done
kill -TERM "$job_pid"
finish_job "$work/run.log"
((got == want)) || die "quiet stream: $got of $want firings released within 30 s of silence"
emitted=$(summary_field "$work/run.log" emissions)
((emitted == want)) || die "the job fired $emitted windows, the file job $want"
echo "quiet stream: all $want firings released while idle"

# 2. A clean stop (--stop-when-idle, no --drain) after the idle watermark fired windows that
#    no record followed: they are released before the job exits.
run_job "$work/stop.log" --output-topic out2 --group-id idle2 --stop-when-idle 8s "${eo[@]}"
got=$(count out2)
emitted=$(summary_field "$work/stop.log" emissions)
released=$(summary_field "$work/stop.log" released)
((emitted == want && released == want && got == want)) ||
    die "stop when idle: fired $emitted, released $released, on the topic $got, want $want"
echo "kafka_checkpoint_idle: ok ($want firings)"
