//! Who signed: the key from the bundle's material (or the policy's managed key), and the
//! certificate checks — path to a trusted CA at every verified time, SCTs, identity.

use chainseal_crypto::keys::PublicKey;
use chainseal_crypto::x509::{Certificate, KeyPurpose, SubjectAltName, verify_path};
use chainseal_model::bundle::KeyMaterial;
use chainseal_model::trust::Timestamp;

use crate::error::{Check, Error};
use crate::policy::Policy;
use crate::report::SignerReport;
use crate::trust::{TrustMaterial, TrustedCa};

/// The signer's key, and its certificate when certificate based.
pub(crate) struct Signer {
    pub key: PublicKey,
    pub cert: Option<Certificate>,
}

fn km(reason: impl Into<String>) -> Error {
    Error::new(Check::KeyMaterial, reason)
}

impl Signer {
    /// Establish the signer from the bundle's key material and the policy; the kinds must
    /// agree (a certificate bundle needs an identity policy, a managed-key bundle a key).
    pub(crate) fn establish(material: &KeyMaterial, policy: &Policy) -> Result<Self, Error> {
        match (material, policy) {
            (KeyMaterial::PublicKeyHint(hint), Policy::Key(key)) => {
                let _ = hint; // a hint is never trusted; the given key decides
                Ok(Signer {
                    key: key.clone(),
                    cert: None,
                })
            }
            (KeyMaterial::PublicKeyHint(hint), Policy::Identity { .. }) => Err(km(format!(
                "the bundle is signed with a managed key (hint {hint:?}); pass the public key with --key"
            ))),
            (KeyMaterial::Certificate(_) | KeyMaterial::Chain(_), Policy::Key(_)) => Err(km(
                "the bundle is signed with a certificate; verify it with --certificate-identity and --certificate-oidc-issuer, not --key",
            )),
            (KeyMaterial::Certificate(der), Policy::Identity { .. }) => Self::from_leaf(der),
            (KeyMaterial::Chain(chain), Policy::Identity { .. }) => {
                for (i, der) in chain.iter().enumerate().skip(1) {
                    let c = Certificate::from_der(der).map_err(|e| {
                        Error::new(
                            Check::BundleFormat,
                            format!("x509CertificateChain.certificates[{i}]: {e}"),
                        )
                    })?;
                    if c.is_self_signed() {
                        return Err(Error::new(
                            Check::CertificateChain,
                            format!(
                                "x509CertificateChain.certificates[{i}] is a self-signed root; bundles must not carry a root (trust comes only from the trusted root)"
                            ),
                        ));
                    }
                }
                Self::from_leaf(&chain[0])
            }
        }
    }

    fn from_leaf(der: &[u8]) -> Result<Self, Error> {
        let cert = Certificate::from_der(der)
            .map_err(|e| Error::new(Check::BundleFormat, format!("signing certificate: {e}")))?;
        if cert.is_ca() {
            return Err(Error::new(
                Check::CertificateChain,
                "the signing certificate is a CA certificate",
            ));
        }
        let key = cert.public_key().map_err(|e| {
            Error::new(
                Check::CertificateChain,
                format!("signing certificate key: {e}"),
            )
        })?;
        Ok(Signer {
            key,
            cert: Some(cert),
        })
    }

    /// Certificate checks at every verified time, SCTs, and the identity policy.
    pub(crate) fn check_certificate(
        &self,
        times: &[i64],
        trust: &TrustMaterial,
        policy: &Policy,
    ) -> Result<(), Error> {
        let Some(leaf) = &self.cert else {
            return Ok(());
        };
        let mut issuer: Option<Certificate> = None;
        // Paths already verified for this leaf, by CA index: signatures, EKU and constraints
        // do not depend on the time, so a further verified time only needs every
        // certificate of that path to be valid then.
        let mut verified: Vec<(usize, Vec<Certificate>)> = Vec::new();
        for &t in times {
            let mut last_err = None;
            let mut ok = false;
            for (k, ca) in trust
                .cas
                .iter()
                .enumerate()
                .filter(|(_, ca)| ca.valid_for.contains(Timestamp::from_unix(t)))
            {
                if let Some((_, path)) = verified.iter().find(|(idx, _)| *idx == k) {
                    match path.iter().find(|c| !c.is_valid_at(t)) {
                        None => {
                            ok = true;
                            break;
                        }
                        Some(c) => {
                            last_err = Some(format!(
                                "certificate {:?} is not valid at {t} (valid {}..={})",
                                c.subject_string(),
                                c.not_before_unix(),
                                c.not_after_unix()
                            ));
                            continue;
                        }
                    }
                }
                match verify_leaf_at(leaf, ca, t) {
                    Ok(mut path) => {
                        if issuer.is_none() {
                            issuer = path.get(1).cloned();
                        }
                        // The whole chain up to the root, for the time checks above.
                        for c in ca
                            .intermediates
                            .iter()
                            .skip(1)
                            .chain(std::iter::once(&ca.root))
                        {
                            if !path.iter().any(|p| p.der() == c.der()) {
                                path.push(c.clone());
                            }
                        }
                        verified.push((k, path));
                        ok = true;
                        break;
                    }
                    Err(e) => last_err = Some(e.to_string()),
                }
            }
            if !ok {
                return Err(Error::new(
                    Check::CertificateChain,
                    match last_err {
                        Some(e) => format!(
                            "no trusted CA issued a certificate valid at {}: {e}",
                            fmt_time(t)
                        ),
                        None => format!(
                            "no certificate authority in the trusted root is valid at {}",
                            fmt_time(t)
                        ),
                    },
                ));
            }
        }
        let issuer = issuer.ok_or_else(|| {
            Error::new(Check::CertificateChain, "no issuer in the validated path")
        })?;
        chainseal_crypto::sct::verify_embedded_scts(leaf, &issuer, &trust.ctlogs)
            .map_err(|e| Error::new(Check::Sct, e.to_string()))?;

        if let Policy::Identity {
            identity,
            issuer,
            extensions,
        } = policy
        {
            let fulcio = leaf
                .fulcio_identity()
                .map_err(|e| Error::new(Check::Identity, format!("certificate extensions: {e}")))?;
            let oidc = fulcio.issuer().ok_or_else(|| {
                Error::new(
                    Check::Identity,
                    "the certificate carries no OIDC issuer extension",
                )
            })?;
            if !issuer.matches(oidc) {
                return Err(Error::new(
                    Check::Identity,
                    format!("certificate OIDC issuer {oidc:?} does not match {issuer}"),
                ));
            }
            let sans = san_strings(leaf);
            if !sans.iter().any(|s| identity.matches(s)) {
                return Err(Error::new(
                    Check::Identity,
                    format!(
                        "no subject alternative name of the certificate ({sans:?}) matches {identity}"
                    ),
                ));
            }
            crate::policy::check_extensions(&fulcio, extensions)?;
        }
        Ok(())
    }

