//! The embedded store: a directory holding the tiles, entry bundles and checkpoint as
//! files (written tmp → fsync → rename, then the directory fsynced), and a redb database
//! (`log.redb`) holding the sequencer state and the dedup index.
//!
//! redb commits with `Durability::Immediate`: one fsync'd transaction per batch.
//! redb also locks its file, so two processes can never serve one directory.
//!
//! After one failed I/O (a full disk), redb refuses every later transaction until the
//! database is reopened; the store reopens it on the next use, so the log recovers once
//! there is space again, without a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Lease, PendingEntry, Storage};
use crate::error::{Error, Result};

const ENTRIES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("entries");
const DEDUP: TableDefinition<'_, &[u8], u64> = TableDefinition::new("dedup");
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
const NEXT: &str = "next";
const INTEGRATED: &str = "integrated";

/// A directory + redb store.
#[derive(Debug, Clone)]
pub struct FsStorage {
    dir: PathBuf,
    db: Arc<Db>,
    integrator: Arc<tokio::sync::Mutex<()>>,
    tmp_seq: Arc<AtomicU64>,
}

/// The open database, and whether an I/O error means it must be reopened.
#[derive(Debug)]
struct Db {
    path: PathBuf,
    /// `None` only while a reopen has failed (it is tried again on the next use).
    open: RwLock<Option<Database>>,
    failed_io: AtomicBool,
}

/// A transaction's view of the open database (reopens wait for it to end).
struct DbRef<'a>(RwLockReadGuard<'a, Option<Database>>);

impl std::ops::Deref for DbRef<'_> {
    type Target = Database;
    fn deref(&self) -> &Database {
        self.0.as_ref().expect("checked when made")
    }
}

impl Db {
    /// The database, reopened first if an earlier I/O error left it refusing work.
    fn get(&self) -> Result<DbRef<'_>> {
        if self.failed_io.load(Ordering::Acquire) {
            self.reopen()?;
        }
        let g = self.open.read().unwrap_or_else(PoisonError::into_inner);
        if g.is_none() {
            return Err(Error::Unavailable(
                "log.redb could not be reopened after an I/O error",
            ));
        }
        Ok(DbRef(g))
    }

    fn reopen(&self) -> Result<()> {
        let mut w = self.open.write().unwrap_or_else(PoisonError::into_inner);
        if !self.failed_io.load(Ordering::Acquire) {
            return Ok(()); // another thread reopened it meanwhile
        }
        // Close the failed handle first: redb locks its file, also within one process.
        *w = None;
        let db = Database::create(&self.path)
            .map_err(|e| Error::storage(format!("reopening {}", self.path.display()), e))?;
        *w = Some(db);
        self.failed_io.store(false, Ordering::Release);
        tracing::warn!(
            "reopened {} after an I/O error; sequencing resumes",
            self.path.display()
        );
        Ok(())
    }

    /// Maps a redb error, noting the I/O failures after which redb must be reopened.
    fn err(&self, context: &'static str) -> impl Fn(redb::Error) -> Error + '_ {
        move |e| {
            if matches!(e, redb::Error::Io(_) | redb::Error::PreviousIo) {
                self.failed_io.store(true, Ordering::Release);
            }
            Error::storage(context, e)
        }
    }
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::storage(context, e)
}

