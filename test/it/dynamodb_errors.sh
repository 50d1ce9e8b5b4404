#!/usr/bin/env bash
# The DynamoDB sink refuses to start, with one line and exit status 2, on a missing table,
# a wrong endpoint, missing credentials and refused credentials; no message shows the secret.
set -euo pipefail
source "$(dirname "$0")/dynamodb_lib.bash"
start_dynalite
$py "$util" create-table "$ddb_url" present product_id

expect_fail() { # name, pattern, command...
    local name=$1 pattern=$2
    shift 2
    local rc=0
    "$@" </dev/null >"$work/out" 2>"$work/err" || rc=$?
    local lines
    lines=$(grep -c . "$work/err" || true)
    echo "$name: exit $rc: $(cat "$work/err")"
    [[ $rc -eq 2 ]] || die "$name: exit status $rc, want 2"
    [[ $lines -eq 1 ]] || die "$name: $lines lines on stderr, want one"
    grep -qE "$pattern" "$work/err" || die "$name: message does not match /$pattern/"
    ! grep -q "$AWS_SECRET_ACCESS_KEY" "$work/err" "$work/out" || die "$name: the secret leaked"
    [[ -z ${AWS_SESSION_TOKEN:-} ]] || ! grep -qF "$AWS_SESSION_TOKEN" "$work/err" \
        || die "$name: the session token leaked"
}

expect_fail "missing table" 'table "absent" does not exist.*\[not found\]' \
    "$rel/weir-ddb" put --dynamodb-endpoint "$ddb_url" --dynamodb-table absent

dead=$($py "$util" free-port)
expect_fail "wrong endpoint" "cannot reach http://127.0.0.1:$dead/.*\[input/output error\]" \
    "$rel/weir-ddb" put --dynamodb-endpoint "http://127.0.0.1:$dead" --dynamodb-table present

expect_fail "missing credentials" 'no AWS credentials: AWS_ACCESS_KEY_ID not set \[authentication failed\]' \
    env -u AWS_ACCESS_KEY_ID "$rel/weir-ddb" put --dynamodb-endpoint "$ddb_url" \
    --dynamodb-table present

expect_fail "no region, no endpoint" 'no AWS region' \
    "$rel/weir-ddb" put --dynamodb-table present

# Refused credentials: the proxy answers UnrecognizedClientException for one access key.
rm -f "$work/proxy.port"
$py "$root/test/it/dynamodb_proxy.py" "${ddb_url##*:}" "$work/proxy.port" --fault-share 0 \
    --reject-key REFUSEDKEY 2>"$work/proxy.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/proxy.port ]] && break; sleep 0.05; done
proxy_url=http://127.0.0.1:$(cat "$work/proxy.port")
AWS_ACCESS_KEY_ID=REFUSEDKEY AWS_SESSION_TOKEN=weir-token-do-not-print \
    expect_fail "refused credentials" 'UnrecognizedClientException.*\[authentication failed\]' \
    "$rel/weir-ddb" put --dynamodb-endpoint "$proxy_url" --dynamodb-table present

# The table exists but with other keys: a clear error, not failed writes later.
$py "$util" create-table "$ddb_url" otherkeys customer_id
expect_fail "wrong key schema" 'has the key \(customer_id, window_start\).*\[invalid argument\]' \
    "$rel/weir-ddb" put --dynamodb-endpoint "$ddb_url" --dynamodb-table otherkeys

# One item the service rejects for good (an empty key): reported with its key and the
# service's message, exit 1, and the other items of its batch are still written.
$py - >"$work/bad.jsonl" <<'PY'
import json
for i in range(30):
    print(json.dumps({"product_id": "" if i == 17 else f"p{i}", "window_start": "2024-01-01T00:00:00Z",
                      "window_end": "2024-01-01T00:01:00Z", "unique_user_count": i, "event_count": i}))
PY
rc=0
"$rel/weir-ddb" put --dynamodb-endpoint "$ddb_url" --dynamodb-table present \
    --input "$work/bad.jsonl" >"$work/out" 2>"$work/err" || rc=$?
echo "rejected item: exit $rc: $(cat "$work/err")"
[[ $rc -eq 1 ]] || die "rejected item: exit $rc, want 1"
grep -q 'rejected item product_id="" window_start=2024-01-01T00:00:00.000Z: ValidationException' \
    "$work/err" || die "rejected item: the message lacks the key or the service's reason"
count=$($py -c "import sys; sys.path.insert(0, '$root/test/it'); import dynamodb_util as u
print(sum(1 for it in u.scan('$ddb_url', 'present') if it['product_id']['S'].startswith('p')))")
[[ $count -eq 29 ]] || die "rejected item: $count of the 29 valid items were written"

# An item over DynamoDB's 400 KB limit is refused before it is sent, naming its key.
$py -c 'import json; print(json.dumps({"product_id": "big" + "x" * 420000, "window_start": "2024-01-01T00:00:00Z", "window_end": "2024-01-01T00:01:00Z", "unique_user_count": 1, "event_count": 1}))' >"$work/big.jsonl"
rc=0
"$rel/weir-ddb" put --dynamodb-endpoint "$ddb_url" --dynamodb-table present \
    --input "$work/big.jsonl" >"$work/out" 2>"$work/err" || rc=$?
echo "oversized item: exit $rc: $(cut -c1-160 "$work/err")"
[[ $rc -eq 1 ]] || die "oversized item: exit $rc, want 1"
grep -q 'item product_id="bigxxx.*exceeds the 400 KB item limit' "$work/err" \
    || die "oversized item: no clear message"

# And the same sink starts fine on the good table (the failures above are not the tool's).
echo '{"product_id":"1","window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z","unique_user_count":1,"event_count":1}' \
    | "$rel/weir-ddb" put --dynamodb-endpoint "$ddb_url" --dynamodb-table present \
    || die "the good table failed"
echo "dynamodb_errors: ok"
