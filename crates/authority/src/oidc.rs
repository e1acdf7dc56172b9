//! OIDC identity tokens: verification against configured issuers (discovery + cached
//! JWKS, audience, expiry) and a development issuer with its own ES256 key.
//!
//! Hardening ([`TokenPolicy`]): `exp`, `nbf` and `iat` are checked with a bounded clock
//! skew and `exp − iat` is capped; the certificate's SAN is built only from validated
//! claims (an email SAN needs an addr-spec `email` with `email_verified: true`; a URI
//! subject must parse and follow the issuer's subject rule: `spiffe://` for the development
//! issuer, `https://` or `spiffe://` on the issuer's own domain for external issuers);
//! external issuers must be `https://` unless loopback; JWKS bodies are size-capped and a
//! refetch for an unknown `kid` happens at most once per [`TokenPolicy::jwks_refetch_interval`]
//! per issuer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chainseal_crypto::keys::{KeyKind, PrivateKey, sha256};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;

use crate::certs::San;
use crate::claims::BuildClaims;
use crate::error::{Error, Result};

/// The audience Sigstore clients request tokens for.
pub const SIGSTORE_AUDIENCE: &str = "sigstore";
/// Longest token accepted.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest discovery document or JWKS fetched (default of [`TokenPolicy::max_fetch_bytes`]).
pub const MAX_FETCH_BYTES: usize = 1024 * 1024;
/// How long a fetched JWKS is trusted before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// Longest string claim used for a SAN.
const MAX_IDENTITY_BYTES: usize = 2048;

/// Limits applied to every token and to JWKS fetching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Clock skew tolerated on `exp`, `nbf` and `iat` (seconds). Default 30.
    pub leeway_secs: u64,
    /// Longest accepted lifetime `exp − iat` (seconds). Default 24 h.
    pub max_lifetime_secs: i64,
    /// Least time between two JWKS fetches of one issuer caused by an unknown `kid`.
    /// Default 30 s.
    pub jwks_refetch_interval: Duration,
    /// Largest discovery document or JWKS body read. Default 1 MiB.
    pub max_fetch_bytes: usize,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            leeway_secs: 30,
            max_lifetime_secs: 24 * 3600,
            jwks_refetch_interval: Duration::from_secs(30),
            max_fetch_bytes: MAX_FETCH_BYTES,
        }
    }
}

/// A verified identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `iss`.
    pub issuer: String,
    /// The token's `sub`.
    pub subject: String,
    /// The verified `email` claim, if any.
    pub email: Option<String>,
    /// The SAN the certificate carries.
    pub san: San,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    email: Option<serde_json::Value>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// Claims [`DevIssuer::mint_with_claims`] sets itself and refuses in `extra`.
pub const RESERVED_CLAIMS: [&str; 6] = ["iss", "sub", "aud", "exp", "iat", "nbf"];

