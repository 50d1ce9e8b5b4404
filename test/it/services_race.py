"""Concurrent orders for the last unit of stock, spread over several order-service processes
(replicas on one database): in every round exactly one wins, the others get 409, the stock
ends at 0.

usage: services_race.py PRODUCTS_ADDR CUSTOMERS_ADDR ROUNDS RACERS ORDERS_ADDR..."""
import http.client
import json
import sys
import threading

products, customers = sys.argv[1:3]
rounds, racers = int(sys.argv[3]), int(sys.argv[4])
replicas = sys.argv[5:]


def call(addr, method, path, body=None):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    doc = json.loads(r.read() or b"null")
    c.close()
    return r.status, doc


st, cust = call(customers, "POST", "/customers", {"name": "Racer", "email": "racer@example.com"})
assert st == 201, (st, cust)
bad = 0
for rnd in range(rounds):
    st, p = call(products, "POST", "/products", {"name": f"last {rnd}", "price": 3, "stock_quantity": 1})
    assert st == 201, (st, p)
    results = []
    go = threading.Barrier(racers)

    def one(i):
        go.wait()
        results.append(call(replicas[i % len(replicas)], "POST", "/orders",
                            {"customer_id": cust["id"], "product_id": p["id"], "quantity": 1})[0])

    ts = [threading.Thread(target=one, args=(i,)) for i in range(racers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    _, g = call(products, "GET", f"/products/{p['id']}")
    if sorted(results) != [201] + [409] * (racers - 1) or g["stock_quantity"] != 0:
        bad += 1
        print(f"round {rnd}: statuses {sorted(results)}, stock {g['stock_quantity']}", file=sys.stderr)
print(f"race over {len(replicas)} replicas: {rounds - bad}/{rounds} rounds with exactly one winner")
sys.exit(1 if bad else 0)
