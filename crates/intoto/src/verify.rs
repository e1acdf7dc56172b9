//! The in-toto verification algorithm (in-toto 3.1.0 `verifylib.in_toto_verify`):
//!
//! 1. every given layout key has a valid signature on the layout;
//! 2. the layout has not expired;
//! 3. parameters are substituted;
//! 4. link files `<step>.<8 hex>.link` are loaded for each step (threshold files needed);
//! 5. each link must be signed by a key the layout authorises for the step; key ID hints
//!    are ignored and every authorised key is tried; links naming another step are rejected;
//! 6. sublayouts (a layout in a step's link file) are verified recursively with the links in
//!    `<step>.<keyid8>/` and replaced by their summary link;
//! 7. expected commands are compared (warning only, as the specification says);
//! 8. with threshold > 1, links by distinct functionaries must agree on all artifacts;
//! 9. step rules, then inspections, then inspection rules are applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use crate::Error;
use crate::error::ArtifactKind;
use crate::inspect::{InspectionDir, run_inspections};
use crate::keys::Key;
use crate::metadata::Metadata;
use crate::models::{Layout, Link};
use crate::rules::verify_item_rules;

/// Sublayouts nested deeper than this are rejected.
const MAX_DEPTH: usize = 16;

/// Verification settings.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Where link files are (default `.`).
    pub link_dir: PathBuf,
    /// Substitution parameters; `None` skips substitution.
    pub parameters: Option<BTreeMap<String, String>>,
    /// Where inspections run.
    pub inspection_dir: InspectionDir,
    /// Timeout of each inspection command (the reference's default is 10 s).
    pub inspection_timeout: Duration,
    /// The verification time (expiry is checked against it).
    pub now: OffsetDateTime,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            link_dir: PathBuf::from("."),
            parameters: None,
            inspection_dir: InspectionDir::default(),
            inspection_timeout: Duration::from_secs(10),
            now: OffsetDateTime::now_utc(),
        }
    }
}

/// A successful verification.
#[derive(Debug, Clone)]
pub struct Report {
    /// Summary link: materials of the first step, products of the last.
    pub summary: Link,
    /// Non-fatal findings (command mismatches, ignored link files).
    pub warnings: Vec<String>,
}

/// Read and verify the layout at `path`.
pub fn verify_layout_file(
    path: &Path,
    keys: &[Key],
    opts: &VerifyOptions,
) -> Result<Report, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let md = Metadata::from_json(&bytes, &path.display().to_string())?;
    verify(&md, keys, opts)
}

/// Verify a signed layout and the supply chain it describes.
pub fn verify(layout: &Metadata, keys: &[Key], opts: &VerifyOptions) -> Result<Report, Error> {
    let mut warnings = Vec::new();
    let summary = verify_inner(
        layout,
        keys,
        opts,
        &opts.link_dir,
        "",
        opts.parameters.as_ref(),
        0,
        &mut warnings,
    )?;
    Ok(Report { summary, warnings })
}

struct Candidate {
    file: String,
    kid8: String,
    functionary: Key,
    metadata: Metadata,
}

