#!/usr/bin/python3
"""Random small streams through unique-users and the reference model, compared record by record.

reference_model.sh runs a million realistic events through a handful of settings. This
draws hundreds of small cases instead, each with its own window size (1 ms to a day),
out-of-orderness, allowed lateness, emit mode, key mode and timestamp unit, and a stream
written to reach the contract's edges: times before 1970 and around year 0, integers on
both sides of the seconds/milliseconds guess, every timestamp encoding (ISO-8601 with
offsets, lower-case separators, long fractions, leap seconds; integers as numbers and as
strings), records far ahead and far behind, empty and integer keys and users, and invalid
records of many kinds. Firings, the summary's counts, the dead letters and the late records
must all be the reference's, line for line. The events are generated here, in Python; only
the job is weir's.

usage: reference_random.py UNIQUE_USERS_BINARY [CASES] [SEED]
On a difference it prints the case's settings, the first differing lines and where the
input was kept, and exits 1.
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_model as ref  # noqa: E402

YEAR0 = ref.days_from_civil(0, 1, 1) * 86400000  # 0000-01-01T00:00:00Z in ms
YEAR10000 = ref.days_from_civil(10000, 1, 1) * 86400000
# A four-digit year, or ISO 8601's expanded form outside 0000-9999: a sign and 4 to 9 digits.
OUT_TS = re.compile(r"^(\d{4}|[+-]\d{4,9})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$")


def out_ms(s):
    """The job's window_start/window_end (any year, as the job writes it) in ms."""
    m = OUT_TS.match(s)
    if not m:
        raise ValueError(f"not a timestamp the job writes: {s!r}")
    y, mo, d, h, mi, sec, ms = (int(g) for g in m.groups())
    return (ref.days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000 + ms


def civil(ms):
    """(y, mo, d, h, mi, s, msec) of ms, for 0 <= year <= 9999."""
    days, rest = divmod(ms, 86400000)
    lo, hi = 0, 9999
    while lo < hi:  # the year: the last whose first day is <= days
        mid = (lo + hi + 1) // 2
        if ref.days_from_civil(mid, 1, 1) <= days:
            lo = mid
        else:
            hi = mid - 1
    y, mo = lo, 1
    while mo < 12 and ref.days_from_civil(y, mo + 1, 1) <= days:
        mo += 1
    d = days - ref.days_from_civil(y, mo, 1) + 1
    secs, msec = divmod(rest, 1000)
    return y, mo, d, secs // 3600, secs // 60 % 60, secs % 60, msec


def iso(rng, ms):
    """One of the ISO-8601 spellings of ms the contract allows (ms within years 0-9999)."""
    off_min = 0
    if rng.random() < 0.3:
        off_min = rng.choice([60, -90, 330, -720, 23 * 60 + 59, -(23 * 60 + 59), 1])
    local = ms + off_min * 60000
    if not YEAR0 <= local < YEAR10000:
        off_min, local = 0, ms
    y, mo, d, h, mi, s, msec = civil(local)
    if s == 0 and rng.random() < 0.05 and local - 60000 >= YEAR0:
        y, mo, d, h, mi, _, _ = civil(local - 60000)
        s = 60  # a leap second: the same instant as the next minute's first
    text = f"{y:04d}-{mo:02d}-{d:02d}{rng.choice('TTTTt ')}{h:02d}:{mi:02d}:{s:02d}"
    digits = [3, 4, 6] + ([2] if msec % 10 == 0 else []) + ([1] if msec % 100 == 0 else [])
    digits += [0, 0, 0] if msec == 0 else []
    n = rng.choice(digits)
    if n:
        extra = "".join(rng.choice("0123456789") for _ in range(max(0, n - 3)))
        text += rng.choice(".,") + f"{msec:03d}"[:n] + extra  # digits past ms are cut
    if off_min:
        sign, (hh, mm) = "+" if off_min > 0 else "-", divmod(abs(off_min), 60)
        text += rng.choice([f"{sign}{hh:02d}:{mm:02d}", f"{sign}{hh:02d}{mm:02d}"] +
                           ([f"{sign}{hh:02d}"] if mm == 0 else []))
    else:
        text += rng.choice(["Z", "Z", "z", "+00:00", "-0000", ""])
    return text


def spell(rng, literal):
    """A JSON string literal with some of its ASCII characters written as escapes instead."""
    out, i = [], 1
    while i < len(literal) - 1:
        c = literal[i]
        if c == "\\":  # an escape already: keep it whole
            n = 6 if literal[i + 1] == "u" else 2
            out.append(literal[i:i + n])
            i += n
            continue
        if ord(c) < 128 and rng.random() < 0.3:
            out.append("\\/" if c == "/" and rng.random() < 0.5 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
        i += 1
    return '"' + "".join(out) + '"'


def encode_ts(rng, ms, unit):
    """A JSON value for the time ms under the job's --timestamp-unit, or None if none fits."""
    forms = []
    if YEAR0 <= ms < YEAR10000:
        forms.append("iso")
    if unit != "ms" and ms % 1000 == 0 and (unit == "s" or abs(ms // 1000) < 100_000_000_000):
        forms.append("s")
    if unit == "ms" or (unit == "auto" and abs(ms) >= 100_000_000_000):
        forms.append("ms")
    if not forms:
        return None
    f = rng.choice(forms)
    if f == "iso":
        t = json.dumps(iso(rng, ms))
    else:
        v = ms // 1000 if f == "s" else ms
        if rng.random() >= 0.25:
            return str(v)
        t = json.dumps(("+" if v >= 0 and rng.random() < 0.2 else "") + str(v))
    return spell(rng, t) if rng.random() < 0.05 else t


INVALID = [
    b"",
    b"   ",
    b"not json",
    b"[1,2,3]",
    b'"a string"',
    b'{"product_id":"p","user_id":"u"}',
    b'{"product_id":"p","timestamp":1700000000}',
    b'{"user_id":"u","timestamp":1700000000}',
    b'{"product_id":"p","user_id":"u","timestamp":true}',
    b'{"product_id":"p","user_id":"u","timestamp":null}',
    b'{"product_id":"p","user_id":"u","timestamp":1700000000.5}',
    b'{"product_id":"p","user_id":"u","timestamp":"1700000000.5"}',
    b'{"product_id":"p","user_id":"u","timestamp":1.7e9}',
    b'{"product_id":"p","user_id":"u","timestamp":"2023-02-29T00:00:00Z"}',
    b'{"product_id":"p","user_id":"u","timestamp":"2024-04-31T00:00:00Z"}',
    b'{"product_id":"p","user_id":"u","timestamp":"2024-01-01T24:00:00Z"}',
    b'{"product_id":"p","user_id":"u","timestamp":"2024-01-01T12:00:61Z"}',
    b'{"product_id":"p","user_id":"u","timestamp":"2024-01-01T12:00:00+24:00"}',
    b'{"product_id":"p","user_id":"u","timestamp":"2024-01-01T12:00"}',
    b'{"product_id":"p","user_id":"u","timestamp":" 1700000000"}',
    b'{"product_id":"p","user_id":"u","timestamp":99999999999999999999999}',
    b'{"product_id":1.5,"user_id":"u","timestamp":1700000000}',
    b'{"product_id":true,"user_id":"u","timestamp":1700000000}',
    b'{"product_id":"p","user_id":["u"],"timestamp":1700000000}',
    b'{"product_id":"p","user_id":null,"timestamp":1700000000}',
    b'{"product_id":"p","user_id":"u\xff","timestamp":1700000000}',
    b'{"product_id":"p","user_id":"u","timestamp":1700000000',
    b'{"product_id":"p","user_id":"u","timestamp":01}',
    b'{"product_id":"p","user_id":"u\x00","timestamp":1700000000}',
    b'{"product_id":"a\\u0000b","user_id":"u","timestamp":1700000000}',
    b'{"product_id":"p","user_id":"\\ud83d","timestamp":1700000000}',
    b'{"product_id":"\\udc00x","user_id":"u","timestamp":1700000000}',
    b'{"product_id":"p","user_id":"u","timestamp":"17\\u00000000000"}',
]


def draw_case(rng):
    W = rng.choice([1, 2, 3, 7, 10, 1000, 1000, 60000, 60000, 3600000, 86400000,
                    rng.randint(1, 100000)])
    ooo = rng.choice([0, 0, 1, max(0, W - 1), W, 2 * W + 3, rng.randint(0, 3 * W)])
    L = rng.choice([0, 0, 1, W // 2, W, 3 * W, rng.randint(0, 4 * W)])
    if rng.random() < 0.04:
        # the largest settings the job takes: windows, delays and lateness of 2^63 - 1 ms,
        # where the operator's arithmetic must saturate instead of overflowing
        big = 2**63 - 1
        W, ooo, L = rng.choice([(big, 0, 0), (60000, big, 0), (60000, 1000, big),
                                (big, big, big), (2**62, 2**62, 2**62)])
    emit = rng.choice(["updates", "final"])
    glob = rng.random() < 0.2
    unit = rng.choice(["auto", "auto", "auto", "s", "ms"])
    base = rng.choice([
        1_700_000_000_000,                      # 2023
        0,                                      # the epoch: times on both sides of it
        -1_000_000_000_000,                     # 1938
        YEAR0 + rng.randint(0, 10) * 1000,      # year 0
        YEAR10000 - 3 * 86400000,               # the end of year 9999
        99_999_999_999_000,                     # seconds just below the guess's limit
        100_000_000_000 - 5000,                 # ms around the guess's limit
        -100_000_000_000 + 5000,
        rng.randint(-10**14, 10**14),
    ])
    if unit == "s" or rng.random() < 0.5:
        base -= base % 1000
    return W, ooo, L, emit, glob, unit, base


def member(path, value):
    """The JSON member that puts value at a dotted path: "a.b" gives "a":{"b":value}."""
    parts = path.split(".")
    for part in reversed(parts[1:]):
        value = f'{{"{part}":{value}}}'
    return f'"{parts[0]}":{value}'


def draw_names(rng):
    """The key, user and timestamp fields of a case: the defaults, other names, or paths."""
    return (rng.choice(["product_id"] * 3 + ["pid", "meta.product"]),
            rng.choice(["user_id"] * 3 + ["u", "who.id"]),
            rng.choice(["timestamp"] * 3 + ["ts", "when.at"]))


def draw_stream(rng, W, ooo, L, unit, base, n, names):
    keys = rng.sample(["p1", "p2", "", "42", "-7", "p\"q", "caf\u00e9", "\U0001F600", "k",
                       "tab\tand\nline", "ctl\x01\x1f\x7f\\", "</script>", "\u2028\ufeff"],
                      rng.randint(1, 5))
    users = rng.sample(["u1", "u2", "u3", "", "7", "0", "u\\n", "\u00fc", "x" * 40],
                       rng.randint(1, 7))
    spread = min(max(W, ooo, 1), 10**12)  # the streams stay within 30 years of their start
    jitter = min(rng.choice([ooo // 2, ooo, ooo + W]), spread)  # mostly within the bound
    t = base
    lines = []
    for _ in range(n):
        r = rng.random()
        if r < 0.05:
            lines.append(rng.choice(INVALID))
            continue
        if r < 0.12:
            t2 = t - rng.randint(0, 3 * spread + min(L, 10**12))  # behind, late or not
        elif r < 0.14:
            t2 = t = t + rng.randint(spread, 8 * spread)  # the stream jumps ahead
        elif r < 0.15:
            t2 = t + rng.randint(spread, 8 * spread)  # one record far ahead: a wrong clock
        else:
            t2 = t + rng.randint(-jitter, max(1, W // 3))
            t = max(t, t2)
        if unit == "s" or (rng.random() < 0.3):
            t2 -= t2 % 1000
        v = encode_ts(rng, t2, unit)
        if v is None:
            t2 -= t2 % 1000
            v = encode_ts(rng, t2, unit)
            if v is None:
                continue
        k = rng.choice(keys)
        u = rng.choice(users)
        kv = k if not re.fullmatch(r"-?[1-9][0-9]*|0", k) or rng.random() < 0.5 else int(k)
        uv = u if not re.fullmatch(r"-?[1-9][0-9]*|0", u) or rng.random() < 0.5 else int(u)
        kj, uj = (json.dumps(x, ensure_ascii=rng.random() < 0.5) for x in (kv, uv))
        if isinstance(kv, str) and rng.random() < 0.1:
            kj = spell(rng, kj)
        if isinstance(uv, str) and rng.random() < 0.1:
            uj = spell(rng, uj)
        fields = [member(names[0], kj), member(names[1], uj), member(names[2], v)]
        if rng.random() < 0.2:
            fields.append(rng.choice(EXTRA))
        rng.shuffle(fields)
        if rng.random() < 0.05:
            # a field given twice: the last one counts (the first is often not even valid)
            name = rng.choice(names).split(".")[0]
            first = rng.choice(['"other"', "null", "[1]", '"2024-02-30T00:00:00Z"', "7"])
            fields.insert(0, f'"{name}":{first}')
        if rng.random() < 0.1:
            ws = lambda: rng.choice(["", " ", "\t", "  ", "\r", " \r "])  # noqa: E731
            line = ws() + "{" + ws() + f"{ws()},{ws()}".join(
                f.replace('":', f'"{ws()}:{ws()}', 1) for f in fields) + ws() + "}" + ws()
        else:
            line = "{" + ",".join(fields) + "}"
        lines.append(line.encode())
    return lines


# Fields beside the three the job reads: they must not change anything.
EXTRA = [
    '"event_type":"VIEW","metadata":{"session_id":"s","n":[1,2]}',
    '"price":-12.5e-3,"ok":true,"gone":false,"none":null',
    '"deep":[[[[[[[[{"a":[{"b":{}}]}]]]]]]]]',
    '"text":"line\\nbreak \\"quoted\\" \\u00e9\\ud83d\\ude00 tab\\t"',
    '"big":123456789012345678901234567890,"small":-0.0,"exp":1E+2',
    '"product":"not the key","user":"nor the user","time":"nor the time"',
]


def expected(lines, W, ooo, L, emit, glob, unit, names):
    """The reference's firings, summary, invalid lines and late lines."""
    records, raws, invalid = [], [], []
    for raw in lines:
        raw = raw[:-1] if raw.endswith(b"\r") else raw  # \r\n line ends: the job drops the \r
        r = ref.decode(raw, names[0], unit, glob, names[1], names[2])
        if r is None:
            invalid.append(raw)
        else:
            records.append(r)
            raws.append(raw)
    out, late = [], []
    dropped, emitted = ref.simulate(records, W, ooo, L, emit, out, late)
    summary = {"valid": len(records), "invalid": len(invalid), "late_dropped": dropped,
               "emissions": emitted}
    return [list(o) for o in out], summary, invalid, [raws[i] for i in late]


def run_job(binary, path, W, ooo, L, emit, glob, unit, names):
    """The job's firings, summary, dead letters and late records."""
    dead, late = path + ".dead", path + ".late"
    cmd = [binary, "--input", path, "--output", "-", "--dead-letter", dead, "--late-output", late,
           "--window", f"{W}ms",
           "--out-of-orderness", f"{ooo}ms", "--allowed-lateness", f"{L}ms", "--emit", emit,
           "--timestamp-unit", unit, "--user-field", names[1], "--timestamp-field", names[2]]
    cmd += ["--global"] if glob else ["--key", names[0]]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode()[-500:]}")
    got = []
    for line in p.stdout.decode().split("\n")[:-1]:  # not splitlines: U+2028 is no line end
        o = json.loads(line)
        got.append([o.get(names[0], "") if not glob else o.get("product_id", ""), out_ms(o["window_start"]), out_ms(o["window_end"]),
                    o["unique_user_count"], o["event_count"], o.get("late", False)])
    summary = json.loads(p.stderr.decode().strip().splitlines()[-1])

    def lines_of(f):
        with open(f, "rb") as fh:
            data = fh.read()
        return data.split(b"\n")[:-1] if data else []
    return (got, {k: summary[k] for k in ("valid", "invalid", "late_dropped", "emissions")},
            lines_of(dead), lines_of(late))


def main():
    binary = sys.argv[1]
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rng = random.Random(seed)
    totals = {"valid": 0, "invalid": 0, "late_dropped": 0, "emissions": 0}
    late_firings = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in.jsonl")
        for case in range(cases):
            W, ooo, L, emit, glob, unit, base = draw_case(rng)
            names = draw_names(rng)
            lines = draw_stream(rng, W, ooo, L, unit, base, rng.randint(1, 300), names)
            with open(path, "wb") as f:
                f.write(b"\n".join(lines) + b"\n")
            want, want_sum, want_dead, want_late = expected(lines, W, ooo, L, emit, glob, unit,
                                                            names)
            got, got_sum, got_dead, got_late = run_job(binary, path, W, ooo, L, emit, glob, unit,
                                                       names)
            if got != want or got_sum != want_sum or got_dead != want_dead or got_late != want_late:
                keep = f"/tmp/weir-reference-random-{seed}-{case}.jsonl"
                with open(keep, "wb") as f:
                    f.write(b"\n".join(lines) + b"\n")
                print(f"FAIL case {case} (seed {seed}): W={W} ooo={ooo} L={L} emit={emit} "
                      f"global={glob} unit={unit} fields={names}; input kept in {keep}")
                print(f"  summary: reference {want_sum}, job {got_sum}")
                for what, w, g in (("dead letters", want_dead, got_dead),
                                   ("late records", want_late, got_late)):
                    if w != g:
                        print(f"  {what} differ: reference {len(w)}, job {len(g)}: first "
                              f"{next((x for x in zip(w, g) if x[0] != x[1]), None)}")
                for i in range(max(len(want), len(got))):
                    w = want[i] if i < len(want) else None
                    g = got[i] if i < len(got) else None
                    if w != g:
                        print(f"  firing {i}: reference {w}, job {g}")
                        break
                sys.exit(1)
            for k in totals:
                totals[k] += want_sum[k]
            late_firings += sum(1 for o in want if o[5])
    # The cases must reach what they are for, or passing says nothing.
    if not all(totals.values()) or not late_firings:
        sys.exit(f"FAIL: the cases did not exercise everything: {totals}, "
                 f"{late_firings} late firings")
    print(f"ok: {cases} cases (seed {seed}) equal the reference: {totals['valid']} valid, "
          f"{totals['invalid']} invalid, {totals['late_dropped']} late dropped, "
          f"{totals['emissions']} firings of which {late_firings} late")


if __name__ == "__main__":
    main()
