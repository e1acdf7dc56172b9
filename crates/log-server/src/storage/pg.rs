//! Scale-out storage, Tessera's pattern: PostgreSQL sequences (a one-row counter locked
//! `FOR UPDATE`, each batch inserted in one transaction) and holds the single integration
//! lease (the `chainseal_integ` row, locked `FOR UPDATE SKIP LOCKED`); tiles, bundles and
//! the checkpoint live in an object store (a local directory, written tmp → fsync →
//! rename, or S3 through `object_store`). The read path never touches the database.
//!
//! The lease is fenced: each one takes a fencing token from a PostgreSQL sequence (which
//! never goes back, even when the transaction that drew it is rolled back), the checkpoint
//! write first proves on the lease's own transaction that the row still carries that
//! token, and then replaces the stored checkpoint only if it is not larger
//! (compare-and-swap: a file lock beside a local store, a conditional `If-Match` put on
//! S3). The commit updates the row only where the token still matches. A front end whose
//! session died — it may not know yet — can therefore never put an older checkpoint
//! back over a newer one.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;
use object_store::ObjectStore;
use tokio_postgres::NoTls;

use super::fs::{blocking, read_object, write_objects};
use super::{Lease, PendingEntry, Storage};
use crate::error::{Error, Result};

const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7365098812);
CREATE TABLE IF NOT EXISTS chainseal_seq_coord (id INT PRIMARY KEY, next BIGINT NOT NULL);
INSERT INTO chainseal_seq_coord VALUES (0, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS chainseal_integ (id INT PRIMARY KEY, integrated BIGINT NOT NULL);
INSERT INTO chainseal_integ VALUES (0, 0) ON CONFLICT DO NOTHING;
ALTER TABLE chainseal_integ ADD COLUMN IF NOT EXISTS epoch BIGINT NOT NULL DEFAULT 0;
CREATE SEQUENCE IF NOT EXISTS chainseal_lease_epoch;
CREATE TABLE IF NOT EXISTS chainseal_seq (idx BIGINT PRIMARY KEY, body BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS chainseal_dedup (leaf BYTEA PRIMARY KEY, idx BIGINT NOT NULL);
";

/// Where tiles go.
#[derive(Debug, Clone)]
enum Objects {
    Local(PathBuf, Arc<AtomicU64>),
    Remote(Arc<dyn ObjectStore>),
}

/// PostgreSQL + object store.
#[derive(Clone)]
pub struct PgStorage {
    pool: deadpool_postgres::Pool,
    integrator: Arc<tokio::sync::Mutex<Option<tokio_postgres::Client>>>,
    url: String,
    objects: Objects,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStorage {{ objects: {:?} }}", self.objects)
    }
}

fn pg(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::storage(context, e)
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::Corrupt(format!("{v} exceeds i64")))
}

fn to_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Corrupt(format!("negative index {v}")))
}

async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(pg("connecting to PostgreSQL"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!("PostgreSQL connection: {e}");
        }
    });
    Ok(client)
}