#[allow(clippy::too_many_arguments)]
fn verify_inner(
    md: &Metadata,
    keys: &[Key],
    opts: &VerifyOptions,
    link_dir: &Path,
    name: &str,
    parameters: Option<&BTreeMap<String, String>>,
    depth: usize,
    warnings: &mut Vec<String>,
) -> Result<Link, Error> {
    // 1. Layout signatures: every trusted key must have signed.
    if keys.is_empty() {
        return Err(Error::SignatureVerification {
            what: "layout".into(),
            reason: "at least one layout verification key is required".into(),
        });
    }
    let signed = md.signed_bytes()?;
    for k in keys {
        md.verify_bytes(&signed, k)
            .map_err(|_| Error::SignatureVerification {
                what: "layout".into(),
                reason: format!(
                    "no signature on the layout verifies with key {} ({})",
                    k.keyid(),
                    k.scheme()
                ),
            })?;
    }
    let mut layout = Layout::from_value(md.payload(), "layout")?;
    // 2. Expiry.
    if layout.expires_at <= opts.now {
        return Err(Error::LayoutExpired {
            expires: layout.expires.clone(),
        });
    }
    // 3. Parameters.
    if let Some(p) = parameters {
        layout.substitute(p)?;
    }
    // 4–5. Links by step, signed by authorised functionaries.
    let files = list_dir(link_dir);
    let mut chain: BTreeMap<String, Vec<(String, Link)>> = BTreeMap::new();
    for step in &layout.steps {
        let mut found: Vec<&String> = files
            .iter()
            .filter(|f| link_kid8(f, &step.name).is_some())
            .collect();
        found.sort();
        if (found.len() as u64) < step.threshold {
            return Err(Error::LinkNotFound {
                step: step.name.clone(),
                threshold: step.threshold,
                found: found.len(),
                link_dir: link_dir.to_path_buf(),
            });
        }
        let authorised: Vec<(&String, &Key)> = step
            .pubkeys
            .iter()
            .filter_map(|kid| layout.keys.get(kid).map(|k| (kid, k)))
            .collect();
        for kid in &step.pubkeys {
            if let Some(why) = layout.unusable_keys.get(kid) {
                warnings.push(format!(
                    "step '{}': functionary key {kid} is unusable: {why}",
                    step.name
                ));
            }
        }
        let mut rejected = Vec::new();
        let mut valid: Vec<Candidate> = Vec::new();
        for file in found {
            let path = link_dir.join(file);
            let md = match std::fs::read(&path)
                .map_err(|e| Error::io(&path, e))
                .and_then(|b| Metadata::from_json(&b, file))
            {
                Ok(m) => m,
                Err(e) => {
                    rejected.push(format!("{file}: {e}"));
                    continue;
                }
            };
            let signed = match md.signed_bytes() {
                Ok(s) => s,
                Err(e) => {
                    rejected.push(format!("{file}: {e}"));
                    continue;
                }
            };
            let Some((_, key)) = authorised
                .iter()
                .find(|(_, k)| md.verify_bytes(&signed, k).is_ok())
            else {
                rejected.push(format!(
                    "{file}: not validly signed by a functionary authorized for the step"
                ));
                continue;
            };
            if valid.iter().any(|c| c.functionary.same_public_key(key)) {
                warnings.push(format!(
                    "step '{}': {file} is signed by a functionary already counted; ignored",
                    step.name
                ));
                continue;
            }
            let kid8 = link_kid8(file, &step.name).unwrap_or_default().to_string();
            valid.push(Candidate {
                file: file.clone(),
                kid8,
                functionary: (*key).clone(),
                metadata: md,
            });
        }
        // Resolve payloads: links (must name this step) or sublayouts.
        let mut links = Vec::new();
        for c in valid {
            if c.metadata.payload_type() == "layout" {
                if depth + 1 > MAX_DEPTH {
                    return Err(Error::Sublayout {
                        step: step.name.clone(),
                        source: Box::new(Error::format(&c.file, "sublayouts nested too deeply")),
                    });
                }
                let sub_dir = link_dir.join(format!("{}.{}", step.name, c.kid8));
                let summary = verify_inner(
                    &c.metadata,
                    std::slice::from_ref(&c.functionary),
                    opts,
                    &sub_dir,
                    &step.name,
                    None,
                    depth + 1,
                    warnings,
                )
                .map_err(|e| Error::Sublayout {
                    step: step.name.clone(),
                    source: Box::new(e),
                })?;
                links.push((c.file, summary));
                continue;
            }
            match Link::from_value(c.metadata.payload(), &c.file) {
                Ok(l) if l.name == step.name => links.push((c.file, l)),
                Ok(l) => rejected.push(format!("{}: link is for step '{}'", c.file, l.name)),
                Err(e) => rejected.push(format!("{}: {e}", c.file)),
            }
        }
        if (links.len() as u64) < step.threshold {
            return Err(Error::Threshold {
                step: step.name.clone(),
                threshold: step.threshold,
                found: links.len(),
                rejected,
            });
        }
        for r in rejected {
            warnings.push(format!("step '{}': ignored {r}", step.name));
        }
        chain.insert(step.name.clone(), links);
    }
    // 7. Command alignment (warning only).
    for step in &layout.steps {
        for (file, link) in chain.get(&step.name).into_iter().flatten() {
            if link.command != step.expected_command {
                warnings.push(format!(
                    "{file}: command {:?} differs from expected command {:?}",
                    link.command, step.expected_command
                ));
            }
        }
    }
    // 8. Threshold agreement.
    for step in &layout.steps {
        let links = chain.get(&step.name).map(Vec::as_slice).unwrap_or(&[]);
        if step.threshold > 1
            && let Some((first_file, first)) = links.first()
        {
            for (file, l) in &links[1..] {
                if l.materials != first.materials || l.products != first.products {
                    return Err(Error::ThresholdDisagreement {
                        step: step.name.clone(),
                        first: first_file.clone(),
                        second: file.clone(),
                    });
                }
            }
        }
    }
    // 9. Reduce to one link per step, apply step rules.
    let mut reduced: BTreeMap<String, Link> = chain
        .into_iter()
        .filter_map(|(k, v)| v.into_iter().next().map(|(_, l)| (k, l)))
        .collect();
    for step in &layout.steps {
        verify_item_rules(
            &step.name,
            ArtifactKind::Materials,
            &step.expected_materials,
            &reduced,
        )?;
        verify_item_rules(
            &step.name,
            ArtifactKind::Products,
            &step.expected_products,
            &reduced,
        )?;
    }
    // 10. Inspections and their rules.
    let summary = summary_link(&layout, &reduced, name);
    let inspection_links = run_inspections(
        &layout.inspect,
        &opts.inspection_dir,
        opts.inspection_timeout,
    )?;
    reduced.extend(inspection_links);
    for insp in &layout.inspect {
        verify_item_rules(
            &insp.name,
            ArtifactKind::Materials,
            &insp.expected_materials,
            &reduced,
        )?;
        verify_item_rules(
            &insp.name,
            ArtifactKind::Products,
            &insp.expected_products,
            &reduced,
        )?;
    }
    Ok(summary)
}

