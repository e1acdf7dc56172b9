//! End to end through the binary: `generate-key-pair`, then `sign-blob --key` and
//! `attest-blob --key` against a running `chainseal log serve` (Rekor v2 API) and an
//! RFC 3161 TSA served from this test (`chainseal_crypto::rfc3161::TsaSigner`, certificates
//! made with `openssl`, which must be installed: the test FAILS otherwise). The bundles are
//! then checked with `chainseal verify-blob` / `verify-blob-attestation`, positive and
//! negative. sigstore-python 4.5.1 cannot verify managed-key bundles from its CLI
//! (`sigstore verify` has only `identity` and `github`), so the keyless interop waits for
//! `chainseal stack`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_crypto::keys::PrivateKey;
use chainseal_crypto::rfc3161::TsaSigner;
use chainseal_crypto::x509::Certificate;
use chainseal_tlog::keys::{Ed25519Signer, VerifierKey};
use sha2::Digest as _;

use chainseal_testkit::process::{Proc, start_listening};

const BIN: &str = env!("CARGO_BIN_EXE_chainseal");

fn start(args: &[&str]) -> (Proc, String) {
    start_listening(BIN, args)
}

/// Serves RFC 3161 over HTTP/1.1 on loopback (one request per connection); returns the
/// endpoint URL. The thread lives as long as the test process.
fn serve_tsa(signer: TsaSigner) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut serial: u64 = 1;
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            serial += 1;
            let resp = signer
                .respond(&body, chainseal_testkit::unix_now(), &serial.to_be_bytes())
                .unwrap();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                resp.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&resp);
        }
    });
    format!("http://{addr}/api/v1/timestamp")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn trusted_root(base_url: &str, vkey: &str, tsa_chain: &[Certificate]) -> serde_json::Value {
    let vk = VerifierKey::parse(vkey).unwrap();
    let mut spki = hex::decode("302a300506032b6570032100").unwrap();
    spki.extend_from_slice(&vk.public_key);
    // C2SP key ID: SHA-256(name || "\n" || 0x01 || pubkey).
    let mut h = sha2::Sha256::new();
    h.update(vk.name.as_bytes());
    h.update([0x0a, 0x01]);
    h.update(&vk.public_key);
    let log_id = h.finalize();
    serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": base_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": STANDARD.encode(&spki), "keyDetails": "PKIX_ED25519",
                          "validFor": {"start": "2020-01-01T00:00:00Z"}},
            "logId": {"keyId": STANDARD.encode(log_id)}
        }],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [{
            "subject": {"organization": "t", "commonName": "tsa"},
            "certChain": {"certificates": tsa_chain.iter()
                .map(|c| serde_json::json!({"rawBytes": STANDARD.encode(c.der())}))
                .collect::<Vec<_>>()},
            "validFor": {"start": "2020-01-01T00:00:00Z"}
        }]
    })
}

fn signing_config(log_url: &str, tsa_url: &str) -> serde_json::Value {
    serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [],
        "oidcUrls": [],
        "rekorTlogUrls": [{"url": log_url, "majorApiVersion": 2, "operator": "test",
                           "validFor": {"start": "2020-01-01T00:00:00Z"}}],
        "tsaUrls": [{"url": tsa_url, "majorApiVersion": 1, "operator": "test",
                     "validFor": {"start": "2020-01-01T00:00:00Z"}}],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"}
    })
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("CHAINSEAL_PASSWORD", "test-password")
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SIGSTORE_ID_TOKEN")
        .output()
        .unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Local services: the log (port chosen first so its origin can name it) and the TSA.
struct Services {
    _log: Proc,
    dir: tempfile::TempDir,
    trusted_root: std::path::PathBuf,
    trust_config: std::path::PathBuf,
}

