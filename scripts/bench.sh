#!/usr/bin/env bash
# Benchmarks for bundle verification (issue "Verify any Sigstore bundle offline"):
#  1. wall time of one `chainseal verify-blob` process on a v0.3 bundle (hyperfine),
#     against sigstore-python 4.5.1 `sigstore verify identity --offline` on the same input;
#  2. bundles verified per second in one process, 1 and 2 threads (`chainseal bench verify`).
# Run on an otherwise idle machine: both cores are used.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v hyperfine >/dev/null || { apt-get update >/dev/null && apt-get install -y hyperfine >/dev/null; }
cargo build --release -p chainseal
V=../shared/vectors/sigstore/conformance-assets/bundle-verify
B="$V/happy-path-v0.3/bundle.sigstore.json"
ID="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
ISS="https://token.actions.githubusercontent.com"
CS=(./target/release/chainseal verify-blob --bundle "$B" --certificate-identity "$ID" --certificate-oidc-issuer "$ISS" "$V/a.txt")
cmds=("${CS[*]}")
if [ -x .venv/bin/sigstore ]; then
    cmds+=(".venv/bin/sigstore verify identity --offline --bundle $B --cert-identity $ID --cert-oidc-issuer $ISS $V/a.txt")
else
    echo "(sigstore-python not installed: run scripts/setup-python-peers.sh for the comparison)"
fi
hyperfine -N --warmup 5 --runs "${RUNS:-100}" "${cmds[@]}"
for t in 1 2; do
    ./target/release/chainseal bench verify --threads "$t" --seconds "${SECONDS_PER_RUN:-5}" \
        --bundle "$B" --certificate-identity "$ID" --certificate-oidc-issuer "$ISS" "$V/a.txt"
done
