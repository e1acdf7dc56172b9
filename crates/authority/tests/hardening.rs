//! Issues 10 and 12: build claims become Fulcio extensions; OIDC hardening (times, lifetime,
//! SAN rules, https-only issuers, rate-limited JWKS refetch, capped JWKS bodies); keys are
//! never regenerated over existing files; the development issuer is off unless asked for.
//! Each refusal has a positive control beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_authority::Error;
use chainseal_authority::claims::{BUILD_CLAIMS, BuildClaims, validate_build_claim};
use chainseal_authority::http::{Authority, AuthorityConfig};
use chainseal_authority::oidc::{DevIssuer, OidcVerifier, TokenPolicy};
use chainseal_authority::stack::{self, StackConfig};
use chainseal_authority::store::AuthorityDir;
use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_crypto::sct::{CtLog, verify_embedded_scts};
use chainseal_crypto::x509::{Certificate, KeyPurpose, SubjectAltName, verify_path};
use der::Decode as _;
use serde_json::{Map, Value, json};

const URL: &str = "http://127.0.0.1:1";
const SPIFFE: &str = "spiffe://chainseal.local/factory/hello";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn authority(dir: &Path) -> Authority {
    Authority::load(&AuthorityDir::open(dir).unwrap(), URL, vec![]).unwrap()
}

fn dev(a: &Authority) -> &DevIssuer {
    a.oidc.dev().unwrap()
}

/// Every build claim of the contract, with the values the factory puts there.
fn all_claims() -> Map<String, Value> {
    let v = json!({
        "build_signer_uri": SPIFFE,
        "build_signer_digest": format!("sha256:{}", "ab".repeat(32)),
        "runner_environment": "chainseal-factory",
        "source_repository_uri": "git+file:///work/hello",
        "source_repository_digest": "0123456789abcdef0123456789abcdef01234567",
        "source_repository_ref": "refs/heads/main",
        "build_config_uri": "file:///work/hello/pipeline.yaml",
        "build_config_digest": format!("sha256:{}", "ab".repeat(32)),
        "build_trigger": "manual",
        "run_invocation_uri": "urn:uuid:6f1c1b5e-8a4d-4c8e-9a55-2d0c8f7b9e21",
    });
    v.as_object().unwrap().clone()
}

fn request(token: &str, key: &PrivateKey, challenge: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.public_key().to_pem().unwrap()},
            "proofOfPossession": STANDARD.encode(key.sign(challenge.as_bytes()).unwrap())
        }
    }))
    .unwrap()
}

async fn issue(
    a: &Authority,
    sub: &str,
    extra: &Map<String, Value>,
) -> chainseal_authority::Result<chainseal_authority::ca::Issued> {
    let token = dev(a)
        .mint_with_claims(sub, "sigstore", 600, extra)
        .unwrap();
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    a.signing_cert(None, &request(&token, &key, sub)).await
}

fn fulcio_build_arcs(cert: &Certificate) -> BTreeMap<u32, String> {
    let mut all = cert.fulcio_identity().unwrap().all;
    all.retain(|arc, _| *arc >= 9 && *arc != 8);
    all
}

// ---------------------------------------------------------------- 1. build claims

