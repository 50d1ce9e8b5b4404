"""Brute-force reference of the Nexmark queries (docs/NEXMARK.md, SEMANTICS.md), plain and slow.

  nexmark_ref.py inject IN OUT SEED     adds malformed and mistyped lines to generated events
  nexmark_ref.py check INPUT DIR        compares DIR/QUERY.out and DIR/QUERY.sum of every query

Event time date_time (ms), watermark = newest time - 4000 - 1, allowed lateness 0, one
emission per window. Every record moves the watermark once it is a JSON object with a valid
date_time, except for the generic queries (q11/q15/q16) a bid whose key field is missing or
of another type (invalid: no_key, as weir-window). Window contents are compared as sets of
records; q0-q2 in input order."""
import datetime
import json
import random
import sys

OOO = 4000
EPOCH = datetime.datetime(1970, 1, 1)


def iso(ms):
    d = EPOCH + datetime.timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return (is_int(v) or isinstance(v, float))


def text(v):
    """A key or distinct value as its text, or None (weir takes strings and integers)."""
    if isinstance(v, str):
        return v
    if is_int(v):
        return str(v)
    return None


def parse(line):
    """(record, ts) or (None, None) when invalid."""
    try:
        rec = json.loads(line.decode("utf-8"))
    except ValueError:
        return None, None
    if not isinstance(rec, dict):
        return None, None
    ts = rec.get("date_time")
    if not is_int(ts):
        return None, None
    return rec, ts


class Clock:
    def __init__(self):
        self.wm = None

    def observe(self, ts):
        w = ts - OOO - 1
        if self.wm is None or w > self.wm:
            self.wm = w

    def late(self, end):
        return self.wm is not None and end - 1 <= self.wm


def stateless(lines, q):
    out, st = [], dict(records=0, invalid=0, filtered=0, bad_fields=0, bids=0, outputs=0,
                       late_dropped=0)
    for line in lines:
        st["records"] += 1
        rec, ts = parse(line)
        if rec is None:
            st["invalid"] += 1
            continue
        if rec.get("type") != "bid":
            st["filtered"] += 1
            continue
        need = ["auction", "price"] if q == "q2" else ["auction", "bidder", "price"]
        if not all(is_int(rec.get(k)) for k in need) or (
                q != "q2" and not isinstance(rec.get("extra"), str)):
            st["bad_fields"] += 1
            continue
        st["bids"] += 1
        if q == "q2":
            if rec["auction"] % 123 == 0:
                out.append({"auction": rec["auction"], "price": rec["price"]})
            continue
        price = rec["price"] * 0.908 if q == "q1" else rec["price"]
        out.append({"auction": rec["auction"], "bidder": rec["bidder"], "price": price,
                    "date_time": ts, "extra": rec["extra"]})
    st["outputs"] = len(out)
    return out, st


def windowed(lines, q):
    """q5, q7: windows over bids, then per window the max."""
    clock = Clock()
    st = dict(records=0, invalid=0, filtered=0, bad_fields=0, bids=0, outputs=0,
              late_dropped=0)
    wins = {}  # start -> list of accepted bids
    size, slide = (10000, 2000) if q == "q5" else (10000, 10000)
    for line in lines:
        st["records"] += 1
        rec, ts = parse(line)
        if rec is None:
            st["invalid"] += 1
            continue
        if rec.get("type") != "bid":
            st["filtered"] += 1
            clock.observe(ts)
            continue
        if q == "q5":
            ok = is_int(rec.get("auction"))
        else:
            ok = all(is_int(rec.get(k)) for k in ("auction", "bidder", "price")) and \
                isinstance(rec.get("extra"), str)
        if not ok:
            st["bad_fields"] += 1
            clock.observe(ts)
            continue
        st["bids"] += 1
        last = ts - ts % slide
        starts = []
        s = last
        while s > ts - size:
            starts.append(s)
            s -= slide
        live = [s for s in starts if not clock.late(s + size)]
        if not live:
            st["late_dropped"] += 1
        for s in live:
            wins.setdefault(s, []).append((rec, ts))
        clock.observe(ts)
    out = []
    for s, bids in wins.items():
        w = {"window_start": iso(s), "window_end": iso(s + size)}
        if q == "q5":
            counts = {}
            for rec, _ in bids:
                counts[rec["auction"]] = counts.get(rec["auction"], 0) + 1
            m = max(counts.values())
            for a, c in counts.items():
                if c == m:
                    out.append(dict({"auction": a, "num": c}, **w))
        else:
            m = max(rec["price"] for rec, _ in bids)
            for rec, ts in bids:
                if rec["price"] == m:
                    out.append(dict({"auction": rec["auction"], "price": m,
                                     "bidder": rec["bidder"], "date_time": ts,
                                     "extra": rec["extra"]}, **w))
    st["outputs"] = len(out)
    return out, st


RANKS = [("", lambda p: True), ("rank1_", lambda p: is_num(p) and p < 10000),
         ("rank2_", lambda p: is_num(p) and 10000 <= p < 1000000),
         ("rank3_", lambda p: is_num(p) and p >= 1000000)]


def q15_result(bids):
    r = {}
    for what, field in (("bids", None), ("bidders", "bidder"), ("auctions", "auction")):
        for prefix, ok in RANKS:
            name = (prefix or "total_") + what
            sel = [b for b in bids if ok(b.get("price"))]
            if field is None:
                r[name] = len(sel)
            else:
                r[name] = len({text(b.get(field)) for b in sel} - {None})
    return r


