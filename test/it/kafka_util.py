#!/usr/bin/python3
"""An independent Kafka client for weir's Kafka integration tests (kafka-python, a separate
protocol implementation from librdkafka): produce records, read topics back, split them by
partition, and compare the job's results and dead letters with the file job's."""
import argparse
import binascii
import collections
import datetime
import json
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def lines(path):
    """The records of a JSON-lines file as bytes, newline removed (they may hold any byte)."""
    with open(path, "rb") as f:
        data = f.read()
    out = data.split(b"\n")
    if out and out[-1] == b"":
        out.pop()
    return out


def record_key(rec, field):
    try:
        v = json.loads(rec)
        k = v.get(field) if isinstance(v, dict) else None
    except (ValueError, UnicodeDecodeError):
        return None
    if k is None or isinstance(k, (dict, list)):
        return None
    return str(k).encode()


def cmd_produce(a):
    """Produces each record of a file, keyed by --key-field (kafka-python's default
    partitioner is murmur2, Java's, so a key lands where librdkafka's murmur2_random puts it)
    or to --partition."""
    p = KafkaProducer(bootstrap_servers=a.brokers, acks="all", linger_ms=5, retries=5,
                      batch_size=262144)
    recs = lines(a.file)
    futures = []
    for rec in recs:
        key = record_key(rec, a.key_field) if a.key_field else None
        if a.partition is not None:
            futures.append(p.send(a.topic, value=rec, key=key, partition=a.partition))
        elif key is None:
            futures.append(p.send(a.topic, value=rec, partition=0))
        else:
            futures.append(p.send(a.topic, value=rec, key=key))
    p.flush(timeout=60)
    for f in futures:
        f.get(timeout=60)  # raises on a failed delivery
    p.close()
    print(f"kafka-python produced {len(recs)} records to {a.topic}")


def read_all(brokers, topic, timeout_s=30):
    """Every message of every partition of `topic`, from the beginning to the current end;
    exits when no message arrives for timeout_s seconds before the end is reached."""
    c = KafkaConsumer(bootstrap_servers=brokers, enable_auto_commit=False, group_id=None,
                      consumer_timeout_ms=1000)
    parts = None
    for _ in range(50):
        parts = c.partitions_for_topic(topic)
        if parts:
            break
        c.poll(timeout_ms=100)
    if not parts:
        sys.exit(f"topic {topic} not found")
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    end = c.end_offsets(tps)
    out = []
    # The deadline is for progress, not for the whole read: a long topic read by this pure
    # Python client on a loaded machine takes longer than timeout_s, and that is no failure.
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout_s)
    while any(c.position(tp) < end[tp] for tp in tps):
        if datetime.datetime.now() > deadline:
            sys.exit(f"timed out reading {topic}: no message for {timeout_s} s")
        for tp, msgs in c.poll(timeout_ms=500).items():
            out.extend(msgs)
            if msgs:
                deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout_s)
    c.close()
    out.sort(key=lambda m: (m.partition, m.offset))
    return out


def cmd_consume(a):
    """Writes one JSON line per message: partition, offset, key, timestamp, value (text,
    and hex for exact comparisons of any bytes)."""
    with open(a.out, "w") as f:
        for m in read_all(a.brokers, a.topic):
            f.write(json.dumps({
                "partition": m.partition, "offset": m.offset,
                "key": None if m.key is None else m.key.decode("utf-8", "replace"),
                "ts": m.timestamp,
                "value": m.value.decode("utf-8", "replace"),
                "hex": binascii.hexlify(m.value).decode()}) + "\n")


def cmd_split(a):
    """Splits a consumed raw topic into <prefix><partition>.jsonl, in partition order."""
    by = collections.defaultdict(list)
    for line in open(a.consumed):
        m = json.loads(line)
        by[m["partition"]].append(binascii.unhexlify(m["hex"]))
    for p in range(a.partitions):
        with open(f"{a.prefix}{p}.jsonl", "wb") as f:
            for rec in by.get(p, []):
                f.write(rec + b"\n")


def cmd_split_by_key(a):
    """Splits a file of events into <prefix><n>.jsonl by integer product_id mod n."""
    outs = [open(f"{a.prefix}{p}.jsonl", "wb") for p in range(a.partitions)]
    for rec in lines(a.file):
        k = record_key(rec, "product_id")
        p = int(k) % a.partitions if k is not None and k.isdigit() else 0
        outs[p].write(rec + b"\n")
    for f in outs:
        f.close()


def iso_ms(s):
    return int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
               .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def cmd_check_results(a):
    """The results topic (as consumed) holds exactly the expected firings, as a multiset;
    each message's key is its key field and its timestamp window_end - 1."""
    got = []
    for line in open(a.consumed):
        m = json.loads(line)
        v = json.loads(m["value"])
        if a.key_field:
            if m["key"] != v[a.key_field]:
                sys.exit(f"message key {m['key']!r} is not {a.key_field} of {m['value']}")
        elif m["key"] is not None:
            sys.exit(f"a global result has a key: {m['key']!r}")
        if m["ts"] != iso_ms(v["window_end"]) - 1:
            sys.exit(f"timestamp {m['ts']} is not window_end - 1 for {m['value']}")
        got.append(m["value"])
    want = [l.decode() for f in a.expected for l in lines(f)]
    cg, cw = collections.Counter(got), collections.Counter(want)
    if cg != cw:
        missing = list((cw - cg).elements())[:5]
        extra = list((cg - cw).elements())[:5]
        sys.exit(f"results differ: {len(got)} got, {len(want)} expected; "
                 f"missing {missing}; unexpected {extra}")
    print(f"{len(got)} results match the file job's")


