# Bad input never crashes the job nor loses good records: each bad record is counted and
# dead-lettered, the job exits 0. Bad flags exit 2 with one line naming the key; I/O
# failures exit 1.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
J=$WEIR_BIN/unique-users

# Good records, with a bad one of every kind between them.
good() { printf '{"user_id":"u%d","product_id":"p%d","timestamp":%d}\n' "$1" $(($1 % 3)) $((1704067200 + $1)); }
{
    i=0
    emit_bad() { good $i; i=$((i + 1)); }
    emit_bad; printf '{"user_id":"u1","product_id":"p1","timest\n'       # truncated
    emit_bad; printf '[1,2,3]\n'                                          # not an object
    emit_bad; printf '"text"\n'
    emit_bad; printf '{"product_id":"p1","timestamp":1704067200}\n'       # no user
    emit_bad; printf '{"user_id":"u1","timestamp":1704067200}\n'          # no key
    emit_bad; printf '{"user_id":"u1","product_id":"p1"}\n'               # no timestamp
    emit_bad; printf '{"user_id":{"a":1},"product_id":"p1","timestamp":1}\n' # wrong type
    emit_bad; printf '{"user_id":"u1","product_id":true,"timestamp":1}\n'
    emit_bad; printf '{"user_id":"u1","product_id":"p1","timestamp":"noon"}\n' # bad timestamp
    emit_bad; printf '\n'                                                 # empty line
    emit_bad; printf '{"user_id":"u\xff\xfe","product_id":"p1","timestamp":1}\n' # invalid UTF-8
    emit_bad; printf '{"user_id":"u1",\0"product_id":"p1","timestamp":1}\n'     # NUL byte
    emit_bad; head -c 20000 /dev/zero | tr '\0' '['; printf '\n'           # deep nesting
    emit_bad; printf '{"user_id":"u1","product_id":"p1","timestamp":1,"pad":"'; \
        head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'x'; printf '"}\n' # a 10 MB line
    emit_bad; printf '{"user_id":"u1" "product_id":"p1","timestamp":1}\n' # missing colon
    for j in $(seq 100 199); do good "$j"; done
} >"$tmp/in.jsonl"
nbad=15
ngood=$((15 + 100))
grep -a -v -e '^$' "$tmp/in.jsonl" | grep -a '^{"user_id":"u[0-9]*","product_id":"p[0-9]","timestamp":[0-9]*}$' >"$tmp/good.jsonl"
[[ $(wc -l <"$tmp/good.jsonl") -eq $ngood ]] || { echo "FAIL: test data has $(wc -l <"$tmp/good.jsonl") good lines"; exit 1; }

"$J" --input "$tmp/in.jsonl" --output "$tmp/out.jsonl" --dead-letter "$tmp/dead.jsonl" \
    2>"$tmp/summary.json" || { echo "FAIL: job exited $? on bad input"; cat "$tmp/summary.json"; exit 1; }
"$J" --input "$tmp/good.jsonl" --output "$tmp/want.jsonl" 2>/dev/null
/usr/bin/python3 - "$tmp" "$nbad" "$ngood" <<'PY'
import json, sys
tmp, nbad, ngood = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = json.loads(open(f"{tmp}/summary.json").read().strip().splitlines()[-1])
assert s["invalid"] == nbad, f"invalid {s['invalid']} != {nbad}: {s}"
assert s["valid"] == ngood, f"valid {s['valid']} != {ngood}: {s}"
kinds = s["invalid_by"]
for k in ("not_json", "not_object", "no_key", "no_user", "bad_timestamp", "too_large", "bad_encoding"):
    assert kinds.get(k, 0) > 0, f"no {k} counted: {kinds}"
got, want = open(f"{tmp}/out.jsonl").read(), open(f"{tmp}/want.jsonl").read()
assert got == want and want, "the good records' results differ from a run without the bad ones"
dead = open(f"{tmp}/dead.jsonl", "rb").read().split(b"\n")[:-1]
assert len(dead) == nbad, f"{len(dead)} dead letters, want {nbad}"
assert dead[0] == b'{"user_id":"u1","product_id":"p1","timest', dead[0]
print(f"ok: {nbad} bad records counted by kind {kinds}, {ngood} good ones intact")
PY

# Bad usage: exit 2 and one line that names the key or flag.
expect2() { # pattern, args...
    local pat=$1
    shift
    set +e
    "$J" --input "$tmp/good.jsonl" --output /dev/null "$@" >"$tmp/o" 2>"$tmp/e"
    local rc=$?
    set -e
    if [[ $rc -ne 2 ]] || [[ $(wc -l <"$tmp/e") -ne 1 ]] || ! grep -q -- "$pat" "$tmp/e"; then
        echo "FAIL: '$*' gave exit $rc and: $(cat "$tmp/e")"
        exit 1
    fi
}
expect2 'window.size' --window abc
expect2 'window.size' --window 0s
expect2 'updates|final' --emit sometimes
expect2 'auto|s|ms' --timestamp-unit h
expect2 'exact|hll' --distinct approx
expect2 'hll.precision' --hll-precision 30
expect2 '--bogus' --bogus
expect2 'missing value' --window
expect2 'no.such.key' -X no.such.key=1
expect2 'expected key=value' -X window.size
expect2 'nonexistent' --config "$tmp/nonexistent"
printf 'window.size=1m\nemit.mode=never\n' >"$tmp/bad.conf"
expect2 'bad.conf:2: emit.mode' --config "$tmp/bad.conf"
printf 'window.size=1m\0emit.mode=never\n' >"$tmp/nul.conf" # a NUL must not hide the rest
expect2 'nul.conf:1: NUL byte' --config "$tmp/nul.conf"
expect2 'unexpected argument' stray

# I/O failures exit 1.
set +e
"$J" --input "$tmp/does-not-exist" --output /dev/null 2>"$tmp/e"; rc1=$?
"$J" --input "$tmp/good.jsonl" --output "$tmp/no/such/dir/out" 2>"$tmp/e2"; rc2=$?
set -e
[[ $rc1 -eq 1 && $rc2 -eq 1 ]] || { echo "FAIL: I/O failures exited $rc1 and $rc2, want 1"; exit 1; }
echo "ok: bad flags exit 2, I/O failures exit 1"

# A stop while the input is a FIFO nobody has opened yet: the job waits in open(); SIGTERM
# (and SIGINT) end it as a run over no input (exit 0, an empty summary), not as an I/O
# failure ("cannot open: Interrupted system call", exit 1, before this was handled).
mkfifo "$tmp/fifo"
for sig in TERM INT; do
    "$J" --input "$tmp/fifo" --output "$tmp/fifo.out" 2>"$tmp/fifo.err" &
    pid=$!
    # Until it waits in open() for a writer (the kernel's wait_for_partner), with its
    # handlers installed; a slow start under the sanitizers can take seconds.
    for _ in $(seq 200); do
        [[ $(cat "/proc/$pid/wchan" 2>/dev/null) == wait_for_partner ]] && break
        sleep 0.05
    done
    kill -"$sig" "$pid"
    set +e
    wait "$pid"
    rc=$?
    set -e
    [[ $rc -eq 0 ]] && grep -q '"records":0,' "$tmp/fifo.err" ||
        { echo "FAIL: SIG$sig while opening a FIFO: exit $rc: $(cat "$tmp/fifo.err")"; exit 1; }
done
echo "ok: a stop while waiting for a FIFO's writer exits 0"