#[tokio::test]
async fn build_claims_become_fulcio_extensions_in_the_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let a = authority(tmp.path());
    let claims = all_claims();
    let issued = issue(&a, SPIFFE, &claims).await.unwrap();
    let leaf = &issued.leaf;

    // Exactly the claims, each at its arc, decoded by the verifier's own decoder.
    let expected: BTreeMap<u32, String> = BUILD_CLAIMS
        .iter()
        .map(|(name, arc)| (*arc, claims[*name].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(fulcio_build_arcs(leaf), expected);
    let ext = leaf.fulcio_identity().unwrap();
    assert_eq!(ext.build_signer_uri.as_deref(), Some(SPIFFE));
    assert_eq!(ext.runner_environment.as_deref(), Some("chainseal-factory"));
    assert_eq!(
        ext.source_repository_digest.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(
        ext.source_repository_ref.as_deref(),
        Some("refs/heads/main")
    );
    assert_eq!(
        ext.build_config_uri.as_deref(),
        Some("file:///work/hello/pipeline.yaml")
    );
    assert_eq!(ext.build_trigger.as_deref(), Some("manual"));
    assert_eq!(ext.issuer(), Some(URL));

    // Non-critical, DER UTF8String.
    let raw = x509_cert::Certificate::from_der(leaf.der()).unwrap();
    let exts = raw.tbs_certificate().extensions().unwrap();
    for (_, arc) in BUILD_CLAIMS {
        let oid = format!("1.3.6.1.4.1.57264.1.{arc}");
        let e = exts
            .iter()
            .find(|e| e.extn_id.to_string() == oid)
            .unwrap_or_else(|| panic!("{oid} missing"));
        assert!(!e.critical, "{oid} must be non-critical");
        assert_eq!(e.extn_value.as_bytes()[0], 0x0c, "{oid} is a UTF8String");
    }

    // The precertificate carried them too: the embedded SCT is over the TBS without the
    // SCT list, i.e. the precertificate's extensions minus the poison.
    let [inter, root] = [&issued.chain[0], &issued.chain[1]];
    let ct = CtLog::from_key(a.ca.ct_log().public_key(), None, None);
    assert_eq!(verify_embedded_scts(leaf, inter, &[ct]).unwrap(), 1);
    verify_path(
        leaf,
        std::slice::from_ref(inter),
        std::slice::from_ref(root),
        now(),
        KeyPurpose::CodeSigning,
    )
    .unwrap();

    // Positive control the other way: no claims, no build extensions.
    let plain = issue(&a, SPIFFE, &Map::new()).await.unwrap();
    assert!(fulcio_build_arcs(&plain.leaf).is_empty());
    // A subset gives exactly that subset.
    let mut some = Map::new();
    some.insert("build_trigger".into(), "manual".into());
    let one = issue(&a, SPIFFE, &some).await.unwrap();
    assert_eq!(
        fulcio_build_arcs(&one.leaf),
        BTreeMap::from([(20, "manual".to_owned())])
    );
}

#[tokio::test]
async fn malformed_build_claims_are_refused_with_400_naming_the_claim() {
    let tmp = tempfile::tempdir().unwrap();
    let a = authority(tmp.path());
    let bad: Vec<(&str, Value)> = vec![
        ("runner_environment", "chainseal\nfactory".into()),
        ("build_trigger", "manual\u{7f}".into()),
        (
            "build_config_digest",
            format!("sha256:{}", "AB".repeat(32)).into(),
        ),
        ("build_signer_digest", "sha256:abcd".into()),
        (
            "build_config_digest",
            "0123456789abcdef0123456789abcdef01234567".into(),
        ),
        ("source_repository_digest", "not-a-commit".into()),
        ("source_repository_uri", "work/hello".into()),
        ("run_invocation_uri", "no scheme here".into()),
        ("build_config_uri", "file:///a b".into()),
        ("source_repository_ref", "main".into()),
        ("runner_environment", "x".repeat(1025).into()),
        ("build_trigger", json!(42)),
        ("build_trigger", "".into()),
    ];
    for (name, value) in bad {
        let mut claims = all_claims();
        claims.insert(name.into(), value.clone());
        let err = issue(&a, SPIFFE, &claims).await.unwrap_err();
        assert_eq!(err.http_status(), 400, "{name}={value}: {err}");
        assert!(
            err.to_string().contains(name),
            "{name}={value}: the error names the claim: {err}"
        );
        assert!(validate_build_claim(name, &value).is_err());
    }
    // Positive controls: the edge values that are valid.
    for (name, value) in [
        (
            "source_repository_digest",
            format!("sha256:{}", "0f".repeat(32)),
        ),
        ("source_repository_digest", "ab".repeat(32)),
        ("source_repository_digest", "ab".repeat(20)),
        ("source_repository_ref", "refs/tags/v1.2.3".into()),
        ("runner_environment", "x".repeat(1024)),
        ("source_repository_uri", "file:///work/hello".into()),
    ] {
        let mut claims = all_claims();
        claims.insert(name.into(), value.clone().into());
        let issued = issue(&a, SPIFFE, &claims).await.unwrap();
        let arc = BUILD_CLAIMS.iter().find(|(n, _)| *n == name).unwrap().1;
        assert_eq!(fulcio_build_arcs(&issued.leaf)[&arc], value);
    }
    // The same refusal over HTTP: 400 with a message naming the claim.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let a =
        Arc::new(Authority::load(&AuthorityDir::open(tmp.path()).unwrap(), &url, vec![]).unwrap());
    let srv = a.clone();
    tokio::spawn(async move {
        let _ = chainseal_authority::http::serve(listener, srv, std::future::pending()).await;
    });
    let mut claims = all_claims();
    claims.insert("build_config_digest".into(), "sha256:XYZ".into());
    let token = dev(&a)
        .mint_with_claims(SPIFFE, "sigstore", 600, &claims)
        .unwrap();
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        http.post(format!("{url}/api/v2/signingCert"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = post(request(&token, &key, SPIFFE)).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("build_config_digest"),
        "{body}"
    );
    let good = dev(&a)
        .mint_with_claims(SPIFFE, "sigstore", 600, &all_claims())
        .unwrap();
    assert_eq!(
        post(request(&good, &key, SPIFFE)).await.unwrap().status(),
        201
    );
}

#[tokio::test]
async fn an_email_identity_gets_no_build_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let a = authority(tmp.path());
    let mut claims = all_claims();
    claims.insert("email".into(), "dev@example.com".into());
    claims.insert("email_verified".into(), true.into());
    let issued = issue(&a, "dev@example.com", &claims).await.unwrap();
    assert!(
        issued
            .leaf
            .subject_alt_names()
            .contains(&SubjectAltName::Email("dev@example.com".into()))
    );
    assert!(fulcio_build_arcs(&issued.leaf).is_empty(), "claims ignored");
    // Ignored means not even looked at: a malformed claim does not matter either.
    claims.insert("build_trigger".into(), "bad\u{0}".into());
    let issued = issue(&a, "dev@example.com", &claims).await.unwrap();
    assert!(fulcio_build_arcs(&issued.leaf).is_empty());
    // …and the CA drops them for an email SAN even when asked directly.
    let build = BuildClaims::from_claims(&all_claims()).unwrap();
    let id = chainseal_authority::oidc::Identity {
        issuer: URL.into(),
        subject: "dev@example.com".into(),
        email: Some("dev@example.com".into()),
        san: chainseal_authority::certs::San::Email("dev@example.com".into()),
    };
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let leaf =
        a.ca.issue_with_build_claims(key.public_key().spki_der(), &id, &build, now())
            .unwrap()
            .leaf;
    assert!(fulcio_build_arcs(&leaf).is_empty());
    // Positive control: the same claims on the SPIFFE identity are all there.
    let issued = issue(&a, SPIFFE, &all_claims()).await.unwrap();
    assert_eq!(fulcio_build_arcs(&issued.leaf).len(), BUILD_CLAIMS.len());
}

#[test]
fn mint_with_claims_refuses_to_override_registered_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let a = authority(tmp.path());
    for reserved in ["iss", "sub", "aud", "exp", "iat", "nbf"] {
        let mut extra = Map::new();
        extra.insert(reserved.into(), "x".into());
        assert!(
            dev(&a)
                .mint_with_claims(SPIFFE, "sigstore", 600, &extra)
                .is_err(),
            "{reserved}"
        );
    }
    assert!(
        dev(&a)
            .mint_with_claims(SPIFFE, "sigstore", 600, &all_claims())
            .is_ok()
    );
}

// ---------------------------------------------------------------- 2. OIDC hardening

fn claims_at(iss: &str, sub: &str, iat: i64, nbf: Option<i64>, exp: i64) -> Map<String, Value> {
    let mut c = json!({"iss": iss, "sub": sub, "aud": "sigstore", "iat": iat, "exp": exp});
    if let Some(n) = nbf {
        c["nbf"] = n.into();
    }
    c.as_object().unwrap().clone()
}

fn expect_token_error(r: chainseal_authority::Result<impl std::fmt::Debug>, what: &str) {
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Token(_)), "{e}");
    assert!(e.to_string().contains(what), "{e} should mention {what:?}");
}

