# Shared by the metrics tests (sourced, not run). The sourcing script defines `fail`, `work`
# (its temporary directory) and `root` (the project) before calling any of these.

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# promcheck FILE WHAT: `promtool check metrics` finds no error and no warning in FILE.
promcheck() {
    if ! promtool check metrics <"$1" >"$work/promtool.out" 2>&1 || [[ -s $work/promtool.out ]]; then
        cat "$work/promtool.out" >&2
        fail "$2: promtool check metrics found problems"
    fi
}

# metric_val FILE SERIES: the value of SERIES (name and labels as exposed) in a scrape.
metric_val() {
    awk -v s="$2" '$1 == s { print $2 }' "$1"
}

# check_json_log FILE: every line of a --log-format json log parses with ts, level, binary
# and msg (the run summary aside), and there is at least one.
check_json_log() {
    /usr/bin/python3 - "$1" <<'PY' || fail "the JSON log $1 does not parse"
import json, sys
n = 0
for line in open(sys.argv[1]):
    entry = json.loads(line)
    if "records" in entry and "msg" not in entry:
        continue  # the run summary
    for k in ("ts", "level", "binary", "msg"):
        if k not in entry:
            sys.exit(f"log line without {k}: {line}")
    n += 1
if not n:
    sys.exit("nothing logged")
print(f"log: {n} JSON lines")
PY
}

# start_prometheus CONFIG: a real Prometheus on a free loopback port, storage under $work,
# log in $work/prometheus.log; sets pport and ppid_ (the caller's cleanup kills ppid_) and
# returns once it is ready.
start_prometheus() {
    pport=$(free_port)
    /usr/bin/prometheus --config.file="$1" --storage.tsdb.path="$work/data" \
        --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$work/prometheus.log" 2>&1 &
    ppid_=$!
    for _ in $(seq 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$pport/-/ready" && return 0
        kill -0 "$ppid_" 2>/dev/null || fail "prometheus exited"
        sleep 0.1
    done
    fail "prometheus not ready in 30 s"
}

# start_dynalite: dynalite (test/peers) on a free loopback port; sets dport and dpid (the
# caller's cleanup kills dpid) and returns once it answers (or after 10 s: the job's DynamoDB
# requests then fail, and the test with them).
start_dynalite() {
    local dynalite=$root/test/peers/node_modules/dynalite/cli.js
    [[ -f $dynalite ]] || fail "dynalite missing: run make deps (npm ci in test/peers)"
    dport=$(free_port)
    node "$dynalite" --host 127.0.0.1 --port "$dport" --createTableMs 20 >"$work/dynalite.log" 2>&1 &
    dpid=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$dport" && return 0
        sleep 0.1
    done
}
