#!/usr/bin/env bash
# Transparency-log benchmark: `chainseal log load` against a local `chainseal log serve`.
# Each acknowledgement means the entry's batch is durable and a published checkpoint covers it.
#   scripts/bench-log.sh                    # embedded store (directory + redb)
#   MODE=postgres scripts/bench-log.sh      # PostgreSQL sequencing + object-store tiles
#   ENTRIES=30000 CONCURRENCY=2048 scripts/bench-log.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p chainseal
CS=./target/release/chainseal
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
args=(log serve --storage "$dir/log" --listen 127.0.0.1:0 --origin bench.test/log --queue 65536)
if [ "${MODE:-embedded}" = postgres ]; then
    eval "$(scripts/setup-postgres.sh)"
    db="chainseal_bench_$$"
    psql "$CHAINSEAL_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db"
    args+=(--postgres "${CHAINSEAL_TEST_POSTGRES_URL%/*}/$db" --object-store "$dir/objects")
fi
"$CS" "${args[@]}" 2> "$dir/serve.log" &
pid=$!
url=
for _ in $(seq 200); do
    url=$(sed -n 's/^chainseal log: listening on //p' "$dir/serve.log" | head -n1)
    [ -n "$url" ] && break
    sleep 0.05
done
[ -n "$url" ] || { cat "$dir/serve.log" >&2; exit 1; }
"$CS" log load --url "$url" --entries "${ENTRIES:-30000}" --concurrency "${CONCURRENCY:-2048}" --json
"$CS" log verify --url "$url" --vkey "$("$CS" log vkey --storage "$dir/log" 2>/dev/null || true)" --entries --json >/dev/null \
    && echo "log verify: the loaded log verifies from its tiles" >&2
