//! Rekor entry bodies, for every supported (kind, apiVersion), plus unsupported kinds
//! (which must be errors). A body only decodes under its own kind, so each input is tried
//! under all of them.
#![no_main]

use chainseal_model::rekor::EntryBody;
use libfuzzer_sys::fuzz_target;

const KINDS: [(&str, &str); 5] = [
    ("hashedrekord", "0.0.1"),
    ("dsse", "0.0.1"),
    ("intoto", "0.0.2"),
    ("hashedrekord", "0.0.2"),
    ("dsse", "0.0.2"),
];

fuzz_target!(|data: &[u8]| {
    // Every kind on the whole input (a body only parses under its own kind) ...
    for (kind, version) in KINDS {
        let _ = EntryBody::parse(kind, version, data);
    }
    // ... and unsupported kinds must be an error, not a panic.
    let _ = EntryBody::parse("rekord", "0.0.1", data);
    let _ = EntryBody::parse("", "", data);
});
