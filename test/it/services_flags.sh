# The services' command line: a bad flag is one line naming it and what it accepts, exit 2;
# --help; start failures exit 1; flags win over the seeds' environment variables
# (DB_*, KAFKA_BOOTSTRAP_SERVERS); no secret in any message; --body-limit.
set -euo pipefail
source "$(dirname "$0")/services_lib.bash"

# bad_usage EXPECTED_WORD SERVICE ARGS...: exit 2 and one stderr line holding EXPECTED_WORD.
bad_usage() {
    local want=$1 name=$2 rc=0
    shift 2
    "$bin/$name" "$@" >"$work/usage.out" 2>"$work/usage.err" || rc=$?
    ((rc == 2)) || die "$name $*: exit $rc, expected 2 ($(cat "$work/usage.err"))"
    [[ $(wc -l <"$work/usage.err") -eq 1 ]] || die "$name $*: not one line: $(cat "$work/usage.err")"
    grep -q -- "$want" "$work/usage.err" || die "$name $*: no '$want' in: $(cat "$work/usage.err")"
    [[ ! -s $work/usage.out ]] || die "$name $*: printed on stdout"
}
for s in product-service customer-service; do
    bad_usage --bogus "$s" --bogus
    bad_usage --listen "$s" --listen nope
    bad_usage 'HOST:PORT' "$s" --listen 127.0.0.1:70000
    bad_usage --listen "$s" --listen
    bad_usage '1..256' "$s" --threads 0
    bad_usage --threads "$s" --threads many
    bad_usage --body-limit "$s" --body-limit -5
    bad_usage --db "$s" --db ''
    bad_usage --brokers "$s" --brokers 127.0.0.1:9092 # only order-service produces
done
bad_usage --brokers order-service --db "$work/x.db"
KAFKA_BOOTSTRAP_SERVERS='' bad_usage --brokers order-service --db "$work/x.db"
bad_usage --topic order-service --brokers 127.0.0.1:1 --topic ''
for s in product-service customer-service order-service; do
    "$bin/$s" --help >"$work/help.out" || die "$s --help failed"
    grep -q -- '--listen' "$work/help.out" || die "$s --help says nothing of --listen"
done

# Start failures: exit 1 with the reason.
rc=0
"$bin/product-service" --listen 127.0.0.1:0 --db /nonexistent-dir/x.db >/dev/null 2>"$work/e" || rc=$?
((rc == 1)) && grep -q 'nonexistent-dir' "$work/e" || die "unopenable db: exit $rc: $(cat "$work/e")"
start_service p1 product-service --db "$work/a.db"
rc=0
"$bin/product-service" --listen "$p1" --db "$work/a.db" >/dev/null 2>"$work/e" || rc=$?
((rc == 1)) && grep -q -- '--listen' "$work/e" || die "port in use: exit $rc: $(cat "$work/e")"

# --db wins over DB_*; without it DB_* selects PostgreSQL, and its password is never printed.
secret="pw-$RANDOM-secret"
export DB_HOST=127.0.0.1 DB_PORT=1 DB_NAME=shop DB_USER=weir DB_PASSWORD=$secret
start_service p2 customer-service --db "$work/b.db"
grep -q 'store=sqlite' "$work/p2.log" || die "--db did not win over DB_HOST"
rc=0
"$bin/customer-service" --listen 127.0.0.1:0 >"$work/pg.out" 2>"$work/pg.log" || rc=$?
((rc == 1)) || die "an unreachable DB_HOST: exit $rc"
grep -q 'postgresql' "$work/pg.log" || die "no PostgreSQL error: $(cat "$work/pg.log")"
! grep -q -- "$secret" "$work/pg.log" "$work/pg.out" || die "DB_PASSWORD printed"
unset DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD

# KAFKA_BOOTSTRAP_SERVERS is used, and --brokers wins over it.
start_broker
KAFKA_BOOTSTRAP_SERVERS=$brokers start_service o1 order-service --db "$work/c.db"
KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1 start_service o2 order-service --db "$work/c.db" \
    --brokers "$brokers"
for a in "$o1" "$o2"; do
    code=
    for _ in $(seq 100); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://$a/readyz")
        [[ $code == 200 ]] && break
        sleep 0.1
    done
    [[ $code == 200 ]] || die "order-service at $a not ready: $code"
done
KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1 start_service o3 order-service --db "$work/c.db"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$o3/readyz")
[[ $code == 503 ]] || die "order-service without a broker: /readyz $code"

# --body-limit
start_service p3 product-service --db "$work/d.db" --body-limit 100
body=$($py -c 'import json; print(json.dumps({"name": "x" * 200, "price": 1}))')
code=$(curl -s -o "$work/r" -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" "http://$p3/products")
[[ $code == 413 ]] || die "--body-limit 100: $code $(cat "$work/r")"
code=$(curl -s -o "$work/r" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"name":"x","price":1}' "http://$p3/products")
[[ $code == 201 ]] || die "a small body under --body-limit 100: $code $(cat "$work/r")"

for v in p1 p2 o1 o2 o3 p3; do
    pid=${v}_pid
    stop_service "${!pid}" "$v"
done
echo "ok"
