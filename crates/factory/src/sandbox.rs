//! Isolated step execution: every step runs in a fresh set of Linux namespaces built
//! in-process with [`hakoniwa`] (which keeps the `unsafe` fork/unshare/pivot_root code
//! out of this crate).
//!
//! What a step sees, and why it holds when the factory runs as root:
//! - new **user, mount, PID, UTS, IPC and network** namespaces. The network namespace has
//!   no interface up, not even loopback, for every step: a `network: true` step gets its
//!   pinned dependencies fetched by the observer before it starts, never a network.
//! - **No privilege.** The step runs as uid/gid [`STEP_UID`] inside its user namespace
//!   (mapped to the factory's own uid): `execve` of a non-root uid clears every
//!   capability, `no_new_privs` is set (setuid and file-capability binaries gain
//!   nothing), and a **seccomp** filter refuses `mount`, `umount2`, `pivot_root`, the new
//!   mount API, `unshare`/`setns`/`clone` with namespace flags (`clone3` answers ENOSYS so
//!   libc falls back to `clone`), `ptrace`, `process_vm_*`, `kexec_*`, `bpf`, `keyctl`,
//!   modules, `perf_event_open`, `userfaultfd`, `io_uring_*` and the other host-wide
//!   syscalls ([`DENIED_SYSCALLS`]). Mounts cannot be remounted or unmounted from inside.
//! - a read-only root on a fresh tmpfs-backed directory with the host's `/usr`, `/bin`,
//!   `/lib*`, `/sbin` and `/etc` bind-mounted **read-only, nosuid**, a minimal `/dev`,
//!   its own `/proc`, a private size-capped writable `/tmp` that vanishes with the step;
//! - its declared inputs bind-mounted **read-only** under `/workspace/<path>` (the
//!   working directory) and a fresh, empty, writable output folder at `/out`;
//! - **limits** ([`Limits`]): address space, processes, CPU seconds and file size by
//!   rlimit; `/out` as a whole is measured while the step runs and the step is killed as
//!   soon as it exceeds its cap; `/tmp` is a tmpfs of the given size; wall-clock timeout;
//! - a clean environment: `PATH`, `HOME=/tmp`, `OUT=/out`, `WORKSPACE=/workspace`, and
//!   `/dev/null` as stdin. No process outlives the step: it is the init of its PID
//!   namespace, so when it exits the kernel kills everything it started.
//!
//! Secrets (the factory key) are never mounted: [`SandboxSpec::secrets`] lists paths that
//! must stay invisible. If one lies under a host directory the sandbox exposes, an empty
//! tmpfs is mounted over its parent folder; if it lies under an input or the output folder,
//! the step is refused.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hakoniwa::seccomp::{Action, ArgCmp, ArgCmpOp, Filter};
use hakoniwa::{Container, MountOptions, Namespace, Rlimit, Stdio};

use crate::Error;

/// Host directories bind-mounted read-only into every sandbox (if they exist).
pub const SYSTEM_DIRS: [&str; 7] = ["/bin", "/etc", "/lib", "/lib64", "/lib32", "/sbin", "/usr"];
/// Where inputs appear inside the sandbox (and the working directory).
pub const WORKSPACE: &str = "/workspace";
/// Where the step's fresh output folder appears inside the sandbox.
pub const OUT: &str = "/out";
/// The `PATH` a step gets.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The uid and gid a step runs as inside its user namespace (never 0, so `execve`
/// leaves it no capability).
pub const STEP_UID: u32 = 1000;

/// Syscalls a step may not make (they answer `EPERM`). Everything here either changes
/// what the sandbox is (mounts, namespaces), reaches other processes or the kernel
/// (ptrace, bpf, modules, kexec, keyrings), or is a known way around seccomp's view of
/// syscalls (`io_uring`).
pub const DENIED_SYSCALLS: &[&str] = &[
    // mounts, old and new API
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    // namespaces (clone with namespace flags is refused below)
    "unshare",
    "setns",
    // other processes and the kernel
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "kexec_load",
    "kexec_file_load",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    "vhangup",
    "uselib",
    "personality",
    "fanotify_init",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
];

/// `clone` flags that create namespaces; `clone` with any of them is refused.
const CLONE_NAMESPACE_FLAGS: [u64; 8] = [
    0x0002_0000, // CLONE_NEWNS
    0x0200_0000, // CLONE_NEWCGROUP
    0x0400_0000, // CLONE_NEWUTS
    0x0800_0000, // CLONE_NEWIPC
    0x1000_0000, // CLONE_NEWUSER
    0x2000_0000, // CLONE_NEWPID
    0x4000_0000, // CLONE_NEWNET
    0x0000_0080, // CLONE_NEWTIME
];
const EPERM: i32 = 1;
const ENOSYS: i32 = 38;