fn summary_link(layout: &Layout, reduced: &BTreeMap<String, Link>, name: &str) -> Link {
    let mut s = Link {
        name: name.to_string(),
        ..Link::default()
    };
    if let (Some(first), Some(last)) = (layout.steps.first(), layout.steps.last())
        && let (Some(f), Some(l)) = (reduced.get(&first.name), reduced.get(&last.name))
    {
        s.materials = f.materials.clone();
        s.products = l.products.clone();
        s.byproducts = l.byproducts.clone();
        s.command = l.command.clone();
    }
    s
}

/// File names in `dir` (empty if it cannot be read).
fn list_dir(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect()
}

/// If `file` is `<step>.<8 hex>.link`, the 8 hex characters.
fn link_kid8<'a>(file: &'a str, step: &str) -> Option<&'a str> {
    let rest = file.strip_prefix(step)?.strip_prefix('.')?;
    let kid = rest.strip_suffix(".link")?;
    (kid.len() == 8 && kid.bytes().all(|b| b.is_ascii_hexdigit())).then_some(kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_file_names_must_be_step_dot_eight_hex_dot_link() {
        assert_eq!(link_kid8("clone.210dcc50.link", "clone"), Some("210dcc50"));
        assert_eq!(link_kid8("clone.210dcc5.link", "clone"), None);
        assert_eq!(link_kid8("clone-x.210dcc50.link", "clone"), None);
        assert_eq!(link_kid8("a.b.210dcc50.link", "a"), None);
        assert_eq!(link_kid8("a.b.210dcc50.link", "a.b"), Some("210dcc50"));
        assert_eq!(link_kid8("clone.210dcc50.link-unfinished", "clone"), None);
    }
}
