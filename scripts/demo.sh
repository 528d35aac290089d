#!/usr/bin/env bash
# The main job on a demo fleet: installs Prometheus from the Debian package if
# it is missing (scripts/setup.sh demo), then generates a month for the roster
# in rules/, backfills a local Prometheus, evaluates the month and prints its
# statement.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
exec cargo run --quiet --release -- demo "$@"