fn services() -> Services {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let origin = format!("127.0.0.1:{port}");
    let log_key = Ed25519Signer::generate(&origin).unwrap();
    let key_file = dir.path().join("log.key");
    std::fs::write(&key_file, log_key.to_private_key()).unwrap();
    let listen = origin.clone();
    let (log, url) = start(&[
        "log",
        "serve",
        "--storage",
        s(&dir.path().join("log")),
        "--listen",
        &listen,
        "--origin",
        &origin,
        "--key",
        s(&key_file),
    ]);
    let pki = dir.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    let (signer, chain) = chainseal_testkit::openssl_tsa(&pki);
    let tsa_url = serve_tsa(signer);
    let root = trusted_root(&url, &log_key.to_vkey(), &chain);
    let sc = signing_config(&url, &tsa_url);
    let trusted_root = dir.path().join("trusted_root.json");
    std::fs::write(&trusted_root, serde_json::to_vec(&root).unwrap()).unwrap();
    std::fs::write(
        dir.path().join("signing_config.json"),
        serde_json::to_vec(&sc).unwrap(),
    )
    .unwrap();
    let trust_config = dir.path().join("client_trust_config.json");
    std::fs::write(
        &trust_config,
        serde_json::to_vec(&serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": root,
            "signingConfig": sc,
        }))
        .unwrap(),
    )
    .unwrap();
    Services {
        _log: log,
        dir,
        trusted_root,
        trust_config,
    }
}

#[test]
fn sign_blob_with_a_generated_key_verifies_and_a_changed_artifact_does_not() {
    let svc = services();
    let d = svc.dir.path();
    let prefix = d.join("cosign");
    ok(&run(&[
        "generate-key-pair",
        "--output-key-prefix",
        s(&prefix),
    ]));
    let artifact = d.join("release.tar.gz");
    std::fs::write(&artifact, b"release bytes v1.0.0\n").unwrap();
    let bundle = d.join("release.sigstore.json");
    let started = Instant::now();
    ok(&run(&[
        "sign-blob",
        "--key",
        s(&d.join("cosign.key")),
        "--trust-config",
        s(&svc.trust_config),
        "--bundle",
        s(&bundle),
        s(&artifact),
    ]));
    eprintln!("sign-blob --key end to end: {:?}", started.elapsed());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(
        v["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        v["messageSignature"]["messageDigest"]["algorithm"],
        "SHA2_256"
    );
    assert_eq!(
        v["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"],
        "0.0.2"
    );
    let verify = |art: &Path| {
        run(&[
            "verify-blob",
            "--bundle",
            s(&bundle),
            "--key",
            s(&d.join("cosign.pub")),
            "--trusted-root",
            s(&svc.trusted_root),
            s(art),
        ])
    };
    ok(&verify(&artifact));
    let other = d.join("other");
    std::fs::write(&other, b"release bytes v1.0.1\n").unwrap();
    assert!(!verify(&other).status.success());

    // The same flow with --trusted-root + --signing-config, bundle to stdout.
    let out = run(&[
        "sign-blob",
        "--key",
        s(&d.join("cosign.key")),
        "--trusted-root",
        s(&svc.trusted_root),
        "--signing-config",
        s(&d.join("signing_config.json")),
        s(&artifact),
    ]);
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["verificationMaterial"]["publicKey"]["hint"].is_string());
}

