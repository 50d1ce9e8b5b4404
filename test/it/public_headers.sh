#!/usr/bin/env bash
# Public headers hold only public API: no internal weir__ name (test hooks live in the
# internal headers under src/), the objects behind tables of functions (sinks) are opaque
# (their layout is the library's: src/runtime/sink_int.h), and each header compiles on its own.
set -euo pipefail
cd "$WEIR_ROOT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if grep -nE '\bweir__|\bWEIR__' include/weir/*.h >"$work/hits"; then
    echo "FAIL: internal names in public headers:" >&2
    cat "$work/hits" >&2
    exit 1
fi
if grep -nE '^struct weir_sink[[:space:]]*\{' include/weir/*.h >"$work/hits"; then
    echo "FAIL: the sink's layout is in a public header (weir_sink_new makes a custom sink):" >&2
    cat "$work/hits" >&2
    exit 1
fi
for h in include/weir/*.h; do
    printf '#include "weir/%s"\n' "$(basename "$h")" >"$work/one.c"
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror -Iinclude -fsyntax-only "$work/one.c" \
        || { echo "FAIL: $h does not compile on its own" >&2; exit 1; }
done
echo "public_headers: ok: $(ls include/weir/*.h | wc -l) headers"
