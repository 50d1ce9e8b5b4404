#!/usr/bin/env bash
# SigV4: weir's Authorization header equals botocore's for a set of requests
# (methods, paths, query strings, headers, empty and non-empty bodies, a session token).
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
tool=${WEIR_REL_BIN:-$root/build/bin}/weir-sigv4
[[ -x $tool ]] || { echo "sigv4_botocore: $tool not built" >&2; exit 1; }
/usr/bin/python3 "$root/test/it/sigv4_botocore.py" "$tool"
