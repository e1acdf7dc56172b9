//! RFC 6962 / RFC 9162 Merkle tree hashing, proof verification and proof generation.
//!
//! Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency), written
//! the way transparency-dev/merkle does it: the expected proof length (`inner + border`)
//! is computed from the sizes and checked exactly before any hashing.
//!
//! Generation works over any [`HashSource`]: something that can return the hash of a
//! *complete, aligned* subtree (`2^level` leaves starting at leaf `index << level`). A log
//! server backs it with stored node hashes ([`MemoryTree`] keeps them in the Go sumdb
//! "stored hash index" order, so the same layout works append-only on disk), a monitor
//! backs it with tiles ([`crate::tile::TileHashSource`]).

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A SHA-256 hash (leaf hash, node hash or tree root).
pub type Hash = [u8; 32];

/// Hash of an entry: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// Hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Converts a byte slice that must be a hash into a [`Hash`](type@Hash).
pub fn hash_from_slice(what: &'static str, bytes: &[u8]) -> Result<Hash> {
    Hash::try_from(bytes).map_err(|_| Error::HashLength {
        what,
        got: bytes.len(),
    })
}

/// `(inner, border)` for an inclusion proof of `index` in a tree of `size` (`index < size`).
fn decomp_incl_proof(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

fn chain_inner(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 0 {
            seed = node_hash(&seed, h);
        } else {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_inner_right(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_border_right(mut seed: Hash, proof: &[Hash]) -> Hash {
    for h in proof {
        seed = node_hash(h, &seed);
    }
    seed
}

/// The number of hashes in an inclusion proof for `index` in a tree of `size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let (inner, border) = decomp_incl_proof(index, size);
    Ok(inner + border)
}

/// Recomputes the root of a tree of `size` from the leaf hash at `index` and its
/// inclusion proof (RFC 9162 §2.1.3.2). Fails on `index >= size` or a proof of the wrong
/// length; the caller must compare the result with a trusted root (or use
/// [`verify_inclusion`]).
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash> {
    let expected = inclusion_proof_len(index, size)?;
    if proof.len() != expected {
        return Err(Error::ProofLength {
            proof: "inclusion",
            got: proof.len(),
            expected,
        });
    }
    let (inner, _) = decomp_incl_proof(index, size);
    let (inner_part, border_part) = proof.split_at(inner);
    let res = chain_inner(*leaf, inner_part, index);
    Ok(chain_border_right(res, border_part))
}

/// Verifies that `leaf` (a leaf hash) is at `index` in the tree of `size` with `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if &computed != root {
        return Err(Error::InclusionRootMismatch {
            computed: hex::encode(computed),
            expected: hex::encode(root),
        });
    }
    Ok(())
}

/// [`verify_inclusion`] over untyped byte slices (as decoded from JSON/base64): every
/// hash must be exactly 32 bytes.
pub fn verify_inclusion_bytes<P: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[P],
    root: &[u8],
) -> Result<()> {
    let leaf = hash_from_slice("leaf hash", leaf)?;
    let root = hash_from_slice("root", root)?;
    let proof = proof
        .iter()
        .map(|p| hash_from_slice("proof hash", p.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    verify_inclusion(index, size, &leaf, &proof, &root)
}

/// Verifies that the tree of `size2` with `root2` extends the tree of `size1` with `root1`
/// (RFC 9162 §2.1.4.2).
///
/// Policy (as transparency-dev/merkle's test vectors): `size1 == 0` is an error (a proof
/// from the empty tree proves nothing); `size1 > size2` is an error; `size1 == size2`
/// requires an empty proof and identical roots; otherwise the proof must have exactly the
/// expected length.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<()> {
    check_consistency_sizes(size1, size2, proof.len())?;
    if size1 == size2 {
        return equal_roots(root1, root2);
    }
    consistency_inner(size1, size2, proof, root1, root2)
}

fn check_consistency_sizes(size1: u64, size2: u64, proof_len: usize) -> Result<()> {
    if size1 > size2 {
        return Err(Error::ConsistencySizes {
            size1,
            size2,
            reason: "old size is larger than new size",
        });
    }
    if size1 == 0 {
        return Err(Error::ConsistencySizes {
            size1,
            size2,
            reason: "a consistency proof from the empty tree is meaningless",
        });
    }
    if size1 == size2 && proof_len != 0 {
        return Err(Error::ProofLength {
            proof: "consistency",
            got: proof_len,
            expected: 0,
        });
    }
    Ok(())
}

fn equal_roots(root1: &[u8], root2: &[u8]) -> Result<()> {
    if root1 != root2 {
        return Err(Error::ConsistencyRootMismatch {
            which: "new",
            computed: hex::encode(root1),
            expected: hex::encode(root2),
        });
    }
    Ok(())
}

/// The number of hashes in a consistency proof from `size1` to `size2`
/// (`0 < size1 <= size2`).
pub fn consistency_proof_len(size1: u64, size2: u64) -> Result<usize> {
    check_consistency_sizes(size1, size2, 0)?;
    if size1 == size2 {
        return Ok(0);
    }
    let (inner, border) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    let start = usize::from(!size1.is_power_of_two());
    Ok(start + inner.saturating_sub(shift) + border)
}

fn consistency_inner(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<()> {
    let expected = consistency_proof_len(size1, size2)?;
    if proof.len() != expected {
        return Err(Error::ProofLength {
            proof: "consistency",
            got: proof.len(),
            expected,
        });
    }
    let (inner, _) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros();
    let inner = inner.saturating_sub(shift as usize);
    let (seed, rest) = if size1.is_power_of_two() {
        (*root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => {
                return Err(Error::ProofLength {
                    proof: "consistency",
                    got: 0,
                    expected,
                });
            }
        }
    };
    let (inner_part, border_part) = rest.split_at(inner.min(rest.len()));
    let mask = (size1 - 1) >> shift;
    let h1 = chain_border_right(chain_inner_right(seed, inner_part, mask), border_part);
    if &h1 != root1 {
        return Err(Error::ConsistencyRootMismatch {
            which: "old",
            computed: hex::encode(h1),
            expected: hex::encode(root1),
        });
    }
    let h2 = chain_border_right(chain_inner(seed, inner_part, mask), border_part);
    if &h2 != root2 {
        return Err(Error::ConsistencyRootMismatch {
            which: "new",
            computed: hex::encode(h2),
            expected: hex::encode(root2),
        });
    }
    Ok(())
}

/// [`verify_consistency`] over untyped byte slices, with transparency-dev/merkle's
/// semantics: when `size1 == size2` the roots only need to be byte-identical; otherwise
/// every hash must be exactly 32 bytes.
pub fn verify_consistency_bytes<P: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<()> {
    check_consistency_sizes(size1, size2, proof.len())?;
    if size1 == size2 {
        return equal_roots(root1, root2);
    }
    let r1 = hash_from_slice("old root", root1)?;
    let r2 = hash_from_slice("new root", root2)?;
    let proof = proof
        .iter()
        .map(|p| hash_from_slice("proof hash", p.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    consistency_inner(size1, size2, &proof, &r1, &r2)
}

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

/// Provides hashes of complete, aligned subtrees of a log.
///
/// `subtree_hash(level, index)` is the Merkle hash of leaves
/// `[index << level, (index + 1) << level)`; `level` 0 gives leaf hashes. Implementations
/// return [`Error::MissingHash`] for subtrees they do not hold.
pub trait HashSource {
    /// The hash of the complete subtree of `2^level` leaves starting at leaf
    /// `index << level`.
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash>;
}

impl<T: HashSource + ?Sized> HashSource for &T {
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash> {
        (**self).subtree_hash(level, index)
    }
}

/// Largest power of two strictly less than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[lo:hi]) for a range reached by the RFC 6962 recursion (lo aligned to the largest
/// power of two not exceeding hi - lo). `lo < hi`.
fn range_hash(lo: u64, hi: u64, src: &dyn HashSource) -> Result<Hash> {
    let n = hi - lo;
    // Decompose n into its set bits, highest first: complete subtrees left to right.
    let mut parts: Vec<Hash> = Vec::with_capacity(n.count_ones() as usize);
    let mut start = lo;
    for level in (0..64u8).rev() {
        let width = 1u64 << level;
        if n & width != 0 {
            if !start.is_multiple_of(width) {
                return Err(Error::InvalidTreeRange {
                    reason: "range is not aligned to a subtree",
                    size: hi,
                });
            }
            parts.push(src.subtree_hash(level, start >> level)?);
            start += width;
        }
    }
    let mut iter = parts.into_iter().rev();
    let mut acc = iter.next().ok_or(Error::InvalidTreeRange {
        reason: "empty range",
        size: hi,
    })?;
    for left in iter {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

/// The root hash of the tree of `size` leaves (the empty-tree hash for 0).
pub fn tree_hash(size: u64, src: &dyn HashSource) -> Result<Hash> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(0, size, src)
}

/// The inclusion proof (RFC 6962 PATH) for leaf `index` in the tree of `size`, ordered
/// from the leaf's sibling up to the root's child.
pub fn inclusion_proof(index: u64, size: u64, src: &dyn HashSource) -> Result<Vec<Hash>> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index - lo < k {
            proof.push(range_hash(lo + k, hi, src)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(lo, lo + k, src)?);
            lo += k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof (RFC 6962 SUBPROOF) from the tree of `size1` to the tree of
/// `size2`. Requires `0 < size1 <= size2`; equal sizes give an empty proof.
pub fn consistency_proof(size1: u64, size2: u64, src: &dyn HashSource) -> Result<Vec<Hash>> {
    check_consistency_sizes(size1, size2, 0)?;
    let mut proof = Vec::new();
    let (mut lo, mut hi, mut m, mut complete) = (0u64, size2, size1, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !complete {
                proof.push(range_hash(lo, hi, src)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(range_hash(lo + k, hi, src)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(lo, lo + k, src)?);
            m -= k;
            lo += k;
            complete = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

// ---------------------------------------------------------------------------------------
// Stored hash index (Go sumdb/tlog layout) and the in-memory tree
// ---------------------------------------------------------------------------------------

/// Position of the hash of subtree (`level`, `n`) in the append-only sequence of all
/// stored node hashes (golang.org/x/mod/sumdb/tlog `StoredHashIndex`). Returns `None` on
/// overflow.
pub fn stored_hash_index(level: u8, n: u64) -> Option<u64> {
    // Level L's n'th hash is written right after level L+1's 2n+1'th hash.
    let mut n = n;
    for _ in 0..level {
        n = n.checked_mul(2)?.checked_add(1)?;
    }
    // Level 0's n'th hash is written at n + n/2 + n/4 + ...
    let mut i = 0u64;
    while n > 0 {
        i = i.checked_add(n)?;
        n >>= 1;
    }
    i.checked_add(u64::from(level))
}

/// Number of stored hashes for a tree of `size` leaves (Go `StoredHashCount`).
pub fn stored_hash_count(size: u64) -> Option<u64> {
    if size == 0 {
        return Some(0);
    }
    // The last leaf hash is followed by the hashes of the subtrees it completes.
    let last = size - 1;
    let idx = stored_hash_index(0, last)?;
    idx.checked_add(1)?
        .checked_add(u64::from(last.trailing_ones() as u8))
}

/// An append-only in-memory Merkle tree storing every complete node hash in stored-hash
/// order. Good for tests and as the model of a log server's node storage.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    size: u64,
    stored: Vec<Hash>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a tree from leaf hashes.
    pub fn from_leaf_hashes<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut t = Self::new();
        for l in leaves {
            t.push_leaf_hash(l);
        }
        t
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// All stored hashes, in stored-hash-index order.
    pub fn stored_hashes(&self) -> &[Hash] {
        &self.stored
    }

    /// Appends an entry (hashing it as a leaf); returns its index.
    pub fn push_entry(&mut self, entry: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(entry))
    }

    /// Appends a leaf hash; returns its index.
    pub fn push_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.size;
        self.stored.push(leaf);
        let mut h = leaf;
        let mut n = index;
        let mut level = 0u8;
        while n & 1 == 1 {
            // Left sibling: subtree (level, n - 1); it is complete, so it is stored.
            let left = stored_hash_index(level, n - 1)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| self.stored.get(i))
                .copied()
                .unwrap_or(h);
            h = node_hash(&left, &h);
            self.stored.push(h);
            n >>= 1;
            level += 1;
        }
        self.size += 1;
        index
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        tree_hash(self.size, self).unwrap_or_else(|_| empty_root())
    }
}

impl HashSource for MemoryTree {
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash> {
        let missing = Error::MissingHash { level, index };
        if level >= 64 {
            return Err(missing);
        }
        let end = index
            .checked_add(1)
            .and_then(|e| e.checked_mul(1u64 << level))
            .ok_or_else(|| missing.clone())?;
        if end > self.size {
            return Err(missing);
        }
        stored_hash_index(level, index)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.stored.get(i))
            .copied()
            .ok_or(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_hash_index_matches_go() {
        // Values from golang.org/x/mod/sumdb/tlog's layout comment: level-0 hashes at
        // 0,1,3,4,7,...; level-1 hash 0 at 2; level-2 hash 0 at 6.
        assert_eq!(stored_hash_index(0, 0), Some(0));
        assert_eq!(stored_hash_index(0, 1), Some(1));
        assert_eq!(stored_hash_index(1, 0), Some(2));
        assert_eq!(stored_hash_index(0, 2), Some(3));
        assert_eq!(stored_hash_index(0, 3), Some(4));
        assert_eq!(stored_hash_index(1, 1), Some(5));
        assert_eq!(stored_hash_index(2, 0), Some(6));
        assert_eq!(stored_hash_count(4), Some(7));
        assert_eq!(stored_hash_count(5), Some(8));
    }

    #[test]
    fn memory_tree_stores_in_index_order() {
        let t = MemoryTree::from_leaf_hashes((0..13u8).map(|i| leaf_hash(&[i])));
        assert_eq!(
            t.stored_hashes().len() as u64,
            stored_hash_count(13).unwrap()
        );
    }
}
