//! DSSE envelopes (JSON), PAE, and in-toto statements.
#![no_main]

use chainseal_model::dsse::Envelope;
use chainseal_model::statement::Statement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::from_json(data) {
        let _ = env.pae();
        // Our own serialisation must parse back to the same PAE.
        let again = Envelope::from_json(&env.to_json()).expect("re-encoded envelope must parse");
        assert_eq!(again.pae(), env.pae());
        let _ = Statement::from_json(&env.payload);
    }
    if let Ok(st) = Statement::from_json(data) {
        let _ = st.has_subject_sha256("0000000000000000000000000000000000000000000000000000000000000000");
    }
});
