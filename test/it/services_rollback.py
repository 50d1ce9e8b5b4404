"""Order events and rolled-back orders: the test makes the database itself fail an order
transaction after the order row was inserted (triggers it installs), and checks that the
service answers with an error, leaves no order row and the stock as it was, and produces no
event for it on `orders`; the successful changes around it give one event each.

Three failures, each tied to a product of its own so nothing else is touched:
  now     an AFTER INSERT trigger on orders raises: the INSERT fails after the stock UPDATE;
  commit  an AFTER INSERT trigger writes a row breaking a DEFERRED foreign key, so every
          statement succeeds and only COMMIT fails (an event produced before the commit
          would be on the topic);
  cancel  the same at the commit of a PATCH to CANCELLED: no CANCELLED event, the order stays
          CREATED and the stock reserved.
The events are read with kafka-python only after the events of later successful orders have
arrived, so their absence means something.

usage: services_rollback.py PRODUCTS ORDERS CUSTOMERS BROKERS sqlite|pg DB-COMMAND...
DB-COMMAND runs one SQL text given as its last argument and prints rows one per line
(`sqlite3 FILE` or `psql -XtAq -v ON_ERROR_STOP=1 URL -c`). Exits 1 with the failed checks."""
import json
import subprocess
import sys
import time

import services_util
from services_util import check

products, orders, customers, brokers, dialect = sys.argv[1:6]
db_cmd = sys.argv[6:]


def call(addr, method, path, body=None):
    st, _, doc = services_util.call(addr, method, path, body)
    return st, doc


