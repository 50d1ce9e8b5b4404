#!/usr/bin/env bash
# unique-users is the generic window job with one configuration: weir-window given
#   --key K --window tumble:W --where 'USER != ""'
#   --agg 'count_distinct(USER) as unique_user_count' --agg 'count() as event_count'
# emits the same firings over the same disordered input (with invalid lines and late and
# very late records), for every setting the two share: lateness 0 and above, both emission
# modes, a global count, a dotted user field. unique-users runs its own tumbling operator,
# kept for its 15-byte exact state (README, #17); this test is what keeps the two one
# semantics. Compared per (key, window): the same values in the same order (the order of
# firings across keys of one watermark step is each operator's own), the same set of
# firings in all, the same late records written out, and the same counts in the summaries.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${WEIR_BIN:-$root/build/bin}
rel=${WEIR_REL_BIN:-$root/build/bin}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "unique_users_preset: $*" >&2; exit 1; }

"$rel/weir-gen" --seed 11 --events 150000 --products 40 --users 3000 --rate 1000 \
    --disorder-ms 8000 --late 0.02 --late-max-ms 90000 --bad 0.01 --mixed >"$work/in.jsonl"

compare() { # NAME, unique-users flags, then `--`, weir-window flags
    local name=$1
    shift
    local uu=() ww=()
    while (($#)) && [[ $1 != -- ]]; do uu+=("$1"); shift; done
    shift
    ww=("$@")
    "$bin/unique-users" --input "$work/in.jsonl" --output "$work/uu.out" \
        --late-output "$work/uu.late" "${uu[@]}" 2>"$work/uu.err" || fail "$name: unique-users exited $?"
    "$bin/weir-window" --input "$work/in.jsonl" --output "$work/ww.out" \
        --late-output "$work/ww.late" "${ww[@]}" 2>"$work/ww.err" || fail "$name: weir-window exited $?"
    /usr/bin/python3 - "$work" "$name" <<'PY' || fail "$name: the two jobs differ"
import collections, json, sys
work, name = sys.argv[1:]
def firings(path):
    per = collections.OrderedDict()
    n = 0
    for line in open(path):
        f = json.loads(line)
        key = (f.get("product_id", f.get("event_type")), f["window_start"], f["window_end"])
        per.setdefault(key, []).append((f["unique_user_count"], f["event_count"]))
        n += 1
    return per, n
uu, nu = firings(f"{work}/uu.out")
ww, nw = firings(f"{work}/ww.out")
if nu < 20:
    sys.exit(f"only {nu} firings: the input does not exercise the operator")
for k in uu.keys() | ww.keys():
    if uu.get(k) != ww.get(k):
        sys.exit(f"{k}: unique-users {uu.get(k)}, weir-window {ww.get(k)}")
if open(f"{work}/uu.late", "rb").read() != open(f"{work}/ww.late", "rb").read():
    sys.exit("the late records written out differ")
su = json.loads(open(f"{work}/uu.err").read().splitlines()[-1])
sw = json.loads(open(f"{work}/ww.err").read().splitlines()[-1])
for k in ("late_dropped", "late_accepted", "late_firings", "emissions"):
    if su[k] != sw[k]:
        sys.exit(f"summary {k}: unique-users {su[k]}, weir-window {sw[k]}")
# unique-users rejects a record without a user as invalid (no_user, or no_key first when
# the key is missing too); weir-window filters it out before it checks keys (SEMANTICS.md).
if su["invalid"] != sw["invalid"] + sw["filtered"]:
    sys.exit(f"invalid {su['invalid']}, but invalid {sw['invalid']} + filtered {sw['filtered']}")
late = sum(1 for _ in open(f"{work}/uu.late"))
print(f"ok: {name}: {nu} firings over {len(uu)} (key, window)s, {late} late records, "
      f"{su['late_firings']} late firings, the same")
PY
}

aggs=(--where 'user_id != ""' --agg 'count_distinct(user_id) as unique_user_count'
    --agg 'count() as event_count')
compare "lateness 0" --window 60s -- --key product_id --window tumble:60s "${aggs[@]}"
compare "lateness 30s, updates" --window 60s --allowed-lateness 30s -- \
    --key product_id --window tumble:60s --allowed-lateness 30s "${aggs[@]}"
compare "lateness 20s, final" --window 30s --allowed-lateness 20s --emit final -- \
    --key product_id --window tumble:30s --allowed-lateness 20s --emit final "${aggs[@]}"
compare "global, 10s, out-of-orderness 2s" --global --window 10s --out-of-orderness 2s \
    --allowed-lateness 5s -- --global --window tumble:10s --out-of-orderness 2s \
    --allowed-lateness 5s "${aggs[@]}"
compare "per event type, distinct sessions" --key event_type --user-field metadata.session_id \
    --window 15s --allowed-lateness 10s -- --key event_type --window tumble:15s \
    --allowed-lateness 10s --where 'metadata.session_id != ""' \
    --agg 'count_distinct(metadata.session_id) as unique_user_count' --agg 'count() as event_count'
echo "unique_users_preset: ok"
