#!/usr/bin/env bash
# `cargo deny check advisories` without network: puts the RustSec advisory
# database snapshot (default ../shared/advisory-db.tar.gz beside the
# checkout, or $ADVISORY_DB_SNAPSHOT) where cargo-deny looks for it, and
# runs the check with fetching disabled. The accepted age of the snapshot
# is `maximum-db-staleness` in deny.toml. Where GitHub is reachable, plain
# `cargo deny check advisories` fetches the current database instead.
set -euo pipefail
cd "$(dirname "$0")/.."
snapshot=${ADVISORY_DB_SNAPSHOT:-../shared/advisory-db.tar.gz}
[ -f "$snapshot" ] || { echo "check-advisories: no advisory database snapshot at $snapshot (set ADVISORY_DB_SNAPSHOT)" >&2; exit 1; }
# cargo-deny keeps the database of its default URL
# (https://github.com/RustSec/advisory-db) in this directory:
db=${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-3157b0e258782691
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$snapshot" -C "$tmp"
[ -d "$tmp/advisory-db/.git" ] || { echo "check-advisories: $snapshot holds no advisory-db git clone" >&2; exit 1; }
new=$(git -C "$tmp/advisory-db" log -1 --format=%ct)
old=$( [ -d "$db/.git" ] && git -C "$db" log -1 --format=%ct 2>/dev/null || echo 0)
if [ "$new" -gt "$old" ]; then
  # cargo-deny dates a database by the mtime of .git/FETCH_HEAD (else HEAD):
  # date them by the snapshot's last commit, so that deny.toml's
  # maximum-db-staleness measures the age of the advisories, not of the
  # extraction.
  rm -f "$tmp/advisory-db/.git/FETCH_HEAD"
  touch -d "@$new" "$tmp/advisory-db/.git/HEAD"
  mkdir -p "$(dirname "$db")"
  rm -rf "$db"
  mv "$tmp/advisory-db" "$db"
fi
echo "check-advisories: RustSec database of $(git -C "$db" log -1 --format=%cs) ($(git -C "$db" log -1 --format=%h))" >&2
# cargo metadata needs every package of the lock file, other platforms' too.
cargo fetch --locked --quiet
exec cargo deny --offline --locked check advisories
