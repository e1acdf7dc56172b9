//! The authority's state directory: keys and certificates of every generation of the CA,
//! the CT log and the TSA, plus the development issuer's key.
//!
//! ```text
//! D/state.json                       generations with their validity windows
//! D/ca-<n>/{root,intermediate}.{pem,key}
//! D/ct-<n>/ct.key
//! D/ct-<n>/log/{origin,checkpoint,tile/…,issuer/…}   the CT log (crate::ct)
//! D/tsa-<n>/{root,tsa}.{pem,key}
//! D/oidc/dev.key
//! ```
//!
//! Private keys are unencrypted PKCS#8 PEM files created with mode 0600 in directories of
//! mode 0700 (the authority must start unattended); in memory they live in zeroizing
//! buffers and are never printed or logged. A rotation closes the current generation's
//! window and opens a new generation; old generations stay listed so that what they signed
//! keeps verifying.
//!
//! Keys are never regenerated: a directory holding key material but no `state.json` is
//! refused (the error says what exists and how to recover), a new generation never reuses
//! an existing generation directory, and key files are created exclusively. Every write is
//! tmp → fsync → rename → fsync of the directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chainseal_crypto::keys::{KeyKind, PrivateKey, PublicKey};
use chainseal_crypto::x509::Certificate;
use serde::{Deserialize, Serialize};

use crate::certs;
use crate::error::{Error, Result};

/// A rotatable component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// The certificate authority (root + intermediate).
    Ca,
    /// The certificate transparency log key.
    Ct,
    /// The time-stamping authority (root + TSA certificate).
    Tsa,
}

impl Component {
    fn prefix(self) -> &'static str {
        match self {
            Component::Ca => "ca",
            Component::Ct => "ct",
            Component::Tsa => "tsa",
        }
    }
}

/// One key generation and when it is (was) in use.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Generation {
    /// Generation number (directory suffix).
    pub id: u32,
    /// Start of use (Unix seconds).
    pub start: i64,
    /// End of use (Unix seconds), once rotated out.
    #[serde(default)]
    pub end: Option<i64>,
}

/// The generations of every component.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// CA generations.
    pub ca: Vec<Generation>,
    /// CT log generations.
    pub ct: Vec<Generation>,
    /// TSA generations.
    pub tsa: Vec<Generation>,
}

impl State {
    fn list_mut(&mut self, c: Component) -> &mut Vec<Generation> {
        match c {
            Component::Ca => &mut self.ca,
            Component::Ct => &mut self.ct,
            Component::Tsa => &mut self.tsa,
        }
    }

    /// The current (open) generation of `c`.
    pub fn current(&self, c: Component) -> Option<&Generation> {
        let list = match c {
            Component::Ca => &self.ca,
            Component::Ct => &self.ct,
            Component::Tsa => &self.tsa,
        };
        list.iter().rev().find(|g| g.end.is_none())
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    let existed = dir.is_dir();
    b.create(dir)
        .map_err(Error::io(format!("creating {}", dir.display())))?;
    if !existed && let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(Error::io(format!("restricting {}", dir.display())))?;
    }
    Ok(())
}

/// fsyncs directory `dir` (so a rename or creation in it is durable). No-op off Unix.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(d)
            .and_then(|f| f.sync_all())
            .map_err(Error::io(format!("syncing directory {}", d.display())))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `data` to `path` atomically (tmp → fsync → rename → fsync of the directory) with
/// file mode `mode`.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_file(path, data, mode, false)
}

/// Like [`write_atomic`], but refuses to replace an existing `path` (key files: a key is
/// never overwritten).
pub fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_file(path, data, mode, true)
}

