# Every C file is formatted with the project's .clang-format.
set -euo pipefail
cd "$WEIR_ROOT"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')
clang-format --dry-run -Werror $files
echo "ok: $(echo "$files" | wc -w) files formatted"