/// The development issuer: an ES256 key and the URL it is served at.
pub struct DevIssuer {
    url: String,
    key: PrivateKey,
    kid: String,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("url", &self.url)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// An issuer at `url` (no trailing slash) signing with `key` (ECDSA P-256).
    pub fn new(url: &str, key: PrivateKey) -> Result<Self> {
        if key.kind() != KeyKind::EcdsaP256 {
            return Err(Error::Config(
                "the development issuer key must be P-256".into(),
            ));
        }
        let kid = hex::encode(&sha256(key.public_key().spki_der())[..8]);
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            key,
            kid,
        })
    }

    /// The issuer URL (`iss`).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn xy(&self) -> Result<(String, String)> {
        let public = self.key.public_key();
        let raw = public.raw_public_key();
        if raw.len() != 65 || raw.first() != Some(&4) {
            return Err(Error::Crypto("unexpected P-256 public key encoding".into()));
        }
        Ok((
            URL_SAFE_NO_PAD.encode(&raw[1..33]),
            URL_SAFE_NO_PAD.encode(&raw[33..65]),
        ))
    }

    /// The JWKS document (`/jwks`).
    pub fn jwks(&self) -> Result<serde_json::Value> {
        let (x, y) = self.xy()?;
        Ok(serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": self.kid, "alg": "ES256", "use": "sig"
        }]}))
    }

    /// The discovery document (`/.well-known/openid-configuration`).
    pub fn discovery(&self) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.url,
            "jwks_uri": format!("{}/jwks", self.url),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "claims_supported": ["sub", "email", "email_verified", "aud", "exp", "iat", "iss"]
        })
    }

    /// The key ID (`kid`) of the issuer's key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Mints a token for `subject` (and `email`, marked verified) valid for `ttl` seconds.
    pub fn mint(
        &self,
        subject: &str,
        email: Option<&str>,
        audience: &str,
        ttl: i64,
    ) -> Result<String> {
        let mut extra = serde_json::Map::new();
        if let Some(e) = email {
            extra.insert("email".into(), e.into());
            extra.insert("email_verified".into(), true.into());
        }
        self.mint_with_claims(subject, audience, ttl, &extra)
    }

    /// Mints a token for `subject` valid for `ttl` seconds carrying the `extra` claims too
    /// (e.g. the build claims of [`crate::claims::BUILD_CLAIMS`], or `email` +
    /// `email_verified`). `extra` may not set [`RESERVED_CLAIMS`]. Values are not
    /// validated here: the CA validates what it copies into a certificate.
    pub fn mint_with_claims(
        &self,
        subject: &str,
        audience: &str,
        ttl: i64,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String> {
        if let Some(r) = RESERVED_CLAIMS.iter().find(|r| extra.contains_key(**r)) {
            return Err(Error::BadRequest(format!(
                "claim {r:?} is set by the issuer, not by the caller"
            )));
        }
        let now = crate::unix_now();
        let mut claims = extra.clone();
        for (k, v) in [
            ("iss", serde_json::Value::from(self.url.as_str())),
            ("sub", subject.into()),
            ("aud", audience.into()),
            ("iat", now.into()),
            ("nbf", now.into()),
            ("exp", now.saturating_add(ttl).into()),
        ] {
            claims.insert(k.into(), v);
        }
        self.sign_claims(&claims)
    }

    /// Signs exactly `claims` (no defaults added): for tools and tests that need a token
    /// the verifier must refuse (future `iat`, overlong lifetime…).
    pub fn sign_claims(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let key = EncodingKey::from_ec_der(&self.key.to_pkcs8_der());
        jsonwebtoken::encode(&header, claims, &key)
            .map_err(|e| Error::Crypto(format!("signing the token: {e}")))
    }

    fn decoding_key(&self) -> Result<DecodingKey> {
        let (x, y) = self.xy()?;
        DecodingKey::from_ec_components(&x, &y).map_err(|e| Error::Crypto(e.to_string()))
    }
}

/// Verifies identity tokens from the development issuer and configured external issuers.
pub struct OidcVerifier {
    audience: String,
    dev: Option<DevIssuer>,
    issuers: Vec<String>,
    policy: TokenPolicy,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<HashMap<String, (Instant, JwkSet)>>,
    /// Last JWKS refetch caused by an unknown `kid`, per issuer.
    refetched: tokio::sync::Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("audience", &self.audience)
            .field("dev", &self.dev)
            .field("issuers", &self.issuers)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Whether `url`'s host is loopback (127.0.0.0/8, ::1, `localhost`).
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    match u.host_str() {
        Some(h) if h.eq_ignore_ascii_case("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// External issuers (and their `jwks_uri`) must be `https://`, unless loopback.
fn check_transport(what: &str, url: &str) -> std::result::Result<(), String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("{what} {url:?} is not a URL: {e}"))?;
    match u.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_url(url) => Ok(()),
        other => Err(format!(
            "{what} {url:?} must be https:// ({other}:// is accepted only on loopback)"
        )),
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// An RFC 5322 addr-spec in dot-atom form (`local@domain`; no quoted strings, no comments,
/// no address literals), ASCII only.
pub fn is_addr_spec(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = |p: &str, ok: &dyn Fn(char) -> bool| {
        !p.is_empty() && p.split('.').all(|a| !a.is_empty() && a.chars().all(ok))
    };
    let label = |c: char| c.is_ascii_alphanumeric() || c == '-';
    s.len() <= 254
        && local.len() <= 64
        && dot_atom(local, &atext)
        && dot_atom(domain, &label)
        && domain
            .split('.')
            .all(|l| !l.starts_with('-') && !l.ends_with('-') && l.len() <= 63)
}

/// A SPIFFE ID (`spiffe://<trust domain>/<path>`) as the SPIFFE ID specification defines
/// it, with a non-empty path.
pub fn is_spiffe_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("spiffe://") else {
        return false;
    };
    let Some((td, path)) = rest.split_once('/') else {
        return false;
    };
    let td_ok = !td.is_empty()
        && td
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_'));
    let path_ok = path.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    });
    s.len() <= MAX_IDENTITY_BYTES && td_ok && path_ok
}

