//! The witness's request decoders (add-checkpoint body, 409 size body, cosignature lines):
//! never panic; a parsed add-checkpoint request re-encodes to an equivalent request.
#![no_main]

use chainseal_tlog::witness_protocol::{AddCheckpointRequest, parse_cosignature_lines, parse_size_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_size_body(data);
    let _ = parse_cosignature_lines(data);
    if let Ok(req) = AddCheckpointRequest::parse(data) {
        let again = AddCheckpointRequest::parse(&req.encode().expect("a parsed request encodes")).expect("re-encoded request parses");
        assert_eq!(again.old_size, req.old_size);
        assert_eq!(again.proof, req.proof);
    }
});
