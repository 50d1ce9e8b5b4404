#!/usr/bin/python3
"""A plain reference for weir-window (docs/SEMANTICS.md): reads JSON lines, applies --where,
keys, tumble/hop/session windows with lateness, firing, cleanup and both emission modes, and
prints one JSON object per firing as the job does. Slow and obvious on purpose; stdlib only.

usage: weir_window_ref.py gen N SEED            -> generated events on stdout
       weir_window_ref.py run INPUT CONFIG.json -> firings on stdout, counters on stderr
"""
import datetime
import json
import random
import sys

NEG_INF = float("-inf")
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def gen(n, seed):
    rnd = random.Random(seed)
    t = 1704067200000
    statuses = ["paid", "shipped", "cancelled", "pending", "Cancelled"]
    out = []
    for i in range(n):
        t += rnd.randint(0, 400)
        ts = t - rnd.randint(0, 6000)
        if rnd.random() < 0.02:
            ts -= rnd.randint(10000, 120000)  # very late
        o = {}
        r = rnd.random()
        if r < 0.9:
            o["product_id"] = "p%d" % rnd.randint(1, 12)
        elif r < 0.97:
            o["product_id"] = rnd.randint(1, 5)  # an integer key
        elif r < 0.985:
            o["product_id"] = None
        # else missing: no_key unless filtered
        o["region"] = rnd.choice(["eu", "us", "ap"])
        u = rnd.randint(1, 40)
        o["user_id"] = u if rnd.random() < 0.3 else str(u)  # 7 and "7" are one value
        r = rnd.random()
        if r < 0.5:
            o["total_price"] = round(rnd.uniform(0, 500), 2)
        elif r < 0.8:
            o["total_price"] = rnd.randint(0, 1000)
        elif r < 0.85:
            o["total_price"] = str(rnd.randint(0, 9))
        elif r < 0.9:
            o["total_price"] = None
        elif r < 0.93:
            o["total_price"] = True
        # else missing
        o["status"] = rnd.choice(statuses)
        o["quantity"] = rnd.randint(1, 4)
        o["metadata"] = {"channel": rnd.choice(["web", "app"]), "score": rnd.randint(-5, 5)}
        if rnd.random() < 0.1:
            iso = datetime.datetime.fromtimestamp(ts / 1000, datetime.timezone.utc)
            o["timestamp"] = iso.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ts % 1000)
        else:
            o["timestamp"] = ts
        items = list(o.items())
        rnd.shuffle(items)
        line = json.dumps(dict(items), separators=(",", ":"))
        r = rnd.random()
        if r < 0.005:
            line = "not json at all"
        elif r < 0.01:
            line = line.replace('"timestamp"', '"time"')
        elif r < 0.012:
            line = "[1,2,3]"
        out.append(line)
    sys.stdout.write("\n".join(out) + "\n")


