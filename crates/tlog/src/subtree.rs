//! Subtrees of a Merkle tree and their proofs (draft-ietf-plants-merkle-tree-certs §4).
//!
//! A *subtree* `[start, end)` of the tree `MTH(D_n)` is the Merkle tree `MTH(D[start:end])`
//! built over that interval as an independent list. It is *valid* when
//! `0 <= start <= end` and `start` is a multiple of `BIT_CEIL(end - start)` (the smallest
//! power of two `>= end - start`); this alignment is what makes it provable against the
//! whole tree. `[0, x)` and the empty `[x, x)` are always valid.
//!
//! Two proofs exist:
//!
//! - a **subtree inclusion proof** shows that entry `index` is in the subtree: it is the
//!   RFC 9162 inclusion proof of leaf `index - start` in the tree `D[start:end]` (§4.3);
//! - a **subtree consistency proof** shows that the subtree hash and the root of the tree
//!   of `n` leaves were built over the same entries `D[start:end]` (§4.4). It is a
//!   consistency proof when `start == 0` and an inclusion proof when `end == start + 1`.
//!
//! Consistency verification is the draft's bit walk (§4.4.3) step by step; inclusion
//! evaluation is RFC 9162 §2.1.3.2 over `D[start:end]`, which is what §4.3.2 specifies.
//! Like the rest of this crate, both first compute the exact proof length the parameters
//! require and reject any other length before hashing. Generation (§4.4.1,
//! `SUBTREE_PROOF`) works over any [`HashSource`], so a log server or a witness answering
//! `sign-subtree` can use stored hashes or tiles.
//!
//! Policy (the draft's, and transparency-dev/merkle's test vectors): the empty subtree
//! `[x, x)` with `x <= n` is consistent with any tree when its hash is `SHA-256("")` and
//! the proof is empty (the tree root is not examined); it contains no entry, so every
//! inclusion proof into it fails.

use crate::error::{Error, Result};
use crate::merkle::{
    Hash, HashSource, empty_root, hash_from_slice, inclusion_proof, inclusion_proof_len, node_hash,
    root_from_inclusion_proof, tree_hash,
};

const INCLUSION: &str = "subtree inclusion";
const CONSISTENCY: &str = "subtree consistency";

/// Whether `[start, end)` is a valid subtree: `start <= end` and `start` is a multiple of
/// `BIT_CEIL(end - start)` (draft §4.1; `BIT_CEIL(0) = 1`, so `[x, x)` is valid).
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    check_subtree(start, end).is_ok()
}

/// [`is_valid_subtree`] with a reason: [`Error::InvalidSubtree`] when the range is not a
/// valid subtree.
pub fn check_subtree(start: u64, end: u64) -> Result<()> {
    let invalid = |reason| Error::InvalidSubtree { start, end, reason };
    if start > end {
        return Err(invalid("start is greater than end"));
    }
    let size = end - start;
    // BIT_CEIL(size) overflows u64 above 2^63; only start = 0 is a multiple of 2^64.
    match size.checked_next_power_of_two() {
        Some(ceil) if start & (ceil - 1) == 0 => Ok(()),
        Some(_) => Err(invalid(
            "start is not a multiple of the smallest power of two >= end - start",
        )),
        None if start == 0 => Ok(()),
        None => Err(invalid("a subtree larger than 2^63 must start at 0")),
    }
}

fn check_subtree_in_tree(start: u64, end: u64, size: u64) -> Result<()> {
    check_subtree(start, end)?;
    if end > size {
        return Err(Error::SubtreeBeyondTree { start, end, size });
    }
    Ok(())
}

fn check_index(index: u64, start: u64, end: u64) -> Result<()> {
    check_subtree(start, end)?;
    if index < start || index >= end {
        return Err(Error::SubtreeIndexOutOfRange { index, start, end });
    }
    Ok(())
}

fn wrong_length(proof: &'static str, got: usize, expected: usize) -> Error {
    Error::ProofLength {
        proof,
        got,
        expected,
    }
}

fn mismatch(proof: &'static str, which: &'static str, computed: &[u8], expected: &[u8]) -> Error {
    Error::SubtreeHashMismatch {
        proof,
        which,
        computed: hex::encode(computed),
        expected: hex::encode(expected),
    }
}