def sql(text):
    out = subprocess.run(db_cmd + [text], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        sys.exit(f"services_rollback: {db_cmd[0]} failed: {out.stderr.strip()}\n{text}")
    return out.stdout.strip()


def new_product(name, stock):
    st, p = call(products, "POST", "/products", {"name": name, "price": 4.25, "stock_quantity": stock})
    if st != 201:
        sys.exit(f"services_rollback: POST /products: {st} {p}")
    return p


def stock(pid):
    st, p = call(products, "GET", f"/products/{pid}")
    check(st == 200, f"GET /products/{pid}: {st} {p}")
    return p["stock_quantity"] if st == 200 else None


def order_rows(pid):
    return int(sql(f"SELECT count(*) FROM orders WHERE product_id = {int(pid)}"))


st, cust = call(customers, "POST", "/customers",
                {"name": "rollback probe", "email": f"rollback-{time.time_ns()}@example.com"})
if st != 201:
    sys.exit(f"services_rollback: POST /customers: {st} {cust}")
p_now = new_product("rollback probe: fails at insert", 10)
p_commit = new_product("rollback probe: fails at commit", 10)
p_cancel = new_product("rollback probe: cancel fails at commit", 10)
p_ok = new_product("rollback probe: succeeds", 10)

if dialect == "sqlite":
    install = f"""
CREATE TABLE probe_parent (id INTEGER PRIMARY KEY);
CREATE TABLE probe_fault (ref INTEGER REFERENCES probe_parent (id) DEFERRABLE INITIALLY DEFERRED);
CREATE TRIGGER probe_now AFTER INSERT ON orders WHEN NEW.product_id = {p_now['id']}
BEGIN SELECT RAISE(ABORT, 'rollback probe: injected failure'); END;
CREATE TRIGGER probe_commit AFTER INSERT ON orders WHEN NEW.product_id = {p_commit['id']}
BEGIN INSERT INTO probe_fault VALUES (-1); END;
CREATE TRIGGER probe_cancel AFTER UPDATE OF status ON orders
WHEN NEW.product_id = {p_cancel['id']} AND NEW.status = 'CANCELLED'
BEGIN INSERT INTO probe_fault VALUES (-2); END;
"""
    remove = """
DROP TRIGGER probe_now; DROP TRIGGER probe_commit; DROP TRIGGER probe_cancel;
DROP TABLE probe_fault; DROP TABLE probe_parent;
"""
else:
    install = f"""
CREATE TABLE probe_parent (id BIGINT PRIMARY KEY);
CREATE TABLE probe_fault (ref BIGINT REFERENCES probe_parent (id) DEFERRABLE INITIALLY DEFERRED);
CREATE FUNCTION probe_raise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'rollback probe: injected failure' USING ERRCODE = 'check_violation'; END $$;
CREATE FUNCTION probe_defer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO probe_fault VALUES (-1); RETURN NULL; END $$;
CREATE TRIGGER probe_now AFTER INSERT ON orders FOR EACH ROW
WHEN (NEW.product_id = {p_now['id']}) EXECUTE FUNCTION probe_raise();
CREATE TRIGGER probe_commit AFTER INSERT ON orders FOR EACH ROW
WHEN (NEW.product_id = {p_commit['id']}) EXECUTE FUNCTION probe_defer();
CREATE TRIGGER probe_cancel AFTER UPDATE OF status ON orders FOR EACH ROW
WHEN (NEW.product_id = {p_cancel['id']} AND NEW.status = 'CANCELLED') EXECUTE FUNCTION probe_defer();
"""
    remove = """
DROP TRIGGER probe_now ON orders; DROP TRIGGER probe_commit ON orders;
DROP TRIGGER probe_cancel ON orders; DROP FUNCTION probe_raise(); DROP FUNCTION probe_defer();
DROP TABLE probe_fault; DROP TABLE probe_parent;
"""

expected = []  # (order_id, status) of every committed change of the probe customer
sql(install)
try:
    # The order that succeeds on the cancel probe's product, before its cancel fails.
    st, o_cancel = call(orders, "POST", "/orders",
                        {"customer_id": cust["id"], "product_id": p_cancel["id"], "quantity": 3})
    check(st == 201, f"order on the cancel probe: {st} {o_cancel}")
    if st == 201:
        expected.append((o_cancel["id"], "CREATED"))

    for p, what in ((p_now, "a failure at the insert"), (p_commit, "a failure at commit")):
        for attempt in range(3):
            st, err = call(orders, "POST", "/orders",
                           {"customer_id": cust["id"], "product_id": p["id"], "quantity": 2})
            check(st == 409 and isinstance(err, dict) and set(err) == {"error", "detail"},
                  f"POST /orders with {what} (try {attempt}): expected a 409 JSON error, "
                  f"got {st} {err}")
        check(order_rows(p["id"]) == 0, f"{what}: {order_rows(p['id'])} order rows remain")
        check(stock(p["id"]) == 10, f"{what}: stock {stock(p['id'])}, expected 10 (unchanged)")

    if o_cancel and "id" in o_cancel:
        oid = o_cancel["id"]
        st, err = call(orders, "PATCH", f"/orders/{oid}", {"status": "CANCELLED"})
        check(st == 409 and isinstance(err, dict) and set(err) == {"error", "detail"},
              f"PATCH CANCELLED failing at commit: expected a 409 JSON error, got {st} {err}")
        st, g = call(orders, "GET", f"/orders/{oid}")
        check(st == 200 and g["status"] == "CREATED", f"after the failed cancel: {st} {g}")
        check(stock(p_cancel["id"]) == 7, f"the failed cancel returned stock: {stock(p_cancel['id'])}")
finally:
    sql(remove)

# Later successful changes: their events must arrive, after which the failed ones' would
# have arrived too.
later = []
for _ in range(3):
    st, o = call(orders, "POST", "/orders",
                 {"customer_id": cust["id"], "product_id": p_ok["id"], "quantity": 1})
    check(st == 201, f"a later order: {st} {o}")
    if st == 201:
        later.append((o["id"], "CREATED"))
if later:
    st, g = call(orders, "PATCH", f"/orders/{later[0][0]}", {"status": "PAID"})
    check(st == 200, f"a later PATCH PAID: {st} {g}")
    if st == 200:
        later.append((later[0][0], "PAID"))
expected += later
check(stock(p_ok["id"]) == 7, f"later orders' stock: {stock(p_ok['id'])}")

from kafka import KafkaConsumer  # noqa: E402

consumer = KafkaConsumer("orders", bootstrap_servers=brokers, auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=3000, group_id=None)
mine = []
deadline = time.time() + 30
while time.time() < deadline:
    for m in consumer:
        e = json.loads(m.value)
        if e.get("user_id") == str(cust["id"]):
            mine.append((int(e["order_id"]), e["status"], e["product_id"]))
    if set(later) <= {(o, s) for o, s, _ in mine}:
        # One more pass: anything produced before the later events has arrived by now.
        for m in consumer:
            e = json.loads(m.value)
            if e.get("user_id") == str(cust["id"]):
                mine.append((int(e["order_id"]), e["status"], e["product_id"]))
        break
consumer.close()
check(set(later) <= {(o, s) for o, s, _ in mine},
      f"the later orders' events never arrived: got {mine}, expected {later}")
bad = [e for e in mine if e[2] in (str(p_now["id"]), str(p_commit["id"]))]
check(not bad, f"events for rolled-back orders: {bad}")
check(sorted((o, s) for o, s, _ in mine) == sorted(expected),
      f"the probe customer's events: got {sorted(mine)}, expected one per committed change "
      f"{sorted(expected)}")

print(f"services_rollback ({dialect}): {services_util.checks} checks, "
      f"{len(services_util.failures)} failed, {len(mine)} events of the probe customer")
sys.exit(1 if services_util.failures else 0)
