//! The add-checkpoint decision procedure against a third-party log (Tessera's testdata):
//! what the witness must cosign, and what it must refuse, with the protocol's statuses.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use chainseal_tlog::keys::{CosignatureV1Verifier, Ed25519Signer};
use chainseal_tlog::merkle::{MemoryTree, consistency_proof, leaf_hash};
use chainseal_tlog::{Checkpoint, Note, NoteVerifier};
use chainseal_witness::{Error, Witness, WitnessConfig};
use common::*;

fn status(r: Result<Vec<u8>, Error>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.http_status(),
    }
}

/// Checks the cosignature line against the witness vkey over `checkpoint`'s text and
/// returns its timestamp.
fn verify_cosig(w: &Witness, checkpoint: &[u8], line: &[u8]) -> u64 {
    let v = CosignatureV1Verifier::from_vkey(w.vkey()).unwrap();
    let mut cosigned = checkpoint.to_vec();
    cosigned.extend_from_slice(line);
    let note = Note::parse(&cosigned).unwrap();
    let verified = note.verify(&[&v as &dyn NoteVerifier]).unwrap();
    assert_eq!(verified.len(), 1);
    verified[0].timestamp.unwrap()
}

#[test]
fn accepts_a_valid_first_checkpoint_with_old_zero() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    let line = w.add_checkpoint(&body(0, vec![], checkpoint(8))).unwrap();
    assert!(line.starts_with("\u{2014} witness.test/w1 ".as_bytes()));
    assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(w.cosigned_size("example.com/log/testdata"), 8);
}

#[test]
fn accepts_a_consistent_extension_with_a_correct_proof() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    w.add_checkpoint(&body(0, vec![], checkpoint(5))).unwrap();
    for (old, new) in [(5, 8), (8, 12), (12, 15)] {
        let line = w
            .add_checkpoint(&body(old, proof(old, new), checkpoint(new)))
            .unwrap_or_else(|e| panic!("{old}->{new}: {e}"));
        verify_cosig(&w, &checkpoint(new), &line);
    }
    assert_eq!(w.cosigned_size("example.com/log/testdata"), 15);
}

#[test]
fn recosigns_the_same_checkpoint_with_an_empty_proof() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    w.add_checkpoint(&body(0, vec![], checkpoint(8))).unwrap();
    assert_eq!(
        status(w.add_checkpoint(&body(8, vec![], checkpoint(8)))),
        200
    );
}

#[test]
fn cosignatures_verify_with_cosignature_v1_verifier_and_carry_the_current_time() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let line = w.add_checkpoint(&body(0, vec![], checkpoint(15))).unwrap();
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ts = verify_cosig(&w, &checkpoint(15), &line);
    assert!(before <= ts && ts <= after, "{before} <= {ts} <= {after}");

    // The same line does not verify over another checkpoint's text.
    let v = CosignatureV1Verifier::from_vkey(w.vkey()).unwrap();
    let mut other = checkpoint(12);
    other.extend_from_slice(&line);
    assert!(
        Note::parse(&other)
            .unwrap()
            .verify(&[&v as &dyn NoteVerifier])
            .is_err()
    );
}

#[test]
fn refuses_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    w.add_checkpoint(&body(0, vec![], checkpoint(15))).unwrap();
    // An older checkpoint, claiming the old size the witness holds: old > new → 400.
    assert_eq!(
        status(w.add_checkpoint(&body(15, vec![], checkpoint(12)))),
        400
    );
    // Claiming its own size as old: not what the witness cosigned → 409 with the size.
    match w.add_checkpoint(&body(12, vec![], checkpoint(12))) {
        Err(Error::Conflict { stored, old, .. }) => assert_eq!((stored, old), (15, 12)),
        other => panic!("expected 409, got {other:?}"),
    }
    // Bootstrapping again with old 0 cannot reset the record either.
    match w.add_checkpoint(&body(0, vec![], checkpoint(8))) {
        Err(e @ Error::Conflict { stored: 15, .. }) => assert_eq!(e.http_status(), 409),
        other => panic!("expected 409, got {other:?}"),
    }
    assert_eq!(w.cosigned_size("example.com/log/testdata"), 15);
}

