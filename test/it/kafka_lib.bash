# Shared setup of the Kafka integration tests, sourced by test/it/kafka_*.sh (so not a .sh
# test itself): starts weir-dev-broker on 127.0.0.1 (it picks free ports and prints its
# bootstrap address), runs the job, stops everything a test started, also on failure.
root=${WEIR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
bin=${WEIR_BIN:-$root/build/asan/bin}
rel=${WEIR_REL_BIN:-$root/build/bin}
py=/usr/bin/python3
util=$root/test/it/kafka_util.py
work=$(mktemp -d)
pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if ((rc != 0)) && [[ -f $work/broker.log ]]; then
        echo "--- broker log" >&2
        tail -n 20 "$work/broker.log" >&2
    fi
    if ((rc != 0)); then # each job's group membership and summary, for the diagnosis
        for l in "$work"/*.log; do
            [[ -f $l && $l != */broker.log ]] || continue
            echo "--- $(basename "$l")" >&2
            grep -E ' unique-users: (assigned|revoked|lost|kafka mode)|"mode"' "$l" | tail -n 12 >&2 || true
        done
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
die() {
    echo "FAIL: $*" >&2
    exit 1
}

for b in "$bin/unique-users" "$rel/weir-dev-broker" "$rel/weir-gen"; do
    [[ -x $b ]] || die "$b not built (make)"
done
command -v kcat >/dev/null || die "kcat missing (make deps)"
$py -c 'import kafka' 2>/dev/null || die "python3-kafka missing (make deps)"

# start_broker [--topic NAME:PARTITIONS]...: sets $brokers and $broker_pid.
start_broker() {
    "$rel/weir-dev-broker" "$@" >"$work/broker.out" 2>"$work/broker.log" &
    broker_pid=$!
    pids+=("$broker_pid")
    brokers=
    for _ in $(seq 100); do
        brokers=$(head -n 1 "$work/broker.out" 2>/dev/null || true)
        [[ $brokers == *:* && $(wc -l <"$work/broker.out") -ge 1 ]] && break
        brokers=
        kill -0 "$broker_pid" 2>/dev/null || die "weir-dev-broker exited: $(cat "$work/broker.log")"
        sleep 0.05
    done
    [[ -n $brokers ]] || die "weir-dev-broker printed no address"
    echo "dev broker at $brokers"
}

# Keyed lines for kcat -K '\t': "<product_id>\t<record>" (records without one get key "").
keyed() {
    sed -E 's/^(.*"product_id":"?([^",}]*)"?[,}].*)$/\2\t\1/; t; s/^/\t/' "$1"
}

# kcat_produce TOPIC FILE: keyed by product_id, partitioned as Java and kafka-python do.
kcat_produce() {
    keyed "$2" | kcat -q -b "$brokers" -t "$1" -P -K $'\t' -X partitioner=murmur2_random \
        -X enable.idempotence=true || die "kcat could not produce to $1"
}

# kcat_read TOPIC OUT: every message as "partition<TAB>key<TAB>timestamp<TAB>value".
kcat_read() {
    kcat -q -b "$brokers" -t "$1" -C -e -o beginning -f '%p\t%k\t%T\t%s\n' >"$2" ||
        die "kcat could not read $1"
}

# run_job LOG ARGS...: the ASan job in Kafka mode; its summary line is the last line of LOG.
run_job() {
    local log=$1
    shift
    "$bin/unique-users" --brokers "$brokers" -X kafka.consumer.session.timeout.ms=6000 "$@" \
        2>"$log" || die "the job failed ($?): $(tail -n 5 "$log")"
    grep -q '"mode":"kafka"' "$log" || die "no summary in $log"
}

# summary_field LOG KEY: a number from the job's summary line.
summary_field() {
    grep '"mode":"kafka"' "$1" | tail -n 1 | $py -c \
        "import json,sys; d=json.loads(sys.stdin.read()); k=sys.argv[1].split('.'); v=d
for p in k: v=v[p]
print(v)" "$2"
}

# file_job OUT IN [ARGS...]: the file-mode job over IN.
file_job() {
    local out=$1 in=$2
    shift 2
    "$bin/unique-users" --input "$in" --output "$out" "$@" 2>"$out.summary" ||
        die "the file job failed: $(cat "$out.summary")"
}

# wait_log FILE PATTERN SECONDS: waits until FILE contains PATTERN.
wait_log() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    die "no \"$2\" in $1 after $3 s: $(tail -n 5 "$1" 2>/dev/null)"
}

# start_job LOG ARGS...: the job in the background; sets $job_pid. Check it with finish_job.
start_job() {
    local log=$1
    shift
    "$bin/unique-users" --brokers "$brokers" -X kafka.consumer.session.timeout.ms=6000 "$@" \
        2>"$log" &
    job_pid=$!
    pids+=("$job_pid")
}

# finish_job LOG: waits for the background job and requires a clean exit with a summary.
finish_job() {
    local rc=0
    wait "$job_pid" || rc=$?
    ((rc == 0)) || die "the job exited $rc: $(tail -n 8 "$1")"
    grep -q '"mode":"kafka"' "$1" || die "no summary in $1"
}