fn to_hashes<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<Hash>> {
    proof
        .iter()
        .map(|p| hash_from_slice("proof hash", p.as_ref()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Subtree inclusion proofs (§4.3)
// ---------------------------------------------------------------------------------------

/// The number of hashes in an inclusion proof of entry `index` in subtree `[start, end)`.
pub fn subtree_inclusion_proof_len(index: u64, start: u64, end: u64) -> Result<usize> {
    check_index(index, start, end)?;
    inclusion_proof_len(index - start, end - start)
}

/// Evaluates a subtree inclusion proof (§4.3.2): the subtree hash `MTH(D[start:end])`
/// implied by the entry hash `leaf` at `index`. Fails on an invalid subtree, an index
/// outside it, or a proof of the wrong length; the caller must compare the result with a
/// trusted subtree hash (or use [`verify_subtree_inclusion`]).
pub fn root_from_subtree_inclusion_proof(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash> {
    let expected = subtree_inclusion_proof_len(index, start, end)?;
    if proof.len() != expected {
        return Err(wrong_length(INCLUSION, proof.len(), expected));
    }
    root_from_inclusion_proof(index - start, end - start, leaf, proof)
}

/// Verifies that `leaf` (an entry hash) is entry `index` of the subtree `[start, end)`
/// whose hash is `subtree_hash` (§4.3.3).
pub fn verify_subtree_inclusion(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
    subtree_hash: &Hash,
) -> Result<()> {
    let computed = root_from_subtree_inclusion_proof(index, start, end, leaf, proof)?;
    if &computed != subtree_hash {
        return Err(mismatch(INCLUSION, "subtree", &computed, subtree_hash));
    }
    Ok(())
}

/// [`verify_subtree_inclusion`] over untyped byte slices (as decoded from JSON/base64):
/// every hash must be exactly 32 bytes.
pub fn verify_subtree_inclusion_bytes<P: AsRef<[u8]>>(
    index: u64,
    start: u64,
    end: u64,
    leaf: &[u8],
    proof: &[P],
    subtree_hash: &[u8],
) -> Result<()> {
    check_index(index, start, end)?;
    let leaf = hash_from_slice("leaf hash", leaf)?;
    let subtree_hash = hash_from_slice("subtree hash", subtree_hash)?;
    let proof = to_hashes(proof)?;
    verify_subtree_inclusion(index, start, end, &leaf, &proof, &subtree_hash)
}

// ---------------------------------------------------------------------------------------
// Subtree consistency proofs (§4.4)
// ---------------------------------------------------------------------------------------

/// The state of the §4.4.3 walk: `fn`, `sn`, `tn` as in the draft.
#[derive(Clone, Copy)]
struct Walk {
    f: u64,
    s: u64,
    t: u64,
}

impl Walk {
    /// Steps 3-5 of §4.4.3 for a non-empty subtree inside the tree (`start < end <= size`).
    fn new(start: u64, end: u64, size: u64) -> Self {
        let mut w = Walk {
            f: start,
            s: end - 1,
            t: size - 1,
        };
        if w.s == w.t {
            while w.f != w.s {
                w.shift();
            }
        } else {
            while w.f != w.s && w.s & 1 == 1 {
                w.shift();
            }
        }
        w
    }

    fn shift(&mut self) {
        self.f >>= 1;
        self.s >>= 1;
        self.t >>= 1;
    }

    /// Whether the proof starts with the hash of a node inside the subtree (otherwise the
    /// walk starts from the subtree hash itself).
    fn needs_seed(&self) -> bool {
        self.f != self.s
    }

    /// Whether the next proof hash is a left sibling (step 8.2) rather than a right one.
    fn left_sibling(&self) -> bool {
        self.s & 1 == 1 || self.s == self.t
    }

    /// After a left sibling: "until LSB(sn) is set, right-shift" (never loops on sn = 0).
    fn align_after_left(&mut self) {
        while self.s & 1 == 0 && self.s != 0 {
            self.shift();
        }
    }
}

/// The number of hashes in the consistency proof of subtree `[start, end)` with the tree
/// of `size` leaves (`0` for the empty subtree and for `[0, size)`).
pub fn subtree_consistency_proof_len(start: u64, end: u64, size: u64) -> Result<usize> {
    check_subtree_in_tree(start, end, size)?;
    if start == end {
        return Ok(0);
    }
    let mut w = Walk::new(start, end, size);
    let mut len = usize::from(w.needs_seed());
    // tn strictly decreases each round (it is shifted at least once), so this ends.
    while w.t != 0 {
        if w.left_sibling() {
            w.align_after_left();
        }
        w.shift();
        len += 1;
    }
    Ok(len)
}

/// Verifies that the subtree `[start, end)` with hash `subtree_hash` is consistent with
/// (contained in) the tree of `size` leaves with root `root` (§4.4.3).
///
/// Rejects an invalid subtree, `end > size`, and a proof of the wrong length before any
/// hashing. For the empty subtree `[x, x)` the proof must be empty and `subtree_hash` must
/// be `SHA-256("")`; `root` is not examined (an empty subtree is in every tree).
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    size: u64,
    proof: &[Hash],
    subtree_hash: &Hash,
    root: &Hash,
) -> Result<()> {
    let expected = subtree_consistency_proof_len(start, end, size)?;
    if proof.len() != expected {
        return Err(wrong_length(CONSISTENCY, proof.len(), expected));
    }
    if start == end {
        return check_empty_subtree_hash(subtree_hash);
    }
    let mut w = Walk::new(start, end, size);
    let (seed, rest) = if w.needs_seed() {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => return Err(wrong_length(CONSISTENCY, 0, expected)),
        }
    } else {
        (*subtree_hash, proof)
    };
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if w.t == 0 {
            return Err(wrong_length(CONSISTENCY, proof.len(), expected));
        }
        if w.left_sibling() {
            if w.f < w.s {
                fr = node_hash(c, &fr);
            }
            sr = node_hash(c, &sr);
            w.align_after_left();
        } else {
            sr = node_hash(&sr, c);
        }
        w.shift();
    }
    if w.t != 0 {
        return Err(wrong_length(CONSISTENCY, proof.len(), expected));
    }
    if &fr != subtree_hash {
        return Err(mismatch(CONSISTENCY, "subtree", &fr, subtree_hash));
    }
    if &sr != root {
        return Err(mismatch(CONSISTENCY, "tree", &sr, root));
    }
    Ok(())
}

fn check_empty_subtree_hash(subtree_hash: &[u8]) -> Result<()> {
    let empty = empty_root();
    if subtree_hash != empty {
        return Err(mismatch(CONSISTENCY, "subtree", &empty, subtree_hash));
    }
    Ok(())
}

/// [`verify_subtree_consistency`] over untyped byte slices, with transparency-dev/merkle's
/// semantics where no hashing happens: for the empty subtree the subtree hash must equal
/// `SHA-256("")` and the root is not examined; for `[0, size)` (empty proof) the two
/// hashes only need to be byte-identical. Otherwise every hash must be exactly 32 bytes.
pub fn verify_subtree_consistency_bytes<P: AsRef<[u8]>>(
    start: u64,
    end: u64,
    size: u64,
    proof: &[P],
    subtree_hash: &[u8],
    root: &[u8],
) -> Result<()> {
    let expected = subtree_consistency_proof_len(start, end, size)?;
    if proof.len() != expected {
        return Err(wrong_length(CONSISTENCY, proof.len(), expected));
    }
    if start == end {
        return check_empty_subtree_hash(subtree_hash);
    }
    if start == 0 && end == size {
        if subtree_hash != root {
            return Err(mismatch(CONSISTENCY, "tree", subtree_hash, root));
        }
        return Ok(());
    }
    let subtree_hash = hash_from_slice("subtree hash", subtree_hash)?;
    let root = hash_from_slice("root", root)?;
    let proof = to_hashes(proof)?;
    verify_subtree_consistency(start, end, size, &proof, &subtree_hash, &root)
}

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

/// A [`HashSource`] seen from leaf `offset`: subtree (`level`, `index`) of the view is
/// subtree (`level`, `index + offset >> level`) of the underlying source. Only levels at
/// which `offset` is aligned are answered.
struct Offset<'a> {
    src: &'a dyn HashSource,
    offset: u64,
}

