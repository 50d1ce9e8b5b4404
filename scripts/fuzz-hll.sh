#!/usr/bin/env bash
# The HyperLogLog deserializer's fuzz target (fuzz/fuzz_hll.c) for N seconds (default 60):
# scripts/fuzz.sh hll N.
exec "$(dirname "$0")/fuzz.sh" hll "${1:-60}"
