//! The witness itself, without HTTP: the `add-checkpoint` decision procedure and
//! cosigning.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use chainseal_tlog::keys::{Ed25519Signer, parse_vkey};
use chainseal_tlog::merkle::verify_consistency;
use chainseal_tlog::note::NoteSignature;
use chainseal_tlog::witness_protocol::AddCheckpointRequest;
use chainseal_tlog::{Checkpoint, Note, NoteSigner, NoteVerifier};

use crate::error::{Error, Result};
use crate::store::{LogRecord, Store};

/// How to start a witness.
#[derive(Debug, Clone, Default)]
pub struct WitnessConfig {
    /// State directory (records and, unless `key_file` is given, the key).
    pub state_dir: PathBuf,
    /// Witness key name; required when the key is generated, checked otherwise.
    pub name: Option<String>,
    /// A `PRIVATE+KEY+…` cosignature/v1 key file to use instead of the generated one.
    pub key_file: Option<PathBuf>,
    /// Trusted log verifier keys (vkeys). The key name is the log's origin; several keys
    /// may share an origin.
    pub logs: Vec<String>,
}

type Verifier = Box<dyn NoteVerifier + Send + Sync>;

/// The signing half, behind one lock with the records so check-and-persist is atomic.
struct Inner {
    signer: Ed25519Signer,
    records: HashMap<String, LogRecord>,
}

