# File mode with --checkpoint-dir, against faults outside the checkpoint itself: an input cut
# below the checkpoint's position is refused (exit 2, one line naming the offset and the
# input's length) rather than resumed; a failing output names its underlying error.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
J=$WEIR_BIN/unique-users
# More than the 64 KiB head the checkpoint hashes, so that a cut input still matches it.
"$WEIR_REL_BIN/weir-gen" --seed 7 --events 5000 --products 30 --users 300 --rate 1000 >"$tmp/in.jsonl"
size=$(stat -c %s "$tmp/in.jsonl")
((size > 200000)) || { echo "FAIL: test input of $size bytes is too short"; exit 1; }

# A completed run leaves checkpoints past the first read block (256 KiB); the input is then
# cut short below them.
"$J" --input "$tmp/in.jsonl" --output "$tmp/out" --checkpoint-dir "$tmp/ck" \
    --checkpoint-interval 1ms 2>/dev/null
compgen -G "$tmp/ck/ckpt-*.weir" >/dev/null || { echo "FAIL: no checkpoint written"; exit 1; }
truncate -s 100000 "$tmp/in.jsonl"
rc=0
"$J" --input "$tmp/in.jsonl" --output "$tmp/out" --checkpoint-dir "$tmp/ck" >"$tmp/o" 2>"$tmp/e" || rc=$?
if [[ $rc -ne 2 ]] || [[ $(wc -l <"$tmp/e") -ne 1 ]] || ! grep -Eq "offset [0-9]{6,} .*100000 bytes" "$tmp/e"; then
    echo "FAIL: resuming over a cut input: exit $rc and: $(head -c 2000 "$tmp/e")"
    exit 1
fi
echo "ok: a checkpoint past the input's end is refused: $(cat "$tmp/e")"
# --reset-state still starts over on the cut input.
"$J" --input "$tmp/in.jsonl" --output "$tmp/out" --checkpoint-dir "$tmp/ck" --reset-state 2>/dev/null ||
    { echo "FAIL: --reset-state over the cut input"; exit 1; }

# An output that cannot be written (/dev/full): the message carries the system's reason. The
# whole input and one-second windows, so that windows fire early and a checkpoint (not the
# final flush) is the first to write them: 20 s of events, past the default out-of-orderness.
"$WEIR_REL_BIN/weir-gen" --seed 7 --events 20000 --products 30 --users 300 --rate 1000 >"$tmp/in.jsonl"
rc=0
"$J" --input "$tmp/in.jsonl" --window 1s --output /dev/full --checkpoint-dir "$tmp/ck3" \
    --checkpoint-interval 1ms 2>"$tmp/e" || rc=$?
msg=$(grep -v '^{' "$tmp/e" || true)
if [[ $rc -ne 1 ]] || ! grep -q "No space left on device" <<<"$msg"; then
    echo "FAIL: /dev/full as output: exit $rc and: $msg"
    exit 1
fi
echo "ok: a failing output names its error: $msg"
