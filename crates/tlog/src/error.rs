//! The one error type of `chainseal-tlog`.

/// Everything that can go wrong in this crate. Each variant names the check that failed
/// and carries enough context (sizes, indices, hex hashes, key names) to diagnose it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A leaf index is not inside the tree (`index >= size`).
    #[error("inclusion proof: leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A proof has the wrong number of hashes for its (index, size) or (size1, size2).
    #[error("{proof} proof: wrong length: got {got} hashes, expected {expected}")]
    ProofLength {
        /// `"inclusion"`, `"consistency"`, `"subtree inclusion"` or `"subtree consistency"`.
        proof: &'static str,
        /// Number of hashes received.
        got: usize,
        /// Number of hashes the sizes require.
        expected: usize,
    },
    /// A value that must be a SHA-256 hash is not 32 bytes long.
    #[error("{what}: hash must be 32 bytes, got {got}")]
    HashLength {
        /// Which value.
        what: &'static str,
        /// Its length.
        got: usize,
    },
    /// The root recomputed from an inclusion proof differs from the expected root.
    #[error("inclusion proof: computed root {computed} != expected root {expected}")]
    InclusionRootMismatch {
        /// Hex of the recomputed root.
        computed: String,
        /// Hex of the expected root.
        expected: String,
    },
    /// The root recomputed from a consistency proof differs from the expected root.
    #[error(
        "consistency proof: computed {which} root {computed} != expected {which} root {expected}"
    )]
    ConsistencyRootMismatch {
        /// `"old"` (size1) or `"new"` (size2).
        which: &'static str,
        /// Hex of the recomputed root.
        computed: String,
        /// Hex of the expected root.
        expected: String,
    },
    /// The sizes given to a consistency proof are not a valid pair.
    #[error("consistency proof: invalid sizes {size1} -> {size2}: {reason}")]
    ConsistencySizes {
        /// The old size.
        size1: u64,
        /// The new size.
        size2: u64,
        /// Why the pair is rejected.
        reason: &'static str,
    },
    /// A hash source could not provide a node hash the computation needs.
    #[error("hash source: missing hash of subtree level {level} index {index}")]
    MissingHash {
        /// Subtree height (0 = leaf).
        level: u8,
        /// Index of the subtree at that level.
        index: u64,
    },
    /// A size/range argument to proof generation or tree hashing is invalid.
    #[error("proof generation: {reason} (size {size})")]
    InvalidTreeRange {
        /// Why.
        reason: &'static str,
        /// The size involved.
        size: u64,
    },
    /// A signed note is malformed (encoding, layout, or a signature line).
    #[error("signed note: malformed: {reason}")]
    NoteMalformed {
        /// What is wrong.
        reason: String,
    },
    /// A signature from a known key (name and key ID match) failed to verify.
    #[error("signed note: signature by known key {name}+{key_id:08x} does not verify")]
    NoteBadSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// No signature on the note was made by a known key.
    #[error("signed note: no signature from a known key verified")]
    NoteNoVerifiedSignature,
    /// A verifier or signer key string is malformed or unsupported.
    #[error("note key: {reason}")]
    InvalidKey {
        /// What is wrong.
        reason: String,
    },
    /// Signing failed.
    #[error("signing: {reason}")]
    Signing {
        /// Why.
        reason: String,
    },
    /// A checkpoint body is malformed.
    #[error("checkpoint: {reason}")]
    CheckpointMalformed {
        /// What is wrong.
        reason: String,
    },
    /// `[start, end)` is not a valid subtree (draft-ietf-plants-merkle-tree-certs §4.1:
    /// `start <= end` and `start` a multiple of `BIT_CEIL(end - start)`).
    #[error("subtree [{start}, {end}) is invalid: {reason}")]
    InvalidSubtree {
        /// First index of the subtree.
        start: u64,
        /// One past the last index of the subtree.
        end: u64,
        /// Why the range is rejected.
        reason: &'static str,
    },
    /// A leaf index is not inside the subtree (`index < start` or `index >= end`).
    #[error("subtree inclusion proof: index {index} is outside subtree [{start}, {end})")]
    SubtreeIndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// First index of the subtree.
        start: u64,
        /// One past the last index of the subtree.
        end: u64,
    },
    /// A subtree does not fit in the tree it is claimed to be consistent with (`end > size`).
    #[error("subtree consistency proof: subtree [{start}, {end}) does not fit in tree size {size}")]
    SubtreeBeyondTree {
        /// First index of the subtree.
        start: u64,
        /// One past the last index of the subtree.
        end: u64,
        /// The tree size.
        size: u64,
    },
    /// A hash recomputed from a subtree inclusion/consistency proof differs from the
    /// expected one.
    #[error("{proof} proof: computed {which} hash {computed} != expected {which} hash {expected}")]
    SubtreeHashMismatch {
        /// `"subtree inclusion"` or `"subtree consistency"`.
        proof: &'static str,
        /// `"subtree"` (the subtree hash) or `"tree"` (the root of the whole tree).
        which: &'static str,
        /// Hex of the recomputed hash.
        computed: String,
        /// Hex of the expected hash.
        expected: String,
    },
    /// A tile path is malformed.
    #[error("tile path {path:?}: {reason}")]
    TilePath {
        /// The offending path (truncated to 200 characters).
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A tile, data tile or entry bundle body is malformed.
    #[error("tile: {reason}")]
    TileMalformed {
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn note(reason: impl Into<String>) -> Self {
        Error::NoteMalformed {
            reason: reason.into(),
        }
    }
    pub(crate) fn key(reason: impl Into<String>) -> Self {
        Error::InvalidKey {
            reason: reason.into(),
        }
    }
    pub(crate) fn checkpoint(reason: impl Into<String>) -> Self {
        Error::CheckpointMalformed {
            reason: reason.into(),
        }
    }
    pub(crate) fn tile(reason: impl Into<String>) -> Self {
        Error::TileMalformed {
            reason: reason.into(),
        }
    }
}

/// Shorthand for `Result<T, chainseal_tlog::Error>`.
pub type Result<T> = std::result::Result<T, Error>;
