#!/usr/bin/python3
"""Two-instance chaos for weir's exactly-once Kafka job (issue 21).

  drive: produces a file of events into a topic at a fixed rate while two instances of the
         job run in one group; every few seconds (uniform in --gap) one of them, chosen at
         random, is SIGKILLed at that random instant and restarted at once, for --seconds;
         then the events stop and the instances drain and stop by themselves.
  check: reads the results topic with a read_committed consumer (kcat) and compares each
         partition's firings, in order, with the reference model's firing sequence over the
         input partition of the same number (input and results are both partitioned by
         product with murmur2, so partition p of the results holds exactly what the pipeline
         of input partition p fired): nothing missing, nothing twice, nothing reordered.
"""
import argparse
import calendar
import collections
import datetime
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kafka_crash import Pacer  # noqa: E402
from kafka_util import lines, read_all  # noqa: E402


def cmd_drive(a):
    pacer = Pacer(a.brokers, a.topic, lines(a.events), a.rate)
    job = a.job[1:] if a.job and a.job[0] == "--" else a.job
    rnd = random.Random(a.seed)
    n = [0]

    def start(i):
        n[0] += 1
        log = open(f"{a.log}.{i}.{n[0]}", "wb")
        return subprocess.Popen(job, stdout=subprocess.DEVNULL, stderr=log)

    inst = [start(0), start(1)]
    kills = 0
    try:
        pacer.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < a.seconds:
            time.sleep(rnd.uniform(*a.gap))
            v = rnd.randrange(2)
            if inst[v].poll() is not None:
                sys.exit(f"instance {v} exited ({inst[v].returncode}) before a kill")
            inst[v].send_signal(signal.SIGKILL)
            inst[v].wait()
            kills += 1
            inst[v] = start(v)
        pacer.stop.set()
        pacer.join(120)
        print(f"{kills} kills in {time.monotonic() - t0:.0f} s, {pacer.sent} events produced",
              flush=True)
        for v, p in enumerate(inst):
            rc = p.wait(a.final_timeout)
            if rc != 0:
                sys.exit(f"instance {v} exited {rc} at the end")
    except subprocess.TimeoutExpired:
        sys.exit(f"an instance did not drain and stop within {a.final_timeout} s")
    finally:
        pacer.stop.set()
        for p in inst:
            if p.poll() is None:
                p.kill()
                p.wait()


def ms(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(d.timetuple()) * 1000 + d.microsecond // 1000


def cmd_check(a):
    by_part = collections.defaultdict(list)
    for m in read_all(a.brokers, a.input):
        by_part[m.partition].append(m.value)
    out = subprocess.run(["kcat", "-q", "-b", a.brokers, "-t", a.output, "-C", "-e", "-o",
                          "beginning", "-X", "isolation.level=read_committed", "-f", "%p\t%s\n"],
                         check=True, capture_output=True).stdout.decode()
    got = collections.defaultdict(list)
    for line in out.splitlines():
        p, v = line.split("\t", 1)
        o = json.loads(v)
        got[int(p)].append([o.get("product_id", ""), ms(o["window_start"]), ms(o["window_end"]),
                            o["unique_user_count"], o["event_count"], o.get("late", False)])
    bad = total = 0
    for p in range(a.partitions):
        path = f"{a.work}/in.{p}.jsonl"
        with open(path, "wb") as f:
            for rec in by_part.get(p, []):
                f.write(rec + b"\n")
        ref = subprocess.run([sys.executable, a.model, path, "product_id", "auto", "0",
                              str(a.window), str(a.ooo), str(a.lateness), a.emit],
                             check=True, capture_output=True).stdout.decode().splitlines()[:-1]
        want = [json.loads(r) for r in ref]
        total += len(want)
        g = got.get(p, [])
        if g != want:
            bad += 1
            i = next((k for k in range(min(len(g), len(want))) if g[k] != want[k]),
                     min(len(g), len(want)))
            print(f"partition {p}: {len(g)} firings, the model {len(want)}; first difference at "
                  f"{i}: got {g[i] if i < len(g) else None}, want {want[i] if i < len(want) else None}")
        else:
            print(f"partition {p}: {len(g)} firings, {len(by_part.get(p, []))} records: "
                  "as the model")
    if not total:
        sys.exit("the model fired nothing")
    if bad:
        sys.exit(f"{bad} partitions differ from the reference model")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--brokers", required=True)
    d.add_argument("--topic", required=True)
    d.add_argument("--events", required=True)
    d.add_argument("--rate", type=int, default=300)
    d.add_argument("--seconds", type=float, default=180)
    d.add_argument("--gap", type=float, nargs=2, default=[2.0, 6.0])
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--log", required=True)
    d.add_argument("--final-timeout", type=int, default=180)
    d.add_argument("job", nargs=argparse.REMAINDER)
    c = sub.add_parser("check")
    c.add_argument("--brokers", required=True)
    c.add_argument("--input", required=True)
    c.add_argument("--output", required=True)
    c.add_argument("--partitions", type=int, required=True)
    c.add_argument("--model", required=True)
    c.add_argument("--work", required=True)
    c.add_argument("--window", type=int, required=True)
    c.add_argument("--ooo", type=int, required=True)
    c.add_argument("--lateness", type=int, required=True)
    c.add_argument("--emit", required=True)
    a = ap.parse_args()
    {"drive": cmd_drive, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    main()
