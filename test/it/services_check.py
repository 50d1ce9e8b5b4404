"""Checks product-, customer- and order-service over HTTP (stdlib http.client only): every
endpoint with good and bad input, then the order events on the `orders` topic (kafka-python).

usage: services_check.py PRODUCTS_ADDR CUSTOMERS_ADDR ORDERS_ADDR BROKERS
Exits 1 with the failed checks listed."""
import http.client
import json
import socket
import sys
import threading
import time

import services_util
from services_util import call, check

products, customers, orders, brokers = sys.argv[1:5]
expected_events = []  # (order_id, status) for every committed change


def expect_error(res, status, what, detail_has=None):
    st, r, doc = res
    ok = st == status and isinstance(doc, dict) and set(doc) == {"error", "detail"}
    ok = ok and r.getheader("Content-Type", "").startswith("application/json")
    if ok and detail_has:
        ok = detail_has in doc["detail"]
    check(ok, f"{what}: expected {status} JSON error"
               f"{' mentioning ' + repr(detail_has) if detail_has else ''}, got {st} {doc}")


# ---------------------------------------------------------------- common HTTP behaviour
for name, addr, base in (("products", products, "/products"),
                         ("customers", customers, "/customers"),
                         ("orders", orders, "/orders")):
    st, _, doc = call(addr, "GET", "/healthz")
    check(st == 200 and doc == {"status": "ok"}, f"{name} /healthz: {st} {doc}")
    st, _, doc = call(addr, "GET", "/readyz")
    check(st == 200 and doc == {"status": "ready"}, f"{name} /readyz: {st} {doc}")
    expect_error(call(addr, "POST", "/healthz", raw=b"{}"), 405, f"{name} POST /healthz")
    expect_error(call(addr, "GET", "/nope"), 404, f"{name} unknown route")
    expect_error(call(addr, "GET", base + "/1/extra"), 404, f"{name} deeper route")
    expect_error(call(addr, "GET", "/%FF%FE%00x"), 404, f"{name} a route that is not UTF-8")
    expect_error(call(addr, "GET", base + "/%E2%82%AC"), 404, f"{name} a non-ASCII id")
    st, r, doc = call(addr, "DELETE", base)
    expect_error((st, r, doc), 405, f"{name} DELETE {base}")
    check("GET" in (r.getheader("Allow") or ""), f"{name} 405 without Allow: {r.getheaders()}")
    expect_error(call(addr, "BREW", base), 405, f"{name} unknown method")
    # Bodies: malformed, truncated, wrong shape, wrong type, too large, not JSON.
    for raw, what in ((b"{", "truncated"), (b'{"name": "x", ', "truncated after a comma"),
                      (b"{'a': 1}", "single quotes"), (b"[1,2]", "an array"),
                      (b"null", "null"), (b"", "empty"), (b"\xff\xfe{}", "not UTF-8"),
                      (b'{"a":1}{"b":2}', "two documents"), (b'{"a":1,"a":2}', "a duplicate key"),
                      (b'{"name":"a\x00b"}', "a raw NUL"), (b"{" * 5000, "deep nesting")):
        expect_error(call(addr, "POST", base, raw=raw), 400, f"{name} POST {what}")
    expect_error(call(addr, "POST", base, raw=b"{}", ctype="text/plain"), 415,
                 f"{name} POST text/plain")
    expect_error(call(addr, "POST", base, raw=b"{}", ctype=None), 415,
                 f"{name} POST without Content-Type")
    big = b'{"name":"' + b"a" * (10 * 1024 * 1024) + b'"}'
    expect_error(call(addr, "POST", base, raw=big), 413, f"{name} POST 10 MB")
    # The same without a Content-Length (chunked): read, dropped, then 413.
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("POST", base, body=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
              headers={"Content-Type": "application/json"}, encode_chunked=True)
    r = c.getresponse()
    check(r.status == 413, f"{name} chunked 10 MB: {r.status}")
    r.read()
    c.close()
    for q in ("limit=0", "limit=1001", "limit=x", "offset=-1", "offset=1.5", "limit="):
        expect_error(call(addr, "GET", f"{base}?{q}"), 400, f"{name} GET ?{q}")
    expect_error(call(addr, "GET", base + "/abc"), 404, f"{name} GET non-numeric id")
    expect_error(call(addr, "GET", base + "/0"), 404, f"{name} GET id 0")
    expect_error(call(addr, "GET", base + "/99999999"), 404, f"{name} GET missing id")
    expect_error(call(addr, "GET", base + "/99999999999999999999999"), 404, f"{name} GET huge id")

