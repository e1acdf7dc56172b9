//! Factory and policy unit tests for [`super`], with certificates from chainseal's own CA
//! (build claims as the factory's token carries them) and statements built in code.

use std::sync::Arc;

use chainseal_authority::ca::Ca;
use chainseal_authority::certs::{self, OID_KP_CODE_SIGNING, San, Template};
use chainseal_authority::claims::BuildClaims;
use chainseal_authority::ct::CtLog;
use chainseal_authority::oidc::Identity;
use chainseal_crypto::keys::{KeyKind, PrivateKey};
use chainseal_model::statement::{ResourceDescriptor, STATEMENT_V1};
use serde_json::{Map, Value, json};

use super::*;
use crate::builder::{BuilderKind, FACTORY_BUILD_TYPE};
use crate::slsa::{PROVENANCE_V1, PROVENANCE_V02};

const FACTORY_ID: &str = "spiffe://chainseal.local/factory/hello";
const DEV_ISSUER: &str = "http://127.0.0.1:38555";
const GIT_SOURCE: &str = "git+https://github.com/o/r.git@refs/tags/v1.0.0";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const INVOCATION: &str = "6f1c2a4e-5b3d-4c8e-9a7f-1e2d3c4b5a69";

fn pipeline_sha() -> String {
    "ab".repeat(32)
}

fn tree_sha() -> String {
    "cd".repeat(32)
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn p256() -> PrivateKey {
    PrivateKey::generate(KeyKind::EcdsaP256).unwrap()
}

/// A leaf from chainseal's own CA (root, intermediate, embedded SCT), exactly as the
/// authority issues it for an OIDC identity with a URI subject and these build claims.
fn ca_leaf_and_key_with(
    san: &str,
    issuer: &str,
    claims: &BuildClaims,
) -> (Certificate, PrivateKey) {
    let t = now();
    let root_key = p256();
    let root = certs::self_signed_ca(&root_key, "CN=chainseal test root", t - 60, 1).unwrap();
    let int_key = p256();
    let int = certs::intermediate_ca(
        &int_key,
        "CN=chainseal test intermediate",
        &root,
        &root_key,
        t - 60,
        Some(OID_KP_CODE_SIGNING),
    )
    .unwrap();
    let ca = Ca::new(root, int, int_key, Arc::new(CtLog::new(p256()).unwrap())).unwrap();
    let identity = Identity {
        issuer: issuer.into(),
        subject: san.into(),
        email: None,
        san: San::Uri(san.into()),
    };
    let leaf_key = p256();
    let leaf = ca
        .issue_with_build_claims(leaf_key.public_key().spki_der(), &identity, claims, t)
        .unwrap()
        .leaf;
    (leaf, leaf_key)
}

/// A CA leaf without build claims (an old factory's certificate).
fn ca_leaf(san: &str, issuer: &str) -> Certificate {
    ca_leaf_and_key_with(san, issuer, &BuildClaims::none()).0
}

/// A leaf with the given SAN and (optional) Fulcio issuer extensions, for shapes the
/// CA would not issue.
fn custom_leaf(san: &San, issuer: Option<&str>) -> Certificate {
    let t = now();
    let ca_key = p256();
    let mut extensions = vec![
        certs::key_usage(false).unwrap(),
        certs::extended_key_usage(OID_KP_CODE_SIGNING, false).unwrap(),
        certs::subject_alt_name(san).unwrap(),
    ];
    if let Some(i) = issuer {
        extensions.extend(certs::fulcio_issuer(i).unwrap());
    }
    let template = Template {
        serial: certs::random_serial().unwrap(),
        subject: certs::name("").unwrap(),
        not_before: t,
        not_after: t + 600,
        spki_der: p256().public_key().spki_der().to_vec(),
        extensions,
    };
    certs::issue(&template, &certs::name("CN=test ca").unwrap(), &ca_key).unwrap()
}

fn artifact() -> String {
    hex::encode(sha256(b"hello artifact"))
}

/// The statement `chainseal factory run` writes for `artifact()` (contract): a git source
/// records its commit and tree digest, and `source.ref` when its revision is a full ref;
/// a folder records its tree digest.
fn factory_statement(builder_id: &str, source_uri: &str) -> Statement {
    let mut source = if source_uri.starts_with("git+") {
        json!({"uri": source_uri, "digest": {"gitCommit": COMMIT, "sha256": tree_sha()}})
    } else {
        json!({"uri": source_uri, "digest": {"sha256": tree_sha()}})
    };
    if let (_, Some(r)) = split_source_revision(source_uri)
        && r.starts_with("refs/")
    {
        source["ref"] = r.into();
    }
    let predicate = json!({
        "buildDefinition": {
            "buildType": FACTORY_BUILD_TYPE,
            "externalParameters": {
                "pipeline": {"name": "hello", "path": "pipeline.yaml", "digest": {"sha256": pipeline_sha()}},
                "source": source,
            },
            "internalParameters": {"trustDomain": "chainseal.local", "steps": []},
            "resolvedDependencies": [],
        },
        "runDetails": {
            "builder": {"id": builder_id, "version": {"chainseal-factory": "0.1.0"}},
            "metadata": {"invocationId": INVOCATION, "startedOn": "2026-01-01T00:00:00Z", "finishedOn": "2026-01-01T00:00:01Z"},
            "byproducts": [],
        },
    });
    Statement {
        type_: STATEMENT_V1.into(),
        subject: vec![ResourceDescriptor {
            name: "hello".into(),
            digest: [("sha256".to_string(), artifact())].into(),
            ..ResourceDescriptor::default()
        }],
        predicate_type: PROVENANCE_V1.into(),
        predicate: Some(predicate),
    }
}

/// The build claims the factory's token carries for `st` (contract table), which the
/// authority copies into the certificate.
fn claims_for(san: &str, st: &Statement) -> Map<String, Value> {
    let p = st.predicate.as_ref().unwrap();
    let at = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).map(str::to_string);
    let uri = at("/buildDefinition/externalParameters/source/uri").unwrap();
    let without_rev = match split_source_revision(&uri) {
        (_, Some(r)) => uri[..uri.len() - r.len() - 1].to_string(),
        (_, None) => uri.clone(),
    };
    let digest = match at("/buildDefinition/externalParameters/source/digest/gitCommit") {
        Some(c) => c,
        None => format!(
            "sha256:{}",
            at("/buildDefinition/externalParameters/source/digest/sha256").unwrap()
        ),
    };
    let config = format!("sha256:{}", pipeline_sha());
    let mut c = Map::new();
    for (k, v) in [
        ("build_signer_uri", san.to_string()),
        ("build_signer_digest", config.clone()),
        ("runner_environment", "chainseal-factory".into()),
        ("source_repository_uri", without_rev),
        ("source_repository_digest", digest),
        (
            "build_config_uri",
            "file:///work/hello/pipeline.yaml".into(),
        ),
        ("build_config_digest", config),
        ("build_trigger", "manual".into()),
        ("run_invocation_uri", format!("urn:uuid:{INVOCATION}")),
    ] {
        c.insert(k.into(), v.into());
    }
    if let Some(r) = at("/buildDefinition/externalParameters/source/ref") {
        c.insert("source_repository_ref".into(), r.into());
    }
    c
}

