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
    /// The whole record as it appears in the tile (`TimestampedEntry` through the chain
    /// fingerprints): what a log rewrites when it extends a partial data tile.
    pub record: &'a [u8],
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

/// The SCT extension type `leaf_index` (static-ct-api).
pub const EXTENSION_LEAF_INDEX: u8 = 0;

/// The `CtExtensions` a static-ct-api log puts in every SCT (and so in the entry's
/// `TimestampedEntry`): one `leaf_index` extension holding `index` as a big-endian
/// 40-bit integer (8 bytes in all).
pub fn leaf_index_extensions(index: u64) -> Result<Vec<u8>> {
    if index >= 1 << 40 {
        return Err(Error::tile(format!(
            "leaf index {index} does not fit in 40 bits"
        )));
    }
    let mut out = vec![EXTENSION_LEAF_INDEX, 0, 5];
    out.extend_from_slice(&index.to_be_bytes()[3..]);
    Ok(out)
}

/// The `leaf_index` carried in CT extensions bytes, if there is exactly one well-formed
/// `leaf_index` extension.
pub fn leaf_index_from_extensions(ext: &[u8]) -> Option<u64> {
    let mut r = Reader { data: ext, pos: 0 };
    let mut found = None;
    while r.pos < ext.len() {
        let ty = r.uint(1).ok()?;
        let data = r.vec(2).ok()?;
        if ty == u64::from(EXTENSION_LEAF_INDEX) {
            if found.is_some() || data.len() != 5 {
                return None;
            }
            found = Some(data.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)));
        }
    }
    found
}

/// Encodes a precertificate `TileLeaf`: `timestamped_entry || pre_certificate<1..2^24-1>
/// || chain fingerprints<0..2^16-1>` (SHA-256 of each chain certificate's DER, as given).
pub fn encode_precert_tile_leaf(
    timestamped_entry: &[u8],
    pre_certificate: &[u8],
    chain: &[Hash],
) -> Result<Vec<u8>> {
    let cert_len = u32::try_from(pre_certificate.len())
        .ok()
        .filter(|l| (1..1 << 24).contains(l))
        .ok_or_else(|| Error::tile("pre_certificate must be 1..2^24-1 bytes"))?;
    let fps_len =
        u16::try_from(chain.len() * 32).map_err(|_| Error::tile("too many chain fingerprints"))?;
    let mut out =
        Vec::with_capacity(timestamped_entry.len() + pre_certificate.len() + 5 + 32 * chain.len());
    out.extend_from_slice(timestamped_entry);
    out.extend_from_slice(&cert_len.to_be_bytes()[1..]);
    out.extend_from_slice(pre_certificate);
    out.extend_from_slice(&fps_len.to_be_bytes());
    for h in chain {
        out.extend_from_slice(h);
    }
    Ok(out)
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
            record: &data[start..r.pos],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_precert_tile_leaf_round_trips_and_its_record_is_the_whole_span() {
        let ext = leaf_index_extensions(0x01_0203_0405).unwrap();
        assert_eq!(ext, [0, 0, 5, 1, 2, 3, 4, 5]);
        assert_eq!(leaf_index_from_extensions(&ext), Some(0x01_0203_0405));
        assert_eq!(leaf_index_from_extensions(&[]), None);
        assert!(leaf_index_extensions(1 << 40).is_err());
        let mut te = 7u64.to_be_bytes().to_vec();
        te.extend_from_slice(&1u16.to_be_bytes());
        te.extend_from_slice(&[9; 32]);
        te.extend_from_slice(&[0, 0, 3, 0x30, 1, 2]);
        te.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        te.extend_from_slice(&ext);
        let a = encode_precert_tile_leaf(&te, b"precert", &[[1; 32], [2; 32]]).unwrap();
        let b = encode_precert_tile_leaf(&te, b"other", &[]).unwrap();
        let tile = [a.clone(), b.clone()].concat();
        let leaves = parse_data_tile(&tile).unwrap();
        assert_eq!(leaves.len(), 2);
        assert_eq!(leaves[0].record, &a[..]);
        assert_eq!(leaves[1].record, &b[..]);
        assert_eq!(leaves[0].timestamped_entry, &te[..]);
        assert_eq!(leaves[0].timestamp, 7);
        assert_eq!(leaves[0].certificate, &[0x30, 1, 2]);
        assert_eq!(leaves[0].pre_certificate, Some(&b"precert"[..]));
        assert_eq!(leaves[0].chain, vec![[1; 32], [2; 32]]);
        assert_eq!(
            leaf_index_from_extensions(leaves[1].extensions),
            Some(0x01_0203_0405)
        );
        assert!(encode_precert_tile_leaf(&te, b"", &[]).is_err());
    }
}