# ---------------------------------------------------------------- products
EVIL = ["Robert'); DROP TABLE products;--", "1 OR 1=1", "\"; DELETE FROM customers; --",
        "%' UNION SELECT * FROM customers --", "\\x00\\'", "?", "$1"]
UNICODE = "Ünïcödé 商品 🚀 ñ — «quotes» \u2028 end"

st, r, p1 = call(products, "POST", "/products",
                 {"name": "Lamp", "description": "A desk lamp", "price": 19.99,
                  "category": "home", "stock_quantity": 5})
check(st == 201, f"POST /products: {st} {p1}")
check(isinstance(p1, dict) and p1.get("name") == "Lamp" and p1.get("price") == 19.99 and
      p1.get("stock_quantity") == 5 and p1.get("category") == "home" and
      isinstance(p1.get("id"), int) and p1.get("created_at", "").endswith("Z"),
      f"the stored product: {p1}")
check(r.getheader("Location") == f"/products/{p1['id']}", f"Location: {r.getheader('Location')}")
st, _, got = call(products, "GET", f"/products/{p1['id']}")
check(st == 200 and got == p1, f"GET /products/id: {st} {got} != {p1}")

stored = []
for i, text in enumerate(EVIL + [UNICODE]):
    st, _, p = call(products, "POST", "/products",
                    {"name": text, "description": text, "price": i, "category": text})
    check(st == 201 and p["name"] == text and p["description"] == text,
          f"POST a product named {text!r}: {st} {p}")
    st, _, g = call(products, "GET", f"/products/{p['id']}")
    check(st == 200 and g["name"] == text and g["category"] == text, f"read back {text!r}: {g}")
    st, _, lst = call(products, "GET", "/products?category=" +
                      __import__("urllib.parse").parse.quote(text))
    check(st == 200 and [x["id"] for x in lst["products"]] == [p["id"]],
          f"filter by category {text!r}: {lst}")
    stored.append(p)
# ASCII-escaped input is the same text.
st, _, p = call(products, "POST", "/products", raw=json.dumps(
    {"name": UNICODE, "price": 1}, ensure_ascii=True).encode())
check(st == 201 and p["name"] == UNICODE, f"\\u-escaped name: {p}")

for body, field in (({"price": 1}, "name"), ({"name": "x"}, "price"),
                    ({"name": 5, "price": 1}, "name"), ({"name": "x", "price": "1"}, "price"),
                    ({"name": "x", "price": -1}, "price"), ({"name": "x", "price": True}, "price"),
                    ({"name": "x", "price": 1, "stock_quantity": 1.5}, "stock_quantity"),
                    ({"name": "x", "price": 1, "stock_quantity": -1}, "stock_quantity"),
                    ({"name": "x", "price": 1, "stock_quantity": "3"}, "stock_quantity"),
                    ({"name": "x", "price": 1, "category": ["a"]}, "category"),
                    ({"name": "", "price": 1}, "name"), ({"name": None, "price": 1}, "name"),
                    ({"name": "x" * 5000, "price": 1}, "name")):
    expect_error(call(products, "POST", "/products", body), 400, f"POST {body!r:.60}", field)
expect_error(call(products, "POST", "/products", raw=b'{"name":"x","price":1e999}'), 400,
             "price 1e999")

# Paging and the category filter.
for i in range(5):
    call(products, "POST", "/products", {"name": f"page{i}", "price": 1, "category": "paged"})
st, _, lst = call(products, "GET", "/products?category=paged&limit=2&offset=1")
check(st == 200 and [x["name"] for x in lst["products"]] == ["page1", "page2"] and
      lst["limit"] == 2 and lst["offset"] == 1, f"page of a category: {lst}")