/// A factory leaf for `san` whose build extensions bind `st`, after `edit`.
fn bound_leaf_with(
    san: &str,
    st: &Statement,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> Certificate {
    let mut c = claims_for(san, st);
    edit(&mut c);
    ca_leaf_and_key_with(san, DEV_ISSUER, &BuildClaims::from_claims(&c).unwrap()).0
}

fn bound_leaf(st: &Statement) -> Certificate {
    bound_leaf_with(FACTORY_ID, st, |_| {})
}

/// What `verify-provenance` passes for a factory: source, builder id, pinned issuer and
/// pipeline digest.
fn opts(source: &str) -> Options {
    Options {
        source_uri: source.into(),
        builder_id: Some(FACTORY_ID.into()),
        certificate_oidc_issuer: Some(DEV_ISSUER.into()),
        pipeline_sha256: Some(pipeline_sha()),
        ..Options::default()
    }
}

fn check(cert: &Certificate, st: &Statement, o: &Options) -> Result<SourceFacts, Error> {
    check_slsa(signer_kind(cert), cert, st, &artifact(), o).map(|(_, b, s)| {
        assert_eq!(b.kind, BuilderKind::Factory);
        s
    })
}

/// `check` with a certificate that binds `st`.
fn check_bound(st: &Statement, o: &Options) -> Result<SourceFacts, Error> {
    check(&bound_leaf(st), st, o)
}

fn fails(r: Result<SourceFacts, Error>, want: Check) -> Error {
    match r {
        Ok(_) => panic!("expected a failure at {want}"),
        Err(e) => {
            assert_eq!(e.check, want, "{e}");
            e
        }
    }
}

// ---- policy and issuer pinning ----

#[test]
fn factory_policy_pins_the_configured_issuer_and_factory_identities() {
    let cert = bound_leaf(&factory_statement(FACTORY_ID, GIT_SOURCE));
    assert_eq!(signer_kind(&cert), SignerKind::Factory);
    let o = Options {
        certificate_extensions: vec![ExtensionRequirement::new(20, "manual")],
        ..opts("github.com/o/r")
    };
    let Policy::Identity {
        identity,
        issuer,
        extensions,
    } = policy_for(SignerKind::Factory, &o).unwrap()
    else {
        panic!("not an identity policy")
    };
    assert!(identity.matches(FACTORY_ID));
    assert!(issuer.matches(DEV_ISSUER));
    assert_eq!(extensions, o.certificate_extensions);
    // The factory policy admits neither GitHub workflows nor other SPIFFE workloads.
    assert!(!identity.matches("https://github.com/o/r/.github/workflows/b.yml@refs/tags/v1.0.0"));
    assert!(!identity.matches("spiffe://chainseal.local/workload/hello"));
    assert!(!identity.matches("spiffe://chainseal.local/factory/hello/x"));
    assert!(!issuer.matches(GITHUB_ACTIONS_ISSUER));
    assert!(!issuer.matches("http://127.0.0.1:38556"));
}

#[test]
fn github_workflow_certificate_keeps_the_github_only_policy() {
    let wf = "https://github.com/o/r/.github/workflows/b.yml@refs/tags/v1.0.0";
    let cert = custom_leaf(&San::Uri(wf.into()), Some(GITHUB_ACTIONS_ISSUER));
    assert_eq!(signer_kind(&cert), SignerKind::GitHub);
    let email = custom_leaf(&San::Email("a@example.com".into()), Some(DEV_ISSUER));
    assert_eq!(signer_kind(&email), SignerKind::GitHub);
    for pinned in [None, Some(GITHUB_ACTIONS_ISSUER.to_string())] {
        let o = Options {
            certificate_oidc_issuer: pinned,
            ..Options::default()
        };
        let Policy::Identity {
            identity, issuer, ..
        } = policy_for(SignerKind::GitHub, &o).unwrap()
        else {
            panic!("not an identity policy")
        };
        assert!(identity.matches(wf));
        assert!(!identity.matches(FACTORY_ID));
        assert!(issuer.matches(GITHUB_ACTIONS_ISSUER));
        assert!(!issuer.matches(DEV_ISSUER));
    }
}

#[test]
fn github_provenance_with_another_pinned_issuer_is_refused() {
    let o = Options {
        certificate_oidc_issuer: Some(DEV_ISSUER.into()),
        ..Options::default()
    };
    let e = policy_for(SignerKind::GitHub, &o).unwrap_err();
    assert_eq!(e.check, Check::BuilderIdentity, "{e}");
    assert!(e.reason.contains(DEV_ISSUER), "{e}");
}

#[test]
fn factory_provenance_without_pinned_issuer_is_refused_naming_the_flag() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    let o = Options {
        certificate_oidc_issuer: None,
        ..opts("github.com/o/r")
    };
    let e = policy_for(SignerKind::Factory, &o).unwrap_err();
    assert_eq!(e.check, Check::BuilderIdentity, "{e}");
    assert!(e.reason.contains("--certificate-oidc-issuer"), "{e}");
    let e = fails(check_bound(&st, &o), Check::BuilderIdentity);
    assert!(e.reason.contains("--certificate-oidc-issuer"), "{e}");
    // The certificate's own issuer is never taken instead: an empty pin is none.
    let o = Options {
        certificate_oidc_issuer: Some(String::new()),
        ..opts("github.com/o/r")
    };
    fails(check_bound(&st, &o), Check::BuilderIdentity);
}

