#!/usr/bin/env bash
# Proves that `make deps` installs everything the build and the tests use: every header the
# sources include, every file the linker reads (the release, sanitizer and libFuzzer links),
# every tool and Python module the tests call must come from a Debian package that
# scripts/deps.sh names or that one of those needs (Depends/Pre-Depends only: deps.sh installs
# with --no-recommends). A file owned by no package, or by one outside that closure, fails.
# A development machine that happens to have a package cannot hide a missing install step.
set -euo pipefail
cd "$(dirname "$0")/.."

# The package list, read from deps.sh itself so that there is one list.
mapfile -t named < <(sed -n '/^PKGS=(/,/^)/p' scripts/deps.sh | sed '1d;$d' | tr -s ' \t' '\n' |
    sed '/^$/d')
((${#named[@]})) || { echo "check-deps: no PKGS=( ... ) list in scripts/deps.sh" >&2; exit 1; }

# The machine image may ship Node.js outside dpkg; deps.sh accepts that one (see there).
closure=$(apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${named[@]}" 2>/dev/null |
    sed -nE 's/^([a-z0-9][a-z0-9.+-]*)(:[a-z0-9]+)?$/\1/p; s/^ *(Pre)?Depends: <?([a-z0-9][a-z0-9.+-]*)(:[a-z0-9]+)?>?$/\2/p' |
    sort -u)
# Essential packages are on every Debian system, and deps.sh relies on them.
essential=$(dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" {print $1}')
allowed=$(printf '%s\n%s\n' "$closure" "$essential" | sort -u)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$work/paths"

bad=0
# Paths are collected as "what<TAB>path" and resolved against dpkg's file lists in one pass at
# the end (dpkg -S per file takes minutes). /bin, /sbin and /lib are /usr's on a merged-/usr
# system, so both sides are compared under /usr.
check_file() { # what, path
    printf '%s\t%s\n' "$1" "$(readlink -f "$2" 2>/dev/null || echo "$2")" >>"$work/paths"
}
# LIBS := ... in the Makefile, continued over lines ending in a backslash.
libs=$(awk '/^LIBS *:=/ { on = 1; sub(/^LIBS *:=/, "") } on { line = $0; sub(/\\$/, "", line);
    printf "%s ", line; if ($0 !~ /\\$/) exit }' Makefile)
echo 'int main(void) { return 0; }' >"$work/main.c"
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; return (int)n & 0; }' \
    >"$work/fuzz.c"

# Headers: every source file's includes, system ones too.
for f in $(git ls-files 'src/*.c' 'jobs/*.c' 'test/*.c' 'bench/*.c' 'examples/*.c' 'fuzz/*.c'); do
    if ! cc -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Itest -M "$f" >>"$work/deps" 2>"$work/err"; then
        echo "check-deps: $f: $(grep -m1 'error' "$work/err")" >&2
        bad=$((bad + 1))
    fi
done
tr -s ' \\' '\n' <"$work/deps" | grep '^/' | sort -u >"$work/headers"
while read -r h; do check_file header "$h"; done <"$work/headers"

# Link inputs: the release and sanitizer links of the Makefile, and scripts/fuzz.sh's.
CLANG=$(command -v clang || command -v clang-14 || true)
[[ -n $CLANG ]] || { echo "check-deps: clang is not installed" >&2; exit 1; }
# shellcheck disable=SC2086
{
    cc -o "$work/a" "$work/main.c" -Wl,--trace $libs -lcmocka
    cc -fsanitize=address,undefined -o "$work/b" "$work/main.c" -Wl,--trace $libs -lcmocka
    "$CLANG" -fsanitize=fuzzer,address,undefined -o "$work/c" "$work/fuzz.c" -Wl,--trace $libs
} 2>/dev/null | grep -oE '/[^ ()]+' | sort -u >"$work/linked" ||
    { echo "check-deps: a test link failed (cc $libs -lcmocka, clang -fsanitize=fuzzer)" >&2; exit 1; }
while read -r l; do [[ -e $l ]] && check_file "link input" "$l"; done <"$work/linked"

# Tools the build, the tests and the demos call.
for t in cc clang clang-format make pkg-config kcat redis-server redis-cli gnuplot curl xxd sqlite3 timeout \
    promtool prometheus /usr/bin/python3 readelf ldd dpkg; do
    p=$(command -v "$t") || { echo "check-deps: tool $t is not installed" >&2; bad=$((bad + 1)); continue; }
    check_file tool "$p"
done
for t in node npm; do
    command -v "$t" >/dev/null || { echo "check-deps: tool $t is not installed" >&2; bad=$((bad + 1)); }
done
# Python modules the test helpers import, through Debian's interpreter.
for m in kafka boto3 botocore confluent_kafka yaml; do
    p=$(/usr/bin/python3 -c "import $m, sys; sys.stdout.write($m.__file__)" 2>/dev/null) ||
        { echo "check-deps: /usr/bin/python3 cannot import $m" >&2; bad=$((bad + 1)); continue; }
    check_file "python module" "$p"
done

printf '%s\n' "$allowed" >"$work/allowed"
sort -u -t$'\t' -k2,2 "$work/paths" >"$work/wanted"
# shellcheck disable=SC2016
awk -F'\t' -v allowed="$work/allowed" '
    function norm(p) { sub(/^\/(bin|sbin|lib|lib32|lib64|libx32)\//, "/usr/&", p); sub(/^\/usr\/\//, "/usr/", p); return p }
    FILENAME == allowed { ok[$1] = 1; next }
    FILENAME ~ /\/wanted$/ { what[norm($2)] = $1; path[norm($2)] = $2; next }
    { p = norm($0); if (p in what && !(p in owner)) { pkg = FILENAME; sub(/.*\//, "", pkg);
          sub(/\.list$/, "", pkg); sub(/:.*/, "", pkg); owner[p] = pkg } }
    END {
        bad = 0; n = 0
        for (p in what) {
            n++
            if (!(p in owner)) { printf "check-deps: %s %s belongs to no Debian package\n", what[p], path[p]; bad++ }
            else if (!(owner[p] in ok)) { printf "check-deps: %s %s comes from %s, which scripts/deps.sh does not install\n", what[p], path[p], owner[p]; bad++ }
        }
        print bad, n > "/dev/stderr"
    }' "$work/allowed" "$work/wanted" /var/lib/dpkg/info/*.list >&2 2>"$work/count"
read -r unowned checked <"$work/count"
bad=$((bad + unowned))
if ((bad)); then
    echo "check-deps: $bad problems among $checked files and tools: add the packages to scripts/deps.sh" >&2
    exit 1
fi
echo "ok: $checked headers, link inputs, tools and modules, all from ${#named[@]} packages of scripts/deps.sh and their dependencies"
