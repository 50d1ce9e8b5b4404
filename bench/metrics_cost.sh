#!/usr/bin/env bash
# The cost of metrics (issue 20): paired runs of the file job over one input, metrics off and
# metrics on with /metrics scraped every second, the order alternating within each pair.
# Prints each pair and the median ratio (on/off) of wall time and of the job's CPU time (user +
# system from getrusage, the endpoint's thread included); on a shared machine the CPU ratio is
# the steadier figure.
# With --kafka the job reads INPUT from the dev broker instead: the file is produced once to
# ecom-raw-events (8 partitions, keyed by product) and every run is a new consumer group that
# reads it from the beginning and stops 1 s after the topic is drained (--stop-when-idle), so
# wall time carries that second and the CPU ratio is the figure to read.
# usage: bench/metrics_cost.sh [--kafka] INPUT [PAIRS]   (build/bin, a release build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${WEIR_BIN:-$root/build/bin}
J=$bin/unique-users
brokers=
if [[ ${1:-} == --kafka ]]; then
    shift
    work=$(mktemp -d)
    "$bin/weir-dev-broker" --quiet >"$work/broker.out" 2>"$work/broker.log" &
    broker_pid=$!
    trap 'kill $broker_pid 2>/dev/null; wait $broker_pid 2>/dev/null; rm -rf "$work"' EXIT
    for _ in $(seq 100); do
        brokers=$(head -n 1 "$work/broker.out" 2>/dev/null || true)
        [[ $brokers == *:* ]] && break
        sleep 0.05
    done
    [[ $brokers == *:* ]] || { echo "the dev broker did not start" >&2; exit 1; }
    sed -E 's/^(.*"product_id":"?([^",}]*)"?[,}].*)$/\2\t\1/; t; s/^/\t/' "$1" |
        kcat -q -b "$brokers" -t ecom-raw-events -P -K $'\t' -X partitioner=murmur2_random
fi
/usr/bin/python3 - "$J" "$1" "${2:-9}" "$brokers" <<'EOF'
import json, os, resource, socket, statistics, subprocess, sys, threading, time, urllib.request

job, inp, pairs, brokers = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
runs = [0]
expect = [0]

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]

def run(on):
    port = free_port()
    if brokers:
        runs[0] += 1
        args = [job, "--brokers", brokers, "--input-topic", "ecom-raw-events",
                "--output-topic", "ecom-analytics-results", "--group-id", f"cost-{runs[0]}",
                "--stop-when-idle", "1s", "--drain"]
    else:
        args = [job, "--input", inp, "--output", "/dev/null"]
    if on:
        args += ["--metrics-port", str(port)]
    stop = threading.Event()
    scrapes = [0]
    def scrape():
        while not stop.wait(1.0):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read()
                scrapes[0] += 1
            except OSError:
                pass
    t0 = time.monotonic()
    err = open(os.devnull, "w") if not brokers else open(f"/tmp/metrics_cost.{os.getpid()}.log", "w+")
    p = subprocess.Popen(args, stderr=err)
    th = threading.Thread(target=scrape)
    if on:
        th.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    stop.set()
    if on:
        th.join()
    if status:
        sys.exit(f"{args} exited {status}")
    if brokers:  # every run must have read the whole topic
        err.seek(0)
        records = json.loads(err.read().strip().splitlines()[-1])["records"]
        err.close()
        os.unlink(err.name)
        if records != expect[0]:
            if expect[0]:
                sys.exit(f"a run read {records} records, the first {expect[0]}")
            expect[0] = records
    return wall, ru.ru_utime + ru.ru_stime, scrapes[0]

rows = []
for i in range(pairs):
    order = (True, False) if i % 2 else (False, True)
    got = {on: run(on) for on in order}
    (won, con, n), (woff, coff, _) = got[True], got[False]
    print(f"pair {i}: off {woff:.2f} s wall {coff:.3f} s cpu; on {won:.2f} s wall {con:.3f} s cpu, "
          f"{n} scrapes", flush=True)
    rows.append((won / woff, con / coff))
if brokers:
    print(f"each run read {expect[0]} records from the dev broker")
print(f"median ratio on/off over {pairs} pairs: wall {statistics.median(r[0] for r in rows):.4f}, "
      f"cpu {statistics.median(r[1] for r in rows):.4f}")
EOF