#[test]
fn factory_certificate_from_another_issuer_is_refused() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    check_bound(&st, &opts("github.com/o/r")).unwrap();
    let other = "https://issuer.example";
    let claims = BuildClaims::from_claims(&claims_for(FACTORY_ID, &st)).unwrap();
    let cert = ca_leaf_and_key_with(FACTORY_ID, other, &claims).0;
    let e = fails(
        check(&cert, &st, &opts("github.com/o/r")),
        Check::BuilderIdentity,
    );
    assert!(
        e.reason.contains(other) && e.reason.contains(DEV_ISSUER),
        "{e}"
    );
    let Policy::Identity { issuer, .. } =
        policy_for(SignerKind::Factory, &opts("github.com/o/r")).unwrap()
    else {
        panic!("not an identity policy")
    };
    assert!(!issuer.matches(other));
}

#[test]
fn rejects_factory_certificate_without_oidc_issuer() {
    let cert = custom_leaf(&San::Uri(FACTORY_ID.into()), None);
    assert_eq!(signer_kind(&cert), SignerKind::Factory);
    fails(
        check(
            &cert,
            &factory_statement(FACTORY_ID, GIT_SOURCE),
            &opts("github.com/o/r"),
        ),
        Check::BuilderIdentity,
    );
}

#[test]
fn rejects_factory_certificate_whose_spiffe_id_is_not_a_factory_pipeline() {
    let id = "spiffe://chainseal.local/workload/hello";
    let st = factory_statement(id, GIT_SOURCE);
    let cert = bound_leaf_with(id, &st, |_| {});
    let o = Options {
        builder_id: Some(id.into()),
        ..opts("github.com/o/r")
    };
    fails(check(&cert, &st, &o), Check::BuilderIdentity);
}

