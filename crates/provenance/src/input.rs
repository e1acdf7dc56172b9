//! Reading provenance files: a Sigstore bundle (`.sigstore.json`, `.sigstore`,
//! `.build.slsa`) or JSON Lines (`.intoto.jsonl`), each line a bundle or a bare DSSE
//! envelope whose signature carries the signing certificate (`signatures[].cert`, PEM), as
//! the slsa-github-generator wrote before it emitted bundles.

use chainseal_crypto::x509::Certificate;
use chainseal_model::bundle::{Bundle, BundleVersion, Content, KeyMaterial};
use chainseal_model::dsse::Envelope;
use serde::Deserialize;

use crate::error::{Check, Error};

/// Most attestations a provenance file may hold (a bound on work per input).
const MAX_ATTESTATIONS: usize = 1024;

/// One signed attestation found in a provenance file.
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The attestation as a Sigstore bundle. A bare envelope becomes a bundle with its
    /// certificate as key material and no transparency-log entry.
    pub bundle: Bundle,
    /// Whether it came from a bare DSSE envelope (no log entry, no timestamp).
    pub bare_envelope: bool,
    /// 1-based line (or 1 for a whole-file bundle), for messages.
    pub line: usize,
}

#[derive(Deserialize)]
struct BareSignature {
    #[serde(default)]
    cert: Option<String>,
}

#[derive(Deserialize)]
struct BareEnvelope {
    #[serde(default)]
    signatures: Vec<BareSignature>,
}

/// Parse a provenance file into its attestations. Unrecognised JSON lines are skipped (the
/// in-toto bundle format says consumers MUST ignore them); a file with none is an error.
pub fn parse_provenance(bytes: &[u8]) -> Result<Vec<Attestation>, Error> {
    // A whole-file JSON document (a pretty-printed bundle spans several lines).
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        return match parse_one(bytes, &value, 1)? {
            Some(a) => Ok(vec![a]),
            None => Err(Error::new(
                Check::Format,
                "the file is neither a Sigstore bundle nor a DSSE envelope",
            )),
        };
    }
    let mut out = Vec::new();
    let mut first_error = None;
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(trimmed) else {
            continue;
        };
        match parse_one(trimmed, &value, i + 1) {
            Ok(Some(a)) => out.push(a),
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        if out.len() > MAX_ATTESTATIONS {
            return Err(Error::new(
                Check::Format,
                format!("more than {MAX_ATTESTATIONS} attestations in one file"),
            ));
        }
    }
    if out.is_empty() {
        return Err(first_error.unwrap_or_else(|| {
            Error::new(
                Check::Format,
                "no Sigstore bundle or DSSE envelope found in the provenance file",
            )
        }));
    }
    Ok(out)
}

fn parse_one(
    bytes: &[u8],
    value: &serde_json::Value,
    line: usize,
) -> Result<Option<Attestation>, Error> {
    let Some(obj) = value.as_object() else {
        return Ok(None);
    };
    let fmt_err =
        |e: &dyn std::fmt::Display| Error::new(Check::Format, format!("line {line}: {e}"));
    if obj.contains_key("mediaType") {
        let bundle = Bundle::from_json(bytes).map_err(|e| fmt_err(&e))?;
        return Ok(Some(Attestation {
            bundle,
            bare_envelope: false,
            line,
        }));
    }
    if !(obj.contains_key("payload") && obj.contains_key("signatures")) {
        return Ok(None);
    }
    let envelope = Envelope::from_json(bytes).map_err(|e| fmt_err(&e))?;
    let bare: BareEnvelope = serde_json::from_slice(bytes).map_err(|e| fmt_err(&e))?;
    let certs: Vec<&str> = bare
        .signatures
        .iter()
        .filter_map(|s| s.cert.as_deref())
        .collect();
    let [pem] = certs.as_slice() else {
        return Err(fmt_err(&format_args!(
            "a bare DSSE envelope must carry exactly one signing certificate (signatures[].cert), found {}",
            certs.len()
        )));
    };
    let chain = Certificate::pem_chain(pem).map_err(|e| fmt_err(&e))?;
    if chain.is_empty() {
        return Err(fmt_err(&"signatures[].cert holds no certificate"));
    }
    let bundle = Bundle {
        version: BundleVersion::V0_1,
        media_type: BundleVersion::V0_1.media_type().to_string(),
        key_material: KeyMaterial::Chain(chain.iter().map(|c| c.der().to_vec()).collect()),
        tlog_entries: Vec::new(),
        rfc3161_timestamps: Vec::new(),
        content: Content::Dsse(envelope),
    };
    Ok(Some(Attestation {
        bundle,
        bare_envelope: true,
        line,
    }))
}
