# File mode with --checkpoint-dir: killed with SIGKILL at random instants (some during a
# checkpoint, some between), restarted each time, the job still writes exactly what one
# uninterrupted run writes, byte for byte, with the same counters. Damaged, truncated and
# foreign checkpoints are refused with a message and an older one is used; a checkpoint of
# another configuration is refused unless --reset-state.
set -euo pipefail
tmp=$(mktemp -d)
pid=
cleanup() {
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
J=$WEIR_BIN/unique-users
"$WEIR_REL_BIN/weir-gen" --seed 5 --events 300000 --products 300 --users 30000 --rate 1000 \
    --disorder-ms 8000 --late 0.02 --late-max-ms 90000 --bad 0.01 --mixed >"$tmp/in.jsonl"
args=(--input "$tmp/in.jsonl" --allowed-lateness 30s)
"$J" "${args[@]}" --output "$tmp/ref.out" --late-output "$tmp/ref.late" \
    --dead-letter "$tmp/ref.dead" 2>"$tmp/ref.sum"

run() { # extra args...: the checkpointed job, in the background
    "$J" "${args[@]}" --output "$tmp/out" --late-output "$tmp/late" --dead-letter "$tmp/dead" \
        --checkpoint-dir "$tmp/ck" --checkpoint-interval 25ms "$@" 2>>"$tmp/err" &
    pid=$!
}

same() { # the outputs and counters equal the uninterrupted run's
    cmp -s "$tmp/ref.out" "$tmp/out" && cmp -s "$tmp/ref.late" "$tmp/late" &&
        cmp -s "$tmp/ref.dead" "$tmp/dead" || return 1
    /usr/bin/python3 - "$tmp/ref.sum" "$1" <<'PY'
import json, sys
a = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
b = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
keys = ("records", "valid", "invalid", "invalid_by", "late_dropped", "late_accepted",
        "late_firings", "windows", "keys", "emissions")
bad = [k for k in keys if a[k] != b[k]]
sys.exit(f"counters differ: {bad}" if bad else 0)
PY
}

kills=0 during=0 completions=0 cycles=0 resumes=0
rm -rf "$tmp/ck"
while ((kills < 24 || during < 2)); do
    ((cycles++ < 200)) || { echo "FAIL: $kills kills, $during during a checkpoint after 200 cycles"; exit 1; }
    : >"$tmp/err"
    run
    if ((cycles % 3 == 0)); then
        # Wait for a checkpoint being written (its temporary file) and kill right then.
        for ((w = 0; w < 3000; w++)); do
            compgen -G "$tmp/ck/*.tmp" >/dev/null && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.001
        done
    else
        sleep "0.$(printf '%03d' $((RANDOM % 900 + 30)))"
    fi
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        pid=
        kills=$((kills + 1))
        ls "$tmp/ck"/*.tmp >/dev/null 2>&1 && during=$((during + 1))
        continue
    fi
    rc=0
    wait "$pid" || rc=$?
    pid=
    [[ $rc -eq 0 ]] || { echo "FAIL: the restarted job exited $rc"; cat "$tmp/err"; exit 1; }
    tail -n 1 "$tmp/err" >"$tmp/sum"
    same "$tmp/sum" || { echo "FAIL: after $kills kills the output differs from an uninterrupted run"; exit 1; }
    completions=$((completions + 1))
    grep -q '"resumed":true' "$tmp/sum" && resumes=$((resumes + 1))
    rm -rf "$tmp/ck" # the next cycle starts a fresh run
done
# Finish the last interrupted run: it resumes when the killed one left a checkpoint (one
# killed before its first checkpoint leaves none, and the run starts afresh).
had=false
compgen -G "$tmp/ck/ckpt-*.weir" >/dev/null && had=true
: >"$tmp/err"
run
wait "$pid"
pid=
tail -n 1 "$tmp/err" >"$tmp/sum"
same "$tmp/sum" || { echo "FAIL: final output differs from an uninterrupted run"; exit 1; }
grep -q "\"resumed\":$had" "$tmp/sum" || { echo "FAIL: the last run: resumed is not $had with a checkpoint $($had && echo present || echo absent)"; exit 1; }
$had && resumes=$((resumes + 1))
((resumes > 0)) || { echo "FAIL: no completed run resumed from a checkpoint"; exit 1; }
echo "ok: $kills kills ($during during a checkpoint), $completions completed runs checked ($resumes resumed), all equal"

# Damaged checkpoints: the newest corrupt, then truncated, then a foreign file as newest.
# Each case starts from the same three good checkpoints of a completed run (how many a
# run writes depends on the machine's speed).
rm -rf "$tmp/ck"
: >"$tmp/err"
run --checkpoint-interval 1ms
wait "$pid"
pid=
(($(ls "$tmp/ck"/ckpt-*.weir | wc -l) == 3)) || { echo "FAIL: a completed run kept $(ls "$tmp/ck" | wc -l) checkpoints, not 3"; exit 1; }
cp -a "$tmp/ck" "$tmp/ck.good"
# flip FILE OFFSET: invert one byte, so the file is damaged whatever the byte was
# (past the end of a short file it writes 0xff there, which lengthens the file).
flip() {
    local b=0
    (($2 < $(stat -c %s "$1"))) && b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
newest() { ls "$tmp/ck"/ckpt-*.weir | sort -t- -k2 -n | tail -n 1; }
fresh() { rm -rf "$tmp/ck" && cp -a "$tmp/ck.good" "$tmp/ck"; }
check_fallback() { # what, pattern expected on stderr
    : >"$tmp/err"
    run
    wait "$pid"
    pid=
    grep -q "refused: $2" "$tmp/err" || { echo "FAIL: $1: no refusal message: $(head -3 "$tmp/err")"; exit 1; }
    tail -n 1 "$tmp/err" >"$tmp/sum"
    same "$tmp/sum" || { echo "FAIL: $1: output differs after falling back"; exit 1; }
    echo "ok: $1 refused ($2), an older checkpoint used"
}
fresh
f=$(newest)
flip "$f" $(($(stat -c %s "$f") / 2))
check_fallback "a corrupt checkpoint" "checksum mismatch"
fresh
f=$(newest)
truncate -s $(($(stat -c %s "$f") - 100)) "$f"
check_fallback "a truncated checkpoint" "truncated"
fresh
head -c 5000 /dev/urandom >"$tmp/ck/ckpt-999999.weir"
check_fallback "a foreign file" "not a weir checkpoint"
fresh
printf 'WEIRCKPT' >"$tmp/ck/ckpt-1000000.weir"
check_fallback "a cut header" "not a weir checkpoint"
ls "$tmp/ck"/ckpt-*.weir | sort -t- -k2 -n | tail -n 1 >/dev/null

# Nothing usable at all: a clear message and exit 2, never a half-loaded state.
for f in "$tmp/ck"/ckpt-*.weir; do flip "$f" 40; done
rc=0
"$J" "${args[@]}" --output "$tmp/out" --checkpoint-dir "$tmp/ck" 2>"$tmp/err" || rc=$?
[[ $rc -eq 2 ]] && grep -q "no usable checkpoint" "$tmp/err" || { echo "FAIL: all damaged: exit $rc: $(tail -1 "$tmp/err")"; exit 1; }
echo "ok: no usable checkpoint: exit 2"

# A checkpoint of another meaning is refused unless --reset-state.
rm -rf "$tmp/ck"
"$J" "${args[@]}" --output "$tmp/out" --checkpoint-dir "$tmp/ck" --checkpoint-interval 1ms 2>/dev/null
rc=0
"$J" "${args[@]}" --output "$tmp/out" --checkpoint-dir "$tmp/ck" --window 30s 2>"$tmp/err" || rc=$?
[[ $rc -eq 2 ]] && grep -q "another configuration.*--reset-state" "$tmp/err" || { echo "FAIL: changed window: exit $rc: $(cat "$tmp/err")"; exit 1; }
rc=0
"$J" "${args[@]}" --output "$tmp/out" --checkpoint-dir "$tmp/ck" --emit final 2>"$tmp/err" || rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL: changed emit mode: exit $rc"; exit 1; }
"$J" "${args[@]}" --output "$tmp/out" --checkpoint-dir "$tmp/ck" --window 30s --reset-state 2>/dev/null
"$J" "${args[@]}" --output "$tmp/fresh" --window 30s 2>/dev/null
cmp -s "$tmp/out" "$tmp/fresh" || { echo "FAIL: --reset-state did not start from empty state"; exit 1; }
echo "ok: a changed configuration is refused, --reset-state starts over"

# Standard input cannot resume.
rc=0
"$J" --input - --output "$tmp/out" --checkpoint-dir "$tmp/ck2" </dev/null 2>"$tmp/err" || rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL: checkpointing stdin: exit $rc"; exit 1; }
echo "ok: checkpointing standard input is refused"