#[test]
fn refuses_split_view() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    w.add_checkpoint(&body(0, vec![], checkpoint(12))).unwrap();

    // Same size, different root (validly signed by the log): 422.
    let mut other_root = root(12);
    other_root[0] ^= 1;
    assert_eq!(
        status(w.add_checkpoint(&body(12, vec![], forged(12, other_root)))),
        422
    );

    // A different tree at a larger size with a bogus proof: 422.
    let bogus = vec![[7u8; 32]; proof(12, 15).len()];
    assert_eq!(
        status(w.add_checkpoint(&body(12, bogus, forged(15, [9u8; 32])))),
        422
    );

    // A forked tree (entry 3 replaced) with a proof that is correct *for the fork*: its
    // size-12 prefix is not the tree the witness cosigned, so still 422.
    let mut entries = tessera_entries();
    entries[3] = "forked".into();
    let fork = MemoryTree::from_leaf_hashes(entries.iter().map(|e| leaf_hash(e.as_bytes())));
    let fork_proof = consistency_proof(12, 15, &fork).unwrap();
    assert_eq!(
        status(w.add_checkpoint(&body(12, fork_proof, forged(15, fork.root())))),
        422
    );

    // The honest extension still works afterwards.
    assert_eq!(
        status(w.add_checkpoint(&body(12, proof(12, 15), checkpoint(15)))),
        200
    );
}

#[test]
fn refuses_a_wrong_proof_for_the_honest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    w.add_checkpoint(&body(0, vec![], checkpoint(8))).unwrap();
    let mut p = proof(8, 15);
    p[0][5] ^= 0x80;
    assert_eq!(status(w.add_checkpoint(&body(8, p, checkpoint(15)))), 422);
    let short = proof(8, 15)[1..].to_vec();
    assert_eq!(
        status(w.add_checkpoint(&body(8, short, checkpoint(15)))),
        422
    );
    assert_eq!(w.cosigned_size("example.com/log/testdata"), 8);
}

#[test]
fn refuses_a_non_empty_proof_with_old_zero_and_the_empty_tree() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    assert_eq!(
        status(w.add_checkpoint(&body(0, proof(8, 15), checkpoint(15)))),
        422
    );
    assert_eq!(
        status(w.add_checkpoint(&body(0, vec![], checkpoint(0)))),
        422
    );
    assert_eq!(w.cosigned_size("example.com/log/testdata"), 0);
}

#[test]
fn rejects_checkpoint_not_signed_by_known_log() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    // Same origin, signed by another key: no trusted signature → 403.
    let impostor = Ed25519Signer::generate("example.com/log/testdata").unwrap();
    let cp = Checkpoint::parse(Note::parse(&checkpoint(8)).unwrap().text()).unwrap();
    let mut n = Note::new(cp.to_text()).unwrap();
    n.sign(&impostor).unwrap();
    assert_eq!(
        status(w.add_checkpoint(&body(0, vec![], n.to_bytes()))),
        403
    );

    // The trusted key's signature line, corrupted: a known key that fails → 403.
    let mut bad = checkpoint(8);
    let pos = bad.len() - 10;
    bad[pos] = if bad[pos] == b'A' { b'B' } else { b'A' };
    assert_eq!(status(w.add_checkpoint(&body(0, vec![], bad))), 403);

    // The real signature over a changed size: 403.
    let text = String::from_utf8(checkpoint(8))
        .unwrap()
        .replacen("\n8\n", "\n9\n", 1);
    assert_eq!(
        status(w.add_checkpoint(&body(0, vec![], text.into_bytes()))),
        403
    );
    assert_eq!(w.cosigned_size("example.com/log/testdata"), 0);
}

#[test]
fn rejects_unknown_origin_with_404_and_malformed_bodies_with_400() {
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    let other = Ed25519Signer::generate("example.com/other").unwrap();
    let mut n = Note::new(format!("example.com/other\n1\n{}\n", "A".repeat(43) + "=")).unwrap();
    n.sign(&other).unwrap();
    assert_eq!(
        status(w.add_checkpoint(&body(0, vec![], n.to_bytes()))),
        404
    );
    for bad in [
        &b""[..],
        b"old 0\n\n",
        b"old 0\n\nnot a note\n",
        b"old x\n\n",
        b"old 0\n\nfoo\n\n\xe2\x80\x94 k AAAAAAE=\n",
    ] {
        assert_eq!(status(w.add_checkpoint(bad)), 400, "{bad:?}");
    }
}