st, _, lst = call(products, "GET", "/products?category=paged&offset=10")
check(st == 200 and lst["products"] == [], f"page past the end: {lst}")
st, _, lst = call(products, "GET", "/products?limit=1000")
check(st == 200 and len(lst["products"]) >= 14, f"GET /products: {len(lst['products'])}")
ids = [x["id"] for x in lst["products"]]
check(ids == sorted(ids), "pages are ordered by id")

# PUT changes the fields it names.
st, _, u = call(products, "PUT", f"/products/{p1['id']}", {"price": 25, "stock_quantity": 7})
check(st == 200 and u["price"] == 25 and u["stock_quantity"] == 7 and u["name"] == "Lamp",
      f"PUT /products/id: {st} {u}")
st, _, u = call(products, "PUT", f"/products/{p1['id']}", {})
check(st == 200 and u["price"] == 25, f"PUT with no field: {st} {u}")
expect_error(call(products, "PUT", f"/products/{p1['id']}", {"price": "x"}), 400, "PUT bad price",
             "price")
expect_error(call(products, "PUT", "/products/99999999", {"price": 1}), 404, "PUT a missing id")
expect_error(call(products, "PUT", f"/products/{p1['id']}", raw=b"{"), 400, "PUT truncated")
st, _, _ = call(products, "DELETE", f"/products/{stored[0]['id']}")
check(st == 204, f"DELETE /products/id: {st}")
expect_error(call(products, "GET", f"/products/{stored[0]['id']}"), 404, "GET a deleted product")
expect_error(call(products, "DELETE", f"/products/{stored[0]['id']}"), 404, "DELETE twice")
expect_error(call(products, "PATCH", f"/products/{p1['id']}", {}), 405, "PATCH /products/id")

# ---------------------------------------------------------------- customers
st, r, c1 = call(customers, "POST", "/customers",
                 {"name": "Zoë O'Brien", "email": "zoe@example.com", "phone": "+33 1 23",
                  "address": "1 rue de l'Église, Paris"})
check(st == 201 and c1["name"] == "Zoë O'Brien" and c1["email"] == "zoe@example.com" and
      c1["address"] == "1 rue de l'Église, Paris" and isinstance(c1["id"], int),
      f"POST /customers: {st} {c1}")
st, _, g = call(customers, "GET", f"/customers/{c1['id']}")
check(st == 200 and g == c1, f"GET /customers/id: {g}")
expect_error(call(customers, "POST", "/customers", {"name": "Other", "email": "zoe@example.com"}),
             409, "a second customer with the same email")
st, _, c2 = call(customers, "POST", "/customers",
                 {"name": EVIL[0], "email": "bobby@example.com", "address": EVIL[2]})
check(st == 201 and c2["name"] == EVIL[0] and c2["address"] == EVIL[2], f"evil customer: {c2}")
expect_error(call(customers, "PUT", f"/customers/{c2['id']}", {"email": "zoe@example.com"}), 409,
             "PUT to another customer's email")
st, _, u = call(customers, "PUT", f"/customers/{c2['id']}", {"phone": "555"})
check(st == 200 and u["phone"] == "555" and u["email"] == "bobby@example.com", f"PUT phone: {u}")
for body, field in (({"email": "a@b.c"}, "name"), ({"name": "x"}, "email"),
                    ({"name": "x", "email": "no-at"}, "email"),
                    ({"name": "x", "email": "@b"}, "email"), ({"name": "x", "email": "a@"}, "email"),
                    ({"name": "x", "email": 7}, "email"),
                    ({"name": "x", "email": "a@b", "phone": 5}, "phone")):
    expect_error(call(customers, "POST", "/customers", body), 400, f"POST {body!r}", field)
