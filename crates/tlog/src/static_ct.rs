//! static-ct-api (c2sp.org/static-ct-api) data tiles: `tile/data/<N>` holds a sequence
//! of `TileLeaf` records; the Merkle leaf of each is the RFC 6962 `MerkleTreeLeaf`
//! (`version v1 = 0 || leaf_type timestamped_entry = 0 || TimestampedEntry`).
//!
//! ```text
//! TileLeaf = TimestampedEntry || (x509: Fingerprint chain<0..2^16-1>
//!                                 | precert: ASN.1Cert pre_certificate<1..2^24-1>
//!                                            || Fingerprint chain<0..2^16-1>)
//! TimestampedEntry = uint64 timestamp || uint16 entry_type
//!                    || (x509: cert<1..2^24-1> | precert: issuer_key_hash[32] || tbs<1..2^24-1>)
//!                    || extensions<0..2^16-1>
//! ```

use crate::error::{Error, Result};
use crate::merkle::{Hash, leaf_hash};

/// One record of a static-ct-api data tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileLeaf<'a> {
    /// The entry timestamp (ms since the epoch).
    pub timestamp: u64,
    /// Whether this is a precertificate entry.
    pub is_precert: bool,
    /// The raw `TimestampedEntry` bytes (what the Merkle leaf commits to).
    pub timestamped_entry: &'a [u8],
    /// The certificate (x509) or TBSCertificate (precert) carried in the entry.
    pub certificate: &'a [u8],
    /// The CT extensions bytes.
    pub extensions: &'a [u8],
    /// The pre-certificate (precert entries only).
    pub pre_certificate: Option<&'a [u8]>,
    /// SHA-256 fingerprints of the chain certificates.
    pub chain: Vec<Hash>,
}

impl TileLeaf<'_> {
    /// The RFC 6962 leaf hash: `SHA-256(0x00 || 0x00 || 0x00 || TimestampedEntry)`.
    pub fn leaf_hash(&self) -> Hash {
        let mut m = Vec::with_capacity(2 + self.timestamped_entry.len());
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(self.timestamped_entry);
        leaf_hash(&m)
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| Error::tile("data tile: truncated TileLeaf"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn uint(&mut self, n: usize) -> Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
    fn vec(&mut self, len_bytes: usize) -> Result<&'a [u8]> {
        let n = self.uint(len_bytes)?;
        let n = usize::try_from(n).map_err(|_| Error::tile("data tile: length overflow"))?;
        self.take(n)
    }
}

/// Parses a static-ct-api data tile into its records (1..=256 of them).
pub fn parse_data_tile(data: &[u8]) -> Result<Vec<TileLeaf<'_>>> {
    let mut r = Reader { data, pos: 0 };
    let mut out = Vec::new();
    while r.pos < data.len() {
        if out.len() >= 256 {
            return Err(Error::tile("data tile: more than 256 entries"));
        }
        let start = r.pos;
        let timestamp = r.uint(8)?;
        if timestamp > i64::MAX as u64 {
            return Err(Error::tile("data tile: timestamp exceeds 2^63-1"));
        }
        let entry_type = r.uint(2)?;
        let is_precert = match entry_type {
            0 => false,
            1 => true,
            t => return Err(Error::tile(format!("data tile: unknown entry type {t}"))),
        };
        if is_precert {
            r.take(32)?;
        }
        let certificate = r.vec(3)?;
        if certificate.is_empty() {
            return Err(Error::tile("data tile: empty certificate"));
        }
        let extensions = r.vec(2)?;
        let timestamped_entry = &data[start..r.pos];
        let pre_certificate = if is_precert { Some(r.vec(3)?) } else { None };
        let fps = r.vec(2)?;
        if fps.len() % 32 != 0 {
            return Err(Error::tile(
                "data tile: chain fingerprints not a multiple of 32",
            ));
        }
        let chain = fps
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        out.push(TileLeaf {
            timestamp,
            is_precert,
            timestamped_entry,
            certificate,
            extensions,
            pre_certificate,
            chain,
        });
    }
    if out.is_empty() {
        return Err(Error::tile("data tile: empty"));
    }
    Ok(out)
}
