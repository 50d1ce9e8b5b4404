# product-, customer- and order-service sharing one SQLite file (WAL): every endpoint with good
# and bad input, the race for the last unit, the order events on `orders` (none for an order the
# database rolled back); then a SIGTERM in the middle of a request lets it finish, and every
# service exits 0 (ASan: no leak).
set -euo pipefail
source "$(dirname "$0")/services_lib.bash"
start_broker
db=$work/shop.db
start_service products product-service --db "$db" --threads 4
start_service customers customer-service --db "$db"
start_service orders order-service --db "$db" --brokers "$brokers" --threads 8
$py "$root/test/it/services_check.py" "$products" "$customers" "$orders" "$brokers"
# Orders the database fails after the order row was inserted: no row, no stock taken, no event.
$py "$root/test/it/services_rollback.py" "$products" "$orders" "$customers" "$brokers" sqlite \
    sqlite3 "$db" || die "rolled-back orders"
sqlite3 "$db" 'PRAGMA journal_mode' | grep -qx wal || die "the store is not in WAL mode"
# Two order-service processes on the one SQLite file: still exactly one winner per round.
start_service orders2 order-service --db "$db" --brokers "$brokers"
$py "$root/test/it/services_race.py" "$products" "$customers" 5 12 "$orders" "$orders2" ||
    die "the race across two processes"
stop_service "$orders2_pid" order-service

# Drain: a request whose body is still arriving when SIGTERM comes is answered, new
# connections are refused meanwhile, and the service exits 0.
$py - "$products" "$products_pid" <<'PY' || die "drain on SIGTERM"
import os, signal, socket, sys, time, json
host, port = sys.argv[1].rsplit(":", 1)
body = json.dumps({"name": "late", "price": 1}).encode()
s = socket.create_connection((host, int(port)))
s.sendall(b"POST /products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
time.sleep(0.3)
os.kill(int(sys.argv[2]), signal.SIGTERM)
time.sleep(0.5)
try:
    socket.create_connection((host, int(port)), timeout=1).close()
    sys.exit("a new connection was accepted while draining")
except OSError:
    pass
s.sendall(body[5:])
resp = s.recv(65536).decode()
assert resp.startswith("HTTP/1.1 201"), resp
print("drain: the in-flight request was answered:", resp.splitlines()[0])
PY
stop_service "$products_pid" product-service
stop_service "$customers_pid" customer-service
stop_service "$orders_pid" order-service
grep -q 'draining' "$work/products.log" || die "no drain logged"
echo "ok"