def iso(ms):
    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def parse_ts(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v if abs(v) >= 100000000000 else v * 1000
    if isinstance(v, str):
        try:
            d = datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            return None
        delta = d - datetime.datetime(1970, 1, 1)
        return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    return None


def get(o, path):
    for part in path.split("."):
        if not isinstance(o, dict) or part not in o:
            return ("missing", None)
        o = o[part]
    if o is None:
        return ("null", None)
    if isinstance(o, bool):
        return ("other", None)
    if isinstance(o, int):
        if INT64_MIN <= o <= INT64_MAX:
            return ("int", o)
        return ("double", float(o))
    if isinstance(o, float):
        return ("double", o)
    if isinstance(o, str):
        return ("string", o)
    return ("other", None)


def parse_pred(text):
    """FIELD OP LITERAL [and ...]: a list of (field, op, (type, value))."""
    toks = text.split()
    terms = []
    i = 0
    while i < len(toks):
        field, op, lit = toks[i], toks[i + 1], toks[i + 2]
        if lit.startswith('"'):
            lit = ("string", json.loads(lit))
        else:
            try:
                v = json.loads(lit)
                lit = ("num", v) if isinstance(v, (int, float)) and not isinstance(v, bool) else ("string", lit)
            except ValueError:
                lit = ("string", lit)
        terms.append((field, op, lit))
        i += 3
        if i < len(toks):
            assert toks[i].lower() == "and"
            i += 1
    return terms


def pred_holds(terms, rec):
    for field, op, (lt, lv) in terms:
        t, v = get(rec, field)
        if lt == "string":
            if t != "string":
                return False
            a, b = v.encode(), lv.encode()
        else:
            if t not in ("int", "double"):
                return False
            a, b = v, lv
        c = (a > b) - (a < b)
        ok = {"=": c == 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
        if not ok:
            return False
    return True


def parse_agg(spec):
    """FUNC(FIELD) [where PRED] [as NAME] (the test's specs: no 'as' inside predicates)."""
    func, rest = spec.split("(", 1)
    field, rest = rest.split(")", 1)
    func, field, rest = func.strip(), field.strip(), rest.strip()
    name = None
    pred = None
    if " as " in " " + rest:
        rest, name = (" " + rest).rsplit(" as ", 1)
        rest, name = rest.strip(), name.strip()
    if rest.startswith("where "):
        pred = parse_pred(rest[6:])
    if not name:
        name = "count" if func == "count" and not field else func + "_" + field.replace(".", "_")
    return {"func": func, "field": field, "pred": pred, "name": name}


def agg_result(agg, recs):
    vals = []
    for r in recs:
        if agg["pred"] is not None and not pred_holds(agg["pred"], r):
            continue
        vals.append(get(r, agg["field"]) if agg["field"] else ("int", 1))
    f = agg["func"]
    if f == "count":
        if not agg["field"]:
            return len(vals)
        return sum(1 for t, _ in vals if t not in ("missing", "null"))
    if f == "count_distinct":
        return len({str(v) for t, v in vals if t in ("int", "string")})
    nums = [(t, v) for t, v in vals if t in ("int", "double")]
    if not nums:
        return None
    if f == "avg":
        return float(sum(v for _, v in nums)) / len(nums)
    all_int = all(t == "int" for t, _ in nums)
    if f == "sum":
        if all_int:
            s = sum(v for _, v in nums)
            if INT64_MIN <= s <= INT64_MAX:
                return s
        return float(sum(float(v) for _, v in nums))
    m = min(v for _, v in nums) if f == "min" else max(v for _, v in nums)
    return m if all_int else float(m)


def run(path, cfg):
    W = cfg.get("W", 0)
    S = cfg.get("S", 0)
    O = cfg.get("O", 0)
    G = cfg.get("G", 0)
    kind = cfg["kind"]
    ooo, L, emit = cfg["ooo"], cfg["L"], cfg["emit"]
    keys = cfg["keys"]  # [] for global
    wheres = [parse_pred(w) for w in cfg["where"]]
    aggs = [parse_agg(a) for a in cfg["aggs"]]
    counts = {"records": 0, "invalid": 0, "filtered": 0, "late_dropped": 0}
    out = []

    def emit_firing(key, start, end, recs, late):
        o = {}
        for path, part in zip(keys, key):
            o[path] = part
        o["window_start"] = iso(start)
        o["window_end"] = iso(end)
        for a in aggs:
            o[a["name"]] = agg_result(a, recs)
        if late:
            o["late"] = True
        out.append(o)

    # Tumbling and hopping: state[(key, start)] = {"recs": [...], "fired": bool}
    wins = {}
    # Sessions: sess[key] = list of {"start", "end", "recs", "fired"}
    sess = {}
    wm = NEG_INF

    def advance(new_wm):
        nonlocal wm
        if new_wm <= wm:
            return
        wm = new_wm
        if kind != "session":
            for (key, start) in sorted(wins, key=lambda k: (k[1] + W, k[0])):
                w = wins[(key, start)]
                end = start + W
                if end - 1 <= wm and not w["fired"]:
                    w["fired"] = True
                    if emit == "updates":
                        emit_firing(key, start, end, w["recs"], False)
                if end - 1 + L <= wm:
                    if emit == "final":
                        emit_firing(key, start, end, w["recs"], False)
                    del wins[(key, start)]
        else:
            for key in list(sess):
                for s in sorted(sess[key], key=lambda s: s["end"]):
                    if s["end"] - 1 <= wm and not s["fired"]:
                        s["fired"] = True
                        if emit == "updates":
                            emit_firing(key, s["start"], s["end"], s["recs"], False)
                    if s["end"] - 1 + L <= wm:
                        if emit == "final":
                            emit_firing(key, s["start"], s["end"], s["recs"], False)
                        sess[key].remove(s)
                if not sess[key]:
                    del sess[key]

    max_ts = NEG_INF
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            counts["records"] += 1
            try:
                rec = json.loads(line)
            except ValueError:
                counts["invalid"] += 1
                continue
            if not isinstance(rec, dict):
                counts["invalid"] += 1
                continue
            ts = parse_ts(rec.get("timestamp"))
            if ts is None:
                counts["invalid"] += 1
                continue
            filtered = not all(pred_holds(w, rec) for w in wheres)
            if filtered:
                counts["filtered"] += 1
            else:
                key = []
                for k in keys:
                    t, v = get(rec, k)
                    if t not in ("int", "string"):
                        key = None
                        break
                    key.append(str(v))
                if key is None:
                    counts["invalid"] += 1
                    continue
                key = tuple(key)
                if kind != "session":
                    if kind == "tumble":
                        starts = [ts - ((ts - O) % W)]
                    else:
                        last = ts - (ts % S)
                        starts = []
                        s = last
                        while s > ts - W:
                            starts.append(s)
                            s -= S
                    live = [s for s in sorted(starts) if not (s + W - 1 + L <= wm)]
                    if not live:
                        counts["late_dropped"] += 1
                    for s in live:
                        w = wins.setdefault((key, s), {"recs": [], "fired": False})
                        w["recs"].append(rec)
                        if s + W - 1 <= wm:
                            w["fired"] = True
                            if emit == "updates":
                                emit_firing(key, s, s + W, w["recs"], True)
                else:
                    a, b = ts, ts + G
                    lst = sess.setdefault(key, [])
                    hits = [s for s in lst if s["start"] <= b and s["end"] >= a]
                    if not hits and b - 1 + L <= wm:
                        counts["late_dropped"] += 1
                        if not lst:
                            del sess[key]
                    else:
                        recs = []
                        for s in sorted(hits, key=lambda s: s["start"]):
                            a = min(a, s["start"])
                            b = max(b, s["end"])
                            recs.extend(s["recs"])
                            lst.remove(s)
                        recs.append(rec)
                        fired = b - 1 <= wm
                        lst.append({"start": a, "end": b, "recs": recs, "fired": fired})
                        if fired and emit == "updates":
                            emit_firing(key, a, b, recs, True)
            max_ts = max(max_ts, ts)
            advance(max_ts - ooo - 1)
    advance(float("inf"))
    for o in out:
        print(json.dumps(o, separators=(",", ":")))
    print(json.dumps(counts), file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]))
    else:
        with open(sys.argv[3]) as f:
            run(sys.argv[2], json.load(f))