// ---- builder, source, subject ----

#[test]
fn accepts_factory_provenance_for_subject_built_from_expected_source() {
    let s = check_bound(
        &factory_statement(FACTORY_ID, GIT_SOURCE),
        &opts("github.com/o/r"),
    )
    .unwrap();
    assert_eq!(s.repo, "github.com/o/r");
    assert_eq!(s.uri, "git+https://github.com/o/r.git");
    assert_eq!(s.git_ref.as_deref(), Some("refs/tags/v1.0.0"));
    let s = check_bound(
        &factory_statement(FACTORY_ID, "file:///work/x"),
        &opts("/work/x"),
    )
    .unwrap();
    assert_eq!(s.repo, "/work/x");
    assert_eq!(s.uri, "file:///work/x");
    assert_eq!(s.git_ref, None);
}

#[test]
fn rejects_factory_provenance_whose_builder_id_differs_from_certificate() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    // --builder-id names another pipeline.
    let o = Options {
        builder_id: Some("spiffe://chainseal.local/factory/other".into()),
        ..opts("github.com/o/r")
    };
    fails(check_bound(&st, &o), Check::BuilderId);
    // --builder-id missing.
    let o = Options {
        builder_id: None,
        ..opts("github.com/o/r")
    };
    fails(check_bound(&st, &o), Check::BuilderId);
    // The provenance claims a builder the certificate does not name, even when
    // --builder-id names that claimed builder.
    let claimed = "spiffe://chainseal.local/factory/release";
    let st = factory_statement(claimed, GIT_SOURCE);
    let cert = bound_leaf(&st);
    let o = Options {
        builder_id: Some(claimed.into()),
        ..opts("github.com/o/r")
    };
    fails(check(&cert, &st, &o), Check::BuilderId);
    fails(check(&cert, &st, &opts("github.com/o/r")), Check::BuilderId);
}

#[test]
fn rejects_factory_provenance_from_other_source() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    for src in ["github.com/evil/r", "github.com/o/r2", "/work/x"] {
        let e = fails(check_bound(&st, &opts(src)), Check::SourceUri);
        assert!(
            e.reason.contains(src) && e.reason.contains(GIT_SOURCE),
            "{e}"
        );
    }
    let st = factory_statement(FACTORY_ID, "file:///work/x");
    fails(check_bound(&st, &opts("/work/y")), Check::SourceUri);
}

#[test]
fn rejects_factory_provenance_without_source_uri() {
    let mut st = factory_statement(FACTORY_ID, GIT_SOURCE);
    let cert = bound_leaf(&st);
    if let Some(p) = st.predicate.as_mut() {
        p["buildDefinition"]["externalParameters"]["source"] = json!({});
    }
    fails(check(&cert, &st, &opts("github.com/o/r")), Check::SourceUri);
}

#[test]
fn rejects_factory_provenance_with_foreign_build_type() {
    let mut st = factory_statement(FACTORY_ID, GIT_SOURCE);
    let cert = bound_leaf(&st);
    if let Some(p) = st.predicate.as_mut() {
        p["buildDefinition"]["buildType"] =
            "https://actions.github.io/buildtypes/workflow/v1".into();
    }
    fails(check(&cert, &st, &opts("github.com/o/r")), Check::BuildType);
}

