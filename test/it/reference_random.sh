# Hundreds of small random streams, each with its own window, out-of-orderness, lateness,
# emit mode, key mode and timestamp unit, through the job and through the reference model,
# compared record by record (test/it/reference_random.py says what the streams reach).
# WEIR_REF_CASES and WEIR_REF_SEED explore further; a difference names the case and keeps
# its input under /tmp.
set -euo pipefail
/usr/bin/python3 "$WEIR_ROOT/test/it/reference_random.py" "$WEIR_BIN/unique-users" \
    "${WEIR_REF_CASES:-400}" "${WEIR_REF_SEED:-1}"
