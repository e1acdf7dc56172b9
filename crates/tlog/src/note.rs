//! C2SP signed notes (c2sp.org/signed-note): parsing, serialising and verification.
//!
//! ```text
//! <text, ending in \n>
//! \n
//! — <key name> <base64(key ID[4] || signature)>\n     (one or more)
//! ```
//!
//! Verification rule: signatures whose (name, key ID) matches no known verifier are
//! ignored; a signature whose (name, key ID) matches a known verifier MUST verify or the
//! whole note is rejected; and at least one known verifier must have verified. The result
//! lists which verifiers verified, so callers can apply a k-of-n witness policy.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};

/// Maximum number of signature lines accepted (Go's limit; C2SP requires at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The signature-line prefix: U+2014 EM DASH followed by a space.
pub const SIG_PREFIX: &str = "\u{2014} ";

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID (first four bytes of the decoded signature, big-endian).
    pub key_id: u32,
    /// Signature bytes after the key ID (type-specific; e.g. 64-byte Ed25519 signature,
    /// or timestamp || signature for cosignatures).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, `— <name> <base64(key ID || signature)>\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }
}

/// A parsed signed note: its text and its signature lines (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Whether `name` is a valid key name: non-empty, no Unicode whitespace, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// Checks that `text` is valid note text: ends in `\n` and has no ASCII control
/// characters other than `\n`.
fn check_text(text: &str) -> Result<()> {
    if !text.ends_with('\n') {
        return Err(Error::note("text must end with a newline"));
    }
    check_chars(text)
}

fn check_chars(s: &str) -> Result<()> {
    if let Some(c) = s.chars().find(|&c| c != '\n' && c.is_ascii_control()) {
        return Err(Error::note(format!(
            "control character U+{:04X} is not allowed",
            u32::from(c)
        )));
    }
    Ok(())
}

/// Parses one signature line (without its trailing newline).
fn parse_sig_line(line: &str) -> Result<NoteSignature> {
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or_else(|| Error::note("signature line does not start with \"\u{2014} \""))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| Error::note("signature line has no space between name and signature"))?;
    if !is_valid_key_name(name) {
        return Err(Error::note(format!("invalid key name {name:?}")));
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|e| Error::note(format!("signature by {name}: bad base64: {e}")))?;
    if raw.len() < 5 {
        return Err(Error::note(format!(
            "signature by {name} is too short ({} bytes)",
            raw.len()
        )));
    }
    let (id, sig) = raw.split_at(4);
    let key_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id,
        signature: sig.to_vec(),
    })
}