/// Resource limits of one step (already resolved from the pipeline and the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space per process, bytes (`RLIMIT_AS`).
    pub memory: u64,
    /// Processes and threads at once (`RLIMIT_NPROC`, counted in the step's own user
    /// namespace).
    pub processes: u64,
    /// CPU seconds per process (`RLIMIT_CPU`).
    pub cpu_secs: u64,
    /// Total bytes in `/out` (and the largest file, by `RLIMIT_FSIZE`).
    pub out: u64,
    /// Size of the private `/tmp` tmpfs, bytes.
    pub tmp: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 4 << 30,
            processes: 512,
            cpu_secs: 3600,
            out: 2 << 30,
            tmp: 1 << 30,
        }
    }
}

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
    /// Seconds before the step is killed.
    pub timeout_secs: u64,
    /// Resource limits.
    pub limits: Limits,
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
    /// Human-readable reason: the sandbox's, or which limit ended the step.
    pub reason: String,
    /// Captured stdout (at most [`CAPTURE_LIMIT`] bytes, the end kept).
    pub stdout: Vec<u8>,
    /// Captured stderr (at most [`CAPTURE_LIMIT`] bytes, the end kept).
    pub stderr: Vec<u8>,
}

/// How much of a step's stdout and stderr is kept in memory (the rest is streamed and
/// dropped).
pub const CAPTURE_LIMIT: usize = 1 << 20;

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

/// Whether this process runs as root on the host (its steps then keep root's file
/// ownership, without any capability).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// How a private entry under the host's `/etc` is hidden from a step.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mask {
    /// An empty tmpfs over the folder.
    Dir(PathBuf),
    /// `/dev/null` bound over the file.
    File(PathBuf),
}

/// Entries under the host's `/etc` that not every user may read but a step of a factory
/// running as root could (as their owner, root, or through group root): `/etc/shadow`,
/// private TLS keys. They are masked, so a step sees of the host only what an
/// unprivileged user could. A file the sandbox cannot bind over (root-owned but not
/// writable by root without a capability) has its folder masked instead.
fn etc_private_masks() -> Vec<Mask> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut it = walkdir::WalkDir::new("/etc")
        .follow_links(false)
        .min_depth(1)
        .into_iter();
    while let Some(e) = it.next() {
        let Ok(e) = e else { continue };
        let Ok(m) = e.metadata() else { continue };
        if m.file_type().is_symlink() || e.path().to_str().is_none() {
            continue;
        }
        let (mode, is_dir) = (m.mode(), m.is_dir());
        let (all, owner, group) = if is_dir {
            (0o005, 0o500, 0o050)
        } else {
            (0o004, 0o400, 0o040)
        };
        let public = mode & all == all;
        let rootish = (m.uid() == 0 && mode & owner != 0) || (m.gid() == 0 && mode & group != 0);
        if public || !rootish {
            continue;
        }
        if is_dir {
            it.skip_current_dir();
            out.push(Mask::Dir(e.path().to_path_buf()));
            continue;
        }
        // The sandbox opens a bind target for appending before it mounts over it.
        let openable = (m.uid() == 0 && mode & 0o200 != 0)
            || (m.uid() == 0 && m.gid() == 0)
            || (m.gid() == 0 && mode & 0o020 != 0);
        match e.path().parent() {
            _ if openable => out.push(Mask::File(e.path().to_path_buf())),
            Some(dir) if dir != Path::new("/etc") => out.push(Mask::Dir(dir.to_path_buf())),
            _ => out.push(Mask::File(e.path().to_path_buf())),
        }
    }
    out.dedup();
    out
}

/// The seccomp filter every step runs under: allow by default, refuse
/// [`DENIED_SYSCALLS`] and namespace-creating `clone`, and answer `clone3` with ENOSYS
/// (its flags live in memory a filter cannot read; libc then falls back to `clone`).
/// Only the native architecture is allowed: a syscall made through another ABI kills
/// the process.
pub fn seccomp_filter() -> Filter {
    let mut f = Filter::new(Action::Allow);
    for name in DENIED_SYSCALLS {
        f.add_rule(Action::Errno(EPERM), name);
    }
    for flag in CLONE_NAMESPACE_FLAGS {
        f.add_rule_conditional(
            Action::Errno(EPERM),
            "clone",
            &[ArgCmp::new(0, ArgCmpOp::MaskedEq, flag, flag)],
        );
    }
    f.add_rule(Action::Errno(ENOSYS), "clone3");
    f
}

