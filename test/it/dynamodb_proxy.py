#!/usr/bin/python3
"""A fault-injecting HTTP proxy in front of a DynamoDB endpoint (dynalite), for tests.

For BatchWriteItem it first checks the batch for duplicate keys (counted, answered with the
ValidationException AWS gives), then, by seeded chance, answers without forwarding:
400 ProvisionedThroughputExceededException or ThrottlingException, 500 InternalServerError,
or a dropped connection; or forwards and then drops the connection (written, but unanswered);
or forwards only a random subset and answers 200 with the rest as UnprocessedItems. Other
requests are forwarded unchanged. A request whose Credential is --reject-key gets
UnrecognizedClientException. GET /__stats returns the counters as JSON.

usage: dynamodb_proxy.py UPSTREAM_PORT PORT_FILE [--seed S] [--fault-share F] [--pk NAME]
                         [--reject-key KEY]
"""
import argparse
import http.client
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("upstream_port", type=int)
ap.add_argument("port_file")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--fault-share", type=float, default=0.4)
ap.add_argument("--pk", default="product_id")
ap.add_argument("--reject-key", default="")
args = ap.parse_args()

lock = threading.Lock()
rnd = random.Random(args.seed)
stats = {"requests": 0, "batches": 0, "forwarded_batches": 0, "forwarded_items": 0,
         "throttled": 0, "error500": 0, "dropped": 0, "dropped_after_write": 0, "partial": 0,
         "unprocessed_items": 0, "duplicate_batches": 0, "rejected_auth": 0}
local = threading.local()
# Rolls of the first batches: throttle, 500, drop, write-then-drop, partial (see do_POST).
SCRIPTED = [0.1, 0.3, 0.45, 0.55, 0.8, 0.2, 0.35, 0.8]


def bump(k, n=1):
    with lock:
        stats[k] += n


def upstream():
    c = getattr(local, "conn", None)
    if c is None:
        c = local.conn = http.client.HTTPConnection("127.0.0.1", args.upstream_port, timeout=30)
    return c


def forward(headers, body):
    for attempt in range(2):
        c = upstream()
        try:
            c.request("POST", "/", body=body, headers=headers)
            r = c.getresponse()
            return r.status, r.read(), r.getheader("Content-Type", "application/x-amz-json-1.0")
        except (http.client.HTTPException, OSError):
            c.close()
            local.conn = None
            if attempt:
                raise
    raise RuntimeError("unreachable")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, obj_or_bytes, ctype="application/x-amz-json-1.0"):
        body = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def error(self, status, name, msg):
        prefix = "com.amazonaws.dynamodb.v20120810#"
        self.answer(status, {"__type": prefix + name, "message": msg})

    def do_GET(self):
        with lock:
            snap = dict(stats)
        self.answer(200, snap, "application/json")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        bump("requests")
        auth = self.headers.get("Authorization", "")
        if args.reject_key and f"Credential={args.reject_key}/" in auth:
            bump("rejected_auth")
            return self.error(400, "UnrecognizedClientException",
                              "The security token included in the request is invalid.")
        target = self.headers.get("X-Amz-Target", "")
        fwd_headers = {k: v for k, v in self.headers.items()
                       if k.lower() in ("content-type", "x-amz-target", "x-amz-date",
                                        "authorization", "x-amz-security-token")}
        if not target.endswith(".BatchWriteItem"):
            status, data, ctype = forward(fwd_headers, body)
            return self.answer(status, data, ctype)

        bump("batches")
        req = json.loads(body)
        (table, reqs), = req["RequestItems"].items()
        keys = [(r["PutRequest"]["Item"][args.pk]["S"], r["PutRequest"]["Item"]["window_start"]["S"])
                for r in reqs]
        if len(set(keys)) != len(keys):
            bump("duplicate_batches")
            return self.error(400, "ValidationException",
                              "Provided list of item keys contains duplicates")
        with lock:
            roll = rnd.random() / max(args.fault_share, 1e-9)
            subset_seed = rnd.random()
            # The first batches go through every kind of fault once, so that each is
            # exercised whatever the random draws; then chance decides.
            if args.fault_share > 0 and stats["batches"] <= len(SCRIPTED):
                roll = SCRIPTED[stats["batches"] - 1]
        # roll < 1 means a fault; the share of each kind follows.
        if roll < 0.25:
            bump("throttled")
            name = "ProvisionedThroughputExceededException" if roll < 0.15 else "ThrottlingException"
            return self.error(400, name, "The level of configured provisioned throughput for the "
                              "table was exceeded.")
        if roll < 0.40:
            bump("error500")
            return self.error(500, "InternalServerError", "Internal server error")
        if roll < 0.50:
            bump("dropped")
            return self.drop()
        if roll < 0.60:
            status, data, ctype = forward(fwd_headers, body)
            if status == 200:
                bump("forwarded_batches")
                bump("forwarded_items", len(reqs))
            bump("dropped_after_write")
            return self.drop()
        if roll < 1.0 and len(reqs) > 1:
            sub = random.Random(subset_seed)
            chosen = sorted(sub.sample(range(len(reqs)), sub.randint(1, len(reqs) - 1)))
            sent = [reqs[i] for i in chosen]
            rest = [reqs[i] for i in range(len(reqs)) if i not in set(chosen)]
            status, data, ctype = forward(fwd_headers, json.dumps({"RequestItems": {table: sent}}))
            if status != 200:
                return self.answer(status, data, ctype)
            bump("forwarded_batches")
            bump("forwarded_items", len(sent))
            bump("partial")
            bump("unprocessed_items", len(rest))
            return self.answer(200, {"UnprocessedItems": {table: rest}})
        status, data, ctype = forward(fwd_headers, body)
        if status == 200:
            bump("forwarded_batches")
            bump("forwarded_items", len(reqs))
        return self.answer(status, data, ctype)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os  # noqa: E402
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