impl HashSource for Offset<'_> {
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Hash> {
        let width = 1u64
            .checked_shl(u32::from(level))
            .ok_or(Error::MissingHash { level, index })?;
        if self.offset & (width - 1) != 0 {
            return Err(Error::InvalidTreeRange {
                reason: "range is not aligned to a subtree",
                size: self.offset,
            });
        }
        let index = index
            .checked_add(self.offset >> level)
            .ok_or(Error::MissingHash { level, index })?;
        self.src.subtree_hash(level, index)
    }
}

/// `MTH(D[lo:hi])` for a range aligned like a node of the RFC 6962 recursion (or a valid
/// subtree); the empty-tree hash for `lo == hi`.
fn range_hash(lo: u64, hi: u64, src: &dyn HashSource) -> Result<Hash> {
    if lo > hi {
        return Err(Error::InvalidTreeRange {
            reason: "range start is after its end",
            size: hi,
        });
    }
    tree_hash(hi - lo, &Offset { src, offset: lo })
}

/// The subtree hash `MTH(D[start:end])` (`SHA-256("")` for the empty subtree).
pub fn subtree_hash(start: u64, end: u64, src: &dyn HashSource) -> Result<Hash> {
    check_subtree(start, end)?;
    range_hash(start, end, src)
}

/// The inclusion proof of entry `index` in subtree `[start, end)` (§4.3): RFC 6962
/// `PATH(index - start, D[start:end])`, ordered from the entry's sibling upwards.
pub fn subtree_inclusion_proof(
    index: u64,
    start: u64,
    end: u64,
    src: &dyn HashSource,
) -> Result<Vec<Hash>> {
    check_index(index, start, end)?;
    inclusion_proof(index - start, end - start, &Offset { src, offset: start })
}

