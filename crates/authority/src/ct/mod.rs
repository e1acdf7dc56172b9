//! chainseal's certificate transparency log: it logs precertificates in an RFC 6962 Merkle
//! tree and answers each with a signed certificate timestamp, persisted and served as a
//! C2SP static-ct-api log (checkpoint, hash tiles, data tiles, issuers; the `disk` module loads and checks it).
//!
//! The SCT signs exactly the bytes `chainseal_crypto::sct::signed_data` reconstructs:
//! `version || signature_type(0) || timestamp || entry_type(1) || issuer_key_hash ||
//! u24 TBS || u16 extensions`. The Merkle leaf (`MerkleTreeLeaf`, RFC 6962 §3.4) has the
//! same layout with `leaf_type(0)` in place of `signature_type(0)`, so the same bytes are
//! logged: the data tile record is `TimestampedEntry` (those bytes without the first two)
//! `|| pre_certificate || chain fingerprints`. The extensions are the static-ct-api
//! `leaf_index` extension, so an SCT names the entry it stands for.
//!
//! An SCT is returned only once its entry is durable: under one lock, the entry is
//! appended, the new tiles are written (tmp → fsync → rename, folders fsynced), then a new
//! checkpoint signed with the log's key ([`note::Rfc6962Signer`]). A CA issues at human
//! rates, so every certificate gets its own checkpoint (no merge delay).

mod disk;
pub mod note;
pub(crate) mod serve;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use chainseal_crypto::keys::{KeyKind, PrivateKey, PublicKey, sha256};
use chainseal_crypto::sct::{Sct, signed_data};
use chainseal_log_server::files;
use chainseal_tlog::checkpoint::Checkpoint;
use chainseal_tlog::note::Note;
use chainseal_tlog::static_ct::{encode_precert_tile_leaf, leaf_index_extensions};

use crate::error::{Error, Result};
use disk::State;
pub use note::Rfc6962Signer;

/// A CT log signing SCTs with an ECDSA P-256 key (SHA-256, as Sigstore clients require).
pub struct CtLog {
    key: PrivateKey,
    log_id: [u8; 32],
    origin: String,
    dir: Option<PathBuf>,
    tmp_seq: AtomicU64,
    state: Mutex<State>,
}

impl std::fmt::Debug for CtLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtLog")
            .field("log_id", &hex::encode(self.log_id))
            .field("origin", &self.origin)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The checkpoint origin of the CT log of an authority served at `public_url`: the URL
