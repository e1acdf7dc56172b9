//! C2SP tlog-witness wire codecs (c2sp.org/tlog-witness): the `add-checkpoint` request
//! body, the `409 Conflict` size body, and the cosignature lines of a `200` response.
//!
//! ```text
//! old <size>\n
//! <base64 consistency proof hash>\n     (0..=63 lines)
//! \n
//! <signed checkpoint note>
//! ```
//!
//! Used by both sides: a witness parses requests with [`AddCheckpointRequest::parse`], a
//! log (or any client) builds them with [`AddCheckpointRequest::encode`]. Pure: no I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::parse_decimal;
use crate::error::{Error, Result};
use crate::merkle::Hash;
use crate::note::{NoteSignature, SIG_PREFIX};

/// Most consistency proof lines a request may carry (the spec's client limit).
pub const MAX_PROOF_LINES: usize = 63;

/// Content type of the `409 Conflict` response body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

fn malformed(reason: impl std::fmt::Display) -> Error {
    Error::note(format!("add-checkpoint request: {reason}"))
}

/// An `add-checkpoint` request: the size the client believes the witness last cosigned,
/// a consistency proof from that size to the checkpoint's, and the signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    /// The tree size of the previous checkpoint (`0` for a first submission).
    pub old_size: u64,
    /// The consistency proof hashes from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim (not parsed or verified here).
    pub checkpoint: Vec<u8>,
}

impl AddCheckpointRequest {
    /// Parses a request body. Checks the framing only: `old <decimal>` with no leading
    /// zeros, at most [`MAX_PROOF_LINES`] proof lines of exactly one base64 32-byte hash
    /// each, an empty line, and a non-empty remainder (the checkpoint, returned verbatim).
    pub fn parse(body: &[u8]) -> Result<Self> {
        let (first, mut rest) = split_line(body).ok_or_else(|| malformed("no old size line"))?;
        let size = first
            .strip_prefix(b"old ")
            .ok_or_else(|| malformed("first line must be \"old <size>\""))?;
        let size = std::str::from_utf8(size).map_err(|_| malformed("old size is not ASCII"))?;
        let old_size = parse_decimal(size).ok_or_else(|| {
            malformed(format!(
                "old size {:?} is not a decimal without leading zeros",
                truncate(size)
            ))
        })?;
        let mut proof = Vec::new();
        loop {
            let (line, tail) = split_line(rest)
                .ok_or_else(|| malformed("missing the empty line before the checkpoint"))?;
            rest = tail;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(malformed(format!(
                    "more than {MAX_PROOF_LINES} consistency proof lines"
                )));
            }
            let raw = STANDARD
                .decode(line)
                .map_err(|e| malformed(format!("proof line {}: bad base64: {e}", proof.len())))?;
            let hash = Hash::try_from(raw.as_slice()).map_err(|_| {
                malformed(format!(
                    "proof line {}: hash must be 32 bytes, got {}",
                    proof.len(),
                    raw.len()
                ))
            })?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(malformed("no checkpoint after the empty line"));
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: rest.to_vec(),
        })
    }

    /// Encodes the request body. Fails if the proof has more than [`MAX_PROOF_LINES`]
    /// hashes or the checkpoint is empty.
    pub fn encode(&self) -> Result<Vec<u8>> {
        if self.proof.len() > MAX_PROOF_LINES {
            return Err(malformed(format!(
                "{} proof hashes exceed the limit of {MAX_PROOF_LINES}",
                self.proof.len()
            )));
        }
        if self.checkpoint.is_empty() {
            return Err(malformed("empty checkpoint"));
        }
        let mut out = format!("old {}\n", self.old_size).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(STANDARD.encode(h).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        Ok(out)
    }
}

fn split_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == b'\n')?;
    Some((&b[..i], &b[i + 1..]))
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Encodes a `409 Conflict` body: the witness's latest cosigned size, then `\n`.
pub fn encode_size_body(size: u64) -> Vec<u8> {
    format!("{size}\n").into_bytes()
}

/// Parses a `409 Conflict` body (`<decimal>\n`).
pub fn parse_size_body(body: &[u8]) -> Result<u64> {
    let s = body
        .strip_suffix(b"\n")
        .ok_or_else(|| Error::note("tlog size body: missing trailing newline"))?;
    std::str::from_utf8(s)
        .ok()
        .and_then(parse_decimal)
        .ok_or_else(|| Error::note("tlog size body: not a decimal size"))
}