fn host_of(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .host_str()
        .map(|h| h.to_ascii_lowercase())
}

/// Fulcio's rule for URI issuers: the subject's host is the issuer's host or shares its
/// top- and second-level domain (IP addresses: only the same address).
fn same_domain(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let is_ip = |h: &str| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok()
    };
    if is_ip(a) || is_ip(b) {
        return false;
    }
    fn last2(h: &str) -> Vec<&str> {
        h.rsplit('.').take(2).collect()
    }
    let (la, lb) = (last2(a), last2(b));
    la.len() == 2 && la == lb
}

/// The SAN for a verified token's claims: an email SAN only for an addr-spec `email` with
/// `email_verified: true`; otherwise the subject as a URI, which must be a SPIFFE ID for
/// the development issuer (`dev`), and an `https://` or `spiffe://` URI on the issuer's
/// domain for an external issuer.
fn san_from_claims(
    issuer: &str,
    dev: bool,
    sub: &str,
    email: Option<&serde_json::Value>,
    email_verified: Option<&serde_json::Value>,
) -> Result<(San, Option<String>)> {
    let refuse = |why: String| Err(Error::Token(why));
    if sub.is_empty() || sub.len() > MAX_IDENTITY_BYTES || has_control(sub) {
        return refuse(
            "the subject (sub) is empty, too long or contains control characters".into(),
        );
    }
    if let Some(e) = email {
        let Some(e) = e.as_str() else {
            return refuse("the email claim is not a string".into());
        };
        if email_verified.and_then(|v| v.as_bool()) != Some(true) {
            return refuse("the email claim is not verified (email_verified is not true)".into());
        }
        if !is_addr_spec(e) {
            return refuse(format!(
                "the email claim {:?} is not an addr-spec (local@domain)",
                e.escape_debug().to_string()
            ));
        }
        return Ok((San::Email(e.to_owned()), Some(e.to_owned())));
    }
    if dev {
        if !is_spiffe_id(sub) {
            return refuse(format!(
                "the development issuer vouches only for SPIFFE IDs (spiffe://<trust domain>/<path>) or verified emails; subject {:?} is neither",
                sub.escape_debug().to_string()
            ));
        }
        return Ok((San::Uri(sub.to_owned()), None));
    }
    let uri_ok = reqwest::Url::parse(sub).is_ok_and(|u| {
        matches!(u.scheme(), "https" | "spiffe")
            && u.username().is_empty()
            && u.password().is_none()
            && !sub.chars().any(char::is_whitespace)
    }) && (!sub.starts_with("spiffe:") || is_spiffe_id(sub));
    let domain_ok = match (host_of(sub), host_of(issuer)) {
        (Some(s), Some(i)) => same_domain(&s, &i),
        _ => false,
    };
    if uri_ok && domain_ok {
        Ok((San::Uri(sub.to_owned()), None))
    } else {
        refuse(format!(
            "subject {:?} is not an https:// or spiffe:// URI on the domain of issuer {issuer:?}, and the token has no verified email",
            sub.escape_debug().to_string()
        ))
    }
}

fn unverified_issuer(token: &str) -> Result<String> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| Error::Token("not a JWT (expected header.payload.signature)".into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| Error::Token("JWT payload is not base64url".into()))?;
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    serde_json::from_slice::<Iss>(&bytes)
        .map(|i| i.iss)
        .map_err(|_| Error::Token("JWT payload has no string `iss` claim".into()))
}