#[tokio::test]
async fn a_token_valid_from_tomorrow_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = authority(tmp.path());
    let t = now();
    let day = 86_400;
    let sign = |c| dev(&a).sign_claims(&c).unwrap();
    // Issued and valid from tomorrow.
    let tok = sign(claims_at(
        URL,
        SPIFFE,
        t + day,
        Some(t + day),
        t + day + 600,
    ));
    expect_token_error(a.oidc.verify(&tok).await, "not valid yet");
    // Issued tomorrow (no nbf).
    let tok = sign(claims_at(URL, SPIFFE, t + day, None, t + day + 600));
    expect_token_error(a.oidc.verify(&tok).await, "future");
    // Issued now but valid only from tomorrow.
    let tok = sign(claims_at(URL, SPIFFE, t, Some(t + day), t + day + 600));
    expect_token_error(a.oidc.verify(&tok).await, "not valid yet");
    // nbf just beyond the 30 s skew.
    let tok = sign(claims_at(URL, SPIFFE, t, Some(t + 90), t + 600));
    expect_token_error(a.oidc.verify(&tok).await, "not valid yet");
    // No iat at all.
    let mut c = claims_at(URL, SPIFFE, t, Some(t), t + 600);
    c.remove("iat");
    expect_token_error(a.oidc.verify(&sign(c)).await, "iat");
    // Positive controls: within the skew, and now.
    let tok = sign(claims_at(URL, SPIFFE, t + 10, Some(t + 10), t + 600));
    assert_eq!(a.oidc.verify(&tok).await.unwrap().subject, SPIFFE);
    let tok = sign(claims_at(URL, SPIFFE, t, None, t + 600));
    assert!(a.oidc.verify(&tok).await.is_ok());
}

