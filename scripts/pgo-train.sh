#!/usr/bin/env bash
# The training run of the profile-guided build (Makefile, PGO): the instrumented unique-users
# job of DIR/bin over generated events, as it runs in production, which leaves one .gcda
# profile beside each instrumented object of DIR/obj; then DIR/profile.stamp.
#   scripts/pgo-train.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/pgo-train.sh DIR}
job=$dir/bin/unique-users log=$dir/train.log
: >"$log"
trap 'echo "pgo-train: a training run failed; its messages are in $log" >&2' ERR
find "$dir/obj" -name '*.gcda' -delete
# The generator is linked with the same instrumented library: its profile goes elsewhere
# (GCOV_PREFIX), so that only the job's runs make the library's.
gen() { GCOV_PREFIX=$dir/gen-profile "$dir/bin/weir-gen" "$@"; }
# Exact distinct counts, the job's default configuration: 2 M events at 100 k/s, 10,000
# products (Zipf), 10^6 users, a window and a third.
gen --events 2000000 | "$job" --input - --output /dev/null 2>>"$log"
# HyperLogLog over the same kind of stream.
gen --seed 2 --events 500000 | "$job" --input - --output /dev/null --distinct hll 2>>"$log"
# Disorder, late and malformed records, allowed lateness, the `final` emission mode.
gen --seed 3 --events 200000 --products 12 --users 3000 --rate 1000 --disorder-ms 8000 \
    --late 0.002 --late-max-ms 40000 --bad 0.002 --mixed |
    "$job" --input - --output /dev/null --allowed-lateness 30s --emit final 2>>"$log"
rm -rf "$dir/gen-profile"
touch "$dir/profile.stamp"
