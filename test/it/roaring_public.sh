# The library uses CRoaring through its public API only (roaring.h): no source includes
# roaring's private headers or touches a bitmap's insides, and no object of the library
# calls a roaring function that roaring.h does not declare. Code that reached into the
# containers' layout (CRoaring 0.2's) would break silently with a Debian upgrade.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
die() { echo "FAIL: $*" >&2; exit 1; }
cd "$root"

if grep -rnE '#include *[<"]roaring/' src include | grep -v 'roaring/roaring\.h'; then
    die "a private CRoaring header is included (only roaring/roaring.h is public)"
fi
if grep -rnE 'high_low_container|\bra_[a-z_]+\(|_container_t\b|[A-Z_]+_CONTAINER_TYPE_CODE' src include; then
    die "CRoaring's insides are used"
fi

roaring=
for f in /usr/lib/*/libroaring.so.* /usr/lib/libroaring.so.*; do
    [[ -f $f ]] && { roaring=$f; break; }
done
[[ -n $roaring ]] || die "libroaring.so not found"
objs=(build/obj/src/*/*.o)
[[ -f ${objs[0]} ]] || die "the library's objects are not built"
# Every symbol the objects take from libroaring must be declared in roaring.h.
header=$(dirname "$(echo '#include <roaring/roaring.h>' | cc -E -H -x c - 2>&1 >/dev/null |
    grep -m1 'roaring/roaring\.h' | sed 's/^\.* //')")/roaring.h
[[ -f $header ]] || die "roaring.h not found"
used=$(comm -12 <(nm -u "${objs[@]}" 2>/dev/null | awk '{print $2}' | sort -u) \
    <(nm -D --defined-only "$roaring" | awk '{print $3}' | sort -u))
[[ -n $used ]] || die "no object uses CRoaring: is the exact distinct aggregate gone?"
for s in $used; do
    grep -Eq "\b$s *\(" "$header" || die "$s, which the library calls, is not in roaring.h"
done
echo "ok: $(wc -w <<<"$used") roaring functions, all public: $(tr "\n" " " <<<"$used")"
