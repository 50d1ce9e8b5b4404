"""What services_check.py and services_rollback.py share: counted checks and one HTTP call
(stdlib http.client, a connection per call) whose JSON answer is parsed when it is JSON."""
import http.client
import json
import sys

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def call(addr, method, path, body=None, ctype="application/json", raw=None, headers=None):
    """Returns (status, the response, its JSON document or bytes or None)."""
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
    if data is not None and ctype:
        h["Content-Type"] = ctype
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read()
    c.close()
    doc = None
    if text:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = text
    return r.status, r, doc
