//! The step sandbox holds against a step that attacks it, also when the factory runs as
//! root (CI does): no capabilities, no mounts or unmounts, no nested namespaces, no
//! writes to the host or the inputs, no view of the key, bounded memory, processes,
//! `/out` and time, and no process left behind. Each attack has a positive control
//! beside it: the same step doing the allowed thing succeeds, so a failing attack is the
//! sandbox's doing, not a broken step.

mod common;

use std::path::{Path, PathBuf};

use chainseal_factory::{Error, RunReport};
use common::Fixture;

/// Whether the test process is root on the host (as in CI).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap()
}

/// The names of the run's artifacts (the last step's products).
fn artifacts(r: &RunReport) -> Vec<String> {
    r.subjects.iter().map(|(n, _)| n.clone()).collect()
}

/// The content of one artifact of a successful run, from the run's output folder.
fn artifact(f: &Fixture, name: &str) -> String {
    std::fs::read_to_string(f.out().join("artifacts").join(name))
        .unwrap_or_else(|e| panic!("artifact {name}: {e}"))
}

/// One step whose script records, for each attempt, `yes` or `no` in `/out/<name>`
/// (never failing itself), then leaves `/out/ok`.
fn probe(attempts: &[(&str, &str)]) -> String {
    let mut script = String::new();
    for (name, cmd) in attempts {
        script.push_str(&format!(
            "if ( {cmd} ) >/dev/null 2>&1; then echo yes > /out/{name}; else echo no > /out/{name}; fi; "
        ));
    }
    script.push_str("touch /out/ok");
    format!(
        "  - name: probe\n    inputs: [source/a.txt]\n    script: {}\n",
        serde_json::to_string(&script).unwrap()
    )
}

fn run_probe(f: &Fixture, attempts: &[(&str, &str)]) -> Vec<(String, String)> {
    let r = f
        .run(&probe(attempts))
        .unwrap_or_else(|e| panic!("the probe step itself must run: {e}"));
    assert!(artifacts(&r).contains(&"ok".to_string()));
    attempts
        .iter()
        .map(|(n, _)| (n.to_string(), artifact(f, n).trim().to_string()))
        .collect()
}