/// without its scheme and trailing slashes, plus `/ct` (the log's prefix, as the trusted
/// root's `ctlogs[].baseUrl` says).
pub fn origin_for_url(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    format!("{}/ct", rest.trim_end_matches('/'))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn lock_err() -> Error {
    Error::Crypto("CT log lock poisoned".into())
}

impl CtLog {
    /// An in-memory log signing with `key` (must be ECDSA P-256): nothing is persisted or
    /// served (tests and one-off tools). The authority uses [`CtLog::open`].
    pub fn new(key: PrivateKey) -> Result<Self> {
        if key.kind() != KeyKind::EcdsaP256 {
            return Err(Error::Config(format!(
                "CT log key must be ECDSA P-256, not {:?}",
                key.kind()
            )));
        }
        let log_id = sha256(key.public_key().spki_der());
        Ok(Self {
            origin: format!("chainseal.invalid/ct/{}", hex::encode(&log_id[..8])),
            key,
            log_id,
            dir: None,
            tmp_seq: AtomicU64::new(0),
            state: Mutex::new(State::empty()),
        })
    }

    /// The log persisted in `dir` (next to its key: `D/ct-<n>/log/`, see
    /// [`crate::store::AuthorityDir::ct_log_dir`]).
    ///
    /// An absent (or empty) folder is a new, empty log named `origin`, which is stored
    /// and never changes afterwards (a later `origin` argument is ignored). An existing
    /// log is loaded only if its checkpoint verifies under `key` and its name, and the
    /// right-edge tiles give the checkpoint's root; otherwise the error names the file. A
    /// folder with tiles but no checkpoint is refused (the error says how to recover).
    pub fn open(key: PrivateKey, dir: &Path, origin: &str) -> Result<Self> {
        let mut log = Self::new(key)?;
        if dir.exists() {
            files::remove_leftovers(dir);
        }
        log.origin = match disk::read_origin(dir)? {
            Some(o) => o,
            None => {
                if !chainseal_tlog::note::is_valid_key_name(origin) {
                    return Err(Error::Config(format!(
                        "CT log origin {origin:?} is not a valid log name"
                    )));
                }
                log.write(
                    dir,
                    &[(disk::ORIGIN.to_owned(), format!("{origin}\n").into_bytes())],
                )?;
                origin.to_owned()
            }
        };
        let state = match disk::load(dir, &log.origin, &log.key)? {
            Some(s) => s,
            None => {
                let mut s = State::empty();
                log.publish(dir, &mut s, Vec::new(), 0)?;
                s
            }
        };
        log.dir = Some(dir.to_owned());
        log.state = Mutex::new(state);
        Ok(log)
    }

    /// The RFC 6962 log ID (SHA-256 of the public key's SPKI DER).
    pub fn log_id(&self) -> [u8; 32] {
        self.log_id
    }

    /// The log's public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The checkpoint origin (and note key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The folder the log is persisted in (its static-ct-api monitoring prefix); `None`
    /// for an in-memory log.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Number of logged precertificates.
    pub fn size(&self) -> u64 {
        self.state.lock().map(|s| s.tree.size()).unwrap_or(0)
    }

    /// The current Merkle tree root.
    pub fn root(&self) -> Option<[u8; 32]> {
        self.state.lock().ok().map(|s| s.root)
    }

    fn write(&self, dir: &Path, objects: &[(String, Vec<u8>)]) -> Result<()> {
        files::write_objects(dir, &self.tmp_seq, objects)
            .map_err(|e| Error::Storage(format!("CT log {}: {e}", dir.display())))
    }

    /// Writes `writes` (tiles, issuers), then a checkpoint for the tree in `state` signed at
    /// a time no earlier than `min_ms` or any earlier checkpoint; prunes partial tiles
    /// made obsolete by full ones.
    fn publish(
        &self,
        dir: &Path,
        state: &mut State,
        writes: Vec<(String, Vec<u8>)>,
        min_ms: u64,
    ) -> Result<()> {
        self.write(dir, &writes)?;
        let ts = now_ms().max(min_ms).max(state.last_ms);
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size: state.tree.size(),
            root_hash: state.root,
            extensions: Vec::new(),
        };
        let signer = Rfc6962Signer::new(&self.origin, &self.key, ts)?;
        let mut note =
            Note::new(cp.to_text()).map_err(|e| Error::Crypto(format!("checkpoint: {e}")))?;
        note.sign(&signer)
            .map_err(|e| Error::Crypto(format!("signing the CT checkpoint: {e}")))?;
        let bytes = note.to_bytes();
        self.write(dir, &[(disk::CHECKPOINT.to_owned(), bytes.clone())])?;
        state.checkpoint = bytes;
        state.last_ms = ts;
        let full = chainseal_log_server::storage::full_tiles(&writes);
        if !full.is_empty()
            && let Err(e) = files::remove_partial_dirs(dir, &full)
        {
            tracing::warn!("CT log: pruning partial tiles: {e}");
        }
        Ok(())
    }

    /// Brings `state` in line with the folder before an append: reloads it when the last
    /// append did not complete or the checkpoint on disk is not the one last written
    /// (another authority process wrote to the same folder).
    fn sync(&self, dir: &Path, state: &mut State) -> Result<()> {
        let path = dir.join(disk::CHECKPOINT);
        let on_disk =
            std::fs::read(&path).map_err(Error::io(format!("reading {}", path.display())))?;
        if state.dirty || on_disk != state.checkpoint {
            *state = disk::load(dir, &self.origin, &self.key)?
                .ok_or_else(|| Error::Config(format!("CT log: {} vanished", path.display())))?;
        }
        Ok(())
    }

    /// Logs a precertificate entry and returns its SCT, once the entry and a checkpoint
    /// covering it are durable.
    ///
    /// `precert_tbs` is the final certificate's TBSCertificate without the SCT list (and
    /// without the poison); `issuer_key_hash` is SHA-256 of the issuing CA's SPKI;
    /// `precert_der` is the signed precertificate; `chain` the DER of the certificates
    /// above it (the issuing intermediate first, then the root).
    pub fn add_precert(
        &self,
        issuer_key_hash: &[u8; 32],
        precert_tbs: &[u8],
        timestamp_ms: u64,
        precert_der: &[u8],
        chain: &[&[u8]],
    ) -> Result<Sct> {
        let mut state = self.state.lock().map_err(|_| lock_err())?;
        // Another process may append to the same folder: hold its lock from the reload to
        // the checkpoint, so that two appends never build on the same size.
        let _folder_lock = match &self.dir {
            Some(dir) => Some(lock_folder(dir)?),
            None => None,
        };
        if let Some(dir) = &self.dir {
            self.sync(dir, &mut state)?;
        } else if state.dirty {
            return Err(Error::Config(
                "in-memory CT log: an earlier append failed; its tree is unusable".into(),
            ));
        }
        let index = state.tree.size();
        let mut sct = Sct {
            version: 0,
            log_id: self.log_id,
            timestamp_ms,
            extensions: leaf_index_extensions(index)
                .map_err(|e| Error::Config(format!("CT log: {e}")))?,
            hash_alg: 4, // SHA-256
            sig_alg: 3,  // ECDSA
            signature: Vec::new(),
        };
        let data = signed_data(&sct, issuer_key_hash, precert_tbs)?;
        sct.signature = self.key.sign(&data)?;
        // TimestampedEntry: the signed data without version and signature_type.
        let fingerprints: Vec<[u8; 32]> = chain.iter().map(|c| sha256(c)).collect();
        let record = encode_precert_tile_leaf(&data[2..], precert_der, &fingerprints)
            .map_err(|e| Error::BadRequest(format!("CT log entry: {e}")))?;
        state.dirty = true;
        let tile_writes = state
            .tree
            .append(&[record])
            .map_err(|e| Error::Config(format!("CT log: {e}")))?;
        state.root = state
            .tree
            .root_at(index + 1)
            .map_err(|e| Error::Config(format!("CT log: {e}")))?;
        if let Some(dir) = &self.dir {
            // Issuers first: every fingerprint in a published data tile resolves.
            let mut writes = Vec::new();
            for (fp, der) in fingerprints.iter().zip(chain) {
                if !state.issuers.contains(fp) {
                    if !dir.join(disk::issuer_path(fp)).exists() {
                        writes.push((disk::issuer_path(fp), der.to_vec()));
                    }
                    state.issuers.insert(*fp);
                }
            }
            writes.extend(tile_writes);
            self.publish(dir, &mut state, writes, timestamp_ms)?;
        }
        state.dirty = false;
        Ok(sct)
    }
}

