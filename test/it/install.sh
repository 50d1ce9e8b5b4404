# make install PREFIX=... DESTDIR=... installs a usable copy: the example builds against it
# with nothing but `pkg-config --cflags --libs weir` (the installed headers, weir.pc), runs
# against the installed libweir.so.0, links statically with `pkg-config --static`, and both
# agree with the example built in the tree. The jobs' binaries are installed too.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
die() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root prefix=/opt/weir

# PGO=0: the objects `make test` built are installed as they are, never retrained.
make --no-print-directory -C "$root" PGO=0 install PREFIX="$prefix" DESTDIR="$dest" \
    >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; die "make install failed"; }

lib=$dest$prefix/lib
for f in include/weir/weir.h include/weir/job.h lib/libweir.a lib/pkgconfig/weir.pc; do
    [[ -f $dest$prefix/$f ]] || die "$prefix/$f not installed"
done
[[ $(readlink "$lib/libweir.so") == libweir.so.0 ]] || die "lib/libweir.so does not link to libweir.so.0"
[[ -f $lib/libweir.so.0 ]] || die "lib/libweir.so.0 does not resolve"
for j in "$root"/jobs/*.c; do
    [[ -x $dest$prefix/bin/$(basename "$j" .c) ]] || die "bin/$(basename "$j" .c) not installed"
done

# Only the installed tree: weir.pc names /opt/weir, which the sysroot maps into $dest.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=
[[ $(pkg-config --modversion weir) == $(sed -n 's/^#define WEIR_VERSION_STRING *"\(.*\)"/\1/p' \
    "$root/include/weir/weir.h") ]] || die "weir.pc's version is not the library's"
cp "$root/examples/sessions_per_type.c" "$tmp/ex.c"
cd "$tmp"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o ex_shared ex.c $(pkg-config --cflags --libs weir) ||
    die "the example does not build against the installed shared library"
dyn=$(readelf -d ex_shared)
grep -q 'NEEDED.*\[libweir\.so\.0\]' <<<"$dyn" || die "ex_shared does not need libweir.so.0"
# The static archive: -lweir taken as libweir.a, the libraries it uses from Libs.private.
libs=$(pkg-config --static --libs weir)
# shellcheck disable=SC2046,SC2086
cc -std=c11 -Wall -Wextra -Werror -o ex_static ex.c $(pkg-config --cflags weir) \
    ${libs/-lweir/-l:libweir.a} || die "the example does not link statically"
dyn=$(readelf -d ex_static)
grep -q 'libweir' <<<"$dyn" && die "ex_static still needs libweir.so"

"$WEIR_REL_BIN/weir-gen" --seed 5 --events 20000 --products 20 --users 2000 --rate 200 \
    --disorder-ms 2000 --late 0.01 --bad 0.01 >in.jsonl
LD_LIBRARY_PATH=$lib ./ex_shared <in.jsonl >shared.out 2>/dev/null || die "ex_shared failed"
# Read whole, not piped into grep -q: ldd killed by SIGPIPE would fail the pipeline.
loaded=$(LD_LIBRARY_PATH=$lib ldd ./ex_shared)
grep -q "$lib/libweir.so.0" <<<"$loaded" || die "ex_shared did not load the installed libweir.so.0"
./ex_static <in.jsonl >static.out 2>/dev/null || die "ex_static failed"
"$root/build/examples/sessions_per_type" <in.jsonl >tree.out 2>/dev/null
(($(wc -l <tree.out) > 10)) || die "the example emitted only $(wc -l <tree.out) firings"
cmp -s shared.out tree.out || die "the installed shared build disagrees with the tree's example"
cmp -s static.out tree.out || die "the installed static build disagrees with the tree's example"
echo "ok: installed under $prefix; $(wc -l <tree.out) firings, shared and static alike"