impl PgStorage {
    /// Connects to `postgres_url`, creates the schema if needed, and stores tiles in
    /// `objects` (a directory path, `file://…`, or `s3://bucket[/prefix]` configured from
    /// the usual `AWS_*` environment variables).
    pub async fn open(postgres_url: &str, objects: &str) -> Result<Self> {
        let objects = if let Some(rest) = objects.strip_prefix("s3://") {
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_url(format!("s3://{rest}"))
                .build()
                .map_err(|e| Error::Config(format!("object store {objects}: {e}")))?;
            let prefix = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(store)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            };
            Objects::Remote(store)
        } else {
            let dir = PathBuf::from(objects.strip_prefix("file://").unwrap_or(objects));
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::storage(format!("creating {}", dir.display()), e))?;
            Objects::Local(dir, Arc::new(AtomicU64::new(0)))
        };
        let mut cfg = deadpool_postgres::Config::new();
        cfg.url = Some(postgres_url.to_owned());
        let pool = cfg
            .create_pool(Some(deadpool_postgres::Runtime::Tokio1), NoTls)
            .map_err(|e| Error::Config(format!("PostgreSQL pool: {e}")))?;
        let mut client = connect(postgres_url).await?;
        let tx = client.transaction().await.map_err(pg("begin"))?;
        tx.batch_execute(SCHEMA)
            .await
            .map_err(pg("creating the schema"))?;
        tx.commit().await.map_err(pg("commit schema"))?;
        Ok(PgStorage {
            pool,
            integrator: Arc::new(tokio::sync::Mutex::new(Some(client))),
            url: postgres_url.to_owned(),
            objects,
        })
    }

    async fn lease_inner(
        &self,
        client: &tokio_postgres::Client,
        max: usize,
    ) -> Result<Option<(u64, u64, Vec<Vec<u8>>)>> {
        // Clear any transaction a failed round left open, then try to take the lease.
        let _ = client.batch_execute("ROLLBACK").await;
        client.batch_execute("BEGIN").await.map_err(pg("begin"))?;
        let row = client
            .query_opt(
                "SELECT integrated FROM chainseal_integ WHERE id = 0 FOR UPDATE SKIP LOCKED",
                &[],
            )
            .await
            .map_err(pg("locking the integration row"))?;
        let Some(row) = row else {
            client
                .batch_execute("ROLLBACK")
                .await
                .map_err(pg("rollback"))?;
            return Ok(None);
        };
        let integrated = to_u64(row.get(0))?;
        let epoch = client
            .query_one(
                "UPDATE chainseal_integ SET epoch = nextval('chainseal_lease_epoch') \
                 WHERE id = 0 RETURNING epoch",
                &[],
            )
            .await
            .map_err(pg("taking a lease epoch"))?
            .get::<_, i64>(0);
        let epoch = to_u64(epoch)?;
        let rows = client
            .query(
                "SELECT idx, body FROM chainseal_seq WHERE idx >= $1 ORDER BY idx LIMIT $2",
                &[&to_i64(integrated)?, &to_i64(max as u64)?],
            )
            .await
            .map_err(pg("reading sequenced entries"))?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            let idx = to_u64(r.get(0))?;
            if idx != integrated + entries.len() as u64 {
                return Err(Error::Corrupt(format!(
                    "sequenced entry {} is missing",
                    integrated + entries.len() as u64
                )));
            }
            entries.push(r.get::<_, Vec<u8>>(1));
        }
        Ok(Some((integrated, epoch, entries)))
    }

    /// Proves, on the lease's own transaction, that the integration row still carries
    /// this lease's token (the session is alive and the row lock held).
    async fn check_lease(&self, lease: &Lease<<Self as Storage>::Guard>) -> Result<()> {
        let Some(client) = lease.guard.as_ref() else {
            return Err(Error::Fenced("no PostgreSQL connection".into()));
        };
        let row = client
            .query_one("SELECT epoch FROM chainseal_integ WHERE id = 0", &[])
            .await
            .map_err(|e| {
                Error::Fenced(format!(
                    "lease epoch {} can no longer be confirmed: {e}",
                    lease.epoch
                ))
            })?;
        let now = to_u64(row.get(0))?;
        if now != lease.epoch {
            return Err(Error::Fenced(format!(
                "lease epoch {} was superseded by epoch {now}",
                lease.epoch
            )));
        }
        Ok(())
    }
}

/// The tree size a stored checkpoint note names (its second line).
fn checkpoint_size(what: &str, note: &[u8]) -> Result<(u64, String)> {
    let text = std::str::from_utf8(note)
        .map_err(|_| Error::Corrupt(format!("{what} checkpoint is not UTF-8")))?;
    let mut lines = text.lines();
    let (_origin, size, root) = (lines.next(), lines.next(), lines.next());
    let size = size
        .and_then(chainseal_tlog::checkpoint::parse_decimal)
        .ok_or_else(|| Error::Corrupt(format!("{what} checkpoint has no tree size")))?;
    Ok((size, root.unwrap_or_default().to_owned()))
}

/// The compare in compare-and-swap: `new` may replace `current` only if it is not
/// smaller, and at the same size only if it names the same root.
fn may_replace(current: &[u8], new: &[u8]) -> Result<()> {
    let (cur, cur_root) = checkpoint_size("the stored", current)?;
    let (next, next_root) = checkpoint_size("the new", new)?;
    if cur > next {
        return Err(Error::Fenced(format!(
            "another front end published a checkpoint of size {cur}; this one ({next}) is older"
        )));
    }
    if cur == next && cur_root != next_root {
        return Err(Error::Corrupt(format!(
            "two checkpoints of size {cur} name different roots; refusing to fork"
        )));
    }
    Ok(())
}

/// Compare-and-swap of `dir/checkpoint` under an exclusive lock on `dir/.checkpoint.lock`
/// (every front end writing to this folder takes it).
fn replace_checkpoint_locally(dir: &std::path::Path, seq: &AtomicU64, note: &[u8]) -> Result<()> {
    let lock_path = dir.join(".checkpoint.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::storage(format!("opening {}", lock_path.display()), e))?;
    lock.lock()
        .map_err(|e| Error::storage(format!("locking {}", lock_path.display()), e))?;
    match std::fs::read(dir.join("checkpoint")) {
        Ok(current) => may_replace(&current, note)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::storage("reading the stored checkpoint", e)),
    }
    write_objects(dir, seq, &[("checkpoint".to_owned(), note.to_vec())])
    // The lock is released when `lock` is closed.
}

