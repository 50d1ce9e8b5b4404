#!/usr/bin/env bash
# Link only what is used (#17): libweir.so and the release binaries of the jobs record no
# shared library they do not use (ldd -u), and none of them records the libraries only the
# services use (SQLite, jansson, libpq).
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${WEIR_REL_BIN:-$root/build/bin}
die() { echo "FAIL: $*" >&2; exit 1; }

files=("$root/build/libweir.so")
for j in "$root"/jobs/*.c; do
    files+=("$bin/$(basename "$j" .c)")
done
bad=0
for f in "${files[@]}"; do
    [[ -f $f ]] || die "$f not built"
    # ldd -u exits 1 when it lists any: the list is the verdict.
    unused=$({ ldd -u -r "$f" 2>/dev/null || true; } | sed -n 's/^[[:space:]]*\(\/.*\)/\1/p' |
        tr '\n' ' ')
    if [[ -n $unused ]]; then
        echo "$f links libraries it does not use: $unused"
        bad=1
    fi
    if readelf -d "$f" | grep -E '\((NEEDED)\).*\[(libsqlite3|libjansson|libpq)\.'; then
        echo "$f links a library that only the services use"
        bad=1
    fi
done
((bad == 0)) || die "a library or job links more than it uses"
echo "ok: ${#files[@]} files link only what they use"