fn token_error(e: jsonwebtoken::errors::Error) -> Error {
    Error::Token(match e.kind() {
        ErrorKind::ExpiredSignature => "token has expired".into(),
        ErrorKind::ImmatureSignature => "token is not valid yet (nbf)".into(),
        ErrorKind::InvalidAudience => "wrong audience (aud)".into(),
        ErrorKind::InvalidIssuer => "wrong issuer (iss)".into(),
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::InvalidAlgorithm => "signature algorithm does not match the key".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("missing required claim {c:?}"),
        other => format!("invalid token: {other:?}"),
    })
}

impl OidcVerifier {
    /// A verifier accepting tokens for `audience` from `dev` (checked locally) and from
    /// each URL in `issuers` (checked through discovery + JWKS).
    ///
    /// External issuers must be `https://` unless loopback (127.0.0.0/8, ::1, `localhost`).
    pub fn new(audience: &str, dev: Option<DevIssuer>, issuers: Vec<String>) -> Result<Self> {
        let issuers: Vec<String> = issuers
            .into_iter()
            .map(|i| i.trim_end_matches('/').to_owned())
            .collect();
        for i in &issuers {
            check_transport("OIDC issuer", i).map_err(Error::Config)?;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            audience: audience.to_owned(),
            dev,
            issuers,
            policy: TokenPolicy::default(),
            http,
            cache: tokio::sync::Mutex::new(HashMap::new()),
            refetched: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The same verifier with `policy`.
    pub fn with_policy(mut self, policy: TokenPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The limits in force.
    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    /// The development issuer, if enabled.
    pub fn dev(&self) -> Option<&DevIssuer> {
        self.dev.as_ref()
    }

    /// Every accepted issuer URL.
    pub fn issuer_urls(&self) -> Vec<String> {
        self.dev
            .iter()
            .map(|d| d.url.clone())
            .chain(self.issuers.iter().cloned())
            .collect()
    }

    fn validation(&self, alg: Algorithm, iss: &str) -> Validation {
        let mut v = Validation::new(alg);
        v.set_audience(&[&self.audience]);
        v.set_issuer(&[iss]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = self.policy.leeway_secs;
        v.validate_nbf = true;
        v
    }

    fn check_times(&self, c: &Claims) -> Result<()> {
        let now = crate::unix_now();
        let leeway = i64::try_from(self.policy.leeway_secs).unwrap_or(i64::MAX);
        let iat = c
            .iat
            .ok_or_else(|| Error::Token("missing required claim \"iat\"".into()))?;
        if iat > now.saturating_add(leeway) {
            return Err(Error::Token(format!(
                "token issued in the future (iat is {}s ahead, more than the {leeway}s skew allowed)",
                iat - now
            )));
        }
        if let Some(nbf) = c.nbf
            && nbf > now.saturating_add(leeway)
        {
            return Err(Error::Token("token is not valid yet (nbf)".into()));
        }
        let lifetime = c.exp.saturating_sub(iat);
        if lifetime > self.policy.max_lifetime_secs {
            return Err(Error::Token(format!(
                "token lifetime exp - iat = {lifetime}s exceeds the maximum of {}s",
                self.policy.max_lifetime_secs
            )));
        }
        Ok(())
    }

    /// Verifies `token` and returns the identity it proves.
    pub async fn verify(&self, token: &str) -> Result<Identity> {
        self.verify_with_build_claims(token).await.map(|(i, _)| i)
    }

    /// Verifies `token` and returns the identity it proves and its validated build claims
    /// ([`crate::claims::BUILD_CLAIMS`]). Build claims are honoured only for URI-SAN
    /// identities: for an email identity they are empty (and not looked at). A malformed
    /// build claim of a URI identity is an error ([`Error::BadRequest`]) naming the claim.
    pub async fn verify_with_build_claims(&self, token: &str) -> Result<(Identity, BuildClaims)> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::Token(format!(
                "token longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Error::Token(format!("malformed JWT header: {e}")))?;
        if !matches!(
            header.alg,
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::RS256 | Algorithm::EdDSA
        ) {
            return Err(Error::Token(format!(
                "signature algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let iss = unverified_issuer(token)?;
        let (key, dev) = match &self.dev {
            Some(dev) if dev.url == iss => (dev.decoding_key()?, true),
            _ if self.issuers.contains(&iss) => {
                (self.external_key(&iss, header.kid.as_deref()).await?, false)
            }
            _ => return Err(Error::Token(format!("unknown issuer {iss:?}"))),
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation(header.alg, &iss))
            .map_err(token_error)?;
        let claims = data.claims;
        self.check_times(&claims)?;
        let (san, email) = san_from_claims(
            &iss,
            dev,
            &claims.sub,
            claims.email.as_ref(),
            claims.email_verified.as_ref(),
        )?;
        let build = match san {
            San::Uri(_) => BuildClaims::from_claims(&claims.rest)?,
            San::Email(_) => BuildClaims::none(),
        };
        Ok((
            Identity {
                issuer: claims.iss,
                subject: claims.sub,
                email,
                san,
            },
            build,
        ))
    }

    async fn fetch_json(&self, url: &str) -> Result<serde_json::Value> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| Error::Token(format!("fetching {url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(Error::Token(format!(
                "fetching {url}: HTTP {}",
                resp.status()
            )));
        }
        let cap = self.policy.max_fetch_bytes;
        let too_large = || Error::Token(format!("{url}: response larger than {cap} bytes"));
        if resp
            .content_length()
            .is_some_and(|n| n > u64::try_from(cap).unwrap_or(u64::MAX))
        {
            return Err(too_large());
        }
        let mut resp = resp;
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| Error::Token(format!("fetching {url}: {e}")))?
        {
            if bytes.len() + chunk.len() > cap {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Token(format!("{url}: not JSON: {e}")))
    }

    /// The issuer's JWKS and whether it was fetched by this call.
    async fn jwks(&self, iss: &str, refresh: bool) -> Result<(JwkSet, bool)> {
        {
            let cache = self.cache.lock().await;
            if let Some((at, set)) = cache.get(iss)
                && !refresh
                && at.elapsed() < JWKS_TTL
            {
                return Ok((set.clone(), false));
            }
        }
        let discovery = self
            .fetch_json(&format!("{iss}/.well-known/openid-configuration"))
            .await?;
        if discovery.get("issuer").and_then(|i| i.as_str()) != Some(iss) {
            return Err(Error::Token(format!(
                "discovery document of {iss:?} names another issuer"
            )));
        }
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(|u| u.as_str())
            .ok_or_else(|| {
                Error::Token(format!("discovery document of {iss:?} has no jwks_uri"))
            })?;
        check_transport("jwks_uri", jwks_uri).map_err(Error::Token)?;
        let set: JwkSet = serde_json::from_value(self.fetch_json(jwks_uri).await?)
            .map_err(|e| Error::Token(format!("JWKS of {iss:?}: {e}")))?;
        self.cache
            .lock()
            .await
            .insert(iss.to_owned(), (Instant::now(), set.clone()));
        Ok((set, true))
    }

    /// Whether an unknown-`kid` refetch of `iss` is allowed now (and records it if so).
    async fn may_refetch(&self, iss: &str) -> bool {
        let mut last = self.refetched.lock().await;
        let allowed = last
            .get(iss)
            .is_none_or(|t| t.elapsed() >= self.policy.jwks_refetch_interval);
        if allowed {
            last.insert(iss.to_owned(), Instant::now());
        }
        allowed
    }

    async fn external_key(&self, iss: &str, kid: Option<&str>) -> Result<DecodingKey> {
        let find = |set: &JwkSet| -> Option<Result<DecodingKey>> {
            let jwk = match kid {
                Some(k) => set.find(k),
                None if set.keys.len() == 1 => set.keys.first(),
                None => None,
            }?;
            Some(
                DecodingKey::from_jwk(jwk)
                    .map_err(|e| Error::Token(format!("JWKS key of {iss:?}: {e}"))),
            )
        };
        let (set, fresh) = self.jwks(iss, false).await?;
        if let Some(k) = find(&set) {
            return k;
        }
        // A key rotated since the cache was filled: refetch, at most once per interval per
        // issuer (an attacker sending random `kid`s must not make us hammer the issuer).
        let mut note = "";
        if !fresh {
            if self.may_refetch(iss).await {
                let (set, _) = self.jwks(iss, true).await?;
                if let Some(k) = find(&set) {
                    return k;
                }
            } else {
                note = " (JWKS refetch rate-limited)";
            }
        }
        Err(Error::Token(format!(
            "no key {kid:?} in the JWKS of {iss:?}{note}"
        )))
    }
}
