#!/usr/bin/env bash
# Installs, only when missing, every Debian and npm package that weir's build and tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
    build-essential pkg-config clang libclang-rt-14-dev clang-format
    librdkafka-dev libroaring-dev libxxhash-dev libcmocka-dev libmsgpack-dev libzstd-dev
    libcurl4-openssl-dev libssl-dev libjsmn-dev libmicrohttpd-dev libsqlite3-dev
    libcjson-dev libjansson-dev libpq-dev postgresql
    kcat python3 python3-kafka python3-boto3 python3-botocore python3-confluent-kafka python3-yaml
    redis-server gnuplot-nox curl xxd sqlite3 nodejs npm prometheus wrk
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
# The machine image may carry its own Node.js; only ask Debian for it when none is there.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    filtered=()
    for p in "${missing[@]}"; do
        [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
    done
    missing=("${filtered[@]+"${filtered[@]}"}")
fi

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
elif ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    # test/it/deploy_manifests.sh asks apt-cache whether the images' packages exist in
    # bookworm, which needs the package lists even when nothing is missing.
    echo "deps: apt-get update (no package lists)"
    $SUDO apt-get update -q
fi

# npm peers for the tests (dynalite), pinned by the committed lockfile.
if [[ -f test/peers/package-lock.json ]]; then
    stamp=test/peers/node_modules/.weir-stamp
    if [[ ! -f $stamp || test/peers/package-lock.json -nt $stamp ]]; then
        echo "deps: npm ci in test/peers"
        (cd test/peers && npm ci --no-audit --no-fund --loglevel=error)
        touch "$stamp"
    fi
fi