#[tokio::test]
async fn token_lifetime_is_capped_and_the_cap_is_configurable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = AuthorityDir::open(tmp.path()).unwrap();
    let a = Authority::load(&dir, URL, vec![]).unwrap();
    let t = now();
    let sign = |c| dev(&a).sign_claims(&c).unwrap();
    let long = sign(claims_at(URL, SPIFFE, t, Some(t), t + 25 * 3600));
    expect_token_error(a.oidc.verify(&long).await, "lifetime");
    let ok = sign(claims_at(URL, SPIFFE, t, Some(t), t + 23 * 3600));
    assert!(a.oidc.verify(&ok).await.is_ok());
    // Configured to one hour.
    let mut cfg = AuthorityConfig::new(URL);
    cfg.dev_issuer = true;
    cfg.token_policy = TokenPolicy {
        max_lifetime_secs: 3600,
        ..TokenPolicy::default()
    };
    let b = Authority::load_with(&dir, &cfg).unwrap();
    expect_token_error(b.oidc.verify(&ok).await, "lifetime");
    let short = sign(claims_at(URL, SPIFFE, t, Some(t), t + 600));
    assert!(b.oidc.verify(&short).await.is_ok());
}

#[tokio::test]
async fn sans_come_only_from_validated_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let a = authority(tmp.path());
    let t = now();
    let with = |sub: &str, extra: Value| {
        let mut c = claims_at(URL, sub, t, Some(t), t + 600);
        c.extend(extra.as_object().unwrap().clone());
        dev(&a).sign_claims(&c).unwrap()
    };
    let refused = [
        ("@", json!({})),
        ("", json!({})),
        ("a@b\n,CN=evil", json!({})),
        (
            "x",
            json!({"email": "a@b\n,CN=evil", "email_verified": true}),
        ),
        ("x", json!({"email": "@", "email_verified": true})),
        ("x", json!({"email": "dev@example.com"})),
        (
            "x",
            json!({"email": "dev@example.com", "email_verified": false}),
        ),
        (
            "x",
            json!({"email": "dev@example.com", "email_verified": "true"}),
        ),
        ("dev@example.com", json!({})),
        (
            "https://github.com/o/r/.github/workflows/build.yml@refs/heads/main",
            json!({}),
        ),
        ("spiffe://chainseal.local/factory/../ca", json!({})),
        ("spiffe://chainseal.local", json!({})),
        ("spiffe://Chainseal.local/x?y=1", json!({})),
        ("spiffe://chainseal.local/a\u{0}b", json!({})),
    ];
    for (sub, extra) in refused {
        let tok = with(sub, extra.clone());
        let e = a.oidc.verify(&tok).await.unwrap_err();
        assert!(
            matches!(e, Error::Token(_)),
            "sub {sub:?} {extra}: want a token refusal, got {e}"
        );
    }
    // Positive controls.
    let id = a.oidc.verify(&with(SPIFFE, json!({}))).await.unwrap();
    assert_eq!(id.san, chainseal_authority::certs::San::Uri(SPIFFE.into()));
    let id = a
        .oidc
        .verify(&with(
            "x",
            json!({"email": "dev+ci@example.com", "email_verified": true}),
        ))
        .await
        .unwrap();
    assert_eq!(
        id.san,
        chainseal_authority::certs::San::Email("dev+ci@example.com".into())
    );
}