#[test]
fn a_step_has_no_capabilities_no_new_privs_a_seccomp_filter_and_a_non_root_uid() {
    let f = Fixture::new(&[("a.txt", "a")]);
    f.run("  - name: s\n    script: 'cat /proc/self/status > /out/status'\n")
        .unwrap();
    let status = artifact(&f, "status");
    let field = |k: &str| -> String {
        status
            .lines()
            .find(|l| l.starts_with(&format!("{k}:")))
            .unwrap_or_else(|| panic!("{k} missing from /proc/self/status"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    for cap in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(field(cap), "0000000000000000", "{cap} inside the step");
    }
    assert_eq!(field("NoNewPrivs"), "1");
    assert_eq!(field("Seccomp"), "2", "a seccomp filter is loaded");
    for id in ["Uid", "Gid"] {
        assert!(
            field(id).split(' ').all(|u| u != "0"),
            "{id} inside the step is root: {}",
            field(id)
        );
    }
}

#[test]
fn a_step_cannot_remount_the_system_or_its_inputs_writable() {
    let f = Fixture::new(&[("a.txt", "original")]);
    let marker = format!("chainseal-hardening-{}", std::process::id());
    let results = run_probe(
        &f,
        &[
            // Positive controls: the allowed writes succeed in the same step.
            ("write_out", "echo x > /out/scratch"),
            ("write_tmp", "echo x > /tmp/scratch"),
            (
                "remount_usr",
                &format!("mount -o remount,rw,bind /usr && touch /usr/{marker}"),
            ),
            ("remount_root", "mount -o remount,rw /"),
            (
                "remount_input",
                "mount -o remount,rw,bind /workspace/source/a.txt && echo evil > /workspace/source/a.txt",
            ),
            ("bind_over", "mount --bind /tmp /usr/local"),
            ("new_tmpfs", "mount -t tmpfs none /mnt"),
        ],
    );
    assert_eq!(
        results,
        [
            ("write_out", "yes"),
            ("write_tmp", "yes"),
            ("remount_usr", "no"),
            ("remount_root", "no"),
            ("remount_input", "no"),
            ("bind_over", "no"),
            ("new_tmpfs", "no"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert!(!Path::new("/usr").join(&marker).exists());
    assert_eq!(
        std::fs::read_to_string(f.path().join("src/a.txt")).unwrap(),
        "original"
    );
}

#[test]
fn a_step_cannot_unmount_anything_or_leave_through_a_nested_namespace() {
    let f = Fixture::new(&[("a.txt", "a")]);
    let results = run_probe(
        &f,
        &[
            ("control", "test -d /proc/self && test -w /tmp"),
            ("umount_tmp", "umount /tmp"),
            ("umount_lazy_proc", "umount -l /proc"),
            ("umount_input", "umount /workspace/source/a.txt"),
            ("unshare_user", "unshare -U true"),
            ("unshare_user_mount", "unshare -Urm umount /tmp"),
            ("unshare_net", "unshare -n true"),
            ("nsenter_host", "nsenter -t 1 -m true"),
            ("chroot", "chroot / true"),
        ],
    );
    for (name, got) in &results {
        let want = if name == "control" { "yes" } else { "no" };
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn a_step_cannot_uncover_a_key_masked_under_a_system_folder() {
    // The factory masks a key that lies under a folder it exposes (here /etc) with an
    // empty tmpfs. Only root can put a key there, so this runs as root (CI does).
    if !is_root() {
        eprintln!("skipped: needs root to place a key under /etc (CI runs as root)");
        return;
    }
    let dir = PathBuf::from(format!("/etc/chainseal-hardening-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _c = common::RemoveOnDrop(dir.clone());
    let key = dir.join("factory.pem");
    let secret = "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL\n";
    std::fs::write(&key, secret).unwrap();
    let f = Fixture::new(&[("a.txt", "a")]);
    let d = dir.display();
    let script = format!(
        "umount {d} 2>/dev/null || true; umount -l {d} 2>/dev/null || true; \
         unshare -Urm sh -c 'umount -l {d}; cat {d}/factory.pem > /out/nested' 2>/dev/null || true; \
         cat {d}/factory.pem > /out/key 2>/dev/null || true; ls -a {d} > /out/listing; \
         cat /etc/hostname > /out/control"
    );
    let y = format!(
        "name: t\nsource: {{path: src}}\nsteps:\n  - name: s\n    script: {}\n",
        serde_json::to_string(&script).unwrap()
    );
    // Positive control: were the key not declared secret (so not masked), this step
    // would copy it out.
    f.run_yaml_with_secrets(&y, Vec::new()).unwrap();
    assert!(artifact(&f, "key").contains("SECRET-KEY-MATERIAL"));
    let r = f.run_yaml_with_secrets(&y, vec![key.clone()]).unwrap();
    // Positive control: the step read another file under /etc.
    assert!(artifacts(&r).contains(&"control".to_string()));
    for (name, _) in &r.subjects {
        let body = artifact(&f, name);
        assert!(
            !body.contains("SECRET-KEY-MATERIAL"),
            "{name} holds the key: the mask was removed"
        );
    }
    assert!(!artifact(&f, "listing").contains("factory.pem"));
}

#[test]
fn a_step_of_a_root_factory_reads_of_the_host_only_what_every_user_may() {
    if !is_root() {
        eprintln!("skipped: an unprivileged factory's steps have its own rights already");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = PathBuf::from(format!("/etc/chainseal-private-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let _c = common::RemoveOnDrop(dir.clone());
    let public = dir.join("public.txt");
    let private = dir.join("private.txt");
    let hidden = dir.join("sub/in-private-dir.txt");
    for p in [&public, &private, &hidden] {
        std::fs::write(p, "HOST-SECRET").unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir.join("sub"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let f = Fixture::new(&[("a.txt", "a")]);
    let results = run_probe(
        &f,
        &[
            // Positive control: a world-readable file in the same folder.
            (
                "public",
                &format!("grep -q HOST-SECRET {}", public.display()),
            ),
            (
                "private",
                &format!("grep -q HOST-SECRET {}", private.display()),
            ),
            (
                "in_private_dir",
                &format!("grep -q HOST-SECRET {}", hidden.display()),
            ),
            ("shadow", "grep -q '^root:' /etc/shadow"),
        ],
    );
    assert_eq!(
        results,
        [
            ("public", "yes"),
            ("private", "no"),
            ("in_private_dir", "no"),
            ("shadow", "no")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn a_step_cannot_write_to_the_host_anywhere_but_its_out() {
    let f = Fixture::new(&[("a.txt", "a")]);
    let marker = format!("chainseal-hardening-{}", std::process::id());
    let targets = [
        format!("/usr/local/bin/{marker}"),
        format!("/usr/local/{marker}"),
        format!("/etc/{marker}"),
        format!("/{marker}"),
        format!("/workspace/{marker}"),
        format!("/proc/{marker}"),
    ];
    let mut attempts: Vec<(String, String)> = vec![("control".into(), "echo x > /out/x".into())];
    for (i, t) in targets.iter().enumerate() {
        attempts.push((format!("w{i}"), format!("echo evil > {t}")));
    }
    let borrowed: Vec<(&str, &str)> = attempts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let results = run_probe(&f, &borrowed);
    for (name, got) in &results {
        let want = if name == "control" { "yes" } else { "no" };
        assert_eq!(got, want, "{name}: {attempts:?}");
    }
    for t in &targets {
        assert!(!Path::new(t).exists(), "{t} was written on the host");
    }
}

#[test]
fn a_step_cannot_grow_its_memory_past_the_limit() {
    let f = Fixture::new(&[("a.txt", "a")]);
    // bash holds the whole 200 MB string in memory.
    let step = |mem: &str| {
        format!(
            "  - name: m\n    limits: {{memory: {mem}}}\n    command: [bash, -c, 'x=$(head -c 200000000 /dev/zero | tr \"\\\\0\" a); echo ${{#x}} > /out/len']\n"
        )
    };
    let ok = f
        .run(&step("2GiB"))
        .expect("positive control: 200 MB fits in 2 GiB");
    assert!(artifacts(&ok).contains(&"len".to_string()));
    assert_eq!(artifact(&f, "len").trim(), "200000000");
    let r = f.run(&step("64MiB"));
    assert!(
        matches!(&r, Err(Error::StepFailed { step, .. }) if step == "m"),
        "a 200 MB allocation under a 64 MiB limit: {r:?}"
    );
}

#[test]
fn a_step_cannot_grow_its_out_past_the_limit() {
    let f = Fixture::new(&[("a.txt", "a")]);
    let step = |limit: &str, cmd: &str| {
        format!("  - name: o\n    limits: {{out: {limit}}}\n    script: '{cmd}'\n")
    };
    // One big file (RLIMIT_FSIZE) and many small ones (the observer measures /out).
    let big = "head -c 8388608 /dev/zero > /out/big";
    let many = "for i in $(seq 1 64); do head -c 262144 /dev/zero > /out/f$i; done";
    f.run(&step("64MiB", big))
        .expect("positive control: 8 MiB fits in 64 MiB");
    f.run(&step("64MiB", many))
        .expect("positive control: 16 MiB fits in 64 MiB");
    for cmd in [big, many] {
        let r = f.run(&step("1MiB", cmd));
        assert!(
            matches!(&r, Err(Error::StepFailed { step, .. }) if step == "o"),
            "{cmd} under a 1 MiB limit: {r:?}"
        );
    }
    // A tmpfs of its own size for /tmp.
    let tmp = "head -c 8388608 /dev/zero > /tmp/big && touch /out/ok";
    f.run(&format!(
        "  - name: t\n    limits: {{tmp: 64MiB}}\n    script: '{tmp}'\n"
    ))
    .expect("positive control: 8 MiB in a 64 MiB /tmp");
    let r = f.run(&format!(
        "  - name: t\n    limits: {{tmp: 1MiB}}\n    script: '{tmp}'\n"
    ));
    assert!(matches!(&r, Err(Error::StepFailed { .. })), "{r:?}");
}

#[test]
fn a_step_cannot_run_more_processes_than_its_limit() {
    let f = Fixture::new(&[("a.txt", "a")]);
    // dash reports a failed fork at once (bash would retry).
    let step = |n: u32| {
        format!(
            "  - name: p\n    limits: {{processes: {n}}}\n    command: [dash, -c, 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do sleep 1 & done; wait; touch /out/ok']\n"
        )
    };
    f.run(&step(64))
        .expect("positive control: 17 processes under 64");
    let r = f.run(&step(6));
    assert!(
        matches!(&r, Err(Error::StepFailed { step, .. }) if step == "p"),
        "17 processes under a limit of 6: {r:?}"
    );
}

/// Host processes whose command line contains `needle`.
fn host_processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

#[test]
fn a_step_leaves_no_process_behind() {
    let secs = 900_000 + std::process::id() % 90_000;
    // Positive control: the scanner finds such a process when one runs on the host
    // (polled: right after fork its command line is still ours).
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let own = Reap(
        std::process::Command::new("sleep")
            .arg(secs.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t0 = std::time::Instant::now();
    while host_processes_with(&format!("sleep {secs}")).is_empty() {
        assert!(
            t0.elapsed().as_secs() < 5,
            "the scanner never saw a host sleep"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(own);
    let secs = secs + 1;
    let f = Fixture::new(&[("a.txt", "a")]);
    f.run(&format!(
        "  - name: d\n    script: 'setsid sleep {secs} >/dev/null 2>&1 < /dev/null & nohup sleep {secs} >/dev/null 2>&1 & touch /out/ok'\n"
    ))
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        host_processes_with(&format!("sleep {secs}")),
        Vec::<String>::new(),
        "a process of the step outlived it"
    );
}

#[test]
fn a_timeout_is_reported_as_a_timeout() {
    let f = Fixture::new(&[("a.txt", "a")]);
    let t0 = std::time::Instant::now();
    let r = f.run("  - name: slow\n    timeout: 1\n    script: 'sleep 30; touch /out/ok'\n");
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    match r {
        Err(Error::StepFailed { step, status, .. }) => {
            assert_eq!(step, "slow");
            assert!(status.contains("timed out after 1 s"), "{status}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    f.run("  - name: quick\n    timeout: 5\n    script: 'sleep 0.1; touch /out/ok'\n")
        .expect("positive control: a step inside its timeout");
}