fn write_file(path: &Path, data: &[u8], mode: u32, exclusive: bool) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::Config(format!("{} has no file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let ctx = || format!("writing {}", path.display());
    let mut f = opts.open(&tmp).map_err(Error::io(ctx()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(Error::io(ctx()))?;
    drop(f);
    if exclusive {
        // link(2) fails if `path` exists: no window in which an existing key is replaced.
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        linked.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Config(format!(
                    "refusing to overwrite existing key file {}",
                    path.display()
                ))
            } else {
                Error::io(ctx())(e)
            }
        })?;
    } else {
        std::fs::rename(&tmp, path).map_err(Error::io(ctx()))?;
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn write_key(path: &Path, key: &PrivateKey) -> Result<()> {
    write_new(path, key.to_pkcs8_pem().as_bytes(), 0o600)
}

/// Key material in `dir` (generation directories, the development issuer key), as paths
/// relative to `dir`.
fn existing_key_material(dir: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(Error::io(format!("listing {}", dir.display()))(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io(format!("listing {}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_generation = ["ca-", "ct-", "tsa-"].iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
        if is_generation && entry.path().is_dir() {
            found.push(format!("{name}/"));
        }
    }
    if dir.join("oidc").join("dev.key").exists() {
        found.push("oidc/dev.key".into());
    }
    found.sort();
    Ok(found)
}

fn max_generation_dir(dir: &Path, c: Component) -> u32 {
    let prefix = format!("{}-", c.prefix());
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix(&prefix)?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0)
}

fn read_key(path: &Path) -> Result<PrivateKey> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))?,
    );
    PrivateKey::from_pem(&text).map_err(|e| Error::Config(format!("key {}: {e}", path.display())))
}

fn read_cert(path: &Path) -> Result<Certificate> {
    let text =
        std::fs::read_to_string(path).map_err(Error::io(format!("reading {}", path.display())))?;
    Certificate::from_pem(&text)
        .map_err(|e| Error::Config(format!("certificate {}: {e}", path.display())))
}

fn write_cert(path: &Path, cert: &Certificate) -> Result<()> {
    write_atomic(path, certs::pem(cert).as_bytes(), 0o644)
}

/// Public material of one generation (what a trusted root lists).
#[derive(Clone, Debug)]
pub struct PublicGeneration<T> {
    /// The key or chain.
    pub material: T,
    /// Start of use.
    pub start: i64,
    /// End of use, if rotated out.
    pub end: Option<i64>,
}

/// Everything a trusted root needs from the authority.
#[derive(Clone, Debug)]
pub struct PublicMaterial {
    /// CA chains (intermediate, root).
    pub cas: Vec<PublicGeneration<Vec<Certificate>>>,
    /// CT log keys.
    pub cts: Vec<PublicGeneration<PublicKey>>,
    /// TSA chains (TSA certificate, root).
    pub tsas: Vec<PublicGeneration<Vec<Certificate>>>,
}

/// The authority's state directory.
#[derive(Clone, Debug)]
pub struct AuthorityDir {
    dir: PathBuf,
}

impl AuthorityDir {
    /// Opens `dir`, creating it and a first generation of every component (and the
    /// development issuer key) if missing.
    ///
    /// Refuses a directory with key material but no `state.json`: new keys are never
    /// generated over existing ones (the error lists what exists and how to recover).
    pub fn open(dir: &Path) -> Result<Self> {
        create_private_dir(dir)?;
        let me = Self {
            dir: dir.to_owned(),
        };
        let state_path = dir.join("state.json");
        if !state_path.exists() {
            let found = existing_key_material(dir)?;
            if !found.is_empty() {
                return Err(Error::Config(format!(
                    "{} is missing but {} holds key material ({}); refusing to generate new \
                     CA/CT/TSA/issuer keys over it, since certificates and timestamps already \
                     issued chain to those keys. To recover: restore state.json from a backup \
                     (it lists each component's generations, e.g. \
                     {{\"ca\":[{{\"id\":1,\"start\":<unix seconds>}}],\"ct\":[…],\"tsa\":[…]}}); \
                     or, to start a new authority whose certificates old trusted roots will not \
                     accept, move {} away and start again",
                    state_path.display(),
                    dir.display(),
                    found.join(", "),
                    dir.display()
                )));
            }
        }
        let mut state = me.state()?;
        let mut changed = false;
        for c in [Component::Ca, Component::Ct, Component::Tsa] {
            if state.current(c).is_none() {
                me.new_generation(&mut state, c, crate::unix_now())?;
                changed = true;
            }
        }
        if changed {
            me.save(&state)?;
        }
        let dev = dir.join("oidc");
        if !dev.join("dev.key").exists() {
            create_private_dir(&dev)?;
            write_key(
                &dev.join("dev.key"),
                &PrivateKey::generate(KeyKind::EcdsaP256)?,
            )?;
        }
        Ok(me)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The recorded generations.
    pub fn state(&self) -> Result<State> {
        let path = self.dir.join("state.json");
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
        }
    }