#[test]
fn external_issuers_must_be_https_unless_loopback() {
    for bad in [
        "http://accounts.example.com",
        "http://10.0.0.1:8080",
        "ftp://127.0.0.1",
        "not a url",
    ] {
        let e = OidcVerifier::new("sigstore", None, vec![bad.into()]).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{bad}: {e}");
    }
    for good in [
        "https://accounts.google.com",
        "https://token.actions.githubusercontent.com/",
        "http://127.0.0.1:5556",
        "http://127.8.9.10:1",
        "http://localhost:8080",
        "http://[::1]:8080",
    ] {
        OidcVerifier::new("sigstore", None, vec![good.into()])
            .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    // The development issuer is exempt (its keys are local).
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let dev = DevIssuer::new("http://authority.internal:8090", key).unwrap();
    assert!(OidcVerifier::new("sigstore", Some(dev), vec![]).is_ok());
}

/// A fake external issuer on loopback: discovery + a switchable JWKS, counting fetches.
struct FakeIssuer {
    url: String,
    jwks: Arc<std::sync::Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

async fn fake_issuer() -> FakeIssuer {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let jwks = Arc::new(std::sync::Mutex::new(json!({"keys": []})));
    let fetches = Arc::new(AtomicUsize::new(0));
    let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks")});
    let (j, f) = (jwks.clone(), fetches.clone());
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/jwks",
            get(move || async move {
                f.fetch_add(1, Ordering::SeqCst);
                let body = j.lock().unwrap().clone();
                axum::Json(body)
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    FakeIssuer { url, jwks, fetches }
}

fn external_token(issuer: &DevIssuer, sub: &str) -> String {
    issuer.mint(sub, None, "sigstore", 600).unwrap()
}

#[tokio::test]
async fn unknown_kid_refetch_is_rate_limited_per_issuer() {
    let fake = fake_issuer().await;
    let p256 = || PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let old = DevIssuer::new(&fake.url, p256()).unwrap();
    let new = DevIssuer::new(&fake.url, p256()).unwrap();
    *fake.jwks.lock().unwrap() = old.jwks().unwrap();
    let policy = TokenPolicy {
        jwks_refetch_interval: Duration::from_secs(2),
        ..TokenPolicy::default()
    };
    let v = OidcVerifier::new("sigstore", None, vec![fake.url.clone()])
        .unwrap()
        .with_policy(policy);
    let sub = format!("{}/workload", fake.url.replace("http://", "https://"));
    // Positive control: a known key verifies (one fetch).
    assert_eq!(
        v.verify(&external_token(&old, &sub)).await.unwrap().subject,
        sub
    );
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 1);
    // Unknown kid: one refetch is allowed…
    expect_token_error(v.verify(&external_token(&new, &sub)).await, "no key");
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 2);
    // …then no more within the interval, however many unknown kids arrive.
    *fake.jwks.lock().unwrap() = new.jwks().unwrap();
    for _ in 0..10 {
        expect_token_error(v.verify(&external_token(&new, &sub)).await, "rate-limited");
    }
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 2);
    // After the interval, the rotated key is fetched and verifies.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(v.verify(&external_token(&new, &sub)).await.is_ok());
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn external_subjects_follow_the_issuers_domain_and_jwks_bodies_are_capped() {
    let fake = fake_issuer().await;
    let issuer =
        DevIssuer::new(&fake.url, PrivateKey::generate(KeyKind::EcdsaP256).unwrap()).unwrap();
    let mut jwks = issuer.jwks().unwrap();
    *fake.jwks.lock().unwrap() = jwks.clone();
    let v = OidcVerifier::new("sigstore", None, vec![fake.url.clone()])
        .unwrap()
        .with_policy(TokenPolicy {
            max_fetch_bytes: 4096,
            ..TokenPolicy::default()
        });
    // Subject rules for an external issuer: https:// or spiffe:// on its own domain.
    let host = fake.url.trim_start_matches("http://");
    let host = host.split(':').next().unwrap();
    for good in [
        format!("https://{host}/ci/job"),
        format!("spiffe://{host}/ns/ci"),
    ] {
        assert!(
            v.verify(&external_token(&issuer, &good)).await.is_ok(),
            "{good}"
        );
    }
    for bad in [
        "https://evil.example/ci/job".to_owned(),
        format!("http://{host}/ci/job"),
        "repo:o/r:ref:refs/heads/main".to_owned(),
        format!("https://user@{host}/x"),
    ] {
        expect_token_error(v.verify(&external_token(&issuer, &bad)).await, "domain");
    }
    // A JWKS larger than the cap is refused (a fresh verifier: nothing cached).
    jwks["padding"] = "x".repeat(8192).into();
    *fake.jwks.lock().unwrap() = jwks;
    let v2 = OidcVerifier::new("sigstore", None, vec![fake.url.clone()])
        .unwrap()
        .with_policy(TokenPolicy {
            max_fetch_bytes: 4096,
            ..TokenPolicy::default()
        });
    let good = format!("https://{host}/ci/job");
    expect_token_error(
        v2.verify(&external_token(&issuer, &good)).await,
        "larger than",
    );
}

// ---------------------------------------------------------------- 3. keys never regenerated

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn key_files(s: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<&PathBuf> {
    s.keys()
        .filter(|p| p.extension().is_some_and(|e| e == "key" || e == "pem"))
        .collect()
}

#[test]
fn lost_state_json_is_refused_and_no_key_is_regenerated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("authority");
    // Positive control: a fresh folder initialises.
    AuthorityDir::open(&dir).unwrap();
    let before = snapshot(&dir);
    assert!(before.contains_key(Path::new("state.json")));
    assert_eq!(key_files(&before).len(), 10, "{:?}", before.keys());
    assert!(
        !before.keys().any(|p| p.to_string_lossy().ends_with(".tmp")),
        "no temporary files left"
    );
    // Reopening with state is fine and changes nothing.
    AuthorityDir::open(&dir).unwrap();
    assert_eq!(snapshot(&dir), before);

    std::fs::remove_file(dir.join("state.json")).unwrap();
    let e = AuthorityDir::open(&dir).unwrap_err();
    let msg = e.to_string();
    for part in [
        "state.json",
        "ca-1/",
        "ct-1/",
        "tsa-1/",
        "oidc/dev.key",
        "restore",
    ] {
        assert!(msg.contains(part), "{msg} should mention {part}");
    }
    let mut after = snapshot(&dir);
    let mut expected = before.clone();
    expected.remove(Path::new("state.json"));
    after.retain(|p, _| !p.to_string_lossy().contains(".tmp"));
    assert_eq!(
        after, expected,
        "every key file byte-identical, nothing added"
    );

    // Only the dev key left: still refused.
    let d2 = tmp.path().join("only-dev");
    AuthorityDir::open(&d2).unwrap();
    for g in ["ca-1", "ct-1", "tsa-1"] {
        std::fs::remove_dir_all(d2.join(g)).unwrap();
    }
    std::fs::remove_file(d2.join("state.json")).unwrap();
    assert!(AuthorityDir::open(&d2).is_err());

    // A generation directory state.json does not list is never reused.
    let d3 = tmp.path().join("stray");
    AuthorityDir::open(&d3).unwrap();
    std::fs::create_dir(d3.join("ca-2")).unwrap();
    std::fs::write(d3.join("ca-2/root.key"), b"keep me").unwrap();
    let id = AuthorityDir::open(&d3)
        .unwrap()
        .rotate(chainseal_authority::store::Component::Ca)
        .unwrap();
    assert_eq!(id, 3);
    assert_eq!(std::fs::read(d3.join("ca-2/root.key")).unwrap(), b"keep me");
}

#[test]
fn write_new_never_replaces_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x.key");
    chainseal_authority::store::write_new(&p, b"one", 0o600).unwrap();
    assert!(chainseal_authority::store::write_new(&p, b"two", 0o600).is_err());
    assert_eq!(std::fs::read(&p).unwrap(), b"one");
    chainseal_authority::store::write_atomic(&p, b"three", 0o600).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"three");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no tmp left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_whose_authority_state_is_lost_does_not_start() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = StackConfig {
        dir: tmp.path().join("stack"),
        listen_base: 0,
        issuers: vec![],
    };
    // Positive control: first start initialises, and says where the dev issuer is.
    let s = stack::start(&cfg).await.unwrap();
    assert_eq!(s.dev_issuer_url, s.authority_url);
    let d: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        s.dev_issuer_url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(d["issuer"], s.dev_issuer_url.as_str());
    s.stop().await;
    let adir = cfg.dir.join("authority");
    let before = snapshot(&adir);
    std::fs::remove_file(adir.join("state.json")).unwrap();
    let e = stack::start(&cfg).await.unwrap_err();
    assert!(e.to_string().contains("state.json"), "{e}");
    assert!(stack::workload_token(&cfg.dir, SPIFFE, 600).is_err());
    let mut after = snapshot(&adir);
    after.retain(|p, _| !p.to_string_lossy().contains(".tmp"));
    let mut expected = before;
    expected.remove(Path::new("state.json"));
    assert_eq!(after, expected);
}