    pub(crate) fn report(&self) -> SignerReport {
        let public_key_sha256 = hex::encode(chainseal_crypto::keys::sha256(self.key.spki_der()));
        match &self.cert {
            None => SignerReport {
                kind: "key",
                subject_alternative_names: vec![],
                issuer: None,
                not_before: None,
                not_after: None,
                public_key_sha256,
            },
            Some(c) => SignerReport {
                kind: "certificate",
                subject_alternative_names: san_strings(c),
                issuer: c
                    .fulcio_identity()
                    .ok()
                    .and_then(|f| f.issuer().map(str::to_string)),
                not_before: Some(c.not_before_unix()),
                not_after: Some(c.not_after_unix()),
                public_key_sha256,
            },
        }
    }
}

fn san_strings(c: &Certificate) -> Vec<String> {
    c.subject_alt_names()
        .iter()
        .filter_map(SubjectAltName::value)
        .map(str::to_string)
        .collect()
}

/// Validate the leaf's path through `ca` at time `t`. With a prevalidated CA chain only the
/// leaf → issuing-CA link is verified cryptographically (the rest was checked at load);
/// every certificate of the chain must still be valid at `t` (hybrid model).
fn verify_leaf_at(
    leaf: &Certificate,
    ca: &TrustedCa,
    t: i64,
) -> Result<Vec<Certificate>, chainseal_crypto::Error> {
    if !ca.prevalidated() {
        return verify_path(
            leaf,
            &ca.intermediates,
            std::slice::from_ref(&ca.root),
            t,
            KeyPurpose::CodeSigning,
        );
    }
    let issuing = ca.intermediates.first().unwrap_or(&ca.root);
    let path = verify_path(
        leaf,
        &[],
        std::slice::from_ref(issuing),
        t,
        KeyPurpose::CodeSigning,
    )?;
    for c in ca
        .intermediates
        .iter()
        .skip(1)
        .chain(std::iter::once(&ca.root))
    {
        if !c.is_valid_at(t) {
            return Err(chainseal_crypto::Error::CertificatePath {
                reason: format!(
                    "CA certificate {} is not valid at {t} (valid {}..={})",
                    c.subject_string(),
                    c.not_before_unix(),
                    c.not_after_unix()
                ),
            });
        }
    }
    Ok(path)
}

pub(crate) fn fmt_time(t: i64) -> String {
    format!("{t} (unix)")
}

#[cfg(test)]
mod tests {
    use chainseal_model::bundle::Bundle;

    use super::*;
    use crate::policy::Matcher;

    const CASE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/sigstore/conformance-assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json"
    );

    fn setup() -> (Signer, TrustMaterial, Policy, i64) {
        let bundle = Bundle::from_json(&std::fs::read(CASE).unwrap()).unwrap();
        let policy = Policy::identity(Matcher::regex(".").unwrap(), Matcher::regex(".").unwrap());
        let signer = Signer::establish(&bundle.key_material, &policy).unwrap();
        let t = bundle.tlog_entries[0].integrated_time;
        (signer, TrustMaterial::public_good().unwrap(), policy, t)
    }

    #[test]
    fn every_verified_time_must_lie_inside_the_certificate_lifetime() {
        let (signer, trust, policy, t) = setup();
        // Fulcio certificates live 10 minutes: a second time a minute later is fine...
        signer
            .check_certificate(&[t, t + 60], &trust, &policy)
            .unwrap();
        // ...but one an hour later must fail, even though the path verified at `t`.
        let err = signer
            .check_certificate(&[t, t + 3600], &trust, &policy)
            .unwrap_err();
        assert_eq!(err.check, Check::CertificateChain, "{err}");
        let err = signer
            .check_certificate(&[t - 3600, t], &trust, &policy)
            .unwrap_err();
        assert_eq!(err.check, Check::CertificateChain, "{err}");
    }
}