    fn save(&self, state: &State) -> Result<()> {
        let json = serde_json::to_vec_pretty(state)
            .map_err(|e| Error::Config(format!("encoding state: {e}")))?;
        write_atomic(&self.dir.join("state.json"), &json, 0o644)
    }

    fn gen_dir(&self, c: Component, id: u32) -> PathBuf {
        self.dir.join(format!("{}-{id}", c.prefix()))
    }

    fn new_generation(&self, state: &mut State, c: Component, start: i64) -> Result<()> {
        let on_disk = max_generation_dir(&self.dir, c);
        let list = state.list_mut(c);
        // Never reuse a generation directory, even one state.json does not list.
        let id = list.iter().map(|g| g.id).max().unwrap_or(0).max(on_disk) + 1;
        let gdir = self.gen_dir(c, id);
        create_private_dir(&gdir)?;
        match c {
            Component::Ca => {
                let root_key = PrivateKey::generate(KeyKind::EcdsaP384)?;
                let root = certs::self_signed_ca(
                    &root_key,
                    &format!("CN=chainseal root {id},O=chainseal"),
                    start,
                    10,
                )?;
                let key = PrivateKey::generate(KeyKind::EcdsaP384)?;
                let inter = certs::intermediate_ca(
                    &key,
                    &format!("CN=chainseal intermediate {id},O=chainseal"),
                    &root,
                    &root_key,
                    start,
                    None,
                )?;
                write_key(&gdir.join("root.key"), &root_key)?;
                write_cert(&gdir.join("root.pem"), &root)?;
                write_key(&gdir.join("intermediate.key"), &key)?;
                write_cert(&gdir.join("intermediate.pem"), &inter)?;
            }
            Component::Ct => {
                write_key(
                    &gdir.join("ct.key"),
                    &PrivateKey::generate(KeyKind::EcdsaP256)?,
                )?;
            }
            Component::Tsa => {
                let root_key = PrivateKey::generate(KeyKind::EcdsaP384)?;
                let root = certs::self_signed_ca(
                    &root_key,
                    &format!("CN=chainseal TSA root {id},O=chainseal"),
                    start,
                    10,
                )?;
                let key = PrivateKey::generate(KeyKind::EcdsaP256)?;
                let tsa = certs::tsa_certificate(
                    &key,
                    &format!("CN=chainseal TSA {id},O=chainseal"),
                    &root,
                    &root_key,
                    start,
                )?;
                write_key(&gdir.join("root.key"), &root_key)?;
                write_cert(&gdir.join("root.pem"), &root)?;
                write_key(&gdir.join("tsa.key"), &key)?;
                write_cert(&gdir.join("tsa.pem"), &tsa)?;
            }
        }
        list.push(Generation {
            id,
            start,
            end: None,
        });
        Ok(())
    }

    /// Rotates `c`: the current generation's window closes now and a new one starts.
    pub fn rotate(&self, c: Component) -> Result<u32> {
        let mut state = self.state()?;
        let t = crate::unix_now();
        if let Some(g) = state.list_mut(c).iter_mut().rev().find(|g| g.end.is_none()) {
            g.end = Some(t);
        }
        self.new_generation(&mut state, c, t)?;
        self.save(&state)?;
        state
            .current(c)
            .map(|g| g.id)
            .ok_or_else(|| Error::Config("rotation produced no generation".into()))
    }

