//! Producing links: `run` (materials → command → products), `record start` / `record
//! stop`, and writing `<step>.<keyid8>.link` as a Metablock, a DSSE envelope, or a DSSE
//! envelope around an attestation-framework Statement.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::Error;
use crate::keys::SigningKey;
use crate::metadata::{Format, Metadata};
use crate::models::Link;
use crate::record::{RecordOptions, record_artifacts};

/// How a link is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkFormat {
    /// Classic Metablock (the reference's default).
    #[default]
    Metablock,
    /// DSSE envelope around the classic link (`--use-dsse`).
    Dsse,
    /// DSSE envelope around a Statement v1 with the `link/v0.3` predicate.
    Statement,
}

/// What the command returned.
#[derive(Debug, Clone)]
pub struct CommandResult {
    /// Exit code (negative signal number if killed by a signal).
    pub return_value: i64,
    /// Captured stdout (empty unless streams were recorded).
    pub stdout: String,
    /// Captured stderr (empty unless streams were recorded).
    pub stderr: String,
}

/// Run `cmd`, optionally capturing (and echoing) its output, killing it after `timeout`.
pub fn execute(
    cmd: &[String],
    record_streams: bool,
    timeout: Option<Duration>,
) -> Result<CommandResult, Error> {
    execute_in(cmd, record_streams, timeout, None, false)
}

/// As [`execute`], in `cwd`; `discard` sends uncaptured output to /dev/null.
pub(crate) fn execute_in(
    cmd: &[String],
    record_streams: bool,
    timeout: Option<Duration>,
    cwd: Option<&Path>,
    discard: bool,
) -> Result<CommandResult, Error> {
    let (prog, args) = cmd.split_first().ok_or_else(|| Error::Command {
        command: cmd.to_vec(),
        reason: "empty command".into(),
    })?;
    let mut c = Command::new(prog);
    c.args(args).stdin(Stdio::null());
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    if record_streams {
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else if discard {
        c.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let mut child = c.spawn().map_err(|e| Error::Command {
        command: cmd.to_vec(),
        reason: e.to_string(),
    })?;
    let readers = if record_streams {
        let out = child.stdout.take();
        let err = child.stderr.take();
        let t_out = std::thread::spawn(move || pump(out, false));
        let t_err = std::thread::spawn(move || pump(err, true));
        Some((t_out, t_err))
    } else {
        None
    };
    let start = Instant::now();
    let mut pause = Duration::from_micros(20);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => {
                return Err(Error::Command {
                    command: cmd.to_vec(),
                    reason: e.to_string(),
                });
            }
        }
        if let Some(t) = timeout
            && start.elapsed() > t
        {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Command {
                command: cmd.to_vec(),
                reason: format!("timed out after {} s", t.as_secs_f64()),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_micros(500));
    };
    let (stdout, stderr) = match readers {
        Some((a, b)) => (a.join().unwrap_or_default(), b.join().unwrap_or_default()),
        None => (String::new(), String::new()),
    };
    let return_value = match status.code() {
        Some(c) => i64::from(c),
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                -i64::from(status.signal().unwrap_or(1))
            }
            #[cfg(not(unix))]
            {
                -1
            }
        }
    };
    Ok(CommandResult {
        return_value,
        stdout,
        stderr,
    })
}

