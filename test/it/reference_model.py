#!/usr/bin/python3
"""A brute-force reference model of SEMANTICS.md (plain, slow, obviously right).

Reads a JSON-lines file the way the contract describes, simulates the watermark,
windows, lateness, firing and cleanup record by record with Python dicts and
sets, and prints the expected firings as JSON lines plus a summary line.
It shares no code with weir: decoding uses Python's json module.
"""
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
            if not (1 <= mo <= 12 and 1 <= d <= days_in_month(y, mo) and h <= 23 and mi <= 59
                    and s <= 60):
                return None
            frac = (m.group(7) or "0")[:3].ljust(3, "0")
            off = 0
            z = m.group(8)
            if z and z not in ("Z", "z"):
                sign = -1 if z[0] == "-" else 1
                digits = z[1:].replace(":", "")
                oh, om = int(digits[:2]), int(digits[2:4]) if len(digits) > 2 else 0
                if oh > 23 or om > 59:  # offsets are within -23:59..+23:59
                    return None
                off = sign * (oh * 60 + om)
            secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off * 60
            return secs * 1000 + int(frac)
        if INT.match(v):
            return int_ts(int(v), unit)
    return None


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(y, mo):
    if mo == 2:
        return 29 if is_leap(y) else 28
    return 30 if mo in (4, 6, 9, 11) else 31


def days_from_civil(y, mo, d):
    """Days from 1970-01-01 to y-mo-d in the proleptic Gregorian calendar, year 0 and years far
    beyond 9999 included (Python's datetime refuses both): 400-year eras of 146,097 days, each
    year counted from March so that the leap day comes last."""
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400  # 0..399
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1  # from March 1st
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


# weir takes times within a quarter of the 64-bit range either side of the epoch (some 73
# million years), keeping clear of the watermark's infinities; beyond that a time is invalid.
TS_LIMIT = (2**63 - 1) // 4


def int_ts(n, unit):
    if unit == "s" or (unit == "auto" and abs(n) < 100_000_000_000):
        n *= 1000
    return n if abs(n) <= TS_LIMIT else None


# A key or user holding a NUL or an unpaired surrogate ("\u0000", "\ud800") is not text weir
# can carry: such a record is invalid (as one with a raw NUL byte anywhere).
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def text(v):
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, str):
        return None if NOT_TEXT.search(v) else v
    if isinstance(v, int):
        return str(v)
    return None


def field(obj, path):
    """The value at a dotted path ("metadata.session_id"), or None when it is missing."""
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def decode(raw, key_field, unit, global_mode, user_field="user_id", ts_field="timestamp"):
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
    key = "" if global_mode else text(field(obj, key_field))
    user = text(field(obj, user_field))
    ts = parse_ts(field(obj, ts_field), unit)
    if key is None or user is None or ts is None:
        return None
    return ts, key, user


def simulate(records, W, ooo, L, emit, out, late=None):
    """Appends the firings to out and, when late is a list, the index of each late record."""
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

    for i, (ts, key, user) in enumerate(records):
        start = ts - (ts % W)  # Python's % is floor modulo
        end = start + W
        if wm is not None and end - 1 + L <= wm:
            late_dropped += 1
            if late is not None:
                late.append(i)
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
        raw = raw[:-1] if raw.endswith(b"\r") else raw  # \r\n line ends
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
