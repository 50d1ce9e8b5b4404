# libweir.so exports the public API and nothing else, and carries its SONAME: every dynamic
# symbol it defines is a weir_ name declared in include/weir/ (no weir__ internals, no
# symbols of the libraries it uses), and build/libweir.so links to libweir.so.0.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
lib=$root/build/libweir.so
die() { echo "FAIL: $*" >&2; exit 1; }
[[ -f $lib ]] || die "$lib not built"

mapfile -t syms < <(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u)
((${#syms[@]} > 100)) || die "only ${#syms[@]} dynamic symbols: is the public API exported?"
bad=0
for s in "${syms[@]}"; do
    if [[ $s == weir__* ]]; then
        echo "internal symbol exported: $s"
        bad=1
    elif [[ ! $s =~ ^weir_[a-zA-Z0-9] ]]; then
        echo "foreign symbol exported: $s"
        bad=1
    elif ! grep -Eq "(^|[^a-zA-Z0-9_])$s([^a-zA-Z0-9_]|$)" "$root"/include/weir/*.h; then
        echo "exported but declared in no public header: $s"
        bad=1
    fi
done
((bad == 0)) || die "libweir.so exports more than the public API"

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libweir.so.0 ]] || die "SONAME is '${soname}', not libweir.so.0"
[[ $(readlink "$lib") == libweir.so.0 ]] || die "build/libweir.so does not link to libweir.so.0"
[[ -f $root/build/$soname ]] || die "build/$soname is missing"
echo "ok: ${#syms[@]} public symbols, SONAME $soname"