/// An exclusive lock on `dir/.lock`, released when the returned file is closed.
fn lock_folder(dir: &std::path::Path) -> Result<std::fs::File> {
    let path = dir.join(".lock");
    let storage = |e: std::io::Error| Error::Storage(format!("locking {}: {e}", path.display()));
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(storage)?;
    f.lock().map_err(storage)?;
    Ok(f)
}

/// Serialises one SCT (RFC 6962 §3.2 `SignedCertificateTimestamp`).
fn encode_sct(sct: &Sct) -> Result<Vec<u8>> {
    let u16_len = |n: usize| {
        u16::try_from(n)
            .map(u16::to_be_bytes)
            .map_err(|_| Error::Crypto("SCT field too long".into()))
    };
    let mut out = Vec::with_capacity(120 + sct.signature.len());
    out.push(sct.version);
    out.extend_from_slice(&sct.log_id);
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&u16_len(sct.extensions.len())?);
    out.extend_from_slice(&sct.extensions);
    out.push(sct.hash_alg);
    out.push(sct.sig_alg);
    out.extend_from_slice(&u16_len(sct.signature.len())?);
    out.extend_from_slice(&sct.signature);
    Ok(out)
}

/// The TLS `SignedCertificateTimestampList` for `scts`.
pub fn encode_sct_list(scts: &[Sct]) -> Result<Vec<u8>> {
    let mut list = Vec::new();
    for sct in scts {
        let one = encode_sct(sct)?;
        let len = u16::try_from(one.len()).map_err(|_| Error::Crypto("SCT too long".into()))?;
        list.extend_from_slice(&len.to_be_bytes());
        list.extend_from_slice(&one);
    }
    let total = u16::try_from(list.len()).map_err(|_| Error::Crypto("SCT list too long".into()))?;
    let mut out = total.to_be_bytes().to_vec();
    out.extend_from_slice(&list);
    Ok(out)
}
