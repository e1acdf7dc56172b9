//! A small disk that can be filled: a size-capped tmpfs mounted for one test (root only,
//! as in CI), unmounted when dropped.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether this process runs as root (effective uid 0), as CI does.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .expect("reading /proc/self/status")
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0")
}

/// A tmpfs of a fixed size, mounted on a fresh folder of its own.
pub struct SmallDisk {
    _dir: tempfile::TempDir,
    mnt: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (`mount -o size=…`, e.g. `"4m"`); `None` when not root.
    pub fn mount(size: &str) -> Option<SmallDisk> {
        if !is_root() {
            return None;
        }
        let dir = tempfile::tempdir().expect("a folder to mount on");
        let mnt = dir.path().join("disk");
        std::fs::create_dir(&mnt).expect("creating the mount point");
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(&mnt)
            .status()
            .expect("running mount");
        assert!(st.success(), "mount -t tmpfs on {}", mnt.display());
        Some(SmallDisk { _dir: dir, mnt })
    }

    /// The mounted folder.
    pub fn path(&self) -> &Path {
        &self.mnt
    }

    /// Fills the disk to the last byte with `name`; returns how much was written.
    pub fn fill(&self, name: &str) -> u64 {
        let mut f = std::fs::File::create(self.mnt.join(name)).expect("creating the filler");
        let chunk = vec![0u8; 4096];
        let mut written = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // Byte by byte for what a partial page still holds.
        while let Ok(1) = f.write(&[0]) {
            written += 1;
        }
        written
    }

    /// Frees what [`SmallDisk::fill`] took.
    pub fn free(&self, name: &str) {
        std::fs::remove_file(self.mnt.join(name)).expect("removing the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
    }
}
