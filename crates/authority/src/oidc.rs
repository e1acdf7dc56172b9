//! OIDC identity tokens: verification against configured issuers (discovery + cached
//! JWKS, audience, expiry) and a development issuer with its own ES256 key.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chainseal_crypto::keys::{KeyKind, PrivateKey, sha256};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;

use crate::ca::san_for;
use crate::certs::San;
use crate::error::{Error, Result};

/// The audience Sigstore clients request tokens for.
pub const SIGSTORE_AUDIENCE: &str = "sigstore";
/// Longest token accepted.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest discovery document or JWKS fetched.
const MAX_FETCH_BYTES: usize = 1024 * 1024;
/// How long a fetched JWKS is trusted before it is fetched again.
const JWKS_TTL: Duration = Duration::from_secs(300);
/// Clock skew tolerated on `exp`/`nbf`/`iat`.
const LEEWAY_SECS: u64 = 30;

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
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
}

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

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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

    /// Mints a token for `subject` (and `email`, marked verified) valid for `ttl` seconds.
    pub fn mint(
        &self,
        subject: &str,
        email: Option<&str>,
        audience: &str,
        ttl: i64,
    ) -> Result<String> {
        let now = unix_now();
        let mut claims = serde_json::json!({
            "iss": self.url, "sub": subject, "aud": audience,
            "iat": now, "nbf": now, "exp": now + ttl,
        });
        if let Some(e) = email {
            claims["email"] = e.into();
            claims["email_verified"] = true.into();
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let key = EncodingKey::from_ec_der(&self.key.to_pkcs8_der());
        jsonwebtoken::encode(&header, &claims, &key)
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
    http: reqwest::Client,
    cache: tokio::sync::Mutex<HashMap<String, (Instant, JwkSet)>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("audience", &self.audience)
            .field("dev", &self.dev)
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
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
    pub fn new(audience: &str, dev: Option<DevIssuer>, issuers: Vec<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            audience: audience.to_owned(),
            dev,
            issuers: issuers
                .into_iter()
                .map(|i| i.trim_end_matches('/').to_owned())
                .collect(),
            http,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        })
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
        v.leeway = LEEWAY_SECS;
        v
    }

    /// Verifies `token` and returns the identity it proves.
    pub async fn verify(&self, token: &str) -> Result<Identity> {
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
        let key = match &self.dev {
            Some(dev) if dev.url == iss => dev.decoding_key()?,
            _ if self.issuers.contains(&iss) => {
                self.external_key(&iss, header.kid.as_deref()).await?
            }
            _ => return Err(Error::Token(format!("unknown issuer {iss:?}"))),
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation(header.alg, &iss))
            .map_err(token_error)?;
        let claims = data.claims;
        let email = match (claims.email, claims.email_verified) {
            (Some(e), Some(true)) => Some(e),
            (Some(_), _) => {
                return Err(Error::Token("the email claim is not verified".into()));
            }
            (None, _) => None,
        };
        let san = san_for(&claims.sub, email.as_deref())?;
        Ok(Identity {
            issuer: claims.iss,
            subject: claims.sub,
            email,
            san,
        })
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
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::Token(format!("fetching {url}: {e}")))?;
        if bytes.len() > MAX_FETCH_BYTES {
            return Err(Error::Token(format!("{url}: response too large")));
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Token(format!("{url}: not JSON: {e}")))
    }

    async fn jwks(&self, iss: &str, refresh: bool) -> Result<JwkSet> {
        {
            let cache = self.cache.lock().await;
            if let Some((at, set)) = cache.get(iss)
                && !refresh
                && at.elapsed() < JWKS_TTL
            {
                return Ok(set.clone());
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
        let set: JwkSet = serde_json::from_value(self.fetch_json(jwks_uri).await?)
            .map_err(|e| Error::Token(format!("JWKS of {iss:?}: {e}")))?;
        self.cache
            .lock()
            .await
            .insert(iss.to_owned(), (Instant::now(), set.clone()));
        Ok(set)
    }

    async fn external_key(&self, iss: &str, kid: Option<&str>) -> Result<DecodingKey> {
        // At most one refetch: a key rotated since the cache was filled.
        for refresh in [false, true] {
            let set = self.jwks(iss, refresh).await?;
            let jwk = match kid {
                Some(k) => set.find(k),
                None if set.keys.len() == 1 => set.keys.first(),
                None => None,
            };
            if let Some(jwk) = jwk {
                return DecodingKey::from_jwk(jwk)
                    .map_err(|e| Error::Token(format!("JWKS key of {iss:?}: {e}")));
            }
        }
        Err(Error::Token(format!(
            "no key {kid:?} in the JWKS of {iss:?}"
        )))
    }
}
