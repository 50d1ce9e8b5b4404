#!/usr/bin/python3
"""The cost of one scrape of a Kafka job's /metrics (issue 20), beside bench/metrics_cost.sh.

Starts the dev broker and unique-users in Kafka mode with --metrics-port over 20,000 events,
measures the job's idle CPU (user + system from /proc) for 10 s, then scrapes /metrics N times
back to back and charges the job's CPU beyond idle to the scrapes. At one scrape a second the
cost is that many milliseconds of CPU a second: the share of a core the endpoint takes from a
job running flat out. Asserts nothing.
    bench/metrics_scrape_cost.py [N=2000]     (release build in build/bin)
"""
import os, socket, subprocess, sys, tempfile, time, urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
b = os.path.join(root, "build", "bin")
n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
procs = []
try:
    br = subprocess.Popen([f"{b}/weir-dev-broker", "--quiet"], stdout=subprocess.PIPE, text=True)
    procs.append(br)
    brokers = br.stdout.readline().strip()
    with tempfile.NamedTemporaryFile("w+") as f:
        subprocess.run([f"{b}/weir-gen", "--seed", "7", "--events", "20000", "--products", "200"],
                       stdout=f, check=True)
        f.seek(0)
        lines = "".join(l.split('"product_id":"', 1)[1].split('"', 1)[0] + "\t" + l for l in f)
    subprocess.run(["kcat", "-q", "-b", brokers, "-t", "ecom-raw-events", "-P", "-K", "\t"],
                   input=lines, text=True, check=True)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    j = subprocess.Popen([f"{b}/unique-users", "--brokers", brokers, "--input-topic",
                          "ecom-raw-events", "--output-topic", "ecom-analytics-results",
                          "--group-id", "scrape-cost", "--metrics-port", str(port)],
                         stderr=subprocess.DEVNULL)
    procs.append(j)
    tck = os.sysconf("SC_CLK_TCK")

    def cpu():
        f = open(f"/proc/{j.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / tck

    url = f"http://127.0.0.1:{port}/metrics"
    time.sleep(8)  # joined, the topic read
    body = urllib.request.urlopen(url).read()
    c0, t0 = cpu(), time.monotonic()
    time.sleep(10)
    idle = (cpu() - c0) / (time.monotonic() - t0)
    c0, t0 = cpu(), time.monotonic()
    for _ in range(n):
        urllib.request.urlopen(url).read()
    per = (cpu() - c0 - idle * (time.monotonic() - t0)) / n
    lines = body.count(b"\n")
    print(f"/metrics {len(body)} bytes, {lines} lines; idle job {idle * 1e3:.2f} ms CPU/s; "
          f"{per * 1e3:.3f} ms of the job's CPU a scrape over {n} scrapes: "
          f"{per * 100:.3f}% of one core at one scrape a second")
finally:
    for p in reversed(procs):
        p.terminate()
        p.wait()