#[test]
fn rejects_factory_signed_provenance_that_is_not_slsa_v1() {
    let cert = bound_leaf(&factory_statement(FACTORY_ID, GIT_SOURCE));
    let mut st = factory_statement(FACTORY_ID, GIT_SOURCE);
    st.predicate_type = PROVENANCE_V02.into();
    st.predicate = Some(json!({
        "builder": {"id": FACTORY_ID},
        "buildType": FACTORY_BUILD_TYPE,
        "invocation": {"configSource": {"uri": GIT_SOURCE}},
    }));
    fails(
        check(&cert, &st, &opts("github.com/o/r")),
        Check::PredicateType,
    );
}

#[test]
fn rejects_factory_provenance_for_artifact_not_a_subject() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    let cert = bound_leaf(&st);
    let other = hex::encode(sha256(b"another artifact"));
    let e = check_slsa(
        SignerKind::Factory,
        &cert,
        &st,
        &other,
        &opts("github.com/o/r"),
    )
    .err()
    .unwrap();
    assert_eq!(e.check, Check::Subject, "{e}");
}

// ---- refs: tag, branch, versioned tag ----

fn with_tag(tag: &str) -> Options {
    Options {
        source_tag: Some(tag.into()),
        ..opts("github.com/o/r")
    }
}

fn with_branch(branch: &str) -> Options {
    Options {
        source_branch: Some(branch.into()),
        ..opts("github.com/o/r")
    }
}

fn with_versioned_tag(v: &str) -> Options {
    Options {
        source_versioned_tag: Some(v.into()),
        ..opts("github.com/o/r")
    }
}

fn git_at(rev: &str) -> Statement {
    factory_statement(FACTORY_ID, &format!("git+https://github.com/o/r@{rev}"))
}

#[test]
fn accepts_factory_source_tag_and_branch_on_full_refs() {
    check_bound(&git_at("refs/tags/v1.0.0"), &with_tag("v1.0.0")).unwrap();
    check_bound(&git_at("refs/heads/main"), &with_branch("main")).unwrap();
    check_bound(&git_at("refs/heads/release/1"), &with_branch("release/1")).unwrap();
}

#[test]
fn rejects_factory_source_tag_or_branch_not_the_ref() {
    let tagged = git_at("refs/tags/v1.0.0");
    for tag in ["v1.0.1", "v1", "refs/heads/v1.0.0", "refs/tags/v1.0.0", ""] {
        fails(check_bound(&tagged, &with_tag(tag)), Check::SourceTag);
    }
    // A tag is not a branch, and a branch not a tag.
    for branch in ["v1.0.0", "refs/tags/v1.0.0", "tags/v1.0.0"] {
        fails(
            check_bound(&tagged, &with_branch(branch)),
            Check::SourceBranch,
        );
    }
    let e = fails(
        check_bound(&git_at("refs/heads/main"), &with_tag("main")),
        Check::SourceTag,
    );
    assert!(
        e.reason.contains("refs/tags/main") && e.reason.contains("refs/heads/main"),
        "{e}"
    );
}

#[test]
fn short_revision_or_bare_commit_matches_neither_tag_nor_branch() {
    // An older factory recorded the revision as written (`@main`); a bare commit has no ref.
    for rev in ["main", "v1.0.0", COMMIT] {
        let st = git_at(rev);
        check_bound(&st, &opts("github.com/o/r")).unwrap();
        let e = fails(check_bound(&st, &with_tag(rev)), Check::SourceTag);
        assert!(e.reason.contains("not a full ref"), "{e}");
        fails(check_bound(&st, &with_branch(rev)), Check::SourceBranch);
        fails(
            check_bound(&st, &with_versioned_tag("v1")),
            Check::SourceVersionedTag,
        );
    }
}

#[test]
fn rejects_factory_tag_or_branch_for_source_without_revision() {
    let st = factory_statement(FACTORY_ID, "file:///work/x");
    let o = |f: fn(&str) -> Options, v: &str| Options {
        source_uri: "/work/x".into(),
        ..f(v)
    };
    fails(check_bound(&st, &o(with_tag, "v1.0.0")), Check::SourceTag);
    fails(
        check_bound(&st, &o(with_branch, "main")),
        Check::SourceBranch,
    );
    fails(
        check_bound(&st, &o(with_versioned_tag, "v1")),
        Check::SourceVersionedTag,
    );
}