/// Build the container for `spec`: namespaces, unprivileged user, limits, seccomp,
/// read-only system dirs, inputs, `/out`, and tmpfs masks over secrets.
fn container_for(spec: &SandboxSpec) -> Result<Container, Error> {
    let step = spec.step.as_str();
    let sandbox_err = |reason: String| Error::Sandbox {
        step: step.to_string(),
        reason,
    };
    let mut c = Container::new(); // mount + user + pid, new /proc
    c.unshare(Namespace::Uts)
        .unshare(Namespace::Ipc)
        .unshare(Namespace::Network)
        .hostname("chainseal-step");
    // A non-zero uid inside: execve drops every capability the namespace gave.
    c.uidmap(STEP_UID).gidmap(STEP_UID);
    let l = &spec.limits;
    c.setrlimit(Rlimit::As, l.memory, l.memory)
        .setrlimit(Rlimit::Nproc, l.processes, l.processes)
        .setrlimit(Rlimit::Cpu, l.cpu_secs, l.cpu_secs)
        .setrlimit(Rlimit::Fsize, l.out, l.out)
        .setrlimit(Rlimit::Core, 0, 0)
        .setrlimit(Rlimit::Nofile, 4096, 4096);
    c.seccomp_filter(seccomp_filter());
    c.rootfs("/").map_err(|e| sandbox_err(e.to_string()))?;
    c.devfsmount("/dev")
        .mount(
            "tmpfs",
            "/tmp",
            "tmpfs",
            MountOptions::NOSUID | MountOptions::NODEV,
            Some(format!("size={},mode=1777", l.tmp)),
        )
        .dir(WORKSPACE, 0o755);

    if running_as_root() {
        for mask in etc_private_masks() {
            match &mask {
                Mask::Dir(d) => c.tmpfsmount(utf8(step, d)?),
                Mask::File(f) => c.bindmount_ro("/dev/null", utf8(step, f)?),
            };
        }
    }

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

/// Bytes a folder takes: every entry's allocated or apparent size, whichever is larger,
/// plus a block per entry (so a million empty files count too). Symlinks are not
/// followed.
pub fn tree_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len().max(m.blocks() * 512) + 512)
        .sum()
}

/// A step's stdout or stderr: a host temp file the step writes to, read as it grows.
struct Capture {
    file: std::fs::File,
    pos: u64,
    kept: Vec<u8>,
}

impl Capture {
    fn new(step: &str) -> Result<(Self, std::fs::File), Error> {
        let file = tempfile::tempfile().map_err(|e| Error::Sandbox {
            step: step.to_string(),
            reason: format!("creating a capture file: {e}"),
        })?;
        let writer = file.try_clone().map_err(|e| Error::Sandbox {
            step: step.to_string(),
            reason: format!("creating a capture file: {e}"),
        })?;
        Ok((
            Capture {
                file,
                pos: 0,
                kept: Vec::new(),
            },
            writer,
        ))
    }

    /// Read what was written since the last call; hand it to `sink`, keep the end.
    fn drain(&mut self, sink: &mut dyn FnMut(&[u8])) {
        if self.file.seek(SeekFrom::Start(self.pos)).is_err() {
            return;
        }
        let mut buf = [0u8; 64 * 1024];
        while let Ok(n) = self.file.read(&mut buf) {
            if n == 0 {
                break;
            }
            self.pos += n as u64;
            sink(&buf[..n]);
            self.kept.extend_from_slice(&buf[..n]);
            if self.kept.len() > 2 * CAPTURE_LIMIT {
                self.kept.drain(..self.kept.len() - CAPTURE_LIMIT);
            }
        }
    }

    fn into_kept(mut self) -> Vec<u8> {
        if self.kept.len() > CAPTURE_LIMIT {
            self.kept.drain(..self.kept.len() - CAPTURE_LIMIT);
        }
        self.kept
    }
}

/// The PID namespace of the step a hakoniwa child (`intermediate`, which stays in the
/// host's namespace) started: its first child is the step's init. Found through
/// `/proc/<pid>/task/<pid>/children`, or, on kernels without it, by the children's
/// `PPid`.
fn step_pid_ns(intermediate: u32) -> Option<std::ffi::OsString> {
    let init =
        std::fs::read_to_string(format!("/proc/{intermediate}/task/{intermediate}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next().map(str::to_owned))
            .or_else(|| child_by_ppid(intermediate))?;
    std::fs::read_link(format!("/proc/{init}/ns/pid"))
        .ok()
        .map(PathBuf::into_os_string)
}

/// A process whose parent is `parent`, by scanning `/proc/*/status`.
fn child_by_ppid(parent: u32) -> Option<String> {
    let want = format!("PPid:\t{parent}\n");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .find(|e| std::fs::read_to_string(e.path().join("status")).is_ok_and(|s| s.contains(&want)))
        .and_then(|e| e.file_name().into_string().ok())
}

/// How many host processes live in PID namespace `ns`. `RLIMIT_NPROC` does not bind a
/// factory running as root (the kernel exempts root's user), so the observer counts too.
fn processes_in(ns: &std::ffi::OsStr) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| std::fs::read_link(e.path().join("ns/pid")).is_ok_and(|l| l.as_os_str() == ns))
        .count() as u64
}

