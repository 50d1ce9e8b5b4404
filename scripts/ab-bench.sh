#!/usr/bin/env bash
# Compares two builds of weir-bench on one scenario by interleaving their processes (a, b,
# a, b, ...), which is what this shared, noisy machine needs: a series of one build, then
# one of the other, mostly measures the neighbours. Prints each build's median, min and
# max, and the median of the paired ratios b/a. Asserts nothing.
#   scripts/ab-bench.sh OLD_BIN NEW_BIN [SCENARIO] [ROUNDS] [extra weir-bench args...]
# e.g. (a build of an older commit in a worktree):
#   git worktree add /tmp/old HEAD~1 && make -C /tmp/old build/bin/weir-bench
#   scripts/ab-bench.sh /tmp/old/build/bin/weir-bench build/bin/weir-bench operator-exact 7
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,9p' "$0" >&2; exit 2; }
a=$1 b=$2 scenario=${3:-operator-exact} rounds=${4:-5}
shift $(($# < 4 ? $# : 4))
for bin in "$a" "$b"; do
    [[ -x $bin ]] || { echo "ab-bench: $bin is not an executable" >&2; exit 2; }
done
rate() { # one process: the median of 3 runs, events/s
    "$1" --scenario "$scenario" --runs 3 --main-only "${@:2}" 2>/dev/null | tail -n 1 |
        /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["events_per_sec_median"])'
}
ra=() rb=()
for ((r = 1; r <= rounds; r++)); do
    ra+=("$(rate "$a" "$@")")
    rb+=("$(rate "$b" "$@")")
    echo "round $r/$rounds: a ${ra[-1]}  b ${rb[-1]}" >&2
done
/usr/bin/python3 - "$a" "$b" "${ra[*]}" "${rb[*]}" <<'PY'
import statistics as st, sys
a, b, ra, rb = sys.argv[1], sys.argv[2], list(map(float, sys.argv[3].split())), list(map(float, sys.argv[4].split()))
for name, v in ((a, ra), (b, rb)):
    print(f"{name}: median {st.median(v)/1e6:.2f} M/s (min {min(v)/1e6:.2f}, max {max(v)/1e6:.2f}, n={len(v)})")
print(f"b/a: median of paired ratios {st.median(y / x for x, y in zip(ra, rb)):.3f}")
PY
