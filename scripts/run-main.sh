#!/usr/bin/env bash
# The main job: build chainseal and run `chainseal demo` — the embedded stack in-process,
# the example project built through the secure software factory, end-to-end
# verification, and two supply-chain attacks caught. Offline; state goes to a new folder
# (printed), or to --dir DIR. Extra arguments are passed to `chainseal demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup-build-deps.sh
cargo build --release -p chainseal
exec ./target/release/chainseal demo "$@"
