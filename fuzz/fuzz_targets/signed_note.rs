//! C2SP signed notes and checkpoints: parse, re-encode, parse the body as a checkpoint,
//! and verify with a fixed Ed25519 key (the Tessera testdata log key, so seeds verify).
#![no_main]

use std::sync::OnceLock;

use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::Ed25519Verifier;
use chainseal_tlog::note::Note;
use chainseal_tlog::NoteVerifier;
use libfuzzer_sys::fuzz_target;

const TESSERA_VKEY: &str = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";

fn verifier() -> &'static Ed25519Verifier {
    static V: OnceLock<Ed25519Verifier> = OnceLock::new();
    V.get_or_init(|| Ed25519Verifier::from_vkey(TESSERA_VKEY).expect("valid vkey"))
}

fuzz_target!(|data: &[u8]| {
    let v = verifier();
    let verifiers: [&dyn NoteVerifier; 1] = [v];
    if let Ok(note) = Note::parse(data) {
        // A parsed note re-encodes and re-parses to the same note.
        let bytes = note.to_bytes();
        let again = Note::parse(&bytes).expect("re-encoded note must parse");
        assert_eq!(again.text(), note.text());
        assert_eq!(again.signatures().len(), note.signatures().len());

        if let Ok(cp) = Checkpoint::parse(note.text()) {
            let _ = cp.to_text();
        }
        let _ = note.verify(&verifiers);
        let _ = Checkpoint::open(data, "example.com/log/testdata", &verifiers);
    }
    // The checkpoint parser on its own, on any UTF-8.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Checkpoint::parse(text);
    }
    // The vkey parser too.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Ed25519Verifier::from_vkey(text);
        let _ = chainseal_tlog::keys::parse_vkey(text);
    }
});