/// Compare-and-swap of the checkpoint object with a conditional put (`If-Match` on its
/// ETag, or create-only when there is none); retried when another writer got in between.
async fn replace_checkpoint_remotely(store: &dyn ObjectStore, note: Vec<u8>) -> Result<()> {
    use object_store::{PutMode, PutOptions, UpdateVersion};
    let path = object_store::path::Path::from("checkpoint");
    for _ in 0..8 {
        let mode = match store.get(&path).await {
            Ok(r) => {
                let version = UpdateVersion {
                    e_tag: r.meta.e_tag.clone(),
                    version: r.meta.version.clone(),
                };
                let current = r
                    .bytes()
                    .await
                    .map_err(|e| Error::storage("read checkpoint", e))?;
                may_replace(&current, &note)?;
                PutMode::Update(version)
            }
            Err(object_store::Error::NotFound { .. }) => PutMode::Create,
            Err(e) => return Err(Error::storage("read checkpoint", e)),
        };
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        match store.put_opts(&path, note.clone().into(), opts).await {
            Ok(_) => return Ok(()),
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => continue,
            Err(e @ object_store::Error::NotImplemented) => {
                return Err(Error::Config(format!(
                    "the object store cannot write the checkpoint conditionally ({e}); \
                     set AWS_CONDITIONAL_PUT=etag for a store that supports If-Match"
                )));
            }
            Err(e) => return Err(Error::storage("put checkpoint", e)),
        }
    }
    Err(Error::Fenced(
        "the checkpoint kept changing under eight compare-and-swap attempts".into(),
    ))
}

impl Storage for PgStorage {
    type Guard = tokio::sync::OwnedMutexGuard<Option<tokio_postgres::Client>>;

