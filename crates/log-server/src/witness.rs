//! The log side of C2SP tlog-witness: `POST <url>/add-checkpoint` with the witness's last
//! known size and a consistency proof, handling 409 (the witness knows another size) by
//! resending with a proof from that size, and checking the returned cosignature.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_tlog::Hash;
use chainseal_tlog::keys::CosignatureV1Verifier;
use chainseal_tlog::note::{Note, NoteSignature, NoteVerifier};

use crate::error::{Error, Result};

/// A configured witness: its cosignature/v1 verifier key and submission URL prefix.
#[derive(Debug)]
pub struct Witness {
    /// The vkey string as given.
    pub vkey: String,
    /// The submission prefix (`http://host:port[/prefix]`).
    pub url: String,
    verifier: CosignatureV1Verifier,
    /// The size the witness last cosigned for us, once known.
    known_size: Option<u64>,
}

impl Witness {
    /// Parses `<vkey>@<url>`.
    pub fn parse(spec: &str) -> Result<Self> {
        let (vkey, url) = spec
            .rsplit_once('@')
            .ok_or_else(|| Error::Config(format!("witness {spec:?} is not <vkey>@<url>")))?;
        let verifier = CosignatureV1Verifier::from_vkey(vkey)
            .map_err(|e| Error::Config(format!("witness key {vkey:?}: {e}")))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "witness URL {url:?} must be http(s)"
            )));
        }
        Ok(Witness {
            vkey: vkey.to_owned(),
            url: url.trim_end_matches('/').to_owned(),
            verifier,
            known_size: None,
        })
    }

    /// The size to send as `old` (0 until the witness tells us otherwise).
    pub fn old_size(&self) -> u64 {
        self.known_size.unwrap_or(0)
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::Witness {
            url: self.url.clone(),
            reason: reason.into(),
        }
    }

    /// Asks the witness to cosign `note` (our signed checkpoint of `size`).
    /// `proof(old)` must return the consistency proof from `old` to `size`.
    pub async fn cosign(
        &mut self,
        http: &reqwest::Client,
        note: &Note,
        size: u64,
        proof: &(dyn Fn(u64) -> Result<Vec<Hash>> + Sync),
    ) -> Result<NoteSignature> {
        for _attempt in 0..2 {
            let old = self.old_size().min(size);
            let hashes = if old == 0 || old == size {
                Vec::new()
            } else {
                proof(old)?
            };
            let mut body = format!("old {old}\n");
            for h in &hashes {
                body.push_str(&STANDARD.encode(h));
                body.push('\n');
            }
            body.push('\n');
            let mut bytes = body.into_bytes();
            bytes.extend_from_slice(&note.to_bytes());
            let resp = http
                .post(format!("{}/add-checkpoint", self.url))
                .timeout(Duration::from_secs(10))
                .body(bytes)
                .send()
                .await
                .map_err(|e| self.err(e.to_string()))?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| self.err(e.to_string()))?;
            if status.as_u16() == 409 {
                let known = chainseal_tlog::checkpoint::parse_decimal(text.trim_end_matches('\n'))
                    .ok_or_else(|| self.err(format!("409 with a malformed size {text:?}")))?;
                if known > size {
                    return Err(self.err(format!(
                        "witness has size {known}, larger than ours ({size}): split view?"
                    )));
                }
                self.known_size = Some(known);
                continue;
            }
            if !status.is_success() {
                return Err(self.err(format!("{status}: {}", text.trim())));
            }
            let sig = self.check_cosignature(note, &text)?;
            self.known_size = Some(size);
            return Ok(sig);
        }
        Err(self.err("conflicting sizes after a retry"))
    }

    /// Finds and verifies the witness's cosignature among the response lines.
    fn check_cosignature(&self, note: &Note, response: &str) -> Result<NoteSignature> {
        let mut msg = note.text().to_owned();
        msg.push('\n');
        msg.push_str(response);
        let parsed = Note::parse(msg.as_bytes())
            .map_err(|e| self.err(format!("malformed cosignature response: {e}")))?;
        let sig = parsed
            .signatures()
            .iter()
            .find(|s| s.name == self.verifier.name() && s.key_id == self.verifier.key_id())
            .ok_or_else(|| self.err("no cosignature by the configured key"))?;
        if !self.verifier.verify(note.text().as_bytes(), &sig.signature) {
            return Err(self.err("the cosignature does not verify"));
        }
        Ok(sig.clone())
    }
}