def generic(lines, q):
    clock = Clock()
    st = dict(records=0, invalid=0, filtered=0, bids=0, outputs=0, late_dropped=0)
    key_field = {"q11": "bidder", "q15": None, "q16": "channel"}[q]
    out = []
    sessions = {}  # key -> list of [start, end, bids]
    tumbles = {}  # (key, start) -> bids
    day = 86400000
    for line in lines:
        st["records"] += 1
        rec, ts = parse(line)
        if rec is None:
            st["invalid"] += 1
            continue
        if rec.get("type") != "bid":
            st["filtered"] += 1
            clock.observe(ts)
            continue
        key = ""
        if key_field:
            key = text(rec.get(key_field))
            if key is None:
                st["invalid"] += 1  # no_key: its time does not count
                continue
        if q == "q11":
            live = []
            for s in sessions.get(key, []):
                if clock.late(s[1]):
                    out.append({"bidder": key, "window_start": iso(s[0]),
                                "window_end": iso(s[1]), "bid_count": s[2]})
                else:
                    live.append(s)
            c, d = ts, ts + 10000
            hit = [s for s in live if s[0] <= d and s[1] >= c]
            if not hit and clock.late(d):
                st["late_dropped"] += 1
                sessions[key] = live
                clock.observe(ts)
                continue
            st["bids"] += 1
            rest = [s for s in live if not (s[0] <= d and s[1] >= c)]
            merged = [min([c] + [s[0] for s in hit]), max([d] + [s[1] for s in hit]),
                      1 + sum(s[2] for s in hit)]
            sessions[key] = rest + [merged]
        else:
            s = ts - ts % day
            if clock.late(s + day):
                st["late_dropped"] += 1
                clock.observe(ts)
                continue
            st["bids"] += 1
            tumbles.setdefault((key, s), []).append(rec)
        clock.observe(ts)
    for key, ss in sessions.items():
        for s in ss:
            out.append({"bidder": key, "window_start": iso(s[0]), "window_end": iso(s[1]),
                        "bid_count": s[2]})
    for (key, s), bids in tumbles.items():
        r = {"window_start": iso(s), "window_end": iso(s + day)}
        if key_field:
            r["channel"] = key
        r.update(q15_result(bids))
        out.append(r)
    st["outputs"] = len(out)
    return out, st


QUERIES = {"q0": stateless, "q1": stateless, "q2": stateless, "q5": windowed, "q7": windowed,
           "q11": generic, "q15": generic, "q16": generic}


def canon(rec):
    return json.dumps(rec, sort_keys=True)


def check(inp, d):
    with open(inp, "rb") as f:
        lines = [l[:-1] if l.endswith(b"\n") else l for l in f.read().split(b"\n")]
    if lines and lines[-1] == b"":
        lines.pop()
    bad = 0
    for q, fn in QUERIES.items():
        want, wst = fn(lines, q)
        with open(f"{d}/{q}.out", "rb") as f:
            got = [json.loads(l) for l in f.read().splitlines()]
        with open(f"{d}/{q}.sum") as f:
            summ = json.loads(f.read().splitlines()[0])
        if q in ("q0", "q1", "q2"):
            same = got == want
        else:
            same = sorted(map(canon, got)) == sorted(map(canon, want))
        if not same:
            bad += 1
            gs, ws = set(map(canon, got)), set(map(canon, want))
            print(f"{q}: output differs: {len(got)} records, reference {len(want)}; "
                  f"only weir {sorted(gs - ws)[:3]} only reference {sorted(ws - gs)[:3]}")
        for k, v in wst.items():
            if summ.get(k) != v:
                bad += 1
                print(f"{q}: summary {k} = {summ.get(k)}, reference {v}")
        print(f"{q}: {len(want)} records, summary {wst}")
    if bad:
        sys.exit(1)


BAD_LINES = [
    b"not json {",
    b"",
    b"[1,2,3]",
    b'"a string"',
    b'{"type":"bid","auction":1000,"bidder":1001,"price":5,"channel":"c","date_time":"nope","extra":"x"}',
    b'{"type":"bid","auction":1000,"bidder":1001,"price":5,"channel":"c","extra":"x"}',
    b'{"type":"bid","auction":1000,"bidder":1001,"price":5,"channel":"c","date_time":true,"extra":"x"}',
    b'\xff\xfe{"type":"bid"}',
]


def mistyped(rec, rng):
    """A bid with one field missing or of another type, or an unknown type."""
    r = dict(rec)
    k = rng.randrange(12)
    if k == 0:
        r["type"] = "bogus"
    elif k == 1:
        del r["type"]
    elif k == 2:
        del r["price"]
    elif k == 3:
        r["price"] = r["price"] + 0.5
    elif k == 4:
        r["auction"] = str(r["auction"])
    elif k == 5:
        del r["bidder"]
    elif k == 6:
        r["bidder"] = True
    elif k == 7:
        r["channel"] = 7
    elif k == 8:
        del r["extra"]
    elif k == 9:
        r["price"] = str(r["price"])
    elif k == 10:
        r["bidder"] = str(r["bidder"])
    else:
        r["type"] = 5
    return json.dumps(r, separators=(",", ":")).encode()


def inject(inp, outp, seed):
    rng = random.Random(seed)
    with open(inp, "rb") as f, open(outp, "wb") as o:
        for line in f:
            o.write(line)
            x = rng.random()
            if x < 0.002:
                o.write(rng.choice(BAD_LINES) + b"\n")
            elif x < 0.004:
                o.write(line[: rng.randrange(1, len(line) - 1)] + b"\n")
            elif x < 0.02 and b'"type":"bid"' in line:
                o.write(mistyped(json.loads(line), rng) + b"\n")


if __name__ == "__main__":
    if sys.argv[1] == "inject":
        inject(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        check(sys.argv[2], sys.argv[3])
