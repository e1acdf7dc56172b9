//! Signed-note vectors: Go sumdb note tests, the C2SP example, real sum.golang.org tree
//! heads, and signing round trips.

mod common;

use chainseal_tlog::Error;
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::keys::{
    CosignatureV1Verifier, Ed25519Signer, Ed25519Verifier, VerifierKey, parse_vkey,
};
use chainseal_tlog::note::{Note, NoteSignature, NoteVerifier, open};
use common::*;
use serde_json::Value;

fn vectors_json() -> Value {
    json("signed-note/vectors.json")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn go_note_signed_by_known_key_verifies() {
    let v = vectors_json();
    let g = &v["go_sumdb_note_tests"];
    let peter = Ed25519Verifier::from_vkey(s(&g["vkey_peter"])).unwrap();
    let (note, verified) = open(s(&g["signed_by_peter"]).as_bytes(), &[&peter]).unwrap();
    assert_eq!(note.text(), s(&g["text"]));
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].name, "PeterNeumann");
    assert_eq!(verified[0].key_id, 0xc74f20a3);
}

#[test]
fn rejects_note_with_bad_signature_from_known_key() {
    let v = vectors_json();
    let g = &v["go_sumdb_note_tests"];
    let peter = Ed25519Verifier::from_vkey(s(&g["vkey_peter"])).unwrap();
    let note = Note::parse(s(&g["signed_by_peter"]).as_bytes()).unwrap();
    // flip one bit of the signature bytes
    let mut sig = note.signatures()[0].clone();
    sig.signature[10] ^= 0x01;
    let mut bad = Note::new(note.text()).unwrap();
    bad.add_signature(sig).unwrap();
    let e = bad.verify(&[&peter]).unwrap_err();
    assert!(matches!(e, Error::NoteBadSignature { .. }), "{e}");
    // a changed text with the original signature
    let mut changed = Note::new(note.text().replace("cryptography", "Cryptography")).unwrap();
    changed.add_signature(note.signatures()[0].clone()).unwrap();
    assert!(changed.verify(&[&peter]).is_err());
    // re-serialised and parsed, the tampered note is still rejected
    assert!(open(&bad.to_bytes(), &[&peter]).is_err());
}

#[test]
fn rejects_note_when_a_second_signature_from_a_known_key_is_bad() {
    // One good and one bad signature by the same known key: the bad one must reject the note.
    let v = vectors_json();
    let g = &v["go_sumdb_note_tests"];
    let peter = Ed25519Verifier::from_vkey(s(&g["vkey_peter"])).unwrap();
    let note = Note::parse(s(&g["signed_by_peter"]).as_bytes()).unwrap();
    let mut two = note.clone();
    let mut bad = note.signatures()[0].clone();
    bad.signature[0] ^= 0x80;
    two.add_signature(bad).unwrap();
    assert!(two.verify(&[&peter]).is_err());
}

#[test]
fn ignores_unknown_signature_lines_and_reports_which_keys_verified() {
    let v = vectors_json();
    let g = &v["go_sumdb_note_tests"];
    let peter = Ed25519Verifier::from_vkey(s(&g["vkey_peter"])).unwrap();
    let enoch = Ed25519Verifier::from_vkey(s(&g["vkey_enoch"])).unwrap();
    let both = format!("{}{}", s(&g["signed_by_peter"]), s(&g["enoch_sig_line"]));
    // only Peter known: Enoch's line is ignored
    let (_, verified) = open(both.as_bytes(), &[&peter]).unwrap();
    assert_eq!(verified.len(), 1);
    // both known: both verified, reported by verifier index
    let (_, verified) = open(both.as_bytes(), &[&enoch, &peter]).unwrap();
    let mut idx: Vec<usize> = verified.iter().map(|v| v.verifier).collect();
    idx.sort();
    assert_eq!(idx, vec![0, 1]);
    // only Enoch known
    let (_, verified) = open(both.as_bytes(), &[&enoch]).unwrap();
    assert_eq!(verified[0].name, "EnochRoot");
    // an unknown line with garbage signature bytes is ignored too
    let junk = format!("{both}\u{2014} Someone AAAAAAECAwQ=\n");
    assert!(open(junk.as_bytes(), &[&peter]).is_ok());
}

