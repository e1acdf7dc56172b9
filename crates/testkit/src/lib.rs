//! Test fixtures shared by chainseal's test suites. Dev-only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "bundle")]
pub mod bundle;
pub mod disk;
pub mod process;
pub mod rekor;
pub mod tessera;

use std::path::Path;
use std::process::Command;

use chainseal_crypto::keys::PrivateKey;
use chainseal_crypto::rfc3161::TsaSigner;
use chainseal_crypto::x509::Certificate;

/// Copy the folder `from` to `to` recursively (files and folders; symlinks are copied
/// as the files they point at). Panics on any error.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Run `openssl ARGS` in `dir`; panics (failing the test) if openssl is missing or fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A TSA made by openssl in `dir`: a P-256 root CA and a leaf with a critical
/// timeStamping EKU. Returns the signer and the chain (leaf, root).
pub fn openssl_tsa(dir: &Path) -> (TsaSigner, Vec<Certificate>) {
    std::fs::write(
        dir.join("ext.cnf"),
        "[ v3_ca ]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n[ v3_tsa ]\nbasicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature\nextendedKeyUsage = critical,timeStamping\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let mut a = vec!["req", "-x509", "-noenc", "-days", "30"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
        "-subj",
        "/O=t/CN=root",
        "-config",
        "ext.cnf",
        "-extensions",
        "v3_ca",
    ]);
    openssl(dir, &a);
    let mut a = vec!["req", "-new", "-noenc"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "tsa.key",
        "-out",
        "tsa.csr",
        "-subj",
        "/O=t/CN=tsa",
    ]);
    openssl(dir, &a);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-set_serial",
            "7",
            "-days",
            "10",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "v3_tsa",
            "-out",
            "tsa.pem",
        ],
    );
    let pem = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let chain = vec![
        Certificate::from_pem(&pem("tsa.pem")).unwrap(),
        Certificate::from_pem(&pem("root.pem")).unwrap(),
    ];
    let key = PrivateKey::from_pem(&pem("tsa.key")).unwrap();
    (
        TsaSigner::new(key, chain.clone(), "1.3.6.1.4.1.55555.1").unwrap(),
        chain,
    )
}

/// DSSE v1 pre-authentication encoding (what a DSSE signature signs), written from the
/// spec here rather than taken from the code under test.
pub fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
