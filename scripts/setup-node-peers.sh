#!/usr/bin/env bash
# Installs sigstore-js (npm, pinned) into <repo>/.peers/node for the interop tests that need
# a verifier of managed-key bundles. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.peers/node"
mkdir -p "$DIR"
if [ ! -d "$DIR/node_modules/@sigstore/verify" ]; then
    (cd "$DIR" && npm install --silent --no-audit --no-fund --no-save \
        @sigstore/verify@4.1.3 @sigstore/bundle@4 @sigstore/protobuf-specs@0.5)
fi
echo "node peers ready in $DIR"