impl FsStorage {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let db = Database::create(dir.join("log.redb"))
            .map_err(|e| Error::storage(format!("opening {}/log.redb", dir.display()), e))?;
        let init =
            |e: redb::Error| Error::storage(format!("initialising {}/log.redb", dir.display()), e);
        let tx = db.begin_write().map_err(|e| init(e.into()))?;
        {
            tx.open_table(ENTRIES).map_err(|e| init(e.into()))?;
            tx.open_table(DEDUP).map_err(|e| init(e.into()))?;
            tx.open_table(META).map_err(|e| init(e.into()))?;
        }
        tx.commit().map_err(|e| init(e.into()))?;
        // Integrated entries are deleted, but redb only reuses their pages: give the space
        // back to the file system once per start (nothing else holds the file yet).
        let mut db = db;
        let before = file_len(&dir.join("log.redb"));
        match db.compact() {
            Ok(_) => {
                let after = file_len(&dir.join("log.redb"));
                if after < before {
                    tracing::info!(before, after, "compacted {}/log.redb", dir.display());
                }
            }
            Err(e) => tracing::warn!("compacting {}/log.redb: {e}", dir.display()),
        }
        // Temporaries of writes a crash or a full disk interrupted: removed in the
        // background (a large log has many folders; start-up does not wait for it).
        let sweep = dir.to_owned();
        std::thread::spawn(move || {
            let n = remove_leftovers(&sweep);
            if n > 0 {
                tracing::info!(
                    "removed {n} leftover temporary files under {}",
                    sweep.display()
                );
            }
        });
        Ok(FsStorage {
            dir: dir.to_owned(),
            db: Arc::new(Db {
                path: dir.join("log.redb"),
                open: RwLock::new(Some(db)),
                failed_io: AtomicBool::new(false),
            }),
            integrator: Arc::new(tokio::sync::Mutex::new(())),
            tmp_seq: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `(sequenced size, integrated size)`.
    pub fn sizes(&self) -> Result<(u64, u64)> {
        let db = self.db.get()?;
        let db_err = |c| self.db.err(c);
        let tx = db
            .begin_read()
            .map_err(|e| db_err("begin read")(e.into()))?;
        let meta = tx.open_table(META).map_err(|e| db_err("meta")(e.into()))?;
        let get = |k| -> Result<u64> {
            Ok(meta
                .get(k)
                .map_err(|e| db_err("meta get")(e.into()))?
                .map(|v| v.value())
                .unwrap_or(0))
        };
        Ok((get(NEXT)?, get(INTEGRATED)?))
    }

    fn sequence_blocking(&self, batch: &[PendingEntry]) -> Result<Vec<u64>> {
        let db = self.db.get()?;
        let db_err = |c| self.db.err(c);
        let tx = db.begin_write().map_err(|e| db_err("begin")(e.into()))?;
        let mut out = Vec::with_capacity(batch.len());
        {
            let mut meta = tx.open_table(META).map_err(|e| db_err("meta")(e.into()))?;
            let mut entries = tx
                .open_table(ENTRIES)
                .map_err(|e| db_err("entries")(e.into()))?;
            let mut dedup = tx
                .open_table(DEDUP)
                .map_err(|e| db_err("dedup")(e.into()))?;
            let mut next = meta
                .get(NEXT)
                .map_err(|e| db_err("meta get")(e.into()))?
                .map(|v| v.value())
                .unwrap_or(0);
            for (leaf, body) in batch {
                let existing = dedup
                    .get(leaf.as_slice())
                    .map_err(|e| db_err("dedup get")(e.into()))?
                    .map(|v| v.value());
                if let Some(i) = existing {
                    out.push(i);
                    continue;
                }
                entries
                    .insert(next, body.as_slice())
                    .map_err(|e| db_err("entries insert")(e.into()))?;
                dedup
                    .insert(leaf.as_slice(), next)
                    .map_err(|e| db_err("dedup insert")(e.into()))?;
                out.push(next);
                next += 1;
            }
            meta.insert(NEXT, next)
                .map_err(|e| db_err("meta insert")(e.into()))?;
        }
        tx.commit().map_err(|e| db_err("commit batch")(e.into()))?;
        Ok(out)
    }

    fn lease_blocking(&self, max: usize) -> Result<(u64, Vec<Vec<u8>>)> {
        let (next, integrated) = self.sizes()?;
        let db = self.db.get()?;
        let db_err = |c| self.db.err(c);
        let tx = db
            .begin_read()
            .map_err(|e| db_err("begin read")(e.into()))?;
        let entries = tx
            .open_table(ENTRIES)
            .map_err(|e| db_err("entries")(e.into()))?;
        let end = next.min(integrated.saturating_add(max as u64));
        let mut out = Vec::with_capacity((end - integrated) as usize);
        for item in entries
            .range(integrated..end)
            .map_err(|e| db_err("entries range")(e.into()))?
        {
            let (k, v) = item.map_err(|e| db_err("entries read")(e.into()))?;
            if k.value() != integrated + out.len() as u64 {
                return Err(Error::Corrupt(format!(
                    "sequenced entry {} is missing",
                    integrated + out.len() as u64
                )));
            }
            out.push(v.value().to_vec());
        }
        if out.len() as u64 != end - integrated {
            return Err(Error::Corrupt(format!(
                "sequenced entries {integrated}..{end} are incomplete"
            )));
        }
        Ok((integrated, out))
    }

    fn commit_blocking(&self, old: u64, new_size: u64) -> Result<()> {
        let db = self.db.get()?;
        let db_err = |c| self.db.err(c);
        let tx = db.begin_write().map_err(|e| db_err("begin")(e.into()))?;
        {
            let mut meta = tx.open_table(META).map_err(|e| db_err("meta")(e.into()))?;
            let mut entries = tx
                .open_table(ENTRIES)
                .map_err(|e| db_err("entries")(e.into()))?;
            meta.insert(INTEGRATED, new_size)
                .map_err(|e| db_err("meta insert")(e.into()))?;
            for i in old..new_size {
                entries
                    .remove(i)
                    .map_err(|e| db_err("entries remove")(e.into()))?;
            }
        }
        tx.commit()
            .map_err(|e| db_err("commit integration")(e.into()))
    }

    fn write_all_blocking(&self, objects: &[(String, Vec<u8>)]) -> Result<()> {
        write_objects(&self.dir, &self.tmp_seq, objects)
    }
}

/// Writes `bytes` to `dir/rel` atomically: tmp file, fsync, rename. Returns the parent.
fn write_file(dir: &Path, seq: &AtomicU64, rel: &str, bytes: &[u8]) -> Result<PathBuf> {
    use std::io::Write as _;
    let path = dir.join(rel);
    let parent = path
        .parent()
        .ok_or_else(|| Error::storage(rel.to_owned(), "no parent directory"))?
        .to_owned();
    create_dir_durable(&parent)?;
    let n = seq.fetch_add(1, Ordering::Relaxed);
    let tmp = parent.join(format!("{TMP_PREFIX}{}-{n}", std::process::id()));
    let written = (|| -> Result<()> {
        let mut f =
            std::fs::File::create(&tmp).map_err(io_err(format!("create {}", tmp.display())))?;
        f.write_all(bytes)
            .map_err(io_err(format!("write {}", tmp.display())))?;
        f.sync_all()
            .map_err(io_err(format!("fsync {}", tmp.display())))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io_err(format!("rename to {}", path.display())))
    })();
    if written.is_err() {
        // A full disk must not leave half-written temporaries behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| parent)
}

/// Removes `dir/<full>.p` for each full tile path; a missing folder is fine.
pub(crate) fn remove_partial_dirs(dir: &Path, full: &[String]) -> Result<()> {
    for f in full {
        let p = dir.join(format!("{f}.p"));
        match std::fs::remove_dir_all(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::storage(format!("removing {}", p.display()), e)),
        }
    }
    Ok(())
}

/// Prefix of the temporary files objects are written through.
const TMP_PREFIX: &str = ".tmp-";

/// `create_dir_all`, with every folder it creates fsynced into its parent, so that a
/// new tile folder survives a crash along with the files renamed into it.
fn create_dir_durable(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.exists() {
        missing.push(d.to_owned());
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(io_err(format!("mkdir {}", dir.display())))?;
    for m in missing.iter().rev() {
        if let Some(p) = m.parent() {
            sync_dir(p)?;
        }
    }
    Ok(())
}

/// Removes temporaries a crash or a failed write left under `dir` (never a real object:
/// those never start with `.tmp-`). Returns how many were removed.
pub fn remove_leftovers(dir: &Path) -> usize {
    walkdir_files(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(TMP_PREFIX))
        })
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

fn walkdir_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => out.push(e.path()),
                _ => {}
            }
        }
    }
    out
}

