# The command lines of activity-service, api-gateway and product-import: bad flags exit 2 with
# one line; the seeds' environment variables (KAFKA_BOOTSTRAP_SERVERS, KAFKA_INPUT_TOPIC,
# PRODUCT_API_URL, DYNAMODB_TABLE, AWS_REGION) are used and flags win over them; no AWS
# secret in any output.
set -euo pipefail
source "$(dirname "$0")/services_lib.bash"
bad_usage() { # EXPECTED_WORD BINARY ARGS...
    local want=$1 name=$2 rc=0
    shift 2
    "$bin/$name" "$@" >"$work/usage.out" 2>"$work/usage.err" || rc=$?
    ((rc == 2)) || die "$name $*: exit $rc, expected 2 ($(cat "$work/usage.err"))"
    [[ $(wc -l <"$work/usage.err") -eq 1 ]] || die "$name $*: not one line: $(cat "$work/usage.err")"
    grep -q -- "$want" "$work/usage.err" || die "$name $*: no '$want' in: $(cat "$work/usage.err")"
}
unset KAFKA_BOOTSTRAP_SERVERS KAFKA_INPUT_TOPIC PRODUCT_API_URL DYNAMODB_TABLE AWS_REGION
bad_usage --brokers activity-service
bad_usage --db activity-service --brokers 127.0.0.1:1 --db x.db
bad_usage --queue-messages activity-service --brokers 127.0.0.1:1 --queue-messages 0
bad_usage --topic activity-service --brokers 127.0.0.1:1 --topic ''
bad_usage --products api-gateway --products ftp://x
bad_usage --timeout-ms api-gateway --timeout-ms 0
bad_usage --bogus api-gateway --bogus
bad_usage --listen api-gateway --listen nope
bad_usage --dynamodb-endpoint api-gateway --dynamodb-endpoint nope
for b in activity-service api-gateway product-import; do
    "$bin/$b" --help >"$work/help.out" || die "$b --help failed"
    [[ -s $work/help.out ]] || die "$b --help printed nothing"
done

start_broker
# KAFKA_BOOTSTRAP_SERVERS and KAFKA_INPUT_TOPIC are used; --topic wins over the latter.
KAFKA_BOOTSTRAP_SERVERS=$brokers KAFKA_INPUT_TOPIC=orders start_service a1 activity-service
KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1 KAFKA_INPUT_TOPIC=orders start_service a2 activity-service \
    --brokers "$brokers" --topic ecom-analytics-results
for a in "$a1" "$a2"; do
    curl -sf -H 'Content-Type: application/json' \
        -d "{\"user_id\":\"u\",\"product_id\":\"$a\",\"timestamp\":1}" "http://$a/events" >/dev/null ||
        die "POST /events to $a"
done
stop_service "$a1_pid" activity-service
stop_service "$a2_pid" activity-service
kcat -q -b "$brokers" -C -e -o beginning -t orders | grep -q "\"$a1\"" ||
    die "KAFKA_INPUT_TOPIC not used"
kcat -q -b "$brokers" -C -e -o beginning -t ecom-analytics-results | grep -q "\"$a2\"" ||
    die "--topic did not win over KAFKA_INPUT_TOPIC"

# PRODUCT_API_URL is used and --products wins; DYNAMODB_TABLE and AWS_REGION are used and
# --dynamodb-table wins; the secret key is never printed.
export AWS_ACCESS_KEY_ID=weirtest AWS_SECRET_ACCESS_KEY=gw-secret-$RANDOM-do-not-print
start_service products product-service --db "$work/shop.db"
PRODUCT_API_URL=http://$products DYNAMODB_TABLE=t-env AWS_REGION=eu-west-1 \
    start_service g1 api-gateway
PRODUCT_API_URL=http://127.0.0.1:1 DYNAMODB_TABLE=t-env start_service g2 api-gateway \
    --products "http://$products" --dynamodb-table t-flag --dynamodb-endpoint http://127.0.0.1:1
for g in "$g1" "$g2"; do
    curl -sf "http://$g/products" >/dev/null || die "GET /products through $g"
done
grep -q 'analytics_table=t-env .*analytics_endpoint=https://dynamodb.eu-west-1.amazonaws.com' "$work/g1.log" ||
    die "DYNAMODB_TABLE / AWS_REGION not used: $(cat "$work/g1.log")"
grep -q 'analytics_table=t-flag' "$work/g2.log" || die "--dynamodb-table did not win"
curl -s "http://$g2/analytics/products/1" | grep -q service_unavailable ||
    die "DynamoDB unreachable is not a 503"
stop_service "$g1_pid" api-gateway
stop_service "$g2_pid" api-gateway
! grep -rq "$AWS_SECRET_ACCESS_KEY" "$work" || die "the AWS secret key was printed"
echo "ok"