#[test]
fn source_ref_is_preferred_and_must_agree_with_the_uri_revision() {
    // `source.ref` agreeing with the URI: it is the ref.
    let s = check_bound(&git_at("refs/heads/main"), &with_branch("main")).unwrap();
    assert_eq!(s.git_ref.as_deref(), Some("refs/heads/main"));
    // `source.ref` disagreeing with the URI's revision (or with no revision at all).
    for (uri, r) in [
        (
            "git+https://github.com/o/r@refs/heads/main",
            json!("refs/tags/main"),
        ),
        ("git+https://github.com/o/r@main", json!("refs/heads/main")),
        ("git+https://github.com/o/r", json!("refs/heads/main")),
        ("git+https://github.com/o/r@refs/heads/main", json!(7)),
    ] {
        let mut st = factory_statement(FACTORY_ID, uri);
        if let Some(p) = st.predicate.as_mut() {
            p["buildDefinition"]["externalParameters"]["source"]["ref"] = r.clone();
        }
        let cert = bound_leaf_with(FACTORY_ID, &st, |c| {
            c.insert("source_repository_ref".into(), "refs/heads/main".into());
        });
        let e = fails(check(&cert, &st, &with_branch("main")), Check::SourceUri);
        assert!(e.reason.contains("source.ref"), "{uri} {r}: {e}");
    }
}

#[test]
fn versioned_tag_matches_factory_tag_by_semver_prefix() {
    let st = git_at("refs/tags/v1.2.3");
    for v in ["v1", "v1.2", "v1.2.3", "1.2"] {
        check_bound(&st, &with_versioned_tag(v)).unwrap();
    }
    for v in ["v2", "v1.3", "v1.2.4", "v0", "latest"] {
        fails(
            check_bound(&st, &with_versioned_tag(v)),
            Check::SourceVersionedTag,
        );
    }
    // A branch named like a version is not a tag.
    fails(
        check_bound(&git_at("refs/heads/v1.2.3"), &with_versioned_tag("v1")),
        Check::SourceVersionedTag,
    );
}

// ---- pipeline ----

#[test]
fn accepts_the_expected_pipeline_digest_in_either_spelling() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    for p in [
        pipeline_sha(),
        format!("sha256:{}", pipeline_sha().to_uppercase()),
    ] {
        let o = Options {
            pipeline_sha256: Some(p),
            ..opts("github.com/o/r")
        };
        check_bound(&st, &o).unwrap();
    }
}

#[test]
fn rejects_factory_provenance_without_an_expected_pipeline() {
    let o = Options {
        pipeline_sha256: None,
        ..opts("github.com/o/r")
    };
    let e = fails(
        check_bound(&factory_statement(FACTORY_ID, GIT_SOURCE), &o),
        Check::Pipeline,
    );
    assert!(e.reason.contains("--pipeline"), "{e}");
}

#[test]
fn rejects_factory_provenance_from_another_pipeline() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    let other = "ef".repeat(32);
    let o = Options {
        pipeline_sha256: Some(other.clone()),
        ..opts("github.com/o/r")
    };
    let e = fails(check_bound(&st, &o), Check::Pipeline);
    assert!(
        e.reason.contains(&other) && e.reason.contains(&pipeline_sha()),
        "{e}"
    );
    let o = Options {
        pipeline_sha256: Some("sha256:abc".into()),
        ..opts("github.com/o/r")
    };
    fails(check_bound(&st, &o), Check::Pipeline);
    // A provenance that records no pipeline digest.
    let mut bare = st.clone();
    if let Some(p) = bare.predicate.as_mut() {
        p["buildDefinition"]["externalParameters"]["pipeline"] = json!({"name": "hello"});
    }
    fails(
        check(&bound_leaf(&st), &bare, &opts("github.com/o/r")),
        Check::Pipeline,
    );
}

// ---- certificate build extensions against the provenance ----

