//! On-disk state: the witness key and one record per log (the latest checkpoint it
//! cosigned, with its cosignature), each written tmp → fsync → rename → fsync(dir).
//!
//! Layout of the state directory (mode 0700):
//!
//! ```text
//! witness.key                         PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>, 0600
//! logs/<hex sha256(origin)>           the last cosigned checkpoint note (log sigs + ours)
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chainseal_tlog::keys::{Ed25519Signer, TYPE_COSIGNATURE_V1};
use chainseal_tlog::{Checkpoint, Hash, Note};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Name of the generated key file inside the state directory.
pub const KEY_FILE: &str = "witness.key";
/// Largest record or key file read back (a checkpoint with 100 signatures fits easily).
const MAX_FILE: u64 = 64 * 1024;

/// What the witness remembers about one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Size of the latest cosigned checkpoint.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The checkpoint note as cosigned (the log's signatures plus this witness's).
    pub note: Vec<u8>,
}

/// Lowercase hex SHA-256 of the origin: the record's file name and the monitoring path.
pub fn origin_id(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

#[cfg(unix)]
fn set_mode(opts: &mut fs::OpenOptions, mode: u32) {
    use std::os::unix::fs::OpenOptionsExt;
    opts.mode(mode);
}

#[cfg(not(unix))]
fn set_mode(_opts: &mut fs::OpenOptions, _mode: u32) {}

fn create_dir_private(dir: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(Error::io(dir))
}

fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).map_err(Error::io(path))?;
    if meta.len() > MAX_FILE {
        return Err(Error::CorruptState {
            path: path.to_owned(),
            reason: format!("{} bytes exceeds the {MAX_FILE}-byte limit", meta.len()),
        });
    }
    fs::read(path).map_err(Error::io(path))
}

/// Writes `data` to `path` atomically: a temporary file in the same directory, fsync,
/// rename over `path`, fsync of the directory.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    set_mode(&mut opts, mode);
    let mut f = opts.open(&tmp).map_err(Error::io(&tmp))?;
    f.write_all(data).map_err(Error::io(&tmp))?;
    f.sync_all().map_err(Error::io(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(Error::io(path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed, mode 0700) the state directory.
    pub fn open(dir: &Path) -> Result<Self> {
        create_dir_private(dir)?;
        create_dir_private(&dir.join("logs"))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, origin: &str) -> PathBuf {
        self.dir.join("logs").join(origin_id(origin))
    }

    /// Loads the record of `origin`, `None` if the witness never cosigned for it. A record
    /// that exists but does not parse, or names another origin, is an error: treating it
    /// as absent would let a log roll the witness back.
    pub fn load(&self, origin: &str) -> Result<Option<LogRecord>> {
        let path = self.record_path(origin);
        if !path.try_exists().map_err(Error::io(&path))? {
            return Ok(None);
        }
        let note = read_bounded(&path)?;
        let corrupt = |reason: String| Error::CorruptState {
            path: path.clone(),
            reason,
        };
        let parsed = Note::parse(&note).map_err(|e| corrupt(e.to_string()))?;
        let cp = Checkpoint::parse(parsed.text()).map_err(|e| corrupt(e.to_string()))?;
        if cp.origin != origin {
            return Err(corrupt(format!(
                "record holds origin {:?}, expected {origin:?}",
                cp.origin
            )));
        }
        Ok(Some(LogRecord {
            size: cp.size,
            root: cp.root_hash,
            note,
        }))
    }

    /// Persists the record of `origin` atomically (durable when this returns).
    pub fn save(&self, origin: &str, record: &LogRecord) -> Result<()> {
        write_atomic(&self.record_path(origin), &record.note, 0o600)
    }

    /// Loads the witness key from `key_file` (or the state's [`KEY_FILE`]), generating and
    /// saving a new cosignature/v1 key named `name` (mode 0600) if the state has none.
    /// An existing key must be a cosignature/v1 key and, when `name` is given, carry it.
    pub fn load_or_generate_key(
        &self,
        name: Option<&str>,
        key_file: Option<&Path>,
    ) -> Result<Ed25519Signer> {
        let path = key_file
            .map(Path::to_owned)
            .unwrap_or_else(|| self.dir.join(KEY_FILE));
        if !path.try_exists().map_err(Error::io(&path))? {
            if key_file.is_some() {
                return Err(Error::Key {
                    reason: format!("key file {} does not exist", path.display()),
                });
            }
            let name = name.ok_or_else(|| Error::Key {
                reason: "no witness key yet: give --name to generate one".into(),
            })?;
            let signer = Ed25519Signer::generate_cosigner(name).map_err(|e| Error::Key {
                reason: e.to_string(),
            })?;
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create_new(true);
            set_mode(&mut opts, 0o600);
            let mut f = opts.open(&path).map_err(Error::io(&path))?;
            f.write_all(format!("{}\n", signer.to_private_key()).as_bytes())
                .map_err(Error::io(&path))?;
            f.sync_all().map_err(Error::io(&path))?;
            return Ok(signer);
        }
        let raw = read_bounded(&path)?;
        let text = std::str::from_utf8(&raw).map_err(|_| Error::Key {
            reason: format!("{}: not UTF-8", path.display()),
        })?;
        let signer = Ed25519Signer::from_private_key(text.trim()).map_err(|e| Error::Key {
            reason: format!("{}: {e}", path.display()),
        })?;
        if signer.key_type() != TYPE_COSIGNATURE_V1 {
            return Err(Error::Key {
                reason: format!(
                    "{}: key type 0x{:02x} is not cosignature/v1 (0x04)",
                    path.display(),
                    signer.key_type()
                ),
            });
        }
        if let Some(name) = name {
            let have = chainseal_tlog::NoteSigner::name(&signer);
            if have != name {
                return Err(Error::Key {
                    reason: format!(
                        "{}: key is named {have:?}, not the requested {name:?}",
                        path.display()
                    ),
                });
            }
        }
        Ok(signer)
    }
}
