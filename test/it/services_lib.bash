# Shared setup of the services' integration tests, sourced by test/it/services_*.sh: starts
# the dev broker and the ASan services on 127.0.0.1 free ports, stops everything a test
# started (also on failure), and requires every service to exit 0 on SIGTERM.
root=${WEIR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
bin=${WEIR_BIN:-$root/build/asan/bin}
rel=${WEIR_REL_BIN:-$root/build/bin}
py=/usr/bin/python3
work=$(mktemp -d)
pids=()
cleanups=()
cleanup() {
    local rc=$?
    local i # services first, the broker (started first) last
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do wait "${pids[i]}" 2>/dev/null || true; done
    for c in "${cleanups[@]}"; do eval "$c" || true; done
    if ((rc != 0)); then
        for l in "$work"/*.log; do
            [[ -f $l ]] || continue
            echo "--- $(basename "$l")" >&2
            tail -n 30 "$l" >&2
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
for b in product-service customer-service order-service; do
    [[ -x $bin/$b ]] || die "$bin/$b not built (make test builds the ASan services)"
done

# start_broker: sets $brokers.
start_broker() {
    "$rel/weir-dev-broker" --quiet >"$work/broker.out" 2>"$work/broker.log" &
    pids+=($!)
    brokers=
    for _ in $(seq 100); do
        brokers=$(head -n 1 "$work/broker.out" 2>/dev/null || true)
        [[ $brokers == *:* ]] && break
        brokers=
        sleep 0.05
    done
    [[ -n $brokers ]] || die "weir-dev-broker printed no address"
}

# start_service VAR NAME ARGS...: runs build/asan/bin/NAME on a free port; sets $VAR to its
# HOST:PORT (the first line it prints) and ${VAR}_pid.
start_service() {
    local var=$1 name=$2
    shift 2
    "$bin/$name" --listen 127.0.0.1:0 "$@" >"$work/$var.out" 2>"$work/$var.log" &
    local pid=$!
    pids+=("$pid")
    local a=
    for _ in $(seq 200); do
        a=$(head -n 1 "$work/$var.out" 2>/dev/null || true)
        [[ $a == 127.0.0.1:* ]] && break
        a=
        kill -0 "$pid" 2>/dev/null || die "$name exited: $(cat "$work/$var.log")"
        sleep 0.05
    done
    [[ -n $a ]] || die "$name printed no address"
    printf -v "$var" '%s' "$a"
    printf -v "${var}_pid" '%s' "$pid"
}

# stop_service PID NAME: SIGTERM, then a clean exit (0, no sanitizer report) within 20 s.
stop_service() {
    local pid=$1 name=$2 rc=0
    kill -TERM "$pid"
    for _ in $(seq 400); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    wait "$pid" || rc=$?
    ((rc == 0)) || die "$name exited $rc after SIGTERM"
}
