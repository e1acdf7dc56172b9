//! Isolated step execution: every step runs in a fresh set of Linux namespaces built
//! in-process with [`hakoniwa`] (which keeps the `unsafe` fork/unshare/pivot_root code
//! out of this crate).
//!
//! What a step sees:
//! - a new **user, mount, PID, UTS and IPC** namespace, and a new **network** namespace
//!   (with no interfaces up, so not even the host's loopback) unless the step has
//!   `network: true`;
//! - a read-only root on a fresh tmpfs-backed directory with the host's `/usr`, `/bin`,
//!   `/lib*`, `/sbin` and `/etc` bind-mounted **read-only** (the toolchain), a minimal
//!   `/dev`, its own `/proc`, a private writable `/tmp` that vanishes with the step;
//! - its declared inputs bind-mounted **read-only** under `/workspace/<path>` (the
//!   working directory) and a fresh, empty, writable output folder at `/out`;
//! - a clean environment: `PATH`, `HOME=/tmp`, `OUT=/out`, `WORKSPACE=/workspace`.
//!
//! Secrets (the factory key) are never mounted: [`SandboxSpec::secrets`] lists paths that
//! must stay invisible. If one lies under a host directory the sandbox exposes, an empty
//! tmpfs is mounted over its parent folder; if it lies under an input or the output folder,
//! the step is refused.

use std::path::{Path, PathBuf};

use hakoniwa::{Container, Namespace, Stdio};

use crate::Error;

/// Host directories bind-mounted read-only into every sandbox (if they exist).
pub const SYSTEM_DIRS: [&str; 7] = ["/bin", "/etc", "/lib", "/lib64", "/lib32", "/sbin", "/usr"];
/// Where inputs appear inside the sandbox (and the working directory).
pub const WORKSPACE: &str = "/workspace";
/// Where the step's fresh output folder appears inside the sandbox.
pub const OUT: &str = "/out";
/// The `PATH` a step gets.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to run and what to expose.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// Step name (for errors).
    pub step: String,
    /// argv; `argv[0]` is looked up on [`PATH`] inside the sandbox if it has no `/`.
    pub argv: Vec<String>,
    /// `(host file or dir, path relative to /workspace)`, mounted read-only.
    pub inputs: Vec<(PathBuf, String)>,
    /// The host folder mounted read-write at `/out`.
    pub out_dir: PathBuf,
    /// Share the host network namespace (dependency fetching only).
    pub network: bool,
    /// Seconds before the step is killed.
    pub timeout_secs: u64,
    /// Host paths that must not be visible inside the sandbox (the factory key).
    pub secrets: Vec<PathBuf>,
}

/// How the step ended.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// Exit code (128+signal if killed), as the sandbox reports it.
    pub code: i32,
    /// Whether the process exited normally with code 0.
    pub success: bool,
    /// Human-readable reason from the sandbox.
    pub reason: String,
    /// Captured stdout.
    pub stdout: Vec<u8>,
    /// Captured stderr.
    pub stderr: Vec<u8>,
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Host system directories that exist and are real directories (symlinked ones, like
/// `/bin -> usr/bin`, are recreated as symlinks by the sandbox and need no check).
fn system_roots() -> Vec<PathBuf> {
    SYSTEM_DIRS
        .iter()
        .map(Path::new)
        .filter(|p| p.is_dir() && !p.is_symlink())
        .map(Path::to_path_buf)
        .collect()
}

/// Resolve `argv[0]` against [`PATH`] on the host's `/usr` view (the same files the
/// sandbox mounts read-only).
fn resolve_program(step: &str, prog: &str) -> Result<String, Error> {
    if prog.contains('/') {
        return Ok(prog.to_string());
    }
    for dir in PATH.split(':') {
        let cand = Path::new(dir).join(prog);
        if cand.is_file() {
            return Ok(cand.to_string_lossy().into_owned());
        }
    }
    Err(Error::Sandbox {
        step: step.to_string(),
        reason: format!("program '{prog}' not found on {PATH}"),
    })
}

fn utf8<'a>(step: &str, p: &'a Path) -> Result<&'a str, Error> {
    p.to_str().ok_or_else(|| Error::Sandbox {
        step: step.to_string(),
        reason: format!("path {} is not UTF-8", p.display()),
    })
}

