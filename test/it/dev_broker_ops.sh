#!/usr/bin/env bash
# weir-dev-broker is operated as every other binary: --check-config exits 0 without starting
# the cluster (no address printed), or 2 with one line naming a bad flag and what it accepts;
# --log-format json makes every stderr line a JSON object (ts, level, binary, msg), its own and
# librdkafka's alike, while the first stdout line stays the bootstrap address; --log-level
# error keeps the info lines out; SIGTERM stops it with exit 0.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${WEIR_BIN:-$root/build/asan/bin}/weir-dev-broker
[[ -x $B ]] || { echo "dev_broker_ops: $B not built" >&2; exit 1; }
work=$(mktemp -d)
bpid=
cleanup() {
    [[ -n $bpid ]] && { kill "$bpid" 2>/dev/null || true; wait "$bpid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "dev_broker_ops: $*" >&2
    [[ -s $work/err ]] && { echo "--- stderr" >&2; tail -n 20 "$work/err" >&2; }
    exit 1
}

# --check-config: 0, one "configuration ok" line, nothing on stdout (no cluster started).
rc=0; "$B" --topic raw:3 --brokers 2 --log-format json --check-config >"$work/out" 2>"$work/err" || rc=$?
((rc == 0)) || fail "--check-config exit $rc"
[[ ! -s $work/out ]] || fail "--check-config started the cluster: $(cat "$work/out")"
/usr/bin/python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
e = json.loads(lines[0])
assert e["msg"] == "configuration ok" and e["binary"] == "weir-dev-broker", e
' "$work/err" || fail "--check-config did not log one JSON \"configuration ok\" line"
echo "ok: --check-config exits 0 without starting"

# Bad flags: exit 2, one line naming the flag and what it accepts, in JSON when asked first.
check_bad() { # expected-words... -- args...
    local words=() a
    while [[ $1 != -- ]]; do words+=("$1"); shift; done
    shift
    rc=0; "$B" "$@" --check-config >"$work/out" 2>"$work/err" || rc=$?
    ((rc == 2)) || fail "$* exit $rc, not 2"
    [[ $(wc -l <"$work/err") -eq 1 ]] || fail "$*: not one line"
    for a in "${words[@]}"; do grep -qF -- "$a" "$work/err" || fail "$*: no \"$a\" in: $(cat "$work/err")"; done
}
check_bad --log-format text json -- --log-format xml
check_bad --log-level debug error -- --log-level loud
check_bad --brokers 1..16 -- --brokers 0
check_bad --topic NAME:PARTITIONS -- --topic :3
check_bad --nope unknown -- --nope
check_bad --log-level '"level":"error"' -- --log-format json --log-level
echo "ok: bad flags exit 2 with one line naming the flag"

# Running with JSON logs: the address first on stdout, every stderr line JSON.
"$B" --topic raw:2 --log-format json >"$work/out" 2>"$work/err" &
bpid=$!
for _ in $(seq 100); do [[ -s $work/out ]] && break; sleep 0.05; done
addr=$(head -n 1 "$work/out")
[[ $addr =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "first stdout line is not the address: $addr"
kill -USR1 "$bpid"
for _ in $(seq 100); do grep -q "brokers down" "$work/err" && break; sleep 0.05; done
kill -USR2 "$bpid"
for _ in $(seq 100); do grep -q "brokers up" "$work/err" && break; sleep 0.05; done
kill -TERM "$bpid"
rc=0; wait "$bpid" || rc=$?
bpid=
((rc == 0)) || fail "exit $rc on SIGTERM"
/usr/bin/python3 -c '
import json, sys
msgs = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    for k in ("ts", "level", "binary", "msg"):
        assert k in e, (k, line)
    assert e["binary"] == "weir-dev-broker", line
    msgs.append(e["msg"])
for want in ("topic raw with 2 partitions", "brokers down", "brokers up"):
    assert want in msgs, (want, msgs)
assert any(m.startswith("listening on 127.0.0.1:") for m in msgs), msgs
assert any(m.endswith(": stopping") for m in msgs), msgs
' "$work/err" || fail "the JSON log is not as expected"
echo "ok: JSON log lines, the address first on stdout, exit 0 on SIGTERM"

# --log-level error (and --quiet): no info lines.
"$B" --topic raw:1 --log-level error >"$work/out" 2>"$work/err" &
bpid=$!
for _ in $(seq 100); do [[ -s $work/out ]] && break; sleep 0.05; done
kill -TERM "$bpid"
wait "$bpid" || fail "exit $? on SIGTERM"
bpid=
[[ ! -s $work/err ]] || fail "--log-level error still logged: $(cat "$work/err")"
echo "dev_broker_ops: ok"