/// A C2SP tlog-witness: verifies submitted checkpoints against trusted log keys and its
/// own record of each log, persists the new record, and returns a cosignature/v1.
pub struct Witness {
    store: Store,
    logs: HashMap<String, Vec<Verifier>>,
    vkey: String,
    name: String,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.name)
            .field("state", &self.store.dir())
            .field("logs", &self.logs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Witness {
    /// Opens the state directory, loads or generates the key, parses the log keys and
    /// loads every configured log's record (a corrupt record is an error).
    pub fn open(config: &WitnessConfig) -> Result<Self> {
        if config.logs.is_empty() {
            return Err(Error::Key {
                reason: "no log keys configured (--log <vkey>)".into(),
            });
        }
        let store = Store::open(&config.state_dir)?;
        let signer =
            store.load_or_generate_key(config.name.as_deref(), config.key_file.as_deref())?;
        let mut logs: HashMap<String, Vec<Verifier>> = HashMap::new();
        for vkey in &config.logs {
            let v = parse_vkey(vkey.trim()).map_err(|e| Error::Key {
                reason: format!("log key {vkey:?}: {e}"),
            })?;
            logs.entry(v.name().to_owned()).or_default().push(v);
        }
        let mut records = HashMap::new();
        for origin in logs.keys() {
            if let Some(r) = store.load(origin)? {
                records.insert(origin.clone(), r);
            }
        }
        Ok(Self {
            vkey: signer.to_vkey(),
            name: signer.name().to_owned(),
            store,
            logs,
            inner: Mutex::new(Inner { signer, records }),
        })
    }

    /// The witness's cosignature/v1 verifier key.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The witness's key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The latest cosigned checkpoint (with this witness's cosignature) of the log whose
    /// origin hashes to `origin_id` (lowercase hex SHA-256), if any.
    pub fn latest(&self, origin_id: &str) -> Option<Vec<u8>> {
        let inner = self.inner.lock().ok()?;
        inner
            .records
            .iter()
            .find(|(o, _)| crate::store::origin_id(o) == origin_id)
            .map(|(_, r)| r.note.clone())
    }

    /// The size this witness last cosigned for `origin` (0 if never).
    pub fn cosigned_size(&self, origin: &str) -> u64 {
        self.inner
            .lock()
            .ok()
            .and_then(|i| i.records.get(origin).map(|r| r.size))
            .unwrap_or(0)
    }

    /// Handles one `add-checkpoint` request body and returns the response body (the
    /// cosignature line). The checks, in the protocol's order: framing (400), known origin
    /// (404), a trusted log signature (403), old ≤ new (400), old = stored size (409),
    /// then consistency (422). Check, persist and sign happen under one lock.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<Vec<u8>> {
        let req = AddCheckpointRequest::parse(body).map_err(|e| Error::BadRequest {
            reason: e.to_string(),
        })?;
        let mut note = Note::parse(&req.checkpoint).map_err(|e| Error::BadRequest {
            reason: e.to_string(),
        })?;
        let cp = Checkpoint::parse(note.text()).map_err(|e| Error::BadRequest {
            reason: e.to_string(),
        })?;
        let origin = cp.origin.clone();
        let keys = self.logs.get(&origin).ok_or_else(|| Error::UnknownOrigin {
            origin: origin.clone(),
        })?;
        let refs: Vec<&dyn NoteVerifier> = keys.iter().map(|k| k.as_ref() as _).collect();
        note.verify(&refs).map_err(|e| Error::Forbidden {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        let (old, new) = (req.old_size, cp.size);
        if old > new {
            return Err(Error::OldSizeTooLarge { old, new });
        }
        let inconsistent = |reason: String| Error::Inconsistent {
            origin: origin.clone(),
            old,
            new,
            reason,
        };

        let mut inner = self.inner.lock().map_err(|_| Error::Signing {
            reason: "witness lock poisoned".into(),
        })?;
        let stored = inner.records.get(&origin);
        let stored_size = stored.map_or(0, |r| r.size);
        if old != stored_size {
            return Err(Error::Conflict {
                origin,
                old,
                stored: stored_size,
            });
        }
        if new == 0 {
            return Err(inconsistent("the empty tree is not cosigned".into()));
        }
        match stored {
            None => {
                if !req.proof.is_empty() {
                    return Err(inconsistent(format!(
                        "old size 0 requires an empty proof, got {} hashes",
                        req.proof.len()
                    )));
                }
            }
            Some(rec) => verify_consistency(old, new, &req.proof, &rec.root, &cp.root_hash)
                .map_err(|e| inconsistent(e.to_string()))?,
        }

        let ts = now_secs().max(1);
        inner.signer.set_timestamp(ts).map_err(|e| Error::Signing {
            reason: e.to_string(),
        })?;
        let sig = inner
            .signer
            .sign(note.text().as_bytes())
            .map_err(|e| Error::Signing {
                reason: e.to_string(),
            })?;
        let cosig = NoteSignature {
            name: inner.signer.name().to_owned(),
            key_id: inner.signer.key_id(),
            signature: sig,
        };
        // Keep the log's own signatures and replace any earlier cosignature of ours.
        let mut kept = Note::new(note.text()).map_err(|e| Error::BadRequest {
            reason: e.to_string(),
        })?;
        for s in note.signatures() {
            if !(s.name == cosig.name && s.key_id == cosig.key_id) {
                kept.add_signature(s.clone())
                    .map_err(|e| Error::BadRequest {
                        reason: e.to_string(),
                    })?;
            }
        }
        note = kept;
        note.add_signature(cosig.clone())
            .map_err(|e| Error::Signing {
                reason: e.to_string(),
            })?;
        let record = LogRecord {
            size: new,
            root: cp.root_hash,
            note: note.to_bytes(),
        };
        self.store.save(&origin, &record)?;
        inner.records.insert(origin, record);
        Ok(cosig.to_line().into_bytes())
    }
}

/// The vkey of the witness key kept in `state_dir` (or in `key_file`). Never generates a
/// key: a missing key is an error.
pub fn read_vkey(state_dir: &Path, key_file: Option<&Path>) -> Result<String> {
    let path = key_file
        .map(Path::to_owned)
        .unwrap_or_else(|| state_dir.join(crate::store::KEY_FILE));
    if !path.try_exists().map_err(Error::io(&path))? {
        return Err(Error::Key {
            reason: format!(
                "no witness key at {} (start `witness serve` once to generate it)",
                path.display()
            ),
        });
    }
    let store = Store::open(state_dir)?;
    Ok(store.load_or_generate_key(None, Some(&path))?.to_vkey())
}
