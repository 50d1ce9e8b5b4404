#!/bin/bash
# The HEALTHCHECK of weir's container images: GET http://127.0.0.1:PORT/PATH with bash alone (the
# final images carry no HTTP client), exit 0 on a 200 answer within 3 seconds, 1 otherwise.
# Usage: weir-healthcheck PORT [PATH]   (PATH defaults to /healthz)
set -u
port=${1:?usage: weir-healthcheck PORT [PATH]}
path=${2:-/healthz}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
IFS=' ' read -r -t 3 _ code _ <&3 || exit 1
[[ $code == 200 ]]
