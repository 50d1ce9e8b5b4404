#!/usr/bin/env bash
# Two instances of the job in one consumer group share the partitions of a keyed topic: each
# runs only its own partitions' pipelines and together they give exactly the file job's
# results. A third instance joining mid-stream makes the group rebalance (cooperative): the
# moved partitions' pipelines are dropped and rebuilt by their new owner without a crash, and
# every instance stops cleanly.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"
start_broker --topic raw:4 --topic results:4 --topic raw2:4 --topic results2:4

"$rel/weir-gen" --seed 61 --events 16000 --products 40 --users 1500 --rate 100 \
    --disorder-ms 3000 >"$work/events.jsonl"

# 1. Both instances join before any data exists, so the partitions never move. Their idle
#    clocks start with the processes and the group may take seconds to settle on a loaded
#    machine: an instance that stopped as idle before the data came would leave its
#    partitions to the other (seen in CI with 3 s), hence 20 s. Seeing both assigned is not
#    enough: once in CI, librdkafka's mock coordinator gave b partitions 0,2 while a, not yet
#    told of the rebalance, kept 0-3 and read everything. Fast heartbeats tell a sooner, and
#    the data waits until the two latest assignments split the four partitions.
fastbeat=(-X kafka.consumer.heartbeat.interval.ms=500)
start_job "$work/a.log" --input-topic raw --output-topic results --group-id pair \
    --stop-when-idle 20s --drain "${fastbeat[@]}"
a=$job_pid
start_job "$work/b.log" --input-topic raw --output-topic results --group-id pair \
    --stop-when-idle 20s --drain "${fastbeat[@]}"
b=$job_pid
wait_log "$work/a.log" "assigned partitions [0-9]" 30
wait_log "$work/b.log" "assigned partitions [0-9]" 30
# The partitions LOG's instance holds now: those of its last assignment, none after a
# revoke or a loss.
current_parts() {
    grep -E ' unique-users: (assigned|revoked|lost) partitions' "$1" | tail -n 1 |
        awk '$4 == "assigned" {print $6}' | tr ',' ' '
}
settled=0
for ((i = 0; i < 300; i++)); do
    now_a=$(current_parts "$work/a.log")
    now_b=$(current_parts "$work/b.log")
    all=$(printf '%s\n' $now_a $now_b | sort -n | tr '\n' ' ')
    if [[ -n $now_a && -n $now_b && $all == "0 1 2 3 " ]]; then
        settled=1
        break
    fi
    sleep 0.05
done
((settled)) || die "the pair did not split the partitions: a holds [$now_a], b [$now_b]"
kcat_produce raw "$work/events.jsonl"
job_pid=$a finish_job "$work/a.log"
job_pid=$b finish_job "$work/b.log"
pa=$(summary_field "$work/a.log" partitions)
pb=$(summary_field "$work/b.log" partitions)
ra=$(summary_field "$work/a.log" records)
rb=$(summary_field "$work/b.log" records)
echo "instance a: $pa partitions, $ra records; instance b: $pb partitions, $rb records"
((ra > 0 && rb > 0 && ra + rb == 16000)) || die "the instances did not share the records once each"
$py "$util" consume --brokers "$brokers" --topic raw --out "$work/raw.consumed"
$py "$util" split "$work/raw.consumed" --partitions 4 --prefix "$work/p"
for p in 0 1 2 3; do file_job "$work/expect$p.jsonl" "$work/p$p.jsonl"; done
$py "$util" consume --brokers "$brokers" --topic results --out "$work/results.consumed"
$py "$util" check-results "$work/results.consumed" "$work"/expect?.jsonl --key-field product_id ||
    die "two instances together differ from the file job"

# 2. A rebalance in the middle of the stream.
head -n 8000 "$work/events.jsonl" >"$work/first.jsonl"
tail -n +8001 "$work/events.jsonl" >"$work/second.jsonl"
kcat_produce raw2 "$work/first.jsonl"
start_job "$work/c.log" --input-topic raw2 --output-topic results2 --group-id trio \
    --stop-when-idle 12s --drain "${fastbeat[@]}"
c=$job_pid
wait_log "$work/c.log" "assigned partitions 0,1,2,3" 30
start_job "$work/d.log" --input-topic raw2 --output-topic results2 --group-id trio \
    --stop-when-idle 4s --drain "${fastbeat[@]}"
d=$job_pid
# Cooperative: c gives up some partitions, d gets them.
wait_log "$work/d.log" "assigned partitions" 30
# (The dev broker may answer c's periodic commit with ILLEGAL_GENERATION during the rebalance,
# which librdkafka treats as a lost assignment: then c loses all and gets some back.)
grep -Eq "(revoked|lost) partitions" "$work/c.log" || die "c gave up nothing before d got partitions"
kcat_produce raw2 "$work/second.jsonl"
job_pid=$c finish_job "$work/c.log"
job_pid=$d finish_job "$work/d.log"
grep -E ' unique-users: (assigned|revoked|lost)' "$work/c.log" "$work/d.log"
# Every record after the rebalance was read by exactly one owner: the second half adds up.
rc=$(summary_field "$work/c.log" records)
rd=$(summary_field "$work/d.log" records)
((rc + rd >= 16000)) || die "records were not read after the rebalance ($rc + $rd)"
((rd > 0)) || die "the joining instance read nothing"
(($(grep -Ec "(revoked|lost) partitions" "$work/c.log") >= 2)) || die "c was not revoked mid-stream"
echo "PASS kafka_scaleout"