#[test]
fn factory_certificate_without_a_required_build_extension_does_not_bind_the_build() {
    for st in [
        factory_statement(FACTORY_ID, GIT_SOURCE),
        factory_statement(FACTORY_ID, "file:///work/x"),
    ] {
        let src = if GIT_SOURCE
            == st.predicate.as_ref().unwrap()["buildDefinition"]["externalParameters"]["source"]["uri"]
        {
            "github.com/o/r"
        } else {
            "/work/x"
        };
        for (claim, name) in [
            (
                "build_config_digest",
                "BuildConfigDigest (1.3.6.1.4.1.57264.1.19)",
            ),
            (
                "source_repository_uri",
                "SourceRepositoryURI (1.3.6.1.4.1.57264.1.12)",
            ),
            (
                "source_repository_digest",
                "SourceRepositoryDigest (1.3.6.1.4.1.57264.1.13)",
            ),
        ] {
            let cert = bound_leaf_with(FACTORY_ID, &st, |c| {
                c.remove(claim);
            });
            let e = fails(check(&cert, &st, &opts(src)), Check::CertificateExtension);
            assert!(
                e.reason.contains(name) && e.reason.contains("does not bind the build"),
                "{claim}: {e}"
            );
        }
    }
    // A git build with a ref: the certificate must carry the ref too.
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    let cert = bound_leaf_with(FACTORY_ID, &st, |c| {
        c.remove("source_repository_ref");
    });
    let e = fails(
        check(&cert, &st, &opts("github.com/o/r")),
        Check::CertificateExtension,
    );
    assert!(
        e.reason.contains("SourceRepositoryRef") && e.reason.contains("refs/tags/v1.0.0"),
        "{e}"
    );
    // A certificate with no build extensions at all (an old factory's).
    let e = fails(
        check(
            &ca_leaf(FACTORY_ID, DEV_ISSUER),
            &st,
            &opts("github.com/o/r"),
        ),
        Check::CertificateExtension,
    );
    assert!(e.reason.contains("does not bind the build"), "{e}");
}

#[test]
fn factory_certificate_build_extension_disagreeing_with_the_provenance_is_refused() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    let other_digest = format!("sha256:{}", "ef".repeat(32));
    for (claim, value, name) in [
        (
            "build_config_digest",
            other_digest.as_str(),
            "BuildConfigDigest",
        ),
        (
            "source_repository_uri",
            "git+https://github.com/o/other.git",
            "SourceRepositoryURI",
        ),
        (
            "source_repository_uri",
            "git+https://github.com/o/r.git@refs/tags/v1.0.0",
            "SourceRepositoryURI",
        ),
        (
            "source_repository_digest",
            "89abcdef0123456789abcdef0123456789abcdef",
            "SourceRepositoryDigest",
        ),
        (
            "source_repository_digest",
            &format!("sha256:{}", tree_sha()),
            "SourceRepositoryDigest",
        ),
        (
            "source_repository_ref",
            "refs/tags/v9.9.9",
            "SourceRepositoryRef",
        ),
        (
            "run_invocation_uri",
            "urn:uuid:00000000-0000-4000-8000-000000000000",
            "RunInvocationURI",
        ),
        (
            "build_signer_uri",
            "spiffe://chainseal.local/factory/other",
            "BuildSignerURI",
        ),
        (
            "build_signer_digest",
            other_digest.as_str(),
            "BuildSignerDigest",
        ),
    ] {
        let cert = bound_leaf_with(FACTORY_ID, &st, |c| {
            c.insert(claim.into(), value.into());
        });
        let e = fails(
            check(&cert, &st, &opts("github.com/o/r")),
            Check::CertificateExtension,
        );
        assert!(
            e.reason.contains(name) && e.reason.contains(value),
            "{claim}: {e}"
        );
    }
    // A folder build: the digest is the tree's, and there is no ref.
    let st = factory_statement(FACTORY_ID, "file:///work/x");
    for (claim, value) in [
        ("source_repository_digest", COMMIT.to_string()),
        ("source_repository_ref", "refs/heads/main".to_string()),
        ("source_repository_uri", "file:///work/y".to_string()),
    ] {
        let cert = bound_leaf_with(FACTORY_ID, &st, |c| {
            c.insert(claim.into(), value.clone().into());
        });
        let e = fails(
            check(&cert, &st, &opts("/work/x")),
            Check::CertificateExtension,
        );
        assert!(e.reason.contains(&value), "{claim}: {e}");
    }
}

#[test]
fn optional_build_extensions_may_be_absent() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    let cert = bound_leaf_with(FACTORY_ID, &st, |c| {
        for k in [
            "run_invocation_uri",
            "build_signer_uri",
            "build_signer_digest",
            "runner_environment",
            "build_trigger",
            "build_config_uri",
        ] {
            c.remove(k);
        }
    });
    check(&cert, &st, &opts("github.com/o/r")).unwrap();
    // Present in the certificate but absent from the provenance: refused.
    let mut no_id = st.clone();
    if let Some(p) = no_id.predicate.as_mut() {
        p["runDetails"]["metadata"] = json!({});
    }
    let e = fails(
        check(&bound_leaf(&st), &no_id, &opts("github.com/o/r")),
        Check::CertificateExtension,
    );
    assert!(e.reason.contains("RunInvocationURI"), "{e}");
}

