#!/usr/bin/env bash
# The HyperLogLog accuracy sweep (p = 10, 12, 14, 16; n = 1 .. 1,000,000; 1000 streams) in
# the release-built weir-hll-tool, which prints the error table and fails on a missed bound.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
tool=${WEIR_REL_BIN:-$root/build/bin}/weir-hll-tool
[[ -x $tool ]] || { echo "hll_accuracy: $tool not built" >&2; exit 1; }
"$tool" accuracy --streams "${HLL_ACCURACY_STREAMS:-1000}" --max 1000000
