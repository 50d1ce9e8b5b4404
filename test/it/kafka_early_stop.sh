#!/usr/bin/env bash
# A job stopped before its first assignment (issue 21, item 4): librdkafka 2.0.2 aborts in
# rd_kafka_sticky_assignor_state_destroy() ("Assertion 'assignor_state' failed", librdkafka
# issue 4312, fixed in 2.3.0) when a consumer of the cooperative-sticky assignor is destroyed
# after its first JoinGroup response and before its first assignment. The job now uses the
# eager range assignor by default. Started and stopped (SIGTERM) around the group's first
# join, 24 times, beside a member that keeps the group rebalancing, it must always exit 0.
# WEIR_EARLY_STOP_X: extra flags (-X kafka.partition.assignment.strategy=cooperative-sticky
# shows the abort on this librdkafka).
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"

start_broker --topic raw:4 --topic out:4
extra=(${WEIR_EARLY_STOP_X:-})
aborts=0
for i in $(seq 24); do
    # Another member joins now and then, so the next join waits in a rebalance.
    if ((i % 3 == 0)); then
        "$rel/unique-users" --brokers "$brokers" --input-topic raw --output-topic "" \
            --group-id early "${extra[@]}" 2>"$work/other.$i.log" &
        other=$!
        pids+=("$other")
    fi
    "$bin/unique-users" --brokers "$brokers" --input-topic raw --output-topic out \
        --group-id early --instance-id "i$i" "${extra[@]}" 2>"$work/job.$i.log" &
    job=$!
    pids+=("$job")
    sleep "$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.2f", 2.6 + rand() * 1.6 }')"
    kill -TERM "$job"
    rc=0
    wait "$job" || rc=$?
    if ((i % 3 == 0)); then
        kill -TERM "$other"
        wait "$other" || rc=$((rc ? rc : $?))
    fi
    if ((rc != 0)) || grep -q "Assertion" "$work"/*.$i.log; then
        aborts=$((aborts + 1))
        echo "run $i: exit $rc: $(grep -h "Assertion" "$work"/*.$i.log | head -n 1)"
    fi
done
((aborts == 0)) || die "$aborts of 24 early stops failed"
echo "kafka_early_stop: ok (24 early stops)"
