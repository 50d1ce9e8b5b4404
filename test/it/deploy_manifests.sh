#!/usr/bin/env bash
# The deployment files (deploy/) checked without a cluster or a container engine:
# test/it/deploy_manifests.py parses every YAML and JSON file, checks the kustomize base's
# objects against each other, deploy/prometheus/prometheus.yml, deploy/Containerfile and
# Debian bookworm's packages, and hands each container's arguments and environment to the
# built binaries (their --check-config where they have one); its --self-test breaks copies of
# the files in known ways and requires each to be found. Then the images' HEALTHCHECK script
# runs against a real /healthz and /readyz (weir-metrics-demo), a missing route and a closed
# port.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${WEIR_REL_BIN:-$root/build/bin}
for t in /usr/bin/python3 apt-cache dpkg ldd; do
    command -v "$t" >/dev/null || { echo "deploy_manifests: $t not found" >&2; exit 1; }
done
/usr/bin/python3 -c 'import yaml' || { echo "deploy_manifests: python3-yaml is missing (make deps)" >&2; exit 1; }
# apt-cache answers from the package lists: without them every package would look absent.
[[ -n $(apt-cache madison librdkafka1 2>/dev/null) ]] ||
    { echo "deploy_manifests: apt has no package lists: run apt-get update (make deps does)" >&2; exit 1; }

/usr/bin/python3 "$root/test/it/deploy_manifests.py" "$root" "$bin" --self-test

# The HEALTHCHECK command of the images, against a server with /healthz and /readyz.
hc=$root/deploy/healthcheck.sh
demo=$bin/weir-metrics-demo
[[ -x $demo ]] || { echo "deploy_manifests: $demo not built" >&2; exit 1; }
work=$(mktemp -d)
dpid=
cleanup() {
    [[ -n $dpid ]] && { kill "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
"$demo" --port 0 >"$work/demo.out" 2>"$work/demo.err" &
dpid=$!
for _ in $(seq 100); do
    grep -q '^port ' "$work/demo.out" 2>/dev/null && break
    kill -0 "$dpid" 2>/dev/null || { echo "deploy_manifests: weir-metrics-demo exited" >&2; exit 1; }
    sleep 0.1
done
port=$(awk '/^port /{print $2}' "$work/demo.out")
[[ -n $port ]] || { echo "deploy_manifests: weir-metrics-demo printed no port" >&2; exit 1; }
bash "$hc" "$port" /healthz || { echo "deploy_manifests: healthcheck.sh failed on /healthz" >&2; exit 1; }
ready=1
for _ in $(seq 50); do
    bash "$hc" "$port" /readyz && { ready=0; break; }
    sleep 0.1
done
((ready == 0)) || { echo "deploy_manifests: healthcheck.sh never passed on /readyz" >&2; exit 1; }
if bash "$hc" "$port" /no-such-route; then
    echo "deploy_manifests: healthcheck.sh passed on a 404" >&2
    exit 1
fi
closed=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if bash "$hc" "$closed" /healthz 2>/dev/null; then
    echo "deploy_manifests: healthcheck.sh passed on a closed port" >&2
    exit 1
fi
echo "ok: deploy/healthcheck.sh passes on /healthz and /readyz, fails on a 404 and a closed port"
