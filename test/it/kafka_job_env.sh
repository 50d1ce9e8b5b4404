#!/usr/bin/env bash
# The seeds' environment variables configure unique-users when no flag or --config line does
# (KAFKA_BOOTSTRAP_SERVERS, KAFKA_INPUT_TOPIC, KAFKA_OUTPUT_TOPIC, DYNAMODB_TABLE, AWS_REGION),
# and flags and --config win over them: seen in --check-config's "configuration ok" line and
# in a run against the dev broker configured by the environment alone. No secret is logged.
source "$(dirname "$0")/kafka_lib.bash"
unset KAFKA_BOOTSTRAP_SERVERS KAFKA_INPUT_TOPIC KAFKA_OUTPUT_TOPIC DYNAMODB_TABLE AWS_REGION \
    AWS_DEFAULT_REGION AWS_SESSION_TOKEN
export AWS_ACCESS_KEY_ID=AKIAENVTESTKEY7EXAMP
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYenvtestKEY1

# check_ok LOG KEY=VALUE...: the JSON "configuration ok" line holds these fields.
check_ok() {
    local log=$1
    shift
    $py - "$log" "$@" <<'PY' || die "configuration ok in $log is not as expected: $(cat "$log")"
import json, sys
ok = [json.loads(l) for l in open(sys.argv[1]) if '"configuration ok"' in l]
assert len(ok) == 1, ok
for kv in sys.argv[2:]:
    k, _, v = kv.partition("=")
    got = ok[0].get(k)
    assert (got is None and v == "-") or got == v, (k, got, v)
PY
}

u=$bin/unique-users
KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 KAFKA_INPUT_TOPIC=raw-env KAFKA_OUTPUT_TOPIC=out-env \
    DYNAMODB_TABLE=table-env AWS_REGION=eu-west-1 \
    "$u" --check-config --log-format json 2>"$work/c1.log" || die "--check-config refused the environment"
check_ok "$work/c1.log" mode=kafka brokers=127.0.0.1:19092 input_topic=raw-env output_topic=out-env \
    dynamodb_table=table-env aws_region=eu-west-1
echo "ok: the environment alone configures the job"

printf 'input.topic=raw-file\n' >"$work/job.conf"
KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 KAFKA_INPUT_TOPIC=raw-env KAFKA_OUTPUT_TOPIC=out-env \
    DYNAMODB_TABLE=table-env AWS_REGION=eu-west-1 \
    "$u" --check-config --log-format json --brokers 127.0.0.1:29092 --config "$work/job.conf" \
    --output-topic '' --dynamodb-table table-flag -X aws.region=us-east-2 2>"$work/c2.log" ||
    die "--check-config refused flags over the environment"
check_ok "$work/c2.log" brokers=127.0.0.1:29092 input_topic=raw-file output_topic= \
    dynamodb_table=table-flag aws_region=us-east-2
"$u" --check-config --log-format json 2>"$work/c3.log" || die "--check-config without environment"
check_ok "$work/c3.log" mode=file brokers=- dynamodb_table=-
grep -qF -e "$AWS_SECRET_ACCESS_KEY" -e "$AWS_ACCESS_KEY_ID" "$work"/c*.log && die "a secret is in the log"
"$u" --help | grep -q "env KAFKA_BOOTSTRAP_SERVERS" || die "--help does not name KAFKA_BOOTSTRAP_SERVERS"
echo "ok: flags, -X and --config win over the environment; --help names the variables"

# A run configured by the environment alone: records in raw-env, firings out on out-env.
start_broker --topic raw-env:2 --topic out-env:2
"$rel/weir-gen" --seed 7 --events 2000 --products 20 --users 100 --start-ms 1700000000000 \
    >"$work/events.jsonl"
kcat_produce raw-env "$work/events.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$brokers KAFKA_INPUT_TOPIC=raw-env KAFKA_OUTPUT_TOPIC=out-env \
    "$u" --group-id env-test --stop-when-idle 2s --drain --output /dev/null --log-format json \
    -X kafka.consumer.session.timeout.ms=6000 2>"$work/run.log" ||
    die "the job configured by the environment failed: $(tail -n 5 "$work/run.log")"
[[ $(summary_field "$work/run.log" records) == 2000 ]] || die "not 2000 records read: $(tail -n 1 "$work/run.log")"
kcat_read out-env "$work/out.tsv"
[[ -s $work/out.tsv ]] || die "no firing on out-env"
grep -qF -e "$AWS_SECRET_ACCESS_KEY" -e "$AWS_ACCESS_KEY_ID" "$work/run.log" && die "a secret is in the log"
echo "ok: a run configured by the environment read 2000 records and wrote $(wc -l <"$work/out.tsv") firings to out-env"
echo "kafka_job_env: ok"
