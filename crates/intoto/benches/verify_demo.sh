#!/usr/bin/env bash
# Per-process benchmark: `chainseal intoto verify` vs the reference `in-toto-verify` on the
# in-toto demo chain (3 RSA-3072 links, one `tar xzf` inspection), both formats.
# Usage: crates/intoto/benches/verify_demo.sh [runs]   (needs target/release/chainseal and
# .venv from scripts/setup-python-peers.sh). Prints mean and min wall time per run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
RUNS="${1:-50}"
BIN="$ROOT/target/release/chainseal"
REF="$ROOT/.venv/bin/in-toto-verify"
VEC="$ROOT/../shared/vectors/intoto/intoto-demo-generated"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p chainseal" >&2; exit 1; }
[ -x "$REF" ] || { echo "run scripts/setup-python-peers.sh" >&2; exit 1; }

bench() { # label runs cmd...
    local label="$1" runs="$2"; shift 2
    local total=0 min=999999999
    for _ in $(seq "$runs"); do
        local dir; dir="$(mktemp -d)"
        cp "$SCEN"/* "$dir"/
        local t0 t1
        t0=$(date +%s%N)
        (cd "$dir" && "$@" >/dev/null 2>&1) || { echo "$label failed" >&2; exit 1; }
        t1=$(date +%s%N)
        rm -rf "$dir"
        local us=$(( (t1 - t0) / 1000 ))
        total=$(( total + us )); (( us < min )) && min=$us
    done
    printf '%-34s mean %8.2f ms   min %8.2f ms   (%d runs)\n' "$label" \
        "$(echo "$total / $runs / 1000" | bc -l)" "$(echo "$min / 1000" | bc -l)" "$runs"
}

SCEN="$VEC/metablock/good"
bench "baseline: /bin/true (process spawn)" "$RUNS" /bin/true
for fmt in metablock dsse; do
    SCEN="$VEC/$fmt/good"
    bench "chainseal intoto verify ($fmt)" "$RUNS" "$BIN" intoto verify --layout root.layout --verification-keys alice.pub
    bench "chainseal (--inspect-in-place, $fmt)" "$RUNS" "$BIN" intoto verify --layout root.layout --verification-keys alice.pub --inspect-in-place
    bench "in-toto-verify 3.1.0 ($fmt)" "$(( RUNS / 5 > 3 ? RUNS / 5 : 3 ))" "$REF" --layout root.layout --verification-keys alice.pub
done
