#!/usr/bin/env bash
# No credential reaches stderr when a failing endpoint echoes the request: a session token far
# longer than the 512-byte message limit, the access key id and the Signature of an echoed
# Authorization header, the secret key, in the error message or its type, whole or cut short
# by the server; at start (DescribeTable) and while writing (BatchWriteItem).
set -euo pipefail
source "$(dirname "$0")/dynamodb_lib.bash"

# Credentials of real shapes and lengths: a 20-character key id, a 40-character secret and a
# 1,200-character session token (STS tokens run to several hundred characters).
eval "$($py - <<'PY'
import secrets, string
alnum = string.ascii_letters + string.digits
print("export AWS_ACCESS_KEY_ID=ASIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16)))
print("export AWS_SECRET_ACCESS_KEY=" + "".join(secrets.choice(alnum + "/+") for _ in range(40)))
print("export AWS_SESSION_TOKEN=" + "".join(secrets.choice(alnum + "/+") for _ in range(1200)))
PY
)"

# The endpoint: its URL path picks what it echoes in a 400 ValidationException.
cat >"$work/echo.py" <<'PY'
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        mode = self.path.strip("/")
        token = self.headers.get("X-Amz-Security-Token", "")
        auth = self.headers.get("Authorization", "")
        target = self.headers.get("X-Amz-Target", "")
        if mode == "batch" and target.endswith(".DescribeTable"):
            return self.reply(200, {"Table": {"TableName": "t", "TableStatus": "ACTIVE",
                "KeySchema": [{"AttributeName": "product_id", "KeyType": "HASH"},
                              {"AttributeName": "window_start", "KeyType": "RANGE"}]}})
        kind = "com.amazon.coral.validate#ValidationException"
        if mode == "token":  # the trial's case: the token pushes the message past 512 bytes
            msg = "The security token included in the request is invalid: " + token
        elif mode == "cut":  # the server cuts its own echo in the middle of the token
            msg = "Request rejected, token " + token[:300]
        elif mode == "secret":  # no server knows the secret key, but nothing shows it either
            msg = "Secret " + os.environ["AWS_SECRET_ACCESS_KEY"] + " refused"
        elif mode == "batch":  # the sink keeps 256 bytes: the credentials come first
            msg = f"Authorization: {auth}; X-Amz-Security-Token: {token}"
        elif mode == "type":  # the echo lands in the error's type
            kind = "com.amazon.coral#" + auth
            msg = "denied"
        else:  # headers: every header of the request, on one line
            msg = "Headers: " + "; ".join(f"{k}: {v}" for k, v in self.headers.items())
        self.reply(400, {"__type": kind, "message": msg})

srv = HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
PY
$py "$work/echo.py" "$work/echo.port" 2>"$work/echo.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/echo.port ]] && break; sleep 0.05; done
[[ -s $work/echo.port ]] || die "the echo endpoint did not start: $(cat "$work/echo.log")"
echo_url=http://127.0.0.1:$(cat "$work/echo.port")

# Fails when $1 holds any credential, whole or any 16 characters of it, or a signature.
check_clean() { # file, case
    $py - "$1" "$2" <<'PY'
import os, re, sys
text = open(sys.argv[1]).read()
for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    secret = os.environ[var]
    for i in range(len(secret) - 15):
        if secret[i:i + 16] in text:
            sys.exit(f"FAIL: {sys.argv[2]}: {var} leaked (characters {i}..{i + 15})")
if re.search(r"Signature=[0-9a-f]{8}", text):
    sys.exit(f"FAIL: {sys.argv[2]}: the request's Signature leaked")
PY
}

for mode in headers token cut secret type; do
    rc=0
    "$rel/weir-ddb" put --dynamodb-endpoint "$echo_url/$mode" --dynamodb-table t \
        </dev/null >"$work/out" 2>"$work/err" || rc=$?
    echo "$mode: exit $rc: $(cat "$work/err")"
    [[ $rc -eq 2 ]] || die "$mode: exit status $rc, want 2"
    [[ $(grep -c . "$work/err") -eq 1 ]] || die "$mode: not one line on stderr"
    grep -q 'ValidationException\|\[invalid argument\]' "$work/err" || die "$mode: no error class"
    grep -qF '***' "$work/err" || die "$mode: the echoed credential is not shown masked"
    check_clean "$work/err" "$mode"
    check_clean "$work/out" "$mode"
done
# The headers' own text survives around the masks: only credentials are hidden.
"$rel/weir-ddb" put --dynamodb-endpoint "$echo_url/headers" --dynamodb-table t </dev/null \
    2>"$work/err" >/dev/null || true
grep -q 'Authorization: AWS4-HMAC-SHA256 Credential=\*\*\*/20.*, Signature=\*\*\*; X-Amz-Security-Token: \*\*\*;' \
    "$work/err" || die "headers: the Authorization header is not shown with its credentials masked"

# While writing: BatchWriteItem fails with the echo, the sink reports it, exit 1.
echo '{"product_id":"1","window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z","unique_user_count":1,"event_count":1}' \
    >"$work/one.jsonl"
rc=0
"$rel/weir-ddb" put --dynamodb-endpoint "$echo_url/batch" --dynamodb-table t \
    --input "$work/one.jsonl" >"$work/out" 2>"$work/err" || rc=$?
echo "batch: exit $rc: $(cut -c1-300 "$work/err")"
[[ $rc -eq 1 ]] || die "batch: exit status $rc, want 1"
grep -qF '***' "$work/err" || die "batch: the echoed credentials are not shown masked"
check_clean "$work/err" batch
check_clean "$work/out" batch
echo "dynamodb_secrets: ok"
