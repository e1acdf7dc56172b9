//! Pipeline files (YAML): parsing never panics, and every pipeline that validates yields
//! an in-toto layout that in-toto's own parser accepts (the gate relies on it).
#![no_main]

use std::sync::OnceLock;

use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_factory::Pipeline;
use chainseal_factory::layout::layout_for;
use chainseal_intoto::{Key, Layout};
use libfuzzer_sys::fuzz_target;

fn key() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(|| {
        let k = PrivateKey::generate(KeyKind::Ed25519).expect("key");
        Key::from_public(k.public_key()).expect("in-toto key")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Pipeline::from_yaml(text, "fuzz.yaml") {
        let expires = time::OffsetDateTime::from_unix_timestamp(4_000_000_000).expect("time");
        let v = layout_for(&p, std::slice::from_ref(key()), expires);
        Layout::from_value(&v, "generated layout")
            .expect("a validated pipeline must yield a valid in-toto layout");
        for s in &p.steps {
            let _ = s.argv();
            for pin in &s.pins {
                let _ = pin.file_name();
            }
        }
    }
});
