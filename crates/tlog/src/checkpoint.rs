//! C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint).
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <base64 root hash>\n
//! [<extension line>\n]*
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};
use crate::merkle::Hash;
use crate::note::{Note, NoteVerifier, VerifiedSignature};

/// A checkpoint: the signed statement of a log's size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (e.g. `example.com/log`).
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The tree root hash.
    pub root_hash: Hash,
    /// Extension lines (without their newlines), if any.
    pub extensions: Vec<String>,
}

/// Parses a decimal `u64` with no sign, no leading zeros (except `"0"`), ASCII digits only.
pub fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// Parses a checkpoint from note text (must end in `\n`; at least three non-empty
    /// lines; no empty lines; no control characters).
    pub fn parse(text: &str) -> Result<Self> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| Error::checkpoint("text must end with a newline"))?;
        if let Some(c) = text.chars().find(|&c| c != '\n' && c.is_ascii_control()) {
            return Err(Error::checkpoint(format!(
                "control character U+{:04X} is not allowed",
                u32::from(c)
            )));
        }
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| Error::checkpoint("missing origin line"))?;
        let size_line = lines
            .next()
            .ok_or_else(|| Error::checkpoint("missing tree size line"))?;
        let size = parse_decimal(size_line).ok_or_else(|| {
            Error::checkpoint(format!(
                "tree size {size_line:?} is not a decimal number without leading zeros"
            ))
        })?;
        let root_line = lines
            .next()
            .ok_or_else(|| Error::checkpoint("missing root hash line"))?;
        let root = STANDARD
            .decode(root_line)
            .map_err(|e| Error::checkpoint(format!("root hash is not base64: {e}")))?;
        let root_hash = Hash::try_from(root.as_slice()).map_err(|_| {
            Error::checkpoint(format!("root hash must be 32 bytes, got {}", root.len()))
        })?;
        let mut extensions = Vec::new();
        for l in lines {
            if l.is_empty() {
                return Err(Error::checkpoint("empty extension line"));
            }
            extensions.push(l.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        })
    }

    /// The note text of this checkpoint.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root_hash)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a signed checkpoint note, verifies it with `verifiers` (signed-note rule),
    /// parses its body and checks the origin equals `origin`.
    pub fn open(
        msg: &[u8],
        origin: &str,
        verifiers: &[&dyn NoteVerifier],
    ) -> Result<(Checkpoint, Note, Vec<VerifiedSignature>)> {
        let note = Note::parse(msg)?;
        let cp = Checkpoint::parse(note.text())?;
        if cp.origin != origin {
            return Err(Error::checkpoint(format!(
                "origin {:?} is not the expected {origin:?}",
                cp.origin
            )));
        }
        let verified = note.verify(verifiers)?;
        Ok((cp, note, verified))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_example() {
        let t =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let c = Checkpoint::parse(t).unwrap();
        assert_eq!(c.origin, "example.com/behind-the-sofa");
        assert_eq!(c.size, 20852163);
        assert_eq!(c.to_text(), t);
    }

    #[test]
    fn rejects_malformed_checkpoints() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        for bad in [
            String::new(),
            "o\n1\n".to_owned(),
            format!("o\n1\n{root}"),
            format!("\n1\n{root}\n"),
            format!("o\n01\n{root}\n"),
            format!("o\n+1\n{root}\n"),
            format!("o\n 1\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            "o\n1\nAAAA\n".to_owned(),
            format!("o\n1\n{root}\n\n"),
            format!("o\n1\n{root}x\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
