#!/usr/bin/env bash
# The whole chainseal test suite on a fresh machine. Installs what the tests need (the
# Python reference tools in .venv, PostgreSQL, libseccomp-dev and openssl from Debian), starts PostgreSQL,
# and runs every test of the workspace. Needs ../shared beside the repository: the tests
# read third-party vectors there in place.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ ! -d ../shared/vectors ]; then
    echo "error: ../shared/vectors is missing; the tests read third-party vectors from it" >&2
    exit 1
fi
scripts/setup-build-deps.sh

# What the README promises of every change: formatted, no clippy warnings, the lockfile
# as committed, library docs that build without warnings.
echo "== cargo fmt --check" >&2
cargo fmt --all --check
echo "== cargo clippy --locked --all-targets -D warnings" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== dependencies: one version of each crate, no banned crate (deps.toml)" >&2
scripts/check-deps.py
echo "== cargo doc --lib -D warnings" >&2
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --lib --locked

scripts/setup-python-peers.sh
scripts/setup-node-peers.sh
eval "$(scripts/setup-postgres.sh)"
trap 'scripts/setup-postgres.sh stop >/dev/null 2>&1 || true' EXIT

if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast --locked
    # nextest does not run documentation examples; they are tests too.
    cargo test --workspace --doc --locked
else
    cargo test --workspace --no-fail-fast --locked
fi