// ---- caller's extension requirements (cosign-style flags) ----

#[test]
fn required_certificate_extensions_must_be_present_with_exact_values() {
    let st = factory_statement(FACTORY_ID, GIT_SOURCE);
    let req = |pairs: &[(u32, &str)]| Options {
        certificate_extensions: pairs
            .iter()
            .map(|(a, v)| ExtensionRequirement::new(*a, *v))
            .collect(),
        ..opts("github.com/o/r")
    };
    check_bound(
        &st,
        &req(&[
            (20, "manual"),
            (11, "chainseal-factory"),
            (14, "refs/tags/v1.0.0"),
        ]),
    )
    .unwrap();
    let e = fails(
        check_bound(&st, &req(&[(20, "push")])),
        Check::CertificateExtension,
    );
    assert!(
        e.reason.contains("BuildTrigger")
            && e.reason.contains("push")
            && e.reason.contains("manual"),
        "{e}"
    );
    let e = fails(
        check_bound(&st, &req(&[(15, "12345")])),
        Check::CertificateExtension,
    );
    assert!(
        e.reason.contains("SourceRepositoryIdentifier") && e.reason.contains("12345"),
        "{e}"
    );
}

// ---- through verify_provenance ----

/// A bare DSSE envelope line (`.intoto.jsonl`) signed by a factory leaf binding
/// `statement`, carrying its certificate; it has no log entry, so it can pass every check
/// but the log's.
fn factory_envelope(statement: &Statement) -> Vec<u8> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let claims = BuildClaims::from_claims(&claims_for(FACTORY_ID, statement)).unwrap();
    let (leaf, key) = ca_leaf_and_key_with(FACTORY_ID, DEV_ISSUER, &claims);
    let payload = serde_json::to_vec(statement).unwrap();
    let pae = chainseal_model::dsse::pae(chainseal_model::dsse::INTOTO_PAYLOAD_TYPE, &payload);
    let line = json!({
        "payloadType": chainseal_model::dsse::INTOTO_PAYLOAD_TYPE,
        "payload": b64.encode(&payload),
        "signatures": [{"sig": b64.encode(key.sign(&pae).unwrap()), "cert": certs::pem(&leaf)}],
    });
    let mut out = serde_json::to_vec(&line).unwrap();
    out.push(b'\n');
    out
}

fn verify_envelope(envelope: &[u8], o: &Options) -> Error {
    let verifier = Verifier::new(chainseal_verify::TrustMaterial::public_good().unwrap());
    let digest: [u8; 32] = sha256(b"hello artifact");
    verify_provenance(&verifier, envelope, digest, o).unwrap_err()
}

#[test]
fn factory_envelope_passing_every_factory_rule_still_needs_a_log_entry() {
    let env = factory_envelope(&factory_statement(FACTORY_ID, GIT_SOURCE));
    let e = verify_envelope(&env, &with_tag("v1.0.0"));
    assert_eq!(e.check, Check::Signature, "{e}");
    assert_eq!(
        e.sigstore_check,
        Some(chainseal_verify::Check::TlogEntry),
        "{e}"
    );
}

#[test]
fn factory_envelope_is_judged_by_factory_rules_not_github_ones() {
    let env = factory_envelope(&factory_statement(FACTORY_ID, GIT_SOURCE));
    let o = Options {
        builder_id: Some("spiffe://chainseal.local/factory/other".into()),
        ..opts("github.com/o/r")
    };
    assert_eq!(verify_envelope(&env, &o).check, Check::BuilderId);
    let e = verify_envelope(&env, &opts("github.com/evil/r"));
    assert_eq!(e.check, Check::SourceUri, "{e}");
    let o = Options {
        pipeline_sha256: Some("ef".repeat(32)),
        ..opts("github.com/o/r")
    };
    assert_eq!(verify_envelope(&env, &o).check, Check::Pipeline);
    let o = Options {
        certificate_oidc_issuer: None,
        ..opts("github.com/o/r")
    };
    let e = verify_envelope(&env, &o);
    assert!(
        e.check == Check::BuilderIdentity && e.reason.contains("--certificate-oidc-issuer"),
        "{e}"
    );
    assert_eq!(
        verify_envelope(&env, &with_tag("main")).check,
        Check::SourceTag
    );
}
