#!/usr/bin/env bash
# The main job on a demo fleet: installs Prometheus from the Debian package if
# it is missing, then generates a month for the roster in rules/, backfills a
# local Prometheus, evaluates the month and prints its statement.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "installing Prometheus (Debian package) …" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
exec cargo run --quiet --release -- demo "$@"
