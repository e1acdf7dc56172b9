//! The authority's HTTP API on 127.0.0.1:0: Fulcio v2 answers, TSA content types, the
//! development issuer's discovery/JWKS, and 4xx answers with a reason for bad input.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chainseal_authority::http::{Authority, serve};
use chainseal_authority::store::AuthorityDir;
use chainseal_crypto::keys::{HashAlgorithm, KeyKind, PrivateKey};
use chainseal_crypto::rfc3161::timestamp_request;

struct Server {
    url: String,
    authority: Arc<Authority>,
    _tmp: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = AuthorityDir::open(tmp.path()).unwrap();
    let authority = Arc::new(Authority::load(&dir, &url, vec![]).unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let a = authority.clone();
    tokio::spawn(async move {
        let _ = serve(listener, a, async {
            let _ = rx.await;
        })
        .await;
    });
    Server {
        url,
        authority,
        _tmp: tmp,
        _stop: tx,
    }
}

fn request(token: &str, key: &PrivateKey, signed: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.public_key().to_pem().unwrap()},
            "proofOfPossession": STANDARD.encode(key.sign(signed).unwrap())
        }
    })
}

#[tokio::test]
async fn signing_cert_returns_a_chain_and_refuses_bad_tokens_with_4xx_and_reason() {
    let s = start().await;
    let http = reqwest::Client::new();
    let dev = s.authority.oidc.dev().unwrap();
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let post = |body: serde_json::Value| {
        http.post(format!("{}/api/v2/signingCert", s.url))
            .json(&body)
            .send()
    };
    let good = dev
        .mint("ci@example.com", Some("ci@example.com"), "sigstore", 600)
        .unwrap();
    let r = post(request(&good, &key, b"ci@example.com")).await.unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    let certs = v["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap();
    assert_eq!(certs.len(), 3);

    for (token, status, reason) in [
        (
            dev.mint("ci@example.com", Some("ci@example.com"), "other", 600)
                .unwrap(),
            401,
            "audience",
        ),
        (
            dev.mint("ci@example.com", Some("ci@example.com"), "sigstore", -300)
                .unwrap(),
            401,
            "expired",
        ),
        ("garbage".to_owned(), 401, "identity token refused"),
    ] {
        let r = post(request(&token, &key, b"ci@example.com"))
            .await
            .unwrap();
        assert_eq!(r.status(), status);
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(v["message"].as_str().unwrap().contains(reason), "{v}");
    }
    // Proof over another subject: 400 with a reason.
    let r = post(request(&good, &key, b"someone@else")).await.unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("proof of possession"),
        "{v}"
    );
    // Oversized bodies are refused before parsing.
    let r = http
        .post(format!("{}/api/v2/signingCert", s.url))
        .body(vec![b'{'; 200 * 1024])
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn trust_bundle_configuration_discovery_and_jwks_are_served() {
    let s = start().await;
    let http = reqwest::Client::new();
    let get = |p: &str| http.get(format!("{}{p}", s.url)).send();
    let v: serde_json::Value = get("/api/v2/trustBundle")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["chains"][0]["certificates"].as_array().unwrap().len(), 2);
    let v: serde_json::Value = get("/api/v2/configuration")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["issuers"][0]["issuerUrl"], s.url.as_str());
    let v: serde_json::Value = get("/.well-known/openid-configuration")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["issuer"], s.url.as_str());
    let jwks: serde_json::Value = get("/jwks").await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    let pem = get("/api/v1/timestamp/certchain")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert_eq!(get("/nope").await.unwrap().status(), 404);
}

#[tokio::test]
async fn timestamp_endpoint_needs_the_query_content_type_and_rejects_garbage() {
    let s = start().await;
    let http = reqwest::Client::new();
    let req = timestamp_request(b"sig", HashAlgorithm::Sha256, None, true).unwrap();
    let post = |ct: &str, body: Vec<u8>| {
        http.post(format!("{}/api/v1/timestamp", s.url))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = post("application/timestamp-query", req.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/timestamp-reply");
    let r = post("application/json", req).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = post("application/timestamp-query", b"not DER".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().contains_key("x-rejection-reason"));
}

/// Certificates issued per second through the full HTTP path (token verification, proof
/// of possession, precertificate, SCT, final certificate). Prints the measured rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuance_rate_is_measured() {
    let s = start().await;
    let http = reqwest::Client::new();
    let dev = s.authority.oidc.dev().unwrap();
    let key = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
    let tok = dev
        .mint(
            "bench@example.com",
            Some("bench@example.com"),
            "sigstore",
            600,
        )
        .unwrap();
    let body = serde_json::to_vec(&request(&tok, &key, b"bench@example.com")).unwrap();
    let n = 200;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let r = http
            .post(format!("{}/api/v2/signingCert", s.url))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let http_rate = n as f64 / t.elapsed().as_secs_f64();
    let id = s.authority.oidc.verify(&tok).await.unwrap();
    let t = std::time::Instant::now();
    for _ in 0..n {
        s.authority
            .ca
            .issue(
                key.public_key().spki_der(),
                &id,
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64,
            )
            .ok();
    }
    let ca_rate = n as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "issuance: {http_rate:.0} certificates/s over HTTP (sequential), {ca_rate:.0}/s CA only (debug build)"
    );
}
