//! Shared helpers for the factory's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_factory::{Error, KeySigner, RunOptions, RunReport};

/// A project folder with `source/` files, a pipeline and a key kept elsewhere.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub key_dir: tempfile::TempDir,
    pub key_path: PathBuf,
}

impl Fixture {
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            let p = dir.path().join("src").join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        let key_dir = tempfile::tempdir().unwrap();
        let key_path = key_dir.path().join("factory.pem");
        let k = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        std::fs::write(&key_path, k.to_pkcs8_pem().as_bytes()).unwrap();
        Fixture {
            dir,
            key_dir,
            key_path,
        }
    }

    pub fn signer(&self) -> KeySigner {
        KeySigner::from_file(&self.key_path).unwrap()
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Write `pipeline.yaml` (source = ./src) with the given steps YAML and run it.
    pub fn run(&self, steps_yaml: &str) -> Result<RunReport, Error> {
        self.run_yaml(&format!(
            "name: t\nsource: {{path: src}}\nsteps:\n{steps_yaml}"
        ))
    }

    /// Write `pipeline.yaml` with this text and run it with the fixture's key.
    pub fn run_yaml(&self, y: &str) -> Result<RunReport, Error> {
        self.run_yaml_with_secrets(y, vec![self.key_path.clone()])
    }

    /// [`Fixture::run_yaml`] with these paths declared secret (masked from the steps).
    pub fn run_yaml_with_secrets(
        &self,
        y: &str,
        secrets: Vec<PathBuf>,
    ) -> Result<RunReport, Error> {
        let p = self.dir.path().join("pipeline.yaml");
        std::fs::write(&p, y).unwrap();
        let _ = std::fs::remove_dir_all(self.out());
        let signer = self.signer();
        chainseal_factory::run(&RunOptions {
            pipeline: p,
            out_dir: self.out(),
            trust_domain: "example.org".into(),
            attestor: &signer,
            secrets,
            protected: Vec::new(),
            issuer: None,
            publish_dir: None,
            hooks: None,
            fetch: Default::default(),
            progress: None,
        })
    }

    /// The example pipeline (examples/hello) without its gate (which needs keyless
    /// signing), copied with its source into this fixture (a source must lie inside the
    /// pipeline's folder).
    pub fn example_without_gate(&self) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
        let dir = std::fs::canonicalize(dir).unwrap();
        let copy = self.dir.path().join("hello");
        copy_dir(&dir, &copy);
        let text = std::fs::read_to_string(copy.join("pipeline.yaml")).unwrap();
        let text = text.split("\ngate:").next().unwrap().to_string();
        assert!(text.contains("source:\n  path: ."));
        let p = copy.join("hello.yaml");
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A folder removed (with what it holds) when dropped: for fixtures a test must place
/// outside its temporary folder, such as under the host's `/etc`.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run git in `dir` (a peer tool: the test's expectations come from it, not from us).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git must be installed");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A git repository in `dir` with `hello.txt` = "v1" tagged `v1.0.0`, then "v2" on main.
pub fn two_commit_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"]);
    std::fs::write(dir.join("hello.txt"), "v1\n").unwrap();
    git(dir, &["add", "hello.txt"]);
    git(dir, &["commit", "-q", "-m", "v1"]);
    git(dir, &["tag", "v1.0.0"]);
    std::fs::write(dir.join("hello.txt"), "v2\n").unwrap();
    git(dir, &["commit", "-q", "-am", "v2"]);
}

/// Copy a folder of regular files (the example project) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
