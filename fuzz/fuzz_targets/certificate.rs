//! X.509 certificates (DER and PEM) and RFC 3161 timestamp tokens.
#![no_main]

use chainseal_crypto::rfc3161::TimestampToken;
use chainseal_crypto::x509::Certificate;
use libfuzzer_sys::fuzz_target;

fn exercise(cert: &Certificate) {
    for san in cert.subject_alt_names() {
        let _ = san.value();
    }
    if let Ok(ext) = cert.fulcio_identity() {
        let _ = ext.issuer();
    }
    let _ = cert.public_key();
    let _ = cert.spki_der();
    let _ = cert.not_before_unix();
    let _ = cert.not_after_unix();
    let _ = cert.subject_string();
    let _ = cert.issuer_string();
    let _ = cert.subject_key_id();
    let _ = cert.authority_key_id();
    let _ = cert.is_ca();
    let _ = cert.extended_key_usage();
    let _ = cert.is_self_signed();
    let _ = chainseal_crypto::sct::embedded_scts(cert);
    let _ = chainseal_crypto::sct::precert_tbs(cert);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_der(data) {
        exercise(&cert);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cert) = Certificate::from_pem(text) {
            exercise(&cert);
        }
        if let Ok(chain) = Certificate::pem_chain(text) {
            for c in &chain {
                exercise(c);
            }
        }
    }
    if let Ok(tok) = TimestampToken::from_der(data) {
        let _ = tok.gen_time_unix();
        let _ = tok.gen_time_nanos();
        let _ = tok.accuracy_micros();
        let _ = tok.message_imprint();
        let _ = tok.policy();
        let _ = tok.nonce();
        let _ = tok.serial_number();
        for c in tok.embedded_certificates() {
            exercise(c);
        }
    }
});
