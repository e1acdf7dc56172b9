// Verify a Sigstore bundle with sigstore-js (@sigstore/verify), a verifier no one on this
// project wrote. Used by the test suite as a peer for managed-key bundles, which
// sigstore-python's CLI cannot verify.
//
//   node sigstore-js-verify.js --trusted-root F --bundle B (--key PEM | --identity I --issuer U) ARTIFACT
// Exit 0 = verified; 1 = rejected (the reason on stderr).
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const path = require('path');
const modules = process.env.SIGSTORE_JS_MODULES || path.join(__dirname, '..', '..', '.peers', 'node', 'node_modules');
const { Verifier, toSignedEntity, toTrustMaterial } = require(path.join(modules, '@sigstore/verify'));
const { bundleFromJSON } = require(path.join(modules, '@sigstore/bundle'));
const { TrustedRoot } = require(path.join(modules, '@sigstore/protobuf-specs'));

const args = process.argv.slice(2);
const opt = {};
const rest = [];
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith('--')) opt[args[i].slice(2)] = args[++i];
  else rest.push(args[i]);
}
try {
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(opt['trusted-root'], 'utf8')));
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(opt.bundle, 'utf8')));
  let keys;
  if (opt.key) {
    const publicKey = crypto.createPublicKey(fs.readFileSync(opt.key, 'utf8'));
    keys = () => ({ publicKey, validFor: () => true });
  }
  const tm = toTrustMaterial(root, keys);
  const verifier = new Verifier(tm, { tlogThreshold: 1, ctlogThreshold: opt.key ? 0 : 1, timestampThreshold: 1 });
  const policy = opt.key ? undefined : { subjectAlternativeName: opt.identity, extensions: { issuer: opt.issuer } };
  verifier.verify(toSignedEntity(bundle, fs.readFileSync(rest[0])), policy);
  console.log('OK');
} catch (e) {
  console.error(`sigstore-js: ${e.code || ''} ${e.message}`);
  process.exit(1);
}
