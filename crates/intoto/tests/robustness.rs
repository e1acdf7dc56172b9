//! Untrusted input never panics: metadata, keys, rules and patterns.

use chainseal_intoto::rules::{Rule, fnmatch};
use chainseal_intoto::{Key, Layout, Link, Metadata};
use proptest::prelude::*;

proptest! {
    #[test]
    fn parsing_arbitrary_bytes_as_metadata_or_key_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Metadata::from_json(&bytes, "fuzz");
        let _ = Key::from_bytes(&bytes, "fuzz");
    }

    #[test]
    fn parsing_arbitrary_json_as_layout_or_link_never_panics(s in "\\PC{0,200}") {
        let wrapped = format!(r#"{{"_type":"layout","expires":"2030-01-01T00:00:00Z","steps":[{s}]}}"#);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&wrapped) {
            let _ = Layout::from_value(&v, "fuzz");
            let _ = Link::from_value(&v, "fuzz");
        }
    }

    #[test]
    fn fnmatch_and_rule_parsing_never_panic(name in "\\PC{0,40}", pat in "[a-z*?\\[\\]!\\-/.]{0,20}",
                                            rule in proptest::collection::vec("\\PC{0,10}", 0..12)) {
        let _ = fnmatch(&name, &pat);
        let _ = Rule::parse(&rule);
        prop_assert!(fnmatch(&name, "*"));
    }

    #[test]
    fn metablock_signature_fails_after_any_payload_change(seed in any::<u64>(), field in "[a-z]{1,8}", val in "\\PC{0,16}") {
        use chainseal_crypto::keys::{KeyKind, PrivateKey};
        let _ = seed;
        let sk = chainseal_intoto::SigningKey::from_private(PrivateKey::generate(KeyKind::Ed25519).unwrap()).unwrap();
        let payload = serde_json::json!({"_type": "link", "name": "s", "environment": {"k": "v"}});
        let mut md = Metadata::new(payload.clone(), chainseal_intoto::Format::Metablock).unwrap();
        md.sign(&sk).unwrap();
        let mut bytes: serde_json::Value = serde_json::from_slice(&md.to_json()).unwrap();
        bytes["signed"]["environment"][field.as_str()] = serde_json::json!(val);
        let changed = Metadata::from_json(&serde_json::to_vec(&bytes).unwrap(), "t").unwrap();
        if changed.payload() != &payload {
            prop_assert!(changed.verify(sk.public()).is_err());
        }
    }
}
