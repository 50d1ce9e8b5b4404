# make deps installs everything the build and the tests use: every header, link input, tool
# and Python module comes from a package scripts/deps.sh names or one of their dependencies
# (scripts/check-deps.sh). A missing package fails here even where the machine happens to have it.
set -euo pipefail
cd "$WEIR_ROOT"
scripts/check-deps.sh