impl Note {
    /// Creates an unsigned note from its text (must end in `\n`, no control characters).
    pub fn new(text: impl Into<String>) -> Result<Self> {
        let text = text.into();
        check_text(&text)?;
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note. The text is everything up to the *last* blank line; every
    /// line after it must be a well-formed signature line, and there must be at least
    /// one (at most [`MAX_SIGNATURES`]).
    pub fn parse(msg: &[u8]) -> Result<Self> {
        let msg = std::str::from_utf8(msg).map_err(|_| Error::note("not valid UTF-8"))?;
        check_chars(msg)?;
        let split = msg
            .rfind("\n\n")
            .ok_or_else(|| Error::note("no blank line before the signatures"))?;
        let (text, sigs) = (&msg[..=split], &msg[split + 2..]);
        if sigs.is_empty() {
            return Err(Error::note("no signature lines"));
        }
        if !sigs.ends_with('\n') {
            return Err(Error::note("last signature line does not end in a newline"));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() >= MAX_SIGNATURES {
                return Err(Error::note(format!(
                    "more than {MAX_SIGNATURES} signatures"
                )));
            }
            signatures.push(parse_sig_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text (ends in `\n`), the bytes signatures are computed over.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line.
    pub fn add_signature(&mut self, sig: NoteSignature) -> Result<()> {
        if !is_valid_key_name(&sig.name) {
            return Err(Error::note(format!("invalid key name {:?}", sig.name)));
        }
        if sig.signature.is_empty() {
            return Err(Error::note("empty signature"));
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// Signs the note text with `signer` and appends the signature line.
    pub fn sign(&mut self, signer: &dyn NoteSigner) -> Result<()> {
        let signature = signer.sign(self.text.as_bytes())?;
        self.add_signature(NoteSignature {
            name: signer.name().to_owned(),
            key_id: signer.key_id(),
            signature,
        })
    }

    /// The serialised note: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out.into_bytes()
    }

    /// Verifies the note against `verifiers` (see the module docs for the rule) and
    /// returns the verified signatures, at most one per verifier.
    pub fn verify(&self, verifiers: &[&dyn NoteVerifier]) -> Result<Vec<VerifiedSignature>> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        for sig in &self.signatures {
            let mut matched = false;
            let mut ok_index = None;
            for (i, v) in verifiers.iter().enumerate() {
                if v.name() == sig.name && v.key_id() == sig.key_id {
                    matched = true;
                    if v.verify(self.text.as_bytes(), &sig.signature) {
                        ok_index = Some(i);
                        break;
                    }
                }
            }
            match (matched, ok_index) {
                (false, _) => continue,
                (true, None) => {
                    return Err(Error::NoteBadSignature {
                        name: sig.name.clone(),
                        key_id: sig.key_id,
                    });
                }
                (true, Some(i)) => {
                    if verified.iter().all(|v| v.verifier != i) {
                        verified.push(VerifiedSignature {
                            verifier: i,
                            name: sig.name.clone(),
                            key_id: sig.key_id,
                            timestamp: verifiers[i].timestamp(&sig.signature),
                        });
                    }
                }
            }
        }
        if verified.is_empty() {
            return Err(Error::NoteNoVerifiedSignature);
        }
        Ok(verified)
    }
}

/// A signature that verified, as returned by [`Note::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Index of the verifier (in the slice given to [`Note::verify`]) that verified it.
    pub verifier: usize,
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: u32,
    /// The signed timestamp, for timestamped signature types (cosignature/v1, RFC 6962).
    pub timestamp: Option<u64>,
}

/// Something that can check note signatures for one key.
pub trait NoteVerifier {
    /// The key name.
    fn name(&self) -> &str;
    /// The key ID.
    fn key_id(&self) -> u32;
    /// Whether `sig` (the signature bytes after the 4-byte key ID) is a valid signature
    /// over the note `text` (which ends in `\n`).
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool;
    /// The timestamp carried by `sig`, for timestamped signature types.
    fn timestamp(&self, _sig: &[u8]) -> Option<u64> {
        None
    }
}

/// Something that can sign note text.
pub trait NoteSigner {
    /// The key name.
    fn name(&self) -> &str;
    /// The key ID.
    fn key_id(&self) -> u32;
    /// The signature bytes (without the key ID) over the note `text`.
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>>;
}

/// Parses and verifies a signed note in one step.
pub fn open(msg: &[u8], verifiers: &[&dyn NoteVerifier]) -> Result<(Note, Vec<VerifiedSignature>)> {
    let note = Note::parse(msg)?;
    let verified = note.verify(verifiers)?;
    Ok((note, verified))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_at_last_blank_line() {
        let n = Note::parse("a\n\nb\n\n\u{2014} k AAAAAAE=\n".as_bytes()).unwrap();
        assert_eq!(n.text(), "a\n\nb\n");
        assert_eq!(n.signatures()[0].key_id, 0);
        assert_eq!(n.signatures()[0].signature, vec![1]);
    }

    #[test]
    fn rejects_malformed_notes() {
        for bad in [
            &b"no sigs\n"[..],
            b"text\n\n",
            b"text\n\n\xe2\x80\x94 k AAAAAAE=",
            b"text\n\n- k AAAAAAE=\n",
            b"text\n\n\xe2\x80\x94 k+x AAAAAAE=\n",
            b"text\n\n\xe2\x80\x94 k AAAA\n",
            b"text\n\n\xe2\x80\x94 k AAAAAAE\n",
            b"te\txt\n\n\xe2\x80\x94 k AAAAAAE=\n",
            b"te\xffxt\n\n\xe2\x80\x94 k AAAAAAE=\n",
            b"text\n\n\xe2\x80\x94 k AAAAAAE=\nextra\n",
            b"text\n\n\xe2\x80\x94  AAAAAAE=\n",
        ] {
            assert!(
                Note::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
