//! The RFC 3161 time-stamping authority (a thin layer over
//! `chainseal_crypto::rfc3161::TsaSigner`).

use chainseal_crypto::keys::PrivateKey;
use chainseal_crypto::rfc3161::TsaSigner;
use chainseal_crypto::rfc3161::asn1::TimeStampResp;
use chainseal_crypto::x509::Certificate;
use der::Decode;

use crate::certs::random_serial;
use crate::error::{Error, Result};

/// The policy OID stamped into every TSTInfo (Sigstore's TSA policy arc).
pub const TSA_POLICY: &str = "1.3.6.1.4.1.57264.2";
/// Largest accepted `TimeStampReq`.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// A TSA: signer plus its chain (TSA certificate first, root last).
pub struct Tsa {
    signer: TsaSigner,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for Tsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsa").field("signer", &self.signer).finish()
    }
}

/// A TSA answer: `granted` is false for a rejection (`body` then holds the rejection
/// `TimeStampResp`, whose status string is the reason).
#[derive(Debug)]
pub struct TsaReply {
    /// Whether a token was granted.
    pub granted: bool,
    /// The DER `TimeStampResp`.
    pub body: Vec<u8>,
    /// Rejection reason, if any.
    pub reason: Option<String>,
}

impl Tsa {
    /// A TSA signing with `key`, certified by `chain[0]`.
    pub fn new(key: PrivateKey, chain: Vec<Certificate>) -> Result<Self> {
        let signer = TsaSigner::new(key, chain.clone(), TSA_POLICY)?;
        Ok(Self { signer, chain })
    }

    /// The chain, TSA certificate first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// Answers a DER `TimeStampReq` at `now`.
    pub fn respond(&self, request: &[u8], now: i64) -> Result<TsaReply> {
        if request.len() > MAX_REQUEST_BYTES {
            return Err(Error::BadRequest(format!(
                "timestamp request larger than {MAX_REQUEST_BYTES} bytes"
            )));
        }
        let body = self.signer.respond(request, now, &random_serial()?)?;
        let resp = TimeStampResp::from_der(&body)?;
        let granted = resp.time_stamp_token.is_some();
        let reason = (!granted).then(|| {
            resp.status
                .status_string
                .map(|s| s.join("; "))
                .unwrap_or_else(|| "request rejected".into())
        });
        Ok(TsaReply {
            granted,
            body,
            reason,
        })
    }
}
