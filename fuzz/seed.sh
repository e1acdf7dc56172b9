#!/usr/bin/env bash
# Build seed corpora for the fuzz targets from the shared third-party vectors.
#
#   fuzz/seed.sh [VECTORS_DIR]      (default: ../shared/vectors relative to the project root)
#
# Writes fuzz/corpus/<target>/<sha1> files. fuzz/corpus is gitignored: never commit the
# vectors or anything derived from them. Re-running is idempotent (content-addressed names).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vectors="${1:-$here/../../shared/vectors}"
vectors="$(cd "$vectors" && pwd)"
[ -d "$vectors/sigstore/conformance-assets/bundle-verify" ] || {
    echo "no vectors at $vectors" >&2
    exit 1
}
exec python3 - "$vectors" "$here/corpus" <<'PY'
import base64, glob, hashlib, json, os, sys

vectors, corpus = sys.argv[1], sys.argv[2]
MAX_SEED = 64 * 1024  # larger files (full Static-CT data tiles) only slow libFuzzer down
counts = {}

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    if not data or len(data) > MAX_SEED:
        return
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
        counts[target] = counts.get(target, 0) + 1

def read(p):
    with open(p, "rb") as f:
        return f.read()

def pem(der, label="CERTIFICATE"):
    b = base64.b64encode(der).decode()
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (
        label, "\n".join(b[i:i + 64] for i in range(0, len(b), 64)), label)

def cert(der):
    put("certificate", der)
    put("certificate", pem(der))

# --- Sigstore bundles: bundle_json, plus certificates, timestamps, DSSE, Rekor bodies,
# --- and Rekor checkpoints taken out of them.
for p in sorted(glob.glob(os.path.join(vectors, "sigstore/conformance-assets/bundle-verify/*/bundle.sigstore.json"))):
    raw = read(p)
    put("bundle_json", raw)
    try:
        b = json.loads(raw)
    except ValueError:
        continue  # the malformed-json case is still a good bundle_json seed
    vm = b.get("verificationMaterial") or {}
    certs = []
    if "certificate" in vm:
        certs.append(vm["certificate"].get("rawBytes", ""))
    for c in (vm.get("x509CertificateChain") or {}).get("certificates", []):
        certs.append(c.get("rawBytes", ""))
    for c in certs:
        try:
            cert(base64.b64decode(c))
        except ValueError:
            pass
    for ts in (vm.get("timestampVerificationData") or {}).get("rfc3161Timestamps", []):
        try:
            put("certificate", base64.b64decode(ts.get("signedTimestamp", "")))
        except ValueError:
            pass
    for e in vm.get("tlogEntries", []):
        try:
            body = base64.b64decode(e.get("canonicalizedBody", ""))
        except ValueError:
            continue
        put("rekor_body", body)
        cp = ((e.get("inclusionProof") or {}).get("checkpoint") or {}).get("envelope")
        if cp:
            put("signed_note", cp)
    env = b.get("dsseEnvelope")
    if env:
        put("dsse", json.dumps(env, indent=2))
        try:
            put("dsse", base64.b64decode(env.get("payload", "")))  # the in-toto statement
        except ValueError:
            pass

# --- Trusted root certificates (Fulcio, TSA chains) from the public-good root.
for p in glob.glob(os.path.join(vectors, "sigstore/trusted-roots/*.json")):
    root = json.loads(read(p))
    for group in ("certificateAuthorities", "timestampAuthorities"):
        for ca in root.get(group, []):
            for c in (ca.get("certChain") or {}).get("certificates", []):
                cert(base64.b64decode(c["rawBytes"]))

# --- DSSE spec envelope and the conformance statement.
put("dsse", read(os.path.join(vectors, "intoto/dsse-spec/envelope.json")))
st = os.path.join(vectors, "sigstore/conformance-assets/statement.json")
if os.path.exists(st):
    put("dsse", read(st))

# --- Signed notes and checkpoints.
tlog = os.path.join(vectors, "tlog")
for p in glob.glob(os.path.join(tlog, "tessera-testdata-log/testdata/log/checkpoint*")):
    put("signed_note", read(p))
for p in glob.glob(os.path.join(tlog, "sunlight/cmd/skylight/testdata/**/checkpoint"), recursive=True):
    put("signed_note", read(p))
v = json.loads(read(os.path.join(tlog, "signed-note/vectors.json")))
g = v.get("go_sumdb_note_tests", {})
for k in ("signed_by_peter",):
    if k in g:
        put("signed_note", g[k])
if "signed_by_peter" in g and "enoch_sig_line" in g:
    put("signed_note", g["signed_by_peter"] + g["enoch_sig_line"])
if "note" in v.get("c2sp_signed_note_example", {}):
    put("signed_note", v["c2sp_signed_note_example"]["note"])
for k in ("vkey_peter", "vkey_enoch"):
    if k in g:
        put("signed_note", g[k])
put("signed_note", v["tessera_testdata_log_keys"]["vkey"])
sg = json.loads(read(os.path.join(tlog, "signed-note/sum.golang.org-real-checkpoints.json")))
for c in sg.get("checkpoints", []):
    put("signed_note", c)

# --- Tiles: hash tiles, entry bundles, Static-CT data tiles, and their paths as text.
tile_roots = [
    os.path.join(tlog, "tessera-testdata-log/testdata/log"),
    os.path.join(tlog, "sunlight/testdata/navigli2025h2"),
    os.path.join(tlog, "sunlight/cmd/skylight/testdata/tree"),
]
tile_roots += glob.glob(os.path.join(tlog, "sunlight/cmd/skylight/testdata/witness/mirror/*"))
for r in tile_roots:
    for p in glob.glob(os.path.join(r, "tile/**"), recursive=True):
        if os.path.isfile(p):
            put("tiles", read(p))
            put("tiles", os.path.relpath(p, r))

# Our own example pipeline seeds the pipeline parser.
put("pipeline", read(os.path.join(os.path.dirname(corpus), "..", "examples", "hello", "pipeline.yaml")))

for t in sorted(counts):
    print("%-12s +%d seeds -> %s" % (t, counts[t], os.path.join(corpus, t)))
PY
