#!/usr/bin/python3
"""A brute-force reference model of SEMANTICS.md (plain, slow, obviously right).

Reads a JSON-lines file the way the contract describes, simulates the watermark,
windows, lateness, firing and cleanup record by record with Python dicts and
sets, and prints the expected firings as JSON lines plus a summary line.
It shares no code with weir: decoding uses Python's json module.
"""
import calendar
import json
import re
import sys

ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
                 r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$")
INT = re.compile(r"^[+-]?\d+$")


def parse_ts(v, unit):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return int_ts(v, unit)
    if isinstance(v, str):
        m = ISO.match(v)
        if m:
            y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
            if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
                return None
            frac = (m.group(7) or "0")[:3].ljust(3, "0")
            off = 0
            z = m.group(8)
            if z and z not in ("Z", "z"):
                sign = -1 if z[0] == "-" else 1
                digits = z[1:].replace(":", "")
                off = sign * (int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0))
            secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - off * 60
            return secs * 1000 + int(frac)
        if INT.match(v):
            return int_ts(int(v), unit)
    return None


def int_ts(n, unit):
    if unit == "s" or (unit == "auto" and abs(n) < 100_000_000_000):
        return n * 1000
    return n


def text(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    return None


def decode(raw, key_field, unit, global_mode):
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in s:
        return None
    try:
        obj = json.loads(s)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    key = "" if global_mode else text(obj.get(key_field))
    user = text(obj.get("user_id"))
    ts = parse_ts(obj.get("timestamp"), unit)
    if key is None or user is None or ts is None:
        return None
    return ts, key, user


def simulate(records, W, ooo, L, emit, out):
    wm = None  # None is minus infinity
    windows = {}  # start -> {"fired": bool, "keys": {key: [set(users), count]}}
    late_dropped = 0
    emitted = 0

    def fire(start, late_key=None, late=False):
        nonlocal emitted
        win = windows[start]
        keys = [late_key] if late_key is not None else list(win["keys"])
        for k in keys:
            users, count = win["keys"][k]
            out.append((k, start, start + W, len(users), count, late))
            emitted += 1

    for ts, key, user in records:
        start = ts - (ts % W)  # Python's % is floor modulo
        end = start + W
        if wm is not None and end - 1 + L <= wm:
            late_dropped += 1
            continue
        win = windows.setdefault(start, {"fired": False, "keys": {}})
        entry = win["keys"].setdefault(key, [set(), 0])
        entry[0].add(user)
        entry[1] += 1
        if wm is not None and end - 1 <= wm:
            win["fired"] = True
            if emit == "updates":
                fire(start, key, True)
        new_wm = ts - ooo - 1
        if wm is None or new_wm > wm:
            wm = new_wm
            for s in sorted(windows):
                if s + W - 1 <= wm and not windows[s]["fired"]:
                    windows[s]["fired"] = True
                    if emit == "updates":
                        fire(s)
            for s in sorted(windows):
                if s + W - 1 + L <= wm:
                    if emit == "final":
                        fire(s)
                    del windows[s]
    for s in sorted(windows):
        if emit == "final" or not windows[s]["fired"]:
            fire(s)
    return late_dropped, emitted


def main():
    path, key_field, unit, global_mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    W, ooo, L, emit = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
    records, invalid = [], 0
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for raw in lines:
        r = decode(raw, key_field, unit, global_mode)
        if r is None:
            invalid += 1
        else:
            records.append(r)
    out = []
    late_dropped, emitted = simulate(records, W, ooo, L, emit, out)
    w = sys.stdout.write
    for k, s, e, u, c, late in out:
        w(json.dumps([k, s, e, u, c, late]) + "\n")
    w(json.dumps({"valid": len(records), "invalid": invalid, "late_dropped": late_dropped,
                  "emissions": emitted}) + "\n")


if __name__ == "__main__":
    main()