#[test]
fn rejects_note_with_no_signature_from_a_known_key() {
    let v = vectors_json();
    let g = &v["go_sumdb_note_tests"];
    let enoch = Ed25519Verifier::from_vkey(s(&g["vkey_enoch"])).unwrap();
    let e = open(s(&g["signed_by_peter"]).as_bytes(), &[&enoch]).unwrap_err();
    assert_eq!(e, Error::NoteNoVerifiedSignature);
    assert!(open(s(&g["signed_by_peter"]).as_bytes(), &[]).is_err());
}

#[test]
fn ignores_signature_whose_key_id_matches_but_name_differs() {
    let v = vectors_json();
    let g = &v["go_sumdb_note_tests"];
    let peter = Ed25519Verifier::from_vkey(s(&g["vkey_peter"])).unwrap();
    let note = Note::parse(s(&g["signed_by_peter"]).as_bytes()).unwrap();
    let mut sig = note.signatures()[0].clone();
    sig.name = "PaulNeumann".into();
    let mut renamed = Note::new(note.text()).unwrap();
    renamed.add_signature(sig).unwrap();
    assert_eq!(
        renamed.verify(&[&peter]).unwrap_err(),
        Error::NoteNoVerifiedSignature
    );
}

#[test]
fn go_private_key_signs_the_expected_note() {
    let v = vectors_json();
    let g = &v["go_sumdb_note_tests"];
    let signer = Ed25519Signer::from_private_key(s(&g["skey_peter"])).unwrap();
    assert_eq!(signer.to_vkey(), s(&g["vkey_peter"]));
    assert_eq!(signer.to_private_key(), s(&g["skey_peter"]));
    let mut note = Note::new(s(&g["text"])).unwrap();
    note.sign(&signer).unwrap();
    // Ed25519 is deterministic: byte-identical to the Go-signed note
    assert_eq!(
        String::from_utf8(note.to_bytes()).unwrap(),
        s(&g["signed_by_peter"])
    );
}

#[test]
fn rejects_vkeys_that_go_rejects() {
    let v = vectors_json();
    for bad in v["go_sumdb_note_tests"]["bad_vkeys_must_reject"]
        .as_array()
        .unwrap()
    {
        assert!(parse_vkey(s(bad)).is_err(), "{bad}");
        assert!(Ed25519Verifier::from_vkey(s(bad)).is_err(), "{bad}");
    }
}

#[test]
fn rejects_vkey_with_wrong_key_id_name_or_encoding() {
    let good = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    assert!(parse_vkey(good).is_ok());
    for bad in [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumanN+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "",
    ] {
        assert!(parse_vkey(bad).is_err(), "{bad}");
    }
}

#[test]
fn rejects_malformed_notes_go_rejects() {
    let v = vectors_json();
    let g = &v["go_sumdb_note_tests"];
    let peter = Ed25519Verifier::from_vkey(s(&g["vkey_peter"])).unwrap();
    let signed = s(&g["signed_by_peter"]);
    let line = signed.rsplit_once("\n\n").unwrap().1;
    let text = s(&g["text"]);
    // more than 100 signatures
    let many = format!("{text}\n{}", line.repeat(101));
    assert!(Note::parse(many.as_bytes()).is_err());
    // 100 is fine (and at least 16 must be accepted)
    let hundred = format!("{text}\n{}", line.repeat(100));
    assert!(open(hundred.as_bytes(), &[&peter]).is_ok());
    // no blank line before signatures
    assert!(Note::parse(text.as_bytes()).is_err());
    // control byte and invalid UTF-8 at the start
    assert!(Note::parse(format!("\x01{signed}").as_bytes()).is_err());
    let mut ff = vec![0xffu8];
    ff.extend_from_slice(signed.as_bytes());
    assert!(Note::parse(&ff).is_err());
    // key name containing a space
    let spaced = signed.replace("PeterNeumann", "Peter Neumann");
    assert!(Note::parse(spaced.as_bytes()).is_err());
    // trailing non-signature line
    assert!(Note::parse(format!("{signed}not a signature\n").as_bytes()).is_err());
    // signature line with an ASCII hyphen instead of U+2014
    assert!(Note::parse(signed.replace('\u{2014}', "-").as_bytes()).is_err());
}

