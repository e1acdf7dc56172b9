#!/usr/bin/env bash
# The main job, for now: build chainseal and verify a real Sigstore bundle offline against
# the embedded Sigstore public-good trusted root, printing the machine-readable report.
# Extra arguments are passed to verify-blob (e.g. --trusted-root FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p chainseal
V=../shared/vectors/sigstore/conformance-assets/bundle-verify
exec ./target/release/chainseal verify-blob --json \
    --bundle "$V/happy-path-v0.3/bundle.sigstore.json" \
    --certificate-identity "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main" \
    --certificate-oidc-issuer "https://token.actions.githubusercontent.com" \
    "$@" "$V/a.txt"
