//! Where to sign: the trusted root (for the self-check) and the services of a signing
//! config v0.2, selected as the Sigstore client spec says — supported major API version,
//! `validFor` containing now (closed interval), one service per operator (its highest
//! version), newest first, then the `ANY` / `EXACT` / `ALL` selector.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;

/// Media type of a client trust config.
pub const CLIENT_TRUST_CONFIG_V01: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";
/// Media type of the signing config we read.
pub const SIGNING_CONFIG_V02: &str = "application/vnd.dev.sigstore.signingconfig.v0.2+json";

/// Fulcio API major versions this client speaks.
const CA_VERSIONS: &[u64] = &[1];
/// Rekor API major versions this client speaks (v2 only: tiles, checkpoints, no SET).
const REKOR_VERSIONS: &[u64] = &[2];
/// TSA API major versions this client speaks.
const TSA_VERSIONS: &[u64] = &[1];

/// One selected service endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Base URL (CA, log) or full endpoint URL (TSA), without a trailing `/`.
    pub url: String,
    /// Major API version.
    pub major_api_version: u64,
    /// Operator (scheme-less URI).
    pub operator: String,
}

/// Trust root bytes plus the services to sign with.
#[derive(Debug, Clone)]
pub struct SigningSetup {
    /// The trusted root JSON (protobuf JSON), exactly as given.
    pub trusted_root_json: Vec<u8>,
    /// The certificate authority (keyless signing only).
    pub ca: Option<Service>,
    /// Transparency logs to write to (at least one).
    pub tlogs: Vec<Service>,
    /// Timestamp authorities to ask (at least one: Rekor v2 entries carry no time).
    pub tsas: Vec<Service>,
}

impl SigningSetup {
    /// From a client trust config (`trustedRoot` + `signingConfig`), as sigstore-python's
    /// `--trust-config` takes it.
    pub fn from_client_trust_config(json: &[u8], now_unix: i64) -> Result<Self, Error> {
        let now = unix(now_unix)?;
        let v: Value = serde_json::from_slice(json)
            .map_err(|e| Error::Config(format!("client trust config JSON: {e}")))?;
        let mt = v.get("mediaType").and_then(Value::as_str).unwrap_or("");
        if mt != CLIENT_TRUST_CONFIG_V01 {
            return Err(Error::Config(format!(
                "client trust config mediaType {mt:?}, expected {CLIENT_TRUST_CONFIG_V01:?}"
            )));
        }
        let root = v
            .get("trustedRoot")
            .ok_or_else(|| Error::Config("client trust config has no trustedRoot".into()))?;
        let sc = v
            .get("signingConfig")
            .ok_or_else(|| Error::Config("client trust config has no signingConfig".into()))?;
        let root =
            serde_json::to_vec(root).map_err(|e| Error::Config(format!("trusted root: {e}")))?;
        Self::from_parts(root, sc, now)
    }

    /// From a trusted root and a signing config (both JSON).
    pub fn from_files(
        trusted_root: &[u8],
        signing_config: &[u8],
        now_unix: i64,
    ) -> Result<Self, Error> {
        let now = unix(now_unix)?;
        let sc: Value = serde_json::from_slice(signing_config)
            .map_err(|e| Error::Config(format!("signing config JSON: {e}")))?;
        Self::from_parts(trusted_root.to_vec(), &sc, now)
    }

    fn from_parts(root: Vec<u8>, sc: &Value, now: OffsetDateTime) -> Result<Self, Error> {
        let mt = sc.get("mediaType").and_then(Value::as_str).unwrap_or("");
        if mt != SIGNING_CONFIG_V02 {
            return Err(Error::Config(format!(
                "signing config mediaType {mt:?}, expected {SIGNING_CONFIG_V02:?}"
            )));
        }
        let ca = select(sc.get("caUrls"), CA_VERSIONS, None, now, "caUrls")?
            .into_iter()
            .next();
        let tlogs = select(
            sc.get("rekorTlogUrls"),
            REKOR_VERSIONS,
            sc.get("rekorTlogConfig"),
            now,
            "rekorTlogUrls",
        )?;
        if tlogs.is_empty() {
            return Err(Error::Config(
                "no usable transparency log in the signing config (Rekor v2, valid now)".into(),
            ));
        }
        let tsas = select(
            sc.get("tsaUrls"),
            TSA_VERSIONS,
            sc.get("tsaConfig"),
            now,
            "tsaUrls",
        )?;
        if tsas.is_empty() {
            return Err(Error::Config(
                "no usable timestamp authority in the signing config (Rekor v2 entries need one)"
                    .into(),
            ));
        }
        Ok(SigningSetup {
            trusted_root_json: root,
            ca,
            tlogs,
            tsas,
        })
    }
}

fn unix(t: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp(t).map_err(|e| Error::Config(format!("time {t}: {e}")))
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn parse_time(v: Option<&Value>, what: &str) -> Result<Option<OffsetDateTime>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map(Some)
            .map_err(|e| Error::Config(format!("{what} {s:?}: {e}"))),
        Some(other) => Err(Error::Config(format!("{what} is not a timestamp: {other}"))),
    }
}

