//! Bundle JSON parser + the full offline verifier. Neither may panic on any input.
//!
//! Besides the all-zero digest, each bundle is also verified against the digests of the
//! conformance artifacts (`a.txt` and the DSSE subjects). A mutation that leaves the signed
//! artifact signature intact but changes the unsigned parts (tlog entries, inclusion
//! proofs, checkpoints, SETs, RFC 3161 timestamps) then gets past the signature check and
//! exercises the deep verification paths, not just the first failing check.
#![no_main]

use std::sync::OnceLock;

use chainseal_model::bundle::Bundle;
use chainseal_verify::{Artifact, Matcher, Policy, TrustMaterial, Verifier};
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static (Verifier, Policy) {
    static V: OnceLock<(Verifier, Policy)> = OnceLock::new();
    V.get_or_init(|| {
        let trust = TrustMaterial::public_good().expect("embedded public-good root parses");
        let policy = Policy::Identity {
            identity: Matcher::Exact(
                "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main".into(),
            ),
            issuer: Matcher::Exact("https://token.actions.githubusercontent.com".into()),
            extensions: Vec::new(),
        };
        (Verifier::new(trust), policy)
    })
}

/// SHA-256 of the conformance artifacts (bundle-verify `a.txt` and per-case `artifact`s).
const KNOWN_DIGESTS: [&str; 4] = [
    "a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf",
    "330a043220fa13e01d68a7db39c89e12b0c4c3b6a0346fe624b0903f1303b5b2",
    "1fa70528334cd25fb9b4aabc0a81c96a0c8e8ff48b59be6dfbe9897e8e7f5c93",
    "b5c037f31d4a82c2baf002f083e5cb1def48c4aab51f3354488550d1f6b40903",
];

fn digests() -> &'static [[u8; 32]] {
    static D: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    D.get_or_init(|| {
        KNOWN_DIGESTS
            .iter()
            .map(|h| {
                let mut d = [0u8; 32];
                for (i, b) in d.iter_mut().enumerate() {
                    *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
                }
                d
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let (verifier, policy) = verifier();
    if let Ok(bundle) = Bundle::from_json(data) {
        let _ = bundle.signature_bytes();
        let _ = bundle.key_material.leaf();
        let _ = verifier.verify(&bundle, Artifact::Sha256([0; 32]), policy);
        for d in digests() {
            let _ = verifier.verify(&bundle, Artifact::Sha256(*d), policy);
        }
    }
});
