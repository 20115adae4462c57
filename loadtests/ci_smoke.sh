#!/usr/bin/env bash
# CI smoke load run (called from .ci/run with the project's venv active; ~40 s, at most 60 s).
#
# 1. The smoke profile with every defense on must PASS (exit 0): p95 booking_flow within the
#    45 s target (scaled by the time factor 10), failure ratio, and no invariant violated.
# 2. The same profile with `slot_lock` off, and with `availability_double_check` off, must FAIL
#    with exit 3 (an invariant violated: two Cal.com bookings on one host slot). This proves the
#    smoke run can catch what it is there to catch (see loadtests/profile.py, SMOKE).
#    Skip these two with --no-ablation.
#
# Any other outcome exits non-zero. Reports: loadtests/out/ci-smoke/.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python}"
OUT="loadtests/out/ci-smoke"
ABLATE=1
[ "${1:-}" = "--no-ablation" ] && ABLATE=0

rm -rf "$OUT"
mkdir -p "$OUT"
started=$(date +%s)

run() {  # run <expected exit> <label> <args...>
    local expected=$1 label=$2
    shift 2
    echo "== smoke load: $label (expect exit $expected)"
    timeout 55 "$PYTHON" -m calharness.cli load --profile smoke --out "$OUT/$label" \
        --timeout 50 "$@"
    local code=$?
    if [ "$code" -ne "$expected" ]; then
        echo "!! smoke load '$label': exit $code, expected $expected (logs: $OUT/$label/)" >&2
        return 1
    fi
    echo "   ok: exit $code as expected"
}

failed=0
run 0 all-defenses-on --duration 15 || failed=1
if [ "$ABLATE" -eq 1 ]; then
    run 3 slot-lock-off --duration 6 --defense-off slot_lock || failed=1
    run 3 double-check-off --duration 6 --defense-off availability_double_check || failed=1
fi
echo "== smoke load done in $(( $(date +%s) - started )) s"
exit "$failed"