#[test]
fn state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let vkey = {
        let w = witness(dir.path());
        w.add_checkpoint(&body(0, vec![], checkpoint(8))).unwrap();
        w.vkey().to_owned()
    };
    let w = witness(dir.path());
    assert_eq!(w.vkey(), vkey, "the key is kept");
    match w.add_checkpoint(&body(0, vec![], checkpoint(5))) {
        Err(Error::Conflict { stored: 8, .. }) => {}
        other => panic!("expected 409 after restart, got {other:?}"),
    }
    let line = w
        .add_checkpoint(&body(8, proof(8, 15), checkpoint(15)))
        .unwrap();
    verify_cosig(&w, &checkpoint(15), &line);
}

#[test]
fn corrupt_record_refuses_to_start_instead_of_forgetting() {
    let dir = tempfile::tempdir().unwrap();
    {
        let w = witness(dir.path());
        w.add_checkpoint(&body(0, vec![], checkpoint(8))).unwrap();
    }
    let logs = dir.path().join("logs");
    let rec = std::fs::read_dir(&logs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&rec, b"garbage").unwrap();
    let r = Witness::open(&WitnessConfig {
        state_dir: dir.path().to_owned(),
        name: Some("witness.test/w1".into()),
        key_file: None,
        logs: vec![tessera_vkey()],
    });
    assert!(matches!(r, Err(Error::CorruptState { .. })), "{r:?}");
}

#[cfg(unix)]
#[test]
fn generated_key_is_private_and_named() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    let mode = std::fs::metadata(dir.path().join("witness.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(w.vkey().starts_with("witness.test/w1+"));
    assert_eq!(
        chainseal_witness::read_vkey(dir.path(), None).unwrap(),
        w.vkey()
    );
    // A different --name for the existing key is refused.
    let r = Witness::open(&WitnessConfig {
        state_dir: dir.path().to_owned(),
        name: Some("witness.test/other".into()),
        key_file: None,
        logs: vec![tessera_vkey()],
    });
    assert!(matches!(r, Err(Error::Key { .. })));
}

#[test]
fn concurrent_submissions_never_roll_back() {
    // Two requests from the same old size race: exactly one wins, the other gets 409,
    // and the record is the winner's (check-and-persist is atomic).
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let w = std::sync::Arc::new(witness(dir.path()));
        w.add_checkpoint(&body(0, vec![], checkpoint(5))).unwrap();
        let reqs = [
            (12u64, body(5, proof(5, 12), checkpoint(12))),
            (15, body(5, proof(5, 15), checkpoint(15))),
        ];
        let handles: Vec<_> = reqs
            .into_iter()
            .map(|(size, b)| {
                let w = w.clone();
                std::thread::spawn(move || (size, status(w.add_checkpoint(&b))))
            })
            .collect();
        let results: Vec<(u64, u16)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<u64> = results.iter().filter(|r| r.1 == 200).map(|r| r.0).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert!(results.iter().any(|r| r.1 == 409), "{results:?}");
        assert_eq!(w.cosigned_size("example.com/log/testdata"), winners[0]);
    }
}

#[test]
fn never_panics_on_mutated_requests() {
    // Deterministic mutations (xorshift) of valid bodies: flipped bytes, truncations,
    // duplicated lines. Every answer is a protocol status, never a panic or a 500.
    let dir = tempfile::tempdir().unwrap();
    let w = witness(dir.path());
    w.add_checkpoint(&body(0, vec![], checkpoint(8))).unwrap();
    let seeds = [
        body(8, proof(8, 15), checkpoint(15)),
        body(0, vec![], checkpoint(12)),
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..3000 {
        let mut b = seeds[i % 2].clone();
        match next() % 4 {
            0 => {
                let n = b.len();
                b[(next() as usize) % n] ^= 1 << (next() % 8);
            }
            1 => b.truncate((next() as usize) % b.len()),
            2 => {
                let at = (next() as usize) % b.len();
                b.insert(at, b"\n\xe2\x80\x94 0"[(next() % 6) as usize]);
            }
            _ => {
                let (a, c) = ((next() as usize) % b.len(), (next() as usize) % b.len());
                b.swap(a, c);
            }
        }
        let s = status(w.add_checkpoint(&b));
        assert!(
            [200, 400, 403, 404, 409, 422].contains(&s),
            "status {s} for {b:?}"
        );
    }
    // Whatever was accepted, the record only ever moved forward to a signed size.
    assert!(w.cosigned_size("example.com/log/testdata") >= 8);
}
