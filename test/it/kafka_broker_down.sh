#!/usr/bin/env bash
# Brokers that are away: (1) nothing listens at the address: the job says so on stderr, keeps
# retrying as librdkafka does, and stops cleanly on SIGTERM; (2) the dev broker is down when the
# job starts and comes back; (3) it goes down while the job runs. In (2) and (3) no result is
# lost or doubled: the results equal the file job's. weir-dev-broker takes every broker down on
# SIGUSR1 and brings it back on SIGUSR2.
set -euo pipefail
source "$(dirname "$0")/kafka_lib.bash"

# 1. No broker at all.
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
brokers=127.0.0.1:$port
start_job "$work/none.log" --input-topic raw --output-topic results --stop-when-idle 1s
wait_log "$work/none.log" "Connection refused" 20
sleep 2
kill -0 "$job_pid" 2>/dev/null || die "the job did not keep retrying: $(tail -n 5 "$work/none.log")"
kill -TERM "$job_pid"
finish_job "$work/none.log"
grep -q "unique-users: kafka consumer (raw): .*retrying" "$work/none.log" ||
    die "no clear consumer error line: $(head -n 5 "$work/none.log")"
[[ $(summary_field "$work/none.log" records) == 0 ]] || die "records from nowhere"
echo "ok: unreachable broker reported, clean stop on SIGTERM"

start_broker --topic raw:2 --topic r2:2 --topic r3:2 --topic r4:2
# librdkafka backs off reconnects up to 10 s by default; 1 s keeps the test short.
fast=(-X kafka.reconnect.backoff.max.ms=1000)
"$rel/weir-gen" --seed 44 --events 12000 --products 30 --users 1000 --rate 40 \
    --disorder-ms 3000 >"$work/events.jsonl"
head -n 6000 "$work/events.jsonl" >"$work/first.jsonl"
tail -n +6001 "$work/events.jsonl" >"$work/second.jsonl"
kcat_produce raw "$work/first.jsonl"

# 2. Down before the job starts, up a few seconds later.
kill -USR1 "$broker_pid"
wait_log "$work/broker.log" "brokers down" 5
start_job "$work/late.log" --input-topic raw --output-topic r2 --group-id late \
    --stop-when-idle 2s --drain "${fast[@]}"
wait_log "$work/late.log" "retrying" 20
sleep 2
kill -0 "$job_pid" 2>/dev/null || die "the job died while the broker was down"
kill -USR2 "$broker_pid"
finish_job "$work/late.log"
[[ $(summary_field "$work/late.log" records) == 6000 ]] || die "not every record read after the outage"
$py "$util" consume --brokers "$brokers" --topic raw --out "$work/raw1.consumed"
$py "$util" split "$work/raw1.consumed" --partitions 2 --prefix "$work/a"
file_job "$work/expect_a0.jsonl" "$work/a0.jsonl"
file_job "$work/expect_a1.jsonl" "$work/a1.jsonl"
$py "$util" consume --brokers "$brokers" --topic r2 --out "$work/r2.consumed"
$py "$util" check-results "$work/r2.consumed" "$work"/expect_a?.jsonl --key-field product_id ||
    die "results after a late broker differ from the file job's"
echo "ok: broker down at start, results complete once it was back"

# 3. Down while the job runs: the job has read the first half and produced results when the
#    broker goes away; the second half is produced once it is back.
# The session timeout outlasts the outage, so the group keeps the job's membership (a lost
# assignment would replay from the committed offsets: see docs/KAFKA.md).
start_job "$work/mid.log" --input-topic raw --output-topic r3 --group-id mid \
    --stop-when-idle 5s --drain -X kafka.consumer.session.timeout.ms=30000 "${fast[@]}"
for _ in $(seq 300); do
    kcat_read r3 "$work/r3.early"
    [[ -s $work/r3.early ]] && break
    sleep 0.1
done
[[ -s $work/r3.early ]] || die "the job produced no results before the outage"
kill -USR1 "$broker_pid"
sleep 4
kill -0 "$job_pid" 2>/dev/null || die "the job died during the outage"
kill -USR2 "$broker_pid"
kcat_produce raw "$work/second.jsonl"
finish_job "$work/mid.log"
grep -v '^%' "$work/mid.log" | tail -n 4
[[ $(summary_field "$work/mid.log" records) == 12000 ]] || die "records lost around the outage"
[[ $(summary_field "$work/mid.log" kafka.delivery_failures) == 0 ]] || die "deliveries failed"
$py "$util" consume --brokers "$brokers" --topic raw --out "$work/raw2.consumed"
$py "$util" split "$work/raw2.consumed" --partitions 2 --prefix "$work/b"
file_job "$work/expect_b0.jsonl" "$work/b0.jsonl"
file_job "$work/expect_b1.jsonl" "$work/b1.jsonl"
$py "$util" consume --brokers "$brokers" --topic r3 --out "$work/r3.consumed"
$py "$util" check-results "$work/r3.consumed" "$work"/expect_b?.jsonl --key-field product_id ||
    die "results around the outage differ from the file job's"
echo "ok: broker down mid-run, no result lost or doubled"

# 4. Deliveries that fail for good (the broker refuses the next produce requests, SIGHUP):
#    the job stops with status 1 and the reason instead of losing results, and commits nothing.
kill -HUP "$broker_pid"
wait_log "$work/broker.log" "produce requests fail" 5
start_job "$work/fail.log" --input-topic raw --output-topic r4 --group-id fail \
    --stop-when-idle 2s --drain
rc=0
wait "$job_pid" || rc=$?
((rc == 1)) || die "the job exited $rc, not 1, on failed deliveries: $(tail -n 5 "$work/fail.log")"
grep -Eq "(delivery to|cannot produce to) r4.*[Aa]uthorization failed" "$work/fail.log" ||
    die "no reason given: $(tail -n 5 "$work/fail.log")"
[[ $(summary_field "$work/fail.log" stopped_by) == error ]] || die "the summary does not say error"
$py "$util" committed --brokers "$brokers" --group fail --topic raw 2>/dev/null &&
    die "offsets were committed although results were lost"
grep -E " unique-users: " "$work/fail.log" | tail -n 2
echo "PASS kafka_broker_down"
