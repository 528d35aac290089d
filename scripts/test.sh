#!/usr/bin/env bash
# The test command: installs what the tests need if it is missing
# (scripts/setup.sh test: Prometheus, Alertmanager, VictoriaMetrics,
# aiosmtpd), then runs every test — unit tests, the rule tests in rules/
# and the integration tests against the real servers. Arguments go to
# `cargo test` (e.g. a test name filter). CI (.ci/run) runs this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# --no-fail-fast: a failing test binary does not hide the others' results.
exec cargo test --locked --no-fail-fast "$@"