/// Parses the body of a `200` response: one or more note signature lines
/// (`— <name> <base64>\n`). The caller checks them against trusted witness keys, e.g. by
/// adding them to the checkpoint [`crate::Note`] and calling [`crate::Note::verify`].
pub fn parse_cosignature_lines(body: &[u8]) -> Result<Vec<NoteSignature>> {
    let text =
        std::str::from_utf8(body).map_err(|_| Error::note("cosignature lines: not UTF-8"))?;
    let text = text
        .strip_suffix('\n')
        .ok_or_else(|| Error::note("cosignature lines: missing trailing newline"))?;
    let mut out = Vec::new();
    for line in text.split('\n') {
        if out.len() >= crate::note::MAX_SIGNATURES {
            return Err(Error::note("cosignature lines: too many signatures"));
        }
        if !line.starts_with(SIG_PREFIX) {
            return Err(Error::note(
                "cosignature lines: line does not start with \"\u{2014} \"",
            ));
        }
        // Reuse the note parser on a synthetic one-line note to get identical rules.
        let one = format!("x\n\n{line}\n");
        let n = crate::note::Note::parse(one.as_bytes())?;
        out.extend(n.signatures().iter().cloned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_BODY: &str = "old 20852014\n\
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
\n\
example.com/behind-the-sofa\n\
20852163\n\
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
\n\
\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    #[test]
    fn parses_the_spec_example_and_reencodes_it_byte_for_byte() {
        let r = AddCheckpointRequest::parse(SPEC_BODY.as_bytes()).unwrap();
        assert_eq!(r.old_size, 20852014);
        assert_eq!(r.proof.len(), 4);
        assert!(
            r.checkpoint
                .starts_with(b"example.com/behind-the-sofa\n20852163\n")
        );
        assert_eq!(r.encode().unwrap(), SPEC_BODY.as_bytes());
    }

    #[test]
    fn parses_an_empty_proof() {
        let r = AddCheckpointRequest::parse(b"old 0\n\ncp\n").unwrap();
        assert_eq!((r.old_size, r.proof.len()), (0, 0));
        assert_eq!(r.checkpoint, b"cp\n");
    }

    #[test]
    fn rejects_malformed_requests() {
        let h = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=";
        let too_many = format!("old 1\n{}\ncp\n", format!("{h}\n").repeat(64));
        for bad in [
            String::new(),
            "old 1".to_owned(),
            "old 1\n".to_owned(),
            "old 1\n\n".to_owned(),
            "old 01\n\ncp\n".to_owned(),
            "old -1\n\ncp\n".to_owned(),
            "old  1\n\ncp\n".to_owned(),
            "Old 1\n\ncp\n".to_owned(),
            "old 18446744073709551616\n\ncp\n".to_owned(),
            format!("old 1\n{h}\ncp\n"),
            format!("old 1\n{h}x\n\ncp\n"),
            "old 1\nAAAA\n\ncp\n".to_owned(),
            format!("old 1\n {h}\n\ncp\n"),
            too_many,
        ] {
            assert!(
                AddCheckpointRequest::parse(bad.as_bytes()).is_err(),
                "{bad:?}"
            );
        }
        assert!(AddCheckpointRequest::parse(b"old \xff\n\ncp\n").is_err());
    }

    #[test]
    fn accepts_exactly_63_proof_lines() {
        let h = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=";
        let body = format!("old 1\n{}\ncp\n", format!("{h}\n").repeat(63));
        assert_eq!(
            AddCheckpointRequest::parse(body.as_bytes())
                .unwrap()
                .proof
                .len(),
            63
        );
    }

    #[test]
    fn encode_refuses_oversized_proofs_and_empty_checkpoints() {
        let r = AddCheckpointRequest {
            old_size: 1,
            proof: vec![[0u8; 32]; 64],
            checkpoint: b"cp\n".to_vec(),
        };
        assert!(r.encode().is_err());
        let r = AddCheckpointRequest {
            old_size: 1,
            proof: vec![],
            checkpoint: vec![],
        };
        assert!(r.encode().is_err());
    }

    #[test]
    fn size_body_round_trips_and_rejects_garbage() {
        assert_eq!(parse_size_body(&encode_size_body(42)).unwrap(), 42);
        assert_eq!(encode_size_body(0), b"0\n");
        for bad in [&b"42"[..], b"042\n", b"\n", b"4 2\n", b"x\n"] {
            assert!(parse_size_body(bad).is_err());
        }
    }

    #[test]
    fn parses_cosignature_lines_from_the_spec_example() {
        let body = "\u{2014} witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n\
\u{2014} witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n";
        let sigs = parse_cosignature_lines(body.as_bytes()).unwrap();
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[1].name, "witness.example/w2");
        assert_eq!(sigs[0].signature.len(), 76 - 4);
        for bad in [
            &b""[..],
            b"\n",
            b"- w AAAAAAE=\n",
            "\u{2014} w AAAAAAE=".as_bytes(),
        ] {
            assert!(parse_cosignature_lines(bad).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_round_trips_what_it_accepts(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            if let Ok(r) = AddCheckpointRequest::parse(&data) {
                let again = AddCheckpointRequest::parse(&r.encode().unwrap()).unwrap();
                proptest::prop_assert_eq!(again, r);
            }
        }

        #[test]
        fn encode_then_parse_is_identity(
            old in proptest::prelude::any::<u64>(),
            proof in proptest::collection::vec(proptest::prelude::any::<[u8; 32]>(), 0..=63),
            checkpoint in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..200),
        ) {
            let r = AddCheckpointRequest { old_size: old, proof, checkpoint };
            proptest::prop_assert_eq!(AddCheckpointRequest::parse(&r.encode().unwrap()).unwrap(), r);
        }
    }
}
