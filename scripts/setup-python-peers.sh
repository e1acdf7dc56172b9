#!/usr/bin/env bash
# Creates <repo>/.venv and installs the Python reference tools that chainseal's interop
# tests run against. Idempotent: re-running it only installs what is missing.
# One `pip install` line per tool, pinned, from PyPI only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)

# in-toto reference implementation (in-toto-run, in-toto-record, in-toto-sign, in-toto-verify).
"${PIP[@]}" "in-toto==3.1.0"
# Sigstore reference client (sigstore verify / sign), for interop and benchmark comparison.
"${PIP[@]}" "sigstore==4.5.1"
# Prometheus's own Python client: its parser checks the log's /metrics exposition text.
"${PIP[@]}" "prometheus-client==0.26.0"

echo "python peers ready in $VENV"