#[test]
fn attest_blob_statement_verifies_against_its_subject_and_type() {
    let svc = services();
    let d = svc.dir.path();
    let prefix = d.join("k");
    ok(&run(&[
        "generate-key-pair",
        "--output-key-prefix",
        s(&prefix),
    ]));
    let artifact = d.join("app.bin");
    std::fs::write(&artifact, b"\x7fELF app").unwrap();
    let predicate = d.join("pred.json");
    std::fs::write(&predicate, br#"{"buildType":"test","ok":true}"#).unwrap();
    let bundle = d.join("att.sigstore.json");
    ok(&run(&[
        "attest-blob",
        "--predicate",
        s(&predicate),
        "--type",
        "https://example.com/p/v1",
        "--key",
        s(&d.join("k.key")),
        "--trust-config",
        s(&svc.trust_config),
        "--bundle",
        s(&bundle),
        s(&artifact),
    ]));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let payload = STANDARD
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let stmt: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(stmt["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(stmt["subject"][0]["name"], "app.bin");
    assert_eq!(
        stmt["subject"][0]["digest"]["sha256"],
        hex::encode(sha2::Sha256::digest(b"\x7fELF app"))
    );
    let verify = |art: &Path, t: &str| {
        run(&[
            "verify-blob-attestation",
            "--bundle",
            s(&bundle),
            "--key",
            s(&d.join("k.pub")),
            "--trusted-root",
            s(&svc.trusted_root),
            "--type",
            t,
            s(art),
        ])
    };
    ok(&verify(&artifact, "https://example.com/p/v1"));
    assert!(
        !verify(&artifact, "https://example.com/other")
            .status
            .success()
    );
    assert!(
        !verify(&predicate, "https://example.com/p/v1")
            .status
            .success()
    );
}

#[test]
fn wrong_password_or_missing_config_fails_and_writes_nothing() {
    let svc = services();
    let d = svc.dir.path();
    ok(&run(&[
        "generate-key-pair",
        "--output-key-prefix",
        s(&d.join("cosign")),
    ]));
    let artifact = d.join("a.txt");
    std::fs::write(&artifact, b"a").unwrap();
    let bundle = d.join("b.json");
    let out = Command::new(BIN)
        .args([
            "sign-blob",
            "--key",
            s(&d.join("cosign.key")),
            "--trust-config",
            s(&svc.trust_config),
            "--bundle",
            s(&bundle),
            s(&artifact),
        ])
        .env("CHAINSEAL_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("decryption failed"));
    assert!(!bundle.exists());

    let out = run(&[
        "sign-blob",
        "--key",
        s(&d.join("cosign.key")),
        "--bundle",
        s(&bundle),
        s(&artifact),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no signing services configured"));
    assert!(!bundle.exists());
}

#[test]
fn a_bundle_that_would_not_verify_is_never_written() {
    // A trusted root that does not list the TSA: the log and TSA answer, but the self-check
    // fails, so no bundle appears.
    let svc = services();
    let d = svc.dir.path();
    ok(&run(&[
        "generate-key-pair",
        "--output-key-prefix",
        s(&d.join("cosign")),
    ]));
    let mut tc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&svc.trust_config).unwrap()).unwrap();
    tc["trustedRoot"]["timestampAuthorities"] = serde_json::json!([]);
    let bad_tc = d.join("bad_tc.json");
    std::fs::write(&bad_tc, serde_json::to_vec(&tc).unwrap()).unwrap();
    let artifact = d.join("a.txt");
    std::fs::write(&artifact, b"a").unwrap();
    let bundle = d.join("b.json");
    let out = run(&[
        "sign-blob",
        "--key",
        s(&d.join("cosign.key")),
        "--trust-config",
        s(&bad_tc),
        "--bundle",
        s(&bundle),
        s(&artifact),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!bundle.exists());
}

/// `sign-blob` latency through the binary (process start, key load, TSA, log write with
/// its batch + checkpoint wait, self-verification, atomic write). Prints the numbers; fails
/// only if a signing takes more than 10 s.
#[test]
fn sign_blob_end_to_end_latency_is_bounded() {
    let svc = services();
    let d = svc.dir.path();
    ok(&run(&[
        "generate-key-pair",
        "--output-key-prefix",
        s(&d.join("enc")),
    ]));
    // The same kind of key unencrypted, to separate the scrypt cost from the rest.
    let plain = PrivateKey::generate(chainseal_crypto::keys::KeyKind::EcdsaP256).unwrap();
    std::fs::write(d.join("plain.key"), plain.to_pkcs8_pem().as_bytes()).unwrap();
    for key in ["enc.key", "plain.key"] {
        let mut times = Vec::new();
        for i in 0..8 {
            let artifact = d.join(format!("art-{key}-{i}"));
            std::fs::write(&artifact, format!("artifact {i}")).unwrap();
            let t = Instant::now();
            ok(&run(&[
                "sign-blob",
                "--key",
                s(&d.join(key)),
                "--trust-config",
                s(&svc.trust_config),
                "--bundle",
                s(&d.join(format!("b-{key}-{i}.json"))),
                s(&artifact),
            ]));
            times.push(t.elapsed());
        }
        times.sort();
        eprintln!(
            "sign-blob --key {key}: min {:?} median {:?} max {:?} (n={})",
            times[0],
            times[times.len() / 2],
            times[times.len() - 1],
            times.len()
        );
        assert!(times[times.len() - 1] < Duration::from_secs(10));
    }
}

#[test]
fn conformance_sign_bundle_needs_config_and_a_ca_and_writes_nothing_otherwise() {
    let svc = services();
    let d = svc.dir.path();
    let artifact = d.join("a.txt");
    std::fs::write(&artifact, b"a").unwrap();
    let bundle = d.join("b.json");
    let token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln";
    let out = run(&[
        "conformance",
        "sign-bundle",
        "--identity-token",
        token,
        "--bundle",
        s(&bundle),
        s(&artifact),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trusted-root and --signing-config"));
    // Our signing config has no caUrls: keyless signing is refused before any key is made.
    let out = run(&[
        "conformance",
        "sign-bundle",
        "--identity-token",
        token,
        "--bundle",
        s(&bundle),
        "--trusted-root",
        s(&svc.trusted_root),
        "--signing-config",
        s(&d.join("signing_config.json")),
        s(&artifact),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certificate authority"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!bundle.exists());
}

/// sigstore-js (`@sigstore/verify` from npm, installed by scripts/setup-node-peers.sh) is
/// a verifier no one here wrote that supports managed keys, which sigstore-python's CLI
/// does not: `sign-blob --key` and `attest-blob --key` bundles must pass it, and a changed
/// artifact or envelope must not.
#[test]
fn key_signed_bundles_pass_sigstore_js_and_tampered_ones_do_not() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = repo.join("scripts/peers/sigstore-js-verify.js");
    assert!(
        repo.join(".peers/node/node_modules/@sigstore/verify")
            .exists(),
        "sigstore-js is missing: run scripts/setup-node-peers.sh"
    );
    let svc = services();
    let d = svc.dir.path();
    ok(&run(&[
        "generate-key-pair",
        "--output-key-prefix",
        s(&d.join("k")),
    ]));
    let artifact = d.join("release.tar.gz");
    std::fs::write(&artifact, b"release bytes\n").unwrap();
    let sig_bundle = d.join("sig.sigstore.json");
    ok(&run(&[
        "sign-blob",
        "--key",
        s(&d.join("k.key")),
        "--trust-config",
        s(&svc.trust_config),
        "--bundle",
        s(&sig_bundle),
        s(&artifact),
    ]));
    let predicate = d.join("pred.json");
    std::fs::write(&predicate, br#"{"ok":true}"#).unwrap();
    let att_bundle = d.join("att.sigstore.json");
    ok(&run(&[
        "attest-blob",
        "--predicate",
        s(&predicate),
        "--type",
        "https://example.com/p/v1",
        "--key",
        s(&d.join("k.key")),
        "--trust-config",
        s(&svc.trust_config),
        "--bundle",
        s(&att_bundle),
        s(&artifact),
    ]));
    let js = |bundle: &Path, art: &Path| {
        Command::new("node")
            .arg(&script)
            .args([
                "--trusted-root",
                s(&svc.trusted_root),
                "--bundle",
                s(bundle),
                "--key",
            ])
            .arg(d.join("k.pub"))
            .arg(art)
            .output()
            .expect("node is required")
    };
    for b in [&sig_bundle, &att_bundle] {
        let out = js(b, &artifact);
        assert!(
            out.status.success(),
            "{}: {}",
            b.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Negative: another artifact for the message signature...
    let other = d.join("other");
    std::fs::write(&other, b"other bytes\n").unwrap();
    assert!(!js(&sig_bundle, &other).status.success());
    // ...and a changed statement in the attestation's envelope.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&att_bundle).unwrap()).unwrap();
    let payload = STANDARD
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let changed = String::from_utf8(payload)
        .unwrap()
        .replace("\"ok\":true", "\"ok\":false");
    v["dsseEnvelope"]["payload"] = serde_json::Value::String(STANDARD.encode(changed));
    let tampered = d.join("tampered.sigstore.json");
    std::fs::write(&tampered, serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(!js(&tampered, &artifact).status.success());
}
