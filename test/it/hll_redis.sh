#!/usr/bin/env bash
# weir's HyperLogLog against Redis's on the same sets: a redis-server on a free loopback port
# receives every set through PFADD (redis-cli --pipe), its PFCOUNTs are compared with weir's
# estimates by weir-hll-tool, which prints both error tables and fails when weir is worse.
set -euo pipefail
root=${WEIR_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
tool=${WEIR_REL_BIN:-$root/build/bin}/weir-hll-tool
# 200 streams to 100,000 distinct values, the first 40 of them on to 1,000,000: about 6e7
# elements, some 15 s of Redis time on this machine.
streams=(--streams "${HLL_REDIS_STREAMS:-200}" --max 100000 --big "${HLL_REDIS_BIG:-40}"
    --big-max 1000000)

for b in "$tool" redis-server redis-cli; do
    command -v "$b" >/dev/null || { echo "hll_redis: $b not found" >&2; exit 1; }
done
work=$(mktemp -d)
rpid=
cleanup() {
    if [[ -n $rpid ]]; then
        kill "$rpid" 2>/dev/null || true
        wait "$rpid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --dir "$work" >"$work/redis.log" 2>&1 &
rpid=$!
for _ in $(seq 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    kill -0 "$rpid" 2>/dev/null || { echo "hll_redis: redis-server died:" >&2; cat "$work/redis.log" >&2; exit 1; }
    sleep 0.1
done
redis-cli -p "$port" ping | grep -q PONG || { echo "hll_redis: redis-server did not answer" >&2; exit 1; }
echo "$(redis-server --version | cut -d' ' -f1-3) on 127.0.0.1:$port"

start=$SECONDS
"$tool" redis-gen "${streams[@]}" | redis-cli -p "$port" --pipe >"$work/pipe.log"
if ! grep -q 'errors: 0,' "$work/pipe.log"; then
    echo "hll_redis: Redis reported errors while loading:" >&2
    cat "$work/pipe.log" >&2
    exit 1
fi
"$tool" redis-queries "${streams[@]}" | redis-cli -p "$port" >"$work/counts"
if grep -qv '^[0-9][0-9]*$' "$work/counts"; then
    echo "hll_redis: unexpected PFCOUNT replies:" >&2
    grep -v '^[0-9][0-9]*$' "$work/counts" | head >&2
    exit 1
fi
echo "Redis loaded and counted in $((SECONDS - start)) s"
"$tool" redis-compare --counts "$work/counts" "${streams[@]}"