/// Read a child stream to the end, echoing it (as the reference duplicates streams).
fn pump<R: Read>(src: Option<R>, is_err: bool) -> String {
    let Some(mut src) = src else {
        return String::new();
    };
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = src.read(&mut buf) {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
        if is_err {
            let _ = std::io::stderr().write_all(&buf[..n]);
        } else {
            let _ = std::io::stdout().write_all(&buf[..n]);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Options for [`run_step`].
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Step name.
    pub step_name: String,
    /// Material paths.
    pub materials: Vec<String>,
    /// Product paths.
    pub products: Vec<String>,
    /// The command; empty means `--no-command`.
    pub command: Vec<String>,
    /// Capture stdout/stderr into the byproducts.
    pub record_streams: bool,
    /// Artifact recording options.
    pub record: RecordOptions,
    /// Command timeout (the reference defaults to 10 s).
    pub timeout: Option<Duration>,
}

/// Record materials, run the command, record products: the unsigned link.
pub fn run_step(opts: &RunOptions) -> Result<Link, Error> {
    let materials = record_artifacts(&opts.materials, &opts.record)?;
    let byproducts = if opts.command.is_empty() {
        Map::new()
    } else {
        let r = execute(&opts.command, opts.record_streams, opts.timeout)?;
        byproducts(&r)
    };
    let products = record_artifacts(&opts.products, &opts.record)?;
    Ok(Link {
        name: opts.step_name.clone(),
        command: opts.command.clone(),
        materials,
        products,
        byproducts,
        environment: Map::new(),
    })
}

pub(crate) fn byproducts(r: &CommandResult) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("stdout".into(), Value::String(r.stdout.clone()));
    m.insert("stderr".into(), Value::String(r.stderr.clone()));
    m.insert("return-value".into(), json!(r.return_value));
    m
}

/// Sign `link` with `key` in `format`.
pub fn sign_link(link: &Link, key: &SigningKey, format: LinkFormat) -> Result<Metadata, Error> {
    let mut md = match format {
        LinkFormat::Metablock => Metadata::new(link.to_value(), Format::Metablock)?,
        LinkFormat::Dsse => Metadata::new(link.to_value(), Format::Dsse)?,
        LinkFormat::Statement => Metadata::new(link.to_statement(), Format::Dsse)?,
    };
    md.sign(key)?;
    Ok(md)
}

/// `<step>.<keyid[:8]>.link`.
pub fn link_filename(step: &str, keyid: &str) -> String {
    format!("{step}.{}.link", &keyid[..keyid.len().min(8)])
}

/// `.<step>.<keyid[:8]>.link-unfinished`.
pub fn unfinished_filename(step: &str, keyid: &str) -> String {
    format!(".{step}.{}.link-unfinished", &keyid[..keyid.len().min(8)])
}

/// Write `bytes` to `path` via a temporary file and rename.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// `run`: record, execute, sign, write `<dir>/<step>.<keyid8>.link`; returns the path.
pub fn run_and_write(
    opts: &RunOptions,
    key: &SigningKey,
    format: LinkFormat,
    metadata_dir: Option<&Path>,
) -> Result<PathBuf, Error> {
    let link = run_step(opts)?;
    let md = sign_link(&link, key, format)?;
    let path = metadata_dir
        .unwrap_or(Path::new("."))
        .join(link_filename(&opts.step_name, &key.public().keyid()));
    write_file(&path, &md.to_json())?;
    Ok(path)
}

/// `record start`: record materials into a signed preliminary link
/// `.<step>.<keyid8>.link-unfinished` in the current directory (or `dir`).
pub fn record_start(
    step: &str,
    materials: &[String],
    record: &RecordOptions,
    key: &SigningKey,
    format: LinkFormat,
    dir: Option<&Path>,
) -> Result<PathBuf, Error> {
    let link = Link {
        name: step.to_string(),
        materials: record_artifacts(materials, record)?,
        ..Link::default()
    };
    let md = sign_link(&link, key, format)?;
    let path = dir
        .unwrap_or(Path::new("."))
        .join(unfinished_filename(step, &key.public().keyid()));
    write_file(&path, &md.to_json())?;
    Ok(path)
}

/// `record stop`: load and verify the preliminary link, record products, sign, write the
/// final link and remove the preliminary one.
pub fn record_stop(
    step: &str,
    products: &[String],
    record: &RecordOptions,
    key: &SigningKey,
    dir: Option<&Path>,
    metadata_dir: Option<&Path>,
) -> Result<PathBuf, Error> {
    let keyid = key.public().keyid();
    let unfinished = dir
        .unwrap_or(Path::new("."))
        .join(unfinished_filename(step, &keyid));
    let bytes = std::fs::read(&unfinished).map_err(|e| Error::io(&unfinished, e))?;
    let what = unfinished.display().to_string();
    let md = Metadata::from_json(&bytes, &what)?;
    md.verify(key.public())?;
    let mut link = Link::from_value(md.payload(), &what)?;
    if link.name != step {
        return Err(Error::format(
            what,
            format!("preliminary link is for step '{}', not '{step}'", link.name),
        ));
    }
    let format = match (md.format(), md.payload_type()) {
        (Format::Metablock, _) => LinkFormat::Metablock,
        (Format::Dsse, "link") => LinkFormat::Dsse,
        (Format::Dsse, _) => LinkFormat::Statement,
    };
    link.products = record_artifacts(products, record)?;
    let out = sign_link(&link, key, format)?;
    let path = metadata_dir
        .unwrap_or(Path::new("."))
        .join(link_filename(step, &keyid));
    write_file(&path, &out.to_json())?;
    std::fs::remove_file(&unfinished).map_err(|e| Error::io(&unfinished, e))?;
    Ok(path)
}