#[test]
fn c2sp_signed_note_example_verifies() {
    let v = vectors_json();
    let c = &v["c2sp_signed_note_example"];
    let k = parse_vkey(s(&c["vkey"])).unwrap();
    let (note, verified) = open(s(&c["note"]).as_bytes(), &[k.as_ref()]).unwrap();
    assert_eq!(note.text(), "This is an example message.\n");
    assert_eq!(verified.len(), 1);
    let flipped = s(&c["note"]).replace("example message", "example massage");
    assert!(open(flipped.as_bytes(), &[k.as_ref()]).is_err());
}

#[test]
fn all_sum_golang_org_checkpoints_verify_with_the_sum_golang_org_key() {
    let v = json("signed-note/sum.golang.org-real-checkpoints.json");
    let vkey = s(&vectors_json()["sum_golang_org_vkey"]["vkey"]).to_owned();
    assert_eq!(vkey, s(&v["vkey"]));
    let k = Ed25519Verifier::from_vkey(&vkey).unwrap();
    let cps = v["checkpoints"].as_array().unwrap();
    assert_eq!(cps.len(), 8);
    for (i, cp) in cps.iter().enumerate() {
        let (c, _, verified) = Checkpoint::open(s(cp).as_bytes(), "go.sum database tree", &[&k])
            .unwrap_or_else(|e| panic!("checkpoint {i}: {e}"));
        assert_eq!(verified.len(), 1, "checkpoint {i}");
        assert!(c.size > 0);
    }
}

#[test]
fn rejects_sum_golang_org_checkpoint_with_wrong_root_or_size() {
    let v = json("signed-note/sum.golang.org-real-checkpoints.json");
    let k = Ed25519Verifier::from_vkey(s(&v["vkey"])).unwrap();
    let cp = s(&v["checkpoints"][0]);
    let note = Note::parse(cp.as_bytes()).unwrap();
    let mut c = Checkpoint::parse(note.text()).unwrap();
    c.root_hash[0] ^= 1;
    let mut forged = Note::new(c.to_text()).unwrap();
    forged.add_signature(note.signatures()[0].clone()).unwrap();
    assert!(matches!(
        forged.verify(&[&k]).unwrap_err(),
        Error::NoteBadSignature { .. }
    ));
    let mut c = Checkpoint::parse(note.text()).unwrap();
    c.size += 1;
    let mut forged = Note::new(c.to_text()).unwrap();
    forged.add_signature(note.signatures()[0].clone()).unwrap();
    assert!(forged.verify(&[&k]).is_err());
    // wrong origin expectation
    assert!(Checkpoint::open(cp.as_bytes(), "sum.golang.org", &[&k]).is_err());
}

#[test]
fn generated_ed25519_and_cosignature_keys_round_trip_and_verify() {
    let log = Ed25519Signer::generate("example.com/log").unwrap();
    let lv = Ed25519Verifier::from_vkey(&log.to_vkey()).unwrap();
    let again = Ed25519Signer::from_private_key(&log.to_private_key()).unwrap();
    assert_eq!(again.to_vkey(), log.to_vkey());

    let mut w = Ed25519Signer::generate_cosigner("witness.example").unwrap();
    w.set_timestamp(1_700_000_000).unwrap();
    let wv = CosignatureV1Verifier::from_vkey(&w.to_vkey()).unwrap();
    assert!(VerifierKey::parse(&w.to_vkey()).unwrap().key_type == 0x04);

    let cp = Checkpoint {
        origin: "example.com/log".into(),
        size: 3,
        root_hash: [7u8; 32],
        extensions: vec![],
    };
    let mut note = Note::new(cp.to_text()).unwrap();
    note.sign(&log).unwrap();
    note.sign(&w).unwrap();
    let bytes = note.to_bytes();
    let (_, verified) = open(&bytes, &[&lv, &wv]).unwrap();
    assert_eq!(verified.len(), 2);
    let cos = verified
        .iter()
        .find(|v| v.name == "witness.example")
        .unwrap();
    assert_eq!(cos.timestamp, Some(1_700_000_000));

    // a cosignature whose timestamp is changed no longer verifies
    let parsed = Note::parse(&bytes).unwrap();
    let mut sigs: Vec<NoteSignature> = parsed.signatures().to_vec();
    sigs[1].signature[7] ^= 1;
    let mut tampered = Note::new(parsed.text()).unwrap();
    for s in sigs {
        tampered.add_signature(s).unwrap();
    }
    assert!(tampered.verify(&[&lv, &wv]).is_err());
    // the log key does not verify as a cosigner and vice versa (different key IDs)
    assert_ne!(lv.key_id(), wv.key_id());
}
