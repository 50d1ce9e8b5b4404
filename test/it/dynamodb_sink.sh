#!/usr/bin/env bash
# The DynamoDB sink against dynalite: items read back with boto3 equal the last firing of
# every (key, window), late firings included; the Query API returns what boto3's Query does;
# a global job writes under `window` = `all`. When the unique-users job has the sink wired,
# the job itself runs in file mode and its items equal its file output.
set -euo pipefail
source "$(dirname "$0")/dynamodb_lib.bash"
start_dynalite

# 1. Keyed firings with late firings, the table created by the sink.
$py "$util" gen "$work/firings.jsonl" --products 60 --windows 25 --seed 7 --late-share 0.4
out=$("$rel/weir-ddb" put --dynamodb-endpoint "$ddb_url" --dynamodb-table keyed \
    --dynamodb-create-table --input "$work/firings.jsonl") || die "weir-ddb put failed: $out"
echo "$out"
n=$(grep -c . "$work/firings.jsonl")
[[ $out == *"written=$n "* ]] || die "written counter is not $n: $out"
$py "$util" check "$ddb_url" keyed "$work/firings.jsonl" || die "items differ from the last firings"

# 2. The Query API of the client equals boto3's Query.
"$rel/weir-ddb" query --dynamodb-endpoint "$ddb_url" --dynamodb-table keyed --key 'prod "7"/é' \
    --from 2024-01-01T00:03:00.000Z --to 2024-01-01T00:09:00.000Z >"$work/q.jsonl"
$py "$util" query-check "$ddb_url" keyed "$work/firings.jsonl" 'prod "7"/é' \
    2024-01-01T00:03:00.000Z 2024-01-01T00:09:00.000Z <"$work/q.jsonl" || die "query differs"

# 3. A global job: key attribute `window`, value `all`, into a table made beforehand.
$py "$util" create-table "$ddb_url" global window
$py "$util" gen "$work/global.jsonl" --windows 40 --global --seed 3
"$rel/weir-ddb" put --global --dynamodb-endpoint "$ddb_url" --dynamodb-table global \
    --input "$work/global.jsonl" || die "global put failed"
$py "$util" check "$ddb_url" global "$work/global.jsonl" --pk window || die "global items differ"

# 4. The job itself in file mode: its items equal the last firing of every (product,
#    window) of its own file output, including windows that fired late more than once.
job=${WEIR_BIN:-$root/build/asan/bin}/unique-users
{
    $py - "$work/events.jsonl" <<'PY'
import json, random, sys
rnd = random.Random(11)
base = 1704067200
with open(sys.argv[1], "w") as f:
    t = base
    for i in range(6000):
        t += rnd.randint(0, 1)
        ts = t - rnd.randint(0, 20)  # out of order, some late
        f.write(json.dumps({"user_id": f"u{rnd.randint(0, 300)}",
                            "product_id": str(rnd.randint(0, 40)),
                            "event_type": "VIEW_PRODUCT", "timestamp": ts}) + "\n")
PY
    "$job" --input "$work/events.jsonl" --output "$work/job.jsonl" --allowed-lateness 30s \
        --dynamodb-endpoint "$ddb_url" --dynamodb-table jobtable --dynamodb-create-table \
        || die "unique-users with --dynamodb-endpoint failed"
    $py - "$work/job.jsonl" <<'PY' || die "the data did not make a window fire late twice"
import collections, json, sys
late = collections.Counter((o["product_id"], o["window_start"])
                           for o in map(json.loads, open(sys.argv[1])) if o.get("late"))
assert late and max(late.values()) >= 2, late.most_common(3)
PY
    $py "$util" check "$ddb_url" jobtable "$work/job.jsonl" || die "job items differ from its file output"
    # A missing table stops the job at start with exit status 2 and says why.
    rc=0
    "$job" --input "$work/events.jsonl" --output "$work/job2.jsonl" \
        --dynamodb-endpoint "$ddb_url" --dynamodb-table absent 2>"$work/job.err" || rc=$?
    [[ $rc -eq 2 ]] || die "job with a missing table: exit $rc, want 2"
    grep -q 'table "absent" does not exist' "$work/job.err" || die "job: unclear error: $(cat "$work/job.err")"
    [[ $(wc -l <"$work/job.err") -eq 1 ]] || die "job: more than one line: $(cat "$work/job.err")"
    # A wrong endpoint and missing credentials: the same, at start.
    closed=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rc=0
    "$job" --input "$work/events.jsonl" --output /dev/null --dynamodb-endpoint "http://127.0.0.1:$closed" \
        --dynamodb-table jobtable 2>"$work/job.err" || rc=$?
    [[ $rc -eq 2 && $(wc -l <"$work/job.err") -eq 1 ]] || die "job with a wrong endpoint: exit $rc: $(cat "$work/job.err")"
    rc=0
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$job" --input "$work/events.jsonl" --output /dev/null \
        --dynamodb-endpoint "$ddb_url" --dynamodb-table jobtable 2>"$work/job.err" || rc=$?
    [[ $rc -eq 2 && $(wc -l <"$work/job.err") -eq 1 ]] && grep -q credentials "$work/job.err" \
        || die "job without credentials: exit $rc: $(cat "$work/job.err")"
}
echo "dynamodb_sink: ok"
