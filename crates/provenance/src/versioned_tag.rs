//! slsa-verifier's `--source-versioned-tag`: the built tag must be a semantic version that
//! agrees with every component of the expected semver prefix.
//!
//! Semantics (slsa-verifier `VerifyVersionedTag`, Go `golang.org/x/mod/semver`):
//! the expected value is `[v]MAJOR[.MINOR[.PATCH[-PRERELEASE]]][+BUILD]`; the built tag
//! (`refs/tags/<t>`) must parse as `[v]MAJOR[.MINOR[.PATCH[-PRERELEASE]]][+BUILD]` too, a
//! short form counting as `.0` (Go's `semver.Canonical`: `v14` is `v14.0.0`). Major must be
//! equal; minor and patch must be equal when the expected value gives them. Build metadata
//! is ignored on both sides. A pre-release of the built tag is accepted when the expected
//! value stops before the patch (`v1.2` matches `v1.2.3-rc.1`, as in slsa-verifier); when
//! the expected value gives a patch, the pre-release must be equal too (slsa-verifier
//! compares only its part before the first `.`; chainseal compares all of it, so
//! `v1.2.3-rc.1` does not match `v1.2.3-rc.2`). Unlike Go's semver, the leading `v` is
//! optional on both sides. Numbers have no leading zeros (`v01` is not semver).

/// A parsed semantic version; `minor`/`patch` are `None` where the text stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Semver<'a> {
    major: &'a str,
    minor: Option<&'a str>,
    patch: Option<&'a str>,
    prerelease: Option<&'a str>,
}

fn numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

fn identifiers_ok(s: &str, numeric_rule: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && (!numeric_rule || !id.bytes().all(|b| b.is_ascii_digit()) || numeric(id))
    })
}

fn parse(text: &str) -> Option<Semver<'_>> {
    let s = text.strip_prefix('v').unwrap_or(text);
    let (s, build) = match s.split_once('+') {
        Some((v, b)) => (v, Some(b)),
        None => (s, None),
    };
    if build.is_some_and(|b| !identifiers_ok(b, false)) {
        return None;
    }
    let (core, prerelease) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    if prerelease.is_some_and(|p| !identifiers_ok(p, true)) {
        return None;
    }
    let mut parts = core.split('.');
    let major = parts.next().filter(|m| numeric(m))?;
    let minor = parts.next();
    let patch = parts.next();
    if parts.next().is_some()
        || minor.is_some_and(|m| !numeric(m))
        || patch.is_some_and(|p| !numeric(p))
    {
        return None;
    }
    // As in Go's semver, pre-release and build metadata need the full MAJOR.MINOR.PATCH.
    if patch.is_none() && (prerelease.is_some() || build.is_some()) {
        return None;
    }
    Some(Semver {
        major,
        minor,
        patch,
        prerelease,
    })
}

/// Whether `expected` is a valid `--source-versioned-tag` value.
pub fn is_valid_expected(expected: &str) -> bool {
    parse(expected).is_some()
}

/// Why the tag `built` (without `refs/tags/`) does not satisfy `expected`; `Ok` when it
/// does.
pub fn versioned_tag_matches(built: &str, expected: &str) -> Result<(), String> {
    let want = parse(expected).ok_or_else(|| {
        format!(
            "--source-versioned-tag {expected:?} is not a semantic version prefix ([v]MAJOR[.MINOR[.PATCH[-PRERELEASE]]])"
        )
    })?;
    let got =
        parse(built).ok_or_else(|| format!("the built tag {built:?} is not a semantic version"))?;
    if got.major != want.major {
        return Err(format!(
            "major version: expected {}, the built tag {built:?} has {}",
            want.major, got.major
        ));
    }
    if let Some(minor) = want.minor {
        let have = got.minor.unwrap_or("0");
        if have != minor {
            return Err(format!(
                "minor version: expected {minor}, the built tag {built:?} has {have}"
            ));
        }
    }
    if let Some(patch) = want.patch {
        let have = got.patch.unwrap_or("0");
        if have != patch || got.prerelease != want.prerelease {
            return Err(format!(
                "patch version: expected {patch}{}, the built tag {built:?} has {have}{}",
                want.prerelease.map_or(String::new(), |p| format!("-{p}")),
                got.prerelease.map_or(String::new(), |p| format!("-{p}"))
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_tag_matches_every_given_component() {
        for (built, expected) in [
            ("v1.2.3", "v1"),
            ("v1.2.3", "v1.2"),
            ("v1.2.3", "v1.2.3"),
            ("v1.2.3", "1.2"),
            ("1.2.3", "v1.2.3"),
            ("v1.2.3+build.5", "v1.2.3"),
            ("v1.2.3", "v1.2.3+meta"),
            ("v1.2.3-rc.1", "v1.2"),
            ("v1.2.3-rc.1", "v1"),
            ("v1.2.3-rc.1", "v1.2.3-rc.1"),
            // Short built tags count as .0 (Go's semver.Canonical).
            ("v14", "v14"),
            ("v14", "v14.0"),
            ("v14", "v14.0.0"),
            ("v1.2", "v1.2.0"),
            ("v0.0.1", "v0"),
        ] {
            assert_eq!(
                versioned_tag_matches(built, expected),
                Ok(()),
                "{built} vs {expected}"
            );
        }
    }

    #[test]
    fn versioned_tag_rejects_other_versions_and_non_semver() {
        for (built, expected, why) in [
            ("v1.2.3", "v2", "major"),
            ("v11.0.0", "v1", "major"),
            ("v1.20.0", "v1.2", "minor"),
            ("v1.3.0", "v1.2", "minor"),
            ("v1.2.4", "v1.2.3", "patch"),
            ("v1.2.30", "v1.2.3", "patch"),
            ("v1.2.3-rc.1", "v1.2.3", "patch"),
            ("v1.2.3", "v1.2.3-rc.1", "patch"),
            ("v1.2.3-rc.2", "v1.2.3-rc.1", "patch"),
            ("v14", "v14.1", "minor"),
            ("v14", "v13", "major"),
            ("latest", "v1", "not a semantic version"),
            ("v1.2.3.4", "v1", "not a semantic version"),
            ("v01.2.3", "v1", "not a semantic version"),
            ("v1-rc", "v1", "not a semantic version"),
            ("release-1.2.3", "v1", "not a semantic version"),
            ("v1.2.3", "main", "not a semantic version prefix"),
            ("v1.2.3", "v1.x", "not a semantic version prefix"),
            ("v1.2.3", "", "not a semantic version prefix"),
            ("v1.2.3", "v1.2-rc.1", "not a semantic version prefix"),
        ] {
            let e = versioned_tag_matches(built, expected).unwrap_err();
            assert!(e.contains(why), "{built} vs {expected}: {e}");
        }
        assert!(is_valid_expected("v1") && is_valid_expected("1.2.3-rc.1+b"));
        assert!(!is_valid_expected("v1.") && !is_valid_expected("vv1"));
    }
}
