# The same checks as services_sqlite.sh against a real PostgreSQL 15: a throwaway cluster
# (Debian's initdb/pg_ctl) on a free loopback port with password authentication, removed after.
# product- and order-service get a postgresql:// URL, customer-service the seeds' DB_*
# variables; the password appears in no log.
set -euo pipefail
source "$(dirname "$0")/services_lib.bash"
pgbin=/usr/lib/postgresql/15/bin
[[ -x $pgbin/initdb ]] || die "PostgreSQL 15 is not installed (make deps)"
pgdir=$(mktemp -d /tmp/weir-pg.XXXXXX)
secret="s3cr3t-$RANDOM-pw"
as_pg=()
if [[ $(id -u) -eq 0 ]]; then # initdb refuses to run as root
    chown postgres "$pgdir"
    as_pg=(runuser -u postgres --)
fi
cleanups+=("\"\${as_pg[@]}\" $pgbin/pg_ctl -D $pgdir/data -m immediate stop >/dev/null 2>&1; rm -rf $pgdir")
printf '%s\n' "$secret" >"$pgdir/pw"
chmod 644 "$pgdir/pw"
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U weir --pwfile="$pgdir/pw" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -n 5 "$work/initdb.log")"
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -w -t 60 -l "$pgdir/server.log" \
    -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60" \
    start >"$work/pg_ctl.log" 2>&1 || die "PostgreSQL did not start: $(tail -n 5 "$pgdir/server.log")"
echo "PostgreSQL 15 on 127.0.0.1:$port"
url="postgresql://weir:$secret@127.0.0.1:$port/postgres?connect_timeout=5"

start_broker
start_service products product-service --db "$url" --threads 4
DB_HOST=127.0.0.1 DB_PORT=$port DB_NAME=postgres DB_USER=weir DB_PASSWORD=$secret \
    start_service customers customer-service
start_service orders order-service --db "$url" --brokers "$brokers" --threads 8
grep -q 'store=postgresql' "$work/customers.log" || die "DB_* did not select PostgreSQL"
$py "$root/test/it/services_check.py" "$products" "$customers" "$orders" "$brokers"
$py "$root/test/it/services_rollback.py" "$products" "$orders" "$customers" "$brokers" pg \
    psql -XtAq -v ON_ERROR_STOP=1 "$url" -c || die "rolled-back orders"

# A second replica of order-service on the same database sees the same orders.
start_service orders2 order-service --db "$url" --brokers "$brokers"
n1=$(curl -s "http://$orders/orders?limit=1000" | $py -c 'import json,sys; print(len(json.load(sys.stdin)["orders"]))')
n2=$(curl -s "http://$orders2/orders?limit=1000" | $py -c 'import json,sys; print(len(json.load(sys.stdin)["orders"]))')
[[ $n1 == "$n2" && $n1 -gt 0 ]] || die "replicas disagree: $n1 vs $n2 orders"
$py "$root/test/it/services_race.py" "$products" "$customers" 5 12 "$orders" "$orders2" ||
    die "the race across two replicas"

# The store down: /readyz says 503 (not alive-but-wrong), /healthz stays 200, requests 503.
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1
code=$(curl -s -o "$work/ready.json" -w '%{http_code}' "http://$products/readyz")
[[ $code == 503 ]] || die "/readyz with the database down: $code $(cat "$work/ready.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$products/healthz")
[[ $code == 200 ]] || die "/healthz with the database down: $code"
code=$(curl -s -o "$work/get.json" -w '%{http_code}' "http://$products/products/1")
[[ $code == 503 ]] || die "GET with the database down: $code $(cat "$work/get.json")"
# ... and back: the pool reconnects.
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -w -t 60 -l "$pgdir/server.log" \
    -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60" \
    start >"$work/pg_ctl.log" 2>&1 || die "PostgreSQL did not restart"
for _ in $(seq 50); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://$products/products/1")
    [[ $code == 200 ]] && break
    sleep 0.1
done
[[ $code == 200 ]] || die "GET after the database came back: $code"

stop_service "$orders2_pid" order-service
stop_service "$products_pid" product-service
stop_service "$customers_pid" customer-service
stop_service "$orders_pid" order-service
if grep -l -- "$secret" "$work"/*.log "$work"/*.out; then
    die "the database password appears in a log"
fi
echo "ok"