def cmd_check_values(a):
    """The values of a consumed topic equal the records of the given files, byte for byte,
    as a multiset."""
    got = collections.Counter(binascii.unhexlify(json.loads(l)["hex"]) for l in open(a.consumed))
    want = collections.Counter(rec for f in a.expected for rec in lines(f))
    if got != want:
        sys.exit(f"values differ: {sum(got.values())} got, {sum(want.values())} expected; "
                 f"missing {list((want - got).elements())[:3]}; "
                 f"unexpected {list((got - want).elements())[:3]}")
    print(f"{sum(got.values())} values match")


def cmd_kcat_compare(a):
    """kcat's view of a topic (-f '%p\\t%k\\t%T\\t%s\\n') equals kafka-python's."""
    mine = collections.Counter()
    for line in open(a.consumed):
        m = json.loads(line)
        mine[(m["partition"], m["key"] or "", m["ts"], m["value"])] += 1
    theirs = collections.Counter()
    for line in open(a.kcat, encoding="utf-8"):
        p, k, ts, v = line.rstrip("\n").split("\t", 3)
        theirs[(int(p), k, int(ts), v)] += 1
    if mine != theirs:
        sys.exit(f"kcat and kafka-python disagree: {sum(theirs.values())} vs "
                 f"{sum(mine.values())} messages")
    print(f"kcat and kafka-python read the same {sum(mine.values())} messages")


def event_ms(v):
    t = v.get("timestamp")
    if isinstance(t, str):
        return iso_ms(t if "." in t else t.replace("Z", ".000Z"))
    return t * 1000 if abs(t) < 100_000_000_000 else t


def max_event_ms(path):
    best = None
    for rec in lines(path):
        try:
            t = event_ms(json.loads(rec))
        except (ValueError, TypeError, AttributeError, UnicodeDecodeError):
            continue
        best = t if best is None else max(best, t)
    return best


def cmd_fired(a):
    """Prints the firings of the expected files whose window the watermark has passed, the
    watermark being min over the event files of (max event time - out_of_orderness - 1):
    what a run that stops without firing its open windows emits."""
    wm = min(max_event_ms(f) for f in a.events) - a.out_of_orderness_ms - 1
    n = 0
    with open(a.out, "wb") as out:
        for f in a.expected:
            for rec in lines(f):
                if iso_ms(json.loads(rec)["window_end"]) - 1 <= wm:
                    out.write(rec + b"\n")
                    n += 1
    print(n)


def cmd_committed(a):
    """Exits 0 when the group's committed offset of every partition of the topic is its end
    offset (everything was processed and committed), else prints the difference."""
    c = KafkaConsumer(bootstrap_servers=a.brokers, group_id=a.group, enable_auto_commit=False)
    tps = [TopicPartition(a.topic, p) for p in sorted(c.partitions_for_topic(a.topic))]
    end = c.end_offsets(tps)
    bad = [(tp.partition, c.committed(tp), end[tp]) for tp in tps if c.committed(tp) != end[tp]]
    c.close()
    if bad:
        sys.exit(f"committed != end offset (partition, committed, end): {bad}")
    print(f"group {a.group} committed every end offset of {a.topic}")


def cmd_windows(a):
    """Prints the distinct window_start values of a consumed results topic, sorted."""
    ws = sorted({json.loads(json.loads(l)["value"])["window_start"] for l in open(a.consumed)})
    print("\n".join(ws))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--key-field")
    p.add_argument("--partition", type=int)
    p.add_argument("file")
    p.set_defaults(fn=cmd_produce)
    p = sub.add_parser("consume")
    p.add_argument("--brokers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_consume)
    p = sub.add_parser("split")
    p.add_argument("consumed")
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.set_defaults(fn=cmd_split)
    p = sub.add_parser("check-results")
    p.add_argument("consumed")
    p.add_argument("expected", nargs="+")
    p.add_argument("--key-field")
    p.set_defaults(fn=cmd_check_results)
    p = sub.add_parser("check-values")
    p.add_argument("consumed")
    p.add_argument("expected", nargs="+")
    p.set_defaults(fn=cmd_check_values)
    p = sub.add_parser("kcat-compare")
    p.add_argument("consumed")
    p.add_argument("kcat")
    p.set_defaults(fn=cmd_kcat_compare)
    p = sub.add_parser("fired")
    p.add_argument("--expected", nargs="+", required=True)
    p.add_argument("--events", nargs="+", required=True)
    p.add_argument("--out-of-orderness-ms", type=int, default=10000)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_fired)
    p = sub.add_parser("split-by-key")
    p.add_argument("file")
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.set_defaults(fn=cmd_split_by_key)
    p = sub.add_parser("committed")
    p.add_argument("--brokers", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--topic", required=True)
    p.set_defaults(fn=cmd_committed)
    p = sub.add_parser("windows")
    p.add_argument("consumed")
    p.set_defaults(fn=cmd_windows)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