    fn current(&self, c: Component) -> Result<u32> {
        self.state()?
            .current(c)
            .map(|g| g.id)
            .ok_or_else(|| Error::Config(format!("no current {c:?} generation")))
    }

    /// The current CA: (root, intermediate, intermediate key).
    pub fn ca(&self) -> Result<(Certificate, Certificate, PrivateKey)> {
        let d = self.gen_dir(Component::Ca, self.current(Component::Ca)?);
        Ok((
            read_cert(&d.join("root.pem"))?,
            read_cert(&d.join("intermediate.pem"))?,
            read_key(&d.join("intermediate.key"))?,
        ))
    }

    /// The current CT log key.
    pub fn ct_key(&self) -> Result<PrivateKey> {
        let d = self.gen_dir(Component::Ct, self.current(Component::Ct)?);
        read_key(&d.join("ct.key"))
    }

    /// The folder of the current CT log generation's log (`D/ct-<n>/log/`), beside its
    /// key: checkpoint, tiles and issuers (see [`crate::ct::CtLog::open`]). Not created
    /// here: the log creates it on first open.
    pub fn ct_log_dir(&self) -> Result<PathBuf> {
        Ok(self
            .gen_dir(Component::Ct, self.current(Component::Ct)?)
            .join("log"))
    }

    /// The current TSA: (key, chain TSA certificate first).
    pub fn tsa(&self) -> Result<(PrivateKey, Vec<Certificate>)> {
        let d = self.gen_dir(Component::Tsa, self.current(Component::Tsa)?);
        Ok((
            read_key(&d.join("tsa.key"))?,
            vec![
                read_cert(&d.join("tsa.pem"))?,
                read_cert(&d.join("root.pem"))?,
            ],
        ))
    }

    /// The development issuer's key.
    pub fn dev_key(&self) -> Result<PrivateKey> {
        read_key(&self.dir.join("oidc").join("dev.key"))
    }

    /// Public keys and chains of every generation.
    pub fn public_material(&self) -> Result<PublicMaterial> {
        let state = self.state()?;
        let chain = |c: Component, g: &Generation, leaf: &str| -> Result<_> {
            let d = self.gen_dir(c, g.id);
            Ok(PublicGeneration {
                material: vec![read_cert(&d.join(leaf))?, read_cert(&d.join("root.pem"))?],
                start: g.start,
                end: g.end,
            })
        };
        Ok(PublicMaterial {
            cas: state
                .ca
                .iter()
                .map(|g| chain(Component::Ca, g, "intermediate.pem"))
                .collect::<Result<_>>()?,
            cts: state
                .ct
                .iter()
                .map(|g| {
                    let key = read_key(&self.gen_dir(Component::Ct, g.id).join("ct.key"))?;
                    Ok(PublicGeneration {
                        material: key.public_key(),
                        start: g.start,
                        end: g.end,
                    })
                })
                .collect::<Result<_>>()?,
            tsas: state
                .tsa
                .iter()
                .map(|g| chain(Component::Tsa, g, "tsa.pem"))
                .collect::<Result<_>>()?,
        })
    }

    /// Records the URL the authority is served at (read by `authority token`).
    pub fn set_public_url(&self, url: &str) -> Result<()> {
        write_atomic(&self.dir.join("url"), url.as_bytes(), 0o644)
    }

    /// The URL recorded by the last `serve`.
    pub fn public_url(&self) -> Result<String> {
        let p = self.dir.join("url");
        std::fs::read_to_string(&p)
            .map(|s| s.trim().to_owned())
            .map_err(Error::io(format!(
                "reading {} (start `chainseal authority serve` first or pass --issuer)",
                p.display()
            )))
    }
}
