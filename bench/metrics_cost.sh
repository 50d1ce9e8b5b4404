#!/usr/bin/env bash
# The cost of metrics (issue 20): paired runs of the file job over one input, metrics off and
# metrics on with /metrics scraped every second, the order alternating within each pair.
# Prints each pair and the median ratio (on/off) of wall time and of the job's CPU time (user +
# system from getrusage, the endpoint's thread included); on a shared machine the CPU ratio is
# the steadier figure.
# usage: bench/metrics_cost.sh INPUT [PAIRS]   (build/bin/unique-users, a release build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
J=${WEIR_BIN:-$root/build/bin}/unique-users
exec /usr/bin/python3 - "$J" "$1" "${2:-9}" <<'EOF'
import os, resource, socket, statistics, subprocess, sys, threading, time, urllib.request

job, inp, pairs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]

def run(on):
    port = free_port()
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
    p = subprocess.Popen(args, stderr=subprocess.DEVNULL)
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
    return wall, ru.ru_utime + ru.ru_stime, scrapes[0]

rows = []
for i in range(pairs):
    order = (True, False) if i % 2 else (False, True)
    got = {on: run(on) for on in order}
    (won, con, n), (woff, coff, _) = got[True], got[False]
    print(f"pair {i}: off {woff:.2f} s wall {coff:.3f} s cpu; on {won:.2f} s wall {con:.3f} s cpu, "
          f"{n} scrapes", flush=True)
    rows.append((won / woff, con / coff))
print(f"median ratio on/off over {pairs} pairs: wall {statistics.median(r[0] for r in rows):.4f}, "
      f"cpu {statistics.median(r[1] for r in rows):.4f}")
EOF