st, _, lst = call(customers, "GET", "/customers?limit=1&offset=1")
check(st == 200 and [x["id"] for x in lst["customers"]] == [c2["id"]], f"customers page: {lst}")
st, _, c3 = call(customers, "POST", "/customers", {"name": "Gone", "email": "gone@example.com"})
st, _, _ = call(customers, "DELETE", f"/customers/{c3['id']}")
check(st == 204, f"DELETE /customers/id: {st}")
expect_error(call(customers, "GET", f"/customers/{c3['id']}"), 404, "GET a deleted customer")
st, _, c3 = call(customers, "POST", "/customers", {"name": "Again", "email": "gone@example.com"})
check(st == 201, f"the email of a deleted customer is free again: {st}")

# ---------------------------------------------------------------- orders
st, _, prod = call(products, "POST", "/products", {"name": "Mug", "price": 4.5, "stock_quantity": 10})
st, r, o1 = call(orders, "POST", "/orders",
                 {"customer_id": c1["id"], "product_id": prod["id"], "quantity": 3})
check(st == 201 and o1["status"] == "CREATED" and o1["total_price"] == 13.5 and
      o1["quantity"] == 3 and o1["customer_id"] == c1["id"], f"POST /orders: {st} {o1}")
expected_events.append((o1["id"], "CREATED"))
check(r.getheader("Location") == f"/orders/{o1['id']}", "order Location")
st, _, g = call(products, "GET", f"/products/{prod['id']}")
check(g["stock_quantity"] == 7, f"stock after an order of 3: {g['stock_quantity']}")
st, _, g = call(orders, "GET", f"/orders/{o1['id']}")
check(st == 200 and g == o1, f"GET /orders/id: {g}")

expect_error(call(orders, "POST", "/orders", {"customer_id": 99999999, "product_id": prod["id"],
                                              "quantity": 1}), 404, "order for a missing customer",
             "customer")
expect_error(call(orders, "POST", "/orders", {"customer_id": c1["id"], "product_id": 99999999,
                                              "quantity": 1}), 404, "order for a missing product",
             "product")
expect_error(call(orders, "POST", "/orders", {"customer_id": c1["id"], "product_id": prod["id"],
                                              "quantity": 8}), 409, "order beyond the stock")
for body, field in (({"product_id": 1, "quantity": 1}, "customer_id"),
                    ({"customer_id": 1, "quantity": 1}, "product_id"),
                    ({"customer_id": 1, "product_id": 1}, "quantity"),
                    ({"customer_id": 1, "product_id": 1, "quantity": 0}, "quantity"),
                    ({"customer_id": 1, "product_id": 1, "quantity": -2}, "quantity"),
                    ({"customer_id": 1, "product_id": 1, "quantity": 1.5}, "quantity"),
                    ({"customer_id": "1", "product_id": 1, "quantity": 1}, "customer_id"),
                    ({"customer_id": 1, "product_id": "1 OR 1=1", "quantity": 1}, "product_id")):
    expect_error(call(orders, "POST", "/orders", body), 400, f"POST /orders {body}", field)
st, _, g = call(products, "GET", f"/products/{prod['id']}")
check(g["stock_quantity"] == 7, f"refused orders leave the stock: {g['stock_quantity']}")

# Status changes: CREATED -> PAID -> SHIPPED; CANCELLED only from CREATED or PAID.
oid = o1["id"]
expect_error(call(orders, "PATCH", f"/orders/{oid}", {"status": "SHIPPED"}), 409, "CREATED->SHIPPED")
expect_error(call(orders, "PATCH", f"/orders/{oid}", {"status": "LOST"}), 400, "unknown status")
expect_error(call(orders, "PATCH", f"/orders/{oid}", {"status": 3}), 400, "status not a string")
expect_error(call(orders, "PATCH", f"/orders/{oid}", {}), 400, "no status")
expect_error(call(orders, "PATCH", "/orders/99999999", {"status": "PAID"}), 404, "PATCH a missing order")
st, _, g = call(orders, "PATCH", f"/orders/{oid}", {"status": "PAID"})
check(st == 200 and g["status"] == "PAID", f"CREATED->PAID: {st} {g}")
expected_events.append((oid, "PAID"))
expect_error(call(orders, "PATCH", f"/orders/{oid}", {"status": "PAID"}), 409, "PAID->PAID")
st, _, g = call(orders, "PATCH", f"/orders/{oid}", {"status": "SHIPPED"})
check(st == 200 and g["status"] == "SHIPPED", f"PAID->SHIPPED: {st} {g}")
expected_events.append((oid, "SHIPPED"))
expect_error(call(orders, "PATCH", f"/orders/{oid}", {"status": "CANCELLED"}), 409, "SHIPPED->CANCELLED")
st, _, o2 = call(orders, "POST", "/orders",
                 {"customer_id": c2["id"], "product_id": prod["id"], "quantity": 2})
