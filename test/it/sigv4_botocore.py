#!/usr/bin/python3
"""Compares weir's SigV4 Authorization header (build/bin/weir-sigv4) with botocore's
SigV4Auth for a set of requests, at a fixed signing time and with fixed credentials."""
import datetime
import os
import subprocess
import sys
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TOOL = sys.argv[1]
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="

BIG = '{"RequestItems":{"t":[' + ",".join(
    '{"PutRequest":{"Item":{"k":{"S":"%d"}}}}' % i for i in range(500)) + "]}}"

# (name, method, url, [(header, value)], body, region, service, time, token?)
CASES = [
    ("empty-get", "GET", "https://example.amazonaws.com/", [], "", "us-east-1", "service",
     "20150830T123600Z", False),
    ("ddb-describe", "POST", "http://127.0.0.1:8000/",
     [("Content-Type", "application/x-amz-json-1.0"),
      ("X-Amz-Target", "DynamoDB_20120810.DescribeTable")],
     '{"TableName":"ecom-analytics"}', "eu-west-1", "dynamodb", "20240101T120000Z", False),
    ("ddb-batch-token", "POST", "https://dynamodb.us-west-2.amazonaws.com/",
     [("Content-Type", "application/x-amz-json-1.0"),
      ("X-Amz-Target", "DynamoDB_20120810.BatchWriteItem")],
     BIG, "us-west-2", "dynamodb", "20241231T235959Z", True),
    ("query-sorted", "GET", "https://example.amazonaws.com/path/to?b=2&a=1&a=0&c=", [], "",
     "us-east-1", "service", "20200229T000000Z", False),
    ("query-encoded", "GET",
     "https://example.amazonaws.com/?Param2=value%20two&Param1=value%2Fone&k%C3%A9y=v~_-.",
     [], "", "us-east-1", "service", "20150830T123600Z", False),
    ("query-no-value", "GET", "https://example.amazonaws.com/?list&max-keys=10", [], "",
     "ap-south-1", "s3x", "20150830T123600Z", False),
    ("path-dots", "GET", "https://example.amazonaws.com/a/./b/../c//d/", [], "", "us-east-1",
     "service", "20150830T123600Z", False),
    ("path-encoded", "PUT", "https://example.amazonaws.com/my%20doc/file+name%2Fx.txt",
     [("Content-Type", "text/plain")], "hello world", "us-east-1", "service",
     "20150830T123600Z", False),
    ("path-utf8", "GET", "https://example.amazonaws.com/\u00e9t\u00e9", [], "", "us-east-1",
     "service", "20150830T123600Z", False),
    ("header-trim", "POST", "https://example.amazonaws.com/",
     [("My-Header1", "   value1  with   spaces  "), ("my-header2", "\"a   b   c\""),
      ("X-Amz-Meta-Tab", "a\tb")], "body", "us-east-1", "service", "20150830T123600Z", False),
    ("header-dup", "POST", "https://example.amazonaws.com/",
     [("X-Dup", "first"), ("Zeta", "z"), ("x-dup", "second"), ("Alpha", "a")], "x",
     "us-east-1", "service", "20150830T123600Z", True),
    ("host-port", "POST", "http://LOCALHOST:4567/", [("Content-Type", "application/json")],
     "{}", "us-east-1", "dynamodb", "20150830T123600Z", False),
    ("host-default-port", "GET", "https://example.amazonaws.com:443/x", [], "", "us-east-1",
     "service", "20150830T123600Z", False),
    ("explicit-host", "GET", "http://127.0.0.1:9000/", [("Host", "proxy.example.com")], "",
     "us-east-1", "service", "20150830T123600Z", False),
    ("unsigned-ignored", "POST", "https://example.amazonaws.com/",
     [("User-Agent", "weir/1"), ("Expect", "100-continue"), ("X-Amzn-Trace-Id", "Root=1"),
      ("Content-Type", "application/x-amz-json-1.0")], '{"a":1}', "us-east-1", "dynamodb",
     "20150830T123600Z", True),
    ("content-sha-header", "PUT", "https://example.amazonaws.com/obj",
     [("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")], "payload", "us-east-1", "s3",
     "20150830T123600Z", False),
    ("empty-post", "POST", "https://example.amazonaws.com/", [], "", "us-east-1", "service",
     "20150830T123600Z", True),
]


def botocore_auth(method, url, headers, body, region, service, when, token):
    creds = Credentials(AKID, SECRET, TOKEN if token else None)
    req = AWSRequest(method=method, url=url, data=body.encode())
    for k, v in headers:
        req.headers[k] = v  # HTTPHeaders appends, so repeated names stay repeated
    fixed = datetime.datetime.strptime(when, "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = fixed
        dt.datetime.strptime = datetime.datetime.strptime
        SigV4Auth(creds, service, region).add_auth(req)
    return req.headers["Authorization"]


def weir_auth(method, url, headers, body, region, service, when, token, canonical=False):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    env.pop("AWS_SESSION_TOKEN", None)
    if token:
        env["AWS_SESSION_TOKEN"] = TOKEN
    args = [TOOL, "--method", method, "--url", url, "--region", region, "--service", service,
            "--time", when, "--body-file", "-"]
    for k, v in headers:
        args += ["--header", f"{k}:{v}"]
    if canonical:
        args.append("--canonical")
    out = subprocess.run(args, input=body.encode(), env=env, capture_output=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"weir-sigv4 failed: {out.stderr.decode().strip()}")
    return out.stdout.decode().strip()


def main():
    bad = 0
    for name, *case in CASES:
        want = botocore_auth(*case)
        got = weir_auth(*case)
        if got != want:
            bad += 1
            print(f"MISMATCH {name}\n  botocore: {want}\n  weir:     {got}")
            print(weir_auth(*case, canonical=True))
        else:
            print(f"ok {name}")
        # A signature must depend on the secret: a different secret must not match.
        if "Signature=" not in got or SECRET in got:
            bad += 1
            print(f"BAD {name}: missing signature or secret leaked")
    print(f"{len(CASES) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
