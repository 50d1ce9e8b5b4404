#!/usr/bin/python3
"""Recovery after SIGKILL (issue 21, item 3): events arrive at a fixed rate while the
exactly-once job runs with default group settings; it is killed with SIGKILL and restarted at
once, N times. For each restart: the seconds until its partitions are assigned again and until
results flow again (the results topic grows past its end at the restart). Prints both series
and their medians; exits 1 when the median recovery exceeds --bound."""
import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


class Pacer(threading.Thread):
    """Events stamped with the wall clock, `rate` per second, keyed by product."""

    def __init__(self, brokers, topic, rate):
        super().__init__(daemon=True)
        self.p = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=20)
        self.topic, self.rate, self.stop = topic, rate, threading.Event()

    def run(self):
        i, t0 = 0, time.monotonic()
        while not self.stop.is_set():
            now = datetime.datetime.now(datetime.timezone.utc)
            ts = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
            prod = str(i % 40)
            rec = {"user_id": f"u{(i * 7919) % 3000}", "product_id": prod,
                   "event_type": "VIEW_PRODUCT", "timestamp": ts}
            self.p.send(self.topic, key=prod.encode(), value=json.dumps(rec).encode())
            i += 1
            ahead = i / self.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        self.p.flush(timeout=30)
        self.p.close()


def total_end(c, tps):
    return sum(c.end_offsets(tps).values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--restarts", type=int, default=5)
    ap.add_argument("--run", type=float, default=4.0, help="seconds of work before each kill")
    ap.add_argument("--bound", type=float, default=15.0)
    ap.add_argument("--log", required=True)
    ap.add_argument("job", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    job = a.job[1:] if a.job and a.job[0] == "--" else a.job
    c = KafkaConsumer(bootstrap_servers=a.brokers, group_id=None)
    tps = [TopicPartition(a.output, p) for p in sorted(c.partitions_for_topic(a.output))]
    pacer = Pacer(a.brokers, a.input, a.rate)
    pacer.start()
    procs = []

    def start(k):
        log = open(f"{a.log}.{k}", "wb")
        p = subprocess.Popen(job, stdout=subprocess.DEVNULL, stderr=log)
        procs.append(p)
        return p

    def wait(pred, limit):
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if pred():
                return time.monotonic()
            time.sleep(0.1)
        return None

    assigned, flowing = [], []
    try:
        p = start(0)
        base = total_end(c, tps)
        if not wait(lambda: total_end(c, tps) > base, 60):
            sys.exit("no results within 60 s of the first start")
        for k in range(1, a.restarts + 1):
            time.sleep(a.run)
            p.send_signal(signal.SIGKILL)
            p.wait()
            base = total_end(c, tps)
            t0 = time.monotonic()
            p = start(k)
            log = f"{a.log}.{k}"
            ta = wait(lambda: b"assigned partitions" in open(log, "rb").read(), 120)
            tf = wait(lambda: total_end(c, tps) > base, 120)
            if ta is None or tf is None:
                sys.exit(f"restart {k}: no {'assignment' if ta is None else 'results'} in 120 s")
            assigned.append(ta - t0)
            flowing.append(tf - t0)
            print(f"restart {k}: assigned after {ta - t0:.1f} s, results after {tf - t0:.1f} s",
                  flush=True)
        p.send_signal(signal.SIGTERM)
        if p.wait(90) != 0:
            sys.exit(f"the last instance exited {p.returncode} at SIGTERM")
    finally:
        pacer.stop.set()
        for q in procs:
            if q.poll() is None:
                q.kill()
                q.wait()
    ma, mf = statistics.median(assigned), statistics.median(flowing)
    print(f"median of {len(flowing)}: assigned after {ma:.1f} s, results flowing after {mf:.1f} s")
    if mf > a.bound:
        sys.exit(f"median recovery {mf:.1f} s exceeds {a.bound} s")


if __name__ == "__main__":
    main()
