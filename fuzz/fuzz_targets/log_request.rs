//! The log server's write-path decoder: any body POSTed to /api/v2/log/entries must be
//! accepted or rejected with an error, never panic; an accepted request's canonical body
//! must be valid JSON that the verifier's Rekor v2 body parser reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(prepared) = chainseal_log_server::entry::prepare(data) {
        let body = &prepared.body;
        chainseal_model::rekor::EntryBody::parse(prepared.kind, "0.0.2", body)
            .expect("the verifier reads back every body the log accepts");
    }
});