/// How often a running step's `/out` and processes are measured.
const MEASURE: Duration = Duration::from_millis(20);
/// How often the step's exit is checked and its output streamed: every millisecond in
/// its first second (so a short step costs no waiting), then every 5 ms.
fn wait_tick(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_secs(1) {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(5)
    }
}

/// Run one step in a fresh sandbox and wait for it. What the step writes to stdout and
/// stderr goes to `on_output` as it comes (and the end of it into the outcome).
pub fn run(spec: &SandboxSpec, on_output: &mut dyn FnMut(&[u8])) -> Result<StepOutcome, Error> {
    let step = spec.step.as_str();
    let sandbox_err = |reason: String| Error::Sandbox {
        step: step.to_string(),
        reason,
    };
    let (prog, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| sandbox_err("empty command".into()))?;
    let prog = resolve_program(step, prog)?;
    let container = container_for(spec)?;
    let (mut out_cap, out_w) = Capture::new(step)?;
    let (mut err_cap, err_w) = Capture::new(step)?;
    let null = std::fs::File::open("/dev/null").map_err(|e| sandbox_err(e.to_string()))?;
    let mut cmd = container.command(&prog);
    cmd.args(args)
        .env("PATH", PATH)
        .env("HOME", "/tmp")
        .env("OUT", OUT)
        .env("WORKSPACE", WORKSPACE)
        .current_dir(WORKSPACE)
        .stdin(Stdio::Fd(null.into()))
        .stdout(Stdio::Fd(out_w.into()))
        .stderr(Stdio::Fd(err_w.into()));
    let mut child = cmd.spawn().map_err(|e| sandbox_err(e.to_string()))?;
    let started = Instant::now();
    let deadline = Duration::from_secs(spec.timeout_secs);
    let mut killed_for: Option<String> = None;
    let mut measured: Option<Instant> = None;
    let mut pid_ns = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(sandbox_err(e.to_string())),
        }
        out_cap.drain(on_output);
        err_cap.drain(on_output);
        if killed_for.is_none() && measured.is_none_or(|t| t.elapsed() >= MEASURE) {
            measured = Some(Instant::now());
            if pid_ns.is_none() {
                pid_ns = step_pid_ns(child.id());
            }
            let procs = pid_ns.as_deref().map_or(0, processes_in);
            let used = tree_size(&spec.out_dir);
            if procs > spec.limits.processes {
                killed_for = Some(format!(
                    "killed: ran more than its limit of {} processes",
                    spec.limits.processes
                ));
            } else if used > spec.limits.out {
                killed_for = Some(format!(
                    "killed: /out grew past its limit of {} bytes",
                    spec.limits.out
                ));
            } else if started.elapsed() > deadline {
                killed_for = Some(format!("timed out after {} s", spec.timeout_secs));
            }
            if killed_for.is_some() {
                let _ = child.kill();
            }
        }
        std::thread::sleep(wait_tick(started.elapsed()));
    };
    out_cap.drain(on_output);
    err_cap.drain(on_output);
    let reason = killed_for.clone().unwrap_or_else(|| status.reason.clone());
    // Anything past the cap is refused even if the step ended before it was measured.
    let over = killed_for.is_none() && tree_size(&spec.out_dir) > spec.limits.out;
    Ok(StepOutcome {
        code: status.code,
        success: status.exit_code == Some(0) && killed_for.is_none() && !over,
        reason: if over {
            format!("/out grew past its limit of {} bytes", spec.limits.out)
        } else {
            reason
        },
        stdout: out_cap.into_kept(),
        stderr: err_cap.into_kept(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_found_by_its_parent_pid_and_a_childless_pid_has_none() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let me = std::process::id();
        let found = child_by_ppid(me).expect("our child");
        let status = std::fs::read_to_string(format!("/proc/{found}/status")).unwrap();
        assert!(status.contains(&format!("PPid:\t{me}\n")), "{status}");
        // `sleep` itself has no children.
        assert_eq!(child_by_ppid(child.id()), None);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