expected_events.append((o2["id"], "CREATED"))
st, _, g = call(orders, "PATCH", f"/orders/{o2['id']}", {"status": "CANCELLED"})
check(st == 200 and g["status"] == "CANCELLED", f"CREATED->CANCELLED: {st} {g}")
expected_events.append((o2["id"], "CANCELLED"))
st, _, g = call(products, "GET", f"/products/{prod['id']}")
check(g["stock_quantity"] == 7, f"a cancel returns the stock: {g['stock_quantity']}")
st, _, lst = call(orders, "GET", f"/orders?customer_id={c2['id']}")
check(st == 200 and [x["id"] for x in lst["orders"]] == [o2["id"]], f"orders of a customer: {lst}")
expect_error(call(orders, "GET", "/orders?customer_id=abc"), 400, "customer_id not a number")
expect_error(call(products, "DELETE", f"/products/{prod['id']}"), 409, "delete a product with orders")
expect_error(call(customers, "DELETE", f"/customers/{c1['id']}"), 409, "delete a customer with orders")


# Concurrent orders racing for the last unit: exactly one wins, every round.
def race(rounds, racers):
    for rnd in range(rounds):
        st, _, p = call(products, "POST", "/products",
                        {"name": f"last unit {rnd}", "price": 2.5, "stock_quantity": 1})
        results = []
        go = threading.Barrier(racers)

        def one():
            go.wait()
            results.append(call(orders, "POST", "/orders",
                                {"customer_id": c1["id"], "product_id": p["id"], "quantity": 1}))

        ts = [threading.Thread(target=one) for _ in range(racers)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        won = [d for s, _, d in results if s == 201]
        lost = [s for s, _, _ in results if s == 409]
        check(len(won) == 1 and len(lost) == racers - 1,
              f"race {rnd}: {len(won)} won, statuses {sorted(s for s, _, _ in results)}")
        for d in won:
            expected_events.append((d["id"], "CREATED"))
        st, _, g = call(products, "GET", f"/products/{p['id']}")
        check(g["stock_quantity"] == 0, f"race {rnd}: stock {g['stock_quantity']}")


race(5, 12)

# ---------------------------------------------------------------- order events
from kafka import KafkaConsumer  # noqa: E402

consumer = KafkaConsumer("orders", bootstrap_servers=brokers, auto_offset_reset="earliest",
                         enable_auto_commit=False, consumer_timeout_ms=4000,
                         group_id=None)
seen = []
deadline = time.time() + 30
while time.time() < deadline and len(seen) < len(expected_events):
    for m in consumer:
        seen.append(m)
consumer.close()
got = []
for m in seen:
    e = json.loads(m.value)
    check(m.key == e["order_id"].encode(), f"event key {m.key} != order_id {e['order_id']}")
    check(set(e) == {"order_id", "user_id", "product_id", "quantity", "total_price", "status",
                     "timestamp"}, f"event fields: {sorted(e)}")
    got.append((int(e["order_id"]), e["status"]))
check(sorted(got) == sorted(expected_events),
      f"order events: got {sorted(got)}, expected {sorted(expected_events)}")
# Per order, the events come in the order of the changes (one key, one partition).
by_order = {}
for oid_, status in got:
    by_order.setdefault(oid_, []).append(status)
check(by_order.get(o1["id"]) == ["CREATED", "PAID", "SHIPPED"], f"order 1 events: {by_order.get(o1['id'])}")

print(f"services_check: {services_util.checks} checks, {len(services_util.failures)} failed, "
      f"{len(got)} order events")
sys.exit(1 if services_util.failures else 0)