/// Build the container for `spec`: namespaces, read-only system dirs, inputs, `/out`,
/// and tmpfs masks over secrets.
fn container_for(spec: &SandboxSpec) -> Result<Container, Error> {
    let step = spec.step.as_str();
    let sandbox_err = |reason: String| Error::Sandbox {
        step: step.to_string(),
        reason,
    };
    let mut c = Container::new(); // mount + user (uid mapped to itself) + pid, new /proc
    c.unshare(Namespace::Uts)
        .unshare(Namespace::Ipc)
        .hostname("chainseal-step");
    if !spec.network {
        c.unshare(Namespace::Network);
    }
    c.rootfs("/").map_err(|e| sandbox_err(e.to_string()))?;
    c.devfsmount("/dev")
        .tmpfsmount("/tmp")
        .dir(WORKSPACE, 0o755);

    let out = canon(&spec.out_dir);
    let mut exposed: Vec<PathBuf> = vec![out.clone()];
    for (host, rel) in &spec.inputs {
        let host = canon(host);
        let target = format!("{WORKSPACE}/{rel}");
        c.bindmount_ro(utf8(step, &host)?, &target);
        exposed.push(host);
    }
    c.bindmount_rw(utf8(step, &out)?, OUT);

    let roots = system_roots();
    for secret in &spec.secrets {
        let s = canon(secret);
        if let Some(e) = exposed
            .iter()
            .find(|e| s.starts_with(e) || e.starts_with(&s))
        {
            return Err(Error::SecretExposed {
                reason: format!(
                    "step '{step}': the factory key {} overlaps a folder mounted into the step ({})",
                    s.display(),
                    e.display()
                ),
            });
        }
        if roots.iter().any(|r| s.starts_with(r)) {
            // Visible through a read-only system dir: mask its folder with an empty tmpfs.
            let parent = s.parent().unwrap_or(Path::new("/"));
            if roots.iter().any(|r| r == parent) || parent == Path::new("/") {
                return Err(Error::SecretExposed {
                    reason: format!(
                        "the factory key {} sits directly in {}; move it to its own folder",
                        s.display(),
                        parent.display()
                    ),
                });
            }
            c.tmpfsmount(utf8(step, parent)?);
        }
    }
    Ok(c)
}

/// Run one step in a fresh sandbox and wait for it.
pub fn run(spec: &SandboxSpec) -> Result<StepOutcome, Error> {
    let (prog, args) = spec.argv.split_first().ok_or_else(|| Error::Sandbox {
        step: spec.step.clone(),
        reason: "empty command".into(),
    })?;
    let prog = resolve_program(&spec.step, prog)?;
    let container = container_for(spec)?;
    let mut cmd = container.command(&prog);
    cmd.args(args)
        .env("PATH", PATH)
        .env("HOME", "/tmp")
        .env("OUT", OUT)
        .env("WORKSPACE", WORKSPACE)
        .current_dir(WORKSPACE)
        .stdin(Stdio::inherit())
        .wait_timeout(spec.timeout_secs);
    // stdin from /dev/null is not configurable without an fd; a step reading stdin would
    // read the factory's stdin, so close it via the null device instead.
    if let Ok(null) = std::fs::File::open("/dev/null") {
        cmd.stdin(Stdio::Fd(null.into()));
    }
    let out = cmd.output().map_err(|e| Error::Sandbox {
        step: spec.step.clone(),
        reason: e.to_string(),
    })?;
    Ok(StepOutcome {
        code: out.status.code,
        success: out.status.exit_code == Some(0),
        reason: out.status.reason.clone(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}
