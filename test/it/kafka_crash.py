#!/usr/bin/python3
"""Crash driver for weir's Kafka checkpoint tests (kafka-python as the independent client).

  drive: produces a file of raw events into a topic at a steady pace while it starts the
         job (one or two instances in one group), kills an instance with SIGKILL at chosen
         moments (at random, as a checkpoint begins, once a checkpoint is durable and its
         results are being released) and restarts it, N times; then lets the instances
         drain the topic and stop by themselves.
  compare: the results topic against a reference topic written by an uninterrupted run:
         for every (key, window) the same sequence of firings, nothing missing, nothing
         twice, each key in a single partition.
"""
import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from kafka import KafkaProducer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# kafka-python reads uncommitted data too (it has no isolation setting): stricter than the
# read_committed reader of the guarantee, which the dev broker cannot honour anyway.
from kafka_util import lines, read_all as read_topic  # noqa: E402


def key_of(rec):
    try:
        v = json.loads(rec)
        k = v.get("product_id") if isinstance(v, dict) else None
    except (ValueError, UnicodeDecodeError):
        return None
    return None if k is None or isinstance(k, (dict, list)) else str(k).encode()


class Pacer(threading.Thread):
    """Produces the records at `rate` per second until told to stop or out of records."""

    def __init__(self, brokers, topic, recs, rate):
        super().__init__(daemon=True)
        self.p = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=20,
                               compression_type="gzip", retries=5)
        self.topic, self.recs, self.rate = topic, recs, rate
        self.stop = threading.Event()
        self.sent = 0

    def run(self):
        t0 = time.monotonic()
        step = max(1, self.rate // 20)
        while self.sent < len(self.recs) and not self.stop.is_set():
            for rec in self.recs[self.sent:self.sent + step]:
                k = key_of(rec)
                if k is None:
                    self.p.send(self.topic, value=rec, partition=0)
                else:
                    self.p.send(self.topic, value=rec, key=k)
            self.sent = min(len(self.recs), self.sent + step)
            ahead = self.sent / self.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        self.p.flush(timeout=60)
        self.p.close()


class Instance:
    """One job process whose stderr is watched for the moments to kill it at."""

    def __init__(self, cmd, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.events = collections.defaultdict(threading.Event)
        self.trigger = None  # (substring, threading.Event) to kill at
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.log.write(line)
            self.log.flush()
            text = line.decode("utf-8", "replace")
            if "assigned partitions" in text:
                self.events["assigned"].set()
            if "checkpoint: done" in text:
                self.events["checkpointed"].set()
            t = self.trigger
            if t and t[0] in text:
                self.proc.send_signal(signal.SIGKILL)
                t[1].set()
        self.log.close()

    def kill_when(self, what, timeout):
        """Kills the process at the next stderr line containing `what`; returns whether the
        line came in time (else kills it anyway)."""
        ev = threading.Event()
        self.trigger = (what, ev)
        ok = ev.wait(timeout)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.reader.join(5)
        return ok


def cmd_drive(a):
    recs = lines(a.events)
    pacer = Pacer(a.brokers, a.topic, recs, a.rate)
    pacer.start()
    rnd = random.Random(a.seed)
    job = a.job_cmd
    if job and job[0] == "--":
        job = job[1:]

    def start(i):
        return Instance(job, f"{a.log}.{i}")

    inst = [start(i) for i in range(a.instances)]
    try:
        drive_loop(a, inst, start, pacer, rnd)
    finally:
        # Whatever happened, nothing this driver started outlives it.
        pacer.stop.set()
        for it in inst:
            if it.proc.poll() is None:
                it.proc.kill()
                it.proc.wait()


def drive_loop(a, inst, start, pacer, rnd):
    kinds = collections.Counter()
    moments = ["random", "checkpoint: writing", "checkpoint: durable"]
    for k in range(a.kills):
        victim = k % a.instances
        it = inst[victim]
        if not it.events["assigned"].wait(120):
            sys.exit(f"instance {victim} got no partitions in 120 s (a loaded machine: the group coordinator waits out the killed member's session)")
        if it.proc.poll() is not None:
            sys.exit(f"instance {victim} exited ({it.proc.returncode}) before kill {k}")
        # Let it work a little (and checkpoint at least once now and then) first.
        it.events["checkpointed"].wait(rnd.uniform(0.0, 1.0))
        moment = moments[k % len(moments)]
        if moment == "random":
            time.sleep(rnd.uniform(0.0, 1.0))
            if it.proc.poll() is not None:
                sys.exit(f"instance {victim} exited ({it.proc.returncode}) before kill {k}")
            it.proc.send_signal(signal.SIGKILL)
            it.proc.wait()
            kinds["random"] += 1
        else:
            if it.kill_when(moment, 20):
                kinds[moment] += 1
            else:
                kinds["timeout"] += 1
        inst[victim] = start(victim)
        if a.instances > 1:
            time.sleep(rnd.uniform(0.0, 1.0))
    pacer.stop.set()
    pacer.join(120)
    for i, it in enumerate(inst):
        try:
            rc = it.proc.wait(a.final_timeout)
        except subprocess.TimeoutExpired:
            it.proc.kill()
            sys.exit(f"instance {i} did not drain and stop within {a.final_timeout} s")
        it.reader.join(5)
        if rc != 0:
            sys.exit(f"instance {i} exited {rc} at the end")
    print(f"produced {pacer.sent} records; kills: "
          + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
    if kinds["timeout"] > a.kills // 3:
        sys.exit("too many kills missed their moment")


def firings(brokers, topic):
    seqs = collections.defaultdict(list)
    where = collections.defaultdict(set)
    for m in read_topic(brokers, topic):
        v = json.loads(m.value)
        key = (m.key, v["window_start"])
        seqs[key].append(m.value.decode())
        where[m.key].add(m.partition)
    split = [k for k, ps in where.items() if len(ps) > 1]
    return seqs, split


def cmd_compare(a):
    got, gsplit = firings(a.brokers, a.topic)
    want, _ = firings(a.brokers, a.reference)
    problems = []
    if gsplit:
        problems.append(f"{len(gsplit)} keys in more than one partition, e.g. {gsplit[0]}")
    for k in sorted(set(got) | set(want), key=str):
        g, w = got.get(k, []), want.get(k, [])
        if g != w:
            problems.append(f"{k}: got {len(g)} firings {g[:3]}, want {len(w)} {w[:3]}")
    n = sum(len(v) for v in want.values())
    print(f"compared {len(want)} (key, window) sequences, {n} firings: {len(problems)} differ")
    for p in problems[:10]:
        print("  " + p)
    if not want:
        sys.exit("the reference run wrote nothing")
    if problems:
        sys.exit(1)
    if a.jsonl:
        with open(a.jsonl, "w") as f:
            for k in sorted(want, key=str):
                for v in want[k]:
                    f.write(v + "\n")


def cmd_tamper(a):
    """Damages one of the checkpoints of a stream in the checkpoint topic the way a broken
    disk or a foreign writer would, by producing a newer value under its key: the newest
    checkpoint (--nth 0), the one before (--nth 1), ... Prints the damaged sequence."""
    prefix = a.stream.encode() + b"|"
    latest = {}
    for m in read_topic(a.brokers, a.topic):
        if m.key and m.key.startswith(prefix):
            latest[m.key] = (m.partition, m.value)
    manifests = []
    for k, (part, v) in latest.items():
        tail = k[len(prefix):]
        if tail.startswith(b"m") and v and len(v) == 48 and v[:8] == b"WEIRMANI":
            seq = int.from_bytes(v[16:24], "little")
            manifests.append((seq, tail[1:].decode(), part, k, v))
    manifests.sort(reverse=True)
    if len(manifests) <= a.nth:
        sys.exit(f"{a.stream}: only {len(manifests)} checkpoints")
    seq, slot, part, mkey, mval = manifests[a.nth]
    ckey = prefix + f"c{slot}.0".encode()
    chunk = latest[ckey][1]
    if a.how == "manifest-garbage":
        key, val = mkey, b"this is not a manifest at all"
    elif a.how == "chunk-flip":
        body = bytearray(chunk)
        body[len(body) // 2 + 16] ^= 0x40
        key, val = ckey, bytes(body)
    elif a.how == "chunk-truncate":
        key, val = ckey, chunk[:len(chunk) // 2]
    elif a.how == "chunk-foreign":
        key, val = ckey, b"WEIRCHNK" + (1).to_bytes(4, "little") + bytes(8) + bytes(4) + \
            (seq + 1000).to_bytes(8, "little") + chunk[32:]
    else:
        sys.exit(f"unknown --how {a.how}")
    p = KafkaProducer(bootstrap_servers=a.brokers, acks="all")
    p.send(a.topic, key=key, value=val, partition=part).get(timeout=30)
    p.close()
    print(seq)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--brokers", required=True)
    d.add_argument("--topic", required=True)
    d.add_argument("--events", required=True)
    d.add_argument("--rate", type=int, default=2000)
    d.add_argument("--kills", type=int, default=21)
    d.add_argument("--instances", type=int, default=1)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--log", required=True)
    d.add_argument("--final-timeout", type=int, default=120)
    d.add_argument("job_cmd", nargs=argparse.REMAINDER)
    c = sub.add_parser("compare")
    c.add_argument("--brokers", required=True)
    c.add_argument("--topic", required=True)
    c.add_argument("--reference", required=True)
    c.add_argument("--jsonl")
    t = sub.add_parser("tamper")
    t.add_argument("--brokers", required=True)
    t.add_argument("--topic", required=True)
    t.add_argument("--stream", required=True)
    t.add_argument("--how", required=True)
    t.add_argument("--nth", type=int, default=0)
    a = ap.parse_args()
    {"drive": cmd_drive, "compare": cmd_compare, "tamper": cmd_tamper}[a.cmd](a)


if __name__ == "__main__":
    main()