/// Applies the selection rules to one service list.
fn select(
    list: Option<&Value>,
    versions: &[u64],
    config: Option<&Value>,
    now: OffsetDateTime,
    field: &str,
) -> Result<Vec<Service>, Error> {
    let items = match list {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(Error::Config(format!("{field} is not a list"))),
    };
    // (service, start) candidates that are supported and valid now.
    let mut candidates: Vec<(Service, Option<OffsetDateTime>)> = Vec::new();
    for it in items {
        let url = it
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Config(format!("{field}: a service without url")))?;
        let version = it
            .get("majorApiVersion")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0);
        if !versions.contains(&version) {
            continue;
        }
        let vf = it.get("validFor");
        let start = parse_time(vf.and_then(|v| v.get("start")), "validFor.start")?;
        let end = parse_time(vf.and_then(|v| v.get("end")), "validFor.end")?;
        if start.is_some_and(|s| now < s) || end.is_some_and(|e| now > e) {
            continue;
        }
        let operator = it
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        candidates.push((
            Service {
                url: url.trim_end_matches('/').to_owned(),
                major_api_version: version,
                operator,
            },
            start,
        ));
    }
    // Newest validity start first (stable: list order breaks ties).
    candidates.sort_by_key(|c| std::cmp::Reverse(c.1));
    // One per operator: the highest API version, then the newest.
    let mut chosen: Vec<Service> = Vec::new();
    for (svc, _) in &candidates {
        match chosen.iter_mut().find(|c| c.operator == svc.operator) {
            Some(c) if c.major_api_version < svc.major_api_version => *c = svc.clone(),
            Some(_) => {}
            None => chosen.push(svc.clone()),
        }
    }
    let selector = config
        .and_then(|c| c.get("selector"))
        .and_then(Value::as_str)
        .unwrap_or("ALL");
    let count = config
        .and_then(|c| c.get("count"))
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0);
    match selector {
        "ALL" => Ok(chosen),
        "ANY" => Ok(chosen.into_iter().take(1).collect()),
        "EXACT" => {
            let n = usize::try_from(count).unwrap_or(usize::MAX);
            if n == 0 {
                return Err(Error::Config(format!(
                    "{field}: selector EXACT needs count > 0"
                )));
            }
            if chosen.len() < n {
                return Err(Error::Config(format!(
                    "{field}: selector EXACT wants {n} services, {} usable",
                    chosen.len()
                )));
            }
            chosen.truncate(n);
            Ok(chosen)
        }
        other => Err(Error::Config(format!(
            "{field}: unsupported service selector {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-06-01T00:00:00Z", &Rfc3339).unwrap()
    }

    fn now_u() -> i64 {
        now().unix_timestamp()
    }

    fn svc(url: &str, v: u64, op: &str, start: &str, end: Option<&str>) -> Value {
        let mut vf = json!({"start": start});
        if let Some(e) = end {
            vf["end"] = json!(e);
        }
        json!({"url": url, "majorApiVersion": v, "operator": op, "validFor": vf})
    }

    #[test]
    fn expired_and_unsupported_services_are_never_selected() {
        let list = json!([
            svc(
                "http://old",
                2,
                "a",
                "2020-01-01T00:00:00Z",
                Some("2021-01-01T00:00:00Z")
            ),
            svc("http://v1", 1, "b", "2020-01-01T00:00:00Z", None),
            svc("http://future", 2, "c", "2030-01-01T00:00:00Z", None),
            svc("http://ok", 2, "d", "2020-01-01T00:00:00Z", None),
        ]);
        let got = select(Some(&list), REKOR_VERSIONS, None, now(), "t").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].url, "http://ok");
    }

    #[test]
    fn any_picks_the_newest_and_exact_fails_when_short() {
        let list = json!([
            svc("http://older", 2, "a", "2021-01-01T00:00:00Z", None),
            svc("http://newer", 2, "b", "2025-01-01T00:00:00Z", None),
        ]);
        let any = json!({"selector": "ANY"});
        let got = select(Some(&list), REKOR_VERSIONS, Some(&any), now(), "t").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].url, "http://newer");
        let exact3 = json!({"selector": "EXACT", "count": 3});
        assert!(select(Some(&list), REKOR_VERSIONS, Some(&exact3), now(), "t").is_err());
        let exact2 = json!({"selector": "EXACT", "count": 2});
        assert_eq!(
            select(Some(&list), REKOR_VERSIONS, Some(&exact2), now(), "t")
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn one_service_per_operator() {
        let list = json!([
            svc("http://a1", 2, "a", "2021-01-01T00:00:00Z", None),
            svc("http://a2", 2, "a", "2025-01-01T00:00:00Z", None),
        ]);
        let got = select(Some(&list), REKOR_VERSIONS, None, now(), "t").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].url, "http://a2");
    }

    #[test]
    fn wrong_media_types_are_refused() {
        let sc = json!({"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.1+json"});
        assert!(SigningSetup::from_files(b"{}", sc.to_string().as_bytes(), now_u()).is_err());
        assert!(SigningSetup::from_client_trust_config(b"{\"mediaType\":\"x\"}", now_u()).is_err());
    }
}
