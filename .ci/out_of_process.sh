#!/usr/bin/env bash
# The main job against services in their own processes (called from .ci/run with the venv active).
#
# 1. The reference service out of process (MariaDB when HARNESS_MYSQL_URL is set, a replica too),
#    test control on: `calharness verify --target` must pass with at least 90 % of the scenarios run.
# 2. The same service with test control off (only its API, the fake Cal.com behind it): must pass
#    with at least 55 % run; the skipped ones are listed by the capability they lacked.
# 3. The REST example through its adapter: careful mode must pass; naive mode must fail, and its
#    report must name double, stolen and lost bookings.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="reports/out-of-process"
rm -rf "$OUT"
mkdir -p "$OUT"
started=$(date +%s)
SERVED_PID=""

stop_served() {
    if [ -n "$SERVED_PID" ] && kill -0 "$SERVED_PID" 2>/dev/null; then
        kill -TERM "$SERVED_PID"
        wait "$SERVED_PID" 2>/dev/null
    fi
    SERVED_PID=""
}
trap stop_served EXIT

served() {  # served <name> <calharness serve args…>: start one, wait for its target file
    local name=$1
    shift
    calharness serve --processes --write-target "$OUT/$name.toml" "$@" \
        > "$OUT/$name.serve.log" 2>&1 &
    SERVED_PID=$!
    for _ in $(seq 1 120); do
        [ -s "$OUT/$name.toml" ] && return 0
        kill -0 "$SERVED_PID" 2>/dev/null || break
        sleep 1  # waiting for another process to listen: no event to wait on
    done
    echo "!! $name did not start:"; cat "$OUT/$name.serve.log"
    return 1
}

verify() {  # verify <expected exit> <name> <calharness verify args…>
    local expected=$1 name=$2
    shift 2
    echo "== $name (expect exit $expected)"
    timeout 900 calharness verify --target "$OUT/$name.toml" --no-progress --out "$OUT/$name" "$@"
    local code=$?
    stop_served
    if [ "$code" -ne "$expected" ]; then
        echo "!! $name: calharness verify exited $code, expected $expected"
        exit 1
    fi
}

served reference || exit 1
verify 0 reference --min-ran 90%

served black-box --no-test-control || exit 1
# (55 %: 116 of 203 scenarios need no test control; the season and change-day scenarios need the clock)
verify 0 black-box --min-ran 55%

served rest-careful --service rest-careful || exit 1
verify 0 rest-careful

served rest-naive --service rest-naive || exit 1
verify 1 rest-naive
python - "$OUT/rest-naive/summary.json" <<'EOF' || exit 1
import json, sys
summary = json.load(open(sys.argv[1]))
kinds = {v["kind"] for check in summary["checks"] for v in check["violations"]}
wanted = {"double-booking", "stolen-booking", "lost-booking"}
print("naive REST example, violations found:", ", ".join(sorted(kinds)))
missing = wanted - kinds
if missing:
    sys.exit(f"!! the naive example's report should name {', '.join(sorted(missing))}")
EOF

echo "== out of process done in $(( $(date +%s) - started )) s"
