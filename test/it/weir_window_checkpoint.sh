# weir-window with --checkpoint-dir, for each window kind: killed with SIGKILL at random
# instants (some while a checkpoint is written), restarted each time, the job still writes
# what one uninterrupted run writes: the same firings (firings of one watermark step with the
# same window end may come in another order after a restore, which the operator does not fix),
# the same late and dead-letter files byte for byte, the same counters. A checkpoint of
# another configuration is refused unless --reset-state.
set -euo pipefail
tmp=$(mktemp -d)
pid=
cleanup() {
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
J=$WEIR_BIN/weir-window
/usr/bin/python3 "$WEIR_ROOT/test/it/weir_window_ref.py" gen "${WEIR_CKPT_EVENTS:-60000}" 9 \
    >"$tmp/in.jsonl"

same() { # summary file: outputs and counters equal the uninterrupted run's
    cmp -s <(sort "$tmp/ref.out") <(sort "$tmp/out") && cmp -s "$tmp/ref.late" "$tmp/late" &&
        cmp -s "$tmp/ref.dead" "$tmp/dead" || return 1
    /usr/bin/python3 - "$tmp/ref.sum" "$1" <<'PY'
import json, sys
a = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
b = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
keys = ("records", "valid", "invalid", "invalid_by", "filtered", "accepted", "late_dropped",
        "late_accepted", "late_firings", "emissions")
bad = [k for k in keys if a[k] != b[k]]
sys.exit(f"counters differ: {bad}" if bad else 0)
PY
}

for window in tumble:1m hop:1m/20s session:15s; do
    args=(--input "$tmp/in.jsonl" --key product_id --window "$window" --allowed-lateness 20s
        --where 'status != pending' --agg 'count()' --agg 'sum(total_price) as revenue'
        --agg 'avg(quantity)' --agg 'count_distinct(user_id)'
        --agg 'approx_count_distinct(user_id) as approx')
    t0=$(date +%s%N)
    "$J" "${args[@]}" --output "$tmp/ref.out" --late-output "$tmp/ref.late" \
        --dead-letter "$tmp/ref.dead" 2>"$tmp/ref.sum"
    # Kills land within the time a whole run takes here (at least 20 ms), so that most runs are
    # killed on a fast machine as on a slow one.
    run_ms=$((($(date +%s%N) - t0) / 1000000))
    ((run_ms >= 20)) || run_ms=20
    kills=0 completions=0 resumes=0
    rm -rf "$tmp/ck"
    check_run() { # waits for the run in the background, checks it
        local rc=0
        wait "$pid" || rc=$?
        pid=
        [[ $rc -eq 0 ]] || { echo "FAIL $window: the restarted job exited $rc"; cat "$tmp/err"; exit 1; }
        same "$tmp/err" || { echo "FAIL $window: after $kills kills the output differs"; exit 1; }
        completions=$((completions + 1))
        grep -q '"resumed":true' "$tmp/err" && resumes=$((resumes + 1))
        rm -rf "$tmp/ck"
    }
    for cycle in $(seq 1 16); do
        "$J" "${args[@]}" --output "$tmp/out" --late-output "$tmp/late" --dead-letter "$tmp/dead" \
            --checkpoint-dir "$tmp/ck" --checkpoint-interval 20ms 2>"$tmp/err" &
        pid=$!
        if ((cycle % 4 == 0)); then
            for ((w = 0; w < 3000; w++)); do
                compgen -G "$tmp/ck/*.tmp" >/dev/null && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.001
            done
        else
            ms=$((RANDOM % run_ms + 5))
            sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
        fi
        if kill -9 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            pid=
            kills=$((kills + 1))
            continue
        fi
        check_run
    done
    # The last killed run finishes now, resuming from its newest checkpoint.
    if compgen -G "$tmp/ck/ckpt-*.weir" >/dev/null; then
        "$J" "${args[@]}" --output "$tmp/out" --late-output "$tmp/late" --dead-letter "$tmp/dead" \
            --checkpoint-dir "$tmp/ck" --checkpoint-interval 20ms 2>"$tmp/err" &
        pid=$!
        check_run
    fi
    ((kills > 5 && resumes > 0)) || { echo "FAIL $window: $kills kills, $resumes resumed runs"; exit 1; }
    echo "ok $window: $kills kills, $completions completed runs ($resumes resumed), output identical"
done

# Another configuration: refused with one line, exit 2; --reset-state starts afresh.
"$J" "${args[@]}" --output "$tmp/out" --checkpoint-dir "$tmp/ck" --checkpoint-interval 1ms \
    2>/dev/null
set +e
"$J" "${args[@]}" --agg 'max(total_price)' --output "$tmp/out" --checkpoint-dir "$tmp/ck" \
    2>"$tmp/err"
rc=$?
set -e
[[ $rc == 2 ]] && grep -q 'another configuration: aggregates=' "$tmp/err" ||
    { echo "FAIL: another configuration: exit $rc: $(cat "$tmp/err")"; exit 1; }
echo "ok: $(tail -1 "$tmp/err")"
"$J" "${args[@]}" --agg 'max(total_price)' --output "$tmp/out" --checkpoint-dir "$tmp/ck" \
    --reset-state 2>/dev/null
echo "ok: --reset-state"