/// Durably writes objects under `dir` (each tmp → fsync → rename, then each touched
/// directory fsynced once).
fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

pub(crate) fn write_objects(
    dir: &Path,
    seq: &AtomicU64,
    objects: &[(String, Vec<u8>)],
) -> Result<()> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (rel, bytes) in objects {
        let parent = write_file(dir, seq, rel, bytes)?;
        if !dirs.contains(&parent) {
            dirs.push(parent);
        }
    }
    for d in dirs {
        sync_dir(&d)?;
    }
    Ok(())
}

/// Reads `dir/rel`; `None` if absent.
pub(crate) async fn read_object(dir: &Path, rel: &str) -> Result<Option<Bytes>> {
    match tokio::fs::read(dir.join(rel)).await {
        Ok(b) => Ok(Some(Bytes::from(b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::storage(format!("read {rel}"), e)),
    }
}

/// Opens `dir/rel` for reading in 64 KiB chunks; `None` if absent.
pub(crate) async fn stream_object(dir: &Path, rel: &str) -> Result<Option<super::ObjectStream>> {
    use futures_util::StreamExt as _;
    let file = match tokio::fs::File::open(dir.join(rel)).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::storage(format!("open {rel}"), e)),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| Error::storage(format!("stat {rel}"), e))?
        .len();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024).boxed();
    Ok(Some((len, stream)))
}