/// The consistency proof `SUBTREE_PROOF(start, end, D_size)` of subtree `[start, end)`
/// with the tree of `size` leaves (§4.4.1). Empty for `start == end` and for
/// `[0, size)`.
pub fn subtree_consistency_proof(
    start: u64,
    end: u64,
    size: u64,
    src: &dyn HashSource,
) -> Result<Vec<Hash>> {
    check_subtree_in_tree(start, end, size)?;
    let mut proof = Vec::new();
    if start == end {
        return Ok(proof);
    }
    // SUBTREE_SUBPROOF(start, end, D[lo:hi], known), unrolled: each step appends the
    // sibling it descends away from; the recursion's output order is the reverse.
    let (mut lo, mut hi, mut s, mut known) = (0u64, size, start, true);
    loop {
        if s == lo && end == hi {
            if !known {
                proof.push(range_hash(lo, hi, src)?);
            }
            break;
        }
        // Here lo <= s < end <= hi and [s, end) != [lo, hi), so hi - lo >= 2.
        let k = largest_power_of_two_below(hi - lo)?;
        let mid = lo + k;
        if end <= mid {
            proof.push(range_hash(mid, hi, src)?);
            hi = mid;
        } else if mid <= s {
            proof.push(range_hash(lo, mid, src)?);
            lo = mid;
        } else {
            // s < mid < end, which for a valid subtree implies s == lo.
            proof.push(range_hash(lo, mid, src)?);
            lo = mid;
            s = mid;
            known = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Largest power of two strictly less than `n` (`n >= 2`).
fn largest_power_of_two_below(n: u64) -> Result<u64> {
    if n < 2 {
        return Err(Error::InvalidTreeRange {
            reason: "no split point for a tree of fewer than 2 leaves",
            size: n,
        });
    }
    Ok(1u64 << (63 - (n - 1).leading_zeros()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_validity_matches_the_draft_definition() {
        for (start, end) in [(0, 0), (5, 5), (0, 13), (4, 8), (8, 13), (3, 4), (8, 12)] {
            assert!(is_valid_subtree(start, end), "[{start}, {end})");
        }
        for (start, end) in [(1, 3), (2, 5), (2, 6), (7, 9), (5, 4), (4, 13)] {
            assert!(!is_valid_subtree(start, end), "[{start}, {end})");
        }
        // BIT_CEIL overflow: only start 0 is valid above 2^63 leaves.
        assert!(is_valid_subtree(0, u64::MAX));
        assert!(is_valid_subtree(0, (1 << 63) + 1));
        assert!(!is_valid_subtree(1, (1 << 63) + 2));
        assert!(is_valid_subtree(1 << 63, u64::MAX));
        assert!(!is_valid_subtree(u64::MAX, 0));
    }

    #[test]
    fn proof_lengths_of_the_draft_examples() {
        // §4.4.2: [4, 8) in 14 has 2 hashes, [8, 13) in 14 has 4.
        assert_eq!(subtree_consistency_proof_len(4, 8, 14).unwrap(), 2);
        assert_eq!(subtree_consistency_proof_len(8, 13, 14).unwrap(), 4);
        // §4.3.1: entry 10 of [8, 13) has 3.
        assert_eq!(subtree_inclusion_proof_len(10, 8, 13).unwrap(), 3);
        assert_eq!(subtree_consistency_proof_len(0, 14, 14).unwrap(), 0);
        assert_eq!(subtree_consistency_proof_len(3, 3, 14).unwrap(), 0);
    }

    #[test]
    fn huge_parameters_do_not_panic() {
        let h = [0u8; 32];
        for (s, e, n) in [
            (0, u64::MAX, u64::MAX),
            (1 << 63, u64::MAX, u64::MAX),
            (0, 1, u64::MAX),
            (u64::MAX - 1, u64::MAX, u64::MAX),
        ] {
            let len = subtree_consistency_proof_len(s, e, n).unwrap();
            assert!(len <= 128);
            let proof = vec![h; len];
            let _ = verify_subtree_consistency(s, e, n, &proof, &h, &h);
        }
        let _ = verify_subtree_inclusion(u64::MAX - 1, 0, u64::MAX, &h, &[h; 64], &h);
    }
}
