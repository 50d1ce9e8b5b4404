# Shared setup of the DynamoDB integration tests, sourced by test/it/dynamodb_*.sh (so not
# a .sh test itself): starts dynalite on a free 127.0.0.1 port, stops what a test started.
root=${WEIR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
rel=${WEIR_REL_BIN:-$root/build/bin}
py=/usr/bin/python3
util=$root/test/it/dynamodb_util.py
dynalite=$root/test/peers/node_modules/dynalite/cli.js
work=$(mktemp -d)
pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
die() { echo "FAIL: $*" >&2; exit 1; }

[[ -f $dynalite ]] || die "dynalite missing: run make deps (npm ci in test/peers)"
[[ -x $rel/weir-ddb ]] || die "$rel/weir-ddb not built"
export AWS_ACCESS_KEY_ID=weirtest AWS_SECRET_ACCESS_KEY=weir-secret-do-not-print
unset AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION

# start_dynalite: sets $ddb_url
start_dynalite() {
    local port
    port=$($py "$util" free-port)
    node "$dynalite" --host 127.0.0.1 --port "$port" --createTableMs 20 --deleteTableMs 20 \
        >"$work/dynalite.log" 2>&1 &
    pids+=($!)
    ddb_url=http://127.0.0.1:$port
    $py "$util" wait "$ddb_url" || die "dynalite did not start: $(cat "$work/dynalite.log")"
}