fn sync_dir(d: &Path) -> Result<()> {
    std::fs::File::open(d)
        .and_then(|f| f.sync_all())
        .map_err(io_err(format!("fsync dir {}", d.display())))
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Error::Unavailable("storage task failed"))?
}

impl Storage for FsStorage {
    type Guard = tokio::sync::OwnedMutexGuard<()>;

    async fn sequence(&self, batch: Vec<PendingEntry>) -> Result<Vec<u64>> {
        let s = self.clone();
        blocking(move || s.sequence_blocking(&batch)).await
    }

    async fn lease(&self, max: usize) -> Result<Option<Lease<Self::Guard>>> {
        let guard = self.integrator.clone().lock_owned().await;
        let s = self.clone();
        let (integrated, entries) = blocking(move || s.lease_blocking(max)).await?;
        Ok(Some(Lease {
            integrated,
            entries,
            epoch: 0,
            guard,
        }))
    }

    async fn commit(&self, lease: Lease<Self::Guard>, new_size: u64) -> Result<()> {
        let s = self.clone();
        let old = lease.integrated;
        let r = blocking(move || s.commit_blocking(old, new_size)).await;
        drop(lease);
        r
    }

    async fn read(&self, path: &str) -> Result<Option<Bytes>> {
        read_object(&self.dir, path).await
    }

    async fn write_tiles(&self, objects: Vec<(String, Vec<u8>)>) -> Result<()> {
        let s = self.clone();
        blocking(move || s.write_all_blocking(&objects)).await
    }

    async fn write_checkpoint(&self, _lease: &Lease<Self::Guard>, note: Vec<u8>) -> Result<()> {
        // One process owns the directory (redb's file lock) and holds the lease mutex.
        let s = self.clone();
        blocking(move || write_objects(&s.dir, &s.tmp_seq, &[("checkpoint".to_owned(), note)]))
            .await
    }

    async fn read_stream(&self, path: &str) -> Result<Option<super::ObjectStream>> {
        stream_object(&self.dir, path).await
    }

    async fn remove_partials(&self, full: Vec<String>) -> Result<()> {
        let dir = self.dir.clone();
        blocking(move || remove_partial_dirs(&dir, &full)).await
    }
}