// ---------------------------------------------------------------- 4. dev issuer off

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_issuer_is_off_unless_enabled() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = AuthorityDir::open(tmp.path()).unwrap();
    let off = Authority::load_with(&dir, &AuthorityConfig::new(URL)).unwrap();
    assert!(off.oidc.dev().is_none());
    assert!(off.oidc.issuer_urls().is_empty());
    let dev = DevIssuer::new(URL, dir.dev_key().unwrap()).unwrap();
    let token = dev.mint(SPIFFE, None, "sigstore", 600).unwrap();
    expect_token_error(off.oidc.verify(&token).await, "unknown issuer");
    // Positive control: enabled, the same token verifies.
    let mut cfg = AuthorityConfig::new(URL);
    cfg.dev_issuer = true;
    let on = Authority::load_with(&dir, &cfg).unwrap();
    assert_eq!(on.oidc.verify(&token).await.unwrap().subject, SPIFFE);
    // The stack's workload token with build claims reaches the certificate.
    let tmp2 = tempfile::tempdir().unwrap();
    let scfg = StackConfig {
        dir: tmp2.path().to_path_buf(),
        listen_base: 0,
        issuers: vec![],
    };
    let s = stack::start(&scfg).await.unwrap();
    let tok = stack::workload_token_with_claims(&scfg.dir, SPIFFE, 600, &all_claims()).unwrap();
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v2/signingCert", s.authority_url))
        .header("content-type", "application/json")
        .body(request(&tok, &key, SPIFFE))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let pem = body["signedCertificateEmbeddedSct"]["chain"]["certificates"][0]
        .as_str()
        .unwrap();
    let leaf = Certificate::from_pem(pem).unwrap();
    assert_eq!(fulcio_build_arcs(&leaf).len(), BUILD_CLAIMS.len());
    s.stop().await;
}