    async fn sequence(&self, batch: Vec<PendingEntry>) -> Result<Vec<u64>> {
        let mut client = self
            .pool
            .get()
            .await
            .map_err(|e| Error::storage("PostgreSQL pool", e))?;
        let tx = client.transaction().await.map_err(pg("begin"))?;
        let next: i64 = tx
            .query_one(
                "SELECT next FROM chainseal_seq_coord WHERE id = 0 FOR UPDATE",
                &[],
            )
            .await
            .map_err(pg("locking the sequence counter"))?
            .get(0);
        let leaves: Vec<Vec<u8>> = batch.iter().map(|(l, _)| l.to_vec()).collect();
        let known = tx
            .query(
                "SELECT leaf, idx FROM chainseal_dedup WHERE leaf = ANY($1)",
                &[&leaves],
            )
            .await
            .map_err(pg("dedup lookup"))?;
        let mut seen: std::collections::HashMap<Vec<u8>, i64> = known
            .into_iter()
            .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, i64>(1)))
            .collect();
        let (mut idxs, mut bodies, mut new_leaves, mut out) = (vec![], vec![], vec![], vec![]);
        let mut n = next;
        for ((_, body), leaf) in batch.iter().zip(leaves) {
            if let Some(i) = seen.get(&leaf) {
                out.push(to_u64(*i)?);
                continue;
            }
            seen.insert(leaf.clone(), n);
            idxs.push(n);
            bodies.push(body.as_slice());
            new_leaves.push(leaf);
            out.push(to_u64(n)?);
            n += 1;
        }
        if !idxs.is_empty() {
            tx.execute(
                "INSERT INTO chainseal_seq (idx, body) SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[])",
                &[&idxs, &bodies],
            )
            .await
            .map_err(pg("inserting entries"))?;
            tx.execute(
                "INSERT INTO chainseal_dedup (leaf, idx) SELECT * FROM UNNEST($1::BYTEA[], $2::BIGINT[])",
                &[&new_leaves, &idxs],
            )
            .await
            .map_err(pg("inserting dedup keys"))?;
            tx.execute(
                "UPDATE chainseal_seq_coord SET next = $1 WHERE id = 0",
                &[&n],
            )
            .await
            .map_err(pg("advancing the counter"))?;
        }
        tx.commit().await.map_err(pg("commit batch"))?;
        Ok(out)
    }

    async fn lease(&self, max: usize) -> Result<Option<Lease<Self::Guard>>> {
        let mut guard = self.integrator.clone().lock_owned().await;
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            *guard = Some(connect(&self.url).await?);
        }
        let Some(client) = guard.as_ref() else {
            return Err(Error::Unavailable("no PostgreSQL connection"));
        };
        match self.lease_inner(client, max).await {
            Ok(Some((integrated, epoch, entries))) => Ok(Some(Lease {
                integrated,
                entries,
                epoch,
                guard,
            })),
            Ok(None) => Ok(None),
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    async fn commit(&self, lease: Lease<Self::Guard>, new_size: u64) -> Result<()> {
        let Some(client) = lease.guard.as_ref() else {
            return Err(Error::Unavailable("no PostgreSQL connection"));
        };
        let n = to_i64(new_size)?;
        let epoch = to_i64(lease.epoch)?;
        let r = async {
            let updated = client
                .execute(
                    "UPDATE chainseal_integ SET integrated = $1 WHERE id = 0 AND epoch = $2",
                    &[&n, &epoch],
                )
                .await
                .map_err(pg("recording the integrated size"))?;
            if updated != 1 {
                return Err(Error::Fenced(format!(
                    "lease epoch {} no longer holds the integration row",
                    lease.epoch
                )));
            }
            client
                .execute("DELETE FROM chainseal_seq WHERE idx < $1", &[&n])
                .await
                .map_err(pg("deleting integrated entries"))?;
            client
                .batch_execute("COMMIT")
                .await
                .map_err(pg("commit integration"))
        }
        .await;
        if r.is_err() {
            let _ = client.batch_execute("ROLLBACK").await;
        }
        r
    }

    async fn read(&self, path: &str) -> Result<Option<Bytes>> {
        match &self.objects {
            Objects::Local(dir, _) => read_object(dir, path).await,
            Objects::Remote(store) => {
                match store.get(&object_store::path::Path::from(path)).await {
                    Ok(r) => r
                        .bytes()
                        .await
                        .map(Some)
                        .map_err(|e| Error::storage(format!("read {path}"), e)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(Error::storage(format!("read {path}"), e)),
                }
            }
        }
    }

    async fn write_tiles(&self, objects: Vec<(String, Vec<u8>)>) -> Result<()> {
        match &self.objects {
            Objects::Local(dir, seq) => {
                let (dir, seq) = (dir.clone(), seq.clone());
                blocking(move || write_objects(&dir, &seq, &objects)).await
            }
            Objects::Remote(store) => {
                let mut set = tokio::task::JoinSet::new();
                for (p, b) in objects {
                    let store = store.clone();
                    set.spawn(async move {
                        store
                            .put(&object_store::path::Path::from(p.as_str()), b.into())
                            .await
                            .map_err(|e| Error::storage(format!("put {p}"), e))
                    });
                }
                while let Some(r) = set.join_next().await {
                    r.map_err(|_| Error::Unavailable("object store task failed"))??;
                }
                Ok(())
            }
        }
    }

    async fn write_checkpoint(&self, lease: &Lease<Self::Guard>, note: Vec<u8>) -> Result<()> {
        self.check_lease(lease).await?;
        match &self.objects {
            Objects::Local(dir, seq) => {
                let (dir, seq) = (dir.clone(), seq.clone());
                blocking(move || replace_checkpoint_locally(&dir, &seq, &note)).await
            }
            Objects::Remote(store) => replace_checkpoint_remotely(store.as_ref(), note).await,
        }
    }

    async fn read_stream(&self, path: &str) -> Result<Option<super::ObjectStream>> {
        use futures_util::StreamExt as _;
        match &self.objects {
            Objects::Local(dir, _) => super::fs::stream_object(dir, path).await,
            Objects::Remote(store) => {
                match store.get(&object_store::path::Path::from(path)).await {
                    Ok(r) => {
                        let len = r.meta.size;
                        let stream = r
                            .into_stream()
                            .map(|c| c.map_err(std::io::Error::other))
                            .boxed();
                        Ok(Some((len, stream)))
                    }
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(Error::storage(format!("read {path}"), e)),
                }
            }
        }
    }

    async fn remove_partials(&self, full: Vec<String>) -> Result<()> {
        match &self.objects {
            Objects::Local(dir, _) => {
                let dir = dir.clone();
                blocking(move || super::fs::remove_partial_dirs(&dir, &full)).await
            }
            Objects::Remote(store) => {
                use futures_util::StreamExt as _;
                for f in full {
                    let prefix = object_store::path::Path::from(format!("{f}.p"));
                    let mut listed = store.list(Some(&prefix));
                    while let Some(meta) = listed.next().await {
                        let meta = meta.map_err(|e| Error::storage(format!("list {f}.p"), e))?;
                        store
                            .delete(&meta.location)
                            .await
                            .map_err(|e| Error::storage(format!("delete {}", meta.location), e))?;
                    }
                }
                Ok(())
            }
        }
    }
}
